/* nab.c - the Numenta Anomaly Benchmark's scoring rules (nab.h): a scaled
 * sigmoid of where a detection falls relative to the anomaly windows, three
 * application profiles, and the normalization between a detector that
 * never detects and a perfect one. */
#include <math.h>
#include <string.h>

#include "iotad/nab.h"

/* Weights per the benchmark's paper (Lavin & Ahmad 2015, table of profiles). */
static const nab_profile nab_profiles[NAB_PROFILES] = {
	{"standard", 1.0, -0.11, -1.0},
	{"reward_low_FP", 1.0, -0.22, -1.0},
	{"reward_low_FN", 1.0, -0.11, -2.0},
};

const nab_profile *nab_profile_get(int p)
{
	return p >= 0 && p < NAB_PROFILES ? &nab_profiles[p] : NULL;
}

double nab_sigmoid(double y)
{
	if (y > 3.0)
		return -1.0;
	return 2.0 / (1.0 + exp(5.0 * y)) - 1.0;
}

size_t nab_probation(size_t n)
{
	return (size_t)floor(0.15 * (double)n);
}

static iotad_err nab_check(size_t n, const nab_window *w, size_t n_w)
{
	for (size_t k = 0; k < n_w; k++) {
		if (w[k].first > w[k].last || w[k].last >= n)
			return IOTAD_ERR_INVAL;
		if (k && w[k].first <= w[k - 1].last)
			return IOTAD_ERR_INVAL;
	}
	return IOTAD_OK;
}

iotad_err nab_score_series(size_t n, const uint8_t *det, size_t prob, const nab_window *w,
			   size_t n_w, nab_score *out)
{
	memset(out, 0, sizeof *out);
	if ((n && !det) || (n_w && !w) || nab_check(n, w, n_w))
		return IOTAD_ERR_INVAL;
	size_t k = 0;           /* the first window not wholly before row i */
	int hit = 0;            /* window k has had its first detection */
	double tp_sum = 0.0;    /* sum of sigma over true positives */
	double fp_sum = 0.0;    /* sum of -sigma over false positives (>= 0) */
	for (size_t i = prob; i < n; i++) {
		while (k < n_w && w[k].last < i) {
			k++;
			hit = 0;
		}
		if (!det[i])
			continue;
		out->detections++;
		if (k < n_w && w[k].first <= i) {
			if (w[k].first < prob || hit)
				continue; /* not scored, or not the first */
			hit = 1;
			double len = (double)(w[k].last - w[k].first + 1);
			tp_sum += nab_sigmoid(-(double)(w[k].last - i + 1) / len);
			out->tp++;
			continue;
		}
		out->fp++;
		if (k == 0) {
			fp_sum += 1.0; /* no window before it */
		} else {
			const nab_window *b = &w[k - 1];
			double len = (double)(b->last - b->first + 1);
			fp_sum += -nab_sigmoid((double)(i - b->last) / len);
		}
	}
	for (size_t j = 0; j < n_w; j++)
		out->windows += w[j].first >= prob;
	double missed = (double)(out->windows - out->tp);
	double best = nab_sigmoid(-1.0);
	for (int p = 0; p < NAB_PROFILES; p++) {
		const nab_profile *pr = &nab_profiles[p];
		out->raw[p] = pr->a_tp * tp_sum + pr->a_fp * fp_sum + pr->a_fn * missed;
		out->null[p] = pr->a_fn * (double)out->windows;
		out->perfect[p] = pr->a_tp * best * (double)out->windows;
	}
	return IOTAD_OK;
}

void nab_score_add(nab_score *total, const nab_score *s)
{
	for (int p = 0; p < NAB_PROFILES; p++) {
		total->raw[p] += s->raw[p];
		total->null[p] += s->null[p];
		total->perfect[p] += s->perfect[p];
	}
	total->windows += s->windows;
	total->tp += s->tp;
	total->fp += s->fp;
	total->detections += s->detections;
}

double nab_normalized(const nab_score *s, int p)
{
	if (p < 0 || p >= NAB_PROFILES || !(s->perfect[p] - s->null[p] > 0.0))
		return NAN;
	return 100.0 * (s->raw[p] - s->null[p]) / (s->perfect[p] - s->null[p]);
}
