/* test_model.c - unit tests of model. */
#include "test.h"

void init_model_tests(void)
{
}
