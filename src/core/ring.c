/* ring.c - sliding window over caller-owned storage.
 *
 * Samples are rows of r->features floats. head is the row the next sample
 * goes to; once the ring is full, head is also the oldest row. */
#include <string.h>

#include "iotad/ring.h"

size_t ring_storage_bytes(uint32_t window, uint32_t features)
{
	return (size_t)window * features * sizeof(float);
}

void ring_init(ring *r, float *storage, uint32_t window, uint32_t features)
{
	r->buf = storage;
	r->window = window;
	r->features = features;
	ring_clear(r);
}

void ring_clear(ring *r)
{
	r->head = 0;
	r->count = 0;
}

void ring_push(ring *r, const float *sample)
{
	if (r->window == 0)
		return;
	memcpy(r->buf + (size_t)r->head * r->features, sample, r->features * sizeof(float));
	r->head = r->head + 1 == r->window ? 0 : r->head + 1;
	if (r->count < r->window)
		r->count++;
}

const float *ring_last(const ring *r)
{
	if (r->count == 0)
		return NULL;
	uint32_t last = r->head ? r->head - 1 : r->window - 1;
	return r->buf + (size_t)last * r->features;
}

bool ring_full(const ring *r)
{
	return r->window > 0 && r->count == r->window;
}

void ring_copy(const ring *r, float *out)
{
	size_t row = r->features;
	if (r->count == 0)
		return;
	/* Oldest row: 0 while filling, head once full. */
	uint32_t oldest = r->count < r->window ? 0 : r->head;
	uint32_t first = r->count < r->window ? r->count : r->window - oldest;

	memcpy(out, r->buf + oldest * row, (size_t)first * row * sizeof(float));
	if (first < r->count)
		memcpy(out + first * row, r->buf, (size_t)(r->count - first) * row * sizeof(float));
}
