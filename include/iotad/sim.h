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

/* What the truth lists. The first four are the classic mode's anomalies;
 * the fleet mode (sim_opts.fleet) adds level shift, correlation break and
 * dropout, and the benign changes, whose names start with "benign_". */
typedef enum sim_kind {
	SIM_NONE = 0, SIM_SPIKE, SIM_DRIFT, SIM_STUCK, SIM_NOISE,
	SIM_LEVEL, SIM_CORR, SIM_DROPOUT,           /* anomalies, fleet only */
	SIM_SETPOINT, SIM_FRONT, SIM_RECHARGE,      /* benign changes, fleet only */
	SIM__COUNT
} sim_kind;

#define SIM_CLASSIC_KINDS ((1u << SIM_SPIKE) | (1u << SIM_DRIFT) | (1u << SIM_STUCK) | (1u << SIM_NOISE))
#define SIM_FLEET_KINDS (SIM_CLASSIC_KINDS | (1u << SIM_LEVEL) | (1u << SIM_CORR) | (1u << SIM_DROPOUT))
#define SIM_BENIGN_KINDS ((1u << SIM_SETPOINT) | (1u << SIM_FRONT) | (1u << SIM_RECHARGE))

/* Kinds of device of the fleet mode; SIM_DEV_SENSOR is the classic one. */
typedef enum sim_device_kind {
	SIM_DEV_SENSOR = 0, SIM_DEV_OFFICE, SIM_DEV_SERVER, SIM_DEV_COLD, SIM_DEV_OUTDOOR,
	SIM_DEV_GREENHOUSE, SIM_DEV__COUNT
} sim_device_kind;

#define SIM_ALL_DEVICE_KINDS (((1u << SIM_DEV__COUNT) - 1) & ~1u)

/* How the fleet mode gives devices their kind. */
typedef enum sim_mix { SIM_MIX_ROUND_ROBIN = 0, SIM_MIX_SEED } sim_mix;

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
	/* The fleet mode (see sim_fleet.c for its signal model); off by default,
	 * and nothing below changes the classic mode. Finite runs only. */
	bool fleet;
	uint32_t device_kinds;  /* mask of 1u << sim_device_kind (all five) */
	sim_mix mix;            /* round robin in device_kinds order, or drawn */
	int site_size;          /* outdoor stations per site, 1..1000 (5) */
	uint32_t benign;        /* mask of the benign kinds to plan (all three) */
	double benign_every;    /* mean seconds between benign changes (86400) */
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

/* Classic defaults (fleet off, its fields at the fleet's defaults). */
void sim_opts_default(sim_opts *o);
/* Plan the whole run (anomaly schedule) up front; deterministic in seed. */
iotad_err sim_create(const sim_opts *o, sim **out);
void sim_destroy(sim *s);
/* Next sample in time order (all devices at t, then t + interval). false when
 * done. A device in a dropout (fleet) yields no sample. */
bool sim_next(sim *s, sim_sample *out);
/* The planned anomalies (ground truth), sorted by start then device, with
 * the benign changes in the fleet mode (their window is the change and 3 h
 * after it). Owned by s. Empty for an endless run: use sim_pending_anomaly. */
const sim_anomaly *sim_truth(const sim *s, size_t *count);
/* The anomaly of a device that is active or planned next at the current
 * position of the stream; false if none (clean device, or finished). */
bool sim_pending_anomaly(const sim *s, int device, sim_anomaly *out);
/* Parameters of one device of the classic mode; IOTAD_ERR_RANGE for a bad
 * index, IOTAD_ERR_STATE in the fleet mode. */
iotad_err sim_device_info(const sim *s, int device, sim_device_params *out);
/* Device name "sensor-%03d" (the classic mode's). */
void sim_device_name(int device, char *out, size_t len);
/* The name of a device in s: sim_device_name in the classic mode, its kind
 * and index in the fleet mode ("cold-007"). */
void sim_device_label(const sim *s, int device, char *out, size_t len);
/* Kind of a device: SIM_DEV_SENSOR in the classic mode; for a bad index too. */
sim_device_kind sim_device_kind_of(const sim *s, int device);
/* Site of an outdoor station (stations of one site share its weather); -1
 * for any other device. */
int sim_device_site(const sim *s, int device);
/* Name of a device kind ("office", "server", "cold", "outdoor",
 * "greenhouse"; "sensor"); parse: 0, or -1 if unknown. */
const char *sim_device_kind_name(sim_device_kind k);
int sim_device_kind_parse(const char *name, sim_device_kind *out);
/* True for the benign changes (setpoint, front, recharge). */
bool sim_kind_benign(sim_kind k);
const char *sim_kind_name(sim_kind k);
/* Kind from its name (as sim_kind_name: "level_shift", "correlation_break",
 * "dropout", "benign_setpoint", ...); 0 on success, -1 if unknown. */
int sim_kind_parse(const char *name, sim_kind *out);
/* Feature names in value order. */
extern const char *const sim_feature_names[SIM_FEATURES];

#endif
