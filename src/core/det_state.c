/* det_state.c - the detector's state: sizes and shapes of a device's
 * floats, export (det_foreach), import checked value by value, and adoption
 * of another detector's devices across a model reload. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "det_int.h"

size_t det_bytes_per_device(const det *d)
{
	size_t table, per_slot;

	if (!d)
		return 0;
	table = (size_t)d->n_buckets * sizeof *d->buckets +
		(size_t)d->cfg.max_devices *
			(sizeof *d->next + sizeof *d->slots + sizeof *d->lru_prev + sizeof *d->lru_next);
	per_slot = (table + d->cfg.max_devices - 1) / d->cfg.max_devices;
	return d->dev_bytes + per_slot;
}

const model *det_model(const det *d)
{
	return d ? d->m : NULL;
}

uint32_t det_features(const det *d)
{
	return d ? d->features : 0;
}

uint32_t det_window(const det *d)
{
	return d ? d->window : 0;
}

const prof_params *det_prof_params(const det *d)
{
	return d && d->use_prof ? &d->prof : NULL;
}

size_t det_prof_floats(const det *d)
{
	return d && d->use_prof ? prof_floats(&d->prof) +
				  (d->use_season ? season_floats(d->features) : 0) : 0;
}

/* --- export and import -------------------------------------------------- */

thr_kind det_thr_kind(const det *d)
{
	return d ? d->cfg.thr.kind : THR_STATIC;
}

size_t det_thr_floats(const det *d)
{
	return d ? thr_state_floats(&d->cfg.thr) : 0;
}

size_t det_state_floats(const det *d)
{
	return d ? d->win_floats + det_thr_floats(d) + det_prof_floats(d) : 0;
}

iotad_err det_foreach(const det *d, float *buf, det_state_cb cb, void *ud)
{
	det_device_state st;
	size_t nthr;

	if (!d || !buf || !cb)
		return IOTAD_ERR_INVAL;
	nthr = det_thr_floats(d);
	for (uint32_t i = d->lru_tail; i != DET_NIL; i = d->lru_prev[i]) {
		const det_device *dev = d->slots[i];
		memset(&st, 0, sizeof st);
		memcpy(st.id, dev->id, sizeof st.id);
		st.since_score = dev->since_score;
		st.ring_count = dev->win.count;
		st.thr = dev->thr;
		st.thr.buf = NULL;
		st.alert = dev->alert;
		st.last_ts = dev->last_ts;
		st.last_seen = dev->last_seen;
		st.seq = dev->seq;
		st.samples = dev->samples;
		st.learning = dev->learning;
		st.muted_until = dev->muted ? dev->muted_until : 0.0;
		st.last_score = dev->last_score;
		memset(buf, 0, d->win_floats * sizeof *buf);
		ring_copy(&dev->win, buf);
		if (nthr)
			memcpy(buf + d->win_floats, dev->storage + d->win_floats, nthr * sizeof *buf);
		if (d->use_prof)
			memcpy(buf + d->prof_off, dev->storage + d->prof_off,
			       det_prof_floats(d) * sizeof *buf);
		iotad_err err = cb(ud, &st, buf);
		if (err != IOTAD_OK)
			return err;
	}
	return IOTAD_OK;
}

static bool det_all_finite(const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

/* A threshold state that thr_update can continue from: finite values and
 * ring indices inside this configuration's history. */
static bool det_thr_state_ok(const det *d, const thr_state *t, const float *hist)
{
	const thr_params *p = &d->cfg.thr;
	uint32_t peaks = (p->kind == THR_SPOT || p->kind == THR_DSPOT) ? (uint32_t)p->peaks : 0;
	uint32_t depth = p->kind == THR_DSPOT ? (uint32_t)p->depth : 0;
	float f[] = {t->value, t->level, t->var, t->gamma, t->sigma, t->zq};

	if (!det_all_finite(f, sizeof f / sizeof f[0]) || !isfinite(t->drift_sum) ||
	    !(t->sigma >= 0.0f) || !(t->var >= 0.0f))
		return false;
	if (t->n_ring > peaks || (peaks ? t->ring_next >= peaks : t->ring_next != 0))
		return false;
	if (depth ? t->drift_next >= depth : t->drift_next != 0)
		return false;
	return det_all_finite(hist, det_thr_floats(d));
}

iotad_err det_import(det *d, const det_device_state *st, const float *floats, bool with_thr)
{
	size_t len;
	uint32_t h, slot;
	iotad_err err;

	if (!d || !st || !floats)
		return IOTAD_ERR_INVAL;
	len = strnlen(st->id, DET_DEVICE_ID_MAX);
	if (len == 0 || len >= DET_DEVICE_ID_MAX || st->ring_count > d->window ||
	    st->alert.status > ALERT_STALE || st->alert.seen > ALERT_MAX_N ||
	    !isfinite(st->last_ts) || !isfinite(st->last_seen) || !isfinite(st->muted_until) ||
	    !isfinite(st->alert.raised_at) || !isfinite(st->alert.normal_since) ||
	    !isfinite(st->alert.adapt_from) || !det_all_finite(floats, d->win_floats))
		return IOTAD_ERR_INVAL;
	if (with_thr && !det_thr_state_ok(d, &st->thr, floats + d->win_floats))
		return IOTAD_ERR_INVAL;
	if (d->use_prof && !prof_state_ok(&d->prof, floats + d->prof_off))
		return IOTAD_ERR_INVAL;
	if (d->use_season && !season_state_ok(&d->season, d->features,
					      floats + d->prof_off + prof_floats(&d->prof)))
		return IOTAD_ERR_INVAL;
	for (size_t i = 0; i < (size_t)st->ring_count * d->features; i++)
		if (floats[i] < NORM_CLAMP_LO || floats[i] > NORM_CLAMP_HI)
			return IOTAD_ERR_INVAL;

	h = det_hash(st->id, len);
	slot = det_find(d, st->id, len, h);
	if (slot != DET_NIL) {
		det_lru_touch(d, slot);
		det_device_reset(d, d->slots[slot], st->id, len, h);
	} else {
		err = det_add(d, st->id, len, h, &slot);
		if (err != IOTAD_OK)
			return err;
	}
	det_device *dev = d->slots[slot];
	/* the run lengths are not saved: counted again over the window */
	/* nor the rows' times: every row counts as the last one's, so nothing
	 * older joins the window after a restart */
	for (uint32_t r = 0; r < st->ring_count; r++) {
		det_count_run(d, dev, floats + (size_t)r * d->features);
		det_ring_push(d, dev, floats + (size_t)r * d->features, st->last_ts);
	}
	dev->since_score = st->since_score;
	if (with_thr) {
		float *buf = dev->thr.buf;
		dev->thr = st->thr;
		dev->thr.buf = buf;
		if (det_thr_floats(d))
			memcpy(buf, floats + d->win_floats, det_thr_floats(d) * sizeof *buf);
	}
	if (d->use_prof)
		memcpy(det_prof(d, dev), floats + d->prof_off, det_prof_floats(d) * sizeof(float));
	dev->alert = st->alert;
	dev->last_ts = st->last_ts;
	dev->last_seen = st->last_seen;
	dev->seq = st->seq > d->cfg.seq_base ? st->seq : d->cfg.seq_base;
	dev->samples = st->samples;
	dev->learning = st->learning;
	dev->muted = st->muted_until > 0.0;
	dev->muted_until = st->muted_until;
	dev->last_score = st->last_score;
	return IOTAD_OK;
}

/* Same window, features (names and order) and normalization. */
static bool det_same_input(const model *a, const model *b)
{
	if (a->window != b->window || a->n_features != b->n_features || a->norm != b->norm)
		return false;
	for (int f = 0; f < a->n_features; f++)
		if (strcmp(a->features[f], b->features[f]) || a->norm_a[f] != b->norm_a[f] ||
		    a->norm_b[f] != b->norm_b[f])
			return false;
	return true;
}

/* Same features by name and the same profile shape. */
static bool det_same_profile(const det *a, const det *b)
{
	if (!a->use_prof || !b->use_prof || a->features != b->features ||
	    det_prof_floats(a) != det_prof_floats(b))
		return false;
	for (uint32_t f = 0; f < a->features; f++)
		if (strcmp(a->names[f], b->names[f]))
			return false;
	return true;
}

typedef struct det_adoption {
	det *to;
	const det *from;
	bool keep;              /* windows */
	bool keep_prof;         /* profiles */
	float *out;             /* one device's floats in to's layout */
} det_adoption;

static iotad_err det_adopt_one(void *ud, const det_device_state *st, const float *floats)
{
	det_adoption *a = ud;
	det_device_state s = *st;

	memset(a->out, 0, (det_state_floats(a->to) + 1) * sizeof *a->out);
	if (a->keep) {
		memcpy(a->out, floats, a->to->win_floats * sizeof *a->out);
	} else {
		s.ring_count = 0;
		s.since_score = UINT32_MAX; /* score as soon as the window is full */
	}
	if (a->keep_prof)
		memcpy(a->out + a->to->prof_off, floats + a->from->prof_off,
		       det_prof_floats(a->to) * sizeof *a->out);
	return det_import(a->to, &s, a->out, false);
}

iotad_err det_adopt(det *to, const det *from, bool *windows_kept)
{
	det_adoption a = {.to = to, .from = from};
	iotad_err err;
	float *buf;

	if (!to || !from)
		return IOTAD_ERR_INVAL;
	a.keep = to->m && from->m && det_same_input(to->m, from->m);
	a.keep_prof = det_same_profile(to, from);
	if (windows_kept)
		*windows_kept = a.keep;
	buf = calloc(det_state_floats(from) + 1, sizeof *buf);
	a.out = calloc(det_state_floats(to) + 1, sizeof *a.out);
	err = buf && a.out ? det_foreach(from, buf, det_adopt_one, &a) : IOTAD_ERR_NOMEM;
	free(buf);
	free(a.out);
	return err;
}
