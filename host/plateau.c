/* plateau.c — ReduceLROnPlateau: PyTorch's bookkeeping (is_better, bad steps, cooldown, eps)
 * with each group's reductions kept as a factor on its schedule's lr. */
#include "plateau.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

optcl_plateau_config optcl_plateau_config_default(void)
{
    optcl_plateau_config c;
    memset(&c, 0, sizeof c); /* padding too: configurations are compared bytewise */
    c.enabled = 0;
    c.mode_max = 0;
    c.factor = 0.1;
    c.patience = 10;
    c.threshold = 1e-4;
    c.threshold_abs = 0;
    c.cooldown = 0;
    c.min_lr = 0.0;
    c.eps = 1e-8;
    return c;
}

void optcl__plateau_init(optcl_plateau_state *s, const optcl_plateau_config *c)
{
    s->best = c->mode_max ? -INFINITY : INFINITY; /* PyTorch's mode_worse */
    s->num_bad_epochs = 0;
    s->cooldown_counter = 0;
    s->reports = 0;
    for (int g = 0; g < OPTCL_MAX_GROUPS; g++)
        s->scale[g] = 1.0;
}

#define REQUIRE(cond, field, value, why)                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,                              \
                               "invalid plateau.%s: %g (%s)", field, (double)(value), why);        \
    } while (0)

#define REQUIRE_INT(cond, field, value, why)                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,                              \
                               "invalid plateau.%s: %" PRId64 " (%s)", field, (int64_t)(value),    \
                               why);                                                               \
    } while (0)

/* Checked whether or not the plateau is enabled: the defaults pass, and a bad value is a
 * mistake worth reporting before someone turns it on. */
optcl_status optcl__plateau_validate(const optcl_plateau_config *c, char *message)
{
    if (!c)
        return optcl__fail(message, OPTCL_ERROR_NULL_POINTER, "plateau configuration is NULL");
    REQUIRE_INT(c->enabled == 0 || c->enabled == 1, "enabled", c->enabled, "must be 0 or 1");
    REQUIRE_INT(c->mode_max == 0 || c->mode_max == 1, "mode_max", c->mode_max, "must be 0 or 1");
    REQUIRE_INT(c->threshold_abs == 0 || c->threshold_abs == 1, "threshold_abs", c->threshold_abs,
                "must be 0 or 1");
    REQUIRE(c->factor >= 0.0 && c->factor < 1.0, "factor", c->factor, "must be in [0, 1)");
    REQUIRE_INT(c->patience >= 0, "patience", c->patience, "must be >= 0");
    REQUIRE(isfinite(c->threshold) && c->threshold >= 0.0, "threshold", c->threshold,
            "must be >= 0 and finite");
    REQUIRE_INT(c->cooldown >= 0, "cooldown", c->cooldown, "must be >= 0");
    REQUIRE(isfinite(c->min_lr) && c->min_lr >= 0.0, "min_lr", c->min_lr,
            "must be >= 0 and finite");
    REQUIRE(isfinite(c->eps) && c->eps >= 0.0, "eps", c->eps, "must be >= 0 and finite");
    return OPTCL_SUCCESS;
}

/* PyTorch's is_better, expression for expression: with best = ±inf and a relative threshold
 * the products stay ±inf, and with negative metrics the relative form keeps PyTorch's
 * behaviour (best·(1 − threshold) is then above best). A NaN metric compares false: bad. */
static bool is_better(const optcl_plateau_config *c, double a, double best)
{
    if (!c->mode_max && !c->threshold_abs)
        return a < best * (1.0 - c->threshold);
    if (!c->mode_max)
        return a < best - c->threshold;
    if (!c->threshold_abs)
        return a > best * (c->threshold + 1.0);
    return a > best + c->threshold;
}

bool optcl__plateau_report(optcl_plateau_state *s, const optcl_plateau_config *c, double metric,
                           const double *current_lr, size_t group_count)
{
    s->reports++;
    if (is_better(c, metric, s->best)) {
        s->best = metric;
        s->num_bad_epochs = 0;
    } else {
        s->num_bad_epochs++;
    }
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->num_bad_epochs = 0; /* bad steps in cooldown are ignored */
    }
    if (s->num_bad_epochs <= c->patience)
        return false;

    bool reduced = false;
    if (group_count > OPTCL_MAX_GROUPS)
        group_count = OPTCL_MAX_GROUPS;
    for (size_t g = 0; g < group_count; g++) {
        double old_lr = current_lr[g];
        double new_lr = old_lr * c->factor;
        if (c->min_lr > new_lr) /* Python's max(old·factor, min_lr), NaN handling included */
            new_lr = c->min_lr;
        /* PyTorch leaves the lr alone when the change is eps or less (this is also what stops
         * reductions once min_lr is reached). Applied, the new lr is max(old·factor, min_lr)
         * = max(schedule·scale·factor, min_lr), which optcl__plateau_lr returns from now on. */
        if (old_lr - new_lr > c->eps) {
            s->scale[g] *= c->factor;
            reduced = true;
        }
    }
    /* As in PyTorch, cooldown restarts after every patience overrun, reduced or not. */
    s->cooldown_counter = c->cooldown;
    s->num_bad_epochs = 0;
    return reduced;
}

double optcl__plateau_lr(const optcl_plateau_state *s, const optcl_plateau_config *c, int group,
                         double scheduled_lr)
{
    if (group < 0 || group >= OPTCL_MAX_GROUPS || s->scale[group] == 1.0)
        return scheduled_lr; /* never reduced: min_lr does not apply (as in PyTorch) */
    double lr = scheduled_lr * s->scale[group];
    return c->min_lr > lr ? c->min_lr : lr;
}
