/* it_federated.h - integration tests of federated learning (it_federated.c). */
#ifndef IOTAD_IT_FEDERATED_H
#define IOTAD_IT_FEDERATED_H

/* `iotad aggregate` and three simulated gateways on a mosquitto with
 * message_size_limit 4096: a round closes with K of N updates and the
 * retained global model carries round, hash and parent; a stale, a
 * duplicate and a malformed update are refused and counted; after kill -9
 * the aggregator resumes from its state file; a round closes on its timeout
 * with fewer than K; a broker restart without persistence gets the global
 * model back. */
void it_federated_rounds(void);
/* A real `iotad run` gateway beside the aggregator: it samples normal
 * telemetry, sends its update of round 1, checks and swaps in the global
 * model of round 1 through the reload path, and refuses a poisoned and a
 * replayed global model (counted). */
void it_federated_gateway(void);
/* A gateway without an aggregator retrains on its sample every
 * federated.local_interval and swaps the result in; it sends no update. */
void it_federated_alone(void);
/* Bad flags, config, model and state file of `iotad aggregate`: exit 2
 * with a message naming the fault. */
void it_federated_cli(void);
/* Two real gateways and the aggregator: after round 1 one serves its own
 * threshold (held-out windows) and personalizes (finetune), the other the
 * aggregator's threshold for every gateway (from three summaries); both on
 * /metrics and the stats topic; a refused global model and a threshold of
 * a round not accepted change neither (it_fedthr.c). */
void it_federated_thresholds(void);

#endif
