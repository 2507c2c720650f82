/* fedavg.c - aggregation of federated updates (see fedavg.h). Updates are
 * taken relative to the global model, clipped, combined coordinate by
 * coordinate in double, and added back to the global model. */
#include "iotad/fedavg.h"
#include "iotad/errmsg.h"
#include "iotad/rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fed_opts_default(fed_opts *o)
{
	o->rule = FED_MEAN;
	o->trim = 0.2f;
	o->clip = 0.0f;
	o->noise = 0.0f;
	o->noise_seed = 0;
}

int fed_rule_parse(const char *name, fed_rule *out)
{
	if (!name)
		return -1;
	if (!strcmp(name, "mean") || !strcmp(name, "fedavg"))
		*out = FED_MEAN;
	else if (!strcmp(name, "median"))
		*out = FED_MEDIAN;
	else if (!strcmp(name, "trimmed"))
		*out = FED_TRIMMED;
	else
		return -1;
	return 0;
}

const char *fed_rule_name(fed_rule r)
{
	switch (r) {
	case FED_MEAN:
		return "mean";
	case FED_MEDIAN:
		return "median";
	case FED_TRIMMED:
		return "trimmed";
	}
	return "unknown";
}

double fed_l2_dist(const float *a, const float *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - (double)b[i];
		s += d * d;
	}
	return sqrt(s);
}

static bool all_finite(const float *p, size_t n, size_t *at)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(p[i])) {
			*at = i;
			return false;
		}
	return true;
}

/* Reorder a[0..n) so that a[k] is its k-th smallest, a[0..k) <= a[k] <=
 * a(k..n) (quickselect, median of three; expected O(n)). */
static void select_kth(double *a, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		double t;
		if (a[mid] < a[lo]) {
			t = a[mid], a[mid] = a[lo], a[lo] = t;
		}
		if (a[hi] < a[lo]) {
			t = a[hi], a[hi] = a[lo], a[lo] = t;
		}
		if (a[hi] < a[mid]) {
			t = a[hi], a[hi] = a[mid], a[mid] = t;
		}
		double pivot = a[mid];
		size_t i = lo, j = hi;
		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (pivot < a[j])
				j--;
			if (i <= j) {
				t = a[i], a[i] = a[j], a[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return;
	}
}

/* Coordinate-wise median of col[0..k). */
static double median_of(double *col, size_t k)
{
	select_kth(col, k, k / 2);
	if (k % 2)
		return col[k / 2];
	double below = col[0];
	for (size_t j = 1; j < k / 2; j++)
		below = col[j] > below ? col[j] : below;
	return 0.5 * (below + col[k / 2]);
}

/* Mean of col[0..k) without its cut lowest and cut highest values. */
static double trimmed_of(double *col, size_t k, size_t cut)
{
	if (cut > 0) {
		select_kth(col, k, cut - 1);                  /* the cut lowest: col[0..cut) */
		select_kth(col + cut, k - cut, k - 2 * cut);  /* the cut highest: after k - cut */
	}
	double v = 0;
	for (size_t j = cut; j < k - cut; j++)
		v += col[j];
	return v / (double)(k - 2 * cut);
}

static iotad_err check_inputs(const float *global, size_t n, const fed_client *c, size_t k,
			      const fed_opts *o, char *err, size_t errlen)
{
	size_t at;
	if (!global || !c || !o || n == 0)
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "no global model or no clients");
	if (k == 0 || k > FED_MAX_CLIENTS)
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "%zu clients (1..%d)", k, FED_MAX_CLIENTS);
	if (o->rule != FED_MEAN && o->rule != FED_MEDIAN && o->rule != FED_TRIMMED)
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "unknown aggregation rule %d", (int)o->rule);
	if (!(o->trim >= 0.0f && o->trim < 0.5f))
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "trim %g is outside [0, 0.5)", (double)o->trim);
	if (!(o->clip >= 0.0f) || !isfinite(o->clip))
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "clip %g must be finite and >= 0", (double)o->clip);
	if (!(o->noise >= 0.0f) || !isfinite(o->noise))
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "noise %g must be finite and >= 0", (double)o->noise);
	if (o->noise > 0 && (o->rule != FED_MEAN || !(o->clip > 0)))
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "noise needs the mean rule and a clip > 0 (DP-FedAvg)");
	if (!all_finite(global, n, &at))
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "global model: parameter %zu is not finite", at);
	for (size_t j = 0; j < k; j++) {
		if (!c[j].params || c[j].n_params != n)
			return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "client %zu: %zu parameters, the model has %zu", j,
				      c[j].params ? c[j].n_params : 0, n);
		if (c[j].weight == 0 && o->rule == FED_MEAN)
			return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "client %zu: weight 0 (no windows)", j);
		if (!all_finite(c[j].params, n, &at))
			return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "client %zu: parameter %zu is not finite", j, at);
	}
	return IOTAD_OK;
}

/* Per client: the factor its update is scaled by (clipping), and the
 * report's norms. */
static void clip_scales(const float *global, size_t n, const fed_client *c, size_t k,
			const fed_opts *o, double *scale, fed_report *r)
{
	for (size_t j = 0; j < k; j++) {
		double norm = fed_l2_dist(c[j].params, global, n);
		scale[j] = 1.0;
		if (norm > r->max_norm)
			r->max_norm = (float)norm;
		if (o->clip > 0 && norm > o->clip) {
			scale[j] = o->clip / norm;
			r->n_clipped++;
		}
	}
}

/* The scaled updates as contiguous columns: cols[i * k + j] = update j of
 * coordinate i, written by blocks of coordinates so that each client's
 * parameters are read in order and the block's columns stay in cache. */
static void fill_columns(const float *global, size_t n, const fed_client *c, size_t k,
			 const double *scale, double *cols)
{
	enum { BLOCK = 64 };
	for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
		size_t i1 = i0 + BLOCK < n ? i0 + BLOCK : n;
		for (size_t j = 0; j < k; j++) {
			const float *p = c[j].params;
			double s = scale[j];
			for (size_t i = i0; i < i1; i++)
				cols[i * k + j] = ((double)p[i] - (double)global[i]) * s;
		}
	}
}

iotad_err fed_aggregate(const float *global, size_t n, const fed_client *c, size_t k,
			const fed_opts *o, float *out, fed_report *rep, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	iotad_err rc = check_inputs(global, n, c, k, o, err, errlen);
	if (rc)
		return rc;
	if (!out || out == global)
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "no output buffer, or it aliases the global model");

	double *scale = malloc(k * sizeof *scale);
	double *weight = malloc(k * sizeof *weight);
	double *cols = malloc(n * k * sizeof *cols);
	if (!scale || !weight || !cols) {
		free(scale);
		free(weight);
		free(cols);
		return IOTAD_ERR_NOMEM;
	}
	fed_report r = {0};
	clip_scales(global, n, c, k, o, scale, &r);
	fill_columns(global, n, c, k, scale, cols);
	/* FedAvg weights: windows; with noise, equal (a gateway's sensitivity is clip / k) */
	double wsum = 0;
	for (size_t j = 0; j < k; j++) {
		weight[j] = o->noise > 0 ? 1.0 : (double)c[j].weight;
		wsum += weight[j];
	}
	rng noise;
	rng_seed(&noise, o->noise_seed);
	double sigma = (double)o->noise * (double)o->clip;
	size_t cut = o->rule == FED_TRIMMED ? (size_t)floor((double)o->trim * (double)k) : 0;
	double step2 = 0;
	for (size_t i = 0; i < n; i++) {
		double *col = cols + i * k, v = 0;
		if (o->rule == FED_MEAN) {
			for (size_t j = 0; j < k; j++)
				v += col[j] * weight[j];
			if (sigma > 0)
				v += sigma * rng_normal(&noise);
			v /= wsum;
		} else if (o->rule == FED_MEDIAN) {
			v = median_of(col, k);
		} else {
			v = trimmed_of(col, k, cut);
		}
		out[i] = (float)((double)global[i] + v);
		step2 += v * v;
	}
	r.step_norm = (float)sqrt(step2);
	free(scale);
	free(weight);
	free(cols);
	if (rep)
		*rep = r;
	return IOTAD_OK;
}
