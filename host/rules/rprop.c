/* rprop.c — torch.optim.Rprop and the lecture's classic Rprop (variant): kernels/rprop.cl,
 * host/reference/rprop.c. Rprop has no weight decay. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

static const char *const variants[] = {"pytorch", "classic", NULL}; /* optcl_rprop_variant */

static const optcl__field fields[] = {
    OPTCL__REAL(rprop, etaminus, 0.5, 0.0, 1.0, 1, 1, "etas[0]: the step size's shrink factor"),
    OPTCL__REAL(rprop, etaplus, 1.2, 1.0, HUGE_VAL, 1, 0, "etas[1]: the step size's growth factor"),
    OPTCL__REAL(rprop, step_min, 1e-6, 0.0, HUGE_VAL, 0, 0, "step_sizes[0]: the least step size"),
    OPTCL__REAL(rprop, step_max, 50.0, 0.0, HUGE_VAL, 0, 0,
                "step_sizes[1]: the largest step size (>= step_min)"),
    OPTCL__CHOICE(rprop, variant, OPTCL_RPROP_PYTORCH, variants, OPTCL__LAYOUT_VALUE,
                  "pytorch: after a sign change the element rests; classic: the lecture's rule"),
};

static optcl_status validate(const optcl_optimizer_config *c, char *message)
{
    OPTCL__REQUIRE(c->rprop.step_max >= c->rprop.step_min, "step_max", c->rprop.step_max,
                   "must be >= step_min");
    return OPTCL_SUCCESS;
}

static void options(const optcl_optimizer_config *c, char *out, size_t size)
{
    snprintf(out, size, " -DCLASSIC=%d", c->rprop.variant == OPTCL_RPROP_CLASSIC);
}

static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    (void)in;
    s->etaminus = (float)c->rprop.etaminus;
    s->etaplus = (float)c->rprop.etaplus;
    s->step_min = (float)c->rprop.step_min;
    s->step_max = (float)c->rprop.step_max;
}

static void reference(const optcl_optimizer_config *c, float *p, const float *g, float **state,
                      size_t begin, size_t end, const optcl__step_scalars *s)
{
    optcl__rprop_flags f = {c->maximize != 0, c->rprop.variant == OPTCL_RPROP_CLASSIC};
    optcl__reference_rprop(p, g, state[0], state[1], s, f, begin, end);
}

static const char *const states[] = {"prev", "step_size", NULL};

const optcl__rule optcl__rule_rprop = {
    .name = "rprop",
    .family = "rprop",
    .lr = 1e-2,
    .weight_decay = 0.0,
    .weight_decay_allowed = false,
    .slots = 2,
    .validate = validate,
    /* a block shares one absmax, so 8-bit codes keep about two decades below its largest
     * element; Rprop's step sizes spread over many more (etaminus^k), and the small ones would
     * become zero, stalling their parameters for good */
    .int8_refused = "its per-element step sizes span more decades than a block's 8-bit codes",
    .reference = reference,
    .fixed_states = states,
    .options = options,
    OPTCL__RULE_FUNCTIONS,
};
