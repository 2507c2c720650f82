/* router_int.h - the router's inside (private to router.c and
 * router_state.c): its slots, one a model (or a zero-config field set),
 * each with its pipeline. */
#ifndef IOTAD_ROUTER_INT_H
#define IOTAD_ROUTER_INT_H

#include <stdatomic.h>

#include "iotad/log.h"
#include "iotad/route.h"
#include "iotad/router.h"

typedef struct router_slot {
	struct router *f;
	char name[CFG_MODEL_NAME];
	iotad_config *cfg;      /* its own (mixed), else the top level's */
	model *m;               /* loaded here (mixed), NULL: zero-config or the caller's */
	pipeline *p;
	bool shape;             /* a zero-config field set of the fallback */
	int n_fields;           /* shape: its fields (once learned) */
	char fields[PIPELINE_LEARN_MAX][MODEL_NAME_MAX];
	char state_file[CFG_PATH + CFG_MODEL_NAME + 2];
	_Atomic uint64_t reloads, reload_failed;
} router_slot;

struct router {
	const iotad_config *cfg;
	pipeline_pub pub;       /* the service's */
	router_scored_fn on_scored; /* in place of pub.scored, with the model's name */
	det_config dc;          /* the top level's (zero-config shapes) */
	route_table rt;
	_Atomic uint32_t n;     /* slots in use (grows with zero-config shapes) */
	uint32_t n_routes;      /* slots 0..n_routes-1 are the models: entries */
	size_t total;           /* devices of all slots (mixed; kept as they change) */
	bool mixed;             /* a models: list */
	bool routing;           /* messages are routed: mixed, or zero-config on each
				 * device's own fields (no model, no detector.features) */
	bool fallback;          /* an unrouted device goes to the zero-config sets */
	router_slot slot[ROUTER_SLOTS_MAX];
	_Atomic uint64_t no_model, fields_changed, state_rejected, cap_refused, lru_evicted;
	struct log_rl rl;
};

#define COUNT(field) atomic_fetch_add_explicit(&(field), 1, memory_order_relaxed)

/* Count the devices of every slot again (after a sweep, a restore). */
void router_recount(router *f);

#endif
