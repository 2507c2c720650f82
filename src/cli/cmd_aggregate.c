/* cmd_aggregate.c - `iotad aggregate`: the federated aggregator. It
 * publishes the global model retained (which opens the next round), takes
 * the gateways' updates for the open round, closes it with K of N updates
 * or on a timeout, aggregates, and keeps every global model on disk so a
 * restart resumes where it stopped. Paho's thread judges updates under a
 * mutex; the main thread closes rounds and publishes. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <time.h>

#include "iotad/afile.h"
#include "iotad/aggcal.h"
#include "iotad/clock.h"
#include "iotad/cli.h"
#include "iotad/cmd.h"
#include "iotad/config.h"
#include "iotad/dpacct.h"
#include "iotad/fedavg.h"
#include "iotad/fedmsg.h"
#include "iotad/fedround.h"
#include "iotad/log.h"
#include "iotad/model_io.h"
#include "iotad/mqtt.h"

static const char usage[] =
	"usage: iotad aggregate -c FILE [--log-level LEVEL]\n"
	"\n"
	"NAME\n"
	"    iotad aggregate - the federated learning aggregator\n"
	"\n"
	"DESCRIPTION\n"
	"    Publishes the global model, retained, on {prefix}/{model}/global with\n"
	"    its round, hash and parent hash: that opens the next round. Takes the\n"
	"    gateways' updates on {prefix}/{model}/update/{gateway} and closes the\n"
	"    round with federated.min_updates of federated.clients updates, or\n"
	"    after federated.round_timeout seconds with at least one. Aggregates\n"
	"    them (federated.rule: mean weighted by windows, median or trimmed;\n"
	"    federated.clip bounds each update's L2 norm; federated.noise adds\n"
	"    DP-FedAvg's Gaussian noise and puts epsilon at federated.dp_delta in\n"
	"    every global model) into the next global model. Stale, duplicate,\n"
	"    replayed, malformed, oversized and non-finite updates, wrong shapes\n"
	"    and spoofed senders are refused and counted on\n"
	"    {prefix}/{model}/stats (retained JSON). The first global model is\n"
	"    model.path's network; every later one is written to\n"
	"    federated.state_file, from which a restart resumes. The gateways'\n"
	"    summaries of their held-out scores under a global model\n"
	"    ({prefix}/{model}/calib/{gateway}) are merged into one threshold for\n"
	"    every gateway, published retained on {prefix}/{model}/threshold.\n"
	"\n"
	"OPTIONS\n"
	"    -c, --config FILE      YAML configuration (sections mqtt, model, service,\n"
	"                           federated)\n"
	"    -l, --log-level LEVEL  error, warn, info or debug (overrides the config)\n"
	"    -h, --help             show this help\n"
	"    -V, --version          print the version\n"
	"\n"
	"EXIT STATUS\n"
	"    0 after SIGINT, SIGTERM or federated.rounds rounds, 1 on a runtime\n"
	"    error, 2 on bad usage, configuration, model or state file.\n"
	"\n"
	"EXAMPLE\n"
	"    iotad aggregate -c /etc/iotad/aggregator.yaml\n";

#define AGG_STATE_MAX (64u << 20)

typedef struct agg {
	const iotad_config *cfg;
	model m;                        /* base model; m.net.params is the global model */
	fed_round rnd;
	fed_opts fo;
	pthread_mutex_t lock;
	uint32_t round, hash, parent;   /* the current global model */
	uint32_t samples;               /* windows behind it (its round's updates) */
	int n_updates;                  /* updates behind it */
	float epsilon;                  /* DP-FedAvg: epsilon at fed_dp_delta after round rounds */
	atomic_bool stats_dirty;        /* set by Paho's thread, cleared by the main one */
	char sender[FEDMSG_ID_MAX];
	char t_global[512], t_update[512], t_stats[512], t_calib[512], t_thr[512];
	agg_cal cal;                    /* gateways' held-out score summaries: one threshold */
	unsigned char *buf;             /* the encoded global model */
	size_t cap, len;
} agg;

static volatile sig_atomic_t agg_stop;

static void on_signal(int sig)
{
	(void)sig;
	agg_stop = 1;
}

/* Paho's thread: judge one update under the lock. */
static bool on_message(void *ud, const char *topic, size_t tlen, const void *payload, size_t len,
		       int qos, bool retained)
{
	agg *a = ud;
	char gw[FEDMSG_ID_MAX], why[200];
	(void)qos;
	if (fedcal_topic_gateway(a->cfg->fed_prefix, a->m.id, topic, tlen, gw)) {
		pthread_mutex_lock(&a->lock);
		bool ok = !retained && agg_cal_offer(&a->cal, gw, payload, len, why, sizeof why);
		if (retained) {
			a->cal.refused++;
			snprintf(why, sizeof why, "a retained summary (replayed by the broker)");
		}
		uint32_t r = a->cal.round;
		a->stats_dirty = true;
		pthread_mutex_unlock(&a->lock);
		if (ok)
			LOG_INFO("federated: round %u: held-out scores of %s (%s)", r, gw, why);
		else
			LOG_RATELIMITED(LOG_WARN, "federated: summary on %.*s refused: %s", (int)tlen,
					topic, why);
		return true;
	}
	bool is_update = fedmsg_topic_gateway(a->cfg->fed_prefix, a->m.id, topic, tlen, gw);
	pthread_mutex_lock(&a->lock);
	fed_verdict v = fed_round_offer(&a->rnd, is_update ? gw : NULL, payload, len, why, sizeof why);
	if (v == FED_ACCEPTED && retained) {
		/* a retained update is an old one replayed by the broker */
		a->rnd.n_slots--;
		a->rnd.counts[FED_ACCEPTED]--;
		a->rnd.counts[FED_STALE]++;
		v = FED_STALE;
		snprintf(why, sizeof why, "a retained update (replayed by the broker)");
	}
	a->stats_dirty = true;
	int have = a->rnd.n_slots;
	uint32_t open = a->rnd.round;
	pthread_mutex_unlock(&a->lock);
	if (v == FED_ACCEPTED)
		LOG_INFO("federated: round %u: update from %s (%s), %d of %d", open, gw, why, have,
			 a->cfg->fed_min_updates);
	else
		LOG_RATELIMITED(LOG_WARN, "federated: update on %.*s refused: %s: %s", (int)tlen, topic,
				fed_verdict_name(v), why);
	return true;
}

/* Encode the current global model into a->buf. Lock held or single thread. */
static iotad_err encode_global(agg *a)
{
	fedmsg g = {.kind = FEDMSG_GLOBAL, .round = a->round, .base_hash = a->parent,
		    .hash = a->hash, .samples = a->samples, .n_params = (uint32_t)a->m.net.n_params};
	snprintf(g.model, sizeof g.model, "%s", a->m.id);
	snprintf(g.sender, sizeof g.sender, "%s", a->sender);
	if (a->cfg->fed_noise > 0) {
		g.dp_epsilon = a->epsilon;
		g.dp_delta = (float)a->cfg->fed_dp_delta;
		g.dp_noise = (float)a->cfg->fed_noise;
	}
	return fedmsg_encode(&g, a->m.net.params, a->buf, a->cap, &a->len);
}

/* Privacy spent by rounds 1..round of DP-FedAvg: each round is a Gaussian
 * mechanism on the sum of the clipped updates (sensitivity clip: one
 * gateway added or removed), noise z clip, every gateway in every round
 * (q = 1: no sampling is claimed). */
static float round_epsilon(const iotad_config *cfg, uint32_t round)
{
	if (!(cfg->fed_noise > 0) || round == 0)
		return 0;
	return (float)dp_epsilon(1.0, cfg->fed_noise, round, cfg->fed_dp_delta, NULL);
}

/* A fresh seed for a round's noise: noise an observer could predict would
 * protect nothing. */
static uint64_t noise_seed(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
		s = (uint64_t)(clock_mono() * 1e9) ^ ((uint64_t)getpid() << 32);
	return s;
}

/* Resume from federated.state_file if it exists. 0, or -1 with a message. */
static int load_state(agg *a)
{
	const char *path = a->cfg->fed_state_file;
	void *data;
	size_t len;
	char err[200];
	if (!path[0])
		return 0;
	iotad_err rc = afile_read(path, AGG_STATE_MAX, &data, &len);
	if (rc == IOTAD_ERR_NOTFOUND) {
		LOG_INFO("federated: no state file %s: starting at round 0 from %s", path,
			 a->cfg->model_path);
		return 0;
	}
	if (rc) {
		fprintf(stderr, "iotad aggregate: state file %s: %s\n", path, iotad_strerror(rc));
		return -1;
	}
	fedmsg g;
	float *p = malloc(a->m.net.n_params * sizeof *p);
	rc = p ? fedmsg_decode(data, len, &g, p, a->m.net.n_params, err, sizeof err) : IOTAD_ERR_NOMEM;
	free(data);
	if (!rc && (g.kind != FEDMSG_GLOBAL || strcmp(g.model, a->m.id) ||
		    g.n_params != a->m.net.n_params)) {
		snprintf(err, sizeof err, "not a global model of '%s' with %zu parameters", a->m.id,
			 a->m.net.n_params);
		rc = IOTAD_ERR_MODEL;
	}
	if (!rc && g.hash != fedmsg_hash(g.round, p, g.n_params)) {
		snprintf(err, sizeof err, "hash %08x does not match its parameters", g.hash);
		rc = IOTAD_ERR_PARSE;
	}
	if (!rc && a->cfg->fed_noise > 0 && g.round > 0 && g.dp_delta == 0) {
		snprintf(err, sizeof err, "round %u was made without DP noise: no epsilon bounds it "
			 "(federated.noise is %g)", g.round, a->cfg->fed_noise);
		rc = IOTAD_ERR_CONFIG;
	}
	if (!rc && a->cfg->fed_noise > 0 && g.round > 0 && g.dp_noise != (float)a->cfg->fed_noise) {
		snprintf(err, sizeof err, "its rounds had noise %g, federated.noise is %g: the "
			 "accountant takes one noise multiplier", (double)g.dp_noise, a->cfg->fed_noise);
		rc = IOTAD_ERR_CONFIG;
	}
	if (rc) {
		fprintf(stderr,
			"iotad aggregate: state file %s: %s (move it away to start again at round 0)\n",
			path, err);
		free(p);
		return -1;
	}
	memcpy(a->m.net.params, p, g.n_params * sizeof *p);
	free(p);
	a->round = g.round;
	a->hash = g.hash;
	a->parent = g.base_hash;
	a->samples = g.samples;
	a->epsilon = round_epsilon(a->cfg, a->round);
	LOG_INFO("federated: resumed at round %u (hash %08x, parent %08x) from %s", a->round, a->hash,
		 a->parent, path);
	return 0;
}

/* Keep the new global model: state file, model file; then publish it. */
static void persist_and_publish(agg *a, mq *c)
{
	const iotad_config *cfg = a->cfg;
	iotad_err rc;
	if (cfg->fed_state_file[0] && (rc = afile_write(cfg->fed_state_file, a->buf, a->len)))
		LOG_ERR("federated: cannot write %s: %s", cfg->fed_state_file, iotad_strerror(rc));
	if (cfg->fed_model_out[0] && (rc = model_save(&a->m, cfg->fed_model_out)))
		LOG_ERR("federated: cannot write %s: %s", cfg->fed_model_out, iotad_strerror(rc));
	rc = mq_publish(c, a->t_global, a->buf, a->len, 1, true, 5000);
	if (rc)
		LOG_WARN("federated: publish of round %u: %s (again at the next connect)", a->round,
			 iotad_strerror(rc));
}

/* The delta of the stats topic: 0 when no DP is claimed. */
static double cfg_delta(const iotad_config *cfg)
{
	return cfg->fed_noise > 0 ? cfg->fed_dp_delta : 0;
}

static void publish_stats(agg *a, mq *c)
{
	char js[16384];
	pthread_mutex_lock(&a->lock);
	int n = snprintf(js, sizeof js,
			 "{\"model\":\"%s\",\"round\":%u,\"hash\":\"%08x\",\"parent\":\"%08x\","
			 "\"updates\":%d,\"windows\":%u,\"open_round\":%u,\"received\":%d,"
			 "\"refused\":%llu,\"epsilon\":%.6g,\"delta\":%.6g,\"summaries\":%llu,"
			 "\"summaries_refused\":%llu",
			 a->m.id, a->round, a->hash, a->parent, a->n_updates, a->samples, a->rnd.round,
			 a->rnd.n_slots, (unsigned long long)fed_round_refused(&a->rnd),
			 (double)a->epsilon, cfg_delta(a->cfg), (unsigned long long)a->cal.accepted,
			 (unsigned long long)a->cal.refused);
	if (n > 0 && (size_t)n < sizeof js && agg_cal_stats(&a->cal, js, sizeof js, &n))
		n += snprintf(js + n, sizeof js - (size_t)n, ",\"counts\":{");
	else
		n = -1;
	for (int v = 0; v < FED_VERDICT__COUNT && n > 0 && (size_t)n < sizeof js; v++)
		n += snprintf(js + n, sizeof js - (size_t)n, "%s\"%s\":%llu", v ? "," : "",
			      fed_verdict_name((fed_verdict)v), (unsigned long long)a->rnd.counts[v]);
	a->stats_dirty = false;
	pthread_mutex_unlock(&a->lock);
	if (n > 0 && (size_t)n + 2 < sizeof js) {
		memcpy(js + n, "}}", 3);
		mq_publish(c, a->t_stats, js, (size_t)n + 2, 1, true, 1000);
	}
}

/* Close the open round if it has K updates, or on its timeout with any.
 * Returns true if a new global model was made. Main thread. */
static bool maybe_close(agg *a, double *opened)
{
	const iotad_config *cfg = a->cfg;
	double waited = clock_mono() - *opened;
	bool closed = false;
	pthread_mutex_lock(&a->lock);
	int n = a->rnd.n_slots;
	if (n < cfg->fed_min_updates && waited < cfg->fed_round_timeout) {
		pthread_mutex_unlock(&a->lock);
		return false;
	}
	if (n == 0) {
		LOG_INFO("federated: round %u: no update in %.0f s, still open", a->rnd.round, waited);
		*opened = clock_mono();
		pthread_mutex_unlock(&a->lock);
		return false;
	}
	fed_client cl[1024];
	uint64_t windows = 0;
	for (int i = 0; i < n; i++) {
		cl[i] = (fed_client){a->rnd.slots[i].params, a->m.net.n_params, a->rnd.slots[i].samples};
		windows += a->rnd.slots[i].samples;
	}
	float *next = malloc(a->m.net.n_params * sizeof *next);
	a->fo.noise_seed = noise_seed();
	fed_report rep;
	char err[200] = "";
	iotad_err rc = next ? fed_aggregate(a->m.net.params, a->m.net.n_params, cl, (size_t)n, &a->fo,
					    next, &rep, err, sizeof err)
			    : IOTAD_ERR_NOMEM;
	if (rc) {
		LOG_ERR("federated: round %u not aggregated: %s %s; reopened", a->rnd.round,
			iotad_strerror(rc), err);
	} else {
		memcpy(a->m.net.params, next, a->m.net.n_params * sizeof *next);
		a->parent = a->hash;
		a->round = a->rnd.round;
		a->hash = fedmsg_hash(a->round, next, a->m.net.n_params);
		a->samples = windows > UINT32_MAX ? UINT32_MAX : (uint32_t)windows;
		a->n_updates = n;
		a->epsilon = round_epsilon(cfg, a->round);
		closed = encode_global(a) == IOTAD_OK;
		agg_cal_open(&a->cal, a->round, a->hash);
		LOG_INFO("federated: round %u closed with %d of %d updates after %.1f s (%s): %llu windows, "
			 "step %.4g, largest update %.4g, %d clipped; hash %08x parent %08x; "
			 "epsilon %.4g at delta %g",
			 a->round, n, cfg->fed_clients, waited, fed_rule_name(a->fo.rule),
			 (unsigned long long)windows, (double)rep.step_norm, (double)rep.max_norm,
			 rep.n_clipped, a->hash, a->parent, (double)a->epsilon, cfg_delta(cfg));
	}
	free(next);
	fed_round_open(&a->rnd, a->round + 1, a->hash);
	a->stats_dirty = true;
	*opened = clock_mono();
	pthread_mutex_unlock(&a->lock);
	return closed;
}

/* Model, options, topics and buffers of a; 0 or -1 with a message. */
static int agg_setup(agg *a, const iotad_config *cfg)
{
	char err[512];
	a->cfg = cfg;
	if (model_load(cfg->model_path, &a->m, err, sizeof err) != IOTAD_OK) {
		fprintf(stderr, "iotad aggregate: model %s: %s\n", cfg->model_path, err);
		return -1;
	}
	if (a->m.n_more > 0) {
		fprintf(stderr, "iotad aggregate: model %s: an ensemble of %d networks; federated "
			"learning takes a model of one network\n", cfg->model_path, a->m.n_more + 1);
		return -1;
	}
	if (!fedmsg_valid_id(a->m.id)) {
		fprintf(stderr, "iotad aggregate: model %s: id '%s' is not usable in a topic (letters, "
			"digits, '-', '_', '.')\n", cfg->model_path, a->m.id);
		return -1;
	}
	fed_opts_default(&a->fo);
	fed_rule_parse(cfg->fed_rule, &a->fo.rule); /* checked by the config parser */
	a->fo.trim = (float)cfg->fed_trim;
	a->fo.clip = (float)cfg->fed_clip;
	a->fo.noise = (float)cfg->fed_noise;
	snprintf(a->sender, sizeof a->sender, "%.63s",
		 fedmsg_valid_id(cfg->client_id) ? cfg->client_id : "aggregator");
	if (fedmsg_topic_global(cfg->fed_prefix, a->m.id, a->t_global, sizeof a->t_global) ||
	    fedmsg_topic_update(cfg->fed_prefix, a->m.id, "+", a->t_update, sizeof a->t_update) ||
	    snprintf(a->t_stats, sizeof a->t_stats, "%s/%s/stats", cfg->fed_prefix, a->m.id) >=
		    (int)sizeof a->t_stats) {
		fprintf(stderr, "iotad aggregate: federated.prefix is too long\n");
		return -1;
	}
	if (fedcal_topic_calib(cfg->fed_prefix, a->m.id, "+", a->t_calib, sizeof a->t_calib) ||
	    fedcal_topic_threshold(cfg->fed_prefix, a->m.id, a->t_thr, sizeof a->t_thr)) {
		fprintf(stderr, "iotad aggregate: federated.prefix is too long\n");
		return -1;
	}
	fedmsg probe = {.n_params = (uint32_t)a->m.net.n_params};
	snprintf(probe.model, sizeof probe.model, "%s", a->m.id);
	snprintf(probe.sender, sizeof probe.sender, "%s", "x");
	size_t update_size = fedmsg_size(&probe) + FEDMSG_ID_MAX + FEDMSG_INT8_EXTRA;
	if (update_size > cfg->max_payload)
		LOG_WARN("federated: an update of this model takes up to %zu bytes, more than "
			 "service.max_payload %zu: every update will be refused", update_size,
			 cfg->max_payload);
	a->cap = update_size + FEDMSG_ID_MAX + FEDMSG_DP_BYTES;
	a->buf = malloc(a->cap);
	if (!a->buf || agg_cal_init(&a->cal, a->m.id, cfg->fed_clients, cfg->fed_min_updates,
				    a->m.percentile) != IOTAD_OK ||
	    fed_round_init(&a->rnd, a->m.id, a->m.net.n_params, cfg->fed_clients,
				      cfg->max_payload) != IOTAD_OK) {
		fprintf(stderr, "iotad aggregate: out of memory\n");
		return -1;
	}
	a->hash = fedmsg_hash(0, a->m.net.params, a->m.net.n_params);
	if (load_state(a) != 0)
		return -1;
	if (encode_global(a) != IOTAD_OK) {
		fprintf(stderr, "iotad aggregate: the global model does not encode (a parameter "
			"that is not finite?)\n");
		return -1;
	}
	fed_round_open(&a->rnd, a->round + 1, a->hash);
	agg_cal_open(&a->cal, a->round, a->hash);
	return 0;
}

static void agg_free(agg *a)
{
	fed_round_free(&a->rnd);
	agg_cal_free(&a->cal);
	model_free(&a->m);
	free(a->buf);
}

/* Publish the threshold for every gateway if one is due. Main thread. */
static void publish_threshold(agg *a, mq *c, bool connected)
{
	char thr[FEDCALMSG_MAX];
	size_t thr_len = 0;
	pthread_mutex_lock(&a->lock);
	bool due = connected && agg_cal_take(&a->cal, thr, sizeof thr, &thr_len);
	fedcal_global t = a->cal.last;
	pthread_mutex_unlock(&a->lock);
	if (!due)
		return;
	LOG_INFO("federated: threshold of round %u for every gateway: %.6g (percentile %g of %u "
		 "held-out windows of %u gateways)", t.round, (double)t.threshold,
		 (double)t.percentile, t.windows, t.gateways);
	a->stats_dirty = true;
	if (mq_publish(c, a->t_thr, thr, thr_len, 1, true, 5000) != IOTAD_OK)
		LOG_WARN("federated: threshold of round %u not published", t.round);
}

/* Main thread: until a signal or federated.rounds rounds. */
static int agg_loop(agg *a, mq *c)
{
	const iotad_config *cfg = a->cfg;
	double opened = clock_mono();
	int rounds = 0;
	mq_stats st;
	uint64_t seen_connects = 0;
	bool was_connected = false;
	while (!agg_stop) {
		struct timespec nap = {0, 50 * 1000 * 1000};
		nanosleep(&nap, NULL);
		mq_get_stats(c, &st);
		/* (re)connected: the broker may have lost the retained global model */
		if (st.connected && (!was_connected || st.reconnects != seen_connects)) {
			pthread_mutex_lock(&a->lock);
			iotad_err rc = mq_publish(c, a->t_global, a->buf, a->len, 1, true, 5000);
			pthread_mutex_unlock(&a->lock);
			if (rc == IOTAD_OK)
				LOG_INFO("federated: global model of round %u published on %s (%zu bytes); "
					 "round %u open", a->round, a->t_global, a->len, a->round + 1);
			a->stats_dirty = true;
			seen_connects = st.reconnects;
		}
		was_connected = st.connected;
		/* the threshold of a global model goes before the next global model:
		 * gateways take it only while that model is their latest */
		publish_threshold(a, c, st.connected);
		if (maybe_close(a, &opened)) {
			publish_threshold(a, c, st.connected);
			persist_and_publish(a, c);
			rounds++;
		}
		if (a->stats_dirty && st.connected)
			publish_stats(a, c);
		if (cfg->fed_rounds && rounds >= cfg->fed_rounds) {
			LOG_INFO("federated: %d rounds done", rounds);
			break;
		}
	}
	return 0;
}

int cmd_aggregate(int argc, char **argv)
{
	const char *config_path = NULL, *level_name = NULL;
	int status = cli_service_opts(usage, argc, argv, &config_path, &level_name, NULL);
	if (status >= 0)
		return status;
	static iotad_config cfg;
	status = cli_service_config("aggregate", argc, argv, optind, config_path, level_name,
					&cfg);
	if (status)
		return status;

	static agg a;
	pthread_mutex_init(&a.lock, NULL);
	if (agg_setup(&a, &cfg) != 0) {
		agg_free(&a);
		return 2;
	}
	mq_opts mo = {
		.uri = cfg.broker_uri, .client_id = cfg.client_id,
		.username = cfg.username[0] ? cfg.username : NULL,
		.password = cfg.password[0] ? cfg.password : NULL,
		.keepalive = cfg.keepalive, .clean_session = cfg.clean_session,
		.max_inflight = cfg.max_inflight,
		.tls_ca_file = cfg.tls_ca_file[0] ? cfg.tls_ca_file : NULL,
		.tls_cert_file = cfg.tls_cert_file[0] ? cfg.tls_cert_file : NULL,
		.tls_key_file = cfg.tls_key_file[0] ? cfg.tls_key_file : NULL,
		.tls_no_hostname_check = !cfg.tls_verify_hostname,
		.on_message = on_message, .ud = &a,
	};
	mq *c = NULL;
	iotad_err rc = mq_create(&mo, &c);
	if (!rc)
		rc = mq_subscribe(c, a.t_update, 1);
	if (!rc)
		rc = mq_subscribe(c, a.t_calib, 1);
	if (!rc)
		rc = mq_start(c);
	if (rc) {
		fprintf(stderr, "iotad aggregate: cannot start the MQTT client: %s\n", iotad_strerror(rc));
		mq_destroy(c, 0);
		agg_free(&a);
		return 1;
	}
	cli_stop_signals(on_signal, false);
	LOG_INFO("federated: aggregator of model %s (%zu parameters) on %s: %d of %d updates or %.0f s, "
		 "rule %s", a.m.id, a.m.net.n_params, cfg.broker_uri, cfg.fed_min_updates,
		 cfg.fed_clients, cfg.fed_round_timeout, fed_rule_name(a.fo.rule));
	status = agg_loop(&a, c);
	mq_destroy(c, 5000);
	agg_free(&a);
	LOG_INFO("stopped");
	return status;
}
