/* topic.h - the MQTT topic rules in one place: the device id taken from a
 * telemetry topic level, the topics iotad publishes under
 * ({prefix}/{device}: alerts, retained state, simulated telemetry), Home
 * Assistant discovery topics, and what a configured filter or prefix may
 * hold. Pure string work: no allocation, no I/O; any thread. */
#ifndef IOTAD_TOPIC_H
#define IOTAD_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

#define TOPIC_MAX 512                   /* longest topic iotad reads or builds, with its NUL */
#define TOPIC_TELEMETRY_PREFIX "telemetry"  /* default telemetry prefix (filter "telemetry/+") */

/* Copy the device id at topic level `level` (0-based, split on '/') of
 * topic into out. It must be one level of 1..min(DET_DEVICE_ID_MAX,
 * outlen)-1 bytes accepted by topic_level_ok. IOTAD_ERR_INVAL otherwise
 * (out untouched). */
iotad_err topic_device(const char *topic, int level, char *out, size_t outlen);
/* True if the first n bytes of s are one topic level iotad may publish
 * under: 1..n bytes of printable ASCII without space, '+', '#' or '/'. */
bool topic_level_ok(const char *s, size_t n);
/* The shard of device id (a NUL-terminated string) among n > 0: the 32-bit
 * FNV-1a hash of its bytes modulo n, the same function as NATS subject
 * mappings' partition(n, token) (docs/scale-out.md). Pure, any thread. */
uint32_t topic_shard(const char *device, uint32_t n);
/* True if prefix may start a topic iotad publishes: non-empty, no '+' or
 * '#', no control byte, no leading '$' and no trailing '/'. */
bool topic_prefix_ok(const char *prefix);
/* True if filter is a valid MQTT subscription filter: non-empty, '+' alone
 * in its level, '#' alone in the last level. */
bool topic_filter_ok(const char *filter);
/* True if a topic matching filter has a level `level` (0-based): always
 * with a '#', else when level is below the filter's level count. */
bool topic_filter_has_level(const char *filter, int level);
/* Build "{prefix}/{device}" into buf (alerts, state, simulated telemetry).
 * IOTAD_ERR_INVAL (buf "") if the prefix fails topic_prefix_ok or the
 * device is not one level shorter than DET_DEVICE_ID_MAX; IOTAD_ERR_RANGE
 * (buf "") if it does not fit in len. */
iotad_err topic_build(char *buf, size_t len, const char *prefix, const char *device);
/* Home Assistant discovery topic of a device:
 * {prefix}/binary_sensor/[{node}/]iotad_{object}/config (node NULL: none,
 * the instance's name otherwise), object = the device id with
 * bytes outside [A-Za-z0-9_-] replaced by '_', then '_' and the id's
 * FNV-1a hash (8 hex digits) when any was. Returns bytes written, or -1
 * (buf "") if it does not fit or an argument is NULL. */
int topic_hass(char *buf, size_t len, const char *prefix, const char *node, const char *device);
/* Whether s is a valid instance name: 1..64 bytes of [A-Za-z0-9_-]. Any thread. */
bool topic_instance_ok(const char *s);
/* An instance name from a client id: its bytes outside [A-Za-z0-9_-] as
 * '_', cut at 64 bytes. Any thread. */
void topic_instance_from(char *buf, size_t len, const char *client_id);
/* Replace every "{instance}" in topic (len bytes, in place) by instance.
 * 0, or -1 (topic untouched) if the result does not fit. Any thread. */
int topic_expand_instance(char *topic, size_t len, const char *instance);

/* Which of n scorer threads owns the device id of len bytes: the same
 * FNV-1a hash as topic_shard, mixed again, modulo n; 0 when n <= 1. The
 * same id always lands on the same thread, so one device's samples stay
 * in order; the mixing keeps the threads of an instance that owns one
 * service.shard (the hash modulo N) evenly loaded. */
uint32_t topic_device_shard(const char *device, size_t len, uint32_t n);
/* The bytes of topic level `level` (split on '/') of a topic of len bytes:
 * its start into *dev and length into *dev_len. false when the topic has
 * fewer levels. For routing only: topic_device validates the id. */
bool topic_level_span(const char *topic, size_t len, int level, const char **dev,
		      size_t *dev_len);

#endif
