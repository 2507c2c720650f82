/* fuzz_config.c - libFuzzer target: the YAML configuration loader. */
#include <stdint.h>

#include "iotad/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static iotad_config c;
	char err[512];
	config_defaults(&c);
	config_load_string("fuzz.yaml", (const char *)data, size, &c, err, sizeof err);
	return 0;
}
