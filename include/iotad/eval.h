/* eval.h - detection quality: confusion counts, rates, ROC-AUC, PR-AUC and
 * detection delay, and the replay of labelled rows through the detector
 * core (a baseline scores there in place of the network: det_scorer). */
#ifndef IOTAD_EVAL_H
#define IOTAD_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/baseline.h"
#include "iotad/detector.h"
#include "iotad/error.h"
#include "iotad/train.h"

/* ---- metrics ---- */

typedef struct eval_counts {
	uint64_t tp, fp, fn, tn;
} eval_counts;

/* Rates of a confusion matrix; NAN where the denominator is 0. */
typedef struct eval_rates {
	double precision;  /* TP / (TP + FP) */
	double recall;     /* TP / (TP + FN) */
	double f1;         /* 2TP / (2TP + FP + FN) */
	double far;        /* false alarm rate FP / (FP + TN) */
	double mar;        /* missed alarm rate FN / (FN + TP) */
} eval_rates;

/* Detection delay over anomaly segments (maximal runs of labelled rows). */
typedef struct eval_delays {
	uint64_t segments;  /* anomaly segments seen */
	uint64_t detected;  /* segments with an alarm on one of their rows */
	double sum;         /* rows from segment start to first alarm, detected ones */
} eval_delays;

/* Per-series state of the delay count; zero it to start a series. */
typedef struct eval_delay_state {
	bool in_seg, found;
	uint64_t since;
} eval_delay_state;

/* Count one row: truth is the label, pred the prediction. */
void eval_count(eval_counts *c, bool truth, bool pred);
void eval_counts_merge(eval_counts *into, const eval_counts *c);
void eval_rates_from(const eval_counts *c, eval_rates *r);
/* Feed one row of one series (rows in time order) to the delay count. */
void eval_delay_step(eval_delay_state *s, eval_delays *acc, bool truth, bool pred);
/* Mean delay in rows, NAN when no segment was detected. */
double eval_delay_mean(const eval_delays *d);
/* Area under the ROC curve of score (higher = more anomalous) against
 * label; tied scores count half (Mann-Whitney). NAN in *out and
 * IOTAD_ERR_INVAL when one class is absent; IOTAD_ERR_NOMEM. */
iotad_err eval_roc_auc(const float *score, const uint8_t *label, size_t n, double *out);
/* Area under the precision-recall curve as average precision: the sum over
 * distinct thresholds of (recall gain) x precision. Same errors. */
iotad_err eval_pr_auc(const float *score, const uint8_t *label, size_t n, double *out);

/* Points of the ROC curve, one per distinct score from the highest: fpr and
 * tpr (owned by the caller, n_pts = distinct scores + 1, starting at 0,0).
 * Errors as eval_roc_auc. */
iotad_err eval_roc_curve(const float *score, const uint8_t *label, size_t n, double **fpr,
			 double **tpr, size_t *n_pts);

/* ---- replay ---- */

/* EVAL_PROFILE: no training, the detector's profile channels alone (a
 * zero-config detector, det_create with no model). */
typedef enum eval_detector { EVAL_AE = 0, EVAL_ZSCORE, EVAL_PCA, EVAL_PROFILE } eval_detector;

/* Parse "ae", "zscore", "pca", "profile". Returns 0, or -1 if unknown. */
int eval_detector_parse(const char *name, eval_detector *out);
const char *eval_detector_name(eval_detector k);

typedef struct eval_opts {
	eval_detector kind;
	train_opts train;  /* AE model; percentile and holdout also calibrate baselines */
	det_config det;    /* threshold kind/params and alert k/n/m, used by every kind */
	bl_opts bl;        /* baselines */
	char *const *names; /* the n_features input columns' names (borrowed, read by
			     * eval_fit only; may be NULL): the AE model's and the
			     * profile's feature names */
	bool int8;         /* AE: quantize the trained model (quant_model, its training
			    * rows) and replay the int8 one; the float one stays */
} eval_opts;

/* Defaults: AE, train_opts_default, det_config_default, bl_opts_default. */
void eval_opts_default(eval_opts *o);

/* Rows to replay, in time order (groups interleaved as they arrived). */
typedef struct eval_data {
	const float *rows;        /* n_rows x n_features raw values */
	size_t n_rows;
	int n_features;
	const uint32_t *group;    /* n_rows series ids 0..n_groups-1, or NULL: one series */
	size_t n_groups;
	const uint8_t *label;     /* n_rows: 1 anomalous; ignored for the first n_warm */
	size_t n_warm;            /* leading rows pushed as history, not counted */
	const double *time;       /* n_rows device times, or NULL: the row index is the
				   * time. Given, a silence longer than the detector's
				   * stale_after is a stale (eval_result.stale_at) */
} eval_data;

/* What a replay produced for its counted rows (in replay order). */
typedef struct eval_result {
	size_t n;                 /* counted rows */
	float *score;             /* owned: raw score of the window ending at the row
				   * (-INFINITY before the first full window) */
	float *thr;               /* owned: threshold in force at that row */
	uint8_t *label;           /* owned */
	uint8_t *alert;           /* owned: 1 while the device's alert is raised */
	uint8_t *raw;             /* owned: 1 if the last window verdict was anomalous */
	double *stale_at;         /* owned: the device time at which the silence before
				   * the row made its device stale, 0 when none */
	eval_counts c_alert, c_raw;
	eval_delays d_alert, d_raw;
	size_t n_scored;          /* windows scored */
	double seconds;           /* time spent scoring (push calls) */
} eval_result;

/* A fitted detector: AE model or baseline, ready to replay. */
typedef struct eval_scorer eval_scorer;

/* Fit on normal rows (n_rows x n_features, time-ordered; segments as in
 * train_opts, may be NULL). Deterministic for a given seed. */
iotad_err eval_fit(const eval_opts *o, const float *rows, size_t n_rows, int n_features,
		   const size_t *segments, size_t n_segments, eval_scorer **out, char *err,
		   size_t errlen);
/* A scorer from the model file at path (as `iotad train` writes it), for
 * rows whose n_cols columns are named cols: each model feature is read
 * from the column of its name. Errors name the missing feature. */
iotad_err eval_scorer_load(const eval_opts *o, const char *path, char *const *cols, int n_cols,
			   eval_scorer **out, char *err, size_t errlen);
void eval_scorer_destroy(eval_scorer *s);
/* Threshold the scorer was calibrated to (before adaptation). */
float eval_scorer_threshold(const eval_scorer *s);
/* The AE model (the int8 one with int8, unless use_float), or NULL for a baseline. */
const model *eval_scorer_model(const eval_scorer *s);
/* With int8: replay (and report the threshold of) the float model instead. */
void eval_scorer_use_float(eval_scorer *s, bool use_float);

/* Give an AE scorer (not int8) another network of its model's shape, a
 * threshold and calibration scores (sorted, n_calib <= MODEL_MAX_CALIB;
 * copied), and with norm_a and norm_b (n_features each; NULL: unchanged)
 * another normalization: a federated round's global model with a
 * gateway's calibration. IOTAD_ERR_INVAL for a baseline, another shape or
 * bad calibration. */
iotad_err eval_scorer_set_net(eval_scorer *s, const float *params, size_t n_params,
			      float threshold, const float *calib, int n_calib,
			      const float *norm_a, const float *norm_b);
/* Input columns the scorer reads (all but those train.drift_max left out):
 * returns their count, their indices in *keep and every input column's drift
 * ratio in *drift (either may be NULL; owned by s). */
int eval_scorer_columns(const eval_scorer *s, const int **keep, const float **drift);

/* Replay data causally through fresh per-series state: each row is pushed,
 * scored when its window is full, thresholded and fed to the alert machine.
 * res must be zeroed or freed; it is filled (allocations owned). */
iotad_err eval_replay(eval_scorer *s, const eval_data *data, eval_result *res, char *err,
		      size_t errlen);
/* Append src's rows and counts to dst (dst zeroed or filled). */
iotad_err eval_result_append(eval_result *dst, const eval_result *src);
void eval_result_free(eval_result *r);

#endif
