/* model.h - a trained detector: features, window, normalization, network,
 * and the calibrated threshold. Stored as JSON (format below). */
#ifndef IOTAD_MODEL_H
#define IOTAD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/nn.h"
#include "iotad/qnn.h"

#define MODEL_FORMAT_VERSION 1
#define MODEL_MAX_FEATURES 32
#define MODEL_MAX_MEMBERS 8   /* networks of an ensemble */
#define MODEL_MAX_STUCK_RUN 255 /* longest run a stuck check counts */
#define MODEL_NAME_MAX 64
#define MODEL_MAX_WINDOW 1024
#define MODEL_MAX_CALIB 100000
/* Normalized inputs are clamped to [NORM_CLAMP_LO, NORM_CLAMP_HI] so no value
 * can produce NaN or Inf downstream; beyond that range it is anomalous anyway. */
#define NORM_CLAMP_LO (-4.0f)
#define NORM_CLAMP_HI (5.0f)

/* NORM_NONE passes raw values on unclamped: for a scorer that standardizes
 * its input itself (the baselines); a model file never has it. */
typedef enum norm_kind { NORM_MINMAX = 0, NORM_ZSCORE, NORM_NONE } norm_kind;

/* What scores a window: the float networks, or their int8 form (q). */
typedef enum model_type { MODEL_FLOAT = 0, MODEL_INT8 } model_type;

typedef struct model {
	char id[MODEL_NAME_MAX];                       /* e.g. "temp-ae" */
	int version;                                   /* model version (user's) */
	int n_features;
	char features[MODEL_MAX_FEATURES][MODEL_NAME_MAX];
	int window;                                    /* W samples per window */
	int stride;                                    /* score every stride samples */
	norm_kind norm;
	/* minmax: a = min, b = max; zscore: a = mean, b = std */
	float norm_a[MODEL_MAX_FEATURES];
	float norm_b[MODEL_MAX_FEATURES];
	nn net;                                        /* input = window * n_features */
	/* An ensemble: further networks of net's shape, trained from other
	 * seeds; the score is the mean of the members' (optional, 0). */
	int n_more;
	nn more[MODEL_MAX_MEMBERS - 1];
	float threshold;                               /* calibrated threshold */
	float percentile;                              /* percentile it came from */
	float *calib;                                  /* owned, sorted training scores */
	int n_calib;
	/* Per feature: after this many consecutive samples of one value it is
	 * stuck, 2..MODEL_MAX_STUCK_RUN; 0 never (decided in training, see
	 * train.h). Optional in the file ("stuck_after"); without it none. */
	uint8_t stuck_after[MODEL_MAX_FEATURES];
	/* MODEL_INT8: q[0] scores for net, q[k] for more[k - 1] (owned, 1 +
	 * n_more); net and more[] then hold the dequantized weights. */
	model_type type;
	qnn *q;
} model;

/* Score the normalized window x (window * n_features floats): the mean over
 * the members (net, then more[]) of their reconstruction MSE, computed by
 * the int8 networks for an int8 model. err (may be NULL) receives the mean
 * squared error of every input; with members beyond net, tmp (window *
 * n_features floats) is then needed. scratch holds model_scratch_floats(m)
 * floats (malloc'ed: int8 code needs 16-byte alignment). No allocation. */
float model_score(const model *m, const float *x, float *scratch, float *err, float *tmp);

/* Each feature's share of the squared errors err (window * n_features, as
 * model_score leaves them) into contrib (n_features floats, sum 1; equal
 * shares when the total is 0 or not finite). */
void model_contrib(const model *m, const float *err, float *contrib);

/* Floats of scratch model_score needs: nn_scratch_floats, or more for int8. */
size_t model_scratch_floats(const model *m);

/* Parse norm kind names "minmax", "zscore" (not "none": see NORM_NONE). */
int model_norm_parse(const char *name, norm_kind *out);
const char *model_norm_name(norm_kind k);

/* Free owned memory; accepts a zeroed struct. */
void model_free(model *m);

/* Normalize one raw sample (n_features floats) into out, clamped. No allocation. */
void model_normalize(const model *m, const float *raw, float *out);
/* Fraction of calibration scores <= score (0..1); 0.5 if there are none. */
float model_calib_rank(const model *m, float score);

#endif
