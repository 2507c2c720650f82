/* test_evmetrics.c - unit tests of the event scores on hand-made cases
 * whose recall, delays, false alarms per device-day and benign share are
 * known in closed form, and of the truth file's benign rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/cmd.h"
#include "iotad/evmetrics.h"
#include "iotad/truth.h"
#include "test.h"

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static const char hand_truth[] =
	"device,kind,start,end\n"
	"a-1,spike,100,110\n"
	"a-1,level_shift,1000,2000\n"
	"a-1,dropout,3000,3600\n"
	"a-1,benign_setpoint,5000,15800\n"
	"b-1,drift,2000,9000\n"
	"b-1,benign_recharge,20000,30800\n"
	"b-1,benign_front,25000,26000\n";

/* Rows every 10 s over a day for a-1 and b-1, interleaved; alert raised on
 * the given [from, to) spans of each. */
static void hand_rows(double **ts, uint32_t **grp, uint8_t **al, size_t *n)
{
	static const double spans[2][5][2] = {
		{{300, 350}, {1500, 1600}, {3700, 3800}, {6000, 11000}, {50000, 50010}},
		{{9100, 9200}, {21000, 22000}, {0, 0}, {0, 0}, {0, 0}},
	};
	size_t steps = 8640;
	*n = 2 * steps;
	*ts = malloc(*n * sizeof **ts);
	*grp = malloc(*n * sizeof **grp);
	*al = calloc(*n, 1);
	for (size_t k = 0; k < steps; k++) {
		for (uint32_t g = 0; g < 2; g++) {
			size_t i = 2 * k + g;
			double t = 10.0 * (double)k;
			(*ts)[i] = t;
			(*grp)[i] = g;
			for (int s = 0; s < 5; s++)
				if (t >= spans[g][s][0] && t < spans[g][s][1])
					(*al)[i] = 1;
		}
	}
}

static long kind_of(const truth *t, const char *name)
{
	for (size_t k = 0; k < t->n_kinds; k++)
		if (!strcmp(t->kinds[k], name))
			return (long)k;
	return -1;
}

static void test_evm_closed_form(void)
{
	char path[] = "/tmp/iotad-evm-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(write_file(path, hand_truth), 0);
	truth t;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(truth_read(path, &t, err, sizeof err), IOTAD_OK);
	unlink(path);
	CU_ASSERT_EQUAL(t.n, 4);
	CU_ASSERT_EQUAL(t.nb, 3);
	CU_ASSERT_TRUE(truth_kind_benign(&t, (uint32_t)kind_of(&t, "benign_front")));
	CU_ASSERT_FALSE(truth_kind_benign(&t, (uint32_t)kind_of(&t, "drift")));

	double *ts;
	uint32_t *grp;
	uint8_t *al;
	size_t n;
	hand_rows(&ts, &grp, &al, &n);
	char *names[] = {"a-1", "b-1"};
	evm_opts o;
	evm_opts_default(&o);
	evm_totals s;
	CU_ASSERT_EQUAL_FATAL(evm_totals_init(&s, &t), IOTAD_OK);
	CU_ASSERT_EQUAL(evm_add(&s, &t, &o, grp, names, 2, ts, al, NULL, n), IOTAD_OK);
	/* raises at 300 (spike, 200 s late), 1500 (level, 500 s), 3700 (within
	 * the dropout's grace: not false), 6000 (false, in the setpoint's
	 * window, alarmed 5000 s), 50000 (false); b-1: 9100 (after the drift,
	 * within its grace: not false, not caught), 21000 (false, in the
	 * recharge's window, 1000 s) */
	CU_ASSERT_EQUAL(s.raises, 7);
	CU_ASSERT_EQUAL(s.false_raises, 3);
	CU_ASSERT_EQUAL(s.false_in_benign, 2);
	CU_ASSERT_EQUAL(s.devices, 2);
	CU_ASSERT_DOUBLE_EQUAL(s.device_days, 2.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(evm_false_per_day(&s), 1.5, 1e-12);
	const evm_kind *sp = &s.kinds[kind_of(&t, "spike")];
	const evm_kind *lv = &s.kinds[kind_of(&t, "level_shift")];
	const evm_kind *dr = &s.kinds[kind_of(&t, "drift")];
	const evm_kind *dp = &s.kinds[kind_of(&t, "dropout")];
	CU_ASSERT(sp->events == 1 && sp->caught == 1);
	CU_ASSERT_DOUBLE_EQUAL(sp->delay_sum, 200.0, 1e-9);
	CU_ASSERT(lv->events == 1 && lv->caught == 1);
	CU_ASSERT_DOUBLE_EQUAL(lv->delay_sum, 500.0, 1e-9);
	CU_ASSERT(dr->events == 1 && dr->caught == 0);
	CU_ASSERT(dp->events == 1 && dp->caught == 0);
	CU_ASSERT_FALSE(evm_kind_scored(&t, &o, (uint32_t)kind_of(&t, "dropout")));
	CU_ASSERT_DOUBLE_EQUAL(evm_recall(&s, &t, &o), 2.0 / 3.0, 1e-12);
	/* setpoint alarmed 5000 s > 3600; recharge 1000 s; front none */
	CU_ASSERT_EQUAL(s.kinds[kind_of(&t, "benign_setpoint")].caught, 1);
	CU_ASSERT_EQUAL(s.kinds[kind_of(&t, "benign_recharge")].caught, 0);
	CU_ASSERT_DOUBLE_EQUAL(evm_benign_share(&s, &t), 1.0 / 3.0, 1e-12);
	CU_ASSERT_EQUAL(s.n_classes, 2);
	CU_ASSERT_STRING_EQUAL(s.classes[0].name, "a");
	CU_ASSERT_EQUAL(s.classes[0].false_raises, 2);
	CU_ASSERT_EQUAL(s.classes[1].false_raises, 1);
	/* a detector that sees dropouts is scored on them too */
	o.stale_seen = true;
	CU_ASSERT_DOUBLE_EQUAL(evm_recall(&s, &t, &o), 2.0 / 4.0, 1e-12);
	/* a second file adds up */
	o.stale_seen = false;
	CU_ASSERT_EQUAL(evm_add(&s, &t, &o, grp, names, 2, ts, al, NULL, n), IOTAD_OK);
	CU_ASSERT_EQUAL(s.false_raises, 6);
	CU_ASSERT_DOUBLE_EQUAL(evm_false_per_day(&s), 1.5, 1e-12);
	/* shorter grace: the raise at 300 is past max(110, 100 + 100) */
	evm_totals s2;
	o.grace = 100.0;
	CU_ASSERT_EQUAL_FATAL(evm_totals_init(&s2, &t), IOTAD_OK);
	CU_ASSERT_EQUAL(evm_add(&s2, &t, &o, grp, names, 2, ts, al, NULL, n), IOTAD_OK);
	CU_ASSERT_EQUAL(s2.kinds[kind_of(&t, "spike")].caught, 0);
	CU_ASSERT_EQUAL(s2.false_raises, 6); /* 300, 3700, 9100 now false too */
	CU_ASSERT_EQUAL(evm_add(&s2, &t, &o, grp, names, 0, ts, al, NULL, n), IOTAD_ERR_INVAL);
	evm_totals_free(&s2);
	evm_totals_free(&s);
	free(ts);
	free(grp);
	free(al);
	truth_free(&t);
}

/* A dropout is caught by a stale of its device inside [start, max(end,
 * start + grace)); a stale elsewhere catches nothing and is no false alarm. */
static void test_evm_stale(void)
{
	char path[] = "/tmp/iotad-evm-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(write_file(path, hand_truth), 0);
	truth t;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(truth_read(path, &t, err, sizeof err), IOTAD_OK);
	unlink(path);
	double *ts;
	uint32_t *grp;
	uint8_t *al;
	size_t n;
	hand_rows(&ts, &grp, &al, &n);
	double *stale = calloc(n, sizeof *stale);
	CU_ASSERT_FATAL(stale != NULL);
	char *names[] = {"a-1", "b-1"};
	evm_opts o;
	evm_opts_default(&o);
	o.stale_seen = true;
	long dk = kind_of(&t, "dropout");
	/* a stale of b-1 (no dropout there) and one of a-1 past the window */
	stale[2 * 500 + 1] = 4990.0;
	stale[2 * 400] = 3650.0;
	evm_totals s;
	CU_ASSERT_EQUAL_FATAL(evm_totals_init(&s, &t), IOTAD_OK);
	CU_ASSERT_EQUAL(evm_add(&s, &t, &o, grp, names, 2, ts, al, stale, n), IOTAD_OK);
	CU_ASSERT_EQUAL(s.kinds[dk].events, 1);
	CU_ASSERT_EQUAL(s.kinds[dk].caught, 0);
	CU_ASSERT_EQUAL(s.false_raises, 3); /* as without stales */
	evm_totals_free(&s);
	/* a-1 stale at 3290, seen on its row at 3600: caught, 290 s late */
	stale[2 * 360] = 3290.0;
	CU_ASSERT_EQUAL_FATAL(evm_totals_init(&s, &t), IOTAD_OK);
	CU_ASSERT_EQUAL(evm_add(&s, &t, &o, grp, names, 2, ts, al, stale, n), IOTAD_OK);
	CU_ASSERT_EQUAL(s.kinds[dk].caught, 1);
	CU_ASSERT_DOUBLE_EQUAL(s.kinds[dk].delay_sum, 290.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(evm_recall(&s, &t, &o), 3.0 / 4.0, 1e-12);
	/* not scored without stales: the same rows leave it out of the recall */
	o.stale_seen = false;
	CU_ASSERT_DOUBLE_EQUAL(evm_recall(&s, &t, &o), 2.0 / 3.0, 1e-12);
	evm_totals_free(&s);
	free(stale);
	free(ts);
	free(grp);
	free(al);
	truth_free(&t);
}

/* Benign rows may overlap anything; two anomalies of a device may not. */
static void test_evm_truth_overlaps(void)
{
	char path[] = "/tmp/iotad-evm-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	truth t;
	char err[256];
	CU_ASSERT_EQUAL(write_file(path, "device,kind,start,end\n"
					 "d,spike,10,20\nd,benign_front,0,100\nd,drift,30,40\n"),
			0);
	CU_ASSERT_EQUAL(truth_read(path, &t, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(t.n, 2);
	CU_ASSERT_EQUAL(t.nb, 1);
	truth_free(&t);
	CU_ASSERT_EQUAL(write_file(path, "device,kind,start,end\n"
					 "d,spike,10,20\nd,benign_front,0,100\nd,drift,15,40\n"),
			0);
	CU_ASSERT_EQUAL(truth_read(path, &t, err, sizeof err), IOTAD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "overlaps"));
	unlink(path);
}

static int call(char **argv)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	return !strcmp(argv[0], "sim") ? cmd_sim(argc, argv) : cmd_eval(argc, argv);
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static size_t count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c;
	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

/* `iotad sim --fleet` and `iotad eval --truth`: bad flags are usage errors;
 * a small fleet goes through eval with its event scores and predictions. */
static void test_evm_cli(void)
{
	char *bad[][10] = {
		{"sim", "--fleet", "--duration", "0", NULL},
		{"sim", "--fleet", "--device-kinds", "fridge", NULL},
		{"sim", "--fleet", "--device-kinds", "cold,", NULL},
		{"sim", "--fleet", "--mix", "random", NULL},
		{"sim", "--fleet", "--site-size", "0", NULL},
		{"sim", "--fleet", "--benign", "setpoint,rain", NULL},
		{"sim", "--fleet", "--benign-every", "-5", NULL},
		{"sim", "--benign", "setpoint", NULL},
		{"sim", "--kinds", "level_shift", NULL},
		{"sim", "--fleet", "--kinds", "benign_front", NULL},
		{"sim", "--fleet", "--replay", "x.csv", NULL},
		{"eval", "--layout", "sim", "--train-rows", "10", "--grace", "5", "x.csv", NULL},
		{"eval", "--layout", "sim", "--truth", "t.csv", "--grace", "-1", "x.csv", NULL},
		{"eval", "--layout", "sim", "--model", "m.json", "--train", "x.csv", "x.csv", NULL},
		{"eval", "--layout", "sim", "--model", "m.json", "--predictions", "", "x.csv", NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_EQUAL(call(bad[i]), 2);

	char dir[] = "/tmp/iotad-evm-cli-XXXXXX", csv[80], tr[80], out[80], pred[80];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(csv, sizeof csv, "%s/fleet.csv", dir);
	snprintf(tr, sizeof tr, "%s/truth.csv", dir);
	snprintf(out, sizeof out, "%s/report.json", dir);
	snprintf(pred, sizeof pred, "%s/pred.csv", dir);
	char *gen[] = {"sim", "--fleet", "--devices", "10", "--interval", "10", "--duration",
		       "43200", "--warmup", "7200", "--anomaly-every", "7200", "--benign-every",
		       "14400", "--start-ts", "1700000000", "--seed", "3", "--csv", csv, "--truth",
		       tr, "--quiet", NULL};
	CU_ASSERT_EQUAL_FATAL(call(gen), 0);
	CU_ASSERT(strncmp(slurp(csv), "ts,device,temperature,humidity,battery,label\n", 44) == 0);
	CU_ASSERT(strstr(slurp(csv), ",office-000,") != NULL);
	CU_ASSERT(strstr(slurp(tr), ",benign_recharge,") != NULL);
	size_t rows = count_lines(csv) - 1;
	char *ev[] = {"eval", "--layout", "sim", "--detector", "zscore", "--train-rows", "5000",
		      "--truth", tr, "--json", "--no-time", "-q", "--predictions", pred, "-o", out,
		      csv, NULL};
	CU_ASSERT_EQUAL_FATAL(call(ev), 0);
	char *j = slurp(out);
	CU_ASSERT(strstr(j, "\"events\": {\"grace_s\": 300,") != NULL);
	CU_ASSERT(strstr(j, "\"false_per_device_day\": ") != NULL);
	CU_ASSERT(strstr(j, "{\"kind\": \"dropout\", \"class\": \"anomaly\", \"events\": ") !=
		  NULL);
	CU_ASSERT(strstr(j, "\"detectable\": false") != NULL);
	CU_ASSERT(strstr(j, "\"class\": \"benign\"") != NULL);
	CU_ASSERT(strstr(j, "{\"class\": \"cold\", \"devices\": 2,") != NULL);
	CU_ASSERT(count_lines(pred) == 1 + rows - 5000);
	CU_ASSERT(strncmp(slurp(pred), "file,device,ts,score,threshold,anomalous,alert\n", 47) == 0);
	/* a model file of `iotad train`: every row scored; its features must be columns */
	char model[96];
	snprintf(model, sizeof model, "%s/model.json", dir);
	char *tr_args[] = {"train", "--csv", csv, "--features", "temperature,humidity,battery",
			   "--group", "device", "--window", "5", "--epochs", "1", "-o", model, NULL};
	int argc = 0;
	while (tr_args[argc])
		argc++;
	CU_ASSERT_EQUAL_FATAL(cmd_train(argc, tr_args), 0);
	char *ev_model[] = {"eval", "--layout", "sim", "--model", model, "--truth", tr, "--json",
			    "--no-time", "-q", "--predictions", pred, "-o", out, csv, NULL};
	CU_ASSERT_EQUAL(call(ev_model), 0);
	CU_ASSERT(count_lines(pred) == 1 + rows);
	CU_ASSERT(strstr(slurp(out), "\"events\": {") != NULL);
	char *ev_missing[] = {"eval", "--layout", "sim", "--model", model, "--features",
			      "temperature,humidity", "-q", "-o", out, csv, NULL};
	CU_ASSERT_EQUAL(call(ev_missing), 1);
	unlink(model);
	unlink(pred);
	unlink(out);
	unlink(csv);
	unlink(tr);
	rmdir(dir);
}

void init_evmetrics_tests(void)
{
	CU_pSuite s = CU_add_suite("evmetrics", NULL, NULL);
	TEST_ADD(s, test_evm_closed_form);
	TEST_ADD(s, test_evm_stale);
	TEST_ADD(s, test_evm_truth_overlaps);
	TEST_ADD(s, test_evm_cli);
}
