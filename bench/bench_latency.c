/* bench_latency.c - telemetry-to-alert latency of `iotad run` above the
 * broker's own floor, at a steady rate.
 *
 * A private mosquitto on a free loopback port and iotad on it. One client
 * in this process publishes at --rate messages a second (1000) for
 * --seconds (20): normal telemetry of 100 simulated devices, and in every
 * --probe-every'th slot (4) the next message of a probe device. A probe
 * device sends W + (k-1)*stride - 1 samples far outside training, then the
 * trigger: the one sample on which iotad raises an alert. Another client
 * subscribes to telemetry/+ and alerts/+ and stamps the probes' arrivals
 * (CLOCK_MONOTONIC, the same clock the sender stamps with):
 *
 *   floor    trigger sent -> trigger delivered by the broker (one hop)
 *   through  trigger sent -> its alert delivered (broker, iotad, broker)
 *
 * The first --warmup (20) probes are left out. It prints the percentiles of
 * both and their difference at p50 and p99 (what iotad adds, including the
 * second hop), and a RESULT line. QoS 1 both ways (iotad's defaults).
 *
 * usage: bench_latency [--iotad PATH] [--model FILE] [--rate N] [--seconds N]
 *                      [--probe-every N] [--threads N] [--warmup N]
 *
 * --threads sets service.scorer_threads (not set: iotad's default). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "iotad/log.h"
#include "iotad/model_io.h"
#include "iotad/mqtt.h"

#define LAT_MAX_PROBES 100000
#define LAT_DEVICES 100

/* --- the monitor: arrivals of triggers and alerts ------------------------ */

static double *t_sent, *t_floor, *t_alert;  /* per probe; 0: not yet */
static _Atomic int online;

static int probe_of(const char *topic, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (len <= pl || memcmp(topic, prefix, pl))
		return -1;
	int k = 0;
	for (size_t i = pl; i < len; i++) {
		if (topic[i] < '0' || topic[i] > '9')
			return -1;
		k = k * 10 + (topic[i] - '0');
	}
	return k < LAT_MAX_PROBES ? k : -1;
}

static bool on_message(void *ud, const char *topic, size_t topic_len, const void *payload,
		       size_t len, int qos, bool retained)
{
	(void)ud, (void)qos;
	double now = bench_now();
	int k;
	if (topic_len >= 12 && !memcmp(topic, "iotad/status", 12)) {
		if (len == 6 && !memcmp(payload, "online", 6))
			online = 1;
	} else if (!retained && (k = probe_of(topic, topic_len, "alerts/probe-")) >= 0) {
		if (memmem(payload, len, "\"raised\"", 8) && t_alert[k] == 0)
			t_alert[k] = now;
	} else if ((k = probe_of(topic, topic_len, "telemetry/probe-")) >= 0) {
		if (memmem(payload, len, "\"trigger\":1", 11))
			t_floor[k] = now;
	}
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static mq *client(const char *uri, const char *id, bool monitor)
{
	mq *c;
	mq_opts o = {.uri = uri, .client_id = id, .keepalive = 30, .clean_session = true,
		     .max_inflight = 1024, .on_message = monitor ? on_message : NULL};
	if (mq_create(&o, &c) != IOTAD_OK || mq_start(c) != IOTAD_OK ||
	    !mq_wait_connected(c, 10000))
		bench_die("cannot connect to the broker");
	return c;
}

static void sleep_until(double t)
{
	struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int main(int argc, char **argv)
{
	const char *iotad = "build-bench/src/iotad", *model_path = NULL;
	long rate = 1000, seconds = 20, every = 4, threads = 0, warmup = 20;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iotad") && i + 1 < argc)
			iotad = argv[++i];
		else if (!strcmp(argv[i], "--model") && i + 1 < argc)
			model_path = argv[++i];
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			rate = bench_arg_long("--rate", argv[++i], 1000000);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = bench_arg_long("--seconds", argv[++i], 3600);
		else if (!strcmp(argv[i], "--probe-every") && i + 1 < argc)
			every = bench_arg_long("--probe-every", argv[++i], 1000);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = bench_arg_long("--threads", argv[++i], 64);
		else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
			warmup = bench_arg_long("--warmup", argv[++i], 100000);
		else {
			fprintf(stderr, "usage: bench_latency [--iotad PATH] [--model FILE] [--rate N] "
					"[--seconds N] [--probe-every N] [--threads N] "
					"[--warmup N]\n");
			return 2;
		}
	}
	if (access(iotad, X_OK) != 0) {
		fprintf(stderr, "bench_latency: no iotad binary at %s (give --iotad)\n", iotad);
		return 1;
	}
	bench_tmp_init("bench_latency");
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_WARN);
	model m;
	if (bench_model(model_path, &m) != 0)
		return 1;
	if (!model_path) {
		model_path = bench_tmp_path("model.json");
		if (model_save(&m, model_path) != IOTAD_OK)
			bench_die("cannot save the model");
	}
	int stride = m.stride > 0 ? m.stride : 1;
	int per_probe = m.window + (3 - 1) * stride; /* alert_k 3: raised on the last */

	char text[2048], uri[64];
	pid_t broker = bench_broker_start(NULL, uri, sizeof uri);
	snprintf(text, sizeof text,
		 "mqtt:\n  uri: %s\n  client_id: iotad-bench-lat\n  clean_session: true\n"
		 "model:\n  path: %s\nservice:\n  log_level: warn\n", uri, model_path);
	if (threads > 0) /* else the default, which an older iotad also reads */
		snprintf(text + strlen(text), sizeof text - strlen(text), "  scorer_threads: %ld\n",
			 threads);
	bench_write_file(bench_tmp_path("iotad.yaml"), text);

	size_t n_msgs = (size_t)(rate * seconds);
	size_t n_probes = n_msgs / (size_t)every / (size_t)per_probe + 1;
	if (n_probes > LAT_MAX_PROBES)
		bench_die("too many probes: lower --rate or --seconds");
	t_sent = calloc(n_probes, sizeof *t_sent);
	t_floor = calloc(n_probes, sizeof *t_floor);
	t_alert = calloc(n_probes, sizeof *t_alert);
	bench_data d;
	if (!t_sent || !t_floor || !t_alert || bench_data_init(&d, n_msgs, LAT_DEVICES, 7) != 0)
		bench_die("out of memory");

	mq *mon = client(uri, "bench-lat-monitor", true);
	if (mq_subscribe(mon, "telemetry/+", 1) != IOTAD_OK ||
	    mq_subscribe(mon, "alerts/+", 1) != IOTAD_OK ||
	    mq_subscribe(mon, "iotad/status/#", 1) != IOTAD_OK || !mq_wait_subscribed(mon, 10000))
		bench_die("cannot subscribe");
	char *iargv[] = {(char *)iotad, "run", "-c", (char *)bench_tmp_path("iotad.yaml"), NULL};
	pid_t svc = bench_spawn(iargv, bench_tmp_path("iotad.log"));
	for (int waited = 0; !online; waited += 50) {
		if (waited > 30000)
			bench_die("iotad did not come online");
		usleep(50000);
	}
	usleep(300000);
	mq *pub = client(uri, "bench-lat-pub", false);

	char topic[64], payload[160], name[32];
	size_t probe = 0, step = 0, b = 0;
	double t0 = bench_now() + 0.05, late = 0;
	for (size_t i = 0; i < n_msgs; i++) {
		double due = t0 + (double)i / (double)rate;
		sleep_until(due);
		double now = bench_now();
		if (now - due > late)
			late = now - due;
		int n;
		bool trigger = false;
		if (i % (size_t)every == 0 && probe < n_probes) {
			trigger = step == (size_t)per_probe - 1;
			snprintf(topic, sizeof topic, "telemetry/probe-%zu", probe);
			n = snprintf(payload, sizeof payload,
				     "{\"ts\":%.3f,\"temperature\":500.0,\"humidity\":-300.0,"
				     "\"battery\":900.0,\"trigger\":%d}",
				     1700000000.0 + (double)step, trigger ? 1 : 0);
			if (trigger)
				t_sent[probe] = bench_now();
			if (++step == (size_t)per_probe) {
				step = 0;
				probe++;
			}
		} else {
			const float *v = d.values + b * SIM_FEATURES;
			sim_device_name(d.device[b], name, sizeof name);
			snprintf(topic, sizeof topic, "telemetry/%s", name);
			n = snprintf(payload, sizeof payload,
				     "{\"ts\":%.3f,\"temperature\":%.2f,\"humidity\":%.1f,"
				     "\"battery\":%.1f}", d.ts[b], (double)v[0], (double)v[1],
				     (double)v[2]);
			b++;
		}
		if (mq_publish(pub, topic, payload, (size_t)n, 1, false, -1) != IOTAD_OK)
			bench_die("publish refused");
	}
	mq_drain(pub, 10000);
	usleep(1000000);
	double cpu = bench_proc_cpu(svc);
	kill(svc, SIGTERM);
	waitpid(svc, NULL, 0);
	mq_destroy(pub, 1000);
	mq_destroy(mon, 1000);
	kill(broker, SIGTERM);
	waitpid(broker, NULL, 0);

	double *fl = calloc(probe + 1, sizeof *fl), *th = calloc(probe + 1, sizeof *th);
	size_t nf = 0, nt = 0, lost = 0;
	for (size_t k = (size_t)warmup; k < probe; k++) {
		if (t_floor[k] > 0)
			fl[nf++] = (t_floor[k] - t_sent[k]) * 1e6;
		if (t_alert[k] > 0)
			th[nt++] = (t_alert[k] - t_sent[k]) * 1e6;
		else
			lost++;
	}
	qsort(fl, nf, sizeof *fl, cmp_double);
	qsort(th, nt, sizeof *th, cmp_double);
	printf("latency: %zu messages at %ld msg/s, %zu probes (%zu warm-up), %d samples each, "
	       "%ld scorer thread(s), publisher at most %.0f us late, iotad CPU %.2f s\n",
	       n_msgs, rate, probe, (size_t)warmup, per_probe, threads, late * 1e6, cpu);
	printf("  floor    n=%zu p50=%.1f p90=%.1f p99=%.1f max=%.1f us\n", nf, pct(fl, nf, 0.5),
	       pct(fl, nf, 0.9), pct(fl, nf, 0.99), nf ? fl[nf - 1] : 0);
	printf("  through  n=%zu p50=%.1f p90=%.1f p99=%.1f max=%.1f us (no alert: %zu)\n", nt,
	       pct(th, nt, 0.5), pct(th, nt, 0.9), pct(th, nt, 0.99), nt ? th[nt - 1] : 0, lost);
	printf("RESULT latency rate=%ld threads=%ld probes=%zu lost=%zu floor_p50_us=%.1f "
	       "floor_p99_us=%.1f through_p50_us=%.1f through_p99_us=%.1f added_p50_us=%.1f "
	       "added_p99_us=%.1f\n", rate, threads, nt, lost, pct(fl, nf, 0.5), pct(fl, nf, 0.99),
	       pct(th, nt, 0.5), pct(th, nt, 0.99), pct(th, nt, 0.5) - pct(fl, nf, 0.5),
	       pct(th, nt, 0.99) - pct(fl, nf, 0.99));
	free(fl);
	free(th);
	bench_data_free(&d);
	return lost > (size_t)(nt / 100) ? 1 : 0;
}
