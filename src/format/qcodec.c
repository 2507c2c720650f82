/* qcodec.c - the byte-level writing and checked reading the int8
 * encodings share (qmodel_io.c, qupdate_io.c): a growing buffer,
 * little-endian numbers, varints, half floats, bit-packed and Rice-coded
 * values, names, the header and the CRC trailer, shapes and layers. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/errmsg.h"
#include "iotad/qmodel_io.h"
#include "iotad/qnn.h"
#include "qcodec.h"

#define QMODEL_MAX_BYTES (64u << 20)

/* ---- writing ---- */


void qc_put(qc_buf *b, const void *src, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->n + n)
			cap *= 2;
		unsigned char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, src, n);
	b->n += n;
}

void qc_put_u8(qc_buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;
	qc_put(b, &c, 1);
}

void qc_put_u32(qc_buf *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		qc_put_u8(b, (v >> (8 * i)) & 0xff);
}

void qc_put_f32(qc_buf *b, float f)
{
	uint32_t v;
	memcpy(&v, &f, 4);
	qc_put_u32(b, v);
}

void qc_put_var(qc_buf *b, uint32_t v)
{
	while (v >= 0x80) {
		qc_put_u8(b, (v & 0x7f) | 0x80);
		v >>= 7;
	}
	qc_put_u8(b, v);
}

void qc_put_str(qc_buf *b, const char *s)
{
	size_t n = strlen(s);
	qc_put_u8(b, (unsigned)n);
	qc_put(b, s, n);
}

iotad_err qc_finish(qc_buf *b, unsigned char **out, size_t *len)
{
	if (!b->oom)
		qc_put_u32(b, qmodel_crc32(0, b->p, b->n));
	if (b->oom) {
		free(b->p);
		return IOTAD_ERR_NOMEM;
	}
	*out = b->p;
	*len = b->n;
	return IOTAD_OK;
}

void qc_put_header(qc_buf *b, unsigned version, unsigned kind)
{
	unsigned char h[5] = {QMODEL_MAGIC[0], QMODEL_MAGIC[1], QMODEL_MAGIC[2],
			      (unsigned char)version, (unsigned char)kind};
	qc_put(b, h, 5);
}

void qc_put_bits(qc_buf *b, const uint32_t *v, size_t n, unsigned bits)
{
	uint32_t acc = 0;
	unsigned have = 0;
	for (size_t i = 0; i < n; i++) {
		acc |= (v[i] & ((1u << bits) - 1u)) << have;
		for (have += bits; have >= 8; have -= 8, acc >>= 8)
			qc_put_u8(b, acc & 0xff);
	}
	if (have)
		qc_put_u8(b, acc & 0xff);
}

int qc_f16_bits(float f, uint16_t *h)
{
	if (f == 0.0f) {
		*h = signbit(f) ? 0x8000u : 0;
		return 0;
	}
	if (!(qnn_half_round(f) == f))
		return -1;
	int e;
	double m = frexp(fabs((double)f), &e); /* f = m 2^e = 1.x 2^(e-1) */
	unsigned mant = (unsigned)ldexp(m, 11) - 1024u;
	*h = (uint16_t)((f < 0.0f ? 0x8000u : 0) | (unsigned)(e - 1 + 15) << 10 | mant);
	return 0;
}

void qc_put_u16(qc_buf *b, unsigned v)
{
	qc_put_u8(b, v & 0xff);
	qc_put_u8(b, (v >> 8) & 0xff);
}

void qc_put_rice(qc_buf *b, const uint32_t *v, size_t n, unsigned k)
{
	uint32_t acc = 0;
	unsigned have = 0;
	for (size_t i = 0; i < n; i++) {
		/* the quotient in unary (ones, then a zero), then k low bits */
		for (uint32_t q = v[i] >> k; q > 0; q--) {
			acc |= 1u << have;
			if (++have == 8) {
				qc_put_u8(b, acc);
				acc = have = 0;
			}
		}
		for (int j = -1; j < (int)k; j++) {
			acc |= (j < 0 ? 0u : (v[i] >> j) & 1u) << have;
			if (++have == 8) {
				qc_put_u8(b, acc);
				acc = have = 0;
			}
		}
	}
	if (have)
		qc_put_u8(b, acc);
}

size_t qc_rice_bits(const uint32_t *v, size_t n, unsigned k)
{
	size_t bits = 0;
	for (size_t i = 0; i < n; i++)
		bits += (v[i] >> k) + 1 + k;
	return bits;
}

/* ---- reading ---- */


int qc_rd_fail(qc_rd *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (!r->bad)
		iotad_verrf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	r->bad = 1;
	return -1;
}

const unsigned char *qc_take(qc_rd *r, size_t n, const char *what)
{
	if (r->bad)
		return NULL;
	if (n > r->n - r->off) {
		qc_rd_fail(r, "%s: truncated at byte %zu of %zu", what, r->off, r->n);
		return NULL;
	}
	const unsigned char *p = r->p + r->off;
	r->off += n;
	return p;
}

int qc_get_u8(qc_rd *r, const char *what, unsigned *v)
{
	const unsigned char *p = qc_take(r, 1, what);
	*v = p ? p[0] : 0;
	return p ? 0 : -1;
}

uint32_t qc_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int qc_get_u32(qc_rd *r, const char *what, uint32_t *v)
{
	const unsigned char *p = qc_take(r, 4, what);
	*v = p ? qc_le32(p) : 0;
	return p ? 0 : -1;
}

/* A float32 that must be finite (and > 0 if positive is set). */
int qc_get_f32(qc_rd *r, const char *what, int positive, float *f)
{
	uint32_t v;
	if (qc_get_u32(r, what, &v))
		return -1;
	memcpy(f, &v, 4);
	if (!isfinite(*f) || (positive && !(*f > 0.0f)))
		return qc_rd_fail(r, "%s: %s", what, positive ? "not a finite number > 0" :
			       "not a finite number");
	return 0;
}

int qc_get_var(qc_rd *r, const char *what, uint32_t lo, uint32_t hi, uint32_t *v)
{
	uint64_t x = 0;
	for (int i = 0; i < 5; i++) {
		unsigned c;
		if (qc_get_u8(r, what, &c))
			return -1;
		x |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			if (x < lo || x > hi)
				return qc_rd_fail(r, "%s: %llu out of range [%u, %u]", what,
					       (unsigned long long)x, lo, hi);
			*v = (uint32_t)x;
			return 0;
		}
	}
	return qc_rd_fail(r, "%s: malformed number", what);
}

int qc_get_bits(qc_rd *r, const char *what, uint32_t *v, size_t n, unsigned bits)
{
	const unsigned char *p = qc_take(r, (n * bits + 7) / 8, what);
	if (!p)
		return -1;
	uint32_t acc = 0;
	unsigned have = 0;
	for (size_t i = 0; i < n; i++) {
		while (have < bits) {
			acc |= (uint32_t)*p++ << have;
			have += 8;
		}
		v[i] = acc & ((1u << bits) - 1u);
		acc = bits < 32 ? acc >> bits : 0;
		have -= bits;
	}
	if (acc)
		return qc_rd_fail(r, "%s: padding bits not zero", what);
	return 0;
}

int qc_get_name(qc_rd *r, const char *what, char *out)
{
	unsigned n;
	if (qc_get_u8(r, what, &n))
		return -1;
	if (n == 0 || n >= MODEL_NAME_MAX)
		return qc_rd_fail(r, "%s: length %u, expected 1..%d", what, n, MODEL_NAME_MAX - 1);
	const unsigned char *p = qc_take(r, n, what);
	if (!p)
		return -1;
	if (memchr(p, 0, n))
		return qc_rd_fail(r, "%s: holds a NUL byte", what);
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Header, CRC and kind; r then reads the body (the trailer excluded). */
int qc_rd_open(qc_rd *r, const void *buf, size_t len, unsigned kind)
{
	r->p = buf;
	r->n = len;
	if (!buf || len < 9)
		return qc_rd_fail(r, "int8 model: %zu bytes, too short", len);
	if (len > QMODEL_MAX_BYTES)
		return qc_rd_fail(r, "int8 model: %zu bytes exceeds the %u byte limit", len,
			       QMODEL_MAX_BYTES);
	if (!qmodel_is_binary(buf, len))
		return qc_rd_fail(r, "int8 model: bad magic (expected \"%s\")", QMODEL_MAGIC);
	uint32_t want = qc_le32(r->p + len - 4), got = qmodel_crc32(0, buf, len - 4);
	if (want != got)
		return qc_rd_fail(r, "int8 model: CRC-32 mismatch (stored %08x, computed %08x): "
			       "corrupt or truncated", want, got);
	unsigned lo = kind == QMODEL_KIND_MODEL ? 1 : QMODEL_UPDATE_VERSION;
	unsigned hi = kind == QMODEL_KIND_MODEL ? QMODEL_VERSION : QMODEL_UPDATE_VERSION;
	if (r->p[3] < lo || r->p[3] > hi)
		return qc_rd_fail(r, "int8 model: version %u not supported (supported: %u..%u)",
			       r->p[3], lo, hi);
	r->version = r->p[3];
	if (r->p[4] != kind)
		return qc_rd_fail(r, "int8 model: kind %u, expected %u (%s)", r->p[4], kind,
			       kind == QMODEL_KIND_MODEL ? "a model" : "an update");
	r->n = len - 4;
	r->off = 5;
	return 0;
}

int qc_rd_close(qc_rd *r)
{
	if (!r->bad && r->off != r->n)
		return qc_rd_fail(r, "int8 model: %zu unexpected bytes before the CRC", r->n - r->off);
	return r->bad ? -1 : 0;
}


int qc_get_f16(qc_rd *r, const char *what, float *f)
{
	const unsigned char *p = qc_take(r, 2, what);
	if (!p)
		return -1;
	unsigned h = p[0] | (unsigned)p[1] << 8, e = (h >> 10) & 31u, mant = h & 1023u;
	if (e == 0 && mant == 0) {
		*f = h & 0x8000u ? -0.0f : 0.0f;
		return 0;
	}
	if (e == 0 || e == 31)
		return qc_rd_fail(r, "%s: half float %04x is %s", what, h,
			       e ? "infinite or not a number" : "subnormal (not written)");
	double v = ldexp(1024.0 + mant, (int)e - 25);
	*f = (float)(h & 0x8000u ? -v : v);
	return 0;
}

int qc_get_rice(qc_rd *r, const char *what, uint32_t *v, size_t n, unsigned k, uint32_t max)
{
	size_t off = r->off, bit = 0;
	if (r->bad)
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint32_t q = 0, low = 0;
		for (;;) {
			if (off >= r->n)
				return qc_rd_fail(r, "%s: truncated at value %zu of %zu", what, i, n);
			unsigned b = (r->p[off] >> bit) & 1u;
			if (++bit == 8) {
				bit = 0;
				off++;
			}
			if (!b)
				break;
			if (++q > (max >> k))
				return qc_rd_fail(r, "%s: value %zu exceeds %u", what, i, max);
		}
		for (unsigned j = 0; j < k; j++) {
			if (off >= r->n)
				return qc_rd_fail(r, "%s: truncated at value %zu of %zu", what, i, n);
			low |= (uint32_t)((r->p[off] >> bit) & 1u) << j;
			if (++bit == 8) {
				bit = 0;
				off++;
			}
		}
		v[i] = q << k | low;
		if (v[i] > max)
			return qc_rd_fail(r, "%s: value %zu exceeds %u", what, i, max);
	}
	if (bit) {
		if (r->p[off] >> bit)
			return qc_rd_fail(r, "%s: padding bits not zero", what);
		off++;
	}
	r->off = off;
	return 0;
}

/* ---- shapes and layers, of models and updates ---- */

void qc_put_shape(qc_buf *b, int n_layers, const int *sizes, const nn_act *act, int packed)
{
	uint32_t a[NN_MAX_LAYERS];
	qc_put_u8(b, (unsigned)n_layers);
	for (int l = 0; l <= n_layers; l++)
		qc_put_var(b, (uint32_t)sizes[l]);
	for (int l = 0; l < n_layers; l++) {
		a[l] = (uint32_t)act[l];
		if (!packed)
			qc_put_u8(b, a[l]);
	}
	if (packed)
		qc_put_bits(b, a, (size_t)n_layers, 2);
}

int qc_get_shape(qc_rd *r, int d, int packed, int *n_layers, int *sizes, nn_act *act)
{
	unsigned nl, a;
	uint32_t pk[NN_MAX_LAYERS];
	if (qc_get_u8(r, "layers", &nl))
		return -1;
	if (nl < 1 || nl > NN_MAX_LAYERS)
		return qc_rd_fail(r, "layers: %u, expected 1..%d", nl, NN_MAX_LAYERS);
	for (unsigned l = 0; l <= nl; l++) {
		uint32_t v;
		if (qc_get_var(r, "layer size", 1, NN_MAX_WIDTH, &v))
			return -1;
		sizes[l] = (int)v;
	}
	if (sizes[nl] != sizes[0] || (d > 0 && sizes[0] != d))
		return qc_rd_fail(r, "layer sizes: input %d, output %d, expected both %s%d", sizes[0],
			       sizes[nl], d > 0 ? "window * features = " : "equal, got ", d > 0 ? d :
			       sizes[nl]);
	if (packed && qc_get_bits(r, "activations", pk, nl, 2))
		return -1;
	for (unsigned l = 0; l < nl; l++) {
		if (packed)
			a = pk[l];
		else if (qc_get_u8(r, "activation", &a))
			return -1;
		if (a > NN_SIGMOID)
			return qc_rd_fail(r, "layer %u: unknown activation %u", l, a);
		act[l] = (nn_act)a;
	}
	*n_layers = (int)nl;
	return 0;
}

/* A layer's int8 weights, out rows of in values, into its padded rows. */
int qc_get_rows(qc_rd *r, qnn_layer *y)
{
	for (int o = 0; o < y->out; o++) {
		const unsigned char *w = qc_take(r, (size_t)y->in, "weights");
		if (!w)
			return -1;
		memcpy(y->w + (size_t)o * (size_t)y->in_pad, w, (size_t)y->in);
	}
	return 0;
}

/* A decoded network: prepare it (validates) and name what is wrong. */
int qc_rd_prepare(qc_rd *r, qnn *q, int member)
{
	int layer = -1;
	const char *what = "";
	if (qnn_prepare(q, &layer, &what) == IOTAD_OK)
		return 0;
	return qc_rd_fail(r, "member %d, layer %d: %s", member, layer, what);
}
