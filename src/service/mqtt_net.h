/* mqtt_net.h - private to the MQTT client (mqtt*.c): its plain-socket
 * helpers beside Paho. */
#ifndef IOTAD_MQTT_NET_H
#define IOTAD_MQTT_NET_H

#include <stdbool.h>

/* Paho leaves Nagle's algorithm on: an alert written just after the PUBACK
 * of the message that raised it would wait for the broker's ACK of the
 * PUBACK (about the time to the next message). Turns it off on the
 * process's TCP sockets whose peer port is that of uri or of one of the
 * n_uris uris (the connection to the broker). Any thread. */
void mqnet_set_nodelay(const char *uri, char *const *uris, int n_uris);

/* Whether a plain TCP connection to the uri's host and port succeeds within
 * timeout_ms: then a connect that timed out reached something that is not
 * an MQTT broker (or a TLS listener asked in plain text). Blocks up to
 * timeout_ms per address; any thread. */
bool mqnet_tcp_reachable(const char *uri, int timeout_ms);

#endif
