/* nn.c - dense feed-forward autoencoder: forward, backward, Adam.
 *
 * Parameters live in one float block: for each layer W[out][in] row-major
 * (PyTorch nn.Linear layout) followed by b[out].
 *
 * Precision: values are stored as float; every sum (the dot products of a
 * layer, the back-propagated sums and the MSE) is accumulated in double and
 * rounded to float once, so results do not depend on the summation order a
 * compiler or a vector unit would pick. The build uses no -ffast-math.
 *
 * Scratch layout (nn_scratch_floats() = sizes[1] + ... + sizes[n_layers]):
 * the activation of layer 1, then layer 2, ..., then the output. Backward
 * uses a second block of the same layout for dLoss/d(pre-activation). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/nn.h"
#include "iotad/rng.h"

static const char *const act_names[] = {
	[NN_LINEAR] = "linear",
	[NN_RELU] = "relu",
	[NN_SIGMOID] = "sigmoid",
};

int nn_act_parse(const char *name, nn_act *out)
{
	if (!name || !out)
		return -1;
	for (int i = 0; i < (int)(sizeof act_names / sizeof act_names[0]); i++) {
		if (strcmp(name, act_names[i]) == 0) {
			*out = (nn_act)i;
			return 0;
		}
	}
	return -1;
}

const char *nn_act_name(nn_act act)
{
	if ((unsigned)act >= sizeof act_names / sizeof act_names[0])
		return "unknown";
	return act_names[act];
}

iotad_err nn_init(nn *net, int n_layers, const int *sizes, const nn_act *act)
{
	if (!net)
		return IOTAD_ERR_INVAL;
	memset(net, 0, sizeof *net);
	if (!sizes || !act || n_layers < 1 || n_layers > NN_MAX_LAYERS)
		return IOTAD_ERR_INVAL;
	for (int l = 0; l <= n_layers; l++) {
		if (sizes[l] < 1 || sizes[l] > NN_MAX_WIDTH)
			return IOTAD_ERR_INVAL;
	}
	if (sizes[n_layers] != sizes[0])
		return IOTAD_ERR_INVAL;
	for (int l = 0; l < n_layers; l++) {
		if (act[l] != NN_LINEAR && act[l] != NN_RELU && act[l] != NN_SIGMOID)
			return IOTAD_ERR_INVAL;
	}

	size_t n = 0;
	for (int l = 0; l < n_layers; l++)
		n += (size_t)sizes[l + 1] * ((size_t)sizes[l] + 1);
	float *p = calloc(n, sizeof *p);
	if (!p)
		return IOTAD_ERR_NOMEM;

	net->n_layers = n_layers;
	for (int l = 0; l <= n_layers; l++)
		net->sizes[l] = sizes[l];
	for (int l = 0; l < n_layers; l++)
		net->act[l] = act[l];
	net->n_params = n;
	net->params = p;
	return IOTAD_OK;
}

void nn_free(nn *net)
{
	if (!net)
		return;
	free(net->params);
	memset(net, 0, sizeof *net);
}

size_t nn_layer_offset(const nn *net, int l)
{
	size_t off = 0;
	for (int k = 0; k < l; k++)
		off += (size_t)net->sizes[k + 1] * ((size_t)net->sizes[k] + 1);
	return off;
}

size_t nn_scratch_floats(const nn *net)
{
	size_t n = 0;
	for (int l = 1; l <= net->n_layers; l++)
		n += (size_t)net->sizes[l];
	return n;
}

/* Uniform double in [0, 1) with 53 random bits of the seed's splitmix64
 * stream (the stream models have always been initialised from). */
static double nn_rng_unit(uint64_t *state)
{
	return (double)(rng_splitmix64(state) >> 11) * 0x1.0p-53;
}

void nn_init_weights(nn *net, uint64_t seed)
{
	uint64_t state = seed;
	for (int l = 0; l < net->n_layers; l++) {
		int in = net->sizes[l], out = net->sizes[l + 1];
		float *w = net->params + nn_layer_offset(net, l);
		/* He-uniform keeps the variance through ReLU; Xavier otherwise. */
		double bound = net->act[l] == NN_RELU ? sqrt(6.0 / in) : sqrt(6.0 / (in + out));
		for (size_t i = 0; i < (size_t)out * in; i++)
			w[i] = (float)((2.0 * nn_rng_unit(&state) - 1.0) * bound);
		memset(w + (size_t)out * in, 0, (size_t)out * sizeof *w);
	}
}

/* Logistic function without overflow for large |z|. */
static float nn_sigmoid(float z)
{
	if (z >= 0.0f)
		return 1.0f / (1.0f + expf(-z));
	float e = expf(z);
	return e / (1.0f + e);
}

static float nn_activate(nn_act act, float z)
{
	switch (act) {
	case NN_RELU:
		return z > 0.0f ? z : 0.0f;
	case NN_SIGMOID:
		return nn_sigmoid(z);
	default:
		return z;
	}
}

/* y = act(W x + b) for one layer. Four rows are computed together so their
 * independent sums overlap in the pipeline; each sum still runs over i in
 * order, so the result is the same as one row at a time. */
static void nn_layer_forward(const float *w, const float *b, const float *x, int in,
			     float *y, int out, nn_act act)
{
	int o = 0;
	for (; o + 4 <= out; o += 4) {
		const float *r0 = w + (size_t)o * in;
		const float *r1 = r0 + in, *r2 = r1 + in, *r3 = r2 + in;
		double s0 = b[o], s1 = b[o + 1], s2 = b[o + 2], s3 = b[o + 3];
		for (int i = 0; i < in; i++) {
			double xi = x[i];
			s0 += r0[i] * xi;
			s1 += r1[i] * xi;
			s2 += r2[i] * xi;
			s3 += r3[i] * xi;
		}
		y[o] = nn_activate(act, (float)s0);
		y[o + 1] = nn_activate(act, (float)s1);
		y[o + 2] = nn_activate(act, (float)s2);
		y[o + 3] = nn_activate(act, (float)s3);
	}
	for (; o < out; o++) {
		const float *row = w + (size_t)o * in;
		double s = b[o];
		for (int i = 0; i < in; i++)
			s += row[i] * (double)x[i];
		y[o] = nn_activate(act, (float)s);
	}
}

/* Derivative of the activation expressed through its output y. */
static float nn_act_deriv(nn_act act, float y)
{
	switch (act) {
	case NN_RELU:
		return y > 0.0f ? 1.0f : 0.0f;
	case NN_SIGMOID:
		return y * (1.0f - y);
	default:
		return 1.0f;
	}
}

/* Runs every layer into scratch; returns a pointer to the output. */
static const float *nn_run(const nn *net, const float *x, float *scratch)
{
	const float *in = x;
	float *out = scratch;
	for (int l = 0; l < net->n_layers; l++) {
		int n_in = net->sizes[l], n_out = net->sizes[l + 1];
		const float *w = net->params + nn_layer_offset(net, l);
		nn_layer_forward(w, w + (size_t)n_out * n_in, in, n_in, out, n_out, net->act[l]);
		in = out;
		out += n_out;
	}
	return in;
}

float nn_forward(const nn *net, const float *x, float *scratch, float *err)
{
	const float *y = nn_run(net, x, scratch);
	int d = net->sizes[0];
	double sum = 0.0;
	for (int i = 0; i < d; i++) {
		double diff = (double)y[i] - x[i];
		double sq = diff * diff;
		if (err)
			err[i] = (float)sq;
		sum += sq;
	}
	return (float)(sum / d);
}

iotad_err nn_tw_init(nn_tw *t, const nn *net)
{
	if (!t)
		return IOTAD_ERR_INVAL;
	memset(t, 0, sizeof *t);
	if (!net || !net->params)
		return IOTAD_ERR_INVAL;
	size_t n = 0;
	for (int l = 0; l < net->n_layers; l++)
		n += (size_t)net->sizes[l] * (size_t)net->sizes[l + 1];
	if (!(t->w = malloc(n * sizeof *t->w)))
		return IOTAD_ERR_NOMEM;
	t->n = n;
	nn_tw_update(t, net);
	return IOTAD_OK;
}

void nn_tw_update(nn_tw *t, const nn *net)
{
	double *dst = t->w;
	for (int l = 0; l < net->n_layers; l++) {
		int in = net->sizes[l], out = net->sizes[l + 1];
		const float *w = net->params + nn_layer_offset(net, l);
		for (int i = 0; i < in; i++)
			for (int o = 0; o < out; o++)
				*dst++ = w[(size_t)o * in + i];
	}
}

void nn_tw_free(nn_tw *t)
{
	if (!t)
		return;
	free(t->w);
	memset(t, 0, sizeof *t);
}

/* nn_layer_forward from W^T in double: s[o] starts at b[o] and adds
 * w[o][i] x[i] for i in order, the same sums as one row at a time, but all
 * out of them advance together over contiguous columns (the compiler
 * vectorizes over o; no chain of dependent additions). */
static void nn_layer_forward_t(const double *wt, const float *b, const float *x, int in,
			       float *y, int out, nn_act act)
{
	double s[NN_MAX_WIDTH];
	for (int o = 0; o < out; o++)
		s[o] = b[o];
	for (int i = 0; i < in; i++) {
		const double *col = wt + (size_t)i * out;
		double xi = x[i];
		for (int o = 0; o < out; o++)
			s[o] += col[o] * xi;
	}
	for (int o = 0; o < out; o++)
		y[o] = nn_activate(act, (float)s[o]);
}

static const float *nn_run_t(const nn *net, const nn_tw *t, const float *x, float *scratch)
{
	const float *in = x;
	float *out = scratch;
	const double *wt = t->w;
	for (int l = 0; l < net->n_layers; l++) {
		int n_in = net->sizes[l], n_out = net->sizes[l + 1];
		const float *b = net->params + nn_layer_offset(net, l) + (size_t)n_out * n_in;
		nn_layer_forward_t(wt, b, in, n_in, out, n_out, net->act[l]);
		wt += (size_t)n_in * n_out;
		in = out;
		out += n_out;
	}
	return in;
}

static float nn_backward_run(const nn *net, const nn_tw *t, const float *x, float *scratch,
			     float *grad);

float nn_backward(const nn *net, const float *x, float *scratch, float *grad)
{
	return nn_backward_run(net, NULL, x, scratch, grad);
}

float nn_backward_tw(const nn *net, const nn_tw *t, const float *x, float *scratch,
		     float *grad)
{
	return nn_backward_run(net, t, x, scratch, grad);
}

static float nn_backward_run(const nn *net, const nn_tw *t, const float *x, float *scratch,
			     float *grad)
{
	size_t total = nn_scratch_floats(net);
	float *act = scratch;            /* activations, layer 1..L */
	float *delta = scratch + total;  /* dLoss/dz, same layout */
	int L = net->n_layers;
	int d = net->sizes[0];

	const float *y = t ? nn_run_t(net, t, x, act) : nn_run(net, x, act);

	/* Offsets of each layer's block inside act/delta. */
	size_t off[NN_MAX_LAYERS + 1];
	off[0] = 0;
	for (int l = 1; l <= L; l++)
		off[l] = off[l - 1] + (size_t)net->sizes[l];

	/* Output layer: dMSE/dy = 2 (y - x) / D, times the activation slope. */
	double sum = 0.0;
	float *dout = delta + off[L - 1];
	for (int i = 0; i < d; i++) {
		double diff = (double)y[i] - x[i];
		sum += diff * diff;
		dout[i] = (float)(2.0 * diff / d) * nn_act_deriv(net->act[L - 1], y[i]);
	}

	for (int l = L - 1; l >= 0; l--) {
		int n_in = net->sizes[l], n_out = net->sizes[l + 1];
		size_t wo = nn_layer_offset(net, l);
		const float *w = net->params + wo;
		float *gw = grad + wo;
		float *gb = gw + (size_t)n_out * n_in;
		const float *in = l == 0 ? x : act + off[l - 1];
		const float *dz = delta + off[l];

		for (int o = 0; o < n_out; o++) {
			float g = dz[o];
			float *grow = gw + (size_t)o * n_in;
			for (int i = 0; i < n_in; i++)
				grow[i] += g * in[i];
			gb[o] += g;
		}
		if (l == 0)
			break;
		/* Propagate to the previous layer's pre-activation: each sum runs
		 * over o in order, as one row at a time would, but the rows are
		 * read contiguously and the n_in sums advance together (no chain
		 * of dependent additions, and the compiler vectorizes over i). */
		float *dprev = delta + off[l - 1];
		double s[NN_MAX_WIDTH];
		for (int i = 0; i < n_in; i++)
			s[i] = 0.0;
		for (int o = 0; o < n_out; o++) {
			const float *row = w + (size_t)o * n_in;
			double g = dz[o];
			for (int i = 0; i < n_in; i++)
				s[i] += (double)row[i] * g;
		}
		for (int i = 0; i < n_in; i++)
			dprev[i] = (float)s[i] * nn_act_deriv(net->act[l - 1], in[i]);
	}
	return (float)(sum / d);
}

iotad_err nn_adam_init(nn_adam *opt, const nn *net, float lr)
{
	if (!opt)
		return IOTAD_ERR_INVAL;
	memset(opt, 0, sizeof *opt);
	if (!net || !net->params || !(lr > 0.0f) || !isfinite(lr))
		return IOTAD_ERR_INVAL;
	opt->m = calloc(net->n_params, sizeof *opt->m);
	opt->v = calloc(net->n_params, sizeof *opt->v);
	if (!opt->m || !opt->v) {
		nn_adam_free(opt);
		return IOTAD_ERR_NOMEM;
	}
	opt->lr = lr;
	opt->beta1 = 0.9f;
	opt->beta2 = 0.999f;
	opt->eps = 1e-8f;
	opt->t = 0;
	return IOTAD_OK;
}

void nn_adam_free(nn_adam *opt)
{
	if (!opt)
		return;
	free(opt->m);
	free(opt->v);
	memset(opt, 0, sizeof *opt);
}

void nn_adam_step(nn_adam *opt, nn *net, const float *grad)
{
	opt->t++;
	/* Bias corrections in double, then the update in float, in the same
	 * order of operations as torch.optim.Adam. */
	double bc1 = 1.0 - pow(opt->beta1, (double)opt->t);
	double bc2 = 1.0 - pow(opt->beta2, (double)opt->t);
	float step = (float)(opt->lr / bc1);
	float bc2_sqrt = (float)sqrt(bc2);
	float b1 = opt->beta1, b2 = opt->beta2;
	float c1 = (float)(1.0 - opt->beta1), c2 = (float)(1.0 - opt->beta2);
	float *p = net->params, *m = opt->m, *v = opt->v;

	for (size_t i = 0; i < net->n_params; i++) {
		float g = grad[i];
		m[i] = m[i] * b1 + g * c1;
		v[i] = v[i] * b2 + g * g * c2;
		float denom = sqrtf(v[i]) / bc2_sqrt + opt->eps;
		p[i] -= step * (m[i] / denom);
	}
}
