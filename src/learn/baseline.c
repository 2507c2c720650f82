/* baseline.c - rolling z-score and PCA T^2/Q reference detectors.
 *
 * Both fit on the first (1 - holdout) share of each training segment and
 * score the rest for calibration, as train.c does for the autoencoder.
 *
 * Z-score: the statistics of a series cover its last zs_window rows judged
 * normal. Until it has seen that many, the missing rows count as rows with
 * the training mean and variance, so a series starts from the training
 * statistics and moves to its own. Sums are kept centred on the training
 * mean so that large offsets cost no precision.
 *
 * PCA: features standardized with the training mean and deviation; the
 * components that keep pca_var of the variance span the normal subspace
 * (eigenvectors of the correlation matrix by cyclic Jacobi rotations).
 * Q is the squared distance to that subspace, T^2 the Mahalanobis distance
 * inside it. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/baseline.h"
#include "iotad/errmsg.h"
#include "iotad/model.h"

#define BL_MIN_CALIB 20
#define BL_MAX_F MODEL_MAX_FEATURES
#define BL_MAX_WINDOW 100000

struct baseline {
	bl_kind kind;
	bl_opts o;
	int f;
	double mean[BL_MAX_F], sd[BL_MAX_F], var[BL_MAX_F];
	/* PCA */
	int k;
	double eval_[BL_MAX_F];           /* eigenvalues, descending */
	double evec[BL_MAX_F][BL_MAX_F];  /* evec[i] = i-th component */
	float threshold, calib_mean;
	float *calib;                     /* sorted calibration scores */
	int n_calib;
};

struct bl_state {
	int n, r, head;                   /* window length, real rows held, oldest */
	double sum[BL_MAX_F], sumsq[BL_MAX_F];
	float rows[];                     /* n * f centred rows */
};

void bl_opts_default(bl_opts *o)
{
	o->zs_window = 100;
	o->pca_var = 0.9f;
	o->pca_score = BL_PCA_Q;
	o->percentile = 99.0f;
	o->holdout = 0.2f;
}

/* Mean, variance and deviation of the rows flagged in use. */
static void bl_moments(baseline *b, const float *rows, const uint8_t *use, size_t n)
{
	int f = b->f;
	size_t cnt = 0;
	for (size_t i = 0; i < n; i++)
		cnt += use[i];
	for (int j = 0; j < f; j++) {
		double s = 0.0, ss = 0.0;
		for (size_t i = 0; i < n; i++)
			if (use[i])
				s += rows[i * (size_t)f + j];
		double m = s / (double)cnt;
		for (size_t i = 0; i < n; i++) {
			if (use[i]) {
				double d = rows[i * (size_t)f + j] - m;
				ss += d * d;
			}
		}
		b->mean[j] = m;
		b->var[j] = ss / (double)cnt;
		b->sd[j] = sqrt(b->var[j]) > 1e-12 ? sqrt(b->var[j]) : 1.0;
	}
}

/* Eigen-decomposition of the symmetric f x f matrix a (destroyed) by cyclic
 * Jacobi rotations; values descending into b->eval_, vectors into b->evec. */
static void bl_jacobi(baseline *b, double a[BL_MAX_F][BL_MAX_F])
{
	int f = b->f;
	double v[BL_MAX_F][BL_MAX_F];
	for (int i = 0; i < f; i++)
		for (int j = 0; j < f; j++)
			v[i][j] = i == j;
	for (int sweep = 0; sweep < 100; sweep++) {
		double off = 0.0;
		for (int p = 0; p < f; p++)
			for (int q = p + 1; q < f; q++)
				off += a[p][q] * a[p][q];
		if (off < 1e-22)
			break;
		for (int p = 0; p < f; p++) {
			for (int q = p + 1; q < f; q++) {
				if (fabs(a[p][q]) < 1e-300)
					continue;
				double theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
				double t = (theta >= 0 ? 1.0 : -1.0) /
					   (fabs(theta) + sqrt(theta * theta + 1.0));
				double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
				for (int r = 0; r < f; r++) { /* columns p, q */
					double arp = a[r][p], arq = a[r][q];
					a[r][p] = c * arp - s * arq;
					a[r][q] = s * arp + c * arq;
				}
				for (int r = 0; r < f; r++) { /* rows p, q */
					double apr = a[p][r], aqr = a[q][r];
					a[p][r] = c * apr - s * aqr;
					a[q][r] = s * apr + c * aqr;
				}
				for (int r = 0; r < f; r++) {
					double vrp = v[r][p], vrq = v[r][q];
					v[r][p] = c * vrp - s * vrq;
					v[r][q] = s * vrp + c * vrq;
				}
			}
		}
	}
	int order[BL_MAX_F];
	for (int i = 0; i < f; i++)
		order[i] = i;
	for (int i = 1; i < f; i++) { /* insertion sort, descending, stable */
		int x = order[i], j = i;
		while (j > 0 && a[order[j - 1]][order[j - 1]] < a[x][x]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = x;
	}
	for (int i = 0; i < f; i++) {
		b->eval_[i] = a[order[i]][order[i]] > 0.0 ? a[order[i]][order[i]] : 0.0;
		for (int r = 0; r < f; r++)
			b->evec[i][r] = v[r][order[i]];
	}
}

static void bl_fit_pca(baseline *b, const float *rows, const uint8_t *use, size_t n)
{
	int f = b->f;
	double c[BL_MAX_F][BL_MAX_F];
	size_t cnt = 0;
	memset(c, 0, sizeof c);
	for (size_t i = 0; i < n; i++) {
		if (!use[i])
			continue;
		double z[BL_MAX_F];
		for (int j = 0; j < f; j++)
			z[j] = (rows[i * (size_t)f + j] - b->mean[j]) / b->sd[j];
		for (int p = 0; p < f; p++)
			for (int q = 0; q < f; q++)
				c[p][q] += z[p] * z[q];
		cnt++;
	}
	for (int p = 0; p < f; p++)
		for (int q = 0; q < f; q++)
			c[p][q] /= (double)cnt;
	bl_jacobi(b, c);
	double total = 0.0, cum = 0.0;
	for (int i = 0; i < f; i++)
		total += b->eval_[i];
	b->k = 0;
	while (b->k < f && (b->k == 0 || cum < (double)b->o.pca_var * total)) {
		cum += b->eval_[b->k];
		b->k++;
	}
	if (f > 1 && b->k > f - 1)
		b->k = f - 1; /* leave a residual space for Q */
}

static int bl_cmp_float(const void *pa, const void *pb)
{
	float a = *(const float *)pa, c = *(const float *)pb;
	return (a > c) - (a < c);
}

/* Score the calibration rows of each segment with a fresh state that learns
 * every row (they are normal), then take the percentile. */
static iotad_err bl_calibrate(baseline *b, const float *rows, const uint8_t *use, size_t n,
			      const size_t *seg, size_t n_seg)
{
	float *s = malloc((n ? n : 1) * sizeof *s);
	size_t ns = 0;
	if (!s)
		return IOTAD_ERR_NOMEM;
	for (size_t g = 0, row = 0; g < n_seg; row += seg[g], g++) {
		bl_state *st;
		if (bl_state_create(b, &st) != IOTAD_OK) {
			free(s);
			return IOTAD_ERR_NOMEM;
		}
		for (size_t i = row; i < row + seg[g]; i++) {
			if (use[i])
				continue;
			const float *x = rows + i * (size_t)b->f;
			s[ns++] = bl_score(b, st, x);
			bl_learn(b, st, x);
		}
		bl_state_destroy(st);
	}
	qsort(s, ns, sizeof *s, bl_cmp_float);
	double pos = (double)b->o.percentile / 100.0 * (double)(ns - 1), sum = 0.0;
	size_t lo = (size_t)floor(pos);
	float t = lo + 1 < ns ? (float)(s[lo] + (pos - (double)lo) * (s[lo + 1] - s[lo])) : s[ns - 1];
	for (size_t i = 0; i < ns; i++)
		sum += s[i];
	b->threshold = t > 1e-9f ? t : 1e-9f;
	b->calib_mean = (float)(sum / (double)ns);
	b->calib = s;
	b->n_calib = (int)ns;
	return IOTAD_OK;
}

iotad_err bl_fit(bl_kind kind, const bl_opts *o, const float *rows, size_t n, int f,
		 const size_t *segments, size_t n_segments, baseline **out, char *err,
		 size_t errlen)
{
	if (!o || !rows || !out || (kind != BL_ZSCORE && kind != BL_PCA)) {
		iotad_errf(err, errlen, "baseline: invalid arguments");
		return IOTAD_ERR_INVAL;
	}
	*out = NULL;
	if (f < 1 || f > BL_MAX_F || o->zs_window < 1 || o->zs_window > BL_MAX_WINDOW ||
	    !(o->pca_var > 0.0f && o->pca_var <= 1.0f) ||
	    !(o->percentile > 0.0f && o->percentile <= 100.0f) ||
	    !(o->holdout >= 0.0f && o->holdout < 1.0f)) {
		iotad_errf(err, errlen, "baseline: option out of range");
		return IOTAD_ERR_RANGE;
	}
	size_t one = n, total = 0;
	const size_t *seg = segments ? segments : &one;
	size_t n_seg = segments ? n_segments : 1;
	for (size_t g = 0; g < n_seg; g++)
		total += seg[g];
	if (total != n || n < 2) {
		iotad_errf(err, errlen, "baseline: %zu training rows (segments cover %zu)", n, total);
		return IOTAD_ERR_INVAL;
	}
	for (size_t i = 0; i < n * (size_t)f; i++) {
		if (!isfinite(rows[i])) {
			iotad_errf(err, errlen, "baseline: row %zu: not a finite number", i / (size_t)f);
			return IOTAD_ERR_INVAL;
		}
	}
	baseline *b = calloc(1, sizeof *b);
	uint8_t *use = malloc(n);
	if (!b || !use) {
		free(b);
		free(use);
		return IOTAD_ERR_NOMEM;
	}
	b->kind = kind;
	b->o = *o;
	b->f = f;
	/* use[i]: row i fits the statistics; the others calibrate. */
	size_t n_cal = 0;
	for (size_t g = 0, row = 0; g < n_seg; row += seg[g], g++) {
		size_t nc = (size_t)floor((double)o->holdout * (double)seg[g]);
		for (size_t i = 0; i < seg[g]; i++) /* nc < seg[g] as holdout < 1 */
			use[row + i] = i < seg[g] - nc;
		n_cal += nc;
	}
	if (n_cal < BL_MIN_CALIB) /* too few to hold out: fit and calibrate on all */
		memset(use, 1, n);
	bl_moments(b, rows, use, n);
	if (kind == BL_PCA)
		bl_fit_pca(b, rows, use, n);
	if (n_cal < BL_MIN_CALIB)
		memset(use, 0, n);
	iotad_err rc = bl_calibrate(b, rows, use, n, seg, n_seg);
	free(use);
	if (rc != IOTAD_OK) {
		free(b);
		return rc;
	}
	*out = b;
	return IOTAD_OK;
}

void bl_destroy(baseline *b)
{
	if (b)
		free(b->calib);
	free(b);
}

float bl_threshold(const baseline *b)
{
	return b->threshold;
}

float bl_calib_mean(const baseline *b)
{
	return b->calib_mean;
}

const float *bl_calib(const baseline *b, int *n)
{
	*n = b->n_calib;
	return b->calib;
}

iotad_err bl_state_create(const baseline *b, bl_state **out)
{
	int n = b->kind == BL_ZSCORE ? b->o.zs_window : 0;
	bl_state *s = calloc(1, sizeof *s + (size_t)n * (size_t)b->f * sizeof(float));
	if (!s)
		return IOTAD_ERR_NOMEM;
	s->n = n;
	*out = s;
	return IOTAD_OK;
}

void bl_state_destroy(bl_state *s)
{
	free(s);
}

/* With contrib (may be NULL), each feature's share: its |z| (z-score), its
 * squared residual plus its part of T^2 (PCA). s may be NULL: the training
 * statistics. */
static float bl_score_zscore(const baseline *b, const bl_state *s, const float *x, float *contrib)
{
	double worst = 0.0, z[BL_MAX_F], total = 0.0;
	for (int j = 0; j < b->f; j++) {
		/* Missing rows count with the training mean (0 centred) and variance. */
		double mc = 0.0, var = b->var[j];
		if (s && s->n) {
			double virt = (double)(s->n - s->r);
			mc = s->sum[j] / s->n;
			var = (s->sumsq[j] + virt * b->var[j]) / s->n - mc * mc;
		}
		double sd = sqrt(var > 0.0 ? var : 0.0);
		double floor_ = 1e-6 + 1e-3 * b->sd[j];
		z[j] = fabs((double)x[j] - b->mean[j] - mc) / (sd > floor_ ? sd : floor_);
		if (!(z[j] <= worst)) /* NaN propagates as the worst */
			worst = z[j];
		total += z[j];
	}
	for (int j = 0; contrib && j < b->f; j++)
		contrib[j] = isfinite(total) && total > 0.0 ? (float)(z[j] / total) : 1.0f / (float)b->f;
	return (float)worst;
}

static float bl_score_pca(const baseline *b, const float *x, float *contrib)
{
	double z[BL_MAX_F], r[BL_MAX_F], w[BL_MAX_F] = {0}, t2 = 0.0, q = 0.0, total = 0.0;
	int f = b->f;
	bool t2q = b->o.pca_score == BL_PCA_T2Q;
	for (int j = 0; j < f; j++)
		r[j] = z[j] = ((double)x[j] - b->mean[j]) / b->sd[j];
	for (int i = 0; i < b->k; i++) {
		double t = 0.0, l = b->eval_[i] > 1e-12 ? b->eval_[i] : 1e-12;
		for (int j = 0; j < f; j++)
			t += b->evec[i][j] * z[j];
		for (int j = 0; j < f; j++) {
			r[j] -= t * b->evec[i][j];
			w[j] += t / l * b->evec[i][j]; /* T^2 = sum_j z_j w_j */
		}
		t2 += t * t / l;
	}
	for (int j = 0; j < f; j++)
		q += r[j] * r[j];
	for (int j = 0; contrib && j < f; j++) {
		w[j] = r[j] * r[j] + (t2q ? fabs(z[j] * w[j]) : 0.0);
		total += w[j];
	}
	for (int j = 0; contrib && j < f; j++)
		contrib[j] = isfinite(total) && total > 0.0 ? (float)(w[j] / total) : 1.0f / (float)f;
	return (float)(t2q ? t2 + q : q);
}

float bl_score(const baseline *b, const bl_state *s, const float *x)
{
	return b->kind == BL_ZSCORE ? bl_score_zscore(b, s, x, NULL) : bl_score_pca(b, x, NULL);
}

void bl_learn(const baseline *b, bl_state *s, const float *x)
{
	if (b->kind != BL_ZSCORE || s->n == 0)
		return;
	int f = b->f;
	float *slot;
	if (s->r == s->n) { /* full: the oldest row leaves */
		slot = s->rows + (size_t)s->head * (size_t)f;
		for (int j = 0; j < f; j++) {
			s->sum[j] -= slot[j];
			s->sumsq[j] -= (double)slot[j] * slot[j];
		}
		s->head = (s->head + 1) % s->n;
	} else {
		slot = s->rows + (size_t)((s->head + s->r) % s->n) * (size_t)f;
		s->r++;
	}
	for (int j = 0; j < f; j++) {
		slot[j] = (float)((double)x[j] - b->mean[j]);
		s->sum[j] += slot[j];
		s->sumsq[j] += (double)slot[j] * slot[j];
	}
}

/* ---- the detector's scorer: windows of one raw row ---- */

static float bl_sc_score(const void *self, const void *state, const float *x, float *contrib,
			 float *scratch)
{
	const baseline *b = self;
	(void)scratch;
	return b->kind == BL_ZSCORE ? bl_score_zscore(b, state, x, contrib) :
				      bl_score_pca(b, x, contrib);
}

static void bl_sc_learn(const void *self, void *state, const float *x)
{
	bl_learn(self, state, x);
}

static void bl_sc_init(const void *self, void *state)
{
	const baseline *b = self;
	bl_state *s = state;
	s->n = b->kind == BL_ZSCORE ? b->o.zs_window : 0;
}

static const det_scorer_ops bl_ops = {
	.score = bl_sc_score, .learn = bl_sc_learn, .state_init = bl_sc_init};

void bl_scorer(const baseline *b, det_scorer *out)
{
	memset(out, 0, sizeof *out);
	out->ops = &bl_ops;
	out->self = b;
	out->state_bytes = b->kind == BL_ZSCORE ?
		sizeof(bl_state) + (size_t)b->o.zs_window * (size_t)b->f * sizeof(float) : 0;
	out->threshold = b->threshold;
	out->calib = b->calib;
	out->n_calib = b->n_calib;
}
