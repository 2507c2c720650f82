/* test_state.c - unit tests of the detector state file: a detector saved
 * and loaded mid-stream continues exactly as the uninterrupted one; every
 * truncation and every single-byte corruption is refused; a file of
 * another model, shape or threshold is refused as a mismatch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/detector.h"
#include "iotad/state.h"
#include "test.h"
#include "test_rng.h"

#define SW 5
#define SF 2
#define SCALIB 1000

/* A window-5, 2-feature model with seeded random weights and a sorted
 * calibration set, enough for DSPOT to fit its tail. */
static void build_model(model *m, const char *id, int version, int window)
{
	int sizes[3] = {window * SF, 3, window * SF};
	nn_act act[2] = {NN_RELU, NN_SIGMOID};

	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "%s", id);
	m->version = version;
	m->n_features = SF;
	strcpy(m->features[0], "a");
	strcpy(m->features[1], "b");
	m->window = window;
	m->stride = 1;
	m->norm = NORM_MINMAX;
	for (int f = 0; f < SF; f++) {
		m->norm_a[f] = 0.0f;
		m->norm_b[f] = 1.0f;
	}
	CU_ASSERT_EQUAL_FATAL(nn_init(&m->net, 2, sizes, act), IOTAD_OK);
	nn_init_weights(&m->net, 7);
	m->calib = malloc(SCALIB * sizeof *m->calib);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->calib);
	m->n_calib = SCALIB;
	for (int i = 0; i < SCALIB; i++) /* sorted, with a long upper tail */
		m->calib[i] = 0.01f + 0.02f * (float)i / SCALIB + (i > 900 ? 0.0004f * (i - 900) : 0.0f);
	m->threshold = m->calib[SCALIB - 5];
	m->percentile = 99.0f;
}

static bool lifecycle_on; /* make() turns on learning, hold, quiet and adapt */

static det *make(const model *m, thr_kind kind, uint32_t max_devices)
{
	det_config cfg;
	det *d = NULL;

	det_config_default(&cfg);
	cfg.prof.channels = 0; /* the autoencoder alone */
	if (lifecycle_on) {
		cfg.learn_samples = 12;
		cfg.alert.hold = 20.0;
		cfg.alert.quiet = 4.0;
		cfg.alert.adapt_after = 500.0;
	}
	cfg.max_devices = max_devices;
	thr_params_default(&cfg.thr, kind, 0.0f, 0.0f);
	cfg.thr.peaks = 16;
	cfg.thr.depth = 8;
	CU_ASSERT_EQUAL_FATAL(det_create(m, &cfg, &d), IOTAD_OK);
	return d;
}

/* Sample t of device i: noise around a per-device level, with a burst of
 * out-of-range values on device 1 that raises an alert. */
static void sample(uint64_t *r, int i, int t, float *raw)
{
	double burst = (i == 1 && t >= 60 && t < 75) ? 0.9 : 0.0;
	raw[0] = (float)(0.3 + 0.05 * i + 0.02 * trng_normal(r) + burst);
	raw[1] = (float)(0.6 - 0.03 * i + 0.02 * trng_normal(r) - burst);
}

static void feed(det *d, uint64_t *r, int t0, int t1, det_result *out)
{
	char id[16];
	float raw[SF];
	for (int t = t0; t < t1; t++)
		for (int i = 0; i < 4; i++) {
			snprintf(id, sizeof id, "dev-%d", i);
			sample(r, i, t, raw);
			det_result *res = out ? &out[(t - t0) * 4 + i] : NULL;
			CU_ASSERT_EQUAL(det_push(d, id, 1000.0 + t, raw, res), IOTAD_OK);
		}
}

static const char *tmp_path(void)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/iotad-state-%d.bin", (int)getpid());
	return path;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	unsigned char *buf = malloc(*len);
	CU_ASSERT_EQUAL_FATAL(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

static void test_crc32(void)
{
	/* the standard check value of CRC-32/ISO-HDLC */
	CU_ASSERT_EQUAL(state_crc32(0, "123456789", 9), 0xCBF43926u);
	CU_ASSERT_EQUAL(state_crc32(state_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
	CU_ASSERT_EQUAL(state_crc32(0, "", 0), 0u);
}

typedef struct dev_list {
	int n;
	det_device_state st[8];
} dev_list;

static iotad_err collect(void *ud, const det_device_state *st, const float *floats)
{
	dev_list *l = ud;
	(void)floats;
	if (l->n < 8)
		l->st[l->n++] = *st;
	return IOTAD_OK;
}

/* Devices of a and b whose exported state is the same, field by field;
 * -1 if they hold different numbers of devices. */
static int same_devices(const det *a, const det *b)
{
	dev_list la = {0}, lb = {0};
	float *buf = calloc(det_state_floats(a) + 1, sizeof *buf);
	det_foreach(a, buf, collect, &la);
	det_foreach(b, buf, collect, &lb);
	free(buf);
	if (la.n != lb.n)
		return -1;
	int same = 0;
	for (int i = 0; i < la.n; i++) {
		const det_device_state *x = &la.st[i], *y = &lb.st[i];
		bool score_same = x->last_score == y->last_score ||
				  (x->last_score != x->last_score && y->last_score != y->last_score);
		same += !strcmp(x->id, y->id) && x->seq == y->seq && x->samples == y->samples &&
			x->learning == y->learning && x->muted_until == y->muted_until &&
			score_same && x->alert.status == y->alert.status &&
			x->alert.history == y->alert.history &&
			x->alert.raised_at == y->alert.raised_at &&
			x->alert.normal_since == y->alert.normal_since &&
			x->alert.adapt_from == y->alert.adapt_from && x->last_ts == y->last_ts;
	}
	return same;
}

/* Save mid-stream (an alert open), load into a fresh detector, continue
 * both with the same samples: every result is identical. */
static void round_trip(thr_kind kind)
{
	model m;
	build_model(&m, "st-model", 3, SW);
	det *a = make(&m, kind, 100);
	uint64_t r1, r2;
	r1 = 42;
	det_result mid[4];
	feed(a, &r1, 0, 66, NULL);
	feed(a, &r1, 66, 67, mid);
	size_t saved = 0;
	char err[512];
	CU_ASSERT_EQUAL_FATAL(state_save(a, tmp_path(), &saved, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(saved, 4);
	CU_ASSERT_EQUAL(access(tmp_path(), F_OK), 0);

	/* size: header (104 bytes) + 4 fixed-size records + CRC */
	size_t len;
	unsigned char *buf = slurp(tmp_path(), &len);
	size_t rec = 128 + 4 + 4 + 8 + 8 + 8 + 8 + 46 + 44 + 4 * det_state_floats(a);
	CU_ASSERT_EQUAL(len, 104 + 4 * rec + 4);
	free(buf);

	det *b = make(&m, kind, 100);
	size_t loaded = 0;
	CU_ASSERT_EQUAL_FATAL(state_load(b, tmp_path(), &loaded, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(loaded, 4);
	CU_ASSERT_EQUAL(det_device_count(b), 4);
	CU_ASSERT_EQUAL(same_devices(a, b), 4);

	r2 = r1;
	enum { N = 60 };
	det_result *ra = calloc(N * 4, sizeof *ra), *rb = calloc(N * 4, sizeof *rb);
	feed(a, &r1, 67, 67 + N, ra);
	feed(b, &r2, 67, 67 + N, rb);
	int events = 0, diffs = 0;
	for (int i = 0; i < N * 4; i++) {
		diffs += ra[i].scored != rb[i].scored || ra[i].score != rb[i].score ||
			 ra[i].threshold != rb[i].threshold || ra[i].event != rb[i].event ||
			 ra[i].seq != rb[i].seq || ra[i].anomalous != rb[i].anomalous;
		events += ra[i].event != ALERT_EV_NONE;
	}
	CU_ASSERT_EQUAL(diffs, 0);
	/* the burst on dev-1 was raised before the save and clears after it */
	CU_ASSERT_TRUE(events >= 1);
	int cleared = 0;
	for (int i = 0; i < N * 4; i++)
		if (ra[i].event == ALERT_EV_CLEARED) {
			cleared++;
			CU_ASSERT_EQUAL(i % 4, 1);
			CU_ASSERT_EQUAL(rb[i].seq, 2); /* raised was 1, before the save */
		}
	CU_ASSERT_EQUAL(cleared, 1);
	free(ra);
	free(rb);
	det_destroy(a);
	det_destroy(b);
	model_free(&m);
	unlink(tmp_path());
}

/* The lifecycle survives a restart: a device muted and one learning (the
 * others raised and held) continue exactly as without the restart, and
 * the mute ends at the same sample. */
static void test_round_trip_lifecycle(void)
{
	model m;
	build_model(&m, "st-model", 3, SW);
	lifecycle_on = true;
	det *a = make(&m, THR_ADAPTIVE, 100);
	uint64_t r1 = 5, r2;
	feed(a, &r1, 0, 66, NULL);
	det_command c = {.kind = DET_CMD_MUTE, .device = "dev-2", .seconds = 30.0};
	det_result res;
	CU_ASSERT_EQUAL(det_command_apply(a, &c, 1066.0, &res), IOTAD_OK);
	CU_ASSERT_EQUAL(res.event, ALERT_EV_MUTED);
	c = (det_command){.kind = DET_CMD_REBASELINE, .device = "dev-3"};
	CU_ASSERT_EQUAL(det_command_apply(a, &c, 1066.0, &res), IOTAD_OK);
	char err[512];
	CU_ASSERT_EQUAL_FATAL(state_save(a, tmp_path(), NULL, err, sizeof err), IOTAD_OK);
	det *b = make(&m, THR_ADAPTIVE, 100);
	CU_ASSERT_EQUAL_FATAL(state_load(b, tmp_path(), NULL, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(same_devices(a, b), 4);
	r2 = r1;
	enum { N = 60 };
	det_result ra[N * 4], rb[N * 4];
	feed(a, &r1, 66, 66 + N, ra);
	feed(b, &r2, 66, 66 + N, rb);
	int diffs = 0, unmuted = 0, learned = 0;
	for (int i = 0; i < N * 4; i++) {
		diffs += ra[i].score != rb[i].score || ra[i].event != rb[i].event ||
			 ra[i].seq != rb[i].seq || ra[i].threshold != rb[i].threshold;
		unmuted += ra[i].event == ALERT_EV_UNMUTED && i % 4 == 2;
		learned += ra[i].event == ALERT_EV_LEARNED && i % 4 == 3;
	}
	CU_ASSERT_EQUAL(diffs, 0);
	CU_ASSERT_EQUAL(unmuted, 1);
	CU_ASSERT_EQUAL(learned, 1);
	lifecycle_on = false;
	det_destroy(a);
	det_destroy(b);
	model_free(&m);
	unlink(tmp_path());
}

/* Rewrite a version 4 file (without profiles) as version 2 (each record
 * without its lifecycle) or 1 (also without the header's profile count). */
static size_t to_version(unsigned char *buf, size_t len, size_t nf, int version)
{
	const size_t hdr1 = 8 + 4 + MODEL_NAME_MAX + 4 + 5 * 4, hdr3 = hdr1 + 4;
	const size_t v1 = DET_DEVICE_ID_MAX + 4 + 4 + 8 + 8 + 8 + 8 + 46, life = 44;
	size_t rec3 = v1 + life + 4 * nf, n = (len - hdr3 - 4) / rec3;
	size_t out = version == 1 ? hdr1 : hdr3;
	buf[8] = (unsigned char)version; /* little endian */
	for (size_t i = 0; i < n; i++) {
		const unsigned char *r = buf + hdr3 + i * rec3;
		memmove(buf + out, r, v1);
		memmove(buf + out + v1, r + v1 + life, 4 * nf);
		out += v1 + 4 * nf;
	}
	uint32_t crc = state_crc32(0, buf, out);
	for (int i = 0; i < 4; i++)
		buf[out + i] = (unsigned char)(crc >> (8 * i));
	return out + 4;
}

/* Version 1 and 2 files still load: their devices have learned, are not
 * muted, and an open alert stays open without a second raise. */
static void reads_version(int version)
{
	model m;
	build_model(&m, "st-model", 3, SW);
	det *a = make(&m, THR_ADAPTIVE, 100);
	uint64_t r1 = 42, r2;
	feed(a, &r1, 0, 67, NULL);
	char err[512];
	CU_ASSERT_EQUAL_FATAL(state_save(a, tmp_path(), NULL, err, sizeof err), IOTAD_OK);
	size_t len;
	unsigned char *buf = slurp(tmp_path(), &len);
	len = to_version(buf, len, det_state_floats(a), version);
	det *b = make(&m, THR_ADAPTIVE, 100);
	size_t loaded = 0;
	CU_ASSERT_EQUAL(state_load_buffer(b, buf, len, &loaded, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(loaded, 4);
	r2 = r1;
	det_result ra[40 * 4], rb[40 * 4];
	feed(a, &r1, 67, 107, ra);
	feed(b, &r2, 67, 107, rb);
	int diffs = 0, raised = 0;
	for (int i = 0; i < 40 * 4; i++) {
		diffs += ra[i].event != rb[i].event || ra[i].seq != rb[i].seq;
		raised += rb[i].event == ALERT_EV_RAISED;
	}
	CU_ASSERT_EQUAL(diffs, 0);
	CU_ASSERT_EQUAL(raised, 0);
	/* a version this iotad does not know is refused as a mismatch */
	buf[8] = STATE_FORMAT_VERSION + 1;
	uint32_t crc = state_crc32(0, buf, len - 4);
	for (int i = 0; i < 4; i++)
		buf[len - 4 + i] = (unsigned char)(crc >> (8 * i));
	det *c = make(&m, THR_ADAPTIVE, 100);
	CU_ASSERT_EQUAL(state_load_buffer(c, buf, len, NULL, err, sizeof err), IOTAD_ERR_MODEL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "format version 5"));
	free(buf);
	det_destroy(a);
	det_destroy(b);
	det_destroy(c);
	model_free(&m);
	unlink(tmp_path());
}

/* Sum of the absolute profile floats of every device. */
static iotad_err sum_prof(void *ud, const det_device_state *st, const float *fl)
{
	(void)st;
	double *acc = ud; /* acc[0]: the sum, acc[1]: profile floats, acc[2]: all */
	for (size_t i = (size_t)acc[2] - (size_t)acc[1]; i < (size_t)acc[2]; i++)
		acc[0] += fabs(fl[i]);
	return IOTAD_OK;
}

static double prof_mass(const det *d)
{
	double acc[3] = {0.0, (double)det_prof_floats(d), (double)det_state_floats(d)};
	float *buf = malloc(det_state_floats(d) * sizeof *buf);
	CU_ASSERT_EQUAL(det_foreach(d, buf, sum_prof, acc), IOTAD_OK);
	free(buf);
	return acc[0];
}

/* A version 3 file's profiles had another layout: its devices load with
 * everything but the profile, which starts afresh; version 4 keeps it. */
static void test_reads_version3_profiles_afresh(void)
{
	model m;
	build_model(&m, "st-model", 3, SW);
	det_config cfg;
	det_config_default(&cfg);
	cfg.max_devices = 100;
	det *a = NULL, *b = NULL, *c = NULL;
	CU_ASSERT_EQUAL_FATAL(det_create(&m, &cfg, &a), IOTAD_OK);
	CU_ASSERT_FATAL(det_prof_floats(a) > 0);
	uint64_t r = 42;
	feed(a, &r, 0, 67, NULL);
	CU_ASSERT(prof_mass(a) > 0.0);
	char err[512];
	CU_ASSERT_EQUAL_FATAL(state_save(a, tmp_path(), NULL, err, sizeof err), IOTAD_OK);
	size_t len, loaded = 0;
	unsigned char *buf = slurp(tmp_path(), &len);
	CU_ASSERT_EQUAL_FATAL(det_create(&m, &cfg, &b), IOTAD_OK);
	CU_ASSERT_EQUAL(state_load_buffer(b, buf, len, &loaded, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(loaded, 4);
	CU_ASSERT_DOUBLE_EQUAL(prof_mass(b), prof_mass(a), 1e-6 * prof_mass(a));
	buf[8] = 3;
	uint32_t crc = state_crc32(0, buf, len - 4);
	for (int i = 0; i < 4; i++)
		buf[len - 4 + i] = (unsigned char)(crc >> (8 * i));
	CU_ASSERT_EQUAL_FATAL(det_create(&m, &cfg, &c), IOTAD_OK);
	loaded = 0;
	CU_ASSERT_EQUAL(state_load_buffer(c, buf, len, &loaded, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(loaded, 4);
	CU_ASSERT_EQUAL(prof_mass(c), 0.0);
	free(buf);
	det_destroy(a);
	det_destroy(b);
	det_destroy(c);
	model_free(&m);
	unlink(tmp_path());
}

static void test_reads_version1(void)
{
	reads_version(1);
}

static void test_reads_version2(void)
{
	reads_version(2);
}

static void test_round_trip_dspot(void)
{
	round_trip(THR_DSPOT);
}

static void test_round_trip_adaptive(void)
{
	round_trip(THR_ADAPTIVE);
}

/* A saved state of 2 devices of model (id, version), window SW, dspot. */
static unsigned char *saved_state(size_t *len)
{
	model m;
	build_model(&m, "st-model", 3, SW);
	det *a = make(&m, THR_DSPOT, 100);
	uint64_t r;
	r = 9;
	float raw[SF];
	for (int t = 0; t < 20; t++) {
		sample(&r, 0, t, raw);
		det_push(a, "x", t, raw, NULL);
		det_push(a, "y", t, raw, NULL);
	}
	char err[256];
	CU_ASSERT_EQUAL_FATAL(state_save(a, tmp_path(), NULL, err, sizeof err), IOTAD_OK);
	unsigned char *buf = slurp(tmp_path(), len);
	unlink(tmp_path());
	det_destroy(a);
	model_free(&m);
	return buf;
}

static void test_truncated_and_corrupted(void)
{
	size_t len;
	unsigned char *buf = saved_state(&len);
	model m;
	build_model(&m, "st-model", 3, SW);
	char err[512];
	size_t loaded = 1;

	det *d = make(&m, THR_DSPOT, 100);
	CU_ASSERT_EQUAL(state_load_buffer(d, buf, len, &loaded, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(loaded, 2);
	det_destroy(d);

	int bad = 0;
	for (size_t n = 0; n < len; n++) {
		d = make(&m, THR_DSPOT, 100);
		bad += state_load_buffer(d, buf, n, &loaded, err, sizeof err) == IOTAD_ERR_PARSE &&
		       loaded == 0 && det_device_count(d) == 0;
		det_destroy(d);
	}
	CU_ASSERT_EQUAL(bad, (int)len);
	bad = 0;
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x5a;
		d = make(&m, THR_DSPOT, 100);
		bad += state_load_buffer(d, buf, len, &loaded, err, sizeof err) == IOTAD_ERR_PARSE &&
		       det_device_count(d) == 0;
		det_destroy(d);
		buf[i] ^= 0x5a;
	}
	CU_ASSERT_EQUAL(bad, (int)len);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "CRC mismatch"));

	/* a record inconsistent with the detector behind a valid CRC:
	 * ring_count (after the 128-byte id and since_score) beyond the window */
	unsigned char *p = buf + 104 + 128 + 4;
	p[0] = SW + 1;
	uint32_t crc = state_crc32(0, buf, len - 4);
	for (int i = 0; i < 4; i++)
		buf[len - 4 + i] = (unsigned char)(crc >> (8 * i));
	d = make(&m, THR_DSPOT, 100);
	CU_ASSERT_EQUAL(state_load_buffer(d, buf, len, &loaded, err, sizeof err), IOTAD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "device record 0 is inconsistent"));
	det_destroy(d);

	d = make(&m, THR_DSPOT, 100);
	CU_ASSERT_EQUAL(state_load(d, "/nonexistent/state.bin", &loaded, err, sizeof err),
			IOTAD_ERR_NOTFOUND);
	det_destroy(d);
	free(buf);
	model_free(&m);
}

static void test_mismatch(void)
{
	size_t len;
	unsigned char *buf = saved_state(&len);
	char err[512];
	size_t loaded = 1;
	static const struct {
		const char *id;
		int version, window;
		thr_kind kind;
		const char *says;
	} cases[] = {
		{"other", 3, SW, THR_DSPOT, "written for model st-model v3 (window 5 x 2), running other v3"},
		{"st-model", 4, SW, THR_DSPOT, "running st-model v4"},
		{"st-model", 3, SW + 1, THR_DSPOT, "running st-model v3 (window 6 x 2)"},
		{"st-model", 3, SW, THR_ADAPTIVE, "written for threshold dspot with 24 history floats, running adaptive with 0"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		model m;
		build_model(&m, cases[i].id, cases[i].version, cases[i].window);
		det *d = make(&m, cases[i].kind, 100);
		CU_ASSERT_EQUAL(state_load_buffer(d, buf, len, &loaded, err, sizeof err),
				IOTAD_ERR_MODEL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].says));
		if (!strstr(err, cases[i].says))
			fprintf(stderr, "\n%s\n", err);
		CU_ASSERT_EQUAL(loaded, 0);
		CU_ASSERT_EQUAL(det_device_count(d), 0);
		det_destroy(d);
		model_free(&m);
	}
	free(buf);
}

static iotad_err keep_id(void *ud, const det_device_state *st, const float *floats)
{
	(void)floats;
	snprintf(ud, DET_DEVICE_ID_MAX, "%s", st->id);
	return IOTAD_OK;
}

/* A smaller table keeps the most recently seen devices (LRU import order). */
static void test_smaller_table(void)
{
	size_t len;
	unsigned char *buf = saved_state(&len);
	model m;
	build_model(&m, "st-model", 3, SW);
	det *d = make(&m, THR_DSPOT, 1);
	size_t loaded = 0;
	char err[256];
	CU_ASSERT_EQUAL(state_load_buffer(d, buf, len, &loaded, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(det_device_count(d), 1);
	CU_ASSERT_EQUAL(det_evictions(d), 1);
	float *fl = calloc(det_state_floats(d), sizeof *fl);
	char last[DET_DEVICE_ID_MAX] = "";
	CU_ASSERT_EQUAL(det_foreach(d, fl, keep_id, last), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(last, "y"); /* y was pushed after x at every step */
	det_destroy(d);
	free(fl);
	free(buf);
	model_free(&m);
}

/* A reload's takeover: same input keeps the windows (the next sample
 * scores exactly as before), another window refills them; seq and the
 * open alert are kept either way. */
static void test_adopt(void)
{
	model m, same, wide;
	build_model(&m, "st-model", 3, SW);
	build_model(&same, "st-model-b", 4, SW);
	build_model(&wide, "st-wide", 1, SW + 1);
	det *a = make(&m, THR_ADAPTIVE, 100);
	uint64_t r = 42;
	feed(a, &r, 0, 67, NULL);
	det_result ra, rb, rc;
	float raw[SF];
	uint64_t r2 = r;
	sample(&r2, 1, 80, raw);

	det *b = make(&same, THR_ADAPTIVE, 100), *c = make(&wide, THR_ADAPTIVE, 100);
	bool kept = false;
	CU_ASSERT_EQUAL(det_adopt(b, a, &kept), IOTAD_OK);
	CU_ASSERT_TRUE(kept);
	CU_ASSERT_EQUAL(det_adopt(c, a, &kept), IOTAD_OK);
	CU_ASSERT_FALSE(kept);
	CU_ASSERT_EQUAL(det_device_count(b), 4);
	CU_ASSERT_EQUAL(det_device_count(c), 4);
	/* identical weights (same seed and shape): the same window, the same score */
	CU_ASSERT_EQUAL(det_push(a, "dev-1", 2000.0, raw, &ra), IOTAD_OK);
	CU_ASSERT_EQUAL(det_push(b, "dev-1", 2000.0, raw, &rb), IOTAD_OK);
	CU_ASSERT_EQUAL(det_push(c, "dev-1", 2000.0, raw, &rc), IOTAD_OK);
	CU_ASSERT_TRUE(ra.scored && rb.scored);
	CU_ASSERT_EQUAL(ra.score, rb.score);
	CU_ASSERT_FALSE(rc.scored); /* one sample in a fresh 6-sample window */
	/* dev-1's open alert (raised, seq 1) clears in all three with seq 2 */
	int cleared[3] = {0, 0, 0};
	for (int t = 0; t < 30; t++) {
		det *all[3] = {a, b, c};
		for (int k = 0; k < 3; k++) {
			uint64_t rr = r + (uint64_t)t;
			det_result x;
			sample(&rr, 1, 100, raw);
			det_push(all[k], "dev-1", 2001.0 + t, raw, &x);
			if (x.event == ALERT_EV_CLEARED) {
				cleared[k]++;
				CU_ASSERT_EQUAL(x.seq, 2);
			}
			CU_ASSERT_NOT_EQUAL(x.event, ALERT_EV_RAISED);
		}
	}
	CU_ASSERT_TRUE(cleared[0] == 1 && cleared[1] == 1 && cleared[2] == 1);
	det_destroy(a);
	det_destroy(b);
	det_destroy(c);
	model_free(&m);
	model_free(&same);
	model_free(&wide);
}

void init_state_tests(void)
{
	CU_pSuite s = CU_add_suite("state", NULL, NULL);
	TEST_ADD(s, test_crc32);
	TEST_ADD(s, test_round_trip_dspot);
	TEST_ADD(s, test_round_trip_adaptive);
	TEST_ADD(s, test_round_trip_lifecycle);
	TEST_ADD(s, test_reads_version1);
	TEST_ADD(s, test_reads_version2);
	TEST_ADD(s, test_reads_version3_profiles_afresh);
	TEST_ADD(s, test_truncated_and_corrupted);
	TEST_ADD(s, test_mismatch);
	TEST_ADD(s, test_smaller_table);
	TEST_ADD(s, test_adopt);
}
