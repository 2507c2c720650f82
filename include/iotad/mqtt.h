/* mqtt.h - the one door to Eclipse Paho (MQTTAsync). Connects with
 * automatic reconnect and backoff, resubscribes after a reconnect, and
 * keeps an application window of in-flight QoS 1 publishes. */
#ifndef IOTAD_MQTT_H
#define IOTAD_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

typedef struct mq mq;

/* Called on Paho's thread for every message: copy what is needed and
 * return quickly; never block. Return false to refuse the message for now
 * (back-pressure): Paho keeps it in memory and offers it again. A QoS 1
 * message has already been acknowledged to the broker by then. */
typedef bool (*mq_msg_cb)(void *ud, const char *topic, size_t topic_len, const void *payload,
			  size_t len, int qos, bool retained);

typedef struct mq_opts {
	const char *uri;            /* tcp://host:port or ssl://host:port */
	/* The nodes of a broker cluster (uri is then ignored): every connect
	 * and automatic reconnect tries them in order until one answers. All
	 * TLS or all plain. NULL or n_uris < 2: uri alone. */
	const char *const *uris;
	int n_uris;
	const char *client_id;
	const char *username;       /* NULL: none */
	const char *password;       /* NULL: none */
	const char *will_topic;     /* NULL: no last will */
	const char *will_payload;   /* retained, QoS 1 */
	const char *online_payload; /* if set, published retained on will_topic at every connect */
	int keepalive;              /* seconds */
	bool clean_session;
	int max_inflight;           /* application window of unacknowledged publishes */
	/* TLS, for ssl:// and mqtts:// uris (NULL: unset). The broker's
	 * certificate is always verified against tls_ca_file (or the system's
	 * trust store); tls_no_hostname_check skips matching it to the host. */
	const char *tls_ca_file;
	const char *tls_cert_file;  /* client certificate (PEM) */
	const char *tls_key_file;   /* its private key (PEM); NULL: inside tls_cert_file */
	bool tls_no_hostname_check;
	mq_msg_cb on_message;       /* may be NULL for publish-only clients */
	void *ud;
} mq_opts;

typedef struct mq_stats {
	uint64_t published;         /* publishes acknowledged (QoS 1) or sent (QoS 0) */
	uint64_t publish_failed;
	uint64_t received;
	uint64_t reconnects;        /* successful connects after the first */
	uint32_t inflight;
	bool connected;
} mq_stats;

/* Create a client; nothing is sent until mq_start. */
iotad_err mq_create(const mq_opts *o, mq **out);
/* Connect in the background; reconnects forever with backoff (1 s .. 30 s). */
iotad_err mq_start(mq *c);
/* Add a subscription; (re)sent on every connect. */
iotad_err mq_subscribe(mq *c, const char *filter, int qos);
/* Wait up to timeout_ms for the connection; true if connected. */
bool mq_wait_connected(mq *c, int timeout_ms);
/* Wait up to timeout_ms until connected and every subscription added so
 * far is acknowledged (SUBACK) on this connection; true if so. Any thread
 * but Paho's. */
bool mq_wait_subscribed(mq *c, int timeout_ms);
/* Publish; waits (up to timeout_ms, <0 forever) for room in the in-flight
 * window. Returns IOTAD_ERR_FULL on timeout, IOTAD_ERR_MQTT if Paho refuses.
 * Any thread. */
iotad_err mq_publish(mq *c, const char *topic, const void *payload, size_t len, int qos,
		     bool retained, int timeout_ms);
/* Wait until every in-flight publish is acknowledged (or timeout). */
bool mq_drain(mq *c, int timeout_ms);
void mq_get_stats(mq *c, mq_stats *out);
/* Disconnect (after draining up to timeout_ms) and free. Accepts NULL. */
void mq_destroy(mq *c, int timeout_ms);

#endif
