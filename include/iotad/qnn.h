/* qnn.h - the autoencoder in int8: per-output-channel symmetric int8
 * weights, int8 activations with calibrated per-layer ranges, int32
 * accumulation and fixed-point requantization (multiplier + shift, round
 * half up, saturating). Float only at the input (quantizing the normalized
 * window) and the score (the reconstruction against the float input).
 *
 * Real values: activation a = a_scale * (q - a_zp); weight w[o][i] =
 * w_scale[o] * q with w_scale[o] = 2^((4 w_exp - w_code[o]) / 16), on a
 * 1/16-octave grid; bias b[o] = 2^(b_exp / 4) * b16[o]. The stored form
 * (what the codec writes) is w_exp, w_code, b_exp, b16, w, a_scale, a_zp
 * and out_scale: three bytes a channel beyond its weights;
 * qnn_prepare validates it and derives the rest. */
#ifndef IOTAD_QNN_H
#define IOTAD_QNN_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/nn.h"

#define QNN_ALIGN 16            /* rows and activations padded to this many bytes */
#define QNN_CODE_STEPS 16       /* weight scale codes per octave */
#define QNN_SIG_Q 256           /* sigmoid layers: pre-activation in Q8 ... */
#define QNN_SIG_HALF 2048       /* ... clamped to [-8, 8): a table of 4096 entries */
#define QNN_OUT_MAX 32767       /* last layer (linear, relu): int16 pre-activation */

typedef struct qnn_layer {
	int in, out, in_pad;        /* in_pad: in rounded up to QNN_ALIGN */
	nn_act act;
	/* stored */
	int8_t w_exp;               /* weight scales from 2^(w_exp / 4) down */
	int8_t b_exp;               /* bias scale 2^(b_exp / 4) */
	uint8_t *w_code;            /* out: w_scale[o] = 2^((4 w_exp - w_code[o]) / 16) */
	int16_t *b16;               /* out, -32767..32767 */
	int8_t *w;                  /* out rows of in_pad, -127..127, padding 0 */
	/* derived by qnn_prepare */
	int16_t *w16;               /* w widened once: SSE2 multiplies 16-bit lanes */
	float *w_scale;             /* out */
	int32_t *bias;              /* out: accumulator units, input zero point folded in */
	int32_t *mult;              /* out: multiplier, 2^30..2^31-1 (0 if the scale is 0) */
	int32_t *shift;             /* out: right shift after the multiply, 1..62 */
} qnn_layer;

typedef struct qnn {
	int n_layers;
	int sizes[NN_MAX_LAYERS + 1];
	qnn_layer layer[NN_MAX_LAYERS];
	float a_scale[NN_MAX_LAYERS];   /* input of layer l (stored) */
	int32_t a_zp[NN_MAX_LAYERS];    /* its zero point, -128..127 (stored) */
	float out_scale;                /* last layer's int16 pre-activation (stored;
					 * 1/256 when it is a sigmoid) */
	float *lut;                     /* sigmoid at (i - 2048) / 256, 4097 entries */
	int16_t *lut8;                  /* the same as int8 of scale 1/256, zero point -128
					 * (a hidden sigmoid: Q8 in; the last one reads lut
					 * at Q12, linearly between entries) */
	size_t widest;                  /* largest in_pad */
	void *block;                    /* owns every array above */
} qnn;

/* Allocate an int8 network of this shape with zeroed stored parameters
 * (rules as nn_init). Owned by q until qnn_free. Any thread. */
iotad_err qnn_init(qnn *q, int n_layers, const int *sizes, const nn_act *act);
/* Free; accepts NULL or a zeroed struct. */
void qnn_free(qnn *q);

/* Validate the stored parameters and derive the runtime ones. On
 * IOTAD_ERR_MODEL, *layer (may be NULL) is the offending layer (-1: the
 * network) and *what a static description. Call once after filling q. */
iotad_err qnn_prepare(qnn *q, int *layer, const char **what);

/* Floats of scratch qnn_forward needs. */
size_t qnn_scratch_floats(const qnn *q);
/* Reconstruct the normalized window x (sizes[0] floats) and return the MSE
 * against x; err (may be NULL) gets each element's squared error. scratch
 * holds qnn_scratch_floats() floats and must be 16-byte aligned (malloc).
 * q must be prepared. No allocation; any thread with its own scratch. */
float qnn_forward(const qnn *q, const float *x, float *scratch, float *err);

/* Quantize the weights and biases of net into q (qnn_init'ed with its
 * shape): per-channel symmetric weights, per-layer int8 biases. mean_in (may
 * be NULL) holds the mean input of every layer (sizes[l] floats at offset
 * sizes[0] + ... + sizes[l-1]); with it, biases absorb the mean error the
 * weight rounding makes. Activation scales are left to the caller. */
void qnn_quantize_weights(const nn *net, const float *mean_in, qnn *q);
/* Only the biases (b_exp, b16) of q from net, for q's int8 weights as they
 * are (qnn_quantize_weights calls it; again after changing a rounding). */
void qnn_quantize_biases(const nn *net, const float *mean_in, qnn *q);
/* Fill net (nn_init'ed with q's shape) with the dequantized weights and biases. */
void qnn_dequantize(const qnn *q, nn *net);

/* 2^(k / 16), exact to double for any k (the scale grid). */
double qnn_grid(int k);
/* The smallest quarter-octave exponent e with 2^(e/4) >= s, in -128..127. */
int qnn_quarter_ceil(double s);
/* The smallest grid point k with 2^(k/16) >= s (s > 0 finite). */
int qnn_grid_ceil(double s);
/* The smallest 3-byte float (a float32 whose low 8 bits are zero: 16
 * significant bits) >= s, for a finite s > 0; s itself otherwise or when
 * that would overflow. */
float qnn_f24_ceil(float s);
/* s rounded to the nearest float32 whose low 8 bits are zero (16
 * significant bits: what a 3-byte float keeps); s itself if not finite or
 * when that would overflow. */
float qnn_f24_round(float s);
/* s rounded to the nearest IEEE half-precision value (11 significant bits);
 * NaN when s is not 0 and |s| lies outside the normal half range
 * (2^-14..65504). */
float qnn_half_round(float s);
/* Log code of a score >= 0 (0 for 0; else 2^(code/512 - 64), 0.07 % apart)
 * and back: the precision calibration scores are stored with. */
uint16_t qnn_score_code(float s);
float qnn_code_score(uint16_t code);
/* Fixed-point form of a positive real multiplier m < 2^30: m ~ mult * 2^-shift.
 * Returns -1 if m is out of range or not finite. */
int qnn_multiplier(double m, int32_t *mult, int32_t *shift);
/* round(acc * mult * 2^-shift), halves rounded up, saturated to [lo, hi]. */
int32_t qnn_requant(int32_t acc, int32_t mult, int32_t shift, int32_t lo, int32_t hi);
/* Quantize one real value to an activation: round(x / scale) + zp saturated to int8. */
int8_t qnn_quantize(float x, float inv_scale, int32_t zp);

#endif
