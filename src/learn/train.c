/* train.c - fit the autoencoder to normal data.
 *
 * Rows are normalized once; window i is then the contiguous slice of W rows
 * starting at row i, so no window is ever copied. The last `holdout` share
 * of windows (in time order, after a gap of W-1 windows so that no row is in
 * both sets) is kept for calibration: its scores give the threshold and the
 * score distribution stored in the model. Training is mini-batch Adam over
 * the other windows, reshuffled every epoch with a seeded generator; one
 * thread and no clock, so a seed gives bit-identical parameters. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/errmsg.h"
#include "iotad/rng.h"
#include "iotad/train.h"

/* Fewer held-out windows than this and the threshold would be noise. */
#define TRAIN_MIN_CALIB 20
#define TRAIN_MIN_THRESHOLD 1e-9f

void train_opts_default(train_opts *o)
{
	memset(o, 0, sizeof *o);
	o->window = 10;
	o->stride = 1;
	o->n_hidden = 3;
	o->hidden[0] = 12;
	o->hidden[1] = 6;
	o->hidden[2] = 12;
	o->norm = NORM_MINMAX;
	o->epochs = 30;
	o->batch = 32;
	o->ensemble = 1;
	o->lr = 1e-3f;
	o->seed = 42;
	o->percentile = 99.0f;
	o->holdout = 0.2f;
	o->verbose = 0;
}

static int cmp_float(const void *pa, const void *pb)
{
	float a = *(const float *)pa, b = *(const float *)pb;
	return (a > b) - (a < b);
}

static iotad_err check_opts(const train_opts *o, int f, char *err, size_t errlen)
{
	if (f < 1 || f > MODEL_MAX_FEATURES) {
		iotad_errf(err, errlen, "features: %d, expected 1..%d", f, MODEL_MAX_FEATURES);
		return IOTAD_ERR_RANGE;
	}
	if (o->window < 1 || o->window > MODEL_MAX_WINDOW) {
		iotad_errf(err, errlen, "window: %d, expected 1..%d", o->window, MODEL_MAX_WINDOW);
		return IOTAD_ERR_RANGE;
	}
	if ((long)o->window * f > NN_MAX_WIDTH) {
		iotad_errf(err, errlen, "window * features = %ld exceeds %d inputs",
		       (long)o->window * f, NN_MAX_WIDTH);
		return IOTAD_ERR_RANGE;
	}
	if (o->stride < 1 || o->stride > o->window) {
		iotad_errf(err, errlen, "stride: %d, expected 1..window (%d)", o->stride, o->window);
		return IOTAD_ERR_RANGE;
	}
	if (o->n_hidden < 0 || o->n_hidden > NN_MAX_LAYERS - 1) {
		iotad_errf(err, errlen, "hidden: %d layers, expected 0..%d", o->n_hidden,
		       NN_MAX_LAYERS - 1);
		return IOTAD_ERR_RANGE;
	}
	for (int i = 0; i < o->n_hidden; i++) {
		if (o->hidden[i] < 1 || o->hidden[i] > NN_MAX_WIDTH) {
			iotad_errf(err, errlen, "hidden[%d]: width %d, expected 1..%d", i, o->hidden[i],
			       NN_MAX_WIDTH);
			return IOTAD_ERR_RANGE;
		}
	}
	if (o->norm != NORM_MINMAX && o->norm != NORM_ZSCORE) {
		iotad_errf(err, errlen, "norm: unknown kind %d", (int)o->norm);
		return IOTAD_ERR_INVAL;
	}
	if (o->ensemble < 1 || o->ensemble > MODEL_MAX_MEMBERS) {
		iotad_errf(err, errlen, "ensemble: must be in 1..%d", MODEL_MAX_MEMBERS);
		return IOTAD_ERR_INVAL;
	}
	if (o->epochs < 1 || o->batch < 1) {
		iotad_errf(err, errlen, "epochs and batch must be >= 1");
		return IOTAD_ERR_RANGE;
	}
	if (!isfinite(o->lr) || !(o->lr > 0.0f)) {
		iotad_errf(err, errlen, "lr: must be a finite number > 0");
		return IOTAD_ERR_RANGE;
	}
	if (!(o->percentile > 0.0f && o->percentile <= 100.0f)) {
		iotad_errf(err, errlen, "percentile: must be in (0, 100]");
		return IOTAD_ERR_RANGE;
	}
	if (!(o->holdout >= 0.0f && o->holdout < 1.0f)) {
		iotad_errf(err, errlen, "holdout: must be in [0, 1)");
		return IOTAD_ERR_RANGE;
	}
	if (!(o->drift_max >= 0.0f && isfinite(o->drift_max))) {
		iotad_errf(err, errlen, "drift_max: must be a finite number >= 0");
		return IOTAD_ERR_RANGE;
	}
	return IOTAD_OK;
}

/* A ratio this large means "no noise at all around a trend". */
#define TRAIN_DRIFT_CAP 1e30

iotad_err train_drift_ratio(const float *rows, size_t n_rows, int n_features,
			    const size_t *segments, size_t n_segments, float *ratio, char *err,
			    size_t errlen)
{
	size_t one = n_rows, total = 0, f = (size_t)n_features;
	const size_t *seg = segments ? segments : &one;
	size_t n_seg = segments ? n_segments : 1;
	for (size_t g = 0; g < n_seg; g++)
		total += seg[g];
	if (!rows || !ratio || n_features < 1 || n_features > MODEL_MAX_FEATURES ||
	    total != n_rows || n_rows == 0) {
		iotad_errf(err, errlen, "drift: invalid arguments (%d features, segments cover "
			   "%zu of %zu rows)", n_features, total, n_rows);
		return IOTAD_ERR_INVAL;
	}
	for (size_t j = 0; j < f; j++) {
		double ss = 0.0, steps = 0.0;
		size_t n_steps = 0;
		for (size_t g = 0, r0 = 0; g < n_seg; r0 += seg[g], g++) {
			double mean = 0.0;
			for (size_t i = r0; i < r0 + seg[g]; i++) {
				double x = rows[i * f + j];
				if (!isfinite(x)) {
					iotad_errf(err, errlen, "row %zu, feature %zu: not a finite "
						   "number", i, j);
					return IOTAD_ERR_INVAL;
				}
				mean += x;
			}
			mean /= seg[g] ? (double)seg[g] : 1.0;
			for (size_t i = r0; i < r0 + seg[g]; i++) {
				double d = rows[i * f + j] - mean;
				ss += d * d;
				if (i > r0) {
					double s = (double)rows[i * f + j] - rows[(i - 1) * f + j];
					steps += s * s;
					n_steps++;
				}
			}
		}
		double noise = n_steps ? steps / (2.0 * (double)n_steps) : 0.0;
		double r = noise > 0.0 ? (ss / (double)n_rows) / noise : 1.0;
		ratio[j] = (float)(r < TRAIN_DRIFT_CAP ? r : TRAIN_DRIFT_CAP);
	}
	return IOTAD_OK;
}

iotad_err train_drift_select(const float *rows, size_t n_rows, int n_features,
			     const size_t *segments, size_t n_segments, float drift_max, int *keep,
			     int *n_keep, float *ratio, char *err, size_t errlen)
{
	float local[MODEL_MAX_FEATURES];
	float *r = ratio ? ratio : local;
	iotad_err rc = train_drift_ratio(rows, n_rows, n_features, segments, n_segments, r, err,
					 errlen);
	if (rc)
		return rc;
	int n = 0;
	for (int j = 0; j < n_features; j++)
		if (!(drift_max > 0.0f) || r[j] <= drift_max)
			keep[n++] = j;
	*n_keep = n;
	if (n == 0) {
		iotad_errf(err, errlen, "drift: every feature drifts (ratio above %g) in the "
			   "training rows", (double)drift_max);
		return IOTAD_ERR_RANGE;
	}
	return IOTAD_OK;
}

static iotad_err train_model_inner(const float *rows, size_t n_rows, int n_features,
				   const train_opts *o, model *m, train_report *rep, char *err,
				   size_t errlen);

/* drift_max: train on the kept columns only, named as the caller named them. */
static iotad_err train_without_drift(const float *rows, size_t n_rows, int n_features,
				     const train_opts *o, model *m, train_report *rep, char *err,
				     size_t errlen)
{
	int keep[MODEL_MAX_FEATURES], nk;
	float ratio[MODEL_MAX_FEATURES];
	iotad_err rc = train_drift_select(rows, n_rows, n_features, o->segments, o->n_segments,
					  o->drift_max, keep, &nk, ratio, err, errlen);
	if (rc)
		return rc;
	float *x = malloc(n_rows * (size_t)nk * sizeof *x);
	if (!x) {
		iotad_errf(err, errlen, "train: out of memory");
		return IOTAD_ERR_NOMEM;
	}
	for (size_t i = 0; i < n_rows; i++)
		for (int k = 0; k < nk; k++)
			x[i * (size_t)nk + (size_t)k] = rows[i * (size_t)n_features + (size_t)keep[k]];
	/* keep[] ascends, so compacting in place never overwrites a name still needed */
	for (int k = 0; k < nk; k++)
		if (keep[k] != k)
			memcpy(m->features[k], m->features[keep[k]], MODEL_NAME_MAX);
	rc = train_model_inner(x, n_rows, nk, o, m, rep, err, errlen);
	free(x);
	rep->n_kept = nk;
	memcpy(rep->kept, keep, (size_t)nk * sizeof *keep);
	memcpy(rep->drift, ratio, (size_t)n_features * sizeof *ratio);
	return rc;
}

static iotad_err fit_norm(const float *rows, size_t n, int f, norm_kind kind, model *m,
			  char *err, size_t errlen)
{
	for (int j = 0; j < f; j++) {
		double lo = INFINITY, hi = -INFINITY, sum = 0.0;
		for (size_t i = 0; i < n; i++) {
			double x = rows[i * (size_t)f + j];
			if (!isfinite(x)) {
				iotad_errf(err, errlen, "row %zu, feature %d: not a finite number", i, j);
				return IOTAD_ERR_INVAL;
			}
			lo = x < lo ? x : lo;
			hi = x > hi ? x : hi;
			sum += x;
		}
		if (kind == NORM_MINMAX) {
			m->norm_a[j] = (float)lo;
			m->norm_b[j] = (float)hi;
			continue;
		}
		double mean = sum / (double)n, ss = 0.0;
		for (size_t i = 0; i < n; i++) {
			double d = rows[i * (size_t)f + j] - mean;
			ss += d * d;
		}
		double sd = sqrt(ss / (double)n);
		m->norm_a[j] = (float)mean;
		/* A constant feature normalizes to 0 rather than dividing by 0. */
		m->norm_b[j] = sd > 1e-12 && (float)sd > 0.0f ? (float)sd : 1.0f;
	}
	return IOTAD_OK;
}

/* Percentile p (0..100] of n sorted values, linear interpolation between ranks. */
static float percentile_sorted(const float *s, size_t n, float p)
{
	if (n == 1)
		return s[0];
	double pos = (double)p / 100.0 * (double)(n - 1);
	size_t lo = (size_t)floor(pos);
	if (lo >= n - 1)
		return s[n - 1];
	double frac = pos - (double)lo;
	return (float)((double)s[lo] + frac * ((double)s[lo + 1] - (double)s[lo]));
}

/* Mini-batch Adam over windows idx[0..n_train). Returns mean loss of the
 * first and last epochs in rep. */
static iotad_err fit(nn *net, const float *x, size_t d_stride, size_t *idx, size_t n_train,
		     const train_opts *o, train_report *rep)
{
	nn_adam opt;
	nn_tw tw;
	iotad_err rc = nn_adam_init(&opt, net, o->lr);
	if (rc)
		return rc;
	if ((rc = nn_tw_init(&tw, net))) {
		nn_adam_free(&opt);
		return rc;
	}
	size_t sf = nn_scratch_floats(net);
	bool dp = o->dp_clip > 0;
	float *grad = malloc(net->n_params * sizeof *grad);
	float *scratch = malloc(2 * sf * sizeof *scratch);
	float *one = dp ? malloc(net->n_params * sizeof *one) : NULL;
	if (!grad || !scratch || (dp && !one)) {
		rc = IOTAD_ERR_NOMEM;
		goto out;
	}
	rng noise;
	rng_seed(&noise, o->dp_seed);
	rng shuffle;
	rng_seed(&shuffle, o->seed ^ 0x5eedf00dULL);
	for (int ep = 0; ep < o->epochs; ep++) {
		for (size_t i = n_train; i > 1; i--) {
			size_t j = rng_below(&shuffle, i);
			size_t t = idx[i - 1];
			idx[i - 1] = idx[j];
			idx[j] = t;
		}
		double ep_loss = 0.0;
		for (size_t b0 = 0; b0 < n_train; b0 += (size_t)o->batch) {
			size_t bn = n_train - b0 < (size_t)o->batch ? n_train - b0 : (size_t)o->batch;
			memset(grad, 0, net->n_params * sizeof *grad);
			for (size_t k = 0; k < bn && !dp; k++)
				ep_loss += nn_backward_tw(net, &tw, x + idx[b0 + k] * d_stride, scratch,
							  grad);
			for (size_t k = 0; k < bn && dp; k++) {
				memset(one, 0, net->n_params * sizeof *one);
				ep_loss += nn_backward_tw(net, &tw, x + idx[b0 + k] * d_stride, scratch,
							  one);
				double n2 = 0;
				for (size_t p = 0; p < net->n_params; p++)
					n2 += (double)one[p] * one[p];
				float c = n2 > (double)o->dp_clip * o->dp_clip ?
						  (float)(o->dp_clip / sqrt(n2)) : 1.0f;
				for (size_t p = 0; p < net->n_params; p++)
					grad[p] += c * one[p];
			}
			for (size_t p = 0; dp && o->dp_noise > 0 && p < net->n_params; p++)
				grad[p] += (float)((double)o->dp_noise * o->dp_clip * rng_normal(&noise));
			float scale = 1.0f / (float)bn;
			for (size_t p = 0; p < net->n_params; p++)
				grad[p] *= scale;
			nn_adam_step(&opt, net, grad);
			nn_tw_update(&tw, net);
		}
		float mean = (float)(ep_loss / (double)n_train);
		if (ep == 0)
			rep->first_loss = mean;
		rep->final_loss = mean;
		if (o->verbose)
			fprintf(stderr, "epoch %d/%d: loss %.6g\n", ep + 1, o->epochs, (double)mean);
		if (!isfinite(mean)) {
			rc = IOTAD_ERR_RANGE;
			goto out;
		}
	}
out:
	free(grad);
	free(scratch);
	free(one);
	nn_adam_free(&opt);
	nn_tw_free(&tw);
	return rc;
}

iotad_err train_fit(nn *net, const float *x, size_t n, const train_opts *o, train_report *rep)
{
	train_report r = {0};
	if (!net || !net->params || !x || n == 0 || !o || o->epochs < 1 || o->batch < 1 ||
	    !isfinite(o->lr) || !(o->lr > 0.0f) || !(o->dp_clip >= 0) || !isfinite(o->dp_clip) ||
	    !(o->dp_noise >= 0) || !isfinite(o->dp_noise))
		return IOTAD_ERR_INVAL;
	size_t *idx = malloc(n * sizeof *idx);
	if (!idx)
		return IOTAD_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	iotad_err rc = fit(net, x, (size_t)net->sizes[0], idx, n, o, &r);
	free(idx);
	r.n_windows = r.n_train = n;
	if (rep)
		*rep = r;
	return rc;
}

/* Score the calibration windows, sort, set threshold and keep at most
 * MODEL_MAX_CALIB evenly spaced order statistics. */
static iotad_err calibrate(model *m, const float *x, size_t d_stride, const size_t *win, size_t n,
			   float pct)
{
	float *s = malloc(n * sizeof *s);
	float *scratch = malloc(nn_scratch_floats(&m->net) * sizeof *scratch);
	if (!s || !scratch) {
		free(s);
		free(scratch);
		return IOTAD_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++)
		s[i] = model_score(m, x + win[i] * d_stride, scratch, NULL, NULL);
	free(scratch);
	qsort(s, n, sizeof *s, cmp_float);
	float t = percentile_sorted(s, n, pct);
	m->threshold = t > TRAIN_MIN_THRESHOLD ? t : TRAIN_MIN_THRESHOLD;
	m->percentile = pct;
	if (n > MODEL_MAX_CALIB) {
		for (size_t k = 0; k < MODEL_MAX_CALIB; k++)
			s[k] = s[(size_t)((double)k * (double)(n - 1) / (MODEL_MAX_CALIB - 1))];
		n = MODEL_MAX_CALIB;
	}
	m->calib = s;
	m->n_calib = (int)n;
	return IOTAD_OK;
}

iotad_err train_model_report(const float *rows, size_t n_rows, int n_features,
			     const train_opts *o, model *m, train_report *rep, char *err,
			     size_t errlen)
{
	train_report local;
	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof *rep);
	if (err && errlen)
		err[0] = '\0';
	if (!rows || !o || !m) {
		iotad_errf(err, errlen, "train: invalid arguments");
		return IOTAD_ERR_INVAL;
	}
	iotad_err rc = check_opts(o, n_features, err, errlen);
	if (rc)
		return rc;
	if (o->drift_max > 0.0f)
		return train_without_drift(rows, n_rows, n_features, o, m, rep, err, errlen);
	rep->n_kept = n_features;
	for (int j = 0; j < n_features; j++)
		rep->kept[j] = j;
	return train_model_inner(rows, n_rows, n_features, o, m, rep, err, errlen);
}

void train_stuck_after(const float *x, size_t n_rows, int n_features, const size_t *segments,
		       size_t n_segments, model *m)
{
	size_t one = n_rows, f = (size_t)n_features;
	const size_t *seg = segments ? segments : &one;
	size_t n_seg = segments ? n_segments : 1;

	for (size_t j = 0; j < f; j++) {
		size_t longest = 0, repeats = 0, pairs = 0;
		for (size_t g = 0, row = 0; g < n_seg; row += seg[g], g++) {
			size_t run = 0;
			for (size_t i = row; i < row + seg[g]; i++) {
				int same = i > row && x[i * f + j] == x[(i - 1) * f + j];
				run = same ? run + 1 : 1;
				repeats += (size_t)same;
				pairs += i > row;
				longest = run > longest ? run : longest;
			}
		}
		double r = pairs ? (double)repeats / (double)pairs : 1.0;
		double need = r <= 0.0 ? 3.0 : r < 1.0 ? 1.0 + ceil(log(TRAIN_STUCK_RARE) / log(r)) :
			      HUGE_VAL;
		if (need < 2.0 * (double)longest)
			need = 2.0 * (double)longest;
		if (need < 3.0)
			need = 3.0;
		m->stuck_after[j] = need <= MODEL_MAX_STUCK_RUN ? (uint8_t)need : 0;
	}
}

/* The training proper, on every column of rows; options checked. */
static iotad_err train_model_inner(const float *rows, size_t n_rows, int n_features,
				   const train_opts *o, model *m, train_report *rep, char *err,
				   size_t errlen)
{
	iotad_err rc;
	size_t w = (size_t)o->window, f = (size_t)n_features;
	if (n_rows < w + 1) {
		iotad_errf(err, errlen, "train: %zu rows, need at least window + 1 = %zu", n_rows, w + 1);
		return IOTAD_ERR_RANGE;
	}
	m->n_features = n_features;
	m->window = o->window;
	m->stride = o->stride;
	m->norm = o->norm;
	if (m->version <= 0)
		m->version = 1;
	if ((rc = fit_norm(rows, n_rows, n_features, o->norm, m, err, errlen)))
		return rc;

	size_t one = n_rows;
	const size_t *seg = o->segments ? o->segments : &one;
	size_t n_seg = o->segments ? o->n_segments : 1, n_win = 0, total = 0;
	for (size_t g = 0; g < n_seg; g++) {
		total += seg[g];
		n_win += seg[g] >= w ? seg[g] - w + 1 : 0;
	}
	if (total != n_rows || n_win == 0) {
		iotad_errf(err, errlen, total != n_rows ? "train: segments cover %zu of %zu rows"
				    : "train: no segment holds a whole window (%zu rows)",
		       total, n_rows);
		return IOTAD_ERR_INVAL;
	}
	float *x = malloc(n_rows * f * sizeof *x);
	size_t *idx = malloc(n_win * sizeof *idx);
	size_t *cal = malloc(n_win * sizeof *cal);
	if (!x || !idx || !cal) {
		rc = IOTAD_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n_rows; i++)
		model_normalize(m, rows + i * f, x + i * f);
	train_stuck_after(x, n_rows, n_features, o->segments, o->n_segments, m);

	/* Split each segment in time order: train | gap of w-1 windows |
	 * calibration. Window i starts at row i. */
	size_t n_train = 0, n_cal = 0;
	for (size_t g = 0, row = 0; g < n_seg; row += seg[g], g++) {
		size_t nw = seg[g] >= w ? seg[g] - w + 1 : 0;
		size_t nc = (size_t)floor((double)o->holdout * (double)nw);
		size_t nt = nc > 0 && nw > nc + (w - 1) ? nw - nc - (w - 1) : nw;
		if (nt == nw)
			nc = 0;
		for (size_t i = 0; i < nt; i++)
			idx[n_train++] = row + i;
		for (size_t i = nw - nc; i < nw; i++)
			cal[n_cal++] = row + i;
	}
	if (n_cal < TRAIN_MIN_CALIB) {
		/* Too few held-out windows for a threshold: calibrate on all. */
		n_train = n_cal = 0;
		for (size_t g = 0, row = 0; g < n_seg; row += seg[g], g++)
			for (size_t i = 0; seg[g] >= w && i < seg[g] - w + 1; i++)
				idx[n_train++] = cal[n_cal++] = row + i;
		rep->calib_on_train = 1;
	}
	rep->n_windows = n_win;
	rep->n_train = n_train;
	rep->n_calib = n_cal;

	int sizes[NN_MAX_LAYERS + 1];
	nn_act act[NN_MAX_LAYERS];
	static const int seed_shape[3] = {12, 6, 12};
	int nh = o->hidden_auto ? 3 : o->n_hidden, nl = nh + 1;
	sizes[0] = (int)(w * f);
	for (int l = 0; l < nh; l++) {
		long aw = lround((double)seed_shape[l % 3] * (double)sizes[0] / 20.0);
		sizes[l + 1] = !o->hidden_auto ? o->hidden[l] : aw < 1 ? 1 : (int)aw;
		act[l] = NN_RELU;
	}
	sizes[nl] = sizes[0];
	act[nl - 1] = o->norm == NORM_MINMAX ? NN_SIGMOID : NN_LINEAR;
	/* member k starts from seed + k and shuffles with it; the report's
	 * losses are the first member's */
	train_report scratch_rep;
	for (int k = 0; k < o->ensemble; k++) {
		nn *net = k ? &m->more[k - 1] : &m->net;
		train_opts ok = *o;
		ok.seed = o->seed + (uint64_t)k;
		if ((rc = nn_init(net, nl, sizes, act)))
			goto fail;
		m->n_more = k;
		nn_init_weights(net, ok.seed);
		rc = fit(net, x, f, idx, n_train, &ok, k ? &scratch_rep : rep);
		if (rc == IOTAD_ERR_RANGE) {
			iotad_errf(err, errlen, "train: the loss diverged (try a smaller --lr)");
			goto fail;
		}
		if (rc)
			goto fail;
	}
	if ((rc = calibrate(m, x, f, cal, n_cal, o->percentile)))
		goto fail;
	free(x);
	free(idx);
	free(cal);
	return IOTAD_OK;
fail:
	if (rc == IOTAD_ERR_NOMEM)
		iotad_errf(err, errlen, "train: out of memory");
	else if (err && errlen && !err[0])
		iotad_errf(err, errlen, "train: %s", iotad_strerror(rc));
	free(x);
	free(idx);
	free(cal);
	model_free(m);
	return rc;
}

iotad_err train_model(const float *rows, size_t n_rows, int n_features, const train_opts *o,
		      model *m, char *err, size_t errlen)
{
	return train_model_report(rows, n_rows, n_features, o, m, NULL, err, errlen);
}
