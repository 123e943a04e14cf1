/* rule.h — one descriptor per optimizer: everything optcl knows about it besides the update
 * rule itself (kernels/<family>.cl and host/reference/<family>.c, read side by side with its
 * descriptor in host/rules/<name>.c). Generic code — defaults, validation, state buffers, the
 * kernel's build and arguments, the per-step scalars, the reference backend — reads these and
 * never switches on the algorithm. Adding an optimizer: its kernel, its reference rule, its
 * descriptor, and one line in rules.c. */
#ifndef OPTCL_RULE_H
#define OPTCL_RULE_H

#include "../reference/reference.h"

#include <stddef.h>

#define OPTCL__RULE_SLOTS 3 /* the most state arguments a kernel takes */

/* Whether a field decides the kernel or the state buffers, so that a checkpoint loads only into
 * a configuration that agrees on it: by its value, or by whether it is zero. */
typedef enum optcl__layout { OPTCL__LAYOUT_NO, OPTCL__LAYOUT_VALUE, OPTCL__LAYOUT_NONZERO } optcl__layout;

/* One hyperparameter of a rule: its public description (name, key, type, default, range) and
 * where it lives in optcl_optimizer_config (a double for REAL, an int otherwise). */
typedef struct optcl__field {
    optcl_option_info info;
    size_t offset;
    optcl__layout layout;
    bool optional; /* added after the rule: a checkpoint without it keeps the default */
} optcl__field;

/* A field of the config's nested struct (e.g. adam.beta1): its default, its range ([lo, hi], a
 * bound excluded where lo_open/hi_open is 1; ±HUGE_VAL for none), and a line of help. */
#define OPTCL__FIELD(nested, member, type, def, lo, hi, lo_open, hi_open, names, layout, optional, \
                     text)                                                                       \
    {{#member, #nested "." #member, type, def, lo, hi, lo_open, hi_open, names, text},           \
     offsetof(optcl_optimizer_config, nested.member), layout, optional}
#define OPTCL__REAL(nested, member, def, lo, hi, lo_open, hi_open, text)                          \
    OPTCL__REAL_LAYOUT(nested, member, def, lo, hi, lo_open, hi_open, OPTCL__LAYOUT_NO, text)
#define OPTCL__REAL_LAYOUT(nested, member, def, lo, hi, lo_open, hi_open, layout, text)           \
    OPTCL__FIELD(nested, member, OPTCL_OPTION_REAL, def, lo, hi, lo_open, hi_open, NULL, layout,  \
                 false, text)
#define OPTCL__FLAG(nested, member, def, layout, text)                                            \
    OPTCL__FIELD(nested, member, OPTCL_OPTION_FLAG, def, 0, 1, 0, 0, NULL, layout, false, text)
#define OPTCL__CHOICE(nested, member, def, names, layout, text)                                   \
    OPTCL__FIELD(nested, member, OPTCL_OPTION_CHOICE, def, 0, 0, 0, 0, names, layout, false, text)

/* Buffers a rule's sums kernel reads (rule.h's sums_reads). */
enum { OPTCL__READS_WEIGHTS = 1, OPTCL__READS_GRADS = 2, OPTCL__READS_STATES = 4 };

typedef struct optcl__rule {
    const char *name;   /* optcl_algorithm_name: "adamw" */
    const char *family; /* its kernel file and program: "adam" */
    double lr;          /* torch's default lr */
    double weight_decay;
    bool weight_decay_allowed; /* false: weight_decay must stay 0 (Rprop) */
    unsigned slots;            /* the kernel's state arguments, after params and grads */
    /* Its hyperparameters: defaults, validation, checkpoints, replay and bench keys, help. */
    const optcl__field *fields;
    size_t field_count;
    /* 8-bit state (state_dtype INT8): the states never negative, which take the unsigned map
     * (second moments; NULL-terminated), and, for a rule that refuses 8-bit state, why. */
    const char *const *unsigned_states;
    const char *int8_refused;
    /* Checks between fields that the ranges cannot say (NULL: none); the message names the
     * field and the value. */
    optcl_status (*validate)(const optcl_optimizer_config *c, char *message);
    /* The state buffers, by torch's names: the same in every configuration (fixed_states,
     * NULL-terminated, at kernel slots 0, 1, …), or kept by this configuration (states(), with
     * the kernel slot of each: 0 … slots-1; slots without a state get a buffer the options never
     * touch). */
    const char *const *fixed_states;
    size_t (*states)(const optcl_optimizer_config *c, const char **names, unsigned *slots);
    /* The -D options of its kernel, appended to the generic ones (NULL: none). */
    void (*options)(const optcl_optimizer_config *c, char *out, size_t size);
    /* Its fields of the per-step scalars (lr, weight decay and first_step are set already),
     * computed in double and rounded once. */
    void (*scalars)(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s);
    /* Its memo follows the lrs of the steps taken (ASGD's η from the last lr, Schedule-Free's
     * sums), so a step's scalars depend on which earlier steps had which lr: with a gradient
     * guard, set_lr reads the device's count back first (the others' rows fit whatever count
     * it holds). */
    bool lr_history;
    /* Its memo's values by the names torch (or schedulefree) gives them in its state
     * (NULL-terminated, at most two, in memo order; NULL: none): what
     * optcl_optimizer_running_value reads and sets. */
    const char *const *running;
    /* The reference rule over [begin, end); state[] in states() order. */
    optcl__reference_rule *reference;
    /* Train and eval modes (Schedule-Free; NULL: none): the switch is p = lerp(p, s, w) with
     * the state s named mode_state and w this weight, into eval mode (train false) or back;
     * the kernel optcl_<family>_mode_f32(param, state, w) and mode.c's reference do it. */
    double (*mode_weight)(const optcl_optimizer_config *c, bool train);
    const char *mode_state;
    /* Rules that look at whole tensors (LAMB, LARS; 0 for element-wise rules): the sums over
     * each tensor its update needs (host/segments.h). A first kernel, optcl_<family>_sums_f32 —
     * the step kernel's arguments, then OPTCL_SUMS_ARG — writes them per 256-element block;
     * optcl_<family>_totals_f32 (then OPTCL_TOTALS_ARG) adds each tensor's blocks and derives
     * its values; the step kernel reads its tensor's from three more arguments
     * (OPTCL_TENSOR_VALUES_ARG). The reference backend runs reference_sums, reference_totals,
     * then reference_apply (reference is NULL). trust_ratio: the rule scales by a trust ratio,
     * which a group's exclude_from_trust_ratio may turn off. */
    unsigned tensor_sums;
    unsigned tensor_values; /* what its totals kernel derives per tensor for the step kernel */
    bool trust_ratio;
    unsigned sums_reads; /* what the sums kernel reads besides the step kernel (OPTCL__READS_*),
                            for optcl_optimizer_bytes_per_step */
    /* Its totals kernel steps a tensor small enough to stay in cache whole, in a work-group per
     * tensor (kernels/common.cl's OPTCL_TENSOR_BEGIN; host/segments.h), and its sums and step
     * kernels pass over such a tensor's blocks (OPTCL_STEPPED_WHOLE). */
    bool whole_tensors;
    optcl__reference_sums *reference_sums;
    optcl__reference_totals *reference_totals;
    optcl__reference_apply *reference_apply;
    /* Factored second moments (Adafactor; false for the others, host/factored.h): state that is
     * not per element — each matrix's row and column means, each vector's own — in one float32
     * buffer, factored_states naming its tensors (NULL-terminated). Before the sums, per group,
     * optcl_<family>_factors_f32 updates every row and column mean and
     * optcl_<family>_means_f32 every matrix's mean of rows; these and the sums, totals
     * and step kernels take OPTCL_FACTORED_ARG (kernels/adafactor.cl). reference_factors does
     * the first two. */
    bool factored;
    const char *const *factored_states;
    optcl__reference_factors *reference_factors;
    /* Orthogonalised updates (Muon; NULL for the others, host/orthogonal.h): every tensor must
     * be 2-D (a set with another is refused, naming it). After the totals,
     * optcl_<family>_pack_f32 (OPTCL_PACK_ARG) writes each tensor's normalised update into a
     * workspace of matrices batched by shape, as each tensor lies; the Newton–Schulz iteration
     * runs on them (CLBlast's batched SGEMM; reference_pack and a plain C GEMM on the
     * reference backend), and the step kernel reads the result (OPTCL_ORTHOGONAL_ARG) and
     * stores the state: only the last launch may, so that a failed product changes nothing. newton_schulz gives the iteration's coefficients and steps,
     * lr_ratio a rows×cols matrix's lr factor (in double). */
    void (*newton_schulz)(const optcl_optimizer_config *c, optcl__newton_schulz *ns);
    double (*lr_ratio)(const optcl_optimizer_config *c, double rows, double cols);
    optcl__reference_pack *reference_pack;
} optcl__rule;

/* A descriptor's fields and scalars, when its file names them fields and scalars. */
#define OPTCL__RULE_FUNCTIONS                                                                      \
    .fields = fields, .field_count = sizeof fields / sizeof fields[0], .scalars = scalars

/* rules.c: the descriptor of an algorithm (NULL outside the enum), and the list. */
const optcl__rule *optcl__rule_of(optcl_algorithm algorithm);

/* fields.c: the states of a configuration (fixed_states or states()), and its kernel options
 * (out empty when the rule has none). */
size_t optcl__rule_states(const optcl__rule *rule, const optcl_optimizer_config *c,
                          const char **names, unsigned *slots);
void optcl__rule_options(const optcl__rule *rule, const optcl_optimizer_config *c, char *out,
                         size_t size);

/* fields.c: a field's value as a double (ints widened), and stored (ints from whole values). */
double optcl__field_get(const optcl_optimizer_config *c, const optcl__field *f);
void optcl__field_set(optcl_optimizer_config *c, const optcl__field *f, double value);
/* Every field of the rule at its default. */
void optcl__rule_defaults(const optcl__rule *rule, optcl_optimizer_config *c);
/* Each field in its range (and the rule's own checks); the message names key and value. */
optcl_status optcl__rule_validate(const optcl__rule *rule, const optcl_optimizer_config *c,
                                  char *message);
/* Whether two configurations of this rule differ in a field that changes the kernel or the
 * state buffers; if so, name holds it ("sgd.nesterov", "sgd.momentum (zero or not)"). */
bool optcl__rule_differs(const optcl__rule *rule, const optcl_optimizer_config *a,
                         const optcl_optimizer_config *b, char *name, size_t size);

extern const optcl__rule optcl__rule_sgd, optcl__rule_adam, optcl__rule_adamw, optcl__rule_rmsprop,
    optcl__rule_rprop, optcl__rule_lion, optcl__rule_adagrad, optcl__rule_adadelta,
    optcl__rule_adamax, optcl__rule_nadam, optcl__rule_radam, optcl__rule_asgd, optcl__rule_lamb,
    optcl__rule_lars, optcl__rule_adafactor, optcl__rule_muon;

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
