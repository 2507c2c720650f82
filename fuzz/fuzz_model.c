/* fuzz_model.c - libFuzzer target: the model loader (JSON, or the int8
 * encoding by its magic); a model it accepts must score a window (every
 * member of an ensemble) without fault. */
#include <stdint.h>
#include <stdlib.h>

#include "iotad/model_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	model m = {0};
	char err[512];
	if (model_load_buffer((const char *)data, size, &m, err, sizeof err) != IOTAD_OK)
		return 0;
	size_t d = (size_t)m.window * (size_t)m.n_features;
	float *x = calloc(d, sizeof *x), *e = malloc(d * sizeof *e), *tmp = malloc(d * sizeof *tmp);
	float *scratch = malloc(model_scratch_floats(&m) * sizeof *scratch);
	if (x && e && tmp && scratch)
		(void)model_score(&m, x, scratch, e, tmp);
	free(x);
	free(e);
	free(tmp);
	free(scratch);
	model_free(&m);
	return 0;
}
