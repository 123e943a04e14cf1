/* schedulefree.cl — Schedule-Free SGD and AdamW (ADAMW), as the schedulefree package: the
 * parameters hold y, the state z; y moves towards z by the average's weight, then both take the
 * (for AdamW, normalised) gradient. And the train/eval switch. Read side by side with
 * host/reference/schedulefree.c and host/rules/schedulefree.c (which names the scalars). */

#ifndef ADAMW
#define ADAMW 0 /* the gradient is divided by sqrt(v / (1 − β2^t)) + eps, v in exp_avg_sq */
#endif

#define CKP1 s.rule[0]             /* c_t, the weight of this step in the average x */
#define Y_COEF s.rule[1]           /* lr·(β·(1 − c_t) − 1) */
#define LR s.rule[2]               /* the lr after warmup */
#define BIAS_CORRECTION2 s.rule[3] /* 1 − β2^t */

__kernel void optcl_schedulefree_f32(__global param_t *param, __global grad_t *grad,
                                     __global state_t *z, __global state_t *exp_avg_sq,
                                     OPTCL_STEP_ARGS)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) { /* launches cover their range exactly: no bounds check */
        floatv y = LOAD_WEIGHT(param, i);
        floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));
        floatv zi = s.first_step ? y : LOAD_STATE(z, i);
    #if ADAMW
        floatv v = OPTCL_FMA(s.one_minus_beta2 * d, d, LOAD_STATE(exp_avg_sq, i) * s.beta2);
        STORE_STATE(exp_avg_sq, i, v);
        d = d / (sqrt(v / BIAS_CORRECTION2) + s.eps);
    #endif
        OPTCL_WEIGHT_DECAY(y, d); /* at y, into the direction: L2 */
        y = optcl_lerp(y, zi, CKP1);
        STORE_WEIGHT(param, i, OPTCL_FMA(Y_COEF, d, y)); /* y.add_(d, alpha=…) */
        STORE_STATE(z, i, OPTCL_FMA(-LR, d, zi));         /* z.sub_(d, alpha=lr) */
    }
}

/* optimizer.train() / .eval(): p = lerp(p, z, w), stored rounded to nearest (host/mode.c); with
 * master weights the master is blended and the parameters receive it rounded. */
__kernel void optcl_schedulefree_mode_f32(__global param_t *param, __global const state_t *z,
                                          float w OPTCL_MASTER_ARG)
{
    size_t i = get_global_id(0); /* launches cover their range exactly: no bounds check */
#if MASTER
    floatv v = optcl_lerp(LOAD(master, i), LOAD_STATE(z, i), w);
    STORE(master, i, v);
#else
    floatv v = optcl_lerp(LOAD_PARAM(param, i), LOAD_STATE(z, i), w);
#endif
    STORE_PARAM(param, i, v);
}
