/* dispatch.c — runs the reference rule of an optimizer configuration over one group's range,
 * turning the configuration into the same flags the kernels get as -D options. */
#include "reference.h"

void optcl__reference_step(const optcl_optimizer_config *c, float *p, const float *g, float **state,
                           size_t begin, size_t end, const optcl__step_scalars *s)
{
    bool maximize = c->maximize != 0;
    switch (c->algorithm) {
    case OPTCL_SGD: {
        optcl__sgd_flags f = {maximize, c->sgd.momentum != 0.0, c->sgd.nesterov != 0,
                              c->sgd.ema != 0};
        optcl__reference_sgd(p, g, state[0], s, f, begin, end);
        break;
    }
    case OPTCL_ADAM:
    case OPTCL_ADAMW: {
        optcl__adam_flags f = {maximize, c->algorithm == OPTCL_ADAMW, c->adam.amsgrad != 0};
        optcl__reference_adam(p, g, state[0], state[1], state[2], s, f, begin, end);
        break;
    }
    case OPTCL_RMSPROP: {
        bool centered = c->rmsprop.centered != 0, has_momentum = c->rmsprop.momentum > 0.0;
        optcl__rmsprop_flags f = {maximize, centered, has_momentum};
        /* State order: square_avg, then grad_avg if centered, then momentum_buffer. */
        float *grad_avg = centered ? state[1] : NULL;
        float *buf = has_momentum ? state[centered ? 2 : 1] : NULL;
        optcl__reference_rmsprop(p, g, state[0], grad_avg, buf, s, f, begin, end);
        break;
    }
    case OPTCL_RPROP: {
        optcl__rprop_flags f = {maximize, c->rprop.variant == OPTCL_RPROP_CLASSIC};
        optcl__reference_rprop(p, g, state[0], state[1], s, f, begin, end);
        break;
    }
    default:
        break;
    }
}
