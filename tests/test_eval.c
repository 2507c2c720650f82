/* test_eval.c - unit tests of eval: confusion rates, ROC-AUC and PR-AUC
 * against hand-computed and closed-form values, detection delay, and the
 * replay of a synthetic series with an injected spike. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "iotad/cmd.h"
#include "iotad/eval.h"
#include "test.h"
#include "test_rng.h"

#define EPS 1e-12

static void test_rates_hand(void)
{
	/* truth 1 1 1 0 0 0 0 1, pred 1 0 1 1 0 0 0 0: TP 2 FN 2 FP 1 TN 3 */
	static const uint8_t y[] = {1, 1, 1, 0, 0, 0, 0, 1}, p[] = {1, 0, 1, 1, 0, 0, 0, 0};
	eval_counts c = {0};
	eval_rates r;
	for (int i = 0; i < 8; i++)
		eval_count(&c, y[i], p[i]);
	CU_ASSERT_EQUAL(c.tp, 2);
	CU_ASSERT_EQUAL(c.fn, 2);
	CU_ASSERT_EQUAL(c.fp, 1);
	CU_ASSERT_EQUAL(c.tn, 3);
	eval_rates_from(&c, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.precision, 2.0 / 3.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.recall, 0.5, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.f1, 4.0 / 7.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.far, 0.25, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.mar, 0.5, EPS);

	eval_counts sum = {1, 1, 1, 1};
	eval_counts_merge(&sum, &c);
	CU_ASSERT_EQUAL(sum.tp, 3);
	CU_ASSERT_EQUAL(sum.tn, 4);
}

static void test_rates_empty(void)
{
	eval_counts c = {0, 0, 0, 5}; /* only true negatives */
	eval_rates r;
	eval_rates_from(&c, &r);
	CU_ASSERT(isnan(r.precision));
	CU_ASSERT(isnan(r.recall));
	CU_ASSERT(isnan(r.f1));
	CU_ASSERT(isnan(r.mar));
	CU_ASSERT_DOUBLE_EQUAL(r.far, 0.0, EPS);
	/* everything predicted anomalous: F1 = 2P / (2P + N) as SKAB notes */
	eval_counts all = {12771, 11030, 0, 0};
	eval_rates_from(&all, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.f1, 2.0 * 12771 / (2.0 * 12771 + 11030), EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.far, 1.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.mar, 0.0, EPS);
}

static void test_auc_closed_form(void)
{
	static const float s[] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
	static const uint8_t sep[] = {0, 0, 0, 1, 1, 1}, rev[] = {1, 1, 1, 0, 0, 0};
	static const float tie[] = {1, 1, 1, 1, 1, 1};
	double a;
	CU_ASSERT_EQUAL(eval_roc_auc(s, sep, 6, &a), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(a, 1.0, EPS);
	CU_ASSERT_EQUAL(eval_pr_auc(s, sep, 6, &a), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(a, 1.0, EPS);
	CU_ASSERT_EQUAL(eval_roc_auc(s, rev, 6, &a), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(a, 0.0, EPS);
	/* reversed: positives found at ranks 4, 5, 6: AP = (1/4 + 2/5 + 3/6) / 3 */
	CU_ASSERT_EQUAL(eval_pr_auc(s, rev, 6, &a), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(a, (0.25 + 0.4 + 0.5) / 3.0, EPS);
	/* all tied: ROC 0.5, AP = the positive share */
	CU_ASSERT_EQUAL(eval_roc_auc(tie, sep, 6, &a), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(a, 0.5, EPS);
	CU_ASSERT_EQUAL(eval_pr_auc(tie, sep, 6, &a), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(a, 0.5, EPS);
}

static void test_auc_hand(void)
{
	/* 0.9(+) 0.8(-) 0.7(+) 0.1(-): 3 of 4 pairs ordered; AP = 1/2 + 1/2 * 2/3 */
	static const float s[] = {0.7f, 0.1f, 0.9f, 0.8f};
	static const uint8_t y[] = {1, 0, 1, 0};
	double a;
	CU_ASSERT_EQUAL(eval_roc_auc(s, y, 4, &a), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(a, 0.75, EPS);
	CU_ASSERT_EQUAL(eval_pr_auc(s, y, 4, &a), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(a, 0.5 + 0.5 * 2.0 / 3.0, EPS);
	/* one tie across classes: + at 0.5 ties - at 0.5, + at 0.9, - at 0.1:
	 * pairs (0.9,0.5) 1, (0.9,0.1) 1, (0.5,0.5) 1/2, (0.5,0.1) 1 -> 3.5/4 */
	static const float t[] = {0.5f, 0.5f, 0.9f, 0.1f};
	static const uint8_t ty[] = {1, 0, 1, 0};
	CU_ASSERT_EQUAL(eval_roc_auc(t, ty, 4, &a), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(a, 0.875, EPS);
	/* -inf (no window yet) ranks lowest */
	static const float u[] = {-INFINITY, 0.2f, 0.3f};
	static const uint8_t uy[] = {0, 0, 1};
	CU_ASSERT_EQUAL(eval_roc_auc(u, uy, 3, &a), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(a, 1.0, EPS);
	/* one class only: undefined */
	static const uint8_t none[] = {0, 0, 0, 0};
	CU_ASSERT_EQUAL(eval_roc_auc(s, none, 4, &a), IOTAD_ERR_INVAL);
	CU_ASSERT(isnan(a));
	CU_ASSERT_EQUAL(eval_pr_auc(s, none, 4, &a), IOTAD_ERR_INVAL);
}

static void test_delay(void)
{
	/* segments at rows 2..4 (alarm from row 3: delay 1) and 6..7 (missed) */
	static const uint8_t y[] = {0, 0, 1, 1, 1, 0, 1, 1, 0};
	static const uint8_t p[] = {0, 0, 0, 1, 1, 0, 0, 0, 0};
	eval_delays d = {0};
	eval_delay_state st = {0};
	for (int i = 0; i < 9; i++)
		eval_delay_step(&st, &d, y[i], p[i]);
	CU_ASSERT_EQUAL(d.segments, 2);
	CU_ASSERT_EQUAL(d.detected, 1);
	CU_ASSERT_DOUBLE_EQUAL(eval_delay_mean(&d), 1.0, EPS);
	/* an alarm already up when the segment starts: delay 0; a segment
	 * running to the end of the series still counts */
	static const uint8_t y2[] = {0, 1, 1, 0, 1, 1, 1};
	static const uint8_t p2[] = {1, 1, 0, 0, 0, 0, 1};
	eval_delay_state st2 = {0};
	for (int i = 0; i < 7; i++)
		eval_delay_step(&st2, &d, y2[i], p2[i]);
	CU_ASSERT_EQUAL(d.segments, 4);
	CU_ASSERT_EQUAL(d.detected, 3);
	CU_ASSERT_DOUBLE_EQUAL(eval_delay_mean(&d), (1.0 + 0.0 + 2.0) / 3.0, EPS);
	eval_delays none = {0};
	CU_ASSERT(isnan(eval_delay_mean(&none)));
}

#define SYN_ROWS 1400
#define SYN_TRAIN 800
#define SPIKE_AT 1100
#define SPIKE_LEN 20

/* Two correlated channels, a slow sine (a period of 630 rows) and noise;
 * rows SPIKE_AT.. of channel 0 jump by 2 units (20 noise deviations). */
static void synth(float *rows, uint8_t *label)
{
	uint64_t rs = 7;
	for (int i = 0; i < SYN_ROWS; i++) {
		double base = 0.5 * sin(i * 0.01);
		rows[2 * i] = (float)(base + 0.1 * trng_normal(&rs));
		rows[2 * i + 1] = (float)(0.5 * base + 2.0 + 0.1 * trng_normal(&rs));
		label[i] = i >= SPIKE_AT && i < SPIKE_AT + SPIKE_LEN;
		if (label[i])
			rows[2 * i] += 2.0f;
	}
}

static void run_spike_thr(eval_detector kind, thr_kind thr, eval_result *res)
{
	static float rows[SYN_ROWS * 2];
	static uint8_t label[SYN_ROWS];
	char err[256] = "";
	eval_opts o;
	eval_scorer *s = NULL;
	synth(rows, label);
	eval_opts_default(&o);
	o.det.prof.channels = 0; /* the autoencoder (or baseline) alone */
	o.kind = kind;
	o.train.window = 4;
	o.train.hidden[0] = 6;
	o.train.hidden[1] = 3;
	o.train.hidden[2] = 6;
	o.train.epochs = 40;
	o.train.norm = NORM_ZSCORE;
	o.det.alert.k = 2;
	o.det.alert.n = 3;
	o.det.alert.m = 3;
	o.det.thr.kind = thr;
	o.det.thr.init_quantile = 0.9f; /* 160 held-out rows: 16 peaks */
	CU_ASSERT_EQUAL_FATAL(eval_fit(&o, rows, SYN_TRAIN, 2, NULL, 0, &s, err, sizeof err),
			      IOTAD_OK);
	eval_data d = {rows, SYN_ROWS, 2, NULL, 0, label, SYN_TRAIN, NULL};
	memset(res, 0, sizeof *res);
	CU_ASSERT_EQUAL(eval_replay(s, &d, res, err, sizeof err), IOTAD_OK);
	eval_scorer_destroy(s);
}

static void run_spike(eval_detector kind, eval_result *res)
{
	run_spike_thr(kind, THR_ADAPTIVE, res);
}

static void check_spike_thr(eval_detector kind, thr_kind thr)
{
	eval_result r;
	run_spike_thr(kind, thr, &r);
	CU_ASSERT_EQUAL_FATAL(r.n, SYN_ROWS - SYN_TRAIN);
	CU_ASSERT_EQUAL(r.d_alert.segments, 1);
	CU_ASSERT_EQUAL(r.d_alert.detected, 1);
	/* k = 2 of n = 3: raised on the second anomalous window at the earliest */
	CU_ASSERT(eval_delay_mean(&r.d_alert) >= 1.0 && eval_delay_mean(&r.d_alert) <= 3.0);
	CU_ASSERT_EQUAL(r.d_raw.detected, 1);
	CU_ASSERT(eval_delay_mean(&r.d_raw) <= 1.0);
	/* few false alarms on 580 normal rows; clear within a window + m after */
	CU_ASSERT(r.c_alert.fp <= 20);
	CU_ASSERT(r.c_alert.tp >= SPIKE_LEN - 3);
	/* cleared once the window has left the spike and m normal ones passed */
	CU_ASSERT_EQUAL(r.alert[SPIKE_AT + SPIKE_LEN + 15 - SYN_TRAIN], 0);
	double auc;
	CU_ASSERT_EQUAL(eval_roc_auc(r.score, r.label, r.n, &auc), IOTAD_OK);
	CU_ASSERT(auc > 0.98);
	/* warm rows fill the window: every counted row is scored */
	for (size_t i = 0; i < r.n; i++)
		CU_ASSERT_FATAL(isfinite(r.score[i]));
	eval_result_free(&r);
}

static void check_spike(eval_detector kind)
{
	check_spike_thr(kind, THR_ADAPTIVE);
}

/* The baselines' scores through SPOT, fitted on their calibration scores. */
static void test_spike_spot(void)
{
	check_spike_thr(EVAL_ZSCORE, THR_SPOT);
	check_spike_thr(EVAL_PCA, THR_DSPOT);
}

static void test_spike_ae(void)
{
	check_spike(EVAL_AE);
}

static void test_spike_zscore(void)
{
	check_spike(EVAL_ZSCORE);
}

static void test_spike_pca(void)
{
	check_spike(EVAL_PCA);
}

/* Zero-config: no training, the profile channels judge every row after
 * learning from the 800 history rows (a period and more of the sine). */
static void test_spike_profile(void)
{
	static float rows[SYN_ROWS * 2];
	static uint8_t label[SYN_ROWS];
	char err[256] = "";
	char *names[2] = {"a", "b"};
	eval_opts o;
	eval_scorer *s = NULL;
	eval_result r;
	synth(rows, label);
	eval_opts_default(&o);
	o.kind = EVAL_PROFILE;
	o.det.prof.learn = 700;
	/* rows are the time here: one row of quiet, not zero-config's ten minutes */
	o.det.alert.quiet = 1.0;
	o.names = names;
	CU_ASSERT_EQUAL_FATAL(eval_fit(&o, rows, SYN_TRAIN, 2, NULL, 0, &s, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_PTR_NULL(eval_scorer_model(s));
	CU_ASSERT_EQUAL(eval_scorer_threshold(s), 1.0f);
	eval_data d = {rows, SYN_ROWS, 2, NULL, 0, label, SYN_TRAIN, NULL};
	memset(&r, 0, sizeof r);
	CU_ASSERT_EQUAL_FATAL(eval_replay(s, &d, &r, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(r.n, SYN_ROWS - SYN_TRAIN);
	CU_ASSERT_EQUAL(r.d_alert.detected, 1);
	CU_ASSERT(eval_delay_mean(&r.d_alert) <= 1.0); /* the jump raises alone */
	CU_ASSERT(r.c_alert.tp >= SPIKE_LEN - 3);      /* the level holds it */
	CU_ASSERT(r.c_alert.fp <= 10);
	eval_result_free(&r);
	eval_scorer_destroy(s);
	/* a profile without channels is refused with the field named */
	o.det.prof.channels = 0;
	CU_ASSERT_EQUAL(eval_fit(&o, rows, SYN_TRAIN, 2, NULL, 0, &s, err, sizeof err),
			IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "channel"));
}

static void test_deterministic(void)
{
	eval_result a, b;
	run_spike(EVAL_AE, &a);
	run_spike(EVAL_AE, &b);
	CU_ASSERT_EQUAL_FATAL(a.n, b.n);
	CU_ASSERT(memcmp(a.score, b.score, a.n * sizeof *a.score) == 0);
	CU_ASSERT(memcmp(a.alert, b.alert, a.n) == 0);
	CU_ASSERT(memcmp(&a.c_alert, &b.c_alert, sizeof a.c_alert) == 0);
	eval_result_free(&a);
	eval_result_free(&b);
}

static void test_cold_start_and_groups(void)
{
	/* Two interleaved series without history: the first window-1 rows of
	 * each are unscored (-inf, predicted normal). */
	static float rows[SYN_ROWS * 2];
	static uint8_t label[SYN_ROWS];
	static uint32_t group[SYN_ROWS];
	char err[256];
	eval_opts o;
	eval_scorer *s = NULL;
	synth(rows, label);
	eval_opts_default(&o);
	o.train.window = 5;
	o.train.epochs = 2;
	CU_ASSERT_EQUAL_FATAL(eval_fit(&o, rows, SYN_TRAIN, 2, NULL, 0, &s, err, sizeof err),
			      IOTAD_OK);
	for (int i = 0; i < SYN_ROWS; i++)
		group[i] = (uint32_t)(i & 1);
	eval_data d = {rows, SYN_ROWS, 2, group, 2, label, 0, NULL};
	eval_result r;
	memset(&r, 0, sizeof r);
	CU_ASSERT_EQUAL_FATAL(eval_replay(s, &d, &r, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(r.n, SYN_ROWS);
	for (int i = 0; i < 8; i++) {
		CU_ASSERT(isinf(r.score[i]) && r.score[i] < 0);
		CU_ASSERT_EQUAL(r.alert[i], 0);
	}
	CU_ASSERT(isfinite(r.score[8]) && isfinite(r.score[9]));
	CU_ASSERT_EQUAL(r.n_scored, SYN_ROWS - 8);
	/* appending doubles the counts */
	eval_result t;
	memset(&t, 0, sizeof t);
	CU_ASSERT_EQUAL(eval_result_append(&t, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(eval_result_append(&t, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(t.n, 2 * r.n);
	CU_ASSERT_EQUAL(t.c_alert.tn, 2 * r.c_alert.tn);
	CU_ASSERT_EQUAL(t.d_alert.segments, 2 * r.d_alert.segments);
	CU_ASSERT(memcmp(t.score + r.n, r.score, r.n * sizeof *r.score) == 0);
	/* a series id out of range is refused */
	group[5] = 2;
	eval_result bad;
	CU_ASSERT_EQUAL(eval_replay(s, &d, &bad, err, sizeof err), IOTAD_ERR_INVAL);
	eval_result_free(&t);
	eval_result_free(&r);
	eval_scorer_destroy(s);
}

static void test_detector_names(void)
{
	eval_detector k = EVAL_AE;
	CU_ASSERT_EQUAL(eval_detector_parse("pca", &k), 0);
	CU_ASSERT_EQUAL(k, EVAL_PCA);
	CU_ASSERT_EQUAL(eval_detector_parse("zscore", &k), 0);
	CU_ASSERT_EQUAL(k, EVAL_ZSCORE);
	CU_ASSERT_EQUAL(eval_detector_parse("lstm", &k), -1);
	CU_ASSERT_EQUAL(eval_detector_parse("profile", &k), 0);
	CU_ASSERT_EQUAL(k, EVAL_PROFILE);
	CU_ASSERT_STRING_EQUAL(eval_detector_name(EVAL_AE), "ae");
}

static int run_cmd(char **argv)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	return cmd_eval(argc, argv);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[2][1 << 16];
	static int which;
	char *b = buf[which ^= 1];
	size_t n = f ? fread(b, 1, sizeof buf[0] - 1, f) : 0;
	b[n] = '\0';
	if (f)
		fclose(f);
	return b;
}

/* The command on a generic CSV with the spike: JSON counts match the
 * replay, a rerun writes the same bytes, usage errors exit 2. */
static void test_cli(void)
{
	static float rows[SYN_ROWS * 2];
	static uint8_t label[SYN_ROWS];
	char dir[] = "/tmp/iotad-eval-XXXXXX", csv[64], out1[64], out2[64], plots[64];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(csv, sizeof csv, "%s/spike.csv", dir);
	snprintf(out1, sizeof out1, "%s/a.json", dir);
	snprintf(out2, sizeof out2, "%s/b.json", dir);
	snprintf(plots, sizeof plots, "%s/plots", dir);
	synth(rows, label);
	FILE *f = fopen(csv, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("t;a;b;label\n", f);
	for (int i = 0; i < SYN_ROWS; i++)
		fprintf(f, "%d;%.6f;%.6f;%d\n", i, (double)rows[2 * i], (double)rows[2 * i + 1],
			label[i]);
	fclose(f);
	char *args[] = {"eval", "--sep", ";", "--skip", "t", "--train-rows", "800",
			"--detector", "pca", "--k", "2", "--n", "3", "--m", "3", "--json",
			"--no-time", "-q", "-o", out1, "--plot", plots, csv, NULL};
	CU_ASSERT_EQUAL_FATAL(run_cmd(args), 0);
	args[19] = out2;
	CU_ASSERT_EQUAL_FATAL(run_cmd(args), 0);
	char *a = slurp(out1), *b = slurp(out2);
	CU_ASSERT(strlen(a) > 100);
	CU_ASSERT_STRING_EQUAL(a, b);
	CU_ASSERT(strstr(a, "\"rows\": 600, \"anomalous\": 20,") != NULL);
	CU_ASSERT(strstr(a, "\"segments\": 1, \"detected\": 1,") != NULL);
	CU_ASSERT(strstr(a, "us_per_window") == NULL);
	/* the pictures exist and are SVG */
	char pic[128];
	snprintf(pic, sizeof pic, "%s/total-roc.svg", plots);
	CU_ASSERT(strncmp(slurp(pic), "<svg", 4) == 0);
	unlink(pic);
	snprintf(pic, sizeof pic, "%s/total-hist.svg", plots);
	CU_ASSERT(strncmp(slurp(pic), "<svg", 4) == 0);
	unlink(pic);
	/* named after the last two path components, made file-safe */
	char spic[160];
	snprintf(spic, sizeof spic, "%s/%s_spike.csv-score.svg", plots, strrchr(dir, '/') + 1);
	CU_ASSERT(strncmp(slurp(spic), "<svg", 4) == 0);
	unlink(spic);
	rmdir(plots);

	char *bad1[] = {"eval", "--window", "0", csv, NULL};
	CU_ASSERT_EQUAL(run_cmd(bad1), 2);
	char *bad2[] = {"eval", csv, NULL}; /* generic needs a training source */
	CU_ASSERT_EQUAL(run_cmd(bad2), 2);
	char *bad3[] = {"eval", "--sep", ";", "--train-rows", "2000", "-q", csv, NULL};
	CU_ASSERT_EQUAL(run_cmd(bad3), 1);
	unlink(out1);
	unlink(out2);
	unlink(csv);
	rmdir(dir);
}

/* --drift-max: a third column that ramps up is left out, and the scores are
 * those of the detector fitted on the two other columns alone. */
static void test_drift(void)
{
	static float rows[SYN_ROWS * 2], three[SYN_ROWS * 3];
	static uint8_t label[SYN_ROWS];
	synth(rows, label);
	uint64_t rs = 9;
	for (int i = 0; i < SYN_ROWS; i++) {
		three[3 * i] = rows[2 * i];
		three[3 * i + 1] = rows[2 * i + 1];
		three[3 * i + 2] = (float)(0.01 * i + 0.1 * trng_normal(&rs));
	}
	static const eval_detector kinds[] = {EVAL_AE, EVAL_ZSCORE, EVAL_PCA};
	for (int k = 0; k < 3; k++) {
		char err[256] = "";
		eval_opts o;
		eval_opts_default(&o);
		o.kind = kinds[k];
		o.train.window = 4;
		o.train.epochs = 5;
		o.train.hidden_auto = 1;
		/* the sines (a period of 630 rows) score about 13, the ramp hundreds */
		o.train.drift_max = 100.0f;
		eval_scorer *s3 = NULL, *s2 = NULL;
		CU_ASSERT_EQUAL_FATAL(eval_fit(&o, three, SYN_TRAIN, 3, NULL, 0, &s3, err,
					       sizeof err), IOTAD_OK);
		const int *keep;
		const float *drift;
		CU_ASSERT_EQUAL(eval_scorer_columns(s3, &keep, &drift), 2);
		CU_ASSERT(keep[0] == 0 && keep[1] == 1);
		CU_ASSERT(drift[0] > 5.0f && drift[0] < 100.0f && drift[2] > 100.0f);
		o.train.drift_max = 0.0f;
		CU_ASSERT_EQUAL_FATAL(eval_fit(&o, rows, SYN_TRAIN, 2, NULL, 0, &s2, err,
					       sizeof err), IOTAD_OK);
		eval_data d3 = {three, SYN_ROWS, 3, NULL, 0, label, SYN_TRAIN, NULL};
		eval_data d2 = {rows, SYN_ROWS, 2, NULL, 0, label, SYN_TRAIN, NULL};
		eval_result r3, r2;
		memset(&r3, 0, sizeof r3);
		memset(&r2, 0, sizeof r2);
		CU_ASSERT_EQUAL_FATAL(eval_replay(s3, &d3, &r3, err, sizeof err), IOTAD_OK);
		CU_ASSERT_EQUAL_FATAL(eval_replay(s2, &d2, &r2, err, sizeof err), IOTAD_OK);
		CU_ASSERT_EQUAL_FATAL(r3.n, r2.n);
		CU_ASSERT(memcmp(r3.score, r2.score, r3.n * sizeof *r3.score) == 0);
		CU_ASSERT(memcmp(&r3.c_alert, &r2.c_alert, sizeof r3.c_alert) == 0);
		/* rows of another width are refused */
		CU_ASSERT_EQUAL(eval_replay(s3, &d2, &r2, err, sizeof err), IOTAD_ERR_INVAL);
		eval_result_free(&r3);
		eval_result_free(&r2);
		eval_scorer_destroy(s3);
		eval_scorer_destroy(s2);
	}

	/* the command names what it left out */
	char dir[] = "/tmp/iotad-drift-XXXXXX", csv[64], out[64];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(csv, sizeof csv, "%s/warm.csv", dir);
	snprintf(out, sizeof out, "%s/r.json", dir);
	FILE *f = fopen(csv, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("a,b,warm,label\n", f);
	for (int i = 0; i < SYN_ROWS; i++)
		fprintf(f, "%.6f,%.6f,%.6f,%d\n", (double)three[3 * i], (double)three[3 * i + 1],
			(double)three[3 * i + 2], label[i]);
	fclose(f);
	char *args[] = {"eval", "--train-rows", "800", "--detector", "zscore", "--drift-max",
			"100", "--json", "--no-time", "-q", "-o", out, csv, NULL};
	CU_ASSERT_EQUAL_FATAL(run_cmd(args), 0);
	char *j = slurp(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"left_out\": [\"warm\"]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"drift_max\": 100"));
	char *bad[] = {"eval", "--train-rows", "800", "--drift-max", "-1", csv, NULL};
	CU_ASSERT_EQUAL(run_cmd(bad), 2);
	unlink(out);
	unlink(csv);
	rmdir(dir);
}

void init_eval_tests(void)
{
	CU_pSuite s = CU_add_suite("eval", NULL, NULL);
	TEST_ADD(s, test_rates_hand);
	TEST_ADD(s, test_rates_empty);
	TEST_ADD(s, test_auc_closed_form);
	TEST_ADD(s, test_auc_hand);
	TEST_ADD(s, test_delay);
	TEST_ADD(s, test_detector_names);
	TEST_ADD(s, test_spike_ae);
	TEST_ADD(s, test_spike_zscore);
	TEST_ADD(s, test_spike_pca);
	TEST_ADD(s, test_spike_profile);
	TEST_ADD(s, test_spike_spot);
	TEST_ADD(s, test_deterministic);
	TEST_ADD(s, test_cold_start_and_groups);
	TEST_ADD(s, test_cli);
	TEST_ADD(s, test_drift);
}
