/* router.c - the pipelines of one service. One model or zero-config: one
 * pipeline takes every message. A mixed fleet: the models: list routes
 * each message (topic filter, device glob; first match wins) to its
 * model's pipeline; an unrouted one is counted as no_model or, with
 * model.fallback, judged zero-config on its own numeric fields (one
 * zero-config pipeline per field set). Every pipeline's table is sized to
 * the one cap, and the fleet holds their sum to it: a new device in a full
 * fleet takes the place of the least recently seen one of any model (LRU)
 * or is refused (device_cap). */
#include "iotad/router.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/codec.h"
#include "iotad/log.h"
#include "iotad/model_io.h"
#include "iotad/models.h"
#include "iotad/route.h"
#include "iotad/topic.h"

#include "router_int.h"

/* --- a slot's publisher: the service's, and its own ready ------------------ */

static iotad_err slot_publish(void *ud, const char *topic, const void *payload, size_t len,
			      int qos, bool retained)
{
	router *f = ((router_slot *)ud)->f;
	return f->pub.publish(f->pub.ud, topic, payload, len, qos, retained);
}

static void slot_sample(void *ud, const char *device, const float *raw, const det_result *res)
{
	router *f = ((router_slot *)ud)->f;
	if (f->pub.sample)
		f->pub.sample(f->pub.ud, device, raw, res);
}

static void slot_scored(void *ud, const char *device, double ts, const det_result *res)
{
	router_slot *s = ud;
	router *f = s->f;
	if (f->on_scored)
		f->on_scored(f->pub.ud, s->name, device, ts, res);
	else if (f->pub.scored)
		f->pub.scored(f->pub.ud, device, ts, res);
}

static void slot_event(void *ud, const char *device, const char *state, const char *json,
		       size_t len)
{
	router *f = ((router_slot *)ud)->f;
	if (f->pub.event)
		f->pub.event(f->pub.ud, device, state, json, len);
}

static void restore(router_slot *s)
{
	bool rejected = false;
	if (!s->state_file[0])
		return;
	if (reload_state_restore(s->p, s->state_file, &rejected) != IOTAD_OK)
		LOG_ERR("state: %s not restored: out of memory", s->state_file);
	if (rejected)
		COUNT(s->f->state_rejected);
}

/* Zero-config learned its features from a first message. */
static void slot_ready(void *ud)
{
	router_slot *s = ud;
	const char *names[MODEL_MAX_FEATURES];
	if (s->shape) {
		s->n_fields = (int)pipeline_features(s->p, names, PIPELINE_LEARN_MAX);
		for (int i = 0; i < s->n_fields; i++)
			snprintf(s->fields[i], MODEL_NAME_MAX, "%s", names[i]);
	}
	restore(s);
	router_recount(s->f);
}

static iotad_err add_slot(router *f, const char *name, iotad_config *cfg, model *m,
			  const model *borrowed, bool shape)
{
	router_slot *s = &f->slot[f->n];
	memset(s, 0, sizeof *s);
	s->f = f;
	s->cfg = cfg;
	s->m = m;
	s->shape = shape;
	snprintf(s->name, sizeof s->name, "%s", name);
	const iotad_config *top = f->cfg;
	if (top->state_file[0] && (f->mixed || f->n > 0))
		snprintf(s->state_file, sizeof s->state_file, "%s.%s", top->state_file, name);
	else
		snprintf(s->state_file, sizeof s->state_file, "%s", top->state_file);
	det_config dc;
	config_det(cfg, &dc);
	dc.seq_base = f->dc.seq_base;
	if (shape)
		dc.n_features = 0; /* learned from its first message */
	pipeline_pub pub = {.publish = slot_publish, .sample = slot_sample, .scored = slot_scored,
			    .event = slot_event, .ready = slot_ready, .ud = s};
	iotad_err e = pipeline_create(cfg, m ? m : borrowed, &dc, &pub, &s->p);
	if (e != IOTAD_OK)
		return e;
	f->n++;
	if (pipeline_det(s->p))
		restore(s);
	return IOTAD_OK;
}

static iotad_err add_model(router *f, uint32_t i)
{
	char msg[512];
	const cfg_model *e = &f->cfg->models[i];
	iotad_config *mc = malloc(sizeof *mc);
	model *m = calloc(1, sizeof *m);
	if (!mc || !m) {
		free(mc);
		free(m);
		return IOTAD_ERR_NOMEM;
	}
	iotad_err r = models_config(f->cfg, i, mc, msg, sizeof msg, NULL);
	if (r == IOTAD_OK && (r = model_load(e->path, m, msg, sizeof msg)) != IOTAD_OK)
		model_free(m);
	if (r == IOTAD_OK && (r = add_slot(f, e->name, mc, m, NULL, false)) != IOTAD_OK)
		snprintf(msg, sizeof msg, "%s", iotad_strerror(r));
	if (r != IOTAD_OK) {
		LOG_ERR("model %s (%s): %s", e->name, e->path, msg);
		if (m->n_features)
			model_free(m);
		free(m);
		free(mc);
		return r;
	}
	LOG_INFO("model %s: %s v%d over %d features, route topic '%s' device '%s'", e->name, m->id,
		 m->version, m->n_features, e->topic[0] ? e->topic : "*",
		 e->device[0] ? e->device : "*");
	return IOTAD_OK;
}

iotad_err router_create(const iotad_config *cfg, const model *m, const det_config *dc,
		       const pipeline_pub *pub, router **out)
{
	*out = NULL;
	router *f = calloc(1, sizeof *f);
	if (!f)
		return IOTAD_ERR_NOMEM;
	f->cfg = cfg;
	f->pub = *pub;
	f->dc = *dc;
	f->mixed = cfg->n_models > 0;
	iotad_err e = IOTAD_OK;
	if (!f->mixed && !m && !cfg->n_features) {
		/* zero-config: each device on the fields it sends, one set a slot */
		f->routing = f->fallback = true;
		e = add_slot(f, "zero-config", (iotad_config *)cfg, NULL, NULL, true);
	} else if (!f->mixed) {
		e = add_slot(f, m ? m->id : "zero-config", (iotad_config *)cfg, NULL, m, false);
	} else {
		f->routing = true;
		f->fallback = cfg->model_fallback;
		route_init(&f->rt, cfg);
		for (uint32_t i = 0; i < cfg->n_models && e == IOTAD_OK; i++)
			e = add_model(f, i);
		f->n_routes = f->n;
		router_recount(f);
	}
	if (e != IOTAD_OK) {
		router_destroy(f);
		return e;
	}
	*out = f;
	return IOTAD_OK;
}

void router_destroy(router *f)
{
	if (!f)
		return;
	for (uint32_t i = 0; i < f->n; i++) {
		router_slot *s = &f->slot[i];
		pipeline_destroy(s->p);
		if (s->m) {
			model_free(s->m);
			free(s->m);
		}
		if (s->cfg != f->cfg)
			free(s->cfg);
	}
	free(f);
}

/* --- routing ------------------------------------------------------------------ */

static size_t total_devices(const router *f)
{
	size_t n = 0;
	for (uint32_t i = 0; i < f->n; i++)
		n += det_device_count(pipeline_det(f->slot[i].p));
	return n;
}

/* Count the devices of every slot again (after a sweep, a restore). */
void router_recount(router *f)
{
	f->total = total_devices(f);
}

static bool knows(router_slot *s, const char *device)
{
	bool raised;
	uint64_t seq;
	return det_device_known(pipeline_det(s->p), device, &raised, &seq);
}

/* The fleet is full and device is new to s: make room (LRU: the least
 * recently seen device of any model goes) or refuse. */
static bool make_room(router *f, router_slot *s, const char *device)
{
	if (f->total < f->cfg->max_devices || knows(s, device))
		return true;
	if (!f->cfg->evict_lru)
		return false;
	router_slot *oldest = NULL;
	double best = 0;
	for (uint32_t i = 0; i < f->n; i++) {
		double seen;
		if (det_oldest(pipeline_det(f->slot[i].p), &seen) && (!oldest || seen < best)) {
			oldest = &f->slot[i];
			best = seen;
		}
	}
	if (!oldest || !det_evict_oldest(pipeline_det(oldest->p)))
		return false;
	COUNT(f->lru_evicted);
	f->total--;
	pipeline_devices_changed(oldest->p);
	return true;
}

/* A zero-config event on the alert topic (not a state): a device's fields changed. */
static void fields_event(router *f, const char *device, const router_slot *from,
			 char (*now_fields)[MODEL_NAME_MAX], int n, double now)
{
	char topic[TOPIC_MAX], buf[1024];
	size_t off = (size_t)snprintf(buf, sizeof buf,
				      "{\"device\":\"%s\",\"state\":\"fields_changed\",\"ts\":%.3f,"
				      "\"model\":\"zero-config\",\"was\":[", device, now);
	for (int i = 0; i < from->n_fields && off < sizeof buf; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s\"%s\"", i ? "," : "",
					from->fields[i]);
	if (off < sizeof buf)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "],\"fields\":[");
	for (int i = 0; i < n && off < sizeof buf; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s\"%s\"", i ? "," : "",
					now_fields[i]);
	if (off < sizeof buf)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "]}");
	if (off >= sizeof buf ||
	    topic_build(topic, sizeof topic, f->cfg->alert_prefix, device) != IOTAD_OK)
		return;
	f->pub.publish(f->pub.ud, topic, buf, off, f->cfg->qos_out, false);
	if (f->pub.event)
		f->pub.event(f->pub.ud, device, "fields_changed", buf, off);
	LOG_INFO("zero-config: %s changed its fields; judged afresh on the new ones", device);
}

static bool same_fields(const router_slot *s, char (*names)[MODEL_NAME_MAX], int n)
{
	if (s->n_fields != n)
		return false;
	for (int i = 0; i < n; i++)
		if (strcmp(s->fields[i], names[i]))
			return false;
	return true;
}

/* The fallback: the zero-config pipeline of the message's own field set.
 * NULL: rejected (counted by the first shape's pipeline, or no shape yet). */
static router_slot *shape_of(router *f, const msgq_msg *msg, const char *device, double now)
{
	char names[PIPELINE_LEARN_MAX][MODEL_NAME_MAX], detail[160];
	int n = 0;
	reject_reason why = codec_sample_fields(msgq_payload(msg), msg->len, f->cfg->max_payload,
						names, PIPELINE_LEARN_MAX, &n, detail, sizeof detail);
	if (why != REJ_NONE)
		return f->n > f->n_routes ? &f->slot[f->n_routes] : NULL; /* its reject */
	router_slot *match = NULL, *unlearned = NULL;
	for (uint32_t i = f->n_routes; i < f->n; i++) {
		router_slot *s = &f->slot[i];
		if (same_fields(s, names, n))
			match = s;
		else if (!pipeline_det(s->p) && !unlearned)
			unlearned = s; /* learns its fields from this message */
		else if (pipeline_det(s->p) && knows(s, device)) {
			COUNT(f->fields_changed);
			fields_event(f, device, s, names, n, now);
			if (det_forget(pipeline_det(s->p), device))
				f->total--;
			pipeline_devices_changed(s->p);
		}
	}
	if (match || unlearned)
		return match ? match : unlearned;
	if (f->n == ROUTER_SLOTS_MAX || f->n - f->n_routes == ROUTER_SHAPES_MAX)
		return f->n > f->n_routes ? &f->slot[f->n_routes] : NULL; /* missing_feature there */
	char name[CFG_MODEL_NAME];
	snprintf(name, sizeof name, "zero-config-%u", f->n - f->n_routes + 1);
	if (add_slot(f, name, (iotad_config *)f->cfg, NULL, NULL, true) != IOTAD_OK)
		return NULL;
	return &f->slot[f->n - 1];
}

void router_handle(router *f, const msgq_msg *msg, double now)
{
	router_slot *s = &f->slot[0];
	char device[DET_DEVICE_ID_MAX];
	if (f->routing && !msg->bad_topic && !msg->oversize &&
	    topic_device(msgq_topic(msg), f->cfg->device_level, device, sizeof device) == IOTAD_OK) {
		int r = route_match(&f->rt, msgq_topic(msg), msg->topic_len, device);
		if (r != ROUTE_NONE) {
			s = &f->slot[r];
		} else if (!f->fallback || !(s = shape_of(f, msg, device, now))) {
			COUNT(f->no_model);
			if (log_rl_allow(&f->rl, 1000000000LL) >= 0)
				LOG_WARN("no model for device %s on '%.*s' (no_model)", device,
					 (int)(msg->topic_len > 128 ? 128 : msg->topic_len),
					 msgq_topic(msg));
			return;
		}
		if (pipeline_det(s->p) && !make_room(f, s, device)) {
			COUNT(f->cap_refused);
			return;
		}
		det *d0 = pipeline_det(s->p);
		size_t before = det_device_count(d0);
		pipeline_handle(s->p, msg, now);
		if (d0 && d0 == pipeline_det(s->p))
			f->total += det_device_count(d0) - before;
		else
			router_recount(f); /* a zero-config set just built its detector */
		return;
	}
	pipeline_handle(s->p, msg, now);
}

/* --- the rest, on every pipeline -------------------------------------------- */

static router_slot *holder(router *f, const char *device)
{
	for (uint32_t i = 0; i < f->n; i++)
		if (pipeline_det(f->slot[i].p) && knows(&f->slot[i], device))
			return &f->slot[i];
	return &f->slot[0];
}

void router_reconcile(router *f, const char *topic, size_t topic_len, const char *payload,
		     size_t len, double now)
{
	const char *prefix = f->cfg->state_prefix;
	size_t pl = strlen(prefix);
	char device[DET_DEVICE_ID_MAX];
	router_slot *s = &f->slot[0];
	if (f->n > 1 && topic_len > pl + 1 && topic_len - pl - 1 < sizeof device) {
		memcpy(device, topic + pl + 1, topic_len - pl - 1);
		device[topic_len - pl - 1] = '\0';
		s = holder(f, device);
	}
	pipeline_reconcile(s->p, topic, topic_len, payload, len, now);
}

void router_sweep(router *f, double now, bool connected)
{
	for (uint32_t i = 0; i < f->n; i++)
		pipeline_sweep(f->slot[i].p, now, connected);
	router_recount(f);
}

void router_outage(router *f, double seconds, double now)
{
	for (uint32_t i = 0; i < f->n; i++)
		if (pipeline_det(f->slot[i].p))
			pipeline_outage(f->slot[i].p, seconds, now);
}

cmd_reject router_command(router *f, const det_command *cmd, double now, det_result *res,
			 char *detail, size_t dlen)
{
	return pipeline_command(holder(f, cmd->device)->p, cmd, now, res, detail, dlen);
}

void router_command_refused(router *f, cmd_reject why)
{
	pipeline_command_refused(f->slot[0].p, why);
}

void router_reload(router *f, const char *name, reload_switch_fn sw, void *ud, const char *why,
		  int *ok, int *failed)
{
	*ok = *failed = 0;
	for (uint32_t i = 0; i < f->n; i++) {
		router_slot *s = &f->slot[i];
		if (name && strcmp(name, s->name))
			continue;
		if (!pipeline_model(s->p)) {
			if (!f->mixed && i == 0) /* zero-config alone: say why nothing happens */
				reload_model(s->p, "", 0, NULL, NULL, why);
			continue;
		}
		const char *path = f->mixed ? f->cfg->models[i].path : f->cfg->model_path;
		if (reload_model(s->p, path, s->cfg->window, i == 0 ? sw : NULL, ud, why) ==
		    IOTAD_OK) {
			COUNT(s->reloads);
			(*ok)++;
		} else {
			COUNT(s->reload_failed);
			(*failed)++;
		}
	}
	if (name && !*ok && !*failed)
		LOG_WARN("model: reload (%s) of '%s': no model of that name", why, name);
}

pipeline *router_primary(router *f)
{
	return f->slot[0].p;
}

void router_on_scored(router *f, router_scored_fn cb)
{
	f->on_scored = cb;
}

bool router_mixed(const router *f)
{
	return f->mixed;
}

void router_get_counters(router *f, pipeline_counters *out)
{
	pipeline_counters pc;
	pipeline_get_counters(f->slot[0].p, out);
	for (uint32_t i = 1; i < f->n; i++) {
		pipeline_get_counters(f->slot[i].p, &pc);
		const uint64_t *src = (const uint64_t *)&pc;
		uint64_t *dst = (uint64_t *)out;
		for (size_t k = 0; k < sizeof pc / sizeof(uint64_t); k++)
			dst[k] += src[k];
	}
	/* the routed-away messages never reached a pipeline: received counts them */
	uint64_t nm = atomic_load(&f->no_model), cap = atomic_load(&f->cap_refused);
	out->received += nm + cap;
	out->rejected[REJ_NO_MODEL] += nm;
	out->rejected[REJ_DEVICE_CAP] += cap;
	out->evictions += atomic_load(&f->lru_evicted); /* made room across models */
}

uint64_t router_state_rejected(router *f)
{
	return atomic_load(&f->state_rejected);
}

uint64_t router_fields_changed(router *f)
{
	return atomic_load(&f->fields_changed);
}
