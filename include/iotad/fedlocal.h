/* fedlocal.h - a gateway's side of federated learning, without I/O: a
 * bounded pool of recent windows judged normal (per device, memory fixed at
 * init), local epochs from the global model, and the check of a new global
 * model on those windows before it is swapped in. One thread at a time. */
#ifndef IOTAD_FEDLOCAL_H
#define IOTAD_FEDLOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/model.h"
#include "iotad/nn.h"

#define FED_DEVICE_MAX 128

/* The last per_device normal windows of at most max_devices devices (a
 * device beyond that is not sampled, and counted). */
typedef struct fed_pool {
	size_t dim;                  /* floats per window: window x features */
	int max_devices, per_device;
	int n_devices;
	char (*ids)[FED_DEVICE_MAX];
	uint64_t *offered;           /* windows offered per device; its ring's next slot */
	float *slots;                /* max_devices x per_device x dim, allocated at init */
	uint64_t refused_devices;    /* offers of devices beyond max_devices */
} fed_pool;

/* Allocate every slot now: max_devices x per_device x dim floats
 * (fed_pool_bytes). IOTAD_ERR_INVAL for a zero size; fed_pool_free accepts
 * a zeroed struct. */
iotad_err fed_pool_init(fed_pool *p, size_t dim, int max_devices, int per_device);
void fed_pool_free(fed_pool *p);
/* Bytes the pool holds, fixed at init (slots, ids, counters). */
size_t fed_pool_bytes(const fed_pool *p);
/* Keep a copy of window (dim floats, normalized) as device's latest normal
 * window, replacing its oldest when its ring is full. No allocation. */
void fed_pool_offer(fed_pool *p, const char *device, const float *window);
/* The same for the device of index d (0..max_devices-1) of the caller's own
 * device table; the pool's names are then unused. No allocation. */
void fed_pool_offer_at(fed_pool *p, int d, const float *window);
/* Windows held (at most max_devices x per_device). */
size_t fed_pool_count(const fed_pool *p);
/* Copy every window held into out (fed_pool_count x dim floats, caller's),
 * device by device; returns the count. */
size_t fed_pool_gather(const fed_pool *p, float *out);

/* Mean reconstruction MSE of net over n windows x (n x sizes[0] floats), in
 * double. Allocates its scratch; 0 for n = 0. */
double fed_mean_score(const nn *net, const float *x, size_t n);

/* Judge a candidate global network against the current one on the
 * gateway's recent normal windows: refused (false) when its mean score is
 * more than max_ratio times the current one's (or not finite). Means into
 * *cur_mean and *cand_mean (may be NULL). A parameter that is not finite is
 * refused; with n = 0 anything else is accepted. */
bool fed_validate(const nn *cur, const nn *cand, const float *x, size_t n, double max_ratio,
		  double *cur_mean, double *cand_mean);

#endif
