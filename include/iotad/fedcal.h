/* fedcal.h - what a gateway does with a new global model on its own
 * held-out normal windows (never trained on): calibrate a threshold (its
 * own, or one for every gateway from their quantile summaries), and
 * personalize (serve the global model, the global model fine-tuned on its
 * windows, or its own local model, whichever scores the held-out windows
 * lowest). Used alike by the gateway in `iotad run` and by the simulation
 * (fedsim.h). No I/O. See docs/federated.md. */
#ifndef IOTAD_FEDCAL_H
#define IOTAD_FEDCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/nn.h"

/* Quantiles a gateway reports of its held-out scores: at these levels. */
#define FEDCAL_NQ 11
extern const float fedcal_levels[FEDCAL_NQ];

/* Smallest threshold set (as train_model). */
#define FEDCAL_MIN_THRESHOLD 1e-9f

/* Which threshold a gateway serves after a round: the model file's
 * (unchanged), its own from its held-out windows, or the aggregator's one
 * for every gateway. */
typedef enum fedcal_mode { FEDCAL_MODEL = 0, FEDCAL_GATEWAY, FEDCAL_GLOBAL } fedcal_mode;

/* Which network a gateway serves after a round: the global model always
 * (off); the lower-scoring of the global model and its own local model on
 * its held-out windows (select); the same with the global model
 * fine-tuned on its windows as a third candidate (finetune). */
typedef enum fedcal_pers { FEDCAL_PERS_OFF = 0, FEDCAL_PERS_SELECT, FEDCAL_PERS_FINETUNE } fedcal_pers;

/* The candidates of a personalization, in this order. */
typedef enum fedcal_pick { FEDCAL_PICK_GLOBAL = 0, FEDCAL_PICK_TUNED, FEDCAL_PICK_OWN } fedcal_pick;

/* Names: "model", "gateway", "global"; "off", "select", "finetune";
 * "global", "tuned", "own". Parsers return 0, or -1 for another name. */
int fedcal_mode_parse(const char *s, fedcal_mode *out);
const char *fedcal_mode_name(fedcal_mode m);
int fedcal_pers_parse(const char *s, fedcal_pers *out);
const char *fedcal_pers_name(fedcal_pers p);
const char *fedcal_pick_name(fedcal_pick p);

/* Score n windows x (n x sizes[0] floats) with net into out (n floats),
 * sorted ascending. Allocates its scratch. */
iotad_err fedcal_scores(const nn *net, const float *x, size_t n, float *out);

/* Percentile p (0, 100] of n sorted values, interpolated between ranks as
 * train_model calibrates; at least FEDCAL_MIN_THRESHOLD; that for n = 0. */
float fedcal_percentile(const float *sorted, size_t n, float p);

/* The quantiles of n sorted scores at fedcal_levels into q (all 0 for n = 0). */
void fedcal_quantiles(const float *sorted, size_t n, float q[FEDCAL_NQ]);

/* One threshold for k gateways from their summaries: gateway i held n[i]
 * windows whose quantiles are q[i] (non-decreasing). The percentile p of
 * the mixture of their distributions (each linear between its quantiles,
 * weighted by its windows): the largest maximum for p = 100. 0 when no
 * gateway holds a window. */
float fedcal_merge(const uint32_t *n, const float (*q)[FEDCAL_NQ], size_t k, float p);

/* True when q is FEDCAL_NQ finite, non-negative, non-decreasing values. */
bool fedcal_summary_valid(const float q[FEDCAL_NQ]);

/* Personalization: the candidate of lowest mean score on the n held-out
 * windows of each (hold[c], n[c] windows; a candidate's windows may differ
 * by normalization), ties to the earlier. cands[c] NULL: not a candidate.
 * means (FEDCAL_PICK_OWN + 1, may be NULL) gets each mean (NAN if none).
 * The global model (cands[0]) must be given. */
fedcal_pick fedcal_personalize(const nn *const cands[3], const float *const hold[3],
			       const size_t n[3], double *means);

#endif
