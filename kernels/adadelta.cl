/* adadelta.cl — torch.optim.Adadelta: the step is g scaled by √(acc_delta + eps) / √(square_avg
 * + eps), and lr scales only the step applied. Read side by side with host/reference/adadelta.c
 * and host/rules/adadelta.c (which names the rule's scalars). */

#define RHO s.rule[0]
#define ONE_MINUS_RHO s.rule[1]
#define EPS s.rule[2]

__kernel void optcl_adadelta_f32(__global param_t *param, __global grad_t *grad,
                                 __global state_t *square_avg, __global state_t *acc_delta,
                                 OPTCL_STEP_ARGS)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) { /* launches cover their range exactly: no bounds check */
        floatv p = LOAD_WEIGHT(param, i);
        floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));
        OPTCL_WEIGHT_DECAY(p, d);
        floatv sq = OPTCL_FMA(ONE_MINUS_RHO * d, d, LOAD_STATE(square_avg, i) * RHO);
        floatv acc = LOAD_STATE(acc_delta, i);
        floatv delta = sqrt(acc + EPS) / sqrt(sq + EPS) * d;
        STORE_STATE(square_avg, i, sq);
        STORE_STATE(acc_delta, i, OPTCL_FMA(ONE_MINUS_RHO * delta, delta, acc * RHO));
        STORE_WEIGHT(param, i, OPTCL_FMA(s.neg_lr, delta, p));
    }
}
