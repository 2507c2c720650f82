/* model.c - the model at run time: scoring a window (with an ensemble's
 * members), input normalization and calibration rank. Loading and saving
 * the model file is format/model_io.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/model.h"
#include "iotad/scorer.h"

int model_norm_parse(const char *name, norm_kind *out)
{
	if (!name)
		return -1;
	if (!strcmp(name, "minmax")) {
		*out = NORM_MINMAX;
		return 0;
	}
	if (!strcmp(name, "zscore")) {
		*out = NORM_ZSCORE;
		return 0;
	}
	return -1;
}

const char *model_norm_name(norm_kind k)
{
	return k == NORM_ZSCORE ? "zscore" : k == NORM_NONE ? "none" : "minmax";
}

void model_free(model *m)
{
	if (!m)
		return;
	nn_free(&m->net);
	for (int k = 0; k < MODEL_MAX_MEMBERS - 1; k++)
		nn_free(&m->more[k]);
	m->n_more = 0;
	free(m->calib);
	m->calib = NULL;
	m->n_calib = 0;
	for (int k = 0; m->q && k < MODEL_MAX_MEMBERS; k++)
		qnn_free(&m->q[k]);
	free(m->q);
	m->q = NULL;
	m->type = MODEL_FLOAT;
}

size_t model_scratch_floats(const model *m)
{
	size_t n = nn_scratch_floats(&m->net);
	if (m->type == MODEL_INT8 && m->q) {
		size_t k = qnn_scratch_floats(&m->q[0]);
		n = k > n ? k : n;
	}
	return n;
}

/* One member's score: float network k (0 = net) or its int8 form. */
static float model_member(const model *m, int k, const float *x, float *scratch, float *err)
{
	if (m->type == MODEL_INT8)
		return qnn_forward(&m->q[k], x, scratch, err);
	return nn_forward(k ? &m->more[k - 1] : &m->net, x, scratch, err);
}

float model_score(const model *m, const float *x, float *scratch, float *err, float *tmp)
{
	float score = model_member(m, 0, x, scratch, err);
	if (m->n_more <= 0)
		return score;
	size_t d = (size_t)m->net.sizes[0];
	double sum = score;
	for (int k = 0; k < m->n_more; k++) {
		sum += model_member(m, k + 1, x, scratch, err ? tmp : NULL);
		for (size_t i = 0; err && i < d; i++)
			err[i] += tmp[i];
	}
	float inv = 1.0f / (float)(m->n_more + 1);
	for (size_t i = 0; err && i < d; i++)
		err[i] *= inv;
	return (float)(sum / (double)(m->n_more + 1));
}

/* ---- the model as the detector's scorer ---- */

void model_contrib(const model *m, const float *err, float *contrib)
{
	size_t d = (size_t)m->net.sizes[0], F = (size_t)m->n_features;
	double sum[MODEL_MAX_FEATURES] = {0};
	double total = 0.0;

	/* each feature's sum over the rows in the order of i; four features at
	 * a time in registers, so their chains overlap */
	size_t f = 0;
	for (; f + 4 <= F; f += 4) {
		double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
		for (size_t row = 0; row + F <= d; row += F) {
			s0 += err[row + f];
			s1 += err[row + f + 1];
			s2 += err[row + f + 2];
			s3 += err[row + f + 3];
		}
		sum[f] = s0;
		sum[f + 1] = s1;
		sum[f + 2] = s2;
		sum[f + 3] = s3;
	}
	for (; f < F; f++) {
		double s = 0.0;
		for (size_t row = 0; row + F <= d; row += F)
			s += err[row + f];
		sum[f] = s;
	}
	for (f = 0; f < F; f++)
		total += sum[f];
	for (f = 0; f < F; f++)
		contrib[f] = isfinite(total) && total > 0.0 ? (float)(sum[f] / total) : 1.0f / (float)F;
}

/* scratch: the network's, then the squared error of every input, then a
 * further member's (ensemble). */
static float model_scorer_score(const void *self, const void *state, const float *x,
				float *contrib, float *scratch)
{
	const model *m = self;
	size_t d = (size_t)m->net.sizes[0];
	float *err = scratch + model_scratch_floats(m), *tmp = err + d;

	(void)state;
	float score = model_score(m, x, scratch, err, tmp);
	model_contrib(m, err, contrib);
	return score;
}

static const det_scorer_ops model_scorer_ops = {.score = model_scorer_score};

void det_scorer_model(det_scorer *sc, const model *m)
{
	memset(sc, 0, sizeof *sc);
	sc->ops = &model_scorer_ops;
	sc->self = m;
	sc->scratch_floats = model_scratch_floats(m) + 2 * (size_t)m->net.sizes[0];
	sc->threshold = m->threshold;
	sc->calib = m->calib;
	sc->n_calib = m->calib ? m->n_calib : 0;
}

/* ---- hot path ---- */

void model_normalize(const model *m, const float *raw, float *out)
{
	for (int i = 0; i < m->n_features; i++) {
		double x = raw[i], v;
		if (!isfinite(x)) {
			out[i] = NORM_CLAMP_HI;
			continue;
		}
		if (m->norm == NORM_NONE) {
			out[i] = (float)x;
			continue;
		}
		double a = m->norm_a[i], b = m->norm_b[i];
		if (m->norm == NORM_ZSCORE) {
			v = (x - a) / (b > 0.0 ? b : 1.0);
		} else {
			double r = b - a;
			v = (x - a) / (r < 1e-12 ? 1.0 : r);
		}
		if (!(v <= NORM_CLAMP_HI))
			v = NORM_CLAMP_HI;
		else if (v < NORM_CLAMP_LO)
			v = NORM_CLAMP_LO;
		out[i] = (float)v;
	}
}

float model_calib_rank(const model *m, float score)
{
	if (!m->calib || m->n_calib <= 0)
		return 0.5f;
	if (isnan(score))
		return 1.0f;
	/* First index whose score is > score. */
	size_t lo = 0, hi = (size_t)m->n_calib;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->calib[mid] <= score)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (float)((double)lo / (double)m->n_calib);
}
