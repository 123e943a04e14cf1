/* common.cl — prepended to every optimizer family's source: floating-point contract and the
 * small helpers the update rules share. Option macros default to 0 so every file builds alone. */

/* No contraction: the compiler may not fuse a multiply and an add on its own, or the backends
 * would differ in the last bit. Where PyTorch's CPU kernels fuse them (ATen's add and sub with
 * alpha, addcmul and lerp are one fused multiply-add each), the rules say so with OPTCL_FMA,
 * and the reference backend with fmaf: both round once there, as torch does. */
#pragma OPENCL FP_CONTRACT OFF

#ifndef MAXIMIZE
#define MAXIMIZE 0
#endif

/* VEC elements per work-item, chosen by the host per device: the device's preferred float
 * vector width on CPUs (16 with AVX-512: PoCL then works in whole 512-bit registers, which
 * halves the instructions per element and lets the core keep more loads in flight), 4 on GPUs
 * (16-byte loads). Work-item i handles elements [VEC·i, VEC·i + VEC); ranges start and end on
 * multiples of the alignment (at least 64 bytes, within the device's base-address alignment),
 * so every access is an aligned vector. Aligned loads and stores are written as such: PoCL
 * splits vstore16 into three partial stores. The rules are written once for every width:
 * element-wise arithmetic, select() for per-element choices. */
#ifndef VEC
#define VEC 1
#endif
#if VEC == 1
typedef float floatv;
#elif VEC == 2
typedef float2 floatv;
#elif VEC == 4
typedef float4 floatv;
#elif VEC == 8
typedef float8 floatv;
#elif VEC == 16
typedef float16 floatv;
#else
#error "VEC must be 1, 2, 4, 8 or 16"
#endif
#define LOAD(p, i) (((__global const floatv *)(p))[i])
#define STORE(p, i, v) (((__global floatv *)(p))[i] = (v))

/* The vector of VEC elements of another type, and its built-ins (OPTCL_V(convert_uint): the
 * convert_uint16 of VEC = 16). */
#define OPTCL_CAT_(a, b) a##b
#define OPTCL_CAT(a, b) OPTCL_CAT_(a, b)
#if VEC == 1
typedef uint uintv;
typedef ushort ushortv;
#define OPTCL_V(name) name
#else
#define OPTCL_V(name) OPTCL_CAT(name, VEC)
typedef OPTCL_V(uint) uintv;
typedef OPTCL_V(ushort) ushortv;
#endif

/* bfloat16 as torch's c10::BFloat16: widening is exact (the 16 bits on top of a float32),
 * narrowing rounds to nearest even and turns every NaN into 0x7FC0; host/dtype.c is the same
 * rule. */
static inline floatv optcl_from_bf16(ushortv b)
{
    return OPTCL_V(as_float)(OPTCL_V(convert_uint)(b) << 16);
}

static inline ushortv optcl_to_bf16(floatv f)
{
    uintv u = OPTCL_V(as_uint)(f);
    uintv r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return OPTCL_V(convert_ushort)(select(r, (uintv)0x7FC0u, OPTCL_V(convert_uint)(isnan(f))));
}

/* Element types of the flat buffers: 0 float32, 1 bfloat16, 2 float16 (optcl_dtype's values),
 * and for state only 3, block-wise 8-bit (q8.cl).
 * PARAM_DTYPE is the parameters' and gradients', STATE_DTYPE the update rule's state buffers'.
 * Every element is loaded into float32, the rule computes in float32, and a store rounds to
 * nearest even; the rest of the step uses the unrounded value, as torch's fused kernels do. */
#ifndef PARAM_DTYPE
#define PARAM_DTYPE 0
#endif
#ifndef STATE_DTYPE
#define STATE_DTYPE 0
#endif

/* float16 through vload_half/vstore_half_rte (no cl_khr_fp16 needed), with every NaN stored
 * as the positive quiet NaN 0x7E00, as bfloat16 stores every NaN as 0x7FC0: devices differ in
 * the payload they convert a NaN to (PoCL: 0x7FFF), and a NaN's sign comes from whichever
 * operand the hardware propagated, so keeping either would break bit-identical backends. The
 * conversion goes to a private vector, which the compiler keeps in registers. */
static inline ushortv optcl_to_f16(floatv f)
{
    ushortv bits;
    OPTCL_CAT(OPTCL_V(vstore_half), _rte)(f, 0, (__private half *)&bits);
    return select(bits, (ushortv)0x7E00u, OPTCL_V(convert_ushort)(isnan(f)));
}

#define OPTCL_LOAD_0(p, i) LOAD(p, i)
#define OPTCL_LOAD_1(p, i) optcl_from_bf16(((__global const ushortv *)(p))[i])
#define OPTCL_LOAD_2(p, i) OPTCL_V(vload_half)(i, (__global const half *)(p))
#define OPTCL_STORE_0(p, i, v) STORE(p, i, v)
#define OPTCL_STORE_1(p, i, v) (((__global ushortv *)(p))[i] = optcl_to_bf16(v))
#define OPTCL_STORE_2(p, i, v) (((__global ushortv *)(p))[i] = optcl_to_f16(v))
#define OPTCL_TYPE_0 float
#define OPTCL_TYPE_1 ushort
#define OPTCL_TYPE_2 half
#define OPTCL_TYPE_3 uchar /* codes; q8.cl defines its loads and stores */

/* Parameters and gradients (param_t), and the update rule's state (state_t). */
typedef OPTCL_CAT(OPTCL_TYPE_, PARAM_DTYPE) param_t;
typedef OPTCL_CAT(OPTCL_TYPE_, STATE_DTYPE) state_t;
#define LOAD_PARAM(p, i) OPTCL_CAT(OPTCL_LOAD_, PARAM_DTYPE)(p, i)
#define STORE_PARAM(p, i, v) OPTCL_CAT(OPTCL_STORE_, PARAM_DTYPE)(p, i, v)
#define LOAD_STATE(p, i) OPTCL_CAT(OPTCL_LOAD_, STATE_DTYPE)(p, i)
#define STORE_STATE(p, i, v) OPTCL_CAT(OPTCL_STORE_, STATE_DTYPE)(p, i, v)
#define LOAD_GRAD(g, i) LOAD_PARAM(g, i)

/* The per-step scalars, computed on the host in double precision and rounded to float once:
 * field for field host/internal.h's optcl__step_scalars (every field is 4 bytes, so both
 * compilers lay it out alike). */
#define OPTCL_RULE_SCALARS 8 /* host/internal.h's */
typedef struct optcl_scalars {
    float lr, neg_lr, weight_decay;
    float momentum, one_minus_dampening; /* SGD, RMSprop momentum */
    int first_step;
    float one_minus_beta1, beta2, one_minus_beta2; /* Adam */
    float neg_step_size, bias_correction2_sqrt, eps, decay_factor;
    float alpha, one_minus_alpha;                /* RMSprop */
    float etaminus, etaplus, step_min, step_max; /* Rprop */
    float lookahead_alpha;                       /* the α of a Lookahead sync ending this step */
    float rule[OPTCL_RULE_SCALARS]; /* a rule's own, named in its descriptor and its kernel */
    uint round_key;                              /* stochastic rounding: the step's key */
} optcl_scalars;

/* Stochastic rounding to bfloat16 (ROUNDING 1), as torchao's _fp32_to_bf16_sr: the float32
 * bits are cut to bfloat16 towards zero, then rounded away from zero when a uniform 16-bit
 * draw is below the 16 bits cut off, so the expected value is the float32 value. The draw is
 * the top half of a counter-based hash: Wellons' lowbias32 of the element's index in the flat
 * buffer xor the step's key (splitmix64 of seed and step, host/rounding.c). The same bits on
 * every device, backend and vector width; two multiplies per element, where Philox2x32-10
 * made the step compute-bound on a CPU (3.2× Adam's time at 16M on PoCL). */
static inline uintv optcl_draw(uintv element, uint key)
{
    uintv x = element ^ key;
    x = (x ^ (x >> 16)) * 0x7FEB352Du;
    x = (x ^ (x >> 15)) * 0x846CA68Bu;
    return x ^ (x >> 16);
}

static inline ushortv optcl_to_bf16_sr(floatv f, uintv draw)
{
    uintv u = OPTCL_V(as_uint)(f), down = u & 0xFFFF0000u;
    uintv up = select(down, down + 0x10000u, (draw >> 16) < (u & 0xFFFFu));
    return optcl_to_bf16(OPTCL_V(as_float)(up)); /* exact, and NaN → 0x7FC0 */
}

/* The index of each of a work-item's VEC elements in the flat buffer. */
#if VEC == 1
#define OPTCL_LANES 0u
#elif VEC == 2
#define OPTCL_LANES (uint2)(0, 1)
#elif VEC == 4
#define OPTCL_LANES (uint4)(0, 1, 2, 3)
#elif VEC == 8
#define OPTCL_LANES (uint8)(0, 1, 2, 3, 4, 5, 6, 7)
#else
#define OPTCL_LANES (uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#endif
#define OPTCL_ELEMENTS(i) ((uintv)((uint)(i) * (uint)VEC) + OPTCL_LANES)

/* The weights an update rule steps. Without MASTER: the parameters, loaded widened and stored
 * rounded — to nearest even, or stochastically (ROUNDING 1, bfloat16 only). With MASTER: the
 * float32 master copy, which the first step takes from the parameters; each store also writes
 * the parameters rounded. Both need the step's scalars s. */
#ifndef MASTER
#define MASTER 0
#endif
#ifndef ROUNDING
#define ROUNDING 0
#endif
#if ROUNDING
#define OPTCL_STORE_ROUNDED(p, i, v)                                                              \
    (((__global ushortv *)(p))[i] =                                                               \
         optcl_to_bf16_sr(v, optcl_draw(OPTCL_ELEMENTS(i), s.round_key)))
#else
#define OPTCL_STORE_ROUNDED(p, i, v) STORE_PARAM(p, i, v)
#endif
#if MASTER
#define OPTCL_MASTER_ARG , __global float *restrict master
#define LOAD_WEIGHT(p, i) (s.first_step ? LOAD_PARAM(p, i) : LOAD(master, i))
#define STORE_WEIGHT(p, i, v)                                                                     \
    do {                                                                                          \
        floatv weight_ = (v);                                                                     \
        STORE(master, i, weight_);                                                                \
        OPTCL_STORE_ROUNDED(p, i, weight_);                                                       \
    } while (0)
#else
#define OPTCL_MASTER_ARG
#define LOAD_WEIGHT(p, i) LOAD_PARAM(p, i)
#define STORE_WEIGHT(p, i, v) OPTCL_STORE_ROUNDED(p, i, v)
#endif

/* The gradient guard's record (guard.cl), field for field host/internal.h's optcl__guard. */
typedef struct optcl_guard {
    ulong steps;   /* the optimizer's step count: the device owns it while a guard is on */
    ulong skipped; /* steps skipped for a non-finite gradient */
    float norm;    /* the last step's global gradient norm */
    float coef;    /* its clip coefficient (1 when clipping is off) */
    int skip;      /* the current step is skipped */
    uint slot;     /* the scalar table's row for the current step, times the range count */
    float inv_scale;     /* loss scaling: 1 / the scale the current step's gradient carries */
    uint growth_tracker; /* dynamic loss scaling: steps in a row without a skip */
    float prev_scale;    /* what optcl_guard_undo restores: the scale and the tracker before */
    uint prev_tracker;   /* the current step's update of them */
} optcl_guard;

#ifndef GUARD
#define GUARD 0 /* a guard (clipping or non-finite skip) decides each step on the device */
#endif
#ifndef CLIP
#define CLIP 0
#endif
#ifndef LOSS_SCALE
#define LOSS_SCALE 0 /* the gradient carries a loss scale (implies GUARD) */
#endif
#ifndef WRITE_UNSCALED
#define WRITE_UNSCALED 0 /* the unscaled gradient is stored back */
#endif

/* How an update kernel gets its scalars. Unguarded: by value, set by the host each step.
 * Guarded: from the host's table at the row guard.cl picked from the device's step count, and
 * a skipped step returns before touching anything. The record is only read here (restrict:
 * nothing the kernel stores can change it), so PoCL hoists these loads out of its work-item
 * loop and still vectorises. */
#if GUARD
#define OPTCL_STEP_ARGS                                                                           \
    __global const optcl_guard *restrict guard, __global const optcl_scalars *restrict table,     \
        uint range OPTCL_MASTER_ARG OPTCL_Q8_ARG
#define OPTCL_STEP_BEGIN                                                                          \
    if (guard->skip)                                                                              \
        return;                                                                                   \
    const optcl_scalars s = table[guard->slot + range];                                           \
    const float clip_coef = guard->coef, inv_loss_scale = guard->inv_scale OPTCL_Q8_BEGIN
#else
#define OPTCL_STEP_ARGS const optcl_scalars s OPTCL_MASTER_ARG OPTCL_Q8_ARG
#define OPTCL_STEP_BEGIN const float clip_coef = 1.0f, inv_loss_scale = 1.0f OPTCL_Q8_BEGIN
#endif
/* 8-bit state's arguments and private buffers (q8.cl); nothing otherwise */
#define OPTCL_Q8_ARG
#define OPTCL_Q8_BEGIN

/* The vectors a work-item steps, i: one, or with 8-bit state a whole block's (q8.cl). */
#define OPTCL_VECTORS_PER_ITEM 1
#define OPTCL_FOR_EACH_VECTOR(i)                                                                  \
    for (size_t i = get_global_id(0) * OPTCL_VECTORS_PER_ITEM,                                   \
                i##_end_ = i + OPTCL_VECTORS_PER_ITEM;                                            \
         i < i##_end_; i++)

/* The gradient buffer: read only, unless the unscaled gradient is stored back. */
#if WRITE_UNSCALED
typedef param_t grad_t;
#else
typedef const param_t grad_t;
#endif

/* A gradient value of any float type unscaled (times the reciprocal of the loss scale, as
 * GradScaler.unscale_), and scaled by clip_grad_norm_'s coefficient; inv_loss_scale and
 * clip_coef are the kernel's. */
#define OPTCL_UNSCALED(g) (LOSS_SCALE ? (g) * inv_loss_scale : (g))
#define OPTCL_CLIPPED(g) (CLIP ? (g) * clip_coef : (g))

/* The gradient element i as the rule's update sees it: unscaled (stored back with
 * WRITE_UNSCALED), then clipped. */
static inline floatv optcl_unscaled_grad(__global grad_t *grad, size_t i, float inv_loss_scale)
{
    return OPTCL_UNSCALED(LOAD_GRAD(grad, i));
}

static inline floatv optcl_clipped_grad(floatv g, float clip_coef)
{
    return OPTCL_CLIPPED(g);
}

static inline floatv optcl_grad_at(__global grad_t *grad, size_t i, float inv_loss_scale,
                                   float clip_coef)
{
    floatv g = optcl_unscaled_grad(grad, i, inv_loss_scale);
#if LOSS_SCALE && WRITE_UNSCALED
    STORE_PARAM(grad, i, g);
#endif
    return optcl_clipped_grad(g, clip_coef);
}

/* The same without storing it back: a first pass over a gradient that the step kernel reads
 * (and stores) again. */
static inline floatv optcl_grad_peek(__global grad_t *grad, size_t i, float inv_loss_scale,
                                     float clip_coef)
{
    return optcl_clipped_grad(optcl_unscaled_grad(grad, i, inv_loss_scale), clip_coef);
}
#define OPTCL_GRAD_AT(grad, i) optcl_grad_at(grad, i, inv_loss_scale, clip_coef)
#define OPTCL_GRAD_PEEK(grad, i) optcl_grad_peek(grad, i, inv_loss_scale, clip_coef)

/* The gradient as the rule sees it: ascent when maximizing (PyTorch negates the gradient). */
static inline floatv optcl_direction(floatv g)
{
#if MAXIMIZE
    return -g;
#else
    return g;
#endif
}

/* a·b + c rounded once, scalars widened to vectors (OpenCL's fma takes one type). */
#define OPTCL_FMA(a, b, c) fma((floatv)(a), (floatv)(b), (floatv)(c))

/* torch.lerp(a, b, w) as PyTorch evaluates it for float: from whichever end is nearer, in one
 * fused multiply-add (w − 1 is exact where |w| >= 0.5). */
static inline floatv optcl_lerp(floatv a, floatv b, float w)
{
    return fabs(w) < 0.5f ? OPTCL_FMA(w, b - a, a) : OPTCL_FMA(w - 1.0f, b - a, b);
}

/* Weight decay as torch.optim applies it: into the direction, d + wd·p (L2, grad.add(param,
 * alpha=wd): fused), or — DECOUPLED
 * (AdamW, NAdamW, RAdamW: a family's build option) — on the weights first, p·(1 − lr·wd). */
#ifndef DECOUPLED
#define DECOUPLED 0
#endif
#define OPTCL_WEIGHT_DECAY(p, d)                                                                  \
    do {                                                                                          \
        if (s.weight_decay != 0.0f) {                                                             \
            if (DECOUPLED)                                                                        \
                p = p * s.decay_factor;                                                           \
            else                                                                                  \
                d = OPTCL_FMA(s.weight_decay, p, d);                                              \
        }                                                                                         \
    } while (0)

/* Adam's moments of direction d at vector i, stored, and as m and v for the rule's step:
 * m = lerp(exp_avg, d, 1 − β1), v = β2·exp_avg_sq + (1 − β2)·d² (Adam, NAdam, RAdam; torch's
 * exp_avg_sq.mul_(β2).addcmul_(d, d, value=1 − β2), whose addcmul is fused). */
#define OPTCL_ADAM_MOMENTS(m, v, exp_avg, exp_avg_sq, i, d)                                       \
    floatv m = optcl_lerp(LOAD_STATE(exp_avg, i), d, s.one_minus_beta1);                          \
    floatv v = OPTCL_FMA(s.one_minus_beta2 * d, d, LOAD_STATE(exp_avg_sq, i) * s.beta2);          \
    STORE_STATE(exp_avg, i, m);                                                                   \
    STORE_STATE(exp_avg_sq, i, v)

/* torch.maximum: NaN wins (fmax would drop it). */
static inline floatv optcl_maximum(floatv a, floatv b)
{
    return select(b, a, a > b || a != a);
}

/* Rules that look at whole tensors (host/segments.h). Their sums kernel runs one work-item per
 * 256-element block (OPTCL_FOR_EACH_BLOCK_VECTOR) and adds each of its n sums in a fixed order
 * whatever VEC: element e of the block into lane e % 16, each lane in order (OPTCL_SUM), then
 * lane i += lane i + w for w = 8, 4, 2, 1 (OPTCL_SUMS_END) — host/reference/reference.h's
 * optcl__lanes_total. Their totals kernel adds each tensor's blocks and derives its values;
 * the step kernel reads them (OPTCL_TENSOR_VALUE). Blocks of a tensor that the totals kernel
 * steps whole (block_whole, below) are passed over by the other two. */
#define OPTCL_BLOCK 256
#define OPTCL_LANE_VECTORS (16 / VEC) /* the vectors of 16 lanes */
#define OPTCL_SUMS_ARG                                                                            \
    , __global float *restrict block_sums, uint end_block, __global const uchar *restrict block_whole
/* the work-item's block (the launch is padded to whole work-groups: work-items past the range's
 * end return, as do those on a tensor stepped whole) */
#define OPTCL_SUMS_BEGIN(n)                                                                       \
    const size_t sums_block_ = get_global_id(0);                                                  \
    if (sums_block_ >= end_block || block_whole[sums_block_])                                     \
        return;                                                                                   \
    OPTCL_BLOCK_SUMS_BEGIN(n)
#define OPTCL_FOR_EACH_BLOCK_VECTOR(i, k) OPTCL_FOR_EACH_VECTOR_OF_BLOCK(sums_block_, i, k)
#define OPTCL_SUMS_END(n) OPTCL_BLOCK_SUMS_END(sums_block_, n)

/* The same for any block b: n sums zeroed, vector i of block b and k, its place among the 16
 * lanes (i % (16 / VEC)), the sums added into block_sums. */
#define OPTCL_BLOCK_SUMS_BEGIN(n)                                                                 \
    floatv sums_[n][OPTCL_LANE_VECTORS];                                                          \
    for (uint j_ = 0; j_ < (n); j_++)                                                             \
        for (uint k_ = 0; k_ < OPTCL_LANE_VECTORS; k_++)                                          \
            sums_[j_][k_] = (floatv)0.0f
#define OPTCL_FOR_EACH_VECTOR_OF_BLOCK(b, i, k)                                                   \
    for (size_t i##_0 = (b) * (OPTCL_BLOCK / VEC), i##_end = i##_0 + OPTCL_BLOCK / VEC;           \
         i##_0 < i##_end; i##_0 += OPTCL_LANE_VECTORS)                                            \
        for (size_t k = 0, i = i##_0; k < OPTCL_LANE_VECTORS; k++, i++)
#define OPTCL_SUM(j, k, x) (sums_[j][k] += (x))
#define OPTCL_BLOCK_SUMS_END(b, n)                                                                \
    for (uint j_ = 0; j_ < (n); j_++)                                                             \
    block_sums[(b) * (n) + j_] = optcl_lanes_total(sums_[j_])

static inline float optcl_lanes_total(const floatv *acc)
{
    float lane[16];
    for (uint k = 0; k < OPTCL_LANE_VECTORS; k++)
#if VEC == 1
        lane[k] = acc[k];
#else
        OPTCL_V(vstore)(acc[k], k, lane);
#endif
    /* lane i += lane i + w for w = 8, 4, 2, 1 as halves of vectors: the same adds (a loop of
     * single adds through memory cost a fifth of LARS's sums) */
    float8 by8 = vload8(0, lane) + vload8(1, lane);
    float4 by4 = by8.lo + by8.hi;
    float2 by2 = by4.lo + by4.hi;
    return by2.x + by2.y;
}

/* The totals kernel (optcl_<family>_totals_f32: the step kernel's arguments, then
 * OPTCL_TOTALS_ARG): TOTALS_ITEMS work-items per tensor, tensor first + global id /
 * TOTALS_ITEMS, add its blocks' sums in 64 lanes (OPTCL_TOTAL), and the first of them writes
 * what the step kernel reads of the tensor (a trust ratio), once per tensor
 * (OPTCL_TOTALS_WRITE). On GPUs TOTALS_ITEMS is 64, one lane each, reduced in local memory;
 * on CPUs 1, which adds the 64 lanes in turn — the same order, the same bits. The launch is
 * padded to whole work-groups; items of tensors past end add nothing, write nothing, and
 * (with 64) take part in the barriers. */
#ifndef TOTALS_ITEMS
#define TOTALS_ITEMS 1
#endif
#define OPTCL_TOTALS_LANES 64
/* totals_scratch: the 64-item reduction's local memory, one float per work-item, a kernel
 * argument (host/segments.c) rather than an array in the kernel: PoCL 3.1's threads, running
 * work-groups side by side, now and then shared such an array and added wrong totals. */
#define OPTCL_TOTALS_ARG                                                                          \
    , __global float *restrict block_sums, __global const uint *restrict segment_blocks,          \
        __global float *restrict tensor_values, uint first, uint end,                             \
        __local float *restrict totals_scratch, __global const uchar *restrict block_whole
#if TOTALS_ITEMS == 1
#define OPTCL_TOTALS_BEGIN(t)                                                                     \
    (void)totals_scratch;                                                                         \
    (void)block_whole;                                                                            \
    const uint t = first + (uint)get_global_id(0)
#define OPTCL_TOTAL(t, n, k) optcl_tensor_total(block_sums, segment_blocks, end, n, t, k)
#else
#define OPTCL_TOTALS_BEGIN(t)                                                                     \
    (void)block_whole;                                                                            \
    const uint t = first + (uint)(get_global_id(0) / OPTCL_TOTALS_LANES)
#define OPTCL_TOTAL(t, n, k)                                                                      \
    optcl_tensor_total(block_sums, segment_blocks, end, n, t, k, totals_scratch)
#endif
#define OPTCL_TOTALS_WRITE(t, value)                                                              \
    do {                                                                                          \
        if (t < end && get_local_id(0) % TOTALS_ITEMS == 0)                                       \
            tensor_values[t] = (value);                                                           \
    } while (0)

/* Sum k of tensor t (n per block): lane j adds the blocks b0 + j, b0 + j + 64, … in order,
 * then lane i += lane i + w for w = 32, 16, …, 1 — host/reference/reference.h's
 * optcl__tensor_total. Tensors past end add nothing. (No restrict on the parameters: inlined
 * once, they leave noalias scope declarations that Oclgrind's LLVM cannot run.) */
#if TOTALS_ITEMS == 1
static inline float optcl_tensor_total(__global const float *block_sums,
                                       __global const uint *segment_blocks, uint end,
                                       uint n, uint t, uint k)
{
    float lane[OPTCL_TOTALS_LANES];
    for (uint j = 0; j < OPTCL_TOTALS_LANES; j++)
        lane[j] = 0.0f;
    if (t < end)
        for (uint b = segment_blocks[2 * t], j = 0; b < segment_blocks[2 * t + 1];
             b++, j = (j + 1) % OPTCL_TOTALS_LANES)
            lane[j] += block_sums[(size_t)b * n + k];
    for (uint w = OPTCL_TOTALS_LANES / 2; w >= 1; w /= 2)
        for (uint i = 0; i < w; i++)
            lane[i] += lane[i + w];
    return lane[0];
}
#else
/* (on every work-item of the tensor: lane j is work-item j) */
static inline float optcl_tensor_total(__global const float *block_sums,
                                       __global const uint *segment_blocks, uint end,
                                       uint n, uint t, uint k, __local float *scratch)
{
    uint lane = (uint)get_local_id(0) % OPTCL_TOTALS_LANES;
    __local float *mine = scratch + (uint)get_local_id(0) - lane;
    float sum = 0.0f;
    if (t < end)
        for (uint b = segment_blocks[2 * t] + lane; b < segment_blocks[2 * t + 1];
             b += OPTCL_TOTALS_LANES)
            sum += block_sums[(size_t)b * n + k];
    mine[lane] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint w = OPTCL_TOTALS_LANES / 2; w >= 1; w /= 2) {
        if (lane < w)
            mine[lane] += mine[lane + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float total = mine[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* before the scratch is used again */
    return total;
}
#endif

/* The totals kernel of a rule that steps small tensors whole (rule.h's whole_tensors;
 * host/segments.h): a work-group per tensor, tensor first + group id. Where the tensor is whole
 * (block_whole of its first block), its work-items add its blocks' sums and wait for each other
 * (OPTCL_WHOLE_SUMS: OPTCL_FOR_EACH_WHOLE_BLOCK, then OPTCL_WHOLE_STAGE_DONE), each finds the
 * tensor's values as OPTCL_TOTAL does and steps its share of the tensor's vectors
 * (OPTCL_FOR_EACH_WHOLE_VECTOR) while the tensor is still in cache: the three launches' work in
 * the same order, so the same bits. Other tensors only get their values. The barrier is
 * reached by every work-item: whole or not is the work-group's tensor's. */
#define OPTCL_TENSOR_BEGIN(t)                                                                     \
    (void)totals_scratch;                                                                         \
    const uint t = first + (uint)get_group_id(0);                                                 \
    const uint t##_first_ = t < end ? segment_blocks[2 * t] : 0,                                  \
               t##_end_ = t < end ? segment_blocks[2 * t + 1] : 0;                                \
    const bool t##_whole_ = t##_first_ < t##_end_ && block_whole[t##_first_]
#define OPTCL_FOR_EACH_WHOLE_BLOCK(t, b)                                                          \
    if (t##_whole_)                                                                               \
    OPTCL_SHARE(b, t##_first_, t##_end_ - t##_first_)
#define OPTCL_WHOLE_STAGE_DONE barrier(CLK_GLOBAL_MEM_FENCE)
/* A whole tensor's sums stage: n sums per block, SUMS(i, k) adding vector i into lane vector k,
 * block by block as the sums kernel adds them (OPTCL_SUMS_BEGIN … OPTCL_SUMS_END), then the
 * wait. */
#define OPTCL_WHOLE_SUMS(t, n, SUMS)                                                              \
    OPTCL_FOR_EACH_WHOLE_BLOCK(t, whole_block_) {                                                 \
        OPTCL_BLOCK_SUMS_BEGIN(n);                                                                \
        OPTCL_FOR_EACH_VECTOR_OF_BLOCK(whole_block_, i_, k_) {                                    \
            SUMS(i_, k_);                                                                         \
        }                                                                                         \
        OPTCL_BLOCK_SUMS_END(whole_block_, n);                                                    \
    }                                                                                             \
    OPTCL_WHOLE_STAGE_DONE
/* a whole tensor's stages before its sums (Adafactor's row and column means): u from 0 to
 * count, shared among the work-items as the blocks are, then OPTCL_WHOLE_STAGE_DONE */
#define OPTCL_FOR_EACH_WHOLE_ITEM(t, u, count)                                                    \
    if (t##_whole_)                                                                               \
    OPTCL_SHARE(u, 0, count)
#define OPTCL_FOR_EACH_WHOLE_VECTOR(t, i)                                                         \
    if (t##_whole_)                                                                               \
    OPTCL_SHARE(i, (size_t)t##_first_ * (OPTCL_BLOCK / VEC),                                      \
                (size_t)(t##_end_ - t##_first_) * (OPTCL_BLOCK / VEC))
/* once per tensor (every work-item found the same value) */
#define OPTCL_TENSOR_WRITE(t, value)                                                              \
    do {                                                                                          \
        if (t < end && get_local_id(0) == 0)                                                      \
            tensor_values[t] = (value);                                                           \
    } while (0)
/* Work-item u's share of count units (blocks or vectors) from first: on GPUs every
 * work-group-size-th from its local id, so that neighbours read neighbouring memory; on CPUs,
 * which run a work-group on one core, a contiguous run each. */
#if TOTALS_ITEMS == 1
#define OPTCL_SHARE(u, first_unit, count)                                                         \
    for (size_t u##_per_ = ((count) + get_local_size(0) - 1) / get_local_size(0),                 \
                u = (first_unit) + get_local_id(0) * u##_per_,                                    \
                u##_end_ = (first_unit) + min((size_t)(count), (get_local_id(0) + 1) * u##_per_); \
         u < u##_end_; u++)
#else
#define OPTCL_SHARE(u, first_unit, count)                                                         \
    for (size_t u = (first_unit) + get_local_id(0), u##_end_ = (first_unit) + (count);            \
         u < u##_end_; u += get_local_size(0))
#endif

/* The step kernel's: each block's segment, what the totals kernel wrote per segment, and
 * whether the totals kernel stepped the block's tensor whole (OPTCL_STEPPED_WHOLE: pass over). */
#define OPTCL_TENSOR_VALUES_ARG                                                                   \
    , __global const uint *restrict block_segment, __global const float *restrict tensor_values,  \
        __global const uchar *restrict block_whole
#define OPTCL_STEPPED_WHOLE(i) (block_whole[(i) * VEC / OPTCL_BLOCK] != 0)
/* Value j of the tensor of vector i (n per tensor). */
#define OPTCL_TENSOR_VALUE(i, n, j)                                                               \
    tensor_values[block_segment[(i) * VEC / OPTCL_BLOCK] * (n) + (j)]
