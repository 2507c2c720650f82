/* it_http.c - the HTTP door of the real iotad binary, with a plain socket
 * HTTP client: every endpoint's status and body, bad bodies and the size
 * limit, metrics that move with published telemetry, the event stream,
 * Home Assistant discovery on the broker, and the live page in headless
 * Chromium while the simulator runs. */
#include "it_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "harness.h"
#include "iotad/http.h"
#include "../skip.h"

#define MAX_BODY IT_HTTP_MAX_BODY

typedef struct http_resp {
	int status;
	char *head;  /* status line and headers */
	char *body;  /* NUL-terminated */
} http_resp;

static int http_connect(int port)
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

static bool send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* One request with Connection: close; reads the answer to EOF (10 s at most). */
static int request(int port, const char *method, const char *path, const char *ctype,
		const char *body, size_t len, http_resp *r)
{
	memset(r, 0, sizeof *r);
	int fd = http_connect(port);
	if (fd < 0)
		return -1;
	char head[512];
	int n = snprintf(head, sizeof head,
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s"
			 "Content-Length: %zu\r\n\r\n",
			 method, path, ctype ? "Content-Type: " : "", ctype ? ctype : "",
			 ctype ? "\r\n" : "", body ? len : 0);
	bool ok = send_all(fd, head, (size_t)n) && (!body || send_all(fd, body, len));
	size_t cap = 1 << 16, got = 0;
	char *buf = malloc(cap);
	while (ok && buf) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 10000) <= 0)
			break;
		ssize_t k = recv(fd, buf + got, cap - got - 1, 0);
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got + 1 == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				break;
			buf = nb;
		}
	}
	close(fd);
	if (!buf)
		return -1;
	buf[got] = '\0';
	char *sep = strstr(buf, "\r\n\r\n");
	if (!ok || !sep || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
		free(buf);
		return -1;
	}
	*sep = '\0';
	r->head = buf;
	r->body = sep + 4;
	return r->status;
}

static void http_free(http_resp *r)
{
	free(r->head);
	memset(r, 0, sizeof *r);
}

static int get(int port, const char *path, http_resp *r)
{
	return request(port, "GET", path, NULL, NULL, 0, r);
}

static int post_json(int port, const char *body, http_resp *r)
{
	return request(port, "POST", "/v1/score", "application/json", body, strlen(body), r);
}

static const char *config_with_http(const hx_broker *b, const char *name, int port)
{
	char extra[512];
	snprintf(extra, sizeof extra,
		 "http:\n  listen: 127.0.0.1:%d\n  max_body: %d\n"
		 "homeassistant:\n  enabled: true\n  prefix: ha\n",
		 port, MAX_BODY);
	return hx_config(b, name, name, extra);
}

static pid_t start(const char *cfg, const char *log, int port)
{
	char *argv[] = {(char *)hx_iotad(), "run", "-c", (char *)cfg, NULL};
	pid_t pid = hx_spawn(argv, log);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_FATAL(hx_wait_port(port, 15000));
	return pid;
}

/* A window of W rows "[t,h,b]" as JSON (t varies a little, or is hot). */
static void window_json(char *out, size_t len, const char *key, int rows, double temp)
{
	size_t off = (size_t)snprintf(out, len, "{\"%s\":[", key);
	for (int i = 0; i < rows && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s[%.2f,%.1f,%.1f]", i ? "," : "",
					temp + 0.01 * (i % 3), 48.0 + 0.1 * (i % 2), 97.0 - 0.1 * (i % 2));
	snprintf(out + off, len - off, "]}");
}

static void publish_series(mq *pub, const char *topic, int n, int first_hot)
{
	char msg[160];
	for (int i = 0; i < n; i++) {
		int k = snprintf(msg, sizeof msg,
				 "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":%.1f,\"battery\":%.1f}",
				 1700000000 + i, i < first_hot ? 21.0 + 0.01 * (i % 3) : 60.0,
				 48.0 + 0.1 * (i % 2), 97.0 - 0.1 * (i % 2));
		CU_ASSERT_EQUAL(mq_publish(pub, topic, msg, (size_t)k, 1, false, 5000), IOTAD_OK);
	}
}

/* POST rows samples at temp under key; the 200 answer parsed (NULL otherwise). */
static cJSON *score(int port, const char *key, int rows, double temp)
{
	http_resp r;
	char body[4096];
	window_json(body, sizeof body, key, rows, temp);
	int st = post_json(port, body, &r);
	CU_ASSERT_EQUAL(st, 200);
	CU_ASSERT_PTR_NOT_NULL(r.head ? strstr(r.head, "Content-Type: application/json") : NULL);
	cJSON *j = st == 200 ? cJSON_Parse(r.body) : NULL;
	http_free(&r);
	return j;
}

static void check_score_api(int port)
{
	http_resp r;
	cJSON *j = score(port, "window", 10, 21.0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	double s = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "score"));
	double thr = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "threshold"));
	CU_ASSERT(s >= 0 && thr > 0);
	CU_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(j, "anomalous")));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "contrib")), 3);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(
				       cJSON_GetObjectItem(j, "model"), "id")), "it-model");
	cJSON_Delete(j);

	/* 60 C everywhere is far from anything seen in training */
	j = score(port, "window", 10, 60.0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(j, "anomalous")));
	CU_ASSERT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "score")) >
		  cJSON_GetNumberValue(cJSON_GetObjectItem(j, "threshold")));
	const char *top = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "top"), 0));
	CU_ASSERT_PTR_NOT_NULL(top);
	CU_ASSERT_STRING_EQUAL(top ? top : "", "temperature");
	cJSON_Delete(j);

	/* a batch of 13 samples: windows start every stride, each scored */
	j = score(port, "samples", 13, 21.0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	int windows = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "windows"));
	CU_ASSERT(windows >= 1 && windows <= 4);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "results")), windows);
	cJSON_Delete(j);

	/* bad bodies: status and a JSON error naming the problem */
	static const struct {
		const char *body;
		int status;
		const char *needle;
	} bad[] = {
		{"{\"window\":[[1,2,3]", 400, "not valid JSON"},
		{"[]", 400, "expected a JSON object"},
		{"{\"window\":[[1,2,3]]}", 400, "expected 10 samples, got 1"},
		{"{\"samples\":[[1,2,3],[1,2,3],[1,2,3],[1,2,3],[1,2,3],[1,2,3],[1,2,3],[1,2],"
		 "[1,2,3],[1,2,3]]}", 400, "samples[7]: expected 3 values"},
		{"{\"samples\":[[1,2,3]]}", 400, "expected at least 10 samples"},
		{"{\"window\":[[1e999,2,3],[1,2,3],[1,2,3],[1,2,3],[1,2,3],[1,2,3],[1,2,3],[1,2,3],"
		 "[1,2,3],[1,2,3]]}", 400, "not a finite float"},
		{"{\"window\":[{\"temperature\":1}]}", 400, "expected 10 samples"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_EQUAL(post_json(port, bad[i].body, &r), bad[i].status);
		CU_ASSERT_PTR_NOT_NULL(r.body ? strstr(r.body, bad[i].needle) : NULL);
		http_free(&r);
	}
	CU_ASSERT_EQUAL(request(port, "POST", "/v1/score", "text/plain", "{}", 2, &r), 415);
	http_free(&r);
	/* no Content-Type at all is not JSON either */
	char body[1024];
	window_json(body, sizeof body, "window", 10, 21.0);
	CU_ASSERT_EQUAL(request(port, "POST", "/v1/score", NULL, body, strlen(body), &r), 415);
	CU_ASSERT_PTR_NOT_NULL(r.body ? strstr(r.body, "got none") : NULL);
	http_free(&r);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_http_score_rejected_total{reason=\"media_type\"}"), 2);
	/* a key named twice is refused, not resolved to the first, and counted */
	body[strlen(body) - 1] = '\0';
	strcat(body, ",\"window\":[]}");
	CU_ASSERT_EQUAL(post_json(port, body, &r), 400);
	CU_ASSERT_PTR_NOT_NULL(r.body ? strstr(r.body, "appears twice") : NULL);
	http_free(&r);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_http_score_rejected_total{reason=\"duplicate_key\"}"), 1);
	char *big = malloc(MAX_BODY + 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, ' ', MAX_BODY + 100);
	big[0] = '{';
	big[MAX_BODY + 99] = '}';
	CU_ASSERT_EQUAL(request(port, "POST", "/v1/score", "application/json", big, MAX_BODY + 100,
			     &r), 413);
	http_free(&r);
	/* exactly at the limit is accepted (and then judged on its content) */
	CU_ASSERT_EQUAL(request(port, "POST", "/v1/score", "application/json", big, MAX_BODY, &r),
			400);
	CU_ASSERT_PTR_NOT_NULL(r.body ? strstr(r.body, "not valid JSON") : NULL);
	http_free(&r);
	free(big);
	CU_ASSERT_EQUAL(get(port, "/v1/score", &r), 405);
	CU_ASSERT_PTR_NOT_NULL(r.head ? strstr(r.head, "Allow: POST") : NULL);
	http_free(&r);
}

/* Open /events, publish a raising series, and read until an alert event. */
static void check_event_stream(int port, mq *pub)
{
	int fd = http_connect(port);
	CU_ASSERT_FATAL(fd >= 0);
	const char req[] = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
	CU_ASSERT_FATAL(send_all(fd, req, sizeof req - 1));
	size_t cap = 1 << 20, got = 0;
	char *buf = calloc(1, cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	bool published = false;
	for (int waited = 0; waited < 20000 && !strstr(buf, "event: alert"); waited += 100) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0) {
			ssize_t k = recv(fd, buf + got, cap - got - 1, 0);
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		if (!published && strstr(buf, "retry: ")) {
			publish_series(pub, "telemetry/stream-dev", 60, 30);
			published = true;
		}
	}
	close(fd);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Content-Type: text/event-stream"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "event: score\ndata: {\"device\":\"stream-dev\""));
	const char *alert = strstr(buf, "event: alert\ndata: ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(alert);
	CU_ASSERT_PTR_NOT_NULL(strstr(alert, "\"device\":\"stream-dev\",\"state\":\"raised\""));
	free(buf);
}

/* The streams are bounded: LIVE_STREAMS open ones, and the next is refused. */
static void check_stream_limit(int port)
{
	int fds[LIVE_STREAMS];
	const char req[] = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	char buf[512];
	for (int i = 0; i < LIVE_STREAMS; i++) {
		fds[i] = http_connect(port);
		CU_ASSERT_FATAL(fds[i] >= 0 && send_all(fds[i], req, sizeof req - 1));
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		ssize_t k = poll(&p, 1, 5000) > 0 ? recv(fds[i], buf, sizeof buf - 1, 0) : -1;
		buf[k > 0 ? k : 0] = '\0';
		CU_ASSERT_PTR_NOT_NULL(strstr(buf, "HTTP/1.1 200"));
	}
	http_resp r;
	CU_ASSERT_EQUAL(get(port, "/events", &r), 503);
	CU_ASSERT_PTR_NOT_NULL(r.body ? strstr(r.body, "too many event streams") : NULL);
	http_free(&r);
	for (int i = 0; i < LIVE_STREAMS; i++)
		close(fds[i]);
	/* a closed stream gives its place back (noticed at its next write) */
	int st = 0;
	for (int i = 0; i < 150 && st != 200; i++, usleep(100000)) {
		int fd = http_connect(port);
		CU_ASSERT_FATAL(fd >= 0 && send_all(fd, req, sizeof req - 1));
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t k = poll(&p, 1, 2000) > 0 ? recv(fd, buf, sizeof buf - 1, 0) : -1;
		buf[k > 0 ? k : 0] = '\0';
		st = strstr(buf, "HTTP/1.1 200") ? 200 : 503;
		close(fd);
	}
	CU_ASSERT_EQUAL(st, 200);
}

void it_http_endpoints(void)
{
	hx_broker b;
	http_resp r;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub ha;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&ha, b.uri, "ha/#", "it-http-ha"), 0);
	int port = hx_free_port();
	const char *log = hx_path("http-iotad.log");
	pid_t pid = start(config_with_http(&b, "iotad-http", port), log, port);

	CU_ASSERT_EQUAL(get(port, "/healthz", &r), 200);
	CU_ASSERT_PTR_NOT_NULL(r.body ? strstr(r.body, "\"status\":\"ok\"") : NULL);
	http_free(&r);
	int ready = 0;
	for (int i = 0; i < 100 && ready != 200; i++, usleep(100000)) {
		ready = get(port, "/readyz", &r);
		http_free(&r);
	}
	CU_ASSERT_EQUAL(ready, 200);
	CU_ASSERT_EQUAL(get(port, "/readyz", &r), 200);
	CU_ASSERT_PTR_NOT_NULL(r.body ? strstr(r.body, "{\"ready\":true,\"broker_connected\":true,"
						  "\"model_loaded\":true}") : NULL);
	http_free(&r);

	CU_ASSERT_EQUAL(get(port, "/metrics", &r), 200);
	CU_ASSERT_PTR_NOT_NULL(r.head ? strstr(r.head, "Content-Type: text/plain; version=0.0.4")
				      : NULL);
	CU_ASSERT_PTR_NOT_NULL(r.body ? strstr(r.body, "# TYPE iotad_score_duration_seconds histogram")
				      : NULL);
	http_free(&r);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_messages_received_total"), 0);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_model_info{id=\"it-model\",version=\"1\"}"), 1);

	/* telemetry moves the counters */
	mq *pub;
	mq_opts o = {.uri = b.uri, .client_id = "it-http-pub", .keepalive = 10,
		     .clean_session = true, .max_inflight = 64};
	CU_ASSERT_EQUAL_FATAL(mq_create(&o, &pub), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(mq_start(pub), IOTAD_OK);
	CU_ASSERT_FATAL(mq_wait_connected(pub, 10000));
	publish_series(pub, "telemetry/http-dev", 60, 30);
	CU_ASSERT_EQUAL(mq_publish(pub, "telemetry/http-dev", "garbage", 7, 1, false, 5000), IOTAD_OK);
	CU_ASSERT_EQUAL(mq_publish(pub, "telemetry/http-dev", "[1]", 3, 1, false, 5000), IOTAD_OK);
	CU_ASSERT_TRUE(hx_wait_metric(port, "iotad_messages_received_total", 62, 15000));
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_messages_received_total"), 62);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_messages_rejected_total{reason=\"not_json\"}"), 1);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_messages_rejected_total{reason=\"not_object\"}"), 1);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_messages_scored_total"), 60 - 10 + 1);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_devices"), 1);
	CU_ASSERT(hx_metric(port, "iotad_alerts_total{state=\"raised\"}") >= 1);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_score_duration_seconds_count"), 60);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_broker_connected"), 1);

	/* Home Assistant discovery: retained, one per device, as documented */
	char topic[128];
	/* (the instance, named after the client id, is the node level) */
	snprintf(topic, sizeof topic, "ha/binary_sensor/iotad-http/iotad_http-dev/config");
	CU_ASSERT_TRUE(hx_sub_wait(&ha, topic, NULL, 1, 5000));
	pthread_mutex_lock(&ha.lock);
	for (size_t i = 0; i < ha.n; i++) {
		if (strcmp(ha.msgs[i].topic, topic))
			continue;
		cJSON *j = cJSON_Parse(ha.msgs[i].payload);
		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(j, "device_class")),
				       "problem");
		CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(j, "state_topic")),
				       "state/http-dev");
		CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(j, "unique_id")),
				       "iotad_iotad-http_http-dev");
		cJSON_Delete(j);
	}
	pthread_mutex_unlock(&ha.lock);
	CU_ASSERT_EQUAL(hx_sub_count(&ha, topic, NULL), 1);
	hx_sub_stop(&ha);
	/* a late subscriber gets it retained */
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&ha, b.uri, "ha/#", "it-http-ha2"), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&ha, topic, "\"device_class\":\"problem\"", 1, 5000));
	hx_sub_stop(&ha);

	check_score_api(port);

	/* the page and its data */
	CU_ASSERT_EQUAL(get(port, "/", &r), 200);
	CU_ASSERT_PTR_NOT_NULL(r.head ? strstr(r.head, "Content-Type: text/html") : NULL);
	CU_ASSERT_PTR_NOT_NULL(r.body ? strstr(r.body, "<title>iotad live</title>") : NULL);
	/* self-contained: no script, style sheet, image or font from anywhere */
	CU_ASSERT_PTR_NULL(r.body ? strstr(r.body, "<script src") : "x");
	CU_ASSERT_PTR_NULL(r.body ? strstr(r.body, "<link") : "x");
	CU_ASSERT_PTR_NULL(r.body ? strstr(r.body, "<img") : "x");
	CU_ASSERT_PTR_NULL(r.body ? strstr(r.body, "url(") : "x");
	CU_ASSERT_PTR_NULL(r.body ? strstr(r.body, "https://") : "x");
	http_free(&r);
	CU_ASSERT_EQUAL(get(port, "/v1/devices", &r), 200);
	cJSON *j = cJSON_Parse(r.body);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	cJSON *dev = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "devices"), 0);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(dev, "device")), "http-dev");
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(dev, "state")), "raised");
	CU_ASSERT(cJSON_GetArraySize(cJSON_GetObjectItem(dev, "points")) >= 1);
	cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "alerts"), 0);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(a, "state")), "raised");
	cJSON_Delete(j);
	http_free(&r);
	check_stream_limit(port);
	check_event_stream(port, pub);
	mq_destroy(pub, 2000);

	CU_ASSERT_EQUAL(get(port, "/nope", &r), 404);
	CU_ASSERT_PTR_NOT_NULL(r.body ? strstr(r.body, "\"error\"") : NULL);
	http_free(&r);
	CU_ASSERT_EQUAL(request(port, "POST", "/healthz", NULL, NULL, 0, &r), 405);
	http_free(&r);
	CU_ASSERT_EQUAL(request(port, "DELETE", "/metrics", NULL, NULL, 0, &r), 405);
	http_free(&r);

	/* broker gone: alive but not ready */
	hx_broker_stop(&b, SIGKILL);
	int st = 0;
	for (int i = 0; i < 150 && st != 503; i++, usleep(100000)) {
		st = get(port, "/readyz", &r);
		http_free(&r);
	}
	CU_ASSERT_EQUAL(st, 503);
	CU_ASSERT_EQUAL(get(port, "/readyz", &r), 503);
	CU_ASSERT_PTR_NOT_NULL(r.body ? strstr(r.body, "\"broker_connected\":false") : NULL);
	http_free(&r);
	CU_ASSERT_EQUAL(get(port, "/healthz", &r), 200);
	http_free(&r);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
}

void it_http_disabled_by_default(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-http-off"), 0);
	const char *log = hx_path("http-off.log");
	char *argv[] = {(char *)hx_iotad(), "run", "-c",
			(char *)hx_config(&b, "http-off.yaml", "iotad-http-off", NULL), NULL};
	pid_t pid = hx_spawn(argv, log);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "iotad/status", "online", 1, 15000));
	CU_ASSERT_FALSE(hx_wait_log(log, "http: listening", 500));
	/* and no discovery either */
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "homeassistant/", NULL), 0);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- the live page in a real browser ------------------------------------- */

void it_http_browser(void)
{
	const char *src = getenv("IOTAD_SRC");
	char script[1024];
	snprintf(script, sizeof script, "%s/tests/integration/browser.py", src ? src : ".");
	if (system("command -v chromium >/dev/null 2>&1") != 0) {
		const char *must = getenv("IOTAD_REQUIRE_BROWSER");
		printf("\n    browser: chromium is not installed (scripts/deps.sh --browser)\n");
		if (must && *must) {
			CU_FAIL("chromium is required (IOTAD_REQUIRE_BROWSER)");
		} else {
			test_skip("chromium is not installed");
		}
		return;
	}
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	int port = hx_free_port();
	const char *log = hx_path("browser-iotad.log");
	pid_t pid = start(config_with_http(&b, "iotad-browser", port), log, port);

	/* open the page first, so every alert it shows came over the event stream */
	char url[64], port_s[16];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	snprintf(port_s, sizeof port_s, "%d", port);
	const char *shot = hx_path("live-page.png");
	const char *text = hx_path("live-page.txt");
	const char *ready = hx_path("browser-ready");
	char *bargv[] = {"python3", script, url, "#alerts tr.alert.raised", (char *)shot,
			 (char *)text, "90", (char *)ready, NULL};
	pid_t browser = hx_spawn(bargv, hx_path("browser.log"));
	CU_ASSERT_FATAL(browser > 0);
	CU_ASSERT_TRUE_FATAL(hx_wait_log(ready, "live", 30000));
	char *before = hx_read_file(ready, NULL);
	CU_ASSERT_PTR_NOT_NULL(before ? strstr(before, "alerts=0") : NULL);
	free(before);

	const char *sim[] = {(char *)hx_iotad(), "sim", "--broker", b.uri, "--devices", "6",
			     "--clean", "1", "--duration", "1500", "--warmup", "120",
			     "--anomaly-every", "300", "--speed", "150", "--seed", "3", "--quiet",
			     NULL};
	pid_t simpid = hx_spawn((char *const *)sim, hx_path("browser-sim.log"));
	int brc = hx_wait_exit(browser, 120000);
	CU_ASSERT_EQUAL(brc, 0);
	if (brc == -1)
		kill(browser, SIGKILL);
	kill(simpid, SIGTERM);
	hx_wait_exit(simpid, 10000);

	char *t = hx_read_file(text, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "sensor-00"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "Latest alerts"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "class=\"alert raised\""));
	free(t);
	size_t len = 0;
	char *png = hx_read_file(shot, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(png);
	CU_ASSERT(len > 10000 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8));
	free(png);
	const char *keep = getenv("IOTAD_SCREENSHOT");
	if (keep && *keep) {
		char cmd[2048];
		snprintf(cmd, sizeof cmd, "cp '%s' '%s'", shot, keep);
		CU_ASSERT_EQUAL(system(cmd), 0);
	}
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- operator commands: HTTP and the control topic ---------------------- */

/* POST body to path; the status (the answer's body into out, if any). */
static int post_cmd(int port, const char *path, const char *body, char *out, size_t outlen)
{
	http_resp r;
	int st = request(port, "POST", path, body ? "application/json" : NULL, body,
			 body ? strlen(body) : 0, &r);
	if (out)
		snprintf(out, outlen, "%s", r.body ? r.body : "");
	http_free(&r);
	return st;
}

void it_http_commands(void)
{
	hx_broker b;
	char out[1024];
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-cmd-sub"), 0);
	int port = hx_free_port();
	char extra[512];
	snprintf(extra, sizeof extra, "http:\n  listen: 127.0.0.1:%d\n", port);
	const char *log = hx_path("cmd-iotad.log");
	pid_t pid = start(hx_config(&b, "iotad-cmd", "iotad-cmd", extra), log, port);
	CU_ASSERT_FATAL(hx_sub_wait(&sub, "iotad/status", "online", 1, 15000));
	mq *pub;
	mq_opts o = {.uri = b.uri, .client_id = "it-cmd-pub", .keepalive = 10,
		     .clean_session = true, .max_inflight = 64};
	CU_ASSERT_EQUAL_FATAL(mq_create(&o, &pub), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(mq_start(pub), IOTAD_OK);
	CU_ASSERT_FATAL(mq_wait_connected(pub, 10000));

	/* a raised alert marked false over HTTP: an event, published and retained */
	publish_series(pub, "telemetry/op-1", 60, 30);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/op-1", "\"raised\"", 1, 15000));
	CU_ASSERT_EQUAL(post_cmd(port, "/v1/devices/op-1/false-alarm", NULL, out, sizeof out), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"state\":\"false_alarm\""));
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/op-1", "\"false_alarm\"", 1, 5000));
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "state/op-1", "\"false_alarm\"", 1, 5000));
	/* once more: it is not raised any more */
	CU_ASSERT_EQUAL(post_cmd(port, "/v1/devices/op-1/false-alarm", NULL, out, sizeof out), 409);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "is not raised"));

	/* re-baseline and mute over HTTP; bad requests refused with a reason */
	CU_ASSERT_EQUAL(post_cmd(port, "/v1/devices/op-1/rebaseline", NULL, out, sizeof out), 200);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/op-1", "\"rebaselined\"", 1, 5000));
	CU_ASSERT_EQUAL(post_cmd(port, "/v1/devices/op-1/mute", "{\"seconds\": 2}", out, sizeof out),
			200);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/op-1", "\"muted\"", 1, 5000));
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/op-1", "\"until\":", 1, 5000));
	/* the mute ends by itself (the sweep), as an event */
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/op-1", "\"unmuted\"", 1, 8000));
	CU_ASSERT_EQUAL(post_cmd(port, "/v1/devices/nobody/rebaseline", NULL, out, sizeof out), 404);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "no device"));
	CU_ASSERT_EQUAL(post_cmd(port, "/v1/devices/op-1/mute", "{\"seconds\": -3}", out, sizeof out),
			400);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "bad_duration"));

	/* the control topic: a JSON command, then bad ones */
	const char *mute = "{\"command\":\"mute\",\"device\":\"op-1\",\"seconds\":600}";
	CU_ASSERT_EQUAL(mq_publish(pub, "iotad/control", mute, strlen(mute), 1, false, 5000),
			IOTAD_OK);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/op-1", "\"muted\"", 2, 5000));
	const char *bad[] = {"{oops", "{\"command\":\"mute\",\"device\":\"ghost\",\"seconds\":5}",
			     "{\"command\":\"mute\",\"device\":\"op-1\",\"seconds\":\"soon\"}"};
	for (size_t i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(mq_publish(pub, "iotad/control", bad[i], strlen(bad[i]), 1, false,
					   5000), IOTAD_OK);
	CU_ASSERT_TRUE(hx_wait_metric(port, "iotad_commands_rejected_total{reason=\"bad_duration\"}", 2,
				   5000));
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_commands_rejected_total{reason=\"bad_json\"}"), 1);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_commands_rejected_total{reason=\"unknown_device\"}"), 2);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_commands_rejected_total{reason=\"bad_duration\"}"), 2);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_commands_rejected_total{reason=\"bad_state\"}"), 1);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_commands_total{command=\"mute\"}"), 2);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_commands_total{command=\"rebaseline\"}"), 1);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_commands_total{command=\"false_alarm\"}"), 1);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_alerts_total{state=\"muted\"}"), 2);
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_alerts_total{state=\"unmuted\"}"), 1);
	/* while muted, the fault is not raised */
	size_t raised = hx_sub_count(&sub, "alerts/op-1", "\"raised\"");
	char msg[160];
	for (int i = 0; i < 40; i++) {
		int k = snprintf(msg, sizeof msg,
				 "{\"ts\":%d,\"temperature\":60,\"humidity\":48,\"battery\":97}",
				 1700001000 + i);
		CU_ASSERT_EQUAL(mq_publish(pub, "telemetry/op-1", msg, (size_t)k, 1, false, 5000),
				IOTAD_OK);
	}
	CU_ASSERT_TRUE(hx_wait_metric(port, "iotad_messages_received_total", 100, 10000));
	hx_sub_settle(&sub, "alerts/", 1000, 5000);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/op-1", "\"raised\""), raised);
	CU_ASSERT_TRUE(hx_wait_log(log, "control: refused a command on iotad/control (bad_json)",
				   2000));

	mq_destroy(pub, 2000);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- for the other integration files (it_int8.c) ---- */

void it_http_check_score_api(int port)
{
	check_score_api(port);
}

void it_http_publish_series(mq *pub, const char *topic, int n, int first_hot)
{
	publish_series(pub, topic, n, first_hot);
}

pid_t it_http_start(const char *cfg, const char *log, int port)
{
	pid_t pid = start(cfg, log, port);
	http_resp r;
	int ready = 0;
	for (int i = 0; i < 100 && ready != 200; i++, usleep(100000)) {
		ready = get(port, "/readyz", &r);
		http_free(&r);
	}
	CU_ASSERT_EQUAL(ready, 200);
	return pid;
}
