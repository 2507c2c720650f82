/* evmetrics.c - event-level scores of a replay against the ground truth:
 * per series, raises are matched to the anomalies of its device and alarmed
 * time is summed over its benign changes (rules in evmetrics.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/evmetrics.h"

void evm_opts_default(evm_opts *o)
{
	o->grace = 300.0;
	o->benign_max = 3600.0;
	o->stale_seen = false;
}

iotad_err evm_totals_init(evm_totals *s, const truth *t)
{
	memset(s, 0, sizeof *s);
	s->n_kinds = t->n_kinds;
	s->kinds = calloc(t->n_kinds ? t->n_kinds : 1, sizeof *s->kinds);
	return s->kinds ? IOTAD_OK : IOTAD_ERR_NOMEM;
}

void evm_totals_free(evm_totals *s)
{
	if (!s)
		return;
	free(s->kinds);
	memset(s, 0, sizeof *s);
}

bool evm_kind_scored(const truth *t, const evm_opts *o, uint32_t k)
{
	if (k >= t->n_kinds || truth_kind_benign(t, k))
		return false;
	return o->stale_seen || strcmp(t->kinds[k], "dropout") != 0;
}

/* What one series did, gathered over its rows. */
struct evm_series {
	long dev;               /* truth device id, -1 if absent */
	size_t a_lo, a_hi, b_lo, b_hi;
	double first, second, last, prev_ts;
	uint64_t rows;
	uint8_t prev_alert;
};

/* The class of a device name: what comes before its last '-'. */
static evm_class *evm_class_of(evm_totals *s, const char *name)
{
	const char *dash = strrchr(name, '-');
	size_t len = dash ? (size_t)(dash - name) : strlen(name);
	if (len >= sizeof s->classes[0].name)
		len = sizeof s->classes[0].name - 1;
	for (int i = 0; i < s->n_classes; i++)
		if (strlen(s->classes[i].name) == len && !strncmp(s->classes[i].name, name, len))
			return &s->classes[i];
	if (s->n_classes == EVM_MAX_CLASSES)
		return NULL;
	evm_class *c = &s->classes[s->n_classes++];
	memcpy(c->name, name, len);
	c->name[len] = '\0';
	return c;
}

/* A raise of series g at ts: the anomaly it catches, or a false alarm. */
static void evm_raise(evm_totals *s, const truth *t, const evm_opts *o, const struct evm_series *g,
		      double ts, double *delay, evm_class *cls)
{
	bool matched = false;
	s->raises++;
	for (size_t k = g->a_lo; k < g->a_hi; k++) {
		const truth_anomaly *a = &t->a[k];
		if (ts < a->start || ts >= a->end + o->grace)
			continue;
		matched = true;
		if (ts < fmax(a->end, a->start + o->grace) && isnan(delay[k]))
			delay[k] = ts - a->start;
	}
	if (matched)
		return;
	s->false_raises++;
	if (cls)
		cls->false_raises++;
	for (size_t k = g->b_lo; k < g->b_hi; k++) {
		if (ts >= t->b[k].start && ts < t->b[k].end) {
			s->false_in_benign++;
			break;
		}
	}
}

/* A stale of series g at ts: the dropouts it catches (a stale is no raise:
 * outside every dropout it is not a false alarm). */
static void evm_stale(const truth *t, const evm_opts *o, const struct evm_series *g, double ts,
		      double *delay)
{
	for (size_t k = g->a_lo; k < g->a_hi; k++) {
		const truth_anomaly *a = &t->a[k];
		if (strcmp(t->kinds[a->kind], "dropout") != 0)
			continue;
		if (ts >= a->start && ts < fmax(a->end, a->start + o->grace) && isnan(delay[k]))
			delay[k] = ts - a->start;
	}
}

/* Alarmed time of [from, to) into the benign changes of series g. */
static void evm_alarmed(const truth *t, const struct evm_series *g, double from, double to,
			double *alarmed)
{
	for (size_t k = g->b_lo; k < g->b_hi; k++) {
		double lo = fmax(from, t->b[k].start), hi = fmin(to, t->b[k].end);
		if (hi > lo)
			alarmed[k] += hi - lo;
	}
}

/* Per series totals once every row is seen. */
static void evm_close(evm_totals *s, const truth *t, const evm_opts *o, const struct evm_series *g,
		      const double *delay, const double *alarmed, evm_class *cls)
{
	double span = g->last - g->first + (g->rows > 1 ? g->second - g->first : 0.0);
	s->devices++;
	s->device_days += span / 86400.0;
	if (cls) {
		cls->devices++;
		cls->device_days += span / 86400.0;
	}
	for (size_t k = g->a_lo; k < g->a_hi; k++) {
		const truth_anomaly *a = &t->a[k];
		double until = fmax(a->end, a->start + o->grace);
		if (until <= g->first || a->start > g->last)
			continue; /* no data around it */
		evm_kind *kk = &s->kinds[a->kind];
		kk->events++;
		if (!isnan(delay[k])) {
			kk->caught++;
			kk->delay_sum += delay[k];
		}
	}
	for (size_t k = g->b_lo; k < g->b_hi; k++) {
		const truth_anomaly *b = &t->b[k];
		if (b->end <= g->first || b->start > g->last)
			continue;
		evm_kind *kk = &s->kinds[b->kind];
		kk->events++;
		kk->caught += alarmed[k] > o->benign_max;
	}
}

iotad_err evm_add(evm_totals *s, const truth *t, const evm_opts *o, const uint32_t *group,
		  char *const *names, size_t n_groups, const double *ts, const uint8_t *alert,
		  const double *stale_at, size_t n)
{
	if (!s || !t || !o || !names || !ts || !alert || n_groups == 0 || s->n_kinds != t->n_kinds)
		return IOTAD_ERR_INVAL;
	struct evm_series *gs = calloc(n_groups, sizeof *gs);
	double *delay = malloc((t->n ? t->n : 1) * sizeof *delay);
	double *alarmed = calloc(t->nb ? t->nb : 1, sizeof *alarmed);
	evm_class **cls = calloc(n_groups, sizeof *cls);
	iotad_err rc = gs && delay && alarmed && cls ? IOTAD_OK : IOTAD_ERR_NOMEM;
	for (size_t k = 0; rc == IOTAD_OK && k < t->n; k++)
		delay[k] = NAN;
	for (size_t g = 0; rc == IOTAD_OK && g < n_groups; g++) {
		gs[g].dev = truth_device_id(t, names[g]);
		if (gs[g].dev >= 0) {
			truth_device_range(t->a, t->n, (uint32_t)gs[g].dev, &gs[g].a_lo, &gs[g].a_hi);
			truth_device_range(t->b, t->nb, (uint32_t)gs[g].dev, &gs[g].b_lo, &gs[g].b_hi);
		}
		cls[g] = evm_class_of(s, names[g]);
	}
	for (size_t i = 0; rc == IOTAD_OK && i < n; i++) {
		size_t g = group ? group[i] : 0;
		if (g >= n_groups) {
			rc = IOTAD_ERR_INVAL;
			break;
		}
		struct evm_series *e = &gs[g];
		if (e->rows == 0)
			e->first = ts[i];
		else if (e->rows == 1)
			e->second = ts[i];
		if (e->rows && e->prev_alert)
			evm_alarmed(t, e, e->prev_ts, ts[i], alarmed);
		if (stale_at && stale_at[i] > 0.0 && e->dev >= 0)
			evm_stale(t, o, e, stale_at[i], delay);
		if (alert[i] && (!e->prev_alert || alert[i] == 2)) /* 2: raised again, a new cause */
			evm_raise(s, t, o, e, ts[i], delay, cls[g]);
		e->prev_alert = alert[i] != 0;
		e->prev_ts = e->last = ts[i];
		e->rows++;
	}
	for (size_t g = 0; rc == IOTAD_OK && g < n_groups; g++)
		if (gs[g].rows)
			evm_close(s, t, o, &gs[g], delay, alarmed, cls[g]);
	free(gs);
	free(delay);
	free(alarmed);
	free(cls);
	return rc;
}

double evm_recall(const evm_totals *s, const truth *t, const evm_opts *o)
{
	uint64_t n = 0, c = 0;
	for (size_t k = 0; k < s->n_kinds; k++) {
		if (!evm_kind_scored(t, o, (uint32_t)k))
			continue;
		n += s->kinds[k].events;
		c += s->kinds[k].caught;
	}
	return n ? (double)c / (double)n : NAN;
}

double evm_false_per_day(const evm_totals *s)
{
	return s->device_days > 0.0 ? (double)s->false_raises / s->device_days : NAN;
}

double evm_benign_share(const evm_totals *s, const truth *t)
{
	uint64_t n = 0, c = 0;
	for (size_t k = 0; k < s->n_kinds; k++) {
		if (!truth_kind_benign(t, (uint32_t)k))
			continue;
		n += s->kinds[k].events;
		c += s->kinds[k].caught;
	}
	return n ? (double)c / (double)n : NAN;
}
