/* test_csv.c - unit tests of csv: quoting, CRLF, column selection, errors
 * naming file:line and column, a generated large file and a real SKAB file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotad/csv.h"
#include "iotad/truth.h"
#include "skip.h"
#include "test.h"

static char csv_dir[64];
static char csv_path[128];

static int csv_setup(void)
{
	snprintf(csv_dir, sizeof csv_dir, "/tmp/iotad-csv-XXXXXX");
	if (!mkdtemp(csv_dir))
		return 1;
	snprintf(csv_path, sizeof csv_path, "%s/in.csv", csv_dir);
	return 0;
}

static int csv_teardown(void)
{
	unlink(csv_path);
	rmdir(csv_dir);
	return 0;
}

static void write_file(const char *text)
{
	FILE *f = fopen(csv_path, "wb");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

static const char good_text[] =
	"\xEF\xBB\xBF\"time\";\"a\";\"b c\";label\r\n"
	"2020-01-01 00:00:00;1.5;-2;\"ok\"\r\n"
	"2020-01-01 00:00:01; 3e2 ;\"4\";\"x;\"\"y\"\"\"\r\n"
	"2020-01-01 00:00:02;-0.25;1e-3;\r\n"
	"\r\n"
	"\n";

static void test_good_selected(void)
{
	write_file(good_text);
	const char *cols[] = {"b c", "a"};
	csv_table t;
	char err[256] = "";
	iotad_err rc = csv_read(csv_path, ';', cols, 2, NULL, 0, &t, err, sizeof err);
	if (rc)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, IOTAD_OK);
	CU_ASSERT_EQUAL(t.n_cols, 2);
	CU_ASSERT_EQUAL_FATAL(t.n_rows, 3);
	CU_ASSERT_STRING_EQUAL(t.names[0], "b c");
	CU_ASSERT_STRING_EQUAL(t.names[1], "a");
	const float want[] = {-2.0f, 1.5f, 4.0f, 300.0f, 1e-3f, -0.25f};
	for (int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(t.data[i], want[i]);
	csv_free(&t);
	csv_free(&t); /* idempotent */
}

static void test_good_auto(void)
{
	write_file(good_text);
	/* Every column but "b c": the time stamp and the text label are not numbers. */
	const char *skip[] = {"b c", "not-in-this-file"};
	csv_table t;
	char err[256] = "";
	iotad_err rc = csv_read(csv_path, ';', NULL, 0, skip, 2, &t, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(rc, IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(t.n_cols, 1);
	CU_ASSERT_STRING_EQUAL(t.names[0], "a");
	CU_ASSERT_EQUAL_FATAL(t.n_rows, 3);
	CU_ASSERT_EQUAL(t.data[1], 300.0f);
	csv_free(&t);

	/* Without skip: a and b c. */
	rc = csv_read(csv_path, ';', NULL, 0, NULL, 0, &t, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(rc, IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(t.n_cols, 2);
	CU_ASSERT_STRING_EQUAL(t.names[1], "b c");
	CU_ASSERT_EQUAL(t.data[5], 1e-3f);
	csv_free(&t);

	/* A comma file with LF endings and no trailing newline. */
	write_file("x,y\n1,2\n3,4");
	rc = csv_read(csv_path, ',', NULL, 0, NULL, 0, &t, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(rc, IOTAD_OK);
	CU_ASSERT_EQUAL(t.n_rows, 2);
	CU_ASSERT_EQUAL(t.data[3], 4.0f);
	csv_free(&t);
}

struct err_case {
	const char *text;
	const char *col;  /* selected column (NULL: automatic) */
	iotad_err rc;
	const char *want[3];
};

static const struct err_case err_cases[] = {
	{"a;b\n1;2\n", "zzz", IOTAD_ERR_NOTFOUND,
	 {"column \"zzz\" not found", "available: \"a\", \"b\"", NULL}},
	{"a;b\n1;2\n3;abc\n", "b", IOTAD_ERR_PARSE, {":3: column \"b\": not a number: \"abc\"", NULL}},
	{"a;b\n1;2\n3;\n", "b", IOTAD_ERR_PARSE, {":3: column \"b\": not a number: \"\"", NULL}},
	{"a;b\n1;nan\n", "b", IOTAD_ERR_PARSE, {":2: column \"b\": not a number: \"nan\"", NULL}},
	{"a;b\n1;-inf\n", "b", IOTAD_ERR_PARSE, {":2:", "\"-inf\"", NULL}},
	{"a;b\n1;1e39\n", "b", IOTAD_ERR_PARSE, {":2:", "\"1e39\"", NULL}},
	{"a;b\n1;2x\n", "b", IOTAD_ERR_PARSE, {":2:", "\"2x\"", NULL}},
	{"a;b\n1;2\n3\n", "a", IOTAD_ERR_PARSE, {":3: expected 2 fields, got 1", NULL}},
	{"a;b\n1;2;3\n", "a", IOTAD_ERR_PARSE, {":2: expected 2 fields, got 3", NULL}},
	{"a;b\n1;2\n\n3;4\n", "a", IOTAD_ERR_PARSE, {":3: blank line", NULL}},
	{"a;b\n1;\"2\n", "a", IOTAD_ERR_PARSE, {":2: malformed quoted field", NULL}},
	{"a;b\n1;\"2\"x\n", "a", IOTAD_ERR_PARSE, {":2: malformed quoted field", NULL}},
	{"\"a;b\n1;2\n", "a", IOTAD_ERR_PARSE, {":1: malformed quoted field in the header", NULL}},
	{"a;b;a\n1;2;3\n", "a", IOTAD_ERR_PARSE, {"\"a\" appears twice", NULL}},
	{"", "a", IOTAD_ERR_PARSE, {"empty file", NULL}},
	{"\n\r\n", NULL, IOTAD_ERR_PARSE, {"empty file", NULL}},
	{"t;s\nx;y\n", NULL, IOTAD_ERR_NOTFOUND, {":2: no numeric column", NULL}},
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
		const struct err_case *c = &err_cases[i];
		write_file(c->text);
		csv_table t;
		char err[512] = "";
		iotad_err rc = csv_read(csv_path, ';', c->col ? &c->col : NULL, c->col ? 1 : 0, NULL,
					0, &t, err, sizeof err);
		int ok = rc == c->rc && strstr(err, csv_path) != NULL;
		for (int k = 0; k < 3 && c->want[k]; k++)
			ok &= strstr(err, c->want[k]) != NULL;
		if (!ok)
			fprintf(stderr, "\n  case %zu: rc %d, err \"%s\"\n", i, (int)rc, err);
		CU_ASSERT(ok);
		CU_ASSERT_PTR_NULL(t.data);
		CU_ASSERT_PTR_NULL(t.names);
		csv_free(&t);
	}
	csv_table t;
	char err[256] = "";
	char absent[160];
	snprintf(absent, sizeof absent, "%s/absent.csv", csv_dir);
	CU_ASSERT_EQUAL(csv_read(absent, ',', NULL, 0, NULL, 0, &t, err, sizeof err),
			IOTAD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "absent.csv"));
	CU_ASSERT_EQUAL(csv_read(csv_path, '"', NULL, 0, NULL, 0, &t, err, sizeof err),
			IOTAD_ERR_INVAL);
}

static void test_header_only(void)
{
	write_file("a,b\r\n");
	const char *cols[] = {"b"};
	csv_table t;
	char err[256] = "";
	CU_ASSERT_EQUAL_FATAL(csv_read(csv_path, ',', cols, 1, NULL, 0, &t, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_EQUAL(t.n_rows, 0);
	CU_ASSERT_EQUAL(t.n_cols, 1);
	csv_free(&t);
}

/* Many rows force the arrays to grow; values follow a closed form. */
static void test_large(void)
{
	enum { N = 50000 };
	FILE *f = fopen(csv_path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("i\ttwice\tname\n", f);
	for (int i = 0; i < N; i++)
		fprintf(f, "%d\t%d.5\t\"row %d\"\n", i, 2 * i, i);
	fclose(f);
	const char *cols[] = {"twice", "i"};
	csv_table t;
	char err[256] = "";
	CU_ASSERT_EQUAL_FATAL(csv_read(csv_path, '\t', cols, 2, NULL, 0, &t, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(t.n_rows, N);
	int bad = 0;
	for (int i = 0; i < N; i++)
		bad += t.data[2 * i] != (float)(2 * i) + 0.5f || t.data[2 * i + 1] != (float)i;
	CU_ASSERT_EQUAL(bad, 0);
	csv_free(&t);
}

/* SKAB lives in shared/ beside the repository; IOTAD_SKAB_DIR overrides. */
static const char *skab_dir(char *buf, size_t len)
{
	const char *env = getenv("IOTAD_SKAB_DIR");
	struct stat st;
	if (env && stat(env, &st) == 0)
		return env;
	snprintf(buf, len, "%s/../../../shared/datasets/skab", test_fixture_dir);
	if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
		return buf;
	snprintf(buf, len, "/work/shared/datasets/skab");
	if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
		return buf;
	return NULL;
}

static void test_skab(void)
{
	char dir[512], path[600];
	const char *d = skab_dir(dir, sizeof dir);
	if (!d) {
		test_skip_data("SKAB not found (set IOTAD_SKAB_DIR)");
		return;
	}
	snprintf(path, sizeof path, "%s/valve1/1.csv", d);
	/* Independent count: data lines start with the year of their time stamp. */
	FILE *f = fopen(path, "r");
	CU_ASSERT_FATAL(f != NULL);
	char line[1024];
	size_t lines = 0;
	while (fgets(line, sizeof line, f))
		lines += line[0] >= '0' && line[0] <= '9';
	fclose(f);

	const char *cols[] = {"Accelerometer1RMS", "Volume Flow RateRMS", "anomaly"};
	csv_table t;
	char err[256] = "";
	iotad_err rc = csv_read(path, ';', cols, 3, NULL, 0, &t, err, sizeof err);
	if (rc)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, IOTAD_OK);
	CU_ASSERT_EQUAL(t.n_rows, 1145); /* wc -l gives 1146 lines with the header */
	CU_ASSERT_EQUAL(t.n_rows, lines);
	CU_ASSERT_EQUAL(t.data[0], 0.0270797f);
	CU_ASSERT_EQUAL(t.data[1], 32.0f);
	size_t last = (t.n_rows - 1) * 3;
	CU_ASSERT_EQUAL(t.data[last], 0.0266961f);
	CU_ASSERT_EQUAL(t.data[last + 1], 31.999f);
	int labels_ok = 1, anomalies = 0;
	for (size_t i = 0; i < t.n_rows; i++) {
		float a = t.data[i * 3 + 2];
		labels_ok &= a == 0.0f || a == 1.0f;
		anomalies += a == 1.0f;
	}
	CU_ASSERT(labels_ok);
	CU_ASSERT(anomalies > 0 && anomalies < (int)t.n_rows);
	csv_free(&t);

	/* Automatic selection drops the datetime column. */
	const char *skip[] = {"anomaly", "changepoint"};
	rc = csv_read(path, ';', NULL, 0, skip, 2, &t, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(rc, IOTAD_OK);
	CU_ASSERT_EQUAL(t.n_cols, 8);
	CU_ASSERT_STRING_EQUAL(t.names[0], "Accelerometer1RMS");
	CU_ASSERT_STRING_EQUAL(t.names[7], "Volume Flow RateRMS");
	csv_free(&t);
}

/* Rows of interleaved devices get dense group ids in order of first sight. */
static void test_grouped(void)
{
	char err[512];
	csv_table t;
	write_file("ts,device,x\n1,a,1\n1,b,10\n2,a,2\n2,\"b\",20\n3,c,30\n");
	const char *cols[] = {"x"};
	CU_ASSERT_EQUAL_FATAL(csv_read_grouped(csv_path, ',', cols, 1, NULL, 0, "device", &t, err,
					       sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(t.n_rows, 5);
	CU_ASSERT_EQUAL(t.n_cols, 1);
	CU_ASSERT_EQUAL(t.n_groups, 3);
	const uint32_t want[] = {0, 1, 0, 1, 2};
	const float x[] = {1, 10, 2, 20, 30};
	for (size_t i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(t.group[i], want[i]);
		CU_ASSERT_EQUAL(t.data[i], x[i]);
	}
	csv_free(&t);
	CU_ASSERT_PTR_NULL(t.group);

	/* automatic selection leaves a numeric group column out of the features */
	write_file("g,x,y\n7,1,2\n8,3,4\n7,5,6\n");
	CU_ASSERT_EQUAL_FATAL(csv_read_grouped(csv_path, ',', NULL, 0, NULL, 0, "g", &t, err,
					       sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(t.n_cols, 2);
	CU_ASSERT_STRING_EQUAL(t.names[0], "x");
	CU_ASSERT_EQUAL(t.n_groups, 2);
	CU_ASSERT_EQUAL(t.group[2], 0);
	csv_free(&t);

	/* a named feature cannot be the group; a missing group column is named */
	const char *both[] = {"g", "x"};
	CU_ASSERT_EQUAL(csv_read_grouped(csv_path, ',', both, 2, NULL, 0, "g", &t, err, sizeof err),
			IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(csv_read_grouped(csv_path, ',', NULL, 0, NULL, 0, "device", &t, err,
					 sizeof err), IOTAD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"device\""));

	/* csv_read never groups */
	CU_ASSERT_EQUAL_FATAL(csv_read(csv_path, ',', NULL, 0, NULL, 0, &t, err, sizeof err), IOTAD_OK);
	CU_ASSERT_PTR_NULL(t.group);
	CU_ASSERT_EQUAL(t.n_groups, 0);
	csv_free(&t);
}

/* A time column keeps epoch seconds exact (a float would round them to 128 s)
 * and reads date-times as UTC; a bad time is named with its line. */
static void test_timed(void)
{
	char err[512];
	csv_table t;
	write_file("ts,device,x\n1700000001.5,a,1\n1700000002,b,2\n2023-11-14 22:13:23,a,3\n");
	CU_ASSERT_EQUAL_FATAL(csv_read_timed(csv_path, ',', NULL, 0, NULL, 0, "device", "ts", &t,
					     err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(t.n_cols, 1); /* ts and device are not features */
	CU_ASSERT_STRING_EQUAL(t.names[0], "x");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t.time);
	CU_ASSERT_EQUAL(t.time[0], 1700000001.5);
	CU_ASSERT_EQUAL(t.time[1], 1700000002.0);
	CU_ASSERT_EQUAL(t.time[2], 1700000003.0);
	CU_ASSERT_STRING_EQUAL(t.group_names[1], "b");
	csv_free(&t);
	CU_ASSERT_PTR_NULL(t.time);

	write_file("ts,x\n1,1\nyesterday,2\n");
	CU_ASSERT_EQUAL(csv_read_timed(csv_path, ',', NULL, 0, NULL, 0, NULL, "ts", &t, err,
				       sizeof err), IOTAD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":3: column \"ts\": not a time"));
	CU_ASSERT_EQUAL(csv_read_timed(csv_path, ',', NULL, 0, NULL, 0, NULL, "when", &t, err,
				       sizeof err), IOTAD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "time column \"when\" not found"));
}

/* Ground truth: read, sorted per device, rows labelled by [start, end) of
 * their own device's anomalies, kinds counted with their delays. */
static void test_truth(void)
{
	char err[512];
	truth t;
	write_file("device,kind,start,end\n"
		   "b,spike,1700000010,1700000020\n"
		   "a,stuck,1700000005,1700000008\n"
		   "a,spike,1700000000,1700000003\n");
	CU_ASSERT_EQUAL_FATAL(truth_read(csv_path, &t, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(t.n, 3);
	CU_ASSERT_EQUAL(t.n_devices, 2);
	CU_ASSERT_EQUAL(t.n_kinds, 2);
	CU_ASSERT_STRING_EQUAL(t.devices[0], "a");
	CU_ASSERT_STRING_EQUAL(t.kinds[0], "spike");
	CU_ASSERT_EQUAL(t.a[0].start, 1700000000.0); /* a's first anomaly comes first */
	CU_ASSERT_EQUAL(t.a[2].device, 1);

	/* rows of a (id 0), b (id 1) and c (id 2, not in the truth) at times */
	char *names[] = {"a", "b", "c"};
	const uint32_t group[] = {0, 0, 0, 1, 2, 0, 0, 1, 1, 0};
	const double ts[] = {1699999999, 1700000000, 1700000002.9, 1700000002, 1700000011,
			     1700000003, 1700000005, 1700000010, 1700000019.5, 1700000008};
	const uint8_t want[] = {0, 1, 1, 0, 0, 0, 1, 1, 1, 0};
	const int32_t want_a[] = {-1, 0, 0, -1, -1, -1, 1, 2, 2, -1};
	uint8_t label[10];
	int32_t anomaly[10];
	CU_ASSERT_EQUAL_FATAL(truth_label(&t, group, names, 3, ts, 10, label, anomaly), IOTAD_OK);
	for (int i = 0; i < 10; i++) {
		CU_ASSERT_EQUAL(label[i], want[i]);
		CU_ASSERT_EQUAL(anomaly[i], want_a[i]);
	}
	/* spike of a caught on its second row (delay 1), stuck of a missed,
	 * spike of b caught on its first */
	const uint8_t alert[] = {0, 0, 1, 1, 0, 0, 0, 1, 0, 0};
	uint32_t seen[3] = {0};
	truth_kind_stats k[2] = {{0}};
	truth_count(&t, anomaly, alert, 10, seen, k);
	CU_ASSERT_EQUAL(k[0].anomalies, 2);
	CU_ASSERT_EQUAL(k[0].detected, 2);
	CU_ASSERT_EQUAL(k[0].delay_sum, 1.0);
	CU_ASSERT_EQUAL(k[1].anomalies, 1);
	CU_ASSERT_EQUAL(k[1].detected, 0);
	truth_free(&t);

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"", "empty file"},
		{"dev,kind,start,end\n", ":1: header must be device,kind,start,end"},
		{"device,kind,start,end\na,spike,1,2,3\n", ":2: expected 4 fields"},
		{"device,kind,start,end\n,spike,1,2\n", ":2: empty device"},
		{"device,kind,start,end\na,spike,x,2\n", ":2: start: not a time"},
		{"device,kind,start,end\na,spike,1,nan\n", ":2: end: not a time"},
		{"device,kind,start,end\na,spike,-5,2\n", ":2: start: not a time"},
		{"device,kind,start,end\na,spike,3,3\n", ":2: end 3 is not after start 3"},
		{"device,kind,start,end\na,spike,1,5\na,stuck,4,6\n", ":3: overlaps the anomaly of line 2"},
		{"device,kind,start,end\n\"a,spike,1,5\n", ":2: malformed quoted field"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(bad[i].text);
		err[0] = '\0';
		CU_ASSERT_EQUAL(truth_read(csv_path, &t, err, sizeof err), IOTAD_ERR_PARSE);
		if (!strstr(err, bad[i].msg))
			fprintf(stderr, "\ntruth case %zu: got \"%s\"\n", i, err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].msg));
		CU_ASSERT_EQUAL(t.n, 0);
	}
	CU_ASSERT_EQUAL(truth_read("/nonexistent/truth.csv", &t, err, sizeof err),
			IOTAD_ERR_NOTFOUND);
}

void init_csv_tests(void)
{
	CU_pSuite s = CU_add_suite("csv", csv_setup, csv_teardown);
	TEST_ADD(s, test_good_selected);
	TEST_ADD(s, test_good_auto);
	TEST_ADD(s, test_errors);
	TEST_ADD(s, test_header_only);
	TEST_ADD(s, test_large);
	TEST_ADD(s, test_grouped);
	TEST_ADD(s, test_timed);
	TEST_ADD(s, test_truth);
}

void init_csvskab_tests(void)
{
	CU_pSuite s = CU_add_suite("csvskab", NULL, NULL);
	TEST_ADD(s, test_skab);
}
