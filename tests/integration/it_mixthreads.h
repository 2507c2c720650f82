/* it_mixthreads.h - integration test of a models: list on several scorer
 * threads (it_mixthreads.c). */
#ifndef IOTAD_IT_MIXTHREADS_H
#define IOTAD_IT_MIXTHREADS_H

/* A mixed fleet through one and two scorer threads: the same events,
 * per-model counters and state files; each run's state files restored by
 * another thread count keep every device. */
void it_mixed_threads(void);

#endif
