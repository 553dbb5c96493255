/* core/rng.h — the library's one random number generator (xoshiro256**,
 * seeded through splitmix64): every mask, dropout draw and initial weight
 * comes from it, so runs are reproducible from a seed and resumable from a
 * saved state. */
#ifndef SV_RNG_H
#define SV_RNG_H

#include <stdint.h>

typedef struct sv_rng { uint64_t s[4]; } sv_rng;

void sv_rng_seed(sv_rng *r, uint64_t seed);
uint64_t sv_rng_u64(sv_rng *r);
/* Uniform in [0, 1) with 24 bits (exactly representable as float). */
float sv_rng_uniform(sv_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint32_t sv_rng_below(sv_rng *r, uint32_t n);
/* Standard normal (Box-Muller, double precision). */
double sv_rng_normal(sv_rng *r);

#endif /* SV_RNG_H */
