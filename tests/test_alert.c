/* test_alert.c - unit tests of alert. */
#include "test.h"

void init_alert_tests(void)
{
}
