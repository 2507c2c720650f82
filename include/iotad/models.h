/* models.h - the models: list of a configuration: each entry's full
 * configuration (the top level's, its detector keys over it) and the
 * checks run at load: names, routes that are empty or shadowed, model
 * files that do not load and features that clash. */
#ifndef IOTAD_MODELS_H
#define IOTAD_MODELS_H

#include <stddef.h>

#include "iotad/config.h"

/* The configuration entry i of c's models: judges with: c with
 * model.path, model.window and the entry's detector keys set, and no
 * models: list of its own. IOTAD_ERR_CONFIG with msg (and *at, may be
 * NULL, where) on a value the detector table refuses. Any thread. */
iotad_err models_config(const iotad_config *c, uint32_t i, iotad_config *out, char *msg,
			size_t msglen, cfg_mark *at);
/* Check c's models: list; on error err holds "name:line:col: message"
 * (name: the file). Loads each model file once. */
iotad_err models_check(const char *name, const iotad_config *c, char *err, size_t errlen);
/* Entry of c's models: named name, or -1. */
int models_find(const iotad_config *c, const char *name);

#endif
