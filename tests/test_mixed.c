/* test_mixed.c - one service for a mixed fleet: the models: list of the
 * configuration and its errors (file:line:col), the routing table (MQTT
 * filters, device globs, first match wins, shadowed routes), and the
 * router: each kind to its model, no_model, the zero-config fallback on a
 * device's own fields (fields_changed), one cap for all models, and a
 * reload that breaks one model while the others run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/config.h"
#include "iotad/live.h"
#include "iotad/model_io.h"
#include "iotad/models.h"
#include "iotad/msgq.h"
#include "iotad/route.h"
#include "iotad/router.h"
#include "iotad/topic.h"
#include "test.h"

static char tmpdir[64];
static char room_path[128], meter_path[128];

/* Two model files in a fresh folder: the fixture's network under the
 * names of a room sensor (temperature, humidity, battery) and of a power
 * meter (voltage, current, power). */
static int mixed_init(void)
{
	char path[256];
	snprintf(tmpdir, sizeof tmpdir, "/tmp/iotad-test-mixed-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof path, "%s/model_small.json", test_fixture_dir);
	model m;
	char err[256];
	if (model_load(path, &m, err, sizeof err) != IOTAD_OK)
		return -1;
	snprintf(room_path, sizeof room_path, "%s/room.json", tmpdir);
	snprintf(meter_path, sizeof meter_path, "%s/meter.json", tmpdir);
	snprintf(m.id, sizeof m.id, "room-ae");
	int r = model_save(&m, room_path) == IOTAD_OK ? 0 : -1;
	snprintf(m.id, sizeof m.id, "meter-ae");
	strcpy(m.features[0], "voltage");
	strcpy(m.features[1], "current");
	strcpy(m.features[2], "power");
	if (model_save(&m, meter_path) != IOTAD_OK)
		r = -1;
	model_free(&m);
	return r;
}

static int mixed_clean(void)
{
	unlink(room_path);
	unlink(meter_path);
	for (int i = 0; i < 4; i++) {
		char p[160];
		const char *n[] = {"room", "meter", "zero-config-1", "zero-config-2"};
		snprintf(p, sizeof p, "%s/state.bin.%s.tmp", tmpdir, n[i]);
		unlink(p);
		snprintf(p, sizeof p, "%s/state.bin.%s", tmpdir, n[i]);
		unlink(p);
	}
	rmdir(tmpdir);
	return 0;
}

/* The config of yaml with ROOM and METER replaced by the model files. */
static iotad_err load(const char *yaml, iotad_config *c, char *err, size_t len)
{
	char buf[4096], *o = buf;
	for (const char *s = yaml; *s && o < buf + sizeof buf - 200;) {
		if (!strncmp(s, "ROOM", 4)) {
			o += sprintf(o, "%s", room_path);
			s += 4;
		} else if (!strncmp(s, "METER", 5)) {
			o += sprintf(o, "%s", meter_path);
			s += 5;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return config_load_string("m.yaml", buf, strlen(buf), c, err, len);
}

#define TWO                                                                                \
	"topics:\n  telemetry: telemetry/#\n  device_level: 2\n"                             \
	"models:\n"                                                                          \
	"  - name: room\n    topic: telemetry/room/+\n    path: ROOM\n"                      \
	"    detector:\n      alert_k: 2\n"                                                  \
	"  - name: meter\n    device: pm-*\n    path: METER\n"

static void test_config_models(void)
{
	static iotad_config c, mc;
	char err[512], msg[256];
	iotad_err e = load(TWO, &c, err, sizeof err);
	if (e)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_EQUAL_FATAL(e, IOTAD_OK);
	CU_ASSERT_EQUAL(c.n_models, 2);
	CU_ASSERT_STRING_EQUAL(c.models[0].name, "room");
	CU_ASSERT_STRING_EQUAL(c.models[0].topic, "telemetry/room/+");
	CU_ASSERT_STRING_EQUAL(c.models[1].device, "pm-*");
	CU_ASSERT_EQUAL(c.models[0].at.line, 5);
	CU_ASSERT_EQUAL(models_config(&c, 0, &mc, msg, sizeof msg, NULL), IOTAD_OK);
	CU_ASSERT_EQUAL(mc.alert_k, 2);
	CU_ASSERT_STRING_EQUAL(mc.model_path, room_path);
	CU_ASSERT_EQUAL(models_config(&c, 1, &mc, msg, sizeof msg, NULL), IOTAD_OK);
	CU_ASSERT_EQUAL(mc.alert_k, c.alert_k); /* the top level's */
	CU_ASSERT_EQUAL(models_find(&c, "meter"), 1);
	CU_ASSERT_EQUAL(models_find(&c, "vibration"), -1);
}

/* A bad models: list is refused with the place of the fault. */
static void expect_error(const char *yaml, const char *where, const char *what)
{
	static iotad_config c;
	char err[512];
	CU_ASSERT_NOT_EQUAL(load(yaml, &c, err, sizeof err), IOTAD_OK);
	if (!strstr(err, where) || !strstr(err, what))
		fprintf(stderr, "\nexpected %s ... %s, got: %s\n", where, what, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, where));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
}

static void test_config_errors(void)
{
	expect_error("models:\n  - name: a\n    path: ROOM\n", "m.yaml:2:5:", "empty route");
	expect_error("models:\n  - name: a\n    topic: t/+\n    path: ROOM\n"
		     "  - name: b\n    topic: t/x\n    path: METER\n",
		     "m.yaml:5:5:", "overlaps models[0] (a)");
	expect_error("models:\n  - name: a\n    device: pm-*\n    path: ROOM\n"
		     "  - name: b\n    device: pm-1*\n    path: METER\n",
		     "m.yaml:5:5:", "overlaps");
	expect_error("models:\n  - name: a\n    topic: t/+\n    path: /nonexistent/x.json\n",
		     "m.yaml:4:5:", "does not load");
	expect_error("models:\n  - name: a\n    topic: t/+\n    path: ROOM\n"
		     "    detector:\n      features: voltage,current,power\n",
		     "m.yaml:6:7:", "clash");
	expect_error("models:\n  - name: a\n    topic: t/+\n    path: ROOM\n"
		     "    detector:\n      alert_k: 99\n",
		     "m.yaml:6:7:", "alert_k");
	expect_error("models:\n  - name: a\n    topic: t/+\n    paht: ROOM\n", "m.yaml:4:5:",
		     "unknown key 'paht'");
	expect_error("models:\n  - name: a\n    topic: t/+\n    path: ROOM\n"
		     "  - name: a\n    topic: u/+\n    path: ROOM\n", "m.yaml:5:5:", "is used by");
	expect_error("model:\n  path: ROOM\nmodels:\n  - name: a\n    topic: t/+\n    path: ROOM\n",
		     "m.yaml:2:3:", "not both");
	expect_error("models:\n  - name: a\n    topic: t/#/x\n    path: ROOM\n", "m.yaml:3:5:",
		     "not a valid MQTT topic filter");
	expect_error("models: 3\n", "m.yaml:1:9:", "expected a list");
	expect_error("models:\n  - name: a\n    topic: t/+\n    path: ROOM\n"
		     "    detector:\n      max_devices: 5\n",
		     "m.yaml:6:7:", "one cap holds the devices of all models");
}

static void test_route_match(void)
{
	CU_ASSERT_TRUE(route_topic_match("a/+/c", "a/b/c", 5));
	CU_ASSERT_FALSE(route_topic_match("a/+/c", "a/b/d", 5));
	CU_ASSERT_FALSE(route_topic_match("a/+", "a/b/c", 5));
	CU_ASSERT_TRUE(route_topic_match("a/#", "a/b/c", 5));
	CU_ASSERT_TRUE(route_topic_match("a/#", "a", 1));
	CU_ASSERT_TRUE(route_topic_match("#", "x/y", 3));
	CU_ASSERT_FALSE(route_topic_match("a/b", "a/bc", 4));
	CU_ASSERT_FALSE(route_topic_match("a/bc", "a/b", 3));
	CU_ASSERT_TRUE(route_glob_match("pm-*", "pm-17"));
	CU_ASSERT_TRUE(route_glob_match("*-7", "pm-17-7"));
	CU_ASSERT_TRUE(route_glob_match("r?om*", "room-1"));
	CU_ASSERT_FALSE(route_glob_match("pm-*", "px-1"));
	CU_ASSERT_FALSE(route_glob_match("pm-?", "pm-17"));
	CU_ASSERT_TRUE(route_filter_covers("a/+", "a/b"));
	CU_ASSERT_TRUE(route_filter_covers("a/#", "a/+/c"));
	CU_ASSERT_FALSE(route_filter_covers("a/+", "a/#"));
	CU_ASSERT_FALSE(route_filter_covers("a/b", "a/+"));
	CU_ASSERT_TRUE(route_glob_covers("", "pm-*"));
	CU_ASSERT_TRUE(route_glob_covers("pm-*", "pm-1?"));
	CU_ASSERT_FALSE(route_glob_covers("pm-1*", "pm-*"));

	route_table rt = {0};
	CU_ASSERT_EQUAL(route_add(&rt, "telemetry/room/+", ""), 0);
	CU_ASSERT_EQUAL(route_add(&rt, "", "pm-*"), 1);
	CU_ASSERT_EQUAL(route_add(&rt, "telemetry/#", "vib-??"), 2);
	const char *t = "telemetry/room/pm-1";
	CU_ASSERT_EQUAL(route_match(&rt, t, strlen(t), "pm-1"), 0); /* first match wins */
	t = "telemetry/meter/pm-1";
	CU_ASSERT_EQUAL(route_match(&rt, t, strlen(t), "pm-1"), 1);
	t = "telemetry/x/vib-01";
	CU_ASSERT_EQUAL(route_match(&rt, t, strlen(t), "vib-01"), 2);
	t = "telemetry/x/vib-001";
	CU_ASSERT_EQUAL(route_match(&rt, t, strlen(t), "vib-001"), ROUTE_NONE);
}

/* ---- the router ------------------------------------------------------------- */

typedef struct rrec {
	size_t alerts, fields_changed, raised;
	size_t discovery_room, discovery_meter; /* Home Assistant configs naming the model */
	char last[1024];
} rrec;

static iotad_err rpub(void *ud, const char *topic, const void *payload, size_t len, int qos,
		      bool retained)
{
	rrec *r = ud;
	(void)qos;
	(void)retained;
	if (!strncmp(topic, "homeassistant/", 14) && len < sizeof r->last) {
		memcpy(r->last, payload, len);
		r->last[len] = '\0';
		r->discovery_room += strstr(r->last, "\"model\":\"room-ae v2\"") != NULL;
		r->discovery_meter += strstr(r->last, "\"model\":\"meter-ae v2\"") != NULL;
		return IOTAD_OK;
	}
	if (strncmp(topic, "alerts/", 7) || len >= sizeof r->last)
		return IOTAD_OK;
	memcpy(r->last, payload, len);
	r->last[len] = '\0';
	r->alerts++;
	r->fields_changed += strstr(r->last, "\"state\":\"fields_changed\"") != NULL;
	r->raised += strstr(r->last, "\"state\":\"raised\"") != NULL;
	return IOTAD_OK;
}

static void rsend(router *r, const char *topic, const char *payload, double now)
{
	msgq_msg *msg = msgq_msg_new(topic, strlen(topic), payload, strlen(payload), 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	router_handle(r, msg, now);
	free(msg);
}

static router *rsetup(const char *yaml, iotad_config *c, rrec *out)
{
	char err[512];
	iotad_err e = load(yaml, c, err, sizeof err);
	if (e)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_EQUAL_FATAL(e, IOTAD_OK);
	det_config dc;
	config_det(c, &dc);
	pipeline_pub pub = {.publish = rpub, .ud = out};
	router *r = NULL;
	CU_ASSERT_EQUAL_FATAL(router_create(c, NULL, &dc, &pub, &r), IOTAD_OK);
	return r;
}

static void test_router_kinds(void)
{
	static iotad_config c;
	rrec out = {0};
	router *r = rsetup("homeassistant:\n  enabled: true\n" TWO, &c, &out);
	char p[200];
	double t0 = 1.7e9;
	for (int t = 0; t < 20; t++) {
		snprintf(p, sizeof p, "{\"ts\":%d,\"temperature\":21,\"humidity\":45,\"battery\":3.5}",
			 1000 + t);
		rsend(r, "telemetry/room/r-1", p, t0 + t);
		snprintf(p, sizeof p, "{\"ts\":%d,\"voltage\":230,\"current\":2,\"power\":460}",
			 1000 + t);
		rsend(r, "telemetry/meter/pm-1", p, t0 + t);
		snprintf(p, sizeof p, "{\"ts\":%d,\"rms\":1,\"peak\":3}", 1000 + t);
		rsend(r, "telemetry/vib/v-1", p, t0 + t);
	}
	met_snapshot s;
	pipeline_counters pc;
	router_get_counters(r, &pc);
	router_model_stats(r, &s);
	CU_ASSERT_EQUAL(pc.received, 60);
	CU_ASSERT_EQUAL(pc.rejected[REJ_NO_MODEL], 20);
	CU_ASSERT_EQUAL(pc.rejected[REJ_MISSING_FEATURE], 0);
	CU_ASSERT_EQUAL(pc.devices, 2);
	CU_ASSERT_EQUAL(s.n_models, 2);
	CU_ASSERT_STRING_EQUAL(s.models[0].name, "room");
	CU_ASSERT_STRING_EQUAL(s.models[0].id, "room-ae");
	CU_ASSERT_EQUAL(s.models[0].received, 20);
	CU_ASSERT_EQUAL(s.models[1].received, 20);
	CU_ASSERT_TRUE(s.models[0].scored > 0);
	/* Home Assistant discovery names each device's model */
	CU_ASSERT_EQUAL(out.discovery_room, 1);
	CU_ASSERT_EQUAL(out.discovery_meter, 1);
	CU_ASSERT_TRUE(out.raised > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.last, "\"model\":{\"id\":\""));

	/* one model by name */
	int ok1, failed1;
	router_reload(r, "room", NULL, NULL, "test", &ok1, &failed1);
	CU_ASSERT_EQUAL(ok1, 1);
	CU_ASSERT_EQUAL(failed1, 0);
	router_reload(r, "nosuch", NULL, NULL, "test", &ok1, &failed1);
	CU_ASSERT_EQUAL(ok1 + failed1, 0);

	/* a reload that breaks one model leaves both running */
	FILE *f = fopen(meter_path, "r+");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("{broken", f);
	fclose(f);
	int ok, failed;
	router_reload(r, NULL, NULL, NULL, "test", &ok, &failed);
	CU_ASSERT_EQUAL(ok, 1);
	CU_ASSERT_EQUAL(failed, 1);
	rsend(r, "telemetry/meter/pm-1", "{\"ts\":2000,\"voltage\":230,\"current\":2,\"power\":460}",
	      t0 + 30);
	router_model_stats(r, &s);
	CU_ASSERT_EQUAL(s.models[1].received, 21);
	CU_ASSERT_EQUAL(s.models[1].reload_failures, 1);
	CU_ASSERT_EQUAL(s.models[0].reloads, 2);
	router_destroy(r);
	/* the meter's file back for the next tests */
	mixed_clean();
	CU_ASSERT_EQUAL_FATAL(mixed_init(), 0);
}

/* With model.fallback, a device of no model is judged on its own fields;
 * a device whose fields change gets an event and is judged afresh. */
static void test_router_fallback(void)
{
	static iotad_config c;
	rrec out = {0};
	router *r = rsetup("model:\n  fallback: true\n" TWO, &c, &out);
	char p[200];
	double t0 = 1.7e9;
	for (int t = 0; t < 20; t++) {
		snprintf(p, sizeof p, "{\"ts\":%d,\"rms\":1,\"peak\":3}", 1000 + t);
		rsend(r, "telemetry/vib/v-1", p, t0 + t);
		snprintf(p, sizeof p, "{\"ts\":%d,\"co2\":400}", 1000 + t);
		rsend(r, "telemetry/air/a-1", p, t0 + t);
	}
	pipeline_counters pc;
	router_get_counters(r, &pc);
	CU_ASSERT_EQUAL(pc.rejected[REJ_NO_MODEL], 0);
	CU_ASSERT_EQUAL(pc.rejected[REJ_MISSING_FEATURE], 0);
	CU_ASSERT_EQUAL(pc.devices, 2);
	met_snapshot s;
	router_model_stats(r, &s);
	CU_ASSERT_EQUAL(s.n_models, 4); /* room, meter and two field sets */
	CU_ASSERT_EQUAL(out.fields_changed, 0);
	/* v-1 grows a field: one event, then judged on the new set */
	for (int t = 20; t < 25; t++) {
		snprintf(p, sizeof p, "{\"ts\":%d,\"rms\":1,\"peak\":3,\"temp\":40}", 1000 + t);
		rsend(r, "telemetry/vib/v-1", p, t0 + t);
	}
	CU_ASSERT_EQUAL(out.fields_changed, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.last, "\"was\":[\"peak\",\"rms\"],\"fields\":[\"peak\",\"rms\",\"temp\"]"));
	CU_ASSERT_EQUAL(router_fields_changed(r), 1);
	router_get_counters(r, &pc);
	CU_ASSERT_EQUAL(pc.devices, 2);
	CU_ASSERT_EQUAL(pc.rejected[REJ_MISSING_FEATURE], 0);
	router_destroy(r);
}

/* Each model keeps its devices in its own state file, and gets them back. */
static void test_router_state(void)
{
	static iotad_config c;
	char yaml[1024];
	rrec out = {0};
	snprintf(yaml, sizeof yaml, "service:\n  state_file: %s/state.bin\n" TWO, tmpdir);
	router *r = rsetup(yaml, &c, &out);
	char p[200], topic[64];
	for (int d = 0; d < 3; d++) {
		snprintf(topic, sizeof topic, "telemetry/meter/pm-%d", d);
		rsend(r, topic, "{\"ts\":1,\"voltage\":230,\"current\":2,\"power\":460}", 1.7e9);
	}
	snprintf(p, sizeof p, "{\"ts\":1,\"temperature\":21,\"humidity\":45,\"battery\":3.5}");
	rsend(r, "telemetry/room/r-1", p, 1.7e9);
	CU_ASSERT_EQUAL(router_state_save(r, "test"), IOTAD_OK);
	router_destroy(r);
	char path[160];
	snprintf(path, sizeof path, "%s/state.bin.meter", tmpdir);
	CU_ASSERT_EQUAL(access(path, R_OK), 0);
	snprintf(path, sizeof path, "%s/state.bin.room", tmpdir);
	CU_ASSERT_EQUAL(access(path, R_OK), 0);

	r = rsetup(yaml, &c, &out);
	met_snapshot s;
	router_model_stats(r, &s);
	CU_ASSERT_EQUAL(s.models[0].devices, 1);
	CU_ASSERT_EQUAL(s.models[1].devices, 3);
	CU_ASSERT_EQUAL(router_state_rejected(r), 0);
	router_destroy(r);
}

/* The routers of several scorer threads: one file per model for all of
 * them, restored into one router or three, each device into the thread
 * its id hashes to; the per-model figures summed over the threads. */
static void test_router_state_shards(void)
{
	static iotad_config c;
	char yaml[1024];
	rrec out = {0};
	snprintf(yaml, sizeof yaml, "service:\n  state_file: %s/state.bin\n" TWO, tmpdir);
	router *two[2], *one[1], *three[3];
	for (int k = 0; k < 2; k++)
		two[k] = rsetup(TWO, &c, &out); /* no state file of their own */
	char topic[64], id[16];
	for (int d = 0; d < 6; d++) {
		snprintf(id, sizeof id, "pm-%d", d);
		snprintf(topic, sizeof topic, "telemetry/meter/%s", id);
		rsend(two[topic_device_shard(id, strlen(id), 2)], topic,
		      "{\"ts\":1,\"voltage\":230,\"current\":2,\"power\":460}", 1.7e9);
	}
	rsend(two[topic_device_shard("r-1", 3, 2)], "telemetry/room/r-1",
	      "{\"ts\":1,\"temperature\":21,\"humidity\":45,\"battery\":3.5}", 1.7e9);
	met_snapshot s;
	router_model_stats(two[0], &s);
	router_model_stats_add(two[1], &s);
	CU_ASSERT_EQUAL(s.models[0].devices, 1);
	CU_ASSERT_EQUAL(s.models[1].devices, 6);
	CU_ASSERT_EQUAL(s.models[1].received, 6);
	char path[160];
	snprintf(path, sizeof path, "%s/state.bin", tmpdir);
	CU_ASSERT_EQUAL(router_state_save_shards(two, 2, path, "test"), IOTAD_OK);
	for (int k = 0; k < 2; k++)
		router_destroy(two[k]);

	bool rejected = true;
	one[0] = rsetup(TWO, &c, &out);
	CU_ASSERT_EQUAL(router_state_restore_shards(one, 1, path, &rejected), IOTAD_OK);
	CU_ASSERT_FALSE(rejected);
	router_model_stats(one[0], &s);
	CU_ASSERT_EQUAL(s.models[0].devices, 1);
	CU_ASSERT_EQUAL(s.models[1].devices, 6);
	router_destroy(one[0]);

	for (int k = 0; k < 3; k++)
		three[k] = rsetup(TWO, &c, &out);
	CU_ASSERT_EQUAL(router_state_restore_shards(three, 3, path, &rejected), IOTAD_OK);
	CU_ASSERT_FALSE(rejected);
	size_t meters[3] = {0};
	for (int d = 0; d < 6; d++) {
		snprintf(id, sizeof id, "pm-%d", d);
		meters[topic_device_shard(id, strlen(id), 3)]++;
	}
	for (int k = 0; k < 3; k++) {
		met_snapshot one_s;
		router_model_stats(three[k], &one_s);
		CU_ASSERT_EQUAL(one_s.models[1].devices, meters[k]);
	}
	router_model_stats(three[0], &s);
	router_model_stats_add(three[1], &s);
	router_model_stats_add(three[2], &s);
	CU_ASSERT_EQUAL(s.models[0].devices, 1);
	CU_ASSERT_EQUAL(s.models[1].devices, 6);
	for (int k = 0; k < 3; k++)
		router_destroy(three[k]);
}

/* Zero-config without a model or detector.features: each device on the
 * fields it sends, not the first message's for all. */
static void test_zero_config_own_fields(void)
{
	static iotad_config c;
	rrec out = {0};
	char err[256];
	const char *yaml = "detector:\n  profile_learn: 5\n";
	CU_ASSERT_EQUAL_FATAL(config_load_string("z.yaml", yaml, strlen(yaml), &c, err, sizeof err),
			      IOTAD_OK);
	det_config dc;
	config_det(&c, &dc);
	pipeline_pub pub = {.publish = rpub, .ud = &out};
	router *r = NULL;
	CU_ASSERT_EQUAL_FATAL(router_create(&c, NULL, &dc, &pub, &r), IOTAD_OK);
	char p[200];
	for (int t = 0; t < 10; t++) {
		snprintf(p, sizeof p, "{\"ts\":%d,\"temperature\":21,\"humidity\":45}", 1000 + t);
		rsend(r, "telemetry/room-1", p, 1.7e9 + t);
		snprintf(p, sizeof p, "{\"ts\":%d,\"voltage\":230,\"current\":2}", 1000 + t);
		rsend(r, "telemetry/pm-1", p, 1.7e9 + t);
	}
	pipeline_counters pc;
	router_get_counters(r, &pc);
	CU_ASSERT_EQUAL(pc.received, 20);
	CU_ASSERT_EQUAL(pc.rejected[REJ_MISSING_FEATURE], 0);
	CU_ASSERT_EQUAL(pc.rejected[REJ_NO_MODEL], 0);
	CU_ASSERT_EQUAL(pc.devices, 2);
	CU_ASSERT_FALSE(router_mixed(r));
	/* a field disappears: an event, then judged on what it sends */
	rsend(r, "telemetry/pm-1", "{\"ts\":2000,\"voltage\":230}", 1.7e9 + 20);
	CU_ASSERT_EQUAL(out.fields_changed, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.last, "\"was\":[\"current\",\"voltage\"],\"fields\":[\"voltage\"]"));
	router_get_counters(r, &pc);
	CU_ASSERT_EQUAL(pc.devices, 2);
	CU_ASSERT_EQUAL(pc.rejected[REJ_MISSING_FEATURE], 0);
	/* the same set again is no change */
	rsend(r, "telemetry/pm-1", "{\"ts\":2001,\"voltage\":231}", 1.7e9 + 21);
	CU_ASSERT_EQUAL(router_fields_changed(r), 1);
	router_destroy(r);
}

/* One cap for all models: the least recently seen device of any model
 * makes room (LRU), or a new one is refused (reject). */
static void test_router_cap(void)
{
	static iotad_config c;
	rrec out = {0};
	router *r = rsetup("detector:\n  max_devices: 3\n" TWO, &c, &out);
	char p[200], topic[64];
	double t0 = 1.7e9;
	for (int d = 0; d < 3; d++) {
		snprintf(topic, sizeof topic, "telemetry/meter/pm-%d", d);
		rsend(r, topic, "{\"ts\":1,\"voltage\":230,\"current\":2,\"power\":460}", t0 + d);
	}
	snprintf(p, sizeof p, "{\"ts\":1,\"temperature\":21,\"humidity\":45,\"battery\":3.5}");
	rsend(r, "telemetry/room/r-1", p, t0 + 10);
	pipeline_counters pc;
	router_get_counters(r, &pc);
	CU_ASSERT_EQUAL(pc.devices, 3);
	CU_ASSERT_EQUAL(pc.evictions, 1);
	router_destroy(r);

	r = rsetup("detector:\n  max_devices: 3\n  evict: reject\n" TWO, &c, &out);
	for (int d = 0; d < 3; d++) {
		snprintf(topic, sizeof topic, "telemetry/meter/pm-%d", d);
		rsend(r, topic, "{\"ts\":1,\"voltage\":230,\"current\":2,\"power\":460}", t0 + d);
	}
	rsend(r, "telemetry/room/r-1", p, t0 + 10);
	rsend(r, "telemetry/meter/pm-0", "{\"ts\":2,\"voltage\":230,\"current\":2,\"power\":460}",
	      t0 + 11);
	router_get_counters(r, &pc);
	CU_ASSERT_EQUAL(pc.devices, 3);
	CU_ASSERT_EQUAL(pc.rejected[REJ_DEVICE_CAP], 1);
	router_destroy(r);
}

/* The live page's data names the model of each device, and so does its
 * score event. */
static void test_live_names_model(void)
{
	live *l = NULL;
	CU_ASSERT_EQUAL_FATAL(live_create(0.0, &l), IOTAD_OK);
	det_result r = {.scored = true, .score = 0.5f, .threshold = 1.0f};
	live_sample_model(l, "room", "r-1", 1.0, &r);
	live_sample_model(l, "meter", "pm-1", 1.0, &r);
	live_sample(l, "x-1", 1.0, &r);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	live_write_devices(l, f);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "{\"device\":\"r-1\",\"state\":\"normal\",\"model\":\"room\","));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"device\":\"pm-1\",\"state\":\"normal\",\"model\":\"meter\","));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "{\"device\":\"x-1\",\"state\":\"normal\",\"points\""));
	free(buf);
	live_destroy(l);
}

void init_mixed_tests(void)
{
	CU_pSuite s = CU_add_suite("mixed", mixed_init, mixed_clean);
	TEST_ADD(s, test_config_models);
	TEST_ADD(s, test_config_errors);
	TEST_ADD(s, test_route_match);
	TEST_ADD(s, test_router_kinds);
	TEST_ADD(s, test_router_fallback);
	TEST_ADD(s, test_router_cap);
	TEST_ADD(s, test_router_state);
	TEST_ADD(s, test_router_state_shards);
	TEST_ADD(s, test_zero_config_own_fields);
	TEST_ADD(s, test_live_names_model);
}
