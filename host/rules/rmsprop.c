/* rmsprop.c — torch.optim.RMSprop (plain, centered, momentum, weight decay, maximize):
 * kernels/rmsprop.cl, host/reference/rmsprop.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

static const optcl__field fields[] = {
    OPTCL__REAL(rmsprop, alpha, 0.99, 0.0, 1.0, 0, 0, "smoothing constant of square_avg"),
    OPTCL__REAL(rmsprop, eps, 1e-8, 0.0, HUGE_VAL, 0, 0, "added to the denominator"),
    OPTCL__REAL_LAYOUT(rmsprop, momentum, 0.0, 0.0, HUGE_VAL, 0, 0, OPTCL__LAYOUT_NONZERO,
                       "momentum factor (0: no momentum buffer)"),
    OPTCL__FLAG(rmsprop, centered, 0, OPTCL__LAYOUT_VALUE,
                "centered: divide by the estimated variance (keeps grad_avg)"),
};

/* square_avg, then grad_avg when centered, then momentum_buffer with momentum; the kernel has
 * a fixed slot for each. */
static size_t states(const optcl_optimizer_config *c, const char **names, unsigned *slots)
{
    size_t n = 0;
    names[n] = "square_avg";
    slots[n++] = 0;
    if (c->rmsprop.centered) {
        names[n] = "grad_avg";
        slots[n++] = 1;
    }
    if (c->rmsprop.momentum > 0.0) {
        names[n] = "momentum_buffer";
        slots[n++] = 2;
    }
    return n;
}

static void options(const optcl_optimizer_config *c, char *out, size_t size)
{
    snprintf(out, size, " -DCENTERED=%d -DHAS_MOMENTUM=%d", c->rmsprop.centered,
             c->rmsprop.momentum > 0.0);
}

static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    (void)in;
    s->alpha = (float)c->rmsprop.alpha;
    s->one_minus_alpha = (float)(1.0 - c->rmsprop.alpha);
    s->eps = (float)c->rmsprop.eps;
    s->momentum = (float)c->rmsprop.momentum;
}

static void reference(const optcl_optimizer_config *c, float *p, const float *g, float **state,
                      size_t begin, size_t end, const optcl__step_scalars *s)
{
    bool centered = c->rmsprop.centered != 0, has_momentum = c->rmsprop.momentum > 0.0;
    optcl__rmsprop_flags f = {c->maximize != 0, centered, has_momentum};
    float *grad_avg = centered ? state[1] : NULL;
    float *buf = has_momentum ? state[centered ? 2 : 1] : NULL;
    optcl__reference_rmsprop(p, g, state[0], grad_avg, buf, s, f, begin, end);
}

static const char *const second_moments[] = {"square_avg", NULL};

const optcl__rule optcl__rule_rmsprop = {
    .name = "rmsprop",
    .family = "rmsprop",
    .lr = 1e-2,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 3,
    .unsigned_states = second_moments,
    .reference = reference,
    .states = states,
    .options = options,
    OPTCL__RULE_FUNCTIONS,
};
