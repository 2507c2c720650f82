/* fedround.h - the aggregator's open round: which updates it takes, which
 * it refuses and why (counted per reason). Pure bookkeeping: no I/O, no
 * threads (the caller serializes access). */
#ifndef IOTAD_FEDROUND_H
#define IOTAD_FEDROUND_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/fedmsg.h"

typedef enum fed_verdict {
	FED_ACCEPTED = 0,
	FED_MALFORMED,     /* not a valid message: truncated, CRC, version, ids */
	FED_OVERSIZE,      /* payload longer than max_payload */
	FED_WRONG_MODEL,   /* another model id, or not an update */
	FED_WRONG_SHAPE,   /* parameter count not the model's */
	FED_NONFINITE,     /* a NaN or Inf parameter */
	FED_SPOOFED,       /* sender is not the gateway of its topic */
	FED_STALE,         /* an older round (a late or replayed update) */
	FED_FUTURE,        /* a round not opened yet */
	FED_WRONG_BASE,    /* trained from another global model than the open round's */
	FED_DUPLICATE,     /* this gateway already sent an update for the round */
	FED_NO_SAMPLES,    /* sample count 0 */
	FED_FULL,          /* more gateways than the configured clients */
	FED_VERDICT__COUNT
} fed_verdict;

typedef struct fed_slot {
	char sender[FEDMSG_ID_MAX];
	uint32_t samples;
	float *params;                 /* n_params floats, owned by the round */
} fed_slot;

typedef struct fed_round {
	char model[FEDMSG_ID_MAX];
	size_t n_params;
	size_t max_payload;
	uint32_t round;                /* the open round: updates must carry it */
	uint32_t base_hash;            /* hash of the global model they must start from */
	int n_slots, max_slots;
	fed_slot *slots;
	float *scratch;                /* decode buffer, n_params floats */
	uint64_t counts[FED_VERDICT__COUNT];
} fed_round;

/* Set up for model (its id and parameter count), at most max_clients
 * updates a round and payloads up to max_payload bytes; allocates every
 * buffer now (owned by r). IOTAD_ERR_INVAL for a bad id or size. */
iotad_err fed_round_init(fed_round *r, const char *model, size_t n_params, int max_clients,
			 size_t max_payload);
/* Free r's buffers and zero it; accepts NULL and a zeroed struct. */
void fed_round_free(fed_round *r);
/* Open round (updates must carry it and base_hash); forgets the updates
 * taken so far. Counters are kept. */
void fed_round_open(fed_round *r, uint32_t round, uint32_t base_hash);
/* Judge one update received on the topic of gateway (NULL: not an update
 * topic). Accepted: copied into a slot. Either way the verdict is counted;
 * why (may be NULL) says what was wrong. */
fed_verdict fed_round_offer(fed_round *r, const char *gateway, const void *payload, size_t len,
			    char *why, size_t whylen);
/* Refusals counted so far (every verdict but FED_ACCEPTED). Caller's lock. */
uint64_t fed_round_refused(const fed_round *r);
/* Short name of a verdict ("duplicate", "stale", ...), never NULL. */
const char *fed_verdict_name(fed_verdict v);

#endif
