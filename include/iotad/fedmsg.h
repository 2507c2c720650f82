/* fedmsg.h - the federated learning messages on MQTT and their topics.
 *
 * Topics under a prefix (e.g. iotad/fl): {prefix}/{model}/global (retained:
 * the global model, which opens the next round) and
 * {prefix}/{model}/update/{gateway} (a gateway's model for the open round).
 *
 * Encoding (little endian), version FEDMSG_VERSION:
 *   "IFL" kind(u8: 1 update, 2 global) version(u8) encoding(u8)
 *   model id: u8 length + bytes; sender: u8 length + bytes (1..63 each)
 *   round u32, base_hash u32, hash u32, samples u32, n_params u32
 *   the parameters, then the CRC-32 of everything before.
 * Encoding 0 (float32): n_params float32 parameters. Encoding 1 (int8, an
 * update only): u32 length + an int8 update (qmodel_io.h, its own CRC; its
 * round, base hash and sample count equal the header's). Any other
 * encoding is refused.
 * An update's base_hash is the hash of the global model it trained from and
 * its hash is 0; a global model's base_hash is its parent's hash.
 * Version 2 (a global model of a differentially private aggregator only):
 * after n_params, float32 epsilon, delta and noise multiplier, the privacy
 * spent by all rounds up to this one. Without DP a global model is written
 * as version 1; the decoder reads both. */
#ifndef IOTAD_FEDMSG_H
#define IOTAD_FEDMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

#define FEDMSG_VERSION 1
#define FEDMSG_VERSION_DP 2
#define FEDMSG_DP_BYTES 12        /* epsilon, delta, noise */
#define FEDMSG_ID_MAX 64          /* model id and sender, NUL included */
#define FEDMSG_MAX_PARAMS (1u << 22)
#define FEDMSG_INT8_EXTRA 128

typedef enum fedmsg_kind { FEDMSG_UPDATE = 1, FEDMSG_GLOBAL = 2 } fedmsg_kind;
/* How the parameters travel (federated.update_encoding). */
typedef enum fedmsg_enc { FEDMSG_ENC_FLOAT32 = 0, FEDMSG_ENC_INT8 = 1 } fedmsg_enc;

struct nn;

typedef struct fedmsg {
	fedmsg_kind kind;
	char model[FEDMSG_ID_MAX];
	char sender[FEDMSG_ID_MAX];
	uint32_t round;
	uint32_t base_hash;
	uint32_t hash;
	uint32_t samples;              /* windows trained on (update), aggregated (global) */
	uint32_t n_params;
	fedmsg_enc encoding;           /* FEDMSG_ENC_FLOAT32 unless an int8 update */
	float dp_epsilon;              /* global, version 2: epsilon spent (gateway level) */
	float dp_delta;                /* global: its delta, in (0, 1); 0: no DP claimed (version 1) */
	float dp_noise;                /* global, version 2: the noise multiplier of its rounds */
} fedmsg;

/* Bytes of the float32 encoding of m (with m->n_params parameters). The
 * int8 one of the same update takes at most FEDMSG_INT8_EXTRA bytes more
 * (its own header, shape and per-channel scales; a tiny network). Any thread. */
size_t fedmsg_size(const fedmsg *m);
/* Encode m and params (m->n_params floats) into buf (cap bytes) as float32
 * (m->encoding is ignored); *len the bytes written; a global model with
 * dp_delta > 0 as version 2. IOTAD_ERR_INVAL for an empty or too long id,
 * an unknown kind, a non-finite parameter, DP fields on an update or out of
 * range (delta outside (0, 1), epsilon or noise negative or not finite);
 * IOTAD_ERR_FULL if cap is too small. Any thread. */
iotad_err fedmsg_encode(const fedmsg *m, const float *params, void *buf, size_t cap,
			size_t *len);
/* Encode m with the parameters of net (m->n_params is taken from it) in
 * m->encoding: float32 as fedmsg_encode, int8 (updates only) quantized by
 * qmodel_update_encode (allocates a scratch buffer). Errors as
 * fedmsg_encode; IOTAD_ERR_INVAL for an unknown encoding. Any thread. */
iotad_err fedmsg_encode_net(const fedmsg *m, const struct nn *net, void *buf, size_t cap,
			    size_t *len);
/* Name of an encoding ("float32", "int8"); fedmsg_enc_parse: 0 or -1. */
const char *fedmsg_enc_name(fedmsg_enc e);
int fedmsg_enc_parse(const char *name, fedmsg_enc *out);
/* Decode buf (len bytes, untrusted) in either encoding into m and params
 * (room for cap floats, caller's; int8 ones dequantized). IOTAD_ERR_PARSE:
 * truncated, bad magic, version, kind, encoding, id or CRC, an invalid or
 * inconsistent int8 update, or trailing bytes; IOTAD_ERR_MODEL: more than
 * cap parameters (wrong shape); IOTAD_ERR_RANGE: a NaN or Inf parameter.
 * err says which. No allocation for float32 (int8: the decoder's); any thread. */
iotad_err fedmsg_decode(const void *buf, size_t len, fedmsg *m, float *params, size_t cap,
			char *err, size_t errlen);

/* Hash of a global model: CRC-32 of its round (u32 LE) and its parameters
 * as float32 LE. Any thread. */
uint32_t fedmsg_hash(uint32_t round, const float *params, size_t n);

/* "{prefix}/{model}/global" into buf; IOTAD_ERR_FULL if it does not fit. */
iotad_err fedmsg_topic_global(const char *prefix, const char *mid, char *buf, size_t len);
/* "{prefix}/{model}/update/{gateway}" into buf (gateway "+": the filter). */
iotad_err fedmsg_topic_update(const char *prefix, const char *mid, const char *gateway,
			      char *buf, size_t len);
/* The gateway of an update topic (topic_len bytes, not NUL-terminated)
 * under prefix and model id mid into gw (FEDMSG_ID_MAX): true if it is one. */
bool fedmsg_topic_gateway(const char *prefix, const char *mid, const char *topic,
			  size_t topic_len, char *gw);
/* A model id or gateway name usable as one topic level: 1..63 bytes of
 * letters, digits, '-', '_' and '.'. Any thread. */
bool fedmsg_valid_id(const char *s);

#endif
