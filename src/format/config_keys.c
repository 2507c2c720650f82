/* config_keys.c - the keys of the configuration file: every section's key
 * described once with its type and range (the detector section's are
 * params.c's parameter table), and their defaults. */
#include <stdio.h>

#include "config_yaml.h"
#include "iotad/log.h"
#include "iotad/model.h"

#define KEY(sec, name, ty, f, lo, hi)                                                     \
	{.section = sec, .key = name, .type = ty, .off = offsetof(iotad_config, f), .min = lo,  \
	 .max = hi}

/* The keys of every section but detector (whose keys are the detector
 * parameters' table, params.c). */
static const param_def keys[] = {
	KEY("mqtt", "uri", PARAM_STR, broker_uri, 0, CFG_STR),
	KEY("mqtt", "client_id", PARAM_STR, client_id, 0, CFG_STR),
	KEY("service", "instance", PARAM_STR, instance, 0, CFG_STR),
	KEY("mqtt", "username", PARAM_STR, username, 0, CFG_STR),
	KEY("mqtt", "password_env", PARAM_STR, password_env, 0, CFG_STR),
	KEY("mqtt", "password_file", PARAM_STR, password_file, 0, CFG_PATH),
	KEY("mqtt", "tls_ca_file", PARAM_STR, tls_ca_file, 0, CFG_PATH),
	KEY("mqtt", "tls_cert_file", PARAM_STR, tls_cert_file, 0, CFG_PATH),
	KEY("mqtt", "tls_key_file", PARAM_STR, tls_key_file, 0, CFG_PATH),
	KEY("mqtt", "tls_verify_hostname", PARAM_BOOL, tls_verify_hostname, 0, 0),
	KEY("mqtt", "keepalive", PARAM_INT, keepalive, 1, 3600),
	KEY("mqtt", "clean_session", PARAM_BOOL, clean_session, 0, 0),
	KEY("mqtt", "max_inflight", PARAM_INT, max_inflight, 1, 65535),
	KEY("topics", "telemetry", PARAM_STR, telemetry_filter, 0, CFG_STR),
	KEY("topics", "device_level", PARAM_INT, device_level, 0, 16),
	KEY("topics", "alerts", PARAM_STR, alert_prefix, 0, CFG_STR),
	KEY("topics", "state", PARAM_STR, state_prefix, 0, CFG_STR),
	KEY("topics", "status", PARAM_STR, status_topic, 0, CFG_STR),
	KEY("topics", "control", PARAM_STR, control_topic, 0, CFG_STR),
	KEY("topics", "qos_in", PARAM_INT, qos_in, 0, 1),
	KEY("topics", "qos_out", PARAM_INT, qos_out, 0, 1),
	KEY("model", "path", PARAM_STR, model_path, 0, CFG_PATH),
	KEY("model", "window", PARAM_INT, window, 0, MODEL_MAX_WINDOW),
	KEY("model", "stride", PARAM_INT, stride, 0, MODEL_MAX_WINDOW),
	KEY("model", "fallback", PARAM_BOOL, model_fallback, 0, 0),
	KEY("detector", "features", PARAM_STR, features_list, 0, CFG_STR),
	KEY("service", "max_payload", PARAM_SIZE, max_payload, 16, 16 << 20),
	KEY("service", "queue_size", PARAM_U32, queue_size, 1, 16 << 20),
	KEY("service", "scorer_threads", PARAM_U32, scorer_threads, 0, CFG_MAX_SCORERS),
	KEY("service", "state_file", PARAM_STR, state_file, 0, CFG_PATH),
	KEY("service", "shard", PARAM_STR, shard, 0, 32),
	KEY("service", "state_interval", PARAM_DOUBLE, state_interval, 1, 86400),
	KEY("service", "journal", PARAM_STR, journal_file, 0, CFG_PATH),
	KEY("service", "journal_fsync", PARAM_BOOL, journal_fsync, 0, 0),
	KEY("service", "log_level", PARAM_LOGLEVEL, log_level, 0, 0),
	KEY("http", "listen", PARAM_STR, http_listen, 0, CFG_STR),
	KEY("http", "max_body", PARAM_SIZE, http_max_body, 64, 64 << 20),
	KEY("http", "page", PARAM_BOOL, http_page, 0, 0),
	KEY("homeassistant", "enabled", PARAM_BOOL, hass_enabled, 0, 0),
	KEY("homeassistant", "prefix", PARAM_STR, hass_prefix, 0, CFG_STR),
	KEY("federated", "prefix", PARAM_STR, fed_prefix, 0, CFG_STR),
	KEY("federated", "clients", PARAM_INT, fed_clients, 1, 1024),
	KEY("federated", "min_updates", PARAM_INT, fed_min_updates, 1, 1024),
	KEY("federated", "round_timeout", PARAM_DOUBLE, fed_round_timeout, 0.1, 30 * 86400),
	KEY("federated", "rule", PARAM_STR, fed_rule, 0, 16),
	KEY("federated", "update_encoding", PARAM_STR, fed_update_encoding, 0, 16),
	KEY("federated", "trim", PARAM_DOUBLE, fed_trim, 0, 0.49),
	KEY("federated", "clip", PARAM_DOUBLE, fed_clip, 0, 1e6),
	KEY("federated", "noise", PARAM_DOUBLE, fed_noise, 0, 1000),
	KEY("federated", "dp_delta", PARAM_DOUBLE, fed_dp_delta, 1e-12, 0.1),
	KEY("federated", "state_file", PARAM_STR, fed_state_file, 0, CFG_PATH),
	KEY("federated", "model_out", PARAM_STR, fed_model_out, 0, CFG_PATH),
	KEY("federated", "rounds", PARAM_INT, fed_rounds, 0, 1000000),
	KEY("federated", "enabled", PARAM_BOOL, fed_enabled, 0, 0),
	KEY("federated", "gateway", PARAM_STR, fed_gateway, 0, CFG_STR),
	KEY("federated", "local_epochs", PARAM_INT, fed_local_epochs, 1, 100),
	KEY("federated", "batch", PARAM_INT, fed_batch, 1, 4096),
	KEY("federated", "lr", PARAM_DOUBLE, fed_lr, 1e-9, 1),
	KEY("federated", "max_devices", PARAM_INT, fed_max_devices, 1, 100000),
	KEY("federated", "windows_per_device", PARAM_INT, fed_windows_per_device, 1, 10000),
	KEY("federated", "min_windows", PARAM_INT, fed_min_windows, 1, 1000000),
	KEY("federated", "max_score_ratio", PARAM_DOUBLE, fed_max_score_ratio, 1, 1e6),
	KEY("federated", "local_interval", PARAM_DOUBLE, fed_local_interval, 0, 365 * 86400.0),
	KEY("federated", "dp_sgd_clip", PARAM_DOUBLE, fed_dp_sgd_clip, 0, 1e6),
	KEY("federated", "dp_sgd_noise", PARAM_DOUBLE, fed_dp_sgd_noise, 0, 1000),
};

#define N_OWN (sizeof keys / sizeof keys[0])
_Static_assert(N_OWN + PARAM_MAX_DETECTOR <= CFG_KEYS_MAX, "raise CFG_KEYS_MAX");

void config_defaults(iotad_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->broker_uri, sizeof c->broker_uri, "tcp://127.0.0.1:1883");
	snprintf(c->client_id, sizeof c->client_id, "iotad");
	snprintf(c->password_env, sizeof c->password_env, "IOTAD_MQTT_PASSWORD");
	c->tls_verify_hostname = true;
	c->keepalive = 30;
	c->clean_session = false;
	c->max_inflight = 1024;
	snprintf(c->telemetry_filter, sizeof c->telemetry_filter, "telemetry/+");
	c->device_level = 1;
	snprintf(c->alert_prefix, sizeof c->alert_prefix, "alerts");
	snprintf(c->state_prefix, sizeof c->state_prefix, "state");
	snprintf(c->instance, sizeof c->instance, "iotad");
	snprintf(c->status_topic, sizeof c->status_topic, "iotad/status/iotad");
	snprintf(c->control_topic, sizeof c->control_topic, "iotad/control");
	c->qos_in = 1;
	c->qos_out = 1;
	c->model_path[0] = '\0'; /* zero-config */
	c->window = 0;
	c->stride = 0;
	param_defaults(c);
	c->max_payload = 4096;
	c->queue_size = 65536;
	c->scorer_threads = 1;
	c->state_interval = 60;
	c->log_level = LOG_INFO;
	c->http_max_body = 65536;
	c->http_page = true;
	snprintf(c->hass_prefix, sizeof c->hass_prefix, "homeassistant");
	snprintf(c->fed_prefix, sizeof c->fed_prefix, "iotad/fl");
	c->fed_clients = 3;
	c->fed_min_updates = 2;
	c->fed_round_timeout = 300;
	snprintf(c->fed_rule, sizeof c->fed_rule, "mean");
	snprintf(c->fed_update_encoding, sizeof c->fed_update_encoding, "float32");
	c->fed_trim = 0.2;
	c->fed_dp_delta = 1e-5;
	c->fed_local_epochs = 5;
	c->fed_batch = 32;
	c->fed_lr = 1e-4;
	c->fed_max_devices = 64;
	c->fed_windows_per_device = 32;
	c->fed_min_windows = 16;
	c->fed_max_score_ratio = 1.5;
}

const param_def *cfg_key_at(size_t i)
{
	size_t n;
	const param_def *dk = param_detector(&n);
	return i < N_OWN ? &keys[i] : i - N_OWN < n ? &dk[i - N_OWN] : NULL;
}

int cfg_find_key(const char *section, const char *name)
{
	const param_def *k;
	for (size_t i = 0; (k = cfg_key_at(i)); i++)
		if (strcmp(k->section, section) == 0 && strcmp(k->key, name) == 0)
			return (int)i;
	return -1;
}

bool cfg_known_section(const char *section)
{
	const param_def *k;
	for (size_t i = 0; (k = cfg_key_at(i)); i++)
		if (strcmp(k->section, section) == 0)
			return true;
	return false;
}

