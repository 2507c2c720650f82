/* model_io.h - the model file (JSON): load with full validation, atomic
 * save. The model itself and its runtime are model.h (core). */
#ifndef IOTAD_MODEL_IO_H
#define IOTAD_MODEL_IO_H

#include <stddef.h>

#include "iotad/error.h"
#include "iotad/model.h"

/* Load and validate a model file: JSON (float) or the int8 binary
 * encoding (qmodel_io.h), told apart by its first bytes. On error, err receives a message naming
 * the offending field (e.g. "layers[1].weights: expected 72 numbers, got 70"). */
iotad_err model_load(const char *path, model *m, char *err, size_t errlen);
/* Same from a buffer of len bytes (need not be NUL-terminated). */
iotad_err model_load_buffer(const char *json, size_t len, model *m, char *err, size_t errlen);
/* Write the model as JSON, or an int8 model in its binary encoding (atomically: temp file + fsync + rename). On
 * IOTAD_ERR_IO errno tells why. */
iotad_err model_save(const model *m, const char *path);

#endif
