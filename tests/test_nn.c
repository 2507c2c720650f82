/* test_nn.c - unit tests of nn: PyTorch reference fixture, finite-difference
 * gradient check, argument validation, deterministic init, Adam, training. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "iotad/nn.h"
#include "iotad/rng.h"
#include "test.h"

/* Agreement with the PyTorch float32 reference: |a - b| <= REL_TOL *
 * max(|b|, floor). The absolute floor depends on the quantity, because the
 * float32 reference itself is only that exact:
 * - forward values (outputs, MSE, loss) are 1e-2..1: floor 1e-7;
 * - gradients reach 4e-3, and torch's float32 gradient differs from a
 *   float64 run of the same net by up to 6e-10 (cancellation in the sums
 *   over samples and units), so a relative check is only meaningful above
 *   ~1e-4: floor 1e-4 (absolute tolerance 1e-9);
 * - Adam moves a parameter by up to lr per step whatever its gradient's
 *   size, so parameters after Adam use floor lr. */
#define REL_TOL 1e-5
#define FLOOR_VALUE 1e-7
#define FLOOR_GRAD 1e-4

/* ---- fixture loading ---------------------------------------------------- */

struct fixture {
	nn net;
	int batch, dim;
	float *inputs;        /* batch * dim */
	float *outputs;       /* batch * dim */
	float *mse;           /* batch */
	double loss;
	float *grad;          /* n_params */
	float adam_lr;
	int adam_steps;
	float *adam_params;   /* n_params */
};

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
			buf = malloc((size_t)n + 1);
			if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
				buf[n] = '\0';
			} else {
				free(buf);
				buf = NULL;
			}
		}
	}
	fclose(f);
	return buf;
}

/* Copies a JSON array of numbers (nested one level for a batch) into out. */
static int json_floats(const cJSON *arr, float *out, int n)
{
	int k = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		if (cJSON_IsArray(it)) {
			const cJSON *v;
			cJSON_ArrayForEach(v, it) {
				if (!cJSON_IsNumber(v) || k >= n)
					return -1;
				out[k++] = (float)v->valuedouble;
			}
		} else {
			if (!cJSON_IsNumber(it) || k >= n)
				return -1;
			out[k++] = (float)it->valuedouble;
		}
	}
	return k == n ? 0 : -1;
}

static void fixture_free(struct fixture *fx)
{
	nn_free(&fx->net);
	free(fx->inputs);
	free(fx->outputs);
	free(fx->mse);
	free(fx->grad);
	free(fx->adam_params);
	memset(fx, 0, sizeof *fx);
}

static int fixture_load(struct fixture *fx)
{
	char path[1024];
	memset(fx, 0, sizeof *fx);
	snprintf(path, sizeof path, "%s/nn_reference.json", test_fixture_dir);
	char *text = read_file(path);
	if (!text) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	cJSON *doc = cJSON_Parse(text);
	free(text);
	if (!doc)
		return -1;

	int rc = -1;
	const cJSON *sizes = cJSON_GetObjectItem(doc, "sizes");
	const cJSON *acts = cJSON_GetObjectItem(doc, "activations");
	const cJSON *inputs = cJSON_GetObjectItem(doc, "inputs");
	const cJSON *adam = cJSON_GetObjectItem(doc, "adam");
	const cJSON *loss = cJSON_GetObjectItem(doc, "loss");
	int n_layers = cJSON_GetArraySize(acts);
	int sz[NN_MAX_LAYERS + 1];
	nn_act act[NN_MAX_LAYERS];
	if (n_layers < 1 || n_layers > NN_MAX_LAYERS || cJSON_GetArraySize(sizes) != n_layers + 1)
		goto out;
	for (int l = 0; l <= n_layers; l++)
		sz[l] = cJSON_GetArrayItem(sizes, l)->valueint;
	for (int l = 0; l < n_layers; l++) {
		const char *name = cJSON_GetStringValue(cJSON_GetArrayItem(acts, l));
		if (nn_act_parse(name, &act[l]) != 0)
			goto out;
	}
	if (nn_init(&fx->net, n_layers, sz, act) != IOTAD_OK)
		goto out;

	size_t np = fx->net.n_params;
	fx->batch = cJSON_GetArraySize(inputs);
	fx->dim = sz[0];
	size_t bd = (size_t)fx->batch * fx->dim;
	fx->inputs = malloc(bd * sizeof(float));
	fx->outputs = malloc(bd * sizeof(float));
	fx->mse = malloc((size_t)fx->batch * sizeof(float));
	fx->grad = malloc(np * sizeof(float));
	fx->adam_params = malloc(np * sizeof(float));
	if (!fx->inputs || !fx->outputs || !fx->mse || !fx->grad || !fx->adam_params ||
	    !cJSON_IsNumber(loss) || !cJSON_IsObject(adam))
		goto out;
	fx->loss = loss->valuedouble;
	fx->adam_lr = (float)cJSON_GetNumberValue(cJSON_GetObjectItem(adam, "lr"));
	fx->adam_steps = cJSON_GetObjectItem(adam, "steps")->valueint;
	if (json_floats(cJSON_GetObjectItem(doc, "params"), fx->net.params, (int)np) ||
	    json_floats(inputs, fx->inputs, (int)bd) ||
	    json_floats(cJSON_GetObjectItem(doc, "outputs"), fx->outputs, (int)bd) ||
	    json_floats(cJSON_GetObjectItem(doc, "mse"), fx->mse, fx->batch) ||
	    json_floats(cJSON_GetObjectItem(doc, "grad"), fx->grad, (int)np) ||
	    json_floats(cJSON_GetObjectItem(adam, "params"), fx->adam_params, (int)np))
		goto out;
	rc = 0;
out:
	cJSON_Delete(doc);
	if (rc)
		fixture_free(fx);
	return rc;
}

/* Relative error with an absolute floor, as described at the top. */
static double rel_err_floor(double got, double want, double floor)
{
	double scale = fabs(want) > floor ? fabs(want) : floor;
	return fabs(got - want) / scale;
}

static double rel_err(double got, double want)
{
	double scale = fabs(want) > FLOOR_VALUE ? fabs(want) : FLOOR_VALUE;
	return fabs(got - want) / scale;
}

/* Zeroes grad and fills it with the batch-mean gradient; returns the mean loss. */
static double batch_grad(const struct fixture *fx, float *scratch, float *grad)
{
	size_t np = fx->net.n_params;
	double loss = 0.0;
	memset(grad, 0, np * sizeof *grad);
	for (int s = 0; s < fx->batch; s++)
		loss += nn_backward(&fx->net, fx->inputs + (size_t)s * fx->dim, scratch, grad);
	for (size_t i = 0; i < np; i++)
		grad[i] /= (float)fx->batch;
	return loss / fx->batch;
}

/* ---- PyTorch reference -------------------------------------------------- */

static void test_fixture_forward(void)
{
	struct fixture fx;
	CU_ASSERT_FATAL(fixture_load(&fx) == 0);
	CU_ASSERT_EQUAL(fx.net.n_params, 674);
	size_t ns = nn_scratch_floats(&fx.net);
	float *scratch = malloc(ns * sizeof(float));
	float *err = malloc((size_t)fx.dim * sizeof(float));
	CU_ASSERT_FATAL(scratch && err);

	double max_out = 0, max_mse = 0, loss = 0;
	for (int s = 0; s < fx.batch; s++) {
		const float *x = fx.inputs + (size_t)s * fx.dim;
		const float *want = fx.outputs + (size_t)s * fx.dim;
		float mse = nn_forward(&fx.net, x, scratch, err);
		const float *y = scratch + ns - (size_t)fx.dim;
		double sum = 0;
		for (int i = 0; i < fx.dim; i++) {
			double e = rel_err(y[i], want[i]);
			max_out = e > max_out ? e : max_out;
			/* err is the square of this output's own error. */
			double d = (double)y[i] - x[i];
			CU_ASSERT_EQUAL(err[i], (float)(d * d));
			sum += err[i];
		}
		CU_ASSERT(rel_err(sum / fx.dim, mse) <= REL_TOL);
		double e = rel_err(mse, fx.mse[s]);
		max_mse = e > max_mse ? e : max_mse;
		loss += mse;
		/* Without err the same MSE comes back. */
		CU_ASSERT_EQUAL(nn_forward(&fx.net, x, scratch, NULL), mse);
	}
	loss /= fx.batch;
	printf("\n    forward max rel err: output %.3g, mse %.3g, loss %.3g\n",
	       max_out, max_mse, rel_err(loss, fx.loss));
	CU_ASSERT(max_out <= REL_TOL);
	CU_ASSERT(max_mse <= REL_TOL);
	CU_ASSERT(rel_err(loss, fx.loss) <= REL_TOL);
	free(scratch);
	free(err);
	fixture_free(&fx);
}

static void test_fixture_backward(void)
{
	struct fixture fx;
	CU_ASSERT_FATAL(fixture_load(&fx) == 0);
	size_t np = fx.net.n_params;
	float *scratch = malloc(2 * nn_scratch_floats(&fx.net) * sizeof(float));
	float *grad = malloc(np * sizeof(float));
	CU_ASSERT_FATAL(scratch && grad);

	double loss = batch_grad(&fx, scratch, grad);
	double max_grad = 0, max_abs = 0;
	size_t worst = 0, nonzero = 0;
	for (size_t i = 0; i < np; i++) {
		double e = rel_err_floor(grad[i], fx.grad[i], FLOOR_GRAD);
		double a = fabs(grad[i] - fx.grad[i]);
		max_abs = a > max_abs ? a : max_abs;
		if (e > max_grad) {
			max_grad = e;
			worst = i;
		}
		nonzero += fx.grad[i] != 0.0f;
	}
	printf("\n    backward max rel err: grad %.3g (param %zu; max abs %.3g; %zu/%zu nonzero), loss %.3g\n",
	       max_grad, worst, max_abs, nonzero, np, rel_err(loss, fx.loss));
	CU_ASSERT(nonzero > np / 2);
	CU_ASSERT(max_grad <= REL_TOL);
	CU_ASSERT(rel_err(loss, fx.loss) <= REL_TOL);
	free(scratch);
	free(grad);
	fixture_free(&fx);
}

static void test_fixture_adam(void)
{
	struct fixture fx;
	CU_ASSERT_FATAL(fixture_load(&fx) == 0);
	size_t np = fx.net.n_params;
	float *scratch = malloc(2 * nn_scratch_floats(&fx.net) * sizeof(float));
	float *grad = malloc(np * sizeof(float));
	CU_ASSERT_FATAL(scratch && grad);
	nn_adam opt;
	CU_ASSERT_FATAL(nn_adam_init(&opt, &fx.net, fx.adam_lr) == IOTAD_OK);

	for (int k = 0; k < fx.adam_steps; k++) {
		batch_grad(&fx, scratch, grad);
		nn_adam_step(&opt, &fx.net, grad);
	}
	CU_ASSERT_EQUAL(opt.t, fx.adam_steps);
	double max_p = 0;
	for (size_t i = 0; i < np; i++) {
		double e = rel_err_floor(fx.net.params[i], fx.adam_params[i], fx.adam_lr);
		max_p = e > max_p ? e : max_p;
	}
	printf("\n    adam (%d steps) max rel err: params %.3g\n", fx.adam_steps, max_p);
	CU_ASSERT(max_p <= REL_TOL);
	nn_adam_free(&opt);
	free(scratch);
	free(grad);
	fixture_free(&fx);
}

/* ---- finite differences against an independent double reference -------- */

/* Plain double-precision forward pass of the same layout; returns the MSE. */
static double ref_forward(const nn *net, const double *p, const float *x)
{
	double a[NN_MAX_WIDTH], b[NN_MAX_WIDTH];
	int d = net->sizes[0];
	for (int i = 0; i < d; i++)
		a[i] = x[i];
	const double *w = p;
	for (int l = 0; l < net->n_layers; l++) {
		int in = net->sizes[l], out = net->sizes[l + 1];
		const double *bias = w + out * in;
		for (int o = 0; o < out; o++) {
			double z = bias[o];
			for (int i = 0; i < in; i++)
				z += w[o * in + i] * a[i];
			if (net->act[l] == NN_RELU)
				z = z > 0 ? z : 0;
			else if (net->act[l] == NN_SIGMOID)
				z = 1.0 / (1.0 + exp(-z));
			b[o] = z;
		}
		memcpy(a, b, (size_t)out * sizeof a[0]);
		w = bias + out;
	}
	double s = 0;
	for (int i = 0; i < d; i++)
		s += (a[i] - x[i]) * (a[i] - x[i]);
	return s / d;
}

static void test_gradcheck(void)
{
	/* Every activation, including a linear bottleneck. */
	const int sizes[] = {5, 4, 3, 4, 5};
	const nn_act act[] = {NN_SIGMOID, NN_LINEAR, NN_RELU, NN_SIGMOID};
	const float x[5] = {0.1f, 0.9f, 0.35f, 0.6f, 0.0f};
	nn net;
	CU_ASSERT_FATAL(nn_init(&net, 4, sizes, act) == IOTAD_OK);
	nn_init_weights(&net, 7);
	/* Non-zero biases so their gradients are tested through a bias shift. */
	for (int l = 0; l < net.n_layers; l++) {
		size_t off = nn_layer_offset(&net, l) + (size_t)net.sizes[l + 1] * net.sizes[l];
		for (int o = 0; o < net.sizes[l + 1]; o++)
			net.params[off + o] = 0.05f * (float)(o + 1) * (l % 2 ? -1.0f : 1.0f);
	}
	size_t np = net.n_params;
	float scratch[2 * 16], grad[128], grad2[128];
	double p[128];
	CU_ASSERT_FATAL(np <= 128 && 2 * nn_scratch_floats(&net) <= 32);
	for (size_t i = 0; i < np; i++)
		p[i] = net.params[i];

	/* The float forward agrees with the double reference. */
	double ref = ref_forward(&net, p, x);
	CU_ASSERT(rel_err(nn_forward(&net, x, scratch, NULL), ref) <= REL_TOL);

	memset(grad, 0, sizeof grad);
	float mse = nn_backward(&net, x, scratch, grad);
	CU_ASSERT(rel_err(mse, ref) <= REL_TOL);

	const double h = 1e-5;
	double max_e = 0;
	size_t nonzero = 0;
	for (size_t i = 0; i < np; i++) {
		double keep = p[i];
		p[i] = keep + h;
		double up = ref_forward(&net, p, x);
		p[i] = keep - h;
		double down = ref_forward(&net, p, x);
		p[i] = keep;
		double fd = (up - down) / (2 * h);
		/* Float analytic vs double numeric: allow 1e-4 relative, floor 1e-6. */
		double scale = fabs(fd) > 1e-6 ? fabs(fd) : 1e-6;
		double e = fabs(grad[i] - fd) / scale;
		max_e = e > max_e ? e : max_e;
		nonzero += fabs(fd) > 1e-6;
	}
	printf("\n    finite-difference max rel err %.3g over %zu params (%zu nonzero)\n",
	       max_e, np, nonzero);
	CU_ASSERT(max_e <= 1e-4);
	CU_ASSERT(nonzero > np / 2);

	/* nn_backward adds: a second call doubles the gradient exactly. */
	memcpy(grad2, grad, np * sizeof grad[0]);
	nn_backward(&net, x, scratch, grad2);
	for (size_t i = 0; i < np; i++)
		CU_ASSERT_EQUAL(grad2[i], 2.0f * grad[i]);
	nn_free(&net);
}

/* ---- arguments, init, closed-form cases --------------------------------- */

static void test_init_rejects(void)
{
	const int ok[] = {20, 12, 6, 12, 20};
	const nn_act act[NN_MAX_LAYERS + 1] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	nn net;

	CU_ASSERT_EQUAL(nn_init(NULL, 4, ok, act), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_init(&net, 4, NULL, act), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NULL(net.params);
	CU_ASSERT_EQUAL(nn_init(&net, 4, ok, NULL), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_init(&net, 0, ok, act), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_init(&net, -1, ok, act), IOTAD_ERR_INVAL);
	int many[NN_MAX_LAYERS + 2];
	for (int i = 0; i < NN_MAX_LAYERS + 2; i++)
		many[i] = 3;
	CU_ASSERT_EQUAL(nn_init(&net, NN_MAX_LAYERS + 1, many, act), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NULL(net.params);
	CU_ASSERT_EQUAL(net.n_layers, 0);

	int zero_w[] = {20, 0, 20};
	int wide[] = {20, NN_MAX_WIDTH + 1, 20};
	int neg[] = {-20, 4, -20};
	int mismatch[] = {20, 12, 19};
	CU_ASSERT_EQUAL(nn_init(&net, 2, zero_w, act), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_init(&net, 2, wide, act), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_init(&net, 2, neg, act), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_init(&net, 2, mismatch, act), IOTAD_ERR_INVAL);
	nn_act bad[] = {NN_RELU, (nn_act)7};
	CU_ASSERT_EQUAL(nn_init(&net, 2, ok + 2, bad), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NULL(net.params);

	/* Limits are inclusive. */
	int edge[] = {1, NN_MAX_WIDTH, 1};
	CU_ASSERT_EQUAL(nn_init(&net, 2, edge, act), IOTAD_OK);
	CU_ASSERT_EQUAL(net.n_params, (size_t)NN_MAX_WIDTH * 2 + NN_MAX_WIDTH + 1);
	nn_free(&net);
	CU_ASSERT_EQUAL(nn_init(&net, NN_MAX_LAYERS, many, act), IOTAD_OK);
	CU_ASSERT_EQUAL(net.n_params, (size_t)NN_MAX_LAYERS * 12);
	nn_free(&net);

	/* Free is safe on a zeroed, an already freed and a NULL struct. */
	nn zeroed;
	memset(&zeroed, 0, sizeof zeroed);
	nn_free(&zeroed);
	nn_free(&zeroed);
	nn_free(NULL);

	/* The seed net: layout, zeroed parameters, scratch size. */
	CU_ASSERT_FATAL(nn_init(&net, 4, ok, act) == IOTAD_OK);
	CU_ASSERT_EQUAL(net.n_params, 252 + 78 + 84 + 260);
	CU_ASSERT_EQUAL(nn_layer_offset(&net, 0), 0);
	CU_ASSERT_EQUAL(nn_layer_offset(&net, 1), 252);
	CU_ASSERT_EQUAL(nn_layer_offset(&net, 2), 330);
	CU_ASSERT_EQUAL(nn_layer_offset(&net, 3), 414);
	CU_ASSERT_EQUAL(nn_layer_offset(&net, 4), 674);
	CU_ASSERT_EQUAL(nn_scratch_floats(&net), 50);
	int all_zero = 1;
	for (size_t i = 0; i < net.n_params; i++)
		all_zero &= net.params[i] == 0.0f;
	CU_ASSERT(all_zero);
	nn_free(&net);
	CU_ASSERT_PTR_NULL(net.params);

	nn_adam opt;
	CU_ASSERT_EQUAL(nn_adam_init(&opt, &net, 1e-3f), IOTAD_ERR_INVAL);
	nn_adam_free(&opt);
	nn_adam_free(NULL);
}

static void test_init_weights(void)
{
	const int sizes[] = {20, 12, 6, 12, 20};
	const nn_act act[] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	nn a, b, c;
	CU_ASSERT_FATAL(nn_init(&a, 4, sizes, act) == IOTAD_OK);
	CU_ASSERT_FATAL(nn_init(&b, 4, sizes, act) == IOTAD_OK);
	CU_ASSERT_FATAL(nn_init(&c, 4, sizes, act) == IOTAD_OK);
	nn_init_weights(&a, 42);
	nn_init_weights(&b, 42);
	/* Re-initialising a used network gives the same weights as a fresh one. */
	for (size_t i = 0; i < b.n_params; i++)
		b.params[i] = 3.0f;
	nn_init_weights(&b, 42);
	nn_init_weights(&c, 43);
	CU_ASSERT(memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0);
	size_t same = 0;
	for (size_t i = 0; i < a.n_params; i++)
		same += a.params[i] == c.params[i];
	/* Only the zero biases coincide. */
	CU_ASSERT_EQUAL(same, 12 + 6 + 12 + 20);

	for (int l = 0; l < a.n_layers; l++) {
		int in = sizes[l], out = sizes[l + 1];
		double bound = act[l] == NN_RELU ? sqrt(6.0 / in) : sqrt(6.0 / (in + out));
		const float *w = a.params + nn_layer_offset(&a, l);
		double max_abs = 0, sum = 0;
		int inside = 1;
		for (int i = 0; i < out * in; i++) {
			double v = fabs(w[i]);
			inside &= v <= bound;
			max_abs = v > max_abs ? v : max_abs;
			sum += w[i];
		}
		int zero_b = 1;
		for (int o = 0; o < out; o++)
			zero_b &= w[out * in + o] == 0.0f;
		CU_ASSERT(inside);
		CU_ASSERT(zero_b);
		/* With >= 72 draws the largest is near the bound (P(miss) < 1e-3)
		 * and the mean is near zero (5 standard errors). */
		CU_ASSERT(max_abs > 0.9 * bound);
		CU_ASSERT(fabs(sum / (out * in)) < 5.0 * bound / sqrt(3.0 * out * in));
	}
	nn_free(&a);
	nn_free(&b);
	nn_free(&c);
}

static void test_act_names(void)
{
	nn_act a = NN_LINEAR;
	CU_ASSERT_EQUAL(nn_act_parse("relu", &a), 0);
	CU_ASSERT_EQUAL(a, NN_RELU);
	CU_ASSERT_EQUAL(nn_act_parse("sigmoid", &a), 0);
	CU_ASSERT_EQUAL(a, NN_SIGMOID);
	CU_ASSERT_EQUAL(nn_act_parse("linear", &a), 0);
	CU_ASSERT_EQUAL(a, NN_LINEAR);
	CU_ASSERT_EQUAL(nn_act_parse("tanh", &a), -1);
	CU_ASSERT_EQUAL(nn_act_parse("Relu", &a), -1);
	CU_ASSERT_EQUAL(nn_act_parse("", &a), -1);
	CU_ASSERT_EQUAL(nn_act_parse(NULL, &a), -1);
	CU_ASSERT_EQUAL(a, NN_LINEAR);
	CU_ASSERT_STRING_EQUAL(nn_act_name(NN_SIGMOID), "sigmoid");
	CU_ASSERT_STRING_EQUAL(nn_act_name(NN_RELU), "relu");
	CU_ASSERT_STRING_EQUAL(nn_act_name(NN_LINEAR), "linear");
	CU_ASSERT_PTR_NOT_NULL(nn_act_name((nn_act)99));
}

/* Closed-form values, and no NaN from a saturated sigmoid. */
static void test_closed_form(void)
{
	const int sizes[] = {2, 2};
	nn_act act[] = {NN_SIGMOID};
	nn net;
	float scratch[4], err[2], grad[6];
	CU_ASSERT_FATAL(nn_init(&net, 1, sizes, act) == IOTAD_OK);
	/* W = diag(1000, 1000), b = 0: sigmoid saturates to exactly 1 and 0. */
	net.params[0] = 1000.0f;
	net.params[3] = 1000.0f;
	float x[2] = {1.0f, -1.0f};
	float mse = nn_forward(&net, x, scratch, err);
	CU_ASSERT_EQUAL(scratch[0], 1.0f);
	CU_ASSERT_EQUAL(scratch[1], 0.0f);
	CU_ASSERT_EQUAL(err[0], 0.0f);
	CU_ASSERT_EQUAL(err[1], 1.0f);
	CU_ASSERT_EQUAL(mse, 0.5f);
	memset(grad, 0, sizeof grad);
	CU_ASSERT_EQUAL(nn_backward(&net, x, scratch, grad), 0.5f);
	for (int i = 0; i < 6; i++)
		CU_ASSERT(isfinite(grad[i]) && grad[i] == 0.0f);

	/* Linear 2->2 with W = [[1,2],[3,4]], b = [0.5,-1], x = [1,1]:
	 * y = [3.5, 6], e = [2.5, 5], MSE = (6.25 + 25) / 2 = 15.625,
	 * dMSE/dy = e, dW = e x^T, db = e. */
	act[0] = NN_LINEAR;
	nn_free(&net);
	CU_ASSERT_FATAL(nn_init(&net, 1, sizes, act) == IOTAD_OK);
	const float p[6] = {1, 2, 3, 4, 0.5f, -1};
	memcpy(net.params, p, sizeof p);
	x[0] = x[1] = 1.0f;
	CU_ASSERT_EQUAL(nn_forward(&net, x, scratch, NULL), 15.625f);
	memset(grad, 0, sizeof grad);
	CU_ASSERT_EQUAL(nn_backward(&net, x, scratch, grad), 15.625f);
	const float want[6] = {2.5f, 2.5f, 5, 5, 2.5f, 5};
	for (int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(grad[i], want[i]);

	/* ReLU blocks negative pre-activations and their gradient. */
	act[0] = NN_RELU;
	nn_free(&net);
	CU_ASSERT_FATAL(nn_init(&net, 1, sizes, act) == IOTAD_OK);
	const float q[6] = {1, 0, 0, -1, 0, 0};
	memcpy(net.params, q, sizeof q);
	x[0] = 0.5f;
	x[1] = 0.5f;
	/* y = [0.5, 0]: error only on the second element, which is dead. */
	CU_ASSERT_EQUAL(nn_forward(&net, x, scratch, NULL), 0.125f);
	memset(grad, 0, sizeof grad);
	nn_backward(&net, x, scratch, grad);
	for (int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(grad[i], 0.0f);
	nn_free(&net);
}

/* The first Adam step moves every parameter by lr against the sign of its
 * gradient (m / sqrt(v) = g / |g| after bias correction), and a zero
 * gradient leaves it in place. */
static void test_adam_first_step(void)
{
	const int sizes[] = {2, 2};
	const nn_act act[] = {NN_LINEAR};
	nn net;
	nn_adam opt;
	CU_ASSERT_FATAL(nn_init(&net, 1, sizes, act) == IOTAD_OK);
	CU_ASSERT_EQUAL(nn_adam_init(&opt, &net, 0.0f), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_adam_init(&opt, &net, -1.0f), IOTAD_ERR_INVAL);
	CU_ASSERT_EQUAL(nn_adam_init(&opt, &net, NAN), IOTAD_ERR_INVAL);
	CU_ASSERT_FATAL(nn_adam_init(&opt, &net, 0.01f) == IOTAD_OK);
	CU_ASSERT(opt.beta1 == 0.9f && opt.beta2 == 0.999f && opt.eps == 1e-8f);
	const float g[6] = {3.0f, -0.5f, 0.0f, 1e-3f, -20.0f, 0.25f};
	for (int i = 0; i < 6; i++)
		net.params[i] = 1.0f;
	nn_adam_step(&opt, &net, g);
	for (int i = 0; i < 6; i++) {
		double want = g[i] == 0 ? 1.0 : 1.0 - 0.01 * g[i] / (fabs(g[i]) + 1e-8);
		CU_ASSERT(fabs(net.params[i] - want) <= 1e-6);
	}
	CU_ASSERT_EQUAL(opt.t, 1);
	nn_adam_free(&opt);
	CU_ASSERT_PTR_NULL(opt.m);
	nn_free(&net);
}

/* ---- training ------------------------------------------------------------ */

static void test_training_lowers_loss(void)
{
	enum { N = 32, D = 20, EPOCHS = 300 };
	const int sizes[] = {D, 12, 6, 12, D};
	const nn_act act[] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	/* Windows of a slow sine with random phase and amplitude: a 2-D manifold
	 * in 20 dimensions that a 6-wide bottleneck can learn. */
	static float data[N * D];
	rng r;
	rng_seed(&r, 0x1234567);
	for (int n = 0; n < N; n++) {
		double phase = rng_unit(&r) * 6.283185307;
		double amp = 0.2 + 0.2 * rng_unit(&r);
		for (int i = 0; i < D; i++)
			data[n * D + i] = (float)(0.5 + amp * sin(phase + 0.3 * i));
	}
	nn net;
	nn_adam opt;
	CU_ASSERT_FATAL(nn_init(&net, 4, sizes, act) == IOTAD_OK);
	nn_init_weights(&net, 1);
	CU_ASSERT_FATAL(nn_adam_init(&opt, &net, 1e-2f) == IOTAD_OK);
	float *scratch = malloc(2 * nn_scratch_floats(&net) * sizeof(float));
	float *grad = malloc(net.n_params * sizeof(float));
	CU_ASSERT_FATAL(scratch && grad);

	double first = 0, last = 0;
	for (int e = 0; e < EPOCHS; e++) {
		double loss = 0;
		memset(grad, 0, net.n_params * sizeof(float));
		for (int n = 0; n < N; n++)
			loss += nn_backward(&net, data + n * D, scratch, grad);
		for (size_t i = 0; i < net.n_params; i++)
			grad[i] /= N;
		nn_adam_step(&opt, &net, grad);
		if (e == 0)
			first = loss / N;
	}
	for (int n = 0; n < N; n++)
		last += nn_forward(&net, data + n * D, scratch, NULL);
	last /= N;
	printf("\n    training: loss %.4g -> %.4g (x%.1f)\n", first, last, first / last);
	CU_ASSERT(isfinite(last));
	CU_ASSERT(last < first / 10);
	nn_adam_free(&opt);
	free(scratch);
	free(grad);
	nn_free(&net);
}

void init_nn_tests(void)
{
	CU_pSuite s = CU_add_suite("nn", NULL, NULL);
	if (!s)
		return;
	TEST_ADD(s, test_fixture_forward);
	TEST_ADD(s, test_fixture_backward);
	TEST_ADD(s, test_fixture_adam);
	TEST_ADD(s, test_gradcheck);
	TEST_ADD(s, test_init_rejects);
	TEST_ADD(s, test_init_weights);
	TEST_ADD(s, test_act_names);
	TEST_ADD(s, test_closed_form);
	TEST_ADD(s, test_adam_first_step);
	TEST_ADD(s, test_training_lowers_loss);
}
