/* rng.h - the seeded random generator: xorshift64* seeded through
 * splitmix64. Pure (libm only), so the detector core may use it; the same
 * seed gives the same sequence on every platform. A generator belongs to
 * one thread. */
#ifndef IOTAD_RNG_H
#define IOTAD_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rng {
	uint64_t s;             /* never 0 */
	double spare;           /* the second normal of a Box-Muller pair */
	bool has_spare;
} rng;

/* One step of splitmix64 over *x: how generators are seeded, and a
 * counter-based stream of its own (weight initialisation draws from it). */
uint64_t rng_splitmix64(uint64_t *x);
/* Seed r from seed (any value, 0 too). */
void rng_seed(rng *r, uint64_t seed);
/* Seed r for stream b of item a under seed (e.g. one device's noise): the
 * streams of different (a, b) are unrelated. */
void rng_seed_stream(rng *r, uint64_t seed, uint64_t a, uint64_t b);
/* Next 64 random bits. */
uint64_t rng_next(rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_unit(rng *r);
/* Uniform in [lo, hi). */
double rng_range(rng *r, double lo, double hi);
/* Uniform in [0, n) without modulo bias; n > 0. */
size_t rng_below(rng *r, size_t n);
/* Standard normal (Box-Muller; the pair's second value is kept for the next call). */
double rng_normal(rng *r);
/* Exponential with the given mean. */
double rng_exp(rng *r, double mean);

/* The draws for a stream of another engine (the simulator's): the top 53
 * bits of v as a double in [0, 1); a standard normal from the engine's
 * uniform draws unit(eng) (Box-Muller, the pair's second kept in *spare
 * while *has_spare), as rng_normal draws. */
double rng_bits_unit(uint64_t v);
double rng_normal_of(double (*unit)(void *eng), void *eng, double *spare, bool *has_spare);

#endif
