/* guard.cl — the gradient guard: the global norm and the non-finite check of the whole
 * gradient, reduced on the device in two launches before the update kernel, which reads the
 * outcome (skip, clip coefficient, scalar row) from the guard record. Read side by side with
 * host/reference/guard.c, which reduces in the same order, so both backends agree bit for bit. */

#ifndef SKIP
#define SKIP 0 /* nonfinite = skip */
#endif
#define OPTCL_GUARD_FINAL 256 /* finalize's work-group size; host/internal.h agrees */

/* Worker w covers the 16-float vectors [chunk·w, chunk·w + chunk): it keeps 16 running sums of
 * squares (one per lane, added in order), then adds the lanes in a fixed tree, 16 → 8 → 4 → 2 →
 * 1. bad sums g·0 the same way, which is NaN exactly when some element is NaN or ±Inf. The last
 * worker stops at n16. partial holds the workers' sums, then their bad sums. chunk follows
 * from the element count alone, so the order never depends on the device; and one wide load
 * per iteration is what CPUs vectorise and GPUs read in whole segments. */
static inline float optcl_lanes(float16 v)
{
    float8 v8 = v.lo + v.hi;
    float4 v4 = v8.lo + v8.hi;
    float2 v2 = v4.lo + v4.hi;
    return v2.x + v2.y;
}

__kernel void optcl_guard_stats(__global const float *grad, ulong n16, ulong chunk,
                                __global float *partial)
{
    size_t w = get_global_id(0), workers = get_global_size(0);
    ulong end = min(w * chunk + chunk, n16);
    float16 sq = (float16)0.0f, bad = (float16)0.0f;
    for (ulong v = w * chunk; v < end; v++) {
        float16 g = vload16(v, grad);
        sq = sq + g * g;
        bad = bad + g * 0.0f;
    }
    partial[w] = optcl_lanes(sq);
    partial[workers + w] = optcl_lanes(bad);
}

/* One work-group: item l sums the workers' partials l, l + 256, … in turn, then a halving tree. Item 0
 * decides the step and counts it. The clip coefficient is torch.nn.utils.clip_grad_norm_'s in float32:
 * reciprocal(norm + 1e-6) · max_norm (Tensor.__rtruediv__), clamped to 1 with NaN kept. */
__kernel __attribute__((reqd_work_group_size(OPTCL_GUARD_FINAL, 1, 1)))
void optcl_guard_finalize(__global const float *partial, uint workers,
                                   __global optcl_guard *guard, float max_norm, uint ranges,
                                   uint capacity)
{
    __local float sq[OPTCL_GUARD_FINAL], bad[OPTCL_GUARD_FINAL];
    uint l = get_local_id(0);
    float a = 0.0f, b = 0.0f;
    for (uint i = l; i < workers; i += OPTCL_GUARD_FINAL) {
        a = a + partial[i];
        b = b + partial[workers + i];
    }
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
    int skip = SKIP && bad[0] != bad[0];
    float coef = (1.0f / (norm + 1e-6f)) * max_norm;
    guard->norm = norm;
    guard->coef = CLIP ? (coef > 1.0f ? 1.0f : coef) : 1.0f;
    ulong steps = guard->steps + !skip; /* counted here: the update kernels only read */
    guard->steps = steps;
    guard->skip = skip;
    guard->skipped += skip;
    guard->slot = (uint)(steps % capacity) * ranges;
}

/* Takes the step back when its first update launch could not be enqueued, so that a failed
 * step changes nothing. */
__kernel void optcl_guard_undo(__global optcl_guard *guard)
{
    guard->steps -= !guard->skip;
    guard->skip = 1;
}
