/* season.h - the seasonal channel: a device's own period, found by
 * autocorrelation in the samples it learns from, a robust level per phase
 * of that period, and the residual off it scored against a threshold
 * calibrated on the same learning samples. It sees what the profile's
 * level channel cannot: a daily or periodic pattern that stops, shifts or
 * changes shape while the values stay within their usual range.
 *
 * Learning (the first learn samples): per feature, block means of the
 * samples in a bounded buffer (SEASON_BLOCKS; when full, neighbours merge
 * and blocks grow twice as long). At its end: the autocorrelation of the
 * block means over lags up to half the buffer; the period is the shortest
 * lag at a local peak whose correlation is at least acf_min, dips at least
 * 0.2 below it at a shorter lag (a trend or a slow wander has no dip) and
 * is within 0.9 of the strongest such peak. Per phase (one block of the
 * period) the median of the blocks' distance from a moving average over
 * one period; the residual's scale is the median absolute residual
 * (x 1.4826) and the threshold margin x the largest residual seen in the
 * learning blocks, at least floor scales. No period: the feature is not
 * judged.
 *
 * Judging: residual r = x - level - season[phase]; statistic |EWMA of r|
 * (weight 2/(L+1), L the block length, so it averages like a block) over
 * the scale; fired after need samples in a row over the threshold. The
 * level follows the series over about one period and each phase's value
 * learns slowly, from samples that are not over the threshold only.
 * Pure: the state is a caller-owned float array, zeroed = fresh; no
 * allocation, no I/O, libm only. One thread per state. */
#ifndef IOTAD_SEASON_H
#define IOTAD_SEASON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

#define SEASON_BLOCKS 256u         /* learning buffer per feature, block means */
#define SEASON_MAX_FEATURES 32u

typedef struct season_params {
	bool on;        /* the channel judges (false by default) */
	uint32_t learn; /* samples learned before judging, >= 1 (the profile's learn;
			 * fewer than 8 blocks' worth find no period) */
	float margin;   /* threshold = margin x the largest learning residual, >= 1 (2) */
	float floor;    /* least threshold, in residual scales, > 0 (4) */
	float acf_min;  /* least autocorrelation of a period, (0, 1) (0.3) */
	uint8_t need;   /* samples in a row over the threshold to fire, >= 1 (3) */
} season_params;

/* What one sample did. */
typedef struct season_out {
	bool judging;   /* learned, and a period found for some feature */
	bool over;      /* some feature over its threshold on this sample */
	bool fired;     /* some feature met its raise rule */
	float score;    /* largest statistic / threshold (0 when not judging) */
	uint32_t blame; /* the feature of that statistic */
} season_out;

/* Defaults as listed in season_params (learn 8640, the profile's). */
void season_params_default(season_params *p);
/* IOTAD_ERR_INVAL naming the field in *why (may be NULL) on a bad field. */
iotad_err season_params_check(const season_params *p, const char **why);
/* Floats of one device's state for features features (2 + F (13 + 256)). */
size_t season_floats(uint32_t features);
/* Judge and learn one sample x (features finite floats). No allocation. */
void season_step(const season_params *p, uint32_t features, float *st, const float *x,
		 season_out *out);
/* Feature f's period in samples, 0 while learning or when none was found. */
float season_period(const season_params *p, uint32_t features, const float *st, uint32_t f);
/* The current level becomes the normal one: the period, phases and
 * calibration stay; for one period the level is re-learned and nothing
 * is judged (a lasting
 * change taken as the new normal). */
void season_rebaseline(uint32_t features, float *st);
/* True if st (season_floats floats, e.g. from a state file) can be
 * continued from: finite, counts in range. */
bool season_state_ok(const season_params *p, uint32_t features, const float *st);

#endif
