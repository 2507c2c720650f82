/* test_service.c - unit tests of the service's publish-topic builder: no
 * device id, however hostile, yields a topic outside "{prefix}/{one level}". */
#include <stdio.h>
#include <string.h>

#include "iotad/service.h"
#include "test.h"

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

static void test_topic_good(void)
{
	char buf[512], id[DET_DEVICE_ID_MAX];

	CU_ASSERT_EQUAL(svc_topic(buf, sizeof buf, "alerts", "sensor-001"), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "alerts/sensor-001");
	CU_ASSERT_EQUAL(svc_topic(buf, sizeof buf, "site/a/alerts", "x"), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "site/a/alerts/x");
	CU_ASSERT_EQUAL(svc_topic(buf, sizeof buf, "state", "a.b:c-d_e@f$"), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "state/a.b:c-d_e@f$");
	/* the longest id fits, exactly */
	memset(id, 'k', sizeof id);
	id[DET_DEVICE_ID_MAX - 1] = '\0';
	CU_ASSERT_EQUAL(svc_topic(buf, sizeof buf, "alerts", id), IOTAD_OK);
	CU_ASSERT_EQUAL(strlen(buf), strlen("alerts/") + DET_DEVICE_ID_MAX - 1);
	CU_ASSERT_TRUE(one_level_under(buf, "alerts"));
	/* one byte too small a buffer is a range error with an empty result */
	CU_ASSERT_EQUAL(svc_topic(buf, strlen("alerts/x"), "alerts", "x"), IOTAD_ERR_RANGE);
	CU_ASSERT_STRING_EQUAL(buf, "");
	CU_ASSERT_EQUAL(svc_topic(buf, strlen("alerts/x") + 1, "alerts", "x"), IOTAD_OK);
}

static void test_topic_hostile_ids(void)
{
	static const char *const bad[] = {
		"", "+", "#", "a/b", "/", "a+", "b#", "../alerts", "a b", "tab\there", "nl\n",
		"\x01", "del\x7f", "caf\xc3\xa9", "\xff", "a/#", "+/+",
	};
	char buf[512], id[DET_DEVICE_ID_MAX + 16];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		strcpy(buf, "untouched");
		CU_ASSERT_EQUAL(svc_topic(buf, sizeof buf, "alerts", bad[i]), IOTAD_ERR_INVAL);
		CU_ASSERT_STRING_EQUAL(buf, "");
	}
	/* over-long ids: one past the limit, and much longer */
	memset(id, 'o', sizeof id);
	id[DET_DEVICE_ID_MAX] = '\0';
	CU_ASSERT_EQUAL(svc_topic(buf, sizeof buf, "alerts", id), IOTAD_ERR_INVAL);
	id[sizeof id - 1] = '\0';
	CU_ASSERT_EQUAL(svc_topic(buf, sizeof buf, "alerts", id), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(svc_topic(buf, sizeof buf, "alerts", NULL), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(svc_topic(NULL, 10, "alerts", "x"), IOTAD_ERR_INVAL);
}

static void test_topic_bad_prefix(void)
{
	static const char *const bad[] = {"", "alerts/", "alerts/+", "#", "a/#/b", "al\x01" "erts"};
	char buf[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_EQUAL(svc_topic(buf, sizeof buf, bad[i], "dev"), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(svc_topic(buf, sizeof buf, NULL, "dev"), IOTAD_ERR_INVAL);
}

/* Every single-byte id and every two-byte id over a set of interesting
 * bytes: the builder accepts exactly those whose topic is one level. */
static void test_topic_exhaustive_bytes(void)
{
	static const unsigned char probe[] = {0x01, 0x1f, ' ', '!', '#', '$', '+', '-', '/', '0',
					      'A', 'z', '~', 0x7f, 0x80, 0xc3, 0xff};
	char buf[64], id[3];
	int mismatches = 0, accepted = 0;

	for (int c = 1; c < 256; c++) {
		id[0] = (char)c;
		id[1] = '\0';
		iotad_err e = svc_topic(buf, sizeof buf, "alerts", id);
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
			if (svc_topic(buf, sizeof buf, "alerts", id) == IOTAD_OK)
				mismatches += !one_level_under(buf, "alerts");
		}
	CU_ASSERT_EQUAL(mismatches, 0);
}

void init_service_tests(void)
{
	CU_pSuite s = CU_add_suite("service", NULL, NULL);
	TEST_ADD(s, test_topic_good);
	TEST_ADD(s, test_topic_hostile_ids);
	TEST_ADD(s, test_topic_bad_prefix);
	TEST_ADD(s, test_topic_exhaustive_bytes);
}
