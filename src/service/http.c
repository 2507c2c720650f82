/* http.c - the HTTP door: health, readiness, Prometheus metrics, scoring
 * of posted windows, and the live page fed by Server-Sent Events.
 *
 * Threads: libmicrohttpd runs one thread per connection. /v1/score uses a
 * detector of its own (det is not thread-safe; the scorer's stays the
 * scorer's) under score_lock. The live page state (devices, sparklines,
 * latest alerts, and a ring of SSE events that every stream reads at its
 * own pace) is guarded by lock; the scorer only ever try-locks it for a
 * score update, so a busy page loses a point rather than slowing scoring.
 * A stream that falls a whole ring behind is closed (its browser
 * reconnects and reloads the snapshot). */
#include "iotad/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "iotad/addr.h"
#include "iotad/api.h"
#include "iotad/codec.h"
#include "iotad/log.h"

/* src/page.html, embedded at build time (see src/meson.build). */
extern const char http_page[];
extern const size_t http_page_len;

#define SSE_SLOTS 512
#define SSE_EVENT_MAX 2400      /* "event: alert\ndata: " + an event of up to 2 KB */
#define ALERT_MAX 2048
#define LIVE_INDEX (2 * HTTP_LIVE_DEVICES)
#define SSE_PING_S 10
#define MAX_CONNECTIONS 64u

typedef struct live_point {
	float score, thr;
} live_point;

typedef struct live_dev {
	char id[DET_DEVICE_ID_MAX];
	const char *state;      /* normal | raised | stale */
	double next;            /* monotonic time from which the next score is kept */
	uint32_t head, n;       /* ring of points */
	live_point pts[HTTP_LIVE_POINTS];
} live_dev;

typedef struct sse_slot {
	uint32_t len;
	char text[SSE_EVENT_MAX];
} sse_slot;

typedef struct alert_slot {
	uint32_t len;
	char json[ALERT_MAX];
} alert_slot;

struct http {
	http_opts o;
	struct MHD_Daemon *d;
	uint16_t port;
	double started;
	det_config dc;                 /* /v1/score's configuration: the service's (o.det) */
	det *det;                      /* for /v1/score only */
	pthread_mutex_t score_lock;    /* guards det and o.m (swapped by http_set_model) */
	/* live page, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;           /* an SSE event was added, or stopping */
	bool stopping;
	live_dev *devs;
	uint32_t n_devs;
	int32_t index[LIVE_INDEX];     /* open addressing over devs, -1 empty */
	uint64_t hidden;               /* devices beyond HTTP_LIVE_DEVICES */
	alert_slot *alerts;
	uint32_t alert_head, n_alerts;
	sse_slot *ring;
	uint64_t seq;                  /* SSE events written; event i is in ring[i % SSE_SLOTS] */
	int clients;
	_Atomic uint64_t dropped_samples;
};

/* One POST being received. */
typedef struct http_req {
	char *body;
	size_t len;
	bool too_big;
} http_req;

typedef struct sse_client {
	http *h;
	uint64_t seq;
	uint32_t off;                  /* bytes of event seq already sent */
	bool hello;
	int fd;                        /* the connection's socket, -1 if unknown */
} sse_client;

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* --- listen address ------------------------------------------------------ */


/* --- live page state ------------------------------------------------------ */

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The device's entry, created if there is room. Under lock. */
static live_dev *live_find(http *h, const char *device)
{
	uint32_t i = hash(device) % LIVE_INDEX;
	while (h->index[i] >= 0) {
		live_dev *d = &h->devs[h->index[i]];
		if (strcmp(d->id, device) == 0)
			return d;
		i = (i + 1) % LIVE_INDEX;
	}
	if (h->n_devs == HTTP_LIVE_DEVICES || strlen(device) >= DET_DEVICE_ID_MAX) {
		h->hidden++;
		return NULL;
	}
	live_dev *d = &h->devs[h->n_devs];
	h->index[i] = (int32_t)h->n_devs++;
	snprintf(d->id, sizeof d->id, "%s", device);
	d->state = "normal";
	return d;
}

/* Append one SSE event to the ring. Under lock. */
static void sse_push(http *h, const char *type, const char *json, size_t len)
{
	sse_slot *s = &h->ring[h->seq % SSE_SLOTS];
	int n = snprintf(s->text, sizeof s->text, "event: %s\ndata: %.*s\n\n", type, (int)len, json);
	if (n < 0 || (size_t)n >= sizeof s->text)
		return;
	s->len = (uint32_t)n;
	h->seq++;
}

void http_sample(http *h, const char *device, double ts, const det_result *res)
{
	char json[512];

	if (!h || !h->devs || !res->scored)
		return;
	double now = mono_now();
	if (pthread_mutex_trylock(&h->lock) != 0) {
		atomic_fetch_add_explicit(&h->dropped_samples, 1, memory_order_relaxed);
		return;
	}
	live_dev *d = live_find(h, device);
	bool added = false;
	if (d && now >= d->next) {
		d->next = now + h->o.sample_interval;
		d->pts[d->head] = (live_point){res->score, res->threshold};
		d->head = (d->head + 1) % HTTP_LIVE_POINTS;
		if (d->n < HTTP_LIVE_POINTS)
			d->n++;
		int n = codec_format_score(json, sizeof json, device, ts, res);
		if (n > 0) {
			sse_push(h, "score", json, (size_t)n);
			added = true;
		}
	}
	pthread_mutex_unlock(&h->lock);
	if (added)
		pthread_cond_broadcast(&h->cond);
}

void http_event(http *h, const char *device, const char *state, const char *json, size_t len)
{
	if (!h || !h->devs || len >= ALERT_MAX)
		return;
	pthread_mutex_lock(&h->lock);
	live_dev *d = live_find(h, device);
	if (d)
		d->state = !strcmp(state, "raised") ? "raised" : !strcmp(state, "stale") ? "stale"
											    : "normal";
	alert_slot *a = &h->alerts[h->alert_head];
	memcpy(a->json, json, len);
	a->len = (uint32_t)len;
	h->alert_head = (h->alert_head + 1) % HTTP_LIVE_ALERTS;
	if (h->n_alerts < HTTP_LIVE_ALERTS)
		h->n_alerts++;
	sse_push(h, "alert", json, len);
	pthread_mutex_unlock(&h->lock);
	pthread_cond_broadcast(&h->cond);
}

static void write_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

/* GET /v1/devices: what the page shows, as one JSON document. */
static void write_devices(http *h, FILE *f)
{
	char name[2 * DET_DEVICE_ID_MAX + 8];

	pthread_mutex_lock(&h->score_lock);
	const model *m = h->o.m;
	codec_json_string(name, sizeof name, m->id);
	fprintf(f, "{\"model\":{\"id\":%s,\"version\":%d,\"window\":%d,\"threshold\":", name,
		m->version, m->window);
	write_num(f, m->threshold);
	pthread_mutex_unlock(&h->score_lock);
	pthread_mutex_lock(&h->lock);
	fprintf(f, "},\"hidden\":%llu,\"devices\":[", (unsigned long long)h->hidden);
	for (uint32_t i = 0; i < h->n_devs; i++) {
		const live_dev *d = &h->devs[i];
		codec_json_string(name, sizeof name, d->id);
		fprintf(f, "%s{\"device\":%s,\"state\":\"%s\",\"points\":[", i ? "," : "", name,
			d->state);
		uint32_t first = (d->head + HTTP_LIVE_POINTS - d->n) % HTTP_LIVE_POINTS;
		for (uint32_t k = 0; k < d->n; k++) {
			const live_point *p = &d->pts[(first + k) % HTTP_LIVE_POINTS];
			fputs(k ? ",[" : "[", f);
			write_num(f, p->score);
			fputc(',', f);
			write_num(f, p->thr);
			fputc(']', f);
		}
		fputs("]}", f);
	}
	fputs("],\"alerts\":[", f);
	for (uint32_t k = 0; k < h->n_alerts; k++) { /* newest first */
		const alert_slot *a =
			&h->alerts[(h->alert_head + HTTP_LIVE_ALERTS - 1 - k) % HTTP_LIVE_ALERTS];
		if (k)
			fputc(',', f);
		fwrite(a->json, 1, a->len, f);
	}
	pthread_mutex_unlock(&h->lock);
	fputs("]}", f);
}

/* --- Server-Sent Events -------------------------------------------------- */

/* The browser closed its end (a write would only notice a ping or two later). */
static bool peer_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	sse_client *c = cls;
	http *h = c->h;
	size_t n = 0;

	(void)pos;
	pthread_mutex_lock(&h->lock);
	if (!c->hello) {
		c->hello = true;
		pthread_mutex_unlock(&h->lock);
		static const char hello[] = "retry: 2000\n\n";
		n = sizeof hello - 1 < max ? sizeof hello - 1 : max;
		memcpy(buf, hello, n);
		return (ssize_t)n;
	}
	/* Wait for an event, a second at a time so a closed stream is noticed. */
	bool gone = false;
	for (int s = 0; s < SSE_PING_S && c->seq == h->seq && !h->stopping && !gone; s++) {
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += 1;
		while (c->seq == h->seq && !h->stopping &&
		       pthread_cond_timedwait(&h->cond, &h->lock, &dl) != ETIMEDOUT)
			;
		gone = peer_gone(c->fd);
	}
	if (gone) {
		pthread_mutex_unlock(&h->lock);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (h->stopping) {
		pthread_mutex_unlock(&h->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (h->seq - c->seq > SSE_SLOTS) {
		pthread_mutex_unlock(&h->lock);
		LOG_RATELIMITED(LOG_WARN, "http: closing an event stream %s", "that fell behind");
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (c->seq == h->seq) {
		pthread_mutex_unlock(&h->lock);
		static const char ping[] = ": ping\n\n";
		n = sizeof ping - 1 < max ? sizeof ping - 1 : max;
		memcpy(buf, ping, n);
		return (ssize_t)n;
	}
	while (c->seq < h->seq && n < max) {
		const sse_slot *s = &h->ring[c->seq % SSE_SLOTS];
		size_t k = s->len - c->off;
		if (k > max - n)
			k = max - n;
		memcpy(buf + n, s->text + c->off, k);
		n += k;
		c->off += (uint32_t)k;
		if (c->off == s->len) {
			c->seq++;
			c->off = 0;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	sse_client *c = cls;
	pthread_mutex_lock(&c->h->lock);
	c->h->clients--;
	pthread_mutex_unlock(&c->h->lock);
	free(c);
}

/* --- responses ----------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     const char *body, size_t len, enum MHD_ResponseMemoryMode mode,
			     const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, char *text)
{
	if (!text)
		return MHD_NO;
	return reply(conn, status, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE,
		     NULL);
}

/* {"error": msg} with status; allow names the methods for a 405. */
static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status, const char *allow,
				   const char *fmt, ...)
{
	char msg[512], quoted[1100], body[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (codec_json_string(quoted, sizeof quoted, msg) < 0)
		snprintf(quoted, sizeof quoted, "\"error\"");
	int n = snprintf(body, sizeof body, "{\"error\":%s,\"status\":%u}", quoted, status);
	return reply(conn, status, "application/json", body, (size_t)n, MHD_RESPMEM_MUST_COPY,
		     allow);
}

/* Run w(h, f) into a memory stream and send it. */
static enum MHD_Result reply_stream(struct MHD_Connection *conn, http *h, const char *type,
				    void (*w)(http *, FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return MHD_NO;
	w(h, f);
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad) {
		free(buf);
		return reply_error(conn, 500, NULL, "out of memory");
	}
	return reply(conn, 200, type, buf, len, MHD_RESPMEM_MUST_FREE, NULL);
}

static void snapshot(http *h, met_snapshot *s)
{
	memset(s, 0, sizeof *s);
	if (h->o.metrics)
		h->o.metrics(h->o.ud, s);
}

static void write_metrics(http *h, FILE *f)
{
	met_snapshot s;
	snapshot(h, &s);
	met_write_prometheus(f, &s);
	fprintf(f, "# HELP iotad_http_live_dropped_total Live page score updates dropped because "
		   "the page state was busy.\n# TYPE iotad_http_live_dropped_total counter\n"
		   "iotad_http_live_dropped_total %llu\n",
		(unsigned long long)atomic_load(&h->dropped_samples));
}

static enum MHD_Result do_health(struct MHD_Connection *conn, http *h)
{
	char body[160];
	int n = snprintf(body, sizeof body,
			 "{\"status\":\"ok\",\"version\":\"%s\",\"uptime_seconds\":%.3f}",
			 IOTAD_VERSION, mono_now() - h->started);
	return reply(conn, 200, "application/json", body, (size_t)n, MHD_RESPMEM_MUST_COPY, NULL);
}

static enum MHD_Result do_ready(struct MHD_Connection *conn, http *h)
{
	met_snapshot s;
	char body[160];
	snapshot(h, &s);
	bool ready = s.connected && s.model_loaded;
	int n = snprintf(body, sizeof body,
			 "{\"ready\":%s,\"broker_connected\":%s,\"model_loaded\":%s}",
			 ready ? "true" : "false", s.connected ? "true" : "false",
			 s.model_loaded ? "true" : "false");
	return reply(conn, ready ? 200 : 503, "application/json", body, (size_t)n,
		     MHD_RESPMEM_MUST_COPY, NULL);
}

static enum MHD_Result do_events(struct MHD_Connection *conn, http *h)
{
	pthread_mutex_lock(&h->lock);
	bool full = h->clients >= HTTP_SSE_CLIENTS;
	uint64_t seq = h->seq;
	if (!full)
		h->clients++;
	pthread_mutex_unlock(&h->lock);
	if (full)
		return reply_error(conn, 503, NULL, "too many event streams (at most %d)",
				   HTTP_SSE_CLIENTS);
	sse_client *c = calloc(1, sizeof *c);
	struct MHD_Response *r = NULL;
	if (c) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->h = h;
		c->seq = seq;
		c->fd = ci ? ci->connect_fd : -1;
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, c, sse_free);
	}
	if (!r) {
		free(c);
		pthread_mutex_lock(&h->lock);
		h->clients--;
		pthread_mutex_unlock(&h->lock);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* The one-device detector behind /v1/score (it scores whole windows),
 * configured as the service's. */
static iotad_err score_det(const http *h, const model *m, det **out)
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
	api_score_req sr;

	*status = 500;
	iotad_err e = api_parse_score(q->body ? q->body : "", q->len, m, &sr, err, errlen);
	if (e != IOTAD_OK) {
		if (e == IOTAD_ERR_NOMEM)
			snprintf(err, errlen, "out of memory");
		else
			*status = 400;
		return NULL;
	}
	size_t nwin = sr.batch ? api_window_count(m, sr.n_samples) : 1;
	size_t stride = m->stride > 0 ? (size_t)m->stride : 1;
	size_t F = (size_t)m->n_features, W = (size_t)m->window;
	det_result *res = malloc(nwin * sizeof *res);
	if (!res)
		snprintf(err, errlen, "out of memory");
	for (size_t i = 0; res && i < nwin && e == IOTAD_OK; i++)
		e = det_score_window(h->det, sr.raw + i * stride * F, W * F, &res[i]);
	char *text = res && e == IOTAD_OK ? api_format_score(m, res, nwin, sr.batch) : NULL;
	if (res && !text)
		snprintf(err, errlen, "scoring failed: %s", iotad_strerror(e));
	free(res);
	api_score_req_free(&sr);
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
		return reply_error(conn, status, NULL, "%s", err);
	return reply_json(conn, 200, text);
}

iotad_err http_set_model(http *h, const model *m)
{
	if (!h || !m)
		return IOTAD_ERR_INVAL;
	det *nd = NULL;
	iotad_err e = score_det(h, m, &nd);
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

static bool is_get(const char *method)
{
	return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
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
	if (ct && !is_json_type(ct))
		return reply_error(conn, 415, NULL, "Content-Type must be application/json, got '%s'",
				   ct);
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
	char *end;
	unsigned long long want = cl ? strtoull(cl, &end, 10) : 0;
	/* With Expect: 100-continue the client waits, so answering now is clean;
	 * without it the body is read and dropped before answering. */
	if (cl && expect && !strcasecmp(expect, "100-continue") && want > h->o.max_body)
		return reply_error(conn, 413, NULL, "body larger than %zu bytes", h->o.max_body);
	http_req *q = calloc(1, sizeof *q);
	if (!q)
		return MHD_NO;
	*con_cls = q;
	return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	http *h = cls;
	(void)version;

	if (!strcmp(url, "/v1/score")) {
		if (strcmp(method, MHD_HTTP_METHOD_POST))
			return reply_error(conn, 405, "POST", "use POST for %s", url);
		http_req *q = *con_cls;
		if (!q)
			return score_begin(conn, h, con_cls);
		if (*upload_size) {
			if (!q->too_big && q->len + *upload_size <= h->o.max_body) {
				char *nb = realloc(q->body, q->len + *upload_size + 1);
				if (!nb)
					return MHD_NO;
				q->body = nb;
				memcpy(q->body + q->len, upload, *upload_size);
				q->len += *upload_size;
			} else {
				q->too_big = true;
			}
			*upload_size = 0;
			return MHD_YES;
		}
		if (q->too_big)
			return reply_error(conn, 413, NULL, "body larger than %zu bytes",
					   h->o.max_body);
		return do_score(conn, h, q);
	}

	bool page = h->o.page && (!strcmp(url, "/") || !strcmp(url, "/index.html") ||
				  !strcmp(url, "/v1/devices") || !strcmp(url, "/events"));
	bool known = page || !strcmp(url, "/healthz") || !strcmp(url, "/readyz") ||
		     !strcmp(url, "/metrics");
	if (!known)
		return reply_error(conn, 404, NULL, "no such resource: %s", url);
	if (!is_get(method))
		return reply_error(conn, 405, "GET, HEAD", "use GET for %s", url);
	if (!strcmp(url, "/healthz"))
		return do_health(conn, h);
	if (!strcmp(url, "/readyz"))
		return do_ready(conn, h);
	if (!strcmp(url, "/metrics"))
		return reply_stream(conn, h, "text/plain; version=0.0.4; charset=utf-8",
				    write_metrics);
	if (!strcmp(url, "/v1/devices"))
		return reply_stream(conn, h, "application/json", write_devices);
	if (!strcmp(url, "/events"))
		return do_events(conn, h);
	return reply(conn, 200, "text/html; charset=utf-8", http_page, http_page_len,
		     MHD_RESPMEM_PERSISTENT, NULL);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	http_req *q = *con_cls;
	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	LOG_RATELIMITED(LOG_WARN, "http: %s", msg);
}

/* --- lifecycle ----------------------------------------------------------- */

iotad_err http_create(const http_opts *o, http **out)
{
	char host[64], err[160];
	uint16_t port;

	*out = NULL;
	if (!o->m || addr_parse_listen(o->listen, host, sizeof host, &port, err, sizeof err) != 0)
		return IOTAD_ERR_INVAL;
	http *h = calloc(1, sizeof *h);
	if (!h)
		return IOTAD_ERR_NOMEM;
	h->o = *o;
	if (h->o.sample_interval <= 0)
		h->o.sample_interval = 0.5;
	h->started = mono_now();
	pthread_mutex_init(&h->score_lock, NULL);
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (int i = 0; i < LIVE_INDEX; i++)
		h->index[i] = -1;

	if (o->det)
		h->dc = *o->det;
	else
		det_config_default(&h->dc);
	h->o.det = NULL; /* borrowed only until here */
	iotad_err e = score_det(h, o->m, &h->det);
	if (e == IOTAD_OK && o->page) {
		h->devs = calloc(HTTP_LIVE_DEVICES, sizeof *h->devs);
		h->alerts = calloc(HTTP_LIVE_ALERTS, sizeof *h->alerts);
		h->ring = calloc(SSE_SLOTS, sizeof *h->ring);
		if (!h->devs || !h->alerts || !h->ring)
			e = IOTAD_ERR_NOMEM;
	}
	if (e != IOTAD_OK) {
		http_destroy(h);
		return e;
	}

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	bool v6 = o->listen[0] == '[';
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, host, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, host, &a->sin_addr);
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	h->d = MHD_start_daemon(flags, port, NULL, NULL, handler, h,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(3 * SSE_PING_S),
				MHD_OPTION_NOTIFY_COMPLETED, completed, h,
				MHD_OPTION_END);
	if (!h->d) {
		LOG_ERR("http: cannot listen on %s", o->listen);
		http_destroy(h);
		return IOTAD_ERR_IO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : port;
	LOG_INFO("http: listening on %s (port %u)%s", o->listen, h->port,
		 o->page ? ", live page at /" : "");
	*out = h;
	return IOTAD_OK;
}

uint16_t http_port(const http *h)
{
	return h ? h->port : 0;
}

void http_destroy(http *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_mutex_unlock(&h->lock);
	pthread_cond_broadcast(&h->cond);
	if (h->d)
		MHD_stop_daemon(h->d);
	det_destroy(h->det);
	free(h->devs);
	free(h->alerts);
	free(h->ring);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->score_lock);
	free(h);
}
