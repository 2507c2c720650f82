/* aggcal.h - the aggregator's side of threshold calibration: the gateways'
 * summaries of their held-out scores under the current global model
 * (fedcalmsg.h), merged into one threshold for every gateway (fedcal_merge)
 * once min_updates of them are in, and again when every gateway's is. One
 * thread at a time (the aggregator's lock). */
#ifndef IOTAD_AGGCAL_H
#define IOTAD_AGGCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/fedcalmsg.h"

typedef struct agg_cal {
	char model[FEDMSG_ID_MAX];
	int clients, min;             /* N gateways; K summaries make a threshold */
	float percentile;             /* of the model file */
	uint32_t round, hash;         /* the global model the summaries must be of */
	int n;                        /* summaries of this round */
	fedcal_summary *s;            /* clients of them */
	bool dirty;                   /* last is to be published */
	fedcal_global last;           /* the threshold published last (round 0: none yet) */
	uint64_t accepted, refused;   /* summaries since start */
} agg_cal;

/* clients slots; IOTAD_ERR_NOMEM. agg_cal_free accepts a zeroed struct. */
iotad_err agg_cal_init(agg_cal *c, const char *model, int clients, int min, float percentile);
void agg_cal_free(agg_cal *c);
/* A new global model (round, hash): the summaries of the last one go. */
void agg_cal_open(agg_cal *c, uint32_t round, uint32_t hash);
/* A summary from the calib topic of gateway gw: true if taken; false with
 * why (malformed, another model or gateway, not of the current global
 * model, a second one of a gateway, more gateways than clients). */
bool agg_cal_offer(agg_cal *c, const char *gw, const void *payload, size_t len, char *why,
		   size_t whylen);
/* If a threshold is due (merged when the min_updates-th and the
 * clients-th summary of a round came, so a new round does not lose it):
 * true, with it encoded into buf (len bytes); it is c->last. */
bool agg_cal_take(agg_cal *c, char *buf, size_t len, size_t *out_len);
/* The stats topic's fragment: ,"threshold":{...},"gateway_thresholds":{...}
 * appended at buf + *n (len bytes in all); false if it does not fit. */
bool agg_cal_stats(const agg_cal *c, char *buf, size_t len, int *n);

#endif
