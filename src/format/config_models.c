/* config_models.c - the models: list of the configuration file: entries of
 * name, topic, device, path, window and detector keys, read through the
 * same key loop as the sections (values are checked by models.c once the
 * whole file is read). */
#include <stdio.h>
#include <stdlib.h>

#include "config_yaml.h"
#include "iotad/model.h"

/* The keys of one entry: a string field of cfg_model (size 0: not a
 * string) and the mark of where it was written (AT_NONE: not kept). */
#define AT_NONE ((size_t)-1)
#define STR(f) offsetof(cfg_model, f), sizeof ((cfg_model *)0)->f
enum { E_NAME, E_TOPIC, E_DEVICE, E_PATH, E_WINDOW, E_DETECTOR, E_KEYS };
static const struct {
	const char *name;
	size_t off, size, at;
} entry_keys[E_KEYS] = {
	[E_NAME] = {"name", STR(name), AT_NONE},
	[E_TOPIC] = {"topic", STR(topic), offsetof(cfg_model, at_topic)},
	[E_DEVICE] = {"device", STR(device), offsetof(cfg_model, at_device)},
	[E_PATH] = {"path", STR(path), offsetof(cfg_model, at_path)},
	[E_WINDOW] = {"window", 0, 0, AT_NONE},
	[E_DETECTOR] = {"detector", 0, 0, AT_NONE},
};

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
		return cfg_fail(x, &v->start_mark, IOTAD_ERR_CONFIG,
				"models[%d].%s: expected a value, got %s", idx, key,
				cfg_event_what(v->type));
	const char *s = cfg_is_null(v) ? "" : cfg_scalar(v);
	if (strlen(s) != v->data.scalar.length || strlen(s) >= n)
		return cfg_fail(x, &v->start_mark, IOTAD_ERR_CONFIG,
				"models[%d].%s: a NUL byte, or longer than %zu bytes", idx, key, n - 1);
	memcpy(dst, s, strlen(s) + 1);
	return IOTAD_OK;
}

/* A key of an entry's detector: mapping: a detector parameter (slot: its
 * index in param_detector()'s table) or features (slot: the table's
 * length). The device cap is the top level's alone. */
static iotad_err det_key(cfg_ctx *x, cfg_map *m, const yaml_event_t *kev, int *slot)
{
	size_t nd;
	const param_def *dk = param_detector(&nd);
	const char *s = kev->type == YAML_SCALAR_EVENT ? cfg_scalar(kev) : NULL;
	bool feat = s && !strcmp(s, "features");
	const param_def *k = feat ? cfg_key_at((size_t)cfg_find_key("detector", "features"))
			     : s   ? param_find(s)
				   : NULL;
	if (!k)
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG,
				"models[%d].detector: unknown key '%s'", m->idx,
				s ? s : cfg_event_what(kev->type));
	if (!strcmp(k->key, "max_devices") || !strcmp(k->key, "evict"))
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG,
				"models[%d].detector.%s: one cap holds the devices of all models: "
				"set it in the top-level detector: section", m->idx, k->key);
	*slot = feat ? (int)nd : (int)(k - dk);
	if (m->seen[*slot])
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG,
				"models[%d].detector: duplicate key %s", m->idx, k->key);
	if (m->e->n_sets == CFG_MODEL_SETS_MAX)
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG,
				"models[%d].detector: more than %d keys", m->idx, CFG_MODEL_SETS_MAX);
	m->seen[*slot] = true;
	return IOTAD_OK;
}

/* The value of a detector key, kept as written (checked once the file is
 * read, against the entry's whole configuration). */
static iotad_err det_value(cfg_ctx *x, yaml_parser_t *p, cfg_map *m, int slot,
			   const yaml_event_t *kev, const yaml_event_t *vev)
{
	(void)p;
	size_t nd;
	const param_def *dk = param_detector(&nd);
	bool feat = slot == (int)nd;
	const char *key = feat ? "features" : dk[slot].key;
	cfg_model_set *set = &m->e->sets[m->e->n_sets];
	set->key = feat ? CFG_MODEL_FEATURES : (uint16_t)slot;
	set->at = mark(&kev->start_mark);
	if (vev->type == YAML_SEQUENCE_START_EVENT)
		return cfg_fail(x, &vev->start_mark, IOTAD_ERR_CONFIG,
				"models[%d].detector.%s: give the names comma-separated", m->idx, key);
	iotad_err err = entry_scalar(x, vev, m->idx, key, set->value, sizeof set->value);
	if (!err)
		m->e->n_sets++;
	return err;
}

static iotad_err entry_key(cfg_ctx *x, cfg_map *m, const yaml_event_t *kev, int *slot)
{
	int w = -1;
	for (int i = 0; kev->type == YAML_SCALAR_EVENT && i < E_KEYS; i++)
		if (!strcmp(cfg_scalar(kev), entry_keys[i].name))
			w = i;
	if (w < 0)
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG,
				"models[%d]: unknown key '%s' (expected name, topic, device, path, "
				"window or detector)", m->idx,
				kev->type == YAML_SCALAR_EVENT ? cfg_scalar(kev)
							       : cfg_event_what(kev->type));
	if (m->seen[w])
		return cfg_fail(x, &kev->start_mark, IOTAD_ERR_CONFIG,
				"models[%d]: duplicate key %s", m->idx, entry_keys[w].name);
	m->seen[w] = true;
	*slot = w;
	return IOTAD_OK;
}

/* window: a whole number 0..MODEL_MAX_WINDOW (0: the model file's). */
static iotad_err entry_window(cfg_ctx *x, cfg_map *m, const yaml_event_t *vev)
{
	char num[32];
	iotad_err err = entry_scalar(x, vev, m->idx, "window", num, sizeof num);
	if (err)
		return err;
	char *end = NULL;
	long v = strtol(num, &end, 10);
	if (end == num || *end || v < 0 || v > MODEL_MAX_WINDOW)
		return cfg_fail(x, &vev->start_mark, IOTAD_ERR_CONFIG,
				"models[%d].window: expected 0..%d, got '%s'", m->idx,
				MODEL_MAX_WINDOW, num);
	m->e->window = (int)v;
	return IOTAD_OK;
}

static iotad_err entry_value(cfg_ctx *x, yaml_parser_t *p, cfg_map *m, int slot,
			     const yaml_event_t *kev, const yaml_event_t *vev)
{
	char *e = (char *)m->e;
	if (slot == E_WINDOW)
		return entry_window(x, m, vev);
	if (slot == E_DETECTOR) {
		cfg_map d = {.key = det_key, .value = det_value, .c = m->c, .e = m->e, .idx = m->idx};
		if (vev->type == YAML_MAPPING_START_EVENT)
			return cfg_map_read(x, p, &d);
		if (!cfg_is_null(vev))
			return cfg_fail(x, &vev->start_mark, IOTAD_ERR_CONFIG,
					"models[%d].detector: expected a mapping, got %s", m->idx,
					cfg_event_what(vev->type));
		return IOTAD_OK;
	}
	if (entry_keys[slot].at != AT_NONE)
		*(cfg_mark *)(e + entry_keys[slot].at) = mark(&kev->start_mark);
	return entry_scalar(x, vev, m->idx, entry_keys[slot].name, e + entry_keys[slot].off,
			    entry_keys[slot].size);
}

static iotad_err entry_end(cfg_ctx *x, cfg_map *m, const yaml_event_t *ev)
{
	if (!m->seen[E_NAME])
		return cfg_fail(x, &ev->start_mark, IOTAD_ERR_CONFIG, "models[%d]: needs a name",
				m->idx);
	return IOTAD_OK;
}

iotad_err cfg_parse_models(cfg_ctx *x, yaml_parser_t *p, iotad_config *c)
{
	yaml_event_t ev;
	iotad_err err;
	bool more;
	while (!(err = cfg_seq_next(x, p, &ev, &more)) && more) {
		if (ev.type != YAML_MAPPING_START_EVENT)
			err = cfg_fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				       "models: expected a mapping per model, got %s",
				       cfg_event_what(ev.type));
		else if (c->n_models == CFG_MODELS_MAX)
			err = cfg_fail(x, &ev.start_mark, IOTAD_ERR_CONFIG,
				       "models: more than %d entries", CFG_MODELS_MAX);
		if (!err) {
			cfg_model *e = &c->models[c->n_models];
			memset(e, 0, sizeof *e);
			e->at = mark(&ev.start_mark);
			cfg_map m = {.key = entry_key,
				     .value = entry_value,
				     .end = entry_end,
				     .c = c,
				     .e = e,
				     .idx = (int)c->n_models};
			err = cfg_map_read(x, p, &m);
			c->n_models++;
		}
		yaml_event_delete(&ev);
		if (err)
			return err;
	}
	return err;
}
