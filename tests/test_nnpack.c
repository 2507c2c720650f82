/* test_nnpack.c - unit tests of the packed forward pass (nnpack), the
 * packed model scorer (modelpack) and det_push_batch: closed forms, random
 * networks against the scalar nn_forward, every CPU path against the
 * others bit for bit, batches against single windows, and the detector's
 * batch against one call per sample. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/detector.h"
#include "iotad/modelpack.h"
#include "iotad/nnpack.h"
#include "iotad/rng.h"
#include "test.h"

/* The packed pass sums in another order than nn_forward (both in double,
 * rounded to float once): they agree to a few float ulps. */
#define PACK_REL_TOL 1e-6

static bool close_rel(double a, double b, double tol)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return fabs(a - b) <= tol * fmax(fabs(b), 1e-30) || a == b;
}

static float unit_float(uint64_t *s, double lo, double hi)
{
	return (float)(lo + (hi - lo) * rng_bits_unit(rng_splitmix64(s)));
}

/* A network of the given sizes with weights and biases uniform in
 * [-scale, scale]. */
static void random_net(nn *net, int n_layers, const int *sizes, const nn_act *act, uint64_t seed,
		       double scale)
{
	CU_ASSERT_EQUAL_FATAL(nn_init(net, n_layers, sizes, act), IOTAD_OK);
	for (size_t i = 0; i < net->n_params; i++)
		net->params[i] = unit_float(&seed, -scale, scale);
}

static void test_isa_names(void)
{
	CU_ASSERT_STRING_EQUAL(nn_isa_name(NN_ISA_AUTO), "auto");
	CU_ASSERT_STRING_EQUAL(nn_isa_name(NN_ISA_GENERIC), "generic");
	CU_ASSERT_STRING_EQUAL(nn_isa_name(NN_ISA_AVX2), "avx2");
	CU_ASSERT_STRING_EQUAL(nn_isa_name(NN_ISA_AVX512), "avx512");
	CU_ASSERT_STRING_EQUAL(nn_isa_name((nn_isa)99), "unknown");
	CU_ASSERT_TRUE(nn_isa_supported(NN_ISA_AUTO));
	CU_ASSERT_TRUE(nn_isa_supported(NN_ISA_GENERIC));
	CU_ASSERT_FALSE(nn_isa_supported((nn_isa)99));
}

static void test_init_rejects(void)
{
	nn_pack p;
	nn empty;
	memset(&empty, 0, sizeof empty);
	CU_ASSERT_EQUAL(nn_pack_init(NULL, &empty, NN_ISA_AUTO), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_pack_init(&p, NULL, NN_ISA_AUTO), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_pack_init(&p, &empty, NN_ISA_AUTO), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NULL(p.w);

	int sizes[2] = {3, 3};
	nn_act act[1] = {NN_LINEAR};
	nn net;
	random_net(&net, 1, sizes, act, 1, 1.0);
	CU_ASSERT_EQUAL(nn_pack_init(&p, &net, (nn_isa)99), IOTAD_ERR_INVAL);
	for (int isa = NN_ISA_AVX2; isa < NN_ISA__COUNT; isa++)
		if (!nn_isa_supported((nn_isa)isa))
			CU_ASSERT_EQUAL(nn_pack_init(&p, &net, (nn_isa)isa), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_pack_init(&p, &net, NN_ISA_AUTO), IOTAD_OK);
	CU_ASSERT_NOT_EQUAL(p.isa, NN_ISA_AUTO);
	nn_pack_free(&p);
	nn_pack_free(&p); /* zeroed: a no-op */
	nn_pack_free(NULL);
	nn_free(&net);

	model m;
	model_pack mp;
	memset(&m, 0, sizeof m);
	m.type = MODEL_INT8;
	CU_ASSERT_EQUAL(model_pack_init(&mp, &m, NN_ISA_AUTO), IOTAD_ERR_INVAL);
	model_pack_free(&mp);
	model_pack_free(NULL);
}

/* Closed forms on every path: identity (MSE 0), zero weights with a bias
 * (output the bias), sigmoid of 0 (one half), ReLU cutting negatives. */
static void test_closed_form(void)
{
	enum { D = 21 };
	int sizes[2] = {D, D};
	float x[D], scratch[64], err[D];
	for (int i = 0; i < D; i++)
		x[i] = (float)i / D;

	for (int isa = NN_ISA_GENERIC; isa < NN_ISA__COUNT; isa++) {
		if (!nn_isa_supported((nn_isa)isa))
			continue;
		nn net;
		nn_pack p;
		nn_act lin[1] = {NN_LINEAR}, sig[1] = {NN_SIGMOID}, relu[1] = {NN_RELU};

		/* identity */
		CU_ASSERT_EQUAL_FATAL(nn_init(&net, 1, sizes, lin), IOTAD_OK);
		for (int i = 0; i < D; i++)
			net.params[i * D + i] = 1.0f;
		CU_ASSERT_EQUAL_FATAL(nn_pack_init(&p, &net, (nn_isa)isa), IOTAD_OK);
		CU_ASSERT_EQUAL(nn_pack_forward(&p, x, scratch, err), 0.0f);
		for (int i = 0; i < D; i++)
			CU_ASSERT_EQUAL(err[i], 0.0f);
		nn_pack_free(&p);
		nn_free(&net);

		/* sigmoid(0) = 0.5: MSE = mean (0.5 - x)^2 */
		CU_ASSERT_EQUAL_FATAL(nn_init(&net, 1, sizes, sig), IOTAD_OK);
		CU_ASSERT_EQUAL_FATAL(nn_pack_init(&p, &net, (nn_isa)isa), IOTAD_OK);
		double want = 0.0;
		for (int i = 0; i < D; i++)
			want += (0.5 - x[i]) * (0.5 - x[i]);
		CU_ASSERT_EQUAL(nn_pack_forward(&p, x, scratch, err), (float)(want / D));
		CU_ASSERT_EQUAL(scratch[0], 0.5f);
		nn_pack_free(&p);
		nn_free(&net);

		/* ReLU of -x: all zero, MSE = mean x^2 */
		CU_ASSERT_EQUAL_FATAL(nn_init(&net, 1, sizes, relu), IOTAD_OK);
		for (int i = 0; i < D; i++)
			net.params[i * D + i] = -1.0f;
		CU_ASSERT_EQUAL_FATAL(nn_pack_init(&p, &net, (nn_isa)isa), IOTAD_OK);
		want = 0.0;
		for (int i = 0; i < D; i++)
			want += (double)x[i] * x[i];
		CU_ASSERT_EQUAL(nn_pack_forward(&p, x, scratch, err), (float)(want / D));
		for (int i = 0; i < D; i++)
			CU_ASSERT_EQUAL(scratch[i], 0.0f);
		nn_pack_free(&p);
		nn_free(&net);
	}
}

/* Random networks of awkward widths: each path within PACK_REL_TOL of
 * nn_forward, and every path the same bits as the generic one. */
static void test_random_vs_reference(void)
{
	static const int shapes[][6] = {
		{1, 1, 1, 0, 0, 0},     {3, 5, 3, 0, 0, 0},       {30, 12, 6, 12, 30, 0},
		{128, 12, 6, 12, 128, 0}, {17, 33, 2, 17, 0, 0},  {64, 64, 0, 0, 0, 0},
		{7, 100, 7, 0, 0, 0},   {48, 77, 38, 77, 48, 0},
	};
	static const nn_act acts[3] = {NN_RELU, NN_SIGMOID, NN_LINEAR};
	uint64_t seed = 12345;
	size_t n_checked = 0;

	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		int sizes[6], L = 0;
		while (L < 5 && shapes[s][L + 1])
			L++;
		for (int l = 0; l <= L; l++)
			sizes[l] = shapes[s][l];
		for (int out_act = 0; out_act < 3; out_act++) {
			nn_act act[5];
			for (int l = 0; l < L; l++)
				act[l] = l == L - 1 ? acts[out_act] : acts[l % 2];
			nn net;
			random_net(&net, L, sizes, act, seed++, 1.5);
			int d = sizes[0];
			size_t sf = 0;
			nn_pack packs[NN_ISA__COUNT];
			bool have[NN_ISA__COUNT] = {false};
			for (int isa = NN_ISA_GENERIC; isa < NN_ISA__COUNT; isa++) {
				if (!nn_isa_supported((nn_isa)isa))
					continue;
				CU_ASSERT_EQUAL_FATAL(nn_pack_init(&packs[isa], &net, (nn_isa)isa), IOTAD_OK);
				have[isa] = true;
				sf = nn_pack_scratch_floats(&packs[isa]);
			}
			float *x = malloc((size_t)d * sizeof *x), *e0 = malloc((size_t)d * sizeof *x);
			float *e1 = malloc((size_t)d * sizeof *x), *eg = malloc((size_t)d * sizeof *x);
			float *sc = malloc((sf + nn_scratch_floats(&net)) * sizeof *sc);
			CU_ASSERT_FATAL(x && e0 && e1 && eg && sc);
			for (int trial = 0; trial < 40; trial++) {
				/* inputs mostly in [0, 1], some trials spread to [-4, 5] */
				for (int i = 0; i < d; i++)
					x[i] = trial % 4 == 3 ? unit_float(&seed, -4.0, 5.0) :
								unit_float(&seed, 0.0, 1.0);
				float ref = nn_forward(&net, x, sc, e0);
				float gen = nn_pack_forward(&packs[NN_ISA_GENERIC], x, sc, eg);
				CU_ASSERT_TRUE(close_rel(gen, ref, PACK_REL_TOL));
				for (int i = 0; i < d; i++)
					CU_ASSERT_TRUE(close_rel(eg[i], e0[i], 1e-5) ||
						       fabs(eg[i] - e0[i]) < 1e-9);
				for (int isa = NN_ISA_AVX2; isa < NN_ISA__COUNT; isa++) {
					if (!have[isa])
						continue;
					float got = nn_pack_forward(&packs[isa], x, sc, e1);
					CU_ASSERT_EQUAL(memcmp(&got, &gen, sizeof got), 0);
					CU_ASSERT_EQUAL(memcmp(e1, eg, (size_t)d * sizeof *e1), 0);
				}
				n_checked++;
			}
			for (int isa = NN_ISA_GENERIC; isa < NN_ISA__COUNT; isa++)
				if (have[isa])
					nn_pack_free(&packs[isa]);
			free(x);
			free(e0);
			free(e1);
			free(eg);
			free(sc);
			nn_free(&net);
		}
	}
	CU_ASSERT_EQUAL(n_checked, 8 * 3 * 40);
}

/* The logistic function far out, NaN and infinite inputs: as nn_forward. */
static void test_sigmoid_extremes(void)
{
	enum { D = 16 };
	int sizes[2] = {D, D};
	nn_act sig[1] = {NN_SIGMOID};
	static const float zs[D] = {0.0f,   -0.0f,  1e-8f, -1e-8f, 3.0f,   -3.0f,  20.0f,  -20.0f,
				    87.0f,  -87.0f, 103.0f, -103.5f, 150.0f, -150.0f, 1e30f, -1e30f};
	float x[D], sc[64], e_ref[D], e_pack[D];
	nn net;
	CU_ASSERT_EQUAL_FATAL(nn_init(&net, 1, sizes, sig), IOTAD_OK);
	/* output j = sigmoid(bias j): zero weights */
	for (int j = 0; j < D; j++) {
		net.params[D * D + j] = zs[j];
		x[j] = 0.25f;
	}
	for (int isa = NN_ISA_GENERIC; isa < NN_ISA__COUNT; isa++) {
		nn_pack p;
		if (!nn_isa_supported((nn_isa)isa))
			continue;
		CU_ASSERT_EQUAL_FATAL(nn_pack_init(&p, &net, (nn_isa)isa), IOTAD_OK);
		float a = nn_forward(&net, x, sc, e_ref);
		float ref_out[D];
		memcpy(ref_out, sc, sizeof ref_out);
		float b = nn_pack_forward(&p, x, sc, e_pack);
		CU_ASSERT_EQUAL(a, b);
		for (int j = 0; j < D; j++)
			CU_ASSERT_EQUAL(sc[j], ref_out[j]); /* expf is correctly rounded here */
		/* NaN in: NaN out on both */
		x[3] = NAN;
		CU_ASSERT_TRUE(isnan(nn_pack_forward(&p, x, sc, NULL)));
		CU_ASSERT_TRUE(isnan(nn_forward(&net, x, sc, NULL)));
		x[3] = 0.25f;
		nn_pack_free(&p);
	}
	/* an infinite weight: the sum is infinite, the sigmoid 1 or 0 */
	net.params[0] = INFINITY;
	nn_pack p;
	CU_ASSERT_EQUAL_FATAL(nn_pack_init(&p, &net, NN_ISA_AUTO), IOTAD_OK);
	float a = nn_forward(&net, x, sc, NULL), b = nn_pack_forward(&p, x, sc, NULL);
	CU_ASSERT_TRUE(close_rel(b, a, PACK_REL_TOL));
	nn_pack_free(&p);
	nn_free(&net);
}

/* A batch of n windows gives exactly the single-window results, for every
 * n up to the maximum and an odd one left at the end. */
static void test_batch_equals_single(void)
{
	int sizes[5] = {30, 12, 6, 12, 30};
	nn_act act[4] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	nn net;
	nn_pack p;
	enum { N = NN_PACK_BATCH_MAX, D = 30 };
	float *xs = malloc(N * D * sizeof *xs), *errs = malloc(N * D * sizeof *errs);
	float one_err[D], scores[N];
	const float *x[N];
	float *err[N];
	uint64_t seed = 77;

	random_net(&net, 4, sizes, act, 3, 1.0);
	CU_ASSERT_EQUAL_FATAL(nn_pack_init(&p, &net, NN_ISA_AUTO), IOTAD_OK);
	float *sc = malloc(2 * nn_pack_scratch_floats(&p) * sizeof *sc);
	CU_ASSERT_FATAL(xs && errs && sc);
	for (int i = 0; i < N * D; i++)
		xs[i] = unit_float(&seed, 0.0, 1.0);
	for (int k = 0; k < N; k++) {
		x[k] = xs + k * D;
		err[k] = errs + k * D;
	}
	for (size_t n = 1; n <= N; n++) {
		nn_pack_forward_batch(&p, n, x, sc, scores, err);
		for (size_t k = 0; k < n; k++) {
			float one = nn_pack_forward(&p, x[k], sc, one_err);
			CU_ASSERT_EQUAL(memcmp(&one, &scores[k], sizeof one), 0);
			CU_ASSERT_EQUAL(memcmp(one_err, err[k], sizeof one_err), 0);
		}
	}
	nn_pack_forward_batch(&p, 5, x, sc, scores, NULL); /* no errors wanted */
	CU_ASSERT_EQUAL(scores[4], nn_pack_forward(&p, x[4], sc, NULL));
	nn_pack_free(&p);
	nn_free(&net);
	free(xs);
	free(errs);
	free(sc);
}

/* A model of 4 x 3 inputs, 12-5-12, an ensemble of members. */
static void small_model(model *m, int members)
{
	int sizes[3] = {12, 5, 12};
	nn_act act[2] = {NN_RELU, NN_SIGMOID};
	memset(m, 0, sizeof *m);
	strcpy(m->id, "pack-test");
	m->version = 1;
	m->n_features = 3;
	for (int f = 0; f < 3; f++) {
		snprintf(m->features[f], sizeof m->features[f], "f%d", f);
		m->norm_a[f] = 0.0f;
		m->norm_b[f] = 10.0f;
	}
	m->window = 4;
	m->stride = 1;
	m->norm = NORM_MINMAX;
	m->threshold = 0.08f;
	m->percentile = 99.0f;
	random_net(&m->net, 2, sizes, act, 11, 1.0);
	for (int k = 1; k < members; k++)
		random_net(&m->more[k - 1], 2, sizes, act, 11 + (uint64_t)k, 1.0);
	m->n_more = members - 1;
}

/* The packed scorer against the scalar one (an ensemble of 3), and its
 * batch entry against its single one. */
static void test_scorer_pack(void)
{
	model m;
	model_pack mp;
	det_scorer ref, pk;
	small_model(&m, 3);
	CU_ASSERT_EQUAL_FATAL(model_pack_init(&mp, &m, NN_ISA_AUTO), IOTAD_OK);
	det_scorer_model(&ref, &m);
	det_scorer_pack(&pk, &mp);
	CU_ASSERT_PTR_NOT_NULL(pk.ops->score_batch);
	CU_ASSERT_EQUAL(pk.threshold, m.threshold);
	size_t sf = pk.batch_scratch_floats > ref.scratch_floats ? pk.batch_scratch_floats :
								    ref.scratch_floats;
	float *sc = malloc(sf * sizeof *sc);
	enum { N = 9 };
	float xs[N][12], cref[3], cb[N][MODEL_MAX_FEATURES], scores[N];
	const float *x[N];
	float *contrib[N];
	uint64_t seed = 5;
	CU_ASSERT_FATAL(sc != NULL);
	for (int k = 0; k < N; k++) {
		for (int i = 0; i < 12; i++)
			xs[k][i] = unit_float(&seed, 0.0, 1.0);
		x[k] = xs[k];
		contrib[k] = cb[k];
	}
	pk.ops->score_batch(pk.self, N, x, contrib, scores, sc);
	for (int k = 0; k < N; k++) {
		float c1[3];
		float a = ref.ops->score(ref.self, NULL, x[k], cref, sc);
		float b = pk.ops->score(pk.self, NULL, x[k], c1, sc);
		CU_ASSERT_TRUE(close_rel(b, a, PACK_REL_TOL));
		for (int f = 0; f < 3; f++)
			CU_ASSERT_TRUE(close_rel(c1[f], cref[f], 1e-5));
		CU_ASSERT_EQUAL(memcmp(&scores[k], &b, sizeof b), 0);
		CU_ASSERT_EQUAL(memcmp(cb[k], c1, sizeof c1), 0);
	}
	free(sc);
	model_pack_free(&mp);
	model_free(&m);
}

/* det_push_batch against one det_push_at per sample on a twin detector:
 * 40 devices through a table of 24 (evictions), devices repeating inside a
 * batch, a late sample, a redelivery, bad samples; every result the same
 * bits. */
static void test_det_push_batch(void)
{
	model m;
	det_config cfg;
	det *a = NULL, *b = NULL;
	enum { N = 3000, DEV = 40 };
	small_model(&m, 2);
	det_config_default(&cfg);
	cfg.max_devices = 24;
	CU_ASSERT_EQUAL_FATAL(det_create(&m, &cfg, &a), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(det_create(&m, &cfg, &b), IOTAD_OK);

	static char names[DEV][16];
	static float raws[N][3];
	static det_sample s[N];
	static det_result ra[N], rb[N];
	static iotad_err ea[N], eb[N];
	double clock[DEV] = {0};
	uint64_t seed = 99;
	for (int i = 0; i < DEV; i++)
		snprintf(names[i], sizeof names[i], "dev-%02d", i);
	for (int k = 0; k < N; k++) {
		/* mostly 8 devices in turn (a backlog), now and then any */
		int dv = k % 5 == 4 ? (int)(rng_splitmix64(&seed) % DEV) : k % 8;
		clock[dv] += 1.0;
		s[k].device = names[dv];
		s[k].ts = clock[dv];
		s[k].now = (double)k;
		for (int f = 0; f < 3; f++)
			raws[k][f] = unit_float(&seed, 2.0, 8.0) + (k % 97 == 0 ? 9.0f : 0.0f);
		s[k].raw = raws[k];
	}
	s[500].ts = s[500].ts - 0.5;      /* late */
	s[900].ts = s[899].ts;            /* a redelivery when 899 is the same device */
	s[1200].device = "";              /* bad */
	s[1300].ts = NAN;                 /* bad */
	s[1400].raw = NULL;               /* bad */

	size_t ok_a = 0, ok_b = 0;
	for (int k = 0; k < N; k++) {
		ea[k] = det_push_at(a, s[k].device, s[k].ts, s[k].now, s[k].raw, &ra[k]);
		ok_a += ea[k] == IOTAD_OK;
	}
	/* batches of uneven sizes */
	for (size_t k = 0, step = 1; k < N; k += step, step = step % 61 + 7) {
		size_t n = k + step > N ? N - k : step;
		ok_b += det_push_batch(b, s + k, n, rb + k, eb + k);
	}
	CU_ASSERT_EQUAL(ok_a, ok_b);
	CU_ASSERT_TRUE(ok_a < N && ok_a > N - 10);
	size_t scored = 0, same = 0;
	for (int k = 0; k < N; k++) {
		CU_ASSERT_EQUAL(ea[k], eb[k]);
		same += memcmp(&ra[k], &rb[k], sizeof ra[k]) == 0;
		scored += ra[k].scored;
	}
	CU_ASSERT_EQUAL(same, N);
	CU_ASSERT_TRUE(scored > N / 2);
	CU_ASSERT_EQUAL(det_device_count(a), det_device_count(b));
	CU_ASSERT_EQUAL(det_evictions(a), det_evictions(b));
	CU_ASSERT_TRUE(det_evictions(a) > 0);
	CU_ASSERT_EQUAL(det_push_batch(NULL, s, 1, rb, eb), 0);
	CU_ASSERT_EQUAL(det_push_batch(b, s, 0, rb, eb), 0);
	det_destroy(a);
	det_destroy(b);
	model_free(&m);
}

void init_nnpack_tests(void)
{
	CU_pSuite s = CU_add_suite("nnpack", NULL, NULL);
	if (!s)
		return;
	TEST_ADD(s, test_isa_names);
	TEST_ADD(s, test_init_rejects);
	TEST_ADD(s, test_closed_form);
	TEST_ADD(s, test_random_vs_reference);
	TEST_ADD(s, test_sigmoid_extremes);
	TEST_ADD(s, test_batch_equals_single);
	TEST_ADD(s, test_scorer_pack);
	TEST_ADD(s, test_det_push_batch);
}
