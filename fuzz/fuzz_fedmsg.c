/* fuzz_fedmsg.c - libFuzzer target: the federated message decoder and the
 * aggregator's round judging an update. Half the inputs get their last four
 * bytes replaced by their CRC-32 so the fuzzer reaches the fields behind
 * the checksum. The round is fixed: model "fuzz-fl", 16 parameters, 3
 * gateways, open round 2 of base hash 0x1234. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/fedmsg.h"
#include "iotad/fedround.h"
#include "iotad/state.h"

#define FP 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static fed_round r;
	static int ready;
	if (!ready) {
		if (fed_round_init(&r, "fuzz-fl", FP, 3, 4096) != IOTAD_OK)
			abort();
		ready = 1;
	}
	unsigned char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (size >= 8 && (data[0] & 1)) {
		uint32_t crc = state_crc32(0, buf, size - 4);
		for (int i = 0; i < 4; i++)
			buf[size - 4 + i] = (unsigned char)(crc >> (8 * i));
	}
	fedmsg m;
	float p[FP];
	char err[200];
	iotad_err rc = fedmsg_decode(buf, size, &m, p, FP, err, sizeof err);
	if (rc == IOTAD_OK && m.n_params > FP)
		abort(); /* decoded more than the room it had */
	fed_round_open(&r, 2, 0x1234);
	fed_round_offer(&r, "gw-1", buf, size, err, sizeof err);
	free(buf);
	return 0;
}
