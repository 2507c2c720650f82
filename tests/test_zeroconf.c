/* test_zeroconf.c - the service pipeline without a model (zero-config):
 * detector.features parsed from the config, features learned from the
 * first message, a device that learns its own normal without alarming and
 * then raises on a level shift, events naming model "zero-config", the
 * state file, and a reload that changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/config.h"
#include "iotad/msgq.h"
#include "iotad/pipeline.h"
#include "iotad/reload.h"
#include "test.h"
#include "test_rng.h"

#define ZLEARN 300



#define ZNOW0 1.7e9

/* ---- a publisher that counts events --------------------------------------- */

typedef struct zrec {
	size_t raised, cleared, other;   /* events on alerts/ */
	size_t model_named;              /* of them, naming model zero-config */
	char last[2048];                 /* the last alert payload */
} zrec;

static iotad_err zrec_publish(void *ud, const char *topic, const void *payload, size_t len,
			      int qos, bool retained)
{
	zrec *r = ud;
	(void)qos;
	(void)retained;
	if (strncmp(topic, "alerts/", 7))
		return IOTAD_OK;
	CU_ASSERT_FATAL(len < sizeof r->last);
	memcpy(r->last, payload, len);
	r->last[len] = '\0';
	if (strstr(r->last, "\"state\":\"raised\""))
		r->raised++;
	else if (strstr(r->last, "\"state\":\"cleared\""))
		r->cleared++;
	else
		r->other++;
	r->model_named += strstr(r->last, "\"model\":{\"id\":\"zero-config\",\"version\":0}") != NULL;
	return IOTAD_OK;
}

typedef struct zfix {
	iotad_config cfg;
	zrec out;
	pipeline *p;
	size_t ready_calls;
} zfix;

static void zready(void *ud)
{
	((zfix *)ud)->ready_calls++;
}

static iotad_err zpub(void *ud, const char *topic, const void *payload, size_t len, int qos,
		      bool retained)
{
	return zrec_publish(&((zfix *)ud)->out, topic, payload, len, qos, retained);
}

/* A zero-config pipeline over yaml's configuration (model.path empty). */
static zfix *zsetup(const char *yaml)
{
	char err[512];
	zfix *x = calloc(1, sizeof *x);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	iotad_err e = config_load_string("z.yaml", yaml, strlen(yaml), &x->cfg, err, sizeof err);
	if (e)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_EQUAL_FATAL(e, IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(x->cfg.model_path, "");
	det_config dc;
	config_det(&x->cfg, &dc);
	pipeline_pub pub = {.publish = zpub, .ready = zready, .ud = x};
	CU_ASSERT_EQUAL_FATAL(pipeline_create(&x->cfg, NULL, &dc, &pub, &x->p), IOTAD_OK);
	CU_ASSERT_TRUE(pipeline_zero_config(x->p));
	CU_ASSERT_PTR_NULL(pipeline_model(x->p));
	return x;
}

static void zteardown(zfix *x)
{
	pipeline_destroy(x->p);
	free(x);
}

static void zsend(zfix *x, const char *device, const char *payload, double now)
{
	char topic[64];
	snprintf(topic, sizeof topic, "telemetry/%s", device);
	msgq_msg *msg = msgq_msg_new(topic, strlen(topic), payload, strlen(payload),
				     x->cfg.max_payload);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	pipeline_handle(x->p, msg, now);
	msgq_msg_free(msg);
}

/* Sample t of a device: temperature near 21, humidity near 45, plus shift
 * on the temperature. */
static void zsample(zfix *x, const char *device, int t, double shift, uint64_t *zr)
{
	char payload[200];
	snprintf(payload, sizeof payload,
		 "{\"ts\":%.1f,\"temperature\":%.3f,\"humidity\":%.3f,\"fw\":\"1.2\"}",
		 ZNOW0 + 10.0 * t, 21.0 + shift + 0.05 * trng_normal(zr),
		 45.0 + 0.3 * trng_normal(zr));
	zsend(x, device, payload, ZNOW0 + 10.0 * t);
}

#define ZCONF "detector:\n  profile_learn: 300\n"

/* ---- tests ------------------------------------------------------------------ */

/* detector.features as a YAML list or comma-separated text reach det_config. */
static void test_features_config(void)
{
	char err[512];
	iotad_config c;
	const char *yaml = "detector:\n  features: [temperature, humidity, battery]\n";
	CU_ASSERT_EQUAL_FATAL(config_load_string("f.yaml", yaml, strlen(yaml), &c, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_EQUAL(c.n_features, 3);
	CU_ASSERT_STRING_EQUAL(c.features[2], "battery");
	yaml = "detector:\n  features: ' temp , rh'\n";
	CU_ASSERT_EQUAL_FATAL(config_load_string("f.yaml", yaml, strlen(yaml), &c, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_EQUAL(c.n_features, 2);
	CU_ASSERT_STRING_EQUAL(c.features[0], "temp");
	CU_ASSERT_STRING_EQUAL(c.features[1], "rh");
	det_config dc;
	config_det(&c, &dc);
	CU_ASSERT_EQUAL(dc.n_features, 2);
	CU_ASSERT_STRING_EQUAL(dc.features[1], "rh");
	yaml = "detector:\n  features: [a, b, a]\n";
	CU_ASSERT_EQUAL(config_load_string("f.yaml", yaml, strlen(yaml), &c, err, sizeof err),
			IOTAD_ERR_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "detector.features: 'a' is listed twice"));
}

/* The first message's numeric fields, sorted, become the features; a later
 * message without one of them is rejected as missing it. */
static void test_features_learned(void)
{
	zfix *x = zsetup(ZCONF);
	const char *names[MODEL_MAX_FEATURES];
	CU_ASSERT_EQUAL(pipeline_features(x->p, names, MODEL_MAX_FEATURES), 0);
	CU_ASSERT_PTR_NULL(pipeline_det(x->p));
	zsend(x, "d1", "{\"fw\":\"1.2\"}", ZNOW0); /* nothing numeric: rejected, nothing learned */
	CU_ASSERT_EQUAL(pipeline_features(x->p, names, MODEL_MAX_FEATURES), 0);
	zsend(x, "d1", "{\"ts\":1.7e9,\"temperature\":21,\"values\":{\"humidity\":40,\"rssi\":-60},"
		       "\"ok\":true}", ZNOW0 + 1);
	CU_ASSERT_EQUAL_FATAL(pipeline_features(x->p, names, MODEL_MAX_FEATURES), 3);
	CU_ASSERT_STRING_EQUAL(names[0], "humidity");
	CU_ASSERT_STRING_EQUAL(names[1], "rssi");
	CU_ASSERT_STRING_EQUAL(names[2], "temperature");
	CU_ASSERT_EQUAL(x->ready_calls, 1);
	CU_ASSERT_PTR_NOT_NULL(pipeline_det(x->p));
	zsend(x, "d1", "{\"ts\":1700000010,\"temperature\":21,\"humidity\":40}", ZNOW0 + 2);
	pipeline_counters c;
	pipeline_get_counters(x->p, &c);
	CU_ASSERT_EQUAL(c.received, 3);
	CU_ASSERT_EQUAL(c.rejected[REJ_MISSING_FEATURE], 2);
	CU_ASSERT_EQUAL(c.devices, 1);
	char id[MODEL_NAME_MAX];
	int version = -1;
	pipeline_model_name(x->p, id, sizeof id, &version);
	CU_ASSERT_STRING_EQUAL(id, "zero-config");
	CU_ASSERT_EQUAL(version, 0);
	zteardown(x);

	/* a payload of many fields: the first PIPELINE_LEARN_MAX by name */
	x = zsetup(ZCONF);
	zsend(x, "d1", "{\"k\":1,\"j\":1,\"i\":1,\"h\":1,\"g\":1,\"f\":1,\"e\":1,\"d\":1,\"c\":1,"
		       "\"b\":1,\"a\":1}", ZNOW0);
	CU_ASSERT_EQUAL_FATAL(pipeline_features(x->p, names, MODEL_MAX_FEATURES),
			      PIPELINE_LEARN_MAX);
	CU_ASSERT_STRING_EQUAL(names[0], "a");
	CU_ASSERT_STRING_EQUAL(names[PIPELINE_LEARN_MAX - 1], "h");
	zteardown(x);
}

/* A device learns (no alarm while it does, on normal or shifted data), stays
 * quiet on its normal, then a level shift of the temperature raises, and
 * the event names model zero-config and the temperature. */
static void test_learn_then_shift(void)
{
	zfix *x = zsetup(ZCONF "  features: [temperature, humidity]\n");
	uint64_t zr = 7;
	int t = 0;
	CU_ASSERT_PTR_NOT_NULL_FATAL(pipeline_det(x->p)); /* features given: built at once */
	for (; t < ZLEARN; t++)
		zsample(x, "room-1", t, 0.0, &zr);
	CU_ASSERT_EQUAL(x->out.raised, 0);
	for (; t < ZLEARN + 400; t++)
		zsample(x, "room-1", t, 0.0, &zr);
	CU_ASSERT_EQUAL(x->out.raised, 0);
	for (; t < ZLEARN + 430; t++)
		zsample(x, "room-1", t, 4.5, &zr);
	CU_ASSERT_EQUAL(x->out.raised, 1);
	CU_ASSERT_EQUAL(x->out.model_named, x->out.raised + x->out.cleared + x->out.other);
	CU_ASSERT_PTR_NOT_NULL(strstr(x->out.last, "\"temperature\""));
	/* a second device learns on its own: a device learning yields no alarm */
	for (int u = 0; u < 50; u++)
		zsample(x, "room-2", u, u < 25 ? 0.0 : 8.0, &zr);
	CU_ASSERT_EQUAL(x->out.raised, 1);
	zteardown(x);
}

/* The state file keeps a zero-config device's learned normal: restored, it
 * raises on the shift without learning again; a reload changes nothing. */
static void test_state_and_reload(void)
{
	char path[] = "/tmp/iotad-test-zeroconf-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	unlink(path);
	zfix *x = zsetup(ZCONF "  features: temperature,humidity\n");
	uint64_t zr = 11;
	int t = 0;
	for (; t < ZLEARN + 50; t++)
		zsample(x, "room-1", t, 0.0, &zr);
	CU_ASSERT_EQUAL(reload_state_save(x->p, path, "test"), IOTAD_OK);
	CU_ASSERT_EQUAL(reload_model(x->p, "/nonexistent/model.json", 0, NULL, NULL, "test"),
			IOTAD_ERR_STATE);
	CU_ASSERT_TRUE(pipeline_zero_config(x->p));
	zteardown(x);

	x = zsetup(ZCONF "  features: temperature,humidity\n");
	bool rejected = true;
	CU_ASSERT_EQUAL(reload_state_restore(x->p, path, &rejected), IOTAD_OK);
	CU_ASSERT_FALSE(rejected);
	pipeline_counters c;
	pipeline_get_counters(x->p, &c);
	CU_ASSERT_EQUAL(c.devices, 1);
	for (; t < ZLEARN + 80; t++)
		zsample(x, "room-1", t, 4.5, &zr);
	CU_ASSERT_EQUAL(x->out.raised, 1);
	zteardown(x);

	/* a fresh one (no state) is learning and stays quiet on the same data */
	x = zsetup(ZCONF "  features: temperature,humidity\n");
	for (int u = 0; u < 30; u++)
		zsample(x, "room-1", u, 4.5, &zr);
	CU_ASSERT_EQUAL(x->out.raised, 0);
	zteardown(x);
	unlink(path);
}

/* Raised by a shift of 30 samples, then normal for n samples: the clears
 * seen (detector configured by yaml). */
static size_t zclears_after(const char *yaml, int n)
{
	zfix *x = zsetup(yaml);
	uint64_t zr = 5;
	int t = 0;
	for (; t < ZLEARN + 100; t++)
		zsample(x, "room-1", t, 0.0, &zr);
	for (; t < ZLEARN + 130; t++)
		zsample(x, "room-1", t, 4.5, &zr);
	CU_ASSERT_EQUAL(x->out.raised, 1);
	for (int u = 0; u < n; u++, t++)
		zsample(x, "room-1", t, 0.0, &zr);
	size_t cleared = x->out.cleared;
	zteardown(x);
	return cleared;
}

/* Zero-config's quiet time: auto (the default) holds a raise through 300 s
 * of normal samples and clears it within 1000 s (600 s after the last
 * anomalous sample of the return); an explicit alert_quiet: 0 turns it
 * off, so 300 s of normal samples clear it; a number sets it. */
static void test_quiet_auto_and_off(void)
{
	const char *feat = "  features: [temperature, humidity]\n";
	char yaml[256];
	snprintf(yaml, sizeof yaml, "%s%s", ZCONF, feat);
	CU_ASSERT_EQUAL(zclears_after(yaml, 30), 0);       /* 300 s: still quiet */
	CU_ASSERT_EQUAL(zclears_after(yaml, 100), 1);      /* 1000 s: cleared */
	snprintf(yaml, sizeof yaml, "%s%s  alert_quiet: auto\n", ZCONF, feat);
	CU_ASSERT_EQUAL(zclears_after(yaml, 30), 0);
	snprintf(yaml, sizeof yaml, "%s%s  alert_quiet: 0\n", ZCONF, feat);
	CU_ASSERT_EQUAL(zclears_after(yaml, 30), 1);
	snprintf(yaml, sizeof yaml, "%s%s  alert_quiet: 1200\n", ZCONF, feat);
	CU_ASSERT_EQUAL(zclears_after(yaml, 100), 0);
}

void init_zeroconf_tests(void)
{
	CU_pSuite s = CU_add_suite("zeroconf", NULL, NULL);
	TEST_ADD(s, test_features_config);
	TEST_ADD(s, test_features_learned);
	TEST_ADD(s, test_learn_then_shift);
	TEST_ADD(s, test_state_and_reload);
	TEST_ADD(s, test_quiet_auto_and_off);
}
