/* test_alert.c - unit tests of the alert state machine. */
#include <math.h>
#include <string.h>

#include "iotad/alert.h"
#include "test.h"

/* Feed a verdict string ('A' anomalous, 'N' normal); record each event in
 * evs (one char per step: '.', 'R', 'C') and return the number of events. */
static int feed(alert_state *s, const alert_params *p, const char *verdicts, char *evs)
{
	int n = 0;

	for (size_t i = 0; verdicts[i]; i++) {
		alert_event ev = alert_step(s, p, verdicts[i] == 'A');
		evs[i] = ev == ALERT_EV_RAISED ? 'R' : ev == ALERT_EV_CLEARED ? 'C' : ev == ALERT_EV_NONE ? '.' : '?';
		n += ev != ALERT_EV_NONE;
	}
	evs[strlen(verdicts)] = '\0';
	return n;
}

static void test_params_check(void)
{
	const struct { uint8_t k, n, m; int ok; } cases[] = {
		{1, 1, 1, 0}, {3, 3, 5, 0}, {2, 5, 1, 0}, {32, 32, 255, 0}, {1, 32, 1, 0},
		{0, 3, 5, -1}, {4, 3, 5, -1}, {3, 3, 0, -1}, {1, 33, 1, -1}, {33, 33, 1, -1},
		{0, 0, 0, -1}, {255, 255, 1, -1},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		alert_params p = {.k = cases[i].k, .n = cases[i].n, .m = cases[i].m};
		CU_ASSERT_EQUAL(alert_params_check(&p), cases[i].ok);
	}
	CU_ASSERT_EQUAL(alert_params_check(NULL), -1);
}

static void test_k_of_n(void)
{
	alert_params p = {.k = 2, .n = 3, .m = 2};
	alert_state s;
	char ev[64];

	/* two anomalous within three windows */
	alert_init(&s);
	CU_ASSERT_EQUAL(feed(&s, &p, "NANA", ev), 1);
	CU_ASSERT_STRING_EQUAL(ev, "...R");
	CU_ASSERT_EQUAL(s.status, ALERT_RAISED);

	/* two anomalous but four windows apart: never two in the last three */
	alert_init(&s);
	CU_ASSERT_EQUAL(feed(&s, &p, "ANNANNANNA", ev), 0);
	CU_ASSERT_EQUAL(s.status, ALERT_NORMAL);

	/* k = n = 3: only a run of three raises */
	p = (alert_params){.k = 3, .n = 3, .m = 5};
	alert_init(&s);
	CU_ASSERT_EQUAL(feed(&s, &p, "AANAANAAA", ev), 1);
	CU_ASSERT_STRING_EQUAL(ev, "........R");

	/* n = 32 looks at the whole mask */
	p = (alert_params){.k = 2, .n = 32, .m = 1};
	alert_init(&s);
	CU_ASSERT_EQUAL(feed(&s, &p, "ANNNNNNNNNNNNNNNNNNNNNNNNNNNNNNA", ev), 1);
	CU_ASSERT_EQUAL(ev[31], 'R');
	alert_init(&s);
	CU_ASSERT_EQUAL(feed(&s, &p, "ANNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNA", ev), 0);
}

static void test_one_raise_per_run(void)
{
	alert_params p = {.k = 3, .n = 3, .m = 5};
	alert_state s;
	int raised = 0, other = 0;

	alert_init(&s);
	for (int i = 0; i < 1000; i++) {
		alert_event ev = alert_step(&s, &p, true);
		if (ev == ALERT_EV_RAISED) {
			raised++;
			CU_ASSERT_EQUAL(i, 2);
		} else if (ev != ALERT_EV_NONE) {
			other++;
		}
	}
	CU_ASSERT_EQUAL(raised, 1);
	CU_ASSERT_EQUAL(other, 0);
	/* and a long normal run from NORMAL produces nothing */
	alert_init(&s);
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL(alert_step(&s, &p, false), ALERT_EV_NONE);
}

static void test_clear_after_m(void)
{
	alert_params p = {.k = 3, .n = 3, .m = 5};
	alert_state s;
	char ev[64];

	alert_init(&s);
	CU_ASSERT_EQUAL(feed(&s, &p, "AAANNNNN", ev), 2);
	CU_ASSERT_STRING_EQUAL(ev, "..R....C");
	CU_ASSERT_EQUAL(s.status, ALERT_NORMAL);
	CU_ASSERT_EQUAL(s.history, 0);

	/* an anomalous window interrupts the normal run: count starts over */
	alert_init(&s);
	CU_ASSERT_EQUAL(feed(&s, &p, "AAANNNNANNNNN", ev), 2);
	CU_ASSERT_STRING_EQUAL(ev, "..R.........C");

	/* m = 1 clears on the first normal */
	p = (alert_params){.k = 1, .n = 1, .m = 1};
	alert_init(&s);
	CU_ASSERT_EQUAL(feed(&s, &p, "ANAAN", ev), 4);
	CU_ASSERT_STRING_EQUAL(ev, "RCR.C");
}

static void test_no_reraise_from_old_bits(void)
{
	alert_params p = {.k = 2, .n = 4, .m = 1};
	alert_state s;
	char ev[64];

	/* after the clear, the history A A N would hold two anomalous bits in
	 * the last four windows with one more A; the reset prevents a raise */
	alert_init(&s);
	CU_ASSERT_EQUAL(feed(&s, &p, "AANA", ev), 2);
	CU_ASSERT_STRING_EQUAL(ev, ".RC.");
	CU_ASSERT_EQUAL(s.status, ALERT_NORMAL);
	CU_ASSERT_EQUAL(feed(&s, &p, "A", ev), 1);
	CU_ASSERT_STRING_EQUAL(ev, "R");
}

static void test_stale_and_resume(void)
{
	alert_params p = {.k = 3, .n = 3, .m = 5};
	alert_state s;
	char ev[64];

	alert_init(&s);
	CU_ASSERT_EQUAL(alert_resume(&s), ALERT_EV_NONE);    /* not stale */
	CU_ASSERT_EQUAL(alert_stale(&s), ALERT_EV_STALE);
	CU_ASSERT_EQUAL(s.status, ALERT_STALE);
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(alert_stale(&s), ALERT_EV_NONE);
	CU_ASSERT_EQUAL(alert_resume(&s), ALERT_EV_CLEARED);
	CU_ASSERT_EQUAL(s.status, ALERT_NORMAL);
	CU_ASSERT_EQUAL(alert_resume(&s), ALERT_EV_NONE);

	/* stale while raised, then resumed: history is gone, raising again
	 * needs k fresh anomalous windows */
	alert_init(&s);
	CU_ASSERT_EQUAL(feed(&s, &p, "AAAA", ev), 1);
	CU_ASSERT_EQUAL(alert_stale(&s), ALERT_EV_STALE);
	CU_ASSERT_EQUAL(alert_resume(&s), ALERT_EV_CLEARED);
	CU_ASSERT_EQUAL(s.history, 0);
	CU_ASSERT_EQUAL(feed(&s, &p, "AAA", ev), 1);
	CU_ASSERT_STRING_EQUAL(ev, "..R");
}

/* Like feed, one window every dt seconds from t0, with the time rules on;
 * 'D' marks ADAPTED. */
static int feed_at(alert_state *s, const alert_params *p, const char *verdicts, double t0,
		   double dt, char *evs)
{
	int n = 0;

	for (size_t i = 0; verdicts[i]; i++) {
		alert_event ev = alert_step_at(s, p, verdicts[i] == 'A', t0 + dt * (double)i);
		evs[i] = ev == ALERT_EV_RAISED ? 'R' : ev == ALERT_EV_CLEARED ? 'C' :
			 ev == ALERT_EV_ADAPTED ? 'D' : ev == ALERT_EV_NONE ? '.' : '?';
		n += ev != ALERT_EV_NONE;
	}
	evs[strlen(verdicts)] = '\0';
	return n;
}

/* One run of verdicts ('A' anomalous, 'N' normal) from a fresh state with
 * params p, a window every dt seconds from t0: the events it gives, one
 * letter a window (R raised, C cleared, D adapted, . none), after which
 * the device is normal again. */
typedef struct feed_case {
	alert_params p;
	const char *verdicts;
	double t0, dt;
	const char *events;
} feed_case;

static void check_feeds(const feed_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		alert_state s;
		char ev[64];
		alert_init(&s);
		feed_at(&s, &c[i].p, c[i].verdicts, c[i].t0, c[i].dt, ev);
		CU_ASSERT_STRING_EQUAL(ev, c[i].events);
		CU_ASSERT_EQUAL(s.status, ALERT_NORMAL);
	}
}

static void test_time_params_check(void)
{
	alert_params p = {.k = 1, .n = 1, .m = 1, .hold = 60, .quiet = 30, .adapt_after = 3600};
	CU_ASSERT_EQUAL(alert_params_check(&p), 0);
	p.hold = -1;
	CU_ASSERT_EQUAL(alert_params_check(&p), -1);
	p.hold = 0;
	p.quiet = NAN;
	CU_ASSERT_EQUAL(alert_params_check(&p), -1);
	p.quiet = 0;
	p.adapt_after = ALERT_MAX_SECONDS * 2;
	CU_ASSERT_EQUAL(alert_params_check(&p), -1);
	p.adapt_after = INFINITY;
	CU_ASSERT_EQUAL(alert_params_check(&p), -1);
}

/* Rule 2: a raise lasts at least hold seconds, however normal the windows
 * after it (a 60 s fault whose middle looks normal is one event). */
static void test_hold(void)
{
	const alert_params hold = {.k = 1, .n = 1, .m = 2, .hold = 60};
	const alert_params none = {.k = 1, .n = 1, .m = 2};
	const feed_case c[] = {
		/* one window per 10 s: raised at t=0, m = 2 normal windows by
		 * t=20, but the clear waits for t >= 60 */
		{hold, "ANNNNNNNN", 0.0, 10.0, "R.....C.."},
		/* the fault comes back inside the hold: still the same raise */
		{hold, "ANNANNNNNNN", 0.0, 10.0, "R.....C...."},
		/* without the hold it flaps: three events for one fault */
		{none, "ANNANNNNNNN", 0.0, 10.0, "R.CR.C....."},
	};
	check_feeds(c, sizeof c / sizeof c[0]);
}

/* Rule 3: a clear needs quiet seconds of normal windows in a row; an
 * anomalous window inside them restarts the count, so the re-raise that
 * would follow a clear within quiet seconds is never published. */
static void test_quiet_suppresses_reraise(void)
{
	alert_params p = {.k = 1, .n = 1, .m = 1, .quiet = 30};
	const feed_case c[] = {
		/* normal for 20 s, anomalous again, then normal for 30 s */
		{p, "ANNANNNNN", 0.0, 10.0, "R......C."},
		/* the clear is exactly quiet seconds after the first normal window */
		{p, "ANNNN", 100.0, 10.0, "R...C"},
		/* a flapping fault: one raise, one clear, whatever its pattern */
		{p, "ANANNANNANNNANNNNN", 0.0, 10.0, "R...............C."},
	};
	check_feeds(c, sizeof c / sizeof c[0]);
	/* with quiet 0 the same pattern flaps */
	alert_state s;
	char ev[64];
	p.quiet = 0;
	alert_init(&s);
	CU_ASSERT_TRUE(feed_at(&s, &p, "ANANNANNANNNANNNNN", 0.0, 10.0, ev) >= 8);
}

/* Rule 4: the clear needs m windows AND the hold AND the quiet time,
 * whichever comes last. */
static void test_clear_needs_all(void)
{
	const alert_params p = {.k = 1, .n = 1, .m = 5, .hold = 15, .quiet = 5};
	const alert_params q10 = {.k = 1, .n = 1, .m = 5, .hold = 15, .quiet = 10};
	const feed_case c[] = {
		/* m is the last: 5 normal windows at t = 10..50 */
		{p, "ANNNNNN", 0.0, 10.0, "R....C."},
		/* hold is the last: one window per second, 5 normal by t = 5, hold at 15 */
		{p, "ANNNNNNNNNNNNNNNNN", 0.0, 1.0, "R..............C.."},
		/* quiet is the last: raised at 0, anomalous again at 14, normal from 15 */
		{q10, "AAAAAAAAAAAAAAANNNNNNNNNNNNN", 0.0, 1.0, "R........................C.."},
	};
	check_feeds(c, sizeof c / sizeof c[0]);
	/* without a time (alert_step) only m counts */
	alert_state s;
	char ev[64];
	alert_init(&s);
	CU_ASSERT_EQUAL(feed(&s, &q10, "ANNNNN", ev), 2);
	CU_ASSERT_STRING_EQUAL(ev, "R....C");
}

/* Rule 5: raised for adapt_after seconds, the change becomes the new
 * normal: ADAPTED once, then NORMAL with a fresh history; a new fault
 * raises again. adapt_after 0 never adapts. */
static void test_adapt(void)
{
	alert_params p = {.k = 1, .n = 1, .m = 1, .adapt_after = 50};
	alert_state s;
	char ev[64];

	alert_init(&s);
	CU_ASSERT_EQUAL(feed_at(&s, &p, "AAAAAA", 0.0, 10.0, ev), 2);
	CU_ASSERT_STRING_EQUAL(ev, "R....D");
	CU_ASSERT_EQUAL(s.status, ALERT_NORMAL);
	CU_ASSERT_EQUAL(s.history, 0);
	/* the machine alone raises again on the next anomalous window; the
	 * detector re-baselines the device so its new normal is not one */
	CU_ASSERT_EQUAL(feed_at(&s, &p, "A", 60.0, 10.0, ev), 1);
	CU_ASSERT_STRING_EQUAL(ev, "R");
	/* the caller moving adapt_from on (a stuck sensor) defers it */
	alert_init(&s);
	CU_ASSERT_EQUAL(feed_at(&s, &p, "AAA", 0.0, 10.0, ev), 1);
	s.adapt_from = 25.0;
	CU_ASSERT_EQUAL(feed_at(&s, &p, "AAAAA", 30.0, 10.0, ev), 0);
	CU_ASSERT_EQUAL(feed_at(&s, &p, "A", 80.0, 10.0, ev), 1);
	CU_ASSERT_STRING_EQUAL(ev, "D");
	/* off: a raise lasts as long as the fault */
	p.adapt_after = 0;
	alert_init(&s);
	char verdicts[1001];
	memset(verdicts, 'A', 1000);
	verdicts[1000] = '\0';
	char evs[1001];
	CU_ASSERT_EQUAL(feed_at(&s, &p, verdicts, 0.0, 3600.0, evs), 1);
	CU_ASSERT_EQUAL(s.status, ALERT_RAISED);
}

static void test_names(void)
{
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV_NONE), "none");
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV_RAISED), "raised");
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV_CLEARED), "cleared");
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV_STALE), "stale");
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV_ADAPTED), "adapted");
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV_LEARNING), "learning");
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV_LEARNED), "learned");
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV_MUTED), "muted");
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV_UNMUTED), "unmuted");
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV_REBASELINED), "rebaselined");
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV_FALSE_ALARM), "false_alarm");
	CU_ASSERT_STRING_EQUAL(alert_event_name(ALERT_EV__COUNT), "unknown");
	CU_ASSERT_STRING_EQUAL(alert_status_name(ALERT_NORMAL), "normal");
	CU_ASSERT_STRING_EQUAL(alert_status_name(ALERT_RAISED), "raised");
	CU_ASSERT_STRING_EQUAL(alert_status_name(ALERT_STALE), "stale");
}

void init_alert_tests(void)
{
	CU_pSuite s = CU_add_suite("alert", NULL, NULL);
	TEST_ADD(s, test_params_check);
	TEST_ADD(s, test_k_of_n);
	TEST_ADD(s, test_one_raise_per_run);
	TEST_ADD(s, test_clear_after_m);
	TEST_ADD(s, test_no_reraise_from_old_bits);
	TEST_ADD(s, test_stale_and_resume);
	TEST_ADD(s, test_time_params_check);
	TEST_ADD(s, test_hold);
	TEST_ADD(s, test_quiet_suppresses_reraise);
	TEST_ADD(s, test_clear_needs_all);
	TEST_ADD(s, test_adapt);
	TEST_ADD(s, test_names);
}
