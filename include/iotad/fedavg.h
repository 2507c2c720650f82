/* fedavg.h - aggregation of federated model updates: weighted FedAvg,
 * coordinate-wise median and trimmed mean, with L2 clipping of each update
 * (update = client parameters - global parameters). Pure: no I/O. */
#ifndef IOTAD_FEDAVG_H
#define IOTAD_FEDAVG_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

#define FED_MAX_CLIENTS 1024

typedef enum fed_rule {
	FED_MEAN = 0,  /* FedAvg: mean of the updates weighted by their windows */
	FED_MEDIAN,    /* coordinate-wise median (unweighted; even count: mean of the middle two) */
	FED_TRIMMED,   /* coordinate-wise mean after dropping floor(trim x k) lowest and highest */
} fed_rule;

typedef struct fed_opts {
	fed_rule rule;
	float trim;    /* FED_TRIMMED: share cut at each end, [0, 0.5) */
	float clip;    /* > 0: an update longer than this (L2) is scaled down to it; 0: off */
	float noise;   /* DP-FedAvg noise multiplier z: > 0 adds N(0, (z clip)^2) to each
			* coordinate of the sum of the clipped updates, which are then
			* averaged unweighted (needs FED_MEAN and clip > 0); 0: off */
	uint64_t noise_seed;  /* seed of that noise (the aggregator draws a fresh one a round) */
} fed_opts;

/* One client's model: its parameters (n_params floats, borrowed) and the
 * windows it trained on (its FedAvg weight, > 0). */
typedef struct fed_client {
	const float *params;
	size_t n_params;
	uint64_t weight;
} fed_client;

/* What an aggregation did, for logs and tests. */
typedef struct fed_report {
	int n_clipped;        /* updates scaled down by clip */
	float max_norm;       /* longest update before clipping (L2) */
	float step_norm;      /* L2 norm of the aggregated step applied to global */
} fed_report;

/* Defaults: FED_MEAN, trim 0.2, clip 0 (off), noise 0 (off). */
void fed_opts_default(fed_opts *o);
/* "mean" (also "fedavg"), "median", "trimmed": 0, or -1 for an unknown name.
 * fed_rule_name never returns NULL. Any thread. */
int fed_rule_parse(const char *name, fed_rule *out);
const char *fed_rule_name(fed_rule r);

/* L2 norm of a - b over n floats, accumulated in double. Any thread. */
double fed_l2_dist(const float *a, const float *b, size_t n);

/* Aggregate k client models around global (n floats) into out (n floats,
 * caller's; may not alias global). Refuses (IOTAD_ERR_INVAL, err names the
 * client) k = 0 or > FED_MAX_CLIENTS, a client of another shape or weight
 * 0, a NaN or Inf in global or any client, and options out of range
 * (noise without the mean rule and a clip).
 * Allocates its scratch and frees it; rep may be NULL. Any thread. */
iotad_err fed_aggregate(const float *global, size_t n, const fed_client *clients, size_t k,
			const fed_opts *o, float *out, fed_report *rep, char *err, size_t errlen);

#endif
