/* test_integration.c - the real iotad binary against a real mosquitto:
 * alerts for injected anomalies, silence for clean devices, bad input
 * counted without harm, reconnection after a broker restart, CLI errors.
 * Usage: test_integration [SUITE...] (cli, e2e, clean, badinput, reconnect). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "harness.h"
#include "it_examples.h"
#include "it_federated.h"
#include "it_crashwin.h"
#include "it_harden.h"
#include "it_scaleout.h"
#include "it_http.h"
#include "it_int8.h"
#include "it_mixed.h"
#include "it_mixthreads.h"
#include "it_ops.h"
#include "it_reliability.h"
#include "it_shards.h"
#include "it_zeroconf.h"
#include "../skip.h"

#define WINDOW 10

/* One anomaly of the ground truth file written by `iotad sim --truth`. */
typedef struct truth {
	char device[64];
	char kind[16];
	double start, end;
} truth;

static size_t read_truth(const char *path, truth *out, size_t max)
{
	char *text = hx_read_file(path, NULL);
	size_t n = 0;
	if (!text)
		return 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "device,", 7) || n == max)
			continue;
		truth *t = &out[n];
		if (sscanf(line, "%63[^,],%15[^,],%lf,%lf", t->device, t->kind, &t->start, &t->end) == 4)
			n++;
	}
	free(text);
	return n;
}

static pid_t start_iotad(const char *config, const char *log, hx_sub *status)
{
	pid_t pid = hx_start_iotad(config, log, status, 1);
	CU_ASSERT_FATAL(pid > 0);
	return pid;
}

static int stop_iotad(pid_t pid)
{
	kill(pid, SIGTERM);
	return hx_wait_exit(pid, 20000);
}

static int run_sim(const hx_broker *b, const char *extra[], const char *log)
{
	char *argv[64];
	int n = 0;
	argv[n++] = (char *)hx_iotad();
	argv[n++] = "sim";
	argv[n++] = "--broker";
	argv[n++] = (char *)b->uri;
	argv[n++] = "--speed";
	argv[n++] = "0";
	argv[n++] = "--quiet";
	for (int i = 0; extra[i] && n < 62; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	return hx_run(argv, log, 300000);
}


/* ---- cli ---------------------------------------------------------------- */

static void test_cli_help_and_version(void)
{
	const char *cmds[] = {"run", "train", "sim"};
	const char *log = hx_path("cli.log");
	char *top[] = {(char *)hx_iotad(), "--help", NULL};
	CU_ASSERT_EQUAL(hx_run(top, log, 10000), 0);
	char *ver[] = {(char *)hx_iotad(), "--version", NULL};
	CU_ASSERT_EQUAL(hx_run(ver, log, 10000), 0);
	for (int i = 0; i < 3; i++) {
		char *help[] = {(char *)hx_iotad(), (char *)cmds[i], "--help", NULL};
		CU_ASSERT_EQUAL(hx_run(help, log, 10000), 0);
		char *v[] = {(char *)hx_iotad(), (char *)cmds[i], "--version", NULL};
		CU_ASSERT_EQUAL(hx_run(v, log, 10000), 0);
		char *bad[] = {(char *)hx_iotad(), (char *)cmds[i], "--no-such-flag", NULL};
		CU_ASSERT_EQUAL(hx_run(bad, log, 10000), 2);
	}
	char *unknown[] = {(char *)hx_iotad(), "frobnicate", NULL};
	CU_ASSERT_EQUAL(hx_run(unknown, log, 10000), 2);
	char *text = hx_read_file(log, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "usage: iotad run"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "iotad train --csv FILE"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "iotad sim [--broker URI]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "iotad 0."));
	free(text);
}

static void test_cli_bad_config(void)
{
	const char *cfg = hx_path("bad.yaml");
	const char *log = hx_path("badcfg.log");
	CU_ASSERT_EQUAL_FATAL(hx_write_file(cfg, "mqtt:\n  uri: tcp://127.0.0.1:1\n  keepalive: -4\n"), 0);
	char *argv[] = {(char *)hx_iotad(), "run", "-c", (char *)cfg, NULL};
	CU_ASSERT_EQUAL(hx_run(argv, log, 10000), 2);
	char needle[600];
	snprintf(needle, sizeof needle, "%s:3:", cfg);
	CU_ASSERT_TRUE(hx_wait_log(log, needle, 0));

	CU_ASSERT_EQUAL_FATAL(hx_write_file(cfg, "detector:\n  no_such_key: 1\n"), 0);
	CU_ASSERT_EQUAL(hx_run(argv, log, 10000), 2);
	snprintf(needle, sizeof needle, "%s:2:3:", cfg);
	CU_ASSERT_TRUE(hx_wait_log(log, needle, 0));

	/* A broken model file is refused with the field named. */
	const char *model = hx_path("broken-model.json");
	CU_ASSERT_EQUAL_FATAL(hx_write_file(model, "{\"format\":\"iotad-model\",\"format_version\":1,"
						   "\"id\":\"x\",\"features\":[\"a\"],\"window\":0}"), 0);
	char text[1200];
	snprintf(text, sizeof text, "model:\n  path: %s\n", model);
	CU_ASSERT_EQUAL_FATAL(hx_write_file(cfg, text), 0);
	CU_ASSERT_EQUAL(hx_run(argv, log, 10000), 2);
	CU_ASSERT_TRUE(hx_wait_log(log, "window", 0));
	char *missing[] = {(char *)hx_iotad(), "run", NULL};
	CU_ASSERT_EQUAL(hx_run(missing, log, 10000), 2);
}

/* ---- e2e: injected anomalies produce raised then cleared ---------------- */

typedef struct dev_events {
	int raised, cleared, matched, unmatched;
	char last[16];
	int order_errors;
} dev_events;

static void test_e2e_alerts_follow_truth(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub alerts, state;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&alerts, b.uri, "#", "it-e2e-sub"), 0);
	/* IOTAD_IT_E2E_DETECTOR: extra detector keys (e.g. "  threshold: spot\n")
	 * to compare settings on the same scenario */
	const char *cfg = hx_config(&b, "e2e.yaml", "iotad-e2e", getenv("IOTAD_IT_E2E_DETECTOR"));
	const char *log = hx_path("e2e-iotad.log");
	pid_t pid = start_iotad(cfg, log, &alerts);

	const int devices = 6, clean = 2;
	double start = (double)(time(NULL) - 7200);
	char start_s[32];
	snprintf(start_s, sizeof start_s, "%.0f", start);
	const char *truth_path = hx_path("e2e-truth.csv");
	const char *sim[] = {"--devices", "6", "--clean", "2", "--duration", "3600", "--interval", "1",
			     "--seed", "3", "--start-ts", start_s, "--truth", truth_path, NULL};
	CU_ASSERT_EQUAL_FATAL(run_sim(&b, sim, hx_path("e2e-sim.log")), 0);
	hx_sub_settle(&alerts, "alerts/", 3000, 60000);

	truth t[256];
	size_t nt = read_truth(truth_path, t, 256);
	CU_ASSERT_FATAL(nt >= 8);
	int detected[256] = {0};
	dev_events ev[16];
	memset(ev, 0, sizeof ev);

	pthread_mutex_lock(&alerts.lock);
	for (size_t i = 0; i < alerts.n; i++) {
		const hx_msg *m = &alerts.msgs[i];
		if (strncmp(m->topic, "alerts/sensor-", 14) != 0)
			continue;
		int d = atoi(m->topic + 14);
		CU_ASSERT_FATAL(d >= 0 && d < devices);
		cJSON *j = cJSON_Parse(m->payload);
		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(j, "state"));
		const char *dev = cJSON_GetStringValue(cJSON_GetObjectItem(j, "device"));
		double ts = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "ts"));
		double score = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "score"));
		double thr = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "threshold"));
		cJSON *model = cJSON_GetObjectItem(j, "model");
		CU_ASSERT_PTR_NOT_NULL_FATAL(st);
		CU_ASSERT_PTR_NOT_NULL_FATAL(dev);
		CU_ASSERT_STRING_EQUAL(dev, m->topic + 7);
		CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(model, "id")), "it-model");
		CU_ASSERT_FALSE(m->retained);
		/* the state machine alternates raised, cleared, raised, ... */
		const char *want = !strcmp(ev[d].last, "raised") ? "cleared" : "raised";
		if (strcmp(st, want) != 0)
			ev[d].order_errors++;
		snprintf(ev[d].last, sizeof ev[d].last, "%s", st);
		if (!strcmp(st, "raised")) {
			ev[d].raised++;
			/* over the threshold, or a feature held still */
			CU_ASSERT(score >= thr || cJSON_IsArray(cJSON_GetObjectItem(j, "stuck")));
			cJSON *contrib = cJSON_GetObjectItem(j, "contrib");
			double sum = 0;
			for (cJSON *c = contrib ? contrib->child : NULL; c; c = c->next)
				sum += c->valuedouble;
			CU_ASSERT_DOUBLE_EQUAL(sum, 1.0, 0.01);
			int hit = 0;
			char name[32];
			snprintf(name, sizeof name, "sensor-%03d", d);
			for (size_t k = 0; k < nt; k++)
				if (!strcmp(t[k].device, name) && ts >= t[k].start &&
				    ts <= t[k].end + WINDOW + 5) {
					detected[k] = 1;
					hit = 1;
				}
			if (hit)
				ev[d].matched++;
			else
				ev[d].unmatched++;
		} else if (!strcmp(st, "cleared")) {
			ev[d].cleared++;
		}
		cJSON_Delete(j);
	}
	pthread_mutex_unlock(&alerts.lock);

	int n_detected = 0, raised = 0, unmatched = 0;
	for (size_t k = 0; k < nt; k++)
		n_detected += detected[k];
	for (int d = 0; d < devices; d++) {
		raised += ev[d].raised;
		unmatched += ev[d].unmatched;
		CU_ASSERT_EQUAL(ev[d].order_errors, 0);
		/* every raise is cleared once its anomaly is over */
		CU_ASSERT_EQUAL(ev[d].raised, ev[d].cleared);
		if (d >= devices - clean)
			CU_ASSERT_EQUAL(ev[d].raised + ev[d].cleared, 0);
	}
	printf("\n    e2e: %zu injected anomalies, %d detected, %d raised, %d not matching truth\n",
	       nt, n_detected, raised, unmatched);
	/* most injected anomalies are found; almost every alert is a true one */
	CU_ASSERT(n_detected * 10 >= (int)nt * 7);
	CU_ASSERT(unmatched * 10 <= raised);

	/* the current state is retained: a late subscriber sees it */
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&state, b.uri, "state/#", "it-e2e-late"), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&state, "state/sensor-", NULL, (size_t)(devices - clean), 5000));
	CU_ASSERT_EQUAL(hx_sub_count(&state, "state/sensor-004", NULL), 0);
	hx_sub_stop(&state);

	CU_ASSERT_EQUAL(stop_iotad(pid), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&alerts, "iotad/status", "offline", 1, 5000));
	hx_sub_stop(&alerts);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- a long clean run raises nothing ------------------------------------ */

#define MARKER_SAMPLES 18
static void wait_scored(const hx_broker *b, hx_sub *sub);

static void test_clean_run_is_silent(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-clean-sub"), 0);
	const char *log = hx_path("clean-iotad.log");
	pid_t pid = start_iotad(hx_config(&b, "clean.yaml", "iotad-clean", NULL), log, &sub);
	const char *sim[] = {"--devices", "4", "--clean", "4", "--duration", "10000", "--interval", "1",
			     "--seed", "21", NULL};
	CU_ASSERT_EQUAL_FATAL(run_sim(&b, sim, hx_path("clean-sim.log")), 0);
	wait_scored(&b, &sub);
	CU_ASSERT_EQUAL(stop_iotad(pid), 0);
	/* all 40,000 samples (and the marker's) were scored, nothing was raised */
	CU_ASSERT_TRUE(hx_wait_log(log, "received=40018 scored=39973", 0));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/sensor-", NULL), 0);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- bad input is counted and harmless ---------------------------------- */

/* Publish a marker device that raises on its last (18th) sample and wait
 * for its alert: everything the broker took before it has been scored. */
static void wait_scored(const hx_broker *b, hx_sub *sub)
{
	mq *pub = hx_publisher(b, "it-marker-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	char msg[160];
	for (int i = 0; i < MARKER_SAMPLES; i++) {
		int n = snprintf(msg, sizeof msg,
				 "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":%.1f,\"battery\":%.1f}",
				 1700000000 + i,
				 i < MARKER_SAMPLES - 3 ? 21.0 + 0.01 * (i % 3) : 60.0,
				 48.0 + 0.1 * (i % 2), 97.0 - 0.1 * (i % 2));
		CU_ASSERT_EQUAL(mq_publish(pub, "telemetry/marker", msg, (size_t)n, 1, false, 5000),
				IOTAD_OK);
	}
	CU_ASSERT_TRUE(mq_drain(pub, 20000));
	CU_ASSERT_TRUE(hx_sub_wait(sub, "alerts/marker", "\"raised\"", 1, 120000));
	mq_destroy(pub, 2000);
}

static void publish(mq *c, const char *topic, const char *payload, size_t len)
{
	CU_ASSERT_EQUAL(mq_publish(c, topic, payload, len, 1, false, 5000), IOTAD_OK);
}

static void test_bad_input_counted(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-bad-sub"), 0);
	const char *log = hx_path("bad-iotad.log");
	pid_t pid = start_iotad(hx_config(&b, "bad.yaml", "iotad-bad", NULL), log, &sub);

	mq *pub = hx_publisher(&b, "it-bad-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	static char big[8192];
	memset(big, ' ', sizeof big);
	big[0] = '{';
	big[sizeof big - 1] = '}';
	const char *d = "telemetry/dev-x";
	publish(pub, d, "not json", 8);
	publish(pub, d, "{\"temperature\": 21.0", 20);
	publish(pub, d, "[1,2,3]", 7);
	publish(pub, d, "42", 2);
	publish(pub, d, "{\"temperature\":21,\"humidity\":50}", 32);
	publish(pub, d, "{\"temperature\":\"hot\",\"humidity\":50,\"battery\":90}", 48);
	publish(pub, d, "{\"temperature\":1e999,\"humidity\":50,\"battery\":90}", 48);
	publish(pub, d, "{\"temperature\":null,\"humidity\":50,\"battery\":90}", 47);
	publish(pub, d, big, sizeof big);
	publish(pub, "telemetry/", "{\"temperature\":21,\"humidity\":50,\"battery\":90}", 45);
	publish(pub, d, "{\"ts\":\"yesterday\",\"temperature\":21,\"humidity\":50,\"battery\":90}", 62);
	publish(pub, d, "", 0);
	mq_drain(pub, 5000);

	/* The service still scores and alerts: a healthy device, then a hot one. */
	char msg[160];
	for (int i = 0; i < 60; i++) {
		double temp = i < 30 ? 21.0 + 0.01 * (i % 3) : 60.0;
		int n = snprintf(msg, sizeof msg,
				 "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":%.1f,\"battery\":%.1f}",
				 1700000000 + i, temp,
				 48.0 + 0.1 * (i % 2), 97.0 - 0.1 * (i % 2));
		publish(pub, "telemetry/dev-ok", msg, (size_t)n);
	}
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-ok", "\"raised\"", 1, 15000));
	mq_destroy(pub, 2000);
	wait_scored(&b, &sub);

	CU_ASSERT_EQUAL(stop_iotad(pid), 0);
	char *text = hx_read_file(log, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	const char *final = strstr(text, "stats (final)");
	CU_ASSERT_PTR_NOT_NULL_FATAL(final);
	CU_ASSERT_PTR_NOT_NULL(strstr(final, "received=90 ")); /* 72 + the marker's 18 */
	CU_ASSERT_PTR_NOT_NULL(strstr(final, " not_json=3"));     /* garbage, truncated, empty */
	CU_ASSERT_PTR_NOT_NULL(strstr(final, " not_object=2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(final, " missing_feature=1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(final, " not_number=2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(final, " not_finite=1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(final, " oversize=1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(final, " bad_topic=1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(final, " bad_ts=1"));
	/* no bad message created a device or touched a window */
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-x", NULL), 0);
	free(text);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- a subscriber that stops reading does not stall scoring ------------- */

static void test_slow_subscriber(void)
{
	enum { DEVICES = 300, SAMPLES = 30 };
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-slow-sub"), 0);
	const char *log = hx_path("slow-iotad.log");
	pid_t pid = start_iotad(hx_config(&b, "slow.yaml", "iotad-slow", NULL), log, &sub);

	/* a QoS 1 dashboard on alerts/# that is frozen: it never reads again */
	char port[16];
	snprintf(port, sizeof port, "%d", b.port);
	char *argv[] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-t", "alerts/#",
			"-i", "it-frozen", NULL};
	pid_t frozen = hx_spawn(argv, hx_path("frozen.log"));
	CU_ASSERT_FATAL(frozen > 0);
	CU_ASSERT_TRUE(hx_wait_log(b.log, "it-frozen 1 alerts/#", 10000)); /* subscribed */
	CU_ASSERT_EQUAL(kill(frozen, SIGSTOP), 0);

	/* every device is healthy, then hot: one raised event each */
	mq *pub = hx_publisher(&b, "it-slow-pub", 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	char topic[64], msg[160];
	for (int i = 0; i < SAMPLES; i++)
		for (int d = 0; d < DEVICES; d++) {
			double temp = i < SAMPLES / 2 ? 21.0 + 0.01 * ((i + d) % 3) : 60.0;
			int n = snprintf(msg, sizeof msg,
					 "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":%.1f,\"battery\":%.1f}",
					 1700000000 + i, temp,
					 48.0 + 0.1 * (i % 2), 97.0 - 0.1 * (i % 2));
			snprintf(topic, sizeof topic, "telemetry/hot-%03d", d);
			publish(pub, topic, msg, (size_t)n);
		}
	CU_ASSERT_TRUE(mq_drain(pub, 20000));
	wait_scored(&b, &sub);
	/* the live subscriber saw every alert while the frozen one held its queue */
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/hot-", "\"raised\""), DEVICES);
	CU_ASSERT_EQUAL(stop_iotad(pid), 0);
	char needle[64];
	snprintf(needle, sizeof needle, "received=%d ", DEVICES * SAMPLES + MARKER_SAMPLES);
	CU_ASSERT_TRUE(hx_wait_log(log, needle, 0));
	CU_ASSERT_TRUE(hx_wait_log(log, "publish_failed=0 ", 0));
	printf("\n    slow subscriber: %zu of %d raised events delivered to the live subscriber "
	       "while a QoS 1 subscriber was frozen\n",
	       hx_sub_count(&sub, "alerts/hot-", "\"raised\""), DEVICES);
	kill(frozen, SIGKILL);
	hx_wait_exit(frozen, 5000);
	mq_destroy(pub, 2000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- the service reconnects after the broker restarts ------------------- */

static void test_reconnect_after_broker_restart(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, true), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-rc-sub"), 0);
	const char *log = hx_path("rc-iotad.log");
	pid_t pid = start_iotad(hx_config(&b, "rc.yaml", "iotad-rc", NULL), log, &sub);
	hx_sub_stop(&sub);

	int port = b.port;
	hx_broker_stop(&b, SIGKILL);
	/* the service notices and keeps retrying */
	CU_ASSERT_TRUE(hx_wait_log(log, "lost", 10000));
	CU_ASSERT_TRUE(hx_wait_log(log, "cannot connect", 10000));
	CU_ASSERT_EQUAL(kill(pid, 0), 0);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, port, true), 0);
	CU_ASSERT_TRUE(hx_wait_log(log, "reconnected", 40000));
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-rc-sub2"), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "iotad/status", "online", 1, 10000));

	double start = (double)(time(NULL) - 3600);
	char start_s[32];
	snprintf(start_s, sizeof start_s, "%.0f", start);
	const char *sim[] = {"--devices", "2", "--duration", "2400", "--interval", "1", "--seed", "8",
			     "--start-ts", start_s, "--kinds", "spike", NULL};
	CU_ASSERT_EQUAL_FATAL(run_sim(&b, sim, hx_path("rc-sim.log")), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/sensor-", "\"raised\"", 1, 20000));
	CU_ASSERT_EQUAL(stop_iotad(pid), 0);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- a flood of distinct device ids keeps memory at the cap ------------- */

/* 30 normal then 30 hot samples on topic: enough to raise an alert on a
 * device the service accepts. 0 on success. */
static int publish_raising(mq *pub, const char *topic, int qos)
{
	char msg[160];
	for (int i = 0; i < 60; i++) {
		int n = snprintf(msg, sizeof msg,
				 "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":%.1f,\"battery\":%.1f}",
				 1700000000 + i, i < 30 ? 21.0 + 0.01 * (i % 3) : 60.0,
				 48.0 + 0.1 * (i % 2), 97.0 - 0.1 * (i % 2));
		if (mq_publish(pub, topic, msg, (size_t)n, qos, false, 10000) != IOTAD_OK)
			return -1;
	}
	return 0;
}

/* A raising series on device at QoS 0 (ordered after whatever the same
 * client sent before); true once its `raised` arrives, i.e. once iotad has
 * worked through everything published before it. */
static bool flood_marker(mq *pub, hx_sub *alerts, const char *device)
{
	char topic[96];
	snprintf(topic, sizeof topic, "telemetry/%s", device);
	if (publish_raising(pub, topic, 0) != 0)
		return false;
	snprintf(topic, sizeof topic, "alerts/%s", device);
	return hx_sub_wait(alerts, topic, "\"raised\"", 1, 300000);
}

static unsigned long long stat_field(const char *line, const char *key)
{
	const char *p = line ? strstr(line, key) : NULL;
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static void flood(long n_ids, int cap)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub status, alerts;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&status, b.uri, "iotad/status/#", "it-flood-status"), 0);
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&alerts, b.uri, "alerts/#", "it-flood-alerts"), 0);
	char text[2048];
	snprintf(text, sizeof text,
		 "mqtt:\n  uri: %s\n  client_id: iotad-flood\n  keepalive: 5\n"
		 "model:\n  path: %s\n"
		 "detector:\n  max_devices: %d\n  evict: lru\n"
		 "service:\n  queue_size: 4096\n  log_level: info\n",
		 b.uri, hx_model(), cap);
	const char *cfg = hx_path("flood.yaml");
	CU_ASSERT_EQUAL_FATAL(hx_write_file(cfg, text), 0);
	const char *log = hx_path("flood-iotad.log");
	pid_t pid = start_iotad(cfg, log, &status);
	long rss_start = hx_proc_kb(pid, "VmRSS");

	mq *pub = hx_publisher(&b, "it-flood-pub", 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);

	/* Checkpoint once the table has been filled and recycled a few times. */
	const long warm = 5L * cap < n_ids ? 5L * cap : n_ids;
	const char *payload = "{\"temperature\":21.0,\"humidity\":48.0,\"battery\":97.0}";
	size_t plen = strlen(payload);
	char topic[64];
	long sent = 0, hwm_warm = -1, rss_warm = -1;
	int failed = 0;
	time_t t0 = time(NULL);
	for (long i = 0; i < n_ids; i++) {
		snprintf(topic, sizeof topic, "telemetry/flood-%08ld", i);
		failed += mq_publish(pub, topic, payload, plen, 0, false, 10000) != IOTAD_OK;
		sent++;
		if (sent == warm) {
			CU_ASSERT_FATAL(flood_marker(pub, &alerts, "zz-marker-1"));
			hwm_warm = hx_proc_kb(pid, "VmHWM");
			rss_warm = hx_proc_kb(pid, "VmRSS");
		}
	}
	CU_ASSERT_EQUAL(failed, 0);
	CU_ASSERT_FATAL(flood_marker(pub, &alerts, "zz-marker-2"));
	long hwm_end = hx_proc_kb(pid, "VmHWM"), rss_end = hx_proc_kb(pid, "VmRSS");
	double secs = difftime(time(NULL), t0);
	mq_destroy(pub, 2000);
	CU_ASSERT_EQUAL(stop_iotad(pid), 0);

	char *all = hx_read_file(log, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(all);
	const char *final = strstr(all, "stats (final)");
	CU_ASSERT_PTR_NOT_NULL_FATAL(final);
	unsigned long long received = stat_field(final, "received="),
			   devices = stat_field(final, "devices="),
			   evictions = stat_field(final, "evictions=");
	printf("\n    flood: %ld ids (cap %d) in %.0f s; received=%llu devices=%llu evictions=%llu\n"
	       "    VmRSS start %ld kB, after %ld ids %ld kB (peak %ld kB), end %ld kB (peak %ld kB)\n",
	       n_ids, cap, secs, received, devices, evictions, rss_start, warm, rss_warm, hwm_warm,
	       rss_end, hwm_end);
	/* every id and the markers' 120 samples arrived; the table held cap
	 * devices and every new id beyond it replaced the least recent one */
	CU_ASSERT_EQUAL(received, (unsigned long long)n_ids + 120);
	CU_ASSERT_EQUAL(devices, (unsigned long long)cap);
	CU_ASSERT_EQUAL(evictions, (unsigned long long)n_ids + 2 - (unsigned long long)cap);
	/* flat: the peak after all ids is the peak after the first 5 x cap,
	 * within allocator slack */
	CU_ASSERT(hwm_warm > 0 && hwm_end > 0);
#ifndef __SANITIZE_ADDRESS__
	CU_ASSERT(hwm_end <= hwm_warm + hwm_warm / 10 + 2048);
#else
	printf("    (AddressSanitizer quarantines freed memory: RSS is not checked)\n");
#endif
	free(all);
	hx_sub_stop(&alerts);
	hx_sub_stop(&status);
	hx_broker_stop(&b, SIGTERM);
}

static void test_flood_100k(void)
{
	flood(100000, 10000);
}

static void test_flood_1m(void)
{
	flood(1000000, 10000);
}

/* ---- topic hygiene: hostile device ids never leave alerts/+ ------------- */

/* One level of printable ASCII without wildcards after prefix + '/'. */
static bool one_level_under(const char *topic, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (strncmp(topic, prefix, pl) != 0 || topic[pl] != '/' || !topic[pl + 1])
		return false;
	for (const char *s = topic + pl + 1; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '/' || *s == '+' || *s == '#')
			return false;
	return true;
}

static void test_topic_hygiene(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-topic-sub"), 0);
	/* '#' so that extra levels reach the service too */
	char text[2048];
	snprintf(text, sizeof text,
		 "mqtt:\n  uri: %s\n  client_id: iotad-topic\n  keepalive: 5\n"
		 "topics:\n  telemetry: telemetry/#\n  device_level: 1\n"
		 "model:\n  path: %s\n"
		 "service:\n  log_level: info\n", b.uri, hx_model());
	const char *cfg = hx_path("topic.yaml");
	CU_ASSERT_EQUAL_FATAL(hx_write_file(cfg, text), 0);
	const char *log = hx_path("topic-iotad.log");
	pid_t pid = start_iotad(cfg, log, &sub);

	mq *pub = hx_publisher(&b, "it-topic-pub", 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);

	/* Topics MQTT lets a client publish ('+', '#', NUL and control bytes
	 * are refused by the broker itself; the unit tests cover them). */
	static char longest[200], too_long[220], cut[700];
	snprintf(longest, sizeof longest, "telemetry/%0127d", 0);      /* id of 127 bytes */
	snprintf(too_long, sizeof too_long, "telemetry/%0128d", 0);    /* 128 bytes */
	memset(cut, 'c', sizeof cut - 1);                              /* beyond 512 bytes */
	memcpy(cut, "telemetry/", 10);
	const char *rejected[] = {
		too_long, cut, "telemetry/with space", "telemetry/caf\xc3\xa9", "telemetry//x",
		"telemetry/", "telemetry",
	};
	const char *accepted[] = {
		"telemetry/../../iotad/status", "telemetry/$SYS/broker", "telemetry/ok-1/extra/levels",
		longest,
	};
	const size_t n_rej = sizeof rejected / sizeof rejected[0];
	const size_t n_acc = sizeof accepted / sizeof accepted[0];
	for (size_t i = 0; i < n_rej; i++)
		CU_ASSERT_EQUAL(publish_raising(pub, rejected[i], 1), 0);
	for (size_t i = 0; i < n_acc; i++)
		CU_ASSERT_EQUAL(publish_raising(pub, accepted[i], 1), 0);
	mq_drain(pub, 10000);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/", "\"raised\"", n_acc, 20000));
	hx_sub_settle(&sub, "alerts/", 1000, 5000);
	mq_destroy(pub, 2000);
	CU_ASSERT_EQUAL(stop_iotad(pid), 0);

	/* everything not ours went to alerts/{one level}, state/{one level} or the status */
	int outside = 0, alerts = 0;
	pthread_mutex_lock(&sub.lock);
	for (size_t i = 0; i < sub.n; i++) {
		const char *t = sub.msgs[i].topic;
		if (!strncmp(t, "telemetry", 9))
			continue;
		if (one_level_under(t, "alerts"))
			alerts++;
		else if (!one_level_under(t, "state") && strncmp(t, "iotad/status/", 13) != 0) {
			printf("\n    published outside alerts/+: '%.80s'\n", t);
			outside++;
		}
	}
	pthread_mutex_unlock(&sub.lock);
	CU_ASSERT_EQUAL(outside, 0);
	CU_ASSERT_EQUAL(alerts, (int)n_acc);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/..", "\"raised\""), 1);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/$SYS", "\"raised\""), 1);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/ok-1", "\"raised\""), 1);
	char want[200];
	snprintf(want, sizeof want, "alerts/%0127d", 0);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, want, "\"raised\""), 1);
	snprintf(want, sizeof want, " bad_topic=%zu", n_rej * 60);
	char *all = hx_read_file(log, NULL);
	const char *final = all ? strstr(all, "stats (final)") : NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(final);
	CU_ASSERT_PTR_NOT_NULL(strstr(final, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(final, "devices=4 "));
	free(all);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- broker unreachable at start: retry with backoff, never exit ------- */

static void test_broker_down_at_start(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	int port = hx_free_port();
	memset(&b, 0, sizeof b);
	snprintf(b.uri, sizeof b.uri, "tcp://127.0.0.1:%d", port);
	const char *log = hx_path("nobroker-iotad.log");
	char *argv[] = {(char *)hx_iotad(), "run", "-c",
			(char *)hx_config(&b, "nobroker.yaml", "iotad-nobroker", NULL), NULL};
	pid_t pid = hx_spawn(argv, log);
	CU_ASSERT_FATAL(pid > 0);
	/* several attempts fail (1 s, 2 s, 4 s apart) and the service stays up */
	CU_ASSERT_TRUE(hx_wait_log(log, "cannot connect", 10000));
	sleep(4);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 0), -1);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, port, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-nobroker-sub"), 0);
	/* the next attempt (backoff at most 30 s) connects and the service works */
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "iotad/status", "online", 1, 40000));
	CU_ASSERT_EQUAL(publish_raising(sub.client, "telemetry/late", 1), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/late", "\"raised\"", 1, 15000));
	CU_ASSERT_EQUAL(stop_iotad(pid), 0);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- table of bad input: each case its error, its counter, no side effect */

/* CLI, config and model cases run the real binary against a live broker
 * that records everything: each must exit with its status and message, and
 * none may connect or publish. {cfg} stands for a valid config file. */
typedef struct cli_case {
	const char *args[8];    /* after "iotad"; NULL-terminated */
	const char *config;     /* YAML written to the case's file, or NULL */
	const char *model_key;  /* model case: top-level key to replace ... */
	const char *model_json; /* ... with this JSON (NULL: delete the key) */
	int rc;
	const char *msg;
} cli_case;

static const cli_case cli_cases[] = {
	/* flags */
	{{"run", NULL}, NULL, NULL, NULL, 2, "a configuration file is required"},
	{{"run", "--bogus", NULL}, NULL, NULL, NULL, 2, "usage: iotad run"},
	{{"run", "-c", "{cfg}", "extra", NULL}, NULL, NULL, NULL, 2, "unexpected argument 'extra'"},
	{{"run", "-c", "{cfg}", "--log-level", "loud", NULL}, NULL, NULL, NULL, 2, "unknown log level 'loud'"},
	{{"run", "-c", "/nonexistent/iotad.yaml", NULL}, NULL, NULL, NULL, 2, "cannot open config file"},
	{{"frobnicate", NULL}, NULL, NULL, NULL, 2, "frobnicate"},
	{{"sim", "--devices", "0", NULL}, NULL, NULL, NULL, 2, "--devices '0'"},
	{{"sim", "--interval", "abc", NULL}, NULL, NULL, NULL, 2, "--interval"},
	{{"train", "--csv", "/nonexistent.csv", "-o", "/dev/null", NULL}, NULL, NULL, NULL, 1, "No such file"},
	{{"train", "--csv", "x.csv", "--ensemble", "9", NULL}, NULL, NULL, NULL, 2, "--ensemble: expected an integer in 1..8"},
	{{"train", "--csv", "x.csv", "-o", "m.json", "--int8", "m.json"}, NULL, NULL, NULL, 2, "--int8 and -o name the same file"},
	{{"quantize", "m.json", "-o", "m.iq8", NULL}, NULL, NULL, NULL, 2, "--csv FILE is required"},
	{{"quantize", "--csv", "x.csv", "-o", "m.iq8", NULL}, NULL, NULL, NULL, 2, "MODEL is required"},
	{{"quantize", "m.json", "--csv", "x.csv", "--holdout", "1", NULL}, NULL, NULL, NULL, 2, "--holdout: expected a number in [0, 0.99]"},
	{{"quantize", "/nonexistent.json", "--csv", "x.csv", "-o", "m.iq8"}, NULL, NULL, NULL, 1, "/nonexistent.json: No such file"},
	{{"eval", "--int8", "--detector", "pca", "x.csv", NULL}, NULL, NULL, NULL, 2, "--int8 quantizes the autoencoder"},
	{{"eval", "--time", "ts", "x.csv", NULL}, NULL, NULL, NULL, 2, "--time is the time column of --truth"},
	/* eval's detector flags are the config keys, with the config file's words */
	{{"eval", "--k", "40", "x.csv", NULL}, NULL, NULL, NULL, 2, "--alert-k: 40 is out of range [1, 32]"},
	{{"eval", "--score-alpha=2", "x.csv", NULL}, NULL, NULL, NULL, 2, "--score-alpha: 2 is out of range [0, 1]"},
	{{"eval", "--alert-k=4", "--train-rows=5", "x.csv", NULL}, NULL, NULL, NULL, 2, "--alert-k (4) must not exceed --alert-n (3)"},
	{{"eval", "--threshold", "median", "x.csv", NULL}, NULL, NULL, NULL, 2, "--threshold: expected static, adaptive, ewma, spot or dspot, got 'median'"},
	{{"config", "--check", "/nonexistent/iotad.yaml", NULL}, NULL, NULL, NULL, 1, "cannot open config file"},
	{{"config", NULL}, NULL, NULL, NULL, 2, "say --defaults or --check FILE"},
	{{"eval", "--train-rows=5", "--truth", "t.csv", "x.csv", NULL}, NULL, NULL, NULL, 2, "--truth needs the series column"},
	{{"eval", "--layout=sim", "--train-rows=5", "--truth=/nonexistent/t.csv", "x.csv", NULL}, NULL, NULL, NULL, 1, "/nonexistent/t.csv: No such file"},
	/* config */
	{{0}, "mqtt:\n  keepalive: -4\n", NULL, NULL, 2, "mqtt.keepalive"},
	{{0}, "mqtt:\n  bogus: 1\n", NULL, NULL, 2, "unknown key 'bogus'"},
	{{0}, "mqtt:\n  uri: \"open\n", NULL, NULL, 2, "YAML syntax error"},
	{{0}, "mqtt:\n  uri: http://example.com\n", NULL, NULL, 2, "mqtt.uri"},
	{{0}, "topics:\n  alerts: alerts/+\n", NULL, NULL, 2, "topics.alerts"},
	{{0}, "topics:\n  telemetry: tele#/x\n", NULL, NULL, 2, "not a valid MQTT topic filter"},
	{{0}, "detector:\n  alert_k: 5\n  alert_n: 3\n", NULL, NULL, 2, "must not exceed"},
	{{0}, "detector:\n  max_devices: 0\n", NULL, NULL, 2, "detector.max_devices"},
	{{0}, "detector:\n  alert_k: 40\n", NULL, NULL, 2, "detector.alert_k: 40 is out of range [1, 32]"},
	{{0}, "detector:\n  evict: oldest\n", NULL, NULL, 2, "expected lru or reject"},
	{{0}, "detector:\n  threshold_alpha: nan\n", NULL, NULL, 2, "finite"},
	{{0}, "service:\n  max_payload: 1\n", NULL, NULL, 2, "service.max_payload"},
	{{0}, "mqtt:\n  username: u\n  password_env: IOTAD_TEST_UNSET_VAR\n", NULL, NULL, 2, "IOTAD_TEST_UNSET_VAR is not set"},
	{{0}, "nosuch:\n  a: 1\n", NULL, NULL, 2, "unknown section 'nosuch'"},
	{{0}, "model:\n  window: 7\n", NULL, NULL, 2, "does not match the model's window"},
	/* model files */
	{{0}, NULL, "format", "\"not-a-model\"", 2, "format"},
	{{0}, NULL, "format_version", "99", 2, "format_version"},
	{{0}, NULL, "window", "0", 2, "window"},
	{{0}, NULL, "features", "\"temperature\"", 2, "features"},
	{{0}, NULL, "normalization", "\"minmax\"", 2, "normalization"},
	{{0}, NULL, "threshold", "-1", 2, "threshold"},
	{{0}, NULL, "layers", NULL, 2, "layers"},
	{{0}, NULL, "ensemble", "[{\"layers\": []}]", 2, "ensemble[0].layers: expected 1..8 layers"},
	{{0}, NULL, "stuck_after", "[1, 0, 0]", 2, "stuck_after[0]"},
	{{0}, NULL, "", "", 2, "empty file"},
	{{0}, NULL, "", "{\"format\": ", 2, "JSON parse error"},
};

/* Write the model case: the test model with key replaced, or raw text when
 * key is "". Returns the path. */
static const char *bad_model(size_t i, const cli_case *c)
{
	char name[64];
	snprintf(name, sizeof name, "bad-model-%zu.json", i);
	const char *path = hx_path(name);
	if (!c->model_key[0]) {
		CU_ASSERT_EQUAL(hx_write_file(path, c->model_json), 0);
		return path;
	}
	char *text = hx_read_file(hx_model(), NULL);
	cJSON *j = text ? cJSON_Parse(text) : NULL;
	free(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	cJSON_DeleteItemFromObject(j, c->model_key);
	if (c->model_json)
		cJSON_AddItemToObject(j, c->model_key, cJSON_Parse(c->model_json));
	char *out = cJSON_PrintUnformatted(j);
	CU_ASSERT_EQUAL(hx_write_file(path, out), 0);
	free(out);
	cJSON_Delete(j);
	return path;
}

static void test_bad_cli_config_model(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-badcli-sub"), 0);
	const char *good = hx_config(&b, "badcli-good.yaml", "iotad-badcli", NULL);
	char *good_text = hx_read_file(good, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(good_text);
	int failures = 0;
	size_t n = sizeof cli_cases / sizeof cli_cases[0];
	for (size_t i = 0; i < n; i++) {
		const cli_case *c = &cli_cases[i];
		char name[64], text[8192];
		snprintf(name, sizeof name, "badcli-%zu.yaml", i);
		const char *cfg = hx_path(name);
		if (c->config) /* the case's keys first: a duplicate section would hide them */
			snprintf(text, sizeof text, "%s", c->config);
		else if (c->model_key)
			snprintf(text, sizeof text, "mqtt:\n  uri: %s\nmodel:\n  path: %s\n", b.uri,
				 bad_model(i, c));
		else
			snprintf(text, sizeof text, "%s", good_text);
		if (c->config) { /* a case's model section comes last: the path joins it */
			size_t l = strlen(text);
			snprintf(text + l, sizeof text - l, "%s  path: %s\n",
				 strstr(c->config, "model:") ? "" : "model:\n", hx_model());
		}
		if (c->config && !strstr(c->config, "mqtt:")) {
			size_t l = strlen(text);
			snprintf(text + l, sizeof text - l, "mqtt:\n  uri: %s\n", b.uri);
		}
		CU_ASSERT_EQUAL_FATAL(hx_write_file(cfg, text), 0);
		char *argv[12];
		int a = 0;
		argv[a++] = (char *)hx_iotad();
		if (c->args[0]) {
			for (int k = 0; c->args[k]; k++)
				argv[a++] = (char *)(strcmp(c->args[k], "{cfg}") ? c->args[k] : cfg);
		} else {
			argv[a++] = "run";
			argv[a++] = "-c";
			argv[a++] = (char *)cfg;
		}
		argv[a] = NULL;
		snprintf(name, sizeof name, "badcli-%zu.log", i);
		const char *log = hx_path(name);
		int rc = hx_run(argv, log, 10000);
		char *out = hx_read_file(log, NULL);
		bool ok = rc == c->rc && out && strstr(out, c->msg);
		if (!ok) {
			printf("\n    case %zu: exit %d (want %d), output: %.300s", i, rc, c->rc,
			       out ? out : "(none)");
			failures++;
		}
		free(out);
	}
	printf("\n    bad cli/config/model: %zu cases, %d failed\n", n, failures);
	CU_ASSERT_EQUAL(failures, 0);
	/* none of them connected: no status, nothing published (all before
	 * the marker would have arrived before it) */
	CU_ASSERT_TRUE(hx_sub_marker(&sub, 5000));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, NULL, NULL), hx_sub_count(&sub, "hx-marker/", NULL));
	free(good_text);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* Payload and topic cases go through the running service: each is counted
 * under its reason in the final stats line, and none creates a device or an
 * alert. */
typedef struct msg_case {
	const char *topic;
	const char *payload;
	const char *reason;
} msg_case;

static const msg_case msg_cases[] = {
	{"telemetry/b1", "not json", "not_json"},
	{"telemetry/b1", "{\"temperature\": 21.0", "not_json"},
	{"telemetry/b1", "", "not_json"},
	{"telemetry/b1", "\xff\xfe{}", "not_json"},
	{"telemetry/b2", "[1,2,3]", "not_object"},
	{"telemetry/b2", "42", "not_object"},
	{"telemetry/b2", "\"text\"", "not_object"},
	{"telemetry/b3", "{\"temperature\":21,\"humidity\":50}", "missing_feature"},
	{"telemetry/b3", "{}", "missing_feature"},
	{"telemetry/b4", "{\"temperature\":\"hot\",\"humidity\":50,\"battery\":90}", "not_number"},
	{"telemetry/b4", "{\"temperature\":null,\"humidity\":50,\"battery\":90}", "not_number"},
	{"telemetry/b4", "{\"temperature\":true,\"humidity\":50,\"battery\":90}", "not_number"},
	{"telemetry/b5", "{\"temperature\":1e999,\"humidity\":50,\"battery\":90}", "not_finite"},
	{"telemetry/b5", "{\"temperature\":-1e999,\"humidity\":50,\"battery\":90}", "not_finite"},
	{"telemetry/b6", "{\"ts\":\"yesterday\",\"temperature\":21,\"humidity\":50,\"battery\":90}", "bad_ts"},
	{"telemetry/b6", "{\"ts\":[1],\"temperature\":21,\"humidity\":50,\"battery\":90}", "bad_ts"},
	{"telemetry/", "{\"temperature\":21,\"humidity\":50,\"battery\":90}", "bad_topic"},
	{"telemetry/sp ace", "{\"temperature\":21,\"humidity\":50,\"battery\":90}", "bad_topic"},
	{"telemetry/caf\xc3\xa9", "{\"temperature\":21,\"humidity\":50,\"battery\":90}", "bad_topic"},
	{NULL, NULL, "oversize"}, /* an 8 kB payload */
};

static void test_bad_messages_table(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-badmsg-sub"), 0);
	const char *log = hx_path("badmsg-iotad.log");
	pid_t pid = start_iotad(hx_config(&b, "badmsg.yaml", "iotad-badmsg", NULL), log, &sub);
	mq *pub = hx_publisher(&b, "it-badmsg-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	static char big[8192];
	memset(big, ' ', sizeof big);
	big[0] = '{';
	big[sizeof big - 1] = '}';
	size_t n = sizeof msg_cases / sizeof msg_cases[0];
	for (size_t i = 0; i < n; i++) {
		const msg_case *c = &msg_cases[i];
		if (c->topic)
			publish(pub, c->topic, c->payload, strlen(c->payload));
		else
			publish(pub, "telemetry/b7", big, sizeof big);
	}
	/* then a good device raises: the service is alive and everything above was seen */
	CU_ASSERT_EQUAL(publish_raising(pub, "telemetry/good", 1), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/good", "\"raised\"", 1, 15000));
	mq_destroy(pub, 2000);
	CU_ASSERT_EQUAL(stop_iotad(pid), 0);

	char *text = hx_read_file(log, NULL);
	const char *final = text ? strstr(text, "stats (final)") : NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(final);
	if (!final)
		return;
	char want[64];
	snprintf(want, sizeof want, "received=%zu ", n + 60);
	CU_ASSERT_PTR_NOT_NULL(strstr(final, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(final, "devices=1 "));
	for (size_t i = 0; i < n; i++) {
		size_t same = 0;
		for (size_t k = 0; k < n; k++)
			same += !strcmp(msg_cases[k].reason, msg_cases[i].reason);
		snprintf(want, sizeof want, " %s=%zu", msg_cases[i].reason, same);
		if (!strstr(final, want))
			printf("\n    missing '%s' in: %s", want, final);
		CU_ASSERT_PTR_NOT_NULL(strstr(final, want));
	}
	/* only the good device ever produced an event */
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/", NULL), hx_sub_count(&sub, "alerts/good", NULL));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "state/", NULL), hx_sub_count(&sub, "state/good", NULL));
	printf("\n    bad messages: %zu cases over %s", n, final);
	free(text);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name, *test;
		void (*fn)(void);
	} tests[] = {
#define IT(suite, kind, what, fn) {#suite, what, fn},
#include "suites.h"
#undef IT
	};
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite suite = NULL;
	const char *last = NULL;
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		int want = argc < 2;
		for (int a = 1; a < argc; a++)
			want |= !strcmp(argv[a], tests[i].name);
		if (!want)
			continue;
		if (!last || strcmp(last, tests[i].name)) {
			suite = CU_add_suite(tests[i].name, NULL, NULL);
			last = tests[i].name;
		}
		CU_add_test(suite, tests[i].test, tests[i].fn);
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	unsigned ran = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	return test_exit_status(failed, ran);
}
