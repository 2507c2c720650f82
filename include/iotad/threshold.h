/* threshold.h - per-device anomaly threshold behind one interface.
 *
 * Kinds:
 * - THR_STATIC: the model's calibrated threshold (a training percentile).
 * - THR_ADAPTIVE: an EWMA of the scores a device judges normal scales the
 *   calibrated threshold (bounded by min_ratio/max_ratio).
 * - THR_EWMA: EWMA mean + ewma_k * EWMA standard deviation of the normal
 *   scores, starting from the calibration scores' mean and sd.
 * - THR_SPOT: streaming peaks-over-threshold (Siffer et al., KDD 2017): a
 *   generalized Pareto tail over the initial threshold t, fitted once per
 *   model on the calibration scores and refitted per device on new peaks,
 *   gives the score exceeded by normal data with probability q.
 * - THR_DSPOT: SPOT on the score minus the mean of the device's last depth
 *   normal scores, so the threshold follows a slow drift of the level.
 * Scores at or above the threshold (and non-finite ones) never update the
 * state, so a fault is not learned. */
#ifndef IOTAD_THRESHOLD_H
#define IOTAD_THRESHOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

typedef enum thr_kind { THR_STATIC = 0, THR_ADAPTIVE, THR_EWMA, THR_SPOT, THR_DSPOT } thr_kind;

#define THR_REPS 128            /* calibration peaks kept, summarised, for device refits */
#define THR_MAX_PEAKS 1024      /* bound of thr_params.peaks */
#define THR_MAX_DEPTH 1024      /* bound of thr_params.depth */
#define THR_MIN_CALIB_PEAKS 10  /* fewest calibration peaks SPOT fits a tail on */

typedef struct thr_params {
	thr_kind kind;
	float base;       /* calibrated threshold from the model */
	float base_level; /* mean training score the base was calibrated with (> 0) */
	float alpha;      /* adaptive, ewma: EWMA weight of a new normal score, (0, 1] */
	float min_ratio;  /* adaptive: threshold >= base * min_ratio */
	float max_ratio;  /* adaptive: threshold <= base * max_ratio */
	float base_sd;    /* ewma: sd of the calibration scores */
	float ewma_k;     /* ewma: threshold = mean + ewma_k * sd, > 0 (4) */
	float q;          /* spot, dspot: risk, P(normal score >= threshold), (0, 1) */
	float init_quantile; /* spot, dspot: calibration quantile of t, (0, 1) */
	int peaks;        /* spot, dspot: recent peaks a device refits on, 0..THR_MAX_PEAKS */
	int depth;        /* dspot: normal scores in the drift average, 1..THR_MAX_DEPTH */
	/* Filled by thr_params_fit for spot and dspot, shared by every device. */
	float t;          /* initial threshold on the score (dspot: on the residual) */
	float gamma, sigma; /* GPD of the calibration peaks' excesses over t */
	float zq;         /* starting threshold on the score (dspot: on the residual) */
	double calib_n;   /* calibration scores */
	double calib_peaks; /* of which above t */
	int n_rep;        /* calibration excesses summarised in rep_y, weights rep_w */
	float rep_y[THR_REPS];
	float rep_w[THR_REPS];
} thr_params;

/* Per-device state. Kinds that keep a history (spot: recent peaks; dspot:
 * recent peaks and the last depth normal scores) use thr_state_floats()
 * floats of caller-owned storage at buf. */
typedef struct thr_state {
	float value;      /* current threshold on the score */
	float level;      /* adaptive, ewma: EWMA of normal scores; dspot: drift */
	float var;        /* ewma: EWMA variance of normal scores */
	float gamma, sigma; /* spot, dspot: current tail fit */
	float zq;         /* spot, dspot: threshold on the score (dspot: residual) */
	uint32_t n_obs;   /* spot, dspot: normal scores seen, added to calib_n */
	uint32_t n_peaks; /* spot, dspot: peaks seen, added to calib_peaks */
	uint16_t n_ring;  /* peaks held in the ring */
	uint16_t ring_next; /* next peak slot */
	uint16_t drift_next; /* dspot: next drift slot */
	double drift_sum; /* dspot: sum of the drift window */
	float *buf;       /* peaks ring (peaks floats), then dspot's drift window (depth) */
} thr_state;

/* Parse "static" / "adaptive" / "ewma" / "spot" / "dspot". Returns 0 on
 * success, -1 if unknown. */
int thr_kind_parse(const char *name, thr_kind *out);
const char *thr_kind_name(thr_kind k);
/* Sensible defaults for kind, base and base_level; nothing fitted. */
void thr_params_default(thr_params *p, thr_kind kind, float base, float base_level);
/* Complete and check p once per model: base 0 takes model_threshold,
 * base_level 0 the mean of calib (base / 2 without), base_sd 0 its sd
 * ((base - base_level) / ewma_k without); alpha, min_ratio, max_ratio 0 take
 * the defaults. spot and dspot fit the GPD tail on calib (n sorted scores)
 * here. IOTAD_ERR_INVAL on a bad field, unsorted or non-finite calib, or
 * fewer than THR_MIN_CALIB_PEAKS peaks for spot/dspot. */
iotad_err thr_params_fit(thr_params *p, float model_threshold, const float *calib, int n);
/* Floats of per-device storage a fitted p needs (0 for most kinds). */
size_t thr_state_floats(const thr_params *p);
/* Threshold a fresh device starts with. */
float thr_initial(const thr_params *p);
/* Start a device from a fitted p; buf holds thr_state_floats(p) floats
 * (may be NULL when that is 0) and must live as long as s. */
void thr_init_with(thr_state *s, const thr_params *p, float *buf);
/* thr_init_with(s, p, NULL): without storage SPOT keeps no recent peaks
 * (its tail stays the calibration's) and DSPOT no drift. */
void thr_init(thr_state *s, const thr_params *p);
/* Judge a score: true if anomalous (score >= threshold or not finite).
 * Updates the state only when it is judged normal. No allocation; spot and
 * dspot refit the tail (~100 passes over THR_REPS + peaks values) on a peak. */
bool thr_update(thr_state *s, const thr_params *p, float score);
/* Learn score as normal whatever the threshold (a device learning its
 * normal, or a window an operator marked a false alarm). Non-finite scores
 * are ignored. Same cost as thr_update; owner thread of s. */
void thr_learn(thr_state *s, const thr_params *p, float score);

#endif
