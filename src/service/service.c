/* service.c - the `iotad run` pipeline: queue between Paho's thread and
 * the scorer, decode, score, publish alerts and retained state. */
#include "iotad/service.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iotad/api.h"
#include "iotad/detector.h"
#include "iotad/http.h"
#include "iotad/log.h"
#include "iotad/model_io.h"
#include "iotad/mqtt.h"
#include "iotad/state.h"

#define SVC_BATCH 256
#define SVC_TOPIC_MAX 512
#define SVC_EVENT_MAX 2048
#define SVC_STATS_EVERY 60.0

/* One queued message: topic and payload copied out of Paho's buffers. */
typedef struct svc_msg {
	uint32_t topic_len;
	uint32_t len;        /* payload bytes stored */
	uint16_t oversize;   /* payload was larger than max_payload (not stored) */
	uint16_t bad_topic;  /* topic too long or holding a NUL (stored cut) */
	char data[];         /* topic, NUL, payload */
} svc_msg;

typedef struct svc_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	svc_msg **slots;
	uint32_t cap, head, count;
	bool closed;         /* refuse new messages (shutting down) */
} svc_queue;

struct svc {
	const iotad_config *cfg;
	const model *m;      /* the model in use: the caller's, or owned after a reload */
	model *owned;        /* the last reloaded model (NULL before any reload) */
	pthread_mutex_t model_lock; /* guards model_id/model_version for other threads */
	char model_id[MODEL_NAME_MAX];
	int model_version;
	volatile sig_atomic_t *reload_flag; /* set (e.g. by SIGHUP) to reload model.path */
	det_config dc;       /* the detector's configuration, to rebuild it */
	det *det;
	mq *mq;
	svc_queue q;
	float *values;       /* one sample, n_features */
	_Atomic uint64_t received, scored, publish_failed, refused_full, idle_evictions, evictions;
	_Atomic uint64_t state_rejected, state_save_failed, reloads, reload_failed;
	_Atomic uint64_t rejected[REJ__COUNT];
	_Atomic uint64_t events[4];
	_Atomic uint64_t devices;  /* det_device_count, mirrored for other threads */
	met_hist score_hist;       /* time in det_push_at */
	double started;            /* epoch seconds */
	http *http;                /* NULL when http.listen is empty */
};

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define COUNT(field) atomic_fetch_add_explicit(&(field), 1, memory_order_relaxed)

/* --- queue --------------------------------------------------------------- */

static iotad_err queue_init(svc_queue *q, uint32_t cap)
{
	memset(q, 0, sizeof *q);
	q->slots = calloc(cap, sizeof *q->slots);
	if (!q->slots)
		return IOTAD_ERR_NOMEM;
	q->cap = cap;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	return IOTAD_OK;
}

static void queue_free(svc_queue *q)
{
	if (!q->slots)
		return;
	for (uint32_t i = 0; i < q->count; i++)
		free(q->slots[(q->head + i) % q->cap]);
	free(q->slots);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
}

/* Take up to max messages, waiting up to wait_ms for the first. */
static uint32_t queue_take(svc_queue *q, svc_msg **out, uint32_t max, int wait_ms)
{
	pthread_mutex_lock(&q->lock);
	if (q->count == 0 && wait_ms > 0) {
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_nsec += (long)wait_ms * 1000000L;
		dl.tv_sec += dl.tv_nsec / 1000000000L;
		dl.tv_nsec %= 1000000000L;
		while (q->count == 0 && pthread_cond_timedwait(&q->cond, &q->lock, &dl) != ETIMEDOUT)
			;
	}
	uint32_t n = 0;
	while (n < max && q->count > 0) {
		out[n++] = q->slots[q->head];
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	pthread_mutex_unlock(&q->lock);
	return n;
}

/* Paho's thread: copy the message in, or refuse it (queue full or closing). */
static bool on_message(void *ud, const char *topic, size_t topic_len, const void *payload,
		       size_t len, int qos, bool retained)
{
	(void)qos;
	(void)retained;
	svc *s = ud;
	if (retained && s->cfg->control_topic[0] && topic_len == strlen(s->cfg->control_topic) &&
	    !memcmp(topic, s->cfg->control_topic, topic_len)) {
		LOG_WARN("control: ignoring a retained message on %s", s->cfg->control_topic);
		return true;
	}
	/* A cut or NUL-holding topic could name another device: rejected later. */
	bool bad_topic = topic_len >= SVC_TOPIC_MAX || memchr(topic, '\0', topic_len);
	if (topic_len >= SVC_TOPIC_MAX)
		topic_len = SVC_TOPIC_MAX - 1;
	bool oversize = len > s->cfg->max_payload;
	size_t stored = oversize ? 0 : len;
	svc_queue *q = &s->q;
	pthread_mutex_lock(&q->lock);
	if (q->closed || q->count == q->cap) {
		bool closed = q->closed;
		pthread_mutex_unlock(&q->lock);
		if (!closed)
			COUNT(s->refused_full);
		return false;
	}
	pthread_mutex_unlock(&q->lock);

	svc_msg *msg = malloc(sizeof *msg + topic_len + 1 + stored);
	if (!msg)
		return false;
	msg->topic_len = (uint32_t)topic_len;
	msg->len = (uint32_t)stored;
	msg->oversize = oversize;
	msg->bad_topic = bad_topic;
	memcpy(msg->data, topic, topic_len);
	msg->data[topic_len] = '\0';
	if (stored)
		memcpy(msg->data + topic_len + 1, payload, stored);

	pthread_mutex_lock(&q->lock);
	/* Only this thread adds, so the room seen above is still there. */
	q->slots[(q->head + q->count) % q->cap] = msg;
	q->count++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return true;
}

/* --- scoring ------------------------------------------------------------- */

/* A topic level iotad may publish under: printable ASCII without '+', '#'
 * or '/' (so it is exactly one level and never a wildcard). */
static bool topic_level_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	if (n == 0 || n == max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '+' || ch == '#' || ch == '/')
			return false;
	}
	return true;
}

iotad_err svc_topic(char *buf, size_t len, const char *prefix, const char *device)
{
	if (!buf || len == 0)
		return IOTAD_ERR_INVAL;
	buf[0] = '\0';
	if (!prefix || !device || !topic_level_ok(device, DET_DEVICE_ID_MAX))
		return IOTAD_ERR_INVAL;
	size_t pl = strlen(prefix);
	if (pl == 0 || prefix[pl - 1] == '/' || strpbrk(prefix, "+#"))
		return IOTAD_ERR_INVAL;
	for (size_t i = 0; i < pl; i++)
		if ((unsigned char)prefix[i] < 0x20 || prefix[i] == 0x7f)
			return IOTAD_ERR_INVAL;
	int n = snprintf(buf, len, "%s/%s", prefix, device);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return IOTAD_ERR_RANGE;
	}
	return IOTAD_OK;
}

static void publish_event(svc *s, const char *device, const char *state, double ts,
			  const det_result *res)
{
	char topic[SVC_TOPIC_MAX], payload[SVC_EVENT_MAX];
	int n = codec_format_event(payload, sizeof payload, device, state, ts, res, s->m);
	if (n < 0) {
		LOG_RATELIMITED(LOG_ERROR, "event for %s does not fit %d bytes", device, SVC_EVENT_MAX);
		COUNT(s->publish_failed);
		return;
	}
	const iotad_config *c = s->cfg;
	if (svc_topic(topic, sizeof topic, c->alert_prefix, device) != IOTAD_OK ||
	    mq_publish(s->mq, topic, payload, (size_t)n, c->qos_out, false, -1) != IOTAD_OK)
		COUNT(s->publish_failed);
	if (c->state_prefix[0]) {
		if (svc_topic(topic, sizeof topic, c->state_prefix, device) != IOTAD_OK ||
		    mq_publish(s->mq, topic, payload, (size_t)n, c->qos_out, true, -1) != IOTAD_OK)
			COUNT(s->publish_failed);
	}
	http_event(s->http, device, state, payload, (size_t)n);
	LOG_INFO("alert %s %s score=%.5g threshold=%.5g", device, state, res->score,
		 res->threshold);
}

static void reject(svc *s, const svc_msg *msg, reject_reason why, const char *detail)
{
	COUNT(s->rejected[why]);
	LOG_RATELIMITED(LOG_WARN, "rejected message on '%.*s': %s%s%s", (int)(msg->topic_len > 128 ? 128 : msg->topic_len),
			msg->data, codec_reject_name(why), detail && *detail ? ": " : "",
			detail ? detail : "");
}

/* Home Assistant discovery (retained) for a device seen for the first time. */
static void announce(svc *s, const char *device)
{
	char topic[SVC_TOPIC_MAX];
	if (!s->cfg->hass_enabled ||
	    api_hass_topic(topic, sizeof topic, s->cfg->hass_prefix, device) < 0)
		return;
	char *json = api_hass_config(s->cfg, s->m, device);
	if (!json || mq_publish(s->mq, topic, json, strlen(json), 1, true, -1) != IOTAD_OK)
		COUNT(s->publish_failed);
	free(json);
}

static void reload_model(svc *s, const char *why);

/* A message on the control topic. */
static void control(svc *s, const svc_msg *msg)
{
	const char *p = msg->data + msg->topic_len + 1;
	size_t n = msg->len;
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (n == 6 && !memcmp(p, "reload", 6)) {
		reload_model(s, "control topic");
		return;
	}
	LOG_RATELIMITED(LOG_WARN, "control: unknown command on %s (%zu bytes); expected 'reload'",
			s->cfg->control_topic, (size_t)msg->len);
}

static void handle(svc *s, const svc_msg *msg)
{
	char device[DET_DEVICE_ID_MAX];
	char detail[160] = "";
	if (s->cfg->control_topic[0] && !msg->bad_topic && !msg->oversize &&
	    !strcmp(msg->data, s->cfg->control_topic)) {
		control(s, msg);
		return;
	}
	COUNT(s->received);
	if (msg->oversize) {
		reject(s, msg, REJ_OVERSIZE, NULL);
		return;
	}
	reject_reason why = msg->bad_topic ? REJ_BAD_TOPIC :
			    codec_device_from_topic(msg->data, s->cfg->device_level, device,
						    sizeof device);
	if (why != REJ_NONE) {
		reject(s, msg, why, NULL);
		return;
	}
	double ts;
	bool has_ts;
	why = codec_parse_sample(msg->data + msg->topic_len + 1, msg->len, s->cfg->max_payload, s->m,
				 wall_now(), &ts, &has_ts, s->values, detail, sizeof detail);
	if (why != REJ_NONE) {
		reject(s, msg, why, detail);
		return;
	}
	det_result res;
	size_t devices_before = det_device_count(s->det);
	uint64_t evictions_before = det_evictions(s->det);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	iotad_err err = det_push_at(s->det, device, ts, wall_now(), s->values, &res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	met_hist_observe(&s->score_hist, (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
						     (t1.tv_nsec - t0.tv_nsec)));
	atomic_store_explicit(&s->evictions, det_evictions(s->det), memory_order_relaxed);
	if (err == IOTAD_ERR_FULL || err == IOTAD_ERR_STATE || err == IOTAD_ERR_RANGE) {
		reject(s, msg, err == IOTAD_ERR_FULL ? REJ_DEVICE_CAP :
			       err == IOTAD_ERR_STATE ? REJ_DUPLICATE : REJ_OUT_OF_ORDER, NULL);
		return;
	}
	if (err != IOTAD_OK) {
		reject(s, msg, REJ_BAD_TOPIC, iotad_strerror(err));
		return;
	}
	size_t devices = det_device_count(s->det);
	atomic_store_explicit(&s->devices, devices, memory_order_relaxed);
	if (devices > devices_before || det_evictions(s->det) > evictions_before)
		announce(s, device);
	if (res.scored) {
		COUNT(s->scored);
		http_sample(s->http, device, ts, &res);
	}
	if (res.event != ALERT_EV_NONE) {
		COUNT(s->events[res.event]);
		publish_event(s, device, alert_event_name(res.event), ts, &res);
	}
}

static void on_stale(void *ud, const char *device, double last_ts, uint64_t seq)
{
	svc *s = ud;
	det_result res;
	memset(&res, 0, sizeof res);
	res.event = ALERT_EV_STALE;
	res.seq = seq;
	COUNT(s->events[ALERT_EV_STALE]);
	publish_event(s, device, alert_event_name(ALERT_EV_STALE), last_ts, &res);
}

static void log_stats(svc *s, const char *when)
{
	svc_counters c;
	svc_get_counters(s, &c);
	char rej[512];
	size_t off = 0;
	rej[0] = '\0';
	for (int r = 1; r < REJ__COUNT && off < sizeof rej; r++)
		if (c.rejected[r])
			off += (size_t)snprintf(rej + off, sizeof rej - off, " %s=%llu",
						codec_reject_name((reject_reason)r),
						(unsigned long long)c.rejected[r]);
	LOG_INFO("stats (%s): received=%llu scored=%llu devices=%zu evictions=%llu "
		 "idle_evictions=%llu raised=%llu cleared=%llu "
		 "stale=%llu publish_failed=%llu refused_full=%llu state_rejected=%llu "
		 "state_save_failed=%llu reloads=%llu reload_failed=%llu rejected:%s",
		 when, (unsigned long long)c.received, (unsigned long long)c.scored,
		 det_device_count(s->det), (unsigned long long)c.evictions,
		 (unsigned long long)c.idle_evictions, (unsigned long long)c.events[ALERT_EV_RAISED],
		 (unsigned long long)c.events[ALERT_EV_CLEARED],
		 (unsigned long long)c.events[ALERT_EV_STALE],
		 (unsigned long long)c.publish_failed, (unsigned long long)c.refused_full,
		 (unsigned long long)c.state_rejected, (unsigned long long)c.state_save_failed,
		 (unsigned long long)c.reloads, (unsigned long long)c.reload_failed,
		 off ? rej : " none");
}

/* --- model reload -------------------------------------------------------- */

/* Load model.path again and swap it in between two messages: the new model
 * is loaded, checked and given a detector first; any failure keeps the
 * running one. Devices keep their alert state and seq (and their windows
 * when the input is unchanged); thresholds restart from the new model's
 * calibration. Scorer thread. */
static void reload_model(svc *s, const char *why)
{
	const char *path = s->cfg->model_path;
	char err[512];
	model *nm = calloc(1, sizeof *nm);
	det *nd = NULL;
	bool kept = false;
	iotad_err e = nm ? model_load(path, nm, err, sizeof err) : IOTAD_ERR_NOMEM;
	if (e == IOTAD_OK && s->cfg->window && s->cfg->window != nm->window) {
		snprintf(err, sizeof err, "window %d does not match model.window %d", nm->window,
			 s->cfg->window);
		e = IOTAD_ERR_MODEL;
	}
	if (e == IOTAD_OK && (e = det_create(nm, &s->dc, &nd)) != IOTAD_OK)
		snprintf(err, sizeof err, "no detector for it: %s", iotad_strerror(e));
	if (e == IOTAD_OK && (e = det_adopt(nd, s->det, &kept)) != IOTAD_OK)
		snprintf(err, sizeof err, "devices not carried over: %s", iotad_strerror(e));
	/* last: once /v1/score has switched, the old model may be freed below */
	if (e == IOTAD_OK && s->http && (e = http_set_model(s->http, nm)) != IOTAD_OK)
		snprintf(err, sizeof err, "/v1/score not switched: %s", iotad_strerror(e));
	if (e != IOTAD_OK) {
		COUNT(s->reload_failed);
		LOG_ERR("model: reload (%s) of %s failed, keeping %s v%d: %s", why, path, s->m->id,
			s->m->version, e == IOTAD_ERR_NOMEM ? iotad_strerror(e) : err);
		det_destroy(nd);
		if (nm)
			model_free(nm);
		free(nm);
		return;
	}
	LOG_INFO("model: reloaded (%s) %s: %s v%d replaces %s v%d; %zu devices kept%s", why, path,
		 nm->id, nm->version, s->m->id, s->m->version, det_device_count(nd),
		 kept ? " with their windows" : ", windows refill (input changed)");
	det_destroy(s->det);
	s->det = nd;
	/* The caller's first model stays alive until exit; a model this
	 * service loaded itself is freed when replaced (the HTTP scorer
	 * switched to nm above, so no request holds the old one). */
	if (s->owned) {
		model_free(s->owned);
		free(s->owned);
	}
	s->owned = nm;
	s->m = nm;
	pthread_mutex_lock(&s->model_lock);
	snprintf(s->model_id, sizeof s->model_id, "%s", nm->id);
	s->model_version = nm->version;
	pthread_mutex_unlock(&s->model_lock);
	COUNT(s->reloads);
}

void svc_reload_on(svc *s, volatile sig_atomic_t *flag)
{
	s->reload_flag = flag;
}

/* --- state file ---------------------------------------------------------- */

/* Restore the devices from service.state_file. A file for another model or
 * threshold is ignored; a damaged one is reported and the service starts
 * with no devices. Either is counted in state_rejected. */
static iotad_err restore_state(svc *s)
{
	const char *path = s->cfg->state_file;
	char err[600];
	size_t n = 0;
	iotad_err e = state_load(s->det, path, &n, err, sizeof err);
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
		COUNT(s->state_rejected);
		LOG_WARN("state: ignoring %s; starting with no devices", err);
		break;
	default:
		COUNT(s->state_rejected);
		LOG_ERR("state: cannot use %s; starting with no devices", err);
		det_destroy(s->det);
		s->det = NULL;
		return det_create(s->m, &s->dc, &s->det);
	}
	atomic_store(&s->devices, det_device_count(s->det));
	return IOTAD_OK;
}

static void save_state(svc *s, const char *when)
{
	char err[600];
	size_t n = 0;
	if (state_save(s->det, s->cfg->state_file, &n, err, sizeof err) != IOTAD_OK) {
		COUNT(s->state_save_failed);
		LOG_RATELIMITED(LOG_ERROR, "state: cannot save (%s): %s", when, err);
		return;
	}
	LOG_DBG("state: saved %zu devices to %s (%s)", n, s->cfg->state_file, when);
}

/* --- lifecycle ----------------------------------------------------------- */

iotad_err svc_create(const iotad_config *cfg, const model *m, svc **out)
{
	*out = NULL;
	svc *s = calloc(1, sizeof *s);
	if (!s)
		return IOTAD_ERR_NOMEM;
	s->cfg = cfg;
	s->m = m;
	pthread_mutex_init(&s->model_lock, NULL);
	snprintf(s->model_id, sizeof s->model_id, "%s", m->id);
	s->model_version = m->version;
	det_config dc;
	config_det(cfg, &dc);
	s->dc = dc;
	iotad_err err = IOTAD_ERR_NOMEM;
	s->values = calloc(MODEL_MAX_FEATURES, sizeof *s->values); /* any reloaded model's */
	if (!s->values || (err = queue_init(&s->q, cfg->queue_size)) != IOTAD_OK ||
	    (err = det_create(m, &dc, &s->det)) != IOTAD_OK)
		goto fail;
	if (cfg->state_file[0] && (err = restore_state(s)) != IOTAD_OK)
		goto fail;
	mq_opts mo = {
		.uri = cfg->broker_uri,
		.client_id = cfg->client_id,
		.username = cfg->username,
		.password = cfg->password,
		.will_topic = cfg->status_topic[0] ? cfg->status_topic : NULL,
		.will_payload = "offline",
		.online_payload = "online",
		.keepalive = cfg->keepalive,
		.clean_session = cfg->clean_session,
		.max_inflight = cfg->max_inflight,
		.tls_ca_file = cfg->tls_ca_file,
		.tls_cert_file = cfg->tls_cert_file,
		.tls_key_file = cfg->tls_key_file,
		.tls_no_hostname_check = !cfg->tls_verify_hostname,
		.on_message = on_message,
		.ud = s,
	};
	if ((err = mq_create(&mo, &s->mq)) != IOTAD_OK)
		goto fail;
	*out = s;
	return IOTAD_OK;
fail:
	svc_destroy(s);
	return err;
}

static void metrics_of(void *ud, met_snapshot *out)
{
	svc_get_metrics(ud, out);
}

iotad_err svc_run(svc *s, volatile sig_atomic_t *stop)
{
	const iotad_config *c = s->cfg;
	iotad_err err = mq_subscribe(s->mq, c->telemetry_filter, c->qos_in);
	if (err == IOTAD_OK && c->control_topic[0])
		err = mq_subscribe(s->mq, c->control_topic, 1);
	s->started = wall_now();
	if (err == IOTAD_OK && c->http_listen[0]) {
		http_opts ho = {.listen = c->http_listen, .max_body = c->http_max_body,
				.page = c->http_page, .m = s->m, .det = &s->dc,
				.metrics = metrics_of, .ud = s};
		err = http_create(&ho, &s->http);
	}
	if (err == IOTAD_OK)
		err = mq_start(s->mq);
	if (err != IOTAD_OK)
		return err;
	LOG_INFO("scoring %s with model %s v%d (window %d x %d features), alerts on %s/+",
		 c->telemetry_filter, s->m->id, s->m->version, s->m->window, s->m->n_features,
		 c->alert_prefix);

	svc_msg *batch[SVC_BATCH];
	double next_sweep = mono_now() + 1.0, next_stats = mono_now() + SVC_STATS_EVERY;
	double next_save = mono_now() + c->state_interval;
	while (!*stop) {
		uint32_t n = queue_take(&s->q, batch, SVC_BATCH, 200);
		for (uint32_t i = 0; i < n; i++) {
			handle(s, batch[i]);
			free(batch[i]);
		}
		if (s->reload_flag && *s->reload_flag) {
			*s->reload_flag = 0;
			reload_model(s, "SIGHUP");
		}
		double now = mono_now();
		if (now >= next_sweep) {
			if (c->stale_after > 0)
				det_sweep(s->det, wall_now(), on_stale, s);
			if (c->idle_evict_after > 0)
				atomic_fetch_add(&s->idle_evictions,
						 det_evict(s->det, wall_now(), c->idle_evict_after));
			next_sweep = now + 1.0;
			atomic_store(&s->devices, det_device_count(s->det));
		}
		if (now >= next_stats) {
			log_stats(s, "periodic");
			next_stats = now + SVC_STATS_EVERY;
		}
		if (c->state_file[0] && now >= next_save) {
			save_state(s, "periodic");
			next_save = mono_now() + c->state_interval;
		}
	}

	/* Orderly shutdown: refuse new input, score what was accepted, then say
	 * goodbye. Messages Paho delivers from here to the disconnect were
	 * already acknowledged and are lost (docs/reliability.md). */
	pthread_mutex_lock(&s->q.lock);
	s->q.closed = true;
	pthread_mutex_unlock(&s->q.lock);
	uint32_t n;
	while ((n = queue_take(&s->q, batch, SVC_BATCH, 0)) > 0)
		for (uint32_t i = 0; i < n; i++) {
			handle(s, batch[i]);
			free(batch[i]);
		}
	if (c->state_file[0])
		save_state(s, "shutdown");
	if (c->status_topic[0])
		mq_publish(s->mq, c->status_topic, "offline", 7, 1, true, 2000);
	log_stats(s, "final");
	return IOTAD_OK;
}

void svc_get_counters(svc *s, svc_counters *out)
{
	out->received = atomic_load(&s->received);
	out->scored = atomic_load(&s->scored);
	out->publish_failed = atomic_load(&s->publish_failed);
	out->refused_full = atomic_load(&s->refused_full);
	out->idle_evictions = atomic_load(&s->idle_evictions);
	out->evictions = atomic_load(&s->evictions);
	out->state_rejected = atomic_load(&s->state_rejected);
	out->state_save_failed = atomic_load(&s->state_save_failed);
	out->reloads = atomic_load(&s->reloads);
	out->reload_failed = atomic_load(&s->reload_failed);
	for (int i = 0; i < REJ__COUNT; i++)
		out->rejected[i] = atomic_load(&s->rejected[i]);
	for (int i = 0; i < 4; i++)
		out->events[i] = atomic_load(&s->events[i]);
}

void svc_get_metrics(svc *s, met_snapshot *out)
{
	svc_counters c;
	mq_stats ms;

	memset(out, 0, sizeof *out);
	svc_get_counters(s, &c);
	mq_get_stats(s->mq, &ms);
	out->received = c.received;
	out->scored = c.scored;
	out->refused_full = c.refused_full;
	memcpy(out->rejected, c.rejected, sizeof out->rejected);
	memcpy(out->events, c.events, sizeof out->events);
	out->publish_failed = c.publish_failed;
	out->evictions_lru = c.evictions;
	out->evictions_idle = c.idle_evictions;
	out->model_reloads = c.reloads;
	out->model_reload_failures = c.reload_failed;
	out->state_rejected = c.state_rejected;
	out->published = ms.published;
	out->reconnects = ms.reconnects;
	out->inflight = ms.inflight;
	out->connected = ms.connected;
	out->devices = atomic_load(&s->devices);
	out->max_devices = s->cfg->max_devices;
	pthread_mutex_lock(&s->q.lock);
	out->queue_depth = s->q.count;
	pthread_mutex_unlock(&s->q.lock);
	out->queue_capacity = s->q.cap;
	out->model_loaded = true;
	pthread_mutex_lock(&s->model_lock);
	snprintf(out->model_id, sizeof out->model_id, "%s", s->model_id);
	out->model_version = s->model_version;
	pthread_mutex_unlock(&s->model_lock);
	out->start_time = s->started;
	met_hist_read(&s->score_hist, &out->score);
}

void svc_destroy(svc *s)
{
	if (!s)
		return;
	http_destroy(s->http);
	mq_destroy(s->mq, 5000);
	det_destroy(s->det);
	queue_free(&s->q);
	free(s->values);
	if (s->owned) {
		model_free(s->owned);
		free(s->owned);
	}
	pthread_mutex_destroy(&s->model_lock);
	free(s);
}
