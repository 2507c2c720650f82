/* it_mixed.h - integration test of one `iotad run` for a mixed fleet of
 * three kinds of device (it_mixed.c). */
#ifndef IOTAD_IT_MIXED_H
#define IOTAD_IT_MIXED_H

/* 300 devices of three kinds through one service with one model per kind:
 * every message routed to its model, detection per kind no worse than a
 * service per kind on the same stream. */
void it_mixed_fleet(void);

#endif
