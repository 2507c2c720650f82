/* fedsim.h - federated learning simulated in process on labelled files:
 * gateways hold files, each file's first n_warm rows are its training rows
 * (the SKAB protocol), and rounds of local training (train_fit) and
 * aggregation (fed_aggregate) run with the code the gateways and the
 * aggregator run. After every round the global model is calibrated (one
 * threshold for all gateways, and one per gateway, both) and every file is
 * replayed causally (eval_replay). The pooled model (trained by eval_fit on
 * every gateway's training rows) and each gateway's own local model are
 * fitted and replayed the same way for comparison. See docs/federated.md. */
#ifndef IOTAD_FEDSIM_H
#define IOTAD_FEDSIM_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/eval.h"
#include "iotad/fedavg.h"
#include "iotad/fedcal.h"

/* One labelled file: n_rows x n_features raw rows in time order. */
typedef struct fedsim_file {
	const float *rows;
	const uint8_t *label;
	size_t n_rows;
} fedsim_file;

/* A gateway: its files (borrowed). */
typedef struct fedsim_gw {
	const fedsim_file *files;
	size_t n_files;
} fedsim_gw;

typedef struct fedsim_opts {
	eval_opts eval;       /* model shape, training, calibration, detector (as eval);
			       * train.dp_clip and dp_noise: DP-SGD in the gateways' local
			       * training only */
	int n_features;
	size_t n_warm;        /* training rows at the head of each file (400) */
	int rounds;           /* federated rounds (20) */
	int local_epochs;     /* epochs a gateway trains a round (2) */
	fed_opts agg;         /* aggregation rule, clip, DP-FedAvg noise */
	bool norm_per_gw;     /* fedsim_run: each gateway normalizes by the min and max of
			       * its own training rows (the network is shared); false:
			       * by those of all gateways' */
	fedcal_pers personalize; /* fedsim_run: after every round each gateway serves the
			       * global model, the global model fine-tuned (local epochs
			       * on its training windows: finetune) or its own local model
			       * (fedsim_local's), whichever scores its held-out windows
			       * lowest (fedcal_personalize), with its own threshold */
} fedsim_opts;

/* Counts of one model over the gateways' scored rows, both calibrations. */
typedef struct fedsim_counts {
	eval_counts global;   /* one threshold: the percentile of every gateway's held-out scores */
	eval_counts per_gw;   /* each gateway's threshold from its own held-out scores */
	eval_counts pers;     /* fedsim_run with personalize: the model each gateway picked,
			       * its own threshold */
} fedsim_counts;

/* What one round did. */
typedef struct fedsim_round {
	int round;
	fedsim_counts total;
	fedsim_counts *gw;    /* n_gw, in the caller's array given to fedsim_run */
	size_t bytes;         /* on the wire: every update and the global model to each gateway */
	double epsilon;       /* DP-FedAvg: epsilon at delta after this round; 0 without noise */
	double window_epsilon;/* DP-SGD (eval.train.dp_clip): the largest of the gateways'
			       * window-level epsilon at delta, q = batch / its windows */
	float max_norm;       /* the longest update (L2, before clipping) */
	int n_clipped;        /* updates clipped */
	int n_picked[3];      /* with personalize: gateways serving the global model, the
			       * fine-tuned one, their own (fedcal_pick) */
	uint8_t *pick;        /* with personalize: each gateway's fedcal_pick (n_gw, in the
			       * array given as picks to fedsim_run), else NULL */
} fedsim_round;

/* Defaults: eval_opts_default, n_warm 400, 20 rounds, 2 local epochs,
 * fed_opts_default. */
void fedsim_opts_default(fedsim_opts *o);

/* The pooled model: eval_fit on every gateway's training rows (one segment
 * a file), replayed on every file; its own calibration counts as global,
 * per gateway recalibrates on each gateway's held-out windows. gw_counts
 * (n_gw, may be NULL) gets each gateway's share. */
iotad_err fedsim_pooled(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw,
			fedsim_counts *total, fedsim_counts *gw_counts, char *err, size_t errlen);

/* Each gateway's own model (eval_fit on its training rows only), replayed
 * on its files: counts per gateway (n_gw) and their sum. Its calibration is
 * its own, so global and per_gw are equal. */
iotad_err fedsim_local(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw,
		       fedsim_counts *total, fedsim_counts *gw_counts, char *err, size_t errlen);

/* Federated rounds from a network initialised with eval.train.seed, with
 * the pooled model's normalization (the min and max of every gateway's
 * training rows: what gateways would send once; or each gateway's own with
 * norm_per_gw) and shape. rounds[0..o->rounds) are filled (each with gw
 * pointing into gw_rows, n_gw x rounds counts, caller's). delta: of the
 * epsilon reported (with agg.noise). central (may be NULL) gets the same
 * network trained centrally on the union of the gateways' windows, from
 * the same start, for rounds x local_epochs epochs, calibrated and
 * replayed as the rounds (central_gw: n_gw, may be NULL). */
iotad_err fedsim_run(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw, double delta,
		     fedsim_round *rounds, fedsim_counts *gw_rows, fedsim_counts *central,
		     fedsim_counts *central_gw, char *err, size_t errlen);

/* fedsim_run with personalization (o->personalize): picks (n_gw x rounds,
 * caller's) receive each gateway's choice after every round. */
iotad_err fedsim_run_pers(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw, double delta,
			  fedsim_round *rounds, fedsim_counts *gw_rows, uint8_t *picks,
			  fedsim_counts *central, fedsim_counts *central_gw, char *err,
			  size_t errlen);

#endif
