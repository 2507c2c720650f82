/* test_threshold.c - unit tests of threshold. */
#include "test.h"

void init_threshold_tests(void)
{
}
