/* test_topic.c - unit tests of the topic rules: the device id from a
 * topic level, the topics iotad publishes under (no device id, however
 * hostile, yields a topic outside "{prefix}/{one level}"), Home Assistant
 * discovery topics, and the checks of configured filters and prefixes. */
#include <stdio.h>
#include <string.h>

#include "iotad/detector.h"
#include "iotad/topic.h"
#include "test.h"

/* ---- device id from a topic --------------------------------------------- */

static const struct topic_case {
	const char *topic;
	int level;
	const char *want; /* NULL: refused */
} topic_cases[] = {
	{"telemetry/dev1", 1, "dev1"},
	{"dev1", 0, "dev1"},
	{"site/a/dev-7_x.y/data", 2, "dev-7_x.y"},
	{"telemetry/dev1/extra", 1, "dev1"},
	{"telemetry/+", 1, NULL},
	{"telemetry/#", 1, NULL},
	{"telemetry/de+v", 1, NULL},
	{"telemetry/d#", 1, NULL},
	{"telemetry//x", 1, NULL},
	{"telemetry/", 1, NULL},
	{"telemetry", 1, NULL},
	{"", 0, NULL},
	{"telemetry/dev1", 5, NULL},
	{"telemetry/dev1", -1, NULL},
	{"telemetry/dev 1", 1, NULL},
	{"telemetry/dev\x01", 1, NULL},
	{"telemetry/dev\t1", 1, NULL},
	{"telemetry/dev\x7f", 1, NULL},
	{"telemetry/caf\xc3\xa9", 1, NULL},
	{"telemetry/\xff", 1, NULL},
};

static void test_device(void)
{
	for (size_t i = 0; i < sizeof topic_cases / sizeof topic_cases[0]; i++) {
		const struct topic_case *t = &topic_cases[i];
		char out[DET_DEVICE_ID_MAX] = "untouched";
		iotad_err r = topic_device(t->topic, t->level, out, sizeof out);
		if (t->want) {
			CU_ASSERT_EQUAL(r, IOTAD_OK);
			CU_ASSERT_STRING_EQUAL(out, t->want);
		} else {
			CU_ASSERT_EQUAL(r, IOTAD_ERR_INVAL);
			CU_ASSERT_STRING_EQUAL(out, "untouched");
		}
	}
}

static void test_device_lengths(void)
{
	char topic[300], out[DET_DEVICE_ID_MAX];

	/* longest id: DET_DEVICE_ID_MAX - 1 bytes */
	memcpy(topic, "t/", 2);
	memset(topic + 2, 'a', DET_DEVICE_ID_MAX - 1);
	topic[2 + DET_DEVICE_ID_MAX - 1] = '\0';
	CU_ASSERT_EQUAL(topic_device(topic, 1, out, sizeof out), IOTAD_OK);
	CU_ASSERT_EQUAL(strlen(out), DET_DEVICE_ID_MAX - 1);
	/* one more is too long */
	memset(topic + 2, 'a', DET_DEVICE_ID_MAX);
	topic[2 + DET_DEVICE_ID_MAX] = '\0';
	CU_ASSERT_EQUAL(topic_device(topic, 1, out, sizeof out), IOTAD_ERR_INVAL);
	/* the output buffer also bounds it */
	char small[5];
	CU_ASSERT_EQUAL(topic_device("t/abcd", 1, small, sizeof small), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(small, "abcd");
	CU_ASSERT_EQUAL(topic_device("t/abcde", 1, small, sizeof small), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(topic_device(NULL, 0, out, sizeof out), IOTAD_ERR_INVAL);
}

/* ---- publish topics ----------------------------------------------------- */

/* Independent check: topic is prefix, '/', then one level of printable
 * ASCII without wildcards. */
static int one_level_under(const char *topic, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (strncmp(topic, prefix, pl) != 0 || topic[pl] != '/' || topic[pl + 1] == '\0')
		return 0;
	for (const char *s = topic + pl + 1; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '/' || *s == '+' || *s == '#')
			return 0;
	return 1;
}

static void test_build_good(void)
{
	char buf[512], id[DET_DEVICE_ID_MAX];

	CU_ASSERT_EQUAL(topic_build(buf, sizeof buf, "alerts", "sensor-001"), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "alerts/sensor-001");
	CU_ASSERT_EQUAL(topic_build(buf, sizeof buf, "site/a/alerts", "x"), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "site/a/alerts/x");
	CU_ASSERT_EQUAL(topic_build(buf, sizeof buf, "state", "a.b:c-d_e@f$"), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "state/a.b:c-d_e@f$");
	/* the longest id fits, exactly */
	memset(id, 'k', sizeof id);
	id[DET_DEVICE_ID_MAX - 1] = '\0';
	CU_ASSERT_EQUAL(topic_build(buf, sizeof buf, "alerts", id), IOTAD_OK);
	CU_ASSERT_EQUAL(strlen(buf), strlen("alerts/") + DET_DEVICE_ID_MAX - 1);
	CU_ASSERT_TRUE(one_level_under(buf, "alerts"));
	/* one byte too small a buffer is a range error with an empty result */
	CU_ASSERT_EQUAL(topic_build(buf, strlen("alerts/x"), "alerts", "x"), IOTAD_ERR_RANGE);
	CU_ASSERT_STRING_EQUAL(buf, "");
	CU_ASSERT_EQUAL(topic_build(buf, strlen("alerts/x") + 1, "alerts", "x"), IOTAD_OK);
}

static void test_build_hostile_ids(void)
{
	static const char *const bad[] = {
		"", "+", "#", "a/b", "/", "a+", "b#", "../alerts", "a b", "tab\there", "nl\n",
		"\x01", "del\x7f", "caf\xc3\xa9", "\xff", "a/#", "+/+",
	};
	char buf[512], id[DET_DEVICE_ID_MAX + 16];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		strcpy(buf, "untouched");
		CU_ASSERT_EQUAL(topic_build(buf, sizeof buf, "alerts", bad[i]), IOTAD_ERR_INVAL);
		CU_ASSERT_STRING_EQUAL(buf, "");
	}
	/* over-long ids: one past the limit, and much longer */
	memset(id, 'o', sizeof id);
	id[DET_DEVICE_ID_MAX] = '\0';
	CU_ASSERT_EQUAL(topic_build(buf, sizeof buf, "alerts", id), IOTAD_ERR_INVAL);
	id[sizeof id - 1] = '\0';
	CU_ASSERT_EQUAL(topic_build(buf, sizeof buf, "alerts", id), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(topic_build(buf, sizeof buf, "alerts", NULL), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(topic_build(NULL, 10, "alerts", "x"), IOTAD_ERR_INVAL);
}

static void test_build_bad_prefix(void)
{
	static const char *const bad[] = {"", "alerts/", "alerts/+", "#", "a/#/b", ("al\x01" "erts")};
	char buf[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_EQUAL(topic_build(buf, sizeof buf, bad[i], "dev"), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(topic_build(buf, sizeof buf, NULL, "dev"), IOTAD_ERR_INVAL);
}

/* Every single-byte id and every two-byte id over a set of interesting
 * bytes: the builder accepts exactly those whose topic is one level. */
static void test_build_exhaustive_bytes(void)
{
	static const unsigned char probe[] = {0x01, 0x1f, ' ', '!', '#', '$', '+', '-', '/', '0',
					      'A', 'z', '~', 0x7f, 0x80, 0xc3, 0xff};
	char buf[64], id[3];
	int mismatches = 0, accepted = 0;

	for (int c = 1; c < 256; c++) {
		id[0] = (char)c;
		id[1] = '\0';
		iotad_err e = topic_build(buf, sizeof buf, "alerts", id);
		accepted += e == IOTAD_OK;
		mismatches += (e == IOTAD_OK) != (c > ' ' && c < 0x7f && c != '/' && c != '+' && c != '#');
		if (e == IOTAD_OK)
			mismatches += !one_level_under(buf, "alerts");
	}
	CU_ASSERT_EQUAL(accepted, 94 - 3);
	for (size_t i = 0; i < sizeof probe; i++)
		for (size_t j = 0; j < sizeof probe; j++) {
			id[0] = (char)probe[i];
			id[1] = (char)probe[j];
			id[2] = '\0';
			if (topic_build(buf, sizeof buf, "alerts", id) == IOTAD_OK)
				mismatches += !one_level_under(buf, "alerts");
		}
	CU_ASSERT_EQUAL(mismatches, 0);
}

/* ---- Home Assistant discovery topics ------------------------------------ */

static void test_hass(void)
{
	char t[300];
	CU_ASSERT_EQUAL(topic_hass(t, sizeof t, "homeassistant", NULL, "sensor-001"),
			(int)strlen("homeassistant/binary_sensor/iotad_sensor-001/config"));
	CU_ASSERT_STRING_EQUAL(t, "homeassistant/binary_sensor/iotad_sensor-001/config");
	/* outside [A-Za-z0-9_-]: replaced, plus the FNV-1a hash of the id so
	 * "a.b" and "a_b" stay apart */
	topic_hass(t, sizeof t, "ha", NULL, "a.b");
	CU_ASSERT_STRING_EQUAL(t, "ha/binary_sensor/iotad_a_b_108bf50c/config");
	topic_hass(t, sizeof t, "ha", NULL, "a_b");
	CU_ASSERT_STRING_EQUAL(t, "ha/binary_sensor/iotad_a_b/config");
	CU_ASSERT_EQUAL(topic_hass(t, 20, "homeassistant", NULL, "sensor-001"), -1);
	CU_ASSERT_STRING_EQUAL(t, "");
	/* another instance: its name is the node level */
	topic_hass(t, sizeof t, "ha", "north", "s1");
	CU_ASSERT_STRING_EQUAL(t, "ha/binary_sensor/north/iotad_s1/config");
}

/* ---- configured filters and prefixes ------------------------------------ */

static void test_prefix(void)
{
	static const char *const good[] = {"alerts", "site/a/alerts", "iotad/status", "a b",
					   "x$", "caf\xc3\xa9"};
	static const char *const bad[] = {"", "alerts/", "alerts/+", "#", "a/#/b", "+",
					  ("al\x01" "erts"), "del\x7f", "$SYS/x", "/"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CU_ASSERT_TRUE(topic_prefix_ok(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_FALSE(topic_prefix_ok(bad[i]));
	CU_ASSERT_FALSE(topic_prefix_ok(NULL));
}

static void test_filter(void)
{
	static const char *const good[] = {"telemetry/+", "#", "+", "a/+/b", "a/#", "+/+/#",
					   "telemetry/x"};
	static const char *const bad[] = {"", "a+", "a/b+", "+a/b", "a/#/b", "a#", "##", "a/+#"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CU_ASSERT_TRUE(topic_filter_ok(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_FALSE(topic_filter_ok(bad[i]));
	CU_ASSERT_FALSE(topic_filter_ok(NULL));

	CU_ASSERT_TRUE(topic_filter_has_level("telemetry/+", 0));
	CU_ASSERT_TRUE(topic_filter_has_level("telemetry/+", 1));
	CU_ASSERT_FALSE(topic_filter_has_level("telemetry/+", 2));
	CU_ASSERT_TRUE(topic_filter_has_level("a/b/+/c", 3));
	CU_ASSERT_FALSE(topic_filter_has_level("a/b/+/c", 4));
	CU_ASSERT_TRUE(topic_filter_has_level("site/#", 7));
	CU_ASSERT_FALSE(topic_filter_has_level("telemetry/+", -1));
}

/* A device id the filter's level yields always builds a publish topic. */
static void test_device_then_build(void)
{
	char dev[DET_DEVICE_ID_MAX], topic[TOPIC_MAX];
	CU_ASSERT_EQUAL_FATAL(topic_device("site/7/sensor:12@x/data", 2, dev, sizeof dev), IOTAD_OK);
	CU_ASSERT_EQUAL(topic_build(topic, sizeof topic, "alerts", dev), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(topic, "alerts/sensor:12@x");
	CU_ASSERT_EQUAL(topic_build(topic, sizeof topic, TOPIC_TELEMETRY_PREFIX, dev), IOTAD_OK);
	CU_ASSERT_EQUAL(topic_device(topic, 1, dev, sizeof dev), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(dev, "sensor:12@x");
}

void init_topic_tests(void)
{
	CU_pSuite s = CU_add_suite("topic", NULL, NULL);
	TEST_ADD(s, test_device);
	TEST_ADD(s, test_device_lengths);
	TEST_ADD(s, test_build_good);
	TEST_ADD(s, test_build_hostile_ids);
	TEST_ADD(s, test_build_bad_prefix);
	TEST_ADD(s, test_build_exhaustive_bytes);
	TEST_ADD(s, test_hass);
	TEST_ADD(s, test_prefix);
	TEST_ADD(s, test_filter);
	TEST_ADD(s, test_device_then_build);
}
