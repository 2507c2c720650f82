/* test_nntw.c - unit tests of the transposed-weights backward pass
 * (nn_backward_tw): the same loss and gradient as nn_backward bit for bit,
 * for several shapes and activations and after parameter changes, and the
 * trainer's loss as nn_backward gives it. */
#include <stdlib.h>
#include <string.h>

#include "iotad/nn.h"
#include "iotad/train.h"
#include "test.h"
#include "test_rng.h"

/* Accumulate n samples' gradients both ways and compare them bit for bit. */
static void same_backward(const nn *net, const nn_tw *t, uint64_t seed, int n)
{
	size_t sf = nn_scratch_floats(net), d = (size_t)net->sizes[0];
	float *ga = calloc(net->n_params, sizeof *ga), *gb = calloc(net->n_params, sizeof *gb);
	float *sa = malloc(2 * sf * sizeof *sa), *sb = malloc(2 * sf * sizeof *sb);
	float *x = malloc(d * sizeof *x);
	CU_ASSERT_FATAL(ga && gb && sa && sb && x);
	uint64_t st = seed;
	for (int k = 0; k < n; k++) {
		for (size_t i = 0; i < d; i++)
			x[i] = (float)trng_unit(&st) * 1.4f - 0.2f;
		float la = nn_backward(net, x, sa, ga), lb = nn_backward_tw(net, t, x, sb, gb);
		CU_ASSERT(memcmp(&la, &lb, sizeof la) == 0);
	}
	CU_ASSERT(memcmp(ga, gb, net->n_params * sizeof *ga) == 0);
	/* the activations and deltas the two leave in scratch agree too */
	CU_ASSERT(memcmp(sa, sb, 2 * sf * sizeof *sa) == 0);
	free(ga);
	free(gb);
	free(sa);
	free(sb);
	free(x);
}

static void test_tw_matches(void)
{
	static const int shapes[][6] = {
		{4, 30, 12, 6, 12, 30}, {4, 128, 12, 6, 12, 128}, {2, 9, 5, 9, 0, 0},
		{3, 20, 37, 3, 20, 0}, {1, 7, 7, 0, 0, 0},
	};
	static const nn_act acts[][4] = {
		{NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID}, {NN_RELU, NN_LINEAR, NN_RELU, NN_LINEAR},
		{NN_SIGMOID, NN_LINEAR}, {NN_SIGMOID, NN_RELU, NN_SIGMOID}, {NN_LINEAR},
	};
	for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
		nn net;
		nn_tw t;
		CU_ASSERT_EQUAL_FATAL(nn_init(&net, shapes[c][0], shapes[c] + 1, acts[c]), IOTAD_OK);
		nn_init_weights(&net, 40 + c);
		uint64_t st = 9 + c;
		for (size_t p = 0; p < net.n_params; p++) /* biases too, not just zeros */
			net.params[p] += (float)(trng_unit(&st) - 0.5) * 0.1f;
		CU_ASSERT_EQUAL_FATAL(nn_tw_init(&t, &net), IOTAD_OK);
		same_backward(&net, &t, 100 + c, 40);
		/* after the parameters change, an update makes them agree again */
		for (size_t p = 0; p < net.n_params; p++)
			net.params[p] *= 0.9f;
		nn_tw_update(&t, &net);
		same_backward(&net, &t, 200 + c, 40);
		nn_tw_free(&t);
		nn_free(&net);
	}
	nn_tw t;
	CU_ASSERT_EQUAL(nn_tw_init(&t, NULL), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_tw_init(NULL, NULL), IOTAD_ERR_INVAL);
	nn_tw_free(&t);
	nn_tw_free(NULL);
}

/* train_fit, which backs through nn_backward_tw, reports as its first
 * epoch's loss the mean loss nn_backward gives at the initial parameters
 * (one batch of every sample: the parameters do not change within it; the
 * samples are summed in another order, hence the tolerance). */
static void test_fit_unchanged(void)
{
	int sizes[5] = {12, 8, 4, 8, 12};
	nn_act act[4] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	nn a, b;
	CU_ASSERT_EQUAL_FATAL(nn_init(&a, 4, sizes, act), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(nn_init(&b, 4, sizes, act), IOTAD_OK);
	nn_init_weights(&a, 5);
	memcpy(b.params, a.params, a.n_params * sizeof *a.params);
	size_t n = 64;
	float *x = malloc(n * 12 * sizeof *x);
	CU_ASSERT_FATAL(x != NULL);
	uint64_t st = 3;
	for (size_t i = 0; i < n * 12; i++)
		x[i] = (float)trng_unit(&st);
	train_opts o;
	train_report rep;
	train_opts_default(&o);
	o.epochs = 1;
	o.batch = (int)n; /* one batch, in any order: the sums are in sample order */
	CU_ASSERT_EQUAL_FATAL(train_fit(&a, x, n, &o, &rep), IOTAD_OK);
	size_t sf = nn_scratch_floats(&b);
	float *g = calloc(b.n_params, sizeof *g), *s = malloc(2 * sf * sizeof *s);
	CU_ASSERT_FATAL(g && s);
	double loss = 0.0;
	for (size_t i = 0; i < n; i++)
		loss += nn_backward(&b, x + i * 12, s, g);
	CU_ASSERT_DOUBLE_EQUAL(rep.first_loss, loss / (double)n, 1e-6 * loss / (double)n);
	free(g);
	free(s);
	free(x);
	nn_free(&a);
	nn_free(&b);
}

void init_nntw_tests(void)
{
	CU_pSuite s = CU_add_suite("nntw", NULL, NULL);
	TEST_ADD(s, test_tw_matches);
	TEST_ADD(s, test_fit_unchanged);
}
