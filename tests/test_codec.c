/* test_codec.c - unit tests of codec: topics, telemetry payloads, RFC 3339
 * time and the alert event JSON. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "iotad/codec.h"
#include "iotad/timefmt.h"
#include "test.h"

#define SENTINEL 42.5f
#define NOW 1700000000.0

static model test_model; /* temperature, humidity */

static void make_model(model *m, const char *const *names, int n)
{
	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "temp-ae");
	m->version = 3;
	m->n_features = n;
	for (int i = 0; i < n; i++)
		snprintf(m->features[i], sizeof m->features[i], "%s", names[i]);
}

static int setup(void)
{
	static const char *const names[] = {"temperature", "humidity"};
	make_model(&test_model, names, 2);
	return 0;
}

static reject_reason parse(const char *json, size_t max_len, double *ts, bool *has_ts,
			   float *vals, char *detail, size_t dlen)
{
	return codec_parse_sample(json, strlen(json), max_len, &test_model, NOW, ts, has_ts, vals,
				  detail, dlen);
}

static void test_reject_names(void)
{
	CU_ASSERT_STRING_EQUAL(codec_reject_name(REJ_NONE), "none");
	CU_ASSERT_STRING_EQUAL(codec_reject_name(REJ_NOT_FINITE), "not_finite");
	CU_ASSERT_STRING_EQUAL(codec_reject_name(REJ_DEVICE_CAP), "device_cap");
	CU_ASSERT_STRING_EQUAL(codec_reject_name(REJ__COUNT), "unknown");
	for (int r = 0; r < REJ__COUNT; r++) {
		const char *name = codec_reject_name((reject_reason)r);
		CU_ASSERT_PTR_NOT_NULL_FATAL(name);
		CU_ASSERT(strcmp(name, "unknown") != 0);
		for (int q = 0; q < r; q++)
			CU_ASSERT(strcmp(name, codec_reject_name((reject_reason)q)) != 0);
	}
}

static const struct bad_payload {
	const char *json;
	reject_reason want;
	const char *detail; /* substring expected in detail, or NULL */
} bad_payloads[] = {
	{"", REJ_NOT_JSON, "not JSON"},
	{"hello", REJ_NOT_JSON, "not JSON"},
	{"{\"temperature\": 1,", REJ_NOT_JSON, NULL},
	{"{\"temperature\": 1, \"humidity\": 2", REJ_NOT_JSON, NULL},
	{"{\"temperature\": 1, \"humidity\": 2} {}", REJ_NOT_JSON, "trailing"},
	{"{\"temperature\": NaN, \"humidity\": 2}", REJ_NOT_JSON, NULL},
	{"[1, 2]", REJ_NOT_OBJECT, "array"},
	{"42", REJ_NOT_OBJECT, "number"},
	{"\"temperature\"", REJ_NOT_OBJECT, "string"},
	{"null", REJ_NOT_OBJECT, NULL},
	{"{\"temperature\": 1}", REJ_MISSING_FEATURE, "feature \"humidity\" missing; keys: temperature"},
	{"{}", REJ_MISSING_FEATURE, "feature \"temperature\" missing; no keys"},
	{"{\"Temperature\": 1, \"humidity\": 2}", REJ_MISSING_FEATURE, "keys: Temperature, humidity"},
	{"{\"hum\\nx\": 1, \"values\": {\"temp\": 2}}", REJ_MISSING_FEATURE, "keys: hum?x, values.temp"},
	{"{\"values\": \"x\", \"humidity\": 2}", REJ_MISSING_FEATURE, "\"temperature\""},
	{"{\"values\": {\"temperature\": 1}}", REJ_MISSING_FEATURE, "\"humidity\""},
	{"{\"temperature\": \"21.5\", \"humidity\": 2}", REJ_NOT_NUMBER, "\"temperature\" is a string"},
	{"{\"temperature\": 1, \"humidity\": true}", REJ_NOT_NUMBER, "\"humidity\" is a boolean"},
	{"{\"temperature\": null, \"humidity\": 2}", REJ_NOT_NUMBER, "null"},
	{"{\"temperature\": {\"v\": 1}, \"humidity\": 2}", REJ_NOT_NUMBER, "an object"},
	{"{\"temperature\": [1], \"humidity\": 2}", REJ_NOT_NUMBER, "an array"},
	{"{\"values\": {\"temperature\": 1, \"humidity\": \"x\"}}", REJ_NOT_NUMBER, "\"humidity\""},
	{"{\"temperature\": 1e999, \"humidity\": 2}", REJ_NOT_FINITE, "\"temperature\""},
	{"{\"temperature\": 1, \"humidity\": -1e999}", REJ_NOT_FINITE, "\"humidity\""},
	{"{\"temperature\": 1e300, \"humidity\": 2}", REJ_NOT_FINITE, "\"temperature\""},
	{"{\"temperature\": 1, \"humidity\": 2, \"ts\": \"yesterday\"}", REJ_BAD_TS, "ts"},
	{"{\"temperature\": 1, \"humidity\": 2, \"ts\": -5}", REJ_BAD_TS, "ts"},
	{"{\"temperature\": 1, \"humidity\": 2, \"ts\": 0}", REJ_BAD_TS, "ts"},
	{"{\"temperature\": 1, \"humidity\": 2, \"ts\": 1e11}", REJ_BAD_TS, "ts"},
	{"{\"temperature\": 1, \"humidity\": 2, \"ts\": 1e999}", REJ_BAD_TS, "ts"},
	{"{\"temperature\": 1, \"humidity\": 2, \"ts\": {\"s\": 1}}", REJ_BAD_TS, "object"},
	{"{\"temperature\": 1, \"humidity\": 2, \"ts\": null}", REJ_BAD_TS, "null"},
	{"{\"temperature\": 1, \"humidity\": 2, \"ts\": true}", REJ_BAD_TS, NULL},
	{"{\"temperature\": 1, \"humidity\": 2, \"ts\": \"2023-02-29T00:00:00Z\"}", REJ_BAD_TS, NULL},
	{"{\"temperature\": 1, \"humidity\": 2, \"ts\": \"1960-01-01T00:00:00Z\"}", REJ_BAD_TS, NULL},
	/* a key named twice: cJSON would take the first, a device may mean the second */
	{"{\"temperature\": 1, \"humidity\": 2, \"temperature\": 9}", REJ_DUPLICATE_KEY,
	 "\"temperature\" appears twice"},
	{"{\"temperature\": 1, \"humidity\": 2, \"ts\": 5, \"ts\": 6}", REJ_DUPLICATE_KEY, "\"ts\""},
	{"{\"values\": {\"temperature\": 1, \"humidity\": 2, \"humidity\": 3}}", REJ_DUPLICATE_KEY,
	 "\"humidity\""},
	{"{\"temperature\": 1, \"humidity\": 2, \"x\": [{\"a\": 1, \"a\": 2}]}", REJ_DUPLICATE_KEY,
	 "\"a\""},
};

static void test_bad_payloads(void)
{
	for (size_t i = 0; i < sizeof bad_payloads / sizeof bad_payloads[0]; i++) {
		const struct bad_payload *b = &bad_payloads[i];
		float vals[2] = {SENTINEL, SENTINEL};
		double ts = -1;
		bool has_ts = true;
		char detail[128];
		reject_reason r = parse(b->json, 4096, &ts, &has_ts, vals, detail, sizeof detail);
		if (r != b->want)
			fprintf(stderr, "\npayload %s: got %s want %s (%s)\n", b->json,
				codec_reject_name(r), codec_reject_name(b->want), detail);
		CU_ASSERT_EQUAL(r, b->want);
		CU_ASSERT_EQUAL(vals[0], SENTINEL);
		CU_ASSERT_EQUAL(vals[1], SENTINEL);
		CU_ASSERT(detail[0] != '\0');
		if (b->detail && !strstr(detail, b->detail)) {
			fprintf(stderr, "\npayload %s: detail '%s' lacks '%s'\n", b->json, detail,
				b->detail);
			CU_FAIL("detail text");
		}
	}
}

/* The keys listed for a missing feature stop at the detail's size. */
static void test_missing_keys_bounded(void)
{
	char json[2048] = "{";
	for (int i = 0; i < 60; i++)
		snprintf(json + strlen(json), sizeof json - strlen(json), "%s\"key%02d\": 1",
			 i ? ", " : "", i);
	strcat(json, "}");
	float vals[2];
	double ts;
	bool has_ts;
	char detail[128];
	CU_ASSERT_EQUAL(parse(json, 4096, &ts, &has_ts, vals, detail, sizeof detail),
			REJ_MISSING_FEATURE);
	CU_ASSERT_PTR_NOT_NULL(strstr(detail, "keys: key00, key01"));
	CU_ASSERT_TRUE(strlen(detail) < sizeof detail);
	CU_ASSERT_STRING_EQUAL(detail + strlen(detail) - 3, "...");
}

static void test_oversize_first(void)
{
	const char *ok = "{\"temperature\": 1, \"humidity\": 2}";
	float vals[2] = {SENTINEL, SENTINEL};
	double ts;
	bool has_ts;
	char detail[128];

	/* not JSON, but too large: size is checked before parsing */
	CU_ASSERT_EQUAL(parse("garbage!", 7, &ts, &has_ts, vals, detail, sizeof detail), REJ_OVERSIZE);
	CU_ASSERT_PTR_NOT_NULL(strstr(detail, "8 bytes exceeds 7"));
	CU_ASSERT_EQUAL(parse(ok, strlen(ok) - 1, &ts, &has_ts, vals, NULL, 0), REJ_OVERSIZE);
	CU_ASSERT_EQUAL(vals[0], SENTINEL);
	CU_ASSERT_EQUAL(parse(ok, strlen(ok), &ts, &has_ts, vals, NULL, 0), REJ_NONE);
	CU_ASSERT_EQUAL(vals[0], 1.0f);
}

static void test_good_payloads(void)
{
	float vals[2];
	double ts;
	bool has_ts;
	char detail[128];

	/* flat, numeric ts */
	CU_ASSERT_EQUAL(parse("{\"ts\": 1714564800.25, \"temperature\": 21.5, \"humidity\": 40}", 4096,
			      &ts, &has_ts, vals, detail, sizeof detail), REJ_NONE);
	CU_ASSERT_EQUAL(vals[0], 21.5f);
	CU_ASSERT_EQUAL(vals[1], 40.0f);
	CU_ASSERT_TRUE(has_ts);
	CU_ASSERT_DOUBLE_EQUAL(ts, 1714564800.25, 1e-6);
	CU_ASSERT_STRING_EQUAL(detail, "");

	/* under "values", RFC 3339 ts (2024-05-01T12:00:00Z = 1714564800) */
	CU_ASSERT_EQUAL(parse("{\"ts\": \"2024-05-01T12:00:00Z\", \"values\": "
			      "{\"temperature\": -3.25, \"humidity\": 55}}",
			      4096, &ts, &has_ts, vals, NULL, 0), REJ_NONE);
	CU_ASSERT_EQUAL(vals[0], -3.25f);
	CU_ASSERT_EQUAL(vals[1], 55.0f);
	CU_ASSERT_TRUE(has_ts);
	CU_ASSERT_DOUBLE_EQUAL(ts, 1714564800.0, 1e-9);

	/* unknown fields ignored; no ts: arrival time */
	CU_ASSERT_EQUAL(parse("{\"foo\": [1, {\"a\": null}], \"humidity\": 2e1, \"bar\": \"x\", "
			      "\"temperature\": 0}", 4096, &ts, &has_ts, vals, NULL, 0), REJ_NONE);
	CU_ASSERT_EQUAL(vals[0], 0.0f);
	CU_ASSERT_EQUAL(vals[1], 20.0f);
	CU_ASSERT_FALSE(has_ts);
	CU_ASSERT_EQUAL(ts, NOW);

	/* top level wins over "values"; a mix of both places works */
	CU_ASSERT_EQUAL(parse("{\"temperature\": 7, \"values\": {\"temperature\": 8, \"humidity\": 9}}",
			      4096, &ts, &has_ts, vals, NULL, 0), REJ_NONE);
	CU_ASSERT_EQUAL(vals[0], 7.0f);
	CU_ASSERT_EQUAL(vals[1], 9.0f);
}

static void test_payload_not_terminated(void)
{
	/* len excludes the tail; trailing whitespace and NUL are allowed */
	const char buf[] = "{\"temperature\": 1, \"humidity\": 2}XYZ";
	const char nul[] = "{\"temperature\": 3, \"humidity\": 4}\n\0";
	float vals[2] = {SENTINEL, SENTINEL};
	double ts;
	bool has_ts;

	CU_ASSERT_EQUAL(codec_parse_sample(buf, sizeof buf - 4, 4096, &test_model, NOW, &ts, &has_ts,
					   vals, NULL, 0), REJ_NONE);
	CU_ASSERT_EQUAL(vals[1], 2.0f);
	CU_ASSERT_EQUAL(codec_parse_sample(buf, sizeof buf - 1, 4096, &test_model, NOW, &ts, &has_ts,
					   vals, NULL, 0), REJ_NOT_JSON);
	CU_ASSERT_EQUAL(codec_parse_sample(nul, sizeof nul - 1, 4096, &test_model, NOW, &ts, &has_ts,
					   vals, NULL, 0), REJ_NONE);
	CU_ASSERT_EQUAL(vals[0], 3.0f);
}

static void test_rfc3339_parse(void)
{
	static const struct {
		const char *s;
		double want;
	} good[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"2024-05-01T12:00:00Z", 1714564800},
		{"2024-05-01t12:00:00z", 1714564800},
		{"2024-05-01 12:00:00Z", 1714564800},
		{"2024-05-01T12:00:00.5Z", 1714564800.5},
		{"2024-05-01T12:00:00.125+02:00", 1714564800.125 - 7200},
		{"2024-05-01T12:00:00-05:30", 1714564800 + 5 * 3600 + 1800},
		{"2000-02-29T00:00:00Z", 951782400},
		{"2016-12-31T23:59:60Z", 1483228800},
	};
	static const char *const bad[] = {
		"", "2024-05-01", "2024-05-01T12:00:00", "2024-05-01T12:00Z", "2024-13-01T00:00:00Z",
		"2024-00-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
		"2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z", "2024-05-01T12:00:61Z",
		"2024-05-01T12:00:00.Z", "2024-05-01T12:00:00Zjunk", "2024-05-01T12:00:00+2:00",
		"2024-05-01T12:00:00+24:00", "2024-05-01T12:00:00+02:60", "24-05-01T12:00:00Z",
		"2024-05-01X12:00:00Z", " 2024-05-01T12:00:00Z", "2024-5-01T12:00:00Z",
	};
	double v;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		v = -1;
		CU_ASSERT_EQUAL(timefmt_parse_rfc3339(good[i].s, &v), 0);
		CU_ASSERT_DOUBLE_EQUAL(v, good[i].want, 1e-6);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (timefmt_parse_rfc3339(bad[i], &v) == 0) {
			fprintf(stderr, "\naccepted bad time '%s'\n", bad[i]);
			CU_FAIL("bad RFC 3339 accepted");
		}
	}
}

static void test_rfc3339_format(void)
{
	char out[64], small[10];
	double back;

	timefmt_format_rfc3339(1714564800.5, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "2024-05-01T12:00:00.500Z");
	timefmt_format_rfc3339(0, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "1970-01-01T00:00:00.000Z");
	timefmt_format_rfc3339(951782399.9996, out, sizeof out); /* rounds up to the next second */
	CU_ASSERT_STRING_EQUAL(out, "2000-02-29T00:00:00.000Z");
	timefmt_format_rfc3339(-0.25, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "1969-12-31T23:59:59.750Z");
	timefmt_format_rfc3339(NAN, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "");
	timefmt_format_rfc3339(1714564800.5, small, sizeof small);
	CU_ASSERT_STRING_EQUAL(small, "");
	/* round trip */
	timefmt_format_rfc3339(1234567890.123, out, sizeof out);
	CU_ASSERT_EQUAL(timefmt_parse_rfc3339(out, &back), 0);
	CU_ASSERT_DOUBLE_EQUAL(back, 1234567890.123, 1e-6);
}

static void test_event_json(void)
{
	static const char *const names[] = {"temperature", "humid\"ity", "battery", "rssi"};
	model m;
	det_result res;
	char buf[1024];

	make_model(&m, names, 4);
	memset(&res, 0, sizeof res);
	res.scored = true;
	res.anomalous = true;
	res.score = 0.25f;
	res.threshold = 0.125f;
	res.contrib[0] = 0.1f;
	res.contrib[1] = 0.6f;
	res.contrib[2] = 0.3f;
	res.contrib[3] = 0.0f;
	res.seq = 12345678901ULL;
	const char *device = "dev\"1\\x\x01";
	int n = codec_format_event(buf, sizeof buf, device, "raised", 1714564800.5, &res, &m);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL((size_t)n, strlen(buf));

	cJSON *j = cJSON_Parse(buf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(j, "device")), device);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(j, "state")), "raised");
	CU_ASSERT_DOUBLE_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "ts")), 1714564800.5, 1e-9);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(j, "time")),
			       "2024-05-01T12:00:00.500Z");
	CU_ASSERT_DOUBLE_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "score")), 0.25, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "threshold")), 0.125, 1e-9);
	cJSON *contrib = cJSON_GetObjectItem(j, "contrib");
	CU_ASSERT_FATAL(cJSON_IsObject(contrib));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(contrib), 4);
	int i = 0;
	for (cJSON *c = contrib->child; c; c = c->next, i++) { /* feature order */
		CU_ASSERT_STRING_EQUAL(c->string, names[i]);
		CU_ASSERT_DOUBLE_EQUAL(c->valuedouble, res.contrib[i], 1e-6);
	}
	cJSON *top = cJSON_GetObjectItem(j, "top");
	CU_ASSERT_FATAL(cJSON_IsArray(top));
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(top), 3);
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(top, 0)->valuestring, "humid\"ity");
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(top, 1)->valuestring, "battery");
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(top, 2)->valuestring, "temperature");
	cJSON *mo = cJSON_GetObjectItem(j, "model");
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(mo, "id")), "temp-ae");
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(mo, "version")), 3);
	CU_ASSERT_DOUBLE_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "seq")), 12345678901.0, 0.5);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 10); /* no "stuck" when nothing is */
	cJSON_Delete(j);

	/* every shorter buffer fails cleanly; exactly n + 1 succeeds */
	char exact[1024];
	for (int len = 0; len <= n; len++)
		CU_ASSERT_EQUAL(codec_format_event(exact, (size_t)len, device, "raised", 1714564800.5,
						   &res, &m), -1);
	CU_ASSERT_EQUAL(codec_format_event(exact, (size_t)n + 1, device, "raised", 1714564800.5, &res,
					   &m), n);
	CU_ASSERT_STRING_EQUAL(exact, buf);

	/* stuck features are named, in feature order */
	res.stuck = 1u << 3 | 1u << 1;
	CU_ASSERT_FATAL(codec_format_event(buf, sizeof buf, "d", "raised", 1, &res, &m) > 0);
	j = cJSON_Parse(buf);
	cJSON *stuck = cJSON_GetObjectItem(j, "stuck");
	CU_ASSERT_FATAL(cJSON_IsArray(stuck) && cJSON_GetArraySize(stuck) == 2);
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(stuck, 0)->valuestring, "humid\"ity");
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(stuck, 1)->valuestring, "rssi");
	CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(j, "channels")); /* none judged it */
	cJSON_Delete(j);

	/* the channels that judged it are named, in channel order */
	res.stuck = 0;
	res.channels = DET_CH_SHAPE | 1u << PROF_CH_DRIFT | 1u << PROF_CH_LEVEL;
	CU_ASSERT_FATAL(codec_format_event(buf, sizeof buf, "d", "raised", 1, &res, &m) > 0);
	j = cJSON_Parse(buf);
	cJSON *ch = cJSON_GetObjectItem(j, "channels");
	CU_ASSERT_FATAL(cJSON_IsArray(ch) && cJSON_GetArraySize(ch) == 3);
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(ch, 0)->valuestring, "level");
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(ch, 1)->valuestring, "drift");
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(ch, 2)->valuestring, "shape");
	CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(j, "stuck"));
	cJSON_Delete(j);
	/* every channel at once still fits exactly, and a short buffer fails */
	res.channels = DET_CH_SHAPE | PROF_CH_ALL;
	n = codec_format_event(buf, sizeof buf, "d", "raised", 1, &res, &m);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"channels\":[\"level\",\"jump\",\"noise\",\"drift\","
					  "\"relation\",\"stuck\",\"shape\"]"));
	CU_ASSERT_EQUAL(codec_format_event(exact, (size_t)n, "d", "raised", 1, &res, &m), -1);
	CU_ASSERT_EQUAL(codec_format_event(exact, (size_t)n + 1, "d", "raised", 1, &res, &m), n);
}

static void test_event_unscored(void)
{
	static const char *const names[] = {"temperature", "caf\xc3\xa9", "bad\xff"};
	model m;
	det_result res;
	char buf[512];

	make_model(&m, names, 3);
	memset(&res, 0, sizeof res);
	res.seq = 7;
	int n = codec_format_event(buf, sizeof buf, "dev1", "stale", 1714564800, &res, &m);
	CU_ASSERT_FATAL(n > 0);
	cJSON *j = cJSON_Parse(buf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(j, "score")));
	CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(j, "threshold")));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "contrib")), 0);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "top")), 0);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "seq")), 7);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(j, "state")), "stale");
	cJSON_Delete(j);
	/* unscored: no channels, whatever the result holds */
	res.channels = 1u << PROF_CH_LEVEL;
	CU_ASSERT_FATAL(codec_format_event(buf, sizeof buf, "dev1", "stale", 1714564800, &res, &m) > 0);
	CU_ASSERT_PTR_NULL(strstr(buf, "channels"));
	res.channels = 0;

	/* scored: valid UTF-8 passes through, an invalid byte becomes U+FFFD */
	res.scored = true;
	res.contrib[0] = 0.5f;
	res.contrib[1] = 0.5f;
	res.score = NAN;
	n = codec_format_event(buf, sizeof buf, "dev1", "cleared", 1714564800, &res, &m);
	CU_ASSERT_FATAL(n > 0);
	j = cJSON_Parse(buf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(j, "score")));
	cJSON *contrib = cJSON_GetObjectItem(j, "contrib");
	CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(contrib, "caf\xc3\xa9"));
	CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(contrib, "bad\xef\xbf\xbd"));
	cJSON *top = cJSON_GetObjectItem(j, "top");
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(top), 2); /* zero share is not blamed */
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(top, 0)->valuestring, "temperature"); /* tie: order */
	cJSON_Delete(j);
}

/* Lifecycle and command events: every new state is published by name; a
 * mute says until when. */
static void test_event_lifecycle(void)
{
	static const char *const names[] = {"temperature"};
	model m;
	det_result res;
	char buf[512];

	make_model(&m, names, 1);
	for (int e = ALERT_EV_ADAPTED; e < ALERT_EV__COUNT; e++) {
		memset(&res, 0, sizeof res);
		res.event = (alert_event)e;
		res.seq = (uint64_t)e;
		res.muted_until = 1714568400.0;
		int n = codec_format_event(buf, sizeof buf, "dev1", alert_event_name(res.event),
					   1714564800, &res, &m);
		CU_ASSERT_FATAL(n > 0);
		cJSON *j = cJSON_Parse(buf);
		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(j, "state")),
				       alert_event_name(res.event));
		CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "seq")), e);
		cJSON *until = cJSON_GetObjectItem(j, "until");
		if (e == ALERT_EV_MUTED) {
			CU_ASSERT_EQUAL(cJSON_GetNumberValue(until), 1714568400.0);
			CU_ASSERT_STRING_EQUAL(
				cJSON_GetStringValue(cJSON_GetObjectItem(j, "until_time")),
				"2024-05-01T13:00:00.000Z");
		} else {
			CU_ASSERT_PTR_NULL(until);
		}
		cJSON_Delete(j);
	}
}

static void test_parse_command(void)
{
	det_command c;
	char detail[256];
	const struct {
		const char *json;
		cmd_reject want;
		const char *needle; /* in detail */
	} cases[] = {
		{"{\"command\":\"mute\",\"device\":\"d1\",\"seconds\":600}", CMD_OK, ""},
		{"{\"command\":\"mute\",\"device\":\"d1\",\"seconds\":0}", CMD_OK, ""},
		{"{\"command\":\"rebaseline\",\"device\":\"d1\"}", CMD_OK, ""},
		{"{\"command\":\"false_alarm\",\"device\":\"d1\"}", CMD_OK, ""},
		{"{\"command\":\"false-alarm\",\"device\":\"d1\"}", CMD_OK, ""},
		{"", CMD_BAD_JSON, "empty"},
		{"reload please", CMD_BAD_JSON, "not JSON"},
		{"[1]", CMD_BAD_JSON, "an array"},
		{"{\"command\":\"mute\",\"device\":\"d1\",\"seconds\":1,\"x\":2}", CMD_BAD_JSON,
		 "unknown field \"x\""},
		{"{\"command\":\"rebaseline\",\"device\":\"d1\",\"seconds\":1}", CMD_BAD_JSON,
		 "mute only"},
		{"{\"device\":\"d1\"}", CMD_UNKNOWN_COMMAND, "nothing"},
		{"{\"command\":\"explode\",\"device\":\"d1\"}", CMD_UNKNOWN_COMMAND, "explode"},
		{"{\"command\":5,\"device\":\"d1\"}", CMD_UNKNOWN_COMMAND, "a number"},
		{"{\"command\":\"mute\",\"seconds\":5}", CMD_BAD_DEVICE, "nothing"},
		{"{\"command\":\"mute\",\"device\":\"a/b\",\"seconds\":5}", CMD_BAD_DEVICE, "not a device id"},
		{"{\"command\":\"mute\",\"device\":\"\",\"seconds\":5}", CMD_BAD_DEVICE, "not a device id"},
		{"{\"command\":\"mute\",\"device\":\"a b\",\"seconds\":5}", CMD_BAD_DEVICE, "not a device id"},
		{"{\"command\":\"mute\",\"device\":\"d1\"}", CMD_BAD_DURATION, "needs"},
		{"{\"command\":\"mute\",\"device\":\"d1\",\"seconds\":-1}", CMD_BAD_DURATION, "[0, "},
		{"{\"command\":\"mute\",\"device\":\"d1\",\"seconds\":1e300}", CMD_BAD_DURATION, "[0, "},
		{"{\"command\":\"mute\",\"device\":\"d1\",\"seconds\":null}", CMD_BAD_DURATION, "null"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		detail[0] = '\0';
		cmd_reject r = codec_parse_command(cases[i].json, strlen(cases[i].json), &c, detail,
						   sizeof detail);
		CU_ASSERT_EQUAL(r, cases[i].want);
		CU_ASSERT_PTR_NOT_NULL(strstr(detail, cases[i].needle));
		if (r != cases[i].want || !strstr(detail, cases[i].needle))
			printf("\n    case %zu: %s -> %s: %s", i, cases[i].json, codec_cmd_reject_name(r),
			       detail);
	}
	const char *ok = "{\"command\":\"mute\",\"device\":\"d1\",\"seconds\":600}xyz";
	CU_ASSERT_EQUAL(codec_parse_command(ok, strlen(ok) - 3, &c, NULL, 0), CMD_OK);
	CU_ASSERT_EQUAL(c.kind, DET_CMD_MUTE);
	CU_ASSERT_STRING_EQUAL(c.device, "d1");
	CU_ASSERT_EQUAL(c.seconds, 600.0);
	CU_ASSERT_STRING_EQUAL(codec_cmd_reject_name(CMD_UNKNOWN_DEVICE), "unknown_device");
	CU_ASSERT_STRING_EQUAL(codec_cmd_reject_name(CMD__COUNT), "unknown");
	double secs = -1;
	CU_ASSERT_EQUAL(codec_parse_mute_body("{\"seconds\":5}", 13, &secs, NULL, 0), CMD_OK);
	CU_ASSERT_EQUAL(secs, 5.0);
	CU_ASSERT_EQUAL(codec_parse_mute_body("{}", 2, &secs, detail, sizeof detail),
			CMD_BAD_DURATION);
}

void init_codec_tests(void)
{
	CU_pSuite s = CU_add_suite("codec", setup, NULL);
	TEST_ADD(s, test_event_lifecycle);
	TEST_ADD(s, test_parse_command);
	TEST_ADD(s, test_reject_names);
	TEST_ADD(s, test_bad_payloads);
	TEST_ADD(s, test_missing_keys_bounded);
	TEST_ADD(s, test_oversize_first);
	TEST_ADD(s, test_good_payloads);
	TEST_ADD(s, test_payload_not_terminated);
	TEST_ADD(s, test_rfc3339_parse);
	TEST_ADD(s, test_rfc3339_format);
	TEST_ADD(s, test_event_json);
	TEST_ADD(s, test_event_unscored);
}
