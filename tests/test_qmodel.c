/* test_qmodel.c - unit tests of the int8 model encoding: round trip (in
 * memory and through model_save / model_load), CRC, magic, version and
 * truncation refused, bad scales and out-of-range values refused with a
 * message naming them, and the federated update's size and accuracy. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/model_io.h"
#include "iotad/qmodel_io.h"
#include "iotad/quantize.h"
#include "test.h"
#include "test_rng.h"

/* An int8 model of the seeds' shape (window 10 x 2 features, 20-12-6-12-20),
 * quantized from a random float one on random rows. */
static void int8_model(model *q, int members)
{
	model m;
	memset(&m, 0, sizeof m);
	snprintf(m.id, sizeof m.id, "ref-ae");
	m.version = 4;
	m.n_features = 2;
	snprintf(m.features[0], sizeof m.features[0], "temperature");
	snprintf(m.features[1], sizeof m.features[1], "humidity");
	m.window = 10;
	m.stride = 2;
	m.norm = NORM_MINMAX;
	m.norm_a[0] = 10.0f;
	m.norm_b[0] = 30.0f;
	m.norm_a[1] = 20.0f;
	m.norm_b[1] = 80.0f;
	m.stuck_after[0] = 12;
	m.percentile = 99.0f;
	int sizes[5] = {20, 12, 6, 12, 20};
	nn_act act[4] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	for (int k = 0; k < members; k++) {
		nn *net = k ? &m.more[k - 1] : &m.net;
		CU_ASSERT_EQUAL_FATAL(nn_init(net, 4, sizes, act), IOTAD_OK);
		nn_init_weights(net, 21 + (uint64_t)k);
		m.n_more = k;
	}
	uint64_t st = 8;
	size_t n = 300;
	float *rows = malloc(n * 2 * sizeof *rows);
	CU_ASSERT_FATAL(rows != NULL);
	for (size_t i = 0; i < n; i++) {
		rows[2 * i] = 10.0f + 20.0f * (float)trng_unit(&st);
		rows[2 * i + 1] = 20.0f + 60.0f * (float)trng_unit(&st);
	}
	quant_opts o;
	char err[256];
	quant_opts_default(&o);
	CU_ASSERT_EQUAL_FATAL(quant_model(&m, rows, n, &o, q, err, sizeof err), IOTAD_OK);
	free(rows);
	model_free(&m);
}

static void same_scores(const model *a, const model *b)
{
	size_t d = (size_t)a->window * (size_t)a->n_features;
	float *sa = malloc(model_scratch_floats(a) * sizeof *sa);
	float *sb = malloc(model_scratch_floats(b) * sizeof *sb);
	float *x = malloc(4 * d * sizeof *x), *ea = x + d, *eb = x + 2 * d, *tmp = x + 3 * d;
	uint64_t st = 2;
	CU_ASSERT_FATAL(sa && sb && x);
	for (int k = 0; k < 50; k++) {
		for (size_t i = 0; i < d; i++)
			x[i] = (float)trng_unit(&st) * 1.2f - 0.1f;
		float va = model_score(a, x, sa, ea, tmp), vb = model_score(b, x, sb, eb, tmp);
		CU_ASSERT_EQUAL(va, vb);
		CU_ASSERT(memcmp(ea, eb, d * sizeof *ea) == 0);
	}
	free(sa);
	free(sb);
	free(x);
}

static void test_roundtrip(void)
{
	model q, d;
	unsigned char *buf;
	size_t len;
	char err[256];
	int8_model(&q, 2);
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&q, &buf, &len), IOTAD_OK);
	CU_ASSERT(qmodel_is_binary(buf, len));
	CU_ASSERT_EQUAL_FATAL(qmodel_decode(buf, len, &d, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(d.type, MODEL_INT8);
	CU_ASSERT_STRING_EQUAL(d.id, "ref-ae");
	CU_ASSERT_EQUAL(d.version, 4);
	CU_ASSERT_STRING_EQUAL(d.features[1], "humidity");
	CU_ASSERT_EQUAL(d.window, 10);
	CU_ASSERT_EQUAL(d.stride, 2);
	CU_ASSERT_EQUAL(d.norm_b[1], 80.0f);
	CU_ASSERT_EQUAL(d.stuck_after[0], 12);
	CU_ASSERT_EQUAL(d.n_more, 1);
	CU_ASSERT_EQUAL(d.threshold, q.threshold);
	CU_ASSERT_EQUAL_FATAL(d.n_calib, q.n_calib);
	CU_ASSERT(memcmp(d.calib, q.calib, (size_t)q.n_calib * sizeof *q.calib) == 0);
	CU_ASSERT(memcmp(d.net.params, q.net.params, q.net.n_params * sizeof(float)) == 0);
	same_scores(&q, &d);
	/* through a file: model_load tells the encoding by its magic */
	char path[] = "/tmp/iotad-qmodel-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	model f;
	CU_ASSERT_EQUAL_FATAL(model_save(&q, path), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(model_load(path, &f, err, sizeof err), IOTAD_OK);
	same_scores(&q, &f);
	unlink(path);
	/* compact: two networks of 674 parameters in under a third of their
	 * float32 bytes, plus two bytes a calibration score and the header */
	CU_ASSERT(len < 2 * 674 * 4 / 3 + 2 * (size_t)q.n_calib + 128);
	free(buf);
	model_free(&q);
	model_free(&d);
	model_free(&f);
}

/* Re-seal buf after an edit: the CRC over the new bytes. */
static void reseal(unsigned char *buf, size_t len)
{
	uint32_t c = qmodel_crc32(0, buf, len - 4);
	for (int i = 0; i < 4; i++)
		buf[len - 4 + (size_t)i] = (unsigned char)(c >> (8 * i));
}

static void expect_bad(const unsigned char *buf, size_t len, const char *part)
{
	model d;
	char err[256] = "";
	CU_ASSERT_EQUAL(qmodel_decode(buf, len, &d, err, sizeof err), IOTAD_ERR_MODEL);
	CU_ASSERT_PTR_NULL(d.q);
	if (!strstr(err, part))
		fprintf(stderr, "\n  expected \"%s\" in \"%s\"\n", part, err);
	CU_ASSERT(strstr(err, part) != NULL);
}

static void test_crc32(void)
{
	/* the check value of CRC-32/ISO-HDLC (zlib, PNG, Ethernet) */
	CU_ASSERT_EQUAL(qmodel_crc32(0, "123456789", 9), 0xcbf43926u);
	CU_ASSERT_EQUAL(qmodel_crc32(qmodel_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
	CU_ASSERT_EQUAL(qmodel_crc32(0, "", 0), 0u);
}

static void test_corruption(void)
{
	model q;
	unsigned char *buf;
	size_t len;
	int8_model(&q, 1);
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&q, &buf, &len), IOTAD_OK);
	/* every single flipped bit is caught by the CRC */
	for (size_t i = 3; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			buf[i] ^= (unsigned char)(1u << bit);
			expect_bad(buf, len, "CRC");
			buf[i] ^= (unsigned char)(1u << bit);
		}
	}
	for (size_t n = 0; n < len; n += 7)
		expect_bad(buf, n, n < 9 ? "too short" : "CRC");
	buf[0] = 'X';
	expect_bad(buf, len, "magic");
	buf[0] = 'I';
	buf[3] = QMODEL_VERSION + 1;
	reseal(buf, len);
	expect_bad(buf, len, "version 4 not supported");
	buf[3] = QMODEL_VERSION;
	buf[4] = QMODEL_KIND_UPDATE;
	reseal(buf, len);
	expect_bad(buf, len, "kind");
	buf[4] = QMODEL_KIND_MODEL;
	/* a byte too many, sealed: refused too */
	unsigned char *more = malloc(len + 1);
	memcpy(more, buf, len - 4);
	more[len - 4] = 0;
	reseal(more, len + 1);
	expect_bad(more, len + 1, "unexpected bytes");
	free(more);
	free(buf);
	model_free(&q);
}

/* Encode q after edit(), expect the decoder to name part. */
static void bad_value(void (*edit)(model *), const char *part)
{
	model q;
	unsigned char *buf;
	size_t len;
	int8_model(&q, 1);
	edit(&q);
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&q, &buf, &len), IOTAD_OK);
	expect_bad(buf, len, part);
	free(buf);
	model_free(&q);
}

static void e_scale0(model *q) { q->q[0].a_scale[2] = 0.0f; }
static void e_scale_neg(model *q) { q->q[0].a_scale[0] = -0.5f; }
static void e_scale_nan(model *q) { q->q[0].a_scale[1] = NAN; }
static void e_out_inf(model *q) { q->q[0].out_scale = INFINITY; }
static void e_sig_scale(model *q) { q->q[0].out_scale = 0.01f; }
static void e_weight(model *q) { q->q[0].layer[2].w[3] = -128; }
static void e_bias(model *q) { q->q[0].layer[3].b16[5] = INT16_MIN; }
static void e_window(model *q) { q->window = 0; }
static void e_shape(model *q) { q->window = 9; q->stride = 1; }
static void e_stride(model *q) { q->stride = 11; }
static void e_thr(model *q) { q->threshold = NAN; }
static void e_thr0(model *q) { q->threshold = 0.0f; }
static void e_pct(model *q) { q->percentile = 150.0f; }
static void e_stuck(model *q) { q->stuck_after[1] = 1; }
static void e_norm(model *q) { q->norm_b[0] = 5.0f; }
static void e_dup(model *q) { memcpy(q->features[1], q->features[0], MODEL_NAME_MAX); }
static void e_calib(model *q) { q->calib[0] = q->calib[q->n_calib - 1] * 2.0f; }

static void test_bad_values(void)
{
	bad_value(e_scale0, "activation scale");
	bad_value(e_scale_neg, "activation scale");
	bad_value(e_scale_nan, "activation scale");
	bad_value(e_out_inf, "output scale");
	bad_value(e_sig_scale, "output scale");
	bad_value(e_weight, "weight -128");
	bad_value(e_bias, "bias -32768");
	bad_value(e_window, "window: 0 out of range");
	bad_value(e_shape, "window * features");
	bad_value(e_stride, "stride: 11 out of range");
	bad_value(e_thr, "threshold");
	bad_value(e_thr0, "threshold");
	bad_value(e_pct, "percentile");
	bad_value(e_stuck, "stuck_after");
	bad_value(e_norm, "max below min");
	bad_value(e_dup, "duplicate");
	/* calibration scores out of order cannot be written at all */
	model q;
	unsigned char *buf = NULL;
	size_t len;
	int8_model(&q, 1);
	e_calib(&q);
	CU_ASSERT_EQUAL(qmodel_encode(&q, &buf, &len), IOTAD_ERR_INVAL);
	free(buf);
	model_free(&q);
}

static void test_update(void)
{
	int sizes[5] = {20, 12, 6, 12, 20};
	nn_act act[4] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	nn net, back;
	CU_ASSERT_EQUAL_FATAL(nn_init(&net, 4, sizes, act), IOTAD_OK);
	nn_init_weights(&net, 3);
	uint64_t st = 4;
	for (int l = 0; l < 4; l++) {
		float *b = net.params + nn_layer_offset(&net, l) + (size_t)sizes[l + 1] * sizes[l];
		for (int o = 0; o < sizes[l + 1]; o++)
			b[o] = (float)(trng_unit(&st) - 0.5);
	}
	CU_ASSERT_EQUAL(net.n_params, 674u);
	qmodel_update u = {.round = 17, .base_hash = 0xdeadbeef, .samples = 5000}, v;
	unsigned char *buf;
	size_t len;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(qmodel_update_encode(&net, &u, &buf, &len), IOTAD_OK);
	size_t f32 = qmodel_update_float32_bytes(&net, len);
	/* the targets: under 1 kB with room for an MQTT header and topic, and
	 * 3.5 times smaller than the same update in float32 */
	CU_ASSERT(len <= 900);
	CU_ASSERT((double)f32 / (double)len >= 3.5);
	CU_ASSERT_EQUAL_FATAL(qmodel_update_decode(buf, len, &back, &v, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(v.round, 17u);
	CU_ASSERT_EQUAL(v.base_hash, 0xdeadbeefu);
	CU_ASSERT_EQUAL(v.samples, 5000u);
	CU_ASSERT_EQUAL_FATAL(back.n_params, net.n_params);
	/* each weight within half its channel's step (the largest of the row
	 * over 127, up a 1/16 octave), each bias within half of the layer's
	 * largest over 127 (up a quarter octave) */
	for (int l = 0; l < 4; l++) {
		size_t off = nn_layer_offset(&net, l), in = (size_t)sizes[l], out = (size_t)sizes[l + 1];
		double bmax = 0.0;
		for (size_t o = 0; o < out; o++) {
			double mx = 0.0;
			for (size_t i = 0; i < in; i++)
				mx = fmax(mx, fabs(net.params[off + o * in + i]));
			for (size_t i = 0; i < in; i++)
				CU_ASSERT(fabs(back.params[off + o * in + i] - net.params[off + o * in + i]) <=
					  0.5 * mx / 127 * 1.045 + 1e-7);
			bmax = fmax(bmax, fabs(net.params[off + out * in + o]));
		}
		for (size_t o = 0; o < out; o++)
			CU_ASSERT(fabs(back.params[off + out * in + o] - net.params[off + out * in + o]) <=
				  0.5 * bmax / 127 * 1.2 + 1e-6);
	}
	nn_free(&back);
	buf[len / 2] ^= 0x10;
	CU_ASSERT_EQUAL(qmodel_update_decode(buf, len, &back, &v, err, sizeof err), IOTAD_ERR_MODEL);
	CU_ASSERT(strstr(err, "CRC") != NULL);
	CU_ASSERT_PTR_NULL(back.params);
	/* an update is not a model, nor a model an update */
	model d;
	buf[len / 2] ^= 0x10;
	CU_ASSERT_EQUAL(qmodel_decode(buf, len, &d, err, sizeof err), IOTAD_ERR_MODEL);
	CU_ASSERT(strstr(err, "kind") != NULL);
	free(buf);
	nn_free(&net);
}

/* A version 1 file (16-bit biases, byte codes) still loads, and written
 * again as the current version it scores bit for bit the same. */
static void test_reads_v1(void)
{
	char path[512], err[256];
	model a, b;
	unsigned char *buf;
	size_t len;
	snprintf(path, sizeof path, "%s/qmodel_v1.iq8", test_fixture_dir);
	CU_ASSERT_EQUAL_FATAL(model_load(path, &a, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(a.type, MODEL_INT8);
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&a, &buf, &len), IOTAD_OK);
	CU_ASSERT_EQUAL(buf[3], QMODEL_VERSION);
	CU_ASSERT_EQUAL_FATAL(qmodel_decode(buf, len, &b, err, sizeof err), IOTAD_OK);
	same_scores(&a, &b);
	free(buf);
	model_free(&a);
	model_free(&b);
}

/* A version 2 file (float32 normalization and scales, 16-bit calibration
 * codes, a byte per activation) still loads, and written again as version
 * 3 it keeps every value and scores bit for bit the same. */
static void test_reads_v2(void)
{
	char path[512], err[256];
	model a, b;
	unsigned char *buf;
	size_t len;
	snprintf(path, sizeof path, "%s/qmodel_v2.iq8", test_fixture_dir);
	CU_ASSERT_EQUAL_FATAL(model_load(path, &a, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&a, &buf, &len), IOTAD_OK);
	CU_ASSERT_EQUAL(buf[3], 3);
	CU_ASSERT_EQUAL_FATAL(qmodel_decode(buf, len, &b, err, sizeof err), IOTAD_OK);
	CU_ASSERT(memcmp(a.norm_a, b.norm_a, sizeof a.norm_a) == 0);
	CU_ASSERT(memcmp(a.norm_b, b.norm_b, sizeof a.norm_b) == 0);
	CU_ASSERT(memcmp(a.q[0].a_scale, b.q[0].a_scale, sizeof a.q[0].a_scale) == 0);
	CU_ASSERT_EQUAL(a.q[0].out_scale, b.q[0].out_scale);
	CU_ASSERT_EQUAL_FATAL(a.n_calib, b.n_calib);
	CU_ASSERT(a.n_calib == 0 || memcmp(a.calib, b.calib, (size_t)a.n_calib * sizeof *a.calib) == 0);
	same_scores(&a, &b);
	free(buf);
	model_free(&a);
	model_free(&b);
}

/* Offset of a version 3 model's form byte: after the header, id, version,
 * names, window and stride. */
static size_t form_at(const unsigned char *buf)
{
	size_t at = 5 + 1 + buf[5];
	while (buf[at++] & 0x80)
		;
	unsigned nf = buf[at++];
	for (unsigned i = 0; i < nf; i++)
		at += 1 + (size_t)buf[at];
	for (int v = 0; v < 2; v++)
		while (buf[at++] & 0x80)
			;
	return at;
}

/* The quantizer rounds the normalization to half floats within 2^-12 of
 * the span, and the activation scales up to 3-byte floats by at most
 * 2^-15; the file keeps them in two and three bytes; values that need
 * float32 keep float32. */
static void test_short_forms(void)
{
	model q, d;
	unsigned char *buf;
	size_t len;
	char err[256];
	int8_model(&q, 1);
	/* int8_model's min-max ranges (10..30, 20..80) are exact half floats */
	CU_ASSERT_EQUAL(q.norm_a[0], 10.0f);
	CU_ASSERT_EQUAL(q.norm_b[1], 80.0f);
	for (int l = 0; l < q.q[0].n_layers; l++) {
		uint32_t u;
		memcpy(&u, &q.q[0].a_scale[l], 4);
		CU_ASSERT_EQUAL(u & 0xffu, 0u);
	}
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&q, &buf, &len), IOTAD_OK);
	size_t at = form_at(buf);
	CU_ASSERT_EQUAL(buf[at], 5); /* half normalization, 3-byte scales */
	free(buf);
	/* a pressure in Pa over a 0.37 Pa span: neither half nor 3-byte floats
	 * hold it within 2^-12 of the span, so the file keeps float32 */
	q.norm_a[0] = 101325.13f;
	q.norm_b[0] = 101325.5f;
	q.q[0].a_scale[1] = 0.0123457f;
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&q, &buf, &len), IOTAD_OK);
	at = form_at(buf);
	CU_ASSERT_EQUAL(buf[at], 0);
	CU_ASSERT_EQUAL_FATAL(qmodel_decode(buf, len, &d, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(d.norm_a[0], 101325.13f);
	CU_ASSERT_EQUAL(d.norm_b[0], 101325.5f);
	CU_ASSERT_EQUAL(d.q[0].a_scale[1], 0.0123457f);
	model_free(&d);
	/* unknown form bits and both normalization forms at once are refused */
	buf[at] = 8;
	reseal(buf, len);
	expect_bad(buf, len, "form: unknown bits");
	buf[at] = 3;
	reseal(buf, len);
	expect_bad(buf, len, "form: normalization both");
	free(buf);
	/* 3-byte floats: a range half floats cannot hold (above 65504) */
	q.norm_a[0] = 70000.0f;
	q.norm_b[0] = 71000.0f;
	q.q[0].a_scale[1] = 0.0123291015625f; /* a 3-byte float */
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&q, &buf, &len), IOTAD_OK);
	at = form_at(buf);
	CU_ASSERT_EQUAL(buf[at], 6);
	CU_ASSERT_EQUAL_FATAL(qmodel_decode(buf, len, &d, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(d.norm_a[0], 70000.0f);
	model_free(&d);
	free(buf);
	/* a half float that is infinite, in the normalization: refused */
	q.norm_a[0] = 10.0f;
	q.norm_b[0] = 30.0f;
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&q, &buf, &len), IOTAD_OK);
	at = form_at(buf);
	CU_ASSERT_EQUAL_FATAL(buf[at], 5);
	buf[at + 2] = 0x00; /* norm a[0]: 0x7c00, +infinity */
	buf[at + 3] = 0x7c;
	reseal(buf, len);
	expect_bad(buf, len, "infinite or not a number");
	buf[at + 3] = 0x00; /* 0x0000 is 0, 0x0001 a subnormal */
	buf[at + 2] = 0x01;
	reseal(buf, len);
	expect_bad(buf, len, "subnormal");
	free(buf);
	model_free(&q);
}

/* Calibration codes as Rice-coded differences: round trip, and a bad
 * parameter, a code beyond 16 bits, a truncated stream and padding bits
 * refused. */
static void test_calib_rice(void)
{
	model q, d;
	unsigned char *buf;
	size_t len;
	char err[256];
	int8_model(&q, 1);
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&q, &buf, &len), IOTAD_OK);
	/* the held-out windows' scores take well under 16 bits each */
	CU_ASSERT(q.n_calib > 20);
	CU_ASSERT_EQUAL_FATAL(qmodel_decode(buf, len, &d, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(d.n_calib, q.n_calib);
	CU_ASSERT(memcmp(d.calib, q.calib, (size_t)q.n_calib * sizeof *q.calib) == 0);
	model_free(&d);
	free(buf);
	/* two codes 3 apart: count 2, first u16, k = 1, one byte of bits */
	q.n_calib = 2;
	q.calib[0] = qnn_code_score(1000);
	q.calib[1] = qnn_code_score(1003);
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&q, &buf, &len), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(qmodel_decode(buf, len, &d, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(d.calib[1], qnn_code_score(1003));
	model_free(&d);
	unsigned char *t = buf + len - 9;
	CU_ASSERT_EQUAL_FATAL(t[0], 2);
	CU_ASSERT_EQUAL(t[1] | t[2] << 8, 1000);
	CU_ASSERT_EQUAL_FATAL(t[3], 1);
	unsigned char rice = t[4];
	t[3] = 16;
	reseal(buf, len);
	expect_bad(buf, len, "Rice parameter 16");
	t[3] = 1;
	t[1] = t[2] = 0xff;
	reseal(buf, len);
	expect_bad(buf, len, "beyond 65535");
	t[1] = 1000 & 0xff;
	t[2] = 1000 >> 8;
	t[4] = 0xff;
	reseal(buf, len);
	expect_bad(buf, len, "truncated");
	t[4] = (unsigned char)(rice | 0x80);
	reseal(buf, len);
	expect_bad(buf, len, "padding bits not zero");
	free(buf);
	model_free(&q);
}

/* The quantizer's biases fit their width, and the file shrinks with it. */
static void test_bias_bits(void)
{
	model q;
	unsigned char *buf;
	size_t len12;
	int8_model(&q, 1);
	for (int l = 0; l < q.q[0].n_layers; l++)
		for (int o = 0; o < q.q[0].layer[l].out; o++)
			CU_ASSERT(abs(q.q[0].layer[l].b16[o]) <= 2047);
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&q, &buf, &len12), IOTAD_OK);
	free(buf);
	/* the same biases widened to 16 bits cost two bytes more a channel... */
	size_t channels = 0;
	for (int l = 0; l < q.q[0].n_layers; l++) {
		qnn_layer *y = &q.q[0].layer[l];
		channels += (size_t)y->out;
		for (int o = 0; o < y->out; o++)
			y->b16[o] = (int16_t)(y->b16[o] * 16);
		y->b_exp = (int8_t)(y->b_exp - 16);
	}
	size_t len16;
	CU_ASSERT_EQUAL_FATAL(qmodel_encode(&q, &buf, &len16), IOTAD_OK);
	CU_ASSERT(len16 >= len12 + channels / 2 - q.q[0].n_layers);
	/* ...and a width nibble beyond 8 bits for the scale codes is refused */
	static const char want[] = "scale codes of";
	size_t at = 0;
	for (size_t i = 0; i + 6 < len16 && !at; i++) {
		uint32_t u;
		memcpy(&u, &q.q[0].out_scale, 4); /* a 3-byte float in the file */
		if (buf[i] == ((u >> 8) & 0xff) && buf[i + 1] == ((u >> 16) & 0xff) &&
		    buf[i + 2] == u >> 24 && (int8_t)buf[i + 3] == q.q[0].layer[0].w_exp &&
		    (int8_t)buf[i + 4] == q.q[0].layer[0].b_exp)
			at = i + 5;
	}
	CU_ASSERT_FATAL(at > 0);
	buf[at] = (unsigned char)((buf[at] & 0xf0) | 9);
	reseal(buf, len16);
	expect_bad(buf, len16, want);
	free(buf);
	model_free(&q);
}

void init_qmodel_tests(void)
{
	CU_pSuite s = CU_add_suite("qmodel", NULL, NULL);
	TEST_ADD(s, test_reads_v1);
	TEST_ADD(s, test_reads_v2);
	TEST_ADD(s, test_short_forms);
	TEST_ADD(s, test_calib_rice);
	TEST_ADD(s, test_bias_bits);
	TEST_ADD(s, test_roundtrip);
	TEST_ADD(s, test_crc32);
	TEST_ADD(s, test_corruption);
	TEST_ADD(s, test_bad_values);
	TEST_ADD(s, test_update);
}
