/* test_qnn.c - unit tests of the int8 kernel and the quantizer:
 * requantization rounding and saturation, a closed-form network, random
 * networks against the float ones within stated bounds, parameters
 * qnn_prepare refuses, and the int8 calibration of quant_model. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/quantize.h"
#include "test.h"
#include "test_rng.h"

static void test_requant_rounding(void)
{
	int32_t mult, shift;
	CU_ASSERT_EQUAL_FATAL(qnn_multiplier(0.5, &mult, &shift), 0);
	/* halves round up (towards +inf) */
	CU_ASSERT_EQUAL(qnn_requant(1, mult, shift, -1000, 1000), 1);
	CU_ASSERT_EQUAL(qnn_requant(-1, mult, shift, -1000, 1000), 0);
	CU_ASSERT_EQUAL(qnn_requant(3, mult, shift, -1000, 1000), 2);
	CU_ASSERT_EQUAL(qnn_requant(-3, mult, shift, -1000, 1000), -1);
	CU_ASSERT_EQUAL(qnn_requant(4, mult, shift, -1000, 1000), 2);
	CU_ASSERT_EQUAL_FATAL(qnn_multiplier(0.25, &mult, &shift), 0);
	CU_ASSERT_EQUAL(qnn_requant(5, mult, shift, -1000, 1000), 1);   /* 1.25 */
	CU_ASSERT_EQUAL(qnn_requant(6, mult, shift, -1000, 1000), 2);   /* 1.5 */
	CU_ASSERT_EQUAL(qnn_requant(-6, mult, shift, -1000, 1000), -1); /* -1.5 */
	CU_ASSERT_EQUAL(qnn_requant(-7, mult, shift, -1000, 1000), -2); /* -1.75 */
	/* out of range multipliers */
	CU_ASSERT_EQUAL(qnn_multiplier(0.0, &mult, &shift), -1);
	CU_ASSERT_EQUAL(qnn_multiplier(-1.0, &mult, &shift), -1);
	CU_ASSERT_EQUAL(qnn_multiplier(NAN, &mult, &shift), -1);
	CU_ASSERT_EQUAL(qnn_multiplier(0x1p31, &mult, &shift), -1);
	/* random: within half a unit of acc * m, plus the multiplier's rounding */
	uint64_t st = 5;
	for (int k = 0; k < 20000; k++) {
		double m = exp(log(1e-5) + trng_unit(&st) * (log(300.0) - log(1e-5)));
		int32_t acc = (int32_t)((trng_unit(&st) - 0.5) * 2e6);
		CU_ASSERT_EQUAL_FATAL(qnn_multiplier(m, &mult, &shift), 0);
		CU_ASSERT_FATAL(mult >= (1 << 30) && shift >= 1 && shift <= 62);
		double want = (double)acc * m;
		int32_t got = qnn_requant(acc, mult, shift, INT32_MIN, INT32_MAX);
		CU_ASSERT_FATAL(fabs(got - want) <= 0.5 + fabs(want) * 0x1p-30 + 1e-9);
	}
}

static void test_saturation(void)
{
	int32_t mult, shift;
	CU_ASSERT_EQUAL_FATAL(qnn_multiplier(0.01, &mult, &shift), 0);
	CU_ASSERT_EQUAL(qnn_requant(INT32_MAX, mult, shift, -128, 127), 127);
	CU_ASSERT_EQUAL(qnn_requant(INT32_MIN, mult, shift, -128, 127), -128);
	CU_ASSERT_EQUAL(qnn_requant(12800, mult, shift, -128, 127), 127); /* 128 */
	CU_ASSERT_EQUAL(qnn_requant(12700, mult, shift, -128, 127), 127);
	CU_ASSERT_EQUAL(qnn_requant(-12900, mult, shift, -128, 127), -128);
	CU_ASSERT_EQUAL(qnn_requant(-300, mult, shift, 0, 127), 0);       /* ReLU floor */
	CU_ASSERT_EQUAL(qnn_quantize(1e9f, 1.0f, 0), 127);
	CU_ASSERT_EQUAL(qnn_quantize(-1e9f, 1.0f, 0), -128);
	CU_ASSERT_EQUAL(qnn_quantize(INFINITY, 1.0f, 0), 127);
	CU_ASSERT_EQUAL(qnn_quantize(0.5f, 100.0f, -128), -78);
	CU_ASSERT_EQUAL(qnn_quantize(2.0f, 100.0f, -128), 72);
	CU_ASSERT_EQUAL(qnn_quantize(3.0f, 100.0f, -128), 127);          /* 172 saturates */
}

/* x -> relu(I x) -> I h: 4 -> 4 -> 4, input scale 1/127 (zero point 0),
 * hidden [0, 1] (1/255, -128), linear int16 output. */
static void closed_form(nn *net, qnn *q)
{
	int sizes[3] = {4, 4, 4};
	nn_act act[2] = {NN_RELU, NN_LINEAR};
	CU_ASSERT_EQUAL_FATAL(nn_init(net, 2, sizes, act), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(qnn_init(q, 2, sizes, act), IOTAD_OK);
	for (int l = 0; l < 2; l++) {
		float *w = net->params + nn_layer_offset(net, l);
		for (int i = 0; i < 4; i++)
			w[i * 4 + i] = 1.0f;
	}
	qnn_quantize_weights(net, NULL, q);
	q->a_scale[0] = 1.0f / 127;
	q->a_zp[0] = 0;
	q->a_scale[1] = 1.0f / 255;
	q->a_zp[1] = -128;
	q->out_scale = 2.0f / 32767;
	CU_ASSERT_EQUAL_FATAL(qnn_prepare(q, NULL, NULL), IOTAD_OK);
}

static void test_closed_form(void)
{
	nn net;
	qnn q;
	closed_form(&net, &q);
	float *scratch = malloc(qnn_scratch_floats(&q) * sizeof *scratch);
	CU_ASSERT_FATAL(scratch != NULL);
	/* Error bound for x in [0, 1]: input rounding 1/254, each weight's
	 * relative rounding (its scale is 1/127 rounded up a 1/16 octave, so
	 * 1 maps to 122..127 of it) 1/244 twice, the hidden rounding 1/510 and
	 * the output's 1/32767: 0.0142 in all. */
	const double bound = 1.0 / 254 + 2.0 / 244 + 1.0 / 510 + 1.0 / 32767;
	for (int k = 0; k <= 100; k++) {
		float x[4] = {k / 100.0f, 1.0f - k / 100.0f, 0.5f, -k / 100.0f};
		float err[4];
		float mse = qnn_forward(&q, x, scratch, err);
		double want[4] = {x[0], x[1], x[2], 0.0}, se = 0.0;
		for (int i = 0; i < 4; i++) {
			CU_ASSERT(fabs(scratch[i] - want[i]) <= bound);
			se += (scratch[i] - (double)x[i]) * (scratch[i] - (double)x[i]);
			CU_ASSERT(fabs(err[i] - (scratch[i] - x[i]) * (scratch[i] - x[i])) < 1e-6);
		}
		/* ReLU: a negative input gives exactly 0 */
		CU_ASSERT_EQUAL(scratch[3], 0.0f);
		CU_ASSERT(fabs(mse - se / 4) < 1e-6);
	}
	/* saturation: inputs beyond the calibrated ranges clamp, never wrap */
	float big[4] = {5.0f, 1.3f, -5.0f, 1e30f};
	qnn_forward(&q, big, scratch, NULL);
	CU_ASSERT(fabs(scratch[0] - 1.0) <= bound); /* input 127/127, hidden 255/255 */
	CU_ASSERT(fabs(scratch[1] - 1.0) <= bound);
	CU_ASSERT_EQUAL(scratch[2], 0.0f);
	CU_ASSERT(fabs(scratch[3] - 1.0) <= bound);
	free(scratch);
	qnn_free(&q);
	nn_free(&net);
}

/* A model of random (untrained) networks on W x F windows of identity
 * normalization, and rows uniform in [0, 1]. */
static void random_model(model *m, int w, int f, int members, nn_act out_act, uint64_t seed)
{
	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "rand");
	m->version = 1;
	m->n_features = f;
	m->window = w;
	m->stride = 1;
	m->norm = NORM_MINMAX;
	for (int j = 0; j < f; j++) {
		snprintf(m->features[j], sizeof m->features[j], "f%d", j);
		m->norm_b[j] = 1.0f;
	}
	int d = w * f, sizes[5] = {d, (d * 12 + 10) / 20, (d * 6 + 10) / 20, (d * 12 + 10) / 20, d};
	nn_act act[4] = {NN_RELU, NN_RELU, NN_RELU, out_act};
	for (int k = 0; k < members; k++) {
		nn *net = k ? &m->more[k - 1] : &m->net;
		CU_ASSERT_EQUAL_FATAL(nn_init(net, 4, sizes, act), IOTAD_OK);
		nn_init_weights(net, seed + (uint64_t)k);
		uint64_t r = seed * 7 + (uint64_t)k;
		for (int l = 0; l < 4; l++) { /* biases are zero after init: give some */
			float *b = net->params + nn_layer_offset(net, l) + (size_t)sizes[l + 1] * sizes[l];
			for (int o = 0; o < sizes[l + 1]; o++)
				b[o] = (float)(trng_unit(&r) - 0.5) * 0.4f;
		}
		m->n_more = k;
	}
	m->percentile = 99.0f;
	m->threshold = 1.0f;
}

static float *random_rows(size_t n, int f, uint64_t seed)
{
	float *rows = malloc(n * (size_t)f * sizeof *rows);
	CU_ASSERT_FATAL(rows != NULL);
	for (size_t i = 0; i < n * (size_t)f; i++)
		rows[i] = (float)trng_unit(&seed);
	return rows;
}

/* int8 against float on 1000 windows of the data it was calibrated on:
 * every reconstructed element within 0.03 and the score within 10 % (and
 * 1e-4): the stated accuracy of the kernel on the seeds' shape. */
static void check_against_float(int w, int f, nn_act out_act)
{
	model m, q;
	quant_opts o;
	char err[256];
	size_t n = 1200;
	random_model(&m, w, f, 1, out_act, 11);
	float *rows = random_rows(n, f, 3);
	quant_opts_default(&o);
	CU_ASSERT_EQUAL_FATAL(quant_model(&m, rows, n, &o, &q, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(q.type, MODEL_INT8);
	int d = w * f;
	float *sf = malloc(model_scratch_floats(&m) * sizeof *sf);
	float *s8 = malloc(model_scratch_floats(&q) * sizeof *s8);
	CU_ASSERT_FATAL(sf && s8);
	double worst = 0.0, worst_rel = 0.0;
	for (size_t k = 0; k < 1000; k++) {
		const float *x = rows + k * (size_t)f;
		float a = model_score(&m, x, sf, NULL, NULL);
		float b = model_score(&q, x, s8, NULL, NULL);
		const float *yf = sf + nn_scratch_floats(&m.net) - (size_t)d;
		for (int i = 0; i < d; i++)
			worst = fabs(s8[i] - yf[i]) > worst ? fabs(s8[i] - yf[i]) : worst;
		double rel = fabs(b - a) / (a + 1e-3);
		worst_rel = rel > worst_rel ? rel : worst_rel;
		CU_ASSERT(fabs(b - a) <= 0.1 * a + 1e-4);
	}
	CU_ASSERT(worst <= 0.03);
	CU_ASSERT(worst > 0.0); /* it is int8: not the float network by accident */
	free(sf);
	free(s8);
	free(rows);
	model_free(&m);
	model_free(&q);
}

static void test_random_sigmoid(void)
{
	check_against_float(10, 2, NN_SIGMOID); /* the seeds' 20-12-6-12-20 */
	check_against_float(16, 8, NN_SIGMOID);
}

static void test_random_linear(void)
{
	check_against_float(7, 3, NN_LINEAR);
}

/* The threshold is the percentile of the int8 scores of the held-out windows. */
static void test_int8_calibration(void)
{
	model m, q;
	quant_opts o;
	char err[256];
	size_t n = 500;
	int w = 5, f = 3;
	random_model(&m, w, f, 2, NN_SIGMOID, 4);
	m.percentile = 100.0f;
	float *rows = random_rows(n, f, 9);
	quant_opts_default(&o);
	CU_ASSERT_EQUAL_FATAL(quant_model(&m, rows, n, &o, &q, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(q.n_more, 1);
	/* windows 0..495, the last floor(0.2 * 496) = 99 held out */
	CU_ASSERT_EQUAL_FATAL(q.n_calib, 99);
	float *s = malloc(model_scratch_floats(&q) * sizeof *s), mx = 0.0f;
	for (size_t i = 496 - 99; i < 496; i++) {
		float v = model_score(&q, rows + i * (size_t)f, s, NULL, NULL);
		mx = v > mx ? v : mx;
	}
	CU_ASSERT_DOUBLE_EQUAL(q.threshold, mx, 1e-7);
	CU_ASSERT(fabs(q.calib[q.n_calib - 1] - mx) <= mx * 1e-3); /* stored to 0.07 % */
	free(s);
	free(rows);
	model_free(&m);
	model_free(&q);
}

static void expect_refused(qnn *q, const char *what_part)
{
	int layer = -2;
	const char *what = NULL;
	CU_ASSERT_EQUAL(qnn_prepare(q, &layer, &what), IOTAD_ERR_MODEL);
	CU_ASSERT(what && strstr(what, what_part));
	CU_ASSERT(layer >= -1);
}

static void test_prepare_refuses(void)
{
	nn net;
	qnn q;
	closed_form(&net, &q);
	float bad[] = {0.0f, -1.0f, NAN, INFINITY};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		q.a_scale[1] = bad[k];
		expect_refused(&q, "activation scale");
		q.a_scale[1] = 1.0f / 255;
		q.out_scale = bad[k];
		expect_refused(&q, "output scale");
		q.out_scale = 2.0f / 32767;
	}
	q.a_zp[1] = 200;
	expect_refused(&q, "zero point");
	q.a_zp[1] = -128;
	q.layer[1].w[0] = -128;
	expect_refused(&q, "weight -128");
	q.layer[1].w[0] = 127;
	q.layer[0].b16[2] = INT16_MIN;
	expect_refused(&q, "bias -32768");
	q.layer[0].b16[2] = 0;
	/* a multiplier past 2^30: a huge weight scale over a tiny output scale */
	q.layer[1].w_exp = 127;
	q.out_scale = 1e-30f;
	expect_refused(&q, "multiplier");
	q.layer[1].w_exp = 0;
	q.out_scale = 2.0f / 32767;
	qnn_quantize_weights(&net, NULL, &q);
	CU_ASSERT_EQUAL(qnn_prepare(&q, NULL, NULL), IOTAD_OK);
	qnn_free(&q);
	nn_free(&net);
}

static void test_grid(void)
{
	for (int k = -200; k <= 200; k++) {
		CU_ASSERT_DOUBLE_EQUAL(qnn_grid(k), pow(2.0, k / 16.0), pow(2.0, k / 16.0) * 1e-15);
		CU_ASSERT_EQUAL(qnn_grid_ceil(qnn_grid(k)), k);
		CU_ASSERT_EQUAL(qnn_grid_ceil(qnn_grid(k) * 1.001), k + 1);
	}
	for (float v = 1e-12f; v < 1e12f; v *= 1.37f) {
		float back = qnn_code_score(qnn_score_code(v));
		CU_ASSERT(fabsf(back - v) <= v * 7e-4f);
	}
	CU_ASSERT_EQUAL(qnn_score_code(0.0f), 0);
	CU_ASSERT_EQUAL(qnn_code_score(0), 0.0f);
}

void init_qnn_tests(void)
{
	CU_pSuite s = CU_add_suite("qnn", NULL, NULL);
	TEST_ADD(s, test_requant_rounding);
	TEST_ADD(s, test_saturation);
	TEST_ADD(s, test_closed_form);
	TEST_ADD(s, test_random_sigmoid);
	TEST_ADD(s, test_random_linear);
	TEST_ADD(s, test_int8_calibration);
	TEST_ADD(s, test_prepare_refuses);
	TEST_ADD(s, test_grid);
}
