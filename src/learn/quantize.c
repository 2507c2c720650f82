/* quantize.c - float model + normal rows -> int8 model.
 *
 * Ranges: every window of the rows (stride 1, none across a segment) runs
 * through the float network; the input range (widened by input_margin),
 * each hidden activation's range (with 0 in it; its extremes, or
 * range_quantile of them, over a sample of the windows) and the output's
 * largest magnitude fix the activation scales and zero points. Weights get
 * one symmetric scale per output channel (a code on a 1/16-octave grid
 * below the layer's largest) and are rounded up or down by what lowers
 * their row's error over the windows; biases (16 bits, one scale per
 * layer) absorb the mean error of the rounded weights. Activation scales
 * are rounded up to 3-byte floats and the normalization to half floats
 * (or 3-byte ones) when close enough, as the model file keeps them. The held-out
 * windows (train.h's split) are then scored by the int8 network: their
 * scores are the model's calibration and give its threshold. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/errmsg.h"
#include "iotad/quantize.h"

#define QUANT_MIN_CALIB 20      /* as train.c: fewer held-out windows, calibrate on all */
#define QUANT_MIN_THRESHOLD 1e-9f
#define QUANT_OUT_HEADROOM 4.0  /* int16 output range over the largest seen */
#define QUANT_SAMPLE 4096       /* windows whose activations give the ranges ... */
#define QUANT_SAMPLE_FLOATS (1u << 24) /* ... and at most this many values (64 MB) */
#define QUANT_ROUND_MAX_IN 1024 /* wider layers keep nearest rounding */
#define QUANT_ROUND_WORK 5e7    /* products spent on one layer's input covariance */
#define QUANT_NORM_ERR 0x1p-12  /* normalization rounding, of the feature's span */

void quant_opts_default(quant_opts *o)
{
	memset(o, 0, sizeof *o);
	o->holdout = 0.2f;
	o->input_margin = 0.25f;
	o->range_quantile = 1.0f;
	o->adaround = 1;
	o->bias_bits = 12;
}

/* Round each layer's 16-bit biases to bits bits: the scale grows by a power
 * of two (4 quarter octaves a bit), the values shrink by as much. */
static void quant_narrow_biases(qnn *q, int bits)
{
	int drop = bits <= 0 ? 0 : 16 - (bits < 2 ? 2 : bits > 16 ? 16 : bits); /* 0: as they are */
	long lim = (1L << (15 - drop)) - 1;
	for (int l = 0; drop > 0 && l < q->n_layers; l++) {
		qnn_layer *y = &q->layer[l];
		if (y->b_exp > 127 - 4 * drop)
			continue; /* cannot happen for a finite bias; keep it as it is */
		y->b_exp = (int8_t)(y->b_exp + 4 * drop);
		for (int o = 0; o < y->out; o++) {
			long v = lround((double)y->b16[o] / (double)(1L << drop));
			y->b16[o] = (int16_t)(v > lim ? lim : v < -lim ? -lim : v);
		}
	}
}

static int quant_cmp(const void *pa, const void *pb)
{
	float a = *(const float *)pa, b = *(const float *)pb;
	return (a > b) - (a < b);
}


/* Scale and zero point of an int8 activation covering [lo, hi] (0 added). */
static void quant_range(double lo, double hi, float *scale, int32_t *zp)
{
	lo = lo < 0.0 ? lo : 0.0;
	hi = hi > 0.0 ? hi : 0.0;
	if (hi - lo < 1e-4) /* a dead unit: any scale will do, not a tiny one */
		hi = lo + 1e-4;
	/* up to the next 3-byte float, which the model file stores: at most
	 * 2^-15 wider (bfloat16's 2^-7 moved the Shuttle ROC-AUC of seed 1) */
	float sf = qnn_f24_ceil((float)((hi - lo) / 255.0));
	double s = sf;
	long z = lround(-128.0 - lo / s);
	*scale = sf;
	*zp = (int32_t)(z < -128 ? -128 : z > 127 ? 127 : z);
}

/* Rounding that knows the inputs: row o's error d = w_q - w costs
 * d' C d over the windows (C: the covariance of the layer's input; the
 * mean part is the bias's to absorb). Starting from nearest, each weight
 * is moved to its other neighbour when that lowers the cost, in a few
 * passes (a greedy AdaRound). smp holds n windows of the layer's input. */
static iotad_err quant_round(const nn *net, int l, const float *smp, size_t n, qnn *q)
{
	qnn_layer *y = &q->layer[l];
	size_t in = (size_t)y->in;
	if (in > QUANT_ROUND_MAX_IN || n < 2)
		return IOTAD_OK;
	/* windows used: enough, but not more than QUANT_ROUND_WORK products */
	size_t k = (size_t)(QUANT_ROUND_WORK / ((double)in * (double)in));
	n = k < n ? (k > 64 ? k : 64) : n;
	n = n < 2 ? 2 : n;
	double *c = calloc(in * in, sizeof *c), *mu = calloc(in, sizeof *mu);
	double *g = malloc(in * sizeof *g), *d = malloc(in * sizeof *d);
	if (!c || !mu || !g || !d) {
		free(c);
		free(mu);
		free(g);
		free(d);
		return IOTAD_ERR_NOMEM;
	}
	for (size_t t = 0; t < n; t++) {
		const float *a = smp + t * in;
		for (size_t i = 0; i < in; i++) {
			mu[i] += a[i];
			for (size_t j = 0; j <= i; j++)
				c[i * in + j] += (double)a[i] * a[j];
		}
	}
	for (size_t i = 0; i < in; i++)
		mu[i] /= (double)n;
	for (size_t i = 0; i < in; i++)
		for (size_t j = 0; j <= i; j++)
			c[j * in + i] = c[i * in + j] = c[i * in + j] / (double)n - mu[i] * mu[j];
	const float *w = net->params + nn_layer_offset(net, l);
	for (int o = 0; o < y->out; o++) {
		const float *row = w + (size_t)o * in;
		int8_t *r8 = y->w + (size_t)o * (size_t)y->in_pad;
		double s = qnn_grid(4 * y->w_exp - y->w_code[o]);
		for (size_t i = 0; i < in; i++)
			d[i] = s * r8[i] - row[i];
		for (size_t i = 0; i < in; i++) {
			g[i] = 0.0;
			for (size_t j = 0; j < in; j++)
				g[i] += c[i * in + j] * d[j];
		}
		for (int pass = 0; pass < 3; pass++) {
			int moved = 0;
			for (size_t i = 0; i < in; i++) {
				int step = d[i] > 0.0 ? -1 : 1;
				int v = r8[i] + step;
				if (v < -127 || v > 127)
					continue;
				double delta = step * s;
				if (2.0 * delta * g[i] + delta * delta * c[i * in + i] >= -1e-30)
					continue;
				r8[i] = (int8_t)v;
				d[i] += delta;
				for (size_t j = 0; j < in; j++)
					g[j] += c[j * in + i] * delta;
				moved = 1;
			}
			if (!moved)
				break;
		}
	}
	free(c);
	free(mu);
	free(g);
	free(d);
	return IOTAD_OK;
}

/* A bias must fit the int32 accumulator, in units of its channel's weight
 * scale times the input scale: where it would not (a channel of tiny
 * weights), widen that channel's weight scale and requantize its row. */
static void quant_fit_bias(const nn *net, qnn *q)
{
	for (int l = 0; l < net->n_layers; l++) {
		qnn_layer *y = &q->layer[l];
		const float *w = net->params + nn_layer_offset(net, l);
		for (int o = 0; o < y->out; o++) {
			double b = fabs(qnn_grid(4 * y->b_exp) * y->b16[o]);
			int code = y->w_code[o];
			while (code > 0 && b / (qnn_grid(4 * y->w_exp - code) * q->a_scale[l]) > 0x1p28)
				code--;
			if (code == y->w_code[o])
				continue;
			double s = qnn_grid(4 * y->w_exp - code);
			y->w_code[o] = (uint8_t)code;
			for (int i = 0; i < y->in; i++) {
				long v = lround((double)w[(size_t)o * (size_t)y->in + (size_t)i] / s);
				y->w[(size_t)o * (size_t)y->in_pad + (size_t)i] =
					(int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
			}
		}
	}
}

/* The p and 1 - p quantiles of the n values v (sorted in place) into *lo, *hi. */
static void quant_quantiles(float *v, size_t n, double p, double *lo, double *hi)
{
	qsort(v, n, sizeof *v, quant_cmp);
	size_t k = (size_t)floor((1.0 - p) * (double)(n - 1));
	*lo = v[k];
	*hi = v[n - 1 - k];
}

/* Activation ranges and mean inputs of float network net over the windows
 * win[0..n) of x (normalized rows, d_stride floats apart), then its int8
 * form into q. A layer's range spans the quantiles o->range_quantile of
 * its values on up to QUANT_SAMPLE windows spread over all. */
static iotad_err quant_member(const nn *net, const float *x, size_t d_stride, const size_t *win,
			      size_t n, const quant_opts *o, qnn *q)
{
	int L = net->n_layers, d = net->sizes[0];
	size_t total = 0, sf = nn_scratch_floats(net);
	for (int l = 0; l < L; l++)
		total += (size_t)net->sizes[l];
	/* at most QUANT_SAMPLE windows, and QUANT_SAMPLE_FLOATS values in all */
	size_t want = QUANT_SAMPLE_FLOATS / total < QUANT_SAMPLE ? QUANT_SAMPLE_FLOATS / total :
								   QUANT_SAMPLE;
	want = want < 16 ? 16 : want;
	size_t step = (n + want - 1) / want, n_smp = (n + step - 1) / step;
	double *sum = calloc(total, sizeof *sum);
	float *mean = malloc(total * sizeof *mean), *scratch = malloc(sf * sizeof *scratch);
	float *smp = malloc(n_smp * total * sizeof *smp); /* layer by layer */
	double out_max = 0.0;
	iotad_err rc = IOTAD_ERR_NOMEM;
	if (!sum || !mean || !scratch || !smp)
		goto out;
	for (size_t k = 0; k < n; k++) {
		const float *xw = x + win[k] * d_stride;
		(void)nn_forward(net, xw, scratch, NULL);
		/* layer l's input: the window, then scratch's activations */
		for (size_t j = 0; j < total; j++) {
			float v = j < (size_t)d ? xw[j] : scratch[j - (size_t)d];
			sum[j] += v;
			if (k % step)
				continue;
			/* sample k / step of the layer holding j */
			size_t off = 0, l = 0;
			while (j >= off + (size_t)net->sizes[l])
				off += (size_t)net->sizes[l++];
			smp[off * n_smp + (k / step) * (size_t)net->sizes[l] + (j - off)] = v;
		}
		for (size_t j = sf - (size_t)d; j < sf; j++)
			out_max = fabs(scratch[j]) > out_max ? fabs(scratch[j]) : out_max;
	}
	for (size_t j = 0; j < total; j++)
		mean[j] = (float)(sum[j] / (double)n);
	qnn_quantize_weights(net, mean, q);
	for (size_t l = 0, off = 0; o->adaround && l < (size_t)L; off += (size_t)net->sizes[l], l++)
		if ((rc = quant_round(net, (int)l, smp + off * n_smp, n_smp, q)))
			goto out;
	qnn_quantize_biases(net, mean, q);
	quant_narrow_biases(q, o->bias_bits);
	rc = IOTAD_ERR_NOMEM;
	for (size_t l = 0, off = 0; l < (size_t)L; off += (size_t)net->sizes[l], l++) {
		double a, b;
		if (l > 0 && net->act[l - 1] == NN_SIGMOID) {
			q->a_scale[l] = 1.0f / QNN_SIG_Q;
			q->a_zp[l] = -128;
			continue;
		}
		quant_quantiles(smp + off * n_smp, n_smp * (size_t)net->sizes[l],
				(double)o->range_quantile, &a, &b);
		if (l == 0) {
			double span = b - a;
			a -= (double)o->input_margin * span;
			b += (double)o->input_margin * span;
		}
		quant_range(a, b, &q->a_scale[l], &q->a_zp[l]);
	}
	quant_fit_bias(net, q);
	if (net->act[L - 1] == NN_SIGMOID)
		q->out_scale = 1.0f / QNN_SIG_Q;
	else
		q->out_scale = qnn_f24_ceil((float)((out_max > 1e-6 ? out_max : 1.0) *
						    QUANT_OUT_HEADROOM / QNN_OUT_MAX));
	rc = IOTAD_OK;
out:
	free(sum);
	free(mean);
	free(scratch);
	free(smp);
	return rc;
}

/* Windows of every segment (all[]) and the held-out ones (cal[]), as
 * train.c splits them. */
static void quant_split(const size_t *seg, size_t n_seg, size_t w, float holdout, size_t *all,
			size_t *n_all, size_t *cal, size_t *n_cal)
{
	*n_all = *n_cal = 0;
	for (size_t g = 0, row = 0; g < n_seg; row += seg[g], g++) {
		size_t nw = seg[g] >= w ? seg[g] - w + 1 : 0;
		size_t nc = (size_t)floor((double)holdout * (double)nw);
		size_t nt = nc > 0 && nw > nc + (w - 1) ? nw - nc - (w - 1) : nw;
		if (nt == nw)
			nc = 0;
		for (size_t i = 0; i < nw; i++)
			all[(*n_all)++] = row + i;
		for (size_t i = nw - nc; i < nw; i++)
			cal[(*n_cal)++] = row + i;
	}
	if (*n_cal < QUANT_MIN_CALIB) {
		memcpy(cal, all, *n_all * sizeof *all);
		*n_cal = *n_all;
	}
}

/* The int8 model's threshold and calibration from its own scores. */
static iotad_err quant_calibrate(model *m, const float *x, size_t d_stride, const size_t *cal,
				 size_t n)
{
	float *s = malloc(n * sizeof *s);
	float *scratch = malloc(model_scratch_floats(m) * sizeof *scratch);
	if (!s || !scratch) {
		free(s);
		free(scratch);
		return IOTAD_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++)
		s[i] = model_score(m, x + cal[i] * d_stride, scratch, NULL, NULL);
	free(scratch);
	qsort(s, n, sizeof *s, quant_cmp);
	/* the percentile as train.c takes it: linear between ranks */
	double pos = (double)m->percentile / 100.0 * (double)(n - 1);
	size_t lo = (size_t)floor(pos);
	float t = lo >= n - 1 ? s[n - 1] :
		  (float)((double)s[lo] + (pos - (double)lo) * ((double)s[lo + 1] - s[lo]));
	m->threshold = t > QUANT_MIN_THRESHOLD ? t : QUANT_MIN_THRESHOLD;
	if (n > MODEL_MAX_CALIB) {
		for (size_t k = 0; k < MODEL_MAX_CALIB; k++)
			s[k] = s[(size_t)((double)k * (double)(n - 1) / (MODEL_MAX_CALIB - 1))];
		n = MODEL_MAX_CALIB;
	}
	/* at the precision the model file keeps them, so a saved model scores alike */
	for (size_t k = 0; k < n; k++)
		s[k] = qnn_code_score(qnn_score_code(s[k]));
	m->calib = s;
	m->n_calib = (int)n;
	return IOTAD_OK;
}

/* out: fm's description with empty networks of its shape. */
static iotad_err quant_shell(const model *fm, model *out)
{
	memset(out, 0, sizeof *out);
	memcpy(out->id, fm->id, sizeof out->id);
	out->version = fm->version;
	out->n_features = fm->n_features;
	memcpy(out->features, fm->features, sizeof out->features);
	out->window = fm->window;
	out->stride = fm->stride;
	out->norm = fm->norm;
	memcpy(out->norm_a, fm->norm_a, sizeof out->norm_a);
	memcpy(out->norm_b, fm->norm_b, sizeof out->norm_b);
	memcpy(out->stuck_after, fm->stuck_after, sizeof out->stuck_after);
	out->percentile = fm->percentile;
	out->type = MODEL_INT8;
	if (!(out->q = calloc(MODEL_MAX_MEMBERS, sizeof *out->q)))
		return IOTAD_ERR_NOMEM;
	const nn *net = &fm->net;
	for (int k = 0; k <= fm->n_more; k++) {
		iotad_err rc = nn_init(k ? &out->more[k - 1] : &out->net, net->n_layers, net->sizes,
				       net->act);
		if (!rc)
			rc = qnn_init(&out->q[k], net->n_layers, net->sizes, net->act);
		if (rc)
			return rc;
		out->n_more = k;
	}
	return IOTAD_OK;
}

/* The normalization rounded by round() when every value moves by at most
 * QUANT_NORM_ERR of its feature's span (min-max: max - min; z-score: the
 * std), far below the int8 input step (the span widened by the margin,
 * over 255). 0 if rounded, -1 if left as it is. */
static int quant_norm_round(model *m, float (*round)(float))
{
	float a[MODEL_MAX_FEATURES], b[MODEL_MAX_FEATURES];
	for (int i = 0; i < m->n_features; i++) {
		double span = m->norm == NORM_MINMAX ? (double)m->norm_b[i] - m->norm_a[i] :
						       (double)m->norm_b[i];
		a[i] = round(m->norm_a[i]);
		b[i] = round(m->norm_b[i]);
		if (!(fabs((double)a[i] - m->norm_a[i]) <= QUANT_NORM_ERR * span) ||
		    !(fabs((double)b[i] - m->norm_b[i]) <= QUANT_NORM_ERR * span) ||
		    (m->norm == NORM_MINMAX && !(b[i] >= a[i])) ||
		    (m->norm == NORM_ZSCORE && !(b[i] > 0.0f)))
			return -1;
	}
	memcpy(m->norm_a, a, (size_t)m->n_features * sizeof *a);
	memcpy(m->norm_b, b, (size_t)m->n_features * sizeof *b);
	return 0;
}

/* The normalization as the model file stores it shortest: half floats (2
 * bytes) or else 3-byte floats, when that rounding is small enough. */
static void quant_norm_short(model *m)
{
	if (m->norm != NORM_NONE && quant_norm_round(m, qnn_half_round))
		quant_norm_round(m, qnn_f24_round);
}

iotad_err quant_model(const model *fm, const float *rows, size_t n_rows, const quant_opts *o,
		      model *out, char *err, size_t errlen)
{
	if (!fm || !rows || !o || !out || !fm->net.params) {
		iotad_errf(err, errlen, "quantize: invalid arguments");
		return IOTAD_ERR_INVAL;
	}
	memset(out, 0, sizeof *out);
	if (fm->type != MODEL_FLOAT) {
		iotad_errf(err, errlen, "quantize: the model is already int8");
		return IOTAD_ERR_INVAL;
	}
	if (!(o->holdout >= 0.0f && o->holdout < 1.0f) ||
	    !(o->input_margin >= 0.0f && o->input_margin <= 10.0f) ||
	    !(o->range_quantile >= 0.9f && o->range_quantile <= 1.0f)) {
		iotad_errf(err, errlen, "quantize: holdout must be in [0, 1), input margin in [0, 10], "
			   "range quantile in [0.9, 1]");
		return IOTAD_ERR_INVAL;
	}
	size_t w = (size_t)fm->window, f = (size_t)fm->n_features, one = n_rows, total = 0;
	const size_t *seg = o->segments ? o->segments : &one;
	size_t n_seg = o->segments ? o->n_segments : 1;
	for (size_t g = 0; g < n_seg; g++)
		total += seg[g];
	if (total != n_rows) {
		iotad_errf(err, errlen, "quantize: segments cover %zu of %zu rows", total, n_rows);
		return IOTAD_ERR_INVAL;
	}
	float *x = malloc((n_rows ? n_rows : 1) * f * sizeof *x);
	size_t *all = malloc((n_rows ? n_rows : 1) * sizeof *all);
	size_t *cal = malloc((n_rows ? n_rows : 1) * sizeof *cal);
	size_t n_all, n_cal;
	iotad_err rc = x && all && cal ? IOTAD_OK : IOTAD_ERR_NOMEM;
	if (rc || (rc = quant_shell(fm, out)))
		goto fail;
	quant_norm_short(out);
	for (size_t i = 0; i < n_rows; i++) {
		for (size_t j = 0; j < f; j++)
			if (!isfinite(rows[i * f + j])) {
				iotad_errf(err, errlen, "quantize: row %zu, feature %zu: not a finite "
					   "number", i, j);
				rc = IOTAD_ERR_INVAL;
				goto fail;
			}
		model_normalize(out, rows + i * f, x + i * f);
	}
	quant_split(seg, n_seg, w, o->holdout, all, &n_all, cal, &n_cal);
	if (n_all == 0) {
		iotad_errf(err, errlen, "quantize: %zu rows hold no window of %zu", n_rows, w);
		rc = IOTAD_ERR_RANGE;
		goto fail;
	}
	for (int k = 0; k <= fm->n_more; k++) {
		const nn *net = k ? &fm->more[k - 1] : &fm->net;
		int bad = -1;
		const char *what = "";
		if ((rc = quant_member(net, x, f, all, n_all, o, &out->q[k])))
			goto fail;
		if ((rc = qnn_prepare(&out->q[k], &bad, &what))) {
			iotad_errf(err, errlen, "quantize: member %d, layer %d: %s", k, bad, what);
			goto fail;
		}
		qnn_dequantize(&out->q[k], k ? &out->more[k - 1] : &out->net);
	}
	if ((rc = quant_calibrate(out, x, f, cal, n_cal)))
		goto fail;
	free(x);
	free(all);
	free(cal);
	return IOTAD_OK;
fail:
	if (rc == IOTAD_ERR_NOMEM)
		iotad_errf(err, errlen, "quantize: out of memory");
	free(x);
	free(all);
	free(cal);
	model_free(out);
	memset(out, 0, sizeof *out);
	return rc;
}
