/* it_ops.c - integration tests of what an operator meets, against a real
 * mosquitto and the real iotad binary: retained states reconciled at
 * start, the state directory default, errors that say what happened,
 * /metrics (raised devices, build info, process_*) and Home Assistant
 * discovery over a device's life. */
#include "it_ops.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "harness.h"

/* Lines of the file at path holding needle. */
static int log_lines(const char *path, const char *needle)
{
	char *text = hx_read_file(path, NULL);
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(text);
	return n;
}

/* hx_config's file with lines added to its service section and sections
 * (more, may be NULL) appended. Returns its path. */
static const char *config(const hx_broker *b, const char *name, const char *client_id,
			  const char *service, const char *more)
{
	char *text = hx_read_file(hx_config(b, name, client_id, NULL), NULL);
	if (!text)
		return NULL;
	char *at = strstr(text, "service:\n");
	char out[8192];
	snprintf(out, sizeof out, "%.*sservice:\n%s%s%s", at ? (int)(at - text) : 0, text,
		 service ? service : "", at ? at + 9 : "", more ? more : "");
	free(text);
	return hx_write_file(hx_path(name), out) == 0 ? hx_path(name) : NULL;
}

static int stop(pid_t pid)
{
	kill(pid, SIGTERM);
	return hx_wait_exit(pid, 20000);
}

/* ---- reconcile ------------------------------------------------------------ */

void it_reconcile_states(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-rc-sub"), 0);
	mq *pub = hx_publisher(&b, "it-rc-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);

	/* what a run that was stopped without a state file left behind */
	const char *old = "{\"device\":\"dev-old\",\"state\":\"raised\",\"ts\":1700000000,\"seq\":3}";
	CU_ASSERT_EQUAL(mq_publish(pub, "state/dev-old", old, strlen(old), 1, true, 5000), IOTAD_OK);
	const char *ok = "{\"device\":\"dev-ok\",\"state\":\"cleared\",\"ts\":1700000000,\"seq\":2}";
	CU_ASSERT_EQUAL(mq_publish(pub, "state/dev-ok", ok, strlen(ok), 1, true, 5000), IOTAD_OK);
	CU_ASSERT_TRUE(mq_drain(pub, 5000));

	/* no state_file, but a state directory: it becomes the default place */
	char sd[512];
	snprintf(sd, sizeof sd, "%s", hx_path("statedir"));
	CU_ASSERT_EQUAL_FATAL(mkdir(sd, 0700), 0);
	setenv("STATE_DIRECTORY", sd, 1);
	const char *log = hx_path("rc.log");
	pid_t pid = hx_start_iotad(hx_config(&b, "rc.yaml", "iotad-rc", NULL), log, &sub, 1);
	unsetenv("STATE_DIRECTORY");
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-old", "\"cleared\"", 1, 10000));
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "state/dev-old", "\"cleared\"", 1, 10000));
	CU_ASSERT_TRUE(hx_sub_marker(&sub, 5000));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-ok", NULL), 0);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-old", NULL), 1);
	CU_ASSERT_TRUE(hx_wait_log(log, "keeping state in", 1000));

	/* a real alert of this run is not undone by its own retained state */
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-new", 0, 60, 30, 60), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-new", "\"raised\"", 1, 15000));
	CU_ASSERT_EQUAL(stop(pid), 0);
	char state[600];
	snprintf(state, sizeof state, "%s/state.bin", sd);
	CU_ASSERT_EQUAL(access(state, R_OK), 0);
	setenv("STATE_DIRECTORY", sd, 1);
	pid = hx_start_iotad(hx_config(&b, "rc.yaml", "iotad-rc", NULL), hx_path("rc-2.log"), &sub,
			     2);
	unsetenv("STATE_DIRECTORY");
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_TRUE(hx_wait_log(hx_path("rc-2.log"), "state: restored 1 devices", 5000));
	CU_ASSERT_TRUE(hx_sub_marker(&sub, 5000));
	hx_sub_settle(&sub, "alerts/", 1000, 3000);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/dev-new", "\"cleared\""), 0);
	CU_ASSERT_EQUAL(stop(pid), 0);

	mq_destroy(pub, 2000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- errors ---------------------------------------------------------------- */

void it_operator_errors(void)
{
	CU_ASSERT_FATAL(hx_model() != NULL);

	/* a port that accepts TCP and never answers */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
			listen(fd, 16) == 0 && getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	hx_broker fake = {0};
	snprintf(fake.uri, sizeof fake.uri, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
	const char *log = hx_path("notmqtt.log");
	char *argv[] = {(char *)hx_iotad(), "run", "-c",
			(char *)hx_config(&fake, "notmqtt.yaml", "iotad-nm", NULL), NULL};
	pid_t pid = hx_spawn(argv, log);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_TRUE(hx_wait_log(log, "mqtt: connecting to", 5000));
	CU_ASSERT_TRUE(hx_wait_log(log, "no MQTT CONNACK", 25000));
	CU_ASSERT_EQUAL(stop(pid), 0);
	close(fd);

	/* no model: how to make one */
	hx_broker b;
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	const char *nomodel = hx_path("nomodel.yaml");
	char *text = hx_read_file(hx_config(&b, "nm-src.yaml", "iotad-nm", NULL), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	char *path = strstr(text, "  path: ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	char fixed[8192];
	snprintf(fixed, sizeof fixed, "%.*s  path: %s/no-such-model.json%s", (int)(path - text),
		 text, hx_tmpdir(), strchr(path, '\n'));
	free(text);
	CU_ASSERT_EQUAL_FATAL(hx_write_file(nomodel, fixed), 0);
	char *argv2[] = {(char *)hx_iotad(), "run", "-c", (char *)nomodel, NULL};
	CU_ASSERT_EQUAL(hx_run(argv2, hx_path("nomodel.log"), 10000), 2);
	CU_ASSERT_TRUE(hx_wait_log(hx_path("nomodel.log"), "iotad train --csv", 100));

	/* four reasons at once, a flood of the first: each reaches the log;
	 * a state file that cannot be written: saves back off */
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-err-sub"), 0);
	const char *cfg = config(&b, "err.yaml", "iotad-err",
				 "  state_file: /nonexistent-dir/state.bin\n  state_interval: 1\n",
				 NULL);
	log = hx_path("err.log");
	pid = hx_start_iotad(cfg, log, &sub, 1);
	CU_ASSERT_FATAL(pid > 0);
	mq *pub = hx_publisher(&b, "it-err-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	for (int i = 0; i < 50; i++)
		mq_publish(pub, "telemetry/bad", "not json", 8, 1, false, 5000);
	const char *other[] = {"{\"temperature\":1,\"humidity\":2}",
			       "{\"temperature\":\"x\",\"humidity\":2,\"battery\":3}",
			       "{\"temperature\":1,\"humidity\":2,\"battery\":3,\"ts\":\"soon\"}"};
	for (int i = 0; i < 3; i++)
		mq_publish(pub, "telemetry/bad", other[i], strlen(other[i]), 1, false, 5000);
	CU_ASSERT_TRUE(hx_wait_log(log, "rejected message on 'telemetry/bad': bad_ts", 5000));
	CU_ASSERT_TRUE(hx_wait_log(log, "rejected message on 'telemetry/bad': not_json", 100));
	CU_ASSERT_TRUE(hx_wait_log(log, "missing_feature: feature \"battery\" missing; keys: "
					"temperature, humidity", 100));
	CU_ASSERT_TRUE(hx_wait_log(log, "rejected message on 'telemetry/bad': not_number", 100));
	sleep(9);
	int saves = log_lines(log, "state: cannot save");
	printf("\n    state save failures logged in 9 s at state_interval 1: %d", saves);
	CU_ASSERT_TRUE(saves >= 2 && saves <= 4);
	CU_ASSERT_TRUE(hx_wait_log(log, "periodic saves failed in a row; next try in", 100));
	CU_ASSERT_EQUAL(stop(pid), 0);
	mq_destroy(pub, 2000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- metrics and Home Assistant -------------------------------------------- */

/* GET /metrics into a malloc'd string (NULL on failure). */
static char *get_metrics(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	const char *req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		close(fd);
		return NULL;
	}
	size_t cap = 1 << 17, got = 0;
	char *buf = malloc(cap);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t k;
	while (buf && got + 1 < cap && poll(&p, 1, 5000) == 1 &&
	       (k = recv(fd, buf + got, cap - got - 1, 0)) > 0)
		got += (size_t)k;
	close(fd);
	if (buf)
		buf[got] = '\0';
	return buf;
}

/* The value of a sample line "series value" of /metrics, or -1. */
static double metric(int port, const char *series)
{
	char *text = get_metrics(port);
	double v = -1;
	size_t n = strlen(series);
	for (const char *p = text; p && (p = strstr(p, series)); p += n)
		if (p[-1] == '\n' && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	free(text);
	return v;
}

void it_metrics_and_hass(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-mh-sub"), 0);
	mq *pub = hx_publisher(&b, "it-mh-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	int port = hx_free_port();
	char service[700], more[256];
	snprintf(service, sizeof service, "  state_file: %s\n", hx_path("mh-state.bin"));
	snprintf(more, sizeof more,
		 "http:\n  listen: 127.0.0.1:%d\nhomeassistant:\n  enabled: true\n  prefix: ha\n",
		 port);
	const char *cfg = config(&b, "mh.yaml", "iotad-mh", service, more);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	pid_t pid = hx_start_iotad(cfg, hx_path("mh-1.log"), &sub, 1);
	CU_ASSERT_FATAL(pid > 0);

	/* a quiet device: discovery with availability, and a first state */
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-calm", 0, 3, 0, 0), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "ha/binary_sensor/iotad-mh/iotad_dev-calm/config",
				   "value_json.state == 'stale'", 1, 10000));
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "state/dev-calm", "\"state\":\"normal\"", 1, 10000));

	/* a raised device: the gauge says 1, before and after a restart */
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-hot", 0, 60, 30, 60), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/dev-hot", "\"raised\"", 1, 15000));
	CU_ASSERT_EQUAL(metric(port, "iotad_devices_raised"), 1);
	CU_ASSERT_TRUE(metric(port, "process_resident_memory_bytes") > 1e6);
	CU_ASSERT_TRUE(metric(port, "process_open_fds") > 3);
	CU_ASSERT_TRUE(metric(port, "process_max_fds") > 3);
	CU_ASSERT_TRUE(metric(port, "process_cpu_seconds_total") >= 0);
	CU_ASSERT_TRUE(metric(port, "process_virtual_memory_bytes") > 1e6);
	double started = metric(port, "process_start_time_seconds");
	CU_ASSERT_TRUE(started > (double)time(NULL) - 120 && started <= (double)time(NULL) + 1);
	char *text = get_metrics(port);
	CU_ASSERT(text && strstr(text, "\niotad_build_info{version=\""));
	CU_ASSERT_PTR_NULL(text ? strstr(text, "_total Windows scored.") : "");
	free(text);
	CU_ASSERT_EQUAL(stop(pid), 0);
	pid = hx_start_iotad(cfg, hx_path("mh-2.log"), &sub, 2);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(metric(port, "iotad_devices_raised"), 1);
	CU_ASSERT_EQUAL(metric(port, "iotad_states_reconciled_total"), 0);
	CU_ASSERT_EQUAL(stop(pid), 0);

	/* a table of one device: a second one evicts the first, whose
	 * discovery config goes (an empty retained payload) */
	char *one = hx_read_file(cfg, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(one);
	char *at = strstr(one, "max_devices: 1000");
	CU_ASSERT_PTR_NOT_NULL_FATAL(at);
	memcpy(at, "max_devices: 1   ", 17);
	CU_ASSERT_EQUAL_FATAL(hx_write_file(hx_path("mh-one.yaml"), one), 0);
	free(one);
	unlink(hx_path("mh-state.bin"));
	pid = hx_start_iotad(hx_path("mh-one.yaml"), hx_path("mh-3.log"), &sub, 3);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-first", 0, 2, 0, 0), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "ha/binary_sensor/iotad-mh/iotad_dev-first/config", "{", 1, 10000));
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/dev-second", 0, 2, 0, 0), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "ha/binary_sensor/iotad-mh/iotad_dev-second/config", "{", 1, 10000));
	CU_ASSERT_TRUE(hx_sub_marker(&sub, 5000));
	size_t n_first = hx_sub_count(&sub, "ha/binary_sensor/iotad-mh/iotad_dev-first/config", NULL);
	size_t n_first_json = hx_sub_count(&sub, "ha/binary_sensor/iotad-mh/iotad_dev-first/config", "{");
	CU_ASSERT_EQUAL(n_first - n_first_json, 1); /* the empty one */
	CU_ASSERT_EQUAL(stop(pid), 0);

	mq_destroy(pub, 2000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}

/* ---- two instances on one broker ------------------------------------------- */

void it_two_instances(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-two-sub"), 0);
	const char *ha = "homeassistant:\n  enabled: true\n  prefix: ha\n";
	/* north names its topics after itself; south keeps the shared ones */
	const char *north = config(&b, "north.yaml", "iotad-north", "  instance: north\n", ha);
	char *text = hx_read_file(north, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	const char *tele = "  telemetry: telemetry/+\n";
	char *at = strstr(text, tele);
	CU_ASSERT_PTR_NOT_NULL_FATAL(at);
	char more[8192];
	snprintf(more, sizeof more, "%.*s  telemetry: north/+\n  alerts: alerts/{instance}\n"
		 "  state: state/{instance}\n%s", (int)(at - text), text, at + strlen(tele));
	free(text);
	CU_ASSERT_EQUAL_FATAL(hx_write_file(north, more), 0);
	const char *south = config(&b, "south.yaml", "iotad-south", NULL, ha);

	pid_t pn = hx_start_iotad(north, hx_path("north.log"), &sub, 1);
	CU_ASSERT_FATAL(pn > 0);
	pid_t ps = hx_start_iotad(south, hx_path("south.log"), &sub, 2);
	CU_ASSERT_FATAL(ps > 0);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "iotad/status/north", "online"), 1);
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "iotad/status/iotad-south", "online"), 1);

	mq *pub = hx_publisher(&b, "it-two-pub", 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	CU_ASSERT_EQUAL(hx_publish_series(pub, "north/pump", 0, 60, 30, 60), 0);
	CU_ASSERT_EQUAL(hx_publish_series(pub, "telemetry/pump", 0, 3, 0, 0), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/north/pump", "\"raised\"", 1, 15000));
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "ha/binary_sensor/north/iotad_pump/config",
				   "\"unique_id\":\"iotad_north_pump\"", 1, 10000));
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "ha/binary_sensor/iotad-south/iotad_pump/config",
				   "\"unique_id\":\"iotad_iotad-south_pump\"", 1, 10000));
	CU_ASSERT_TRUE(hx_sub_marker(&sub, 5000));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/pump", NULL), 0); /* south saw no fault */
	/* south's shared state/pump is not north's: north's raise stays */
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "state/north/pump", "\"cleared\""), 0);

	/* one goes away: only its own status says offline */
	CU_ASSERT_EQUAL(stop(ps), 0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "iotad/status/iotad-south", "offline", 1, 5000));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "iotad/status/north", "offline"), 0);
	CU_ASSERT_EQUAL(stop(pn), 0);
	mq_destroy(pub, 2000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}
