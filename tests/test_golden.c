/* test_golden.c — `optcl replay` against PyTorch's own trajectories.
 *
 * tests/golden/make_golden.py (run with PyTorch) wrote p0.npy (N,), grads.npy (T, N), one
 * expected/<case>.npy (T, N) per case and cases.txt, one line per case:
 *     <case> <optimizer> KEY=VALUE ... [--metrics=metrics/<case>.npy]
 * A --metrics=FILE token (ReduceLROnPlateau cases) is passed as `--metrics <golden dir>/FILE`.
 * tests/golden/make_golden_dtype.py (PyTorch 2.x's fused optimizers with float32, bfloat16 and
 * float16 parameters) wrote expected_dtype/<case>.npy and cases_dtype.txt, whose lines end in
 * --ulps=U (0 there: bit for bit). make_golden_optim.py, make_golden_schedulefree.py,
 * make_golden_tensorwise.py (optax's LAMB and LARS), make_golden_adafactor.py and
 * make_golden_muon.py (torch's Muon with its Newton–Schulz iteration in float32) wrote
 * cases_<set>.txt and expected_<set>/ alike. For every case and both backends this suite runs the
 * CLI (tu_cli_path()) into a fresh temp folder, reads its OUT with optcl_npy_read and requires |a −
 * e| ≤ 1e-5 + 1e-4·|e| for every element — for a --ulps case, |a − e| ≤ U units in the last place
 * of the param_dtype at e — naming the case, step and element of the first violation and the worst
 * error. */
#include "testutil.h"

#include <errno.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optcl.h"

#define GOLDEN_ATOL 1e-5
#define GOLDEN_RTOL 1e-4
#define MAX_CASES 256
#define MAX_KEYS 32
#define STDERR_CAP 8192

typedef struct golden_case {
    char name[128];
    char optimizer[32];
    char *keys[MAX_KEYS];
    int key_count;
    char *metrics; /* --metrics=FILE: FILE relative to the golden folder, or NULL */
    char *grads;   /* --grads=FILE: gradients other than grads.npy (nonfinite=skip cases) */
    int ulps;      /* --ulps=U: the tolerance in the parameter type's units; -1: none */
    char *scale;   /* --scale-out=FILE: the loss scaler's expected trace (T, 3), exactly */
    const char *expected; /* the folder of its expected trajectory */
} golden_case;

typedef struct golden_test {
    const golden_case *gc;
    const char *backend; /* "reference" or "opencl" */
    char test_name[192];
} golden_test;

static golden_case g_cases[MAX_CASES];
static size_t g_case_count;
static golden_test g_tests[2 * MAX_CASES];

/* ---------------------------------------------------------------------------------------- */
/* cases.txt                                                                                */
/* ---------------------------------------------------------------------------------------- */

static void golden_free_cases(void)
{
    for (size_t i = 0; i < g_case_count; i++) {
        for (int k = 0; k < g_cases[i].key_count; k++)
            free(g_cases[i].keys[k]);
        free(g_cases[i].metrics);
        free(g_cases[i].grads);
        free(g_cases[i].scale);
    }
    g_case_count = 0;
}

/* Reads a cases file (expected: the folder of its trajectories); on failure prints why and
 * returns -1. */
static int golden_load_cases(const char *cases, const char *expected)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tu_golden_dir(), cases);
    FILE *fh = fopen(path, "r");
    if (!fh) {
        print_error("cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, fh)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(fh)) {
            print_error("%s:%d: line too long\n", path, lineno);
            fclose(fh);
            return -1;
        }
        char *save = NULL;
        char *tok = strtok_r(line, " \t\r\n", &save);
        if (!tok || tok[0] == '#')
            continue;
        if (g_case_count == MAX_CASES) {
            print_error("%s: more than %d cases\n", path, MAX_CASES);
            fclose(fh);
            return -1;
        }
        golden_case *gc = &g_cases[g_case_count];
        memset(gc, 0, sizeof *gc);
        char *opt = strtok_r(NULL, " \t\r\n", &save);
        if (!opt || strlen(tok) >= sizeof gc->name || strlen(opt) >= sizeof gc->optimizer) {
            print_error("%s:%d: expected '<case> <optimizer> KEY=VALUE ...'\n", path, lineno);
            fclose(fh);
            return -1;
        }
        strcpy(gc->name, tok);
        strcpy(gc->optimizer, opt);
        gc->ulps = -1;
        gc->expected = expected;
        g_case_count++;
        while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
            if (strncmp(tok, "--ulps=", 7) == 0) {
                char *end = NULL;
                long u = strtol(tok + 7, &end, 10);
                if (end == tok + 7 || *end || u < 0 || u > 64) {
                    print_error("%s:%d: bad %s\n", path, lineno, tok);
                    fclose(fh);
                    return -1;
                }
                gc->ulps = (int)u;
                continue;
            }
            static const char metrics_token[] = "--metrics=", grads_token[] = "--grads=",
                              scale_token[] = "--scale-out=";
            bool is_metrics = strncmp(tok, metrics_token, sizeof metrics_token - 1) == 0;
            bool is_grads = strncmp(tok, grads_token, sizeof grads_token - 1) == 0;
            bool is_scale = strncmp(tok, scale_token, sizeof scale_token - 1) == 0;
            if (is_metrics || is_grads || is_scale) {
                char **slot = is_metrics ? &gc->metrics : is_grads ? &gc->grads : &gc->scale;
                const char *file = strchr(tok, '=') + 1;
                if (*slot || !*file) {
                    print_error("%s:%d: bad or repeated %s\n", path, lineno, tok);
                    fclose(fh);
                    return -1;
                }
                *slot = strdup(file);
                if (!*slot) {
                    fclose(fh);
                    return -1;
                }
                continue;
            }
            if (tok[0] == '-') {
                print_error("%s:%d: unknown option '%s' (only --metrics=FILE, --grads=FILE, "
                            "--scale-out=FILE, --ulps=U)\n",
                            path, lineno, tok);
                fclose(fh);
                return -1;
            }
            if (gc->key_count == MAX_KEYS || !strchr(tok, '=')) {
                print_error("%s:%d: bad or too many KEY=VALUE arguments\n", path, lineno);
                fclose(fh);
                return -1;
            }
            gc->keys[gc->key_count] = strdup(tok);
            if (!gc->keys[gc->key_count]) {
                fclose(fh);
                return -1;
            }
            gc->key_count++;
        }
    }
    fclose(fh);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Tests                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/* A case's extra file (NULL: none) must be an array of ndim dimensions, shape[0..ndim). */
static void expect_shape(const char *name, const char *file, int ndim, const size_t *shape)
{
    if (!file)
        return;
    char path[1024], msg[1024] = "";
    snprintf(path, sizeof path, "%s/%s", tu_golden_dir(), file);
    optcl_array a = {0};
    TU_OK(optcl_npy_read(path, &a, msg, sizeof msg), msg);
    bool ok = a.ndim == ndim;
    for (int d = 0; ok && d < ndim; d++)
        ok = a.shape[d] == shape[d];
    optcl_array_free(&a);
    if (!ok)
        fail_msg("case %s: %s is not of shape (%zu%s)", name, path, shape[0],
                 ndim == 2 ? ", N" : ",");
}

static void golden_check_data(void **state)
{
    (void)state;
    /* The data set must be the one cases.txt was made from: p0 (N,), grads (T, N). */
    char msg[1024] = "";
    optcl_array p0 = {0}, grads = {0};
    char p0_path[1024], grads_path[1024];
    snprintf(p0_path, sizeof p0_path, "%s/p0.npy", tu_golden_dir());
    snprintf(grads_path, sizeof grads_path, "%s/grads.npy", tu_golden_dir());
    TU_OK(optcl_npy_read(p0_path, &p0, msg, sizeof msg), msg);
    TU_OK(optcl_npy_read(grads_path, &grads, msg, sizeof msg), msg);
    assert_int_equal(p0.ndim, 1);
    assert_int_equal(grads.ndim, 2);
    assert_true(p0.shape[0] == grads.shape[1]);
    assert_true(grads.shape[0] >= 2);
    /* Every optimizer is covered. */
    static const char *const names[] = {"sgd", "adam", "adamw", "rmsprop", "rprop"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        size_t n = 0;
        for (size_t i = 0; i < g_case_count; i++)
            n += strcmp(g_cases[i].optimizer, names[k]) == 0;
        if (n == 0)
            fail_msg("cases.txt has no %s case", names[k]);
    }
    /* Other gradients (nonfinite=skip cases) have grads.npy's shape (T, N); every metrics file
     * (ReduceLROnPlateau cases) holds one float32 value per step, (T,). */
    for (size_t i = 0; i < g_case_count; i++) {
        expect_shape(g_cases[i].name, g_cases[i].grads, 2, grads.shape);
        expect_shape(g_cases[i].name, g_cases[i].metrics, 1, grads.shape);
    }
    optcl_array_free(&p0);
    optcl_array_free(&grads);
}

/* One unit in the last place of a bfloat16 or float16 value of magnitude |e| (subnormals: the
 * smallest subnormal). */
static double ulp_of(double e, const char *dtype)
{
    bool f16 = strcmp(dtype, "f16") == 0, f32 = strcmp(dtype, "f32") == 0;
    int exp = 0;
    frexp(fabs(e), &exp); /* |e| = m·2^exp, m in [0.5, 1): the leading bit is 2^(exp−1) */
    int lowest = f16 ? -14 : -126, digits = f16 ? 10 : f32 ? 23 : 7;
    int lead = e == 0.0 || exp - 1 < lowest ? lowest : exp - 1;
    return ldexp(1.0, lead - digits);
}

/* The first element outside U ulps of the case's parameter type, or (size_t)-1. */
static size_t first_beyond_ulps(const golden_case *gc, const float *a, const float *e, size_t n,
                                double *worst)
{
    const char *dtype = "";
    for (int k = 0; k < gc->key_count; k++)
        if (strncmp(gc->keys[k], "param_dtype=", 12) == 0)
            dtype = gc->keys[k] + 12;
    if (strcmp(dtype, "bf16") != 0 && strcmp(dtype, "f16") != 0 && strcmp(dtype, "f32") != 0)
        fail_msg("case %s: --ulps needs param_dtype=f32, bf16 or f16", gc->name);
    size_t bad = (size_t)-1;
    *worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)e[i]) / ulp_of(e[i], dtype);
        if (!(d <= gc->ulps) && bad == (size_t)-1)
            bad = i;
        *worst = d > *worst ? d : *worst;
    }
    return bad;
}

/* Every value of got within the rows' tolerance of want (count values, rows of n), or the
 * test fails naming the case, the output, the step and the element. */
static void expect_close(const golden_case *gc, const char *backend, const char *what,
                         const float *got, const float *want, size_t count, size_t n)
{
    size_t bad = tu_first_mismatch(got, want, count, GOLDEN_ATOL, GOLDEN_RTOL, NULL);
    if (bad != (size_t)-1)
        fail_msg("case %s (%s): %s step %zu element %zu: got %.9g, expected %.9g", gc->name,
                 backend, what, bad / n + 1, bad % n, (double)got[bad], (double)want[bad]);
}

/* Every row of a second output (got) within the rows' tolerance of expected. */
static void expect_rows(const golden_case *gc, const char *backend, const char *what,
                        const char *got_path, const char *expected_path)
{
    char msg[1024] = "";
    optcl_array got = {0}, want = {0};
    TU_OK(optcl_npy_read(got_path, &got, msg, sizeof msg), msg);
    TU_OK(optcl_npy_read(expected_path, &want, msg, sizeof msg), msg);
    assert_int_equal(got.count, want.count);
    assert_int_equal(want.ndim, 2);
    expect_close(gc, backend, what, got.data, want.data, want.count, want.shape[1]);
    optcl_array_free(&got);
    optcl_array_free(&want);
}

/* The state ax after the last step (the checkpoint's) must be the last row of ax_path, within
 * the rows' tolerance. */
static void expect_final_ax(const golden_case *gc, const char *backend, const char *state_path,
                            const char *ax_path)
{
    char msg[1024] = "";
    optcl_array ax = {0};
    TU_OK(optcl_npy_read(ax_path, &ax, msg, sizeof msg), msg);
    assert_int_equal(ax.ndim, 2);
    optcl_tensor_spec *specs = NULL;
    size_t count = 0;
    optcl_optimizer_config config;
    TU_OK(optcl_checkpoint_inspect(state_path, &specs, &count, &config, msg, sizeof msg), msg);
    assert_int_equal(count, 1);
    tu_rig r = tu_rig_open(OPTCL_BACKEND_REFERENCE, specs, count, NULL, &config);
    free(specs);
    TU_OK(optcl_checkpoint_load(r.opt, state_path), optcl_optimizer_message(r.opt));
    size_t n = ax.shape[1], steps = ax.shape[0];
    float *got = malloc(n * sizeof *got);
    assert_non_null(got);
    TU_OK(optcl_optimizer_read_state(r.opt, "ax", 0, got, n), optcl_optimizer_message(r.opt));
    tu_rig_close(&r);
    char what[64];
    snprintf(what, sizeof what, "ax after step %zu,", steps);
    expect_close(gc, backend, what, got, ax.data + (steps - 1) * n, n, n);
    free(got);
    optcl_array_free(&ax);
}

/* The loss scaler's trace must be the expected one exactly: scale, tracker, skipped steps. */
static void expect_scale_trace(const golden_case *gc, const char *backend, const char *path)
{
    char want_path[1024], msg[1024] = "";
    snprintf(want_path, sizeof want_path, "%s/%s", tu_golden_dir(), gc->scale);
    optcl_array got = {0}, want = {0};
    TU_OK(optcl_npy_read(path, &got, msg, sizeof msg), msg);
    TU_OK(optcl_npy_read(want_path, &want, msg, sizeof msg), msg);
    assert_int_equal(got.count, want.count);
    for (size_t i = 0; i < want.count; i++)
        if (got.data[i] != want.data[i])
            fail_msg("case %s (%s): after step %zu the loss scaler's %s is %g, expected %g",
                     gc->name, backend, i / 3 + 1,
                     i % 3 == 0 ? "scale" : i % 3 == 1 ? "growth tracker" : "skipped count",
                     (double)got.data[i], (double)want.data[i]);
    optcl_array_free(&got);
    optcl_array_free(&want);
}

static void golden_case_test(void **state)
{
    const golden_test *gt = *state;
    const golden_case *gc = gt->gc;
    if (strcmp(gt->backend, "opencl") == 0 && tu_opencl_missing())
        skip();
    optcl_algorithm algorithm = OPTCL_SGD;
    if (strcmp(gt->backend, "opencl") == 0 &&
        optcl_algorithm_from_name(gc->optimizer, &algorithm) == OPTCL_SUCCESS &&
        tu_muon_refused(OPTCL_BACKEND_OPENCL, algorithm))
        skip(); /* a build without CLBlast: test_tensorwise checks the refusal */

    char expected_path[1024];
    snprintf(expected_path, sizeof expected_path, "%s/%s/%s.npy", tu_golden_dir(), gc->expected,
             gc->name);
    char msg[1024] = "";
    optcl_array expected = {0};
    TU_OK(optcl_npy_read(expected_path, &expected, msg, sizeof msg), msg);
    assert_int_equal(expected.ndim, 2);

    char *dir = tu_make_tempdir();
    assert_non_null(dir);
    char out_path[1024], scale_path[1024];
    snprintf(out_path, sizeof out_path, "%s/out.npy", dir);
    snprintf(scale_path, sizeof scale_path, "%s/scale.npy", dir);

    char *argv[18 + MAX_KEYS];
    int argc = 0;
    char p0_path[1024], grads_path[1024], metrics_path[1024];
    snprintf(p0_path, sizeof p0_path, "%s/p0.npy", tu_golden_dir());
    snprintf(grads_path, sizeof grads_path, "%s/%s", tu_golden_dir(),
             gc->grads ? gc->grads : "grads.npy");
    argv[argc++] = (char *)tu_cli_path();
    argv[argc++] = (char *)"replay";
    argv[argc++] = (char *)gc->optimizer;
    argv[argc++] = (char *)"--params";
    argv[argc++] = p0_path;
    argv[argc++] = (char *)"--grads";
    argv[argc++] = grads_path;
    argv[argc++] = (char *)"--out";
    argv[argc++] = out_path;
    argv[argc++] = (char *)"--backend";
    argv[argc++] = (char *)gt->backend;
    if (gc->metrics) {
        snprintf(metrics_path, sizeof metrics_path, "%s/%s", tu_golden_dir(), gc->metrics);
        argv[argc++] = (char *)"--metrics";
        argv[argc++] = metrics_path;
    }
    if (gc->scale) {
        argv[argc++] = (char *)"--scale-out";
        argv[argc++] = scale_path;
    }
    /* ASGD: torch's averaged parameters ax, which the rows cannot show, from the checkpoint */
    char ax_path[1024], state_path[1024];
    snprintf(ax_path, sizeof ax_path, "%s/%s/%s_ax.npy", tu_golden_dir(), gc->expected,
             gc->name);
    snprintf(state_path, sizeof state_path, "%s/state.safetensors", dir);
    bool has_ax = access(ax_path, R_OK) == 0;
    if (has_ax) {
        argv[argc++] = (char *)"--save-state";
        argv[argc++] = state_path;
    }
    /* Schedule-Free: the eval-mode parameters x after each step, beside y in OUT */
    char eval_expected[1024], eval_path[1024];
    snprintf(eval_expected, sizeof eval_expected, "%s/%s/%s_eval.npy", tu_golden_dir(),
             gc->expected, gc->name);
    snprintf(eval_path, sizeof eval_path, "%s/eval.npy", dir);
    bool has_eval = access(eval_expected, R_OK) == 0;
    if (has_eval) {
        argv[argc++] = (char *)"--out-eval";
        argv[argc++] = eval_path;
    }
    for (int k = 0; k < gc->key_count; k++)
        argv[argc++] = gc->keys[k];
    argv[argc] = NULL;

    char *err = malloc(STDERR_CAP);
    assert_non_null(err);
    int rc = tu_run(argv, err, STDERR_CAP);
    if (rc != 0) {
        tu_remove_tree(dir);
        free(dir);
        optcl_array_free(&expected);
        fail_msg("case %s (%s): optcl replay exited %d: %s", gc->name, gt->backend, rc, err);
    }
    free(err);

    if (gc->scale)
        expect_scale_trace(gc, gt->backend, scale_path);
    if (has_ax)
        expect_final_ax(gc, gt->backend, state_path, ax_path);
    if (has_eval)
        expect_rows(gc, gt->backend, "--out-eval", eval_path, eval_expected);
    optcl_array out = {0};
    optcl_status st = optcl_npy_read(out_path, &out, msg, sizeof msg);
    tu_remove_tree(dir);
    free(dir);
    if (st != OPTCL_SUCCESS) {
        optcl_array_free(&expected);
        fail_msg("case %s (%s): reading OUT: %s (%s)", gc->name, gt->backend,
                 optcl_status_name(st), msg);
    }
    if (out.ndim != 2 || out.shape[0] != expected.shape[0] ||
        out.shape[1] != expected.shape[1]) {
        size_t r = out.ndim > 0 ? out.shape[0] : 0, c = out.ndim > 1 ? out.shape[1] : 0;
        optcl_array_free(&out);
        optcl_array_free(&expected);
        fail_msg("case %s (%s): OUT has %d dims (%zu, %zu…), expected (%zu, %zu)", gc->name,
                 gt->backend, out.ndim, r, c, expected.shape[0], expected.shape[1]);
    }

    double worst = 0.0;
    size_t bad = gc->ulps >= 0 ? first_beyond_ulps(gc, out.data, expected.data, expected.count,
                                                   &worst)
                               : tu_first_mismatch(out.data, expected.data, expected.count,
                                                   GOLDEN_ATOL, GOLDEN_RTOL, &worst);
    if (bad != (size_t)-1) {
        size_t n = expected.shape[1];
        double a = out.data[bad], e = expected.data[bad];
        char why[160];
        if (gc->ulps >= 0)
            snprintf(why, sizeof why, "more than %d ulps apart; worst over the run %.3g ulps",
                     gc->ulps, worst);
        else
            snprintf(why, sizeof why, "|diff| %.3g > %.3g; worst |diff| over the run %.3g",
                     fabs(a - e), GOLDEN_ATOL + GOLDEN_RTOL * fabs(e), worst);
        optcl_array_free(&out);
        optcl_array_free(&expected);
        fail_msg("case %s (%s): step %zu (row %zu) element %zu: got %.9g, expected %.9g (%s)",
                 gc->name, gt->backend, bad / n + 1, bad / n, bad % n, a, e, why);
    }
    optcl_array_free(&out);
    optcl_array_free(&expected);
}

int main(void)
{
    if (golden_load_cases("cases.txt", "expected") != 0 ||
        golden_load_cases("cases_dtype.txt", "expected_dtype") != 0 ||
        golden_load_cases("cases_optim.txt", "expected_optim") != 0 ||
        golden_load_cases("cases_schedulefree.txt", "expected_schedulefree") != 0 ||
        golden_load_cases("cases_tensorwise.txt", "expected_tensorwise") != 0 ||
        golden_load_cases("cases_adafactor.txt", "expected_adafactor") != 0 ||
        golden_load_cases("cases_muon.txt", "expected_muon") != 0)
        return 1;
    if (g_case_count == 0) {
        print_error("%s/cases.txt lists no case\n", tu_golden_dir());
        return 1;
    }
    static const char *const backends[] = {"reference", "opencl"};
    struct CMUnitTest *tests = calloc(1 + 2 * g_case_count, sizeof *tests);
    if (!tests)
        return 1;
    size_t n = 0;
    tests[n++] = (struct CMUnitTest){"golden_check_data", golden_check_data, NULL, NULL, NULL};
    for (size_t b = 0; b < 2; b++) {
        for (size_t i = 0; i < g_case_count; i++) {
            golden_test *gt = &g_tests[b * g_case_count + i];
            gt->gc = &g_cases[i];
            gt->backend = backends[b];
            snprintf(gt->test_name, sizeof gt->test_name, "%.16s/%.127s", backends[b],
                     g_cases[i].name);
            tests[n++] = (struct CMUnitTest){gt->test_name, golden_case_test, NULL, NULL, gt};
        }
    }
    int failed = _cmocka_run_group_tests("golden", tests, n, NULL, NULL);
    free(tests);
    golden_free_cases();
    return failed;
}
