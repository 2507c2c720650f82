/* models.c - the models: list of the configuration: each entry's own
 * configuration (the top level's with its detector keys over it), and the
 * checks at load that a mixed fleet needs: names, routes, model files and
 * their features. */
#include "iotad/models.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/model_io.h"
#include "iotad/params.h"
#include "iotad/route.h"
#include "iotad/topic.h"

int models_find(const iotad_config *c, const char *name)
{
	for (uint32_t i = 0; i < c->n_models; i++)
		if (!strcmp(c->models[i].name, name))
			return (int)i;
	return -1;
}

iotad_err models_config(const iotad_config *c, uint32_t i, iotad_config *out, char *msg,
			size_t msglen, cfg_mark *at)
{
	if (i >= c->n_models)
		return IOTAD_ERR_INVAL;
	const cfg_model *e = &c->models[i];
	memcpy(out, c, sizeof *out);
	out->n_models = 0;
	snprintf(out->model_path, sizeof out->model_path, "%s", e->path);
	out->window = e->window;
	/* the top-level features name the zero-config fallback's, not a model's */
	out->features_list[0] = '\0';
	out->n_features = 0;
	size_t nd;
	const param_def *dk = param_detector(&nd);
	char why[300];
	for (uint32_t s = 0; s < e->n_sets; s++) {
		if (e->sets[s].key == CFG_MODEL_FEATURES)
			continue; /* the model file's (checked against it in models_check) */
		const param_def *k = &dk[e->sets[s].key];
		if (param_parse(k, e->sets[s].value, out, why, sizeof why) != 0) {
			snprintf(msg, msglen, "models[%u].detector.%s: %s", i, k->key, why);
			if (at)
				*at = e->sets[s].at;
			return IOTAD_ERR_CONFIG;
		}
	}
	const param_def *bad;
	if (param_check(out, false, &bad, why, sizeof why) != 0) {
		snprintf(msg, msglen, "models[%u] (%s): %s", i, e->name, why);
		if (at)
			*at = e->at;
		for (uint32_t s = 0; at && s < e->n_sets; s++)
			if (e->sets[s].key != CFG_MODEL_FEATURES && &dk[e->sets[s].key] == bad)
				*at = e->sets[s].at;
		return IOTAD_ERR_CONFIG;
	}
	return IOTAD_OK;
}

__attribute__((format(printf, 5, 6))) static iotad_err
bad(const char *name, cfg_mark at, char *err, size_t errlen, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "%s:%u:%u: %s", name, at.line, at.col, msg);
	return IOTAD_ERR_CONFIG;
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-'))
			return false;
	return true;
}

/* The entry's detector.features (a comma list), if set: its names must be
 * m's, in m's order. */
static const cfg_model_set *features_set(const cfg_model *e)
{
	for (uint32_t s = 0; s < e->n_sets; s++)
		if (e->sets[s].key == CFG_MODEL_FEATURES)
			return &e->sets[s];
	return NULL;
}

static bool features_clash(const char *list, const model *m, char *why, size_t len)
{
	char buf[CFG_MODEL_VALUE];
	snprintf(buf, sizeof buf, "%s", list);
	int n = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		size_t l = strlen(t);
		while (l && t[l - 1] == ' ')
			t[--l] = '\0';
		if (n >= m->n_features || strcmp(t, m->features[n])) {
			snprintf(why, len, "'%s' is not feature %d of the model (%s)", t, n + 1,
				 n < m->n_features ? m->features[n] : "it has fewer");
			return true;
		}
		n++;
	}
	if (n != m->n_features) {
		snprintf(why, len, "%d names, the model has %d features", n, m->n_features);
		return true;
	}
	return false;
}

/* The entry's model file loads, fits its window and features. */
static iotad_err check_file(const char *name, const iotad_config *c, uint32_t i, char *err,
			    size_t errlen)
{
	const cfg_model *e = &c->models[i];
	cfg_mark at = e->at_path.line ? e->at_path : e->at;
	char why[512];
	model *m = calloc(1, sizeof *m);
	if (!m)
		return IOTAD_ERR_NOMEM;
	iotad_err r = IOTAD_OK;
	if (model_load(e->path, m, why, sizeof why) != IOTAD_OK) {
		free(m);
		return bad(name, at, err, errlen, "models[%u].path: model '%s' does not load: %s", i,
			   e->path, why);
	}
	const cfg_model_set *fs = features_set(e);
	if (e->window && e->window != m->window)
		r = bad(name, e->at, err, errlen, "models[%u].window: %d, but %s has window %d", i,
			e->window, e->path, m->window);
	else if (fs && features_clash(fs->value, m, why, sizeof why))
		r = bad(name, fs->at, err, errlen, "models[%u].detector.features: clash with %s: %s",
			i, e->path, why);
	model_free(m);
	free(m);
	return r;
}

iotad_err models_check(const char *name, const iotad_config *c, char *err, size_t errlen)
{
	iotad_config *mc = malloc(sizeof *mc);
	if (!mc)
		return IOTAD_ERR_NOMEM;
	iotad_err r = IOTAD_OK;
	char msg[400];
	for (uint32_t i = 0; i < c->n_models && r == IOTAD_OK; i++) {
		const cfg_model *e = &c->models[i];
		cfg_mark at = e->at;
		if (!name_ok(e->name))
			r = bad(name, e->at, err, errlen,
				"models[%u].name: '%s' must be letters, digits, '_' and '-'", i, e->name);
		else if (models_find(c, e->name) != (int)i)
			r = bad(name, e->at, err, errlen, "models[%u].name: '%s' is used by models[%d]",
				i, e->name, models_find(c, e->name));
		else if (!e->topic[0] && !e->device[0])
			r = bad(name, e->at, err, errlen,
				"models[%u] (%s): an empty route: give a topic filter, a device "
				"pattern or both", i, e->name);
		else if (e->topic[0] && !topic_filter_ok(e->topic))
			r = bad(name, e->at_topic, err, errlen,
				"models[%u].topic: '%s' is not a valid MQTT topic filter", i, e->topic);
		else if (!e->path[0])
			r = bad(name, e->at, err, errlen, "models[%u] (%s): needs a path (its model "
				"file)", i, e->name);
		else if (models_config(c, i, mc, msg, sizeof msg, &at) != IOTAD_OK)
			r = bad(name, at, err, errlen, "%s", msg);
		for (uint32_t j = 0; j < i && r == IOTAD_OK; j++) {
			const cfg_model *f = &c->models[j];
			if (route_filter_covers(f->topic, e->topic) &&
			    route_glob_covers(f->device, e->device))
				r = bad(name, e->at, err, errlen,
					"models[%u] (%s): its route overlaps models[%u] (%s) entirely "
					"(first match wins: it would never be used)", i, e->name, j,
					f->name);
		}
		if (r == IOTAD_OK)
			r = check_file(name, c, i, err, errlen);
	}
	free(mc);
	return r;
}
