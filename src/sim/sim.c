/* sim.c - seeded telemetry generator with a planned anomaly schedule.
 *
 * Every device owns three random streams derived from the seed and its
 * index: one for its parameters, one for its normal signal and one for the
 * anomaly plan and the anomaly noise. The normal signal of a device is thus
 * the same whatever the anomaly options or the number of devices. The plan
 * is a deterministic sequence per device: sim_create replays it once to
 * build the ground truth, sim_next replays it again lazily while it walks
 * the time grid, so both agree exactly and an endless run needs no table. */
#include "iotad/sim.h"
#include "iotad/rng.h"
#include "sim_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_AR_TAU 120.0        /* seconds: correlation time of the AR(1) noise */
#define SIM_MIN_GAP_LENS 4.0    /* starts at least this many anomaly_len apart */

const char *const sim_feature_names[SIM_FEATURES] = {"temperature", "humidity", "battery"};

static const char *const kind_names[SIM__COUNT] = {
	"none", "spike", "drift", "stuck", "noise", "level_shift", "correlation_break", "dropout",
	"benign_setpoint", "benign_front", "benign_recharge",
};

static const char *const device_kind_names[SIM_DEV__COUNT] = {
	"sensor", "office", "server", "cold", "outdoor", "greenhouse",
};

/* Seeded through base's splitmix64 (rng.h), as base's generator is. */
void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t device, uint64_t stream)
{
	uint64_t x = seed;
	uint64_t mix = rng_splitmix64(&x) ^ (device * 0xD1B54A32D192ED03ull) ^
		       (stream * 0xAEF17502108EF2D9ull);
	x = mix;
	for (int i = 0; i < 4; i++)
		r->s[i] = rng_splitmix64(&x);
	r->has_spare = false;
	r->spare = 0.0;
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t sim_rng_next(sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double sim_rng_unit(sim_rng *r)
{
	return rng_bits_unit(sim_rng_next(r));
}

double sim_rng_range(sim_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * sim_rng_unit(r);
}

static double sim_rng_unit_of(void *eng)
{
	return sim_rng_unit(eng);
}

double sim_rng_normal(sim_rng *r)
{
	return rng_normal_of(sim_rng_unit_of, r, &r->spare, &r->has_spare);
}

double sim_rng_exp(sim_rng *r, double mean)
{
	return -mean * log(1.0 - sim_rng_unit(r));
}

/* One planned anomaly with the parameters that shape it. */
typedef struct plan_item {
	sim_kind kind;
	uint64_t k_start;       /* grid index of the first sample */
	double start, end;
	double mag;             /* spike / drift size in C */
	double hum_share;       /* spike: humidity drop per C (0: humidity untouched) */
	double noise_mult;      /* noise burst: multiple of the device noise std */
} plan_item;

/* The planner of one device: a copy of it replays the same sequence. */
typedef struct plan_state {
	sim_rng rng;
	bool started;           /* at least one anomaly drawn */
	uint64_t last_k;        /* grid index of the last drawn start */
} plan_state;

typedef struct sim_dev {
	sim_device_params p;
	sim_rng sig;            /* normal signal */
	double ar_t, ar_h;      /* AR(1) states */
	plan_state plan;
	plan_item cur;          /* active or next anomaly; kind SIM_NONE: none left */
	sim_rng anom;           /* anomaly noise */
	uint64_t frozen_k;      /* k_start of the anomaly whose values are frozen */
	float frozen[SIM_FEATURES];
	bool has_frozen;
} sim_dev;

struct sim {
	sim_opts o;
	bool endless;
	uint64_t n_steps;       /* samples per device (finite runs) */
	uint64_t step;          /* grid index of the next sample */
	int next_dev;
	double phi, innov;      /* AR(1): x' = phi x + innov sigma N(0,1) */
	sim_kind enabled[SIM__COUNT];
	int n_enabled;
	sim_dev *devs;
	sim_anomaly *truth;
	size_t n_truth;
	sim_fleet *fleet;       /* the fleet mode, or NULL */
};

void sim_opts_default(sim_opts *o)
{
	memset(o, 0, sizeof *o);
	o->n_devices = 10;
	o->clean_devices = 0;
	o->interval = 1.0;
	o->duration = 3600.0;
	o->start_ts = 1700000000.0;
	o->warmup = 300.0;
	o->anomaly_every = 900.0;
	o->anomaly_len = 60.0;
	o->kinds = SIM_CLASSIC_KINDS;
	o->seed = 1;
	o->fleet = false;
	o->device_kinds = SIM_ALL_DEVICE_KINDS;
	o->mix = SIM_MIX_ROUND_ROBIN;
	o->site_size = 5;
	o->benign = SIM_BENIGN_KINDS;
	o->benign_every = SIM_DAY;
}

bool sim_kind_benign(sim_kind k)
{
	return k == SIM_SETPOINT || k == SIM_FRONT || k == SIM_RECHARGE;
}

const char *sim_device_kind_name(sim_device_kind k)
{
	if ((unsigned)k >= SIM_DEV__COUNT)
		return "unknown";
	return device_kind_names[k];
}

int sim_device_kind_parse(const char *name, sim_device_kind *out)
{
	for (int k = 0; name && k < SIM_DEV__COUNT; k++) {
		if (strcmp(name, device_kind_names[k]) == 0) {
			*out = (sim_device_kind)k;
			return 0;
		}
	}
	return -1;
}

sim_device_kind sim_device_kind_of(const sim *s, int device)
{
	if (!s || !s->fleet || device < 0 || device >= s->o.n_devices)
		return SIM_DEV_SENSOR;
	return sim_fleet_kind(s->fleet, device);
}

int sim_device_site(const sim *s, int device)
{
	if (!s || !s->fleet || device < 0 || device >= s->o.n_devices)
		return -1;
	return sim_fleet_site(s->fleet, device);
}

void sim_device_label(const sim *s, int device, char *out, size_t len)
{
	if (!s || !s->fleet) {
		sim_device_name(device, out, len);
		return;
	}
	if (len > 0)
		snprintf(out, len, "%s-%03d", sim_device_kind_name(sim_device_kind_of(s, device)),
			 device);
}

const char *sim_kind_name(sim_kind k)
{
	if ((unsigned)k >= SIM__COUNT)
		return "unknown";
	return kind_names[k];
}

int sim_kind_parse(const char *name, sim_kind *out)
{
	if (!name)
		return -1;
	for (int k = 0; k < SIM__COUNT; k++) {
		if (strcmp(name, kind_names[k]) == 0) {
			*out = (sim_kind)k;
			return 0;
		}
	}
	return -1;
}

void sim_device_name(int device, char *out, size_t len)
{
	if (len > 0)
		snprintf(out, len, "sensor-%03d", device);
}

static bool is_clean(const sim *s, int device)
{
	return device >= s->o.n_devices - s->o.clean_devices || s->n_enabled == 0;
}

/* Draw the next anomaly of a device from its planner; false if it has none. */
static bool plan_next(const sim *s, int device, plan_state *ps, plan_item *out)
{
	const sim_opts *o = &s->o;
	if (is_clean(s, device))
		return false;
	double raw;
	if (!ps->started) {
		raw = o->start_ts + o->warmup + sim_rng_exp(&ps->rng, o->anomaly_every);
	} else {
		double gap = sim_rng_exp(&ps->rng, o->anomaly_every);
		double min_gap = SIM_MIN_GAP_LENS * o->anomaly_len;
		if (gap < min_gap)
			gap = min_gap;
		raw = o->start_ts + (double)ps->last_k * o->interval + gap;
	}
	/* the first grid point at or after raw: respects warmup and gaps */
	double kf = ceil((raw - o->start_ts) / o->interval);
	if (!(kf < 9.0e15))
		return false; /* beyond any representable run */
	uint64_t k = (uint64_t)kf;
	if (ps->started && k <= ps->last_k)
		k = ps->last_k + 1;
	/* draw every parameter for every kind: fixed consumption per anomaly */
	int pick = (int)(sim_rng_unit(&ps->rng) * s->n_enabled);
	if (pick >= s->n_enabled)
		pick = s->n_enabled - 1;
	double spike = sim_rng_range(&ps->rng, 8.0, 15.0);
	double drift = sim_rng_range(&ps->rng, 6.0, 10.0);
	bool hum = sim_rng_unit(&ps->rng) < 0.5;
	double hum_share = sim_rng_range(&ps->rng, 0.5, 1.0);
	double mult = sim_rng_range(&ps->rng, 10.0, 20.0);

	out->kind = s->enabled[pick];
	out->k_start = k;
	out->start = o->start_ts + (double)k * o->interval;
	out->end = out->start + o->anomaly_len;
	out->mag = out->kind == SIM_SPIKE ? spike : drift;
	out->hum_share = out->kind == SIM_SPIKE && hum ? hum_share : 0.0;
	out->noise_mult = mult;
	ps->started = true;
	ps->last_k = k;
	return true;
}

static void draw_params(sim_device_params *p, uint64_t seed, int device)
{
	sim_rng r;
	sim_rng_seed(&r, seed, (uint64_t)device, STREAM_PARAMS);
	p->base_temp = sim_rng_range(&r, 18.0, 26.0);
	p->amplitude = sim_rng_range(&r, 2.0, 5.0);
	p->phase = sim_rng_range(&r, 0.0, 2.0 * M_PI);
	p->hum_base = sim_rng_range(&r, 45.0, 55.0);
	p->hum_slope = sim_rng_range(&r, 1.0, 2.0);
	p->battery0 = sim_rng_range(&r, 95.0, 100.0);
	p->drain_per_day = sim_rng_range(&r, 0.5, 2.0);
	p->sigma_temp = sim_rng_range(&r, 0.10, 0.25);
	p->sigma_hum = sim_rng_range(&r, 0.4, 0.8);
	p->meas_temp = 0.03;
	p->meas_hum = 0.15;
	p->meas_batt = 0.05;
}

static int cmp_truth(const void *a, const void *b)
{
	const sim_anomaly *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->device > y->device) - (x->device < y->device);
}

/* Replay every device's plan over the run to build the ground truth. */
static iotad_err build_truth(sim *s)
{
	size_t cap = 0;
	for (int d = 0; d < s->o.n_devices; d++) {
		plan_state ps = s->devs[d].plan;
		plan_item it;
		while (plan_next(s, d, &ps, &it) && it.k_start < s->n_steps) {
			if (s->n_truth == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				sim_anomaly *t = realloc(s->truth, ncap * sizeof *t);
				if (!t)
					return IOTAD_ERR_NOMEM;
				s->truth = t;
				cap = ncap;
			}
			s->truth[s->n_truth++] = (sim_anomaly){
				.device = d, .kind = it.kind, .start = it.start, .end = it.end};
		}
	}
	if (s->n_truth > 1)
		qsort(s->truth, s->n_truth, sizeof *s->truth, cmp_truth);
	return IOTAD_OK;
}

static iotad_err check_opts(const sim_opts *o)
{
	if (o->n_devices < 1 || o->n_devices > SIM_MAX_DEVICES)
		return IOTAD_ERR_RANGE;
	if (o->clean_devices < 0 || o->clean_devices > o->n_devices)
		return IOTAD_ERR_RANGE;
	if (!isfinite(o->interval) || o->interval <= 0.0)
		return IOTAD_ERR_RANGE;
	if (isnan(o->duration) || o->duration < 0.0)
		return IOTAD_ERR_RANGE;
	if (!isfinite(o->start_ts) || !isfinite(o->warmup) || o->warmup < 0.0)
		return IOTAD_ERR_RANGE;
	if (!isfinite(o->anomaly_every) || o->anomaly_every <= 0.0)
		return IOTAD_ERR_RANGE;
	if (!isfinite(o->anomaly_len) || o->anomaly_len <= 0.0)
		return IOTAD_ERR_RANGE;
	if (o->kinds & ~(uint32_t)(o->fleet ? SIM_FLEET_KINDS : SIM_CLASSIC_KINDS))
		return IOTAD_ERR_INVAL;
	if (o->fleet) {
		if (isinf(o->duration))
			return IOTAD_ERR_INVAL; /* planned up front */
		if (o->device_kinds == 0 || (o->device_kinds & ~(uint32_t)SIM_ALL_DEVICE_KINDS))
			return IOTAD_ERR_INVAL;
		if (o->benign & ~(uint32_t)SIM_BENIGN_KINDS)
			return IOTAD_ERR_INVAL;
		if (o->mix != SIM_MIX_ROUND_ROBIN && o->mix != SIM_MIX_SEED)
			return IOTAD_ERR_INVAL;
		if (o->site_size < 1 || o->site_size > 1000)
			return IOTAD_ERR_RANGE;
		if (!isfinite(o->benign_every) || o->benign_every <= 0.0)
			return IOTAD_ERR_RANGE;
	}
	if (isfinite(o->duration) && o->duration / o->interval > 9.0e15)
		return IOTAD_ERR_RANGE;
	return IOTAD_OK;
}

iotad_err sim_create(const sim_opts *o, sim **out)
{
	if (!o || !out)
		return IOTAD_ERR_INVAL;
	*out = NULL;
	iotad_err err = check_opts(o);
	if (err)
		return err;
	sim *s = calloc(1, sizeof *s);
	if (!s)
		return IOTAD_ERR_NOMEM;
	s->o = *o;
	s->endless = isinf(o->duration);
	if (!s->endless)
		s->n_steps = (uint64_t)ceil(o->duration / o->interval - 1e-9);
	if (o->fleet) {
		err = sim_fleet_create(o, s->n_steps, &s->fleet, &s->truth, &s->n_truth);
		if (!err && s->n_truth > 1)
			qsort(s->truth, s->n_truth, sizeof *s->truth, cmp_truth);
		if (err) {
			sim_destroy(s);
			return err;
		}
		*out = s;
		return IOTAD_OK;
	}
	s->phi = exp(-o->interval / SIM_AR_TAU);
	s->innov = sqrt(1.0 - s->phi * s->phi);
	for (int k = SIM_SPIKE; k < SIM__COUNT; k++)
		if (o->kinds & (1u << k))
			s->enabled[s->n_enabled++] = (sim_kind)k;
	s->devs = calloc((size_t)o->n_devices, sizeof *s->devs);
	if (!s->devs) {
		sim_destroy(s);
		return IOTAD_ERR_NOMEM;
	}
	for (int d = 0; d < o->n_devices; d++) {
		sim_dev *dv = &s->devs[d];
		draw_params(&dv->p, o->seed, d);
		sim_rng_seed(&dv->sig, o->seed, (uint64_t)d, STREAM_SIGNAL);
		sim_rng_seed(&dv->plan.rng, o->seed, (uint64_t)d, STREAM_PLAN);
		sim_rng_seed(&dv->anom, o->seed, (uint64_t)d, STREAM_ANOMALY);
		/* start the AR(1) noise in its stationary distribution */
		dv->ar_t = dv->p.sigma_temp * sim_rng_normal(&dv->sig);
		dv->ar_h = dv->p.sigma_hum * sim_rng_normal(&dv->sig);
	}
	if (!s->endless) {
		err = build_truth(s);
		if (err) {
			sim_destroy(s);
			return err;
		}
	}
	for (int d = 0; d < o->n_devices; d++) {
		sim_dev *dv = &s->devs[d];
		if (!plan_next(s, d, &dv->plan, &dv->cur))
			dv->cur.kind = SIM_NONE;
	}
	*out = s;
	return IOTAD_OK;
}

void sim_destroy(sim *s)
{
	if (!s)
		return;
	sim_fleet_destroy(s->fleet);
	free(s->devs);
	free(s->truth);
	free(s);
}

static float round_to(double x, double step)
{
	return (float)(round(x / step) * step);
}

static double clamp(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

bool sim_next(sim *s, sim_sample *out)
{
	if (!s || !out)
		return false;
	if (s->fleet) {
		while (s->step < s->n_steps) {
			int fd = s->next_dev;
			uint64_t fk = s->step;
			if (++s->next_dev == s->o.n_devices) {
				s->next_dev = 0;
				s->step++;
			}
			if (sim_fleet_next(s->fleet, fd, fk, out))
				return true;
		}
		return false;
	}
	if (!s->endless && s->step >= s->n_steps)
		return false;
	const sim_opts *o = &s->o;
	int d = s->next_dev;
	uint64_t k = s->step;
	sim_dev *dv = &s->devs[d];
	const sim_device_params *p = &dv->p;
	double ts = o->start_ts + (double)k * o->interval;

	/* normal signal: the same draws whatever happens below */
	if (k > 0) {
		dv->ar_t = s->phi * dv->ar_t + s->innov * p->sigma_temp * sim_rng_normal(&dv->sig);
		dv->ar_h = s->phi * dv->ar_h + s->innov * p->sigma_hum * sim_rng_normal(&dv->sig);
	}
	double mt = sim_rng_normal(&dv->sig), mh = sim_rng_normal(&dv->sig), mb = sim_rng_normal(&dv->sig);
	double day = 2.0 * M_PI * fmod(ts, SIM_DAY) / SIM_DAY;
	double excess = p->amplitude * sin(day + p->phase) + dv->ar_t;
	double temp = p->base_temp + excess + p->meas_temp * mt;
	double hum = p->hum_base - p->hum_slope * excess + dv->ar_h + p->meas_hum * mh;
	double elapsed_days = (ts - o->start_ts) / SIM_DAY;
	double batt = p->battery0 - p->drain_per_day * elapsed_days + p->meas_batt * mb;

	/* the anomaly active at ts, if any */
	while (dv->cur.kind != SIM_NONE && ts >= dv->cur.end) {
		if (!plan_next(s, d, &dv->plan, &dv->cur))
			dv->cur.kind = SIM_NONE;
	}
	sim_kind label = SIM_NONE;
	const plan_item *a = &dv->cur;
	if (a->kind != SIM_NONE && ts >= a->start)
		label = a->kind;

	switch (label) {
	case SIM_SPIKE:
		temp += a->mag;
		hum -= a->hum_share * p->hum_slope * a->mag;
		break;
	case SIM_DRIFT:
		temp += a->mag * (ts - a->start) / (a->end - a->start);
		break;
	case SIM_NOISE: {
		double st = hypot(p->sigma_temp, p->meas_temp);
		double sh = hypot(p->sigma_hum, p->meas_hum);
		temp += a->noise_mult * st * sim_rng_normal(&dv->anom);
		hum += a->noise_mult * sh * sim_rng_normal(&dv->anom);
		break;
	}
	default:
		break;
	}

	out->device = d;
	out->ts = ts;
	out->label = label;
	out->values[0] = round_to(temp, 0.01);
	out->values[1] = round_to(clamp(hum, 0.0, 100.0), 0.1);
	out->values[2] = round_to(clamp(batt, 0.0, 100.0), 0.1);
	if (label == SIM_STUCK) {
		if (!dv->has_frozen || dv->frozen_k != a->k_start) {
			memcpy(dv->frozen, out->values, sizeof dv->frozen);
			dv->frozen_k = a->k_start;
			dv->has_frozen = true;
		}
		memcpy(out->values, dv->frozen, sizeof dv->frozen);
	}

	if (++s->next_dev == o->n_devices) {
		s->next_dev = 0;
		s->step++;
	}
	return true;
}

const sim_anomaly *sim_truth(const sim *s, size_t *count)
{
	if (count)
		*count = s ? s->n_truth : 0;
	return s ? s->truth : NULL;
}

bool sim_pending_anomaly(const sim *s, int device, sim_anomaly *out)
{
	if (!s || device < 0 || device >= s->o.n_devices)
		return false;
	if (s->fleet) {
		double t = s->o.start_ts + (double)s->step * s->o.interval;
		return sim_fleet_pending(s->fleet, device, device < s->next_dev ? t + s->o.interval : t,
					 out);
	}
	const plan_item *a = &s->devs[device].cur;
	if (a->kind == SIM_NONE)
		return false;
	if (!s->endless && a->k_start >= s->n_steps)
		return false;
	/* an anomaly already over at the current position is not pending */
	double now = s->o.start_ts + (double)s->step * s->o.interval;
	if (device < s->next_dev)
		now += s->o.interval;
	if (now >= a->end)
		return false;
	if (out)
		*out = (sim_anomaly){.device = device, .kind = a->kind, .start = a->start, .end = a->end};
	return true;
}

iotad_err sim_device_info(const sim *s, int device, sim_device_params *out)
{
	if (!s || !out)
		return IOTAD_ERR_INVAL;
	if (device < 0 || device >= s->o.n_devices)
		return IOTAD_ERR_RANGE;
	if (s->fleet)
		return IOTAD_ERR_STATE;
	*out = s->devs[device].p;
	return IOTAD_OK;
}
