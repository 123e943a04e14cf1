/* rmsprop.c — torch.optim.RMSprop (plain, centered, momentum, weight decay, maximize):
 * kernels/rmsprop.cl, host/reference/rmsprop.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

static void defaults(optcl_optimizer_config *c)
{
    c->rmsprop.alpha = 0.99;
    c->rmsprop.eps = 1e-8;
    c->rmsprop.momentum = 0.0;
    c->rmsprop.centered = 0;
}

static optcl_status validate(const optcl_optimizer_config *c, char *message)
{
    const optcl_rmsprop_config *r = &c->rmsprop;
    OPTCL__REQUIRE(r->alpha >= 0.0 && r->alpha <= 1.0, "alpha", r->alpha, "must be in [0, 1]");
    OPTCL__REQUIRE(isfinite(r->eps) && r->eps >= 0.0, "eps", r->eps, "must be finite and >= 0");
    OPTCL__REQUIRE(isfinite(r->momentum) && r->momentum >= 0.0, "momentum", r->momentum,
                   "must be finite and >= 0");
    OPTCL__REQUIRE_FLAG(r->centered, "centered");
    return OPTCL_SUCCESS;
}

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

static void scalars(const optcl_optimizer_config *c, double lr, double weight_decay, uint64_t step,
                    optcl__step_scalars *s)
{
    (void)lr, (void)weight_decay, (void)step;
    s->alpha = (float)c->rmsprop.alpha;
    s->one_minus_alpha = (float)(1.0 - c->rmsprop.alpha);
    s->eps = (float)c->rmsprop.eps;
    s->momentum = (float)c->rmsprop.momentum;
}

static const char *differs(const optcl_optimizer_config *a, const optcl_optimizer_config *b)
{
    if (a->rmsprop.centered != b->rmsprop.centered)
        return "rmsprop.centered";
    if ((a->rmsprop.momentum > 0.0) != (b->rmsprop.momentum > 0.0))
        return "rmsprop.momentum (zero or not)";
    return NULL;
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
    OPTCL__RULE_FUNCTIONS,
};
