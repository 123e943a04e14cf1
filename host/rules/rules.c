/* rules.c — the optimizers optcl has, one descriptor each (host/rules/<name>.c): the list, one
 * line per optimizer, in the order of optcl_algorithm. */
#include "rule.h"

#define OPTCL__RULES(X)                                                                            \
    X(OPTCL_SGD, sgd)                                                                              \
    X(OPTCL_ADAM, adam)                                                                            \
    X(OPTCL_ADAMW, adamw)                                                                          \
    X(OPTCL_RMSPROP, rmsprop)                                                                      \
    X(OPTCL_RPROP, rprop)                                                                          \
    X(OPTCL_LION, lion)                                                                            \
    X(OPTCL_ADAGRAD, adagrad)                                                                      \
    X(OPTCL_ADADELTA, adadelta)                                                                    \
    X(OPTCL_ADAMAX, adamax)                                                                        \
    X(OPTCL_NADAM, nadam)                                                                          \
    X(OPTCL_RADAM, radam)                                                                          \
    X(OPTCL_ASGD, asgd)                                                                            \
    X(OPTCL_ADAMW_SCHEDULEFREE, adamw_schedulefree)                                                \
    X(OPTCL_SGD_SCHEDULEFREE, sgd_schedulefree)                                                \
    X(OPTCL_LAMB, lamb)                                                                            \
    X(OPTCL_LARS, lars)                                                                            \
    X(OPTCL_ADAFACTOR, adafactor)                                                                  \
    X(OPTCL_MUON, muon)

#define DECLARE(algorithm, name) extern const optcl__rule optcl__rule_##name;
OPTCL__RULES(DECLARE)

#define ENTRY(algorithm, name) [algorithm] = &optcl__rule_##name,
static const optcl__rule *const rules[OPTCL_ALGORITHM_COUNT] = {OPTCL__RULES(ENTRY)};

const optcl__rule *optcl__rule_of(optcl_algorithm algorithm)
{
    return (int)algorithm >= 0 && algorithm < OPTCL_ALGORITHM_COUNT ? rules[algorithm] : NULL;
}
