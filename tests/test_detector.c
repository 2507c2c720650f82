/* test_detector.c - unit tests of the detector core.
 *
 * The model is built by hand: 3 features, window 4, min-max normalization,
 * and a one-layer network whose weights and biases are all zero with a
 * sigmoid output, so it reconstructs every input as 0.5 and the score of a
 * window is mean((x - 0.5)^2) over its 12 normalized values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/detector.h"
#include "test.h"

#define TW 4   /* window */
#define TF 3   /* features */

/* min-max ranges of the test features */
static const float norm_lo[TF] = {10.0f, 0.0f, -1.0f};
static const float norm_hi[TF] = {20.0f, 100.0f, 1.0f};

static int build_model(model *m, int window, int stride, float threshold)
{
	int sizes[2] = {window * TF, window * TF};
	nn_act act[1] = {NN_SIGMOID};

	memset(m, 0, sizeof *m);
	strcpy(m->id, "test-ae");
	m->version = 1;
	m->n_features = TF;
	strcpy(m->features[0], "temperature");
	strcpy(m->features[1], "humidity");
	strcpy(m->features[2], "battery");
	m->window = window;
	m->stride = stride;
	m->norm = NORM_MINMAX;
	for (int f = 0; f < TF; f++) {
		m->norm_a[f] = norm_lo[f];
		m->norm_b[f] = norm_hi[f];
	}
	m->threshold = threshold;
	m->percentile = 99.0f;
	return nn_init(&m->net, 1, sizes, act);
}

/* Raw value of feature f whose normalized value is v. */
static float raw_of(int f, double v)
{
	return (float)(norm_lo[f] + v * (norm_hi[f] - norm_lo[f]));
}

/* A raw sample whose normalized values are (v0, v1, v2). */
static void sample_of(float *raw, double v0, double v1, double v2)
{
	raw[0] = raw_of(0, v0);
	raw[1] = raw_of(1, v1);
	raw[2] = raw_of(2, v2);
}

static det *make_det(model *m, det_config *cfg)
{
	det *d = NULL;

	CU_ASSERT_EQUAL_FATAL(det_create(m, cfg, &d), IOTAD_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	return d;
}

static void test_config_default(void)
{
	det_config cfg;

	det_config_default(&cfg);
	CU_ASSERT_EQUAL(cfg.max_devices, 10000);
	CU_ASSERT_EQUAL(cfg.stride, 0);
	CU_ASSERT_EQUAL(cfg.alert.k, 3);
	CU_ASSERT_EQUAL(cfg.alert.n, 3);
	CU_ASSERT_EQUAL(cfg.alert.m, 5);
	CU_ASSERT_EQUAL(cfg.thr.kind, THR_ADAPTIVE);
	CU_ASSERT_EQUAL(cfg.thr.base, 0.0f);
	CU_ASSERT_EQUAL(cfg.thr.base_level, 0.0f);
	/* quiet is the detector's choice (600 s without a model, 0 with one) */
	CU_ASSERT_EQUAL(cfg.alert.quiet, DET_QUIET_AUTO);
	CU_ASSERT_NOT_EQUAL(alert_params_check(&cfg.alert), 0);
	cfg.alert.quiet = 0.0;
	CU_ASSERT_EQUAL(alert_params_check(&cfg.alert), 0);
}

static void test_create_validation(void)
{
	model m, bad;
	det_config cfg;
	det *d = (det *)&m;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	CU_ASSERT_EQUAL(det_create(NULL, &cfg, &d), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_EQUAL(det_create(&m, &cfg, NULL), IOTAD_ERR_INVAL);

	/* no network */
	bad = m;
	memset(&bad.net, 0, sizeof bad.net);
	CU_ASSERT_EQUAL(det_create(&bad, &cfg, &d), IOTAD_ERR_INVAL);
	/* window * features does not match the network input */
	bad = m;
	bad.window = TW + 1;
	CU_ASSERT_EQUAL(det_create(&bad, &cfg, &d), IOTAD_ERR_INVAL);
	bad = m;
	bad.n_features = TF - 1;
	CU_ASSERT_EQUAL(det_create(&bad, &cfg, &d), IOTAD_ERR_INVAL);
	/* no usable threshold */
	bad = m;
	bad.threshold = NAN;
	CU_ASSERT_EQUAL(det_create(&bad, &cfg, &d), IOTAD_ERR_INVAL);

	/* configurations out of range, one field each */
	for (int i = 0; i < 7; i++) {
		det_config_default(&cfg);
		switch (i) {
		case 0: cfg.max_devices = 0; break;
		case 1: cfg.max_devices = 10000001; break;
		case 2: cfg.alert.k = 4; break;
		case 3: cfg.alert.m = 0; break;
		case 4: cfg.stride = -1; break;
		case 5: cfg.stale_after = -1.0; break;
		default: cfg.thr.alpha = 1.5f; break;
		}
		d = (det *)&m;
		CU_ASSERT_EQUAL(det_create(&m, &cfg, &d), IOTAD_ERR_INVAL);
		CU_ASSERT_PTR_NULL(d);
	}

	/* NULL config means the defaults */
	CU_ASSERT_EQUAL(det_create(&m, NULL, &d), IOTAD_OK);
	CU_ASSERT_PTR_EQUAL(det_model(d), &m);
	CU_ASSERT_EQUAL(det_device_count(d), 0);
	det_destroy(d);
	det_destroy(NULL);
	nn_free(&m.net);
}

static void test_scoring_schedule(void)
{
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];
	det *d;

	/* model stride 2: first window at sample 4, then every 2 samples */
	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 2, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	d = make_det(&m, &cfg);
	sample_of(raw, 0.5, 0.5, 0.5);
	for (int i = 1; i <= 12; i++) {
		CU_ASSERT_EQUAL(det_push(d, "dev", i, raw, &r), IOTAD_OK);
		CU_ASSERT_EQUAL(r.scored, i >= TW && (i - TW) % 2 == 0);
	}
	/* another device has its own window and counter */
	for (int i = 1; i <= 5; i++) {
		CU_ASSERT_EQUAL(det_push(d, "other", i, raw, &r), IOTAD_OK);
		CU_ASSERT_EQUAL(r.scored, i == TW);
	}
	CU_ASSERT_EQUAL(det_device_count(d), 2);
	det_destroy(d);

	/* config stride overrides the model's */
	cfg.stride = 3;
	d = make_det(&m, &cfg);
	for (int i = 1; i <= 13; i++) {
		CU_ASSERT_EQUAL(det_push(d, "dev", i, raw, &r), IOTAD_OK);
		CU_ASSERT_EQUAL(r.scored, i == 4 || i == 7 || i == 10 || i == 13);
	}
	det_destroy(d);

	/* stride larger than the window: still the first full window, then
	 * every stride samples */
	cfg.stride = 6;
	d = make_det(&m, &cfg);
	for (int i = 1; i <= 16; i++) {
		CU_ASSERT_EQUAL(det_push(d, "dev", i, raw, &r), IOTAD_OK);
		CU_ASSERT_EQUAL(r.scored, i == 4 || i == 10 || i == 16);
	}
	det_destroy(d);
	nn_free(&m.net);
}

static void test_score_closed_form(void)
{
	/* normalized values pushed, one sample per row; the last one exceeds the
	 * clamp (7 -> NORM_CLAMP_HI) and another is below it (-6 -> -4) */
	static const double v[6][TF] = {
		{0.1, 0.9, 0.5}, {0.2, 0.8, 0.4}, {0.3, 0.7, 0.3},
		{0.4, 0.6, 0.2}, {0.5, 0.5, -6.0}, {0.6, 0.4, 7.0},
	};
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];
	det *d;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 100.0f), IOTAD_OK);
	det_config_default(&cfg);
	d = make_det(&m, &cfg);
	for (int i = 0; i < 6; i++) {
		sample_of(raw, v[i][0], v[i][1], v[i][2]);
		CU_ASSERT_EQUAL(det_push(d, "dev", i, raw, &r), IOTAD_OK);
		CU_ASSERT_EQUAL(r.scored, i >= TW - 1);
		if (!r.scored)
			continue;
		double fsum[TF] = {0}, total = 0.0;
		for (int t = i - TW + 1; t <= i; t++) {
			for (int f = 0; f < TF; f++) {
				double x = fmin(fmax(v[t][f], NORM_CLAMP_LO), NORM_CLAMP_HI);
				fsum[f] += (x - 0.5) * (x - 0.5);
			}
		}
		for (int f = 0; f < TF; f++)
			total += fsum[f];
		CU_ASSERT_DOUBLE_EQUAL(r.score, total / (TW * TF), 1e-5 * (total / (TW * TF)));
		double csum = 0.0;
		for (int f = 0; f < TF; f++) {
			CU_ASSERT_DOUBLE_EQUAL(r.contrib[f], fsum[f] / total, 1e-5);
			csum += r.contrib[f];
		}
		CU_ASSERT_DOUBLE_EQUAL(csum, 1.0, 1e-6);
		for (int f = TF; f < MODEL_MAX_FEATURES; f++)
			CU_ASSERT_EQUAL(r.contrib[f], 0.0f);
		CU_ASSERT_FALSE(r.anomalous);
		CU_ASSERT_EQUAL(r.event, ALERT_EV_NONE);
	}
	/* the window with the clamped battery values blames the battery */
	CU_ASSERT(r.contrib[2] > 0.99f);
	det_destroy(d);
	nn_free(&m.net);
}

static void test_contrib_blame_and_zero(void)
{
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];
	det *d;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	d = make_det(&m, &cfg);
	/* a perfect reconstruction: zero error, equal shares */
	sample_of(raw, 0.5, 0.5, 0.5);
	for (int i = 0; i < TW; i++)
		det_push(d, "dev", i, raw, &r);
	CU_ASSERT_TRUE(r.scored);
	CU_ASSERT_EQUAL(r.score, 0.0f);
	for (int f = 0; f < TF; f++)
		CU_ASSERT_DOUBLE_EQUAL(r.contrib[f], 1.0 / TF, 1e-7);
	/* only humidity off: all the blame on humidity */
	sample_of(raw, 0.5, 1.5, 0.5);
	det_push(d, "dev", 10, raw, &r);
	CU_ASSERT_TRUE(r.scored);
	CU_ASSERT_DOUBLE_EQUAL(r.score, 1.0 / (TW * TF), 1e-7);
	CU_ASSERT_EQUAL(r.contrib[0], 0.0f);
	CU_ASSERT_EQUAL(r.contrib[1], 1.0f);
	CU_ASSERT_EQUAL(r.contrib[2], 0.0f);
	det_destroy(d);
	nn_free(&m.net);
}

static void test_device_cap_and_ids(void)
{
	char id[DET_DEVICE_ID_MAX + 8], name[16];
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];
	det *d;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.max_devices = 3;
	cfg.evict = DET_EVICT_REJECT;
	d = make_det(&m, &cfg);
	sample_of(raw, 0.5, 0.5, 0.5);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "dev-%d", i);
		CU_ASSERT_EQUAL(det_push(d, name, 1, raw, &r), IOTAD_OK);
	}
	CU_ASSERT_EQUAL(det_push(d, "dev-3", 1, raw, &r), IOTAD_ERR_FULL);
	CU_ASSERT_FALSE(r.scored);
	CU_ASSERT_EQUAL(det_device_count(d), 3);
	/* known devices still go through, and keep their own windows */
	for (int k = 0; k < TW - 1; k++) {
		for (int i = 0; i < 3; i++) {
			snprintf(name, sizeof name, "dev-%d", i);
			CU_ASSERT_EQUAL(det_push(d, name, 2 + k, raw, &r), IOTAD_OK);
			CU_ASSERT_EQUAL(r.scored, k == TW - 2);
		}
	}

	CU_ASSERT_EQUAL(det_push(d, "", 1, raw, &r), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(det_push(d, NULL, 1, raw, &r), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(det_push(d, "dev-0", NAN, raw, &r), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(det_push(d, "dev-0", 1, NULL, &r), IOTAD_ERR_INVAL);
	memset(id, 'x', sizeof id);
	id[DET_DEVICE_ID_MAX] = '\0';          /* 128 chars: one too many */
	CU_ASSERT_EQUAL(det_push(d, id, 1, raw, &r), IOTAD_ERR_INVAL);
	id[DET_DEVICE_ID_MAX + 7] = '\0';
	CU_ASSERT_EQUAL(det_push(d, id, 1, raw, &r), IOTAD_ERR_INVAL);
	det_destroy(d);

	/* the longest valid id, and ids differing only in the last byte */
	cfg.max_devices = 2;
	d = make_det(&m, &cfg);
	memset(id, 'y', sizeof id);
	id[DET_DEVICE_ID_MAX - 1] = '\0';
	CU_ASSERT_EQUAL(det_push(d, id, 1, raw, &r), IOTAD_OK);
	id[DET_DEVICE_ID_MAX - 2] = 'z';
	CU_ASSERT_EQUAL(det_push(d, id, 1, raw, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(det_device_count(d), 2);
	CU_ASSERT_EQUAL(det_push(d, id, 2, raw, NULL), IOTAD_OK);
	CU_ASSERT_EQUAL(det_device_count(d), 2);
	det_destroy(d);
	nn_free(&m.net);
}

/* Many devices: every one is found again (hash chains). */
static void test_many_devices(void)
{
	char name[32];
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];
	det *d;
	int ok = 1;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.max_devices = 5000;
	cfg.evict = DET_EVICT_REJECT;
	d = make_det(&m, &cfg);
	sample_of(raw, 0.5, 0.5, 0.5);
	for (int k = 0; k < TW; k++) {
		for (int i = 0; i < 5000; i++) {
			snprintf(name, sizeof name, "sensor/%d", i);
			ok &= det_push(d, name, k, raw, &r) == IOTAD_OK;
			ok &= r.scored == (k == TW - 1);
		}
	}
	CU_ASSERT_TRUE(ok);
	CU_ASSERT_EQUAL(det_device_count(d), 5000);
	CU_ASSERT_EQUAL(det_push(d, "sensor/5000", 9, raw, &r), IOTAD_ERR_FULL);
	det_destroy(d);
	nn_free(&m.net);
}

static void test_raise_then_clear(void)
{
	model m;
	det_config cfg;
	det_result r;
	float normal[TF], bad[TF];
	det *d;
	int raised = 0, cleared = 0, anomalous = 0, i;
	uint64_t last_seq = 0;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.prof.channels = 0; /* the autoencoder alone */
	cfg.thr.kind = THR_STATIC;
	cfg.alert = (alert_params){.k = 2, .n = 3, .m = 2};
	d = make_det(&m, &cfg);
	sample_of(normal, 0.5, 0.5, 0.5);
	sample_of(bad, 0.5, 0.5, 2.5);  /* one such sample: 4/12 > 0.1 */
	/* 10 normal, 3 bad, 20 normal: windows 4..13+3 hold a bad sample */
	for (i = 0; i < 33; i++) {
		const float *x = i >= 10 && i < 13 ? bad : normal;
		CU_ASSERT_EQUAL(det_push(d, "dev", 100 + i, x, &r), IOTAD_OK);
		CU_ASSERT_EQUAL(r.threshold, 0.1f);
		if (!r.scored)
			continue;
		anomalous += r.anomalous;
		CU_ASSERT_EQUAL(r.anomalous, i >= 10 && i < 13 + TW - 1);
		if (r.event == ALERT_EV_RAISED) {
			raised++;
			CU_ASSERT_EQUAL(i, 11);         /* second anomalous window */
			CU_ASSERT(r.contrib[2] > 0.999f);
		}
		if (r.event == ALERT_EV_CLEARED) {
			cleared++;
			CU_ASSERT_EQUAL(i, 13 + TW - 1 + 1);  /* second normal window */
		}
		if (r.event != ALERT_EV_NONE) {
			CU_ASSERT(r.seq > last_seq);
			last_seq = r.seq;
		}
	}
	CU_ASSERT_EQUAL(anomalous, 3 + TW - 1);
	CU_ASSERT_EQUAL(raised, 1);
	CU_ASSERT_EQUAL(cleared, 1);
	CU_ASSERT_EQUAL(last_seq, 2);
	det_destroy(d);
	nn_free(&m.net);
}

/* The adaptive threshold starts from the calibration mean when the model
 * has calibration scores, from threshold / 2 otherwise. */
static void test_threshold_from_model(void)
{
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];
	det *d;
	/* one value off by 0.5: score 0.25 / 12 */
	const double s = 0.25 / (TW * TF);

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	for (int with_calib = 0; with_calib < 2; with_calib++) {
		double level = 0.05;
		if (with_calib) {
			m.calib = malloc(2 * sizeof *m.calib);
			CU_ASSERT_PTR_NOT_NULL_FATAL(m.calib);
			m.calib[0] = 0.02f;
			m.calib[1] = 0.04f;
			m.n_calib = 2;
			level = 0.03;
		}
		d = make_det(&m, &cfg);
		sample_of(raw, 0.5, 0.5, 0.5);
		for (int i = 0; i < TW - 1; i++)
			det_push(d, "dev", i, raw, &r);
		sample_of(raw, 1.0, 0.5, 0.5);
		det_push(d, "dev", 9, raw, &r);
		CU_ASSERT_TRUE(r.scored);
		CU_ASSERT_DOUBLE_EQUAL(r.score, s, 1e-8);
		CU_ASSERT_FALSE(r.anomalous);
		CU_ASSERT_DOUBLE_EQUAL(r.threshold, 0.1, 1e-8);
		det_push(d, "dev", 10, raw, &r);
		/* the next threshold moved by the EWMA of the normal score */
		CU_ASSERT_DOUBLE_EQUAL(r.threshold, 0.1 * (0.99 * level + 0.01 * s) / level, 1e-7);
		det_destroy(d);
	}
	free(m.calib);
	m.calib = NULL;
	nn_free(&m.net);
}

struct stale_log {
	int calls;
	char last[DET_DEVICE_ID_MAX];
	double last_ts;
	uint64_t seq;
};

static void on_stale(void *ud, const char *device, alert_event ev, double last_ts, uint64_t seq)
{
	struct stale_log *log = ud;

	CU_ASSERT_EQUAL(ev, ALERT_EV_STALE);
	log->calls++;
	snprintf(log->last, sizeof log->last, "%s", device);
	log->last_ts = last_ts;
	log->seq = seq;
}

static void test_stale_and_resume(void)
{
	struct stale_log log = {0};
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];
	det *d;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.stale_after = 10.0;
	d = make_det(&m, &cfg);
	sample_of(raw, 0.5, 0.5, 0.5);
	for (int i = 0; i < TW; i++) {
		det_push(d, "a", 100 + i, raw, &r);
		det_push(d, "b", 105 + i, raw, &r);
	}
	/* a last spoke at 103, b at 108 */
	det_sweep(d, 113.0, on_stale, &log);    /* exactly 10 s: not yet */
	CU_ASSERT_EQUAL(log.calls, 0);
	det_sweep(d, 114.0, on_stale, &log);
	CU_ASSERT_EQUAL(log.calls, 1);
	CU_ASSERT_STRING_EQUAL(log.last, "a");
	CU_ASSERT_EQUAL(log.last_ts, 103.0);
	CU_ASSERT_EQUAL(log.seq, 1);
	det_sweep(d, 115.0, on_stale, &log);    /* a only once */
	CU_ASSERT_EQUAL(log.calls, 1);
	det_sweep(d, 500.0, on_stale, &log);
	CU_ASSERT_EQUAL(log.calls, 2);
	CU_ASSERT_STRING_EQUAL(log.last, "b");
	det_sweep(d, 1000.0, on_stale, &log);
	CU_ASSERT_EQUAL(log.calls, 2);

	/* a speaks again: CLEARED once, with the next sequence number; its
	 * window starts afresh, so no score until it is full again */
	CU_ASSERT_EQUAL(det_push(d, "a", 600, raw, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_CLEARED);
	CU_ASSERT_EQUAL(r.seq, 2);
	CU_ASSERT_FALSE(r.scored);
	for (int i = 1; i < TW; i++) {
		CU_ASSERT_EQUAL(det_push(d, "a", 600 + i, raw, &r), IOTAD_OK);
		CU_ASSERT_EQUAL(r.event, ALERT_EV_NONE);
		CU_ASSERT_EQUAL(r.scored, i == TW - 1);
	}
	/* it can go stale again; no callback is fine */
	det_sweep(d, 700.0, NULL, NULL);
	CU_ASSERT_EQUAL(det_push(d, "a", 701, raw, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_CLEARED);
	CU_ASSERT_EQUAL(r.seq, 4);

	/* stale_after 0: sweeping never marks anything */
	det_destroy(d);
	cfg.stale_after = 0.0;
	d = make_det(&m, &cfg);
	det_push(d, "a", 1, raw, &r);
	log.calls = 0;
	det_sweep(d, 1e9, on_stale, &log);
	CU_ASSERT_EQUAL(log.calls, 0);
	det_destroy(d);
	nn_free(&m.net);
}

/* Staleness follows the caller's arrival clock, not the device's own time:
 * replayed history with old timestamps is not stale while it flows. */
static void test_push_at_clock(void)
{
	struct stale_log log = {0};
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];
	det *d;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.stale_after = 10.0;
	d = make_det(&m, &cfg);
	sample_of(raw, 0.5, 0.5, 0.5);
	CU_ASSERT_EQUAL(det_push_at(d, "old", 1000.0, 1e6, raw, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(det_push_at(d, "old", 1001.0, NAN, raw, &r), IOTAD_ERR_INVAL);
	det_sweep(d, 1e6 + 5, on_stale, &log);
	CU_ASSERT_EQUAL(log.calls, 0);
	det_sweep(d, 1e6 + 11, on_stale, &log);
	CU_ASSERT_EQUAL(log.calls, 1);
	CU_ASSERT_EQUAL(log.last_ts, 1000.0);   /* reported in device time */
	det_destroy(d);
	nn_free(&m.net);
}

static void test_evict(void)
{
	char name[16];
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];
	det *d;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.max_devices = 4;
	cfg.evict = DET_EVICT_REJECT;
	d = make_det(&m, &cfg);
	sample_of(raw, 0.5, 0.5, 0.5);
	/* d0 and d2 last spoke at 10, d1 and d3 at 50 */
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "d%d", i);
		for (int k = 0; k < TW - 1; k++)
			CU_ASSERT_EQUAL(det_push(d, name, (i % 2 ? 50 : 10) + 0.01 * k, raw, &r), IOTAD_OK);
	}
	CU_ASSERT_EQUAL(det_push(d, "d4", 60, raw, &r), IOTAD_ERR_FULL);
	CU_ASSERT_EQUAL(det_evict(d, 60.0, 30.0), 2);
	CU_ASSERT_EQUAL(det_device_count(d), 2);
	CU_ASSERT_EQUAL(det_evict(d, 60.0, 30.0), 0);
	/* freed slots take new devices; survivors keep their windows */
	CU_ASSERT_EQUAL(det_push(d, "d4", 60, raw, &r), IOTAD_OK);
	CU_ASSERT_FALSE(r.scored);
	CU_ASSERT_EQUAL(det_push(d, "d1", 60, raw, &r), IOTAD_OK);
	CU_ASSERT_TRUE(r.scored);
	CU_ASSERT_EQUAL(det_push(d, "d3", 60, raw, &r), IOTAD_OK);
	CU_ASSERT_TRUE(r.scored);
	/* an evicted device comes back with an empty window */
	CU_ASSERT_EQUAL(det_push(d, "d0", 60, raw, &r), IOTAD_OK);
	CU_ASSERT_FALSE(r.scored);
	CU_ASSERT_EQUAL(det_device_count(d), 4);
	CU_ASSERT_EQUAL(det_push(d, "d2", 60, raw, &r), IOTAD_ERR_FULL);
	CU_ASSERT_EQUAL(det_evict(d, 1000.0, 0.0), 4);
	CU_ASSERT_EQUAL(det_device_count(d), 0);
	det_destroy(d);
	nn_free(&m.net);
}

/* A full LRU table replaces the least recently seen device, whatever the
 * order of first sight; survivors keep their windows. Checked against a
 * reference recency list kept by the test. */
static void test_lru_evict(void)
{
	enum { CAP = 8, IDS = 40, STEPS = 4000 };
	int ref[CAP], n_ref = 0;        /* ids, most recent first */
	int pushes[IDS] = {0};          /* samples since the id last (re)entered */
	char name[16];
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];
	det *d;
	uint64_t expect_evictions = 0;
	uint32_t rng = 12345;
	int ok = 1;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	CU_ASSERT_EQUAL(cfg.evict, DET_EVICT_LRU);
	cfg.max_devices = CAP;
	d = make_det(&m, &cfg);
	sample_of(raw, 0.5, 0.5, 0.5);
	for (int step = 0; step < STEPS; step++) {
		rng = rng * 1103515245u + 12345u;
		/* skewed choice: low ids come back often, high ids rarely */
		int id = (int)((rng >> 16) % IDS);
		if ((rng >> 8) & 1)
			id %= CAP + 2;
		int pos = -1;
		for (int i = 0; i < n_ref; i++)
			if (ref[i] == id)
				pos = i;
		if (pos < 0) {
			if (n_ref == CAP) {
				pushes[ref[CAP - 1]] = 0;
				n_ref--;
				expect_evictions++;
			}
			pos = n_ref++;
			pushes[id] = 0;
		}
		memmove(ref + 1, ref, (size_t)pos * sizeof *ref);
		ref[0] = id;
		pushes[id]++;
		snprintf(name, sizeof name, "id-%d", id);
		ok &= det_push(d, name, step, raw, &r) == IOTAD_OK;
		/* the window restarts exactly when the reference evicted the id */
		ok &= r.scored == (pushes[id] >= TW);
	}
	CU_ASSERT_TRUE(ok);
	CU_ASSERT_EQUAL(det_device_count(d), CAP);
	CU_ASSERT_EQUAL(det_evictions(d), expect_evictions);
	CU_ASSERT(expect_evictions > 100);
	/* idle eviction after LRU reuse still finds every device */
	CU_ASSERT_EQUAL(det_evict(d, STEPS + 1000.0, 0.0), CAP);
	CU_ASSERT_EQUAL(det_device_count(d), 0);
	CU_ASSERT_EQUAL(det_push(d, "again", 1, raw, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(det_device_count(d), 1);
	det_destroy(d);

	/* cap of one: every new id replaces the previous one */
	cfg.max_devices = 1;
	d = make_det(&m, &cfg);
	CU_ASSERT_EQUAL(det_push(d, "a", 1, raw, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(det_push(d, "b", 2, raw, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(det_push(d, "a", 3, raw, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(det_evictions(d), 2);
	CU_ASSERT_EQUAL(det_device_count(d), 1);
	det_destroy(d);

	/* an invalid policy is refused */
	cfg.evict = (det_evict_policy)7;
	CU_ASSERT_EQUAL(det_create(&m, &cfg, &d), IOTAD_ERR_INVAL);
	nn_free(&m.net);
}

static void test_score_window(void)
{
	float win[TW * TF];
	model m;
	det_config cfg;
	det_result r;
	det *d;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	d = make_det(&m, &cfg);
	for (int t = 0; t < TW; t++)
		sample_of(win + t * TF, 0.5, 0.5, t == 2 ? 1.5 : 0.5);
	CU_ASSERT_EQUAL(det_score_window(d, win, TW * TF, &r), IOTAD_OK);
	CU_ASSERT_TRUE(r.scored);
	CU_ASSERT_DOUBLE_EQUAL(r.score, 1.0 / (TW * TF), 1e-7);
	CU_ASSERT_EQUAL(r.threshold, 0.1f);
	CU_ASSERT_FALSE(r.anomalous);
	CU_ASSERT_EQUAL(r.contrib[2], 1.0f);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_NONE);
	sample_of(win, 2.5, 0.5, 0.5);
	CU_ASSERT_EQUAL(det_score_window(d, win, TW * TF, &r), IOTAD_OK);
	CU_ASSERT_TRUE(r.anomalous);
	CU_ASSERT_DOUBLE_EQUAL(r.contrib[0], 4.0 / 5.0, 1e-6);
	CU_ASSERT_EQUAL(det_score_window(d, win, TW * TF - 1, &r), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(det_device_count(d), 0);
	det_destroy(d);
	nn_free(&m.net);
}

static void test_bytes_per_device(void)
{
	model m;
	det_config cfg;
	det *d;
	size_t b;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, 10, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.prof.channels = 0; /* the autoencoder alone */
	d = make_det(&m, &cfg);
	b = det_bytes_per_device(d);
	/* at least the id and the 10 x 3 window, and not much more (the rows'
	 * device times, 8 bytes a row, tell redeliveries from late samples) */
	CU_ASSERT(b >= DET_DEVICE_ID_MAX + 10 * TF * sizeof(float) + 10 * sizeof(double));
	CU_ASSERT(b <= 512 + 10 * sizeof(double));
	det_destroy(d);
	nn_free(&m.net);
}

/* SPOT and DSPOT need the model's calibration scores; their per-device
 * history (64 peaks, and 20 drift scores for DSPOT) is counted in the
 * bytes per device, and a device starts at the threshold fitted for all. */
static void test_threshold_kinds(void)
{
	model m;
	det_config cfg;
	det_result r, w;
	float raw[TF], win[10 * TF];
	size_t base = 0;
	det *d;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, 10, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.thr.kind = THR_SPOT;
	CU_ASSERT_EQUAL(det_create(&m, &cfg, &d), IOTAD_ERR_INVAL);
	m.calib = malloc(1000 * sizeof *m.calib);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m.calib);
	for (int i = 0; i < 1000; i++)
		m.calib[i] = 1e-4f * (float)i;
	m.n_calib = 1000;
	for (thr_kind k = THR_STATIC; k <= THR_DSPOT; k++) {
		cfg.thr.kind = k;
		d = make_det(&m, &cfg);
		size_t b = det_bytes_per_device(d);
		if (k == THR_STATIC)
			base = b;
		CU_ASSERT_EQUAL(b, base + (k == THR_SPOT ? 64 : k == THR_DSPOT ? 84 : 0) * sizeof(float));
		sample_of(raw, 0.5, 0.5, 0.5);
		for (int t = 0; t < 10; t++) {
			memcpy(win + t * TF, raw, sizeof raw);
			det_push(d, "dev", t, raw, &r);
		}
		CU_ASSERT_EQUAL(det_score_window(d, win, 10 * TF, &w), IOTAD_OK);
		CU_ASSERT_TRUE(r.scored);
		CU_ASSERT_EQUAL(r.threshold, w.threshold);
		CU_ASSERT(r.threshold > 0.0f);
		det_destroy(d);
	}
	free(m.calib);
	m.calib = NULL;
	nn_free(&m.net);
}

/* score_alpha: the score judged is the EWMA of the window scores, started at
 * the first one, per device; out-of-range weights are refused. */
static void test_score_ewma(void)
{
	/* normalized value of every feature, one per row */
	static const double v[10] = {0.5, 0.5, 0.5, 0.5, 0.9, 1.0, 0.1, 0.5, 0.5, 0.7};
	const double a = 0.25, thr = 0.03;
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];
	double ewma = 0.0;
	int held_back = 0;
	det *d = NULL;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, (float)thr), IOTAD_OK);
	det_config_default(&cfg);
	cfg.prof.channels = 0; /* the autoencoder alone */
	cfg.thr.kind = THR_STATIC;
	cfg.score_alpha = 1.5f;
	CU_ASSERT_EQUAL(det_create(&m, &cfg, &d), IOTAD_ERR_INVAL);
	cfg.score_alpha = -0.1f;
	CU_ASSERT_EQUAL(det_create(&m, &cfg, &d), IOTAD_ERR_INVAL);
	cfg.score_alpha = NAN;
	CU_ASSERT_EQUAL(det_create(&m, &cfg, &d), IOTAD_ERR_INVAL);
	cfg.score_alpha = (float)a;
	d = make_det(&m, &cfg);
	for (int i = 0; i < 10; i++) {
		sample_of(raw, v[i], v[i], v[i]);
		CU_ASSERT_EQUAL(det_push(d, "dev", i, raw, &r), IOTAD_OK);
		/* a second device pushed in between keeps its own average */
		CU_ASSERT_EQUAL(det_push(d, "quiet", i, raw, NULL), IOTAD_OK);
		if (i < TW - 1)
			continue;
		double s = 0.0;
		for (int t = i - TW + 1; t <= i; t++)
			s += (v[t] - 0.5) * (v[t] - 0.5);
		s /= TW;
		ewma = i == TW - 1 ? s : a * s + (1.0 - a) * ewma;
		CU_ASSERT_DOUBLE_EQUAL(r.score, ewma, 1e-6);
		CU_ASSERT_EQUAL(r.anomalous, ewma >= thr);
		if (s >= thr && !r.anomalous)
			held_back++;
	}
	/* row 4's own score (0.04) crosses the threshold, its average (0.01) not */
	CU_ASSERT(held_back >= 1);
	det_destroy(d);
	nn_free(&m.net);
}

/* A sample not newer than the device's last one is refused and changes
 * nothing: the next window scores as if it had never been sent. */
static void test_out_of_order(void)
{
	model m;
	det_config cfg;
	det_result a, b;
	float raw[TF], hot[TF];
	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.03f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.thr.kind = THR_STATIC;
	cfg.reorder_window = 0; /* late samples refused: test_late_samples takes them */
	det *clean = make_det(&m, &cfg), *mixed = make_det(&m, &cfg);
	sample_of(hot, 0.95, 0.95, 0.95);
	for (int i = 0; i < 2 * TW; i++) {
		double v = 0.4 + 0.01 * (i % 7);
		sample_of(raw, v, v, v);
		CU_ASSERT_EQUAL(det_push(clean, "dev", 100.0 + i, raw, &a), IOTAD_OK);
		CU_ASSERT_EQUAL(det_push(mixed, "dev", 100.0 + i, raw, &b), IOTAD_OK);
		if (i > 0) {
			CU_ASSERT_EQUAL(det_push(mixed, "dev", 100.0 + i, hot, &b), IOTAD_ERR_STATE);
			CU_ASSERT_EQUAL(det_push(mixed, "dev", 99.5 + i, hot, &b), IOTAD_ERR_RANGE);
			CU_ASSERT_FALSE(b.scored);
			CU_ASSERT_EQUAL(b.event, ALERT_EV_NONE);
		}
	}
	/* both detectors hold the same window: the next sample scores the same */
	sample_of(raw, 0.5, 0.5, 0.5);
	CU_ASSERT_EQUAL(det_push(clean, "dev", 200.0, raw, &a), IOTAD_OK);
	CU_ASSERT_EQUAL(det_push(mixed, "dev", 200.0, raw, &b), IOTAD_OK);
	CU_ASSERT_TRUE(a.scored && b.scored);
	CU_ASSERT_EQUAL(a.score, b.score);
	/* another device is not held to this one's clock */
	CU_ASSERT_EQUAL(det_push(mixed, "other", 1.0, raw, &b), IOTAD_OK);
	det_destroy(clean);
	det_destroy(mixed);
	model_free(&m);
}

/* seq_base: a new device's first event is seq_base + 1; an imported device
 * continues from the larger of its saved seq and the base. */
static void test_seq_base(void)
{
	struct stale_log log = {0};
	model m;
	det_config cfg;
	det_result r;
	float raw[TF], buf[4096];
	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	CU_ASSERT_EQUAL(cfg.seq_base, 0);
	cfg.stale_after = 10.0;
	cfg.seq_base = 1700000000ull << 16;
	det *d = make_det(&m, &cfg);
	sample_of(raw, 0.5, 0.5, 0.5);
	CU_ASSERT_EQUAL(det_push(d, "a", 100.0, raw, &r), IOTAD_OK);
	det_sweep(d, 200.0, on_stale, &log);
	CU_ASSERT_EQUAL(log.calls, 1);
	CU_ASSERT_EQUAL(log.seq, (1700000000ull << 16) + 1);
	/* a restart with a later base: the saved number is below it */
	det_device_state st = {.ring_count = 0, .last_ts = 100.0, .last_seen = 100.0,
			       .seq = (1700000000ull << 16) + 1};
	snprintf(st.id, sizeof st.id, "a");
	CU_ASSERT_FATAL(det_state_floats(d) <= sizeof buf / sizeof buf[0]);
	memset(buf, 0, sizeof buf);
	cfg.seq_base = 1700000005ull << 16;
	det *d2 = make_det(&m, &cfg);
	CU_ASSERT_EQUAL(det_import(d2, &st, buf, false), IOTAD_OK);
	det_sweep(d2, 1000.0, on_stale, &log);
	CU_ASSERT_EQUAL(log.seq, (1700000005ull << 16) + 1);
	/* a saved number above the base is kept */
	st.seq = (1700000009ull << 16);
	det *d3 = make_det(&m, &cfg);
	CU_ASSERT_EQUAL(det_import(d3, &st, buf, false), IOTAD_OK);
	det_sweep(d3, 1000.0, on_stale, &log);
	CU_ASSERT_EQUAL(log.seq, (1700000009ull << 16) + 1);
	det_destroy(d);
	det_destroy(d2);
	det_destroy(d3);
	model_free(&m);
}

/* With a reorder window, a sample older than the newest joins the window in
 * time order: the next window scores as if the samples had come in order.
 * A repeated ts of the window is a duplicate; one older than the window's
 * oldest sample or than the reorder window is out of order. */
static void test_late_samples(void)
{
	model m;
	det_config cfg;
	det_result a, b;
	float raw[TF];
	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.03f), IOTAD_OK);
	det_config_default(&cfg);
	CU_ASSERT_EQUAL(cfg.reorder_window, 30.0);
	cfg.thr.kind = THR_STATIC;
	det *ordered = make_det(&m, &cfg), *shuffled = make_det(&m, &cfg);
	/* 3 * TW samples; the shuffled detector gets the pairs (1,2), (3,4)... swapped */
	int n = 3 * TW, late = 0, swaps = 0;
	float score_a = 0, score_b = 0;
	for (int i = 0; i < n; i++) {
		int j = i % 2 == 1 ? (i + 1 < n ? i + 1 : i) : i > 0 ? i - 1 : 0;
		swaps += i % 2 == 0 && i > 0;
		double v = 0.4 + 0.03 * (i % 5), w = 0.4 + 0.03 * (j % 5);
		sample_of(raw, v, 0.5, 0.5);
		CU_ASSERT_EQUAL(det_push(ordered, "dev", 100.0 + i, raw, &a), IOTAD_OK);
		sample_of(raw, w, 0.5, 0.5);
		CU_ASSERT_EQUAL(det_push(shuffled, "dev", 100.0 + j, raw, &b), IOTAD_OK);
		late += b.late;
		if (i % 2 == 0 && a.scored && b.scored) {
			/* after each swapped pair both windows hold the same samples */
			CU_ASSERT_EQUAL(a.score, b.score);
			score_a = a.score;
			score_b = b.score;
		}
	}
	CU_ASSERT_EQUAL(late, swaps);
	CU_ASSERT(swaps >= TW);
	CU_ASSERT(score_a > 0 && score_a == score_b);
	/* a redelivery of any sample in the window is a duplicate */
	double newest = 100.0 + n - 1;
	sample_of(raw, 0.9, 0.9, 0.9);
	for (int k = 0; k < TW; k++)
		CU_ASSERT_EQUAL(det_push(shuffled, "dev", newest - k, raw, &b), IOTAD_ERR_STATE);
	/* older than the window's oldest: out of order, though within 30 s */
	CU_ASSERT_EQUAL(det_push(shuffled, "dev", newest - TW - 0.5, raw, &b), IOTAD_ERR_RANGE);
	/* within the window but beyond the reorder window: out of order */
	cfg.reorder_window = 0.25;
	det *tight = make_det(&m, &cfg);
	for (int i = 0; i < TW; i++)
		CU_ASSERT_EQUAL(det_push(tight, "dev", 100.0 + i, raw, &b), IOTAD_OK);
	CU_ASSERT_EQUAL(det_push(tight, "dev", 100.0 + TW - 1.5, raw, &b), IOTAD_ERR_RANGE);
	CU_ASSERT_EQUAL(det_push(tight, "dev", 100.0 + TW - 1.2, raw, &b), IOTAD_OK);
	CU_ASSERT_TRUE(b.late);
	/* det_rewind: the newest time was wrong; a sample before it is the newest now */
	CU_ASSERT_EQUAL(det_push(tight, "dev", 1e9, raw, &b), IOTAD_OK);
	CU_ASSERT_EQUAL(det_push(tight, "dev", 200.0, raw, &b), IOTAD_ERR_RANGE);
	CU_ASSERT_TRUE(det_rewind(tight, "dev", 200.0));
	CU_ASSERT_EQUAL(det_push(tight, "dev", 200.0, raw, &b), IOTAD_OK);
	CU_ASSERT_FALSE(b.late);
	double last_ts = 0;
	CU_ASSERT_TRUE(det_last_time(tight, "dev", &last_ts, NULL));
	CU_ASSERT_EQUAL(last_ts, 200.0);
	CU_ASSERT_FALSE(det_rewind(tight, "nobody", 1.0));
	det_destroy(tight);
	det_destroy(ordered);
	det_destroy(shuffled);
	model_free(&m);
}

/* A feature the model checks, held at one value for stuck_after samples,
 * makes the window anomalous whatever its score, takes the blame, and is not
 * learned by the threshold; cfg.stuck_check off turns it off. */
static void test_stuck(void)
{
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	m.stuck_after[0] = TW; /* temperature checked, humidity and battery not */
	det_config_default(&cfg);
	cfg.prof.channels = 0; /* the autoencoder alone */
	CU_ASSERT_TRUE(cfg.stuck_check);
	det *d = make_det(&m, &cfg);
	/* temperature moving a little, the others still: normal */
	for (int i = 0; i < 2 * TW; i++) {
		sample_of(raw, 0.5 + 0.01 * (i % 2), 0.5, 0.5);
		CU_ASSERT_EQUAL(det_push(d, "dev", i, raw, &r), IOTAD_OK);
	}
	CU_ASSERT_TRUE(r.scored);
	CU_ASSERT_FALSE(r.anomalous);
	CU_ASSERT_EQUAL(r.stuck, 0u);
	/* temperature frozen: stuck from its TW-th equal sample on (the last
	 * moving sample, 0.51, was odd: the run starts at 100) */
	sample_of(raw, 0.5, 0.5, 0.5);
	for (int i = 0; i < TW; i++) {
		CU_ASSERT_EQUAL(det_push(d, "dev", 100 + i, raw, &r), IOTAD_OK);
		CU_ASSERT_EQUAL(r.stuck, i == TW - 1 ? 1u : 0u);
	}
	CU_ASSERT_TRUE(r.anomalous);
	CU_ASSERT_EQUAL(r.score, 0.0f); /* a perfect reconstruction all the same */
	CU_ASSERT_EQUAL(r.contrib[0], 1.0f);
	CU_ASSERT_EQUAL(r.contrib[1], 0.0f);
	CU_ASSERT_EQUAL(r.contrib[2], 0.0f);
	/* the adaptive threshold did not learn the stuck window's score */
	float thr = r.threshold;
	CU_ASSERT_EQUAL(det_push(d, "dev", 200, raw, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.threshold, thr);
	CU_ASSERT_EQUAL(r.stuck, 1u);
	/* the HTTP path judges a window the same way */
	float win[TW * TF];
	for (int t = 0; t < TW; t++)
		sample_of(win + t * TF, 0.5, 0.5, 0.5);
	CU_ASSERT_EQUAL(det_score_window(d, win, TW * TF, &r), IOTAD_OK);
	CU_ASSERT_TRUE(r.anomalous);
	CU_ASSERT_EQUAL(r.stuck, 1u);
	det_destroy(d);

	/* a run longer than the window is counted sample by sample */
	m.stuck_after[0] = TW + 3;
	d = make_det(&m, &cfg);
	for (int i = 0; i < TW + 3; i++) {
		CU_ASSERT_EQUAL(det_push(d, "long", i, raw, &r), IOTAD_OK);
		CU_ASSERT_EQUAL(r.stuck, i == TW + 2 ? 1u : 0u);
	}
	/* a value that moves ends the run */
	sample_of(raw, 0.6, 0.5, 0.5);
	CU_ASSERT_EQUAL(det_push(d, "long", 50, raw, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.stuck, 0u);
	det_destroy(d);

	sample_of(raw, 0.5, 0.5, 0.5);
	cfg.stuck_check = false;
	d = make_det(&m, &cfg);
	for (int i = 0; i < TW + 3; i++)
		CU_ASSERT_EQUAL(det_push(d, "dev", i, raw, &r), IOTAD_OK);
	CU_ASSERT_TRUE(r.scored);
	CU_ASSERT_FALSE(r.anomalous);
	CU_ASSERT_EQUAL(r.stuck, 0u);
	det_destroy(d);
	nn_free(&m.net);
}

/* An ensemble's score is the mean of its members' MSEs, its blame the mean
 * of their errors: net (zero weights) reconstructs 0.5 everywhere, the
 * second member (bias 20) 1.0. */
static void test_ensemble_score(void)
{
	model m;
	det_result r;
	float raw[TF];

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.5f), IOTAD_OK);
	int sizes[2] = {TW * TF, TW * TF};
	nn_act act[1] = {NN_SIGMOID};
	CU_ASSERT_EQUAL_FATAL(nn_init(&m.more[0], 1, sizes, act), IOTAD_OK);
	m.n_more = 1;
	for (int i = 0; i < TW * TF; i++) /* biases follow the weights */
		m.more[0].params[TW * TF * TW * TF + i] = 20.0f;
	det *d = make_det(&m, NULL);
	/* temperature at 0.5, humidity and battery at 1.0 (normalized) */
	sample_of(raw, 0.5, 1.0, 1.0);
	for (int i = 0; i < TW; i++)
		CU_ASSERT_EQUAL(det_push(d, "dev", i, raw, &r), IOTAD_OK);
	CU_ASSERT_TRUE_FATAL(r.scored);
	/* net: errors 0, .25, .25 -> MSE 1/6; member: .25, 0, 0 -> 1/12 */
	CU_ASSERT_DOUBLE_EQUAL(r.score, (1.0 / 6 + 1.0 / 12) / 2, 1e-6);
	/* mean errors per feature .125, .125, .125: equal blame */
	for (int f = 0; f < TF; f++)
		CU_ASSERT_DOUBLE_EQUAL(r.contrib[f], 1.0 / 3, 1e-5);
	det_destroy(d);
	/* a member of another shape is refused */
	nn_free(&m.more[0]);
	int other[3] = {TW * TF, 2, TW * TF};
	nn_act act2[2] = {NN_RELU, NN_SIGMOID};
	CU_ASSERT_EQUAL_FATAL(nn_init(&m.more[0], 2, other, act2), IOTAD_OK);
	CU_ASSERT_EQUAL(det_create(&m, NULL, &d), IOTAD_ERR_INVAL);
	model_free(&m);
}

/* ---- a scorer other than the model's network ---- */

/* The probe scores a window by its newest normalized temperature, blames
 * humidity, and counts in its per-device state the windows it learned. */
typedef struct probe_state {
	int ready;              /* set by state_init */
	int learned;
} probe_state;

static int probe_scored, probe_learned, probe_bad_state;
static const probe_state *probe_last;

static float probe_score(const void *self, const void *state, const float *x, float *contrib,
			 float *scratch)
{
	const probe_state *st = state;
	probe_scored++;
	probe_bad_state += self != &probe_scored || scratch == NULL || (st && st->ready != 1);
	probe_last = st;
	contrib[0] = contrib[2] = 0.0f;
	contrib[1] = 1.0f;
	return x[(TW - 1) * TF];
}

static void probe_learn(const void *self, void *state, const float *x)
{
	probe_state *st = state;
	(void)self;
	(void)x;
	st->learned++;
	probe_learned++;
}

static void probe_init(const void *self, void *state)
{
	(void)self;
	((probe_state *)state)->ready = 1;
}

static const det_scorer_ops probe_ops = {
	.score = probe_score, .learn = probe_learn, .state_init = probe_init};

/* det_push scores each window with the scorer, thresholds its score at
 * the scorer's calibration, and lets the device's state learn only the
 * windows judged normal; devices have their own state. */
static void test_custom_scorer(void)
{
	model m;
	det_config cfg;
	det *d = NULL;
	det_result r;
	float raw[TF];
	const float calib[] = {0.1f, 0.2f, 0.3f};
	det_scorer sc = {.ops = &probe_ops, .self = &probe_scored,
			 .state_bytes = sizeof(probe_state), .scratch_floats = 4,
			 .threshold = 0.5f, .calib = calib, .n_calib = 3};

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 99.0f), IOTAD_OK);
	nn_free(&m.net); /* the network does not score: it need not be there */
	det_config_default(&cfg);
	thr_params_default(&cfg.thr, THR_STATIC, 0.0f, 0.0f);
	cfg.alert.k = cfg.alert.n = cfg.alert.m = 1;
	cfg.stuck_check = false;
	probe_scored = probe_learned = probe_bad_state = 0;
	CU_ASSERT_EQUAL(det_create_with(&m, NULL, &cfg, &d), IOTAD_ERR_INVAL); /* no network */
	CU_ASSERT_EQUAL_FATAL(det_create_with(&m, &sc, &cfg, &d), IOTAD_OK);
	const double temp[] = {0.2, 0.3, 0.25, 0.35, 0.9, 0.95, 0.3};
	int windows = 0, normal = 0;
	for (int i = 0; i < 7; i++) {
		sample_of(raw, temp[i], 0.5, 0.5);
		CU_ASSERT_EQUAL(det_push(d, "a", 1.0 + i, raw, &r), IOTAD_OK);
		if (i < TW - 1) {
			CU_ASSERT_FALSE(r.scored);
			continue;
		}
		windows++;
		CU_ASSERT_TRUE(r.scored);
		CU_ASSERT_DOUBLE_EQUAL(r.score, temp[i], 1e-6);
		CU_ASSERT_DOUBLE_EQUAL(r.threshold, 0.5, 1e-9);
		CU_ASSERT_EQUAL(r.anomalous, temp[i] >= 0.5);
		CU_ASSERT_EQUAL(r.contrib[1], 1.0f);
		normal += temp[i] < 0.5;
		if (i == 4)
			CU_ASSERT_EQUAL(r.event, ALERT_EV_RAISED);
		if (i == 6)
			CU_ASSERT_EQUAL(r.event, ALERT_EV_CLEARED);
	}
	CU_ASSERT_EQUAL(probe_scored, windows);
	CU_ASSERT_EQUAL(probe_learned, normal);
	CU_ASSERT_PTR_NOT_NULL_FATAL(probe_last);
	CU_ASSERT_EQUAL(probe_last->learned, normal);
	const probe_state *first = probe_last;
	/* a second device starts with a fresh state of its own */
	for (int i = 0; i < TW; i++) {
		sample_of(raw, 0.1, 0.5, 0.5);
		CU_ASSERT_EQUAL(det_push(d, "b", 1.0 + i, raw, &r), IOTAD_OK);
	}
	CU_ASSERT_PTR_NOT_EQUAL(probe_last, first);
	CU_ASSERT_EQUAL(probe_last->learned, 1);
	CU_ASSERT_EQUAL(first->learned, normal);
	/* outside any device: no state */
	float win[TW * TF];
	for (int t = 0; t < TW; t++)
		sample_of(win + t * TF, 0.7, 0.5, 0.5);
	CU_ASSERT_EQUAL(det_score_window(d, win, TW * TF, &r), IOTAD_OK);
	CU_ASSERT_PTR_NULL(probe_last);
	CU_ASSERT_TRUE(r.anomalous);
	CU_ASSERT_EQUAL(probe_bad_state, 0);
	det_destroy(d);
	model_free(&m);
}

/* --- lifecycle ------------------------------------------------------------ */

struct ev_log {
	int calls;
	alert_event ev[16];
	double ts[16];
	char dev[16][16];
};

static void on_event(void *ud, const char *device, alert_event ev, double ts, uint64_t seq)
{
	struct ev_log *log = ud;
	(void)seq;
	if (log->calls < 16) {
		log->ev[log->calls] = ev;
		log->ts[log->calls] = ts;
		snprintf(log->dev[log->calls], sizeof log->dev[0], "%s", device);
	}
	log->calls++;
}

/* Count the events of n pushes of x to device from ts t0, one per second
 * (now = ts); first event's index in *first (-1 none). */
static int push_n(det *d, const char *dev, double t0, int n, const float *x, alert_event want,
		  int *first)
{
	det_result r;
	int count = 0;
	if (first)
		*first = -1;
	for (int i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(det_push(d, dev, t0 + i, x, &r), IOTAD_OK);
		if (r.event == want) {
			if (first && *first < 0)
				*first = i;
			count++;
		}
	}
	return count;
}

/* A new device is learning for learn_samples samples: LEARNING on its
 * first, LEARNED on the last, and no raise in between (unless
 * learn_alarms); then it is judged as any other. */
static void test_learning(void)
{
	model m;
	det_config cfg;
	det_result r;
	float normal[TF], bad[TF];
	int at;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.prof.channels = 0; /* the lifecycle's own count alone */
	cfg.thr.kind = THR_STATIC;
	cfg.alert = (alert_params){.k = 1, .n = 1, .m = 1};
	cfg.learn_samples = 10;
	det *d = make_det(&m, &cfg);
	sample_of(normal, 0.5, 0.5, 0.5);
	sample_of(bad, 0.5, 0.5, 2.5);
	CU_ASSERT_EQUAL(det_push(d, "new", 1, bad, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_LEARNING);
	CU_ASSERT_EQUAL(r.seq, 1);
	/* samples 2..9: anomalous windows, but no raise */
	CU_ASSERT_EQUAL(push_n(d, "new", 2, 8, bad, ALERT_EV_RAISED, NULL), 0);
	CU_ASSERT_EQUAL(det_push(d, "new", 10, bad, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_LEARNED);
	CU_ASSERT_EQUAL(r.seq, 2);
	CU_ASSERT_EQUAL(push_n(d, "new", 11, 1, bad, ALERT_EV_RAISED, &at), 1);
	det_destroy(d);

	/* learn_alarms: a learning device may raise, and then is not reported
	 * learned over its open alert */
	cfg.learn_alarms = true;
	d = make_det(&m, &cfg);
	CU_ASSERT_EQUAL(push_n(d, "new", 1, 1, normal, ALERT_EV_LEARNING, NULL), 1);
	CU_ASSERT_EQUAL(push_n(d, "new", 2, 8, bad, ALERT_EV_RAISED, &at), 1);
	CU_ASSERT_EQUAL(at, TW - 2);
	CU_ASSERT_EQUAL(push_n(d, "new", 10, 20, bad, ALERT_EV_LEARNED, NULL), 0);
	det_destroy(d);

	/* learn_samples 0: no learning events at all */
	cfg.learn_samples = 0;
	d = make_det(&m, &cfg);
	CU_ASSERT_EQUAL(det_push(d, "new", 1, normal, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_NONE);
	det_destroy(d);
	cfg.learn_samples = 100000001;
	CU_ASSERT_EQUAL(det_create(&m, &cfg, &d), IOTAD_ERR_INVAL);
	nn_free(&m.net);
}

/* With the device's own normal (the profile), learning ends when both
 * counts are through: learn_samples and the profile's learn. */
static void test_learning_with_profile(void)
{
	model m;
	det_config cfg;
	float normal[TF];
	int at;

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.learn_samples = 10;
	cfg.prof.learn = 50;
	det *d = make_det(&m, &cfg);
	sample_of(normal, 0.5, 0.5, 0.5);
	CU_ASSERT_EQUAL(push_n(d, "p", 1, 1, normal, ALERT_EV_LEARNING, NULL), 1);
	CU_ASSERT_EQUAL(push_n(d, "p", 2, 200, normal, ALERT_EV_LEARNED, &at), 1);
	CU_ASSERT_EQUAL(at + 2, 51); /* the sample after the profile's 50th */
	det_destroy(d);
	nn_free(&m.net);
}

/* A device whose normal score sits above the model's threshold stays
 * raised forever without learning (nothing it judges anomalous moves its
 * threshold); learning its first samples makes it a normal device. */
static void test_learning_own_normal(void)
{
	model m;
	det_config cfg;
	float high[TF];

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.thr.kind = THR_ADAPTIVE;
	sample_of(high, 0.9, 0.9, 0.9); /* score 0.16 >= threshold 0.1 */
	det *d = make_det(&m, &cfg);
	CU_ASSERT_EQUAL(push_n(d, "odd", 1, 1000, high, ALERT_EV_RAISED, NULL), 1);
	CU_ASSERT_EQUAL(push_n(d, "odd", 1001, 1000, high, ALERT_EV_CLEARED, NULL), 0);
	det_destroy(d);
	cfg.learn_samples = 200;
	d = make_det(&m, &cfg);
	CU_ASSERT_EQUAL(push_n(d, "odd", 1, 2000, high, ALERT_EV_RAISED, NULL), 0);
	det_destroy(d);
	nn_free(&m.net);
}

/* Mute: MUTED, an open alert ends, no raise and no stale while muted,
 * UNMUTED when the time passes (on a sample or a sweep) or on a mute of
 * 0 s; bad durations and unknown devices are refused. */
static void test_mute(void)
{
	model m;
	det_config cfg;
	det_result r;
	float normal[TF], bad[TF];
	struct ev_log log = {0};

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.thr.kind = THR_STATIC;
	cfg.alert = (alert_params){.k = 1, .n = 1, .m = 1};
	cfg.stale_after = 10.0;
	det *d = make_det(&m, &cfg);
	sample_of(normal, 0.5, 0.5, 0.5);
	sample_of(bad, 0.5, 0.5, 2.5);
	CU_ASSERT_EQUAL(push_n(d, "m", 0, 5, bad, ALERT_EV_RAISED, NULL), 1);
	det_command c = {.kind = DET_CMD_MUTE, .device = "m", .seconds = 100.0};
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 5.0, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_MUTED);
	CU_ASSERT_EQUAL(r.seq, 2);
	CU_ASSERT_EQUAL(r.muted_until, 105.0);
	/* bad data while muted: no raise; a silence: no stale */
	CU_ASSERT_EQUAL(push_n(d, "m", 5, 20, bad, ALERT_EV_RAISED, NULL), 0);
	det_sweep(d, 60.0, on_event, &log);
	CU_ASSERT_EQUAL(log.calls, 0);
	/* the mute ends on the first sample at or after 105 */
	CU_ASSERT_EQUAL(det_push(d, "m", 104.5, bad, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_NONE);
	CU_ASSERT_EQUAL(det_push(d, "m", 105, bad, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_UNMUTED);
	CU_ASSERT_EQUAL(r.seq, 3);
	CU_ASSERT_EQUAL(push_n(d, "m", 106, 1, bad, ALERT_EV_RAISED, NULL), 1);

	/* ... or on a sweep, without a sample */
	c.seconds = 10.0;
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 107.0, &r), IOTAD_OK);
	det_sweep(d, 116.0, on_event, &log);
	CU_ASSERT_EQUAL(log.calls, 0);
	det_sweep(d, 117.0, on_event, &log);
	CU_ASSERT_EQUAL(log.calls, 1);
	CU_ASSERT_EQUAL(log.ev[0], ALERT_EV_UNMUTED);
	CU_ASSERT_EQUAL(log.ts[0], 117.0);
	det_sweep(d, 118.0, on_event, &log); /* silent since 106: stale now */
	CU_ASSERT_EQUAL(log.calls, 2);
	CU_ASSERT_EQUAL(log.ev[1], ALERT_EV_STALE);

	/* a mute of 0 s ends one; with none open there is nothing to end */
	c.seconds = 50.0;
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 200.0, &r), IOTAD_OK);
	c.seconds = 0.0;
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 201.0, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_UNMUTED);
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 202.0, &r), IOTAD_ERR_STATE);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_NONE);
	const double bad_secs[] = {-1.0, NAN, INFINITY, DET_MUTE_MAX + 1};
	for (size_t i = 0; i < sizeof bad_secs / sizeof bad_secs[0]; i++) {
		c.seconds = bad_secs[i];
		CU_ASSERT_EQUAL(det_command_apply(d, &c, 203.0, &r), IOTAD_ERR_RANGE);
	}
	c = (det_command){.kind = DET_CMD_MUTE, .device = "nobody", .seconds = 5};
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 203.0, &r), IOTAD_ERR_NOTFOUND);
	c = (det_command){.kind = DET_CMD_MUTE, .device = "", .seconds = 5};
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 203.0, &r), IOTAD_ERR_INVAL);
	c = (det_command){.kind = DET_CMD__COUNT, .device = "m"};
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 203.0, &r), IOTAD_ERR_INVAL);
	det_destroy(d);
	nn_free(&m.net);
}

/* False alarm: only on a raised device; FALSE_ALARM, NORMAL, and the
 * threshold learns the last window's score, so the same data no longer
 * raises. */
static void test_false_alarm(void)
{
	model m;
	det_config cfg;
	det_result r;
	float normal[TF], odd[TF];

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	thr_params_default(&cfg.thr, THR_ADAPTIVE, 0.0f, 0.0f);
	cfg.thr.alpha = 0.5f;
	cfg.alert = (alert_params){.k = 1, .n = 1, .m = 1};
	det *d = make_det(&m, &cfg);
	sample_of(normal, 0.5, 0.5, 0.5);
	sample_of(odd, 0.5, 0.5, 1.3); /* score 0.16 once it fills the window */
	det_command c = {.kind = DET_CMD_FALSE_ALARM, .device = "f"};
	CU_ASSERT_EQUAL(push_n(d, "f", 0, 10, normal, ALERT_EV_RAISED, NULL), 0);
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 10.0, &r), IOTAD_ERR_STATE);
	CU_ASSERT_EQUAL(push_n(d, "f", 10, 4, odd, ALERT_EV_RAISED, NULL), 1);
	det_push(d, "f", 14, odd, &r);
	float before = r.threshold, score = r.score;
	CU_ASSERT_TRUE(score >= before);
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 15.0, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_FALSE_ALARM);
	CU_ASSERT_EQUAL(r.seq, 2);
	CU_ASSERT_EQUAL(r.score, score);
	CU_ASSERT_TRUE(r.threshold > before);   /* the score was learned */
	/* marked false twice is refused: it is no longer raised */
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 15.0, &r), IOTAD_ERR_STATE);
	/* the same data is now this device's normal */
	CU_ASSERT_EQUAL(push_n(d, "f", 15, 500, odd, ALERT_EV_RAISED, NULL), 0);
	det_destroy(d);
	nn_free(&m.net);
}

/* Re-baseline: REBASELINED ends a raise, the window starts afresh (no
 * score until full) and the device learns its current behaviour as its
 * normal (LEARNED after learn_samples), after which it stays normal. */
static void test_rebaseline(void)
{
	model m;
	det_config cfg;
	det_result r;
	float normal[TF], high[TF];

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.prof.channels = 0; /* the lifecycle's own count alone */
	cfg.learn_samples = 300;
	det *d = make_det(&m, &cfg);
	sample_of(normal, 0.5, 0.5, 0.5);
	sample_of(high, 0.9, 0.9, 0.9);
	CU_ASSERT_EQUAL(push_n(d, "b", 0, 300, normal, ALERT_EV_LEARNED, NULL), 1);
	CU_ASSERT_EQUAL(push_n(d, "b", 300, 100, high, ALERT_EV_RAISED, NULL), 1);
	det_command c = {.kind = DET_CMD_REBASELINE, .device = "b"};
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 400.0, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_REBASELINED);
	CU_ASSERT_EQUAL(r.seq, 4);
	CU_ASSERT_EQUAL(det_push(d, "b", 400, high, &r), IOTAD_OK);
	CU_ASSERT_FALSE(r.scored);
	int at;
	CU_ASSERT_EQUAL(push_n(d, "b", 401, 299, high, ALERT_EV_LEARNED, &at), 1);
	CU_ASSERT_EQUAL(at, 298);
	CU_ASSERT_EQUAL(push_n(d, "b", 700, 2000, high, ALERT_EV_RAISED, NULL), 0);
	c.device[0] = 'x';
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 400.0, &r), IOTAD_ERR_NOTFOUND);
	det_destroy(d);
	nn_free(&m.net);
}

/* Adapt: a change that lasts adapt_after seconds becomes the new normal:
 * ADAPTED once, the device re-learns (LEARNED), and the new level no
 * longer raises. A stuck sensor never adapts. */
static void test_adapted(void)
{
	model m;
	det_config cfg;
	float normal[TF], high[TF];

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.prof.channels = 0; /* the lifecycle's own count alone */
	cfg.alert.adapt_after = 600.0;
	cfg.learn_samples = 300;
	cfg.learn_alarms = false;
	det *d = make_det(&m, &cfg);
	sample_of(normal, 0.5, 0.5, 0.5);
	sample_of(high, 0.9, 0.9, 0.9);
	CU_ASSERT_EQUAL(push_n(d, "a", 0, 300, normal, ALERT_EV_LEARNED, NULL), 1);
	int raised_at, adapted_at;
	CU_ASSERT_EQUAL(push_n(d, "a", 300, 599 + TW, high, ALERT_EV_RAISED, &raised_at), 1);
	CU_ASSERT_EQUAL(push_n(d, "a", 899 + TW, 10, high, ALERT_EV_ADAPTED, &adapted_at), 1);
	/* raised on the third anomalous window, adapted 600 s later */
	CU_ASSERT_EQUAL(300 + raised_at + 600, 899 + TW + adapted_at);
	CU_ASSERT_EQUAL(push_n(d, "a", 909 + TW, 300, high, ALERT_EV_LEARNED, NULL), 1);
	CU_ASSERT_EQUAL(push_n(d, "a", 1209 + TW, 5000, high, ALERT_EV_RAISED, NULL), 0);
	det_destroy(d);

	/* adapt_after 0: raised for the whole change */
	cfg.alert.adapt_after = 0.0;
	d = make_det(&m, &cfg);
	CU_ASSERT_EQUAL(push_n(d, "a", 0, 300, normal, ALERT_EV_LEARNED, NULL), 1);
	CU_ASSERT_EQUAL(push_n(d, "a", 300, 5000, high, ALERT_EV_RAISED, NULL), 1);
	CU_ASSERT_EQUAL(push_n(d, "a", 5300, 5000, high, ALERT_EV_ADAPTED, NULL), 0);
	det_destroy(d);

	/* stuck for longer than adapt_after: a fault, never adapted */
	m.stuck_after[0] = 8;
	cfg.alert.adapt_after = 600.0;
	cfg.learn_samples = 0;
	d = make_det(&m, &cfg);
	det_result r;
	float v[TF];
	int raised = 0, adapted = 0;
	for (int i = 0; i < 3000; i++) {
		sample_of(v, i < 100 ? 0.5 + 0.01 * (i % 3) : 0.7, 0.5, 0.5);
		det_push(d, "s", i, v, &r);
		raised += r.event == ALERT_EV_RAISED;
		adapted += r.event == ALERT_EV_ADAPTED;
	}
	CU_ASSERT_EQUAL(raised, 1);
	CU_ASSERT_EQUAL(adapted, 0);
	det_destroy(d);
	nn_free(&m.net);
}

/* Stale on the device's own time: a gap in its timestamps longer than
 * stale_after, arriving without a pause on the caller's clock, reports the
 * stale (at its last sample before the gap) and the resumption on the
 * same sample; the window starts afresh. Muted devices have no gaps. */
static void test_stale_on_data_time(void)
{
	model m;
	det_config cfg;
	det_result r;
	float raw[TF];

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.stale_after = 10.0;
	det *d = make_det(&m, &cfg);
	sample_of(raw, 0.5, 0.5, 0.5);
	for (int i = 0; i < 6; i++) {
		CU_ASSERT_EQUAL(det_push_at(d, "g", 100 + 2 * i, 0.001 * i, raw, &r), IOTAD_OK);
		CU_ASSERT_FALSE(r.gap);
	}
	/* 110 -> 120 is exactly 10 s: not a gap; 120 -> 130.5 is */
	CU_ASSERT_EQUAL(det_push_at(d, "g", 120, 0.01, raw, &r), IOTAD_OK);
	CU_ASSERT_FALSE(r.gap);
	CU_ASSERT_TRUE(r.scored);
	CU_ASSERT_EQUAL(det_push_at(d, "g", 130.5, 0.011, raw, &r), IOTAD_OK);
	CU_ASSERT_TRUE(r.gap);
	CU_ASSERT_EQUAL(r.gap_ts, 120.0);
	CU_ASSERT_EQUAL(r.gap_seq, 1);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_CLEARED);
	CU_ASSERT_EQUAL(r.seq, 2);
	CU_ASSERT_FALSE(r.scored);
	for (int i = 1; i < TW; i++) {
		CU_ASSERT_EQUAL(det_push_at(d, "g", 130.5 + i, 0.012, raw, &r), IOTAD_OK);
		CU_ASSERT_FALSE(r.gap);
		CU_ASSERT_EQUAL(r.scored, i == TW - 1);
	}
	/* a muted device may be switched off: its gap is not a stale */
	det_command c = {.kind = DET_CMD_MUTE, .device = "g", .seconds = 3600};
	CU_ASSERT_EQUAL(det_command_apply(d, &c, 0.02, &r), IOTAD_OK);
	CU_ASSERT_EQUAL(det_push_at(d, "g", 500, 0.03, raw, &r), IOTAD_OK);
	CU_ASSERT_FALSE(r.gap);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_NONE);
	/* stale_after 0: no gap is ever one */
	det_destroy(d);
	cfg.stale_after = 0.0;
	d = make_det(&m, &cfg);
	det_push(d, "g", 1, raw, &r);
	CU_ASSERT_EQUAL(det_push(d, "g", 1e6, raw, &r), IOTAD_OK);
	CU_ASSERT_FALSE(r.gap);
	det_destroy(d);
	nn_free(&m.net);
}

/* A pause of the caller's clock (the broker away) is taken off every
 * device's silence, never beyond now. */
static void test_shift_seen(void)
{
	model m;
	det_config cfg;
	float raw[TF];
	struct ev_log log = {0};

	CU_ASSERT_EQUAL_FATAL(build_model(&m, TW, 1, 0.1f), IOTAD_OK);
	det_config_default(&cfg);
	cfg.stale_after = 10.0;
	det *d = make_det(&m, &cfg);
	sample_of(raw, 0.5, 0.5, 0.5);
	det_push_at(d, "p", 1, 100.0, raw, NULL);   /* seen at 100 */
	det_push_at(d, "q", 1, 124.0, raw, NULL);   /* seen at 124, during the outage */
	/* the broker away from 105 to 125: 20 s not counted */
	det_shift_seen(d, 20.0, 125.0);
	det_sweep(d, 126.0, on_event, &log);         /* p: 6 s of silence counted */
	CU_ASSERT_EQUAL(log.calls, 0);
	det_sweep(d, 130.0, on_event, &log);
	CU_ASSERT_EQUAL(log.calls, 0);
	det_sweep(d, 135.5, on_event, &log);         /* p and q (shifted to 125, not 144) */
	CU_ASSERT_EQUAL(log.calls, 2);
	/* the gap in q's own time over the outage is forgiven once: its data
	 * time jumps 25 s (20 s of outage), then 11 s */
	det_result r;
	det_push_at(d, "q", 2, 136.0, raw, &r);
	CU_ASSERT_EQUAL(r.event, ALERT_EV_CLEARED); /* the wall-clock stale above */
	det_shift_seen(d, 20.0, 137.0);
	CU_ASSERT_EQUAL(det_push_at(d, "q", 27, 137.5, raw, &r), IOTAD_OK);
	CU_ASSERT_FALSE(r.gap);
	CU_ASSERT_EQUAL(det_push_at(d, "q", 38, 138.0, raw, &r), IOTAD_OK);
	CU_ASSERT_TRUE(r.gap);
	det_shift_seen(d, NAN, 200.0);
	det_shift_seen(d, -5.0, 200.0);
	det_shift_seen(NULL, 5.0, 200.0);
	det_destroy(d);
	nn_free(&m.net);
}

void init_detector_tests(void)
{
	CU_pSuite s = CU_add_suite("detector", NULL, NULL);
	TEST_ADD(s, test_config_default);
	TEST_ADD(s, test_create_validation);
	TEST_ADD(s, test_scoring_schedule);
	TEST_ADD(s, test_score_closed_form);
	TEST_ADD(s, test_contrib_blame_and_zero);
	TEST_ADD(s, test_device_cap_and_ids);
	TEST_ADD(s, test_many_devices);
	TEST_ADD(s, test_raise_then_clear);
	TEST_ADD(s, test_threshold_from_model);
	TEST_ADD(s, test_stale_and_resume);
	TEST_ADD(s, test_push_at_clock);
	TEST_ADD(s, test_evict);
	TEST_ADD(s, test_lru_evict);
	TEST_ADD(s, test_score_window);
	TEST_ADD(s, test_bytes_per_device);
	TEST_ADD(s, test_threshold_kinds);
	TEST_ADD(s, test_score_ewma);
	TEST_ADD(s, test_out_of_order);
	TEST_ADD(s, test_late_samples);
	TEST_ADD(s, test_seq_base);
	TEST_ADD(s, test_stuck);
	TEST_ADD(s, test_ensemble_score);
	TEST_ADD(s, test_custom_scorer);
	TEST_ADD(s, test_learning);
	TEST_ADD(s, test_learning_own_normal);
	TEST_ADD(s, test_learning_with_profile);
	TEST_ADD(s, test_mute);
	TEST_ADD(s, test_false_alarm);
	TEST_ADD(s, test_rebaseline);
	TEST_ADD(s, test_adapted);
	TEST_ADD(s, test_stale_on_data_time);
	TEST_ADD(s, test_shift_seen);
}
