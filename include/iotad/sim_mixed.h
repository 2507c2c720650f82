/* sim_mixed.h - a seeded mixed fleet: room sensors (temperature, humidity,
 * battery), power meters (voltage, current, power) and vibration sensors
 * (rms, peak, temperature), each kind with its own fields, with labelled
 * anomalies. Pure: no I/O; the CLI writes or publishes what it yields. */
#ifndef IOTAD_SIM_MIXED_H
#define IOTAD_SIM_MIXED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

#define SIM_MIXED_FIELDS 3

typedef enum sim_mixed_kind {
	SIM_MIXED_ROOM = 0, SIM_MIXED_METER, SIM_MIXED_VIBRATION, SIM_MIXED__COUNT
} sim_mixed_kind;

typedef struct sim_mixed_opts {
	int n_devices;          /* 3..100000, the kinds in turn (device i: kind i % 3) */
	double interval;        /* seconds of device time between samples (10) */
	double duration;        /* seconds of device time (86400) */
	double start_ts;        /* epoch seconds of the first sample */
	double warmup;          /* seconds without anomalies at the start (21600) */
	double anomaly_len;     /* seconds an anomaly lasts (600) */
	double anomalous_share; /* share of devices given one anomaly, [0, 1] (0.3) */
	bool normal_only;       /* no anomaly at all (training data) */
	uint64_t seed;
} sim_mixed_opts;

typedef struct sim_mixed_sample {
	int device;
	sim_mixed_kind kind;
	double ts;
	float values[SIM_MIXED_FIELDS]; /* the kind's fields, in sim_mixed_fields order */
	bool anomalous;         /* inside its device's anomaly */
} sim_mixed_sample;

typedef struct sim_mixed sim_mixed;

/* Defaults as commented above; start_ts 1.7e9, seed 1. */
void sim_mixed_opts_default(sim_mixed_opts *o);
/* Plan the run (each anomalous device's one anomaly, after warmup).
 * IOTAD_ERR_INVAL on bad options. */
iotad_err sim_mixed_create(const sim_mixed_opts *o, sim_mixed **out);
void sim_mixed_destroy(sim_mixed *s);
/* Next sample in time order (every device at t, then t + interval). */
bool sim_mixed_next(sim_mixed *s, sim_mixed_sample *out);
/* Kind of device i, its name ("room-007"), its anomaly window (false: none). */
sim_mixed_kind sim_mixed_kind_of(int device);
void sim_mixed_device_name(int device, char *out, size_t len);
bool sim_mixed_anomaly(const sim_mixed *s, int device, double *start, double *end);
/* "room", "meter", "vibration"; its three field names. */
const char *sim_mixed_kind_name(sim_mixed_kind k);
const char *const *sim_mixed_fields(sim_mixed_kind k);

#endif
