/* eval.c - the causal replay of labelled rows (its row-level metrics are
 * eval_metrics.c's).
 *
 * Every detector is replayed through det_push, exactly as the service
 * feeds it: the autoencoder as the model's scorer, a baseline as a scorer
 * of one-row windows of raw values (bl_scorer), the profile without a
 * model, with the same smoothing, stuck check, threshold and alert
 * machine. A row is predicted
 * anomalous while its series' alert is raised after that row (the alert
 * machine's output, what a subscriber sees); the raw window verdict is
 * counted beside it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/clock.h"
#include "iotad/errmsg.h"
#include "iotad/eval.h"
#include "iotad/model_io.h"
#include "iotad/quantize.h"

int eval_detector_parse(const char *name, eval_detector *out)
{
	static const char *const names[] = {"ae", "zscore", "pca", "profile"};
	for (int i = 0; i < 4; i++) {
		if (name && !strcmp(name, names[i])) {
			*out = (eval_detector)i;
			return 0;
		}
	}
	return -1;
}

const char *eval_detector_name(eval_detector k)
{
	switch (k) {
	case EVAL_AE: return "ae";
	case EVAL_ZSCORE: return "zscore";
	case EVAL_PCA: return "pca";
	case EVAL_PROFILE: return "profile";
	}
	return "unknown";
}

void eval_opts_default(eval_opts *o)
{
	memset(o, 0, sizeof *o);
	o->kind = EVAL_AE;
	train_opts_default(&o->train);
	det_config_default(&o->det);
	bl_opts_default(&o->bl);
}

struct eval_scorer {
	eval_opts o;
	model m;          /* EVAL_AE: the model; baselines: their input (window 1, raw) */
	model mq;         /* EVAL_AE with int8: its int8 form */
	bool use_float;   /* replay m even if mq is there */
	baseline *bl;     /* baselines */
	det_scorer sc;    /* baselines: bl_scorer */
	int n_in;         /* columns of the rows it is given */
	int n_keep;       /* of which it reads these (drift_max leaves some out) */
	int keep[MODEL_MAX_FEATURES];
	float drift[MODEL_MAX_FEATURES];
	char names[MODEL_MAX_FEATURES][MODEL_NAME_MAX]; /* of the columns kept */
	bool remap;       /* rows are read through keep[] */
};

iotad_err eval_fit(const eval_opts *o, const float *rows, size_t n_rows, int n_features,
		   const size_t *segments, size_t n_segments, eval_scorer **out, char *err,
		   size_t errlen)
{
	if (!o || !rows || !out) {
		iotad_errf(err, errlen, "eval: invalid arguments");
		return IOTAD_ERR_INVAL;
	}
	*out = NULL;
	if (n_features < 1 || n_features > MODEL_MAX_FEATURES) {
		iotad_errf(err, errlen, "eval: %d features, expected 1..%d", n_features,
			    MODEL_MAX_FEATURES);
		return IOTAD_ERR_RANGE;
	}
	eval_scorer *s = calloc(1, sizeof *s);
	if (!s)
		return IOTAD_ERR_NOMEM;
	s->o = *o;
	s->o.names = NULL; /* borrowed: not kept */
	s->n_in = n_features;
	/* Drifting columns are left out for every kind, as train_model does. */
	iotad_err rc = IOTAD_OK;
	if (o->kind == EVAL_PROFILE && n_rows == 0) {
		/* nothing to select on: every column */
		s->n_keep = n_features;
		for (int j = 0; j < n_features; j++)
			s->keep[j] = j;
	} else {
		rc = train_drift_select(rows, n_rows, n_features, segments, n_segments,
					o->train.drift_max, s->keep, &s->n_keep, s->drift, err,
					errlen);
	}
	float *proj = NULL;
	if (rc == IOTAD_OK && s->n_keep < n_features) {
		size_t nk = (size_t)s->n_keep;
		if (!(proj = malloc(n_rows * nk * sizeof *proj))) {
			eval_scorer_destroy(s);
			return IOTAD_ERR_NOMEM;
		}
		for (size_t i = 0; i < n_rows; i++)
			for (size_t k = 0; k < nk; k++)
				proj[i * nk + k] = rows[i * (size_t)n_features + (size_t)s->keep[k]];
		rows = proj;
	}
	s->remap = s->n_keep < n_features;
	for (int j = 0; rc == IOTAD_OK && j < s->n_keep; j++) {
		if (o->names && o->names[s->keep[j]])
			snprintf(s->names[j], sizeof s->names[j], "%s", o->names[s->keep[j]]);
		else
			snprintf(s->names[j], sizeof s->names[j], "f%d", s->keep[j]);
	}
	if (rc == IOTAD_OK && o->kind == EVAL_PROFILE) {
		/* nothing to train: each device learns its own normal as it goes */
		det_config c = o->det;
		const char *why = "";
		c.n_features = (uint32_t)s->n_keep;
		for (int j = 0; j < s->n_keep; j++)
			c.features[j] = s->names[j];
		rc = det_config_check(NULL, &c, &why);
		if (rc != IOTAD_OK)
			iotad_errf(err, errlen, "eval: %s", why);
	} else if (rc == IOTAD_OK && o->kind == EVAL_AE) {
		train_opts t = o->train;
		t.segments = segments;
		t.n_segments = n_segments;
		t.drift_max = 0.0f;
		snprintf(s->m.id, sizeof s->m.id, "eval");
		s->m.version = 1;
		for (int j = 0; j < s->n_keep; j++)
			snprintf(s->m.features[j], sizeof s->m.features[j], "%s", s->names[j]);
		rc = train_model(rows, n_rows, s->n_keep, &t, &s->m, err, errlen);
		if (rc == IOTAD_OK && o->int8) {
			quant_opts qo;
			quant_opts_default(&qo);
			qo.holdout = t.holdout;
			qo.segments = segments;
			qo.n_segments = n_segments;
			rc = quant_model(&s->m, rows, n_rows, &qo, &s->mq, err, errlen);
		}
	} else if (rc == IOTAD_OK) {
		bl_opts b = o->bl;
		b.percentile = o->train.percentile;
		b.holdout = o->train.holdout;
		rc = bl_fit(o->kind == EVAL_ZSCORE ? BL_ZSCORE : BL_PCA, &b, rows, n_rows,
			    s->n_keep, segments, n_segments, &s->bl, err, errlen);
		if (rc == IOTAD_OK) {
			/* The detector's input: one raw row a window, stuck runs
			 * counted as training counts them. */
			snprintf(s->m.id, sizeof s->m.id, "eval");
			s->m.version = 1;
			for (int j = 0; j < s->n_keep; j++)
				snprintf(s->m.features[j], sizeof s->m.features[j], "%s", s->names[j]);
			s->m.n_features = s->n_keep;
			s->m.window = 1;
			s->m.stride = 1;
			s->m.norm = NORM_NONE;
			s->m.threshold = bl_threshold(s->bl);
			train_stuck_after(rows, n_rows, s->n_keep, segments, n_segments, &s->m);
			bl_scorer(s->bl, &s->sc);
		}
	}
	free(proj);
	if (rc == IOTAD_OK)
		*out = s;
	else
		eval_scorer_destroy(s);
	return rc;
}

iotad_err eval_scorer_load(const eval_opts *o, const char *path, char *const *cols, int n_cols,
			   eval_scorer **out, char *err, size_t errlen)
{
	*out = NULL;
	eval_scorer *s = calloc(1, sizeof *s);
	if (!s)
		return IOTAD_ERR_NOMEM;
	s->o = *o;
	s->o.kind = EVAL_AE;
	s->n_in = n_cols;
	iotad_err rc = model_load(path, &s->m, err, errlen);
	for (int k = 0; rc == IOTAD_OK && k < s->m.n_features; k++) {
		int j = 0;
		while (j < n_cols && strcmp(cols[j], s->m.features[k]))
			j++;
		if (j == n_cols) {
			iotad_errf(err, errlen, "%s: feature \"%s\" is not a column of the data", path,
				    s->m.features[k]);
			rc = IOTAD_ERR_NOTFOUND;
		}
		s->keep[k] = j;
		snprintf(s->names[k], sizeof s->names[k], "%s", s->m.features[k]);
	}
	s->n_keep = s->m.n_features;
	s->remap = s->n_keep < n_cols;
	for (int k = 0; k < s->n_keep; k++)
		s->remap |= s->keep[k] != k;
	if (rc == IOTAD_OK)
		*out = s;
	else
		eval_scorer_destroy(s);
	return rc;
}

void eval_scorer_destroy(eval_scorer *s)
{
	if (!s)
		return;
	model_free(&s->m);
	model_free(&s->mq);
	bl_destroy(s->bl);
	free(s);
}

float eval_scorer_threshold(const eval_scorer *s)
{
	if (s->o.kind == EVAL_PROFILE)
		return 1.0f;
	return s->bl ? bl_threshold(s->bl) : eval_scorer_model(s)->threshold;
}

const model *eval_scorer_model(const eval_scorer *s)
{
	if (s->bl || s->o.kind == EVAL_PROFILE)
		return NULL;
	return s->mq.q && !s->use_float ? &s->mq : &s->m;
}

void eval_scorer_use_float(eval_scorer *s, bool use_float)
{
	s->use_float = use_float;
}

iotad_err eval_scorer_set_net(eval_scorer *s, const float *params, size_t n_params,
			      float threshold, const float *calib, int n_calib,
			      const float *norm_a, const float *norm_b)
{
	if (!s || s->bl || s->o.kind != EVAL_AE || s->mq.q || !params ||
	    n_params != s->m.net.n_params || s->m.n_more > 0 || !(threshold > 0) || n_calib < 0 ||
	    n_calib > MODEL_MAX_CALIB || (n_calib && !calib))
		return IOTAD_ERR_INVAL;
	float *c = NULL;
	if (n_calib && !(c = malloc((size_t)n_calib * sizeof *c)))
		return IOTAD_ERR_NOMEM;
	if (n_calib)
		memcpy(c, calib, (size_t)n_calib * sizeof *c);
	memcpy(s->m.net.params, params, n_params * sizeof *params);
	free(s->m.calib);
	s->m.calib = c;
	s->m.n_calib = n_calib;
	s->m.threshold = threshold;
	if (norm_a && norm_b) {
		memcpy(s->m.norm_a, norm_a, (size_t)s->m.n_features * sizeof *norm_a);
		memcpy(s->m.norm_b, norm_b, (size_t)s->m.n_features * sizeof *norm_b);
	}
	return IOTAD_OK;
}

int eval_scorer_columns(const eval_scorer *s, const int **keep, const float **drift)
{
	if (keep)
		*keep = s->keep;
	if (drift)
		*drift = s->drift;
	return s->n_keep;
}

void eval_result_free(eval_result *r)
{
	if (!r)
		return;
	free(r->score);
	free(r->thr);
	free(r->label);
	free(r->alert);
	free(r->raw);
	free(r->stale_at);
	memset(r, 0, sizeof *r);
}

static iotad_err eval_result_grow(eval_result *r, size_t n)
{
	size_t m = n ? n : 1;
	float *sc = realloc(r->score, m * sizeof *sc);
	if (sc)
		r->score = sc;
	float *th = realloc(r->thr, m * sizeof *th);
	if (th)
		r->thr = th;
	uint8_t *la = realloc(r->label, m);
	if (la)
		r->label = la;
	uint8_t *al = realloc(r->alert, m);
	if (al)
		r->alert = al;
	uint8_t *rw = realloc(r->raw, m);
	if (rw)
		r->raw = rw;
	double *sa = realloc(r->stale_at, m * sizeof *sa);
	if (sa)
		r->stale_at = sa;
	return sc && th && la && al && rw && sa ? IOTAD_OK : IOTAD_ERR_NOMEM;
}

iotad_err eval_result_append(eval_result *dst, const eval_result *src)
{
	size_t n = dst->n + src->n;
	if (eval_result_grow(dst, n) != IOTAD_OK)
		return IOTAD_ERR_NOMEM;
	memcpy(dst->score + dst->n, src->score, src->n * sizeof *src->score);
	memcpy(dst->thr + dst->n, src->thr, src->n * sizeof *src->thr);
	memcpy(dst->label + dst->n, src->label, src->n);
	memcpy(dst->alert + dst->n, src->alert, src->n);
	memcpy(dst->raw + dst->n, src->raw, src->n);
	memcpy(dst->stale_at + dst->n, src->stale_at, src->n * sizeof *src->stale_at);
	dst->n = n;
	eval_counts_merge(&dst->c_alert, &src->c_alert);
	eval_counts_merge(&dst->c_raw, &src->c_raw);
	dst->d_alert.segments += src->d_alert.segments;
	dst->d_alert.detected += src->d_alert.detected;
	dst->d_alert.sum += src->d_alert.sum;
	dst->d_raw.segments += src->d_raw.segments;
	dst->d_raw.detected += src->d_raw.detected;
	dst->d_raw.sum += src->d_raw.sum;
	dst->n_scored += src->n_scored;
	dst->seconds += src->seconds;
	return IOTAD_OK;
}

/* Per-series replay state. */
typedef struct eval_series {
	char name[24];           /* device id given to the detector */
	uint8_t raised, verdict;
	uint8_t again;           /* the last push raised an alarm already up (a new cause) */
	float score, threshold;
	double stale_at;         /* the last push revealed a stale at this time (0: none) */
	eval_delay_state d_alert, d_raw;
} eval_series;

/* Push one row of series g; updates its state. Returns the push error. */
static iotad_err eval_push(det *d, double stale_after, eval_series *g, double ts, const float *x,
			   size_t *n_scored)
{
	det_result r;
	iotad_err rc = det_push(d, g->name, ts, x, &r);
	g->again = 0;
	if (rc != IOTAD_OK)
		return rc;
	/* a gap in the device's own time: stale from stale_after past its last sample */
	g->stale_at = r.gap ? r.gap_ts + stale_after : 0.0;
	g->threshold = r.threshold;
	if (!r.scored)
		return IOTAD_OK;
	g->score = r.score;
	g->verdict = r.anomalous;
	(*n_scored)++;
	g->again = r.event == ALERT_EV_RAISED && g->raised;
	if (r.event == ALERT_EV_RAISED)
		g->raised = 1;
	else if (r.event != ALERT_EV_NONE)
		g->raised = 0;
	return IOTAD_OK;
}

iotad_err eval_replay(eval_scorer *s, const eval_data *data, eval_result *res, char *err,
		      size_t errlen)
{
	if (!s || !data || !res || !data->rows || !data->label || data->n_warm > data->n_rows ||
	    (data->group && data->n_groups == 0)) {
		iotad_errf(err, errlen, "eval: invalid replay arguments");
		return IOTAD_ERR_INVAL;
	}
	int f = data->n_features;
	if (f != s->n_in) {
		iotad_errf(err, errlen, "eval: %d features, the detector was fitted on %d", f,
			    s->n_in);
		return IOTAD_ERR_INVAL;
	}
	float x[MODEL_MAX_FEATURES];
	memset(res, 0, sizeof *res);
	size_t ng = data->group ? data->n_groups : 1;
	size_t n = data->n_rows - data->n_warm;
	eval_series *gs = calloc(ng, sizeof *gs);
	det *d = NULL;
	iotad_err rc = gs ? eval_result_grow(res, n) : IOTAD_ERR_NOMEM;
	/* stale needs the device's own time */
	double stale = data->time ? s->o.det.stale_after : 0.0;
	if (rc == IOTAD_OK) {
		det_config cfg = s->o.det;
		cfg.stale_after = stale;
		cfg.n_features = (uint32_t)s->n_keep;
		for (int j = 0; j < s->n_keep; j++)
			cfg.features[j] = s->names[j];
		if (cfg.max_devices < ng)
			cfg.max_devices = (uint32_t)(ng < UINT32_MAX ? ng : UINT32_MAX);
		/* the profile has no model; a baseline scores in place of the network */
		/* (the autoencoder: its int8 form with int8, unless use_float) */
		const model *use = s->o.kind == EVAL_PROFILE ? NULL :
				   s->bl ? &s->m : eval_scorer_model(s);
		rc = det_create_with(use, s->bl ? &s->sc : NULL, &cfg, &d);
		if (rc != IOTAD_OK)
			iotad_errf(err, errlen, "eval: %s detector: %s", eval_detector_name(s->o.kind),
				    iotad_strerror(rc));
	}
	for (size_t g = 0; rc == IOTAD_OK && g < ng; g++) {
		snprintf(gs[g].name, sizeof gs[g].name, "s%zu", g);
		gs[g].score = -INFINITY; /* no full window yet */
	}
	for (size_t i = 0; rc == IOTAD_OK && i < data->n_rows; i++) {
		size_t g = data->group ? data->group[i] : 0;
		if (g >= ng) {
			iotad_errf(err, errlen, "eval: row %zu: series %zu of %zu", i, g, ng);
			rc = IOTAD_ERR_INVAL;
			break;
		}
		eval_series *e = &gs[g];
		double t0 = clock_mono();
		const float *row = data->rows + i * (size_t)f;
		if (s->remap) {
			for (int k = 0; k < s->n_keep; k++)
				x[k] = row[s->keep[k]];
			row = x;
		}
		rc = eval_push(d, stale, e, data->time ? data->time[i] : (double)i, row,
			       &res->n_scored);
		res->seconds += clock_mono() - t0;
		if (rc != IOTAD_OK) {
			iotad_errf(err, errlen, "eval: row %zu: %s", i, iotad_strerror(rc));
			break;
		}
		if (i < data->n_warm)
			continue;
		size_t j = res->n++;
		bool y = data->label[i] != 0;
		res->score[j] = e->score;
		res->thr[j] = e->threshold;
		res->label[j] = y;
		/* 2: raised again by a new cause (a new event for the scores) */
		res->alert[j] = e->raised ? (uint8_t)(1 + e->again) : 0;
		res->raw[j] = e->verdict;
		res->stale_at[j] = e->stale_at;
		eval_count(&res->c_alert, y, e->raised);
		eval_count(&res->c_raw, y, e->verdict);
		eval_delay_step(&e->d_alert, &res->d_alert, y, e->raised);
		eval_delay_step(&e->d_raw, &res->d_raw, y, e->verdict);
	}
	free(gs);
	det_destroy(d);
	if (rc != IOTAD_OK)
		eval_result_free(res);
	return rc;
}
