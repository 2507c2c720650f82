/* outbox.c - publishes waiting for room in the MQTT client's in-flight
 * window, in the order they were made. */
#include "iotad/outbox.h"

#include <stdlib.h>
#include <string.h>

struct outbox_item {
	size_t len;
	int qos;
	bool retained;
	char *topic;
	char payload[];
};

iotad_err outbox_init(outbox *o, uint32_t cap)
{
	memset(o, 0, sizeof *o);
	if (cap == 0)
		return IOTAD_ERR_INVAL;
	o->items = calloc(cap, sizeof *o->items);
	if (!o->items)
		return IOTAD_ERR_NOMEM;
	o->cap = cap;
	return IOTAD_OK;
}

void outbox_free(outbox *o)
{
	if (!o->items)
		return;
	for (uint32_t i = 0; i < o->count; i++)
		free(o->items[(o->head + i) % o->cap]);
	free(o->items);
	memset(o, 0, sizeof *o);
}

static iotad_err keep(outbox *o, const char *topic, const void *payload, size_t len, int qos,
		      bool retained)
{
	size_t tl = strlen(topic);
	outbox_item *it = malloc(sizeof *it + len + tl + 1);
	if (!it)
		return IOTAD_ERR_NOMEM;
	it->len = len;
	it->qos = qos;
	it->retained = retained;
	memcpy(it->payload, payload, len);
	it->topic = it->payload + len;
	memcpy(it->topic, topic, tl + 1);
	o->items[(o->head + o->count) % o->cap] = it;
	o->count++;
	atomic_fetch_add_explicit(&o->deferred, 1, memory_order_relaxed);
	return IOTAD_OK;
}

uint32_t outbox_flush(outbox *o, mq *c, int timeout_ms)
{
	while (o->count > 0) {
		outbox_item *it = o->items[o->head];
		iotad_err e = mq_publish(c, it->topic, it->payload, it->len, it->qos, it->retained,
					 timeout_ms);
		if (e == IOTAD_ERR_FULL)
			break;
		if (e != IOTAD_OK)
			atomic_fetch_add_explicit(&o->failed, 1, memory_order_relaxed);
		free(it);
		o->head = (o->head + 1) % o->cap;
		o->count--;
	}
	return o->count;
}

iotad_err outbox_publish(outbox *o, mq *c, const char *topic, const void *payload, size_t len,
			 int qos, bool retained)
{
	if (o->count > 0)
		outbox_flush(o, c, 0);
	if (o->count == 0) {
		iotad_err e = mq_publish(c, topic, payload, len, qos, retained, 0);
		if (e != IOTAD_ERR_FULL)
			return e;
	}
	if (o->count == o->cap) {
		/* The last resort: wait for the broker rather than lose an event. */
		atomic_fetch_add_explicit(&o->waited, 1, memory_order_relaxed);
		while (o->count == o->cap)
			outbox_flush(o, c, 1000);
	}
	return keep(o, topic, payload, len, qos, retained);
}
