/* q8.h — block-wise 8-bit optimizer state (config.state_dtype = OPTCL_STATE_INT8), as
 * bitsandbytes' 8-bit optimizers keep it: blocks of 256 elements, one byte per element (a code
 * of bitsandbytes' dynamic map: signed for first moments, unsigned for second moments) and one
 * float32 absmax per block; tensors under 4096 elements (bitsandbytes' min_8bit_size) keep
 * float32 state. Offsets are multiples of 256 elements, so no block straddles two tensors.
 * kernels/q8.cl is the device's side of the same rule.
 *
 * One state buffer (every 8-bit state has the same layout):
 *   [0, flat)                          the codes, one byte per element of the flat buffer;
 *   then absmax_floats floats          the blocks' absmaxes (block b at b);
 *   then floats floats                 the float32 area: the small tensors' state. */
#ifndef OPTCL_Q8_H
#define OPTCL_Q8_H

#include "internal.h"

#include <stdint.h>

#define OPTCL__Q8_BLOCK OPTCL_INT8_BLOCK
#define OPTCL__Q8_MIN_SIZE OPTCL_INT8_MIN_SIZE /* smaller tensors keep float32 state */
/* The table's sections (kernels/q8.cl's OPTCL_Q8_*): a header, the maps, the quantizer's
 * lookup rows, the block entries. A lookup row keys |x| by its float32 bits, clamped to
 * [2^-24, 1], in buckets of 2^15 (8 mantissa bits, narrower than any two midpoints of either
 * map are apart; every midpoint is above 2^-24). Per bucket one entry, so that the quantizer
 * looks up once per element: the number of midpoints of the map's positive half below the
 * bucket, shifted left by 16, plus the offset of the one midpoint inside it from the bucket's
 * first bits (OPTCL__Q8_LUT_NONE when none: the next bucket's first bits, which no |x| of the
 * bucket reaches). Signed map's row, then the unsigned map's. */
#define OPTCL__Q8_MAPS_AT 4
#define OPTCL__Q8_LUT_LO 0x33800000u /* 2^-24 */
#define OPTCL__Q8_LUT_SHIFT 15
#define OPTCL__Q8_LUT_KEYS (((0x3F800000u - OPTCL__Q8_LUT_LO) >> OPTCL__Q8_LUT_SHIFT) + 1)
#define OPTCL__Q8_LUT_NONE (1u << OPTCL__Q8_LUT_SHIFT)
#define OPTCL__Q8_LUT_AT (4 + 1024)
#define OPTCL__Q8_BLOCKS_AT (OPTCL__Q8_LUT_AT + 2 * OPTCL__Q8_LUT_KEYS)

/* bitsandbytes' create_dynamic_map(signed=True) and (signed=False), each followed by its 255
 * midpoints and a +inf sentinel, as float32 bits (q8_maps.c, made by tests/golden/make_q8.py). */
extern const uint32_t optcl__q8_maps[4][256];

typedef struct optcl__q8 {
    size_t flat;          /* the codes: one per element of the flat buffer */
    size_t absmax_floats; /* the blocks, rounded up to 64 (the float32 area stays aligned) */
    size_t floats;        /* the float32 area's elements */
    size_t *float_at;     /* per tensor: its offset in the float32 area, or SIZE_MAX (8-bit) */
    int32_t *table;       /* kernels/q8.cl's table: header, maps, one entry per block */
    size_t table_ints;
} optcl__q8;

/* The layout for the parameter set p (message on failure). */
optcl_status optcl__q8_create(const optcl_params *p, optcl__q8 *q, char *message);
void optcl__q8_free(optcl__q8 *q);
/* Bytes of one state buffer. */
size_t optcl__q8_bytes(const optcl__q8 *q);
/* Whether tensor t of the set keeps 8-bit state. */
bool optcl__q8_tensor_is_8bit(const optcl__q8 *q, size_t t);

/* The nearest code of x (bitsandbytes' rule: a tie to the even code; on the signed map a
 * negative x never takes the zero code), and a code's value. */
uint8_t optcl__q8_encode(float x, bool is_signed);
float optcl__q8_value(uint8_t code, bool is_signed);
/* One block: the absmax of values[0, valid) (NaN wins, as the quiet NaN), and the code of
 * every value in [0, n): the nearest code of value · (1 / absmax) (0 when the absmax is 0).
 * Returns the absmax. */
float optcl__q8_quantize(const float *values, size_t n, size_t valid, bool is_signed,
                         uint8_t *codes);
/* values[k] = value(codes[k]) · absmax, k < n. */
void optcl__q8_dequantize(const uint8_t *codes, size_t n, float absmax, bool is_signed,
                          float *values);

/* ---- an optimizer's 8-bit states (q8_state.c) ------------------------------------------ */

/* The layout, each state's map, and the table on the device or each state's buffer image on
 * the reference backend. */
optcl_status optcl__q8_state_create(optcl_optimizer *opt);
void optcl__q8_state_free(optcl_optimizer *opt);
/* optcl__state_transfer for an 8-bit state: float32 values, quantized on the way in (each
 * block's absmax from the values written) and dequantized on the way out. */
optcl_status optcl__q8_state_transfer(optcl_optimizer *opt, size_t i, size_t index, float *data,
                                      size_t count, bool to_device, char *message,
                                      const char *what);
/* Tensor t of 8-bit state i as stored: its codes (t's count) and its blocks' absmaxes. Only
 * for tensors optcl__q8_tensor_is_8bit. A write gives the padding the zero code. */
optcl_status optcl__q8_read_stored(optcl_optimizer *opt, size_t i, size_t t, uint8_t *codes,
                                   float *absmax, char *message, const char *what);
optcl_status optcl__q8_write_stored(optcl_optimizer *opt, size_t i, size_t t, const uint8_t *codes,
                                    const float *absmax, char *message, const char *what);
/* OpenCL: state i's whole buffer as bytes (optcl__q8_bytes), read or, with restore, written
 * back: a failed checkpoint load puts it back as it was. */
optcl_status optcl__q8_snapshot(optcl_optimizer *opt, size_t i, void *bytes, bool restore,
                                char *message, const char *what);
/* Elements per work-item of the update kernel: a block with 8-bit state stepped a block per
 * work-item (kernels/q8.cl; CPUs), otherwise the context's vector width. */
size_t optcl__q8_elements_per_item(const optcl_optimizer *opt);
/* With 8-bit state stepped a block per work-group (ctx->q8_block_items > 1; GPUs): the work-group size
 * the update kernel needs, a block's vectors; 0 otherwise. */
size_t optcl__q8_group_items(const optcl_optimizer *opt);
/* Blocks of tensor t (its absmax count). */
size_t optcl__q8_tensor_blocks(const optcl_params *p, size_t t);
/* Reference backend, after the rule updated [begin, end) of the 8-bit states' values: what the
 * kernel's stores do — each block requantized, its values replaced by their dequantization. */
void optcl__q8_requantize(optcl_optimizer *opt, size_t begin, size_t end);

#endif
