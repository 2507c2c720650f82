/* test_config.c - unit tests of config: a full file, the defaults, every
 * kind of error with its file:line:col, secrets from the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/config.h"
#include "iotad/log.h"
#include "iotad/params.h"
#include "test.h"

static iotad_err load(const char *yaml, iotad_config *c, char *err, size_t errlen)
{
	return config_load_string("t.yaml", yaml, strlen(yaml), c, err, errlen);
}

/* Field-by-field equality (a struct compare would include padding). */
static void assert_same(const iotad_config *a, const iotad_config *b)
{
	CU_ASSERT_STRING_EQUAL(a->broker_uri, b->broker_uri);
	CU_ASSERT_STRING_EQUAL(a->client_id, b->client_id);
	CU_ASSERT_STRING_EQUAL(a->username, b->username);
	CU_ASSERT_STRING_EQUAL(a->password_env, b->password_env);
	CU_ASSERT_STRING_EQUAL(a->password_file, b->password_file);
	CU_ASSERT_STRING_EQUAL(a->tls_ca_file, b->tls_ca_file);
	CU_ASSERT_STRING_EQUAL(a->tls_cert_file, b->tls_cert_file);
	CU_ASSERT_STRING_EQUAL(a->tls_key_file, b->tls_key_file);
	CU_ASSERT_EQUAL(a->tls_verify_hostname, b->tls_verify_hostname);
	CU_ASSERT_EQUAL(a->keepalive, b->keepalive);
	CU_ASSERT_EQUAL(a->clean_session, b->clean_session);
	CU_ASSERT_EQUAL(a->max_inflight, b->max_inflight);
	CU_ASSERT_STRING_EQUAL(a->telemetry_filter, b->telemetry_filter);
	CU_ASSERT_EQUAL(a->device_level, b->device_level);
	CU_ASSERT_STRING_EQUAL(a->alert_prefix, b->alert_prefix);
	CU_ASSERT_STRING_EQUAL(a->state_prefix, b->state_prefix);
	CU_ASSERT_STRING_EQUAL(a->status_topic, b->status_topic);
	CU_ASSERT_STRING_EQUAL(a->control_topic, b->control_topic);
	CU_ASSERT_EQUAL(a->qos_in, b->qos_in);
	CU_ASSERT_EQUAL(a->qos_out, b->qos_out);
	CU_ASSERT_STRING_EQUAL(a->model_path, b->model_path);
	CU_ASSERT_EQUAL(a->window, b->window);
	CU_ASSERT_EQUAL(a->stride, b->stride);
	CU_ASSERT_EQUAL(a->alert_k, b->alert_k);
	CU_ASSERT_EQUAL(a->alert_n, b->alert_n);
	CU_ASSERT_EQUAL(a->alert_m, b->alert_m);
	CU_ASSERT_EQUAL(a->threshold, b->threshold);
	CU_ASSERT_EQUAL(a->threshold_alpha, b->threshold_alpha);
	CU_ASSERT_EQUAL(a->threshold_k, b->threshold_k);
	CU_ASSERT_EQUAL(a->threshold_q, b->threshold_q);
	CU_ASSERT_EQUAL(a->threshold_init_quantile, b->threshold_init_quantile);
	CU_ASSERT_EQUAL(a->threshold_peaks, b->threshold_peaks);
	CU_ASSERT_EQUAL(a->threshold_depth, b->threshold_depth);
	CU_ASSERT_EQUAL(a->score_alpha, b->score_alpha);
	CU_ASSERT_EQUAL(a->stale_after, b->stale_after);
	CU_ASSERT_EQUAL(a->alert_hold, b->alert_hold);
	CU_ASSERT_EQUAL(a->alert_quiet, b->alert_quiet);
	CU_ASSERT_EQUAL(a->adapt_after, b->adapt_after);
	CU_ASSERT_EQUAL(a->learn_samples, b->learn_samples);
	CU_ASSERT_EQUAL(a->learn_alarms, b->learn_alarms);
	CU_ASSERT_EQUAL(a->max_devices, b->max_devices);
	CU_ASSERT_EQUAL(a->evict_lru, b->evict_lru);
	CU_ASSERT_EQUAL(a->idle_evict_after, b->idle_evict_after);
	CU_ASSERT_EQUAL(a->max_payload, b->max_payload);
	CU_ASSERT_EQUAL(a->queue_size, b->queue_size);
	CU_ASSERT_STRING_EQUAL(a->state_file, b->state_file);
	CU_ASSERT_EQUAL(a->state_interval, b->state_interval);
	CU_ASSERT_EQUAL(a->log_level, b->log_level);
	CU_ASSERT_STRING_EQUAL(a->http_listen, b->http_listen);
	CU_ASSERT_EQUAL(a->http_max_body, b->http_max_body);
	CU_ASSERT_EQUAL(a->http_page, b->http_page);
	CU_ASSERT_EQUAL(a->hass_enabled, b->hass_enabled);
	CU_ASSERT_STRING_EQUAL(a->hass_prefix, b->hass_prefix);
}

static void test_defaults(void)
{
	static const char *const empties[] = {"", "# only a comment\n", "---\n", "~\n", "mqtt:\n"};
	iotad_config d, c;
	char err[256];

	config_defaults(&d);
	CU_ASSERT_STRING_EQUAL(d.broker_uri, "tcp://127.0.0.1:1883");
	CU_ASSERT_STRING_EQUAL(d.telemetry_filter, "telemetry/+");
	CU_ASSERT_EQUAL(d.keepalive, 30);
	CU_ASSERT_EQUAL(d.alert_k, 3);
	CU_ASSERT_EQUAL(d.alert_n, 3);
	CU_ASSERT_EQUAL(d.alert_m, 5);
	CU_ASSERT_EQUAL(d.threshold, THR_ADAPTIVE);
	CU_ASSERT_EQUAL(d.threshold_alpha, 0.01f);
	CU_ASSERT_EQUAL(d.threshold_k, 4.0f);
	CU_ASSERT_EQUAL(d.threshold_q, 1e-3f);
	CU_ASSERT_EQUAL(d.threshold_init_quantile, 0.98f);
	CU_ASSERT_EQUAL(d.threshold_peaks, 64);
	CU_ASSERT_EQUAL(d.threshold_depth, 20);
	CU_ASSERT_EQUAL(d.score_alpha, 0.0);
	CU_ASSERT_EQUAL(d.max_devices, 10000);
	CU_ASSERT_TRUE(d.evict_lru);
	CU_ASSERT_EQUAL(d.idle_evict_after, 0.0);
	CU_ASSERT_EQUAL(d.max_payload, 4096);
	CU_ASSERT_EQUAL(d.queue_size, 8192);
	CU_ASSERT_STRING_EQUAL(d.state_file, "");
	CU_ASSERT_EQUAL(d.state_interval, 60.0);
	CU_ASSERT_EQUAL(d.log_level, LOG_INFO);
	CU_ASSERT_FALSE(d.clean_session);
	for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
		memset(&c, 0x5a, sizeof c);
		CU_ASSERT_EQUAL(load(empties[i], &c, err, sizeof err), IOTAD_OK);
		assert_same(&c, &d);
	}
}

static const char full_yaml[] =
	"# every key, none at its default\n"
	"mqtt:\n"
	"  uri: mqtts://broker.example.com:8883\n"
	"  client_id: iotad-7\n"
	"  username: ''\n"
	"  password_env: ''\n"
	"  keepalive: 45\n"
	"  clean_session: yes\n"
	"  max_inflight: 2048\n"
	"topics:\n"
	"  telemetry: site/+/dev/#\n"
	"  device_level: 3\n"
	"  alerts: out/alerts\n"
	"  state: out/state\n"
	"  status: svc/iotad\n"
	"  control: svc/control\n"
	"  qos_in: 0\n"
	"  qos_out: 0\n"
	"model:\n"
	"  path: /var/lib/iotad/model.json\n"
	"  window: 16\n"
	"  stride: 4\n"
	"detector:\n"
	"  max_devices: 500\n"
	"  evict: reject\n"
	"  idle_evict_after: 3600\n"
	"  threshold: dspot\n"
	"  threshold_alpha: 0.25\n"
	"  threshold_k: 3.5\n"
	"  threshold_q: 1e-4\n"
	"  threshold_init_quantile: 0.95\n"
	"  threshold_peaks: 0\n"
	"  threshold_depth: 50\n"
	"  score_alpha: 0.1\n"
	"  alert_k: 2\n"
	"  alert_n: 4\n"
	"  alert_m: 7\n"
	"  stale_after: 90.5\n"
	"  alert_hold: 60\n"
	"  alert_quiet: 300\n"
	"  adapt_after: 21600\n"
	"  learn_samples: 500\n"
	"  learn_alarms: true\n"
	"service:\n"
	"  max_payload: 8192\n"
	"  queue_size: 1000\n"
	"  state_file: /var/lib/iotad/state.bin\n"
	"  state_interval: 15.5\n"
	"  log_level: debug\n";

static void test_full_file(void)
{
	iotad_config c;
	char err[256] = "";

	CU_ASSERT_EQUAL_FATAL(load(full_yaml, &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_STRING_EQUAL(c.broker_uri, "mqtts://broker.example.com:8883");
	CU_ASSERT_STRING_EQUAL(c.client_id, "iotad-7");
	CU_ASSERT_STRING_EQUAL(c.username, "");
	CU_ASSERT_STRING_EQUAL(c.password_env, "");
	CU_ASSERT_STRING_EQUAL(c.password, "");
	CU_ASSERT_EQUAL(c.keepalive, 45);
	CU_ASSERT_TRUE(c.clean_session);
	CU_ASSERT_EQUAL(c.max_inflight, 2048);
	CU_ASSERT_STRING_EQUAL(c.telemetry_filter, "site/+/dev/#");
	CU_ASSERT_EQUAL(c.device_level, 3);
	CU_ASSERT_STRING_EQUAL(c.alert_prefix, "out/alerts");
	CU_ASSERT_STRING_EQUAL(c.state_prefix, "out/state");
	CU_ASSERT_STRING_EQUAL(c.status_topic, "svc/iotad");
	CU_ASSERT_STRING_EQUAL(c.control_topic, "svc/control");
	CU_ASSERT_EQUAL(c.qos_in, 0);
	CU_ASSERT_EQUAL(c.qos_out, 0);
	CU_ASSERT_STRING_EQUAL(c.model_path, "/var/lib/iotad/model.json");
	CU_ASSERT_EQUAL(c.window, 16);
	CU_ASSERT_EQUAL(c.stride, 4);
	CU_ASSERT_EQUAL(c.max_devices, 500);
	CU_ASSERT_FALSE(c.evict_lru);
	CU_ASSERT_EQUAL(c.idle_evict_after, 3600.0);
	CU_ASSERT_EQUAL(c.threshold, THR_DSPOT);
	CU_ASSERT_EQUAL(c.threshold_alpha, 0.25f);
	CU_ASSERT_EQUAL(c.threshold_k, 3.5f);
	CU_ASSERT_EQUAL(c.threshold_q, 1e-4f);
	CU_ASSERT_EQUAL(c.threshold_init_quantile, 0.95f);
	CU_ASSERT_EQUAL(c.threshold_peaks, 0);
	CU_ASSERT_EQUAL(c.threshold_depth, 50);
	CU_ASSERT_EQUAL(c.score_alpha, 0.1);
	CU_ASSERT_EQUAL(c.alert_k, 2);
	CU_ASSERT_EQUAL(c.alert_n, 4);
	CU_ASSERT_EQUAL(c.alert_m, 7);
	CU_ASSERT_EQUAL(c.stale_after, 90.5);
	CU_ASSERT_EQUAL(c.alert_hold, 60.0);
	CU_ASSERT_EQUAL(c.alert_quiet, 300.0);
	CU_ASSERT_EQUAL(c.adapt_after, 21600.0);
	CU_ASSERT_EQUAL(c.learn_samples, 500);
	CU_ASSERT_TRUE(c.learn_alarms);
	CU_ASSERT_EQUAL(c.max_payload, 8192);
	CU_ASSERT_EQUAL(c.queue_size, 1000);
	CU_ASSERT_STRING_EQUAL(c.state_file, "/var/lib/iotad/state.bin");
	CU_ASSERT_EQUAL(c.state_interval, 15.5);
	CU_ASSERT_EQUAL(c.log_level, LOG_DEBUG);
}

static void test_partial_and_flow(void)
{
	iotad_config c, d;
	char err[256];

	config_defaults(&d);
	CU_ASSERT_EQUAL_FATAL(load("detector: {alert_m: 9, threshold: static}\n"
				   "mqtt:\n  clean_session: True\n", &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(c.alert_m, 9);
	CU_ASSERT_EQUAL(c.threshold, THR_STATIC);
	CU_ASSERT_TRUE(c.clean_session);
	CU_ASSERT_EQUAL(c.keepalive, d.keepalive);
	CU_ASSERT_STRING_EQUAL(c.broker_uri, d.broker_uri);
	/* "#" filter: any device level is reachable */
	CU_ASSERT_EQUAL(load("topics:\n  telemetry: '#'\n  device_level: 16\n", &c, err, sizeof err),
			IOTAD_OK);
	CU_ASSERT_EQUAL(c.device_level, 16);
}

static const struct bad_case {
	const char *yaml;
	const char *where; /* expected "t.yaml:L:C:" prefix */
	const char *what;  /* substring of the message */
} bad_cases[] = {
	/* structure */
	{"mqtt:\n  bogus: 1\n", "t.yaml:2:3:", "unknown key 'bogus'"},
	{"topics:\n  control: ctl/#\n", "t.yaml:2:3:", "topics.control: 'ctl/#' must be a topic"},
	{"mqtt:\n  keepalive: 5\nfoo:\n  a: 1\n", "t.yaml:3:1:", "unknown section 'foo'"},
	{"mqtt:\n  keepalive: 5\n  client_id: a\n  keepalive: 6\n", "t.yaml:4:3:", "duplicate key mqtt.keepalive"},
	{"mqtt:\n  keepalive: 5\nmqtt:\n  client_id: x\n", "t.yaml:3:1:", "duplicate section mqtt"},
	{"mqtt:\n  keepalive:\n    a: 1\n", "t.yaml:3:5:", "got a mapping"},
	{"mqtt:\n  client_id: [a, b]\n", "t.yaml:2:14:", "got a sequence"},
	{"- a\n- b\n", "t.yaml:1:1:", "got a sequence"},
	{"hello\n", "t.yaml:1:1:", "got a scalar"},
	{"mqtt: 5\n", "t.yaml:1:7:", "expected a mapping"},
	{"mqtt:\n  ? [a]\n  : b\n", "t.yaml:2:5:", "expected a key"},
	{"mqtt:\n  client_id: &a x\n", "t.yaml:2:14:", "anchors and aliases"},
	{"mqtt:\n  client_id: x\n  username: *a\n", "t.yaml:3:13:", "anchors and aliases"},
	{"mqtt: {}\n---\nmqtt: {}\n", "t.yaml:2:1:", "only one YAML document"},
	/* libyaml syntax errors */
	{"mqtt:\n  uri: \"unterminated\n", "t.yaml:3:1:", "YAML syntax error"},
	{"mqtt:\n  keepalive: 5\n bad: 1\n", "t.yaml:3:2:", "YAML syntax error"},
	{"mqtt:\n\tkeepalive: 5\n", "t.yaml:2:1:", "YAML syntax error"},
	/* types and ranges */
	{"mqtt:\n  keepalive: 30s\n", "t.yaml:2:14:", "expected an integer, got '30s'"},
	{"mqtt:\n  keepalive: 0\n", "t.yaml:2:14:", "out of range [1, 3600]"},
	{"mqtt:\n  keepalive: 99999999999999999999\n", "t.yaml:2:14:", "expected an integer"},
	{"mqtt:\n  keepalive: \"30\"\n", "t.yaml:2:14:", "quoted"},
	{"mqtt:\n  keepalive:\n", "t.yaml:2:13:", "expected an integer"},
	{"mqtt:\n  max_inflight: 65536\n", "t.yaml:2:17:", "out of range"},
	{"mqtt:\n  clean_session: maybe\n", "t.yaml:2:18:", "expected true or false"},
	{"mqtt:\n  client_id: \"a\\0b\"\n", "t.yaml:2:14:", "NUL"},
	{"detector:\n  threshold_alpha: nan\n", "t.yaml:2:20:", "finite"},
	{"detector:\n  threshold_alpha: .inf\n", "t.yaml:2:20:", "finite"},
	{"detector:\n  threshold_alpha: 1e999\n", "t.yaml:2:20:", "finite"},
	{"detector:\n  threshold_alpha: 0\n", "t.yaml:2:20:", "out of range (0, 1]"},
	{"detector:\n  threshold_alpha: 1.5\n", "t.yaml:2:20:", "out of range"},
	{"detector:\n  score_alpha: 1.01\n", "t.yaml:2:16:", "out of range [0, 1]"},
	{"detector:\n  score_alpha: -0.1\n", "t.yaml:2:16:", "out of range [0, 1]"},
	{"detector:\n  stale_after: -1\n", "t.yaml:2:16:", "out of range"},
	{"detector:\n  alert_hold: -5\n", "t.yaml:2:15:", "out of range"},
	{"detector:\n  alert_quiet: 1e99\n", "t.yaml:2:16:", "out of range"},
	{"detector:\n  adapt_after: soon\n", "t.yaml:2:16:", "number"},
	{"detector:\n  learn_samples: 100000001\n", "t.yaml:2:18:", "out of range"},
	{"detector:\n  learn_alarms: maybe\n", "t.yaml:2:17:", "true"},
	{"detector:\n  threshold: dynamic\n", "t.yaml:2:14:", "ewma, spot or dspot"},
	{"detector:\n  threshold_q: 0\n", "t.yaml:2:16:", "out of range (0, 0.1]"},
	{"detector:\n  threshold_q: 0.05\n", "t.yaml:2:3:", "below 1 - threshold_init_quantile"},
	{"detector:\n  threshold_init_quantile: 1\n", "t.yaml:2:28:", "out of range"},
	{"detector:\n  threshold_peaks: 1025\n", "t.yaml:2:20:", "out of range [0, 1024]"},
	{"detector:\n  threshold_depth: 0\n", "t.yaml:2:20:", "out of range [1, 1024]"},
	{"detector:\n  threshold_k: -1\n", "t.yaml:2:16:", "out of range"},
	{"detector:\n  alert_n: 33\n", "t.yaml:2:12:", "out of range [1, 32]"},
	{"detector:\n  alert_m: 256\n", "t.yaml:2:12:", "out of range"},
	{"detector:\n  max_devices: 0\n", "t.yaml:2:16:", "out of range"},
	{"detector:\n  max_devices: 10000001\n", "t.yaml:2:16:", "out of range"},
	{"detector:\n  evict: oldest\n", "t.yaml:2:10:", "expected lru or reject"},
	{"detector:\n  idle_evict_after: -5\n", "t.yaml:2:21:", "out of range"},
	{"service:\n  log_level: verbose\n", "t.yaml:2:14:", "error, warn, info or debug"},
	{"service:\n  max_payload: 10\n", "t.yaml:2:16:", "out of range"},
	{"topics:\n  qos_out: 2\n", "t.yaml:2:12:", "out of range [0, 1]"},
	{"topics:\n  device_level: 17\n", "t.yaml:2:17:", "out of range [0, 16]"},
	{"model:\n  window: -1\n", "t.yaml:2:11:", "out of range"},
	/* rules across fields (located at the key) */
	{"detector:\n  alert_k: 4\n  alert_n: 3\n", "t.yaml:2:3:", "alert_k (4) must not exceed"},
	{"mqtt:\n  uri: http://x\n", "t.yaml:2:3:", "mqtt.uri"},
	{"mqtt:\n  uri: tcp://\n", "t.yaml:2:3:", "mqtt.uri"},
	{"mqtt:\n  client_id: ''\n", "t.yaml:2:3:", "client_id"},
	{"topics:\n  telemetry: tele#/x\n", "t.yaml:2:3:", "not a valid MQTT topic filter"},
	{"topics:\n  telemetry: a/b+\n", "t.yaml:2:3:", "not a valid MQTT topic filter"},
	{"topics:\n  telemetry: a/#/b\n", "t.yaml:2:3:", "not a valid MQTT topic filter"},
	{"topics:\n  telemetry: \"\"\n", "t.yaml:2:3:", "not a valid MQTT topic filter"},
	{"topics:\n  telemetry: a/+\n  device_level: 2\n", "t.yaml:3:3:", "beyond"},
	{"topics:\n  alerts: alerts/+\n", "t.yaml:2:3:", "topics.alerts"},
	{"topics:\n  state: st#\n", "t.yaml:2:3:", "topics.state"},
	{"topics:\n  status: ''\n", "t.yaml:2:3:", "topics.status"},
	{"detector:\n  features: [a, b, a]\n", "t.yaml:2:3:", "'a' is listed twice"},
	{"detector:\n  features: a,,b\n", "t.yaml:2:3:", "an empty name"},
	{"detector:\n  features: [ts]\n", "t.yaml:2:3:", "reserved field"},
	{"detector:\n  features: [a, [b]]\n", "t.yaml:2:17:", "expected a list of names"},
	{"http:\n  listen: localhost:8080\n", "t.yaml:2:3:", "http.listen: 'localhost:8080' is not IPv4:PORT"},
	{"http:\n  listen: 127.0.0.1:70000\n", "t.yaml:2:3:", "http.listen"},
	{"http:\n  listen: 127.0.0.1\n", "t.yaml:2:3:", "http.listen"},
	{"http:\n  max_body: 10\n", "t.yaml:2:13:", "out of range [64, 67108864]"},
	{"http:\n  page: maybe\n", "t.yaml:2:9:", "expected true or false"},
	{"http:\n  port: 80\n", "t.yaml:2:3:", "unknown key 'port' in section http"},
	{"homeassistant:\n  enabled: true\n  prefix: ha/\n", "t.yaml:3:3:", "homeassistant.prefix"},
	{"homeassistant:\n  enabled: true\n  prefix: ''\n", "t.yaml:3:3:", "homeassistant.prefix"},
	{"federated:\n  rule: average\n", "t.yaml:2:3:", "federated.rule: expected mean, median or trimmed"},
	{"federated:\n  clients: 2\n  min_updates: 3\n", "t.yaml:3:3:", "more than federated.clients"},
	{"federated:\n  prefix: fl/+\n", "t.yaml:2:3:", "federated.prefix"},
	{"federated:\n  trim: 0.5\n", "t.yaml:2:9:", "federated.trim"},
	{"federated:\n  clients: 0\n", "t.yaml:2:12:", "federated.clients"},
	{"service:\n  scorer_threads: 65\n", "t.yaml:2:19:", "out of range [0, 64]"},
	{"federated:\n  enabled: true\nservice:\n  scorer_threads: 2\n", "t.yaml:4:3:",
	 "service.scorer_threads: federated learning runs with one scorer thread"},
	{"federated:\n  round_timeout: 0\n", "t.yaml:2:18:", "federated.round_timeout"},
	{"federated:\n  ratio: 2\n", "t.yaml:2:3:", "unknown key 'ratio' in section federated"},
	{"federated:\n  enabled: true\n  gateway: gw/1\n", "t.yaml:3:3:", "federated.gateway: 'gw/1'"},
	{"mqtt:\n  client_id: a b\nfederated:\n  enabled: true\n", "t.yaml:4:3:", "federated.gateway: 'a b'"},
	{"federated:\n  max_score_ratio: 0.5\n", "t.yaml:2:20:", "federated.max_score_ratio"},
	{"federated:\n  lr: 0\n", "t.yaml:2:7:", "federated.lr"},
	{"federated:\n  clip: 1\n  noise: 1\n  rule: median\n", "t.yaml:3:3:", "federated.noise: DP-FedAvg needs"},
	{"federated:\n  noise: 1\n", "t.yaml:2:3:", "federated.noise: DP-FedAvg needs"},
	{"federated:\n  dp_delta: 0.5\n", "t.yaml:2:13:", "federated.dp_delta"},
	{"federated:\n  dp_sgd_noise: 1\n", "t.yaml:2:3:", "federated.dp_sgd_noise: DP-SGD needs"},
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *b = &bad_cases[i];
		iotad_config c;
		char err[512] = "";

		config_defaults(&c);
		c.keepalive = 77; /* a failed load leaves the config untouched */
		iotad_err rc = load(b->yaml, &c, err, sizeof err);
		CU_ASSERT(rc == IOTAD_ERR_CONFIG || rc == IOTAD_ERR_PARSE);
		CU_ASSERT_EQUAL(c.keepalive, 77);
		bool ok = strncmp(err, b->where, strlen(b->where)) == 0 && strstr(err, b->what);
		if (!ok)
			fprintf(stderr, "\ncase %zu: got '%s', want '%s ... %s'\n", i, err, b->where,
				b->what);
		CU_ASSERT(ok);
	}
}

static void test_http_sections(void)
{
	iotad_config c;
	char err[512];

	config_defaults(&c);
	CU_ASSERT_STRING_EQUAL(c.http_listen, ""); /* off unless asked for */
	CU_ASSERT_EQUAL(c.http_max_body, 65536);
	CU_ASSERT_TRUE(c.http_page);
	CU_ASSERT_FALSE(c.hass_enabled);
	CU_ASSERT_STRING_EQUAL(c.hass_prefix, "homeassistant");
	CU_ASSERT_EQUAL_FATAL(load("http:\n  listen: \"[::1]:9100\"\n  max_body: 1024\n  page: false\n"
				   "homeassistant:\n  enabled: yes\n  prefix: site/ha\n",
				   &c, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(c.http_listen, "[::1]:9100");
	CU_ASSERT_EQUAL(c.http_max_body, 1024);
	CU_ASSERT_FALSE(c.http_page);
	CU_ASSERT_TRUE(c.hass_enabled);
	CU_ASSERT_STRING_EQUAL(c.hass_prefix, "site/ha");
	/* a bad prefix does not matter while discovery is off */
	CU_ASSERT_EQUAL(load("homeassistant:\n  prefix: ha/#\n", &c, err, sizeof err), IOTAD_OK);
}

static void test_federated_section(void)
{
	iotad_config c;
	char err[512];

	config_defaults(&c);
	CU_ASSERT_STRING_EQUAL(c.fed_prefix, "iotad/fl");
	CU_ASSERT_EQUAL(c.fed_clients, 3);
	CU_ASSERT_EQUAL(c.fed_min_updates, 2);
	CU_ASSERT_STRING_EQUAL(c.fed_rule, "mean");
	CU_ASSERT_STRING_EQUAL(c.fed_update_encoding, "float32");
	CU_ASSERT_EQUAL_FATAL(load("federated:\n  prefix: site/fl\n  clients: 5\n  min_updates: 4\n"
				   "  round_timeout: 2.5\n  rule: trimmed\n  trim: 0.1\n  clip: 3\n"
				   "  state_file: /tmp/g.bin\n  model_out: /tmp/g.json\n  rounds: 7\n",
				   &c, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(c.fed_prefix, "site/fl");
	CU_ASSERT_EQUAL(c.fed_clients, 5);
	CU_ASSERT_EQUAL(c.fed_min_updates, 4);
	CU_ASSERT_DOUBLE_EQUAL(c.fed_round_timeout, 2.5, 1e-12);
	CU_ASSERT_STRING_EQUAL(c.fed_rule, "trimmed");
	CU_ASSERT_DOUBLE_EQUAL(c.fed_trim, 0.1, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(c.fed_clip, 3, 1e-12);
	CU_ASSERT_STRING_EQUAL(c.fed_state_file, "/tmp/g.bin");
	CU_ASSERT_STRING_EQUAL(c.fed_model_out, "/tmp/g.json");
	CU_ASSERT_EQUAL(c.fed_rounds, 7);
	CU_ASSERT_FALSE(c.fed_enabled);
	CU_ASSERT_EQUAL_FATAL(load("federated:\n  enabled: true\n  gateway: gw-7\n  local_epochs: 3\n"
				   "  batch: 8\n  lr: 0.01\n  max_devices: 10\n  windows_per_device: 5\n"
				   "  min_windows: 4\n  max_score_ratio: 2\n  local_interval: 3600\n",
				   &c, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_TRUE(c.fed_enabled);
	CU_ASSERT_STRING_EQUAL(c.fed_gateway, "gw-7");
	CU_ASSERT_EQUAL(c.fed_local_epochs, 3);
	CU_ASSERT_EQUAL(c.fed_batch, 8);
	CU_ASSERT_DOUBLE_EQUAL(c.fed_lr, 0.01, 1e-12);
	CU_ASSERT_EQUAL(c.fed_max_devices, 10);
	CU_ASSERT_EQUAL(c.fed_windows_per_device, 5);
	CU_ASSERT_EQUAL(c.fed_min_windows, 4);
	CU_ASSERT_DOUBLE_EQUAL(c.fed_max_score_ratio, 2, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(c.fed_local_interval, 3600, 1e-12);
	CU_ASSERT_STRING_EQUAL(c.fed_update_encoding, "float32");
	CU_ASSERT_EQUAL_FATAL(load("federated:\n  update_encoding: int8\n", &c, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(c.fed_update_encoding, "int8");
	CU_ASSERT_EQUAL(load("federated:\n  update_encoding: float16\n", &c, err, sizeof err),
			IOTAD_ERR_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(err, "federated.update_encoding: expected float32 or int8, got 'float16'"));
}

static void test_long_string(void)
{
	char yaml[600], err[512];
	iotad_config c;

	/* CFG_STR - 1 bytes fit, one more does not */
	int n = snprintf(yaml, sizeof yaml, "mqtt:\n  client_id: %0*d\n", CFG_STR - 1, 0);
	CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof yaml);
	CU_ASSERT_EQUAL(load(yaml, &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(strlen(c.client_id), CFG_STR - 1);
	snprintf(yaml, sizeof yaml, "mqtt:\n  client_id: %0*d\n", CFG_STR, 0);
	CU_ASSERT_EQUAL(load(yaml, &c, err, sizeof err), IOTAD_ERR_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.yaml:2:14: mqtt.client_id: longer than 255 bytes"));
}

static void test_password_env(void)
{
	const char *yaml = "mqtt:\n  username: bob\n  password_env: IOTAD_TEST_PW\n";
	iotad_config c;
	char err[512];

	setenv("IOTAD_TEST_PW", "s3cret-pw", 1);
	CU_ASSERT_EQUAL(load(yaml, &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(c.username, "bob");
	CU_ASSERT_STRING_EQUAL(c.password, "s3cret-pw");
	CU_ASSERT_STRING_EQUAL(c.password_env, "IOTAD_TEST_PW");
	/* another error while the password is set: it is never echoed */
	CU_ASSERT_EQUAL(load("mqtt:\n  username: bob\n  password_env: IOTAD_TEST_PW\n  keepalive: x\n",
			     &c, err, sizeof err), IOTAD_ERR_CONFIG);
	CU_ASSERT_PTR_NULL(strstr(err, "s3cret"));

	unsetenv("IOTAD_TEST_PW");
	CU_ASSERT_EQUAL(load(yaml, &c, err, sizeof err), IOTAD_ERR_CONFIG);
	CU_ASSERT_EQUAL(strncmp(err, "t.yaml:3:3:", 11), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "IOTAD_TEST_PW"));
	/* no username: an absent variable is fine, there is no password */
	CU_ASSERT_EQUAL(load("mqtt:\n  password_env: IOTAD_TEST_PW\n", &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(c.password, "");
	/* the default variable name, located at the username */
	unsetenv("IOTAD_MQTT_PASSWORD");
	CU_ASSERT_EQUAL(load("mqtt:\n  username: bob\n", &c, err, sizeof err), IOTAD_ERR_CONFIG);
	CU_ASSERT_EQUAL(strncmp(err, "t.yaml:2:3:", 11), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "IOTAD_MQTT_PASSWORD"));
}

/* Write text to a fresh temporary file; path receives its name. */
static void temp_file(char *path, size_t len, const char *text, size_t n)
{
	snprintf(path, len, "/tmp/iotad-cfg-XXXXXX");
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, text, n), (ssize_t)n);
	close(fd);
}

static void test_password_file_and_tls(void)
{
	char pw[64], pem[64], yaml[512], err[512];
	iotad_config c;

	temp_file(pw, sizeof pw, "fil3-secret\r\nsecond line\n", 25);
	temp_file(pem, sizeof pem, "not checked here\n", 17);
	setenv("IOTAD_TEST_PW2", "env-secret", 1);
	/* the file wins over the environment; only its first line counts */
	snprintf(yaml, sizeof yaml,
		 "mqtt:\n  uri: ssl://broker:8883\n  username: bob\n  password_env: IOTAD_TEST_PW2\n"
		 "  password_file: %s\n  tls_ca_file: %s\n  tls_cert_file: %s\n"
		 "  tls_key_file: %s\n  tls_verify_hostname: false\n", pw, pem, pem, pem);
	CU_ASSERT_EQUAL_FATAL(load(yaml, &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(c.password, "fil3-secret");
	CU_ASSERT_STRING_EQUAL(c.tls_ca_file, pem);
	CU_ASSERT_STRING_EQUAL(c.tls_key_file, pem);
	CU_ASSERT_FALSE(c.tls_verify_hostname);
	unsetenv("IOTAD_TEST_PW2");

	/* TLS files with a plain uri, a key without a certificate, unreadable files */
	snprintf(yaml, sizeof yaml, "mqtt:\n  tls_ca_file: %s\n", pem);
	CU_ASSERT_EQUAL(load(yaml, &c, err, sizeof err), IOTAD_ERR_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.yaml:2:3: mqtt.tls_ca_file: TLS files need an ssl://"));
	snprintf(yaml, sizeof yaml, "mqtt:\n  uri: mqtts://b\n  tls_key_file: %s\n", pem);
	CU_ASSERT_EQUAL(load(yaml, &c, err, sizeof err), IOTAD_ERR_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.yaml:3:3: mqtt.tls_key_file: needs mqtt.tls_cert_file"));
	CU_ASSERT_EQUAL(load("mqtt:\n  uri: ssl://b\n  tls_ca_file: /nonexistent/ca.pem\n", &c, err,
			     sizeof err), IOTAD_ERR_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.yaml:3:3: mqtt.tls_ca_file: cannot read '/nonexistent/ca.pem'"));

	/* password file errors name the file, never its content */
	CU_ASSERT_EQUAL(load("mqtt:\n  password_file: /nonexistent/pw\n", &c, err, sizeof err),
			IOTAD_ERR_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.yaml:2:3: mqtt.password_file: cannot open '/nonexistent/pw'"));
	char empty[64], nul[64], longpw[64], big[300];
	temp_file(empty, sizeof empty, "\n", 1);
	temp_file(nul, sizeof nul, "ab\0cd\n", 6);
	memset(big, 'x', sizeof big);
	temp_file(longpw, sizeof longpw, big, sizeof big);
	const char *bad[][2] = {{empty, "is empty"}, {nul, "holds a NUL byte"},
				{longpw, "longer than 255 bytes"}};
	for (size_t i = 0; i < 3; i++) {
		snprintf(yaml, sizeof yaml, "mqtt:\n  password_file: %s\n", bad[i][0]);
		CU_ASSERT_EQUAL(load(yaml, &c, err, sizeof err), IOTAD_ERR_CONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i][1]));
		CU_ASSERT_PTR_NULL(strstr(err, "xxx"));
		unlink(bad[i][0]);
	}
	unlink(pw);
	unlink(pem);
}

static void test_files(void)
{
	char path[1024], err[512];
	iotad_config c, d;

	config_defaults(&d);
	/* the shipped sample: every key, all at their defaults */
	snprintf(path, sizeof path, "%s/../../config/iotad.yaml", test_fixture_dir);
	iotad_err rc = config_load(path, &c, err, sizeof err);
	if (rc)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, IOTAD_OK);
	assert_same(&c, &d);

	/* missing file */
	CU_ASSERT_EQUAL(config_load("/nonexistent/iotad.yaml", &c, err, sizeof err),
			IOTAD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/iotad.yaml"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));

	/* errors in a file are prefixed with its path */
	char tmp[] = "/tmp/iotad-cfg-XXXXXX";
	int fd = mkstemp(tmp);
	CU_ASSERT_FATAL(fd >= 0);
	const char *bad = "service:\n  queue_size: 0\n";
	CU_ASSERT_EQUAL(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	CU_ASSERT_EQUAL(config_load(tmp, &c, err, sizeof err), IOTAD_ERR_CONFIG);
	char want[64];
	snprintf(want, sizeof want, "%s:2:15:", tmp);
	CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
	unlink(tmp);
}

/* The detector configuration every path builds (config_det) from the
 * defaults is the core's own default, field by field: the table and
 * det_config_default / thr_params_default cannot drift apart. */
static void test_config_det_defaults(void)
{
	iotad_config c;
	det_config a, b;
	config_defaults(&c);
	memset(&a, 0x5a, sizeof a);
	config_det(&c, &a);
	det_config_default(&b);
	CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof a), 0);
	/* alert_quiet: auto by default (the detector chooses), an explicit 0 is
	 * off, a number is kept; written back as the file spells it */
	const param_def *pq = param_find("alert_quiet");
	char qmsg[128], qval[32];
	CU_ASSERT_PTR_NOT_NULL_FATAL(pq);
	CU_ASSERT_EQUAL(c.alert_quiet, -1.0);
	CU_ASSERT_EQUAL(a.alert.quiet, DET_QUIET_AUTO);
	param_value(pq, &c, qval, sizeof qval);
	CU_ASSERT_STRING_EQUAL(qval, "auto");
	CU_ASSERT_EQUAL(param_parse(pq, "0", &c, qmsg, sizeof qmsg), 0);
	CU_ASSERT_EQUAL(c.alert_quiet, 0.0);
	param_value(pq, &c, qval, sizeof qval);
	CU_ASSERT_STRING_EQUAL(qval, "0");
	config_det(&c, &a);
	CU_ASSERT_EQUAL(a.alert.quiet, 0.0);
	CU_ASSERT_EQUAL(param_parse(pq, "auto", &c, qmsg, sizeof qmsg), 0);
	CU_ASSERT_EQUAL(c.alert_quiet, -1.0);
	CU_ASSERT_EQUAL(param_parse(pq, "-1", &c, qmsg, sizeof qmsg), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(qmsg, "out of range"));
	CU_ASSERT_EQUAL(param_parse(pq, "soon", &c, qmsg, sizeof qmsg), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(qmsg, "or auto"));
	config_defaults(&c);
	/* and every key reaches the detector configuration */
	const char *yaml = "model:\n  stride: 4\n"
			   "detector:\n  max_devices: 7\n  evict: reject\n  threshold: spot\n"
			   "  threshold_alpha: 0.5\n  threshold_k: 2\n  threshold_q: 0.01\n"
			   "  threshold_init_quantile: 0.9\n  threshold_peaks: 10\n"
			   "  threshold_depth: 30\n  score_alpha: 0.25\n  alert_k: 2\n"
			   "  alert_n: 6\n  alert_m: 9\n  stale_after: 12.5\n  stuck_check: no\n";
	char err[256];
	CU_ASSERT_EQUAL_FATAL(config_load_string("t.yaml", yaml, strlen(yaml), &c, err, sizeof err),
			      IOTAD_OK);
	config_det(&c, &a);
	CU_ASSERT_EQUAL(a.stride, 4);
	CU_ASSERT_EQUAL(a.max_devices, 7u);
	CU_ASSERT_EQUAL(a.evict, DET_EVICT_REJECT);
	CU_ASSERT_EQUAL(a.thr.kind, THR_SPOT);
	CU_ASSERT_EQUAL(a.thr.alpha, 0.5f);
	CU_ASSERT_EQUAL(a.thr.ewma_k, 2.0f);
	CU_ASSERT_EQUAL(a.thr.q, 0.01f);
	CU_ASSERT_EQUAL(a.thr.init_quantile, 0.9f);
	CU_ASSERT_EQUAL(a.thr.peaks, 10);
	CU_ASSERT_EQUAL(a.thr.depth, 30);
	CU_ASSERT_EQUAL(a.score_alpha, 0.25f);
	CU_ASSERT_EQUAL(a.alert.k, 2);
	CU_ASSERT_EQUAL(a.alert.n, 6);
	CU_ASSERT_EQUAL(a.alert.m, 9);
	CU_ASSERT_EQUAL(a.stale_after, 12.5);
	CU_ASSERT_FALSE(a.stuck_check);
}

/* Every parameter of the table is a detector key of the config file, its
 * default reads back as itself, and its range bounds are enforced with the
 * message eval prints too. */
static void test_param_table(void)
{
	size_t n;
	const param_def *t = param_detector(&n);
	CU_ASSERT_TRUE_FATAL(n > 10 && n <= PARAM_MAX_DETECTOR);
	iotad_config d, c;
	config_defaults(&d);
	for (size_t i = 0; i < n; i++) {
		char value[64], yaml[256], err[512], msg[256];
		CU_ASSERT_PTR_EQUAL(param_find(t[i].key), &t[i]);
		param_value(&t[i], &d, value, sizeof value);
		snprintf(yaml, sizeof yaml, "detector:\n  %s: %s\n", t[i].key, value);
		CU_ASSERT_EQUAL(config_load_string("t.yaml", yaml, strlen(yaml), &c, err, sizeof err),
				IOTAD_OK);
		CU_ASSERT_EQUAL(memcmp(&c, &d, sizeof c), 0);
		CU_ASSERT_PTR_NOT_NULL(t[i].help);
		if (t[i].type != PARAM_INT && t[i].type != PARAM_U32)
			continue;
		/* one above the range: refused, the same words in both doors */
		snprintf(value, sizeof value, "%.0f", t[i].max + 1);
		CU_ASSERT_NOT_EQUAL(param_parse(&t[i], value, &c, msg, sizeof msg), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, "out of range"));
		snprintf(yaml, sizeof yaml, "detector:\n  %s: %s\n", t[i].key, value);
		CU_ASSERT_EQUAL(config_load_string("t.yaml", yaml, strlen(yaml), &c, err, sizeof err),
				IOTAD_ERR_CONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, msg));
	}
	CU_ASSERT_PTR_NULL(param_find("window"));
	/* cross-field rules name config keys or eval flags */
	const param_def *at = NULL;
	char msg[256];
	c = d;
	c.alert_k = 5;
	CU_ASSERT_EQUAL(param_check(&c, true, &at, msg, sizeof msg), -1);
	CU_ASSERT_PTR_EQUAL(at, param_find("alert_k"));
	CU_ASSERT_STRING_EQUAL(msg, "--alert-k (5) must not exceed --alert-n (3)");
	CU_ASSERT_EQUAL(param_check(&d, false, &at, msg, sizeof msg), 0);
}

/* The detector section of config/iotad.yaml is what the table writes
 * (`iotad config --defaults`): every key, its default and its help. */
static void test_sample_file_current(void)
{
	char path[1024], *want = NULL;
	size_t len = 0;
	snprintf(path, sizeof path, "%s/../../config/iotad.yaml", test_fixture_dir);
	FILE *f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	static char text[1 << 16];
	size_t got = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[got] = '\0';
	FILE *m = open_memstream(&want, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	param_write_yaml(m);
	fclose(m);
	const char *start = strstr(text, "\ndetector:\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(start);
	start++;
	const char *end = strstr(start, "\n\n");
	size_t have = end ? (size_t)(end - start) + 1 : strlen(start);
	bool same = have == len && !memcmp(start, want, len);
	if (!same)
		printf("\nconfig/iotad.yaml's detector section is out of date; "
		       "`iotad config --defaults` writes:\n%s", want);
	CU_ASSERT_TRUE(same);
	free(want);
}

/* An instance: from the client id by default, or named; it namespaces the
 * status topic unless that is set, and {instance} in topics. */
static void test_instance(void)
{
	iotad_config c;
	char err[512];
	CU_ASSERT_EQUAL_FATAL(load("mqtt:\n  client_id: site-a.1\n", &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(c.instance, "site-a_1");
	CU_ASSERT_STRING_EQUAL(c.status_topic, "iotad/status/site-a_1");
	CU_ASSERT_STRING_EQUAL(c.alert_prefix, "alerts");
	CU_ASSERT_EQUAL_FATAL(load("service:\n  instance: north\ntopics:\n  alerts: a/{instance}\n"
				   "  state: s/{instance}/x\n  status: st\n",
				   &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(c.instance, "north");
	CU_ASSERT_STRING_EQUAL(c.alert_prefix, "a/north");
	CU_ASSERT_STRING_EQUAL(c.state_prefix, "s/north/x");
	CU_ASSERT_STRING_EQUAL(c.status_topic, "st");
	CU_ASSERT_EQUAL(load("service:\n  instance: a/b\n", &c, err, sizeof err), IOTAD_ERR_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "service.instance: 'a/b' must be letters"));
	CU_ASSERT_EQUAL(load("service:\n  instance: \"\"\n", &c, err, sizeof err), IOTAD_ERR_CONFIG);
}

void init_config_tests(void)
{
	CU_pSuite s = CU_add_suite("config", NULL, NULL);
	TEST_ADD(s, test_defaults);
	TEST_ADD(s, test_full_file);
	TEST_ADD(s, test_partial_and_flow);
	TEST_ADD(s, test_errors);
	TEST_ADD(s, test_http_sections);
	TEST_ADD(s, test_federated_section);
	TEST_ADD(s, test_long_string);
	TEST_ADD(s, test_password_env);
	TEST_ADD(s, test_password_file_and_tls);
	TEST_ADD(s, test_files);
	TEST_ADD(s, test_config_det_defaults);
	TEST_ADD(s, test_param_table);
	TEST_ADD(s, test_sample_file_current);
	TEST_ADD(s, test_instance);
}
