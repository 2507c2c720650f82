/* test_ring.c - unit tests of ring. */
#include "test.h"

void init_ring_tests(void)
{
}
