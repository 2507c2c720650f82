/* api.h - JSON documents iotad exchanges with the outside world besides
 * telemetry and alert events: the POST /v1/score body and its answer, and
 * Home Assistant MQTT discovery. Not on the per-sample path. */
#ifndef IOTAD_API_H
#define IOTAD_API_H

#include <stdbool.h>
#include <stddef.h>

#include "iotad/config.h"
#include "iotad/detector.h"
#include "iotad/error.h"
#include "iotad/model.h"

/* A parsed /v1/score request: raw samples in the model's feature order. */
typedef struct api_score_req {
	float *raw;           /* n_samples * n_features, owned */
	size_t n_samples;
	bool batch;           /* "samples": every window of the series; "window": exactly one */
} api_score_req;

/* Parse {"window":[row x W]} or {"samples":[row x N>=W]}, each row an array
 * of the features in order or an object naming them. On failure returns
 * IOTAD_ERR_PARSE (not JSON) or IOTAD_ERR_INVAL (shape, type, non-finite)
 * and err says where (e.g. "window[3][1]: expected a number, got a string"). */
iotad_err api_parse_score(const char *body, size_t len, const model *m, api_score_req *out,
			  char *err, size_t errlen);
void api_score_req_free(api_score_req *r);
/* Windows a batch of n samples is cut into (start every model stride). */
size_t api_window_count(const model *m, size_t n_samples);
/* The answer: one window → {"model","score","threshold","anomalous","contrib",
 * "top"}; batch → {"model","windows","anomalous_windows","results":[{"start",...}]}.
 * res[i] is the window starting at sample i * stride. Returns malloc'd text or NULL. */
char *api_format_score(const model *m, const det_result *res, size_t n, bool batch);

/* Home Assistant discovery topic of a device:
 * {prefix}/binary_sensor/iotad_{object}/config, object = the device id with
 * characters outside [A-Za-z0-9_-] replaced (plus a hash when any was).
 * Returns bytes written or -1 if it does not fit. */
int api_hass_topic(char *buf, size_t len, const char *prefix, const char *device);
/* The retained discovery config of a device: a binary_sensor of class
 * problem on the device's state topic (raised → ON), attributes score,
 * threshold and top features, availability on the status topic.
 * Returns malloc'd JSON or NULL. */
char *api_hass_config(const iotad_config *c, const model *m, const char *device);

#endif
