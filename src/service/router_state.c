/* router_state.c - what the router keeps and reports per model: each
 * model's devices saved to its own state file and restored from it, by one
 * router or by the same routers of several scorer threads (one file per
 * model for all of them), and the per-model figures of /metrics, summed
 * over the threads. */
#include <stdio.h>
#include <string.h>

#include "iotad/reload.h"
#include "router_int.h"

iotad_err router_state_save(router *f, const char *when)
{
	iotad_err r = IOTAD_OK;
	for (uint32_t i = 0; i < f->n; i++)
		if (f->slot[i].state_file[0] &&
		    reload_state_save(f->slot[i].p, f->slot[i].state_file, when) != IOTAD_OK)
			r = IOTAD_ERR_IO;
	return r;
}

/* The pipelines of slot i in every thread's router, and its file under path. */
static uint32_t slot_shards(router *const *fs, uint32_t n, uint32_t i, const char *path,
			    pipeline **ps, char *file, size_t file_len)
{
	for (uint32_t k = 0; k < n; k++)
		ps[k] = fs[k]->slot[i].p;
	if (fs[0]->mixed)
		snprintf(file, file_len, "%s.%s", path, fs[0]->slot[i].name);
	else
		snprintf(file, file_len, "%s", path);
	return n;
}

/* The slots kept in state files across threads: the models (not the
 * zero-config field sets, which differ from thread to thread). */
static uint32_t kept_slots(const router *f)
{
	return f->mixed ? f->n_routes : f->slot[0].shape ? 0 : 1;
}

iotad_err router_state_save_shards(router *const *fs, uint32_t n, const char *path,
				   const char *when)
{
	pipeline *ps[CFG_MAX_SCORERS];
	char file[CFG_PATH + CFG_MODEL_NAME + 2];
	iotad_err r = IOTAD_OK;
	if (n < 1 || n > CFG_MAX_SCORERS)
		return IOTAD_ERR_INVAL;
	for (uint32_t i = 0; i < kept_slots(fs[0]); i++) {
		slot_shards(fs, n, i, path, ps, file, sizeof file);
		if (reload_state_save_shards(ps, n, file, when) != IOTAD_OK)
			r = IOTAD_ERR_IO;
	}
	return r;
}

iotad_err router_state_restore_shards(router *const *fs, uint32_t n, const char *path,
				      bool *rejected)
{
	pipeline *ps[CFG_MAX_SCORERS];
	char file[CFG_PATH + CFG_MODEL_NAME + 2];
	*rejected = false;
	if (n < 1 || n > CFG_MAX_SCORERS)
		return IOTAD_ERR_INVAL;
	for (uint32_t i = 0; i < kept_slots(fs[0]); i++) {
		bool rej = false;
		slot_shards(fs, n, i, path, ps, file, sizeof file);
		iotad_err e = reload_state_restore_shards(ps, n, file, &rej);
		if (e != IOTAD_OK)
			return e;
		if (rej) {
			*rejected = true;
			COUNT(fs[0]->state_rejected);
		}
	}
	for (uint32_t k = 0; k < n; k++)
		router_recount(fs[k]);
	return IOTAD_OK;
}

void router_model_stats(router *f, met_snapshot *out)
{
	out->n_models = 0;
	out->fields_changed = atomic_load(&f->fields_changed);
	if (!f->mixed)
		return;
	for (uint32_t i = 0; i < f->n && i < MET_MODELS_MAX; i++) {
		router_slot *s = &f->slot[i];
		met_model *mm = &out->models[out->n_models++];
		pipeline_counters pc;
		pipeline_get_counters(s->p, &pc);
		snprintf(mm->name, sizeof mm->name, "%s", s->name);
		pipeline_model_name(s->p, mm->id, sizeof mm->id, &mm->version);
		mm->received = pc.received;
		mm->scored = pc.scored;
		mm->rejected = 0;
		for (int r = 1; r < REJ__COUNT; r++)
			mm->rejected += pc.rejected[r];
		mm->devices = pc.devices;
		mm->raised = pc.raised;
		mm->raises = pc.events[ALERT_EV_RAISED];
		mm->reloads = atomic_load(&s->reloads);
		mm->reload_failures = atomic_load(&s->reload_failed);
	}
}

void router_model_stats_add(router *f, met_snapshot *out)
{
	out->fields_changed += atomic_load(&f->fields_changed);
	if (!f->mixed)
		return;
	for (uint32_t i = 0; i < f->n && i < out->n_models; i++) {
		router_slot *s = &f->slot[i];
		met_model *mm = &out->models[i];
		pipeline_counters pc;
		if (strcmp(mm->name, s->name))
			continue; /* a zero-config set of another thread: not the same slot */
		pipeline_get_counters(s->p, &pc);
		mm->received += pc.received;
		mm->scored += pc.scored;
		for (int r = 1; r < REJ__COUNT; r++)
			mm->rejected += pc.rejected[r];
		mm->devices += pc.devices;
		mm->raised += pc.raised;
		mm->raises += pc.events[ALERT_EV_RAISED];
	}
}
