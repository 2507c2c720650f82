/* spot.c - generalized Pareto tail fit (Grimshaw) and extreme quantile.
 *
 * Grimshaw's reduction: with x = gamma / sigma, the likelihood equations of
 * the GPD become one equation in x,
 *   w(x) = u(x) v(x) - 1 = 0,  u(x) = mean 1 / (1 + x y),
 *                              v(x) = 1 + mean ln(1 + x y),
 * and a root gives gamma = v(x) - 1, sigma = gamma / x. Roots lie in
 * (-1 / ymax, 0) and (0, 2 (mean - ymin) / ymin^2]. Each interval is
 * scanned on a grid, every sign change is refined (Illinois), and of the
 * roots and the exponential fit (gamma = 0, sigma = mean) the one of highest
 * likelihood wins. At a root the log-likelihood per unit weight is
 * -(ln sigma + 1 + gamma); for the exponential fit it is -(ln mean + 1). */
#include <math.h>

#include "iotad/spot.h"

#define SPOT_GRID 16            /* scan points per half interval */
#define SPOT_ITER 100           /* Illinois iterations at most */
#define SPOT_XTOL 1e-11         /* relative width at which a root is final */

typedef struct spot_stats {
	double wsum;            /* total weight */
	double mean;
	double ymin, ymax;
} spot_stats;

static iotad_err spot_scan_stats(const spot_peaks *pk, spot_stats *st)
{
	double s = 0.0;

	st->wsum = 0.0;
	st->ymin = INFINITY;
	st->ymax = 0.0;
	if (!pk || pk->n < 0 || pk->n2 < 0 || (pk->n > 0 && !pk->y) || (pk->n2 > 0 && !pk->y2))
		return IOTAD_ERR_INVAL;
	for (int i = 0; i < pk->n + pk->n2; i++) {
		double y = i < pk->n ? pk->y[i] : pk->y2[i - pk->n];
		double w = i < pk->n && pk->w ? pk->w[i] : 1.0;
		if (!(isfinite(y) && y > 0.0 && isfinite(w) && w > 0.0))
			return IOTAD_ERR_INVAL;
		st->wsum += w;
		s += w * y;
		st->ymin = fmin(st->ymin, y);
		st->ymax = fmax(st->ymax, y);
	}
	if (!(st->wsum > 0.0))
		return IOTAD_ERR_INVAL;
	st->mean = s / st->wsum;
	return IOTAD_OK;
}

/* w(x) of the header comment; *gamma receives v(x) - 1. */
static double spot_w(const spot_peaks *pk, const spot_stats *st, double x, double *gamma)
{
	double su = 0.0, sv = 0.0;

	for (int i = 0; i < pk->n; i++) {
		double w = pk->w ? pk->w[i] : 1.0;
		double xy = x * pk->y[i];
		su += w / (1.0 + xy);
		sv += w * log1p(xy);
	}
	for (int i = 0; i < pk->n2; i++) {
		double xy = x * pk->y2[i];
		su += 1.0 / (1.0 + xy);
		sv += log1p(xy);
	}
	*gamma = sv / st->wsum;
	return su / st->wsum * (1.0 + *gamma) - 1.0;
}

/* Refine a root of w in the bracket [a, b] (fa, fb of opposite signs). */
static double spot_root(const spot_peaks *pk, const spot_stats *st, double a, double fa,
			double b, double fb)
{
	double g;

	for (int it = 0; it < SPOT_ITER; it++) {
		double c = (a * fb - b * fa) / (fb - fa);
		double fc = spot_w(pk, st, c, &g);
		if (fc == 0.0)
			return c;
		if ((fc < 0.0) != (fb < 0.0)) {
			a = b;
			fa = fb;
		} else {
			fa /= 2.0;
		}
		b = c;
		fb = fc;
		if (fabs(b - a) <= SPOT_XTOL * fabs(b))
			break;
	}
	return b;
}

/* Keep the root x if it is a valid GPD of higher likelihood than *best. */
static void spot_consider(const spot_peaks *pk, const spot_stats *st, double x, double *best_cost,
			  spot_gpd *best)
{
	double gamma, sigma, cost;

	spot_w(pk, st, x, &gamma);
	sigma = gamma / x;
	if (!(isfinite(sigma) && sigma > 0.0 && isfinite(gamma)))
		return;
	cost = log(sigma) + 1.0 + gamma;
	if (cost < *best_cost) {
		*best_cost = cost;
		best->gamma = gamma;
		best->sigma = sigma;
	}
}

/* Scan x = scale * s for the increasing grid s[0..n), keep the best root. */
static void spot_scan(const spot_peaks *pk, const spot_stats *st, double scale, const double *s,
		      int n, double *best_cost, spot_gpd *best)
{
	double g, xp = 0.0, fp = 0.0;

	for (int i = 0; i < n; i++) {
		double x = scale * s[i];
		double f = spot_w(pk, st, x, &g);
		if (!isfinite(f))
			continue;
		if (f == 0.0)
			spot_consider(pk, st, x, best_cost, best);
		else if (i > 0 && fp != 0.0 && (f < 0.0) != (fp < 0.0))
			spot_consider(pk, st, spot_root(pk, st, xp, fp, x, f), best_cost, best);
		xp = x;
		fp = f;
	}
}

iotad_err spot_fit(const spot_peaks *pk, spot_gpd *out)
{
	double grid[2 * SPOT_GRID];
	spot_stats st;
	double best_cost, xmax;
	iotad_err err;

	err = spot_scan_stats(pk, &st);
	if (err != IOTAD_OK || !out)
		return err != IOTAD_OK ? err : IOTAD_ERR_INVAL;
	out->gamma = 0.0;
	out->sigma = st.mean;
	best_cost = log(st.mean) + 1.0;
	if (st.ymax - st.ymin <= 1e-12 * st.ymax)
		return IOTAD_OK;        /* equal peaks: nothing but the exponential */

	/* negative side, x = -s / ymax: s from 1e-3 to 0.5 geometrically, then
	 * on to 1 - 1e-6 with the gaps shrinking towards the pole at 1 */
	for (int i = 0; i < SPOT_GRID; i++) {
		double f = (double)i / (SPOT_GRID - 1);
		grid[i] = 1e-3 * pow(500.0, f);
		grid[2 * SPOT_GRID - 1 - i] = 1.0 - 0.5 * pow(2e-6, 1.0 - f);
	}
	spot_scan(pk, &st, -1.0 / st.ymax, grid, 2 * SPOT_GRID, &best_cost, out);

	/* positive side, geometrically from 1e-3 / ymax up to the bound */
	xmax = 2.0 * (st.mean - st.ymin) / (st.ymin * st.ymin);
	if (isfinite(xmax) && xmax > 1e-3 / st.ymax) {
		double lo = 1e-3 / st.ymax;
		for (int i = 0; i < 2 * SPOT_GRID; i++)
			grid[i] = lo * pow(xmax / lo, (double)i / (2 * SPOT_GRID - 1));
		spot_scan(pk, &st, 1.0, grid, 2 * SPOT_GRID, &best_cost, out);
	}
	return IOTAD_OK;
}

/* Bracket a root of w around the previous root x0 by widening steps on
 * both sides (never crossing 0 or the pole at -1 / ymax), then refine it.
 * Returns 0 and the root in *x, -1 if no sign change was found. */
static int spot_follow(const spot_peaks *pk, const spot_stats *st, double x0, double *x)
{
	double g, f0, step = 0.01;

	if (!(x0 > -1.0 / st->ymax) || x0 == 0.0)
		return -1;
	f0 = spot_w(pk, st, x0, &g);
	if (f0 == 0.0) {
		*x = x0;
		return 0;
	}
	if (!isfinite(f0))
		return -1;
	for (int k = 0; k < 6; k++, step *= 4.0) {
		double lo = x0 * (1.0 - step), hi = x0 * (1.0 + step);
		if (step >= 1.0)
			lo = x0 * 1e-3;
		if (hi < -1.0 / st->ymax)
			hi = x0 + (-1.0 / st->ymax - x0) * (1.0 - 1e-9);
		double flo = spot_w(pk, st, lo, &g), fhi = spot_w(pk, st, hi, &g);
		if (isfinite(flo) && (flo < 0.0) != (f0 < 0.0)) {
			*x = spot_root(pk, st, lo, flo, x0, f0);
			return 0;
		}
		if (isfinite(fhi) && (fhi < 0.0) != (f0 < 0.0)) {
			*x = spot_root(pk, st, x0, f0, hi, fhi);
			return 0;
		}
	}
	return -1;
}

iotad_err spot_refit(const spot_peaks *pk, spot_gpd *g)
{
	spot_stats st;
	spot_gpd best;
	double cost, x;
	iotad_err err;

	if (!g || !(g->sigma > 0.0) || g->gamma == 0.0)
		return spot_fit(pk, g);
	err = spot_scan_stats(pk, &st);
	if (err != IOTAD_OK)
		return err;
	if (spot_follow(pk, &st, g->gamma / g->sigma, &x) < 0)
		return spot_fit(pk, g);
	best.gamma = 0.0;
	best.sigma = st.mean;
	cost = log(st.mean) + 1.0;
	spot_consider(pk, &st, x, &cost, &best);
	*g = best;
	return IOTAD_OK;
}

double spot_quantile(const spot_gpd *g, double t, double q, double n, double n_peaks)
{
	double r = q * n / n_peaks;
	double lr = log(r), z;

	if (!(r > 0.0) || !isfinite(lr))
		return INFINITY;        /* no risk, or no peak to extrapolate from */
	/* (r^-gamma - 1) / gamma, stable as gamma -> 0 */
	if (fabs(g->gamma) < 1e-12)
		z = t - g->sigma * lr;
	else
		z = t + g->sigma * expm1(-g->gamma * lr) / g->gamma;
	if (isnan(z))
		return INFINITY;
	return z > t ? z : t;
}
