/* qcodec.h - byte-level helpers of the int8 encodings (private to
 * src/format: qcodec.c, qmodel_io.c). Writers note running out of memory in
 * the buffer and do nothing after it; readers note the first error, with a
 * message, and fail every call after it. */
#ifndef IOTAD_QCODEC_H
#define IOTAD_QCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/qnn.h"

typedef struct qc_buf {
	unsigned char *p;
	size_t n, cap;
	int oom;
} qc_buf;

typedef struct qc_rd {
	const unsigned char *p;
	size_t n, off;
	char *err;
	size_t errlen;
	int bad;
	unsigned version;  /* the header's, once opened */
} qc_rd;

/* Append n bytes / one byte / u32 / float32 / varint / a name (u8 length). */
void qc_put(qc_buf *b, const void *src, size_t n);
void qc_put_u8(qc_buf *b, unsigned v);
void qc_put_u32(qc_buf *b, uint32_t v);
void qc_put_f32(qc_buf *b, float f);
void qc_put_var(qc_buf *b, uint32_t v);
void qc_put_str(qc_buf *b, const char *s);
/* Magic, version and kind. */
void qc_put_header(qc_buf *b, unsigned version, unsigned kind);
/* n values of `bits` bits each (0..16), least significant bit first, the
 * last byte padded with zeros: (n * bits + 7) / 8 bytes. */
void qc_put_bits(qc_buf *b, const uint32_t *v, size_t n, unsigned bits);
/* A 16-bit little-endian value. */
void qc_put_u16(qc_buf *b, unsigned v);
/* The IEEE half bits of f into *h: 0, or -1 when f is not exactly a
 * normal half (or zero). */
int qc_f16_bits(float f, uint16_t *h);
/* n values Rice-coded with parameter k (0..31): the quotient v >> k in
 * unary (ones ended by a zero), then the k low bits, least significant bit
 * first, the last byte padded with zeros; qc_rice_bits counts the bits. */
void qc_put_rice(qc_buf *b, const uint32_t *v, size_t n, unsigned k);
size_t qc_rice_bits(const uint32_t *v, size_t n, unsigned k);
/* Append the CRC and hand the buffer over (*out, the caller frees it), or
 * free it and return IOTAD_ERR_NOMEM. */
iotad_err qc_finish(qc_buf *b, unsigned char **out, size_t *len);

/* Note the first error (printf format into r->err); returns -1. */
int qc_rd_fail(qc_rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The next n bytes, or NULL (truncated: noted, naming what). */
const unsigned char *qc_take(qc_rd *r, size_t n, const char *what);
uint32_t qc_le32(const unsigned char *p);
/* 0 or -1: a byte, a u32, a float32 (finite; > 0 if positive), a varint in
 * [lo, hi], a name of 1..MODEL_NAME_MAX-1 bytes without NUL into out. */
int qc_get_u8(qc_rd *r, const char *what, unsigned *v);
int qc_get_u32(qc_rd *r, const char *what, uint32_t *v);
int qc_get_f32(qc_rd *r, const char *what, int positive, float *f);
int qc_get_var(qc_rd *r, const char *what, uint32_t lo, uint32_t hi, uint32_t *v);
int qc_get_name(qc_rd *r, const char *what, char *out);
/* n values written by qc_put_bits into v; the padding must be zero. */
int qc_get_bits(qc_rd *r, const char *what, uint32_t *v, size_t n, unsigned bits);
/* A half float (normal or zero; subnormals, infinities and NaN refused);
 * n Rice-coded values of at most max (their padding must be zero). */
int qc_get_f16(qc_rd *r, const char *what, float *f);
int qc_get_rice(qc_rd *r, const char *what, uint32_t *v, size_t n, unsigned k, uint32_t max);
/* Check size, magic, CRC, version (1..QMODEL_VERSION for a model,
 * QMODEL_UPDATE_VERSION for an update) and kind of buf; r then reads the body. */
int qc_rd_open(qc_rd *r, const void *buf, size_t len, unsigned kind);
/* -1 if an error was noted or bytes are left before the CRC. */
int qc_rd_close(qc_rd *r);

/* A network's shape: layers u8, sizes var x (L + 1), activations (a
 * byte each, or 2 bits each packed with packed). */
void qc_put_shape(qc_buf *b, int n_layers, const int *sizes, const nn_act *act, int packed);
/* Read a shape; d > 0: input and output must be d wide. */
int qc_get_shape(qc_rd *r, int d, int packed, int *n_layers, int *sizes, nn_act *act);
/* A layer's int8 weights, out rows of in values, into its padded rows. */
int qc_get_rows(qc_rd *r, qnn_layer *y);
/* Layers with a byte per scale code and 16-bit biases (wide: a version 1
 * model) or 8-bit biases on their own exponent (an update); qupdate_io.c. */
int qc_get_weights(qc_rd *r, qnn *q, int wide);
/* A decoded network: prepare it (validates) and name what is wrong. */
int qc_rd_prepare(qc_rd *r, qnn *q, int member);

#endif
