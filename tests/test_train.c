/* test_train.c - unit tests of train and `iotad train`: on a seeded
 * synthetic signal training lowers the loss, is bit-for-bit deterministic,
 * calibrates the threshold as the percentile of the held-out scores, keeps
 * the false-alarm rate on fresh normal data near 1 - p/100 and flags a spike. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/cmd.h"
#include "iotad/csv.h"
#include "iotad/model_io.h"
#include "iotad/train.h"
#include "test.h"

#define NF 2

/* Test-local generator (independent of the one in train.c). */
static uint64_t rng_state;

static double rng_unit(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) * 0x1.0p-53;
}

static double rng_gauss(void)
{
	double u = rng_unit(), v = rng_unit();
	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* n rows of two noisy periodic sensors starting at time t0. */
static float *make_signal(size_t n, size_t t0, uint64_t seed)
{
	float *r = malloc(n * NF * sizeof *r);
	CU_ASSERT_FATAL(r != NULL);
	rng_state = seed;
	for (size_t i = 0; i < n; i++) {
		double t = (double)(t0 + i);
		r[i * NF] = (float)(20.0 + 5.0 * sin(2.0 * M_PI * t / 50.0) + 0.1 * rng_gauss());
		r[i * NF + 1] = (float)(60.0 + 8.0 * cos(2.0 * M_PI * t / 50.0) +
					3.0 * sin(2.0 * M_PI * t / 17.0) + 0.2 * rng_gauss());
	}
	return r;
}

static void small_opts(train_opts *o)
{
	train_opts_default(o);
	o->window = 8;
	o->epochs = 25;
}

/* Mean score of all windows of rows under m's normalization and network net. */
static double mean_score(const model *m, const nn *net, const float *rows, size_t n)
{
	float *x = malloc(n * NF * sizeof *x);
	float *scratch = malloc(nn_scratch_floats(net) * sizeof *scratch);
	CU_ASSERT_FATAL(x && scratch);
	for (size_t i = 0; i < n; i++)
		model_normalize(m, rows + i * NF, x + i * NF);
	double sum = 0.0;
	size_t nw = n - (size_t)m->window + 1;
	for (size_t i = 0; i < nw; i++)
		sum += nn_forward(net, x + i * NF, scratch, NULL);
	free(x);
	free(scratch);
	return sum / (double)nw;
}

static void test_defaults(void)
{
	train_opts o;
	train_opts_default(&o);
	CU_ASSERT_EQUAL(o.window, 10);
	CU_ASSERT_EQUAL(o.stride, 1);
	CU_ASSERT_EQUAL(o.n_hidden, 3);
	CU_ASSERT_EQUAL(o.hidden[0], 12);
	CU_ASSERT_EQUAL(o.hidden[1], 6);
	CU_ASSERT_EQUAL(o.hidden[2], 12);
	CU_ASSERT_EQUAL(o.norm, NORM_MINMAX);
	CU_ASSERT_EQUAL(o.epochs, 30);
	CU_ASSERT_EQUAL(o.batch, 32);
	CU_ASSERT_EQUAL(o.lr, 1e-3f);
	CU_ASSERT_EQUAL(o.seed, 42);
	CU_ASSERT_EQUAL(o.percentile, 99.0f);
	CU_ASSERT_EQUAL(o.holdout, 0.2f);
}

static void test_fit_and_calibrate(void)
{
	/* The two sensors repeat every 850 samples: 10000 rows give a hold-out
	 * of about two full periods, so its percentile represents normal data. */
	const size_t n = 10000;
	float *rows = make_signal(n, 0, 7);
	train_opts o;
	train_opts_default(&o);
	o.window = 8;
	model m;
	memset(&m, 0, sizeof m);
	train_report rep;
	char err[256] = "";
	iotad_err rc = train_model_report(rows, n, NF, &o, &m, &rep, err, sizeof err);
	if (rc)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, IOTAD_OK);

	/* Shape: D -> 12 -> 6 -> 12 -> D, ReLU then sigmoid for minmax. */
	CU_ASSERT_EQUAL(m.net.n_layers, 4);
	CU_ASSERT_EQUAL(m.net.sizes[0], 16);
	CU_ASSERT_EQUAL(m.net.sizes[2], 6);
	CU_ASSERT_EQUAL(m.net.sizes[4], 16);
	CU_ASSERT_EQUAL(m.net.act[0], NN_RELU);
	CU_ASSERT_EQUAL(m.net.act[3], NN_SIGMOID);
	CU_ASSERT_EQUAL(m.window, 8);
	CU_ASSERT_EQUAL(m.n_features, NF);

	/* Normalization is the min and max of each column. */
	for (int j = 0; j < NF; j++) {
		float lo = rows[j], hi = rows[j];
		for (size_t i = 0; i < n; i++) {
			lo = fminf(lo, rows[i * NF + j]);
			hi = fmaxf(hi, rows[i * NF + j]);
		}
		CU_ASSERT_EQUAL(m.norm_a[j], lo);
		CU_ASSERT_EQUAL(m.norm_b[j], hi);
	}

	/* Split: 9993 windows, 1998 held out, a gap of 7, the rest trained on. */
	CU_ASSERT_EQUAL(rep.n_windows, n - 7);
	CU_ASSERT_EQUAL(rep.n_calib, (size_t)floor(0.2 * (double)(n - 7)));
	CU_ASSERT_EQUAL(rep.n_train, rep.n_windows - rep.n_calib - 7);
	CU_ASSERT_EQUAL(rep.calib_on_train, 0);
	CU_ASSERT_EQUAL_FATAL(m.n_calib, (int)rep.n_calib);

	/* The loss went down: against the same network before training. */
	nn init;
	int sizes[5] = {16, 12, 6, 12, 16};
	nn_act act[4] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	CU_ASSERT_EQUAL_FATAL(nn_init(&init, 4, sizes, act), IOTAD_OK);
	nn_init_weights(&init, o.seed);
	double before = mean_score(&m, &init, rows, n);
	double after = mean_score(&m, &m.net, rows, n);
	CU_ASSERT(after < 0.2 * before);
	CU_ASSERT(rep.final_loss < 0.5f * rep.first_loss);
	nn_free(&init);

	/* Calibration scores are the scores of the last n_calib windows, sorted. */
	size_t first = rep.n_windows - rep.n_calib;
	float *x = malloc(n * NF * sizeof *x);
	float *sc = malloc(rep.n_calib * sizeof *sc);
	float *scratch = malloc(nn_scratch_floats(&m.net) * sizeof *scratch);
	CU_ASSERT_FATAL(x && sc && scratch);
	for (size_t i = 0; i < n; i++)
		model_normalize(&m, rows + i * NF, x + i * NF);
	for (size_t i = 0; i < rep.n_calib; i++)
		sc[i] = nn_forward(&m.net, x + (first + i) * NF, scratch, NULL);
	/* Insertion sort: independent of the library's qsort use. */
	for (size_t i = 1; i < rep.n_calib; i++)
		for (size_t j = i; j > 0 && sc[j - 1] > sc[j]; j--) {
			float t = sc[j];
			sc[j] = sc[j - 1];
			sc[j - 1] = t;
		}
	CU_ASSERT(memcmp(sc, m.calib, rep.n_calib * sizeof *sc) == 0);

	/* Threshold: the 99th percentile, linear between order statistics. */
	double pos = 0.99 * (double)(rep.n_calib - 1);
	size_t k = (size_t)pos;
	double want = sc[k] + (pos - (double)k) * ((double)sc[k + 1] - sc[k]);
	CU_ASSERT_DOUBLE_EQUAL(m.threshold, want, 1e-6 * want);
	CU_ASSERT(m.threshold >= sc[k] && m.threshold <= sc[k + 1]);
	CU_ASSERT_EQUAL(m.percentile, 99.0f);
	CU_ASSERT(fabs(model_calib_rank(&m, m.threshold) - 0.99) < 0.01);

	/* Fresh normal data, later in time, other noise: false alarms near 1%. */
	const size_t nt = 20000;
	float *test = make_signal(nt, n + 1000, 99);
	size_t alarms = 0, nw = nt - (size_t)m.window + 1;
	float *xt = malloc(nt * NF * sizeof *xt);
	CU_ASSERT_FATAL(xt != NULL);
	for (size_t i = 0; i < nt; i++)
		model_normalize(&m, test + i * NF, xt + i * NF);
	for (size_t i = 0; i < nw; i++)
		alarms += nn_forward(&m.net, xt + i * NF, scratch, NULL) > m.threshold;
	double far = (double)alarms / (double)nw;
	fprintf(stderr, "(false-alarm rate %.4f over %zu windows) ", far, nw);
	CU_ASSERT(far >= 0.003 && far <= 0.025);

	/* A spike of 5 ranges in one sensor of one sample: far above threshold. */
	size_t at = 3000;
	float raw[NF];
	memcpy(raw, test + at * NF, sizeof raw);
	raw[0] += 5.0f * (m.norm_b[0] - m.norm_a[0]);
	model_normalize(&m, raw, xt + at * NF);
	float s_spike = nn_forward(&m.net, xt + (at - 3) * NF, scratch, NULL);
	CU_ASSERT(s_spike > 10.0f * m.threshold);
	/* A stuck-at-minimum battery-style drop in the other sensor too. */
	raw[0] = test[at * NF];
	raw[1] = m.norm_a[1] - 2.0f * (m.norm_b[1] - m.norm_a[1]);
	model_normalize(&m, raw, xt + at * NF);
	CU_ASSERT(nn_forward(&m.net, xt + (at - 3) * NF, scratch, NULL) > 5.0f * m.threshold);

	free(xt);
	free(test);
	free(x);
	free(sc);
	free(scratch);
	model_free(&m);
	free(rows);
}

static void test_deterministic(void)
{
	const size_t n = 800;
	float *rows = make_signal(n, 0, 3);
	train_opts o;
	small_opts(&o);
	o.epochs = 5;
	model a, b, c;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	memset(&c, 0, sizeof c);
	char err[256];
	CU_ASSERT_EQUAL_FATAL(train_model(rows, n, NF, &o, &a, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(train_model(rows, n, NF, &o, &b, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(a.net.n_params, b.net.n_params);
	CU_ASSERT(memcmp(a.net.params, b.net.params, a.net.n_params * sizeof(float)) == 0);
	CU_ASSERT(memcmp(&a.threshold, &b.threshold, sizeof(float)) == 0);
	CU_ASSERT_EQUAL_FATAL(a.n_calib, b.n_calib);
	CU_ASSERT(memcmp(a.calib, b.calib, (size_t)a.n_calib * sizeof(float)) == 0);
	/* Another seed gives another network. */
	o.seed = 43;
	CU_ASSERT_EQUAL_FATAL(train_model(rows, n, NF, &o, &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT(memcmp(a.net.params, c.net.params, a.net.n_params * sizeof(float)) != 0);
	model_free(&a);
	model_free(&b);
	model_free(&c);
	free(rows);
}

/* An ensemble of 3: member k is the single network of seed + k, and the
 * calibration scores are the members' mean. */
static void test_ensemble(void)
{
	const size_t n = 800;
	float *rows = make_signal(n, 0, 5);
	train_opts o;
	small_opts(&o);
	o.epochs = 3;
	o.holdout = 0.0f; /* calibrate on the training windows, in a known order */
	model e, s0, s2;
	memset(&e, 0, sizeof e);
	memset(&s0, 0, sizeof s0);
	memset(&s2, 0, sizeof s2);
	char err[256];
	o.ensemble = 3;
	CU_ASSERT_EQUAL_FATAL(train_model(rows, n, NF, &o, &e, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(e.n_more, 2);
	o.ensemble = 1;
	CU_ASSERT_EQUAL_FATAL(train_model(rows, n, NF, &o, &s0, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(s0.n_more, 0);
	CU_ASSERT(memcmp(e.net.params, s0.net.params, s0.net.n_params * sizeof(float)) == 0);
	/* the members differ from each other */
	CU_ASSERT(memcmp(e.more[0].params, e.net.params, e.net.n_params * sizeof(float)) != 0);
	CU_ASSERT(memcmp(e.more[1].params, e.more[0].params, e.net.n_params * sizeof(float)) != 0);
	/* the score of a window is the mean of the members' MSEs */
	float *x = malloc((size_t)e.window * NF * sizeof *x);
	float *scratch = malloc(nn_scratch_floats(&e.net) * sizeof *scratch);
	CU_ASSERT_FATAL(x && scratch);
	for (int t = 0; t < e.window; t++)
		model_normalize(&e, rows + (size_t)(100 + t) * NF, x + (size_t)t * NF);
	double mean = 0;
	mean += nn_forward(&e.net, x, scratch, NULL);
	mean += nn_forward(&e.more[0], x, scratch, NULL);
	mean += nn_forward(&e.more[1], x, scratch, NULL);
	CU_ASSERT_DOUBLE_EQUAL(model_score(&e, x, scratch, NULL, NULL), mean / 3.0, 1e-6);
	/* the threshold is the 99th percentile of the ensemble's scores, not
	 * of the first member's */
	CU_ASSERT(memcmp(&e.threshold, &s0.threshold, sizeof(float)) != 0);
	free(x);
	free(scratch);
	/* out of range */
	o.ensemble = MODEL_MAX_MEMBERS + 1;
	CU_ASSERT_EQUAL(train_model(rows, n, NF, &o, &s2, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "ensemble"));
	model_free(&e);
	model_free(&s0);
	free(rows);
}

static void test_zscore(void)
{
	const size_t n = 1500;
	float *rows = make_signal(n, 0, 11);
	train_opts o;
	small_opts(&o);
	o.norm = NORM_ZSCORE;
	o.n_hidden = 1;
	o.hidden[0] = 8;
	o.epochs = 10;
	model m;
	memset(&m, 0, sizeof m);
	train_report rep;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(train_model_report(rows, n, NF, &o, &m, &rep, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_EQUAL(m.norm, NORM_ZSCORE);
	CU_ASSERT_EQUAL(m.net.n_layers, 2);
	CU_ASSERT_EQUAL(m.net.act[0], NN_RELU);
	CU_ASSERT_EQUAL(m.net.act[1], NN_LINEAR);
	for (int j = 0; j < NF; j++) {
		double s = 0.0, ss = 0.0;
		for (size_t i = 0; i < n; i++)
			s += rows[i * NF + j];
		double mean = s / (double)n;
		for (size_t i = 0; i < n; i++)
			ss += (rows[i * NF + j] - mean) * (rows[i * NF + j] - mean);
		CU_ASSERT_DOUBLE_EQUAL(m.norm_a[j], mean, 1e-4 * fabs(mean));
		CU_ASSERT_DOUBLE_EQUAL(m.norm_b[j], sqrt(ss / (double)n), 1e-4);
	}
	CU_ASSERT(rep.final_loss < 0.5f * rep.first_loss);
	model_free(&m);
	free(rows);
}

static void test_small_and_bad_input(void)
{
	float *rows = make_signal(30, 0, 5);
	train_opts o;
	small_opts(&o);
	o.window = 10;
	o.epochs = 2;
	model m;
	memset(&m, 0, sizeof m);
	train_report rep;
	char err[256] = "";
	/* 21 windows: too few to hold out 20%, calibrated on all of them. */
	CU_ASSERT_EQUAL_FATAL(train_model_report(rows, 30, NF, &o, &m, &rep, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_EQUAL(rep.calib_on_train, 1);
	CU_ASSERT_EQUAL(rep.n_windows, 21);
	CU_ASSERT_EQUAL(rep.n_train, 21);
	CU_ASSERT_EQUAL(m.n_calib, 21);
	CU_ASSERT(m.threshold > 0.0f);
	model_free(&m);
	memset(&m, 0, sizeof m);

	/* Too few rows for one window plus one. */
	CU_ASSERT_EQUAL(train_model(rows, 10, NF, &o, &m, err, sizeof err), IOTAD_ERR_RANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "rows"));
	CU_ASSERT_PTR_NULL(m.net.params);

	/* A NaN in the data. */
	rows[17] = NAN;
	CU_ASSERT_EQUAL(train_model(rows, 30, NF, &o, &m, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "finite"));
	CU_ASSERT_PTR_NULL(m.net.params);
	rows[17] = 1.0f;

	train_opts bad;
	bad = o;
	bad.percentile = 0.0f;
	CU_ASSERT_EQUAL(train_model(rows, 30, NF, &bad, &m, err, sizeof err), IOTAD_ERR_RANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "percentile"));
	bad = o;
	bad.holdout = 1.0f;
	CU_ASSERT_EQUAL(train_model(rows, 30, NF, &bad, &m, err, sizeof err), IOTAD_ERR_RANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "holdout"));
	bad = o;
	bad.stride = 11;
	CU_ASSERT_EQUAL(train_model(rows, 30, NF, &bad, &m, err, sizeof err), IOTAD_ERR_RANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "stride"));
	bad = o;
	bad.lr = NAN;
	CU_ASSERT_EQUAL(train_model(rows, 30, NF, &bad, &m, err, sizeof err), IOTAD_ERR_RANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "lr"));
	bad = o;
	bad.hidden[1] = 0;
	CU_ASSERT_EQUAL(train_model(rows, 30, NF, &bad, &m, err, sizeof err), IOTAD_ERR_RANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "hidden[1]"));
	bad = o;
	bad.window = 1000; /* 1000 x 2 inputs fit, but not the rows */
	CU_ASSERT_EQUAL(train_model(rows, 30, NF, &bad, &m, err, sizeof err), IOTAD_ERR_RANGE);
	CU_ASSERT_EQUAL(train_model(rows, 30, 0, &o, &m, err, sizeof err), IOTAD_ERR_RANGE);
	CU_ASSERT_PTR_NULL(m.net.params);
	free(rows);
}

/* ---- the command ---- */

static char cmd_dir[64];

static int run_cmd(const char *const *args)
{
	char *argv[40];
	int argc = 0;
	for (; args[argc]; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	return cmd_train(argc, argv);
}

static void test_cmd(void)
{
	snprintf(cmd_dir, sizeof cmd_dir, "/tmp/iotad-train-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(cmd_dir) != NULL);
	char csv[128], out[128];
	snprintf(csv, sizeof csv, "%s/normal.csv", cmd_dir);
	snprintf(out, sizeof out, "%s/dev-ae.json", cmd_dir);
	const size_t n = 600;
	float *rows = make_signal(n, 0, 21);
	FILE *f = fopen(csv, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("ts;temp;hum;label\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "2024-01-01T00:%02zu:%02zu;%.6f;%.6f;0\n", i / 60, i % 60,
			(double)rows[i * NF], (double)rows[i * NF + 1]);
	fclose(f);
	free(rows);

	/* Usage errors exit 2 and write nothing. */
	const char *bad[][10] = {
		{"train", "--csv", csv, "--window", "0", "-o", out, NULL},
		{"train", "--csv", csv, "--window", "10x", "-o", out, NULL},
		{"train", "--csv", csv, "--lr", "-1", "-o", out, NULL},
		{"train", "--csv", csv, "--hidden", "12,,6", "-o", out, NULL},
		{"train", "--csv", csv, "--norm", "l2", "-o", out, NULL},
		{"train", "--csv", csv, "--percentile", "100.1", "-o", out, NULL},
		{"train", "--csv", csv, "--holdout", "1", "-o", out, NULL},
		{"train", "--csv", csv, "--sep", ";;", "-o", out, NULL},
		{"train", "--csv", csv, "--seed", "-3", "-o", out, NULL},
		{"train", "--csv", csv, "--features", "a,a", "-o", out, NULL},
		{"train", "--csv", csv, "--bogus", "-o", out, NULL},
		{"train", "--csv", csv, NULL},
		{"train", "-o", out, NULL},
		{"train", "--csv", csv, "-o", out, "extra", NULL},
		{"train", "--csv", csv, "--window", "4", "--stride", "5", "-o", out, NULL},
		{"train", "--csv", csv, "--drift-max", "-1", "-o", out, NULL},
		{"train", "--csv", csv, "--drift-max", "2e6", "-o", out, NULL},
		{"train", "--csv", csv, "--hidden", "auto,3", "-o", out, NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_EQUAL(run_cmd(bad[i]), 2);
	CU_ASSERT_EQUAL(access(out, F_OK), -1);

	const char *help[] = {"train", "--help", NULL};
	CU_ASSERT_EQUAL(run_cmd(help), 0);

	/* Runtime errors exit 1: a missing column, a missing file. */
	const char *missing[] = {"train", "--csv", csv, "--sep", ";", "--features", "temp,nope",
				 "-o", out, "--quiet", NULL};
	CU_ASSERT_EQUAL(run_cmd(missing), 1);
	const char *nofile[] = {"train", "--csv", "/nonexistent/x.csv", "-o", out, NULL};
	CU_ASSERT_EQUAL(run_cmd(nofile), 1);
	CU_ASSERT_EQUAL(access(out, F_OK), -1);

	/* Automatic features: ts is text, label skipped. */
	const char *ok[] = {"train", "--csv", csv, "--sep", ";", "--skip", "label", "--window",
			    "5", "--hidden", "8,4,8", "--epochs", "3", "--seed", "9", "--quiet",
			    "-o", out, NULL};
	CU_ASSERT_EQUAL_FATAL(run_cmd(ok), 0);
	model m;
	char err[256] = "";
	CU_ASSERT_EQUAL_FATAL(model_load(out, &m, err, sizeof err), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(m.id, "dev-ae");
	CU_ASSERT_EQUAL(m.n_features, 2);
	CU_ASSERT_STRING_EQUAL(m.features[0], "temp");
	CU_ASSERT_STRING_EQUAL(m.features[1], "hum");
	CU_ASSERT_EQUAL(m.window, 5);
	CU_ASSERT_EQUAL(m.net.n_layers, 4);
	CU_ASSERT_EQUAL(m.net.sizes[2], 4);

	/* The file holds what train_model gives for the same data and options. */
	const char *cols[] = {"temp", "hum"};
	csv_table t;
	CU_ASSERT_EQUAL_FATAL(csv_read(csv, ';', cols, 2, NULL, 0, &t, err, sizeof err),
			      IOTAD_OK);
	train_opts o;
	train_opts_default(&o);
	o.window = 5;
	o.n_hidden = 3;
	o.hidden[0] = 8;
	o.hidden[1] = 4;
	o.hidden[2] = 8;
	o.epochs = 3;
	o.seed = 9;
	model ref;
	memset(&ref, 0, sizeof ref);
	CU_ASSERT_EQUAL_FATAL(train_model(t.data, t.n_rows, 2, &o, &ref, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(ref.net.n_params, m.net.n_params);
	CU_ASSERT(memcmp(ref.net.params, m.net.params, m.net.n_params * sizeof(float)) == 0);
	CU_ASSERT_EQUAL(ref.threshold, m.threshold);
	model_free(&ref);
	csv_free(&t);
	model_free(&m);

	/* Explicit features, id and zscore. */
	const char *ok2[] = {"train", "--csv", csv, "--sep", ";", "--features", "hum",
			     "--window", "3", "--norm", "zscore", "--epochs", "1", "--id",
			     "humidity-only", "--percentile", "95", "-q", "-o", out, NULL};
	CU_ASSERT_EQUAL_FATAL(run_cmd(ok2), 0);
	CU_ASSERT_EQUAL_FATAL(model_load(out, &m, err, sizeof err), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(m.id, "humidity-only");
	CU_ASSERT_EQUAL(m.n_features, 1);
	CU_ASSERT_EQUAL(m.norm, NORM_ZSCORE);
	CU_ASSERT_EQUAL(m.percentile, 95.0f);
	model_free(&m);

	unlink(out);
	unlink(csv);
	rmdir(cmd_dir);
}

/* Segments: windows never cross a boundary, each segment gives its own
 * last share to calibration, and the lengths must cover the rows. */
static void test_segments(void)
{
	const size_t len[] = {300, 7, 500}; /* the middle one is shorter than a window */
	size_t n = len[0] + len[1] + len[2];
	float *rows = make_signal(n, 0, 77);
	train_opts o;
	small_opts(&o);
	o.epochs = 2;
	o.segments = len;
	o.n_segments = 3;
	model m;
	memset(&m, 0, sizeof m);
	train_report rep;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(train_model_report(rows, n, NF, &o, &m, &rep, err, sizeof err),
			      IOTAD_OK);
	size_t w = (size_t)o.window, nw0 = len[0] - w + 1, nw2 = len[2] - w + 1;
	size_t nc0 = (size_t)(o.holdout * (float)nw0), nc2 = (size_t)(o.holdout * (float)nw2);
	CU_ASSERT_EQUAL(rep.n_windows, nw0 + nw2);
	CU_ASSERT_EQUAL(rep.n_calib, nc0 + nc2);
	CU_ASSERT_EQUAL(rep.n_train, nw0 - nc0 - (w - 1) + nw2 - nc2 - (w - 1));
	CU_ASSERT_EQUAL(rep.calib_on_train, 0);
	CU_ASSERT_EQUAL(m.n_calib, (int)(nc0 + nc2));
	model_free(&m);

	/* one segment is the same as none */
	const size_t all[] = {n};
	train_report one, none;
	model a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	o.segments = all;
	o.n_segments = 1;
	CU_ASSERT_EQUAL_FATAL(train_model_report(rows, n, NF, &o, &a, &one, err, sizeof err), IOTAD_OK);
	o.segments = NULL;
	o.n_segments = 0;
	CU_ASSERT_EQUAL_FATAL(train_model_report(rows, n, NF, &o, &b, &none, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(one.n_windows, none.n_windows);
	CU_ASSERT_EQUAL(a.threshold, b.threshold);
	CU_ASSERT_EQUAL(memcmp(a.net.params, b.net.params, a.net.n_params * sizeof(float)), 0);
	model_free(&a);
	model_free(&b);

	/* lengths that do not add up to the rows are refused */
	const size_t bad[] = {100, 100};
	o.segments = bad;
	o.n_segments = 2;
	memset(&m, 0, sizeof m);
	CU_ASSERT_EQUAL(train_model_report(rows, n, NF, &o, &m, &rep, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "segments"));
	free(rows);
}

/* Drift ratio against closed forms: var / (mean squared step / 2). */
static void test_drift_ratio(void)
{
	enum { N = 400 };
	float *x = malloc(4 * N * sizeof *x);
	CU_ASSERT_FATAL(x != NULL);
	for (size_t i = 0; i < N; i++) {
		x[i * 4] = (float)i;                 /* ramp: (N^2 - 1) / 12 over 1 / 2 */
		x[i * 4 + 1] = i % 2 ? 1.0f : -1.0f; /* alternating: 1 over 4 / 2 */
		x[i * 4 + 2] = 7.5f;                 /* constant: 1 by convention */
		x[i * 4 + 3] = i < N / 2 ? 0.0f : 3.0f; /* one step between two halves */
	}
	float r[4];
	char err[128];
	CU_ASSERT_EQUAL_FATAL(train_drift_ratio(x, N, 4, NULL, 0, r, err, sizeof err), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(r[0], ((double)N * N - 1.0) / 6.0, 1e-3 * N * N / 6.0);
	CU_ASSERT_DOUBLE_EQUAL(r[1], 0.5, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(r[2], 1.0, 0.0);
	/* half step: var 9/4, one step of 9 in N-1: noise 9 / (2 (N-1)) */
	CU_ASSERT_DOUBLE_EQUAL(r[3], (9.0 / 4.0) / (9.0 / (2.0 * (N - 1))), 1e-3 * N);

	/* as two segments, each half of the step column is constant, the ramp
	 * is two ramps of N/2 rows: ((N/2)^2 - 1) / 6, and the alternation
	 * keeps its ratio */
	const size_t seg[2] = {N / 2, N / 2};
	CU_ASSERT_EQUAL_FATAL(train_drift_ratio(x, N, 4, seg, 2, r, err, sizeof err), IOTAD_OK);
	CU_ASSERT_DOUBLE_EQUAL(r[0], ((double)N * N / 4.0 - 1.0) / 6.0, 1e-3 * N * N / 24.0);
	CU_ASSERT_DOUBLE_EQUAL(r[1], 0.5, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(r[3], 1.0, 0.0);

	/* white noise: about 1 (the ratio's sd is about 1 / sqrt(N) here) */
	rng_state = 5;
	enum { M = 20000 };
	float *g = malloc(M * sizeof *g);
	CU_ASSERT_FATAL(g != NULL);
	for (size_t i = 0; i < M; i++)
		g[i] = (float)(10.0 + rng_gauss());
	CU_ASSERT_EQUAL_FATAL(train_drift_ratio(g, M, 1, NULL, 0, r, err, sizeof err), IOTAD_OK);
	CU_ASSERT(fabsf(r[0] - 1.0f) < 0.05f);

	/* bad input */
	const size_t short_seg[1] = {N - 1};
	CU_ASSERT_EQUAL(train_drift_ratio(x, N, 4, short_seg, 1, r, err, sizeof err),
			IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(train_drift_ratio(x, N, 0, NULL, 0, r, err, sizeof err), IOTAD_ERR_INVAL);
	x[5] = NAN;
	CU_ASSERT_EQUAL(train_drift_ratio(x, N, 4, NULL, 0, r, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "row 1, feature 1"));
	free(g);
	free(x);
}

/* drift_max leaves the wandering column out of the model: the result is the
 * model trained on the other columns alone, under their names. */
/* A noisy feature that never repeats itself is stuck after 3 equal samples,
 * one rounded to 0.1 that repeats now and then after a longer run; one that
 * often repeats its value (slow steps) and a constant one are not checked. */
static void test_stuck_features(void)
{
	const size_t n = 2000;
	float *rows = malloc(n * 4 * sizeof *rows);
	CU_ASSERT_FATAL(rows != NULL);
	rng_state = 99;
	for (size_t i = 0; i < n; i++) {
		rows[i * 4] = (float)(20.0 + 0.5 * rng_gauss());                /* noisy */
		rows[i * 4 + 1] = (float)floor(50.0 + 10.0 * sin((double)i / 300.0)); /* steps */
		rows[i * 4 + 2] = 7.0f;                                           /* constant */
		rows[i * 4 + 3] = (float)(round(10.0 * (20.0 + 0.5 * rng_gauss())) / 10.0);
	}
	train_opts o;
	small_opts(&o);
	o.epochs = 1;
	model m;
	memset(&m, 0, sizeof m);
	char err[256] = "";
	CU_ASSERT_EQUAL_FATAL(train_model(rows, n, 4, &o, &m, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(m.stuck_after[0], 3);
	CU_ASSERT_EQUAL(m.stuck_after[1], 0);
	CU_ASSERT_EQUAL(m.stuck_after[2], 0);
	/* about 8 % repeats: 1 + ceil(ln 1e-6 / ln 0.08) = 7 or so, or twice
	 * the longest run seen */
	CU_ASSERT(m.stuck_after[3] >= 6 && m.stuck_after[3] <= 12);
	model_free(&m);
	free(rows);
}

static void test_drift_max(void)
{
	enum { N = 600, F = 3 };
	float *x = malloc(N * F * sizeof *x), *two = malloc(N * 2 * sizeof *two);
	CU_ASSERT_FATAL(x && two);
	/* a smooth periodic signal (make_signal) counts as drifting too, so
	 * the steady columns here are noise around a level */
	rng_state = 12;
	for (size_t i = 0; i < N; i++) {
		x[i * F] = two[i * 2] = (float)(5.0 + rng_gauss());
		x[i * F + 1] = (float)(30.0 + 0.05 * (double)i + 0.2 * rng_gauss()); /* warming */
		x[i * F + 2] = two[i * 2 + 1] = (float)(-2.0 + 0.5 * rng_gauss());
	}
	train_opts o;
	small_opts(&o);
	o.epochs = 3;
	o.hidden_auto = 1;
	o.drift_max = 3.0f;
	model a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	snprintf(a.features[0], MODEL_NAME_MAX, "x");
	snprintf(a.features[1], MODEL_NAME_MAX, "temp");
	snprintf(a.features[2], MODEL_NAME_MAX, "y");
	train_report rep;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(train_model_report(x, N, F, &o, &a, &rep, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(a.n_features, 2);
	CU_ASSERT_STRING_EQUAL(a.features[0], "x");
	CU_ASSERT_STRING_EQUAL(a.features[1], "y");
	CU_ASSERT_EQUAL(rep.n_kept, 2);
	CU_ASSERT_EQUAL(rep.kept[0], 0);
	CU_ASSERT_EQUAL(rep.kept[1], 2);
	CU_ASSERT(rep.drift[1] > 100.0f);
	CU_ASSERT(rep.drift[0] <= 3.0f && rep.drift[2] <= 3.0f);
	/* auto widths from D = 8 x 2 = 16: 12, 6, 12 x 16 / 20, rounded */
	CU_ASSERT_EQUAL(a.net.sizes[0], 16);
	CU_ASSERT_EQUAL(a.net.sizes[1], 10);
	CU_ASSERT_EQUAL(a.net.sizes[2], 5);
	CU_ASSERT_EQUAL(a.net.sizes[3], 10);

	o.drift_max = 0.0f;
	CU_ASSERT_EQUAL_FATAL(train_model_report(two, N, 2, &o, &b, &rep, err, sizeof err),
			      IOTAD_OK);
	CU_ASSERT_EQUAL(rep.n_kept, 2);
	CU_ASSERT_EQUAL_FATAL(a.net.n_params, b.net.n_params);
	CU_ASSERT_EQUAL(memcmp(a.net.params, b.net.params, a.net.n_params * sizeof(float)), 0);
	CU_ASSERT_EQUAL(a.threshold, b.threshold);
	model_free(&a);
	model_free(&b);

	/* every column drifts: refused with a reason */
	o.drift_max = 0.5f;
	memset(&a, 0, sizeof a);
	CU_ASSERT_EQUAL(train_model_report(x, N, F, &o, &a, &rep, err, sizeof err),
			IOTAD_ERR_RANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "every feature drifts"));
	CU_ASSERT_PTR_NULL(a.calib);
	o.drift_max = -1.0f;
	CU_ASSERT_EQUAL(train_model_report(x, N, F, &o, &a, &rep, err, sizeof err),
			IOTAD_ERR_RANGE);
	free(two);
	free(x);
}

void init_train_tests(void)
{
	CU_pSuite s = CU_add_suite("train", NULL, NULL);
	TEST_ADD(s, test_defaults);
	TEST_ADD(s, test_fit_and_calibrate);
	TEST_ADD(s, test_deterministic);
	TEST_ADD(s, test_zscore);
	TEST_ADD(s, test_small_and_bad_input);
	TEST_ADD(s, test_cmd);
	TEST_ADD(s, test_segments);
	TEST_ADD(s, test_drift_ratio);
	TEST_ADD(s, test_ensemble);
	TEST_ADD(s, test_stuck_features);
	TEST_ADD(s, test_drift_max);
}
