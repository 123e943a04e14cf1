/* test_bench.c — `optcl bench` end to end (tu_cli_path()): what it prints, not how fast.
 *
 * --json gives one object per measurement with every field docs/COMMANDS.md lists, and the
 * fields agree with each other (bytes per step from the rule, GB/s and params/s from the
 * median time, the context's vector width); traffic measures itself (ratio 1). Bad arguments
 * exit with 2, one line on stderr and nothing on stdout. `optcl devices`, which says what the
 * device bench measures is, lists it with its float32 line and names the default device. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_CAP 4096

/* The models run for one step up to this size: llama-1b's 10 GB of SGD buffers are more than CI
 * has, and under AddressSanitizer only resnet50 runs (its shadow memory makes bert-base and gpt2
 * take minutes). */
#if defined(__SANITIZE_ADDRESS__)
#define MODEL_RUN_LIMIT 3e7
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MODEL_RUN_LIMIT 3e7
#endif
#endif
#ifndef MODEL_RUN_LIMIT
#define MODEL_RUN_LIMIT 2e8
#endif

/* Runs `optcl bench ARGS...` (NULL-terminated); returns the exit status, stdout in *out
 * (malloc'd, NUL-terminated) and stderr in err. */
static int bench(const char *const *args, char **out, char *err)
{
    return tu_cli_capture("bench", args, out, err, ERR_CAP);
}

/* The number after "key": in a JSON line; fails the test when the key is missing. */
static double number(const char *line, const char *key)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\": ", key);
    const char *at = strstr(line, quoted);
    if (!at)
        fail_msg("no %s in %s", key, line);
    char *end = NULL;
    double x = strtod(at + strlen(quoted), &end);
    if (end == at + strlen(quoted))
        fail_msg("%s is not a number in %s", key, line);
    return x;
}

static void has_string(const char *line, const char *key, const char *value)
{
    char want[256];
    snprintf(want, sizeof want, "\"%s\": \"%s\"", key, value);
    if (!strstr(line, want))
        fail_msg("expected %s in %s", want, line);
}

/* One JSON line of a run that must succeed. */
static char *json_run(const char *const *args)
{
    char err[ERR_CAP], *out = NULL;
    int rc = bench(args, &out, err);
    if (rc != 0)
        fail_msg("optcl bench exited with %d: %s", rc, err);
    size_t lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    if (lines != 1 || out[0] != '{')
        fail_msg("expected one JSON line, got: %s", out);
    return out;
}

/* The fields that follow from each other in any successful measurement. */
static void consistent(const char *line, double n, double steps)
{
    double sec = number(line, "seconds_per_step"), bytes = number(line, "bytes_per_step");
    assert_true(sec > 0.0);
    assert_true(number(line, "n") == n);
    assert_true(number(line, "steps") == steps);
    double gbs = number(line, "gbytes_per_s"), pps = number(line, "params_per_s");
    if (fabs(gbs - bytes / sec / 1e9) > 1e-3 * gbs || fabs(pps - n / sec) > 1e-3 * pps)
        fail_msg("GB/s or params/s do not follow from the time: %s", line);
    assert_true(number(line, "ratio_to_traffic") > 0.0);
    assert_non_null(strstr(line, "\"device\": \""));
}

static unsigned default_vector_width(optcl_backend backend)
{
    optcl_context *ctx = tu_context(backend);
    unsigned w = optcl_context_vector_width(ctx);
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
    return w;
}

static void test_json_fields(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        return;
    const char *args[] = {"adam", "--n", "4096", "--steps", "3", "--json", NULL};
    char *line = json_run(args);
    has_string(line, "what", "adam");
    has_string(line, "backend", "opencl");
    consistent(line, 4096, 3);
    assert_true(number(line, "tensors") == 1);
    assert_true(number(line, "bytes_per_step") == 28.0 * 4096); /* 16 B read, 12 B written */
    assert_true(number(line, "vector_width") == default_vector_width(OPTCL_BACKEND_OPENCL));
    assert_true(number(line, "work_group_size") >= 64);
    assert_true(number(line, "flat") == 4096);
    assert_true(number(line, "state_bytes") == 8.0 * 4096); /* exp_avg, exp_avg_sq */
    has_string(line, "model", "one tensor");
    free(line);
    const char *bf16[] = {"adam", "--n", "4096", "--steps", "2", "--json", "state_dtype=bf16",
                          NULL};
    line = json_run(bf16);
    assert_true(number(line, "state_bytes") == 4.0 * 4096);
    assert_true(number(line, "bytes_per_step") == 20.0 * 4096); /* 12 B + 2 states of 2 B × 2 */
    has_string(line, "param_dtype", "f32");
    free(line);
    /* everything in bfloat16: 2 B each read of parameter, gradient and two states, 2 B each
     * write of parameter and states; with master weights the master's 8 B replace the
     * parameter's read, and the state is float32 again */
    const char *half[] = {"adam", "--n", "4096", "--steps", "2", "--json", "param_dtype=bf16",
                          NULL};
    line = json_run(half);
    has_string(line, "param_dtype", "bf16");
    assert_true(number(line, "state_bytes") == 4.0 * 4096);
    assert_true(number(line, "bytes_per_step") == 14.0 * 4096);
    free(line);
    const char *master[] = {"adam",           "--n",           "4096", "--steps", "2",
                            "--json",         "param_dtype=f16", "master_weights=1", NULL};
    line = json_run(master);
    assert_true(number(line, "state_bytes") == 8.0 * 4096);
    assert_true(number(line, "bytes_per_step") == 28.0 * 4096);
    free(line);
}

static void test_reference_and_tensors(void **state)
{
    (void)state;
    const char *args[] = {"sgd",       "momentum=0.9", "--n",     "5000",
                          "--tensors", "10",           "--steps", "2",
                          "--backend", "reference",    "--json",  NULL};
    char *line = json_run(args);
    has_string(line, "what", "sgd momentum=0.9");
    has_string(line, "backend", "reference");
    consistent(line, 5000, 2);
    assert_true(number(line, "tensors") == 10);
    /* 20 B per parameter, padding included: ten tensors pad to the alignment each. */
    assert_true(number(line, "bytes_per_step") >= 20.0 * 5000);
    assert_true(number(line, "vector_width") == 1);
    free(line);
}

static void test_traffic_is_its_own_yardstick(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        return;
    const char *args[] = {"traffic", "--like", "rmsprop", "--n", "4096",
                          "--steps", "2",      "--json",  NULL};
    char *line = json_run(args);
    has_string(line, "what", "traffic:rmsprop");
    consistent(line, 4096, 2);
    assert_true(number(line, "bytes_per_step") == 20.0 * 4096);
    assert_true(number(line, "ratio_to_traffic") == 1.0);
    free(line);
}

static void test_text_line(void **state)
{
    (void)state;
    const char *args[] = {"rprop", "--n", "2048", "--steps", "2", "--backend", "reference", NULL};
    char err[ERR_CAP], *out = NULL;
    assert_int_equal(bench(args, &out, err), 0);
    if (strncmp(out, "rprop ", 6) != 0 || !strstr(out, "reference") || !strstr(out, "us/step") ||
        !strstr(out, "ratio_to_traffic") || strchr(out, '\n') != out + strlen(out) - 1)
        fail_msg("unexpected text output: %s", out);
    free(out);
}

/* Runs `optcl bench ARGS --print-layout`; returns stdout (malloc'd). */
static char *layout_of(const char *const *args)
{
    char err[ERR_CAP], *out = NULL;
    int rc = bench(args, &out, err);
    if (rc != 0)
        fail_msg("optcl bench --print-layout exited with %d: %s", rc, err);
    return out;
}

/* The models' tensor and parameter counts as their sources give them (torchvision,
 * transformers); each printed layout is a --shapes file that measures the same n and tensors,
 * with ≥ 2-D tensors in group 0 and the rest in group 1. */
static void test_models(void **state)
{
    (void)state;
    static const struct {
        const char *name, *summary;
        double n, tensors;
    } models[] = {
        {"resnet50", "# 161 tensors, 25557032 parameters", 25557032, 161},
        {"bert-base", "# 199 tensors, 109482240 parameters", 109482240, 199},
        {"gpt2", "# 148 tensors, 124439808 parameters", 124439808, 148},
        {"llama-1b", "# 146 tensors, 1235814400 parameters", 1235814400, 146},
    };
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        const char *print[] = {"--model", models[m].name, "--print-layout", NULL};
        char *out = layout_of(print);
        if (!strstr(out, models[m].summary))
            fail_msg("%s: expected '%s' in the layout", models[m].name, models[m].summary);
        assert_non_null(strstr(out, ": 768 # group 1") || strstr(out, ": 64 # group 1") ||
                        strstr(out, ": 2048 # group 1"));
        if (models[m].n < MODEL_RUN_LIMIT) {
            char path[1024];
            tu_path_in(path, sizeof path, "layout.txt");
            tu_write_file(path, out, strlen(out));
            const char *model_args[] = {"sgd",       "--model",      models[m].name, "--steps",
                                        "1",         "--backend",    "reference",    "--json",
                                        NULL};
            const char *shape_args[] = {"sgd", "--shapes", path,     "--steps", "1",
                                        "--backend", "reference", "--json", NULL};
            char *a = json_run(model_args), *b = json_run(shape_args);
            has_string(a, "model", models[m].name);
            has_string(b, "model", "shapes:layout.txt");
            consistent(a, models[m].n, 1);
            consistent(b, models[m].n, 1);
            assert_true(number(a, "tensors") == models[m].tensors);
            assert_true(number(b, "tensors") == models[m].tensors);
            assert_true(number(a, "flat") == number(b, "flat"));
            assert_true(number(a, "flat") >= models[m].n);
            free(a);
            free(b);
        }
        free(out);
    }
}

/* A shapes file with names, comments, separators and a scalar; unnamed lines are line<N>. */
static void test_shapes_file(void **state)
{
    (void)state;
    char path[1024];
    tu_path_in(path, sizeof path, "shapes.txt");
    const char *text = "# a small model\n"
                       "embed: 1000 x 64\n"
                       "\n"
                       "  proj.weight : 64,64   # trailing comment\n"
                       "3 5 7\n"
                       "temperature: ()\n";
    tu_write_file(path, text, strlen(text));
    const char *args[] = {"adam", "--shapes", path, "--steps", "1", "--backend", "reference",
                          "--json", NULL};
    char *line = json_run(args);
    consistent(line, 1000 * 64 + 64 * 64 + 105 + 1, 1);
    assert_true(number(line, "tensors") == 4);
    assert_true(number(line, "work_group_size") == 0); /* the reference backend launches nothing */
    free(line);
    const char *print[] = {"--shapes", path, "--print-layout", NULL};
    char *out = layout_of(print);
    assert_non_null(strstr(out, "embed: 1000x64 # group 0\n"));
    assert_non_null(strstr(out, "proj.weight: 64x64 # group 0\n"));
    assert_non_null(strstr(out, "line5: 3x5x7 # group 0\n"));
    assert_non_null(strstr(out, "temperature: () # group 1\n"));
    free(out);
}

/* --shape: one tensor "w" of that shape; Muon's matrix products report their GFLOP/s, every
 * other optimizer 0. */
static void test_shape_and_gflops(void **state)
{
    (void)state;
    const char *muon[] = {"muon", "--shape", "16,32", "--steps", "1", "--backend", "reference",
                          "--json", NULL};
    char *line = json_run(muon);
    consistent(line, 16 * 32, 1);
    has_string(line, "model", "shape 16,32");
    assert_true(number(line, "tensors") == 1);
    assert_true(number(line, "gflops_per_s") > 0.0);
    free(line);
    const char *adam[] = {"adam", "--shape", "16x32", "--steps", "1", "--backend", "reference",
                          "--json", NULL};
    line = json_run(adam);
    assert_true(number(line, "gflops_per_s") == 0.0);
    free(line);
    /* a control character or quote in a string field is escaped: still one JSON line */
    const char *odd[] = {"adam", "--shape", "16,\n32", "--steps", "1", "--backend", "reference",
                         "--json", NULL};
    line = json_run(odd);
    has_string(line, "model", "shape 16,\\u000a32");
    free(line);
    char quoted[1024];
    tu_path_in(quoted, sizeof quoted, "a\"b\tc.txt");
    tu_write_file(quoted, "w: 4\n", 5);
    const char *file[] = {"adam", "--shapes", quoted, "--steps", "1", "--backend", "reference",
                          "--json", NULL};
    line = json_run(file);
    has_string(line, "model", "shapes:a\\\"b\\u0009c.txt");
    free(line);
    /* bytes that are not UTF-8 (a file name may hold any) become U+FFFD: still valid JSON */
    char odd_name[1024];
    tu_path_in(odd_name, sizeof odd_name, "\xc3\xa9\xff\xc0\xaf\xe2\x82.txt");
    tu_write_file(odd_name, "w: 4\n", 5);
    const char *odd_file[] = {"adam",      "--shapes",  odd_name, "--steps", "1",
                              "--backend", "reference", "--json", NULL};
    line = json_run(odd_file);
    has_string(line, "model", "shapes:\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffd.txt");
    free(line);
    const char *bad[] = {"muon", "--shape", "16,0", "--backend", "reference", NULL};
    char err[ERR_CAP], *out = NULL;
    assert_int_equal(bench(bad, &out, err), 2);
    assert_non_null(strstr(err, "--shape 16,0"));
    free(out);
}

/* Bad --shapes files: exit 2 with one line naming the file and the line. */
static void test_bad_shapes(void **state)
{
    (void)state;
    static const char *const files[][2] = {
        {"w: 768x0\n", ":1: dimension 0"},
        {"w: 7\nb: 7 q\n", ":2: 'q' is not part of a dimension"},
        {"b: 5 x\n", ":1: 'x' must stand between two dimensions"},
        {"w: 3xx4\n", ":1: 'x' must stand between two dimensions"},
        {"w: 3,\n", ":1: ',' must stand between two dimensions"},
        {"w: 1 2 3 4 5 6 7 8 9\n", ":1: more than 8 dimensions"},
        {"w:\n", ":1: no dimensions"},
        {": 5\n", ":1: the name must be"},
        {"w: 99999999999999\n", ":1: dimension 99999999999999 is not between"},
        {"# nothing\n\n", ": no shapes in the file"},
        {"w: 5\nw: 6\n", "tensor name 'w' appears twice"},
        {"w: 1048576x1048576x1048576x4\n", "tensor 'w': too many elements"},
        {"a: 1099511627776x1048576\nb: 1099511627776x1048576\n",
         "the tensors hold too many elements in all (at 'b')"},
    };
    char path[1024];
    tu_path_in(path, sizeof path, "bad_shapes.txt");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        tu_write_file(path, files[i][0], strlen(files[i][0]));
        /* a run, and --print-layout: the same checks */
        const char *args[] = {"sgd", "--shapes", path, "--backend", "reference", NULL};
        const char *print[] = {"--shapes", path, "--print-layout", NULL};
        for (int p = 0; p < 2; p++) {
            char err[ERR_CAP], *out = NULL;
            int rc = bench(p ? print : args, &out, err);
            if (rc != 2 || !strstr(err, files[i][1]) ||
                strchr(err, '\n') != err + strlen(err) - 1 || out[0])
                fail_msg("shapes '%s'%s: exit %d, stderr '%s' (expected '%s')", files[i][0],
                         p ? " --print-layout" : "", rc, err, files[i][1]);
            free(out);
        }
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    static const char *const cases[][8] = {
        {"nosuch", NULL},
        {"adam", "--steps", "0", NULL},
        {"adam", "--steps", "1001", NULL},
        {"adam", "--n", "12x", NULL},
        {"adam", "--n", NULL},
        {"adam", "--backend", "cuda", NULL},
        {"adam", "--like", "sgd", NULL},
        {"copy", "--backend", "reference", NULL},
        {"adam", "lr=-1", "--backend", "reference", NULL}, /* refused by the optimizer */
        {"adam", "nosuchkey=1", NULL},
        {"traffic", "--like", "nosuch", NULL},
        {"adam", "--model", "nosuch", NULL},
        {"adam", "--model", "gpt2", "--n", "5", NULL},
        {"adam", "--model", "gpt2", "--tensors", "5", NULL},
        {"adam", "--model", "gpt2", "--shapes", "x", NULL},
        {"adam", "--shapes", "/nonexistent/shapes.txt", NULL},
        {"adam", "--model", NULL},
        /* replay's layout and group keys: bench's layout comes from its own options */
        {"lamb", "tensors=20", "--n", "20", "--backend", "reference", NULL},
        {"lamb", "shape=4,5", "--n", "20", "--backend", "reference", NULL},
        {"lamb", "trust_ratio_mask=0", "--n", "20", "--backend", "reference", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[ERR_CAP], *out = NULL, cmd[512];
        int rc = bench(cases[i], &out, err);
        tu_join_args(cmd, sizeof cmd, cases[i]);
        size_t newlines = 0;
        for (const char *c = err; *c; c++)
            newlines += *c == '\n';
        if (rc != 2 || strncmp(err, "optcl bench: ", 13) != 0 || newlines != 1 || out[0])
            fail_msg("bench %s: exit %d, stderr '%s', stdout '%s'", cmd, rc, err, out);
        free(out);
    }
}

/* --n, --tensors and --steps take digits alone, 1 … their most; anything else is refused
 * naming the option and the value (not later, as a layout's bad dimension). */
static void test_bad_counts(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"--n", "-1"},       {"--n", "99999999999999999999999"}, {"--n", " 5"},
        {"--n", "+5"},       {"--n", "0"},                       {"--n", "2305843009213693952"},
        {"--tensors", "-2"}, {"--tensors", " 2"},                {"--steps", " 3"},
        {"--steps", "1001"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {"sgd", cases[i][0], cases[i][1], "--backend", "reference",
                              "--print-layout", NULL};
        char err[ERR_CAP], want[128], *out = NULL;
        snprintf(want, sizeof want, "optcl bench: %s %s: expected a whole number 1 … ",
                 cases[i][0], cases[i][1]);
        int rc = bench(args, &out, err);
        if (rc != 2 || strncmp(err, want, strlen(want)) != 0 || out[0])
            fail_msg("bench %s '%s': exit %d, stderr '%s', stdout '%s'", cases[i][0],
                     cases[i][1], rc, err, out);
        free(out);
    }
}

/* `optcl devices`: every device with its float32 line, and the default device (what
 * optcl_context_create(NULL, …) opens: here the one device, PoCL's CPU). */
static void test_devices(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    char err[ERR_CAP], *out = NULL, *env = getenv("OPTCL_DEVICE");
    char *saved = env ? strdup(env) : NULL;
    unsetenv("OPTCL_DEVICE"); /* the default choice, not the environment's */
    const char *none[] = {NULL};
    int rc = tu_cli_capture("devices", none, &out, err, ERR_CAP);
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    char line[512];
    snprintf(line, sizeof line, "\ndefault device: %s\n", optcl_context_device_name(ctx));
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
    if (saved)
        setenv("OPTCL_DEVICE", saved, 1);
    free(saved);
    if (rc != 0)
        fail_msg("optcl devices exited %d: %s", rc, err);
    if (strncmp(out, "platform 0: ", 12) != 0 || !strstr(out, "\n  device 0:0  ") ||
        !strstr(out, "\n    float32: correctly rounded divide/sqrt ") || !strstr(out, line))
        fail_msg("optcl devices printed:\n%s", out);
    if (strstr(out, "Portable Computing Language") &&
        !strstr(out, "\ndefault device: Portable Computing Language / "))
        fail_msg("PoCL's device is not the default:\n%s", out);
    free(out);
    const char *extra[] = {"0:0", NULL};
    assert_int_equal(tu_cli_capture("devices", extra, &out, err, ERR_CAP), 2);
    free(out);
    if (!strstr(err, "optcl devices: unexpected argument '0:0'"))
        fail_msg("optcl devices 0:0: %s", err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_reference_and_tensors),
        cmocka_unit_test(test_traffic_is_its_own_yardstick),
        cmocka_unit_test(test_text_line),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_shapes_file),
        cmocka_unit_test(test_shape_and_gflops),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_bad_counts),
        cmocka_unit_test(test_devices),
    };
    return cmocka_run_group_tests(tests, tu_group_dir_setup, tu_group_dir_teardown);
}
