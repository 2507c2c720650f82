/* config_keys.c - the keys of the configuration file: every section's key
 * described once with its type and range (the detector section's are
 * params.c's parameter table), and their defaults. */
#include <stdio.h>

#include "config_yaml.h"
#include "iotad/log.h"
#include "iotad/model.h"

/* A key of the file and its default: def for a number, a boolean or the
 * log level, text for a string (NULL: empty). */
typedef struct cfg_key {
	param_def p;
	const char *text;
} cfg_key;

/* A key of a number, a boolean or the log level: its range and default. */
#define KEY(sec, name, ty, f, lo, hi, d)                                                  \
	{{.section = sec, .key = name, .type = ty, .off = offsetof(iotad_config, f),            \
	  .min = lo, .max = hi, .def = d},                                                      \
	 NULL}
/* A text key: its buffer's size and default (NULL: empty). */
#define TEXT(sec, name, f, size, d)                                                       \
	{{.section = sec, .key = name, .type = PARAM_STR, .off = offsetof(iotad_config, f),     \
	  .max = size},                                                                         \
	 d}

/* The keys of every section but detector (whose keys are the detector
 * parameters' table, params.c), with their defaults. */
static const cfg_key keys[] = {
	TEXT("mqtt", "uri", broker_uri, CFG_STR, "tcp://127.0.0.1:1883"),
	TEXT("mqtt", "client_id", client_id, CFG_STR, "iotad"),
	TEXT("service", "instance", instance, CFG_STR, "iotad"),
	TEXT("mqtt", "username", username, CFG_STR, NULL),
	TEXT("mqtt", "password_env", password_env, CFG_STR, "IOTAD_MQTT_PASSWORD"),
	TEXT("mqtt", "password_file", password_file, CFG_PATH, NULL),
	TEXT("mqtt", "tls_ca_file", tls_ca_file, CFG_PATH, NULL),
	TEXT("mqtt", "tls_cert_file", tls_cert_file, CFG_PATH, NULL),
	TEXT("mqtt", "tls_key_file", tls_key_file, CFG_PATH, NULL),
	KEY("mqtt", "tls_verify_hostname", PARAM_BOOL, tls_verify_hostname, 0, 0, 1),
	KEY("mqtt", "keepalive", PARAM_INT, keepalive, 1, 3600, 30),
	KEY("mqtt", "clean_session", PARAM_BOOL, clean_session, 0, 0, 0),
	KEY("mqtt", "max_inflight", PARAM_INT, max_inflight, 1, 65535, 1024),
	TEXT("topics", "telemetry", telemetry_filter, CFG_STR, "telemetry/+"),
	KEY("topics", "device_level", PARAM_INT, device_level, 0, 16, 1),
	TEXT("topics", "alerts", alert_prefix, CFG_STR, "alerts"),
	TEXT("topics", "state", state_prefix, CFG_STR, "state"),
	TEXT("topics", "status", status_topic, CFG_STR, "iotad/status/iotad"),
	TEXT("topics", "control", control_topic, CFG_STR, "iotad/control"),
	KEY("topics", "qos_in", PARAM_INT, qos_in, 0, 1, 1),
	KEY("topics", "qos_out", PARAM_INT, qos_out, 0, 1, 1),
	TEXT("model", "path", model_path, CFG_PATH, NULL),
	KEY("model", "window", PARAM_INT, window, 0, MODEL_MAX_WINDOW, 0),
	KEY("model", "stride", PARAM_INT, stride, 0, MODEL_MAX_WINDOW, 0),
	KEY("model", "fallback", PARAM_BOOL, model_fallback, 0, 0, 0),
	TEXT("detector", "features", features_list, CFG_STR, NULL),
	KEY("service", "max_payload", PARAM_SIZE, max_payload, 16, 16 << 20, 4096),
	KEY("service", "queue_size", PARAM_U32, queue_size, 1, 16 << 20, 8192),
	KEY("service", "scorer_threads", PARAM_U32, scorer_threads, 0, CFG_MAX_SCORERS, 1),
	TEXT("service", "state_file", state_file, CFG_PATH, NULL),
	TEXT("service", "shard", shard, 32, NULL),
	KEY("service", "state_interval", PARAM_DOUBLE, state_interval, 1, 86400, 60),
	TEXT("service", "journal", journal_file, CFG_PATH, NULL),
	KEY("service", "journal_fsync", PARAM_BOOL, journal_fsync, 0, 0, 0),
	KEY("service", "log_level", PARAM_LOGLEVEL, log_level, 0, 0, LOG_INFO),
	TEXT("http", "listen", http_listen, CFG_STR, NULL),
	KEY("http", "max_body", PARAM_SIZE, http_max_body, 64, 64 << 20, 65536),
	KEY("http", "page", PARAM_BOOL, http_page, 0, 0, 1),
	KEY("homeassistant", "enabled", PARAM_BOOL, hass_enabled, 0, 0, 0),
	TEXT("homeassistant", "prefix", hass_prefix, CFG_STR, "homeassistant"),
	TEXT("federated", "prefix", fed_prefix, CFG_STR, "iotad/fl"),
	KEY("federated", "clients", PARAM_INT, fed_clients, 1, 1024, 3),
	KEY("federated", "min_updates", PARAM_INT, fed_min_updates, 1, 1024, 2),
	KEY("federated", "round_timeout", PARAM_DOUBLE, fed_round_timeout, 0.1, 30 * 86400, 300),
	TEXT("federated", "rule", fed_rule, 16, "mean"),
	TEXT("federated", "update_encoding", fed_update_encoding, 16, "float32"),
	KEY("federated", "trim", PARAM_DOUBLE, fed_trim, 0, 0.49, 0.2),
	KEY("federated", "clip", PARAM_DOUBLE, fed_clip, 0, 1e6, 0),
	KEY("federated", "noise", PARAM_DOUBLE, fed_noise, 0, 1000, 0),
	KEY("federated", "dp_delta", PARAM_DOUBLE, fed_dp_delta, 1e-12, 0.1, 1e-5),
	TEXT("federated", "state_file", fed_state_file, CFG_PATH, NULL),
	TEXT("federated", "model_out", fed_model_out, CFG_PATH, NULL),
	KEY("federated", "rounds", PARAM_INT, fed_rounds, 0, 1000000, 0),
	KEY("federated", "enabled", PARAM_BOOL, fed_enabled, 0, 0, 0),
	TEXT("federated", "gateway", fed_gateway, CFG_STR, NULL),
	KEY("federated", "local_epochs", PARAM_INT, fed_local_epochs, 1, 100, 5),
	KEY("federated", "batch", PARAM_INT, fed_batch, 1, 4096, 32),
	KEY("federated", "lr", PARAM_DOUBLE, fed_lr, 1e-9, 1, 1e-4),
	KEY("federated", "max_devices", PARAM_INT, fed_max_devices, 1, 100000, 64),
	KEY("federated", "windows_per_device", PARAM_INT, fed_windows_per_device, 1, 10000, 32),
	KEY("federated", "min_windows", PARAM_INT, fed_min_windows, 1, 1000000, 16),
	KEY("federated", "max_score_ratio", PARAM_DOUBLE, fed_max_score_ratio, 1, 1e6, 1.5),
	KEY("federated", "local_interval", PARAM_DOUBLE, fed_local_interval, 0, 365 * 86400.0, 0),
	KEY("federated", "dp_sgd_clip", PARAM_DOUBLE, fed_dp_sgd_clip, 0, 1e6, 0),
	KEY("federated", "dp_sgd_noise", PARAM_DOUBLE, fed_dp_sgd_noise, 0, 1000, 0),
	TEXT("federated", "threshold", fed_threshold, 16, "gateway"),
	KEY("federated", "holdout", PARAM_DOUBLE, fed_holdout, 0.05, 0.5, 0.2),
	TEXT("federated", "personalize", fed_personalize, 16, "off"),
};

#define N_OWN (sizeof keys / sizeof keys[0])
_Static_assert(N_OWN + PARAM_MAX_DETECTOR <= CFG_KEYS_MAX, "raise CFG_KEYS_MAX");

void config_defaults(iotad_config *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < N_OWN; i++)
		if (keys[i].text)
			snprintf((char *)c + keys[i].p.off, (size_t)keys[i].p.max, "%s", keys[i].text);
		else
			param_set_default(&keys[i].p, c);
	param_defaults(c);
}

const param_def *cfg_key_at(size_t i)
{
	size_t n;
	const param_def *dk = param_detector(&n);
	return i < N_OWN ? &keys[i].p : i - N_OWN < n ? &dk[i - N_OWN] : NULL;
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

