/* it_zeroconf.c - the real iotad binary without a model (zero-config) on a
 * real broker: it learns its features from the first message and each
 * device's normal from its first samples, raises nothing meanwhile, then
 * raises on an injected fault; /readyz is ready, /metrics names the mode,
 * a reload is ignored, and the state file carries the learned normal over
 * a restart. */
#include "it_zeroconf.h"

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

#define ZC_LEARN 120

/* GET path on 127.0.0.1:port with Connection: close; the whole answer,
 * malloc'd and NUL-terminated, or NULL. */
static char *zc_get(int port, const char *path)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 10};
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return NULL;
	}
	char req[256];
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	size_t cap = 1 << 17, got = 0;
	char *buf = malloc(cap);
	if (buf && send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
		ssize_t k;
		while (got < cap - 1 && (k = recv(fd, buf + got, cap - 1 - got, 0)) > 0)
			got += (size_t)k;
	}
	close(fd);
	if (buf)
		buf[got] = '\0';
	return buf;
}

/* Samples [from, to) of device dev, 10 s apart in device time: a
 * temperature near 21 and a humidity near 45 (a fixed wobble), with shift
 * added to the temperature; a text field beside them. */
static void zc_series(mq *pub, const char *dev, int from, int to, double shift)
{
	char topic[64], msg[200];
	snprintf(topic, sizeof topic, "telemetry/%s", dev);
	for (int i = from; i < to; i++) {
		int n = snprintf(msg, sizeof msg,
				 "{\"ts\":%d,\"temperature\":%.2f,\"humidity\":%.1f,\"fw\":\"2.1\"}",
				 1700000000 + 10 * i, 21.0 + shift + 0.05 * ((i * 7) % 5 - 2),
				 45.0 + 0.2 * ((i * 3) % 4 - 1.5));
		CU_ASSERT_EQUAL(mq_publish(pub, topic, msg, (size_t)n, 1, false, 5000), IOTAD_OK);
	}
	CU_ASSERT_TRUE(mq_drain(pub, 20000));
}

static const char *zc_config(const hx_broker *b, int http_port, const char *state)
{
	char text[2048];
	snprintf(text, sizeof text,
		 "mqtt:\n  uri: %s\n  client_id: iotad-zc\n  keepalive: 5\n"
		 "topics:\n  telemetry: telemetry/+\n"
		 "detector:\n  profile_learn: %d\n"
		 "service:\n  log_level: info\n  state_file: %s\n"
		 "http:\n  listen: 127.0.0.1:%d\n",
		 b->uri, ZC_LEARN, state, http_port);
	const char *path = hx_path("zc.yaml");
	return hx_write_file(path, text) == 0 ? path : NULL;
}

void it_zero_config(void)
{
	hx_broker b;
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	hx_sub sub;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&sub, b.uri, "#", "it-zc-sub"), 0);
	int port = hx_free_port();
	const char *state = hx_path("zc-state.bin");
	const char *config = zc_config(&b, port, state);
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	mq *pub = hx_publisher(&b, "it-zc-pub", 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);

	const char *log1 = hx_path("zc-1.log");
	pid_t pid = hx_start_iotad(config, log1, &sub, 1);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_TRUE(hx_wait_log(log1, "zero-config", 5000));
	CU_ASSERT_TRUE(hx_wait_port(port, 5000));
	char *r = zc_get(port, "/readyz");
	CU_ASSERT_PTR_NOT_NULL(r && strstr(r, " 200 ") ? r : NULL);
	free(r);

	/* learning: the first message names the features; the device raises
	 * nothing while it learns (room-2 below: a step while learning) */
	zc_series(pub, "room-1", 0, ZC_LEARN + 200, 0.0);
	CU_ASSERT_TRUE(hx_sub_marker(&sub, 10000));
	CU_ASSERT_TRUE(hx_wait_log(log1, "features learned from the first message on "
				   "'telemetry/room-1': humidity, temperature", 5000));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/room-1", "\"raised\""), 0);

	/* the injected fault: a lasting step of 3 degrees raises (the hold
	 * rules that keep it raised once are the lifecycle's) */
	zc_series(pub, "room-1", ZC_LEARN + 200, ZC_LEARN + 260, 4.0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/room-1", "\"raised\"", 1, 15000));
	CU_ASSERT_TRUE(hx_sub_marker(&sub, 10000));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/room-1",
				     "\"model\":{\"id\":\"zero-config\",\"version\":0}"),
			hx_sub_count(&sub, "alerts/room-1", NULL));
	size_t raised = hx_sub_count(&sub, "alerts/room-1", "\"raised\"");
	size_t cleared = hx_sub_count(&sub, "alerts/room-1", "\"cleared\"");

	r = zc_get(port, "/metrics");
	CU_ASSERT_PTR_NOT_NULL(r && strstr(r, "iotad_model_info{id=\"zero-config\",version=\"0\"} 1")
				       ? r : NULL);
	free(r);

	/* a reload is ignored, said so, and the service goes on */
	CU_ASSERT_EQUAL(kill(pid, SIGHUP), 0);
	CU_ASSERT_TRUE(hx_wait_log(log1, "ignored: zero-config mode", 5000));
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	CU_ASSERT_EQUAL(access(state, R_OK), 0);

	/* restart: the state file waits for the features, then the learned
	 * normal is back: a second device would learn, room-1 judges at once */
	const char *log2 = hx_path("zc-2.log");
	pid = hx_start_iotad(config, log2, &sub, 2);
	CU_ASSERT_FATAL(pid > 0);
	zc_series(pub, "room-1", ZC_LEARN + 260, ZC_LEARN + 280, 0.0);
	CU_ASSERT_TRUE(hx_wait_log(log2, "state: restored 1 devices", 10000));
	/* open at the stop (the state file kept it): normal data clears it */
	cleared = hx_sub_count(&sub, "alerts/room-1", "\"cleared\"");
	if (raised > cleared)
		CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/room-1", "\"cleared\"", raised, 15000));
	raised = hx_sub_count(&sub, "alerts/room-1", "\"raised\"");
	zc_series(pub, "room-2", 0, 40, 0.0);
	zc_series(pub, "room-2", 40, 60, 4.0);
	zc_series(pub, "room-1", ZC_LEARN + 280, ZC_LEARN + 310, 4.0);
	CU_ASSERT_TRUE(hx_sub_wait(&sub, "alerts/room-1", "\"raised\"", raised + 1, 15000));
	CU_ASSERT_TRUE(hx_sub_marker(&sub, 10000));
	CU_ASSERT_EQUAL(hx_sub_count(&sub, "alerts/room-2", "\"raised\""), 0);

	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	mq_destroy(pub, 2000);
	hx_sub_stop(&sub);
	hx_broker_stop(&b, SIGTERM);
}
