/* asgd.c — torch.optim.ASGD (lambd, alpha, t0, weight decay, maximize): kernels/asgd.cl,
 * host/reference/asgd.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

optcl__reference_rule optcl__reference_asgd;

static const optcl__field fields[] = {
    OPTCL__REAL(asgd, lambd, 1e-4, 0.0, HUGE_VAL, 0, 0, "the decay term"),
    OPTCL__REAL(asgd, alpha, 0.75, 0.0, HUGE_VAL, 0, 0, "the power of the eta update"),
    OPTCL__REAL(asgd, t0, 1e6, 0.0, HUGE_VAL, 0, 0, "the step at which averaging starts"),
};

/* torch's η after a step of lr at count t, for the next step (float32 state). */
static float eta_after(const optcl_asgd_config *a, double lr, uint64_t t)
{
    return (float)(lr / pow(1.0 + a->lambd * lr * (double)t, a->alpha));
}

/* kernels/asgd.cl's DECAY, NEG_ETA, MU. torch keeps η and μ as float32 state that the end of
 * each step sets for the next: η from that step's lr and count, μ = 1 / max(1, t − t0). So step
 * t uses the η and μ of step t − 1 (the first step: η = lr, μ = 1), rounded to float32. The memo
 * keeps the η a step leaves for the next (torch's state eta): an lr set between two steps
 * reaches η a step later, as in torch; without the memo (a count or checkpoint loaded) η
 * follows from the schedule's lr of step t − 1. */
static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    const optcl_asgd_config *a = &c->asgd;
    bool kept = in->memo->step != 0 && in->memo->step + 1 == in->step;
    double last = (double)(in->step - 1);
    float eta = in->step == 1 ? (float)in->lr
                : kept        ? (float)in->memo->value[0]
                              : eta_after(a, in->prev_lr, in->step - 1);
    *in->memo = (optcl__rule_memo){in->step, {eta_after(a, in->lr, in->step), 0.0}};
    float mu = in->step == 1 ? 1.0f : (float)(1.0 / fmax(1.0, last - a->t0));
    s->rule[0] = (float)(1.0 - a->lambd * (double)eta);
    s->rule[1] = -eta;
    s->rule[2] = mu;
}

static const char *const states[] = {"ax", NULL};

static const char *const running[] = {"eta", NULL};

const optcl__rule optcl__rule_asgd = {
    .name = "asgd",
    .family = "asgd",
    .lr = 1e-2,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 1,
    .lr_history = true, /* η from the last step's lr */
    .running = running,
    /* ax is an average of the parameters: a block's 8-bit codes would keep it to two decades
     * below its largest element, which no parameter average survives */
    .int8_refused = "ax averages the parameters, which 8-bit codes cannot hold",
    .reference = optcl__reference_asgd,
    .fixed_states = states,
    OPTCL__RULE_FUNCTIONS,
};
