/* msgq.c - the bounded message queue between the MQTT client's thread and
 * the scorer: a single-producer, single-consumer ring of preallocated
 * slots, and a futex the consumer sleeps on only when the ring is empty. */
#include "iotad/msgq.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "iotad/topic.h"

/* The consumer's sleep: SLEEP wakes on the next message (it came alone:
 * messages are sparse, so each is handed over at once); DOZE, after a take
 * of several (messages come faster than the consumer wakes), wakes by
 * itself after MSGQ_DOZE_US or when MSGQ_WAKE_BATCH wait, so a stream
 * costs a wake-up per batch rather than per message. (Dozing only after
 * two such takes in a row spared a slow stream's odd pair the doze, but
 * doubled the futex calls per message at 5,000 msg/s: docs/benchmarks.md.) */
enum { MSGQ_AWAKE = 0, MSGQ_SLEEP = 1, MSGQ_DOZE = 2 };
#define MSGQ_DOZE_US 100
#define MSGQ_WAKE_BATCH 64

iotad_err msgq_init(msgq *q, uint32_t cap)
{
	memset(q, 0, sizeof *q);
	if (cap == 0)
		return IOTAD_ERR_INVAL;
	q->slots = calloc(cap, sizeof *q->slots);
	if (!q->slots)
		return IOTAD_ERR_NOMEM;
	q->cap = cap;
	return IOTAD_OK;
}

static void slot_clear(msgq_msg *m)
{
	if (m->heap)
		free(m->data);
	m->heap = 0;
	m->data = NULL;
}

void msgq_free(msgq *q)
{
	if (!q->slots)
		return;
	uint64_t t = atomic_load(&q->tail);
	for (uint64_t i = atomic_load(&q->head); i < t; i++)
		slot_clear(&q->slots[i % q->cap]);
	free(q->slots);
	q->slots = NULL;
}

/* Copy topic and payload into m (inline when they fit). false: no memory. */
static bool fill(msgq_msg *m, const char *topic, size_t topic_len, const void *payload, size_t len,
		 size_t max_payload)
{
	/* A cut or NUL-holding topic could name another device: rejected later. */
	bool bad_topic = topic_len >= TOPIC_MAX || memchr(topic, '\0', topic_len);
	if (topic_len >= TOPIC_MAX)
		topic_len = TOPIC_MAX - 1;
	bool oversize = len > max_payload;
	size_t stored = oversize ? 0 : len;
	size_t need = topic_len + 1 + stored;
	if (need <= MSGQ_INLINE) {
		m->data = m->inline_data;
		m->heap = 0;
	} else {
		m->data = malloc(need);
		if (!m->data)
			return false;
		m->heap = 1;
	}
	m->topic_len = (uint32_t)topic_len;
	m->len = (uint32_t)stored;
	m->oversize = oversize;
	m->bad_topic = bad_topic;
	memcpy(m->data, topic, topic_len);
	m->data[topic_len] = '\0';
	if (stored)
		memcpy(m->data + topic_len + 1, payload, stored);
	return true;
}

msgq_msg *msgq_msg_new(const char *topic, size_t topic_len, const void *payload, size_t len,
		       size_t max_payload)
{
	msgq_msg *m = malloc(sizeof *m);
	if (!m)
		return NULL;
	if (!fill(m, topic, topic_len, payload, len, max_payload)) {
		free(m);
		return NULL;
	}
	return m;
}

void msgq_msg_free(msgq_msg *m)
{
	if (!m)
		return;
	slot_clear(m);
	free(m);
}

const char *msgq_topic(const msgq_msg *m)
{
	return m->data;
}

const char *msgq_payload(const msgq_msg *m)
{
	return m->data + m->topic_len + 1;
}

static void futex_wait(_Atomic uint32_t *word, uint32_t val, long wait_us)
{
	struct timespec ts = {wait_us / 1000000, (wait_us % 1000000) * 1000L};
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

msgq_offer_result msgq_offer(msgq *q, const char *topic, size_t topic_len, const void *payload,
			     size_t len, size_t max_payload)
{
	if (atomic_load_explicit(&q->closed, memory_order_relaxed))
		return MSGQ_CLOSED;
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	/* the consumer's line is read only when the ring looks full */
	if (t - q->head_seen >= q->cap) {
		q->head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
		if (t - q->head_seen >= q->cap)
			return MSGQ_FULL;
	}
	if (!fill(&q->slots[t % q->cap], topic, topic_len, payload, len, max_payload))
		return MSGQ_NOMEM;
	/* Publish the slot, then look whether the consumer sleeps: both
	 * sequentially consistent, paired with the consumer's store of
	 * waiting and load of tail, so one of the two sees the other. */
	atomic_store_explicit(&q->tail, t + 1, memory_order_seq_cst);
	uint32_t w = atomic_load_explicit(&q->waiting, memory_order_seq_cst);
	if ((w == MSGQ_SLEEP ||
	     (w == MSGQ_DOZE && t + 1 - atomic_load(&q->head) >= MSGQ_WAKE_BATCH)) &&
	    atomic_exchange(&q->waiting, MSGQ_AWAKE)) {
		atomic_fetch_add_explicit(&q->wakeups, 1, memory_order_relaxed);
		futex_wake(&q->waiting);
	}
	return MSGQ_ACCEPTED;
}

uint32_t msgq_take(msgq *q, const msgq_msg **out, uint32_t max, int wait_ms)
{
	if (q->taken)
		msgq_release(q);
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
	if (t == h && wait_ms > 0) {
		uint32_t mode = q->last_batch > 1 ? MSGQ_DOZE : MSGQ_SLEEP;
		long us = mode == MSGQ_DOZE && wait_ms * 1000L > MSGQ_DOZE_US ? MSGQ_DOZE_US
									 : wait_ms * 1000L;
		atomic_store_explicit(&q->waiting, mode, memory_order_seq_cst);
		t = atomic_load_explicit(&q->tail, memory_order_seq_cst);
		if (t == h)
			futex_wait(&q->waiting, mode, us);
		atomic_store_explicit(&q->waiting, MSGQ_AWAKE, memory_order_relaxed);
		t = atomic_load_explicit(&q->tail, memory_order_acquire);
	}
	uint32_t n = 0;
	while (n < max && h + n < t) {
		out[n] = &q->slots[(h + n) % q->cap];
		n++;
	}
	q->taken = n;
	q->last_batch = n;
	return n;
}

void msgq_release(msgq *q)
{
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	for (uint32_t i = 0; i < q->taken; i++)
		slot_clear(&q->slots[(h + i) % q->cap]);
	atomic_store_explicit(&q->head, h + q->taken, memory_order_release);
	q->taken = 0;
}

void msgq_wake(msgq *q)
{
	if (atomic_exchange(&q->waiting, 0))
		futex_wake(&q->waiting);
}

void msgq_close(msgq *q)
{
	atomic_store(&q->closed, true);
}

uint32_t msgq_depth(msgq *q)
{
	uint64_t h = atomic_load(&q->head);
	uint64_t t = atomic_load(&q->tail);
	return t > h ? (uint32_t)(t - h) : 0;
}

uint64_t msgq_wakeups(msgq *q)
{
	return atomic_load_explicit(&q->wakeups, memory_order_relaxed);
}
