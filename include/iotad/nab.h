/* nab.h - scoring of streaming detections by the rules of the Numenta
 * Anomaly Benchmark (Lavin & Ahmad, "Evaluating Real-time Anomaly
 * Detection Algorithms - the Numenta Anomaly Benchmark", 2015), written
 * from its published description:
 *
 * - a series carries anomaly windows (row ranges); the first prob rows
 *   are the probationary period: the detector learns there and nothing
 *   in it is scored (a window that starts inside it is not scored);
 * - a detection is a row where the detector raises; only the first
 *   detection inside a window counts, as a true positive worth
 *   a_tp x sigma(y), where y = -(end - row + 1) / len is the row's place in
 *   the window (-1 at its first row, -1/len at its last) and
 *   sigma(y) = 2 / (1 + exp(5y)) - 1 (the scaled sigmoid; -1 for y > 3);
 *   later detections in the same window count nothing;
 * - a detection outside every window is a false positive worth
 *   -a_fp x sigma(y) (a_fp < 0), y = (row - end) / len measured from the
 *   end of the nearest window before it, so one just after a window costs
 *   little and one far from it (or before any window) costs a_fp;
 * - a window without a detection costs a_fn;
 * - normalized score = 100 (raw - null) / (perfect - null), with null the
 *   raw score of a detector that never detects (a_fn per window) and
 *   perfect that of one detecting every window at its first row; over a
 *   corpus the three are summed over its series first.
 * Pure computation, any thread. */
#ifndef IOTAD_NAB_H
#define IOTAD_NAB_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

/* The three application profiles of the benchmark. */
enum { NAB_STANDARD = 0, NAB_LOW_FP, NAB_LOW_FN, NAB_PROFILES };

typedef struct nab_profile {
	const char *name;  /* "standard", "reward_low_FP", "reward_low_FN" */
	double a_tp;       /* weight of a true positive (1) */
	double a_fp;       /* weight of a false positive (-0.11, -0.22, -0.11) */
	double a_fn;       /* weight of a missed window (-1, -1, -2) */
} nab_profile;

/* The profile p (0..NAB_PROFILES-1), NULL out of range. */
const nab_profile *nab_profile_get(int p);

/* An anomaly window: rows first..last of a series, inclusive. */
typedef struct nab_window {
	size_t first, last;
} nab_window;

/* What one series (or a corpus, summed) scored. */
typedef struct nab_score {
	double raw[NAB_PROFILES], null[NAB_PROFILES], perfect[NAB_PROFILES];
	uint64_t windows;    /* windows scored (after the probationary period) */
	uint64_t tp;         /* windows detected */
	uint64_t fp;         /* detections outside every window */
	uint64_t detections; /* detections after the probationary period */
} nab_score;

/* The scaled sigmoid: 2 / (1 + exp(5y)) - 1, and -1 for y > 3. */
double nab_sigmoid(double y);

/* Score one series of n rows: det[i] non-zero where the detector raised at
 * row i; windows w (n_w, sorted, not overlapping, inside the series); the
 * first prob rows probationary. out is overwritten. IOTAD_ERR_INVAL on
 * windows out of order, overlapping or out of range. */
iotad_err nab_score_series(size_t n, const uint8_t *det, size_t prob, const nab_window *w,
			   size_t n_w, nab_score *out);
/* Add s into total (counts and the three sums of every profile). */
void nab_score_add(nab_score *total, const nab_score *s);
/* The normalized score of profile p: 100 (raw - null) / (perfect - null),
 * NAN without a window. */
double nab_normalized(const nab_score *s, int p);
/* The probationary rows of a series of n rows: floor(0.15 n). */
size_t nab_probation(size_t n);

#endif
