/* qmodel_io.h - the binary encoding of int8 models and of federated
 * updates: compact, versioned and checksummed (CRC-32). JSON stays the
 * format of float models; model_load reads either (by the magic). */
#ifndef IOTAD_QMODEL_IO_H
#define IOTAD_QMODEL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/model.h"

#define QMODEL_MAGIC "IQ8"      /* first three bytes */
#define QMODEL_VERSION 3        /* of a model; versions 1 and 2 are read too */
#define QMODEL_UPDATE_VERSION 1 /* of an update */
#define QMODEL_KIND_MODEL 1
#define QMODEL_KIND_UPDATE 2

/* What a federated update says besides its weights. */
typedef struct qmodel_update {
	uint32_t round;         /* federated round */
	uint32_t base_hash;     /* CRC-32 of the global model it was trained from */
	uint32_t samples;       /* windows trained on (FedAvg weight) */
} qmodel_update;

/* CRC-32 (IEEE 802.3, the zlib one; state_crc32) of len bytes, continuing
 * from crc (0 to start). Any thread. */
uint32_t qmodel_crc32(uint32_t crc, const void *buf, size_t len);
/* 1 if buf starts with the magic of this encoding. */
int qmodel_is_binary(const void *buf, size_t len);

/* Encode an int8 model (type MODEL_INT8) into a malloc'ed buffer (*out,
 * the caller frees it) of *len bytes. IOTAD_ERR_INVAL for a float model. */
iotad_err qmodel_encode(const model *m, unsigned char **out, size_t *len);
/* Decode and validate an int8 model into m (zeroed first; model_free it).
 * err names the offending part ("layer 2: weight -128 ..."). */
iotad_err qmodel_decode(const void *buf, size_t len, model *m, char *err, size_t errlen);

/* Encode a federated update: the weights of net quantized as an int8
 * model's (per-channel scales, int8 biases), no activation ranges. */
iotad_err qmodel_update_encode(const nn *net, const qmodel_update *u, unsigned char **out,
			       size_t *len);
/* Decode and validate an update into net (nn_init'ed here, dequantized
 * floats; nn_free it) and *u. */
iotad_err qmodel_update_decode(const void *buf, size_t len, nn *net, qmodel_update *u,
			       char *err, size_t errlen);
/* Bytes of the same update (int8_len bytes long) with float32 weights and
 * biases instead: the figure the int8 encoding is measured against. */
size_t qmodel_update_float32_bytes(const nn *net, size_t int8_len);
/* Bytes of m as a model file of the same container with float32 values
 * instead: the same header, names, float32 normalization, threshold,
 * shape and CRC, each network's float32 parameters and, with with_calib,
 * its calibration scores as float32. The figure a model file is measured
 * against; 0 on bad arguments or out of memory. */
size_t qmodel_float32_bytes(const model *m, int with_calib);

#endif
