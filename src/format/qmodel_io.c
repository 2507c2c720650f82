/* qmodel_io.c - binary encoding of int8 models (and the layout of
 * federated updates, which qupdate_io.c writes and reads).
 *
 * Little-endian; "var" is an unsigned LEB128 varint (at most 5 bytes).
 *   header   "IQ8", version u8 (model 3, update 1), kind u8 (1 model, 2 update)
 *   model    id (u8 length + bytes), version var, features u8 + names
 *            (u8 length + bytes each), window var, stride var, [v3: form
 *            u8], norm u8, norm a x F, b x F (v3 with form bit 0: IEEE half
 *            floats, bit 1: 3-byte floats, the high 24 bits of the
 *            float32; else f32), stuck_after u8 x F, threshold f32,
 *            percentile f32, members u8, shape, then per member: a_scale x
 *            L, a_zp i8 x L, out_scale (v3 with form bit 2: 3-byte floats;
 *            else f32), weights; calibration
 *            count var, then the score codes (qnn_score_code): v1, v2 u16
 *            each; v3 (count > 0) the first u16, a Rice parameter k u8
 *            (0..15) and the count - 1 differences to the previous code
 *            Rice-coded (qc_put_rice)
 *   update   round var, base hash u32, samples var, shape, weights
 *   shape    layers u8, sizes var x (L + 1), activation u8 x L (model v3:
 *            2 bits each, packed)
 *   weights  per layer: w_exp i8, b_exp i8, then
 *            model v2, v3: widths u8 (low nibble: bits of a scale code, 0..8;
 *            high nibble: bits of a bias minus 1, 1..16), the w_codes and
 *            the biases (two's complement) each packed at their width
 *            (qc_put_bits), w i8 x out*in (row-major);
 *            model v1: w_code u8 x out, biases i16 x out, w;
 *            update: w_code u8 x out, biases i8 x out on their own
 *            exponent b_exp, w.
 * A model keeps its biases at the precision the quantizer gave them (their
 * rounding moved the scores of small networks), in as few bits as they
 * need; an update, which is averaged in floats, 8-bit ones, which keeps the
 * reference network's under 1 kB.
 *   trailer  CRC-32 of every byte before it, u32
 * Version 3 writes a section in its short form only when that holds the
 * model's values exactly (the quantizer rounds the normalization to half
 * floats when the rounding stays far below the input's int8 step, and the
 * activation scales up to 3-byte floats), so encoding is lossless; a model whose
 * values need float32 keeps float32 there.
 * The decoder checks the CRC before anything else, then every count, shape
 * and value, and refuses trailing bytes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/errmsg.h"
#include "iotad/qmodel_io.h"
#include "iotad/state.h"
#include "qcodec.h"

uint32_t qmodel_crc32(uint32_t crc, const void *buf, size_t len)
{
	return state_crc32(crc, buf, len); /* the one CRC-32 of the project */
}

int qmodel_is_binary(const void *buf, size_t len)
{
	return buf && len >= 3 && memcmp(buf, QMODEL_MAGIC, 3) == 0;
}

/* Form bits of a version 3 model: the short forms its values allow. */
#define QM_FORM_NORM_F16 1u   /* normalization as IEEE half floats */
#define QM_FORM_NORM_F24 2u   /* or as 3-byte floats (float32 without its low byte) */
#define QM_FORM_SCALE_F24 4u  /* activation and output scales as 3-byte floats */

static int f24_exact(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return !(u & 0xffu);
}

static unsigned model_form(const model *m)
{
	unsigned form = QM_FORM_NORM_F16 | QM_FORM_NORM_F24 | QM_FORM_SCALE_F24;
	uint16_t h;
	for (int i = 0; i < m->n_features; i++) {
		if (qc_f16_bits(m->norm_a[i], &h) || qc_f16_bits(m->norm_b[i], &h))
			form &= ~QM_FORM_NORM_F16;
		if (!f24_exact(m->norm_a[i]) || !f24_exact(m->norm_b[i]))
			form &= ~QM_FORM_NORM_F24;
	}
	if (form & QM_FORM_NORM_F16)
		form &= ~QM_FORM_NORM_F24;
	for (int k = 0; k <= m->n_more; k++) {
		const qnn *q = &m->q[k];
		for (int l = 0; l < q->n_layers; l++)
			if (!f24_exact(q->a_scale[l]))
				form &= ~QM_FORM_SCALE_F24;
		if (!f24_exact(q->out_scale))
			form &= ~QM_FORM_SCALE_F24;
	}
	return form;
}

/* A float32 whose low byte is zero as its 3 high bytes. */
static void put_f24(qc_buf *b, float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	qc_put_u16(b, (u >> 8) & 0xffffu);
	qc_put_u8(b, u >> 24);
}

static int get_f24(qc_rd *r, const char *what, int positive, float *v)
{
	const unsigned char *p = qc_take(r, 3, what);
	if (!p)
		return -1;
	uint32_t u = (uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24;
	memcpy(v, &u, 4);
	if (!isfinite(*v) || (positive && !(*v > 0.0f)))
		return qc_rd_fail(r, "%s: %s", what, positive ? "not a finite number > 0" :
			       "not a finite number");
	return 0;
}

static void put_norm_value(qc_buf *b, float v, unsigned form)
{
	uint16_t h = 0;
	if (form & QM_FORM_NORM_F16 && !qc_f16_bits(v, &h))
		qc_put_u16(b, h);
	else if (form & QM_FORM_NORM_F24)
		put_f24(b, v);
	else
		qc_put_f32(b, v);
}

static void put_scale(qc_buf *b, float v, unsigned form)
{
	if (form & QM_FORM_SCALE_F24)
		put_f24(b, v);
	else
		qc_put_f32(b, v);
}

/* Calibration codes: the first, then the differences Rice-coded with the
 * parameter that makes them shortest. -1 if they are not ascending. */
static int put_calib(qc_buf *b, const model *m)
{
	size_t n = m->calib && m->n_calib > 0 ? (size_t)m->n_calib : 0;
	qc_put_var(b, (uint32_t)n);
	if (!n)
		return 0;
	uint32_t *d = malloc(n * sizeof *d);
	if (!d) {
		b->oom = 1;
		return 0;
	}
	uint16_t prev = qnn_score_code(m->calib[0]);
	for (size_t i = 1; i < n; i++) {
		uint16_t c = qnn_score_code(m->calib[i]);
		if (c < prev) {
			free(d);
			return -1;
		}
		d[i - 1] = (uint32_t)(c - prev);
		prev = c;
	}
	unsigned best = 0;
	for (unsigned k = 1; k < 16; k++)
		if (qc_rice_bits(d, n - 1, k) < qc_rice_bits(d, n - 1, best))
			best = k;
	qc_put_u16(b, qnn_score_code(m->calib[0]));
	qc_put_u8(b, best);
	qc_put_rice(b, d, n - 1, best);
	free(d);
	return 0;
}

static unsigned bits_for(uint32_t v)
{
	unsigned n = 0;
	while (v >> n)
		n++;
	return n;
}

/* A model's layers (v2): codes and biases packed at the width they need. */
static void put_packed_weights(qc_buf *b, const qnn *q)
{
	uint32_t v[NN_MAX_WIDTH];
	for (int l = 0; l < q->n_layers; l++) {
		const qnn_layer *y = &q->layer[l];
		unsigned cmax = 0, bmax = 0;
		for (int o = 0; o < y->out; o++) {
			cmax = y->w_code[o] > cmax ? y->w_code[o] : cmax;
			unsigned a = (unsigned)abs(y->b16[o]);
			bmax = a > bmax ? a : bmax;
		}
		unsigned cb = bits_for(cmax), bb = bits_for(bmax) + 1;
		bb = bb > 16 ? 16 : bb; /* -32768, refused by the reader */
		qc_put_u8(b, (uint8_t)y->w_exp);
		qc_put_u8(b, (uint8_t)y->b_exp);
		qc_put_u8(b, cb | (bb - 1) << 4);
		for (int o = 0; o < y->out; o++)
			v[o] = y->w_code[o];
		qc_put_bits(b, v, (size_t)y->out, cb);
		for (int o = 0; o < y->out; o++)
			v[o] = (uint32_t)(int32_t)y->b16[o];
		qc_put_bits(b, v, (size_t)y->out, bb);
		for (int o = 0; o < y->out; o++)
			qc_put(b, y->w + (size_t)o * (size_t)y->in_pad, (size_t)y->in);
	}
}

/* Header, id, names, window, stride, form, normalization, stuck_after,
 * threshold, percentile, members and shape. */
static void put_head(qc_buf *b, const model *m, unsigned form)
{
	int f = m->n_features;
	qc_put_header(b, QMODEL_VERSION, QMODEL_KIND_MODEL);
	qc_put_str(b, m->id);
	qc_put_var(b, (uint32_t)m->version);
	qc_put_u8(b, (unsigned)f);
	for (int i = 0; i < f; i++)
		qc_put_str(b, m->features[i]);
	qc_put_var(b, (uint32_t)m->window);
	qc_put_var(b, (uint32_t)m->stride);
	qc_put_u8(b, form);
	qc_put_u8(b, (unsigned)m->norm);
	for (int i = 0; i < f; i++)
		put_norm_value(b, m->norm_a[i], form);
	for (int i = 0; i < f; i++)
		put_norm_value(b, m->norm_b[i], form);
	qc_put(b, m->stuck_after, (size_t)f);
	qc_put_f32(b, m->threshold);
	qc_put_f32(b, m->percentile);
	qc_put_u8(b, (unsigned)(m->n_more + 1));
	qc_put_shape(b, m->net.n_layers, m->net.sizes, m->net.act, 1);
}

size_t qmodel_float32_bytes(const model *m, int with_calib)
{
	if (!m || !m->net.params)
		return 0;
	qc_buf b = {0};
	uint32_t nc = with_calib && m->calib ? (uint32_t)m->n_calib : 0;
	put_head(&b, m, 0); /* float32 normalization */
	qc_put_var(&b, nc);
	size_t n = b.oom ? 0 : b.n + 4 * m->net.n_params * (size_t)(m->n_more + 1) +
			      4 * (size_t)nc + 4; /* parameters, calibration, CRC */
	free(b.p);
	return n;
}

iotad_err qmodel_encode(const model *m, unsigned char **out, size_t *len)
{
	if (!m || !out || !len || m->type != MODEL_INT8 || !m->q)
		return IOTAD_ERR_INVAL;
	qc_buf b = {0};
	unsigned form = model_form(m);
	put_head(&b, m, form);
	for (int k = 0; k <= m->n_more; k++) {
		const qnn *q = &m->q[k];
		for (int l = 0; l < q->n_layers; l++)
			put_scale(&b, q->a_scale[l], form);
		for (int l = 0; l < q->n_layers; l++)
			qc_put_u8(&b, (uint8_t)(int8_t)q->a_zp[l]);
		put_scale(&b, q->out_scale, form);
		put_packed_weights(&b, q);
	}
	if (put_calib(&b, m)) {
		free(b.p);
		return IOTAD_ERR_INVAL;
	}
	return qc_finish(&b, out, len);
}

/* A model's layers, v2 (put_packed_weights). */
static int get_packed_weights(qc_rd *r, qnn *q)
{
	uint32_t v[NN_MAX_WIDTH];
	for (int l = 0; l < q->n_layers; l++) {
		qnn_layer *y = &q->layer[l];
		const unsigned char *e = qc_take(r, 3, "layer exponents and widths");
		if (!e)
			return -1;
		y->w_exp = (int8_t)e[0];
		y->b_exp = (int8_t)e[1];
		unsigned cb = e[2] & 15u, bb = (e[2] >> 4) + 1u;
		if (cb > 8)
			return qc_rd_fail(r, "layer %d: scale codes of %u bits (at most 8)", l, cb);
		if (qc_get_bits(r, "weight scale codes", v, (size_t)y->out, cb))
			return -1;
		for (int o = 0; o < y->out; o++)
			y->w_code[o] = (uint8_t)v[o];
		if (qc_get_bits(r, "biases", v, (size_t)y->out, bb))
			return -1;
		for (int o = 0; o < y->out; o++) {
			/* sign-extend from bb bits; the most negative value is out of
			 * the symmetric range at every width */
			int32_t x = (int32_t)(v[o] << (32 - bb)) >> (32 - bb);
			if (bb > 1 && x == -(1 << (bb - 1)))
				return qc_rd_fail(r, "layer %d: bias %d (symmetric range of %u bits is "
						  "%d..%d)", l, x, bb, x + 1, -x - 1);
			if (bb == 1 && x != 0)
				return qc_rd_fail(r, "layer %d: bias %d (a 1-bit bias is 0)", l, x);
			y->b16[o] = (int16_t)x;
		}
		if (qc_get_rows(r, y))
			return -1;
	}
	return 0;
}

static int get_norm_value(qc_rd *r, const char *what, unsigned form, float *v)
{
	if (form & QM_FORM_NORM_F16)
		return qc_get_f16(r, what, v);
	return form & QM_FORM_NORM_F24 ? get_f24(r, what, 0, v) : qc_get_f32(r, what, 0, v);
}

static int get_norm(qc_rd *r, model *m, unsigned form)
{
	unsigned nk;
	if (qc_get_u8(r, "normalization", &nk))
		return -1;
	if (nk > NORM_ZSCORE)
		return qc_rd_fail(r, "normalization: unknown kind %u", nk);
	m->norm = (norm_kind)nk;
	for (int i = 0; i < m->n_features; i++)
		if (get_norm_value(r, "normalization a", form, &m->norm_a[i]))
			return -1;
	for (int i = 0; i < m->n_features; i++) {
		if (get_norm_value(r, "normalization b", form, &m->norm_b[i]))
			return -1;
		if (m->norm == NORM_MINMAX && !(m->norm_b[i] >= m->norm_a[i]))
			return qc_rd_fail(r, "normalization b[%d]: max below min", i);
		if (m->norm == NORM_ZSCORE && !(m->norm_b[i] > 0.0f))
			return qc_rd_fail(r, "normalization b[%d]: std must be > 0", i);
	}
	const unsigned char *s = qc_take(r, (size_t)m->n_features, "stuck_after");
	for (int i = 0; s && i < m->n_features; i++) {
		if (s[i] == 1)
			return qc_rd_fail(r, "stuck_after[%d]: 1 (expected 0 or 2..%d)", i,
				       MODEL_MAX_STUCK_RUN);
		m->stuck_after[i] = s[i];
	}
	return s ? 0 : -1;
}

static int get_head(qc_rd *r, model *m, unsigned *form)
{
	uint32_t v;
	unsigned nf;
	if (qc_get_name(r, "id", m->id) || qc_get_var(r, "version", 0, INT32_MAX, &v))
		return -1;
	m->version = (int)v;
	if (qc_get_u8(r, "features", &nf))
		return -1;
	if (nf < 1 || nf > MODEL_MAX_FEATURES)
		return qc_rd_fail(r, "features: %u, expected 1..%d", nf, MODEL_MAX_FEATURES);
	m->n_features = (int)nf;
	for (int i = 0; i < m->n_features; i++) {
		if (qc_get_name(r, "feature name", m->features[i]))
			return -1;
		for (int j = 0; j < i; j++)
			if (!strcmp(m->features[i], m->features[j]))
				return qc_rd_fail(r, "features[%d]: duplicate name \"%s\"", i,
					       m->features[i]);
	}
	if (qc_get_var(r, "window", 1, MODEL_MAX_WINDOW, &v))
		return -1;
	m->window = (int)v;
	if (qc_get_var(r, "stride", 1, (uint32_t)m->window, &v))
		return -1;
	m->stride = (int)v;
	*form = 0;
	if (r->version >= 3) {
		if (qc_get_u8(r, "form", form))
			return -1;
		if (*form & ~(QM_FORM_NORM_F16 | QM_FORM_NORM_F24 | QM_FORM_SCALE_F24))
			return qc_rd_fail(r, "form: unknown bits %02x", *form);
		if ((*form & QM_FORM_NORM_F16) && (*form & QM_FORM_NORM_F24))
			return qc_rd_fail(r, "form: normalization both half and 3-byte floats");
	}
	if (get_norm(r, m, *form) || qc_get_f32(r, "threshold", 1, &m->threshold) ||
	    qc_get_f32(r, "percentile", 1, &m->percentile))
		return -1;
	if (m->percentile > 100.0f)
		return qc_rd_fail(r, "percentile: %g, expected (0, 100]", (double)m->percentile);
	return 0;
}

/* Version 3 calibration: the first code, k, the Rice-coded differences. */
static int get_calib_rice(qc_rd *r, model *m, uint32_t n)
{
	const unsigned char *p = qc_take(r, 3, "calibration scores");
	if (!p)
		return -1;
	if (p[2] > 15)
		return qc_rd_fail(r, "calibration scores: Rice parameter %u (at most 15)", p[2]);
	uint32_t *d = malloc(n * sizeof *d);
	if (!d || !(m->calib = malloc(n * sizeof *m->calib))) {
		free(d);
		return qc_rd_fail(r, "calibration: out of memory");
	}
	uint32_t c = p[0] | (uint32_t)p[1] << 8;
	d[0] = c;
	if (qc_get_rice(r, "calibration scores", d + 1, n - 1, p[2], 65535)) {
		free(d);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		c = i ? c + d[i] : c;
		if (c > 65535) {
			free(d);
			return qc_rd_fail(r, "calibration scores: code %u beyond 65535 at %u", c, i);
		}
		m->calib[i] = qnn_code_score((uint16_t)c);
	}
	free(d);
	m->n_calib = (int)n;
	return 0;
}

static int get_calib(qc_rd *r, model *m)
{
	uint32_t n;
	if (qc_get_var(r, "calibration count", 0, MODEL_MAX_CALIB, &n))
		return -1;
	if (r->version >= 3)
		return n ? get_calib_rice(r, m, n) : 0;
	const unsigned char *p = qc_take(r, 2 * (size_t)n, "calibration scores");
	if (!p || n == 0)
		return p ? 0 : -1;
	if (!(m->calib = malloc(n * sizeof *m->calib)))
		return qc_rd_fail(r, "calibration: out of memory");
	for (uint32_t i = 0; i < n; i++) {
		m->calib[i] = qnn_code_score((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
		if (i && m->calib[i] < m->calib[i - 1])
			return qc_rd_fail(r, "calibration scores: not in ascending order at %u", i);
	}
	m->n_calib = (int)n;
	return 0;
}

static int get_scale(qc_rd *r, const char *what, unsigned form, float *v)
{
	return form & QM_FORM_SCALE_F24 ? get_f24(r, what, 1, v) : qc_get_f32(r, what, 1, v);
}

iotad_err qmodel_decode(const void *buf, size_t len, model *m, char *err, size_t errlen)
{
	qc_rd r = {.err = err, .errlen = errlen};
	memset(m, 0, sizeof *m);
	unsigned members, form;
	if (qc_rd_open(&r, buf, len, QMODEL_KIND_MODEL) || get_head(&r, m, &form))
		goto fail;
	int nl, sizes[NN_MAX_LAYERS + 1];
	nn_act act[NN_MAX_LAYERS];
	if (qc_get_u8(&r, "members", &members))
		goto fail;
	if (members < 1 || members > MODEL_MAX_MEMBERS) {
		qc_rd_fail(&r, "members: %u, expected 1..%d", members, MODEL_MAX_MEMBERS);
		goto fail;
	}
	if (qc_get_shape(&r, m->window * m->n_features, r.version >= 3, &nl, sizes, act))
		goto fail;
	m->type = MODEL_INT8;
	if (!(m->q = calloc(MODEL_MAX_MEMBERS, sizeof *m->q))) {
		qc_rd_fail(&r, "out of memory");
		goto fail;
	}
	for (int k = 0; k < (int)members; k++) {
		qnn *q = &m->q[k];
		nn *net = k ? &m->more[k - 1] : &m->net;
		if (qnn_init(q, nl, sizes, act) || nn_init(net, nl, sizes, act)) {
			qc_rd_fail(&r, "out of memory");
			goto fail;
		}
		m->n_more = k;
		for (int l = 0; l < nl; l++)
			if (get_scale(&r, "activation scale", form, &q->a_scale[l]))
				goto fail;
		const unsigned char *zp = qc_take(&r, (size_t)nl, "activation zero points");
		for (int l = 0; zp && l < nl; l++)
			q->a_zp[l] = (int8_t)zp[l];
		if (!zp || get_scale(&r, "output scale", form, &q->out_scale) ||
		    (r.version >= 2 ? get_packed_weights(&r, q) : qc_get_weights(&r, q, 1)) ||
		    qc_rd_prepare(&r, q, k))
			goto fail;
		qnn_dequantize(q, net);
	}
	if (get_calib(&r, m) || qc_rd_close(&r))
		goto fail;
	return IOTAD_OK;
fail:
	model_free(m);
	memset(m, 0, sizeof *m);
	return IOTAD_ERR_MODEL;
}
