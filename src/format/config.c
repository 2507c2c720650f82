/* config.c - YAML configuration: two levels of mappings (section: key:
 * value), every key described once in a table with its type and range
 * (config_keys.c; the detector section's is params.c's parameter table).
 * One key loop reads every mapping: the top level, each section and each
 * entry of models: (config_models.c); config_check.c holds the rules
 * across fields. */
#include "iotad/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_yaml.h"

#define CFG_MAX_FILE (1 << 20)

iotad_err cfg_fail(cfg_ctx *x, const yaml_mark_t *mark, iotad_err err, const char *fmt, ...)
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

/* cfg_fail() for a value of key k: the message is prefixed with "section.key: ". */
__attribute__((format(printf, 4, 5))) static iotad_err fail_key(cfg_ctx *x, const yaml_mark_t *mark,
								 const param_def *k, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return cfg_fail(x, mark, IOTAD_ERR_CONFIG, "%s.%s: %s", k->section, k->key, msg);
}
/* Store one scalar value into the config field described by k. */
static iotad_err set_value(cfg_ctx *x, const param_def *k, const yaml_event_t *ev, iotad_config *c)
{
	const char *s = cfg_scalar(ev);
	const yaml_mark_t *at = &ev->start_mark;
	char msg[400];

	if (strlen(s) != ev->data.scalar.length)
		return fail_key(x, at, k, "NUL byte in value");
	if (k->type != PARAM_STR && ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return fail_key(x, at, k, "expected an unquoted value, got a quoted string");
	if (k->type == PARAM_STR && cfg_is_null(ev))
		s = "";
	if (param_parse(k, s, c, msg, sizeof msg) != 0)
		return fail_key(x, at, k, "%s", msg);
	return IOTAD_OK;
}
iotad_err cfg_next(cfg_ctx *x, yaml_parser_t *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(p, ev)) {
		yaml_mark_t m = p->problem_mark;
		return cfg_fail(x, &m, IOTAD_ERR_PARSE, "YAML syntax error: %s%s%s",
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
		return cfg_fail(x, &m, IOTAD_ERR_CONFIG, "anchors and aliases are not supported");
	}
	return IOTAD_OK;
}

iotad_err cfg_seq_next(cfg_ctx *x, yaml_parser_t *p, yaml_event_t *ev, bool *more)
{
	iotad_err err = cfg_next(x, p, ev);
	*more = !err && ev->type != YAML_SEQUENCE_END_EVENT;
	if (!err && !*more)
		yaml_event_delete(ev);
	return err;
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
	bool more;
	while (!(err = cfg_seq_next(x, p, &ev, &more)) && more) {
		if (ev.type != YAML_SCALAR_EVENT || strchr(cfg_scalar(&ev), ',') ||
		    strlen(cfg_scalar(&ev)) != ev.data.scalar.length) {
			err = fail_key(x, &ev.start_mark, k, "expected a list of names, got %s",
				       ev.type == YAML_SCALAR_EVENT ? "a name with a comma or NUL"
								    : cfg_event_what(ev.type));
			yaml_event_delete(&ev);
			return err;
		}
		int w = snprintf(buf + n, sizeof buf - n, "%s%s", n ? "," : "", cfg_scalar(&ev));
		yaml_event_delete(&ev);
		if (w < 0 || (size_t)w >= sizeof buf - n)
			return fail_key(x, at, k, "list longer than %d bytes", CFG_STR - 1);
		n += (size_t)w;
	}
	if (err)
		return err;
	char msg[400];
	if (param_parse(k, buf, c, msg, sizeof msg) != 0)
		return fail_key(x, at, k, "%s", msg);
	return IOTAD_OK;
}

/* mqtt.uri given as a YAML sequence, after its SEQUENCE_START: the broker
 * cluster's nodes, 1..CFG_MAX_URIS distinct uris of one kind (all TLS or
 * none); broker_uri becomes the first. */
static iotad_err parse_uris(cfg_ctx *x, yaml_parser_t *p, iotad_config *c, const yaml_mark_t *at)
{
	yaml_event_t ev;
	iotad_err err = IOTAD_OK;

	c->n_broker_uris = 0;
	bool more;
	while (!(err = cfg_seq_next(x, p, &ev, &more)) && more) {
		const char *u = ev.type == YAML_SCALAR_EVENT ? cfg_scalar(&ev) : NULL;
		int n = c->n_broker_uris;
		if (!u || strlen(u) != ev.data.scalar.length)
			err = cfg_fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				   "mqtt.uri: expected a list of uris, got %s",
				   u ? "a value with a NUL byte" : cfg_event_what(ev.type));
		else if (n == CFG_MAX_URIS)
			err = cfg_fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				   "mqtt.uri: more than %d uris", CFG_MAX_URIS);
		else if (strlen(u) >= CFG_STR)
			err = cfg_fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				   "mqtt.uri: '%.40s...' is longer than %d bytes", u, CFG_STR - 1);
		else if (!cfg_uri_ok(u))
			err = cfg_fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				   "mqtt.uri: '%s' must be tcp://, ssl://, mqtt:// or mqtts:// followed by a host",
				   u);
		else if (n > 0 && cfg_uri_tls(u) != cfg_uri_tls(c->broker_uris[0]))
			err = cfg_fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				   "mqtt.uri: '%s' and '%s' mix TLS and plain connections", u,
				   c->broker_uris[0]);
		for (int i = 0; !err && i < n; i++)
			if (!strcmp(c->broker_uris[i], u))
				err = cfg_fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
					   "mqtt.uri: '%s' is listed twice", u);
		if (!err)
			memcpy(c->broker_uris[c->n_broker_uris++], u, strlen(u) + 1);
		yaml_event_delete(&ev);
		if (err)
			return err;
	}
	if (err)
		return err;
	if (c->n_broker_uris == 0)
		return cfg_fail(x, at, IOTAD_ERR_CONFIG, "mqtt.uri: the list is empty");
	memcpy(c->broker_uri, c->broker_uris[0], sizeof c->broker_uri);
	return IOTAD_OK;
}

iotad_err cfg_map_read(cfg_ctx *x, yaml_parser_t *p, cfg_map *m)
{
	yaml_event_t kev, vev;
	iotad_err err;

	for (;;) {
		if ((err = cfg_next(x, p, &kev)))
			return err;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			err = m->end ? m->end(x, m, &kev) : IOTAD_OK;
			yaml_event_delete(&kev);
			return err;
		}
		int slot = -1;
		if (!(err = m->key(x, m, &kev, &slot)) && !(err = cfg_next(x, p, &vev))) {
			err = m->value(x, p, m, slot, &kev, &vev);
			yaml_event_delete(&vev);
		}
		yaml_event_delete(&kev);
		if (err)
			return err;
	}
}

/* A key of a section: its index in the combined table, set once in the
 * whole file (the mark kept for the checks across fields). */
static iotad_err section_key(cfg_ctx *x, cfg_map *m, const yaml_event_t *kev, int *slot)
{
	if (kev->type != YAML_SCALAR_EVENT)
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG, "%s: expected a key, got %s",
				m->section, cfg_event_what(kev->type));
	int i = cfg_find_key(m->section, cfg_scalar(kev));
	if (i < 0)
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG,
				"unknown key '%s' in section %s", cfg_scalar(kev), m->section);
	if (x->set[i])
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG,
				"duplicate key %s.%s (first set at line %zu)", m->section,
				cfg_key_at((size_t)i)->key, x->where[i].line + 1);
	x->set[i] = true;
	x->where[i] = kev->start_mark;
	*slot = i;
	return IOTAD_OK;
}

/* A section key's value: a scalar, or a list for detector.features and
 * mqtt.uri. */
static iotad_err section_value(cfg_ctx *x, yaml_parser_t *p, cfg_map *m, int slot,
			       const yaml_event_t *kev, const yaml_event_t *vev)
{
	(void)kev;
	const param_def *k = cfg_key_at((size_t)slot);
	bool list = vev->type == YAML_SEQUENCE_START_EVENT;
	if (list && k->off == offsetof(iotad_config, features_list))
		return parse_list(x, p, k, m->c, &vev->start_mark);
	if (list && k->off == offsetof(iotad_config, broker_uri))
		return parse_uris(x, p, m->c, &vev->start_mark);
	if (vev->type != YAML_SCALAR_EVENT)
		return cfg_fail(x, &vev->start_mark, IOTAD_ERR_CONFIG,
				"%s.%s: expected a value, got %s", m->section, k->key,
				cfg_event_what(vev->type));
	return set_value(x, k, vev, m->c);
}

/* A key of the top level: a section (slot: its first key's index in the
 * combined table) or models (slot -1). */
static iotad_err top_key(cfg_ctx *x, cfg_map *m, const yaml_event_t *kev, int *slot)
{
	const char *s = kev->type == YAML_SCALAR_EVENT ? cfg_scalar(kev) : NULL;
	if (s && !strcmp(s, "models")) {
		if (x->models_seen)
			return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG,
					"duplicate section models");
		x->models_seen = true;
		*slot = -1;
		return IOTAD_OK;
	}
	if (!s)
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG,
				"expected a section name, got %s", cfg_event_what(kev->type));
	if (!cfg_known_section(s))
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG,
				"unknown section '%s' (expected mqtt, topics, model, models, detector, service, http, homeassistant or federated)",
				s);
	const param_def *k;
	for (size_t i = 0; (k = cfg_key_at(i)); i++)
		if (!strcmp(k->section, s)) {
			*slot = (int)i;
			break;
		}
	if (m->seen[*slot])
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG, "duplicate section %s", s);
	m->seen[*slot] = true;
	return IOTAD_OK;
}

/* A section's mapping, or the models: list; either may be empty (null). */
static iotad_err top_value(cfg_ctx *x, yaml_parser_t *p, cfg_map *m, int slot,
			   const yaml_event_t *kev, const yaml_event_t *vev)
{
	if (slot < 0) {
		if (vev->type == YAML_SEQUENCE_START_EVENT)
			return cfg_parse_models(x, p, m->c);
		if (!cfg_is_null(vev))
			return cfg_fail(x, &vev->start_mark, IOTAD_ERR_CONFIG,
					"models: expected a list of models, got %s",
					cfg_event_what(vev->type));
		return IOTAD_OK;
	}
	cfg_map sec = {.key = section_key, .value = section_value, .c = m->c,
		       .section = cfg_scalar(kev)};
	if (vev->type == YAML_MAPPING_START_EVENT)
		return cfg_map_read(x, p, &sec);
	if (!cfg_is_null(vev))
		return cfg_fail(x, &vev->start_mark, IOTAD_ERR_CONFIG,
				"section %s: expected a mapping of keys, got %s", sec.section,
				cfg_event_what(vev->type));
	return IOTAD_OK;
}

/* The stream: empty, or one document holding a mapping (or nothing). */
static iotad_err parse_stream(cfg_ctx *x, yaml_parser_t *p, iotad_config *c)
{
	yaml_event_t ev;
	iotad_err err;
	int docs = 0;

	if ((err = cfg_next(x, p, &ev)))
		return err;
	yaml_event_delete(&ev); /* STREAM_START */
	for (;;) {
		if ((err = cfg_next(x, p, &ev)))
			return err;
		yaml_event_type_t t = ev.type;
		yaml_mark_t at = ev.start_mark;
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			return IOTAD_OK;
		if (t != YAML_DOCUMENT_START_EVENT)
			return cfg_fail(x, &at, IOTAD_ERR_CONFIG, "malformed YAML stream");
		if (++docs > 1)
			return cfg_fail(x, &at, IOTAD_ERR_CONFIG, "only one YAML document is allowed");
		if ((err = cfg_next(x, p, &ev)))
			return err;
		t = ev.type;
		at = ev.start_mark;
		bool null_doc = t == YAML_SCALAR_EVENT && cfg_is_null(&ev);
		yaml_event_delete(&ev);
		cfg_map top = {.key = top_key, .value = top_value, .c = c};
		if (t == YAML_MAPPING_START_EVENT)
			err = cfg_map_read(x, p, &top);
		else if (!null_doc)
			err = cfg_fail(x, &at, IOTAD_ERR_CONFIG,
				   "expected a mapping of sections at top level, got %s", cfg_event_what(t));
		if (err)
			return err;
		if ((err = cfg_next(x, p, &ev)))
			return err;
		yaml_event_delete(&ev); /* DOCUMENT_END */
	}
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
		rc = cfg_check(x, &tmp);
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
