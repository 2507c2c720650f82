/* fedgwcal.c - the gateway's held-out windows, thresholds and
 * personalization (see fedgw_int.h, docs/federated.md). A share of the
 * windows judged normal (every hold_period-th of a device) is held out and
 * never trained on. After a global model is accepted the gateway picks the
 * network to serve (federated.personalize, fedcal_personalize: the same
 * choice as the simulation's), calibrates its threshold on the held-out
 * windows (federated.threshold gateway), sends the aggregator a summary of
 * their scores under the global model, and with threshold global takes the
 * aggregator's threshold for every gateway when it comes. */
#include "fedgw_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/log.h"

/* Fewest held-out windows to calibrate a threshold on. */
#define FEDGW_MIN_HOLD 8

iotad_err fedgw_cal_init(fedgw *g)
{
	const iotad_config *cfg = g->cfg;
	if (fedcal_mode_parse(cfg->fed_threshold, &g->thr_mode))
		g->thr_mode = FEDCAL_GATEWAY; /* checked by the config parser */
	if (fedcal_pers_parse(cfg->fed_personalize, &g->pers))
		g->pers = FEDCAL_PERS_OFF;
	double h = cfg->fed_holdout > 0 ? cfg->fed_holdout : 0.2;
	g->hold_period = (int)lround(1.0 / h);
	if (g->hold_period < 2)
		g->hold_period = 2;
	int per = (int)ceil(cfg->fed_windows_per_device * h);
	iotad_err rc = fed_pool_init(&g->hold, g->dim, cfg->fed_max_devices, per > 0 ? per : 1);
	if (rc)
		return rc;
	size_t nh = (size_t)cfg->fed_max_devices * (size_t)g->hold.per_device;
	g->xh = malloc(nh * g->dim * sizeof *g->xh);
	g->scores = malloc(nh * sizeof *g->scores);
	if (!g->xh || !g->scores)
		return IOTAD_ERR_NOMEM;
	const nn *n0 = &g->m.net;
	for (int c = 0; c < 3; c++)
		if ((rc = nn_init(&g->cnet[c], n0->n_layers, n0->sizes, n0->act)))
			return rc;
	/* its own model starts as the model file's network */
	memcpy(g->cnet[FEDCAL_PICK_OWN].params, n0->params, n0->n_params * sizeof *n0->params);
	if (fedcal_topic_calib(cfg->fed_prefix, g->m.id, g->gw, g->t_calib, sizeof g->t_calib) ||
	    fedcal_topic_threshold(cfg->fed_prefix, g->m.id, g->t_thr, sizeof g->t_thr))
		return IOTAD_ERR_INVAL;
	atomic_store(&g->m_thr, (double)g->m.threshold);
	return IOTAD_OK;
}

void fedgw_cal_free(fedgw *g)
{
	fed_pool_free(&g->hold);
	for (int c = 0; c < 3; c++)
		nn_free(&g->cnet[c]);
	free(g->xh);
	free(g->scores);
	g->xh = g->scores = NULL;
}

size_t fedgw_cal_bytes(const fedgw *g)
{
	size_t nh = (size_t)g->hold.max_devices * (size_t)g->hold.per_device;
	return 2 * fed_pool_bytes(&g->hold) + nh * sizeof(float) +
	       3 * g->m.net.n_params * sizeof(float);
}

void fedgw_cal_offer(fedgw *g, int d, const float *win)
{
	uint64_t k = g->pool.offered[d] + g->hold.offered[d];
	if (k % (uint64_t)g->hold_period == (uint64_t)g->hold_period - 1)
		fed_pool_offer_at(&g->hold, d, win);
	else
		fed_pool_offer_at(&g->pool, d, win);
}

void fedgw_cal_message(fedgw *g, const void *payload, size_t len)
{
	pthread_mutex_lock(&g->lock);
	if (len < sizeof g->thr_msg) {
		memcpy(g->thr_msg, payload, len);
		g->thr_len = len;
		g->have_thr = true;
	}
	pthread_mutex_unlock(&g->lock);
	if (len >= sizeof g->thr_msg)
		LOG_RATELIMITED(LOG_WARN, "federated: threshold message of %zu bytes refused", len);
}

/* Set the model's threshold and calibration scores (n sorted in g->scores). */
static void set_threshold(fedgw *g, float t, size_t n)
{
	if (n > 0 && n <= MODEL_MAX_CALIB) {
		float *c = malloc(n * sizeof *c);
		if (c) {
			memcpy(c, g->scores, n * sizeof *c);
			free(g->m.calib);
			g->m.calib = c;
			g->m.n_calib = (int)n;
		}
	}
	g->m.threshold = t;
	atomic_store(&g->m_thr, (double)t);
}

/* The aggregator's threshold, if it is of the global model accepted last
 * and that model is served: swapped in. */
static void apply_global(fedgw *g)
{
	if (!g->gthr_valid || !g->have_global || g->gthr.round != g->round ||
	    g->gthr.hash != g->hash)
		return;
	g->gthr_valid = false;
	atomic_store(&g->m_thr_global, (double)g->gthr.threshold);
	if (g->serving != FEDCAL_PICK_GLOBAL) {
		LOG_INFO("federated: threshold of round %u for every gateway (%.6g) not used: this "
			 "gateway serves its %s model", g->round, (double)g->gthr.threshold,
			 fedcal_pick_name(g->serving));
		return;
	}
	LOG_INFO("federated: threshold of round %u for every gateway: %.6g (was %.6g; %u gateways, "
		 "%u held-out windows)", g->round, (double)g->gthr.threshold, (double)g->m.threshold,
		 g->gthr.gateways, g->gthr.windows);
	g->m.threshold = g->gthr.threshold;
	atomic_store(&g->m_thr, (double)g->m.threshold);
	fedgw_swap_in(g, g->m.net.params, g->m.version, "threshold");
}

void fedgw_cal_poll(fedgw *g)
{
	char msg[FEDCALMSG_MAX], err[200];
	size_t len = 0;
	pthread_mutex_lock(&g->lock);
	if (g->have_thr) {
		memcpy(msg, g->thr_msg, g->thr_len);
		len = g->thr_len;
		g->have_thr = false;
	}
	pthread_mutex_unlock(&g->lock);
	if (len) {
		fedcal_global t;
		if (fedcal_global_decode(msg, len, &t, err, sizeof err) != IOTAD_OK ||
		    strcmp(t.model, g->m.id)) {
			atomic_fetch_add(&g->n_invalid, 1);
			LOG_RATELIMITED(LOG_WARN, "federated: threshold message refused: %s",
					t.model[0] && strcmp(t.model, g->m.id) ? "another model" : err);
		} else {
			g->gthr = t;
			g->gthr_valid = true;
		}
	}
	apply_global(g);
}

/* Held-out windows into g->xh; their count. */
static size_t gather_hold(fedgw *g)
{
	pthread_mutex_lock(&g->lock);
	size_t n = fed_pool_gather(&g->hold, g->xh);
	pthread_mutex_unlock(&g->lock);
	return n;
}

/* Summary of the held-out scores (sorted in g->scores) under the global
 * model, with this gateway's own threshold for it, to the aggregator. */
static void send_summary(fedgw *g, size_t n, float own)
{
	fedcal_summary s = {.round = g->round, .hash = g->hash, .windows = (uint32_t)n,
			    .threshold = own};
	snprintf(s.model, sizeof s.model, "%s", g->m.id);
	snprintf(s.gateway, sizeof s.gateway, "%s", g->gw);
	fedcal_quantiles(g->scores, n, s.q);
	char buf[FEDCALMSG_MAX];
	size_t len;
	iotad_err rc = fedcal_summary_encode(&s, buf, sizeof buf, &len);
	if (!rc)
		rc = mq_publish(g->mq, g->t_calib, buf, len, 1, false, 5000);
	if (rc)
		LOG_WARN("federated: summary of round %u not sent: %s", g->round, iotad_strerror(rc));
}

/* Its own model: trained further on the pool alone; kept if it scores
 * the held-out windows no worse than before. */
static void train_own(fedgw *g, size_t nh)
{
	size_t n;
	train_report rep;
	nn *own = &g->cnet[FEDCAL_PICK_OWN];
	if (!fedgw_train_local(g, own->params, g->round ^ 0x0abcULL, &n, &rep))
		return;
	if (fed_validate(own, &g->net, g->xh, nh, 1.0, NULL, NULL))
		memcpy(own->params, g->net.params, own->n_params * sizeof *own->params);
}

void fedgw_after_accept(fedgw *g, bool same)
{
	size_t np = g->m.net.n_params, nh = gather_hold(g);
	nn *c = g->cnet;
	memcpy(c[0].params, g->global, np * sizeof *g->global);
	const nn *cands[3] = {&c[0], NULL, NULL};
	if (g->pers == FEDCAL_PERS_FINETUNE && g->owe_update) {
		fedgw_send_update(g); /* trains from the global model into g->net */
		if (!g->owe_update) {
			memcpy(c[1].params, g->net.params, np * sizeof *g->net.params);
			cands[1] = &c[1];
		}
	}
	if (g->pers != FEDCAL_PERS_OFF) {
		train_own(g, nh);
		cands[2] = &c[2];
	}
	const float *hold[3] = {g->xh, g->xh, g->xh};
	size_t n3[3] = {nh, nh, nh};
	double means[3];
	g->serving = g->pers != FEDCAL_PERS_OFF ? fedcal_personalize(cands, hold, n3, means) :
						  FEDCAL_PICK_GLOBAL;
	atomic_fetch_add(&g->n_serving[g->serving], 1);
	const nn *serve = cands[g->serving];
	if (g->pers != FEDCAL_PERS_OFF)
		LOG_INFO("federated: round %u: serving the %s model (mean score on %zu held-out "
			 "windows: global %.4g, fine-tuned %.4g, own %.4g)", g->round,
			 fedcal_pick_name(g->serving), nh, means[0], means[1], means[2]);
	bool recal = g->thr_mode != FEDCAL_MODEL && nh >= FEDGW_MIN_HOLD;
	if (g->thr_mode != FEDCAL_MODEL && !recal)
		LOG_INFO("federated: round %u: %zu held-out windows, fewer than %d: threshold kept",
			 g->round, nh, FEDGW_MIN_HOLD);
	/* the summary goes with any held-out window: the aggregator weighs it by
	 * its windows; calibrating this gateway's own threshold needs more */
	if (g->thr_mode != FEDCAL_MODEL && nh > 0 &&
	    fedcal_scores(&c[0], g->xh, nh, g->scores) == IOTAD_OK) {
		float own = fedcal_percentile(g->scores, nh, g->m.percentile);
		send_summary(g, nh, own);
		if (recal && g->serving != FEDCAL_PICK_GLOBAL &&
		    fedcal_scores(serve, g->xh, nh, g->scores) != IOTAD_OK)
			recal = false;
		if (recal) {
			float t = fedcal_percentile(g->scores, nh, g->m.percentile);
			atomic_store(&g->m_thr_gw, (double)t);
			LOG_INFO("federated: round %u: threshold of this gateway %.6g (percentile %g of "
				 "%zu held-out windows; was %.6g)%s", g->round, (double)t,
				 (double)g->m.percentile, nh, (double)g->m.threshold,
				 g->thr_mode == FEDCAL_GLOBAL && g->serving == FEDCAL_PICK_GLOBAL ?
					 ", until the aggregator's comes" : "");
			set_threshold(g, t, nh);
		}
	} else {
		recal = false;
	}
	if (!same || g->serving != FEDCAL_PICK_GLOBAL || recal)
		fedgw_swap_in(g, serve->params, (int)g->round,
			      g->serving == FEDCAL_PICK_GLOBAL ? "global model" : "personalized model");
	apply_global(g);
}
