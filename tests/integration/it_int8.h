/* it_int8.h - integration test of an int8 model (it_int8.c). */
#ifndef IOTAD_IT_INT8_H
#define IOTAD_IT_INT8_H

/* An int8 model (iotad quantize of the test model) served as the float one:
 * /v1/score and alerts over MQTT. */
void it_http_int8(void);

#endif
