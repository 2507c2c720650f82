/* sim_fleet.c - the fleet mode of the simulator: five kinds of device, each
 * with its own physics, sensor resolution and noise, the benign changes and
 * the anomalies that sim_plan.c scheduled.
 *
 * Every kind reports temperature (C), relative humidity (%) and battery (%).
 * Humidity follows the physics where there is one: the dew point Td is set
 * by the air's water content, RH = 100 es(Td) / es(T) (Magnus), so RH falls
 * as T rises while the water content holds.
 *
 *  office      setpoint by day (occupied 7-8 h to 18-19 h on weekdays) and
 *              a lower one by night, reached through a thermal lag of
 *              30-60 min; occupancy adds heat; dew point drifts slowly.
 *              Resolution 0.1 C, 0.5 %.
 *  server      a tight band around its setpoint: cooling cycles of 6-15 min,
 *              +-0.3-0.6 C. Resolution 0.01 C, 0.1 %.
 *  cold        a thermostat at 2-5 C with a hysteresis of +-0.8-1.5 C: the
 *              compressor cycles every 12-28 min (+-10 % per cycle); a
 *              defrost every 4-8 h heats it 6-10 C over 20-30 min, then the
 *              compressor pulls it down; doors open at random by day for 1-3
 *              min and bring warm (T up) moist (RH up) air. RH 80-90 % less
 *              what the running compressor dries. Resolution 0.1 C, 1 %.
 *  outdoor     stations of one site share its weather: a daily cycle
 *              (warmest at 15 h), slow weather of 1.5-4 days and fronts (a
 *              site-wide shift of 3-6 C over 1-2 h, benign); each station has
 *              its own offset and noise; RH from the site's dew point.
 *              Resolution 0.1 C, 1 %.
 *  greenhouse  the sun heats it by day (cloudiness drawn per day), vents
 *              open above their setpoint (25-29 C) and cap the rise; plants
 *              add water by day, open vents let it out. Resolution 0.05 C,
 *              0.5 %.
 *
 * Battery: 90-100 % draining 0.2-3 %/day by kind; a recharge (benign) puts
 * it back at 98-100 %. Resolution 0.1 %. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

typedef struct fl_site {
	double base, amp, spread;               /* C */
	double slow_a[2], slow_p[2], slow_ph[2]; /* slow weather: C, s, rad */
	double td_a, td_p, td_ph;               /* dew point's own slow part */
	sim_event *fronts;
	int n_fronts;
} fl_site;

typedef struct fl_dev {
	sim_device_kind kind;
	int site;
	sim_rng sig, anom;
	double phi, innov;              /* AR(1) of the air, per sample */
	double sig_t, sig_h;            /* std of the AR(1) air noise */
	double meas_t, meas_h, meas_b;  /* white measurement noise */
	double res_t, res_h, res_b;     /* resolution */
	double sp, sp2, a_tau;          /* setpoints; lag per sample 1 - exp(-dt/tau) */
	double occ_start, occ_end, heat;
	double td0, td_a, td_p, td_ph;  /* indoor dew point */
	double cyc_p, cyc_a, cyc_ph;    /* server cooling cycle */
	double band, cool, warm, jit;   /* cold room thermostat, rate jitter */
	double def_every, def_len, def_rate, door_rate, door_h, ambient, rh0;
	double night, gain, cloud;      /* greenhouse; cloud of day cloud_day */
	int64_t cloud_day;
	double offset, td_off;          /* outdoor station */
	double sp_off;                  /* setpoint changes so far */
	double batt0, batt_ts, drain;
	/* state */
	double temp, ar_t, ar_h, comp_s, hum_bump;
	int comp_on, defrost;
	double def_next, def_end, door_next, door_end;
	/* schedule */
	sim_event *ev;
	int n_ev, cur;
	bool applied;                   /* benign ev[cur] applied */
	int frozen_ev, corr_ev;
	float frozen[2];
	double corr_t0, corr_h0;
} fl_dev;

struct sim_fleet {
	sim_opts o;
	fl_dev *devs;
	fl_site *sites;
	int n_sites;
};

static double clampd(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* Relative humidity (%) of air at t C with dew point td C (Magnus). */
static double rel_hum(double t, double td)
{
	return 100.0 * exp(17.62 * td / (243.12 + td) - 17.62 * t / (243.12 + t));
}

static double hour_of(double ts)
{
	double h = fmod(ts, SIM_DAY) / 3600.0;
	return h < 0.0 ? h + 24.0 : h;
}

/* Smooth 0..1 over [a, b]. */
static double ramp01(double t, double a, double b)
{
	if (t <= a)
		return 0.0;
	if (t >= b)
		return 1.0;
	double x = (t - a) / (b - a);
	return x * x * (3.0 - 2.0 * x);
}

static void site_params(fl_site *s, uint64_t seed, int site)
{
	sim_rng r;
	sim_rng_seed(&r, seed, (uint64_t)site, STREAM_SITE);
	s->base = sim_rng_range(&r, 8.0, 18.0);
	s->amp = sim_rng_range(&r, 3.0, 7.0);
	s->spread = sim_rng_range(&r, 1.0, 4.0);
	for (int i = 0; i < 2; i++) {
		s->slow_a[i] = sim_rng_range(&r, 1.0, 2.5);
		s->slow_p[i] = sim_rng_range(&r, 1.5, 4.0) * SIM_DAY;
		s->slow_ph[i] = sim_rng_range(&r, 0.0, 2.0 * M_PI);
	}
	s->td_a = sim_rng_range(&r, 0.5, 1.5);
	s->td_p = sim_rng_range(&r, 1.0, 3.0) * SIM_DAY;
	s->td_ph = sim_rng_range(&r, 0.0, 2.0 * M_PI);
}

/* The site's air at ts: temperature and dew point. */
static void site_weather(const fl_site *s, double ts, double *t, double *td)
{
	double day = cos(2.0 * M_PI * (hour_of(ts) - 15.0) / 24.0);
	double x = s->base + s->amp * day, d = s->base - s->amp - s->spread + 0.2 * s->amp * day;
	for (int i = 0; i < 2; i++)
		x += s->slow_a[i] * sin(2.0 * M_PI * ts / s->slow_p[i] + s->slow_ph[i]);
	d += 0.5 * (x - s->base - s->amp * day) + s->td_a * sin(2.0 * M_PI * ts / s->td_p + s->td_ph);
	for (int i = 0; i < s->n_fronts && s->fronts[i].start <= ts; i++) {
		double w = ramp01(ts, s->fronts[i].start, s->fronts[i].change_end);
		x += w * s->fronts[i].mag;
		d += w * s->fronts[i].aux;
	}
	*t = x;
	*td = d;
}

/* Resolution, noise, battery and the kind's own parameters. */
static void dev_params(fl_dev *v, const sim_opts *o, int d)
{
	sim_rng r;
	sim_rng_seed(&r, o->seed, (uint64_t)d, STREAM_FLEET_PARAMS);
	double tau_ar = 120.0;
	v->meas_b = 0.05;
	v->res_b = 0.1;
	v->batt0 = sim_rng_range(&r, 90.0, 100.0);
	v->batt_ts = o->start_ts;
	v->td0 = sim_rng_range(&r, 4.0, 10.0);
	v->td_a = sim_rng_range(&r, 0.5, 1.5);
	v->td_p = sim_rng_range(&r, 1.0, 2.5) * SIM_DAY;
	v->td_ph = sim_rng_range(&r, 0.0, 2.0 * M_PI);
	double tau = 1800.0;
	switch (v->kind) {
	case SIM_DEV_OFFICE:
		v->res_t = 0.1, v->res_h = 0.5, v->meas_t = 0.03, v->meas_h = 0.2;
		v->sig_t = sim_rng_range(&r, 0.05, 0.1), v->sig_h = 0.3;
		v->sp = sim_rng_range(&r, 21.0, 23.0);
		v->sp2 = v->sp - sim_rng_range(&r, 2.0, 4.0);
		v->occ_start = sim_rng_range(&r, 7.0, 8.0);
		v->occ_end = sim_rng_range(&r, 18.0, 19.0);
		v->heat = sim_rng_range(&r, 0.5, 1.0);
		tau = sim_rng_range(&r, 1800.0, 3600.0);
		v->drain = sim_rng_range(&r, 0.5, 1.0);
		break;
	case SIM_DEV_SERVER:
		v->res_t = 0.01, v->res_h = 0.1, v->meas_t = 0.02, v->meas_h = 0.1;
		v->sig_t = sim_rng_range(&r, 0.03, 0.06), v->sig_h = 0.2;
		v->sp = sim_rng_range(&r, 19.0, 23.0);
		v->cyc_p = sim_rng_range(&r, 360.0, 900.0);
		v->cyc_a = sim_rng_range(&r, 0.3, 0.6);
		v->cyc_ph = sim_rng_range(&r, 0.0, 1.0);
		tau = 900.0;
		v->drain = sim_rng_range(&r, 0.2, 0.5);
		break;
	case SIM_DEV_COLD: {
		v->res_t = 0.1, v->res_h = 1.0, v->meas_t = 0.05, v->meas_h = 0.5;
		v->sig_t = sim_rng_range(&r, 0.03, 0.06), v->sig_h = 0.5;
		v->sp = sim_rng_range(&r, 2.0, 5.0);
		v->band = sim_rng_range(&r, 0.8, 1.5);
		double period = sim_rng_range(&r, 12.0, 28.0) * 60.0;
		double duty = sim_rng_range(&r, 0.35, 0.6);
		v->cool = 2.0 * v->band / (duty * period);
		v->warm = 2.0 * v->band / ((1.0 - duty) * period);
		v->def_every = sim_rng_range(&r, 4.0, 8.0) * 3600.0;
		v->def_len = sim_rng_range(&r, 1200.0, 1800.0);
		v->def_rate = sim_rng_range(&r, 6.0, 10.0) / v->def_len;
		v->def_next = o->start_ts + sim_rng_range(&r, 0.0, v->def_every);
		v->door_rate = sim_rng_range(&r, 0.5, 1.5) / 3600.0;
		v->door_h = sim_rng_range(&r, 10.0, 20.0);
		v->ambient = sim_rng_range(&r, 18.0, 22.0);
		v->rh0 = sim_rng_range(&r, 84.0, 92.0);
		v->drain = sim_rng_range(&r, 1.0, 2.0);
		break;
	}
	case SIM_DEV_OUTDOOR:
		v->res_t = 0.1, v->res_h = 1.0, v->meas_t = 0.05, v->meas_h = 0.5;
		v->sig_t = sim_rng_range(&r, 0.1, 0.2), v->sig_h = 0.3;
		v->offset = sim_rng_range(&r, -0.5, 0.5);
		v->td_off = sim_rng_range(&r, -0.3, 0.3);
		tau_ar = 300.0;
		v->drain = sim_rng_range(&r, 1.0, 3.0);
		break;
	default: /* greenhouse */
		v->res_t = 0.05, v->res_h = 0.5, v->meas_t = 0.03, v->meas_h = 0.3;
		v->sig_t = sim_rng_range(&r, 0.1, 0.2), v->sig_h = 0.5;
		v->night = sim_rng_range(&r, 15.0, 18.0);
		v->gain = sim_rng_range(&r, 10.0, 16.0);
		v->sp = sim_rng_range(&r, 25.0, 29.0);
		v->td0 = v->night - sim_rng_range(&r, 1.0, 3.0);
		tau = sim_rng_range(&r, 1200.0, 2400.0);
		v->drain = sim_rng_range(&r, 0.5, 1.5);
		break;
	}
	v->phi = exp(-o->interval / tau_ar);
	v->innov = sqrt(1.0 - v->phi * v->phi);
	v->a_tau = 1.0 - exp(-o->interval / tau);
	v->jit = 1.0;
	v->cloud_day = -1;
	v->frozen_ev = v->corr_ev = -1;
}

static double office_target(const fl_dev *v, double ts)
{
	double h = hour_of(ts);
	long dow = ((long)floor(ts / SIM_DAY) + 4) % 7; /* 1970-01-01 was a Thursday */
	bool occupied = dow != 0 && dow != 6 && h >= v->occ_start && h < v->occ_end;
	return (occupied ? v->sp + v->heat : v->sp2) + v->sp_off;
}

static double greenhouse_target(fl_dev *v, uint64_t seed, int d, double ts, double *sun)
{
	int64_t day = (int64_t)floor(ts / SIM_DAY);
	if (day != v->cloud_day) {
		sim_rng r;
		sim_rng_seed(&r, seed ^ (uint64_t)day, (uint64_t)d, STREAM_FLEET_KIND + 100);
		v->cloud = sim_rng_range(&r, 0.5, 1.0);
		v->cloud_day = day;
	}
	*sun = fmax(0.0, sin(M_PI * (hour_of(ts) - 6.0) / 12.0)) * v->cloud;
	double target = v->night + v->sp_off + v->gain * *sun;
	if (target > v->sp)
		target = v->sp + 0.25 * (target - v->sp);
	return target;
}

/* The cold room's thermostat, defrost and doors over one interval. */
static void cold_step(fl_dev *v, double ts, double dt)
{
	double sp = v->sp + v->sp_off;
	if (!v->defrost && ts >= v->def_next) {
		v->defrost = 1;
		v->def_end = ts + v->def_len;
		v->comp_on = 0;
	}
	if (v->defrost) {
		v->temp += v->def_rate * dt;
		if (ts >= v->def_end) {
			v->defrost = 0;
			v->comp_on = 1;
			v->def_next += v->def_every + 600.0 * sim_rng_normal(&v->sig);
		}
	} else if (v->comp_on) {
		v->temp -= v->cool * v->jit * dt;
		if (v->temp <= sp - v->band) {
			v->comp_on = 0;
			v->jit = clampd(1.0 + 0.1 * sim_rng_normal(&v->sig), 0.8, 1.2);
		}
	} else {
		v->temp += v->warm * v->jit * dt;
		if (v->temp >= sp + v->band)
			v->comp_on = 1;
	}
	if (ts >= v->door_next && ts >= v->door_end) {
		double h = hour_of(ts);
		if (h >= 6.0 && h < 20.0)
			v->door_end = ts + sim_rng_range(&v->sig, 60.0, 180.0);
		v->door_next = ts + sim_rng_exp(&v->sig, 1.0 / v->door_rate);
	}
	if (ts < v->door_end) {
		v->temp += (v->ambient - v->temp) * (1.0 - exp(-dt / 600.0));
		v->hum_bump += (v->door_h - v->hum_bump) * (1.0 - exp(-dt / 60.0));
	} else {
		v->hum_bump *= exp(-dt / 300.0);
	}
	v->comp_s += ((double)v->comp_on - v->comp_s) * (1.0 - exp(-dt / 300.0));
}

/* The air the device measures at ts (before sensor noise). */
static void physics(sim_fleet *f, fl_dev *v, int d, double ts, double *t, double *h)
{
	double dt = f->o.interval, td, sun;
	switch (v->kind) {
	case SIM_DEV_OFFICE:
		v->temp += (office_target(v, ts) - v->temp) * v->a_tau;
		*t = v->temp + v->ar_t;
		td = v->td0 + v->td_a * sin(2.0 * M_PI * ts / v->td_p + v->td_ph);
		*h = rel_hum(*t, td) + v->ar_h;
		break;
	case SIM_DEV_SERVER: {
		v->temp += (v->sp + v->sp_off - v->temp) * v->a_tau;
		double ph = ts / v->cyc_p + v->cyc_ph;
		double tri = 4.0 * fabs(ph - floor(ph) - 0.5) - 1.0;
		*t = v->temp + v->cyc_a * tri + v->ar_t;
		td = v->td0 + 0.3 * v->td_a * sin(2.0 * M_PI * ts / v->td_p + v->td_ph);
		*h = rel_hum(*t, td) + v->ar_h;
		break;
	}
	case SIM_DEV_COLD:
		cold_step(v, ts, dt);
		*t = v->temp + v->ar_t;
		*h = v->rh0 - 6.0 * v->comp_s + v->hum_bump + v->ar_h;
		break;
	case SIM_DEV_OUTDOOR:
		site_weather(&f->sites[v->site], ts, t, &td);
		*t += v->offset + v->ar_t;
		*h = rel_hum(*t, td + v->td_off) + v->ar_h;
		break;
	default: {
		v->temp += (greenhouse_target(v, f->o.seed, d, ts, &sun) - v->temp) * v->a_tau;
		double open = clampd((v->temp - v->sp) / 1.5, 0.0, 1.0);
		*t = v->temp + v->ar_t;
		td = v->td0 + v->sp_off + 4.0 * sun - 3.0 * open;
		*h = rel_hum(*t, td) + v->ar_h;
		break;
	}
	}
}

static float round_to(double x, double step)
{
	return (float)(round(x / step) * step);
}

/* A benign change takes effect (once, at its first sample). */
static void apply_benign(fl_dev *v, const sim_event *e, double ts)
{
	if (e->kind == SIM_SETPOINT) {
		v->sp_off += e->mag;
	} else if (e->kind == SIM_RECHARGE) {
		/* never down: a nearly full battery only tops up */
		v->batt0 = fmax(e->aux, v->batt0 - v->drain * (ts - v->batt_ts) / SIM_DAY);
		v->batt_ts = ts;
	}
}

/* The event of v at ts: advances the cursor; NULL when none is active. */
static const sim_event *active_event(fl_dev *v, double ts)
{
	while (v->cur < v->n_ev && ts >= v->ev[v->cur].end) {
		if (!v->applied)
			apply_benign(v, &v->ev[v->cur], v->ev[v->cur].start);
		v->cur++;
		v->applied = false;
	}
	if (v->cur >= v->n_ev || ts < v->ev[v->cur].start)
		return NULL;
	const sim_event *e = &v->ev[v->cur];
	if (!v->applied) {
		apply_benign(v, e, ts);
		v->applied = true;
	}
	return e;
}

bool sim_fleet_next(sim_fleet *f, int d, uint64_t k, sim_sample *out)
{
	fl_dev *v = &f->devs[d];
	double ts = f->o.start_ts + (double)k * f->o.interval, t, h;
	if (k > 0) {
		v->ar_t = v->phi * v->ar_t + v->innov * v->sig_t * sim_rng_normal(&v->sig);
		v->ar_h = v->phi * v->ar_h + v->innov * v->sig_h * sim_rng_normal(&v->sig);
	}
	const sim_event *e = active_event(v, ts); /* a benign change acts from its start */
	physics(f, v, d, ts, &t, &h);
	double mt = sim_rng_normal(&v->sig), mh = sim_rng_normal(&v->sig), mb = sim_rng_normal(&v->sig);
	double tm = t + v->meas_t * mt, hm = h + v->meas_h * mh;
	double b = v->batt0 - v->drain * (ts - v->batt_ts) / SIM_DAY + v->meas_b * mb;

	sim_kind label = e && !sim_kind_benign(e->kind) ? e->kind : SIM_NONE;
	double *x = e && e->feature == 1 ? &hm : &tm;
	switch (label) {
	case SIM_SPIKE:
	case SIM_LEVEL:
		*x += e->mag;
		break;
	case SIM_DRIFT:
		*x += e->mag * (ts - e->start) / (e->end - e->start);
		break;
	case SIM_NOISE:
		tm += e->mag * sim_rng_normal(&v->anom);
		hm += e->aux * sim_rng_normal(&v->anom);
		break;
	case SIM_CORR:
		/* humidity decouples from the air and moves with temperature */
		if (v->corr_ev != v->cur) {
			v->corr_ev = v->cur;
			v->corr_t0 = t;
			v->corr_h0 = h;
		}
		hm = v->corr_h0 + e->aux * (t - v->corr_t0) + v->meas_h * mh;
		break;
	case SIM_DROPOUT:
		return false;
	default:
		break;
	}
	out->device = d;
	out->ts = ts;
	out->label = label;
	out->values[0] = round_to(tm, v->res_t);
	out->values[1] = round_to(clampd(hm, 0.0, 100.0), v->res_h);
	out->values[2] = round_to(clampd(b, 0.0, 100.0), v->res_b);
	if (label == SIM_STUCK) {
		if (v->frozen_ev != v->cur) {
			v->frozen_ev = v->cur;
			memcpy(v->frozen, out->values, sizeof v->frozen);
		}
		memcpy(out->values, v->frozen, sizeof v->frozen);
	}
	return true;
}

sim_device_kind sim_fleet_kind(const sim_fleet *f, int d)
{
	return f->devs[d].kind;
}

int sim_fleet_site(const sim_fleet *f, int d)
{
	return f->devs[d].site;
}

bool sim_fleet_pending(const sim_fleet *f, int d, double ts, sim_anomaly *out)
{
	const fl_dev *v = &f->devs[d];
	for (int i = v->cur; i < v->n_ev; i++) {
		const sim_event *e = &v->ev[i];
		if (ts >= e->end || sim_kind_benign(e->kind))
			continue;
		if (out)
			*out = (sim_anomaly){.device = d, .kind = e->kind, .start = e->start,
					     .end = e->end};
		return true;
	}
	return false;
}

void sim_fleet_destroy(sim_fleet *f)
{
	if (!f)
		return;
	for (int d = 0; f->devs && d < f->o.n_devices; d++)
		free(f->devs[d].ev);
	for (int s = 0; f->sites && s < f->n_sites; s++)
		free(f->sites[s].fronts);
	free(f->devs);
	free(f->sites);
	free(f);
}

/* Kinds in enum order, round robin or drawn per device; outdoor stations
 * fill sites of site_size in device order. */
static void assign_kinds(sim_fleet *f)
{
	const sim_opts *o = &f->o;
	sim_device_kind ks[SIM_DEV__COUNT];
	int nk = 0, outdoor = 0;
	for (int k = SIM_DEV_OFFICE; k < SIM_DEV__COUNT; k++)
		if (o->device_kinds & (1u << k))
			ks[nk++] = (sim_device_kind)k;
	for (int d = 0; d < o->n_devices; d++) {
		fl_dev *v = &f->devs[d];
		int i = d % nk;
		if (o->mix == SIM_MIX_SEED) {
			sim_rng r;
			sim_rng_seed(&r, o->seed, (uint64_t)d, STREAM_FLEET_KIND);
			i = (int)(sim_rng_unit(&r) * nk);
			if (i >= nk)
				i = nk - 1;
		}
		v->kind = ks[i];
		v->site = v->kind == SIM_DEV_OUTDOOR ? outdoor++ / o->site_size : -1;
	}
	f->n_sites = (outdoor + o->site_size - 1) / o->site_size;
}

/* Parameters, a settled start and the schedule of device d. */
static iotad_err dev_init(sim_fleet *f, int d, uint64_t n_steps)
{
	const sim_opts *o = &f->o;
	fl_dev *v = &f->devs[d];
	dev_params(v, o, d);
	sim_rng_seed(&v->sig, o->seed, (uint64_t)d, STREAM_FLEET_SIGNAL);
	sim_rng_seed(&v->anom, o->seed, (uint64_t)d, STREAM_FLEET_ANOMALY);
	v->ar_t = v->sig_t * sim_rng_normal(&v->sig);
	v->ar_h = v->sig_h * sim_rng_normal(&v->sig);
	double sun;
	switch (v->kind) {
	case SIM_DEV_OFFICE: v->temp = office_target(v, o->start_ts); break;
	case SIM_DEV_SERVER: v->temp = v->sp; break;
	case SIM_DEV_COLD:
		v->temp = v->sp + sim_rng_range(&v->sig, -v->band, v->band);
		v->comp_on = sim_rng_unit(&v->sig) < 0.5;
		v->comp_s = v->comp_on;
		v->door_next = o->start_ts + sim_rng_exp(&v->sig, 1.0 / v->door_rate);
		break;
	case SIM_DEV_GREENHOUSE:
		v->temp = greenhouse_target(v, o->seed, d, o->start_ts, &sun);
		break;
	default:
		break;
	}
	const fl_site *s = v->site >= 0 ? &f->sites[v->site] : NULL;
	bool clean = d >= o->n_devices - o->clean_devices;
	return sim_plan_device(o, n_steps, d, v->kind, clean, s ? s->fronts : NULL,
			       s ? s->n_fronts : 0, &v->ev, &v->n_ev);
}

/* The truth: every device's events, and the fronts of an outdoor site on
 * each of its stations. */
static iotad_err fleet_truth(const sim_fleet *f, sim_anomaly **truth, size_t *n_truth)
{
	size_t n = 0;
	for (int d = 0; d < f->o.n_devices; d++) {
		const fl_dev *v = &f->devs[d];
		n += (size_t)v->n_ev + (v->site >= 0 ? (size_t)f->sites[v->site].n_fronts : 0);
	}
	sim_anomaly *t = malloc((n ? n : 1) * sizeof *t);
	if (!t)
		return IOTAD_ERR_NOMEM;
	size_t j = 0;
	for (int d = 0; d < f->o.n_devices; d++) {
		const fl_dev *v = &f->devs[d];
		for (int i = 0; i < v->n_ev; i++)
			t[j++] = (sim_anomaly){d, v->ev[i].kind, v->ev[i].start, v->ev[i].end};
		for (int i = 0; v->site >= 0 && i < f->sites[v->site].n_fronts; i++) {
			const sim_event *e = &f->sites[v->site].fronts[i];
			t[j++] = (sim_anomaly){d, e->kind, e->start, e->end};
		}
	}
	*truth = t;
	*n_truth = j;
	return IOTAD_OK;
}

iotad_err sim_fleet_create(const sim_opts *o, uint64_t n_steps, sim_fleet **out,
			   sim_anomaly **truth, size_t *n_truth)
{
	*out = NULL;
	sim_fleet *f = calloc(1, sizeof *f);
	if (!f)
		return IOTAD_ERR_NOMEM;
	f->o = *o;
	iotad_err err = IOTAD_OK;
	if (!(f->devs = calloc((size_t)o->n_devices, sizeof *f->devs)))
		err = IOTAD_ERR_NOMEM;
	if (!err)
		assign_kinds(f);
	if (!err && !(f->sites = calloc(f->n_sites ? (size_t)f->n_sites : 1, sizeof *f->sites)))
		err = IOTAD_ERR_NOMEM;
	for (int s = 0; !err && s < f->n_sites; s++) {
		site_params(&f->sites[s], o->seed, s);
		err = sim_plan_site(o, n_steps, s, &f->sites[s].fronts, &f->sites[s].n_fronts);
	}
	for (int d = 0; !err && d < o->n_devices; d++)
		err = dev_init(f, d, n_steps);
	if (!err)
		err = fleet_truth(f, truth, n_truth);
	if (err) {
		sim_fleet_destroy(f);
		return err;
	}
	*out = f;
	return IOTAD_OK;
}
