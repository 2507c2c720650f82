/* it_reliability.c - integration tests of TLS and authentication to the
 * broker, of the detector state file across restarts, and of hot model
 * reload, and of kill -9 restarts of the broker and of iotad, against a
 * real mosquitto and the real iotad binary. */
#include "it_reliability.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "harness.h"

#define TLS_PASSWORD "Tls-pa55word-7f3e"

/* Run a shell script in the temporary directory; its output goes to log. 0 on success. */
static int sh(const char *script, const char *log)
{
	char *argv[] = {"sh", "-ec", (char *)script, NULL};
	return hx_run(argv, log, 120000);
}

/* A test CA and a server certificate for 127.0.0.1 and localhost, a second
 * unrelated CA, and a broker password file with user iotad. */
static int make_pki(void)
{
	char script[2048];
	snprintf(script, sizeof script,
		 "cd '%s'\n"
		 "ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
		 "openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=iotad-test-ca\n"
		 "openssl req -x509 $ec -keyout other.key -out other-ca.pem -days 2 -subj /CN=other-ca\n"
		 "openssl req $ec -keyout server.key -out server.csr -subj /CN=localhost\n"
		 "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext\n"
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
		 " -out server.pem -days 2 -extfile san.ext\n"
		 "chmod 644 server.key\n"
		 "rm -f passwd; touch passwd; chmod 600 passwd\n"
		 "mosquitto_passwd -b passwd iotad '%s'\n"
		 "printf '%%s\\n' '%s' > good.pw\n"
		 "printf 'wrong-password\\n' > bad.pw\n",
		 hx_tmpdir(), TLS_PASSWORD, TLS_PASSWORD);
	return sh(script, hx_path("pki.log"));
}

/* mosquitto with a plain anonymous listener on b->port (for the test's own
 * clients) and a TLS listener with passwords on tls_port. */
static int start_tls_broker(hx_broker *b, int tls_port)
{
	memset(b, 0, sizeof *b);
	b->port = hx_free_port();
	snprintf(b->uri, sizeof b->uri, "tcp://127.0.0.1:%d", b->port);
	snprintf(b->conf, sizeof b->conf, "%s/mosquitto-tls.conf", hx_tmpdir());
	snprintf(b->log, sizeof b->log, "%s/mosquitto-tls.log", hx_tmpdir());
	const char *d = hx_tmpdir();
	char text[2048];
	/* user root: run as root, mosquitto would otherwise drop to a user that
	 * cannot read the 0600 password file in the 0700 temporary directory. */
	snprintf(text, sizeof text,
		 "per_listener_settings true\n"
		 "user root\n"
		 "log_dest stderr\n"
		 "listener %d 127.0.0.1\n"
		 "allow_anonymous true\n"
		 "listener %d 127.0.0.1\n"
		 "cafile %s/ca.pem\n"
		 "certfile %s/server.pem\n"
		 "keyfile %s/server.key\n"
		 "password_file %s/passwd\n"
		 "allow_anonymous false\n",
		 b->port, tls_port, d, d, d, d);
	if (hx_write_file(b->conf, text) != 0)
		return -1;
	char *argv[] = {"mosquitto", "-c", b->conf, NULL};
	b->pid = hx_spawn(argv, b->log);
	if (b->pid < 0 || !hx_wait_port(b->port, 10000) || !hx_wait_port(tls_port, 10000))
		return -1;
	return 0;
}

/* An iotad config for the TLS listener; status topic is per case. */
static const char *tls_config(const char *name, int tls_port, const char *ca, const char *pw,
			      const char *status)
{
	const char *path = hx_path(name);
	char text[4096];
	snprintf(text, sizeof text,
		 "mqtt:\n"
		 "  uri: ssl://127.0.0.1:%d\n"
		 "  client_id: %s\n"
		 "  username: iotad\n"
		 "  password_file: %s\n"
		 "  tls_ca_file: %s\n"
		 "  keepalive: 5\n"
		 "topics:\n"
		 "  status: %s\n"
		 "model:\n"
		 "  path: %s\n"
		 "service:\n"
		 "  log_level: debug\n",
		 tls_port, name, hx_path(pw), hx_path(ca), status, hx_model());
	return hx_write_file(path, text) == 0 ? path : NULL;
}

/* 30 normal then 30 hot samples on topic at QoS 1. 0 on success. */
static int publish_raising(mq *pub, const char *topic)
{
	return hx_publish_series(pub, topic, 0, 60, 30, 60);
}

/* A refused case: iotad keeps retrying, logs why, and is never online. */
static void refused_case(const char *name, int tls_port, const char *ca, const char *pw,
			 const char *expect, hx_sub *sub)
{
	char status[64], logname[64];
	snprintf(status, sizeof status, "iotad/status-%s", name);
	snprintf(logname, sizeof logname, "%s.log", name);
	const char *log = hx_path(logname);
	char *argv[] = {(char *)hx_iotad(), "run", "-c",
			(char *)tls_config(name, tls_port, ca, pw, status), NULL};
	pid_t pid = hx_spawn(argv, log);
	CU_ASSERT_FATAL(pid > 0);
	bool said = hx_wait_log(log, expect, 20000);
	CU_ASSERT_TRUE(said);
	CU_ASSERT_EQUAL(hx_sub_count(sub, status, "online"), 0);
	CU_ASSERT_EQUAL(kill(pid, 0), 0); /* still running, retrying */
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	char *text = hx_read_file(log, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NULL(strstr(text, TLS_PASSWORD));
	CU_ASSERT_PTR_NULL(strstr(text, "wrong-password"));
	const char *line = strstr(text, expect);
	if (line) {
		while (line > text && line[-1] != '\n')
			line--;
		printf("\n    %s: %.*s", name, (int)strcspn(line, "\n"), line);
	}
	free(text);
}

void it_tls_auth(void)
{
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(make_pki(), 0);
	hx_broker b;
	int tls_port = hx_free_port();
	CU_ASSERT_EQUAL_FATAL(start_tls_broker(&b, tls_port), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-tls-sub"), 0);

	/* good CA and password: online, and an alert flows */
	const char *log = hx_path("tls-good.log");
	char *argv[] = {(char *)hx_iotad(), "run", "-c",
			(char *)tls_config("tls-good", tls_port, "ca.pem", "good.pw", "iotad/status"),
			NULL};
	pid_t pid = hx_spawn(argv, log);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_FATAL(hx_sub_wait(&sub, "iotad/status", "online", 1, 15000));
	mq *pub = hx_publisher(&b, "it-tls-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	CU_ASSERT_EQUAL(publish_raising(pub, "telemetry/dev-tls"), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-tls", "\"raised\"", 1, 15000));
	mq_destroy(pub, 2000);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	char *text = hx_read_file(log, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "connected to ssl://127.0.0.1"));
	CU_ASSERT_PTR_NULL(strstr(text, TLS_PASSWORD));
	free(text);

	/* a CA that did not sign the broker's certificate; a wrong password */
	refused_case("tls-wrong-ca", tls_port, "other-ca.pem", "good.pw", "certificate verify failed",
		     &sub);
	refused_case("tls-wrong-pw", tls_port, "ca.pem", "bad.pw", "not authorized", &sub);

	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- the detector state survives a restart ------------------------------ */

static pid_t start_iotad(const char *config, const char *log, hx_sub *sub, size_t online)
{
	pid_t pid = hx_start_iotad(config, log, sub, online);
	CU_ASSERT_FATAL(pid > 0);
	return pid;
}


/* hx_config plus service.state_file (saved every second). NULL on error. */
static const char *state_config(const hx_broker *b, const char *name, const char *client_id,
				const char *state)
{
	const char *config = hx_config(b, name, client_id, NULL);
	char *text = config ? hx_read_file(config, NULL) : NULL;
	if (!text)
		return NULL;
	char extra[4096];
	snprintf(extra, sizeof extra, "%s  state_file: %s\n  state_interval: 1\n", text, state);
	free(text);
	return hx_write_file(config, extra) == 0 ? config : NULL;
}

void it_state_restart(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-st-sub"), 0);
	const char *state = hx_path("state.bin");
	const char *config = state_config(&b, "st.yaml", "iotad-st", state);
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	mq *pub = hx_publisher(&b, "it-st-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	char *text;

	/* raise an alert, stop in order */
	const char *log1 = hx_path("st-1.log");
	pid_t pid = start_iotad(config, log1, &sub, 1);
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-st", 0, 60, 30, 60), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-st", "\"raised\"", 1, 15000));
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	CU_ASSERT_EQUAL(access(state, R_OK), 0);

	/* restart on the same file: the anomaly goes on without a second raise */
	const char *log2 = hx_path("st-2.log");
	pid = start_iotad(config, log2, &sub, 2);
	CU_ASSERT_TRUE(hx_wait_log(log2, "state: restored 1 devices", 5000));
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-st", 60, 90, 60, 90), 0);
	/* then normal data clears it, with the next sequence number */
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-st", 90, 140, 0, 0), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-st", "\"cleared\"", 1, 15000));
	hx_sub_settle(&sub, "alerts/", 1000, 5000);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-st", "\"raised\""), 1);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-st", "\"cleared\""), 1);
	/* a restart continues the device's seq above every number used before */
	CU_ASSERT(hx_sub_seq(&sub, "alerts/dev-st", "\"cleared\"") >
		  hx_sub_seq(&sub, "alerts/dev-st", "\"raised\""));
	CU_ASSERT_EQUAL(hx_sub_seq_conflicts(&sub, "alerts/", NULL), 0);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);

	/* a damaged file: a clear error, no devices, still running */
	FILE *f = fopen(state, "r+b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fseek(f, 120, SEEK_SET);
	fputc('#', f);
	fclose(f);
	const char *log3 = hx_path("st-3.log");
	pid = start_iotad(config, log3, &sub, 3);
	CU_ASSERT_TRUE(hx_wait_log(log3, "CRC mismatch", 5000));
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	text = hx_read_file(log3, NULL);
	CU_ASSERT(text && strstr(text, "state_rejected=1 "));
	if (text) {
		const char *line = strstr(text, "state: cannot use");
		if (line)
			printf("\n    %.*s", (int)strcspn(line, "\n"), line);
	}
	free(text);

	mq_destroy(pub, 2000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- hot model reload ---------------------------------------------------- */

/* Copy the test model to path under another id. 0 on success. */
static int model_with_id(const char *path, const char *id)
{
	char *text = hx_read_file(hx_model(), NULL);
	if (!text)
		return -1;
	char *at = strstr(text, "\"id\":\"it-model\"");
	int rc = -1;
	if (at) {
		size_t len = strlen(text);
		char *out = malloc(len + 64);
		if (out) {
			snprintf(out, len + 64, "%.*s\"id\":\"%s\"%s", (int)(at - text), text, id,
				 at + strlen("\"id\":\"it-model\""));
			rc = hx_write_file(path, out);
			free(out);
		}
	}
	free(text);
	return rc;
}

/* Replace the model file the way an operator should: write aside, rename. */
static int install_model(const char *from, const char *to)
{
	return rename(from, to);
}

static unsigned long long final_field(const char *log, const char *key)
{
	char *text = hx_read_file(log, NULL);
	const char *line = text ? strstr(text, "stats (final)") : NULL;
	const char *at = line ? strstr(line, key) : NULL;
	unsigned long long v = at ? strtoull(at + strlen(key), NULL, 10) : ~0ull;
	free(text);
	return v;
}

void it_model_reload(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-rl-sub"), 0);
	const char *mpath = hx_path("live-model.json");
	CU_ASSERT_EQUAL_FATAL(model_with_id(mpath, "it-model"), 0);
	/* its /metrics tells when every message has arrived, before SIGTERM */
	int hport = hx_free_port();
	char http[64];
	snprintf(http, sizeof http, "http:\n  listen: 127.0.0.1:%d\n", hport);
	const char *config = hx_config(&b, "rl.yaml", "iotad-rl", http);
	char *text = hx_read_file(config, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	char *at = strstr(text, hx_model());
	CU_ASSERT_PTR_NOT_NULL_FATAL(at);
	char edited[4096];
	snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - text), text, mpath,
		 at + strlen(hx_model()));
	free(text);
	CU_ASSERT_EQUAL_FATAL(hx_write_file(config, edited), 0);

	const char *log = hx_path("rl.log");
	pid_t pid = start_iotad(config, log, &sub, 1);
	mq *pub = hx_publisher(&b, "it-rl-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	size_t sent = 0;

	/* dev-r1 raises under the first model; a steady stream on 4 more
	 * devices goes on through the reload */
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-r1", 0, 60, 30, 60), 0);
	sent += 60;
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-r1", "\"id\":\"it-model\"", 1, 15000));
	CU_ASSERT_EQUAL_FATAL(model_with_id(hx_path("next-model.json"), "it-model-b"), 0);
	char topic[64];
	for (int round = 0; round < 3; round++) {
		for (int i = round * 100; i < round * 100 + 100; i++)
			for (int d = 0; d < 4; d++) {
				snprintf(topic, sizeof topic, "telemetry/dev-flow%d", d);
				CU_ASSERT_EQUAL(hx_publish_series(pub, topic, i, i + 1, 0, 0), 0);
				sent++;
			}
		if (round == 0) {
			CU_ASSERT_EQUAL(install_model(hx_path("next-model.json"), mpath), 0);
			CU_ASSERT_EQUAL(kill(pid, SIGHUP), 0);
		}
	}
	CU_ASSERT_TRUE(hx_wait_log(log, "model: reloaded (SIGHUP)", 10000));
	/* events after the reload carry the new id: dev-r1 clears, dev-r2 raises */
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-r1", 60, 100, 0, 0), 0);
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-r2", 0, 60, 30, 60), 0);
	sent += 100;
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-r1", "\"cleared\"", 1, 15000));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-r1", "\"id\":\"it-model-b\""), 1);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-r2", "\"id\":\"it-model-b\"", 1, 15000));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-r1", "\"raised\""), 1);

	/* a broken file through the control topic: refused, the model stays */
	CU_ASSERT_EQUAL(hx_write_file(hx_path("broken.json"), "{\"format\":\"iotad-model\","), 0);
	CU_ASSERT_EQUAL(install_model(hx_path("broken.json"), mpath), 0);
	CU_ASSERT_EQUAL(mq_publish(pub, "iotad/control", "reload", 6, 1, false, 5000), IOTAD_OK);
	CU_ASSERT_TRUE(hx_wait_log(log, "failed, keeping it-model-b v1", 10000));
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-r3", 0, 60, 30, 60), 0);
	sent += 60;
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-r3", "\"id\":\"it-model-b\"", 1, 15000));
	CU_ASSERT_TRUE(hx_wait_metric(hport, "iotad_messages_received_total", (double)sent, 15000));

	mq_destroy(pub, 2000);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	CU_ASSERT_EQUAL(final_field(log, "received="), sent);
	CU_ASSERT_EQUAL(final_field(log, "reloads="), 1);
	CU_ASSERT_EQUAL(final_field(log, "reload_failed="), 1);
	printf("\n    reload: sent %zu, received %llu, reloads %llu, refused %llu", sent,
	       final_field(log, "received="), final_field(log, "reloads="),
	       final_field(log, "reload_failed="));
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- iotad killed with SIGKILL ------------------------------------------- */

void it_crash_restart(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, true), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-kill-sub"), 0);
	const char *state = hx_path("kill-state.bin");
	const char *config = state_config(&b, "kill.yaml", "iotad-kill", state);
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	mq *pub = hx_publisher(&b, "it-kill-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);

	/* raised, then at least one periodic snapshot, then SIGKILL */
	const char *log1 = hx_path("kill-1.log");
	pid_t pid = start_iotad(config, log1, &sub, 1);
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-k", 0, 60, 30, 60), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-k", "\"raised\"", 1, 15000));
	CU_ASSERT_TRUE(hx_wait_written(state, 10000)); /* a snapshot after the raise */
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 10000), 128 + SIGKILL);

	/* while it is down the anomaly goes on, then the device recovers: the
	 * broker keeps it all for iotad's persistent session */
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-k", 60, 90, 60, 90), 0);
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-k", 90, 140, 0, 0), 0);
	CU_ASSERT_TRUE(mq_drain(pub, 5000));

	const char *log2 = hx_path("kill-2.log");
	pid = start_iotad(config, log2, &sub, 2);
	CU_ASSERT_TRUE(hx_wait_log(log2, "state: restored 1 devices", 5000));
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-k", "\"cleared\"", 1, 15000));
	hx_sub_settle(&sub, "alerts/", 1000, 5000);
	size_t raised = hx_sub_count(&sub, "alerts/dev-k", "\"raised\"");
	size_t cleared = hx_sub_count(&sub, "alerts/dev-k", "\"cleared\"");
	CU_ASSERT_EQUAL(raised, 1);
	CU_ASSERT_EQUAL(cleared, 1);
	CU_ASSERT(hx_sub_seq(&sub, "alerts/dev-k", "\"cleared\"") >
		  hx_sub_seq(&sub, "alerts/dev-k", "\"raised\""));
	CU_ASSERT_EQUAL(hx_sub_seq_conflicts(&sub, "alerts/", NULL), 0);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	/* everything published while iotad was dead was scored after the restart */
	CU_ASSERT_EQUAL(final_field(log2, "received="), 80);
	printf("\n    kill -9: expected raised 1 cleared 1, received raised %zu cleared %zu; "
	       "messages queued by the broker while down 80, scored after restart %llu",
	       raised, cleared, final_field(log2, "received="));
	mq_destroy(pub, 2000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- kill -9 of the broker, then of iotad, against the simulator -------- */

#define RS_PARTS 3
#define RS_T0 1700000000.0 /* --start-ts; each part holds 800 s of it */

typedef struct rs_event {
	char device[48];
	char state[16];
	unsigned long long seq;
	double ts;
} rs_event;

/* One stream of 4 simulated devices (one clean) split by rows into
 * RS_PARTS consecutive CSV files part-1.csv.., each with the header. */
static int rs_make_parts(void)
{
	char *sim[] = {(char *)hx_iotad(), "sim", "--csv", (char *)hx_path("all.csv"), "--truth",
		       (char *)hx_path("truth.csv"), "--devices", "4", "--clean", "1",
		       "--duration", "2400", "--interval", "1", "--start-ts", "1700000000",
		       "--seed", "3", "--quiet", NULL};
	if (hx_run(sim, hx_path("rs-sim.log"), 60000) != 0)
		return -1;
	return hx_split_csv("all.csv", "part", RS_PARTS);
}

/* Publish part k (1-based) as fast as possible; returns once the broker
 * has acknowledged every row. 0 on success. */
static int rs_replay(const hx_broker *b, int k)
{
	char name[32];
	snprintf(name, sizeof name, "part-%d.csv", k);
	char *argv[] = {(char *)hx_iotad(), "sim", "--replay", (char *)hx_path(name),
			"--device-col", "device", "--time-col", "ts", "--speed", "0",
			"--broker", (char *)b->uri, "--quiet", NULL};
	return hx_run(argv, hx_path("rs-replay.log"), 120000);
}

/* A marker device behind part k raises an alert: once it arrives, iotad
 * has scored everything published before it. */
static void rs_mark(const hx_broker *b, hx_sub *sub, int k)
{
	char topic[32], id[32];
	snprintf(topic, sizeof topic, "telemetry/mark-%d", k);
	snprintf(id, sizeof id, "it-rs-mark-%d", k);
	mq *pub = hx_publisher(b, id, 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	CU_ASSERT_EQUAL(hx_publish_series(pub, topic, 0, 60, 30, 60), 0);
	mq_destroy(pub, 2000);
	snprintf(topic, sizeof topic, "alerts/mark-%d", k);
	CU_ASSERT_FATAL(hx_sub_wait(sub, topic, "\"raised\"", 1, 30000));
	hx_sub_settle(sub, "alerts/", 1000, 10000);
}

/* The events of the simulated devices the subscriber holds (malloc'd). */
static rs_event *rs_events(hx_sub *s, size_t *n)
{
	*n = 0;
	pthread_mutex_lock(&s->lock);
	rs_event *ev = calloc(s->n + 1, sizeof *ev);
	for (size_t i = 0; ev && i < s->n; i++) {
		if (!s->msgs[i].topic || strncmp(s->msgs[i].topic, "alerts/sensor-", 14))
			continue;
		cJSON *o = cJSON_Parse(s->msgs[i].payload);
		const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "device");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
		const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
		CU_ASSERT(cJSON_IsString(dev) && cJSON_IsString(st) && cJSON_IsNumber(seq) &&
			  cJSON_IsNumber(ts));
		if (cJSON_IsString(dev) && cJSON_IsString(st) && cJSON_IsNumber(seq) &&
		    cJSON_IsNumber(ts)) {
			rs_event *e = &ev[(*n)++];
			snprintf(e->device, sizeof e->device, "%s", dev->valuestring);
			snprintf(e->state, sizeof e->state, "%s", st->valuestring);
			e->seq = (unsigned long long)seq->valuedouble;
			e->ts = ts->valuedouble;
		}
		cJSON_Delete(o);
	}
	pthread_mutex_unlock(&s->lock);
	return ev;
}

static bool rs_same(const rs_event *a, const rs_event *b)
{
	/* seq is not compared: a restart continues it from a higher base */
	return !strcmp(a->device, b->device) && !strcmp(a->state, b->state) && a->ts == b->ts;
}

/* iotad with a state file saved every second on broker b: its path in
 * out (hx_path's buffers rotate). 0 on success. */
static int rs_config(const hx_broker *b, const char *tag, char *out, size_t size)
{
	char name[32], id[32], state[32];
	snprintf(name, sizeof name, "rs-%s.yaml", tag);
	snprintf(id, sizeof id, "iotad-rs-%s", tag);
	snprintf(state, sizeof state, "rs-%s.state", tag);
	const char *path = state_config(b, name, id, hx_path(state));
	return path && snprintf(out, size, "%s", path) < (int)size ? 0 : -1;
}

/* The undisturbed run: every part on one broker, one iotad, no fault. */
static rs_event *rs_reference(size_t *n)
{
	hx_broker b;
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-rs-ref-sub"), 0);
	char config[512];
	CU_ASSERT_EQUAL_FATAL(rs_config(&b, "ref", config, sizeof config), 0);
	pid_t pid = start_iotad(config, hx_path("rs-ref.log"), &sub, 1);
	for (int k = 1; k <= RS_PARTS; k++) {
		CU_ASSERT_EQUAL_FATAL(rs_replay(&b, k), 0);
		rs_mark(&b, &sub, k);
	}
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	rs_event *ev = rs_events(&sub, n);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
	return ev;
}

/* Wait until the subscriber is subscribed again after a broker restart:
 * a probe it publishes comes back. */
static void rs_probe(const hx_broker *b, hx_sub *sub, const char *payload)
{
	CU_ASSERT_FATAL(mq_wait_connected(sub->client, 30000));
	mq *pub = hx_publisher(b, "it-rs-probe", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	bool back = false;
	for (int i = 0; i < 100 && !back; i++) {
		CU_ASSERT_EQUAL(mq_publish(pub, "probe/rs", payload, strlen(payload), 1, false, 5000),
				IOTAD_OK);
		back = hx_sub_wait(sub, "probe/rs", payload, 1, 300);
	}
	CU_ASSERT_FATAL(back);
	mq_destroy(pub, 2000);
}

void it_restarts(void)
{
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(rs_make_parts(), 0);
	size_t n_ref = 0;
	rs_event *ref = rs_reference(&n_ref);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ref);

	hx_broker b;
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, true), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start_persistent(&sub, b.uri, "#", "it-rs-sub"), 0);
	char config[512], log1[512], log2[512];
	CU_ASSERT_EQUAL_FATAL(rs_config(&b, "run", config, sizeof config), 0);
	snprintf(log1, sizeof log1, "%s", hx_path("rs-run-1.log"));
	snprintf(log2, sizeof log2, "%s", hx_path("rs-run-2.log"));
	pid_t pid = start_iotad(config, log1, &sub, 1);

	/* part 1, scored; the broker saves its store every second: kill -9 it
	 * and restart it on the same port. Part 2 goes out at once, before
	 * iotad and the subscriber are back (Paho retries after a second or
	 * more): only the sessions restored from the broker's store keep it. */
	CU_ASSERT_EQUAL_FATAL(rs_replay(&b, 1), 0);
	rs_mark(&b, &sub, 1);
	char store[600];
	snprintf(store, sizeof store, "%s/mosquitto.db", hx_tmpdir());
	CU_ASSERT_TRUE(hx_wait_written(store, 10000)); /* the broker saved part 1 */
	int port = b.port;
	hx_broker_stop(&b, SIGKILL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, port, true), 0);
	CU_ASSERT_EQUAL_FATAL(rs_replay(&b, 2), 0);
	char *text = hx_read_file(log1, NULL);
	bool early = text && !strstr(text, "mqtt: reconnected");
	free(text);
	CU_ASSERT_TRUE(hx_wait_log(log1, "mqtt: reconnected", 30000));
	rs_probe(&b, &sub, "after-broker-restart");

	/* part 2 scored, a periodic snapshot written: kill -9 iotad */
	rs_mark(&b, &sub, 2);
	CU_ASSERT_TRUE(hx_wait_written(hx_path("rs-run.state"), 10000));
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 10000), 128 + SIGKILL);

	/* part 3 while iotad is down: the broker queues it for the session */
	CU_ASSERT_EQUAL_FATAL(rs_replay(&b, 3), 0);
	size_t online = hx_sub_count(&sub, "iotad/status", "online");
	pid = start_iotad(config, log2, &sub, online + 1);
	CU_ASSERT_TRUE(hx_wait_log(log2, "state: restored", 5000));
	rs_mark(&b, &sub, 3);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);

	/* every reference event arrived; extra copies only as identical
	 * QoS 1 duplicates; nothing else */
	size_t n_got = 0;
	rs_event *got = rs_events(&sub, &n_got);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	size_t received = 0, dups = 0, missing = 0, other = 0;
	bool *used = calloc(n_got + 1, sizeof *used);
	CU_ASSERT_PTR_NOT_NULL_FATAL(used);
	for (size_t i = 0; i < n_ref; i++) {
		size_t copies = 0;
		for (size_t j = 0; j < n_got; j++)
			if (rs_same(&ref[i], &got[j])) {
				copies += !used[j];
				used[j] = true;
			}
		received += copies > 0;
		dups += copies > 1 ? copies - 1 : 0;
		missing += copies == 0;
	}
	for (size_t j = 0; j < n_got; j++)
		if (!used[j]) {
			other++;
			printf("\n    unexpected: %s %s seq %llu ts %.3f", got[j].device, got[j].state,
			       got[j].seq, got[j].ts);
		}
	/* each part (before the broker kill, between the kills, while iotad
	 * was down) has alerts of its own */
	size_t per_part[RS_PARTS] = {0};
	for (size_t i = 0; i < n_ref; i++) {
		int k = (int)((ref[i].ts - RS_T0) / 800.0);
		if (k >= 0 && k < RS_PARTS)
			per_part[k]++;
	}
	for (int k = 0; k < RS_PARTS; k++)
		CU_ASSERT(per_part[k] >= 2);
	CU_ASSERT_EQUAL(missing, 0);
	CU_ASSERT_EQUAL(other, 0);
	CU_ASSERT_EQUAL(hx_sub_seq_conflicts(&sub, "alerts/sensor-", NULL), 0);
	CU_ASSERT_EQUAL(received + dups, n_got);
	printf("\n    restarts: expected %zu events (%zu/%zu/%zu in parts 1/2/3), received %zu, "
	       "duplicates %zu, missing %zu, unexpected %zu", n_ref, per_part[0], per_part[1],
	       per_part[2], received, dups, missing, other);
	printf("\n    part 2 published %s iotad reconnected", early ? "before" : "after");
	free(used);
	free(got);
	free(ref);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- a broker outage is not the devices' silence ------------------------- */

/* One sample of each of n devices "dev-o{i}" stamped with the wall clock. */
static void outage_round(mq *pub, int n, int round)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	double ts = (double)now.tv_sec + now.tv_nsec * 1e-9;
	char topic[64], msg[160];
	for (int i = 0; i < n; i++) {
		snprintf(topic, sizeof topic, "telemetry/dev-o%d", i);
		int k = snprintf(msg, sizeof msg,
				 "{\"ts\":%.3f,\"temperature\":%.2f,\"humidity\":%.1f,\"battery\":%.1f}",
				 ts, 21.0 + 0.01 * (round % 3), 48.0 + 0.1 * (round % 2),
				 97.0 - 0.1 * (round % 2));
		mq_publish(pub, topic, msg, (size_t)k, 1, false, 2000);
	}
}

void it_broker_outage(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-out-sub"), 0);
	const char *config = hx_config(&b, "outage.yaml", "iotad-out", "  stale_after: 3\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	const char *log = hx_path("outage.log");
	pid_t pid = start_iotad(config, log, &sub, 1);
	mq *pub = hx_publisher(&b, "it-out-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	enum { N = 3 };

	/* devices speak every half second (their clocks are the wall clock) */
	int round = 0;
	for (; round < 8; round++, usleep(500000))
		outage_round(pub, N, round);
	/* the broker goes away for 6 s, twice stale_after, then comes back */
	int port = b.port;
	/* stopped in order, so iotad sees the connection close at once (a
	 * connection lost silently is noticed within 1.5 keepalives, and the
	 * silence before that still counts: docs/design-notes.md) */
	hx_broker_stop(&b, SIGTERM);
	sleep(6);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, port, false), 0);
	CU_ASSERT_TRUE(hx_wait_log(log, "broker connection back after", 30000));
	CU_ASSERT_FATAL(mq_wait_connected(pub, 30000));
	CU_ASSERT_FATAL(mq_wait_connected(sub.client, 30000));
	/* the devices speak again at once: their 6 s gap is the outage's */
	for (int end = round + 8; round < end; round++, usleep(500000))
		outage_round(pub, N, round);
	/* then they really fall silent: stale after 3 s, once each */
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-o", "\"stale\"", N, 10000));
	hx_sub_settle(&sub, "alerts/", 1000, 3000);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	CU_ASSERT_TRUE(hx_wait_log(log, "broker connection lost: stale sweep paused", 100));
	/* nothing was stale over the outage, so nothing resumed: the only stale
	 * events are the final silence's, and a cleared only ends a raise (the
	 * model's verdict on these samples, not the outage's doing) */
	CU_ASSERT_EQUAL(final_field(log, "stale="), N);
	CU_ASSERT_EQUAL(final_field(log, "cleared="), final_field(log, "raised="));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-o", "\"cleared\""),
			hx_sub_count(&sub, "alerts/dev-o", "\"raised\""));
	printf("\n    outage of 6 s with stale_after 3: stale %llu (the final silence: %d), "
	       "raised %llu, cleared %llu",
	       final_field(log, "stale="), N, final_field(log, "raised="),
	       final_field(log, "cleared="));
	mq_destroy(pub, 2000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}
