/* truth.h - the ground truth of injected anomalies, as `iotad sim --truth`
 * writes it (CSV device,kind,start,end; epoch seconds, [start, end)): read
 * it, label rows by it, and count per kind the anomalies an alert caught.
 * A kind whose name starts with "benign_" is a benign change (setpoint,
 * weather front, recharge): listed apart in truth.b, it labels no row. */
#ifndef IOTAD_TRUTH_H
#define IOTAD_TRUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

typedef struct truth_anomaly {
	uint32_t device, kind;  /* ids into truth.devices, truth.kinds */
	double start, end;      /* seconds, start < end */
} truth_anomaly;

typedef struct truth {
	truth_anomaly *a;       /* anomalies by device, then start */
	size_t n;
	truth_anomaly *b;       /* benign changes by device, then start */
	size_t nb;
	char **devices;         /* names by id, sorted */
	size_t n_devices;
	char **kinds;           /* names by id, in order of first sight */
	size_t n_kinds;
} truth;

/* Read path. Errors name file:line: a header other than device,kind,start,
 * end, a missing field, a time that is not a finite number >= 0, end <=
 * start, an empty name, or two anomalies of a device that overlap (benign
 * changes may overlap anything). */
iotad_err truth_read(const char *path, truth *out, char *err, size_t errlen);
void truth_free(truth *t);
/* True if kind id k of t names a benign change ("benign_..."). */
bool truth_kind_benign(const truth *t, uint32_t k);
/* Id of a device name in t->devices, or -1. */
long truth_device_id(const truth *t, const char *name);
/* The rows of device d in v[0..n) (t->a or t->b, sorted by device): [*lo, *hi). */
void truth_device_range(const truth_anomaly *v, size_t n, uint32_t d, size_t *lo, size_t *hi);

/* Label n rows: row i, of the series named names[group[i]] (group NULL: all
 * rows are of names[0]), at time ts[i], is anomalous (label[i] = 1) when it
 * falls in an anomaly of that device; anomaly[i] (may be NULL) gets the
 * anomaly's index in t->a, or -1. IOTAD_ERR_NOMEM. */
iotad_err truth_label(const truth *t, const uint32_t *group, char *const *names,
		      size_t n_groups, const double *ts, size_t n, uint8_t *label,
		      int32_t *anomaly);

/* Per kind of anomaly: how many had a scored row, how many of those an alert
 * was raised on (on one of their rows), and the rows from their first scored
 * row to the first alert, summed over the detected ones. */
typedef struct truth_kind_stats {
	uint64_t anomalies, detected;
	double delay_sum;
} truth_kind_stats;

/* Add to stats[t->n_kinds] what n scored rows gave: anomaly[i] as
 * truth_label filled it, alert[i] 1 while the row's alert was raised.
 * seen[t->n] is scratch the caller zeroes once per replay. */
void truth_count(const truth *t, const int32_t *anomaly, const uint8_t *alert, size_t n,
		 uint32_t *seen, truth_kind_stats *stats);

#endif
