/* topic.c - MQTT topic rules: device id from a topic level, the topics
 * iotad publishes under, Home Assistant discovery topics, and the checks
 * of configured filters and prefixes. */
#include "iotad/topic.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "iotad/detector.h"

bool topic_level_ok(const char *s, size_t n)
{
	if (!s || n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '+' || ch == '#' || ch == '/')
			return false;
	}
	return true;
}

/* FNV-1a, 32 bits, of len bytes. */
static uint32_t fnv1a(const char *device, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)device[i]) * 16777619u;
	return h;
}

uint32_t topic_shard(const char *device, uint32_t n)
{
	return n ? fnv1a(device, strlen(device)) % n : 0;
}

iotad_err topic_device(const char *topic, int level, char *out, size_t outlen)
{
	if (!topic || level < 0 || !out || outlen == 0)
		return IOTAD_ERR_INVAL;
	const char *s = topic;
	for (int i = 0; i < level; i++) {
		s = strchr(s, '/');
		if (!s)
			return IOTAD_ERR_INVAL;
		s++;
	}
	size_t n = strcspn(s, "/");
	if (n >= DET_DEVICE_ID_MAX || n >= outlen || !topic_level_ok(s, n))
		return IOTAD_ERR_INVAL;
	memcpy(out, s, n);
	out[n] = '\0';
	return IOTAD_OK;
}

bool topic_prefix_ok(const char *prefix)
{
	if (!prefix || !*prefix || prefix[0] == '$')
		return false;
	size_t n = strlen(prefix);
	if (prefix[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)prefix[i];
		if (ch < 0x20 || ch == 0x7f || ch == '+' || ch == '#')
			return false;
	}
	return true;
}

bool topic_filter_ok(const char *f)
{
	if (!f || !*f)
		return false;
	for (const char *s = f; *s; s++) {
		bool level_start = s == f || s[-1] == '/';
		bool level_end = s[1] == '\0' || s[1] == '/';
		if (*s == '+' && !(level_start && level_end))
			return false;
		if (*s == '#' && !(level_start && s[1] == '\0'))
			return false;
	}
	return true;
}

bool topic_filter_has_level(const char *filter, int level)
{
	if (!filter || level < 0)
		return false;
	if (strchr(filter, '#'))
		return true;
	int levels = 1;
	for (const char *s = filter; *s; s++)
		levels += *s == '/';
	return level < levels;
}

iotad_err topic_build(char *buf, size_t len, const char *prefix, const char *device)
{
	if (!buf || len == 0)
		return IOTAD_ERR_INVAL;
	buf[0] = '\0';
	if (!device || !topic_prefix_ok(prefix))
		return IOTAD_ERR_INVAL;
	size_t dl = strnlen(device, DET_DEVICE_ID_MAX);
	if (dl == DET_DEVICE_ID_MAX || !topic_level_ok(device, dl))
		return IOTAD_ERR_INVAL;
	int n = snprintf(buf, len, "%s/%s", prefix, device);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return IOTAD_ERR_RANGE;
	}
	return IOTAD_OK;
}

int topic_hass(char *buf, size_t len, const char *prefix, const char *node, const char *device)
{
	char object[DET_DEVICE_ID_MAX + 16];
	uint32_t h = 2166136261u;
	bool changed = false;
	size_t i = 0;

	if (!buf || len == 0)
		return -1;
	buf[0] = '\0';
	if (!prefix || !device)
		return -1;
	for (const char *s = device; *s && i < DET_DEVICE_ID_MAX - 1; s++) {
		unsigned char ch = (unsigned char)*s;
		h = (h ^ ch) * 16777619u;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
		object[i++] = ok ? (char)ch : '_';
		changed |= !ok;
	}
	object[i] = '\0';
	const char *sep = node ? "/" : "";
	node = node ? node : "";
	int n = changed ? snprintf(buf, len, "%s/binary_sensor/%s%siotad_%s_%08x/config", prefix,
				   node, sep, object, h)
			: snprintf(buf, len, "%s/binary_sensor/%s%siotad_%s/config", prefix, node, sep,
				   object);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return -1;
	}
	return n;
}

#define TOPIC_INSTANCE_MAX 64

static bool instance_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-';
}

bool topic_instance_ok(const char *s)
{
	size_t n = 0;
	for (; s && s[n]; n++)
		if (!instance_char((unsigned char)s[n]) || n >= TOPIC_INSTANCE_MAX)
			return false;
	return n > 0;
}

void topic_instance_from(char *buf, size_t len, const char *client_id)
{
	size_t i = 0;
	memset(buf, 0, len);
	for (; client_id[i] && i < TOPIC_INSTANCE_MAX && i + 1 < len; i++)
		buf[i] = instance_char((unsigned char)client_id[i]) ? client_id[i] : '_';
	if (len)
		buf[i] = '\0';
}

int topic_expand_instance(char *topic, size_t len, const char *instance)
{
	static const char key[] = "{instance}";
	char out[1024];
	size_t o = 0, il = strlen(instance);
	if (len > sizeof out)
		return -1;
	for (const char *s = topic; *s;) {
		if (!strncmp(s, key, sizeof key - 1)) {
			if (o + il >= len)
				return -1;
			memcpy(out + o, instance, il);
			o += il;
			s += sizeof key - 1;
		} else {
			if (o + 1 >= len)
				return -1;
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
	memset(topic, 0, len); /* no bytes of the template left after the NUL */
	memcpy(topic, out, o + 1);
	return 0;
}

uint32_t topic_device_shard(const char *device, size_t len, uint32_t n)
{
	if (n <= 1)
		return 0;
	/* mixed again (MurmurHash3's finalizer), so the thread is independent
	 * of the hash modulo the instances of service.shard */
	uint32_t h = fnv1a(device, len);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h % n;
}

bool topic_level_span(const char *topic, size_t len, int level, const char **dev,
		      size_t *dev_len)
{
	const char *s = topic, *end = topic + len;
	for (int i = 0; i < level; i++) {
		const char *slash = memchr(s, '/', (size_t)(end - s));
		if (!slash)
			return false;
		s = slash + 1;
	}
	const char *slash = memchr(s, '/', (size_t)(end - s));
	*dev = s;
	*dev_len = (size_t)((slash ? slash : end) - s);
	return true;
}
