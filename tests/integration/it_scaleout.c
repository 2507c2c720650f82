/* it_scaleout.c - several iotad instances behind a NATS cluster (3 nodes
 * on loopback ports, JetStream, MQTT listeners, an account mapping that
 * partitions telemetry.* by device into part.{{partition(4,1)}}.*): each
 * instance k subscribes to part/k/+ and publishes its alerts under
 * alerts/i{k}/. The same simulated stream goes once through one instance on
 * mosquitto (the reference); the cluster run must give every device's
 * events from exactly one instance (the one its FNV-1a hash names) and
 * the reference's events, through a kill -9 of a NATS node mid-stream
 * and a kill -9 and restart of an instance. */
#include "it_scaleout.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "../skip.h"
#include "harness.h"
#include "iotad/topic.h"

#define SO_NODES 3
#define SO_INST 4
#define SO_PARTS 3
#define SO_T0 1700000000

typedef struct so_node {
	pid_t pid;
	int client, route, mqtt;
	char uri[64], conf[512], log[512];
} so_node;

typedef struct so_event {
	char device[48], state[16];
	double ts;
	int inst; /* -1: the reference's (alerts/DEVICE) */
} so_event;

typedef struct so_run {
	int devices, duration; /* simulated devices and seconds of their time (10 s a sample) */
	so_node node[SO_NODES];
	pid_t pid[SO_INST];
	char config[SO_INST][512], log[SO_INST][2][512];
} so_run;

static bool so_have_nats(void)
{
	char *argv[] = {"nats-server", "--version", NULL};
	return hx_run(argv, hx_path("nats-version.log"), 10000) == 0;
}

/* Three nodes: routes to each other, JetStream in the temporary folder, an
 * MQTT listener, one account with the partition mapping. 0 on success. */
static int so_cluster_start(so_run *r)
{
	char routes[256] = "";
	for (int i = 0; i < SO_NODES; i++) {
		so_node *n = &r->node[i];
		n->client = hx_free_port();
		n->route = hx_free_port();
		n->mqtt = hx_free_port();
		snprintf(n->uri, sizeof n->uri, "tcp://127.0.0.1:%d", n->mqtt);
		size_t l = strlen(routes);
		snprintf(routes + l, sizeof routes - l, "%snats-route://127.0.0.1:%d", i ? ", " : "",
			 n->route);
	}
	for (int i = 0; i < SO_NODES; i++) {
		so_node *n = &r->node[i];
		char text[2048];
		snprintf(n->conf, sizeof n->conf, "%s/nats-n%d.conf", hx_tmpdir(), i);
		snprintf(n->log, sizeof n->log, "%s/nats-n%d.log", hx_tmpdir(), i);
		snprintf(text, sizeof text,
			 "server_name: n%d\n"
			 "listen: 127.0.0.1:%d\n"
			 "jetstream { store_dir: \"%s/nats-js%d\" }\n"
			 "cluster { name: iotad-it, listen: 127.0.0.1:%d, routes: [%s] }\n"
			 /* one QoS 1 message in flight a session, redelivered after
			  * 2 s: a failover keeps each device's order */
			 "mqtt { listen: 127.0.0.1:%d, max_ack_pending: 1, ack_wait: \"2s\" }\n"
			 "accounts {\n"
			 "  IOT {\n"
			 "    jetstream: enabled\n"
			 "    users: [{user: iotad, password: iotad}]\n"
			 "    mappings: { \"telemetry.*\": \"part.{{partition(%d,1)}}.{{wildcard(1)}}\" }\n"
			 "  }\n"
			 "}\n"
			 "no_auth_user: iotad\n",
			 i, n->client, hx_tmpdir(), i, n->route, routes, n->mqtt, SO_INST);
		if (hx_write_file(n->conf, text) != 0)
			return -1;
		char *argv[] = {"nats-server", "-c", n->conf, NULL};
		n->pid = hx_spawn(argv, n->log);
		if (n->pid < 0)
			return -1;
	}
	for (int i = 0; i < SO_NODES; i++)
		if (!hx_wait_port(r->node[i].mqtt, 15000))
			return -1;
	/* JetStream elects its leaders after the listeners open: ready when a
	 * persistent MQTT session can be made on every node */
	for (int i = 0; i < SO_NODES; i++) {
		bool ok = false;
		for (int t = 0; t < 6 && !ok; t++) {
			hx_sub probe;
			char id[32];
			snprintf(id, sizeof id, "it-so-probe-%d-%d", i, t);
			ok = hx_sub_start_persistent(&probe, r->node[i].uri, "probe/#", id) == 0;
			hx_sub_stop(&probe);
		}
		if (!ok)
			return -1;
	}
	return 0;
}

static void so_cluster_stop(so_run *r)
{
	for (int i = 0; i < SO_NODES; i++)
		if (r->node[i].pid > 0) {
			kill(r->node[i].pid, SIGTERM);
			if (hx_wait_exit(r->node[i].pid, 10000) < 0) {
				kill(r->node[i].pid, SIGKILL);
				hx_wait_exit(r->node[i].pid, 5000);
			}
			r->node[i].pid = 0;
		}
}

/* The simulated stream (every device, 10 s a sample) cut by rows into
 * SO_PARTS consecutive CSV files so-part-1.csv.., each with the header. */
static int so_make_parts(const so_run *r)
{
	char devices[16], duration[16];
	snprintf(devices, sizeof devices, "%d", r->devices);
	snprintf(duration, sizeof duration, "%d", r->duration);
	char *sim[] = {(char *)hx_iotad(), "sim", "--csv", (char *)hx_path("so-all.csv"),
		       "--truth", (char *)hx_path("so-truth.csv"), "--devices", devices,
		       "--duration", duration, "--interval", "10", "--warmup", "600",
		       "--anomaly-every", "3000", "--anomaly-len", "300", "--start-ts", "1700000000",
		       "--seed", "11", "--quiet", NULL};
	if (hx_run(sim, hx_path("so-sim.log"), 120000) != 0)
		return -1;
	return hx_split_csv("so-all.csv", "so-part", SO_PARTS);
}

/* Publish part k as fast as the broker takes it (QoS 1, a persistent
 * session: what is in flight when a node dies is sent again), in the
 * background: returns the simulator's pid. */
static pid_t so_replay(const char *uri, int k)
{
	char name[32], log[32], id[32];
	snprintf(name, sizeof name, "so-part-%d.csv", k);
	snprintf(log, sizeof log, "so-replay-%d.log", k);
	snprintf(id, sizeof id, "it-so-fleet-%d", k);
	char *argv[] = {(char *)hx_iotad(), "sim", "--replay", (char *)hx_path(name),
			"--device-col", "device", "--time-col", "ts", "--speed", "0",
			"--broker", (char *)uri, "--client-id", id, "--persistent", "--quiet", NULL};
	return hx_spawn(argv, hx_path(log));
}

/* A publisher on uri under a client id of its own (NULL on failure). */
static mq *so_pub(const char *uri, const char *id)
{
	mq *pub;
	mq_opts o = {.uri = uri, .client_id = id, .keepalive = 10, .clean_session = true,
		     .max_inflight = 64};
	if (mq_create(&o, &pub) != IOTAD_OK)
		return NULL;
	if (mq_start(pub) != IOTAD_OK || !mq_wait_connected(pub, 20000)) {
		mq_destroy(pub, 0);
		return NULL;
	}
	return pub;
}

/* Marker devices of shards 0..n-1 in phase p each raise an alert (under
 * alerts/i{shard} when per_inst, else alerts): once they arrive, every
 * instance has scored everything published before them. */
static void so_marks_at(const char *uri, hx_sub *sub, bool per_inst, int p, int n)
{
	char id[32];
	snprintf(id, sizeof id, "it-so-mark-%d-%d", p, n);
	mq *pub = so_pub(uri, id);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	char dev[SO_INST][32], topic[192], msg[160];
	for (int k = 0; k < n; k++)
		for (int j = 0;; j++) {
			snprintf(dev[k], sizeof dev[k], "mark-%d-%d-%d", p, k, j);
			if (topic_shard(dev[k], (uint32_t)n) == (uint32_t)k)
				break;
		}
	for (int i = 0; i < 60; i++)
		for (int k = 0; k < n; k++) {
			bool hot = i >= 30;
			int len = snprintf(msg, sizeof msg,
					   "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":%.1f,"
					   "\"battery\":%.1f}", SO_T0 + i,
					   hot ? 60.0 : 21.0 + 0.01 * (i % 3), 48.0 + 0.1 * (i % 2),
					   97.0 - 0.1 * (i % 2));
			snprintf(topic, sizeof topic, "telemetry/%s", dev[k]);
			CU_ASSERT_EQUAL_FATAL(mq_publish(pub, topic, msg, (size_t)len, 1, false,
							 10000), IOTAD_OK);
		}
	CU_ASSERT(mq_drain(pub, 10000));
	mq_destroy(pub, 2000);
	for (int k = 0; k < n; k++) {
		char prefix[32] = "alerts";
		if (per_inst)
			snprintf(prefix, sizeof prefix, "alerts/i%d", k);
		snprintf(topic, sizeof topic, "%s/%s", prefix, dev[k]);
		CU_ASSERT_FATAL(hx_sub_wait(sub, topic, "\"raised\"", 1, 60000));
	}
}

/* The events of simulated devices (sensor-*) the subscriber holds, with the
 * instance from alerts/i{k}/DEVICE (malloc'd). */
static so_event *so_events(hx_sub *s, size_t *n)
{
	*n = 0;
	pthread_mutex_lock(&s->lock);
	so_event *ev = calloc(s->n + 1, sizeof *ev);
	for (size_t i = 0; ev && i < s->n; i++) {
		const char *t = s->msgs[i].topic;
		if (!t || strncmp(t, "alerts/", 7) || !strstr(t, "/sensor-"))
			continue;
		int inst = -1;
		if (t[7] == 'i' && sscanf(t + 8, "%d", &inst) != 1)
			inst = -2;
		cJSON *o = cJSON_Parse(s->msgs[i].payload);
		const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "device");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
		bool ok = cJSON_IsString(dev) && cJSON_IsString(st) && cJSON_IsNumber(ts);
		CU_ASSERT(ok);
		if (ok) {
			so_event *e = &ev[(*n)++];
			snprintf(e->device, sizeof e->device, "%s", dev->valuestring);
			snprintf(e->state, sizeof e->state, "%s", st->valuestring);
			e->ts = ts->valuedouble;
			e->inst = inst;
		}
		cJSON_Delete(o);
	}
	pthread_mutex_unlock(&s->lock);
	return ev;
}

/* An iotad config: broker uris (a YAML scalar or list), telemetry filter
 * and device level, alert prefix, state file saved every second. */
static const char *so_config(const char *name, const char *id, const char *uris,
			     const char *filter, int level, const char *alerts)
{
	char text[4096], state[64];
	snprintf(state, sizeof state, "%s.state", id);
	snprintf(text, sizeof text,
		 "mqtt:\n  uri: %s\n  client_id: %s\n  keepalive: 5\n"
		 "topics:\n  telemetry: %s\n  device_level: %d\n  alerts: %s\n"
		 "  state: state/{instance}\n"
		 "model:\n  path: %s\n"
		 "detector:\n  max_devices: 1000\n"
		 "service:\n  log_level: info\n  state_file: %s\n  state_interval: 1\n",
		 uris, id, filter, level, alerts, hx_model(), hx_path(state));
	const char *path = hx_path(name);
	return hx_write_file(path, text) == 0 ? path : NULL;
}

/* The undisturbed run: one instance on mosquitto, every part, no fault. */
static so_event *so_reference(size_t *n)
{
	hx_broker b;
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-so-ref-sub"), 0);
	const char *config = so_config("so-ref.yaml", "iotad-so-ref", b.uri, "telemetry/+", 1,
				       "alerts");
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	pid_t pid = hx_start_iotad(config, hx_path("so-ref.log"), &sub, 1);
	CU_ASSERT_FATAL(pid > 0);
	for (int k = 1; k <= SO_PARTS; k++) {
		CU_ASSERT_EQUAL_FATAL(hx_wait_exit(so_replay(b.uri, k), 300000), 0);
		so_marks_at(b.uri, &sub, false, k, 1);
	}
	hx_sub_settle(&sub, "alerts/", 1000, 10000);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	so_event *ev = so_events(&sub, n);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
	return ev;
}

/* Instance k: the cluster's nodes from node k mod 3 on, its partition. */
static void so_instance_config(so_run *r, int k)
{
	char uris[256] = "[", name[32], id[32], filter[32], alerts[32];
	for (int j = 0; j < SO_NODES; j++) {
		size_t l = strlen(uris);
		snprintf(uris + l, sizeof uris - l, "%s%s", j ? ", " : "",
			 r->node[(k + j) % SO_NODES].uri);
	}
	strcat(uris, "]");
	snprintf(name, sizeof name, "so-i%d.yaml", k);
	snprintf(id, sizeof id, "iotad-so-i%d", k);
	snprintf(filter, sizeof filter, "part/%d/+", k);
	snprintf(alerts, sizeof alerts, "alerts/i%d", k);
	const char *path = so_config(name, id, uris, filter, 2, alerts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	snprintf(r->config[k], sizeof r->config[k], "%s", path);
	for (int t = 0; t < 2; t++) {
		snprintf(name, sizeof name, "so-i%d-%d.log", k, t + 1);
		snprintf(r->log[k][t], sizeof r->log[k][t], "%s", hx_path(name));
	}
}

static void so_marks(so_run *r, hx_sub *sub, int phase)
{
	so_marks_at(r->node[2].uri, sub, true, phase, SO_INST);
}

static void so_scaleout(int devices, int duration)
{
	if (!so_have_nats()) {
		test_skip_data("nats-server is not installed (scripts/deps.sh installs it)");
		return;
	}
	CU_ASSERT_FATAL(hx_model() != NULL);
	so_run *r = calloc(1, sizeof *r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	r->devices = devices;
	r->duration = duration;
	CU_ASSERT_EQUAL_FATAL(so_make_parts(r), 0);
	size_t n_ref = 0;
	so_event *ref = so_reference(&n_ref);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ref);

	CU_ASSERT_EQUAL_FATAL(so_cluster_start(r), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start_persistent(&sub, r->node[2].uri, "alerts/#", "it-so-sub"),
			      0);
	CU_ASSERT_EQUAL_FATAL(mq_subscribe(sub.client, "iotad/#", 1), IOTAD_OK);
	CU_ASSERT_FATAL(mq_wait_subscribed(sub.client, 10000));
	for (int k = 0; k < SO_INST; k++) {
		so_instance_config(r, k);
		r->pid[k] = hx_start_iotad(r->config[k], r->log[k][0], &sub, (size_t)k + 1);
		CU_ASSERT_FATAL(r->pid[k] > 0);
	}

	/* part 1 undisturbed */
	CU_ASSERT_EQUAL_FATAL(hx_wait_exit(so_replay(r->node[2].uri, 1), 300000), 0);
	so_marks(r, &sub, 1);

	/* part 2: node 0 (where instances 0 and 3 are connected) dies mid-stream */
	pid_t sim = so_replay(r->node[2].uri, 2);
	usleep(1500 * 1000);
	CU_ASSERT_EQUAL(kill(r->node[0].pid, SIGKILL), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(r->node[0].pid, 10000), 128 + SIGKILL);
	r->node[0].pid = 0;
	CU_ASSERT_EQUAL(hx_wait_exit(sim, 300000), 0);
	/* the fleet's publisher: every message acknowledged, through a lost
	 * connection when its node lost the stream's leader */
	char *text = hx_read_file(hx_path("so-replay-2.log"), NULL);
	const char *cluster_run = text ? strstr(text, r->node[2].uri) : NULL;
	bool publisher_cut = cluster_run && strstr(cluster_run, "lost (");
	CU_ASSERT_PTR_NOT_NULL(cluster_run ? strstr(cluster_run, " 0 failures") : NULL);
	free(text);
	/* instances 0 and 3 lost node 0 and are back on another one */
	for (int k = 0; k < SO_INST; k += 3) {
		char *ilog = hx_read_file(r->log[k][0], NULL);
		const char *lost = ilog ? strstr(ilog, "lost (") : NULL;
		CU_ASSERT_PTR_NOT_NULL(lost);
		CU_ASSERT_PTR_NOT_NULL(lost ? strstr(lost, "mqtt: reconnected to a node of mqtt.uri")
					    : NULL);
		free(ilog);
	}
	so_marks(r, &sub, 2);

	/* part 3 while instance 1 is dead (kill -9 after a state save); it
	 * comes back from its state file and its broker session */
	char state[64];
	snprintf(state, sizeof state, "iotad-so-i1.state");
	CU_ASSERT_TRUE(hx_wait_written(hx_path(state), 10000));
	CU_ASSERT_EQUAL(kill(r->pid[1], SIGKILL), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(r->pid[1], 10000), 128 + SIGKILL);
	CU_ASSERT_EQUAL_FATAL(hx_wait_exit(so_replay(r->node[2].uri, 3), 300000), 0);
	size_t online = hx_sub_count(&sub, "iotad/status", "online");
	r->pid[1] = hx_start_iotad(r->config[1], r->log[1][1], &sub, online + 1);
	CU_ASSERT_FATAL(r->pid[1] > 0);
	CU_ASSERT_TRUE(hx_wait_log(r->log[1][1], "state: restored", 10000));
	so_marks(r, &sub, 3);
	hx_sub_settle(&sub, "alerts/", 1500, 15000);
	for (int k = 0; k < SO_INST; k++) {
		CU_ASSERT_EQUAL(kill(r->pid[k], SIGTERM), 0);
		CU_ASSERT_EQUAL(hx_wait_exit(r->pid[k], 20000), 0);
	}

	/* every reference event, from the instance of its device's shard;
	 * extra copies only as QoS 1 duplicates; nothing else */
	size_t n_got = 0;
	so_event *got = so_events(&sub, &n_got);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	bool *used = calloc(n_got + 1, sizeof *used);
	CU_ASSERT_PTR_NOT_NULL_FATAL(used);
	size_t missing = 0, dups = 0, other = 0, wrong_inst = 0;
	size_t per_inst[SO_INST] = {0};
	for (size_t i = 0; i < n_ref; i++) {
		size_t copies = 0;
		for (size_t j = 0; j < n_got; j++)
			if (!strcmp(ref[i].device, got[j].device) &&
			    !strcmp(ref[i].state, got[j].state) && ref[i].ts == got[j].ts) {
				copies++;
				used[j] = true;
			}
		missing += copies == 0;
		dups += copies > 1 ? copies - 1 : 0;
	}
	for (size_t j = 0; j < n_got; j++) {
		int want = (int)topic_shard(got[j].device, SO_INST);
		if (got[j].inst != want) {
			wrong_inst++;
			printf("\n    %s from instance %d, its shard is %d", got[j].device,
			       got[j].inst, want);
		} else {
			per_inst[want]++;
		}
		if (!used[j]) {
			other++;
			printf("\n    unexpected: %s %s ts %.0f", got[j].device, got[j].state,
			       got[j].ts);
		}
	}
	CU_ASSERT(n_ref >= 10);
	CU_ASSERT_EQUAL(missing, 0);
	CU_ASSERT_EQUAL(other, 0);
	CU_ASSERT_EQUAL(wrong_inst, 0);
	for (int k = 0; k < SO_INST; k++)
		CU_ASSERT(per_inst[k] > 0);
	printf("\n    node 0 killed mid-stream: the fleet's publisher %s its connection",
	       publisher_cut ? "lost (and resent in-flight messages on)" : "kept");
	printf("\n    scale-out: %d devices, %d nodes, %d instances: reference %zu events, "
	       "cluster %zu (by instance %zu/%zu/%zu/%zu), missing %zu, duplicates %zu, "
	       "unexpected %zu, from another shard %zu", devices, SO_NODES, SO_INST, n_ref, n_got,
	       per_inst[0], per_inst[1], per_inst[2], per_inst[3], missing, dups, other,
	       wrong_inst);
	free(used);
	free(got);
	free(ref);
	hx_sub_stop(&sub);
	so_cluster_stop(r);
	free(r);
}

/* Two instances on one mosquitto, both on telemetry/+ with shard 0/2 and
 * 1/2: each device raises on the instance its hash names, never on both.
 * The second has a node that is down first in mqtt.uri. */
void it_shard_mosquitto(void)
{
	CU_ASSERT_FATAL(hx_model() != NULL);
	hx_broker b;
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-shard-sub"), 0);
	pid_t pid[2];
	for (int k = 0; k < 2; k++) {
		char name[32], id[32], alerts[32], extra[64];
		snprintf(name, sizeof name, "shard-%d.yaml", k);
		snprintf(id, sizeof id, "iotad-shard-%d", k);
		snprintf(alerts, sizeof alerts, "alerts/i%d", k);
		/* instance 1's first node is down: it connects through the second */
		char uris[160];
		snprintf(uris, sizeof uris, "[tcp://127.0.0.1:%d, %s]", hx_free_port(), b.uri);
		const char *config = so_config(name, id, k ? uris : b.uri, "telemetry/+", 1, alerts);
		CU_ASSERT_PTR_NOT_NULL_FATAL(config);
		char *text = hx_read_file(config, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(text);
		snprintf(extra, sizeof extra, "  shard: %d/2\n", k);
		char all[4096];
		snprintf(all, sizeof all, "%s%s", text, extra);
		free(text);
		CU_ASSERT_EQUAL_FATAL(hx_write_file(config, all), 0);
		snprintf(name, sizeof name, "shard-%d.log", k);
		pid[k] = hx_start_iotad(config, hx_path(name), &sub, (size_t)k + 1);
		CU_ASSERT_FATAL(pid[k] > 0);
	}
	char want[128];
	snprintf(want, sizeof want, "mqtt: connected to a node of mqtt.uri as iotad-shard-1");
	CU_ASSERT_TRUE(hx_wait_log(hx_path("shard-1.log"), want, 5000));
	/* markers of both shards raise */
	so_marks_at(b.uri, &sub, true, 0, 2);
	so_marks_at(b.uri, &sub, true, 1, 2);
	so_marks_at(b.uri, &sub, true, 2, 2);
	hx_sub_settle(&sub, "alerts/", 1000, 5000);
	size_t right = 0, wrong = 0;
	pthread_mutex_lock(&sub.lock);
	for (size_t i = 0; i < sub.n; i++) {
		const char *t = sub.msgs[i].topic;
		int inst;
		char dev[64];
		if (!t || sscanf(t, "alerts/i%d/%63s", &inst, dev) != 2)
			continue;
		if ((int)topic_shard(dev, 2) == inst)
			right++;
		else
			wrong++;
	}
	pthread_mutex_unlock(&sub.lock);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT(right >= 6);
	printf("\n    shard k/2 on mosquitto: %zu events from the device's own instance, %zu "
	       "from the other", right, wrong);
	for (int k = 0; k < 2; k++) {
		CU_ASSERT_EQUAL(kill(pid[k], SIGTERM), 0);
		CU_ASSERT_EQUAL(hx_wait_exit(pid[k], 20000), 0);
	}
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

void it_scaleout_nats(void)
{
	so_scaleout(200, 3600);
}

void it_scaleout_quick(void)
{
	so_scaleout(24, 2 * 3600);
}
