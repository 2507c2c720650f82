/* config_check.c - the rules of the configuration across its fields, checked
 * once the whole file is read (each message points at the key at fault),
 * and the MQTT password from its file or the environment. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config_yaml.h"
#include "iotad/addr.h"
#include "iotad/models.h"
#include "iotad/topic.h"

/* A uri's scheme is tcp://, ssl://, mqtt:// or mqtts:// and a host follows. */
bool cfg_uri_ok(const char *uri)
{
	static const char *const schemes[] = {"tcp://", "ssl://", "mqtt://", "mqtts://"};
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		size_t n = strlen(schemes[i]);
		if (strncmp(uri, schemes[i], n) == 0 && uri[n] != '\0')
			return true;
	}
	return false;
}

bool cfg_uri_tls(const char *uri)
{
	return !strncmp(uri, "ssl://", 6) || !strncmp(uri, "mqtts://", 8);
}

static const yaml_mark_t *mark_of(const cfg_ctx *x, const char *section, const char *name)
{
	int i = cfg_find_key(section, name);
	return i >= 0 && x->set[i] ? &x->where[i] : NULL;
}

/* The password from the first line of mqtt.password_file (a trailing
 * newline and carriage return are not part of it). Never echoes it. */
static iotad_err read_password_file(cfg_ctx *x, iotad_config *c)
{
	const yaml_mark_t *at = mark_of(x, "mqtt", "password_file");
	FILE *f = fopen(c->password_file, "rb");
	if (!f)
		return cfg_fail(x, at, IOTAD_ERR_CONFIG, "mqtt.password_file: cannot open '%s': %s",
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
		rc = cfg_fail(x, at, IOTAD_ERR_CONFIG, "mqtt.password_file: read error on '%s'",
			  c->password_file);
	else if (len != (cut ? (size_t)(eol - buf) : n))
		rc = cfg_fail(x, at, IOTAD_ERR_CONFIG, "mqtt.password_file: '%s' holds a NUL byte",
			  c->password_file);
	else if (len == 0)
		rc = cfg_fail(x, at, IOTAD_ERR_CONFIG, "mqtt.password_file: '%s' is empty",
			  c->password_file);
	else if (len >= sizeof c->password)
		rc = cfg_fail(x, at, IOTAD_ERR_CONFIG,
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
			return cfg_fail(x, at, IOTAD_ERR_CONFIG, "detector.features: an empty name in '%s'",
				    c->features_list);
		if (len >= MODEL_NAME_MAX)
			return cfg_fail(x, at, IOTAD_ERR_CONFIG,
				    "detector.features: '%s' is longer than %d bytes", s,
				    MODEL_NAME_MAX - 1);
		if (!strcmp(s, "ts") || !strcmp(s, "values"))
			return cfg_fail(x, at, IOTAD_ERR_CONFIG,
				    "detector.features: '%s' is a reserved field of the payload", s);
		for (uint32_t i = 0; i < c->n_features; i++)
			if (!strcmp(c->features[i], s))
				return cfg_fail(x, at, IOTAD_ERR_CONFIG,
					    "detector.features: '%s' is listed twice", s);
		if (c->n_features == MODEL_MAX_FEATURES)
			return cfg_fail(x, at, IOTAD_ERR_CONFIG,
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
		return cfg_fail(x, mark_of(x, "service", "shard"), IOTAD_ERR_CONFIG,
			    "service.shard: '%s' must be k/N with 1 <= N <= 65536 and 0 <= k < N "
			    "(this instance's shard of N)", c->shard);
	c->shard_index = (uint32_t)k;
	c->shard_count = (uint32_t)n;
	return IOTAD_OK;
}

iotad_err cfg_check(cfg_ctx *x, iotad_config *c)
{
	iotad_err err;

	if (!cfg_uri_ok(c->broker_uri))
		return cfg_fail(x, mark_of(x, "mqtt", "uri"), IOTAD_ERR_CONFIG,
			    "mqtt.uri: '%s' must be tcp://, ssl://, mqtt:// or mqtts:// followed by a host",
			    c->broker_uri);
	if (!c->client_id[0])
		return cfg_fail(x, mark_of(x, "mqtt", "client_id"), IOTAD_ERR_CONFIG,
			    "mqtt.client_id: must not be empty");
	/* the instance: named, or the client id's; the status topic: set, or
	 * iotad/status/{instance} */
	if (!mark_of(x, "service", "instance"))
		topic_instance_from(c->instance, sizeof c->instance, c->client_id);
	else if (!topic_instance_ok(c->instance))
		return cfg_fail(x, mark_of(x, "service", "instance"), IOTAD_ERR_CONFIG,
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
			return cfg_fail(x, mark_of(x, "topics", named[i].name), IOTAD_ERR_CONFIG,
				    "topics.%s: too long with {instance} replaced by '%s'",
				    named[i].name, c->instance);
	if (!topic_filter_ok(c->telemetry_filter))
		return cfg_fail(x, mark_of(x, "topics", "telemetry"), IOTAD_ERR_CONFIG,
			    "topics.telemetry: '%s' is not a valid MQTT topic filter",
			    c->telemetry_filter);
	if (!topic_filter_has_level(c->telemetry_filter, c->device_level))
		return cfg_fail(x, mark_of(x, "topics", "device_level"), IOTAD_ERR_CONFIG,
			    "topics.device_level: %d is beyond the levels of '%s'",
			    c->device_level, c->telemetry_filter);
	struct {
		const char *name;
		const char *value;
	} plain[] = {{"alerts", c->alert_prefix}, {"state", c->state_prefix},
		     {"status", c->status_topic}};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		if (!topic_prefix_ok(plain[i].value))
			return cfg_fail(x, mark_of(x, "topics", plain[i].name), IOTAD_ERR_CONFIG,
				    "topics.%s: '%s' must be a non-empty topic without '+', '#', control bytes, a leading '$' or a trailing '/'",
				    plain[i].name, plain[i].value);
	const char *ct = c->control_topic;
	if (*ct && !topic_prefix_ok(ct))
		return cfg_fail(x, mark_of(x, "topics", "control"), IOTAD_ERR_CONFIG,
			    "topics.control: '%s' must be a topic without '+', '#', control bytes, a leading '$' or a trailing '/' (empty: off)",
			    ct);
	char host[64], why[200];
	uint16_t port;
	if (c->http_listen[0] &&
	    addr_parse_listen(c->http_listen, host, sizeof host, &port, why, sizeof why) != 0)
		return cfg_fail(x, mark_of(x, "http", "listen"), IOTAD_ERR_CONFIG, "http.listen: %s", why);
	if (c->hass_enabled && !topic_prefix_ok(c->hass_prefix))
		return cfg_fail(x, mark_of(x, "homeassistant", "prefix"), IOTAD_ERR_CONFIG,
			    "homeassistant.prefix: '%s' must be a non-empty topic without '+', '#', control bytes, a leading '$' or a trailing '/'",
			    c->hass_prefix);
	if ((err = check_features(x, c)) != IOTAD_OK)
		return err;
	if ((err = check_shard(x, c)) != IOTAD_OK)
		return err;
	const char *fp = c->fed_prefix;
	if (!*fp || strpbrk(fp, "+#") || fp[strlen(fp) - 1] == '/')
		return cfg_fail(x, mark_of(x, "federated", "prefix"), IOTAD_ERR_CONFIG,
			    "federated.prefix: '%s' must be a non-empty topic without '+', '#' or a trailing '/'",
			    fp);
	if (c->fed_min_updates > c->fed_clients)
		return cfg_fail(x, mark_of(x, "federated", "min_updates"), IOTAD_ERR_CONFIG,
			    "federated.min_updates: %d is more than federated.clients (%d)",
			    c->fed_min_updates, c->fed_clients);
	if (strcmp(c->fed_rule, "mean") && strcmp(c->fed_rule, "median") &&
	    strcmp(c->fed_rule, "trimmed"))
		return cfg_fail(x, mark_of(x, "federated", "rule"), IOTAD_ERR_CONFIG,
			    "federated.rule: expected mean, median or trimmed, got '%s'", c->fed_rule);
	if (c->fed_noise > 0 && (strcmp(c->fed_rule, "mean") || !(c->fed_clip > 0)))
		return cfg_fail(x, mark_of(x, "federated", "noise"), IOTAD_ERR_CONFIG,
			    "federated.noise: DP-FedAvg needs rule mean and a clip > 0 (the noise is scaled to the clip)");
	if (c->fed_dp_sgd_noise > 0 && !(c->fed_dp_sgd_clip > 0))
		return cfg_fail(x, mark_of(x, "federated", "dp_sgd_noise"), IOTAD_ERR_CONFIG,
			    "federated.dp_sgd_noise: DP-SGD needs federated.dp_sgd_clip > 0 (the noise is scaled to the clip)");
	if (strcmp(c->fed_update_encoding, "float32") && strcmp(c->fed_update_encoding, "int8"))
		return cfg_fail(x, mark_of(x, "federated", "update_encoding"), IOTAD_ERR_CONFIG,
			    "federated.update_encoding: expected float32 or int8, got '%s'",
			    c->fed_update_encoding);
	if (strcmp(c->fed_threshold, "model") && strcmp(c->fed_threshold, "gateway") &&
	    strcmp(c->fed_threshold, "global"))
		return cfg_fail(x, mark_of(x, "federated", "threshold"), IOTAD_ERR_CONFIG,
			    "federated.threshold: expected model, gateway or global, got '%s'",
			    c->fed_threshold);
	if (strcmp(c->fed_personalize, "off") && strcmp(c->fed_personalize, "select") &&
	    strcmp(c->fed_personalize, "finetune"))
		return cfg_fail(x, mark_of(x, "federated", "personalize"), IOTAD_ERR_CONFIG,
			    "federated.personalize: expected off, select or finetune, got '%s'",
			    c->fed_personalize);
	const char *gw = c->fed_gateway[0] ? c->fed_gateway : c->client_id;
	size_t gl = strlen(gw);
	bool gw_ok = gl > 0 && gl < 64;
	for (size_t i = 0; i < gl && gw_ok; i++)
		gw_ok = (gw[i] >= 'a' && gw[i] <= 'z') || (gw[i] >= 'A' && gw[i] <= 'Z') ||
			(gw[i] >= '0' && gw[i] <= '9') || strchr("-_.", gw[i]);
	if (c->fed_enabled && c->scorer_threads != 1)
		return cfg_fail(x, mark_of(x, "service", "scorer_threads"), IOTAD_ERR_CONFIG,
			    "service.scorer_threads: federated learning runs with one scorer thread "
			    "(got %u)", c->scorer_threads);
	if (c->fed_enabled && !gw_ok)
		return cfg_fail(x, mark_of(x, "federated", c->fed_gateway[0] ? "gateway" : "enabled"),
			    IOTAD_ERR_CONFIG,
			    "federated.gateway: '%s' must be 1..63 letters, digits, '-', '_' or '.' (empty: mqtt.client_id)",
			    gw);
	const param_def *bad;
	char msg[300];
	if (param_check(c, false, &bad, msg, sizeof msg) != 0)
		return cfg_fail(x, mark_of(x, bad->section, bad->key), IOTAD_ERR_CONFIG, "%s", msg);
	if (c->n_models && c->model_path[0])
		return cfg_fail(x, mark_of(x, "model", "path"), IOTAD_ERR_CONFIG,
			    "model.path: give one model here or a models: list, not both");
	if (c->n_models && models_check(x->name, c, x->err, x->errlen) != IOTAD_OK)
		return IOTAD_ERR_CONFIG;

	bool tls_uri = cfg_uri_tls(c->broker_uri);
	const char *tls_key = c->tls_ca_file[0] ? "tls_ca_file" : c->tls_cert_file[0] ? "tls_cert_file" :
			      c->tls_key_file[0] ? "tls_key_file" : NULL;
	if (tls_key && !tls_uri)
		return cfg_fail(x, mark_of(x, "mqtt", tls_key), IOTAD_ERR_CONFIG,
			    "mqtt.%s: TLS files need an ssl:// or mqtts:// uri (uri is '%s')", tls_key,
			    c->broker_uri);
	if (c->tls_key_file[0] && !c->tls_cert_file[0])
		return cfg_fail(x, mark_of(x, "mqtt", "tls_key_file"), IOTAD_ERR_CONFIG,
			    "mqtt.tls_key_file: needs mqtt.tls_cert_file (the client certificate)");
	static const char *const tls_files[] = {"tls_ca_file", "tls_cert_file", "tls_key_file"};
	const char *tls_paths[] = {c->tls_ca_file, c->tls_cert_file, c->tls_key_file};
	for (size_t i = 0; i < 3; i++)
		if (tls_paths[i][0] && access(tls_paths[i], R_OK) != 0)
			return cfg_fail(x, mark_of(x, "mqtt", tls_files[i]), IOTAD_ERR_CONFIG,
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
			return cfg_fail(x, at, IOTAD_ERR_CONFIG,
				    "mqtt.password_env: environment variable %s is not set (username '%s' needs a password)",
				    c->password_env, c->username);
		if (pw && strlen(pw) >= sizeof c->password)
			return cfg_fail(x, at, IOTAD_ERR_CONFIG,
				    "mqtt.password_env: the value of %s is longer than %zu bytes",
				    c->password_env, sizeof c->password - 1);
		if (pw)
			memcpy(c->password, pw, strlen(pw) + 1);
	}
	return IOTAD_OK;
}

