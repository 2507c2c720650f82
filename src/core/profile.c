/* profile.c - one device's own normal and the channels judged against it
 * (see profile.h).
 *
 * State layout (floats): a header of PROF_H (samples seen, then each
 * channel's count of samples in a row over threshold), PROF_K per feature,
 * PROF_R for the dew point's pair (pair 0, when there is one) and PROF_RG
 * for each generic relation pair. Everything, counts included, is a float so
 * that the state is one flat array the state file carries as it is. */
#include <math.h>
#include <string.h>

#include "iotad/profile.h"

/* header */
#define PROF_H (2 + PROF_CH_COUNT)
#define H_SEEN 0
#define H_OVER 2 /* PROF_CH_COUNT counts */

/* per feature */
enum {
	K_LVL = 0, K_SCL, K_NOI, K_PREV, K_FAST, K_SLOW, K_SSCL, K_NEX, K_OPEN, K_RUN,
	K_CAL, /* PROF_CH_COUNT calibrations, relation's unused */
	PROF_K = K_CAL + PROF_CH_COUNT
};

/* per relation pair: the fit (means, variance, covariance), the residual's
 * scale, short average and calibration; the slow level of the fitted
 * value's mean, their usual distance and its calibration (the relation's
 * drift) */
enum {
	R_MX = 0, R_MY, R_VXX, R_CXY, R_RS, R_FR, R_CAL, R_SLOW, R_SSC, R_DCAL,
	PROF_RG, /* a generic pair's floats; the dew point's pair has these too: */
	R_PXY = PROF_RG, R_PXX, R_PYY, R_CM, R_CCAL, /* the co-movement: below */
	R_SV, R_SC, R_SY, R_DSC, R_DDC, /* the de-cycled drift: the slow fit, usual distance, calibration */
	PROF_R
};

#ifndef PROF_DEW_DRIFT_VETO
#define PROF_DEW_DRIFT_VETO 1
#endif
#ifndef PROF_REL_DRIFT
#define PROF_REL_DRIFT 1
#endif
#ifndef PROF_DECYCLE
#define PROF_DECYCLE 1
#endif
#ifndef PROF_DECYCLE_M
#define PROF_DECYCLE_M 1.25f
#endif
#ifndef PROF_DECYCLE_R2
#define PROF_DECYCLE_R2 0.8f
#endif
#ifndef PROF_CORR
#define PROF_CORR 1
#endif
#ifndef PROF_CORR_POS
#define PROF_CORR_POS 0.5f
#endif
#define PROF_CORR_MAX 0.995f  /* |correlation| clamp before Fisher's z */
#define PROF_CORR_FLOOR 1.5f  /* least threshold of the co-movement, in z */
#define PROF_UP 1e-4f /* pull of a larger normal statistic on a calibration (~a day at 10 s) */
#define PROF_MAX_RUN 1.0e6f
#define PROF_STUCK_RISK 1e-6f   /* chance of a normal run reaching the stuck threshold */

static const char *const prof_names[PROF_CH_COUNT] = {
	"level", "jump", "noise", "drift", "relation", "stuck",
};

const char *prof_channel_name(int c)
{
	return c >= 0 && c < PROF_CH_COUNT ? prof_names[c] : NULL;
}

int prof_channel_parse(const char *name)
{
	for (int c = 0; name && c < PROF_CH_COUNT; c++)
		if (!strcmp(name, prof_names[c]))
			return c;
	return -1;
}

void prof_params_default(prof_params *p)
{
	static const float floors[PROF_CH_COUNT] = {4.0f, 6.0f, 0.35f, 4.0f, 4.0f, 12.0f};
	static const uint8_t needs[PROF_CH_COUNT] = {3, 1, 1, 6, 3, 1};

	memset(p, 0, sizeof *p);
	p->channels = PROF_CH_ALL;
	p->learn = 8640;
	p->learn_quiet = true;
	p->alpha_level = 1.0f / 360.0f;
	p->alpha_fast = 0.25f;
	p->alpha_noise = 1.0f / 32.0f;
	p->margin = 1.75f;
	p->slow = 24.0f;
	memcpy(p->floor, floors, sizeof floors);
	memcpy(p->need, needs, sizeof needs);
	p->temp = p->rh = -1;
}

/* Case-insensitive (ASCII) equality with a lower-case want. */
static bool prof_name_is(const char *s, const char *want)
{
	while (*s && *want && (*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s) == *want) {
		s++;
		want++;
	}
	return !*s && !*want;
}

#define PROF_BAD(text) do { if (why) *why = (text); return IOTAD_ERR_INVAL; } while (0)

iotad_err prof_params_resolve(prof_params *p, uint32_t n, const char *const *names,
			      const char **why)
{
	if (!p || n < 1 || n > PROF_MAX_FEATURES)
		PROF_BAD("profile: features: expected 1..32");
	if (p->channels & ~PROF_CH_ALL)
		PROF_BAD("profile: channels: unknown channel bits");
	if (p->learn < 1 || p->learn > PROF_MAX_LEARN)
		PROF_BAD("profile: learn: expected 1..1000000 samples");
	if (!(p->alpha_level > 0.0f && p->alpha_level < 1.0f))
		PROF_BAD("profile: alpha_level: expected a number in (0, 1)");
	if (!(p->alpha_fast > 0.0f && p->alpha_fast <= 1.0f))
		PROF_BAD("profile: alpha_fast: expected a number in (0, 1]");
	if (!(p->alpha_noise > 0.0f && p->alpha_noise < 1.0f))
		PROF_BAD("profile: alpha_noise: expected a number in (0, 1)");
	if (!(p->margin >= 1.0f && p->margin <= 100.0f))
		PROF_BAD("profile: margin: expected a number in [1, 100]");
	if (!(p->slow >= 2.0f && p->slow <= 10000.0f))
		PROF_BAD("profile: slow: expected a number in [2, 10000]");
	for (int c = 0; c < PROF_CH_COUNT; c++) {
		if (!(p->floor[c] > 0.0f && p->floor[c] < 1e9f))
			PROF_BAD("profile: floor: expected a number > 0 for every channel");
		if (p->need[c] < 1)
			PROF_BAD("profile: need: expected 1..255 samples for every channel");
	}
	if (p->floor[PROF_CH_NOISE] > 1.0f)
		PROF_BAD("profile: noise floor: expected a share in (0, 1]");
	p->features = n;
	p->temp = p->rh = -1;
	for (uint32_t f = 0; names && f < n; f++) {
		if (!names[f])
			continue;
		if (p->temp < 0 && (prof_name_is(names[f], "temperature") || prof_name_is(names[f], "temp")))
			p->temp = (int)f;
		else if (p->rh < 0 && (prof_name_is(names[f], "humidity") || prof_name_is(names[f], "rh")))
			p->rh = (int)f;
	}
	if (p->temp < 0 || p->rh < 0)
		p->temp = p->rh = -1;
	p->rise_ok = 0;
	for (uint32_t f = 0; names && f < n; f++)
		if (names[f] && (prof_name_is(names[f], "battery") || prof_name_is(names[f], "batt")))
			p->rise_ok |= 1u << f;
	p->n_pairs = 0;
	if (p->temp >= 0) {
		p->pair_a[p->n_pairs] = -1;
		p->pair_b[p->n_pairs++] = (int8_t)p->temp;
	}
	/* neighbours, leaving the dew point's features to it */
	for (uint32_t f = 0; f + 1 < n; f++) {
		if (p->temp >= 0 && ((int)f == p->temp || (int)f == p->rh || (int)f + 1 == p->temp ||
				     (int)f + 1 == p->rh))
			continue;
		p->pair_a[p->n_pairs] = (int8_t)f;
		p->pair_b[p->n_pairs++] = (int8_t)(f + 1);
	}
	return IOTAD_OK;
}

size_t prof_floats(const prof_params *p)
{
	return PROF_H + (size_t)PROF_K * p->features + (size_t)PROF_RG * p->n_pairs +
	       (p->temp >= 0 ? (size_t)(PROF_R - PROF_RG) : 0u);
}

void prof_init(const prof_params *p, float *st)
{
	memset(st, 0, prof_floats(p) * sizeof *st);
}

static float *prof_feat(const prof_params *p, float *st, uint32_t f)
{
	(void)p;
	return st + PROF_H + (size_t)PROF_K * f;
}

/* Float offset of relation pair k: the dew point's pair, when there is
 * one, is pair 0 and the longer. */
static size_t prof_pair_off(const prof_params *p, uint32_t k)
{
	size_t extra = p->temp >= 0 && k > 0 ? (size_t)(PROF_R - PROF_RG) : 0u;
	return PROF_H + (size_t)PROF_K * p->features + (size_t)PROF_RG * k + extra;
}

static float *prof_pair(const prof_params *p, float *st, uint32_t k)
{
	return st + prof_pair_off(p, k);
}

uint32_t prof_seen(const prof_params *p, const float *st)
{
	(void)p;
	return (uint32_t)st[H_SEEN];
}

bool prof_learning(const prof_params *p, const float *st)
{
	return prof_seen(p, st) < p->learn;
}

float prof_level(const prof_params *p, const float *st, uint32_t f)
{
	return f < p->features ? st[PROF_H + (size_t)PROF_K * f + K_LVL] : 0.0f;
}

void prof_feature_get(const prof_params *p, const float *st, uint32_t f, prof_feature *out)
{
	const float *s = st + PROF_H + (size_t)PROF_K * f;

	memset(out, 0, sizeof *out);
	if (f >= p->features)
		return;
	out->level = s[K_LVL];
	out->scale = s[K_SCL];
	out->noise = s[K_NOI];
	out->slow = s[K_SLOW];
}

float prof_dew_point(float t, float rh)
{
	const float b = 17.62f, c = 243.12f;
	float r = rh < 1.0f ? 1.0f : rh > 100.0f ? 100.0f : rh;
	float tt = t < -60.0f ? -60.0f : t > 80.0f ? 80.0f : t;
	float g = logf(r / 100.0f) + b * tt / (c + tt);
	return c * g / (b - g);
}

/* Smallest scale a feature around level lvl is judged on. */
static float prof_eps(float lvl)
{
	return 1e-6f + 1e-4f * fabsf(lvl);
}

/* fmaxf and fminf are library calls without -ffinite-math-only; every
 * value here is finite. */
static inline float pmax(float a, float b)
{
	return a > b ? a : b;
}

static inline float pmin(float a, float b)
{
	return a < b ? a : b;
}

/* A decaying average is flushed to 0 before it turns subnormal (whose
 * arithmetic costs a hundred times more on common CPUs). */
static float prof_flush(float v)
{
	return fabsf(v) < 1e-20f ? 0.0f : v;
}

static float prof_thr(const prof_params *p, int c, float cal)
{
	float t = p->margin * cal;
	return t > p->floor[c] ? t : p->floor[c];
}

/* Move a calibration towards a larger normal statistic: all the way while
 * learning, a little afterwards (a slow creep cannot teach it a fault). */
static void prof_calibrate(float *cal, float stat, bool learning)
{
	if (stat > *cal)
		*cal = learning ? stat : *cal + PROF_UP * (stat - *cal);
}

/* The x and y of relation pair k at sample x. */
static void prof_pair_xy(const prof_params *p, uint32_t k, const float *x, float *px, float *py)
{
	if (p->pair_a[k] < 0) {
		*px = 0.0f;
		*py = prof_dew_point(x[p->temp], x[p->rh]);
	} else {
		*px = x[p->pair_a[k]];
		*py = x[p->pair_b[k]];
	}
}

void prof_step(const prof_params *p, float *st, const float *x, prof_out *out)
{
	uint32_t F = p->features, n = prof_seen(p, st);
	bool learning = n < p->learn, first = n == 0;
	/* statistics are calibrated once the averages have settled a little */
	bool warm = n >= (p->learn / 4 > 8 ? p->learn / 4 : 8);
	float stat[PROF_CH_COUNT][PROF_MAX_FEATURES], thr[PROF_CH_COUNT][PROF_MAX_FEATURES];
	float rstat[PROF_MAX_FEATURES], rthr[PROF_MAX_FEATURES], rres[PROF_MAX_FEATURES];
	float dstat[PROF_MAX_FEATURES], dthr[PROF_MAX_FEATURES]; /* the relation's drift */
	float dres[PROF_MAX_FEATURES], du[PROF_MAX_FEATURES];
	float draw[PROF_MAX_FEATURES], ddc[PROF_MAX_FEATURES]; /* its two statistics */
	float r2[PROF_MAX_FEATURES];
	float cstat[PROF_MAX_FEATURES], cthr[PROF_MAX_FEATURES], cfz[PROF_MAX_FEATURES];
	float worst[PROF_MAX_FEATURES] = {0}; /* per feature: largest statistic / threshold */
	float a_lvl = learning ? pmax(1.0f / (float)(n + 1), p->alpha_level) : p->alpha_level;
	float a_slow = learning ? pmax(1.0f / (float)(n + 1), p->alpha_level / p->slow) :
			 p->alpha_level / p->slow;

	memset(out, 0, sizeof *out);
	out->learning = learning;
	for (uint32_t f = 0; f < F; f++) {
		float *s = prof_feat(p, st, f);
		if (first) {
			s[K_LVL] = s[K_PREV] = s[K_FAST] = s[K_SLOW] = x[f];
			s[K_RUN] = 1.0f;
			continue;
		}
		float eps = prof_eps(s[K_LVL]);
		float se = pmax(s[K_SCL], pmax(s[K_NOI], eps));
		float ne = pmax(s[K_NOI], pmax(0.1f * se, eps));
		float fast = s[K_FAST] + p->alpha_fast * (x[f] - s[K_FAST]);
		float dx = x[f] - s[K_PREV];
		/* back at its slow level while the level was left off it by a
		 * fault it partly learned: the level returns too */
		if (fabsf(fast - s[K_SLOW]) <= 2.0f * se &&
		    fabsf(s[K_LVL] - s[K_SLOW]) >= prof_thr(p, PROF_CH_LEVEL, s[K_CAL]) * se)
			s[K_LVL] = s[K_SLOW];
		float z = (fast - s[K_LVL]) / se;
		if (p->rise_ok >> f & 1u && dx > 0.0f && dx / ne >= thr[PROF_CH_JUMP][f] &&
		    !(n < p->learn && p->learn_quiet)) {
			/* a battery's recharge: its new level is its normal */
			s[K_LVL] = s[K_SLOW] = fast = x[f];
			s[K_OPEN] = 0.0f;
			z = 0.0f;
			dx = 0.0f;
		}
		/* a return: a step that halves the distance to the level, undoing
		 * an open jump or landing near the level from far off it */
		float dist = fabsf(x[f] - s[K_LVL]), pdist = fabsf(s[K_PREV] - s[K_LVL]);
		bool ret = dist < 0.5f * pdist &&
			   ((s[K_OPEN] != 0.0f && dx * s[K_OPEN] < 0.0f) ||
			    (dist <= 2.0f * se && pdist >= prof_thr(p, PROF_CH_LEVEL, s[K_CAL]) * se));
		/* three times the mean |step|: 1.6 % of normal Gaussian steps, most
		 * steps of noise a few times louder, and clear of a quantized
		 * sensor's one-step flips */
		float ind = fabsf(dx) > 3.0f * pmax(s[K_NOI], eps) ? 1.0f : 0.0f;
		for (int c = 0; c < PROF_CH_COUNT; c++)
			thr[c][f] = prof_thr(p, c, s[K_CAL + c]);
		/* stuck: the run a sensor repeating its last value with its normal
		 * probability q reaches by chance once in PROF_STUCK_RISK samples */
		if (s[K_RUN] + 1.0f >= p->floor[PROF_CH_STUCK]) { /* else it cannot be over */
			float q = pmin(pmax(s[K_CAL + PROF_CH_STUCK], 1e-3f), 0.999f);
			thr[PROF_CH_STUCK][f] = pmax(p->floor[PROF_CH_STUCK],
						     p->margin * logf(PROF_STUCK_RISK) / logf(q));
		}
		stat[PROF_CH_LEVEL][f] = fabsf(z);
		stat[PROF_CH_JUMP][f] = ret ? 0.0f : fabsf(dx) / ne;
		s[K_NEX] = prof_flush(s[K_NEX] + p->alpha_noise * (ind - s[K_NEX]));
		stat[PROF_CH_NOISE][f] = s[K_NEX];
		/* long horizon: the level against the slow level, over the usual
		 * distance between them (a daily cycle's, say) */
		stat[PROF_CH_DRIFT][f] = p->rise_ok >> f & 1u ? 0.0f : /* a battery drains */
			fabsf(s[K_LVL] - s[K_SLOW]) / pmax(s[K_SSCL], pmax(0.25f * se, eps));
		s[K_RUN] = x[f] == s[K_PREV] ? pmin(s[K_RUN] + 1.0f, PROF_MAX_RUN) : 1.0f;
		/* saturated humidity (fog, a cold room's mist) holds 100 % */
		stat[PROF_CH_STUCK][f] = (int)f == p->rh && x[f] >= 100.0f ? 0.0f : s[K_RUN];
		/* an open jump stays open until the value is back near its level */
		if (ret || fabsf(x[f] - s[K_LVL]) <= se)
			s[K_OPEN] = 0.0f;
		if (!ret && stat[PROF_CH_JUMP][f] >= thr[PROF_CH_JUMP][f])
			s[K_OPEN] = dx;
		s[K_FAST] = fast;
	}
	float dew_ratio = 1.0f; /* the dew point's relation statistic / threshold */
	float dew_dratio = 1.0f; /* its drift statistic / threshold */
	for (uint32_t k = 0; k < p->n_pairs; k++) {
		float *r = prof_pair(p, st, k), px, py;
		prof_pair_xy(p, k, x, &px, &py);
		if (first) {
			r[R_MX] = px;
			r[R_MY] = r[R_SLOW] = py;
			continue;
		}
		float b = r[R_VXX] > 1e-12f ? r[R_CXY] / r[R_VXX] : 0.0f;
		rres[k] = (py - r[R_MY]) - b * (px - r[R_MX]);
		r[R_FR] = prof_flush(r[R_FR] + p->alpha_fast * (rres[k] - r[R_FR]));
		rstat[k] = fabsf(r[R_FR]) / pmax(r[R_RS], prof_eps(r[R_MY]));
		rthr[k] = prof_thr(p, PROF_CH_RELATION, r[R_CAL]);
		/* long horizon: the fitted value's mean against its slow level (a
		 * dew point that creeps away over hours) */
		dres[k] = du[k] = r2[k] = 0.0f;
		if (p->pair_a[k] < 0) {
			/* de-cycled: less what temperature's own hour-long swing
			 * off its slow level explains, by their slow fit (a
			 * greenhouse's dew point rises with the sun as its
			 * temperature does; a sensor that creeps does not) */
			const float *sa = prof_feat(p, st, (uint32_t)p->temp);
			du[k] = PROF_DECYCLE ? sa[K_LVL] - sa[K_SLOW] : 0.0f;
			float bs = r[R_SV] > 1e-12f ? r[R_SC] / r[R_SV] : 0.0f;
			/* only a fit that explains most of the swing de-cycles */
			r2[k] = r[R_SV] * r[R_SY] > 1e-20f ? r[R_SC] * r[R_SC] / (r[R_SV] * r[R_SY]) : 0.0f;
			dres[k] = (r[R_MY] - r[R_SLOW]) - bs * du[k];
		}
		/* a fit's mean is its feature's level: generic pairs have none */
		draw[k] = ddc[k] = 0.0f;
		if (p->pair_a[k] < 0) {
			float lo = pmax(0.25f * r[R_RS], prof_eps(r[R_MY]));
			draw[k] = fabsf(r[R_MY] - r[R_SLOW]) / pmax(r[R_SSC], lo);
			ddc[k] = PROF_DECYCLE && r2[k] >= PROF_DECYCLE_R2 ? fabsf(dres[k]) / pmax(r[R_DSC], lo) : 0.0f;
		}
		/* either over its own threshold: the ratio of the worse */
		dstat[k] = p->pair_a[k] >= 0 ? 0.0f :
			   pmax(draw[k] / prof_thr(p, PROF_CH_DRIFT, r[R_DCAL]),
				ddc[k] / (PROF_DECYCLE_M * prof_thr(p, PROF_CH_DRIFT, r[R_DDC])));
		dthr[k] = 1.0f;
		/* co-movement: the correlation over the last hour of the two
		 * features' short averages off their levels (Fisher's z), against
		 * its normal mean: humidity that starts rising with temperature */
		cstat[k] = cfz[k] = 0.0f;
		cthr[k] = 1.0f;
		if (p->pair_a[k] < 0) {
			const float *sa = prof_feat(p, st, (uint32_t)p->temp);
			const float *sb = prof_feat(p, st, (uint32_t)p->rh);
			float u = sa[K_FAST] - sa[K_LVL], v = sb[K_FAST] - sb[K_LVL];
			r[R_PXY] = prof_flush(r[R_PXY] + a_lvl * (u * v - r[R_PXY]));
			r[R_PXX] = prof_flush(r[R_PXX] + a_lvl * (u * u - r[R_PXX]));
			r[R_PYY] = prof_flush(r[R_PYY] + a_lvl * (v * v - r[R_PYY]));
			float den = sqrtf(r[R_PXX] * r[R_PYY]);
			float cr = den > 1e-20f ? r[R_PXY] / den : 0.0f;
			cr = pmin(pmax(cr, -PROF_CORR_MAX), PROF_CORR_MAX);
			cfz[k] = 0.5f * logf((1.0f + cr) / (1.0f - cr));
			/* only a rise counts, and only to a positive correlation: air
			 * at a fixed water content loses relative humidity as it
			 * warms, so humidity that rises with temperature is the
			 * sensor, while a front (both move, the humidity little) only
			 * weakens the usual negative one. A generic pair has no such
			 * physics and keeps its fit's residual alone. */
			cstat[k] = PROF_CORR && cfz[k] > PROF_CORR_POS ? pmax(cfz[k] - r[R_CM], 0.0f) : 0.0f;
			cthr[k] = pmax(PROF_CORR_FLOOR, p->margin * r[R_CCAL]);
		}
		if (p->pair_a[k] < 0) {
			dew_ratio = rstat[k] / rthr[k];
			/* the veto: the dew point's own drift, not the de-cycled */
			dew_dratio = draw[k] / prof_thr(p, PROF_CH_DRIFT, r[R_DCAL]);
		}
		if (p->channels >> PROF_CH_RELATION & 1u) {
			int a = p->pair_a[k] < 0 ? p->rh : p->pair_a[k];
			worst[a] = pmax(worst[a], rstat[k] / rthr[k]);
			worst[p->pair_b[k]] = pmax(worst[p->pair_b[k]], rstat[k] / rthr[k]);
		}
	}
	/* a move of temperature or humidity that leaves the dew point where it
	 * was (a setpoint change, a door) is physics, not a fault */
	if (p->temp >= 0 && p->channels >> PROF_CH_RELATION & 1u && !first) {
		int tr[2] = {p->temp, p->rh};
		for (int i = 0; i < 2; i++) {
			if (dew_ratio < 0.5f)
				stat[PROF_CH_LEVEL][tr[i]] = pmin(stat[PROF_CH_LEVEL][tr[i]],
							 0.99f * thr[PROF_CH_LEVEL][tr[i]]);
			/* over hours the dew point's own slow level judges */
			if (PROF_DEW_DRIFT_VETO ? dew_dratio < 0.5f : dew_ratio < 0.5f)
				stat[PROF_CH_DRIFT][tr[i]] = pmin(stat[PROF_CH_DRIFT][tr[i]],
							 0.99f * thr[PROF_CH_DRIFT][tr[i]]);
		}
	}
	for (uint32_t f = 0; f < F && !first; f++)
		for (int c = 0; c < PROF_CH_COUNT; c++)
			if (c != PROF_CH_RELATION && c != PROF_CH_DRIFT && p->channels >> c & 1u)
				worst[f] = pmax(worst[f], stat[c][f] / thr[c][f]);
	/* learn: everything while learning; afterwards a feature over a
	 * threshold by a ratio r learns with weight 1/r^3 (a fault far over
	 * it is not learned; a normal swing just over it, as a daily cycle
	 * outrunning the level, still is, so it cannot hold an alarm forever) */
	for (uint32_t f = 0; f < F && !first; f++) {
		float *s = prof_feat(p, st, f);
		bool ok = learning || worst[f] < 1.0f;
		float w = ok ? 1.0f : 1.0f / (worst[f] * worst[f] * worst[f]);
		/* the slow level does not follow a drift either */
		float dr = p->channels >> PROF_CH_DRIFT & 1u ?
			   pmax(worst[f], stat[PROF_CH_DRIFT][f] / thr[PROF_CH_DRIFT][f]) : worst[f];
		float ws = learning || dr < 1.0f ? 1.0f : 1.0f / (dr * dr * dr);
		s[K_LVL] += w * a_lvl * (x[f] - s[K_LVL]);
		/* the scales learn as slowly as the slow level: a change an
		 * hour long does not become the usual spread */
		s[K_SCL] += w * a_slow * (fabsf(x[f] - s[K_LVL]) - s[K_SCL]);
		s[K_SLOW] += ws * a_slow * (s[K_LVL] - s[K_SLOW]);
		s[K_SSCL] += ws * a_slow * (fabsf(s[K_LVL] - s[K_SLOW]) - s[K_SSCL]);
		s[K_NOI] += w * a_slow * (fabsf(x[f] - s[K_PREV]) - s[K_NOI]);
		s[K_NOI] = prof_flush(s[K_NOI]);
		s[K_SCL] = prof_flush(s[K_SCL]);
		s[K_SSCL] = prof_flush(s[K_SSCL]);
		if (ok && warm)
			for (int c = 0; c < PROF_CH_COUNT; c++)
				if (c != PROF_CH_RELATION && c != PROF_CH_STUCK &&
				    (learning || stat[c][f] < thr[c][f]))
					prof_calibrate(&s[K_CAL + c], stat[c][f], learning);
		/* stuck's calibration: how often the value repeats, on normal samples */
		if (ok && stat[PROF_CH_STUCK][f] < 0.5f * thr[PROF_CH_STUCK][f])
			s[K_CAL + PROF_CH_STUCK] = prof_flush(
				s[K_CAL + PROF_CH_STUCK] +
				a_lvl * ((x[f] == s[K_PREV] ? 1.0f : 0.0f) - s[K_CAL + PROF_CH_STUCK]));
		s[K_PREV] = x[f];
	}
	for (uint32_t k = 0; k < p->n_pairs && !first; k++) {
		float *r = prof_pair(p, st, k), px, py;
		int a = p->pair_a[k] < 0 ? p->rh : p->pair_a[k];
		float wr = pmax(worst[a], worst[p->pair_b[k]]);
		bool ok = learning || wr < 1.0f;
		float al = ok ? a_lvl : a_lvl / (wr * wr * wr);
		float dr = pmax(wr, dstat[k] / dthr[k]);
		float as = learning || dr < 1.0f ? a_slow : a_slow / (dr * dr * dr);
		prof_pair_xy(p, k, x, &px, &py);
		r[R_MX] += al * (px - r[R_MX]);
		r[R_MY] += al * (py - r[R_MY]);
		r[R_VXX] += al * ((px - r[R_MX]) * (px - r[R_MX]) - r[R_VXX]);
		r[R_CXY] += al * ((px - r[R_MX]) * (py - r[R_MY]) - r[R_CXY]);
		r[R_RS] = prof_flush(r[R_RS] + al * (fabsf(rres[k]) - r[R_RS]));
		r[R_SLOW] += as * (r[R_MY] - r[R_SLOW]);
		r[R_SSC] = prof_flush(r[R_SSC] + as * (fabsf(r[R_MY] - r[R_SLOW]) - r[R_SSC]));
		r[R_VXX] = prof_flush(r[R_VXX]);
		r[R_CXY] = prof_flush(r[R_CXY]);
		if (ok && warm)
			prof_calibrate(&r[R_CAL], rstat[k], learning);
		if (warm && (learning || dr < 1.0f))
			prof_calibrate(&r[R_DCAL], draw[k], learning);
		if (p->pair_a[k] >= 0)
			continue; /* a generic pair ends here */
		/* the de-cycled drift's slow fit and usual distance */
		float dv = r[R_MY] - r[R_SLOW];
		r[R_DSC] = prof_flush(r[R_DSC] + as * (fabsf(dres[k]) - r[R_DSC]));
		r[R_SV] = prof_flush(r[R_SV] + as * (du[k] * du[k] - r[R_SV]));
		r[R_SC] = prof_flush(r[R_SC] + as * (du[k] * dv - r[R_SC]));
		r[R_SY] = prof_flush(r[R_SY] + as * (dv * dv - r[R_SY]));
		if (warm && (learning || dr < 1.0f))
			prof_calibrate(&r[R_DDC], ddc[k], learning);
		/* the co-movement's normal mean settles before its spread is
		 * calibrated on it */
		if (ok && cstat[k] < cthr[k]) {
			r[R_CM] += (n < p->learn / 2 ? pmax(1.0f / (float)(n + 1), a_slow) : a_slow) *
				   (cfz[k] - r[R_CM]);
			if (n >= p->learn / 2)
				prof_calibrate(&r[R_CCAL], cstat[k], learning);
		}
	}
	if (st[H_SEEN] < (float)PROF_MAX_LEARN)
		st[H_SEEN] += 1.0f;
	if (first)
		return;

	/* channels: over, raise rules, score and blame */
	float blame[PROF_MAX_FEATURES] = {0}, total = 0.0f;
	for (int c = 0; c < PROF_CH_COUNT; c++) {
		if (!(p->channels >> c & 1u))
			continue;
		bool over = false;
		if (c == PROF_CH_RELATION) {
			for (uint32_t k = 0; k < p->n_pairs; k++) {
				out->score = pmax(out->score, rstat[k] / rthr[k]);
				over |= rstat[k] >= rthr[k];
				if (PROF_REL_DRIFT) {
					out->score = pmax(out->score, dstat[k] / dthr[k]);
					over |= dstat[k] >= dthr[k];
				}
				out->score = pmax(out->score, cstat[k] / cthr[k]);
				over |= cstat[k] >= cthr[k];
			}
		} else {
			for (uint32_t f = 0; f < F; f++) {
				out->score = pmax(out->score, stat[c][f] / thr[c][f]);
				over |= stat[c][f] >= thr[c][f];
			}
		}
		float *cnt = &st[H_OVER + c];
		*cnt = over ? pmin(*cnt + 1.0f, 255.0f) : 0.0f;
		if (!over)
			continue;
		out->over |= 1u << c;
		if (*cnt < (float)p->need[c] || (learning && p->learn_quiet))
			continue;
		out->fired |= 1u << c;
		if (c == PROF_CH_RELATION) {
			for (uint32_t k = 0; k < p->n_pairs; k++) {
				float w = rstat[k] >= rthr[k] ? rstat[k] / rthr[k] : 0.0f;
				if (PROF_REL_DRIFT && dstat[k] >= dthr[k])
					w = pmax(w, dstat[k] / dthr[k]);
				if (cstat[k] >= cthr[k])
					w = pmax(w, cstat[k] / cthr[k]);
				int a = p->pair_a[k] < 0 ? p->rh : p->pair_a[k];
				blame[a] += 0.5f * w;
				blame[p->pair_b[k]] += 0.5f * w;
			}
		} else {
			for (uint32_t f = 0; f < F; f++)
				if (stat[c][f] >= thr[c][f])
					blame[f] += stat[c][f] / thr[c][f];
		}
	}
	for (uint32_t f = 0; f < F; f++)
		total += blame[f];
	for (uint32_t f = 0; f < F && total > 0.0f && isfinite(total); f++)
		out->contrib[f] = blame[f] / total;
}

void prof_rebaseline(const prof_params *p, float *st)
{
	for (int c = 0; c < PROF_CH_COUNT; c++)
		st[H_OVER + c] = 0.0f;
	for (uint32_t f = 0; f < p->features; f++) {
		float *s = prof_feat(p, st, f);
		s[K_LVL] = s[K_SLOW] = s[K_FAST];
		s[K_OPEN] = 0.0f;
	}
	for (uint32_t k = 0; k < p->n_pairs; k++) {
		float *r = prof_pair(p, st, k);
		r[R_MY] += r[R_FR];
		r[R_SLOW] = r[R_MY];
		r[R_FR] = 0.0f;
	}
}

bool prof_state_ok(const prof_params *p, const float *st)
{
	size_t n = prof_floats(p);

	for (size_t i = 0; i < n; i++)
		if (!isfinite(st[i]))
			return false;
	if (!(st[H_SEEN] >= 0.0f && st[H_SEEN] <= (float)PROF_MAX_LEARN) ||
	    st[H_SEEN] != floorf(st[H_SEEN]))
		return false;
	for (int c = 0; c < PROF_CH_COUNT; c++)
		if (!(st[H_OVER + c] >= 0.0f && st[H_OVER + c] <= 255.0f))
			return false;
	for (uint32_t f = 0; f < p->features; f++) {
		const float *s = st + PROF_H + (size_t)PROF_K * f;
		if (s[K_SCL] < 0.0f || s[K_NOI] < 0.0f || s[K_SSCL] < 0.0f ||
		    !(s[K_NEX] >= 0.0f && s[K_NEX] <= 1.0f) ||
		    !(s[K_RUN] >= 0.0f && s[K_RUN] <= PROF_MAX_RUN))
			return false;
		for (int c = 0; c < PROF_CH_COUNT; c++)
			if (s[K_CAL + c] < 0.0f)
				return false;
	}
	for (uint32_t k = 0; k < p->n_pairs; k++) {
		const float *r = st + prof_pair_off(p, k);
		if (p->pair_a[k] < 0 && (r[R_SV] < 0.0f || r[R_SY] < 0.0f || r[R_DSC] < 0.0f ||
					 r[R_DDC] < 0.0f || r[R_PXX] < 0.0f || r[R_PYY] < 0.0f ||
					 r[R_CCAL] < 0.0f))
			return false;
		if (r[R_VXX] < 0.0f || r[R_RS] < 0.0f || r[R_CAL] < 0.0f || r[R_SSC] < 0.0f ||
		    r[R_DCAL] < 0.0f)
			return false;
	}
	return true;
}
