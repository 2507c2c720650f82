/* test_nn.c - unit tests of nn. */
#include "test.h"

void init_nn_tests(void)
{
}
