/* dpacct.h - privacy accounting of the Gaussian mechanism by Rényi
 * differential privacy (RDP): the sampled Gaussian mechanism (each record
 * taken with probability q, its contribution clipped to C, Gaussian noise of
 * standard deviation z C added to the sum) at integer orders alpha (Mironov,
 * Talwar and Zhang 2019, the moments accountant of Abadi et al. 2016),
 * composed over steps and converted to (epsilon, delta) by
 * epsilon = RDP(alpha) + log(1 / delta) / (alpha - 1) at the best order
 * (Mironov 2017). Pure: libm only; any thread. */
#ifndef IOTAD_DPACCT_H
#define IOTAD_DPACCT_H

#include <stdint.h>

#define DP_MIN_ORDER 2
#define DP_MAX_ORDER 256
#define DP_N_ORDERS (DP_MAX_ORDER - DP_MIN_ORDER + 1)

/* The RDP of a sequence of mechanisms at every integer order. */
typedef struct dp_acct {
	double rdp[DP_N_ORDERS];   /* rdp[i]: order DP_MIN_ORDER + i; may be +Inf */
} dp_acct;

/* RDP at integer order alpha (DP_MIN_ORDER..DP_MAX_ORDER) of one step of the
 * sampled Gaussian mechanism with sampling rate q in [0, 1] and noise
 * multiplier z >= 0: log(A_alpha) / (alpha - 1) with
 * A_alpha = sum_k C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 z^2)).
 * q = 1 gives the Gaussian mechanism, alpha / (2 z^2); q = 0 gives 0; z = 0
 * with q > 0 gives +Inf (no privacy). NaN for arguments out of range. */
double dp_rdp_sgm(double q, double z, int alpha);

/* An accountant with nothing spent. */
void dp_acct_init(dp_acct *a);

/* Add steps compositions of the sampled Gaussian mechanism (q, z). 0, or -1
 * (nothing added) for q outside [0, 1] or z < 0 or not finite. */
int dp_acct_add(dp_acct *a, double q, double z, uint64_t steps);

/* The smallest epsilon over the orders for delta in (0, 1), and the order
 * that gave it (order may be NULL). +Inf when nothing bounds it (noise 0);
 * NaN for a delta out of range. */
double dp_acct_epsilon(const dp_acct *a, double delta, int *order);

/* Shortcut: epsilon at delta after steps steps of one mechanism (q, z). */
double dp_epsilon(double q, double z, uint64_t steps, double delta, int *order);

#endif
