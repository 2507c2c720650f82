/* quantize.h - turn a float model into an int8 one (qnn.h): activation
 * ranges calibrated on normal windows, per-channel weight scales, and the
 * threshold and calibration scores recomputed from int8 scores. */
#ifndef IOTAD_QUANTIZE_H
#define IOTAD_QUANTIZE_H

#include <stddef.h>

#include "iotad/error.h"
#include "iotad/model.h"

typedef struct quant_opts {
	/* Share of each segment's windows (the last ones, after a gap of
	 * window - 1) whose int8 scores calibrate the threshold: the split of
	 * train.h, so the same rows and holdout score the same windows (0.2). */
	float holdout;
	/* The calibrated input range is widened by this share of its span on
	 * each side, so test data a little outside the training range is not
	 * clipped (0.25). */
	float input_margin;
	/* Each activation range spans this quantile of its values (and 1
	 * minus it): 1 takes the extremes; a little less keeps a rare large
	 * value from coarsening every other one (the int8 value saturates). */
	float range_quantile;
	/* 1: round each weight up or down as lowers the error its row makes on
	 * the windows (covariance-aware); 0: to nearest (1). */
	int adaround;
	/* Bits of a stored bias, sign included (2..16): each layer's biases
	 * share one scale, the largest using the full range; the model file
	 * packs them at this width; 0 keeps 16 (12). */
	int bias_bits;
	/* Rows in independent series (as train_opts.segments); NULL: one. */
	const size_t *segments;
	size_t n_segments;
} quant_opts;

void quant_opts_default(quant_opts *o);

/* Quantize the float model fm with the normal rows (n_rows x
 * fm->n_features raw values, in fm's feature order) into out (zeroed by
 * the call; owned by the caller, model_free). Every member of an ensemble
 * is quantized. The threshold is fm's percentile of the int8 scores of the
 * held-out windows. Errors name the cause in err. Any thread. */
iotad_err quant_model(const model *fm, const float *rows, size_t n_rows, const quant_opts *o,
		      model *out, char *err, size_t errlen);


#endif
