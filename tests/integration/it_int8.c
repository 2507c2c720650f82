/* it_int8.c - integration test of an int8 model: `iotad quantize` of the
 * test model, then `iotad run` with it against a real broker, judged as the
 * float model is (/v1/score, alerts over MQTT, the start line). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "harness.h"
#include "it_http.h"
#include "it_int8.h"

void it_http_int8(void)
{
	hx_broker b;
	const char *fm = hx_model();
	CU_ASSERT_FATAL(fm != NULL);
	/* the test model quantized on the data it was trained on */
	const char *q8 = hx_path("model.iq8"), *qlog = hx_path("quantize.log");
	char *quant[] = {(char *)hx_iotad(), "quantize", (char *)fm, "--csv",
			 (char *)hx_path("normal.csv"), "--group", "device", "-o", (char *)q8, NULL};
	CU_ASSERT_EQUAL_FATAL(hx_run(quant, qlog, 120000), 0);
	char *log8 = hx_read_file(qlog, NULL);
	CU_ASSERT_PTR_NOT_NULL(log8 ? strstr(log8, "int8 calibration scores") : NULL);
	free(log8);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	int port = hx_free_port();
	char text[1024];
	const char *cfg = hx_path("iotad-int8.yaml");
	snprintf(text, sizeof text,
		 "mqtt:\n  uri: %s\n  client_id: it-int8\n  keepalive: 5\n"
		 "topics:\n  telemetry: telemetry/+\n  device_level: 1\n"
		 "model:\n  path: %s\n"
		 "http:\n  listen: 127.0.0.1:%d\n  max_body: %d\n",
		 b.uri, q8, port, IT_HTTP_MAX_BODY);
	CU_ASSERT_EQUAL_FATAL(hx_write_file(cfg, text), 0);
	hx_sub al;
	CU_ASSERT_EQUAL_FATAL(hx_sub_start(&al, b.uri, "alerts/#", "it-int8-sub"), 0);
	const char *ilog = hx_path("int8-iotad.log");
	pid_t pid = it_http_start(cfg, ilog, port);
	/* the same answers as with the float model: id, normal and hot windows */
	it_http_check_score_api(port);
	/* and the same alert over MQTT */
	mq *pub;
	mq_opts o = {.uri = b.uri, .client_id = "it-int8-pub", .keepalive = 10,
		     .clean_session = true, .max_inflight = 64};
	CU_ASSERT_EQUAL_FATAL(mq_create(&o, &pub), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(mq_start(pub), IOTAD_OK);
	CU_ASSERT_FATAL(mq_wait_connected(pub, 10000));
	it_http_publish_series(pub, "telemetry/int8-dev", 60, 30);
	CU_ASSERT_TRUE(hx_sub_wait(&al, "alerts/int8-dev", "\"state\":\"raised\"", 1, 15000));
	CU_ASSERT_EQUAL(hx_metric(port, "iotad_messages_scored_total"), 60 - 10 + 1);
	char *text8 = hx_read_file(ilog, NULL); /* the log says which model scores */
	CU_ASSERT_PTR_NOT_NULL(text8 ? strstr(text8, "with model it-model v1 (int8, window 10") : NULL);
	free(text8);
	mq_destroy(pub, 2000);
	hx_sub_stop(&al);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(hx_wait_exit(pid, 20000), 0);
	hx_broker_stop(&b, SIGTERM);
}
