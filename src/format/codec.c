/* codec.c - wire formats: telemetry JSON in,
 * RFC 3339 time, alert event JSON out (written straight into the caller's
 * buffer, no allocation). Operator commands are codec_cmd.c's. */
#include "iotad/codec.h"
#include "iotad/topic.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "iotad/errmsg.h"
#include "iotad/timefmt.h"

#include "codec_fast.h"

static const char *const reject_names[REJ__COUNT] = {
	[REJ_NONE] = "none",
	[REJ_OVERSIZE] = "oversize",
	[REJ_NOT_JSON] = "not_json",
	[REJ_NOT_OBJECT] = "not_object",
	[REJ_MISSING_FEATURE] = "missing_feature",
	[REJ_NOT_NUMBER] = "not_number",
	[REJ_NOT_FINITE] = "not_finite",
	[REJ_BAD_TS] = "bad_ts",
	[REJ_BAD_TOPIC] = "bad_topic",
	[REJ_DEVICE_CAP] = "device_cap",
	[REJ_DUPLICATE] = "duplicate",
	[REJ_OUT_OF_ORDER] = "out_of_order",
	[REJ_DUPLICATE_KEY] = "duplicate_key",
	[REJ_TS_SKEW] = "ts_skew",
	[REJ_NO_MODEL] = "no_model",
};

const char *codec_reject_name(reject_reason r)
{
	if ((unsigned)r >= REJ__COUNT)
		return "unknown";
	return reject_names[r];
}

const char *codec_json_kind(const cJSON *it)
{
	if (cJSON_IsString(it))
		return "a string";
	if (cJSON_IsBool(it))
		return "a boolean";
	if (cJSON_IsNull(it))
		return "null";
	if (cJSON_IsObject(it))
		return "an object";
	if (cJSON_IsArray(it))
		return "an array";
	return "a number";
}

const char *codec_json_dup_key(const cJSON *it)
{
	for (const cJSON *c = it ? it->child : NULL; c; c = c->next) {
		if (cJSON_IsObject(it) && c->string)
			for (const cJSON *o = it->child; o != c; o = o->next)
				if (o->string && !strcmp(o->string, c->string))
					return c->string;
		const char *d = codec_json_dup_key(c);
		if (d)
			return d;
	}
	return NULL;
}

/* The ts field: epoch seconds in (0, 1e11) as a number or RFC 3339 text. */
static reject_reason parse_ts(const cJSON *it, double *out, char *detail, size_t dlen)
{
	double v;

	if (cJSON_IsNumber(it)) {
		v = it->valuedouble;
	} else if (cJSON_IsString(it) && it->valuestring) {
		if (timefmt_parse_rfc3339(it->valuestring, &v) != 0) {
			iotad_errf(detail, dlen, "ts is not RFC 3339 time");
			return REJ_BAD_TS;
		}
	} else {
		iotad_errf(detail, dlen, "ts is %s", codec_json_kind(it));
		return REJ_BAD_TS;
	}
	if (!isfinite(v) || v <= 0 || v >= 1e11) {
		iotad_errf(detail, dlen, "ts is out of range");
		return REJ_BAD_TS;
	}
	*out = v;
	return REJ_NONE;
}

/* The keys of obj (and of its "values" object) after what detail holds,
 * each cut at 32 bytes with anything unprintable as '?', as far as dlen
 * allows ("..." when cut): what did arrive when a feature is missing. */
static void list_keys(const cJSON *obj, const cJSON *values, char *detail, size_t dlen)
{
	size_t off = strlen(detail);
	int n_keys = 0;
	for (int pass = 0; pass < 2; pass++) {
		const cJSON *it = pass ? (values ? values->child : NULL) : obj->child;
		for (; it; it = it->next) {
			if (!it->string || (!pass && it == values))
				continue;
			char key[48];
			size_t k = 0;
			if (pass)
				k = (size_t)snprintf(key, sizeof key, "values.");
			for (const char *c = it->string; *c && k < (size_t)(7 * pass + 32); c++)
				key[k++] = *c >= 0x20 && *c < 0x7f ? *c : '?';
			key[k] = '\0';
			const char *sep = n_keys++ ? ", " : "; keys: ";
			if (off + strlen(sep) + k + 4 >= dlen) {
				if (off + 4 < dlen)
					memcpy(detail + off, "...", 4);
				return;
			}
			off += (size_t)snprintf(detail + off, dlen - off, "%s%s", sep, key);
		}
	}
	if (!n_keys && off + 10 < dlen)
		snprintf(detail + off, dlen - off, "; no keys");
}

static reject_reason parse_object(const cJSON *root, const model *m, double *ts, bool *has_ts,
				  float *vals, char *detail, size_t dlen)
{
	const cJSON *values = cJSON_GetObjectItemCaseSensitive(root, "values");
	const cJSON *t;
	reject_reason r;

	if (!cJSON_IsObject(values))
		values = NULL;
	for (int i = 0; i < m->n_features; i++) {
		const char *name = m->features[i];
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, name);
		if (!it && values)
			it = cJSON_GetObjectItemCaseSensitive(values, name);
		if (!it) {
			iotad_errf(detail, dlen, "feature \"%s\" missing", name);
			if (detail && dlen)
				list_keys(root, values, detail, dlen);
			return REJ_MISSING_FEATURE;
		}
		if (!cJSON_IsNumber(it)) {
			iotad_errf(detail, dlen, "feature \"%s\" is %s", name, codec_json_kind(it));
			return REJ_NOT_NUMBER;
		}
		double v = it->valuedouble;
		if (!isfinite(v) || fabs(v) > FLT_MAX) {
			iotad_errf(detail, dlen, "feature \"%s\" is not a finite float", name);
			return REJ_NOT_FINITE;
		}
		vals[i] = (float)v;
	}
	t = cJSON_GetObjectItemCaseSensitive(root, "ts");
	*has_ts = t != NULL;
	if (t && (r = parse_ts(t, ts, detail, dlen)) != REJ_NONE)
		return r;
	return REJ_NONE;
}

reject_reason codec_parse_sample(const char *payload, size_t len, size_t max_len, const model *m,
				 double now, double *ts, bool *has_ts, float *values,
				 char *detail, size_t detail_len)
{
	float tmp[MODEL_MAX_FEATURES];
	const char *end = NULL;
	double t = now;
	bool got_ts = false;
	const char *dup;
	reject_reason r;

	if (detail && detail_len)
		detail[0] = '\0';
	if (len > max_len) {
		iotad_errf(detail, detail_len, "payload of %zu bytes exceeds %zu", len, max_len);
		return REJ_OVERSIZE;
	}
	if (!payload || !m || m->n_features < 1 || m->n_features > MODEL_MAX_FEATURES) {
		iotad_errf(detail, detail_len, "no payload or no model");
		return REJ_NOT_JSON;
	}
	/* The common case read in place; anything else by cJSON. */
	if (codec_fast_sample(payload, len, m, &t, &got_ts, values)) {
		if (ts)
			*ts = got_ts ? t : now;
		if (has_ts)
			*has_ts = got_ts;
		return REJ_NONE;
	}
	cJSON *root = cJSON_ParseWithLengthOpts(payload, len, &end, 0);
	if (!root) {
		size_t at = end >= payload && end <= payload + len ? (size_t)(end - payload) : 0;
		iotad_errf(detail, detail_len, "not JSON (error near byte %zu)", at);
		return REJ_NOT_JSON;
	}
	/* Only whitespace (or C string terminators) may follow the value. */
	for (const char *p = end; p < payload + len; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\0') {
			cJSON_Delete(root);
			iotad_errf(detail, detail_len, "not JSON (trailing data at byte %zu)",
				   (size_t)(p - payload));
			return REJ_NOT_JSON;
		}
	}
	if (!cJSON_IsObject(root)) {
		iotad_errf(detail, detail_len, "payload is %s, not an object",
			   codec_json_kind(root));
		r = REJ_NOT_OBJECT;
	} else if ((dup = codec_json_dup_key(root)) != NULL) {
		iotad_errf(detail, detail_len, "key \"%.64s\" appears twice", dup);
		r = REJ_DUPLICATE_KEY;
	} else {
		r = parse_object(root, m, &t, &got_ts, tmp, detail, detail_len);
	}
	cJSON_Delete(root);
	if (r != REJ_NONE)
		return r;
	memcpy(values, tmp, (size_t)m->n_features * sizeof *values);
	if (ts)
		*ts = got_ts ? t : now;
	if (has_ts)
		*has_ts = got_ts;
	return REJ_NONE;
}

/* Add the finite numeric fields of obj (not ts, names that fit) to names,
 * kept sorted and without repeats, at most max. */
static void add_fields(const cJSON *obj, char (*names)[MODEL_NAME_MAX], int max, int *n)
{
	for (const cJSON *it = obj ? obj->child : NULL; it; it = it->next) {
		if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
		    fabs(it->valuedouble) > FLT_MAX || !it->string || !it->string[0] ||
		    strlen(it->string) >= MODEL_NAME_MAX || !strcmp(it->string, "ts"))
			continue;
		int at = 0;
		while (at < *n && strcmp(names[at], it->string) < 0)
			at++;
		if (at < *n && !strcmp(names[at], it->string))
			continue;
		if (at >= max)
			continue;
		int last = *n < max ? *n : max - 1;
		for (int j = last; j > at; j--)
			memcpy(names[j], names[j - 1], MODEL_NAME_MAX);
		snprintf(names[at], MODEL_NAME_MAX, "%s", it->string);
		if (*n < max)
			(*n)++;
	}
}

reject_reason codec_sample_fields(const char *payload, size_t len, size_t max_len,
				  char (*names)[MODEL_NAME_MAX], int max, int *n, char *detail,
				  size_t detail_len)
{
	*n = 0;
	if (detail && detail_len)
		detail[0] = '\0';
	if (len > max_len) {
		iotad_errf(detail, detail_len, "payload of %zu bytes exceeds %zu", len, max_len);
		return REJ_OVERSIZE;
	}
	cJSON *root = payload ? cJSON_ParseWithLength(payload, len) : NULL;
	if (!root) {
		iotad_errf(detail, detail_len, "not JSON");
		return REJ_NOT_JSON;
	}
	reject_reason r = REJ_NONE;
	if (!cJSON_IsObject(root)) {
		iotad_errf(detail, detail_len, "payload is %s, not an object", codec_json_kind(root));
		r = REJ_NOT_OBJECT;
	} else {
		add_fields(root, names, max, n);
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(root, "values");
		if (cJSON_IsObject(values))
			add_fields(values, names, max, n);
		if (*n == 0) {
			iotad_errf(detail, detail_len, "no numeric field to learn the features from");
			r = REJ_MISSING_FEATURE;
		}
	}
	cJSON_Delete(root);
	return r;
}

/* Bounded writer over the caller's buffer; overflow is sticky. */
typedef struct jw {
	char *buf;
	size_t len, pos;
	bool full;
} jw;

static void jw_raw(jw *w, const char *s, size_t n)
{
	if (w->full || w->len - w->pos <= n) {
		w->full = true;
		return;
	}
	memcpy(w->buf + w->pos, s, n);
	w->pos += n;
	w->buf[w->pos] = '\0';
}

static void jw_lit(jw *w, const char *s)
{
	jw_raw(w, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void jw_fmt(jw *w, const char *fmt, ...)
{
	va_list ap;

	if (w->full)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(w->buf + w->pos, w->len - w->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->len - w->pos)
		w->full = true;
	else
		w->pos += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* A JSON string: quotes, escapes, invalid UTF-8 replaced by U+FFFD. */
static void jw_str(jw *w, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	jw_raw(w, "\"", 1);
	while (*s && !w->full) {
		size_t n = utf8_len(s);
		if (n == 0) {
			jw_lit(w, "\\ufffd");
			s++;
		} else if (*s == '"' || *s == '\\') {
			jw_raw(w, "\\", 1);
			jw_raw(w, (const char *)s++, 1);
		} else if (*s == '\n') {
			jw_lit(w, "\\n");
			s++;
		} else if (*s < 0x20) {
			jw_fmt(w, "\\u%04x", *s++);
		} else {
			jw_raw(w, (const char *)s, n);
			s += n;
		}
	}
	jw_raw(w, "\"", 1);
}

/* A number with prec significant digits (prec < 0: -prec decimals), or null. */
static void jw_num(jw *w, double v, int prec)
{
	if (isfinite(v) && prec < 0)
		jw_fmt(w, "%.*f", -prec, v);
	else if (isfinite(v))
		jw_fmt(w, "%.*g", prec, v);
	else
		jw_lit(w, "null");
}

int codec_top_features(const det_result *res, int nf, int *order)
{
	int n = 0;

	for (int i = 0; i < nf; i++) {
		/* insertion sort by descending share; ties keep feature order */
		if (!(res->contrib[i] > 0))
			continue;
		int j = n++;
		while (j > 0 && res->contrib[order[j - 1]] < res->contrib[i]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	return n;
}

int codec_format_event(char *buf, size_t len, const char *device, const char *state, double ts,
		       const det_result *res, const model *m)
{
	jw w = {buf, len, 0, len == 0};
	char when[40];
	bool scored = res && res->scored;
	int nf = m && m->n_features > 0 && m->n_features <= MODEL_MAX_FEATURES ? m->n_features : 0;

	if (!buf || !device || !state)
		return -1;
	if (len)
		buf[0] = '\0';
	timefmt_format_rfc3339(ts, when, sizeof when);
	jw_lit(&w, "{\"device\":");
	jw_str(&w, device);
	jw_lit(&w, ",\"state\":");
	jw_str(&w, state);
	jw_lit(&w, ",\"ts\":");
	jw_num(&w, ts, -3);
	jw_lit(&w, ",\"time\":");
	jw_str(&w, when);
	jw_lit(&w, ",\"score\":");
	jw_num(&w, scored ? res->score : NAN, 7);
	jw_lit(&w, ",\"threshold\":");
	jw_num(&w, scored ? res->threshold : NAN, 7);
	jw_lit(&w, ",\"contrib\":{");
	int order[MODEL_MAX_FEATURES], ntop = scored ? codec_top_features(res, nf, order) : 0;
	for (int i = 0; scored && i < nf; i++) {
		if (i)
			jw_raw(&w, ",", 1);
		jw_str(&w, m->features[i]);
		jw_raw(&w, ":", 1);
		jw_num(&w, res->contrib[i], 6);
	}
	jw_lit(&w, "},\"top\":[");
	for (int i = 0; i < ntop && i < 3; i++) {
		if (i)
			jw_raw(&w, ",", 1);
		jw_str(&w, m->features[order[i]]);
	}
	jw_lit(&w, "]");
	int n_stuck = 0;
	for (int i = 0; scored && i < nf; i++) {
		if (!(res->stuck >> i & 1u))
			continue;
		jw_lit(&w, n_stuck++ ? "," : ",\"stuck\":[");
		jw_str(&w, m->features[i]);
	}
	if (n_stuck)
		jw_lit(&w, "]");
	/* the channels that judged it anomalous, in channel order */
	int n_ch = 0;
	for (int c = 0; scored && c < DET_CH_COUNT; c++) {
		if (!(res->channels >> c & 1u))
			continue;
		jw_lit(&w, n_ch++ ? "," : ",\"channels\":[");
		jw_str(&w, det_channel_name(c));
	}
	if (n_ch)
		jw_lit(&w, "]");
	jw_lit(&w, ",\"model\":");
	if (m) {
		jw_lit(&w, "{\"id\":");
		jw_str(&w, m->id);
		jw_fmt(&w, ",\"version\":%d}", m->version);
	} else {
		jw_lit(&w, "null");
	}
	if (res && res->event == ALERT_EV_MUTED) {
		char until[40];
		timefmt_format_rfc3339(res->muted_until, until, sizeof until);
		jw_lit(&w, ",\"until\":");
		jw_num(&w, res->muted_until, -3);
		jw_lit(&w, ",\"until_time\":");
		jw_str(&w, until);
	}
	jw_fmt(&w, ",\"seq\":%llu}", (unsigned long long)(res ? res->seq : 0));
	if (w.full) {
		if (len)
			buf[0] = '\0';
		return -1;
	}
	return (int)w.pos;
}

/* Finish a jw document: its length, or -1 (and an empty buffer) on overflow. */
static int jw_end(jw *w)
{
	if (w->full) {
		if (w->len)
			w->buf[0] = '\0';
		return -1;
	}
	return (int)w->pos;
}

int codec_format_score(char *buf, size_t len, const char *device, double ts,
		       const det_result *res)
{
	jw w = {buf, len, 0, len == 0};

	if (!buf || !device || !res)
		return -1;
	jw_lit(&w, "{\"device\":");
	jw_str(&w, device);
	jw_lit(&w, ",\"ts\":");
	jw_num(&w, ts, -3);
	jw_lit(&w, ",\"score\":");
	jw_num(&w, res->score, 7);
	jw_lit(&w, ",\"threshold\":");
	jw_num(&w, res->threshold, 7);
	jw_lit(&w, res->anomalous ? ",\"anomalous\":true}" : ",\"anomalous\":false}");
	return jw_end(&w);
}

int codec_json_string(char *buf, size_t len, const char *s)
{
	jw w = {buf, len, 0, len == 0};

	if (!buf || !s)
		return -1;
	jw_str(&w, s);
	return jw_end(&w);
}
