/* router.h - the pipelines of one service: one model (or zero-config), or
 * a mixed fleet routed by the configuration's models: list (route.h),
 * first match wins, with an optional zero-config fallback that judges
 * each unrouted device on its own numeric fields. All share one cap on
 * devices (detector.max_devices) and the service's publisher; each model
 * reloads on its own and keeps its own state file.
 *
 * Threads: the scorer thread owns the fleet; counters and names may be
 * read from any thread. */
#ifndef IOTAD_ROUTER_H
#define IOTAD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/config.h"
#include "iotad/metrics.h"
#include "iotad/pipeline.h"
#include "iotad/reload.h"

/* Zero-config field sets a fallback keeps at once (a device of another set
 * beyond them is rejected as missing_feature). */
#define ROUTER_SHAPES_MAX 8
#define ROUTER_SLOTS_MAX (CFG_MODELS_MAX + ROUTER_SHAPES_MAX)

typedef struct router router;

/* Build the pipelines of cfg (borrowed, must outlive the fleet): with a
 * models: list each entry's model is loaded (its own configuration:
 * models_config) and m is ignored; else one pipeline over m (borrowed;
 * NULL: zero-config). dc: the detector configuration of the top level
 * (its seq_base is used by every pipeline). pub is copied. With
 * cfg->state_file set, each pipeline restores its devices (mixed: from
 * STATE_FILE.NAME). IOTAD_ERR_MODEL/INVAL when a model does not load. */
iotad_err router_create(const iotad_config *cfg, const model *m, const det_config *dc,
		       const pipeline_pub *pub, router **out);
void router_destroy(router *f);
/* One telemetry message: routed, then pipeline_handle. */
void router_handle(router *f, const msgq_msg *msg, double now);
/* A retained state message (pipeline_reconcile), to the pipeline holding the device. */
void router_reconcile(router *f, const char *topic, size_t topic_len, const char *payload,
		     size_t len, double now);
/* pipeline_sweep and pipeline_outage on every pipeline. */
void router_sweep(router *f, double now, bool connected);
void router_outage(router *f, double seconds, double now);
/* An operator command, on the pipeline holding the device (pipeline_command). */
cmd_reject router_command(router *f, const det_command *cmd, double now, det_result *res,
			 char *detail, size_t dlen);
void router_command_refused(router *f, cmd_reject why);
/* Reload every model from its file (name NULL), or the one named; a model
 * that fails keeps running and the others go on. sw is called for the
 * first pipeline only (the one /v1/score serves). *ok and *failed count
 * the outcomes; zero-config pipelines are skipped (logged). */
void router_reload(router *f, const char *name, reload_switch_fn sw, void *ud, const char *why,
		  int *ok, int *failed);
/* Save every pipeline's devices (cfg->state_file; mixed: one file per
 * pipeline). IOTAD_OK if all were written. */
iotad_err router_state_save(router *f, const char *when);
/* The same routers in every scorer thread (n of them, all paused or
 * ended; built with no state file of their own): each model's devices of
 * all threads saved to one file, path (mixed: path.NAME), as one
 * router_state_save would write it, and restored from it, each device into
 * the thread its id hashes to (topic_device_shard), whatever the thread
 * count that wrote it. Zero-config field sets are not kept (the service
 * runs them on one thread). *rejected: a file was ignored. Save: IOTAD_OK
 * if all were written; restore: an error only when out of memory. */
iotad_err router_state_save_shards(router *const *fs, uint32_t n, const char *path,
				   const char *when);
iotad_err router_state_restore_shards(router *const *fs, uint32_t n, const char *path,
				      bool *rejected);
/* The first pipeline: the one model, or the first entry's (HTTP scoring). */
pipeline *router_primary(router *f);
/* A window was scored, with the name of the model that judged it (its
 * entry's name; one model: its id, or zero-config). ud: the publisher's. */
typedef void (*router_scored_fn)(void *ud, const char *name, const char *device, double ts,
				 const det_result *res);
/* Call cb in place of the publisher's scored (NULL: the publisher's). */
void router_on_scored(router *f, router_scored_fn cb);
/* True with a models: list. */
bool router_mixed(const router *f);
/* Counters summed over the pipelines, with no_model among the rejects. */
void router_get_counters(router *f, pipeline_counters *out);
/* State files rejected at start, and devices whose fields changed. Any thread. */
uint64_t router_state_rejected(router *f);
uint64_t router_fields_changed(router *f);
/* Per-model counters for the metrics (mixed only: n 0 otherwise). Any thread. */
void router_model_stats(router *f, met_snapshot *out);
/* Add f's per-model counters to those router_model_stats put in out from
 * the same routers of another scorer thread (devices, messages, raises;
 * reloads are every thread's and are counted once, from the first). Any
 * thread. */
void router_model_stats_add(router *f, met_snapshot *out);

#endif
