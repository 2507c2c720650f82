/* service.h - `iotad run`: MQTT in, detector core, MQTT out.
 *
 * Threads: Paho's thread only copies each message into a bounded queue;
 * one scorer thread (the caller of svc_run) owns the detector, decodes,
 * scores and publishes. A full queue refuses messages; Paho keeps them in
 * memory and offers them again (they were already acknowledged to the
 * broker: see docs/reliability.md). */
#ifndef IOTAD_SERVICE_H
#define IOTAD_SERVICE_H

#include <signal.h>
#include <stdint.h>

#include "iotad/alert.h"
#include "iotad/codec.h"
#include "iotad/config.h"
#include "iotad/error.h"
#include "iotad/metrics.h"
#include "iotad/model.h"

typedef struct svc svc;

typedef struct svc_counters {
	uint64_t received;              /* messages taken from the queue */
	uint64_t scored;                /* windows scored */
	uint64_t rejected[REJ__COUNT];  /* by reason */
	uint64_t events[4];             /* by alert_event */
	uint64_t publish_failed;        /* alert/state publishes refused */
	uint64_t refused_full;          /* offers refused because the queue was full */
	uint64_t evictions;             /* devices replaced by a new one in a full table (LRU) */
	uint64_t idle_evictions;        /* devices forgotten after detector.idle_evict_after */
	uint64_t devices;               /* devices in the table now */
	uint64_t state_rejected;        /* state files ignored (other model) or unusable (damaged) */
	uint64_t state_save_failed;     /* state saves that failed */
	uint64_t reloads;               /* models swapped in (SIGHUP, control topic) */
	uint64_t reload_failed;         /* reloads refused; the running model stayed */
} svc_counters;

/* Build the service from a validated config and a loaded model (borrowed;
 * must outlive the service); restores the state file. Connects nothing yet.
 * Main thread. */
iotad_err svc_create(const iotad_config *cfg, const model *m, svc **out);
/* Connect, subscribe and score until *stop becomes non-zero; then drain,
 * publish the offline status and disconnect. Returns IOTAD_OK or an error. */
iotad_err svc_run(svc *s, volatile sig_atomic_t *stop);
/* Reload model.path (between two messages) whenever *flag becomes non-zero
 * (e.g. set by a SIGHUP handler); svc_run clears it. Before svc_run. */
void svc_reload_on(svc *s, volatile sig_atomic_t *flag);
/* Snapshot of the counters. Any thread. */
void svc_get_counters(svc *s, svc_counters *out);
/* Everything /metrics and /readyz report (counters, broker, queue, latency). Any thread. */
void svc_get_metrics(svc *s, met_snapshot *out);
/* Disconnect (if still connected) and free everything. Accepts NULL. Main thread. */
void svc_destroy(svc *s);

#endif
