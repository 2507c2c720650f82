/* it_scaleout.h - iotad instances behind a NATS cluster that partitions
 * the fleet by device (it_scaleout.c). */
#ifndef IOTAD_IT_SCALEOUT_H
#define IOTAD_IT_SCALEOUT_H

/* 3 NATS nodes, 4 instances, 200 devices: each device's events from the
 * instance of its partition and equal to one instance's on mosquitto,
 * through a kill -9 of a node and of an instance. */
void it_scaleout_nats(void);
/* The same with 24 devices. */
void it_scaleout_quick(void);
/* service.shard on mosquitto: two instances on one filter, each device's
 * events from the instance of its shard only. */
void it_shard_mosquitto(void);

#endif
