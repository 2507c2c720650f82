/* test_csv.c - unit tests of csv. */
#include "test.h"

void init_csv_tests(void)
{
}
