/* alert.c - per-device alert state machine.
 *
 * history holds the verdicts of the last ALERT_MAX_N windows, newest in
 * bit 0. NORMAL -> RAISED when at least k of the last n bits are set;
 * RAISED -> NORMAL after m consecutive normal windows, and the history is
 * then wiped so old anomalous bits cannot raise again. Any state -> STALE
 * when the device goes silent; STALE -> NORMAL (event CLEARED) when it
 * speaks again. Each transition yields exactly one event. */
#include "iotad/alert.h"

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
}

int alert_params_check(const alert_params *p)
{
	if (!p || p->k < 1 || p->k > p->n || p->n > ALERT_MAX_N || p->m < 1)
		return -1;
	return 0;
}

void alert_init(alert_state *s)
{
	alert_reset(s, ALERT_NORMAL);
}

alert_event alert_step(alert_state *s, const alert_params *p, bool anomalous)
{
	/* Stale is left through alert_resume; a caller that skipped it is
	 * treated as a device starting afresh. */
	if (s->status == ALERT_STALE)
		alert_reset(s, ALERT_NORMAL);

	s->history = (s->history << 1) | (anomalous ? 1u : 0u);
	if (s->seen < ALERT_MAX_N)
		s->seen++;
	if (anomalous)
		s->normal_run = 0;
	else if (s->normal_run < UINT16_MAX)
		s->normal_run++;

	if (s->status == ALERT_NORMAL) {
		if (anomalous && alert_popcount(s->history & alert_mask(p->n)) >= p->k) {
			s->status = ALERT_RAISED;
			return ALERT_EV_RAISED;
		}
		return ALERT_EV_NONE;
	}
	/* RAISED */
	if (s->normal_run >= p->m) {
		alert_reset(s, ALERT_NORMAL);
		return ALERT_EV_CLEARED;
	}
	return ALERT_EV_NONE;
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
	switch (ev) {
	case ALERT_EV_NONE:
		return "none";
	case ALERT_EV_RAISED:
		return "raised";
	case ALERT_EV_CLEARED:
		return "cleared";
	case ALERT_EV_STALE:
		return "stale";
	}
	return "unknown";
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
