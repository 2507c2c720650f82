/* svc_journal.c - the service's telemetry journals (journal.c): one file
 * a scorer shard, opened at start with those a run with more shards left,
 * and replayed after a crash, merged by arrival time, each record by the
 * shard its device hashes to now. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "iotad/log.h"

#include "svc_shard.h"

void svc_journal_path(const svc *s, uint32_t k, char *out, size_t len)
{
	if (k == 0)
		snprintf(out, len, "%s", s->cfg->journal_file);
	else
		snprintf(out, len, "%s.%u", s->cfg->journal_file, (unsigned)k);
}

/* A journal record: scored as it was when it arrived, by the shard its
 * device hashes to now (the thread count may have changed). */
static void replay_one(svc *s, const journal_rec *r)
{
	msgq_msg *m = msgq_msg_new(r->topic, r->topic_len, r->payload, r->len,
				   s->cfg->max_payload);
	s->quiet = r->scored;
	if (m)
		scorer_handle(svc_route(s, r->topic, r->topic_len, false), m, r->arrival);
	msgq_msg_free(m);
	s->quiet = false;
}

void svc_journal_replay(svc *s, volatile sig_atomic_t *stop)
{
	journal *js[2 * CFG_MAX_SCORERS];
	uint32_t n = 0;
	size_t pending = 0;
	size_t own[CFG_MAX_SCORERS];
	for (uint32_t k = 0; k < s->n; k++) {
		own[k] = journal_pending(s->sh[k].jr);
		if (s->sh[k].jr)
			js[n++] = s->sh[k].jr;
	}
	for (uint32_t i = 0; i < s->n_left; i++)
		js[n++] = s->jr_left[i];
	for (uint32_t i = 0; i < n; i++)
		pending += journal_pending(js[i]);
	if (!pending)
		return;
	mq_stats ms;
	for (mq_get_stats(s->mq, &ms); !ms.connected && !*stop; mq_get_stats(s->mq, &ms))
		nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
	size_t done = 0;
	for (;;) {
		journal_rec r, best = {0};
		uint32_t at = n;
		for (uint32_t i = 0; i < n; i++)
			if (journal_peek(js[i], &r) && (at == n || r.arrival < best.arrival)) {
				best = r;
				at = i;
			}
		if (at == n)
			break;
		replay_one(s, &best);
		journal_advance(js[at]);
		done++;
	}
	/* every record a shard's own journal held counts as taken by it (the
	 * shard that scored it may be another one) */
	for (uint32_t k = 0; k < s->n; k++)
		s->sh[k].jr_taken = own[k];
	LOG_INFO("journal: replayed %zu messages accepted before the last stop", done);
}

static iotad_err open_one_journal(svc *s, uint32_t k, uint32_t keep, journal **out)
{
	char path[CFG_PATH + 16], err[600];
	size_t torn = 0;
	svc_journal_path(s, k, path, sizeof path);
	iotad_err e = journal_open(path, s->cfg->journal_fsync, keep, out, &torn, err, sizeof err);
	if (e != IOTAD_OK) {
		LOG_ERR("%s", e == IOTAD_ERR_NOMEM ? "journal: out of memory" : err);
		return e == IOTAD_ERR_NOMEM ? e : IOTAD_ERR_INVAL; /* exit 2, as a bad state file */
	}
	if (torn)
		LOG_WARN("journal: cut %zu bytes of a record torn by a crash in %s", torn, path);
	if (journal_pending(*out))
		LOG_INFO("journal: %zu messages in %s to replay once connected",
			 journal_pending(*out), path);
	return IOTAD_OK;
}

iotad_err svc_journal_open(svc *s)
{
	const iotad_config *cfg = s->cfg;
	if (!cfg->state_file[0]) {
		LOG_ERR("journal: service.journal needs service.state_file (the journal is cut "
			"after each state save)");
		return IOTAD_ERR_INVAL;
	}
	iotad_err e = IOTAD_OK;
	for (uint32_t k = 0; k < s->n && e == IOTAD_OK; k++)
		e = open_one_journal(s, k, s->sh[k].q.cap, &s->sh[k].jr);
	for (uint32_t k = s->n; k < CFG_MAX_SCORERS && e == IOTAD_OK; k++) {
		char path[CFG_PATH + 16];
		struct stat st;
		svc_journal_path(s, k, path, sizeof path);
		if (lstat(path, &st) != 0)
			continue;
		e = open_one_journal(s, k, 1, &s->jr_left[s->n_left]);
		if (e == IOTAD_OK)
			s->left_idx[s->n_left++] = k;
	}
	return e;
}
