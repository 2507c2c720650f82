/* alert.c - per-device alert state machine (rules in alert.h).
 *
 * history holds the verdicts of the last ALERT_MAX_N windows, newest in
 * bit 0. The time rules (hold, quiet, adapt) compare the device's own
 * times, so a replay faster than real time behaves as the original did. */
#include "iotad/alert.h"

#include <math.h>

static uint32_t alert_mask(uint8_t n)
{
	return n >= 32 ? UINT32_MAX : (UINT32_C(1) << n) - 1;
}

static unsigned alert_popcount(uint32_t x)
{
	unsigned c = 0;

	while (x) {
		x &= x - 1;
		c++;
	}
	return c;
}

static void alert_reset(alert_state *s, alert_status st)
{
	s->history = 0;
	s->seen = 0;
	s->normal_run = 0;
	s->status = (uint8_t)st;
	s->raised_at = 0.0;
	s->normal_since = 0.0;
	s->adapt_from = 0.0;
}

static bool alert_seconds_ok(double v)
{
	return isfinite(v) && v >= 0.0 && v <= ALERT_MAX_SECONDS;
}

int alert_params_check(const alert_params *p)
{
	if (!p || p->k < 1 || p->k > p->n || p->n > ALERT_MAX_N || p->m < 1 ||
	    !alert_seconds_ok(p->hold) || !alert_seconds_ok(p->quiet) ||
	    !alert_seconds_ok(p->adapt_after))
		return -1;
	return 0;
}

void alert_init(alert_state *s)
{
	alert_reset(s, ALERT_NORMAL);
}

void alert_reset_normal(alert_state *s)
{
	alert_reset(s, ALERT_NORMAL);
}

/* At least need seconds from since to ts; always true without a time. */
static bool alert_elapsed(double ts, double since, double need)
{
	return !(need > 0.0) || isnan(ts) || ts - since >= need;
}

alert_event alert_step_at(alert_state *s, const alert_params *p, bool anomalous, double ts)
{
	/* Stale is left through alert_resume; a caller that skipped it is
	 * treated as a device starting afresh. */
	if (s->status == ALERT_STALE)
		alert_reset(s, ALERT_NORMAL);

	s->history = (s->history << 1) | (anomalous ? 1u : 0u);
	if (s->seen < ALERT_MAX_N)
		s->seen++;
	if (anomalous) {
		s->normal_run = 0;
	} else {
		if (s->normal_run == 0)
			s->normal_since = ts;
		if (s->normal_run < UINT16_MAX)
			s->normal_run++;
	}

	if (s->status == ALERT_NORMAL) {
		if (anomalous && alert_popcount(s->history & alert_mask(p->n)) >= p->k) {
			s->status = ALERT_RAISED;
			s->raised_at = ts;
			s->adapt_from = ts;
			return ALERT_EV_RAISED;
		}
		return ALERT_EV_NONE;
	}
	/* RAISED: rules 2-4, then 5 */
	if (s->normal_run >= p->m && alert_elapsed(ts, s->raised_at, p->hold) &&
	    alert_elapsed(ts, s->normal_since, p->quiet)) {
		alert_reset(s, ALERT_NORMAL);
		return ALERT_EV_CLEARED;
	}
	if (p->adapt_after > 0.0 && !isnan(ts) && ts - s->adapt_from >= p->adapt_after) {
		alert_reset(s, ALERT_NORMAL);
		return ALERT_EV_ADAPTED;
	}
	return ALERT_EV_NONE;
}

alert_event alert_step(alert_state *s, const alert_params *p, bool anomalous)
{
	return alert_step_at(s, p, anomalous, NAN);
}

alert_event alert_stale(alert_state *s)
{
	if (s->status == ALERT_STALE)
		return ALERT_EV_NONE;
	alert_reset(s, ALERT_STALE);
	return ALERT_EV_STALE;
}

alert_event alert_resume(alert_state *s)
{
	if (s->status != ALERT_STALE)
		return ALERT_EV_NONE;
	alert_reset(s, ALERT_NORMAL);
	return ALERT_EV_CLEARED;
}

const char *alert_event_name(alert_event ev)
{
	static const char *const names[ALERT_EV__COUNT] = {
		[ALERT_EV_NONE] = "none",
		[ALERT_EV_RAISED] = "raised",
		[ALERT_EV_CLEARED] = "cleared",
		[ALERT_EV_STALE] = "stale",
		[ALERT_EV_ADAPTED] = "adapted",
		[ALERT_EV_LEARNING] = "learning",
		[ALERT_EV_LEARNED] = "learned",
		[ALERT_EV_MUTED] = "muted",
		[ALERT_EV_UNMUTED] = "unmuted",
		[ALERT_EV_REBASELINED] = "rebaselined",
		[ALERT_EV_FALSE_ALARM] = "false_alarm",
	};

	if ((unsigned)ev >= ALERT_EV__COUNT)
		return "unknown";
	return names[ev];
}

const char *alert_status_name(alert_status st)
{
	switch (st) {
	case ALERT_NORMAL:
		return "normal";
	case ALERT_RAISED:
		return "raised";
	case ALERT_STALE:
		return "stale";
	}
	return "unknown";
}
