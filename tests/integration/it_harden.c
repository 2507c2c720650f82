/* it_harden.c - the real iotad and a real broker under hostile conditions:
 * a state file path that is not a file, hundreds of idle HTTP clients,
 * kill -9 during a burst, and telemetry redelivered out of order. */
#include "it_harden.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "harness.h"
#include "iotad/mqtt.h"

/* hx_config (detector_extra in its detector section) plus service.state_file
 * (saved every second) and extra_text after it. NULL on error. */
static const char *state_config_det(const hx_broker *b, const char *name, const char *client_id,
				    const char *state, const char *detector_extra,
				    const char *extra_text)
{
	const char *config = hx_config(b, name, client_id, detector_extra);
	char *text = config ? hx_read_file(config, NULL) : NULL;
	if (!text)
		return NULL;
	char extra[8192];
	snprintf(extra, sizeof extra, "%s  state_file: %s\n  state_interval: 1\n%s", text, state,
		 extra_text ? extra_text : "");
	free(text);
	return hx_write_file(config, extra) == 0 ? config : NULL;
}

static const char *state_config(const hx_broker *b, const char *name, const char *client_id,
				const char *state, const char *extra_text)
{
	return state_config_det(b, name, client_id, state, NULL, extra_text);
}

/* iotad on broker b with a state file NAME.bin and the HTTP door on a
 * free port (*port), its log NAME.log: started (with sub, once sub, a
 * subscriber to everything, has seen it online) and listening. pid, or -1. */
static pid_t http_iotad(const hx_broker *b, const char *name, hx_sub *sub, int *port)
{
	char extra[256], file[64], id[64], state[64], log[64];
	*port = hx_free_port();
	snprintf(extra, sizeof extra, "http:\n  listen: 127.0.0.1:%d\n", *port);
	snprintf(file, sizeof file, "%s.yaml", name);
	snprintf(id, sizeof id, "iotad-%s", name);
	snprintf(state, sizeof state, "%s.bin", name);
	snprintf(log, sizeof log, "%s.log", name);
	const char *config = state_config_det(b, file, id, hx_path(state), NULL, extra);
	if (!config)
		return -1;
	pid_t pid;
	if (sub) {
		snprintf(id, sizeof id, "it-%s-sub", name);
		if (hx_sub_start(sub, b->uri, "#", id) != 0)
			return -1;
		pid = hx_start_iotad(config, hx_path(log), sub, 1);
	} else {
		char *argv[] = {(char *)hx_iotad(), "run", "-c", (char *)config, NULL};
		pid = hx_spawn(argv, hx_path(log));
	}
	if (pid > 0 && !hx_wait_port(*port, 15000)) {
		kill(pid, SIGKILL);
		hx_wait_exit(pid, 5000);
		return -1;
	}
	return pid;
}

/* ---- item: a state file path that is not a regular file ---------------- */

static void refused_state_path(const hx_broker *b, const char *state, const char *what)
{
	char name[64], logname[64];
	snprintf(name, sizeof name, "notreg-%s.yaml", what);
	snprintf(logname, sizeof logname, "notreg-%s.log", what);
	const char *config = state_config(b, name, "iotad-notreg", state, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	const char *log = hx_path(logname);
	char *argv[] = {(char *)hx_iotad(), "run", "-c", (char *)config, NULL};
	int st = hx_run(argv, log, 10000);
	char *text = hx_read_file(log, NULL);
	if (st != 2)
		printf("\n    state_file %s (%s): exit %d, log: %s", state, what, st, text);
	CU_ASSERT_EQUAL(st, 2);
	CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, "not a regular file") : NULL);
	CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, what) : NULL);
	free(text);
}

void it_state_not_regular(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	struct stat st;

	const char *dir = hx_path("state-dir");
	CU_ASSERT_FATAL(mkdir(dir, 0700) == 0 || errno == EEXIST);
	refused_state_path(&b, dir, "directory");
	CU_ASSERT(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));

	const char *fifo = hx_path("state-fifo");
	CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0 || errno == EEXIST);
	refused_state_path(&b, fifo, "FIFO");
	CU_ASSERT(stat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));

	/* a symlink to a file: a save would put a regular file in its place */
	const char *target = hx_path("state-target");
	const char *link = hx_path("state-link");
	CU_ASSERT_FATAL(hx_write_file(target, "") == 0);
	CU_ASSERT_FATAL(symlink(target, link) == 0 || errno == EEXIST);
	refused_state_path(&b, link, "symbolic link");
	CU_ASSERT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));

	/* a character device, where the test may create one (root) */
	const char *dev = hx_path("state-chr");
	if (mknod(dev, S_IFCHR | 0600, makedev(1, 3)) == 0) {
		refused_state_path(&b, dev, "character device");
		CU_ASSERT(lstat(dev, &st) == 0 && S_ISCHR(st.st_mode));
		unlink(dev);
	}
	hx_broker_stop(&b, SIGTERM);
}

/* ---- item: sequence numbers across kill -9 ------------------------------ */

/* One sample of device d at step i: every 12th hot (60 degrees). */
static int publish_step(mq *pub, int d, int i, bool hot)
{
	char topic[64], msg[160];
	snprintf(topic, sizeof topic, "telemetry/burst-%d", d);
	int n = snprintf(msg, sizeof msg,
			 "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":%.1f,\"battery\":%.1f}",
			 1700000000 + i, hot ? 60.0 : 21.0 + 0.01 * (i % 3), 48.0 + 0.1 * (i % 2),
			 97.0 - 0.1 * (i % 2));
	return mq_publish(pub, topic, msg, (size_t)n, 1, false, 10000) == IOTAD_OK ? 0 : -1;
}

#define BURST_DEVICES 8
#define BURST_STEPS 720

typedef struct burst {
	mq *pub;
	int failed;
} burst;

/* 8 devices, a raise and a clear every 12 samples each, 2 ms apart. */
static void *burst_run(void *arg)
{
	burst *b = arg;
	for (int i = 0; i < BURST_STEPS; i++) {
		for (int d = 0; d < BURST_DEVICES; d++)
			b->failed |= publish_step(b->pub, d, i, i % 12 == 0);
		usleep(2000 * BURST_DEVICES);
	}
	return NULL;
}

void it_seq_after_crash(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, true), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-seq-sub"), 0);
	const char *state = hx_path("seq-state.bin");
	const char *config = state_config_det(&b, "seq.yaml", "iotad-seq", state,
					      "  alert_k: 1\n  alert_n: 1\n  alert_m: 1\n", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	burst bu = {.pub = hx_publisher(&b, "it-seq-pub", 64)};
	CU_ASSERT_PTR_NOT_NULL_FATAL(bu.pub);

	const char *log1 = hx_path("seq-1.log");
	pid_t pid = hx_start_iotad(config, log1, &sub, 1);
	CU_ASSERT_FATAL(pid > 0);
	pthread_t th;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, burst_run, &bu), 0);
	/* events flow, a periodic save lands, more events: kill -9 mid-burst */
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/burst-", NULL, 40, 20000));
	CU_ASSERT_TRUE(hx_wait_written(state, 5000));
	size_t at_save = hx_sub_count(&sub, "alerts/burst-", NULL);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/burst-", NULL, at_save + 20, 10000));
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 10000), 128 + SIGKILL);
	size_t before = hx_sub_count(&sub, "alerts/burst-", NULL);

	const char *log2 = hx_path("seq-2.log");
	pid = hx_start_iotad(config, log2, &sub, 2);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_TRUE(hx_wait_log(log2, "state: restored", 5000));
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(bu.failed, 0);
	CU_ASSERT_TRUE(mq_drain(bu.pub, 5000));
	hx_sub_settle(&sub, "alerts/", 1500, 20000);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);

	size_t events = 0;
	size_t conflicts = hx_sub_seq_conflicts(&sub, "alerts/burst-", &events);
	CU_ASSERT_EQUAL(conflicts, 0);
	CU_ASSERT(events > before + 100);
	printf("\n    kill -9 mid-burst: %zu events before the kill, %zu in all; "
	       "(device, seq) pairs carrying two different events: %zu", before, events, conflicts);
	mq_destroy(bu.pub, 2000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- item: idle and slow HTTP clients do not lock out health ------------- */

#define IDLE_CONNS 300
#define SLOW_CONNS 20

static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* GET path with a deadline of timeout_ms for the whole answer: its status
 * (-1 when none came in time); *secs the time it took. */
static int timed_get(int port, const char *path, int timeout_ms, double *secs)
{
	double t0 = now_s();
	int fd = tcp_connect(port), status = -1;
	char req[256], buf[8192];
	size_t got = 0;
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	if (fd >= 0 && send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
		for (;;) {
			int left = timeout_ms - (int)((now_s() - t0) * 1000);
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (left <= 0 || poll(&p, 1, left) <= 0)
				break;
			ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
			if (k <= 0)
				break;
			got += (size_t)k;
			buf[got] = '\0';
			if (sscanf(buf, "HTTP/1.%*d %d", &status) == 1 && strstr(buf, "\r\n\r\n"))
				break;
		}
	}
	if (fd >= 0)
		close(fd);
	*secs = now_s() - t0;
	return status;
}

typedef struct slowloris {
	int port;
	int fds[SLOW_CONNS];
	volatile bool stop;
	int lines;
} slowloris;

/* Connections that send a request line, then a header line every second. */
static void *slowloris_run(void *arg)
{
	slowloris *s = arg;
	for (int i = 0; i < SLOW_CONNS; i++) {
		s->fds[i] = tcp_connect(s->port);
		if (s->fds[i] >= 0)
			send(s->fds[i], "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL);
	}
	while (!s->stop) {
		for (int i = 0; i < SLOW_CONNS; i++)
			if (s->fds[i] >= 0 && send(s->fds[i], "X-a: b\r\n", 8, MSG_NOSIGNAL) == 8)
				s->lines++;
		for (int k = 0; k < 10 && !s->stop; k++)
			usleep(100000);
	}
	for (int i = 0; i < SLOW_CONNS; i++)
		if (s->fds[i] >= 0)
			close(s->fds[i]);
	return NULL;
}

void it_http_many_clients(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	int port;
	pid_t pid = http_iotad(&b, "many", NULL, &port);
	CU_ASSERT_FATAL(pid > 0);

	int idle[IDLE_CONNS], opened = 0;
	for (int i = 0; i < IDLE_CONNS; i++)
		if ((idle[i] = tcp_connect(port)) >= 0)
			opened++;
	slowloris sl = {.port = port};
	pthread_t th;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, slowloris_run, &sl), 0);
	/* a few event streams too */
	int streams[4];
	const char ev[] = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	for (int i = 0; i < 4; i++)
		if ((streams[i] = tcp_connect(port)) >= 0)
			send(streams[i], ev, sizeof ev - 1, MSG_NOSIGNAL);
	sleep(2);
	CU_ASSERT_EQUAL(opened, IDLE_CONNS);

	/* for 8 s, while all of them hold on: every health and metrics GET
	 * answers within a second */
	const char *paths[] = {"/healthz", "/readyz", "/metrics"};
	double worst = 0;
	int asked = 0, answered = 0;
	for (int round = 0; round < 8; round++) {
		for (int k = 0; k < 3; k++) {
			double secs;
			int st = timed_get(port, paths[k], 1000, &secs);
			asked++;
			answered += st == 200;
			if (st != 200)
				printf("\n    %s: status %d after %.3f s", paths[k], st, secs);
			worst = secs > worst ? secs : worst;
		}
		sleep(1);
	}
	CU_ASSERT_EQUAL(answered, asked);
	CU_ASSERT(worst < 1.0);
	printf("\n    %d idle and %d slow connections, 4 event streams: %d/%d health and metrics "
	       "GETs answered 200, slowest %.3f s; %d slow header lines sent",
	       opened, SLOW_CONNS, answered, asked, worst, sl.lines);
	sl.stop = true;
	pthread_join(th, NULL);
	for (int i = 0; i < IDLE_CONNS; i++)
		if (idle[i] >= 0)
			close(idle[i]);
	for (int i = 0; i < 4; i++)
		if (streams[i] >= 0)
			close(streams[i]);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- item: redelivered and reordered telemetry ---------------------------- */

static int publish_ts(mq *pub, const char *device, int i)
{
	char topic[64], msg[160];
	snprintf(topic, sizeof topic, "telemetry/%s", device);
	int n = snprintf(msg, sizeof msg,
			 "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":%.1f,\"battery\":%.1f}",
			 1700000000 + i, 21.0 + 0.01 * (i % 3), 48.0 + 0.1 * (i % 2),
			 97.0 - 0.1 * (i % 2));
	return mq_publish(pub, topic, msg, (size_t)n, 1, false, 10000) == IOTAD_OK ? 0 : -1;
}

void it_reorder_redelivery(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	int port;
	hx_sub sub;
	pid_t pid = http_iotad(&b, "reorder", &sub, &port);
	CU_ASSERT_FATAL(pid > 0);
	mq *pub = hx_publisher(&b, "it-reorder-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);

	/* the reference: 80 samples in order */
	for (int i = 0; i < 80; i++)
		CU_ASSERT_EQUAL(publish_ts(pub, "ro-ref", i), 0);
	CU_ASSERT_FATAL(hx_wait_metric(port, "iotad_messages_received_total", 80, 15000));
	double ref = hx_metric(port, "iotad_messages_scored_total");

	/* the same 80 as a broker restart delivers them: 0..39, then the
	 * unacknowledged 30..39 again interleaved with 40..49 in swapped
	 * pairs, then 50..79 */
	for (int i = 0; i < 40; i++)
		publish_ts(pub, "ro-1", i);
	for (int k = 0; k < 5; k++) {
		publish_ts(pub, "ro-1", 30 + 2 * k);
		publish_ts(pub, "ro-1", 31 + 2 * k);
		publish_ts(pub, "ro-1", 41 + 2 * k);
		publish_ts(pub, "ro-1", 40 + 2 * k);
	}
	for (int i = 50; i < 80; i++)
		publish_ts(pub, "ro-1", i);
	/* and a timestamp going back beyond the window: out of order */
	publish_ts(pub, "ro-1", 10);
	CU_ASSERT_FATAL(hx_wait_metric(port, "iotad_messages_received_total", 80 + 91, 15000));
	double dup = hx_metric(port, "iotad_messages_rejected_total{reason=\"duplicate\"}");
	double ooo = hx_metric(port, "iotad_messages_rejected_total{reason=\"out_of_order\"}");
	double late = hx_metric(port, "iotad_messages_late_total");
	double scored = hx_metric(port, "iotad_messages_scored_total");
	CU_ASSERT_EQUAL(dup, 10);
	CU_ASSERT_EQUAL(ooo, 1);
	CU_ASSERT_EQUAL(late, 5);
	CU_ASSERT_EQUAL(scored, 2 * ref);
	printf("\n    redelivery after a broker restart: 10 repeated, 5 swapped pairs, 1 back in "
	       "time: duplicate %.0f, late (taken) %.0f, out_of_order %.0f; windows scored %.0f "
	       "(in order: %.0f)", dup, late, ooo, scored - ref, ref);
	mq_destroy(pub, 2000);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- item: one message must not blind a device ---------------------------- */

static int publish_at(mq *pub, const char *device, double ts, bool with_ts)
{
	char topic[64], msg[160], tsf[48] = "";
	snprintf(topic, sizeof topic, "telemetry/%s", device);
	if (with_ts)
		snprintf(tsf, sizeof tsf, "\"ts\":%.3f,", ts);
	int n = snprintf(msg, sizeof msg,
			 "{%s\"temperature\":21.0,\"humidity\":48.0,\"battery\":97.0}", tsf);
	return mq_publish(pub, topic, msg, (size_t)n, 1, false, 10000) == IOTAD_OK ? 0 : -1;
}

void it_clock_skew(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	int port;
	hx_sub sub;
	pid_t pid = http_iotad(&b, "skew", &sub, &port);
	CU_ASSERT_FATAL(pid > 0);
	mq *pub = hx_publisher(&b, "it-skew-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	double now = (double)time(NULL);

	/* sk-1: a message dated epoch 99000000000 between good ones */
	for (int i = 0; i < 12; i++)
		publish_at(pub, "sk-1", now - 20 + i, true);
	publish_at(pub, "sk-1", 99000000000.0, true);
	for (int i = 0; i < 6; i++)
		publish_at(pub, "sk-1", now - 8 + i, true);
	/* sk-2: a clock 100 s behind, and one message without ts */
	for (int i = 0; i < 12; i++)
		publish_at(pub, "sk-2", now - 120 + i, true);
	publish_at(pub, "sk-2", 0, false);
	for (int i = 0; i < 6; i++)
		publish_at(pub, "sk-2", now - 108 + i, true);
	CU_ASSERT_FATAL(hx_wait_metric(port, "iotad_messages_received_total", 38, 15000));
	double skew = hx_metric(port, "iotad_messages_rejected_total{reason=\"ts_skew\"}");
	double ooo = hx_metric(port, "iotad_messages_rejected_total{reason=\"out_of_order\"}");
	double dup = hx_metric(port, "iotad_messages_rejected_total{reason=\"duplicate\"}");
	double scored = hx_metric(port, "iotad_messages_scored_total");
	CU_ASSERT_EQUAL(skew, 1);
	CU_ASSERT_EQUAL(ooo, 0);
	CU_ASSERT_EQUAL(dup, 0);
	CU_ASSERT_EQUAL(scored, (18 - 9) + (19 - 9));
	printf("\n    a far-future ts and a message without ts from a lagging device: ts_skew "
	       "%.0f, out_of_order %.0f, duplicate %.0f, windows scored %.0f of 19", skew, ooo,
	       dup, scored);
	mq_destroy(pub, 2000);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}
