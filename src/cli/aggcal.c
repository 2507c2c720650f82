/* aggcal.c - the aggregator's threshold from the gateways' summaries (see
 * aggcal.h). */
#include "iotad/aggcal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/fedcal.h"

_Static_assert(FEDCALMSG_NQ == FEDCAL_NQ, "one quantile grid for the message and the merge");

static void merge(agg_cal *c);

iotad_err agg_cal_init(agg_cal *c, const char *model, int clients, int min, float percentile)
{
	memset(c, 0, sizeof *c);
	snprintf(c->model, sizeof c->model, "%s", model);
	c->clients = clients;
	c->min = min;
	c->percentile = percentile;
	c->s = calloc((size_t)clients, sizeof *c->s);
	return c->s ? IOTAD_OK : IOTAD_ERR_NOMEM;
}

void agg_cal_free(agg_cal *c)
{
	free(c->s);
	c->s = NULL;
}

void agg_cal_open(agg_cal *c, uint32_t round, uint32_t hash)
{
	c->round = round;
	c->hash = hash;
	c->n = 0;
}

bool agg_cal_offer(agg_cal *c, const char *gw, const void *payload, size_t len, char *why,
		   size_t whylen)
{
	fedcal_summary s;
	bool ok = false;
	if (fedcal_summary_decode(payload, len, &s, why, whylen) != IOTAD_OK)
		;
	else if (strcmp(s.model, c->model))
		snprintf(why, whylen, "model '%s', not '%s'", s.model, c->model);
	else if (strcmp(s.gateway, gw))
		snprintf(why, whylen, "gateway '%s' on the topic of '%s'", s.gateway, gw);
	else if (s.round != c->round || s.hash != c->hash)
		snprintf(why, whylen, "of round %u (%08x), the global model is round %u (%08x)",
			 s.round, s.hash, c->round, c->hash);
	else
		ok = true;
	for (int i = 0; ok && i < c->n; i++)
		if (!strcmp(c->s[i].gateway, gw)) {
			snprintf(why, whylen, "a second summary of %s for round %u", gw, c->round);
			ok = false;
		}
	if (ok && c->n == c->clients) {
		snprintf(why, whylen, "more than federated.clients (%d) gateways", c->clients);
		ok = false;
	}
	if (!ok) {
		c->refused++;
		return false;
	}
	c->s[c->n++] = s;
	c->accepted++;
	snprintf(why, whylen, "%u windows, own threshold %.6g", s.windows, (double)s.threshold);
	if (c->n == c->min || (c->n == c->clients && c->clients > c->min))
		merge(c); /* now: a new round may come before it is published */
	return true;
}

/* Merge the summaries of the current round into c->last. */
static void merge(agg_cal *c)
{
	uint32_t n[1024];
	float(*q)[FEDCAL_NQ] = malloc((size_t)c->n * sizeof *q);
	if (!q || c->n > 1024 || c->n == 0) {
		free(q);
		return;
	}
	uint64_t windows = 0;
	for (int i = 0; i < c->n; i++) {
		n[i] = c->s[i].windows;
		memcpy(q[i], c->s[i].q, sizeof q[i]);
		windows += n[i];
	}
	float t = fedcal_merge(n, (const float(*)[FEDCAL_NQ])q, (size_t)c->n, c->percentile);
	free(q);
	fedcal_global g = {.round = c->round, .hash = c->hash, .gateways = (uint32_t)c->n,
			   .windows = windows > UINT32_MAX ? UINT32_MAX : (uint32_t)windows,
			   .threshold = t > FEDCAL_MIN_THRESHOLD ? t : FEDCAL_MIN_THRESHOLD,
			   .percentile = c->percentile};
	snprintf(g.model, sizeof g.model, "%s", c->model);
	c->last = g;
	c->dirty = true;
}

bool agg_cal_take(agg_cal *c, char *buf, size_t len, size_t *out_len)
{
	if (!c->dirty)
		return false;
	c->dirty = false;
	return fedcal_global_encode(&c->last, buf, len, out_len) == IOTAD_OK;
}

bool agg_cal_stats(const agg_cal *c, char *buf, size_t len, int *n)
{
	int k = snprintf(buf + *n, len - (size_t)*n,
			 ",\"threshold\":{\"round\":%u,\"value\":%.6g,\"gateways\":%u,\"windows\":%u},"
			 "\"gateway_thresholds\":{", c->last.round, (double)c->last.threshold,
			 c->last.gateways, c->last.windows);
	if (k < 0 || (size_t)(*n + k) >= len)
		return false;
	*n += k;
	for (int i = 0; i < c->n; i++) {
		k = snprintf(buf + *n, len - (size_t)*n, "%s\"%s\":%.6g", i ? "," : "",
			     c->s[i].gateway, (double)c->s[i].threshold);
		if (k < 0 || (size_t)(*n + k) >= len)
			return false;
		*n += k;
	}
	k = snprintf(buf + *n, len - (size_t)*n, "}");
	if (k < 0 || (size_t)(*n + k) >= len)
		return false;
	*n += k;
	return true;
}
