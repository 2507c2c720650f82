/* bench_mqtt.c - end-to-end throughput of `iotad run` on a real broker.
 *
 * A private mosquitto on a free loopback port. A publisher in this process
 * sends N pre-generated telemetry messages of D devices as fast as the
 * broker takes them, followed by a few sentinel messages. Two consumers,
 * each a separate process subscribed to telemetry/+ at QoS 1 with the same
 * client settings, are timed in turn:
 *
 *   baseline  a no-op subscriber (this program with --sink) that counts
 *             messages and, at the last one, publishes "done";
 *   iotad     the real binary, scoring every message; the sentinel device
 *             sends out-of-range values so that iotad raises an alert on
 *             exactly the last sentinel message (W + (k-1)*stride samples).
 *
 * Two modes. live: each run is timed from the first publish to the arrival
 * of "done" or of the sentinel's alert at a monitor client (both cost one
 * extra hop), so a consumer faster than the publisher shows the publisher's
 * pace. backlog: the consumer is stopped (SIGSTOP) while everything is
 * published, then resumed; the clock runs from the resume to the same
 * signal, which measures the consumer's own drain rate. CPU
 * time of the consumer process comes from /proc/PID/stat. iotad's final
 * stats line (after SIGTERM) must show every message received and none
 * rejected.
 *
 * usage: bench_mqtt [--iotad PATH] [--model FILE] [--messages N]
 *                   [--devices N] [--qos 0|1|both] [--mode live|backlog|both]
 *                   [--repeat R] [--journal none|write|fsync] [--keep]
 *                   [--queue-size N]
 *
 * --queue-size sets iotad's service.queue_size (not set: iotad's default).
 * --journal write (or fsync) runs iotad with a state file and
 * service.journal (journal_fsync: true for fsync), to measure what the
 * journal costs against the same no-op baseline.
 *
 * Each consumer is run R times (3), alternating; medians are reported.
 *
 * Both consumers use a keep-alive of CONSUMER_KEEPALIVE s: a consumer stopped
 * for longer than 1.5 keep-alives is dropped by the broker, and on its
 * reconnection the broker sends its unacknowledged QoS 1 messages again, some
 * of which it had already taken (their PUBACK was lost with the connection):
 * legal at QoS 1, but the count would no longer be of distinct messages. A
 * run in which the consumer lost its connection does not count. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "iotad/log.h"
#include "iotad/model_io.h"
#include "iotad/mqtt.h"

#define SENTINEL "bench-sentinel"
#define CONSUMER_KEEPALIVE 1800
#define SINK_TOPIC "bench/sink"
#define STATUS_TOPIC "iotad/status"
#define ALERT_K 3
#define TIMEOUT_S 600.0
#define IOTAD_CLIENT_ID "iotad-bench"

/* --- sink: the no-op subscriber (child process) ------------------------- */

static _Atomic uint64_t sink_count;
static uint64_t sink_target;
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sink_cond = PTHREAD_COND_INITIALIZER;

static bool sink_on_message(void *ud, const char *topic, size_t topic_len, const void *payload,
			    size_t len, int qos, bool retained)
{
	(void)ud;
	(void)topic;
	(void)topic_len;
	(void)payload;
	(void)len;
	(void)qos;
	(void)retained;
	if (atomic_fetch_add_explicit(&sink_count, 1, memory_order_relaxed) + 1 == sink_target) {
		pthread_mutex_lock(&sink_lock);
		pthread_cond_signal(&sink_cond);
		pthread_mutex_unlock(&sink_lock);
	}
	return true;
}

/* Subscribe like iotad, say "online" (sent after the SUBSCRIBE on the same
 * connection), count to target, say "done", wait to be killed. */
static int sink_main(const char *uri, const char *target, const char *client_id)
{
	mq *c;
	mq_opts o = {
		.uri = uri, .client_id = client_id, .will_topic = SINK_TOPIC,
		.will_payload = "offline", .online_payload = "online",
		.keepalive = CONSUMER_KEEPALIVE, .clean_session = false, .max_inflight = 1024,
		.on_message = sink_on_message,
	};

	sink_target = (uint64_t)bench_arg_long("--sink target", target, LONG_MAX);
	if (mq_create(&o, &c) != IOTAD_OK || mq_subscribe(c, "telemetry/+", 1) != IOTAD_OK ||
	    mq_start(c) != IOTAD_OK)
		bench_die("sink: cannot start the MQTT client");
	pthread_mutex_lock(&sink_lock);
	while (atomic_load(&sink_count) < sink_target)
		pthread_cond_wait(&sink_cond, &sink_lock);
	pthread_mutex_unlock(&sink_lock);
	mq_publish(c, SINK_TOPIC, "done", 4, 1, false, -1);
	mq_drain(c, 5000);
	for (;;)
		pause();
	return 0;
}

/* --- monitor: sees "online", "done" and the sentinel's alert ------------- */

typedef struct monitor {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int iotad_online, sink_online, sink_done, sentinel_raised;
	double t_done;          /* arrival of "done" or of the sentinel's alert */
} monitor;

static monitor mon = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0.0};

static bool mon_on_message(void *ud, const char *topic, size_t topic_len, const void *payload,
			   size_t len, int qos, bool retained)
{
	(void)ud;
	(void)qos;
	double now = bench_now();
	const char *p = payload;

	if (retained)           /* an earlier run's state, not news */
		return true;
	pthread_mutex_lock(&mon.lock);
	if (topic_len == strlen(STATUS_TOPIC) && !memcmp(topic, STATUS_TOPIC, topic_len)) {
		if (len == 6 && !memcmp(p, "online", 6))
			mon.iotad_online++;
	} else if (topic_len == strlen(SINK_TOPIC) && !memcmp(topic, SINK_TOPIC, topic_len)) {
		if (len == 6 && !memcmp(p, "online", 6))
			mon.sink_online++;
		if (len == 4 && !memcmp(p, "done", 4)) {
			mon.sink_done++;
			mon.t_done = now;
		}
	} else if (memmem(p, len, "\"raised\"", 8)) {
		mon.sentinel_raised++;
		mon.t_done = now;
	}
	pthread_cond_broadcast(&mon.cond);
	pthread_mutex_unlock(&mon.lock);
	return true;
}

/* Wait until *counter > 0 or timeout. */
static bool mon_wait(int *counter, double timeout_s)
{
	struct timespec dl;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)timeout_s;
	pthread_mutex_lock(&mon.lock);
	while (*counter == 0 && pthread_cond_timedwait(&mon.cond, &mon.lock, &dl) != ETIMEDOUT)
		;
	ok = *counter > 0;
	pthread_mutex_unlock(&mon.lock);
	return ok;
}

static void mon_reset(void)
{
	pthread_mutex_lock(&mon.lock);
	mon.iotad_online = mon.sink_online = mon.sink_done = mon.sentinel_raised = 0;
	mon.t_done = 0.0;
	pthread_mutex_unlock(&mon.lock);
}

/* --- workload ------------------------------------------------------------ */

typedef struct workload {
	size_t n;               /* messages, sentinel included */
	size_t n_sentinel;
	char *topics;           /* n * TOPIC_LEN */
	char *payloads;         /* n * PAYLOAD_LEN */
	uint16_t *len;          /* payload lengths */
} workload;

#define TOPIC_LEN 48
#define PAYLOAD_LEN 128

static void workload_init(workload *w, size_t n, int n_devices, size_t n_sentinel)
{
	bench_data d;
	char name[32];

	if (bench_data_init(&d, n, n_devices, 2024) != 0)
		exit(1);
	w->n = n + n_sentinel;
	w->n_sentinel = n_sentinel;
	w->topics = malloc(w->n * TOPIC_LEN);
	w->payloads = malloc(w->n * PAYLOAD_LEN);
	w->len = malloc(w->n * sizeof *w->len);
	if (!w->topics || !w->payloads || !w->len)
		bench_die("out of memory for the workload");
	for (size_t i = 0; i < w->n; i++) {
		char *t = w->topics + i * TOPIC_LEN, *p = w->payloads + i * PAYLOAD_LEN;
		int len;
		if (i < n) {
			const float *v = d.values + i * SIM_FEATURES;
			sim_device_name(d.device[i], name, sizeof name);
			snprintf(t, TOPIC_LEN, "telemetry/%s", name);
			/* The simulator's own format and precision. */
			len = snprintf(p, PAYLOAD_LEN,
				       "{\"ts\":%.3f,\"temperature\":%.2f,\"humidity\":%.1f,"
				       "\"battery\":%.1f}",
				       d.ts[i], (double)v[0], (double)v[1], (double)v[2]);
		} else {
			/* Far outside anything seen in training: every window anomalous. */
			snprintf(t, TOPIC_LEN, "telemetry/" SENTINEL);
			len = snprintf(p, PAYLOAD_LEN,
				       "{\"ts\":%.3f,\"temperature\":500.0,\"humidity\":-300.0,"
				       "\"battery\":900.0}",
				       d.ts[n - 1] + (double)(i - n + 1));
		}
		if (len < 0 || len >= PAYLOAD_LEN)
			bench_die("payload does not fit");
		w->len[i] = (uint16_t)len;
	}
	bench_data_free(&d);
}

static void workload_free(workload *w)
{
	free(w->topics);
	free(w->payloads);
	free(w->len);
}

/* --- one timed run ------------------------------------------------------- */

typedef struct run_result {
	bool ok;
	double t_pub;           /* first publish .. last publish accepted (acked for QoS 1) */
	double t_total;         /* first publish .. completion signal */
	double cpu;             /* consumer CPU seconds during the run */
	unsigned long long received, scored; /* iotad's final stats */
	bool reconnected;       /* iotad's log shows a lost connection */
} run_result;

static double publish_all(mq *pub, const workload *w, int qos)
{
	double t0 = bench_now();

	for (size_t i = 0; i < w->n; i++)
		if (mq_publish(pub, w->topics + i * TOPIC_LEN, w->payloads + i * PAYLOAD_LEN,
			       w->len[i], qos, false, -1) != IOTAD_OK)
			bench_die("publish refused");
	if (!mq_drain(pub, 60000))
		bench_die("publishes not acknowledged within 60 s");
	return t0;
}

/* Parse "stats (final): received=N scored=M" and check nothing was rejected. */
static bool read_final_stats(const char *log, run_result *r)
{
	FILE *f = fopen(log, "r");
	char line[2048];
	bool found = false, clean = false;

	if (!f)
		return false;
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, "mqtt: connection to "))
			r->reconnected = true;
		const char *p = strstr(line, "stats (final): received=");
		if (p && sscanf(p, "stats (final): received=%llu scored=%llu", &r->received,
				&r->scored) == 2) {
			found = true;
			clean = strstr(p, "rejected: none") != NULL &&
				strstr(p, "publish_failed=0 ") != NULL;
		}
	}
	fclose(f);
	return found && clean;
}

/* Drop a stopped consumer's persistent session, so the broker does not keep
 * queueing the next runs' messages for it: connect once with the same
 * client id and a clean session. */
static void purge_session(const char *uri, const char *client_id)
{
	mq *c;
	mq_opts o = {.uri = uri, .client_id = client_id, .keepalive = 30, .clean_session = true,
		     .max_inflight = 16};

	if (mq_create(&o, &c) != IOTAD_OK)
		bench_die("cannot create a client");
	if (mq_start(c) != IOTAD_OK || !mq_wait_connected(c, 10000))
		bench_die("cannot connect to purge a session");
	mq_destroy(c, 1000);
}

/* One consumer (the no-op subscriber or iotad) through the whole workload.
 * live: the clock starts at the first publish. backlog: the consumer is
 * stopped (SIGSTOP) while everything is published, so the broker holds the
 * backlog; the clock starts when it is resumed and measures the consumer's
 * drain rate, free of the publisher's pace. */
static run_result run_once(const char *uri, mq *pub, const workload *w, int qos, bool backlog,
			   bool use_iotad, const char *iotad, const char *config, const char *self)
{
	run_result r = {0};
	char target[32], client_id[64], log[PATH_MAX];
	pid_t pid;

	mon_reset();
	snprintf(log, sizeof log, "%s", bench_tmp_path(use_iotad ? "iotad.log" : "sink.log"));
	snprintf(client_id, sizeof client_id, "%s", use_iotad ? IOTAD_CLIENT_ID : "bench-sink");
	if (use_iotad) {
		char *argv[] = {(char *)iotad, "run", "-c", (char *)config, NULL};
		unlink(bench_tmp_path("state.bin")); /* each run starts afresh (--journal) */
		unlink(bench_tmp_path("journal"));
		pid = bench_spawn(argv, log);
		if (!mon_wait(&mon.iotad_online, 30))
			bench_die("iotad did not come online (see its log with --keep)");
	} else {
		snprintf(target, sizeof target, "%zu", w->n);
		char *argv[] = {(char *)self, "--sink", (char *)uri, target, client_id, NULL};
		pid = bench_spawn(argv, log);
		if (!mon_wait(&mon.sink_online, 30))
			bench_die("the no-op subscriber did not come online");
	}
	bench_sleep_ms(200);          /* let the consumer settle before the clock starts */
	double cpu0, t0;
	if (backlog) {
		kill(pid, SIGSTOP);
		t0 = publish_all(pub, w, qos);
		r.t_pub = bench_now() - t0;
		bench_sleep_ms(200);  /* the broker has routed the last publishes */
		cpu0 = bench_proc_cpu(pid);
		t0 = bench_now();
		kill(pid, SIGCONT);
	} else {
		cpu0 = bench_proc_cpu(pid);
		t0 = publish_all(pub, w, qos);
		r.t_pub = bench_now() - t0;
	}
	bool done = mon_wait(use_iotad ? &mon.sentinel_raised : &mon.sink_done, TIMEOUT_S);
	double cpu1 = bench_proc_cpu(pid);
	pthread_mutex_lock(&mon.lock);
	r.t_total = mon.t_done - t0;
	pthread_mutex_unlock(&mon.lock);
	r.cpu = cpu1 - cpu0;
	int st = bench_stop_child(pid, SIGTERM, 30);
	purge_session(uri, client_id);
	if (!done) {
		fprintf(stderr, "bench_mqtt: %s did not finish within %.0f s\n",
			use_iotad ? "iotad" : "the no-op subscriber", TIMEOUT_S);
		return r;
	}
	if (use_iotad) {
		bool clean = read_final_stats(log, &r);
		if (r.reconnected) {
			fprintf(stderr, "bench_mqtt: iotad lost its connection to the broker during the "
					"run (received %llu of %zu; at QoS 1 the broker sends the "
					"unacknowledged messages again): run not counted\n",
				r.received, w->n);
			return r;
		}
		if (st != 0 || !clean || r.received != w->n) {
			fprintf(stderr, "bench_mqtt: iotad exit %d, received %llu of %zu, or "
					"rejected/failed messages (see its log with --keep)\n",
				st, r.received, w->n);
			return r;
		}
		remove(log);    /* the next iotad run appends to a fresh log */
	}
	r.ok = true;
	return r;
}

/* --- main ---------------------------------------------------------------- */

#define MAX_REPEAT 15

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of n values (sorts a copy). */
static double median(const double *v, int n)
{
	double c[MAX_REPEAT];

	memcpy(c, v, (size_t)n * sizeof *c);
	qsort(c, (size_t)n, sizeof *c, cmp_double);
	return n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2.0;
}

static void default_iotad(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	const char *env = getenv("IOTAD");

	if (env) {
		snprintf(out, len, "%s", env);
		return;
	}
	if (n <= 0)
		bench_die("cannot find this program's path; give --iotad");
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(out, len, "%s/../src/iotad", self) >= len)
		bench_die("path too long; give --iotad");
}

int main(int argc, char **argv)
{
	const char *model_path = NULL;
	char iotad[PATH_MAX], self[PATH_MAX];
	size_t n = 200000;
	int n_devices = 100, qos_from = 0, qos_to = 1, repeat = 3, mode_from = 0, mode_to = 1;
	const char *journal = "none";
	long queue_size = 0;

	if (argc == 5 && !strcmp(argv[1], "--sink"))
		return sink_main(argv[2], argv[3], argv[4]);
	default_iotad(iotad, sizeof iotad);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iotad") && i + 1 < argc)
			snprintf(iotad, sizeof iotad, "%s", argv[++i]);
		else if (!strcmp(argv[i], "--model") && i + 1 < argc)
			model_path = argv[++i];
		else if (!strcmp(argv[i], "--messages") && i + 1 < argc)
			n = (size_t)bench_arg_long("--messages", argv[++i], 100000000L);
		else if (!strcmp(argv[i], "--devices") && i + 1 < argc)
			n_devices = (int)bench_arg_long("--devices", argv[++i], SIM_MAX_DEVICES);
		else if (!strcmp(argv[i], "--qos") && i + 1 < argc) {
			const char *q = argv[++i];
			if (!strcmp(q, "0") || !strcmp(q, "1"))
				qos_from = qos_to = q[0] - '0';
			else if (strcmp(q, "both")) {
				fprintf(stderr, "bench_mqtt: --qos: expected 0, 1 or both\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			const char *md = argv[++i];
			if (!strcmp(md, "live"))
				mode_from = mode_to = 0;
			else if (!strcmp(md, "backlog"))
				mode_from = mode_to = 1;
			else if (strcmp(md, "both")) {
				fprintf(stderr, "bench_mqtt: --mode: expected live, backlog or both\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = (int)bench_arg_long("--repeat", argv[++i], MAX_REPEAT);
		else if (!strcmp(argv[i], "--keep"))
			bench_keep_tmp(true);
		else if (!strcmp(argv[i], "--queue-size") && i + 1 < argc)
			queue_size = bench_arg_long("--queue-size", argv[++i], 16L << 20);
		else if (!strcmp(argv[i], "--journal") && i + 1 < argc &&
			 (!strcmp(argv[i + 1], "none") || !strcmp(argv[i + 1], "write") ||
			  !strcmp(argv[i + 1], "fsync")))
			journal = argv[++i];
		else {
			fprintf(stderr, "usage: bench_mqtt [--iotad PATH] [--model FILE] "
					"[--messages N] [--devices N] [--qos 0|1|both] "
					"[--mode live|backlog|both] [--repeat R] "
					"[--journal none|write|fsync] [--queue-size N] "
					"[--keep]\n");
			return 2;
		}
	}
	ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (sl <= 0)
		bench_die("cannot find this program's path");
	self[sl] = '\0';
	if (access(iotad, X_OK) != 0) {
		fprintf(stderr, "bench_mqtt: no iotad binary at %s (give --iotad)\n", iotad);
		return 1;
	}
	bench_tmp_init("bench_mqtt");
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_WARN);

	/* The model: the given file, or one trained here and saved for iotad. */
	model m;
	if (bench_model(model_path, &m) != 0)
		return 1;
	if (!model_path) {
		model_path = bench_tmp_path("model.json");
		if (model_save(&m, model_path) != IOTAD_OK)
			bench_die("cannot save the model");
	}
	int stride = m.stride > 0 ? m.stride : 1;
	size_t n_sentinel = (size_t)m.window + (size_t)(ALERT_K - 1) * (size_t)stride;
	printf("mqtt: model %s (window %d, stride %d); %zu messages of %d devices + %zu sentinel\n",
	       m.id, m.window, stride, n, n_devices, n_sentinel);

	/* The broker. */
	char text[1024], uri[64];
	pid_t broker = bench_broker_start("log_dest stderr\nlog_type error\nlog_type warning\n", uri,
					  sizeof uri);

	snprintf(text, sizeof text,
		 "mqtt:\n  uri: %s\n  client_id: " IOTAD_CLIENT_ID "\n  keepalive: %d\n"
		 "topics:\n  telemetry: telemetry/+\n  device_level: 1\n  status: " STATUS_TOPIC "\n"
		 "model:\n  path: %s\n"
		 "detector:\n  max_devices: %d\n  alert_k: %d\n  alert_n: %d\n"
		 "service:\n  log_level: info\n",
		 uri, CONSUMER_KEEPALIVE, model_path, n_devices + 10, ALERT_K, ALERT_K);
	if (strcmp(journal, "none")) {
		size_t used = strlen(text);
		snprintf(text + used, sizeof text - used,
			 "  state_file: %s\n  journal: %s\n  journal_fsync: %s\n",
			 bench_tmp_path("state.bin"), bench_tmp_path("journal"),
			 strcmp(journal, "fsync") ? "false" : "true");
	}
	if (queue_size > 0) {
		size_t used = strlen(text);
		snprintf(text + used, sizeof text - used, "  queue_size: %ld\n", queue_size);
		printf("mqtt: queue_size %ld\n", queue_size);
	}
	printf("mqtt: journal %s\n", journal);
	bench_write_file(bench_tmp_path("iotad.yaml"), text);

	workload w;
	workload_init(&w, n, n_devices, n_sentinel);

	mq *monc, *pub;
	mq_opts mo = {.uri = uri, .client_id = "bench-monitor", .keepalive = 30,
		      .clean_session = true, .max_inflight = 16, .on_message = mon_on_message};
	mq_opts po = {.uri = uri, .client_id = "bench-publisher", .keepalive = 30,
		      .clean_session = true, .max_inflight = 1024};
	if (mq_create(&mo, &monc) != IOTAD_OK || mq_subscribe(monc, STATUS_TOPIC, 1) != IOTAD_OK ||
	    mq_subscribe(monc, SINK_TOPIC, 1) != IOTAD_OK ||
	    mq_subscribe(monc, "alerts/" SENTINEL, 1) != IOTAD_OK || mq_start(monc) != IOTAD_OK ||
	    !mq_wait_connected(monc, 10000))
		bench_die("monitor cannot connect");
	if (mq_create(&po, &pub) != IOTAD_OK || mq_start(pub) != IOTAD_OK ||
	    !mq_wait_connected(pub, 10000))
		bench_die("publisher cannot connect");
	bench_sleep_ms(300);          /* the monitor's SUBACKs */

	int failed = 0;
	for (int mode = mode_from; mode <= mode_to && !failed; mode++)
	for (int qos = qos_from; qos <= qos_to && !failed; qos++) {
		const char *mname = mode ? "backlog" : "live";
		double tb[MAX_REPEAT], tr[MAX_REPEAT], cb[MAX_REPEAT], cr[MAX_REPEAT];
		double pb[MAX_REPEAT], pr[MAX_REPEAT];
		run_result r = {0};
		/* Alternate the two consumers so that drift hits both alike. */
		for (int k = 0; k < repeat && !failed; k++) {
			run_result b = run_once(uri, pub, &w, qos, mode, false, iotad, NULL, self);
			r = run_once(uri, pub, &w, qos, mode, true, iotad,
				     bench_tmp_path("iotad.yaml"), self);
			if (!b.ok || !r.ok) {
				failed = 1;
				break;
			}
			tb[k] = b.t_total;
			tr[k] = r.t_total;
			cb[k] = b.cpu;
			cr[k] = r.cpu;
			pb[k] = b.t_pub;
			pr[k] = r.t_pub;
			printf("mqtt %s qos%d run %d: no-op %.2f s (publisher %.2f s, cpu %.2f s); "
			       "iotad %.2f s (publisher %.2f s, cpu %.2f s), received=%llu scored=%llu\n",
			       mname, qos, k + 1, b.t_total, b.t_pub, b.cpu, r.t_total, r.t_pub, r.cpu,
			       r.received, r.scored);
			fflush(stdout);
		}
		if (failed)
			break;
		double rate_b = (double)w.n / median(tb, repeat);
		double rate_r = (double)w.n / median(tr, repeat);
		double us_b = median(cb, repeat) * 1e6 / (double)w.n;
		double us_r = median(cr, repeat) * 1e6 / (double)w.n;
		printf("mqtt %s qos%d: no-op subscriber %.0f msg/s, cpu %.2f us/msg "
		       "(median of %d; publisher done at %.2f s)\n",
		       mname, qos, rate_b, us_b, repeat, median(pb, repeat));
		printf("mqtt %s qos%d: iotad run        %.0f msg/s, cpu %.2f us/msg "
		       "(median of %d; publisher done at %.2f s)\n",
		       mname, qos, rate_r, us_r, repeat, median(pr, repeat));
		printf("mqtt %s qos%d: ratio iotad/no-op: throughput %.2f, cpu per message %.2f\n",
		       mname, qos,
		       rate_r / rate_b, us_r / us_b);
		printf("RESULT mqtt mode=%s qos=%d noop_msg_s=%.0f iotad_msg_s=%.0f ratio=%.3f "
		       "noop_cpu_us=%.2f iotad_cpu_us=%.2f cpu_ratio=%.3f\n",
		       mname, qos, rate_b, rate_r, rate_r / rate_b, us_b, us_r, us_r / us_b);
		fflush(stdout);
	}

	mq_destroy(pub, 2000);
	mq_destroy(monc, 1000);
	bench_stop_child(broker, SIGTERM, 10);
	workload_free(&w);
	model_free(&m);
	return failed;
}
