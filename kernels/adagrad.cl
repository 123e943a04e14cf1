/* adagrad.cl — torch.optim.Adagrad: sum += g², p −= clr·g / (√sum + eps). Read side by side with
 * host/reference/adagrad.c and host/rules/adagrad.c (which names the rule's scalars). */

#define NEG_CLR s.rule[0]     /* −lr / (1 + (t − 1)·lr_decay) */
#define EPS s.rule[1]
#define INITIAL_SUM s.rule[2] /* initial_accumulator_value: sum before the first step */

__kernel void optcl_adagrad_f32(__global param_t *param, __global grad_t *grad,
                                __global state_t *sum, OPTCL_STEP_ARGS)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) { /* launches cover their range exactly: no bounds check */
        floatv p = LOAD_WEIGHT(param, i);
        floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));
        OPTCL_WEIGHT_DECAY(p, d);
        /* sum.addcmul_(d, d, value=1) */
        floatv acc = OPTCL_FMA(d, d, s.first_step ? (floatv)INITIAL_SUM : LOAD_STATE(sum, i));
        STORE_STATE(sum, i, acc);
        STORE_WEIGHT(param, i, p + NEG_CLR * d / (sqrt(acc) + EPS));
    }
}
