/* it_http.h - integration tests of the HTTP door (it_http.c). */
#ifndef IOTAD_IT_HTTP_H
#define IOTAD_IT_HTTP_H

/* Every endpoint of a running iotad, against a real broker. */
void it_http_endpoints(void);
/* No http section: no server, no discovery. */
void it_http_disabled_by_default(void);
/* Operator commands over HTTP and the control topic: events, retained
 * state, counters, and clear refusals. */
void it_http_commands(void);
/* The live page in headless Chromium shows an alert that arrived by SSE. */
void it_http_browser(void);

#endif
