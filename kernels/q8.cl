/* q8.cl — block-wise 8-bit state (STATE_DTYPE 3), as bitsandbytes' 8-bit optimizers: each
 * block of 256 elements keeps one byte per element, a code of bitsandbytes' dynamic map
 * (signed for first moments, unsigned for second moments), and one float32 absmax. A load
 * dequantizes (map[code] · absmax); the rule computes in float32 and steps the parameter with
 * the unquantised new state; the block's new state is then requantized: its absmax is the
 * largest |value|, and each element takes the nearest code of value · (1 / absmax). Tensors
 * under 4096 elements keep float32 state, in an area after the absmaxes. host/q8.c is the same
 * rule on the host, and host/q8.h the layout. */
#if STATE_DTYPE == 3
#ifndef Q8_GROUP
#define Q8_GROUP 0 /* 1: a work-group per block (GPUs); 0: a work-item per block (CPUs) */
#endif

#define OPTCL_Q8_BLOCK 256
/* The layout table (host/q8.h): [0] where the absmaxes start in a state buffer (bytes), [1]
 * where its float32 area starts (floats after the absmaxes), then the maps, the quantizer's
 * lookup tables, and one entry per block: >= 0, a float32 block at that element of the float32
 * area; < 0, an 8-bit block whose first -entry - 1 elements are its tensor's (the rest is
 * padding, left out of its absmax). */
#define OPTCL_Q8_ABSMAX_AT 0
#define OPTCL_Q8_FLOATS_AT 1
#define OPTCL_Q8_MAPS 4 /* signed codes, midpoints; unsigned codes, midpoints */
#define OPTCL_Q8_LUT (4 + 1024) /* the quantizer's lookup rows */
#define OPTCL_Q8_LUT_LO 0x33800000u
#define OPTCL_Q8_LUT_SHIFT 15
#define OPTCL_Q8_LUT_KEYS (((0x3F800000u - OPTCL_Q8_LUT_LO) >> OPTCL_Q8_LUT_SHIFT) + 1)
#define OPTCL_Q8_BLOCKS (OPTCL_Q8_LUT + 2 * OPTCL_Q8_LUT_KEYS) /* the block entries */

#if VEC == 1
typedef uchar ucharv;
typedef int intv;
#define OPTCL_GATHER(type, t, c) ((t)[c])
#else
typedef OPTCL_V(uchar) ucharv;
typedef OPTCL_V(int) intv;
#endif
/* The vector of t[c] for each lane's index c. */
#if VEC == 2
#define OPTCL_GATHER(type, t, c) ((type##2)((t)[(c).s0], (t)[(c).s1]))
#elif VEC == 4
#define OPTCL_GATHER(type, t, c) ((type##4)((t)[(c).s0], (t)[(c).s1], (t)[(c).s2], (t)[(c).s3]))
#elif VEC == 8
#define OPTCL_GATHER(type, t, c)                                                                  \
    ((type##8)((t)[(c).s0], (t)[(c).s1], (t)[(c).s2], (t)[(c).s3], (t)[(c).s4], (t)[(c).s5],     \
               (t)[(c).s6], (t)[(c).s7]))
#elif VEC == 16
#define OPTCL_GATHER(type, t, c)                                                                  \
    ((type##16)((t)[(c).s0], (t)[(c).s1], (t)[(c).s2], (t)[(c).s3], (t)[(c).s4], (t)[(c).s5],    \
                (t)[(c).s6], (t)[(c).s7], (t)[(c).s8], (t)[(c).s9], (t)[(c).sa], (t)[(c).sb],    \
                (t)[(c).sc], (t)[(c).sd], (t)[(c).se], (t)[(c).sf]))
#endif
/* 1 where a condition holds, 0 elsewhere (a vector comparison gives -1, a scalar one 1) */
#define OPTCL_Q8_ONE(cond) select((intv)0, (intv)1, (cond))

/* Every update kernel gets the table. */
#undef OPTCL_Q8_ARG
#define OPTCL_Q8_ARG , __global const int *restrict q8

/* Each state's map and slot, from the descriptor: Q8_UNSIGNED_<state> (1 for second moments)
 * and Q8_SLOT_<state>. */
#define OPTCL_Q8_UNSIGNED(p) OPTCL_CAT(Q8_UNSIGNED_, p)
#define OPTCL_Q8_SLOT(p) OPTCL_CAT(Q8_SLOT_, p)
#define OPTCL_LOAD_3(p, i) optcl_q8_load(p, i, OPTCL_Q8_UNSIGNED(p), q8)

#if !Q8_GROUP
/* CPUs: one work-item steps a whole block: it keeps the block's new state in private memory
 * until the last vector, then requantizes the block. (Sharing a block among work-items needs a
 * barrier to find its absmax; on PoCL each barrier saves every live value of every work-item,
 * which cost more than the step, and PoCL 3.1 crashed on some of those kernels.) */
#undef OPTCL_VECTORS_PER_ITEM
#define OPTCL_VECTORS_PER_ITEM (OPTCL_Q8_BLOCK / VEC)
#undef OPTCL_Q8_BEGIN
#define OPTCL_Q8_BEGIN                                                                            \
    ;                                                                                             \
    floatv q8_values[3][OPTCL_VECTORS_PER_ITEM];                                                  \
    float q8_share[3] = {0.0f, 0.0f, 0.0f}
#define OPTCL_STORE_3(p, i, v)                                                                    \
    optcl_q8_collect(p, i, v, OPTCL_Q8_UNSIGNED(p), q8, q8_values[OPTCL_Q8_SLOT(p)],            \
                     &q8_share[OPTCL_Q8_SLOT(p)])
#else
/* GPUs (Q8_GROUP): a work-group of OPTCL_Q8_BLOCK / VEC work-items steps one block, a vector
 * each, so that neighbouring work-items read neighbouring memory; each store of a state finds
 * the block's absmax in local memory, then quantizes the work-item's own vector. The host
 * launches these kernels in work-groups of exactly one block (host/step.c), and the stores are
 * never inside a branch that differs between work-items, so every barrier is reached by all. */
#define OPTCL_Q8_ITEMS (OPTCL_Q8_BLOCK / VEC)
/* The block's shares: local memory of OPTCL_Q8_ITEMS floats, an argument (PoCL 3.1 running
 * work-groups on two threads gave wrong absmaxes with the array declared in the kernel) */
#undef OPTCL_Q8_ARG
#define OPTCL_Q8_ARG , __global const int *restrict q8, __local float *restrict q8_share
#define OPTCL_STORE_3(p, i, v) optcl_q8_store_vector(p, i, v, OPTCL_Q8_UNSIGNED(p), q8, q8_share)
#endif

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
    ucharv c = ((__global ucharv *)codes)[i];
    return OPTCL_GATHER(float, map, c) * absmax[block];
}

/* The larger, a NaN winning (so a NaN anywhere in a block makes its absmax NaN). */
#define OPTCL_Q8_MAX(a, b) select((b), (a), (a) > (b) || isnan(a))

/* The largest lane of v. */
static inline float optcl_q8_lanes_max(floatv v)
{
#if VEC >= 16
    float8 v8 = OPTCL_Q8_MAX(v.lo, v.hi);
#elif VEC == 8
    float8 v8 = v;
#endif
#if VEC >= 8
    float4 v4 = OPTCL_Q8_MAX(v8.lo, v8.hi);
#elif VEC == 4
    float4 v4 = v;
#endif
#if VEC >= 4
    float2 v2 = OPTCL_Q8_MAX(v4.lo, v4.hi);
#elif VEC == 2
    float2 v2 = v;
#endif
#if VEC >= 2
    return OPTCL_Q8_MAX(v2.x, v2.y);
#else
    return v;
#endif
}

/* The nearest code of x, VEC lanes at once: host/q8.c's optcl__q8_encode (the number of
 * midpoints below x, a tie going to the even code as bitsandbytes' binary search ends; on the
 * signed map a negative x never takes the zero code), from the map's lookup row (host/q8.h) in
 * one gather and a few comparisons of |x|'s bits, which order as the floats do (a NaN's code is
 * chosen last). With P midpoints of the positive half below |x| and T whether |x| is one:
 * x >= 0 has 127 + P (signed) or P below it; x < 0 on the signed map has the 127 − P mirrored
 * ones (the positive half's last midpoint, between 0.99 and 1.0, has no mirror). */
static inline ucharv optcl_q8_encode(__global const int *q8, floatv x, int is_signed)
{
    __global const int *row = q8 + OPTCL_Q8_LUT + (is_signed ? 0 : OPTCL_Q8_LUT_KEYS);
    uintv a = OPTCL_V(as_uint)(fabs(x));
    uintv first = clamp(a, (uintv)OPTCL_Q8_LUT_LO, (uintv)0x3F800000u) &
                  (uintv)(0xFFFFFFFFu << OPTCL_Q8_LUT_SHIFT); /* the bucket's first bits */
    intv entry = OPTCL_GATHER(int, row, (first - OPTCL_Q8_LUT_LO) >> OPTCL_Q8_LUT_SHIFT);
    uintv mid = first + OPTCL_V(as_uint)(entry & 0xFFFF);
    intv below = (entry >> 16) + OPTCL_Q8_ONE(a > mid);
    intv tie = OPTCL_Q8_ONE(a == mid), c;
    if (is_signed) {
        intv positive = 127 + below + (tie & (1 - (below & 1)));
        intv mirrored = tie & OPTCL_Q8_ONE(below < 127);
        /* min of two vectors: Oclgrind's min(int4, int) gets lane 2 wrong */
        intv negative = 127 - min(below, (intv)127) - mirrored;
        negative += mirrored & negative & 1;
        negative = select(negative, (intv)126, negative == 127); /* keep the sign */
        c = select(positive, negative, x < 0.0f);
    } else {
        c = select(below + (tie & below & 1), (intv)0, x < 0.0f);
    }
    return OPTCL_V(convert_uchar)(select(c, (intv)0, isnan(x)));
}

/* The codes of a vector v of new state in a block of absmax a, given inverse = 1 / a (one
 * division per block): both layouts quantize with this. */
static inline ucharv optcl_q8_codes(__global const int *q8, floatv v, float a, float inverse,
                                    int is_signed)
{
    return optcl_q8_encode(q8, a > 0.0f ? v * inverse : (floatv)0.0f, is_signed);
}

/* The largest |v| of vector i's lanes inside its tensor (a NaN winning), given its block's
 * entry (< 0: an 8-bit block). */
static inline float optcl_q8_share(size_t i, floatv v, int entry)
{
    uint first = (uint)i * VEC % OPTCL_Q8_BLOCK;
    return optcl_q8_lanes_max(
        select((floatv)0.0f, fabs(v), first + OPTCL_LANES < (uint)(-entry - 1)));
}

/* A block's absmax from the largest |v| of its values: NaN when any is NaN, as one quiet NaN. */
static inline float optcl_q8_absmax(float largest)
{
    return isnan(largest) ? as_float(0x7FC00000u) : largest;
}

#if !Q8_GROUP
/* The codes of one block's OPTCL_VECTORS_PER_ITEM vectors of new state, given its absmax a. */
static inline void optcl_q8_requantize(__global uchar *codes, uint block, __private floatv *values,
                                       float a, __global const int *q8, int is_signed)
{
    float inverse = 1.0f / a;
    for (uint k = 0; k < OPTCL_Q8_BLOCK / VEC; k++)
        ((__global ucharv *)codes)[block * (OPTCL_Q8_BLOCK / VEC) + k] =
            optcl_q8_codes(q8, values[k], a, inverse, is_signed);
}

/* Keeps vector i of a block's new state and its share of the absmax; the block's last vector
 * requantizes the block. */
static inline void optcl_q8_collect(__global uchar *codes, size_t i, floatv v, int is_unsigned,
                                    __global const int *q8, __private floatv *values,
                                    __private float *share)
{
    uint e = (uint)i * VEC, block = e / OPTCL_Q8_BLOCK, first = e % OPTCL_Q8_BLOCK;
    __global float *absmax = (__global float *)(codes + q8[OPTCL_Q8_ABSMAX_AT]);
    int entry = q8[OPTCL_Q8_BLOCKS + block];
    if (entry >= 0) {
        STORE(absmax + q8[OPTCL_Q8_FLOATS_AT] + entry, first / VEC, v);
        return;
    }
    values[first / VEC] = v;
    *share = OPTCL_Q8_MAX(*share, optcl_q8_share(i, v, entry));
    if (first + VEC < OPTCL_Q8_BLOCK)
        return;
    float a = optcl_q8_absmax(*share);
    optcl_q8_requantize(codes, block, values, a, q8, !is_unsigned);
    absmax[block] = a;
}
#else
/* Stores vector i of a block's new state: the block's work-items reduce their shares in local
 * memory (a halving tree; the largest value whatever the order, NaN as NaN, so the codes are
 * the one-work-item kernel's), then each quantizes its own vector. */
static inline void optcl_q8_store_vector(__global uchar *codes, size_t i, floatv v, int is_unsigned,
                                         __global const int *q8, __local float *share)
{
    uint block = (uint)i * VEC / OPTCL_Q8_BLOCK, l = (uint)i % OPTCL_Q8_ITEMS;
    __global float *absmax = (__global float *)(codes + q8[OPTCL_Q8_ABSMAX_AT]);
    int entry = q8[OPTCL_Q8_BLOCKS + block]; /* the same for the whole work-group */
    if (entry >= 0) {
        STORE(absmax + q8[OPTCL_Q8_FLOATS_AT] + entry, l, v);
        return;
    }
    share[l] = optcl_q8_share(i, v, entry);
    /* and every work-item has read the block's old absmax before item 0 stores the new one */
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    for (uint width = OPTCL_Q8_ITEMS / 2; width > 0; width /= 2) {
        if (l < width)
            share[l] = OPTCL_Q8_MAX(share[l], share[l + width]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float a = optcl_q8_absmax(share[0]);
    barrier(CLK_LOCAL_MEM_FENCE); /* every work-item has read it before the next state's tree */
    ((__global ucharv *)codes)[i] = optcl_q8_codes(q8, v, a, 1.0f / a, !is_unsigned);
    if (l == 0)
        absmax[block] = a;
}
#endif

#endif
