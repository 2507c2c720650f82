/* test_baseline.c - unit tests of the z-score and PCA baselines against
 * closed-form scores, and their false-alarm rate on seeded normal data. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "iotad/baseline.h"
#include "iotad/detector.h"
#include "test.h"
#include "test_rng.h"

static void test_zscore_closed_form(void)
{
	/* 9, 11, 9, 11, ...: mean 10, deviation 1 (holdout 0: fit on all) */
	float rows[200];
	for (int i = 0; i < 200; i++)
		rows[i] = i & 1 ? 11.0f : 9.0f;
	bl_opts o;
	bl_opts_default(&o);
	o.holdout = 0.0f;
	o.zs_window = 50;
	baseline *b = NULL;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(bl_fit(BL_ZSCORE, &o, rows, 200, 1, NULL, 0, &b, err, sizeof err),
			      IOTAD_OK);
	bl_state *s = NULL;
	CU_ASSERT_EQUAL_FATAL(bl_state_create(b, &s), IOTAD_OK);
	float x = 13.0f;
	CU_ASSERT_DOUBLE_EQUAL(bl_score(b, s, &x), 3.0, 1e-5);
	x = 10.0f;
	CU_ASSERT_DOUBLE_EQUAL(bl_score(b, s, &x), 0.0, 1e-5);
	/* threshold: p99 of the training rows' scores, |z| = 1 give or take
	 * the 1/50 shift of the mean after an odd number of rows */
	CU_ASSERT(bl_threshold(b) >= 0.999f && bl_threshold(b) <= 1.05f);
	/* after a full window of a new level 20/22 the statistics follow it */
	for (int i = 0; i < 50; i++) {
		x = i & 1 ? 22.0f : 20.0f;
		bl_learn(b, s, &x);
	}
	x = 21.0f;
	CU_ASSERT_DOUBLE_EQUAL(bl_score(b, s, &x), 0.0, 1e-4);
	x = 24.0f;
	CU_ASSERT_DOUBLE_EQUAL(bl_score(b, s, &x), 3.0, 1e-4);
	/* half a window of the new level: mean 15.5, var from both halves */
	bl_state *h = NULL;
	CU_ASSERT_EQUAL_FATAL(bl_state_create(b, &h), IOTAD_OK);
	for (int i = 0; i < 25; i++) {
		x = 21.0f;
		bl_learn(b, h, &x);
	}
	/* 25 virtual rows (mean 10, var 1) + 25 rows at 21: mean 15.5,
	 * E[x^2] - mean^2 = (25 * 101 + 25 * 441) / 50 - 15.5^2 = 30.75 */
	x = 15.5f + 2.0f * (float)sqrt(30.75);
	CU_ASSERT_DOUBLE_EQUAL(bl_score(b, h, &x), 2.0, 1e-4);
	bl_state_destroy(h);
	bl_state_destroy(s);
	bl_destroy(b);
}

static void test_pca_closed_form(void)
{
	/* x2 = 2 x1 exactly: standardized z1 = z2, one component (1,1)/sqrt 2
	 * with eigenvalue 2. A point at z = (1, -1) has Q = 2, T^2 = 0; at
	 * z = (1, 1) Q = 0 and T^2 = 2/2 = 1. */
	float rows[400];
	uint64_t rs = 3;
	for (int i = 0; i < 200; i++) {
		float t = (float)trng_normal(&rs);
		rows[2 * i] = t;
		rows[2 * i + 1] = 2.0f * t;
	}
	double m = 0, ss = 0;
	for (int i = 0; i < 200; i++)
		m += rows[2 * i];
	m /= 200;
	for (int i = 0; i < 200; i++)
		ss += (rows[2 * i] - m) * (rows[2 * i] - m);
	double sd = sqrt(ss / 200);
	bl_opts o;
	bl_opts_default(&o);
	o.holdout = 0.0f;
	baseline *b = NULL;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(bl_fit(BL_PCA, &o, rows, 200, 2, NULL, 0, &b, err, sizeof err),
			      IOTAD_OK);
	float off[2] = {(float)(m + sd), (float)(2 * m - 2 * sd)};
	float on[2] = {(float)(m + sd), (float)(2 * m + 2 * sd)};
	CU_ASSERT_DOUBLE_EQUAL(bl_score(b, NULL, off), 2.0, 1e-3);
	CU_ASSERT_DOUBLE_EQUAL(bl_score(b, NULL, on), 0.0, 1e-3);
	/* training rows lie on the line: threshold tiny */
	CU_ASSERT(bl_threshold(b) < 1e-3f);
	bl_destroy(b);
	o.pca_score = BL_PCA_T2Q;
	CU_ASSERT_EQUAL_FATAL(bl_fit(BL_PCA, &o, rows, 200, 2, NULL, 0, &b, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(bl_score(b, NULL, off), 2.0, 1e-3);
	CU_ASSERT_DOUBLE_EQUAL(bl_score(b, NULL, on), 1.0, 1e-3);
	bl_destroy(b);
}

/* Fit on 2000 rows of 4 independent Gaussian channels; on 20000 fresh rows
 * the share at or above the p99 threshold stays near 1 %. */
static void check_false_alarms(bl_kind kind)
{
	enum { F = 4, NT = 2000, NS = 20000 };
	static float rows[NT * F];
	uint64_t rs = 11;
	for (int i = 0; i < NT * F; i++)
		rows[i] = (float)(5.0 + (i % F) * 3.0 + (1 + i % F) * trng_normal(&rs));
	bl_opts o;
	bl_opts_default(&o);
	o.zs_window = 500;
	baseline *b = NULL;
	bl_state *s = NULL;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(bl_fit(kind, &o, rows, NT, F, NULL, 0, &b, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(bl_state_create(b, &s), IOTAD_OK);
	int alarms = 0;
	for (int i = 0; i < NS; i++) {
		float x[F];
		for (int j = 0; j < F; j++)
			x[j] = (float)(5.0 + j * 3.0 + (1 + j) * trng_normal(&rs));
		float sc = bl_score(b, s, x);
		if (sc >= bl_threshold(b))
			alarms++;
		else
			bl_learn(b, s, x);
	}
	/* 400 held-out rows give a p99 estimate with a few tenths of a
	 * percent of spread; 0.3 % .. 3 % is a wide margin */
	CU_ASSERT(alarms >= NS * 3 / 1000 && alarms <= NS * 3 / 100);
	CU_ASSERT(bl_calib_mean(b) > 0.0f && bl_calib_mean(b) < bl_threshold(b));
	bl_state_destroy(s);
	bl_destroy(b);
}

/* A row of three channels: 0 and 2 move together, 1 on its own. */
static void scorer_row(float *x, uint64_t *rs)
{
	double a = trng_normal(rs);
	x[0] = (float)a;
	x[1] = (float)(10.0 + 2.0 * trng_normal(rs));
	x[2] = (float)(20.0 + a + 0.1 * trng_normal(rs));
}

/* Through the detector (bl_scorer on a model of window 1, raw values, a
 * static threshold, no smoothing or stuck check), a baseline scores every
 * row as bl_score does with a state that learns the rows under the
 * threshold; contributions sum to 1 and name the deviating feature. */
static void check_as_scorer(bl_kind kind, bl_pca_score ps)
{
	enum { F = 3, NT = 600, NS = 2000 };
	static float rows[NT * F];
	uint64_t rs = 23;
	for (int i = 0; i < NT; i++)
		scorer_row(rows + i * F, &rs);
	bl_opts o;
	bl_opts_default(&o);
	o.zs_window = 50;
	o.pca_var = 0.6f;
	o.pca_score = ps;
	baseline *b = NULL;
	bl_state *ref = NULL;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(bl_fit(kind, &o, rows, NT, F, NULL, 0, &b, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(bl_state_create(b, &ref), IOTAD_OK);
	model m;
	memset(&m, 0, sizeof m);
	m.n_features = F;
	m.window = 1;
	m.stride = 1;
	m.norm = NORM_NONE;
	det_scorer sc;
	bl_scorer(b, &sc);
	CU_ASSERT_EQUAL(sc.threshold, bl_threshold(b));
	det_config cfg;
	det_config_default(&cfg);
	thr_params_default(&cfg.thr, THR_STATIC, 0.0f, 0.0f);
	cfg.stuck_check = false;
	det *d = NULL;
	CU_ASSERT_EQUAL_FATAL(det_create_with(&m, &sc, &cfg, &d), IOTAD_OK);
	int same = 0, blamed = 0, shifted = 0, sums = 0;
	for (int i = 0; i < NS; i++) {
		float x[F];
		scorer_row(x, &rs);
		bool shift = i % 50 == 49; /* feature 1 far off */
		if (shift)
			x[1] += 12.0f;
		float want = bl_score(b, ref, x);
		if (want < bl_threshold(b))
			bl_learn(b, ref, x);
		det_result r;
		CU_ASSERT_EQUAL_FATAL(det_push(d, "s", (double)i, x, &r), IOTAD_OK);
		same += r.scored && r.score == want && r.anomalous == !(want < bl_threshold(b));
		float total = r.contrib[0] + r.contrib[1] + r.contrib[2];
		sums += fabsf(total - 1.0f) < 1e-5f;
		if (shift) {
			shifted++;
			blamed += r.contrib[1] > r.contrib[0] && r.contrib[1] > r.contrib[2];
		}
	}
	CU_ASSERT_EQUAL(same, NS);
	CU_ASSERT_EQUAL(sums, NS);
	CU_ASSERT_EQUAL(blamed, shifted);
	det_destroy(d);
	bl_state_destroy(ref);
	bl_destroy(b);
}

static void test_zscore_as_scorer(void)
{
	check_as_scorer(BL_ZSCORE, BL_PCA_Q);
}

static void test_pca_as_scorer(void)
{
	check_as_scorer(BL_PCA, BL_PCA_Q);
	check_as_scorer(BL_PCA, BL_PCA_T2Q);
}

static void test_zscore_false_alarms(void)
{
	check_false_alarms(BL_ZSCORE);
}

static void test_pca_false_alarms(void)
{
	check_false_alarms(BL_PCA);
}

static void test_fit_errors(void)
{
	float rows[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, NAN};
	bl_opts o;
	bl_opts_default(&o);
	baseline *b = (baseline *)1;
	char err[128];
	CU_ASSERT_EQUAL(bl_fit(BL_ZSCORE, &o, rows, 10, 1, NULL, 0, &b, err, sizeof err),
			IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT(strstr(err, "row 9") != NULL);
	o.pca_var = 1.5f;
	CU_ASSERT_EQUAL(bl_fit(BL_PCA, &o, rows, 9, 1, NULL, 0, &b, err, sizeof err),
			IOTAD_ERR_RANGE);
	bl_opts_default(&o);
	size_t seg[2] = {4, 4};
	CU_ASSERT_EQUAL(bl_fit(BL_PCA, &o, rows, 9, 1, seg, 2, &b, err, sizeof err),
			IOTAD_ERR_INVAL);
}

void init_baseline_tests(void)
{
	CU_pSuite s = CU_add_suite("baseline", NULL, NULL);
	TEST_ADD(s, test_zscore_closed_form);
	TEST_ADD(s, test_pca_closed_form);
	TEST_ADD(s, test_zscore_false_alarms);
	TEST_ADD(s, test_pca_false_alarms);
	TEST_ADD(s, test_fit_errors);
	TEST_ADD(s, test_zscore_as_scorer);
	TEST_ADD(s, test_pca_as_scorer);
}
