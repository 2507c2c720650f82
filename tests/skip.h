/* skip.h - tests that cannot run here say so: meson shows them as SKIP
 * (exit 77), never as a pass. Shared by the unit and integration runners. */
#ifndef IOTAD_TEST_SKIP_H
#define IOTAD_TEST_SKIP_H

/* The running test could not run (why is printed); call it and return.
 * The runner then exits 77 unless a test failed. */
void test_skip(const char *why);
/* Missing data: a skip as test_skip, but a failure under CI (CI set and
 * not "false" or "0"), where the data must be present. */
void test_skip_data(const char *why);
/* The runner's exit status: 1 if a test failed or none ran, 77 if one
 * skipped, else 0. */
int test_exit_status(unsigned failed, unsigned ran);

#endif
