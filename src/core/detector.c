/* detector.c - the detector core: device table, windows, scoring,
 * thresholds and alerts.
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

#include "iotad/detector.h"
#include "iotad/ring.h"

#define DET_MAX_DEVICES 10000000u
#define DET_NIL UINT32_MAX
#define DET_MAX_LEARN 100000000u

typedef struct det_device {
	char id[DET_DEVICE_ID_MAX];
	uint32_t hash;
	uint32_t since_score;   /* samples pushed since the last scored window */
	ring win;               /* normalized samples */
	thr_state thr;
	alert_state alert;
	double last_ts;         /* device time of the last sample */
	double last_seen;       /* caller's clock at the last sample (stale, evict) */
	uint64_t seq;           /* events emitted so far */
	float smooth;           /* EWMA of the window scores (score_alpha) */
	bool smooth_set;        /* smooth holds a score */
	uint32_t pending;       /* profile channels fired since the last scored window */
	bool learning;          /* announced LEARNING, not yet LEARNED */
	bool muted;             /* an operator muted it until muted_until */
	uint32_t samples;       /* samples since new or re-baselined (saturates) */
	float last_score;       /* score of the last judged window, NaN before one */
	double muted_until;     /* caller's clock */
	double gap_credit;      /* seconds of the caller's outages since the last sample */
	float storage[];        /* window * features floats, then the threshold's, then
				 * the profile's */
} det_device;

struct det {
	const model *m;
	det_config cfg;
	uint32_t stride;
	uint32_t window;
	uint32_t features;
	size_t win_floats;      /* window * features */
	size_t dev_bytes;       /* one device's block: struct, window, threshold history */
	/* table */
	uint32_t n_buckets;     /* power of two */
	uint32_t *buckets;      /* n_buckets heads, DET_NIL when empty */
	uint32_t *next;         /* max_devices: chain, or free list */
	uint32_t *lru_prev;     /* max_devices: towards the head (more recent) */
	uint32_t *lru_next;     /* max_devices: towards the tail (less recent) */
	uint32_t lru_head, lru_tail; /* DET_NIL when empty */
	uint64_t evictions;     /* devices dropped to make room */
	det_evict_cb on_evict;  /* told of every device forgotten (NULL: nobody) */
	void *evict_ud;
	det_device **slots;     /* max_devices */
	uint32_t high;          /* slots [0, high) have been handed out once */
	uint32_t free_head;     /* freed slots, DET_NIL when none */
	size_t count;
	det_scorer sc;          /* scores a window: the model's network, or another
				 * (ops NULL without a model) */
	size_t sc_off;          /* offset of the scorer's state in a device's block */
	/* scratch: one window, and the scorer's */
	float *x;
	float *scratch;
	float sample[MODEL_MAX_FEATURES];
	uint32_t stuck_mask;    /* features with a stuck check (model stuck_after) */
	size_t run_off;         /* offset of the run lengths in a device's block */
	/* profile */
	bool use_prof;          /* devices keep a profile */
	prof_params prof;       /* resolved */
	size_t prof_off;        /* float offset of the profile in storage */
	bool use_season;        /* the seasonal channel, its state right after the profile's */
	season_params season;   /* learn = prof.learn */
	float center[MODEL_MAX_FEATURES]; /* the model's centre per feature (ae_device_norm) */
	char names[MODEL_MAX_FEATURES][MODEL_NAME_MAX];
	size_t ts_off;          /* offset of the window's device times (doubles) */
	float *late_rows;       /* scratch: the window in time order with a late sample */
	double *late_ts;
};

void det_config_default(det_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_devices = 10000;
	cfg->evict = DET_EVICT_LRU;
	cfg->stride = 0;
	cfg->alert.k = 3;
	cfg->alert.n = 3;
	cfg->alert.m = 5;
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

static uint32_t det_hash(const char *s, size_t len)
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
	if (alert_params_check(&cfg->alert) != 0)
		DET_BAD("detector: alert: need 1 <= k <= n <= 32, m >= 1 and hold, quiet, "
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
	if (m && !sc) {
		det_scorer_model(&own, m);
		sc = &own;
	}
	/* a scorer needs a model's input; a model needs a scorer that scores */
	if (!m != !sc || (sc && (!sc->ops || !sc->ops->score)))
		return IOTAD_ERR_INVAL;

	d = calloc(1, sizeof *d);
	if (!d)
		return IOTAD_ERR_NOMEM;
	d->m = m;
	d->cfg = *cfg;
	if (sc)
		d->sc = *sc;
	memset(d->cfg.features, 0, sizeof d->cfg.features); /* borrowed: not kept */
	if (m) {
		err = det_resolve_thr(&d->sc, &d->cfg.thr);
	} else {
		/* the channels' score is judged against 1 */
		thr_params_default(&d->cfg.thr, THR_STATIC, 1.0f, 0.5f);
		err = thr_params_fit(&d->cfg.thr, 1.0f, NULL, 0);
	}
	if (err != IOTAD_OK) {
		free(d);
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
	d->scratch = malloc((d->sc.scratch_floats + 1) * sizeof(float));
	d->late_rows = malloc((d->win_floats + d->features) * sizeof(float));
	d->late_ts = malloc((d->window + 1) * sizeof(double));
	if (!d->buckets || !d->next || !d->slots || !d->lru_prev || !d->lru_next || !d->x ||
	    !d->scratch || !d->late_rows || !d->late_ts) {
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
	free(d);
}

/* Slot of the device, or DET_NIL. */
static uint32_t det_find(const det *d, const char *id, size_t len, uint32_t h)
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

static void det_lru_touch(det *d, uint32_t slot)
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

static uint8_t *det_runs(const det *d, det_device *dev);
static float *det_prof(const det *d, det_device *dev);
static float *det_season(const det *d, det_device *dev);

/* Reset dev to a fresh device named id. The whole block is cleared, the
 * window and threshold history too, so nothing stale or uninitialized can
 * reach a score or a state file. */
static void det_device_reset(det *d, det_device *dev, const char *id, size_t len, uint32_t h)
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

/* Make the device's current behaviour its normal: its window, run lengths
 * and threshold history start afresh and it learns again (learn_samples).
 * The one place a re-baseline (operator or adapt) reaches the device. */
static void det_rebaseline_device(const det *d, det_device *dev)
{
	ring_clear(&dev->win);
	dev->since_score = d->stride;
	dev->smooth_set = false;
	if (d->stuck_mask)
		memset(det_runs(d, dev), 0, d->features);
	thr_init_with(&dev->thr, &d->cfg.thr, dev->storage + d->win_floats);
	if (d->use_prof)
		prof_rebaseline(&d->prof, det_prof(d, dev));
	if (d->use_season)
		season_rebaseline(d->features, det_season(d, dev));
	if (d->sc.state_bytes && d->sc.ops->state_init)
		d->sc.ops->state_init(d->sc.self, (char *)dev + d->sc_off);
	dev->pending = 0;
	dev->samples = 0;
	dev->learning = d->cfg.learn_samples > 0;
}

static iotad_err det_add(det *d, const char *id, size_t len, uint32_t h, uint32_t *out)
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

/* The scorer's state of dev; NULL without a device or a state. */
static void *det_sc_state(const det *d, det_device *dev)
{
	return dev && d->sc.state_bytes ? (char *)dev + d->sc_off : NULL;
}

/* Score the window x (of dev, or of no device): the scorer's score and
 * per-feature share of it. */
static float det_score(det *d, det_device *dev, const float *x, float *contrib)
{
	return d->sc.ops->score(d->sc.self, det_sc_state(d, dev), x, contrib, d->scratch);
}

/* A window judged normal: the scorer learns it into dev's state. */
static void det_learn(det *d, det_device *dev, const float *x)
{
	if (d->sc.ops->learn && d->sc.state_bytes)
		d->sc.ops->learn(d->sc.self, det_sc_state(d, dev), x);
}

/* The device's run lengths: samples in a row with one value, per feature. */
static uint8_t *det_runs(const det *d, det_device *dev)
{
	return (uint8_t *)dev + d->run_off;
}

/* Count sample (normalized) into the run lengths, before it joins the ring:
 * equal to the newest sample extends a run, else one starts. */
static void det_count_run(const det *d, det_device *dev, const float *sample)
{
	if (!d->stuck_mask)
		return;
	uint8_t *run = det_runs(d, dev);
	const float *last = ring_last(&dev->win);
	for (uint32_t f = 0; f < d->features; f++)
		run[f] = !last || last[f] != sample[f] ? 1 :
			 run[f] < MODEL_MAX_STUCK_RUN ? run[f] + 1 : MODEL_MAX_STUCK_RUN;
}

/* Features whose run reached the model's stuck_after; when any, they share
 * the blame. */
static uint32_t det_stuck(const det *d, const uint8_t *run, float *contrib)
{
	uint32_t F = d->features, stuck = 0;
	int n = 0;

	for (uint32_t f = 0; d->stuck_mask && f < F; f++) {
		if (d->stuck_mask >> f & 1u && run[f] >= d->m->stuck_after[f]) {
			stuck |= 1u << f;
			n++;
		}
	}
	for (uint32_t f = 0; n && f < F; f++)
		contrib[f] = stuck >> f & 1u ? 1.0f / (float)n : 0.0f;
	return stuck;
}

/* The score judged: the window's own, or with score_alpha an EWMA of the
 * device's window scores, starting at its first one. A non-finite score is
 * passed on and left out of the average. */
static float det_smooth(const det *d, det_device *dev, float score)
{
	float a = d->cfg.score_alpha;

	if (!(a > 0.0f && a < 1.0f) || !isfinite(score))
		return score;
	dev->smooth = dev->smooth_set ? a * score + (1.0f - a) * dev->smooth : score;
	dev->smooth_set = true;
	return dev->smooth;
}

/* The device's profile (d->prof_floats floats). */
static float *det_prof(const det *d, det_device *dev)
{
	return dev->storage + d->prof_off;
}

/* The device's seasonal state, after its profile (season_floats floats). */
static float *det_season(const det *d, det_device *dev)
{
	return dev->storage + d->prof_off + prof_floats(&d->prof);
}

/* The seasonal channel's hook: judge the sample and fold its verdict into
 * the profile's (bit DET_CH_SEASON, blame on its feature). */
static void det_season_step(const det *d, det_device *dev, const float *raw, prof_out *po)
{
	season_out so;
	season_step(&d->season, d->features, det_season(d, dev), raw, &so);
	if (so.score > po->score)
		po->score = so.score;
	if (!so.fired || po->learning)
		return;
	if (!po->fired) {
		memset(po->contrib, 0, sizeof po->contrib);
		po->contrib[so.blame] = 1.0f;
	}
	po->fired |= DET_CH_SEASON;
}

/* Normalize raw for the model: as trained, or (ae_device_norm) shifted
 * by the device's own level onto the model's centre. */
static void det_normalize(const det *d, det_device *dev, const float *raw, float *out)
{
	if (!d->cfg.ae_device_norm) {
		model_normalize(d->m, raw, out);
		return;
	}
	float x[MODEL_MAX_FEATURES];
	const float *st = det_prof(d, dev);
	for (uint32_t f = 0; f < d->features; f++)
		x[f] = raw[f] - prof_level(&d->prof, st, f) + d->center[f];
	model_normalize(d->m, x, out);
}

/* Record event ev (if any) in res with the device's next sequence number. */
static void det_emit(det_device *dev, det_result *res, alert_event ev)
{
	if (ev == ALERT_EV_NONE)
		return;
	res->event = ev;
	res->seq = ++dev->seq;
}

/* Feed the verdict to the alert machine at the device's time ts: alone
 * raises at once (a profile channel's own rule), else k of n. Not fed when
 * the sample already caused an event (resume, unmute, learning), while the
 * device is muted, or while it learns quietly. A stuck window holds off
 * adapt (a frozen sensor is a fault, never the new normal); an ADAPTED
 * device is re-baselined. */
static void det_alert(const det *d, det_device *dev, det_result *res, bool alone, double ts)
{
	alert_params now = d->cfg.alert;

	if (res->event != ALERT_EV_NONE || dev->muted || (dev->learning && !d->cfg.learn_alarms))
		return;
	if (alone)
		now.k = now.n = 1;
	if (res->stuck && dev->alert.status == ALERT_RAISED)
		dev->alert.adapt_from = ts;
	alert_event ev = alert_step_at(&dev->alert, &now, res->anomalous, ts);
	if (ev == ALERT_EV_ADAPTED)
		det_rebaseline_device(d, dev);
	det_emit(dev, res, ev);
}

/* --- device times of the window's rows ------------------------------------ */

/* The device time of each window row, indexed like the ring's rows. */
static double *det_times(const det *d, det_device *dev)
{
	return (double *)(void *)((uint8_t *)dev + d->ts_off);
}

/* Physical row of the i-th oldest sample of the window. */
static uint32_t det_row(const det_device *dev, uint32_t i)
{
	const ring *r = &dev->win;
	return r->count < r->window ? i : (r->head + i) % r->window;
}

/* Push a normalized sample taken at device time ts as the newest row. */
static void det_ring_push(const det *d, det_device *dev, const float *row, double ts)
{
	if (dev->win.window)
		det_times(d, dev)[dev->win.head] = ts;
	ring_push(&dev->win, row);
}

/* How a sample at ts not after the device's newest one relates to the
 * window: IOTAD_ERR_STATE if a row has that time (a redelivery),
 * IOTAD_OK if it may join as a late sample (newer than the oldest row and
 * within the reorder window of the newest), else IOTAD_ERR_RANGE. */
static iotad_err det_classify_late(const det *d, det_device *dev, double ts)
{
	const double *t = det_times(d, dev);
	uint32_t n = dev->win.count;
	if (ts == dev->last_ts)
		return IOTAD_ERR_STATE;
	for (uint32_t i = 0; i < n; i++)
		if (t[det_row(dev, i)] == ts)
			return IOTAD_ERR_STATE;
	if (!(d->cfg.reorder_window > 0.0) || n == 0 || dev->last_ts - ts > d->cfg.reorder_window ||
	    ts <= t[det_row(dev, 0)])
		return IOTAD_ERR_RANGE;
	return IOTAD_OK;
}

/* Put a late sample (normalized) into the window in time order; when the
 * window is full its oldest row leaves. Windows already scored stay as
 * they were; the run lengths of the stuck check do not count it. */
static void det_insert_late(det *d, det_device *dev, const float *row, double ts)
{
	const double *t = det_times(d, dev);
	uint32_t n = dev->win.count, F = d->features, k = 0;
	bool placed = false;
	for (uint32_t i = 0; i <= n; i++) {
		uint32_t p = i < n ? det_row(dev, i) : 0;
		if (!placed && (i == n || t[p] > ts)) {
			memcpy(d->late_rows + (size_t)k * F, row, F * sizeof(float));
			d->late_ts[k++] = ts;
			placed = true;
		}
		if (i < n) {
			memcpy(d->late_rows + (size_t)k * F, dev->win.buf + (size_t)p * F,
			       F * sizeof(float));
			d->late_ts[k++] = t[p];
		}
	}
	/* n + 1 rows in time order: the window keeps the newest */
	uint32_t first = k > dev->win.window ? k - dev->win.window : 0;
	ring_clear(&dev->win);
	for (uint32_t i = first; i < k; i++)
		det_ring_push(d, dev, d->late_rows + (size_t)i * F, d->late_ts[i]);
}

bool det_last_time(const det *d, const char *device, double *last_ts, double *last_seen)
{
	size_t len = device ? strnlen(device, DET_DEVICE_ID_MAX) : 0;
	if (!d || len == 0 || len >= DET_DEVICE_ID_MAX)
		return false;
	uint32_t slot = det_find(d, device, len, det_hash(device, len));
	if (slot == DET_NIL)
		return false;
	if (last_ts)
		*last_ts = d->slots[slot]->last_ts;
	if (last_seen)
		*last_seen = d->slots[slot]->last_seen;
	return true;
}

bool det_rewind(det *d, const char *device, double ts)
{
	size_t len = device ? strnlen(device, DET_DEVICE_ID_MAX) : 0;
	if (!d || len == 0 || len >= DET_DEVICE_ID_MAX || !isfinite(ts))
		return false;
	uint32_t slot = det_find(d, device, len, det_hash(device, len));
	if (slot == DET_NIL)
		return false;
	det_device *dev = d->slots[slot];
	double below = nextafter(ts, -INFINITY);
	double *t = det_times(d, dev);
	for (uint32_t i = 0; i < dev->win.count; i++)
		if (t[det_row(dev, i)] >= ts)
			t[det_row(dev, i)] = below;
	if (dev->last_ts >= ts)
		dev->last_ts = below;
	return true;
}

iotad_err det_push(det *d, const char *device, double ts, const float *raw, det_result *res)
{
	return det_push_at(d, device, ts, ts, raw, res);
}

iotad_err det_push_at(det *d, const char *device, double ts, double now, const float *raw,
		      det_result *res)
{
	det_result local;
	det_device *dev;
	size_t len;
	uint32_t h, slot;
	iotad_err err;
	bool added = false;
	bool late = false;

	if (!res)
		res = &local;
	memset(res, 0, sizeof *res);
	if (!d || !device || !raw || !isfinite(ts) || !isfinite(now))
		return IOTAD_ERR_INVAL;
	len = strnlen(device, DET_DEVICE_ID_MAX);
	if (len == 0 || len >= DET_DEVICE_ID_MAX)
		return IOTAD_ERR_INVAL;

	h = det_hash(device, len);
	slot = det_find(d, device, len, h);
	if (slot != DET_NIL) {
		/* A sample not newer than the device's last one would mix the
		 * past into the window: refuse it, the caller counts it. */
		dev = d->slots[slot];
		if (ts <= dev->last_ts) {
			if ((err = det_classify_late(d, dev, ts)) != IOTAD_OK)
				return err;
			late = true;
		}
		det_lru_touch(d, slot);
	} else {
		err = det_add(d, device, len, h, &slot);
		if (err != IOTAD_OK)
			return err;
		added = true;
	}
	dev = d->slots[slot];
	bool fresh = added;
	/* Stale on the device's own time: a gap in its timestamps longer than
	 * stale_after is a silence, even when its samples arrive back to back
	 * (a replay faster than real time). */
	if (!fresh && d->cfg.stale_after > 0.0 && !dev->muted && dev->alert.status != ALERT_STALE &&
	    ts - dev->last_ts - dev->gap_credit > d->cfg.stale_after) {
		alert_stale(&dev->alert);
		res->gap = true;
		res->gap_ts = dev->last_ts;
		res->gap_seq = ++dev->seq;
	}
	if (!late)
		dev->last_ts = ts;
	dev->last_seen = now;
	dev->gap_credit = 0.0;
	if (dev->samples < UINT32_MAX)
		dev->samples++;

	if (dev->muted && now >= dev->muted_until) {
		dev->muted = false;
		det_emit(dev, res, ALERT_EV_UNMUTED);
	}
	if (dev->alert.status == ALERT_STALE) {
		/* The old window spans the silence: start a fresh one. */
		alert_resume(&dev->alert);
		det_emit(dev, res, dev->learning ? ALERT_EV_LEARNING : ALERT_EV_CLEARED);
		ring_clear(&dev->win);
		dev->since_score = d->stride;
		dev->smooth_set = false;
	} else if (fresh && d->cfg.learn_samples > 0) {
		dev->learning = true;
		det_emit(dev, res, ALERT_EV_LEARNING);
	} else if (dev->learning && dev->samples >= d->cfg.learn_samples &&
		   !(d->use_prof && prof_learning(&d->prof, det_prof(d, dev))) &&
		   res->event == ALERT_EV_NONE) {
		/* learned when both the lifecycle's count and the device's own
		 * normal (the profile's count) are through */
		dev->learning = false;
		/* a device that raised while learning (learn_alarms) stays raised */
		if (dev->alert.status == ALERT_NORMAL)
			det_emit(dev, res, ALERT_EV_LEARNED);
	}

	prof_out po = {0};
	if (d->use_prof) {
		prof_step(&d->prof, det_prof(d, dev), raw, &po);
		if (d->use_season)
			det_season_step(d, dev, raw, &po);
		res->learning = po.learning || dev->learning;
		res->prof_score = po.score;
		res->channels = po.fired;
		dev->pending |= po.fired;
	}
	if (!d->m) {
		/* zero-config: every sample is judged by the channels alone */
		res->scored = true;
		res->score = po.score;
		res->threshold = 1.0f;
		res->anomalous = po.fired != 0;
		memcpy(res->contrib, po.contrib, sizeof po.contrib);
		det_alert(d, dev, res, po.fired != 0, ts);
		return IOTAD_OK;
	}

	det_normalize(d, dev, raw, d->sample);
	res->late = late;
	if (late) {
		det_insert_late(d, dev, d->sample, ts);
	} else {
		det_count_run(d, dev, d->sample);
		det_ring_push(d, dev, d->sample, ts);
	}
	if (dev->since_score < UINT32_MAX)
		dev->since_score++;
	res->threshold = dev->thr.value;
	if (!ring_full(&dev->win) || dev->since_score < d->stride) {
		if (po.fired) {
			res->anomalous = true;
			memcpy(res->contrib, po.contrib, sizeof po.contrib);
			det_alert(d, dev, res, true, ts);
		}
		return IOTAD_OK;
	}

	dev->since_score = 0;
	ring_copy(&dev->win, d->x);
	res->scored = true;
	res->score = det_smooth(d, dev, det_score(d, dev, d->x, res->contrib));
	/* a stuck window is anomalous and, like any anomalous one, not learned */
	res->stuck = det_stuck(d, det_runs(d, dev), res->contrib);
	bool quiet_learning = dev->learning && !d->cfg.learn_alarms;
	bool shape;
	if (quiet_learning) {
		/* learning the device's normal: judged for the record, learned
		 * whatever its score (but a stuck sensor is never normal) */
		shape = !res->stuck && !(res->score < dev->thr.value);
		if (!res->stuck)
			thr_learn(&dev->thr, &d->cfg.thr, res->score);
	} else {
		shape = !res->stuck && thr_update(&dev->thr, &d->cfg.thr, res->score);
	}
	dev->last_score = res->score;
	if (!res->stuck && (quiet_learning || !shape))
		det_learn(d, dev, d->x);
	if (res->stuck)
		res->channels |= 1u << PROF_CH_STUCK;
	if (shape)
		res->channels |= DET_CH_SHAPE;
	res->anomalous = res->stuck || shape || dev->pending;
	if (po.fired && !res->stuck)
		memcpy(res->contrib, po.contrib, sizeof po.contrib);
	/* a channel's raise rule raises alone; the window's verdict goes
	 * through k of n */
	det_alert(d, dev, res, po.fired != 0, ts);
	dev->pending = 0;
	return IOTAD_OK;
}

static void det_sweep_run(det *d, double now, bool stale, det_event_cb cb, void *ud)
{
	if (!d || !isfinite(now))
		return;
	for (uint32_t i = 0; i < d->high; i++) {
		det_device *dev = d->slots[i];
		if (!dev)
			continue;
		if (dev->muted) {
			if (now >= dev->muted_until) {
				dev->muted = false;
				dev->seq++;
				if (cb)
					cb(ud, dev->id, ALERT_EV_UNMUTED, now, dev->seq);
			}
			continue; /* stale from the next sweep on, if still silent */
		}
		if (!stale || !(d->cfg.stale_after > 0.0) || dev->alert.status == ALERT_STALE ||
		    !(now - dev->last_seen > d->cfg.stale_after))
			continue;
		if (alert_stale(&dev->alert) == ALERT_EV_STALE) {
			dev->seq++;
			if (cb)
				cb(ud, dev->id, ALERT_EV_STALE, dev->last_ts, dev->seq);
		}
	}
}

void det_sweep(det *d, double now, det_event_cb cb, void *ud)
{
	det_sweep_run(d, now, true, cb, ud);
}

void det_sweep_mutes(det *d, double now, det_event_cb cb, void *ud)
{
	det_sweep_run(d, now, false, cb, ud);
}

void det_shift_seen(det *d, double seconds, double now)
{
	if (!d || !(seconds > 0.0) || !isfinite(seconds) || !isfinite(now))
		return;
	for (uint32_t i = 0; i < d->high; i++) {
		det_device *dev = d->slots[i];
		if (!dev)
			continue;
		if (dev->last_seen < now)
			dev->last_seen = fmin(dev->last_seen + seconds, now);
		/* the samples it sent meanwhile were lost with the broker, not by it */
		dev->gap_credit += seconds;
	}
}

/* --- operator commands --------------------------------------------------- */

static const char *const det_command_names[DET_CMD__COUNT] = {
	[DET_CMD_REBASELINE] = "rebaseline",
	[DET_CMD_MUTE] = "mute",
	[DET_CMD_FALSE_ALARM] = "false_alarm",
};

const char *det_command_name(det_command_kind k)
{
	return (unsigned)k < DET_CMD__COUNT ? det_command_names[k] : "unknown";
}

int det_command_parse(const char *name, det_command_kind *out)
{
	if (!name || !out)
		return -1;
	for (int k = 0; k < DET_CMD__COUNT; k++)
		if (!strcmp(name, det_command_names[k])) {
			*out = (det_command_kind)k;
			return 0;
		}
	if (!strcmp(name, "false-alarm")) {
		*out = DET_CMD_FALSE_ALARM;
		return 0;
	}
	return -1;
}

iotad_err det_command_apply(det *d, const det_command *cmd, double now, det_result *res)
{
	det_result local;
	size_t len;
	uint32_t slot;

	if (!res)
		res = &local;
	memset(res, 0, sizeof *res);
	if (!d || !cmd || !isfinite(now) || (unsigned)cmd->kind >= DET_CMD__COUNT)
		return IOTAD_ERR_INVAL;
	len = strnlen(cmd->device, DET_DEVICE_ID_MAX);
	if (len == 0 || len >= DET_DEVICE_ID_MAX)
		return IOTAD_ERR_INVAL;
	slot = det_find(d, cmd->device, len, det_hash(cmd->device, len));
	if (slot == DET_NIL)
		return IOTAD_ERR_NOTFOUND;
	det_device *dev = d->slots[slot];
	switch (cmd->kind) {
	case DET_CMD_REBASELINE:
		det_rebaseline_device(d, dev);
		if (dev->alert.status != ALERT_STALE)
			alert_reset_normal(&dev->alert);
		det_emit(dev, res, ALERT_EV_REBASELINED);
		break;
	case DET_CMD_MUTE:
		if (!(cmd->seconds >= 0.0 && cmd->seconds <= DET_MUTE_MAX))
			return IOTAD_ERR_RANGE;
		if (cmd->seconds == 0.0) {
			if (!dev->muted)
				return IOTAD_ERR_STATE;
			dev->muted = false;
			det_emit(dev, res, ALERT_EV_UNMUTED);
			break;
		}
		dev->muted = true;
		dev->muted_until = now + cmd->seconds;
		alert_reset_normal(&dev->alert);
		res->muted_until = dev->muted_until;
		det_emit(dev, res, ALERT_EV_MUTED);
		break;
	case DET_CMD_FALSE_ALARM:
		if (dev->alert.status != ALERT_RAISED)
			return IOTAD_ERR_STATE;
		thr_learn(&dev->thr, &d->cfg.thr, dev->last_score);
		alert_reset_normal(&dev->alert);
		res->score = dev->last_score;
		det_emit(dev, res, ALERT_EV_FALSE_ALARM);
		break;
	default:
		return IOTAD_ERR_INVAL;
	}
	res->threshold = dev->thr.value;
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

iotad_err det_score_window(det *d, const float *raw, size_t n, det_result *res)
{
	uint32_t F;

	if (!d || !raw || !res)
		return IOTAD_ERR_INVAL;
	if (!d->m)
		return IOTAD_ERR_STATE;
	if (n != d->win_floats)
		return IOTAD_ERR_INVAL;
	memset(res, 0, sizeof *res);
	F = d->features;
	for (uint32_t t = 0; t < d->window; t++)
		model_normalize(d->m, raw + (size_t)t * F, d->x + (size_t)t * F);
	res->scored = true;
	res->score = det_score(d, NULL, d->x, res->contrib);
	res->threshold = thr_initial(&d->cfg.thr);
	/* runs within the window only: its newest samples */
	uint8_t run[MODEL_MAX_FEATURES];
	for (uint32_t f = 0; f < F; f++) {
		uint32_t t = d->window - 1;
		while (t > 0 && d->x[(size_t)(t - 1) * F + f] == d->x[(size_t)t * F + f])
			t--;
		run[f] = (uint8_t)(d->window - t < MODEL_MAX_STUCK_RUN ? d->window - t :
				   MODEL_MAX_STUCK_RUN);
	}
	res->stuck = det_stuck(d, run, res->contrib);
	res->anomalous = res->stuck || !(res->score < res->threshold);
	return IOTAD_OK;
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

iotad_err det_rebaseline(det *d, const char *device)
{
	size_t len;
	uint32_t slot;

	if (!d || !device)
		return IOTAD_ERR_INVAL;
	if (!d->use_prof)
		return IOTAD_ERR_STATE;
	len = strnlen(device, DET_DEVICE_ID_MAX);
	if (len == 0 || len >= DET_DEVICE_ID_MAX)
		return IOTAD_ERR_INVAL;
	slot = det_find(d, device, len, det_hash(device, len));
	if (slot == DET_NIL)
		return IOTAD_ERR_NOTFOUND;
	prof_rebaseline(&d->prof, det_prof(d, d->slots[slot]));
	if (d->use_season)
		season_rebaseline(d->features, det_season(d, d->slots[slot]));
	d->slots[slot]->pending = 0;
	return IOTAD_OK;
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
