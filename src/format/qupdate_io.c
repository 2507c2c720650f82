/* qupdate_io.c - binary encoding of federated updates (qmodel_io.h): the
 * layout is listed at the top of qmodel_io.c. An update carries a
 * network's weights quantized as an int8 model's, with 8-bit biases and no
 * activation ranges (the aggregator averages floats). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/qmodel_io.h"
#include "qcodec.h"

static void put_weights(qc_buf *b, const qnn *q, int wide)
{
	for (int l = 0; l < q->n_layers; l++) {
		const qnn_layer *y = &q->layer[l];
		double bs = qnn_grid(4 * y->b_exp), bmax = 0.0;
		for (int o = 0; !wide && o < y->out; o++)
			bmax = fabs(bs * y->b16[o]) > bmax ? fabs(bs * y->b16[o]) : bmax;
		int e8 = wide ? y->b_exp : qnn_quarter_ceil(bmax > 0.0 ? bmax / 127.0 : 1e-12);
		qc_put_u8(b, (uint8_t)y->w_exp);
		qc_put_u8(b, (uint8_t)e8);
		qc_put(b, y->w_code, (size_t)y->out);
		for (int o = 0; o < y->out; o++) {
			if (wide) {
				qc_put_u8(b, (uint16_t)y->b16[o] & 0xff);
				qc_put_u8(b, (uint16_t)y->b16[o] >> 8);
				continue;
			}
			long v = lround(bs * y->b16[o] / qnn_grid(4 * e8));
			qc_put_u8(b, (uint8_t)(int8_t)(v > 127 ? 127 : v < -127 ? -127 : v));
		}
		for (int o = 0; o < y->out; o++)
			qc_put(b, y->w + (size_t)o * (size_t)y->in_pad, (size_t)y->in);
	}
}

iotad_err qmodel_update_encode(const nn *net, const qmodel_update *u, unsigned char **out,
			       size_t *len)
{
	if (!net || !net->params || !u || !out || !len)
		return IOTAD_ERR_INVAL;
	qnn q;
	iotad_err rc = qnn_init(&q, net->n_layers, net->sizes, net->act);
	if (rc)
		return rc;
	qnn_quantize_weights(net, NULL, &q);
	qc_buf b = {0};
	qc_put_header(&b, QMODEL_UPDATE_VERSION, QMODEL_KIND_UPDATE);
	qc_put_var(&b, u->round);
	qc_put_u32(&b, u->base_hash);
	qc_put_var(&b, u->samples);
	qc_put_shape(&b, net->n_layers, net->sizes, net->act, 0);
	put_weights(&b, &q, 0);
	qnn_free(&q);
	return qc_finish(&b, out, len);
}

size_t qmodel_update_float32_bytes(const nn *net, size_t int8_len)
{
	size_t w8 = 0;
	for (int l = 0; l < net->n_layers; l++)
		w8 += 2 + 2 * (size_t)net->sizes[l + 1] + (size_t)net->sizes[l + 1] * (size_t)net->sizes[l];
	/* int8 biases, exponents, scale codes and weights out; float32 params in */
	return int8_len - w8 + 4 * net->n_params;
}

int qc_get_weights(qc_rd *r, qnn *q, int wide)
{
	for (int l = 0; l < q->n_layers; l++) {
		qnn_layer *y = &q->layer[l];
		const unsigned char *e = qc_take(r, 2, "layer exponents");
		const unsigned char *c = qc_take(r, (size_t)y->out, "weight scale codes");
		const unsigned char *b = qc_take(r, (size_t)y->out * (wide ? 2 : 1), "biases");
		if (!e || !c || !b)
			return -1;
		y->w_exp = (int8_t)e[0];
		y->b_exp = (int8_t)e[1];
		memcpy(y->w_code, c, (size_t)y->out);
		for (int o = 0; o < y->out; o++) {
			if (wide) {
				y->b16[o] = (int16_t)(uint16_t)(b[2 * o] | b[2 * o + 1] << 8);
				continue;
			}
			int8_t v = (int8_t)b[o];
			if (v == -128)
				return qc_rd_fail(r, "layer %d: bias -128 (symmetric range is -127..127)", l);
			/* 8-bit biases as 16-bit ones: 2^7 times finer, exact */
			y->b16[o] = (int16_t)(y->b_exp - 28 >= -128 ? v * 128 : 0);
		}
		if (!wide)
			y->b_exp = (int8_t)(y->b_exp - 28 >= -128 ? y->b_exp - 28 : -128);
		if (qc_get_rows(r, y))
			return -1;
	}
	return 0;
}

iotad_err qmodel_update_decode(const void *buf, size_t len, nn *net, qmodel_update *u,
			       char *err, size_t errlen)
{
	qc_rd r = {.err = err, .errlen = errlen};
	qnn q;
	int nl, sizes[NN_MAX_LAYERS + 1];
	nn_act act[NN_MAX_LAYERS];
	memset(net, 0, sizeof *net);
	memset(&q, 0, sizeof q);
	memset(u, 0, sizeof *u);
	if (qc_rd_open(&r, buf, len, QMODEL_KIND_UPDATE) ||
	    qc_get_var(&r, "round", 0, UINT32_MAX, &u->round) ||
	    qc_get_u32(&r, "base hash", &u->base_hash) ||
	    qc_get_var(&r, "samples", 0, UINT32_MAX, &u->samples) ||
	    qc_get_shape(&r, 0, 0, &nl, sizes, act))
		goto fail;
	if (qnn_init(&q, nl, sizes, act) || nn_init(net, nl, sizes, act)) {
		qc_rd_fail(&r, "out of memory");
		goto fail;
	}
	/* an update carries no activation ranges: unit ones let prepare check the rest */
	for (int l = 0; l < nl; l++)
		q.a_scale[l] = act[l] == NN_SIGMOID && l + 1 < nl ? 1.0f / QNN_SIG_Q : 1.0f;
	for (int l = 1; l < nl; l++)
		q.a_zp[l] = act[l - 1] == NN_SIGMOID ? -128 : 0;
	q.out_scale = act[nl - 1] == NN_SIGMOID ? 1.0f / QNN_SIG_Q : 1.0f;
	if (qc_get_weights(&r, &q, 0) || qc_rd_close(&r) || qc_rd_prepare(&r, &q, 0))
		goto fail;
	qnn_dequantize(&q, net);
	qnn_free(&q);
	return IOTAD_OK;
fail:
	qnn_free(&q);
	nn_free(net);
	return r.bad ? IOTAD_ERR_MODEL : IOTAD_ERR_NOMEM;
}
