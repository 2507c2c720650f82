/* test_threshold.c - unit tests of threshold: closed-form cases and
 * false-alarm rates measured on seeded random scores. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/spot.h"
#include "iotad/threshold.h"
#include "test.h"
#include "test_rng.h"

static void test_kind_names(void)
{
	const char *names[] = {"static", "adaptive", "ewma", "spot", "dspot"};
	const char *bad[] = {"Spot", "", "dynamic", NULL};
	thr_kind k = THR_STATIC;

	CU_ASSERT_EQUAL(THR_DSPOT + 1, sizeof names / sizeof names[0]);
	for (int i = 0; i <= THR_DSPOT; i++) {
		CU_ASSERT_EQUAL(thr_kind_parse(names[i], &k), 0);
		CU_ASSERT_EQUAL(k, (thr_kind)i);
		CU_ASSERT_STRING_EQUAL(thr_kind_name((thr_kind)i), names[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_EQUAL(thr_kind_parse(bad[i], &k), -1);
	CU_ASSERT_STRING_EQUAL(thr_kind_name((thr_kind)99), "unknown");
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
		float score = trng_exp(&seed, 0.03);
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
		alarms += thr_update(&s, &p, trng_exp(&seed, mean));
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
		thr_update(&s, &p, trng_exp(&seed, mean));
	CU_ASSERT_DOUBLE_EQUAL(s.value / p.base, 2.0 * 0.953, 0.3);
	for (int i = 0; i < 10000; i++)
		alarms += thr_update(&s, &p, trng_exp(&seed, mean));
	CU_ASSERT(alarms >= 50 && alarms <= 200);
}

/* ---- EWMA, SPOT, DSPOT -------------------------------------------------- */

#define NCAL 100000
#define MU 0.01                 /* mean of the Exp calibration scores */

static float calib[NCAL];

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* NCAL sorted Exp(MU) calibration scores. */
static void make_calib(uint64_t seed)
{
	for (int i = 0; i < NCAL; i++)
		calib[i] = trng_exp(&seed, MU);
	qsort(calib, NCAL, sizeof *calib, cmp_float);
}

/* p fitted for kind on calib, base at its 99th percentile. */
static void fit_kind(thr_params *p, thr_kind kind, float q)
{
	thr_params_default(p, kind, 0.0f, 0.0f);
	p->q = q;
	CU_ASSERT_EQUAL_FATAL(thr_params_fit(p, calib[NCAL * 99 / 100], calib, NCAL), IOTAD_OK);
}

static void test_fit_validation(void)
{
	const float unsorted[] = {0.2f, 0.1f}, nan[] = {0.1f, NAN};
	thr_params p;

	make_calib(3);
	thr_params_default(&p, THR_STATIC, 0.0f, 0.0f);
	CU_ASSERT_EQUAL(thr_params_fit(&p, 0.5f, NULL, 0), IOTAD_OK);
	CU_ASSERT_EQUAL(p.base, 0.5f);
	CU_ASSERT_EQUAL(p.base_level, 0.25f);           /* base / 2 */
	CU_ASSERT_DOUBLE_EQUAL(p.base_sd, 0.25 / 4.0, 1e-7); /* (base - level) / k */
	thr_params_default(&p, THR_EWMA, 0.0f, 0.0f);
	CU_ASSERT_EQUAL(thr_params_fit(&p, 0.5f, calib, NCAL), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(p.base_level / MU, 1.0, 0.02); /* Exp: mean = sd = MU */
	CU_ASSERT_DOUBLE_EQUAL(p.base_sd / MU, 1.0, 0.02);

	thr_params_default(&p, THR_STATIC, 0.0f, 0.0f);
	CU_ASSERT_EQUAL(thr_params_fit(&p, 0.5f, unsorted, 2), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(thr_params_fit(&p, 0.5f, nan, 2), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(thr_params_fit(&p, NAN, NULL, 0), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(thr_params_fit(&p, 0.5f, NULL, 3), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(thr_params_fit(NULL, 0.5f, NULL, 0), IOTAD_ERR_INVAL);
	const struct { thr_kind kind; float q, iq; int peaks, depth; float k; } bad[] = {
		{THR_SPOT, 0.0f, 0.98f, 64, 20, 4.0f},   {THR_SPOT, 1.0f, 0.98f, 64, 20, 4.0f},
		{THR_SPOT, 1e-3f, 1.0f, 64, 20, 4.0f},   {THR_SPOT, 1e-3f, 0.98f, -1, 20, 4.0f},
		{THR_SPOT, 1e-3f, 0.98f, THR_MAX_PEAKS + 1, 20, 4.0f},
		{THR_DSPOT, 1e-3f, 0.98f, 64, 0, 4.0f},  {THR_EWMA, 1e-3f, 0.98f, 64, 20, 0.0f},
		{(thr_kind)9, 1e-3f, 0.98f, 64, 20, 4.0f},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		thr_params_default(&p, bad[i].kind, 0.0f, 0.0f);
		p.q = bad[i].q;
		p.init_quantile = bad[i].iq;
		p.peaks = bad[i].peaks;
		p.depth = bad[i].depth;
		p.ewma_k = bad[i].k;
		CU_ASSERT_EQUAL(thr_params_fit(&p, 0.5f, calib, NCAL), IOTAD_ERR_INVAL);
	}
	/* SPOT needs THR_MIN_CALIB_PEAKS scores above the 98% quantile */
	thr_params_default(&p, THR_SPOT, 0.0f, 0.0f);
	CU_ASSERT_EQUAL(thr_params_fit(&p, 0.5f, NULL, 0), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(thr_params_fit(&p, 0.5f, calib + NCAL - 400, 400), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(thr_params_fit(&p, 0.5f, calib + NCAL - 600, 600), IOTAD_OK);
}

/* Storage and starting thresholds of every kind. */
static void test_state_sizes(void)
{
	thr_params p;

	make_calib(3);
	for (thr_kind k = THR_STATIC; k <= THR_DSPOT; k++) {
		fit_kind(&p, k, 1e-3f);
		CU_ASSERT_EQUAL(thr_state_floats(&p), k == THR_SPOT ? 64u : k == THR_DSPOT ? 84u : 0u);
	}
	fit_kind(&p, THR_EWMA, 1e-3f);
	CU_ASSERT_DOUBLE_EQUAL(thr_initial(&p), p.base_level + 4.0 * p.base_sd, 1e-7);
	/* DSPOT starts where SPOT does: its t and zq are shifted by the mean */
	fit_kind(&p, THR_SPOT, 1e-3f);
	float spot0 = thr_initial(&p), t = p.t;
	fit_kind(&p, THR_DSPOT, 1e-3f);
	CU_ASSERT_DOUBLE_EQUAL(thr_initial(&p), spot0, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(p.t + p.base_level, t, 1e-7);
}

/* Exp(MU) scores: P(X > z) = q  <=>  z = -ln(q) MU. The fit on the 2,000
 * calibration peaks has a 1.1% sd at q = 1e-3 and 2.6% at 1e-4 (test_spot);
 * bounds 5% and 10%. The 128-value summary costs under 0.5%: against the
 * fit on all the peaks, bound 1%. */
static void test_spot_exponential_threshold(void)
{
	static float ex[NCAL];
	const float q[] = {1e-3f, 1e-4f};
	const double tol[] = {0.05, 0.10};
	thr_params p;
	spot_gpd g;
	int n = 0;

	for (uint64_t seed = 41; seed < 44; seed++) {
		make_calib(seed);
		for (size_t k = 0; k < 2; k++) {
			fit_kind(&p, THR_SPOT, q[k]);
			CU_ASSERT_EQUAL(p.n_rep, THR_REPS);
			CU_ASSERT_DOUBLE_EQUAL(p.calib_peaks, 2000, 2);
			CU_ASSERT_DOUBLE_EQUAL(p.t / (-log(0.02) * MU), 1.0, 0.05);
			CU_ASSERT_DOUBLE_EQUAL(thr_initial(&p) / (-log(q[k]) * MU), 1.0, tol[k]);
			n = 0;
			for (int i = 0; i < NCAL; i++) {
				if (calib[i] > p.t)
					ex[n++] = calib[i] - p.t;
			}
			spot_peaks pk = {.y = ex, .n = n};
			CU_ASSERT_EQUAL_FATAL(spot_fit(&pk, &g), IOTAD_OK);
			CU_ASSERT_DOUBLE_EQUAL(thr_initial(&p) / spot_quantile(&g, p.t, q[k], NCAL, n),
					       1.0, 0.01);
		}
	}
}

/* MSE of 30 N(0, MU) values, as a 10 x 3 window of Gaussian noise scores:
 * Gamma(15, MU / 15), an exponential tail. */
static float chi2_score(uint64_t *seed)
{
	double sum = 0.0;

	for (int j = 0; j < 30; j++) {
		double z = trng_normal(seed);
		sum += z * z;
	}
	return (float)(MU * sum / 30.0);
}

/* Alarms over n scores of one stream (seeded), from a fresh device. */
static int stream_alarms(const thr_params *p, int n, uint64_t seed, int chi2, thr_state *out)
{
	static float buf[THR_MAX_PEAKS + THR_MAX_DEPTH];
	thr_state s;
	int alarms = 0;

	thr_init_with(&s, p, buf);
	for (int i = 0; i < n; i++) {
		alarms += thr_update(&s, p, chi2 ? chi2_score(&seed) : trng_exp(&seed, MU));
	}
	if (out)
		*out = s;
	return alarms;
}

/* 100,000 normal scores from the calibration's distribution, q = 1e-3:
 * 100 false alarms expected. Poisson noise (sd 10) and the fit's error
 * (1.1% on z, ~8% on the rate) make the sd ~13; the bound 0.3q .. 3q
 * (30 .. 300) is more than 5 sd either way. DSPOT's drift window (mean of
 * 20) widens the residual's tail by exp(var / 2 MU^2) = exp(1/40), 2.5%.
 * Also on chi-square-like scores (MSE of a 30-value window of Gaussian
 * noise), whose tail is exponential too. */
static void test_spot_false_alarm_rate(void)
{
	thr_params p;

	for (int chi2 = 0; chi2 < 2; chi2++) {
		if (chi2) {
			uint64_t seed = 61;
			for (int i = 0; i < NCAL; i++)
				calib[i] = chi2_score(&seed);
			qsort(calib, NCAL, sizeof *calib, cmp_float);
		} else {
			make_calib(51);
		}
		for (thr_kind k = THR_SPOT; k <= THR_DSPOT; k++) {
			fit_kind(&p, k, 1e-3f);
			for (uint64_t seed = 71; seed < 74; seed++) {
				int alarms = stream_alarms(&p, 100000, seed, chi2, NULL);
				CU_ASSERT(alarms >= 30 && alarms <= 300);
			}
		}
	}
}

/* EWMA, one step: mean += alpha d, var = (1 - alpha)(var + alpha d^2). */
static void test_ewma_step_and_rate(void)
{
	thr_params p;
	thr_state s;

	thr_params_default(&p, THR_EWMA, 0.1f, 0.05f);
	p.base_sd = 0.01f;
	CU_ASSERT_EQUAL_FATAL(thr_params_fit(&p, 0.1f, NULL, 0), IOTAD_OK);
	thr_init(&s, &p);
	CU_ASSERT_DOUBLE_EQUAL(s.value, 0.05 + 4.0 * 0.01, 1e-7);
	CU_ASSERT_FALSE(thr_update(&s, &p, 0.07f));
	double var = 0.99 * (1e-4 + 0.01 * 0.02 * 0.02);
	CU_ASSERT_DOUBLE_EQUAL(s.level, 0.0502, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(s.value, 0.0502 + 4.0 * sqrt(var), 1e-6);

	/* Only scores under the threshold T feed it, so it settles where
	 * T = mean + 4 sd of Exp(MU) truncated at T: T = 4.44 MU, rate
	 * exp(-4.44) = 1.18% (the EWMA's own noise adds a little). Over 100,000
	 * scores: bound 0.8% .. 2%. */
	make_calib(81);
	fit_kind(&p, THR_EWMA, 1e-3f);
	for (uint64_t seed = 82; seed < 85; seed++) {
		int alarms = stream_alarms(&p, 100000, seed, 0, NULL);
		CU_ASSERT(alarms >= 800 && alarms <= 2000);
	}
}

/* A level rising slowly by 10 MU over 50,000 windows: DSPOT's drift follows
 * it and its alarms stay near q (bound 3q = 150; measured 51), while SPOT,
 * which only sees more and larger peaks, raises its threshold too late and
 * flags over ten times as many (measured 1893). Then a step fault of +20 MU for
 * 200 windows: DSPOT flags every one and learns none (state unchanged), and
 * once it ends the alarms stop. */
static void test_dspot_drift_and_fault(void)
{
	static float buf[2][THR_MAX_PEAKS + THR_MAX_DEPTH];
	thr_params p[2];
	thr_state s[2], before;
	int alarms[2] = {0, 0};
	uint64_t seed = 91;
	const int n = 50000;

	make_calib(90);
	fit_kind(&p[0], THR_SPOT, 1e-3f);
	fit_kind(&p[1], THR_DSPOT, 1e-3f);
	thr_init_with(&s[0], &p[0], buf[0]);
	thr_init_with(&s[1], &p[1], buf[1]);
	for (int i = 0; i < n; i++) {
		float x = trng_exp(&seed, MU) + (float)(10.0 * MU * i / n);
		for (int k = 0; k < 2; k++)
			alarms[k] += thr_update(&s[k], &p[k], x);
	}
	CU_ASSERT(alarms[1] <= 150);
	CU_ASSERT(alarms[0] >= 10 * alarms[1] && alarms[0] >= 500);
	CU_ASSERT_DOUBLE_EQUAL(s[1].level / (11.0 * MU), 1.0, 0.15);

	float saved[THR_MAX_PEAKS + THR_MAX_DEPTH];
	size_t nb = thr_state_floats(&p[1]) * sizeof(float);
	memcpy(&before, &s[1], sizeof before);
	memcpy(saved, buf[1], nb);
	int flagged = 0;
	for (int i = 0; i < 200; i++)
		flagged += thr_update(&s[1], &p[1], trng_exp(&seed, MU) + (float)(30.0 * MU));
	CU_ASSERT_EQUAL(flagged, 200);
	CU_ASSERT_EQUAL(memcmp(&before, &s[1], sizeof before), 0);
	CU_ASSERT_EQUAL(memcmp(saved, buf[1], nb), 0);
	flagged = 0;
	for (int i = 0; i < 1000; i++)
		flagged += thr_update(&s[1], &p[1], trng_exp(&seed, MU) + (float)(10.0 * MU));
	CU_ASSERT(flagged <= 10);
}

/* Flagged and non-finite scores leave every kind's state and history as is. */
static void test_alarms_not_learned(void)
{
	static float buf[THR_MAX_PEAKS + THR_MAX_DEPTH], saved[THR_MAX_PEAKS + THR_MAX_DEPTH];
	const float bad[] = {1.0f, 1e30f, INFINITY, -INFINITY, NAN};
	thr_params p;
	thr_state s, before;
	uint64_t seed = 101;

	make_calib(100);
	for (thr_kind k = THR_STATIC; k <= THR_DSPOT; k++) {
		fit_kind(&p, k, 1e-3f);
		thr_init_with(&s, &p, buf);
		for (int i = 0; i < 3000; i++)
			thr_update(&s, &p, trng_exp(&seed, MU));
		size_t nb = thr_state_floats(&p) * sizeof(float);
		for (size_t i = 0; i <= sizeof bad / sizeof bad[0]; i++) {
			float score = i < sizeof bad / sizeof bad[0] ? bad[i] : s.value;
			memcpy(&before, &s, sizeof s);
			memcpy(saved, buf, nb);
			CU_ASSERT_TRUE(thr_update(&s, &p, score));
			CU_ASSERT_EQUAL(memcmp(&before, &s, sizeof s), 0);
			CU_ASSERT_EQUAL(memcmp(saved, buf, nb), 0);
		}
	}
}

/* A device twice as noisy as the calibration: at SPOT's starting threshold
 * (6.9 MU) its rate is exp(-3.45) = 3.2%. SPOT counts the device's own
 * peaks and normal windows, so its threshold rises: after 200,000 windows
 * ~26,000 of ~296,000 scores are peaks, z = t + sigma ln(N_t / (q n))
 * ~ 3.9 MU + MU ln(88) = 8.4 MU (sigma stays the calibration's: its peaks
 * outweigh the ring), a rate of exp(-4.2) = 1.5%. Bound over the second
 * 100,000 windows: under 2,400 alarms (3/4 of the starting rate). */
static void test_spot_adapts_to_device(void)
{
	thr_params p;
	thr_state s;
	uint64_t seed = 111;
	int alarms = 0;

	make_calib(110);
	fit_kind(&p, THR_SPOT, 1e-3f);
	float z0 = thr_initial(&p);
	stream_alarms(&p, 0, seed, 0, &s);
	for (int i = 0; i < 200000; i++) {
		int a = thr_update(&s, &p, trng_exp(&seed, 2.0 * MU));
		if (i >= 100000)
			alarms += a;
	}
	CU_ASSERT(s.value > 1.15f * z0);
	CU_ASSERT(alarms < 2400);
	CU_ASSERT(s.n_peaks > 5000);
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
	TEST_ADD(s, test_fit_validation);
	TEST_ADD(s, test_state_sizes);
	TEST_ADD(s, test_spot_exponential_threshold);
	TEST_ADD(s, test_spot_false_alarm_rate);
	TEST_ADD(s, test_ewma_step_and_rate);
	TEST_ADD(s, test_dspot_drift_and_fault);
	TEST_ADD(s, test_alarms_not_learned);
	TEST_ADD(s, test_spot_adapts_to_device);
}
