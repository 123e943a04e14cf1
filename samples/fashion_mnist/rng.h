/* rng.h — the sample's seeded random numbers (xoshiro256**, seeded by splitmix64), so a run is
 * the same on every machine: weight initialisation, the train/valid split, epoch shuffles. */
#ifndef FM_RNG_H
#define FM_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct fm_rng {
    uint64_t s[4];
} fm_rng;

static inline uint64_t fm_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* stream separates independent uses of one seed (split, shuffles, initialisation). */
static inline fm_rng fm_rng_seed(uint64_t seed, uint64_t stream)
{
    fm_rng r;
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    for (int i = 0; i < 4; i++)
        r.s[i] = fm_splitmix64(&x);
    return r;
}

static inline uint64_t fm_rng_next(fm_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double fm_rng_uniform(fm_rng *r)
{
    return (double)(fm_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n) for 0 < n ≤ 2^32, without modulo bias (Lemire's multiply-shift with
 * rejection, on 32-bit draws so the product fits in 64 bits). */
static inline uint32_t fm_rng_below(fm_rng *r, uint64_t n)
{
    uint64_t threshold = (((uint64_t)1 << 32) - n) % n;
    for (;;) {
        uint64_t m = (fm_rng_next(r) >> 32) * n;
        if ((m & 0xffffffffu) >= threshold)
            return (uint32_t)(m >> 32);
    }
}

/* Fisher–Yates. */
static inline void fm_shuffle(fm_rng *r, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)fm_rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

#endif
