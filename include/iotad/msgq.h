/* msgq.h - the bounded queue between the MQTT client's thread and the
 * scorer: a ring of preallocated message slots, each holding a message's
 * topic and payload copied out of the client's buffers.
 *
 * Threads: one producer (msgq_offer), one consumer (msgq_take and
 * msgq_release); the depth may be read from any thread. The ring is
 * lock-free: the producer publishes a slot with one atomic store and wakes
 * the consumer (a futex) only when it sleeps. A consumer that found several
 * messages waiting dozes instead (up to 100 us, or until 64 wait), so a
 * fast stream is handed over in batches without a wake-up each, while a
 * lone message is handed over at once. A message whose topic and
 * payload do not fit a slot's MSGQ_INLINE bytes is allocated on its own;
 * a full or closed queue refuses an offer without allocating. */
#ifndef IOTAD_MSGQ_H
#define IOTAD_MSGQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

/* Bytes of topic, NUL and payload a slot holds without allocating. */
#define MSGQ_INLINE 224

/* One message: topic (cut to TOPIC_MAX - 1 bytes), NUL, payload. */
typedef struct msgq_msg {
	uint32_t topic_len;
	uint32_t len;        /* payload bytes stored */
	uint16_t oversize;   /* payload was larger than max_payload (not stored) */
	uint16_t bad_topic;  /* topic too long or holding a NUL (stored cut) */
	uint32_t heap;       /* data was allocated (did not fit inline) */
	char *data;          /* topic, NUL, payload: inline or allocated */
	char inline_data[MSGQ_INLINE];
} msgq_msg;

/* The producer's and the consumer's fields lie 64 bytes apart (padding,
 * which needs no alignment of the struct's memory), so they never share a
 * cache line: neither side's writes evict what the other reads a message. */
typedef struct msgq {
	msgq_msg *slots;
	uint32_t cap;
	_Atomic bool closed;     /* refuse new messages (shutting down) */
	char pad_consumer[64];
	_Atomic uint64_t head;   /* next slot the consumer takes (consumer writes) */
	uint32_t taken;          /* slots handed out by msgq_take, not yet released */
	uint32_t last_batch;     /* messages the last msgq_take returned */
	char pad_producer[64];
	_Atomic uint64_t tail;   /* next slot the producer fills (producer writes) */
	uint64_t head_seen;      /* producer: head as last read (room is at least that) */
	_Atomic uint64_t wakeups; /* times the producer woke the consumer */
	char pad_waiting[64];
	_Atomic uint32_t waiting; /* the consumer sleeps on it (futex word) */
} msgq;

/* Result of msgq_offer. */
typedef enum msgq_offer_result {
	MSGQ_ACCEPTED = 0,
	MSGQ_FULL,           /* no room now: offer it again later */
	MSGQ_CLOSED,         /* shutting down */
	MSGQ_NOMEM,
} msgq_offer_result;

/* Prepare q for cap messages (cap slots allocated now). Free with msgq_free. */
iotad_err msgq_init(msgq *q, uint32_t cap);
/* Free the queue and any message still in it. Accepts a zeroed q. */
void msgq_free(msgq *q);
/* Copy a message into one malloc'd message (the caller frees it with
 * msgq_msg_free): the payload only when len <= max_payload (else oversize
 * is set), the topic cut to TOPIC_MAX - 1 bytes (bad_topic set when cut or
 * holding a NUL). NULL when out of memory. Any thread. */
msgq_msg *msgq_msg_new(const char *topic, size_t topic_len, const void *payload, size_t len,
		       size_t max_payload);
/* Free a message made by msgq_msg_new. Accepts NULL. */
void msgq_msg_free(msgq_msg *m);
/* The NUL-terminated topic and the payload (m->len bytes) of m. */
const char *msgq_topic(const msgq_msg *m);
const char *msgq_payload(const msgq_msg *m);
/* Producer: copy a message into the next slot (as msgq_msg_new) when there
 * is room, and wake the consumer if it sleeps. */
msgq_offer_result msgq_offer(msgq *q, const char *topic, size_t topic_len, const void *payload,
			     size_t len, size_t max_payload);
/* Consumer: point out[] at up to max queued messages, oldest first, waiting
 * up to wait_ms for the first. They stay in their slots until
 * msgq_release; release them before the next take. Returns how many. */
uint32_t msgq_take(msgq *q, const msgq_msg **out, uint32_t max, int wait_ms);
/* Consumer: give back the slots of the last msgq_take. */
void msgq_release(msgq *q);
/* Wake the consumer if it sleeps in msgq_take (it returns, maybe with
 * nothing). Any thread. */
void msgq_wake(msgq *q);
/* Refuse every later offer (MSGQ_CLOSED); what is queued can still be taken. */
void msgq_close(msgq *q);
/* Messages waiting now. Any thread. */
uint32_t msgq_depth(msgq *q);
/* Times the producer had to wake a sleeping consumer. Any thread. */
uint64_t msgq_wakeups(msgq *q);

#endif
