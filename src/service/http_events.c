/* http_events.c - the live page's data over HTTP: GET /v1/devices and the
 * GET /events server-sent event stream. libmicrohttpd's polling thread must
 * never block, so a stream with nothing to send is suspended and a ticker
 * thread resumes the suspended ones every SSE_TICK_MS. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_int.h"
#include "iotad/clock.h"
#include "iotad/codec.h"

void http_write_devices(http *h, FILE *f)
{
	char name[2 * MODEL_NAME_MAX + 8];

	pthread_mutex_lock(&h->score_lock);
	const model *m = h->o.m;
	codec_json_string(name, sizeof name, m ? m->id : "zero-config");
	fprintf(f, "{\"model\":{\"id\":%s,\"version\":%d,\"window\":%d,\"threshold\":", name,
		m ? m->version : 0, m ? m->window : 0);
	if (m && isfinite(m->threshold))
		fprintf(f, "%.6g", m->threshold);
	else
		fputs("null", f);
	pthread_mutex_unlock(&h->score_lock);
	fputs("},", f);
	live_write_devices(h->live, f);
	fputc('}', f);
}

/* The event stream of one /events connection (libmicrohttpd's callbacks).
 * Never blocks the polling thread: with nothing due the connection is
 * suspended until the ticker resumes it. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	sse_conn *s = cls;
	http *h = s->h;
	(void)pos;
	ssize_t n = live_stream_poll(s->c, buf, max);
	if (n == LIVE_STREAM_END)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n == LIVE_STREAM_ERROR)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n > 0)
		return n;
	pthread_mutex_lock(&h->sse_lock);
	if (h->stopping) {
		pthread_mutex_unlock(&h->sse_lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	s->next = h->suspended;
	h->suspended = s;
	MHD_suspend_connection(s->conn);
	pthread_mutex_unlock(&h->sse_lock);
	return 0;
}

static void sse_free(void *cls)
{
	sse_conn *s = cls;
	live_stream_close(s->c);
	free(s);
}

void http_sse_resume_all(http *h)
{
	pthread_mutex_lock(&h->sse_lock);
	sse_conn *s = h->suspended;
	h->suspended = NULL;
	pthread_mutex_unlock(&h->sse_lock);
	while (s) {
		sse_conn *next = s->next; /* s may be suspended again at once */
		MHD_resume_connection(s->conn);
		s = next;
	}
}

void *http_sse_ticker(void *arg)
{
	http *h = arg;
	pthread_mutex_lock(&h->sse_lock);
	while (!h->stopping) {
		struct timespec dl;
		clock_deadline_ms(&dl, SSE_TICK_MS);
		pthread_cond_timedwait(&h->sse_cond, &h->sse_lock, &dl);
		pthread_mutex_unlock(&h->sse_lock);
		http_sse_resume_all(h);
		pthread_mutex_lock(&h->sse_lock);
	}
	pthread_mutex_unlock(&h->sse_lock);
	return NULL;
}

enum MHD_Result http_do_events(struct MHD_Connection *conn, http *h)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	live_stream *c = live_stream_open(h->live, ci ? ci->connect_fd : -1);
	if (!c)
		return http_reply_error(conn, 503, NULL, "too many event streams (at most %d)",
				   LIVE_STREAMS);
	sse_conn *s = calloc(1, sizeof *s);
	struct MHD_Response *r = s ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
								       sse_read, s, sse_free) : NULL;
	if (!r) {
		live_stream_close(c);
		free(s);
		return MHD_NO;
	}
	*s = (sse_conn){.h = h, .c = c, .conn = conn};
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}
