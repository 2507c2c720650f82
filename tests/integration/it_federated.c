/* it_federated.c - the real `iotad aggregate` on a real mosquitto, with
 * three gateways simulated by MQTT clients that publish encoded updates. */
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
#include "iotad/afile.h"
#include "iotad/dpacct.h"
#include "iotad/fedmsg.h"
#include "iotad/model_io.h"
#include "iotad/mqtt.h"

#define PREFIX "iotad/fl"

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A line of the gateway's /metrics once it equals want (a counter moves
 * after the broker's acknowledgement), or its last value. */
static double metric_eq(int port, const char *series, double want)
{
	double v = -1;
	for (int waited = 0; waited <= 10000; waited += 100) {
		if ((v = hx_metric(port, series)) == want)
			break;
		nap_ms(100);
	}
	return v;
}

/* mosquitto as the harness starts it, with message_size_limit 4096 */
static int start_small_broker(hx_broker *b, int port)
{
	memset(b, 0, sizeof *b);
	b->port = port ? port : hx_free_port();
	snprintf(b->uri, sizeof b->uri, "tcp://127.0.0.1:%d", b->port);
	snprintf(b->conf, sizeof b->conf, "%s/mosquitto-fl-%d.conf", hx_tmpdir(), b->port);
	snprintf(b->log, sizeof b->log, "%s/mosquitto-fl-%d.log", hx_tmpdir(), b->port);
	char text[512];
	snprintf(text, sizeof text,
		 "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
		 "message_size_limit 4096\nuser root\nlog_dest stderr\n", b->port);
	if (hx_write_file(b->conf, text) != 0)
		return -1;
	char *argv[] = {"mosquitto", "-c", b->conf, NULL};
	b->pid = hx_spawn(argv, b->log);
	return b->pid > 0 && hx_wait_port(b->port, 10000) ? 0 : -1;
}

/* The last global model of at least round `round` the subscriber holds:
 * decoded into g and p (cap floats). true if found within timeout_ms. */
static bool wait_global(hx_sub *s, const char *topic, uint32_t round, fedmsg *g, float *p,
			size_t cap, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		bool found = false;
		pthread_mutex_lock(&s->lock);
		for (size_t i = s->n; i-- > 0 && !found;)
			if (!strcmp(s->msgs[i].topic, topic) &&
			    fedmsg_decode(s->msgs[i].payload, s->msgs[i].len, g, p, cap, NULL, 0) ==
				    IOTAD_OK &&
			    g->round >= round)
				found = true;
		pthread_mutex_unlock(&s->lock);
		if (found)
			return true;
		nap_ms(50);
	}
	return false;
}

/* A gateway: an MQTT client publishing on its own update topic. */
static mq *gateway(const hx_broker *b, const char *id)
{
	mq_opts o = {.uri = b->uri, .client_id = id, .keepalive = 10, .clean_session = true,
		     .max_inflight = 16};
	mq *c = NULL;
	CU_ASSERT_FATAL(mq_create(&o, &c) == IOTAD_OK && mq_start(c) == IOTAD_OK);
	CU_ASSERT_FATAL(mq_wait_connected(c, 10000));
	return c;
}

/* Publish gw's update for round trained from base: params = base model's + delta. */
static size_t send_update(mq *c, const char *mid, const char *gw, uint32_t round, uint32_t base,
			  uint32_t windows, const float *global, size_t n, float delta)
{
	float *p = malloc(n * sizeof *p);
	unsigned char buf[8192];
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		p[i] = global[i] + delta;
	fedmsg m = {.kind = FEDMSG_UPDATE, .round = round, .base_hash = base, .samples = windows,
		    .n_params = (uint32_t)n};
	snprintf(m.model, sizeof m.model, "%s", mid);
	snprintf(m.sender, sizeof m.sender, "%s", gw);
	CU_ASSERT_FATAL(fedmsg_encode(&m, p, buf, sizeof buf, &len) == IOTAD_OK);
	char topic[256];
	fedmsg_topic_update(PREFIX, mid, gw, topic, sizeof topic);
	CU_ASSERT(mq_publish(c, topic, buf, len, 1, false, 5000) == IOTAD_OK);
	free(p);
	return len;
}

static const char *agg_config(const hx_broker *b, const char *name, double timeout,
			      const char *state)
{
	const char *path = hx_path(name);
	char text[2048];
	snprintf(text, sizeof text,
		 "mqtt:\n  uri: %s\n  client_id: aggregator\n  keepalive: 5\n"
		 "model:\n  path: %s\n"
		 "service:\n  log_level: info\n"
		 "federated:\n  prefix: " PREFIX "\n  clients: 3\n  min_updates: 2\n"
		 "  round_timeout: %g\n  rule: mean\n  state_file: %s\n",
		 b->uri, hx_model(), timeout, state);
	return hx_write_file(path, text) == 0 ? path : NULL;
}

static pid_t start_aggregator(const char *config, const char *log)
{
	char *argv[] = {(char *)hx_iotad(), "aggregate", "-c", (char *)config, NULL};
	return hx_spawn(argv, log);
}

void it_federated_rounds(void)
{
	hx_broker b;
	hx_sub sub;
	CU_ASSERT_FATAL(hx_model() != NULL);
	model m = {0};
	char err[256];
	CU_ASSERT_FATAL(model_load(hx_model(), &m, err, sizeof err) == IOTAD_OK);
	size_t n = m.net.n_params;
	char t_global[256], t_stats[256];
	fedmsg_topic_global(PREFIX, m.id, t_global, sizeof t_global);
	snprintf(t_stats, sizeof t_stats, "%s/%s/stats", PREFIX, m.id);
	CU_ASSERT_FATAL(start_small_broker(&b, 0) == 0);
	CU_ASSERT_FATAL(hx_sub_start(&sub, b.uri, PREFIX "/#", "fl-watch") == 0);

	const char *state = hx_path("fl-global.bin");
	const char *log1 = hx_path("aggregate1.log"), *log2 = hx_path("aggregate2.log");
	pid_t agg = start_aggregator(agg_config(&b, "agg1.yaml", 60, state), log1);
	CU_ASSERT_FATAL(agg > 0);

	/* round 0: the model file's network, retained */
	float *g0 = malloc(n * sizeof *g0), *g = malloc(n * sizeof *g);
	fedmsg gm;
	CU_ASSERT_FATAL(wait_global(&sub, t_global, 0, &gm, g0, n, 15000));
	CU_ASSERT_EQUAL(gm.round, 0);
	CU_ASSERT_EQUAL(gm.base_hash, 0);
	CU_ASSERT_EQUAL(gm.hash, fedmsg_hash(0, g0, n));
	CU_ASSERT_EQUAL(memcmp(g0, m.net.params, n * sizeof *g0), 0);
	uint32_t h0 = gm.hash;

	/* round 1: two of three gateways, 100 and 300 windows, +0.4 and -0.4:
	 * FedAvg moves every parameter by (100 x 0.4 - 300 x 0.4) / 400 = -0.2 */
	mq *gw1 = gateway(&b, "gw-1"), *gw2 = gateway(&b, "gw-2"), *gw3 = gateway(&b, "gw-3");
	size_t len = send_update(gw1, m.id, "gw-1", 1, h0, 100, g0, n, 0.4f);
	printf("\n  update of %zu parameters: %zu bytes\n", n, len);
	CU_ASSERT(len <= 4096);
	send_update(gw2, m.id, "gw-2", 1, h0, 300, g0, n, -0.4f);
	CU_ASSERT_FATAL(wait_global(&sub, t_global, 1, &gm, g, n, 15000));
	CU_ASSERT_EQUAL(gm.round, 1);
	CU_ASSERT_EQUAL(gm.base_hash, h0);
	CU_ASSERT_EQUAL(gm.hash, fedmsg_hash(1, g, n));
	CU_ASSERT_EQUAL(gm.samples, 400);
	double worst = 0;
	for (size_t i = 0; i < n; i++)
		worst = fmax(worst, fabs((double)g[i] - ((double)g0[i] - 0.2)));
	CU_ASSERT(worst < 1e-5);
	uint32_t h1 = gm.hash;
	float *g1 = malloc(n * sizeof *g1);
	memcpy(g1, g, n * sizeof *g);

	/* round 2 open: gw-3's late round-1 update is stale, gw-1's second
	 * update a duplicate, garbage malformed; each counted on the stats topic */
	send_update(gw3, m.id, "gw-3", 1, h0, 50, g0, n, 0.1f);
	send_update(gw1, m.id, "gw-1", 2, h1, 100, g1, n, 0.1f);
	send_update(gw1, m.id, "gw-1", 2, h1, 100, g1, n, 0.1f);
	mq_publish(gw2, PREFIX "/it-model/update/gw-2", "IFL garbage", 11, 1, false, 5000);
	CU_ASSERT(hx_sub_wait(&sub, t_stats, "\"duplicate\":1", 1, 10000));
	CU_ASSERT(hx_sub_wait(&sub, t_stats, "\"stale\":1", 1, 10000));
	CU_ASSERT(hx_sub_wait(&sub, t_stats, "\"malformed\":1", 1, 10000));
	CU_ASSERT(hx_sub_wait(&sub, t_stats, "\"accepted\":3", 1, 10000));
	CU_ASSERT(hx_wait_log(log1, "refused: ", 5000)); /* rate-limited: the first of them */

	/* kill -9 with round 2 open: the state file holds round 1 */
	kill(agg, SIGKILL);
	hx_wait_exit(agg, 5000);
	void *saved;
	size_t saved_len;
	CU_ASSERT_FATAL(afile_read(state, 1 << 20, &saved, &saved_len) == IOTAD_OK);
	fedmsg sm;
	CU_ASSERT(fedmsg_decode(saved, saved_len, &sm, g, n, NULL, 0) == IOTAD_OK);
	CU_ASSERT(sm.round == 1 && sm.hash == h1 && sm.base_hash == h0);
	free(saved);

	/* restart (round timeout 2 s): resumes at round 1; gw-2 alone closes
	 * round 2 on the timeout, with round 1 as its parent */
	size_t before = hx_sub_count(&sub, t_global, NULL);
	agg = start_aggregator(agg_config(&b, "agg2.yaml", 2, state), log2);
	CU_ASSERT_FATAL(agg > 0);
	CU_ASSERT(hx_wait_log(log2, "resumed at round 1", 10000));
	CU_ASSERT(hx_sub_wait(&sub, t_global, NULL, before + 1, 10000));
	send_update(gw2, m.id, "gw-2", 2, h1, 70, g1, n, 0.05f);
	CU_ASSERT_FATAL(wait_global(&sub, t_global, 2, &gm, g, n, 15000));
	CU_ASSERT_EQUAL(gm.round, 2);
	CU_ASSERT_EQUAL(gm.base_hash, h1);
	CU_ASSERT_EQUAL(gm.samples, 70);
	CU_ASSERT(fabs((double)g[0] - ((double)g1[0] + 0.05)) < 1e-5);
	CU_ASSERT(hx_wait_log(log2, "round 2 closed with 1 of 3 updates", 5000));
	uint32_t h2 = gm.hash;

	/* the broker restarts without persistence: the aggregator publishes round 2 again */
	hx_sub_stop(&sub);
	int port = b.port;
	hx_broker_stop(&b, SIGTERM);
	CU_ASSERT_FATAL(start_small_broker(&b, port) == 0);
	hx_sub fresh;
	CU_ASSERT_FATAL(hx_sub_start(&fresh, b.uri, PREFIX "/#", "fl-watch-2") == 0);
	CU_ASSERT(wait_global(&fresh, t_global, 2, &gm, g, n, 45000));
	CU_ASSERT_EQUAL(gm.hash, h2);

	kill(agg, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(agg, 15000), 0);
	mq_destroy(gw1, 1000);
	mq_destroy(gw2, 1000);
	mq_destroy(gw3, 1000);
	hx_sub_stop(&fresh);
	hx_broker_stop(&b, SIGTERM);
	free(g0);
	free(g1);
	free(g);
	model_free(&m);
}

/* Copy a file (the gateway rewrites its model file). */
static int copy_file(const char *from, const char *to)
{
	size_t len;
	char *text = hx_read_file(from, &len);
	int rc = text ? hx_write_file(to, text) : -1;
	free(text);
	return rc;
}

/* Publish a global model of round with params (hash computed) as the aggregator would. */
static void send_global(mq *c, const char *mid, uint32_t round, uint32_t parent, const float *p,
			size_t n)
{
	unsigned char buf[8192];
	size_t len;
	fedmsg g = {.kind = FEDMSG_GLOBAL, .round = round, .base_hash = parent,
		    .hash = fedmsg_hash(round, p, n), .samples = 10, .n_params = (uint32_t)n};
	snprintf(g.model, sizeof g.model, "%s", mid);
	snprintf(g.sender, sizeof g.sender, "aggregator");
	CU_ASSERT_FATAL(fedmsg_encode(&g, p, buf, sizeof buf, &len) == IOTAD_OK);
	char topic[256];
	fedmsg_topic_global(PREFIX, mid, topic, sizeof topic);
	CU_ASSERT(mq_publish(c, topic, buf, len, 1, true, 5000) == IOTAD_OK);
}

void it_federated_gateway(void)
{
	hx_broker b;
	hx_sub sub;
	CU_ASSERT_FATAL(hx_model() != NULL);
	model m = {0};
	char err[256];
	CU_ASSERT_FATAL(model_load(hx_model(), &m, err, sizeof err) == IOTAD_OK);
	size_t n = m.net.n_params;
	char t_global[256], t_upd[256];
	fedmsg_topic_global(PREFIX, m.id, t_global, sizeof t_global);
	fedmsg_topic_update(PREFIX, m.id, "gw-real", t_upd, sizeof t_upd);
	CU_ASSERT_FATAL(start_small_broker(&b, 0) == 0);
	CU_ASSERT_FATAL(hx_sub_start(&sub, b.uri, "#", "fl-gw-watch") == 0);

	/* aggregator: K = N = 2 (the real gateway and a simulated one), DP-FedAvg
	 * with a noise small enough not to spoil the model (its epsilon is large:
	 * this checks that it travels, docs/federated.md gives useful levels) */
	const char *acfg = hx_path("agg-gw.yaml");
	char text[2048];
	snprintf(text, sizeof text,
		 "mqtt:\n  uri: %s\n  client_id: aggregator\n  keepalive: 5\n"
		 "model:\n  path: %s\nservice:\n  log_level: info\n"
		 "federated:\n  prefix: " PREFIX "\n  clients: 2\n  min_updates: 2\n"
		 "  round_timeout: 120\n  state_file: %s\n  clip: 5\n  noise: 0.001\n",
		 b.uri, hx_model(), hx_path("fl-gw-global.bin"));
	CU_ASSERT_FATAL(hx_write_file(acfg, text) == 0);
	const char *alog = hx_path("aggregate-gw.log");
	pid_t agg = start_aggregator(acfg, alog);
	CU_ASSERT_FATAL(agg > 0);
	float *g0 = malloc(n * sizeof *g0), *g = malloc(n * sizeof *g);
	fedmsg gm;
	CU_ASSERT_FATAL(wait_global(&sub, t_global, 0, &gm, g0, n, 15000));
	uint32_t h0 = gm.hash;

	/* the gateway: its own copy of the model file, which it rewrites; it
	 * sends int8 updates, the simulated one float32 (the aggregator mixes
	 * them; fedmsg's unit tests hold the float32 encoding byte for byte) */
	const char *gmodel = hx_path("gw-model.json");
	CU_ASSERT_FATAL(copy_file(hx_model(), gmodel) == 0);
	const char *gcfg = hx_path("gw.yaml");
	int hport = hx_free_port();
	snprintf(text, sizeof text,
		 "http:\n  listen: 127.0.0.1:%d\n"
		 "mqtt:\n  uri: %s\n  client_id: gw-real\n  keepalive: 5\n"
		 "topics:\n  telemetry: telemetry/+\n  device_level: 1\n"
		 "model:\n  path: %s\nservice:\n  log_level: info\n"
		 "federated:\n  prefix: " PREFIX "\n  enabled: true\n  local_epochs: 2\n"
		 "  windows_per_device: 8\n  min_windows: 16\n  max_devices: 16\n"
		 "  update_encoding: int8\n  dp_sgd_clip: 1\n  dp_sgd_noise: 0.01\n",
		 hport, b.uri, gmodel);
	CU_ASSERT_FATAL(hx_write_file(gcfg, text) == 0);
	const char *glog = hx_path("gateway.log");
	pid_t gwp = hx_start_iotad(gcfg, glog, &sub, 1);
	CU_ASSERT_FATAL(gwp > 0);

	/* normal telemetry: 8 devices x 300 samples; the gateway keeps 8 windows each */
	char *sim[] = {(char *)hx_iotad(), "sim", "--broker", (char *)b.uri, "--speed", "0",
		       "--quiet", "--normal-only", "--devices", "8", "--duration", "300",
		       "--interval", "1", "--seed", "4", NULL};
	CU_ASSERT_EQUAL(hx_run(sim, hx_path("sim-gw.log"), 120000), 0);

	/* its update of round 1, trained from round 0 */
	CU_ASSERT_FATAL(hx_sub_wait(&sub, t_upd, NULL, 1, 30000));
	fedmsg um;
	bool found = false;
	size_t ulen = 0;
	pthread_mutex_lock(&sub.lock);
	for (size_t i = 0; i < sub.n && !found; i++) {
		found = !strcmp(sub.msgs[i].topic, t_upd) &&
			fedmsg_decode(sub.msgs[i].payload, sub.msgs[i].len, &um, g, n, NULL, 0) ==
				IOTAD_OK;
		ulen = sub.msgs[i].len;
	}
	pthread_mutex_unlock(&sub.lock);
	CU_ASSERT_FATAL(found);
	printf("\n  int8 update of %zu parameters: %zu bytes\n", n, ulen);
	CU_ASSERT_EQUAL(um.encoding, FEDMSG_ENC_INT8);
	CU_ASSERT(ulen < fedmsg_size(&um) / 3);
	CU_ASSERT(hx_wait_log(glog, "int8 updates", 1000));
	CU_ASSERT_EQUAL(um.round, 1);
	CU_ASSERT_EQUAL(um.base_hash, h0);
	CU_ASSERT_STRING_EQUAL(um.sender, "gw-real");
	CU_ASSERT(um.samples >= 16 && um.samples <= 8 * 8);
	CU_ASSERT(memcmp(g, g0, n * sizeof *g) != 0); /* it trained */

	/* a simulated second gateway closes round 1; the real one checks the
	 * new global model on its windows, swaps it in and reloads */
	mq *gw2 = gateway(&b, "gw-sim");
	send_update(gw2, m.id, "gw-sim", 1, h0, 40, g0, n, 0.0f);
	CU_ASSERT_FATAL(wait_global(&sub, t_global, 1, &gm, g, n, 15000));
	uint32_t h1 = gm.hash;
	CU_ASSERT(hx_wait_log(glog, "global model of round 1", 15000));
	CU_ASSERT(hx_wait_log(glog, "accepted", 1000));
	CU_ASSERT(hx_wait_log(glog, "model: reloaded", 10000));
	model now = {0};
	CU_ASSERT_FATAL(model_load(gmodel, &now, err, sizeof err) == IOTAD_OK);
	CU_ASSERT_EQUAL(now.version, 1);
	CU_ASSERT_EQUAL(memcmp(now.net.params, g, n * sizeof *g), 0);
	model_free(&now);
	/* then it sends its update of round 2 from round 1 */
	CU_ASSERT(hx_sub_wait(&sub, t_upd, NULL, 2, 30000));
	/* round 1 is private: its epsilon travels with it and shows in /metrics */
	CU_ASSERT(gm.dp_delta == 1e-5f && gm.dp_noise == 0.001f);
	double want = dp_epsilon(1, 0.001, 1, 1e-5, NULL);
	CU_ASSERT(fabs(gm.dp_epsilon - want) < 1e-3 * want);
	CU_ASSERT_EQUAL(metric_eq(hport, "iotad_fl_round", 1), 1);
	CU_ASSERT(fabs(hx_metric(hport, "iotad_fl_epsilon") - want) < 1e-3 * want);
	CU_ASSERT_EQUAL(hx_metric(hport, "iotad_fl_delta"), 1e-5);
	CU_ASSERT(hx_metric(hport, "iotad_fl_rounds_joined_total") >= 2); /* rounds 0 and 1 */
	/* DP-SGD in its local training: a window-level epsilon that grows */
	CU_ASSERT(hx_wait_log(glog, "window-level epsilon", 1000));
	double we = hx_metric(hport, "iotad_fl_window_epsilon");
	CU_ASSERT(we > 0 && isfinite(we));
	CU_ASSERT_EQUAL(metric_eq(hport, "iotad_fl_updates_total{result=\"sent\"}", 2), 2);
	CU_ASSERT_EQUAL(hx_metric(hport, "iotad_fl_globals_total{result=\"accepted\"}"), 1);

	/* a poisoned global model (weights scrambled, valid hash) is refused and
	 * the model in use stays; a replayed round-1 model of other weights too */
	float *bad = malloc(n * sizeof *bad);
	for (size_t i = 0; i < n; i++)
		bad[i] = -3.0f * g[i] + 0.5f;
	send_global(gw2, m.id, 5, h1, bad, n);
	CU_ASSERT(hx_wait_log(glog, "global model of round 5 refused", 15000));
	send_global(gw2, m.id, 1, h0, g0, n);
	CU_ASSERT(hx_wait_log(glog, "stale or replayed", 15000));
	CU_ASSERT_EQUAL(metric_eq(hport, "iotad_fl_globals_total{result=\"refused\"}", 1), 1);
	CU_ASSERT_EQUAL(metric_eq(hport, "iotad_fl_globals_total{result=\"invalid\"}", 1), 1);
	CU_ASSERT_FATAL(model_load(gmodel, &now, err, sizeof err) == IOTAD_OK);
	CU_ASSERT_EQUAL(now.version, 1);
	model_free(&now);

	kill(gwp, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(gwp, 20000), 0);
	CU_ASSERT(hx_wait_log(glog, "1 global models accepted, 1 refused, 1 invalid", 2000));
	kill(agg, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(agg, 15000), 0);
	mq_destroy(gw2, 1000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
	free(bad);
	free(g0);
	free(g);
	model_free(&m);
}

void it_federated_alone(void)
{
	hx_broker b;
	hx_sub sub;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_FATAL(start_small_broker(&b, 0) == 0);
	CU_ASSERT_FATAL(hx_sub_start(&sub, b.uri, "#", "fl-alone-watch") == 0);
	const char *gmodel = hx_path("alone-model.json");
	CU_ASSERT_FATAL(copy_file(hx_model(), gmodel) == 0);
	model before = {0}, after = {0};
	char err[256], text[2048];
	CU_ASSERT_FATAL(model_load(gmodel, &before, err, sizeof err) == IOTAD_OK);
	const char *gcfg = hx_path("alone.yaml");
	snprintf(text, sizeof text,
		 "mqtt:\n  uri: %s\n  client_id: gw-alone\n  keepalive: 5\n"
		 "topics:\n  telemetry: telemetry/+\n  device_level: 1\n"
		 "model:\n  path: %s\nservice:\n  log_level: info\n"
		 "federated:\n  prefix: " PREFIX "\n  enabled: true\n"
		 "  windows_per_device: 8\n  min_windows: 16\n  local_interval: 2\n",
		 b.uri, gmodel);
	CU_ASSERT_FATAL(hx_write_file(gcfg, text) == 0);
	const char *glog = hx_path("alone.log");
	pid_t gwp = hx_start_iotad(gcfg, glog, &sub, 1);
	CU_ASSERT_FATAL(gwp > 0);
	char *sim[] = {(char *)hx_iotad(), "sim", "--broker", (char *)b.uri, "--speed", "0",
		       "--quiet", "--normal-only", "--devices", "8", "--duration", "300",
		       "--interval", "1", "--seed", "6", NULL};
	CU_ASSERT_EQUAL(hx_run(sim, hx_path("sim-alone.log"), 120000), 0);
	/* no aggregator: after local_interval it retrains on its sample, checks
	 * the result and swaps it in through the reload path */
	CU_ASSERT(hx_wait_log(glog, "retrained locally on", 20000));
	CU_ASSERT(hx_wait_log(glog, "model: reloaded", 10000));
	kill(gwp, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(gwp, 20000), 0);
	CU_ASSERT_FATAL(model_load(gmodel, &after, err, sizeof err) == IOTAD_OK);
	CU_ASSERT(after.version > before.version);
	CU_ASSERT(memcmp(after.net.params, before.net.params,
			 before.net.n_params * sizeof(float)) != 0);
	/* nothing was published as an update: there is no global model to train from */
	CU_ASSERT_EQUAL(hx_sub_count(&sub, PREFIX "/", NULL), 0);
	model_free(&before);
	model_free(&after);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* Run `iotad aggregate ARGS` and return its exit status; its output in log. */
static int aggregate_run(const char *a1, const char *a2, const char *log)
{
	char *argv[] = {(char *)hx_iotad(), "aggregate", (char *)a1, (char *)a2, NULL};
	return hx_run(argv, log, 20000);
}

void it_federated_cli(void)
{
	CU_ASSERT_FATAL(hx_model() != NULL);
	const char *log1 = hx_path("agg-cli1.log"), *log2 = hx_path("agg-cli2.log"),
		   *log3 = hx_path("agg-cli3.log"), *log4 = hx_path("agg-cli4.log"),
		   *log5 = hx_path("agg-cli5.log"), *log6 = hx_path("agg-cli6.log");
	CU_ASSERT_EQUAL(aggregate_run(NULL, NULL, log1), 2);
	CU_ASSERT(hx_wait_log(log1, "a configuration file is required (-c FILE)", 1000));
	CU_ASSERT_EQUAL(aggregate_run("--bogus", NULL, log2), 2);
	CU_ASSERT_EQUAL(aggregate_run("-c", hx_path("missing.yaml"), log3), 2);
	CU_ASSERT(hx_wait_log(log3, "cannot open config file", 1000));
	const char *cfg = hx_path("agg-bad.yaml");
	hx_write_file(cfg, "federated:\n  rule: average\n");
	CU_ASSERT_EQUAL(aggregate_run("-c", cfg, log4), 2);
	CU_ASSERT(hx_wait_log(log4, "federated.rule: expected mean, median or trimmed, got 'average'", 1000));
	/* a damaged state file is refused, never silently restarted from round 0 */
	const char *state = hx_path("agg-damaged.bin");
	hx_write_file(state, "IFL\x02 this is not a global model");
	char text[1024];
	snprintf(text, sizeof text,
		 "mqtt:\n  uri: tcp://127.0.0.1:1\nmodel:\n  path: %s\n"
		 "federated:\n  state_file: %s\n", hx_model(), state);
	hx_write_file(cfg, text);
	CU_ASSERT_EQUAL(aggregate_run("-c", cfg, log5), 2);
	CU_ASSERT(hx_wait_log(log5, "CRC mismatch (move it away to start again at round 0)", 1000));
	/* a model path that is not a model */
	snprintf(text, sizeof text, "model:\n  path: %s\n", cfg);
	hx_write_file(cfg, text);
	CU_ASSERT_EQUAL(aggregate_run("-c", cfg, log6), 2);
	CU_ASSERT(hx_wait_log(log6, "iotad aggregate: model ", 1000));
}
