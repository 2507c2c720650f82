/* threshold.c - per-device thresholds: static, adaptive, EWMA, SPOT, DSPOT.
 *
 * Adaptive: level is an EWMA of the scores judged normal, starting at the
 * calibration mean (base_level). The threshold is the calibrated base
 * scaled by level / base_level, clamped to [min_ratio, max_ratio].
 *
 * EWMA: mean and variance of the normal scores, both exponentially
 * weighted by alpha, threshold mean + ewma_k * sd.
 *
 * SPOT: the initial threshold t is the init_quantile of the calibration
 * scores; their excesses over t (the peaks) get a generalized Pareto fit
 * (spot.c), whose quantile at risk q is the threshold zq. This is done once
 * per model; the peaks are summarised for the devices' refits in THR_REPS
 * weighted values (equal-count groups by rank, replaced by their mean, the
 * largest kept alone since it bounds the fit). A device counts its normal
 * scores and its peaks (scores in (t, zq)) on top of the calibration
 * counts, keeps its last `peaks` excesses in a ring, and refits at every
 * new peak on the summary plus the ring. The ring's peaks weigh 1 each:
 * a device's peaks are censored at its threshold (alarms are not learned),
 * and letting them outweigh the calibration's biased the tail light
 * (gamma -0.08, false alarms 2.3q on Exp scores; 1.1q with weight 1).
 *
 * DSPOT: the same on the residual score - drift, drift being the mean of
 * the device's last depth normal scores. It starts at base_level (the
 * calibration mean), so the calibration residuals are the scores minus
 * their mean: the same excesses, hence the same tail, with t shifted.
 *
 * Memory per device: sizeof(thr_state) (56 bytes on LP64) plus 4 bytes per
 * kept peak (spot, dspot) and per drift score (dspot). */
#include <math.h>
#include <string.h>

#include "iotad/spot.h"
#include "iotad/threshold.h"

#define THR_DEFAULT_ALPHA 0.01f
#define THR_DEFAULT_MIN_RATIO 0.5f
#define THR_DEFAULT_MAX_RATIO 4.0f
#define THR_DEFAULT_EWMA_K 4.0f
#define THR_DEFAULT_Q 1e-3f
#define THR_DEFAULT_INIT_QUANTILE 0.98f
#define THR_DEFAULT_PEAKS 64
#define THR_DEFAULT_DEPTH 20

static const char *const thr_names[] = {
	[THR_STATIC] = "static", [THR_ADAPTIVE] = "adaptive", [THR_EWMA] = "ewma",
	[THR_SPOT] = "spot",     [THR_DSPOT] = "dspot",
};

#define THR_N_KINDS (sizeof thr_names / sizeof thr_names[0])

int thr_kind_parse(const char *name, thr_kind *out)
{
	if (!name || !out)
		return -1;
	for (size_t k = 0; k < THR_N_KINDS; k++) {
		if (strcmp(name, thr_names[k]) == 0) {
			*out = (thr_kind)k;
			return 0;
		}
	}
	return -1;
}

const char *thr_kind_name(thr_kind k)
{
	return (size_t)k < THR_N_KINDS ? thr_names[k] : "unknown";
}

void thr_params_default(thr_params *p, thr_kind kind, float base, float base_level)
{
	memset(p, 0, sizeof *p);
	p->kind = kind;
	p->base = base;
	p->base_level = base_level;
	p->alpha = THR_DEFAULT_ALPHA;
	p->min_ratio = THR_DEFAULT_MIN_RATIO;
	p->max_ratio = THR_DEFAULT_MAX_RATIO;
	p->ewma_k = THR_DEFAULT_EWMA_K;
	p->q = THR_DEFAULT_Q;
	p->init_quantile = THR_DEFAULT_INIT_QUANTILE;
	p->peaks = THR_DEFAULT_PEAKS;
	p->depth = THR_DEFAULT_DEPTH;
}

static bool thr_is_pot(const thr_params *p)
{
	return p->kind == THR_SPOT || p->kind == THR_DSPOT;
}

static bool thr_finite_nonneg(float v)
{
	return isfinite(v) && v >= 0.0f;
}

static bool thr_in_unit(float v)
{
	return v > 0.0f && v < 1.0f;
}

/* Summarise the sorted excesses x[i] - t, i in [0, n), in p->rep_y/rep_w. */
static void thr_summarise(thr_params *p, const float *x, int n, float t)
{
	int groups;

	if (n <= THR_REPS) {
		for (int i = 0; i < n; i++) {
			p->rep_y[i] = x[i] - t;
			p->rep_w[i] = 1.0f;
		}
		p->n_rep = n;
		return;
	}
	groups = THR_REPS - 1;
	for (int g = 0; g < groups; g++) {
		long lo = (long)g * (n - 1) / groups, hi = (long)(g + 1) * (n - 1) / groups;
		double sum = 0.0;
		for (long i = lo; i < hi; i++)
			sum += x[i] - t;
		p->rep_y[g] = (float)(sum / (double)(hi - lo));
		p->rep_w[g] = (float)(hi - lo);
	}
	p->rep_y[groups] = x[n - 1] - t;
	p->rep_w[groups] = 1.0f;
	p->n_rep = THR_REPS;
}

/* The per-model tail fit of SPOT / DSPOT on the sorted calibration scores. */
static iotad_err thr_fit_tail(thr_params *p, const float *calib, int n)
{
	spot_gpd g;
	iotad_err err;
	int it, first;
	float t;

	if (n < 1)
		return IOTAD_ERR_INVAL;
	it = (int)((double)p->init_quantile * n);
	if (it > n - 1)
		it = n - 1;
	t = calib[it];
	for (first = it; first < n && !(calib[first] > t); first++)
		;
	if (n - first < THR_MIN_CALIB_PEAKS)
		return IOTAD_ERR_INVAL;
	thr_summarise(p, calib + first, n - first, t);
	spot_peaks pk = {.y = p->rep_y, .w = p->rep_w, .n = p->n_rep};
	err = spot_fit(&pk, &g);
	if (err != IOTAD_OK)
		return err;
	p->calib_n = n;
	p->calib_peaks = n - first;
	p->gamma = (float)g.gamma;
	p->sigma = (float)g.sigma;
	if (p->kind == THR_DSPOT)
		t -= p->base_level;
	p->t = t;
	p->zq = (float)spot_quantile(&g, t, p->q, p->calib_n, p->calib_peaks);
	return IOTAD_OK;
}

/* Mean and sd of the calibration scores; -1 if one is not finite or they
 * are not sorted. */
static int thr_calib_moments(const float *calib, int n, double *mean, double *sd)
{
	double s = 0.0, ss = 0.0;

	for (int i = 0; i < n; i++) {
		if (!isfinite(calib[i]) || (i > 0 && calib[i] < calib[i - 1]))
			return -1;
		s += calib[i];
	}
	*mean = s / n;
	for (int i = 0; i < n; i++)
		ss += (calib[i] - *mean) * (calib[i] - *mean);
	*sd = sqrt(ss / n);
	return 0;
}

iotad_err thr_params_fit(thr_params *p, float model_threshold, const float *calib, int n)
{
	double mean = 0.0, sd = 0.0;

	if (!p || n < 0 || (n > 0 && !calib) || (size_t)p->kind >= THR_N_KINDS)
		return IOTAD_ERR_INVAL;
	if (!thr_finite_nonneg(p->base) || !thr_finite_nonneg(p->base_level) ||
	    !thr_finite_nonneg(p->alpha) || !thr_finite_nonneg(p->min_ratio) ||
	    !thr_finite_nonneg(p->max_ratio) || !thr_finite_nonneg(p->base_sd))
		return IOTAD_ERR_INVAL;
	if (n > 0 && thr_calib_moments(calib, n, &mean, &sd) < 0)
		return IOTAD_ERR_INVAL;
	if (p->base == 0.0f)
		p->base = model_threshold;
	if (p->alpha == 0.0f)
		p->alpha = THR_DEFAULT_ALPHA;
	if (p->min_ratio == 0.0f)
		p->min_ratio = THR_DEFAULT_MIN_RATIO;
	if (p->max_ratio == 0.0f)
		p->max_ratio = THR_DEFAULT_MAX_RATIO;
	if (!(isfinite(p->base) && p->base > 0.0f) || p->alpha > 1.0f ||
	    p->min_ratio > p->max_ratio || !(isfinite(p->ewma_k) && p->ewma_k > 0.0f) ||
	    !thr_in_unit(p->q) || !thr_in_unit(p->init_quantile) || p->peaks < 0 ||
	    p->peaks > THR_MAX_PEAKS || p->depth < 1 || p->depth > THR_MAX_DEPTH)
		return IOTAD_ERR_INVAL;
	if (p->base_level == 0.0f)
		p->base_level = n > 0 ? (float)mean : p->base / 2.0f;
	if (p->base_sd == 0.0f) {
		p->base_sd = n > 0 ? (float)sd : (p->base - p->base_level) / p->ewma_k;
		if (!(p->base_sd > 0.0f))
			p->base_sd = p->base_level;
	}
	if (!isfinite(p->base_level))
		return IOTAD_ERR_INVAL;
	return thr_is_pot(p) ? thr_fit_tail(p, calib, n) : IOTAD_OK;
}

size_t thr_state_floats(const thr_params *p)
{
	if (p->kind == THR_SPOT)
		return (size_t)p->peaks;
	if (p->kind == THR_DSPOT)
		return (size_t)p->peaks + (size_t)p->depth;
	return 0;
}

/* Adaptation needs a positive, finite reference level. */
static bool thr_adapts(const thr_params *p)
{
	return p->kind == THR_ADAPTIVE && isfinite(p->base_level) && p->base_level > 0.0f;
}

static float thr_scaled(const thr_params *p, float level)
{
	float ratio = level / p->base_level;

	if (!(ratio >= p->min_ratio))	/* also catches NaN */
		ratio = p->min_ratio;
	if (ratio > p->max_ratio)
		ratio = p->max_ratio;
	return p->base * ratio;
}

float thr_initial(const thr_params *p)
{
	switch (p->kind) {
	case THR_STATIC:
		break;
	case THR_ADAPTIVE:
		return thr_adapts(p) ? thr_scaled(p, p->base_level) : p->base;
	case THR_EWMA:
		return p->base_level + p->ewma_k * p->base_sd;
	case THR_SPOT:
		return p->zq;
	case THR_DSPOT:
		return p->base_level + p->zq;
	}
	return p->base;
}

void thr_init_with(thr_state *s, const thr_params *p, float *buf)
{
	memset(s, 0, sizeof *s);
	s->buf = buf;
	s->level = p->base_level;
	s->var = p->base_sd * p->base_sd;
	s->gamma = p->gamma;
	s->sigma = p->sigma;
	s->zq = p->zq;
	s->value = thr_initial(p);
	if (p->kind == THR_DSPOT && buf) {
		for (int i = 0; i < p->depth; i++)
			buf[p->peaks + i] = p->base_level;
		s->drift_sum = (double)p->depth * p->base_level;
	}
}

void thr_init(thr_state *s, const thr_params *p)
{
	thr_init_with(s, p, NULL);
}

/* A new peak (excess over t): into the ring, then refit. */
static void thr_add_peak(thr_state *s, const thr_params *p, float excess)
{
	spot_gpd g;

	if (p->peaks == 0 || !s->buf)
		return;
	s->buf[s->ring_next] = excess;
	s->ring_next = (uint16_t)((s->ring_next + 1) % p->peaks);
	if (s->n_ring < p->peaks)
		s->n_ring++;
	spot_peaks pk = {.y = p->rep_y, .w = p->rep_w, .n = p->n_rep, .y2 = s->buf, .n2 = s->n_ring};
	g.gamma = s->gamma;
	g.sigma = s->sigma;
	if (spot_refit(&pk, &g) == IOTAD_OK) {
		s->gamma = (float)g.gamma;
		s->sigma = (float)g.sigma;
	}
}

/* DSPOT: the normal score enters the drift window. */
static void thr_push_drift(thr_state *s, const thr_params *p, float score)
{
	float *win = s->buf + p->peaks;

	s->drift_sum += (double)score - win[s->drift_next];
	win[s->drift_next] = score;
	s->drift_next = (uint16_t)((s->drift_next + 1) % p->depth);
	if (s->drift_next == 0) {       /* once per turn: drop the rounding */
		s->drift_sum = 0.0;
		for (int i = 0; i < p->depth; i++)
			s->drift_sum += win[i];
	}
	s->level = (float)(s->drift_sum / p->depth);
}

static void thr_pot_update(thr_state *s, const thr_params *p, float score)
{
	float x = p->kind == THR_DSPOT ? score - s->level : score;
	spot_gpd g;

	/* the counts freeze rather than wrap after 2^32 windows */
	if (s->n_obs < UINT32_MAX) {
		s->n_obs++;
		if (x > p->t) {
			s->n_peaks++;
			thr_add_peak(s, p, x - p->t);
		}
		g.gamma = s->gamma;
		g.sigma = s->sigma;
		s->zq = (float)spot_quantile(&g, p->t, p->q, p->calib_n + s->n_obs,
					     p->calib_peaks + s->n_peaks);
	}
	if (p->kind == THR_DSPOT) {
		if (s->buf)
			thr_push_drift(s, p, score);
		s->value = s->level + s->zq;
	} else {
		s->value = s->zq;
	}
}

/* Learn score as a normal one. */
static void thr_learn_score(thr_state *s, const thr_params *p, float score)
{
	float d;

	switch (p->kind) {
	case THR_STATIC:
		break;
	case THR_ADAPTIVE:
		if (thr_adapts(p)) {
			s->level = (1.0f - p->alpha) * s->level + p->alpha * score;
			s->value = thr_scaled(p, s->level);
		}
		break;
	case THR_EWMA:
		d = score - s->level;
		s->level += p->alpha * d;
		s->var = (1.0f - p->alpha) * (s->var + p->alpha * d * d);
		s->value = s->level + p->ewma_k * sqrtf(s->var);
		break;
	case THR_SPOT:
	case THR_DSPOT:
		thr_pot_update(s, p, score);
		break;
	}
}

bool thr_update(thr_state *s, const thr_params *p, float score)
{
	if (!isfinite(score) || score >= s->value)
		return true;
	thr_learn_score(s, p, score);
	return false;
}

void thr_learn(thr_state *s, const thr_params *p, float score)
{
	if (isfinite(score))
		thr_learn_score(s, p, score);
}
