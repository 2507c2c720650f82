/* test_pipeline.c - unit tests of the service pipeline without a broker:
 * telemetry messages in (built by the queue's own copy, msgq_msg_new), and
 * out what a recording publisher received: raised and cleared events on
 * the right device, retained states, rejects counted by reason,
 * duplicates and out-of-order samples, the stale sweep, Home Assistant
 * discovery, a model reload that keeps the devices, and the state file. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/config.h"
#include "iotad/model_io.h"
#include "iotad/msgq.h"
#include "iotad/pipeline.h"
#include "iotad/reload.h"
#include "iotad/topic.h"
#include "test.h"
#include "test_rng.h"

#define PW 5
#define PF 2
#define PCALIB 200
#define NOW0 1.7e9

/* ---- a recording publisher ----------------------------------------------- */

#define REC_MAX 256

typedef struct rec_msg {
	char topic[160];
	char payload[2048];
	int qos;
	bool retained;
} rec_msg;

typedef struct rec {
	rec_msg msgs[REC_MAX];
	size_t n;
	size_t live_scored, live_events;
	bool fail;                 /* refuse every publish */
} rec;

static iotad_err rec_publish(void *ud, const char *topic, const void *payload, size_t len,
			     int qos, bool retained)
{
	rec *r = ud;
	if (r->fail)
		return IOTAD_ERR_MQTT;
	CU_ASSERT_FATAL(r->n < REC_MAX);
	rec_msg *m = &r->msgs[r->n++];
	snprintf(m->topic, sizeof m->topic, "%s", topic);
	CU_ASSERT_FATAL(len < sizeof m->payload);
	memcpy(m->payload, payload, len);
	m->payload[len] = '\0';
	m->qos = qos;
	m->retained = retained;
	return IOTAD_OK;
}

static void rec_scored(void *ud, const char *device, double ts, const det_result *res)
{
	(void)device;
	(void)ts;
	CU_ASSERT_TRUE(res->scored);
	((rec *)ud)->live_scored++;
}

static void rec_event(void *ud, const char *device, const char *state, const char *json,
		      size_t len)
{
	(void)device;
	(void)state;
	(void)json;
	CU_ASSERT_TRUE(len > 0);
	((rec *)ud)->live_events++;
}

/* Messages on exactly this topic whose payload holds needle (NULL: any). */
static size_t rec_count(const rec *r, const char *topic, const char *needle)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += !strcmp(r->msgs[i].topic, topic) &&
		     (!needle || strstr(r->msgs[i].payload, needle));
	return n;
}

/* Messages whose topic starts with prefix. */
static size_t rec_count_prefix(const rec *r, const char *prefix)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += !strncmp(r->msgs[i].topic, prefix, strlen(prefix));
	return n;
}

/* The last message on topic, or NULL. */
static const rec_msg *rec_last(const rec *r, const char *topic)
{
	for (size_t i = r->n; i-- > 0;)
		if (!strcmp(r->msgs[i].topic, topic))
			return &r->msgs[i];
	return NULL;
}

/* ---- a model and a pipeline over it -------------------------------------- */

/* Window 5 of features a and b, min-max over [0, 1], seeded weights. Its
 * static threshold lies between the scores of a normal window (a near 0.3,
 * b near 0.6) and of a faulty one (a = 5, b = -4), measured here. */
static void build_model(model *m, const char *id, int version)
{
	int sizes[3] = {PW * PF, 4, PW * PF};
	nn_act act[2] = {NN_RELU, NN_SIGMOID};

	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "%s", id);
	m->version = version;
	m->n_features = PF;
	strcpy(m->features[0], "a");
	strcpy(m->features[1], "b");
	m->window = PW;
	m->stride = 1;
	m->norm = NORM_MINMAX;
	for (int f = 0; f < PF; f++) {
		m->norm_a[f] = 0.0f;
		m->norm_b[f] = 1.0f;
	}
	CU_ASSERT_EQUAL_FATAL(nn_init(&m->net, 2, sizes, act), IOTAD_OK);
	nn_init_weights(&m->net, 7);
	m->calib = malloc(PCALIB * sizeof *m->calib);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->calib);
	m->n_calib = PCALIB;

	det_config dc;
	det *d = NULL;
	det_config_default(&dc);
	m->threshold = 1.0f;
	for (int i = 0; i < PCALIB; i++)
		m->calib[i] = 1.0f;
	CU_ASSERT_EQUAL_FATAL(det_create(m, &dc, &d), IOTAD_OK);
	float normal[PW * PF], faulty[PW * PF];
	for (int t = 0; t < PW; t++) {
		normal[t * PF] = 0.3f + 0.01f * (float)t;
		normal[t * PF + 1] = 0.6f - 0.01f * (float)t;
		faulty[t * PF] = 5.0f;
		faulty[t * PF + 1] = -4.0f;
	}
	det_result rn, rf;
	CU_ASSERT_EQUAL_FATAL(det_score_window(d, normal, PW * PF, &rn), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(det_score_window(d, faulty, PW * PF, &rf), IOTAD_OK);
	det_destroy(d);
	CU_ASSERT_FATAL(rf.score > 4.0f * rn.score);
	m->threshold = sqrtf(rn.score * rf.score);
	for (int i = 0; i < PCALIB; i++) /* sorted, below the threshold */
		m->calib[i] = rn.score * (0.5f + 0.5f * (float)i / PCALIB);
	m->percentile = 99.0f;
}

typedef struct fixture {
	iotad_config cfg;
	model m;
	rec out;
	pipeline *p;
	double now;                /* arrival clock, epoch seconds */
} fixture;

/* A fixture with the default config but a static threshold; tweak cfg via
 * the callback before the pipeline is built. */
static fixture *setup(void (*tweak)(iotad_config *))
{
	fixture *x = calloc(1, sizeof *x);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	config_defaults(&x->cfg);
	x->cfg.threshold = THR_STATIC;
	if (tweak)
		tweak(&x->cfg);
	build_model(&x->m, "pipe", 1);
	det_config dc;
	config_det(&x->cfg, &dc);
	pipeline_pub pub = {.publish = rec_publish, .scored = rec_scored, .event = rec_event,
			    .ud = &x->out};
	CU_ASSERT_EQUAL_FATAL(pipeline_create(&x->cfg, &x->m, &dc, &pub, &x->p), IOTAD_OK);
	x->now = NOW0;
	return x;
}

static void teardown(fixture *x)
{
	pipeline_destroy(x->p);
	model_free(&x->m);
	free(x);
}

/* One message through the pipeline, copied as the queue copies it. */
static void send_raw(fixture *x, const char *topic, size_t topic_len, const char *payload,
		     size_t len)
{
	msgq_msg *msg = msgq_msg_new(topic, topic_len, payload, len, x->cfg.max_payload);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	pipeline_handle(x->p, msg, x->now);
	msgq_msg_free(msg);
	x->now += 1.0;
}

static void send(fixture *x, const char *topic, const char *payload)
{
	send_raw(x, topic, strlen(topic), payload, strlen(payload));
}

/* A sample of device at device time ts: normal, or faulty. */
static void sample(fixture *x, const char *device, double ts, bool faulty, uint64_t *rs)
{
	char topic[64], payload[160];
	snprintf(topic, sizeof topic, "telemetry/%s", device);
	double a = faulty ? 5.0 : 0.3 + 0.01 * trng_normal(rs);
	double b = faulty ? -4.0 : 0.6 + 0.01 * trng_normal(rs);
	snprintf(payload, sizeof payload, "{\"ts\":%.3f,\"a\":%.5f,\"values\":{\"b\":%.5f}}", ts,
		 a, b);
	send(x, topic, payload);
}

static pipeline_counters counters(fixture *x)
{
	pipeline_counters c;
	pipeline_get_counters(x->p, &c);
	return c;
}

/* n rounds of one sample each of dev-a (normal) and dev-b (faulty when
 * faulty is set), at device times ts, ts + 1, ...; returns the next ts. */
static double rounds(fixture *x, double ts, int n, bool faulty, uint64_t *rs)
{
	for (int t = 0; t < n; t++, ts += 1.0) {
		sample(x, "dev-a", ts, false, rs);
		sample(x, "dev-b", ts, faulty, rs);
	}
	return ts;
}

/* ---- tests ---------------------------------------------------------------- */

/* Two devices; a fault on dev-b raises on dev-b only, then clears; the
 * retained state follows; the live hooks see every score and event. */
static void test_raise_and_clear(void)
{
	fixture *x = setup(NULL);
	uint64_t rs = 42;
	double ts = rounds(x, 1000.0, 20, false, &rs);
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "alerts/"), 0);
	ts = rounds(x, ts, 6, true, &rs);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/dev-b", "\"state\":\"raised\""), 1);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/dev-b", NULL), 1);
	CU_ASSERT_EQUAL(counters(x).raised, 1); /* the table's raised devices, at once */
	const rec_msg *st = rec_last(&x->out, "state/dev-b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_TRUE(st->retained);
	CU_ASSERT_PTR_NOT_NULL(strstr(st->payload, "\"state\":\"raised\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(st->payload, "\"device\":\"dev-b\""));
	const rec_msg *al = rec_last(&x->out, "alerts/dev-b");
	CU_ASSERT_FALSE(al->retained);
	CU_ASSERT_EQUAL(al->qos, x->cfg.qos_out);
	CU_ASSERT_STRING_EQUAL(al->payload, st->payload);
	/* the event carries the device's own time: the third faulty sample */
	CU_ASSERT_PTR_NOT_NULL(strstr(al->payload, "\"ts\":1022"));

	rounds(x, ts, 20, false, &rs);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/dev-b", "\"state\":\"cleared\""), 1);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/dev-b", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(rec_last(&x->out, "state/dev-b")->payload,
				      "\"state\":\"cleared\""));
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "alerts/dev-a"), 0);
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "state/dev-a"), 0);

	pipeline_counters c = counters(x);
	CU_ASSERT_EQUAL(c.received, 92);
	/* every sample from the fifth of a device on scores a window */
	CU_ASSERT_EQUAL(c.scored, 92 - 2 * (PW - 1));
	CU_ASSERT_EQUAL(c.events[ALERT_EV_RAISED], 1);
	CU_ASSERT_EQUAL(c.events[ALERT_EV_CLEARED], 1);
	CU_ASSERT_EQUAL(c.events[ALERT_EV_STALE], 0);
	CU_ASSERT_EQUAL(c.devices, 2);
	CU_ASSERT_EQUAL(c.raised, 0);
	CU_ASSERT_EQUAL(c.publish_failed, 0);
	for (int r = 0; r < REJ__COUNT; r++)
		CU_ASSERT_EQUAL(c.rejected[r], 0);
	CU_ASSERT_EQUAL(x->out.live_scored, c.scored);
	CU_ASSERT_EQUAL(x->out.live_events, 2);
	/* only alerts and states were published: no discovery while it is off */
	CU_ASSERT_EQUAL(x->out.n, 4);
	teardown(x);
}

/* Every kind of bad message is counted under its reason and touches no
 * window, no device and no publisher. */
static void test_rejects_by_reason(void)
{
	fixture *x = setup(NULL);
	static char big[5000], longtopic[TOPIC_MAX + 40];
	memset(big, ' ', sizeof big);
	memcpy(big, "{\"a\":1,\"b\":2}", 13);
	memcpy(longtopic, "telemetry/", 10);
	memset(longtopic + 10, 'd', sizeof longtopic - 10);
	static const char nul_topic[] = "telemetry/dev\0-a";
	const char *ok = "{\"a\":1,\"b\":2}";
	/* topic and payload, their lengths (0: up to the NUL), the reason */
	const struct {
		const char *topic;
		size_t topic_len;
		const char *payload;
		size_t len;
		reject_reason why;
	} bad[] = {
		{"telemetry/dev-a", 0, "not json", 0, REJ_NOT_JSON},
		{"telemetry/dev-a", 0, "[1,2]", 0, REJ_NOT_OBJECT},
		{"telemetry/dev-a", 0, "{\"a\":1}", 0, REJ_MISSING_FEATURE},
		{"telemetry/dev-a", 0, "{\"a\":1,\"b\":\"2\"}", 0, REJ_NOT_NUMBER},
		{"telemetry/dev-a", 0, "{\"a\":1e999,\"b\":2}", 0, REJ_NOT_FINITE},
		{"telemetry/dev-a", 0, "{\"ts\":\"yesterday\",\"a\":1,\"b\":2}", 0, REJ_BAD_TS},
		{"telemetry/", 0, ok, 0, REJ_BAD_TOPIC},                   /* empty */
		{"telemetry/de+v", 0, ok, 0, REJ_BAD_TOPIC},               /* wildcard */
		{longtopic, sizeof longtopic, ok, 0, REJ_BAD_TOPIC},       /* cut */
		{nul_topic, sizeof nul_topic - 1, ok, 0, REJ_BAD_TOPIC},   /* NUL */
		{"telemetry/dev-a", 0, big, sizeof big, REJ_OVERSIZE},
	};
	uint64_t want[REJ__COUNT] = {0};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		send_raw(x, bad[i].topic, bad[i].topic_len ? bad[i].topic_len : strlen(bad[i].topic),
			 bad[i].payload, bad[i].len ? bad[i].len : strlen(bad[i].payload));
		want[bad[i].why]++;
	}

	pipeline_counters c = counters(x);
	CU_ASSERT_EQUAL(c.received, sizeof bad / sizeof bad[0]);
	for (int r = 0; r < REJ__COUNT; r++)
		CU_ASSERT_EQUAL(c.rejected[r], want[r]);
	CU_ASSERT_EQUAL(c.scored, 0);
	CU_ASSERT_EQUAL(c.devices, 0);
	CU_ASSERT_EQUAL(x->out.n, 0);
	CU_ASSERT_EQUAL(x->out.live_scored + x->out.live_events, 0);

	/* a good message after all that is taken */
	send(x, "telemetry/dev-a", "{\"a\":0.3,\"b\":0.6}");
	CU_ASSERT_EQUAL(counters(x).devices, 1);
	teardown(x);
}

static void cap_two_devices(iotad_config *c)
{
	c->max_devices = 2;
	c->evict_lru = false;
}

/* A repeated ts is a duplicate, an older one out of order; neither moves
 * the window; a device beyond a full table (eviction off) is refused. */
static void test_duplicates_and_order(void)
{
	fixture *x = setup(cap_two_devices);
	uint64_t rs = 7;
	for (int t = 0; t < 10; t++)
		sample(x, "dev-a", 100.0 + t, false, &rs);
	CU_ASSERT_EQUAL(counters(x).scored, 10 - (PW - 1));
	sample(x, "dev-a", 109.0, false, &rs);  /* the last ts again */
	sample(x, "dev-a", 105.0, false, &rs);  /* a redelivery of a sample in the window */
	sample(x, "dev-a", 104.0, false, &rs);  /* older than the window */
	sample(x, "dev-a", 109.0, true, &rs);   /* a faulty duplicate changes nothing */
	pipeline_counters c = counters(x);
	CU_ASSERT_EQUAL(c.rejected[REJ_DUPLICATE], 3);
	CU_ASSERT_EQUAL(c.rejected[REJ_OUT_OF_ORDER], 1);
	CU_ASSERT_EQUAL(c.scored, 10 - (PW - 1));
	sample(x, "dev-a", 110.0, false, &rs);
	CU_ASSERT_EQUAL(counters(x).scored, 10 - (PW - 1) + 1);
	sample(x, "dev-a", 109.5, false, &rs);  /* late, within the reorder window: taken */
	c = counters(x);
	CU_ASSERT_EQUAL(c.late, 1);
	CU_ASSERT_EQUAL(c.scored, 10 - (PW - 1) + 2);
	CU_ASSERT_EQUAL(c.rejected[REJ_OUT_OF_ORDER], 1);

	sample(x, "dev-b", 1.0, false, &rs);
	sample(x, "dev-c", 1.0, false, &rs);
	c = counters(x);
	CU_ASSERT_EQUAL(c.rejected[REJ_DEVICE_CAP], 1);
	CU_ASSERT_EQUAL(c.devices, 2);
	CU_ASSERT_EQUAL(c.received, 18);
	CU_ASSERT_EQUAL(x->out.n, 0);
	teardown(x);
}

/* One sample far in the future is rejected (ts_skew) and does not blind its
 * device; with the check off, the next real sample rewinds the device. A
 * sample without ts takes the device's own clock, so a device whose clock
 * lags the host's is not locked out by it. */
static void test_clock_skew(void)
{
	fixture *x = setup(NULL);
	uint64_t rs = 11;
	CU_ASSERT_EQUAL(x->cfg.max_clock_skew, 86400.0);
	for (int t = 0; t < PW; t++)
		sample(x, "dev-f", x->now, false, &rs);
	sample(x, "dev-f", 99000000000.0 - 1e9, false, &rs);  /* year 4999-ish */
	sample(x, "dev-f", x->now + 3600.0, false, &rs);  /* within the skew: taken */
	pipeline_counters c = counters(x);
	CU_ASSERT_EQUAL(c.rejected[REJ_TS_SKEW], 1);
	uint64_t scored = c.scored;
	/* the device is held back by at most the reorder window, not an hour */
	for (int t = 0; t < 3; t++)
		sample(x, "dev-f", x->now, false, &rs);
	c = counters(x);
	CU_ASSERT_EQUAL(c.scored, scored + 3);
	CU_ASSERT_EQUAL(c.rewound, 1);
	CU_ASSERT_EQUAL(c.rejected[REJ_OUT_OF_ORDER], 0);

	/* a device 100 s behind the host: a message without ts in between */
	for (int t = 0; t < PW; t++)
		sample(x, "dev-l", x->now - 100.0, false, &rs);
	send(x, "telemetry/dev-l", "{\"a\":0.3,\"b\":0.6}");
	for (int t = 0; t < 3; t++)
		sample(x, "dev-l", x->now - 100.0, false, &rs);
	c = counters(x);
	CU_ASSERT_EQUAL(c.rejected[REJ_OUT_OF_ORDER] + c.rejected[REJ_DUPLICATE], 0);
	CU_ASSERT_EQUAL(c.scored, scored + 3 + 1 + 1 + 3);
	teardown(x);

	/* the check off: the far future sample is taken, and undone by the next */
	x = setup(NULL);
	x->cfg.max_clock_skew = 0;
	for (int t = 0; t < PW; t++)
		sample(x, "dev-f", x->now, false, &rs);
	sample(x, "dev-f", 99000000000.0 - 1e9, false, &rs);
	for (int t = 0; t < 3; t++)
		sample(x, "dev-f", x->now, false, &rs);
	c = counters(x);
	CU_ASSERT_EQUAL(c.rejected[REJ_TS_SKEW] + c.rejected[REJ_OUT_OF_ORDER], 0);
	CU_ASSERT_EQUAL(c.rewound, 1);
	CU_ASSERT_EQUAL(c.scored, 1 + 1 + 3);
	teardown(x);
}

static void stale_after_30(iotad_config *c)
{
	c->stale_after = 30.0;
}

/* A device silent past stale_after gets one stale event (with its last
 * ts), then a cleared one when it speaks again; a chatty one gets none. */
static void test_stale_sweep(void)
{
	fixture *x = setup(stale_after_30);
	uint64_t rs = 3;
	for (int t = 0; t < 8; t++) {
		sample(x, "quiet", 500.0 + t, false, &rs);
		sample(x, "chatty", 500.0 + t, false, &rs);
	}
	double last = x->now - 1.0;
	pipeline_sweep(x->p, last + 10.0, true);
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "alerts/"), 0);
	x->now = last + 20.0;
	sample(x, "chatty", 520.0, false, &rs);
	pipeline_sweep(x->p, last + 45.0, true);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/quiet", "\"state\":\"stale\""), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(rec_last(&x->out, "alerts/quiet")->payload, "\"ts\":507"));
	CU_ASSERT_PTR_NOT_NULL(strstr(rec_last(&x->out, "state/quiet")->payload,
				      "\"state\":\"stale\""));
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "alerts/chatty"), 0);
	/* once only (and chatty, 28 s quiet, is not stale yet) */
	pipeline_sweep(x->p, last + 48.0, true);
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "alerts/chatty"), 0);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/quiet", NULL), 1);
	x->now = last + 61.0;
	sample(x, "quiet", 700.0, false, &rs);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/quiet", "\"state\":\"cleared\""), 1);
	pipeline_counters c = counters(x);
	CU_ASSERT_EQUAL(c.events[ALERT_EV_STALE], 1);
	CU_ASSERT_EQUAL(c.events[ALERT_EV_CLEARED], 1);
	CU_ASSERT_EQUAL(x->out.live_events, 2);
	teardown(x);
}

static void hass_on(iotad_config *c)
{
	c->hass_enabled = true;
	snprintf(c->hass_prefix, sizeof c->hass_prefix, "ha");
}

/* Discovery is published, retained, once per new device, with a first
 * retained state (Home Assistant shows off, not unknown) and an
 * availability that turns stale into unavailable. */
static void test_discovery(void)
{
	fixture *x = setup(hass_on);
	uint64_t rs = 5;
	for (int t = 0; t < 3; t++) {
		sample(x, "dev-a", 10.0 + t, false, &rs);
		sample(x, "dev.b", 10.0 + t, false, &rs);
	}
	CU_ASSERT_EQUAL(x->out.n, 4);
	const rec_msg *a = rec_last(&x->out, "ha/binary_sensor/iotad_dev-a/config");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_TRUE(a->retained);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->payload, "\"state_topic\":\"state/dev-a\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(a->payload, "value_json.state == 'stale'"));
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "ha/binary_sensor/iotad_dev_b_"), 1);
	const rec_msg *st = rec_last(&x->out, "state/dev-a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_TRUE(st->retained);
	CU_ASSERT_PTR_NOT_NULL(strstr(st->payload, "\"state\":\"normal\""));
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "alerts/"), 0);
	teardown(x);
}

static void hass_two_devices(iotad_config *c)
{
	hass_on(c);
	c->max_devices = 2;
	c->idle_evict_after = 100;
}

/* A device forgotten (LRU to make room, or idle) takes its discovery config
 * with it: an empty retained payload on its config topic. */
static void test_discovery_removed_on_eviction(void)
{
	fixture *x = setup(hass_two_devices);
	uint64_t rs = 6;
	const char *cfg_a = "ha/binary_sensor/iotad_dev-a/config";
	sample(x, "dev-a", 10.0, false, &rs);
	sample(x, "dev-b", 10.0, false, &rs);
	CU_ASSERT_EQUAL(rec_count(&x->out, cfg_a, NULL), 1);
	sample(x, "dev-c", 11.0, false, &rs); /* the table is full: dev-a goes */
	const rec_msg *m = rec_last(&x->out, cfg_a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_TRUE(m->retained);
	CU_ASSERT_STRING_EQUAL(m->payload, "");
	pipeline_sweep(x->p, x->now + 500.0, true); /* dev-b and dev-c idle */
	m = rec_last(&x->out, "ha/binary_sensor/iotad_dev-c/config");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STRING_EQUAL(m->payload, "");
	CU_ASSERT_EQUAL(rec_count(&x->out, "ha/binary_sensor/iotad_dev-b/config", ""), 2);
	teardown(x);
}

/* Retained states read back at start: raised for a device unknown here, or
 * known with fewer events, is cleared at once (alert and retained state); a
 * device raised here or past that event, a state that is not raised and
 * other topics are left alone. */
static void test_reconcile(void)
{
	fixture *x = setup(NULL);
	uint64_t rs = 8;
	const char *raised = "{\"device\":\"old\",\"state\":\"raised\",\"seq\":7}";
	pipeline_reconcile(x->p, "state/old", 9, raised, strlen(raised), NOW0);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/old", "\"state\":\"cleared\""), 1);
	const rec_msg *st = rec_last(&x->out, "state/old");
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_TRUE(st->retained);
	CU_ASSERT_PTR_NOT_NULL(strstr(st->payload, "\"state\":\"cleared\""));
	size_t n = x->out.n;
	const char *cleared = "{\"device\":\"b\",\"state\":\"cleared\"}";
	pipeline_reconcile(x->p, "state/b", 7, cleared, strlen(cleared), NOW0);
	pipeline_reconcile(x->p, "other/old", 9, raised, strlen(raised), NOW0);
	pipeline_reconcile(x->p, "state/", 6, raised, strlen(raised), NOW0);
	CU_ASSERT_EQUAL(x->out.n, n);
	/* dev-b raised here: its retained raised is true and stays */
	rounds(x, rounds(x, 100.0, 10, false, &rs), 6, true, &rs);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/dev-b", "\"state\":\"raised\""), 1);
	n = x->out.n;
	pipeline_reconcile(x->p, "state/dev-b", 11, raised, strlen(raised), NOW0);
	CU_ASSERT_EQUAL(x->out.n, n);
	CU_ASSERT_EQUAL(counters(x).raised, 1);
	/* dev-b cleared since (seq 2): its retained raise of seq 1 is old news,
	 * read back late (after the queued telemetry of a restart) */
	rounds(x, 200.0, 20, false, &rs);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/dev-b", "\"state\":\"cleared\""), 1);
	const char *seq1 = "{\"device\":\"dev-b\",\"state\":\"raised\",\"seq\":1}";
	n = x->out.n;
	pipeline_reconcile(x->p, "state/dev-b", 11, seq1, strlen(seq1), NOW0);
	CU_ASSERT_EQUAL(x->out.n, n);
	/* dev-a known but normal with no events: a retained raise of seq 3
	 * (a state file older than the broker's state) is cleared */
	const char *seq3 = "{\"device\":\"dev-a\",\"state\":\"raised\",\"seq\":3}";
	pipeline_reconcile(x->p, "state/dev-a", 11, seq3, strlen(seq3), NOW0);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/dev-a", "\"state\":\"cleared\""), 1);
	pipeline_counters c = counters(x);
	CU_ASSERT_EQUAL(c.reconciled, 2);
	CU_ASSERT_EQUAL(c.raised, 0);
	teardown(x);
}

/* A publisher that refuses is counted, and the pipeline goes on. */
static void test_publish_failures_counted(void)
{
	fixture *x = setup(NULL);
	uint64_t rs = 9;
	x->out.fail = true;
	for (int t = 0; t < 10; t++)
		sample(x, "dev-a", 10.0 + t, t >= 6, &rs);
	pipeline_counters c = counters(x);
	CU_ASSERT_EQUAL(c.events[ALERT_EV_RAISED], 1);
	CU_ASSERT_EQUAL(c.publish_failed, 2); /* alert and state */
	CU_ASSERT_EQUAL(c.scored, 10 - (PW - 1));
	teardown(x);
}

static model *switched_to;

static iotad_err record_switch(void *ud, const model *m)
{
	(*(int *)ud)++;
	switched_to = (model *)m;
	return IOTAD_OK;
}

/* A reload swaps the model between two messages and keeps the devices:
 * dev-b stays raised (no second raised), clears later with its seq going
 * on; a failed reload keeps the running model. */
static void test_reload_keeps_devices(void)
{
	fixture *x = setup(NULL);
	uint64_t rs = 11;
	double ts = rounds(x, 1.0, 6, false, &rs);
	ts = rounds(x, ts, 4, true, &rs);
	CU_ASSERT_EQUAL_FATAL(rec_count(&x->out, "alerts/dev-b", "\"state\":\"raised\""), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(rec_last(&x->out, "alerts/dev-b")->payload, "\"seq\":1"));

	char path[] = "/tmp/iotad-test-pipeline-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	model next;
	build_model(&next, "pipe-next", 2);
	CU_ASSERT_EQUAL_FATAL(model_save(&next, path), IOTAD_OK);
	model_free(&next);

	int switches = 0;
	/* refused: a window other than the configured one, or no file */
	CU_ASSERT_NOT_EQUAL(reload_model(x->p, path, PW + 1, record_switch, &switches, "test"),
			    IOTAD_OK);
	CU_ASSERT_NOT_EQUAL(reload_model(x->p, "/nonexistent/model.json", 0, record_switch,
					 &switches, "test"),
			    IOTAD_OK);
	CU_ASSERT_EQUAL(switches, 0);
	CU_ASSERT_STRING_EQUAL(pipeline_model(x->p)->id, "pipe");

	CU_ASSERT_EQUAL_FATAL(reload_model(x->p, path, PW, record_switch, &switches, "test"),
			      IOTAD_OK);
	unlink(path);
	CU_ASSERT_EQUAL(switches, 1);
	CU_ASSERT_PTR_EQUAL(switched_to, pipeline_model(x->p));
	CU_ASSERT_STRING_EQUAL(pipeline_model(x->p)->id, "pipe-next");
	char id[MODEL_NAME_MAX];
	int version = 0;
	pipeline_model_name(x->p, id, sizeof id, &version);
	CU_ASSERT_STRING_EQUAL(id, "pipe-next");
	CU_ASSERT_EQUAL(version, 2);
	CU_ASSERT_EQUAL(counters(x).devices, 2);

	/* the next sample of a kept device scores at once: its window was kept */
	uint64_t scored = counters(x).scored;
	sample(x, "dev-a", ts, false, &rs);
	CU_ASSERT_EQUAL(counters(x).scored, scored + 1);
	for (int t = 0; t < 3; t++, ts += 1.0)
		sample(x, "dev-b", ts, true, &rs);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/dev-b", "\"state\":\"raised\""), 1);
	for (int t = 0; t < 15; t++, ts += 1.0)
		sample(x, "dev-b", ts, false, &rs);
	const rec_msg *cl = rec_last(&x->out, "alerts/dev-b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
	CU_ASSERT_PTR_NOT_NULL(strstr(cl->payload, "\"state\":\"cleared\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(cl->payload, "\"seq\":2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cl->payload, "\"id\":\"pipe-next\""));
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "alerts/dev-a"), 0);
	teardown(x);
}

/* The state file carries the devices to a new pipeline; a damaged one is
 * reported and leaves no devices. */
static void test_state_file(void)
{
	fixture *x = setup(NULL);
	uint64_t rs = 13;
	rounds(x, rounds(x, 1.0, 6, false, &rs), 4, true, &rs);
	char path[] = "/tmp/iotad-test-pipeline-state-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(reload_state_save(x->p, path, "test"), IOTAD_OK);

	fixture *y = setup(NULL);
	bool rejected = true;
	CU_ASSERT_EQUAL(reload_state_restore(y->p, path, &rejected), IOTAD_OK);
	CU_ASSERT_FALSE(rejected);
	CU_ASSERT_EQUAL(counters(y).devices, 2);
	/* dev-b is still raised: more faults raise nothing, normal data clears */
	for (int t = 0; t < 15; t++)
		sample(y, "dev-b", 20.0 + t, t < 3, &rs);
	CU_ASSERT_EQUAL(rec_count(&y->out, "alerts/dev-b", "\"state\":\"raised\""), 0);
	CU_ASSERT_EQUAL(rec_count(&y->out, "alerts/dev-b", "\"state\":\"cleared\""), 1);

	/* its CRC damaged */
	FILE *f = fopen(path, "r+b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fseek(f, -1, SEEK_END);
	int last = fgetc(f);
	fseek(f, -1, SEEK_END);
	fputc(last ^ 0x5a, f);
	fclose(f);
	fixture *z = setup(NULL);
	CU_ASSERT_EQUAL(reload_state_restore(z->p, path, &rejected), IOTAD_OK);
	CU_ASSERT_TRUE(rejected);
	CU_ASSERT_EQUAL(counters(z).devices, 0);
	sample(z, "dev-z", 1.0, false, &rs);
	CU_ASSERT_EQUAL(counters(z).devices, 1);
	/* no file: a first start */
	unlink(path);
	CU_ASSERT_EQUAL(reload_state_restore(z->p, path, &rejected), IOTAD_OK);
	CU_ASSERT_FALSE(rejected);
	teardown(x);
	teardown(y);
	teardown(z);
}

/* A gap in a device's own time longer than stale_after, arriving without
 * a pause: `stale` (at its last sample) then `cleared`, published in that
 * order on the alert topic, the last one retained. */
static void test_stale_on_data_time(void)
{
	fixture *x = setup(stale_after_30);
	uint64_t rs = 5;
	for (int t = 0; t < 6; t++)
		sample(x, "replay", 1000.0 + t, false, &rs);
	sample(x, "replay", 1100.0, false, &rs); /* 95 s later in its time, 1 s on ours */
	CU_ASSERT_EQUAL(x->out.n >= 2, true);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/replay", "\"state\":\"stale\""), 1);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/replay", "\"state\":\"cleared\""), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(rec_last(&x->out, "alerts/replay")->payload,
				      "\"state\":\"cleared\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(rec_last(&x->out, "state/replay")->payload, "\"ts\":1100"));
	size_t i_stale = SIZE_MAX, i_clear = SIZE_MAX;
	for (size_t i = 0; i < x->out.n; i++) {
		if (strstr(x->out.msgs[i].payload, "\"stale\"") && i_stale == SIZE_MAX) {
			i_stale = i;
			CU_ASSERT_PTR_NOT_NULL(strstr(x->out.msgs[i].payload, "\"ts\":1005"));
		}
		if (strstr(x->out.msgs[i].payload, "\"cleared\"") && i_clear == SIZE_MAX)
			i_clear = i;
	}
	CU_ASSERT_TRUE(i_stale < i_clear);
	pipeline_counters c = counters(x);
	CU_ASSERT_EQUAL(c.events[ALERT_EV_STALE], 1);
	CU_ASSERT_EQUAL(c.events[ALERT_EV_CLEARED], 1);
	teardown(x);
}

/* Cut off from the broker the sweep marks nothing stale; back, the outage
 * is not counted as the devices' silence. */
static void test_sweep_paused_while_disconnected(void)
{
	fixture *x = setup(stale_after_30);
	uint64_t rs = 6;
	for (int t = 0; t < 6; t++)
		sample(x, "d", 2000.0 + t, false, &rs);
	double last = x->now - 1.0;
	pipeline_sweep(x->p, last + 40.0, false);  /* disconnected: no stale */
	pipeline_sweep(x->p, last + 100.0, false);
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "alerts/"), 0);
	pipeline_outage(x->p, 95.0, last + 100.0); /* the broker was away 5..100 s */
	pipeline_sweep(x->p, last + 101.0, true);
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "alerts/"), 0);
	/* its next sample, 100 s later in its own time, is no gap either */
	x->now = last + 102.0;
	sample(x, "d", 2105.0, false, &rs);
	CU_ASSERT_EQUAL(rec_count_prefix(&x->out, "alerts/"), 0);
	/* a real silence afterwards is stale as before */
	pipeline_sweep(x->p, x->now + 31.0, true);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/d", "\"state\":\"stale\""), 1);
	teardown(x);
}

/* An operator's commands: each an event on the alert topic and retained
 * on the state topic, counted; refusals counted by reason. */
static void test_commands(void)
{
	fixture *x = setup(NULL);
	uint64_t rs = 7;
	for (int t = 0; t < 6; t++)
		sample(x, "op", 3000.0 + t, false, &rs);
	for (int t = 6; t < 12; t++)
		sample(x, "op", 3000.0 + t, true, &rs);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/op", "\"state\":\"raised\""), 1);
	char detail[200];
	det_result res;
	det_command cmd = {.kind = DET_CMD_FALSE_ALARM, .device = "op"};
	CU_ASSERT_EQUAL(pipeline_command(x->p, &cmd, x->now, &res, detail, sizeof detail), CMD_OK);
	CU_ASSERT_EQUAL(res.event, ALERT_EV_FALSE_ALARM);
	CU_ASSERT_PTR_NOT_NULL(strstr(rec_last(&x->out, "state/op")->payload,
				      "\"state\":\"false_alarm\""));
	CU_ASSERT_EQUAL(pipeline_command(x->p, &cmd, x->now, &res, detail, sizeof detail),
			CMD_BAD_STATE);
	CU_ASSERT_PTR_NOT_NULL(strstr(detail, "is not raised"));
	cmd = (det_command){.kind = DET_CMD_MUTE, .device = "op", .seconds = 60.0};
	CU_ASSERT_EQUAL(pipeline_command(x->p, &cmd, x->now, &res, detail, sizeof detail), CMD_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(rec_last(&x->out, "alerts/op")->payload, "\"until\":"));
	CU_ASSERT_PTR_NOT_NULL(strstr(rec_last(&x->out, "state/op")->payload,
				      "\"state\":\"muted\""));
	/* muted: faulty data raises nothing; the mute ends on a sweep */
	size_t raised = rec_count(&x->out, "alerts/op", "\"state\":\"raised\"");
	for (int t = 12; t < 30; t++)
		sample(x, "op", 3000.0 + t, true, &rs);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/op", "\"state\":\"raised\""), raised);
	pipeline_sweep(x->p, x->now + 60.0, true);
	CU_ASSERT_EQUAL(rec_count(&x->out, "alerts/op", "\"state\":\"unmuted\""), 1);
	cmd = (det_command){.kind = DET_CMD_REBASELINE, .device = "ghost"};
	CU_ASSERT_EQUAL(pipeline_command(x->p, &cmd, x->now, NULL, detail, sizeof detail),
			CMD_UNKNOWN_DEVICE);
	CU_ASSERT_PTR_NOT_NULL(strstr(detail, "no device \"ghost\""));
	cmd = (det_command){.kind = DET_CMD_REBASELINE, .device = "op"};
	CU_ASSERT_EQUAL(pipeline_command(x->p, &cmd, x->now, NULL, detail, sizeof detail), CMD_OK);
	pipeline_command_refused(x->p, CMD_BAD_JSON);
	pipeline_counters c = counters(x);
	CU_ASSERT_EQUAL(c.commands[DET_CMD_FALSE_ALARM], 1);
	CU_ASSERT_EQUAL(c.commands[DET_CMD_MUTE], 1);
	CU_ASSERT_EQUAL(c.commands[DET_CMD_REBASELINE], 1);
	CU_ASSERT_EQUAL(c.commands_rejected[CMD_BAD_STATE], 1);
	CU_ASSERT_EQUAL(c.commands_rejected[CMD_UNKNOWN_DEVICE], 1);
	CU_ASSERT_EQUAL(c.commands_rejected[CMD_BAD_JSON], 1);
	CU_ASSERT_EQUAL(c.events[ALERT_EV_MUTED], 1);
	CU_ASSERT_EQUAL(c.events[ALERT_EV_UNMUTED], 1);
	CU_ASSERT_EQUAL(c.events[ALERT_EV_REBASELINED], 1);
	teardown(x);
}

void init_pipeline_tests(void)
{
	CU_pSuite s = CU_add_suite("pipeline", NULL, NULL);
	TEST_ADD(s, test_raise_and_clear);
	TEST_ADD(s, test_rejects_by_reason);
	TEST_ADD(s, test_duplicates_and_order);
	TEST_ADD(s, test_stale_sweep);
	TEST_ADD(s, test_stale_on_data_time);
	TEST_ADD(s, test_sweep_paused_while_disconnected);
	TEST_ADD(s, test_commands);
	TEST_ADD(s, test_discovery);
	TEST_ADD(s, test_discovery_removed_on_eviction);
	TEST_ADD(s, test_reconcile);
	TEST_ADD(s, test_publish_failures_counted);
	TEST_ADD(s, test_reload_keeps_devices);
	TEST_ADD(s, test_state_file);
	TEST_ADD(s, test_clock_skew);
}
