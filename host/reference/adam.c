/* adam.c — reference torch.optim.Adam / AdamW with AMSGrad; mirrors kernels/adam.cl. */
#include "reference.h"

OPTCL__ALWAYS_INLINE void adam_loop(float *param, const float *grad, float *exp_avg,
                                    float *exp_avg_sq, float *max_exp_avg_sq,
                                    const optcl__step_scalars *sp, size_t begin, size_t end,
                                    bool maximize, bool decoupled, bool amsgrad, bool eps_root)
{
    /* A local copy the stores below cannot alias: the loop reads it from registers. */
    const optcl__step_scalars local = *sp, *s = &local;
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], maximize);
        optcl__weight_decay(&p, &d, s, decoupled);
        float m, v;
        optcl__adam_moments(exp_avg, exp_avg_sq, i, d, s, &m, &v);
        if (amsgrad) {
            v = optcl__maximum(max_exp_avg_sq[i], v);
            max_exp_avg_sq[i] = v;
        }
        float denom = eps_root ? sqrtf(v / s->rule[0] + s->rule[1]) + s->eps
                               : sqrtf(v) / s->bias_correction2_sqrt + s->eps;
        param[i] = p + s->neg_step_size * m / denom;
    }
}

OPTCL__REFERENCE_LOOP static void adam_cloned(float *param, const float *grad, float *exp_avg,
                                              float *exp_avg_sq, float *max_exp_avg_sq,
                                              const optcl__step_scalars *s, optcl__adam_flags f,
                                              size_t begin, size_t end)
{
#define CASE(k)                                                                                    \
    case k:                                                                                        \
        adam_loop(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, s, begin, end, (k)&1, (k)&2,   \
                  (k)&4, (k)&8);                                                                   \
        break;
    switch (f.maximize | f.decoupled << 1 | f.amsgrad << 2 | f.eps_root << 3) {
        CASE(0) CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7)
        CASE(8) CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14) CASE(15)
    }
#undef CASE
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_adam(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                           float *max_exp_avg_sq, const optcl__step_scalars *s, optcl__adam_flags f,
                           size_t begin, size_t end)
{
    adam_cloned(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, s, f, begin, end);
}
