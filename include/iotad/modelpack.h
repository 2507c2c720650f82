/* modelpack.h - a float model's networks in their packed scoring form
 * (nnpack.h), and that form as the detector's scorer.
 *
 * The detector packs its model at det_create: it scores with
 * det_scorer_pack, whose scores agree with det_scorer_model's (the scalar
 * nn_forward) to 1e-6 relative and are the same bits on every CPU path. */
#ifndef IOTAD_MODELPACK_H
#define IOTAD_MODELPACK_H

#include "iotad/model.h"
#include "iotad/nnpack.h"
#include "iotad/scorer.h"

typedef struct model_pack {
	const model *m;                        /* borrowed */
	int n;                                 /* members: 1 + m->n_more */
	nn_pack member[MODEL_MAX_MEMBERS];
} model_pack;

/* Pack every network of the float model m for the path isa (NN_ISA_AUTO:
 * the CPU's widest). IOTAD_ERR_INVAL for an int8 model or an isa this CPU
 * cannot run; IOTAD_ERR_NOMEM. p is zeroed on failure. m must outlive p and
 * stay unchanged. */
iotad_err model_pack_init(model_pack *p, const model *m, nn_isa isa);
/* Free the packed weights; accepts NULL and a zeroed struct. */
void model_pack_free(model_pack *p);

/* The packed model as a scorer (stateless): the mean over members of the
 * reconstruction MSE and each feature's share of the squared error, as
 * det_scorer_model, with a batch entry (score_batch). p is borrowed. */
void det_scorer_pack(det_scorer *sc, const model_pack *p);

#endif
