/* test_tensorwise.c — what the rules that look at whole tensors (LAMB, LARS, Adafactor, Muon)
 * promise beyond the golden data, on both backends:
 *   - tensors are independent: a tensor steps bit for bit as it would alone in its own set,
 *     and a NaN in one tensor's gradient reaches no other tensor (LAMB's and LARS's norms
 *     carry it to the whole tensor; in a vector Adafactor keeps it to its element, and the
 *     rest of the tensor steps unclipped, as torch's max(1.0, nan) is 1.0);
 *   - both backends give the same bits, with the OpenCL totals on 1 or 64 work-items per
 *     tensor (OPTCL_TOTALS_ITEMS: ctest runs this suite both ways);
 *   - a zero norm gives the trust ratio 1 (optax): a tensor of zero parameters takes the plain
 *     scaled step, a tensor of zero gradient (and no weight decay) does not move. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#define STEPS 5
static const optcl_tensor_spec SPECS[] = {
    {.name = "a", .ndim = 2, .shape = {40, 30}}, /* Adafactor: a row or column per work-item */
    {.name = "b", .ndim = 1, .shape = {300}},     /* more than one 256-element block */
    {.name = "c", .ndim = 3, .shape = {2, 3, 3}}, /* Adafactor: two matrices */
};
#define COUNT 3
#define NUMEL (1200 + 300 + 18)
static const size_t FIRST[COUNT] = {0, 1200, 1500}, SIZE[COUNT] = {1200, 300, 18};
#define NAN_AT (1200 + 20) /* in b */

static const optcl_backend BACKENDS[] = {OPTCL_BACKEND_REFERENCE, OPTCL_BACKEND_OPENCL};

static optcl_optimizer_config config_of(optcl_algorithm a)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(a);
    c.lr = a == OPTCL_LARS ? 0.5 : a == OPTCL_ADAFACTOR ? 0.05 : 0.01;
    c.weight_decay = 0.05;
    return c;
}

static void gradient(float *g, int t)
{
    uint64_t seed = 7u + (uint64_t)t;
    tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
}

/* Steps a rig of `count` tensors from specs, whose elements are [first, first + n) of the
 * whole set's p0 and gradients; the parameters after STEPS steps into out. */
static void run(optcl_backend b, const optcl_tensor_spec *specs, size_t count, size_t first,
                size_t n, const float *p0, const optcl_optimizer_config *c, int nan_at, float *out)
{
    tu_rig r = tu_rig_open(b, specs, count, p0 + first, c);
    float g[NUMEL];
    for (int t = 0; t < STEPS; t++) {
        gradient(g, t);
        if (nan_at >= 0)
            g[nan_at] = NAN;
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g + first, n), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
    }
    TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, out, n), "read");
    tu_rig_close(&r);
}

static void tensors_are_independent(void **state)
{
    (void)state;
    float p0[NUMEL], whole[NUMEL], poisoned[NUMEL], alone[NUMEL];
    uint64_t seed = 3;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    const optcl_algorithm rules[] = {OPTCL_LAMB, OPTCL_LARS, OPTCL_ADAFACTOR};
    enum { RULES = sizeof rules / sizeof rules[0] };
    float reference[RULES][NUMEL];
    for (size_t b = 0; b < 2; b++) {
        if (BACKENDS[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        for (size_t k = 0; k < RULES; k++) {
            optcl_optimizer_config c = config_of(rules[k]);
            const char *name = optcl_algorithm_name(rules[k]);
            run(BACKENDS[b], SPECS, COUNT, 0, NUMEL, p0, &c, -1, whole);
            if (b == 0)
                memcpy(reference[k], whole, sizeof whole);
            else if (memcmp(reference[k], whole, sizeof whole) != 0)
                fail_msg("%s: the OpenCL backend differs from the reference", name);
            run(BACKENDS[b], SPECS, COUNT, 0, NUMEL, p0, &c, NAN_AT, poisoned);
            for (size_t t = 0; t < COUNT; t++) {
                run(BACKENDS[b], &SPECS[t], 1, FIRST[t], SIZE[t], p0, &c, -1, alone);
                if (memcmp(alone, whole + FIRST[t], SIZE[t] * sizeof(float)) != 0)
                    fail_msg("%s: tensor %s steps differently alone", name, SPECS[t].name);
                bool hit = t == 1, spreads = rules[k] != OPTCL_ADAFACTOR;
                for (size_t i = 0; i < SIZE[t]; i++) {
                    float v = poisoned[FIRST[t] + i];
                    bool nan = hit && (spreads || FIRST[t] + i == NAN_AT);
                    bool moved = hit && !nan; /* Adafactor: RMS(U) is NaN, its clip 1 */
                    if (nan ? !isnan(v) : moved ? isnan(v) : v != whole[FIRST[t] + i])
                        fail_msg("%s: a NaN in b's gradient %s tensor %s (element %zu: %g)", name,
                                 nan ? "did not reach" : "reached", SPECS[t].name, i, (double)v);
                }
            }
        }
    }
}

/* Tensor a holds zero parameters (‖p‖ = 0), tensor c gets a zero gradient (‖u‖ = 0 without
 * weight decay): both take the ratio 1. LARS with momentum 0: a becomes −lr·g exactly, c stays.
 * LAMB: after one step, each equals the run whose group is left out of the trust ratio. */
static void zero_norms_give_ratio_one(void **state)
{
    (void)state;
    float p0[NUMEL], g[NUMEL], got[NUMEL], want[NUMEL];
    uint64_t seed = 11;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    memset(p0, 0, SIZE[0] * sizeof(float));
    gradient(g, 0);
    memset(g + FIRST[2], 0, SIZE[2] * sizeof(float));
    static const optcl_group_config excluded[1] = {{-1.0, -1.0, 1}};
    for (size_t b = 0; b < 2; b++) {
        if (BACKENDS[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        optcl_optimizer_config lars = optcl_optimizer_config_default(OPTCL_LARS);
        lars.lars.momentum = 0.0;
        tu_rig r = tu_rig_open(BACKENDS[b], SPECS, COUNT, p0, &lars);
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, got, NUMEL), "read");
        tu_rig_close(&r);
        float neg_lr = (float)-lars.lr;
        for (size_t i = 0; i < SIZE[0]; i++)
            assert_true(got[i] == 0.0f + neg_lr * (g[i] * 1.0f));
        assert_memory_equal(got + FIRST[2], p0 + FIRST[2], SIZE[2] * sizeof(float));

        optcl_optimizer_config lamb = optcl_optimizer_config_default(OPTCL_LAMB);
        tu_rig in = tu_rig_open(BACKENDS[b], SPECS, COUNT, p0, &lamb);
        lamb.groups = excluded;
        lamb.group_count = 1;
        tu_rig out = tu_rig_open(BACKENDS[b], SPECS, COUNT, p0, &lamb);
        tu_rig *rigs[2] = {&in, &out}; /* one step: after it a's parameters are not zero */
        for (int k = 0; k < 2; k++) {
            TU_OK(optcl_params_write(rigs[k]->params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
            TU_OK(optcl_optimizer_step(rigs[k]->opt, 0, NULL, NULL), "step");
        }
        TU_OK(optcl_params_read(in.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, got, NUMEL), "read");
        TU_OK(optcl_params_read(out.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, want, NUMEL), "read");
        assert_memory_equal(got, want, SIZE[0] * sizeof(float));
        assert_memory_equal(got + FIRST[2], want + FIRST[2], SIZE[2] * sizeof(float));
        assert_memory_not_equal(got + FIRST[1], want + FIRST[1], SIZE[1] * sizeof(float));
        tu_rig_close(&in);
        tu_rig_close(&out);
    }
}

/* Adafactor's state is not per element: row_var and col_var of each matrix (batched over the
 * leading dims), variance of each vector, with their own shapes. After one step (weight 1)
 * they are the row and column means of g² and g² itself; writes go back where reads came
 * from; wrong names, tensors and counts are refused. */
static void adafactor_state_has_its_own_shapes(void **state)
{
    (void)state;
    float p0[NUMEL], g[NUMEL];
    uint64_t seed = 5;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    gradient(g, 0);
    static const struct {
        const char *state;
        size_t tensor;
        int ndim;
        int64_t shape[3];
    } parts[] = {{"row_var", 0, 2, {40, 1}},
                 {"col_var", 0, 2, {1, 30}},
                 {"variance", 1, 1, {300}},
                 {"row_var", 2, 3, {2, 3, 1}},
                 {"col_var", 2, 3, {2, 1, 3}}};
    for (size_t b = 0; b < 2; b++) {
        if (BACKENDS[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        optcl_optimizer_config c = config_of(OPTCL_ADAFACTOR);
        tu_rig r = tu_rig_open(BACKENDS[b], SPECS, COUNT, p0, &c);
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        assert_int_equal(optcl_optimizer_state_count(r.opt), 3);
        float got[300], back[300];
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
            int ndim = -1;
            int64_t shape[OPTCL_MAX_DIMS] = {0};
            TU_OK(optcl_optimizer_state_shape(r.opt, parts[k].state, parts[k].tensor, &ndim, shape),
                  optcl_optimizer_message(r.opt));
            assert_int_equal(ndim, parts[k].ndim);
            size_t n = 1;
            for (int d = 0; d < ndim; d++) {
                assert_int_equal(shape[d], parts[k].shape[d]);
                n *= (size_t)shape[d];
            }
            TU_OK(optcl_optimizer_read_state(r.opt, parts[k].state, parts[k].tensor, got, n),
                  optcl_optimizer_message(r.opt));
            /* the oracle: the means of g² in double; element (b, i, j) of the tensor */
            const optcl_tensor_spec *t = &SPECS[parts[k].tensor];
            const float *tg = g + FIRST[parts[k].tensor];
            size_t cols = t->ndim >= 2 ? (size_t)t->shape[t->ndim - 1] : 1;
            size_t rows = t->ndim >= 2 ? (size_t)t->shape[t->ndim - 2] : 1;
            for (size_t v = 0; v < n; v++) {
                double want = 0.0;
                if (t->ndim < 2) {
                    want = (double)tg[v] * tg[v];
                } else if (strcmp(parts[k].state, "row_var") == 0) {
                    for (size_t j = 0; j < cols; j++)
                        want += (double)tg[v * cols + j] * tg[v * cols + j] / (double)cols;
                } else {
                    size_t batch = v / cols, j = v % cols;
                    for (size_t i = 0; i < rows; i++) {
                        double x = tg[(batch * rows + i) * cols + j];
                        want += x * x / (double)rows;
                    }
                }
                if (fabs(got[v] - want) > 1e-6 * want + 1e-12)
                    fail_msg("%s of %s, value %zu: %.9g, the mean of g² is %.9g", parts[k].state,
                             t->name, v, (double)got[v], want);
            }
            for (size_t v = 0; v < n; v++)
                got[v] = (float)(k + 1) + (float)v;
            TU_OK(optcl_optimizer_write_state(r.opt, parts[k].state, parts[k].tensor, got, n),
                  optcl_optimizer_message(r.opt));
            TU_OK(optcl_optimizer_read_state(r.opt, parts[k].state, parts[k].tensor, back, n),
                  optcl_optimizer_message(r.opt));
            assert_memory_equal(got, back, n * sizeof(float));
            assert_int_equal(
                optcl_optimizer_read_state(r.opt, parts[k].state, parts[k].tensor, back, n + 1),
                OPTCL_ERROR_SIZE_MISMATCH);
        }
        /* packed over the tensors that keep it: a's 40 and c's 6 row means */
        float packed[46];
        TU_OK(optcl_optimizer_read_state(r.opt, "row_var", OPTCL_ALL, packed, 46),
              optcl_optimizer_message(r.opt));
        assert_true(packed[0] == 1.0f && packed[39] == 40.0f && packed[40] == 4.0f);
        int ndim = 0;
        int64_t shape[OPTCL_MAX_DIMS];
        assert_int_equal(optcl_optimizer_state_shape(r.opt, "variance", 0, &ndim, shape),
                         OPTCL_ERROR_NOT_FOUND);
        assert_non_null(strstr(optcl_optimizer_message(r.opt), "'a'"));
        assert_int_equal(optcl_optimizer_read_state(r.opt, "row_var", 1, got, 300),
                         OPTCL_ERROR_NOT_FOUND);
        assert_int_equal(optcl_optimizer_read_state(r.opt, "exp_avg", 0, got, 10),
                         OPTCL_ERROR_NOT_FOUND);
        assert_int_equal(optcl_optimizer_state_shape(r.opt, "row_var", COUNT, &ndim, shape),
                         OPTCL_ERROR_NOT_FOUND);
        tu_rig_close(&r);
    }
}

/* Adafactor's small matrices (a convolution weight is thousands of them): 1×1 ones VEC at a
 * time with a tail (1100 of them: a group of 1024 and 76), and rows of every width its short-row
 * sums and its 16 lanes handle, step bit for bit alike on both backends, maximizing and with
 * weight decay, over several steps (the state read back each time). */
static void adafactor_small_matrices_match_the_reference(void **state)
{
    (void)state;
    static const optcl_tensor_spec convs[] = {
        {.name = "pointwise", .ndim = 4, .shape = {50, 22, 1, 1}},
        {.name = "k3", .ndim = 4, .shape = {7, 5, 3, 3}},
        {.name = "k1x2", .ndim = 3, .shape = {9, 1, 2}},
        {.name = "k5x7", .ndim = 4, .shape = {4, 2, 5, 7}},
        {.name = "k2x13", .ndim = 3, .shape = {6, 2, 13}},
        {.name = "k3x16", .ndim = 3, .shape = {3, 3, 16}},
        {.name = "k2x40", .ndim = 3, .shape = {5, 2, 40}},
        {.name = "k4x1", .ndim = 3, .shape = {11, 4, 1}},
    };
    enum {
        CONVS = sizeof convs / sizeof convs[0],
        N = 1100 + 315 + 18 + 280 + 156 + 144 + 400 + 44
    };
    static float p0[N], g[N], got[2][N], rows[2][N];
    uint64_t seed = 17;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    optcl_optimizer_config c = config_of(OPTCL_ADAFACTOR);
    c.maximize = 1;
    for (size_t b = 0; b < 2; b++) {
        if (BACKENDS[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        tu_rig r = tu_rig_open(BACKENDS[b], convs, CONVS, p0, &c);
        uint64_t gseed = 23;
        for (int t = 0; t < STEPS; t++) {
            tu_fill_random(g, N, &gseed, -2.0f, 2.0f);
            g[7] = 0.0f; /* a zero row and column of a 1×1 matrix */
            TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
            TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        }
        TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, got[b], N), "read");
        size_t kept = 0; /* every matrix's row means, tensor after tensor */
        for (size_t k = 0; k < CONVS; k++) {
            size_t n = (size_t)(convs[k].shape[0] * convs[k].shape[1] *
                                (convs[k].ndim == 4 ? convs[k].shape[2] : 1));
            TU_OK(optcl_optimizer_read_state(r.opt, "row_var", k, rows[b] + kept, n),
                  optcl_optimizer_message(r.opt));
            kept += n;
        }
        tu_rig_close(&r);
        if (b == 1) {
            for (size_t at = 0; at < N; at++)
                if (memcmp(&got[1][at], &got[0][at], sizeof(float)) != 0)
                    fail_msg("element %zu: OpenCL %.9g, the reference %.9g", at, (double)got[1][at],
                             (double)got[0][at]);
            assert_memory_equal(rows[1], rows[0], kept * sizeof(float));
        }
        assert_memory_not_equal(got[b], p0, N * sizeof(float));
    }
}

/* Muon: 2-D tensors only, refused naming the first other one; as matrices, each tensor steps
 * alone as in the set (its own Newton–Schulz iteration, batched or not), and the backends
 * agree within the golden tolerance (CLBlast adds its products in its own order). */
static void muon_steps_matrices(void **state)
{
    (void)state;
    float p0[NUMEL], whole[2][NUMEL], alone[NUMEL];
    uint64_t seed = 13;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    optcl_tensor_spec matrices[COUNT];
    tu_as_matrices(SPECS, COUNT, matrices); /* 40×30, 1×300, 6×3 */
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_MUON);
    c.lr = 0.02;
    for (size_t b = 0; b < 2; b++) {
        if (BACKENDS[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        optcl_context *ctx = tu_context(BACKENDS[b]);
        optcl_params *p = NULL;
        optcl_optimizer *o = NULL;
        TU_OK(optcl_params_create(ctx, SPECS, COUNT, &p), optcl_context_message(ctx));
        assert_int_equal(optcl_optimizer_create(p, &c, &o), OPTCL_ERROR_INVALID_ARGUMENT);
        assert_non_null(strstr(optcl_context_message(ctx), "tensor 'b' has 1 dimension"));
        TU_OK(optcl_params_destroy(p), "destroy");
        if (tu_muon_refused(BACKENDS[b], OPTCL_MUON)) { /* no CLBlast: refused, and why */
            TU_OK(optcl_params_create(ctx, matrices, COUNT, &p), optcl_context_message(ctx));
            assert_int_equal(optcl_optimizer_create(p, &c, &o), OPTCL_ERROR_UNSUPPORTED);
            assert_non_null(strstr(optcl_context_message(ctx), "need CLBlast on OpenCL"));
            assert_null(o);
            TU_OK(optcl_params_destroy(p), "destroy");
        }
        TU_OK(optcl_context_destroy(ctx), "destroy");
        if (tu_muon_refused(BACKENDS[b], OPTCL_MUON))
            continue;

        run(BACKENDS[b], matrices, COUNT, 0, NUMEL, p0, &c, -1, whole[b]);
        for (size_t t = 0; t < COUNT; t++) {
            run(BACKENDS[b], &matrices[t], 1, FIRST[t], SIZE[t], p0, &c, -1, alone);
            if (memcmp(alone, whole[b] + FIRST[t], SIZE[t] * sizeof(float)) != 0)
                fail_msg("muon: tensor %s steps differently alone", SPECS[t].name);
        }
        double worst = 0.0;
        if (b == 1 && tu_first_mismatch(whole[1], whole[0], NUMEL, 1e-5, 1e-4, &worst) !=
                          (size_t)-1)
            fail_msg("muon: the backends differ by %g", worst);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tensors_are_independent),
        cmocka_unit_test(zero_norms_give_ratio_one),
        cmocka_unit_test(adafactor_state_has_its_own_shapes),
        cmocka_unit_test(adafactor_small_matrices_match_the_reference),
        cmocka_unit_test(muon_steps_matrices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
