/* test_rng.h - seeded, reproducible draws for statistical tests from the
 * splitmix64 stream of base's rng (rng_splitmix64), shared by the test
 * files that need them. */
#ifndef IOTAD_TEST_RNG_H
#define IOTAD_TEST_RNG_H

#include <math.h>
#include <stdint.h>

#include "iotad/rng.h"

/* Uniform in (0, 1). */
static inline double trng_unit(uint64_t *s)
{
	return ((double)(rng_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
}

/* Exponential with the given mean: P(X > x) = exp(-x / mean). */
static inline float trng_exp(uint64_t *s, double mean)
{
	return (float)(-mean * log(trng_unit(s)));
}

/* Generalized Pareto from 0: P(X > x) = (1 + gamma x / sigma)^(-1 / gamma). */
static inline float trng_gpd(uint64_t *s, double gamma, double sigma)
{
	double u = trng_unit(s);
	return gamma == 0.0 ? (float)(-sigma * log(u)) : (float)(sigma / gamma * (pow(u, -gamma) - 1.0));
}

/* Standard normal (Box-Muller, one of the pair). */
static inline double trng_normal(uint64_t *s)
{
	double u = trng_unit(s), v = trng_unit(s);
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#endif
