/* test_sim.c - unit tests of sim. */
#include "test.h"

void init_sim_tests(void)
{
}
