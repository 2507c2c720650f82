/* cmd_sim_mixed.c - `iotad sim --mixed`: a fleet of room sensors, power
 * meters and vibration sensors (sim_mixed.h), each kind with its own
 * fields, written as one CSV with a kind column (what `iotad train
 * --group-by kind` reads) or published as JSON on PREFIX/KIND/DEVICE. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iotad/clock.h"
#include "iotad/cmd.h"
#include "iotad/mqtt.h"
#include "iotad/numparse.h"
#include "iotad/sim_mixed.h"

static const char usage[] =
	"usage: iotad sim --mixed [--devices N] [--duration S] [--interval S] [--seed N]\n"
	"                 [--anomalous SHARE] [--normal-only] [--csv FILE] [--truth FILE]\n"
	"                 [--broker URI] [--topic-prefix telemetry] [--rate MSG_PER_S]\n"
	"\n"
	"    A mixed fleet: device i is a room sensor (temperature, humidity,\n"
	"    battery), a power meter (voltage, current, power) or a vibration\n"
	"    sensor (rms, peak, temperature) as i %% 3 says, named room-007,\n"
	"    meter-007, vibration-007. A share of the devices (--anomalous, 0.3)\n"
	"    gets one labelled anomaly after the first quarter of the run.\n"
	"    --csv writes ts,device,kind,temperature,humidity,battery,voltage,\n"
	"    current,power,rms,peak,label (a kind's cells only; the others empty).\n"
	"    --broker publishes {\"ts\":..,FIELD:..} on PREFIX/KIND/DEVICE, as fast\n"
	"    as the broker takes them or --rate messages a second.\n"
	"    --truth writes device,kind,start,end of every anomaly.\n";

/* The CSV's value columns and where each kind's fields go in them. */
static const char *const columns[] = {"temperature", "humidity", "battery", "voltage",
				      "current", "power", "rms", "peak"};
#define N_COLUMNS 8

static int column_of(const char *name)
{
	for (int i = 0; i < N_COLUMNS; i++)
		if (!strcmp(columns[i], name))
			return i;
	return -1;
}

static void csv_row(FILE *f, const sim_mixed_sample *s)
{
	char name[32];
	const char *const *fields = sim_mixed_fields(s->kind);
	double cell[N_COLUMNS];
	bool set[N_COLUMNS] = {false};
	for (int k = 0; k < SIM_MIXED_FIELDS; k++) {
		int c = column_of(fields[k]);
		cell[c] = s->values[k];
		set[c] = true;
	}
	sim_mixed_device_name(s->device, name, sizeof name);
	fprintf(f, "%.0f,%s,%s", s->ts, name, sim_mixed_kind_name(s->kind));
	for (int c = 0; c < N_COLUMNS; c++)
		if (set[c])
			fprintf(f, ",%.6g", cell[c]);
		else
			fputs(",", f);
	fprintf(f, ",%d\n", s->anomalous ? 1 : 0);
}

static int publish(sim_mixed *sm, const char *uri, const char *prefix, double rate)
{
	mq_opts mo = {.uri = uri, .client_id = "iotad-sim-mixed", .keepalive = 30,
		      .clean_session = true, .max_inflight = 1000};
	mq *client = NULL;
	iotad_err e = mq_create(&mo, &client);
	if (!e)
		e = mq_start(client);
	bool up = false;
	for (int i = 0; !e && i < 40 && !up; i++)
		up = mq_wait_connected(client, 250);
	if (e || !up) {
		fprintf(stderr, "iotad sim: cannot connect to %s\n", uri);
		mq_destroy(client, 1000);
		return 1;
	}
	sim_mixed_sample s;
	unsigned long long sent = 0, failed = 0;
	double t0 = clock_mono();
	while (sim_mixed_next(sm, &s)) {
		char topic[256], payload[256], name[32];
		const char *const *fields = sim_mixed_fields(s.kind);
		sim_mixed_device_name(s.device, name, sizeof name);
		snprintf(topic, sizeof topic, "%s/%s/%s", prefix, sim_mixed_kind_name(s.kind), name);
		int n = snprintf(payload, sizeof payload,
				 "{\"ts\":%.0f,\"%s\":%.6g,\"%s\":%.6g,\"%s\":%.6g}", s.ts,
				 fields[0], s.values[0], fields[1], s.values[1], fields[2],
				 s.values[2]);
		if (mq_publish(client, topic, payload, (size_t)n, 1, false, 5000) != IOTAD_OK)
			failed++;
		sent++;
		if (rate > 0) {
			double ahead = (double)sent / rate - (clock_mono() - t0);
			if (ahead > 0.001) {
				struct timespec ts = {(time_t)ahead,
						      (long)((ahead - floor(ahead)) * 1e9)};
				nanosleep(&ts, NULL);
			}
		}
	}
	bool drained = mq_drain(client, 10000);
	mq_destroy(client, 2000);
	fprintf(stderr, "iotad sim: %llu messages published to %s, %llu failures%s\n", sent, uri,
		failed, drained ? "" : ", some unacknowledged at exit");
	return failed || !drained ? 1 : 0;
}

int cmd_sim_mixed(int argc, char **argv)
{
	enum { O_MIXED = 256, O_DEV, O_DUR, O_INT, O_SEED, O_ANOM, O_NORMAL, O_CSV, O_TRUTH,
	       O_BROKER, O_PREFIX, O_RATE };
	static const struct option lo[] = {
		{"mixed", no_argument, NULL, O_MIXED}, {"devices", required_argument, NULL, O_DEV},
		{"duration", required_argument, NULL, O_DUR},
		{"interval", required_argument, NULL, O_INT},
		{"seed", required_argument, NULL, O_SEED},
		{"anomalous", required_argument, NULL, O_ANOM},
		{"normal-only", no_argument, NULL, O_NORMAL},
		{"csv", required_argument, NULL, O_CSV}, {"truth", required_argument, NULL, O_TRUTH},
		{"broker", required_argument, NULL, O_BROKER},
		{"topic-prefix", required_argument, NULL, O_PREFIX},
		{"rate", required_argument, NULL, O_RATE}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	sim_mixed_opts o;
	sim_mixed_opts_default(&o);
	const char *csv = NULL, *truth = NULL, *broker = NULL, *prefix = "telemetry";
	double rate = 0, v;
	char perr[128];
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		bool ok = true;
		switch (opt) {
		case O_MIXED:
			break;
		case O_DEV:
			ok = num_parse_double(optarg, 3, 100000, &v, perr, sizeof perr) == 0 &&
			     v == floor(v);
			o.n_devices = ok ? (int)v : 0;
			break;
		case O_DUR:
			ok = num_parse_double(optarg, 1, 1e9, &o.duration, perr, sizeof perr) == 0;
			break;
		case O_INT:
			ok = num_parse_double(optarg, 1e-3, 1e6, &o.interval, perr, sizeof perr) == 0;
			break;
		case O_SEED:
			ok = num_parse_u64(optarg, &o.seed, perr, sizeof perr) == 0;
			break;
		case O_ANOM:
			ok = num_parse_double(optarg, 0, 1, &o.anomalous_share, perr, sizeof perr) == 0;
			break;
		case O_NORMAL:
			o.normal_only = true;
			break;
		case O_CSV:
			csv = optarg;
			break;
		case O_TRUTH:
			truth = optarg;
			break;
		case O_BROKER:
			broker = optarg;
			break;
		case O_PREFIX:
			prefix = optarg;
			break;
		case O_RATE:
			ok = num_parse_double(optarg, 0, 1e7, &rate, perr, sizeof perr) == 0;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
		if (!ok) {
			fprintf(stderr, "iotad sim: bad value '%s'\n%s", optarg, usage);
			return 2;
		}
	}
	o.warmup = o.duration / 4;
	if (!csv == !broker) {
		fprintf(stderr, "iotad sim: --mixed needs --csv FILE or --broker URI (one)\n");
		return 2;
	}
	sim_mixed *sm = NULL;
	if (sim_mixed_create(&o, &sm) != IOTAD_OK) {
		fprintf(stderr, "iotad sim: bad options: --devices 3..100000, --duration and "
				"--interval > 0, --anomalous in [0, 1]\n");
		return 2;
	}
	int rc = 0;
	if (truth) {
		FILE *f = fopen(truth, "w");
		if (!f) {
			perror(truth);
			sim_mixed_destroy(sm);
			return 1;
		}
		fputs("device,kind,start,end\n", f);
		for (int d = 0; d < o.n_devices; d++) {
			double a, b;
			char name[32];
			sim_mixed_device_name(d, name, sizeof name);
			if (sim_mixed_anomaly(sm, d, &a, &b))
				fprintf(f, "%s,%s,%.0f,%.0f\n", name,
					sim_mixed_kind_name(sim_mixed_kind_of(d)), a, b);
		}
		rc |= fclose(f) != 0;
	}
	if (csv) {
		FILE *f = fopen(csv, "w");
		if (!f) {
			perror(csv);
			sim_mixed_destroy(sm);
			return 1;
		}
		fputs("ts,device,kind", f);
		for (int c = 0; c < N_COLUMNS; c++)
			fprintf(f, ",%s", columns[c]);
		fputs(",label\n", f);
		sim_mixed_sample s;
		while (sim_mixed_next(sm, &s))
			csv_row(f, &s);
		rc |= ferror(f) || fclose(f) != 0;
	} else {
		rc |= publish(sm, broker, prefix, rate);
	}
	sim_mixed_destroy(sm);
	return rc ? 1 : 0;
}
