/* adam.c — torch.optim.Adam and AdamW (decoupled weight decay), with AMSGrad and maximize:
 * kernels/adam.cl (DECOUPLED for AdamW), host/reference/adam.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

static const optcl__field fields[] = {
    OPTCL__REAL(adam, beta1, 0.9, 0.0, 1.0, 0, 1, "betas[0]: the first moment's decay"),
    OPTCL__REAL(adam, beta2, 0.999, 0.0, 1.0, 0, 1, "betas[1]: the second moment's decay"),
    OPTCL__REAL(adam, eps, 1e-8, 0.0, HUGE_VAL, 0, 0, "added to the denominator"),
    OPTCL__FLAG(adam, amsgrad, 0, OPTCL__LAYOUT_VALUE, "AMSGrad: the running maximum of v"),
    OPTCL__FIELD(adam, eps_root, OPTCL_OPTION_REAL, 0.0, 0.0, HUGE_VAL, 0, 0, NULL,
                 OPTCL__LAYOUT_NONZERO, true, /* added in 0.2 */
                 "optax's: inside the root, sqrt(v_hat + eps_root) + eps"),
};

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
    snprintf(out, size, " -DDECOUPLED=%d -DAMSGRAD=%d -DEPS_ROOT=%d", c->algorithm == OPTCL_ADAMW,
             c->adam.amsgrad, c->adam.eps_root != 0.0);
}

static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    double b1 = c->adam.beta1, b2 = c->adam.beta2;
    double bias_correction1 = 1.0 - pow(b1, (double)in->step);
    double bias_correction2 = 1.0 - pow(b2, (double)in->step);
    s->one_minus_beta1 = (float)(1.0 - b1);
    s->beta2 = (float)b2;
    s->one_minus_beta2 = (float)(1.0 - b2);
    s->neg_step_size = (float)-(in->lr / bias_correction1);
    s->bias_correction2_sqrt = (float)sqrt(bias_correction2);
    s->eps = (float)c->adam.eps;
    s->decay_factor = (float)(1.0 - in->lr * in->weight_decay);
    s->rule[0] = (float)bias_correction2; /* kernels/adam.cl's BIAS_CORRECTION2, EPS_ROOT */
    s->rule[1] = (float)c->adam.eps_root;
}

static void reference(const optcl_optimizer_config *c, float *p, const float *g, float **state,
                      size_t begin, size_t end, const optcl__step_scalars *s)
{
    optcl__adam_flags f = {c->maximize != 0, c->algorithm == OPTCL_ADAMW, c->adam.amsgrad != 0,
                           c->adam.eps_root != 0.0};
    optcl__reference_adam(p, g, state[0], state[1], state[2], s, f, begin, end);
}

static const char *const second_moments[] = {"exp_avg_sq", "max_exp_avg_sq", NULL};

#define ADAM_RULE(rule_name, default_weight_decay)                                                 \
    {                                                                                              \
        .name = rule_name, .family = "adam", .lr = 1e-3, .weight_decay = default_weight_decay,     \
        .weight_decay_allowed = true, .slots = 3, .unsigned_states = second_moments,               \
        .reference = reference, .states = states, .options = options, OPTCL__RULE_FUNCTIONS,       \
    }

const optcl__rule optcl__rule_adam = ADAM_RULE("adam", 0.0);
const optcl__rule optcl__rule_adamw = ADAM_RULE("adamw", 1e-2);
