/* it_examples.c - `iotad sim --replay` against a real mosquitto, and the
 * alert subscribers of examples/ (C and bash) reading a published event. */
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "harness.h"
#include "it_examples.h"
#include "../skip.h"

#define REPLAY_ROWS 20
#define REPLAY_T0 1714564800.0 /* 2024-05-01T12:00:00Z */

static double num(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(it) ? it->valuedouble : -1e300;
}

void it_replay_csv(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_broker_start(&b, 0, false) == 0);
	hx_sub sub;
	CU_ASSERT_FATAL(hx_sub_start(&sub, b.uri, "telemetry/#", "it-replay-sub") == 0);

	/* SKAB's layout: ';', local time without a zone, label columns */
	static char csv[4096];
	size_t n = (size_t)snprintf(csv, sizeof csv,
				    "datetime;device;temperature;humidity;anomaly;changepoint\n");
	for (int i = 0; i < REPLAY_ROWS; i++)
		n += (size_t)snprintf(csv + n, sizeof csv - n,
				      "2024-05-01 12:%02d:%02d;pump-%c;%.2f;%d;%d;0\n", i / 60, i % 60,
				      i % 2 ? 'b' : 'a', 20.0 + 0.25 * i, 40 + i, i == 7);
	const char *path = hx_path("replay.csv");
	CU_ASSERT_FATAL(hx_write_file(path, csv) == 0);
	const char *log = hx_path("replay.log");
	char *argv[] = {(char *)hx_iotad(), "sim", "--replay", (char *)path, "--sep", ";",
			"--device-col", "device", "--time-col", "datetime", "--speed", "0",
			"--broker", b.uri, NULL};
	int rc = hx_run(argv, log, 60000);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "telemetry/", NULL, REPLAY_ROWS, 10000));

	int seen[REPLAY_ROWS] = {0};
	pthread_mutex_lock(&sub.lock);
	CU_ASSERT_EQUAL(sub.n, REPLAY_ROWS);
	for (size_t k = 0; k < sub.n; k++) {
		cJSON *o = cJSON_Parse(sub.msgs[k].payload);
		CU_ASSERT_FATAL(cJSON_IsObject(o));
		double ts = num(o, "ts");
		int i = (int)(ts - REPLAY_T0);
		CU_ASSERT_FATAL(i >= 0 && i < REPLAY_ROWS && ts == REPLAY_T0 + i);
		seen[i]++;
		char topic[64];
		snprintf(topic, sizeof topic, "telemetry/pump-%c", i % 2 ? 'b' : 'a');
		CU_ASSERT_STRING_EQUAL(sub.msgs[k].topic, topic);
		CU_ASSERT_EQUAL(num(o, "temperature"), 20.0 + 0.25 * i);
		CU_ASSERT_EQUAL(num(o, "humidity"), 40.0 + i);
		/* exactly ts and the two features: no labels, no device, no text time */
		CU_ASSERT_EQUAL(cJSON_GetArraySize(o), 3);
		cJSON_Delete(o);
	}
	pthread_mutex_unlock(&sub.lock);
	for (int i = 0; i < REPLAY_ROWS; i++)
		CU_ASSERT_EQUAL(seen[i], 1);

	/* stderr is a file here: no progress line was drawn */
	char *text = hx_read_file(log, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NULL(strchr(text, '\r'));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "20 messages published"));
	free(text);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* Run one subscriber (argv), publish events[i] and find wants[i] in its
 * output, for i < n. */
static void check_subscriber(const hx_broker *b, char *const argv[], const char *name,
			     const char *const *events, const char *const *wants, int n)
{
	const char *log = hx_path(name);
	pid_t pid = hx_spawn(argv, log);
	CU_ASSERT_FATAL(pid > 0);
	/* the subscription is in place once a retained probe comes back */
	char port[16];
	snprintf(port, sizeof port, "%d", b->port);
	bool ready = false;
	for (int i = 0; i < 50 && !ready; i++) {
		char *pub[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-r", "-t",
			       "alerts/probe", "-m", "{\"device\":\"probe\",\"state\":\"normal\"}",
			       NULL};
		CU_ASSERT_EQUAL(hx_run(pub, NULL, 10000), 0);
		ready = hx_wait_log(log, "probe", 200);
	}
	CU_ASSERT_TRUE(ready);
	for (int i = 0; i < n; i++) {
		char *pub[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-t",
			       "alerts/boiler-1", "-m", (char *)events[i], NULL};
		CU_ASSERT_EQUAL(hx_run(pub, NULL, 10000), 0);
		bool found = hx_wait_log(log, wants[i], 10000);
		if (!found) {
			char *text = hx_read_file(log, NULL);
			printf("\n    %s printed:\n%s", name, text ? text : "(nothing)");
			free(text);
		}
		CU_ASSERT_TRUE(found);
	}
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 10000), 0);
}

void it_examples_alert_subscribers(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_broker_start(&b, 0, false) == 0);
	static const char *const event[] = {
		"{\"device\":\"boiler-1\",\"state\":\"anomaly\",\"ts\":1714564800,"
		"\"time\":\"2024-05-01T12:00:00.000Z\",\"score\":0.5,\"threshold\":0.0123,"
		"\"contrib\":{\"temperature\":0.7,\"humidity\":0.2,\"battery\":0.1},"
		"\"top\":[\"temperature\",\"humidity\"],\"model\":{\"id\":\"m\",\"version\":1},"
		"\"seq\":3}",
		/* a stuck sensor: the stuck features are what to look at */
		"{\"device\":\"boiler-1\",\"state\":\"raised\",\"ts\":1714564801,"
		"\"time\":\"2024-05-01T12:00:01.000Z\",\"score\":0.001,\"threshold\":0.0123,"
		"\"contrib\":{\"temperature\":0,\"humidity\":1,\"battery\":0},"
		"\"top\":[\"humidity\"],\"stuck\":[\"humidity\"],\"model\":{\"id\":\"m\","
		"\"version\":1},\"seq\":4}",
		/* the profile's channels that judged it */
		"{\"device\":\"boiler-1\",\"state\":\"raised\",\"ts\":1714564802,"
		"\"time\":\"2024-05-01T12:00:02.000Z\",\"score\":1.5,\"threshold\":1,"
		"\"contrib\":{\"temperature\":1,\"humidity\":0,\"battery\":0},"
		"\"top\":[\"temperature\"],\"channels\":[\"level\",\"drift\"],\"model\":null,"
		"\"seq\":5}",
		/* lifecycle and operator events say what they mean */
		"{\"device\":\"boiler-1\",\"state\":\"muted\",\"ts\":1714564802,"
		"\"time\":\"2024-05-01T12:00:02.000Z\",\"score\":null,\"threshold\":null,"
		"\"contrib\":{},\"top\":[],\"model\":{\"id\":\"m\",\"version\":1},"
		"\"until\":1714568402,\"until_time\":\"2024-05-01T13:00:02.000Z\",\"seq\":5}",
		"{\"device\":\"boiler-1\",\"state\":\"false_alarm\",\"ts\":1714564803,"
		"\"time\":\"2024-05-01T12:00:03.000Z\",\"score\":0.02,\"threshold\":0.03,"
		"\"contrib\":{},\"top\":[],\"model\":{\"id\":\"m\",\"version\":1},\"seq\":6}",
		"{\"device\":\"boiler-1\",\"state\":\"adapted\",\"ts\":1714564804,"
		"\"time\":\"2024-05-01T12:00:04.000Z\",\"score\":0.02,\"threshold\":0.03,"
		"\"contrib\":{},\"top\":[],\"model\":{\"id\":\"m\",\"version\":1},\"seq\":7}",
		"{\"device\":\"boiler-1\",\"state\":\"learning\",\"ts\":1714564805,"
		"\"time\":\"2024-05-01T12:00:05.000Z\",\"score\":null,\"threshold\":null,"
		"\"contrib\":{},\"top\":[],\"model\":{\"id\":\"m\",\"version\":1},\"seq\":8}",
	};
	static const char *const want[] = {
		"2024-05-01T12:00:00.000Z  boiler-1     anomaly  score 0.5        "
		"threshold 0.0123     look at: temperature, humidity\n",
		"2024-05-01T12:00:01.000Z  boiler-1     raised   score 0.001      "
		"threshold 0.0123     look at: humidity (stuck)\n",
		"2024-05-01T12:00:02.000Z  boiler-1     raised   score 1.5        "
		"threshold 1          look at: temperature by level,drift\n",
		"2024-05-01T12:00:02.000Z  boiler-1     muted    muted (maintenance) until "
		"2024-05-01T13:00:02.000Z\n",
		"2024-05-01T12:00:03.000Z  boiler-1     false_alarm alarm marked false: cleared, the "
		"window learned as normal\n",
		"2024-05-01T12:00:04.000Z  boiler-1     adapted  a lasting change is now its normal\n",
		"2024-05-01T12:00:05.000Z  boiler-1     learning learning its normal: no alarms yet\n",
	};
	const char *c_sub = getenv("ALERT_SUBSCRIBER");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c_sub);
	char *c_argv[] = {(char *)c_sub, (char *)b.uri, "alerts/#", NULL};
	check_subscriber(&b, c_argv, "alert_subscriber.log", event, want, 7);

	char script[1024], port[16];
	const char *src = getenv("IOTAD_SRC");
	snprintf(script, sizeof script, "%s/examples/alerts-subscriber.sh", src ? src : ".");
	snprintf(port, sizeof port, "%d", b.port);
	char *sh_argv[] = {"bash", script, "127.0.0.1", port, NULL};
	check_subscriber(&b, sh_argv, "alerts-subscriber.log", event, want, 7);
	hx_broker_stop(&b, SIGTERM);
}

/* Run argv on a pseudo-terminal: everything it wrote goes to out. Returns
 * the exit status, or -1 without a terminal. */
static int run_on_pty(char *const argv[], char *out, size_t cap)
{
	int master;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	size_t n = 0;
	ssize_t r;
	while (n + 1 < cap && (r = read(master, out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(master);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run argv with output to a file: status 0 and no progress line drawn. */
static void check_quiet_when_piped(char *const argv[], const char *name, const char *needle)
{
	const char *log = hx_path(name);
	CU_ASSERT_EQUAL(hx_run(argv, log, 120000), 0);
	char *text = hx_read_file(log, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NULL(strchr(text, '\r'));
	CU_ASSERT_PTR_NULL(strstr(text, needle));
	free(text);
}

/* The train and eval command lines of the progress tests (into arrays of
 * 16), on a fresh simulated CSV file. */
static void progress_commands(char **train, char **eval)
{
	const char *csv = hx_path("progress.csv");
	const char *model = hx_path("progress.json");
	char *sim[] = {(char *)hx_iotad(), "sim", "--csv", (char *)csv, "--devices", "2",
		       "--duration", "3000", "--interval", "5", "--warmup", "1000", "--seed", "5",
		       "--start-ts", "1700000000", "--quiet", NULL};
	CU_ASSERT_FATAL(hx_run(sim, NULL, 60000) == 0);
	char *tr[] = {(char *)hx_iotad(), "train", "--csv", (char *)csv, "--features",
		      "temperature,humidity,battery", "--epochs", "2", "-o", (char *)model, NULL};
	char *ev[] = {(char *)hx_iotad(), "eval", "--layout", "sim", "--train-rows", "200",
		      "--epochs", "2", (char *)csv, NULL};
	memcpy(train, tr, sizeof tr);
	memcpy(eval, ev, sizeof ev);
}

void it_progress_quiet_when_piped(void)
{
	char *train[16], *eval[16];
	progress_commands(train, eval);
	check_quiet_when_piped(train, "train-piped.log", "training on");
	check_quiet_when_piped(eval, "eval-piped.log", "(0%)");
}

void it_progress_on_terminal(void)
{
	char *train[16], *eval[16];
	progress_commands(train, eval);
	static char out[1 << 16];
	int rc = run_on_pty(train, out, sizeof out);
	if (rc < 0) {
		test_skip("no pseudo-terminal here");
		return;
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\riotad train: training on 1200 rows x 3 features, 2 epochs"));
	CU_ASSERT_EQUAL(run_on_pty(eval, out, sizeof out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\riotad eval: 0/1 (0%) "));
}

/* Parsed JSON report of `iotad eval --json -o path`, or NULL. */
static cJSON *eval_json(char **argv, const char *out)
{
	if (hx_run(argv, NULL, 120000) != 0)
		return NULL;
	char *text = hx_read_file(out, NULL);
	cJSON *o = text ? cJSON_Parse(text) : NULL;
	free(text);
	return o;
}

void it_eval_truth(void)
{
	const char *csv = hx_path("truth-sim.csv"), *truth = hx_path("truth.csv");
	const char *a = hx_path("eval-label.json"), *b = hx_path("eval-truth.json");
	char *sim[] = {(char *)hx_iotad(), "sim", "--csv", (char *)csv, "--truth", (char *)truth,
		       "--devices", "4", "--duration", "4000", "--warmup", "600",
		       "--anomaly-every", "600", "--seed", "9", "--start-ts", "1700000000",
		       "--quiet", NULL};
	CU_ASSERT_FATAL(hx_run(sim, NULL, 60000) == 0);
	char *by_label[] = {(char *)hx_iotad(), "eval", "--layout", "sim", "--train-rows", "2000",
			    "--epochs", "2", "--json", "--no-time", "-q", "-o", (char *)a,
			    (char *)csv, NULL};
	char *by_truth[] = {(char *)hx_iotad(), "eval", "--layout", "sim", "--train-rows", "2000",
			    "--epochs", "2", "--json", "--no-time", "-q", "-o", (char *)b,
			    "--truth", (char *)truth, (char *)csv, NULL};
	cJSON *ja = eval_json(by_label, a), *jb = eval_json(by_truth, b);
	CU_ASSERT_FATAL(ja && jb);
	/* the truth file labels every row as the CSV's label column does */
	const cJSON *ta = cJSON_GetObjectItem(ja, "total"), *tb = cJSON_GetObjectItem(jb, "total");
	char *sa = cJSON_PrintUnformatted(ta), *sb = cJSON_PrintUnformatted(tb);
	CU_ASSERT_STRING_EQUAL(sa, sb);
	CU_ASSERT_TRUE(num(ta, "anomalous") > 0);
	/* the kinds add up to the segments found and caught */
	const cJSON *alert = cJSON_GetObjectItem(tb, "alert"), *k;
	double anomalies = 0, detected = 0;
	int n_kinds = 0;
	cJSON_ArrayForEach(k, cJSON_GetObjectItem(jb, "kinds")) {
		anomalies += num(k, "anomalies");
		detected += num(k, "detected");
		n_kinds++;
	}
	CU_ASSERT_EQUAL(n_kinds, 4);
	CU_ASSERT_TRUE(anomalies > 0);
	CU_ASSERT_EQUAL(anomalies, num(alert, "segments"));
	CU_ASSERT_EQUAL(detected, num(alert, "detected"));
	CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(ja, "kinds"));
	free(sa);
	free(sb);
	cJSON_Delete(ja);
	cJSON_Delete(jb);

	/* a broken truth file is refused with its line */
	const char *bad = hx_path("truth-bad.csv"), *log = hx_path("truth-bad.log");
	CU_ASSERT_FATAL(hx_write_file(bad, "device,kind,start,end\nsensor-000,spike,9,3\n") == 0);
	char *refused[] = {(char *)hx_iotad(), "eval", "--layout", "sim", "--train-rows", "2000",
			   "--epochs", "1", "-q", "--truth", (char *)bad, (char *)csv, NULL};
	CU_ASSERT_EQUAL(hx_run(refused, log, 60000), 1);
	char *text = hx_read_file(log, NULL);
	CU_ASSERT(text && strstr(text, "truth-bad.csv:2: end 3 is not after start 9"));
	free(text);
}
