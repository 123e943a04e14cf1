/* optimizer_set.c — changing an optimizer's hyperparameters and its step count between steps,
 * as a binding that re-reads torch's param_groups before every step, or takes over another
 * optimizer's state, needs. Only what the kernel and the state buffers do not depend on can
 * change; the rest needs a new optimizer. */
#include "internal.h"
#include "rules/rule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Refuses a change to a field that decides the state buffers or the kernel's build. */
static optcl_status same_layout(optcl_optimizer *opt, const optcl_optimizer_config *next,
                                const char *key, double value)
{
    const char *names[2][OPTCL__MAX_STATES];
    unsigned slots[2][OPTCL__MAX_STATES];
    char options[2][512];
    size_t before = optcl__rule_states(opt->rule, &opt->config, names[0], slots[0]);
    size_t after = optcl__rule_states(opt->rule, next, names[1], slots[1]);
    optcl__rule_options(opt->rule, &opt->config, options[0], sizeof options[0]);
    optcl__rule_options(opt->rule, next, options[1], sizeof options[1]);
    bool same = before == after && strcmp(options[0], options[1]) == 0;
    for (size_t i = 0; same && i < before; i++)
        same = strcmp(names[0][i], names[1][i]) == 0 && slots[0][i] == slots[1][i];
    for (size_t i = 0; same && i < opt->rule->field_count; i++) {
        const optcl__field *f = &opt->rule->fields[i];
        double a = optcl__field_get(&opt->config, f), b = optcl__field_get(next, f);
        if (f->layout == OPTCL__LAYOUT_VALUE)
            same = a == b;
        else if (f->layout == OPTCL__LAYOUT_NONZERO)
            same = (a != 0.0) == (b != 0.0);
    }
    if (same)
        return OPTCL_SUCCESS;
    return optcl__fail(opt->message, OPTCL_ERROR_UNSUPPORTED,
                       "%s = %g changes %s's state buffers or kernel: create a new optimizer", key,
                       value, opt->rule->name);
}

optcl_status optcl_optimizer_set_option(optcl_optimizer *opt, const char *key, double value)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!key)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER,
                           "optcl_optimizer_set_option: key is NULL");
    optcl_optimizer_config next = opt->config;
    bool weight_decay = strcmp(key, "weight_decay") == 0;
    if (weight_decay) {
        next.weight_decay = value;
    } else if (optcl_optimizer_config_set_option(&next, key, value) != OPTCL_SUCCESS) {
        double now = 0.0;
        if (optcl_optimizer_config_get_option(&next, key, &now) != OPTCL_SUCCESS)
            return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "%s has no option '%s' (lr: optcl_optimizer_set_lr)",
                               opt->rule->name, key);
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid %s: %g (a flag takes 0 or 1, a choice the index of one of "
                           "its names: optcl_algorithm_option)",
                           key, value);
    }
    optcl_status st = optcl__validate_config(&next, opt->message);
    if (st == OPTCL_SUCCESS)
        st = same_layout(opt, &next, key, value);
    if (st == OPTCL_SUCCESS)
        st = optcl__guard_sync(opt); /* rows already written carry the old values */
    if (st != OPTCL_SUCCESS)
        return st;
    optcl_optimizer_config before = opt->config;
    double decays[OPTCL_MAX_GROUPS];
    for (int g = 0; g < OPTCL_MAX_GROUPS; g++) {
        decays[g] = opt->groups[g].weight_decay;
        if (weight_decay)
            opt->groups[g].weight_decay = value;
    }
    opt->config = next;
    /* The running products and sums (NAdam's μ product, Schedule-Free's weight sum) keep the
     * factors of the steps taken and take the new values from the next step on, as torch's
     * state does; the guard's rows resume them from the device's count. */
    st = optcl__guard_rows(opt);
    if (st != OPTCL_SUCCESS) { /* as before; the next step rewrites the rows first */
        opt->config = before;
        for (int g = 0; g < OPTCL_MAX_GROUPS; g++)
            opt->groups[g].weight_decay = decays[g];
    }
    return st;
}

optcl_status optcl_optimizer_set_step_count(optcl_optimizer *opt, uint64_t steps)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    optcl_status st = optcl__guard_sync(opt);
    optcl__saved_memos saved = {0};
    if (st == OPTCL_SUCCESS)
        st = optcl__save_memos(opt, &saved);
    if (st != OPTCL_SUCCESS)
        return st;
    uint64_t before = opt->steps;
    opt->steps = steps;
    optcl__forget_memos(opt);
    st = optcl__guard_store(opt); /* the device's count follows, and the rows */
    if (st != OPTCL_SUCCESS) {    /* the device's record was not written */
        opt->steps = before;
        optcl__restore_memos(opt, &saved);
    } else {
        optcl__lookahead_recounted(opt, before); /* unless written, the next step starts them */
        opt->counted_from = steps;               /* the last sync's α stays until the next */
    }
    free(saved.guard_memos);
    return st;
}
