/* test.h - registration of the CUnit suites (one file per module). */
#ifndef IOTAD_TEST_H
#define IOTAD_TEST_H

#include <CUnit/CUnit.h>

/* Each adds its suite(s) to the registry: init_ring_tests(), ... */
#define SUITE(name) void init_##name##_tests(void);
#include "suites.h"
#undef SUITE
/* Long suites outside suites.h, run only when named (suite slow). */
void init_healthy_tests(void);

/* Directory holding test fixtures (set by the runner from argv or env). */
extern const char *test_fixture_dir;

#define TEST_ADD(suite, fn) CU_add_test((suite), #fn, (fn))

#endif
