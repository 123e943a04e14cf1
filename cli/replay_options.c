/* replay_options.c — KEY=VALUE hyperparameters of `optcl replay`, named as PyTorch's
 * constructor arguments, parsed strictly: unknown keys, keys of another optimizer, malformed
 * numbers and non-0/1 booleans are errors (range checks are the library's, at create time). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum value_kind {
    REAL,
    FLAG,
    COUNT,
    SCHEDULE,
    MODE,
    THRESHOLD_MODE,
    NONFINITE,
    STATE_DTYPE,
    PARAM_DTYPE, /* the parameter set's, not the optimizer's: optcl_cli_param_dtype */
    ROUNDING,
    SEED,       /* a whole number 0 … 2^64 − 1 */
    GRAD_SCALE, /* a static loss scale: loss_scale=static init_scale=S */
    LOSS_SCALE, /* off, static or dynamic */
    LIST,
    LAYOUT,    /* the parameter set's tensors: optcl_cli_tensor_specs */
    GROUP_FLAG /* the replay's group's: trust_ratio_mask (optcl_cli_grouped) */
} value_kind;

/* The keys every optimizer takes; an optimizer's own come from its descriptor
 * (optcl_algorithm_option), named as its PyTorch constructor's arguments. */
typedef struct key_entry {
    const char *key;
    value_kind kind;
} key_entry;

static const key_entry keys[] = {
    {"lr", REAL},
    {"weight_decay", REAL},
    {"maximize", FLAG},
    /* schedules and ReduceLROnPlateau */
    {"schedule", SCHEDULE},
    {"power", REAL},
    {"gamma", REAL},
    {"step_size", COUNT},
    {"milestones", LIST},
    {"t_max", COUNT},
    {"eta_min", REAL},
    {"warmup_steps", COUNT},
    {"warmup_start_factor", REAL},
    {"mode", MODE},
    {"factor", REAL},
    {"patience", COUNT},
    {"threshold", REAL},
    {"threshold_mode", THRESHOLD_MODE},
    {"cooldown", COUNT},
    {"min_lr", REAL},
    /* Lookahead */
    {"lookahead_k", COUNT},
    {"lookahead_alpha", REAL},
    /* the gradient guard */
    {"clip_norm", REAL},
    {"nonfinite", NONFINITE},
    /* precision */
    {"state_dtype", STATE_DTYPE},
    {"param_dtype", PARAM_DTYPE},
    {"master_weights", FLAG},
    {"rounding", ROUNDING},
    {"seed", SEED},
    {"grad_scale", GRAD_SCALE},
    {"loss_scale", LOSS_SCALE},
    {"init_scale", REAL},
    {"growth_factor", REAL},
    {"backoff_factor", REAL},
    {"growth_interval", COUNT},
    {"write_unscaled", FLAG},
    /* the layout and the group */
    {"tensors", LAYOUT},
    {"shape", LAYOUT},
    {"trust_ratio_mask", GROUP_FLAG},
};

/* Where each key's value goes for this configuration. */
static void *field_of(optcl_optimizer_config *c, const char *key)
{
    if (!strcmp(key, "lr"))
        return &c->lr;
    if (!strcmp(key, "weight_decay"))
        return &c->weight_decay;
    if (!strcmp(key, "maximize"))
        return &c->maximize;
    if (!strcmp(key, "schedule"))
        return &c->schedule.kind;
    if (!strcmp(key, "power"))
        return &c->schedule.power;
    if (!strcmp(key, "gamma"))
        return &c->schedule.gamma;
    if (!strcmp(key, "step_size"))
        return &c->schedule.step_size;
    if (!strcmp(key, "milestones"))
        return &c->schedule.milestones;
    if (!strcmp(key, "t_max"))
        return &c->schedule.t_max;
    if (!strcmp(key, "eta_min"))
        return &c->schedule.eta_min;
    if (!strcmp(key, "warmup_steps"))
        return &c->schedule.warmup_steps;
    if (!strcmp(key, "warmup_start_factor"))
        return &c->schedule.warmup_start_factor;
    if (!strcmp(key, "mode"))
        return &c->plateau.mode_max;
    if (!strcmp(key, "factor"))
        return &c->plateau.factor;
    if (!strcmp(key, "patience"))
        return &c->plateau.patience;
    if (!strcmp(key, "threshold"))
        return &c->plateau.threshold;
    if (!strcmp(key, "threshold_mode"))
        return &c->plateau.threshold_abs;
    if (!strcmp(key, "cooldown"))
        return &c->plateau.cooldown;
    if (!strcmp(key, "min_lr"))
        return &c->plateau.min_lr;
    if (!strcmp(key, "lookahead_k"))
        return &c->lookahead.k;
    if (!strcmp(key, "lookahead_alpha"))
        return &c->lookahead.alpha;
    if (!strcmp(key, "clip_norm"))
        return &c->max_norm;
    if (!strcmp(key, "nonfinite"))
        return &c->nonfinite;
    if (!strcmp(key, "state_dtype"))
        return &c->state_dtype;
    if (!strcmp(key, "master_weights"))
        return &c->master_weights;
    if (!strcmp(key, "rounding"))
        return &c->rounding;
    if (!strcmp(key, "seed"))
        return &c->seed;
    if (!strcmp(key, "loss_scale"))
        return &c->loss_scale.mode;
    if (!strcmp(key, "grad_scale") || !strcmp(key, "init_scale"))
        return &c->loss_scale.init_scale;
    if (!strcmp(key, "growth_factor"))
        return &c->loss_scale.growth_factor;
    if (!strcmp(key, "backoff_factor"))
        return &c->loss_scale.backoff_factor;
    if (!strcmp(key, "growth_interval"))
        return &c->loss_scale.growth_interval;
    if (!strcmp(key, "write_unscaled"))
        return &c->loss_scale.write_unscaled;
    return NULL;
}

/* A finite number into *out, or a message. */
static int parse_real(const char *key, const char *value, double *out, char *message,
                      size_t message_size)
{
    char *end = NULL;
    /* strtod would skip leading spaces (a newline too): refused like any other stray text */
    double v = *value && !isspace((unsigned char)*value) ? strtod(value, &end) : 0.0;
    if (!end || *end != '\0' || !isfinite(v)) {
        snprintf(message, message_size, "%s=%s: not a finite number", key, value);
        return 1;
    }
    *out = v;
    return 0;
}

int optcl_cli_scan_whole(const char *c, char **end, unsigned long long max, unsigned long long *out)
{
    if (!isdigit((unsigned char)*c))
        return 1;
    errno = 0;
    *out = strtoull(c, end, 10);
    return errno == ERANGE || *out > max;
}

/* value as the index of one of count names into *out (an enum's value), or a message listing
 * them ("expected off, static or dynamic"). */
static int parse_name(const char *key, const char *value, const char *const *names, int count,
                      int *out, char *message, size_t message_size)
{
    for (int k = 0; k < count; k++) {
        if (!strcmp(value, names[k])) {
            *out = k;
            return 0;
        }
    }
    int used = snprintf(message, message_size, "%s=%s: expected ", key, value);
    for (int k = 0; k < count && used >= 0 && (size_t)used < message_size; k++)
        used += snprintf(message + used, message_size - (size_t)used, "%s%s",
                         k == 0 ? "" : k + 1 == count ? " or " : ", ", names[k]);
    return 1;
}

/* An enum's names from its name function (NULL past the last value), for parse_name. */
#define ENUM_NAMES(name_of, type, names, count)                                                    \
    for (count = 0; count < (int)(sizeof names / sizeof names[0]) && name_of((type)count);         \
         count++)                                                                                  \
    names[count] = name_of((type)count)

/* Whether another optimizer has this key. */
static bool another_has(const char *key)
{
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++)
        for (size_t i = 0; i < optcl_algorithm_option_count((optcl_algorithm)a); i++)
            if (!strcmp(optcl_algorithm_option((optcl_algorithm)a, i)->key, key))
                return true;
    return false;
}

/* One of the optimizer's own keys: a number, 0/1, or one of its choices' names. */
static int apply_own(optcl_optimizer_config *config, const optcl_option_info *own,
                     const char *value, char *message, size_t message_size)
{
    double v = 0.0;
    if (own->type == OPTCL_OPTION_REAL) {
        if (parse_real(own->key, value, &v, message, message_size))
            return 1;
    } else if (own->type == OPTCL_OPTION_FLAG) {
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) {
            snprintf(message, message_size, "%s=%s: expected 0 or 1", own->key, value);
            return 1;
        }
        v = value[0] == '1';
    } else {
        int count = 0, k = 0;
        while (own->choices[count])
            count++;
        if (parse_name(own->key, value, own->choices, count, &k, message, message_size))
            return 1;
        v = k;
    }
    return optcl_optimizer_config_set_option(config, own->key, v) == OPTCL_SUCCESS ? 0 : 1;
}

int optcl_cli_apply_option(optcl_optimizer_config *config, const char *key_value, char *message,
                           size_t message_size)
{
    const char *eq = strchr(key_value, '=');
    if (!eq || eq == key_value) {
        snprintf(message, message_size, "expected KEY=VALUE, got '%s'", key_value);
        return 1;
    }
    char key[64];
    size_t klen = (size_t)(eq - key_value);
    if (klen >= sizeof key)
        klen = sizeof key - 1;
    memcpy(key, key_value, klen);
    key[klen] = '\0';
    const char *value = eq + 1;
    const char *algo = optcl_algorithm_name(config->algorithm);

    const optcl_option_info *own = NULL; /* the optimizer's own keys come first */
    for (size_t i = 0; i < optcl_algorithm_option_count(config->algorithm); i++)
        if (!strcmp(optcl_algorithm_option(config->algorithm, i)->key, key))
            own = optcl_algorithm_option(config->algorithm, i);
    if (own)
        return apply_own(config, own, value, message, message_size);
    const key_entry *entry = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(keys[i].key, key))
            entry = &keys[i];
    if (!entry) {
        if (another_has(key))
            snprintf(message, message_size, "key '%s' does not apply to %s", key, algo);
        else
            snprintf(message, message_size, "unknown key '%s'", key);
        return 1;
    }
    void *field = field_of(config, key);
    const char *names[8]; /* an enum's names (ENUM_NAMES) */
    int count = 0;
    switch (entry->kind) {
    case REAL:
        return parse_real(key, value, field, message, message_size);
    case FLAG:
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) {
            snprintf(message, message_size, "%s=%s: expected 0 or 1", key, value);
            return 1;
        }
        *(int *)field = value[0] == '1';
        return 0;
    case COUNT: {
        char *end = NULL;
        unsigned long long v = 0;
        if (optcl_cli_scan_whole(value, &end, INT64_MAX, &v) || *end != '\0') {
            snprintf(message, message_size, "%s=%s: expected a whole number 0 … 2^63 - 1", key,
                     value);
            return 1;
        }
        *(int64_t *)field = (int64_t)v;
        return 0;
    }
    case SCHEDULE:
        if (!strcmp(value, "plateau")) {
            config->schedule.kind = OPTCL_SCHEDULE_CONSTANT;
            config->plateau.enabled = 1;
            return 0;
        }
        for (int k = 0; k < OPTCL_SCHEDULE_COUNT; k++) {
            if (!strcmp(value, optcl_schedule_name((optcl_schedule_kind)k))) {
                config->schedule.kind = (optcl_schedule_kind)k;
                config->plateau.enabled = 0; /* the last schedule= wins, plateau's too */
                return 0;
            }
        }
        snprintf(message, message_size,
                 "schedule=%s: expected constant, inverse_time, exponential, step, multistep, "
                 "cosine or plateau",
                 value);
        return 1;
    case MODE:
    case THRESHOLD_MODE: {
        const char *one = entry->kind == MODE ? "max" : "abs";
        const char *zero = entry->kind == MODE ? "min" : "rel";
        if (strcmp(value, one) != 0 && strcmp(value, zero) != 0) {
            snprintf(message, message_size, "%s=%s: expected %s or %s", key, value, zero, one);
            return 1;
        }
        *(int *)field = strcmp(value, one) == 0;
        return 0;
    }
    case GRAD_SCALE:
        config->loss_scale.mode = OPTCL_LOSS_SCALE_STATIC; /* not kept when refused */
        return parse_real(key, value, field, message, message_size);
    case NONFINITE:
        ENUM_NAMES(optcl_nonfinite_name, optcl_nonfinite, names, count);
        return parse_name(key, value, names, count, field, message, message_size);
    case LOSS_SCALE:
        ENUM_NAMES(optcl_loss_scaling_name, optcl_loss_scaling, names, count);
        return parse_name(key, value, names, count, field, message, message_size);
    case ROUNDING:
        ENUM_NAMES(optcl_rounding_name, optcl_rounding, names, count);
        return parse_name(key, value, names, count, field, message, message_size);
    case SEED: {
        char *end = NULL;
        unsigned long long v = 0;
        if (optcl_cli_scan_whole(value, &end, UINT64_MAX, &v) || *end != '\0') {
            snprintf(message, message_size, "%s=%s: expected a whole number 0 … 2^64 - 1", key,
                     value);
            return 1;
        }
        *(uint64_t *)field = (uint64_t)v;
        return 0;
    }
    case PARAM_DTYPE: {
        optcl_dtype dtype;
        if (optcl_dtype_from_name(value, &dtype) != OPTCL_SUCCESS) {
            snprintf(message, message_size, "%s=%s: expected f32, bf16 or f16", key, value);
            return 1;
        }
        return 0; /* the set's type: optcl_cli_param_dtype */
    }
    case LAYOUT:
        return optcl_cli_check_layout(key, value, message, message_size);
    case GROUP_FLAG:
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) {
            snprintf(message, message_size, "%s=%s: expected 0 or 1", key, value);
            return 1;
        }
        return 0;
    case STATE_DTYPE:
        ENUM_NAMES(optcl_state_dtype_name, optcl_state_dtype, names, count);
        return parse_name(key, value, names, count, field, message, message_size);
    case LIST: {
        /* milestones=5,20,33: one number at least, one after every comma */
        size_t n = 0;
        for (const char *c = value;; n++) {
            char *end = NULL;
            unsigned long long v = 0;
            if (n == OPTCL_MAX_MILESTONES || optcl_cli_scan_whole(c, &end, INT64_MAX, &v) ||
                (*end != ',' && *end != '\0')) {
                snprintf(message, message_size,
                         "%s=%s: expected 1 to %d comma-separated whole numbers", key, value,
                         OPTCL_MAX_MILESTONES);
                return 1;
            }
            config->schedule.milestones[n] = (int64_t)v;
            if (*end == '\0')
                break;
            c = end + 1;
        }
        config->schedule.milestone_count = n + 1;
        return 0;
    }
    }
    return 1;
}

/* Which keys need which setting to mean anything. */
static bool key_is_used(const optcl_optimizer_config *c, const char *key)
{
    optcl_schedule_kind k = c->schedule.kind;
    if (!strcmp(key, "power"))
        return k == OPTCL_SCHEDULE_INVERSE_TIME;
    if (!strcmp(key, "gamma"))
        return k == OPTCL_SCHEDULE_EXPONENTIAL || k == OPTCL_SCHEDULE_STEP ||
               k == OPTCL_SCHEDULE_MULTISTEP;
    if (!strcmp(key, "step_size"))
        return k == OPTCL_SCHEDULE_STEP;
    if (!strcmp(key, "milestones"))
        return k == OPTCL_SCHEDULE_MULTISTEP;
    if (!strcmp(key, "t_max") || !strcmp(key, "eta_min"))
        return k == OPTCL_SCHEDULE_COSINE;
    if (!strcmp(key, "warmup_start_factor"))
        return c->schedule.warmup_steps > 0;
    if (!strcmp(key, "mode") || !strcmp(key, "factor") || !strcmp(key, "patience") ||
        !strcmp(key, "threshold") || !strcmp(key, "threshold_mode") || !strcmp(key, "cooldown") ||
        !strcmp(key, "min_lr"))
        return c->plateau.enabled;
    if (!strcmp(key, "lookahead_alpha"))
        return c->lookahead.k > 0;
    if (!strcmp(key, "seed"))
        return c->rounding == OPTCL_ROUND_STOCHASTIC;
    if (!strcmp(key, "init_scale") || !strcmp(key, "write_unscaled"))
        return c->loss_scale.mode != OPTCL_LOSS_SCALE_OFF;
    if (!strcmp(key, "grad_scale")) /* a later loss_scale=off|dynamic undoes its static mode */
        return c->loss_scale.mode == OPTCL_LOSS_SCALE_STATIC;
    if (!strcmp(key, "growth_factor") || !strcmp(key, "backoff_factor") ||
        !strcmp(key, "growth_interval"))
        return c->loss_scale.mode == OPTCL_LOSS_SCALE_DYNAMIC;
    return true;
}

const char *optcl_cli_option_value(char *const *options, int count, const char *key)
{
    const char *value = NULL;
    size_t len = strlen(key);
    for (int i = 0; i < count; i++)
        if (!strncmp(options[i], key, len) && options[i][len] == '=')
            value = options[i] + len + 1;
    return value;
}

optcl_dtype optcl_cli_param_dtype(char *const *options, int count)
{
    optcl_dtype dtype = OPTCL_DTYPE_F32;
    const char *value = optcl_cli_option_value(options, count, "param_dtype");
    if (value)
        optcl_dtype_from_name(value, &dtype); /* checked by apply_option */
    return dtype;
}

int optcl_cli_check_options(const optcl_optimizer_config *config, char *const *options, int count,
                            char *message, size_t message_size)
{
    for (int i = 0; i < count; i++) {
        char key[64];
        size_t len = strcspn(options[i], "=");
        snprintf(key, sizeof key, "%.*s", (int)(len < sizeof key ? len : sizeof key - 1),
                 options[i]);
        if (key_is_used(config, key))
            continue;
        if (!strcmp(key, "lookahead_alpha"))
            snprintf(message, message_size, "key 'lookahead_alpha' needs lookahead_k > 0");
        else if (!strcmp(key, "seed"))
            snprintf(message, message_size, "key 'seed' needs rounding=stochastic");
        else if (!strcmp(key, "warmup_start_factor"))
            snprintf(message, message_size, "key 'warmup_start_factor' needs warmup_steps > 0");
        else if (!strcmp(key, "grad_scale"))
            snprintf(message, message_size,
                     "key 'grad_scale' (loss_scale=static init_scale=S) does not combine with "
                     "loss_scale=%s",
                     optcl_loss_scaling_name(config->loss_scale.mode));
        else if (!strcmp(key, "init_scale") || !strcmp(key, "write_unscaled"))
            snprintf(message, message_size, "key '%s' needs loss_scale=static|dynamic", key);
        else if (!strcmp(key, "growth_factor") || !strcmp(key, "backoff_factor") ||
                 !strcmp(key, "growth_interval"))
            snprintf(message, message_size, "key '%s' needs loss_scale=dynamic", key);
        else
            snprintf(message, message_size, "key '%s' has no effect with schedule=%s", key,
                     config->plateau.enabled ? "plateau"
                                             : optcl_schedule_name(config->schedule.kind));
        return 1;
    }
    return 0;
}

const char *optcl_cli_real(char *out, size_t size, double v)
{
    /* %.17g always round-trips but prints 0.1 as 0.10000000000000001: fewer digits first */
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(out, size, "%.*g", digits, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return out;
}

/* Key i's value in c as replay takes it, into out; 0 where the key has no one value of its own
 * here (lr, weight_decay and maximize: the optimizer's line; grad_scale: init_scale's alias;
 * the set's dtype, layout and group). */
static int format_key(const optcl_optimizer_config *c, const key_entry *k, char *out, size_t size)
{
    const void *field = field_of((optcl_optimizer_config *)c, k->key); /* only its address */
    bool own_line =
        !strcmp(k->key, "lr") || !strcmp(k->key, "weight_decay") || !strcmp(k->key, "maximize");
    if (!field || own_line)
        return 0;
    switch (k->kind) {
    case REAL:
        return *optcl_cli_real(out, size, *(const double *)field) != '\0';
    case FLAG:
        return snprintf(out, size, "%d", *(const int *)field) > 0;
    case COUNT:
        return snprintf(out, size, "%lld", (long long)*(const int64_t *)field) > 0;
    case SEED:
        return snprintf(out, size, "%llu", (unsigned long long)*(const uint64_t *)field) > 0;
    case SCHEDULE:
        return snprintf(out, size, "%s", optcl_schedule_name(c->schedule.kind)) > 0;
    case MODE:
        return snprintf(out, size, "%s", *(const int *)field ? "max" : "min") > 0;
    case THRESHOLD_MODE:
        return snprintf(out, size, "%s", *(const int *)field ? "abs" : "rel") > 0;
    case NONFINITE:
        return snprintf(out, size, "%s", optcl_nonfinite_name(c->nonfinite)) > 0;
    case STATE_DTYPE:
        return snprintf(out, size, "%s", optcl_state_dtype_name(c->state_dtype)) > 0;
    case ROUNDING:
        return snprintf(out, size, "%s", optcl_rounding_name(c->rounding)) > 0;
    case LOSS_SCALE:
        return snprintf(out, size, "%s", optcl_loss_scaling_name(c->loss_scale.mode)) > 0;
    case LIST: {
        size_t at = 0;
        out[0] = '\0';
        for (size_t i = 0; i < c->schedule.milestone_count && at < size; i++) {
            int n = snprintf(out + at, size - at, "%s%lld", i ? "," : "",
                             (long long)c->schedule.milestones[i]);
            at += n > 0 ? (size_t)n : 0;
        }
        return 1;
    }
    default:
        return 0;
    }
}

int optcl_cli_print_training(const optcl_optimizer_config *c)
{
    optcl_optimizer_config d = optcl_optimizer_config_default(c->algorithm);
    int printed = 0;
    if (c->plateau.enabled)
        printed += printf(" schedule=plateau") > 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char value[256], fallback[256];
        /* a key the procedure does not use (a library-saved warmup_start_factor without
         * warmup_steps) is one replay refuses: printed, it could not be given again */
        if (!key_is_used(c, keys[i].key) || !format_key(c, &keys[i], value, sizeof value))
            continue;
        format_key(&d, &keys[i], fallback, sizeof fallback);
        bool constant = keys[i].kind == SCHEDULE && c->schedule.kind == OPTCL_SCHEDULE_CONSTANT;
        if (strcmp(value, fallback) != 0 && !constant)
            printed += printf(" %s=%s", keys[i].key, value) > 0;
    }
    return printed;
}

const char *optcl_cli_names(char *out, size_t size)
{
    size_t at = 0;
    out[0] = '\0';
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT && at < size; a++) {
        int n = snprintf(out + at, size - at, "%s%s", a ? ", " : "",
                         optcl_algorithm_name((optcl_algorithm)a));
        at += n > 0 ? (size_t)n : 0;
    }
    return out;
}

void optcl_cli_print_names(FILE *f)
{
    int column = 20;
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
        const char *name = optcl_algorithm_name((optcl_algorithm)a);
        if (column + (int)strlen(name) > 86)
            column = fprintf(f, "%s\n           ", a ? "," : "") - 2;
        else if (a)
            column += fprintf(f, ",");
        column += fprintf(f, " %s", name);
    }
    fprintf(f, "\n");
}

void optcl_cli_print_keys(FILE *f)
{
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
        optcl_optimizer_config d = optcl_optimizer_config_default((optcl_algorithm)a);
        int column = fprintf(f, "  %-9s lr (%g) weight_decay (%g)",
                             optcl_algorithm_name((optcl_algorithm)a), d.lr, d.weight_decay);
        for (size_t i = 0; i < optcl_algorithm_option_count((optcl_algorithm)a); i++) {
            const optcl_option_info *o = optcl_algorithm_option((optcl_algorithm)a, i);
            char item[96];
            if (o->type == OPTCL_OPTION_CHOICE) {
                int used = snprintf(item, sizeof item, " %s=", o->key);
                for (int k = 0; o->choices[k] && used > 0 && (size_t)used < sizeof item; k++)
                    used += snprintf(item + used, sizeof item - (size_t)used, "%s%s",
                                     k ? "|" : "", o->choices[k]);
            } else {
                snprintf(item, sizeof item, " %s (%g)", o->key, o->default_value);
            }
            if (column + (int)strlen(item) > 88)
                column = fprintf(f, "\n           ") - 1;
            column += fprintf(f, "%s", item);
        }
        fprintf(f, "\n");
    }
}
