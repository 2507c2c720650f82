/* http.h - the HTTP door (libmicrohttpd): /healthz, /readyz, /metrics,
 * POST /v1/score, and the live page (/, /v1/devices, /events as
 * Server-Sent Events). Runs its own threads; the scorer feeds the live
 * page through http_sample/http_event, which never block it. */
#ifndef IOTAD_HTTP_H
#define IOTAD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/detector.h"
#include "iotad/error.h"
#include "iotad/metrics.h"
#include "iotad/model.h"

#define HTTP_LIVE_DEVICES 256   /* devices shown on the live page (first seen first) */
#define HTTP_LIVE_POINTS 120    /* scores kept per device for its sparkline */
#define HTTP_LIVE_ALERTS 50     /* latest alert events kept for the page */
#define HTTP_SSE_CLIENTS 16     /* concurrent /events streams */

typedef struct http http;

/* Fills a metrics snapshot; called on an HTTP thread for /metrics and /readyz. */
typedef void (*http_metrics_fn)(void *ud, met_snapshot *out);

typedef struct http_opts {
	const char *listen;         /* "IP:PORT", "[IPv6]:PORT" (port 0: any free one) */
	size_t max_body;            /* largest POST body accepted (413 beyond) */
	bool page;                  /* serve the live page, /v1/devices and /events */
	const model *m;             /* borrowed; must outlive the server or http_set_model */
	const det_config *det;      /* how POST /v1/score judges a window: the service's
				     * detector configuration (config_det), copied at
				     * http_create; NULL: det_config_default */
	double sample_interval;     /* seconds between live score updates of one device (0.5) */
	http_metrics_fn metrics;
	void *ud;
} http_opts;

/* Bind and start serving. IOTAD_ERR_IO if the address cannot be bound. */
iotad_err http_create(const http_opts *o, http **out);
/* The port actually bound (useful with port 0). */
uint16_t http_port(const http *h);
/* Scorer thread: a window of device was scored. Throttled per device to one
 * update per sample_interval; dropped (never waits) when the page is busy. */
void http_sample(http *h, const char *device, double ts, const det_result *res);
/* Scorer thread: an alert event (its JSON as published) of device. */
void http_event(http *h, const char *device, const char *state, const char *json, size_t len);
/* Scorer thread, after a model reload: /v1/score and /v1/devices use m from
 * the next request on (m is borrowed, like http_opts.m). When it returns no
 * request still uses the previous model, which the caller may then free.
 * On error (no memory for its detector) the previous model stays in use. */
iotad_err http_set_model(http *h, const model *m);
/* Stop serving (open streams end) and free. Accepts NULL. */
void http_destroy(http *h);

#endif
