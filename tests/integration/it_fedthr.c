/* it_fedthr.c - thresholds after a round, on a real mosquitto with the real
 * `iotad aggregate` and two real `iotad run` gateways: one calibrates its
 * own threshold on its held-out windows (federated.threshold gateway), the
 * other takes the aggregator's threshold for every gateway (global). A
 * third gateway is simulated by the test, so that rounds close only when it
 * says. */
#include "it_federated.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "it_http.h"
#include "iotad/fedcalmsg.h"
#include "iotad/fedmsg.h"
#include "iotad/model_io.h"
#include "iotad/mqtt.h"

#define PREFIX "iotad/fl"

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The latest message on topic decoded as a global model of round >= round. */
static bool last_global(hx_sub *s, const char *topic, uint32_t round, fedmsg *g, float *p,
			size_t cap, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		bool found = false;
		pthread_mutex_lock(&s->lock);
		for (size_t i = s->n; i-- > 0 && !found;)
			found = !strcmp(s->msgs[i].topic, topic) &&
				fedmsg_decode(s->msgs[i].payload, s->msgs[i].len, g, p, cap, NULL,
					      0) == IOTAD_OK && g->round >= round;
		pthread_mutex_unlock(&s->lock);
		if (found)
			return true;
		nap_ms(50);
	}
	return false;
}

/* The aggregator's threshold of round on topic. */
static bool threshold_of(hx_sub *s, const char *topic, uint32_t round, fedcal_global *t,
			 int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		bool found = false;
		pthread_mutex_lock(&s->lock);
		for (size_t i = s->n; i-- > 0 && !found;)
			found = !strcmp(s->msgs[i].topic, topic) &&
				fedcal_global_decode(s->msgs[i].payload, s->msgs[i].len, t, NULL,
						     0) == IOTAD_OK && t->round == round;
		pthread_mutex_unlock(&s->lock);
		if (found)
			return true;
		nap_ms(50);
	}
	return false;
}

static float file_threshold(const char *path, int *version)
{
	model m = {0};
	char err[256];
	float t = NAN;
	if (model_load(path, &m, err, sizeof err) == IOTAD_OK) {
		t = m.threshold;
		*version = m.version;
	}
	model_free(&m);
	return t;
}

static pid_t start_gateway(const hx_broker *b, hx_sub *sub, const char *id, const char *mode,
			   const char *pers, int hport, const char *mpath, const char *log,
			   size_t online)
{
	char text[2048], name[64];
	snprintf(name, sizeof name, "%s.yaml", id);
	const char *cfg = hx_path(name);
	snprintf(text, sizeof text,
		 "http:\n  listen: 127.0.0.1:%d\n"
		 "mqtt:\n  uri: %s\n  client_id: %s\n  keepalive: 5\n"
		 "topics:\n  telemetry: telemetry/+\n  device_level: 1\n"
		 "model:\n  path: %s\nservice:\n  log_level: info\n"
		 "federated:\n  prefix: " PREFIX "\n  enabled: true\n  local_epochs: 1\n"
		 "  windows_per_device: 10\n  min_windows: 16\n  max_devices: 16\n"
		 "  threshold: %s\n  holdout: 0.2\n  personalize: %s\n",
		 hport, b->uri, id, mpath, mode, pers);
	CU_ASSERT_FATAL(hx_write_file(cfg, text) == 0);
	return hx_start_iotad(cfg, log, sub, online);
}

static void publish(mq *c, const char *topic, const void *p, size_t len, bool retain)
{
	CU_ASSERT(mq_publish(c, topic, p, len, 1, retain, 5000) == IOTAD_OK);
}

void it_federated_thresholds(void)
{
	hx_broker b;
	hx_sub sub;
	CU_ASSERT_FATAL(hx_model() != NULL);
	model m = {0};
	char err[256], text[2048], t_global[256], t_thr[256], t_upd[256], t_cal[256];
	CU_ASSERT_FATAL(model_load(hx_model(), &m, err, sizeof err) == IOTAD_OK);
	size_t n = m.net.n_params;
	float base_thr = m.threshold;
	fedmsg_topic_global(PREFIX, m.id, t_global, sizeof t_global);
	fedmsg_topic_update(PREFIX, m.id, "gw-sim", t_upd, sizeof t_upd);
	fedcal_topic_threshold(PREFIX, m.id, t_thr, sizeof t_thr);
	fedcal_topic_calib(PREFIX, m.id, "gw-sim", t_cal, sizeof t_cal);
	CU_ASSERT_FATAL(hx_broker_start(&b, 0, false) == 0);
	CU_ASSERT_FATAL(hx_sub_start(&sub, b.uri, "#", "fl-thr-watch") == 0);

	/* aggregator: K = N = 3 (two real gateways and the simulated one) */
	const char *acfg = hx_path("agg-thr.yaml");
	snprintf(text, sizeof text,
		 "mqtt:\n  uri: %s\n  client_id: aggregator\n  keepalive: 5\n"
		 "model:\n  path: %s\nservice:\n  log_level: info\n"
		 "federated:\n  prefix: " PREFIX "\n  clients: 3\n  min_updates: 3\n"
		 "  round_timeout: 600\n", b.uri, hx_model());
	CU_ASSERT_FATAL(hx_write_file(acfg, text) == 0);
	const char *alog = hx_path("aggregate-thr.log");
	char *aargv[] = {(char *)hx_iotad(), "aggregate", "-c", (char *)acfg, NULL};
	pid_t agg = hx_spawn(aargv, alog);
	CU_ASSERT_FATAL(agg > 0);
	float *g0 = malloc(n * sizeof *g0), *g1 = malloc(n * sizeof *g1);
	fedmsg gm;
	CU_ASSERT_FATAL(last_global(&sub, t_global, 0, &gm, g0, n, 15000));
	uint32_t h0 = gm.hash;

	const char *ma = hx_path("gw-a-model.json"), *mb = hx_path("gw-b-model.json");
	size_t len;
	char *model_text = hx_read_file(hx_model(), &len);
	CU_ASSERT_FATAL(model_text && hx_write_file(ma, model_text) == 0 &&
			hx_write_file(mb, model_text) == 0);
	free(model_text);
	int pa = hx_free_port(), pb = hx_free_port();
	while (pb == pa)
		pb = hx_free_port();
	const char *la = hx_path("gw-a.log"), *lb = hx_path("gw-b.log");
	pid_t ga = start_gateway(&b, &sub, "gw-a", "gateway", "finetune", pa, ma, la, 1);
	pid_t gb = start_gateway(&b, &sub, "gw-b", "global", "off", pb, mb, lb, 2);
	CU_ASSERT_FATAL(ga > 0 && gb > 0);

	char *sim[] = {(char *)hx_iotad(), "sim", "--broker", (char *)b.uri, "--speed", "0",
		       "--quiet", "--normal-only", "--devices", "8", "--duration", "400",
		       "--interval", "1", "--seed", "5", NULL};
	CU_ASSERT_EQUAL(hx_run(sim, hx_path("sim-thr.log"), 120000), 0);

	/* both real gateways send their update of round 1; the simulated one
	 * closes the round */
	char ta[256], tb[256];
	fedmsg_topic_update(PREFIX, m.id, "gw-a", ta, sizeof ta);
	fedmsg_topic_update(PREFIX, m.id, "gw-b", tb, sizeof tb);
	CU_ASSERT_FATAL(hx_sub_wait(&sub, ta, NULL, 1, 30000));
	CU_ASSERT_FATAL(hx_sub_wait(&sub, tb, NULL, 1, 30000));
	mq *sim_gw = hx_publisher(&b, "gw-sim", 16);
	unsigned char buf[65536];
	fedmsg u = {.kind = FEDMSG_UPDATE, .round = 1, .base_hash = h0, .samples = 20,
		    .n_params = (uint32_t)n};
	snprintf(u.model, sizeof u.model, "%s", m.id);
	snprintf(u.sender, sizeof u.sender, "gw-sim");
	CU_ASSERT_FATAL(fedmsg_encode(&u, g0, buf, sizeof buf, &len) == IOTAD_OK);
	publish(sim_gw, t_upd, buf, len, false);
	CU_ASSERT_FATAL(last_global(&sub, t_global, 1, &gm, g1, n, 20000));
	uint32_t h1 = gm.hash;

	/* gateway mode: its own threshold on its held-out windows, in the model file */
	CU_ASSERT(hx_wait_log(la, "round 1: threshold of this gateway", 20000));
	CU_ASSERT(hx_wait_log(la, "model: reloaded", 10000));
	int va = 0, vb = 0;
	nap_ms(500);
	float thr_a = file_threshold(ma, &va);
	CU_ASSERT_EQUAL(va, 1);
	CU_ASSERT(isfinite(thr_a) && thr_a > 0 && thr_a != base_thr);
	double ga_gauge = hx_metric(pa, "iotad_fl_threshold{calibration=\"gateway\"}");
	CU_ASSERT(fabs(ga_gauge - thr_a) <= 1e-5 * thr_a);
	printf("\n  base threshold %.6g; gateway gw-a after round 1: %.6g\n", (double)base_thr,
	       (double)thr_a);
	/* gw-a personalizes (finetune): it chose one of three on its held-out
	 * windows, and still sent its update trained from the global model */
	CU_ASSERT(hx_wait_log(la, "round 1: serving the", 1000));
	double served = 0;
	const char *kinds[3] = {"global", "tuned", "own"};
	for (int k = 0; k < 3; k++) {
		char series[96];
		snprintf(series, sizeof series, "iotad_fl_served_total{model=\"%s\"}", kinds[k]);
		served += hx_metric(pa, series);
	}
	CU_ASSERT(served >= 2); /* rounds 0 and 1 */
	CU_ASSERT(hx_sub_wait(&sub, ta, NULL, 2, 30000));

	/* global mode: the aggregator's threshold once the third summary comes */
	CU_ASSERT(hx_wait_log(lb, "round 1: threshold of this gateway", 20000));
	CU_ASSERT(hx_wait_log(alog, "held-out scores of gw-a", 10000));
	CU_ASSERT(hx_wait_log(alog, "held-out scores of gw-b", 10000));
	fedcal_summary s = {.round = 1, .hash = h1, .windows = 30, .threshold = 2 * base_thr};
	snprintf(s.model, sizeof s.model, "%s", m.id);
	snprintf(s.gateway, sizeof s.gateway, "gw-sim");
	for (int i = 0; i < FEDCALMSG_NQ; i++)
		s.q[i] = base_thr * (0.5f + 1.5f * (float)i / (FEDCALMSG_NQ - 1));
	char js[FEDCALMSG_MAX];
	CU_ASSERT_FATAL(fedcal_summary_encode(&s, js, sizeof js, &len) == IOTAD_OK);
	publish(sim_gw, t_cal, js, len, false);
	fedcal_global tg;
	CU_ASSERT_FATAL(threshold_of(&sub, t_thr, 1, &tg, 15000));
	CU_ASSERT_EQUAL(tg.gateways, 3);
	CU_ASSERT_EQUAL(tg.hash, h1);
	CU_ASSERT(hx_wait_log(lb, "threshold of round 1 for every gateway", 15000));
	nap_ms(1000);
	float thr_b = file_threshold(mb, &vb);
	CU_ASSERT_EQUAL(vb, 1);
	CU_ASSERT(fabs(thr_b - tg.threshold) <= 1e-5 * tg.threshold);
	CU_ASSERT(fabs(hx_metric(pb, "iotad_fl_threshold{calibration=\"global\"}") -
		       tg.threshold) <= 1e-5 * tg.threshold);
	printf("  global threshold of round 1 (3 gateways): %.6g; gw-b uses it\n",
	       (double)tg.threshold);
	/* both reported on the stats topic */
	char t_stats[256];
	snprintf(t_stats, sizeof t_stats, PREFIX "/%s/stats", m.id);
	CU_ASSERT(hx_sub_wait(&sub, t_stats, "\"gateway_thresholds\":{\"gw-", 1, 10000));
	CU_ASSERT(hx_sub_wait(&sub, t_stats, "\"threshold\":{\"round\":1", 1, 10000));

	/* a refused model changes no threshold: a poisoned round 5 and a
	 * threshold of a round the gateway never accepted */
	float *bad = malloc(n * sizeof *bad);
	for (size_t i = 0; i < n; i++)
		bad[i] = -3.0f * g1[i] + 0.5f;
	fedmsg pg = {.kind = FEDMSG_GLOBAL, .round = 5, .base_hash = h1,
		     .hash = fedmsg_hash(5, bad, n), .samples = 10, .n_params = (uint32_t)n};
	snprintf(pg.model, sizeof pg.model, "%s", m.id);
	snprintf(pg.sender, sizeof pg.sender, "aggregator");
	CU_ASSERT_FATAL(fedmsg_encode(&pg, bad, buf, sizeof buf, &len) == IOTAD_OK);
	publish(sim_gw, t_global, buf, len, false);
	fedcal_global fake = {.round = 5, .hash = pg.hash, .threshold = 100 * base_thr,
			      .percentile = 99, .gateways = 3, .windows = 90};
	snprintf(fake.model, sizeof fake.model, "%s", m.id);
	CU_ASSERT_FATAL(fedcal_global_encode(&fake, js, sizeof js, &len) == IOTAD_OK);
	publish(sim_gw, t_thr, js, len, false);
	CU_ASSERT(hx_wait_log(la, "global model of round 5 refused", 15000));
	CU_ASSERT(hx_wait_log(lb, "global model of round 5 refused", 15000));
	nap_ms(1000);
	int v2 = 0;
	CU_ASSERT_EQUAL(file_threshold(ma, &v2), thr_a);
	CU_ASSERT_EQUAL(v2, 1);
	CU_ASSERT_EQUAL(file_threshold(mb, &v2), thr_b);
	CU_ASSERT_EQUAL(v2, 1);

	kill(ga, SIGTERM);
	kill(gb, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(ga, 20000), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(gb, 20000), 0);
	kill(agg, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(agg, 15000), 0);
	mq_destroy(sim_gw, 1000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
	free(bad);
	free(g0);
	free(g1);
	model_free(&m);
}
