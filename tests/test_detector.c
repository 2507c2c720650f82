/* test_detector.c - unit tests of detector. */
#include "test.h"

void init_detector_tests(void)
{
}
