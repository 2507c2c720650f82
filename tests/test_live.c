/* test_live.c - unit tests of the live page's state without a server: the
 * /v1/devices members it writes (devices, states, sparklines, alerts
 * newest first), the per-device throttle, the bound on devices, and the
 * event streams (hello, events in order, the bound on streams, the end). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "iotad/live.h"
#include "test.h"

static det_result scored(float score, float thr)
{
	det_result r;
	memset(&r, 0, sizeof r);
	r.scored = true;
	r.score = score;
	r.threshold = thr;
	return r;
}

/* What live_write_devices says, parsed as the members of one object. */
static cJSON *devices_json(live *l)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputc('{', f);
	live_write_devices(l, f);
	fputc('}', f);
	fclose(f);
	cJSON *j = cJSON_Parse(buf);
	free(buf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	return j;
}

static cJSON *device(cJSON *j, const char *id)
{
	cJSON *d;
	cJSON_ArrayForEach(d, cJSON_GetObjectItem(j, "devices"))
		if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(d, "device")), id))
			return d;
	return NULL;
}

static void test_devices_and_alerts(void)
{
	live *l = NULL;
	CU_ASSERT_EQUAL_FATAL(live_create(1e-9, &l), IOTAD_OK);
	det_result r = scored(0.5f, 1.0f);
	live_sample(l, "a", 1.0, &r);
	r = scored(2.0f, 1.0f);
	live_sample(l, "a", 2.0, &r);
	live_sample(l, "b", 2.0, &r);
	static const char raised[] = "{\"device\":\"a\",\"state\":\"raised\"}";
	static const char stale[] = "{\"device\":\"b\",\"state\":\"stale\"}";
	live_event(l, "a", "raised", raised, strlen(raised));
	live_event(l, "b", "stale", stale, strlen(stale));
	det_result unscored;
	memset(&unscored, 0, sizeof unscored);
	live_sample(l, "c", 3.0, &unscored); /* no window: nothing */

	cJSON *j = devices_json(l);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "devices")), 2);
	cJSON *a = device(j, "a"), *b = device(j, "b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(a, "state")), "raised");
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(b, "state")), "stale");
	cJSON *pts = cJSON_GetObjectItem(a, "points");
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(pts), 2);
	CU_ASSERT_DOUBLE_EQUAL(cJSON_GetArrayItem(cJSON_GetArrayItem(pts, 0), 0)->valuedouble, 0.5,
			       1e-6);
	CU_ASSERT_DOUBLE_EQUAL(cJSON_GetArrayItem(cJSON_GetArrayItem(pts, 1), 0)->valuedouble, 2.0,
			       1e-6);
	cJSON *alerts = cJSON_GetObjectItem(j, "alerts");
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(alerts), 2);
	CU_ASSERT_STRING_EQUAL(
		cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(alerts, 0), "state")),
		"stale"); /* newest first */
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(j, "hidden")->valuedouble, 0);
	cJSON_Delete(j);

	/* a cleared event makes the device normal again */
	live_event(l, "a", "cleared", "{}", 2);
	j = devices_json(l);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(device(j, "a"), "state")),
			       "normal");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(live_dropped(l), 0);
	live_stop(l);
	live_destroy(l);
}

/* One point per device per interval; at most LIVE_DEVICES devices shown,
 * the rest counted as hidden; at most LIVE_POINTS points a device. */
static void test_bounds(void)
{
	live *l = NULL;
	CU_ASSERT_EQUAL_FATAL(live_create(3600.0, &l), IOTAD_OK);
	det_result r = scored(0.1f, 1.0f);
	char id[32];
	for (int i = 0; i < LIVE_DEVICES + 5; i++) {
		snprintf(id, sizeof id, "dev-%d", i);
		live_sample(l, id, 1.0, &r);
		live_sample(l, id, 2.0, &r); /* within the interval: dropped */
	}
	cJSON *j = devices_json(l);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "devices")), LIVE_DEVICES);
	CU_ASSERT_TRUE(cJSON_GetObjectItem(j, "hidden")->valuedouble >= 5);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(device(j, "dev-0"), "points")), 1);
	cJSON_Delete(j);
	live_destroy(l);

	CU_ASSERT_EQUAL_FATAL(live_create(1e-9, &l), IOTAD_OK);
	for (int i = 0; i < LIVE_POINTS + 30; i++) {
		r = scored((float)i, 1.0f);
		live_sample(l, "x", (double)i, &r);
	}
	j = devices_json(l);
	cJSON *pts = cJSON_GetObjectItem(device(j, "x"), "points");
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(pts), LIVE_POINTS);
	CU_ASSERT_DOUBLE_EQUAL(cJSON_GetArrayItem(cJSON_GetArrayItem(pts, 0), 0)->valuedouble, 30.0,
			       1e-6); /* the oldest kept */
	cJSON_Delete(j);
	live_destroy(l);
}

/* A stream says hello, then the events after its opening in order; the
 * number of streams is bounded; stopping ends them. */
static void test_streams(void)
{
	live *l = NULL;
	char buf[8192];
	CU_ASSERT_EQUAL_FATAL(live_create(1e-9, &l), IOTAD_OK);
	live_event(l, "a", "raised", "{\"n\":0}", 7); /* before the stream: not sent */
	live_stream *s = live_stream_open(l, -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	ssize_t n = live_stream_read(s, buf, sizeof buf - 1);
	CU_ASSERT_FATAL(n > 0);
	buf[n] = '\0';
	CU_ASSERT_STRING_EQUAL(buf, "retry: 2000\n\n");

	live_event(l, "a", "cleared", "{\"n\":1}", 7);
	det_result r = scored(0.25f, 1.0f);
	live_sample(l, "a", 5.0, &r);
	n = live_stream_read(s, buf, sizeof buf - 1);
	CU_ASSERT_FATAL(n > 0);
	buf[n] = '\0';
	char *alert = strstr(buf, "event: alert\ndata: {\"n\":1}\n\n");
	char *score = strstr(buf, "event: score\ndata: {");
	CU_ASSERT_PTR_NOT_NULL(alert);
	CU_ASSERT_PTR_NOT_NULL(score);
	CU_ASSERT_TRUE(alert && score && alert < score);
	CU_ASSERT_PTR_NULL(strstr(buf, "{\"n\":0}"));

	/* a small buffer takes an event in pieces */
	live_event(l, "a", "raised", "{\"n\":2}", 7);
	char piece[8];
	size_t got = 0;
	char whole[64] = "";
	while (got < strlen("event: alert\ndata: {\"n\":2}\n\n")) {
		n = live_stream_read(s, piece, sizeof piece);
		CU_ASSERT_FATAL(n > 0 && n <= (ssize_t)sizeof piece);
		memcpy(whole + got, piece, (size_t)n);
		got += (size_t)n;
	}
	CU_ASSERT_STRING_EQUAL(whole, "event: alert\ndata: {\"n\":2}\n\n");

	live_stream *more[LIVE_STREAMS];
	for (int i = 0; i < LIVE_STREAMS - 1; i++) {
		more[i] = live_stream_open(l, -1);
		CU_ASSERT_PTR_NOT_NULL(more[i]);
	}
	CU_ASSERT_PTR_NULL(live_stream_open(l, -1));
	live_stream_close(more[0]);
	more[0] = live_stream_open(l, -1);
	CU_ASSERT_PTR_NOT_NULL(more[0]);

	live_stop(l);
	CU_ASSERT_EQUAL(live_stream_read(s, buf, sizeof buf), LIVE_STREAM_END);
	live_stream_close(s);
	for (int i = 0; i < LIVE_STREAMS - 1; i++)
		live_stream_close(more[i]);
	live_destroy(l);
}

void init_live_tests(void)
{
	CU_pSuite s = CU_add_suite("live", NULL, NULL);
	TEST_ADD(s, test_devices_and_alerts);
	TEST_ADD(s, test_bounds);
	TEST_ADD(s, test_streams);
}
