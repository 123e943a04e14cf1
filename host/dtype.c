/* dtype.c — element types on the host. bfloat16 as torch's c10::BFloat16 rounds it (to nearest
 * even, every NaN to the quiet NaN 0x7FC0), float16 as c10::Half and OpenCL's vstore_half_rte
 * do (to nearest even with subnormals, overflow to ±Inf) with every NaN to 0x7E00 (c10 keeps
 * a NaN's sign; optcl drops it, as c10 does for bfloat16, since the sign an operation gives a
 * NaN differs between compilers and the backends must agree bit for bit).
 * kernels/common.cl stores by the same rules, so both backends hold the same bits. */
#include "internal.h"

#include <math.h>
#include <string.h>

static const char *const names[OPTCL_DTYPE_COUNT] = {"f32", "bf16", "f16"};

const char *optcl_dtype_name(optcl_dtype dtype)
{
    return (int)dtype >= 0 && dtype < OPTCL_DTYPE_COUNT ? names[dtype] : NULL;
}

optcl_status optcl_dtype_from_name(const char *name, optcl_dtype *out)
{
    if (!name || !out)
        return OPTCL_ERROR_NULL_POINTER;
    for (int d = 0; d < OPTCL_DTYPE_COUNT; d++) {
        if (strcmp(name, names[d]) == 0) {
            *out = (optcl_dtype)d;
            return OPTCL_SUCCESS;
        }
    }
    return OPTCL_ERROR_INVALID_ARGUMENT;
}

size_t optcl_dtype_size(optcl_dtype dtype)
{
    return dtype == OPTCL_DTYPE_F32 ? 4 : dtype == OPTCL_DTYPE_BF16 || dtype == OPTCL_DTYPE_F16 ? 2
                                                                                               : 0;
}

uint32_t optcl__float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float optcl__bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t optcl__bf16_round(float f)
{
    if (isnan(f))
        return 0x7FC0;
    uint32_t u = optcl__float_bits(f);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

float optcl__bf16_widen(uint16_t b)
{
    return optcl__bits_float((uint32_t)b << 16);
}

/* Drops the low `shift` bits of m, rounding to nearest even. */
static uint32_t shift_round_even(uint32_t m, unsigned shift)
{
    uint32_t kept = m >> shift, rest = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    return kept + (rest > half || (rest == half && (kept & 1u)));
}

uint16_t optcl__f16_round(float f)
{
    uint32_t u = optcl__float_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u)
        return 0x7E00u; /* NaN */
    if (a >= 0x477FF000u)      /* 65520 and above round to Inf (65504 is the largest half) */
        return sign | 0x7C00u;
    if (a >= 0x38800000u) /* a normal half: rebias the exponent (127 − 15), keep 10 bits */
        return sign | (uint16_t)shift_round_even(a - (112u << 23), 13);
    if (a <= 0x33000000u) /* at most 2^-25, half the smallest subnormal: rounds to zero */
        return sign;
    /* a subnormal half: the value in units of 2^-24 (the exponent e is 102 … 112) */
    uint32_t e = a >> 23, m = (a & 0x7FFFFFu) | 0x800000u;
    return sign | (uint16_t)shift_round_even(m, 126u - e);
}

float optcl__f16_widen(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1F) /* Inf, NaN (its payload kept, as vload_half does) */
        return optcl__bits_float(sign | 0x7F800000u | (m << 13));
    if (e == 0) { /* zero and subnormals: m · 2^-24, exact in float32 */
        float v = (float)m * 0x1p-24f;
        return sign ? -v : v;
    }
    return optcl__bits_float(sign | ((e + 112u) << 23) | (m << 13));
}

const char *optcl__type_name(optcl_dtype dtype)
{
    return dtype == OPTCL__DTYPE_Q8 ? "int8" : optcl_dtype_name(dtype);
}

size_t optcl__type_size(optcl_dtype dtype)
{
    return dtype == OPTCL__DTYPE_Q8 ? 1 : optcl_dtype_size(dtype);
}

void optcl__narrow(const float *src, void *dst, size_t n, optcl_dtype dtype)
{
    uint16_t *half = dst;
    uint8_t *bytes = dst;
    if (dtype == OPTCL__DTYPE_Q8) /* codes, 0 … 255 */
        for (size_t i = 0; i < n; i++)
            bytes[i] = (uint8_t)src[i];
    else if (dtype == OPTCL_DTYPE_F32)
        memmove(dst, src, n * sizeof(float));
    else if (dtype == OPTCL_DTYPE_BF16)
        for (size_t i = 0; i < n; i++)
            half[i] = optcl__bf16_round(src[i]);
    else
        for (size_t i = 0; i < n; i++)
            half[i] = optcl__f16_round(src[i]);
}

void optcl__widen(const void *src, float *dst, size_t n, optcl_dtype dtype)
{
    const uint16_t *half = src;
    const uint8_t *bytes = src;
    if (dtype == OPTCL__DTYPE_Q8)
        for (size_t i = 0; i < n; i++)
            dst[i] = bytes[i];
    else if (dtype == OPTCL_DTYPE_F32)
        memmove(dst, src, n * sizeof(float));
    else if (dtype == OPTCL_DTYPE_BF16)
        for (size_t i = 0; i < n; i++)
            dst[i] = optcl__bf16_widen(half[i]);
    else
        for (size_t i = 0; i < n; i++)
            dst[i] = optcl__f16_widen(half[i]);
}

void optcl__round_floats(float *x, size_t n, optcl_dtype dtype)
{
    if (dtype == OPTCL_DTYPE_BF16)
        for (size_t i = 0; i < n; i++)
            x[i] = optcl__bf16_widen(optcl__bf16_round(x[i]));
    else if (dtype == OPTCL_DTYPE_F16)
        for (size_t i = 0; i < n; i++)
            x[i] = optcl__f16_widen(optcl__f16_round(x[i]));
}
