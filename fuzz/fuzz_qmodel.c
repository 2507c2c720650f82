/* fuzz_qmodel.c - libFuzzer target: the int8 model and update decoders; a
 * model they accept must score a window (every member), an update must
 * give a network of finite weights. Each input is decoded as it is and
 * again with its CRC made right, so mutations reach past the checksum. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/qmodel_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const uint8_t *data, size_t size)
{
	model m;
	nn net;
	qmodel_update u;
	char err[512];
	if (qmodel_decode(data, size, &m, err, sizeof err) == IOTAD_OK) {
		size_t d = (size_t)m.window * (size_t)m.n_features;
		float *x = calloc(d, sizeof *x), *e = malloc(d * sizeof *e);
		float *tmp = malloc(d * sizeof *tmp);
		float *scratch = malloc(model_scratch_floats(&m) * sizeof *scratch);
		if (x && e && tmp && scratch) {
			for (size_t i = 0; i < d; i++)
				x[i] = (float)(i % 7) * 0.9f - 2.0f; /* inside and beyond the ranges */
			if (!(model_score(&m, x, scratch, e, tmp) >= 0.0f))
				abort();
		}
		free(x);
		free(e);
		free(tmp);
		free(scratch);
		model_free(&m);
	}
	if (qmodel_update_decode(data, size, &net, &u, err, sizeof err) == IOTAD_OK) {
		for (size_t i = 0; i < net.n_params; i++)
			if (!isfinite(net.params[i]))
				abort();
		nn_free(&net);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode(data, size);
	if (size < 9)
		return 0;
	uint8_t *copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	uint32_t c = qmodel_crc32(0, copy, size - 4);
	for (int i = 0; i < 4; i++)
		copy[size - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
	decode(copy, size);
	free(copy);
	return 0;
}
