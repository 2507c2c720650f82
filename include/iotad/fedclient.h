/* fedclient.h - a federated gateway inside `iotad run`: samples the windows
 * the detector judged normal, trains local epochs from each global model
 * and publishes its update, and swaps in a new global model through the
 * service's reload path after checking it on those windows. Without an
 * aggregator it can retrain locally on a schedule. Its own MQTT client
 * ({client_id}-fl) and worker thread; see docs/federated.md. */
#ifndef IOTAD_FEDCLIENT_H
#define IOTAD_FEDCLIENT_H

#include <signal.h>
#include <stdint.h>

#include "iotad/config.h"
#include "iotad/detector.h"
#include "iotad/error.h"
#include "iotad/metrics.h"
#include "iotad/model.h"

typedef struct fedgw fedgw;

typedef struct fedgw_counters {
	uint64_t globals_accepted;     /* global models swapped in */
	uint64_t globals_refused;      /* scored the sample worse than max_score_ratio allows */
	uint64_t globals_invalid;      /* malformed, other model or shape, bad hash, stale round */
	uint64_t updates_sent;
	uint64_t updates_failed;       /* not encoded or not published */
	uint64_t rounds_joined;        /* global models of the aggregator trained from */
	uint64_t local_retrains;       /* retrainings without an aggregator, swapped in */
	uint64_t devices_unsampled;    /* samples of devices beyond federated.max_devices */
} fedgw_counters;

/* Build the gateway for cfg (federated.enabled) and the model in use at start
 * (copied). A global model it accepts is written to model.path and
 * *reload_flag set, so the service swaps it in between two messages.
 * Allocates every buffer now. Main thread. */
iotad_err fedgw_create(const iotad_config *cfg, const model *m, volatile sig_atomic_t *reload_flag,
		       fedgw **out);
/* Connect in the background and start the worker thread. Main thread,
 * after svc_on_sample(s, fedgw_observe, g). */
iotad_err fedgw_start(fedgw *g);
/* The service's sample hook (svc_on_sample): keeps the latest window of
 * each sampled device and, when the detector judged it normal, offers it to
 * the pool. Scorer thread; never blocks (a busy pool skips the window). */
void fedgw_observe(void *g, const char *device, const float *raw, const det_result *res);
/* Snapshot of the counters. Any thread. */
void fedgw_get_counters(fedgw *g, fedgw_counters *out);
/* The counters, the round and the privacy claim of the global model
 * accepted last, for /metrics (svc_on_federated's callback; ud is the
 * gateway). Any thread. */
void fedgw_fill_metrics(void *g, met_fed *out);
/* Stop the worker, disconnect and free. Accepts NULL. Main thread. */
void fedgw_destroy(fedgw *g);

#endif
