/* test_fedlocal.c - the gateway's pool of normal windows (bounded, latest
 * kept), the check of a new global model, and federated rounds in process:
 * three gateways training locally from the global model and FedAvg reach
 * the loss of training on the pooled data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "iotad/fedavg.h"
#include "iotad/fedlocal.h"
#include "iotad/train.h"
#include "test.h"
#include "test_rng.h"

#define DIM 8

static void test_pool_bounded(void)
{
	fed_pool p;
	float w[DIM], out[2 * 3 * DIM];
	CU_ASSERT_EQUAL(fed_pool_init(&p, DIM, 0, 3), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL_FATAL(fed_pool_init(&p, DIM, 2, 3), IOTAD_OK);
	CU_ASSERT_EQUAL(fed_pool_bytes(&p), 2 * (3 * DIM * sizeof(float) + FED_DEVICE_MAX + 8));
	for (int i = 0; i < 1000; i++) {
		for (int k = 0; k < DIM; k++)
			w[k] = (float)i;
		fed_pool_offer(&p, i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c", w);
	}
	/* two devices of three slots; "c" is beyond max_devices */
	CU_ASSERT_EQUAL(fed_pool_count(&p), 6);
	CU_ASSERT_EQUAL(p.refused_devices, 333);
	CU_ASSERT_EQUAL(fed_pool_gather(&p, out), 6);
	/* the latest three of "a" (i = 993, 996, 999) and of "b" (991, 994, 997) */
	float a_sum = out[0] + out[DIM] + out[2 * DIM], b_sum = out[3 * DIM] + out[4 * DIM] + out[5 * DIM];
	CU_ASSERT_DOUBLE_EQUAL(a_sum, 993 + 996 + 999, 1e-3);
	CU_ASSERT_DOUBLE_EQUAL(b_sum, 991 + 994 + 997, 1e-3);
	fed_pool_free(&p);
	fed_pool_free(&p);
}

/* Windows on a 2-dimensional subspace of DIM, in [0.1, 0.9]: an autoencoder
 * with a 2-wide bottleneck can learn them. shift moves a gateway's mixture. */
static void make_data(float *x, size_t n, uint64_t *r, double shift)
{
	for (size_t i = 0; i < n; i++) {
		double a = trng_unit(r), b = trng_unit(r) * 0.5 + shift;
		for (int k = 0; k < DIM; k++)
			x[i * DIM + k] = (float)(0.1 + 0.4 * (a * (k % 2) + b * ((k + 1) % 2)) +
						 0.01 * trng_normal(r));
	}
}

static void make_net(nn *net, uint64_t seed)
{
	int sizes[4] = {DIM, 6, 2, DIM};
	nn_act act[3] = {NN_RELU, NN_RELU, NN_SIGMOID};
	CU_ASSERT_EQUAL_FATAL(nn_init(net, 3, sizes, act), IOTAD_OK);
	nn_init_weights(net, seed);
}

static void test_validate(void)
{
	enum { N = 300 };
	static float x[N * DIM];
	uint64_t r = 7;
	make_data(x, N, &r, 0.2);
	nn cur, cand;
	make_net(&cur, 1);
	make_net(&cand, 1);
	train_opts o;
	train_opts_default(&o);
	o.epochs = 30;
	o.batch = 32;
	o.lr = 0.01f;
	CU_ASSERT_EQUAL(train_fit(&cur, x, N, &o, NULL), IOTAD_OK);
	memcpy(cand.params, cur.params, cur.n_params * sizeof(float));
	double a, b;
	CU_ASSERT_TRUE(fed_validate(&cur, &cand, x, N, 1.5, &a, &b));
	CU_ASSERT_DOUBLE_EQUAL(a, b, 1e-12);
	/* a candidate whose weights were scrambled scores them far worse */
	for (size_t i = 0; i < cand.n_params; i++)
		cand.params[i] = -cand.params[i] * 3;
	CU_ASSERT_FALSE(fed_validate(&cur, &cand, x, N, 1.5, &a, &b));
	CU_ASSERT(b > 1.5 * a);
	cand.params[0] = NAN;
	CU_ASSERT_FALSE(fed_validate(&cur, &cand, x, N, 1e9, NULL, NULL));
	CU_ASSERT_FALSE(fed_validate(&cur, &cand, x, 0, 1.5, NULL, NULL));
	cand.params[0] = 1;
	CU_ASSERT_TRUE(fed_validate(&cur, &cand, x, 0, 1.5, NULL, NULL)); /* nothing to judge by */
	nn_free(&cur);
	nn_free(&cand);
}

static void test_train_fit_from_weights(void)
{
	enum { N = 200 };
	static float x[N * DIM];
	uint64_t r = 9;
	make_data(x, N, &r, 0.1);
	nn a, b;
	make_net(&a, 3);
	make_net(&b, 3);
	train_opts o;
	train_opts_default(&o);
	o.epochs = 5;
	o.batch = 16;
	o.lr = 0.01f;
	train_report rep;
	CU_ASSERT_EQUAL(train_fit(&a, x, N, &o, &rep), IOTAD_OK);
	CU_ASSERT(rep.final_loss < rep.first_loss);
	CU_ASSERT_EQUAL(rep.n_train, N);
	/* from the same weights and seed: the same result */
	CU_ASSERT_EQUAL(train_fit(&b, x, N, &o, NULL), IOTAD_OK);
	CU_ASSERT_EQUAL(memcmp(a.params, b.params, a.n_params * sizeof(float)), 0);
	/* it continues from the weights it is given: a second call starts lower */
	train_report rep2;
	CU_ASSERT_EQUAL(train_fit(&a, x, N, &o, &rep2), IOTAD_OK);
	CU_ASSERT(rep2.first_loss < rep.first_loss);
	CU_ASSERT_EQUAL(train_fit(&a, x, 0, &o, NULL), IOTAD_ERR_INVAL);
	nn_free(&a);
	nn_free(&b);
}

/* Three gateways with shifted (non-IID) data, 2 local epochs a round, 15
 * rounds of FedAvg: the global model's loss on all the data ends within 25 %
 * of a model trained on the pooled data for as many epochs (30). */
static void test_rounds_in_process(void)
{
	enum { G = 3, N = 200 };
	static float x[G * N * DIM];
	uint64_t r = 21;
	for (int g = 0; g < G; g++)
		make_data(x + (size_t)g * N * DIM, N, &r, 0.15 * g);
	nn global, local[G], pooled;
	make_net(&global, 5);
	make_net(&pooled, 5);
	for (int g = 0; g < G; g++)
		make_net(&local[g], 5);
	double start = fed_mean_score(&global, x, G * N);
	train_opts o;
	train_opts_default(&o);
	o.epochs = 2;
	o.batch = 16;
	o.lr = 0.01f;
	fed_opts fo;
	fed_opts_default(&fo);
	float *next = malloc(global.n_params * sizeof *next);
	for (int round = 1; round <= 15; round++) {
		fed_client c[G];
		for (int g = 0; g < G; g++) {
			memcpy(local[g].params, global.params, global.n_params * sizeof(float));
			o.seed = (uint64_t)(round * 10 + g);
			CU_ASSERT_EQUAL(train_fit(&local[g], x + (size_t)g * N * DIM, N, &o, NULL), IOTAD_OK);
			c[g] = (fed_client){local[g].params, local[g].n_params, N};
		}
		CU_ASSERT_EQUAL(fed_aggregate(global.params, global.n_params, c, G, &fo, next, NULL,
					      NULL, 0),
				IOTAD_OK);
		memcpy(global.params, next, global.n_params * sizeof *next);
	}
	o.epochs = 30;
	o.seed = 1;
	CU_ASSERT_EQUAL(train_fit(&pooled, x, G * N, &o, NULL), IOTAD_OK);
	double fed = fed_mean_score(&global, x, G * N), central = fed_mean_score(&pooled, x, G * N);
	CU_ASSERT(fed < 0.5 * start);
	CU_ASSERT(fed < 1.25 * central);
	free(next);
	nn_free(&global);
	nn_free(&pooled);
	for (int g = 0; g < G; g++)
		nn_free(&local[g]);
}

void init_fedlocal_tests(void)
{
	CU_pSuite s = CU_add_suite("fedlocal", NULL, NULL);
	TEST_ADD(s, test_pool_bounded);
	TEST_ADD(s, test_validate);
	TEST_ADD(s, test_train_fit_from_weights);
	TEST_ADD(s, test_rounds_in_process);
}
