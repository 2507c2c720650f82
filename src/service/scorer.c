/* scorer.c - one scorer shard's loop: take messages from its queue in
 * batches, score them through its router, send what waits in its outbox,
 * run operator commands and model reloads, sweep its devices, mark its
 * journal. Shard 0 also logs the stats and saves the state (pausing the
 * other shards meanwhile), then cuts every shard's journal. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iotad/clock.h"
#include "iotad/log.h"
#include "iotad/reload.h"

#include "svc_shard.h"

#define SVC_BATCH 256
#define SVC_STATS_EVERY 60.0
#define SVC_SAVE_BACKOFF_MAX 600.0

static iotad_err switch_http(void *ud, const model *m)
{
	svc *s = ud;
	return s->http ? http_set_model(s->http, m) : IOTAD_OK;
}

/* Reload this shard's models (every one, or the one named); one that fails
 * keeps running, and so do the others. Shard 0 also switches HTTP's and
 * counts. */
static void reload(shard *sh, const char *name, const char *why)
{
	svc *s = sh->s;
	bool first = sh->idx == 0;
	int ok = 0, failed = 0;
	router_reload(sh->f, name, first ? switch_http : NULL, s, why, &ok, &failed);
	if (first) {
		atomic_fetch_add(&s->reloads, (uint64_t)ok);
		atomic_fetch_add(&s->reload_failed, (uint64_t)failed);
	}
}

/* Every shard reloads its models (name NULL) or the one named between two
 * of its messages. Shard 0's thread only. */
static void request_reload(svc *s, const char *name, const char *why)
{
	snprintf(s->reload_name, sizeof s->reload_name, "%s", name ? name : "");
	atomic_store(&s->reload_why, why);
	atomic_fetch_add(&s->reload_gen, 1);
}

/* After a state save (every shard paused or ended): each journal keeps
 * only what its shard's queue still holds (the state covers the rest), and
 * the journals of a run with more threads, replayed at start, go. */
static void cut_journals(svc *s)
{
	bool all = true;
	for (uint32_t k = 0; k < s->n; k++) {
		shard *sh = &s->sh[k];
		if (!sh->jr)
			continue;
		if (journal_trim(sh->jr, msgq_depth(&sh->q)) != IOTAD_OK) {
			char path[CFG_PATH + 16];
			svc_journal_path(s, k, path, sizeof path);
			LOG_RATELIMITED(LOG_ERROR, "journal: cannot trim %s", path);
			all = false;
		} else {
			sh->jr_taken = sh->marks_n = 0;
		}
	}
	for (uint32_t i = 0; all && i < s->n_left; i++) {
		char path[CFG_PATH + 16];
		svc_journal_path(s, s->left_idx[i], path, sizeof path);
		journal_close(s->jr_left[i]);
		s->jr_left[i] = NULL;
		if (unlink(path) != 0)
			LOG_RATELIMITED(LOG_ERROR, "journal: cannot remove %s: %s", path,
					strerror(errno));
	}
	if (all)
		s->n_left = 0;
}

bool scorer_save_state(svc *s, const char *when, bool others_running)
{
	if (s->n == 1) {
		/* one shard: its router saves each pipeline to its own file */
		if (router_state_save(s->sh[0].f, when) == IOTAD_OK) {
			/* the state covers every message taken so far: keep the queued ones */
			cut_journals(s);
			return true;
		}
		SVC_COUNT(s->state_save_failed);
		return false;
	}
	/* more: each model's devices of every shard in one file */
	router *fs[CFG_MAX_SCORERS] = {0};
	for (uint32_t k = 0; k < s->n; k++)
		fs[k] = s->sh[k].f;
	if (others_running && s->n > 1) {
		struct timespec dl;
		pthread_mutex_lock(&s->pause_lock);
		atomic_store(&s->pause_req, true);
		for (uint32_t k = 1; k < s->n; k++)
			msgq_wake(&s->sh[k].q);
		while (s->paused < s->n - 1) {
			clock_deadline_ms(&dl, 50);
			pthread_cond_timedwait(&s->pause_cond, &s->pause_lock, &dl);
		}
		pthread_mutex_unlock(&s->pause_lock);
	}
	iotad_err e = router_state_save_shards(fs, s->n, s->cfg->state_file, when);
	if (e == IOTAD_OK)
		cut_journals(s);
	if (others_running && s->n > 1) {
		pthread_mutex_lock(&s->pause_lock);
		atomic_store(&s->pause_req, false);
		pthread_cond_broadcast(&s->pause_cond);
		pthread_mutex_unlock(&s->pause_lock);
	}
	if (e == IOTAD_OK)
		return true;
	SVC_COUNT(s->state_save_failed);
	return false;
}

/* Shards 1..n-1: wait here while shard 0 saves the state file. */
static void pause_point(shard *sh)
{
	svc *s = sh->s;
	if (!atomic_load_explicit(&s->pause_req, memory_order_acquire))
		return;
	pthread_mutex_lock(&s->pause_lock);
	s->paused++;
	pthread_cond_broadcast(&s->pause_cond);
	while (atomic_load(&s->pause_req))
		pthread_cond_wait(&s->pause_cond, &s->pause_lock);
	s->paused--;
	pthread_mutex_unlock(&s->pause_lock);
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

/* A message on the control topic (shard 0): "reload", or a JSON command on
 * a device ({"command": "mute", "device": "d1", "seconds": 600}, see
 * codec.h), run by the shard that owns the device. */
static void control(shard *sh, const msgq_msg *msg)
{
	svc *s = sh->s;
	const char *p = msgq_payload(msg);
	size_t n = msg->len;
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (n == 6 && !memcmp(p, "reload", 6)) {
		request_reload(s, NULL, "control topic");
		return;
	}
	/* "reload NAME": one model of a mixed router */
	if (n > 7 && n < 7 + CFG_MODEL_NAME && !memcmp(p, "reload ", 7)) {
		char name[CFG_MODEL_NAME];
		memcpy(name, p + 7, n - 7);
		name[n - 7] = '\0';
		request_reload(s, name, "control topic");
		return;
	}
	det_command cmd;
	det_result res;
	char detail[200] = "";
	cmd_reject r = codec_parse_command(p, n, &cmd, detail, sizeof detail);
	if (r == CMD_OK) {
		shard *owner = svc_shard_of(s, cmd.device, strlen(cmd.device));
		if (owner == sh)
			r = router_command(sh->f, &cmd, clock_wall(), NULL, detail, sizeof detail);
		else
			r = svc_command_on(owner, &cmd, &res, detail, sizeof detail);
	} else {
		router_command_refused(sh->f, r);
	}
	if (r != CMD_OK)
		LOG_RATELIMITED(LOG_WARN,
				"control: refused a command on %s (%s): %s; expected 'reload' or "
				"{\"command\": \"rebaseline\"|\"mute\"|\"false_alarm\", \"device\": ID"
				"[, \"seconds\": N]}",
				s->cfg->control_topic, codec_cmd_reject_name(r), detail);
}

/* Run the command another thread handed over, if any. */
static void take_command(shard *sh)
{
	det_command cmd;
	det_result res;
	char detail[160] = "";

	pthread_mutex_lock(&sh->ctl_lock);
	bool pending = sh->ctl_pending;
	uint64_t ticket = sh->ctl_ticket;
	cmd = sh->ctl_cmd;
	sh->ctl_pending = false;
	pthread_mutex_unlock(&sh->ctl_lock);
	if (!pending)
		return;
	cmd_reject r = router_command(sh->f, &cmd, clock_wall(), &res, detail, sizeof detail);
	pthread_mutex_lock(&sh->ctl_lock);
	sh->ctl_result = r;
	sh->ctl_res = res;
	snprintf(sh->ctl_detail, sizeof sh->ctl_detail, "%s", detail);
	sh->ctl_done = ticket;
	pthread_cond_broadcast(&sh->ctl_cond);
	pthread_mutex_unlock(&sh->ctl_lock);
}

/* The periodic sweep of this shard's devices. Cut off from the broker, the
 * devices' silence is iotad's: stale pauses (mutes still end), and on
 * reconnection the outage is taken off every device's silence. */
static void sweep(shard *sh)
{
	mq_stats ms;
	mq_get_stats(sh->s->mq, &ms);
	double wall = clock_wall();
	bool first = sh->idx == 0;
	if (!ms.connected) {
		if (sh->disconnected_at == 0.0) {
			sh->disconnected_at = wall;
			if (first)
				LOG_WARN("broker connection lost: stale sweep paused");
		}
	} else if (sh->disconnected_at != 0.0) {
		router_outage(sh->f, wall - sh->disconnected_at, wall);
		if (first)
			LOG_INFO("broker connection back after %.1f s: stale sweep resumed",
				 wall - sh->disconnected_at);
		sh->disconnected_at = 0.0;
	}
	router_sweep(sh->f, wall, ms.connected);
}

void scorer_handle(shard *sh, const msgq_msg *msg, double now)
{
	svc *s = sh->s;
	/* the same messages on_message journals */
	if (sh->jr && !msg->oversize && !svc_is_state(s, msgq_topic(msg), msg->topic_len) &&
	    (msg->bad_topic || !svc_is_control(s, msgq_topic(msg), msg->topic_len)))
		sh->jr_taken++;
	if (!msg->bad_topic && !msg->oversize && svc_is_control(s, msgq_topic(msg), msg->topic_len))
		control(sh, msg);
	else if (!msg->bad_topic && !msg->oversize && svc_is_state(s, msgq_topic(msg), msg->topic_len))
		router_reconcile(sh->f, msgq_topic(msg), msg->topic_len, msgq_payload(msg),
				 msg->len, clock_wall());
	else
		router_handle(sh->f, msg, now);
}

/* Score a batch taken from the queue: its messages arrived together, so
 * they share one arrival time (one clock read a batch, not a message). */
static void handle_batch(shard *sh, const msgq_msg *const *batch, uint32_t n)
{
	if (n == 0)
		return;
	double now = clock_wall();
	for (uint32_t i = 0; i < n; i++)
		scorer_handle(sh, batch[i], now);
}

/* After a batch: the shard's journal mark says how many of its messages
 * were taken and had every event they caused acknowledged by the broker
 * (so a replay after a crash sends those events again only if they may be
 * lost). Publishes still in the outbox count as issued: they go out in
 * order. With several shards the acknowledgements are counted for all of
 * them together, and another shard's publishes may go out before this
 * one's outbox: a new mark is only set while its outbox is empty. */
static void journal_progress(shard *sh)
{
	svc *s = sh->s;
	mq_stats ms;
	mq_get_stats(s->mq, &ms);
	uint64_t done = ms.published + ms.publish_failed + atomic_load(&sh->out.failed);
	if ((sh->marks_n == 0 ||
	     sh->marks[(sh->marks_head + sh->marks_n - 1) % SVC_MARKS].taken != sh->jr_taken) &&
	    (s->n == 1 || sh->out.count == 0)) {
		uint32_t at = sh->marks_n < SVC_MARKS ? sh->marks_n++ : sh->marks_n - 1;
		sh->marks[(sh->marks_head + at) % SVC_MARKS].taken = sh->jr_taken;
		sh->marks[(sh->marks_head + at) % SVC_MARKS].issued =
			done + ms.inflight + sh->out.count;
	}
	uint64_t mark = 0;
	bool any = false;
	while (sh->marks_n > 0 && sh->marks[sh->marks_head].issued <= done) {
		mark = sh->marks[sh->marks_head].taken;
		any = true;
		sh->marks_head = (sh->marks_head + 1) % SVC_MARKS;
		sh->marks_n--;
	}
	if (any && journal_mark(sh->jr, mark) != IOTAD_OK) {
		char path[CFG_PATH + 16];
		svc_journal_path(s, sh->idx, path, sizeof path);
		LOG_RATELIMITED(LOG_ERROR, "journal: cannot mark %s", path);
	}
}

void scorer_log_stats(svc *s, const char *when)
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

void scorer_drain(shard *sh)
{
	const msgq_msg *batch[SVC_BATCH];
	uint32_t n;
	while ((n = msgq_take(&sh->q, batch, SVC_BATCH, 0)) > 0) {
		handle_batch(sh, batch, n);
		msgq_release(&sh->q);
	}
}

void scorer_loop(shard *sh, volatile sig_atomic_t *stop)
{
	svc *s = sh->s;
	const iotad_config *c = s->cfg;
	bool first = sh->idx == 0;
	const msgq_msg *batch[SVC_BATCH];
	double next_sweep = clock_mono() + 1.0, next_stats = clock_mono() + SVC_STATS_EVERY;
	double next_save = clock_mono() + c->state_interval;
	int save_failures = 0;
	while (first ? !*stop : !atomic_load(&s->workers_stop)) {
		/* Waiting publishes go out as the window frees: look often. */
		uint32_t n = msgq_take(&sh->q, batch, SVC_BATCH, sh->out.count ? 5 : 200);
		handle_batch(sh, batch, n);
		msgq_release(&sh->q);
		if (sh->out.count)
			outbox_flush(&sh->out, s->mq, 0);
		if (sh->jr)
			journal_progress(sh);
		take_command(sh);
		if (first && s->reload_flag && *s->reload_flag) {
			*s->reload_flag = 0;
			request_reload(s, NULL, "SIGHUP");
		}
		uint64_t gen = atomic_load(&s->reload_gen);
		if (gen != sh->reload_seen) {
			sh->reload_seen = gen;
			reload(sh, s->reload_name[0] ? s->reload_name : NULL,
			       atomic_load(&s->reload_why));
		}
		double now = clock_mono();
		if (now >= next_sweep) {
			sweep(sh);
			next_sweep = now + 1.0;
		}
		if (!first) {
			pause_point(sh);
			continue;
		}
		if (now >= next_stats) {
			scorer_log_stats(s, "periodic");
			next_stats = now + SVC_STATS_EVERY;
		}
		if (c->state_file[0] && now >= next_save) {
			if (scorer_save_state(s, "periodic", true)) {
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
}

void *scorer_thread(void *arg)
{
	shard *sh = arg;
	scorer_loop(sh, NULL);
	scorer_drain(sh);
	return NULL;
}
