/* it_shards.c - the scorer threads against a real mosquitto: a simulated
 * fleet replayed through `iotad run` with service.scorer_threads 1 and 2,
 * each on a fresh broker; their alert events and final counters must be
 * the same, and the state file written by two threads must restore every
 * device into one. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <pthread.h>

#include "harness.h"
#include "iotad/mqtt.h"
#include "iotad/topic.h"
#include "it_shards.h"

#include <CUnit/Basic.h>

#define SH_DEVICES "6"
#define SH_MAX_EVENTS 4096

typedef struct sh_event {
	char device[48];
	char state[16];
	double ts;
} sh_event;

/* Alert events of the simulated devices (alerts/sensor-...), in arrival order. */
static size_t sh_events(hx_sub *s, sh_event *ev, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n && n < max; i++) {
		if (!s->msgs[i].topic || strncmp(s->msgs[i].topic, "alerts/sensor-", 14))
			continue;
		cJSON *o = cJSON_Parse(s->msgs[i].payload);
		const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "device");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
		if (cJSON_IsString(dev) && cJSON_IsString(st) && cJSON_IsNumber(ts)) {
			snprintf(ev[n].device, sizeof ev[n].device, "%s", dev->valuestring);
			snprintf(ev[n].state, sizeof ev[n].state, "%s", st->valuestring);
			ev[n].ts = ts->valuedouble;
			n++;
		}
		cJSON_Delete(o);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Each event of a in b, once each; same count. */
static bool sh_same_events(const sh_event *a, size_t na, const sh_event *b, size_t nb)
{
	if (na != nb)
		return false;
	bool *used = calloc(nb + 1, sizeof *used);
	bool ok = used != NULL;
	for (size_t i = 0; i < na && ok; i++) {
		bool found = false;
		for (size_t j = 0; j < nb && !found; j++)
			if (!used[j] && !strcmp(a[i].device, b[j].device) &&
			    !strcmp(a[i].state, b[j].state) && a[i].ts == b[j].ts)
				used[j] = found = true;
		if (!found) {
			printf("\n    only with one thread: %s %s ts %.3f", a[i].device, a[i].state,
			       a[i].ts);
			ok = false;
		}
	}
	free(used);
	return ok;
}

/* 30 normal then 30 hot samples of a marker device at QoS 1: it raises. */
static int sh_mark(const hx_broker *b, const char *device)
{
	mq *pub;
	mq_opts o = {.uri = b->uri, .client_id = "it-sh-mark", .keepalive = 10,
		     .clean_session = true, .max_inflight = 64};
	if (mq_create(&o, &pub) != IOTAD_OK)
		return -1;
	int rc = mq_start(pub) == IOTAD_OK && mq_wait_connected(pub, 10000) ? 0 : -1;
	char topic[64], msg[160];
	snprintf(topic, sizeof topic, "telemetry/%s", device);
	for (int i = 0; i < 60 && rc == 0; i++) {
		bool hot = i >= 30;
		int n = snprintf(msg, sizeof msg,
				 "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":%.1f,\"battery\":%.1f}",
				 1700005000 + i, hot ? 60.0 : 21.0 + 0.01 * (i % 3),
				 48.0 + 0.1 * (i % 2), 97.0 - 0.1 * (i % 2));
		if (mq_publish(pub, topic, msg, (size_t)n, 1, false, 10000) != IOTAD_OK)
			rc = -1;
	}
	mq_destroy(pub, 2000);
	return rc;
}

/* A counter from the final stats line of log ("received=123"), or -1. */
static long long sh_final(const char *log, const char *key)
{
	char *text = hx_read_file(log, NULL);
	const char *line = text ? strstr(text, "stats (final)") : NULL;
	char want[64];
	snprintf(want, sizeof want, " %s=", key);
	const char *at = line ? strstr(line, want) : NULL;
	long long v = at ? atoll(at + strlen(want)) : -1;
	free(text);
	return v;
}

/* One run with `threads` scorer threads: the events into ev (returns how
 * many), the log's path into log. */
static size_t sh_run(int threads, sh_event *ev, const char *state, char *log, size_t loglen)
{
	hx_broker b;
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-sh-sub"), 0);
	char name[32], id[32];
	snprintf(name, sizeof name, "sh-%d.yaml", threads);
	snprintf(id, sizeof id, "iotad-sh-%d", threads);
	const char *config = hx_config(&b, name, id, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	char *text = hx_read_file(config, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	char more[4096];
	snprintf(more, sizeof more, "%s  scorer_threads: %d\n  state_file: %s\n", text, threads,
		 state);
	free(text);
	CU_ASSERT_EQUAL_FATAL(hx_write_file(config, more), 0);
	snprintf(name, sizeof name, "sh-%d.log", threads);
	snprintf(log, loglen, "%s", hx_path(name));
	pid_t pid = hx_start_iotad(config, log, &sub, 1);
	CU_ASSERT_FATAL(pid > 0);
	char *argv[] = {(char *)hx_iotad(), "sim", "--replay", (char *)hx_path("sh.csv"),
			"--device-col", "device", "--time-col", "ts", "--speed", "0",
			"--broker", (char *)b.uri, "--quiet", NULL};
	CU_ASSERT_EQUAL_FATAL(hx_run(argv, hx_path("sh-replay.log"), 120000), 0);
	/* a marker on each shard: once both raise, both shards scored all */
	const char *marks[] = {"mark-a", "mark-b", "mark-c", "mark-d", "mark-e", "mark-f"};
	bool shard_marked[2] = {false, false};
	int marked = 0;
	for (size_t i = 0; i < sizeof marks / sizeof *marks; i++) {
		uint32_t k = topic_device_shard(marks[i], strlen(marks[i]), 2);
		if (shard_marked[k])
			continue;
		shard_marked[k] = true;
		CU_ASSERT_EQUAL_FATAL(sh_mark(&b, marks[i]), 0);
		char topic[64];
		snprintf(topic, sizeof topic, "alerts/%s", marks[i]);
		CU_ASSERT_FATAL(hx_sub_wait(&sub, topic, "\"raised\"", 1, 30000));
		marked++;
	}
	CU_ASSERT_EQUAL(marked, 2);
	hx_sub_settle(&sub, "alerts/", 1000, 10000);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	size_t n = sh_events(&sub, ev, SH_MAX_EVENTS);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
	return n;
}

void it_scorer_threads(void)
{
	CU_ASSERT_FATAL(hx_model() != NULL);
	char *sim[] = {(char *)hx_iotad(), "sim", "--csv", (char *)hx_path("sh.csv"), "--truth",
		       (char *)hx_path("sh-truth.csv"), "--devices", SH_DEVICES,
		       "--duration", "1500", "--interval", "1", "--start-ts", "1700000000",
		       "--seed", "9", "--quiet", NULL};
	CU_ASSERT_EQUAL_FATAL(hx_run(sim, hx_path("sh-sim.log"), 60000), 0);
	sh_event *one = calloc(SH_MAX_EVENTS, sizeof *one);
	sh_event *two = calloc(SH_MAX_EVENTS, sizeof *two);
	CU_ASSERT_FATAL(one && two);
	char log1[512], log2[512], state1[512], state2[512];
	snprintf(state1, sizeof state1, "%s", hx_path("sh-1.state"));
	snprintf(state2, sizeof state2, "%s", hx_path("sh-2.state"));
	size_t n1 = sh_run(1, one, state1, log1, sizeof log1);
	size_t n2 = sh_run(2, two, state2, log2, sizeof log2);
	printf("\n    events: %zu with one scorer thread, %zu with two", n1, n2);
	CU_ASSERT(n1 >= 4);
	CU_ASSERT_TRUE(sh_same_events(one, n1, two, n2));
	/* the counters /metrics sums over the shards */
	const char *keys[] = {"received", "scored", "devices", "raised", "cleared"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		long long a = sh_final(log1, keys[i]), c = sh_final(log2, keys[i]);
		printf("\n    %s: %lld and %lld", keys[i], a, c);
		CU_ASSERT(a > 0);
		CU_ASSERT_EQUAL(a, c);
	}
	CU_ASSERT_TRUE(hx_wait_log(log2, "2 scorer threads", 1000));
	/* the state file of two threads, restored by one: every device */
	long long devices = sh_final(log2, "devices");
	char *argv[] = {(char *)hx_iotad(), "config", "--check", (char *)hx_path("sh-2.yaml"),
			NULL};
	CU_ASSERT_EQUAL(hx_run(argv, hx_path("sh-check.log"), 10000), 0);
	hx_broker b;
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-sh-sub2"), 0);
	const char *config = hx_config(&b, "sh-r.yaml", "iotad-sh-r", NULL);
	char *text = config ? hx_read_file(config, NULL) : NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	char more[4096];
	snprintf(more, sizeof more, "%s  scorer_threads: 1\n  state_file: %s\n", text, state2);
	free(text);
	CU_ASSERT_EQUAL_FATAL(hx_write_file(config, more), 0);
	const char *log3 = hx_path("sh-r.log");
	pid_t pid = hx_start_iotad(config, log3, &sub, 1);
	CU_ASSERT_FATAL(pid > 0);
	char want[64];
	snprintf(want, sizeof want, "state: restored %lld devices", devices);
	CU_ASSERT_TRUE(hx_wait_log(log3, want, 5000));
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
	free(one);
	free(two);
}
