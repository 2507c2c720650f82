/* det_table.c - the detector's device table: creation, lookup, the
 * recency list, adding, evicting and forgetting devices.
 *
 * Devices live in a pool of max_devices slots. A slot's device (struct and
 * window storage in one block) is allocated the first time the device is
 * seen; nothing is allocated per sample. Lookup is a FNV-1a hash over a
 * power-of-two bucket array with chaining through the next[] index array;
 * freed slots are chained on a free list through the same array.
 *
 * Live slots are also on a recency list (prev[]/nxt[] index arrays, most
 * recently seen at the head). When the table is full and the policy is
 * LRU, a new device takes over the block of the least recently seen one
 * at the tail: O(1), and no allocation once the table has filled. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "det_int.h"

void det_config_default(det_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_devices = 10000;
	cfg->evict = DET_EVICT_LRU;
	cfg->stride = 0;
	cfg->alert.k = 3;
	cfg->alert.n = 3;
	cfg->alert.m = 5;
	cfg->alert.quiet = DET_QUIET_AUTO;
	thr_params_default(&cfg->thr, THR_ADAPTIVE, 0.0f, 0.0f);
	cfg->stale_after = 0.0;
	cfg->stuck_check = true;
	cfg->learn_samples = 0;
	cfg->learn_alarms = false;
	prof_params_default(&cfg->prof);
	season_params_default(&cfg->season);
	cfg->reorder_window = 30.0;
}

const char *det_channel_name(int c)
{
	return c == PROF_CH_COUNT ? "shape" : c == PROF_CH_COUNT + 1 ? "season" :
	       prof_channel_name(c);
}

uint32_t det_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* Fill the threshold parameters left at 0 from the scorer's calibration,
 * check them and fit what every device shares (SPOT's tail) once. */
static iotad_err det_resolve_thr(const det_scorer *sc, thr_params *p)
{
	return thr_params_fit(p, sc->threshold, sc->calib, sc->calib ? sc->n_calib : 0);
}

/* The model's input shape, and its network when the network scores. */
static iotad_err det_check_model(const model *m, bool net_scores)
{
	const nn *net;

	if (!m)
		return IOTAD_ERR_INVAL;
	if (m->n_features < 1 || m->n_features > MODEL_MAX_FEATURES ||
	    m->window < 1 || m->window > MODEL_MAX_WINDOW || m->stride < 0)
		return IOTAD_ERR_INVAL;
	if (!net_scores)
		return IOTAD_OK;
	net = &m->net;
	if (!net->params || net->n_layers < 1 || net->n_layers > NN_MAX_LAYERS)
		return IOTAD_ERR_INVAL;
	if ((long)m->window * m->n_features != net->sizes[0] ||
	    net->sizes[net->n_layers] != net->sizes[0])
		return IOTAD_ERR_INVAL;
	if (m->n_more < 0 || m->n_more > MODEL_MAX_MEMBERS - 1 ||
	    (m->type == MODEL_INT8 && !m->q))
		return IOTAD_ERR_INVAL;
	for (int k = 0; k < m->n_more; k++) /* scratch is sized for net */
		if (!m->more[k].params || m->more[k].n_layers != net->n_layers ||
		    memcmp(m->more[k].sizes, net->sizes, sizeof net->sizes))
			return IOTAD_ERR_INVAL;
	return IOTAD_OK;
}

#define DET_BAD(text) do { if (why) *why = (text); return IOTAD_ERR_INVAL; } while (0)

/* det_config_check, for a model whose network scores (net_scores) or not. */
static iotad_err det_check(const model *m, bool net_scores, const det_config *cfg,
			   const char **why)
{
	prof_params p;
	const char *names[MODEL_MAX_FEATURES] = {0};
	uint32_t n;

	if (!cfg)
		DET_BAD("detector: no configuration");
	if (m && det_check_model(m, net_scores) != IOTAD_OK)
		DET_BAD("detector: the model's shape is inconsistent");
	if (cfg->max_devices == 0 || cfg->max_devices > DET_MAX_DEVICES)
		DET_BAD("detector: max_devices: expected 1..10000000");
	if (cfg->stride < 0)
		DET_BAD("detector: stride: expected >= 0");
	if (cfg->evict != DET_EVICT_LRU && cfg->evict != DET_EVICT_REJECT)
		DET_BAD("detector: evict: unknown policy");
	alert_params ap = cfg->alert;
	if (ap.quiet == DET_QUIET_AUTO)
		ap.quiet = 0.0;
	if (alert_params_check(&ap) != 0)
		DET_BAD("detector: alert: need 1 <= k <= n <= 32, m >= 1 and hold, quiet (or auto), "
			"adapt_after in [0, 31536000] seconds");
	if (!(isfinite(cfg->stale_after) && cfg->stale_after >= 0.0))
		DET_BAD("detector: stale_after: expected a finite number >= 0");
	if (!(cfg->score_alpha >= 0.0f && cfg->score_alpha <= 1.0f))
		DET_BAD("detector: score_alpha: expected a number in [0, 1]");
	if (cfg->learn_samples > DET_MAX_LEARN)
		DET_BAD("detector: learn_samples: expected 0..100000000");
	if (!m && (cfg->n_features < 1 || cfg->n_features > MODEL_MAX_FEATURES))
		DET_BAD("detector: without a model, n_features: expected 1..32");
	if (!m && cfg->prof.channels == 0)
		DET_BAD("detector: without a model, at least one profile channel is needed");
	if (m && cfg->ae_device_norm && m->norm != NORM_MINMAX && m->norm != NORM_ZSCORE)
		DET_BAD("detector: ae_device_norm: unknown normalization of the model");
	n = m ? (uint32_t)m->n_features : cfg->n_features;
	for (uint32_t f = 0; f < n; f++)
		names[f] = m ? m->features[f] : cfg->features[f];
	if (cfg->season.on) {
		season_params sp = cfg->season;
		sp.learn = cfg->prof.learn;
		if (cfg->prof.channels == 0 && !(m && cfg->ae_device_norm))
			DET_BAD("detector: season needs the profile (profile_channels)");
		if (season_params_check(&sp, why))
			return IOTAD_ERR_INVAL;
	}
	p = cfg->prof;
	return prof_params_resolve(&p, n, names, why);
}

iotad_err det_config_check(const model *m, const det_config *cfg, const char **why)
{
	return det_check(m, true, cfg, why);
}

iotad_err det_create(const model *m, const det_config *cfg, det **out)
{
	return det_create_with(m, NULL, cfg, out);
}

iotad_err det_create_with(const model *m, const det_scorer *sc, const det_config *cfg,
			  det **out)
{
	det_config def;
	det_scorer own;
	det *d;
	iotad_err err;

	if (!out)
		return IOTAD_ERR_INVAL;
	*out = NULL;
	if (!cfg) {
		det_config_default(&def);
		cfg = &def;
	}
	err = det_check(m, !sc, cfg, NULL);
	if (err != IOTAD_OK)
		return err;
	model_pack *pack = NULL;
	if (m && !sc) {
		/* a float model scores through its packed form (same scores to
		 * 1e-6, vectorized); an int8 one through its own kernel */
		if (m->type == MODEL_FLOAT) {
			pack = malloc(sizeof *pack);
			if (!pack)
				return IOTAD_ERR_NOMEM;
			if ((err = model_pack_init(pack, m, NN_ISA_AUTO)) != IOTAD_OK) {
				free(pack);
				return err;
			}
			det_scorer_pack(&own, pack);
		} else {
			det_scorer_model(&own, m);
		}
		sc = &own;
	}
	/* a scorer needs a model's input; a model needs a scorer that scores */
	if (!m != !sc || (sc && (!sc->ops || !sc->ops->score)))
		return IOTAD_ERR_INVAL;

	d = calloc(1, sizeof *d);
	if (!d) {
		model_pack_free(pack);
		free(pack);
		return IOTAD_ERR_NOMEM;
	}
	d->pack = pack;
	d->m = m;
	d->cfg = *cfg;
	if (sc)
		d->sc = *sc;
	memset(d->cfg.features, 0, sizeof d->cfg.features); /* borrowed: not kept */
	/* auto quiet: zero-config's clear and raise within DET_ZC_QUIET seconds
	 * are one episode (a new fault inside it raises again, det_alert); an
	 * explicit 0 is off */
	if (d->cfg.alert.quiet == DET_QUIET_AUTO)
		d->cfg.alert.quiet = m ? 0.0 : DET_ZC_QUIET;
	if (m) {
		err = det_resolve_thr(&d->sc, &d->cfg.thr);
	} else {
		/* the channels' score is judged against 1 */
		thr_params_default(&d->cfg.thr, THR_STATIC, 1.0f, 0.5f);
		err = thr_params_fit(&d->cfg.thr, 1.0f, NULL, 0);
	}
	if (err != IOTAD_OK) {
		det_destroy(d);
		return err;
	}
	d->window = m ? (uint32_t)m->window : 0;
	d->features = m ? (uint32_t)m->n_features : cfg->n_features;
	d->win_floats = (size_t)d->window * d->features;
	d->stride = !m ? 1 : (uint32_t)(cfg->stride > 0 ? cfg->stride : m->stride > 0 ? m->stride : 1);
	for (uint32_t f = 0; f < d->features; f++) {
		const char *name = m ? m->features[f] : cfg->features[f];
		size_t nl = name ? strnlen(name, MODEL_NAME_MAX - 1) : 0;
		memcpy(d->names[f], name ? name : "", nl);
		d->names[f][nl] = '\0';
		if (m)
			d->center[f] = m->norm == NORM_MINMAX ? 0.5f * (m->norm_a[f] + m->norm_b[f]) :
				       m->norm_a[f];
	}
	d->use_prof = cfg->prof.channels != 0 || (m && cfg->ae_device_norm);
	if (d->use_prof) {
		const char *names[MODEL_MAX_FEATURES];
		for (uint32_t f = 0; f < d->features; f++)
			names[f] = d->names[f];
		d->prof = cfg->prof;
		(void)prof_params_resolve(&d->prof, d->features, names, NULL); /* checked */
		d->use_season = cfg->season.on;
		d->season = cfg->season;
		d->season.learn = cfg->prof.learn;
	}
	for (uint32_t f = 0; m && cfg->stuck_check && f < d->features; f++)
		if (m->stuck_after[f] >= 2)
			d->stuck_mask |= 1u << f;
	/* the block: struct, window, threshold history, profile, then (with a
	 * stuck check) one run-length byte per feature, then the scorer's state */
	d->prof_off = d->win_floats + thr_state_floats(&d->cfg.thr);
	d->run_off = sizeof(det_device) + ring_storage_bytes(d->window, d->features) +
		     (thr_state_floats(&d->cfg.thr) + det_prof_floats(d)) * sizeof(float);
	d->sc_off = (d->run_off + (d->stuck_mask ? d->features : 0) + 15) & ~(size_t)15;
	d->dev_bytes = d->sc_off + d->sc.state_bytes;
	/* then the device time of each window row, to tell a redelivered
	 * sample from a late one and to place a late one */
	d->ts_off = (d->dev_bytes + 7) & ~(size_t)7;
	d->dev_bytes = d->ts_off + d->window * sizeof(double);

	d->n_buckets = 1;
	while (d->n_buckets < cfg->max_devices)
		d->n_buckets <<= 1;
	d->buckets = malloc(d->n_buckets * sizeof *d->buckets);
	d->next = malloc(cfg->max_devices * sizeof *d->next);
	d->slots = calloc(cfg->max_devices, sizeof *d->slots);
	d->lru_prev = malloc(cfg->max_devices * sizeof *d->lru_prev);
	d->lru_next = malloc(cfg->max_devices * sizeof *d->lru_next);
	d->x = malloc((d->win_floats + 1) * sizeof(float));
	size_t sf = d->sc.scratch_floats > d->sc.batch_scratch_floats ? d->sc.scratch_floats :
			d->sc.batch_scratch_floats;
	d->scratch = malloc((sf + 1) * sizeof(float));
	d->bx = malloc((DET_SCORER_BATCH * d->win_floats + 1) * sizeof(float));
	d->late_rows = malloc((d->win_floats + d->features) * sizeof(float));
	d->late_ts = malloc((d->window + 1) * sizeof(double));
	if (!d->buckets || !d->next || !d->slots || !d->lru_prev || !d->lru_next || !d->x ||
	    !d->scratch || !d->late_rows || !d->late_ts || !d->bx) {
		det_destroy(d);
		return IOTAD_ERR_NOMEM;
	}
	memset(d->buckets, 0xff, d->n_buckets * sizeof *d->buckets);
	d->free_head = DET_NIL;
	d->lru_head = d->lru_tail = DET_NIL;
	*out = d;
	return IOTAD_OK;
}

void det_destroy(det *d)
{
	if (!d)
		return;
	if (d->slots) {
		for (uint32_t i = 0; i < d->high; i++)
			free(d->slots[i]);
	}
	free(d->slots);
	free(d->next);
	free(d->lru_prev);
	free(d->lru_next);
	free(d->buckets);
	free(d->x);
	free(d->scratch);
	free(d->late_rows);
	free(d->late_ts);
	free(d->bx);
	model_pack_free(d->pack);
	free(d->pack);
	free(d);
}

uint32_t det_find(const det *d, const char *id, size_t len, uint32_t h)
{
	for (uint32_t i = d->buckets[h & (d->n_buckets - 1)]; i != DET_NIL; i = d->next[i]) {
		const det_device *dev = d->slots[i];
		if (dev->hash == h && memcmp(dev->id, id, len + 1) == 0)
			return i;
	}
	return DET_NIL;
}

/* --- recency list ------------------------------------------------------ */

static void det_lru_unlink(det *d, uint32_t slot)
{
	uint32_t p = d->lru_prev[slot], n = d->lru_next[slot];

	if (p != DET_NIL)
		d->lru_next[p] = n;
	else
		d->lru_head = n;
	if (n != DET_NIL)
		d->lru_prev[n] = p;
	else
		d->lru_tail = p;
}

static void det_lru_push_head(det *d, uint32_t slot)
{
	d->lru_prev[slot] = DET_NIL;
	d->lru_next[slot] = d->lru_head;
	if (d->lru_head != DET_NIL)
		d->lru_prev[d->lru_head] = slot;
	else
		d->lru_tail = slot;
	d->lru_head = slot;
}

void det_lru_touch(det *d, uint32_t slot)
{
	if (d->lru_head == slot)
		return;
	det_lru_unlink(d, slot);
	det_lru_push_head(d, slot);
}

/* Unlink slot from its hash chain and the recency list. */
static void det_unlink(det *d, uint32_t slot)
{
	uint32_t *link = &d->buckets[d->slots[slot]->hash & (d->n_buckets - 1)];

	while (*link != slot)
		link = &d->next[*link];
	*link = d->next[slot];
	det_lru_unlink(d, slot);
}

/* Reset dev to a fresh device named id. The whole block is cleared, the
 * window and threshold history too, so nothing stale or uninitialized can
 * reach a score or a state file. */
void det_device_reset(det *d, det_device *dev, const char *id, size_t len, uint32_t h)
{
	memset(dev, 0, d->dev_bytes);
	memcpy(dev->id, id, len + 1);
	dev->hash = h;
	if (d->window)
		ring_init(&dev->win, dev->storage, d->window, d->features);
	dev->since_score = d->stride;   /* the first full window is scored */
	dev->seq = d->cfg.seq_base;
	thr_init_with(&dev->thr, &d->cfg.thr, dev->storage + d->win_floats);
	alert_init(&dev->alert);
	if (d->sc.state_bytes && d->sc.ops->state_init)
		d->sc.ops->state_init(d->sc.self, (char *)dev + d->sc_off);
	dev->last_score = NAN;
}

iotad_err det_add(det *d, const char *id, size_t len, uint32_t h, uint32_t *out)
{
	uint32_t slot;
	det_device *dev;

	if (d->free_head == DET_NIL && d->high == d->cfg.max_devices) {
		if (d->cfg.evict != DET_EVICT_LRU || d->lru_tail == DET_NIL)
			return IOTAD_ERR_FULL;
		/* Reuse the least recently seen device's slot and block. */
		slot = d->lru_tail;
		det_unlink(d, slot);
		dev = d->slots[slot];
		if (d->on_evict)
			d->on_evict(d->evict_ud, dev->id);
		d->evictions++;
		d->count--;
	} else {
		dev = malloc(d->dev_bytes);
		if (!dev)
			return IOTAD_ERR_NOMEM;
		if (d->free_head != DET_NIL) {
			slot = d->free_head;
			d->free_head = d->next[slot];
		} else {
			slot = d->high++;
		}
		d->slots[slot] = dev;
	}
	det_device_reset(d, dev, id, len, h);
	d->next[slot] = d->buckets[h & (d->n_buckets - 1)];
	d->buckets[h & (d->n_buckets - 1)] = slot;
	det_lru_push_head(d, slot);
	d->count++;
	*out = slot;
	return IOTAD_OK;
}

/* Unlink slot, free its device, recycle the slot. */
static void det_remove(det *d, uint32_t slot)
{
	det_unlink(d, slot);
	free(d->slots[slot]);
	d->slots[slot] = NULL;
	d->next[slot] = d->free_head;
	d->free_head = slot;
	d->count--;
}

size_t det_evict(det *d, double now, double idle_after)
{
	size_t n = 0;

	if (!d || !isfinite(now) || !(idle_after >= 0.0))
		return 0;
	for (uint32_t i = 0; i < d->high; i++) {
		det_device *dev = d->slots[i];
		if (dev && now - dev->last_seen > idle_after) {
			if (d->on_evict)
				d->on_evict(d->evict_ud, dev->id);
			det_remove(d, i);
			n++;
		}
	}
	return n;
}

uint64_t det_evictions(const det *d)
{
	return d ? d->evictions : 0;
}

size_t det_device_count(const det *d)
{
	return d ? d->count : 0;
}

size_t det_raised_count(const det *d)
{
	size_t n = 0;
	for (uint32_t i = d ? d->lru_head : DET_NIL; i != DET_NIL; i = d->lru_next[i])
		n += d->slots[i]->alert.status == ALERT_RAISED;
	return n;
}

bool det_device_known(const det *d, const char *device, bool *raised, uint64_t *seq)
{
	size_t len;
	*raised = false;
	*seq = 0;
	if (!d || !device || (len = strlen(device)) >= DET_DEVICE_ID_MAX)
		return false;
	uint32_t slot = det_find(d, device, len, det_hash(device, len));
	if (slot == DET_NIL)
		return false;
	*raised = d->slots[slot]->alert.status == ALERT_RAISED;
	*seq = d->slots[slot]->seq;
	return true;
}

void det_on_evict(det *d, det_evict_cb cb, void *ud)
{
	d->on_evict = cb;
	d->evict_ud = ud;
}

bool det_oldest(const det *d, double *last_seen)
{
	if (!d || d->lru_tail == DET_NIL)
		return false;
	*last_seen = d->slots[d->lru_tail]->last_seen;
	return true;
}

bool det_evict_oldest(det *d)
{
	if (!d || d->lru_tail == DET_NIL)
		return false;
	uint32_t slot = d->lru_tail;
	if (d->on_evict)
		d->on_evict(d->evict_ud, d->slots[slot]->id);
	det_remove(d, slot);
	d->evictions++;
	return true;
}

bool det_forget(det *d, const char *device)
{
	size_t len;
	if (!d || !device || (len = strlen(device)) >= DET_DEVICE_ID_MAX)
		return false;
	uint32_t slot = det_find(d, device, len, det_hash(device, len));
	if (slot == DET_NIL)
		return false;
	det_remove(d, slot);
	return true;
}
