/* rprop.c — reference torch.optim.Rprop and the lecture's classic Rprop; mirrors
 * kernels/rprop.cl. */
#include "reference.h"

OPTCL__ALWAYS_INLINE void rprop_loop(float *param, const float *grad, float *prev, float *step_size,
                                     const optcl__step_scalars *sp, size_t begin, size_t end,
                                     bool maximize, bool classic)
{
    /* A local copy the stores below cannot alias: the loop reads it from registers. */
    const optcl__step_scalars local = *sp, *s = &local;
    for (size_t i = begin; i < end; i++) {
        float d = optcl__direction(grad[i], maximize);
        float product = d * prev[i];
        float stored = step_size[i];
        float step = s->first_step ? s->lr : stored;
        if (classic) {
            /* A product ≤ 0 (a sign change, or the first step's zero) shrinks the step. */
            step = step * (product > 0.0f ? s->etaplus : s->etaminus);
        } else {
            /* PyTorch: grow on agreement, shrink on a sign change and rest that element. */
            float factor = product > 0.0f ? s->etaplus : (product < 0.0f ? s->etaminus : 1.0f);
            step = step * factor;
            d = product < 0.0f ? 0.0f : d;
        }
        /* torch.clamp, NaN kept (fminf/fmaxf would drop it) */
        step = step < s->step_min ? s->step_min : (step > s->step_max ? s->step_max : step);
        step_size[i] = step;
        float direction = d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f); /* torch.sign: NaN is 0 */
        param[i] = param[i] - direction * step;
        prev[i] = d;
    }
}

void optcl__reference_rprop(float *param, const float *grad, float *prev, float *step_size,
                            const optcl__step_scalars *s, optcl__rprop_flags f, size_t begin,
                            size_t end)
{
#define CASE(k)                                                                                    \
    case k:                                                                                        \
        rprop_loop(param, grad, prev, step_size, s, begin, end, (k)&1, (k)&2);                     \
        break;
    switch (f.maximize | f.classic << 1) {
        CASE(0) CASE(1) CASE(2) CASE(3)
    }
#undef CASE
}
