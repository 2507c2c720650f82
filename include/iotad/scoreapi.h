/* scoreapi.h - the JSON of POST /v1/score: the request body (one window or
 * a series of samples) and the answer. Not on the per-sample path; any
 * thread (no shared state). */
#ifndef IOTAD_SCOREAPI_H
#define IOTAD_SCOREAPI_H

#include <stdbool.h>
#include <stddef.h>

#include "iotad/detector.h"
#include "iotad/error.h"
#include "iotad/model.h"

/* A parsed /v1/score request: raw samples in the model's feature order. */
typedef struct scoreapi_req {
	float *raw;           /* n_samples * n_features, owned */
	size_t n_samples;
	bool batch;           /* "samples": every window of the series; "window": exactly one */
} scoreapi_req;

/* Parse {"window":[row x W]} or {"samples":[row x N>=W]}, each row an array
 * of the features in order or an object naming them. On failure returns
 * IOTAD_ERR_PARSE (not JSON), IOTAD_ERR_DUPLICATE (an object names a key
 * twice) or IOTAD_ERR_INVAL (shape, type, non-finite) and err says where (e.g. "window[3][1]: expected a number, got a string"). */
iotad_err scoreapi_parse(const char *body, size_t len, const model *m, scoreapi_req *out,
			 char *err, size_t errlen);
/* Free what scoreapi_parse allocated in r and zero it. Accepts NULL. */
void scoreapi_req_free(scoreapi_req *r);
/* Windows a batch of n samples is cut into (start every model stride). */
size_t scoreapi_window_count(const model *m, size_t n_samples);
/* The answer: one window → {"model","score","threshold","anomalous","contrib",
 * "top"}; batch → {"model","windows","anomalous_windows","results":[{"start",...}]}.
 * res[i] is the window starting at sample i * stride. Returns malloc'd text or NULL. */
char *scoreapi_format(const model *m, const det_result *res, size_t n, bool batch);

#endif
