/* threshold.h - per-device anomaly threshold behind one interface.
 *
 * THR_STATIC keeps the model's calibrated threshold. THR_ADAPTIVE follows a
 * device's normal score level: an EWMA of the scores it judges normal
 * scales the calibrated threshold (bounded by min_ratio/max_ratio), so a
 * device that is noisier or quieter than the training data gets its own
 * threshold. Scores at or above the threshold never update it, so a fault
 * is not learned. New kinds (SPOT/DSPOT) add an enum value and a case. */
#ifndef IOTAD_THRESHOLD_H
#define IOTAD_THRESHOLD_H

#include <stdbool.h>

typedef enum thr_kind { THR_STATIC = 0, THR_ADAPTIVE } thr_kind;

typedef struct thr_params {
	thr_kind kind;
	float base;       /* calibrated threshold from the model */
	float base_level; /* mean training score the base was calibrated with (> 0) */
	float alpha;      /* EWMA weight of a new normal score, (0, 1] */
	float min_ratio;  /* threshold >= base * min_ratio */
	float max_ratio;  /* threshold <= base * max_ratio */
} thr_params;

typedef struct thr_state {
	float value;      /* current threshold */
	float level;      /* EWMA of normal scores */
} thr_state;

/* Parse "static" / "adaptive". Returns 0 on success, -1 if unknown. */
int thr_kind_parse(const char *name, thr_kind *out);
const char *thr_kind_name(thr_kind k);
/* Sensible defaults for kind, base and base_level. */
void thr_params_default(thr_params *p, thr_kind kind, float base, float base_level);
/* Start a device at the calibrated threshold. */
void thr_init(thr_state *s, const thr_params *p);
/* Judge a score: true if anomalous (score >= threshold). Updates the state
 * with the score only when it is judged normal. No allocation. */
bool thr_update(thr_state *s, const thr_params *p, float score);

#endif
