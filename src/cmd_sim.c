/* cmd_sim.c - `iotad sim`: publish simulated telemetry over MQTT, or write
 * it as CSV, with the ground truth of the injected anomalies. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd_sim_help.h"
#include "iotad/cli.h"
#include "iotad/cmd.h"
#include "iotad/log.h"
#include "iotad/mqtt.h"
#include "iotad/progress.h"
#include "iotad/replay.h"
#include "iotad/sim.h"

#define SIM_PROGRESS_S 5.0
#define SIM_CONNECT_S 30
#define SIM_PUBLISH_TIMEOUT_MS 10000
#define SIM_DRAIN_MS 10000
#define SIM_MAX_EPOCH 4102444800.0 /* 2100-01-01 */
#define SIM_PAYLOAD_MAX 16384
#define SIM_BAD_ROWS_SHOWN 5

typedef struct sim_cli {
	sim_opts so;
	const char *broker;
	const char *prefix;
	const char *client_id;
	const char *truth_path;
	const char *csv_path;
	const char *replay_path;
	replay_opts ro;
	int qos;
	double speed;
	double rate;
	bool speed_set, realtime, start_set, clean_set;
	bool normal_only, quiet;
} sim_cli;

static volatile sig_atomic_t sim_stop;

static void sim_on_signal(int sig)
{
	(void)sig;
	sim_stop = 1;
}

static int bad_value(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "iotad sim: %s '%s': %s\n", opt, val, why);
	return -1;
}

static int parse_double(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
		return bad_value(opt, s, "not a number");
	if (v < lo || v > hi) {
		fprintf(stderr, "iotad sim: %s '%s': must be between %g and %g\n", opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE)
		return bad_value(opt, s, "not an integer");
	if (v < lo || v > hi) {
		fprintf(stderr, "iotad sim: %s '%s': must be between %ld and %ld\n", opt, s, lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int parse_seed(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '-' || *s == '+')
		return bad_value("--seed", s, "must be an unsigned integer");
	unsigned long long v = strtoull(s, &end, 0);
	if (end == s || *end != '\0' || errno == ERANGE)
		return bad_value("--seed", s, "must be an unsigned 64-bit integer");
	*out = (uint64_t)v;
	return 0;
}

static int parse_kinds(const char *s, uint32_t *out)
{
	char buf[128];
	if (strlen(s) >= sizeof buf)
		return bad_value("--kinds", s, "too long");
	if (strcmp(s, "all") == 0) {
		*out = (1u << SIM_SPIKE) | (1u << SIM_DRIFT) | (1u << SIM_STUCK) | (1u << SIM_NOISE);
		return 0;
	}
	strcpy(buf, s);
	uint32_t mask = 0;
	char *save = NULL;
	/* strtok_r would skip empty items; reject them explicitly */
	if (buf[0] == ',' || buf[0] == '\0' || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,"))
		return bad_value("--kinds", s, "empty item in the list");
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		sim_kind k;
		if (sim_kind_parse(tok, &k) != 0 || k == SIM_NONE) {
			fprintf(stderr,
				"iotad sim: --kinds: unknown kind '%s' (spike, drift, stuck, noise or all)\n",
				tok);
			return -1;
		}
		mask |= 1u << k;
	}
	*out = mask;
	return 0;
}

static int check_text(const char *opt, const char *s, size_t max)
{
	if (!*s)
		return bad_value(opt, s, "must not be empty");
	if (strlen(s) > max)
		return bad_value(opt, s, "too long");
	return 0;
}

enum {
	OPT_BROKER = 256, OPT_PREFIX, OPT_QOS, OPT_CLIENT, OPT_DEVICES, OPT_CLEAN, OPT_INTERVAL,
	OPT_DURATION, OPT_START, OPT_WARMUP, OPT_EVERY, OPT_LEN, OPT_KINDS, OPT_SEED, OPT_SPEED,
	OPT_REALTIME, OPT_RATE, OPT_TRUTH, OPT_CSV, OPT_NORMAL, OPT_QUIET, OPT_REPLAY, OPT_SEP,
	OPT_FEATURES, OPT_DEVICE, OPT_DEVICE_COL, OPT_TIME_COL,
};

static const struct option long_opts[] = {
	{"broker", required_argument, NULL, OPT_BROKER},
	{"topic-prefix", required_argument, NULL, OPT_PREFIX},
	{"qos", required_argument, NULL, OPT_QOS},
	{"client-id", required_argument, NULL, OPT_CLIENT},
	{"devices", required_argument, NULL, OPT_DEVICES},
	{"clean", required_argument, NULL, OPT_CLEAN},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"start-ts", required_argument, NULL, OPT_START},
	{"warmup", required_argument, NULL, OPT_WARMUP},
	{"anomaly-every", required_argument, NULL, OPT_EVERY},
	{"anomaly-len", required_argument, NULL, OPT_LEN},
	{"kinds", required_argument, NULL, OPT_KINDS},
	{"seed", required_argument, NULL, OPT_SEED},
	{"speed", required_argument, NULL, OPT_SPEED},
	{"realtime", no_argument, NULL, OPT_REALTIME},
	{"rate", required_argument, NULL, OPT_RATE},
	{"truth", required_argument, NULL, OPT_TRUTH},
	{"csv", required_argument, NULL, OPT_CSV},
	{"normal-only", no_argument, NULL, OPT_NORMAL},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"replay", required_argument, NULL, OPT_REPLAY},
	{"sep", required_argument, NULL, OPT_SEP},
	{"features", required_argument, NULL, OPT_FEATURES},
	{"device", required_argument, NULL, OPT_DEVICE},
	{"device-col", required_argument, NULL, OPT_DEVICE_COL},
	{"time-col", required_argument, NULL, OPT_TIME_COL},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* Returns 0 to go on, 1 for --help, 2 for --version, -1 on bad usage (message printed). */
static int parse_args(int argc, char **argv, sim_cli *c)
{
	sim_opts_default(&c->so);
	c->so.seed = 42;
	c->broker = "tcp://localhost:1883";
	c->prefix = "telemetry";
	c->qos = 1;
	c->speed = 1.0;
	double duration = c->so.duration;

	opterr = 0;
	optind = 0; /* glibc: rescan from scratch on every call */
	int ch, r = 0;
	while (r == 0 && (ch = getopt_long(argc, argv, ":hV", long_opts, NULL)) != -1) {
		const char *v = optarg;
		switch (ch) {
		case 'h':
			return 1;
		case 'V':
			return 2;
		case OPT_BROKER:
			r = check_text("--broker", v, 1024);
			if (!r && !strstr(v, "://"))
				r = bad_value("--broker", v, "expected a URI like tcp://host:1883");
			c->broker = v;
			break;
		case OPT_PREFIX:
			r = check_text("--topic-prefix", v, 200);
			if (!r && strpbrk(v, "+#"))
				r = bad_value("--topic-prefix", v, "must not contain + or #");
			else if (!r && v[strlen(v) - 1] == '/')
				r = bad_value("--topic-prefix", v, "must not end with /");
			c->prefix = v;
			break;
		case OPT_QOS:
			r = parse_int("--qos", v, 0, 1, &c->qos);
			break;
		case OPT_CLIENT:
			r = check_text("--client-id", v, 128);
			c->client_id = v;
			break;
		case OPT_DEVICES:
			r = parse_int("--devices", v, 1, SIM_MAX_DEVICES, &c->so.n_devices);
			break;
		case OPT_CLEAN:
			r = parse_int("--clean", v, 0, SIM_MAX_DEVICES, &c->so.clean_devices);
			c->clean_set = true;
			break;
		case OPT_INTERVAL:
			r = parse_double("--interval", v, 0.001, 86400.0, &c->so.interval);
			break;
		case OPT_DURATION:
			r = parse_double("--duration", v, 0.0, 100.0 * 365 * 86400.0, &duration);
			break;
		case OPT_START:
			r = parse_double("--start-ts", v, 0.0, SIM_MAX_EPOCH, &c->so.start_ts);
			c->start_set = true;
			break;
		case OPT_WARMUP:
			r = parse_double("--warmup", v, 0.0, 1e9, &c->so.warmup);
			break;
		case OPT_EVERY:
			r = parse_double("--anomaly-every", v, 0.001, 1e9, &c->so.anomaly_every);
			break;
		case OPT_LEN:
			r = parse_double("--anomaly-len", v, 0.001, 1e9, &c->so.anomaly_len);
			break;
		case OPT_KINDS:
			r = parse_kinds(v, &c->so.kinds);
			break;
		case OPT_SEED:
			r = parse_seed(v, &c->so.seed);
			break;
		case OPT_SPEED:
			r = parse_double("--speed", v, 0.0, 1e9, &c->speed);
			c->speed_set = true;
			break;
		case OPT_REALTIME:
			c->realtime = true;
			break;
		case OPT_RATE:
			r = parse_double("--rate", v, 0.001, 1e9, &c->rate);
			break;
		case OPT_TRUTH:
			r = check_text("--truth", v, 4096);
			c->truth_path = v;
			break;
		case OPT_CSV:
			r = check_text("--csv", v, 4096);
			c->csv_path = v;
			break;
		case OPT_NORMAL:
			c->normal_only = true;
			break;
		case OPT_QUIET:
			c->quiet = true;
			break;
		case OPT_REPLAY:
			r = check_text("--replay", v, 4096);
			c->replay_path = v;
			break;
		case OPT_SEP:
			if (cli_sep(v, &c->ro.sep) != 0)
				r = bad_value("--sep", v, "must be one character, tab or \\t");
			break;
		case OPT_FEATURES:
			r = check_text("--features", v, 4000);
			c->ro.features = v;
			break;
		case OPT_DEVICE:
			r = check_text("--device", v, REPLAY_DEVICE_MAX - 1);
			if (!r && strpbrk(v, "+#/ "))
				r = bad_value("--device", v, "must not contain + # / or spaces");
			c->ro.device = v;
			break;
		case OPT_DEVICE_COL:
			r = check_text("--device-col", v, 200);
			c->ro.device_col = v;
			break;
		case OPT_TIME_COL:
			c->ro.time_col = v;
			break;
		case ':':
			fprintf(stderr, "iotad sim: %s needs a value\n", argv[optind - 1]);
			r = -1;
			break;
		default:
			if (optopt)
				fprintf(stderr, "iotad sim: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "iotad sim: unknown option '%s'\n", argv[optind - 1]);
			r = -1;
			break;
		}
	}
	if (r)
		return -1;
	if (optind < argc) {
		fprintf(stderr, "iotad sim: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (c->realtime && c->speed_set) {
		fprintf(stderr, "iotad sim: --speed and --realtime exclude each other\n");
		return -1;
	}
	if (c->realtime)
		c->speed = 1.0;
	if (c->replay_path && (c->csv_path || c->truth_path || (c->ro.device && c->ro.device_col))) {
		fprintf(stderr, "iotad sim: --replay excludes --csv and --truth, and --device excludes "
				"--device-col\n");
		return -1;
	}
	if (c->csv_path && c->truth_path && !strcmp(c->csv_path, "-") && !strcmp(c->truth_path, "-")) {
		fprintf(stderr, "iotad sim: --csv and --truth cannot both write to stdout\n");
		return -1;
	}
	if (!c->replay_path && (c->ro.sep || c->ro.features || c->ro.device || c->ro.device_col ||
				c->ro.time_col)) {
		fprintf(stderr, "iotad sim: --sep, --features, --device, --device-col and --time-col "
				"need --replay\n");
		return -1;
	}
	if (c->clean_set && c->so.clean_devices > c->so.n_devices) {
		fprintf(stderr, "iotad sim: --clean %d: more than --devices %d\n",
			c->so.clean_devices, c->so.n_devices);
		return -1;
	}
	if (c->normal_only)
		c->so.clean_devices = c->so.n_devices;
	if (duration == 0.0) {
		if (c->csv_path) {
			fprintf(stderr, "iotad sim: --csv needs a finite --duration\n");
			return -1;
		}
		duration = INFINITY;
	}
	c->so.duration = duration;
	if (!c->start_set) {
		/* now, on a whole millisecond */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		c->so.start_ts = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
	}
	return 0;
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

static void write_anomaly(FILE *f, const sim_anomaly *a)
{
	char name[32];
	sim_device_name(a->device, name, sizeof name);
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
		write_anomaly(f, &t[i]);
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
	char names[64][16];
	int cached = c->so.n_devices < 64 ? c->so.n_devices : 64;
	for (int d = 0; d < cached; d++)
		sim_device_name(d, names[d], sizeof names[d]);
	fputs("ts,device,temperature,humidity,battery,label\n", f);
	sim_sample x;
	unsigned long long rows = 0, anomalous = 0;
	char name[32];
	while (!sim_stop && sim_next(s, &x)) {
		const char *dn = names[0];
		if (x.device < cached) {
			dn = names[x.device];
		} else {
			sim_device_name(x.device, name, sizeof name);
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

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sleep until the monotonic time t (seconds), waking at least every 200 ms
 * to notice a stop request. Absolute deadlines: no drift. */
static void sleep_until(double t)
{
	for (;;) {
		if (sim_stop)
			return;
		double now = mono_now();
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
	char (*topics)[256];    /* generator: per device */
	char topic[256];        /* replay: the current row's */
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
		snprintf(ps->topic, sizeof ps->topic, "%s/%s", c->prefix, dev);
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
				write_anomaly(ps->truth, &a);
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
	double t0 = mono_now(), next_progress = t0 + SIM_PROGRESS_S, ts0 = NAN, ts = 0.0;
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
		double now = mono_now();
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
		sim_device_name(d, name, sizeof name);
		snprintf(ps.topics[d], sizeof ps.topics[d], "%s/%s", c->prefix, name);
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
		.clean_session = true,
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

	double t0 = mono_now();
	publish_loop(c, &ps);
	bool drained = mq_drain(ps.client, SIM_DRAIN_MS);
	double elapsed = mono_now() - t0;
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
	sim_cli c;
	memset(&c, 0, sizeof c);
	int pr = parse_args(argc, argv, &c);
	if (pr == 1) {
		fputs(usage, stdout);
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
