/* rounding.c — stochastic rounding to bfloat16 on the host, bit for bit kernels/common.cl's
 * optcl_to_bf16_sr: torchao's _fp32_to_bf16_sr with the 16-bit draw from lowbias32 (Wellons'
 * hash-prospector) of the element index xor the step's key. */
#include "internal.h"

#include <string.h>

/* splitmix64 (Steele et al. 2014) of seed and step: a fresh 32-bit key every step. */
uint32_t optcl__round_key(uint64_t seed, uint64_t step)
{
    uint64_t z = seed + step * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)(z ^ (z >> 31));
}

static uint32_t draw(uint32_t element, uint32_t key)
{
    uint32_t x = element ^ key;
    x = (x ^ (x >> 16)) * 0x7FEB352Du;
    x = (x ^ (x >> 15)) * 0x846CA68Bu;
    return x ^ (x >> 16);
}

void optcl__round_stochastic(float *x, size_t first, size_t n, uint32_t key)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u, r = draw((uint32_t)(first + i), key);
        memcpy(&u, &x[i], sizeof u);
        uint32_t down = u & 0xFFFF0000u, up = (r >> 16) < (u & 0xFFFFu) ? down + 0x10000u : down;
        float f;
        memcpy(&f, &up, sizeof f);
        x[i] = optcl__bf16_widen(optcl__bf16_round(f)); /* exact, and NaN → 0x7FC0 */
    }
}
