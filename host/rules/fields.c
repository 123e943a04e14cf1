/* fields.c — what generic code reads from a descriptor: its states and kernel options, and its
 * hyperparameters by their descriptions (rule.h's optcl__field): defaults, range checks, the
 * fields that decide the state layout, and the public by-name access. */
#include "rule.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double optcl__field_get(const optcl_optimizer_config *c, const optcl__field *f)
{
    const char *at = (const char *)c + f->offset;
    return f->info.type == OPTCL_OPTION_REAL ? *(const double *)at : (double)*(const int *)at;
}

void optcl__field_set(optcl_optimizer_config *c, const optcl__field *f, double value)
{
    char *at = (char *)c + f->offset;
    if (f->info.type == OPTCL_OPTION_REAL)
        *(double *)at = value;
    else
        *(int *)at = (int)value;
}

size_t optcl__rule_states(const optcl__rule *rule, const optcl_optimizer_config *c,
                          const char **names, unsigned *slots)
{
    if (rule->states)
        return rule->states(c, names, slots);
    size_t n = 0;
    for (; rule->fixed_states[n]; n++) {
        names[n] = rule->fixed_states[n];
        slots[n] = (unsigned)n;
    }
    return n;
}

void optcl__rule_options(const optcl__rule *rule, const optcl_optimizer_config *c, char *out,
                         size_t size)
{
    if (rule->options)
        rule->options(c, out, size);
    else if (size > 0)
        out[0] = '\0';
}

void optcl__rule_defaults(const optcl__rule *rule, optcl_optimizer_config *c)
{
    for (size_t i = 0; i < rule->field_count; i++)
        optcl__field_set(c, &rule->fields[i], rule->fields[i].info.default_value);
}

static size_t choice_count(const optcl_option_info *info)
{
    size_t n = 0;
    while (info->choices && info->choices[n])
        n++;
    return n;
}

/* Whether value is one the field can hold (a whole value for FLAG and CHOICE). */
static bool in_domain(const optcl_option_info *info, double value)
{
    if (info->type == OPTCL_OPTION_REAL)
        return true;
    double top = info->type == OPTCL_OPTION_FLAG ? 1.0 : (double)choice_count(info) - 1.0;
    return value == floor(value) && value >= 0.0 && value <= top;
}

static bool in_range(const optcl_option_info *info, double v)
{
    if (!isfinite(v))
        return false;
    bool above = info->min_open ? v > info->min : v >= info->min;
    bool below = info->max_open ? v < info->max : v <= info->max;
    return above && below;
}

/* The range in words: "must be in [0, 1)", "must be finite and >= 0", "must be finite". */
static void range_text(const optcl_option_info *info, char *out, size_t size)
{
    bool low = isfinite(info->min), high = isfinite(info->max);
    if (low && high)
        snprintf(out, size, "must be in %c%g, %g%c", info->min_open ? '(' : '[', info->min,
                 info->max, info->max_open ? ')' : ']');
    else if (low)
        snprintf(out, size, "must be finite and %s %g", info->min_open ? ">" : ">=", info->min);
    else if (high)
        snprintf(out, size, "must be finite and %s %g", info->max_open ? "<" : "<=", info->max);
    else
        snprintf(out, size, "must be finite");
}

optcl_status optcl__rule_validate(const optcl__rule *rule, const optcl_optimizer_config *c,
                                  char *message)
{
    for (size_t i = 0; i < rule->field_count; i++) {
        const optcl_option_info *info = &rule->fields[i].info;
        double v = optcl__field_get(c, &rule->fields[i]);
        char why[96];
        if (info->type == OPTCL_OPTION_REAL) {
            if (in_range(info, v))
                continue;
            range_text(info, why, sizeof why);
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT, "invalid %s: %g (%s)",
                               info->key, v, why);
        }
        if (in_domain(info, v))
            continue;
        if (info->type == OPTCL_OPTION_FLAG)
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "invalid %s: %d (must be 0 or 1)", info->key, (int)v);
        size_t used = (size_t)snprintf(why, sizeof why, "must be");
        for (size_t k = 0; info->choices[k] && used < sizeof why; k++)
            used += (size_t)snprintf(why + used, sizeof why - used, "%s %zu (%s)", k ? "," : "", k,
                                     info->choices[k]);
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT, "invalid %s: %d (%s)", info->key,
                           (int)v, why);
    }
    return rule->validate ? rule->validate(c, message) : OPTCL_SUCCESS;
}

bool optcl__rule_differs(const optcl__rule *rule, const optcl_optimizer_config *a,
                         const optcl_optimizer_config *b, char *name, size_t size)
{
    for (size_t i = 0; i < rule->field_count; i++) {
        const optcl__field *f = &rule->fields[i];
        double x = optcl__field_get(a, f), y = optcl__field_get(b, f);
        bool value = f->layout == OPTCL__LAYOUT_VALUE && x != y;
        bool zero = f->layout == OPTCL__LAYOUT_NONZERO && (x != 0.0) != (y != 0.0);
        if (value || zero) {
            snprintf(name, size, "%s%s", f->info.field, zero ? " (zero or not)" : "");
            return true;
        }
    }
    return false;
}

/* The public by-name access ------------------------------------------------------------------ */

size_t optcl_algorithm_option_count(optcl_algorithm algorithm)
{
    const optcl__rule *rule = optcl__rule_of(algorithm);
    return rule ? rule->field_count : 0;
}

const optcl_option_info *optcl_algorithm_option(optcl_algorithm algorithm, size_t index)
{
    const optcl__rule *rule = optcl__rule_of(algorithm);
    return rule && index < rule->field_count ? &rule->fields[index].info : NULL;
}

static const optcl__field *find(const optcl_optimizer_config *c, const char *key)
{
    const optcl__rule *rule = optcl__rule_of(c->algorithm);
    for (size_t i = 0; rule && i < rule->field_count; i++)
        if (strcmp(rule->fields[i].info.key, key) == 0)
            return &rule->fields[i];
    return NULL;
}

optcl_status optcl_optimizer_config_set_option(optcl_optimizer_config *config, const char *key,
                                               double value)
{
    if (!config || !key)
        return OPTCL_ERROR_NULL_POINTER;
    const optcl__field *f = find(config, key);
    if (!f || !in_domain(&f->info, value))
        return OPTCL_ERROR_INVALID_ARGUMENT;
    optcl__field_set(config, f, value);
    return OPTCL_SUCCESS;
}

optcl_status optcl_optimizer_config_get_option(const optcl_optimizer_config *config,
                                               const char *key, double *value)
{
    if (!config || !key || !value)
        return OPTCL_ERROR_NULL_POINTER;
    const optcl__field *f = find(config, key);
    if (!f)
        return OPTCL_ERROR_INVALID_ARGUMENT;
    *value = optcl__field_get(config, f);
    return OPTCL_SUCCESS;
}
