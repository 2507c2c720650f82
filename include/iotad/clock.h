/* clock.h - the clocks: wall time for events and silence, monotonic time
 * for intervals and deadlines. */
#ifndef IOTAD_CLOCK_H
#define IOTAD_CLOCK_H

#include <pthread.h>
#include <time.h>

/* Wall-clock seconds since the epoch (CLOCK_REALTIME). Any thread. */
double clock_wall(void);
/* Monotonic seconds from an arbitrary origin (CLOCK_MONOTONIC). Any thread. */
double clock_mono(void);
/* The same in nanoseconds. Any thread. */
long long clock_mono_ns(void);
/* The CLOCK_MONOTONIC time ms milliseconds from now into *ts: a deadline
 * for pthread_cond_timedwait on a condition that uses that clock. Any thread. */
void clock_deadline_ms(struct timespec *ts, long ms);
/* Initialize cond so that its timed waits read CLOCK_MONOTONIC (the clock
 * of clock_deadline_ms): a wall-clock step cannot stretch or cut a wait.
 * Returns pthread_cond_init's result. Any thread, before cond is used. */
int clock_cond_init(pthread_cond_t *cond);

#endif
