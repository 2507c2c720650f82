/* qnn.c - int8 inference of the autoencoder (see qnn.h).
 *
 * One layer: acc[o] = bias[o] + sum_i w[o][i] * a[i] over int8 values in
 * int32, where bias holds b[o] / (w_scale[o] * a_scale) minus a_zp * the
 * row sum, so the zero point costs nothing per window. The result is
 * requantized for the next layer: q = zp' + round(acc * M[o]) with
 * M[o] = w_scale[o] * a_scale / a_scale' as a Q31 multiplier and a right
 * shift (round half up), saturated to int8; ReLU saturates at zp' instead
 * of -128. A hidden sigmoid requantizes to Q8 in [-8, 8) and reads a
 * table. The last layer gives the reconstruction in floats: int16
 * pre-activation times out_scale (linear, relu), or Q12 read from the
 * sigmoid table between its entries.
 *
 * Rows are zero-padded to a multiple of QNN_ALIGN, so every dot product
 * runs over a count the compiler knows to be a multiple of its vector
 * width: gcc vectorizes it at -O2 and -O3 without a scalar tail (no -march;
 * SSE2 / NEON baseline). The int8 weights and activations are held in
 * int16 at run time (weights widened once by qnn_prepare), because SSE2
 * multiplies 16-bit lanes (pmaddwd); their values stay int8. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/qnn.h"

#define QNN_LUT (2 * QNN_SIG_HALF + 1)
#define QNN_SIG_FINE 16 /* last layer: Q12, 16 steps between table entries */

static size_t qnn_pad(size_t n)
{
	return (n + QNN_ALIGN - 1) / QNN_ALIGN * QNN_ALIGN;
}

iotad_err qnn_init(qnn *q, int n_layers, const int *sizes, const nn_act *act)
{
	if (!q)
		return IOTAD_ERR_INVAL;
	memset(q, 0, sizeof *q);
	if (!sizes || !act || n_layers < 1 || n_layers > NN_MAX_LAYERS)
		return IOTAD_ERR_INVAL;
	for (int l = 0; l <= n_layers; l++)
		if (sizes[l] < 1 || sizes[l] > NN_MAX_WIDTH)
			return IOTAD_ERR_INVAL;
	if (sizes[n_layers] != sizes[0])
		return IOTAD_ERR_INVAL;
	for (int l = 0; l < n_layers; l++)
		if (act[l] != NN_LINEAR && act[l] != NN_RELU && act[l] != NN_SIGMOID)
			return IOTAD_ERR_INVAL;
	/* one block: per layer w, then the per-channel arrays, then the tables */
	size_t bytes = 0;
	for (int l = 0; l < n_layers; l++) {
		size_t out = (size_t)sizes[l + 1];
		bytes += qnn_pad(out * qnn_pad((size_t)sizes[l])) * (1 + sizeof(int16_t));
		bytes += qnn_pad(out * (3 + sizeof(float) + 3 * sizeof(int32_t)));
	}
	bytes += QNN_LUT * (sizeof(float) + sizeof(int16_t));
	unsigned char *p = malloc(bytes); /* 16-byte aligned (max_align_t) */
	if (!p)
		return IOTAD_ERR_NOMEM;
	memset(p, 0, bytes);
	q->block = p;
	q->n_layers = n_layers;
	for (int l = 0; l <= n_layers; l++)
		q->sizes[l] = sizes[l];
	for (int l = 0; l < n_layers; l++) {
		qnn_layer *y = &q->layer[l];
		size_t out = (size_t)sizes[l + 1];
		y->in = sizes[l];
		y->out = sizes[l + 1];
		y->in_pad = (int)qnn_pad((size_t)sizes[l]);
		y->act = act[l];
		y->w = (int8_t *)p;
		p += qnn_pad(out * (size_t)y->in_pad);
		y->w16 = (int16_t *)p;
		p += qnn_pad(out * (size_t)y->in_pad) * sizeof(int16_t);
		if ((size_t)y->in_pad > q->widest)
			q->widest = (size_t)y->in_pad;
		unsigned char *c = p;
		y->w_scale = (float *)c;
		y->bias = (int32_t *)(c + out * 4);
		y->mult = (int32_t *)(c + out * 8);
		y->shift = (int32_t *)(c + out * 12);
		y->b16 = (int16_t *)(c + out * 16);
		y->w_code = c + out * 18;
		p += qnn_pad(out * (3 + sizeof(float) + 3 * sizeof(int32_t)));
	}
	q->lut = (float *)p;
	q->lut8 = (int16_t *)(p + QNN_LUT * sizeof(float));
	return IOTAD_OK;
}

void qnn_free(qnn *q)
{
	if (!q)
		return;
	free(q->block);
	memset(q, 0, sizeof *q);
}

/* 2^(-k/16) for k = 0..15: the codes' fractional octave, exact to double. */
static const double qnn_frac[QNN_CODE_STEPS] = {
	1, 0.9576032806985737, 0.91700404320467122, 0.87812608018664973,
	0.8408964152537145, 0.80524516597462714, 0.77110541270397037, 0.73841307296974967,
	0.70710678118654757, 0.67712777346844633, 0.64841977732550482, 0.620928906036742,
	0.59460355750136051, 0.56939431737834578, 0.54525386633262884, 0.52213689121370688,
};

double qnn_grid(int k)
{
	/* k = 16 e + r, 0 <= r < 16: 2^e * 2^(r/16) = 2^(e+1) * 2^(-(16-r)/16) */
	int r = ((k % QNN_CODE_STEPS) + QNN_CODE_STEPS) % QNN_CODE_STEPS;
	int e = (k - r) / QNN_CODE_STEPS;
	return r ? ldexp(qnn_frac[QNN_CODE_STEPS - r], e + 1) : ldexp(1.0, e);
}

int qnn_grid_ceil(double s)
{
	int k = (int)floor(log2(s) * QNN_CODE_STEPS) - 1;
	while (qnn_grid(k) < s)
		k++;
	return k;
}

float qnn_f24_ceil(float s)
{
	uint32_t u;
	memcpy(&u, &s, 4);
	if (!isfinite(s) || !(s > 0.0f) || !(u & 0xffu))
		return s;
	u = (u | 0xffu) + 1u; /* the next multiple of 2^8 above: a larger magnitude */
	float r;
	memcpy(&r, &u, 4);
	return isfinite(r) ? r : s;
}

float qnn_f24_round(float s)
{
	uint32_t u;
	memcpy(&u, &s, 4);
	if (!isfinite(s))
		return s;
	u = (u + 0x80u) & ~0xffu; /* to the nearest, halves away from zero */
	float r;
	memcpy(&r, &u, 4);
	return isfinite(r) ? r : s;
}

float qnn_half_round(float s)
{
	if (s == 0.0f)
		return 0.0f;
	double a = fabs((double)s);
	if (!(a >= 0x1p-14 && a <= 65504.0))
		return NAN;
	int e;
	double m = frexp(a, &e); /* 0.5 <= m < 1: 11 significant bits are m * 2^11 */
	double r = ldexp(nearbyint(ldexp(m, 11)), e - 11);
	return r > 65504.0 ? NAN : (float)copysign(r, (double)s);
}

uint16_t qnn_score_code(float s)
{
	if (!(s > 0.0f))
		return 0;
	double c = floor((log2((double)s) + 64.0) * 512.0 + 0.5);
	return (uint16_t)(c < 1.0 ? 1.0 : c > 65535.0 ? 65535.0 : c);
}

float qnn_code_score(uint16_t code)
{
	return code ? (float)exp2((double)code / 512.0 - 64.0) : 0.0f;
}

int qnn_multiplier(double m, int32_t *mult, int32_t *shift)
{
	if (!isfinite(m) || !(m > 0.0) || m >= 0x1p30)
		return -1;
	int e;
	double f = frexp(m, &e); /* m = f * 2^e, f in [0.5, 1) */
	long long r = llround(f * 0x1p31);
	if (r == 0x80000000LL) {
		r /= 2;
		e++;
	}
	if (31 - e > 62) { /* below 2^-31: every product rounds to 0 */
		*mult = 0;
		*shift = 1;
		return 0;
	}
	*mult = (int32_t)r;
	*shift = 31 - e;
	return 0;
}

/* The hot-path forms, inlined into the layer loops. */
static inline int32_t qnn_rq(int32_t acc, int32_t mult, int32_t shift, int32_t lo, int32_t hi)
{
	int64_t p = (int64_t)acc * mult;
	/* arithmetic right shift (gcc, clang, msvc): floor, so + half rounds half up */
	int64_t r = (p + ((int64_t)1 << (shift - 1))) >> shift;
	return r < lo ? lo : r > hi ? hi : (int32_t)r;
}

static inline int32_t qnn_q8(float x, float inv_scale, int32_t zp)
{
	float v = x * inv_scale;
	v = v < 512.0f ? v : 512.0f; /* NaN: 512 */
	v = v > -512.0f ? v : -512.0f;
	/* halves up, by a conversion of a positive number (no libm call, no branch) */
	int32_t r = (int32_t)(v + 512.5f) - 512 + zp;
	return r < -128 ? -128 : r > 127 ? 127 : r;
}

int32_t qnn_requant(int32_t acc, int32_t mult, int32_t shift, int32_t lo, int32_t hi)
{
	return qnn_rq(acc, mult, shift, lo, hi);
}

int8_t qnn_quantize(float x, float inv_scale, int32_t zp)
{
	return (int8_t)qnn_q8(x, inv_scale, zp);
}

static iotad_err qnn_bad(int l, const char *text, int *layer, const char **what)
{
	if (layer)
		*layer = l;
	if (what)
		*what = text;
	return IOTAD_ERR_MODEL;
}

static int qnn_scale_ok(float s)
{
	return isfinite(s) && s > 0.0f && s < 1e30f;
}

iotad_err qnn_prepare(qnn *q, int *layer, const char **what)
{
	int L = q->n_layers, sig = 0;
	if (!q->block || L < 1)
		return qnn_bad(-1, "no network", layer, what);
	for (int l = 0; l < L; l++) {
		qnn_layer *y = &q->layer[l];
		if (!qnn_scale_ok(q->a_scale[l]))
			return qnn_bad(l, "activation scale not a finite number > 0", layer, what);
		if (q->a_zp[l] < -128 || q->a_zp[l] > 127)
			return qnn_bad(l, "activation zero point outside -128..127", layer, what);
		for (int o = 0; o < y->out; o++) {
			const int8_t *row = y->w + (size_t)o * (size_t)y->in_pad;
			for (int i = 0; i < y->in; i++)
				if (row[i] == -128)
					return qnn_bad(l, "weight -128 (symmetric range is -127..127)",
						       layer, what);
			if (y->b16[o] == INT16_MIN)
				return qnn_bad(l, "bias -32768 (symmetric range is -32767..32767)", layer,
					       what);
		}
		if (y->act == NN_SIGMOID) {
			sig = 1;
			/* a hidden sigmoid feeds an int8 of scale 1/256, zero point -128 */
			if (l + 1 < L && (q->a_scale[l + 1] != 1.0f / QNN_SIG_Q || q->a_zp[l + 1] != -128))
				return qnn_bad(l + 1, "a sigmoid's output must have scale 1/256 and zero "
					       "point -128", layer, what);
		}
	}
	if (q->layer[L - 1].act == NN_SIGMOID ? q->out_scale != 1.0f / QNN_SIG_Q :
	    !qnn_scale_ok(q->out_scale))
		return qnn_bad(L - 1, "output scale not a finite number > 0 (1/256 for a sigmoid)",
			       layer, what);
	for (int l = 0; l < L; l++) {
		qnn_layer *y = &q->layer[l];
		double s_in = q->a_scale[l];
		double s_next = y->act == NN_SIGMOID ?
				1.0 / (QNN_SIG_Q * (l + 1 < L ? 1 : QNN_SIG_FINE)) :
				l + 1 < L ? q->a_scale[l + 1] : q->out_scale;
		for (int o = 0; o < y->out; o++) {
			const int8_t *row = y->w + (size_t)o * (size_t)y->in_pad;
			double s_w = qnn_grid(4 * y->w_exp - y->w_code[o]);
			y->w_scale[o] = (float)s_w;
			long long sum = 0;
			for (int i = 0; i < y->in; i++)
				sum += row[i];
			double acc_unit = s_w * s_in;
			double b = qnn_grid(4 * y->b_exp) * y->b16[o] / acc_unit - (double)q->a_zp[l] * (double)sum;
			if (!(fabs(b) < 0x1p30))
				return qnn_bad(l, "bias too large for the accumulator", layer, what);
			y->bias[o] = (int32_t)llround(b);
			for (int i = 0; i < y->in_pad; i++)
				y->w16[(size_t)o * (size_t)y->in_pad + (size_t)i] =
					row[i]; /* padding is 0 */
			if (qnn_multiplier(acc_unit / s_next, &y->mult[o], &y->shift[o]) < 0)
				return qnn_bad(l, "scales give a requantization multiplier out of range",
					       layer, what);
		}
	}
	for (int i = 0; sig && i < QNN_LUT; i++) {
		double z = (double)(i - QNN_SIG_HALF) / QNN_SIG_Q;
		double s = 1.0 / (1.0 + exp(-z));
		long v = lround(s * QNN_SIG_Q) - 128;
		q->lut[i] = (float)s;
		q->lut8[i] = (int16_t)(v > 127 ? 127 : v);
	}
	return IOTAD_OK;
}

size_t qnn_scratch_floats(const qnn *q)
{
	size_t widest = 0;
	for (int l = 0; l < q->n_layers; l++)
		if ((size_t)q->layer[l].in_pad > widest)
			widest = (size_t)q->layer[l].in_pad;
	/* the reconstruction, then two buffers of int16 activations */
	return qnn_pad((size_t)q->sizes[0]) + 2 * widest * sizeof(int16_t) / sizeof(float);
}

/* Dot product of int8 values held in int16 over n (a multiple of
 * QNN_ALIGN; saying so with the mask lets gcc -O2 vectorize it without a
 * scalar tail): multiply-adds of 16-bit pairs (pmaddwd on SSE2, the x86-64
 * baseline; smlal on NEON), one horizontal sum at the end. */
static inline int32_t qnn_dot(const int16_t *restrict w, const int16_t *restrict a, int n)
{
	int32_t s = 0;
	n &= ~(QNN_ALIGN - 1);
	for (int i = 0; i < n; i++)
		s += (int32_t)w[i] * a[i];
	return s;
}

/* One hidden layer: activations a (in_pad) to out (out values, then zeros
 * to the next layer's in_pad). */
static void qnn_hidden(const qnn *q, int l, const int16_t *restrict a, int16_t *restrict out)
{
	const qnn_layer *y = &q->layer[l];
	int32_t zp = q->a_zp[l + 1];
	int32_t lo = y->act == NN_RELU ? (zp > -128 ? zp : -128) : -128;
	const int16_t *w = y->w16;
	for (int o = 0; o < y->out; o++, w += y->in_pad) {
		int32_t acc = y->bias[o] + qnn_dot(w, a, y->in_pad);
		if (y->act == NN_SIGMOID) {
			int32_t z = qnn_rq(acc, y->mult[o], y->shift[o], -QNN_SIG_HALF,
					   QNN_SIG_HALF - 1);
			out[o] = q->lut8[z + QNN_SIG_HALF];
		} else {
			out[o] = (int16_t)(qnn_rq(acc, y->mult[o], y->shift[o], lo - zp, 127 - zp) + zp);
		}
	}
	for (int o = y->out; o < q->layer[l + 1].in_pad; o++)
		out[o] = 0;
}

/* The last layer: activations a to the float reconstruction r. */
static void qnn_last(const qnn *q, const int16_t *restrict a, float *restrict r)
{
	const qnn_layer *y = &q->layer[q->n_layers - 1];
	const int16_t *w = y->w16;
	for (int o = 0; o < y->out; o++, w += y->in_pad) {
		int32_t acc = y->bias[o] + qnn_dot(w, a, y->in_pad);
		if (y->act == NN_SIGMOID) {
			/* Q12 in [-8, 8): the table, linearly between its entries */
			uint32_t z = (uint32_t)(qnn_rq(acc, y->mult[o], y->shift[o],
						       -QNN_SIG_HALF * QNN_SIG_FINE,
						       QNN_SIG_HALF * QNN_SIG_FINE - 1) +
					       QNN_SIG_HALF * QNN_SIG_FINE);
			uint32_t i = z / QNN_SIG_FINE, f = z % QNN_SIG_FINE;
			r[o] = q->lut[i] + (q->lut[i + 1] - q->lut[i]) * ((float)f / QNN_SIG_FINE);
		} else {
			int32_t z = qnn_rq(acc, y->mult[o], y->shift[o],
					   y->act == NN_RELU ? 0 : -QNN_OUT_MAX, QNN_OUT_MAX);
			r[o] = q->out_scale * (float)z;
		}
	}
}

float qnn_forward(const qnn *q, const float *x, float *scratch, float *err)
{
	int d = q->sizes[0], L = q->n_layers;
	float *r = scratch;
	int16_t *a = (int16_t *)(scratch + qnn_pad((size_t)d));
	int16_t *b = a + q->widest;
	float inv = 1.0f / q->a_scale[0];
	int32_t zp = q->a_zp[0];
	for (int i = 0; i < d; i++)
		a[i] = (int16_t)qnn_q8(x[i], inv, zp);
	for (int i = d; i < q->layer[0].in_pad; i++)
		a[i] = 0;
	for (int l = 0; l + 1 < L; l++) {
		qnn_hidden(q, l, a, b);
		int16_t *t = a;
		a = b;
		b = t;
	}
	qnn_last(q, a, r);
	double sum = 0.0;
	for (int i = 0; i < d; i++) {
		double diff = (double)r[i] - x[i];
		double sq = diff * diff;
		if (err)
			err[i] = (float)sq;
		sum += sq;
	}
	return (float)(sum / d);
}

/* The quarter-octave exponent E (int8) with 4E >= k, k on the 1/16 grid. */
static int8_t qnn_exp(int k)
{
	int e = k >= 0 ? (k + 3) / 4 : -(-k / 4);
	return (int8_t)(e < -128 ? -128 : e > 127 ? 127 : e);
}

int qnn_quarter_ceil(double s)
{
	return qnn_exp(qnn_grid_ceil(s));
}

void qnn_quantize_biases(const nn *net, const float *mean_in, qnn *q)
{
	size_t mo = 0;
	for (int l = 0; l < net->n_layers; l++) {
		qnn_layer *y = &q->layer[l];
		const float *w = net->params + nn_layer_offset(net, l);
		const float *b = w + (size_t)y->out * (size_t)y->in;
		double bmax = 0.0, bias[NN_MAX_WIDTH];
		for (int o = 0; o < y->out; o++) {
			const float *row = w + (size_t)o * (size_t)y->in;
			const int8_t *r8 = y->w + (size_t)o * (size_t)y->in_pad;
			double s = qnn_grid(4 * y->w_exp - y->w_code[o]), err = 0.0;
			for (int i = 0; mean_in && i < y->in; i++)
				err += (s * (double)r8[i] - row[i]) * mean_in[mo + (size_t)i];
			bias[o] = (double)b[o] - err;
			bmax = fabs(bias[o]) > bmax ? fabs(bias[o]) : bmax;
		}
		y->b_exp = qnn_exp(qnn_grid_ceil(bmax > 0.0 ? bmax / 32767.0 : 1e-12));
		double bs = qnn_grid(4 * y->b_exp);
		for (int o = 0; o < y->out; o++) {
			long v = lround(bias[o] / bs);
			y->b16[o] = (int16_t)(v > 32767 ? 32767 : v < -32767 ? -32767 : v);
		}
		mo += (size_t)y->in;
	}
}

void qnn_quantize_weights(const nn *net, const float *mean_in, qnn *q)
{
	for (int l = 0; l < net->n_layers; l++) {
		qnn_layer *y = &q->layer[l];
		const float *w = net->params + nn_layer_offset(net, l);
		double base = 0.0;
		for (size_t k = 0; k < (size_t)y->out * (size_t)y->in; k++)
			base = fabs(w[k]) > base ? fabs(w[k]) : base;
		/* the layer's exponent: the first quarter octave at or above the
		 * largest channel scale; channels step down from it by 1/16 */
		y->w_exp = qnn_exp(qnn_grid_ceil(base > 0.0 ? base / 127.0 : 1.0));
		for (int o = 0; o < y->out; o++) {
			const float *row = w + (size_t)o * (size_t)y->in;
			double mx = 0.0;
			for (int i = 0; i < y->in; i++)
				mx = fabs(row[i]) > mx ? fabs(row[i]) : mx;
			int code = 4 * y->w_exp - (mx > 0.0 ? qnn_grid_ceil(mx / 127.0) : -100000);
			code = code < 0 ? 0 : code > 255 ? 255 : code;
			double s = qnn_grid(4 * y->w_exp - code);
			y->w_code[o] = (uint8_t)code;
			for (int i = 0; i < y->in; i++) {
				long v = lround((double)row[i] / s);
				v = v > 127 ? 127 : v < -127 ? -127 : v;
				y->w[(size_t)o * (size_t)y->in_pad + (size_t)i] = (int8_t)v;
			}
		}
	}
	qnn_quantize_biases(net, mean_in, q);
}

void qnn_dequantize(const qnn *q, nn *net)
{
	for (int l = 0; l < q->n_layers; l++) {
		const qnn_layer *y = &q->layer[l];
		float *w = net->params + nn_layer_offset(net, l);
		for (int o = 0; o < y->out; o++) {
			float s = (float)qnn_grid(4 * y->w_exp - y->w_code[o]);
			for (int i = 0; i < y->in; i++)
				w[(size_t)o * (size_t)y->in + (size_t)i] =
					s * y->w[(size_t)o * (size_t)y->in_pad + (size_t)i];
			w[(size_t)y->out * (size_t)y->in + (size_t)o] =
				(float)(qnn_grid(4 * y->b_exp) * y->b16[o]);
		}
	}
}
