/* spot.h - generalized Pareto tail of a score distribution, fitted by
 * Grimshaw's maximum-likelihood method, and its extreme quantile: the
 * arithmetic of peaks-over-threshold (SPOT / DSPOT, Siffer et al., KDD
 * 2017). Pure functions on caller-owned arrays: no allocation, no state. */
#ifndef IOTAD_SPOT_H
#define IOTAD_SPOT_H

#include "iotad/error.h"

/* A set of peaks (excesses over the initial threshold, all > 0) in two
 * parts: n weighted values y[i] (w NULL: weight 1 each) and n2 values y2[i]
 * of weight 1. Either part may be empty. */
typedef struct spot_peaks {
	const float *y;
	const float *w;
	int n;
	const float *y2;
	int n2;
} spot_peaks;

/* GPD P(Y > y) = (1 + gamma * y / sigma)^(-1 / gamma); gamma 0: exp(-y / sigma). */
typedef struct spot_gpd {
	double gamma;
	double sigma;   /* > 0 */
} spot_gpd;

/* Maximum-likelihood GPD fit of the peaks (Grimshaw's reduction to one
 * variable; the exponential case is one of the candidates). Returns
 * IOTAD_ERR_INVAL if there is no peak, a weight or value is not finite and
 * positive. Cost: about 100 passes over the peaks. No allocation. */
iotad_err spot_fit(const spot_peaks *pk, spot_gpd *out);
/* Refit after a small change of the peaks (one added or replaced): *g
 * holds the previous fit; the root it came from is followed locally (~10
 * passes), a full spot_fit when it cannot be. Same errors. */
iotad_err spot_refit(const spot_peaks *pk, spot_gpd *g);
/* Threshold z with P(score > z) = q, given the initial threshold t exceeded
 * by n_peaks of n observations and the GPD g of the excesses:
 * t + sigma / gamma * ((q n / n_peaks)^-gamma - 1), t - sigma ln(q n / n_peaks)
 * when gamma = 0. Not below t; +inf when it overflows or q n / n_peaks is
 * not positive and finite. */
double spot_quantile(const spot_gpd *g, double t, double q, double n, double n_peaks);

#endif
