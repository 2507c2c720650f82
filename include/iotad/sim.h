/* sim.h - seeded telemetry generator: temperature, humidity and battery of
 * N devices with daily cycles, noise, and injected labelled anomalies.
 * Pure: no I/O; cmd_sim publishes or writes what it yields. */
#ifndef IOTAD_SIM_H
#define IOTAD_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

#define SIM_FEATURES 3 /* temperature, humidity, battery */

typedef enum sim_kind { SIM_NONE = 0, SIM_SPIKE, SIM_DRIFT, SIM_STUCK, SIM_NOISE, SIM__COUNT } sim_kind;

typedef struct sim_opts {
	int n_devices;          /* >= 1 */
	int clean_devices;      /* the last clean_devices devices get no anomaly */
	double interval;        /* seconds of device time between samples (1.0) */
	double duration;        /* seconds of device time to generate */
	double start_ts;        /* epoch seconds of the first sample */
	double warmup;          /* seconds at the start without anomalies (300) */
	double anomaly_every;   /* mean seconds between anomaly starts per device (900) */
	double anomaly_len;     /* seconds an anomaly lasts (60) */
	uint32_t kinds;         /* bit mask of 1u << sim_kind to inject (all) */
	uint64_t seed;
} sim_opts;

typedef struct sim_anomaly {
	int device;
	sim_kind kind;
	double start, end;      /* device time, [start, end) */
} sim_anomaly;

typedef struct sim_sample {
	int device;
	double ts;
	float values[SIM_FEATURES];
	sim_kind label;         /* SIM_NONE when normal */
} sim_sample;

typedef struct sim sim;

void sim_opts_default(sim_opts *o);
/* Plan the whole run (anomaly schedule) up front; deterministic in seed. */
iotad_err sim_create(const sim_opts *o, sim **out);
void sim_destroy(sim *s);
/* Next sample in time order (all devices at t, then t + interval). false when done. */
bool sim_next(sim *s, sim_sample *out);
/* The planned anomalies (ground truth), sorted by start then device. */
const sim_anomaly *sim_truth(const sim *s, size_t *count);
/* Device name "sensor-%03d". */
void sim_device_name(int device, char *out, size_t len);
const char *sim_kind_name(sim_kind k);
int sim_kind_parse(const char *name, sim_kind *out);
/* Feature names in value order. */
extern const char *const sim_feature_names[SIM_FEATURES];

#endif
