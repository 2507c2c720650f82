/* test_season.c - the seasonal channel: its period found on seeded series
 * (daily at 5 minutes, a period that is not a whole number of blocks),
 * none on noise or a random walk, a bound on false raises over a month of
 * normal data, each break of the pattern (a day without its cycle, a
 * cycle hours late, a smaller swing) caught, the re-baseline, and the
 * channel through the detector. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/detector.h"
#include "iotad/season.h"
#include "test.h"
#include "test_rng.h"

#define SEEDS 20

static double normal01(uint64_t *s)
{
	double u = trng_unit(s), v = trng_unit(s);
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* A daily-like wave of period T samples: 20 + 5 sin + noise 0.5. */
static float wave(uint64_t *rs, long i, double T)
{
	return (float)(20.0 + 5.0 * sin(2.0 * M_PI * (double)i / T) + 0.5 * normal01(rs));
}

static float *fresh(uint32_t learn, season_params *p)
{
	season_params_default(p);
	p->on = true;
	p->learn = learn;
	return calloc(season_floats(1), sizeof(float));
}

static void test_params(void)
{
	season_params p;
	const char *why = NULL;
	season_params_default(&p);
	CU_ASSERT_FALSE(p.on);
	CU_ASSERT_EQUAL(season_params_check(&p, &why), IOTAD_OK);
	CU_ASSERT_PTR_NULL(why);
	p.margin = 0.5f;
	CU_ASSERT_EQUAL(season_params_check(&p, &why), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "margin"));
	season_params_default(&p);
	p.learn = 0;
	CU_ASSERT_EQUAL(season_params_check(&p, &why), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "learn"));
	season_params_default(&p);
	p.acf_min = 1.0f;
	CU_ASSERT_EQUAL(season_params_check(&p, &why), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(season_floats(1), 2 + 13 + SEASON_BLOCKS);
}

/* Learn learn samples of a wave of period T; the period found. */
static float learn_wave(uint64_t seed, double T, uint32_t learn)
{
	season_params p;
	float *st = fresh(learn, &p);
	uint64_t rs = seed;
	season_out o;
	for (long i = 0; i < (long)learn; i++) {
		float x = wave(&rs, i, T);
		season_step(&p, 1, st, &x, &o);
		CU_ASSERT_FALSE(o.judging || o.fired);
	}
	float got = season_period(&p, 1, st, 0);
	CU_ASSERT(season_state_ok(&p, 1, st));
	free(st);
	return got;
}

static void test_period(void)
{
	for (uint64_t s = 1; s <= SEEDS; s++) {
		/* three days at 5 minutes: blocks of 4 samples, 72 a day */
		CU_ASSERT_DOUBLE_EQUAL(learn_wave(s, 288.0, 864), 288.0, 0.51);
		/* a period of 12.5 blocks: found to an eighth of a block */
		CU_ASSERT_DOUBLE_EQUAL(learn_wave(s, 50.0, 600), 50.0, 0.51);
		/* a long learning (blocks of 16 samples) */
		CU_ASSERT_DOUBLE_EQUAL(learn_wave(s, 288.0, 3000), 288.0, 2.01);
	}
	/* a learning too short to hold two periods finds none and judges nothing */
	CU_ASSERT_EQUAL(learn_wave(1, 288.0, 5), 0.0f);
	CU_ASSERT_EQUAL(learn_wave(1, 288.0, 400), 0.0f);
	/* no period in white noise nor in a random walk */
	for (uint64_t s = 1; s <= SEEDS; s++) {
		season_params p;
		float *st = fresh(2000, &p), *st2 = calloc(season_floats(1), sizeof(float));
		uint64_t rs = s;
		season_out o;
		float walk = 0.0f;
		for (long i = 0; i < 2000; i++) {
			float x = (float)normal01(&rs);
			walk += (float)normal01(&rs);
			season_step(&p, 1, st, &x, &o);
			season_step(&p, 1, st2, &walk, &o);
		}
		CU_ASSERT_EQUAL(season_period(&p, 1, st, 0), 0.0f);
		CU_ASSERT_EQUAL(season_period(&p, 1, st2, 0), 0.0f);
		float x = 0.0f;
		season_step(&p, 1, st, &x, &o);
		CU_ASSERT_FALSE(o.judging);
		free(st);
		free(st2);
	}
}

/* Raises (fired after a sample that had not) over days of normal wave
 * after three days of learning, summed over the seeds. */
static void test_false_raises(void)
{
	long raises = 0, fired = 0, n = 0;
	for (uint64_t s = 1; s <= SEEDS; s++) {
		season_params p;
		float *st = fresh(864, &p);
		uint64_t rs = s * 7919;
		season_out o;
		bool before = false;
		for (long i = 0; i < 864 + 30 * 288; i++) {
			float x = wave(&rs, i, 288.0);
			season_step(&p, 1, st, &x, &o);
			if (i < 864)
				continue;
			CU_ASSERT_TRUE(o.judging);
			raises += o.fired && !before;
			fired += o.fired;
			before = o.fired;
			n++;
		}
		free(st);
	}
	/* 600 series-days: at most one raise in 100 days, 0.1 % of samples */
	CU_ASSERT(raises <= 6);
	CU_ASSERT(fired <= n / 1000);
}

enum brk { BRK_FLAT = 0, BRK_SHIFT, BRK_SMALL, BRK_COUNT };

/* A day from day 6 (after three learned) broken as k says; whether the
 * channel fired inside it, and the first sample it did. */
static bool broken_day(uint64_t seed, enum brk k, long *first)
{
	season_params p;
	float *st = fresh(864, &p);
	uint64_t rs = seed;
	season_out o;
	const long from = 6 * 288, to = 7 * 288;
	bool hit = false;
	for (long i = 0; i < to; i++) {
		float x = wave(&rs, i, 288.0);
		if (i >= from && k == BRK_FLAT)
			x = 20.0f + 0.5f * (float)normal01(&rs);
		else if (i >= from && k == BRK_SHIFT)
			x = wave(&rs, i - 72, 288.0); /* six hours late */
		else if (i >= from && k == BRK_SMALL)
			x = 20.0f + 0.3f * (x - 20.0f);
		season_step(&p, 1, st, &x, &o);
		if (i < from)
			CU_ASSERT_FALSE(o.fired);
		if (i >= from && o.fired && !hit) {
			hit = true;
			*first = i - from;
		}
	}
	free(st);
	return hit;
}

static void test_breaks(void)
{
	for (int k = 0; k < BRK_COUNT; k++) {
		int hits = 0;
		long late = 0;
		for (uint64_t s = 1; s <= SEEDS; s++) {
			long first = 0;
			if (broken_day(s * 31 + (uint64_t)k, (enum brk)k, &first)) {
				hits++;
				late = first > late ? first : late;
			}
		}
		/* every seed, within a quarter of the day */
		CU_ASSERT_EQUAL(hits, SEEDS);
		CU_ASSERT(late <= 72);
	}
}

static void test_rebaseline(void)
{
	season_params p;
	float *st = fresh(864, &p);
	uint64_t rs = 5;
	season_out o;
	long i = 0, fired = 0;
	for (; i < 6 * 288; i++) {
		float x = wave(&rs, i, 288.0);
		season_step(&p, 1, st, &x, &o);
	}
	/* a lasting step of 6: fired, then taken as the new normal */
	for (; i < 6 * 288 + 100; i++) {
		float x = wave(&rs, i, 288.0) + 6.0f;
		season_step(&p, 1, st, &x, &o);
	}
	CU_ASSERT_TRUE(o.fired);
	season_rebaseline(1, st);
	CU_ASSERT(season_state_ok(&p, 1, st));
	for (long j = 0; j < 288; j++, i++) { /* a period of learning the level */
		float x = wave(&rs, i, 288.0) + 6.0f;
		season_step(&p, 1, st, &x, &o);
		CU_ASSERT_FALSE(o.over);
	}
	for (long j = 0; j < 5 * 288; j++, i++) {
		float x = wave(&rs, i, 288.0) + 6.0f;
		season_step(&p, 1, st, &x, &o);
		fired += o.fired;
	}
	CU_ASSERT(fired <= 5);
	/* the pattern breaking still fires */
	for (long j = 0; j < 144; j++, i++) {
		float x = 26.0f;
		season_step(&p, 1, st, &x, &o);
		fired += o.fired;
	}
	CU_ASSERT(fired > 20);
	/* a damaged state is refused */
	st[2] = NAN;
	CU_ASSERT_FALSE(season_state_ok(&p, 1, st));
	free(st);
}

/* Zero-config detector of one feature with the channel: a day without its
 * cycle raises, blamed on the seasonal channel; the state's size. */
static void test_detector(void)
{
	det_config cfg;
	det_config_default(&cfg);
	cfg.n_features = 1;
	cfg.features[0] = "value";
	cfg.prof.learn = 864;
	cfg.season.on = true;
	cfg.season.margin = 2.0f;
	det *d = NULL, *plain = NULL;
	CU_ASSERT_EQUAL_FATAL(det_create(NULL, &cfg, &d), IOTAD_OK);
	cfg.season.on = false;
	CU_ASSERT_EQUAL_FATAL(det_create(NULL, &cfg, &plain), IOTAD_OK);
	CU_ASSERT_EQUAL(det_prof_floats(d), det_prof_floats(plain) + season_floats(1));
	CU_ASSERT_STRING_EQUAL(det_channel_name(PROF_CH_COUNT + 1), "season");
	uint64_t rs = 11;
	det_result r;
	bool season_raise = false;
	long raises_before = 0;
	for (long i = 0; i < 7 * 288; i++) {
		float x = wave(&rs, i, 288.0);
		if (i >= 6 * 288)
			x = 20.0f + 0.5f * (float)normal01(&rs);
		CU_ASSERT_EQUAL(det_push(d, "s", 300.0 * (double)i, &x, &r), IOTAD_OK);
		if (r.event == ALERT_EV_RAISED && i < 6 * 288)
			raises_before++;
		if (r.event == ALERT_EV_RAISED && i >= 6 * 288 && (r.channels & DET_CH_SEASON))
			season_raise = true;
	}
	CU_ASSERT_TRUE(season_raise);
	CU_ASSERT(raises_before <= 1);
	/* the channel needs the profile */
	cfg.season.on = true;
	cfg.prof.channels = 0;
	const char *why = NULL;
	CU_ASSERT_EQUAL(det_config_check(NULL, &cfg, &why), IOTAD_ERR_INVAL);
	det_destroy(d);
	det_destroy(plain);
}

void init_season_tests(void)
{
	CU_pSuite s = CU_add_suite("season", NULL, NULL);
	TEST_ADD(s, test_params);
	TEST_ADD(s, test_period);
	TEST_ADD(s, test_false_raises);
	TEST_ADD(s, test_breaks);
	TEST_ADD(s, test_rebaseline);
	TEST_ADD(s, test_detector);
}
