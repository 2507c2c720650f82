/* http.h - the HTTP door (libmicrohttpd): /healthz, /readyz, /metrics,
 * POST /v1/score, POST /v1/devices/{id}/rebaseline | mute | false-alarm
 * (operator commands, body {"seconds": N} for mute), and the live page (/, /v1/devices, /events as
 * Server-Sent Events). Runs its own threads; the scorer feeds the live
 * page through http_live's live_sample/live_event, which never block it. */
#ifndef IOTAD_HTTP_H
#define IOTAD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/codec.h"
#include "iotad/detector.h"
#include "iotad/error.h"
#include "iotad/live.h"
#include "iotad/metrics.h"
#include "iotad/model.h"

typedef struct http http;

/* Fills a metrics snapshot; called on an HTTP thread for /metrics and /readyz. */
typedef void (*http_metrics_fn)(void *ud, met_snapshot *out);

/* Applies an operator's command (POST /v1/devices/{id}/rebaseline | mute |
 * false-alarm) and waits for its outcome; called on an HTTP thread. */
typedef cmd_reject (*http_command_fn)(void *ud, const det_command *cmd, det_result *res,
				      char *detail, size_t detail_len);

typedef struct http_opts {
	const char *listen;         /* "IP:PORT", "[IPv6]:PORT" (port 0: any free one) */
	size_t max_body;            /* largest POST body accepted (413 beyond) */
	bool page;                  /* serve the live page, /v1/devices and /events */
	const model *m;             /* borrowed; must outlive the server or http_set_model;
				     * NULL: zero-config (POST /v1/score answers 409) */
	const det_config *det;      /* how POST /v1/score judges a window: the service's
				     * detector configuration (config_det), copied at
				     * http_create; NULL: det_config_default */
	double sample_interval;     /* seconds between live score updates of one device (0.5) */
	http_metrics_fn metrics;
	http_command_fn command;    /* NULL: the command endpoints answer 503 */
	void *ud;
} http_opts;

/* Bind and start serving. IOTAD_ERR_IO if the address cannot be bound. */
iotad_err http_create(const http_opts *o, http **out);
/* The port actually bound (useful with port 0). */
uint16_t http_port(const http *h);
/* The live page's state, fed by the scorer (live_sample, live_event);
 * NULL when the page is off or h is NULL. Owned by h. Any thread. */
live *http_live(http *h);
/* Scorer thread, after a model reload: /v1/score and /v1/devices use m from
 * the next request on (m is borrowed, like http_opts.m). When it returns no
 * request still uses the previous model, which the caller may then free.
 * On error (no memory for its detector) the previous model stays in use. */
iotad_err http_set_model(http *h, const model *m);
/* Stop serving (open streams end) and free. Accepts NULL. */
void http_destroy(http *h);

#endif
