/* running.c — a rule's running values (its memo: NAdam's μ product, ASGD's η, Schedule-Free's
 * weight sum and lr_max) by the names torch gives them in its state: read, and set as a
 * load_state_dict does, between steps. */
#include "internal.h"
#include "rules/rule.h"

#include <math.h>
#include <string.h>

/* The index of name among the rule's running values; -1 with the message set. */
static int running_index(optcl_optimizer *opt, int group, const char *name, const char *call)
{
    const char *const *names = opt->rule->running;
    if (group < 0 || group >= OPTCL_MAX_GROUPS) {
        optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT, "%s: group %d is not in [0, %d)",
                    call, group, OPTCL_MAX_GROUPS);
        return -1;
    }
    for (int k = 0; names && names[k]; k++)
        if (strcmp(names[k], name) == 0)
            return k;
    optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                "%s: %s keeps no running value '%s' (it keeps: %s%s%s)", call, opt->rule->name,
                name, names ? names[0] : "none", names && names[1] ? ", " : "",
                names && names[1] ? names[1] : "");
    return -1;
}

/* The group's memo at the count the device holds (after a sync); where none is kept (a count
 * set, a checkpoint without it), recomputed from the first step with the current values. */
static optcl__rule_memo memo_now(optcl_optimizer *opt, int group)
{
    optcl__rule_memo memo;
    if (optcl__memo_now(opt, group, &memo))
        return memo;
    optcl__step_scalars unused;
    optcl__scalars_for_step(opt, group, opt->steps, &unused); /* fills the memo */
    return opt->memo[group];
}

/* The checks both calls share, then the count brought up to date; the memo's index in *k. */
static optcl_status prepare(optcl_optimizer *opt, int group, const char *name, const char *call,
                            int *k)
{
    if (!name)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "%s: name is NULL", call);
    if ((*k = running_index(opt, group, name, call)) < 0)
        return OPTCL_ERROR_INVALID_ARGUMENT;
    optcl_status st = optcl__guard_sync(opt);
    if (st == OPTCL_SUCCESS && opt->steps == 0)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "%s: no step taken yet, so no '%s' (torch starts from its initial "
                           "value; set a step count first to take over another's)",
                           call, name);
    return st;
}

optcl_status optcl_optimizer_running_value(optcl_optimizer *opt, int group, const char *name,
                                           double *value)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!value)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER,
                           "optcl_optimizer_running_value: value is NULL");
    int k;
    optcl_status st = prepare(opt, group, name, "optcl_optimizer_running_value", &k);
    if (st == OPTCL_SUCCESS)
        *value = memo_now(opt, group).value[k];
    return st;
}

optcl_status optcl_optimizer_set_running_value(optcl_optimizer *opt, int group, const char *name,
                                               double value)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    const char *call = "optcl_optimizer_set_running_value";
    if (!isfinite(value))
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT, "%s: %s = %g is not finite",
                           call, name ? name : "(null)", value);
    int k;
    optcl_status st = prepare(opt, group, name, call, &k);
    if (st != OPTCL_SUCCESS)
        return st;
    optcl__rule_memo before = memo_now(opt, group), memo = before;
    memo.value[k] = value;
    optcl__memo_set(opt, group, &memo);
    st = optcl__guard_rows(opt); /* the rows ahead continue from it */
    if (st != OPTCL_SUCCESS)     /* not set; the next step rewrites the rows first */
        optcl__memo_set(opt, group, &before);
    return st;
}
