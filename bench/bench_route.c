/* bench_route.c - what routing a mixed fleet costs (no broker).
 *
 * The same pre-built telemetry messages (1000 devices of ten kinds, topic
 * telemetry/kindK/DEVICE, JSON payloads) go through the service's router
 * four ways in the same process, in chunks of 2000 taken by each way in
 * turn, the best of --repeat runs each, in CPU time of the thread:
 * A one model for every message (no routing);
 *   ten models where only the last route matches (nine routes of other
 *   kinds tried first, then telemetry/+/+): one table of 1000 devices, as
 *   A's, so the difference is the routing at its worst;
 * B ten one-model routers, each message handed to its kind's (what ten
 *   services of one kind do, without their broker traffic);
 *   ten models routed by topic, each kind to its own: the same ten tables
 *   of 100 devices and ten copies of the network as B, so the difference
 *   is the routing (5.5 routes tried on average).
 * Every model is the same network. Prints ns per message, the added ns and
 * the ratio; and the routing step alone (device id and route_match).
 *
 * usage: bench_route [--model FILE] [--messages N] [--repeat N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "iotad/config.h"
#include "iotad/log.h"
#include "iotad/model_io.h"
#include "iotad/msgq.h"
#include "iotad/route.h"
#include "iotad/router.h"
#include "iotad/topic.h"

#define BR_KINDS 10
#define BR_DEVICES 1000

static volatile size_t sink;

static iotad_err nopub(void *ud, const char *topic, const void *payload, size_t len, int qos,
		       bool retained)
{
	(void)ud, (void)topic, (void)payload, (void)len, (void)qos, (void)retained;
	return IOTAD_OK;
}

static void load_config(const char *yaml, iotad_config *c)
{
	char err[512];
	if (config_load_string("bench", yaml, strlen(yaml), c, err, sizeof err) != IOTAD_OK) {
		fprintf(stderr, "bench_route: %s\n", err);
		exit(1);
	}
}

/* CPU seconds of this thread: a neighbour that takes the core away is not
 * counted (the machine may be shared). */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static router *make(const iotad_config *c, const model *m)
{
	det_config dc;
	config_det(c, &dc);
	pipeline_pub pub = {.publish = nopub};
	router *r = NULL;
	if (router_create(c, c->n_models ? NULL : m, &dc, &pub, &r) != IOTAD_OK) {
		fprintf(stderr, "bench_route: router_create failed\n");
		exit(1);
	}
	return r;
}

static void check(router *r, size_t n)
{
	pipeline_counters pc;
	router_get_counters(r, &pc);
	if (pc.received != n || pc.rejected[REJ_NO_MODEL] || pc.rejected[REJ_MISSING_FEATURE]) {
		fprintf(stderr, "bench_route: %llu of %zu messages taken, %llu no_model\n",
			(unsigned long long)pc.received, n,
			(unsigned long long)pc.rejected[REJ_NO_MODEL]);
		exit(1);
	}
	sink += pc.scored;
}

/* Every message through the three routers and the ten of one kind each,
 * in chunks taken by each way in turn (each goes first in turn): the CPU
 * seconds each way spent, in sec[4]. */
static void run(const iotad_config *cfg, const model *m, const model *copies,
		msgq_msg **msgs, const int *kind, size_t n, double sec[4])
{
	enum { CHUNK = 2000 };
	router *r[3], *per[BR_KINDS];
	for (int v = 0; v < 3; v++)
		r[v] = make(&cfg[v], m);
	for (int k = 0; k < BR_KINDS; k++)
		per[k] = make(&cfg[0], &copies[k]); /* its own copy, as a service has */
	memset(sec, 0, 4 * sizeof *sec);
	for (size_t at = 0; at < n; at += CHUNK) {
		size_t end = at + CHUNK < n ? at + CHUNK : n;
		for (int j = 0; j < 4; j++) {
			int v = (int)((at / CHUNK + (size_t)j) % 4);
			double t0 = cpu_now();
			for (size_t i = at; i < end; i++)
				router_handle(v < 3 ? r[v] : per[kind[i]], msgs[i],
					      1.7e9 + (double)i / BR_DEVICES);
			sec[v] += cpu_now() - t0;
		}
	}
	for (int v = 0; v < 3; v++) {
		check(r[v], n);
		router_destroy(r[v]);
	}
	for (int k = 0; k < BR_KINDS; k++)
		router_destroy(per[k]);
}

int main(int argc, char **argv)
{
	const char *model_path = NULL;
	long n_msgs = 300000, repeat = 5;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--model"))
			model_path = argv[i + 1];
		else if (!strcmp(argv[i], "--messages"))
			n_msgs = bench_arg_long("--messages", argv[i + 1], 100000000);
		else if (!strcmp(argv[i], "--repeat"))
			repeat = bench_arg_long("--repeat", argv[i + 1], 100);
		else {
			fprintf(stderr, "usage: bench_route [--model FILE] [--messages N] "
					"[--repeat N]\n");
			return 2;
		}
	}
	log_set_level(LOG_ERROR);
	static model m;
	if (bench_model(model_path, &m) != 0)
		return 1;
	char path[] = "/tmp/iotad-bench-route-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || model_save(&m, path) != IOTAD_OK) {
		fprintf(stderr, "bench_route: cannot write the model to %s\n", path);
		return 1;
	}
	close(fd);

	/* the three configurations */
	static char yaml[3][8192];
	static iotad_config cfg[3];
	const char *head = "topics:\n  telemetry: telemetry/#\n  device_level: 2\n"
			   "detector:\n  max_devices: 2000\n";
	snprintf(yaml[0], sizeof yaml[0], "%smodel:\n  path: %s\n", head, path);
	for (int v = 1; v < 3; v++) {
		int off = snprintf(yaml[v], sizeof yaml[v], "%smodels:\n", head);
		for (int k = 0; k < BR_KINDS; k++) {
			char topic[64];
			if (v == 1)
				snprintf(topic, sizeof topic, "telemetry/kind%d/+", k);
			else if (k < BR_KINDS - 1)
				snprintf(topic, sizeof topic, "telemetry/kind%d/+", BR_KINDS + k);
			else
				snprintf(topic, sizeof topic, "telemetry/+/+");
			off += snprintf(yaml[v] + off, sizeof yaml[v] - (size_t)off,
					"  - name: m%d\n    topic: %s\n    path: %s\n", k, topic,
					path);
		}
	}
	for (int v = 0; v < 3; v++)
		load_config(yaml[v], &cfg[v]);

	/* the messages */
	bench_data d;
	if (bench_data_init(&d, (size_t)n_msgs, BR_DEVICES, 3) != 0)
		return 1;
	msgq_msg **msgs = malloc((size_t)n_msgs * sizeof *msgs);
	if (!msgs)
		return 1;
	for (size_t i = 0; i < d.n; i++) {
		char topic[64], payload[160];
		snprintf(topic, sizeof topic, "telemetry/kind%d/dev-%04d", d.device[i] % BR_KINDS,
			 d.device[i]);
		int n = snprintf(payload, sizeof payload,
				 "{\"ts\":%.3f,\"temperature\":%.3f,\"humidity\":%.3f,"
				 "\"battery\":%.3f}", d.ts[i], d.values[i * SIM_FEATURES],
				 d.values[i * SIM_FEATURES + 1], d.values[i * SIM_FEATURES + 2]);
		msgs[i] = msgq_msg_new(topic, strlen(topic), payload, (size_t)n, 4096);
		if (!msgs[i])
			return 1;
	}

	static model copies[BR_KINDS];
	for (int k = 0; k < BR_KINDS; k++) {
		char err[256];
		if (model_load(path, &copies[k], err, sizeof err) != IOTAD_OK) {
			fprintf(stderr, "bench_route: %s\n", err);
			return 1;
		}
	}
	int *kind = malloc(d.n * sizeof *kind);
	if (!kind)
		return 1;
	for (size_t i = 0; i < d.n; i++)
		kind[i] = d.device[i] % BR_KINDS;
	double best[4] = {1e30, 1e30, 1e30, 1e30};
	for (long r = 0; r < repeat; r++) {
		double sec[4];
		run(cfg, &m, copies, msgs, kind, d.n, sec);
		for (int v = 0; v < 4; v++)
			if (sec[v] < best[v])
				best[v] = sec[v];
	}
	free(kind);
	for (int k = 0; k < BR_KINDS; k++)
		model_free(&copies[k]);

	/* the routing step alone (what the router adds before the pipeline):
	 * the device id from the topic, then route_match over ten routes, every
	 * message to the last */
	route_table rt;
	route_init(&rt, &cfg[2]);
	char dev[DET_DEVICE_ID_MAX];
	size_t hits = 0;
	double tm = 1e30;
	for (long r = 0; r < repeat; r++) {
		double t0 = cpu_now();
		for (size_t i = 0; i < d.n; i++)
			if (topic_device(msgq_topic(msgs[i]), 2, dev, sizeof dev) == IOTAD_OK)
				hits += route_match(&rt, msgq_topic(msgs[i]), msgs[i]->topic_len,
						    dev) == BR_KINDS - 1;
		double t = (cpu_now() - t0) / (double)d.n;
		if (t < tm)
			tm = t;
	}
	if (hits != (size_t)repeat * d.n) {
		fprintf(stderr, "bench_route: %zu of %zu messages to the last route\n", hits,
			(size_t)repeat * d.n);
		return 1;
	}
	sink += hits;

	double per[4];
	for (int v = 0; v < 4; v++)
		per[v] = best[v] / (double)d.n * 1e9;
	printf("messages %zu, devices %d, kinds %d, best of %ld, CPU time\n", d.n, BR_DEVICES,
	       BR_KINDS, repeat);
	printf("one model, every message (baseline A)    %7.1f ns/message\n", per[0]);
	printf("10 models, last route only (vs A)        %7.1f ns/message  routing +%.1f ns  "
	       "ratio %.3f\n", per[2], per[2] - per[0], per[2] / per[0]);
	printf("ten one-model services, by kind (base B) %7.1f ns/message\n", per[3]);
	printf("10 models, each kind its own (vs B)      %7.1f ns/message  routing +%.1f ns  "
	       "ratio %.3f\n", per[1], per[1] - per[3], per[1] / per[3]);
	printf("routing step alone (device id + route_match), 10 routes, last route only: "
	       "%.1f ns/message\n", tm * 1e9);
	printf("RESULT route ns_per_message=%.1f added_worst_ns=%.1f ratio_worst=%.3f "
	       "added_spread_ns=%.1f ratio_spread=%.3f step_ns=%.1f\n", per[0], per[2] - per[0],
	       per[2] / per[0], per[1] - per[3], per[1] / per[3], tm * 1e9);
	for (size_t i = 0; i < d.n; i++)
		free(msgs[i]);
	free(msgs);
	bench_data_free(&d);
	model_free(&m);
	unlink(path);
	return 0;
}
