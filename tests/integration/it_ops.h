/* it_ops.h - integration tests of what an operator meets: retained states
 * reconciled at start, the state directory default, errors that say what
 * happened, the raised gauge and process metrics, and Home Assistant
 * discovery over a device's life (it_ops.c). */
#ifndef IOTAD_IT_OPS_H
#define IOTAD_IT_OPS_H

/* A retained raised state left by an earlier run without a state file is
 * cleared at start; $STATE_DIRECTORY gives a state file by default. */
void it_reconcile_states(void);
/* A port that is not MQTT, a missing model, four reject reasons at once and
 * a state file that cannot be saved: each says what happened, once enough. */
void it_operator_errors(void);
/* /metrics: devices raised now (also after a restart from the state file),
 * build info and process_*; Home Assistant: first state, availability,
 * discovery removed when a device is evicted. */
void it_metrics_and_hass(void);
/* Two instances on one broker: their own status topics, discovery ids and
 * (with {instance}) alert and state topics. */
void it_two_instances(void);

#endif
