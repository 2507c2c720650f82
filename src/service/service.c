/* service.c - `iotad run`: wires MQTT (mqtt.c) to the bounded queue
 * (msgq.c), the scorer thread's pipeline (pipeline.c), model reload and
 * the state file (reload.c), and the HTTP door (http.c). */
#include "iotad/service.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iotad/clock.h"
#include "iotad/detector.h"
#include "iotad/http.h"
#include "iotad/live.h"
#include "iotad/log.h"
#include "iotad/mqtt.h"
#include "iotad/msgq.h"
#include "iotad/outbox.h"
#include "iotad/pipeline.h"
#include "iotad/reload.h"

#define SVC_BATCH 256
#define SVC_OUTBOX 4096 /* alert and state publishes waiting for the window */
#define SVC_STATS_EVERY 60.0

#define SVC_SEQ_PER_SECOND 65536u

struct svc {
	const iotad_config *cfg;
	volatile sig_atomic_t *reload_flag; /* set (e.g. by SIGHUP) to reload model.path */
	pipeline *p;
	svc_sample_cb on_sample;   /* every sample the detector took (federated), or NULL */
	void *on_sample_ud;
	svc_fed_cb on_fed;
	void *on_fed_ud;
	mq *mq;
	msgq q;
	outbox out;                /* publishes waiting for the MQTT window */
	_Atomic uint64_t refused_full, state_rejected, state_save_failed, reloads, reload_failed;
	double started;            /* epoch seconds */
	http *http;                /* NULL when http.listen is empty */
	double disconnected_at;    /* wall clock the broker was lost at; 0: connected */
	/* one operator command handed from an HTTP thread to the scorer */
	pthread_mutex_t ctl_call;  /* one caller at a time */
	pthread_mutex_t ctl_lock;  /* guards the fields below */
	pthread_cond_t ctl_cond;
	uint64_t ctl_ticket;       /* the request's number */
	uint64_t ctl_done;         /* the last request answered */
	bool ctl_pending;          /* ctl_cmd waits for the scorer */
	det_command ctl_cmd;
	cmd_reject ctl_result;
	det_result ctl_res;
	char ctl_detail[160];
};

#define COUNT(field) atomic_fetch_add_explicit(&(field), 1, memory_order_relaxed)

static bool is_control(const svc *s, const char *topic, size_t topic_len)
{
	const char *ct = s->cfg->control_topic;
	return ct[0] && topic_len == strlen(ct) && !memcmp(topic, ct, topic_len);
}

/* A topic under the state prefix (state_prefix/DEVICE): read back at start
 * to reconcile retained states (pipeline_reconcile). */
static bool is_state(const svc *s, const char *topic, size_t topic_len)
{
	const char *sp = s->cfg->state_prefix;
	size_t n = strlen(sp);
	return n && topic_len > n + 1 && !memcmp(topic, sp, n) && topic[n] == '/';
}

/* Paho's thread: copy the message in, or refuse it (queue full or closing). */
static bool on_message(void *ud, const char *topic, size_t topic_len, const void *payload,
		       size_t len, int qos, bool retained)
{
	(void)qos;
	svc *s = ud;
	if (retained && is_control(s, topic, topic_len)) {
		LOG_WARN("control: ignoring a retained message on %s", s->cfg->control_topic);
		return true;
	}
	if (!retained && is_state(s, topic, topic_len))
		return true; /* our own state publishes coming back: only retained ones matter */
	msgq_offer_result r = msgq_offer(&s->q, topic, topic_len, payload, len, s->cfg->max_payload);
	if (r == MSGQ_FULL)
		COUNT(s->refused_full);
	return r == MSGQ_ACCEPTED;
}

/* --- the pipeline's publisher ---------------------------------------------- */

static iotad_err pub_publish(void *ud, const char *topic, const void *payload, size_t len,
			     int qos, bool retained)
{
	svc *s = ud;
	return outbox_publish(&s->out, s->mq, topic, payload, len, qos, retained);
}

static void pub_sample(void *ud, const char *device, const float *raw, const det_result *res)
{
	svc *s = ud;
	if (s->on_sample)
		s->on_sample(s->on_sample_ud, device, raw, res);
}

static void pub_scored(void *ud, const char *device, double ts, const det_result *res)
{
	svc *s = ud;
	live_sample(http_live(s->http), device, ts, res);
}

static void pub_event(void *ud, const char *device, const char *state, const char *json,
		      size_t len)
{
	svc *s = ud;
	live_event(http_live(s->http), device, state, json, len);
}

/* --- scorer thread ----------------------------------------------------------- */

static iotad_err switch_http(void *ud, const model *m)
{
	svc *s = ud;
	return s->http ? http_set_model(s->http, m) : IOTAD_OK;
}

static void reload(svc *s, const char *why)
{
	if (pipeline_zero_config(s->p)) {
		reload_model(s->p, s->cfg->model_path, s->cfg->window, NULL, NULL, why); /* logs */
		return;
	}
	if (reload_model(s->p, s->cfg->model_path, s->cfg->window, switch_http, s, why) == IOTAD_OK)
		COUNT(s->reloads);
	else
		COUNT(s->reload_failed);
}

void svc_reload_on(svc *s, volatile sig_atomic_t *flag)
{
	s->reload_flag = flag;
}

void svc_on_federated(svc *s, svc_fed_cb cb, void *ud)
{
	s->on_fed = cb;
	s->on_fed_ud = ud;
}

void svc_on_sample(svc *s, svc_sample_cb cb, void *ud)
{
	s->on_sample = cb;
	s->on_sample_ud = ud;
}

#define SVC_SAVE_BACKOFF_MAX 600.0

/* Save the state file; true if it was written. */
static bool save_state(svc *s, const char *when)
{
	if (reload_state_save(s->p, s->cfg->state_file, when) == IOTAD_OK)
		return true;
	COUNT(s->state_save_failed);
	return false;
}

/* Zero-config built its detector from the first message's fields: the
 * state file is restored now. */
static void pub_ready(void *ud)
{
	svc *s = ud;
	bool rejected = false;
	if (!s->cfg->state_file[0])
		return;
	if (reload_state_restore(s->p, s->cfg->state_file, &rejected) != IOTAD_OK)
		LOG_ERR("state: not restored: out of memory");
	if (rejected)
		COUNT(s->state_rejected);
}

/* Seconds to the next periodic save: state_interval, doubled after each
 * failure in a row up to SVC_SAVE_BACKOFF_MAX (or state_interval if longer),
 * so a save that cannot work is tried (and logged) ever less often. */
static double save_delay(const iotad_config *c, int failures)
{
	double d = c->state_interval;
	double cap = c->state_interval > SVC_SAVE_BACKOFF_MAX ? c->state_interval
							     : SVC_SAVE_BACKOFF_MAX;
	for (int i = 0; i < failures && d < cap; i++)
		d *= 2;
	return d < cap ? d : cap;
}

/* A message on the control topic: "reload", or a JSON command on a device
 * ({"command": "mute", "device": "d1", "seconds": 600}, see codec.h). */
static void control(svc *s, const msgq_msg *msg)
{
	const char *p = msgq_payload(msg);
	size_t n = msg->len;
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (n == 6 && !memcmp(p, "reload", 6)) {
		reload(s, "control topic");
		return;
	}
	det_command cmd;
	char detail[200] = "";
	cmd_reject r = codec_parse_command(p, n, &cmd, detail, sizeof detail);
	if (r == CMD_OK)
		r = pipeline_command(s->p, &cmd, clock_wall(), NULL, detail, sizeof detail);
	else
		pipeline_command_refused(s->p, r);
	if (r != CMD_OK)
		LOG_RATELIMITED(LOG_WARN,
				"control: refused a command on %s (%s): %s; expected 'reload' or "
				"{\"command\": \"rebaseline\"|\"mute\"|\"false_alarm\", \"device\": ID"
				"[, \"seconds\": N]}",
				s->cfg->control_topic, codec_cmd_reject_name(r), detail);
}

/* HTTP thread: hand cmd to the scorer and wait (3 s at most) for its outcome. */
static cmd_reject http_command_of(void *ud, const det_command *cmd, det_result *res,
				  char *detail, size_t detail_len)
{
	svc *s = ud;
	cmd_reject r;
	struct timespec dl;

	pthread_mutex_lock(&s->ctl_call);
	pthread_mutex_lock(&s->ctl_lock);
	uint64_t ticket = ++s->ctl_ticket;
	s->ctl_cmd = *cmd;
	s->ctl_pending = true;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += 3;
	while (s->ctl_done != ticket &&
	       pthread_cond_timedwait(&s->ctl_cond, &s->ctl_lock, &dl) != ETIMEDOUT)
		;
	if (s->ctl_done == ticket) {
		r = s->ctl_result;
		*res = s->ctl_res;
		snprintf(detail, detail_len, "%s", s->ctl_detail);
	} else {
		s->ctl_pending = false;
		r = CMD_BUSY;
		snprintf(detail, detail_len, "the scorer did not take the command within 3 s");
		pipeline_command_refused(s->p, CMD_BUSY);
	}
	pthread_mutex_unlock(&s->ctl_lock);
	pthread_mutex_unlock(&s->ctl_call);
	return r;
}

/* Scorer thread: run the command an HTTP thread handed over, if any. */
static void take_command(svc *s)
{
	det_command cmd;
	det_result res;
	char detail[160] = "";

	pthread_mutex_lock(&s->ctl_lock);
	bool pending = s->ctl_pending;
	uint64_t ticket = s->ctl_ticket;
	cmd = s->ctl_cmd;
	s->ctl_pending = false;
	pthread_mutex_unlock(&s->ctl_lock);
	if (!pending)
		return;
	cmd_reject r = pipeline_command(s->p, &cmd, clock_wall(), &res, detail, sizeof detail);
	pthread_mutex_lock(&s->ctl_lock);
	s->ctl_result = r;
	s->ctl_res = res;
	snprintf(s->ctl_detail, sizeof s->ctl_detail, "%s", detail);
	s->ctl_done = ticket;
	pthread_cond_broadcast(&s->ctl_cond);
	pthread_mutex_unlock(&s->ctl_lock);
}

/* The periodic sweep. Cut off from the broker, the devices' silence is
 * iotad's: stale pauses (mutes still end), and on reconnection the outage
 * is taken off every device's silence. */
static void sweep(svc *s)
{
	mq_stats ms;
	mq_get_stats(s->mq, &ms);
	double wall = clock_wall();
	if (!ms.connected) {
		if (s->disconnected_at == 0.0) {
			s->disconnected_at = wall;
			LOG_WARN("broker connection lost: stale sweep paused");
		}
	} else if (s->disconnected_at != 0.0) {
		pipeline_outage(s->p, wall - s->disconnected_at, wall);
		LOG_INFO("broker connection back after %.1f s: stale sweep resumed",
			 wall - s->disconnected_at);
		s->disconnected_at = 0.0;
	}
	pipeline_sweep(s->p, wall, ms.connected);
}

static void handle(svc *s, const msgq_msg *msg)
{
	if (!msg->bad_topic && !msg->oversize && is_control(s, msgq_topic(msg), msg->topic_len))
		control(s, msg);
	else if (!msg->bad_topic && !msg->oversize && is_state(s, msgq_topic(msg), msg->topic_len))
		pipeline_reconcile(s->p, msgq_topic(msg), msg->topic_len, msgq_payload(msg), msg->len,
				   clock_wall());
	else
		pipeline_handle(s->p, msg, clock_wall());
}

static void log_stats(svc *s, const char *when)
{
	met_snapshot c;
	svc_get_metrics(s, &c);
	char rej[512];
	size_t off = 0;
	rej[0] = '\0';
	for (int r = 1; r < REJ__COUNT && off < sizeof rej; r++)
		if (c.rejected[r])
			off += (size_t)snprintf(rej + off, sizeof rej - off, " %s=%llu",
						codec_reject_name((reject_reason)r),
						(unsigned long long)c.rejected[r]);
	LOG_INFO("stats (%s): received=%llu scored=%llu devices=%llu evictions=%llu "
		 "idle_evictions=%llu raised=%llu cleared=%llu "
		 "stale=%llu publish_failed=%llu refused_full=%llu state_rejected=%llu "
		 "state_save_failed=%llu reloads=%llu reload_failed=%llu rejected:%s",
		 when, (unsigned long long)c.received, (unsigned long long)c.scored,
		 (unsigned long long)c.devices, (unsigned long long)c.evictions_lru,
		 (unsigned long long)c.evictions_idle, (unsigned long long)c.events[ALERT_EV_RAISED],
		 (unsigned long long)c.events[ALERT_EV_CLEARED],
		 (unsigned long long)c.events[ALERT_EV_STALE],
		 (unsigned long long)c.publish_failed, (unsigned long long)c.refused_full,
		 (unsigned long long)c.state_rejected, (unsigned long long)c.state_save_failed,
		 (unsigned long long)c.model_reloads, (unsigned long long)c.model_reload_failures,
		 off ? rej : " none");
}

/* --- lifecycle ----------------------------------------------------------- */

iotad_err svc_create(const iotad_config *cfg, const model *m, svc **out)
{
	*out = NULL;
	svc *s = calloc(1, sizeof *s);
	if (!s)
		return IOTAD_ERR_NOMEM;
	s->cfg = cfg;
	pthread_mutex_init(&s->ctl_call, NULL);
	pthread_mutex_init(&s->ctl_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->ctl_cond, &ca);
	pthread_condattr_destroy(&ca);
	det_config dc;
	config_det(cfg, &dc);
	/* Every device's seq continues from the start time (epoch seconds)
	 * times 2^16, state file or not: a run cannot have used a number that
	 * high unless one device emitted 65,536 events per second of it, or
	 * the clock stepped back across the restart (docs/design-notes.md). */
	dc.seq_base = (uint64_t)clock_wall() * SVC_SEQ_PER_SECOND;
	pipeline_pub pub = {.publish = pub_publish, .sample = pub_sample, .scored = pub_scored,
			    .event = pub_event, .ready = pub_ready, .ud = s};
	bool rejected = false;
	iotad_err err;
	if ((err = msgq_init(&s->q, cfg->queue_size)) != IOTAD_OK ||
	    (err = outbox_init(&s->out, SVC_OUTBOX)) != IOTAD_OK ||
	    (err = pipeline_create(cfg, m, &dc, &pub, &s->p)) != IOTAD_OK)
		goto fail;
	if (cfg->state_file[0]) {
		err = reload_state_restore(s->p, cfg->state_file, &rejected);
		if (rejected)
			COUNT(s->state_rejected);
		if (err != IOTAD_OK)
			goto fail;
	}
	const char *uris[CFG_MAX_URIS];
	for (int i = 0; i < cfg->n_broker_uris && i < CFG_MAX_URIS; i++)
		uris[i] = cfg->broker_uris[i];
	mq_opts mo = {
		.uri = cfg->broker_uri,
		.uris = uris,
		.n_uris = cfg->n_broker_uris,
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
	char state_filter[CFG_STR + 2];
	if (err == IOTAD_OK && c->state_prefix[0] &&
	    snprintf(state_filter, sizeof state_filter, "%s/+", c->state_prefix) <
		    (int)sizeof state_filter)
		err = mq_subscribe(s->mq, state_filter, 1);
	s->started = clock_wall();
	if (err == IOTAD_OK && c->http_listen[0]) {
		http_opts ho = {.listen = c->http_listen, .max_body = c->http_max_body,
				.page = c->http_page, .m = pipeline_model(s->p), /* NULL: zero-config */
				.det = pipeline_det_config(s->p),
				.metrics = metrics_of, .command = http_command_of, .ud = s};
		err = http_create(&ho, &s->http);
	}
	if (err == IOTAD_OK)
		err = mq_start(s->mq);
	if (err != IOTAD_OK)
		return err;
	const model *m = pipeline_model(s->p);
	const char *names[MODEL_MAX_FEATURES];
	if (m)
		LOG_INFO("scoring %s with model %s v%d (%s, window %d x %d features), alerts on %s/+",
			 c->telemetry_filter, m->id, m->version,
			 m->type == MODEL_INT8 ? "int8" : "float", m->window, m->n_features,
			 c->alert_prefix);
	else
		LOG_INFO("scoring %s zero-config: each device against its own normal, learned from "
			 "its first %u samples, over %s; alerts on %s/+", c->telemetry_filter,
			 (unsigned)c->profile_learn,
			 pipeline_features(s->p, names, MODEL_MAX_FEATURES) ?
				 "the configured features" : "the numeric fields of the first message",
			 c->alert_prefix);

	const msgq_msg *batch[SVC_BATCH];
	double next_sweep = clock_mono() + 1.0, next_stats = clock_mono() + SVC_STATS_EVERY;
	double next_save = clock_mono() + c->state_interval;
	int save_failures = 0;
	while (!*stop) {
		/* Waiting publishes go out as the window frees: look often. */
		uint32_t n = msgq_take(&s->q, batch, SVC_BATCH, s->out.count ? 5 : 200);
		for (uint32_t i = 0; i < n; i++)
			handle(s, batch[i]);
		msgq_release(&s->q);
		if (s->out.count)
			outbox_flush(&s->out, s->mq, 0);
		take_command(s);
		if (s->reload_flag && *s->reload_flag) {
			*s->reload_flag = 0;
			reload(s, "SIGHUP");
		}
		double now = clock_mono();
		if (now >= next_sweep) {
			sweep(s);
			next_sweep = now + 1.0;
		}
		if (now >= next_stats) {
			log_stats(s, "periodic");
			next_stats = now + SVC_STATS_EVERY;
		}
		if (c->state_file[0] && now >= next_save) {
			if (save_state(s, "periodic")) {
				if (save_failures)
					LOG_INFO("state: saved to %s again after %d failed saves",
						 c->state_file, save_failures);
				save_failures = 0;
			} else if (++save_failures < 1000) {
				LOG_WARN("state: %d periodic saves failed in a row; next try in %.0f s",
					 save_failures, save_delay(c, save_failures));
			}
			next_save = clock_mono() + save_delay(c, save_failures);
		}
	}

	/* Orderly shutdown: refuse new input, score what was accepted, then say
	 * goodbye. Messages Paho delivers from here to the disconnect were
	 * already acknowledged and are lost (docs/reliability.md). */
	msgq_close(&s->q);
	uint32_t n;
	while ((n = msgq_take(&s->q, batch, SVC_BATCH, 0)) > 0) {
		for (uint32_t i = 0; i < n; i++)
			handle(s, batch[i]);
		msgq_release(&s->q);
	}
	if (c->state_file[0])
		save_state(s, "shutdown");
	double give_up = clock_mono() + 5.0;
	while (outbox_flush(&s->out, s->mq, 100) > 0 && clock_mono() < give_up)
		;
	if (s->out.count)
		LOG_WARN("mqtt: %u alert or state publishes not sent at shutdown", s->out.count);
	if (c->status_topic[0])
		mq_publish(s->mq, c->status_topic, "offline", 7, 1, true, 2000);
	log_stats(s, "final");
	return IOTAD_OK;
}

void svc_get_metrics(svc *s, met_snapshot *out)
{
	pipeline_counters pc;
	mq_stats ms;

	memset(out, 0, sizeof *out);
	pipeline_get_counters(s->p, &pc);
	mq_get_stats(s->mq, &ms);
	out->received = pc.received;
	out->scored = pc.scored;
	memcpy(out->rejected, pc.rejected, sizeof out->rejected);
	memcpy(out->events, pc.events, sizeof out->events);
	memcpy(out->commands, pc.commands, sizeof out->commands);
	memcpy(out->commands_rejected, pc.commands_rejected, sizeof out->commands_rejected);
	out->publish_failed = pc.publish_failed + atomic_load(&s->out.failed);
	out->evictions_lru = pc.evictions;
	out->evictions_idle = pc.idle_evictions;
	out->devices = pc.devices;
	out->raised = pc.raised;
	out->reconciled = pc.reconciled;
	out->late = pc.late;
	out->rewound = pc.rewound;
	out->not_my_shard = pc.not_my_shard;
	out->refused_full = atomic_load(&s->refused_full);
	out->model_reloads = atomic_load(&s->reloads);
	out->model_reload_failures = atomic_load(&s->reload_failed);
	out->state_rejected = atomic_load(&s->state_rejected);
	out->state_save_failed = atomic_load(&s->state_save_failed);
	out->published = ms.published;
	out->reconnects = ms.reconnects;
	out->inflight = ms.inflight;
	out->connected = ms.connected;
	out->max_devices = s->cfg->max_devices;
	out->queue_depth = msgq_depth(&s->q);
	out->queue_capacity = s->q.cap;
	out->model_loaded = true;
	pipeline_model_name(s->p, out->model_id, sizeof out->model_id, &out->model_version);
	out->start_time = s->started;
	pipeline_latency(s->p, &out->score);
	if (s->on_fed)
		s->on_fed(s->on_fed_ud, &out->fed);
}

void svc_destroy(svc *s)
{
	if (!s)
		return;
	http_destroy(s->http);
	mq_destroy(s->mq, 5000);
	pipeline_destroy(s->p);
	msgq_free(&s->q);
	outbox_free(&s->out);
	pthread_mutex_destroy(&s->ctl_call);
	pthread_mutex_destroy(&s->ctl_lock);
	pthread_cond_destroy(&s->ctl_cond);
	free(s);
}
