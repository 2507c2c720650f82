/* outbox.h - the scorer's publishes that the MQTT client's in-flight window
 * cannot take right now: kept in order and sent as acknowledgements free
 * the window, so the scorer never waits on the broker for an alert. Only a
 * full outbox (the broker away or far behind for outbox_cap events) makes
 * the scorer wait, as the last resort that loses nothing.
 *
 * Threads: one owner (a scorer thread). Copies are allocated only for
 * publishes that wait. */
#ifndef IOTAD_OUTBOX_H
#define IOTAD_OUTBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/mqtt.h"

typedef struct outbox_item outbox_item;

typedef struct outbox {
	outbox_item **items;     /* ring of cap waiting publishes */
	uint32_t cap, head, count;
	_Atomic uint64_t deferred; /* publishes that had to wait (total) */
	_Atomic uint64_t waited;   /* times the outbox was full and the owner waited */
	_Atomic uint64_t failed;   /* waiting publishes Paho refused when sent */
} outbox;

/* Prepare o for up to cap waiting publishes. Free with outbox_free. */
iotad_err outbox_init(outbox *o, uint32_t cap);
/* Free o and what still waits in it (not sent). Accepts a zeroed o. */
void outbox_free(outbox *o);
/* Publish through c without waiting for room: sent now when nothing waits
 * and the window has room, else copied to the back of the outbox. A full
 * outbox first sends its oldest, waiting for room. IOTAD_OK when sent or
 * kept; an error when Paho refused it or memory ran out (not kept). */
iotad_err outbox_publish(outbox *o, mq *c, const char *topic, const void *payload, size_t len,
			 int qos, bool retained);
/* Send what waits, oldest first, while the window takes it; each waits up
 * to timeout_ms for room (0: not at all). Returns how many still wait.
 * Publishes Paho refuses are counted in failed. */
uint32_t outbox_flush(outbox *o, mq *c, int timeout_ms);

#endif
