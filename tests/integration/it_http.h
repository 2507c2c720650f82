/* it_http.h - integration tests of the HTTP door (it_http.c). */
#ifndef IOTAD_IT_HTTP_H
#define IOTAD_IT_HTTP_H

#include <sys/types.h>

#include "harness.h"

#define IT_HTTP_MAX_BODY 2048 /* http.max_body the checks below expect */

/* Every endpoint of a running iotad, against a real broker. */
void it_http_endpoints(void);
/* No http section: no server, no discovery. */
void it_http_disabled_by_default(void);
/* Operator commands over HTTP and the control topic: events, retained
 * state, counters, and clear refusals. */
void it_http_commands(void);
/* The live page in headless Chromium shows an alert that arrived by SSE. */
void it_http_browser(void);

/* Helpers for the other integration files, on a running iotad's port:
 * the checks of POST /v1/score against the test model (CUnit asserts), n
 * samples of a device (hot from first_hot on), and starting iotad -c cfg
 * until /readyz answers 200. */
void it_http_check_score_api(int port);
void it_http_publish_series(mq *pub, const char *topic, int n, int first_hot);
pid_t it_http_start(const char *cfg, const char *log, int port);

#endif
