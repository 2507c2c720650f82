/* nnpack.c - the packed forward pass (see nnpack.h for the layout and the
 * arithmetic contract).
 *
 * One body (nnp_layer, nnp_layer2) is written as plain loops over blocks of
 * 8 outputs; it is compiled three times, for baseline x86-64, for AVX2+FMA
 * and for AVX-512, by inlining it into functions with a target attribute.
 * The compiler vectorizes each copy for its unit; nn_pack_init picks one
 * from what the CPU reports. The build itself needs no -march flag and the
 * project builds with -fno-fast-math: the copies differ in register width
 * only, never in the order of operations. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/nnpack.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#endif

#define NNP_PAD 16 /* layer widths are padded to a multiple of this */

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define NNP_X86 1
#else
#define NNP_X86 0
#endif

static const char *const nnp_isa_names[NN_ISA__COUNT] = {
	[NN_ISA_AUTO] = "auto",
	[NN_ISA_GENERIC] = "generic",
	[NN_ISA_AVX2] = "avx2",
	[NN_ISA_AVX512] = "avx512",
};

const char *nn_isa_name(nn_isa isa)
{
	return (unsigned)isa < NN_ISA__COUNT ? nnp_isa_names[isa] : "unknown";
}

bool nn_isa_supported(nn_isa isa)
{
	switch (isa) {
	case NN_ISA_AUTO:
	case NN_ISA_GENERIC:
		return true;
#if NNP_X86
	case NN_ISA_AVX2:
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	case NN_ISA_AVX512:
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("fma");
#endif
	default:
		return false;
	}
}

/* nnp_expf_neg (in the kernel): exp(a) for a <= 0 (clamped at -150, where
 * float's exp is 0) as 2^n e^r with |r| <= ln2/2 and a degree-11 Taylor
 * polynomial in double, accurate to about 1e-15 relative, rounded to float
 * once: the correctly rounded expf, which libm's expf also returns but for
 * values within about 1e-15 of a float rounding boundary. Only +, * and bit
 * moves, so it vectorizes and every path gets the same bits. */

typedef float (*nnp_fwd_fn)(const nn_pack *, const float *, float *, float *);
typedef void (*nnp_pair_fn)(const nn_pack *, const float *, const float *, float *, float *,
			    float *, float *, float *);

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#define NNP_SFX generic
#define NNP_L 2
#define NNP_BLK 8
#define NNP_MAC(acc, w, x) ((acc) + (w) * (x))
#define NNP_TARGET
#include "nnpack_kern.h"
#undef NNP_SFX
#undef NNP_L
#undef NNP_BLK
#undef NNP_MAC
#undef NNP_TARGET
#if NNP_X86
#define NNP_SFX avx2
#define NNP_L 4
#define NNP_BLK 8
#define NNP_MAC(acc, w, x) ((vd_avx2)_mm256_fmadd_pd((__m256d)(w), _mm256_set1_pd(x), (__m256d)(acc)))
#define NNP_TARGET __attribute__((target("avx2,fma")))
#include "nnpack_kern.h"
#undef NNP_SFX
#undef NNP_L
#undef NNP_BLK
#undef NNP_MAC
#undef NNP_TARGET
#define NNP_SFX avx512
#define NNP_L 8
#define NNP_BLK 16
#define NNP_MAC(acc, w, x) ((vd_avx512)_mm512_fmadd_pd((__m512d)(w), _mm512_set1_pd(x), (__m512d)(acc)))
#define NNP_TARGET __attribute__((target("avx512f,avx2,fma")))
#include "nnpack_kern.h"
#undef NNP_SFX
#undef NNP_L
#undef NNP_BLK
#undef NNP_MAC
#undef NNP_TARGET
#endif
#pragma GCC diagnostic pop

static nnp_fwd_fn nnp_fwd_for(nn_isa isa)
{
#if NNP_X86
	if (isa == NN_ISA_AVX512)
		return nnp_fwd_avx512;
	if (isa == NN_ISA_AVX2)
		return nnp_fwd_avx2;
#endif
	(void)isa;
	return nnp_fwd_generic;
}

static nnp_pair_fn nnp_pair_for(nn_isa isa)
{
#if NNP_X86
	if (isa == NN_ISA_AVX512)
		return nnp_pair_avx512;
	if (isa == NN_ISA_AVX2)
		return nnp_pair_avx2;
#endif
	(void)isa;
	return nnp_pair_generic;
}

iotad_err nn_pack_init(nn_pack *p, const nn *net, nn_isa isa)
{
	if (!p)
		return IOTAD_ERR_INVAL;
	memset(p, 0, sizeof *p);
	if (!net || !net->params || net->n_layers < 1 || net->n_layers > NN_MAX_LAYERS ||
	    (unsigned)isa >= NN_ISA__COUNT || !nn_isa_supported(isa))
		return IOTAD_ERR_INVAL;
	if (isa == NN_ISA_AUTO)
		isa = nn_isa_supported(NN_ISA_AVX512) ? NN_ISA_AVX512 :
		      nn_isa_supported(NN_ISA_AVX2)   ? NN_ISA_AVX2 :
							NN_ISA_GENERIC;
	size_t total = 0;
	p->n_layers = net->n_layers;
	for (int l = 0; l <= net->n_layers; l++) {
		p->sizes[l] = net->sizes[l];
		p->pad[l] = (net->sizes[l] + NNP_PAD - 1) / NNP_PAD * NNP_PAD;
	}
	for (int l = 0; l < net->n_layers; l++) {
		p->act[l] = net->act[l];
		p->off[l] = total;
		total += ((size_t)p->sizes[l] + 1) * (size_t)p->pad[l + 1];
	}
	size_t bytes = (total * sizeof(double) + 63) / 64 * 64;
	p->w = aligned_alloc(64, bytes);
	if (!p->w) {
		memset(p, 0, sizeof *p);
		return IOTAD_ERR_NOMEM;
	}
	memset(p->w, 0, bytes);
	for (int l = 0; l < net->n_layers; l++) {
		int in = p->sizes[l], out = p->sizes[l + 1], op = p->pad[l + 1];
		const float *w = net->params + nn_layer_offset(net, l);
		double *wt = p->w + p->off[l];
		for (int o = 0; o < out; o++) {
			for (int i = 0; i < in; i++)
				wt[(size_t)i * (size_t)op + (size_t)o] = w[(size_t)o * (size_t)in + (size_t)i];
			wt[(size_t)in * (size_t)op + (size_t)o] = w[(size_t)out * (size_t)in + (size_t)o];
		}
	}
	p->isa = isa;
	return IOTAD_OK;
}

void nn_pack_free(nn_pack *p)
{
	if (!p)
		return;
	free(p->w);
	memset(p, 0, sizeof *p);
}

size_t nn_pack_scratch_floats(const nn_pack *p)
{
	size_t n = 0;
	for (int l = 1; l <= p->n_layers; l++)
		n += (size_t)p->pad[l];
	return n;
}

float nn_pack_forward(const nn_pack *p, const float *x, float *scratch, float *err)
{
	return nnp_fwd_for(p->isa)(p, x, scratch, err);
}

void nn_pack_forward_batch(const nn_pack *p, size_t n, const float *const *x, float *scratch,
			   float *scores, float *const *err)
{
	nnp_pair_fn pair = nnp_pair_for(p->isa);
	size_t k = 0;
	if (n > NN_PACK_BATCH_MAX)
		n = NN_PACK_BATCH_MAX;
	for (; k + 2 <= n; k += 2)
		pair(p, x[k], x[k + 1], scratch, &scores[k], &scores[k + 1], err ? err[k] : NULL,
		     err ? err[k + 1] : NULL);
	if (k < n)
		scores[k] = nn_pack_forward(p, x[k], scratch, err ? err[k] : NULL);
}
