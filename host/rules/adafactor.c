/* adafactor.c — Adafactor (Shazeer & Stern 2018) as torch.optim.Adafactor
 * (_single_tensor_adafactor): kernels/adafactor.cl, host/reference/adafactor.c. It looks at
 * whole tensors: a factored second moment per matrix, row and column means of g² kept in the
 * factored state (host/factored.h), and two sums per tensor, ‖p‖² and ‖U‖² (host/segments.h),
 * for α = max(eps2, RMS(p))·ρ and the clipping of RMS(U) to d. */
#include "rule.h"

#include <math.h>

optcl__reference_factors optcl__reference_adafactor_factors;
optcl__reference_sums optcl__reference_adafactor_sums;
optcl__reference_totals optcl__reference_adafactor_totals;
optcl__reference_apply optcl__reference_adafactor;

static const optcl__field fields[] = {
    OPTCL__REAL(adafactor, beta2_decay, -0.8, -HUGE_VAL, 0.0, 0, 0,
                "the second moment's EMA weight at step t is t^beta2_decay"),
    OPTCL__REAL(adafactor, eps1, 0x1p-23, 0.0, HUGE_VAL, 0, 0,
                "U = g / max(sqrt(V), eps1); torch's None is float32's eps, this default"),
    OPTCL__REAL(adafactor, eps2, 1e-3, 0.0, HUGE_VAL, 0, 0,
                "alpha = max(eps2, RMS(p)) * min(lr, 1/sqrt(t))"),
    OPTCL__REAL(adafactor, d, 1.0, 1.0, HUGE_VAL, 0, 0,
                "the clipping threshold: U is divided by max(1, RMS(U) / d)"),
};

static optcl_status validate(const optcl_optimizer_config *c, char *message)
{
    if (c->state_dtype == OPTCL_STATE_BF16)
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid state_dtype: bf16 (adafactor's state is float32: R + C "
                           "floats per matrix, so bfloat16 would save next to nothing)");
    return OPTCL_SUCCESS;
}

/* kernels/adafactor.cl's W, RHO, EPS1, EPS1_SQUARED, EPS2, CLIP_D and decay_factor, in double
 * and rounded once, as torch computes them in Python floats */
static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    const optcl_adafactor_config *a = &c->adafactor;
    double t = (double)in->step;
    s->rule[0] = (float)pow(t, a->beta2_decay);
    s->rule[1] = (float)fmin(in->lr, 1.0 / sqrt(t));
    s->rule[2] = (float)a->eps1;
    s->rule[3] = (float)(a->eps1 * a->eps1);
    s->rule[4] = (float)a->eps2;
    s->rule[5] = (float)a->d;
    s->decay_factor = (float)(1.0 - in->lr * in->weight_decay);
}

static const char *const no_states[] = {NULL};
static const char *const factored_states[] = {"row_var", "col_var", "variance", NULL};

const optcl__rule optcl__rule_adafactor = {
    .name = "adafactor",
    .family = "adafactor",
    .lr = 1e-2,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 0,
    .int8_refused = "its state is float32: R + C floats per matrix",
    .validate = validate,
    .fixed_states = no_states,
    .tensor_sums = 2,   /* ‖p‖², ‖U‖² */
    .tensor_values = 1, /* −α / max(1, RMS(U) / d) */
    .sums_reads = OPTCL__READS_WEIGHTS | OPTCL__READS_GRADS,
    .reference_sums = optcl__reference_adafactor_sums,
    .reference_totals = optcl__reference_adafactor_totals,
    .reference_apply = optcl__reference_adafactor,
    .whole_tensors = true,
    .factored = true,
    .factored_states = factored_states,
    .reference_factors = optcl__reference_adafactor_factors,
    OPTCL__RULE_FUNCTIONS,
};
