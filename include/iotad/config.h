/* config.h - the service configuration (YAML). Every key is type- and
 * range-checked; unknown keys are errors reported as file:line:col. */
#ifndef IOTAD_CONFIG_H
#define IOTAD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/detector.h"
#include "iotad/error.h"
#include "iotad/model.h"
#include "iotad/threshold.h"

/* Most scorer threads (service.scorer_threads). */
#define CFG_MAX_SCORERS 64
#define CFG_STR 256
#define CFG_PATH 1024
#define CFG_MAX_URIS 8 /* broker nodes of mqtt.uri given as a list */

#define CFG_MODELS_MAX 16      /* entries of the models: list */
#define CFG_MODEL_SETS_MAX 12  /* detector keys one entry may set */
#define CFG_MODEL_NAME 48
#define CFG_MODEL_VALUE 96

/* Where a key was written: 1-based line and column (0: not written). */
typedef struct cfg_mark {
	uint32_t line, col;
} cfg_mark;

/* One detector key an entry of models: sets over the top-level detector: */
#define CFG_MODEL_FEATURES 0xffff /* cfg_model_set.key of detector.features */
typedef struct cfg_model_set {
	uint16_t key;                 /* index in param_detector()'s table, or CFG_MODEL_FEATURES
				       * (they must be the model file's) */
	cfg_mark at;
	char value[CFG_MODEL_VALUE];  /* as written (a list joined with commas) */
} cfg_model_set;

/* One entry of models: (models.h derives its full configuration). */
typedef struct cfg_model {
	char name[CFG_MODEL_NAME];    /* [A-Za-z0-9_-], unique */
	char topic[CFG_STR];          /* MQTT filter the telemetry topic must match; "": any */
	char device[128];             /* glob ('*', '?') the device id must match; "": any */
	char path[CFG_PATH];          /* its model file */
	int window;                   /* 0: from the model; otherwise must match it */
	uint32_t n_sets;
	cfg_model_set sets[CFG_MODEL_SETS_MAX];
	cfg_mark at, at_topic, at_device, at_path; /* the entry and its keys */
} cfg_model;

typedef struct iotad_config {
	/* mqtt: */
	char broker_uri[CFG_STR];     /* tcp://127.0.0.1:1883; of a list, the first */
	/* mqtt.uri as a YAML list: the nodes of a broker cluster, tried in
	 * order at every (re)connect (docs/scale-out.md); 0: one uri */
	char broker_uris[CFG_MAX_URIS][CFG_STR];
	int n_broker_uris;
	char client_id[CFG_STR];      /* iotad */
	char instance[CFG_STR];       /* this instance's name, [A-Za-z0-9_-]; unset: the client
				       * id's (other bytes as '_'). {instance} in topics is replaced
				       * by it (iotad) */
	char username[CFG_STR];       /* empty: none */
	char password[CFG_STR];       /* resolved from password_env at load */
	char password_env[CFG_STR];   /* name of the environment variable */
	char password_file[CFG_PATH]; /* file whose first line is the password; wins over password_env */
	char tls_ca_file[CFG_PATH];   /* PEM CA bundle the broker's certificate must chain to */
	char tls_cert_file[CFG_PATH]; /* PEM client certificate (optional) */
	char tls_key_file[CFG_PATH];  /* PEM private key of the client certificate (optional) */
	bool tls_verify_hostname;     /* the certificate must name the host of the uri (true) */
	int keepalive;                /* seconds, 1..3600 (30) */
	bool clean_session;           /* false: persistent session */
	int max_inflight;             /* outgoing QoS>0 publishes in flight, 1..65535 (1024) */
	/* topics: */
	char telemetry_filter[CFG_STR]; /* telemetry/+ */
	int device_level;             /* topic level holding the device id (1) */
	char alert_prefix[CFG_STR];   /* alerts -> alerts/{device} */
	char state_prefix[CFG_STR];   /* state -> state/{device}, retained */
	char status_topic[CFG_STR];   /* iotad/status/{instance}, retained online/offline, last will
				       * (iotad/status/iotad) */
	char control_topic[CFG_STR];  /* iotad/control: payload "reload" reloads model.path, a JSON
				       * command acts on a device (README); empty: off */
	int qos_in, qos_out;          /* 0..1 (1, 1) */
	/* model / detector (the detector keys: params.c's table): */
	char model_path[CFG_PATH];    /* empty: zero-config, the profile channels alone ("") */
	bool model_fallback;          /* with models: a device no entry routes is judged zero-config
				       * (false: counted as no_model and dropped) */
	uint32_t n_models;            /* entries of models: (0: one model or zero-config) */
	cfg_model models[CFG_MODELS_MAX];
	int window;                   /* 0: from model; otherwise must match it */
	int stride;                   /* 0: from model */
	/* detector.features (zero-config): a YAML list or comma-separated names;
	 * empty: learned from the first message (pipeline.h) */
	char features_list[CFG_STR];
	uint32_t n_features;          /* names parsed from features_list (0: none given) */
	char features[MODEL_MAX_FEATURES][MODEL_NAME_MAX];
	int alert_k, alert_n, alert_m;/* 3, 3, 5 */
	thr_kind threshold;           /* adaptive */
	float threshold_alpha;        /* 0.01 */
	float threshold_k;            /* ewma: mean + k sd, (0, 100] (4) */
	float threshold_q;            /* spot, dspot: risk, (0, 0.1] (1e-3) */
	float threshold_init_quantile;/* spot, dspot: calibration quantile of t (0.98) */
	int threshold_peaks;          /* spot, dspot: recent peaks per device (64) */
	int threshold_depth;          /* dspot: normal scores in the drift mean (20) */
	double score_alpha;           /* EWMA weight of a new window score, [0, 1], 0 = off (0) */
	double stale_after;           /* seconds, 0 = off (0); on the wall clock and the device's time */
	double alert_hold;            /* seconds of device time a raise lasts at least (0) */
	double alert_quiet;           /* seconds of normal windows in a row before a clear (-1: auto) */
	double adapt_after;           /* seconds raised before a lasting change is adopted; 0 = never (0) */
	uint32_t learn_samples;       /* a new device is learning for this many samples; 0 = off (0) */
	bool learn_alarms;            /* a learning device may raise (false) */
	double reorder_window;        /* seconds a late sample may join its window, 0 = off (30) */
	double max_clock_skew;        /* seconds a ts may be ahead of arrival, 0 = off (86400) */
	bool stuck_check;             /* flag features held still (the model's stuck_after) (true) */
	uint32_t profile_channels;    /* bit c: profile channel c judges samples (all) */
	uint32_t profile_learn;       /* samples a device learns its own normal (8640) */
	bool profile_learn_quiet;     /* no alarm while a device learns (true) */
	double profile_margin;        /* channel threshold = margin x normal maximum (1.75) */
	bool ae_device_norm;          /* the model sees samples shifted by the device's level (false) */
	bool season;                  /* the seasonal channel (false) */
	double season_margin;         /* its threshold = margin x learning maximum (2) */
	uint32_t max_devices;         /* 10000 (at most 10,000,000) */
	bool evict_lru;               /* evict: lru (true) | reject, for a new device when full */
	double idle_evict_after;      /* seconds of silence before a device is forgotten, 0 = off (0) */
	/* service: */
	size_t max_payload;           /* bytes (4096) */
	uint32_t queue_size;          /* messages buffered between MQTT and scorer (8192) */
	uint32_t scorer_threads;      /* scorer threads, each owning a shard of the devices;
				       * 0: one per CPU (1) */
	char state_file[CFG_PATH];    /* detector state kept across restarts; empty: off ("") */
	char shard[32];               /* "k/N": score only devices whose id hashes to k mod N
				       * (topic_shard), count the others; empty: all ("") */
	uint32_t shard_index, shard_count; /* k and N parsed from shard; N 0: off */
	double state_interval;        /* seconds between periodic state saves, 1..86400 (60) */
	char journal_file[CFG_PATH];  /* accepted telemetry kept until a state save; empty: off ("") */
	bool journal_fsync;           /* fdatasync each journal record (false: a process crash only) */
	int log_level;                /* LOG_INFO */
	/* http: */
	char http_listen[CFG_STR];    /* IP:PORT or [IPv6]:PORT; empty: no HTTP server ("") */
	size_t http_max_body;         /* largest POST body, bytes (65536) */
	bool http_page;               /* serve the live page at / (true) */
	/* homeassistant: */
	bool hass_enabled;            /* publish MQTT discovery for each new device (false) */
	char hass_prefix[CFG_STR];    /* discovery prefix (homeassistant) */
	/* federated: (docs/federated.md) */
	char fed_prefix[CFG_STR];     /* topics {prefix}/{model}/global, .../update/{gateway} (iotad/fl) */
	int fed_clients;              /* N: gateways that take part, 1..1024 (3) */
	int fed_min_updates;          /* K: a round closes with K updates, 1..clients (2) */
	double fed_round_timeout;     /* seconds; then a round closes with what it has, if any (300) */
	char fed_rule[16];            /* mean | median | trimmed (mean) */
	char fed_update_encoding[16]; /* run: float32 | int8, how updates travel (float32) */
	double fed_trim;              /* trimmed: share cut at each end, [0, 0.49] (0.2) */
	double fed_clip;              /* L2 bound of an update (client - global), 0 = off (0) */
	double fed_noise;             /* aggregator: DP-FedAvg noise multiplier z (needs mean, clip), 0 = off */
	double fed_dp_delta;          /* aggregator: delta at which epsilon is reported (1e-5) */
	char fed_state_file[CFG_PATH];/* aggregator: the global model kept to resume; empty: off ("") */
	char fed_model_out[CFG_PATH]; /* aggregator: each global model also as a model file; empty: off */
	int fed_rounds;               /* aggregator: stop after this many rounds, 0 = never (0) */
	bool fed_enabled;             /* run: take part as a gateway (false) */
	char fed_gateway[CFG_STR];    /* run: this gateway's id in update topics; empty: mqtt.client_id */
	int fed_local_epochs;         /* run: epochs over the sampled windows a round, 1..100 (5) */
	int fed_batch;                /* run: mini-batch size, 1..4096 (32) */
	double fed_lr;                /* run: Adam's learning rate, (0, 1] (0.0001) */
	int fed_max_devices;          /* run: devices sampled, 1..100000 (64) */
	int fed_windows_per_device;   /* run: latest normal windows kept per device, 1..10000 (32) */
	int fed_min_windows;          /* run: fewer sampled windows: no update yet, 1..1000000 (16) */
	double fed_max_score_ratio;   /* run: refuse a global model scoring the sample worse, >= 1 (1.5) */
	double fed_local_interval;    /* run: seconds between local retrainings without a global model, 0 = off */
	double fed_dp_sgd_clip;       /* run: DP-SGD per-window gradient clip, 0 = off */
	double fed_dp_sgd_noise;      /* run: DP-SGD noise multiplier (needs dp_sgd_clip) */
	char fed_threshold[16];       /* run: after a round, model | gateway | global (gateway) */
	double fed_holdout;           /* run: share of normal windows held out, never trained on (0.2) */
	char fed_personalize[16];     /* run: off | select | finetune (off) */
} iotad_config;

/* Defaults as commented above (the detector's from params.c's table). */
void config_defaults(iotad_config *c);
/* The detector configuration of c (params.c): the one place the service, its reload,
 * the HTTP scorer and eval build it. Any thread. */
void config_det(const iotad_config *c, det_config *out);
/* Load a YAML file over the defaults. On error err holds "file:line:col: message"
 * and c is untouched. password is read from the variable named by password_env
 * (missing is an error only when username is set). Returns IOTAD_OK,
 * IOTAD_ERR_NOTFOUND/IO (file), IOTAD_ERR_PARSE (YAML syntax) or IOTAD_ERR_CONFIG. */
iotad_err config_load(const char *path, iotad_config *c, char *err, size_t errlen);
/* Same from a string; name is used in messages in place of the file. */
iotad_err config_load_string(const char *name, const char *yaml, size_t len, iotad_config *c,
			     char *err, size_t errlen);

#endif
