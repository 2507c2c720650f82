/* it_mixthreads.c - a models: list on several scorer threads against a
 * real mosquitto: a small mixed fleet (room sensors, power meters,
 * vibration sensors; iotad sim --mixed) through `iotad run` with three
 * models and service.scorer_threads 1, then 2, each on a fresh broker. The
 * alert events, the per-model counters of /metrics and the devices each
 * model's state file holds must be the same; /v1/devices lists the devices
 * of both threads; and each run's state files, restored by the other
 * thread count, keep every device's state. */
#include "it_mixthreads.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "harness.h"
#include "iotad/config.h"
#include "iotad/detector.h"
#include "iotad/model_io.h"
#include "iotad/models.h"
#include "iotad/state.h"

#define MT_DEVICES 30
#define MT_DURATION 2000 /* s, a sample every 10 s: 6,000 messages */
#define MT_MESSAGES (MT_DEVICES * (MT_DURATION / 10))
#define MT_KINDS 3
#define MT_BODY (1 << 20)

static const char *const mt_kinds[MT_KINDS] = {"room", "meter", "vibration"};

/* GET path on 127.0.0.1:port into a static buffer ("" on failure). */
static const char *mt_get(int port, const char *path)
{
	static char buf[MT_BODY];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 10};
	char req[256];
	size_t got = 0;
	buf[0] = '\0';
	if (fd < 0)
		return buf;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			 path);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
		ssize_t k;
		while (got < sizeof buf - 1 && (k = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
			got += (size_t)k;
	}
	close(fd);
	buf[got] = '\0';
	return buf;
}

/* A metric's value from /metrics (-1: not there). */
static double mt_metric(int port, const char *name)
{
	const char *body = mt_get(port, "/metrics");
	char key[200];
	snprintf(key, sizeof key, "\n%s ", name);
	const char *at = strstr(body, key);
	return at ? strtod(at + strlen(key), NULL) : -1;
}

/* The per-model counters compared between runs. */
static const char *const mt_counters[] = {"iotad_model_messages_total",
					  "iotad_model_scored_total",
					  "iotad_model_rejected_total",
					  "iotad_model_raises_total", "iotad_model_devices",
					  "iotad_model_raised"};
#define MT_COUNTERS (sizeof mt_counters / sizeof *mt_counters)

typedef struct mt_run {
	double counters[MT_KINDS][MT_COUNTERS];
	int listed[MT_KINDS];       /* devices /v1/devices lists by model */
	char **events;              /* "topic state ts" lines, sorted */
	size_t n_events;
	char *devices[MT_KINDS];    /* each state file's devices, a sorted line each */
	char log[512];
} mt_run;

static int mt_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The alert events received, as sorted "topic state ts" lines. */
static char **mt_events(hx_sub *sub, size_t *n)
{
	pthread_mutex_lock(&sub->lock);
	char **out = calloc(sub->n + 1, sizeof *out);
	*n = 0;
	for (size_t i = 0; out && i < sub->n; i++) {
		const hx_msg *m = &sub->msgs[i];
		if (!m->topic || strncmp(m->topic, "alerts/", 7) || !m->payload)
			continue;
		const char *st = strstr(m->payload, "\"state\":\"");
		const char *ts = strstr(m->payload, "\"ts\":");
		char line[200];
		snprintf(line, sizeof line, "%s %.*s %.*s", m->topic,
			 st ? (int)strcspn(st + 9, "\"") : 0, st ? st + 9 : "",
			 ts ? (int)strcspn(ts + 5, ",}") : 0, ts ? ts + 5 : "");
		out[(*n)++] = strdup(line);
	}
	pthread_mutex_unlock(&sub->lock);
	if (out)
		qsort(out, *n, sizeof *out, mt_cmp);
	return out;
}

typedef struct mt_lines {
	char *buf;
	size_t len, cap;
	size_t floats; /* of one device */
} mt_lines;

/* One device as a line: id, samples, alert status and history, last
 * time and score, and a sum of its window, threshold and profile floats. */
static iotad_err mt_add_device(void *ud, const det_device_state *st, const float *floats)
{
	mt_lines *l = ud;
	char line[256];
	double sum = 0;
	for (size_t i = 0; i < l->floats; i++)
		sum += (double)floats[i] * (double)(i % 7 + 1);
	int n = snprintf(line, sizeof line, "%s %u %u %08x %.3f %.6g %.9g\n", st->id,
			 st->samples, (unsigned)st->alert.status, (unsigned)st->alert.history,
			 st->last_ts, (double)st->last_score, sum);
	if (l->len + (size_t)n + 1 > l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4096;
		char *b = realloc(l->buf, cap);
		if (!b)
			return IOTAD_ERR_NOMEM;
		l->buf = b;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, line, (size_t)n + 1);
	l->len += (size_t)n;
	return IOTAD_OK;
}

static int mt_cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Model entry k's state file (state.NAME) read with that entry's
 * configuration: its devices as sorted "id samples raised" lines, or NULL. */
static char *mt_state_devices(const char *config, const char *state, int k)
{
	iotad_config cfg, mc;
	model m;
	det_config dc;
	det *d = NULL;
	char err[512], path[1024];
	float *buf = NULL;
	mt_lines l = {0};
	size_t n = 0;
	if (config_load(config, &cfg, err, sizeof err) != IOTAD_OK ||
	    models_config(&cfg, (uint32_t)k, &mc, err, sizeof err, NULL) != IOTAD_OK ||
	    model_load(mc.model_path, &m, err, sizeof err) != IOTAD_OK)
		return NULL;
	config_det(&mc, &dc);
	snprintf(path, sizeof path, "%s.%s", state, mt_kinds[k]);
	bool ok = det_create(&m, &dc, &d) == IOTAD_OK &&
		  state_load(d, path, &n, err, sizeof err) == IOTAD_OK &&
		  (buf = malloc(det_state_floats(d) * sizeof *buf)) != NULL &&
		  (l.floats = det_state_floats(d)) > 0 &&
		  det_foreach(d, buf, mt_add_device, &l) == IOTAD_OK;
	if (!ok)
		printf("\n    state %s: %s", path, err);
	free(buf);
	det_destroy(d);
	model_free(&m);
	if (!ok || !l.buf) {
		free(l.buf);
		return NULL;
	}
	/* sorted by device: the threads write them in their own order */
	char *lines[MT_DEVICES + 1];
	size_t nl = 0;
	for (char *p = l.buf; *p && nl < MT_DEVICES + 1; p = strchr(p, '\n') + 1)
		lines[nl++] = p;
	for (size_t i = 0; i < nl; i++)
		*strchr(lines[i], '\n') = '\0';
	qsort(lines, nl, sizeof *lines, mt_cmp_line);
	char *out = calloc(l.len + 2, 1);
	for (size_t i = 0; out && i < nl; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	free(l.buf);
	return out;
}

/* A config with the three models on `threads` threads; the state files
 * under state (state.room, ...). */
static const char *mt_config(const hx_broker *b, const char *name, int port, int threads,
			     const char *models, const char *state)
{
	char text[4096];
	int off = snprintf(text, sizeof text,
			   "mqtt:\n  uri: %s\n  client_id: %s\n"
			   "topics:\n  telemetry: telemetry/#\n  device_level: 2\n"
			   "detector:\n  max_devices: 100\n"
			   "service:\n  log_level: info\n  queue_size: 20000\n"
			   "  scorer_threads: %d\n  state_file: %s\n  state_interval: 3600\n"
			   "http:\n  listen: 127.0.0.1:%d\nmodels:\n",
			   b->uri, name, threads, state, port);
	for (int i = 0; i < MT_KINDS; i++)
		off += snprintf(text + off, sizeof text - (size_t)off,
				"  - name: %s\n    topic: telemetry/%s/+\n    path: %s/%s.json\n",
				mt_kinds[i], mt_kinds[i], models, mt_kinds[i]);
	char file[64];
	snprintf(file, sizeof file, "%s.yaml", name);
	const char *path = hx_path(file);
	return hx_write_file(path, text) == 0 ? path : NULL;
}

/* One run: the fleet through `threads` scorer threads on a fresh broker. */
static void mt_one(int threads, const char *models, mt_run *r)
{
	hx_broker b;
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-mt-sub"), 0);
	char name[32], state[32];
	snprintf(name, sizeof name, "mt-%d", threads);
	snprintf(state, sizeof state, "mt-%d.state", threads);
	int port = hx_free_port();
	const char *config = mt_config(&b, name, port, threads, models, hx_path(state));
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	snprintf(name, sizeof name, "mt-%d.log", threads);
	snprintf(r->log, sizeof r->log, "%s", hx_path(name));
	pid_t pid = hx_start_iotad(config, r->log, &sub, 1);
	CU_ASSERT_FATAL(pid > 0);
	char devices[16], duration[16];
	snprintf(devices, sizeof devices, "%d", MT_DEVICES);
	snprintf(duration, sizeof duration, "%d", MT_DURATION);
	char *pub[] = {(char *)hx_iotad(), "sim", "--mixed", "--devices", devices, "--duration",
		       duration, "--seed", "11", "--broker", b.uri, NULL};
	CU_ASSERT_EQUAL(hx_run(pub, hx_path("mt-pub.log"), 120000), 0);
	for (int t = 0; t < 120 && mt_metric(port, "iotad_messages_received_total") < MT_MESSAGES;
	     t++)
		usleep(250000);
	CU_ASSERT_EQUAL(mt_metric(port, "iotad_messages_received_total"), MT_MESSAGES);
	hx_sub_settle(&sub, "alerts/", 1000, 10000);
	for (int k = 0; k < MT_KINDS; k++)
		for (size_t c = 0; c < MT_COUNTERS; c++) {
			char key[128];
			snprintf(key, sizeof key, "%s{model=\"%s\"}", mt_counters[c], mt_kinds[k]);
			r->counters[k][c] = mt_metric(port, key);
		}
	const char *page = mt_get(port, "/v1/devices");
	for (int k = 0; k < MT_KINDS; k++) {
		char key[64];
		snprintf(key, sizeof key, "\"model\":\"%s\"", mt_kinds[k]);
		r->listed[k] = 0;
		for (const char *p = strstr(page, key); p; p = strstr(p + 1, key))
			r->listed[k]++;
	}
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	r->events = mt_events(&sub, &r->n_events);
	for (int k = 0; k < MT_KINDS; k++)
		r->devices[k] = mt_state_devices(config, hx_path(state), k);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* Restart run `from`'s state files with `threads` threads, nothing
 * published, and stop: the files written again hold the same devices. */
static void mt_restore(int from, int threads, const char *models, const mt_run *was)
{
	hx_broker b;
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-mt-sub2"), 0);
	char name[32], state[32];
	snprintf(name, sizeof name, "mt-r%d-%d", from, threads);
	snprintf(state, sizeof state, "mt-%d.state", from);
	int port = hx_free_port();
	const char *config = mt_config(&b, name, port, threads, models, hx_path(state));
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	snprintf(name, sizeof name, "mt-r%d-%d.log", from, threads);
	const char *log = hx_path(name);
	pid_t pid = hx_start_iotad(config, log, &sub, 1);
	CU_ASSERT_FATAL(pid > 0);
	for (int k = 0; k < MT_KINDS; k++) {
		char key[128];
		snprintf(key, sizeof key, "iotad_model_devices{model=\"%s\"}", mt_kinds[k]);
		CU_ASSERT_EQUAL(mt_metric(port, key), MT_DEVICES / MT_KINDS);
		snprintf(key, sizeof key, "iotad_model_raised{model=\"%s\"}", mt_kinds[k]);
		CU_ASSERT_EQUAL(mt_metric(port, key), was->counters[k][5]);
	}
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	for (int k = 0; k < MT_KINDS; k++) {
		char *again = mt_state_devices(config, hx_path(state), k);
		CU_ASSERT_PTR_NOT_NULL(again);
		CU_ASSERT_TRUE(again && was->devices[k] && !strcmp(again, was->devices[k]));
		free(again);
	}
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

static void mt_free(mt_run *r)
{
	for (size_t i = 0; r->events && i < r->n_events; i++)
		free(r->events[i]);
	free(r->events);
	for (int k = 0; k < MT_KINDS; k++)
		free(r->devices[k]);
}

void it_mixed_threads(void)
{
	char models[512], train[512], log[512];
	snprintf(models, sizeof models, "%s", hx_path("mt-models"));
	snprintf(train, sizeof train, "%s", hx_path("mt-train.csv"));
	snprintf(log, sizeof log, "%s", hx_path("mt-train.log"));
	char *sim[] = {(char *)hx_iotad(), "sim", "--mixed", "--devices", "30", "--duration",
		       "6000", "--normal-only", "--seed", "3", "--csv", train, NULL};
	CU_ASSERT_EQUAL_FATAL(hx_run(sim, log, 60000), 0);
	char *tr[] = {(char *)hx_iotad(), "train", "--csv", train, "--group-by", "kind", "--skip",
		      "ts,label", "--group", "device", "--epochs", "3", "-q", "-o", models, NULL};
	CU_ASSERT_EQUAL_FATAL(hx_run(tr, log, 300000), 0);

	mt_run one = {0}, two = {0};
	mt_one(1, models, &one);
	mt_one(2, models, &two);
	CU_ASSERT_TRUE(hx_wait_log(one.log, "1 scorer thread", 1000));
	CU_ASSERT_TRUE(hx_wait_log(two.log, "2 scorer threads", 1000));

	/* the same events */
	printf("\n    events: %zu with one scorer thread, %zu with two", one.n_events,
	       two.n_events);
	CU_ASSERT(one.n_events >= 4);
	CU_ASSERT_EQUAL(one.n_events, two.n_events);
	for (size_t i = 0, shown = 0; i < one.n_events && i < two.n_events; i++)
		if (strcmp(one.events[i], two.events[i]) && shown++ < 3)
			printf("\n    differ: %s | %s", one.events[i], two.events[i]);
	bool same = one.n_events == two.n_events;
	for (size_t i = 0; same && i < one.n_events; i++)
		same = !strcmp(one.events[i], two.events[i]);
	CU_ASSERT_TRUE(same);

	/* the same per-model counters, summed over the threads */
	for (int k = 0; k < MT_KINDS; k++) {
		printf("\n    %-9s", mt_kinds[k]);
		for (size_t c = 0; c < MT_COUNTERS; c++) {
			printf(" %s %g/%g", mt_counters[c] + 12, one.counters[k][c],
			       two.counters[k][c]);
			CU_ASSERT_EQUAL(one.counters[k][c], two.counters[k][c]);
		}
		CU_ASSERT_EQUAL(one.counters[k][0], MT_MESSAGES / MT_KINDS);
		CU_ASSERT_EQUAL(one.counters[k][4], MT_DEVICES / MT_KINDS);
		/* the live page lists the devices of every thread */
		printf(" listed %d/%d", one.listed[k], two.listed[k]);
		CU_ASSERT_EQUAL(two.listed[k], MT_DEVICES / MT_KINDS);
		/* each model's state file: the same devices, samples and alerts */
		CU_ASSERT_PTR_NOT_NULL(one.devices[k]);
		CU_ASSERT_TRUE(one.devices[k] && two.devices[k] &&
			       !strcmp(one.devices[k], two.devices[k]));
	}

	/* the files of two threads restored by one, and of one by three */
	mt_restore(2, 1, models, &two);
	mt_restore(1, 3, models, &one);
	mt_free(&one);
	mt_free(&two);
}
