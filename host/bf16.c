/* bf16.c — bfloat16 on the host, as torch's c10::BFloat16 rounds it: to nearest even, every
 * NaN to the quiet NaN 0x7FC0. kernels/common.cl's optcl_to_bf16 is the same rule. */
#include "internal.h"

#include <math.h>
#include <string.h>

uint16_t optcl__bf16_round(float f)
{
    if (isnan(f))
        return 0x7FC0;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

float optcl__bf16_widen(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void optcl__bf16_round_floats(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = optcl__bf16_widen(optcl__bf16_round(x[i]));
}
