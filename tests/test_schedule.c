/* test_schedule.c — learning-rate schedules and ReduceLROnPlateau: hand-checked values, every
 * trace of tests/golden/schedules.txt (real PyTorch schedulers), validation messages, and the
 * Σ lr claims docs/SCHEDULES.md makes. */
#include "testutil.h"

/* The plateau's bookkeeping is internal (the optimizer drives it); the test reaches it through
 * its header, found relative to this file, so the suite needs no extra include path. */
#include "../host/plateau.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Closed forms in double against PyTorch's doubles: PyTorch steps most schedulers recursively
 * (lr·gamma per step, ratios of cosines), so the two differ by accumulated rounding only,
 * ~1e-15 relative over 60 steps. 1e-12 leaves room and still catches any off-by-one step. */
#define SCHEDULE_TOL 1e-12
#define PLATEAU_RTOL 1e-12
#define GOLDEN_STEPS 60

static int close_to(double a, double e, double tol)
{
    return fabs(a - e) <= tol * fmax(1.0, fabs(e));
}

static void assert_close(double a, double e, double tol)
{
    if (!close_to(a, e, tol))
        fail_msg("got %.17g, expected %.17g (diff %.3g)", a, e, fabs(a - e));
}

/* ---------------------------------------------------------------------------------------- */
/* defaults, names, hand-checked values                                                     */
/* ---------------------------------------------------------------------------------------- */

static void defaults_and_names(void **state)
{
    (void)state;
    optcl_schedule s = optcl_schedule_default(OPTCL_SCHEDULE_COSINE);
    assert_int_equal(s.kind, OPTCL_SCHEDULE_COSINE);
    assert_true(s.power == 1.0 && s.gamma == 0.1 && s.step_size == 1);
    assert_true(s.milestone_count == 0 && s.t_max == 1 && s.eta_min == 0.0);
    assert_true(s.warmup_steps == 0 && s.warmup_start_factor == 1.0 / 3.0);
    for (int k = 0; k < OPTCL_SCHEDULE_COUNT; k++) {
        optcl_schedule d = optcl_schedule_default((optcl_schedule_kind)k);
        TU_OK(optcl_schedule_validate(&d, NULL, 0), "default schedule");
    }
    assert_string_equal(optcl_schedule_name(OPTCL_SCHEDULE_CONSTANT), "constant");
    assert_string_equal(optcl_schedule_name(OPTCL_SCHEDULE_INVERSE_TIME), "inverse_time");
    assert_string_equal(optcl_schedule_name(OPTCL_SCHEDULE_EXPONENTIAL), "exponential");
    assert_string_equal(optcl_schedule_name(OPTCL_SCHEDULE_STEP), "step");
    assert_string_equal(optcl_schedule_name(OPTCL_SCHEDULE_MULTISTEP), "multistep");
    assert_string_equal(optcl_schedule_name(OPTCL_SCHEDULE_COSINE), "cosine");
    assert_null(optcl_schedule_name(OPTCL_SCHEDULE_COUNT));
    assert_null(optcl_schedule_name((optcl_schedule_kind)-1));

    optcl_plateau_config p = optcl_plateau_config_default();
    assert_true(p.enabled == 0 && p.mode_max == 0 && p.factor == 0.1 && p.patience == 10);
    assert_true(p.threshold == 1e-4 && p.threshold_abs == 0 && p.cooldown == 0);
    assert_true(p.min_lr == 0.0 && p.eps == 1e-8);
    char msg[OPTCL__MESSAGE_MAX];
    TU_OK(optcl__plateau_validate(&p, msg), msg);
}

static double lr_at(const optcl_schedule *s, uint64_t t)
{
    return optcl_schedule_lr(s, 0.1, t);
}

static void hand_values(void **state)
{
    (void)state;
    const double tol = 1e-15;
    optcl_schedule s = optcl_schedule_default(OPTCL_SCHEDULE_CONSTANT);
    assert_true(lr_at(&s, 0) == 0.1 && lr_at(&s, 1000000) == 0.1);

    s = optcl_schedule_default(OPTCL_SCHEDULE_INVERSE_TIME); /* a0/t with t counted from 1 */
    assert_close(lr_at(&s, 0), 0.1, tol);
    assert_close(lr_at(&s, 1), 0.05, tol);
    assert_close(lr_at(&s, 2), 0.1 / 3.0, tol);
    assert_close(lr_at(&s, 99), 0.001, tol);
    s.power = 2.0; /* a0/t² */
    assert_close(lr_at(&s, 1), 0.025, tol);
    assert_close(lr_at(&s, 2), 0.1 / 9.0, tol);
    s.power = 0.0;
    assert_close(lr_at(&s, 7), 0.1, tol);

    s = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL);
    s.gamma = 0.5; /* a0/2^t */
    for (uint64_t t = 0; t < 20; t++)
        assert_close(lr_at(&s, t), 0.1 / (double)(1u << t), tol);

    s = optcl_schedule_default(OPTCL_SCHEDULE_STEP);
    s.step_size = 3;
    s.gamma = 0.5;
    const double step_expect[] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025};
    for (uint64_t t = 0; t < 8; t++)
        assert_close(lr_at(&s, t), step_expect[t], tol);

    s = optcl_schedule_default(OPTCL_SCHEDULE_MULTISTEP);
    s.gamma = 0.5;
    s.milestones[0] = 2;
    s.milestones[1] = 5;
    s.milestone_count = 2;
    const double ms_expect[] = {0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025};
    for (uint64_t t = 0; t < 8; t++)
        assert_close(lr_at(&s, t), ms_expect[t], tol);
    assert_close(lr_at(&s, 1000), 0.025, tol);

    s = optcl_schedule_default(OPTCL_SCHEDULE_COSINE);
    s.t_max = 10;
    s.eta_min = 0.02;
    assert_close(lr_at(&s, 0), 0.1, tol);
    assert_close(lr_at(&s, 5), 0.06, tol); /* halfway: the mean of lr and eta_min */
    assert_close(lr_at(&s, 10), 0.02, tol);
    assert_close(lr_at(&s, 15), 0.06, tol); /* the closed form is periodic: it rises again */
    assert_close(lr_at(&s, 20), 0.1, tol);

    /* Warmup 0.25 → 1 over 4 steps, then the schedule from its own step 0. */
    s = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL);
    s.gamma = 0.5;
    s.warmup_steps = 4;
    s.warmup_start_factor = 0.25;
    const double warm_expect[] = {0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.05, 0.025};
    for (uint64_t t = 0; t < 7; t++)
        assert_close(lr_at(&s, t), warm_expect[t], tol);
    s.warmup_start_factor = 1.0; /* a factor of 1 is no warmup at all */
    assert_close(lr_at(&s, 2), 0.1, tol);
    assert_close(lr_at(&s, 5), 0.05, tol);
}

/* ---------------------------------------------------------------------------------------- */
/* golden traces                                                                             */
/* ---------------------------------------------------------------------------------------- */

#define MAX_SECTIONS 8
#define MAX_VALUES 256

typedef struct trace_line {
    char *section[MAX_SECTIONS]; /* split at " : " */
    int sections;
} trace_line;

static void split_sections(char *line, trace_line *out)
{
    out->sections = 0;
    char *p = line;
    for (;;) {
        assert_true(out->sections < MAX_SECTIONS);
        out->section[out->sections++] = p;
        char *sep = strstr(p, " : ");
        if (!sep)
            break;
        *sep = '\0';
        p = sep + 3;
    }
}

static double parse_double(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || (*end != '\0' && *end != ',' && *end != ' '))
        fail_msg("not a number: '%s'", text);
    return v;
}

/* Whitespace-separated numbers; a leading word (e.g. "metrics") is skipped when named. */
static int parse_values(char *text, const char *word, double *out)
{
    int n = 0;
    char *save = NULL;
    char *tok = strtok_r(text, " ", &save);
    if (word) {
        assert_non_null(tok);
        assert_string_equal(tok, word);
        tok = strtok_r(NULL, " ", &save);
    }
    for (; tok; tok = strtok_r(NULL, " ", &save)) {
        assert_true(n < MAX_VALUES);
        out[n++] = parse_double(tok);
    }
    return n;
}

/* A comma-separated list of numbers. */
static int parse_list(const char *text, double *out, int max)
{
    int n = 0;
    const char *p = text;
    for (;;) {
        assert_true(n < max);
        out[n++] = parse_double(p);
        p = strchr(p, ',');
        if (!p)
            return n;
        p++;
    }
}

typedef struct golden_stats {
    int schedule_traces, plateau_traces, values;
    int kinds_seen[OPTCL_SCHEDULE_COUNT];
    int warmup_seen;
    double worst_schedule; /* the largest |a−e| / max(1, |e|) */
    double worst_plateau;  /* the largest |a−e| / |e| */
} golden_stats;

static optcl_schedule_kind kind_from_name(const char *name)
{
    for (int k = 0; k < OPTCL_SCHEDULE_COUNT; k++)
        if (strcmp(name, optcl_schedule_name((optcl_schedule_kind)k)) == 0)
            return (optcl_schedule_kind)k;
    fail_msg("unknown schedule kind '%s'", name);
    return OPTCL_SCHEDULE_CONSTANT;
}

/* Sets a schedule field from key=value; returns 0 for a key that is not one. */
static int set_schedule_field(optcl_schedule *s, const char *key, const char *value)
{
    if (strcmp(key, "power") == 0) {
        s->power = parse_double(value);
    } else if (strcmp(key, "gamma") == 0) {
        s->gamma = parse_double(value);
    } else if (strcmp(key, "step_size") == 0) {
        s->step_size = (int64_t)parse_double(value);
    } else if (strcmp(key, "milestones") == 0) {
        double m[OPTCL_MAX_MILESTONES];
        int n = parse_list(value, m, OPTCL_MAX_MILESTONES);
        for (int i = 0; i < n; i++)
            s->milestones[i] = (int64_t)m[i];
        s->milestone_count = (size_t)n;
    } else if (strcmp(key, "t_max") == 0) {
        s->t_max = (int64_t)parse_double(value);
    } else if (strcmp(key, "eta_min") == 0) {
        s->eta_min = parse_double(value);
    } else if (strcmp(key, "warmup_steps") == 0) {
        s->warmup_steps = (int64_t)parse_double(value);
    } else if (strcmp(key, "warmup_start_factor") == 0) {
        s->warmup_start_factor = parse_double(value);
    } else {
        return 0;
    }
    return 1;
}

static void check_schedule_line(trace_line *tl, golden_stats *st)
{
    assert_int_equal(tl->sections, 2);
    char *save = NULL;
    char *name = strtok_r(tl->section[0], " ", &save);
    char *kind = strtok_r(NULL, " ", &save);
    assert_non_null(name);
    assert_non_null(kind);
    optcl_schedule s = optcl_schedule_default(kind_from_name(kind));
    double base = -1.0;
    for (char *kv = strtok_r(NULL, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');
        assert_non_null(eq);
        *eq = '\0';
        if (strcmp(kv, "lr") == 0)
            base = parse_double(eq + 1);
        else if (!set_schedule_field(&s, kv, eq + 1))
            fail_msg("%s: unknown key '%s'", name, kv);
    }
    assert_true(base > 0.0);
    char msg[256];
    TU_OK(optcl_schedule_validate(&s, msg, sizeof msg), msg);

    double expect[MAX_VALUES];
    int n = parse_values(tl->section[1], NULL, expect);
    assert_int_equal(n, GOLDEN_STEPS);
    for (int t = 0; t < n; t++) {
        double a = optcl_schedule_lr(&s, base, (uint64_t)t);
        double rel = fabs(a - expect[t]) / fmax(1.0, fabs(expect[t]));
        st->worst_schedule = fmax(st->worst_schedule, rel);
        if (rel > SCHEDULE_TOL)
            fail_msg("%s: step %d: optcl %.17g, PyTorch %.17g", name, t, a, expect[t]);
    }
    st->schedule_traces++;
    st->values += n;
    st->kinds_seen[s.kind]++;
    st->warmup_seen += s.warmup_steps > 0;
}

static void check_plateau_line(trace_line *tl, golden_stats *st)
{
    assert_true(tl->sections >= 3);
    char *save = NULL;
    char *name = strtok_r(tl->section[0], " ", &save);
    strtok_r(NULL, " ", &save); /* "plateau" */
    optcl_plateau_config c = optcl_plateau_config_default();
    c.enabled = 1;
    optcl_schedule s = optcl_schedule_default(OPTCL_SCHEDULE_CONSTANT);
    double base[OPTCL_MAX_GROUPS];
    int groups = 0;
    for (char *kv = strtok_r(NULL, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');
        assert_non_null(eq);
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(kv, "lr") == 0)
            groups = parse_list(v, base, OPTCL_MAX_GROUPS);
        else if (strcmp(kv, "schedule") == 0)
            s.kind = kind_from_name(v);
        else if (strcmp(kv, "mode") == 0)
            c.mode_max = strcmp(v, "max") == 0;
        else if (strcmp(kv, "threshold_mode") == 0)
            c.threshold_abs = strcmp(v, "abs") == 0;
        else if (strcmp(kv, "factor") == 0)
            c.factor = parse_double(v);
        else if (strcmp(kv, "patience") == 0)
            c.patience = (int64_t)parse_double(v);
        else if (strcmp(kv, "threshold") == 0)
            c.threshold = parse_double(v);
        else if (strcmp(kv, "cooldown") == 0)
            c.cooldown = (int64_t)parse_double(v);
        else if (strcmp(kv, "min_lr") == 0)
            c.min_lr = parse_double(v);
        else if (strcmp(kv, "eps") == 0)
            c.eps = parse_double(v);
        else if (!set_schedule_field(&s, kv, v))
            fail_msg("%s: unknown key '%s'", name, kv);
    }
    assert_int_equal(tl->sections, 2 + groups);
    char msg[OPTCL__MESSAGE_MAX];
    TU_OK(optcl__plateau_validate(&c, msg), msg);
    TU_OK(optcl_schedule_validate(&s, msg, sizeof msg), msg);

    static double metrics[MAX_VALUES], expect[OPTCL_MAX_GROUPS][MAX_VALUES];
    int n = parse_values(tl->section[1], "metrics", metrics);
    for (int g = 0; g < groups; g++)
        assert_int_equal(parse_values(tl->section[2 + g], NULL, expect[g]), n);

    optcl_plateau_state ps;
    optcl__plateau_init(&ps, &c);
    for (int t = 0; t < n; t++) {
        double next[OPTCL_MAX_GROUPS];
        for (int g = 0; g < groups; g++) {
            double a = optcl__plateau_lr(&ps, &c, g, optcl_schedule_lr(&s, base[g], (uint64_t)t));
            double e = expect[g][t];
            double rel = e == 0.0 ? fabs(a) : fabs(a - e) / fabs(e);
            st->worst_plateau = fmax(st->worst_plateau, rel);
            if (!(rel <= PLATEAU_RTOL))
                fail_msg("%s: group %d step %d: optcl %.17g, PyTorch %.17g", name, g, t, a, e);
            /* What the group would use next step: the schedule moves on, reductions stay. */
            double scheduled = optcl_schedule_lr(&s, base[g], (uint64_t)t + 1);
            next[g] = optcl__plateau_lr(&ps, &c, g, scheduled);
        }
        optcl__plateau_report(&ps, &c, metrics[t], next, (size_t)groups);
        st->values += groups;
    }
    assert_int_equal(ps.reports, n);
    st->plateau_traces++;
}

static void golden_traces(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/schedules.txt", tu_golden_dir());
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s (run tests/golden/make_schedules.py)", path);
    golden_stats st;
    memset(&st, 0, sizeof st);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        trace_line tl;
        split_sections(line, &tl);
        if (strstr(tl.section[0], " plateau "))
            check_plateau_line(&tl, &st);
        else
            check_schedule_line(&tl, &st);
    }
    free(line);
    fclose(f);
    /* The file must exercise every kind, warmup and a real set of plateau cases. */
    for (int k = 0; k < OPTCL_SCHEDULE_COUNT; k++)
        if (st.kinds_seen[k] == 0)
            fail_msg("schedules.txt has no %s trace", optcl_schedule_name((optcl_schedule_kind)k));
    assert_true(st.warmup_seen >= 3);
    assert_true(st.plateau_traces >= 10);
    printf("schedules.txt: %d schedule traces (worst %.3g), %d plateau traces (worst %.3g), "
           "%d values\n",
           st.schedule_traces, st.worst_schedule, st.plateau_traces, st.worst_plateau, st.values);
}

/* ---------------------------------------------------------------------------------------- */
/* ReduceLROnPlateau by hand                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* The worked example of docs/SCHEDULES.md: patience 2, factor 0.5, cooldown 1, lr 0.1. */
static void plateau_worked_example(void **state)
{
    (void)state;
    optcl_plateau_config c = optcl_plateau_config_default();
    c.enabled = 1;
    c.patience = 2;
    c.factor = 0.5;
    c.cooldown = 1;
    optcl_plateau_state s;
    optcl__plateau_init(&s, &c);
    assert_true(isinf(s.best) && s.best > 0);
    const double metric[] = {1.0, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7};
    /* lr of the step after each report, bad-step count and cooldown after it */
    const double lr_after[] = {0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05};
    const int bad_after[] = {0, 0, 1, 2, 0, 0, 1, 2, 0};
    const int cool_after[] = {0, 0, 0, 0, 1, 0, 0, 0, 0};
    const int reduced[] = {0, 0, 0, 0, 1, 0, 0, 0, 0};
    for (int i = 0; i < 9; i++) {
        double cur = optcl__plateau_lr(&s, &c, 0, 0.1);
        bool r = optcl__plateau_report(&s, &c, metric[i], &cur, 1);
        assert_int_equal(r, reduced[i]);
        assert_int_equal(s.num_bad_epochs, bad_after[i]);
        assert_int_equal(s.cooldown_counter, cool_after[i]);
        assert_close(optcl__plateau_lr(&s, &c, 0, 0.1), lr_after[i], 1e-15);
    }
    /* Step 8 (0.8 again) would have been the 3rd bad step: 0.7 improved on 0.8 just in time. */
    assert_true(s.best == 0.7 && s.reports == 9);
}

static void plateau_scale_and_groups(void **state)
{
    (void)state;
    optcl_plateau_config c = optcl_plateau_config_default();
    c.enabled = 1;
    c.patience = 0;
    c.factor = 0.5;
    c.min_lr = 0.01;
    optcl_plateau_state s;
    optcl__plateau_init(&s, &c);
    /* Group 0 is below min_lr before any reduction: never reduced, never clamped (PyTorch
     * clamps only when it reduces). */
    double cur[2] = {0.005, 0.1};
    optcl__plateau_report(&s, &c, 1.0, cur, 2); /* first report: an improvement on +inf */
    assert_true(optcl__plateau_report(&s, &c, 1.0, cur, 2));
    assert_true(s.scale[0] == 1.0 && s.scale[1] == 0.5);
    assert_close(optcl__plateau_lr(&s, &c, 0, 0.005), 0.005, 0);
    /* A reduced group follows its schedule scaled, floored at min_lr. */
    assert_close(optcl__plateau_lr(&s, &c, 1, 0.08), 0.04, 1e-15);
    assert_close(optcl__plateau_lr(&s, &c, 1, 0.015), 0.01, 0);
    /* Groups never reduced or out of range give the schedule back. */
    assert_close(optcl__plateau_lr(&s, &c, 7, 0.3), 0.3, 0);
    assert_close(optcl__plateau_lr(&s, &c, -1, 0.3), 0.3, 0);

    /* mode max starts from −inf; NaN never improves. */
    c.mode_max = 1;
    optcl__plateau_init(&s, &c);
    assert_true(isinf(s.best) && s.best < 0);
    optcl__plateau_report(&s, &c, NAN, cur, 2);
    assert_int_equal(s.num_bad_epochs, 0); /* the overrun reduced and reset the count */
    assert_true(isinf(s.best));
    assert_true(s.scale[1] == 0.5);
}

/* ---------------------------------------------------------------------------------------- */
/* validation                                                                                */
/* ---------------------------------------------------------------------------------------- */

static void schedule_validation(void **state)
{
    (void)state;
    typedef struct {
        optcl_schedule s;
        const char *text; /* the message must contain it */
    } bad;
    bad cases[32];
    int n = 0;
#define BAD(kind, text_, ...)                                                                  \
    do {                                                                                       \
        optcl_schedule s = optcl_schedule_default(kind);                                       \
        __VA_ARGS__;                                                                           \
        cases[n].s = s;                                                                        \
        cases[n++].text = text_;                                                               \
    } while (0)
    BAD(OPTCL_SCHEDULE_CONSTANT, "schedule.kind: 6", s.kind = OPTCL_SCHEDULE_COUNT);
    BAD(OPTCL_SCHEDULE_CONSTANT, "schedule.kind: -1", s.kind = (optcl_schedule_kind)-1);
    BAD(OPTCL_SCHEDULE_INVERSE_TIME, "schedule.power: -1", s.power = -1.0);
    BAD(OPTCL_SCHEDULE_INVERSE_TIME, "schedule.power: inf", s.power = INFINITY);
    BAD(OPTCL_SCHEDULE_INVERSE_TIME, "schedule.power: nan", s.power = NAN);
    BAD(OPTCL_SCHEDULE_EXPONENTIAL, "invalid schedule.gamma: -1 (must be > 0", s.gamma = -1.0);
    BAD(OPTCL_SCHEDULE_EXPONENTIAL, "schedule.gamma: 0", s.gamma = 0.0);
    BAD(OPTCL_SCHEDULE_STEP, "schedule.gamma: inf", s.gamma = INFINITY);
    BAD(OPTCL_SCHEDULE_MULTISTEP, "schedule.gamma: nan", s.gamma = NAN);
    BAD(OPTCL_SCHEDULE_STEP, "schedule.step_size: 0", s.step_size = 0);
    BAD(OPTCL_SCHEDULE_MULTISTEP, "schedule.milestone_count: 17",
        s.milestone_count = OPTCL_MAX_MILESTONES + 1);
    BAD(OPTCL_SCHEDULE_MULTISTEP, "schedule.milestones[0]: 0", s.milestone_count = 1);
    BAD(OPTCL_SCHEDULE_MULTISTEP, "schedule.milestones[1]: 5", s.milestones[0] = 5,
        s.milestones[1] = 5, s.milestone_count = 2);
    BAD(OPTCL_SCHEDULE_MULTISTEP, "schedule.milestones[2]: 3", s.milestones[0] = 2,
        s.milestones[1] = 4, s.milestones[2] = 3, s.milestone_count = 3);
    BAD(OPTCL_SCHEDULE_COSINE, "schedule.t_max: 0", s.t_max = 0);
    BAD(OPTCL_SCHEDULE_COSINE, "schedule.t_max: -3", s.t_max = -3);
    BAD(OPTCL_SCHEDULE_COSINE, "schedule.eta_min: -0.1", s.eta_min = -0.1);
    BAD(OPTCL_SCHEDULE_COSINE, "schedule.eta_min: inf", s.eta_min = INFINITY);
    BAD(OPTCL_SCHEDULE_CONSTANT, "schedule.warmup_steps: -1", s.warmup_steps = -1);
    BAD(OPTCL_SCHEDULE_STEP, "schedule.warmup_start_factor: 0", s.warmup_steps = 5,
        s.warmup_start_factor = 0.0);
    BAD(OPTCL_SCHEDULE_STEP, "schedule.warmup_start_factor: 1.5", s.warmup_steps = 5,
        s.warmup_start_factor = 1.5);
    BAD(OPTCL_SCHEDULE_COSINE, "schedule.warmup_start_factor: nan", s.warmup_steps = 1,
        s.warmup_start_factor = NAN);
#undef BAD
    for (int i = 0; i < n; i++) {
        char msg[OPTCL__MESSAGE_MAX] = "";
        optcl_status st = optcl_schedule_validate(&cases[i].s, msg, sizeof msg);
        if (st != OPTCL_ERROR_INVALID_ARGUMENT || !strstr(msg, cases[i].text))
            fail_msg("case %d: status %s, message '%s', wanted '%s'", i, optcl_status_name(st),
                     msg, cases[i].text);
        /* no message buffer, and a short one: truncated, NUL-terminated, nothing overwritten */
        assert_int_equal(optcl_schedule_validate(&cases[i].s, NULL, 0), st);
        char small[12];
        memset(small, 'x', sizeof small);
        assert_int_equal(optcl_schedule_validate(&cases[i].s, small, 8), st);
        assert_int_equal(strlen(small), 7);
        assert_true(small[8] == 'x' && small[11] == 'x');
    }
    assert_int_equal(optcl_schedule_validate(NULL, NULL, 0), OPTCL_ERROR_NULL_POINTER);

    /* Fields a kind never reads are not checked; edge values are accepted. */
    optcl_schedule ok;
    memset(&ok, 0, sizeof ok);
    ok.kind = OPTCL_SCHEDULE_CONSTANT;
    TU_OK(optcl_schedule_validate(&ok, NULL, 0), "zeroed constant schedule");
    ok = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL);
    ok.gamma = 1.5; /* grows; allowed as in PyTorch */
    ok.warmup_steps = 3;
    ok.warmup_start_factor = 1.0;
    TU_OK(optcl_schedule_validate(&ok, NULL, 0), "gamma 1.5");
    ok = optcl_schedule_default(OPTCL_SCHEDULE_MULTISTEP);
    ok.milestone_count = OPTCL_MAX_MILESTONES;
    for (int i = 0; i < OPTCL_MAX_MILESTONES; i++)
        ok.milestones[i] = 1 + 3 * i;
    TU_OK(optcl_schedule_validate(&ok, NULL, 0), "16 milestones");
    assert_true(fabs(optcl_schedule_lr(&ok, 1.0, 1000) - 1e-16) <= 1e-28);
}

static void plateau_validation(void **state)
{
    (void)state;
    typedef struct {
        optcl_plateau_config c;
        const char *text;
    } bad;
    bad cases[24];
    int n = 0;
#define BAD(text_, ...)                                                                        \
    do {                                                                                       \
        optcl_plateau_config c = optcl_plateau_config_default();                               \
        __VA_ARGS__;                                                                           \
        cases[n].c = c;                                                                        \
        cases[n++].text = text_;                                                               \
    } while (0)
    BAD("plateau.enabled: 2", c.enabled = 2);
    BAD("plateau.mode_max: -1", c.mode_max = -1);
    BAD("plateau.threshold_abs: 3", c.threshold_abs = 3);
    BAD("plateau.factor: 1", c.factor = 1.0);
    BAD("plateau.factor: -0.5", c.factor = -0.5);
    BAD("plateau.factor: nan", c.factor = NAN);
    BAD("plateau.patience: -1", c.patience = -1);
    BAD("plateau.threshold: -0.001", c.threshold = -1e-3);
    BAD("plateau.threshold: inf", c.threshold = INFINITY);
    BAD("plateau.cooldown: -2", c.cooldown = -2);
    BAD("plateau.min_lr: -1e-05", c.min_lr = -1e-5);
    BAD("plateau.min_lr: nan", c.min_lr = NAN);
    BAD("plateau.eps: -1e-08", c.eps = -1e-8);
    BAD("plateau.eps: inf", c.eps = INFINITY);
#undef BAD
    for (int i = 0; i < n; i++) {
        char msg[OPTCL__MESSAGE_MAX] = "";
        optcl_status st = optcl__plateau_validate(&cases[i].c, msg);
        if (st != OPTCL_ERROR_INVALID_ARGUMENT || !strstr(msg, cases[i].text))
            fail_msg("case %d: status %s, message '%s', wanted '%s'", i, optcl_status_name(st),
                     msg, cases[i].text);
        assert_int_equal(optcl__plateau_validate(&cases[i].c, NULL), st);
    }
    optcl_plateau_config ok = optcl_plateau_config_default();
    ok.enabled = 1;
    ok.mode_max = 1;
    ok.threshold_abs = 1;
    ok.factor = 0.0;
    ok.patience = 0;
    ok.threshold = 0.0;
    ok.eps = 0.0;
    TU_OK(optcl__plateau_validate(&ok, NULL), "edge values");
}

/* ---------------------------------------------------------------------------------------- */
/* docs/SCHEDULES.md: which schedules have Σ lr = ∞                                          */
/* ---------------------------------------------------------------------------------------- */

static double partial_sum(const optcl_schedule *s, double lr, uint64_t n)
{
    double sum = 0.0;
    for (uint64_t t = 0; t < n; t++)
        sum += optcl_schedule_lr(s, lr, t);
    return sum;
}

static void sums_match_the_docs(void **state)
{
    (void)state;
    const double lr = 0.1;
    /* a0/t: the partial sums are a0·H_n > a0·ln(n+1): past any bound. */
    optcl_schedule s = optcl_schedule_default(OPTCL_SCHEDULE_INVERSE_TIME);
    for (uint64_t n = 10; n <= 1000000; n *= 10)
        assert_true(partial_sum(&s, lr, n) > lr * log((double)n + 1.0));
    /* a0/t²: bounded by a0·π²/6, and close to it. */
    s.power = 2.0;
    const double pi = 3.14159265358979323846;
    double sum = partial_sum(&s, lr, 1000000);
    assert_true(sum < lr * pi * pi / 6.0);
    assert_close(sum, lr * pi * pi / 6.0, 1e-6);
    /* Exponential (a0/2^t is gamma 0.5): lr/(1 − gamma). */
    s = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL);
    s.gamma = 0.5;
    assert_close(partial_sum(&s, lr, 200), 0.2, 1e-15);
    s.gamma = 0.9;
    assert_close(partial_sum(&s, lr, 2000), 1.0, 1e-14);
    /* Step: step_size · lr / (1 − gamma). */
    s = optcl_schedule_default(OPTCL_SCHEDULE_STEP);
    s.step_size = 7;
    s.gamma = 0.5;
    assert_close(partial_sum(&s, lr, 7 * 200), 7 * 0.2, 1e-14);
    /* Multistep: flat at lr·gamma^k after its last milestone (the list is finite), so unlike
     * step its sum grows without bound: every further step adds the same amount. */
    s = optcl_schedule_default(OPTCL_SCHEDULE_MULTISTEP);
    s.gamma = 0.1;
    s.milestones[0] = 10;
    s.milestone_count = 1;
    assert_close(partial_sum(&s, lr, 10 + 1000) - partial_sum(&s, lr, 10), 1000 * 0.01, 1e-12);
    /* Cosine: one annealing run of t_max steps sums to (lr + eta_min)·t_max/2 + (lr −
     * eta_min)/2 exactly; a full period of 2·t_max steps to (lr + eta_min)·t_max. */
    s = optcl_schedule_default(OPTCL_SCHEDULE_COSINE);
    s.t_max = 25;
    s.eta_min = 0.001;
    assert_close(partial_sum(&s, lr, 25), (lr + 0.001) * 25 / 2 + (lr - 0.001) / 2, 1e-14);
    assert_close(partial_sum(&s, lr, 50), (lr + 0.001) * 25, 1e-14);
    assert_close(partial_sum(&s, lr, 5000), 100 * (lr + 0.001) * 25, 1e-12);
    /* Warmup adds a finite amount and shifts the rest: a0/t² stays finite. */
    s = optcl_schedule_default(OPTCL_SCHEDULE_INVERSE_TIME);
    s.power = 2.0;
    s.warmup_steps = 10;
    s.warmup_start_factor = 0.5;
    sum = partial_sum(&s, lr, 1000010);
    assert_true(sum < lr * 10 + lr * pi * pi / 6.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_and_names),
        cmocka_unit_test(hand_values),
        cmocka_unit_test(golden_traces),
        cmocka_unit_test(plateau_worked_example),
        cmocka_unit_test(plateau_scale_and_groups),
        cmocka_unit_test(schedule_validation),
        cmocka_unit_test(plateau_validation),
        cmocka_unit_test(sums_match_the_docs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
