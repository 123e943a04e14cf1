/* scalars.c — the per-step scalars, computed once per step and group on the host in double
 * precision (as PyTorch computes them in Python floats), then rounded to float once: the
 * shared ones here, each rule's in its descriptor. Both backends receive exactly these. */
#include "rules/rule.h"

#include <math.h>
#include <string.h>

void optcl__compute_scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                            optcl__step_scalars *s)
{
    memset(s, 0, sizeof *s);
    s->lr = (float)in->lr;
    s->neg_lr = (float)-in->lr;
    s->weight_decay = (float)in->weight_decay;
    s->first_step = in->step == 1;
    s->round_key = optcl__round_key(c->seed, in->step);
    optcl__rule_of(c->algorithm)->scalars(c, in, s);
}
