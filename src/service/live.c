/* live.c - the live page's state: devices with their sparklines, the
 * latest alerts, and the ring of Server-Sent Events.
 *
 * The scorer only ever try-locks for a score update, so a busy page loses
 * a point rather than slowing scoring. A stream that falls a whole ring
 * behind is closed (its browser reconnects and reloads the snapshot). */
#include "iotad/live.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iotad/clock.h"
#include "iotad/codec.h"
#include "iotad/log.h"

#define SSE_SLOTS 512
#define SSE_EVENT_MAX 2400      /* "event: alert\ndata: " + an event of up to 2 KB */
#define ALERT_MAX 2048
#define LIVE_INDEX (2 * LIVE_DEVICES)

typedef struct live_point {
	float score, thr;
} live_point;

typedef struct live_dev {
	char id[DET_DEVICE_ID_MAX];
	char model[48];         /* the model that judges it (mixed fleet), "" unknown */
	const char *state;      /* normal | raised | stale | muted | learning */
	double next;            /* monotonic time from which the next score is kept */
	uint32_t head, n;       /* ring of points */
	live_point pts[LIVE_POINTS];
} live_dev;

typedef struct sse_slot {
	uint32_t len;
	char text[SSE_EVENT_MAX];
} sse_slot;

typedef struct alert_slot {
	uint32_t len;
	char json[ALERT_MAX];
} alert_slot;

struct live {
	double sample_interval;
	pthread_mutex_t lock;
	pthread_cond_t cond;           /* an SSE event was added, or stopping */
	bool stopping;
	uint32_t n_devs;
	uint64_t hidden;               /* devices beyond LIVE_DEVICES */
	uint32_t alert_head, n_alerts;
	uint64_t seq;                  /* SSE events written; event i is in ring[i % SSE_SLOTS] */
	int streams;
	_Atomic uint64_t dropped_samples;
	int32_t index[LIVE_INDEX];     /* open addressing over devs, -1 empty */
	live_dev devs[LIVE_DEVICES];
	alert_slot alerts[LIVE_ALERTS];
	sse_slot ring[SSE_SLOTS];
};

struct live_stream {
	live *l;
	uint64_t seq;
	uint32_t off;                  /* bytes of event seq already sent */
	bool hello;
	int fd;                        /* the connection's socket, -1 if unknown */
	double quiet_since;            /* monotonic time of the last bytes handed out */
};

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The device's entry, created if there is room. Under lock. */
static live_dev *find(live *l, const char *device)
{
	uint32_t i = hash(device) % LIVE_INDEX;
	while (l->index[i] >= 0) {
		live_dev *d = &l->devs[l->index[i]];
		if (strcmp(d->id, device) == 0)
			return d;
		i = (i + 1) % LIVE_INDEX;
	}
	if (l->n_devs == LIVE_DEVICES || strlen(device) >= DET_DEVICE_ID_MAX) {
		l->hidden++;
		return NULL;
	}
	live_dev *d = &l->devs[l->n_devs];
	l->index[i] = (int32_t)l->n_devs++;
	snprintf(d->id, sizeof d->id, "%s", device);
	d->state = "normal";
	return d;
}

/* Append one SSE event to the ring. Under lock. */
static void sse_push(live *l, const char *type, const char *json, size_t len)
{
	sse_slot *s = &l->ring[l->seq % SSE_SLOTS];
	int n = snprintf(s->text, sizeof s->text, "event: %s\ndata: %.*s\n\n", type, (int)len, json);
	if (n < 0 || (size_t)n >= sizeof s->text)
		return;
	s->len = (uint32_t)n;
	l->seq++;
}

void live_sample(live *l, const char *device, double ts, const det_result *res)
{
	live_sample_model(l, NULL, device, ts, res);
}

void live_sample_model(live *l, const char *name, const char *device, double ts,
		       const det_result *res)
{
	char json[512];

	if (!l || !res->scored)
		return;
	double now = clock_mono();
	if (pthread_mutex_trylock(&l->lock) != 0) {
		atomic_fetch_add_explicit(&l->dropped_samples, 1, memory_order_relaxed);
		return;
	}
	live_dev *d = find(l, device);
	bool added = false;
	if (d && now >= d->next) {
		d->next = now + l->sample_interval;
		d->pts[d->head] = (live_point){res->score, res->threshold};
		d->head = (d->head + 1) % LIVE_POINTS;
		if (d->n < LIVE_POINTS)
			d->n++;
		if (name && strcmp(d->model, name))
			snprintf(d->model, sizeof d->model, "%s", name);
		int n = codec_format_score(json, sizeof json, device, ts, res);
		/* the model last in the object: {...,"model":"NAME"} */
		if (n > 1 && d->model[0] && json[n - 1] == '}') {
			char mj[sizeof d->model * 2 + 16];
			memcpy(mj, ",\"model\":", 9);
			if (codec_json_string(mj + 9, sizeof mj - 9, d->model) > 0) {
				size_t ml = strlen(mj);
				if ((size_t)n + ml < sizeof json) {
					memcpy(json + n - 1, mj, ml);
					n += (int)ml;
					json[n - 1] = '}';
					json[n] = '\0';
				}
			}
		}
		if (n > 0) {
			sse_push(l, "score", json, (size_t)n);
			added = true;
		}
	}
	pthread_mutex_unlock(&l->lock);
	if (added)
		pthread_cond_broadcast(&l->cond);
}

void live_event(live *l, const char *device, const char *state, const char *json, size_t len)
{
	if (!l || len >= ALERT_MAX)
		return;
	pthread_mutex_lock(&l->lock);
	live_dev *d = find(l, device);
	if (d)
		d->state = !strcmp(state, "raised") ? "raised" : !strcmp(state, "stale") ? "stale" :
			   !strcmp(state, "muted") ? "muted" : !strcmp(state, "learning") ? "learning" :
			   "normal";
	alert_slot *a = &l->alerts[l->alert_head];
	memcpy(a->json, json, len);
	a->len = (uint32_t)len;
	l->alert_head = (l->alert_head + 1) % LIVE_ALERTS;
	if (l->n_alerts < LIVE_ALERTS)
		l->n_alerts++;
	sse_push(l, "alert", json, len);
	pthread_mutex_unlock(&l->lock);
	pthread_cond_broadcast(&l->cond);
}

static void write_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

void live_write_devices(live *l, FILE *f)
{
	char name[2 * DET_DEVICE_ID_MAX + 8];

	pthread_mutex_lock(&l->lock);
	fprintf(f, "\"hidden\":%llu,\"devices\":[", (unsigned long long)l->hidden);
	for (uint32_t i = 0; i < l->n_devs; i++) {
		const live_dev *d = &l->devs[i];
		codec_json_string(name, sizeof name, d->id);
		fprintf(f, "%s{\"device\":%s,\"state\":\"%s\",", i ? "," : "", name, d->state);
		if (d->model[0]) {
			codec_json_string(name, sizeof name, d->model);
			fprintf(f, "\"model\":%s,", name);
		}
		fputs("\"points\":[", f);
		uint32_t first = (d->head + LIVE_POINTS - d->n) % LIVE_POINTS;
		for (uint32_t k = 0; k < d->n; k++) {
			const live_point *p = &d->pts[(first + k) % LIVE_POINTS];
			fputs(k ? ",[" : "[", f);
			write_num(f, p->score);
			fputc(',', f);
			write_num(f, p->thr);
			fputc(']', f);
		}
		fputs("]}", f);
	}
	fputs("],\"alerts\":[", f);
	for (uint32_t k = 0; k < l->n_alerts; k++) { /* newest first */
		const alert_slot *a = &l->alerts[(l->alert_head + LIVE_ALERTS - 1 - k) % LIVE_ALERTS];
		if (k)
			fputc(',', f);
		fwrite(a->json, 1, a->len, f);
	}
	fputc(']', f);
	pthread_mutex_unlock(&l->lock);
}

uint64_t live_dropped(live *l)
{
	return l ? atomic_load(&l->dropped_samples) : 0;
}

/* --- Server-Sent Events -------------------------------------------------- */

/* The browser closed its end (a write would only notice a ping or two later). */
static bool peer_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static ssize_t copy_text(char *buf, size_t max, const char *text, size_t len)
{
	size_t n = len < max ? len : max;
	memcpy(buf, text, n);
	return (ssize_t)n;
}

/* live_stream_read, or with wait false live_stream_poll. */
static ssize_t stream_read(live_stream *c, char *buf, size_t max, bool wait)
{
	live *l = c->l;
	size_t n = 0;

	pthread_mutex_lock(&l->lock);
	if (!wait && c->hello && c->seq == l->seq && !l->stopping) {
		bool gone = peer_gone(c->fd);
		bool ping = clock_mono() - c->quiet_since >= LIVE_PING_S;
		pthread_mutex_unlock(&l->lock);
		if (gone)
			return LIVE_STREAM_ERROR;
		if (!ping)
			return LIVE_STREAM_AGAIN;
		c->quiet_since = clock_mono();
		static const char ping_text[] = ": ping\n\n";
		return copy_text(buf, max, ping_text, sizeof ping_text - 1);
	}
	if (!c->hello) {
		c->hello = true;
		pthread_mutex_unlock(&l->lock);
		static const char hello[] = "retry: 2000\n\n";
		return copy_text(buf, max, hello, sizeof hello - 1);
	}
	/* Wait for an event, a second at a time so a closed stream is noticed. */
	bool gone = false;
	for (int s = 0; s < LIVE_PING_S && c->seq == l->seq && !l->stopping && !gone; s++) {
		struct timespec dl;
		clock_deadline_ms(&dl, 1000);
		while (c->seq == l->seq && !l->stopping &&
		       pthread_cond_timedwait(&l->cond, &l->lock, &dl) != ETIMEDOUT)
			;
		gone = peer_gone(c->fd);
	}
	if (gone || l->stopping) {
		pthread_mutex_unlock(&l->lock);
		return gone ? LIVE_STREAM_ERROR : LIVE_STREAM_END;
	}
	if (l->seq - c->seq > SSE_SLOTS) {
		pthread_mutex_unlock(&l->lock);
		LOG_RATELIMITED(LOG_WARN, "http: closing an event stream %s", "that fell behind");
		return LIVE_STREAM_ERROR;
	}
	if (c->seq == l->seq) {
		pthread_mutex_unlock(&l->lock);
		static const char ping[] = ": ping\n\n";
		return copy_text(buf, max, ping, sizeof ping - 1);
	}
	while (c->seq < l->seq && n < max) {
		const sse_slot *s = &l->ring[c->seq % SSE_SLOTS];
		size_t k = s->len - c->off;
		if (k > max - n)
			k = max - n;
		memcpy(buf + n, s->text + c->off, k);
		n += k;
		c->off += (uint32_t)k;
		if (c->off == s->len) {
			c->seq++;
			c->off = 0;
		}
	}
	pthread_mutex_unlock(&l->lock);
	c->quiet_since = clock_mono();
	return (ssize_t)n;
}

ssize_t live_stream_read(live_stream *c, char *buf, size_t max)
{
	return stream_read(c, buf, max, true);
}

ssize_t live_stream_poll(live_stream *c, char *buf, size_t max)
{
	return stream_read(c, buf, max, false);
}

live_stream *live_stream_open(live *l, int fd)
{
	pthread_mutex_lock(&l->lock);
	live_stream *c = l->streams < LIVE_STREAMS ? calloc(1, sizeof *c) : NULL;
	if (c) {
		l->streams++;
		c->l = l;
		c->seq = l->seq;
		c->fd = fd;
		c->quiet_since = clock_mono();
	}
	pthread_mutex_unlock(&l->lock);
	return c;
}

void live_stream_close(live_stream *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->l->lock);
	c->l->streams--;
	pthread_mutex_unlock(&c->l->lock);
	free(c);
}

/* --- lifecycle ----------------------------------------------------------- */

iotad_err live_create(double sample_interval, live **out)
{
	*out = NULL;
	live *l = calloc(1, sizeof *l); /* about 1.6 MB, all of it here */
	if (!l)
		return IOTAD_ERR_NOMEM;
	l->sample_interval = sample_interval > 0 ? sample_interval : 0.5;
	pthread_mutex_init(&l->lock, NULL);
	clock_cond_init(&l->cond);
	for (int i = 0; i < LIVE_INDEX; i++)
		l->index[i] = -1;
	*out = l;
	return IOTAD_OK;
}

void live_stop(live *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_mutex_unlock(&l->lock);
	pthread_cond_broadcast(&l->cond);
}

void live_destroy(live *l)
{
	if (!l)
		return;
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
