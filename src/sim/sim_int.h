/* sim_int.h - what the classic generator (sim.c) and the fleet mode
 * (sim_fleet.c, sim_plan.c) share: the random streams and the run. Private
 * to these files. */
#ifndef IOTAD_SIM_INT_H
#define IOTAD_SIM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "iotad/sim.h"

#define SIM_DAY 86400.0

/* xoshiro256** seeded through splitmix64, with a cached Box-Muller normal. */
typedef struct sim_rng {
	uint64_t s[4];
	double spare;
	bool has_spare;
} sim_rng;

/* The stream of (seed, device, stream): independent for every triple. */
void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t device, uint64_t stream);
/* Uniform in [0, 1), in [lo, hi), standard normal, exponential of mean. */
double sim_rng_unit(sim_rng *r);
double sim_rng_range(sim_rng *r, double lo, double hi);
double sim_rng_normal(sim_rng *r);
double sim_rng_exp(sim_rng *r, double mean);

/* Streams; the fleet's are apart from the classic ones. */
enum {
	STREAM_PARAMS = 1, STREAM_SIGNAL, STREAM_PLAN, STREAM_ANOMALY,
	STREAM_FLEET_KIND = 16, STREAM_FLEET_PARAMS, STREAM_FLEET_SIGNAL, STREAM_FLEET_PLAN,
	STREAM_FLEET_ANOMALY, STREAM_SITE, STREAM_SITE_PLAN,
};

/* One planned anomaly or benign change of a device (or a site's front). */
typedef struct sim_event {
	sim_kind kind;
	double start, end;      /* the truth's window [start, end), on the grid */
	double change_end;      /* benign: when the change is complete */
	int feature;            /* 0 temperature, 1 humidity */
	double mag;             /* signed size in C or %: spike, level, drift, setpoint,
				 * front; noise: temperature std */
	double aux;             /* noise: humidity std; correlation: % per C; front:
				 * dew point shift; recharge: battery level */
} sim_event;

#define SIM_BENIGN_SETTLE 10800.0 /* a benign window: the change and 3 h after */
#define SIM_EVENT_GAP 3600.0      /* at least this between two events of a device */

/* The fronts of outdoor site `site`: sorted, apart. Owned by the caller. */
iotad_err sim_plan_site(const sim_opts *o, uint64_t n_steps, int site, sim_event **ev, int *n);
/* The events of device d of kind k: sorted, apart, none inside a front of
 * its site (fronts, may be NULL). clean: benign changes only. */
iotad_err sim_plan_device(const sim_opts *o, uint64_t n_steps, int d, sim_device_kind k,
			  bool clean, const sim_event *fronts, int n_fronts, sim_event **ev,
			  int *n);

typedef struct sim_fleet sim_fleet;

/* The fleet mode, owned by a sim: create plans everything (appending the
 * truth to *truth / *n_truth), next fills the sample of device d at grid
 * step k and returns false when the device sends nothing (dropout). */
iotad_err sim_fleet_create(const sim_opts *o, uint64_t n_steps, sim_fleet **out,
			   sim_anomaly **truth, size_t *n_truth);
void sim_fleet_destroy(sim_fleet *f);
bool sim_fleet_next(sim_fleet *f, int d, uint64_t k, sim_sample *out);
sim_device_kind sim_fleet_kind(const sim_fleet *f, int d);
int sim_fleet_site(const sim_fleet *f, int d);
/* The event of device d active or next at time ts, if an anomaly. */
bool sim_fleet_pending(const sim_fleet *f, int d, double ts, sim_anomaly *out);

#endif
