/* guard.cl — the gradient guard: the global norm and the non-finite check of the whole
 * gradient, reduced on the device in two launches (one up to 65536 floats) before the update
 * kernel, which reads the outcome (skip, clip coefficient, scalar row) from the guard record.
 * Read side by side with host/reference/guard.c, which reduces in the same order, so both
 * backends agree bit for bit. */

#ifndef SKIP
#define SKIP 0 /* nonfinite = skip */
#endif
#ifndef DYNAMIC
#define DYNAMIC 0 /* loss scaling: GradScaler's dynamic scale */
#endif
#define OPTCL_GUARD_FINAL 256 /* finalize's work-group size; host/internal.h agrees */

/* Worker w covers the 16-float vectors [chunk·w, chunk·w + chunk), stopping at n16: it keeps 16
 * running sums of squares (one per lane, added in order), then adds the lanes in a fixed tree,
 * 16 → 8 → 4 → 2 → 1. partial holds the workers' sums, then their bad sums. chunk follows from
 * the element count alone, so the order never depends on the device; and one wide load per
 * iteration is what CPUs vectorise and GPUs read in whole segments. */
static inline float optcl_lanes(float16 v)
{
    float8 v8 = v.lo + v.hi;
    float4 v4 = v8.lo + v8.hi;
    float2 v2 = v4.lo + v4.hi;
    return v2.x + v2.y;
}

/* Worker w's two sums: (sum of squares, bad sum). A NaN or ±Inf element makes the sum of
 * squares NaN or +Inf, so only then (or when finite squares overflow) is the chunk read again
 * for the bad sum: g·0 summed the same way, NaN exactly when some element is NaN or ±Inf.
 * Otherwise it is 0. Summing g·0 on every element cost a quarter of the reduction's time on
 * CPUs, which are bound by instructions per element here. */
/* Sixteen gradient elements v·16 … v·16 + 15 in float32, whatever PARAM_DTYPE (common.cl). */
#if PARAM_DTYPE == 1
#define OPTCL_GRAD16(v, g)                                                                        \
    as_float16(convert_uint16(vload16(v, (__global const ushort *)(g))) << 16)
#elif PARAM_DTYPE == 2
#define OPTCL_GRAD16(v, g) vload_half16(v, (__global const half *)(g))
#else
#define OPTCL_GRAD16(v, g) vload16(v, g)
#endif

/* With loss scaling the norm is the unscaled gradient's (times the scale's reciprocal, as
 * GradScaler.unscale_ leaves the gradient for clip_grad_norm_); the non-finite check reads the
 * gradient as it is. */
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
    float sum = optcl_lanes(sq), bad_sum = 0.0f;
    if (!isfinite(sum)) {
        float16 bad = (float16)0.0f;
        for (ulong v = begin; v < end; v++)
            bad = bad + OPTCL_GRAD16(v, grad) * 0.0f;
        bad_sum = optcl_lanes(bad);
    }
    return (float2)(sum, bad_sum);
}

/* The worker count is a multiple of 256 (host/reference/guard.c), so the launch runs whole
 * work-groups; workers past the data start at or beyond n16 and add nothing. */
__kernel void optcl_guard_stats(__global const param_t *grad, ulong n16, ulong chunk,
                                __global float *partial, uint workers,
                                __global const float *loss_scale)
{
    size_t w = get_global_id(0);
    float2 sums = optcl_worker_sums(grad, n16, chunk, w, loss_scale);
    partial[w] = sums.x;
    partial[workers + w] = sums.y;
}

/* Loss scaling's parameters (the tail of finalize's arguments): the scale buffer, and
 * GradScaler's growth factor, backoff factor and growth interval. */
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

/* Item l holds its sums a and b; a halving tree adds them, then item 0 decides the step and
 * counts it. The clip coefficient is torch.nn.utils.clip_grad_norm_'s in float32:
 * reciprocal(norm + 1e-6) · max_norm (Tensor.__rtruediv__), clamped to 1 with NaN kept. With
 * loss scaling a non-finite gradient always skips the step (GradScaler's found_inf). */
static inline void optcl_decide(float a, float b, __local float *sq, __local float *bad,
                                __global optcl_guard *guard, float max_norm, uint ranges,
                                uint capacity, OPTCL_SCALER_ARGS)
{
    uint l = get_local_id(0);
    sq[l] = a;
    bad[l] = b;
    for (uint width = OPTCL_GUARD_FINAL / 2; width > 0; width /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (l < width) {
            sq[l] = sq[l] + sq[l + width];
            bad[l] = bad[l] + bad[l + width];
        }
    }
    if (l != 0)
        return;
    float norm = sqrt(sq[0]);
    int found_inf = bad[0] != bad[0];
    int skip = (SKIP || LOSS_SCALE) && found_inf;
    optcl_scaler(guard, found_inf, OPTCL_SCALER);
    float coef = (1.0f / (norm + 1e-6f)) * max_norm;
    guard->norm = norm;
    guard->coef = CLIP ? (coef > 1.0f ? 1.0f : coef) : 1.0f;
    ulong steps = guard->steps + !skip; /* counted here: the update kernels only read */
    guard->steps = steps;
    guard->skip = skip;
    guard->skipped += skip;
    guard->slot = (uint)(steps % capacity) * ranges;
}

/* One work-group (its first four arguments are the fused kernel's too): item l sums the
 * workers' partials l, l + 256, … in turn, then decides. */
__kernel __attribute__((reqd_work_group_size(OPTCL_GUARD_FINAL, 1, 1)))
void optcl_guard_finalize(__global optcl_guard *guard, float max_norm, uint ranges,
                                   uint capacity, __global const float *partial, uint workers,
                                   OPTCL_SCALER_ARGS)
{
    __local float sq[OPTCL_GUARD_FINAL], bad[OPTCL_GUARD_FINAL];
    uint l = get_local_id(0);
    float a = 0.0f, b = 0.0f;
    for (uint i = l; i < workers; i += OPTCL_GUARD_FINAL) {
        a = a + partial[i];
        b = b + partial[workers + i];
    }
    optcl_decide(a, b, sq, bad, guard, max_norm, ranges, capacity, OPTCL_SCALER);
}

/* Both in one launch when there are 256 workers (gradients up to 65536 floats): item l is
 * worker l, and its sums are what finalize's first addition (0 + partial) gives, since no sum
 * is −0. One launch instead of two is most of a small step's cost. */
__kernel __attribute__((reqd_work_group_size(OPTCL_GUARD_FINAL, 1, 1)))
void optcl_guard_stats_finalize(__global optcl_guard *guard, float max_norm, uint ranges,
                                         uint capacity, __global const param_t *grad, ulong n16,
                                         ulong chunk, OPTCL_SCALER_ARGS)
{
    __local float sq[OPTCL_GUARD_FINAL], bad[OPTCL_GUARD_FINAL];
    float2 sums = optcl_worker_sums(grad, n16, chunk, get_local_id(0), loss_scale);
    barrier(CLK_GLOBAL_MEM_FENCE); /* every item has read the scale before item 0 updates it */
    optcl_decide(sums.x, sums.y, sq, bad, guard, max_norm, ranges, capacity, OPTCL_SCALER);
}

/* Takes the step back when its first update launch could not be enqueued, so that a failed
 * step changes nothing. */
__kernel void optcl_guard_undo(__global optcl_guard *guard, __global float *loss_scale)
{
    guard->steps -= !guard->skip;
    guard->skip = 1;
#if LOSS_SCALE
    loss_scale[0] = guard->prev_scale;
    guard->growth_tracker = guard->prev_tracker;
#else
    (void)loss_scale;
#endif
}
