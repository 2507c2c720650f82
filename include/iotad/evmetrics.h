/* evmetrics.h - event-level scores of a replay against a ground truth (as
 * `iotad sim --truth` writes it): recall and delay per kind of anomaly,
 * false alarms per device-day, and the benign changes that stayed alarmed.
 *
 * Rules (docs/eval.md): an anomaly is caught when its device's alert is
 * raised (a transition to raised) at a row in [start, max(end, start +
 * grace)); the delay is that row's time minus start, in seconds of device
 * time. A raise at a row outside every anomaly's [start, end + grace) of its
 * device is a false alarm, benign changes included (counted apart too). A
 * benign change is alarmed when the alert is raised for longer than
 * benign_max within its window [start, end). A dropout sends no row: it is
 * caught when its device went stale (on its own data time) at a time in
 * [start, max(end, start + grace)), the delay that time minus start; it is
 * scored only when the replay reports stales (stale_seen).
 * Pure: no I/O. */
#ifndef IOTAD_EVMETRICS_H
#define IOTAD_EVMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/truth.h"

#define EVM_MAX_CLASSES 16 /* device classes (name before the last '-') kept apart */

typedef struct evm_opts {
	double grace;           /* seconds (300) */
	double benign_max;      /* seconds (3600) */
	bool stale_seen;        /* the replay reports dropouts (false) */
} evm_opts;

/* Per kind of the truth: for an anomaly kind, how many had data, how many
 * were caught and their summed delay; for a benign kind, how many had data
 * and how many were alarmed longer than benign_max (in caught). */
typedef struct evm_kind {
	uint64_t events, caught;
	double delay_sum;
} evm_kind;

/* False alarms and device-days of one class of device. */
typedef struct evm_class {
	char name[24];
	uint64_t devices, false_raises;
	double device_days;
} evm_class;

typedef struct evm_totals {
	evm_kind *kinds;        /* owned, truth.n_kinds */
	size_t n_kinds;
	uint64_t raises, false_raises, false_in_benign;
	double device_days;     /* sum over devices of their data time span, days */
	uint64_t devices;
	evm_class classes[EVM_MAX_CLASSES];
	int n_classes;          /* devices of further classes count in the totals only */
} evm_totals;

void evm_opts_default(evm_opts *o);
/* Zeroed totals for truth t; IOTAD_ERR_NOMEM. Free with evm_totals_free. */
iotad_err evm_totals_init(evm_totals *s, const truth *t);
void evm_totals_free(evm_totals *s);
/* Add n replayed rows of one file: row i of series group[i] (group NULL:
 * all of names[0]), named names[group[i]] in the truth, at device time
 * ts[i], alert[i] 1 while its alert is raised after it, stale_at[i] the
 * device time at which the silence before row i made it stale (0: none;
 * stale_at NULL: no stales). A series' rows are
 * in time order. Series absent from the truth count as clean devices.
 * Allocates per call, not per row. IOTAD_ERR_NOMEM, IOTAD_ERR_INVAL. */
iotad_err evm_add(evm_totals *s, const truth *t, const evm_opts *o, const uint32_t *group,
		  char *const *names, size_t n_groups, const double *ts, const uint8_t *alert,
		  const double *stale_at, size_t n);
/* Whether kind k is scored: an anomaly kind, and dropout only when stale_seen. */
bool evm_kind_scored(const truth *t, const evm_opts *o, uint32_t k);
/* Caught / anomalies over the scored anomaly kinds; NAN without any. */
double evm_recall(const evm_totals *s, const truth *t, const evm_opts *o);
/* False alarms per device-day; NAN without data. */
double evm_false_per_day(const evm_totals *s);
/* Share of benign changes alarmed longer than benign_max; NAN without any. */
double evm_benign_share(const evm_totals *s, const truth *t);

#endif
