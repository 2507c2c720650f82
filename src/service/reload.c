/* reload.c - what the scorer reads from disk while it runs: a new model
 * file swapped in between two messages, and the device state file restored
 * at start and saved periodically and at shutdown. */
#include "iotad/reload.h"

#include <stdio.h>
#include <stdlib.h>

#include "iotad/log.h"
#include "iotad/model_io.h"
#include "iotad/state.h"

iotad_err reload_model(pipeline *p, const char *path, int window, reload_switch_fn sw, void *ud,
		       const char *why)
{
	const model *cur = pipeline_model(p);
	char err[512];
	if (!cur) {
		LOG_WARN("model: reload (%s) ignored: zero-config mode (no model.path) has no model "
			 "to reload; set model.path and restart to use one", why);
		return IOTAD_ERR_STATE;
	}
	det *nd = NULL;
	bool kept = false;
	model *nm = calloc(1, sizeof *nm);
	iotad_err e = nm ? model_load(path, nm, err, sizeof err) : IOTAD_ERR_NOMEM;
	if (e == IOTAD_OK && window && window != nm->window) {
		snprintf(err, sizeof err, "window %d does not match model.window %d", nm->window,
			 window);
		e = IOTAD_ERR_MODEL;
	}
	if (e == IOTAD_OK && (e = det_create(nm, pipeline_det_config(p), &nd)) != IOTAD_OK)
		snprintf(err, sizeof err, "no detector for it: %s", iotad_strerror(e));
	if (e == IOTAD_OK && (e = det_adopt(nd, pipeline_det(p), &kept)) != IOTAD_OK)
		snprintf(err, sizeof err, "devices not carried over: %s", iotad_strerror(e));
	/* last: once sw has switched (e.g. /v1/score), the old model may be freed */
	if (e == IOTAD_OK && sw && (e = sw(ud, nm)) != IOTAD_OK)
		snprintf(err, sizeof err, "/v1/score not switched: %s", iotad_strerror(e));
	if (e != IOTAD_OK) {
		LOG_ERR("model: reload (%s) of %s failed, keeping %s v%d: %s", why, path, cur->id,
			cur->version, e == IOTAD_ERR_NOMEM ? iotad_strerror(e) : err);
		det_destroy(nd);
		if (nm)
			model_free(nm);
		free(nm);
		return e;
	}
	LOG_INFO("model: reloaded (%s) %s: %s v%d replaces %s v%d; %zu devices kept%s", why, path,
		 nm->id, nm->version, cur->id, cur->version, det_device_count(nd),
		 kept ? " with their windows" : ", windows refill (input changed)");
	pipeline_swap(p, nm, nd);
	return IOTAD_OK;
}

iotad_err reload_state_restore(pipeline *p, const char *path, bool *rejected)
{
	return reload_state_restore_shards(&p, 1, path, rejected);
}

iotad_err reload_state_restore_shards(pipeline *const *ps, uint32_t n_shards, const char *path,
				      bool *rejected)
{
	char err[600];
	size_t n = 0;
	det *dets[CFG_MAX_SCORERS];
	*rejected = false;
	if (n_shards < 1 || n_shards > CFG_MAX_SCORERS)
		return IOTAD_ERR_INVAL;
	if (state_check_path(path, err, sizeof err) != IOTAD_OK) {
		LOG_ERR("state: %s", err);
		return IOTAD_ERR_INVAL;
	}
	for (uint32_t k = 0; k < n_shards; k++) {
		if (!(dets[k] = pipeline_det(ps[k]))) {
			LOG_INFO("state: %s is restored once the features are learned", path);
			return IOTAD_OK;
		}
	}
	iotad_err e = state_load_shards(dets, n_shards, path, &n, err, sizeof err);
	switch (e) {
	case IOTAD_OK:
		LOG_INFO("state: restored %zu devices from %s", n, path);
		break;
	case IOTAD_ERR_NOTFOUND:
		LOG_INFO("state: %s does not exist yet; starting with no devices", path);
		break;
	case IOTAD_ERR_NOMEM:
		return e;
	case IOTAD_ERR_MODEL:
		*rejected = true;
		LOG_WARN("state: ignoring %s; starting with no devices", err);
		break;
	default:
		*rejected = true;
		LOG_ERR("state: cannot use %s; starting with no devices", err);
		for (uint32_t k = 0; k < n_shards; k++)
			if ((e = pipeline_reset(ps[k])) != IOTAD_OK)
				return e;
		return IOTAD_OK;
	}
	for (uint32_t k = 0; k < n_shards; k++)
		pipeline_devices_changed(ps[k]);
	return IOTAD_OK;
}

iotad_err reload_state_save(pipeline *p, const char *path, const char *when)
{
	return reload_state_save_shards(&p, 1, path, when);
}

iotad_err reload_state_save_shards(pipeline *const *ps, uint32_t n_shards, const char *path,
				   const char *when)
{
	char err[600];
	size_t n = 0;
	const det *dets[CFG_MAX_SCORERS];
	if (n_shards < 1 || n_shards > CFG_MAX_SCORERS)
		return IOTAD_ERR_INVAL;
	for (uint32_t k = 0; k < n_shards; k++)
		if (!(dets[k] = pipeline_det(ps[k])))
			return IOTAD_OK; /* zero-config before its features are learned */
	iotad_err e = state_save_shards(dets, n_shards, path, &n, err, sizeof err);
	if (e != IOTAD_OK) {
		LOG_RATELIMITED(LOG_ERROR, "state: cannot save (%s): %s", when, err);
		return e;
	}
	LOG_DBG("state: saved %zu devices to %s (%s)", n, path, when);
	return IOTAD_OK;
}
