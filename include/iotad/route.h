/* route.h - which model judges a message: the models: list of the
 * configuration compiled into a table of routes (an MQTT topic filter
 * and/or a device-id glob each), first match wins. The service and eval
 * route through the same table. Pure string work, no allocation per
 * message; any thread once built. */
#ifndef IOTAD_ROUTE_H
#define IOTAD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/config.h"

#define ROUTE_NONE (-1)

typedef struct route_entry {
	char topic[CFG_STR];    /* MQTT filter; "": any topic */
	char device[128];       /* glob: '*' any run, '?' one byte; "": any device */
	size_t topic_lit;       /* bytes of topic before its first wildcard */
	size_t device_lit;      /* bytes of device before its first wildcard */
	bool topic_exact;       /* topic has no wildcard */
	bool device_exact;      /* device has no wildcard */
} route_entry;

typedef struct route_table {
	uint32_t n;
	route_entry r[CFG_MODELS_MAX];
} route_table;

/* Build the table of c's models: list (entry i: route i). */
void route_init(route_table *rt, const iotad_config *c);
/* Add one route (topic and/or device, "" for any): its index, or
 * ROUTE_NONE when the table is full. */
int route_add(route_table *rt, const char *topic, const char *device);
/* The first route matching a message on topic (topic_len bytes) from
 * device (NUL-terminated), or ROUTE_NONE. */
int route_match(const route_table *rt, const char *topic, size_t topic_len, const char *device);
/* True if topic (len bytes) matches MQTT filter f ('+' one level, '#' the rest). */
bool route_topic_match(const char *f, const char *topic, size_t len);
/* True if s matches glob g ('*' any run of bytes, '?' one byte). */
bool route_glob_match(const char *g, const char *s);
/* True if every topic filter b matches is matched by filter a ("" is any). */
bool route_filter_covers(const char *a, const char *b);
/* True if every id glob b matches is matched by glob a ("" is any;
 * conservative: false when unsure). */
bool route_glob_covers(const char *a, const char *b);

#endif
