/* it_harden.h - integration tests of hostile conditions (it_harden.c):
 * state file paths that are not files, idle and slow HTTP clients,
 * sequence numbers across a crash, redelivered and reordered telemetry. */
#ifndef IOTAD_IT_HARDEN_H
#define IOTAD_IT_HARDEN_H

/* A state_file naming a directory, a FIFO or a symlink: exit 2 at start, untouched. */
void it_state_not_regular(void);

/* kill -9 during a burst of events and a restart from the state file: no
 * (device, seq) pair carries two different events. */
void it_seq_after_crash(void);

/* 300 idle and 20 slowloris connections and event streams held open:
 * /healthz, /readyz and /metrics still answer 200 within a second. */
void it_http_many_clients(void);

/* Telemetry as a broker restart redelivers it (repeats and swapped pairs):
 * repeats counted as duplicate, late samples taken, nothing lost. */
void it_reorder_redelivery(void);

/* A far-future ts is rejected and a message without ts does not lock out a
 * device whose clock lags: later samples of both devices are scored. */
void it_clock_skew(void);

#endif
