/* it_zeroconf.h - integration test of `iotad run` without a model
 * (it_zeroconf.c). */
#ifndef IOTAD_IT_ZEROCONF_H
#define IOTAD_IT_ZEROCONF_H

/* Zero-config learns, stays quiet while learning, raises on a fault after,
 * reports its mode, ignores a reload and keeps its normal across a restart. */
void it_zero_config(void);

#endif
