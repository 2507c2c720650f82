/* sim_mixed.c - a mixed fleet of three kinds of device with their own
 * fields. Signal models (per device, drawn from the seed):
 * room: temperature = base (19..24 C) + 2 C daily cycle + AR noise;
 *   humidity = 45..55 % minus 1.5 %/C of the excess; battery drains.
 * meter: voltage = 230 V + noise; current = load (2..10 A) with an hourly
 *   cycle; power = voltage * current * power factor (0.9..0.98).
 * vibration: rms = 0.5..2 mm/s with slow wander; peak = rms * crest
 *   (2.5..3.5); temperature = 35..45 C with a daily cycle.
 * Anomalies (one per anomalous device, anomaly_len long, after warmup):
 * room a temperature step of +4..7 C; meter power off voltage*current
 * (a -25..-40 % step); vibration a bearing fault (rms x 2..3, peak x 3..4). */
#include "iotad/sim_mixed.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "iotad/rng.h"

#define SIM_MIXED_MAX 100000

typedef struct sm_dev {
	double p[6];            /* the kind's drawn parameters */
	double ar;              /* AR(1) state */
	double a_start, a_end;  /* anomaly window, a_end 0: none */
	double a_size;
} sm_dev;

struct sim_mixed {
	sim_mixed_opts o;
	sm_dev *dev;
	rng r;
	int next_device;
	long step, steps;
};

static const char *const kind_names[SIM_MIXED__COUNT] = {"room", "meter", "vibration"};
static const char *const fields[SIM_MIXED__COUNT][SIM_MIXED_FIELDS] = {
	{"temperature", "humidity", "battery"},
	{"voltage", "current", "power"},
	{"rms", "peak", "temperature"},
};

void sim_mixed_opts_default(sim_mixed_opts *o)
{
	o->n_devices = 300;
	o->interval = 10;
	o->duration = 86400;
	o->start_ts = 1.7e9;
	o->warmup = 21600;
	o->anomaly_len = 600;
	o->anomalous_share = 0.3;
	o->normal_only = false;
	o->seed = 1;
}

sim_mixed_kind sim_mixed_kind_of(int device)
{
	return (sim_mixed_kind)(device % SIM_MIXED__COUNT);
}

void sim_mixed_device_name(int device, char *out, size_t len)
{
	snprintf(out, len, "%s-%03d", kind_names[sim_mixed_kind_of(device)],
		 device / SIM_MIXED__COUNT);
}

const char *sim_mixed_kind_name(sim_mixed_kind k)
{
	return (unsigned)k < SIM_MIXED__COUNT ? kind_names[k] : "unknown";
}

const char *const *sim_mixed_fields(sim_mixed_kind k)
{
	return (unsigned)k < SIM_MIXED__COUNT ? fields[k] : NULL;
}

bool sim_mixed_anomaly(const sim_mixed *s, int device, double *start, double *end)
{
	if (device < 0 || device >= s->o.n_devices || s->dev[device].a_end == 0)
		return false;
	*start = s->dev[device].a_start;
	*end = s->dev[device].a_end;
	return true;
}

iotad_err sim_mixed_create(const sim_mixed_opts *o, sim_mixed **out)
{
	*out = NULL;
	if (o->n_devices < SIM_MIXED__COUNT || o->n_devices > SIM_MIXED_MAX ||
	    !(o->interval > 0) || !(o->duration > 0) || !isfinite(o->duration) ||
	    !(o->anomaly_len > 0) || !(o->warmup >= 0) || !(o->anomalous_share >= 0) ||
	    o->anomalous_share > 1)
		return IOTAD_ERR_INVAL;
	sim_mixed *s = calloc(1, sizeof *s);
	if (!s || !(s->dev = calloc((size_t)o->n_devices, sizeof *s->dev))) {
		free(s);
		return IOTAD_ERR_NOMEM;
	}
	s->o = *o;
	s->steps = (long)floor(o->duration / o->interval);
	rng_seed(&s->r, o->seed);
	for (int i = 0; i < o->n_devices; i++) {
		sm_dev *d = &s->dev[i];
		for (int k = 0; k < 6; k++)
			d->p[k] = rng_unit(&s->r);
		double span = o->duration - o->warmup - o->anomaly_len;
		if (!o->normal_only && span > 0 && rng_unit(&s->r) < o->anomalous_share) {
			d->a_start = o->start_ts + o->warmup + floor(rng_range(&s->r, 0, span) /
								     o->interval) * o->interval;
			d->a_end = d->a_start + o->anomaly_len;
			d->a_size = rng_unit(&s->r);
		}
	}
	*out = s;
	return IOTAD_OK;
}

void sim_mixed_destroy(sim_mixed *s)
{
	if (!s)
		return;
	free(s->dev);
	free(s);
}

static void room(sm_dev *d, double t, bool a, rng *r, float *v)
{
	double base = 19 + 5 * d->p[0], day = 2 * sin(2 * M_PI * t / 86400 + 6.3 * d->p[1]);
	double temp = base + day + d->ar + 0.05 * rng_normal(r);
	if (a)
		temp += 4 + 3 * d->a_size;
	v[0] = (float)(round(temp * 100) / 100);
	v[1] = (float)(round((45 + 10 * d->p[2] - 1.5 * (temp - base) + 0.3 * rng_normal(r)) * 10) /
		       10);
	v[2] = (float)(round((99 - (0.5 + 1.5 * d->p[3]) * t / 86400 + 0.02 * rng_normal(r)) * 10) /
		       10);
}

static void meter(sm_dev *d, double t, bool a, rng *r, float *v)
{
	double volt = 230 + 1.0 * rng_normal(r);
	double load = (2 + 8 * d->p[0]) * (1 + 0.3 * sin(2 * M_PI * t / 3600 + 6.3 * d->p[1]));
	double cur = load * (1 + 0.5 * d->ar) + 0.02 * load * rng_normal(r);
	double pw = volt * cur * (0.9 + 0.08 * d->p[2]) + 3 * rng_normal(r);
	if (a)
		pw *= 1 - (0.25 + 0.15 * d->a_size);
	v[0] = (float)volt;
	v[1] = (float)cur;
	v[2] = (float)pw;
}

static void vibration(sm_dev *d, double t, bool a, rng *r, float *v)
{
	double rms = (0.5 + 1.5 * d->p[0]) * (1 + 0.1 * d->ar) * (1 + 0.03 * rng_normal(r));
	double peak = rms * (2.5 + d->p[1]) * (1 + 0.03 * rng_normal(r));
	if (a) {
		rms *= 2 + d->a_size;
		peak *= 3 + d->a_size;
	}
	v[0] = (float)rms;
	v[1] = (float)peak;
	v[2] = (float)(35 + 10 * d->p[2] + 3 * sin(2 * M_PI * t / 86400 + 6.3 * d->p[3]) +
		       0.1 * rng_normal(r));
}

bool sim_mixed_next(sim_mixed *s, sim_mixed_sample *out)
{
	if (s->step >= s->steps)
		return false;
	int i = s->next_device;
	sm_dev *d = &s->dev[i];
	double ts = s->o.start_ts + (double)s->step * s->o.interval, t = ts - s->o.start_ts;
	bool a = d->a_end > 0 && ts >= d->a_start && ts < d->a_end;
	/* slow noise shared by the fields of one device: tau 10 samples */
	d->ar = 0.9 * d->ar + 0.1 * 0.4 * rng_normal(&s->r);
	out->device = i;
	out->kind = sim_mixed_kind_of(i);
	out->ts = ts;
	out->anomalous = a;
	switch (out->kind) {
	case SIM_MIXED_ROOM:
		room(d, t, a, &s->r, out->values);
		break;
	case SIM_MIXED_METER:
		meter(d, t, a, &s->r, out->values);
		break;
	default:
		vibration(d, t, a, &s->r, out->values);
		break;
	}
	if (++s->next_device == s->o.n_devices) {
		s->next_device = 0;
		s->step++;
	}
	return true;
}
