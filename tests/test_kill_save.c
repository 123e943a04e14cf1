/* test_kill_save.c — SIGKILL during checkpoint saves, 200 times (issue 6, item 4). A child
 * process resumes training from the checkpoint (if there is one yet) and saves after every
 * step, forever; the parent kills it at a random moment, then checks the folder:
 *  - the checkpoint, once written, always exists and always loads;
 *  - it holds exactly the state of an uninterrupted run after as many steps as it says
 *    (parameters, every state, lr), and that count never goes back;
 *  - nothing but the checkpoint and at most one temporary (".ck.safetensors.tmp.XXXXXX") is in
 *    the folder: a killed save leaves its temporary behind, and the next save removes it (the
 *    writer's flock died with it). The test leaves them to optcl and counts them.
 * OPTCL_TEST_SEED=<n> repeats a run's kill moments. */
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 200
#define NTENSORS 3
#define NUMEL (35 + 5 + 1)
#define ROLES 5 /* parameters, exp_avg, exp_avg_sq, max_exp_avg_sq, lookahead_slow */

static const optcl_tensor_spec specs[] = {
    {.name = "fc.weight", .ndim = 2, .shape = {5, 7}, .group = 0},
    {.name = "fc.bias", .ndim = 1, .shape = {5}, .group = 1},
    {.name = "scale", .ndim = 0, .group = 1},
};

static optcl_optimizer_config config(void)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    static const optcl_group_config groups[2] = {{-1.0, -1.0, 0}, {0.02, 0.0, 0}};
    c.groups = groups;
    c.group_count = 2;
    c.adam.amsgrad = 1;
    c.weight_decay = 0.01;
    c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL);
    c.schedule.gamma = 0.999;
    c.plateau.enabled = 1;
    c.plateau.patience = 2;
    c.plateau.factor = 0.7;
    c.lookahead.k = 3;
    c.lookahead.alpha = 0.6;
    return c;
}

typedef struct session {
    optcl_context *ctx;
    optcl_params *params;
    optcl_optimizer *opt;
} session;

/* Plain calls only, usable in the child: 0 on success. */
static int open_session(session *s)
{
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = OPTCL_BACKEND_REFERENCE;
    optcl_optimizer_config c = config();
    float p0[NUMEL];
    uint64_t seed = 99;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    *s = (session){0};
    return optcl_context_create(&cc, &s->ctx, NULL, 0) ||
           optcl_params_create(s->ctx, specs, NTENSORS, &s->params) ||
           optcl_params_write(s->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, NUMEL) ||
           optcl_optimizer_create(s->params, &c, &s->opt);
}

static void close_session(session *s)
{
    optcl_optimizer_destroy(s->opt);
    optcl_params_destroy(s->params);
    optcl_context_destroy(s->ctx);
}

/* The step after step_count steps: its gradient and the metric reported after it depend on
 * the step number only, so a resumed run takes the same steps as an uninterrupted one. */
static int next_step(session *s)
{
    uint64_t t = optcl_optimizer_step_count(s->opt);
    float g[NUMEL];
    uint64_t seed = 1000 + t;
    tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
    return optcl_params_write(s->params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL) ||
           optcl_optimizer_step(s->opt, 0, NULL, NULL) ||
           optcl_optimizer_report_metric(s->opt, 1.0 + 1.0 / (1.0 + (double)(t % 5)));
}

/* The child: resume (a checkpoint that does not load is exit 4), then step and save forever. */
static void child(const char *path)
{
    session s;
    if (open_session(&s))
        _exit(3);
    if (access(path, F_OK) == 0 && optcl_checkpoint_load(s.opt, path) != OPTCL_SUCCESS)
        _exit(4);
    for (;;)
        if (next_step(&s) || optcl_checkpoint_save(s.opt, path))
            _exit(5);
}

static void snapshot(session *s, float *out, double *lr)
{
    TU_OK(optcl_params_read(s->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, out, NUMEL), "read");
    size_t states = optcl_optimizer_state_count(s->opt);
    assert_int_equal(states, ROLES - 1);
    for (size_t k = 0; k < states; k++)
        TU_OK(optcl_optimizer_read_state(s->opt, optcl_optimizer_state_name(s->opt, k), OPTCL_ALL,
                                         out + (k + 1) * NUMEL, NUMEL),
              optcl_optimizer_message(s->opt));
    for (int g = 0; g < 2; g++)
        TU_OK(optcl_optimizer_get_lr(s->opt, g, &lr[g]), "lr");
}

/* Checks the folder's entries and counts temporaries: at most the killed save's. */
static int temporaries_left(const char *dir)
{
    static const char prefix[] = ".ck.safetensors.tmp.";
    DIR *d = opendir(dir);
    assert_non_null(d);
    int temporaries = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            !strcmp(e->d_name, "ck.safetensors"))
            continue;
        if (strncmp(e->d_name, prefix, sizeof prefix - 1) != 0 ||
            strlen(e->d_name) != sizeof prefix - 1 + 6)
            fail_msg("a stray file in the checkpoint folder: %s", e->d_name);
        temporaries++;
    }
    closedir(d);
    if (temporaries > 1) /* the earlier kills' temporaries were not removed */
        fail_msg("%d temporaries after one killed save", temporaries);
    return temporaries;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* How long the child takes to start (a session and a load) and then per step and save, in
 * seconds, measured here: the kill moments follow, so they land inside saves on any machine
 * and build (sanitizers, valgrind, a slow disk). */
static void measure(const char *dir, double *startup, double *cycle)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    session s;
    assert_int_equal(open_session(&s), 0);
    assert_int_equal(next_step(&s), 0);
    TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
    close_session(&s);
    double t0 = now();
    assert_int_equal(open_session(&s), 0);
    TU_OK(optcl_checkpoint_load(s.opt, path), optcl_optimizer_message(s.opt));
    double t1 = now();
    for (int i = 0; i < 5; i++) {
        assert_int_equal(next_step(&s), 0);
        TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
    }
    *startup = t1 - t0;
    *cycle = (now() - t1) / 5;
    close_session(&s);
    assert_int_equal(unlink(path), 0);
}

/* The kill window's factor after a round: doubled (up to 64) after ten rounds in a row in which
 * no save finished, since the cycle measured before can be far quicker than a busy machine's
 * (an fsync, a child's start). */
static double widened(int *stuck, double widen, bool progress)
{
    *stuck = progress ? 0 : *stuck + 1;
    if (*stuck < 10 || widen >= 64.0)
        return widen;
    *stuck = 0;
    return 2.0 * widen;
}

static void kill_during_save_200(void **state)
{
    (void)state;
    const char *env = getenv("OPTCL_TEST_SEED");
    unsigned seed =
        env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    printf("kill moments: OPTCL_TEST_SEED=%u\n", seed);
    char *dir = tu_make_tempdir();
    assert_non_null(dir);
    char path[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);

    double startup, cycle;
    measure(dir, &startup, &cycle);
    printf("child start %.0f us, step and save %.0f us\n", 1e6 * startup, 1e6 * cycle);

    session expected; /* the uninterrupted run, advanced as the checkpoints go */
    assert_int_equal(open_session(&expected), 0);
    int kills = 0, loads = 0, temporaries = 0, advanced = 0, stuck = 0;
    uint64_t last = 0;
    double widen = 1.0;
    for (int round = 0; round < ROUNDS; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            child(path);
        /* From the start to about four saves in, uniformly: most kills land inside a save. */
        double delay = startup + 4.0 * cycle * widen * (double)rand_r(&seed) / RAND_MAX;
        struct timespec pause = {(time_t)delay, (long)(1e9 * (delay - (double)(time_t)delay))};
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status))
            fail_msg("round %d: the child exited with %d (4: the checkpoint did not load)", round,
                     WEXITSTATUS(status));
        kills += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        temporaries += temporaries_left(dir);
        if (access(path, F_OK) != 0) {
            if (last > 0)
                fail_msg("round %d: the checkpoint disappeared", round);
            widen = widened(&stuck, widen, false);
            continue; /* killed before the first save finished: nothing to lose yet */
        }
        session r;
        assert_int_equal(open_session(&r), 0);
        TU_OK(optcl_checkpoint_load(r.opt, path), optcl_optimizer_message(r.opt));
        loads++;
        uint64_t steps = optcl_optimizer_step_count(r.opt);
        if (steps < last || steps == 0)
            fail_msg("round %d: the checkpoint went from step %llu to %llu", round,
                     (unsigned long long)last, (unsigned long long)steps);
        advanced += steps > last;
        widen = widened(&stuck, widen, steps > last);
        last = steps;
        while (optcl_optimizer_step_count(expected.opt) < steps)
            assert_int_equal(next_step(&expected), 0);
        float got[ROLES * NUMEL], want[ROLES * NUMEL];
        double lr_got[2], lr_want[2];
        snapshot(&r, got, lr_got);
        snapshot(&expected, want, lr_want);
        if (memcmp(got, want, sizeof got) != 0 || memcmp(lr_got, lr_want, sizeof lr_got) != 0)
            fail_msg("round %d: the checkpoint of step %llu differs from the uninterrupted run",
                     round, (unsigned long long)steps);
        close_session(&r);
    }
    close_session(&expected);
    printf("%d kills, %d checkpoints loaded and equal to the uninterrupted run, %d rounds "
           "advanced it, %llu steps in all; %d killed saves left a temporary behind; kill "
           "window %gx the measured one at the end\n",
           kills, loads, advanced, (unsigned long long)last, temporaries, widen);
    assert_true(kills >= ROUNDS - 5);     /* a child that exits on its own fails above */
    assert_true(advanced >= ROUNDS / 10); /* enough saves completed to mean something, with
                                            margin for a loaded machine */
    tu_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill_during_save_200),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
