/* mqtt.c - the only file that talks to Paho (MQTTAsync).
 *
 * Threads: Paho runs its own threads and calls us back on them. The
 * application window (inflight) and the connection state are guarded by
 * one mutex; publishers wait on a condition variable for room. A small
 * supervisor thread retries the first connect with backoff (Paho's own
 * automatic reconnect only starts after a first success). */
#include "iotad/mqtt.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <MQTTAsync.h>

#include "iotad/clock.h"
#include "iotad/log.h"
#include "mqtt_net.h"

#define MQ_MAX_SUBS 16
#define MQ_BACKOFF_MIN 1
#define MQ_BACKOFF_MAX 30
#define MQ_CONNECT_TIMEOUT 10 /* seconds for TCP, TLS and the CONNACK */

struct mq {
	MQTTAsync h;
	mq_opts o;
	char *uri, *client_id, *username, *password, *will_topic, *will_payload, *online_payload;
	char *tls_ca_file, *tls_cert_file, *tls_key_file;
	char **uris;              /* the cluster's nodes (n_uris >= 2), or NULL */
	int n_uris;
	char *subs[MQ_MAX_SUBS];
	int sub_qos[MQ_MAX_SUBS];
	int n_subs;

	pthread_mutex_t lock;
	pthread_cond_t cond;      /* inflight dropped, connection state changed, stop */
	uint32_t inflight;
	bool connected;
	bool connecting;
	bool ever_connected;
	bool stopping;
	bool started;
	int connects;
	int subacked;             /* subscriptions acknowledged on this connection */
	pthread_t supervisor;

	_Atomic uint64_t published, publish_failed, received;
};

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* Wait on c->cond until deadline (NULL: forever). Returns ETIMEDOUT or 0. Lock held. */
static int wait_until(mq *c, const struct timespec *deadline)
{
	if (!deadline)
		return pthread_cond_wait(&c->cond, &c->lock);
	return pthread_cond_timedwait(&c->cond, &c->lock, deadline);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	mq *c = ctx;
	size_t tl = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	if (c->o.on_message &&
	    !c->o.on_message(c->o.ud, topic, tl, msg->payload, (size_t)msg->payloadlen, msg->qos,
			     msg->retained != 0))
		return 0; /* Paho keeps both and offers them again */
	atomic_fetch_add(&c->received, 1);
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void on_connection_lost(void *ctx, char *cause)
{
	mq *c = ctx;
	pthread_mutex_lock(&c->lock);
	c->connected = false;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	LOG_WARN("mqtt: connection to %s lost (%s); reconnecting", c->uri, cause ? cause : "no cause");
}

static void on_sub_failure(void *ctx, MQTTAsync_failureData *r)
{
	(void)ctx;
	LOG_ERR("mqtt: subscribe failed (code %d%s%s)", r ? r->code : 0,
		r && r->message ? ": " : "", r && r->message ? r->message : "");
}

static void on_sub_success(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	mq *c = ctx;
	pthread_mutex_lock(&c->lock);
	c->subacked++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void send_subscribe(mq *c, int i)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess = on_sub_success;
	ro.onFailure = on_sub_failure;
	ro.context = c;
	int rc = MQTTAsync_subscribe(c->h, c->subs[i], c->sub_qos[i], &ro);
	if (rc != MQTTASYNC_SUCCESS)
		LOG_ERR("mqtt: subscribe to %s failed: %s", c->subs[i], MQTTAsync_strerror(rc));
}

static void publish_online(mq *c)
{
	if (!c->will_topic || !c->online_payload)
		return;
	MQTTAsync_message m = MQTTAsync_message_initializer;
	m.payload = c->online_payload;
	m.payloadlen = (int)strlen(c->online_payload);
	m.qos = 1;
	m.retained = 1;
	int rc = MQTTAsync_sendMessage(c->h, c->will_topic, &m, NULL);
	if (rc != MQTTASYNC_SUCCESS)
		LOG_WARN("mqtt: status publish failed: %s", MQTTAsync_strerror(rc));
}

/* Called by Paho after every successful connect, first or automatic. */
static void on_connected(void *ctx, char *cause)
{
	(void)cause;
	mq *c = ctx;
	pthread_mutex_lock(&c->lock);
	bool again = c->ever_connected;
	c->connected = true;
	c->connecting = false;
	c->ever_connected = true;
	c->connects++;
	c->subacked = 0;
	int n = c->n_subs;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	mqnet_set_nodelay(c->uri, c->uris, c->n_uris);
	/* Paho does not say which node of a list took a reconnect */
	LOG_INFO("mqtt: %s to %s%s as %s", again ? "reconnected" : "connected",
		 c->n_uris > 1 ? "a node of " : "", c->n_uris > 1 ? "mqtt.uri" : c->uri, c->client_id);
	for (int i = 0; i < n; i++)
		send_subscribe(c, i);
	publish_online(c);
}

/* Why a connect failed: the broker's CONNACK refusal when there is one
 * (MQTT 3.1.1 return codes 1..5), else Paho's message. */
static const char *connect_failure_text(const MQTTAsync_failureData *r)
{
	static const char *const connack[] = {
		NULL,
		"refused: unacceptable protocol version",
		"refused: client identifier rejected",
		"refused: server unavailable",
		"refused: bad user name or password (not authorized)",
		"refused: not authorized (check mqtt.username and the password)",
	};
	if (r && r->code >= 1 && r->code <= 5)
		return connack[r->code];
	if (r && r->message)
		return r->message;
	return MQTTAsync_strerror(r ? r->code : -1);
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *r)
{
	mq *c = ctx;
	bool refused = r && r->code >= 1 && r->code <= 5;
	if (c->n_uris > 1) {
		LOG_RATELIMITED(LOG_WARN, "mqtt: cannot connect to any of the %d nodes of mqtt.uri "
				"(%s, ...): %s", c->n_uris, c->uris[0], connect_failure_text(r));
	} else if (!refused && mqnet_tcp_reachable(c->uri, 1000)) {
		LOG_RATELIMITED(LOG_WARN,
				"mqtt: cannot connect to %s: TCP connected, but no MQTT CONNACK "
				"came back within %d s: is it an MQTT broker? (a TLS listener "
				"needs ssl://; Paho says: %s)",
				c->uri, MQ_CONNECT_TIMEOUT, connect_failure_text(r));
	} else {
		LOG_RATELIMITED(LOG_WARN, "mqtt: cannot connect to %s: %s", c->uri,
				connect_failure_text(r));
	}
	pthread_mutex_lock(&c->lock);
	c->connecting = false;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* OpenSSL's reason for a failed handshake, e.g. "certificate verify failed". */
static int on_ssl_error(const char *str, size_t len, void *u)
{
	mq *c = u;
	while (len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r'))
		len--;
	bool verify = memmem(str, len, "certificate verify failed", 25) != NULL;
	LOG_RATELIMITED(LOG_ERROR, "mqtt: TLS error with %s: %.*s%s", c->uri, (int)len, str,
			verify ? " (the broker's certificate is not signed by mqtt.tls_ca_file)" : "");
	return 0;
}

static int do_connect(mq *c)
{
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_willOptions wo = MQTTAsync_willOptions_initializer;
	MQTTAsync_SSLOptions so = MQTTAsync_SSLOptions_initializer;
	co.keepAliveInterval = c->o.keepalive;
	co.cleansession = c->o.clean_session;
	co.automaticReconnect = 1;
	co.minRetryInterval = MQ_BACKOFF_MIN;
	co.maxRetryInterval = MQ_BACKOFF_MAX;
	co.connectTimeout = MQ_CONNECT_TIMEOUT;
	co.maxInflight = c->o.max_inflight;
	co.username = c->username;
	co.password = c->password;
	co.onFailure = on_connect_failure;
	co.context = c;
	/* no onSuccess: with one set, Paho's automatic reconnects stop
	 * reporting their failures to onFailure */
	if (c->n_uris > 1) {
		co.serverURIs = c->uris;
		co.serverURIcount = c->n_uris;
	}
	if (c->will_topic) {
		wo.topicName = c->will_topic;
		wo.message = c->will_payload ? c->will_payload : "offline";
		wo.qos = 1;
		wo.retained = 1;
		co.will = &wo;
	}
	if (!strncmp(c->uri, "ssl://", 6) || !strncmp(c->uri, "mqtts://", 8)) {
		so.trustStore = c->tls_ca_file;
		so.keyStore = c->tls_cert_file;
		so.privateKey = c->tls_key_file;
		so.enableServerCertAuth = 1;
		so.verify = !c->o.tls_no_hostname_check;
		so.ssl_error_cb = on_ssl_error;
		so.ssl_error_context = c;
		co.ssl = &so;
	}
	return MQTTAsync_connect(c->h, &co);
}

/* Retries the first connect with exponential backoff until it succeeds;
 * after that Paho reconnects by itself. */
static void *supervise(void *arg)
{
	mq *c = arg;
	int backoff = MQ_BACKOFF_MIN;
	LOG_INFO("mqtt: connecting to %s%s as %s (timeout %d s)", c->uri,
		 c->n_uris > 1 ? " or the next node of mqtt.uri" : "", c->client_id,
		 MQ_CONNECT_TIMEOUT);
	pthread_mutex_lock(&c->lock);
	while (!c->stopping && !c->ever_connected) {
		if (!c->connecting) {
			c->connecting = true;
			pthread_mutex_unlock(&c->lock);
			int rc = do_connect(c);
			pthread_mutex_lock(&c->lock);
			if (rc != MQTTASYNC_SUCCESS) {
				c->connecting = false;
				LOG_RATELIMITED(LOG_WARN, "mqtt: connect to %s: %s", c->uri,
						MQTTAsync_strerror(rc));
			}
		}
		while (c->connecting && !c->stopping)
			wait_until(c, NULL);
		if (c->ever_connected || c->stopping)
			break;
		struct timespec dl;
		clock_deadline_ms(&dl, backoff * 1000);
		while (!c->stopping && wait_until(c, &dl) != ETIMEDOUT)
			;
		backoff = backoff * 2 > MQ_BACKOFF_MAX ? MQ_BACKOFF_MAX : backoff * 2;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

iotad_err mq_create(const mq_opts *o, mq **out)
{
	*out = NULL;
	if (!o || !o->uri || !o->client_id || !*o->client_id || o->max_inflight < 1 ||
	    o->max_inflight > 65535 || o->keepalive < 1)
		return IOTAD_ERR_INVAL;
	mq *c = calloc(1, sizeof *c);
	if (!c)
		return IOTAD_ERR_NOMEM;
	c->o = *o;
	c->uri = strdup(o->uri);
	c->client_id = strdup(o->client_id);
	c->username = dup_or_null(o->username);
	c->password = dup_or_null(o->password);
	c->will_topic = dup_or_null(o->will_topic);
	c->will_payload = dup_or_null(o->will_payload);
	c->online_payload = dup_or_null(o->online_payload);
	c->tls_ca_file = dup_or_null(o->tls_ca_file);
	c->tls_cert_file = dup_or_null(o->tls_cert_file);
	c->tls_key_file = dup_or_null(o->tls_key_file);
	pthread_mutex_init(&c->lock, NULL);
	clock_cond_init(&c->cond);
	int want = o->uris && o->n_uris > 1 ? o->n_uris : 0;
	if (want)
		c->uris = calloc((size_t)want, sizeof *c->uris);
	for (int i = 0; c->uris && i < want && (c->uris[i] = strdup(o->uris[i])); i++)
		c->n_uris = i + 1;
	if (!c->uri || !c->client_id || c->n_uris != want) {
		mq_destroy(c, 0);
		return IOTAD_ERR_NOMEM;
	}

	MQTTAsync_createOptions cr = MQTTAsync_createOptions_initializer;
	cr.sendWhileDisconnected = 1;
	cr.allowDisconnectedSendAtAnyTime = 1;
	/* Paho's buffer holds our whole window plus status messages. */
	cr.maxBufferedMessages = o->max_inflight + 16;
	int rc = MQTTAsync_createWithOptions(&c->h, c->uri, c->client_id, MQTTCLIENT_PERSISTENCE_NONE,
					     NULL, &cr);
	if (rc != MQTTASYNC_SUCCESS) {
		LOG_ERR("mqtt: cannot create client for %s: %s", c->uri, MQTTAsync_strerror(rc));
		c->h = NULL;
		mq_destroy(c, 0);
		return IOTAD_ERR_MQTT;
	}
	MQTTAsync_setCallbacks(c->h, c, on_connection_lost, on_message, NULL);
	MQTTAsync_setConnected(c->h, c, on_connected);
	*out = c;
	return IOTAD_OK;
}

iotad_err mq_start(mq *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->started) {
		pthread_mutex_unlock(&c->lock);
		return IOTAD_ERR_STATE;
	}
	c->started = true;
	pthread_mutex_unlock(&c->lock);
	if (pthread_create(&c->supervisor, NULL, supervise, c) != 0) {
		c->started = false;
		return IOTAD_ERR_NOMEM;
	}
	return IOTAD_OK;
}

iotad_err mq_subscribe(mq *c, const char *filter, int qos)
{
	if (!filter || !*filter || qos < 0 || qos > 2)
		return IOTAD_ERR_INVAL;
	pthread_mutex_lock(&c->lock);
	if (c->n_subs == MQ_MAX_SUBS) {
		pthread_mutex_unlock(&c->lock);
		return IOTAD_ERR_FULL;
	}
	int i = c->n_subs;
	c->subs[i] = strdup(filter);
	c->sub_qos[i] = qos;
	if (!c->subs[i]) {
		pthread_mutex_unlock(&c->lock);
		return IOTAD_ERR_NOMEM;
	}
	c->n_subs++;
	bool now = c->connected;
	pthread_mutex_unlock(&c->lock);
	if (now)
		send_subscribe(c, i);
	return IOTAD_OK;
}

bool mq_wait_connected(mq *c, int timeout_ms)
{
	struct timespec dl;
	clock_deadline_ms(&dl, timeout_ms);
	pthread_mutex_lock(&c->lock);
	while (!c->connected && !c->stopping && wait_until(c, &dl) != ETIMEDOUT)
		;
	bool ok = c->connected;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

bool mq_wait_subscribed(mq *c, int timeout_ms)
{
	struct timespec dl;
	clock_deadline_ms(&dl, timeout_ms);
	pthread_mutex_lock(&c->lock);
	while (!(c->connected && c->subacked >= c->n_subs) && !c->stopping &&
	       wait_until(c, &dl) != ETIMEDOUT)
		;
	bool ok = c->connected && c->subacked >= c->n_subs;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

static void release_slot(mq *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->inflight > 0)
		c->inflight--;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_publish_ok(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	mq *c = ctx;
	atomic_fetch_add(&c->published, 1);
	release_slot(c);
}

static void on_publish_fail(void *ctx, MQTTAsync_failureData *r)
{
	mq *c = ctx;
	atomic_fetch_add(&c->publish_failed, 1);
	int code = r ? r->code : 0;
	if (code == MQTTASYNC_OPERATION_INCOMPLETE || code == MQTTASYNC_DISCONNECTED)
		LOG_RATELIMITED(LOG_WARN, "mqtt: a publish was not acknowledged: the connection %s "
				"before the broker confirmed it (counted in publish_failed)",
				code == MQTTASYNC_DISCONNECTED ? "was down" : "closed");
	else
		LOG_RATELIMITED(LOG_WARN, "mqtt: publish failed: %s (code %d)",
				r && r->message ? r->message : MQTTAsync_strerror(code), code);
	release_slot(c);
}

iotad_err mq_publish(mq *c, const char *topic, const void *payload, size_t len, int qos,
		     bool retained, int timeout_ms)
{
	if (!topic || !*topic || len > 0x0FFFFFFF || qos < 0 || qos > 2)
		return IOTAD_ERR_INVAL;
	struct timespec dl;
	if (timeout_ms >= 0)
		clock_deadline_ms(&dl, timeout_ms);
	pthread_mutex_lock(&c->lock);
	while (c->inflight >= (uint32_t)c->o.max_inflight && !c->stopping) {
		if (wait_until(c, timeout_ms >= 0 ? &dl : NULL) == ETIMEDOUT) {
			pthread_mutex_unlock(&c->lock);
			return IOTAD_ERR_FULL;
		}
	}
	c->inflight++;
	pthread_mutex_unlock(&c->lock);

	MQTTAsync_message m = MQTTAsync_message_initializer;
	m.payload = (void *)payload;
	m.payloadlen = (int)len;
	m.qos = qos;
	m.retained = retained;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess = on_publish_ok;
	ro.onFailure = on_publish_fail;
	ro.context = c;
	int rc = MQTTAsync_sendMessage(c->h, topic, &m, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		atomic_fetch_add(&c->publish_failed, 1);
		release_slot(c);
		LOG_RATELIMITED(LOG_WARN, "mqtt: publish to %s refused: %s", topic,
				MQTTAsync_strerror(rc));
		return IOTAD_ERR_MQTT;
	}
	return IOTAD_OK;
}

bool mq_drain(mq *c, int timeout_ms)
{
	struct timespec dl;
	clock_deadline_ms(&dl, timeout_ms);
	pthread_mutex_lock(&c->lock);
	while (c->inflight > 0 && wait_until(c, &dl) != ETIMEDOUT)
		;
	bool ok = c->inflight == 0;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

void mq_get_stats(mq *c, mq_stats *out)
{
	pthread_mutex_lock(&c->lock);
	out->inflight = c->inflight;
	out->connected = c->connected;
	out->reconnects = c->connects > 0 ? (uint64_t)(c->connects - 1) : 0;
	pthread_mutex_unlock(&c->lock);
	out->published = atomic_load(&c->published);
	out->publish_failed = atomic_load(&c->publish_failed);
	out->received = atomic_load(&c->received);
}

static void on_disconnected(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	mq *c = ctx;
	pthread_mutex_lock(&c->lock);
	c->connected = false;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_disconnect_fail(void *ctx, MQTTAsync_failureData *r)
{
	(void)r;
	on_disconnected(ctx, NULL);
}

void mq_destroy(mq *c, int timeout_ms)
{
	if (!c)
		return;
	if (c->h && c->started) {
		if (timeout_ms > 0 && mq_drain(c, timeout_ms) == false)
			LOG_WARN("mqtt: %u publishes still unacknowledged at shutdown", c->inflight);
		pthread_mutex_lock(&c->lock);
		c->stopping = true;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->supervisor, NULL);
		if (MQTTAsync_isConnected(c->h)) {
			MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
			d.timeout = timeout_ms > 0 ? timeout_ms : 1000;
			d.onSuccess = on_disconnected;
			d.onFailure = on_disconnect_fail;
			d.context = c;
			if (MQTTAsync_disconnect(c->h, &d) == MQTTASYNC_SUCCESS) {
				struct timespec dl;
				clock_deadline_ms(&dl, d.timeout + 500);
				pthread_mutex_lock(&c->lock);
				while (c->connected && wait_until(c, &dl) != ETIMEDOUT)
					;
				pthread_mutex_unlock(&c->lock);
			}
		}
	}
	if (c->h)
		MQTTAsync_destroy(&c->h);
	for (int i = 0; i < c->n_subs; i++)
		free(c->subs[i]);
	free(c->uri);
	for (int i = 0; i < c->n_uris; i++)
		free(c->uris[i]);
	free(c->uris);
	free(c->client_id);
	free(c->username);
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->will_topic);
	free(c->will_payload);
	free(c->online_payload);
	free(c->tls_ca_file);
	free(c->tls_cert_file);
	free(c->tls_key_file);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
