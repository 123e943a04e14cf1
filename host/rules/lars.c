/* lars.c — LARS (You et al. 2017) as optax.lars (add_decayed_weights, scale_by_trust_ratio,
 * scale_by_learning_rate, trace): kernels/lars.cl, host/reference/lars.c. It looks at whole
 * tensors: two sums per tensor, ‖p‖² and ‖u‖² (host/segments.h). */
#include "rule.h"

#include <math.h>
#include <stdio.h>

optcl__reference_sums optcl__reference_lars_sums;
optcl__reference_totals optcl__reference_lars_totals;
optcl__reference_apply optcl__reference_lars;

static const optcl__field fields[] = {
    OPTCL__REAL(lars, trust_coefficient, 0.001, 0.0, HUGE_VAL, 1, 0,
                "the trust ratio is trust_coefficient * |p| / (|u| + eps)"),
    OPTCL__REAL(lars, eps, 0.0, 0.0, HUGE_VAL, 0, 0, "added to the update's norm"),
    OPTCL__REAL(lars, momentum, 0.9, 0.0, HUGE_VAL, 0, 0,
                "m = u + momentum * m on the scaled update (optax.trace)"),
    OPTCL__FLAG(lars, nesterov, 0, OPTCL__LAYOUT_VALUE, "p += u + momentum * m instead of m"),
};

/* kernels/lars.cl's TRUST_COEFFICIENT, TRUST */
static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    s->momentum = (float)c->lars.momentum;
    s->eps = (float)c->lars.eps;
    s->rule[0] = (float)c->lars.trust_coefficient;
    s->rule[1] = in->group->exclude_from_trust_ratio ? 0.0f : 1.0f;
}

static void options(const optcl_optimizer_config *c, char *out, size_t size)
{
    snprintf(out, size, " -DNESTEROV=%d", c->lars.nesterov);
}

static const char *const states[] = {"momentum_buffer", NULL};

const optcl__rule optcl__rule_lars = {
    .name = "lars",
    .family = "lars",
    .lr = 0.1,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 1,
    .int8_refused = "its first pass, the per-tensor sums, does not read 8-bit blocks (not built)",
    .fixed_states = states,
    .options = options,
    .tensor_sums = 2,   /* ‖p‖², ‖u‖² */
    .tensor_values = 1, /* the trust ratio */
    .trust_ratio = true,
    .whole_tensors = true,
    .sums_reads = OPTCL__READS_WEIGHTS | OPTCL__READS_GRADS,
    .reference_sums = optcl__reference_lars_sums,
    .reference_totals = optcl__reference_lars_totals,
    .reference_apply = optcl__reference_lars,
    OPTCL__RULE_FUNCTIONS,
};
