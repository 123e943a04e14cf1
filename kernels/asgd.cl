/* asgd.cl — torch.optim.ASGD: p *= 1 − λ·η, p −= η·g, and ax, the average of the parameters
 * from step t0 on. Read side by side with host/reference/asgd.c and host/rules/asgd.c (which
 * names the rule's scalars). */

#define DECAY s.rule[0]          /* 1 − λ·η */
#define NEG_ETA s.rule[1]        /* −η */
#define MU s.rule[2]             /* the average's weight of the new parameters */
#define AVERAGING (MU != 1.0f)   /* μ = 1: ax is a copy of the parameters */

__kernel void optcl_asgd_f32(__global param_t *param, __global grad_t *grad,
                             __global state_t *ax, OPTCL_STEP_ARGS)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) { /* launches cover their range exactly: no bounds check */
        floatv p = LOAD_WEIGHT(param, i);
        floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));
        OPTCL_WEIGHT_DECAY(p, d);
        p = p * DECAY;
        p = OPTCL_FMA(NEG_ETA, d, p); /* p.add_(d, alpha=−η) */
        STORE_WEIGHT(param, i, p);
        /* ax is read even when it becomes a copy of p: a store-only stream ran at 0.65 of the
         * same-bytes yardstick on PoCL (a CPU reads each line it writes anyway, without the
         * prefetch a read stream gets), read and written at 0.85. The copy is picked by bits, not
         * by a branch or select the compiler would turn back into a skipped load. */
        floatv a = LOAD_STATE(ax, i);
        uintv averaged = OPTCL_V(as_uint)(a + (p - a) * MU), copied = OPTCL_V(as_uint)(p);
        uintv keep = (uintv)(AVERAGING ? 0xFFFFFFFFu : 0u);
        STORE_STATE(ax, i, OPTCL_V(as_float)((averaged & keep) | (copied & ~keep)));
    }
}
