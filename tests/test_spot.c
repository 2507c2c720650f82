/* test_spot.c - unit tests of the GPD tail fit and its quantile against
 * closed forms: GPD samples of known (gamma, sigma), exponential and
 * Pareto-tailed scores of known quantile. */
#include <math.h>
#include <stdlib.h>

#include "iotad/spot.h"
#include "test.h"
#include "test_rng.h"

#define NS 100000

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Peaks-over-threshold estimate of the (1 - q) quantile of x[0..n) (sorted
 * in place): t = the 98% empirical quantile, GPD fitted on the excesses. */
static double pot_quantile(float *x, int n, double q, spot_gpd *g)
{
	int it = (int)(0.98 * n), np = 0;
	float t;

	qsort(x, (size_t)n, sizeof *x, cmp_float);
	t = x[it];
	for (int i = it; i < n; i++) {
		if (x[i] > t)
			x[np++] = x[i] - t;
	}
	spot_peaks pk = {.y = x, .n = np};
	CU_ASSERT_EQUAL_FATAL(spot_fit(&pk, g), IOTAD_OK);
	return spot_quantile(g, t, q, n, np);
}

/* 20,000 GPD samples: the standard error of the MLE is about
 * (1 + gamma) / sqrt(n) ~ 0.009 for gamma and ~1% for sigma; the bounds
 * (0.04 and 4%) are more than 4 standard errors. */
static void test_fit_recovers_gpd(void)
{
	const double gammas[] = {0.0, 0.25, -0.2, 0.5};
	static float y[20000];

	for (size_t k = 0; k < sizeof gammas / sizeof gammas[0]; k++) {
		uint64_t seed = 100 + k;
		spot_gpd g;
		for (int i = 0; i < 20000; i++)
			y[i] = trng_gpd(&seed, gammas[k], 2.0);
		spot_peaks pk = {.y = y, .n = 20000};
		CU_ASSERT_EQUAL(spot_fit(&pk, &g), IOTAD_OK);
		CU_ASSERT_DOUBLE_EQUAL(g.gamma, gammas[k], 0.04);
		CU_ASSERT_DOUBLE_EQUAL(g.sigma / 2.0, 1.0, 0.04);
	}
}

/* 100,000 scores ~ Exp(mean 0.01): P(X > z) = q  <=>  z = -ln(q) * 0.01.
 * Over 200 seeds z / exact had a standard deviation of 1.1% at q = 1e-3 and
 * 2.6% at q = 1e-4 (the 2,000 peaks fix sigma to ~2%, gamma's error grows
 * with the extrapolation from 2% to q); bounds 5% and 10% are ~4 sd. */
static void test_exponential_quantile(void)
{
	static float x[NS];
	const double q[] = {1e-3, 1e-4}, tol[] = {0.05, 0.10};

	for (uint64_t seed = 1; seed <= 5; seed++) {
		for (size_t k = 0; k < 2; k++) {
			uint64_t s = seed;
			spot_gpd g;
			for (int i = 0; i < NS; i++)
				x[i] = trng_exp(&s, 0.01);
			double z = pot_quantile(x, NS, q[k], &g);
			CU_ASSERT(fabs(g.gamma) < 0.1);
			CU_ASSERT_DOUBLE_EQUAL(z / (-log(q[k]) * 0.01), 1.0, tol[k]);
		}
	}
}

/* Pareto-tailed scores (GPD from 0, gamma 0.2, sigma 1): the quantile is
 * z = (q^-0.2 - 1) / 0.2 exactly, and the tail above the 98% quantile is
 * GPD with the same gamma. Over 200 seeds z / exact had a standard
 * deviation of 2.1% at q = 1e-3: bound 10%; gamma's is ~0.03: bound 0.12. */
static void test_pareto_quantile(void)
{
	static float x[NS];
	const double q = 1e-3, want = (pow(q, -0.2) - 1.0) / 0.2;

	for (uint64_t seed = 7; seed <= 11; seed++) {
		uint64_t s = seed;
		spot_gpd g;
		for (int i = 0; i < NS; i++)
			x[i] = trng_gpd(&s, 0.2, 1.0);
		double z = pot_quantile(x, NS, q, &g);
		CU_ASSERT_DOUBLE_EQUAL(g.gamma, 0.2, 0.12);
		CU_ASSERT_DOUBLE_EQUAL(z / want, 1.0, 0.15);
	}
}

/* Weight 3 on every value is the same fit as each value three times, and a
 * set split in two parts is the same fit as the whole. */
static void test_weights_and_parts(void)
{
	float y[300], w[100];
	spot_gpd a, b, c;
	uint64_t s = 5;

	for (int i = 0; i < 100; i++) {
		y[i] = y[i + 100] = y[i + 200] = trng_gpd(&s, 0.3, 1.0);
		w[i] = 3.0f;
	}
	spot_peaks all = {.y = y, .n = 300};
	spot_peaks weighted = {.y = y, .w = w, .n = 100};
	spot_peaks parts = {.y = y, .n = 120, .y2 = y + 120, .n2 = 180};
	CU_ASSERT_EQUAL(spot_fit(&all, &a), IOTAD_OK);
	CU_ASSERT_EQUAL(spot_fit(&weighted, &b), IOTAD_OK);
	CU_ASSERT_EQUAL(spot_fit(&parts, &c), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(a.gamma, b.gamma, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(a.sigma, b.sigma, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(a.gamma, c.gamma, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(a.sigma, c.sigma, 1e-6);
	CU_ASSERT(a.gamma > 0.0);
}

static void test_fit_rejects(void)
{
	const float good[] = {1.0f, 2.0f}, zero[] = {1.0f, 0.0f}, nan[] = {1.0f, NAN};
	const float badw[] = {1.0f, -1.0f};
	spot_gpd g;
	spot_peaks pk = {0};

	CU_ASSERT_EQUAL(spot_fit(&pk, &g), IOTAD_ERR_INVAL);            /* empty */
	CU_ASSERT_EQUAL(spot_fit(NULL, &g), IOTAD_ERR_INVAL);
	pk = (spot_peaks){.y = good, .n = 2};
	CU_ASSERT_EQUAL(spot_fit(&pk, NULL), IOTAD_ERR_INVAL);
	pk = (spot_peaks){.y = zero, .n = 2};
	CU_ASSERT_EQUAL(spot_fit(&pk, &g), IOTAD_ERR_INVAL);
	pk = (spot_peaks){.y2 = nan, .n2 = 2};
	CU_ASSERT_EQUAL(spot_fit(&pk, &g), IOTAD_ERR_INVAL);
	pk = (spot_peaks){.y = good, .w = badw, .n = 2};
	CU_ASSERT_EQUAL(spot_fit(&pk, &g), IOTAD_ERR_INVAL);
	/* equal peaks: the exponential of their mean */
	pk = (spot_peaks){.y = good, .n = 1, .y2 = good, .n2 = 1};
	CU_ASSERT_EQUAL(spot_fit(&pk, &g), IOTAD_OK);
	CU_ASSERT_EQUAL(g.gamma, 0.0);
	CU_ASSERT_EQUAL(g.sigma, 1.0);
}

static void test_quantile_closed_form(void)
{
	spot_gpd e = {0.0, 2.0}, p = {0.5, 1.0}, n = {-0.5, 1.0};

	/* q n / n_peaks = 1e-3 * 1000 / 10 = 0.1 */
	CU_ASSERT_DOUBLE_EQUAL(spot_quantile(&e, 1.0, 1e-3, 1000, 10), 1.0 + 2.0 * log(10.0), 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(spot_quantile(&p, 1.0, 1e-3, 1000, 10),
			       1.0 + (pow(0.1, -0.5) - 1.0) / 0.5, 1e-12);
	/* bounded tail: never beyond t + sigma / |gamma| */
	CU_ASSERT_DOUBLE_EQUAL(spot_quantile(&n, 1.0, 1e-3, 1000, 10),
			       1.0 + (pow(0.1, 0.5) - 1.0) / -0.5, 1e-12);
	CU_ASSERT(spot_quantile(&n, 1.0, 1e-30, 1000, 10) < 3.0);
	/* risk above the peak rate: not below t */
	CU_ASSERT_EQUAL(spot_quantile(&e, 1.0, 0.5, 1000, 10), 1.0);
	CU_ASSERT(isinf(spot_quantile(&e, 1.0, 1e-3, 1000, 0)));
	CU_ASSERT(isinf(spot_quantile(&e, 1.0, 0.0, 1000, 10)));
	p.gamma = 50.0;
	CU_ASSERT(isinf(spot_quantile(&p, 1.0, 1e-30, 1000, 10)));
}

/* Following the previous root after one more peak gives the full fit. */
static void test_refit_follows(void)
{
	static float y[2050];
	const double gammas[] = {0.3, -0.2, 0.05};

	for (size_t k = 0; k < 3; k++) {
		uint64_t s = 200 + k;
		spot_gpd a, b;
		for (int i = 0; i < 2050; i++)
			y[i] = trng_gpd(&s, gammas[k], 1.0);
		spot_peaks pk = {.y = y, .n = 2000};
		CU_ASSERT_EQUAL_FATAL(spot_fit(&pk, &b), IOTAD_OK);
		for (int i = 0; i < 50; i++) {  /* peaks added one by one */
			pk.y2 = y + 2000;
			pk.n2 = i + 1;
			CU_ASSERT_EQUAL(spot_refit(&pk, &b), IOTAD_OK);
		}
		CU_ASSERT_EQUAL(spot_fit(&pk, &a), IOTAD_OK);
		CU_ASSERT_DOUBLE_EQUAL(b.gamma, a.gamma, 1e-6);
		CU_ASSERT_DOUBLE_EQUAL(b.sigma / a.sigma, 1.0, 1e-6);
	}
}

void init_spot_tests(void)
{
	CU_pSuite s = CU_add_suite("spot", NULL, NULL);
	TEST_ADD(s, test_fit_recovers_gpd);
	TEST_ADD(s, test_exponential_quantile);
	TEST_ADD(s, test_pareto_quantile);
	TEST_ADD(s, test_weights_and_parts);
	TEST_ADD(s, test_refit_follows);
	TEST_ADD(s, test_fit_rejects);
	TEST_ADD(s, test_quantile_closed_form);
}
