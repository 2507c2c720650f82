/* codec_fast.h - the common telemetry payload read in place: a flat JSON
 * object of numbers (and plain strings, booleans or null for fields it
 * ignores), with no allocation. Anything else is left to the full parser
 * in codec.c, which gives the same values and the precise reject reason. */
#ifndef IOTAD_CODEC_FAST_H
#define IOTAD_CODEC_FAST_H

#include <stdbool.h>
#include <stddef.h>

#include "iotad/model.h"

/* Read payload (len bytes, not NUL-terminated) against m's features: true
 * when it is a flat object holding every feature as a finite float at top
 * level, no key twice, and a numeric ts (if any) in range; then vals gets
 * the features in the model's order and *ts, *has_ts are set. false: the
 * caller parses it fully (it may still be valid, e.g. an RFC 3339 ts or a
 * "values" object); nothing is written. */
bool codec_fast_sample(const char *payload, size_t len, const model *m, double *ts, bool *has_ts,
		       float *vals);

#endif
