/* msgq.c - the bounded message queue between the MQTT client's thread and
 * the scorer. */
#include "iotad/msgq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iotad/clock.h"
#include "iotad/topic.h"

iotad_err msgq_init(msgq *q, uint32_t cap)
{
	memset(q, 0, sizeof *q);
	q->slots = calloc(cap, sizeof *q->slots);
	if (!q->slots)
		return IOTAD_ERR_NOMEM;
	q->cap = cap;
	pthread_mutex_init(&q->lock, NULL);
	clock_cond_init(&q->cond);
	return IOTAD_OK;
}

void msgq_free(msgq *q)
{
	if (!q->slots)
		return;
	for (uint32_t i = 0; i < q->count; i++)
		free(q->slots[(q->head + i) % q->cap]);
	free(q->slots);
	q->slots = NULL;
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
}

msgq_msg *msgq_msg_new(const char *topic, size_t topic_len, const void *payload, size_t len,
		       size_t max_payload)
{
	/* A cut or NUL-holding topic could name another device: rejected later. */
	bool bad_topic = topic_len >= TOPIC_MAX || memchr(topic, '\0', topic_len);
	if (topic_len >= TOPIC_MAX)
		topic_len = TOPIC_MAX - 1;
	bool oversize = len > max_payload;
	size_t stored = oversize ? 0 : len;
	msgq_msg *m = malloc(sizeof *m + topic_len + 1 + stored);
	if (!m)
		return NULL;
	m->topic_len = (uint32_t)topic_len;
	m->len = (uint32_t)stored;
	m->oversize = oversize;
	m->bad_topic = bad_topic;
	memcpy(m->data, topic, topic_len);
	m->data[topic_len] = '\0';
	if (stored)
		memcpy(m->data + topic_len + 1, payload, stored);
	return m;
}

const char *msgq_topic(const msgq_msg *m)
{
	return m->data;
}

const char *msgq_payload(const msgq_msg *m)
{
	return m->data + m->topic_len + 1;
}

msgq_offer_result msgq_offer(msgq *q, const char *topic, size_t topic_len, const void *payload,
			     size_t len, size_t max_payload)
{
	pthread_mutex_lock(&q->lock);
	msgq_offer_result r = q->closed ? MSGQ_CLOSED : q->count == q->cap ? MSGQ_FULL
								  : MSGQ_ACCEPTED;
	pthread_mutex_unlock(&q->lock);
	if (r != MSGQ_ACCEPTED)
		return r;
	msgq_msg *m = msgq_msg_new(topic, topic_len, payload, len, max_payload);
	if (!m)
		return MSGQ_NOMEM;
	pthread_mutex_lock(&q->lock);
	/* Only this thread adds, so the room seen above is still there. */
	q->slots[(q->head + q->count) % q->cap] = m;
	q->count++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return MSGQ_ACCEPTED;
}

uint32_t msgq_take(msgq *q, msgq_msg **out, uint32_t max, int wait_ms)
{
	pthread_mutex_lock(&q->lock);
	if (q->count == 0 && wait_ms > 0) {
		struct timespec dl;
		clock_deadline_ms(&dl, wait_ms);
		while (q->count == 0 && pthread_cond_timedwait(&q->cond, &q->lock, &dl) != ETIMEDOUT)
			;
	}
	uint32_t n = 0;
	while (n < max && q->count > 0) {
		out[n++] = q->slots[q->head];
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	pthread_mutex_unlock(&q->lock);
	return n;
}

void msgq_close(msgq *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_mutex_unlock(&q->lock);
}

uint32_t msgq_depth(msgq *q)
{
	pthread_mutex_lock(&q->lock);
	uint32_t n = q->count;
	pthread_mutex_unlock(&q->lock);
	return n;
}
