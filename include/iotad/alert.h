/* alert.h - alert state machine of one device: raise after k anomalous of
 * the last n windows, clear after m consecutive normal ones, stale when the
 * device goes silent. Exactly one event per transition. */
#ifndef IOTAD_ALERT_H
#define IOTAD_ALERT_H

#include <stdbool.h>
#include <stdint.h>

#define ALERT_MAX_N 32

typedef enum alert_status { ALERT_NORMAL = 0, ALERT_RAISED, ALERT_STALE } alert_status;
typedef enum alert_event { ALERT_EV_NONE = 0, ALERT_EV_RAISED, ALERT_EV_CLEARED, ALERT_EV_STALE } alert_event;

typedef struct alert_params {
	uint8_t k; /* anomalous windows needed ... */
	uint8_t n; /* ... among the last n (k <= n <= ALERT_MAX_N) */
	uint8_t m; /* consecutive normal windows to clear */
} alert_params;

typedef struct alert_state {
	uint32_t history;    /* bit i: window i steps ago was anomalous */
	uint8_t status;      /* alert_status */
	uint8_t seen;        /* windows seen, saturates at ALERT_MAX_N */
	uint16_t normal_run; /* consecutive normal windows */
} alert_state;

/* Returns 0 if params are valid (1 <= k <= n <= 32, m >= 1), -1 otherwise. */
int alert_params_check(const alert_params *p);
void alert_init(alert_state *s);
/* Feed one window's verdict; returns the transition it causes, if any. */
alert_event alert_step(alert_state *s, const alert_params *p, bool anomalous);
/* The device went silent: returns ALERT_EV_STALE once, then NONE. */
alert_event alert_stale(alert_state *s);
/* A stale device spoke again: returns ALERT_EV_CLEARED once (history reset). */
alert_event alert_resume(alert_state *s);
const char *alert_event_name(alert_event ev);
const char *alert_status_name(alert_status st);

#endif
