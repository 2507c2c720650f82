/* season.c - the seasonal channel (season.h): period by autocorrelation of
 * block means learned in a bounded buffer, a median per phase, and the
 * residual off level + phase scored against its own calibrated threshold. */
#include <math.h>
#include <string.h>

#include "iotad/season.h"

/* The state: two floats for the device, then per feature a header and its
 * buffer (block means while learning, then the phase values). */
enum { G_SEEN = 0, G_MODE, G_SIZE };
enum {
	H_L = 0,     /* block length, samples */
	H_NB,        /* blocks filled */
	H_SUM,       /* the current block's sum ... */
	H_CNT,       /* ... and count */
	H_P,         /* period in blocks, 0: none */
	H_POS,       /* the next sample's place in the period, samples */
	H_LVL,       /* running level */
	H_EWMA,      /* EWMA of the residual */
	H_SCALE,     /* the residual's scale */
	H_THR,       /* threshold, in scales */
	H_RUN,       /* samples in a row over the threshold; -1: re-anchor the level */
	H_ACF,       /* the period's autocorrelation */
	H_T,         /* the period in samples (refined between blocks) */
	H_SIZE
};
enum { MODE_LEARN = 0, MODE_JUDGE = 1, MODE_NONE = 2 };

#define SEASON_DIP 0.2f      /* the correlation dips this far below a period's peak */
#define SEASON_FUND 0.9f     /* a shorter lag within this share of the best is taken */
#define SEASON_FINE 8         /* the period is refined in 1/8 of a block */
#define SEASON_PHASE_RATE 16.0f /* a phase learns 1/(16 L) a sample: 1/16 a period */

void season_params_default(season_params *p)
{
	p->on = false;
	p->learn = 8640;
	p->margin = 2.0f;
	p->floor = 4.0f;
	p->acf_min = 0.3f;
	p->need = 3;
}

iotad_err season_params_check(const season_params *p, const char **why)
{
	const char *w = NULL;
	if (!p)
		w = "season: no parameters";
	else if (p->learn < 1)
		w = "season: learn: expected at least 1 sample";
	else if (!(p->margin >= 1.0f && p->margin <= 100.0f))
		w = "season: margin: expected 1..100";
	else if (!(p->floor > 0.0f && p->floor <= 1000.0f))
		w = "season: floor: expected a number in (0, 1000]";
	else if (!(p->acf_min > 0.0f && p->acf_min < 1.0f))
		w = "season: acf_min: expected a number in (0, 1)";
	else if (p->need < 1)
		w = "season: need: expected at least 1";
	if (why)
		*why = w;
	return w ? IOTAD_ERR_INVAL : IOTAD_OK;
}

size_t season_floats(uint32_t features)
{
	return G_SIZE + (size_t)features * (H_SIZE + SEASON_BLOCKS);
}

static float *season_feat(float *st, uint32_t f)
{
	return st + G_SIZE + (size_t)f * (H_SIZE + SEASON_BLOCKS);
}

/* Insertion sort of n floats (n <= SEASON_BLOCKS: once, at the end of learning). */
static void season_sort(float *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		float x = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

static float season_median(float *v, size_t n)
{
	if (!n)
		return 0.0f;
	season_sort(v, n);
	return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

/* One sample into the learning buffer. */
static void season_learn(float *h)
{
	float *b = h + H_SIZE;
	if (h[H_L] < 1.0f)
		h[H_L] = 1.0f;
	if (h[H_CNT] < h[H_L])
		return;
	b[(size_t)h[H_NB]] = h[H_SUM] / h[H_CNT];
	h[H_NB] += 1.0f;
	h[H_SUM] = h[H_CNT] = 0.0f;
	if (h[H_NB] >= (float)SEASON_BLOCKS) {
		for (size_t i = 0; i < SEASON_BLOCKS / 2; i++)
			b[i] = 0.5f * (b[2 * i] + b[2 * i + 1]);
		h[H_NB] = (float)(SEASON_BLOCKS / 2);
		h[H_L] *= 2.0f;
	}
}

/* The period of the n block means b, in blocks (0: none); *acf_out its
 * autocorrelation. */
static size_t season_find_period(const season_params *p, const float *b, size_t n,
				 float *acf_out)
{
	float acf[SEASON_BLOCKS / 2 + 2];
	double m = 0.0, var = 0.0;
	size_t kmax = n / 2;
	*acf_out = 0.0f;
	if (n < 8)
		return 0;
	for (size_t i = 0; i < n; i++)
		m += b[i];
	m /= (double)n;
	for (size_t i = 0; i < n; i++)
		var += (b[i] - m) * (b[i] - m);
	var /= (double)n;
	if (!(var > 1e-12 * (m * m + 1.0)))
		return 0;
	for (size_t k = 1; k <= kmax + 1 && k < n; k++) {
		double s = 0.0;
		for (size_t i = 0; i + k < n; i++)
			s += (b[i] - m) * (b[i + k] - m);
		acf[k] = (float)(s / ((double)(n - k) * var));
	}
	if (kmax + 1 >= n)
		acf[kmax + 1] = -1.0f;
	size_t best = 0;
	float lo = acf[1];
	bool cand[SEASON_BLOCKS / 2 + 2] = {false};
	for (size_t k = 2; k <= kmax; k++) {
		if (acf[k] < lo)
			lo = acf[k];
		cand[k] = acf[k] >= acf[k - 1] && acf[k] >= acf[k + 1] && acf[k] >= p->acf_min &&
			  acf[k] - lo >= SEASON_DIP;
		if (cand[k] && (!best || acf[k] > acf[best]))
			best = k;
	}
	for (size_t k = 2; best && k < best; k++) {
		if (cand[k] && acf[k] >= SEASON_FUND * acf[best]) {
			best = k;
			break;
		}
	}
	if (best)
		*acf_out = acf[best];
	return best;
}

/* The squared residual of the blocks' deviations d (n) off a per-phase mean
 * at period T samples (blocks of L samples, P phases). */
static double season_fit_err(const float *d, size_t n, float T, float L, size_t P)
{
	double sum[SEASON_BLOCKS / 2 + 1] = {0}, sq[SEASON_BLOCKS / 2 + 1] = {0};
	size_t cnt[SEASON_BLOCKS / 2 + 1] = {0};
	float w = T / (float)P;
	for (size_t i = 0; i < n; i++) {
		size_t q = (size_t)(fmodf(((float)i + 0.5f) * L, T) / w) % P;
		sum[q] += d[i];
		sq[q] += (double)d[i] * d[i];
		cnt[q]++;
	}
	double e = 0.0;
	for (size_t q = 0; q < P; q++)
		if (cnt[q])
			e += sq[q] - sum[q] * sum[q] / (double)cnt[q];
	return e;
}

/* The end of learning for one feature: period, phases, calibration. */
static void season_finish(const season_params *p, float *h, float seen)
{
	float *b = h + H_SIZE;
	size_t n = (size_t)h[H_NB];
	float acf;
	size_t P = season_find_period(p, b, n, &acf);
	h[H_P] = (float)P;
	h[H_ACF] = acf;
	h[H_SUM] = h[H_CNT] = 0.0f;
	if (!P)
		return;
	float tr[SEASON_BLOCKS], d[SEASON_BLOCKS], tmp[SEASON_BLOCKS], ph[SEASON_BLOCKS / 2 + 1];
	/* trend: the mean over one period around each block, kept inside */
	for (size_t i = 0; i < n; i++) {
		size_t lo = i >= P / 2 ? i - P / 2 : 0;
		if (lo + P > n)
			lo = n - P;
		double s = 0.0;
		for (size_t j = lo; j < lo + P; j++)
			s += b[j];
		tr[i] = (float)(s / (double)P);
		d[i] = b[i] - tr[i];
	}
	/* the period between lags P - 1 and P + 1 in eighths of a block that
	 * the phases fit best: a period off by a part of a block would let
	 * the phases slide a little further every period */
	float T = (float)P * h[H_L];
	double best = season_fit_err(d, n, T, h[H_L], P);
	for (int k = -SEASON_FINE; k <= SEASON_FINE; k++) {
		float t = ((float)P + (float)k / (float)SEASON_FINE) * h[H_L];
		double e = season_fit_err(d, n, t, h[H_L], P);
		if (e < best * (1.0 - 1e-6)) {
			best = e;
			T = t;
		}
	}
	float w = T / (float)P; /* a phase's width, samples */
	size_t bin[SEASON_BLOCKS];
	for (size_t i = 0; i < n; i++)
		bin[i] = (size_t)(fmodf(((float)i + 0.5f) * h[H_L], T) / w) % P;
	/* the phases: block i's centre falls in phase bin[i] (learning starts
	 * at phase 0) */
	double mean = 0.0;
	for (size_t q = 0; q < P; q++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (bin[i] == q)
				tmp[k++] = d[i];
		ph[q] = season_median(tmp, k);
		mean += ph[q];
	}
	mean /= (double)P;
	for (size_t q = 0; q < P; q++)
		ph[q] -= (float)mean;
	/* the residual's scale and its largest value on the learning blocks,
	 * each block against the median of the others of its phase (with two
	 * or three periods learned, its own would pull the median onto it) */
	float rmax = 0.0f, sd = 0.0f, res[SEASON_BLOCKS];
	size_t nr = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		for (size_t j = 0; j < n; j++)
			if (j != i && bin[j] == bin[i])
				tmp[k++] = d[j];
		sd += d[i] * d[i];
		if (k)
			res[nr++] = fabsf(d[i] - (season_median(tmp, k) - (float)mean));
	}
	sd = sqrtf(sd / (float)n);
	memcpy(tmp, res, nr * sizeof *tmp);
	float scale = 1.4826f * season_median(tmp, nr);
	/* a residual far below the swing (a clean wave) still has a scale */
	if (scale < 0.02f * sd)
		scale = 0.02f * sd;
	if (!(scale > 0.0f))
		scale = 1e-6f;
	for (size_t i = 0; i < nr; i++)
		if (res[i] / scale > rmax)
			rmax = res[i] / scale;
	h[H_SCALE] = scale;
	h[H_THR] = fmaxf(p->floor, p->margin * rmax);
	h[H_LVL] = tr[n - 1];
	h[H_EWMA] = 0.0f;
	h[H_RUN] = 0.0f;
	h[H_T] = T;
	h[H_POS] = fmodf(seen, T);
	memcpy(b, ph, P * sizeof *b);
}

/* Judge one sample of one feature with a period; returns its statistic /
 * threshold and sets *over, *fired. */
static float season_judge(const season_params *p, float *h, float x, bool *over, bool *fired)
{
	float *b = h + H_SIZE;
	float L = h[H_L], period = h[H_T];
	size_t P = (size_t)h[H_P];
	/* between the two nearest phases' centres */
	float u = h[H_POS] / (period / (float)P) - 0.5f;
	float fl = floorf(u), fr = u - fl;
	size_t q0 = fl < 0.0f ? P - 1 : (size_t)fl % P, q1 = (q0 + 1) % P;
	float s = (1.0f - fr) * b[q0] + fr * b[q1];
	if (h[H_RUN] < 0.0f) {
		/* re-baselined: for one period the level is the mean of x off
		 * its phase (a whole period: the phases cancel), no verdict */
		float k = period + h[H_RUN] + 1.0f;
		h[H_LVL] = k <= 1.0f ? x - s : h[H_LVL] + (x - s - h[H_LVL]) / k;
		h[H_EWMA] = 0.0f;
		h[H_RUN] = h[H_RUN] + 1.0f >= 0.0f ? 0.0f : h[H_RUN] + 1.0f;
		*over = *fired = false;
		h[H_POS] += 1.0f;
		if (h[H_POS] >= period)
			h[H_POS] -= period;
		return 0.0f;
	}
	float r = x - h[H_LVL] - s;
	h[H_EWMA] += 2.0f / (L + 1.0f) * (r - h[H_EWMA]);
	float z = fabsf(h[H_EWMA]) / h[H_SCALE];
	*over = z > h[H_THR];
	h[H_RUN] = *over ? fminf(h[H_RUN] + 1.0f, 65535.0f) : 0.0f;
	*fired = h[H_RUN] >= (float)p->need;
	if (!*over) {
		h[H_LVL] += (x - s - h[H_LVL]) / period;
		float e = (x - h[H_LVL] - s) / (SEASON_PHASE_RATE * L);
		b[q0] += (1.0f - fr) * e;
		b[q1] += fr * e;
	}
	h[H_POS] += 1.0f;
	if (h[H_POS] >= period)
		h[H_POS] -= period;
	return z / h[H_THR];
}

void season_step(const season_params *p, uint32_t features, float *st, const float *x,
		 season_out *out)
{
	memset(out, 0, sizeof *out);
	if (st[G_MODE] == MODE_LEARN) {
		for (uint32_t f = 0; f < features; f++) {
			float *h = season_feat(st, f);
			h[H_SUM] += x[f];
			h[H_CNT] += 1.0f;
			season_learn(h);
		}
		st[G_SEEN] += 1.0f;
		if (st[G_SEEN] < (float)p->learn)
			return;
		bool any = false;
		for (uint32_t f = 0; f < features; f++) {
			float *h = season_feat(st, f);
			season_finish(p, h, st[G_SEEN]);
			any |= h[H_P] > 0.0f;
		}
		st[G_MODE] = any ? MODE_JUDGE : MODE_NONE;
		return;
	}
	if (st[G_MODE] != MODE_JUDGE)
		return;
	out->judging = true;
	for (uint32_t f = 0; f < features; f++) {
		float *h = season_feat(st, f);
		bool over = false, fired = false;
		if (!(h[H_P] > 0.0f))
			continue;
		float sc = season_judge(p, h, x[f], &over, &fired);
		out->over |= over;
		out->fired |= fired;
		if (sc > out->score) {
			out->score = sc;
			out->blame = f;
		}
	}
}

float season_period(const season_params *p, uint32_t features, const float *st, uint32_t f)
{
	(void)p;
	if (f >= features || st[G_MODE] != MODE_JUDGE)
		return 0.0f;
	const float *h = st + G_SIZE + (size_t)f * (H_SIZE + SEASON_BLOCKS);
	return h[H_T];
}

void season_rebaseline(uint32_t features, float *st)
{
	if (st[G_MODE] != MODE_JUDGE)
		return;
	for (uint32_t f = 0; f < features; f++) {
		float *h = season_feat(st, f);
		if (h[H_P] > 0.0f)
			h[H_RUN] = -h[H_T];
	}
}

bool season_state_ok(const season_params *p, uint32_t features, const float *st)
{
	size_t n = season_floats(features);
	for (size_t i = 0; i < n; i++)
		if (!isfinite(st[i]))
			return false;
	if (st[G_SEEN] < 0.0f || st[G_SEEN] > (float)p->learn || st[G_MODE] < 0.0f ||
	    st[G_MODE] > (float)MODE_NONE || st[G_MODE] != floorf(st[G_MODE]))
		return false;
	for (uint32_t f = 0; f < features; f++) {
		const float *h = st + G_SIZE + (size_t)f * (H_SIZE + SEASON_BLOCKS);
		if (h[H_L] < 0.0f || h[H_L] > (float)p->learn || h[H_NB] < 0.0f ||
		    h[H_NB] >= (float)SEASON_BLOCKS || h[H_P] < 0.0f ||
		    h[H_P] > (float)(SEASON_BLOCKS / 2) || h[H_POS] < 0.0f ||
		    (h[H_P] > 0.0f && (!(h[H_SCALE] > 0.0f) || h[H_L] < 1.0f ||
				       !(h[H_T] >= h[H_P]) || h[H_POS] >= h[H_T])))
			return false;
	}
	return true;
}
