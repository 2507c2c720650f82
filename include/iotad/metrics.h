/* metrics.h - what the service measures about itself, and its Prometheus
 * text exposition (format 0.0.4). The histogram is lock-free so the scorer
 * can observe every window without locking or allocating. */
#ifndef IOTAD_METRICS_H
#define IOTAD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "iotad/codec.h"
#include "iotad/model.h"

/* Upper bounds (inclusive, nanoseconds) of the scoring latency buckets;
 * +Inf is implicit. Printed in seconds. */
#define MET_BUCKETS 14
extern const uint64_t met_bucket_ns[MET_BUCKETS];

typedef struct met_hist {
	_Atomic uint64_t bucket[MET_BUCKETS + 1]; /* not cumulative; last is +Inf */
	_Atomic uint64_t sum_ns;
} met_hist;

/* A consistent-enough copy of a histogram (counts are read one by one). */
typedef struct met_hist_snap {
	uint64_t bucket[MET_BUCKETS + 1];
	uint64_t count;
	double sum;                 /* seconds */
} met_hist_snap;

/* A federated gateway's figures (iotad run with federated.enabled). */
typedef struct met_fed {
	bool enabled;
	uint64_t rounds_joined;         /* global models of the aggregator trained from */
	uint64_t updates_sent, updates_failed;  /* published / not (encode or publish error) */
	uint64_t globals_accepted, globals_refused, globals_invalid;
	uint64_t local_retrains;
	uint64_t devices_unsampled;
	uint32_t round;                 /* round of the global model accepted last */
	double epsilon, delta;          /* its privacy claim; delta 0: none */
	bool dp_sgd;                    /* DP-SGD on: */
	double window_epsilon;          /* its window-level epsilon at federated.dp_delta */
	double threshold;               /* the model file's threshold in use (0: not yet set) */
	double threshold_gateway;       /* calibrated on its held-out windows last (0: none) */
	double threshold_global;        /* the aggregator's for its round, last (0: none) */
	const char *threshold_mode;     /* federated.threshold */
	uint64_t serving[3];            /* rounds served: global model, fine-tuned, its own */
} met_fed;

/* One model of a mixed fleet (labelled by its name in models:). */
#define MET_MODELS_MAX 24
typedef struct met_model {
	char name[48];                  /* the entry's name, or zero-config */
	char id[MODEL_NAME_MAX];        /* the model's id */
	int version;
	uint64_t received, scored, rejected, devices, raised, raises;
	uint64_t reloads, reload_failures;
} met_model;

/* Everything /metrics and /readyz report, filled by the service. */
typedef struct met_snapshot {
	uint64_t received, scored, refused_full;
	uint64_t rejected[REJ__COUNT];  /* by reject_reason */
	uint64_t events[ALERT_EV__COUNT]; /* by alert_event (index 0 unused) */
	uint64_t commands[DET_CMD__COUNT];  /* operator commands applied, by kind */
	uint64_t commands_rejected[CMD__COUNT]; /* refused, by cmd_reject (index 0 unused) */
	uint64_t published, publish_failed, reconnects;
	uint64_t evictions_lru, evictions_idle;  /* devices replaced when full / forgotten when idle */
	uint64_t devices, max_devices;
	uint64_t raised;                /* devices whose alert is raised now (the detector's table) */
	uint64_t reconciled;            /* retained raised states of unknown devices cleared */
	uint64_t late, rewound;         /* pipeline_counters' late and rewound */
	uint64_t not_my_shard;          /* pipeline_counters' not_my_shard */
	uint64_t model_reloads, model_reload_failures;  /* models swapped in / refused */
	uint64_t state_rejected;        /* state files ignored or refused at start */
	uint64_t state_save_failed;     /* state file saves that failed */
	uint32_t queue_depth, queue_capacity, inflight;
	bool connected, model_loaded;
	char model_id[MODEL_NAME_MAX];
	int model_version;
	double start_time;              /* epoch seconds the process started serving */
	met_hist_snap score;
	met_fed fed;
	uint32_t n_models;              /* mixed fleet: its models (0: one model) */
	met_model models[MET_MODELS_MAX];
	uint64_t fields_changed;        /* zero-config devices whose fields changed */
} met_snapshot;

/* Zero a histogram. */
void met_hist_init(met_hist *h);
/* Count one observation of ns nanoseconds. Any thread, lock-free. */
void met_hist_observe(met_hist *h, uint64_t ns);
void met_hist_read(met_hist *h, met_hist_snap *out);
/* The standard process_* metrics of the calling process from /proc/self
 * (Linux): CPU, memory, open and maximum fds, start time. Written as far
 * as /proc is readable. Returns 0, or -1 if the stream failed. Any thread. */
int met_write_process(FILE *f);
/* Write s as Prometheus text format 0.0.4 (HELP, TYPE, samples), iotad_build_info and
 * met_write_process's metrics. Returns 0,
 * or -1 if the stream failed. */
int met_write_prometheus(FILE *f, const met_snapshot *s);

#endif
