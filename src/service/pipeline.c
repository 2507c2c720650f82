/* pipeline.c - one telemetry message through the service: topic → device,
 * payload → sample, detector → event, event → alert, retained state and
 * (for a new device) Home Assistant discovery, all through the publisher
 * interface. */
#include "iotad/pipeline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "iotad/clock.h"
#include "iotad/hass.h"
#include "iotad/log.h"
#include "iotad/model_io.h"
#include "iotad/topic.h"

#define PIPELINE_EVENT_MAX 2048

struct pipeline {
	const iotad_config *cfg;
	pipeline_pub pub;
	const model *m;      /* the model in use: the caller's, or owned after a swap;
			      * NULL in zero-config */
	model desc;          /* zero-config: id "zero-config" and the features, no network */
	model *owned;        /* the last model taken over (NULL before any swap) */
	pthread_mutex_t model_lock; /* guards model_id/model_version for other threads */
	char model_id[MODEL_NAME_MAX];
	int model_version;
	det_config dc;       /* the detector's configuration, to rebuild it */
	det *det;
	float values[MODEL_MAX_FEATURES]; /* one sample (of any later model too) */
	_Atomic uint64_t received, scored, publish_failed, idle_evictions, evictions;
	_Atomic uint64_t late, rewound;
	_Atomic uint64_t not_my_shard; /* another instance's devices (service.shard) */
	_Atomic uint64_t rejected[REJ__COUNT];
	_Atomic uint64_t events[ALERT_EV__COUNT];
	_Atomic uint64_t commands[DET_CMD__COUNT], commands_rejected[CMD__COUNT];
	_Atomic uint64_t devices;  /* det_device_count, mirrored for other threads */
	_Atomic uint64_t raised;   /* det_raised_count, mirrored for other threads */
	_Atomic uint64_t reconciled; /* retained raised states cleared at start */
	struct log_rl rl[REJ__COUNT]; /* one warning a second per reject reason */
	met_hist latency;          /* time in det_push_at */
};

#define COUNT(field) atomic_fetch_add_explicit(&(field), 1, memory_order_relaxed)

/* What a payload is parsed and an event written against: the model, or in
 * zero-config the descriptor holding the features. */
static const model *shape(const pipeline *p)
{
	return p->m ? p->m : &p->desc;
}

static void publish_to(pipeline *p, const char *prefix, const char *device, const char *payload,
		       size_t len, int qos, bool retained)
{
	char topic[TOPIC_MAX];
	if (topic_build(topic, sizeof topic, prefix, device) != IOTAD_OK ||
	    p->pub.publish(p->pub.ud, topic, payload, len, qos, retained) != IOTAD_OK)
		COUNT(p->publish_failed);
}

/* An event: on the alert topic, retained on the state topic, to the live page. */
static void publish_event(pipeline *p, const char *device, alert_event ev, double ts,
			  const det_result *res)
{
	char payload[PIPELINE_EVENT_MAX];
	const char *state = alert_event_name(ev);
	COUNT(p->events[ev]);
	int n = codec_format_event(payload, sizeof payload, device, state, ts, res, shape(p));
	if (n < 0) {
		LOG_RATELIMITED(LOG_ERROR, "event for %s does not fit %d bytes", device,
				PIPELINE_EVENT_MAX);
		COUNT(p->publish_failed);
		return;
	}
	const iotad_config *c = p->cfg;
	publish_to(p, c->alert_prefix, device, payload, (size_t)n, c->qos_out, false);
	if (c->state_prefix[0])
		publish_to(p, c->state_prefix, device, payload, (size_t)n, c->qos_out, true);
	if (p->pub.event)
		p->pub.event(p->pub.ud, device, state, payload, (size_t)n);
	LOG_INFO("alert %s %s score=%.5g threshold=%.5g", device, state, res->score,
		 res->threshold);
}

static void reject(pipeline *p, const msgq_msg *msg, reject_reason why, const char *detail)
{
	COUNT(p->rejected[why]);
	if (LOG_WARN > log_threshold)
		return;
	int sup = log_rl_allow(&p->rl[why], 1000000000LL);
	if (sup < 0)
		return;
	char more[48] = "";
	if (sup > 0)
		snprintf(more, sizeof more, " (%d more %s suppressed)", sup, codec_reject_name(why));
	log_write(LOG_WARN, "rejected message on '%.*s': %s%s%s%s",
		  (int)(msg->topic_len > 128 ? 128 : msg->topic_len), msgq_topic(msg),
		  codec_reject_name(why), detail && *detail ? ": " : "", detail ? detail : "", more);
}

/* Home Assistant discovery (retained) for a device seen for the first time. */
static void announce(pipeline *p, const char *device, double now)
{
	char topic[TOPIC_MAX];
	if (!p->cfg->hass_enabled ||
	    topic_hass(topic, sizeof topic, p->cfg->hass_prefix, hass_node(p->cfg), device) < 0)
		return;
	char *json = hass_config(p->cfg, shape(p), device);
	if (!json || p->pub.publish(p->pub.ud, topic, json, strlen(json), 1, true) != IOTAD_OK)
		COUNT(p->publish_failed);
	free(json);
	/* its first state, so Home Assistant shows off rather than unknown */
	char payload[PIPELINE_EVENT_MAX];
	int n = codec_format_event(payload, sizeof payload, device, PIPELINE_STATE_NORMAL, now,
				   NULL, shape(p));
	if (n > 0 && p->cfg->state_prefix[0])
		publish_to(p, p->cfg->state_prefix, device, payload, (size_t)n, p->cfg->qos_out, true);
}

/* A device forgotten (LRU or idle): its discovery config goes too. */
static void on_evict(void *ud, const char *device)
{
	pipeline *p = ud;
	char topic[TOPIC_MAX];
	if (!p->cfg->hass_enabled ||
	    topic_hass(topic, sizeof topic, p->cfg->hass_prefix, hass_node(p->cfg), device) < 0)
		return;
	if (p->pub.publish(p->pub.ud, topic, "", 0, 1, true) != IOTAD_OK)
		COUNT(p->publish_failed);
}

static void count_raised(pipeline *p)
{
	atomic_store_explicit(&p->raised, det_raised_count(p->det), memory_order_relaxed);
}

/* Zero-config without detector.features: the first message with numeric
 * fields names them (codec_sample_fields, at most PIPELINE_LEARN_MAX), and
 * the detector is built over them. false: the message was rejected. */
static bool learn_features(pipeline *p, const msgq_msg *msg)
{
	char detail[160];
	int n = 0;
	reject_reason why = codec_sample_fields(msgq_payload(msg), msg->len, p->cfg->max_payload,
						p->desc.features, PIPELINE_LEARN_MAX, &n, detail,
						sizeof detail);
	if (why != REJ_NONE) {
		reject(p, msg, why, detail);
		return false;
	}
	char list[PIPELINE_LEARN_MAX * MODEL_NAME_MAX];
	size_t off = 0;
	p->desc.n_features = n;
	p->dc.n_features = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		p->dc.features[i] = p->desc.features[i];
		off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
					p->desc.features[i]);
	}
	iotad_err e = det_create(NULL, &p->dc, &p->det);
	if (e != IOTAD_OK) {
		p->desc.n_features = 0;
		p->dc.n_features = 0;
		reject(p, msg, REJ_MISSING_FEATURE, iotad_strerror(e));
		return false;
	}
	det_on_evict(p->det, on_evict, p);
	LOG_INFO("zero-config: features learned from the first message on '%.*s': %s",
		 (int)(msg->topic_len > 128 ? 128 : msg->topic_len), msgq_topic(msg), list);
	if (p->pub.ready)
		p->pub.ready(p->pub.ud);
	return true;
}

void pipeline_handle(pipeline *p, const msgq_msg *msg, double now)
{
	char device[DET_DEVICE_ID_MAX];
	char detail[256] = "";
	COUNT(p->received);
	if (msg->oversize) {
		reject(p, msg, REJ_OVERSIZE, NULL);
		return;
	}
	if (msg->bad_topic ||
	    topic_device(msgq_topic(msg), p->cfg->device_level, device, sizeof device) != IOTAD_OK) {
		reject(p, msg, REJ_BAD_TOPIC, NULL);
		return;
	}
	if (p->cfg->shard_count &&
	    topic_shard(device, p->cfg->shard_count) != p->cfg->shard_index) {
		COUNT(p->not_my_shard);
		return;
	}
	if (!p->det && !learn_features(p, msg))
		return;
	double ts;
	bool has_ts;
	reject_reason why = codec_parse_sample(msgq_payload(msg), msg->len, p->cfg->max_payload,
					       shape(p), now, &ts, &has_ts, p->values, detail,
					       sizeof detail);
	if (why != REJ_NONE) {
		reject(p, msg, why, detail);
		return;
	}
	const iotad_config *c = p->cfg;
	if (has_ts && c->max_clock_skew > 0 && ts > now + c->max_clock_skew) {
		snprintf(detail, sizeof detail, "ts %.3f is %.0f s ahead of the arrival time", ts,
			 ts - now);
		reject(p, msg, REJ_TS_SKEW, detail);
		return;
	}
	double last_ts, last_seen;
	bool known = det_last_time(p->det, device, &last_ts, &last_seen);
	/* Without ts a known device's sample is placed on the device's own
	 * clock (its newest time plus the time elapsed since it arrived), so a
	 * device whose clock lags is not locked out by the host's time. */
	if (!has_ts && known) {
		ts = last_ts + (now > last_seen ? now - last_seen : 0.0);
		if (!(ts > last_ts))
			ts = nextafter(last_ts, INFINITY);
	}
	det_result res;
	size_t devices_before = det_device_count(p->det);
	uint64_t evictions_before = det_evictions(p->det);
	long long t0 = clock_mono_ns();
	iotad_err err = det_push_at(p->det, device, ts, now, p->values, &res);
	/* Refused as out of order while the device's newest time is ahead of
	 * the host clock beyond the reorder window: that time was wrong, not
	 * this sample. Rewind the device so one sample cannot lock it out. */
	double tol = c->reorder_window > 1.0 ? c->reorder_window : 1.0;
	if (err == IOTAD_ERR_RANGE && known && last_ts > now + tol &&
	    det_rewind(p->det, device, ts)) {
		COUNT(p->rewound);
		err = det_push_at(p->det, device, ts, now, p->values, &res);
	}
	met_hist_observe(&p->latency, (uint64_t)(clock_mono_ns() - t0));
	atomic_store_explicit(&p->evictions, det_evictions(p->det), memory_order_relaxed);
	if (err == IOTAD_ERR_FULL || err == IOTAD_ERR_STATE || err == IOTAD_ERR_RANGE) {
		reject(p, msg, err == IOTAD_ERR_FULL ? REJ_DEVICE_CAP :
			       err == IOTAD_ERR_STATE ? REJ_DUPLICATE : REJ_OUT_OF_ORDER, NULL);
		return;
	}
	if (err != IOTAD_OK) {
		reject(p, msg, REJ_BAD_TOPIC, iotad_strerror(err));
		return;
	}
	if (p->pub.sample)
		p->pub.sample(p->pub.ud, device, p->values, &res);
	size_t devices = det_device_count(p->det);
	atomic_store_explicit(&p->devices, devices, memory_order_relaxed);
	if (devices > devices_before || det_evictions(p->det) > evictions_before)
		announce(p, device, now);
	if (res.late)
		COUNT(p->late);
	if (res.scored) {
		COUNT(p->scored);
		if (p->pub.scored)
			p->pub.scored(p->pub.ud, device, ts, &res);
	}
	if (res.gap) {
		/* its own time jumped: stale at its last sample, then resumed */
		det_result st;
		memset(&st, 0, sizeof st);
		st.event = ALERT_EV_STALE;
		st.seq = res.gap_seq;
		publish_event(p, device, ALERT_EV_STALE, res.gap_ts, &st);
	}
	if (res.event != ALERT_EV_NONE) {
		publish_event(p, device, res.event, ts, &res);
		count_raised(p);
	}
}

/* The "seq" of a retained event payload (0 if absent or not a number). */
static uint64_t retained_seq(const char *payload, size_t len)
{
	static const char key[] = "\"seq\":";
	const char *at = memmem(payload, len, key, sizeof key - 1);
	char num[24];
	if (!at)
		return 0;
	size_t off = (size_t)(at - payload) + sizeof key - 1, n = 0;
	while (off + n < len && n + 1 < sizeof num && payload[off + n] >= '0' &&
	       payload[off + n] <= '9') {
		num[n] = payload[off + n];
		n++;
	}
	num[n] = '\0';
	return n ? strtoull(num, NULL, 10) : 0;
}

void pipeline_reconcile(pipeline *p, const char *topic, size_t topic_len, const char *payload,
			size_t len, double now)
{
	const char *prefix = p->cfg->state_prefix;
	size_t pl = strlen(prefix);
	char device[DET_DEVICE_ID_MAX];
	if (!pl || topic_len <= pl + 1 || memcmp(topic, prefix, pl) || topic[pl] != '/' ||
	    topic_len - pl - 1 >= sizeof device)
		return;
	memcpy(device, topic + pl + 1, topic_len - pl - 1);
	device[topic_len - pl - 1] = '\0';
	static const char raised[] = "\"state\":\"raised\"";
	if (!len || !memmem(payload, len, raised, sizeof raised - 1))
		return;
	/* a device here that is raised, or whose events went past the retained
	 * one (e.g. it cleared since), has its state published already; with a
	 * seq_base (the service's), every number of this run is above it, so an
	 * event of this run is one above the base */
	bool is_raised;
	uint64_t seq, base = p->dc.seq_base;
	if (det_device_known(p->det, device, &is_raised, &seq) &&
	    (is_raised || (base ? seq > base : seq >= retained_seq(payload, len))))
		return;
	det_result res;
	memset(&res, 0, sizeof res);
	COUNT(p->reconciled);
	LOG_INFO("state: %s is retained as raised but not raised here (a restart without its "
		 "state); publishing cleared", device);
	publish_event(p, device, ALERT_EV_CLEARED, now, &res);
}

static void on_sweep(void *ud, const char *device, alert_event ev, double ts, uint64_t seq)
{
	det_result res;
	memset(&res, 0, sizeof res);
	res.event = ev;
	res.seq = seq;
	publish_event(ud, device, ev, ts, &res);
}

void pipeline_sweep(pipeline *p, double now, bool connected)
{
	const iotad_config *c = p->cfg;
	if (!p->det)
		return; /* zero-config before its features are learned */
	if (!connected) {
		/* the devices' silence is ours: only mutes end */
		det_sweep_mutes(p->det, now, on_sweep, p);
		return;
	}
	det_sweep(p->det, now, on_sweep, p); /* stale (when configured) and ended mutes */
	if (c->idle_evict_after > 0)
		atomic_fetch_add(&p->idle_evictions, det_evict(p->det, now, c->idle_evict_after));
	atomic_store(&p->devices, det_device_count(p->det));
	count_raised(p);
}

void pipeline_outage(pipeline *p, double seconds, double now)
{
	det_shift_seen(p->det, seconds, now);
}

/* --- operator commands ---------------------------------------------------- */

cmd_reject pipeline_command(pipeline *p, const det_command *cmd, double now, det_result *res,
			    char *detail, size_t dlen)
{
	det_result local;
	if (!res)
		res = &local;
	iotad_err e = det_command_apply(p->det, cmd, now, res);
	cmd_reject r = e == IOTAD_OK ? CMD_OK :
		       e == IOTAD_ERR_NOTFOUND ? CMD_UNKNOWN_DEVICE :
		       e == IOTAD_ERR_RANGE ? CMD_BAD_DURATION :
		       e == IOTAD_ERR_STATE ? CMD_BAD_STATE : CMD_BAD_DEVICE;
	switch (r) {
	case CMD_OK:
		COUNT(p->commands[cmd->kind]);
		publish_event(p, cmd->device, res->event, now, res);
		LOG_INFO("control: %s %s applied (%s)", det_command_name(cmd->kind), cmd->device,
			 alert_event_name(res->event));
		if (detail && dlen)
			detail[0] = '\0';
		return r;
	case CMD_UNKNOWN_DEVICE:
		snprintf(detail, dlen, "no device \"%s\" (not seen since start, or evicted)",
			 cmd->device);
		break;
	case CMD_BAD_DURATION:
		snprintf(detail, dlen, "mute seconds must be in [0, %.0f]", DET_MUTE_MAX);
		break;
	case CMD_BAD_STATE:
		snprintf(detail, dlen, "%s: device \"%s\" is not %s", det_command_name(cmd->kind),
			 cmd->device, cmd->kind == DET_CMD_FALSE_ALARM ? "raised" : "muted");
		break;
	default:
		snprintf(detail, dlen, "%s", iotad_strerror(e));
		break;
	}
	COUNT(p->commands_rejected[r]);
	return r;
}

void pipeline_command_refused(pipeline *p, cmd_reject why)
{
	if ((unsigned)why < CMD__COUNT && why != CMD_OK)
		COUNT(p->commands_rejected[why]);
}

/* --- the model and detector in use ---------------------------------------- */

static void set_model(pipeline *p, const model *m)
{
	p->m = m;
	pthread_mutex_lock(&p->model_lock);
	snprintf(p->model_id, sizeof p->model_id, "%s", shape(p)->id);
	p->model_version = shape(p)->version;
	pthread_mutex_unlock(&p->model_lock);
}

/* Free the model taken over last. The caller's first model is never
 * freed here: it stays alive until exit. */
static void drop_owned(pipeline *p)
{
	if (p->owned)
		model_free(p->owned);
	free(p->owned);
	p->owned = NULL;
}

const model *pipeline_model(const pipeline *p)
{
	return p->m;
}

bool pipeline_zero_config(const pipeline *p)
{
	return !p->m;
}

uint32_t pipeline_features(const pipeline *p, const char **names, uint32_t max)
{
	const model *m = shape(p);
	uint32_t n = 0;
	for (; n < (uint32_t)m->n_features && n < max; n++)
		names[n] = m->features[n];
	return n;
}

det *pipeline_det(pipeline *p)
{
	return p->det;
}

const det_config *pipeline_det_config(const pipeline *p)
{
	return &p->dc;
}

void pipeline_swap(pipeline *p, model *nm, det *nd)
{
	det_destroy(p->det);
	p->det = nd;
	det_on_evict(nd, on_evict, p);
	drop_owned(p);
	p->owned = nm;
	set_model(p, nm);
	atomic_store(&p->devices, det_device_count(nd));
	count_raised(p);
}

void pipeline_devices_changed(pipeline *p)
{
	atomic_store(&p->devices, p->det ? det_device_count(p->det) : 0);
	if (p->det)
		count_raised(p);
}

iotad_err pipeline_reset(pipeline *p)
{
	det *nd = NULL;
	if (!p->det)
		return IOTAD_OK; /* zero-config before its features are learned: no devices */
	iotad_err e = det_create(p->m, &p->dc, &nd);
	if (e != IOTAD_OK)
		return e;
	det_destroy(p->det);
	p->det = nd;
	det_on_evict(nd, on_evict, p);
	atomic_store(&p->devices, 0);
	atomic_store(&p->raised, 0);
	return IOTAD_OK;
}

void pipeline_get_counters(pipeline *p, pipeline_counters *out)
{
	out->received = atomic_load(&p->received);
	out->scored = atomic_load(&p->scored);
	out->publish_failed = atomic_load(&p->publish_failed);
	out->idle_evictions = atomic_load(&p->idle_evictions);
	out->evictions = atomic_load(&p->evictions);
	out->devices = atomic_load(&p->devices);
	out->raised = atomic_load(&p->raised);
	out->reconciled = atomic_load(&p->reconciled);
	out->late = atomic_load(&p->late);
	out->rewound = atomic_load(&p->rewound);
	out->not_my_shard = atomic_load(&p->not_my_shard);
	for (int i = 0; i < REJ__COUNT; i++)
		out->rejected[i] = atomic_load(&p->rejected[i]);
	for (int i = 0; i < ALERT_EV__COUNT; i++)
		out->events[i] = atomic_load(&p->events[i]);
	for (int i = 0; i < DET_CMD__COUNT; i++)
		out->commands[i] = atomic_load(&p->commands[i]);
	for (int i = 0; i < CMD__COUNT; i++)
		out->commands_rejected[i] = atomic_load(&p->commands_rejected[i]);
}

void pipeline_model_name(pipeline *p, char *id, size_t len, int *version)
{
	pthread_mutex_lock(&p->model_lock);
	snprintf(id, len, "%s", p->model_id);
	*version = p->model_version;
	pthread_mutex_unlock(&p->model_lock);
}

void pipeline_latency(pipeline *p, met_hist_snap *out)
{
	met_hist_read(&p->latency, out);
}

/* --- lifecycle ----------------------------------------------------------- */

iotad_err pipeline_create(const iotad_config *cfg, const model *m, const det_config *dc,
			  const pipeline_pub *pub, pipeline **out)
{
	*out = NULL;
	if (!cfg || !dc || !pub || !pub->publish ||
	    (!m && dc->n_features > MODEL_MAX_FEATURES))
		return IOTAD_ERR_INVAL;
	pipeline *p = calloc(1, sizeof *p);
	if (!p)
		return IOTAD_ERR_NOMEM;
	p->cfg = cfg;
	p->pub = *pub;
	p->dc = *dc;
	pthread_mutex_init(&p->model_lock, NULL);
	snprintf(p->desc.id, sizeof p->desc.id, "zero-config");
	for (uint32_t i = 0; !m && i < dc->n_features; i++)
		snprintf(p->desc.features[i], MODEL_NAME_MAX, "%s",
			 dc->features[i] ? dc->features[i] : "");
	p->desc.n_features = m ? 0 : (int)dc->n_features;
	set_model(p, m);
	/* zero-config without features: the detector waits for the first message */
	iotad_err e = m || dc->n_features ? det_create(m, dc, &p->det) : IOTAD_OK;
	if (e != IOTAD_OK) {
		pipeline_destroy(p);
		return e;
	}
	if (p->det)
		det_on_evict(p->det, on_evict, p);
	*out = p;
	return IOTAD_OK;
}

void pipeline_destroy(pipeline *p)
{
	if (!p)
		return;
	det_destroy(p->det);
	drop_owned(p);
	pthread_mutex_destroy(&p->model_lock);
	free(p);
}
