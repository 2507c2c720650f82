/* fuzz_model.c - libFuzzer target: the JSON model loader. */
#include <stdint.h>

#include "iotad/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	model m = {0};
	char err[512];
	if (model_load_buffer((const char *)data, size, &m, err, sizeof err) == IOTAD_OK)
		model_free(&m);
	return 0;
}
