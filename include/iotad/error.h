/* error.h - the one error enum of iotad. */
#ifndef IOTAD_ERROR_H
#define IOTAD_ERROR_H

typedef enum iotad_err {
	IOTAD_OK = 0,
	IOTAD_ERR_NOMEM,     /* allocation failed */
	IOTAD_ERR_INVAL,     /* bad argument or bad input value */
	IOTAD_ERR_IO,        /* file or socket error (see errno) */
	IOTAD_ERR_PARSE,     /* malformed text: JSON, YAML, CSV, number */
	IOTAD_ERR_RANGE,     /* value out of its allowed range */
	IOTAD_ERR_FULL,      /* a bounded table or queue is full */
	IOTAD_ERR_NOTFOUND,  /* missing key, field, column or file */
	IOTAD_ERR_MODEL,     /* model file invalid or incompatible */
	IOTAD_ERR_CONFIG,    /* configuration invalid */
	IOTAD_ERR_MQTT,      /* MQTT client error */
	IOTAD_ERR_STATE,     /* call not valid in the current state */
	IOTAD_ERR_DUPLICATE, /* a key named twice in one object */
	IOTAD_ERR__COUNT
} iotad_err;

#include <stddef.h>

/* Static, human readable text for an error code. Any thread. */
const char *iotad_strerror(iotad_err err);


#endif
