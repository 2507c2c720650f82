/* test_main.c - CUnit runner: `test_unit [SUITE...]` runs the named suites
 * (all when none is named) and exits non-zero on any failure, 77 (meson's
 * SKIP) when a test could not run here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "skip.h"
#include "test.h"

const char *test_fixture_dir = "tests/fixtures";

static const struct {
	const char *name;
	void (*init)(void);
} suites[] = {
#define SUITE(name) {#name, init_##name##_tests},
#include "suites.h"
#undef SUITE
};

/* Long suites, run only when named (meson test --suite slow). */
static const struct {
	const char *name;
	void (*init)(void);
} slow_suites[] = {
	{"healthy", init_healthy_tests},
};

int main(int argc, char **argv)
{
	const char *dir = getenv("IOTAD_FIXTURES");
	if (dir)
		test_fixture_dir = dir;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	size_t n = sizeof suites / sizeof suites[0];
	for (size_t i = 0; i < n; i++) {
		int want = argc < 2;
		for (int a = 1; a < argc; a++)
			want |= strcmp(argv[a], suites[i].name) == 0;
		if (want)
			suites[i].init();
	}
	for (size_t i = 0; i < sizeof slow_suites / sizeof slow_suites[0]; i++)
		for (int a = 1; a < argc; a++)
			if (strcmp(argv[a], slow_suites[i].name) == 0)
				slow_suites[i].init();
	if (CU_get_registry()->uiNumberOfSuites == 0) {
		fprintf(stderr, "test_unit: no suite matches\n");
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed() +
			  CU_get_number_of_tests_failed();
	unsigned ran = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (ran == 0) {
		fprintf(stderr, "test_unit: no test ran\n");
		return 2;
	}
	return test_exit_status(failed, ran);
}
