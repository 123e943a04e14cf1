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
        p = p + NEG_ETA * d;
        STORE_WEIGHT(param, i, p);
        if (AVERAGING) {
            floatv a = LOAD_STATE(ax, i);
            STORE_STATE(ax, i, a + (p - a) * MU);
        } else {
            STORE_STATE(ax, i, p);
        }
    }
}
