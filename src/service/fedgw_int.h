/* fedgw_int.h - the federated gateway's state, shared by fedclient.c
 * (sampling, rounds, updates) and fedgwcal.c (held-out windows,
 * thresholds, personalization). Private to the service room. */
#ifndef IOTAD_FEDGW_INT_H
#define IOTAD_FEDGW_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "iotad/dpacct.h"
#include "iotad/fedcal.h"
#include "iotad/fedcalmsg.h"
#include "iotad/fedclient.h"
#include "iotad/fedlocal.h"
#include "iotad/fedmsg.h"
#include "iotad/mqtt.h"
#include "iotad/train.h"

struct fedgw {
	const iotad_config *cfg;
	model m;                      /* the model in use; the worker changes only m.net.params */
	volatile sig_atomic_t *reload_flag;
	char gw[FEDMSG_ID_MAX], t_global[512], t_update[512];
	mq *mq;
	pthread_t worker;
	bool running;
	atomic_bool stop;
	pthread_mutex_t lock;         /* pending global and the pool */
	pthread_cond_t cond;
	unsigned char *pending, *work;/* a global model: from Paho, then the worker's copy */
	size_t cap, pending_len;
	bool have_pending;
	fed_pool pool;
	/* scorer thread: device table (open addressing) and each device's last W samples */
	size_t dim, table;
	char (*ids)[DET_DEVICE_ID_MAX];
	int *slot_of;                 /* table -> device index, -1 free */
	float *ring;                  /* max_devices x dim, normalized */
	uint64_t *seen;               /* samples per device */
	int n_dev;
	float *win;                   /* one window, oldest first */
	/* worker */
	bool have_global, owe_update, judge;
	uint32_t round, hash;         /* the global model accepted last */
	uint32_t cand_round, cand_hash, cand_parent; /* the one waiting to be judged */
	float *global;                /* the global model waiting to be judged */
	float *base;                  /* the global model accepted last: updates train from it */
	float *cand, *x;              /* a candidate network; the gathered windows */
	nn net;                       /* scratch network of the model's shape */
	fedmsg_enc encoding;          /* of the updates sent (federated.update_encoding) */
	double last_change;
	float cand_eps, cand_delta;   /* the candidate's privacy claim */
	_Atomic uint64_t n_accepted, n_refused, n_invalid, n_sent, n_local, n_unsampled;
	_Atomic uint64_t n_failed, n_joined;
	_Atomic uint32_t m_round;     /* for /metrics: round, epsilon and delta accepted last */
	_Atomic double m_eps, m_delta;
	_Atomic double m_window_eps;  /* DP-SGD: window-level epsilon of every local training */
	dp_acct acct;                 /* worker: DP-SGD's accountant */
	/* held-out windows, thresholds and personalization (fedgwcal.c) */
	fed_pool hold;                /* every hold_period-th normal window: never trained on */
	int hold_period;
	float *xh, *scores;           /* gathered held-out windows; their scores */
	fedcal_mode thr_mode;
	fedcal_pers pers;
	nn cnet[3];                   /* candidates: global, fine-tuned, own (kept across rounds) */
	fedcal_pick serving;
	char t_calib[512], t_thr[512];
	char thr_msg[FEDCALMSG_MAX];  /* under lock: the aggregator's threshold, from Paho */
	size_t thr_len;
	bool have_thr;
	fedcal_global gthr;           /* worker: the aggregator's threshold received last */
	bool gthr_valid;
	_Atomic double m_thr, m_thr_gw, m_thr_global;
	_Atomic uint64_t n_serving[3];
};

/* fedclient.c: train from `from` on the pool into g->net (false: too few
 * windows); train and publish the update owed for the round accepted last;
 * write params as the model in use and ask the service to reload. */
bool fedgw_train_local(fedgw *g, const float *from, uint64_t seed, size_t *n_out,
		       train_report *rep);
void fedgw_send_update(fedgw *g);
void fedgw_swap_in(fedgw *g, const float *params, int version, const char *what);

/* fedgwcal.c: buffers (at create; freed by fedgw_cal_free, which accepts
 * a zeroed gateway). */
iotad_err fedgw_cal_init(fedgw *g);
void fedgw_cal_free(fedgw *g);
/* Bytes fedgw_cal_init allocated. */
size_t fedgw_cal_bytes(const fedgw *g);
/* A window judged normal of device d: into the held-out pool or the
 * training pool. Lock held. */
void fedgw_cal_offer(fedgw *g, int d, const float *win);
/* After a global model is accepted (same: it is the model in use): pick
 * the network to serve, calibrate its threshold, send the summary of the
 * held-out scores, swap it in. Worker thread. */
void fedgw_after_accept(fedgw *g, bool same);
/* Paho's thread: a message on the threshold topic (copied for the worker). */
void fedgw_cal_message(fedgw *g, const void *payload, size_t len);
/* Worker: apply the aggregator's threshold if one came for the model in use. */
void fedgw_cal_poll(fedgw *g);

#endif
