/* fedcal.c - threshold calibration and personalization on a gateway's
 * held-out windows (see fedcal.h). */
#include "iotad/fedcal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/fedlocal.h"

const float fedcal_levels[FEDCAL_NQ] = {0.0f, 0.1f, 0.25f, 0.5f, 0.75f, 0.9f,
					0.95f, 0.98f, 0.99f, 0.995f, 1.0f};

static const char *const MODE_NAMES[] = {"model", "gateway", "global"};
static const char *const PERS_NAMES[] = {"off", "select", "finetune"};
static const char *const PICK_NAMES[] = {"global", "tuned", "own"};

static int find(const char *s, const char *const *names, int n)
{
	for (int i = 0; s && i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int fedcal_mode_parse(const char *s, fedcal_mode *out)
{
	int i = find(s, MODE_NAMES, 3);
	if (i < 0)
		return -1;
	*out = (fedcal_mode)i;
	return 0;
}

const char *fedcal_mode_name(fedcal_mode m)
{
	return (unsigned)m < 3 ? MODE_NAMES[m] : "?";
}

int fedcal_pers_parse(const char *s, fedcal_pers *out)
{
	int i = find(s, PERS_NAMES, 3);
	if (i < 0)
		return -1;
	*out = (fedcal_pers)i;
	return 0;
}

const char *fedcal_pers_name(fedcal_pers p)
{
	return (unsigned)p < 3 ? PERS_NAMES[p] : "?";
}

const char *fedcal_pick_name(fedcal_pick p)
{
	return (unsigned)p < 3 ? PICK_NAMES[p] : "?";
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

iotad_err fedcal_scores(const nn *net, const float *x, size_t n, float *out)
{
	float *scratch = malloc(nn_scratch_floats(net) * sizeof *scratch);
	if (!scratch)
		return IOTAD_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		out[i] = nn_forward(net, x + i * (size_t)net->sizes[0], scratch, NULL);
	free(scratch);
	qsort(out, n, sizeof *out, cmp_float);
	return IOTAD_OK;
}

/* Interpolated value at level u in [0, 1] of n sorted values (n > 0). */
static double at_level(const float *s, size_t n, double u)
{
	double pos = u * (double)(n - 1);
	size_t lo = (size_t)floor(pos);
	if (lo >= n - 1)
		return s[n - 1];
	return (double)s[lo] + (pos - (double)lo) * ((double)s[lo + 1] - (double)s[lo]);
}

float fedcal_percentile(const float *sorted, size_t n, float p)
{
	if (n == 0)
		return FEDCAL_MIN_THRESHOLD;
	float t = (float)at_level(sorted, n, (double)p / 100.0);
	return t > FEDCAL_MIN_THRESHOLD ? t : FEDCAL_MIN_THRESHOLD;
}

void fedcal_quantiles(const float *sorted, size_t n, float q[FEDCAL_NQ])
{
	for (int i = 0; i < FEDCAL_NQ; i++)
		q[i] = n ? (float)at_level(sorted, n, fedcal_levels[i]) : 0.0f;
}

bool fedcal_summary_valid(const float q[FEDCAL_NQ])
{
	for (int i = 0; i < FEDCAL_NQ; i++)
		if (!isfinite(q[i]) || q[i] < 0 || (i > 0 && q[i] < q[i - 1]))
			return false;
	return true;
}

/* A gateway's distribution function at x: linear between its quantiles. */
static double cdf(const float q[FEDCAL_NQ], double x)
{
	if (x < q[0])
		return 0;
	if (x >= q[FEDCAL_NQ - 1])
		return 1;
	int i = 0;
	while (i + 1 < FEDCAL_NQ - 1 && q[i + 1] <= x)
		i++;
	double lo = fedcal_levels[i], hi = fedcal_levels[i + 1];
	double span = (double)q[i + 1] - (double)q[i];
	return span > 0 ? lo + (hi - lo) * (x - q[i]) / span : hi;
}

float fedcal_merge(const uint32_t *n, const float (*q)[FEDCAL_NQ], size_t k, float p)
{
	double total = 0, lo = INFINITY, hi = -INFINITY;
	for (size_t g = 0; g < k; g++) {
		if (!n[g])
			continue;
		total += n[g];
		lo = fmin(lo, q[g][0]);
		hi = fmax(hi, q[g][FEDCAL_NQ - 1]);
	}
	if (total == 0)
		return 0;
	double u = (double)p / 100.0;
	if (u >= 1.0 || lo == hi)
		return (float)hi;
	/* the smallest x with the mixture's distribution function >= u */
	for (int it = 0; it < 100; it++) {
		double mid = 0.5 * (lo + hi), f = 0;
		for (size_t g = 0; g < k; g++)
			if (n[g])
				f += (double)n[g] / total * cdf(q[g], mid);
		if (f >= u)
			hi = mid;
		else
			lo = mid;
	}
	return (float)hi;
}

fedcal_pick fedcal_personalize(const nn *const cands[3], const float *const hold[3],
			       const size_t n[3], double *means)
{
	fedcal_pick best = FEDCAL_PICK_GLOBAL;
	double best_mean = INFINITY;
	for (int c = 0; c < 3; c++) {
		double m = NAN;
		if (cands[c] && (c == 0 || n[c] > 0)) {
			m = fed_mean_score(cands[c], hold[c], n[c]);
			for (size_t i = 0; i < cands[c]->n_params && isfinite(m); i++)
				if (!isfinite(cands[c]->params[i]))
					m = NAN;
			if (isfinite(m) && (m < best_mean || (c == 0 && !(best_mean < INFINITY)))) {
				best = (fedcal_pick)c;
				best_mean = m;
			}
		}
		if (means)
			means[c] = m;
	}
	return best;
}
