/* hass.h - Home Assistant MQTT discovery: the retained config that makes
 * each device an anomaly binary_sensor (its topic is topic_hass). Built
 * once per new device, never per sample. */
#ifndef IOTAD_HASS_H
#define IOTAD_HASS_H

#include "iotad/config.h"
#include "iotad/model.h"

/* The node level of this instance's discovery topics and ids (topic_hass):
 * NULL for the instance named iotad (ids as before instances existed),
 * else its name. Any thread. */
const char *hass_node(const iotad_config *c);
/* The retained discovery config of a device: a binary_sensor of class
 * problem on the device's state topic (raised → ON), unique_id
 * iotad_[{instance}_]{device} (hass_node), attributes score,
 * threshold and top features, availability on the status topic.
 * Returns malloc'd JSON (the caller frees it) or NULL. Any thread. */
char *hass_config(const iotad_config *c, const model *m, const char *device);

#endif
