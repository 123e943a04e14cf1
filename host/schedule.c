/* schedule.c — learning-rate schedules as closed forms of (base lr, step): defaults, validation,
 * evaluation and names. Each form equals a PyTorch scheduler stepped once per optimizer step
 * (tests/golden/schedules.txt holds the traces it is checked against). */
#include "internal.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

/* math.h's M_PI is not C11; this is the double Python's math.pi holds. */
#define OPTCL__PI 3.14159265358979323846

static const char *const schedule_names[OPTCL_SCHEDULE_COUNT] = {
    "constant", "inverse_time", "exponential", "step", "multistep", "cosine"};

const char *optcl_schedule_name(optcl_schedule_kind kind)
{
    if ((int)kind < 0 || kind >= OPTCL_SCHEDULE_COUNT)
        return NULL;
    return schedule_names[kind];
}

optcl_schedule optcl_schedule_default(optcl_schedule_kind kind)
{
    optcl_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.power = 1.0;
    s.gamma = 0.1;
    s.step_size = 1;
    s.milestone_count = 0;
    s.t_max = 1;
    s.eta_min = 0.0;
    s.warmup_steps = 0;
    s.warmup_start_factor = 1.0 / 3.0; /* LinearLR's default start_factor */
    return s;
}

/* The message goes to a caller buffer of message_size bytes (message may be NULL). */
#define REJECT(...)                                                                                \
    do {                                                                                           \
        optcl__format(message, message_size, __VA_ARGS__);                                         \
        return OPTCL_ERROR_INVALID_ARGUMENT;                                                       \
    } while (0)

#define REQUIRE_REAL(cond, field, value, why)                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            REJECT("invalid %s.%s: %g (%s)", name, field, (double)(value), why);                   \
    } while (0)

#define REQUIRE_INT(cond, field, value, why)                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            REJECT("invalid %s.%s: %" PRId64 " (%s)", name, field, (int64_t)(value), why);         \
    } while (0)

static optcl_status validate_milestones(const optcl_schedule *s, const char *name, char *message,
                                        size_t message_size)
{
    if (s->milestone_count > OPTCL_MAX_MILESTONES)
        REJECT("invalid %s.milestone_count: %zu (at most %d)", name, s->milestone_count,
               OPTCL_MAX_MILESTONES);
    for (size_t i = 0; i < s->milestone_count; i++) {
        int64_t m = s->milestones[i];
        if (m < 1)
            REJECT("invalid %s.milestones[%zu]: %" PRId64 " (must be >= 1)", name, i, m);
        /* PyTorch counts a repeated milestone twice; a strictly increasing list keeps
         * "gamma to the number of milestones passed" unambiguous. */
        if (i > 0 && m <= s->milestones[i - 1])
            REJECT("invalid %s.milestones[%zu]: %" PRId64 " (must be > milestones[%zu] = %" PRId64
                   ")",
                   name, i, m, i - 1, s->milestones[i - 1]);
    }
    return OPTCL_SUCCESS;
}

optcl_status optcl_schedule_validate(const optcl_schedule *s, char *message, size_t message_size)
{
    if (!s) {
        optcl__format(message, message_size, "optcl_schedule_validate: schedule is NULL");
        return OPTCL_ERROR_NULL_POINTER;
    }
    return optcl__schedule_validate(s, "schedule", message, message_size);
}

/* Only the fields the kind reads are checked, so a schedule made from a zeroed struct with
 * just `kind` set is not rejected for fields it never uses. */
optcl_status optcl__schedule_validate(const optcl_schedule *s, const char *name, char *message,
                                      size_t message_size)
{
    if ((int)s->kind < 0 || s->kind >= OPTCL_SCHEDULE_COUNT)
        REJECT("invalid %s.kind: %d (must be 0 .. %d)", name, (int)s->kind,
               OPTCL_SCHEDULE_COUNT - 1);
    switch (s->kind) {
    case OPTCL_SCHEDULE_INVERSE_TIME:
        REQUIRE_REAL(isfinite(s->power) && s->power >= 0.0, "power", s->power,
                     "must be >= 0 and finite");
        break;
    case OPTCL_SCHEDULE_EXPONENTIAL:
    case OPTCL_SCHEDULE_STEP:
    case OPTCL_SCHEDULE_MULTISTEP:
        /* gamma > 1 grows the lr; unusual but well defined, as in PyTorch. */
        REQUIRE_REAL(isfinite(s->gamma) && s->gamma > 0.0, "gamma", s->gamma,
                     "must be > 0 and finite");
        if (s->kind == OPTCL_SCHEDULE_STEP)
            REQUIRE_INT(s->step_size >= 1, "step_size", s->step_size, "must be >= 1");
        if (s->kind == OPTCL_SCHEDULE_MULTISTEP) {
            optcl_status st = validate_milestones(s, name, message, message_size);
            if (st != OPTCL_SUCCESS)
                return st;
        }
        break;
    case OPTCL_SCHEDULE_COSINE:
        REQUIRE_INT(s->t_max >= 1, "t_max", s->t_max, "must be >= 1");
        REQUIRE_REAL(isfinite(s->eta_min) && s->eta_min >= 0.0, "eta_min", s->eta_min,
                     "must be >= 0 and finite");
        break;
    default:
        break;
    }
    REQUIRE_INT(s->warmup_steps >= 0, "warmup_steps", s->warmup_steps, "must be >= 0");
    /* A start factor of 0 would make LinearLR's recursive form divide by zero. */
    if (s->warmup_steps > 0)
        REQUIRE_REAL(s->warmup_start_factor > 0.0 && s->warmup_start_factor <= 1.0,
                     "warmup_start_factor", s->warmup_start_factor, "must be in (0, 1]");
    return OPTCL_SUCCESS;
}

/* The schedule without warmup at step t (0-based). The operation order is PyTorch's
 * _get_closed_form_lr, so the values agree with its traces to an ulp or so. */
static double schedule_at(const optcl_schedule *s, double base_lr, uint64_t t)
{
    switch (s->kind) {
    case OPTCL_SCHEDULE_INVERSE_TIME:
        return base_lr / pow(1.0 + (double)t, s->power);
    case OPTCL_SCHEDULE_EXPONENTIAL:
        return base_lr * pow(s->gamma, (double)t);
    case OPTCL_SCHEDULE_STEP:
        return base_lr * pow(s->gamma, (double)(t / (uint64_t)s->step_size));
    case OPTCL_SCHEDULE_MULTISTEP: {
        size_t n =
            s->milestone_count < OPTCL_MAX_MILESTONES ? s->milestone_count : OPTCL_MAX_MILESTONES;
        uint64_t passed = 0;
        for (size_t i = 0; i < n; i++)
            if (s->milestones[i] >= 0 && (uint64_t)s->milestones[i] <= t)
                passed++;
        return base_lr * pow(s->gamma, (double)passed);
    }
    case OPTCL_SCHEDULE_COSINE:
        /* Periodic beyond t_max (it rises again), as PyTorch's CosineAnnealingLR does. */
        return s->eta_min +
               (base_lr - s->eta_min) * (1.0 + cos(OPTCL__PI * (double)t / (double)s->t_max)) / 2.0;
    default:
        return base_lr;
    }
}

double optcl_schedule_lr(const optcl_schedule *s, double base_lr, uint64_t t)
{
    if (!s)
        return base_lr;
    if (s->warmup_steps > 0) {
        uint64_t w = (uint64_t)s->warmup_steps;
        if (t < w) {
            double f = s->warmup_start_factor;
            return base_lr * (f + (1.0 - f) * (double)t / (double)w);
        }
        t -= w; /* SequentialLR restarts the schedule at its milestone */
    }
    return schedule_at(s, base_lr, t);
}
