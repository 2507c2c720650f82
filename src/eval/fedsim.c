/* fedsim.c - federated rounds simulated in process on labelled files (see
 * fedsim.h). Windows are cut from each file's training rows as train_model
 * cuts them: the first ones train, the last holdout share (after a gap of
 * window - 1) calibrates. */
#include "iotad/fedsim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/dpacct.h"
#include "iotad/fedcal.h"
#include "iotad/fedmsg.h"
#include "iotad/train.h"

void fedsim_opts_default(fedsim_opts *o)
{
	eval_opts_default(&o->eval);
	o->n_features = 0;
	o->n_warm = 400;
	o->rounds = 20;
	o->local_epochs = 2;
	fed_opts_default(&o->agg);
	o->personalize = FEDCAL_PERS_OFF;
}

/* One gateway's windows, normalized by a model: train and held out. */
typedef struct gw_windows {
	float *train, *hold;   /* n_train, n_hold windows of d floats */
	size_t n_train, n_hold;
	float *scores;         /* n_hold: held-out scores under the model of the round */
} gw_windows;

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* The training rows of every gateway (or of gateway only, if >= 0) one
 * segment a file; caller frees *rows and *seg. */
static iotad_err gather_rows(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw, long only,
			     float **rows, size_t **seg, size_t *n_rows, size_t *n_seg)
{
	size_t nr = 0, ns = 0, f = (size_t)o->n_features;
	for (size_t g = 0; g < n_gw; g++)
		for (size_t k = 0; k < gws[g].n_files; k++)
			if (only < 0 || (size_t)only == g) {
				nr += gws[g].files[k].n_rows < o->n_warm ? gws[g].files[k].n_rows : o->n_warm;
				ns++;
			}
	*rows = malloc((nr ? nr : 1) * f * sizeof **rows);
	*seg = malloc((ns ? ns : 1) * sizeof **seg);
	if (!*rows || !*seg)
		return IOTAD_ERR_NOMEM;
	nr = ns = 0;
	for (size_t g = 0; g < n_gw; g++)
		for (size_t k = 0; k < gws[g].n_files; k++) {
			const fedsim_file *fl = &gws[g].files[k];
			if (only >= 0 && (size_t)only != g)
				continue;
			size_t n = fl->n_rows < o->n_warm ? fl->n_rows : o->n_warm;
			memcpy(*rows + nr * f, fl->rows, n * f * sizeof **rows);
			nr += n;
			(*seg)[ns++] = n;
		}
	*n_rows = nr;
	*n_seg = ns;
	return IOTAD_OK;
}

static iotad_err fit_on(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw, long only,
			int epochs, eval_scorer **out, char *err, size_t errlen)
{
	float *rows = NULL;
	size_t *seg = NULL, nr, ns;
	iotad_err rc = gather_rows(o, gws, n_gw, only, &rows, &seg, &nr, &ns);
	if (rc == IOTAD_OK) {
		eval_opts e = o->eval;
		e.train.epochs = epochs;
		e.train.drift_max = 0; /* the columns are chosen up front, the same for everyone */
		e.train.dp_clip = e.train.dp_noise = 0;
		e.int8 = false;
		rc = eval_fit(&e, rows, nr, o->n_features, seg, ns, out, err, errlen);
	}
	free(rows);
	free(seg);
	return rc;
}

/* Cut gateway g's windows under m's normalization. */
static iotad_err cut_windows(const fedsim_opts *o, const fedsim_gw *gw, const model *m,
			     gw_windows *out)
{
	size_t f = (size_t)o->n_features, w = (size_t)m->window, d = w * f;
	size_t cap = 0;
	for (size_t k = 0; k < gw->n_files; k++)
		cap += gw->files[k].n_rows < o->n_warm ? gw->files[k].n_rows : o->n_warm;
	float *x = malloc((cap ? cap : 1) * f * sizeof *x);
	out->train = malloc((cap ? cap : 1) * d * sizeof *out->train);
	out->hold = malloc((cap ? cap : 1) * d * sizeof *out->hold);
	out->scores = malloc((cap ? cap : 1) * sizeof *out->scores);
	out->n_train = out->n_hold = 0;
	if (!x || !out->train || !out->hold || !out->scores) {
		free(x);
		return IOTAD_ERR_NOMEM;
	}
	for (size_t k = 0; k < gw->n_files; k++) {
		const fedsim_file *fl = &gw->files[k];
		size_t n = fl->n_rows < o->n_warm ? fl->n_rows : o->n_warm;
		for (size_t i = 0; i < n; i++)
			model_normalize(m, fl->rows + i * f, x + i * f);
		size_t nw = n >= w ? n - w + 1 : 0;
		size_t nc = (size_t)floor((double)o->eval.train.holdout * (double)nw);
		size_t nt = nc > 0 && nw > nc + (w - 1) ? nw - nc - (w - 1) : nw;
		if (nt == nw)
			nc = 0;
		for (size_t i = 0; i < nt; i++)
			memcpy(out->train + (out->n_train++) * d, x + i * f, d * sizeof *x);
		for (size_t i = nw - nc; i < nw; i++)
			memcpy(out->hold + (out->n_hold++) * d, x + i * f, d * sizeof *x);
	}
	free(x);
	return IOTAD_OK;
}

/* Replay gateway g's files with s; add the alert counts to *c. */
static iotad_err replay_gw(const fedsim_opts *o, eval_scorer *s, const fedsim_gw *gw,
			   eval_counts *c, char *err, size_t errlen)
{
	for (size_t k = 0; k < gw->n_files; k++) {
		const fedsim_file *fl = &gw->files[k];
		eval_data d = {.rows = fl->rows, .n_rows = fl->n_rows, .n_features = o->n_features,
			       .label = fl->label,
			       .n_warm = fl->n_rows < o->n_warm ? fl->n_rows : o->n_warm};
		eval_result r = {0};
		iotad_err rc = eval_replay(s, &d, &r, err, errlen);
		if (rc == IOTAD_OK)
			eval_counts_merge(c, &r.c_alert);
		eval_result_free(&r);
		if (rc)
			return rc;
	}
	return IOTAD_OK;
}

/* Each gateway's normalization (norm_per_gw). */
typedef struct gw_norm {
	float a[MODEL_MAX_FEATURES], b[MODEL_MAX_FEATURES];
} gw_norm;

/* Score every gateway's held-out windows with the network params (of m's
 * shape), calibrate globally and per gateway, replay every file both ways;
 * norm (n_gw, may be NULL): each gateway's normalization. */
static iotad_err calibrate_replay_norm(const fedsim_opts *o, eval_scorer *s, const float *params,
				       const fedsim_gw *gws, gw_windows *gw, const gw_norm *norm,
				       size_t n_gw, fedsim_counts *total, fedsim_counts *per,
				       char *err, size_t errlen)
{
	const model *m = eval_scorer_model(s);
	size_t d = (size_t)m->net.sizes[0], n_all = 0;
	float *scratch = malloc(model_scratch_floats(m) * sizeof *scratch);
	if (!scratch)
		return IOTAD_ERR_NOMEM;
	/* score with the round's network: set it first, threshold for now */
	iotad_err rc = eval_scorer_set_net(s, params, m->net.n_params, 1.0f, NULL, 0, NULL, NULL);
	for (size_t g = 0; rc == IOTAD_OK && g < n_gw; g++) {
		for (size_t i = 0; i < gw[g].n_hold; i++)
			gw[g].scores[i] = model_score(m, gw[g].hold + i * d, scratch, NULL, NULL);
		qsort(gw[g].scores, gw[g].n_hold, sizeof *gw[g].scores, cmp_float);
		n_all += gw[g].n_hold;
	}
	free(scratch);
	float *all = malloc((n_all ? n_all : 1) * sizeof *all);
	if (!all)
		return IOTAD_ERR_NOMEM;
	n_all = 0;
	for (size_t g = 0; g < n_gw; g++) {
		memcpy(all + n_all, gw[g].scores, gw[g].n_hold * sizeof *all);
		n_all += gw[g].n_hold;
	}
	qsort(all, n_all, sizeof *all, cmp_float);
	float pct = o->eval.train.percentile, tg = fedcal_percentile(all, n_all, pct);
	int nc = n_all < MODEL_MAX_CALIB ? (int)n_all : 0;
	memset(total, 0, sizeof *total);
	for (size_t g = 0; rc == IOTAD_OK && g < n_gw; g++) {
		memset(&per[g], 0, sizeof per[g]);
		rc = eval_scorer_set_net(s, params, m->net.n_params, tg, all, nc,
					 norm ? norm[g].a : NULL, norm ? norm[g].b : NULL);
		if (rc == IOTAD_OK)
			rc = replay_gw(o, s, &gws[g], &per[g].global, err, errlen);
		eval_counts_merge(&total->global, &per[g].global);
	}
	for (size_t g = 0; rc == IOTAD_OK && g < n_gw; g++) {
		rc = eval_scorer_set_net(s, params, m->net.n_params,
					 fedcal_percentile(gw[g].scores, gw[g].n_hold, pct), gw[g].scores,
					 gw[g].n_hold < MODEL_MAX_CALIB ? (int)gw[g].n_hold : 0,
					 norm ? norm[g].a : NULL, norm ? norm[g].b : NULL);
		if (rc == IOTAD_OK)
			rc = replay_gw(o, s, &gws[g], &per[g].per_gw, err, errlen);
		eval_counts_merge(&total->per_gw, &per[g].per_gw);
	}
	free(all);
	return rc;
}

static void free_windows(gw_windows *gw, size_t n)
{
	for (size_t g = 0; gw && g < n; g++) {
		free(gw[g].train);
		free(gw[g].hold);
		free(gw[g].scores);
	}
	free(gw);
}

static iotad_err check_args(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw, char *err,
			    size_t errlen)
{
	if (!o || !gws || n_gw == 0 || n_gw > FED_MAX_CLIENTS || o->n_features < 1 ||
	    o->eval.kind != EVAL_AE || o->rounds < 1 || o->local_epochs < 1) {
		snprintf(err, errlen, "fedsim: 1..%d gateways, features, rounds and local epochs "
			 "> 0 and the autoencoder", FED_MAX_CLIENTS);
		return IOTAD_ERR_INVAL;
	}
	for (size_t g = 0; g < n_gw; g++)
		if (gws[g].n_files == 0) {
			snprintf(err, errlen, "fedsim: gateway %zu has no file", g);
			return IOTAD_ERR_INVAL;
		}
	return IOTAD_OK;
}

/* Pooled (only < 0, one model) or local (one model a gateway) counts. */
static iotad_err fit_replay(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw, bool local,
			    fedsim_counts *total, fedsim_counts *per, char *err, size_t errlen)
{
	iotad_err rc = check_args(o, gws, n_gw, err, errlen);
	if (rc)
		return rc;
	memset(total, 0, sizeof *total);
	fedsim_counts *pc = calloc(n_gw, sizeof *pc);
	gw_windows *gw = calloc(n_gw, sizeof *gw);
	eval_scorer *s = NULL;
	if (!pc || !gw)
		rc = IOTAD_ERR_NOMEM;
	if (!local && rc == IOTAD_OK)
		rc = fit_on(o, gws, n_gw, -1, o->eval.train.epochs, &s, err, errlen);
	for (size_t g = 0; rc == IOTAD_OK && g < n_gw; g++) {
		if (local) {
			eval_scorer_destroy(s);
			s = NULL;
			if ((rc = fit_on(o, gws, n_gw, (long)g, o->eval.train.epochs, &s, err, errlen)))
				break;
			/* its own calibration: both ways the same */
			rc = replay_gw(o, s, &gws[g], &pc[g].global, err, errlen);
			pc[g].per_gw = pc[g].global;
		} else {
			rc = replay_gw(o, s, &gws[g], &pc[g].global, err, errlen);
			if (rc == IOTAD_OK)
				rc = cut_windows(o, &gws[g], eval_scorer_model(s), &gw[g]);
		}
		eval_counts_merge(&total->global, &pc[g].global);
		eval_counts_merge(&total->per_gw, &pc[g].per_gw);
	}
	if (!local && rc == IOTAD_OK) {
		/* per gateway: the pooled network recalibrated on each gateway's windows */
		const model *m = eval_scorer_model(s);
		float *params = malloc(m->net.n_params * sizeof *params);
		fedsim_counts t2, *p2 = calloc(n_gw, sizeof *p2);
		if (!params || !p2)
			rc = IOTAD_ERR_NOMEM;
		if (rc == IOTAD_OK) {
			memcpy(params, m->net.params, m->net.n_params * sizeof *params);
			rc = calibrate_replay_norm(o, s, params, gws, gw, NULL, n_gw, &t2, p2, err,
						   errlen);
		}
		for (size_t g = 0; rc == IOTAD_OK && g < n_gw; g++)
			pc[g].per_gw = p2[g].per_gw;
		if (rc == IOTAD_OK)
			total->per_gw = t2.per_gw;
		free(params);
		free(p2);
	}
	if (rc == IOTAD_OK && per)
		memcpy(per, pc, n_gw * sizeof *pc);
	eval_scorer_destroy(s);
	free_windows(gw, n_gw);
	free(pc);
	return rc;
}

iotad_err fedsim_pooled(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw,
			fedsim_counts *total, fedsim_counts *gw_counts, char *err, size_t errlen)
{
	return fit_replay(o, gws, n_gw, false, total, gw_counts, err, errlen);
}

iotad_err fedsim_local(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw,
		       fedsim_counts *total, fedsim_counts *gw_counts, char *err, size_t errlen)
{
	return fit_replay(o, gws, n_gw, true, total, gw_counts, err, errlen);
}

/* Bytes of one round on the wire: every update up and the global model
 * down to every gateway (payloads; MQTT adds a few bytes and the topic). */
static size_t round_bytes(size_t n_gw, size_t n_params, bool dp)
{
	fedmsg u = {.kind = FEDMSG_UPDATE, .n_params = (uint32_t)n_params};
	snprintf(u.model, sizeof u.model, "skab-ae");
	fedmsg g = u;
	g.kind = FEDMSG_GLOBAL;
	g.dp_delta = dp ? 1e-5f : 0;
	snprintf(g.sender, sizeof g.sender, "aggregator");
	size_t total = 0;
	for (size_t k = 0; k < n_gw; k++) {
		snprintf(u.sender, sizeof u.sender, "gw-%zu", k + 1);
		total += fedmsg_size(&u) + fedmsg_size(&g);
	}
	return total;
}

/* Each gateway's own normalization: that of a model fitted (one epoch) on
 * its training rows alone. */
static iotad_err own_norms(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw, gw_norm *nm,
			   char *err, size_t errlen)
{
	for (size_t g = 0; g < n_gw; g++) {
		eval_scorer *sg = NULL;
		iotad_err rc = fit_on(o, gws, n_gw, (long)g, 1, &sg, err, errlen);
		if (rc)
			return rc;
		const model *mg = eval_scorer_model(sg);
		memcpy(nm[g].a, mg->norm_a, sizeof nm[g].a);
		memcpy(nm[g].b, mg->norm_b, sizeof nm[g].b);
		eval_scorer_destroy(sg);
	}
	return IOTAD_OK;
}

/* The gateways' windows under the shared normalization of m, or each its own. */
static iotad_err cut_all(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw, const model *m,
			 const gw_norm *nm, gw_windows *gw)
{
	model *mg = malloc(sizeof *mg);
	if (!mg)
		return IOTAD_ERR_NOMEM;
	iotad_err rc = IOTAD_OK;
	for (size_t g = 0; rc == IOTAD_OK && g < n_gw; g++) {
		*mg = *m; /* a shallow copy: only its normalization and window are read */
		if (nm) {
			memcpy(mg->norm_a, nm[g].a, sizeof nm[g].a);
			memcpy(mg->norm_b, nm[g].b, sizeof nm[g].b);
		}
		rc = cut_windows(o, &gws[g], mg, &gw[g]);
	}
	free(mg);
	return rc;
}

/* The central baseline: net trained on every gateway's training windows
 * together for rounds x local_epochs epochs. */
static iotad_err train_central(const fedsim_opts *o, nn *net, const gw_windows *gw, size_t n_gw)
{
	size_t d = (size_t)net->sizes[0], n = 0;
	for (size_t g = 0; g < n_gw; g++)
		n += gw[g].n_train;
	float *x = malloc((n ? n : 1) * d * sizeof *x);
	if (!x)
		return IOTAD_ERR_NOMEM;
	n = 0;
	for (size_t g = 0; g < n_gw; g++) {
		memcpy(x + n * d, gw[g].train, gw[g].n_train * d * sizeof *x);
		n += gw[g].n_train;
	}
	train_opts t = o->eval.train;
	t.epochs = o->rounds * o->local_epochs;
	t.dp_clip = t.dp_noise = 0;
	iotad_err rc = n ? train_fit(net, x, n, &t, NULL) : IOTAD_ERR_INVAL;
	free(x);
	return rc;
}

/* Each gateway's own local model (fedsim_local's) for personalization:
 * its network, its held-out windows under its normalization, and its
 * counts replayed with its own calibration. */
typedef struct gw_own {
	nn net;
	gw_windows w;
	eval_counts counts;
} gw_own;

static void free_own(gw_own *ow, size_t n)
{
	for (size_t g = 0; ow && g < n; g++) {
		nn_free(&ow[g].net);
		free(ow[g].w.train);
		free(ow[g].w.hold);
		free(ow[g].w.scores);
	}
	free(ow);
}

static iotad_err own_models(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw, gw_own *ow,
			    char *err, size_t errlen)
{
	iotad_err rc = IOTAD_OK;
	for (size_t g = 0; rc == IOTAD_OK && g < n_gw; g++) {
		eval_scorer *sg = NULL;
		if ((rc = fit_on(o, gws, n_gw, (long)g, o->eval.train.epochs, &sg, err, errlen)))
			return rc;
		const model *mg = eval_scorer_model(sg);
		rc = nn_init(&ow[g].net, mg->net.n_layers, mg->net.sizes, mg->net.act);
		if (rc == IOTAD_OK) {
			memcpy(ow[g].net.params, mg->net.params, mg->net.n_params * sizeof(float));
			rc = cut_windows(o, &gws[g], mg, &ow[g].w);
		}
		if (rc == IOTAD_OK)
			rc = replay_gw(o, sg, &gws[g], &ow[g].counts, err, errlen);
		eval_scorer_destroy(sg);
	}
	return rc;
}

/* After round fr: each gateway picks the global model, the global model
 * fine-tuned on its training windows (tuned: scratch network) or its own,
 * on its held-out windows; the pick is replayed with its own threshold. */
static iotad_err personalize(const fedsim_opts *o, eval_scorer *s, const nn *global, nn *tuned,
			     const fedsim_gw *gws, gw_windows *gw, const gw_norm *nm,
			     const gw_own *ow, size_t n_gw, int r, fedsim_round *fr, char *err,
			     size_t errlen)
{
	memset(&fr->total.pers, 0, sizeof fr->total.pers);
	memset(fr->n_picked, 0, sizeof fr->n_picked);
	train_opts t = o->eval.train;
	t.epochs = o->local_epochs;
	t.dp_clip = t.dp_noise = 0;
	size_t np = global->n_params;
	iotad_err rc = IOTAD_OK;
	for (size_t g = 0; rc == IOTAD_OK && g < n_gw; g++) {
		bool tune = o->personalize == FEDCAL_PERS_FINETUNE && gw[g].n_train > 0;
		if (tune) {
			memcpy(tuned->params, global->params, np * sizeof *tuned->params);
			t.seed = (o->eval.train.seed * 1000003u + (uint64_t)r * n_gw + g) ^ 0x7e57ULL;
			if ((rc = train_fit(tuned, gw[g].train, gw[g].n_train, &t, NULL)))
				break;
		}
		const nn *cands[3] = {global, tune ? tuned : NULL, &ow[g].net};
		const float *hold[3] = {gw[g].hold, gw[g].hold, ow[g].w.hold};
		size_t nh[3] = {gw[g].n_hold, gw[g].n_hold, ow[g].w.n_hold};
		fedcal_pick p = fedcal_personalize(cands, hold, nh, NULL);
		fr->pick[g] = (uint8_t)p;
		fr->n_picked[p]++;
		eval_counts *c = &fr->gw[g].pers;
		if (p == FEDCAL_PICK_GLOBAL) {
			*c = fr->gw[g].per_gw;
		} else if (p == FEDCAL_PICK_OWN) {
			*c = ow[g].counts;
		} else {
			memset(c, 0, sizeof *c);
			rc = fedcal_scores(tuned, gw[g].hold, gw[g].n_hold, gw[g].scores);
			float thr = fedcal_percentile(gw[g].scores, gw[g].n_hold,
						      o->eval.train.percentile);
			if (rc == IOTAD_OK)
				rc = eval_scorer_set_net(s, tuned->params, np, thr, gw[g].scores,
							 gw[g].n_hold < MODEL_MAX_CALIB ? (int)gw[g].n_hold : 0,
							 nm ? nm[g].a : NULL, nm ? nm[g].b : NULL);
			if (rc == IOTAD_OK)
				rc = replay_gw(o, s, &gws[g], c, err, errlen);
		}
		eval_counts_merge(&fr->total.pers, c);
	}
	return rc;
}

iotad_err fedsim_run(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw, double delta,
		     fedsim_round *rounds, fedsim_counts *gw_rows, fedsim_counts *central,
		     fedsim_counts *central_gw, char *err, size_t errlen)
{
	return fedsim_run_pers(o, gws, n_gw, delta, rounds, gw_rows, NULL, central, central_gw,
			       err, errlen);
}

iotad_err fedsim_run_pers(const fedsim_opts *o, const fedsim_gw *gws, size_t n_gw, double delta,
			  fedsim_round *rounds, fedsim_counts *gw_rows, uint8_t *picks,
			  fedsim_counts *central, fedsim_counts *central_gw, char *err,
			  size_t errlen)
{
	iotad_err rc = check_args(o, gws, n_gw, err, errlen);
	if (rc)
		return rc;
	if (o->personalize != FEDCAL_PERS_OFF && !picks) {
		snprintf(err, errlen, "fedsim: personalization needs an array for the picks");
		return IOTAD_ERR_INVAL;
	}
	gw_own *ow = o->personalize != FEDCAL_PERS_OFF ? calloc(n_gw, sizeof *ow) : NULL;
	if (o->personalize != FEDCAL_PERS_OFF && !ow)
		return IOTAD_ERR_NOMEM;
	eval_scorer *s = NULL;
	/* shape and normalization only: one epoch, then fresh weights */
	if ((rc = fit_on(o, gws, n_gw, -1, 1, &s, err, errlen)))
		return rc;
	const model *m = eval_scorer_model(s);
	nn global = {0}, local = {0};
	gw_windows *gw = calloc(n_gw, sizeof *gw);
	gw_norm *nm = o->norm_per_gw ? calloc(n_gw, sizeof *nm) : NULL;
	size_t np = m->net.n_params;
	float *cl = malloc(n_gw * np * sizeof *cl), *next = malloc(np * sizeof *next);
	fed_client *c = malloc(n_gw * sizeof *c);
	fedsim_counts *cg = calloc(n_gw, sizeof *cg);
	if (!gw || !cl || !next || !c || !cg || (o->norm_per_gw && !nm))
		rc = IOTAD_ERR_NOMEM;
	if (rc == IOTAD_OK && nm)
		rc = own_norms(o, gws, n_gw, nm, err, errlen);
	if (rc == IOTAD_OK && !(rc = nn_init(&global, m->net.n_layers, m->net.sizes, m->net.act)))
		rc = nn_init(&local, m->net.n_layers, m->net.sizes, m->net.act);
	if (rc == IOTAD_OK)
		rc = cut_all(o, gws, n_gw, m, nm, gw);
	if (rc == IOTAD_OK && ow)
		rc = own_models(o, gws, n_gw, ow, err, errlen);
	if (rc == IOTAD_OK && central) {
		nn_init_weights(&local, o->eval.train.seed);
		rc = train_central(o, &local, gw, n_gw);
		if (rc == IOTAD_OK)
			rc = calibrate_replay_norm(o, s, local.params, gws, gw, nm, n_gw, central, cg,
						   err, errlen);
		if (rc == IOTAD_OK && central_gw)
			memcpy(central_gw, cg, n_gw * sizeof *cg);
	}
	if (rc == IOTAD_OK)
		nn_init_weights(&global, o->eval.train.seed);
	train_opts t = o->eval.train;
	t.epochs = o->local_epochs;
	dp_acct *acct = calloc(n_gw, sizeof *acct);
	if (!acct && rc == IOTAD_OK)
		rc = IOTAD_ERR_NOMEM;
	for (size_t g = 0; acct && g < n_gw; g++)
		dp_acct_init(&acct[g]);
	for (int r = 0; rc == IOTAD_OK && r < o->rounds; r++) {
		size_t k = 0;
		for (size_t g = 0; rc == IOTAD_OK && g < n_gw; g++) {
			if (gw[g].n_train == 0)
				continue; /* nothing to train on: sits the round out */
			memcpy(local.params, global.params, np * sizeof *next);
			t.seed = o->eval.train.seed * 1000003u + (uint64_t)r * n_gw + g;
			t.dp_seed = t.seed ^ 0xd1ffe7e57a11ULL;
			rc = train_fit(&local, gw[g].train, gw[g].n_train, &t, NULL);
			if (t.dp_clip > 0) {
				size_t n = gw[g].n_train, steps = (n + (size_t)t.batch - 1) / (size_t)t.batch;
				double q = n > (size_t)t.batch ? (double)t.batch / (double)n : 1.0;
				dp_acct_add(&acct[g], q, t.dp_noise, (uint64_t)steps * (uint64_t)t.epochs);
			}
			memcpy(cl + k * np, local.params, np * sizeof *cl);
			c[k] = (fed_client){cl + k * np, np, gw[g].n_train};
			k++;
		}
		fed_opts a = o->agg;
		a.noise_seed = o->eval.train.seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(r + 1));
		fed_report rep = {0};
		if (rc == IOTAD_OK)
			rc = fed_aggregate(global.params, np, c, k, &a, next, &rep, err, errlen);
		if (rc)
			break;
		memcpy(global.params, next, np * sizeof *next);
		fedsim_round *fr = &rounds[r];
		fr->round = r + 1;
		fr->gw = gw_rows + (size_t)r * n_gw;
		fr->bytes = round_bytes(n_gw, np, a.noise > 0);
		fr->max_norm = rep.max_norm;
		fr->window_epsilon = 0;
		for (size_t g = 0; t.dp_clip > 0 && g < n_gw; g++) {
			double e = dp_acct_epsilon(&acct[g], delta, NULL);
			fr->window_epsilon = e > fr->window_epsilon ? e : fr->window_epsilon;
		}
		fr->n_clipped = rep.n_clipped;
		fr->epsilon = a.noise > 0 ? dp_epsilon(1.0, a.noise, (uint64_t)r + 1, delta, NULL) : 0;
		rc = calibrate_replay_norm(o, s, global.params, gws, gw, nm, n_gw, &fr->total, fr->gw,
					   err, errlen);
		fr->pick = ow ? picks + (size_t)r * n_gw : NULL;
		if (rc == IOTAD_OK && ow)
			rc = personalize(o, s, &global, &local, gws, gw, nm, ow, n_gw, r, fr, err,
					 errlen);
	}
	free_own(ow, n_gw);
	nn_free(&global);
	nn_free(&local);
	free_windows(gw, n_gw);
	free(nm);
	free(acct);
	free(cg);
	free(cl);
	free(next);
	free(c);
	eval_scorer_destroy(s);
	return rc;
}
