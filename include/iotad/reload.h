/* reload.h - swapping a new model file into a running pipeline between two
 * messages (SIGHUP, the control topic), and the device state file that
 * carries the devices across a restart. Scorer thread only. */
#ifndef IOTAD_RELOAD_H
#define IOTAD_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/model.h"
#include "iotad/pipeline.h"

/* Called with the new model just before the pipeline takes it (e.g.
 * http_set_model); an error keeps the running model. */
typedef iotad_err (*reload_switch_fn)(void *ud, const model *m);

/* Load the model at path and swap it into p: it is loaded, checked (its
 * window must equal `window` when > 0), given a detector that adopts p's
 * devices (their alert state and seq; their windows when the input is
 * unchanged; thresholds restart from its calibration), passed to sw (may
 * be NULL), and only then swapped in. Any failure keeps the running model
 * and returns the error; both outcomes are logged with why. */
iotad_err reload_model(pipeline *p, const char *path, int window, reload_switch_fn sw, void *ud,
		       const char *why);

/* Restore p's devices from the state file at path. A missing file is no
 * error; a file for another model or threshold is ignored, a damaged one
 * leaves p with no devices: both return IOTAD_OK with *rejected set.
 * Returns an error only when the pipeline cannot go on (no memory).
 * Zero-config before its features are learned: nothing yet (call again
 * from pipeline_pub.ready). */
iotad_err reload_state_restore(pipeline *p, const char *path, bool *rejected);
/* Save p's devices to the state file at path (atomically); when says why
 * (periodic, shutdown) in the log. Failures are logged with a rate limit.
 * No detector yet (zero-config learning its features): nothing to save. */
iotad_err reload_state_save(pipeline *p, const char *path, const char *when);

/* The same for a pipeline split in n_shards (the scorer threads, all
 * paused): one state file, each device restored into the shard its id
 * hashes to (topic_device_shard). */
iotad_err reload_state_restore_shards(pipeline *const *p, uint32_t n_shards, const char *path,
				      bool *rejected);
iotad_err reload_state_save_shards(pipeline *const *p, uint32_t n_shards, const char *path,
				   const char *when);

#endif
