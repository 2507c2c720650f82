/* harness.h - integration test helpers: a real mosquitto on a free
 * loopback port, the real iotad binary as a child process, and an MQTT
 * subscriber that records what it receives. */
#ifndef IOTAD_HARNESS_H
#define IOTAD_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "iotad/mqtt.h"

typedef struct hx_broker {
	pid_t pid;
	int port;
	char uri[64];
	char conf[512];
	char log[512];
} hx_broker;

typedef struct hx_msg {
	char *topic;
	char *payload; /* NUL-terminated copy */
	size_t len;
	bool retained;
} hx_msg;

typedef struct hx_sub {
	mq *client;
	pthread_mutex_t lock;
	hx_msg *msgs;
	size_t n, cap;
} hx_sub;

/* The iotad binary under test ($IOTAD) and a fresh temporary directory. */
const char *hx_iotad(void);
const char *hx_tmpdir(void);
/* Path in the temporary directory (static buffer rotation of 8). */
const char *hx_path(const char *name);

int hx_free_port(void);
bool hx_wait_port(int port, int timeout_ms);
/* Start mosquitto on port (0: a free one) with persistence on or off (saved
 * every second, so a SIGKILL loses at most the last second). 0 on success. */
int hx_broker_start(hx_broker *b, int port, bool persistence);
/* Stop it with sig (SIGTERM orderly, SIGKILL crash) and reap it. */
void hx_broker_stop(hx_broker *b, int sig);

/* Run argv with stdout+stderr to log (NULL: inherit). Returns the pid. */
pid_t hx_spawn(char *const argv[], const char *log);
/* Wait for exit up to timeout_ms: exit status, 128+signal, or -1 on timeout. */
int hx_wait_exit(pid_t pid, int timeout_ms);
/* Run to completion (timeout_ms) and return its exit status (-1 on timeout). */
int hx_run(char *const argv[], const char *log, int timeout_ms);
/* Read a whole file into a malloc'd NUL-terminated buffer (NULL on error). */
char *hx_read_file(const char *path, size_t *len);
/* Poll a file until it contains needle or timeout. */
bool hx_wait_log(const char *path, const char *needle, int timeout_ms);
/* Wait until path is written (its mtime passes the time of the call):
 * true, or false after timeout_ms. */
bool hx_wait_written(const char *path, int timeout_ms);
/* A "kB" field of /proc/pid/status (VmRSS, VmHWM), or -1. */
long hx_proc_kb(pid_t pid, const char *field);
/* Write text to a file. 0 on success. */
int hx_write_file(const char *path, const char *text);
/* Split the CSV file src (in the temp dir) by rows into parts consecutive
 * files PREFIX-1.csv.. PREFIX-parts.csv, each with src's header line.
 * 0, or -1 (no file, fewer rows than parts, a write failed). */
int hx_split_csv(const char *src, const char *prefix, int parts);

/* A connected MQTT client on b (clean session) for publishing, with at most
 * max_inflight unacknowledged QoS 1 messages; NULL if it cannot connect
 * within 10 s. mq_destroy it. */
mq *hx_publisher(const hx_broker *b, const char *client_id, int max_inflight);
/* Samples [from, to) of a temperature/humidity/battery series on topic at
 * QoS 1 (ts 1700000000 + i): normal, hot (60 degrees) in [hot_from,
 * hot_to). 0 on success. */
int hx_publish_series(mq *pub, const char *topic, int from, int to, int hot_from, int hot_to);

/* Subscribe to filter at QoS 1 and record everything. 0 on success. */
int hx_sub_start(hx_sub *s, const char *uri, const char *filter, const char *client_id);
/* The same on a persistent session (clean session off): what the broker
 * queues for it while it is away (broker restart) arrives after its reconnect. */
int hx_sub_start_persistent(hx_sub *s, const char *uri, const char *filter, const char *client_id);
/* Messages whose topic starts with prefix and payload contains needle (NULL: any). */
size_t hx_sub_count(hx_sub *s, const char *prefix, const char *needle);
/* The seq of the last message on prefix whose payload contains needle (NULL: any), or 0. */
unsigned long long hx_sub_seq(hx_sub *s, const char *prefix, const char *needle);
/* Messages on prefix that carry the seq of an earlier message on the same
 * topic with a different payload (a seq reused for another event); events
 * receives how many messages there were on prefix. Prints the first few. */
size_t hx_sub_seq_conflicts(hx_sub *s, const char *prefix, size_t *events);
/* Wait until hx_sub_count(prefix, needle) >= n or timeout. */
bool hx_sub_wait(hx_sub *s, const char *prefix, const char *needle, size_t n, int timeout_ms);
/* Publish a marker on hx-marker/... from the subscriber's own client and
 * wait until it comes back (its filter must match it): whatever the broker
 * had received before has been delivered by then. */
bool hx_sub_marker(hx_sub *s, int timeout_ms);
void hx_sub_stop(hx_sub *s);
/* Wait until no new message has arrived on prefix for quiet_ms (at most max_ms). */
void hx_sub_settle(hx_sub *s, const char *prefix, int quiet_ms, int max_ms);
/* Start `iotad run -c config` (output to log) and wait until sub has seen
 * `online` on iotad/status online times. Returns the pid, or -1 (the
 * process killed) if it never came online within 15 s. */
pid_t hx_start_iotad(const char *config, const char *log, hx_sub *sub, size_t online);

/* Train a small model on simulated normal data (cached per run): returns its path. */
const char *hx_model(void);
/* The value of one sample line of iotad's /metrics on 127.0.0.1:port
 * ("name" or "name{labels}", matched from the start of a line), or -1 when
 * the page or the line is not there. */
double hx_metric(int port, const char *series);
/* Poll hx_metric every 100 ms until it is at least want: false on timeout. */
bool hx_wait_metric(int port, const char *series, double want, int timeout_ms);
/* Write an iotad config for broker b into the temp dir; extra is appended
 * YAML inside the detector section (may be NULL). Returns its path. */
const char *hx_config(const hx_broker *b, const char *name, const char *client_id,
		      const char *detector_extra);

#endif
