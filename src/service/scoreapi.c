/* scoreapi.c - JSON of the HTTP scoring API: the POST /v1/score body in,
 * its answer out.
 *
 * These documents are nested and built once per request, never per
 * sample, so they use cJSON like codec.c and the model loader do (http.c
 * only moves bytes). */
#include "iotad/scoreapi.h"

#include "iotad/codec.h"
#include "iotad/errmsg.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static iotad_err number(const cJSON *it, const char *where, size_t i, int f, float *out,
			char *err, size_t errlen)
{
	if (!cJSON_IsNumber(it))
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "%s[%zu][%d]: expected a number, got %s", where, i, f,
			   codec_json_kind(it));
	double v = it->valuedouble;
	if (!isfinite(v) || fabs(v) > FLT_MAX)
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "%s[%zu][%d]: %g is not a finite float", where, i, f, v);
	*out = (float)v;
	return IOTAD_OK;
}

/* One sample: [f1, f2, ...] in feature order, or {"name": value, ...}. */
static iotad_err parse_row(const cJSON *row, const model *m, const char *where, size_t i,
			   float *out, char *err, size_t errlen)
{
	iotad_err e;
	int F = m->n_features;

	if (cJSON_IsArray(row)) {
		int n = cJSON_GetArraySize(row);
		if (n != F)
			return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "%s[%zu]: expected %d values (%s...), got %d", where,
				   i, F, m->features[0], n);
		int f = 0;
		for (const cJSON *v = row->child; v; v = v->next, f++)
			if ((e = number(v, where, i, f, &out[f], err, errlen)) != IOTAD_OK)
				return e;
		return IOTAD_OK;
	}
	if (cJSON_IsObject(row)) {
		for (int f = 0; f < F; f++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, m->features[f]);
			if (!v)
				return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "%s[%zu]: missing feature '%s'", where, i,
					   m->features[f]);
			if ((e = number(v, where, i, f, &out[f], err, errlen)) != IOTAD_OK)
				return e;
		}
		return IOTAD_OK;
	}
	return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "%s[%zu]: expected an array or an object, got %s", where, i,
		   codec_json_kind(row));
}

iotad_err scoreapi_parse(const char *body, size_t len, const model *m, scoreapi_req *out,
			 char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (err && errlen)
		err[0] = '\0';
	cJSON *root = cJSON_ParseWithLength(body, len);
	if (!root) {
		iotad_fail(IOTAD_ERR_INVAL, err, errlen, "body is not valid JSON");
		return IOTAD_ERR_PARSE;
	}
	iotad_err e = IOTAD_OK;
	const cJSON *win = NULL, *samples = NULL;
	if (!cJSON_IsObject(root)) {
		e = iotad_fail(IOTAD_ERR_INVAL, err, errlen, "expected a JSON object with \"window\" or \"samples\", got %s",
			codec_json_kind(root));
		goto out;
	}
	const char *dup = codec_json_dup_key(root);
	if (dup) {
		iotad_fail(IOTAD_ERR_INVAL, err, errlen, "key \"%.64s\" appears twice in one object", dup);
		e = IOTAD_ERR_DUPLICATE;
		goto out;
	}
	win = cJSON_GetObjectItemCaseSensitive(root, "window");
	samples = cJSON_GetObjectItemCaseSensitive(root, "samples");
	if (!win == !samples) {
		e = iotad_fail(IOTAD_ERR_INVAL, err, errlen, "expected exactly one of \"window\" and \"samples\"");
		goto out;
	}
	const char *where = win ? "window" : "samples";
	const cJSON *rows = win ? win : samples;
	if (!cJSON_IsArray(rows)) {
		e = iotad_fail(IOTAD_ERR_INVAL, err, errlen, "%s: expected an array of samples, got %s", where, codec_json_kind(rows));
		goto out;
	}
	size_t n = (size_t)cJSON_GetArraySize(rows), W = (size_t)m->window;
	if (win && n != W) {
		e = iotad_fail(IOTAD_ERR_INVAL, err, errlen, "window: expected %zu samples, got %zu", W, n);
		goto out;
	}
	if (samples && n < W) {
		e = iotad_fail(IOTAD_ERR_INVAL, err, errlen, "samples: expected at least %zu samples (one window), got %zu",
			W, n);
		goto out;
	}
	out->raw = malloc(n * (size_t)m->n_features * sizeof *out->raw);
	if (!out->raw) {
		e = IOTAD_ERR_NOMEM;
		goto out;
	}
	size_t i = 0;
	for (const cJSON *row = rows->child; row && e == IOTAD_OK; row = row->next, i++)
		e = parse_row(row, m, where, i, out->raw + i * (size_t)m->n_features, err, errlen);
	out->n_samples = n;
	out->batch = samples != NULL;
out:
	cJSON_Delete(root);
	if (e != IOTAD_OK)
		scoreapi_req_free(out);
	return e;
}

void scoreapi_req_free(scoreapi_req *r)
{
	if (!r)
		return;
	free(r->raw);
	memset(r, 0, sizeof *r);
}

size_t scoreapi_window_count(const model *m, size_t n_samples)
{
	size_t W = (size_t)m->window, stride = m->stride > 0 ? (size_t)m->stride : 1;
	return n_samples < W ? 0 : (n_samples - W) / stride + 1;
}

/* cJSON writes non-finite numbers as null, which is what we want. */
static void add_result(cJSON *o, const model *m, const det_result *r)
{
	cJSON_AddNumberToObject(o, "score", r->score);
	cJSON_AddNumberToObject(o, "threshold", r->threshold);
	cJSON_AddBoolToObject(o, "anomalous", r->anomalous);
	cJSON *contrib = cJSON_AddObjectToObject(o, "contrib");
	cJSON *top = cJSON_AddArrayToObject(o, "top");
	int order[MODEL_MAX_FEATURES], ntop = codec_top_features(r, m->n_features, order);
	for (int f = 0; f < m->n_features; f++)
		cJSON_AddNumberToObject(contrib, m->features[f], r->contrib[f]);
	for (int i = 0; i < ntop && i < 3; i++)
		cJSON_AddItemToArray(top, cJSON_CreateString(m->features[order[i]]));
	cJSON *stuck = r->stuck ? cJSON_AddArrayToObject(o, "stuck") : NULL;
	for (int f = 0; stuck && f < m->n_features; f++)
		if (r->stuck >> f & 1u)
			cJSON_AddItemToArray(stuck, cJSON_CreateString(m->features[f]));
	cJSON *ch = r->channels ? cJSON_AddArrayToObject(o, "channels") : NULL;
	for (int c = 0; ch && c < DET_CH_COUNT; c++)
		if (r->channels >> c & 1u)
			cJSON_AddItemToArray(ch, cJSON_CreateString(det_channel_name(c)));
}

char *scoreapi_format(const model *m, const det_result *res, size_t n, bool batch)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	cJSON *mo = cJSON_AddObjectToObject(root, "model");
	cJSON_AddStringToObject(mo, "id", m->id);
	cJSON_AddNumberToObject(mo, "version", m->version);
	cJSON_AddNumberToObject(mo, "window", m->window);
	if (!batch) {
		add_result(root, m, &res[0]);
	} else {
		size_t stride = m->stride > 0 ? (size_t)m->stride : 1, anomalous = 0;
		cJSON_AddNumberToObject(root, "windows", (double)n);
		cJSON *arr = cJSON_AddArrayToObject(root, "results");
		for (size_t i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddItemToArray(arr, o);
			cJSON_AddNumberToObject(o, "start", (double)(i * stride));
			add_result(o, m, &res[i]);
			anomalous += res[i].anomalous;
		}
		cJSON_AddNumberToObject(root, "anomalous_windows", (double)anomalous);
	}
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}
