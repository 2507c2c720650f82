/* skip.c - skipped tests reported as skipped (meson's exit status 77). */
#include "skip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

static unsigned skipped;

void test_skip(const char *why)
{
	skipped++;
	fprintf(stderr, "SKIP: %s\n", why);
}

void test_skip_data(const char *why)
{
	const char *ci = getenv("CI");
	if (ci && *ci && strcmp(ci, "false") && strcmp(ci, "0")) {
		fprintf(stderr, "FAIL under CI: %s\n", why);
		CU_FAIL(why);
		return;
	}
	test_skip(why);
}

int test_exit_status(unsigned failed, unsigned ran)
{
	if (failed || ran == 0)
		return 1;
	if (skipped) {
		fprintf(stderr, "%u test(s) skipped\n", skipped);
		return 77;
	}
	return 0;
}
