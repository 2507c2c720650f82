/* test_fedcal.c - thresholds and personalization on a gateway's held-out
 * windows (fedcal.h), and the threshold messages (fedcalmsg.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "iotad/aggcal.h"
#include "iotad/fedcal.h"
#include "iotad/fedcalmsg.h"
#include "test.h"

static void test_percentile_and_quantiles(void)
{
	float s[5] = {1, 2, 3, 4, 5}, q[FEDCAL_NQ];
	CU_ASSERT_DOUBLE_EQUAL(fedcal_percentile(s, 5, 100), 5, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(fedcal_percentile(s, 5, 50), 3, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(fedcal_percentile(s, 5, 90), 4.6, 1e-5);
	CU_ASSERT_DOUBLE_EQUAL(fedcal_percentile(s, 0, 99), FEDCAL_MIN_THRESHOLD, 1e-12);
	fedcal_quantiles(s, 5, q);
	CU_ASSERT_DOUBLE_EQUAL(q[0], 1, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(q[3], 3, 1e-6);       /* level 0.5 */
	CU_ASSERT_DOUBLE_EQUAL(q[FEDCAL_NQ - 1], 5, 1e-6);
	CU_ASSERT(fedcal_summary_valid(q));
	q[4] = q[3] - 1;
	CU_ASSERT_FALSE(fedcal_summary_valid(q));
	q[4] = NAN;
	CU_ASSERT_FALSE(fedcal_summary_valid(q));
}

/* One gateway: the merge returns its own quantile at every grid level; two
 * equal gateways the same; p 100 the largest maximum; an empty gateway
 * weighs nothing. */
static void test_merge(void)
{
	enum { N = 1001 };
	float *s = malloc(N * sizeof *s);
	for (int i = 0; i < N; i++)
		s[i] = (float)i / (N - 1);
	float q[3][FEDCAL_NQ];
	fedcal_quantiles(s, N, q[0]);
	memcpy(q[1], q[0], sizeof q[1]);
	uint32_t n1[1] = {N}, n2[2] = {N, N};
	for (int i = 0; i < FEDCAL_NQ; i++) {
		float p = 100 * fedcal_levels[i];
		CU_ASSERT_DOUBLE_EQUAL(fedcal_merge(n1, (const float(*)[FEDCAL_NQ])q, 1, p), q[0][i], 1e-4);
		CU_ASSERT_DOUBLE_EQUAL(fedcal_merge(n2, (const float(*)[FEDCAL_NQ])q, 2, p), q[0][i], 1e-4);
	}
	/* the second gateway's scores are those doubled: the pooled median of
	 * U(0,1) and U(0,2) mixed evenly is 2/3 (F = x/2 + x/4 = 1/2) */
	for (int i = 0; i < FEDCAL_NQ; i++)
		q[1][i] = 2 * q[0][i];
	CU_ASSERT_DOUBLE_EQUAL(fedcal_merge(n2, (const float(*)[FEDCAL_NQ])q, 2, 50), 2.0 / 3, 1e-3);
	CU_ASSERT_DOUBLE_EQUAL(fedcal_merge(n2, (const float(*)[FEDCAL_NQ])q, 2, 100), 2, 1e-6);
	uint32_t n0[2] = {N, 0};
	CU_ASSERT_DOUBLE_EQUAL(fedcal_merge(n0, (const float(*)[FEDCAL_NQ])q, 2, 50), 0.5, 1e-3);
	uint32_t none[2] = {0, 0};
	CU_ASSERT_EQUAL(fedcal_merge(none, (const float(*)[FEDCAL_NQ])q, 2, 50), 0);
	free(s);
}

/* The candidate of lowest held-out score wins; the global model wins ties;
 * a candidate with a NaN weight never wins. */
static void test_personalize(void)
{
	int sizes[3] = {4, 2, 4};
	nn_act act[2] = {NN_RELU, NN_SIGMOID};
	nn a, b, c;
	CU_ASSERT_FATAL(nn_init(&a, 2, sizes, act) == IOTAD_OK && nn_init(&b, 2, sizes, act) == IOTAD_OK &&
			nn_init(&c, 2, sizes, act) == IOTAD_OK);
	nn_init_weights(&a, 1);
	nn_init_weights(&b, 2);
	memcpy(c.params, a.params, a.n_params * sizeof *a.params);
	float x[8 * 4];
	for (int i = 0; i < 8 * 4; i++)
		x[i] = 0.5f;
	const float *hold[3] = {x, x, x};
	size_t n[3] = {8, 8, 8};
	double m[3];
	const nn *cands[3] = {&a, NULL, &c};
	CU_ASSERT_EQUAL(fedcal_personalize(cands, hold, n, m), FEDCAL_PICK_GLOBAL); /* a tie */
	CU_ASSERT(isnan(m[1]));
	/* make b the best: an output bias that reconstructs 0.5 exactly */
	memset(b.params, 0, b.n_params * sizeof *b.params);
	cands[1] = &b;
	fedcal_pick p = fedcal_personalize(cands, hold, n, m);
	CU_ASSERT(m[1] < 1e-9);
	CU_ASSERT_EQUAL(p, m[0] > m[1] ? FEDCAL_PICK_TUNED : FEDCAL_PICK_GLOBAL);
	b.params[0] = NAN;
	CU_ASSERT_NOT_EQUAL(fedcal_personalize(cands, hold, n, m), FEDCAL_PICK_TUNED);
	nn_free(&a);
	nn_free(&b);
	nn_free(&c);
}

static void test_names(void)
{
	fedcal_mode mo;
	fedcal_pers pe;
	CU_ASSERT(fedcal_mode_parse("global", &mo) == 0 && mo == FEDCAL_GLOBAL);
	CU_ASSERT(fedcal_mode_parse("gateway", &mo) == 0 && mo == FEDCAL_GATEWAY);
	CU_ASSERT_EQUAL(fedcal_mode_parse("pooled", &mo), -1);
	CU_ASSERT(fedcal_pers_parse("finetune", &pe) == 0 && pe == FEDCAL_PERS_FINETUNE);
	CU_ASSERT_EQUAL(fedcal_pers_parse(NULL, &pe), -1);
	CU_ASSERT_STRING_EQUAL(fedcal_pick_name(FEDCAL_PICK_OWN), "own");
}

static void test_messages(void)
{
	fedcal_summary s = {.round = 7, .hash = 0xdeadbeef, .windows = 40, .threshold = 0.25f}, d;
	snprintf(s.model, sizeof s.model, "m-1");
	snprintf(s.gateway, sizeof s.gateway, "gw.2");
	for (int i = 0; i < FEDCALMSG_NQ; i++)
		s.q[i] = 0.01f * (float)i;
	char buf[FEDCALMSG_MAX], err[200];
	size_t len;
	CU_ASSERT_FATAL(fedcal_summary_encode(&s, buf, sizeof buf, &len) == IOTAD_OK);
	CU_ASSERT_EQUAL(fedcal_summary_decode(buf, len, &d, err, sizeof err), IOTAD_OK);
	CU_ASSERT(d.round == 7 && d.hash == 0xdeadbeef && d.windows == 40);
	CU_ASSERT_STRING_EQUAL(d.gateway, "gw.2");
	CU_ASSERT_DOUBLE_EQUAL(d.q[5], 0.05, 1e-7);
	/* refused: truncated, decreasing quantiles, no windows, a bad id, a bad hash */
	CU_ASSERT_EQUAL(fedcal_summary_decode(buf, len - 3, &d, err, sizeof err), IOTAD_ERR_PARSE);
	const char *bad[] = {
		"{\"model\":\"m\",\"gateway\":\"g\",\"round\":1,\"hash\":\"00000001\",\"windows\":3,"
		"\"threshold\":1,\"q\":[0,1,2,3,4,5,6,7,8,9,1]}",
		"{\"model\":\"m\",\"gateway\":\"g\",\"round\":1,\"hash\":\"00000001\",\"windows\":0,"
		"\"threshold\":1,\"q\":[0,1,2,3,4,5,6,7,8,9,10]}",
		"{\"model\":\"m/x\",\"gateway\":\"g\",\"round\":1,\"hash\":\"00000001\",\"windows\":3,"
		"\"threshold\":1,\"q\":[0,1,2,3,4,5,6,7,8,9,10]}",
		"{\"model\":\"m\",\"gateway\":\"g\",\"round\":1,\"hash\":\"0001\",\"windows\":3,"
		"\"threshold\":1,\"q\":[0,1,2,3,4,5,6,7,8,9,10]}",
		"{\"model\":\"m\",\"gateway\":\"g\",\"round\":1.5,\"hash\":\"00000001\",\"windows\":3,"
		"\"threshold\":1,\"q\":[0,1,2,3,4,5,6,7,8,9,10]}",
		"[1,2]", "",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CU_ASSERT_EQUAL(fedcal_summary_decode(bad[i], strlen(bad[i]), &d, err, sizeof err),
				IOTAD_ERR_PARSE);
	fedcal_global g = {.round = 3, .hash = 0x01020304, .threshold = 0.5f, .percentile = 99,
			   .gateways = 3, .windows = 90}, h;
	snprintf(g.model, sizeof g.model, "m");
	CU_ASSERT_FATAL(fedcal_global_encode(&g, buf, sizeof buf, &len) == IOTAD_OK);
	CU_ASSERT_EQUAL(fedcal_global_decode(buf, len, &h, err, sizeof err), IOTAD_OK);
	CU_ASSERT(h.round == 3 && h.hash == 0x01020304 && h.gateways == 3 && h.threshold == 0.5f);
	g.threshold = 0;
	CU_ASSERT_FATAL(fedcal_global_encode(&g, buf, sizeof buf, &len) == IOTAD_OK);
	CU_ASSERT_EQUAL(fedcal_global_decode(buf, len, &h, err, sizeof err), IOTAD_ERR_PARSE);
	g.threshold = NAN;
	CU_ASSERT_EQUAL(fedcal_global_encode(&g, buf, sizeof buf, &len), IOTAD_ERR_INVAL);
	char t[128], gw[FEDMSG_ID_MAX];
	CU_ASSERT_EQUAL(fedcal_topic_calib("iotad/fl", "m", "gw-1", t, sizeof t), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(t, "iotad/fl/m/calib/gw-1");
	CU_ASSERT(fedcal_topic_gateway("iotad/fl", "m", t, strlen(t), gw));
	CU_ASSERT_STRING_EQUAL(gw, "gw-1");
	CU_ASSERT_FALSE(fedcal_topic_gateway("iotad/fl", "m", "iotad/fl/m/update/gw-1", 22, gw));
}

/* The aggregator's side: K of N summaries of the current global model make
 * a threshold, kept for publishing even when the next round opens before;
 * wrong round, gateway or a second summary are refused. */
static void test_aggregator(void)
{
	agg_cal c;
	char why[200], buf[FEDCALMSG_MAX], js[FEDCALMSG_MAX];
	size_t len, jl;
	CU_ASSERT_FATAL(agg_cal_init(&c, "m", 3, 2, 100) == IOTAD_OK);
	agg_cal_open(&c, 4, 0xabcd);
	fedcal_summary s = {.round = 4, .hash = 0xabcd, .windows = 10, .threshold = 1};
	snprintf(s.model, sizeof s.model, "m");
	snprintf(s.gateway, sizeof s.gateway, "a");
	for (int i = 0; i < FEDCALMSG_NQ; i++)
		s.q[i] = (float)i;
	CU_ASSERT_FATAL(fedcal_summary_encode(&s, js, sizeof js, &jl) == IOTAD_OK);
	CU_ASSERT_FALSE(agg_cal_offer(&c, "b", js, jl, why, sizeof why)); /* topic of another */
	CU_ASSERT_TRUE(agg_cal_offer(&c, "a", js, jl, why, sizeof why));
	CU_ASSERT_FALSE(agg_cal_offer(&c, "a", js, jl, why, sizeof why)); /* a second one */
	CU_ASSERT_FALSE(agg_cal_take(&c, buf, sizeof buf, &len));        /* 1 of K = 2 */
	s.round = 3;
	snprintf(s.gateway, sizeof s.gateway, "b");
	CU_ASSERT_FATAL(fedcal_summary_encode(&s, js, sizeof js, &jl) == IOTAD_OK);
	CU_ASSERT_FALSE(agg_cal_offer(&c, "b", js, jl, why, sizeof why)); /* an old round */
	s.round = 4;
	s.q[FEDCALMSG_NQ - 1] = 20;
	CU_ASSERT_FATAL(fedcal_summary_encode(&s, js, sizeof js, &jl) == IOTAD_OK);
	CU_ASSERT_TRUE(agg_cal_offer(&c, "b", js, jl, why, sizeof why));
	agg_cal_open(&c, 5, 0x1234); /* the next round opens before the main thread publishes */
	fedcal_global g;
	CU_ASSERT_FATAL(agg_cal_take(&c, buf, sizeof buf, &len));
	CU_ASSERT_EQUAL_FATAL(fedcal_global_decode(buf, len, &g, why, sizeof why), IOTAD_OK);
	CU_ASSERT(g.round == 4 && g.hash == 0xabcd && g.gateways == 2 && g.windows == 20);
	CU_ASSERT_DOUBLE_EQUAL(g.threshold, 20, 1e-6); /* p100: the largest maximum */
	CU_ASSERT_FALSE(agg_cal_take(&c, buf, sizeof buf, &len));
	CU_ASSERT_EQUAL(c.accepted, 2);
	CU_ASSERT_EQUAL(c.refused, 3);
	int n = 0;
	CU_ASSERT(agg_cal_stats(&c, buf, sizeof buf, &n));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"threshold\":{\"round\":4,\"value\":20"));
	agg_cal_free(&c);
}

void init_fedcal_tests(void)
{
	CU_pSuite s = CU_add_suite("fedcal", NULL, NULL);
	TEST_ADD(s, test_percentile_and_quantiles);
	TEST_ADD(s, test_merge);
	TEST_ADD(s, test_personalize);
	TEST_ADD(s, test_names);
	TEST_ADD(s, test_messages);
	TEST_ADD(s, test_aggregator);
}
