/* test_checkpoint.c — checkpoints: save/resume equals the uninterrupted run bit for bit on both
 * backends for every optimizer (with schedule, plateau and Lookahead state); the file is a
 * safetensors file with every tensor where its header says; bad files and mismatched
 * optimizers are refused and change nothing; a committed golden checkpoint still loads; a
 * process killed while saving never leaves an unreadable checkpoint; the best/last tracker;
 * the progress read from a header alone. */
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const optcl_tensor_spec specs[] = {
    {.name = "fc.weight", .ndim = 2, .shape = {5, 7}, .group = 0},
    {.name = "fc.bias", .ndim = 1, .shape = {5}, .group = 1},
    {.name = "scale", .ndim = 0, .group = 1},
};
#define NTENSORS 3
#define NUMEL (35 + 5 + 1)

static optcl_optimizer_config rich_config(optcl_algorithm a)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(a);
    static const optcl_group_config groups[2] = {{-1.0, -1.0, 0}, {-1.0, 0.0, 0}};
    /* LAMB and LARS: group 1 is left out of the trust ratio, which the file keeps */
    static const optcl_group_config excluded[2] = {{-1.0, -1.0, 0}, {-1.0, 0.0, 1}};
    bool trust_ratio = a == OPTCL_LAMB || a == OPTCL_LARS;
    c.groups = trust_ratio ? excluded : groups;
    c.group_count = 2;
    c.lr = a == OPTCL_SGD ? 0.05 : 0.01;
    if (a == OPTCL_SGD)
        c.sgd.momentum = 0.9;
    if (a == OPTCL_ADAM)
        c.adam.amsgrad = 1;
    if (a == OPTCL_RMSPROP)
        c.rmsprop.centered = 1;
    if (a != OPTCL_RPROP)
        c.weight_decay = 0.01;
    if (a == OPTCL_ADAMW_SCHEDULEFREE || a == OPTCL_SGD_SCHEDULEFREE) {
        /* no schedule, plateau or Lookahead: its own warmup and average instead */
        c.adamw_schedulefree.warmup_steps = 3;
        c.sgd_schedulefree.warmup_steps = 3;
        return c;
    }
    c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL);
    c.schedule.gamma = 0.97;
    c.plateau.enabled = 1;
    c.plateau.patience = 1;
    c.plateau.factor = 0.5;
    c.lookahead.k = 3;
    c.lookahead.alpha = 0.6;
    return c;
}

static tu_rig open_session(optcl_backend backend, const optcl_optimizer_config *c)
{
    float p0[NUMEL];
    uint64_t seed = 99;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    optcl_tensor_spec matrices[NTENSORS]; /* Muon takes 2-D tensors only */
    tu_as_matrices(specs, NTENSORS, matrices);
    return tu_rig_open(backend, c->algorithm == OPTCL_MUON ? matrices : specs, NTENSORS, p0, c);
}

/* Steps from..to-1 with deterministic gradients over the rig's set; a plateauing metric after
 * each step. */
static void run_steps(tu_rig *s, int from, int to)
{
    size_t n = optcl_params_numel(s->params);
    float *g = malloc(n * sizeof *g);
    assert_non_null(g);
    for (int t = from; t < to; t++) {
        uint64_t seed = 1000 + (uint64_t)t;
        tu_fill_random(g, n, &seed, -1.0f, 1.0f);
        TU_OK(optcl_params_write(s->params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n), "grads");
        TU_OK(optcl_optimizer_step(s->opt, 0, NULL, NULL), optcl_optimizer_message(s->opt));
        if (optcl_optimizer_config_get(s->opt)->plateau.enabled)
            TU_OK(optcl_optimizer_report_metric(s->opt, 1.0 + 1.0 / (1.0 + t % 4)), "metric");
    }
    free(g);
}

/* Parameters then every state, packed (room for 5 × SNAP floats). */
#define SNAP 64
static void snapshot(tu_rig *s, float *out)
{
    size_t n = optcl_params_numel(s->params);
    assert_true(n <= SNAP && optcl_optimizer_state_count(s->opt) < 5);
    TU_OK(optcl_params_read(s->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, out, n), "read");
    for (size_t k = 0; k < optcl_optimizer_state_count(s->opt); k++)
        TU_OK(optcl_optimizer_read_state(s->opt, optcl_optimizer_state_name(s->opt, k), OPTCL_ALL,
                                         out + (k + 1) * SNAP, tu_state_values(s->params, s->opt, k)),
              optcl_optimizer_message(s->opt));
}

static void resume_equals_uninterrupted(optcl_backend backend)
{
    char *dir = tu_make_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
        if (tu_muon_refused(backend, (optcl_algorithm)a))
            continue;
        optcl_optimizer_config c = rich_config((optcl_algorithm)a);
        float whole[5 * SNAP] = {0}, resumed[5 * SNAP] = {0};
        tu_rig s = open_session(backend, &c);
        run_steps(&s, 0, 10);
        TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
        run_steps(&s, 10, 20);
        snapshot(&s, whole);
        double lr_whole = 0.0;
        TU_OK(optcl_optimizer_get_lr(s.opt, 0, &lr_whole), "lr");
        tu_rig_close(&s);

        /* A fresh optimizer with another lr (and every group in the trust ratio): the file's
         * configuration wins. */
        optcl_optimizer_config other = c;
        other.lr = 0.123;
        static const optcl_group_config included[2] = {{-1.0, -1.0, 0}, {-1.0, 0.0, 0}};
        if (c.algorithm == OPTCL_LAMB || c.algorithm == OPTCL_LARS)
            other.groups = included;
        tu_rig r = open_session(backend, &other);
        TU_OK(optcl_checkpoint_load(r.opt, path), optcl_optimizer_message(r.opt));
        assert_int_equal(optcl_optimizer_step_count(r.opt), 10);
        run_steps(&r, 10, 20);
        snapshot(&r, resumed);
        double lr_resumed = 0.0;
        TU_OK(optcl_optimizer_get_lr(r.opt, 0, &lr_resumed), "lr");
        if (memcmp(whole, resumed, sizeof whole) != 0)
            fail_msg("%s: the resumed run differs from the uninterrupted one",
                     optcl_algorithm_name((optcl_algorithm)a));
        assert_true(lr_whole == lr_resumed);
        tu_rig_close(&r);
    }
    tu_remove_tree(dir);
    free(dir);
}

static void resume_reference(void **state)
{
    (void)state;
    resume_equals_uninterrupted(OPTCL_BACKEND_REFERENCE);
}

static void resume_opencl(void **state)
{
    (void)state;
    resume_equals_uninterrupted(OPTCL_BACKEND_OPENCL);
}

/* The running sums a rule keeps over the lrs of the steps taken (ASGD's last lr, Schedule-Free's
 * weight sum and lr_max, NAdam's μ product) are saved: with lr changes before the save (one
 * just before it) and after, the resumed run equals the uninterrupted one, on both backends,
 * with a guard too (whose rows run ahead of the count). */
static void running_sums_survive_a_checkpoint(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/running.safetensors", dir);
    const optcl_algorithm algos[] = {OPTCL_ASGD, OPTCL_ADAMW_SCHEDULEFREE, OPTCL_NADAM};
    const optcl_backend backends[] = {OPTCL_BACKEND_REFERENCE, OPTCL_BACKEND_OPENCL};
    for (int b = 0; b < 2; b++)
        for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++)
            for (int guarded = 0; guarded < 2; guarded++) {
                if (backends[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
                    continue;
                optcl_optimizer_config c = optcl_optimizer_config_default(algos[a]);
                c.lr = 0.01;
                c.max_norm = guarded ? 50.0 : 0.0;
                float whole[5 * SNAP] = {0}, resumed[5 * SNAP] = {0};
                tu_rig s = open_session(backends[b], &c);
                run_steps(&s, 0, 5);
                TU_OK(optcl_optimizer_set_lr(s.opt, -1, 0.02), "lr");
                run_steps(&s, 5, 9);
                TU_OK(optcl_optimizer_set_lr(s.opt, -1, 0.005), "lr");
                TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
                run_steps(&s, 9, 14);
                snapshot(&s, whole);
                tu_rig_close(&s);

                tu_rig r = open_session(backends[b], &c);
                TU_OK(optcl_checkpoint_load(r.opt, path), optcl_optimizer_message(r.opt));
                run_steps(&r, 9, 14);
                snapshot(&r, resumed);
                tu_rig_close(&r);
                if (memcmp(whole, resumed, sizeof whole) != 0)
                    fail_msg("%s%s (backend %d): the resumed run differs from the uninterrupted "
                             "one",
                             optcl_algorithm_name(algos[a]), guarded ? " guarded" : "", b);
            }
    tu_remove_tree(dir);
    free(dir);
}

/* optcl_checkpoint_load_progress takes everything but the tensors — step count, lrs, plateau,
 * running values — into an optimizer over other tensors, leaving its tensors as they are; an
 * optimizer of another kind is refused and keeps its progress. */
static void progress_without_tensors(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/progress.safetensors", dir);
    optcl_optimizer_config c = rich_config(OPTCL_ADAM);
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    run_steps(&s, 0, 7);
    TU_OK(optcl_optimizer_set_lr(s.opt, 1, 0.003), "lr");
    TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
    double lr[2];
    optcl_plateau_state plateau, got_plateau;
    for (int g = 0; g < 2; g++)
        TU_OK(optcl_optimizer_get_lr(s.opt, g, &lr[g]), "lr");
    TU_OK(optcl_optimizer_plateau_state(s.opt, &plateau), "plateau");
    /* the header alone gives the same step count and next lrs (schedule, plateau, set_lr) */
    char message[512] = "";
    optcl_checkpoint_progress progress;
    TU_OK(optcl_checkpoint_inspect_progress(path, &progress, message, sizeof message), message);
    assert_int_equal(progress.steps, 7);
    assert_int_equal(progress.skipped, 0);
    assert_true(progress.loss_scale == 1.0);
    for (int g = 0; g < OPTCL_MAX_GROUPS; g++) {
        double now = 0.0;
        TU_OK(optcl_optimizer_get_lr(s.opt, g, &now), "lr");
        if (progress.lr[g] != now)
            fail_msg("group %d: the header's next lr %.17g, the optimizer's %.17g", g,
                     progress.lr[g], now);
    }
    assert_true(progress.lr[1] != progress.lr[0] && plateau.scale[0] < 1.0);

    static const optcl_tensor_spec other[] = {{.name = "v", .ndim = 1, .shape = {300}}};
    float before[300], after[300];
    tu_rig r = tu_rig_open(OPTCL_BACKEND_REFERENCE, other, 1, NULL, &c);
    run_steps(&r, 0, 2);
    TU_OK(optcl_optimizer_read_state(r.opt, "exp_avg", 0, before, 300), "m");
    TU_OK(optcl_checkpoint_load_progress(r.opt, path), optcl_optimizer_message(r.opt));
    TU_OK(optcl_optimizer_read_state(r.opt, "exp_avg", 0, after, 300), "m");
    assert_memory_equal(before, after, sizeof before); /* the tensors stay */
    assert_int_equal(optcl_optimizer_step_count(r.opt), 7);
    for (int g = 0; g < 2; g++) {
        double now = 0.0;
        TU_OK(optcl_optimizer_get_lr(r.opt, g, &now), "lr");
        assert_true(now == lr[g]);
    }
    TU_OK(optcl_optimizer_plateau_state(r.opt, &got_plateau), "plateau");
    assert_memory_equal(&plateau, &got_plateau, sizeof plateau);

    optcl_optimizer_config sgd = rich_config(OPTCL_SGD);
    tu_rig w = tu_rig_open(OPTCL_BACKEND_REFERENCE, other, 1, NULL, &sgd);
    run_steps(&w, 0, 2);
    assert_int_equal(optcl_checkpoint_load_progress(w.opt, path), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(w.opt), "does not match"));
    assert_int_equal(optcl_optimizer_step_count(w.opt), 2);
    assert_int_equal(optcl_checkpoint_load_progress(w.opt, NULL), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_checkpoint_load_progress(NULL, path), OPTCL_ERROR_NULL_POINTER);
    tu_rig_close(&s);
    tu_rig_close(&r);
    tu_rig_close(&w);
    tu_remove_tree(dir);
    free(dir);
}

/* optcl_checkpoint_inspect_progress with the guard and dynamic loss scaling: skipped steps
 * and the scale are the optimizer's; a missing or damaged file or a NULL is refused, naming
 * the problem, and leaves *progress as it was. */
static void progress_of_a_guarded_run(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[512], other[512], message[512] = "";
    snprintf(path, sizeof path, "%s/guarded.safetensors", dir);
    snprintf(other, sizeof other, "%s/missing.safetensors", dir);
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.nonfinite = OPTCL_NONFINITE_SKIP;
    c.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
    c.loss_scale.growth_interval = 2;
    tu_rig s = open_session(OPTCL_BACKEND_OPENCL, &c);
    float g[NUMEL];
    for (int t = 0; t < 9; t++) {
        uint64_t seed = 500 + (uint64_t)t;
        tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
        if (t == 2 || t == 6)
            g[t] = NAN; /* skipped: the scale backs off */
        TU_OK(optcl_params_write(s.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "grads");
        TU_OK(optcl_optimizer_step(s.opt, 0, NULL, NULL), optcl_optimizer_message(s.opt));
    }
    TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
    optcl_guard_stats stats;
    TU_OK(optcl_optimizer_guard_stats(s.opt, &stats), optcl_optimizer_message(s.opt));
    optcl_checkpoint_progress progress, before;
    TU_OK(optcl_checkpoint_inspect_progress(path, &progress, message, sizeof message), message);
    assert_int_equal(progress.steps, 7);
    assert_int_equal(progress.skipped, 2);
    assert_true(progress.steps == stats.steps && progress.skipped == stats.skipped);
    assert_true(progress.loss_scale == stats.loss_scale && progress.loss_scale != 65536.0);
    assert_true(progress.lr[0] == c.lr);

    memset(&before, 0x5a, sizeof before);
    progress = before;
    assert_int_not_equal(
        optcl_checkpoint_inspect_progress(other, &progress, message, sizeof message),
        OPTCL_SUCCESS);
    assert_non_null(strstr(message, other));
    size_t size = 0;
    unsigned char *b = tu_read_file(path, &size);
    FILE *f = fopen(other, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, size / 2, f), size / 2); /* cut in half */
    assert_int_equal(fclose(f), 0);
    free(b);
    assert_int_equal(optcl_checkpoint_inspect_progress(other, &progress, message, sizeof message),
                     OPTCL_ERROR_FORMAT);
    assert_non_null(strstr(message, other));
    assert_memory_equal(&progress, &before, sizeof before);
    assert_int_equal(optcl_checkpoint_inspect_progress(NULL, &progress, message, sizeof message),
                     OPTCL_ERROR_NULL_POINTER);
    assert_non_null(strstr(message, "path is NULL"));
    assert_int_equal(optcl_checkpoint_inspect_progress(path, NULL, message, sizeof message),
                     OPTCL_ERROR_NULL_POINTER);
    assert_memory_equal(&progress, &before, sizeof before);
    tu_rig_close(&s);
    tu_remove_tree(dir);
    free(dir);
}

/* The layout Python's safetensors expects: u64 header length, JSON, data; each tensor's
 * data_offsets point at its values. */
static void file_is_safetensors(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    optcl_optimizer_config c = rich_config(OPTCL_ADAM);
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    run_steps(&s, 0, 4);
    TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
    size_t size = 0;
    unsigned char *b = tu_read_file(path, &size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];
    assert_true(8 + n <= size);
    assert_int_equal((8 + n) % 8, 0);
    char *header = strndup((const char *)b + 8, (size_t)n);
    assert_non_null(strstr(header, "\"__metadata__\""));
    assert_non_null(strstr(header, "\"format\":\"pt\""));
    /* fc.bias's values sit where its data_offsets say. */
    const char *entry = strstr(header, "\"fc.bias\":{");
    assert_non_null(entry);
    const char *offs = strstr(entry, "\"data_offsets\":[");
    assert_non_null(offs);
    unsigned long begin = 0, end = 0;
    assert_int_equal(sscanf(offs, "\"data_offsets\":[%lu,%lu]", &begin, &end), 2);
    assert_int_equal(end - begin, 5 * sizeof(float));
    float expected[NUMEL], stored[5];
    TU_OK(optcl_params_read(s.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, expected, NUMEL), "read");
    memcpy(stored, b + 8 + n + begin, sizeof stored);
    assert_memory_equal(stored, expected + 35, sizeof stored);
    assert_non_null(strstr(header, "\"optim.exp_avg.fc.weight\""));
    assert_non_null(strstr(header, "\"optim.lookahead_slow.scale\""));
    free(header);
    free(b);
    tu_rig_close(&s);
    tu_remove_tree(dir);
    free(dir);
}

static unsigned file_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 0777);
}

/* A new file gets what fopen would give it (0666 less the umask); a replaced one keeps its
 * permissions, narrower or wider. */
static void saves_keep_permissions(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    const mode_t umasks[] = {077, 022, 002};
    const unsigned created[] = {0600, 0644, 0664};
    mode_t previous = umask(077);
    for (size_t i = 0; i < 3; i++) {
        umask(umasks[i]);
        unlink(path);
        TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
        assert_int_equal(file_mode(path), created[i]);
    }
    const unsigned kept[] = {0600, 0640, 0444, 0666};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(chmod(path, kept[i]), 0);
        TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
        assert_int_equal(file_mode(path), kept[i]);
    }
    umask(previous);
    char names[256];
    assert_int_equal(tu_list_folder(dir, names, sizeof names), 1); /* no temporary left */
    tu_rig_close(&s);
    tu_remove_tree(dir);
    free(dir);
}

/* A name of up to NAME_MAX (255) bytes saves, though ".<name>.tmp.XXXXXX" would not fit: the
 * temporary keeps the start of the name (whole UTF-8 characters), and a killed save's
 * temporary of that pattern is removed by the next save. */
static void long_names_save(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    char name[256], path[1024], stray[1024], names[1024];
    const size_t lengths[] = {243, 244, 250, 255}, stems[] = {243, 243, 242, 242};
    for (size_t i = 0; i < 4; i++) {
        size_t len = lengths[i];
        memset(name, 'a', len);
        if (len > 244)
            memcpy(name + 242, "\xc3\xa9", 2); /* é across the cut at 243 */
        name[len] = '\0';
        snprintf(path, sizeof path, "%s/%s", dir, name);
        snprintf(stray, sizeof stray, "%s/.%.*s.tmp.ABCDEF", dir, (int)stems[i], name);
        tu_write_file(stray, "x", 1); /* as a killed save leaves it: unlocked */
        TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
        TU_OK(optcl_checkpoint_load(s.opt, path), optcl_optimizer_message(s.opt));
        assert_int_equal(tu_list_folder(dir, names, sizeof names), 1);
        assert_string_equal(names, name);
        assert_int_equal(unlink(path), 0);
    }
    tu_rig_close(&s);
    tu_remove_tree(dir);
    free(dir);
}

/* Each bad file: refused with a message naming the file, parameters and state unchanged. */
static void expect_refused(tu_rig *s, const char *path, const char *what)
{
    float before[5 * SNAP] = {0}, after[5 * SNAP] = {0};
    snapshot(s, before);
    uint64_t steps = optcl_optimizer_step_count(s->opt);
    optcl_status st = optcl_checkpoint_load(s->opt, path);
    if (st == OPTCL_SUCCESS)
        fail_msg("%s was accepted", what);
    if (!strstr(optcl_optimizer_message(s->opt), path))
        fail_msg("%s: message '%s' does not name the file", what, optcl_optimizer_message(s->opt));
    snapshot(s, after);
    assert_memory_equal(before, after, sizeof before);
    assert_int_equal(optcl_optimizer_step_count(s->opt), steps);
}

static void bad_files_are_refused(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s/good.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    optcl_optimizer_config c = rich_config(OPTCL_ADAM);
    tu_rig s = open_session(OPTCL_BACKEND_OPENCL, &c);
    run_steps(&s, 0, 5);
    TU_OK(optcl_checkpoint_save(s.opt, good), optcl_optimizer_message(s.opt));
    run_steps(&s, 5, 7); /* the state now differs from the file's */
    size_t size = 0;
    unsigned char *b = tu_read_file(good, &size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];

    /* Truncated: at a spread of lengths, header and data alike. */
    for (size_t len = 0; len < size; len += 1 + size / 97) {
        tu_write_file(bad, b, len);
        expect_refused(&s, bad, "a truncated file");
    }
    /* Oversized header length. */
    unsigned char *copy = malloc(size);
    memcpy(copy, b, size);
    copy[5] = 0x01;
    tu_write_file(bad, copy, size);
    expect_refused(&s, bad, "an oversized header length");
    /* Bit flips in the JSON's structure. */
    const char *marks[] = {"{", "\"dtype\":\"F32\"", "[", ":", "\"data_offsets\""};
    for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++) {
        memcpy(copy, b, size);
        char *hit = strstr((char *)copy + 8, marks[m]);
        assert_non_null(hit);
        hit[1] ^= 0x04;
        tu_write_file(bad, copy, size);
        expect_refused(&s, bad, "a bit-flipped header");
    }
    /* Overlapping offsets: the second tensor's begin moved back by 4 bytes. */
    memcpy(copy, b, size);
    char *second = strstr((char *)copy + 8, "\"data_offsets\":[");
    second = second ? strstr(second + 1, "\"data_offsets\":[") : NULL;
    assert_non_null(second);
    unsigned long begin = 0, end = 0;
    assert_int_equal(sscanf(second, "\"data_offsets\":[%lu,%lu]", &begin, &end), 2);
    char patched[64];
    int w = snprintf(patched, sizeof patched, "\"data_offsets\":[%lu,%lu]", begin - 4, end);
    int old = snprintf(NULL, 0, "\"data_offsets\":[%lu,%lu]", begin, end);
    assert_true(w <= old);
    memset(second, ' ', (size_t)old);
    memcpy(second, patched, (size_t)w); /* spaces are valid JSON whitespace */
    tu_write_file(bad, copy, size);
    expect_refused(&s, bad, "overlapping offsets");
    free(copy);
    free(b);
    /* Missing file. */
    snprintf(bad, sizeof bad, "%s/missing.safetensors", dir);
    expect_refused(&s, bad, "a missing file");
    tu_rig_close(&s);

    /* A good file for another parameter set or another optimizer. */
    optcl_tensor_spec other_specs[NTENSORS];
    memcpy(other_specs, specs, sizeof other_specs);
    other_specs[0].shape[1] = 8;
    tu_rig t = tu_rig_open(OPTCL_BACKEND_REFERENCE, other_specs, NTENSORS, NULL, &c);
    expect_refused(&t, good, "a checkpoint of another shape");
    if (!strstr(optcl_optimizer_message(t.opt), "shape [5, 7] in the file; the parameter set's is "
                                                "[5, 8]"))
        fail_msg("another shape: '%s' does not give both", optcl_optimizer_message(t.opt));
    tu_rig_close(&t);
    /* The same tensors grouped differently (the file's group settings would land wrong). */
    memcpy(other_specs, specs, sizeof other_specs);
    other_specs[1].group = 0;
    tu_rig g = tu_rig_open(OPTCL_BACKEND_REFERENCE, other_specs, NTENSORS, NULL, &c);
    expect_refused(&g, good, "a checkpoint of another grouping");
    assert_non_null(strstr(optcl_optimizer_message(g.opt), "group"));
    tu_rig_close(&g);
    optcl_optimizer_config sgd = rich_config(OPTCL_SGD);
    tu_rig u = open_session(OPTCL_BACKEND_REFERENCE, &sgd);
    expect_refused(&u, good, "an adam checkpoint for sgd");
    assert_non_null(strstr(optcl_optimizer_message(u.opt), "algorithm"));
    tu_rig_close(&u);
    optcl_optimizer_config plain = rich_config(OPTCL_ADAM);
    plain.adam.amsgrad = 0;
    tu_rig v = open_session(OPTCL_BACKEND_REFERENCE, &plain);
    expect_refused(&v, good, "an amsgrad checkpoint for adam without");
    tu_rig_close(&v);
    tu_remove_tree(dir);
    free(dir);
}

/* Step counts are saved as uint64_t and read back whole, up to 2^64 − 1; written any other way
 * than a save writes them (a sign, a space, past 2^64 − 1) they are refused. */
static void step_counts_round_trip(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[512], bad[512], message[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    const uint64_t counts[] = {(uint64_t)INT64_MAX + 1, UINT64_MAX};
    for (size_t i = 0; i < 2; i++) {
        TU_OK(optcl_optimizer_set_step_count(s.opt, counts[i]), optcl_optimizer_message(s.opt));
        TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
        TU_OK(optcl_optimizer_set_step_count(s.opt, 3), optcl_optimizer_message(s.opt));
        TU_OK(optcl_checkpoint_load(s.opt, path), optcl_optimizer_message(s.opt));
        assert_true(optcl_optimizer_step_count(s.opt) == counts[i]);
        optcl_checkpoint_progress progress;
        TU_OK(optcl_checkpoint_inspect_progress(path, &progress, message, sizeof message), message);
        assert_true(progress.steps == counts[i]);
    }
    TU_OK(optcl_optimizer_set_step_count(s.opt, 3), optcl_optimizer_message(s.opt));
    const char *const damaged[] = {" 2", "+2", "-1", "18446744073709551616", "2 ", ""};
    for (size_t i = 0; i < sizeof damaged / sizeof damaged[0]; i++) {
        tu_set_meta(path, bad, "optcl.step", damaged[i]);
        expect_refused(&s, bad, damaged[i]);
        assert_non_null(strstr(optcl_optimizer_message(s.opt), "optcl.step"));
    }
    tu_rig_close(&s);
    tu_remove_tree(dir);
    free(dir);
}

/* The configuration's fields come back exactly — the seed's every 2^64 values, a subnormal
 * eps, a seed of 2^63 or more written signed as files before it was unsigned did — and a value
 * a save would not write is refused by name: past its type's range (an int64 overflow, a
 * nonzero double that reads as 0, a seed past 2^64 − 1 or below −2^63) or with a leading
 * space or sign it never writes. */
static void config_fields_parse_exactly(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    optcl_optimizer_config c = rich_config(OPTCL_ADAM);
    c.seed = UINT64_MAX;
    c.adam.eps = 1e-310;
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
    optcl_optimizer_config other = c;
    other.seed = 7;
    other.adam.eps = 1e-8;
    tu_rig t = open_session(OPTCL_BACKEND_REFERENCE, &other);
    TU_OK(optcl_checkpoint_load(t.opt, path), optcl_optimizer_message(t.opt));
    assert_true(optcl_optimizer_config_get(t.opt)->seed == UINT64_MAX);
    assert_true(optcl_optimizer_config_get(t.opt)->adam.eps == 1e-310);
    /* files before the seed was unsigned wrote 2^63 and above as the int64 of their bits */
    static const struct {
        const char *text;
        uint64_t seed;
    } signed_seeds[] = {
        {"-6", UINT64_MAX - 5},
        {"-1", UINT64_MAX},
        {"-9223372036854775808", UINT64_C(1) << 63},
    };
    for (size_t i = 0; i < sizeof signed_seeds / sizeof signed_seeds[0]; i++) {
        tu_set_meta(path, bad, "optcl.config.seed", signed_seeds[i].text);
        TU_OK(optcl_checkpoint_load(t.opt, bad), optcl_optimizer_message(t.opt));
        assert_true(optcl_optimizer_config_get(t.opt)->seed == signed_seeds[i].seed);
    }
    tu_rig_close(&t);
    static const struct {
        const char *key, *value;
    } damaged[] = {
        {"optcl.config.seed", "18446744073709551616"},
        {"optcl.config.seed", " 5"},
        {"optcl.config.seed", "+5"},
        {"optcl.config.seed", "- 6"},
        {"optcl.config.seed", "-+6"},
        {"optcl.config.seed", " -6"},
        {"optcl.config.seed", "--6"},
        {"optcl.config.seed", "-0"},
        {"optcl.config.seed", "-9223372036854775809"},
        {"optcl.config.adam.eps", "1e-400"},
        {"optcl.config.adam.beta1", " 0.9"},
        {"optcl.config.schedule.step_size", "99999999999999999999"},
        {"optcl.config.schedule.step_size", " 3"},
        {"optcl.config.schedule.milestones", "5, 20"},
        {"optcl.config.schedule.milestones", "5,"},
        {"optcl.config.schedule.milestones", "99999999999999999999"},
        {"optcl.config.adam.amsgrad", " 1"},
    };
    for (size_t i = 0; i < sizeof damaged / sizeof damaged[0]; i++) {
        tu_set_meta(path, bad, damaged[i].key, damaged[i].value);
        expect_refused(&s, bad, damaged[i].value);
        if (!strstr(optcl_optimizer_message(s.opt), damaged[i].key))
            fail_msg("%s = '%s': '%s' does not name it", damaged[i].key, damaged[i].value,
                     optcl_optimizer_message(s.opt));
    }
    tu_rig_close(&s);
    tu_remove_tree(dir);
    free(dir);
}

/* A checkpoint of another kind of optimizer is refused naming the option that differs with
 * both values; a set of another parameter type by its tensors' types first (the file's state
 * type follows from its own parameters' type, not the loading set's). */
static void mismatches_name_both_values(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    optcl_optimizer_config saved = optcl_optimizer_config_default(OPTCL_ADAM);
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &saved);
    TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
    tu_rig_close(&s);
    static const struct {
        const char *field; /* what changes, and the message's values */
        const char *want;
    } cases[] = {
        {"amsgrad", "adam.amsgrad (0) does not match this optimizer's (1)"},
        {"lookahead.k", "lookahead.k (0) does not match this optimizer's (5)"},
        {"nonfinite", "nonfinite (0) does not match this optimizer's (1)"},
        {"max_norm", "max_norm (zero or not) (0) does not match this optimizer's (1.5)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        optcl_optimizer_config c = saved;
        c.adam.amsgrad = i == 0;
        c.lookahead.k = i == 1 ? 5 : 0;
        c.nonfinite = i == 2 ? OPTCL_NONFINITE_SKIP : OPTCL_NONFINITE_PROPAGATE;
        c.max_norm = i == 3 ? 1.5 : 0.0;
        tu_rig t = open_session(OPTCL_BACKEND_REFERENCE, &c);
        expect_refused(&t, path, cases[i].field);
        if (!strstr(optcl_optimizer_message(t.opt), cases[i].want))
            fail_msg("%s: '%s'", cases[i].field, optcl_optimizer_message(t.opt));
        tu_rig_close(&t);
    }
    /* bfloat16 parameters with bfloat16 state, into float32 parameters with bfloat16 state */
    optcl_optimizer_config bf16 = saved;
    bf16.state_dtype = OPTCL_STATE_BF16;
    tu_rig b =
        tu_rig_open_typed(OPTCL_BACKEND_REFERENCE, specs, NTENSORS, OPTCL_DTYPE_BF16, NULL, &saved);
    TU_OK(optcl_checkpoint_save(b.opt, path), optcl_optimizer_message(b.opt));
    tu_rig_close(&b);
    tu_rig f = open_session(OPTCL_BACKEND_REFERENCE, &bf16);
    expect_refused(&f, path, "bf16 parameters into f32 ones");
    if (!strstr(optcl_optimizer_message(f.opt), "is bf16; this optimizer keeps it in f32"))
        fail_msg("bf16 into f32: '%s'", optcl_optimizer_message(f.opt));
    tu_rig_close(&f);
    tu_remove_tree(dir);
    free(dir);
}

/* A checkpoint's group settings are held to what optcl_optimizer_create allows: no group weight
 * decay for a rule without weight decay, no trust-ratio exclusion outside LAMB and LARS. */
static void group_settings_are_validated(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    static const struct {
        optcl_algorithm algorithm;
        const char *key, *value, *want;
    } cases[] = {
        {OPTCL_RPROP, "optcl.group.0.weight_decay", "0.5", "rprop has no weight decay"},
        {OPTCL_ADAM, "optcl.group.3.exclude_from_trust_ratio", "1", "adam has no trust ratio"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        optcl_optimizer_config c = optcl_optimizer_config_default(cases[i].algorithm);
        tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
        TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
        TU_OK(optcl_checkpoint_load(s.opt, path), optcl_optimizer_message(s.opt));
        tu_set_meta(path, bad, cases[i].key, cases[i].value);
        expect_refused(&s, bad, cases[i].key);
        if (!strstr(optcl_optimizer_message(s.opt), cases[i].want))
            fail_msg("%s: '%s'", cases[i].key, optcl_optimizer_message(s.opt));
        tu_rig_close(&s);
    }
    tu_remove_tree(dir);
    free(dir);
}

/* The header-only readers (inspect, inspect_progress, param_dtype) refuse a parameter listing
 * that load refuses, whatever the optimizer: no tensors listed, one listed twice, a state
 * tensor listed as a parameter, state_bits other than 8 or 32. */
static void readers_refuse_what_load_refuses(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[512], bad[512], message[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    optcl_optimizer_config c = rich_config(OPTCL_ADAM);
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
    static const struct {
        const char *key, *value, *want;
    } cases[] = {
        {"optcl.tensor_count", "0", "optcl.tensor_count is 0"},
        {"optcl.tensor.1", "fc.weight", "optcl.tensor.0 and optcl.tensor.1 both name 'fc.weight'"},
        {"optcl.tensor.0", "optim.exp_avg.fc.weight", "tensor 'fc.weight' is neither"},
        {"optcl.tensor.2.state_bits", "7", "state_bits = '7' is not 8 or 32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_set_meta(path, bad, cases[i].key, cases[i].value);
        optcl_tensor_spec *specs_out = NULL;
        size_t count = 99;
        optcl_checkpoint_progress progress;
        optcl_dtype dtype = OPTCL_DTYPE_F32;
        const optcl_status got[] = {
            optcl_checkpoint_inspect(bad, &specs_out, &count, NULL, message, sizeof message),
            optcl_checkpoint_inspect_progress(bad, &progress, message, sizeof message),
            optcl_checkpoint_param_dtype(bad, &dtype, message, sizeof message),
        };
        for (size_t k = 0; k < 3; k++)
            if (got[k] != OPTCL_ERROR_FORMAT)
                fail_msg("%s = '%s': reader %zu returned %s", cases[i].key, cases[i].value, k,
                         optcl_status_name(got[k]));
        assert_null(specs_out);
        assert_int_equal(count, 0);
        if (!strstr(message, bad) || !strstr(message, cases[i].want))
            fail_msg("%s = '%s': '%s'", cases[i].key, cases[i].value, message);
        expect_refused(&s, bad, cases[i].key);
    }
    tu_rig_close(&s);
    tu_remove_tree(dir);
    free(dir);
}

/* tests/golden/checkpoints holds a checkpoint written by optcl 0.1.0 and the parameters its
 * run reached 5 steps later (made by OPTCL_WRITE_GOLDEN=1 of this test). It must load and
 * continue to those values, forever. */
static void golden_checkpoint_loads(void **state)
{
    (void)state;
    char ck[1024], expected_path[1024], message[512];
    snprintf(ck, sizeof ck, "%s/checkpoints/adam_lookahead_v0.1.safetensors", tu_golden_dir());
    snprintf(expected_path, sizeof expected_path, "%s/checkpoints/adam_lookahead_v0.1_next5.npy",
             tu_golden_dir());
    optcl_optimizer_config c = rich_config(OPTCL_ADAM);
    if (getenv("OPTCL_WRITE_GOLDEN")) {
        tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
        run_steps(&s, 0, 8);
        TU_OK(optcl_checkpoint_save(s.opt, ck), optcl_optimizer_message(s.opt));
        run_steps(&s, 8, 13);
        float p[NUMEL];
        TU_OK(optcl_params_read(s.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p, NUMEL), "read");
        size_t shape[1] = {NUMEL};
        TU_OK(optcl_npy_write(expected_path, p, shape, 1, message, sizeof message), message);
        tu_rig_close(&s);
    }
    optcl_array expected = {0};
    TU_OK(optcl_npy_read(expected_path, &expected, message, sizeof message), message);
    for (int b = 0; b < OPTCL_BACKEND_COUNT; b++) {
        optcl_tensor_spec *saved = NULL;
        size_t count = 0;
        optcl_optimizer_config saved_config;
        TU_OK(optcl_checkpoint_inspect(ck, &saved, &count, &saved_config, message, sizeof message),
              message);
        assert_int_equal(count, NTENSORS);
        assert_string_equal(saved[1].name, "fc.bias");
        assert_int_equal(saved[1].group, 1);
        assert_int_equal(saved_config.lookahead.k, 3);
        tu_rig s = tu_rig_open((optcl_backend)b, saved, count, NULL, &saved_config);
        free(saved);
        TU_OK(optcl_checkpoint_load(s.opt, ck), optcl_optimizer_message(s.opt));
        assert_int_equal(optcl_optimizer_step_count(s.opt), 8);
        run_steps(&s, 8, 13);
        float p[NUMEL];
        TU_OK(optcl_params_read(s.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p, NUMEL), "read");
        double worst = 0.0;
        assert_int_equal(tu_first_mismatch(p, expected.data, NUMEL, 1e-6, 1e-5, &worst),
                         (size_t)-1);
        tu_rig_close(&s);
    }
    optcl_array_free(&expected);
}

/* The child's gradients, without metric reports (the child has no plateau). */
static void run_plain_steps(tu_rig *s, int steps)
{
    float g[NUMEL];
    for (int t = 0; t < steps; t++) {
        uint64_t seed = 1000 + (uint64_t)t;
        tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
        TU_OK(optcl_params_write(s->params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "grads");
        TU_OK(optcl_optimizer_step(s->opt, 0, NULL, NULL), optcl_optimizer_message(s->opt));
    }
}

/* The child's loop: plain calls only (a cmocka failure must not unwind into the parent's
 * test runner inside the child). Never returns. */
static void child_save_loop(const char *path, const optcl_optimizer_config *c)
{
    optcl_context *ctx = NULL;
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = OPTCL_BACKEND_REFERENCE;
    if (optcl_context_create(&cc, &ctx, NULL, 0) ||
        optcl_params_create(ctx, specs, NTENSORS, &params) ||
        optcl_optimizer_create(params, c, &opt))
        _exit(3);
    float g[NUMEL], p0[NUMEL];
    uint64_t p0_seed = 99; /* as open_session */
    tu_fill_random(p0, NUMEL, &p0_seed, -1.0f, 1.0f);
    if (optcl_params_write(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, NUMEL))
        _exit(3);
    for (uint64_t t = 0;; t++) {
        uint64_t seed = 1000 + t;
        tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
        if (optcl_params_write(params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL) ||
            optcl_optimizer_step(opt, 0, NULL, NULL) || optcl_checkpoint_save(opt, path))
            _exit(3);
    }
}

/* A child saves checkpoints in a loop, one step further each time; SIGKILL at random moments
 * must always leave a file that loads as a complete state. */
static void kill_during_save(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    optcl_optimizer_config c = rich_config(OPTCL_SGD);
    c.plateau.enabled = 0;
    c.lookahead.k = 0;
    srand((unsigned)time(NULL));
    int kills = 0;
    for (int round = 0; round < 40; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            child_save_loop(path, &c);
        struct timespec pause = {0, 1000L * (2000 + rand() % 20000)};
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        kills += WIFSIGNALED(status);
        if (access(path, F_OK) != 0)
            continue; /* killed before the first save finished: nothing to lose yet */
        tu_rig r = open_session(OPTCL_BACKEND_REFERENCE, &c);
        TU_OK(optcl_checkpoint_load(r.opt, path), optcl_optimizer_message(r.opt));
        int steps = (int)optcl_optimizer_step_count(r.opt);
        assert_true(steps >= 1);
        /* The file holds exactly the state after `steps` steps: recompute it. */
        tu_rig e = open_session(OPTCL_BACKEND_REFERENCE, &c);
        run_plain_steps(&e, steps);
        float got[5 * SNAP] = {0}, want[5 * SNAP] = {0};
        snapshot(&r, got);
        snapshot(&e, want);
        assert_memory_equal(got, want, sizeof got);
        tu_rig_close(&e);
        tu_rig_close(&r);
    }
    assert_true(kills >= 35);
    /* The next save removes the temporaries the killed ones left: the checkpoint alone stays. */
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    TU_OK(optcl_checkpoint_save(s.opt, path), optcl_optimizer_message(s.opt));
    tu_rig_close(&s);
    char listing[256];
    tu_list_folder(dir, listing, sizeof listing);
    assert_string_equal(listing, "ck.safetensors");
    tu_remove_tree(dir);
    free(dir);
}

static void tracker_keeps_best_and_last(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    optcl_optimizer_config c = rich_config(OPTCL_SGD);
    c.plateau.enabled = 0;
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    optcl_tracker_config tc = optcl_tracker_config_default();
    tc.dir = dir;
    tc.patience = 2;
    optcl_tracker *t = NULL;
    TU_OK(optcl_tracker_create(s.opt, &tc, &t), optcl_optimizer_message(s.opt));
    assert_int_equal(optcl_optimizer_destroy(s.opt), OPTCL_ERROR_IN_USE);
    const double valid[] = {0.9, 0.7, 0.8, 0.6, 0.65, 0.61};
    const int improved[] = {1, 1, 0, 1, 0, 0};
    optcl_epoch_record r;
    for (int e = 0; e < 6; e++) {
        run_steps(&s, e, e + 1);
        TU_OK(optcl_tracker_epoch(t, 0.5, valid[e], &r), optcl_tracker_message(t));
        assert_int_equal(r.epoch, e + 1);
        assert_int_equal(r.improved, improved[e]);
        assert_true(fabs(r.gap - (valid[e] - 0.5)) < 1e-12);
        assert_int_equal(r.should_stop, e == 5);
    }
    assert_int_equal(r.best_epoch, 4);
    assert_true(r.best_metric == 0.6);
    size_t count = 0;
    const optcl_epoch_record *h = optcl_tracker_history(t, &count);
    assert_int_equal(count, 6);
    assert_true(h[2].valid_metric == 0.8);
    /* best holds epoch 4's state (4 steps), last epoch 6's. */
    tu_rig b = open_session(OPTCL_BACKEND_REFERENCE, &c);
    TU_OK(optcl_checkpoint_load(b.opt, optcl_tracker_best_path(t)), optcl_optimizer_message(b.opt));
    assert_int_equal(optcl_optimizer_step_count(b.opt), 4);
    TU_OK(optcl_checkpoint_load(b.opt, optcl_tracker_last_path(t)), optcl_optimizer_message(b.opt));
    assert_int_equal(optcl_optimizer_step_count(b.opt), 6);
    tu_rig_close(&b);
    assert_int_equal(optcl_tracker_destroy(t), OPTCL_SUCCESS);
    /* Names no save can write — ".", "..", an existing folder's — are refused when the tracker
     * is made, not at the first improving epoch, after last was saved. */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    const char *const names[][2] = {{".", "last.safetensors"},
                                    {"..", "last.safetensors"},
                                    {"best.safetensors", "."},
                                    {"sub", "last.safetensors"},
                                    {"best.safetensors", "sub"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        tc.best_name = names[i][0];
        tc.last_name = names[i][1];
        t = (optcl_tracker *)&tc;
        assert_int_equal(optcl_tracker_create(s.opt, &tc, &t), OPTCL_ERROR_INVALID_ARGUMENT);
        assert_null(t);
        const char *why = optcl_optimizer_message(s.opt);
        if (!strstr(why, strcmp(names[i][0], "best.safetensors") ? names[i][0] : names[i][1]))
            fail_msg("best_name '%s', last_name '%s': '%s'", names[i][0], names[i][1], why);
    }
    tc = optcl_tracker_config_default();
    tc.dir = dir;
    /* A folder that does not exist is refused. */
    tc.dir = "/nonexistent-optcl-folder";
    assert_int_equal(optcl_tracker_create(s.opt, &tc, &t), OPTCL_ERROR_IO);
    tu_rig_close(&s);
    tu_remove_tree(dir);
    free(dir);
}

/* A NaN or infinite metric never becomes the best: the first finite one improves, later ones
 * are compared with it, and patience counts from the start until then. */
static void tracker_skips_diverged_metrics(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    optcl_optimizer_config c = rich_config(OPTCL_SGD);
    c.plateau.enabled = 0;
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    optcl_tracker_config tc = optcl_tracker_config_default();
    tc.dir = dir;
    tc.patience = 3;
    optcl_tracker *t = NULL;
    TU_OK(optcl_tracker_create(s.opt, &tc, &t), optcl_optimizer_message(s.opt));
    const double valid[] = {NAN, INFINITY, 1.0, NAN, 0.5, 0.25, -INFINITY};
    const int improved[] = {0, 0, 1, 0, 1, 1, 0};
    const int64_t best_epoch[] = {0, 0, 3, 3, 5, 6, 6};
    optcl_epoch_record r;
    for (int e = 0; e < 7; e++) {
        run_steps(&s, e, e + 1);
        TU_OK(optcl_tracker_epoch(t, 0.5, valid[e], &r), optcl_tracker_message(t));
        assert_int_equal(r.improved, improved[e]);
        assert_int_equal(r.best_epoch, best_epoch[e]);
        assert_true(best_epoch[e] == 0 ? isnan(r.best_metric)
                                       : r.best_metric == valid[best_epoch[e] - 1]);
        assert_int_equal(r.should_stop, 0);
    }
    tu_rig b = open_session(OPTCL_BACKEND_REFERENCE, &c); /* best: epoch 6's 6 steps */
    TU_OK(optcl_checkpoint_load(b.opt, optcl_tracker_best_path(t)), optcl_optimizer_message(b.opt));
    assert_int_equal(optcl_optimizer_step_count(b.opt), 6);
    tu_rig_close(&b);
    TU_OK(optcl_tracker_destroy(t), "destroy");
    /* Only diverged metrics: patience runs out from the first epoch. */
    TU_OK(optcl_tracker_create(s.opt, &tc, &t), optcl_optimizer_message(s.opt));
    for (int e = 0; e < 3; e++) {
        TU_OK(optcl_tracker_epoch(t, 0.5, NAN, &r), optcl_tracker_message(t));
        assert_int_equal(r.should_stop, e == 2);
    }
    TU_OK(optcl_tracker_destroy(t), "destroy");
    tu_rig_close(&s);
    tu_remove_tree(dir);
    free(dir);
}

/* Epochs of a tracker on rig s, one step each (the steps run from..), with these metrics. */
static void track(tu_rig *s, optcl_tracker *t, int from, const double *metrics, int n,
                  optcl_epoch_record *r)
{
    for (int e = 0; e < n; e++) {
        run_steps(s, from + e, from + e + 1);
        TU_OK(optcl_tracker_epoch(t, 0.5, metrics[e], r), optcl_tracker_message(t));
    }
}

static uint64_t steps_in(const char *path)
{
    optcl_checkpoint_progress progress;
    char message[512];
    TU_OK(optcl_checkpoint_inspect_progress(path, &progress, message, sizeof message), message);
    return progress.steps;
}

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    unsigned char *bytes = tu_read_file(from, &len);
    tu_write_file(to, bytes, len);
    free(bytes);
}

/* A new tracker on dir for rig s, resumed from the files there (expect: its status). */
static optcl_tracker *resumed(tu_rig *s, optcl_tracker_config tc, optcl_status expect,
                              const char *why)
{
    optcl_tracker *t = NULL;
    TU_OK(optcl_tracker_create(s->opt, &tc, &t), optcl_optimizer_message(s->opt));
    optcl_status st = optcl_tracker_resume(t);
    if (st != expect || (why && !strstr(optcl_tracker_message(t), why)))
        fail_msg("resume: %s '%s', expected %s '%s'", optcl_status_name(st),
                 optcl_tracker_message(t), optcl_status_name(expect), why ? why : "");
    return t;
}

/* A tracker of a resumed run takes up the record the files keep: epochs number on, "best" is
 * overwritten only by an epoch that beats the run's best (the one "best" holds), and patience
 * counts on; files without a record, of the other mode or of two runs are refused, changing
 * nothing. */
static void tracker_resumes_the_run(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir(), best[600], last[600], best5[640], last4[640];
    snprintf(best, sizeof best, "%s/best.safetensors", dir);
    snprintf(last, sizeof last, "%s/last.safetensors", dir);
    snprintf(best5, sizeof best5, "%s/best5.aside", dir);
    snprintf(last4, sizeof last4, "%s/last4.aside", dir);
    optcl_optimizer_config c = rich_config(OPTCL_SGD);
    c.plateau.enabled = 0;
    optcl_tracker_config tc = optcl_tracker_config_default();
    tc.dir = dir;
    tc.patience = 2;
    tu_rig s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    optcl_tracker *t = resumed(&s, tc, OPTCL_ERROR_IO, last); /* nothing to resume yet */
    optcl_epoch_record r;
    const double first[] = {0.5, 0.1, 0.3};
    track(&s, t, 0, first, 3, &r); /* the refused resume changed nothing */
    assert_true(r.epoch == 3 && r.best_epoch == 2);
    TU_OK(optcl_tracker_destroy(t), "destroy");
    tu_rig_close(&s);

    /* the resumed run: load "last", a new tracker on the folder, resume */
    s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    TU_OK(optcl_checkpoint_load(s.opt, last), optcl_optimizer_message(s.opt));
    t = resumed(&s, tc, OPTCL_SUCCESS, NULL);
    const double worse = 0.9, better = 0.05, best_of_all = 0.01, between = 0.03;
    track(&s, t, 3, &worse, 1, &r);
    assert_true(r.epoch == 4 && !r.improved && r.best_epoch == 2 && r.best_metric == 0.1);
    assert_int_equal(r.should_stop, 1); /* two epochs since the best */
    assert_int_equal(steps_in(best), 2);
    assert_int_equal(steps_in(last), 4);
    copy_file(last, last4);
    track(&s, t, 4, &better, 1, &r);
    assert_true(r.epoch == 5 && r.improved && r.best_epoch == 5 && !r.should_stop);
    assert_int_equal(steps_in(best), 5);
    size_t count = 0;
    const optcl_epoch_record *h = optcl_tracker_history(t, &count);
    assert_true(count == 2 && h[0].epoch == 4 && h[1].epoch == 5);
    assert_int_equal(optcl_tracker_resume(t), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_tracker_message(t), "before the first optcl_tracker_epoch"));
    copy_file(best, best5);
    track(&s, t, 5, &best_of_all, 1, &r);
    TU_OK(optcl_tracker_destroy(t), "destroy");

    /* "last" names epoch 6 the best, but its save of "best" was cut short: "best" still holds
     * epoch 5, the best to beat — so epoch 7, better than 5 though not than 6, writes it */
    copy_file(best5, best);
    t = resumed(&s, tc, OPTCL_SUCCESS, NULL);
    track(&s, t, 6, &between, 1, &r);
    assert_true(r.epoch == 7 && r.improved && r.best_epoch == 7);
    assert_int_equal(steps_in(best), 7);
    TU_OK(optcl_tracker_destroy(t), "destroy");

    /* refused: the other mode; a "best" later than the best "last" knows (two runs); a "last"
     * without a record */
    tc.mode_max = 1;
    TU_OK(optcl_tracker_destroy(resumed(&s, tc, OPTCL_ERROR_INVALID_ARGUMENT, "mode min")),
          "destroy");
    tc.mode_max = 0;
    copy_file(last4, last);
    TU_OK(optcl_tracker_destroy(resumed(&s, tc, OPTCL_ERROR_INVALID_ARGUMENT, "not of one run")),
          "destroy");
    TU_OK(optcl_checkpoint_save(s.opt, last), optcl_optimizer_message(s.opt));
    TU_OK(optcl_tracker_destroy(resumed(&s, tc, OPTCL_ERROR_FORMAT, "no tracker record")),
          "destroy");
    tu_rig_close(&s);
    tu_remove_tree(dir);
    free(dir);

    /* a run without a finite metric yet: no best to take up; the next finite metric is it */
    dir = tu_make_tempdir();
    tc.dir = dir;
    s = open_session(OPTCL_BACKEND_REFERENCE, &c);
    t = resumed(&s, tc, OPTCL_ERROR_IO, NULL);
    const double diverged[] = {NAN, NAN}, finite = 0.7;
    track(&s, t, 0, diverged, 2, &r);
    TU_OK(optcl_tracker_destroy(t), "destroy");
    t = resumed(&s, tc, OPTCL_SUCCESS, NULL);
    track(&s, t, 2, &finite, 1, &r);
    assert_true(r.epoch == 3 && r.improved && r.best_epoch == 3 && r.best_metric == 0.7);
    TU_OK(optcl_tracker_destroy(t), "destroy");
    tu_rig_close(&s);
    tu_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resume_reference),
        cmocka_unit_test(resume_opencl),
        cmocka_unit_test(running_sums_survive_a_checkpoint),
        cmocka_unit_test(progress_without_tensors),
        cmocka_unit_test(progress_of_a_guarded_run),
        cmocka_unit_test(file_is_safetensors),
        cmocka_unit_test(saves_keep_permissions),
        cmocka_unit_test(long_names_save),
        cmocka_unit_test(bad_files_are_refused),
        cmocka_unit_test(step_counts_round_trip),
        cmocka_unit_test(config_fields_parse_exactly),
        cmocka_unit_test(mismatches_name_both_values),
        cmocka_unit_test(group_settings_are_validated),
        cmocka_unit_test(readers_refuse_what_load_refuses),
        cmocka_unit_test(golden_checkpoint_loads),
        cmocka_unit_test(kill_during_save),
        cmocka_unit_test(tracker_keeps_best_and_last),
        cmocka_unit_test(tracker_skips_diverged_metrics),
        cmocka_unit_test(tracker_resumes_the_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
