/* test_mpi_checkpoint.c — under mpirun -np K: sharded checkpoints. A run saved and resumed in
 * a fresh optimizer continues bit for bit like the uninterrupted one (Adam with AMSGrad,
 * Lookahead, ReduceLROnPlateau, clipping and a skipped step); a second save replaces the first
 * generation of files; a stray newer generation does not matter; a different world size, a
 * different model, a missing or damaged file fail on every rank and change nothing; the
 * manifest lists the model's tensors, and a model that differs from them is refused by name. */
#include "mpitest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BEFORE 5
#define AFTER 4

static char dir[256]; /* a fresh folder made by rank 0 */

static void make_dir(void)
{
    if (mt_rank == 0) {
        snprintf(dir, sizeof dir, "/tmp/optcl-mpi-test-XXXXXX");
        MT_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
}

static void remove_dir(void)
{
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == 0) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        MT_CHECK(system(cmd) == 0, "removing %s", dir);
    }
}

static const char *path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

static optcl_optimizer_config config(void)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.lr = 0.01;
    c.adam.amsgrad = 1;
    c.lookahead.k = 3;
    c.plateau.enabled = 1;
    c.plateau.patience = 1;
    c.max_norm = 5.0;
    c.nonfinite = OPTCL_NONFINITE_SKIP;
    return c;
}

typedef struct run {
    optcl_context *ctx;
    optcl_params *params;
    optcl_mpi_optimizer *opt;
} run;

static run start_on(MPI_Comm comm, const optcl_optimizer_config *c, uint64_t seed)
{
    run r = {.ctx = mt_context(OPTCL_BACKEND_REFERENCE)};
    r.params = mt_params(r.ctx, mt_model, MT_MODEL_COUNT);
    size_t n = optcl_params_numel(r.params);
    float *p0 = malloc(n * sizeof *p0);
    MT_CHECK(p0 != NULL, "out of memory");
    mt_fill(p0, n, seed, -1.0f, 1.0f);
    MT_OK(optcl_params_write(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, n), "p0");
    free(p0);
    char msg[2048] = "";
    MT_OK(optcl_mpi_optimizer_create(comm, r.params, c, NULL, &r.opt, msg, sizeof msg), msg);
    return r;
}

static run start(const optcl_optimizer_config *c, uint64_t seed)
{
    return start_on(MPI_COMM_WORLD, c, seed);
}

static void stop(run *r)
{
    MT_OK(optcl_mpi_optimizer_destroy(r->opt), "destroy");
    MT_OK(optcl_params_destroy(r->params), "destroy");
    MT_OK(optcl_context_destroy(r->ctx), "destroy");
}

/* Step t: every rank its own gradient (a NaN at step 2: skipped), then a metric. */
static void step(run *r, int t, float *params_after)
{
    size_t n = optcl_params_numel(r->params);
    float *g = malloc(n * sizeof *g);
    MT_CHECK(g != NULL, "out of memory");
    mt_fill(g, n, 70 + 10 * (uint64_t)t + (uint64_t)mt_rank, -2.0f, 2.0f);
    if (t == 2 && mt_rank == 0)
        g[n / 2] = NAN;
    MT_OK(optcl_params_write(r->params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n), "grads");
    MT_OK(optcl_mpi_optimizer_step(r->opt), optcl_mpi_optimizer_message(r->opt));
    MT_OK(optcl_mpi_optimizer_report_metric(r->opt, 1.0 + 0.5 * mt_rank - (t < 2 ? 0.1 * t : 0)),
          optcl_mpi_optimizer_message(r->opt));
    MT_OK(optcl_params_read(r->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, params_after, n), "read");
    free(g);
}

static void round_trip(void)
{
    optcl_optimizer_config c = config();
    char ck[512];
    path_in(ck, sizeof ck, "ck");
    size_t n = 212;
    float straight[AFTER][212], resumed[212], saved[212], loaded[212];
    run a = start(&c, 1);
    for (int t = 0; t < BEFORE; t++)
        step(&a, t, saved);
    MT_OK(optcl_mpi_checkpoint_save(a.opt, ck), optcl_mpi_optimizer_message(a.opt));
    uint64_t steps = optcl_mpi_optimizer_step_count(a.opt);
    optcl_guard_stats before, after;
    MT_OK(optcl_mpi_optimizer_guard_stats(a.opt, &before), "guard stats");
    double lr = 0.0, lr_loaded = 0.0;
    MT_OK(optcl_mpi_optimizer_get_lr(a.opt, 0, &lr), "lr");
    MT_CHECK(steps == BEFORE - 1 && before.steps == steps && before.skipped == 1, "%llu steps",
             (unsigned long long)steps);
    for (int t = 0; t < AFTER; t++)
        step(&a, BEFORE + t, straight[t]);
    stop(&a);

    /* A fresh optimizer with another guard and other parameters: the file decides. */
    optcl_optimizer_config other = c;
    other.max_norm = 0.0;
    other.nonfinite = OPTCL_NONFINITE_PROPAGATE;
    run b = start(&other, 2);
    MT_OK(optcl_mpi_checkpoint_load(b.opt, ck), optcl_mpi_optimizer_message(b.opt));
    MT_OK(optcl_params_read(b.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, loaded, n), "read");
    MT_CHECK(tu_first_mismatch(loaded, saved, n, 0.0, 0.0, NULL) == (size_t)-1,
             "loaded parameters");
    MT_CHECK(optcl_mpi_optimizer_step_count(b.opt) == steps, "step count");
    MT_OK(optcl_mpi_optimizer_guard_stats(b.opt, &after), "guard stats");
    MT_CHECK(after.skipped == 1 && after.steps == steps, "skipped count");
    MT_CHECK(after.last_norm == before.last_norm && after.last_clip_coef == before.last_clip_coef,
             "last norm %.9g and coefficient %.9g", after.last_norm, after.last_clip_coef);
    MT_OK(optcl_mpi_optimizer_get_lr(b.opt, 0, &lr_loaded), "lr");
    MT_CHECK(lr == lr_loaded, "lr %.17g after loading, %.17g saved", lr_loaded, lr);
    const optcl_optimizer_config *got = optcl_mpi_optimizer_config_get(b.opt);
    MT_CHECK(got->max_norm == 5.0 && got->nonfinite == OPTCL_NONFINITE_SKIP,
             "the guard comes from the file");
    for (int t = 0; t < AFTER; t++) {
        step(&b, BEFORE + t, resumed);
        size_t bad = tu_first_mismatch(resumed, straight[t], n, 0.0, 0.0, NULL);
        MT_CHECK(bad == (size_t)-1, "resumed step %d, element %zu: %.9g vs %.9g", BEFORE + t + 1,
                 bad, (double)resumed[bad], (double)straight[t][bad]);
    }
    stop(&b);

    /* Each rank's file is an ordinary optcl checkpoint of its shard. */
    char name[600];
    snprintf(name, sizeof name, "%s.1.rank%d-of-%d.safetensors", ck, mt_rank, mt_size);
    optcl_tensor_spec *specs = NULL;
    size_t count = 0;
    char msg[2048] = "";
    MT_OK(optcl_checkpoint_inspect(name, &specs, &count, NULL, msg, sizeof msg), msg);
    MT_CHECK(count >= 1 && strchr(specs[0].name, '[') != NULL, "piece names: %s", specs[0].name);
    /* S = 224, 112, 80 for K = 1, 2, 3: the first 91-element tensor is cut only by K = 3. */
    if (mt_rank == 0)
        MT_CHECK(!strcmp(specs[0].name, mt_size < 3 ? "fc1.weight[0:91]" : "fc1.weight[0:80]"),
                 "first piece %s", specs[0].name);
    free(specs);
    int world = 0;
    size_t numel = 0;
    optcl_optimizer_config inspected;
    MT_OK(optcl_mpi_checkpoint_inspect(ck, &world, &numel, &inspected, msg, sizeof msg), msg);
    MT_CHECK(world == mt_size && numel == n && inspected.algorithm == OPTCL_ADAM &&
                 inspected.max_norm == 5.0 && inspected.nonfinite == OPTCL_NONFINITE_SKIP &&
                 inspected.lookahead.k == 3,
             "inspect: %d ranks, %zu elements", world, numel);
    /* The progress, from the manifest and rank 0's file: the saved run's count, its skipped
     * step (the sharded guard's) and its next lr (schedule and plateau). */
    optcl_checkpoint_progress progress;
    MT_OK(optcl_mpi_checkpoint_inspect_progress(ck, &progress, msg, sizeof msg), msg);
    MT_CHECK(progress.steps == steps && progress.skipped == 1 && progress.lr[0] == lr &&
                 progress.loss_scale == 1.0,
             "progress: %llu steps, %llu skipped, lr %.17g (saved: %.17g)",
             (unsigned long long)progress.steps, (unsigned long long)progress.skipped,
             progress.lr[0], lr);
    MT_CHECK(optcl_mpi_checkpoint_inspect_progress(ck, NULL, msg, sizeof msg) ==
                     OPTCL_ERROR_NULL_POINTER &&
                 strstr(msg, "progress is NULL"),
             "a NULL progress: %s", msg);
    MT_CHECK(optcl_mpi_checkpoint_inspect_progress(name, &progress, msg, sizeof msg) !=
                     OPTCL_SUCCESS &&
                 strstr(msg, name),
             "a rank file is not a manifest: %s", msg);
    mt_note("round trip: a resumed run continues bit for bit");
}

/* Step t with the same gradient on every rank (a NaN at step 2: skipped) and the same metric,
 * so that a world of one rank steps as the world of K does. */
static void step_equal(run *r, int t, float *params_after)
{
    size_t n = optcl_params_numel(r->params);
    float *g = malloc(n * sizeof *g);
    MT_CHECK(g != NULL, "out of memory");
    mt_fill(g, n, 90 + 10 * (uint64_t)t, -2.0f, 2.0f);
    if (t == 2)
        g[n / 2] = NAN;
    MT_OK(optcl_params_write(r->params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n), "grads");
    MT_OK(optcl_mpi_optimizer_step(r->opt), optcl_mpi_optimizer_message(r->opt));
    MT_OK(optcl_mpi_optimizer_report_metric(r->opt, t < 2 ? 1.0 - 0.1 * t : 1.0),
          optcl_mpi_optimizer_message(r->opt));
    MT_OK(optcl_params_read(r->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, params_after, n), "read");
    free(g);
}

static void same_params(const float *got, const float *want, size_t n, const char *what, int t)
{
    size_t bad = tu_first_mismatch(got, want, n, 0.0, 0.0, NULL);
    MT_CHECK(bad == (size_t)-1, "%s, step %d, element %zu: %.9g vs %.9g", what, t + 1, bad,
             (double)got[bad], (double)want[bad]);
}

/* A checkpoint of K ranks loads into a world of one (each rank alone, on MPI_COMM_SELF), and
 * one rank's into the world of K: the shards are cut anew from the files whose shards held
 * each piece, and the runs continue bit for bit (ZeRO-1's steps are those of one process). */
static void resharded(void)
{
    optcl_optimizer_config c = config(), other = c;
    other.max_norm = 0.0; /* the file decides */
    other.nonfinite = OPTCL_NONFINITE_PROPAGATE;
    char ck[512], alone[512], name[64];
    path_in(ck, sizeof ck, "reshard");
    snprintf(name, sizeof name, "alone%d", mt_rank);
    path_in(alone, sizeof alone, name);
    enum { n = 212 };
    float straight[AFTER + 2][n], resumed[n], p[n];
    run a = start(&c, 7);
    for (int t = 0; t < BEFORE; t++)
        step_equal(&a, t, p);
    MT_OK(optcl_mpi_checkpoint_save(a.opt, ck), optcl_mpi_optimizer_message(a.opt));
    for (int t = 0; t < AFTER + 2; t++)
        step_equal(&a, BEFORE + t, straight[t]);
    stop(&a);

    run b = start_on(MPI_COMM_SELF, &other, 8); /* K ranks into 1 */
    MT_OK(optcl_mpi_checkpoint_load(b.opt, ck), optcl_mpi_optimizer_message(b.opt));
    MT_CHECK(optcl_mpi_optimizer_step_count(b.opt) == BEFORE - 1, "step count %llu",
             (unsigned long long)optcl_mpi_optimizer_step_count(b.opt));
    for (int t = 0; t < AFTER; t++) {
        step_equal(&b, BEFORE + t, resumed);
        same_params(resumed, straight[t], n, "K ranks into one", BEFORE + t);
    }
    MT_OK(optcl_mpi_checkpoint_save(b.opt, alone), optcl_mpi_optimizer_message(b.opt));
    stop(&b);

    MPI_Barrier(MPI_COMM_WORLD); /* rank 0's single-rank checkpoint is written */
    path_in(alone, sizeof alone, "alone0");
    run d = start(&other, 9); /* one rank into K */
    MT_OK(optcl_mpi_checkpoint_load(d.opt, alone), optcl_mpi_optimizer_message(d.opt));
    for (int t = AFTER; t < AFTER + 2; t++) {
        step_equal(&d, BEFORE + t, resumed);
        same_params(resumed, straight[t], n, "one rank into K", BEFORE + t);
    }
    stop(&d);
    mt_note("resharded: %d rank(s) into 1 and back, bit for bit", mt_size);
}

/* After a second save only its generation is left; a newer stray file (an interrupted save)
 * is ignored, then overwritten. */
static void generations(void)
{
    optcl_optimizer_config c = config();
    char ck[512], name[600], list[4096];
    path_in(ck, sizeof ck, "gen");
    run a = start(&c, 4);
    float p[212];
    step(&a, 0, p);
    /* The first save finds no manifest, which is no failure: no message is left. */
    MT_OK(optcl_mpi_checkpoint_save(a.opt, ck), optcl_mpi_optimizer_message(a.opt));
    MT_CHECK(!strcmp(optcl_mpi_optimizer_message(a.opt), ""), "a first save left '%s'",
             optcl_mpi_optimizer_message(a.opt));
    /* … and keeps the last failure's message, not one of its own. */
    path_in(name, sizeof name, "gen-first");
    MT_CHECK(optcl_mpi_checkpoint_save(a.opt, NULL) == OPTCL_ERROR_NULL_POINTER, "NULL path");
    MT_OK(optcl_mpi_checkpoint_save(a.opt, name), optcl_mpi_optimizer_message(a.opt));
    MT_CHECK(!strcmp(optcl_mpi_optimizer_message(a.opt), "path is NULL"),
             "after a failure and a first save: '%s'", optcl_mpi_optimizer_message(a.opt));
    step(&a, 1, p);
    MT_OK(optcl_mpi_checkpoint_save(a.opt, ck), optcl_mpi_optimizer_message(a.opt));
    MPI_Barrier(MPI_COMM_WORLD);
    for (int r = 0; r < mt_size; r++) {
        snprintf(name, sizeof name, "%s.1.rank%d-of-%d.safetensors", ck, r, mt_size);
        MT_CHECK(access(name, F_OK) != 0, "%s is still there", name);
        snprintf(name, sizeof name, "%s.2.rank%d-of-%d.safetensors", ck, r, mt_size);
        MT_CHECK(access(name, F_OK) == 0, "%s is missing", name);
    }
    /* An interrupted third save left a stray file of generation 3 behind. */
    if (mt_rank == 0) {
        snprintf(name, sizeof name, "%s.3.rank0-of-%d.safetensors", ck, mt_size);
        FILE *f = fopen(name, "w");
        MT_CHECK(f && fputs("half a file", f) >= 0 && fclose(f) == 0, "stray file");
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MT_OK(optcl_mpi_checkpoint_load(a.opt, ck), optcl_mpi_optimizer_message(a.opt));
    MT_CHECK(optcl_mpi_optimizer_step_count(a.opt) == 2, "generation 2 loaded");
    MT_OK(optcl_mpi_checkpoint_save(a.opt, ck), optcl_mpi_optimizer_message(a.opt));
    MT_OK(optcl_mpi_checkpoint_load(a.opt, ck), optcl_mpi_optimizer_message(a.opt));
    if (mt_rank == 0) {
        FILE *f = fopen(ck, "r");
        size_t len = f ? fread(list, 1, sizeof list - 1, f) : 0;
        list[len] = '\0';
        if (f)
            fclose(f);
        MT_CHECK(strstr(list, "generation 3\n") != NULL, "manifest:\n%s", list);
    }
    stop(&a);
    mt_note("generations: old files removed after the manifest, stray files harmless");
}

/* Fails on every rank with this status and a message containing text; the optimizer keeps its
 * step count and parameters. */
static void refused(run *r, const char *path, optcl_status expected, const char *text)
{
    size_t n = optcl_params_numel(r->params);
    float before[212], after[212];
    MT_OK(optcl_params_read(r->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, before, n), "read");
    uint64_t steps = optcl_mpi_optimizer_step_count(r->opt);
    optcl_status st = optcl_mpi_checkpoint_load(r->opt, path);
    const char *m = optcl_mpi_optimizer_message(r->opt);
    MT_CHECK(st == expected, "loading %s: %s (%s), expected %s", path, optcl_status_name(st), m,
             optcl_status_name(expected));
    MT_CHECK(strstr(m, text) != NULL, "loading %s: message '%s' lacks '%s'", path, m, text);
    MT_OK(optcl_params_read(r->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, after, n), "read");
    MT_CHECK(optcl_mpi_optimizer_step_count(r->opt) == steps &&
                 tu_first_mismatch(after, before, n, 0.0, 0.0, NULL) == (size_t)-1,
             "a refused load changed the optimizer");
}

/* Rank 0 passes one path and the others another: save and load are refused on every rank
 * before anything is written or changed, rank 1 named as the one that differs. */
static void per_rank_paths(run *a)
{
    char mine[512], theirs[512], name[600];
    path_in(mine, sizeof mine, mt_rank == 0 ? "per_rank0" : "per_rank1");
    path_in(theirs, sizeof theirs, "per_rank0");
    uint64_t steps = optcl_mpi_optimizer_step_count(a->opt);
    for (int load = 0; load < 2; load++) {
        optcl_status st = load ? optcl_mpi_checkpoint_load(a->opt, mine)
                               : optcl_mpi_checkpoint_save(a->opt, mine);
        const char *m = optcl_mpi_optimizer_message(a->opt);
        MT_CHECK(st == OPTCL_ERROR_INVALID_ARGUMENT, "%s with per-rank paths: %s (%s)",
                 load ? "load" : "save", optcl_status_name(st), m);
        char one[512], expect[1400];
        path_in(one, sizeof one, "per_rank1");
        snprintf(expect, sizeof expect, "%spath '%s' differs from rank 0's '%s'",
                 mt_rank == 0 ? "rank 1: " : "", one, theirs);
        MT_CHECK(strncmp(m, expect, strlen(expect)) == 0, "%s with per-rank paths: '%s'",
                 load ? "load" : "save", m);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    for (int r = 0; r < mt_size; r++) {
        const char *base[] = {theirs, mine};
        for (int b = 0; b < 2; b++) {
            snprintf(name, sizeof name, "%s.1.rank%d-of-%d.safetensors", base[b], r, mt_size);
            MT_CHECK(access(base[b], F_OK) != 0 && access(name, F_OK) != 0,
                     "a refused save wrote %s or %s", base[b], name);
        }
    }
    MT_CHECK(optcl_mpi_optimizer_step_count(a->opt) == steps, "a refused load changed the count");
}

static void refusals(void)
{
    optcl_optimizer_config c = config();
    char ck[512], self[512], bad[512], text[128], name[600];
    path_in(ck, sizeof ck, "world");
    run a = start(&c, 5);
    float p[212];
    step(&a, 0, p);
    MT_OK(optcl_mpi_checkpoint_save(a.opt, ck), optcl_mpi_optimizer_message(a.opt));
    step(&a, 1, p);

    path_in(bad, sizeof bad, "missing");
    refused(&a, bad, OPTCL_ERROR_IO, "cannot open the manifest");
    path_in(bad, sizeof bad, "damaged");
    if (mt_rank == 0) {
        FILE *f = fopen(bad, "w");
        MT_CHECK(f && fputs("optcl-mpi-checkpoint 1\ngeneration x\n", f) >= 0 && fclose(f) == 0,
                 "writing %s", bad);
    }
    refused(&a, bad, OPTCL_ERROR_FORMAT, "not a sharded optcl checkpoint");

    /* Another world size whose rank files are not all there: the missing one is named. */
    char selfname[64], msg[2048] = "";
    snprintf(selfname, sizeof selfname, "self%d", mt_rank);
    path_in(self, sizeof self, selfname);
    if (mt_size > 1) {
        snprintf(name, sizeof name, "%s.1.rank%d-of-%d.safetensors", ck, mt_size - 1, mt_size);
        MPI_Barrier(MPI_COMM_WORLD);
        if (mt_rank == 0)
            MT_CHECK(rename(name, self) == 0, "moving %s away", name);
        MPI_Barrier(MPI_COMM_WORLD);
        optcl_mpi_optimizer *alone = NULL;
        MT_OK(
            optcl_mpi_optimizer_create(MPI_COMM_SELF, a.params, &c, NULL, &alone, msg, sizeof msg),
            msg);
        snprintf(text, sizeof text, "rank%d-of-%d.safetensors", mt_size - 1, mt_size);
        optcl_status st = optcl_mpi_checkpoint_load(alone, ck); /* K ranks into 1 */
        MT_CHECK(st == OPTCL_ERROR_IO && strstr(optcl_mpi_optimizer_message(alone), text),
                 "K ranks into 1 without the last rank's file: %s",
                 optcl_mpi_optimizer_message(alone));
        MT_OK(optcl_mpi_optimizer_destroy(alone), "destroy");
        MPI_Barrier(MPI_COMM_WORLD);
        if (mt_rank == 0)
            MT_CHECK(rename(self, name) == 0, "moving %s back", name);
        MPI_Barrier(MPI_COMM_WORLD);
    }

    /* Another model. */
    run tiny = {.ctx = a.ctx};
    tiny.params = mt_params(a.ctx, mt_tiny, 1);
    MT_OK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, tiny.params, &c, NULL, &tiny.opt, msg,
                                     sizeof msg),
          msg);
    refused(&tiny, ck, OPTCL_ERROR_SIZE_MISMATCH, "holds a model of 6 tensors; this one has 1");
    MT_OK(optcl_mpi_optimizer_destroy(tiny.opt), "destroy");
    MT_OK(optcl_params_destroy(tiny.params), "destroy");

    /* Another optimizer: every rank's file refuses, nothing changes. */
    optcl_optimizer_config sgd = optcl_optimizer_config_default(OPTCL_SGD);
    sgd.plateau.enabled = 1;
    run other = {.ctx = a.ctx};
    other.params = mt_params(a.ctx, mt_model, MT_MODEL_COUNT);
    MT_OK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, other.params, &sgd, NULL, &other.opt, msg,
                                     sizeof msg),
          msg);
    refused(&other, ck, OPTCL_ERROR_INVALID_ARGUMENT, "algorithm");
    MT_OK(optcl_mpi_optimizer_destroy(other.opt), "destroy");
    MT_OK(optcl_params_destroy(other.params), "destroy");

    /* The last rank's file is gone: the others must not load theirs. */
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == mt_size - 1) {
        snprintf(name, sizeof name, "%s.1.rank%d-of-%d.safetensors", ck, mt_rank, mt_size);
        MT_CHECK(unlink(name) == 0, "removing %s", name);
    }
    snprintf(text, sizeof text, "rank%d-of-%d", mt_size - 1, mt_size);
    refused(&a, ck, OPTCL_ERROR_IO, text);

    MT_CHECK(optcl_mpi_checkpoint_save(a.opt, NULL) == OPTCL_ERROR_NULL_POINTER, "NULL path");
    MT_CHECK(optcl_mpi_checkpoint_load(a.opt, NULL) == OPTCL_ERROR_NULL_POINTER, "NULL path");
    MT_CHECK(optcl_mpi_checkpoint_save(a.opt, "") == OPTCL_ERROR_INVALID_ARGUMENT &&
                 !strcmp(optcl_mpi_optimizer_message(a.opt), "path is empty"),
             "empty path: %s", optcl_mpi_optimizer_message(a.opt));
    if (mt_size > 1)
        per_rank_paths(&a);
    MT_CHECK(optcl_mpi_checkpoint_save(NULL, ck) == OPTCL_ERROR_NULL_POINTER, "NULL optimizer");
    path_in(bad, sizeof bad, "no/such/folder/ck");
    optcl_status st = optcl_mpi_checkpoint_save(a.opt, bad);
    MT_CHECK(st == OPTCL_ERROR_IO, "saving into a missing folder: %s (%s)", optcl_status_name(st),
             optcl_mpi_optimizer_message(a.opt));
    stop(&a);
    mt_note("refusals: missing, damaged, other world size, other model, other optimizer, a "
            "missing rank file — refused on every rank, nothing changed");
}

/* Rank 0 copies the manifest at `from` to `to`, with the first `old` replaced by `new` (old
 * NULL: as a manifest written before the tensor list, its first version without the tensor
 * lines); every rank waits for it. */
static void edited_manifest(const char *from, const char *to, const char *old, const char *new)
{
    if (mt_rank == 0) {
        char text[8192] = "", out[8192] = "", line[512];
        FILE *f = fopen(from, "r");
        MT_CHECK(f != NULL, "opening %s", from);
        while (fgets(line, sizeof line, f))
            if (old || strncmp(line, "tensor", 6) != 0)
                strcat(text, line);
        fclose(f);
        const char *at = strstr(text, old ? old : "checkpoint 2");
        MT_CHECK(at != NULL, "'%s' is not in %s", old ? old : "checkpoint 2", from);
        snprintf(out, sizeof out, "%.*s%s%s", (int)(at - text), text, old ? new : "checkpoint 1",
                 at + strlen(old ? old : "checkpoint 2"));
        f = fopen(to, "w");
        MT_CHECK(f && fputs(out, f) >= 0 && fclose(f) == 0, "writing %s", to);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* optcl_mpi_checkpoint_tensors of the checkpoint at ck gives the model's specs back. */
static void listed_as(const char *ck, const optcl_tensor_spec *model, size_t n)
{
    optcl_tensor_spec *specs = NULL;
    size_t count = 0;
    char msg[2048] = "";
    MT_OK(optcl_mpi_checkpoint_tensors(ck, &specs, &count, msg, sizeof msg), msg);
    MT_CHECK(count == n, "%zu tensors listed, %zu in the model", count, n);
    for (size_t i = 0; i < count && i < n; i++)
        MT_CHECK(!strcmp(specs[i].name, model[i].name) && specs[i].ndim == model[i].ndim &&
                     !memcmp(specs[i].shape, model[i].shape, sizeof specs[i].shape) &&
                     specs[i].group == model[i].group && specs[i].state_bits == model[i].state_bits,
                 "tensor %zu listed as '%s'", i, specs[i].name);
    free(specs);
}

/* A model like mt_model with one change, refused by the checkpoint saved from mt_model with a
 * message naming the tensor (the rank files hold element-wise pieces flattened: without the
 * manifest's list a transposed tensor would load). */
static void other_model_refused(run *a, const char *ck, size_t index, optcl_tensor_spec change,
                                const char *text)
{
    optcl_tensor_spec specs[MT_MODEL_COUNT];
    memcpy(specs, mt_model, sizeof specs);
    specs[index] = change;
    optcl_optimizer_config c = config();
    char msg[2048] = "";
    run r = {.ctx = a->ctx};
    r.params = mt_params(a->ctx, specs, MT_MODEL_COUNT);
    MT_OK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, r.params, &c, NULL, &r.opt, msg, sizeof msg),
          msg);
    refused(&r, ck, OPTCL_ERROR_SIZE_MISMATCH, text);
    MT_OK(optcl_mpi_optimizer_destroy(r.opt), "destroy");
    MT_OK(optcl_params_destroy(r.params), "destroy");
}

/* The manifest lists the model's tensors: optcl_mpi_checkpoint_tensors gives them back (names
 * of any bytes), a model that differs in a tensor's shape, name or group is refused naming it,
 * a damaged list is not a manifest, and a manifest written before the list still loads. */
static void model_listed(void)
{
    optcl_optimizer_config c = config();
    char ck[512], bad[512], msg[2048] = "";
    path_in(ck, sizeof ck, "listed");
    run a = start(&c, 7);
    float p[212];
    step(&a, 0, p);
    MT_OK(optcl_mpi_checkpoint_save(a.opt, ck), optcl_mpi_optimizer_message(a.opt));
    listed_as(ck, mt_model, MT_MODEL_COUNT);
    optcl_tensor_spec *specs = NULL;
    size_t count = 0;

    other_model_refused(&a, ck, 2,
                        (optcl_tensor_spec){.name = "fc2.weight", .ndim = 2, .shape = {5, 13}},
                        "tensor 2 is 'fc2.weight' of shape 13x5 in group 0 in the checkpoint but "
                        "'fc2.weight' of shape 5x13 in group 0 in this model");
    other_model_refused(&a, ck, 4,
                        (optcl_tensor_spec){.name = "embed", .ndim = 1, .shape = {37}, .group = 2},
                        "tensor 4 is 'embedding' of shape 37 in group 2");
    other_model_refused(&a, ck, 3, (optcl_tensor_spec){.name = "fc2.bias", .ndim = 1, .shape = {5}},
                        "tensor 3 is 'fc2.bias' of shape 5 in group 1 in the checkpoint but "
                        "'fc2.bias' of shape 5 in group 0");

    /* Damaged tensor lists: not a manifest, for the load and for the list alike. */
    static const char *const damage[][2] = {
        {"tensors 6", "tensors 7"},              /* a line missing */
        {"7x13 fc1", "7x0 fc1"},                 /* a dimension of 0 */
        {"7x13 fc1", "7x fc1"},                  /* a dimension missing */
        {"7x13 fc1", "1x1x1x1x1x1x1x1x91 fc1"},  /* more than OPTCL_MAX_DIMS */
        {"tensor 0 0 7x13", "tensor 64 0 7x13"}, /* no such group */
        {"tensor 0 0 7x13", "tensor 0 7 7x13"},  /* no such state_bits */
        {"fc1.weight", "fc1%2eweight"},          /* an escape of a byte that needs none */
        {"fc1.weight", "fc1.weight%2"},          /* an escape cut short */
        {"fc1.weight", "fc1 weight"},            /* a raw space */
        {"fc2.bias", "fc1.bias"},                /* a name twice */
        {"fc1.weight", "__metadata__"},          /* a name no model may have */
        {"fc1.weight", "fc1\xc0\xaeweight"},     /* not UTF-8: an overlong '.' */
        {"5 fc2.bias", "5 "},                    /* an empty name */
        {"tensor 1 0 13 fc1.bias", "tensor 1 0 14 fc1.bias"}, /* not numel elements */
        {"7x13 fc1", "7x13x4294967296x4294967296 fc1"},       /* overflowing numel */
    };
    path_in(bad, sizeof bad, "damaged-list");
    for (size_t d = 0; d < sizeof damage / sizeof damage[0]; d++) {
        edited_manifest(ck, bad, damage[d][0], damage[d][1]);
        refused(&a, bad, OPTCL_ERROR_FORMAT, "not a sharded optcl checkpoint");
        optcl_status st = optcl_mpi_checkpoint_tensors(bad, &specs, &count, msg, sizeof msg);
        MT_CHECK(st == OPTCL_ERROR_FORMAT && strstr(msg, bad), "'%s' as '%s': %s (%s)",
                 damage[d][0], damage[d][1], optcl_status_name(st), msg);
    }

    /* A manifest written before the list: loads as it did, and lists nothing. */
    edited_manifest(ck, ck, NULL, NULL);
    run b = start(&c, 8);
    MT_OK(optcl_mpi_checkpoint_load(b.opt, ck), optcl_mpi_optimizer_message(b.opt));
    MT_CHECK(optcl_mpi_optimizer_step_count(b.opt) == 1, "the first version's manifest loads");
    optcl_status st = optcl_mpi_checkpoint_tensors(ck, &specs, &count, msg, sizeof msg);
    MT_CHECK(st == OPTCL_ERROR_NOT_FOUND && strstr(msg, "does not list"), "%s (%s)",
             optcl_status_name(st), msg);
    stop(&b);
    st = optcl_mpi_checkpoint_tensors(NULL, &specs, &count, msg, sizeof msg);
    MT_CHECK(st == OPTCL_ERROR_NULL_POINTER && strstr(msg, "path is NULL"), "NULL path: %s", msg);
    path_in(bad, sizeof bad, "missing");
    st = optcl_mpi_checkpoint_tensors(bad, &specs, &count, msg, sizeof msg);
    MT_CHECK(st == OPTCL_ERROR_IO && strstr(msg, "cannot open"), "missing: %s", msg);
    stop(&a);
    mt_note("model listed: tensors given back; another shape, name or group refused by name; a "
            "damaged list refused; a manifest without the list still loads");
}

/* 252 bytes: a piece's name ("<name>[0:6]", 257 bytes) cuts it at 180 bytes, inside an 'é' —
 * the cut must step back */
#define LONG_UTF8                                                                                  \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"     \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"     \
    "aaa\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"                 \
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Tensor names of any bytes (a space, '%', a tab, a newline, UTF-8, one long enough for the
 * pieces' names to cut it) go through the manifest's list and back, and the model loads its
 * own checkpoint. */
static void odd_names(void)
{
    static const optcl_tensor_spec odd[] = {
        {.name = "layer 1.weight 100%", .ndim = 2, .shape = {3, 4}},
        {.name = "tab\there\nand a newline", .ndim = 1, .shape = {5}, .group = 1, .state_bits = 32},
        {.name = "\xce\xa9mega", .ndim = 0},
        {.name = LONG_UTF8, .ndim = 1, .shape = {6}},
    };
    size_t n_odd = sizeof odd / sizeof odd[0];
    optcl_optimizer_config c = config();
    char ck[512], msg[2048] = "";
    path_in(ck, sizeof ck, "odd");
    run r = {.ctx = mt_context(OPTCL_BACKEND_REFERENCE)};
    r.params = mt_params(r.ctx, odd, n_odd);
    MT_OK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, r.params, &c, NULL, &r.opt, msg, sizeof msg),
          msg);
    MT_OK(optcl_mpi_checkpoint_save(r.opt, ck), optcl_mpi_optimizer_message(r.opt));
    listed_as(ck, odd, n_odd);
    MT_OK(optcl_mpi_checkpoint_load(r.opt, ck), optcl_mpi_optimizer_message(r.opt));
    stop(&r);
    MT_CHECK(strlen(LONG_UTF8) == 252 && (LONG_UTF8[180] & 0xC0) == 0x80, "the long name");
    mt_note("odd names: a space, '%%', a tab, a newline, UTF-8 and a long UTF-8 name cut by "
            "the pieces' names, through the list and back");
}

/* A run on `saver` saved after 3 of 6 steps and resumed by a second optimizer on `comm`: the
 * world saving for the world (each rank its own gradient), for each rank alone on
 * MPI_COMM_SELF, or each rank alone (rank 0's file) for the world, the shards cut anew from the
 * files (every rank the same gradient, so that one rank steps as the world does); bit for bit.
 * With 8-bit state each piece keeps its whole tensor's 8-bit state, so the codes move exactly;
 * with a tensor-wise rule every piece is a whole tensor, and so is its state. */
static void resumed_by(const optcl_optimizer_config *config, const optcl_tensor_spec *specs,
                       size_t count, MPI_Comm saver, MPI_Comm comm, const char *name)
{
    bool per_rank = saver == MPI_COMM_WORLD && comm == MPI_COMM_WORLD;
    const optcl_optimizer_config c = *config;
    char ck[512], load[512], msg[2048] = "", mine[256];
    snprintf(mine, sizeof mine, "%s%d", name, saver == MPI_COMM_SELF ? mt_rank : 0);
    path_in(ck, sizeof ck, mine); /* alone: a file per rank, rank 0's loaded */
    snprintf(mine, sizeof mine, "%s0", name);
    path_in(load, sizeof load, mine);
    run r[2];
    MPI_Comm comms[2] = {saver, comm};
    for (int k = 0; k < 2; k++) {
        r[k].ctx = mt_context(OPTCL_BACKEND_OPENCL);
        if (!r[k].ctx)
            return;
        MT_OK(optcl_params_create(r[k].ctx, specs, count, &r[k].params), "params");
        MT_OK(
            optcl_mpi_optimizer_create(comms[k], r[k].params, &c, NULL, &r[k].opt, msg, sizeof msg),
            msg);
    }
    size_t n = optcl_params_numel(r[0].params);
    float *p0 = malloc(n * sizeof *p0), *g = malloc(n * sizeof *g);
    float *straight = malloc(n * sizeof *straight), *resumed = malloc(n * sizeof *resumed);
    MT_CHECK(p0 && g && straight && resumed, "out of memory");
    mt_fill(p0, n, 5, -1.0f, 1.0f);
    MT_OK(optcl_params_write(r[0].params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, n), "p0");
    for (int t = 0; t < 6; t++) {
        if (t == 3) { /* the second optimizer takes over from the checkpoint of step 3 */
            MPI_Barrier(MPI_COMM_WORLD); /* rank 0's file is written */
            MT_OK(optcl_mpi_checkpoint_load(r[1].opt, load), optcl_mpi_optimizer_message(r[1].opt));
        }
        for (int k = 0; k < (t < 3 ? 1 : 2); k++) {
            mt_fill(g, n, 300 + 10 * (uint64_t)t + (per_rank ? (uint64_t)mt_rank : 0), -0.1f, 0.1f);
            MT_OK(optcl_params_write(r[k].params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n), "grads");
            MT_OK(optcl_mpi_optimizer_step(r[k].opt), optcl_mpi_optimizer_message(r[k].opt));
            MT_OK(optcl_params_read(r[k].params, OPTCL_ROLE_PARAMS, OPTCL_ALL,
                                    k == 0 ? straight : resumed, n),
                  "read");
        }
        if (t == 2)
            MT_OK(optcl_mpi_checkpoint_save(r[0].opt, ck), optcl_mpi_optimizer_message(r[0].opt));
        if (t >= 3)
            same_params(resumed, straight, n, name, t);
    }
    for (int k = 0; k < 2; k++)
        stop(&r[k]);
    free(p0);
    free(g);
    free(straight);
    free(resumed);
    mt_note("%s: saved by %s, resumed by %s, bit for bit", name,
            saver == MPI_COMM_WORLD ? "the world" : "rank 0 alone",
            comm == MPI_COMM_WORLD ? "the world" : "each rank alone");
}

static void int8_round_trip(void)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.lr = 0.01;
    c.state_dtype = OPTCL_STATE_INT8;
    static const optcl_tensor_spec big[] = {
        {.name = "w", .ndim = 2, .shape = {60, 100}, .group = 0},
        {.name = "b", .ndim = 1, .shape = {60}, .group = 1},
    };
    resumed_by(&c, big, 2, MPI_COMM_WORLD, MPI_COMM_WORLD, "int8");
    /* into one rank: 3 × 4352 keeps every piece at 4096 elements or more in every layout */
    static const optcl_tensor_spec wide[] = {{.name = "w", .ndim = 2, .shape = {3, 4352}}};
    resumed_by(&c, wide, 1, MPI_COMM_WORLD, MPI_COMM_SELF, "int8_reshard");
}

/* Tensor-wise rules: LAMB (Adam's two moments per element) and Adafactor (row and column
 * factors of its own shapes per matrix, a full second moment per vector) resume in the same
 * world, each rank alone, and one rank's checkpoint in the world. */
static void tensor_wise_round_trip(void)
{
    static const optcl_tensor_spec model[] = {
        {.name = "fc1.weight", .ndim = 2, .shape = {9, 13}},
        {.name = "fc1.bias", .ndim = 1, .shape = {13}},
        {.name = "conv.weight", .ndim = 4, .shape = {4, 3, 3, 3}},
        {.name = "fc2.weight", .ndim = 2, .shape = {13, 7}},
        {.name = "fc2.bias", .ndim = 1, .shape = {7}},
    };
    const optcl_algorithm algorithms[] = {OPTCL_LAMB, OPTCL_ADAFACTOR};
    for (int a = 0; a < 2; a++) {
        optcl_optimizer_config c = optcl_optimizer_config_default(algorithms[a]);
        c.weight_decay = 0.01;
        char name[64];
        snprintf(name, sizeof name, "%s", optcl_algorithm_name(algorithms[a]));
        resumed_by(&c, model, 5, MPI_COMM_WORLD, MPI_COMM_WORLD, name);
        snprintf(name, sizeof name, "%s_reshard", optcl_algorithm_name(algorithms[a]));
        resumed_by(&c, model, 5, MPI_COMM_WORLD, MPI_COMM_SELF, name);
        snprintf(name, sizeof name, "%s_from_one", optcl_algorithm_name(algorithms[a]));
        resumed_by(&c, model, 5, MPI_COMM_SELF, MPI_COMM_WORLD, name);
    }
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv, "test_mpi_checkpoint");
    make_dir();
    round_trip();
    resharded();
    int8_round_trip();
    tensor_wise_round_trip();
    generations();
    refusals();
    model_listed();
    odd_names();
    remove_dir();
    return mt_finish();
}
