/* rmsprop.c — reference torch.optim.RMSprop; mirrors kernels/rmsprop.cl. */
#include "reference.h"

OPTCL__ALWAYS_INLINE void rmsprop_loop(float *param, const float *grad, float *square_avg,
                                       float *grad_avg, float *momentum_buffer,
                                       const optcl__step_scalars *sp, size_t begin, size_t end,
                                       bool maximize, bool centered, bool has_momentum)
{
    /* A local copy the stores below cannot alias: the loop reads it from registers. */
    const optcl__step_scalars local = *sp, *s = &local;
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], maximize);
        optcl__weight_decay(&p, &d, s, false);
        float sq = fmaf(s->one_minus_alpha * d, d, square_avg[i] * s->alpha);
        square_avg[i] = sq;
        float avg;
        if (centered) {
            float ga = optcl__lerp(grad_avg[i], d, s->one_minus_alpha);
            grad_avg[i] = ga;
            avg = sqrtf(fmaf(-ga, ga, sq)) + s->eps;
        } else {
            avg = sqrtf(sq) + s->eps;
        }
        if (has_momentum) {
            float buf = momentum_buffer[i] * s->momentum + d / avg;
            momentum_buffer[i] = buf;
            param[i] = fmaf(s->neg_lr, buf, p);
        } else {
            param[i] = p + s->neg_lr * d / avg;
        }
    }
}

OPTCL__REFERENCE_LOOP static void rmsprop_cloned(float *param, const float *grad, float *square_avg,
                                                 float *grad_avg, float *momentum_buffer,
                                                 const optcl__step_scalars *s,
                                                 optcl__rmsprop_flags f, size_t begin, size_t end)
{
#define CASE(k)                                                                                    \
    case k:                                                                                        \
        rmsprop_loop(param, grad, square_avg, grad_avg, momentum_buffer, s, begin, end, (k)&1,     \
                     (k)&2, (k)&4);                                                                \
        break;
    switch (f.maximize | f.centered << 1 | f.has_momentum << 2) {
        CASE(0) CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7)
    }
#undef CASE
}

/* The entry, over its loop cloned for FMA (reference.h). */
void optcl__reference_rmsprop(float *param, const float *grad, float *square_avg, float *grad_avg,
                              float *momentum_buffer, const optcl__step_scalars *s,
                              optcl__rmsprop_flags f, size_t begin, size_t end)
{
    rmsprop_cloned(param, grad, square_avg, grad_avg, momentum_buffer, s, f, begin, end);
}
