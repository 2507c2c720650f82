/* test_nab.c - the benchmark's scoring rules on cases whose score is known
 * in closed form, the labels file's reader on good and bad files, and the
 * nab layout of `iotad eval` end to end on a small made-up corpus (its
 * bad files give clear errors). */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotad/cmd.h"
#include "iotad/nab.h"
#include "iotad/nablabels.h"
#include "test.h"

#define EPS 1e-9

static double sig(double y)
{
	return 2.0 / (1.0 + exp(5.0 * y)) - 1.0;
}

static void test_sigmoid(void)
{
	CU_ASSERT_DOUBLE_EQUAL(nab_sigmoid(0.0), 0.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(nab_sigmoid(-1.0), 2.0 / (1.0 + exp(-5.0)) - 1.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(nab_sigmoid(-1.0), 0.986614298, 1e-8);
	CU_ASSERT_DOUBLE_EQUAL(nab_sigmoid(1.0), -0.986614298, 1e-8);
	CU_ASSERT_DOUBLE_EQUAL(nab_sigmoid(3.5), -1.0, EPS);
	CU_ASSERT(nab_sigmoid(-0.2) > nab_sigmoid(-0.1));
	CU_ASSERT_EQUAL(nab_probation(100), 15);
	CU_ASSERT_EQUAL(nab_probation(6), 0);
	CU_ASSERT_STRING_EQUAL(nab_profile_get(NAB_LOW_FN)->name, "reward_low_FN");
	CU_ASSERT_DOUBLE_EQUAL(nab_profile_get(NAB_LOW_FP)->a_fp, -0.22, EPS);
	CU_ASSERT_PTR_NULL(nab_profile_get(NAB_PROFILES));
}

/* 100 rows, 15 probationary, one window of 10 rows at 40..49. */
static const nab_window one[] = {{40, 49}};

static void score1(const size_t *rows, size_t k, nab_score *s)
{
	uint8_t det[100] = {0};
	for (size_t i = 0; i < k; i++)
		det[rows[i]] = 1;
	CU_ASSERT_EQUAL(nab_score_series(100, det, 15, one, 1, s), IOTAD_OK);
}

static void test_score_closed_form(void)
{
	nab_score s;
	double best = sig(-1.0);
	/* a perfect detection (the window's first row) scores 100 */
	score1((size_t[]){40}, 1, &s);
	CU_ASSERT_EQUAL(s.tp, 1);
	CU_ASSERT_EQUAL(s.windows, 1);
	for (int p = 0; p < NAB_PROFILES; p++) {
		CU_ASSERT_DOUBLE_EQUAL(s.raw[p], best, EPS);
		CU_ASSERT_DOUBLE_EQUAL(nab_normalized(&s, p), 100.0, EPS);
	}
	/* nothing detected: the null detector, 0; its raw is a_fn */
	score1(NULL, 0, &s);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_STANDARD], -1.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_LOW_FN], -2.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(nab_normalized(&s, NAB_STANDARD), 0.0, EPS);
	/* half way into the window (y = -5/10), then a second detection in it
	 * that counts nothing */
	score1((size_t[]){45, 47}, 2, &s);
	CU_ASSERT_EQUAL(s.tp, 1);
	CU_ASSERT_EQUAL(s.fp, 0);
	CU_ASSERT_EQUAL(s.detections, 2);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_STANDARD], sig(-0.5), EPS);
	CU_ASSERT_DOUBLE_EQUAL(nab_normalized(&s, NAB_STANDARD),
			       100.0 * (sig(-0.5) + 1.0) / (best + 1.0), 1e-7);
	/* the window's last row: y = -1/10 */
	score1((size_t[]){49}, 1, &s);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_STANDARD], sig(-0.1), EPS);
	/* a false positive before any window costs a_fn... a_fp in full, and
	 * the window is missed */
	score1((size_t[]){20}, 1, &s);
	CU_ASSERT_EQUAL(s.fp, 1);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_STANDARD], -0.11 - 1.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_LOW_FP], -0.22 - 1.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_LOW_FN], -0.11 - 2.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(nab_normalized(&s, NAB_STANDARD), 100.0 * -0.11 / (best + 1.0),
			       1e-7);
	/* after the window: weighted by the sigmoid of the distance, y = 6/10 */
	score1((size_t[]){40, 55}, 2, &s);
	CU_ASSERT_EQUAL(s.fp, 1);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_STANDARD], best + 0.11 * sig(0.6), EPS);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_LOW_FP], best + 0.22 * sig(0.6), EPS);
	/* far after it (y > 3): a full a_fp */
	score1((size_t[]){40, 90}, 2, &s);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_STANDARD], best - 0.11, EPS);
	/* a detection in the probationary period counts nothing */
	score1((size_t[]){10, 40}, 2, &s);
	CU_ASSERT_EQUAL(s.detections, 1);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_STANDARD], best, EPS);
}

static void test_score_windows(void)
{
	uint8_t det[100] = {0};
	nab_score s, total;
	memset(&total, 0, sizeof total);
	/* a window that starts in the probationary period is not scored, and
	 * a detection inside it is no false positive */
	const nab_window early[] = {{10, 19}, {60, 69}};
	det[12] = det[60] = 1;
	CU_ASSERT_EQUAL(nab_score_series(100, det, 15, early, 2, &s), IOTAD_OK);
	CU_ASSERT_EQUAL(s.windows, 1);
	CU_ASSERT_EQUAL(s.fp, 0);
	CU_ASSERT_DOUBLE_EQUAL(nab_normalized(&s, NAB_STANDARD), 100.0, EPS);
	nab_score_add(&total, &s);
	/* corpus: a second series with its one window missed gives 50 */
	memset(det, 0, sizeof det);
	CU_ASSERT_EQUAL(nab_score_series(100, det, 15, one, 1, &s), IOTAD_OK);
	nab_score_add(&total, &s);
	CU_ASSERT_EQUAL(total.windows, 2);
	CU_ASSERT_DOUBLE_EQUAL(nab_normalized(&total, NAB_STANDARD), 50.0, 1e-7);
	/* a false positive between two windows is weighed from the first */
	const nab_window two[] = {{20, 29}, {60, 69}};
	memset(det, 0, sizeof det);
	det[31] = 1;
	CU_ASSERT_EQUAL(nab_score_series(100, det, 15, two, 2, &s), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(s.raw[NAB_STANDARD], 0.11 * sig(0.2) - 2.0, EPS);
	/* bad windows */
	const nab_window overlap[] = {{20, 40}, {40, 50}}, back[] = {{30, 20}},
			 out[] = {{90, 100}};
	CU_ASSERT_EQUAL(nab_score_series(100, det, 15, overlap, 2, &s), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nab_score_series(100, det, 15, back, 1, &s), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nab_score_series(100, det, 15, out, 1, &s), IOTAD_ERR_INVAL);
	/* no window: no score */
	CU_ASSERT_EQUAL(nab_score_series(100, det, 15, NULL, 0, &s), IOTAD_OK);
	CU_ASSERT(isnan(nab_normalized(&s, NAB_STANDARD)));
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Read labels text; returns the error and leaves its message in err. */
static iotad_err read_labels(const char *dir, const char *text, nab_labels *l, char *err,
			     size_t errlen)
{
	char path[256];
	snprintf(path, sizeof path, "%s/labels.json", dir);
	CU_ASSERT_FATAL(write_file(path, text) == 0);
	iotad_err rc = nab_labels_read(path, l, err, errlen);
	unlink(path);
	return rc;
}

static void test_labels(void)
{
	char dir[] = "/tmp/iotad-nab-XXXXXX", err[512];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	nab_labels l;
	CU_ASSERT_EQUAL(read_labels(dir, "{\"a/x.csv\": [[\"2014-04-10 07:15:00.000000\", "
				    "\"2014-04-10 09:00:00.000000\"], [\"2014-04-01 00:00:00\", "
				    "\"2014-04-02 00:00:00\"]], \"b/y.csv\": []}", &l, err,
				    sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(l.n, 2);
	const nab_series_labels *a = nab_labels_find(&l, "a/x.csv");
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_EQUAL(a->n, 2);
	/* sorted by start; 2014-04-01 00:00:00 UTC is 1396310400 */
	CU_ASSERT_DOUBLE_EQUAL(a->start[0], 1396310400.0, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(a->end[1], 1396310400.0 + 9 * 86400 + 9 * 3600, 1e-6);
	CU_ASSERT_EQUAL(nab_labels_find(&l, "b/y.csv")->n, 0);
	CU_ASSERT_PTR_NULL(nab_labels_find(&l, "c.csv"));
	nab_labels_free(&l);
	static const struct {
		const char *text, *says;
		iotad_err rc;
	} bad[] = {
		{"[1, 2]", "not a JSON object", IOTAD_ERR_PARSE},
		{"{\"a.csv\": [[\"2014-04-10 07:15:00\"", "not a JSON object", IOTAD_ERR_PARSE},
		{"{\"a.csv\": 3}", "\"a.csv\": expected a list", IOTAD_ERR_PARSE},
		{"{\"a.csv\": [[\"2014-04-10 07:15:00\"]]}", "window 1 is not", IOTAD_ERR_PARSE},
		{"{\"a.csv\": [[\"2014-04-10\", \"yesterday\"]]}", "window 1 is not",
		 IOTAD_ERR_PARSE},
		{"{\"a.csv\": [[\"2014-04-10 07:15:00\", \"2014-04-10 07:10:00\"]]}",
		 "window 1 ends before it starts", IOTAD_ERR_PARSE},
		{"{\"a.csv\": [[\"2014-04-10 07:00:00\", \"2014-04-10 08:00:00\"], "
		 "[\"2014-04-10 07:30:00\", \"2014-04-10 09:00:00\"]]}", "overlap",
		 IOTAD_ERR_PARSE},
		{"{\"a.csv\": [], \"a.csv\": []}", "listed twice", IOTAD_ERR_PARSE},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(read_labels(dir, bad[i].text, &l, err, sizeof err), bad[i].rc);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].says));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "labels.json"));
		nab_labels_free(&l);
	}
	CU_ASSERT_EQUAL(nab_labels_read("/nonexistent/labels.json", &l, err, sizeof err),
			IOTAD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no such file"));
	nab_labels_free(&l);
	rmdir(dir);
}

/* ---- the nab layout of iotad eval ---- */

static int run_eval(char **argv, const char *errpath)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	fflush(stderr);
	int saved = dup(2), fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	int rc = cmd_eval(argc, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	return rc;
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

/* 2000 rows every 5 minutes from 2014-04-01: level 10 with a little
 * noise, a step of +20 from row from (none when from is 0). */
static void write_series(const char *path, size_t from)
{
	FILE *f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("timestamp,value\n", f);
	unsigned s = 7;
	for (size_t i = 0; i < 2000; i++) {
		s = s * 1103515245u + 12345u;
		double v = 10.0 + (double)((s >> 16) % 100) / 100.0 + (from && i >= from ? 20.0 : 0.0);
		long t = 1396310400L + 300L * (long)i;
		fprintf(f, "2014-04-%02ld %02ld:%02ld:00,%.3f\n", 1 + t / 86400 - 16161,
			(t % 86400) / 3600, (t % 3600) / 60, v);
	}
	fclose(f);
}

static void test_layout(void)
{
	char dir[] = "/tmp/iotad-nabl-XXXXXX", data[64], sub[80], a[96], b[96], labels[80],
	     out[80], errp[80];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(sub, sizeof sub, "%s/kind", data);
	CU_ASSERT_FATAL(mkdir(data, 0700) == 0 && mkdir(sub, 0700) == 0);
	snprintf(a, sizeof a, "%s/step.csv", sub);
	snprintf(b, sizeof b, "%s/calm.csv", sub);
	snprintf(labels, sizeof labels, "%s/windows.json", dir);
	snprintf(out, sizeof out, "%s/out.json", dir);
	snprintf(errp, sizeof errp, "%s/err.txt", dir);
	/* a step at row 1200 (2014-04-05 04:00), its window 1150..1249; the
	 * calm series has a window too, and nothing to find in it */
	write_series(a, 1200);
	write_series(b, 0);
	write_file(labels, "{\"kind/step.csv\": [[\"2014-04-04 23:50:00.000000\", "
		   "\"2014-04-05 08:05:00.000000\"]], \"kind/calm.csv\": [[\"2014-04-06 "
		   "00:00:00\", \"2014-04-06 08:15:00\"]]}");
	char *args[] = {"eval", "--layout", "nab", "--labels", labels, "--detector", "profile",
			"--json", "--no-time", "-q", "-o", out, data, NULL};
	CU_ASSERT_EQUAL_FATAL(run_eval(args, errp), 0);
	char *j = slurp(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"nab\": {\"total\": {\"windows\": 2, \"detected\": 1,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"file\": \"/tmp/"));
	/* the step raised on its window's first rows: near a perfect score for it */
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"raises\": 1,"));
	/* a row out of time order is left out, counted and named; the same scores */
	FILE *f = fopen(b, "a");
	fputs("2014-04-01 00:00:00,10\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(run_eval(args, errp), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(slurp(errp), "calm.csv: 1 row left out: timestamp not "
					       "after the row before (first at data row 2001)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(slurp(out), "\"nab\": {\"total\": {\"windows\": 2, "
					       "\"detected\": 1,"));
	/* a file without rows in time order */
	write_file(b, "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:00:00,2\n");
	CU_ASSERT_EQUAL(run_eval(args, errp), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(slurp(errp), "calm.csv: fewer than two rows in time order"));
	/* a value that is not a number */
	write_file(b, "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,x\n");
	CU_ASSERT_EQUAL(run_eval(args, errp), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(slurp(errp), "calm.csv"));
	/* a file the labels do not list */
	write_series(b, 0);
	write_file(labels, "{\"kind/step.csv\": []}");
	CU_ASSERT_EQUAL(run_eval(args, errp), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(slurp(errp), "calm.csv: no windows for this file"));
	/* a window outside its series */
	write_file(labels, "{\"kind/step.csv\": [], \"kind/calm.csv\": [[\"2015-01-01 00:00:00\", "
		   "\"2015-01-02 00:00:00\"]]}");
	CU_ASSERT_EQUAL(run_eval(args, errp), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(slurp(errp), "window 1 of kind/calm.csv holds no row"));
	/* usage: the layout needs its labels */
	char *nolabels[] = {"eval", "--layout", "nab", "-q", data, NULL};
	CU_ASSERT_EQUAL(run_eval(nolabels, errp), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(slurp(errp), "--labels"));
	unlink(a);
	unlink(b);
	unlink(labels);
	unlink(out);
	unlink(errp);
	rmdir(sub);
	rmdir(data);
	rmdir(dir);
}

void init_nab_tests(void)
{
	CU_pSuite s = CU_add_suite("nab", NULL, NULL);
	TEST_ADD(s, test_sigmoid);
	TEST_ADD(s, test_score_closed_form);
	TEST_ADD(s, test_score_windows);
	TEST_ADD(s, test_labels);
	TEST_ADD(s, test_layout);
}
