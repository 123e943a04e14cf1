/* scalars.c — the per-step scalars, computed once per step and group on the host in double
 * precision (as PyTorch computes them in Python floats), then rounded to float once: the
 * shared ones here, each rule's in its descriptor. Both backends receive exactly these. */
#include "rules/rule.h"

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
    s->round_key = optcl__round_key(c->seed, step);
    optcl__rule_of(c->algorithm)->scalars(c, lr, wd, step, s);
}
