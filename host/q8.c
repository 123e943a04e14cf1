/* q8.c — block-wise 8-bit state on the host: the layout every state buffer shares, and the
 * quantizer, bit for bit kernels/q8.cl's (the reference backend's steps, state reads and
 * writes, and checkpoints use it). */
#include "q8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t *map_of(bool is_signed)
{
    return optcl__q8_maps[is_signed ? 0 : 2];
}

static const uint32_t *midpoints_of(bool is_signed)
{
    return optcl__q8_maps[is_signed ? 1 : 3];
}

float optcl__q8_value(uint8_t code, bool is_signed)
{
    return optcl__bits_float(map_of(is_signed)[code]);
}

uint8_t optcl__q8_encode(float x, bool is_signed)
{
    const uint32_t *mid = midpoints_of(is_signed);
    unsigned c = 0;
    for (unsigned step = 128; step > 0; step >>= 1)
        c += x > optcl__bits_float(mid[c + step - 1]) ? step : 0u;
    if (c < 255 && x == optcl__bits_float(mid[c]) && (c & 1))
        c++;
    if (is_signed && x < 0.0f && optcl__q8_value((uint8_t)c, true) >= 0.0f)
        c--;
    return (uint8_t)c;
}

/* The larger, a NaN winning (q8.cl's optcl_q8_max). */
static float max_nan(float a, float b)
{
    return a > b || isnan(a) ? a : b;
}

float optcl__q8_quantize(const float *values, size_t n, size_t valid, bool is_signed,
                         uint8_t *codes)
{
    float a = 0.0f;
    for (size_t k = 0; k < valid; k++)
        a = max_nan(a, fabsf(values[k]));
    if (isnan(a))
        a = optcl__bits_float(0x7FC00000u);
    float inverse = 1.0f / a; /* the kernel's: one division per block */
    for (size_t k = 0; k < n; k++)
        codes[k] = optcl__q8_encode(a > 0.0f ? values[k] * inverse : 0.0f, is_signed);
    return a;
}

void optcl__q8_dequantize(const uint8_t *codes, size_t n, float absmax, bool is_signed,
                          float *values)
{
    for (size_t k = 0; k < n; k++)
        values[k] = optcl__q8_value(codes[k], is_signed) * absmax;
}

/* ---- layout ----------------------------------------------------------------------------- */

void optcl__q8_free(optcl__q8 *q)
{
    free(q->float_at);
    free(q->table);
    memset(q, 0, sizeof *q);
}

size_t optcl__q8_bytes(const optcl__q8 *q)
{
    return q->flat + (q->absmax_floats + q->floats) * sizeof(float);
}

bool optcl__q8_tensor_is_8bit(const optcl__q8 *q, size_t t)
{
    return q->float_at[t] == SIZE_MAX;
}

/* The lookup row of one map (q8.h); false if a midpoint lies below the first bucket or a
 * bucket holds two. */
static bool build_lut(bool is_signed, int32_t *row)
{
    const uint32_t *mid = midpoints_of(is_signed);
    unsigned first = is_signed ? 127 : 0; /* the positive half's midpoints: first … 254 */
    unsigned k = first;
    if (mid[first] < OPTCL__Q8_LUT_LO)
        return false;
    for (uint32_t key = 0; key < OPTCL__Q8_LUT_KEYS; key++) {
        uint32_t lo = OPTCL__Q8_LUT_LO + (key << OPTCL__Q8_LUT_SHIFT);
        uint32_t hi = lo + (1u << OPTCL__Q8_LUT_SHIFT);
        /* the midpoints are positive floats, whose bits order as the floats do */
        while (k < 255 && mid[k] < lo)
            k++;
        uint32_t inside = OPTCL__Q8_LUT_NONE;
        if (k < 255 && mid[k] < hi) {
            inside = mid[k] - lo;
            if (k + 1 < 255 && mid[k + 1] < hi)
                return false;
        }
        row[key] = (int32_t)((k - first) << 16 | inside);
    }
    return true;
}

optcl_status optcl__q8_create(const optcl_params *p, optcl__q8 *q, char *message)
{
    memset(q, 0, sizeof *q);
    size_t blocks = p->flat / OPTCL__Q8_BLOCK;
    q->flat = p->flat;
    q->absmax_floats = optcl__round_up(blocks ? blocks : 1, 64);
    q->table_ints = OPTCL__Q8_BLOCKS_AT + blocks;
    if (p->flat > (size_t)INT32_MAX) /* the table's entries are int32 */
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "state_dtype int8: the set's %zu elements exceed 2^31 - 1", p->flat);
    q->float_at = malloc((p->count ? p->count : 1) * sizeof *q->float_at);
    q->table = malloc(q->table_ints * sizeof *q->table);
    if (!q->float_at || !q->table) {
        optcl__q8_free(q);
        return optcl__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                           "out of host memory laying out 8-bit state");
    }
    memcpy(q->table + OPTCL__Q8_MAPS_AT, optcl__q8_maps, sizeof optcl__q8_maps);
    for (int m = 0; m < 2; m++) {
        if (!build_lut(m == 0, q->table + OPTCL__Q8_LUT_AT + m * OPTCL__Q8_LUT_KEYS)) {
            optcl__q8_free(q);
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "internal: the %s map does not fit the lookup buckets",
                               m ? "unsigned" : "signed");
        }
    }
    /* blocks of no tensor (a group's padding) are 8-bit blocks of nothing: absmax 0 */
    for (size_t b = 0; b < blocks; b++)
        q->table[OPTCL__Q8_BLOCKS_AT + b] = -1;
    for (size_t t = 0; t < p->count; t++) {
        const optcl__tensor *tensor = &p->tensors[t];
        size_t first = tensor->offset / OPTCL__Q8_BLOCK;
        size_t n = (tensor->count + OPTCL__Q8_BLOCK - 1) / OPTCL__Q8_BLOCK;
        bool small = tensor->state_bits == 32 ||
                     (tensor->state_bits == 0 && tensor->count < OPTCL__Q8_MIN_SIZE);
        q->float_at[t] = small ? q->floats : SIZE_MAX;
        for (size_t b = 0; b < n; b++) {
            size_t valid = tensor->count - b * OPTCL__Q8_BLOCK;
            if (valid > OPTCL__Q8_BLOCK)
                valid = OPTCL__Q8_BLOCK;
            q->table[OPTCL__Q8_BLOCKS_AT + first + b] =
                small ? (int32_t)(q->floats + b * OPTCL__Q8_BLOCK) : -(int32_t)valid - 1;
        }
        if (small)
            q->floats += n * OPTCL__Q8_BLOCK;
    }
    q->table[0] = (int32_t)q->flat;
    q->table[1] = (int32_t)q->absmax_floats;
    q->table[2] = q->table[3] = 0;
    return OPTCL_SUCCESS;
}
