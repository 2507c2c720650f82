/* cmd_sim.c - `iotad sim`: publish simulated telemetry over MQTT, or write
 * it as CSV, with the ground truth of the injected anomalies; or publish the
 * rows of a CSV file (--replay). Options are in cmd_sim_args.c. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd_sim.h"
#include "iotad/clock.h"
#include "iotad/cmd.h"
#include "iotad/log.h"
#include "iotad/mqtt.h"
#include "iotad/progress.h"
#include "iotad/replay.h"
#include "iotad/sim.h"
#include "iotad/topic.h"

#define SIM_PROGRESS_S 5.0
#define SIM_CONNECT_S 30
/* A broker node that dies takes a cluster some seconds to replace (a new
 * stream leader, the client's reconnect): waits ride that out */
#define SIM_PUBLISH_TIMEOUT_MS 30000
#define SIM_DRAIN_MS 30000
#define SIM_STOP_DRAIN_MS 2000
#define SIM_PAYLOAD_MAX 16384
#define SIM_BAD_ROWS_SHOWN 5

static volatile sig_atomic_t sim_stop;

static void sim_on_signal(int sig)
{
	(void)sig;
	sim_stop = 1;
}

static FILE *open_out(const char *path, bool *is_stdout)
{
	*is_stdout = strcmp(path, "-") == 0;
	if (*is_stdout)
		return stdout;
	FILE *f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "iotad sim: %s: %s\n", path, strerror(errno));
	return f;
}

/* Flush and close; reports a write error. 0 on success. */
static int close_out(FILE *f, const char *path, bool is_stdout)
{
	int bad = ferror(f) || fflush(f) != 0;
	if (!is_stdout && fclose(f) != 0)
		bad = 1;
	if (bad)
		fprintf(stderr, "iotad sim: %s: write error: %s\n", path, strerror(errno));
	return bad ? -1 : 0;
}

static void write_anomaly(FILE *f, const sim *s, const sim_anomaly *a)
{
	char name[32];
	sim_device_label(s, a->device, name, sizeof name);
	fprintf(f, "%s,%s,%.3f,%.3f\n", name, sim_kind_name(a->kind), a->start, a->end);
}

static int write_truth(const sim *s, const char *path)
{
	bool is_stdout;
	FILE *f = open_out(path, &is_stdout);
	if (!f)
		return -1;
	size_t n = 0;
	const sim_anomaly *t = sim_truth(s, &n);
	fputs("device,kind,start,end\n", f);
	for (size_t i = 0; i < n; i++)
		write_anomaly(f, s, &t[i]);
	return close_out(f, path, is_stdout);
}

static int run_csv(sim *s, const sim_cli *c)
{
	bool is_stdout;
	FILE *f = open_out(c->csv_path, &is_stdout);
	if (!f)
		return 1;
	static char iobuf[1 << 16];
	if (!is_stdout)
		setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
	char names[64][24];
	int cached = c->so.n_devices < 64 ? c->so.n_devices : 64;
	for (int d = 0; d < cached; d++)
		sim_device_label(s, d, names[d], sizeof names[d]);
	fputs("ts,device,temperature,humidity,battery,label\n", f);
	sim_sample x;
	unsigned long long rows = 0, anomalous = 0;
	char name[32];
	while (!sim_stop && sim_next(s, &x)) {
		const char *dn = names[0];
		if (x.device < cached) {
			dn = names[x.device];
		} else {
			sim_device_label(s, x.device, name, sizeof name);
			dn = name;
		}
		fprintf(f, "%.3f,%s,%.2f,%.1f,%.1f,%d\n", x.ts, dn, (double)x.values[0],
			(double)x.values[1], (double)x.values[2], x.label != SIM_NONE);
		rows++;
		anomalous += x.label != SIM_NONE;
		if ((rows & 0xFFFF) == 0 && ferror(f))
			break;
	}
	int rc = close_out(f, c->csv_path, is_stdout) ? 1 : 0;
	if (sim_stop) {
		fprintf(stderr, "iotad sim: interrupted; %s is incomplete\n", c->csv_path);
		rc = 1;
	}
	if (!c->quiet || rc)
		fprintf(stderr, "iotad sim: wrote %llu rows (%llu anomalous) to %s\n", rows, anomalous,
			is_stdout ? "stdout" : c->csv_path);
	return rc;
}

/* Sleep until the monotonic time t (seconds), waking at least every 200 ms
 * to notice a stop request. Absolute deadlines: no drift. */
static void sleep_until(double t)
{
	for (;;) {
		if (sim_stop)
			return;
		double now = clock_mono();
		if (now >= t)
			return;
		double until = t - now > 0.2 ? now + 0.2 : t;
		struct timespec ts;
		ts.tv_sec = (time_t)until;
		ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_nsec = 999999999L;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
}

static void format_time(double ts, char *out, size_t len)
{
	time_t sec = (time_t)ts;
	struct tm tm;
	gmtime_r(&sec, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

typedef struct pub_state {
	mq *client;
	sim *s;                 /* the source: the generator, */
	replay *rp;             /* or a CSV file */
	char (*topics)[TOPIC_MAX]; /* generator: per device */
	char topic[TOPIC_MAX];  /* replay: the current row's */
	unsigned long long bad; /* replay: rows skipped */
	FILE *truth;            /* endless runs: appended as planned */
	double *truth_last;     /* per device: start of the last written anomaly */
	unsigned long long sent, full;
} pub_state;

static void log_progress(pub_state *ps, double t_run, double dev_ts)
{
	mq_stats st;
	mq_get_stats(ps->client, &st);
	char when[32];
	format_time(dev_ts, when, sizeof when);
	LOG_INFO("sim: %llu sent (%.0f msg/s), %llu acknowledged, %llu failed, %u in flight, "
		 "device time %s%s",
		 ps->sent, t_run > 0 ? (double)ps->sent / t_run : 0.0,
		 (unsigned long long)st.published,
		 (unsigned long long)st.publish_failed + ps->full, st.inflight, when,
		 st.connected ? "" : ", disconnected");
}

/* The next message of the source into payload: its length, topic and
 * device time (NAN: not paced by time); 0 at the end. */
static int next_message(const sim_cli *c, pub_state *ps, char *payload, size_t cap,
			const char **topic, double *ts)
{
	if (ps->rp) {
		char err[256];
		const char *dev;
		int n;
		while ((n = replay_next(ps->rp, payload, cap, &dev, ts, err, sizeof err)) < 0)
			if (++ps->bad <= SIM_BAD_ROWS_SHOWN)
				fprintf(stderr, "iotad sim: %s: %s (skipped)\n", c->replay_path, err);
		if (topic_build(ps->topic, sizeof ps->topic, c->prefix, dev) != IOTAD_OK) {
			fprintf(stderr, "iotad sim: %s: no topic for device '%s' under '%s'\n",
				c->replay_path, dev, c->prefix);
			return 0;
		}
		*topic = ps->topic;
		return n;
	}
	sim_sample x;
	int n = 0;
	while (n <= 0 || (size_t)n >= cap) {
		if (!sim_next(ps->s, &x))
			return 0;
		if (ps->truth) {
			sim_anomaly a;
			if (sim_pending_anomaly(ps->s, x.device, &a) &&
			    a.start != ps->truth_last[x.device]) {
				write_anomaly(ps->truth, ps->s, &a);
				fflush(ps->truth);
				ps->truth_last[x.device] = a.start;
			}
		}
		n = snprintf(payload, cap,
			     "{\"ts\":%.3f,\"temperature\":%.2f,\"humidity\":%.1f,\"battery\":%.1f}",
			     x.ts, (double)x.values[0], (double)x.values[1], (double)x.values[2]);
	}
	*topic = ps->topics[x.device];
	*ts = x.ts;
	return n;
}

static int publish_loop(const sim_cli *c, pub_state *ps)
{
	double t0 = clock_mono(), next_progress = t0 + SIM_PROGRESS_S, ts0 = NAN, ts = 0.0;
	static char payload[SIM_PAYLOAD_MAX];
	const char *topic;
	progress bar;
	progress_init(&bar, c->quiet ? NULL : stderr, ps->rp ? "replay" : "sim",
		      ps->rp ? replay_rows(ps->rp) : 0);
	int n;
	while (!sim_stop && (n = next_message(c, ps, payload, sizeof payload, &topic, &ts)) > 0) {
		double due = 0.0;
		if (isnan(ts0))
			ts0 = ts;
		if (c->speed > 0.0 && isfinite(ts - ts0))
			due = (ts - ts0) / c->speed;
		if (c->rate > 0.0 && (double)ps->sent / c->rate > due)
			due = (double)ps->sent / c->rate;
		if (due > 0.0)
			sleep_until(t0 + due);
		if (sim_stop)
			break;
		iotad_err err = mq_publish(ps->client, topic, payload, (size_t)n, c->qos, false,
					   SIM_PUBLISH_TIMEOUT_MS);
		if (err == IOTAD_OK)
			ps->sent++;
		else if (err == IOTAD_ERR_FULL)
			ps->full++;
		progress_update(&bar, ps->sent + ps->full + ps->bad, NULL);
		double now = clock_mono();
		if (!c->quiet && !progress_on(&bar) && now >= next_progress) {
			log_progress(ps, now - t0, isfinite(ts) ? ts : 0.0);
			next_progress += SIM_PROGRESS_S;
			if (next_progress < now)
				next_progress = now + SIM_PROGRESS_S;
		}
	}
	progress_end(&bar);
	return 0;
}

static int run_publish(sim *s, replay *rp, const sim_cli *c)
{
	int rc = 1;
	pub_state ps;
	memset(&ps, 0, sizeof ps);
	ps.s = s;
	ps.rp = rp;
	char client_id[160];
	if (c->client_id)
		snprintf(client_id, sizeof client_id, "%s", c->client_id);
	else
		snprintf(client_id, sizeof client_id, "iotad-sim-%ld", (long)getpid());

	int n_dev = s ? c->so.n_devices : 0;
	ps.topics = calloc((size_t)n_dev + 1, sizeof *ps.topics);
	if (!ps.topics) {
		fprintf(stderr, "iotad sim: out of memory\n");
		return 1;
	}
	for (int d = 0; d < n_dev; d++) {
		char name[32];
		sim_device_label(s, d, name, sizeof name);
		if (topic_build(ps.topics[d], sizeof ps.topics[d], c->prefix, name) != IOTAD_OK) {
			fprintf(stderr, "iotad sim: no topic for device '%s' under '%s'\n", name,
				c->prefix);
			free(ps.topics);
			return 1;
		}
	}
	bool truth_stdout = false;
	if (c->truth_path && isinf(c->so.duration)) {
		ps.truth = open_out(c->truth_path, &truth_stdout);
		ps.truth_last = malloc((size_t)n_dev * sizeof *ps.truth_last);
		if (!ps.truth || !ps.truth_last)
			goto out;
		for (int d = 0; d < n_dev; d++)
			ps.truth_last[d] = -1.0;
		fputs("device,kind,start,end\n", ps.truth);
		fflush(ps.truth);
	}

	mq_opts mo = {
		.uri = c->broker,
		.client_id = client_id,
		.keepalive = 30,
		.clean_session = !c->persistent,
		.max_inflight = 1000,
	};
	/* Paho's threads inherit a mask without SIGINT/SIGTERM: the main
	 * thread gets them and its sleeps end early */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	iotad_err err = mq_create(&mo, &ps.client);
	if (!err)
		err = mq_start(ps.client);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		fprintf(stderr, "iotad sim: cannot start MQTT client for %s: %s\n", c->broker,
			iotad_strerror(err));
		goto out;
	}
	bool up = false;
	for (int i = 0; i < SIM_CONNECT_S * 4 && !sim_stop && !up; i++)
		up = mq_wait_connected(ps.client, 250);
	if (!up) {
		if (!sim_stop)
			fprintf(stderr, "iotad sim: cannot connect to %s within %d s\n", c->broker,
				SIM_CONNECT_S);
		else
			rc = 0;
		if (sim_stop)
			fprintf(stderr, "iotad sim: stopped before connecting; nothing published\n");
		goto out;
	}
	if (!c->quiet && rp)
		LOG_INFO("sim: connected to %s; replaying %zu rows of %s to %s/..., speed %g",
			 c->broker, replay_rows(rp), c->replay_path, c->prefix, c->speed);
	else if (!c->quiet)
		LOG_INFO("sim: connected to %s; %d devices on %s/+, speed %g, seed %llu", c->broker,
			 n_dev, c->prefix, c->speed, (unsigned long long)c->so.seed);

	double t0 = clock_mono();
	publish_loop(c, &ps);
	bool drained = mq_drain(ps.client, sim_stop ? SIM_STOP_DRAIN_MS : SIM_DRAIN_MS);
	double elapsed = clock_mono() - t0;
	mq_stats st;
	mq_get_stats(ps.client, &st);
	unsigned long long failed = (unsigned long long)st.publish_failed + ps.full;
	fprintf(stderr,
		"iotad sim: %s after %.1f s: %llu messages published to %s (%llu acknowledged), "
		"%llu failures%s\n",
		sim_stop ? "stopped" : "done", elapsed, ps.sent, c->broker,
		(unsigned long long)st.published, failed,
		drained ? "" : ", some still unacknowledged at exit");
	if (ps.bad)
		fprintf(stderr, "iotad sim: %llu bad rows of %s skipped\n", ps.bad, c->replay_path);
	rc = failed == 0 && drained && ps.bad == 0 ? 0 : 1;
out:
	mq_destroy(ps.client, 2000);
	if (ps.truth && close_out(ps.truth, c->truth_path, truth_stdout))
		rc = 1;
	free(ps.truth_last);
	free(ps.topics);
	return rc;
}

int cmd_sim(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--mixed"))
			return cmd_sim_mixed(argc, argv);
	sim_cli c;
	memset(&c, 0, sizeof c);
	int pr = cmd_sim_parse_args(argc, argv, &c);
	if (pr == 1) {
		fputs(cmd_sim_usage, stdout);
		return 0;
	}
	if (pr == 2) {
		printf("iotad %s\n", IOTAD_VERSION);
		return 0;
	}
	if (pr < 0) {
		fputs("try 'iotad sim --help'\n", stderr);
		return 2;
	}
	sim *s = NULL;
	replay *rp = NULL;
	char msg[512] = "";
	iotad_err err = c.replay_path
		? replay_open(c.replay_path, &c.ro, &rp, msg, sizeof msg)
		: sim_create(&c.so, &s);
	if (err) {
		fprintf(stderr, "iotad sim: %s: %s\n", c.replay_path ? c.replay_path : "cannot plan the run",
			*msg ? msg : iotad_strerror(err));
		return c.replay_path ? 1 : 2;
	}
	struct sigaction sa, old_int, old_term;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = sim_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sim_stop = 0;

	int rc = 0;
	if (c.truth_path && !isinf(c.so.duration) && write_truth(s, c.truth_path) != 0)
		rc = 1;
	if (rc == 0)
		rc = c.csv_path ? run_csv(s, &c) : run_publish(s, rp, &c);
	sim_destroy(s);
	replay_close(rp);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}
