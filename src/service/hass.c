/* hass.c - Home Assistant MQTT discovery: one retained binary_sensor config
 * per device, pointing at the device's retained state topic. */
#include "iotad/hass.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "iotad/detector.h"
#include "iotad/topic.h"

const char *hass_node(const iotad_config *c)
{
	return c->instance[0] && strcmp(c->instance, "iotad") ? c->instance : NULL;
}

char *hass_config(const iotad_config *c, const model *m, const char *device)
{
	char state[TOPIC_MAX], id[DET_DEVICE_ID_MAX + CFG_STR + 8];
	char model_name[MODEL_NAME_MAX + 24];

	if (topic_build(state, sizeof state, c->state_prefix, device) != IOTAD_OK)
		return NULL;
	const char *node = hass_node(c);
	if (node)
		snprintf(id, sizeof id, "iotad_%s_%s", node, device);
	else
		snprintf(id, sizeof id, "iotad_%s", device);
	snprintf(model_name, sizeof model_name, "%s v%d", m->id, m->version);
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", "Anomaly");
	cJSON_AddStringToObject(o, "unique_id", id);
	cJSON_AddStringToObject(o, "device_class", "problem");
	cJSON_AddStringToObject(o, "state_topic", state);
	cJSON_AddStringToObject(o, "value_template",
				"{{ 'ON' if value_json.state == 'raised' else 'OFF' }}");
	cJSON_AddStringToObject(o, "payload_on", "ON");
	cJSON_AddStringToObject(o, "payload_off", "OFF");
	cJSON_AddStringToObject(o, "json_attributes_topic", state);
	cJSON_AddStringToObject(o, "json_attributes_template",
				"{{ {'state': value_json.state, 'score': value_json.score, "
				"'threshold': value_json.threshold, 'top': value_json.top} | tojson }}");
	/* available while iotad is online and the device is not stale */
	cJSON *av = cJSON_AddArrayToObject(o, "availability");
	cJSON *own = cJSON_CreateObject();
	cJSON_AddStringToObject(own, "topic", state);
	cJSON_AddStringToObject(own, "value_template",
				"{{ 'offline' if value_json.state == 'stale' else 'online' }}");
	cJSON_AddItemToArray(av, own);
	if (c->status_topic[0]) {
		cJSON *svc = cJSON_CreateObject();
		cJSON_AddStringToObject(svc, "topic", c->status_topic);
		cJSON_AddItemToArray(av, svc);
	}
	cJSON_AddStringToObject(o, "availability_mode", "all");
	cJSON_AddStringToObject(o, "payload_available", "online");
	cJSON_AddStringToObject(o, "payload_not_available", "offline");
	cJSON_AddNumberToObject(o, "qos", c->qos_out);
	cJSON *dev = cJSON_AddObjectToObject(o, "device");
	cJSON *ids = cJSON_AddArrayToObject(dev, "identifiers");
	cJSON_AddItemToArray(ids, cJSON_CreateString(id));
	cJSON_AddStringToObject(dev, "name", device);
	cJSON_AddStringToObject(dev, "manufacturer", "iotad");
	cJSON_AddStringToObject(dev, "model", model_name);
	cJSON *origin = cJSON_AddObjectToObject(o, "origin");
	cJSON_AddStringToObject(origin, "name", "iotad");
	cJSON_AddStringToObject(origin, "sw_version", IOTAD_VERSION);
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}
