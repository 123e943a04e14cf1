/* optimizer_lr.c — where each step's learning rate comes from: the group's base lr, through
 * the schedule, then ReduceLROnPlateau's reductions; and the metric reports that drive them. */
#include "plateau.h"

double optcl__lr_at(const optcl_optimizer_config *config, const optcl_plateau_state *plateau,
                    int group, double base_lr, uint64_t t)
{
    double scheduled = optcl_schedule_lr(&config->schedule, base_lr, t);
    if (!config->plateau.enabled)
        return scheduled;
    return optcl__plateau_lr(plateau, &config->plateau, group, scheduled);
}

double optcl__group_lr(const optcl_optimizer *opt, int group, uint64_t t)
{
    return optcl__lr_at(&opt->config, &opt->plateau, group, opt->groups[group].lr, t);
}

optcl_status optcl_optimizer_get_lr(const optcl_optimizer *cp, int group, double *lr)
{
    optcl_optimizer *opt = (optcl_optimizer *)cp; /* only the message is written */
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!lr)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER,
                           "optcl_optimizer_get_lr: lr is NULL");
    if (group < 0 || group >= OPTCL_MAX_GROUPS)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "optcl_optimizer_get_lr: invalid group %d (0..%d)", group,
                           OPTCL_MAX_GROUPS - 1);
    uint64_t steps = opt->steps;
    optcl_status st = optcl__steps_read(opt, &steps); /* the device's, with a guard */
    if (st == OPTCL_SUCCESS)
        *lr = optcl__group_lr(opt, group, steps);
    return st;
}

optcl_status optcl_optimizer_report_metric(optcl_optimizer *opt, double metric)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!opt->config.plateau.enabled)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "optcl_optimizer_report_metric: config.plateau.enabled is 0");
    optcl_status st = optcl__guard_sync(opt); /* the lrs of pending rows change */
    if (st != OPTCL_SUCCESS)
        return st;
    double current[OPTCL_MAX_GROUPS];
    for (int g = 0; g < OPTCL_MAX_GROUPS; g++)
        current[g] = optcl__group_lr(opt, g, opt->steps);
    optcl_plateau_state before = opt->plateau;
    optcl__plateau_report(&opt->plateau, &opt->config.plateau, metric, current, OPTCL_MAX_GROUPS);
    st = optcl__guard_rows(opt);
    if (st != OPTCL_SUCCESS) /* not reported; the next step rewrites the rows first */
        opt->plateau = before;
    return st;
}

optcl_status optcl_optimizer_plateau_state(const optcl_optimizer *opt, optcl_plateau_state *state)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!state) /* only the message is written */
        return optcl__fail(((optcl_optimizer *)opt)->message, OPTCL_ERROR_NULL_POINTER,
                           "optcl_optimizer_plateau_state: state is NULL");
    *state = opt->plateau;
    return OPTCL_SUCCESS;
}
