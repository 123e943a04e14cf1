/* adam.c — torch.optim.Adam and AdamW (decoupled weight decay), with AMSGrad and maximize:
 * kernels/adam.cl (DECOUPLED for AdamW), host/reference/adam.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

static void defaults(optcl_optimizer_config *c)
{
    c->adam.beta1 = 0.9;
    c->adam.beta2 = 0.999;
    c->adam.eps = 1e-8;
    c->adam.amsgrad = 0;
}

static optcl_status validate(const optcl_optimizer_config *c, char *message)
{
    const optcl_adam_config *a = &c->adam;
    OPTCL__REQUIRE(a->beta1 >= 0.0 && a->beta1 < 1.0, "beta1", a->beta1, "must be in [0, 1)");
    OPTCL__REQUIRE(a->beta2 >= 0.0 && a->beta2 < 1.0, "beta2", a->beta2, "must be in [0, 1)");
    OPTCL__REQUIRE(isfinite(a->eps) && a->eps >= 0.0, "eps", a->eps, "must be finite and >= 0");
    OPTCL__REQUIRE_FLAG(a->amsgrad, "amsgrad");
    return OPTCL_SUCCESS;
}

static size_t states(const optcl_optimizer_config *c, const char **names, unsigned *slots)
{
    static const char *const all[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    size_t n = c->adam.amsgrad ? 3 : 2;
    for (size_t i = 0; i < n; i++) {
        names[i] = all[i];
        slots[i] = (unsigned)i;
    }
    return n;
}

static void options(const optcl_optimizer_config *c, char *out, size_t size)
{
    snprintf(out, size, " -DDECOUPLED=%d -DAMSGRAD=%d", c->algorithm == OPTCL_ADAMW,
             c->adam.amsgrad);
}

static void scalars(const optcl_optimizer_config *c, double lr, double weight_decay, uint64_t step,
                    optcl__step_scalars *s)
{
    double b1 = c->adam.beta1, b2 = c->adam.beta2;
    double bias_correction1 = 1.0 - pow(b1, (double)step);
    double bias_correction2 = 1.0 - pow(b2, (double)step);
    s->one_minus_beta1 = (float)(1.0 - b1);
    s->beta2 = (float)b2;
    s->one_minus_beta2 = (float)(1.0 - b2);
    s->neg_step_size = (float)-(lr / bias_correction1);
    s->bias_correction2_sqrt = (float)sqrt(bias_correction2);
    s->eps = (float)c->adam.eps;
    s->decay_factor = (float)(1.0 - lr * weight_decay);
}

static const char *differs(const optcl_optimizer_config *a, const optcl_optimizer_config *b)
{
    return a->adam.amsgrad != b->adam.amsgrad ? "adam.amsgrad" : NULL;
}

static void reference(const optcl_optimizer_config *c, float *p, const float *g, float **state,
                      size_t begin, size_t end, const optcl__step_scalars *s)
{
    optcl__adam_flags f = {c->maximize != 0, c->algorithm == OPTCL_ADAMW, c->adam.amsgrad != 0};
    optcl__reference_adam(p, g, state[0], state[1], state[2], s, f, begin, end);
}

static const char *const second_moments[] = {"exp_avg_sq", "max_exp_avg_sq", NULL};

#define ADAM_RULE(rule_name, default_weight_decay)                                                 \
    {                                                                                              \
        .name = rule_name, .family = "adam", .lr = 1e-3, .weight_decay = default_weight_decay,     \
        .weight_decay_allowed = true, .slots = 3, .unsigned_states = second_moments,               \
        OPTCL__RULE_FUNCTIONS,                                                                     \
    }

const optcl__rule optcl__rule_adam = ADAM_RULE("adam", 0.0);
const optcl__rule optcl__rule_adamw = ADAM_RULE("adamw", 1e-2);
