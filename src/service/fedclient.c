/* fedclient.c - the federated gateway inside `iotad run` (see fedclient.h).
 * Threads: the scorer calls fedgw_observe (own device rings, pool behind a
 * try-lock); Paho's thread copies a global model into the pending buffer;
 * the worker judges it, trains, publishes the update and writes the model
 * file that the service reloads. */
#include "fedgw_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "iotad/clock.h"
#include "iotad/dpacct.h"
#include "iotad/fedlocal.h"
#include "iotad/fedmsg.h"
#include "iotad/log.h"
#include "iotad/model_io.h"
#include "iotad/mqtt.h"
#include "iotad/train.h"


static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Paho's thread: keep the latest global model for the worker. */
static bool on_message(void *ud, const char *topic, size_t tlen, const void *payload, size_t len,
		       int qos, bool retained)
{
	fedgw *g = ud;
	(void)qos, (void)retained;
	if (tlen == strlen(g->t_thr) && !memcmp(topic, g->t_thr, tlen)) {
		fedgw_cal_message(g, payload, len);
		return true;
	}
	if (len > g->cap) {
		atomic_fetch_add(&g->n_invalid, 1);
		LOG_RATELIMITED(LOG_WARN, "federated: global model of %zu bytes refused (at most %zu)",
				len, g->cap);
		return true;
	}
	pthread_mutex_lock(&g->lock);
	memcpy(g->pending, payload, len);
	g->pending_len = len;
	g->have_pending = true;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return true;
}

void fedgw_observe(void *ud, const char *device, const float *raw, const det_result *res)
{
	fedgw *g = ud;
	uint64_t h = fnv1a(device);
	size_t mask = g->table - 1, i = (size_t)h & mask;
	int d = -1;
	for (size_t probe = 0; probe < g->table; probe++, i = (i + 1) & mask) {
		int s = g->slot_of[i];
		if (s < 0) {
			if (g->n_dev == g->pool.max_devices) {
				atomic_fetch_add(&g->n_unsampled, 1);
				return;
			}
			d = g->n_dev++;
			g->slot_of[i] = d;
			snprintf(g->ids[d], sizeof g->ids[d], "%s", device);
			break;
		}
		if (!strcmp(g->ids[s], device)) {
			d = s;
			break;
		}
	}
	if (d < 0)
		return;
	int W = g->m.window, F = g->m.n_features;
	float *ring = g->ring + (size_t)d * g->dim;
	model_normalize(&g->m, raw, ring + (size_t)(g->seen[d] % (uint64_t)W) * (size_t)F);
	uint64_t n = ++g->seen[d];
	/* every W-th sample: a window judged normal, oldest sample first */
	if (!res->scored || res->anomalous || n < (uint64_t)W || n % (uint64_t)W != 0)
		return;
	for (int t = 0; t < W; t++)
		memcpy(g->win + (size_t)t * (size_t)F, ring + (size_t)((n + (uint64_t)t) % (uint64_t)W) * (size_t)F,
		       (size_t)F * sizeof *g->win);
	if (pthread_mutex_trylock(&g->lock) == 0) {
		fedgw_cal_offer(g, d, g->win);
		pthread_mutex_unlock(&g->lock);
	}
}

/* The pool's windows into g->x; returns their count. Worker thread. */
static size_t gather(fedgw *g)
{
	pthread_mutex_lock(&g->lock);
	size_t n = fed_pool_gather(&g->pool, g->x);
	pthread_mutex_unlock(&g->lock);
	return n;
}

/* Make params the model in use: write model.path, ask the service to reload. */
void fedgw_swap_in(fedgw *g, const float *params, int version, const char *what)
{
	memcpy(g->m.net.params, params, g->m.net.n_params * sizeof *params);
	g->m.version = version;
	iotad_err rc = model_save(&g->m, g->cfg->model_path);
	if (rc) {
		LOG_ERR("federated: cannot write %s: %s; %s not swapped in", g->cfg->model_path,
			iotad_strerror(rc), what);
		return;
	}
	*g->reload_flag = 1;
	g->last_change = clock_mono();
}

/* Take a global model (len bytes in g->work) as the candidate to judge if
 * it is intact, of this model and newer than the one accepted last. */
static void take_global(fedgw *g, size_t len)
{
	fedmsg gm;
	char err[200];
	size_t np = g->m.net.n_params;
	iotad_err rc = fedmsg_decode(g->work, len, &gm, g->cand, np, err, sizeof err);
	if (!rc && (gm.kind != FEDMSG_GLOBAL || strcmp(gm.model, g->m.id) || gm.n_params != np)) {
		snprintf(err, sizeof err, "not a global model of '%s' with %zu parameters", g->m.id, np);
		rc = IOTAD_ERR_MODEL;
	}
	if (!rc && gm.hash != fedmsg_hash(gm.round, g->cand, np)) {
		snprintf(err, sizeof err, "hash %08x does not match its parameters", gm.hash);
		rc = IOTAD_ERR_PARSE;
	}
	if (!rc && g->have_global && gm.round <= g->round) {
		if (gm.round == g->round && gm.hash == g->hash)
			return; /* the same one again (the aggregator's reconnect) */
		snprintf(err, sizeof err, "round %u, already at round %u (stale or replayed)", gm.round,
			 g->round);
		rc = IOTAD_ERR_STATE;
	}
	if (rc) {
		atomic_fetch_add(&g->n_invalid, 1);
		LOG_WARN("federated: global model refused: %s", err);
		return;
	}
	memcpy(g->global, g->cand, np * sizeof *g->cand);
	g->judge = true;
	g->cand_round = gm.round;
	g->cand_hash = gm.hash;
	g->cand_parent = gm.base_hash;
	g->cand_eps = gm.dp_epsilon;
	g->cand_delta = gm.dp_delta;
}

/* Judge the candidate global model once the sample holds min_windows (at
 * once if it is the model in use): accepted, it becomes the base of the
 * next update and is swapped in; refused, nothing is trained from it. */
static void judge_global(fedgw *g)
{
	size_t np = g->m.net.n_params;
	bool same = !memcmp(g->global, g->m.net.params, np * sizeof *g->global);
	size_t n = gather(g);
	if (!same && n < (size_t)g->cfg->fed_min_windows)
		return; /* too few windows to judge it by: later */
	g->judge = false;
	memcpy(g->net.params, g->global, np * sizeof *g->global);
	double cur, cand;
	/* personalized, it is judged against the global model accepted last: a
	 * gateway serving its own model still takes part */
	const nn *ref = g->pers != FEDCAL_PERS_OFF && g->have_global ? &g->cnet[0] : &g->m.net;
	if (!same && !fed_validate(ref, &g->net, g->x, n, g->cfg->fed_max_score_ratio, &cur, &cand)) {
		atomic_fetch_add(&g->n_refused, 1);
		LOG_WARN("federated: global model of round %u refused: mean score %.4g on %zu recent "
			 "normal windows against %.4g now (federated.max_score_ratio %g)",
			 g->cand_round, cand, n, cur, g->cfg->fed_max_score_ratio);
		g->last_change = clock_mono();
		return;
	}
	memcpy(g->base, g->global, np * sizeof *g->global);
	g->have_global = true;
	g->round = g->cand_round;
	g->hash = g->cand_hash;
	g->owe_update = true;
	atomic_fetch_add(&g->n_joined, 1);
	atomic_store(&g->m_round, g->round);
	atomic_store(&g->m_eps, (double)g->cand_eps);
	atomic_store(&g->m_delta, (double)g->cand_delta);
	if (same) {
		LOG_INFO("federated: global model of round %u (hash %08x) is the model in use",
			 g->round, g->hash);
		g->last_change = clock_mono();
		fedgw_after_accept(g, true);
		return;
	}
	LOG_INFO("federated: global model of round %u (hash %08x, parent %08x) accepted: mean score "
		 "%.4g on %zu recent normal windows against %.4g; swapping it in",
		 g->round, g->hash, g->cand_parent, cand, n, cur);
	atomic_fetch_add(&g->n_accepted, 1);
	fedgw_after_accept(g, false);
}

/* Train from `from` on the sample into g->net; false if too few windows. */
bool fedgw_train_local(fedgw *g, const float *from, uint64_t seed, size_t *n_out,
			train_report *rep)
{
	size_t n = gather(g);
	*n_out = n;
	if (n < (size_t)g->cfg->fed_min_windows)
		return false;
	memcpy(g->net.params, from, g->m.net.n_params * sizeof *from);
	train_opts o;
	train_opts_default(&o);
	o.epochs = g->cfg->fed_local_epochs;
	o.batch = g->cfg->fed_batch;
	o.lr = (float)g->cfg->fed_lr;
	o.seed = seed;
	o.dp_clip = (float)g->cfg->fed_dp_sgd_clip;
	o.dp_noise = (float)g->cfg->fed_dp_sgd_noise;
	if (o.dp_clip > 0 && getrandom(&o.dp_seed, sizeof o.dp_seed, 0) != (ssize_t)sizeof o.dp_seed)
		o.dp_seed ^= (uint64_t)(clock_mono() * 1e9);
	iotad_err rc = train_fit(&g->net, g->x, n, &o, rep);
	if (rc) {
		LOG_WARN("federated: local training failed: %s", iotad_strerror(rc));
		return false;
	}
	if (o.dp_clip > 0) {
		/* every training composes: a window in the pool takes part in each */
		uint64_t steps = (uint64_t)o.epochs * ((n + (size_t)o.batch - 1) / (size_t)o.batch);
		dp_acct_add(&g->acct, n > (size_t)o.batch ? (double)o.batch / (double)n : 1.0,
			    o.dp_noise, steps);
		double e = dp_acct_epsilon(&g->acct, g->cfg->fed_dp_delta, NULL);
		atomic_store(&g->m_window_eps, e);
		LOG_INFO("federated: DP-SGD: %zu windows, clip %g, noise %g: window-level epsilon %.4g "
			 "at delta %g since start", n, (double)o.dp_clip, (double)o.dp_noise, e,
			 g->cfg->fed_dp_delta);
	}
	return true;
}

void fedgw_send_update(fedgw *g)
{
	size_t n;
	train_report rep;
	if (!fedgw_train_local(g, g->base, fnv1a(g->gw) ^ g->round, &n, &rep))
		return; /* not enough windows yet: again later */
	g->owe_update = false;
	fedmsg u = {.kind = FEDMSG_UPDATE, .round = g->round + 1, .base_hash = g->hash,
		    .samples = (uint32_t)n, .n_params = (uint32_t)g->m.net.n_params,
		    .encoding = g->encoding};
	snprintf(u.model, sizeof u.model, "%s", g->m.id);
	snprintf(u.sender, sizeof u.sender, "%s", g->gw);
	size_t len;
	iotad_err rc = fedmsg_encode_net(&u, &g->net, g->work, g->cap, &len);
	if (!rc)
		rc = mq_publish(g->mq, g->t_update, g->work, len, 1, false, 5000);
	if (rc) {
		atomic_fetch_add(&g->n_failed, 1);
		LOG_WARN("federated: update for round %u not sent: %s", u.round, iotad_strerror(rc));
		return;
	}
	atomic_fetch_add(&g->n_sent, 1);
	LOG_INFO("federated: update for round %u sent (%zu bytes, %s): %zu windows, %d epochs, "
		 "loss %.4g -> %.4g", u.round, len, fedmsg_enc_name(u.encoding), n, g->cfg->fed_local_epochs, (double)rep.first_loss,
		 (double)rep.final_loss);
}

/* No global model for federated.local_interval: retrain the model in use. */
static void retrain_alone(fedgw *g)
{
	size_t n;
	train_report rep;
	g->last_change = clock_mono();
	if (!fedgw_train_local(g, g->m.net.params, fnv1a(g->gw) ^ (uint64_t)g->last_change, &n, &rep))
		return;
	/* trained on these very windows, it must score them better than the model in use */
	double cur, cand;
	if (!fed_validate(&g->m.net, &g->net, g->x, n, 1.0, &cur, &cand) || !(cand < cur)) {
		atomic_fetch_add(&g->n_refused, 1);
		LOG_WARN("federated: local retraining refused: mean score %.4g on its %zu windows, "
			 "%.4g with the model in use", cand, n, cur);
		return;
	}
	memcpy(g->cand, g->net.params, g->m.net.n_params * sizeof *g->cand);
	atomic_fetch_add(&g->n_local, 1);
	LOG_INFO("federated: retrained locally on %zu windows (no global model for %.0f s): mean "
		 "score %.4g -> %.4g", n, g->cfg->fed_local_interval, cur, cand);
	fedgw_swap_in(g, g->cand, g->m.version + 1, "local model");
}

static void *worker(void *arg)
{
	fedgw *g = arg;
	while (!atomic_load(&g->stop)) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		size_t len = 0;
		pthread_mutex_lock(&g->lock);
		if (!g->have_pending)
			pthread_cond_timedwait(&g->cond, &g->lock, &until);
		if (g->have_pending) {
			memcpy(g->work, g->pending, g->pending_len);
			len = g->pending_len;
			g->have_pending = false;
		}
		pthread_mutex_unlock(&g->lock);
		fedgw_cal_poll(g); /* a threshold of the model in use, before a newer model */
		if (len)
			take_global(g, len);
		if (g->judge)
			judge_global(g);
		if (g->owe_update)
			fedgw_send_update(g);
		if (g->cfg->fed_local_interval > 0 &&
		    clock_mono() - g->last_change >= g->cfg->fed_local_interval)
			retrain_alone(g);
	}
	return NULL;
}

iotad_err fedgw_create(const iotad_config *cfg, const model *m0, volatile sig_atomic_t *reload_flag,
		       fedgw **out)
{
	char err[512];
	*out = NULL;
	if (m0->n_more > 0 || !fedmsg_valid_id(m0->id)) {
		LOG_ERR("federated: model %s: needs one network (not an ensemble) and an id usable in "
			"a topic", m0->id);
		return IOTAD_ERR_INVAL;
	}
	fedgw *g = calloc(1, sizeof *g);
	if (!g)
		return IOTAD_ERR_NOMEM;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->cfg = cfg;
	dp_acct_init(&g->acct);
	g->reload_flag = reload_flag;
	snprintf(g->gw, sizeof g->gw, "%.63s", cfg->fed_gateway[0] ? cfg->fed_gateway : cfg->client_id);
	iotad_err rc = model_load(cfg->model_path, &g->m, err, sizeof err);
	if (rc) {
		LOG_ERR("federated: model %s: %s", cfg->model_path, err);
		goto fail;
	}
	size_t np = g->m.net.n_params;
	int maxd = cfg->fed_max_devices;
	g->dim = (size_t)g->m.window * (size_t)g->m.n_features;
	for (g->table = 2; g->table < 2 * (size_t)maxd; g->table *= 2)
		;
	fedmsg probe = {.n_params = (uint32_t)np};
	snprintf(probe.model, sizeof probe.model, "%s", g->m.id);
	if (fedmsg_enc_parse(cfg->fed_update_encoding, &g->encoding))
		g->encoding = FEDMSG_ENC_FLOAT32; /* checked by the config parser */
	g->cap = fedmsg_size(&probe) + 2 * FEDMSG_ID_MAX + FEDMSG_INT8_EXTRA;
	rc = fed_pool_init(&g->pool, g->dim, maxd, cfg->fed_windows_per_device);
	if (!rc)
		rc = nn_init(&g->net, g->m.net.n_layers, g->m.net.sizes, g->m.net.act);
	if (!rc)
		rc = fedgw_cal_init(g);
	g->pending = malloc(g->cap);
	g->work = malloc(g->cap);
	g->ids = calloc((size_t)maxd, sizeof *g->ids);
	g->slot_of = malloc(g->table * sizeof *g->slot_of);
	g->ring = malloc((size_t)maxd * g->dim * sizeof *g->ring);
	g->seen = calloc((size_t)maxd, sizeof *g->seen);
	g->win = malloc(g->dim * sizeof *g->win);
	g->global = malloc(np * sizeof *g->global);
	g->base = malloc(np * sizeof *g->base);
	g->cand = malloc(np * sizeof *g->cand);
	g->x = malloc((size_t)maxd * (size_t)cfg->fed_windows_per_device * g->dim * sizeof *g->x);
	if (!rc && (!g->pending || !g->work || !g->ids || !g->slot_of || !g->ring || !g->seen ||
		    !g->win || !g->global || !g->base || !g->cand || !g->x))
		rc = IOTAD_ERR_NOMEM;
	if (rc)
		goto fail;
	for (size_t i = 0; i < g->table; i++)
		g->slot_of[i] = -1;
	if (fedmsg_topic_global(cfg->fed_prefix, g->m.id, g->t_global, sizeof g->t_global) ||
	    fedmsg_topic_update(cfg->fed_prefix, g->m.id, g->gw, g->t_update, sizeof g->t_update)) {
		rc = IOTAD_ERR_INVAL;
		goto fail;
	}
	char cid[CFG_STR + 8];
	snprintf(cid, sizeof cid, "%s-fl", cfg->client_id);
	const char *uris[CFG_MAX_URIS];
	for (int i = 0; i < cfg->n_broker_uris && i < CFG_MAX_URIS; i++)
		uris[i] = cfg->broker_uris[i];
	mq_opts mo = {
		.uri = cfg->broker_uri, .uris = uris, .n_uris = cfg->n_broker_uris, .client_id = cid,
		.username = cfg->username[0] ? cfg->username : NULL,
		.password = cfg->password[0] ? cfg->password : NULL,
		.keepalive = cfg->keepalive, .clean_session = true, .max_inflight = 16,
		.tls_ca_file = cfg->tls_ca_file[0] ? cfg->tls_ca_file : NULL,
		.tls_cert_file = cfg->tls_cert_file[0] ? cfg->tls_cert_file : NULL,
		.tls_key_file = cfg->tls_key_file[0] ? cfg->tls_key_file : NULL,
		.tls_no_hostname_check = !cfg->tls_verify_hostname,
		.on_message = on_message, .ud = g,
	};
	if ((rc = mq_create(&mo, &g->mq)) || (rc = mq_subscribe(g->mq, g->t_global, 1)) ||
	    (g->thr_mode == FEDCAL_GLOBAL && (rc = mq_subscribe(g->mq, g->t_thr, 1))))
		goto fail;
	g->last_change = clock_mono();
	/* the pool and its copy trained on, device rings and table, messages,
	 * four parameter blocks (global, base, candidate, scratch network) */
	size_t bytes = 2 * fed_pool_bytes(&g->pool) +
		       (size_t)maxd * (g->dim * sizeof(float) + sizeof *g->ids + sizeof *g->seen) +
		       g->dim * sizeof(float) + g->table * sizeof(int) + 2 * g->cap +
		       4 * np * sizeof(float) + fedgw_cal_bytes(g);
	LOG_INFO("federated: gateway %s of model %s on %s: up to %d devices x %d windows (%d "
		 "held out), %.1f kB, %s updates, threshold %s, personalize %s", g->gw, g->m.id,
		 g->t_global, maxd, cfg->fed_windows_per_device, g->hold.per_device, bytes / 1024.0,
		 fedmsg_enc_name(g->encoding), fedcal_mode_name(g->thr_mode),
		 fedcal_pers_name(g->pers));
	*out = g;
	return IOTAD_OK;
fail:
	fedgw_destroy(g);
	return rc;
}

iotad_err fedgw_start(fedgw *g)
{
	iotad_err rc = mq_start(g->mq);
	if (rc)
		return rc;
	if (pthread_create(&g->worker, NULL, worker, g) != 0)
		return IOTAD_ERR_NOMEM;
	g->running = true;
	return IOTAD_OK;
}

void fedgw_get_counters(fedgw *g, fedgw_counters *out)
{
	out->globals_accepted = atomic_load(&g->n_accepted);
	out->globals_refused = atomic_load(&g->n_refused);
	out->globals_invalid = atomic_load(&g->n_invalid);
	out->updates_sent = atomic_load(&g->n_sent);
	out->updates_failed = atomic_load(&g->n_failed);
	out->rounds_joined = atomic_load(&g->n_joined);
	out->local_retrains = atomic_load(&g->n_local);
	out->devices_unsampled = atomic_load(&g->n_unsampled);
}

void fedgw_fill_metrics(void *ud, met_fed *out)
{
	fedgw *g = ud;
	fedgw_counters c;
	fedgw_get_counters(g, &c);
	*out = (met_fed){.enabled = true, .rounds_joined = c.rounds_joined,
			 .updates_sent = c.updates_sent, .updates_failed = c.updates_failed,
			 .globals_accepted = c.globals_accepted, .globals_refused = c.globals_refused,
			 .globals_invalid = c.globals_invalid, .local_retrains = c.local_retrains,
			 .devices_unsampled = c.devices_unsampled, .round = atomic_load(&g->m_round),
			 .epsilon = atomic_load(&g->m_eps), .delta = atomic_load(&g->m_delta),
			 .dp_sgd = g->cfg->fed_dp_sgd_clip > 0,
			 .window_epsilon = atomic_load(&g->m_window_eps),
			 .threshold = atomic_load(&g->m_thr),
			 .threshold_gateway = atomic_load(&g->m_thr_gw),
			 .threshold_global = atomic_load(&g->m_thr_global),
			 .threshold_mode = fedcal_mode_name(g->thr_mode),
			 .serving = {atomic_load(&g->n_serving[0]), atomic_load(&g->n_serving[1]),
				     atomic_load(&g->n_serving[2])}};
}

void fedgw_destroy(fedgw *g)
{
	if (!g)
		return;
	if (g->running) {
		atomic_store(&g->stop, true);
		pthread_mutex_lock(&g->lock);
		pthread_cond_signal(&g->cond);
		pthread_mutex_unlock(&g->lock);
		pthread_join(g->worker, NULL);
	}
	mq_destroy(g->mq, 2000);
	fedgw_counters c;
	fedgw_get_counters(g, &c);
	if (g->m.id[0])
		LOG_INFO("federated: %llu global models accepted, %llu refused, %llu invalid; %llu "
			 "updates sent; %llu local retrainings", (unsigned long long)c.globals_accepted,
			 (unsigned long long)c.globals_refused, (unsigned long long)c.globals_invalid,
			 (unsigned long long)c.updates_sent, (unsigned long long)c.local_retrains);
	fed_pool_free(&g->pool);
	fedgw_cal_free(g);
	nn_free(&g->net);
	model_free(&g->m);
	free(g->pending);
	free(g->work);
	free(g->ids);
	free(g->slot_of);
	free(g->ring);
	free(g->seen);
	free(g->win);
	free(g->global);
	free(g->base);
	free(g->cand);
	free(g->x);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
}
