/* threshold.c - static and adaptive per-device thresholds.
 *
 * Adaptive: level is an EWMA of the scores judged normal, starting at the
 * calibration mean (base_level). The threshold is the calibrated base
 * scaled by level / base_level, clamped to [min_ratio, max_ratio]. A score
 * at or above the threshold, or a non-finite one, leaves the state as is. */
#include <math.h>
#include <string.h>

#include "iotad/threshold.h"

#define THR_DEFAULT_ALPHA 0.01f
#define THR_DEFAULT_MIN_RATIO 0.5f
#define THR_DEFAULT_MAX_RATIO 4.0f

int thr_kind_parse(const char *name, thr_kind *out)
{
	if (!name || !out)
		return -1;
	if (strcmp(name, "static") == 0) {
		*out = THR_STATIC;
		return 0;
	}
	if (strcmp(name, "adaptive") == 0) {
		*out = THR_ADAPTIVE;
		return 0;
	}
	return -1;
}

const char *thr_kind_name(thr_kind k)
{
	switch (k) {
	case THR_STATIC:
		return "static";
	case THR_ADAPTIVE:
		return "adaptive";
	}
	return "unknown";
}

void thr_params_default(thr_params *p, thr_kind kind, float base, float base_level)
{
	p->kind = kind;
	p->base = base;
	p->base_level = base_level;
	p->alpha = THR_DEFAULT_ALPHA;
	p->min_ratio = THR_DEFAULT_MIN_RATIO;
	p->max_ratio = THR_DEFAULT_MAX_RATIO;
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

void thr_init(thr_state *s, const thr_params *p)
{
	s->level = p->base_level;
	s->value = p->base;
	if (thr_adapts(p))
		s->value = thr_scaled(p, s->level);
}

bool thr_update(thr_state *s, const thr_params *p, float score)
{
	if (!isfinite(score) || score >= s->value)
		return true;
	if (!thr_adapts(p))
		return false;
	s->level = (1.0f - p->alpha) * s->level + p->alpha * score;
	s->value = thr_scaled(p, s->level);
	return false;
}
