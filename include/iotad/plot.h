/* plot.h - SVG pictures of an evaluation, written directly (no plotting
 * tool needed): score against threshold over time, score distributions of
 * normal and anomalous rows, ROC curve. */
#ifndef IOTAD_PLOT_H
#define IOTAD_PLOT_H

#include <stddef.h>

#include "iotad/error.h"
#include "iotad/eval.h"

/* Write DIR/<name>-score.svg (DIR is created if missing; name is path's last
 * two components made file-safe): score and threshold per row on a log axis,
 * labelled rows shaded, raised alerts marked. */
iotad_err plot_series(const char *dir, const char *path, const eval_result *r, char *err,
		      size_t errlen);
/* Write DIR/total-hist.svg (score distribution, normal vs anomalous) and
 * DIR/total-roc.svg (ROC curve with its area). */
iotad_err plot_summary(const char *dir, const eval_result *r, char *err, size_t errlen);

#endif
