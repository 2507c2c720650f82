/* modelpack.c - the model's networks packed for scoring (modelpack.h): the
 * detector's default scorer for a float model, one window or a batch. */
#include <string.h>

#include "iotad/modelpack.h"

iotad_err model_pack_init(model_pack *p, const model *m, nn_isa isa)
{
	if (!p)
		return IOTAD_ERR_INVAL;
	memset(p, 0, sizeof *p);
	if (!m || m->type != MODEL_FLOAT || m->n_more < 0 || m->n_more >= MODEL_MAX_MEMBERS)
		return IOTAD_ERR_INVAL;
	for (int k = 0; k <= m->n_more; k++) {
		iotad_err err = nn_pack_init(&p->member[k], k ? &m->more[k - 1] : &m->net, isa);
		if (err != IOTAD_OK) {
			model_pack_free(p);
			return err;
		}
		p->n = k + 1;
	}
	p->m = m;
	return IOTAD_OK;
}

void model_pack_free(model_pack *p)
{
	if (!p)
		return;
	for (int k = 0; k < p->n; k++)
		nn_pack_free(&p->member[k]);
	memset(p, 0, sizeof *p);
}

/* Floats of the network scratch one member's batch needs. */
static size_t mp_net_floats(const model_pack *p)
{
	return 2 * nn_pack_scratch_floats(&p->member[0]);
}

/* One window, as model_scorer_score computes it: the members' MSE summed in
 * double and averaged, their squared errors summed in float and scaled.
 * scratch: the network's, the squared errors, a further member's. */
static float mp_score(const void *self, const void *state, const float *x, float *contrib,
		      float *scratch)
{
	const model_pack *p = self;
	size_t d = (size_t)p->member[0].sizes[0];
	float *err = scratch + mp_net_floats(p), *tmp = err + d;

	(void)state;
	float score = nn_pack_forward(&p->member[0], x, scratch, err);
	if (p->n > 1) {
		double sum = score;
		for (int k = 1; k < p->n; k++) {
			sum += nn_pack_forward(&p->member[k], x, scratch, tmp);
			for (size_t i = 0; i < d; i++)
				err[i] += tmp[i];
		}
		float inv = 1.0f / (float)p->n;
		for (size_t i = 0; i < d; i++)
			err[i] *= inv;
		score = (float)(sum / (double)p->n);
	}
	model_contrib(p->m, err, contrib);
	return score;
}

/* n windows: each member runs over the batch (its weights stay in cache),
 * then every window is combined as mp_score combines one. scratch: the
 * network's, n squared-error rows, n rows of a further member's. */
static void mp_score_batch(const void *self, size_t n, const float *const *x,
			   float *const *contrib, float *scores, float *scratch)
{
	const model_pack *p = self;
	size_t d = (size_t)p->member[0].sizes[0];
	float *errs = scratch + mp_net_floats(p), *tmps = errs + DET_SCORER_BATCH * d;
	float *err[DET_SCORER_BATCH], *tmp[DET_SCORER_BATCH], more[DET_SCORER_BATCH];
	double sum[DET_SCORER_BATCH];

	if (n > DET_SCORER_BATCH)
		n = DET_SCORER_BATCH;
	for (size_t k = 0; k < n; k++) {
		err[k] = errs + k * d;
		tmp[k] = tmps + k * d;
	}
	nn_pack_forward_batch(&p->member[0], n, x, scratch, scores, err);
	for (size_t k = 0; k < n; k++)
		sum[k] = scores[k];
	for (int m = 1; m < p->n; m++) {
		nn_pack_forward_batch(&p->member[m], n, x, scratch, more, tmp);
		for (size_t k = 0; k < n; k++) {
			sum[k] += more[k];
			for (size_t i = 0; i < d; i++)
				err[k][i] += tmp[k][i];
		}
	}
	for (size_t k = 0; k < n; k++) {
		if (p->n > 1) {
			float inv = 1.0f / (float)p->n;
			for (size_t i = 0; i < d; i++)
				err[k][i] *= inv;
			scores[k] = (float)(sum[k] / (double)p->n);
		}
		model_contrib(p->m, err[k], contrib[k]);
	}
}

static const det_scorer_ops mp_ops = {.score = mp_score, .score_batch = mp_score_batch};

void det_scorer_pack(det_scorer *sc, const model_pack *p)
{
	const model *m = p->m;
	size_t d = (size_t)m->net.sizes[0];

	memset(sc, 0, sizeof *sc);
	sc->ops = &mp_ops;
	sc->self = p;
	sc->scratch_floats = mp_net_floats(p) + 2 * d;
	sc->batch_scratch_floats = mp_net_floats(p) + 2 * DET_SCORER_BATCH * d;
	sc->threshold = m->threshold;
	sc->calib = m->calib;
	sc->n_calib = m->calib ? m->n_calib : 0;
}
