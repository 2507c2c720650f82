/* alert_subscriber.c - how an application consumes iotad's alerts: subscribe
 * to alerts/#, print one line per event (time, device, state, score,
 * threshold, the features to look at first).
 *
 *   alert_subscriber [BROKER_URI] [TOPIC_FILTER]
 *   (defaults tcp://localhost:1883 and alerts/#; stops on SIGINT/SIGTERM)
 *
 * Needs only the Paho MQTT C client (synchronous API) and cJSON. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <MQTTClient.h>
#include <cjson/cJSON.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *text(const cJSON *ev, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(ev, key);
	return cJSON_IsString(it) ? it->valuestring : "-";
}

static void number(const cJSON *ev, const char *key, char *out, size_t len)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(ev, key);
	if (cJSON_IsNumber(it))
		snprintf(out, len, "%.4g", it->valuedouble);
	else
		snprintf(out, len, "-");
}

/* What a lifecycle or operator event means, or NULL for raised, cleared,
 * stale and anything unknown (printed with score and blame). */
static const char *lifecycle_note(const char *state)
{
	static const char *const notes[][2] = {
		{"learning", "learning its normal: no alarms yet"},
		{"learned", "learned its normal: judged from now on"},
		{"adapted", "a lasting change is now its normal"},
		{"muted", "muted (maintenance) until"},
		{"unmuted", "mute over: alarms back on"},
		{"rebaselined", "re-baselined by an operator: learning its normal"},
		{"false_alarm", "alarm marked false: cleared, the window learned as normal"},
	};
	for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++)
		if (!strcmp(state, notes[i][0]))
			return notes[i][1];
	return NULL;
}

/* One line per event; anything that is not an event object is reported. */
static void print_event(const char *topic, const char *payload, int len)
{
	cJSON *ev = cJSON_ParseWithLength(payload, (size_t)len);
	if (!cJSON_IsObject(ev)) {
		fprintf(stderr, "alert_subscriber: %s: not a JSON object\n", topic);
		cJSON_Delete(ev);
		return;
	}
	const char *note = lifecycle_note(text(ev, "state"));
	if (note) {
		bool muted = !strcmp(text(ev, "state"), "muted");
		printf("%s  %-12s %-8s %s%s%s\n", text(ev, "time"), text(ev, "device"),
		       text(ev, "state"), note, muted ? " " : "", muted ? text(ev, "until_time") : "");
		cJSON_Delete(ev);
		return;
	}
	char score[32], thr[32], top[256] = "", chans[128] = "";
	number(ev, "score", score, sizeof score);
	number(ev, "threshold", thr, sizeof thr);
	/* a stuck sensor is what to look at; else the largest shares of the error */
	const cJSON *f, *stuck = cJSON_GetObjectItemCaseSensitive(ev, "stuck");
	int n_stuck = cJSON_IsArray(stuck) ? cJSON_GetArraySize(stuck) : 0;
	const cJSON *names = n_stuck ? stuck : cJSON_GetObjectItemCaseSensitive(ev, "top");
	cJSON_ArrayForEach(f, names) {
		if (!cJSON_IsString(f))
			continue;
		size_t n = strlen(top);
		snprintf(top + n, sizeof top - n, "%s%s", n ? ", " : "", f->valuestring);
	}
	/* what judged it: the profile's channels (level, drift, ...) or shape */
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(ev, "channels")) {
		if (!cJSON_IsString(f))
			continue;
		size_t n = strlen(chans);
		snprintf(chans + n, sizeof chans - n, "%s%s", n ? "," : " by ", f->valuestring);
	}
	printf("%s  %-12s %-8s score %-10s threshold %-10s look at: %s%s%s\n", text(ev, "time"),
	       text(ev, "device"), text(ev, "state"), score, thr, *top ? top : "-",
	       n_stuck ? " (stuck)" : "", chans);
	cJSON_Delete(ev);
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : "tcp://localhost:1883";
	const char *filter = argc > 2 ? argv[2] : "alerts/#";
	char id[64];
	snprintf(id, sizeof id, "alert-subscriber-%ld", (long)getpid());

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);

	MQTTClient c;
	if (MQTTClient_create(&c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL) != MQTTCLIENT_SUCCESS) {
		fprintf(stderr, "alert_subscriber: bad broker URI %s\n", uri);
		return 2;
	}
	MQTTClient_connectOptions co = MQTTClient_connectOptions_initializer;
	co.keepAliveInterval = 30;
	co.cleansession = 1;
	int rc = MQTTClient_connect(c, &co);
	if (rc != MQTTCLIENT_SUCCESS || MQTTClient_subscribe(c, filter, 1) != MQTTCLIENT_SUCCESS) {
		fprintf(stderr, "alert_subscriber: cannot subscribe to %s on %s (%d)\n", filter, uri, rc);
		MQTTClient_destroy(&c);
		return 1;
	}
	fprintf(stderr, "alert_subscriber: listening on %s %s\n", uri, filter);
	while (!stop) {
		char *topic = NULL;
		int tlen = 0;
		MQTTClient_message *msg = NULL;
		rc = MQTTClient_receive(c, &topic, &tlen, &msg, 500);
		if (rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED) {
			fprintf(stderr, "alert_subscriber: connection lost (%d)\n", rc);
			break;
		}
		if (msg) {
			print_event(topic, msg->payload, msg->payloadlen);
			MQTTClient_freeMessage(&msg);
			MQTTClient_free(topic);
		}
	}
	MQTTClient_disconnect(c, 1000);
	MQTTClient_destroy(&c);
	return stop ? 0 : 1;
}
