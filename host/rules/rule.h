/* rule.h — one descriptor per optimizer: everything optcl knows about it besides the update
 * rule itself (kernels/<family>.cl and host/reference/<family>.c, read side by side with its
 * descriptor in host/rules/<name>.c). Generic code — defaults, validation, state buffers, the
 * kernel's build and arguments, the per-step scalars, the reference backend — reads these and
 * never switches on the algorithm. Adding an optimizer: its kernel, its reference rule, its
 * descriptor, and one line in rules.c. */
#ifndef OPTCL_RULE_H
#define OPTCL_RULE_H

#include "../reference/reference.h"

#define OPTCL__RULE_SLOTS 3 /* the most state arguments a kernel takes */

typedef struct optcl__rule {
    const char *name;   /* optcl_algorithm_name: "adamw" */
    const char *family; /* its kernel file and program: "adam" */
    double lr;          /* torch's default lr */
    double weight_decay;
    bool weight_decay_allowed; /* false: weight_decay must stay 0 (Rprop) */
    unsigned slots;            /* the kernel's state arguments, after params and grads */
    /* 8-bit state (state_dtype INT8): the states never negative, which take the unsigned map
     * (second moments; NULL-terminated), and, for a rule that refuses 8-bit state, why. */
    const char *const *unsigned_states;
    const char *int8_refused;
    /* Fills the config's nested struct of this rule with torch's defaults. */
    void (*defaults)(optcl_optimizer_config *c);
    /* Checks the rule's own fields; the message names the field and the value. */
    optcl_status (*validate)(const optcl_optimizer_config *c, char *message);
    /* The state buffers kept in this configuration, by torch's names, and the kernel slot of
     * each (0 … slots-1; slots without a state get a buffer the options never touch). */
    size_t (*states)(const optcl_optimizer_config *c, const char **names, unsigned *slots);
    /* The -D options of its kernel (appended to the generic ones). */
    void (*options)(const optcl_optimizer_config *c, char *out, size_t size);
    /* Its fields of the per-step scalars for a 1-based step (lr, weight decay and first_step
     * are set already). */
    void (*scalars)(const optcl_optimizer_config *c, double lr, double weight_decay, uint64_t step,
                    optcl__step_scalars *s);
    /* Of two configurations of this rule, the first field that changes the kernel or the state
     * buffers ("sgd.nesterov"), or NULL: a checkpoint loads only into the same structure. */
    const char *(*differs)(const optcl_optimizer_config *a, const optcl_optimizer_config *b);
    /* The reference rule over [begin, end); state[] in states() order. */
    void (*reference)(const optcl_optimizer_config *c, float *p, const float *g, float **state,
                      size_t begin, size_t end, const optcl__step_scalars *s);
} optcl__rule;

/* A descriptor's functions, when its file names them defaults, validate, states, options,
 * scalars, differs and reference (as every file in host/rules/ does). */
#define OPTCL__RULE_FUNCTIONS                                                                      \
    .defaults = defaults, .validate = validate, .states = states, .options = options,              \
    .scalars = scalars, .differs = differs, .reference = reference

/* rules.c: the descriptor of an algorithm (NULL outside the enum), and the list. */
const optcl__rule *optcl__rule_of(optcl_algorithm algorithm);

extern const optcl__rule optcl__rule_sgd, optcl__rule_adam, optcl__rule_adamw, optcl__rule_rmsprop,
    optcl__rule_rprop, optcl__rule_lion;

/* For the descriptors' validate(): each check names the field and the value, as PyTorch's
 * ValueErrors do. */
#define OPTCL__REQUIRE(cond, field, value, why)                                                    \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT, "invalid %s: %g (%s)",       \
                               field, (double)(value), why);                                       \
    } while (0)
#define OPTCL__REQUIRE_FLAG(v, field)                                                              \
    do {                                                                                           \
        if ((v) != 0 && (v) != 1)                                                                  \
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,                              \
                               "invalid %s: %d (must be 0 or 1)", field, (v));                     \
    } while (0)

#endif
