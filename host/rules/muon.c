/* muon.c — Muon as torch.optim.Muon (_single_tensor_muon, _zeropower_via_newtonschulz):
 * kernels/muon.cl, host/reference/muon.c. It looks at whole tensors: each tensor's momentum
 * update u is normalised by ‖u‖ (one sum per tensor, host/segments.h) and orthogonalised by
 * the Newton–Schulz iteration, whose matrix products host/orthogonal.h batches by shape. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

optcl__reference_sums optcl__reference_muon_sums;
optcl__reference_totals optcl__reference_muon_totals;
optcl__reference_apply optcl__reference_muon;
optcl__reference_pack optcl__reference_muon_pack;

static const char *const adjust_lr_fns[] = {"original", "match_rms_adamw", "spectral_unclamped",
                                            NULL}; /* optcl_muon_adjust_lr */

static const optcl__field fields[] = {
    OPTCL__REAL(muon, momentum, 0.95, 0.0, HUGE_VAL, 0, 0,
                "m = lerp(m, g, 1 - momentum), the momentum buffer"),
    OPTCL__FLAG(muon, nesterov, 1, OPTCL__LAYOUT_VALUE,
                "Newton-Schulz of lerp(g, m, momentum) instead of m"),
    OPTCL__REAL(muon, ns_a, 3.4445, -HUGE_VAL, HUGE_VAL, 0, 0,
                "X = ns_a*X + (ns_b*A + ns_c*A*A)*X with A = X*X^T (torch's ns_coefficients)"),
    OPTCL__REAL(muon, ns_b, -4.7750, -HUGE_VAL, HUGE_VAL, 0, 0, "see ns_a"),
    OPTCL__REAL(muon, ns_c, 2.0315, -HUGE_VAL, HUGE_VAL, 0, 0, "see ns_a"),
    OPTCL__REAL(muon, eps, 1e-7, 0.0, HUGE_VAL, 0, 0, "X = u / max(|u|, eps) first"),
    OPTCL__REAL(muon, ns_steps, 5.0, 0.0, 99.0, 0, 0,
                "Newton-Schulz iterations, a whole number (torch: under 100)"),
    OPTCL__CHOICE(muon, adjust_lr_fn, OPTCL_MUON_ORIGINAL, adjust_lr_fns, OPTCL__LAYOUT_VALUE,
                  "lr times sqrt(max(1, A/B)) (original), 0.2*sqrt(max(A, B)) "
                  "(match_rms_adamw) or sqrt(A/B) (spectral_unclamped) for an AxB matrix"),
};

static optcl_status validate(const optcl_optimizer_config *c, char *message)
{
    OPTCL__REQUIRE(c->muon.ns_steps == floor(c->muon.ns_steps), "ns_steps", c->muon.ns_steps,
                   "a whole number of iterations");
    return OPTCL_SUCCESS;
}

/* kernels/muon.cl's MOMENTUM, ONE_MINUS_MOMENTUM, EPS and decay_factor */
static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    s->rule[0] = (float)c->muon.momentum;
    s->rule[1] = (float)(1.0 - c->muon.momentum);
    s->rule[2] = (float)c->muon.eps;
    s->decay_factor = (float)(1.0 - in->lr * in->weight_decay);
}

static void options(const optcl_optimizer_config *c, char *out, size_t size)
{
    snprintf(out, size, " -DNESTEROV=%d", c->muon.nesterov);
}

/* The lr factor of an rows×cols matrix (torch's _adjust_lr), in double. */
static double lr_ratio(const optcl_optimizer_config *c, double rows, double cols)
{
    switch (c->muon.adjust_lr_fn) {
    case OPTCL_MUON_MATCH_RMS_ADAMW:
        return 0.2 * sqrt(fmax(rows, cols));
    case OPTCL_MUON_SPECTRAL_UNCLAMPED:
        return sqrt(rows / cols);
    default:
        return sqrt(fmax(1.0, rows / cols));
    }
}

/* X = a·X + (b·A + c·A·A)·X, steps times */
static void newton_schulz(const optcl_optimizer_config *c, optcl__newton_schulz *ns)
{
    *ns = (optcl__newton_schulz){(float)c->muon.ns_a, (float)c->muon.ns_b, (float)c->muon.ns_c,
                                 (unsigned)c->muon.ns_steps};
}

static const char *const states[] = {"momentum_buffer", NULL};

const optcl__rule optcl__rule_muon = {
    .name = "muon",
    .family = "muon",
    .lr = 1e-3,
    .weight_decay = 0.1,
    .weight_decay_allowed = true,
    .slots = 1,
    .int8_refused = "the Newton-Schulz iteration reads the momentum of whole matrices, which "
                    "8-bit blocks do not give it (not built)",
    .validate = validate,
    .fixed_states = states,
    .options = options,
    .tensor_sums = 1,   /* ‖u‖² */
    .tensor_values = 1, /* max(‖u‖, eps) */
    .sums_reads = OPTCL__READS_GRADS | OPTCL__READS_STATES,
    .reference_sums = optcl__reference_muon_sums,
    .reference_totals = optcl__reference_muon_totals,
    .reference_apply = optcl__reference_muon,
    .newton_schulz = newton_schulz,
    .lr_ratio = lr_ratio,
    .reference_pack = optcl__reference_muon_pack,
    OPTCL__RULE_FUNCTIONS,
};
