/* error.c - texts for iotad_err. */
#include "iotad/error.h"


static const char *const texts[IOTAD_ERR__COUNT] = {
	[IOTAD_OK] = "success",
	[IOTAD_ERR_NOMEM] = "out of memory",
	[IOTAD_ERR_INVAL] = "invalid argument",
	[IOTAD_ERR_IO] = "input/output error",
	[IOTAD_ERR_PARSE] = "parse error",
	[IOTAD_ERR_RANGE] = "value out of range",
	[IOTAD_ERR_FULL] = "table or queue full",
	[IOTAD_ERR_NOTFOUND] = "not found",
	[IOTAD_ERR_MODEL] = "invalid model",
	[IOTAD_ERR_CONFIG] = "invalid configuration",
	[IOTAD_ERR_MQTT] = "MQTT error",
	[IOTAD_ERR_STATE] = "invalid state",
	[IOTAD_ERR_DUPLICATE] = "duplicate key",
};

const char *iotad_strerror(iotad_err err)
{
	if ((unsigned)err >= IOTAD_ERR__COUNT)
		return "unknown error";
	return texts[err];
}
