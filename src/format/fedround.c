/* fedround.c - the aggregator's open round (see fedround.h). */
#include "iotad/fedround.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/errmsg.h"

static const char *const names[FED_VERDICT__COUNT] = {
	[FED_ACCEPTED] = "accepted",       [FED_MALFORMED] = "malformed",
	[FED_OVERSIZE] = "oversize",       [FED_WRONG_MODEL] = "wrong_model",
	[FED_WRONG_SHAPE] = "wrong_shape", [FED_NONFINITE] = "nonfinite",
	[FED_SPOOFED] = "spoofed",         [FED_STALE] = "stale",
	[FED_FUTURE] = "future",           [FED_WRONG_BASE] = "wrong_base",
	[FED_DUPLICATE] = "duplicate",     [FED_NO_SAMPLES] = "no_samples",
	[FED_FULL] = "full",
};

const char *fed_verdict_name(fed_verdict v)
{
	return (unsigned)v < FED_VERDICT__COUNT ? names[v] : "unknown";
}

iotad_err fed_round_init(fed_round *r, const char *model, size_t n_params, int max_clients,
			 size_t max_payload)
{
	memset(r, 0, sizeof *r);
	if (!fedmsg_valid_id(model) || n_params == 0 || n_params > FEDMSG_MAX_PARAMS ||
	    max_clients < 1 || max_clients > 1024)
		return IOTAD_ERR_INVAL;
	snprintf(r->model, sizeof r->model, "%s", model);
	r->n_params = n_params;
	r->max_payload = max_payload;
	r->max_slots = max_clients;
	r->slots = calloc((size_t)max_clients, sizeof *r->slots);
	r->scratch = malloc(n_params * sizeof *r->scratch);
	if (!r->slots || !r->scratch) {
		fed_round_free(r);
		return IOTAD_ERR_NOMEM;
	}
	for (int i = 0; i < max_clients; i++)
		if (!(r->slots[i].params = malloc(n_params * sizeof(float)))) {
			fed_round_free(r);
			return IOTAD_ERR_NOMEM;
		}
	return IOTAD_OK;
}

void fed_round_free(fed_round *r)
{
	if (!r)
		return;
	if (r->slots)
		for (int i = 0; i < r->max_slots; i++)
			free(r->slots[i].params);
	free(r->slots);
	free(r->scratch);
	memset(r, 0, sizeof *r);
}

void fed_round_open(fed_round *r, uint32_t round, uint32_t base_hash)
{
	r->round = round;
	r->base_hash = base_hash;
	r->n_slots = 0;
}

uint64_t fed_round_refused(const fed_round *r)
{
	uint64_t n = 0;
	for (int v = 1; v < FED_VERDICT__COUNT; v++)
		n += r->counts[v];
	return n;
}

__attribute__((format(printf, 5, 6))) static fed_verdict verdict(fed_round *r, fed_verdict v,
								  char *why, size_t whylen,
								  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	iotad_verrf(why, whylen, fmt, ap);
	va_end(ap);
	r->counts[v]++;
	return v;
}

fed_verdict fed_round_offer(fed_round *r, const char *gateway, const void *payload, size_t len,
			    char *why, size_t whylen)
{
	fedmsg m;
	char msg[160];

	if (len > r->max_payload)
		return verdict(r, FED_OVERSIZE, why, whylen, "%zu bytes, the limit is %zu", len,
			       r->max_payload);
	if (!gateway)
		return verdict(r, FED_MALFORMED, why, whylen, "not an update topic");
	iotad_err rc = fedmsg_decode(payload, len, &m, r->scratch, r->n_params, msg, sizeof msg);
	if (rc == IOTAD_ERR_MODEL)
		return verdict(r, FED_WRONG_SHAPE, why, whylen, "%s", msg);
	if (rc == IOTAD_ERR_RANGE)
		return verdict(r, FED_NONFINITE, why, whylen, "%s", msg);
	if (rc)
		return verdict(r, FED_MALFORMED, why, whylen, "%s", msg);
	if (m.kind != FEDMSG_UPDATE || strcmp(m.model, r->model) != 0)
		return verdict(r, FED_WRONG_MODEL, why, whylen, "%s of model '%s', expected an update of '%s'",
			       m.kind == FEDMSG_UPDATE ? "update" : "global model", m.model, r->model);
	if (m.n_params != r->n_params)
		return verdict(r, FED_WRONG_SHAPE, why, whylen, "%u parameters, the model has %zu",
			       m.n_params, r->n_params);
	if (strcmp(m.sender, gateway) != 0)
		return verdict(r, FED_SPOOFED, why, whylen, "sender '%s' on the topic of '%s'", m.sender,
			       gateway);
	if (m.round < r->round)
		return verdict(r, FED_STALE, why, whylen, "round %u, the open round is %u", m.round,
			       r->round);
	if (m.round > r->round)
		return verdict(r, FED_FUTURE, why, whylen, "round %u, the open round is %u", m.round,
			       r->round);
	if (m.base_hash != r->base_hash)
		return verdict(r, FED_WRONG_BASE, why, whylen, "base %08x, the open round's is %08x",
			       m.base_hash, r->base_hash);
	if (m.samples == 0)
		return verdict(r, FED_NO_SAMPLES, why, whylen, "sample count 0");
	for (int i = 0; i < r->n_slots; i++)
		if (!strcmp(r->slots[i].sender, m.sender))
			return verdict(r, FED_DUPLICATE, why, whylen, "second update of round %u",
				       m.round);
	if (r->n_slots >= r->max_slots)
		return verdict(r, FED_FULL, why, whylen, "already %d updates this round", r->n_slots);
	fed_slot *s = &r->slots[r->n_slots++];
	snprintf(s->sender, sizeof s->sender, "%s", m.sender);
	s->samples = m.samples;
	memcpy(s->params, r->scratch, r->n_params * sizeof(float));
	return verdict(r, FED_ACCEPTED, why, whylen, "round %u, %u windows", m.round, m.samples);
}
