/* sim_plan.c - the fleet mode's schedule: which anomalies and benign
 * changes a device gets, when, for how long and how large.
 *
 * Every device draws its events from its own stream, in time order:
 * exponential gaps at the combined rate of anomalies (1 / anomaly_every)
 * and benign changes (1 / benign_every), at least SIM_EVENT_GAP between the
 * end of one and the start of the next, so no two windows of a device
 * overlap and a detector has time to clear. Every event draws the same
 * numbers whatever its kind, so one option changes little else. Outdoor
 * sites draw their weather fronts first; a station's own events avoid them. */
#include <math.h>
#include <stdlib.h>

#include "sim_int.h"

/* Durations in seconds and sizes, per kind (for a 10 s interval). */
static const struct kind_shape {
	double len_lo, len_hi;
} shapes[SIM__COUNT] = {
	[SIM_SPIKE] = {10.0, 60.0},        [SIM_LEVEL] = {1800.0, 7200.0},
	[SIM_DRIFT] = {7200.0, 21600.0},   [SIM_STUCK] = {1800.0, 10800.0},
	[SIM_NOISE] = {600.0, 3600.0},     [SIM_CORR] = {3600.0, 14400.0},
	[SIM_DROPOUT] = {1200.0, 7200.0},  [SIM_SETPOINT] = {0.0, 0.0},
	[SIM_RECHARGE] = {0.0, 0.0},       [SIM_FRONT] = {3600.0, 7200.0},
};

static iotad_err push(sim_event **ev, int *n, int *cap, const sim_event *e)
{
	if (*n == *cap) {
		int c = *cap ? 2 * *cap : 16;
		sim_event *v = realloc(*ev, (size_t)c * sizeof *v);
		if (!v)
			return IOTAD_ERR_NOMEM;
		*ev = v;
		*cap = c;
	}
	(*ev)[(*n)++] = *e;
	return IOTAD_OK;
}

/* The first grid time at or after t. */
static double snap(const sim_opts *o, double t)
{
	return o->start_ts + ceil((t - o->start_ts) / o->interval - 1e-9) * o->interval;
}

/* A length rounded up to whole intervals, at least one. */
static double snap_len(const sim_opts *o, double len)
{
	double k = ceil(len / o->interval - 1e-9);
	return (k < 1.0 ? 1.0 : k) * o->interval;
}

iotad_err sim_plan_site(const sim_opts *o, uint64_t n_steps, int site, sim_event **ev, int *n)
{
	int cap = 0;
	*ev = NULL;
	*n = 0;
	if (!(o->benign & (1u << SIM_FRONT)))
		return IOTAD_OK;
	sim_rng r;
	sim_rng_seed(&r, o->seed, (uint64_t)site, STREAM_SITE_PLAN);
	double t_end = o->start_ts + (double)n_steps * o->interval;
	double t = o->start_ts + o->warmup;
	for (;;) {
		t += sim_rng_exp(&r, o->benign_every);
		double ramp = sim_rng_range(&r, shapes[SIM_FRONT].len_lo, shapes[SIM_FRONT].len_hi);
		double size = sim_rng_range(&r, 3.0, 6.0);
		double sign = sim_rng_unit(&r) < 0.5 ? -1.0 : 1.0;
		double td_share = sim_rng_range(&r, 0.6, 0.9);
		double st = snap(o, t);
		if (st >= t_end)
			break;
		ramp = snap_len(o, ramp);
		sim_event e = {.kind = SIM_FRONT, .start = st, .change_end = st + ramp,
			       .end = st + ramp + SIM_BENIGN_SETTLE, .mag = sign * size,
			       .aux = sign * size * td_share};
		if (push(ev, n, &cap, &e)) {
			free(*ev);
			*ev = NULL;
			return IOTAD_ERR_NOMEM;
		}
		t = e.end + SIM_EVENT_GAP;
	}
	return IOTAD_OK;
}

/* Kinds a device may get, in enum order: anomalies into an, benign into bn. */
static void applicable(const sim_opts *o, sim_device_kind k, bool clean, sim_kind *an, int *na,
		       sim_kind *bn, int *nb)
{
	*na = *nb = 0;
	for (int x = SIM_SPIKE; x <= SIM_DROPOUT && !clean; x++)
		if (o->kinds & (1u << x))
			an[(*na)++] = (sim_kind)x;
	bool has_setpoint = k == SIM_DEV_OFFICE || k == SIM_DEV_SERVER || k == SIM_DEV_COLD;
	if ((o->benign & (1u << SIM_SETPOINT)) && has_setpoint)
		bn[(*nb)++] = SIM_SETPOINT;
	if (o->benign & (1u << SIM_RECHARGE))
		bn[(*nb)++] = SIM_RECHARGE;
}

/* Size of a setpoint change by device kind, in C. */
static double setpoint_size(sim_device_kind k, double u)
{
	return k == SIM_DEV_OFFICE ? 1.0 + 2.0 * u : 1.0 + u;
}

/* Fill the shape of event e of kind x from the draws u[]. */
static void shape(sim_event *e, sim_device_kind k, const double *u)
{
	double sign = u[3] < 0.5 ? -1.0 : 1.0;
	bool hum = u[4] < 0.3;
	/* near saturation a humidity rise would be clipped away */
	double hsign = k == SIM_DEV_COLD || k == SIM_DEV_GREENHOUSE ? -1.0 : sign;
	e->feature = hum ? 1 : 0;
	switch (e->kind) {
	case SIM_SPIKE:
		e->mag = hum ? hsign * (15.0 + 15.0 * u[5]) : sign * (6.0 + 9.0 * u[5]);
		break;
	case SIM_LEVEL:
		e->mag = hum ? hsign * (10.0 + 10.0 * u[5]) : sign * (3.0 + 3.0 * u[5]);
		break;
	case SIM_DRIFT:
		e->mag = hum ? hsign * (10.0 + 15.0 * u[5]) : sign * (3.0 + 5.0 * u[5]);
		break;
	case SIM_NOISE:
		e->feature = 0;
		e->mag = 0.5 + 1.0 * u[5];
		e->aux = 3.0 + 3.0 * u[6];
		break;
	case SIM_CORR:
		e->feature = 1;
		e->aux = 2.0 + 2.0 * u[6];
		break;
	case SIM_SETPOINT:
		e->feature = 0;
		e->mag = sign * setpoint_size(k, u[5]);
		break;
	case SIM_RECHARGE:
		e->feature = 2;
		e->aux = 98.0 + 2.0 * u[6];
		break;
	default:
		e->feature = 0;
		break;
	}
}

/* True if [st, en) meets a front's window (with the gap around it). */
static const sim_event *in_front(const sim_event *f, int nf, double st, double en)
{
	for (int i = 0; i < nf; i++)
		if (st < f[i].end + SIM_EVENT_GAP && en + SIM_EVENT_GAP > f[i].start)
			return &f[i];
	return NULL;
}

iotad_err sim_plan_device(const sim_opts *o, uint64_t n_steps, int d, sim_device_kind k,
			  bool clean, const sim_event *fronts, int n_fronts, sim_event **ev,
			  int *n)
{
	sim_kind an[SIM__COUNT], bn[SIM__COUNT];
	int na, nb, cap = 0;
	*ev = NULL;
	*n = 0;
	applicable(o, k, clean, an, &na, bn, &nb);
	double ra = na ? 1.0 / o->anomaly_every : 0.0, rb = nb ? 1.0 / o->benign_every : 0.0;
	if (ra + rb <= 0.0)
		return IOTAD_OK;
	sim_rng r;
	sim_rng_seed(&r, o->seed, (uint64_t)d, STREAM_FLEET_PLAN);
	double t_end = o->start_ts + (double)n_steps * o->interval;
	double t = o->start_ts + o->warmup;
	for (;;) {
		double u[8];
		t += sim_rng_exp(&r, 1.0 / (ra + rb));
		for (int i = 0; i < 8; i++)
			u[i] = sim_rng_unit(&r);
		bool anomaly = u[0] * (ra + rb) < ra;
		sim_event e = {0};
		if (anomaly)
			e.kind = an[(int)(u[1] * na) < na ? (int)(u[1] * na) : na - 1];
		else
			e.kind = bn[(int)(u[1] * nb) < nb ? (int)(u[1] * nb) : nb - 1];
		const struct kind_shape *sh = &shapes[e.kind];
		double len = anomaly ? snap_len(o, sh->len_lo + (sh->len_hi - sh->len_lo) * u[2])
				     : SIM_BENIGN_SETTLE;
		double st = snap(o, t);
		const sim_event *f;
		while ((f = in_front(fronts, n_fronts, st, st + len)))
			st = snap(o, f->end + SIM_EVENT_GAP);
		if (st >= t_end)
			break;
		e.start = st;
		e.end = st + len;
		e.change_end = anomaly ? e.end : st;
		shape(&e, k, u);
		if (push(ev, n, &cap, &e)) {
			free(*ev);
			*ev = NULL;
			return IOTAD_ERR_NOMEM;
		}
		t = e.end + SIM_EVENT_GAP;
	}
	return IOTAD_OK;
}
