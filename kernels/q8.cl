/* q8.cl — block-wise 8-bit state (STATE_DTYPE 3), as bitsandbytes' 8-bit optimizers: each
 * block of 256 elements keeps one byte per element, a code of bitsandbytes' dynamic map
 * (signed for first moments, unsigned for second moments), and one float32 absmax. A load
 * dequantizes (map[code] · absmax); the rule computes in float32 and steps the parameter with
 * the unquantised new state; a store requantizes: the work-items of a block find its new
 * absmax together, then each element takes the nearest code of value / absmax. Tensors under
 * 4096 elements keep float32 state, in an area after the absmaxes. host/q8.c is the same rule
 * on the host, and host/q8.h the layout. */
#if STATE_DTYPE == 3

#define OPTCL_Q8_BLOCK 256
#define OPTCL_Q8_ITEMS (OPTCL_Q8_BLOCK / VEC) /* the work-items of one block */
/* The layout table (host/q8.h): [0] where the absmaxes start in a state buffer (bytes), [1]
 * where its float32 area starts (floats after the absmaxes), then the maps, then one entry per
 * block: >= 0, a float32 block at that element of the float32 area; < 0, an 8-bit block whose
 * first -entry - 1 elements are its tensor's (the rest is padding, left out of its absmax). */
#define OPTCL_Q8_ABSMAX_AT 0
#define OPTCL_Q8_FLOATS_AT 1
#define OPTCL_Q8_MAPS 4            /* signed codes, midpoints; unsigned codes, midpoints */
#define OPTCL_Q8_BLOCKS (4 + 1024) /* the block entries */

#if VEC == 1
typedef uchar ucharv;
#define OPTCL_TO_LANES(v, lanes) ((lanes)[0] = (v))
#define OPTCL_FROM_LANES(lanes) ((lanes)[0])
#else
typedef OPTCL_V(uchar) ucharv;
#define OPTCL_TO_LANES(v, lanes) OPTCL_V(vstore)(v, 0, lanes)
#define OPTCL_FROM_LANES(lanes) OPTCL_V(vload)(0, lanes)
#endif

/* Every update kernel gets the table and a work-group's scratch for the absmax reduction (a
 * float per work-item; an argument, since PoCL 3.1 let concurrent work-groups share an
 * automatic __local array here, which corrupted absmaxes). Work-groups span whole blocks. */
#undef OPTCL_Q8_ARG
#define OPTCL_Q8_ARG , __global const int *restrict q8, __local float *q8_scratch

/* Which map a state takes: Q8_UNSIGNED_<state> (1 for second moments), from the descriptor. */
#define OPTCL_Q8_UNSIGNED(p) OPTCL_CAT(Q8_UNSIGNED_, p)
#define OPTCL_LOAD_3(p, i) optcl_q8_load(p, i, OPTCL_Q8_UNSIGNED(p), q8)
#define OPTCL_STORE_3(p, i, v) optcl_q8_store(p, i, v, OPTCL_Q8_UNSIGNED(p), q8, q8_scratch)

static inline __global const float *optcl_q8_map(__global const int *q8, int is_unsigned)
{
    return (__global const float *)q8 + OPTCL_Q8_MAPS + (is_unsigned ? 512 : 0);
}

static inline floatv optcl_q8_load(__global uchar *codes, size_t i, int is_unsigned,
                                   __global const int *q8)
{
    uint e = (uint)i * VEC, block = e / OPTCL_Q8_BLOCK;
    __global float *absmax = (__global float *)(codes + q8[OPTCL_Q8_ABSMAX_AT]);
    int entry = q8[OPTCL_Q8_BLOCKS + block];
    if (entry >= 0)
        return LOAD(absmax + q8[OPTCL_Q8_FLOATS_AT] + entry, (e % OPTCL_Q8_BLOCK) / VEC);
    __global const float *map = optcl_q8_map(q8, is_unsigned);
    float a = absmax[block], out[VEC];
    uchar c[VEC];
    OPTCL_TO_LANES(((__global ucharv *)codes)[i], c);
    for (int k = 0; k < VEC; k++)
        out[k] = map[c[k]] * a;
    return OPTCL_FROM_LANES(out);
}

/* The larger, a NaN winning (so a NaN anywhere in a block makes its absmax NaN). */
static inline float optcl_q8_max(float a, float b)
{
    return a > b || isnan(a) ? a : b;
}

/* The largest of the shares of a block's work-items (a tree over OPTCL_Q8_ITEMS neighbours;
 * the maximum does not depend on the order, so every backend gets the same bits). A NaN
 * becomes the quiet NaN 0x7FC00000 whatever its payload. Every work-item of the work-group
 * must call it. */
static inline float optcl_q8_block_max(float share, __local float *scratch)
{
    size_t lid = get_local_id(0), lane = lid % OPTCL_Q8_ITEMS;
    scratch[lid] = share;
    /* global too: the block's loads of its absmax come before the store of the new one */
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    for (uint width = OPTCL_Q8_ITEMS / 2; width > 0; width >>= 1) {
        if (lane < width)
            scratch[lid] = optcl_q8_max(scratch[lid], scratch[lid + width]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float a = scratch[lid - lane];
    barrier(CLK_LOCAL_MEM_FENCE); /* before the next store reuses the scratch */
    return isnan(a) ? as_float(0x7FC00000u) : a;
}

/* The nearest code of x: the number of midpoints below x (a binary search over the 255
 * midpoints and a +inf sentinel), a tie going to the even code as bitsandbytes' search does;
 * on the signed map a negative x never takes the zero code (bitsandbytes keeps the sign). */
static inline uchar optcl_q8_encode(__global const float *map, float x, int is_signed)
{
    __global const float *mid = map + 256;
    uint c = 0;
    for (uint step = 128; step > 0; step >>= 1)
        c += x > mid[c + step - 1] ? step : 0u;
    if (c < 255 && x == mid[c] && (c & 1))
        c++;
    if (is_signed && x < 0.0f && map[c] >= 0.0f)
        c--;
    return (uchar)c;
}

static inline void optcl_q8_store(__global uchar *codes, size_t i, floatv v, int is_unsigned,
                                  __global const int *q8, __local float *scratch)
{
    uint e = (uint)i * VEC, block = e / OPTCL_Q8_BLOCK, first = e % OPTCL_Q8_BLOCK;
    __global float *absmax = (__global float *)(codes + q8[OPTCL_Q8_ABSMAX_AT]);
    int entry = q8[OPTCL_Q8_BLOCKS + block];
    float lanes[VEC];
    OPTCL_TO_LANES(v, lanes);
    uint valid = entry < 0 ? (uint)(-entry - 1) : 0u;
    float share = 0.0f;
    for (uint k = 0; k < VEC; k++)
        if (first + k < valid)
            share = optcl_q8_max(share, fabs(lanes[k]));
    float a = optcl_q8_block_max(share, scratch);
    if (entry >= 0) {
        STORE(absmax + q8[OPTCL_Q8_FLOATS_AT] + entry, first / VEC, v);
        return;
    }
    __global const float *map = optcl_q8_map(q8, is_unsigned);
    uchar c[VEC];
    for (int k = 0; k < VEC; k++)
        c[k] = optcl_q8_encode(map, a > 0.0f ? lanes[k] / a : 0.0f, !is_unsigned);
    ((__global ucharv *)codes)[i] = OPTCL_FROM_LANES(c);
    if (first == 0)
        absmax[block] = a;
}

#endif
