/* scorer.h - what turns a normalized window into a score for the detector:
 * the model's autoencoder (det_scorer_model), or a reference detector
 * (learn/baseline.h). A small vtable: the detector owns a per-device state
 * of state_bytes for it, calls score on every window it scores and learn on
 * the windows it judged normal, and thresholds the score against the
 * scorer's calibration. Pure: no I/O, no allocation per window. */
#ifndef IOTAD_SCORER_H
#define IOTAD_SCORER_H

#include <stddef.h>

#include "iotad/model.h"

typedef struct det_scorer_ops {
	/* Score the normalized window x (window * features floats) with a device's
	 * state (NULL outside any device): the score (higher = more anomalous),
	 * and each feature's share of it in contrib (features floats, sum 1).
	 * scratch holds scratch_floats floats. No allocation. */
	float (*score)(const void *self, const void *state, const float *x, float *contrib,
		       float *scratch);
	/* Learn window x, judged normal, into the device's state; NULL: nothing to learn. */
	void (*learn)(const void *self, void *state, const float *x);
	/* Make a fresh device's state (state_bytes, zeroed) ready; NULL: zeros are. */
	void (*state_init)(const void *self, void *state);
	/* Optional, for a stateless scorer: score n windows (n <= DET_SCORER_BATCH)
	 * at once, scores[k] and contrib[k] exactly what score gives x[k].
	 * scratch holds batch_scratch_floats floats. NULL: one at a time. */
	void (*score_batch)(const void *self, size_t n, const float *const *x,
			    float *const *contrib, float *scores, float *scratch);
} det_scorer_ops;

/* Most windows one score_batch call takes. */
#define DET_SCORER_BATCH 32

typedef struct det_scorer {
	const det_scorer_ops *ops;
	const void *self;       /* borrowed: outlives every detector using it */
	size_t state_bytes;     /* per device; 0: stateless */
	size_t scratch_floats;  /* scratch one score call needs */
	size_t batch_scratch_floats; /* scratch one score_batch call needs */
	float threshold;        /* calibrated threshold */
	const float *calib;     /* sorted calibration scores (borrowed), or NULL */
	int n_calib;
} det_scorer;

/* The model's network (with its ensemble's members) as a scorer: the mean
 * reconstruction MSE, contrib each feature's share of the squared error;
 * threshold and calibration the model's. m is borrowed. Stateless. */
void det_scorer_model(det_scorer *sc, const model *m);

#endif
