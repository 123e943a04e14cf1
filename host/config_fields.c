/* config_fields.c — every scalar of optcl_optimizer_config by name, formatted and parsed
 * exactly, for checkpoints: the fields every optimizer shares here, each rule's own from its
 * descriptor; and the comparison of what decides kernels and state buffers. */
#include "config_fields.h"
#include "rules/rule.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(name, type, member)                                                                      \
    {                                                                                              \
        name, OPTCL__F_##type, offsetof(optcl_optimizer_config, member), false                     \
    }
#define OPTIONAL(name, type, member)                                                               \
    {                                                                                              \
        name, OPTCL__F_##type, offsetof(optcl_optimizer_config, member), true                      \
    }

const optcl__config_field optcl__config_fields[] = {
    F("algorithm", INT, algorithm),
    F("lr", DOUBLE, lr),
    F("weight_decay", DOUBLE, weight_decay),
    F("maximize", INT, maximize),
    F("schedule.kind", INT, schedule.kind),
    F("schedule.power", DOUBLE, schedule.power),
    F("schedule.gamma", DOUBLE, schedule.gamma),
    F("schedule.step_size", INT64, schedule.step_size),
    F("schedule.milestones", MILESTONES, schedule),
    F("schedule.t_max", INT64, schedule.t_max),
    F("schedule.eta_min", DOUBLE, schedule.eta_min),
    F("schedule.warmup_steps", INT64, schedule.warmup_steps),
    F("schedule.warmup_start_factor", DOUBLE, schedule.warmup_start_factor),
    F("plateau.enabled", INT, plateau.enabled),
    F("plateau.mode_max", INT, plateau.mode_max),
    F("plateau.factor", DOUBLE, plateau.factor),
    F("plateau.patience", INT64, plateau.patience),
    F("plateau.threshold", DOUBLE, plateau.threshold),
    F("plateau.threshold_abs", INT, plateau.threshold_abs),
    F("plateau.cooldown", INT64, plateau.cooldown),
    F("plateau.min_lr", DOUBLE, plateau.min_lr),
    F("plateau.eps", DOUBLE, plateau.eps),
    F("lookahead.k", INT64, lookahead.k),
    F("lookahead.alpha", DOUBLE, lookahead.alpha),
    F("lookahead.alpha_schedule.kind", INT, lookahead.alpha_schedule.kind),
    F("lookahead.alpha_schedule.power", DOUBLE, lookahead.alpha_schedule.power),
    F("lookahead.alpha_schedule.gamma", DOUBLE, lookahead.alpha_schedule.gamma),
    F("lookahead.alpha_schedule.step_size", INT64, lookahead.alpha_schedule.step_size),
    F("lookahead.alpha_schedule.milestones", MILESTONES, lookahead.alpha_schedule),
    F("lookahead.alpha_schedule.t_max", INT64, lookahead.alpha_schedule.t_max),
    F("lookahead.alpha_schedule.eta_min", DOUBLE, lookahead.alpha_schedule.eta_min),
    F("lookahead.alpha_schedule.warmup_steps", INT64, lookahead.alpha_schedule.warmup_steps),
    F("lookahead.alpha_schedule.warmup_start_factor", DOUBLE,
      lookahead.alpha_schedule.warmup_start_factor),
    OPTIONAL("max_norm", DOUBLE, max_norm),
    OPTIONAL("nonfinite", INT, nonfinite),
    OPTIONAL("state_dtype", INT, state_dtype),
    OPTIONAL("master_weights", INT, master_weights),
    OPTIONAL("rounding", INT, rounding),
    OPTIONAL("seed", UINT64, seed),
    OPTIONAL("loss_scale.mode", INT, loss_scale.mode),
    OPTIONAL("loss_scale.init_scale", DOUBLE, loss_scale.init_scale),
    OPTIONAL("loss_scale.growth_factor", DOUBLE, loss_scale.growth_factor),
    OPTIONAL("loss_scale.backoff_factor", DOUBLE, loss_scale.backoff_factor),
    OPTIONAL("loss_scale.growth_interval", INT64, loss_scale.growth_interval),
    OPTIONAL("loss_scale.write_unscaled", INT, loss_scale.write_unscaled),
};
const size_t optcl__config_field_count =
    sizeof optcl__config_fields / sizeof optcl__config_fields[0];

size_t optcl__checkpoint_field_count(const optcl_optimizer_config *c)
{
    return optcl__config_field_count + optcl__rule_of(c->algorithm)->field_count;
}

optcl__config_field optcl__checkpoint_field(const optcl_optimizer_config *c, size_t i)
{
    if (i < optcl__config_field_count)
        return optcl__config_fields[i];
    const optcl__field *f = &optcl__rule_of(c->algorithm)->fields[i - optcl__config_field_count];
    optcl__config_field out = {f->info.field,
                               f->info.type == OPTCL_OPTION_REAL ? OPTCL__F_DOUBLE : OPTCL__F_INT,
                               f->offset, f->optional};
    return out;
}

void optcl__field_format(const optcl_optimizer_config *c, const optcl__config_field *f, char *out,
                         size_t size)
{
    const char *base = (const char *)c + f->offset;
    switch (f->type) {
    case OPTCL__F_DOUBLE:
        snprintf(out, size, "%.17g", *(const double *)base);
        break;
    case OPTCL__F_INT:
        snprintf(out, size, "%d", *(const int *)base);
        break;
    case OPTCL__F_INT64:
        snprintf(out, size, "%" PRId64, *(const int64_t *)base);
        break;
    case OPTCL__F_UINT64:
        snprintf(out, size, "%" PRIu64, *(const uint64_t *)base);
        break;
    case OPTCL__F_MILESTONES: {
        const optcl_schedule *s = (const optcl_schedule *)base;
        out[0] = '\0';
        for (size_t i = 0; i < s->milestone_count && i < OPTCL_MAX_MILESTONES; i++) {
            size_t len = strlen(out);
            snprintf(out + len, size - len, "%s%" PRId64, i ? "," : "", s->milestones[i]);
        }
        break;
    }
    }
}

/* The public by-name access: the checkpoint's fields, so that a comparison or a listing
 * covers every field a checkpoint does. */
size_t optcl_optimizer_config_field_count(const optcl_optimizer_config *config)
{
    return config && optcl__rule_of(config->algorithm) ? optcl__checkpoint_field_count(config) : 0;
}

optcl_status optcl_optimizer_config_field(const optcl_optimizer_config *config, size_t index,
                                          const char **name, char *value, size_t size)
{
    if (!config || !value)
        return OPTCL_ERROR_NULL_POINTER;
    if (index >= optcl_optimizer_config_field_count(config))
        return OPTCL_ERROR_INVALID_ARGUMENT;
    optcl__config_field f = optcl__checkpoint_field(config, index);
    char text[OPTCL_CONFIG_VALUE_MAX]; /* 16 milestones of 20 digits and a sign fit */
    optcl__field_format(config, &f, text, sizeof text);
    size_t len = strlen(text);
    if (len >= size)
        return OPTCL_ERROR_SIZE_MISMATCH;
    memcpy(value, text, len + 1);
    if (name)
        *name = f.name;
    return OPTCL_SUCCESS;
}

/* strtod, strtol and strtoll skip leading spaces; a save never writes them. */
static bool starts_clean(const char *text)
{
    return *text != '\0' && !isspace((unsigned char)*text);
}

static bool parse_double(const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    /* ERANGE: an overflow (±HUGE_VAL), or an underflow — a subnormal result is the saved
     * value itself (a save writes 17 digits), zero is not */
    if (!starts_clean(text) || *end != '\0' || (errno == ERANGE && (isinf(v) || v == 0.0)))
        return false;
    *out = v;
    return true;
}

/* One int64_t ending at a stop character (or the end); *end past it. */
static bool parse_int64(const char *text, char stop, int64_t *out, const char **end)
{
    char *e = NULL;
    errno = 0;
    long long v = strtoll(text, &e, 10);
    if (!starts_clean(text) || e == text || errno == ERANGE || (*e != stop && *e != '\0'))
        return false;
    *out = v;
    *end = e;
    return true;
}

static bool parse_milestones(optcl_schedule *s, const char *text)
{
    s->milestone_count = 0;
    while (*text) {
        const char *end = NULL;
        int64_t v = 0;
        if (s->milestone_count == OPTCL_MAX_MILESTONES || !parse_int64(text, ',', &v, &end))
            return false;
        s->milestones[s->milestone_count++] = v;
        if (*end == ',' && end[1] == '\0')
            return false; /* "5," */
        text = *end ? end + 1 : end;
    }
    return true;
}

bool optcl__field_parse(optcl_optimizer_config *c, const optcl__config_field *f, const char *text)
{
    char *base = (char *)c + f->offset, *end = NULL;
    const char *stop = NULL;
    switch (f->type) {
    case OPTCL__F_DOUBLE:
        return parse_double(text, (double *)base);
    case OPTCL__F_INT: {
        int64_t v = 0;
        if (!parse_int64(text, '\0', &v, &stop) || v < -1000000 || v > 1000000)
            return false;
        *(int *)base = (int)v;
        return true;
    }
    case OPTCL__F_INT64:
        return parse_int64(text, '\0', (int64_t *)base, &stop);
    case OPTCL__F_UINT64: { /* digits alone: strtoull would take " 5", "+5" and "-1" */
        int64_t negative = 0;
        /* checkpoints before the field was unsigned saved a seed of 2^63 or more as the int64
         * of the same bits ("-6" for 2^64 − 6): a minus, digits, a negative int64 */
        if (*text == '-' && isdigit((unsigned char)text[1])) {
            if (!parse_int64(text, '\0', &negative, &stop) || negative >= 0)
                return false;
            *(uint64_t *)base = (uint64_t)negative;
            return true;
        }
        errno = 0;
        unsigned long long v = isdigit((unsigned char)*text) ? strtoull(text, &end, 10) : 0;
        if (!end || *end != '\0' || errno == ERANGE)
            return false;
        *(uint64_t *)base = v;
        return true;
    }
    case OPTCL__F_MILESTONES:
        return parse_milestones((optcl_schedule *)base, text);
    }
    return false;
}

bool optcl__config_same_structure(const optcl_optimizer_config *a, const optcl_optimizer_config *b,
                                  optcl_dtype params, char *differs, size_t size)
{
#define SAME(cond, name)                                                                           \
    if (!(cond)) {                                                                                 \
        snprintf(differs, size, "%s", name);                                                       \
        return false;                                                                              \
    }
    SAME(a->algorithm == b->algorithm, "algorithm");
    SAME(a->maximize == b->maximize, "maximize");
    if (optcl__rule_differs(optcl__rule_of(a->algorithm), a, b, differs, size))
        return false;
    SAME(a->lookahead.k == b->lookahead.k, "lookahead.k");
    SAME((a->max_norm > 0.0) == (b->max_norm > 0.0), "max_norm (zero or not)");
    SAME(a->nonfinite == b->nonfinite, "nonfinite");
    SAME(optcl__state_type(a, params) == optcl__state_type(b, params), "state_dtype");
    SAME(a->master_weights == b->master_weights, "master_weights");
    SAME(a->rounding == b->rounding, "rounding");
    SAME(a->loss_scale.mode == b->loss_scale.mode, "loss_scale.mode");
    SAME(a->loss_scale.write_unscaled == b->loss_scale.write_unscaled,
         "loss_scale.write_unscaled");
#undef SAME
    return true;
}
