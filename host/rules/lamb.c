/* lamb.c — LAMB (You et al. 2020) as optax.lamb (scale_by_adam, add_decayed_weights,
 * scale_by_trust_ratio, scale_by_learning_rate): kernels/lamb.cl, host/reference/lamb.c. It
 * looks at whole tensors: two sums per tensor, ‖p‖² and ‖u‖² (host/segments.h). */
#include "rule.h"

#include <math.h>

optcl__reference_sums optcl__reference_lamb_sums;
optcl__reference_totals optcl__reference_lamb_totals;
optcl__reference_apply optcl__reference_lamb;

static const optcl__field fields[] = {
    OPTCL__REAL(lamb, beta1, 0.9, 0.0, 1.0, 0, 1, "b1: the first moment's decay"),
    OPTCL__REAL(lamb, beta2, 0.999, 0.0, 1.0, 0, 1, "b2: the second moment's decay"),
    OPTCL__REAL(lamb, eps, 1e-6, 0.0, HUGE_VAL, 1, 0,
                "added to the denominator (> 0: a zero gradient must not divide 0 by 0)"),
    OPTCL__REAL(lamb, eps_root, 0.0, 0.0, HUGE_VAL, 0, 0,
                "added inside the square root of the second moment"),
};

/* kernels/lamb.cl's BETA1, INV_BIAS_CORRECTION1/2, EPS_ROOT, TRUST; the bias corrections'
 * reciprocals in double, rounded once (optax's float32 1 − b^t and XLA's float32 reciprocal:
 * within an ulp or two) */
static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    const optcl_lamb_config *l = &c->lamb;
    double t = (double)in->step;
    s->one_minus_beta1 = (float)(1.0 - l->beta1);
    s->beta2 = (float)l->beta2;
    s->one_minus_beta2 = (float)(1.0 - l->beta2);
    s->eps = (float)l->eps;
    s->rule[0] = (float)l->beta1;
    s->rule[1] = (float)(1.0 / (1.0 - pow(l->beta1, t)));
    s->rule[2] = (float)(1.0 / (1.0 - pow(l->beta2, t)));
    s->rule[3] = (float)l->eps_root;
    s->rule[4] = in->group->exclude_from_trust_ratio ? 0.0f : 1.0f;
}

static const char *const states[] = {"exp_avg", "exp_avg_sq", NULL};

const optcl__rule optcl__rule_lamb = {
    .name = "lamb",
    .family = "lamb",
    .lr = 1e-3,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 2,
    .int8_refused = "its first pass, the per-tensor sums, does not read 8-bit blocks (not built)",
    .fixed_states = states,
    .tensor_sums = 2,   /* ‖p‖², ‖u‖² */
    .tensor_values = 1, /* the trust ratio */
    .trust_ratio = true,
    .whole_tensors = true,
    .sums_reads = OPTCL__READS_WEIGHTS | OPTCL__READS_GRADS | OPTCL__READS_STATES,
    .reference_sums = optcl__reference_lamb_sums,
    .reference_totals = optcl__reference_lamb_totals,
    .reference_apply = optcl__reference_lamb,
    OPTCL__RULE_FUNCTIONS,
};
