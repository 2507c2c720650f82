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

/* Signal model (per device, drawn from the seed): temperature = base
 * (18..26 C) + amplitude (2..5 C) * sin(2 pi t / 86400 + phase) + AR(1)
 * noise (tau 120 s) + measurement noise, rounded to 0.01 C; humidity =
 * 45..55 % minus 1..2 %/C times the temperature excess, plus noise, rounded
 * to 0.1 %; battery starts at 95..100 % and drains 0.5..2 %/day, rounded to
 * 0.1 %. Anomalies: spike (+8..15 C, half of them also drop humidity),
 * drift (linear ramp up to +6..10 C at the end), stuck (all values frozen
 * at the anomaly's first sample), noise (extra white noise 10..20 x the
 * device's noise std on temperature and humidity). Anomalies start on the
 * sample grid after warmup; a device's starts are at least 4 x anomaly_len
 * apart, otherwise exponential with mean anomaly_every. */
#define SIM_MAX_DEVICES 100000

typedef struct sim_opts {
	int n_devices;          /* 1..SIM_MAX_DEVICES */
	int clean_devices;      /* the last clean_devices devices get no anomaly */
	double interval;        /* seconds of device time between samples (1.0) */
	double duration;        /* seconds of device time to generate; INFINITY: endless */
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

/* The drawn parameters of one device (see the signal model above). */
typedef struct sim_device_params {
	double base_temp, amplitude, phase;     /* C, C, radians */
	double hum_base, hum_slope;             /* %, % per C above base */
	double battery0, drain_per_day;         /* %, % per day */
	double sigma_temp, sigma_hum;           /* std of the AR(1) noise */
	double meas_temp, meas_hum, meas_batt;  /* std of the white measurement noise */
} sim_device_params;

void sim_opts_default(sim_opts *o);
/* Plan the whole run (anomaly schedule) up front; deterministic in seed. */
iotad_err sim_create(const sim_opts *o, sim **out);
void sim_destroy(sim *s);
/* Next sample in time order (all devices at t, then t + interval). false when done. */
bool sim_next(sim *s, sim_sample *out);
/* The planned anomalies (ground truth), sorted by start then device.
 * Owned by s. Empty for an endless run: use sim_pending_anomaly there. */
const sim_anomaly *sim_truth(const sim *s, size_t *count);
/* The anomaly of a device that is active or planned next at the current
 * position of the stream; false if none (clean device, or finished). */
bool sim_pending_anomaly(const sim *s, int device, sim_anomaly *out);
/* Parameters of one device; IOTAD_ERR_RANGE for a bad index. */
iotad_err sim_device_info(const sim *s, int device, sim_device_params *out);
/* Device name "sensor-%03d". */
void sim_device_name(int device, char *out, size_t len);
const char *sim_kind_name(sim_kind k);
/* Kind from its name (as sim_kind_name); 0 on success, -1 if unknown. */
int sim_kind_parse(const char *name, sim_kind *out);
/* Feature names in value order. */
extern const char *const sim_feature_names[SIM_FEATURES];

#endif
