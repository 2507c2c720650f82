/* test_http.c - unit tests of what the HTTP door says: the Prometheus text
 * exposition, the POST /v1/score body and answer (and its model after a
 * reload), the listen address, the
 * live score JSON and Home Assistant discovery. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "iotad/addr.h"
#include "iotad/hass.h"
#include "iotad/scoreapi.h"
#include "iotad/codec.h"
#include "iotad/config.h"
#include "iotad/detector.h"
#include "iotad/http.h"
#include "iotad/metrics.h"
#include "iotad/model_io.h"
#include "test.h"

/* ---- Prometheus text format --------------------------------------------- */

static char *prometheus(const met_snapshot *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(met_write_prometheus(f, s), 0);
	fclose(f);
	return buf;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

/* Each of the NULL-terminated lines is a whole line of text. */
static void expect_lines(const char *text, const char *const *lines)
{
	for (; *lines; lines++)
		if (!has_line(text, *lines)) {
			printf("\n  missing line: %s\n", *lines);
			CU_FAIL("line missing from the exposition");
		}
}

/* Every sample line is "name[{labels}] value", its family has exactly one
 * TYPE line before it, and counters end in _total. Returns the number of
 * sample lines, or -1 at the first violation (printed). */
static int check_exposition(char *text)
{
	char types[64][96];
	char kinds[64][16];
	int n_types = 0, samples = 0;
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[96], kind[16];
		if (!strncmp(l, "# HELP ", 7))
			continue;
		if (sscanf(l, "# TYPE %95s %15s", name, kind) == 2) {
			for (int i = 0; i < n_types; i++)
				if (!strcmp(types[i], name)) {
					printf("duplicate TYPE %s\n", name);
					return -1;
				}
			if (n_types == 64)
				return -1;
			if (!strcmp(kind, "counter") && !strstr(name, "_total")) {
				printf("counter %s does not end in _total\n", name);
				return -1;
			}
			snprintf(types[n_types], sizeof types[0], "%s", name);
			snprintf(kinds[n_types++], sizeof kinds[0], "%s", kind);
			continue;
		}
		size_t nl = strcspn(l, "{ ");
		if (nl == 0 || nl >= sizeof name)
			return -1;
		memcpy(name, l, nl);
		name[nl] = '\0';
		const char *rest = l + nl;
		if (*rest == '{') {
			rest = strchr(rest, '}');
			if (!rest)
				return -1;
			rest++;
		}
		char *end;
		if (*rest != ' ')
			return -1;
		double v = strtod(rest + 1, &end);
		if (end == rest + 1 || *end || !isfinite(v)) {
			printf("bad value in '%s'\n", l);
			return -1;
		}
		bool declared = false;
		for (int i = 0; i < n_types && !declared; i++) {
			size_t tl = strlen(types[i]);
			if (!strncmp(name, types[i], tl) &&
			    (name[tl] == '\0' ||
			     (!strcmp(kinds[i], "histogram") &&
			      (!strcmp(name + tl, "_bucket") || !strcmp(name + tl, "_sum") ||
			       !strcmp(name + tl, "_count")))))
				declared = true;
		}
		if (!declared) {
			printf("sample %s has no TYPE\n", name);
			return -1;
		}
		samples++;
	}
	return samples;
}

static void test_prometheus_counters(void)
{
	met_snapshot s;
	memset(&s, 0, sizeof s);
	s.received = 1234;
	s.scored = 1200;
	s.rejected[REJ_NOT_JSON] = 3;
	s.rejected[REJ_DEVICE_CAP] = 7;
	s.events[ALERT_EV_RAISED] = 5;
	s.events[ALERT_EV_CLEARED] = 4;
	s.events[ALERT_EV_STALE] = 1;
	s.events[ALERT_EV_MUTED] = 2;
	s.commands[DET_CMD_MUTE] = 3;
	s.commands_rejected[CMD_UNKNOWN_DEVICE] = 4;
	s.devices = 42;
	s.max_devices = 10000;
	s.evictions_lru = 9;
	s.reconnects = 2;
	s.connected = true;
	s.inflight = 17;
	s.queue_depth = 3;
	s.queue_capacity = 65536;
	s.model_loaded = true;
	snprintf(s.model_id, sizeof s.model_id, "temp-ae");
	s.model_version = 3;
	s.model_reloads = 6;
	s.model_reload_failures = 2;
	s.state_rejected = 1;
	char *t = prometheus(&s);
	CU_ASSERT_FALSE(has_line(t, "iotad_messages_rejected_total{reason=\"none\"} 0"));
	static const char *const want[] = {
		"iotad_messages_received_total 1234",
		"iotad_messages_scored_total 1200",
		"iotad_messages_rejected_total{reason=\"not_json\"} 3",
		"iotad_messages_rejected_total{reason=\"device_cap\"} 7",
		"iotad_messages_rejected_total{reason=\"bad_ts\"} 0",
		"iotad_alerts_total{state=\"raised\"} 5",
		"iotad_alerts_total{state=\"cleared\"} 4",
		"iotad_alerts_total{state=\"stale\"} 1",
		"iotad_alerts_total{state=\"muted\"} 2",
		"iotad_alerts_total{state=\"false_alarm\"} 0",
		"iotad_commands_total{command=\"mute\"} 3",
		"iotad_commands_total{command=\"rebaseline\"} 0",
		"iotad_commands_rejected_total{reason=\"unknown_device\"} 4",
		"iotad_commands_rejected_total{reason=\"bad_json\"} 0",
		"# TYPE iotad_commands_total counter",
		"iotad_devices 42",
		"iotad_devices_evicted_total{reason=\"lru\"} 9",
		"iotad_broker_reconnects_total 2",
		"iotad_broker_connected 1",
		"iotad_publish_inflight 17",
		"iotad_queue_depth 3",
		"iotad_model_info{id=\"temp-ae\",version=\"3\"} 1",
		"iotad_model_reloads_total 6",
		"iotad_model_reload_failures_total 2",
		"iotad_state_rejected_total 1",
		"# TYPE iotad_model_reloads_total counter",
		"# TYPE iotad_model_reload_failures_total counter",
		"# TYPE iotad_state_rejected_total counter",
		"# TYPE iotad_messages_received_total counter",
		"# TYPE iotad_devices gauge",
		"# TYPE iotad_score_duration_seconds histogram",
		NULL,
	};
	expect_lines(t, want);
	/* 9 rejected reasons, 3 alert states, 2 eviction reasons, 14+1 buckets ... */
	int samples = check_exposition(t);
	CU_ASSERT(samples >= 40);
	free(t);
}

static void test_prometheus_histogram(void)
{
	met_hist h;
	met_hist_init(&h);
	/* 500 ns -> le 1e-06; 1 us exactly -> le 1e-06 (bounds are inclusive);
	 * 3 us -> le 5e-06; 2 ms -> le 0.0025; 2 s -> only +Inf */
	const uint64_t ns[] = {500, 1000, 3000, 2000000, 2000000000ULL};
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
		met_hist_observe(&h, ns[i]);
	met_snapshot s;
	memset(&s, 0, sizeof s);
	met_hist_read(&h, &s.score);
	CU_ASSERT_EQUAL(s.score.count, 5);
	CU_ASSERT_DOUBLE_EQUAL(s.score.sum, 2.0020045, 1e-12);
	char *t = prometheus(&s);
	static const char *const want[] = {
		"iotad_score_duration_seconds_bucket{le=\"1e-06\"} 2",
		"iotad_score_duration_seconds_bucket{le=\"2.5e-06\"} 2",
		"iotad_score_duration_seconds_bucket{le=\"5e-06\"} 3",
		"iotad_score_duration_seconds_bucket{le=\"0.001\"} 3",
		"iotad_score_duration_seconds_bucket{le=\"0.0025\"} 4",
		"iotad_score_duration_seconds_bucket{le=\"1\"} 4",
		"iotad_score_duration_seconds_bucket{le=\"+Inf\"} 5",
		"iotad_score_duration_seconds_count 5",
		"iotad_score_duration_seconds_sum 2.002004500",
		NULL,
	};
	expect_lines(t, want);
	/* buckets never decrease */
	uint64_t last = 0;
	int buckets = 0;
	for (const char *p = t; (p = strstr(p, "_bucket{le=")); p++) {
		unsigned long long v = strtoull(strchr(p, '}') + 2, NULL, 10);
		CU_ASSERT(v >= last);
		last = v;
		buckets++;
	}
	CU_ASSERT_EQUAL(buckets, MET_BUCKETS + 1);
	free(t);
}

static void test_prometheus_label_escaping(void)
{
	met_snapshot s;
	memset(&s, 0, sizeof s);
	snprintf(s.model_id, sizeof s.model_id, "a\"b\\c\nd");
	s.model_version = 1;
	char *t = prometheus(&s);
	/* model not loaded: the info gauge is 0; the id is escaped per the format */
	CU_ASSERT_TRUE(has_line(t, "iotad_model_info{id=\"a\\\"b\\\\c\\nd\",version=\"1\"} 0"));
	CU_ASSERT(check_exposition(t) > 0);
	free(t);
}

/* ---- /v1/score body ------------------------------------------------------ */

static model tm; /* temperature, humidity, battery; window 3, stride 2 */

static int setup_model(void)
{
	static const char *const names[] = {"temperature", "humidity", "battery"};
	memset(&tm, 0, sizeof tm);
	snprintf(tm.id, sizeof tm.id, "t");
	tm.version = 1;
	tm.n_features = 3;
	tm.window = 3;
	tm.stride = 2;
	for (int i = 0; i < 3; i++)
		snprintf(tm.features[i], sizeof tm.features[i], "%s", names[i]);
	return 0;
}

static iotad_err parse(const char *body, scoreapi_req *r, char *err, size_t errlen)
{
	return scoreapi_parse(body, strlen(body), &tm, r, err, errlen);
}

static void test_score_body_window(void)
{
	scoreapi_req r;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(parse("{\"window\":[[1,2,3],[4,5,6],[7,8,9.5]]}", &r, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_FALSE(r.batch);
	CU_ASSERT_EQUAL(r.n_samples, 3);
	const float want[] = {1, 2, 3, 4, 5, 6, 7, 8, 9.5f};
	for (int i = 0; i < 9; i++)
		CU_ASSERT_EQUAL(r.raw[i], want[i]);
	scoreapi_req_free(&r);

	/* rows as objects in any key order, extra keys ignored; same floats */
	CU_ASSERT_EQUAL_FATAL(parse("{\"window\":[{\"battery\":3,\"humidity\":2,\"temperature\":1,"
				    "\"x\":0},[4,5,6],{\"temperature\":7,\"humidity\":8,"
				    "\"battery\":9.5}]}",
				    &r, err, sizeof err),
			      IOTAD_OK);
	for (int i = 0; i < 9; i++)
		CU_ASSERT_EQUAL(r.raw[i], want[i]);
	scoreapi_req_free(&r);
}

static void test_score_body_batch(void)
{
	scoreapi_req r;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(parse("{\"samples\":[[1,1,1],[2,2,2],[3,3,3],[4,4,4],[5,5,5],[6,6,6],"
				    "[7,7,7]]}",
				    &r, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_TRUE(r.batch);
	CU_ASSERT_EQUAL(r.n_samples, 7);
	/* windows start at 0, 2, 4 (stride 2); one starting at 6 would need 9 samples */
	CU_ASSERT_EQUAL(scoreapi_window_count(&tm, r.n_samples), 3);
	CU_ASSERT_EQUAL(scoreapi_window_count(&tm, 2), 0);
	CU_ASSERT_EQUAL(scoreapi_window_count(&tm, 3), 1);
	CU_ASSERT_EQUAL(scoreapi_window_count(&tm, 4), 1);
	CU_ASSERT_EQUAL(scoreapi_window_count(&tm, 5), 2);
	scoreapi_req_free(&r);
}

static void expect_bad(const char *body, iotad_err want, const char *needle)
{
	scoreapi_req r;
	char err[256];
	iotad_err e = parse(body, &r, err, sizeof err);
	CU_ASSERT_EQUAL(e, want);
	CU_ASSERT_PTR_NULL(r.raw);
	if (!strstr(err, needle)) {
		printf("\n  body %s: error '%s' lacks '%s'\n", body, err, needle);
		CU_FAIL("error message");
	}
}

static void test_score_body_errors(void)
{
	expect_bad("{\"window\":[[1,2,3],[4,5,6]", IOTAD_ERR_PARSE, "not valid JSON");
	expect_bad("", IOTAD_ERR_PARSE, "not valid JSON");
	expect_bad("[1,2,3]", IOTAD_ERR_INVAL, "expected a JSON object");
	/* a key named twice is refused, not resolved to the first */
	expect_bad("{\"window\":[[1,2,3],[1,2,3],[1,2,3]],\"window\":[[9,9,9],[9,9,9],[9,9,9]]}",
		   IOTAD_ERR_DUPLICATE, "\"window\" appears twice");
	expect_bad("{\"window\":[{\"temperature\":1,\"humidity\":2,\"battery\":3,\"battery\":4},"
		   "[1,2,3],[1,2,3]]}", IOTAD_ERR_DUPLICATE, "\"battery\"");
	expect_bad("{}", IOTAD_ERR_INVAL, "exactly one of");
	expect_bad("{\"window\":[[1,2,3],[1,2,3],[1,2,3]],\"samples\":[]}", IOTAD_ERR_INVAL,
		   "exactly one of");
	expect_bad("{\"window\":{\"a\":1}}", IOTAD_ERR_INVAL, "window: expected an array");
	expect_bad("{\"window\":[[1,2,3],[4,5,6]]}", IOTAD_ERR_INVAL, "expected 3 samples, got 2");
	expect_bad("{\"window\":[[1,2,3],[4,5,6],[7,8,9],[1,1,1]]}", IOTAD_ERR_INVAL,
		   "expected 3 samples, got 4");
	expect_bad("{\"window\":[[1,2,3],[4,5],[7,8,9]]}", IOTAD_ERR_INVAL,
		   "window[1]: expected 3 values");
	expect_bad("{\"window\":[[1,2,3],[4,5,6],[7,\"8\",9]]}", IOTAD_ERR_INVAL,
		   "window[2][1]: expected a number, got a string");
	expect_bad("{\"window\":[[1,2,3],[4,null,6],[7,8,9]]}", IOTAD_ERR_INVAL,
		   "window[1][1]: expected a number, got null");
	expect_bad("{\"window\":[[1e999,2,3],[4,5,6],[7,8,9]]}", IOTAD_ERR_INVAL,
		   "window[0][0]: inf is not a finite float");
	expect_bad("{\"window\":[[1,2,3],[4,5,6],[7,8,1e39]]}", IOTAD_ERR_INVAL,
		   "window[2][2]: 1e+39 is not a finite float");
	expect_bad("{\"window\":[[1,2,3],{\"temperature\":1,\"battery\":2},[7,8,9]]}",
		   IOTAD_ERR_INVAL, "window[1]: missing feature 'humidity'");
	expect_bad("{\"window\":[[1,2,3],true,[7,8,9]]}", IOTAD_ERR_INVAL,
		   "window[1]: expected an array or an object, got a boolean");
	expect_bad("{\"samples\":[[1,2,3],[4,5,6]]}", IOTAD_ERR_INVAL,
		   "expected at least 3 samples");
}

/* The answer carries what det_score_window computed, for one window and a batch. */
static void test_score_answer_matches_detector(void)
{
	char path[1024], err[256];
	model m;
	snprintf(path, sizeof path, "%s/model_small.json", test_fixture_dir);
	CU_ASSERT_EQUAL_FATAL(model_load(path, &m, err, sizeof err), IOTAD_OK);
	det_config dc;
	det_config_default(&dc);
	dc.max_devices = 1;
	det *d;
	CU_ASSERT_EQUAL_FATAL(det_create(&m, &dc, &d), IOTAD_OK);
	/* window 2 x (temperature, humidity, battery); a normal and a hot window */
	const float raw[] = {21, 45, 90, 21.5f, 46, 90, 80, 10, 5};
	det_result res[2];
	CU_ASSERT_EQUAL_FATAL(det_score_window(d, raw, 6, &res[0]), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(det_score_window(d, raw + 3, 6, &res[1]), IOTAD_OK);

	char *one = scoreapi_format(&m, res, 1, false);
	cJSON *j = cJSON_Parse(one);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_DOUBLE_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "score")), res[0].score,
			       fabs(res[0].score) * 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "threshold")),
			       m.threshold, m.threshold * 1e-6);
	CU_ASSERT_EQUAL(cJSON_IsTrue(cJSON_GetObjectItem(j, "anomalous")), res[0].anomalous);
	cJSON *contrib = cJSON_GetObjectItem(j, "contrib");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(contrib), 3);
	double sum = 0;
	for (int f = 0; f < 3; f++)
		sum += cJSON_GetNumberValue(cJSON_GetObjectItem(contrib, m.features[f]));
	CU_ASSERT_DOUBLE_EQUAL(sum, 1.0, 1e-5);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(
				       cJSON_GetObjectItem(j, "model"), "id")), "temperature-ae");
	cJSON_Delete(j);
	free(one);

	/* a stuck feature is named, as in the events; none, no member */
	CU_ASSERT_PTR_NULL(strstr(one = scoreapi_format(&m, res, 1, false), "\"stuck\""));
	free(one);
	res[0].stuck = 1u << 1;
	j = cJSON_Parse(one = scoreapi_format(&m, res, 1, false));
	cJSON *stuck = cJSON_GetObjectItem(j, "stuck");
	CU_ASSERT_FATAL(cJSON_IsArray(stuck) && cJSON_GetArraySize(stuck) == 1);
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(stuck, 0)->valuestring, m.features[1]);
	cJSON_Delete(j);
	free(one);
	res[0].stuck = 0;

	/* the channels that judged it are named, in channel order; none, no member */
	uint32_t ch0 = res[0].channels;
	res[0].channels = 0;
	CU_ASSERT_PTR_NULL(strstr(one = scoreapi_format(&m, res, 1, false), "\"channels\""));
	free(one);
	res[0].channels = DET_CH_SHAPE | 1u << PROF_CH_RELATION;
	j = cJSON_Parse(one = scoreapi_format(&m, res, 1, false));
	cJSON *chans = cJSON_GetObjectItem(j, "channels");
	CU_ASSERT_FATAL(cJSON_IsArray(chans) && cJSON_GetArraySize(chans) == 2);
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(chans, 0)->valuestring, "relation");
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(chans, 1)->valuestring, "shape");
	cJSON_Delete(j);
	free(one);
	res[0].channels = ch0;

	char *batch = scoreapi_format(&m, res, 2, true);
	j = cJSON_Parse(batch);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "windows")), 2);
	cJSON *results = cJSON_GetObjectItem(j, "results");
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(results), 2);
	int anomalous = 0;
	for (int i = 0; i < 2; i++) {
		cJSON *r = cJSON_GetArrayItem(results, i);
		CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "start")), i);
		CU_ASSERT_DOUBLE_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "score")),
				       res[i].score, fabs(res[i].score) * 1e-6);
		anomalous += res[i].anomalous;
	}
	/* the verdict is the score against the model's calibrated threshold */
	for (int i = 0; i < 2; i++)
		CU_ASSERT_EQUAL(res[i].anomalous, res[i].score >= m.threshold);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "anomalous_windows")),
			anomalous);
	cJSON_Delete(j);
	free(batch);
	det_destroy(d);
	model_free(&m);
}

/* POST body to /v1/score on 127.0.0.1:port; the parsed answer (NULL when
 * the request failed), owned by the caller. */
static cJSON *score_post(uint16_t port, const char *body)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char req[1024], resp[8192];
	int n = snprintf(req, sizeof req,
			 "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 strlen(body), body);
	size_t got = 0;
	if (write(fd, req, (size_t)n) == n) {
		ssize_t r;
		while (got < sizeof resp - 1 && (r = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
			got += (size_t)r;
	}
	close(fd);
	resp[got] = '\0';
	const char *json = strstr(resp, "\r\n\r\n");
	return json ? cJSON_Parse(json + 4) : NULL;
}

/* The model id of /v1/score's answer into id (empty when the request failed). */
static void score_model_id(uint16_t port, const char *body, char *id, size_t idlen)
{
	id[0] = '\0';
	cJSON *j = score_post(port, body);
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "id"));
	if (v)
		snprintf(id, idlen, "%s", v);
	cJSON_Delete(j);
}

/* /v1/score judges a window as the service's detector configuration says:
 * a feature held still is flagged with detector.stuck_check on (the
 * default) and not with stuck_check: false in the config file. */
static void test_score_honours_config(void)
{
	char path[1024], err[256];
	snprintf(path, sizeof path, "%s/model_small.json", test_fixture_dir);
	model m;
	CU_ASSERT_EQUAL_FATAL(model_load(path, &m, err, sizeof err), IOTAD_OK);
	memset(m.stuck_after, 0, sizeof m.stuck_after);
	m.stuck_after[0] = 2; /* temperature checked: two equal samples are stuck */
	/* temperature held at 21 over the window of 2; the rest moves */
	const char *body = "{\"window\":[[21,45,90],[21,46,89]]}";
	for (int on = 1; on >= 0; on--) {
		iotad_config c;
		det_config dc;
		const char *yaml = on ? "detector:\n  threshold: static\n" :
					"detector:\n  threshold: static\n  stuck_check: false\n";
		CU_ASSERT_EQUAL_FATAL(config_load_string("t.yaml", yaml, strlen(yaml), &c, err,
							 sizeof err), IOTAD_OK);
		config_det(&c, &dc);
		CU_ASSERT_EQUAL(dc.stuck_check, on);
		http_opts o = {.listen = "127.0.0.1:0", .max_body = 4096, .m = &m, .det = &dc};
		http *h;
		CU_ASSERT_EQUAL_FATAL(http_create(&o, &h), IOTAD_OK);
		memset(&dc, 0xff, sizeof dc); /* copied at create: the caller's may go */
		cJSON *j = score_post(http_port(h), body);
		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		cJSON *stuck = cJSON_GetObjectItem(j, "stuck");
		double score = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "score"));
		bool anomalous = cJSON_IsTrue(cJSON_GetObjectItem(j, "anomalous"));
		if (on) {
			CU_ASSERT_FATAL(cJSON_IsArray(stuck) && cJSON_GetArraySize(stuck) == 1);
			CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(stuck, 0)->valuestring, "temperature");
			CU_ASSERT_TRUE(anomalous);
		} else {
			CU_ASSERT_PTR_NULL(stuck);
			CU_ASSERT_EQUAL(anomalous, score >= m.threshold);
		}
		/* after a reload the new model is judged the same way */
		CU_ASSERT_EQUAL(http_set_model(h, &m), IOTAD_OK);
		cJSON *j2 = score_post(http_port(h), body);
		CU_ASSERT_EQUAL(cJSON_GetObjectItem(j2, "stuck") != NULL, on);
		cJSON_Delete(j2);
		cJSON_Delete(j);
		http_destroy(h);
	}
	model_free(&m);
}

/* After http_set_model /v1/score answers with the new model, and the old
 * one can be freed at once (AddressSanitizer would see a later use). */
static void test_set_model(void)
{
	char path[1024], err[256], id[64];
	snprintf(path, sizeof path, "%s/model_small.json", test_fixture_dir);
	model *m1 = calloc(1, sizeof *m1), *m2 = calloc(1, sizeof *m2);
	CU_ASSERT_FATAL(m1 && m2);
	CU_ASSERT_EQUAL_FATAL(model_load(path, m1, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(model_load(path, m2, err, sizeof err), IOTAD_OK);
	snprintf(m2->id, sizeof m2->id, "next-model");
	http_opts o = {.listen = "127.0.0.1:0", .max_body = 4096, .m = m1};
	http *h;
	CU_ASSERT_EQUAL_FATAL(http_create(&o, &h), IOTAD_OK);
	const char *body = "{\"window\":[[21,45,90],[21.5,46,90]]}";
	score_model_id(http_port(h), body, id, sizeof id);
	CU_ASSERT_STRING_EQUAL(id, "temperature-ae");
	CU_ASSERT_EQUAL(http_set_model(h, m2), IOTAD_OK);
	model_free(m1);
	free(m1);
	score_model_id(http_port(h), body, id, sizeof id);
	CU_ASSERT_STRING_EQUAL(id, "next-model");
	CU_ASSERT_EQUAL(http_set_model(h, NULL), IOTAD_ERR_INVAL);
	score_model_id(http_port(h), body, id, sizeof id);
	CU_ASSERT_STRING_EQUAL(id, "next-model");
	http_destroy(h);
	model_free(m2);
	free(m2);
}

/* ---- operator commands ---------------------------------------------------- */

/* POST (or method) body to path; the status into *status and the answer's
 * body into out. */
static void request(uint16_t port, const char *method, const char *path, const char *body,
		    int *status, char *out, size_t outlen)
{
	*status = 0;
	out[0] = '\0';
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	char req[1024], resp[8192];
	int n = snprintf(req, sizeof req,
			 "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 method, path, strlen(body), body);
	size_t got = 0;
	if (write(fd, req, (size_t)n) == n) {
		ssize_t r;
		while (got < sizeof resp - 1 && (r = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
			got += (size_t)r;
	}
	close(fd);
	resp[got] = '\0';
	sscanf(resp, "HTTP/1.1 %d", status);
	const char *b = strstr(resp, "\r\n\r\n");
	snprintf(out, outlen, "%s", b ? b + 4 : "");
}

static det_command last_cmd;
static int n_cmds;

/* The service's side, faked: "ghost" is unknown, "calm" is not raised. */
static cmd_reject fake_command(void *ud, const det_command *cmd, det_result *res, char *detail,
			       size_t dlen)
{
	(void)ud;
	last_cmd = *cmd;
	n_cmds++;
	memset(res, 0, sizeof *res);
	if (!strcmp(cmd->device, "ghost")) {
		snprintf(detail, dlen, "no device \"ghost\"");
		return CMD_UNKNOWN_DEVICE;
	}
	if (!strcmp(cmd->device, "calm") && cmd->kind == DET_CMD_FALSE_ALARM) {
		snprintf(detail, dlen, "not raised");
		return CMD_BAD_STATE;
	}
	res->event = cmd->kind == DET_CMD_MUTE ? (cmd->seconds > 0 ? ALERT_EV_MUTED : ALERT_EV_UNMUTED) :
		     cmd->kind == DET_CMD_REBASELINE ? ALERT_EV_REBASELINED : ALERT_EV_FALSE_ALARM;
	res->seq = 9;
	return CMD_OK;
}

static void test_command_endpoints(void)
{
	char path[1024], err[256];
	snprintf(path, sizeof path, "%s/model_small.json", test_fixture_dir);
	model m;
	CU_ASSERT_EQUAL_FATAL(model_load(path, &m, err, sizeof err), IOTAD_OK);
	http_opts o = {.listen = "127.0.0.1:0", .max_body = 4096, .m = &m,
		       .command = fake_command};
	http *h;
	char out[4096];
	int st;
	CU_ASSERT_EQUAL_FATAL(http_create(&o, &h), IOTAD_OK);
	uint16_t port = http_port(h);
	const struct {
		const char *method, *path, *body;
		int status;
		const char *needle;     /* in the answer */
		int called;             /* the command reached the service */
	} cases[] = {
		{"POST", "/v1/devices/d1/mute", "{\"seconds\": 600}", 200, "\"state\":\"muted\"", 1},
		{"POST", "/v1/devices/d1/mute", "{\"seconds\": 0}", 200, "\"state\":\"unmuted\"", 1},
		{"POST", "/v1/devices/d1/rebaseline", "", 200, "\"state\":\"rebaselined\"", 1},
		{"POST", "/v1/devices/d1/rebaseline", "{}", 200, "\"seq\":9", 1},
		{"POST", "/v1/devices/d1/false-alarm", "", 200, "\"state\":\"false_alarm\"", 1},
		{"POST", "/v1/devices/d1/false_alarm", "", 200, "\"command\":\"false_alarm\"", 1},
		{"POST", "/v1/devices/ghost/rebaseline", "", 404, "unknown_device", 1},
		{"POST", "/v1/devices/calm/false-alarm", "", 409, "bad_state", 1},
		{"POST", "/v1/devices/d1/mute", "", 400, "bad_json", 0},
		{"POST", "/v1/devices/d1/mute", "{\"seconds\": -5}", 400, "bad_duration", 0},
		{"POST", "/v1/devices/d1/mute", "{\"seconds\": \"10\"}", 400, "must be a number", 0},
		{"POST", "/v1/devices/d1/mute", "{\"seconds\": 1e12}", 400, "bad_duration", 0},
		{"POST", "/v1/devices/d1/mute", "{\"secs\": 10}", 400, "unknown field", 0},
		{"POST", "/v1/devices/d1/mute", "[10]", 400, "bad_json", 0},
		{"POST", "/v1/devices/d1/mute", "{\"seconds\": 10", 400, "not JSON", 0},
		{"POST", "/v1/devices/d1/rebaseline", "{\"now\": 1}", 400, "takes no body", 0},
		{"POST", "/v1/devices/d1/explode", "", 404, "no such command", 0},
		{"POST", "/v1/devices/d+1/rebaseline", "", 400, "bad_device", 0},
		{"POST", "/v1/devices//rebaseline", "", 404, "no such resource", 0},
		{"POST", "/v1/devices/d1/mute/x", "", 404, "no such resource", 0},
		{"GET", "/v1/devices/d1/mute", "", 405, "use POST", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int before = n_cmds;
		request(port, cases[i].method, cases[i].path, cases[i].body, &st, out, sizeof out);
		CU_ASSERT_EQUAL(st, cases[i].status);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, cases[i].needle));
		CU_ASSERT_EQUAL(n_cmds - before, cases[i].called);
		if (st != cases[i].status || !strstr(out, cases[i].needle))
			printf("\n    case %zu: %s %s -> %d %s", i, cases[i].method, cases[i].path, st, out);
	}
	request(port, "POST", "/v1/devices/d-7/mute", "{\"seconds\": 90.5}", &st, out, sizeof out);
	CU_ASSERT_EQUAL(last_cmd.kind, DET_CMD_MUTE);
	CU_ASSERT_STRING_EQUAL(last_cmd.device, "d-7");
	CU_ASSERT_EQUAL(last_cmd.seconds, 90.5);
	http_destroy(h);

	/* a server without a command handler says so */
	o.command = NULL;
	CU_ASSERT_EQUAL_FATAL(http_create(&o, &h), IOTAD_OK);
	request(http_port(h), "POST", "/v1/devices/d1/rebaseline", "", &st, out, sizeof out);
	CU_ASSERT_EQUAL(st, 503);
	http_destroy(h);
	model_free(&m);
}

/* ---- listen address, live score JSON ------------------------------------ */

static void test_listen_parse(void)
{
	char host[64], err[200];
	uint16_t port;
	CU_ASSERT_EQUAL(addr_parse_listen("127.0.0.1:8080", host, sizeof host, &port, err,
					  sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(host, "127.0.0.1");
	CU_ASSERT_EQUAL(port, 8080);
	CU_ASSERT_EQUAL(addr_parse_listen("[::1]:0", host, sizeof host, &port, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(host, "::1");
	CU_ASSERT_EQUAL(port, 0);
	const char *bad[] = {"", "8080", ":8080", "localhost:8080", "127.0.0.1:", "127.0.0.1:65536",
			     "127.0.0.1:-1", "127.0.0.1:80x", "[::1]8080", "::1:8080",
			     "300.0.0.1:80", "[127.0.0.1]:80"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(addr_parse_listen(bad[i], host, sizeof host, &port, err, sizeof err),
				-1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "IPv4:PORT"));
	}
}

static void test_score_json(void)
{
	det_result r;
	memset(&r, 0, sizeof r);
	r.scored = true;
	r.score = 0.25f;
	r.threshold = 0.125f;
	r.anomalous = true;
	char buf[256];
	int n = codec_format_score(buf, sizeof buf, "dev\"1", 1700000000.5, &r);
	CU_ASSERT_EQUAL(n, (int)strlen(buf));
	CU_ASSERT_STRING_EQUAL(buf, "{\"device\":\"dev\\\"1\",\"ts\":1700000000.500,\"score\":0.25,"
				    "\"threshold\":0.125,\"anomalous\":true}");
	CU_ASSERT_EQUAL(codec_format_score(buf, 20, "dev", 1.0, &r), -1);
	CU_ASSERT_EQUAL(codec_json_string(buf, sizeof buf, "a\\b\n"), 8);
	CU_ASSERT_STRING_EQUAL(buf, "\"a\\\\b\\n\"");
}

/* ---- Home Assistant discovery ------------------------------------------- */

static const char *str(cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void test_hass_config(void)
{
	iotad_config c;
	config_defaults(&c);
	char *text = hass_config(&c, &tm, "sensor-007");
	cJSON *j = cJSON_Parse(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(str(j, "device_class"), "problem");
	CU_ASSERT_STRING_EQUAL(str(j, "unique_id"), "iotad_sensor-007");
	CU_ASSERT_STRING_EQUAL(str(j, "state_topic"), "state/sensor-007");
	CU_ASSERT_STRING_EQUAL(str(j, "json_attributes_topic"), "state/sensor-007");
	CU_ASSERT_STRING_EQUAL(str(j, "value_template"),
			       "{{ 'ON' if value_json.state == 'raised' else 'OFF' }}");
	CU_ASSERT_STRING_EQUAL(str(j, "payload_on"), "ON");
	CU_ASSERT_STRING_EQUAL(str(j, "payload_off"), "OFF");
	const char *attr = str(j, "json_attributes_template");
	CU_ASSERT_PTR_NOT_NULL_FATAL(attr);
	CU_ASSERT_PTR_NOT_NULL(strstr(attr, "'score': value_json.score"));
	CU_ASSERT_PTR_NOT_NULL(strstr(attr, "'threshold': value_json.threshold"));
	CU_ASSERT_PTR_NOT_NULL(strstr(attr, "'top': value_json.top"));
	/* available while iotad is online and the device is not stale */
	cJSON *av = cJSON_GetObjectItem(j, "availability");
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(av), 2);
	CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(av, 0), "topic"), "state/sensor-007");
	CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(av, 0), "value_template"),
			       "{{ 'offline' if value_json.state == 'stale' else 'online' }}");
	CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(av, 1), "topic"), c.status_topic);
	CU_ASSERT_STRING_EQUAL(str(j, "availability_mode"), "all");
	CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(j, "availability_topic"));
	CU_ASSERT_STRING_EQUAL(str(j, "payload_available"), "online");
	CU_ASSERT_STRING_EQUAL(str(j, "payload_not_available"), "offline");
	cJSON *dev = cJSON_GetObjectItem(j, "device");
	CU_ASSERT_STRING_EQUAL(str(dev, "name"), "sensor-007");
	CU_ASSERT_STRING_EQUAL(str(dev, "manufacturer"), "iotad");
	CU_ASSERT_STRING_EQUAL(str(dev, "model"), "t v1");
	cJSON *ids = cJSON_GetObjectItem(dev, "identifiers");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(ids), 1);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetArrayItem(ids, 0)), "iotad_sensor-007");
	CU_ASSERT_STRING_EQUAL(str(cJSON_GetObjectItem(j, "origin"), "name"), "iotad");
	cJSON_Delete(j);
	free(text);

	/* custom topics follow the config; no status topic: the device's own only */
	snprintf(c.state_prefix, sizeof c.state_prefix, "site/state");
	c.status_topic[0] = '\0';
	text = hass_config(&c, &tm, "x");
	j = cJSON_Parse(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(str(j, "state_topic"), "site/state/x");
	CU_ASSERT_STRING_EQUAL(str(j, "unique_id"), "iotad_x"); /* instance iotad */
	av = cJSON_GetObjectItem(j, "availability");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(av), 1);
	CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(av, 0), "topic"), "site/state/x");
	cJSON_Delete(j);
	free(text);
	/* another instance: its own unique ids */
	snprintf(c.instance, sizeof c.instance, "north");
	text = hass_config(&c, &tm, "x");
	j = cJSON_Parse(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(str(j, "unique_id"), "iotad_north_x");
	cJSON_Delete(j);
	free(text);
}

void init_http_tests(void)
{
	CU_pSuite s = CU_add_suite("http", setup_model, NULL);
	TEST_ADD(s, test_prometheus_counters);
	TEST_ADD(s, test_prometheus_histogram);
	TEST_ADD(s, test_prometheus_label_escaping);
	TEST_ADD(s, test_score_body_window);
	TEST_ADD(s, test_score_body_batch);
	TEST_ADD(s, test_score_body_errors);
	TEST_ADD(s, test_score_answer_matches_detector);
	TEST_ADD(s, test_set_model);
	TEST_ADD(s, test_score_honours_config);
	TEST_ADD(s, test_command_endpoints);
	TEST_ADD(s, test_listen_parse);
	TEST_ADD(s, test_score_json);
	TEST_ADD(s, test_hass_config);
}
