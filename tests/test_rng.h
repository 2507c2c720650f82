/* test_rng.h - seeded, reproducible random numbers for statistical tests
 * (splitmix64), shared by the test files that need them. */
#ifndef IOTAD_TEST_RNG_H
#define IOTAD_TEST_RNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static inline double rng_unit(uint64_t *s)
{
	return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

/* Exponential with the given mean: P(X > x) = exp(-x / mean). */
static inline float rng_exp(uint64_t *s, double mean)
{
	return (float)(-mean * log(rng_unit(s)));
}

/* Generalized Pareto from 0: P(X > x) = (1 + gamma x / sigma)^(-1 / gamma). */
static inline float rng_gpd(uint64_t *s, double gamma, double sigma)
{
	double u = rng_unit(s);
	return gamma == 0.0 ? (float)(-sigma * log(u)) : (float)(sigma / gamma * (pow(u, -gamma) - 1.0));
}

/* Standard normal (Box-Muller, one of the pair). */
static inline double rng_normal(uint64_t *s)
{
	double u = rng_unit(s), v = rng_unit(s);
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#endif
