/* test_faults_files.c — fault injection (issue 6, item 3), checkpoints and files: every OpenCL
 * call and file operation of saving a checkpoint over a good one, loading one, inspecting one,
 * the best/last tracker and .npy writing and reading fails in turn, the n-th for n = 1 … N
 * (fault_walk.h), on both backends where they differ. Each time the status is the failed
 * call's, nothing leaks, a failed save leaves the previous file whole and no temporary behind,
 * and a failed load leaves the optimizer exactly as it was. */
#include "fault_walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- saving a checkpoint over a good one ----------------------------------------------------- */

typedef struct save_fx {
    fw_fixture a;
    char dir[512], path[600];
    unsigned char *old_bytes, *new_bytes;
    size_t old_len, new_len;
    fw_snap state;
} save_fx;

static void save_setup(void *p)
{
    save_fx *fx = p;
    tu_write_file(fx->path, fx->old_bytes, fx->old_len); /* a successful run replaced it */
}

static optcl_status save_run(void *p)
{
    save_fx *fx = p;
    return optcl_checkpoint_save(fx->a.opt, fx->path);
}

/* The optimizer is untouched and the folder holds the checkpoint alone: the new one after a
 * success, the old one after a failure — or the new one when only syncing the folder after
 * the rename failed, which the message says. */
static void save_check(void *p, optcl_status st, const fault_shot *shot)
{
    save_fx *fx = p;
    fw_snap now;
    fw_take(&fx->a, &now);
    assert_true(fw_same_snap(&now, &fx->state));
    char names[256];
    assert_int_equal(tu_list_folder(fx->dir, names, sizeof names), 1);
    assert_string_equal(names, "ck.safetensors");
    size_t len = 0;
    unsigned char *bytes = tu_read_file(fx->path, &len);
    if (!shot) {
        fx->new_bytes = bytes;
        fx->new_len = len;
        return;
    }
    bool is_old = len == fx->old_len && memcmp(bytes, fx->old_bytes, len) == 0;
    bool is_new = len == fx->new_len && memcmp(bytes, fx->new_bytes, len) == 0;
    free(bytes);
    if (st == OPTCL_SUCCESS) {
        assert_true(is_new);
        return;
    }
    const char *message = now.message;
    if (!strstr(message, fx->path))
        fail_msg("save failing at %s: the message does not name the file: %s", shot->name, message);
    if (!is_old && !(is_new && strstr(message, "syncing its folder failed")))
        fail_msg("save failing at %s: the file is %s (%s)", shot->name,
                 is_new ? "the new one" : "neither the old nor the new one", message);
}

static void save_walk(optcl_backend backend, const char *name, const optcl_optimizer_config *c,
                      const optcl_tensor_spec *specs, size_t tensors)
{
    save_fx fx = {0};
    fw_fixture_open_on(&fx.a, tu_context(backend), c, specs, tensors);
    char *dir = tu_make_tempdir();
    assert_non_null(dir);
    snprintf(fx.dir, sizeof fx.dir, "%s", dir);
    snprintf(fx.path, sizeof fx.path, "%s/ck.safetensors", dir);
    TU_OK(optcl_checkpoint_save(fx.a.opt, fx.path), optcl_optimizer_message(fx.a.opt));
    fx.old_bytes = tu_read_file(fx.path, &fx.old_len);
    TU_OK(optcl_optimizer_step(fx.a.opt, 0, NULL, NULL), "step");
    fw_take(&fx.a, &fx.state);
    fw_walk w = {name, &fx, save_setup, save_run, save_check, fw_no_teardown, FW_ABSORB_WRITE};
    fw_walk_all(&w);
    free(fx.old_bytes);
    free(fx.new_bytes);
    tu_remove_tree(dir);
    free(dir);
    fw_fixture_close(&fx.a, true);
}

/* A walk over one optimizer's checkpoint (save_walk, load_walk). */
typedef void checkpoint_walk(optcl_backend backend, const char *name,
                             const optcl_optimizer_config *c, const optcl_tensor_spec *specs,
                             size_t tensors);

/* fw_rich_config with the gradient guard on: on OpenCL the device owns the step count then, and
 * a save reads its record, a load writes it. */
static optcl_optimizer_config guarded_config(void)
{
    optcl_optimizer_config c = fw_rich_config();
    c.max_norm = 0.5;
    return c;
}

/* The walk with Adam and everything (fw_rich_config), with it guarded, then with the rules
 * whose state is not per element (Adafactor's row and column means) or whose tensors must be
 * matrices (Muon). */
static void checkpoint_walks(optcl_backend backend, const char *what, checkpoint_walk *walk)
{
    static const optcl_algorithm tensorwise[] = {OPTCL_ADAFACTOR, OPTCL_MUON};
    const char *in = backend == OPTCL_BACKEND_OPENCL ? "opencl" : "reference";
    optcl_optimizer_config c = fw_rich_config();
    char name[64];
    snprintf(name, sizeof name, "%s (%s)", what, in);
    walk(backend, name, &c, fw_specs, FW_NTENSORS);
    c = guarded_config();
    snprintf(name, sizeof name, "%s guarded (%s)", what, in);
    walk(backend, name, &c, fw_specs, FW_NTENSORS);
    for (size_t k = 0; k < sizeof tensorwise / sizeof tensorwise[0]; k++) {
        optcl_algorithm a = tensorwise[k];
        if (tu_muon_refused(backend, a))
            continue; /* a build without CLBlast */
        size_t tensors = 0;
        const optcl_tensor_spec *specs = fw_specs_for(a, &tensors);
        c = fw_tensorwise_config(a, false);
        snprintf(name, sizeof name, "%s %s (%s)", what, optcl_algorithm_name(a), in);
        walk(backend, name, &c, specs, tensors);
    }
}

static void save_opencl(void **state)
{
    (void)state;
    if (!fw_opencl_skipped())
        checkpoint_walks(OPTCL_BACKEND_OPENCL, "save", save_walk);
}

static void save_reference(void **state)
{
    (void)state;
    checkpoint_walks(OPTCL_BACKEND_REFERENCE, "save", save_walk);
}

/* ---- loading a checkpoint -------------------------------------------------------------------- */

typedef struct load_fx {
    fw_fixture a;
    char from[512], path[512];
    fw_snap before, loaded;
    bool progress; /* optcl_checkpoint_load_progress: the run without faults tells loaded */
} load_fx;

static void load_setup(void *p)
{
    load_fx *fx = p;
    TU_OK(optcl_checkpoint_load(fx->a.opt, fx->from), optcl_optimizer_message(fx->a.opt));
}

static optcl_status load_run(void *p)
{
    load_fx *fx = p;
    return fx->progress ? optcl_checkpoint_load_progress(fx->a.opt, fx->path)
                        : optcl_checkpoint_load(fx->a.opt, fx->path);
}

/* Loaded completely, or not at all. */
static void load_check(void *p, optcl_status st, const fault_shot *shot)
{
    load_fx *fx = p;
    fw_snap now;
    fw_take(&fx->a, &now);
    if (st == OPTCL_SUCCESS && !shot && fx->progress)
        fx->loaded = now;
    if (st == OPTCL_SUCCESS) {
        assert_true(fw_same_snap(&now, &fx->loaded));
        return;
    }
    if (!strstr(now.message, fx->path))
        fail_msg("load failing at %s: the message does not name the file: %s", shot->name,
                 now.message);
    if (!fw_same_snap(&now, &fx->before))
        fail_msg("load failing at %s changed the optimizer (%s)", shot->name, now.message);
}

static void walk_load(optcl_backend backend, const char *name, const optcl_optimizer_config *c,
                      const optcl_tensor_spec *specs, size_t tensors, bool progress)
{
    load_fx fx = {.progress = progress};
    fw_fixture_open_on(&fx.a, tu_context(backend), c, specs, tensors);
    tu_path_in(fx.from, sizeof fx.from, "from.safetensors");
    tu_path_in(fx.path, sizeof fx.path, "load.safetensors");
    TU_OK(optcl_checkpoint_save(fx.a.opt, fx.from), optcl_optimizer_message(fx.a.opt));
    fw_take(&fx.a, &fx.before);
    /* The file differs in everything it holds: values, step count, lr, plateau, α. */
    for (int t = 0; t < 3; t++) {
        TU_OK(optcl_optimizer_step(fx.a.opt, 0, NULL, NULL), "step");
        TU_OK(optcl_optimizer_report_metric(fx.a.opt, 1.0), "metric");
    }
    TU_OK(optcl_optimizer_set_lr(fx.a.opt, 1, 0.005), "lr");
    TU_OK(optcl_checkpoint_save(fx.a.opt, fx.path), optcl_optimizer_message(fx.a.opt));
    fw_take(&fx.a, &fx.loaded);
    assert_false(fw_same_snap(&fx.before, &fx.loaded));
    /* With a guard, the scalar rows written after the device's record: a failed write leaves
     * them to the next step, which rewrites them first (guard.c), so the load succeeds. */
    const char *absorbs =
        c->max_norm > 0.0 ? FW_ABSORB_READ " clEnqueueWriteBuffer" : FW_ABSORB_READ;
    fw_walk w = {name, &fx, load_setup, load_run, load_check, fw_no_teardown, absorbs};
    fw_walk_all(&w);
    fw_fixture_close(&fx.a, true);
}

static void load_walk(optcl_backend backend, const char *name, const optcl_optimizer_config *c,
                      const optcl_tensor_spec *specs, size_t tensors)
{
    walk_load(backend, name, c, specs, tensors, false);
}

static void load_opencl(void **state)
{
    (void)state;
    if (fw_opencl_skipped())
        return;
    checkpoint_walks(OPTCL_BACKEND_OPENCL, "load", load_walk);
    /* the progress alone: the device's record is all it writes */
    optcl_optimizer_config c = guarded_config();
    walk_load(OPTCL_BACKEND_OPENCL, "load progress guarded (opencl)", &c, fw_specs, FW_NTENSORS,
              true);
}

static void load_reference(void **state)
{
    (void)state;
    checkpoint_walks(OPTCL_BACKEND_REFERENCE, "load", load_walk);
}

/* ---- inspecting a checkpoint, .npy files ----------------------------------------------------- */

typedef struct file_fx {
    char dir[512], path[600];
    unsigned char *old_bytes;
    size_t old_len;
    float data[FW_NUMEL];
    optcl_array array;
    optcl_tensor_spec *specs;
    size_t count;
    char message[1024];
} file_fx;

static void file_setup(void *p)
{
    file_fx *fx = p;
    if (fx->old_bytes)
        tu_write_file(fx->path, fx->old_bytes, fx->old_len);
    fx->message[0] = '\0';
}

static optcl_status npy_write_run(void *p)
{
    file_fx *fx = p;
    const size_t shape[2] = {FW_NUMEL, 1};
    return optcl_npy_write(fx->path, fx->data, shape, 2, fx->message, sizeof fx->message);
}

/* The folder holds the file alone: the new array after a success, the old bytes after a
 * failure (or the new array when only the folder's sync failed, as the message says). */
static void npy_write_check(void *p, optcl_status st, const fault_shot *shot)
{
    file_fx *fx = p;
    char names[256];
    assert_int_equal(tu_list_folder(fx->dir, names, sizeof names), 1);
    size_t len = 0;
    unsigned char *bytes = tu_read_file(fx->path, &len);
    bool is_old = len == fx->old_len && memcmp(bytes, fx->old_bytes, len) == 0;
    free(bytes);
    optcl_array a = {0};
    bool is_new = !is_old && optcl_npy_read(fx->path, &a, NULL, 0) == OPTCL_SUCCESS &&
                  a.count == FW_NUMEL && memcmp(a.data, fx->data, sizeof fx->data) == 0;
    optcl_array_free(&a);
    if (st == OPTCL_SUCCESS) {
        assert_true(is_new);
        return;
    }
    assert_non_null(strstr(fx->message, fx->path));
    if (!is_old && !(is_new && strstr(fx->message, "syncing its folder failed")))
        fail_msg("npy write failing at %s: the file is %s (%s)", shot->name,
                 is_new ? "the new one" : "damaged", fx->message);
}

static optcl_status npy_read_run(void *p)
{
    file_fx *fx = p;
    return optcl_npy_read(fx->path, &fx->array, fx->message, sizeof fx->message);
}

static void npy_read_check(void *p, optcl_status st, const fault_shot *shot)
{
    file_fx *fx = p;
    (void)shot;
    if (st == OPTCL_SUCCESS) {
        assert_int_equal(fx->array.count, FW_NUMEL);
        assert_memory_equal(fx->array.data, fx->data, sizeof fx->data);
    } else {
        assert_null(fx->array.data);
        assert_int_equal(fx->array.count, 0);
        assert_non_null(strstr(fx->message, fx->path));
    }
    optcl_array_free(&fx->array);
}

static optcl_status inspect_run(void *p)
{
    file_fx *fx = p;
    return optcl_checkpoint_inspect(fx->path, &fx->specs, &fx->count, NULL, fx->message,
                                    sizeof fx->message);
}

static void inspect_check(void *p, optcl_status st, const fault_shot *shot)
{
    file_fx *fx = p;
    (void)shot;
    if (st == OPTCL_SUCCESS) {
        assert_int_equal(fx->count, FW_NTENSORS);
        assert_string_equal(fx->specs[0].name, "w");
    } else {
        assert_null(fx->specs);
        assert_int_equal(fx->count, 0);
        assert_non_null(strstr(fx->message, fx->path));
    }
    free(fx->specs);
    fx->specs = NULL;
}

static void files(void **state)
{
    (void)state;
    file_fx fx = {0};
    char *dir = tu_make_tempdir();
    assert_non_null(dir);
    snprintf(fx.dir, sizeof fx.dir, "%s", dir);
    snprintf(fx.path, sizeof fx.path, "%s/a.npy", dir);
    fw_fill(fx.data, 21, -1.0f);
    const size_t shape[1] = {3};
    TU_OK(optcl_npy_write(fx.path, fx.data + 1, shape, 1, fx.message, sizeof fx.message),
          fx.message);
    fx.old_bytes = tu_read_file(fx.path, &fx.old_len);
    fw_walk w = {
        "npy write over a file", &fx, file_setup, npy_write_run, npy_write_check, fw_no_teardown,
        FW_ABSORB_WRITE};
    fw_walk_all(&w);
    free(fx.old_bytes);
    fx.old_bytes = NULL;
    TU_OK(npy_write_run(&fx), fx.message);
    fw_walk r = {"npy read",     &fx,           file_setup, npy_read_run, npy_read_check,
                 fw_no_teardown, FW_ABSORB_READ};
    fw_walk_all(&r);

    fw_fixture f;
    optcl_optimizer_config c = fw_rich_config();
    fw_fixture_open(&f, tu_context(OPTCL_BACKEND_REFERENCE), &c);
    snprintf(fx.path, sizeof fx.path, "%s/ck.safetensors", dir);
    TU_OK(optcl_checkpoint_save(f.opt, fx.path), optcl_optimizer_message(f.opt));
    fw_fixture_close(&f, true);
    fw_walk i = {"checkpoint inspect", &fx,           file_setup, inspect_run, inspect_check,
                 fw_no_teardown,       FW_ABSORB_READ};
    fw_walk_all(&i);
    tu_remove_tree(dir);
    free(dir);
}

/* ---- the best/last tracker ------------------------------------------------------------------- */

typedef struct tracker_fx {
    fw_fixture a;
    char dir[512], base[600];
    optcl_tracker *t;
    unsigned char *bytes[2]; /* the checkpoints of epoch 1 and epoch 2 */
    size_t len[2];
} tracker_fx;

static void tracker_setup(void *p)
{
    tracker_fx *fx = p;
    TU_OK(optcl_checkpoint_load(fx->a.opt, fx->base), optcl_optimizer_message(fx->a.opt));
    fx->t = NULL;
}

/* Epoch 2 improves, so it writes both files. */
static optcl_status tracker_epochs(tracker_fx *fx, size_t from)
{
    optcl_status st = OPTCL_SUCCESS;
    for (size_t e = from; e < 2 && st == OPTCL_SUCCESS; e++) {
        st = optcl_tracker_epoch(fx->t, 2.0, e ? 0.5 : 1.0, NULL);
        if (st == OPTCL_SUCCESS && e == 0)
            st = optcl_optimizer_step(fx->a.opt, 0, NULL, NULL); /* on the host: cannot fail */
    }
    return st;
}

static optcl_status tracker_run(void *p)
{
    tracker_fx *fx = p;
    optcl_tracker_config cfg = optcl_tracker_config_default();
    cfg.dir = fx->dir;
    optcl_status st = optcl_tracker_create(fx->a.opt, &cfg, &fx->t);
    return st == OPTCL_SUCCESS ? tracker_epochs(fx, 0) : st;
}

/* Which of the two checkpoints name holds: 0 or 1, -1 when the file is absent. */
static int tracker_file(const tracker_fx *fx, const char *name)
{
    char path[700], names[256];
    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    tu_list_folder(fx->dir, names, sizeof names);
    if (!strstr(names, name))
        return -1;
    size_t len = 0;
    unsigned char *bytes = tu_read_file(path, &len);
    int which = -2;
    for (int e = 0; e < 2 && fx->bytes[e]; e++)
        if (len == fx->len[e] && memcmp(bytes, fx->bytes[e], len) == 0)
            which = e;
    free(bytes);
    if (which == -2)
        fail_msg("%s is neither epoch's checkpoint", path);
    return which;
}

/* A failed epoch is not recorded and leaves each file absent or a whole checkpoint, never a
 * stray temporary; running the missing epochs again then ends where a run without faults
 * does. */
static void tracker_check(void *p, optcl_status st, const fault_shot *shot)
{
    tracker_fx *fx = p;
    (void)shot;
    size_t done = 0;
    if (fx->t)
        optcl_tracker_history(fx->t, &done);
    char names[256];
    size_t files = tu_list_folder(fx->dir, names, sizeof names);
    if (!shot) {
        assert_int_equal(done, 2);
        assert_string_equal(names, "best.safetensors,last.safetensors");
        return;
    }
    static const char *const allowed[] = {"", "best.safetensors", "last.safetensors",
                                          "best.safetensors,last.safetensors"};
    bool clean = false;
    for (int i = 0; i < 4; i++)
        clean = clean || strcmp(names, allowed[i]) == 0;
    if (!clean)
        fail_msg("the tracker's folder holds %zu files: %s", files, names);
    int last = tracker_file(fx, "last.safetensors"), best = tracker_file(fx, "best.safetensors");
    assert_true(last <= (int)done && best <= (int)done); /* no file ahead of the history … */
    if (st != OPTCL_SUCCESS)
        assert_true(done < 2);
    if (!fx->t)
        TU_OK(tracker_run(fx), "retry");
    else
        TU_OK(tracker_epochs(fx, done), optcl_tracker_message(fx->t));
    assert_int_equal(tracker_file(fx, "last.safetensors"), 1);
    assert_int_equal(tracker_file(fx, "best.safetensors"), 1);
}

static void tracker_teardown(void *p)
{
    tracker_fx *fx = p;
    assert_int_equal(optcl_tracker_destroy(fx->t), OPTCL_SUCCESS);
    char path[700];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", fx->dir, i ? "best.safetensors" : "last.safetensors");
        unlink(path);
    }
}

static void tracker(void **state)
{
    (void)state;
    tracker_fx fx = {0};
    optcl_optimizer_config c = fw_rich_config();
    fw_fixture_open(&fx.a, tu_context(OPTCL_BACKEND_REFERENCE), &c);
    char *dir = tu_make_tempdir();
    assert_non_null(dir);
    snprintf(fx.dir, sizeof fx.dir, "%s", dir);
    /* The base state (each run starts there) and the bytes each epoch saves — the base, then
     * one step on, each with the tracker's record of its epoch: a run without faults keeps
     * "last" after each. */
    tu_path_in(fx.base, sizeof fx.base, "tracker_base.safetensors");
    TU_OK(optcl_checkpoint_save(fx.a.opt, fx.base), "save");
    optcl_tracker_config cfg = optcl_tracker_config_default();
    cfg.dir = dir;
    TU_OK(optcl_tracker_create(fx.a.opt, &cfg, &fx.t), optcl_optimizer_message(fx.a.opt));
    for (int e = 0; e < 2; e++) {
        TU_OK(optcl_tracker_epoch(fx.t, 2.0, e ? 0.5 : 1.0, NULL), optcl_tracker_message(fx.t));
        fx.bytes[e] = tu_read_file(optcl_tracker_last_path(fx.t), &fx.len[e]);
        if (e == 0)
            TU_OK(optcl_optimizer_step(fx.a.opt, 0, NULL, NULL), "step");
    }
    tracker_teardown(&fx);
    fw_walk w = {"tracker (ref.)", &fx, tracker_setup, tracker_run, tracker_check, tracker_teardown,
                 FW_ABSORB_WRITE};
    fw_walk_all(&w);
    for (int e = 0; e < 2; e++)
        free(fx.bytes[e]);
    tu_remove_tree(dir);
    free(dir);
    fw_fixture_close(&fx.a, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(save_opencl), cmocka_unit_test(save_reference),
        cmocka_unit_test(load_opencl), cmocka_unit_test(load_reference),
        cmocka_unit_test(files),       cmocka_unit_test(tracker),
    };
    int failed = cmocka_run_group_tests(tests, tu_group_dir_setup, tu_group_dir_teardown);
    fw_summary();
    return failed;
}
