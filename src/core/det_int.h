/* det_int.h - the detector's internals shared by its files: the device
 * block, the detector struct, and the helpers the table, the push path, the
 * lifecycle and the state code call across files. Not a public header. */
#ifndef IOTAD_DET_INT_H
#define IOTAD_DET_INT_H

#include "iotad/detector.h"
#include "iotad/modelpack.h"
#include "iotad/ring.h"

#define DET_MAX_DEVICES 10000000u
#define DET_NIL UINT32_MAX
/* channels whose first firing in an open alarm raises it again */
#define DET_NEW_CAUSE ((1u << PROF_CH_JUMP) | (1u << PROF_CH_NOISE) | (1u << PROF_CH_STUCK))
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
	uint8_t cause;          /* channels (det_result.channels) fired in the open alarm */
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
	model_pack *pack;       /* owned: the model packed for scoring (float model,
				 * no scorer given), or NULL */
	float *bx;              /* DET_SCORER_BATCH windows waiting in det_push_batch */
};

/* The scorer's state of dev; NULL without a device or a state. */
static inline void *det_sc_state(const det *d, det_device *dev)
{
	return dev && d->sc.state_bytes ? (char *)dev + d->sc_off : NULL;
}

/* The device's run lengths: samples in a row with one value, per feature. */
static inline uint8_t *det_runs(const det *d, det_device *dev)
{
	return (uint8_t *)dev + d->run_off;
}

/* The device's profile (d->prof_floats floats). */
static inline float *det_prof(const det *d, det_device *dev)
{
	return dev->storage + d->prof_off;
}

/* The device's seasonal state, after its profile (season_floats floats). */
static inline float *det_season(const det *d, det_device *dev)
{
	return dev->storage + d->prof_off + prof_floats(&d->prof);
}

/* Record event ev (if any) in res with the device's next sequence number. */
static inline void det_emit(det_device *dev, det_result *res, alert_event ev)
{
	if (ev == ALERT_EV_NONE)
		return;
	res->event = ev;
	res->seq = ++dev->seq;
}

/* The device time of each window row, indexed like the ring's rows. */
static inline double *det_times(const det *d, det_device *dev)
{
	return (double *)(void *)((uint8_t *)dev + d->ts_off);
}

/* Physical row of the i-th oldest sample of the window. */
static inline uint32_t det_row(const det_device *dev, uint32_t i)
{
	const ring *r = &dev->win;
	return r->count < r->window ? i : (r->head + i) % r->window;
}

/* FNV-1a hash of the device id s (len bytes). */
uint32_t det_hash(const char *s, size_t len);
/* Slot of the device, or DET_NIL. */
uint32_t det_find(const det *d, const char *id, size_t len, uint32_t h);
/* Move slot to the head of the recency list (most recently seen). */
void det_lru_touch(det *d, uint32_t slot);
/* Reset dev to a fresh device named id, its whole block cleared. */
void det_device_reset(det *d, det_device *dev, const char *id, size_t len, uint32_t h);
/* Add the device named id (hash h) in a free slot, or in the least recently
 * seen one's under LRU; its slot in *out. */
iotad_err det_add(det *d, const char *id, size_t len, uint32_t h, uint32_t *out);
/* Make the device's current behaviour its normal (operator or adapt). */
void det_rebaseline_device(const det *d, det_device *dev);
/* Count a normalized sample into the run lengths of the stuck check. */
void det_count_run(const det *d, det_device *dev, const float *sample);
/* Push a normalized sample taken at device time ts as the newest row. */
void det_ring_push(const det *d, det_device *dev, const float *row, double ts);

#endif
