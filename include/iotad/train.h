/* train.h - fit an autoencoder model to normal data with mini-batch Adam. */
#ifndef IOTAD_TRAIN_H
#define IOTAD_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/model.h"

/* A feature is called stuck after L equal samples in a row (model
 * stuck_after): the least L, at least 3 and twice the longest run in
 * training (runs of a slow, quantized signal are not independent), for which
 * a run that long is rarer than this at the rate r the feature repeated its
 * previous value in training (r^(L-1) < TRAIN_STUCK_RARE). A feature whose
 * L would exceed MODEL_MAX_STUCK_RUN (it often repeats itself) is not
 * checked. */
#define TRAIN_STUCK_RARE 1e-6

typedef struct train_opts {
	int window, stride;
	int n_hidden;              /* hidden layers of the encoder+decoder */
	int hidden[NN_MAX_LAYERS]; /* their widths, e.g. {12, 6, 12} */
	int hidden_auto;           /* 1: instead, 12,6,12 x D/20 for D = window x features in
				    * the model (the seed's 20-12-6-12-20 scaled to the input) */
	norm_kind norm;
	int epochs, batch;
	int ensemble;              /* networks trained, from seed, seed + 1, ...; the score
				    * is the mean of theirs, 1..MODEL_MAX_MEMBERS (1) */
	float lr;
	uint64_t seed;
	float percentile;          /* threshold = this percentile of calib scores (99.0) */
	float holdout;             /* fraction of windows held out for calibration (0.2) */
	int verbose;               /* print loss per epoch to stderr */
	/* > 0: features whose drift ratio on the training rows (see
	 * train_drift_ratio) exceeds this are left out of the model; 0 keeps all. */
	float drift_max;
	/* Rows may hold several independent series one after another (e.g.
	 * one per device): segments gives their lengths, summing to n_rows.
	 * No window crosses a segment boundary and each segment gives its last
	 * holdout share to calibration. NULL: the rows are one series. */
	const size_t *segments;
	size_t n_segments;
	/* DP-SGD: > 0 clips each window's gradient to this L2
	 * norm and adds N(0, (dp_noise dp_clip)^2) to each coordinate of a
	 * batch's sum before dividing by the batch size (Abadi et al. 2016);
	 * 0: off. The noise is drawn from dp_seed. */
	float dp_clip;
	float dp_noise;
	uint64_t dp_seed;
} train_opts;

void train_opts_default(train_opts *o);

/* Train on rows (n_rows x n_features raw values, time-ordered) and fill m:
 * normalization from the data, network, calibration scores and threshold.
 * Deterministic for a given seed. m->id/features must be set by the caller. */
iotad_err train_model(const float *rows, size_t n_rows, int n_features, const train_opts *o,
		      model *m, char *err, size_t errlen);

/* What a training run did, for summaries and tests. */
typedef struct train_report {
	size_t n_windows;          /* windows of W rows (step 1) */
	size_t n_train;            /* windows trained on */
	size_t n_calib;            /* windows scored for calibration */
	int calib_on_train;        /* 1: too few windows to hold out, calibrated on all */
	float first_loss;          /* mean training MSE of the first epoch */
	float final_loss;          /* mean training MSE of the last epoch */
	int n_kept;                /* input columns in the model (all without drift_max) */
	int kept[MODEL_MAX_FEATURES];  /* their indices among the input columns */
	float drift[MODEL_MAX_FEATURES]; /* drift ratio of every input column (drift_max > 0) */
} train_report;

/* Drift ratio of each column of rows (segments as in train_opts, may be
 * NULL): variance around the segment means over half the mean squared step
 * between consecutive rows (von Neumann). About 1 for noise around a fixed
 * level, large for a feature that wanders slowly (a sensor warming up), 1
 * for a constant one. Fills ratio[n_features]. */
iotad_err train_drift_ratio(const float *rows, size_t n_rows, int n_features,
			    const size_t *segments, size_t n_segments, float *ratio, char *err,
			    size_t errlen);
/* Columns whose drift ratio is at most drift_max (all if drift_max <= 0):
 * indices in keep[], count in *n_keep; ratio[] as train_drift_ratio (may be
 * NULL). IOTAD_ERR_RANGE if every column drifts. */
iotad_err train_drift_select(const float *rows, size_t n_rows, int n_features,
			     const size_t *segments, size_t n_segments, float drift_max, int *keep,
			     int *n_keep, float *ratio, char *err, size_t errlen);

/* m->stuck_after (see TRAIN_STUCK_RARE) from rows x (n_rows x n_features,
 * as the detector sees them: normalized); runs never cross a segment
 * boundary (segments as in train_opts, NULL: one series). */
void train_stuck_after(const float *x, size_t n_rows, int n_features, const size_t *segments,
		       size_t n_segments, model *m);

/* train_model that also fills rep (may be NULL). m must be zeroed apart
 * from id, version and features; on error m holds no allocation. With
 * drift_max, m->features keeps only the names of the kept columns. */
iotad_err train_model_report(const float *rows, size_t n_rows, int n_features,
			     const train_opts *o, model *m, train_report *rep, char *err,
			     size_t errlen);

/* Continue training net from its current parameters (e.g. a federated
 * global model's): o->epochs epochs of mini-batch Adam (o->batch, o->lr,
 * o->seed; a fresh optimizer) over n normalized windows x (n x sizes[0]
 * floats). rep (may be NULL) gets n_train, first_loss and final_loss.
 * IOTAD_ERR_RANGE if the loss stops being finite (net then holds the last
 * step). With o->dp_clip > 0, DP-SGD (see train_opts): batches are a
 * shuffle, not Poisson samples, so an accountant's q = batch / n is the
 * usual approximation. Caller's thread; allocates its scratch. */
iotad_err train_fit(nn *net, const float *x, size_t n, const train_opts *o, train_report *rep);

#endif
