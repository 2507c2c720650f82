/* detector.h - the detector core: device table, windows, scoring,
 * thresholds and alerts. Pure C: no I/O, no globals, no threads, no
 * allocation per sample (only when a device is first seen). One thread
 * owns a detector. The service, eval, HTTP scoring and tests all use it. */
#ifndef IOTAD_DETECTOR_H
#define IOTAD_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/alert.h"
#include "iotad/error.h"
#include "iotad/model.h"
#include "iotad/threshold.h"

#define DET_DEVICE_ID_MAX 128   /* bytes including NUL */

typedef struct det_config {
	uint32_t max_devices;   /* table bound; a new device beyond it is refused */
	int stride;             /* 0: the model's stride */
	alert_params alert;
	thr_params thr;         /* base/base_level 0: taken from the model */
	double stale_after;     /* seconds of silence before stale; 0 disables */
} det_config;

/* What one sample did. contrib is valid when scored. */
typedef struct det_result {
	bool scored;            /* a window was scored */
	bool anomalous;         /* its score >= threshold */
	float score;            /* MSE of the window */
	float threshold;        /* device threshold used */
	alert_event event;      /* transition caused, if any */
	uint64_t seq;           /* device's event sequence number when event != NONE */
	float contrib[MODEL_MAX_FEATURES]; /* share of the error per feature, sums to 1 */
} det_result;

typedef struct det det;

/* Defaults: 10000 devices, model stride, k=3 n=3 m=5, adaptive threshold. */
void det_config_default(det_config *cfg);
/* Create a detector over a loaded model (borrowed; must outlive det). */
iotad_err det_create(const model *m, const det_config *cfg, det **out);
void det_destroy(det *d);

/* Feed one raw sample (model->n_features floats, already checked finite) of
 * device at time ts (seconds). May score a window and produce an alert
 * event. Returns IOTAD_ERR_FULL if the device is new and the table is full,
 * IOTAD_ERR_INVAL if device is empty or too long. */
iotad_err det_push(det *d, const char *device, double ts, const float *raw, det_result *res);

/* Report devices silent for longer than stale_after at time now: calls cb
 * once per device turning stale. */
typedef void (*det_stale_cb)(void *ud, const char *device, double last_ts, uint64_t seq);
void det_sweep(det *d, double now, det_stale_cb cb, void *ud);

size_t det_device_count(const det *d);
/* Heap bytes one device costs at this model's shape (struct + window). */
size_t det_bytes_per_device(const det *d);
const model *det_model(const det *d);

#endif
