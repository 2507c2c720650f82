/* test_dpacct.c - the RDP accountant against an independent computation
 * (tests/gen_dp_fixture.py integrates the definition; dpacct.c sums the
 * binomial expansion), closed forms, the published figure of Abadi et al.
 * 2016, and DP-FedAvg's noise in fed_aggregate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "fixtures/dp_reference.h"
#include "iotad/dpacct.h"
#include "iotad/fedavg.h"
#include "iotad/nn.h"
#include "iotad/train.h"
#include "test.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void test_rdp_against_integral(void)
{
	for (size_t i = 0; i < N_OF(dp_ref_rdp); i++) {
		double got = dp_rdp_sgm(dp_ref_rdp[i].q, dp_ref_rdp[i].z, dp_ref_rdp[i].alpha);
		double want = dp_ref_rdp[i].rdp;
		CU_ASSERT(fabs(got - want) <= 1e-7 * want + 1e-15);
	}
}

static void test_epsilon_against_integral(void)
{
	for (size_t i = 0; i < N_OF(dp_ref_eps); i++) {
		int order = 0;
		double e = dp_epsilon(dp_ref_eps[i].q, dp_ref_eps[i].z, dp_ref_eps[i].steps,
				      dp_ref_eps[i].delta, &order);
		CU_ASSERT(fabs(e - dp_ref_eps[i].eps) <= 1e-6 * dp_ref_eps[i].eps);
		CU_ASSERT_EQUAL(order, dp_ref_eps[i].order);
	}
}

static void test_published_and_closed_forms(void)
{
	/* Abadi et al. 2016: q 0.01, sigma 4, 10,000 steps: (1.26, 1e-5) */
	double e = dp_epsilon(0.01, 4, 10000, 1e-5, NULL);
	CU_ASSERT(fabs(e - 1.26) < 0.01);
	/* the Gaussian mechanism (q = 1): RDP alpha / (2 z^2); T steps at order a:
	 * T a / (2 z^2) + log(1/delta) / (a - 1) */
	CU_ASSERT_DOUBLE_EQUAL(dp_rdp_sgm(1, 3, 7), 7.0 / 18.0, 1e-12);
	int order;
	e = dp_epsilon(1, 2, 20, 1e-5, &order);
	CU_ASSERT_DOUBLE_EQUAL(e, 20.0 * order / 8.0 + log(1e5) / (order - 1), 1e-9);
	/* order 2 in closed form: log(1 + q^2 (e^(1/z^2) - 1)) */
	CU_ASSERT_DOUBLE_EQUAL(dp_rdp_sgm(0.3, 1.5, 2), log(1 + 0.09 * (exp(1 / 2.25) - 1)), 1e-12);
	/* more noise, fewer steps, less sampling: less epsilon */
	CU_ASSERT(dp_epsilon(0.01, 2, 1000, 1e-5, NULL) > dp_epsilon(0.01, 4, 1000, 1e-5, NULL));
	CU_ASSERT(dp_epsilon(0.01, 2, 1000, 1e-5, NULL) > dp_epsilon(0.01, 2, 100, 1e-5, NULL));
	CU_ASSERT(dp_epsilon(0.1, 2, 1000, 1e-5, NULL) > dp_epsilon(0.01, 2, 1000, 1e-5, NULL));
	/* composition adds: two halves make the whole */
	dp_acct a;
	dp_acct_init(&a);
	CU_ASSERT_EQUAL(dp_acct_add(&a, 0.01, 4, 5000), 0);
	CU_ASSERT_EQUAL(dp_acct_add(&a, 0.01, 4, 5000), 0);
	CU_ASSERT_DOUBLE_EQUAL(dp_acct_epsilon(&a, 1e-5, NULL),
			       dp_epsilon(0.01, 4, 10000, 1e-5, NULL), 1e-9);
}

static void test_edges(void)
{
	CU_ASSERT(isinf(dp_epsilon(0.01, 0, 10, 1e-5, NULL)));   /* no noise: no bound */
	CU_ASSERT_DOUBLE_EQUAL(dp_rdp_sgm(0, 1, 4), 0, 0);         /* never sampled */
	CU_ASSERT(isnan(dp_rdp_sgm(1.5, 1, 4)));
	CU_ASSERT(isnan(dp_rdp_sgm(0.5, -1, 4)));
	CU_ASSERT(isnan(dp_rdp_sgm(0.5, 1, 1)));
	CU_ASSERT(isnan(dp_rdp_sgm(0.5, 1, DP_MAX_ORDER + 1)));
	CU_ASSERT(isnan(dp_epsilon(0.5, 1, 10, 0, NULL)));
	CU_ASSERT(isnan(dp_epsilon(0.5, 1, 10, 1, NULL)));
	dp_acct a;
	dp_acct_init(&a);
	CU_ASSERT_EQUAL(dp_acct_add(&a, 0.5, NAN, 1), -1);
	CU_ASSERT_EQUAL(dp_acct_add(&a, -0.1, 1, 1), -1);
	/* small noise and large orders stay finite (log space) */
	CU_ASSERT(isfinite(dp_rdp_sgm(0.5, 0.3, DP_MAX_ORDER)));
	CU_ASSERT(isfinite(dp_epsilon(0.5, 0.3, 1000, 1e-5, NULL)));
}

/* DP-FedAvg: with every update the same, the mean is that update plus
 * N(0, (z clip / k)^2) per coordinate. */
static void test_fedavg_noise(void)
{
	enum { N = 20000, K = 4 };
	float *g = calloc(N, sizeof *g), *p = malloc(N * sizeof *p), *out = malloc(N * sizeof *out);
	for (int i = 0; i < N; i++)
		p[i] = 1e-4f;   /* L2 norm 0.0141: under the clip */
	fed_client c[K];
	for (int j = 0; j < K; j++)
		c[j] = (fed_client){p, N, (uint64_t)(j + 1) * 100};
	fed_opts o;
	fed_opts_default(&o);
	o.clip = 0.5f;
	o.noise = 2.0f;
	o.noise_seed = 9;
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K, &o, out, NULL, NULL, 0), IOTAD_OK);
	double m = 0, v = 0;
	for (int i = 0; i < N; i++)
		m += out[i] - 1e-4;
	m /= N;
	for (int i = 0; i < N; i++)
		v += (out[i] - 1e-4 - m) * (out[i] - 1e-4 - m);
	double sd = sqrt(v / (N - 1)), want = 2.0 * 0.5 / K;
	CU_ASSERT(fabs(m) < 4 * want / sqrt(N));
	CU_ASSERT(fabs(sd - want) < 0.03 * want);
	/* the same seed draws the same noise; another seed other noise */
	float *again = malloc(N * sizeof *again);
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K, &o, again, NULL, NULL, 0), IOTAD_OK);
	CU_ASSERT_EQUAL(memcmp(out, again, N * sizeof *out), 0);
	o.noise_seed = 10;
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K, &o, again, NULL, NULL, 0), IOTAD_OK);
	CU_ASSERT_NOT_EQUAL(memcmp(out, again, N * sizeof *out), 0);
	/* noise needs the mean and a clip */
	char err[160];
	o.clip = 0;
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K, &o, out, NULL, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "noise"));
	o.clip = 0.5f;
	o.rule = FED_MEDIAN;
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K, &o, out, NULL, err, sizeof err), IOTAD_ERR_INVAL);
	o.rule = FED_MEAN;
	o.noise = -1;
	CU_ASSERT_EQUAL(fed_aggregate(g, N, c, K, &o, out, NULL, err, sizeof err), IOTAD_ERR_INVAL);
	free(g);
	free(p);
	free(out);
	free(again);
}

/* DP-SGD in train_fit: a clip no gradient reaches and no noise train as
 * without DP; noise is seeded (same seed, same network); a tight clip with
 * noise still trains to a finite loss; bad options are refused. */
static void test_dp_sgd(void)
{
	enum { N = 200, D = 8 };
	float *x = malloc(N * D * sizeof *x);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < D; j++)
			x[i * D + j] = 0.5f + 0.4f * (float)sin(0.3 * i + j);
	int sizes[3] = {D, 3, D};
	nn_act act[2] = {NN_RELU, NN_SIGMOID};
	nn a, b, c;
	CU_ASSERT_EQUAL_FATAL(nn_init(&a, 2, sizes, act), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(nn_init(&b, 2, sizes, act), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(nn_init(&c, 2, sizes, act), IOTAD_OK);
	nn_init_weights(&a, 3);
	memcpy(b.params, a.params, a.n_params * sizeof *a.params);
	memcpy(c.params, a.params, a.n_params * sizeof *a.params);
	train_opts o;
	train_opts_default(&o);
	o.epochs = 3;
	o.batch = 16;
	CU_ASSERT_EQUAL(train_fit(&a, x, N, &o, NULL), IOTAD_OK);
	o.dp_clip = 1e6f;
	CU_ASSERT_EQUAL(train_fit(&b, x, N, &o, NULL), IOTAD_OK);
	double worst = 0;
	for (size_t p = 0; p < a.n_params; p++)
		worst = fmax(worst, fabs((double)a.params[p] - b.params[p]));
	CU_ASSERT(worst < 1e-6);
	/* noise: seeded */
	nn_init_weights(&a, 3);
	memcpy(b.params, a.params, a.n_params * sizeof *a.params);
	memcpy(c.params, a.params, a.n_params * sizeof *a.params);
	o.dp_clip = 0.05f;
	o.dp_noise = 1.0f;
	o.dp_seed = 7;
	train_report rep;
	CU_ASSERT_EQUAL(train_fit(&a, x, N, &o, &rep), IOTAD_OK);
	CU_ASSERT(isfinite(rep.final_loss));
	CU_ASSERT_EQUAL(train_fit(&b, x, N, &o, NULL), IOTAD_OK);
	CU_ASSERT_EQUAL(memcmp(a.params, b.params, a.n_params * sizeof *a.params), 0);
	o.dp_seed = 8;
	CU_ASSERT_EQUAL(train_fit(&c, x, N, &o, NULL), IOTAD_OK);
	CU_ASSERT_NOT_EQUAL(memcmp(a.params, c.params, a.n_params * sizeof *a.params), 0);
	o.dp_noise = NAN;
	CU_ASSERT_EQUAL(train_fit(&c, x, N, &o, NULL), IOTAD_ERR_INVAL);
	o.dp_noise = 1;
	o.dp_clip = -1;
	CU_ASSERT_EQUAL(train_fit(&c, x, N, &o, NULL), IOTAD_ERR_INVAL);
	nn_free(&a);
	nn_free(&b);
	nn_free(&c);
	free(x);
}

void init_dpacct_tests(void)
{
	CU_pSuite s = CU_add_suite("dpacct", NULL, NULL);
	TEST_ADD(s, test_rdp_against_integral);
	TEST_ADD(s, test_epsilon_against_integral);
	TEST_ADD(s, test_published_and_closed_forms);
	TEST_ADD(s, test_edges);
	TEST_ADD(s, test_fedavg_noise);
	TEST_ADD(s, test_dp_sgd);
}
