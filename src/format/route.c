/* route.c - the routing table of a mixed fleet: MQTT filters and device
 * globs, matched first to last. The literal head of each pattern is
 * compared first, so a route that cannot match costs one memcmp. */
#include "iotad/route.h"

#include <stdio.h>
#include <string.h>

static size_t literal_len(const char *s, const char *wild)
{
	return strcspn(s, wild);
}

int route_add(route_table *rt, const char *topic, const char *device)
{
	if (rt->n == CFG_MODELS_MAX)
		return ROUTE_NONE;
	route_entry *e = &rt->r[rt->n];
	memset(e, 0, sizeof *e);
	snprintf(e->topic, sizeof e->topic, "%s", topic ? topic : "");
	snprintf(e->device, sizeof e->device, "%s", device ? device : "");
	e->topic_lit = literal_len(e->topic, "+#");
	e->device_lit = literal_len(e->device, "*?");
	e->topic_exact = !e->topic[e->topic_lit];
	e->device_exact = !e->device[e->device_lit];
	return (int)rt->n++;
}

void route_init(route_table *rt, const iotad_config *c)
{
	rt->n = 0;
	for (uint32_t i = 0; i < c->n_models; i++)
		route_add(rt, c->models[i].topic, c->models[i].device);
}

bool route_topic_match(const char *f, const char *t, size_t len)
{
	const char *end = t + len;
	for (;;) {
		if (*f == '#')
			return true; /* the rest, or the parent level itself */
		if (*f == '+') {
			while (t < end && *t != '/')
				t++;
			f++;
		} else {
			while (*f && *f != '/' && t < end && *t == *f) {
				f++;
				t++;
			}
			if (*f && *f != '/')
				return false;
			if (t < end && *t != '/')
				return false;
		}
		/* both at the end of a level */
		if (!*f)
			return t == end;
		if (t == end)
			return f[0] == '/' && f[1] == '#' && !f[2]; /* "a/#" matches "a" */
		f++;
		t++;
	}
}

bool route_glob_match(const char *g, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*g == '*') {
			star = g++;
			resume = s;
		} else if (*g && (*g == '?' || *g == *s)) {
			g++;
			s++;
		} else if (star) {
			g = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*g == '*')
		g++;
	return !*g;
}

static bool entry_match(const route_entry *e, const char *topic, size_t len, const char *device)
{
	if (e->topic[0]) {
		/* the literal head's last byte first: routes of one tree share
		 * their start and differ at its end */
		size_t l = e->topic_lit;
		if (len < l || (l && topic[l - 1] != e->topic[l - 1]) || memcmp(topic, e->topic, l))
			return false;
		if (e->topic_exact ? len != e->topic_lit
				   : !route_topic_match(e->topic, topic, len))
			return false;
	}
	if (e->device[0]) {
		if (strncmp(device, e->device, e->device_lit))
			return false;
		if (e->device_exact ? device[e->device_lit] != '\0'
				    : !route_glob_match(e->device + e->device_lit,
							device + e->device_lit))
			return false;
	}
	return true;
}

int route_match(const route_table *rt, const char *topic, size_t topic_len, const char *device)
{
	for (uint32_t i = 0; i < rt->n; i++)
		if (entry_match(&rt->r[i], topic, topic_len, device))
			return (int)i;
	return ROUTE_NONE;
}

/* Level by level: '#' in a covers the rest; '+' in a covers any level of b
 * but '#'; a literal covers only itself. */
bool route_filter_covers(const char *a, const char *b)
{
	if (!a[0])
		return true;
	if (!b[0])
		return !strcmp(a, "#");
	for (;;) {
		if (a[0] == '#')
			return true;
		size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
		if (b[0] == '#' && lb == 1)
			return false;
		if (!(la == 1 && a[0] == '+') && !(la == lb && !memcmp(a, b, la)))
			return false;
		a += la;
		b += lb;
		if (!*a || !*b)
			return !*a && !*b;
		a++;
		b++;
	}
}

bool route_glob_covers(const char *a, const char *b)
{
	if (!a[0] || !strcmp(a, "*"))
		return true;
	if (!b[0])
		return false;
	if (!strcmp(a, b))
		return true;
	size_t la = strcspn(a, "*?");
	/* "head*" covers everything that starts with head, wildcards or not */
	if (a[la] == '*' && !a[la + 1])
		return strlen(b) >= la && !memcmp(a, b, la) && !memchr(b, '?', la);
	/* a literal b is covered when a matches it */
	return !b[strcspn(b, "*?")] && route_glob_match(a, b);
}
