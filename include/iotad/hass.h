/* hass.h - Home Assistant MQTT discovery: the retained config that makes
 * each device an anomaly binary_sensor (its topic is topic_hass). Built
 * once per new device, never per sample. */
#ifndef IOTAD_HASS_H
#define IOTAD_HASS_H

#include "iotad/config.h"
#include "iotad/model.h"

/* The retained discovery config of a device: a binary_sensor of class
 * problem on the device's state topic (raised → ON), attributes score,
 * threshold and top features, availability on the status topic.
 * Returns malloc'd JSON (the caller frees it) or NULL. Any thread. */
char *hass_config(const iotad_config *c, const model *m, const char *device);

#endif
