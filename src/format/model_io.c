/* model_io.c - the model file's content: JSON load with full validation
 * (model_file.c reads and saves the file itself). The runtime (scoring,
 * normalization, calibration rank) is core/model.c.
 *
 * Format version 1:
 *   {"format":"iotad-model","format_version":1,"id":"...","version":1,
 *    "features":[...],"window":W,"stride":S,
 *    "normalization":{"kind":"minmax"|"zscore","a":[F],"b":[F]},
 *    "layers":[{"in":I,"out":O,"activation":"relu","weights":[O*I],"bias":[O]},...],
 *    "ensemble":[{"layers":[...]},...],
 *    "threshold":{"value":T,"percentile":P},
 *    "calibration":{"scores":[...]},
 *    "stuck_after":[F run lengths]}
 * "version", "stride" (1), "ensemble" (further networks of the shape of
 * "layers", whose scores are averaged with its), "calibration" and
 * "stuck_after" (none) are optional. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "iotad/errmsg.h"
#include "iotad/model_io.h"
#include "iotad/qmodel_io.h"
#include "model_file.h"

static int cmp_float(const void *pa, const void *pb)
{
	float a = *(const float *)pa, b = *(const float *)pb;
	return (a > b) - (a < b);
}

/* A JSON number that is finite once converted to float. */
static int json_float(const cJSON *it, float *out)
{
	if (!cJSON_IsNumber(it))
		return -1;
	double d = it->valuedouble;
	if (!isfinite(d) || fabs(d) > 3.4028234663852886e38)
		return -1;
	*out = (float)d;
	return 0;
}

/* Integer field: required unless def is non-NULL. */
static iotad_err get_int(const cJSON *obj, const char *key, const char *path, long lo, long hi,
			 const int *def, int *out, char *err, size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!it) {
		if (def) {
			*out = *def;
			return IOTAD_OK;
		}
		iotad_errf(err, errlen, "%s: missing", path);
		return IOTAD_ERR_MODEL;
	}
	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
	    it->valuedouble != floor(it->valuedouble)) {
		iotad_errf(err, errlen, "%s: expected an integer", path);
		return IOTAD_ERR_MODEL;
	}
	double d = it->valuedouble;
	if (d < (double)lo || d > (double)hi) {
		iotad_errf(err, errlen, "%s: %.17g out of range [%ld, %ld]", path, d, lo, hi);
		return IOTAD_ERR_MODEL;
	}
	*out = (int)d;
	return IOTAD_OK;
}

/* Array of exactly n finite numbers into out. */
static iotad_err get_floats(const cJSON *obj, const char *key, const char *path, float *out,
			    int n, char *err, size_t errlen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!arr) {
		iotad_errf(err, errlen, "%s: missing", path);
		return IOTAD_ERR_MODEL;
	}
	if (!cJSON_IsArray(arr)) {
		iotad_errf(err, errlen, "%s: expected an array of %d numbers", path, n);
		return IOTAD_ERR_MODEL;
	}
	int got = cJSON_GetArraySize(arr);
	if (got != n) {
		iotad_errf(err, errlen, "%s: expected %d numbers, got %d", path, n, got);
		return IOTAD_ERR_MODEL;
	}
	int i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		if (json_float(it, &out[i]) < 0) {
			iotad_errf(err, errlen, "%s[%d]: not a finite number", path, i);
			return IOTAD_ERR_MODEL;
		}
		i++;
	}
	return IOTAD_OK;
}

static const cJSON *get_object(const cJSON *obj, const char *key, const char *path,
			       char *err, size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!it)
		iotad_errf(err, errlen, "%s: missing", path);
	else if (!cJSON_IsObject(it))
		iotad_errf(err, errlen, "%s: expected an object", path);
	else
		return it;
	return NULL;
}

static const char *get_string(const cJSON *obj, const char *key, const char *path,
			      char *err, size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!it)
		iotad_errf(err, errlen, "%s: missing", path);
	else if (!cJSON_IsString(it) || !it->valuestring)
		iotad_errf(err, errlen, "%s: expected a string", path);
	else
		return it->valuestring;
	return NULL;
}

static iotad_err load_header(const cJSON *root, model *m, char *err, size_t errlen)
{
	const char *s = get_string(root, "format", "format", err, errlen);
	if (!s)
		return IOTAD_ERR_MODEL;
	if (strcmp(s, MODEL_FORMAT_NAME)) {
		iotad_errf(err, errlen, "format: expected \"%s\", got \"%.40s\"", MODEL_FORMAT_NAME, s);
		return IOTAD_ERR_MODEL;
	}
	int fv;
	iotad_err rc = get_int(root, "format_version", "format_version", 0, INT_MAX, NULL, &fv,
			       err, errlen);
	if (rc)
		return rc;
	if (fv != MODEL_FORMAT_VERSION) {
		iotad_errf(err, errlen, "format_version: %d not supported (supported: %d)", fv,
		       MODEL_FORMAT_VERSION);
		return IOTAD_ERR_MODEL;
	}
	s = get_string(root, "id", "id", err, errlen);
	if (!s)
		return IOTAD_ERR_MODEL;
	size_t len = strlen(s);
	if (len == 0 || len >= MODEL_NAME_MAX) {
		iotad_errf(err, errlen, "id: length must be 1..%d", MODEL_NAME_MAX - 1);
		return IOTAD_ERR_MODEL;
	}
	memcpy(m->id, s, len + 1);
	int one = 1;
	return get_int(root, "version", "version", 0, INT_MAX, &one, &m->version, err, errlen);
}

static iotad_err load_features(const cJSON *root, model *m, char *err, size_t errlen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "features");
	if (!arr) {
		iotad_errf(err, errlen, "features: missing");
		return IOTAD_ERR_MODEL;
	}
	if (!cJSON_IsArray(arr)) {
		iotad_errf(err, errlen, "features: expected an array of names");
		return IOTAD_ERR_MODEL;
	}
	int n = cJSON_GetArraySize(arr);
	if (n < 1 || n > MODEL_MAX_FEATURES) {
		iotad_errf(err, errlen, "features: expected 1..%d names, got %d", MODEL_MAX_FEATURES, n);
		return IOTAD_ERR_MODEL;
	}
	int i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it) || !it->valuestring) {
			iotad_errf(err, errlen, "features[%d]: expected a string", i);
			return IOTAD_ERR_MODEL;
		}
		size_t len = strlen(it->valuestring);
		if (len == 0 || len >= MODEL_NAME_MAX) {
			iotad_errf(err, errlen, "features[%d]: length must be 1..%d", i,
			       MODEL_NAME_MAX - 1);
			return IOTAD_ERR_MODEL;
		}
		for (int j = 0; j < i; j++) {
			if (!strcmp(m->features[j], it->valuestring)) {
				iotad_errf(err, errlen, "features[%d]: duplicate name \"%s\"", i,
				       it->valuestring);
				return IOTAD_ERR_MODEL;
			}
		}
		memcpy(m->features[i], it->valuestring, len + 1);
		i++;
	}
	m->n_features = n;
	return IOTAD_OK;
}

static iotad_err load_norm(const cJSON *root, model *m, char *err, size_t errlen)
{
	const cJSON *nobj = get_object(root, "normalization", "normalization", err, errlen);
	if (!nobj)
		return IOTAD_ERR_MODEL;
	const char *kind = get_string(nobj, "kind", "normalization.kind", err, errlen);
	if (!kind)
		return IOTAD_ERR_MODEL;
	if (model_norm_parse(kind, &m->norm) < 0) {
		iotad_errf(err, errlen, "normalization.kind: unknown \"%.40s\" (minmax, zscore)", kind);
		return IOTAD_ERR_MODEL;
	}
	int f = m->n_features;
	iotad_err rc = get_floats(nobj, "a", "normalization.a", m->norm_a, f, err, errlen);
	if (!rc)
		rc = get_floats(nobj, "b", "normalization.b", m->norm_b, f, err, errlen);
	if (rc)
		return rc;
	for (int i = 0; i < f; i++) {
		if (m->norm == NORM_MINMAX && !(m->norm_b[i] >= m->norm_a[i])) {
			iotad_errf(err, errlen, "normalization.b[%d]: max %g below min %g", i,
			       (double)m->norm_b[i], (double)m->norm_a[i]);
			return IOTAD_ERR_MODEL;
		}
		if (m->norm == NORM_ZSCORE && !(m->norm_b[i] > 0.0f)) {
			iotad_errf(err, errlen, "normalization.b[%d]: std must be > 0", i);
			return IOTAD_ERR_MODEL;
		}
	}
	return IOTAD_OK;
}

/* The network of the layer array arr (named name in messages, e.g.
 * "layers" or "ensemble[0].layers") for d inputs into net. */
static iotad_err load_net(const cJSON *arr, const char *name, int d, nn *net, char *err,
			  size_t errlen)
{
	if (!arr) {
		iotad_errf(err, errlen, "%s: missing", name);
		return IOTAD_ERR_MODEL;
	}
	if (!cJSON_IsArray(arr)) {
		iotad_errf(err, errlen, "%s: expected an array", name);
		return IOTAD_ERR_MODEL;
	}
	int nl = cJSON_GetArraySize(arr);
	if (nl < 1 || nl > NN_MAX_LAYERS) {
		iotad_errf(err, errlen, "%s: expected 1..%d layers, got %d", name, NN_MAX_LAYERS, nl);
		return IOTAD_ERR_MODEL;
	}
	int sizes[NN_MAX_LAYERS + 1];
	nn_act act[NN_MAX_LAYERS];
	const cJSON *lay[NN_MAX_LAYERS];
	char path[96];
	int l = 0;
	const cJSON *it;
	iotad_err rc;
	cJSON_ArrayForEach(it, arr) {
		lay[l] = it;
		snprintf(path, sizeof path, "%s[%d]", name, l);
		if (!cJSON_IsObject(it)) {
			iotad_errf(err, errlen, "%s: expected an object", path);
			return IOTAD_ERR_MODEL;
		}
		int in, out;
		snprintf(path, sizeof path, "%s[%d].in", name, l);
		if ((rc = get_int(it, "in", path, 1, NN_MAX_WIDTH, NULL, &in, err, errlen)))
			return rc;
		snprintf(path, sizeof path, "%s[%d].out", name, l);
		if ((rc = get_int(it, "out", path, 1, NN_MAX_WIDTH, NULL, &out, err, errlen)))
			return rc;
		int want = l == 0 ? d : sizes[l];
		if (in != want) {
			snprintf(path, sizeof path, "%s[%d].in", name, l);
			iotad_errf(err, errlen, "%s: %d does not match %s (%d)", path, in,
			       l == 0 ? "window * features" : "the previous layer's out", want);
			return IOTAD_ERR_MODEL;
		}
		if (l == 0)
			sizes[0] = in;
		sizes[l + 1] = out;
		snprintf(path, sizeof path, "%s[%d].activation", name, l);
		const char *a = get_string(it, "activation", path, err, errlen);
		if (!a)
			return IOTAD_ERR_MODEL;
		if (nn_act_parse(a, &act[l]) < 0) {
			iotad_errf(err, errlen, "%s: unknown \"%.40s\" (linear, relu, sigmoid)", path, a);
			return IOTAD_ERR_MODEL;
		}
		l++;
	}
	if (sizes[nl] != d) {
		iotad_errf(err, errlen, "%s[%d].out: %d does not match window * features (%d)",
		       name, nl - 1, sizes[nl], d);
		return IOTAD_ERR_MODEL;
	}
	if ((rc = nn_init(net, nl, sizes, act))) {
		iotad_errf(err, errlen, "%s: cannot build the network: %s", name, iotad_strerror(rc));
		return rc == IOTAD_ERR_NOMEM ? rc : IOTAD_ERR_MODEL;
	}
	for (l = 0; l < nl; l++) {
		float *w = net->params + nn_layer_offset(net, l);
		int in = sizes[l], out = sizes[l + 1];
		snprintf(path, sizeof path, "%s[%d].weights", name, l);
		if ((rc = get_floats(lay[l], "weights", path, w, out * in, err, errlen)))
			return rc;
		snprintf(path, sizeof path, "%s[%d].bias", name, l);
		if ((rc = get_floats(lay[l], "bias", path, w + (size_t)out * in, out, err, errlen)))
			return rc;
	}
	return IOTAD_OK;
}

static iotad_err load_layers(const cJSON *root, model *m, char *err, size_t errlen)
{
	int d = m->window * m->n_features;
	if (d > NN_MAX_WIDTH) {
		iotad_errf(err, errlen, "window: window * features = %d exceeds %d inputs", d,
			   NN_MAX_WIDTH);
		return IOTAD_ERR_MODEL;
	}
	iotad_err rc = load_net(cJSON_GetObjectItemCaseSensitive(root, "layers"), "layers", d,
				&m->net, err, errlen);
	if (rc)
		return rc;
	const cJSON *ens = cJSON_GetObjectItemCaseSensitive(root, "ensemble");
	if (!ens)
		return IOTAD_OK;
	int n = cJSON_IsArray(ens) ? cJSON_GetArraySize(ens) : -1;
	if (n < 1 || n > MODEL_MAX_MEMBERS - 1) {
		iotad_errf(err, errlen, "ensemble: expected an array of 1..%d members",
			   MODEL_MAX_MEMBERS - 1);
		return IOTAD_ERR_MODEL;
	}
	char name[48];
	for (int k = 0; k < n; k++) {
		const cJSON *it = cJSON_GetArrayItem(ens, k);
		snprintf(name, sizeof name, "ensemble[%d].layers", k);
		if ((rc = load_net(cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "layers")
						      : NULL, name, d, &m->more[k], err, errlen)))
			return rc;
		m->n_more = k + 1;
		const nn *a = &m->net, *b = &m->more[k];
		if (a->n_layers != b->n_layers ||
		    memcmp(a->sizes, b->sizes, (size_t)(a->n_layers + 1) * sizeof *a->sizes) ||
		    memcmp(a->act, b->act, (size_t)a->n_layers * sizeof *a->act)) {
			iotad_errf(err, errlen, "%s: not the shape of \"layers\"", name);
			return IOTAD_ERR_MODEL;
		}
	}
	return IOTAD_OK;
}

static iotad_err load_threshold(const cJSON *root, model *m, char *err, size_t errlen)
{
	const cJSON *t = get_object(root, "threshold", "threshold", err, errlen);
	if (!t)
		return IOTAD_ERR_MODEL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "value");
	if (!v) {
		iotad_errf(err, errlen, "threshold.value: missing");
		return IOTAD_ERR_MODEL;
	}
	if (json_float(v, &m->threshold) < 0 || !(m->threshold > 0.0f)) {
		iotad_errf(err, errlen, "threshold.value: expected a finite number > 0");
		return IOTAD_ERR_MODEL;
	}
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(t, "percentile");
	if (!p) {
		iotad_errf(err, errlen, "threshold.percentile: missing");
		return IOTAD_ERR_MODEL;
	}
	if (json_float(p, &m->percentile) < 0 || !(m->percentile > 0.0f) ||
	    m->percentile > 100.0f) {
		iotad_errf(err, errlen, "threshold.percentile: expected a number in (0, 100]");
		return IOTAD_ERR_MODEL;
	}
	return IOTAD_OK;
}

static iotad_err load_calib(const cJSON *root, model *m, char *err, size_t errlen)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "calibration");
	if (!c)
		return IOTAD_OK;
	if (!cJSON_IsObject(c)) {
		iotad_errf(err, errlen, "calibration: expected an object");
		return IOTAD_ERR_MODEL;
	}
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(c, "scores");
	if (!arr) {
		iotad_errf(err, errlen, "calibration.scores: missing");
		return IOTAD_ERR_MODEL;
	}
	if (!cJSON_IsArray(arr)) {
		iotad_errf(err, errlen, "calibration.scores: expected an array of numbers");
		return IOTAD_ERR_MODEL;
	}
	int n = cJSON_GetArraySize(arr);
	if (n > MODEL_MAX_CALIB) {
		iotad_errf(err, errlen, "calibration.scores: %d scores, at most %d", n,
		       MODEL_MAX_CALIB);
		return IOTAD_ERR_MODEL;
	}
	if (n == 0)
		return IOTAD_OK;
	m->calib = malloc((size_t)n * sizeof *m->calib);
	if (!m->calib) {
		iotad_errf(err, errlen, "calibration.scores: out of memory");
		return IOTAD_ERR_NOMEM;
	}
	int i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		if (json_float(it, &m->calib[i]) < 0 || !(m->calib[i] >= 0.0f)) {
			iotad_errf(err, errlen, "calibration.scores[%d]: expected a finite number >= 0",
			       i);
			return IOTAD_ERR_MODEL;
		}
		i++;
	}
	m->n_calib = n;
	qsort(m->calib, (size_t)n, sizeof *m->calib, cmp_float);
	return IOTAD_OK;
}

static iotad_err load_stuck(const cJSON *root, model *m, char *err, size_t errlen)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "stuck_after");
	if (!a)
		return IOTAD_OK;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != m->n_features) {
		iotad_errf(err, errlen, "stuck_after: expected an array of %d integers",
			   m->n_features);
		return IOTAD_ERR_MODEL;
	}
	int i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, a) {
		double v = cJSON_IsNumber(it) ? it->valuedouble : -1.0;
		if (!(v == 0.0 || (v >= 2.0 && v <= MODEL_MAX_STUCK_RUN && v == floor(v)))) {
			iotad_errf(err, errlen, "stuck_after[%d]: expected 0 or an integer in 2..%d",
				   i, MODEL_MAX_STUCK_RUN);
			return IOTAD_ERR_MODEL;
		}
		m->stuck_after[i++] = (uint8_t)v;
	}
	return IOTAD_OK;
}

static iotad_err load_root(const cJSON *root, model *m, char *err, size_t errlen)
{
	if (!cJSON_IsObject(root)) {
		iotad_errf(err, errlen, "model: top level is not a JSON object");
		return IOTAD_ERR_MODEL;
	}
	iotad_err rc;
	if ((rc = load_header(root, m, err, errlen)) || (rc = load_features(root, m, err, errlen)))
		return rc;
	if ((rc = get_int(root, "window", "window", 1, MODEL_MAX_WINDOW, NULL, &m->window, err,
			  errlen)))
		return rc;
	int one = 1;
	if ((rc = get_int(root, "stride", "stride", 1, m->window, &one, &m->stride, err, errlen)))
		return rc;
	if ((rc = load_norm(root, m, err, errlen)) || (rc = load_layers(root, m, err, errlen)) ||
	    (rc = load_threshold(root, m, err, errlen)) || (rc = load_calib(root, m, err, errlen)) ||
	    (rc = load_stuck(root, m, err, errlen)))
		return rc;
	return IOTAD_OK;
}

/* Line and column (1-based) of byte offset off in buf. */
static void text_pos(const char *buf, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

iotad_err model_load_buffer(const char *json, size_t len, model *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	if (!json || len == 0) {
		iotad_errf(err, errlen, "model: empty file");
		return IOTAD_ERR_PARSE;
	}
	if (len > MODEL_FILE_MAX) {
		iotad_errf(err, errlen, "model: %zu bytes exceeds the %u byte limit", len,
		       MODEL_FILE_MAX);
		return IOTAD_ERR_RANGE;
	}
	if (qmodel_is_binary(json, len))
		return qmodel_decode(json, len, m, err, errlen);
	/* A private NUL-terminated copy: the caller's buffer need not be. */
	char *buf = malloc(len + 1);
	if (!buf) {
		iotad_errf(err, errlen, "model: out of memory");
		return IOTAD_ERR_NOMEM;
	}
	memcpy(buf, json, len);
	buf[len] = '\0';
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	size_t off = 0;
	if (root) {
		off = (size_t)(end - buf);
		while (off < len && strchr(" \t\r\n", buf[off]) && buf[off])
			off++;
	}
	if (!root || off < len) {
		if (!root)
			off = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : len;
		int line, col;
		text_pos(buf, off, &line, &col);
		if (!root)
			iotad_errf(err, errlen, "model: JSON parse error near line %d col %d (byte %zu "
			       "of %zu)", line, col, off, len);
		else
			iotad_errf(err, errlen, "model: trailing data after the JSON object at line %d "
			       "col %d (byte %zu of %zu)", line, col, off, len);
		cJSON_Delete(root);
		free(buf);
		return IOTAD_ERR_PARSE;
	}
	iotad_err rc = load_root(root, m, err, errlen);
	cJSON_Delete(root);
	free(buf);
	if (rc) {
		model_free(m);
		memset(m, 0, sizeof *m);
	}
	return rc;
}
