/* alert.h - alert state machine of one device. Exactly one event per
 * transition; times are the device's own (its samples' ts).
 *
 * The rules, in the order alert_step_at applies them:
 * 1. Raise: NORMAL -> RAISED when at least k of the last n windows are
 *    anomalous. raised_at is the raising window's time.
 * 2. Hold: a raised device is not cleared before hold seconds have passed
 *    since raised_at, however normal its windows are.
 * 3. Quiet (re-raise suppression): a raised device clears only once its
 *    windows have been normal for quiet seconds in a row (and m windows).
 *    An anomalous window inside that time restarts the count: the alert
 *    stays raised, so a clear followed by a new raise within quiet seconds
 *    is never published; the fault is one event.
 * 4. Clear: RAISED -> NORMAL after m consecutive normal windows AND the
 *    hold AND the quiet time. The history is then wiped.
 * 5. Adapt: a device raised for adapt_after seconds (counted from
 *    adapt_from, the raise unless the caller moves it on) has a lasting
 *    change that is not a passing fault: RAISED -> NORMAL with the event
 *    ADAPTED, and the caller makes the current behaviour the device's
 *    normal (det re-baselines it). 0 = never.
 * 6. Stale: any state -> STALE when the device goes silent (alert_stale);
 *    STALE -> NORMAL with CLEARED when it speaks again (alert_resume).
 * A time of NaN (alert_step) switches rules 2, 3 and 5 off for that step.
 * Learning, mute and the operator's commands are the detector's (det). */
#ifndef IOTAD_ALERT_H
#define IOTAD_ALERT_H

#include <stdbool.h>
#include <stdint.h>

#define ALERT_MAX_N 32
#define ALERT_MAX_SECONDS 31536000.0 /* bound of hold, quiet, adapt_after (a year) */

typedef enum alert_status { ALERT_NORMAL = 0, ALERT_RAISED, ALERT_STALE } alert_status;
/* Events a device publishes. Those after STALE come from the detector
 * (learning, adapt) or an operator's command; ALERT_EV__COUNT bounds the
 * enum for counters. */
typedef enum alert_event {
	ALERT_EV_NONE = 0,
	ALERT_EV_RAISED,
	ALERT_EV_CLEARED,
	ALERT_EV_STALE,
	ALERT_EV_ADAPTED,     /* a lasting change became the device's normal (rule 5) */
	ALERT_EV_LEARNING,    /* a new device learns its normal; no alarms meanwhile */
	ALERT_EV_LEARNED,     /* it has: judged from here on */
	ALERT_EV_MUTED,       /* an operator muted it (maintenance): no raises until unmuted */
	ALERT_EV_UNMUTED,     /* the mute ended (its time passed, or an operator ended it) */
	ALERT_EV_REBASELINED, /* an operator made its current behaviour its normal */
	ALERT_EV_FALSE_ALARM, /* an operator marked its alarm false: cleared, window learned */
	ALERT_EV__COUNT
} alert_event;

typedef struct alert_params {
	uint8_t k; /* anomalous windows needed ... */
	uint8_t n; /* ... among the last n (k <= n <= ALERT_MAX_N) */
	uint8_t m; /* consecutive normal windows to clear */
	double hold;        /* seconds a raise lasts at least, [0, ALERT_MAX_SECONDS] (0) */
	double quiet;       /* seconds of normal windows in a row before a clear (0) */
	double adapt_after; /* seconds raised before the change is adopted as normal; 0: never */
} alert_params;

typedef struct alert_state {
	uint32_t history;    /* bit i: window i steps ago was anomalous */
	uint8_t status;      /* alert_status */
	uint8_t seen;        /* windows seen, saturates at ALERT_MAX_N */
	uint16_t normal_run; /* consecutive normal windows */
	double raised_at;    /* time of the raise (RAISED) */
	double normal_since; /* time of the first window of the normal run (normal_run > 0) */
	double adapt_from;   /* rule 5 counts from here (RAISED) */
} alert_state;

/* Returns 0 if params are valid (1 <= k <= n <= 32, m >= 1, the times
 * finite in [0, ALERT_MAX_SECONDS]), -1 otherwise. Any thread. */
int alert_params_check(const alert_params *p);
/* A fresh NORMAL state. */
void alert_init(alert_state *s);
/* Feed one window's verdict at device time ts; returns the transition it
 * causes (RAISED, CLEARED, ADAPTED or NONE) by the rules above. */
alert_event alert_step_at(alert_state *s, const alert_params *p, bool anomalous, double ts);
/* alert_step_at without a time: the window-count rules only (1, 4, 6). */
alert_event alert_step(alert_state *s, const alert_params *p, bool anomalous);
/* The device went silent: returns ALERT_EV_STALE once, then NONE. */
alert_event alert_stale(alert_state *s);
/* A stale device spoke again: returns ALERT_EV_CLEARED once (history reset). */
alert_event alert_resume(alert_state *s);
/* Back to NORMAL with the history wiped, whatever the state (an operator's
 * command or a re-baseline ends a raise without a CLEARED event). */
void alert_reset_normal(alert_state *s);
/* Stable lower-case names, as published ("raised", "false_alarm", ...). */
const char *alert_event_name(alert_event ev);
const char *alert_status_name(alert_status st);

#endif
