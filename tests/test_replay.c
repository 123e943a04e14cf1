/* test_replay.c — `optcl replay` end to end (tu_cli_path()).
 *
 * A good run writes OUT (T, N) whose rows are a hand-computed SGD trajectory; every bad input
 * (missing or unreadable file, not float32 .npy, fortran order, truncated or malformed header,
 * short data, shapes that disagree, unknown optimizer/key/backend, malformed or out-of-range
 * value, missing option; schedule, plateau and Lookahead keys that are wrong, out of range or
 * without effect; --metrics missing, of the wrong shape or without schedule=plateau;
 * --load-state of a missing, truncated or foreign checkpoint or with another optimizer or lr)
 * must give a non-zero exit, exactly one non-empty line on stderr, no OUT file and no stray
 * temporary file. Input files are written here byte by byte (the checkpoints by the CLI). */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optcl.h"

#define STDERR_CAP 8192
#define MAX_ARGS 32

/* The fixture: <tu_group_dir()>/in holds the input files, <tu_group_dir()>/out receives OUT. */
static char g_in[1024];
static char g_out[1024];

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* <in>/name with exactly size bytes. */
static void rp_write_bytes(const char *name, const void *bytes, size_t size)
{
    char path[1280];
    snprintf(path, sizeof path, "%s/%s", g_in, name);
    tu_write_file(path, bytes, size);
}

/* Builds a version 1.0 .npy image: magic, version, header length, the dict text padded with
 * spaces and a newline to a multiple of 64 bytes, then payload. header_cut (if nonzero) cuts
 * the file after that many bytes. */
static void rp_write_npy(const char *name, const char *dict, const void *payload,
                         size_t payload_size, size_t header_cut)
{
    size_t dict_len = strlen(dict);
    size_t hlen = dict_len + 1;
    while ((10 + hlen) % 64 != 0)
        hlen++;
    size_t total = 10 + hlen + payload_size;
    unsigned char *buf = malloc(total);
    assert_non_null(buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, dict_len);
    memset(buf + 10 + dict_len, ' ', hlen - dict_len - 1);
    buf[10 + hlen - 1] = '\n';
    if (payload_size)
        memcpy(buf + 10 + hlen, payload, payload_size);
    rp_write_bytes(name, buf, header_cut ? header_cut : total);
    free(buf);
}

/* A '<f4' C-order array of the given shape text ("(3,)", "(2, 3)"). */
static void rp_write_f4(const char *name, const char *shape, const float *data, size_t count)
{
    char dict[256];
    snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }",
             shape);
    rp_write_npy(name, dict, data, count * sizeof(float), 0);
}

/* Expands an argument: "@OUT" is <out>/OUT.npy (and "@EVAL" <out>/EVAL.npy), "@name" is <in>/name, anything else as is. */
static char *rp_expand(const char *arg)
{
    char buf[1536];
    if (strcmp(arg, "@OUT") == 0)
        snprintf(buf, sizeof buf, "%s/OUT.npy", g_out);
    else if (strcmp(arg, "@EVAL") == 0)
        snprintf(buf, sizeof buf, "%s/EVAL.npy", g_out);
    else if (strcmp(arg, "@OUT_NODIR") == 0)
        snprintf(buf, sizeof buf, "%s/no/such/folder/OUT.npy", g_out);
    else if (arg[0] == '@')
        snprintf(buf, sizeof buf, "%s/%s", g_in, arg + 1);
    else
        snprintf(buf, sizeof buf, "%s", arg);
    char *s = strdup(buf);
    assert_non_null(s);
    return s;
}

/* Runs `optcl replay <args…>`; argv is NULL-terminated (without the program and "replay"). */
static int rp_replay(const char *const *args, char *err, size_t err_size, char *cmdline,
                     size_t cmd_size)
{
    char *argv[MAX_ARGS + 3];
    int argc = 0;
    argv[argc++] = strdup(tu_cli_path());
    argv[argc++] = strdup("replay");
    for (size_t i = 0; args[i]; i++) {
        assert_true(argc < MAX_ARGS);
        argv[argc++] = rp_expand(args[i]);
    }
    argv[argc] = NULL;
    tu_join_args(cmdline, cmd_size, (const char *const *)argv + 1);
    int rc = tu_run(argv, err, err_size);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return rc;
}

static void rp_clear_out(void)
{
    tu_remove_tree(g_out);
    if (mkdir(g_out, 0700) != 0)
        fail_msg("cannot create %s: %s", g_out, strerror(errno));
}

/* ---------------------------------------------------------------------------------------- */
/* Fixture: every input file                                                                */
/* ---------------------------------------------------------------------------------------- */

/* The hand-computed case: N = 3, T = 2, lr = 0.5, every value exact in binary. */
static const float P0[3] = {1.0f, -2.0f, 0.5f};
static const float G[2][3] = {{1.0f, 0.5f, -2.0f}, {0.25f, -1.0f, 4.0f}};
static const float EXPECTED[2][3] = {{0.5f, -2.25f, 1.5f}, {0.375f, -1.75f, -0.5f}};

static int rp_setup(void **state)
{
    if (tu_group_dir_setup(state) != 0)
        return -1;
    tu_path_in(g_in, sizeof g_in, "in");
    tu_path_in(g_out, sizeof g_out, "out");
    if (mkdir(g_in, 0700) != 0 || mkdir(g_out, 0700) != 0)
        return -1;

    /* Good inputs. */
    rp_write_f4("p.npy", "(3,)", P0, 3);
    rp_write_f4("g.npy", "(2, 3)", &G[0][0], 6);

    /* Not float32: the same values as '<f8'. */
    double p0d[3] = {1.0, -2.0, 0.5};
    rp_write_npy("p_f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", p0d,
                 sizeof p0d, 0);
    /* Fortran order (2, 3). */
    float gt[6] = {G[0][0], G[1][0], G[0][1], G[1][1], G[0][2], G[1][2]};
    rp_write_npy("g_fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                 gt, sizeof gt, 0);
    /* Short data: the header says (2, 3) but only 5 floats follow. */
    rp_write_npy("g_short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                 &G[0][0], 5 * sizeof(float), 0);
    /* Truncated inside the header. */
    rp_write_npy("g_cut.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                 &G[0][0], sizeof G, 30);
    /* Only the magic. */
    rp_write_bytes("g_magic.npy", "\x93NUMPY", 6);
    /* Malformed headers: no shape, a broken shape, not a dict. */
    rp_write_npy("g_noshape.npy", "{'descr': '<f4', 'fortran_order': False, }", &G[0][0],
                 sizeof G, 0);
    rp_write_npy("g_badshape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }",
                 &G[0][0], sizeof G, 0);
    rp_write_npy("g_garbage.npy", "this is not a python dict at all", &G[0][0], sizeof G, 0);
    /* Not an .npy file at all, and an empty one. */
    const char text[] = "0.1 0.2 0.3\n0.4 0.5 0.6\n";
    rp_write_bytes("g_text.npy", text, sizeof text - 1);
    rp_write_bytes("g_empty.npy", "", 0);
    /* A wrong magic with an otherwise good file. */
    {
        char path[1280];
        rp_write_f4("g_magic_bad.npy", "(2, 3)", &G[0][0], 6);
        snprintf(path, sizeof path, "%s/g_magic_bad.npy", g_in);
        FILE *fh = fopen(path, "r+b");
        assert_non_null(fh);
        fputc('X', fh);
        fclose(fh);
    }
    /* Shapes that disagree. */
    float g8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    rp_write_f4("g_n4.npy", "(2, 4)", g8, 8);
    rp_write_f4("g_1d.npy", "(3,)", &G[0][0], 3);
    rp_write_f4("g_t0.npy", "(0, 3)", NULL, 0); /* no steps */
    rp_write_f4("g_3d.npy", "(2, 3, 1)", &G[0][0], 6);
    rp_write_f4("p_2d.npy", "(1, 3)", P0, 3);
    /* A folder where a file is expected. */
    char sub[1280];
    snprintf(sub, sizeof sub, "%s/folder.npy", g_in);
    if (mkdir(sub, 0700) != 0)
        return -1;

    /* Metrics: one per step (T = 2), one too many, and 2-D. */
    static const float M[3] = {1.0f, 0.5f, 0.25f};
    rp_write_f4("m.npy", "(2,)", M, 2);
    rp_write_f4("m3.npy", "(3,)", M, 3);
    rp_write_f4("m_2d.npy", "(2, 1)", M, 2);
    /* A checkpoint of sgd lr=0.5 (written by the CLI), and two truncated copies of it: cut in
     * half, and short of its last 4 bytes. */
    const char *save[] = {"sgd", "--params", "@p.npy", "--grads", "@g.npy", "--out",
                          "@ck_out.npy", "--save-state", "@ck_sgd.safetensors", "--backend",
                          "reference", "lr=0.5", NULL};
    char err[STDERR_CAP], cmd[2048], path[1280];
    if (rp_replay(save, err, sizeof err, cmd, sizeof cmd) != 0) {
        print_error("`optcl %s` failed: %s\n", cmd, err);
        return -1;
    }
    snprintf(path, sizeof path, "%s/ck_sgd.safetensors", g_in);
    size_t ck_size = 0;
    unsigned char *ck = tu_read_file(path, &ck_size);
    if (ck_size < 64) {
        free(ck);
        return -1;
    }
    rp_write_bytes("ck_cut_half.safetensors", ck, ck_size / 2);
    rp_write_bytes("ck_cut_data.safetensors", ck, ck_size - 4);
    free(ck);
    /* a sharded checkpoint's manifest (its rank files are not needed to tell what it is) */
    const char manifest[] = "optcl-mpi-checkpoint 2\ngeneration 1\nworld_size 2\nnumel 3\n";
    rp_write_bytes("ck_sharded", manifest, sizeof manifest - 1);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Good runs                                                                                */
/* ---------------------------------------------------------------------------------------- */

/* extra: one more KEY=VALUE that must not change plain SGD's result (NULL: none). */
static void rp_good_run(const char *backend, const char *extra)
{
    rp_clear_out();
    const char *args[] = {"sgd", "--params", "@p.npy", "--grads", "@g.npy", "--out", "@OUT",
                          "--backend", backend, "lr=0.5", extra, NULL};
    char err[STDERR_CAP], cmd[2048];
    int rc = rp_replay(args, err, sizeof err, cmd, sizeof cmd);
    if (rc != 0)
        fail_msg("`optcl %s` exited %d: %s", cmd, rc, err);

    char path[1280], msg[1024] = "";
    snprintf(path, sizeof path, "%s/OUT.npy", g_out);
    optcl_array out = {0};
    TU_OK(optcl_npy_read(path, &out, msg, sizeof msg), msg);
    assert_int_equal(out.ndim, 2);
    assert_int_equal(out.shape[0], 2);
    assert_int_equal(out.shape[1], 3);
    assert_int_equal(out.count, 6);
    for (size_t t = 0; t < 2; t++)
        for (size_t i = 0; i < 3; i++)
            if (out.data[t * 3 + i] != EXPECTED[t][i])
                fail_msg("%s: step %zu element %zu: got %.9g, expected %.9g", backend, t + 1, i,
                         (double)out.data[t * 3 + i], (double)EXPECTED[t][i]);
    optcl_array_free(&out);

    /* OUT and nothing else. */
    char names[1024];
    if (tu_list_folder(g_out, names, sizeof names) != 1)
        fail_msg("%s: the output folder holds more than OUT: %s", backend, names);
}

static void test_good_reference(void **state)
{
    (void)state;
    rp_good_run("reference", NULL);
    rp_good_run("reference", "state_dtype=bf16"); /* plain SGD keeps no state */
    rp_good_run("reference", "state_dtype=f32");
}

static void test_good_opencl(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    rp_good_run("opencl", NULL);
    rp_good_run("opencl", "state_dtype=bf16");
    rp_good_run("opencl", "param_dtype=f32");
}

/* An existing input is never touched by a run, good or bad. */
static void test_inputs_untouched(void **state)
{
    (void)state;
    char path[1280], msg[1024] = "";
    snprintf(path, sizeof path, "%s/g.npy", g_in);
    optcl_array g = {0};
    TU_OK(optcl_npy_read(path, &g, msg, sizeof msg), msg);
    assert_int_equal(g.ndim, 2);
    assert_memory_equal(g.data, &G[0][0], sizeof G);
    optcl_array_free(&g);
}

/* ---------------------------------------------------------------------------------------- */
/* Bad inputs                                                                               */
/* ---------------------------------------------------------------------------------------- */

typedef struct bad_case {
    const char *name;
    const char *args[MAX_ARGS];
} bad_case;

#define GOOD_FILES "--params", "@p.npy", "--grads", "@g.npy", "--out", "@OUT", "--backend", \
                   "reference"

static const bad_case BAD_CASES[] = {
    /* Files. */
    {"params_missing",
     {"sgd", "--params", "@nope.npy", "--grads", "@g.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"grads_missing",
     {"sgd", "--params", "@p.npy", "--grads", "@nope.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"params_is_folder",
     {"sgd", "--params", "@folder.npy", "--grads", "@g.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"params_f8",
     {"sgd", "--params", "@p_f8.npy", "--grads", "@g.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"grads_fortran",
     {"sgd", "--params", "@p.npy", "--grads", "@g_fortran.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"grads_short_data",
     {"sgd", "--params", "@p.npy", "--grads", "@g_short.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"grads_truncated_header",
     {"sgd", "--params", "@p.npy", "--grads", "@g_cut.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"grads_magic_only",
     {"sgd", "--params", "@p.npy", "--grads", "@g_magic.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"grads_wrong_magic",
     {"sgd", "--params", "@p.npy", "--grads", "@g_magic_bad.npy", "--out", "@OUT",
      "--backend", "reference"}},
    {"grads_header_no_shape",
     {"sgd", "--params", "@p.npy", "--grads", "@g_noshape.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"grads_header_bad_shape",
     {"sgd", "--params", "@p.npy", "--grads", "@g_badshape.npy", "--out", "@OUT",
      "--backend", "reference"}},
    {"grads_header_garbage",
     {"sgd", "--params", "@p.npy", "--grads", "@g_garbage.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"grads_text_file",
     {"sgd", "--params", "@p.npy", "--grads", "@g_text.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"grads_empty_file",
     {"sgd", "--params", "@p.npy", "--grads", "@g_empty.npy", "--out", "@OUT", "--backend",
      "reference"}},
    /* Shapes. */
    {"grads_wrong_n",
     {"sgd", "--params", "@p.npy", "--grads", "@g_n4.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"grads_1d",
     {"sgd", "--params", "@p.npy", "--grads", "@g_1d.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"grads_3d",
     {"sgd", "--params", "@p.npy", "--grads", "@g_3d.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"params_2d",
     {"sgd", "--params", "@p_2d.npy", "--grads", "@g.npy", "--out", "@OUT", "--backend",
      "reference"}},
    /* Options. */
    {"no_out", {"sgd", "--params", "@p.npy", "--grads", "@g.npy", "--backend", "reference"}},
    {"no_params", {"sgd", "--grads", "@g.npy", "--out", "@OUT", "--backend", "reference"}},
    {"no_grads", {"sgd", "--params", "@p.npy", "--out", "@OUT", "--backend", "reference"}},
    {"out_folder_missing",
     {"sgd", "--params", "@p.npy", "--grads", "@g.npy", "--out", "@OUT_NODIR", "--backend",
      "reference"}},
    {"unknown_backend",
     {"sgd", "--params", "@p.npy", "--grads", "@g.npy", "--out", "@OUT", "--backend",
      "cuda"}},
    {"unknown_optimizer", {"sophia", GOOD_FILES}},
    {"unknown_key", {"sgd", GOOD_FILES, "foo=1"}},
    {"key_without_value", {"sgd", GOOD_FILES, "lr"}},
    {"empty_value", {"sgd", GOOD_FILES, "lr="}},
    {"trailing_garbage", {"sgd", GOOD_FILES, "lr=1e-3x"}},
    {"negative_lr", {"sgd", GOOD_FILES, "lr=-1"}},
    {"nan_lr", {"adam", GOOD_FILES, "lr=nan"}},
    {"momentum_not_number", {"sgd", GOOD_FILES, "momentum=abc"}},
    {"nesterov_without_momentum", {"sgd", GOOD_FILES, "nesterov=1", "momentum=0"}},
    {"ema_with_dampening", {"sgd", GOOD_FILES, "ema=1", "momentum=0.9", "dampening=0.5"}},
    {"beta1_too_big", {"adam", GOOD_FILES, "beta1=1.5"}},
    {"negative_eps", {"adam", GOOD_FILES, "eps=-1"}},
    {"boolean_not_0_or_1", {"adam", GOOD_FILES, "amsgrad=2"}},
    {"etaminus_too_big", {"rprop", GOOD_FILES, "etaminus=1.5"}},
    {"etaplus_too_small", {"rprop", GOOD_FILES, "etaplus=0.5"}},
    {"unknown_rprop_variant", {"rprop", GOOD_FILES, "variant=bogus"}},
    {"key_of_another_optimizer", {"sgd", GOOD_FILES, "beta1=0.9"}},
    {"nadam_decoupled_not_0_or_1", {"nadam", GOOD_FILES, "decoupled_weight_decay=2"}},
    {"adagrad_negative_lr_decay", {"adagrad", GOOD_FILES, "lr_decay=-1"}},
    {"asgd_int8", {"asgd", GOOD_FILES, "state_dtype=int8"}},
    {"schedulefree_beta1_zero", {"adamw_schedulefree", GOOD_FILES, "beta1=0"}},
    {"schedulefree_with_schedule", {"sgd_schedulefree", GOOD_FILES, "schedule=cosine"}},
    {"out_eval_without_modes", {"adam", GOOD_FILES, "--out-eval", "@EVAL"}},
    {"out_eval_without_modes_no_steps",
     {"adam", "--params", "@p.npy", "--grads", "@g_t0.npy", "--out", "@OUT", "--backend",
      "reference", "--out-eval", "@EVAL"}},
    {"out_eval_no_value", {"adamw_schedulefree", GOOD_FILES, "--out-eval"}},
    /* The layout (N = 3 here), LAMB's and LARS's trust ratio, Adafactor's options. */
    {"tensors_too_few", {"lamb", GOOD_FILES, "tensors=1,1"}},
    {"tensors_too_many", {"lars", GOOD_FILES, "tensors=2,2"}},
    {"tensors_zero_dim", {"lars", GOOD_FILES, "tensors=3x0,3"}},
    {"tensors_empty", {"lamb", GOOD_FILES, "tensors="}},
    {"shape_bad", {"lamb", GOOD_FILES, "shape=3x1"}},
    /* every dimension is digits: no empty item (a hidden 0-d tensor), trailing x, sign, space */
    {"tensors_trailing_comma", {"lamb", GOOD_FILES, "tensors=2,"}},
    {"tensors_leading_comma", {"lamb", GOOD_FILES, "tensors=,3"}},
    {"tensors_empty_item", {"lamb", GOOD_FILES, "tensors=1,,2"}},
    {"tensors_trailing_x", {"lamb", GOOD_FILES, "tensors=3x"}},
    {"tensors_plus_sign", {"lamb", GOOD_FILES, "tensors=+3"}},
    {"tensors_space", {"lamb", GOOD_FILES, "tensors= 3"}},
    {"tensors_dim_overflow", {"lamb", GOOD_FILES, "tensors=3x99999999999999999999"}},
    {"shape_trailing_comma", {"lamb", GOOD_FILES, "shape=3,"}},
    {"shape_plus_sign", {"lamb", GOOD_FILES, "shape=+3,1"}},
    {"shape_space", {"lamb", GOOD_FILES, "shape=3, 1"}},
    {"shape_and_tensors", {"lamb", GOOD_FILES, "shape=3", "tensors=3"}},
    {"trust_ratio_mask_bogus", {"lamb", GOOD_FILES, "trust_ratio_mask=2"}},
    {"trust_ratio_mask_adam", {"adam", GOOD_FILES, "trust_ratio_mask=0"}},
    {"lamb_eps_zero", {"lamb", GOOD_FILES, "eps=0"}},
    {"lars_int8", {"lars", GOOD_FILES, "state_dtype=int8"}},
    {"adafactor_bf16_state", {"adafactor", GOOD_FILES, "state_dtype=bf16"}},
    {"adafactor_d_below_1", {"adafactor", GOOD_FILES, "d=0.5"}},
    {"adafactor_beta2_decay_positive", {"adafactor", GOOD_FILES, "beta2_decay=0.5"}},
    {"adafactor_trust_ratio_mask", {"adafactor", GOOD_FILES, "trust_ratio_mask=0"}},
    /* Schedules, ReduceLROnPlateau and --metrics. */
    {"plateau_without_metrics", {"sgd", GOOD_FILES, "schedule=plateau"}},
    {"metrics_wrong_length", {"sgd", GOOD_FILES, "--metrics", "@m3.npy", "schedule=plateau"}},
    {"metrics_2d", {"sgd", GOOD_FILES, "--metrics", "@m_2d.npy", "schedule=plateau"}},
    {"metrics_missing_file", {"sgd", GOOD_FILES, "--metrics", "@nope.npy", "schedule=plateau"}},
    {"metrics_without_plateau", {"sgd", GOOD_FILES, "--metrics", "@m.npy"}},
    {"metrics_with_cosine", {"sgd", GOOD_FILES, "--metrics", "@m.npy", "schedule=cosine"}},
    {"schedule_bogus", {"sgd", GOOD_FILES, "schedule=bogus"}},
    /* the last schedule= wins: plateau is off again, so --metrics has no use */
    {"plateau_then_constant_with_metrics",
     {"sgd", GOOD_FILES, "--metrics", "@m.npy", "schedule=plateau", "schedule=constant"}},
    /* counts that overflow are refused, not capped; lists need every item */
    {"t_max_overflow", {"sgd", GOOD_FILES, "schedule=cosine", "t_max=18446744073709551617"}},
    {"step_size_overflow", {"sgd", GOOD_FILES, "schedule=step", "step_size=9223372036854775808"}},
    {"milestones_empty", {"sgd", GOOD_FILES, "schedule=multistep", "milestones="}},
    {"milestones_trailing_comma", {"sgd", GOOD_FILES, "schedule=multistep", "milestones=3,"}},
    {"milestones_empty_item", {"sgd", GOOD_FILES, "schedule=multistep", "milestones=3,,5"}},
    {"milestones_overflow",
     {"sgd", GOOD_FILES, "schedule=multistep", "milestones=3,99999999999999999999"}},
    /* a leading space (or newline) is stray text, as a trailing one is */
    {"lr_leading_space", {"sgd", GOOD_FILES, "lr= 0.5"}},
    {"lr_leading_newline", {"sgd", GOOD_FILES, "lr=\n0.5"}},
    {"momentum_leading_space", {"sgd", GOOD_FILES, "momentum= 0.9"}},
    {"t_max_leading_space", {"sgd", GOOD_FILES, "schedule=cosine", "t_max= 5"}},
    {"t_max_plus_sign", {"sgd", GOOD_FILES, "schedule=cosine", "t_max=+5"}},
    {"milestones_leading_space", {"sgd", GOOD_FILES, "schedule=multistep", "milestones= 3"}},
    {"gamma_with_cosine", {"sgd", GOOD_FILES, "schedule=cosine", "gamma=0.5"}},
    {"power_without_schedule", {"adam", GOOD_FILES, "power=2"}},
    {"warmup_start_factor_without_steps", {"sgd", GOOD_FILES, "warmup_start_factor=0.5"}},
    {"warmup_start_factor_zero_steps",
     {"sgd", GOOD_FILES, "warmup_steps=0", "warmup_start_factor=0.5"}},
    {"patience_without_plateau", {"sgd", GOOD_FILES, "schedule=step", "patience=3"}},
    {"step_size_zero", {"sgd", GOOD_FILES, "schedule=step", "step_size=0"}},
    {"t_max_zero", {"sgd", GOOD_FILES, "schedule=cosine", "t_max=0"}},
    {"threshold_mode_bogus", {"sgd", GOOD_FILES, "schedule=plateau", "--metrics", "@m.npy",
                              "threshold_mode=both"}},
    /* Lookahead. */
    {"lookahead_alpha_without_k", {"sgd", GOOD_FILES, "lookahead_alpha=0.5"}},
    {"lookahead_k_negative", {"sgd", GOOD_FILES, "lookahead_k=-1"}},
    {"lookahead_k_overflow", {"sgd", GOOD_FILES, "lookahead_k=99999999999999999999"}},
    {"lookahead_alpha_too_big", {"sgd", GOOD_FILES, "lookahead_k=2", "lookahead_alpha=1.5"}},
    {"lookahead_alpha_zero", {"adam", GOOD_FILES, "lookahead_k=2", "lookahead_alpha=0"}},
    /* The gradient guard. */
    {"clip_norm_negative", {"sgd", GOOD_FILES, "clip_norm=-1"}},
    {"clip_norm_not_number", {"adam", GOOD_FILES, "clip_norm=big"}},
    {"nonfinite_bogus", {"adam", GOOD_FILES, "nonfinite=ignore"}},
    /* Precision. */
    {"state_dtype_bogus", {"adam", GOOD_FILES, "state_dtype=fp8"}},
    {"state_dtype_empty", {"sgd", GOOD_FILES, "state_dtype="}},
    {"param_dtype_bogus", {"adam", GOOD_FILES, "param_dtype=f64"}},
    {"master_weights_with_f32", {"adam", GOOD_FILES, "master_weights=1"}},
    {"master_weights_bogus", {"adam", GOOD_FILES, "param_dtype=bf16", "master_weights=2"}},
    {"master_weights_lookahead",
     {"sgd", GOOD_FILES, "param_dtype=bf16", "master_weights=1", "lookahead_k=2"}},
    {"stochastic_with_f32", {"sgd", GOOD_FILES, "rounding=stochastic"}},
    {"stochastic_with_f16", {"sgd", GOOD_FILES, "param_dtype=f16", "rounding=stochastic"}},
    {"rounding_bogus", {"sgd", GOOD_FILES, "param_dtype=bf16", "rounding=up"}},
    {"seed_without_stochastic", {"sgd", GOOD_FILES, "param_dtype=bf16", "seed=3"}},
    {"grad_scale_then_off", {"sgd", GOOD_FILES, "grad_scale=4", "loss_scale=off"}},
    {"grad_scale_then_dynamic", {"sgd", GOOD_FILES, "grad_scale=4", "loss_scale=dynamic"}},
    {"seed_negative",
     {"sgd", GOOD_FILES, "param_dtype=bf16", "rounding=stochastic", "seed=-3"}},
    {"seed_space_negative",
     {"sgd", GOOD_FILES, "param_dtype=bf16", "rounding=stochastic", "seed= -5"}},
    {"seed_overflow",
     {"sgd", GOOD_FILES, "param_dtype=bf16", "rounding=stochastic", "seed=18446744073709551616"}},
    /* Checkpoints. */
    {"load_state_missing",
     {"sgd", "--load-state", "@nope.safetensors", "--grads", "@g.npy", "--out", "@OUT",
      "--backend", "reference"}},
    {"load_state_cut_in_half",
     {"sgd", "--load-state", "@ck_cut_half.safetensors", "--grads", "@g.npy", "--out", "@OUT",
      "--backend", "reference"}},
    {"load_state_cut_data",
     {"sgd", "--load-state", "@ck_cut_data.safetensors", "--grads", "@g.npy", "--out", "@OUT",
      "--backend", "reference"}},
    {"load_state_not_a_checkpoint",
     {"sgd", "--load-state", "@p.npy", "--grads", "@g.npy", "--out", "@OUT", "--backend",
      "reference"}},
    {"load_state_other_optimizer",
     {"adam", "--load-state", "@ck_sgd.safetensors", "--grads", "@g.npy", "--out", "@OUT",
      "--backend", "reference"}},
    {"load_state_other_lr",
     {"sgd", "--load-state", "@ck_sgd.safetensors", "--grads", "@g.npy", "--out", "@OUT",
      "--backend", "reference", "lr=0.25"}},
    {"load_state_grads_wrong_n",
     {"sgd", "--load-state", "@ck_sgd.safetensors", "--grads", "@g_n4.npy", "--out", "@OUT",
      "--backend", "reference"}},
    {"save_state_folder_missing",
     {"sgd", GOOD_FILES, "--save-state", "@no/such/folder/ck.safetensors"}},
    {"load_state_sharded_without_distributed",
     {"sgd", "--load-state", "@ck_sharded", "--grads", "@g.npy", "--out", "@OUT", "--backend",
      "reference"}},
#ifndef OPTCL_TEST_HAVE_MPI
    /* Built without MPI (with it, tests/test_mpi_replay.c runs --distributed). */
    {"distributed_without_mpi", {"sgd", GOOD_FILES, "--distributed"}},
#endif
};

#define BAD_COUNT (sizeof BAD_CASES / sizeof BAD_CASES[0])

/* What some of the cases' messages must say. */
static const struct {
    const char *name, *says;
} SAYS[] = {
    {"out_eval_without_modes_no_steps", "adam has no eval mode"},
    /* the cases of the stricter parsing: each message names the key, the value and the rule
     * (a newline in a value is printed as a space: one line) */
    {"tensors_trailing_comma",
     "tensors=2,: expected comma-separated shapes with dimensions joined by x"},
    {"tensors_leading_comma",
     "tensors=,3: expected comma-separated shapes with dimensions joined by x"},
    {"tensors_empty_item",
     "tensors=1,,2: expected comma-separated shapes with dimensions joined by x"},
    {"tensors_trailing_x",
     "tensors=3x: expected comma-separated shapes with dimensions joined by x"},
    {"tensors_plus_sign",
     "tensors=+3: expected comma-separated shapes with dimensions joined by x"},
    {"tensors_space", "tensors= 3: expected comma-separated shapes with dimensions joined by x"},
    {"tensors_dim_overflow",
     "tensors=3x99999999999999999999: expected comma-separated shapes with dimensions joined by x"},
    {"shape_trailing_comma", "shape=3,: expected dimensions >= 1 joined by commas"},
    {"shape_plus_sign", "shape=+3,1: expected dimensions >= 1 joined by commas"},
    {"shape_space", "shape=3, 1: expected dimensions >= 1 joined by commas"},
    {"plateau_then_constant_with_metrics", "--metrics is only used with schedule=plateau"},
    {"t_max_overflow", "t_max=18446744073709551617: expected a whole number 0 … 2^63 - 1"},
    {"step_size_overflow", "step_size=9223372036854775808: expected a whole number 0 … 2^63 - 1"},
    {"milestones_empty", "milestones=: expected 1 to 16 comma-separated whole numbers"},
    {"milestones_trailing_comma", "milestones=3,: expected 1 to 16 comma-separated whole numbers"},
    {"milestones_empty_item", "milestones=3,,5: expected 1 to 16 comma-separated whole numbers"},
    {"milestones_overflow",
     "milestones=3,99999999999999999999: expected 1 to 16 comma-separated whole numbers"},
    {"lr_leading_space", "lr= 0.5: not a finite number"},
    {"lr_leading_newline", "lr= 0.5: not a finite number"},
    {"momentum_leading_space", "momentum= 0.9: not a finite number"},
    {"t_max_leading_space", "t_max= 5: expected a whole number 0 … 2^63 - 1"},
    {"t_max_plus_sign", "t_max=+5: expected a whole number 0 … 2^63 - 1"},
    {"milestones_leading_space", "milestones= 3: expected 1 to 16 comma-separated whole numbers"},
    {"warmup_start_factor_without_steps", "key 'warmup_start_factor' needs warmup_steps > 0"},
    {"warmup_start_factor_zero_steps", "key 'warmup_start_factor' needs warmup_steps > 0"},
    {"lookahead_k_overflow",
     "lookahead_k=99999999999999999999: expected a whole number 0 … 2^63 - 1"},
    {"grad_scale_then_off",
     "key 'grad_scale' (loss_scale=static init_scale=S) does not combine with loss_scale=off"},
    {"grad_scale_then_dynamic",
     "key 'grad_scale' (loss_scale=static init_scale=S) does not combine with loss_scale=dynamic"},
    {"seed_space_negative", "seed= -5: expected a whole number 0 … 2^64 - 1"},
    {"seed_overflow", "seed=18446744073709551616: expected a whole number 0 … 2^64 - 1"},
    {"load_state_sharded_without_distributed",
     "is a sharded checkpoint (the manifest --distributed --save-state writes): resume it with "
     "--distributed"},
};

static const char *says(const char *name)
{
    for (size_t i = 0; i < sizeof SAYS / sizeof SAYS[0]; i++)
        if (!strcmp(SAYS[i].name, name))
            return SAYS[i].says;
    return NULL;
}

/* Every expected message belongs to a case (a misspelt name would check nothing). */
static void test_says_names_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof SAYS / sizeof SAYS[0]; i++) {
        size_t c = 0;
        while (c < BAD_COUNT && strcmp(BAD_CASES[c].name, SAYS[i].name))
            c++;
        if (c == BAD_COUNT)
            fail_msg("SAYS names '%s', which is no bad case", SAYS[i].name);
    }
}

static void test_bad_case(void **state)
{
    const bad_case *bc = *state;
    rp_clear_out();
    size_t in_before = tu_list_folder(g_in, NULL, 0);

    char err[STDERR_CAP], cmd[2048];
    int rc = rp_replay(bc->args, err, sizeof err, cmd, sizeof cmd);
    if (rc == 0)
        fail_msg("%s: `optcl %s` succeeded", bc->name, cmd);
    if (rc < 0 || rc >= 128)
        fail_msg("%s: `optcl %s` did not exit normally (%d): %s", bc->name, cmd, rc, err);

    /* Exactly one non-empty line on stderr. */
    size_t len = strlen(err);
    char *nl = strchr(err, '\n');
    int one_line = len > 0 && (nl == NULL || nl == err + len - 1);
    int blank = 1;
    for (size_t i = 0; i < len; i++)
        if (err[i] != ' ' && err[i] != '\t' && err[i] != '\n' && err[i] != '\r')
            blank = 0;
    if (!one_line || blank)
        fail_msg("%s: `optcl %s` exited %d but stderr is not exactly one non-empty line: "
                 "\"%s\"",
                 bc->name, cmd, rc, err);
    const char *want = says(bc->name);
    if (want && !strstr(err, want))
        fail_msg("%s: `optcl %s` said \"%s\", expected \"%s\"", bc->name, cmd, err, want);

    /* No OUT, no temporary file, inputs neither added nor removed. */
    char names[1024];
    if (tu_list_folder(g_out, names, sizeof names) != 0)
        fail_msg("%s: `optcl %s` failed but left files behind: %s", bc->name, cmd, names);
    if (tu_list_folder(g_in, names, sizeof names) != in_before)
        fail_msg("%s: `optcl %s` changed the input folder: %s", bc->name, cmd, names);
}

/* A run that fails leaves every output as it was: existing files keep their bytes (an OUT
 * written before another output failed, a checkpoint saved before OUT failed), and no file or
 * temporary file is added. keep (NULL-terminated) names files of <out> made before the run. */
static void rp_fails_keeping(const char *what, const char *const *args, const char *const *keep)
{
    rp_clear_out();
    char path[1280], err[STDERR_CAP], cmd[2048], names[1024];
    const char *content = "an older file\n";
    for (size_t i = 0; keep[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", g_out, keep[i]);
        tu_write_file(path, content, strlen(content));
    }
    int rc = rp_replay(args, err, sizeof err, cmd, sizeof cmd);
    if (rc != 1)
        fail_msg("%s: `optcl %s` exited %d, expected 1: %s", what, cmd, rc, err);
    size_t kept = 0;
    for (; keep[kept]; kept++) {
        snprintf(path, sizeof path, "%s/%s", g_out, keep[kept]);
        size_t len = 0;
        unsigned char *bytes = tu_read_file(path, &len);
        int same = bytes && len == strlen(content) && !memcmp(bytes, content, len);
        free(bytes);
        if (!same)
            fail_msg("%s: `optcl %s` failed (%s) but changed %s", what, cmd, err, keep[kept]);
    }
    if (tu_list_folder(g_out, names, sizeof names) != kept)
        fail_msg("%s: `optcl %s` failed but left files behind: %s", what, cmd, names);
}

static void test_failure_keeps_outputs(void **state)
{
    (void)state;
    char out[1280], ck[1280], trace[1280];
    snprintf(out, sizeof out, "%s/OUT.npy", g_out);
    snprintf(trace, sizeof trace, "%s/t.npy", g_out);
    snprintf(ck, sizeof ck, "%s/ck.safetensors", g_out);
    const char *out_only[] = {"OUT.npy", NULL}, *both[] = {"OUT.npy", "ck.safetensors", NULL};
    const char *scale_fails[] = {"sgd", GOOD_FILES, "--scale-out", "@no/such/folder/t.npy",
                                 "loss_scale=dynamic", NULL};
    rp_fails_keeping("--scale-out fails", scale_fails, out_only);
    const char *eval_fails[] = {"sgd_schedulefree", GOOD_FILES, "--out-eval",
                                "@no/such/folder/e.npy", NULL};
    rp_fails_keeping("--out-eval fails", eval_fails, out_only);
    /* the checkpoint does not move on when OUT cannot be written (a rerun would step twice) */
    const char *out_fails[] = {"sgd", "--params", "@p.npy", "--grads", "@g.npy", "--out",
                               "@OUT_NODIR", "--backend", "reference", "--save-state", ck,
                               NULL};
    const char *ck_only[] = {"ck.safetensors", NULL};
    rp_fails_keeping("--out fails", out_fails, ck_only);
    const char *state_fails[] = {"sgd", GOOD_FILES, "--save-state",
                                 "@no/such/folder/ck.safetensors", NULL};
    rp_fails_keeping("--save-state fails", state_fails, out_only);
    /* two outputs of one name: refused before anything is written */
    const char *same_trace[] = {"sgd", GOOD_FILES, "--scale-out", out, "loss_scale=dynamic",
                                NULL};
    rp_fails_keeping("--out = --scale-out", same_trace, out_only);
    const char *same_state[] = {"sgd", GOOD_FILES, "--save-state", out, NULL};
    rp_fails_keeping("--out = --save-state", same_state, out_only);
    char dotted[1280];
    snprintf(dotted, sizeof dotted, "%s/./ck.safetensors", g_out); /* one file, two names */
    const char *same_file[] = {"sgd", GOOD_FILES, "--scale-out", ck, "--save-state", dotted,
                               "loss_scale=dynamic", NULL};
    rp_fails_keeping("--scale-out and --save-state name one file", same_file, both);
    /* one folder entry, the file not there yet: refused as well (not written over each other) */
    char up[1280], dot_out[1280];
    snprintf(up, sizeof up, "%s/../%s/t.npy", g_out, strrchr(g_out, '/') + 1);
    snprintf(dot_out, sizeof dot_out, "%s/./OUT.npy", g_out);
    const char *none[] = {NULL};
    const char *same_entry[] = {"sgd",          GOOD_FILES, "--scale-out",        up,
                                "--save-state", trace,      "loss_scale=dynamic", NULL};
    rp_fails_keeping("--scale-out and --save-state name one new file", same_entry, none);
    const char *same_new_out[] = {"sgd_schedulefree", GOOD_FILES, "--out-eval", dot_out, NULL};
    rp_fails_keeping("--out and --out-eval name one new file", same_new_out, none);
    const char *folder[] = {"sgd", GOOD_FILES, "--scale-out", g_out, "loss_scale=dynamic", NULL};
    rp_fails_keeping("--scale-out is a folder", folder, out_only);
}

/* With OPTCL_REPLAY_FAIL (replay_files.c's seam for tests), a failure after the outputs are
 * written: at a rename, the outputs before it are replaced and the rest are as they were — the
 * checkpoint renamed last, so it never moves on without the rows of its steps; after a file is
 * written, before any rename, every output is as it was. No temporary file is left either way,
 * and one line says which output failed. */
static void test_failure_during_renames(void **state)
{
    (void)state;
    static const struct {
        const char *fail;
        int replaced[3]; /* OUT, --scale-out, --save-state */
    } cases[] = {
        {"rename:--out", {0, 0, 0}},        {"rename:--scale-out", {1, 0, 0}},
        {"rename:--save-state", {1, 1, 0}}, {"write:--save-state", {0, 0, 0}},
        {"write:--scale-out", {0, 0, 0}},
    };
    const char *files[] = {"OUT.npy", "t.npy", "ck.safetensors"}, *old = "an older file\n";
    char trace[1280], ck[1280], path[1280], err[STDERR_CAP], cmd[2048], names[1024];
    snprintf(trace, sizeof trace, "%s/t.npy", g_out);
    snprintf(ck, sizeof ck, "%s/ck.safetensors", g_out);
    const char *args[] = {"sgd",          GOOD_FILES, "--scale-out",        trace,
                          "--save-state", ck,         "loss_scale=dynamic", NULL};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rp_clear_out();
        for (int f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/%s", g_out, files[f]);
            tu_write_file(path, old, strlen(old));
        }
        setenv("OPTCL_REPLAY_FAIL", cases[c].fail, 1);
        int rc = rp_replay(args, err, sizeof err, cmd, sizeof cmd);
        unsetenv("OPTCL_REPLAY_FAIL");
        const char *option = strchr(cases[c].fail, ':') + 1;
        if (rc != 1 || !strstr(err, "failed on purpose") || strncmp(err, "optcl replay: ", 14) ||
            strncmp(err + 14, option, strlen(option)) || strchr(err, '\n') != err + strlen(err) - 1)
            fail_msg("%s: `optcl %s` exited %d: %s", cases[c].fail, cmd, rc, err);
        for (int f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/%s", g_out, files[f]);
            size_t len = 0;
            unsigned char *bytes = tu_read_file(path, &len);
            int kept = bytes && len == strlen(old) && !memcmp(bytes, old, len);
            free(bytes);
            if (kept == cases[c].replaced[f])
                fail_msg("%s: %s was %s", cases[c].fail, files[f],
                         kept ? "not replaced" : "replaced");
        }
        tu_list_folder(g_out, names, sizeof names);
        if (strcmp(names, "OUT.npy,ck.safetensors,t.npy"))
            fail_msg("%s: the folder holds %s", cases[c].fail, names);
    }
}

/* The outputs are saved as the library saves a file (host/atomic_file.h): a new one gets 0666
 * less the umask, a replaced one keeps its permissions; a name of up to 255 bytes works (the
 * temporary's is cut to fit); a killed run's temporaries of an output are removed, a live
 * writer's (locked) are not. */
static void test_outputs_saved_as_the_library_saves(void **state)
{
    (void)state;
    rp_clear_out();
    char out[1280], ck[1280], trace[1280], path[1600], err[STDERR_CAP], cmd[4096], names[2048];
    snprintf(out, sizeof out, "%s/OUT.npy", g_out);
    snprintf(ck, sizeof ck, "%s/ck.safetensors", g_out);
    snprintf(trace, sizeof trace, "%s/trace.npy", g_out);
    const char *args[] = {"sgd",          GOOD_FILES, "--scale-out",        trace,
                          "--save-state", ck,         "loss_scale=dynamic", NULL};
    mode_t mask = umask(027);
    int rc = rp_replay(args, err, sizeof err, cmd, sizeof cmd);
    struct stat st;
    const char *files[] = {out, trace, ck};
    for (int i = 0; i < 3 && rc == 0; i++)
        if (stat(files[i], &st) != 0 || (st.st_mode & 0777) != 0640)
            fail_msg("`optcl %s`: %s has mode %o, expected 0640 (0666 less the umask 027)", cmd,
                     files[i], (unsigned)(st.st_mode & 0777));
    const mode_t kept[] = {0604, 0660, 0644};
    for (int i = 0; i < 3 && rc == 0; i++)
        assert_int_equal(chmod(files[i], kept[i]), 0);
    /* abandoned temporaries of the outputs (a run killed mid-way), one still held by a writer */
    const char *left[] = {".OUT.npy.tmp.Abc123", ".ck.safetensors.tmp.Def456",
                          ".trace.npy.tmp.Ghi789", ".ck.safetensors.tmp.Held00"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", g_out, left[i]);
        tu_write_file(path, "x", 1);
    }
    int held = open(path, O_RDONLY);
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_EX), 0);
    if (rc == 0)
        rc = rp_replay(args, err, sizeof err, cmd, sizeof cmd);
    close(held);
    umask(mask);
    if (rc != 0)
        fail_msg("`optcl %s` exited %d: %s", cmd, rc, err);
    for (int i = 0; i < 3; i++)
        if (stat(files[i], &st) != 0 || (st.st_mode & 0777) != kept[i])
            fail_msg("`optcl %s`: %s has mode %o, expected the replaced file's %o", cmd, files[i],
                     (unsigned)(st.st_mode & 0777), (unsigned)kept[i]);
    tu_list_folder(g_out, names, sizeof names);
    assert_string_equal(names, ".ck.safetensors.tmp.Held00,OUT.npy,ck.safetensors,trace.npy");

    /* names of 255 bytes (NAME_MAX) */
    rp_clear_out();
    char name[256], eval[1280];
    memset(name, 'o', 251);
    memcpy(name + 251, ".npy", 5);
    snprintf(out, sizeof out, "%s/%s", g_out, name);
    name[0] = 'c';
    snprintf(ck, sizeof ck, "%s/%s", g_out, name);
    name[0] = 'e';
    snprintf(eval, sizeof eval, "%s/%s", g_out, name);
    const char *longer[] = {
        "sgd_schedulefree", "--params", "@p.npy",       "--grads", "@g.npy",    "--out",     out,
        "--out-eval",       eval,       "--save-state", ck,        "--backend", "reference", NULL};
    rc = rp_replay(longer, err, sizeof err, cmd, sizeof cmd);
    if (rc != 0)
        fail_msg("outputs named with 255 bytes: exited %d: %s", rc, err);
    if (tu_list_folder(g_out, names, sizeof names) != 3 || names[0] == '.')
        fail_msg("outputs named with 255 bytes: the folder holds %s", names);
}

int main(void)
{
    struct CMUnitTest tests[7 + BAD_COUNT + 1];
    size_t n = 0;
    tests[n++] = (struct CMUnitTest){"good_reference", test_good_reference, NULL, NULL, NULL};
    tests[n++] = (struct CMUnitTest){"good_opencl", test_good_opencl, NULL, NULL, NULL};
    for (size_t i = 0; i < BAD_COUNT; i++)
        tests[n++] = (struct CMUnitTest){BAD_CASES[i].name, test_bad_case, NULL, NULL,
                                         (void *)&BAD_CASES[i]};
    tests[n++] = (struct CMUnitTest){"failure_keeps_outputs", test_failure_keeps_outputs, NULL,
                                     NULL, NULL};
    tests[n++] = (struct CMUnitTest){"says_names_cases", test_says_names_cases, NULL, NULL, NULL};
    tests[n++] = (struct CMUnitTest){"failure_during_renames", test_failure_during_renames, NULL,
                                     NULL, NULL};
    tests[n++] = (struct CMUnitTest){"outputs_saved_as_the_library_saves",
                                     test_outputs_saved_as_the_library_saves, NULL, NULL, NULL};
    tests[n++] = (struct CMUnitTest){"inputs_untouched", test_inputs_untouched, NULL, NULL,
                                     NULL};
    return _cmocka_run_group_tests("replay", tests, n, rp_setup, tu_group_dir_teardown);
}
