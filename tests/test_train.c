/* test_train.c - unit tests of train. */
#include "test.h"

void init_train_tests(void)
{
}
