/* sgd.c — torch.optim.SGD (momentum, dampening, Nesterov, weight decay, maximize) and the
 * lecture's EMA momentum: kernels/sgd.cl, host/reference/sgd.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

static const optcl__field fields[] = {
    OPTCL__REAL_LAYOUT(sgd, momentum, 0.0, 0.0, HUGE_VAL, 0, 0, OPTCL__LAYOUT_NONZERO,
                       "momentum factor (0: no momentum buffer)"),
    OPTCL__REAL(sgd, dampening, 0.0, -HUGE_VAL, HUGE_VAL, 0, 0, "dampening for momentum"),
    OPTCL__FLAG(sgd, nesterov, 0, OPTCL__LAYOUT_VALUE,
                "Nesterov momentum (needs momentum > 0 and dampening 0)"),
    OPTCL__FLAG(sgd, ema, 0, OPTCL__LAYOUT_VALUE,
                "the lecture's EMA momentum v = m*v + (1-m)*g (dampening, nesterov 0)"),
};

static optcl_status validate(const optcl_optimizer_config *c, char *message)
{
    const optcl_sgd_config *s = &c->sgd;
    if (s->nesterov)
        OPTCL__REQUIRE(s->momentum > 0.0 && s->dampening == 0.0, "momentum", s->momentum,
                       "nesterov needs momentum > 0 and dampening = 0");
    if (s->ema) {
        OPTCL__REQUIRE(s->momentum < 1.0, "momentum", s->momentum, "ema needs momentum in [0, 1)");
        OPTCL__REQUIRE(s->dampening == 0.0, "dampening", s->dampening,
                       "ema sets its own dampening; leave it 0");
        OPTCL__REQUIRE(!s->nesterov, "nesterov", s->nesterov, "ema and nesterov do not combine");
    }
    return OPTCL_SUCCESS;
}

static size_t states(const optcl_optimizer_config *c, const char **names, unsigned *slots)
{
    if (c->sgd.momentum == 0.0)
        return 0;
    names[0] = "momentum_buffer";
    slots[0] = 0;
    return 1;
}

static void options(const optcl_optimizer_config *c, char *out, size_t size)
{
    snprintf(out, size, " -DHAS_MOMENTUM=%d -DNESTEROV=%d -DEMA=%d", c->sgd.momentum != 0.0,
             c->sgd.nesterov, c->sgd.ema);
}

static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    (void)in;
    s->momentum = (float)c->sgd.momentum;
    /* EMA momentum is SGD momentum whose dampening equals the momentum. */
    s->one_minus_dampening = (float)(1.0 - (c->sgd.ema ? c->sgd.momentum : c->sgd.dampening));
}

static void reference(const optcl_optimizer_config *c, float *p, const float *g, float **state,
                      size_t begin, size_t end, const optcl__step_scalars *s)
{
    optcl__sgd_flags f = {c->maximize != 0, c->sgd.momentum != 0.0, c->sgd.nesterov != 0,
                          c->sgd.ema != 0};
    optcl__reference_sgd(p, g, state[0], s, f, begin, end);
}

const optcl__rule optcl__rule_sgd = {
    .name = "sgd",
    .family = "sgd",
    .lr = 1e-3,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 1,
    .validate = validate,
    .reference = reference,
    .states = states,
    .options = options,
    OPTCL__RULE_FUNCTIONS,
};
