/* config_yaml.h - private to the configuration reader (config*.c): the
 * parser's context, its messages, the table of keys and the one key loop
 * that reads every mapping of the file (the top level, each section, each
 * entry of models: and its detector keys). */
#ifndef IOTAD_CONFIG_YAML_H
#define IOTAD_CONFIG_YAML_H

#include <stdbool.h>
#include <string.h>

#include <yaml.h>

#include "iotad/config.h"
#include "iotad/params.h"

/* Bound of the combined key table: the own keys, then the detector's. */
#define CFG_KEYS_MAX 128

/* Parser state: where each key was set, for duplicate checks and for
 * locating cross-field errors. */
typedef struct cfg_ctx {
	const char *name;
	char *err;
	size_t errlen;
	yaml_mark_t where[CFG_KEYS_MAX];
	bool set[CFG_KEYS_MAX];
	bool models_seen;
} cfg_ctx;

/* Writes "name:line:col: message" (mark NULL: "name: message") into the
 * context's buffer and returns err. */
__attribute__((format(printf, 4, 5))) iotad_err cfg_fail(cfg_ctx *x, const yaml_mark_t *mark,
							  iotad_err err, const char *fmt, ...);

/* The next event of p; a YAML syntax error, an anchor or an alias is an
 * error. On success the caller deletes *ev. */
iotad_err cfg_next(cfg_ctx *x, yaml_parser_t *p, yaml_event_t *ev);
/* The next item of a sequence (after its SEQUENCE_START): *more false at
 * its end (the end event already deleted); else the caller deletes *ev. */
iotad_err cfg_seq_next(cfg_ctx *x, yaml_parser_t *p, yaml_event_t *ev, bool *more);

/* Key i of the combined table (the own keys, then the detector parameters),
 * or NULL past its end. */
const param_def *cfg_key_at(size_t i);
/* The index of section.name in the combined table, or -1. */
int cfg_find_key(const char *section, const char *name);
/* Whether any key belongs to section. */
bool cfg_known_section(const char *section);

/* A uri's scheme is tcp://, ssl://, mqtt:// or mqtts:// and a host follows. */
bool cfg_uri_ok(const char *uri);
/* Whether uri is a TLS one (ssl:// or mqtts://). */
bool cfg_uri_tls(const char *uri);

/* The models: list, after its SEQUENCE_START, into c->models. */
iotad_err cfg_parse_models(cfg_ctx *x, yaml_parser_t *p, iotad_config *c);
/* The rules across fields once the file is read, then the password from
 * its file or the environment. */
iotad_err cfg_check(cfg_ctx *x, iotad_config *c);

/* One mapping of the file as cfg_map_read reads it: how its keys are named
 * and what becomes of their values. */
typedef struct cfg_map cfg_map;
struct cfg_map {
	/* The slot of key event kev (its index in this mapping's key table),
	 * or an error: unknown, duplicate, or not a key at all. */
	iotad_err (*key)(cfg_ctx *x, cfg_map *m, const yaml_event_t *kev, int *slot);
	/* Takes the value of slot, whose first event is vev (the events of a
	 * sequence or a mapping follow it in p). */
	iotad_err (*value)(cfg_ctx *x, yaml_parser_t *p, cfg_map *m, int slot,
			   const yaml_event_t *kev, const yaml_event_t *vev);
	/* At the mapping's end (ev its MAPPING_END), or NULL. */
	iotad_err (*end)(cfg_ctx *x, cfg_map *m, const yaml_event_t *ev);
	iotad_config *c;         /* what the file is read into */
	const char *section;     /* a section's name */
	cfg_model *e;            /* an entry of models: */
	int idx;                 /* its index */
	bool seen[CFG_KEYS_MAX]; /* slots seen in this mapping */
};

/* Reads the keys of one mapping, after its MAPPING_START, through m. */
iotad_err cfg_map_read(cfg_ctx *x, yaml_parser_t *p, cfg_map *m);

static inline const char *cfg_scalar(const yaml_event_t *ev)
{
	return (const char *)ev->data.scalar.value;
}

/* A plain empty, ~ or null scalar. */
static inline bool cfg_is_null(const yaml_event_t *ev)
{
	const char *s = cfg_scalar(ev);
	return ev->type == YAML_SCALAR_EVENT && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0);
}

/* What an event is, for messages ("a sequence"). */
static inline const char *cfg_event_what(yaml_event_type_t t)
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

#endif
