/* nablabels.h - the anomaly windows of a Numenta Anomaly Benchmark style
 * corpus: a JSON object mapping each series' file (its path under the data
 * folder, e.g. "realKnownCause/machine_temperature_system_failure.csv") to
 * a list of windows ["start", "end"], times as "YYYY-MM-DD HH:MM:SS[.f]"
 * (UTC), RFC 3339 or epoch seconds (NAB's combined_windows.json). */
#ifndef IOTAD_NABLABELS_H
#define IOTAD_NABLABELS_H

#include <stddef.h>

#include "iotad/error.h"

#define NAB_LABELS_MAX_BYTES (64u << 20) /* largest labels file read */

/* One series' windows, sorted by start, not overlapping; times in epoch s. */
typedef struct nab_series_labels {
	char *file;
	double *start, *end;
	size_t n;
} nab_series_labels;

typedef struct nab_labels {
	nab_series_labels *s;
	size_t n;
} nab_labels;

/* Read and check the labels file at path into out (zeroed first; the
 * caller frees it with nab_labels_free whatever the result). Errors name
 * the file, the series and the window: IOTAD_ERR_NOTFOUND, IOTAD_ERR_IO,
 * IOTAD_ERR_PARSE (not JSON, not an object of lists of [start, end]
 * strings, a time that does not parse, end before start, overlapping
 * windows), IOTAD_ERR_RANGE (too large). Any thread. */
iotad_err nab_labels_read(const char *path, nab_labels *out, char *err, size_t errlen);
/* The entry of file (its path under the data folder, '/'-separated), or
 * NULL when the labels have none. */
const nab_series_labels *nab_labels_find(const nab_labels *l, const char *file);
void nab_labels_free(nab_labels *l);

#endif
