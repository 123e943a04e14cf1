/* test_replay_state.c — `optcl replay --save-state/--load-state` end to end (tu_cli_path()).
 *
 * For several configurations (a schedule, Lookahead split off a sync step, ReduceLROnPlateau
 * fed from --metrics, classic Rprop) and both backends: replaying G[0:a] with --save-state and
 * then G[a:T] with --load-state (no --params) must give exactly, bit for bit, the rows a..T−1 of
 * one uninterrupted replay of G — also when the same KEY=VALUE arguments are given again with
 * --load-state (bfloat16 and float16 parameters too, whose type the checkpoint gives). A
 * different lr= with --load-state must be refused: a non-zero exit, exactly one
 * line on stderr and no OUT. The split input files are written here with optcl_npy_write. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optcl.h"

#define STDERR_CAP 8192
#define MAX_ARGS 40
#define MAX_KEYS 12
#define MAX_SPLITS 3
#define N 7
#define T 12

typedef struct state_case {
    const char *name;
    const char *optimizer;
    const char *keys[MAX_KEYS]; /* KEY=VALUE, NULL-terminated; the first one is lr= */
    size_t splits[MAX_SPLITS];  /* split points a (0 ends the list) */
    int plateau;                /* pass --metrics */
} state_case;

static const state_case CASES[] = {
    {"adam_amsgrad_cosine",
     "adam",
     {"lr=0.05", "amsgrad=1", "schedule=cosine", "t_max=7"},
     {5, 9},
     0},
    /* The splits are not multiples of k: the resumed run must keep the slow weights and
     * count on to the next sync. */
    {"sgd_momentum_lookahead",
     "sgd",
     {"lr=0.1", "momentum=0.9", "lookahead_k=3", "lookahead_alpha=0.6"},
     {4, 5, 6},
     0},
    /* Split 6: one bad epoch counted; split 7: in cooldown right after a reduction. */
    {"rmsprop_plateau",
     "rmsprop",
     {"lr=0.01", "schedule=plateau", "factor=0.5", "patience=1", "cooldown=1"},
     {6, 7},
     1},
    {"rprop_classic", "rprop", {"lr=0.02", "variant=classic"}, {1, 7}, 0},
    /* Several tensors (resumed without tensors=: the checkpoint's layout) and a group left out
     * of the trust ratio, which the checkpoint keeps. */
    {"lars_tensors_no_trust_ratio",
     "lars",
     {"lr=0.5", "nesterov=1", "trust_ratio_mask=0", "tensors=2x2,3"},
     {3, 8},
     0},
    {"lamb_tensors", "lamb", {"lr=0.05", "weight_decay=0.1", "tensors=3,1,3"}, {5, 0}, 0},
    /* Adafactor's row and column means and a vector's variance, in the checkpoint */
    {"adafactor_tensors", "adafactor", {"lr=0.05", "weight_decay=0.1", "tensors=2x2,3"}, {3, 8}, 0},
    /* Split inside the warmup. */
    {"adamw_warmup_exponential",
     "adamw",
     {"lr=0.01", "weight_decay=0.1", "warmup_steps=4", "warmup_start_factor=0.25",
      "schedule=exponential", "gamma=0.9"},
     {2, 8},
     0},
    /* Low-precision parameters: resumed without param_dtype=, the checkpoint's type */
    {"adam_bf16_master", "adam", {"lr=0.05", "param_dtype=bf16", "master_weights=1"}, {5, 0}, 0},
    {"sgd_f16_momentum", "sgd", {"lr=0.1", "momentum=0.9", "param_dtype=f16"}, {4, 0}, 0},
};
#define CASE_COUNT (sizeof CASES / sizeof CASES[0])

/* Reported after step t; with patience=1, cooldown=1 the lr is halved after steps 3, 6, 10. */
static const float METRICS[T] = {1.0f, 0.9f, 0.9f, 0.9f, 0.8f, 0.8f,
                                 0.8f, 0.8f, 0.7f, 0.7f, 0.7f, 0.7f};

typedef struct state_test {
    const state_case *sc;
    const char *backend;
    char name[128];
} state_test;

static state_test g_tests[2 * CASE_COUNT];
static float g_p0[N], g_grads[T * N];

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* The files of one test, all in its temp folder. */
typedef struct st_files {
    char p0[1024], g[1024], m[1024], full[1024], ck[1024];
    char g1[1024], g2[1024], m1[1024], m2[1024], out1[1024], out2[1024], out2k[1024],
        out3[1024];
} st_files;

static void st_paths(st_files *f, const char *dir)
{
#define ST_PATH(field, name) snprintf(f->field, sizeof f->field, "%s/" name, dir)
    ST_PATH(p0, "p0.npy");
    ST_PATH(g, "g.npy");
    ST_PATH(m, "m.npy");
    ST_PATH(full, "full.npy");
    ST_PATH(ck, "ck.safetensors");
    ST_PATH(g1, "g1.npy");
    ST_PATH(g2, "g2.npy");
    ST_PATH(m1, "m1.npy");
    ST_PATH(m2, "m2.npy");
    ST_PATH(out1, "out1.npy");
    ST_PATH(out2, "out2.npy");
    ST_PATH(out2k, "out2k.npy");
    ST_PATH(out3, "out3.npy");
#undef ST_PATH
}

static void st_write(const char *path, const float *data, size_t rows, size_t cols, int ndim)
{
    char msg[1024] = "";
    size_t shape[2] = {rows, cols};
    TU_OK(optcl_npy_write(path, data, shape, ndim, msg, sizeof msg), msg);
}

/* Runs `optcl replay OPTIMIZER <files…> --backend B <keys…>`; files and keys are
 * NULL-terminated. The command line goes to cmd for messages. */
static int st_replay(const state_test *t, const char *const *files, const char *const *keys,
                     char *err, char *cmd, size_t cmd_size)
{
    const char *argv[MAX_ARGS];
    int argc = 0;
    argv[argc++] = tu_cli_path();
    argv[argc++] = "replay";
    argv[argc++] = t->sc->optimizer;
    for (size_t i = 0; files[i]; i++)
        argv[argc++] = files[i];
    argv[argc++] = "--backend";
    argv[argc++] = t->backend;
    for (size_t i = 0; keys && keys[i]; i++) {
        assert_true(argc < MAX_ARGS - 1);
        argv[argc++] = keys[i];
    }
    argv[argc] = NULL;
    tu_join_args(cmd, cmd_size, argv + 1);
    return tu_run((char *const *)argv, err, STDERR_CAP);
}

/* Requires the rows of path to be rows `from`.. of full, bit for bit. */
static void st_expect_rows(const state_test *t, const char *what, const char *path,
                           const optcl_array *full, size_t from, size_t rows)
{
    char msg[1024] = "";
    optcl_array out = {0};
    TU_OK(optcl_npy_read(path, &out, msg, sizeof msg), msg);
    if (out.ndim != 2 || out.shape[0] != rows || out.shape[1] != N) {
        optcl_array_free(&out);
        fail_msg("%s (%s) %s: OUT is not of shape (%zu, %d)", t->sc->name, t->backend, what,
                 rows, N);
    }
    for (size_t i = 0; i < rows * N; i++) {
        float a = out.data[i], e = full->data[from * N + i];
        if (memcmp(&a, &e, sizeof a) != 0) {
            optcl_array_free(&out);
            fail_msg("%s (%s) %s: step %zu element %zu: got %.9g, the uninterrupted replay "
                     "has %.9g",
                     t->sc->name, t->backend, what, from + i / N, i % N, (double)a, (double)e);
        }
    }
    optcl_array_free(&out);
}

/* A refused run: non-zero exit, exactly one non-empty line on stderr, no OUT. */
static void st_expect_refused(const state_test *t, const char *what, int rc, const char *err,
                              const char *cmd, const char *out_path)
{
    if (rc == 0 || rc < 0 || rc >= 128)
        fail_msg("%s (%s) %s: `optcl %s` exited %d, expected a refusal: %s", t->sc->name,
                 t->backend, what, cmd, rc, err);
    size_t len = strlen(err);
    const char *nl = strchr(err, '\n');
    if (len == 0 || (nl && nl != err + len - 1) || err[0] == '\n')
        fail_msg("%s (%s) %s: stderr is not exactly one line: \"%s\"", t->sc->name, t->backend,
                 what, err);
    struct stat sb;
    if (stat(out_path, &sb) == 0)
        fail_msg("%s (%s) %s: `optcl %s` failed but wrote OUT", t->sc->name, t->backend, what,
                 cmd);
}

/* ---------------------------------------------------------------------------------------- */
/* The test                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static void st_split_one(const state_test *t, const st_files *f, const optcl_array *full,
                         size_t a)
{
    const state_case *sc = t->sc;
    char err[STDERR_CAP], cmd[4096], what[64];
    unlink(f->ck);
    st_write(f->g1, g_grads, a, N, 2);
    st_write(f->g2, g_grads + a * N, T - a, N, 2);
    st_write(f->m1, METRICS, a, 0, 1);
    st_write(f->m2, METRICS + a, T - a, 0, 1);
    /* --metrics only with the plateau: a NULL there ends the list. */
    const char *metrics = sc->plateau ? "--metrics" : NULL;

    /* G[0:a] from p0, saving the state. */
    const char *first[] = {"--params", f->p0,        "--grads", f->g1,  "--out", f->out1,
                           "--save-state", f->ck, metrics, f->m1, NULL};
    int rc = st_replay(t, first, sc->keys, err, cmd, sizeof cmd);
    if (rc != 0)
        fail_msg("%s (%s) a=%zu: `optcl %s` exited %d: %s", sc->name, t->backend, a, cmd, rc,
                 err);
    snprintf(what, sizeof what, "a=%zu, first part", a);
    st_expect_rows(t, what, f->out1, full, 0, a);

    /* G[a:T] from the checkpoint, without --params: with no keys, with the same keys, and
     * with only the last key (whose meaning depends on a setting held in the checkpoint). */
    size_t nkeys = 0;
    while (sc->keys[nkeys])
        nkeys++;
    const char *last_key[] = {sc->keys[nkeys - 1], NULL};
    const char *const *key_sets[3] = {NULL, sc->keys, last_key};
    for (int k = 0; k < 3; k++) {
        const char *out2 = k ? f->out2k : f->out2;
        unlink(out2);
        const char *second[] = {"--load-state", f->ck, "--grads", f->g2, "--out", out2,
                                metrics, f->m2, NULL};
        rc = st_replay(t, second, key_sets[k], err, cmd, sizeof cmd);
        if (rc != 0)
            fail_msg("%s (%s) a=%zu: `optcl %s` exited %d: %s", sc->name, t->backend, a, cmd,
                     rc, err);
        snprintf(what, sizeof what, "a=%zu, resumed with %s", a,
                 k == 0 ? "no keys" : k == 1 ? "the keys" : "the last key");
        st_expect_rows(t, what, out2, full, a, T - a);
    }

    /* A different lr is refused. */
    const char *third[] = {"--load-state", f->ck, "--grads", f->g2, "--out", f->out3,
                           metrics, f->m2, NULL};
    const char *other_lr[] = {"lr=0.0123", NULL};
    rc = st_replay(t, third, other_lr, err, cmd, sizeof cmd);
    snprintf(what, sizeof what, "a=%zu, resumed with another lr", a);
    st_expect_refused(t, what, rc, err, cmd, f->out3);
}

static void st_case_test(void **state)
{
    const state_test *t = *state;
    if (strcmp(t->backend, "opencl") == 0 && tu_opencl_missing())
        skip();
    char *dir = tu_make_tempdir();
    assert_non_null(dir);
    st_files f;
    st_paths(&f, dir);
    st_write(f.p0, g_p0, N, 0, 1);
    st_write(f.g, g_grads, T, N, 2);
    st_write(f.m, METRICS, T, 0, 1);

    char err[STDERR_CAP], cmd[4096], msg[1024] = "";
    const char *whole[] = {"--params", f.p0, "--grads", f.g, "--out", f.full,
                           t->sc->plateau ? "--metrics" : NULL, f.m, NULL};
    int rc = st_replay(t, whole, t->sc->keys, err, cmd, sizeof cmd);
    if (rc != 0)
        fail_msg("%s (%s): `optcl %s` exited %d: %s", t->sc->name, t->backend, cmd, rc, err);
    optcl_array full = {0};
    TU_OK(optcl_npy_read(f.full, &full, msg, sizeof msg), msg);
    assert_int_equal(full.ndim, 2);
    assert_true(full.shape[0] == T && full.shape[1] == N);

    for (size_t s = 0; s < MAX_SPLITS && t->sc->splits[s]; s++)
        st_split_one(t, &f, &full, t->sc->splits[s]);
    optcl_array_free(&full);
    tu_remove_tree(dir);
    free(dir);
}

int main(void)
{
    uint64_t seed = 0x5eed5eedULL;
    tu_fill_random(g_p0, N, &seed, -1.0f, 1.0f);
    tu_fill_random(g_grads, T * N, &seed, -1.0f, 1.0f);
    static const char *const backends[] = {"reference", "opencl"};
    struct CMUnitTest tests[2 * CASE_COUNT];
    size_t n = 0;
    for (size_t b = 0; b < 2; b++) {
        for (size_t i = 0; i < CASE_COUNT; i++) {
            state_test *t = &g_tests[n];
            t->sc = &CASES[i];
            t->backend = backends[b];
            snprintf(t->name, sizeof t->name, "%s/%s", backends[b], CASES[i].name);
            tests[n] = (struct CMUnitTest){t->name, st_case_test, NULL, NULL, t};
            n++;
        }
    }
    return _cmocka_run_group_tests("replay_state", tests, n, NULL, NULL);
}
