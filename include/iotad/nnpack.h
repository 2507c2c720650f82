/* nnpack.h - the scoring form of a network: nn_forward's arithmetic laid out
 * for the vector unit.
 *
 * nn_pack_init copies a network's parameters into a read-only block that
 * the forward pass walks in order: for each layer W transposed (W^T[in][out],
 * out padded to a multiple of 16) in double, then the bias. A layer's outputs
 * are then computed side by side, 8 to 32 at a time, from one broadcast
 * input each step.
 *
 * Arithmetic: every product of a float weight and a float input is exact in
 * double, so a fused multiply-add rounds exactly like a multiply then an add.
 * Each sum is accumulated in double as four partial sums (inputs i mod 4, each
 * in increasing i) added as (p0 + p1) + (p2 + p3), then the bias, then
 * rounded to float once; the MSE likewise sums eight partial sums (i mod 8).
 * Every code path (generic x86-64, AVX2+FMA, AVX-512)
 * performs the same operations in the same order: their scores are
 * bit-identical. nn_forward (one sum in input order) differs from it only by
 * the rounding of double sums: the scores agree to a few float ulps (tests
 * bound the difference at 1e-6 relative).
 *
 * The path is chosen once at nn_pack_init from what the CPU reports
 * (__builtin_cpu_supports); the build needs no -march flag. */
#ifndef IOTAD_NNPACK_H
#define IOTAD_NNPACK_H

#include <stdbool.h>
#include <stddef.h>

#include "iotad/nn.h"

/* Widest batch nn_pack_forward_batch takes in one call. */
#define NN_PACK_BATCH_MAX 32

typedef enum nn_isa {
	NN_ISA_AUTO = 0, /* the widest the CPU supports */
	NN_ISA_GENERIC,  /* baseline x86-64 (SSE2) or any other architecture */
	NN_ISA_AVX2,     /* AVX2 and FMA */
	NN_ISA_AVX512,   /* AVX-512F (and AVX2, FMA) */
	NN_ISA__COUNT
} nn_isa;

typedef struct nn_pack {
	int n_layers;
	int sizes[NN_MAX_LAYERS + 1];
	int pad[NN_MAX_LAYERS + 1];   /* sizes rounded up to a multiple of 16 */
	nn_act act[NN_MAX_LAYERS];
	size_t off[NN_MAX_LAYERS];    /* layer l's W^T in w; its bias at + sizes[l] * pad[l+1] */
	double *w;                    /* owned, 64-byte aligned */
	nn_isa isa;                   /* the path in use (never AUTO) */
} nn_pack;

/* "auto", "generic", "avx2", "avx512"; never NULL. */
const char *nn_isa_name(nn_isa isa);
/* True when this CPU (and build) can run the path; AUTO and GENERIC always. */
bool nn_isa_supported(nn_isa isa);

/* Pack net (which must outlive nothing: the weights are copied) for the
 * path isa. Returns IOTAD_ERR_INVAL for a NULL or empty net or an isa this
 * CPU cannot run, IOTAD_ERR_NOMEM; p is zeroed on failure. Re-pack after
 * the network's parameters change. */
iotad_err nn_pack_init(nn_pack *p, const nn *net, nn_isa isa);
/* Free the packed weights; accepts NULL and a zeroed struct. */
void nn_pack_free(nn_pack *p);

/* Floats of scratch one nn_pack_forward call needs (padded layer widths). */
size_t nn_pack_scratch_floats(const nn_pack *p);

/* As nn_forward: reconstruct x (sizes[0] floats), return the MSE, and
 * (err not NULL) each element's squared error. scratch holds
 * nn_pack_scratch_floats(p) floats. No allocation; any thread, scratch not
 * shared. */
float nn_pack_forward(const nn_pack *p, const float *x, float *scratch, float *err);

/* n windows at once (n <= NN_PACK_BATCH_MAX): scores[k] and (err not NULL)
 * err[k] are exactly what nn_pack_forward gives x[k]. The weights are read
 * once per pair of windows. scratch holds 2 * nn_pack_scratch_floats(p)
 * floats. */
void nn_pack_forward_batch(const nn_pack *p, size_t n, const float *const *x, float *scratch,
			   float *scores, float *const *err);

#endif
