/* test_config.c - unit tests of config. */
#include "test.h"

void init_config_tests(void)
{
}
