/* http.c - the HTTP door: health, readiness, Prometheus metrics, scoring
 * of posted windows, and the live page (its state is live.c's) with its
 * Server-Sent Events.
 *
 * Threads: libmicrohttpd runs one thread per connection. /v1/score uses a
 * detector of its own (det is not thread-safe; the scorer's stays the
 * scorer's) under score_lock. */
#include "iotad/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "http_int.h"
#include "iotad/addr.h"
#include "iotad/clock.h"
#include "iotad/codec.h"
#include "iotad/log.h"
#include "iotad/topic.h"
/* src/page.html, embedded at build time (see src/meson.build). */
extern const char http_page[];
extern const size_t http_page_len;

/* --- responses ----------------------------------------------------------- */

enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned status, const char *type,
			   const char *body, size_t len, enum MHD_ResponseMemoryMode mode,
			   const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result http_reply_error(struct MHD_Connection *conn, unsigned status, const char *allow,
				 const char *fmt, ...)
{
	char msg[512], quoted[1100], body[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (codec_json_string(quoted, sizeof quoted, msg) < 0)
		snprintf(quoted, sizeof quoted, "\"error\"");
	int n = snprintf(body, sizeof body, "{\"error\":%s,\"status\":%u}", quoted, status);
	return http_reply(conn, status, "application/json", body, (size_t)n, MHD_RESPMEM_MUST_COPY,
		     allow);
}

/* Run w(h, f) into a memory stream and send it. */
static enum MHD_Result reply_stream(struct MHD_Connection *conn, http *h, const char *type,
				    void (*w)(http *, FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return MHD_NO;
	w(h, f);
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad) {
		free(buf);
		return http_reply_error(conn, 500, NULL, "out of memory");
	}
	return http_reply(conn, 200, type, buf, len, MHD_RESPMEM_MUST_FREE, NULL);
}

static void snapshot(http *h, met_snapshot *s)
{
	memset(s, 0, sizeof *s);
	if (h->o.metrics)
		h->o.metrics(h->o.ud, s);
}

static void write_metrics(http *h, FILE *f)
{
	met_snapshot s;
	snapshot(h, &s);
	/* commands this door refused itself (bad path, body) add to the service's */
	for (int r = 0; r < CMD__COUNT; r++)
		s.commands_rejected[r] += atomic_load(&h->cmd_rejected[r]);
	met_write_prometheus(f, &s);
	fprintf(f, "# HELP iotad_http_live_dropped_total Live page score updates dropped because "
		   "the page state was busy.\n# TYPE iotad_http_live_dropped_total counter\n"
		   "iotad_http_live_dropped_total %llu\n",
		(unsigned long long)live_dropped(h->live));
	http_write_score_rejected(h, f);
}

static enum MHD_Result do_health(struct MHD_Connection *conn, http *h)
{
	char body[160];
	int n = snprintf(body, sizeof body,
			 "{\"status\":\"ok\",\"version\":\"%s\",\"uptime_seconds\":%.3f}",
			 IOTAD_VERSION, clock_mono() - h->started);
	return http_reply(conn, 200, "application/json", body, (size_t)n, MHD_RESPMEM_MUST_COPY, NULL);
}

static enum MHD_Result do_ready(struct MHD_Connection *conn, http *h)
{
	met_snapshot s;
	char body[160];
	snapshot(h, &s);
	bool ready = s.connected && s.model_loaded;
	int n = snprintf(body, sizeof body,
			 "{\"ready\":%s,\"broker_connected\":%s,\"model_loaded\":%s}",
			 ready ? "true" : "false", s.connected ? "true" : "false",
			 s.model_loaded ? "true" : "false");
	return http_reply(conn, ready ? 200 : 503, "application/json", body, (size_t)n,
		     MHD_RESPMEM_MUST_COPY, NULL);
}

static bool is_get(const char *method)
{
	return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

/* POST /v1/devices/{id}/{action}: the id and action of url, or false. */
static bool command_url(const char *url, det_command *cmd, char *action, size_t alen)
{
	const char *pre = "/v1/devices/";
	size_t pl = strlen(pre);
	if (strncmp(url, pre, pl))
		return false;
	const char *id = url + pl, *slash = strchr(id, '/');
	if (!slash || slash == id || (size_t)(slash - id) >= sizeof cmd->device ||
	    strchr(slash + 1, '/') || strlen(slash + 1) >= alen)
		return false;
	memset(cmd, 0, sizeof *cmd);
	memcpy(cmd->device, id, (size_t)(slash - id));
	snprintf(action, alen, "%s", slash + 1);
	return true;
}

static unsigned command_status(cmd_reject r)
{
	switch (r) {
	case CMD_OK:
		return 200;
	case CMD_UNKNOWN_DEVICE:
		return 404;
	case CMD_BAD_STATE:
		return 409;
	case CMD_BUSY:
		return 503;
	default:
		return 400;
	}
}

/* Run an operator's command through the service and answer
 * {"device","command","state","seq"} or {"error","status"}. */
static enum MHD_Result do_command(struct MHD_Connection *conn, http *h, det_command *cmd,
				  const char *action, const http_req *q)
{
	char detail[240] = "", dev[300], body[600];
	det_result res;
	cmd_reject r;

	if (det_command_parse(action, &cmd->kind) != 0) {
		atomic_fetch_add(&h->cmd_rejected[CMD_UNKNOWN_COMMAND], 1);
		return http_reply_error(conn, 404, NULL,
				   "no such command: %s (expected rebaseline, mute, false-alarm)",
				   action);
	}
	if (!topic_level_ok(cmd->device, strlen(cmd->device))) {
		r = CMD_BAD_DEVICE;
		snprintf(detail, sizeof detail,
			 "not a device id: printable ASCII without '+', '#' or spaces");
	} else if (cmd->kind == DET_CMD_MUTE) {
		r = codec_parse_mute_body(q->body, q->len, &cmd->seconds, detail, sizeof detail);
	} else if (q->len && strspn(q->body, " \t\r\n{}") != q->len) {
		r = CMD_BAD_JSON;
		snprintf(detail, sizeof detail, "%s takes no body (or {})", action);
	} else {
		r = CMD_OK;
	}
	if (r == CMD_OK && !h->o.command) {
		r = CMD_BUSY;
		snprintf(detail, sizeof detail, "commands are not available on this server");
	}
	if (r != CMD_OK)
		atomic_fetch_add(&h->cmd_rejected[r], 1); /* the service counts what it refuses */
	else
		r = h->o.command(h->o.ud, cmd, &res, detail, sizeof detail);
	if (r != CMD_OK)
		return http_reply_error(conn, command_status(r), NULL, "%s: %s", codec_cmd_reject_name(r),
				   detail);
	if (codec_json_string(dev, sizeof dev, cmd->device) < 0)
		return http_reply_error(conn, 500, NULL, "device id does not fit");
	int n = snprintf(body, sizeof body,
			 "{\"device\":%s,\"command\":\"%s\",\"state\":\"%s\",\"seq\":%llu}", dev,
			 det_command_name(cmd->kind), alert_event_name(res.event),
			 (unsigned long long)res.seq);
	return http_reply(conn, 200, "application/json", body, (size_t)n, MHD_RESPMEM_MUST_COPY, NULL);
}

enum MHD_Result http_req_append(http_req *q, size_t max_body, const char *upload,
				size_t *upload_size)
{
	if (!q->too_big && q->len + *upload_size <= max_body) {
		char *nb = realloc(q->body, q->len + *upload_size + 1);
		if (!nb)
			return MHD_NO;
		q->body = nb;
		memcpy(q->body + q->len, upload, *upload_size);
		q->len += *upload_size;
		q->body[q->len] = '\0';
	} else {
		q->too_big = true;
	}
	*upload_size = 0;
	return MHD_YES;
}

/* Collect a command's POST body into *con_cls (created on the first
 * call); *done once the body is complete. */
static enum MHD_Result post_body(struct MHD_Connection *conn, http *h, void **con_cls,
				 const char *upload, size_t *upload_size, bool *done)
{
	http_req *q = *con_cls;
	(void)conn;
	*done = false;
	if (!q) {
		/* any Content-Type: a command's body is small JSON or nothing */
		*con_cls = q = calloc(1, sizeof *q);
		return q ? MHD_YES : MHD_NO;
	}
	if (*upload_size)
		return http_req_append(q, h->o.max_body, upload, upload_size);
	*done = true;
	return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	http *h = cls;
	(void)version;

	if (!strcmp(url, "/v1/score")) {
		if (strcmp(method, MHD_HTTP_METHOD_POST))
			return http_reply_error(conn, 405, "POST", "use POST for %s", url);
		return http_do_score(conn, h, con_cls, upload, upload_size);
	}

	det_command cmd;
	char action[32];
	if (command_url(url, &cmd, action, sizeof action)) {
		if (strcmp(method, MHD_HTTP_METHOD_POST))
			return http_reply_error(conn, 405, "POST", "use POST for %s", url);
		bool done;
		enum MHD_Result ret = post_body(conn, h, con_cls, upload, upload_size, &done);
		if (!done)
			return ret;
		http_req *q = *con_cls;
		if (q->too_big)
			return http_reply_error(conn, 413, NULL, "body larger than %zu bytes",
					   h->o.max_body);
		return do_command(conn, h, &cmd, action, q);
	}

	bool page = h->o.page && (!strcmp(url, "/") || !strcmp(url, "/index.html") ||
				  !strcmp(url, "/v1/devices") || !strcmp(url, "/events"));
	bool known = page || !strcmp(url, "/healthz") || !strcmp(url, "/readyz") ||
		     !strcmp(url, "/metrics");
	if (!known)
		return http_reply_error(conn, 404, NULL, "no such resource: %s", url);
	if (!is_get(method))
		return http_reply_error(conn, 405, "GET, HEAD", "use GET for %s", url);
	if (!strcmp(url, "/healthz"))
		return do_health(conn, h);
	if (!strcmp(url, "/readyz"))
		return do_ready(conn, h);
	if (!strcmp(url, "/metrics"))
		return reply_stream(conn, h, "text/plain; version=0.0.4; charset=utf-8",
				    write_metrics);
	if (!strcmp(url, "/v1/devices"))
		return reply_stream(conn, h, "application/json", http_write_devices);
	if (!strcmp(url, "/events"))
		return http_do_events(conn, h);
	return http_reply(conn, 200, "text/html; charset=utf-8", http_page, http_page_len,
		     MHD_RESPMEM_PERSISTENT, NULL);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	http_req *q = *con_cls;
	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt,
							    va_list ap)
{
	char msg[256];
	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	LOG_RATELIMITED(LOG_WARN, "http: %s", msg);
}

/* --- lifecycle ----------------------------------------------------------- */

/* MAX_CONNECTIONS, or fewer when the descriptor limit (raised to its hard
 * limit first) leaves less room beside MQTT and files. */
static unsigned connection_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 64;
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= MAX_CONNECTIONS + 64)
		return MAX_CONNECTIONS;
	return rl.rlim_cur > 96 ? (unsigned)rl.rlim_cur - 64 : 32;
}

iotad_err http_create(const http_opts *o, http **out)
{
	char host[64], err[160];
	uint16_t port;

	*out = NULL;
	if (addr_parse_listen(o->listen, host, sizeof host, &port, err, sizeof err) != 0)
		return IOTAD_ERR_INVAL;
	http *h = calloc(1, sizeof *h);
	if (!h)
		return IOTAD_ERR_NOMEM;
	h->o = *o;
	h->started = clock_mono();
	pthread_mutex_init(&h->score_lock, NULL);
	pthread_mutex_init(&h->sse_lock, NULL);
	clock_cond_init(&h->sse_cond);

	if (o->det)
		h->dc = *o->det;
	else
		det_config_default(&h->dc);
	h->o.det = NULL; /* borrowed only until here */
	iotad_err e = o->m ? http_score_det(h, o->m, &h->det) : IOTAD_OK; /* NULL: zero-config */
	if (e == IOTAD_OK && o->page)
		e = live_create(o->sample_interval, &h->live);
	if (e != IOTAD_OK) {
		http_destroy(h);
		return e;
	}

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	bool v6 = o->listen[0] == '[';
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, host, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, host, &a->sin_addr);
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	h->d = MHD_start_daemon(flags, port, NULL, NULL, handler, h,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, connection_limit(),
				MHD_OPTION_CONNECTION_TIMEOUT, HTTP_IDLE_TIMEOUT_S,
				MHD_OPTION_NOTIFY_COMPLETED, completed, h,
				MHD_OPTION_END);
	if (!h->d) {
		LOG_ERR("http: cannot listen on %s", o->listen);
		http_destroy(h);
		return IOTAD_ERR_IO;
	}
	if (pthread_create(&h->ticker, NULL, http_sse_ticker, h) != 0) {
		LOG_ERR("http: cannot start the event stream thread");
		http_destroy(h);
		return IOTAD_ERR_NOMEM;
	}
	h->ticker_started = true;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : port;
	LOG_INFO("http: listening on %s (port %u)%s", o->listen, h->port,
		 o->page ? ", live page at /" : "");
	*out = h;
	return IOTAD_OK;
}

uint16_t http_port(const http *h)
{
	return h ? h->port : 0;
}

live *http_live(http *h)
{
	return h ? h->live : NULL;
}

void http_destroy(http *h)
{
	if (!h)
		return;
	live_stop(h->live);
	pthread_mutex_lock(&h->sse_lock);
	h->stopping = true;
	pthread_cond_broadcast(&h->sse_cond);
	pthread_mutex_unlock(&h->sse_lock);
	if (h->ticker_started)
		pthread_join(h->ticker, NULL);
	/* resumed streams end at once (live and the server are stopping) */
	http_sse_resume_all(h);
	if (h->d)
		MHD_stop_daemon(h->d);
	det_destroy(h->det);
	live_destroy(h->live);
	pthread_mutex_destroy(&h->score_lock);
	pthread_mutex_destroy(&h->sse_lock);
	pthread_cond_destroy(&h->sse_cond);
	free(h);
}
