/* rules.c — the optimizers optcl has, one descriptor each (host/rules/<name>.c), in the order
 * of optcl_algorithm. */
#include "rule.h"

static const optcl__rule *const rules[OPTCL_ALGORITHM_COUNT] = {
    [OPTCL_SGD] = &optcl__rule_sgd,     [OPTCL_ADAM] = &optcl__rule_adam,
    [OPTCL_ADAMW] = &optcl__rule_adamw, [OPTCL_RMSPROP] = &optcl__rule_rmsprop,
    [OPTCL_RPROP] = &optcl__rule_rprop, [OPTCL_LION] = &optcl__rule_lion,
};

const optcl__rule *optcl__rule_of(optcl_algorithm algorithm)
{
    return (int)algorithm >= 0 && algorithm < OPTCL_ALGORITHM_COUNT ? rules[algorithm] : NULL;
}
