/* detector.c - the detector core's push path: a sample staged into its
 * device's window and profile, the window scored (alone or in a batch),
 * judged against the device's threshold and fed to its alert machine.
 * Nothing is allocated per sample. The table is det_table.c, the
 * lifecycle and operator commands det_life.c, the state det_state.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "det_int.h"

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

/* Count sample (normalized) into the run lengths, before it joins the ring:
 * equal to the newest sample extends a run, else one starts. */
void det_count_run(const det *d, det_device *dev, const float *sample)
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
	/* a new fault during an open alarm: a fault-only channel (a jump, a
	 * burst of noise, a frozen value) that has not fired in it raises
	 * again, with its own blame, so the alarm already up does not hide it
	 * (no transition while RAISED: it was raised before this sample) */
	if (alone) {
		uint8_t fired = (uint8_t)(res->channels & PROF_CH_ALL);
		if (ev == ALERT_EV_RAISED) {
			dev->cause = fired;
		} else if (ev == ALERT_EV_NONE && dev->alert.status == ALERT_RAISED) {
			if (fired & DET_NEW_CAUSE & ~dev->cause)
				ev = ALERT_EV_RAISED;
			dev->cause |= fired;
		}
	} else if (ev == ALERT_EV_RAISED) {
		dev->cause = 0;
	}
	det_emit(dev, res, ev);
}

/* Push a normalized sample taken at device time ts as the newest row. */
void det_ring_push(const det *d, det_device *dev, const float *row, double ts)
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

iotad_err det_push(det *d, const char *device, double ts, const float *raw, det_result *res)
{
	return det_push_at(d, device, ts, ts, raw, res);
}

/* Everything det_push_at does to a sample before its window is scored:
 * *score tells whether a window is due; it is then copied to x and *devp is
 * its device, for det_finish. */
static iotad_err det_stage(det *d, const char *device, double ts, double now, const float *raw,
			   det_result *res, float *x, det_device **devp, bool *score, prof_out *pout)
{
	det_device *dev;
	size_t len;
	uint32_t h, slot;
	iotad_err err;
	bool added = false;
	bool late = false;

	*score = false;
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
	memset(pout, 0, sizeof *pout);
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
	ring_copy(&dev->win, x);
	*pout = po;
	*devp = dev;
	*score = true;
	return IOTAD_OK;
}

/* The rest of det_push_at for a window x of dev scored score (its contrib
 * already in res): threshold, learning, verdict and alert. */
static void det_finish(det *d, det_device *dev, det_result *res, float score, const float *x,
		       double ts, const prof_out *pout)
{
	prof_out po = *pout;

	res->scored = true;
	res->score = det_smooth(d, dev, score);
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
		det_learn(d, dev, x);
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
}

iotad_err det_push_at(det *d, const char *device, double ts, double now, const float *raw,
		      det_result *res)
{
	det_result local;
	det_device *dev = NULL;
	prof_out po;
	bool score;

	if (!res)
		res = &local;
	iotad_err err = det_stage(d, device, ts, now, raw, res, d ? d->x : NULL, &dev, &score, &po);
	if (err != IOTAD_OK || !score)
		return err;
	det_finish(d, dev, res, det_score(d, dev, d->x, res->contrib), d->x, ts, &po);
	return IOTAD_OK;
}

/* A window staged by det_push_batch, waiting for its score. */
typedef struct det_wait {
	det_device *dev;
	det_result *res;
	double ts;
	prof_out po;
} det_wait;

/* Score the waiting windows (d->bx, in order) in one batch when the scorer
 * takes batches, else one by one, and finish each. */
static void det_flush(det *d, det_wait *w, size_t n)
{
	const float *x[DET_SCORER_BATCH];
	float *contrib[DET_SCORER_BATCH], scores[DET_SCORER_BATCH];

	for (size_t k = 0; k < n; k++) {
		x[k] = d->bx + k * d->win_floats;
		contrib[k] = w[k].res->contrib;
	}
	if (d->sc.ops->score_batch && !d->sc.state_bytes && n > 1) {
		d->sc.ops->score_batch(d->sc.self, n, x, contrib, scores, d->scratch);
	} else {
		for (size_t k = 0; k < n; k++)
			scores[k] = det_score(d, w[k].dev, x[k], contrib[k]);
	}
	for (size_t k = 0; k < n; k++)
		det_finish(d, w[k].dev, w[k].res, scores[k], x[k], w[k].ts, &w[k].po);
}

/* Whether staging a sample of device must first finish the waiting windows:
 * its device waits already (its state would run ahead of its verdict), or
 * it is new (adding it may evict a device that waits). */
static bool det_must_flush(const det *d, const char *device, const det_wait *w, size_t n)
{
	size_t len = device ? strnlen(device, DET_DEVICE_ID_MAX) : 0;
	if (n == 0 || len == 0 || len >= DET_DEVICE_ID_MAX)
		return false;
	uint32_t slot = det_find(d, device, len, det_hash(device, len));
	if (slot == DET_NIL)
		return true;
	for (size_t k = 0; k < n; k++)
		if (w[k].dev == d->slots[slot])
			return true;
	return false;
}

size_t det_push_batch(det *d, const det_sample *s, size_t n, det_result *res, iotad_err *rc)
{
	det_wait w[DET_SCORER_BATCH];
	size_t n_wait = 0, ok = 0;

	if (!d || !s || !res)
		return 0;
	for (size_t k = 0; k < n; k++) {
		det_device *dev = NULL;
		bool score = false;
		if (n_wait == DET_SCORER_BATCH || det_must_flush(d, s[k].device, w, n_wait)) {
			det_flush(d, w, n_wait);
			n_wait = 0;
		}
		iotad_err err = det_stage(d, s[k].device, s[k].ts, s[k].now, s[k].raw, &res[k],
					  d->bx + n_wait * d->win_floats, &dev, &score,
					  &w[n_wait].po);
		if (rc)
			rc[k] = err;
		if (err != IOTAD_OK)
			continue;
		ok++;
		if (score) {
			w[n_wait].dev = dev;
			w[n_wait].res = &res[k];
			w[n_wait].ts = s[k].ts;
			n_wait++;
		}
	}
	det_flush(d, w, n_wait);
	return ok;
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
