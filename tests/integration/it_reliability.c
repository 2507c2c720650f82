/* it_reliability.c - integration tests of TLS and authentication to the
 * broker, of the detector state file across restarts, and of hot model
 * reload, against a real mosquitto and the real iotad binary. */
#include "it_reliability.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

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

/* Samples [from, to) of a series on topic at QoS 1: normal before hot_from,
 * hot (60 degrees) in [hot_from, hot_to), normal after. 0 on success. */
static int publish_series(mq *pub, const char *topic, int from, int to, int hot_from, int hot_to)
{
	char msg[160];
	for (int i = from; i < to; i++) {
		bool hot = i >= hot_from && i < hot_to;
		int n = snprintf(msg, sizeof msg,
				 "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":48.0,\"battery\":97.0}",
				 1700000000 + i, hot ? 60.0 : 21.0 + 0.01 * (i % 3));
		if (mq_publish(pub, topic, msg, (size_t)n, 1, false, 10000) != IOTAD_OK)
			return -1;
	}
	return 0;
}

/* 30 normal then 30 hot samples on topic at QoS 1. 0 on success. */
static int publish_raising(mq *pub, const char *topic)
{
	return publish_series(pub, topic, 0, 60, 30, 60);
}

static mq *plain_pub(const hx_broker *b, const char *client_id)
{
	mq *pub;
	mq_opts o = {.uri = b->uri, .client_id = client_id, .keepalive = 10,
		     .clean_session = true, .max_inflight = 64};
	if (mq_create(&o, &pub) != IOTAD_OK)
		return NULL;
	if (mq_start(pub) != IOTAD_OK || !mq_wait_connected(pub, 10000)) {
		mq_destroy(pub, 0);
		return NULL;
	}
	return pub;
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
	mq *pub = plain_pub(&b, "it-tls-pub");
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
	char *argv[] = {(char *)hx_iotad(), "run", "-c", (char *)config, NULL};
	pid_t pid = hx_spawn(argv, log);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_FATAL(hx_sub_wait(sub, "iotad/status", "online", online, 15000));
	return pid;
}

/* Wait until no new message has arrived on prefix for quiet_ms. */
static void settle(hx_sub *s, const char *prefix, int quiet_ms, int max_ms)
{
	size_t last = hx_sub_count(s, prefix, NULL);
	for (int waited = 0, still = 0; waited < max_ms && still < quiet_ms; waited += 100) {
		usleep(100000);
		size_t now = hx_sub_count(s, prefix, NULL);
		still = now == last ? still + 100 : 0;
		last = now;
	}
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
	mq *pub = plain_pub(&b, "it-st-pub");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	char *text;

	/* raise an alert, stop in order */
	const char *log1 = hx_path("st-1.log");
	pid_t pid = start_iotad(config, log1, &sub, 1);
	CU_ASSERT_EQUAL(publish_series(pub, "telemetry/dev-st", 0, 60, 30, 60), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-st", "\"raised\"", 1, 15000));
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	CU_ASSERT_EQUAL(access(state, R_OK), 0);

	/* restart on the same file: the anomaly goes on without a second raise */
	const char *log2 = hx_path("st-2.log");
	pid = start_iotad(config, log2, &sub, 2);
	CU_ASSERT_TRUE(hx_wait_log(log2, "state: restored 1 devices", 5000));
	CU_ASSERT_EQUAL(publish_series(pub, "telemetry/dev-st", 60, 90, 60, 90), 0);
	/* then normal data clears it, with the next sequence number */
	CU_ASSERT_EQUAL(publish_series(pub, "telemetry/dev-st", 90, 140, 0, 0), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-st", "\"cleared\"", 1, 15000));
	settle(&sub, "alerts/", 1000, 5000);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-st", "\"raised\""), 1);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-st", "\"cleared\""), 1);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-st", "\"seq\":2}"), 1);
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
	CU_ASSERT_PTR_NOT_NULL(text && strstr(text, "state_rejected=1 "));
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
	const char *config = hx_config(&b, "rl.yaml", "iotad-rl", NULL);
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
	mq *pub = plain_pub(&b, "it-rl-pub");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	size_t sent = 0;

	/* dev-r1 raises under the first model; a steady stream on 4 more
	 * devices goes on through the reload */
	CU_ASSERT_EQUAL(publish_series(pub, "telemetry/dev-r1", 0, 60, 30, 60), 0);
	sent += 60;
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-r1", "\"id\":\"it-model\"", 1, 15000));
	CU_ASSERT_EQUAL_FATAL(model_with_id(hx_path("next-model.json"), "it-model-b"), 0);
	char topic[64];
	for (int round = 0; round < 3; round++) {
		for (int i = round * 100; i < round * 100 + 100; i++)
			for (int d = 0; d < 4; d++) {
				snprintf(topic, sizeof topic, "telemetry/dev-flow%d", d);
				CU_ASSERT_EQUAL(publish_series(pub, topic, i, i + 1, 0, 0), 0);
				sent++;
			}
		if (round == 0) {
			CU_ASSERT_EQUAL(install_model(hx_path("next-model.json"), mpath), 0);
			CU_ASSERT_EQUAL(kill(pid, SIGHUP), 0);
		}
	}
	CU_ASSERT_TRUE(hx_wait_log(log, "model: reloaded (SIGHUP)", 10000));
	/* events after the reload carry the new id: dev-r1 clears, dev-r2 raises */
	CU_ASSERT_EQUAL(publish_series(pub, "telemetry/dev-r1", 60, 100, 0, 0), 0);
	CU_ASSERT_EQUAL(publish_series(pub, "telemetry/dev-r2", 0, 60, 30, 60), 0);
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
	CU_ASSERT_EQUAL(publish_series(pub, "telemetry/dev-r3", 0, 60, 30, 60), 0);
	sent += 60;
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-r3", "\"id\":\"it-model-b\"", 1, 15000));

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
	mq *pub = plain_pub(&b, "it-kill-pub");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);

	/* raised, then at least one periodic snapshot, then SIGKILL */
	const char *log1 = hx_path("kill-1.log");
	pid_t pid = start_iotad(config, log1, &sub, 1);
	CU_ASSERT_EQUAL(publish_series(pub, "telemetry/dev-k", 0, 60, 30, 60), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-k", "\"raised\"", 1, 15000));
	sleep(3);
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 10000), 128 + SIGKILL);

	/* while it is down the anomaly goes on, then the device recovers: the
	 * broker keeps it all for iotad's persistent session */
	CU_ASSERT_EQUAL(publish_series(pub, "telemetry/dev-k", 60, 90, 60, 90), 0);
	CU_ASSERT_EQUAL(publish_series(pub, "telemetry/dev-k", 90, 140, 0, 0), 0);
	CU_ASSERT_TRUE(mq_drain(pub, 5000));

	const char *log2 = hx_path("kill-2.log");
	pid = start_iotad(config, log2, &sub, 2);
	CU_ASSERT_TRUE(hx_wait_log(log2, "state: restored 1 devices", 5000));
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-k", "\"cleared\"", 1, 15000));
	settle(&sub, "alerts/", 1000, 5000);
	size_t raised = hx_sub_count(&sub, "alerts/dev-k", "\"raised\"");
	size_t cleared = hx_sub_count(&sub, "alerts/dev-k", "\"cleared\"");
	CU_ASSERT_EQUAL(raised, 1);
	CU_ASSERT_EQUAL(cleared, 1);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-k", "\"seq\":2}"), 1);
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
