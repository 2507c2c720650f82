/* fuzz_state.c - libFuzzer target: the detector state file loader. The
 * input's last four bytes are replaced by its CRC-32, so the fuzzer gets
 * past the checksum and exercises the header and record checks. The model
 * is fixed (id "fuzz-state", window 4, 2 features, DSPOT threshold); build
 * with -DFUZZ_STATE_SEED_MAIN for a program that writes a valid seed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/state.h"

#define FW 4
#define FF 2
#define FCALIB 200

static model fm;

static int fuzz_model(void)
{
	static int ready;
	int sizes[2] = {FW * FF, FW * FF};
	nn_act act[1] = {NN_SIGMOID};

	if (ready)
		return 0;
	snprintf(fm.id, sizeof fm.id, "fuzz-state");
	fm.version = 1;
	fm.n_features = FF;
	snprintf(fm.features[0], MODEL_NAME_MAX, "a");
	snprintf(fm.features[1], MODEL_NAME_MAX, "b");
	fm.window = FW;
	fm.stride = 1;
	fm.norm_b[0] = fm.norm_b[1] = 1.0f;
	if (nn_init(&fm.net, 1, sizes, act) != IOTAD_OK)
		return -1;
	nn_init_weights(&fm.net, 3);
	fm.calib = malloc(FCALIB * sizeof *fm.calib);
	if (!fm.calib)
		return -1;
	fm.n_calib = FCALIB;
	for (int i = 0; i < FCALIB; i++)
		fm.calib[i] = 0.01f + 0.0001f * (float)i * (float)i / FCALIB;
	fm.threshold = fm.calib[FCALIB - 3];
	ready = 1;
	return 0;
}

static det *fuzz_det(void)
{
	det_config cfg;
	det *d = NULL;

	if (fuzz_model() != 0)
		return NULL;
	det_config_default(&cfg);
	cfg.max_devices = 8;
	thr_params_default(&cfg.thr, THR_DSPOT, 0.0f, 0.0f);
	cfg.thr.init_quantile = 0.9f;
	cfg.thr.peaks = 8;
	cfg.thr.depth = 4;
	return det_create(&fm, &cfg, &d) == IOTAD_OK ? d : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	det *d = fuzz_det();
	uint8_t *buf = malloc(size ? size : 1);
	if (!d || !buf) {
		free(buf);
		det_destroy(d);
		return 0;
	}
	memcpy(buf, data, size);
	if (size >= 4) {
		uint32_t crc = state_crc32(0, buf, size - 4);
		for (int i = 0; i < 4; i++)
			buf[size - 4 + i] = (uint8_t)(crc >> (8 * i));
	}
	char err[512];
	size_t n;
	if (state_load_buffer(d, buf, size, &n, err, sizeof err) == IOTAD_OK) {
		/* what was loaded must keep working */
		float raw[FF] = {0.5f, 0.25f};
		det_push(d, "fuzz-probe", 1.0, raw, NULL);
	}
	free(buf);
	det_destroy(d);
	return 0;
}

#ifdef FUZZ_STATE_SEED_MAIN
/* Writes argv[1]: three devices, one with an open alert. */
int main(int argc, char **argv)
{
	det *d = fuzz_det();
	if (!d || argc != 2)
		return 2;
	for (int t = 0; t < 40; t++) {
		float raw[FF] = {0.2f + 0.01f * (float)(t % 5), 0.7f};
		det_push(d, "dev-a", t, raw, NULL);
		raw[0] = t > 30 ? 0.99f : 0.3f;
		raw[1] = t > 30 ? 0.0f : 0.6f;
		det_push(d, "dev-b", t, raw, NULL);
		if (t % 3 == 0)
			det_push(d, "dev-c", t, raw, NULL);
	}
	char err[256];
	int rc = state_save(d, argv[1], NULL, err, sizeof err) == IOTAD_OK ? 0 : 1;
	if (rc)
		fprintf(stderr, "%s\n", err);
	det_destroy(d);
	return rc;
}
#endif
