/* fedcalmsg.c - the threshold messages of federated learning (see
 * fedcalmsg.h). */
#include "iotad/fedcalmsg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

static iotad_err fmt(char *buf, size_t len, size_t *out_len, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		return IOTAD_ERR_INVAL;
	*out_len = (size_t)n;
	return IOTAD_OK;
}

iotad_err fedcal_summary_encode(const fedcal_summary *s, char *buf, size_t len, size_t *out_len)
{
	if (!fedmsg_valid_id(s->model) || !fedmsg_valid_id(s->gateway) || !isfinite(s->threshold))
		return IOTAD_ERR_INVAL;
	size_t n;
	iotad_err rc = fmt(buf, len, &n,
			   "{\"model\":\"%s\",\"gateway\":\"%s\",\"round\":%u,\"hash\":\"%08x\","
			   "\"windows\":%u,\"threshold\":%.9g,\"q\":[", s->model, s->gateway, s->round,
			   s->hash, s->windows, (double)s->threshold);
	for (int i = 0; rc == IOTAD_OK && i < FEDCALMSG_NQ; i++) {
		size_t k;
		if (!isfinite(s->q[i]))
			return IOTAD_ERR_INVAL;
		rc = fmt(buf + n, len - n, &k, "%s%.9g", i ? "," : "", (double)s->q[i]);
		n += k;
	}
	if (rc == IOTAD_OK) {
		size_t k;
		rc = fmt(buf + n, len - n, &k, "]}");
		n += k;
	}
	*out_len = n;
	return rc;
}

iotad_err fedcal_global_encode(const fedcal_global *g, char *buf, size_t len, size_t *out_len)
{
	if (!fedmsg_valid_id(g->model) || !isfinite(g->threshold) || !isfinite(g->percentile))
		return IOTAD_ERR_INVAL;
	return fmt(buf, len, out_len,
		   "{\"model\":\"%s\",\"round\":%u,\"hash\":\"%08x\",\"threshold\":%.9g,"
		   "\"percentile\":%.9g,\"gateways\":%u,\"windows\":%u}", g->model, g->round,
		   g->hash, (double)g->threshold, (double)g->percentile, g->gateways, g->windows);
}

/* Field helpers: 0, or -1 with a message. */
static int get_id(const cJSON *o, const char *key, char *out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsString(v) || !fedmsg_valid_id(v->valuestring)) {
		snprintf(err, errlen, "\"%s\": expected an id (1..63 letters, digits, '-', '_', '.')",
			 key);
		return -1;
	}
	snprintf(out, FEDMSG_ID_MAX, "%s", v->valuestring);
	return 0;
}

static int get_num(const cJSON *o, const char *key, double max, double *out, char *err,
		   size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > max) {
		snprintf(err, errlen, "\"%s\": expected a number in [0, %g]", key, max);
		return -1;
	}
	*out = v->valuedouble;
	return 0;
}

static int get_u32(const cJSON *o, const char *key, uint32_t *out, char *err, size_t errlen)
{
	double d;
	if (get_num(o, key, 4294967295.0, &d, err, errlen))
		return -1;
	if (d != floor(d)) {
		snprintf(err, errlen, "\"%s\": expected a whole number", key);
		return -1;
	}
	*out = (uint32_t)d;
	return 0;
}

static int get_hash(const cJSON *o, uint32_t *out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "hash");
	unsigned h;
	char tail;
	if (!cJSON_IsString(v) || strlen(v->valuestring) != 8 ||
	    sscanf(v->valuestring, "%8x%c", &h, &tail) != 1) {
		snprintf(err, errlen, "\"hash\": expected 8 hex digits");
		return -1;
	}
	*out = h;
	return 0;
}

static cJSON *parse(const void *buf, size_t len, char *err, size_t errlen)
{
	if (len == 0 || len > FEDCALMSG_MAX) {
		snprintf(err, errlen, "%zu bytes (1..%d)", len, FEDCALMSG_MAX);
		return NULL;
	}
	cJSON *o = cJSON_ParseWithLength(buf, len);
	if (!cJSON_IsObject(o)) {
		snprintf(err, errlen, "not a JSON object");
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

iotad_err fedcal_summary_decode(const void *buf, size_t len, fedcal_summary *s, char *err,
				size_t errlen)
{
	memset(s, 0, sizeof *s);
	cJSON *o = parse(buf, len, err, errlen);
	if (!o)
		return IOTAD_ERR_PARSE;
	double t;
	int bad = get_id(o, "model", s->model, err, errlen) ||
		  get_id(o, "gateway", s->gateway, err, errlen) ||
		  get_u32(o, "round", &s->round, err, errlen) || get_hash(o, &s->hash, err, errlen) ||
		  get_u32(o, "windows", &s->windows, err, errlen) ||
		  get_num(o, "threshold", 1e30, &t, err, errlen);
	if (!bad && s->windows == 0) {
		snprintf(err, errlen, "\"windows\": 0");
		bad = 1;
	}
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "q");
	if (!bad && (!cJSON_IsArray(q) || cJSON_GetArraySize(q) != FEDCALMSG_NQ)) {
		snprintf(err, errlen, "\"q\": expected %d quantiles", FEDCALMSG_NQ);
		bad = 1;
	}
	for (int i = 0; !bad && i < FEDCALMSG_NQ; i++) {
		const cJSON *v = cJSON_GetArrayItem(q, i);
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
		    v->valuedouble > 1e30 || (i > 0 && (float)v->valuedouble < s->q[i - 1])) {
			snprintf(err, errlen, "\"q\": quantile %d is not a finite, non-negative, "
				 "non-decreasing number", i);
			bad = 1;
		} else {
			s->q[i] = (float)v->valuedouble;
		}
	}
	s->threshold = (float)t;
	cJSON_Delete(o);
	return bad ? IOTAD_ERR_PARSE : IOTAD_OK;
}

iotad_err fedcal_global_decode(const void *buf, size_t len, fedcal_global *g, char *err,
			       size_t errlen)
{
	memset(g, 0, sizeof *g);
	cJSON *o = parse(buf, len, err, errlen);
	if (!o)
		return IOTAD_ERR_PARSE;
	double t = 0, p = 0;
	int bad = get_id(o, "model", g->model, err, errlen) ||
		  get_u32(o, "round", &g->round, err, errlen) || get_hash(o, &g->hash, err, errlen) ||
		  get_num(o, "threshold", 1e30, &t, err, errlen) ||
		  get_num(o, "percentile", 100, &p, err, errlen) ||
		  get_u32(o, "gateways", &g->gateways, err, errlen) ||
		  get_u32(o, "windows", &g->windows, err, errlen);
	if (!bad && !(t > 0)) {
		snprintf(err, errlen, "\"threshold\": must be > 0");
		bad = 1;
	}
	g->threshold = (float)t;
	g->percentile = (float)p;
	cJSON_Delete(o);
	return bad ? IOTAD_ERR_PARSE : IOTAD_OK;
}

iotad_err fedcal_topic_calib(const char *prefix, const char *mid, const char *gateway, char *buf,
			     size_t len)
{
	int n = snprintf(buf, len, "%s/%s/calib/%s", prefix, mid, gateway);
	return n < 0 || (size_t)n >= len ? IOTAD_ERR_INVAL : IOTAD_OK;
}

iotad_err fedcal_topic_threshold(const char *prefix, const char *mid, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s/threshold", prefix, mid);
	return n < 0 || (size_t)n >= len ? IOTAD_ERR_INVAL : IOTAD_OK;
}

bool fedcal_topic_gateway(const char *prefix, const char *mid, const char *t, size_t tlen,
			  char *gw)
{
	char head[600];
	if (fedcal_topic_calib(prefix, mid, "", head, sizeof head))
		return false;
	size_t hl = strlen(head);
	if (tlen <= hl || memcmp(t, head, hl) != 0 || tlen - hl >= FEDMSG_ID_MAX)
		return false;
	memcpy(gw, t + hl, tlen - hl);
	gw[tlen - hl] = '\0';
	return fedmsg_valid_id(gw);
}
