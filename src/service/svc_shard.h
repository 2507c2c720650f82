/* svc_shard.h - the service's inside (private to service.c and scorer.c):
 * the scorer shards, each a thread with its own queue, outbox and router
 * (its pipelines) over the devices whose id hashes to it. */
#ifndef IOTAD_SVC_SHARD_H
#define IOTAD_SVC_SHARD_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "iotad/detector.h"
#include "iotad/http.h"
#include "iotad/journal.h"
#include "iotad/mqtt.h"
#include "iotad/msgq.h"
#include "iotad/outbox.h"
#include "iotad/pipeline.h"
#include "iotad/router.h"
#include "iotad/service.h"

#define SVC_MARKS 64

typedef struct shard {
	svc *s;
	uint32_t idx;
	msgq q;                    /* messages of this shard's devices */
	outbox out;                /* its publishes waiting for the MQTT window */
	router *f;                 /* its pipelines: devices, detectors and counters */
	journal *jr;               /* its messages on disk (service.journal), or NULL */
	uint64_t jr_taken;         /* journaled messages it took since the last trim */
	/* marks waiting for the broker to acknowledge the events before them:
	 * (messages taken, publishes issued by then), oldest first */
	struct { uint64_t taken, issued; } marks[SVC_MARKS];
	uint32_t marks_head, marks_n;
	pthread_t th;
	bool th_started;
	uint64_t reload_seen;      /* the last reload generation carried out */
	double disconnected_at;    /* wall clock the broker was lost at; 0: connected */
	/* one operator command handed over from another thread */
	pthread_mutex_t ctl_call;  /* one caller at a time */
	pthread_mutex_t ctl_lock;  /* guards the fields below */
	pthread_cond_t ctl_cond;
	uint64_t ctl_ticket;       /* the request's number */
	uint64_t ctl_done;         /* the last request answered */
	bool ctl_pending;          /* ctl_cmd waits for the shard */
	det_command ctl_cmd;
	cmd_reject ctl_result;
	det_result ctl_res;
	char ctl_detail[160];
} shard;

struct svc {
	const iotad_config *cfg;
	volatile sig_atomic_t *reload_flag; /* set (e.g. by SIGHUP) to reload model.path */
	svc_sample_cb on_sample;   /* every sample the detector took (federated), or NULL */
	void *on_sample_ud;
	svc_fed_cb on_fed;         /* the federated gateway's figures for /metrics, or NULL */
	void *on_fed_ud;
	mq *mq;
	iotad_config *scfg;        /* the shards' configuration with more than one (their
				    * share of the device cap, no state file of their own) */
	/* journals of a run with more scorer threads than this one: replayed
	 * at start, removed after the first state save */
	journal *jr_left[CFG_MAX_SCORERS];
	uint32_t left_idx[CFG_MAX_SCORERS]; /* their numbers (svc_journal_path) */
	uint32_t n_left;
	bool quiet;                /* replaying messages scored before a crash: publish nothing */
	shard *sh;                 /* n shards; shard 0 runs on svc_run's thread */
	uint32_t n;
	_Atomic uint64_t refused_full, state_rejected, state_save_failed, reloads, reload_failed;
	_Atomic uint64_t reload_gen; /* bumped to make every shard reload its model */
	const char *_Atomic reload_why;
	char reload_name[CFG_MODEL_NAME]; /* the model to reload; empty: every one */
	double started;            /* epoch seconds */
	http *http;                /* NULL when http.listen is empty */
	/* shard 0 pauses the others to save the state file */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	_Atomic bool pause_req;
	uint32_t paused;
	_Atomic bool workers_stop; /* shards 1..n-1 drain their queue and end */
};

#define SVC_COUNT(field) atomic_fetch_add_explicit(&(field), 1, memory_order_relaxed)

/* The shard owning a device id of len bytes. Any thread. */
shard *svc_shard_of(svc *s, const char *device, size_t len);
/* Whether topic is the control topic (topics.control; "" never is). */
bool svc_is_control(const svc *s, const char *topic, size_t topic_len);
/* Whether topic is under the state prefix (state_prefix/DEVICE): read back
 * at start to reconcile retained states (pipeline_reconcile). */
bool svc_is_state(const svc *s, const char *topic, size_t topic_len);
/* Hand cmd to shard `to` and wait (3 s at most) for its outcome. Any thread
 * but `to`'s. */
cmd_reject svc_command_on(shard *to, const det_command *cmd, det_result *res, char *detail,
			  size_t detail_len);
/* Score one message taken from a queue (or replayed from the journal,
 * arrived at now). */
void scorer_handle(shard *sh, const msgq_msg *msg, double now);
/* Run a shard's scorer loop until stop (shard 0) or workers_stop (the
 * others). */
void scorer_loop(shard *sh, volatile sig_atomic_t *stop);
/* Score what the shard's queue holds now (shutting down, queue closed). */
void scorer_drain(shard *sh);
/* Thread entry of shards 1..n-1: the loop, then the drain. */
void *scorer_thread(void *arg);
/* Save the state file from every shard (the others paused, or ended). */
bool scorer_save_state(svc *s, const char *when, bool others_running);
/* The shard a message goes to: its device's (from the topic; state: a
 * state_prefix/DEVICE topic), shard 0 for the control topic and for topics
 * without a device level. Any thread. */
shard *svc_route(svc *s, const char *topic, size_t topic_len, bool state);
/* The journal file of shard k: service.journal itself for shard 0,
 * service.journal.K for the others. */
void svc_journal_path(const svc *s, uint32_t k, char *out, size_t len);
/* Open one journal a shard (after the shards are built) and those of a
 * run with more shards (service.journal.K, K >= n); exit-2 errors are
 * logged. Needs service.state_file. */
iotad_err svc_journal_open(svc *s);
/* After a crash: score what the journals kept (every shard's, and those of
 * a run with more threads), merged by arrival time, once the broker is
 * there to take the events, before any message that arrived since. Runs
 * on svc_run's thread before the other shards' threads start. */
void svc_journal_replay(svc *s, volatile sig_atomic_t *stop);
/* Write the stats line to the log. */
void scorer_log_stats(svc *s, const char *when);

#endif
