/* test_replay.c - CSV rows as telemetry JSON: time cells in every accepted
 * form, automatic and named feature columns, devices per row, bad rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/replay.h"
#include "iotad/timefmt.h"
#include "test.h"

static char replay_path[64];

static void write_csv(const char *text)
{
	snprintf(replay_path, sizeof replay_path, "/tmp/iotad-replay-XXXXXX");
	int fd = mkstemp(replay_path);
	CU_ASSERT_FATAL(fd >= 0);
	size_t n = strlen(text);
	CU_ASSERT_FATAL(write(fd, text, n) == (ssize_t)n);
	close(fd);
}

static void test_time_forms(void)
{
	/* 2020-03-09 10:14:33 UTC = 1583748873 (date -u -d ... +%s) */
	static const struct {
		const char *text;
		double want;
	} cases[] = {
		{"1583748873", 1583748873.0},
		{"1583748873.25", 1583748873.25},
		{"2020-03-09 10:14:33", 1583748873.0},
		{"2020-03-09T10:14:33Z", 1583748873.0},
		{"2020-03-09T11:14:33.5+01:00", 1583748873.5},
		{"1970-01-01 00:00:00", 0.0},
		/* leap day exists in 2020 (not in 2019: see the rejects) */
		{"2020-02-29 00:00:00", 1582934400.0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double t = -1;
		CU_ASSERT_EQUAL(timefmt_parse(cases[i].text, &t), 0);
		CU_ASSERT_EQUAL(t, cases[i].want);
	}
}

static void test_time_rejects(void)
{
	static const char *const bad[] = {
		"", "abc", "-5", "1e999", "nan", "9999999999999", "2019-02-29 00:00:00",
		"2020-13-01 00:00:00", "2020-03-09 24:00:00", "2020-03-09", "2020-03-09 10:14:33 x",
		"2020-03-09 10:14:33+1", NULL,
	};
	for (int i = 0; bad[i]; i++) {
		double t = 123.0;
		CU_ASSERT_NOT_EQUAL(timefmt_parse(bad[i], &t), 0);
		CU_ASSERT_EQUAL(t, 123.0);
	}
}

static void test_rows_as_json(void)
{
	write_csv("datetime;device;\"Temp, C\";volt;label;anomaly\n"
		  "2020-03-09 10:14:33;pump-1;90.5;0.1;0;0\n"
		  "2020-03-09 10:14:34;pump-2;-1.25e-3;3;1;1\n"
		  "\n"
		  "2020-03-09 10:14:35;pump-1;oops;3;0;0\n"
		  "2020-03-09 10:14:36;bad/id;1;2;0;0\n"
		  "2020-03-09 10:14:37;pump-1;7;8;0;0");
	replay_opts o = {.sep = ';', .device_col = "device"};
	replay *r = NULL;
	char err[256] = "", buf[512];
	CU_ASSERT_FATAL(replay_open(replay_path, &o, &r, err, sizeof err) == IOTAD_OK);
	CU_ASSERT_EQUAL(replay_rows(r), 6);
	CU_ASSERT_TRUE(replay_has_time(r));
	const char *dev = NULL;
	double ts = 0;
	int n = replay_next(r, buf, sizeof buf, &dev, &ts, err, sizeof err);
	CU_ASSERT_EQUAL(n, (int)strlen(buf));
	CU_ASSERT_STRING_EQUAL(buf, "{\"ts\":1583748873.000,\"Temp, C\":90.5,\"volt\":0.1}");
	CU_ASSERT_STRING_EQUAL(dev, "pump-1");
	CU_ASSERT_EQUAL(ts, 1583748873.0);
	CU_ASSERT(replay_next(r, buf, sizeof buf, &dev, &ts, err, sizeof err) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "{\"ts\":1583748874.000,\"Temp, C\":-0.00125,\"volt\":3}");
	CU_ASSERT_STRING_EQUAL(dev, "pump-2");
	/* the empty line is passed over; the next two rows are bad */
	CU_ASSERT_EQUAL(replay_next(r, buf, sizeof buf, &dev, &ts, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 5"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Temp, C"));
	CU_ASSERT_EQUAL(replay_next(r, buf, sizeof buf, &dev, &ts, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "device"));
	CU_ASSERT(replay_next(r, buf, sizeof buf, &dev, &ts, err, sizeof err) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "{\"ts\":1583748877.000,\"Temp, C\":7,\"volt\":8}");
	CU_ASSERT_EQUAL(replay_next(r, buf, sizeof buf, &dev, &ts, err, sizeof err), 0);
	replay_close(r);
	unlink(replay_path);
}

static void test_named_features_no_time(void)
{
	write_csv("a,b,c\n1,2,3\n4,5,6\n");
	replay_opts o = {.features = "c,a", .device = "dev9", .time_col = ""};
	replay *r = NULL;
	char err[256] = "", buf[64];
	CU_ASSERT_FATAL(replay_open(replay_path, &o, &r, err, sizeof err) == IOTAD_OK);
	CU_ASSERT_FALSE(replay_has_time(r));
	const char *dev = NULL;
	double ts = 0;
	CU_ASSERT(replay_next(r, buf, sizeof buf, &dev, &ts, err, sizeof err) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "{\"c\":3,\"a\":1}");
	CU_ASSERT_STRING_EQUAL(dev, "dev9");
	CU_ASSERT_TRUE(isnan(ts));
	/* a payload that does not fit is a bad row, never a truncated one */
	CU_ASSERT_EQUAL(replay_next(r, buf, 8, &dev, &ts, err, sizeof err), -1);
	replay_close(r);

	o.features = "a,zz";
	CU_ASSERT_EQUAL(replay_open(replay_path, &o, &r, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "zz"));
	o.features = NULL;
	o.time_col = "when";
	CU_ASSERT_EQUAL(replay_open(replay_path, &o, &r, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "when"));
	unlink(replay_path);
	CU_ASSERT_EQUAL(replay_open(replay_path, &o, &r, err, sizeof err), IOTAD_ERR_IO);
}

void init_replay_tests(void)
{
	CU_pSuite s = CU_add_suite("replay", NULL, NULL);
	TEST_ADD(s, test_time_forms);
	TEST_ADD(s, test_time_rejects);
	TEST_ADD(s, test_rows_as_json);
	TEST_ADD(s, test_named_features_no_time);
}
