/* it_mixed.c - one `iotad run` for a mixed fleet on a real broker: room
 * sensors, power meters and vibration sensors (iotad sim --mixed, 300
 * devices), one model per kind trained from one CSV (iotad train
 * --group-by kind), routed by topic. Every message reaches its kind's
 * model (no missing_feature, no no_model), events and metrics name the
 * model, and detection per kind is measured against three services of one
 * kind each fed the same stream at the same time: no worse. */
#include "it_mixed.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "harness.h"
#include "iotad/sim_mixed.h"

#define MX_DEVICES 300
#define MX_DURATION 3000
#define MX_SEED 11
#define MX_MESSAGES (MX_DEVICES * (MX_DURATION / 10))

static const char *const mx_kinds[3] = {"room", "meter", "vibration"};

/* One service's config: all models (mixed) or kind k's alone on its topic. */
static const char *mx_config(const hx_broker *b, int port, int k, const char *models)
{
	char text[4096], name[32];
	int off = snprintf(text, sizeof text,
			   "mqtt:\n  uri: %s\n  client_id: mx-%s\n"
			   "topics:\n  telemetry: %s\n  device_level: 2\n"
			   "  alerts: a-%s\n  state: s-%s\n  status: iotad/status/mx-%s\n"
			   "detector:\n  max_devices: 400\n"
			   "service:\n  log_level: info\n  queue_size: 200000\n"
			   "http:\n  listen: 127.0.0.1:%d\n",
			   b->uri, k < 0 ? "mixed" : mx_kinds[k],
			   k < 0 ? "telemetry/#" : "telemetry/+/+", k < 0 ? "mixed" : mx_kinds[k],
			   k < 0 ? "mixed" : mx_kinds[k], k < 0 ? "mixed" : mx_kinds[k], port);
	if (k < 0) {
		off += snprintf(text + off, sizeof text - (size_t)off, "models:\n");
		for (int i = 0; i < 3; i++)
			off += snprintf(text + off, sizeof text - (size_t)off,
					"  - name: %s\n    topic: telemetry/%s/+\n    path: %s/%s.json\n",
					mx_kinds[i], mx_kinds[i], models, mx_kinds[i]);
	} else {
		snprintf(text + off, sizeof text - (size_t)off,
			 "model:\n  path: %s/%s.json\n", models, mx_kinds[k]);
		/* one kind's topic only: the telemetry filter names it */
		char *t = strstr(text, "telemetry/+/+");
		char filt[64];
		snprintf(filt, sizeof filt, "telemetry/%s/+", mx_kinds[k]);
		char rest[4096];
		snprintf(rest, sizeof rest, "%s", t + strlen("telemetry/+/+"));
		snprintf(t, sizeof text - (size_t)(t - text), "%s%s", filt, rest);
	}
	snprintf(name, sizeof name, "mx-%s.yaml", k < 0 ? "mixed" : mx_kinds[k]);
	const char *path = hx_path(name);
	return hx_write_file(path, text) == 0 ? path : NULL;
}

typedef struct mx_score {
	int anomalous, detected, clean_raised, raises_outside;
} mx_score;

/* Detection of kind k by the service whose alerts are under prefix:
 * an anomalous device is detected by a raise from its start to 5 min
 * after its end; any other raise is a false one. */
static void mx_judge(hx_sub *sub, const sim_mixed *sm, const char *prefix, int k, mx_score *out)
{
	memset(out, 0, sizeof *out);
	char topic[96], name[32];
	for (int d = k; d < MX_DEVICES; d += 3) {
		sim_mixed_device_name(d, name, sizeof name);
		snprintf(topic, sizeof topic, "a-%s/%s", prefix, name);
		double a = 0, e = 0;
		bool anomalous = sim_mixed_anomaly(sm, d, &a, &e);
		bool hit = false, other = false;
		pthread_mutex_lock(&sub->lock);
		for (size_t i = 0; i < sub->n; i++) {
			const hx_msg *m = &sub->msgs[i];
			if (!m->topic || strcmp(m->topic, topic) || !m->payload ||
			    !strstr(m->payload, "\"state\":\"raised\""))
				continue;
			const char *ts = strstr(m->payload, "\"ts\":");
			double t = ts ? strtod(ts + 5, NULL) : 0;
			/* ts may be an RFC 3339 string: then count by position only */
			if (ts && ts[5] == '"')
				t = a;
			if (anomalous && t >= a && t <= e + 300)
				hit = true;
			else
				other = true, out->raises_outside++;
		}
		pthread_mutex_unlock(&sub->lock);
		out->anomalous += anomalous;
		out->detected += hit;
		out->clean_raised += !anomalous && other;
	}
}

void it_mixed_fleet(void)
{
	char models[512], train[512], log[512];
	snprintf(models, sizeof models, "%s", hx_path("mx-models"));
	snprintf(train, sizeof train, "%s", hx_path("mx-train.csv"));
	snprintf(log, sizeof log, "%s", hx_path("mx-train.log"));
	char *sim_argv[] = {(char *)hx_iotad(), "sim", "--mixed", "--devices", "90",
			    "--duration", "30000", "--normal-only", "--seed", "3", "--csv",
			    train, NULL};
	CU_ASSERT_EQUAL_FATAL(hx_run(sim_argv, log, 60000), 0);
	char *train_argv[] = {(char *)hx_iotad(), "train", "--csv", train, "--group-by", "kind",
			      "--skip", "ts,label", "--group", "device", "--epochs", "8", "-q",
			      "-o", models, NULL};
	CU_ASSERT_EQUAL_FATAL(hx_run(train_argv, log, 300000), 0);

	hx_broker b;
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub status, sub; /* the services' status; alerts and states (2 levels, not telemetry) */
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&status, b.uri, "iotad/status/+", "it-mx-status"), 0);
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "+/+", "it-mx-sub"), 0);
	int port[4];
	pid_t pid[4];
	char logs[4][512];
	for (int k = -1; k < 3; k++) {
		port[k + 1] = hx_free_port();
		const char *cfg = mx_config(&b, port[k + 1], k, models);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
		snprintf(logs[k + 1], sizeof logs[0], "%s",
			 hx_path(k < 0 ? "mx-mixed.log" : k == 0 ? "mx-room.log" :
				 k == 1 ? "mx-meter.log" : "mx-vibration.log"));
		pid[k + 1] = hx_start_iotad(cfg, logs[k + 1], &status, (size_t)k + 2);
		CU_ASSERT_FATAL(pid[k + 1] > 0);
	}
	CU_ASSERT_TRUE(hx_wait_log(logs[0], "with 3 models routed by topic and device", 5000));

	char seed[16], devices[16], duration[16];
	snprintf(seed, sizeof seed, "%d", MX_SEED);
	snprintf(devices, sizeof devices, "%d", MX_DEVICES);
	snprintf(duration, sizeof duration, "%d", MX_DURATION);
	char *pub_argv[] = {(char *)hx_iotad(), "sim", "--mixed", "--devices", devices,
			    "--duration", duration, "--seed", seed, "--broker", b.uri, NULL};
	CU_ASSERT_EQUAL(hx_run(pub_argv, hx_path("mx-pub.log"), 300000), 0);
	CU_ASSERT_TRUE(hx_wait_metric(port[0], "iotad_messages_received_total", MX_MESSAGES, 120000));
	for (int k = 0; k < 3; k++)
		CU_ASSERT_TRUE(hx_wait_metric(port[k + 1], "iotad_messages_received_total", MX_MESSAGES / 3, 60000));

	/* every message of the mixed service went to its kind's model */
	CU_ASSERT_EQUAL(hx_metric(port[0], "iotad_messages_received_total"), MX_MESSAGES);
	CU_ASSERT_EQUAL(hx_metric(port[0], "iotad_messages_rejected_total{reason=\"no_model\"}"), 0);
	CU_ASSERT_EQUAL(
		hx_metric(port[0], "iotad_messages_rejected_total{reason=\"missing_feature\"}"), 0);
	CU_ASSERT_EQUAL(hx_metric(port[0], "iotad_devices"), MX_DEVICES);
	for (int k = 0; k < 3; k++) {
		char key[96];
		snprintf(key, sizeof key, "iotad_model_messages_total{model=\"%s\"}", mx_kinds[k]);
		CU_ASSERT_EQUAL(hx_metric(port[0], key), MX_MESSAGES / 3);
		snprintf(key, sizeof key, "iotad_model_devices{model=\"%s\"}", mx_kinds[k]);
		CU_ASSERT_EQUAL(hx_metric(port[0], key), MX_DEVICES / 3);
	}
	CU_ASSERT_TRUE(hx_sub_marker(&sub, 10000));
	hx_sub_settle(&sub, "a-mixed/", 1000, 10000);

	/* events name the model of their kind */
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "a-mixed/room-", "\"id\":\"room\""),
			hx_sub_count(&sub, "a-mixed/room-", NULL));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "a-mixed/meter-", "\"id\":\"meter\""),
			hx_sub_count(&sub, "a-mixed/meter-", NULL));
	CU_ASSERT_TRUE(hx_sub_count(&sub, "a-mixed/", NULL) > 0);

	sim_mixed_opts o;
	sim_mixed_opts_default(&o);
	o.n_devices = MX_DEVICES;
	o.duration = MX_DURATION;
	o.warmup = MX_DURATION / 4.0;
	o.seed = MX_SEED;
	sim_mixed *sm = NULL;
	CU_ASSERT_EQUAL_FATAL(sim_mixed_create(&o, &sm), IOTAD_OK);
	int total_detected = 0;
	for (int k = 0; k < 3; k++) {
		mx_score mixed, single;
		mx_judge(&sub, sm, "mixed", k, &mixed);
		mx_judge(&sub, sm, mx_kinds[k], k, &single);
		printf("\n    %-9s one service: detected %d/%d, clean devices raised %d, raises "
		       "outside %d | service of one kind: detected %d/%d, clean raised %d, "
		       "outside %d", mx_kinds[k], mixed.detected, mixed.anomalous,
		       mixed.clean_raised, mixed.raises_outside, single.detected, single.anomalous,
		       single.clean_raised, single.raises_outside);
		CU_ASSERT_TRUE(mixed.anomalous > 0);
		CU_ASSERT_TRUE(mixed.detected >= single.detected);
		CU_ASSERT_TRUE(mixed.clean_raised <= single.clean_raised);
		CU_ASSERT_TRUE(mixed.raises_outside <= single.raises_outside);
		total_detected += mixed.detected;
	}
	printf("\n");
	CU_ASSERT_TRUE(total_detected > 0);
	sim_mixed_destroy(sm);

	/* eval routes the same fleet's CSV as the service routed its messages */
	char test_csv[512], eval_log[512];
	snprintf(test_csv, sizeof test_csv, "%s", hx_path("mx-test.csv"));
	snprintf(eval_log, sizeof eval_log, "%s", hx_path("mx-eval.log"));
	char *csv_argv[] = {(char *)hx_iotad(), "sim", "--mixed", "--devices", devices,
			    "--duration", duration, "--seed", seed, "--csv", test_csv, NULL};
	CU_ASSERT_EQUAL(hx_run(csv_argv, hx_path("mx-csv.log"), 60000), 0);
	char *eval_argv[] = {(char *)hx_iotad(), "eval", "--models", (char *)hx_path("mx-mixed.yaml"),
			     "--csv", test_csv, NULL};
	CU_ASSERT_EQUAL(hx_run(eval_argv, eval_log, 120000), 0);
	char *out = hx_read_file(eval_log, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "no_model 0, bad rows 0"));
	char want[64];
	snprintf(want, sizeof want, "total            %8d ", MX_MESSAGES);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
	for (int k = 0; k < 3; k++)
		CU_ASSERT_PTR_NOT_NULL(strstr(out, mx_kinds[k]));
	free(out);

	for (int i = 0; i < 4; i++) {
		kill(pid[i], SIGTERM);
		CU_ASSERT_EQUAL(hx_wait_exit(pid[i], 20000), 0);
	}
	hx_sub_stop(&sub);
	hx_sub_stop(&status);
	hx_broker_stop(&b, SIGTERM);
}
