/* test_base.c - unit tests of base: the seeded generator against the
 * reference algorithms, strict number parsing, the atomic file writer and
 * the clocks. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotad/atomicfile.h"
#include "iotad/clock.h"
#include "iotad/numparse.h"
#include "iotad/rng.h"
#include "test.h"

/* ---- rng ---- */

/* Reference outputs (Vigna's splitmix64.c and xorshift64star.c, computed
 * independently): a change here moves every seeded model and simulation. */
static void test_rng_reference(void)
{
	uint64_t x = 0;
	CU_ASSERT_EQUAL(rng_splitmix64(&x), 0xe220a8397b1dcdafULL);
	CU_ASSERT_EQUAL(rng_splitmix64(&x), 0x6e789e6aa1b965f4ULL);
	CU_ASSERT_EQUAL(rng_splitmix64(&x), 0x06c45d188009454fULL);
	rng r;
	rng_seed(&r, 42);
	CU_ASSERT_EQUAL(rng_next(&r), 0x31b0ece7c4f697a2ULL);
	CU_ASSERT_EQUAL(rng_next(&r), 0x9008a3b1cb686f03ULL);
	CU_ASSERT_EQUAL(rng_next(&r), 0x7c7173abd97be16fULL);
}

static void test_rng_streams(void)
{
	rng a, b, c;
	rng_seed_stream(&a, 7, 1, 2);
	rng_seed_stream(&b, 7, 1, 2);
	rng_seed_stream(&c, 7, 2, 1);
	int same = 0, differ = 0;
	for (int i = 0; i < 100; i++) {
		uint64_t va = rng_next(&a), vb = rng_next(&b), vc = rng_next(&c);
		same += va == vb;
		differ += va != vc;
	}
	CU_ASSERT_EQUAL(same, 100);
	CU_ASSERT_EQUAL(differ, 100);
	rng z;
	rng_seed(&z, 0); /* seed 0 works: the state is never 0 */
	CU_ASSERT_NOT_EQUAL(rng_next(&z), 0);
}

/* Uniform draws: every value of [0, n) about equally often (chi-square,
 * 9 degrees of freedom, 0.1 % critical value 27.9). */
static void test_rng_below_uniform(void)
{
	enum { N = 10, DRAWS = 100000 };
	long count[N] = {0};
	rng r;
	rng_seed(&r, 5);
	for (int i = 0; i < DRAWS; i++) {
		size_t v = rng_below(&r, N);
		CU_ASSERT_FATAL(v < N);
		count[v]++;
	}
	double chi2 = 0.0, e = (double)DRAWS / N;
	for (int k = 0; k < N; k++)
		chi2 += (count[k] - e) * (count[k] - e) / e;
	CU_ASSERT(chi2 < 27.9);
	CU_ASSERT_EQUAL(rng_below(&r, 1), 0);
}

/* Normal and exponential draws: mean and variance within 5 standard errors. */
static void test_rng_moments(void)
{
	enum { DRAWS = 200000 };
	rng r;
	rng_seed(&r, 11);
	double s = 0, ss = 0, se = 0, u_lo = 1, u_hi = 0;
	for (int i = 0; i < DRAWS; i++) {
		double z = rng_normal(&r);
		s += z;
		ss += z * z;
		se += rng_exp(&r, 2.0);
		double u = rng_range(&r, 3.0, 4.0) - 3.0;
		if (u < u_lo)
			u_lo = u;
		if (u > u_hi)
			u_hi = u;
	}
	double mean = s / DRAWS, var = ss / DRAWS - mean * mean;
	CU_ASSERT(fabs(mean) < 5.0 / sqrt(DRAWS));
	CU_ASSERT(fabs(var - 1.0) < 5.0 * sqrt(2.0 / DRAWS));
	CU_ASSERT(fabs(se / DRAWS - 2.0) < 5.0 * 2.0 / sqrt(DRAWS));
	CU_ASSERT(u_lo >= 0.0 && u_lo < 0.001);
	CU_ASSERT(u_hi < 1.0 && u_hi > 0.999);
}

/* ---- numparse ---- */

static void test_num_double(void)
{
	double v = 0;
	char err[128];
	CU_ASSERT_EQUAL(num_parse_double("2.5", 0, 10, &v, err, sizeof err), 0);
	CU_ASSERT_EQUAL(v, 2.5);
	CU_ASSERT_EQUAL(num_parse_double("-1e3", -1e3, 0, &v, err, sizeof err), 0);
	CU_ASSERT_EQUAL(v, -1000.0);
	const char *bad[] = {"", "x", "1x", "1 ", "nan", "inf", "1e999", "0x", NULL};
	for (int i = 0; bad[i]; i++) {
		v = 7;
		err[0] = '\0';
		CU_ASSERT_EQUAL(num_parse_double(bad[i], -1e300, 1e300, &v, err, sizeof err), -1);
		CU_ASSERT_STRING_EQUAL(err, "not a number");
		CU_ASSERT_EQUAL(v, 7); /* untouched on failure */
	}
	CU_ASSERT_EQUAL(num_parse_double(NULL, 0, 1, &v, NULL, 0), -1);
	CU_ASSERT_EQUAL(num_parse_double("11", 0, 10, &v, err, sizeof err), -1);
	CU_ASSERT_STRING_EQUAL(err, "must be between 0 and 10");
	float f = 0;
	CU_ASSERT_EQUAL(num_parse_float("1e39", -1e300, 1e300, &f, err, sizeof err), -1);
	CU_ASSERT_EQUAL(num_parse_float("0.25", 0, 1, &f, NULL, 0), 0);
	CU_ASSERT_EQUAL(f, 0.25f);
}

static void test_num_integers(void)
{
	long l = 0;
	size_t z = 0;
	uint64_t u = 0;
	char err[128];
	CU_ASSERT_EQUAL(num_parse_long("-42", -100, 100, &l, err, sizeof err), 0);
	CU_ASSERT_EQUAL(l, -42);
	CU_ASSERT_EQUAL(num_parse_long("-9223372036854775808", LONG_MIN, 0, &l, NULL, 0), 0);
	CU_ASSERT_EQUAL(l, LONG_MIN);
	CU_ASSERT_EQUAL(num_parse_long("9223372036854775808", LONG_MIN, LONG_MAX, &l, err, sizeof err), -1);
	CU_ASSERT_STRING_EQUAL(err, "not an integer");
	CU_ASSERT_EQUAL(num_parse_long("1.5", 0, 9, &l, NULL, 0), -1);
	CU_ASSERT_EQUAL(num_parse_long("0x10", 0, 99, &l, NULL, 0), -1);
	CU_ASSERT_EQUAL(num_parse_long("101", 0, 100, &l, err, sizeof err), -1);
	CU_ASSERT_STRING_EQUAL(err, "must be between 0 and 100");
	CU_ASSERT_EQUAL(num_parse_size("4096", 1, 1 << 20, &z, NULL, 0), 0);
	CU_ASSERT_EQUAL(z, 4096);
	CU_ASSERT_EQUAL(num_parse_size("-1", 0, SIZE_MAX, &z, err, sizeof err), -1);
	CU_ASSERT_STRING_EQUAL(err, "not a count");
	CU_ASSERT_EQUAL(num_parse_size(" +3", 0, 9, &z, NULL, 0), -1);
	CU_ASSERT_EQUAL(num_parse_u64("18446744073709551615", &u, NULL, 0), 0);
	CU_ASSERT_EQUAL(u, UINT64_MAX);
	CU_ASSERT_EQUAL(num_parse_u64("0x2a", &u, NULL, 0), 0);
	CU_ASSERT_EQUAL(u, 42);
	CU_ASSERT_EQUAL(num_parse_u64("010", &u, NULL, 0), 0); /* decimal, not octal */
	CU_ASSERT_EQUAL(u, 10);
	CU_ASSERT_EQUAL(num_parse_u64("18446744073709551616", &u, NULL, 0), -1);
	CU_ASSERT_EQUAL(num_parse_u64(" -1", &u, err, sizeof err), -1);
	CU_ASSERT_STRING_EQUAL(err, "not an unsigned 64-bit integer");
}

/* ---- atomicfile ---- */

static char af_dir[64];

static int af_setup(void)
{
	snprintf(af_dir, sizeof af_dir, "/tmp/iotad-af-XXXXXX");
	return mkdtemp(af_dir) ? 0 : 1;
}

static int af_teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", af_dir);
	return system(cmd) == 0 ? 0 : 1;
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Files in af_dir (the temporary ones must not stay). */
static int count_files(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", af_dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

static void test_atomicfile_replaces(void)
{
	char path[128], err[256];
	snprintf(path, sizeof path, "%s/model.json", af_dir);
	atomicfile a;
	CU_ASSERT_EQUAL_FATAL(atomicfile_open(&a, path, 0640, err, sizeof err), IOTAD_OK);
	fputs("first", a.f);
	CU_ASSERT_PTR_NULL(slurp(path)); /* nothing at path before the commit */
	CU_ASSERT_EQUAL(atomicfile_commit(&a, err, sizeof err), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(slurp(path), "first");
	struct stat st;
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0640);

	CU_ASSERT_EQUAL_FATAL(atomicfile_open(&a, path, 0640, err, sizeof err), IOTAD_OK);
	fputs("second", a.f);
	CU_ASSERT_STRING_EQUAL(slurp(path), "first"); /* the old one until the commit */
	CU_ASSERT_EQUAL(atomicfile_commit(&a, err, sizeof err), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(slurp(path), "second");

	CU_ASSERT_EQUAL_FATAL(atomicfile_open(&a, path, 0640, err, sizeof err), IOTAD_OK);
	fputs("third", a.f);
	atomicfile_abort(&a);
	CU_ASSERT_STRING_EQUAL(slurp(path), "second");
	CU_ASSERT_EQUAL(count_files(), 1);
	atomicfile_abort(NULL);
}

static void test_atomicfile_refuses(void)
{
	char path[128], link[128], err[256] = "";
	atomicfile a;
	/* a directory, and a symlink, are not replaced */
	snprintf(path, sizeof path, "%s/dir", af_dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
	CU_ASSERT_EQUAL(atomicfile_open(&a, path, 0644, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a regular file"));
	snprintf(link, sizeof link, "%s/link", af_dir);
	CU_ASSERT_EQUAL_FATAL(symlink("/dev/null", link), 0);
	CU_ASSERT_EQUAL(atomicfile_open(&a, link, 0644, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(atomicfile_open(&a, "/dev/null", 0644, err, sizeof err), IOTAD_ERR_INVAL);
	/* no directory to write in */
	snprintf(path, sizeof path, "%s/missing/x.json", af_dir);
	CU_ASSERT_EQUAL(atomicfile_open(&a, path, 0644, err, sizeof err), IOTAD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing/x.json"));
	CU_ASSERT_EQUAL(atomicfile_open(&a, "", 0644, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(count_files(), 3); /* model.json, dir and link: no temporary file */
	snprintf(path, sizeof path, "%s/dir", af_dir);
	rmdir(path);
	unlink(link);
}

/* ---- clock ---- */

static void test_clock(void)
{
	double m0 = clock_mono();
	long long n0 = clock_mono_ns();
	usleep(20000);
	double m1 = clock_mono();
	CU_ASSERT(m1 - m0 >= 0.019 && m1 - m0 < 5.0);
	CU_ASSERT(clock_mono_ns() - n0 >= 19000000LL);
	CU_ASSERT(fabs(clock_wall() - (double)time(NULL)) < 2.0);
	struct timespec dl, now;
	clock_deadline_ms(&dl, 1500);
	clock_gettime(CLOCK_MONOTONIC, &now);
	double ahead = (double)(dl.tv_sec - now.tv_sec) + 1e-9 * (double)(dl.tv_nsec - now.tv_nsec);
	CU_ASSERT(ahead > 1.4 && ahead <= 1.5);
	CU_ASSERT(dl.tv_nsec >= 0 && dl.tv_nsec < 1000000000L);

	/* a timed wait on a monotonic condition ends at the deadline */
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	CU_ASSERT_EQUAL_FATAL(clock_cond_init(&cv), 0);
	pthread_mutex_lock(&mu);
	double t0 = clock_mono();
	clock_deadline_ms(&dl, 50);
	int rc = 0;
	while (rc == 0)
		rc = pthread_cond_timedwait(&cv, &mu, &dl);
	double waited = clock_mono() - t0;
	pthread_mutex_unlock(&mu);
	CU_ASSERT_EQUAL(rc, ETIMEDOUT);
	CU_ASSERT(waited >= 0.045 && waited < 2.0);
	pthread_cond_destroy(&cv);
}

void init_base_tests(void)
{
	CU_pSuite s = CU_add_suite("base", af_setup, af_teardown);
	TEST_ADD(s, test_rng_reference);
	TEST_ADD(s, test_rng_streams);
	TEST_ADD(s, test_rng_below_uniform);
	TEST_ADD(s, test_rng_moments);
	TEST_ADD(s, test_num_double);
	TEST_ADD(s, test_num_integers);
	TEST_ADD(s, test_atomicfile_replaces);
	TEST_ADD(s, test_atomicfile_refuses);
	TEST_ADD(s, test_clock);
}
