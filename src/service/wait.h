/* wait.h - condition variables that time their waits on CLOCK_MONOTONIC
 * (a wall clock step neither stretches nor cuts a wait), and the deadlines
 * for them; shared by the service's threads (mqtt.c, msgq.c, live.c). */
#ifndef IOTAD_SERVICE_WAIT_H
#define IOTAD_SERVICE_WAIT_H

#include <pthread.h>
#include <time.h>

/* Initialise c for deadlines from wait_deadline. Free with pthread_cond_destroy. */
static inline void wait_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

/* The monotonic time ms milliseconds from now, for pthread_cond_timedwait. */
static inline void wait_deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

#endif
