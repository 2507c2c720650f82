/* msgq.h - the bounded queue between the MQTT client's thread and the
 * scorer: each message's topic and payload copied out of the client's
 * buffers into one block.
 *
 * Threads: one producer (msgq_offer), one consumer (msgq_take); the depth
 * may be read from any thread. A full or closed queue refuses an offer
 * without allocating. */
#ifndef IOTAD_MSGQ_H
#define IOTAD_MSGQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

/* One message: topic (cut to TOPIC_MAX - 1 bytes), NUL, payload. */
typedef struct msgq_msg {
	uint32_t topic_len;
	uint32_t len;        /* payload bytes stored */
	uint16_t oversize;   /* payload was larger than max_payload (not stored) */
	uint16_t bad_topic;  /* topic too long or holding a NUL (stored cut) */
	char data[];         /* topic, NUL, payload */
} msgq_msg;

typedef struct msgq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	msgq_msg **slots;
	uint32_t cap, head, count;
	bool closed;         /* refuse new messages (shutting down) */
} msgq;

/* Result of msgq_offer. */
typedef enum msgq_offer_result {
	MSGQ_ACCEPTED = 0,
	MSGQ_FULL,           /* no room now: offer it again later */
	MSGQ_CLOSED,         /* shutting down */
	MSGQ_NOMEM,
} msgq_offer_result;

/* Prepare q for cap messages. Free with msgq_free. */
iotad_err msgq_init(msgq *q, uint32_t cap);
/* Free the queue and any message still in it. Accepts a zeroed q. */
void msgq_free(msgq *q);
/* Copy a message into one malloc'd block (the caller frees it): the
 * payload only when len <= max_payload (else oversize is set), the topic
 * cut to TOPIC_MAX - 1 bytes (bad_topic set when cut or holding a NUL).
 * NULL when out of memory. Any thread. */
msgq_msg *msgq_msg_new(const char *topic, size_t topic_len, const void *payload, size_t len,
		       size_t max_payload);
/* The NUL-terminated topic and the payload (m->len bytes) of m. */
const char *msgq_topic(const msgq_msg *m);
const char *msgq_payload(const msgq_msg *m);
/* Producer: copy a message in (as msgq_msg_new) when there is room. */
msgq_offer_result msgq_offer(msgq *q, const char *topic, size_t topic_len, const void *payload,
			     size_t len, size_t max_payload);
/* Consumer: take up to max messages into out (the caller frees each),
 * waiting up to wait_ms for the first. Returns how many. */
uint32_t msgq_take(msgq *q, msgq_msg **out, uint32_t max, int wait_ms);
/* Refuse every later offer (MSGQ_CLOSED); what is queued can still be taken. */
void msgq_close(msgq *q);
/* Messages waiting now. Any thread. */
uint32_t msgq_depth(msgq *q);

#endif
