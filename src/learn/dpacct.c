/* dpacct.c - RDP accountant of the sampled Gaussian mechanism (see
 * dpacct.h). A_alpha is summed in log space (log-sum-exp over the binomial
 * terms) so that large orders and small noise do not overflow. */
#include "iotad/dpacct.h"

#include <math.h>
#include <stddef.h>

/* log C(n, k) by lgamma (exact enough for n <= DP_MAX_ORDER). */
static double log_binom(int n, int k)
{
	return lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1);
}

double dp_rdp_sgm(double q, double z, int alpha)
{
	if (!(q >= 0 && q <= 1) || !(z >= 0) || !isfinite(z) || alpha < DP_MIN_ORDER ||
	    alpha > DP_MAX_ORDER)
		return NAN;
	if (q == 0)
		return 0;
	if (z == 0)
		return INFINITY;
	if (q == 1)
		return (double)alpha / (2 * z * z);
	double lq = log(q), l1q = log1p(-q), s2 = 2 * z * z;
	double terms[DP_MAX_ORDER + 1], top = -INFINITY;
	for (int k = 0; k <= alpha; k++) {
		double t = log_binom(alpha, k) + (double)(alpha - k) * l1q + (double)k * lq +
			   ((double)k * k - k) / s2;
		terms[k] = t;
		if (t > top)
			top = t;
	}
	double sum = 0;
	for (int k = 0; k <= alpha; k++)
		sum += exp(terms[k] - top);
	double log_a = top + log(sum);
	/* A_alpha >= 1 (Jensen); rounding may land a hair below it */
	return log_a > 0 ? log_a / (alpha - 1) : 0;
}

void dp_acct_init(dp_acct *a)
{
	for (int i = 0; i < DP_N_ORDERS; i++)
		a->rdp[i] = 0;
}

int dp_acct_add(dp_acct *a, double q, double z, uint64_t steps)
{
	if (!(q >= 0 && q <= 1) || !(z >= 0) || !isfinite(z))
		return -1;
	if (steps == 0)
		return 0;
	for (int i = 0; i < DP_N_ORDERS; i++)
		a->rdp[i] += (double)steps * dp_rdp_sgm(q, z, DP_MIN_ORDER + i);
	return 0;
}

double dp_acct_epsilon(const dp_acct *a, double delta, int *order)
{
	if (!(delta > 0 && delta < 1))
		return NAN;
	double best = INFINITY;
	int at = 0;
	for (int i = 0; i < DP_N_ORDERS; i++) {
		int alpha = DP_MIN_ORDER + i;
		double e = a->rdp[i] + log(1 / delta) / (alpha - 1);
		if (e < best) {
			best = e;
			at = alpha;
		}
	}
	if (order)
		*order = at;
	return best;
}

double dp_epsilon(double q, double z, uint64_t steps, double delta, int *order)
{
	dp_acct a;
	dp_acct_init(&a);
	if (dp_acct_add(&a, q, z, steps))
		return NAN;
	return dp_acct_epsilon(&a, delta, order);
}
