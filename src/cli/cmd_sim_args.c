/* cmd_sim_args.c - the command line of `iotad sim`: its help text, its
 * options and their checks. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_sim.h"
#include "iotad/cli.h"
#include "iotad/clock.h"
#include "iotad/numparse.h"
#include "iotad/topic.h"

const char cmd_sim_usage[] =
	"usage: iotad sim [--broker URI] [--topic-prefix telemetry] [--qos 0|1] [--client-id ID]\n"
	"                 [--devices N] [--clean N] [--interval S] [--duration S] [--start-ts EPOCH]\n"
	"                 [--warmup S] [--anomaly-every S] [--anomaly-len S]\n"
	"                 [--kinds spike,drift,stuck,noise] [--seed N] [--persistent]\n"
	"                 [--speed X | --realtime] [--rate MSG_PER_S]\n"
	"                 [--truth FILE] [--csv FILE] [--normal-only] [--quiet]\n"
	"                 [--fleet [--device-kinds LIST] [--mix round-robin|seed] [--site-size N]\n"
	"                  [--benign LIST] [--benign-every S]]\n"
	"       iotad sim --replay FILE [--sep C] [--features A,B] [--device NAME | --device-col COL]\n"
	"                 [--time-col COL] [--speed X] [--rate N] [--broker URI] [--topic-prefix P]\n"
	"                 [--client-id ID] [--persistent]\n"
	"       iotad sim --mixed [OPTIONS]   a fleet of three kinds with their own fields\n"
	"                 (iotad sim --mixed --help)\n"
	"\n"
	"NAME\n"
	"    iotad sim - simulated IoT telemetry with labelled anomalies\n"
	"\n"
	"DESCRIPTION\n"
	"    Generates temperature, humidity and battery readings for N devices\n"
	"    (sensor-000, sensor-001, ...): a daily temperature cycle per device,\n"
	"    humidity moving against temperature, a slowly draining battery, and\n"
	"    correlated sensor noise. After a warm-up, anomalies are injected at\n"
	"    random times (exponential gaps, at least 3 anomaly lengths of normal\n"
	"    data between two): spike (+8..15 C), drift (ramp up to +6..10 C),\n"
	"    stuck (every value frozen) and noise (noise x10..20). The whole run is\n"
	"    determined by --seed.\n"
	"\n"
	"    With --fleet the devices are of five kinds (office-000, server-001,\n"
	"    cold-002, outdoor-003, greenhouse-004, ...), each with its own physics,\n"
	"    sensor resolution and noise, and the same three readings:\n"
	"      office      day/night setpoints (weekdays) through a thermal lag\n"
	"      server      a tight band with cooling cycles of 6-15 min\n"
	"      cold        compressor cycles of 12-28 min, a defrost every 4-8 h\n"
	"                  (+6-10 C), door openings by day (T and RH bump)\n"
	"      outdoor     stations of a site share its weather (daily cycle, slow\n"
	"                  weather, fronts); RH falls as T rises (fixed dew point)\n"
	"      greenhouse  heated by the sun, vents open above a setpoint\n"
	"    Its anomalies (--kinds; all by default) are spike (10-60 s), level_shift\n"
	"    (+-3-6 C or 10-20 % for 30-120 min), drift (a ramp to +-3-8 C over\n"
	"    2-6 h), stuck (temperature and humidity frozen, 30-180 min), noise\n"
	"    (10-60 min), correlation_break (humidity moves with temperature, 1-4\n"
	"    h) and dropout (no sample for 20-120 min). Benign changes (--benign),\n"
	"    not anomalies but listed in the truth as benign_setpoint (office,\n"
	"    server, cold: a lasting step of the target), benign_front (outdoor:\n"
	"    the site's weather shifts 3-6 C over 1-2 h) and benign_recharge (the\n"
	"    battery back at 98-100 %); their window is the change and 3 h after.\n"
	"    --anomaly-len is not used; --anomaly-every defaults to 43200. The\n"
	"    fleet needs a finite --duration; --interval 10 is its intended pace.\n"
	"\n"
	"    By default each sample is published as JSON\n"
	"        {\"ts\":EPOCH,\"temperature\":T,\"humidity\":H,\"battery\":B}\n"
	"    to PREFIX/DEVICE. With --csv the samples are written to a file instead\n"
	"    (the training and evaluation data of `iotad train` and `iotad eval`).\n"
	"\n"
	"    With --replay the rows of a CSV file are published instead, one JSON\n"
	"    message per row keyed by the column names, with \"ts\" from the time\n"
	"    column; --speed paces them by that time (0: as fast as possible).\n"
	"    On a terminal a progress line is shown on stderr.\n"
	"\n"
	"OPTIONS\n"
	"    --broker URI          MQTT broker (tcp://localhost:1883)\n"
	"    --topic-prefix P      topic prefix, no wildcards (telemetry)\n"
	"    --qos 0|1             publish QoS (1)\n"
	"    --client-id ID        MQTT client id (iotad-sim-PID)\n"
	"    --persistent          a persistent session (clean session off): QoS 1\n"
	"                          messages in flight when the connection drops are\n"
	"                          sent again after the reconnect (give --client-id)\n"
	"    --devices N           number of devices, 1..100000 (10)\n"
	"    --clean N             the last N devices get no anomaly (0)\n"
	"    --interval S          seconds of device time between samples (1)\n"
	"    --duration S          seconds of device time to generate (3600);\n"
	"                          0 runs until interrupted (publishing only)\n"
	"    --start-ts EPOCH      device time of the first sample (now)\n"
	"    --warmup S            seconds without anomalies at the start (300)\n"
	"    --anomaly-every S     mean seconds between anomaly starts per device (900)\n"
	"    --anomaly-len S       seconds an anomaly lasts (60)\n"
	"    --kinds LIST          comma separated kinds to inject, or all (all)\n"
	"    --fleet               devices of five kinds with benign changes (above)\n"
	"    --device-kinds LIST   fleet: office,server,cold,outdoor,greenhouse or all\n"
	"    --mix round-robin|seed  fleet: kinds in turn, or drawn per device\n"
	"                          from the seed (round-robin)\n"
	"    --site-size N         fleet: outdoor stations per site, 1..1000 (5)\n"
	"    --benign LIST         fleet: setpoint,front,recharge, all or none (all)\n"
	"    --benign-every S      fleet: mean seconds between benign changes of a\n"
	"                          device or a site (86400)\n"
	"    --seed N              random seed (42)\n"
	"    --speed X             device time runs X times faster than real time;\n"
	"                          0 publishes as fast as possible (1)\n"
	"    --realtime            same as --speed 1\n"
	"    --rate N              at most N messages per second in total (no cap)\n"
	"    --truth FILE          write the ground truth as CSV device,kind,start,end\n"
	"                          (epoch seconds, [start, end)) before the first sample;\n"
	"                          kinds starting with benign_ are benign changes;\n"
	"                          with --duration 0 each anomaly is appended when planned\n"
	"    --csv FILE            write ts,device,temperature,humidity,battery,label\n"
	"                          to FILE (- for stdout) instead of publishing;\n"
	"                          label is 1 inside an anomaly, 0 otherwise\n"
	"    --normal-only         inject no anomaly at all (same as --clean N)\n"
	"    --quiet               no progress lines\n"
	"    --replay FILE         publish the rows of the CSV file FILE (header row)\n"
	"    --sep C               its field separator (,)\n"
	"    --features LIST       comma separated columns to send (every numeric\n"
	"                          column but time, device and label/anomaly/changepoint)\n"
	"    --device NAME         device of every row (replay)\n"
	"    --device-col COL      device of each row from column COL\n"
	"    --time-col COL        time column: epoch seconds, RFC 3339 or\n"
	"                          'YYYY-MM-DD HH:MM:SS' as UTC (ts, timestamp, datetime\n"
	"                          or time if present; '' for none)\n"
	"    -h, --help            this text\n"
	"    -V, --version         print the version\n"
	"\n"
	"EXIT STATUS\n"
	"    0 done (or stopped by SIGINT/SIGTERM) with every message delivered,\n"
	"    1 runtime error or failed publishes, 2 bad usage.\n"
	"\n"
	"EXAMPLES\n"
	"    iotad sim --csv train.csv --devices 20 --duration 86400 --interval 10 --normal-only\n"
	"    iotad sim --broker tcp://localhost:1883 --devices 5 --speed 60 --truth truth.csv\n"
	"    iotad sim --fleet --devices 50 --interval 10 --duration 259200 --warmup 86400 \\\n"
	"        --seed 1 --csv fleet.csv --truth truth.csv\n"
	"    iotad sim --replay skab/valve1/0.csv --sep ';' --time-col datetime --device valve1 --speed 10\n";

static int bad_value(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "iotad sim: %s '%s': %s\n", opt, val, why);
	return -1;
}

static int parse_double(const char *opt, const char *s, double lo, double hi, double *out)
{
	char why[96];
	return num_parse_double(s, lo, hi, out, why, sizeof why) ? bad_value(opt, s, why) : 0;
}

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
	char why[96];
	long v;
	if (num_parse_long(s, lo, hi, &v, why, sizeof why))
		return bad_value(opt, s, why);
	*out = (int)v;
	return 0;
}

static int parse_seed(const char *s, uint64_t *out)
{
	char why[96];
	return num_parse_u64(s, out, why, sizeof why) ? bad_value("--seed", s, why) : 0;
}

/* A comma separated list of names into a mask: name i is bit lo + i;
 * "all" gives all_mask, "none" 0 when none_ok. */
static int parse_list(const char *opt, const char *s, const char *const *names, int n, int lo,
		      uint32_t all_mask, bool none_ok, uint32_t *out)
{
	char buf[256];
	if (strlen(s) >= sizeof buf)
		return bad_value(opt, s, "too long");
	if (!strcmp(s, "all") || (none_ok && !strcmp(s, "none"))) {
		*out = strcmp(s, "all") ? 0 : all_mask;
		return 0;
	}
	if (s[0] == ',' || s[0] == '\0' || s[strlen(s) - 1] == ',' || strstr(s, ",,"))
		return bad_value(opt, s, "empty item in the list");
	strcpy(buf, s);
	uint32_t mask = 0;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int i = 0;
		while (i < n && strcmp(tok, names[i]))
			i++;
		if (i == n) {
			fprintf(stderr, "iotad sim: %s: unknown item '%s' (", opt, tok);
			for (i = 0; i < n; i++)
				fprintf(stderr, "%s, ", names[i]);
			fprintf(stderr, "all%s)\n", none_ok ? " or none" : "");
			return -1;
		}
		mask |= 1u << (lo + i);
	}
	*out = mask;
	return 0;
}

/* The anomaly kinds, bit k for kind k (SIM_SPIKE ..); "all" is 0, resolved
 * once the mode is known. */
static int parse_kinds(const char *s, uint32_t *out)
{
	const char *names[SIM_DROPOUT];
	for (int k = SIM_SPIKE; k <= SIM_DROPOUT; k++)
		names[k - SIM_SPIKE] = sim_kind_name((sim_kind)k);
	return parse_list("--kinds", s, names, SIM_DROPOUT, SIM_SPIKE, 0, false, out);
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
	OPT_FEATURES, OPT_DEVICE, OPT_DEVICE_COL, OPT_TIME_COL, OPT_FLEET, OPT_DEV_KINDS, OPT_MIX,
	OPT_SITE_SIZE, OPT_BENIGN, OPT_BENIGN_EVERY, OPT_PERSISTENT,
};

static const char *const dev_kind_names[] = {"office", "server", "cold", "outdoor", "greenhouse"};
static const char *const benign_names[] = {"setpoint", "front", "recharge"};

static const struct option long_opts[] = {
	{"broker", required_argument, NULL, OPT_BROKER},
	{"topic-prefix", required_argument, NULL, OPT_PREFIX},
	{"qos", required_argument, NULL, OPT_QOS},
	{"client-id", required_argument, NULL, OPT_CLIENT},
	{"persistent", no_argument, NULL, OPT_PERSISTENT},
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
	{"fleet", no_argument, NULL, OPT_FLEET},
	{"device-kinds", required_argument, NULL, OPT_DEV_KINDS},
	{"mix", required_argument, NULL, OPT_MIX},
	{"site-size", required_argument, NULL, OPT_SITE_SIZE},
	{"benign", required_argument, NULL, OPT_BENIGN},
	{"benign-every", required_argument, NULL, OPT_BENIGN_EVERY},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* The fleet's options: after the loop, as the mode decides the defaults. */
static int check_fleet(sim_cli *c, bool fleet_opts)
{
	if (!c->so.fleet) {
		if (fleet_opts) {
			fprintf(stderr, "iotad sim: --device-kinds, --mix, --site-size, --benign and "
					"--benign-every need --fleet\n");
			return -1;
		}
		if (!c->kinds_set || c->so.kinds == 0) {
			c->so.kinds = SIM_CLASSIC_KINDS;
		} else if (c->so.kinds & ~(uint32_t)SIM_CLASSIC_KINDS) {
			fprintf(stderr, "iotad sim: --kinds: level_shift, correlation_break and dropout "
					"need --fleet\n");
			return -1;
		}
		return 0;
	}
	if (!c->kinds_set || c->so.kinds == 0)
		c->so.kinds = SIM_FLEET_KINDS;
	if (!c->every_set)
		c->so.anomaly_every = 43200.0;
	if (c->replay_path) {
		fprintf(stderr, "iotad sim: --fleet and --replay exclude each other\n");
		return -1;
	}
	return 0;
}

int cmd_sim_parse_args(int argc, char **argv, sim_cli *c)
{
	sim_opts_default(&c->so);
	c->so.seed = 42;
	c->broker = "tcp://localhost:1883";
	c->prefix = TOPIC_TELEMETRY_PREFIX;
	c->qos = 1;
	c->speed = 1.0;
	double duration = c->so.duration;
	bool fleet_opts = false;

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
			if (!r && !topic_prefix_ok(v))
				r = bad_value("--topic-prefix", v,
					      "must not contain + or #, start with $ or end with /");
			c->prefix = v;
			break;
		case OPT_QOS:
			r = parse_int("--qos", v, 0, 1, &c->qos);
			break;
		case OPT_CLIENT:
			r = check_text("--client-id", v, 128);
			c->client_id = v;
			break;
		case OPT_PERSISTENT:
			c->persistent = true;
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
			c->every_set = true;
			break;
		case OPT_LEN:
			r = parse_double("--anomaly-len", v, 0.001, 1e9, &c->so.anomaly_len);
			break;
		case OPT_KINDS:
			r = parse_kinds(v, &c->so.kinds);
			c->kinds_set = true;
			break;
		case OPT_FLEET:
			c->so.fleet = true;
			break;
		case OPT_DEV_KINDS:
			r = parse_list("--device-kinds", v, dev_kind_names, 5, SIM_DEV_OFFICE,
				       SIM_ALL_DEVICE_KINDS, false, &c->so.device_kinds);
			fleet_opts = true;
			break;
		case OPT_MIX:
			if (!strcmp(v, "round-robin"))
				c->so.mix = SIM_MIX_ROUND_ROBIN;
			else if (!strcmp(v, "seed"))
				c->so.mix = SIM_MIX_SEED;
			else
				r = bad_value("--mix", v, "expected round-robin or seed");
			fleet_opts = true;
			break;
		case OPT_SITE_SIZE:
			r = parse_int("--site-size", v, 1, 1000, &c->so.site_size);
			fleet_opts = true;
			break;
		case OPT_BENIGN:
			r = parse_list("--benign", v, benign_names, 3, SIM_SETPOINT, SIM_BENIGN_KINDS,
				       true, &c->so.benign);
			fleet_opts = true;
			break;
		case OPT_BENIGN_EVERY:
			r = parse_double("--benign-every", v, 1.0, 1e9, &c->so.benign_every);
			fleet_opts = true;
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
			if (!r && !topic_level_ok(v, strlen(v)))
				r = bad_value("--device", v,
					      "must be printable ASCII without + # / or spaces");
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
	if (check_fleet(c, fleet_opts))
		return -1;
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
		if (c->so.fleet) {
			fprintf(stderr, "iotad sim: --fleet needs a finite --duration (it plans the "
					"whole run)\n");
			return -1;
		}
		if (c->csv_path) {
			fprintf(stderr, "iotad sim: --csv needs a finite --duration\n");
			return -1;
		}
		duration = INFINITY;
	}
	c->so.duration = duration;
	if (!c->start_set) {
		/* now, on a whole millisecond */
		c->so.start_ts = floor(clock_wall() * 1000.0) / 1000.0;
	}
	return 0;
}
