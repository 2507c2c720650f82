/* test_fedsim.c - federated rounds simulated in process on synthetic
 * labelled files: every scored row counted once in each calibration, the
 * bytes and epsilon of a round, the pooled and local references, and an
 * obvious anomaly found by the federated model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "iotad/dpacct.h"
#include "iotad/fedmsg.h"
#include "iotad/fedsim.h"
#include "test.h"
#include "test_rng.h"

#define NF 3
#define ROWS 700
#define WARM 400
#define N_FILES 4

static float rows[N_FILES][ROWS * NF];
static uint8_t label[N_FILES][ROWS];

/* Three noisy sines around a level of its own per file; rows 550..599 of
 * each file jump far off (labelled). */
static void make_files(fedsim_file *f)
{
	uint64_t s = 11;
	for (int k = 0; k < N_FILES; k++) {
		for (int i = 0; i < ROWS; i++) {
			bool bad = i >= 550 && i < 600;
			for (int j = 0; j < NF; j++)
				rows[k][i * NF + j] = (float)(10 * k + sin(i * 0.2 + j) +
							      0.05 * trng_normal(&s) + (bad ? 6 : 0));
			label[k][i] = bad;
		}
		f[k] = (fedsim_file){rows[k], label[k], ROWS};
	}
}

static uint64_t n_counted(const eval_counts *c)
{
	return c->tp + c->fp + c->fn + c->tn;
}

static double f1_of(const eval_counts *c)
{
	eval_rates r;
	eval_rates_from(c, &r);
	return r.f1;
}

static void test_fedsim_rounds(void)
{
	fedsim_file f[N_FILES];
	make_files(f);
	fedsim_gw gws[2] = {{f, 2}, {f + 2, 2}};
	fedsim_opts o;
	fedsim_opts_default(&o);
	o.n_features = NF;
	o.n_warm = WARM;
	o.rounds = 3;
	o.local_epochs = 2;
	o.eval.train.window = 4;
	o.eval.train.hidden_auto = 1;
	o.eval.train.epochs = 6;
	o.eval.train.percentile = 100;
	o.norm_per_gw = true;
	o.agg.clip = 5;
	o.agg.noise = 0.01f;
	fedsim_round r[3];
	fedsim_counts per[3 * 2], central, cgw[2];
	char err[256] = "";
	CU_ASSERT_EQUAL_FATAL(fedsim_run(&o, gws, 2, 1e-5, r, per, &central, cgw, err, sizeof err),
			      IOTAD_OK);
	const uint64_t scored = N_FILES * (ROWS - WARM);
	for (int k = 0; k < 3; k++) {
		CU_ASSERT_EQUAL(r[k].round, k + 1);
		CU_ASSERT_EQUAL(n_counted(&r[k].total.global), scored);
		CU_ASSERT_EQUAL(n_counted(&r[k].total.per_gw), scored);
		CU_ASSERT_EQUAL(n_counted(&r[k].gw[0].global) + n_counted(&r[k].gw[1].global), scored);
		CU_ASSERT_DOUBLE_EQUAL(r[k].epsilon, dp_epsilon(1, (double)0.01f, (uint64_t)k + 1, 1e-5, NULL),
				       1e-9 * r[k].epsilon);
		CU_ASSERT(r[k].max_norm > 0);
	}
	CU_ASSERT(r[2].epsilon > r[0].epsilon);
	/* two updates up and two private global models down */
	CU_ASSERT(r[0].bytes > 4 * 4 * 100);
	CU_ASSERT_EQUAL(n_counted(&central.global), scored);
	/* a jump of 6 on a signal of amplitude 1 is found */
	CU_ASSERT(f1_of(&r[2].total.per_gw) > 0.5);
	CU_ASSERT(f1_of(&central.per_gw) > 0.5);

	fedsim_counts local, lgw[2];
	CU_ASSERT_EQUAL_FATAL(fedsim_local(&o, gws, 2, &local, lgw, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(n_counted(&local.global), scored);
	CU_ASSERT_EQUAL(memcmp(&local.global, &local.per_gw, sizeof local.global), 0);
	fedsim_counts pooled;
	CU_ASSERT_EQUAL_FATAL(fedsim_pooled(&o, gws, 2, &pooled, NULL, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(n_counted(&pooled.per_gw), scored);

	/* refusals */
	o.rounds = 0;
	CU_ASSERT_EQUAL(fedsim_run(&o, gws, 2, 1e-5, r, per, NULL, NULL, err, sizeof err),
			IOTAD_ERR_INVAL);
	o.rounds = 3;
	fedsim_gw empty[1] = {{f, 0}};
	CU_ASSERT_EQUAL(fedsim_run(&o, empty, 1, 1e-5, r, per, NULL, NULL, err, sizeof err),
			IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no file"));
}

/* Personalization: every gateway's pick is recorded and counted, a gateway
 * serving the global model has its per-gateway counts, one serving its
 * own has fedsim_local's; without an array for the picks it is refused. */
static void test_fedsim_personalize(void)
{
	fedsim_file f[N_FILES];
	make_files(f);
	fedsim_gw gws[2] = {{f, 2}, {f + 2, 2}};
	fedsim_opts o;
	fedsim_opts_default(&o);
	o.n_features = NF;
	o.n_warm = WARM;
	o.rounds = 2;
	o.eval.train.window = 4;
	o.eval.train.hidden_auto = 1;
	o.eval.train.epochs = 6;
	o.eval.train.percentile = 100;
	o.norm_per_gw = true;
	o.personalize = FEDCAL_PERS_FINETUNE;
	fedsim_round r[2];
	fedsim_counts per[2 * 2], local, lgw[2];
	uint8_t picks[2 * 2];
	char err[256] = "";
	CU_ASSERT_EQUAL(fedsim_run(&o, gws, 2, 1e-5, r, per, NULL, NULL, err, sizeof err),
			IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL_FATAL(fedsim_run_pers(&o, gws, 2, 1e-5, r, per, picks, NULL, NULL, err,
					      sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(fedsim_local(&o, gws, 2, &local, lgw, err, sizeof err), IOTAD_OK);
	const uint64_t scored = N_FILES * (ROWS - WARM);
	for (int k = 0; k < 2; k++) {
		CU_ASSERT_EQUAL(r[k].n_picked[0] + r[k].n_picked[1] + r[k].n_picked[2], 2);
		CU_ASSERT_EQUAL(n_counted(&r[k].total.pers), scored);
		for (int g = 0; g < 2; g++) {
			CU_ASSERT(r[k].pick[g] <= FEDCAL_PICK_OWN);
			if (r[k].pick[g] == FEDCAL_PICK_GLOBAL)
				CU_ASSERT_EQUAL(memcmp(&r[k].gw[g].pers, &r[k].gw[g].per_gw,
						       sizeof r[k].gw[g].pers), 0);
			if (r[k].pick[g] == FEDCAL_PICK_OWN)
				CU_ASSERT_EQUAL(memcmp(&r[k].gw[g].pers, &lgw[g].global,
						       sizeof lgw[g].global), 0);
		}
	}
	CU_ASSERT(f1_of(&r[1].total.pers) > 0.5);
}

void init_fedsim_tests(void)
{
	CU_pSuite s = CU_add_suite("fedsim", NULL, NULL);
	TEST_ADD(s, test_fedsim_rounds);
	TEST_ADD(s, test_fedsim_personalize);
}
