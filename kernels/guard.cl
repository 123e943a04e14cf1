/* guard.cl — the gradient guard's kernels: the global norm and the non-finite check of the
 * whole gradient, reduced on the device in two launches (one up to 65536 floats) before the
 * update kernel, which reads the outcome (skip, clip coefficient, scalar row) from the guard
 * record. The reduction and the decision are guard_decide.cl's (a set that one work-group
 * steps reduces in its update kernel instead). Read side by side with host/reference/guard.c,
 * which reduces in the same order, so both backends agree bit for bit. */

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

/* One work-group (its first four arguments are the fused kernel's too): item l sums the
 * workers' partials l, l + 256, … in turn; the tree; item 0 decides. */
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
    sq[l] = a;
    bad[l] = b;
    optcl_guard_tree(sq, bad);
    if (l == 0)
        optcl_decide(sq[0], bad[0], guard, max_norm, ranges, capacity, OPTCL_SCALER);
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
    uint l = get_local_id(0);
    float2 sums = optcl_worker_sums(grad, n16, chunk, l, loss_scale);
    sq[l] = sums.x;
    bad[l] = sums.y;
    barrier(CLK_GLOBAL_MEM_FENCE); /* every item has read the scale before item 0 updates it */
    optcl_guard_tree(sq, bad);
    if (l == 0)
        optcl_decide(sq[0], bad[0], guard, max_norm, ranges, capacity, OPTCL_SCALER);
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
