/* fedmsg.c - binary encoding of federated messages (see fedmsg.h): small
 * enough for a 4 kB MQTT packet with the reference network, versioned and
 * checksummed with the state file's CRC-32. */
#include "iotad/fedmsg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/errmsg.h"
#include "iotad/nn.h"
#include "iotad/qmodel_io.h"
#include "iotad/state.h"

#define HEAD_FIXED 6   /* magic, kind, version, encoding */
#define NUMS 5         /* round, base_hash, hash, samples, n_params */

bool fedmsg_valid_id(const char *s)
{
	size_t n = 0;
	if (!s)
		return false;
	for (; s[n]; n++) {
		char ch = s[n];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
		if (!ok || n >= FEDMSG_ID_MAX - 1)
			return false;
	}
	return n > 0;
}

size_t fedmsg_size(const fedmsg *m)
{
	return HEAD_FIXED + 2 + strlen(m->model) + strlen(m->sender) + 4 * NUMS +
	       (m->dp_delta > 0 ? FEDMSG_DP_BYTES : 0) + 4 * (size_t)m->n_params + 4;
}

static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
	return p + 4;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t float_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float bits_float(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

uint32_t fedmsg_hash(uint32_t round, const float *params, size_t n)
{
	unsigned char b[4];
	put_u32(b, round);
	uint32_t crc = state_crc32(0, b, 4);
	for (size_t i = 0; i < n; i++) {
		put_u32(b, float_bits(params[i]));
		crc = state_crc32(crc, b, 4);
	}
	return crc;
}

/* DP fields: none (delta 0), or a global model's valid ones. */
static bool dp_ok(const fedmsg *m)
{
	if (m->dp_delta == 0 && m->dp_epsilon == 0 && m->dp_noise == 0)
		return true;
	return m->kind == FEDMSG_GLOBAL && m->dp_delta > 0 && m->dp_delta < 1 &&
	       m->dp_epsilon >= 0 && isfinite(m->dp_epsilon) && m->dp_noise >= 0 &&
	       isfinite(m->dp_noise);
}

/* The header up to n_params (the caller checked the room); returns the end. */
static unsigned char *put_head(const fedmsg *m, fedmsg_enc enc, uint32_t n_params,
			       unsigned char *p)
{
	memcpy(p, "IFL", 3);
	p[3] = (unsigned char)m->kind;
	p[4] = m->dp_delta > 0 ? FEDMSG_VERSION_DP : FEDMSG_VERSION;
	p[5] = (unsigned char)enc;
	p += HEAD_FIXED;
	const char *ids[2] = {m->model, m->sender};
	for (int i = 0; i < 2; i++) {
		size_t n = strlen(ids[i]);
		*p++ = (unsigned char)n;
		memcpy(p, ids[i], n);
		p += n;
	}
	uint32_t nums[NUMS] = {m->round, m->base_hash, m->hash, m->samples, n_params};
	for (int i = 0; i < NUMS; i++)
		p = put_u32(p, nums[i]);
	if (m->dp_delta > 0) {
		p = put_u32(p, float_bits(m->dp_epsilon));
		p = put_u32(p, float_bits(m->dp_delta));
		p = put_u32(p, float_bits(m->dp_noise));
	}
	return p;
}

const char *fedmsg_enc_name(fedmsg_enc e)
{
	return e == FEDMSG_ENC_INT8 ? "int8" : e == FEDMSG_ENC_FLOAT32 ? "float32" : "unknown";
}

int fedmsg_enc_parse(const char *name, fedmsg_enc *out)
{
	if (name && strcmp(name, "float32") == 0)
		*out = FEDMSG_ENC_FLOAT32;
	else if (name && strcmp(name, "int8") == 0)
		*out = FEDMSG_ENC_INT8;
	else
		return -1;
	return 0;
}

iotad_err fedmsg_encode(const fedmsg *m, const float *params, void *buf, size_t cap, size_t *len)
{
	if (!m || !buf || !len || (m->n_params && !params))
		return IOTAD_ERR_INVAL;
	if ((m->kind != FEDMSG_UPDATE && m->kind != FEDMSG_GLOBAL) || !fedmsg_valid_id(m->model) ||
	    !fedmsg_valid_id(m->sender) || m->n_params > FEDMSG_MAX_PARAMS || !dp_ok(m))
		return IOTAD_ERR_INVAL;
	for (uint32_t i = 0; i < m->n_params; i++)
		if (!isfinite(params[i]))
			return IOTAD_ERR_INVAL;
	size_t need = fedmsg_size(m);
	if (need > cap)
		return IOTAD_ERR_FULL;
	unsigned char *p = put_head(m, FEDMSG_ENC_FLOAT32, m->n_params, buf);
	for (uint32_t i = 0; i < m->n_params; i++)
		p = put_u32(p, float_bits(params[i]));
	p = put_u32(p, state_crc32(0, buf, (size_t)(p - (unsigned char *)buf)));
	*len = (size_t)(p - (unsigned char *)buf);
	return IOTAD_OK;
}

iotad_err fedmsg_encode_net(const fedmsg *m, const nn *net, void *buf, size_t cap,
			    size_t *len)
{
	if (!m || !net || !net->params || !buf || !len || net->n_params > FEDMSG_MAX_PARAMS)
		return IOTAD_ERR_INVAL;
	fedmsg h = *m;
	h.n_params = (uint32_t)net->n_params;
	if (m->encoding == FEDMSG_ENC_FLOAT32)
		return fedmsg_encode(&h, net->params, buf, cap, len);
	if (m->encoding != FEDMSG_ENC_INT8 || m->kind != FEDMSG_UPDATE || !fedmsg_valid_id(m->model) ||
	    !fedmsg_valid_id(m->sender) || m->dp_delta != 0)
		return IOTAD_ERR_INVAL;
	for (size_t i = 0; i < net->n_params; i++)
		if (!isfinite(net->params[i]))
			return IOTAD_ERR_INVAL;
	qmodel_update u = {.round = m->round, .base_hash = m->base_hash, .samples = m->samples};
	unsigned char *body = NULL;
	size_t blen = 0;
	iotad_err rc = qmodel_update_encode(net, &u, &body, &blen);
	if (rc)
		return rc;
	size_t need = HEAD_FIXED + 2 + strlen(m->model) + strlen(m->sender) + 4 * NUMS + 4 + blen + 4;
	if (need > cap || blen > UINT32_MAX) {
		free(body);
		return IOTAD_ERR_FULL;
	}
	unsigned char *p = put_head(&h, FEDMSG_ENC_INT8, h.n_params, buf);
	p = put_u32(p, (uint32_t)blen);
	memcpy(p, body, blen);
	p += blen;
	free(body);
	p = put_u32(p, state_crc32(0, buf, (size_t)(p - (unsigned char *)buf)));
	*len = (size_t)(p - (unsigned char *)buf);
	return IOTAD_OK;
}

/* One length-prefixed id at *p (end: the end of the header area). */
static iotad_err get_id(const unsigned char **p, const unsigned char *end, char *out,
			const char *what, char *err, size_t errlen)
{
	if (*p >= end)
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "truncated before the %s", what);
	size_t n = **p;
	if (n == 0 || n >= FEDMSG_ID_MAX || (size_t)(end - *p - 1) < n)
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "%s: bad length %zu", what, n);
	memcpy(out, *p + 1, n);
	out[n] = '\0';
	*p += 1 + n;
	if (!fedmsg_valid_id(out))
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "%s: not a valid id", what);
	return IOTAD_OK;
}

/* The body of an int8 update, p..end (the CRC already cut off). */
static iotad_err decode_int8(const unsigned char *p, const unsigned char *end, fedmsg *m,
			     float *params, size_t cap, char *err, size_t errlen)
{
	if ((size_t)(end - p) < 4)
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "int8 update: truncated before its length");
	uint32_t blen = get_u32(p);
	p += 4;
	if ((size_t)(end - p) != blen)
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "int8 update: %u bytes announced, %zu follow",
			   blen, (size_t)(end - p));
	if (m->n_params > cap || (m->n_params && !params))
		return iotad_fail(IOTAD_ERR_MODEL, err, errlen, "%u parameters, the model has %zu",
			   m->n_params, cap);
	nn net = {0};
	qmodel_update u;
	char why[160] = "";
	if (qmodel_update_decode(p, blen, &net, &u, why, sizeof why) != IOTAD_OK) {
		nn_free(&net);
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "int8 update: %s", why);
	}
	iotad_err rc = IOTAD_OK;
	if (net.n_params != m->n_params)
		rc = iotad_fail(IOTAD_ERR_PARSE, err, errlen, "int8 update of %zu parameters, header says %u",
			 net.n_params, m->n_params);
	else if (u.round != m->round || u.base_hash != m->base_hash || u.samples != m->samples)
		rc = iotad_fail(IOTAD_ERR_PARSE, err, errlen,
			 "int8 update: round, base hash or samples differ from the header");
	for (size_t i = 0; !rc && i < net.n_params; i++) {
		params[i] = net.params[i];
		if (!isfinite(params[i]))
			rc = iotad_fail(IOTAD_ERR_RANGE, err, errlen, "parameter %zu is not finite", i);
	}
	nn_free(&net);
	return rc;
}

iotad_err fedmsg_decode(const void *buf, size_t len, fedmsg *m, float *params, size_t cap,
			char *err, size_t errlen)
{
	const unsigned char *b = buf, *p = b, *end = b + len;
	iotad_err rc;

	if (err && errlen)
		err[0] = '\0';
	if (!m || (!buf && len))
		return IOTAD_ERR_INVAL;
	memset(m, 0, sizeof *m);
	if (len < HEAD_FIXED + 4 || memcmp(b, "IFL", 3) != 0)
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "not a federated message (%zu bytes)", len);
	if (state_crc32(0, b, len - 4) != get_u32(end - 4))
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "CRC mismatch");
	if (b[4] != FEDMSG_VERSION && !(b[4] == FEDMSG_VERSION_DP && b[3] == FEDMSG_GLOBAL &&
					 b[5] == FEDMSG_ENC_FLOAT32))
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "version %u, expected %d (%d: a private global model)",
			   b[4], FEDMSG_VERSION, FEDMSG_VERSION_DP);
	if (b[3] != FEDMSG_UPDATE && b[3] != FEDMSG_GLOBAL)
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "unknown kind %u", b[3]);
	if (b[5] != FEDMSG_ENC_FLOAT32 && !(b[5] == FEDMSG_ENC_INT8 && b[3] == FEDMSG_UPDATE))
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "unknown encoding %u for a %s", b[5],
			   b[3] == FEDMSG_UPDATE ? "update" : "global model");
	m->kind = (fedmsg_kind)b[3];
	m->encoding = (fedmsg_enc)b[5];
	end -= 4; /* the CRC */
	p += HEAD_FIXED;
	if ((rc = get_id(&p, end, m->model, "model id", err, errlen)) ||
	    (rc = get_id(&p, end, m->sender, "sender", err, errlen)))
		return rc;
	if ((size_t)(end - p) < 4 * NUMS)
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "truncated header");
	uint32_t nums[NUMS];
	for (int i = 0; i < NUMS; i++, p += 4)
		nums[i] = get_u32(p);
	m->round = nums[0];
	m->base_hash = nums[1];
	m->hash = nums[2];
	m->samples = nums[3];
	m->n_params = nums[4];
	if (b[4] == FEDMSG_VERSION_DP) {
		if ((size_t)(end - p) < FEDMSG_DP_BYTES)
			return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "truncated privacy fields");
		m->dp_epsilon = bits_float(get_u32(p));
		m->dp_delta = bits_float(get_u32(p + 4));
		m->dp_noise = bits_float(get_u32(p + 8));
		p += FEDMSG_DP_BYTES;
		if (!(m->dp_delta > 0) || !dp_ok(m))
			return iotad_fail(IOTAD_ERR_PARSE, err, errlen,
				   "privacy fields out of range (epsilon %g, delta %g, noise %g)",
				   (double)m->dp_epsilon, (double)m->dp_delta, (double)m->dp_noise);
	}
	if (m->encoding == FEDMSG_ENC_INT8)
		return decode_int8(p, end, m, params, cap, err, errlen);
	if ((size_t)(end - p) != 4 * (size_t)m->n_params)
		return iotad_fail(IOTAD_ERR_PARSE, err, errlen, "%u parameters announced, %zu bytes hold them",
			   m->n_params, (size_t)(end - p));
	if (m->n_params > cap || (m->n_params && !params))
		return iotad_fail(IOTAD_ERR_MODEL, err, errlen, "%u parameters, the model has %zu",
			   m->n_params, cap);
	for (uint32_t i = 0; i < m->n_params; i++, p += 4) {
		params[i] = bits_float(get_u32(p));
		if (!isfinite(params[i]))
			return iotad_fail(IOTAD_ERR_RANGE, err, errlen, "parameter %u is not finite", i);
	}
	return IOTAD_OK;
}

static iotad_err topic(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static iotad_err topic(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? IOTAD_ERR_FULL : IOTAD_OK;
}

iotad_err fedmsg_topic_global(const char *prefix, const char *mid, char *buf, size_t len)
{
	return topic(buf, len, "%s/%s/global", prefix, mid);
}

iotad_err fedmsg_topic_update(const char *prefix, const char *mid, const char *gateway,
			      char *buf, size_t len)
{
	return topic(buf, len, "%s/%s/update/%s", prefix, mid, gateway);
}

bool fedmsg_topic_gateway(const char *prefix, const char *mid, const char *t, size_t tlen,
			  char *gw)
{
	char head[600];
	if (fedmsg_topic_update(prefix, mid, "", head, sizeof head))
		return false;
	size_t hl = strlen(head);
	if (tlen <= hl || memcmp(t, head, hl) != 0 || tlen - hl >= FEDMSG_ID_MAX)
		return false;
	memcpy(gw, t + hl, tlen - hl);
	gw[tlen - hl] = '\0';
	return fedmsg_valid_id(gw);
}
