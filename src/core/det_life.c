/* det_life.c - the detector's lifecycle outside the push path: re-baseline,
 * staleness and mutes swept on the caller's clock, device times rewound,
 * and the operator's commands (rebaseline, mute, false alarm). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "det_int.h"

/* Make the device's current behaviour its normal: its window, run lengths
 * and threshold history start afresh and it learns again (learn_samples).
 * The one place a re-baseline (operator or adapt) reaches the device. */
void det_rebaseline_device(const det *d, det_device *dev)
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
