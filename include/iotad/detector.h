/* detector.h - the detector core: device table, windows, scoring,
 * thresholds and alerts. Pure C: no I/O, no globals, no threads, no
 * allocation per sample (only when a device is first seen). One thread
 * owns a detector. The service, eval, HTTP scoring and tests all use it. */
#ifndef IOTAD_DETECTOR_H
#define IOTAD_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/alert.h"
#include "iotad/error.h"
#include "iotad/model.h"
#include "iotad/profile.h"
#include "iotad/season.h"
#include "iotad/scorer.h"
#include "iotad/threshold.h"

#define DET_DEVICE_ID_MAX 128   /* bytes including NUL */

/* det_config.alert.quiet chosen by the detector: DET_ZC_QUIET seconds
 * without a model (a clear and a raise within them are one episode), none
 * with one. */
#define DET_QUIET_AUTO (-1.0)
#define DET_ZC_QUIET 600.0

/* What a new device does when the table is full. */
typedef enum det_evict_policy {
	DET_EVICT_LRU = 0,      /* it replaces the least recently seen device */
	DET_EVICT_REJECT,       /* it is refused (IOTAD_ERR_FULL) */
} det_evict_policy;

typedef struct det_config {
	uint32_t max_devices;   /* table bound (1..10,000,000) */
	det_evict_policy evict; /* when full (LRU) */
	int stride;             /* 0: the model's stride */
	alert_params alert;     /* quiet DET_QUIET_AUTO (default): DET_ZC_QUIET seconds
				 * without a model, 0 with one; 0: off */
	thr_params thr;         /* base 0: model threshold; base_level 0: mean of the model's
				 * calibration scores (threshold/2 without); alpha,
				 * min_ratio, max_ratio 0: thr_params_default's */
	double stale_after;     /* seconds of silence before stale; 0 disables */
	float score_alpha;      /* EWMA weight of a new window's score in the score judged,
				 * [0, 1]; 0 or 1: each window's own score (default) */
	bool stuck_check;       /* a window scored after a feature held one value for the
				 * model's stuck_after samples in a row is anomalous
				 * whatever its score (default true) */
	prof_params prof;       /* the device's own normal and its channels (profile.h);
				 * channels 0 and no ae_device_norm: no profile kept.
				 * A fired channel raises at once (its own raise rule);
				 * while a device learns, its channels do not fire
				 * (learn_quiet); the autoencoder judges from the
				 * first window as before */
	season_params season;   /* the seasonal channel (season.h; off by default): needs
				 * the profile, learns for its learn samples (learn is
				 * taken from prof.learn); fires as DET_CH_SEASON */
	bool ae_device_norm;    /* the autoencoder sees each sample shifted by the
				 * device's own level onto the model's centre (default
				 * false: the model's fleet-wide scale as trained) */
	/* Without a model (zero-config: the channels alone) the shape of a
	 * sample: n_features (1..MODEL_MAX_FEATURES) and their names (borrowed
	 * during det_create only; NULL entries allowed). Ignored with a model. */
	uint32_t n_features;
	const char *features[MODEL_MAX_FEATURES];
	uint32_t learn_samples; /* a new (or re-baselined, adapted) device is learning until
				 * it has this many samples; 0: no learning state (default) */
	bool learn_alarms;      /* a learning device may raise (default false: it may not,
				 * and its threshold learns every window's score) */
	double reorder_window;  /* seconds a sample may be older than the device's newest and
				 * still join its window (late); 0: none (default 30) */
	uint64_t seq_base;      /* a device's event sequence numbers continue from at least
				 * this (new and imported devices alike); 0 by default, the
				 * service's start time * 2^16 so a restart never repeats one */
} det_config;

/* Channel bits of det_result.channels: the profile's (1u << PROF_CH_*) and
 * the autoencoder's window score. The model's stuck check reports
 * PROF_CH_STUCK. */
#define DET_CH_SHAPE (1u << PROF_CH_COUNT)
#define DET_CH_SEASON (1u << (PROF_CH_COUNT + 1))
#define DET_CH_COUNT (PROF_CH_COUNT + 2)

/* What one sample did. contrib is valid when scored. */
typedef struct det_result {
	bool scored;            /* a window was scored */
	bool anomalous;         /* its score >= threshold */
	float score;            /* MSE of the window (EWMA of them when score_alpha is set) */
	float threshold;        /* device threshold used */
	alert_event event;      /* transition caused, if any */
	uint64_t seq;           /* device's event sequence number when event != NONE */
	float contrib[MODEL_MAX_FEATURES]; /* share of the error per feature, sums to 1;
					    * when stuck, shared by the stuck features */
	uint32_t stuck;         /* bit f: feature f is stuck (model stuck_after) */
	uint32_t channels;      /* DET_CH_SHAPE and 1u << PROF_CH_*: what judged it anomalous
				 * (a profile channel: on this sample) */
	bool learning;          /* the device is still learning its own normal */
	float prof_score;       /* the profile's largest statistic / threshold (1: at it) */
	/* Before event, the same sample revealed a gap in the device's own
	 * time longer than stale_after: it went STALE at gap_ts (its last
	 * sample before the gap) with sequence gap_seq; event is then the
	 * CLEARED (or LEARNING) of its resumption. Publish the stale first. */
	bool gap;
	double gap_ts;
	uint64_t gap_seq;
	double muted_until;     /* event MUTED: the caller's clock at which the mute ends */
	bool late;              /* the sample joined the window behind newer ones */
} det_result;

/* Operator commands on one device (det_command). */
typedef enum det_command_kind {
	DET_CMD_REBASELINE = 0, /* its current behaviour becomes its normal */
	DET_CMD_MUTE,           /* no raises for seconds (0: end the mute now) */
	DET_CMD_FALSE_ALARM,    /* its raised alarm is false: clear it, learn the window */
	DET_CMD__COUNT
} det_command_kind;

#define DET_MUTE_MAX 31536000.0 /* longest mute, seconds (a year) */

typedef struct det_command {
	det_command_kind kind;
	char device[DET_DEVICE_ID_MAX];
	double seconds;         /* DET_CMD_MUTE: [0, DET_MUTE_MAX] */
} det_command;

typedef struct det det;

/* Defaults: 10000 devices, LRU eviction, model stride, k=3 n=3 m=5, adaptive threshold:
 * those of the detector parameter table (format/params.c; test_config holds them equal);
 * every profile channel (prof_params_default). */
void det_config_default(det_config *cfg);
/* Create a detector over a loaded model (borrowed; must outlive det) that
 * its network scores, or with m NULL a zero-config detector of the profile
 * channels alone (every sample is judged; cfg->n_features says the shape).
 * IOTAD_ERR_INVAL on a bad configuration; det_config_check says which
 * field. A float model is scored through its packed form (modelpack.h:
 * vectorized, the same bits on every CPU, within 1e-6 of nn_forward); its
 * parameters must not change while det lives. Same as
 * det_create_with(m, NULL, cfg, out). */
iotad_err det_create(const model *m, const det_config *cfg, det **out);
/* Create a detector over m whose windows sc scores (copied; what it borrows
 * must outlive det), NULL: m's network. m gives the input: features,
 * window, stride, normalization, stuck runs; sc the score and its
 * calibration. A scorer needs a model (IOTAD_ERR_INVAL without one). */
iotad_err det_create_with(const model *m, const det_scorer *sc, const det_config *cfg,
			  det **out);
/* Check cfg for a detector over m (may be NULL): IOTAD_ERR_INVAL with
 * *why (why may be NULL) naming the field (a static string), else IOTAD_OK. */
iotad_err det_config_check(const model *m, const det_config *cfg, const char **why);
/* Name of channel bit index c (0..DET_CH_COUNT-1): the profile's names,
 * "shape" for the autoencoder and "season"; NULL out of range. */
const char *det_channel_name(int c);
void det_destroy(det *d);

/* Feed one raw sample (model->n_features floats, already checked finite) of
 * device at time ts (seconds). May score a window and produce an alert
 * event. A new device in a full table replaces the least recently seen one
 * (policy LRU) or gets IOTAD_ERR_FULL (REJECT). IOTAD_ERR_INVAL if device
 * is empty or too long. res may be NULL.
 * A stale device that speaks again reports CLEARED and starts a fresh window
 * (a window must not span the silence). Same as det_push_at(.., ts, ts, ..). */
iotad_err det_push(det *d, const char *device, double ts, const float *raw, det_result *res);
/* Same, with now = the caller's clock at arrival, against which det_sweep
 * and det_evict measure silence; ts stays the device's time in events.
 * A sample whose ts is not after the device's last one changes nothing
 * with IOTAD_ERR_STATE when a sample of the window has that ts (a
 * duplicate), joins the window in time order (res->late; scored windows
 * are not scored again) when newer than the window's oldest sample and at
 * most reorder_window older than the newest, else IOTAD_ERR_RANGE (out of
 * order). */
iotad_err det_push_at(det *d, const char *device, double ts, double now, const float *raw,
		      det_result *res);

/* One sample for det_push_batch: as det_push_at's arguments. */
typedef struct det_sample {
	const char *device;
	double ts;              /* the device's time */
	double now;             /* the caller's clock at arrival */
	const float *raw;       /* features floats */
} det_sample;

/* Push n samples in order, as n calls of det_push_at would, into res[k]
 * (n results) and, when rc is not NULL, rc[k] (each sample's det_push_at
 * return). The windows that come due are scored together, up to
 * DET_SCORER_BATCH at a time, while each device's samples stay in order:
 * the results are those of the n calls, bit for bit. Returns how many
 * samples were accepted (rc[k] == IOTAD_OK). For a backlog: a service
 * thread that finds many messages waiting hands them over at once. Owner
 * thread only; no allocation. */
size_t det_push_batch(det *d, const det_sample *s, size_t n, det_result *res, iotad_err *rc);

/* The device's newest time and the caller's clock when it was seen: false
 * for an unknown device. Owner thread. */
bool det_last_time(const det *d, const char *device, double *last_ts, double *last_seen);
/* Move the device's times at or after ts to just before it, so a sample at
 * ts is its newest (a clock that was ahead). The window keeps its samples.
 * False for an unknown device. Owner thread. */
bool det_rewind(det *d, const char *device, double ts);

/* An event found by det_sweep: STALE (ts: the device's last sample time) or
 * UNMUTED (ts: now). */
typedef void (*det_event_cb)(void *ud, const char *device, alert_event ev, double ts,
			     uint64_t seq);
/* Report devices silent for longer than stale_after at time now (muted
 * devices are not: maintenance may switch them off), and mutes that ended
 * by now: calls cb once per event. Owner thread. */
void det_sweep(det *d, double now, det_event_cb cb, void *ud);
/* Same for the mutes only (no stale: e.g. while the broker is away). */
void det_sweep_mutes(det *d, double now, det_event_cb cb, void *ud);
/* The caller was cut off from its input for seconds (e.g. the service lost
 * the broker): move every device's last_seen on by that much, never past
 * now, and forgive its next gap in data time by as much, so the silence is
 * not counted as the devices'. Owner thread. */
void det_shift_seen(det *d, double seconds, double now);

/* Apply an operator's command at the caller's clock now; res (may be NULL)
 * receives its event (REBASELINED, MUTED, UNMUTED or FALSE_ALARM) and seq.
 * IOTAD_ERR_NOTFOUND: no such device; IOTAD_ERR_RANGE: a mute's seconds
 * not in [0, DET_MUTE_MAX]; IOTAD_ERR_STATE: nothing to do (a false alarm
 * on a device that is not raised, an unmute of one not muted);
 * IOTAD_ERR_INVAL: bad kind or device id. Rules:
 * - rebaseline: the threshold history and window start afresh and the
 *   device learns again (learn_samples, quietly unless learn_alarms); a
 *   raise ends with this event.
 * - mute: muted_until = now + seconds; a raise or stale ends with this
 *   event; no raise while muted, and no stale; UNMUTED when it ends (on a
 *   sample or a sweep at or after that time).
 * - false alarm: the raise ends with this event and the threshold learns
 *   the last window's score as normal (thr_learn). Owner thread. */
iotad_err det_command_apply(det *d, const det_command *cmd, double now, det_result *res);
/* Stable names: "rebaseline", "mute", "false_alarm". */
const char *det_command_name(det_command_kind k);
/* Kind from its name (also "false-alarm"); 0, or -1 if unknown. */
int det_command_parse(const char *name, det_command_kind *out);
/* Forget devices silent for longer than idle_after at time now (their state
 * is freed and their slot reused). Returns how many were evicted. */
size_t det_evict(det *d, double now, double idle_after);
/* Score one window of raw samples (window * n_features floats, row-major)
 * against the model's base threshold, outside any device's state. */
iotad_err det_score_window(det *d, const float *raw, size_t n, det_result *res);

size_t det_device_count(const det *d);
/* Devices whose alert is raised now (walks the table). Owner thread only. */
size_t det_raised_count(const det *d);
/* Whether device is in the table; if so whether its alert is raised and its
 * events so far (seq). Owner thread only. */
bool det_device_known(const det *d, const char *device, bool *raised, uint64_t *seq);
/* Call cb with the id of every device forgotten from now on (LRU to make
 * room, idle eviction), just before it goes; cb NULL stops. Owner thread only. */
typedef void (*det_evict_cb)(void *ud, const char *device);
void det_on_evict(det *d, det_evict_cb cb, void *ud);
/* The caller's clock when the least recently seen device was last seen:
 * false when the table is empty. Owner thread only. */
bool det_oldest(const det *d, double *last_seen);
/* Forget the least recently seen device (the evict callback sees it; it
 * counts in det_evictions): a table shared under one cap with others makes
 * room. False when empty. Owner thread only. */
bool det_evict_oldest(det *d);
/* Forget device without the evict callback (it moves elsewhere, e.g. its
 * fields changed). False if unknown. Owner thread only. */
bool det_forget(det *d, const char *device);
/* Devices replaced by LRU eviction so far (idle evictions not included). */
uint64_t det_evictions(const det *d);
/* Heap bytes one device costs at this model's shape (struct + window + its
 * share of the table's index arrays; malloc's own overhead not included). */
size_t det_bytes_per_device(const det *d);
const model *det_model(const det *d);
/* Features per sample and samples per window (0 without a model). */
uint32_t det_features(const det *d);
uint32_t det_window(const det *d);
/* The resolved profile parameters (features filled), NULL without a profile. */
const prof_params *det_prof_params(const det *d);
/* Re-baseline device: its current behaviour becomes its normal (the
 * profile's prof_rebaseline; alert state untouched). IOTAD_ERR_NOTFOUND if
 * unknown, IOTAD_ERR_STATE without a profile. Owner thread only. The
 * operator's re-baseline is det_command_apply's: the profile, threshold
 * history, window and learning all start afresh, as one event. */
iotad_err det_rebaseline(det *d, const char *device);

/* One device's state without pointers: what the state file and a model
 * reload carry over. Its floats (det_state_floats) are the window,
 * window * features normalized values oldest first (ring_count rows used,
 * the rest zero), then the threshold's history (det_thr_floats), then the
 * profile (det_prof_floats; all zeros: a fresh, learning one). */
typedef struct det_device_state {
	char id[DET_DEVICE_ID_MAX];
	uint32_t since_score;   /* samples since the last scored window */
	uint32_t ring_count;    /* samples in the window (<= window) */
	thr_state thr;          /* buf unused */
	alert_state alert;
	double last_ts;         /* device time of the last sample */
	double last_seen;       /* caller's clock at the last sample */
	uint64_t seq;           /* events emitted so far */
	uint32_t samples;       /* samples since it was new or re-baselined (saturates) */
	bool learning;          /* announced LEARNING, not yet LEARNED */
	double muted_until;     /* caller's clock; 0: not muted */
	float last_score;       /* score of its last judged window (NaN: none yet) */
} det_device_state;

/* Threshold kind and floats of its per-device history at this configuration. */
thr_kind det_thr_kind(const det *d);
size_t det_thr_floats(const det *d);
/* Floats of one device's profile (0 without one). */
size_t det_prof_floats(const det *d);
/* Floats of one exported device: window * features + det_thr_floats +
 * det_prof_floats. */
size_t det_state_floats(const det *d);
typedef iotad_err (*det_state_cb)(void *ud, const det_device_state *st, const float *floats);
/* Call cb for every device, least recently seen first (so importing in that
 * order keeps the recency order). buf holds det_state_floats floats. Stops
 * at and returns the first error cb returns. Owner thread only. */
iotad_err det_foreach(const det *d, float *buf, det_state_cb cb, void *ud);
/* Add a device (or overwrite one of the same id) from exported state; it
 * becomes the most recently seen. with_thr false starts its threshold
 * afresh (e.g. the scores of another model). IOTAD_ERR_INVAL if the state
 * is inconsistent with this detector (bad id, counts, non-finite values);
 * IOTAD_ERR_FULL as det_push. Owner thread only. */
iotad_err det_import(det *d, const det_device_state *st, const float *floats, bool with_thr);
/* Take over every device of from (another model: a reload) into the empty
 * detector to, least recently seen first. Alert state, seq and times are
 * kept; windows only when both models have the same window, features and
 * normalization (else they refill); thresholds start afresh on the new
 * model's calibration; profiles are kept when both have the same features
 * by name and profile shape (else they learn afresh). windows_kept says
 * which. Owner thread of both. */
iotad_err det_adopt(det *to, const det *from, bool *windows_kept);

#endif
