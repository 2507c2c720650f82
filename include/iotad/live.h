/* live.h - what the live page shows: per device its state and a sparkline
 * of recent scores, the latest alert events, and a ring of Server-Sent
 * Events that every open stream reads at its own pace.
 *
 * Threads: the scorer writes (live_sample never waits: a busy page loses a
 * point, counted); HTTP threads read. One lock guards it all. No I/O
 * beyond the FILE the caller hands to live_write_devices. */
#ifndef IOTAD_LIVE_H
#define IOTAD_LIVE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "iotad/detector.h"
#include "iotad/error.h"

#define LIVE_DEVICES 256        /* devices shown (first seen first); later ones are counted */
#define LIVE_POINTS 120         /* scores kept per device for its sparkline */
#define LIVE_ALERTS 50          /* latest alert events kept */
#define LIVE_STREAMS 16         /* concurrent event streams */
#define LIVE_PING_S 10          /* seconds between pings of an idle stream */

/* live_stream_read results besides a byte count. */
#define LIVE_STREAM_END (-1)    /* the page state is stopping: end the stream */
#define LIVE_STREAM_ERROR (-2)  /* the peer left or fell a whole ring behind: close it */
#define LIVE_STREAM_AGAIN 0     /* live_stream_poll: nothing due yet */

typedef struct live live;
typedef struct live_stream live_stream;

/* Allocate the page state; one score point per device every
 * sample_interval seconds (<= 0: 0.5). Free with live_destroy. */
iotad_err live_create(double sample_interval, live **out);
/* Wake and end every stream (they return LIVE_STREAM_END). Any thread. */
void live_stop(live *l);
/* Free; the streams must be closed first. Accepts NULL. */
void live_destroy(live *l);
/* Scorer thread: a window of device was scored. Throttled per device;
 * dropped (never waits) when the state is busy. Accepts l == NULL. */
void live_sample(live *l, const char *device, double ts, const det_result *res);
/* The same for a mixed fleet: model names the model that judged the device
 * (name; NULL: unknown); the page groups the devices by it. Scorer thread. */
void live_sample_model(live *l, const char *name, const char *device, double ts,
		       const det_result *res);
/* Scorer thread: an alert event (its JSON as published, copied) of device
 * in state raised, cleared or stale. Accepts l == NULL. */
void live_event(live *l, const char *device, const char *state, const char *json, size_t len);
/* HTTP thread: write `"hidden":N,"devices":[...],"alerts":[...]` (the
 * members of /v1/devices after "model"; alerts newest first) to f. */
void live_write_devices(live *l, FILE *f);
/* Score updates dropped because the state was busy. Any thread. */
uint64_t live_dropped(live *l);

/* HTTP thread: open an event stream from the next event on; fd is the
 * connection's socket (-1 if unknown) to notice a closed peer. NULL when
 * LIVE_STREAMS are open or out of memory. Close with live_stream_close. */
live_stream *live_stream_open(live *l, int fd);
/* HTTP thread: up to max bytes of the stream into buf: a retry hint first,
 * then events, or a ping after LIVE_PING_S without any. Blocks until something is
 * due. Returns bytes, LIVE_STREAM_END or LIVE_STREAM_ERROR. */
ssize_t live_stream_read(live_stream *c, char *buf, size_t max);
/* HTTP thread: the same without waiting: LIVE_STREAM_AGAIN when nothing is
 * due yet (no event, no ping), for an event-driven server that suspends the
 * connection and asks again later. */
ssize_t live_stream_poll(live_stream *c, char *buf, size_t max);
/* Free a stream and make room for another. Accepts NULL. Any thread. */
void live_stream_close(live_stream *c);

#endif
