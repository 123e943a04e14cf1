/* scalars.c — the per-step scalars of every rule, computed once per step and group on the
 * host in double precision (as PyTorch computes them in Python floats), then rounded to float
 * once. Both backends receive exactly these values. */
#include "internal.h"

#include <math.h>
#include <string.h>

void optcl__compute_scalars(const optcl_optimizer_config *c, const optcl_group_config *group,
                            uint64_t step, optcl__step_scalars *s)
{
    memset(s, 0, sizeof *s);
    double lr = group->lr, wd = group->weight_decay;
    s->lr = (float)lr;
    s->neg_lr = (float)-lr;
    s->weight_decay = (float)wd;
    s->first_step = step == 1;
    switch (c->algorithm) {
    case OPTCL_SGD:
        s->momentum = (float)c->sgd.momentum;
        /* EMA momentum is SGD momentum whose dampening equals the momentum. */
        s->one_minus_dampening = (float)(1.0 - (c->sgd.ema ? c->sgd.momentum : c->sgd.dampening));
        break;
    case OPTCL_ADAM:
    case OPTCL_ADAMW: {
        double b1 = c->adam.beta1, b2 = c->adam.beta2;
        double bias_correction1 = 1.0 - pow(b1, (double)step);
        double bias_correction2 = 1.0 - pow(b2, (double)step);
        s->one_minus_beta1 = (float)(1.0 - b1);
        s->beta2 = (float)b2;
        s->one_minus_beta2 = (float)(1.0 - b2);
        s->neg_step_size = (float)-(lr / bias_correction1);
        s->bias_correction2_sqrt = (float)sqrt(bias_correction2);
        s->eps = (float)c->adam.eps;
        s->decay_factor = (float)(1.0 - lr * wd);
        break;
    }
    case OPTCL_RMSPROP:
        s->alpha = (float)c->rmsprop.alpha;
        s->one_minus_alpha = (float)(1.0 - c->rmsprop.alpha);
        s->eps = (float)c->rmsprop.eps;
        s->momentum = (float)c->rmsprop.momentum;
        break;
    case OPTCL_RPROP:
        s->etaminus = (float)c->rprop.etaminus;
        s->etaplus = (float)c->rprop.etaplus;
        s->step_min = (float)c->rprop.step_min;
        s->step_max = (float)c->rprop.step_max;
        break;
    default:
        break;
    }
}
