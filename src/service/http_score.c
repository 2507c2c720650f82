/* http_score.c - POST /v1/score: a window (or a batch) of samples scored
 * with the service's model and detector configuration by a one-device
 * detector of its own, swapped on a model reload. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"
#include "iotad/scoreapi.h"

static const char *const score_rej_names[SCORE_REJ__COUNT] = {
	"bad_body", "duplicate_key", "media_type", "too_large"};

static void score_rejected(http *h, enum score_rej why)
{
	atomic_fetch_add_explicit(&h->score_rejected[why], 1, memory_order_relaxed);
}

iotad_err http_score_det(const http *h, const model *m, det **out)
{
	det_config dc = h->dc;
	dc.max_devices = 1;
	return det_create(m, &dc, out);
}

/* Parse, score and format one request with the current model; the caller
 * holds score_lock, so a reload cannot free the model in between. Returns
 * the reply text, or NULL with status and message set. */
static char *score_locked(http *h, const http_req *q, unsigned *status, char *err,
			  size_t errlen)
{
	const model *m = h->o.m;
	scoreapi_req sr;

	*status = 500;
	if (!m) {
		*status = 409;
		snprintf(err, errlen, "zero-config mode has no model to score windows with; "
			 "devices are judged live against their own normal");
		return NULL;
	}
	iotad_err e = scoreapi_parse(q->body ? q->body : "", q->len, m, &sr, err, errlen);
	if (e != IOTAD_OK) {
		if (e == IOTAD_ERR_NOMEM) {
			snprintf(err, errlen, "out of memory");
		} else {
			*status = 400;
			score_rejected(h, e == IOTAD_ERR_DUPLICATE ? SCORE_REJ_DUPLICATE_KEY :
				       SCORE_REJ_BAD_BODY);
		}
		return NULL;
	}
	size_t nwin = sr.batch ? scoreapi_window_count(m, sr.n_samples) : 1;
	size_t stride = m->stride > 0 ? (size_t)m->stride : 1;
	size_t F = (size_t)m->n_features, W = (size_t)m->window;
	det_result *res = malloc(nwin * sizeof *res);
	if (!res)
		snprintf(err, errlen, "out of memory");
	for (size_t i = 0; res && i < nwin && e == IOTAD_OK; i++)
		e = det_score_window(h->det, sr.raw + i * stride * F, W * F, &res[i]);
	char *text = res && e == IOTAD_OK ? scoreapi_format(m, res, nwin, sr.batch) : NULL;
	if (res && !text)
		snprintf(err, errlen, "scoring failed: %s", iotad_strerror(e));
	free(res);
	scoreapi_req_free(&sr);
	return text;
}

static enum MHD_Result do_score(struct MHD_Connection *conn, http *h, const http_req *q)
{
	char err[300];
	unsigned status;

	pthread_mutex_lock(&h->score_lock);
	char *text = score_locked(h, q, &status, err, sizeof err);
	pthread_mutex_unlock(&h->score_lock);
	if (!text)
		return http_reply_error(conn, status, NULL, "%s", err);
	return http_reply(conn, 200, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE,
			  NULL);
}

iotad_err http_set_model(http *h, const model *m)
{
	if (!h || !m)
		return IOTAD_ERR_INVAL;
	det *nd = NULL;
	iotad_err e = http_score_det(h, m, &nd);
	if (e != IOTAD_OK)
		return e;
	pthread_mutex_lock(&h->score_lock);
	det *old = h->det;
	h->det = nd;
	h->o.m = m;
	pthread_mutex_unlock(&h->score_lock);
	det_destroy(old);
	return IOTAD_OK;
}

/* application/json, optionally with parameters (e.g. ; charset=utf-8). */
static bool is_json_type(const char *ct)
{
	size_t n = strlen("application/json");
	return !strncasecmp(ct, "application/json", n) && (ct[n] == '\0' || ct[n] == ';' ||
							   ct[n] == ' ');
}

/* First call of a POST /v1/score: refuse early what can be refused from
 * the headers, else start collecting the body. */
static enum MHD_Result score_begin(struct MHD_Connection *conn, http *h, void **con_cls)
{
	const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	if (!ct || !is_json_type(ct)) {
		score_rejected(h, SCORE_REJ_MEDIA_TYPE);
		return http_reply_error(conn, 415, NULL, "Content-Type must be application/json, got %s%s%s",
				   ct ? "'" : "", ct ? ct : "none", ct ? "'" : "");
	}
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
	char *end;
	unsigned long long want = cl ? strtoull(cl, &end, 10) : 0;
	/* With Expect: 100-continue the client waits, so answering now is clean;
	 * without it the body is read and dropped before answering. */
	if (cl && expect && !strcasecmp(expect, "100-continue") && want > h->o.max_body) {
		score_rejected(h, SCORE_REJ_TOO_LARGE);
		return http_reply_error(conn, 413, NULL, "body larger than %zu bytes", h->o.max_body);
	}
	http_req *q = calloc(1, sizeof *q);
	if (!q)
		return MHD_NO;
	*con_cls = q;
	return MHD_YES;
}


enum MHD_Result http_do_score(struct MHD_Connection *conn, http *h, void **con_cls,
			      const char *upload, size_t *upload_size)
{
	http_req *q = *con_cls;
	if (!q)
		return score_begin(conn, h, con_cls);
	if (*upload_size)
		return http_req_append(q, h->o.max_body, upload, upload_size);
	if (q->too_big) {
		score_rejected(h, SCORE_REJ_TOO_LARGE);
		return http_reply_error(conn, 413, NULL, "body larger than %zu bytes", h->o.max_body);
	}
	return do_score(conn, h, q);
}

void http_write_score_rejected(http *h, FILE *f)
{
	fputs("# HELP iotad_http_score_rejected_total POST /v1/score requests refused, by reason.\n"
	      "# TYPE iotad_http_score_rejected_total counter\n", f);
	for (int r = 0; r < SCORE_REJ__COUNT; r++)
		fprintf(f, "iotad_http_score_rejected_total{reason=\"%s\"} %llu\n",
			score_rej_names[r], (unsigned long long)atomic_load(&h->score_rejected[r]));
}
