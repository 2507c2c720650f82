/* service.c - `iotad run`: wires MQTT (mqtt.c) to the scorer shards
 * (scorer.c), each with its bounded queue (msgq.c), outbox (outbox.c) and
 * router (router.c: the pipelines of its models, pipeline.c) over the
 * devices whose id hashes to it; the journal (journal.c), model reload and
 * the state file (reload.c), and the HTTP door (http.c). */
#include "iotad/service.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iotad/clock.h"
#include "iotad/detector.h"
#include "iotad/http.h"
#include "iotad/journal.h"
#include "iotad/live.h"
#include "iotad/log.h"
#include "iotad/reload.h"
#include "iotad/router.h"
#include "iotad/state.h"
#include "iotad/topic.h"

#include "svc_shard.h"

#define SVC_OUTBOX 4096 /* alert and state publishes waiting for the window, a shard */
#define SVC_SEQ_PER_SECOND 65536u

bool svc_is_control(const svc *s, const char *topic, size_t topic_len)
{
	const char *ct = s->cfg->control_topic;
	return ct[0] && topic_len == strlen(ct) && !memcmp(topic, ct, topic_len);
}

bool svc_is_state(const svc *s, const char *topic, size_t topic_len)
{
	const char *sp = s->cfg->state_prefix;
	size_t n = strlen(sp);
	return n && topic_len > n + 1 && !memcmp(topic, sp, n) && topic[n] == '/';
}

shard *svc_shard_of(svc *s, const char *device, size_t len)
{
	return &s->sh[topic_device_shard(device, len, s->n)];
}

shard *svc_route(svc *s, const char *topic, size_t topic_len, bool state)
{
	const char *dev;
	size_t len;
	if (s->n == 1)
		return &s->sh[0];
	if (state) {
		size_t pl = strlen(s->cfg->state_prefix) + 1;
		dev = topic + pl;
		len = topic_len - pl;
	} else if (svc_is_control(s, topic, topic_len) ||
		   !topic_level_span(topic, topic_len, s->cfg->device_level, &dev, &len)) {
		return &s->sh[0];
	}
	return svc_shard_of(s, dev, len);
}

/* Paho's thread: copy the message into its shard's queue, or refuse it
 * (queue full or closing). */
static bool on_message(void *ud, const char *topic, size_t topic_len, const void *payload,
		       size_t len, int qos, bool retained)
{
	(void)qos;
	svc *s = ud;
	if (retained && svc_is_control(s, topic, topic_len)) {
		LOG_WARN("control: ignoring a retained message on %s", s->cfg->control_topic);
		return true;
	}
	bool state = svc_is_state(s, topic, topic_len);
	if (!retained && state)
		return true; /* our own state publishes coming back: only retained ones matter */
	shard *sh = svc_route(s, topic, topic_len, state);
	msgq_offer_result r = msgq_offer(&sh->q, topic, topic_len, payload, len,
					 s->cfg->max_payload);
	if (r == MSGQ_FULL)
		SVC_COUNT(s->refused_full);
	/* on disk before Paho forgets it; control and state messages are not replayed */
	if (r == MSGQ_ACCEPTED && sh->jr && !svc_is_control(s, topic, topic_len) && !state &&
	    len <= s->cfg->max_payload &&
	    journal_append(sh->jr, topic, topic_len, payload, len, clock_wall()) != IOTAD_OK)
		LOG_RATELIMITED(LOG_ERROR, "journal: cannot append to %s%s", s->cfg->journal_file,
				sh->idx ? " (a scorer thread's)" : "");
	return r == MSGQ_ACCEPTED;
}

/* --- the pipelines' publisher (ud: the shard) -------------------------------- */

static iotad_err pub_publish(void *ud, const char *topic, const void *payload, size_t len,
			     int qos, bool retained)
{
	shard *sh = ud;
	if (sh->s->quiet)
		return IOTAD_OK; /* sent before the crash */
	return outbox_publish(&sh->out, sh->s->mq, topic, payload, len, qos, retained);
}

static void pub_sample(void *ud, const char *device, const float *raw, const det_result *res)
{
	svc *s = ((shard *)ud)->s;
	if (s->on_sample)
		s->on_sample(s->on_sample_ud, device, raw, res);
}

static void pub_scored(void *ud, const char *device, double ts, const det_result *res)
{
	svc *s = ((shard *)ud)->s;
	if (!s->quiet)
		live_sample(http_live(s->http), device, ts, res);
}

static void pub_scored_by(void *ud, const char *name, const char *device, double ts,
			 const det_result *res)
{
	svc *s = ((shard *)ud)->s;
	live_sample_model(http_live(s->http), name, device, ts, res);
}

static void pub_event(void *ud, const char *device, const char *state, const char *json,
		      size_t len)
{
	svc *s = ((shard *)ud)->s;
	if (!s->quiet)
		live_event(http_live(s->http), device, state, json, len);
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

cmd_reject svc_command_on(shard *to, const det_command *cmd, det_result *res, char *detail,
			  size_t detail_len)
{
	cmd_reject r;
	struct timespec dl;

	pthread_mutex_lock(&to->ctl_call);
	pthread_mutex_lock(&to->ctl_lock);
	uint64_t ticket = ++to->ctl_ticket;
	to->ctl_cmd = *cmd;
	to->ctl_pending = true;
	msgq_wake(&to->q);
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += 3;
	while (to->ctl_done != ticket &&
	       pthread_cond_timedwait(&to->ctl_cond, &to->ctl_lock, &dl) != ETIMEDOUT)
		;
	if (to->ctl_done == ticket) {
		r = to->ctl_result;
		*res = to->ctl_res;
		snprintf(detail, detail_len, "%s", to->ctl_detail);
	} else {
		to->ctl_pending = false;
		r = CMD_BUSY;
		snprintf(detail, detail_len, "the scorer did not take the command within 3 s");
		router_command_refused(to->f, CMD_BUSY);
	}
	pthread_mutex_unlock(&to->ctl_lock);
	pthread_mutex_unlock(&to->ctl_call);
	return r;
}

/* HTTP thread: the command goes to the shard owning its device. */
static cmd_reject http_command_of(void *ud, const det_command *cmd, det_result *res,
				  char *detail, size_t detail_len)
{
	svc *s = ud;
	return svc_command_on(svc_shard_of(s, cmd->device, strlen(cmd->device)), cmd, res, detail,
			      detail_len);
}

/* --- lifecycle ----------------------------------------------------------- */

static uint32_t shard_count(const iotad_config *cfg, const model *m)
{
	uint32_t n = cfg->scorer_threads;
	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus < 1 ? 1 : cpus > CFG_MAX_SCORERS ? CFG_MAX_SCORERS : (uint32_t)cpus;
	}
	if (n > 1 && !m && cfg->n_features == 0 && cfg->n_models == 0) {
		LOG_WARN("service.scorer_threads: %u asked, 1 used: zero-config learns its features "
			 "from the first message (set detector.features to use more)", n);
		n = 1;
	}
	if (n > 1 && cfg->n_models > 0 && cfg->model_fallback) {
		LOG_WARN("service.scorer_threads: %u asked, 1 used: model.fallback learns each "
			 "unrouted device's fields from its first message", n);
		n = 1;
	}
	return n;
}

static iotad_err shard_init(svc *s, shard *sh, uint32_t idx, const model *m, const det_config *dc)
{
	sh->s = s;
	sh->idx = idx;
	pthread_mutex_init(&sh->ctl_call, NULL);
	pthread_mutex_init(&sh->ctl_lock, NULL);
	clock_cond_init(&sh->ctl_cond);
	pipeline_pub pub = {.publish = pub_publish, .sample = pub_sample, .scored = pub_scored,
			    .event = pub_event, .ud = sh};
	iotad_err err;
	/* service.queue_size is split between the shards, like the device cap. */
	uint32_t qcap = s->cfg->queue_size / s->n;
	if ((err = msgq_init(&sh->q, qcap ? qcap : 1)) != IOTAD_OK ||
	    (err = outbox_init(&sh->out, SVC_OUTBOX)) != IOTAD_OK)
		return err;
	if ((err = router_create(s->scfg ? s->scfg : s->cfg, m, dc, &pub, &sh->f)) != IOTAD_OK)
		return err;
	router_on_scored(sh->f, pub_scored_by);
	return IOTAD_OK;
}

iotad_err svc_create(const iotad_config *cfg, const model *m, svc **out)
{
	*out = NULL;
	svc *s = calloc(1, sizeof *s);
	if (!s)
		return IOTAD_ERR_NOMEM;
	s->cfg = cfg;
	s->n = shard_count(cfg, m);
	pthread_mutex_init(&s->pause_lock, NULL);
	clock_cond_init(&s->pause_cond);
	s->sh = calloc(s->n, sizeof *s->sh);
	if (!s->sh) {
		free(s);
		return IOTAD_ERR_NOMEM;
	}
	det_config dc;
	config_det(cfg, &dc);
	/* Every device's seq continues from the start time (epoch seconds)
	 * times 2^16, state file or not: a run cannot have used a number that
	 * high unless one device emitted 65,536 events per second of it, or
	 * the clock stepped back across the restart (docs/design-notes.md). */
	dc.seq_base = (uint64_t)clock_wall() * SVC_SEQ_PER_SECOND;
	iotad_err err = IOTAD_OK;
	if (cfg->state_file[0]) {
		char why[600];
		if (state_check_path(cfg->state_file, why, sizeof why) != IOTAD_OK) {
			LOG_ERR("state: %s", why);
			err = IOTAD_ERR_INVAL;
			goto fail;
		}
	}
	if (s->n > 1) {
		/* The device cap is split between the shards; the state file is
		 * one for all of them, restored below by the same hash. */
		s->scfg = malloc(sizeof *s->scfg);
		if (!s->scfg) {
			err = IOTAD_ERR_NOMEM;
			goto fail;
		}
		*s->scfg = *cfg;
		s->scfg->max_devices = (cfg->max_devices + s->n - 1) / s->n;
		s->scfg->state_file[0] = '\0';
		dc.max_devices = (dc.max_devices + s->n - 1) / s->n;
	}
	for (uint32_t k = 0; k < s->n && err == IOTAD_OK; k++)
		err = shard_init(s, &s->sh[k], k, m, &dc);
	if (err != IOTAD_OK)
		goto fail;
	if (s->n > 1 && cfg->state_file[0]) {
		/* each model's file holds every shard's devices */
		bool rejected = false;
		router *fs[CFG_MAX_SCORERS] = {0};
		for (uint32_t k = 0; k < s->n; k++)
			fs[k] = s->sh[k].f;
		if ((err = router_state_restore_shards(fs, s->n, cfg->state_file, &rejected)) !=
		    IOTAD_OK)
			goto fail;
	}
	if (cfg->journal_file[0] && (err = svc_journal_open(s)) != IOTAD_OK)
		goto fail;
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

static void log_start(svc *s)
{
	const iotad_config *c = s->cfg;
	const model *m = pipeline_model(router_primary(s->sh[0].f));
	const char *names[MODEL_MAX_FEATURES];
	if (router_mixed(s->sh[0].f))
		LOG_INFO("scoring %s with %u models routed by topic and device (%s), alerts on %s/+"
			 ", %u scorer thread%s", c->telemetry_filter, (unsigned)c->n_models,
			 c->model_fallback ? "others zero-config on their own fields"
					   : "others counted as no_model", c->alert_prefix, s->n,
			 s->n == 1 ? "" : "s");
	else if (m)
		LOG_INFO("scoring %s with model %s v%d (%s, window %d x %d features), alerts on %s/+"
			 ", %u scorer thread%s", c->telemetry_filter, m->id, m->version,
			 m->type == MODEL_INT8 ? "int8" : "float", m->window, m->n_features,
			 c->alert_prefix, s->n, s->n == 1 ? "" : "s");
	else
		LOG_INFO("scoring %s zero-config: each device against its own normal, learned from "
			 "its first %u samples, over %s; alerts on %s/+, %u scorer thread%s",
			 c->telemetry_filter, (unsigned)c->profile_learn,
			 pipeline_features(router_primary(s->sh[0].f), names, MODEL_MAX_FEATURES) ?
				 "the configured features" : "each device's own numeric fields",
			 c->alert_prefix, s->n, s->n == 1 ? "" : "s");
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
				.page = c->http_page, .m = pipeline_model(router_primary(s->sh[0].f)),
				/* NULL: zero-config */
				.det = pipeline_det_config(router_primary(s->sh[0].f)),
				.metrics = metrics_of, .command = http_command_of, .ud = s};
		err = http_create(&ho, &s->http);
	}
	if (err == IOTAD_OK)
		err = mq_start(s->mq);
	if (err == IOTAD_OK) {
		log_start(s);
		/* the journals are replayed into every shard before their threads run */
		svc_journal_replay(s, stop);
	}
	for (uint32_t k = 1; k < s->n && err == IOTAD_OK; k++) {
		if (pthread_create(&s->sh[k].th, NULL, scorer_thread, &s->sh[k]) != 0)
			err = IOTAD_ERR_NOMEM;
		else
			s->sh[k].th_started = true;
	}
	if (err != IOTAD_OK) {
		atomic_store(&s->workers_stop, true);
		for (uint32_t k = 1; k < s->n; k++)
			if (s->sh[k].th_started) {
				pthread_join(s->sh[k].th, NULL);
				s->sh[k].th_started = false;
			}
		return err;
	}
	scorer_loop(&s->sh[0], stop);

	/* Orderly shutdown: refuse new input, score what was accepted, then say
	 * goodbye. Messages Paho delivers from here to the disconnect were
	 * already acknowledged and are lost (docs/reliability.md). */
	for (uint32_t k = 0; k < s->n; k++)
		msgq_close(&s->sh[k].q);
	atomic_store(&s->workers_stop, true);
	for (uint32_t k = 1; k < s->n; k++)
		msgq_wake(&s->sh[k].q);
	scorer_drain(&s->sh[0]);
	for (uint32_t k = 1; k < s->n; k++)
		if (s->sh[k].th_started) {
			pthread_join(s->sh[k].th, NULL);
			s->sh[k].th_started = false;
		}
	if (c->state_file[0])
		scorer_save_state(s, "shutdown", false);
	double give_up = clock_mono() + 5.0;
	uint32_t waiting = 0;
	for (uint32_t k = 0; k < s->n; k++) {
		while (outbox_flush(&s->sh[k].out, s->mq, 100) > 0 && clock_mono() < give_up)
			;
		waiting += s->sh[k].out.count;
	}
	if (waiting)
		LOG_WARN("mqtt: %u alert or state publishes not sent at shutdown", waiting);
	if (c->status_topic[0])
		mq_publish(s->mq, c->status_topic, "offline", 7, 1, true, 2000);
	scorer_log_stats(s, "final");
	return IOTAD_OK;
}

static void add_counters(met_snapshot *out, const pipeline_counters *pc)
{
	out->received += pc->received;
	out->scored += pc->scored;
	for (int r = 0; r < REJ__COUNT; r++)
		out->rejected[r] += pc->rejected[r];
	for (int e = 0; e < ALERT_EV__COUNT; e++)
		out->events[e] += pc->events[e];
	for (int k = 0; k < DET_CMD__COUNT; k++)
		out->commands[k] += pc->commands[k];
	for (int k = 0; k < CMD__COUNT; k++)
		out->commands_rejected[k] += pc->commands_rejected[k];
	out->publish_failed += pc->publish_failed;
	out->evictions_lru += pc->evictions;
	out->evictions_idle += pc->idle_evictions;
	out->devices += pc->devices;
	out->raised += pc->raised;
	out->reconciled += pc->reconciled;
	out->late += pc->late;
	out->rewound += pc->rewound;
	out->not_my_shard += pc->not_my_shard;
}

void svc_get_metrics(svc *s, met_snapshot *out)
{
	pipeline_counters pc;
	mq_stats ms;

	memset(out, 0, sizeof *out);
	for (uint32_t k = 0; k < s->n; k++) {
		shard *sh = &s->sh[k];
		met_hist_snap h;
		router_get_counters(sh->f, &pc);
		add_counters(out, &pc);
		out->publish_failed += atomic_load(&sh->out.failed);
		out->queue_depth += msgq_depth(&sh->q);
		out->queue_capacity += sh->q.cap;
		out->state_rejected += router_state_rejected(sh->f);
		pipeline_latency(router_primary(sh->f), &h);
		for (int b = 0; b <= MET_BUCKETS; b++)
			out->score.bucket[b] += h.bucket[b];
		out->score.count += h.count;
		out->score.sum += h.sum;
	}
	mq_get_stats(s->mq, &ms);
	out->refused_full = atomic_load(&s->refused_full);
	out->model_reloads = atomic_load(&s->reloads);
	out->model_reload_failures = atomic_load(&s->reload_failed);
	out->state_rejected += atomic_load(&s->state_rejected);
	out->state_save_failed = atomic_load(&s->state_save_failed);
	out->published = ms.published;
	out->reconnects = ms.reconnects;
	out->inflight = ms.inflight;
	out->connected = ms.connected;
	out->max_devices = s->cfg->max_devices;
	out->model_loaded = true;
	pipeline_model_name(router_primary(s->sh[0].f), out->model_id, sizeof out->model_id,
			    &out->model_version);
	out->start_time = s->started;
	router_model_stats(s->sh[0].f, out);
	for (uint32_t k = 1; k < s->n; k++)
		router_model_stats_add(s->sh[k].f, out);
	if (s->on_fed)
		s->on_fed(s->on_fed_ud, &out->fed);
}

void svc_destroy(svc *s)
{
	if (!s)
		return;
	http_destroy(s->http);
	mq_destroy(s->mq, 5000);
	for (uint32_t k = 0; s->sh && k < s->n; k++) {
		shard *sh = &s->sh[k];
		if (!sh->s)
			continue;
		router_destroy(sh->f);
		journal_close(sh->jr);
		msgq_free(&sh->q);
		outbox_free(&sh->out);
		pthread_mutex_destroy(&sh->ctl_call);
		pthread_mutex_destroy(&sh->ctl_lock);
		pthread_cond_destroy(&sh->ctl_cond);
	}
	free(s->sh);
	pthread_mutex_destroy(&s->pause_lock);
	pthread_cond_destroy(&s->pause_cond);
	for (uint32_t i = 0; i < s->n_left; i++)
		journal_close(s->jr_left[i]);
	free(s->scfg);
	free(s);
}
