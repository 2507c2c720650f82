/* test_fedavg.c - aggregation: closed-form FedAvg, median and trimmed mean
 * on hand values, L2 clipping, a poisoned client against the robust rules,
 * and the refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "iotad/fedavg.h"
#include "test.h"
#include "test_rng.h"

#define EQ(a, b) CU_ASSERT_DOUBLE_EQUAL((a), (b), 1e-6)

static fed_opts opts(fed_rule rule, float trim, float clip)
{
	fed_opts o;
	fed_opts_default(&o);
	o.rule = rule;
	o.trim = trim;
	o.clip = clip;
	return o;
}

static void test_fedavg_weighted(void)
{
	/* global 0; client a = (1, 2, 3) with 100 windows, b = (4, 8, -3) with 300:
	 * (100 a + 300 b) / 400 = (3.25, 6.5, -1.5) */
	const float g[3] = {0, 0, 0}, a[3] = {1, 2, 3}, b[3] = {4, 8, -3};
	fed_client c[2] = {{a, 3, 100}, {b, 3, 300}};
	fed_opts o = opts(FED_MEAN, 0, 0);
	float out[3];
	fed_report rep;
	CU_ASSERT_EQUAL(fed_aggregate(g, 3, c, 2, &o, out, &rep, NULL, 0), IOTAD_OK);
	EQ(out[0], 3.25);
	EQ(out[1], 6.5);
	EQ(out[2], -1.5);
	CU_ASSERT_EQUAL(rep.n_clipped, 0);
	EQ(rep.step_norm, sqrt(3.25 * 3.25 + 6.5 * 6.5 + 1.5 * 1.5));
	/* around a non-zero global the result is the same weighted mean of the models */
	const float g2[3] = {10, -10, 1};
	CU_ASSERT_EQUAL(fed_aggregate(g2, 3, c, 2, &o, out, NULL, NULL, 0), IOTAD_OK);
	EQ(out[0], 3.25);
	EQ(out[1], 6.5);
	EQ(out[2], -1.5);
}

static void test_median_trimmed_hand(void)
{
	/* five clients, one coordinate: 1, 7, 3, 100, 5 */
	const float g[1] = {0};
	const float v[5][1] = {{1}, {7}, {3}, {100}, {5}};
	fed_client c[5];
	for (int i = 0; i < 5; i++)
		c[i] = (fed_client){v[i], 1, (uint64_t)(i + 1)};
	float out[1];
	fed_opts o = opts(FED_MEDIAN, 0, 0);
	CU_ASSERT_EQUAL(fed_aggregate(g, 1, c, 5, &o, out, NULL, NULL, 0), IOTAD_OK);
	EQ(out[0], 5); /* sorted 1 3 5 7 100 */
	CU_ASSERT_EQUAL(fed_aggregate(g, 1, c, 4, &o, out, NULL, NULL, 0), IOTAD_OK);
	EQ(out[0], 5); /* 1 3 7 100: mean of 3 and 7 */
	o = opts(FED_TRIMMED, 0.2f, 0);
	CU_ASSERT_EQUAL(fed_aggregate(g, 1, c, 5, &o, out, NULL, NULL, 0), IOTAD_OK);
	EQ(out[0], 5); /* drop 1 and 100: (3 + 5 + 7) / 3 */
	o.trim = 0.0f;
	CU_ASSERT_EQUAL(fed_aggregate(g, 1, c, 5, &o, out, NULL, NULL, 0), IOTAD_OK);
	EQ(out[0], 116.0 / 5); /* nothing cut: the plain mean */
	o.trim = 0.19f; /* floor(0.19 * 5) = 0: still nothing cut */
	CU_ASSERT_EQUAL(fed_aggregate(g, 1, c, 5, &o, out, NULL, NULL, 0), IOTAD_OK);
	EQ(out[0], 116.0 / 5);
}

static void test_clipping(void)
{
	/* update (3, 4) has norm 5; clip 1 scales it to (0.6, 0.8) */
	const float g[2] = {1, 1}, a[2] = {4, 5}, b[2] = {1.3f, 1.4f};
	fed_client c[2] = {{a, 2, 1}, {b, 2, 1}};
	fed_opts o = opts(FED_MEAN, 0, 1.0f);
	float out[2];
	fed_report rep;
	CU_ASSERT_EQUAL(fed_aggregate(g, 2, c, 1, &o, out, &rep, NULL, 0), IOTAD_OK);
	EQ(out[0], 1.6);
	EQ(out[1], 1.8);
	CU_ASSERT_EQUAL(rep.n_clipped, 1);
	EQ(rep.max_norm, 5.0);
	EQ(fed_l2_dist(out, g, 2), 1.0);
	/* b's update (0.3, 0.4) has norm 0.5: untouched; the mean of both */
	CU_ASSERT_EQUAL(fed_aggregate(g, 2, c, 2, &o, out, &rep, NULL, 0), IOTAD_OK);
	CU_ASSERT_EQUAL(rep.n_clipped, 1);
	EQ(out[0], 1 + (0.6 + 0.3) / 2);
	EQ(out[1], 1 + (0.8 + 0.4) / 2);
}

/* Nine honest clients around a common target, one poisoned with its update
 * times 10 (or noise): the robust rules stay near the honest mean, the plain
 * mean does not, and clipping bounds the damage of the plain mean. */
static void test_poisoned_client(void)
{
	enum { N = 200, K = 10 };
	static float g[N], target[N], cl[K][N], honest[N], out[N];
	uint64_t r = 42;
	for (int i = 0; i < N; i++) {
		g[i] = (float)trng_normal(&r);
		target[i] = g[i] + 0.1f * (float)trng_normal(&r);
	}
	fed_client c[K];
	for (int j = 0; j < K; j++) {
		for (int i = 0; i < N; i++) {
			float up = target[i] - g[i] + 0.01f * (float)trng_normal(&r);
			cl[j][i] = g[i] + (j == K - 1 ? 10 * up : up);
		}
		c[j] = (fed_client){cl[j], N, 100};
	}
	fed_opts o = opts(FED_MEAN, 0, 0);
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K - 1, &o, honest, NULL, NULL, 0), IOTAD_OK);
	double honest_step = fed_l2_dist(honest, g, N);
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K, &o, out, NULL, NULL, 0), IOTAD_OK);
	double mean_err = fed_l2_dist(out, honest, N);
	CU_ASSERT(mean_err > 0.5 * honest_step); /* the plain mean is moved a lot */
	o = opts(FED_MEDIAN, 0, 0);
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K, &o, out, NULL, NULL, 0), IOTAD_OK);
	CU_ASSERT(fed_l2_dist(out, honest, N) < 0.1 * honest_step);
	o = opts(FED_TRIMMED, 0.1f, 0);
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K, &o, out, NULL, NULL, 0), IOTAD_OK);
	CU_ASSERT(fed_l2_dist(out, honest, N) < 0.1 * honest_step);
	/* clipping every update to the honest length bounds the poisoned one */
	o = opts(FED_MEAN, 0, (float)(1.1 * honest_step));
	fed_report rep;
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K, &o, out, &rep, NULL, 0), IOTAD_OK);
	CU_ASSERT_EQUAL(rep.n_clipped, 1);
	CU_ASSERT(fed_l2_dist(out, honest, N) < 0.25 * mean_err);
	/* noise instead of a scaled update: the median still holds */
	for (int i = 0; i < N; i++)
		cl[K - 1][i] = g[i] + 5.0f * (float)trng_normal(&r);
	o = opts(FED_MEDIAN, 0, 0);
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K, &o, out, NULL, NULL, 0), IOTAD_OK);
	CU_ASSERT(fed_l2_dist(out, honest, N) < 0.2 * honest_step);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median and trimmed mean (selection, not sorting) against a sort of every
 * column, for 1..40 clients with ties (values on a coarse grid). */
static void test_robust_against_sort(void)
{
	enum { N = 7, KMAX = 40 };
	static float cl[KMAX][N];
	const float g[N] = {0};
	float out[N];
	uint64_t r = 3;
	int bad = 0;
	for (int k = 1; k <= KMAX; k++) {
		fed_client c[KMAX];
		for (int j = 0; j < k; j++) {
			for (int i = 0; i < N; i++)
				cl[j][i] = (float)floor(trng_unit(&r) * 8) - 4; /* many ties */
			c[j] = (fed_client){cl[j], N, 1};
		}
		for (int rule = 0; rule < 2; rule++) {
			fed_opts o = opts(rule ? FED_TRIMMED : FED_MEDIAN, 0.3f, 0);
			CU_ASSERT_EQUAL(fed_aggregate(g, N, c, (size_t)k, &o, out, NULL, NULL, 0), IOTAD_OK);
			size_t cut = (size_t)floor(0.3 * k);
			for (int i = 0; i < N; i++) {
				double col[KMAX], want = 0;
				for (int j = 0; j < k; j++)
					col[j] = cl[j][i];
				qsort(col, (size_t)k, sizeof col[0], cmp_dbl);
				if (!rule) {
					want = k % 2 ? col[k / 2] : 0.5 * (col[k / 2 - 1] + col[k / 2]);
				} else {
					for (size_t j = cut; j < (size_t)k - cut; j++)
						want += col[j];
					want /= (double)((size_t)k - 2 * cut);
				}
				bad += fabs(out[i] - want) > 1e-5;
			}
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_refusals(void)
{
	const float g[2] = {0, 0}, a[2] = {1, 1}, nan2[2] = {NAN, 0}, inf2[2] = {0, INFINITY};
	float out[2] = {7, 7};
	char err[200];
	fed_opts o = opts(FED_MEAN, 0, 0);
	fed_client c[2] = {{a, 2, 1}, {a, 2, 1}};

	CU_ASSERT_EQUAL(fed_aggregate(g, 2, c, 0, &o, out, NULL, err, sizeof err), IOTAD_ERR_INVAL);
	c[1] = (fed_client){nan2, 2, 1};
	CU_ASSERT_EQUAL(fed_aggregate(g, 2, c, 2, &o, out, NULL, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "client 1: parameter 0 is not finite"));
	c[1] = (fed_client){inf2, 2, 1};
	CU_ASSERT_EQUAL(fed_aggregate(g, 2, c, 2, &o, out, NULL, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "parameter 1"));
	c[1] = (fed_client){a, 1, 1};
	CU_ASSERT_EQUAL(fed_aggregate(g, 2, c, 2, &o, out, NULL, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "client 1: 1 parameters, the model has 2"));
	c[1] = (fed_client){a, 2, 0};
	CU_ASSERT_EQUAL(fed_aggregate(g, 2, c, 2, &o, out, NULL, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "weight 0"));
	c[1] = (fed_client){a, 2, 1};
	CU_ASSERT_EQUAL(fed_aggregate(nan2, 2, c, 2, &o, out, NULL, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "global model"));
	o.rule = FED_TRIMMED;
	o.trim = 0.5f;
	CU_ASSERT_EQUAL(fed_aggregate(g, 2, c, 2, &o, out, NULL, err, sizeof err), IOTAD_ERR_INVAL);
	o = opts(FED_MEAN, 0, -1);
	CU_ASSERT_EQUAL(fed_aggregate(g, 2, c, 2, &o, out, NULL, err, sizeof err), IOTAD_ERR_INVAL);
	o = opts(FED_MEAN, 0, 0);
	CU_ASSERT_EQUAL(fed_aggregate(g, 2, c, 2, &o, (float *)g, NULL, err, sizeof err),
			IOTAD_ERR_INVAL);
	EQ(out[0], 7); /* a refusal writes nothing */
	fed_rule r;
	CU_ASSERT_EQUAL(fed_rule_parse("median", &r), 0);
	CU_ASSERT_EQUAL(r, FED_MEDIAN);
	CU_ASSERT_EQUAL(fed_rule_parse("avg", &r), -1);
	CU_ASSERT_STRING_EQUAL(fed_rule_name(FED_TRIMMED), "trimmed");
}

void init_fedavg_tests(void)
{
	CU_pSuite s = CU_add_suite("fedavg", NULL, NULL);
	TEST_ADD(s, test_fedavg_weighted);
	TEST_ADD(s, test_median_trimmed_hand);
	TEST_ADD(s, test_clipping);
	TEST_ADD(s, test_poisoned_client);
	TEST_ADD(s, test_robust_against_sort);
	TEST_ADD(s, test_refusals);
}
