/* pipeline.h - one telemetry message through the service: device id from
 * the topic, decode, detector, events, publish (alerts, retained state,
 * Home Assistant discovery). It publishes through an interface, so it runs
 * without MQTT (the tests hand it a recording publisher).
 *
 * Threads: the scorer thread owns the pipeline (pipeline_handle, _sweep,
 * _swap, ...); counters, model name and latency may be read from any
 * thread. No allocation, lock or log per message beyond the rate-limited
 * warning of a rejected message. */
#ifndef IOTAD_PIPELINE_H
#define IOTAD_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/codec.h"
#include "iotad/config.h"
#include "iotad/detector.h"
#include "iotad/error.h"
#include "iotad/metrics.h"
#include "iotad/model.h"
#include "iotad/msgq.h"

typedef struct pipeline pipeline;

/* Zero-config without detector.features learns at most this many (docs/profile.md). */
#define PIPELINE_LEARN_MAX 8

/* Where the pipeline's output goes. Called on the scorer thread. */
typedef struct pipeline_pub {
	/* Publish len bytes on topic; IOTAD_OK or an error (counted in
	 * publish_failed). Required. */
	iotad_err (*publish)(void *ud, const char *topic, const void *payload, size_t len, int qos,
			     bool retained);
	/* The detector took a sample of device: raw holds its n_features values
	 * (the pipeline's buffer, valid during the call); scored or not (e.g.
	 * federated learning's sample of normal windows). Optional. */
	void (*sample)(void *ud, const char *device, const float *raw, const det_result *res);
	/* A window of device was scored (e.g. live_sample). Optional. */
	void (*scored)(void *ud, const char *device, double ts, const det_result *res);
	/* An alert event of device was published; json is its payload. Optional. */
	void (*event)(void *ud, const char *device, const char *state, const char *json,
		      size_t len);
	/* Zero-config learned its features and built its detector, before the
	 * first sample goes in (e.g. restore the state file). Optional. */
	void (*ready)(void *ud);
	void *ud;
} pipeline_pub;

typedef struct pipeline_counters {
	uint64_t received;              /* telemetry messages handled */
	uint64_t scored;                /* windows scored */
	uint64_t rejected[REJ__COUNT];  /* by reason */
	uint64_t events[ALERT_EV__COUNT]; /* by alert_event */
	uint64_t commands[DET_CMD__COUNT];  /* operator commands applied, by kind */
	uint64_t commands_rejected[CMD__COUNT]; /* refused, by cmd_reject */
	uint64_t publish_failed;        /* alert/state/discovery publishes refused */
	uint64_t evictions;             /* devices replaced by a new one in a full table (LRU) */
	uint64_t idle_evictions;        /* devices forgotten after detector.idle_evict_after */
	uint64_t devices;               /* devices in the table now */
	uint64_t raised;                /* devices in the table whose alert is raised now */
	uint64_t reconciled;            /* retained raised states cleared (pipeline_reconcile) */
	uint64_t late;                  /* samples that joined their window late (reorder window) */
	uint64_t rewound;               /* devices whose newest time was ahead of the host
					 * clock, moved back by a sample refused as out of order */
	uint64_t not_my_shard;          /* messages of devices in another instance's shard
					 * (service.shard), ignored */
} pipeline_counters;

/* A pipeline for a validated config and a loaded model (both borrowed; they
 * must outlive it, or the model until pipeline_swap replaces it), a
 * detector built from dc (copied) and a publisher (copied). m NULL:
 * zero-config, the profile channels alone over dc's features, or without
 * them over the numeric fields of the first message (codec_sample_fields:
 * sorted by name, at most PIPELINE_LEARN_MAX); events name model
 * "zero-config". */
iotad_err pipeline_create(const iotad_config *cfg, const model *m, const det_config *dc,
			  const pipeline_pub *pub, pipeline **out);
/* Free the pipeline, its detector and a model it took over. Accepts NULL.
 * Scorer thread, after the last call of any other pipeline function. */
void pipeline_destroy(pipeline *p);
/* Handle one telemetry message that arrived at now (epoch seconds, the
 * sample's time when its payload has no ts): reject and count it, or score
 * it and publish any event. The message stays the caller's. Scorer thread. */
void pipeline_handle(pipeline *p, const msgq_msg *msg, double now);
/* The state a new device's retained state topic gets when Home Assistant
 * discovery is on (it shows off, not unknown, until an event). */
#define PIPELINE_STATE_NORMAL "normal"
/* A retained message on the state topic (state_prefix/DEVICE) read back
 * from the broker: if it says raised and the detector does not know the
 * device (a restart without the state file), or knows it not raised with
 * fewer events than the retained seq, publish `cleared` (seq 0) on the
 * alert and state topics at once. Other topics are ignored. Scorer thread. */
void pipeline_reconcile(pipeline *p, const char *topic, size_t topic_len, const char *payload,
			size_t len, double now);
/* Housekeeping at now (epoch seconds): an `unmuted` event for every mute
 * that ended; while connected to the broker also a `stale` event for every
 * device silent longer than detector.stale_after and forget devices idle
 * longer than detector.idle_evict_after (each when configured). Not
 * connected, the silence is iotad's, not the devices'. Scorer thread. */
void pipeline_sweep(pipeline *p, double now, bool connected);
/* The broker was away for seconds until now: taken off every device's
 * silence (det_shift_seen). Scorer thread. */
void pipeline_outage(pipeline *p, double seconds, double now);
/* Apply an operator's command at now (epoch seconds) and publish its event
 * (alert, retained state, live page); res (may be NULL) receives it.
 * CMD_OK, or why it was refused with detail (dlen bytes) saying so.
 * Counted either way. Scorer thread. */
cmd_reject pipeline_command(pipeline *p, const det_command *cmd, double now, det_result *res,
			    char *detail, size_t dlen);
/* Count a command refused before it reached pipeline_command (bad JSON,
 * unknown command, bad device id or duration). Scorer thread. */
void pipeline_command_refused(pipeline *p, cmd_reject why);
/* The model in use (the caller's first one, or one taken over by
 * pipeline_swap; NULL in zero-config) and the detector (owned by the
 * pipeline; NULL in zero-config until the features are learned). Scorer thread. */
const model *pipeline_model(const pipeline *p);
det *pipeline_det(pipeline *p);
/* True without a model (zero-config). Scorer thread. */
bool pipeline_zero_config(const pipeline *p);
/* Names of the features samples are read as (the model's, or zero-config's:
 * configured or learned; 0 before they are learned), at most max into names
 * (borrowed from the pipeline). Returns how many. Scorer thread. */
uint32_t pipeline_features(const pipeline *p, const char **names, uint32_t max);
/* The detector configuration the pipeline was built with. Scorer thread. */
const det_config *pipeline_det_config(const pipeline *p);
/* Take over model nm (malloc'd, freed with model_free and free) and its
 * detector nd (already holding the devices), freeing the detector and a
 * model taken over before. Scorer thread. */
void pipeline_swap(pipeline *p, model *nm, det *nd);
/* After pipeline_det's devices changed behind the pipeline's back (a state
 * file restored), refresh the device count other threads read. Scorer thread. */
void pipeline_devices_changed(pipeline *p);
/* Replace the detector with an empty one (no devices). Scorer thread. */
iotad_err pipeline_reset(pipeline *p);
/* Snapshot of the counters. Any thread. */
void pipeline_get_counters(pipeline *p, pipeline_counters *out);
/* The model's id (into id, len bytes) and version. Any thread. */
void pipeline_model_name(pipeline *p, char *id, size_t len, int *version);
/* Time spent in the detector per message. Any thread. */
void pipeline_latency(pipeline *p, met_hist_snap *out);

#endif
