/* eval_metrics.c - row-level detection quality of a replay: confusion
 * counts, rates, detection delay, and the areas under the ROC and
 * precision-recall curves of raw scores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/eval.h"

void eval_count(eval_counts *c, bool truth, bool pred)
{
	if (truth)
		*(pred ? &c->tp : &c->fn) += 1;
	else
		*(pred ? &c->fp : &c->tn) += 1;
}

void eval_counts_merge(eval_counts *into, const eval_counts *c)
{
	into->tp += c->tp;
	into->fp += c->fp;
	into->fn += c->fn;
	into->tn += c->tn;
}

static double eval_ratio(uint64_t num, uint64_t den)
{
	return den ? (double)num / (double)den : NAN;
}

void eval_rates_from(const eval_counts *c, eval_rates *r)
{
	r->precision = eval_ratio(c->tp, c->tp + c->fp);
	r->recall = eval_ratio(c->tp, c->tp + c->fn);
	r->f1 = eval_ratio(2 * c->tp, 2 * c->tp + c->fp + c->fn);
	r->far = eval_ratio(c->fp, c->fp + c->tn);
	r->mar = eval_ratio(c->fn, c->fn + c->tp);
}

void eval_delay_step(eval_delay_state *s, eval_delays *acc, bool truth, bool pred)
{
	if (!truth) {
		s->in_seg = false;
		return;
	}
	if (!s->in_seg) {
		s->in_seg = true;
		s->found = false;
		s->since = 0;
		acc->segments++;
	}
	if (!s->found && pred) {
		s->found = true;
		acc->detected++;
		acc->sum += (double)s->since;
	}
	s->since++;
}

double eval_delay_mean(const eval_delays *d)
{
	return d->detected ? d->sum / (double)d->detected : NAN;
}

typedef struct eval_pair {
	float s;
	uint8_t y;
} eval_pair;

/* Descending score; NaN sorts as +inf (judged anomalous by the threshold). */
static int eval_cmp_pair(const void *pa, const void *pb)
{
	float a = ((const eval_pair *)pa)->s, b = ((const eval_pair *)pb)->s;
	return (a < b) - (a > b);
}

/* Sorted (score, label) pairs and the class sizes; NULL on no memory. */
static eval_pair *eval_sorted(const float *score, const uint8_t *label, size_t n, size_t *pos,
			      size_t *neg)
{
	eval_pair *p = malloc((n ? n : 1) * sizeof *p);
	if (!p)
		return NULL;
	*pos = 0;
	for (size_t i = 0; i < n; i++) {
		p[i].s = isnan(score[i]) ? INFINITY : score[i];
		p[i].y = label[i] != 0;
		*pos += p[i].y;
	}
	*neg = n - *pos;
	qsort(p, n, sizeof *p, eval_cmp_pair);
	return p;
}

/* Walk groups of tied scores from the highest: both areas at once. */
static iotad_err eval_areas(const float *score, const uint8_t *label, size_t n, double *roc,
			    double *pr)
{
	size_t P, N;
	*roc = *pr = NAN;
	if (!score || !label)
		return IOTAD_ERR_INVAL;
	eval_pair *p = eval_sorted(score, label, n, &P, &N);
	if (!p)
		return IOTAD_ERR_NOMEM;
	if (P == 0 || N == 0) {
		free(p);
		return IOTAD_ERR_INVAL;
	}
	double wins = 0.0, ap = 0.0;
	size_t tp = 0, fp = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i, gp = 0, gn = 0;
		while (j < n && p[j].s == p[i].s) {
			gp += p[j].y;
			gn += !p[j].y;
			j++;
		}
		/* positives of this group beat the negatives below, tie with gn */
		wins += (double)gp * ((double)(N - fp - gn) + 0.5 * (double)gn);
		tp += gp;
		fp += gn;
		if (gp)
			ap += (double)gp / (double)P * (double)tp / (double)(tp + fp);
		i = j;
	}
	free(p);
	*roc = wins / ((double)P * (double)N);
	*pr = ap;
	return IOTAD_OK;
}

iotad_err eval_roc_auc(const float *score, const uint8_t *label, size_t n, double *out)
{
	double pr;
	return eval_areas(score, label, n, out, &pr);
}

iotad_err eval_pr_auc(const float *score, const uint8_t *label, size_t n, double *out)
{
	double roc;
	return eval_areas(score, label, n, &roc, out);
}

iotad_err eval_roc_curve(const float *score, const uint8_t *label, size_t n, double **fpr,
			 double **tpr, size_t *n_pts)
{
	size_t P, N;
	*fpr = *tpr = NULL;
	*n_pts = 0;
	if (!score || !label)
		return IOTAD_ERR_INVAL;
	eval_pair *p = eval_sorted(score, label, n, &P, &N);
	double *x = malloc((n + 1) * sizeof *x), *y = malloc((n + 1) * sizeof *y);
	if (!p || !x || !y || P == 0 || N == 0) {
		iotad_err rc = p && x && y ? IOTAD_ERR_INVAL : IOTAD_ERR_NOMEM;
		free(p);
		free(x);
		free(y);
		return rc;
	}
	size_t k = 0, tp = 0, fp = 0;
	x[k] = y[k] = 0.0;
	k++;
	for (size_t i = 0; i < n; i++) {
		tp += p[i].y;
		fp += !p[i].y;
		if (i + 1 == n || p[i + 1].s != p[i].s) {
			x[k] = (double)fp / (double)N;
			y[k] = (double)tp / (double)P;
			k++;
		}
	}
	free(p);
	*fpr = x;
	*tpr = y;
	*n_pts = k;
	return IOTAD_OK;
}
