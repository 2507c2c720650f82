/* profile.h - one device's own normal, learned online, and the channels
 * that judge each raw sample against it.
 *
 * Per feature the profile keeps a baseline level (EWMA of the value), a
 * scale (EWMA of |x - level|), a noise scale (EWMA of |x - previous x|)
 * and a short average of the value. Baselines learn from every sample
 * while the device is learning, afterwards only from samples whose
 * feature no channel judges anomalous, so a fault is not learned.
 *
 * Channels, each calibrated on the device's own normal data (threshold =
 * margin x the largest statistic seen on normal samples, at least the
 * channel's floor), each with its own raise rule (need: samples in a row
 * over the threshold):
 * - level:    |short average - level| / scale (a shift stays flagged);
 * - jump:     |x - previous x| / noise; a jump back towards the level that
 *             undoes an open jump is a return, not a new fault;
 * - noise:    EWMA of the share of |x - previous x| above twice the normal
 *             noise: a quantile statistic one jump cannot trip;
 * - drift:    the level against a slow level (slow times slower) over the
 *             usual distance between them: a ramp over hours;
 * - relation: per pair of neighbouring features the residual of an online
 *             linear fit of one on the other over its own scale; when
 *             features named temperature and humidity exist, their dew
 *             point's distance from its own level instead (benign setpoint
 *             changes leave it alone; a wrong sensor moves it), the dew
 *             point's hour-long mean against its own slow level (its
 *             drift, which also judges whether a temperature or humidity
 *             drift is physics), and the co-movement: the hour-long
 *             correlation of the two off their levels rising above its
 *             normal to a positive one (humidity rising with temperature);
 * - stuck:    samples in a row of one exact value against the longest run
 *             seen on normal data.
 * Pure: the state is a caller-owned float array (prof_floats), no
 * allocation, no I/O, libm only. One thread per state. */
#ifndef IOTAD_PROFILE_H
#define IOTAD_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

#define PROF_MAX_FEATURES 32
#define PROF_MAX_LEARN 1000000u

typedef enum prof_channel {
	PROF_CH_LEVEL = 0,
	PROF_CH_JUMP,
	PROF_CH_NOISE,
	PROF_CH_DRIFT,
	PROF_CH_RELATION,
	PROF_CH_STUCK,
	PROF_CH_COUNT
} prof_channel;

#define PROF_CH_ALL ((1u << PROF_CH_COUNT) - 1u)

typedef struct prof_params {
	uint32_t channels;      /* bit c: channel c judges samples (PROF_CH_ALL) */
	uint32_t learn;         /* samples a new device learns before it judges (8640: a
				 * day at 10 s, so its daily cycle is in its normal) */
	bool learn_quiet;       /* no channel fires while learning (true); false: it
				 * judges against what it has learned so far */
	float alpha_level;      /* EWMA weight of a normal sample in level and scale after
				 * learning, (0, 1) (1/1440) */
	float alpha_fast;       /* weight of a sample in the short average, (0, 1] (0.25) */
	float alpha_noise;      /* weight of a step in the noise share, (0, 1) (1/32) */
	float margin;           /* threshold = margin x normal maximum, >= 1 (1.75) */
	float slow;             /* the slow level (drift) learns this many times slower than
				 * the level, [2, 10000] (24: a day for an hour) */
	float floor[PROF_CH_COUNT]; /* least threshold per channel, > 0 (level 4 scales,
				     * jump 6 noises, noise 0.35, drift 4, relation 4,
				     * stuck 12 samples) */
	uint8_t need[PROF_CH_COUNT]; /* samples in a row over threshold to fire, 1..255
				      * (level 3, jump 1, noise 1, drift 6, relation 3,
				      * stuck 1) */
	/* Filled by prof_params_resolve. */
	uint32_t features;      /* F, 1..PROF_MAX_FEATURES */
	int temp, rh;           /* features of the dew point, -1 when absent */
	uint32_t rise_ok;       /* features whose jump up is a new normal (a battery's
				 * recharge): named "battery" or "batt" */
	uint32_t n_pairs;       /* relation pairs: feature pair_b[k] fitted on pair_a[k];
				 * pair_a -1: the dew point of temp and rh */
	int8_t pair_a[PROF_MAX_FEATURES], pair_b[PROF_MAX_FEATURES];
} prof_params;

/* What one sample did. */
typedef struct prof_out {
	bool learning;          /* the device was still learning at this sample */
	uint32_t over;          /* bit c: channel c over its threshold on this sample */
	uint32_t fired;         /* bit c: channel c met its raise rule (need) */
	float score;            /* largest statistic / threshold over the enabled channels */
	float contrib[PROF_MAX_FEATURES]; /* blame of the fired channels, sums to 1 (0s
					   * when none fired) */
} prof_out;

/* Defaults as listed in prof_params; features 0 until resolved. */
void prof_params_default(prof_params *p);
/* Check p and fix its shape: features = n, the dew point pair found by
 * name ("temperature"/"temp" and "humidity"/"rh", any case) when names
 * (n strings, may be NULL) has both. IOTAD_ERR_INVAL on a bad field; *why
 * (why may be NULL) then names it (a static string). */
iotad_err prof_params_resolve(prof_params *p, uint32_t n, const char *const *names,
			      const char **why);
/* Floats of one device's state at resolved p (8 + 16 F + 15 per pair). */
size_t prof_floats(const prof_params *p);
/* A fresh (learning) state: all zeros, so zeroed storage is one too. */
void prof_init(const prof_params *p, float *st);
/* Judge and learn one raw sample (F finite floats). No allocation. */
void prof_step(const prof_params *p, float *st, const float *x, prof_out *out);
/* Samples the state has seen (saturates at PROF_MAX_LEARN). */
uint32_t prof_seen(const prof_params *p, const float *st);
/* True while the state has seen fewer than p->learn samples. */
bool prof_learning(const prof_params *p, const float *st);
/* Feature f's baseline level (0 before the first sample). */
float prof_level(const prof_params *p, const float *st, uint32_t f);
/* Feature f's learned normal. */
typedef struct prof_feature {
	float level;            /* baseline level */
	float scale;            /* mean |x - level| */
	float noise;            /* mean |x - previous x| */
	float slow;             /* slow level (the drift channel's reference) */
} prof_feature;
/* Fill out with feature f's learned normal (zeros for f out of range). */
void prof_feature_get(const prof_params *p, const float *st, uint32_t f, prof_feature *out);
/* Dew point (Magnus formula, C) of temperature t (C, clamped to [-60, 80])
 * and relative humidity rh (%, clamped to [1, 100]). */
float prof_dew_point(float t, float rh);
/* Re-baseline: the current behaviour (short averages) becomes the normal;
 * accumulated statistics and open jumps are dropped; calibration is kept. */
void prof_rebaseline(const prof_params *p, float *st);
/* True if st (prof_floats floats, e.g. from a state file) is a state
 * prof_step can continue from: finite, counts and scales in range. */
bool prof_state_ok(const prof_params *p, const float *st);
/* "level", "jump", "noise", "drift", "relation", "stuck"; NULL if out of range. */
const char *prof_channel_name(int c);
/* Parse a channel name; returns its index or -1. */
int prof_channel_parse(const char *name);

#endif
