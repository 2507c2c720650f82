/* service.h - `iotad run`: MQTT in, detector core, MQTT out.
 *
 * Threads: Paho's thread only copies each message into a bounded queue
 * (msgq.h); one scorer thread (the caller of svc_run) owns the pipeline
 * (pipeline.h) that decodes, scores and publishes. A full queue refuses messages; Paho keeps them in
 * memory and offers them again (they were already acknowledged to the
 * broker: see docs/reliability.md). */
#ifndef IOTAD_SERVICE_H
#define IOTAD_SERVICE_H

#include <signal.h>

#include "iotad/config.h"
#include "iotad/error.h"
#include "iotad/metrics.h"
#include "iotad/model.h"

typedef struct svc svc;

/* Build the service from a validated config and a loaded model (borrowed;
 * must outlive the service), or m NULL for zero-config (pipeline.h);
 * restores the state file. Connects nothing yet. Main thread. */
iotad_err svc_create(const iotad_config *cfg, const model *m, svc **out);
/* Connect, subscribe and score until *stop becomes non-zero; then drain,
 * publish the offline status and disconnect. Returns IOTAD_OK or an error. */
iotad_err svc_run(svc *s, volatile sig_atomic_t *stop);
/* Reload model.path (between two messages) whenever *flag becomes non-zero
 * (e.g. set by a SIGHUP handler); svc_run clears it. Before svc_run. */
void svc_reload_on(svc *s, volatile sig_atomic_t *flag);
/* Called by the scorer thread after every sample the detector took: the
 * device, its raw sample (n_features floats) and the detector's result.
 * Must return quickly and never block (federated learning's sample of
 * normal windows). Before svc_run. */
typedef void (*svc_sample_cb)(void *ud, const char *device, const float *raw,
			      const det_result *res);
void svc_on_sample(svc *s, svc_sample_cb cb, void *ud);
/* Called by svc_get_metrics to fill the federated gateway's figures (any
 * thread; must not block long). Before svc_run. */
typedef void (*svc_fed_cb)(void *ud, met_fed *out);
void svc_on_federated(svc *s, svc_fed_cb cb, void *ud);
/* Everything /metrics, /readyz and the stats log line report (counters,
 * broker, queue, latency). Any thread. */
void svc_get_metrics(svc *s, met_snapshot *out);
/* Disconnect (if still connected) and free everything. Accepts NULL. Main thread. */
void svc_destroy(svc *s);

#endif
