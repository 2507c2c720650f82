/* rng.c - xorshift64* seeded through splitmix64 (Vigna, "An experimental
 * exploration of Marsaglia's xorshift generators", 2016). Training's
 * shuffle has always drawn from this generator, so seeded models keep
 * their weights. Pure: libm only. */
#include "iotad/rng.h"

#include <math.h>

#define RNG_GOLDEN 0x9e3779b97f4a7c15ULL
#define RNG_NONZERO 0x2545f4914f6cdd1dULL

uint64_t rng_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += RNG_GOLDEN);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void rng_seed(rng *r, uint64_t seed)
{
	uint64_t x = seed;
	uint64_t z = rng_splitmix64(&x);
	r->s = z ? z : RNG_NONZERO;
	r->spare = 0.0;
	r->has_spare = false;
}

void rng_seed_stream(rng *r, uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t x = seed;
	uint64_t mix = rng_splitmix64(&x) ^ (a * 0xD1B54A32D192ED03ULL) ^ (b * 0xAEF17502108EF2D9ULL);
	rng_seed(r, mix);
}

uint64_t rng_next(rng *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * RNG_NONZERO;
}

double rng_bits_unit(uint64_t v)
{
	return (double)(v >> 11) * 0x1.0p-53;
}

double rng_normal_of(double (*unit)(void *eng), void *eng, double *spare, bool *has_spare)
{
	if (*has_spare) {
		*has_spare = false;
		return *spare;
	}
	double u1 = 1.0 - unit(eng); /* (0, 1] so log is finite */
	double u2 = unit(eng);
	double rad = sqrt(-2.0 * log(u1));
	*spare = rad * sin(2.0 * M_PI * u2);
	*has_spare = true;
	return rad * cos(2.0 * M_PI * u2);
}

double rng_unit(rng *r)
{
	return rng_bits_unit(rng_next(r));
}

double rng_range(rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_unit(r);
}

size_t rng_below(rng *r, size_t n)
{
	uint64_t lim = UINT64_MAX - UINT64_MAX % n;
	uint64_t v;
	do
		v = rng_next(r);
	while (v >= lim);
	return (size_t)(v % n);
}

static double rng_unit_of(void *eng)
{
	return rng_unit(eng);
}

double rng_normal(rng *r)
{
	return rng_normal_of(rng_unit_of, r, &r->spare, &r->has_spare);
}

double rng_exp(rng *r, double mean)
{
	return -mean * log(1.0 - rng_unit(r));
}
