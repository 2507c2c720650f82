/* http_int.h - private to the HTTP server (http*.c): the server's state,
 * its reply helpers, and what the event stream (http_events.c) and the
 * score API (http_score.c) give the request handler (http.c). Only these
 * files include microhttpd.h. */
#ifndef IOTAD_HTTP_INT_H
#define IOTAD_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include <microhttpd.h>

#include "iotad/http.h"
#include "iotad/live.h"

/* One polling thread (epoll) serves every connection: an idle or slow
 * client costs a socket, not a thread, so /healthz and /metrics answer
 * while hundreds hold connections. At most this many at once (fewer if
 * the descriptor limit is lower); event streams have their own cap
 * (LIVE_STREAMS) within it. */
#define MAX_CONNECTIONS 1024u
#define HTTP_IDLE_TIMEOUT_S 10u     /* a connection silent this long is closed */
#define SSE_TICK_MS 250             /* suspended event streams are asked again this often */

/* Why a POST /v1/score was refused (iotad_http_score_rejected_total). */
enum score_rej { SCORE_REJ_BAD_BODY, SCORE_REJ_DUPLICATE_KEY, SCORE_REJ_MEDIA_TYPE,
		 SCORE_REJ_TOO_LARGE, SCORE_REJ__COUNT };
struct http {
	http_opts o;
	struct MHD_Daemon *d;
	uint16_t port;
	double started;
	det_config dc;                 /* /v1/score's configuration: the service's (o.det) */
	det *det;                      /* for /v1/score only */
	pthread_mutex_t score_lock;    /* guards det and o.m (swapped by http_set_model) */
	live *live;                    /* the live page's state; NULL without the page */
	_Atomic uint64_t cmd_rejected[CMD__COUNT]; /* commands refused before the service saw them */
	_Atomic uint64_t score_rejected[SCORE_REJ__COUNT]; /* POST /v1/score refused, by reason */
	pthread_mutex_t sse_lock;      /* guards suspended and stopping */
	pthread_cond_t sse_cond;       /* stopping */
	struct sse_conn *suspended;    /* event streams waiting for something to send */
	bool stopping;
	bool ticker_started;
	pthread_t ticker;              /* resumes the suspended streams every SSE_TICK_MS */
};

/* One /events connection: its live stream, suspended while nothing is due. */
typedef struct sse_conn {
	http *h;
	live_stream *c;
	struct MHD_Connection *conn;
	struct sse_conn *next;         /* on h->suspended */
} sse_conn;

/* One POST being received. */
typedef struct http_req {
	char *body;
	size_t len;
	bool too_big;
} http_req;

/* Queues a reply of len bytes of body with the headers every reply has
 * (allow: the Allow header of a 405, or NULL); mode says who owns body. */
enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned status, const char *type,
			   const char *body, size_t len, enum MHD_ResponseMemoryMode mode,
			   const char *allow);
/* {"error": msg, "status": status} from a printf format; allow as above. */
__attribute__((format(printf, 4, 5))) enum MHD_Result
http_reply_error(struct MHD_Connection *conn, unsigned status, const char *allow, const char *fmt,
		 ...);
/* Appends *upload_size bytes of upload to q's body (NUL-terminated) while
 * it stays within max_body, else marks it too big; *upload_size becomes 0.
 * MHD_NO when out of memory. */
enum MHD_Result http_req_append(http_req *q, size_t max_body, const char *upload,
				size_t *upload_size);

/* GET /v1/devices: the model and what the live page shows, as JSON into f.
 * libmicrohttpd's thread. */
void http_write_devices(http *h, FILE *f);
/* GET /events: opens an event stream of the live page on conn. */
enum MHD_Result http_do_events(struct MHD_Connection *conn, http *h);
/* Resumes every suspended event stream (each asks the live page again). */
void http_sse_resume_all(http *h);
/* The thread that resumes suspended event streams every SSE_TICK_MS until
 * h->stopping. */
void *http_sse_ticker(void *arg);

/* The one-device detector behind /v1/score, configured as the service's;
 * the caller owns *out. */
iotad_err http_score_det(const http *h, const model *m, det **out);
/* POST /v1/score: one call of libmicrohttpd's handler (refusals from the
 * headers, the body collected into *con_cls, then the scores). */
enum MHD_Result http_do_score(struct MHD_Connection *conn, http *h, void **con_cls,
			      const char *upload, size_t *upload_size);
/* Writes the counters of refused POST /v1/score requests, in Prometheus
 * text, into f. */
void http_write_score_rejected(http *h, FILE *f);

#endif
