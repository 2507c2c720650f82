/* bench_mixproc.c - a mixed fleet through one `iotad run` with three models
 * against three one-kind `iotad run` processes, on the same stream through
 * a real mosquitto: CPU per message of each, and their ratio, in one run.
 *
 * A private mosquitto on a free loopback port. Each round starts four
 * services on it at once: the mixed one (a models: list, room, meter and
 * vibration, routed by topic) subscribed to telemetry/#, and one service
 * per kind (its model alone) subscribed to telemetry/KIND/+. Once all four
 * say "online", `iotad sim --mixed` publishes the fleet (QoS 1, as fast as
 * the broker takes it); the round ends when every service's /metrics
 * counts every message of its kinds. CPU time of each service process
 * (/proc/PID/stat, user + system) is taken just before the publisher starts
 * and once the last message is counted, so it holds the MQTT client, the
 * JSON decoding, the routing and the detectors, and each process's own
 * fixed costs (keepalive, sweeps, HTTP) over the same seconds. The ratio is
 * the mixed service's CPU over the three one-kind services' together.
 *
 * usage: bench_mixproc --iotad PATH [--models DIR] [--devices N]
 *                      [--duration S] [--repeat R] [--keep]
 *
 * --models: a directory with room.json, meter.json and vibration.json
 * (iotad train --group-by kind); without it, small ones are trained first.
 * Devices (300) are split evenly between the kinds, a sample every 10 s of
 * device time over --duration (3000) seconds. Medians of R (3) rounds. */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MP_KINDS 3
#define MP_SERVICES (MP_KINDS + 1) /* 0: the mixed one, 1..3: one a kind */
#define MP_REPEAT_MAX 15

static const char *const mp_kinds[MP_KINDS] = {"room", "meter", "vibration"};
static const char *mp_iotad;

/* Run argv to its end: its exit status, or -1. */
static int run(char *const argv[], const char *log)
{
	int st;
	pid_t pid = bench_spawn(argv, log);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* GET path from 127.0.0.1:port into buf ("" if it does not answer). */
static void http_get(int port, const char *path, char *buf, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 5};
	char req[200];
	size_t got = 0;
	buf[0] = '\0';
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			 path);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
		ssize_t k;
		while (got < cap - 1 && (k = recv(fd, buf + got, cap - 1 - got, 0)) > 0)
			got += (size_t)k;
	}
	close(fd);
	buf[got] = '\0';
}

/* A metric's value (-1: not there, or no answer). */
static double metric(int port, const char *name)
{
	static char buf[1 << 17];
	char key[160];
	http_get(port, "/metrics", buf, sizeof buf);
	snprintf(key, sizeof key, "\n%s ", name);
	const char *at = strstr(buf, key);
	return at ? strtod(at + strlen(key), NULL) : -1;
}

/* Service k's configuration (0: mixed, else kind k-1 alone). */
static const char *service_config(int k, const char *uri, int port, const char *models)
{
	char text[4096], name[64];
	const char *tag = k ? mp_kinds[k - 1] : "mixed";
	int off = snprintf(text, sizeof text,
			   "mqtt:\n  uri: %s\n  client_id: mp-%s\n  max_inflight: 1000\n"
			   "topics:\n  telemetry: %s%s%s\n  device_level: 2\n"
			   "  alerts: a-%s\n  state: s-%s\n  status: iotad/status/%s\n"
			   "detector:\n  max_devices: 100000\n"
			   "service:\n  log_level: warn\n  queue_size: 65536\n"
			   "http:\n  listen: 127.0.0.1:%d\n",
			   uri, tag, k ? "telemetry/" : "telemetry/#", k ? tag : "", k ? "/+" : "",
			   tag, tag, tag, port);
	if (k)
		snprintf(text + off, sizeof text - (size_t)off, "model:\n  path: %s/%s.json\n",
			 models, tag);
	else {
		off += snprintf(text + off, sizeof text - (size_t)off, "models:\n");
		for (int i = 0; i < MP_KINDS; i++)
			off += snprintf(text + off, sizeof text - (size_t)off,
					"  - name: %s\n    topic: telemetry/%s/+\n    path: %s/%s.json\n",
					mp_kinds[i], mp_kinds[i], models, mp_kinds[i]);
	}
	snprintf(name, sizeof name, "%s.yaml", tag);
	const char *path = bench_tmp_path(name);
	bench_write_file(path, text);
	return path;
}

typedef struct mp_round {
	double cpu[MP_SERVICES]; /* seconds over the round */
	double secs;
} mp_round;

static void one_round(int r, const char *models, int devices, int duration, mp_round *out)
{
	char uri[64];
	pid_t broker = bench_broker_start("max_inflight_messages 0\nlog_dest stderr\n"
					  "log_type error\nlog_type warning\n", uri, sizeof uri);

	pid_t pid[MP_SERVICES];
	int port[MP_SERVICES];
	for (int k = 0; k < MP_SERVICES; k++) {
		port[k] = bench_free_port();
		const char *cfg = service_config(k, uri, port[k], models);
		char log[64];
		snprintf(log, sizeof log, "service-%d-%d.log", r, k);
		char *argv[] = {(char *)mp_iotad, "run", "-c", (char *)cfg, NULL};
		pid[k] = bench_spawn(argv, bench_tmp_path(log));
	}
	/* every service up and subscribed: its /metrics answers and says connected */
	for (int k = 0; k < MP_SERVICES; k++) {
		int t = 0;
		while (metric(port[k], "iotad_broker_connected") != 1 && t++ < 300)
			bench_sleep_ms(100);
		if (t > 300)
			bench_die("a service did not come up (see its log with --keep)");
	}
	bench_sleep_ms(500); /* the SUBSCRIBE follows the connection */
	double before[MP_SERVICES];
	for (int k = 0; k < MP_SERVICES; k++)
		before[k] = bench_proc_cpu(pid[k]);
	double t0 = bench_now();
	char dev[16], dur[16];
	snprintf(dev, sizeof dev, "%d", devices);
	snprintf(dur, sizeof dur, "%d", duration);
	char *pargv[] = {(char *)mp_iotad, "sim", "--mixed", "--devices", dev, "--duration", dur,
			 "--seed", "11", "--broker", uri, NULL};
	if (run(pargv, bench_tmp_path("sim.log")) != 0)
		bench_die("iotad sim --mixed failed (see sim.log with --keep)");
	double total = (double)devices * (duration / 10);
	for (int k = 0; k < MP_SERVICES; k++) {
		double want = k ? total / MP_KINDS : total;
		int t = 0;
		while (metric(port[k], "iotad_messages_received_total") < want && t++ < 3000)
			bench_sleep_ms(100);
		if (t > 3000)
			bench_die("a service did not receive every message (see its log with --keep)");
	}
	out->secs = bench_now() - t0;
	for (int k = 0; k < MP_SERVICES; k++) {
		out->cpu[k] = bench_proc_cpu(pid[k]) - before[k];
		if (k == 0 && metric(port[0], "iotad_messages_rejected_total{reason=\"no_model\"}") != 0)
			bench_die("the mixed service counted no_model messages");
	}
	for (int k = 0; k < MP_SERVICES; k++)
		if (bench_stop_child(pid[k], SIGTERM, 20.0) != 0)
			bench_die("a service did not stop cleanly");
	bench_stop_child(broker, SIGTERM, 10.0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	const char *models = NULL;
	int devices = 300, duration = 3000, repeat = 3;
	bool keep = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iotad") && i + 1 < argc)
			mp_iotad = argv[++i];
		else if (!strcmp(argv[i], "--models") && i + 1 < argc)
			models = argv[++i];
		else if (!strcmp(argv[i], "--devices") && i + 1 < argc)
			devices = (int)bench_arg_long("--devices", argv[++i], 300000);
		else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
			duration = (int)bench_arg_long("--duration", argv[++i], 10000000);
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = (int)bench_arg_long("--repeat", argv[++i], MP_REPEAT_MAX);
		else if (!strcmp(argv[i], "--keep"))
			keep = true;
		else
			bench_die("usage: bench_mixproc --iotad PATH [--models DIR] [--devices N] "
			    "[--duration S] [--repeat R] [--keep]");
	}
	if (!mp_iotad)
		bench_die("--iotad PATH is required");
	if (devices % MP_KINDS || duration < 10)
		bench_die("--devices must be a multiple of 3 and --duration at least 10");
	bench_tmp_init("bench_mixproc");
	bench_keep_tmp(keep);
	char mdir[PATH_MAX];
	if (!models) {
		snprintf(mdir, sizeof mdir, "%s", bench_tmp_path("models"));
		char *simv[] = {(char *)mp_iotad, "sim", "--mixed", "--devices", "30", "--duration",
			       "6000", "--normal-only", "--seed", "3", "--csv",
			       (char *)bench_tmp_path("train.csv"), NULL};
		char *trainv[] = {(char *)mp_iotad, "train", "--csv", (char *)bench_tmp_path("train.csv"),
				 "--group-by", "kind", "--skip", "ts,label", "--group", "device",
				 "--epochs", "3", "-q", "-o", mdir, NULL};
		if (run(simv, bench_tmp_path("train.log")) != 0 || run(trainv, bench_tmp_path("train.log")) != 0)
			bench_die("training the three models failed (see train.log with --keep)");
		models = mdir;
	}
	double total = (double)devices * (duration / 10);
	printf("mixproc: %d devices (%d a kind), %.0f messages a round, %d rounds\n", devices,
	       devices / MP_KINDS, total, repeat);
	double mixed[MP_REPEAT_MAX], sep[MP_REPEAT_MAX], ratio[MP_REPEAT_MAX];
	for (int r = 0; r < repeat; r++) {
		mp_round o;
		one_round(r, models, devices, duration, &o);
		double s = o.cpu[1] + o.cpu[2] + o.cpu[3];
		mixed[r] = o.cpu[0] / total * 1e6;
		sep[r] = s / total * 1e6;
		ratio[r] = o.cpu[0] / s;
		printf("round %d: %.1f s; CPU one service with 3 models %.3f s (%.2f us/msg), "
		       "3 one-kind services %.3f s (%.3f + %.3f + %.3f; %.2f us/msg), ratio %.3f\n",
		       r + 1, o.secs, o.cpu[0], mixed[r], s, o.cpu[1], o.cpu[2], o.cpu[3], sep[r],
		       ratio[r]);
	}
	double mm = median(mixed, repeat), ms = median(sep, repeat), mr = median(ratio, repeat);
	printf("RESULT mixproc mixed_us_per_msg=%.2f separate_us_per_msg=%.2f ratio=%.3f\n", mm, ms,
	       mr);
	return 0;
}
