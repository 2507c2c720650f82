/* it_shards.h - integration test of the scorer threads (it_shards.c). */
#ifndef IOTAD_IT_SHARDS_H
#define IOTAD_IT_SHARDS_H

/* The same stream through one and through two scorer threads: the same
 * events (device, state, ts), the same counters; the state file written
 * by two threads is restored whole by one. */
void it_scorer_threads(void);

#endif
