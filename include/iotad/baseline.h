/* baseline.h - simple reference detectors scored row by row, to measure
 * the autoencoder against: a rolling per-feature z-score and PCA T^2/Q.
 * Both are fitted on normal rows and calibrated like the autoencoder (a
 * percentile of the scores of held-out training rows); as the detector's
 * scorer (bl_scorer) they go through the same detector as the autoencoder. */
#ifndef IOTAD_BASELINE_H
#define IOTAD_BASELINE_H

#include <stddef.h>

#include "iotad/error.h"
#include "iotad/scorer.h"

typedef enum bl_kind { BL_ZSCORE = 0, BL_PCA } bl_kind;
typedef enum bl_pca_score { BL_PCA_Q = 0, BL_PCA_T2Q } bl_pca_score;

typedef struct bl_opts {
	int zs_window;          /* z-score: recent normal rows the statistics cover (100) */
	float pca_var;          /* PCA: share of the variance the components keep (0.9) */
	bl_pca_score pca_score; /* PCA: score Q (squared residual) or T^2 + Q */
	float percentile;       /* threshold = this percentile of calibration scores (99) */
	float holdout;          /* last share of each training segment held out (0.2) */
} bl_opts;

typedef struct baseline baseline;
typedef struct bl_state bl_state;

void bl_opts_default(bl_opts *o);
/* Fit kind on rows (n x f, time-ordered; segments as in train_opts, may be
 * NULL) and calibrate its threshold. err receives a message on failure. */
iotad_err bl_fit(bl_kind kind, const bl_opts *o, const float *rows, size_t n, int f,
		 const size_t *segments, size_t n_segments, baseline **out, char *err,
		 size_t errlen);
void bl_destroy(baseline *b);
float bl_threshold(const baseline *b);
/* Mean of the calibration scores (the normal score level). */
float bl_calib_mean(const baseline *b);
/* The calibration scores, sorted ascending (owned by b); *n their count. */
const float *bl_calib(const baseline *b, int *n);

/* Per-series state (the z-score's recent rows). Allocated once per series. */
iotad_err bl_state_create(const baseline *b, bl_state **out);
void bl_state_destroy(bl_state *s);
/* Score one raw row (f floats; higher = more anomalous). No allocation. */
float bl_score(const baseline *b, const bl_state *s, const float *x);
/* Add a row judged normal to the series' recent statistics. */
void bl_learn(const baseline *b, bl_state *s, const float *x);

/* b as the detector's scorer (det_create_with) of windows of one raw row
 * (a model of window 1 and NORM_NONE): bl_score, contrib each feature's
 * share of it; per device, the z-score's recent rows, learned from the
 * rows the detector judged normal. b is borrowed. */
void bl_scorer(const baseline *b, det_scorer *out);

#endif
