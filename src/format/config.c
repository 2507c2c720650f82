/* config.c - YAML configuration: two levels of mappings (section: key:
 * value), every key described once in a table with its type and range
 * (the detector section's is params.c's parameter table). */
#include "iotad/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "iotad/addr.h"
#include "iotad/log.h"
#include "iotad/model.h"
#include "iotad/models.h"
#include "iotad/params.h"
#include "iotad/topic.h"

#define CFG_MAX_FILE (1 << 20)

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
#define N_KEYS (N_OWN + PARAM_MAX_DETECTOR)

/* Parser state: where each key was set, for duplicate checks and for
 * locating cross-field errors. */
typedef struct cfg_ctx {
	const char *name;
	char *err;
	size_t errlen;
	yaml_mark_t where[N_KEYS];
	bool set[N_KEYS];
	bool models_seen;
} cfg_ctx;

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

/* "name:line:col: message" (mark NULL: "name: message"). Returns err. */
__attribute__((format(printf, 4, 5))) static iotad_err fail(cfg_ctx *x, const yaml_mark_t *mark,
							     iotad_err err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!x->err || x->errlen == 0)
		return err;
	if (mark)
		snprintf(x->err, x->errlen, "%s:%zu:%zu: %s", x->name, mark->line + 1,
			 mark->column + 1, msg);
	else
		snprintf(x->err, x->errlen, "%s: %s", x->name, msg);
	return err;
}

/* fail() for a value of key k: the message is prefixed with "section.key: ". */
__attribute__((format(printf, 4, 5))) static iotad_err fail_key(cfg_ctx *x, const yaml_mark_t *mark,
								 const param_def *k, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return fail(x, mark, IOTAD_ERR_CONFIG, "%s.%s: %s", k->section, k->key, msg);
}

static const char *scalar(const yaml_event_t *ev)
{
	return (const char *)ev->data.scalar.value;
}

static bool is_null(const yaml_event_t *ev)
{
	const char *s = scalar(ev);
	return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0);
}

static const char *event_what(yaml_event_type_t t)
{
	switch (t) {
	case YAML_SEQUENCE_START_EVENT:
		return "a sequence";
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_ALIAS_EVENT:
		return "an alias";
	case YAML_SCALAR_EVENT:
		return "a scalar";
	default:
		return "end of a block";
	}
}

/* Store one scalar value into the config field described by k. */
static iotad_err set_value(cfg_ctx *x, const param_def *k, const yaml_event_t *ev, iotad_config *c)
{
	const char *s = scalar(ev);
	const yaml_mark_t *at = &ev->start_mark;
	char msg[400];

	if (strlen(s) != ev->data.scalar.length)
		return fail_key(x, at, k, "NUL byte in value");
	if (k->type != PARAM_STR && ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return fail_key(x, at, k, "expected an unquoted value, got a quoted string");
	if (k->type == PARAM_STR && is_null(ev))
		s = "";
	if (param_parse(k, s, c, msg, sizeof msg) != 0)
		return fail_key(x, at, k, "%s", msg);
	return IOTAD_OK;
}

/* Key i of the combined table: the own keys, then the detector parameters. */
static const param_def *key_at(size_t i)
{
	size_t n;
	const param_def *dk = param_detector(&n);
	return i < N_OWN ? &keys[i] : i - N_OWN < n ? &dk[i - N_OWN] : NULL;
}

static int find_key(const char *section, const char *name)
{
	const param_def *k;
	for (size_t i = 0; (k = key_at(i)); i++)
		if (strcmp(k->section, section) == 0 && strcmp(k->key, name) == 0)
			return (int)i;
	return -1;
}

static bool known_section(const char *section)
{
	const param_def *k;
	for (size_t i = 0; (k = key_at(i)); i++)
		if (strcmp(k->section, section) == 0)
			return true;
	return false;
}

/* Next event; a YAML syntax error, an anchor or an alias is an error. */
static iotad_err next(cfg_ctx *x, yaml_parser_t *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(p, ev)) {
		yaml_mark_t m = p->problem_mark;
		return fail(x, &m, IOTAD_ERR_PARSE, "YAML syntax error: %s%s%s",
			    p->problem ? p->problem : "malformed input", p->context ? " " : "",
			    p->context ? p->context : "");
	}
	const yaml_char_t *anchor = NULL;
	if (ev->type == YAML_SCALAR_EVENT)
		anchor = ev->data.scalar.anchor;
	else if (ev->type == YAML_MAPPING_START_EVENT)
		anchor = ev->data.mapping_start.anchor;
	else if (ev->type == YAML_SEQUENCE_START_EVENT)
		anchor = ev->data.sequence_start.anchor;
	if (anchor || ev->type == YAML_ALIAS_EVENT) {
		yaml_mark_t m = ev->start_mark;
		yaml_event_delete(ev);
		return fail(x, &m, IOTAD_ERR_CONFIG, "anchors and aliases are not supported");
	}
	return IOTAD_OK;
}

/* The value of a list key (detector.features) given as a YAML sequence of
 * scalars, after its SEQUENCE_START: joined with commas into one scalar
 * event's text for set_value. */
static iotad_err parse_list(cfg_ctx *x, yaml_parser_t *p, const param_def *k, iotad_config *c,
			    const yaml_mark_t *at)
{
	char buf[CFG_STR + 2];
	size_t n = 0;
	yaml_event_t ev;
	iotad_err err;

	buf[0] = '\0';
	for (;;) {
		if ((err = next(x, p, &ev)))
			return err;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type != YAML_SCALAR_EVENT || strchr(scalar(&ev), ',') ||
		    strlen(scalar(&ev)) != ev.data.scalar.length) {
			err = fail_key(x, &ev.start_mark, k, "expected a list of names, got %s",
				       ev.type == YAML_SCALAR_EVENT ? "a name with a comma or NUL"
								    : event_what(ev.type));
			yaml_event_delete(&ev);
			return err;
		}
		int w = snprintf(buf + n, sizeof buf - n, "%s%s", n ? "," : "", scalar(&ev));
		yaml_event_delete(&ev);
		if (w < 0 || (size_t)w >= sizeof buf - n)
			return fail_key(x, at, k, "list longer than %d bytes", CFG_STR - 1);
		n += (size_t)w;
	}
	char msg[400];
	if (param_parse(k, buf, c, msg, sizeof msg) != 0)
		return fail_key(x, at, k, "%s", msg);
	return IOTAD_OK;
}

/* A uri's scheme is tcp://, ssl://, mqtt:// or mqtts:// and a host follows. */
static bool uri_ok(const char *uri)
{
	static const char *const schemes[] = {"tcp://", "ssl://", "mqtt://", "mqtts://"};
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		size_t n = strlen(schemes[i]);
		if (strncmp(uri, schemes[i], n) == 0 && uri[n] != '\0')
			return true;
	}
	return false;
}

static bool uri_tls(const char *uri)
{
	return !strncmp(uri, "ssl://", 6) || !strncmp(uri, "mqtts://", 8);
}

/* mqtt.uri given as a YAML sequence, after its SEQUENCE_START: the broker
 * cluster's nodes, 1..CFG_MAX_URIS distinct uris of one kind (all TLS or
 * none); broker_uri becomes the first. */
static iotad_err parse_uris(cfg_ctx *x, yaml_parser_t *p, iotad_config *c, const yaml_mark_t *at)
{
	yaml_event_t ev;
	iotad_err err = IOTAD_OK;

	c->n_broker_uris = 0;
	for (;;) {
		if ((err = next(x, p, &ev)))
			return err;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		const char *u = ev.type == YAML_SCALAR_EVENT ? scalar(&ev) : NULL;
		int n = c->n_broker_uris;
		if (!u || strlen(u) != ev.data.scalar.length)
			err = fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				   "mqtt.uri: expected a list of uris, got %s",
				   u ? "a value with a NUL byte" : event_what(ev.type));
		else if (n == CFG_MAX_URIS)
			err = fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				   "mqtt.uri: more than %d uris", CFG_MAX_URIS);
		else if (strlen(u) >= CFG_STR)
			err = fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				   "mqtt.uri: '%.40s...' is longer than %d bytes", u, CFG_STR - 1);
		else if (!uri_ok(u))
			err = fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				   "mqtt.uri: '%s' must be tcp://, ssl://, mqtt:// or mqtts:// followed by a host",
				   u);
		else if (n > 0 && uri_tls(u) != uri_tls(c->broker_uris[0]))
			err = fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				   "mqtt.uri: '%s' and '%s' mix TLS and plain connections", u,
				   c->broker_uris[0]);
		for (int i = 0; !err && i < n; i++)
			if (!strcmp(c->broker_uris[i], u))
				err = fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
					   "mqtt.uri: '%s' is listed twice", u);
		if (!err)
			memcpy(c->broker_uris[c->n_broker_uris++], u, strlen(u) + 1);
		yaml_event_delete(&ev);
		if (err)
			return err;
	}
	if (c->n_broker_uris == 0)
		return fail(x, at, IOTAD_ERR_CONFIG, "mqtt.uri: the list is empty");
	memcpy(c->broker_uri, c->broker_uris[0], sizeof c->broker_uri);
	return IOTAD_OK;
}

/* Body of one section, after its MAPPING_START: key: scalar pairs. */
static iotad_err parse_section(cfg_ctx *x, yaml_parser_t *p, const char *section, iotad_config *c)
{
	yaml_event_t kev, vev;
	iotad_err err;

	for (;;) {
		if ((err = next(x, p, &kev)))
			return err;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return IOTAD_OK;
		}
		if (kev.type != YAML_SCALAR_EVENT) {
			err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG, "%s: expected a key, got %s",
				   section, event_what(kev.type));
			yaml_event_delete(&kev);
			return err;
		}
		int i = find_key(section, scalar(&kev));
		if (i < 0)
			err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG, "unknown key '%s' in section %s",
				   scalar(&kev), section);
		else if (x->set[i])
			err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG,
				   "duplicate key %s.%s (first set at line %zu)", section, key_at(i)->key,
				   x->where[i].line + 1);
		if (!err) {
			x->set[i] = true;
			x->where[i] = kev.start_mark;
			err = next(x, p, &vev);
		}
		if (!err && vev.type == YAML_SEQUENCE_START_EVENT &&
		    key_at(i)->off == offsetof(iotad_config, features_list)) {
			err = parse_list(x, p, key_at(i), c, &vev.start_mark);
			yaml_event_delete(&vev);
		} else if (!err && vev.type == YAML_SEQUENCE_START_EVENT &&
			   key_at(i)->off == offsetof(iotad_config, broker_uri)) {
			err = parse_uris(x, p, c, &vev.start_mark);
			yaml_event_delete(&vev);
		} else if (!err && vev.type != YAML_SCALAR_EVENT) {
			err = fail(x, &vev.start_mark, IOTAD_ERR_CONFIG, "%s.%s: expected a value, got %s",
				   section, key_at(i)->key, event_what(vev.type));
			yaml_event_delete(&vev);
		} else if (!err) {
			err = set_value(x, key_at(i), &vev, c);
			yaml_event_delete(&vev);
		}
		yaml_event_delete(&kev);
		if (err)
			return err;
	}
}

/* --- models: a list of entries ------------------------------------------- */

static cfg_mark mark(const yaml_mark_t *m)
{
	return (cfg_mark){(uint32_t)m->line + 1, (uint32_t)m->column + 1};
}

/* A scalar value of an entry key into dst (size n): too long or not a
 * scalar is an error. */
static iotad_err entry_scalar(cfg_ctx *x, const yaml_event_t *v, int idx, const char *key,
			      char *dst, size_t n)
{
	if (v->type != YAML_SCALAR_EVENT)
		return fail(x, &v->start_mark, IOTAD_ERR_CONFIG, "models[%d].%s: expected a value, got %s",
			    idx, key, event_what(v->type));
	const char *s = is_null(v) ? "" : scalar(v);
	if (strlen(s) != v->data.scalar.length || strlen(s) >= n)
		return fail(x, &v->start_mark, IOTAD_ERR_CONFIG,
			    "models[%d].%s: a NUL byte, or longer than %zu bytes", idx, key, n - 1);
	memcpy(dst, s, strlen(s) + 1);
	return IOTAD_OK;
}

/* The detector: mapping of one entry, after its MAPPING_START: the keys are
 * the detector parameters' (values checked once the whole file is read). */
static iotad_err parse_entry_detector(cfg_ctx *x, yaml_parser_t *p, int idx, cfg_model *e)
{
	yaml_event_t kev, vev;
	iotad_err err;
	for (;;) {
		if ((err = next(x, p, &kev)))
			return err;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return IOTAD_OK;
		}
		size_t nd;
		const param_def *dk = param_detector(&nd);
		const param_def *k = kev.type == YAML_SCALAR_EVENT ? param_find(scalar(&kev)) : NULL;
		bool feat = kev.type == YAML_SCALAR_EVENT && !strcmp(scalar(&kev), "features");
		if (feat)
			k = key_at((size_t)find_key("detector", "features"));
		if (!k)
			err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG,
				   "models[%d].detector: unknown key '%s'", idx,
				   kev.type == YAML_SCALAR_EVENT ? scalar(&kev) : event_what(kev.type));
		else if (!strcmp(k->key, "max_devices") || !strcmp(k->key, "evict"))
			err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG,
				   "models[%d].detector.%s: one cap holds the devices of all models: "
				   "set it in the top-level detector: section", idx, k->key);
		for (uint32_t i = 0; !err && i < e->n_sets; i++)
			if (feat ? e->sets[i].key == CFG_MODEL_FEATURES
				 : e->sets[i].key != CFG_MODEL_FEATURES && dk + e->sets[i].key == k)
				err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG,
					   "models[%d].detector: duplicate key %s", idx, k->key);
		if (!err && e->n_sets == CFG_MODEL_SETS_MAX)
			err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG,
				   "models[%d].detector: more than %d keys", idx, CFG_MODEL_SETS_MAX);
		cfg_model_set *set = &e->sets[e->n_sets];
		if (!err && !(err = next(x, p, &vev))) {
			set->key = feat ? CFG_MODEL_FEATURES : (uint16_t)(k - dk);
			set->at = mark(&kev.start_mark);
			if (vev.type == YAML_SEQUENCE_START_EVENT) {
				err = fail(x, &vev.start_mark, IOTAD_ERR_CONFIG,
					   "models[%d].detector.%s: give the names comma-separated",
					   idx, k->key);
			} else {
				err = entry_scalar(x, &vev, idx, k->key, set->value, sizeof set->value);
			}
			yaml_event_delete(&vev);
			if (!err)
				e->n_sets++;
		}
		yaml_event_delete(&kev);
		if (err)
			return err;
	}
}

/* One entry of models:, after its MAPPING_START. */
static iotad_err parse_entry(cfg_ctx *x, yaml_parser_t *p, int idx, cfg_model *e)
{
	static const char *const names[] = {"name", "topic", "device", "path", "window",
					    "detector"};
	bool seen[6] = {false};
	yaml_event_t kev, vev;
	iotad_err err;
	for (;;) {
		if ((err = next(x, p, &kev)))
			return err;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			if (!seen[0])
				return fail(x, &kev.start_mark, IOTAD_ERR_CONFIG,
					    "models[%d]: needs a name", idx);
			return IOTAD_OK;
		}
		int w = -1;
		for (int i = 0; kev.type == YAML_SCALAR_EVENT && i < 6; i++)
			if (!strcmp(scalar(&kev), names[i]))
				w = i;
		if (w < 0)
			err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG,
				   "models[%d]: unknown key '%s' (expected name, topic, device, path, "
				   "window or detector)", idx,
				   kev.type == YAML_SCALAR_EVENT ? scalar(&kev) : event_what(kev.type));
		else if (seen[w])
			err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG, "models[%d]: duplicate key %s",
				   idx, names[w]);
		if (!err) {
			seen[w] = true;
			err = next(x, p, &vev);
		}
		if (!err) {
			cfg_mark at = mark(&kev.start_mark);
			char num[32];
			switch (w) {
			case 0:
				err = entry_scalar(x, &vev, idx, "name", e->name, sizeof e->name);
				break;
			case 1:
				e->at_topic = at;
				err = entry_scalar(x, &vev, idx, "topic", e->topic, sizeof e->topic);
				break;
			case 2:
				e->at_device = at;
				err = entry_scalar(x, &vev, idx, "device", e->device, sizeof e->device);
				break;
			case 3:
				e->at_path = at;
				err = entry_scalar(x, &vev, idx, "path", e->path, sizeof e->path);
				break;
			case 4:
				err = entry_scalar(x, &vev, idx, "window", num, sizeof num);
				char *end = NULL;
				long v = err ? 0 : strtol(num, &end, 10);
				if (!err && (end == num || *end || v < 0 || v > MODEL_MAX_WINDOW))
					err = fail(x, &vev.start_mark, IOTAD_ERR_CONFIG,
						   "models[%d].window: expected 0..%d, got '%s'", idx,
						   MODEL_MAX_WINDOW, num);
				e->window = (int)v;
				break;
			default:
				if (vev.type == YAML_MAPPING_START_EVENT)
					err = parse_entry_detector(x, p, idx, e);
				else if (!(vev.type == YAML_SCALAR_EVENT && is_null(&vev)))
					err = fail(x, &vev.start_mark, IOTAD_ERR_CONFIG,
						   "models[%d].detector: expected a mapping, got %s", idx,
						   event_what(vev.type));
				break;
			}
			yaml_event_delete(&vev);
		}
		yaml_event_delete(&kev);
		if (err)
			return err;
	}
}

/* The models: list, after its SEQUENCE_START. */
static iotad_err parse_models(cfg_ctx *x, yaml_parser_t *p, iotad_config *c)
{
	yaml_event_t ev;
	iotad_err err;
	for (;;) {
		if ((err = next(x, p, &ev)))
			return err;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return IOTAD_OK;
		}
		if (ev.type != YAML_MAPPING_START_EVENT)
			err = fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				   "models: expected a mapping per model, got %s", event_what(ev.type));
		else if (c->n_models == CFG_MODELS_MAX)
			err = fail(x, &ev.start_mark, IOTAD_ERR_CONFIG, "models: more than %d entries",
				   CFG_MODELS_MAX);
		if (!err) {
			cfg_model *e = &c->models[c->n_models];
			memset(e, 0, sizeof *e);
			e->at = mark(&ev.start_mark);
			err = parse_entry(x, p, (int)c->n_models, e);
			c->n_models++;
		}
		yaml_event_delete(&ev);
		if (err)
			return err;
	}
}

/* Body of the top-level mapping: section: mapping pairs. */
static iotad_err parse_top(cfg_ctx *x, yaml_parser_t *p, iotad_config *c)
{
	char seen[12][16] = {{0}};
	int n_seen = 0;
	yaml_event_t kev, vev;
	iotad_err err;

	for (;;) {
		if ((err = next(x, p, &kev)))
			return err;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return IOTAD_OK;
		}
		if (kev.type == YAML_SCALAR_EVENT && !strcmp(scalar(&kev), "models")) {
			if (x->models_seen)
				err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG, "duplicate section models");
			x->models_seen = true;
			if (!err)
				err = next(x, p, &vev);
			if (!err) {
				if (vev.type == YAML_SEQUENCE_START_EVENT)
					err = parse_models(x, p, c);
				else if (!(vev.type == YAML_SCALAR_EVENT && is_null(&vev)))
					err = fail(x, &vev.start_mark, IOTAD_ERR_CONFIG,
						   "models: expected a list of models, got %s",
						   event_what(vev.type));
				yaml_event_delete(&vev);
			}
			yaml_event_delete(&kev);
			if (err)
				return err;
			continue;
		}
		if (kev.type != YAML_SCALAR_EVENT || !known_section(scalar(&kev))) {
			if (kev.type == YAML_SCALAR_EVENT)
				err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG,
					   "unknown section '%s' (expected mqtt, topics, model, models, detector, service, http, homeassistant or federated)",
					   scalar(&kev));
			else
				err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG,
					   "expected a section name, got %s", event_what(kev.type));
			yaml_event_delete(&kev);
			return err;
		}
		for (int i = 0; i < n_seen && !err; i++)
			if (strcmp(seen[i], scalar(&kev)) == 0)
				err = fail(x, &kev.start_mark, IOTAD_ERR_CONFIG, "duplicate section %s",
					   seen[i]);
		if (!err && n_seen < 12)
			snprintf(seen[n_seen++], sizeof seen[0], "%s", scalar(&kev));
		if (!err)
			err = next(x, p, &vev);
		if (!err) {
			if (vev.type == YAML_MAPPING_START_EVENT)
				err = parse_section(x, p, scalar(&kev), c);
			else if (!(vev.type == YAML_SCALAR_EVENT && is_null(&vev)))
				err = fail(x, &vev.start_mark, IOTAD_ERR_CONFIG,
					   "section %s: expected a mapping of keys, got %s", scalar(&kev),
					   event_what(vev.type));
			yaml_event_delete(&vev);
		}
		yaml_event_delete(&kev);
		if (err)
			return err;
	}
}

/* The stream: empty, or one document holding a mapping (or nothing). */
static iotad_err parse_stream(cfg_ctx *x, yaml_parser_t *p, iotad_config *c)
{
	yaml_event_t ev;
	iotad_err err;
	int docs = 0;

	if ((err = next(x, p, &ev)))
		return err;
	yaml_event_delete(&ev); /* STREAM_START */
	for (;;) {
		if ((err = next(x, p, &ev)))
			return err;
		yaml_event_type_t t = ev.type;
		yaml_mark_t at = ev.start_mark;
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			return IOTAD_OK;
		if (t != YAML_DOCUMENT_START_EVENT)
			return fail(x, &at, IOTAD_ERR_CONFIG, "malformed YAML stream");
		if (++docs > 1)
			return fail(x, &at, IOTAD_ERR_CONFIG, "only one YAML document is allowed");
		if ((err = next(x, p, &ev)))
			return err;
		t = ev.type;
		at = ev.start_mark;
		bool null_doc = t == YAML_SCALAR_EVENT && is_null(&ev);
		yaml_event_delete(&ev);
		if (t == YAML_MAPPING_START_EVENT)
			err = parse_top(x, p, c);
		else if (!null_doc)
			err = fail(x, &at, IOTAD_ERR_CONFIG,
				   "expected a mapping of sections at top level, got %s", event_what(t));
		if (err)
			return err;
		if ((err = next(x, p, &ev)))
			return err;
		yaml_event_delete(&ev); /* DOCUMENT_END */
	}
}

static const yaml_mark_t *mark_of(const cfg_ctx *x, const char *section, const char *name)
{
	int i = find_key(section, name);
	return i >= 0 && x->set[i] ? &x->where[i] : NULL;
}

/* The password from the first line of mqtt.password_file (a trailing
 * newline and carriage return are not part of it). Never echoes it. */
static iotad_err read_password_file(cfg_ctx *x, iotad_config *c)
{
	const yaml_mark_t *at = mark_of(x, "mqtt", "password_file");
	FILE *f = fopen(c->password_file, "rb");
	if (!f)
		return fail(x, at, IOTAD_ERR_CONFIG, "mqtt.password_file: cannot open '%s': %s",
			    c->password_file, strerror(errno));
	char buf[CFG_STR + 2];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	bool bad = ferror(f);
	fclose(f);
	buf[n] = '\0';
	char *eol = strpbrk(buf, "\r\n");
	bool cut = eol != NULL;
	if (eol)
		*eol = '\0';
	size_t len = strlen(buf);
	iotad_err rc = IOTAD_OK;
	if (bad)
		rc = fail(x, at, IOTAD_ERR_CONFIG, "mqtt.password_file: read error on '%s'",
			  c->password_file);
	else if (len != (cut ? (size_t)(eol - buf) : n))
		rc = fail(x, at, IOTAD_ERR_CONFIG, "mqtt.password_file: '%s' holds a NUL byte",
			  c->password_file);
	else if (len == 0)
		rc = fail(x, at, IOTAD_ERR_CONFIG, "mqtt.password_file: '%s' is empty",
			  c->password_file);
	else if (len >= sizeof c->password)
		rc = fail(x, at, IOTAD_ERR_CONFIG,
			  "mqtt.password_file: the first line of '%s' is longer than %zu bytes",
			  c->password_file, sizeof c->password - 1);
	else
		memcpy(c->password, buf, len + 1);
	explicit_bzero(buf, sizeof buf);
	return rc;
}

/* detector.features: comma-separated names (spaces around them dropped),
 * each a non-empty name shorter than MODEL_NAME_MAX, not ts or values,
 * none twice, at most MODEL_MAX_FEATURES. */
static iotad_err check_features(cfg_ctx *x, iotad_config *c)
{
	const yaml_mark_t *at = mark_of(x, "detector", "features");
	char buf[CFG_STR];
	c->n_features = 0;
	if (!c->features_list[0])
		return IOTAD_OK;
	snprintf(buf, sizeof buf, "%s", c->features_list);
	char *s = buf;
	for (;;) {
		char *end = strchr(s, ',');
		if (end)
			*end = '\0';
		while (*s == ' ')
			s++;
		size_t len = strlen(s);
		while (len && s[len - 1] == ' ')
			s[--len] = '\0';
		if (!len)
			return fail(x, at, IOTAD_ERR_CONFIG, "detector.features: an empty name in '%s'",
				    c->features_list);
		if (len >= MODEL_NAME_MAX)
			return fail(x, at, IOTAD_ERR_CONFIG,
				    "detector.features: '%s' is longer than %d bytes", s,
				    MODEL_NAME_MAX - 1);
		if (!strcmp(s, "ts") || !strcmp(s, "values"))
			return fail(x, at, IOTAD_ERR_CONFIG,
				    "detector.features: '%s' is a reserved field of the payload", s);
		for (uint32_t i = 0; i < c->n_features; i++)
			if (!strcmp(c->features[i], s))
				return fail(x, at, IOTAD_ERR_CONFIG,
					    "detector.features: '%s' is listed twice", s);
		if (c->n_features == MODEL_MAX_FEATURES)
			return fail(x, at, IOTAD_ERR_CONFIG,
				    "detector.features: more than %d names", MODEL_MAX_FEATURES);
		memcpy(c->features[c->n_features++], s, len + 1);
		if (!end)
			return IOTAD_OK;
		s = end + 1;
	}
}

/* service.shard: "k/N" with 1 <= N <= 65536 and 0 <= k < N, or empty (off). */
static iotad_err check_shard(cfg_ctx *x, iotad_config *c)
{
	c->shard_index = c->shard_count = 0;
	if (!c->shard[0])
		return IOTAD_OK;
	const char *s = c->shard;
	char *end;
	long k = -1, n = 0;
	if (*s >= '0' && *s <= '9') {
		k = strtol(s, &end, 10);
		if (*end == '/' && end[1] >= '0' && end[1] <= '9') {
			s = end + 1;
			n = strtol(s, &end, 10);
			if (*end != '\0')
				n = 0;
		}
	}
	if (n < 1 || n > 65536 || k < 0 || k >= n)
		return fail(x, mark_of(x, "service", "shard"), IOTAD_ERR_CONFIG,
			    "service.shard: '%s' must be k/N with 1 <= N <= 65536 and 0 <= k < N "
			    "(this instance's shard of N)", c->shard);
	c->shard_index = (uint32_t)k;
	c->shard_count = (uint32_t)n;
	return IOTAD_OK;
}

/* Rules across fields, then the password from its file or the environment. */
static iotad_err check(cfg_ctx *x, iotad_config *c)
{
	iotad_err err;

	if (!uri_ok(c->broker_uri))
		return fail(x, mark_of(x, "mqtt", "uri"), IOTAD_ERR_CONFIG,
			    "mqtt.uri: '%s' must be tcp://, ssl://, mqtt:// or mqtts:// followed by a host",
			    c->broker_uri);
	if (!c->client_id[0])
		return fail(x, mark_of(x, "mqtt", "client_id"), IOTAD_ERR_CONFIG,
			    "mqtt.client_id: must not be empty");
	/* the instance: named, or the client id's; the status topic: set, or
	 * iotad/status/{instance} */
	if (!mark_of(x, "service", "instance"))
		topic_instance_from(c->instance, sizeof c->instance, c->client_id);
	else if (!topic_instance_ok(c->instance))
		return fail(x, mark_of(x, "service", "instance"), IOTAD_ERR_CONFIG,
			    "service.instance: '%s' must be letters, digits, '_' and '-' only",
			    c->instance);
	if (!mark_of(x, "topics", "status"))
		snprintf(c->status_topic, sizeof c->status_topic, "iotad/status/{instance}");
	struct {
		const char *name;
		char *value;
	} named[] = {{"alerts", c->alert_prefix}, {"state", c->state_prefix},
		     {"status", c->status_topic}, {"control", c->control_topic}};
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
		if (topic_expand_instance(named[i].value, CFG_STR, c->instance) != 0)
			return fail(x, mark_of(x, "topics", named[i].name), IOTAD_ERR_CONFIG,
				    "topics.%s: too long with {instance} replaced by '%s'",
				    named[i].name, c->instance);
	if (!topic_filter_ok(c->telemetry_filter))
		return fail(x, mark_of(x, "topics", "telemetry"), IOTAD_ERR_CONFIG,
			    "topics.telemetry: '%s' is not a valid MQTT topic filter",
			    c->telemetry_filter);
	if (!topic_filter_has_level(c->telemetry_filter, c->device_level))
		return fail(x, mark_of(x, "topics", "device_level"), IOTAD_ERR_CONFIG,
			    "topics.device_level: %d is beyond the levels of '%s'",
			    c->device_level, c->telemetry_filter);
	struct {
		const char *name;
		const char *value;
	} plain[] = {{"alerts", c->alert_prefix}, {"state", c->state_prefix},
		     {"status", c->status_topic}};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		if (!topic_prefix_ok(plain[i].value))
			return fail(x, mark_of(x, "topics", plain[i].name), IOTAD_ERR_CONFIG,
				    "topics.%s: '%s' must be a non-empty topic without '+', '#', control bytes, a leading '$' or a trailing '/'",
				    plain[i].name, plain[i].value);
	const char *ct = c->control_topic;
	if (*ct && !topic_prefix_ok(ct))
		return fail(x, mark_of(x, "topics", "control"), IOTAD_ERR_CONFIG,
			    "topics.control: '%s' must be a topic without '+', '#', control bytes, a leading '$' or a trailing '/' (empty: off)",
			    ct);
	char host[64], why[200];
	uint16_t port;
	if (c->http_listen[0] &&
	    addr_parse_listen(c->http_listen, host, sizeof host, &port, why, sizeof why) != 0)
		return fail(x, mark_of(x, "http", "listen"), IOTAD_ERR_CONFIG, "http.listen: %s", why);
	if (c->hass_enabled && !topic_prefix_ok(c->hass_prefix))
		return fail(x, mark_of(x, "homeassistant", "prefix"), IOTAD_ERR_CONFIG,
			    "homeassistant.prefix: '%s' must be a non-empty topic without '+', '#', control bytes, a leading '$' or a trailing '/'",
			    c->hass_prefix);
	if ((err = check_features(x, c)) != IOTAD_OK)
		return err;
	if ((err = check_shard(x, c)) != IOTAD_OK)
		return err;
	const char *fp = c->fed_prefix;
	if (!*fp || strpbrk(fp, "+#") || fp[strlen(fp) - 1] == '/')
		return fail(x, mark_of(x, "federated", "prefix"), IOTAD_ERR_CONFIG,
			    "federated.prefix: '%s' must be a non-empty topic without '+', '#' or a trailing '/'",
			    fp);
	if (c->fed_min_updates > c->fed_clients)
		return fail(x, mark_of(x, "federated", "min_updates"), IOTAD_ERR_CONFIG,
			    "federated.min_updates: %d is more than federated.clients (%d)",
			    c->fed_min_updates, c->fed_clients);
	if (strcmp(c->fed_rule, "mean") && strcmp(c->fed_rule, "median") &&
	    strcmp(c->fed_rule, "trimmed"))
		return fail(x, mark_of(x, "federated", "rule"), IOTAD_ERR_CONFIG,
			    "federated.rule: expected mean, median or trimmed, got '%s'", c->fed_rule);
	if (c->fed_noise > 0 && (strcmp(c->fed_rule, "mean") || !(c->fed_clip > 0)))
		return fail(x, mark_of(x, "federated", "noise"), IOTAD_ERR_CONFIG,
			    "federated.noise: DP-FedAvg needs rule mean and a clip > 0 (the noise is scaled to the clip)");
	if (c->fed_dp_sgd_noise > 0 && !(c->fed_dp_sgd_clip > 0))
		return fail(x, mark_of(x, "federated", "dp_sgd_noise"), IOTAD_ERR_CONFIG,
			    "federated.dp_sgd_noise: DP-SGD needs federated.dp_sgd_clip > 0 (the noise is scaled to the clip)");
	if (strcmp(c->fed_update_encoding, "float32") && strcmp(c->fed_update_encoding, "int8"))
		return fail(x, mark_of(x, "federated", "update_encoding"), IOTAD_ERR_CONFIG,
			    "federated.update_encoding: expected float32 or int8, got '%s'",
			    c->fed_update_encoding);
	const char *gw = c->fed_gateway[0] ? c->fed_gateway : c->client_id;
	size_t gl = strlen(gw);
	bool gw_ok = gl > 0 && gl < 64;
	for (size_t i = 0; i < gl && gw_ok; i++)
		gw_ok = (gw[i] >= 'a' && gw[i] <= 'z') || (gw[i] >= 'A' && gw[i] <= 'Z') ||
			(gw[i] >= '0' && gw[i] <= '9') || strchr("-_.", gw[i]);
	if (c->fed_enabled && c->scorer_threads != 1)
		return fail(x, mark_of(x, "service", "scorer_threads"), IOTAD_ERR_CONFIG,
			    "service.scorer_threads: federated learning runs with one scorer thread "
			    "(got %u)", c->scorer_threads);
	if (c->n_models && c->scorer_threads != 1)
		return fail(x, mark_of(x, "service", "scorer_threads"), IOTAD_ERR_CONFIG,
			    "service.scorer_threads: a models: list runs with one scorer thread "
			    "(got %u)", c->scorer_threads);
	if (c->journal_file[0] && c->scorer_threads != 1)
		return fail(x, mark_of(x, "service", "scorer_threads"), IOTAD_ERR_CONFIG,
			    "service.scorer_threads: service.journal runs with one scorer thread "
			    "(got %u)", c->scorer_threads);
	if (c->fed_enabled && !gw_ok)
		return fail(x, mark_of(x, "federated", c->fed_gateway[0] ? "gateway" : "enabled"),
			    IOTAD_ERR_CONFIG,
			    "federated.gateway: '%s' must be 1..63 letters, digits, '-', '_' or '.' (empty: mqtt.client_id)",
			    gw);
	const param_def *bad;
	char msg[300];
	if (param_check(c, false, &bad, msg, sizeof msg) != 0)
		return fail(x, mark_of(x, bad->section, bad->key), IOTAD_ERR_CONFIG, "%s", msg);
	if (c->n_models && c->model_path[0])
		return fail(x, mark_of(x, "model", "path"), IOTAD_ERR_CONFIG,
			    "model.path: give one model here or a models: list, not both");
	if (c->n_models && models_check(x->name, c, x->err, x->errlen) != IOTAD_OK)
		return IOTAD_ERR_CONFIG;

	bool tls_uri = uri_tls(c->broker_uri);
	const char *tls_key = c->tls_ca_file[0] ? "tls_ca_file" : c->tls_cert_file[0] ? "tls_cert_file" :
			      c->tls_key_file[0] ? "tls_key_file" : NULL;
	if (tls_key && !tls_uri)
		return fail(x, mark_of(x, "mqtt", tls_key), IOTAD_ERR_CONFIG,
			    "mqtt.%s: TLS files need an ssl:// or mqtts:// uri (uri is '%s')", tls_key,
			    c->broker_uri);
	if (c->tls_key_file[0] && !c->tls_cert_file[0])
		return fail(x, mark_of(x, "mqtt", "tls_key_file"), IOTAD_ERR_CONFIG,
			    "mqtt.tls_key_file: needs mqtt.tls_cert_file (the client certificate)");
	static const char *const tls_files[] = {"tls_ca_file", "tls_cert_file", "tls_key_file"};
	const char *tls_paths[] = {c->tls_ca_file, c->tls_cert_file, c->tls_key_file};
	for (size_t i = 0; i < 3; i++)
		if (tls_paths[i][0] && access(tls_paths[i], R_OK) != 0)
			return fail(x, mark_of(x, "mqtt", tls_files[i]), IOTAD_ERR_CONFIG,
				    "mqtt.%s: cannot read '%s': %s", tls_files[i], tls_paths[i],
				    strerror(errno));

	c->password[0] = '\0';
	if (c->password_file[0])
		return read_password_file(x, c);
	if (c->password_env[0]) {
		const char *pw = getenv(c->password_env);
		const yaml_mark_t *at = mark_of(x, "mqtt", "password_env");
		if (!at)
			at = mark_of(x, "mqtt", "username");
		if (!pw && c->username[0])
			return fail(x, at, IOTAD_ERR_CONFIG,
				    "mqtt.password_env: environment variable %s is not set (username '%s' needs a password)",
				    c->password_env, c->username);
		if (pw && strlen(pw) >= sizeof c->password)
			return fail(x, at, IOTAD_ERR_CONFIG,
				    "mqtt.password_env: the value of %s is longer than %zu bytes",
				    c->password_env, sizeof c->password - 1);
		if (pw)
			memcpy(c->password, pw, strlen(pw) + 1);
	}
	return IOTAD_OK;
}

iotad_err config_load_string(const char *name, const char *yaml, size_t len, iotad_config *c,
			     char *err, size_t errlen)
{
	iotad_config tmp;
	cfg_ctx ctx = {0}, *x = &ctx;
	yaml_parser_t p;
	iotad_err rc;

	x->name = name ? name : "<config>";
	x->err = err;
	x->errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	if (!yaml || !c)
		return IOTAD_ERR_INVAL;
	config_defaults(&tmp);
	if (!yaml_parser_initialize(&p))
		return IOTAD_ERR_NOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
	rc = parse_stream(x, &p, &tmp);
	yaml_parser_delete(&p);
	if (!rc)
		rc = check(x, &tmp);
	if (!rc)
		*c = tmp;
	explicit_bzero(tmp.password, sizeof tmp.password);
	return rc;
}

iotad_err config_load(const char *path, iotad_config *c, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!path || !c)
		return IOTAD_ERR_INVAL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open config file: %s", path, strerror(e));
		return e == ENOENT ? IOTAD_ERR_NOTFOUND : IOTAD_ERR_IO;
	}
	char *buf = malloc(CFG_MAX_FILE + 1);
	size_t n = buf ? fread(buf, 1, CFG_MAX_FILE + 1, f) : 0;
	bool bad = buf && ferror(f);
	fclose(f);
	if (!buf)
		return IOTAD_ERR_NOMEM;
	iotad_err rc = IOTAD_ERR_IO;
	if (bad) {
		if (err && errlen)
			snprintf(err, errlen, "%s: read error", path);
	} else if (n > CFG_MAX_FILE) {
		if (err && errlen)
			snprintf(err, errlen, "%s: larger than %d bytes", path, CFG_MAX_FILE);
		rc = IOTAD_ERR_RANGE;
	} else {
		rc = config_load_string(path, buf, n, c, err, errlen);
	}
	free(buf);
	return rc;
}
