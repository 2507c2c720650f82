/* fedlocal.c - the gateway's pool of normal windows and the check of a new
 * global model (see fedlocal.h). Local epochs are train_fit (train.h). */
#include "iotad/fedlocal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

iotad_err fed_pool_init(fed_pool *p, size_t dim, int max_devices, int per_device)
{
	memset(p, 0, sizeof *p);
	if (dim == 0 || dim > NN_MAX_WIDTH || max_devices < 1 || per_device < 1 ||
	    max_devices > 1000000 || per_device > 100000)
		return IOTAD_ERR_INVAL;
	p->dim = dim;
	p->max_devices = max_devices;
	p->per_device = per_device;
	p->ids = calloc((size_t)max_devices, sizeof *p->ids);
	p->offered = calloc((size_t)max_devices, sizeof *p->offered);
	p->slots = malloc((size_t)max_devices * (size_t)per_device * dim * sizeof *p->slots);
	if (!p->ids || !p->offered || !p->slots) {
		fed_pool_free(p);
		return IOTAD_ERR_NOMEM;
	}
	return IOTAD_OK;
}

void fed_pool_free(fed_pool *p)
{
	if (!p)
		return;
	free(p->ids);
	free(p->offered);
	free(p->slots);
	memset(p, 0, sizeof *p);
}

size_t fed_pool_bytes(const fed_pool *p)
{
	return (size_t)p->max_devices * ((size_t)p->per_device * p->dim * sizeof(float) +
					 sizeof *p->ids + sizeof *p->offered);
}

void fed_pool_offer(fed_pool *p, const char *device, const float *window)
{
	int d = 0;
	while (d < p->n_devices && strcmp(p->ids[d], device) != 0)
		d++;
	if (d == p->n_devices) {
		if (p->n_devices == p->max_devices) {
			p->refused_devices++;
			return;
		}
		snprintf(p->ids[d], sizeof p->ids[d], "%s", device);
		p->n_devices++;
	}
	fed_pool_offer_at(p, d, window);
}

void fed_pool_offer_at(fed_pool *p, int d, const float *window)
{
	if (d < 0 || d >= p->max_devices)
		return;
	if (d >= p->n_devices)
		p->n_devices = d + 1;
	size_t slot = (size_t)(p->offered[d] % (uint64_t)p->per_device);
	memcpy(p->slots + ((size_t)d * (size_t)p->per_device + slot) * p->dim, window,
	       p->dim * sizeof *window);
	p->offered[d]++;
}

static size_t held(const fed_pool *p, int d)
{
	return p->offered[d] < (uint64_t)p->per_device ? (size_t)p->offered[d] :
							 (size_t)p->per_device;
}

size_t fed_pool_count(const fed_pool *p)
{
	size_t n = 0;
	for (int d = 0; d < p->n_devices; d++)
		n += held(p, d);
	return n;
}

size_t fed_pool_gather(const fed_pool *p, float *out)
{
	size_t n = 0;
	for (int d = 0; d < p->n_devices; d++) {
		size_t k = held(p, d);
		memcpy(out + n * p->dim, p->slots + (size_t)d * (size_t)p->per_device * p->dim,
		       k * p->dim * sizeof *out);
		n += k;
	}
	return n;
}

double fed_mean_score(const nn *net, const float *x, size_t n)
{
	if (n == 0)
		return 0;
	float *scratch = malloc(nn_scratch_floats(net) * sizeof *scratch);
	if (!scratch)
		return NAN;
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += nn_forward(net, x + i * (size_t)net->sizes[0], scratch, NULL);
	free(scratch);
	return s / (double)n;
}

bool fed_validate(const nn *cur, const nn *cand, const float *x, size_t n, double max_ratio,
		  double *cur_mean, double *cand_mean)
{
	double a = fed_mean_score(cur, x, n), b = fed_mean_score(cand, x, n);
	for (size_t i = 0; i < cand->n_params; i++)
		if (!isfinite(cand->params[i]))
			b = NAN; /* ReLU would hide a NaN weight from the score */
	if (cur_mean)
		*cur_mean = a;
	if (cand_mean)
		*cand_mean = b;
	if (n == 0)
		return isfinite(b);
	return isfinite(b) && b <= max_ratio * a;
}
