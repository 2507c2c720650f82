/* test_threshold.c - unit tests of threshold: closed-form cases and
 * false-alarm rates measured on seeded random scores. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "iotad/threshold.h"
#include "test.h"

/* splitmix64: small, seeded, reproducible. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static double rng_unit(uint64_t *s)
{
	return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

/* Exponential with the given mean: its 99th percentile is mean * ln(100). */
static float rng_exp(uint64_t *s, double mean)
{
	return (float)(-mean * log(rng_unit(s)));
}

static void test_kind_names(void)
{
	thr_kind k = THR_STATIC;

	CU_ASSERT_EQUAL(thr_kind_parse("adaptive", &k), 0);
	CU_ASSERT_EQUAL(k, THR_ADAPTIVE);
	CU_ASSERT_EQUAL(thr_kind_parse("static", &k), 0);
	CU_ASSERT_EQUAL(k, THR_STATIC);
	CU_ASSERT_EQUAL(thr_kind_parse("spot", &k), -1);
	CU_ASSERT_EQUAL(thr_kind_parse("", &k), -1);
	CU_ASSERT_EQUAL(thr_kind_parse(NULL, &k), -1);
	CU_ASSERT_STRING_EQUAL(thr_kind_name(THR_STATIC), "static");
	CU_ASSERT_STRING_EQUAL(thr_kind_name(THR_ADAPTIVE), "adaptive");
}

static void test_defaults(void)
{
	thr_params p;
	thr_state s;

	thr_params_default(&p, THR_ADAPTIVE, 0.1f, 0.05f);
	CU_ASSERT_EQUAL(p.kind, THR_ADAPTIVE);
	CU_ASSERT_EQUAL(p.base, 0.1f);
	CU_ASSERT_EQUAL(p.base_level, 0.05f);
	CU_ASSERT_EQUAL(p.alpha, 0.01f);
	CU_ASSERT_EQUAL(p.min_ratio, 0.5f);
	CU_ASSERT_EQUAL(p.max_ratio, 4.0f);
	thr_init(&s, &p);
	CU_ASSERT_EQUAL(s.value, 0.1f);
	CU_ASSERT_EQUAL(s.level, 0.05f);
}

static void test_static_never_moves(void)
{
	thr_params p;
	thr_state s;
	uint64_t seed = 1;

	thr_params_default(&p, THR_STATIC, 0.1f, 0.05f);
	thr_init(&s, &p);
	for (int i = 0; i < 5000; i++) {
		float score = rng_exp(&seed, 0.03);
		bool anom = thr_update(&s, &p, score);
		CU_ASSERT_EQUAL(anom, score >= 0.1f);
		CU_ASSERT_EQUAL(s.value, 0.1f);
	}
	CU_ASSERT_EQUAL(s.level, 0.05f);
}

static void test_adaptive_single_step(void)
{
	thr_params p;
	thr_state s;

	thr_params_default(&p, THR_ADAPTIVE, 0.1f, 0.05f);
	thr_init(&s, &p);
	CU_ASSERT_FALSE(thr_update(&s, &p, 0.07f));
	/* level = 0.99 * 0.05 + 0.01 * 0.07 = 0.0502; value = 0.1 * 0.0502 / 0.05 */
	CU_ASSERT_DOUBLE_EQUAL(s.level, 0.0502, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(s.value, 0.1004, 1e-7);
}

static void test_adaptive_converges(void)
{
	const float scores[] = {0.03f, 0.05f, 0.08f};
	thr_params p;
	thr_state s;

	for (size_t k = 0; k < sizeof scores / sizeof scores[0]; k++) {
		thr_params_default(&p, THR_ADAPTIVE, 0.1f, 0.05f);
		thr_init(&s, &p);
		/* (1 - 0.01)^3000 ~ 1e-13: the EWMA has forgotten its start */
		for (int i = 0; i < 3000; i++)
			CU_ASSERT_FALSE(thr_update(&s, &p, scores[k]));
		CU_ASSERT_DOUBLE_EQUAL(s.level, scores[k], 1e-5);
		CU_ASSERT_DOUBLE_EQUAL(s.value, 0.1 * scores[k] / 0.05, 1e-5);
	}
}

static void test_adaptive_clamps(void)
{
	thr_params p;
	thr_state s;

	/* constant 0: level -> 0, ratio clamped at min_ratio */
	thr_params_default(&p, THR_ADAPTIVE, 0.1f, 0.05f);
	thr_init(&s, &p);
	for (int i = 0; i < 3000; i++)
		thr_update(&s, &p, 0.0f);
	CU_ASSERT_DOUBLE_EQUAL(s.value, 0.1 * 0.5, 1e-7);
	CU_ASSERT(s.level < 1e-6);

	/* scores just under the threshold push it up until max_ratio */
	thr_init(&s, &p);
	for (int i = 0; i < 5000; i++) {
		float below = s.value * 0.95f;
		CU_ASSERT_FALSE(thr_update(&s, &p, below));
		CU_ASSERT(s.value <= 0.1f * 4.0f);
	}
	CU_ASSERT_DOUBLE_EQUAL(s.value, 0.1 * 4.0, 1e-7);
}

static void test_anomalous_leaves_state(void)
{
	const float bad[] = {0.1f, 0.1000001f, 1.0f, 1e30f, INFINITY, -INFINITY, NAN};
	thr_params p;
	thr_state s, before;

	thr_params_default(&p, THR_ADAPTIVE, 0.1f, 0.05f);
	thr_init(&s, &p);
	thr_update(&s, &p, 0.02f);      /* move off the initial state */
	CU_ASSERT(s.value < 0.1f);
	thr_update(&s, &p, 0.2f);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		float score = bad[i] == 0.1f ? s.value : bad[i];
		memcpy(&before, &s, sizeof s);
		CU_ASSERT_TRUE(thr_update(&s, &p, score));
		CU_ASSERT_EQUAL(memcmp(&before, &s, sizeof s), 0);
	}
}

static void test_bad_base_level_is_static(void)
{
	const float levels[] = {0.0f, -1.0f, NAN, INFINITY};
	thr_params p;
	thr_state s;

	for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++) {
		thr_params_default(&p, THR_ADAPTIVE, 0.1f, levels[k]);
		thr_init(&s, &p);
		CU_ASSERT_EQUAL(s.value, 0.1f);
		for (int i = 0; i < 500; i++)
			CU_ASSERT_FALSE(thr_update(&s, &p, 0.01f));
		CU_ASSERT_EQUAL(s.value, 0.1f);
		CU_ASSERT_TRUE(thr_update(&s, &p, 0.1f));
	}
}

/* False alarms over n scores drawn from Exp(mean). */
static int count_alarms(thr_kind kind, double mean, int n, uint64_t seed)
{
	const double calib_mean = 0.01;
	thr_params p;
	thr_state s;
	int alarms = 0;

	/* calibrated so the base is the 99th percentile of Exp(calib_mean) */
	thr_params_default(&p, kind, (float)(calib_mean * log(100.0)), (float)calib_mean);
	thr_init(&s, &p);
	for (int i = 0; i < n; i++)
		alarms += thr_update(&s, &p, rng_exp(&seed, mean));
	return alarms;
}

/* 10,000 normal scores, threshold at their 99th percentile: expect 100 false
 * alarms, sd = sqrt(10000 * 0.01 * 0.99) ~ 9.95; the bound 1% +- 0.5% is 5 sd. */
static void test_static_false_alarm_rate(void)
{
	for (uint64_t seed = 11; seed < 16; seed++) {
		int alarms = count_alarms(THR_STATIC, 0.01, 10000, seed);
		CU_ASSERT(alarms >= 50 && alarms <= 150);
	}
}

/* Adaptive on the calibration distribution: only scores below the threshold
 * feed the level, whose mean is then the mean of Exp(0.01) below its 99th
 * percentile, 0.01 * (1 - ln(100)/99) ~ 0.00953, so the threshold settles ~5% lower and the
 * expected rate is exp(-ln(100) * 0.953) ~ 1.25%. Bound: 0.5% .. 2%. */
static void test_adaptive_false_alarm_rate(void)
{
	for (uint64_t seed = 21; seed < 26; seed++) {
		int alarms = count_alarms(THR_ADAPTIVE, 0.01, 10000, seed);
		CU_ASSERT(alarms >= 50 && alarms <= 200);
	}
}

/* A device twice as noisy as the training data: the static threshold fires
 * on exp(-ln(100)/2) = 10% of its normal windows; the adaptive one follows
 * the level and, after 1,000 windows of warm-up, returns near 1.25%. */
static void test_adaptive_follows_level(void)
{
	const double calib_mean = 0.01, mean = 0.02;
	thr_params p;
	thr_state s;
	uint64_t seed = 31;
	int alarms = 0;

	CU_ASSERT(count_alarms(THR_STATIC, mean, 10000, 32) >= 800);
	thr_params_default(&p, THR_ADAPTIVE, (float)(calib_mean * log(100.0)), (float)calib_mean);
	thr_init(&s, &p);
	for (int i = 0; i < 1000; i++)
		thr_update(&s, &p, rng_exp(&seed, mean));
	CU_ASSERT_DOUBLE_EQUAL(s.value / p.base, 2.0 * 0.953, 0.3);
	for (int i = 0; i < 10000; i++)
		alarms += thr_update(&s, &p, rng_exp(&seed, mean));
	CU_ASSERT(alarms >= 50 && alarms <= 200);
}

void init_threshold_tests(void)
{
	CU_pSuite s = CU_add_suite("threshold", NULL, NULL);
	TEST_ADD(s, test_kind_names);
	TEST_ADD(s, test_defaults);
	TEST_ADD(s, test_static_never_moves);
	TEST_ADD(s, test_adaptive_single_step);
	TEST_ADD(s, test_adaptive_converges);
	TEST_ADD(s, test_adaptive_clamps);
	TEST_ADD(s, test_anomalous_leaves_state);
	TEST_ADD(s, test_bad_base_level_is_static);
	TEST_ADD(s, test_static_false_alarm_rate);
	TEST_ADD(s, test_adaptive_false_alarm_rate);
	TEST_ADD(s, test_adaptive_follows_level);
}
