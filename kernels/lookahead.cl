/* lookahead.cl — Lookahead's synchronisation of slow and fast weights, in one launch over the
 * whole flat buffer. Read side by side with host/reference/lookahead.c. */

/* slow + α·(fast − slow), the blend of every sync. */
static inline floatv optcl_blend(floatv slow, floatv fast, float alpha)
{
    return slow + alpha * (fast - slow);
}

/* The slow weights are float32 whatever the parameters' type (a blend of low-precision weights
 * would lose what the slow weights accumulate); the parameters store the blend rounded.
 * The parameters become the blend, and with commit the slow weights too. A plain sync passes
 * the parameters as fast; the α line search blends from a saved copy of the fast weights
 * without committing, then commits the α it picked. */
__kernel void optcl_lookahead_f32(__global param_t *param, __global float *slow,
                                  __global const param_t *fast, float alpha, int commit)
{
    size_t i = get_global_id(0); /* launches cover their range exactly: no bounds check */
    floatv v = optcl_blend(LOAD(slow, i), LOAD_PARAM(fast, i), alpha);
    STORE_PARAM(param, i, v);
    if (commit)
        STORE(slow, i, v);
}

/* The slow weights start at the parameters, widened (float32 parameters are copied instead). */
__kernel void optcl_lookahead_start_f32(__global const param_t *param, __global float *slow)
{
    size_t i = get_global_id(0); /* launches cover their range exactly: no bounds check */
    STORE(slow, i, LOAD_PARAM(param, i));
}

#if GUARD
/* With a gradient guard the device owns the step count (already counting the current step), so
 * it decides here. Before the update (sync = 0): on the first step taken while the slow
 * weights are unset — the one whose count reaches start, the count they were unset at plus one
 * (1 after create) — they start at the parameters. After it (sync = 1): a step that ends a
 * k-step cycle blends with its row's α. */
__kernel void optcl_lookahead_guarded_f32(__global param_t *param, __global float *slow,
                                          __global const optcl_guard *restrict guard,
                                          __global const optcl_scalars *restrict table, ulong k,
                                          int sync, ulong start)
{
    size_t i = get_global_id(0); /* launches cover their range exactly: no bounds check */
    if (!sync) {
        if (!guard->skip && guard->steps == start)
            STORE(slow, i, LOAD_PARAM(param, i));
        return;
    }
    if (guard->skip || guard->steps % k != 0)
        return;
    floatv v = optcl_blend(LOAD(slow, i), LOAD_PARAM(param, i), table[guard->slot].lookahead_alpha);
    STORE_PARAM(param, i, v);
    STORE(slow, i, v);
}
#endif
