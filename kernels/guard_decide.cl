/* guard_decide.cl — the gradient guard's reduction and decision (empty unless GUARD): shared by
 * guard.cl's kernels and, with GUARD_FUSED, by the update kernel of a set that one work-group
 * steps, which then reduces and decides before it updates (one launch instead of two). Read
 * side by side with host/reference/guard.c, which reduces in the same order, so both backends
 * and both paths agree bit for bit. */
#if GUARD

#ifndef SKIP
#define SKIP 0 /* nonfinite = skip */
#endif
#ifndef DYNAMIC
#define DYNAMIC 0 /* loss scaling: GradScaler's dynamic scale */
#endif
#ifndef GUARD_FUSED
#define GUARD_FUSED 0
#endif
#define OPTCL_GUARD_FINAL 256 /* the workers' sums are added by a tree this wide; internal.h */

/* Worker w covers the 16-float vectors [chunk·w, chunk·w + chunk), stopping at n16: it keeps 16
 * running sums of squares (one per lane, added in order), then adds the lanes in a fixed tree,
 * 16 → 8 → 4 → 2 → 1. chunk follows from the element count alone (host/reference/guard.c's
 * optcl__guard_chunk), so the order never depends on the device; and one wide load per
 * iteration is what CPUs vectorise and GPUs read in whole segments. */
static inline float optcl_lanes(const float16 *v)
{
    float8 v8 = v->lo + v->hi;
    float4 v4 = v8.lo + v8.hi;
    float2 v2 = v4.lo + v4.hi;
    return v2.x + v2.y;
}

static inline ulong optcl_guard_chunk(ulong n16)
{
    ulong chunk = (n16 + 65535) / 65536;
    return chunk < 16 ? 16 : chunk;
}

/* Sixteen gradient elements v·16 … v·16 + 15 in float32, whatever PARAM_DTYPE (common.cl),
 * loaded as two halves: a float16 passed by value (vload16's result, optcl_lanes's argument)
 * makes PoCL's compiler warn on CPUs without AVX-512. */
#if PARAM_DTYPE == 1
#define OPTCL_GRAD8(h, g) as_float8(convert_uint8(vload8(h, (__global const ushort *)(g))) << 16)
#elif PARAM_DTYPE == 2
#define OPTCL_GRAD8(h, g) vload_half8(h, (__global const half *)(g))
#else
#define OPTCL_GRAD8(h, g) vload8(h, g)
#endif
#define OPTCL_GRAD16(v, g) ((float16)(OPTCL_GRAD8(2 * (v), g), OPTCL_GRAD8(2 * (v) + 1, g)))

/* Worker w's two sums: (sum of squares, bad sum). A NaN or ±Inf element makes the sum of
 * squares NaN or +Inf, so only then (or when finite squares overflow) is the chunk read again
 * for the bad sum: g·0 summed the same way, NaN exactly when some element is NaN or ±Inf.
 * Otherwise it is 0. Summing g·0 on every element cost a quarter of the reduction's time on
 * CPUs, which are bound by instructions per element here. With loss scaling the norm is the
 * unscaled gradient's (times the scale's reciprocal, as GradScaler.unscale_ leaves the gradient
 * for clip_grad_norm_); the non-finite check reads the gradient as it is. */
static inline float2 optcl_worker_sums(__global const param_t *grad, ulong n16, ulong chunk,
                                       size_t w, __global const float *loss_scale)
{
    ulong begin = w * chunk, end = min(begin + chunk, n16);
    float16 sq = (float16)0.0f;
#if LOSS_SCALE
    const float inv = 1.0f / loss_scale[0];
#else
    (void)loss_scale;
#endif
    for (ulong v = begin; v < end; v++) {
        float16 g = OPTCL_GRAD16(v, grad);
#if LOSS_SCALE
        g = g * inv;
#endif
        sq = sq + g * g;
    }
    float sum = optcl_lanes(&sq), bad_sum = 0.0f;
    if (!isfinite(sum)) {
        float16 bad = (float16)0.0f;
        for (ulong v = begin; v < end; v++)
            bad = bad + OPTCL_GRAD16(v, grad) * 0.0f;
        bad_sum = optcl_lanes(&bad);
    }
    return (float2)(sum, bad_sum);
}

/* Loss scaling's parameters: the scale buffer, and GradScaler's growth factor, backoff factor
 * and growth interval. */
#define OPTCL_SCALER_ARGS                                                                         \
    __global float *loss_scale, float growth_factor, float backoff_factor, uint growth_interval
#define OPTCL_SCALER loss_scale, growth_factor, backoff_factor, growth_interval

/* Loss scaling's part of the decision: the current step unscales with the scale's reciprocal;
 * DYNAMIC then updates the scale and the tracker as torch._amp_update_scale_ does (the factors
 * in float32). What was there before is kept for optcl_guard_undo. */
static inline void optcl_scaler(__global optcl_guard *guard, int found_inf, OPTCL_SCALER_ARGS)
{
#if LOSS_SCALE
    float scale = loss_scale[0];
    guard->inv_scale = 1.0f / scale;
    guard->prev_scale = scale;
    guard->prev_tracker = guard->growth_tracker;
#if DYNAMIC
    if (found_inf) {
        loss_scale[0] = scale * backoff_factor;
        guard->growth_tracker = 0;
    } else if (guard->growth_tracker + 1 == growth_interval) {
        float grown = scale * growth_factor;
        if (isfinite(grown))
            loss_scale[0] = grown;
        guard->growth_tracker = 0;
    } else {
        guard->growth_tracker += 1;
    }
#endif
#endif
    (void)guard, (void)found_inf, (void)loss_scale;
    (void)growth_factor, (void)backoff_factor, (void)growth_interval;
}

/* The step's verdict from the sum of squares and the bad sum, by one work-item: the norm, the
 * clip coefficient — torch.nn.utils.clip_grad_norm_'s in float32: reciprocal(norm + 1e-6) ·
 * max_norm (Tensor.__rtruediv__), clamped to 1 with NaN kept — and whether the step happens
 * (with loss scaling a non-finite gradient always skips it); the step is counted here, and
 * the update kernels only read. */
static inline void optcl_decide(float sq, float bad, __global optcl_guard *guard, float max_norm,
                                uint ranges, uint capacity, OPTCL_SCALER_ARGS)
{
    float norm = sqrt(sq);
    int found_inf = bad != bad;
    int skip = (SKIP || LOSS_SCALE) && found_inf;
    optcl_scaler(guard, found_inf, OPTCL_SCALER);
    float coef = (1.0f / (norm + 1e-6f)) * max_norm;
    guard->norm = norm;
    guard->coef = CLIP ? (coef > 1.0f ? 1.0f : coef) : 1.0f;
    ulong steps = guard->steps + !skip;
    guard->steps = steps;
    guard->skip = skip;
    guard->skipped += skip;
    guard->slot = (uint)(steps % capacity) * ranges;
}

/* The halving tree over OPTCL_GUARD_FINAL sums in sq and bad (local memory), by the work-group's
 * items, each taking every items-th index; the totals end in sq[0] and bad[0]. Starts and ends
 * with a barrier. */
static inline void optcl_guard_tree(__local float *sq, __local float *bad)
{
    size_t l = get_local_id(0), items = get_local_size(0);
    for (uint width = OPTCL_GUARD_FINAL / 2; width > 0; width /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (size_t i = l; i < width; i += items) {
            sq[i] = sq[i] + sq[i + width];
            bad[i] = bad[i] + bad[i + width];
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

#if GUARD_FUSED
/* The tree's total by one work-item, over the first n sums: the others are +0 (workers past the
 * data), and x + 0 is x for every sum (none is −0), so the widths whose upper half holds only
 * those change nothing and the rest add only what is there. */
static inline float optcl_guard_total(__local float *v, uint n)
{
    for (uint width = OPTCL_GUARD_FINAL / 2; width > 0; width /= 2) {
        for (uint i = 0; i + width < n; i++)
            v[i] = v[i] + v[i + width];
        n = min(n, width);
    }
    return v[0];
}

/* The update kernel of a set that one work-group steps (host/guard.c decides) reduces and
 * decides first: its items compute the workers' sums in turn (worker w by item w mod the
 * group's size; only the workers that hold data), then item 0 adds them as the tree does and
 * decides — two barriers in all, each of which costs PoCL a pass over the work-items; after
 * the second every item reads the verdict as from guard.cl's kernels. The record is written
 * here, so it is not const. */
typedef struct optcl_guard_params { /* host/internal.h's optcl__guard_params */
    float max_norm, growth_factor, backoff_factor;
    uint growth_interval, capacity;
} optcl_guard_params;

static inline void optcl_guard_in_step(__global optcl_guard *guard, __global const param_t *grad,
                                       __global float *loss_scale, optcl_guard_params gp,
                                       __local float *sq, __local float *bad)
{
    size_t l = get_local_id(0), items = get_local_size(0);
    ulong n16 = (ulong)get_global_size(0) * VEC * OPTCL_VECTORS_PER_ITEM / 16;
    ulong chunk = optcl_guard_chunk(n16);
    uint workers = (uint)((n16 + chunk - 1) / chunk); /* ≤ 256: the set fits one work-group */
    for (size_t w = l; w < workers; w += items) {
        float2 sums = optcl_worker_sums(grad, n16, chunk, w, loss_scale);
        sq[w] = sums.x;
        bad[w] = sums.y;
    }
    /* the sums in local memory; every item has read the scale before item 0 updates it */
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    if (l == 0)
        optcl_decide(optcl_guard_total(sq, workers), optcl_guard_total(bad, workers), guard,
                     gp.max_norm, 1, gp.capacity, loss_scale, gp.growth_factor,
                     gp.backoff_factor, gp.growth_interval);
    barrier(CLK_GLOBAL_MEM_FENCE); /* the verdict, and the gradient read before any store */
}

#undef OPTCL_STEP_ARGS
#define OPTCL_STEP_ARGS                                                                           \
    __global optcl_guard *restrict guard, __global const optcl_scalars *restrict table,           \
        uint range, __global float *restrict guard_scale,                                         \
        const optcl_guard_params guard_params OPTCL_MASTER_ARG OPTCL_Q8_ARG
#undef OPTCL_STEP_BEGIN
#define OPTCL_STEP_BEGIN                                                                          \
    __local float guard_sq_[OPTCL_GUARD_FINAL], guard_bad_[OPTCL_GUARD_FINAL];                    \
    optcl_guard_in_step(guard, (__global const param_t *)grad, guard_scale, guard_params,        \
                        guard_sq_, guard_bad_);                                                   \
    if (guard->skip)                                                                              \
        return;                                                                                   \
    const optcl_scalars s = table[guard->slot + range];                                           \
    const float clip_coef = guard->coef, inv_loss_scale = guard->inv_scale OPTCL_Q8_BEGIN
#endif

#endif
