/* nn.h - dense feed-forward network on flat float arrays.
 *
 * All parameters live in one contiguous block. Layer l has a weight matrix
 * W[out][in] (row-major, PyTorch's nn.Linear layout) followed by its bias
 * b[out]. The autoencoder's score is the mean squared error between the
 * output and the input. */
#ifndef IOTAD_NN_H
#define IOTAD_NN_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

#define NN_MAX_LAYERS 8
#define NN_MAX_WIDTH 4096

typedef enum nn_act { NN_LINEAR = 0, NN_RELU, NN_SIGMOID } nn_act;

typedef struct nn {
	int n_layers;                   /* dense layers */
	int sizes[NN_MAX_LAYERS + 1];   /* sizes[0] input, sizes[n_layers] output */
	nn_act act[NN_MAX_LAYERS];      /* activation after each layer */
	size_t n_params;                /* floats in params */
	float *params;                  /* owned, contiguous */
} nn;

/* Scratch for training: activations of every layer and gradients. */
typedef struct nn_adam {
	float lr, beta1, beta2, eps;
	long t;                         /* steps taken */
	float *m, *v;                   /* owned, n_params each */
} nn_adam;

/* Parse/print activation names "linear", "relu", "sigmoid". nn_act_parse
 * returns 0 on success, -1 for an unknown name; nn_act_name never NULL. */
int nn_act_parse(const char *name, nn_act *out);
const char *nn_act_name(nn_act act);

/* Allocate a network with zeroed parameters. sizes has n_layers+1 entries.
 * The output size must equal the input size (autoencoder). Returns
 * IOTAD_ERR_INVAL (net left zeroed) for 0 or > NN_MAX_LAYERS layers, a width
 * outside 1..NN_MAX_WIDTH, output != input or an unknown activation. */
iotad_err nn_init(nn *net, int n_layers, const int *sizes, const nn_act *act);
/* Free the parameters; accepts a zeroed or NULL struct. */
void nn_free(nn *net);
/* Deterministic He/Xavier uniform initialisation from seed (splitmix64, same
 * weights on every platform); He for ReLU layers, Xavier otherwise; biases zero. */
void nn_init_weights(nn *net, uint64_t seed);
/* Offset (in floats) of layer l's weights; its bias follows at + out*in. */
size_t nn_layer_offset(const nn *net, int l);

/* Floats of scratch space nn_forward needs (sum of all layer widths). */
size_t nn_scratch_floats(const nn *net);
/* Reconstruct x and return the MSE between output and x. If err is not
 * NULL it receives the squared error of every input element. scratch must
 * hold nn_scratch_floats() floats; on return its last sizes[n_layers] floats
 * hold the reconstruction. Sums are accumulated in double. No allocation;
 * any thread, as long as scratch is not shared. */
float nn_forward(const nn *net, const float *x, float *scratch, float *err);

/* Forward and backward for one sample: returns its MSE and adds d(MSE)/d(param)
 * to grad (n_params floats). scratch holds 2 * nn_scratch_floats() floats. */
float nn_backward(const nn *net, const float *x, float *scratch, float *grad);

/* A network's weights transposed (W^T[in][out] of each layer, in double)
 * for nn_backward_tw: the same sums as nn_backward, bit for bit, over
 * contiguous columns. nn_tw_update after every change of the parameters
 * (each optimizer step); it does not allocate. */
typedef struct nn_tw {
	double *w; /* owned */
	size_t n;
} nn_tw;
iotad_err nn_tw_init(nn_tw *t, const nn *net);
void nn_tw_update(nn_tw *t, const nn *net);
void nn_tw_free(nn_tw *t);
/* nn_backward with t (nn_tw_update'd from net's current parameters):
 * the same loss and gradient, bit for bit, in less time. */
float nn_backward_tw(const nn *net, const nn_tw *t, const float *x, float *scratch,
		     float *grad);

/* Adam state for a network; lr etc. set to the usual defaults (1e-3, 0.9, 0.999, 1e-8).
 * Returns IOTAD_ERR_INVAL for a NULL or empty net or lr not finite and > 0. */
iotad_err nn_adam_init(nn_adam *opt, const nn *net, float lr);
void nn_adam_free(nn_adam *opt);
/* One Adam step with the (already averaged) gradient, as torch.optim.Adam
 * (bias-corrected, no weight decay). */
void nn_adam_step(nn_adam *opt, nn *net, const float *grad);

#endif
