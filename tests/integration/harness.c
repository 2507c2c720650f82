/* harness.c - processes, broker and subscriber for integration tests. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

const char *hx_iotad(void)
{
	const char *p = getenv("IOTAD");
	return p ? p : "./build/src/iotad";
}

static void remove_tmpdir(void)
{
	if (getenv("HX_KEEP") || !tmpdir[0])
		return;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "harness: could not remove %s\n", tmpdir);
}

const char *hx_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof tmpdir, "/tmp/iotad-it.XXXXXX");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

const char *hx_path(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, 512, "%s/%s", hx_tmpdir(), name);
	return b;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int hx_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

bool hx_wait_port(int port, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return true;
		sleep_ms(50);
	}
	return false;
}

pid_t hx_spawn(char *const argv[], const char *log)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (log) {
			int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
		}
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

int hx_wait_exit(pid_t pid, int timeout_ms)
{
	for (int waited = 0;; waited += 20) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0 || waited >= timeout_ms)
			return -1;
		sleep_ms(20);
	}
}

int hx_run(char *const argv[], const char *log, int timeout_ms)
{
	pid_t pid = hx_spawn(argv, log);
	if (pid < 0)
		return -1;
	int rc = hx_wait_exit(pid, timeout_ms);
	if (rc == -1) {
		kill(pid, SIGKILL);
		hx_wait_exit(pid, 5000);
	}
	return rc;
}

char *hx_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n - 1 == 0) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

bool hx_wait_log(const char *path, const char *needle, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 100) {
		char *t = hx_read_file(path, NULL);
		bool found = t && strstr(t, needle);
		free(t);
		if (found)
			return true;
		sleep_ms(100);
	}
	return false;
}

long hx_proc_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t fl = strlen(field);
	long kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, fl) && line[fl] == ':') {
			kb = strtol(line + fl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

int hx_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int hx_split_csv(const char *src, const char *prefix, int parts)
{
	char *text = hx_read_file(hx_path(src), NULL);
	char *body = text ? strchr(text, '\n') : NULL;
	size_t rows = 0;
	for (char *p = body; p && *++p; p = strchr(p, '\n'))
		rows++;
	int rc = body && rows >= (size_t)parts ? 0 : -1;
	char *at = body ? body + 1 : NULL;
	for (int k = 0; k < parts && rc == 0; k++) {
		char *end = at;
		for (size_t r = k * rows / parts; r < (k + 1) * rows / parts; r++)
			end = strchr(end, '\n') + 1;
		char name[128];
		snprintf(name, sizeof name, "%s-%d.csv", prefix, k + 1);
		FILE *f = fopen(hx_path(name), "w");
		size_t head = (size_t)(body + 1 - text), len = (size_t)(end - at);
		if (!f || fwrite(text, 1, head, f) != head || fwrite(at, 1, len, f) != len)
			rc = -1;
		if (f && fclose(f) != 0)
			rc = -1;
		at = end;
	}
	free(text);
	return rc;
}

int hx_broker_start(hx_broker *b, int port, bool persistence)
{
	memset(b, 0, sizeof *b);
	b->port = port ? port : hx_free_port();
	snprintf(b->uri, sizeof b->uri, "tcp://127.0.0.1:%d", b->port);
	snprintf(b->conf, sizeof b->conf, "%s/mosquitto-%d.conf", hx_tmpdir(), b->port);
	snprintf(b->log, sizeof b->log, "%s/mosquitto-%d.log", hx_tmpdir(), b->port);
	char text[1024];
	snprintf(text, sizeof text,
		 "listener %d 127.0.0.1\n"
		 "allow_anonymous true\n"
		 "max_queued_messages 200000\n"
		 "max_inflight_messages 0\n"
		 "set_tcp_nodelay true\n"
		 "persistence %s\n"
		 "persistence_location %s/\n"
		 "autosave_interval 1\n"
		 "user root\n" /* as root it would switch to a user that cannot write tmpdir */
		 "log_dest stderr\n"
		 /* the defaults, plus a line per SUBSCRIBE that tests wait for */
		 "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
		 "log_type subscribe\n",
		 b->port, persistence ? "true" : "false", hx_tmpdir());
	if (hx_write_file(b->conf, text) != 0)
		return -1;
	char *argv[] = {"mosquitto", "-c", b->conf, NULL};
	b->pid = hx_spawn(argv, b->log);
	if (b->pid < 0 || !hx_wait_port(b->port, 10000)) {
		fprintf(stderr, "harness: mosquitto did not start on port %d (see %s)\n", b->port, b->log);
		return -1;
	}
	return 0;
}

void hx_broker_stop(hx_broker *b, int sig)
{
	if (b->pid <= 0)
		return;
	kill(b->pid, sig);
	if (hx_wait_exit(b->pid, 10000) == -1) {
		kill(b->pid, SIGKILL);
		hx_wait_exit(b->pid, 5000);
	}
	b->pid = 0;
}

static bool record(void *ud, const char *topic, size_t topic_len, const void *payload, size_t len,
		   int qos, bool retained)
{
	(void)qos;
	hx_sub *s = ud;
	pthread_mutex_lock(&s->lock);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		hx_msg *m = realloc(s->msgs, cap * sizeof *m);
		if (!m) {
			pthread_mutex_unlock(&s->lock);
			return false;
		}
		s->msgs = m;
		s->cap = cap;
	}
	hx_msg *m = &s->msgs[s->n];
	m->topic = strndup(topic, topic_len);
	m->payload = malloc(len + 1);
	if (m->payload) {
		memcpy(m->payload, payload, len);
		m->payload[len] = '\0';
	}
	m->len = len;
	m->retained = retained;
	s->n++;
	pthread_mutex_unlock(&s->lock);
	return true;
}

static int sub_start(hx_sub *s, const char *uri, const char *filter, const char *client_id,
		     bool clean)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
	mq_opts o = {.uri = uri, .client_id = client_id, .keepalive = 10, .clean_session = clean,
		     .max_inflight = 64, .on_message = record, .ud = s};
	/* ready once the broker acknowledged the subscription (SUBACK) */
	if (mq_create(&o, &s->client) != IOTAD_OK || mq_subscribe(s->client, filter, 1) != IOTAD_OK ||
	    mq_start(s->client) != IOTAD_OK || !mq_wait_subscribed(s->client, 10000))
		return -1;
	return 0;
}

int hx_sub_start(hx_sub *s, const char *uri, const char *filter, const char *client_id)
{
	return sub_start(s, uri, filter, client_id, true);
}

int hx_sub_start_persistent(hx_sub *s, const char *uri, const char *filter, const char *client_id)
{
	return sub_start(s, uri, filter, client_id, false);
}

size_t hx_sub_count(hx_sub *s, const char *prefix, const char *needle)
{
	size_t count = 0, pl = prefix ? strlen(prefix) : 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++) {
		const hx_msg *m = &s->msgs[i];
		if (m->topic && (!prefix || !strncmp(m->topic, prefix, pl)) &&
		    (!needle || (m->payload && strstr(m->payload, needle))))
			count++;
	}
	pthread_mutex_unlock(&s->lock);
	return count;
}

/* The number after "seq": in an event payload, 0 without one. */
static unsigned long long seq_of(const char *payload)
{
	const char *p = payload ? strstr(payload, "\"seq\":") : NULL;
	return p ? strtoull(p + 6, NULL, 10) : 0;
}

unsigned long long hx_sub_seq(hx_sub *s, const char *prefix, const char *needle)
{
	unsigned long long seq = 0;
	size_t pl = strlen(prefix);
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++) {
		const hx_msg *m = &s->msgs[i];
		if (m->topic && !strncmp(m->topic, prefix, pl) &&
		    (!needle || (m->payload && strstr(m->payload, needle))))
			seq = seq_of(m->payload);
	}
	pthread_mutex_unlock(&s->lock);
	return seq;
}

size_t hx_sub_seq_conflicts(hx_sub *s, const char *prefix, size_t *events)
{
	size_t conflicts = 0, n = 0, pl = strlen(prefix);
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++) {
		const hx_msg *a = &s->msgs[i];
		if (!a->topic || strncmp(a->topic, prefix, pl) || !a->payload)
			continue;
		n++;
		unsigned long long sa = seq_of(a->payload);
		for (size_t j = 0; j < i; j++) {
			const hx_msg *b = &s->msgs[j];
			if (b->topic && b->payload && !strcmp(a->topic, b->topic) &&
			    seq_of(b->payload) == sa && strcmp(a->payload, b->payload)) {
				if (conflicts < 5)
					printf("\n    seq %llu twice on %s:\n      %s\n      %s", sa,
					       a->topic, b->payload, a->payload);
				conflicts++;
				break;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (events)
		*events = n;
	return conflicts;
}

bool hx_sub_wait(hx_sub *s, const char *prefix, const char *needle, size_t n, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		if (hx_sub_count(s, prefix, needle) >= n)
			return true;
		sleep_ms(50);
	}
	return false;
}

bool hx_sub_marker(hx_sub *s, int timeout_ms)
{
	static int seq;
	char topic[64];
	snprintf(topic, sizeof topic, "hx-marker/%d-%d", (int)getpid(), ++seq);
	return mq_publish(s->client, topic, "marker", 6, 1, false, timeout_ms) == IOTAD_OK &&
	       hx_sub_wait(s, topic, NULL, 1, timeout_ms);
}

void hx_sub_stop(hx_sub *s)
{
	mq_destroy(s->client, 1000);
	s->client = NULL;
	for (size_t i = 0; i < s->n; i++) {
		free(s->msgs[i].topic);
		free(s->msgs[i].payload);
	}
	free(s->msgs);
	s->msgs = NULL;
	s->n = s->cap = 0;
	pthread_mutex_destroy(&s->lock);
}

const char *hx_model(void)
{
	static char path[512];
	if (path[0])
		return path;
	const char *csv = hx_path("normal.csv");
	const char *out = hx_path("model.json");
	const char *log = hx_path("train.log");
	char *sim[] = {(char *)hx_iotad(), "sim", "--csv", (char *)csv, "--normal-only",
		       "--devices", "256", "--duration", "900", "--interval", "1", "--seed", "11",
		       "--quiet", NULL};
	char *train[] = {(char *)hx_iotad(), "train", "--csv", (char *)csv,
			 "--features", "temperature,humidity,battery", "--group", "device",
			 "--window", "10", "--epochs", "10", "--seed", "5", "--id", "it-model",
			 "-o", (char *)out, "--quiet", NULL};
	if (hx_run(sim, log, 60000) != 0 || hx_run(train, log, 300000) != 0) {
		fprintf(stderr, "harness: training the test model failed (see %s)\n", log);
		return NULL;
	}
	snprintf(path, sizeof path, "%s", out);
	return path;
}

const char *hx_config(const hx_broker *b, const char *name, const char *client_id,
		      const char *detector_extra)
{
	const char *path = hx_path(name);
	char text[4096];
	snprintf(text, sizeof text,
		 "mqtt:\n"
		 "  uri: %s\n"
		 "  client_id: %s\n"
		 "  keepalive: 5\n"
		 "topics:\n"
		 "  telemetry: telemetry/+\n"
		 "  device_level: 1\n"
		 "model:\n"
		 "  path: %s\n"
		 "detector:\n"
		 "  max_devices: 1000\n"
		 "%s"
		 "service:\n"
		 "  log_level: info\n",
		 b->uri, client_id, hx_model(), detector_extra ? detector_extra : "");
	return hx_write_file(path, text) == 0 ? path : NULL;
}

bool hx_wait_written(const char *path, int timeout_ms)
{
	struct timespec since;
	clock_gettime(CLOCK_REALTIME, &since);
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		struct stat st;
		if (stat(path, &st) == 0 &&
		    (st.st_mtim.tv_sec > since.tv_sec ||
		     (st.st_mtim.tv_sec == since.tv_sec && st.st_mtim.tv_nsec > since.tv_nsec)))
			return true;
		sleep_ms(50);
	}
	return false;
}

void hx_sub_settle(hx_sub *s, const char *prefix, int quiet_ms, int max_ms)
{
	size_t last = hx_sub_count(s, prefix, NULL);
	for (int waited = 0, still = 0; waited < max_ms && still < quiet_ms; waited += 100) {
		sleep_ms(100);
		size_t now = hx_sub_count(s, prefix, NULL);
		still = now == last ? still + 100 : 0;
		last = now;
	}
}

pid_t hx_start_iotad(const char *config, const char *log, hx_sub *sub, size_t online)
{
	char *argv[] = {(char *)hx_iotad(), "run", "-c", (char *)config, NULL};
	pid_t pid = hx_spawn(argv, log);
	if (pid > 0 && !hx_sub_wait(sub, "iotad/status", "online", online, 15000)) {
		kill(pid, SIGKILL);
		hx_wait_exit(pid, 5000);
		return -1;
	}
	return pid;
}

mq *hx_publisher(const hx_broker *b, const char *client_id, int max_inflight)
{
	mq *pub;
	mq_opts o = {.uri = b->uri, .client_id = client_id, .keepalive = 10,
		     .clean_session = true, .max_inflight = max_inflight};
	if (mq_create(&o, &pub) != IOTAD_OK)
		return NULL;
	if (mq_start(pub) != IOTAD_OK || !mq_wait_connected(pub, 10000)) {
		mq_destroy(pub, 0);
		return NULL;
	}
	return pub;
}

int hx_publish_series(mq *pub, const char *topic, int from, int to, int hot_from, int hot_to)
{
	char msg[160];
	for (int i = from; i < to; i++) {
		bool hot = i >= hot_from && i < hot_to;
		int n = snprintf(msg, sizeof msg,
				 "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":%.1f,\"battery\":%.1f}",
				 1700000000 + i, hot ? 60.0 : 21.0 + 0.01 * (i % 3),
				 48.0 + 0.1 * (i % 2), 97.0 - 0.1 * (i % 2));
		if (mq_publish(pub, topic, msg, (size_t)n, 1, false, 10000) != IOTAD_OK)
			return -1;
	}
	return 0;
}

double hx_metric(int port, const char *series)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	size_t cap = 1 << 16, got = 0;
	char *buf = malloc(cap);
	double v = -1;
	if (fd < 0 || !buf || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)sizeof req - 1)
		goto out;
	for (;;) {
		if (got + 1 == cap) {
			char *more = realloc(buf, cap * 2);
			if (!more)
				break;
			buf = more;
			cap *= 2;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t k = poll(&p, 1, 5000) > 0 ? recv(fd, buf + got, cap - 1 - got, 0) : -1;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	buf[got] = '\0';
	size_t n = strlen(series);
	for (const char *q = buf; (q = strstr(q, series)); q += n)
		if (q > buf && q[-1] == '\n' && q[n] == ' ') {
			v = strtod(q + n + 1, NULL);
			break;
		}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return v;
}

bool hx_wait_metric(int port, const char *series, double want, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 100) {
		if (hx_metric(port, series) >= want)
			return true;
		sleep_ms(100);
	}
	return false;
}
