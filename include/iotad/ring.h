/* ring.h - sliding window of the last W samples of F features. */
#ifndef IOTAD_RING_H
#define IOTAD_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The storage (window * features floats) belongs to the caller: the ring
 * never allocates, so a device's ring lives inside its one allocation. */
typedef struct ring {
	float *buf;        /* window * features floats, row = one sample */
	uint32_t window;   /* W: samples kept */
	uint32_t features; /* F: floats per sample */
	uint32_t head;     /* index of the slot the next sample goes to */
	uint32_t count;    /* samples held, <= window */
} ring;

/* Bytes of storage a ring of this shape needs. */
size_t ring_storage_bytes(uint32_t window, uint32_t features);
/* Attach caller-owned storage and empty the ring. */
void ring_init(ring *r, float *storage, uint32_t window, uint32_t features);
/* Forget all samples; storage stays attached. */
void ring_clear(ring *r);
/* Append one sample of r->features floats, overwriting the oldest when full. */
void ring_push(ring *r, const float *sample);
/* True once window samples have been pushed. */
bool ring_full(const ring *r);
/* The newest sample (features floats), or NULL when empty. */
const float *ring_last(const ring *r);
/* Copy the held samples oldest first into out (count * features floats). */
void ring_copy(const ring *r, float *out);

#endif
