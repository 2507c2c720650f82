/* test_codec.c - unit tests of codec. */
#include "test.h"

void init_codec_tests(void)
{
}
