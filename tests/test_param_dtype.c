/* test_param_dtype.c — bfloat16 and float16 parameter sets (optcl_params_create_typed) on both
 * backends:
 *   - float32 → float16 rounds as the compiler's _Float16 (IEEE nearest even, subnormals,
 *     overflow to Inf), every NaN to 0x7E00; bfloat16 as c10::BFloat16;
 *   - raw reads and writes move the stored bits; float32 reads widen them exactly;
 *   - a step is the float32 step from the same (widened) values, rounded when stored: the
 *     parameters to their type, the state to its own;
 *   - every rule, with the guard and Lookahead, gives the same bits on both backends;
 *   - wrapped caller buffers of 2-byte elements step as created ones do;
 *   - checkpoints keep the parameters as BF16/F16 tensors, resume bit for bit, and refuse a set
 *     of another type by naming both;
 *   - bad dtypes and short wrapped buffers are refused with a message;
 *   - with master weights the master follows the float32 optimizer bit for bit and the
 *     parameters are it rounded; stochastic rounding is unbiased, takes only the two
 *     neighbours, and draws the same bits on both backends; a checkpoint resumes bit for bit;
 *     master weights with float32 sets, stochastic rounding without bfloat16 and master
 *     weights with Lookahead are refused. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const optcl_backend backends[] = {OPTCL_BACKEND_REFERENCE, OPTCL_BACKEND_OPENCL};
#define BACKENDS (sizeof backends / sizeof backends[0])
static const optcl_dtype low[] = {OPTCL_DTYPE_BF16, OPTCL_DTYPE_F16};
#define LOW (sizeof low / sizeof low[0])

static const optcl_tensor_spec specs[] = {
    {.name = "w", .ndim = 2, .shape = {33, 31}, .group = 0},
    {.name = "b", .ndim = 1, .shape = {517}, .group = 1},
    {.name = "s", .ndim = 0, .group = 1},
};
#define NSPECS 3
#define NUMEL (33 * 31 + 517 + 1)

static bool skip_backend(optcl_backend b)
{
    return b == OPTCL_BACKEND_OPENCL && tu_opencl_missing();
}

/* The expected stored bits: c10::BFloat16, or the compiler's IEEE binary16 with every NaN as
 * 0x7E00. */
static uint16_t expect_bits(float f, optcl_dtype dtype)
{
    if (dtype == OPTCL_DTYPE_BF16)
        return tu_bf16_bits(f);
    if (isnan(f))
        return 0x7E00u;
#ifdef __FLT16_MAX__
    _Float16 h = (_Float16)f;
    uint16_t b;
    memcpy(&b, &h, sizeof b);
    return b;
#else
    skip();
    return 0;
#endif
}

/* Floats around every float16 boundary: each binary16 value and each midpoint between two,
 * ±1 float32 ulp, over the normal and subnormal ranges and past the largest half; then a
 * sweep of all float32 bit patterns with a prime stride, and NaNs of both signs. */
static size_t conversion_cases(float *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t h = 0; h < 0x7C00u && n + 8 <= cap; h += 7) {
        /* the half h and the midpoint to the next one, exact in double */
        uint32_t e = h >> 10, m = h & 0x3FFu;
        double value = e ? ldexp(1.0 + m / 1024.0, (int)e - 15) : ldexp(m / 1024.0, -14);
        double ulp = e ? ldexp(1.0, (int)e - 25) : ldexp(1.0, -24);
        float mid = (float)(value + ulp / 2);
        float around[] = {(float)value, mid, nextafterf(mid, 0.0f), nextafterf(mid, INFINITY)};
        for (size_t k = 0; k < 4; k++) {
            out[n++] = around[k];
            out[n++] = -around[k];
        }
    }
    const float edges[] = {65504.0f, 65519.996f, 65520.0f, 1e6f, INFINITY, 0x1p-25f, 0x1.8p-25f,
                           0x1p-26f};
    for (size_t k = 0; k < sizeof edges / sizeof edges[0] && n + 2 <= cap; k++) {
        out[n++] = edges[k];
        out[n++] = -edges[k];
    }
    for (uint64_t u = 0; u <= 0xFFFFFFFFull && n < cap - 4; u += 1000003)
        out[n++] = tu_float((uint32_t)u);
    out[n++] = tu_float(0x7FC00000u);
    out[n++] = tu_float(0xFFC00001u);
    out[n++] = tu_float(0x7F800001u);
    return n;
}

/* optcl_params_write rounds every case to the stored bits expected; read_raw shows them, read
 * widens them exactly, and write_raw then read_raw gives the bits back. */
static void values_round_as_c10(void **state)
{
    (void)state;
    size_t cap = 40000;
    float *x = malloc(cap * sizeof *x), *back = malloc(cap * sizeof *back);
    uint16_t *bits = malloc(cap * sizeof *bits), *raw = malloc(cap * sizeof *raw);
    assert_true(x && back && bits && raw);
    size_t n = conversion_cases(x, cap);
    optcl_tensor_spec one = {.name = "x", .ndim = 1, .shape = {(int64_t)n}};
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        optcl_context *ctx = tu_context(backends[b]);
        for (size_t d = 0; d < LOW; d++) {
            optcl_params *p = NULL;
            TU_OK(optcl_params_create_typed(ctx, &one, 1, low[d], &p), optcl_context_message(ctx));
            assert_int_equal(optcl_params_dtype(p), low[d]);
            TU_OK(optcl_params_write(p, OPTCL_ROLE_GRADS, 0, x, n), optcl_params_message(p));
            TU_OK(optcl_params_read_raw(p, OPTCL_ROLE_GRADS, 0, raw, n), optcl_params_message(p));
            TU_OK(optcl_params_read(p, OPTCL_ROLE_GRADS, 0, back, n), optcl_params_message(p));
            for (size_t i = 0; i < n; i++) {
                uint16_t want = expect_bits(x[i], low[d]);
                if (raw[i] != want)
                    fail_msg("%s, %s: %.9g (0x%08x) stored as 0x%04x, expected 0x%04x",
                             optcl_dtype_name(low[d]), backends[b] ? "opencl" : "reference",
                             (double)x[i], tu_bits(x[i]), raw[i], want);
                /* widening is exact: the widened value rounds to the same bits */
                if (isnan(back[i]) != isnan(x[i]) ||
                    (!isnan(back[i]) && expect_bits(back[i], low[d]) != want))
                    fail_msg("%s: 0x%04x reads as %.9g", optcl_dtype_name(low[d]), want,
                             (double)back[i]);
            }
            for (size_t i = 0; i < n; i++)
                bits[i] = (uint16_t)(raw[i] ^ 0x0101u); /* other bits, written raw */
            TU_OK(optcl_params_write_raw(p, OPTCL_ROLE_PARAMS, 0, bits, n), optcl_params_message(p));
            TU_OK(optcl_params_read_raw(p, OPTCL_ROLE_PARAMS, 0, raw, n), optcl_params_message(p));
            for (size_t i = 0; i < n; i++) {
                bool nan_in = low[d] == OPTCL_DTYPE_BF16
                                  ? (bits[i] & 0x7F80u) == 0x7F80u && (bits[i] & 0x7Fu)
                                  : (bits[i] & 0x7C00u) == 0x7C00u && (bits[i] & 0x3FFu);
                /* the reference keeps float32 values: a NaN's payload is not kept there */
                if (nan_in && optcl_context_backend(ctx) == OPTCL_BACKEND_REFERENCE)
                    continue;
                if (raw[i] != bits[i])
                    fail_msg("%s: raw 0x%04x read back as 0x%04x", optcl_dtype_name(low[d]),
                             bits[i], raw[i]);
            }
            optcl_params_destroy(p);
        }
        optcl_context_destroy(ctx);
    }
    free(x);
    free(back);
    free(bits);
    free(raw);
}

/* ---- steps ---------------------------------------------------------------------------- */

typedef struct named_config {
    const char *name;
    optcl_optimizer_config c;
} named_config;

static size_t configs(named_config *out)
{
    size_t n = 0;
#define ADD(label, algo, ...)                                                                      \
    do {                                                                                           \
        optcl_optimizer_config c = optcl_optimizer_config_default(algo);                           \
        __VA_ARGS__;                                                                               \
        out[n].name = label;                                                                       \
        out[n++].c = c;                                                                            \
    } while (0)
    ADD("sgd", OPTCL_SGD, c.lr = 0.05, c.weight_decay = 0.1);
    ADD("sgd nesterov", OPTCL_SGD, c.lr = 0.05, c.sgd.momentum = 0.9, c.sgd.nesterov = 1);
    ADD("adam", OPTCL_ADAM, c.lr = 0.01);
    ADD("adamw amsgrad maximize", OPTCL_ADAMW, c.lr = 0.01, c.adam.amsgrad = 1, c.maximize = 1);
    ADD("rmsprop centered momentum", OPTCL_RMSPROP, c.rmsprop.centered = 1,
        c.rmsprop.momentum = 0.5, c.weight_decay = 0.01);
    ADD("rprop", OPTCL_RPROP, (void)0);
    ADD("lion", OPTCL_LION, c.lr = 0.01, c.weight_decay = 0.1);
    ADD("adam clip skip", OPTCL_ADAM, c.lr = 0.01, c.max_norm = 0.5,
        c.nonfinite = OPTCL_NONFINITE_SKIP);
    ADD("sgd momentum lookahead", OPTCL_SGD, c.lr = 0.05, c.sgd.momentum = 0.9,
        c.lookahead.k = 3);
    ADD("adam clip lookahead", OPTCL_ADAM, c.lr = 0.01, c.max_norm = 1.0, c.lookahead.k = 2);
    ADD("adam f32 state", OPTCL_ADAM, c.lr = 0.01, c.state_dtype = OPTCL_STATE_F32);
    ADD("sgd momentum bf16 state", OPTCL_SGD, c.sgd.momentum = 0.9,
        c.state_dtype = OPTCL_STATE_BF16);
    ADD("adagrad lr_decay initial", OPTCL_ADAGRAD, c.lr = 0.05, c.adagrad.lr_decay = 0.1,
        c.adagrad.initial_accumulator_value = 0.1);
    ADD("adadelta wd", OPTCL_ADADELTA, c.weight_decay = 0.1);
    ADD("adamax maximize", OPTCL_ADAMAX, c.lr = 0.01, c.maximize = 1);
    ADD("nadam decoupled", OPTCL_NADAM, c.lr = 0.01, c.nadam.decoupled_weight_decay = 1,
        c.weight_decay = 0.1);
    ADD("radam", OPTCL_RADAM, c.lr = 0.01);
    ADD("asgd averaging", OPTCL_ASGD, c.lr = 0.05, c.asgd.t0 = 2.0, c.asgd.lambd = 0.1);
    ADD("adam eps_root", OPTCL_ADAM, c.lr = 0.01, c.adam.eps_root = 1e-3);
    ADD("adamw_schedulefree warmup", OPTCL_ADAMW_SCHEDULEFREE, c.lr = 0.01,
        c.adamw_schedulefree.warmup_steps = 3, c.weight_decay = 0.1);
    ADD("sgd_schedulefree", OPTCL_SGD_SCHEDULEFREE, c.lr = 0.05);
    ADD("lamb", OPTCL_LAMB, c.lr = 0.01, c.weight_decay = 0.1);
    ADD("lars nesterov", OPTCL_LARS, c.lars.nesterov = 1, c.weight_decay = 0.01);
#undef ADD
    return n;
}

/* A gradient for step t: mostly small values, a few large ones, exact zeros. */
static void gradient(float *g, int t)
{
    uint64_t seed = 0x5eed0000u + (uint64_t)t;
    tu_fill_random(g, NUMEL, &seed, -2.0f, 2.0f);
    for (size_t i = 0; i < NUMEL; i += 13)
        g[i] = 0.0f;
    for (size_t i = 5; i < NUMEL; i += 101)
        g[i] *= 300.0f;
}

static void copy_states(optcl_optimizer *from, optcl_optimizer *to, float *buf)
{
    for (size_t k = 0; k < optcl_optimizer_state_count(from); k++) {
        const char *name = optcl_optimizer_state_name(from, k);
        TU_OK(optcl_optimizer_read_state(from, name, OPTCL_ALL, buf, NUMEL),
              optcl_optimizer_message(from));
        TU_OK(optcl_optimizer_write_state(to, name, OPTCL_ALL, buf, NUMEL),
              optcl_optimizer_message(to));
    }
}

/* Rounds n floats to values of dtype, through a float32 set's neighbour: the bits the test
 * expects (expect_bits), widened. */
static float widen_bits(uint16_t b, optcl_dtype dtype)
{
    if (dtype == OPTCL_DTYPE_BF16)
        return tu_float((uint32_t)b << 16);
#ifdef __FLT16_MAX__
    _Float16 h;
    memcpy(&h, &b, sizeof h);
    return (float)h;
#else
    return 0.0f;
#endif
}

static void assert_rounded(const float *got, const float *wide, size_t n, optcl_dtype dtype,
                           const char *what)
{
    for (size_t i = 0; i < n; i++) {
        float want = widen_bits(expect_bits(wide[i], dtype), dtype);
        if (tu_bits(got[i]) != tu_bits(want) && !(isnan(got[i]) && isnan(want)))
            fail_msg("%s: element %zu is %.9g, expected %.9g (the float32 step's %.9g rounded)",
                     what, i, (double)got[i], (double)want, (double)wide[i]);
    }
}

/* From the same values, a low-precision set's step is the float32 step with every stored
 * result rounded: the parameters to the set's type, each state to its own. The two runs are
 * resynchronised before each step (the float32 run takes the low one's values). */
static void a_step_is_the_f32_step_rounded(void **state)
{
    (void)state;
    named_config cs[32];
    size_t nc = configs(cs);
    float *x = malloc(NUMEL * sizeof *x), *y = malloc(NUMEL * sizeof *y);
    assert_true(x && y);
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        optcl_context *ctx = tu_context(backends[b]);
        for (size_t d = 0; d < LOW; d++) {
            for (size_t k = 0; k < nc; k++) {
                optcl_params *pl = NULL, *pw = NULL;
                optcl_optimizer *ol = NULL, *ow = NULL;
                optcl_optimizer_config wide = cs[k].c;
                wide.state_dtype = cs[k].c.state_dtype == OPTCL_STATE_BF16 ? OPTCL_STATE_BF16
                                                                           : OPTCL_STATE_F32;
                TU_OK(optcl_params_create_typed(ctx, specs, NSPECS, low[d], &pl),
                      optcl_context_message(ctx));
                TU_OK(optcl_params_create(ctx, specs, NSPECS, &pw), optcl_context_message(ctx));
                TU_OK(optcl_optimizer_create(pl, &cs[k].c, &ol), optcl_context_message(ctx));
                TU_OK(optcl_optimizer_create(pw, &wide, &ow), optcl_context_message(ctx));
                uint64_t seed = 99;
                tu_fill_random(x, NUMEL, &seed, -1.0f, 1.0f);
                TU_OK(optcl_params_write(pl, OPTCL_ROLE_PARAMS, OPTCL_ALL, x, NUMEL), "p0");
                optcl_dtype kept = cs[k].c.state_dtype == OPTCL_STATE_SAME   ? low[d]
                                    : cs[k].c.state_dtype == OPTCL_STATE_BF16 ? OPTCL_DTYPE_BF16
                                                                              : OPTCL_DTYPE_F32;
                for (int t = 0; t < 6; t++) {
                    TU_OK(optcl_params_read(pl, OPTCL_ROLE_PARAMS, OPTCL_ALL, x, NUMEL), "p");
                    TU_OK(optcl_params_write(pw, OPTCL_ROLE_PARAMS, OPTCL_ALL, x, NUMEL), "p");
                    gradient(x, t);
                    TU_OK(optcl_params_write(pl, OPTCL_ROLE_GRADS, OPTCL_ALL, x, NUMEL), "g");
                    TU_OK(optcl_params_read(pl, OPTCL_ROLE_GRADS, OPTCL_ALL, x, NUMEL), "g");
                    TU_OK(optcl_params_write(pw, OPTCL_ROLE_GRADS, OPTCL_ALL, x, NUMEL), "g");
                    copy_states(ol, ow, y);
                    TU_OK(optcl_optimizer_step(ol, 0, NULL, NULL), optcl_optimizer_message(ol));
                    TU_OK(optcl_optimizer_step(ow, 0, NULL, NULL), optcl_optimizer_message(ow));
                    char what[160];
                    snprintf(what, sizeof what, "%s %s %s step %d params",
                             backends[b] ? "opencl" : "reference", optcl_dtype_name(low[d]),
                             cs[k].name, t + 1);
                    /* A Lookahead sync blends the fast weights as stored (rounded), not as
                     * the float32 run has them: those steps are not compared. */
                    int64_t la = cs[k].c.lookahead.k;
                    if (la > 0 && (t + 1) % la == 0)
                        continue;
                    TU_OK(optcl_params_read(pl, OPTCL_ROLE_PARAMS, OPTCL_ALL, x, NUMEL), "p");
                    TU_OK(optcl_params_read(pw, OPTCL_ROLE_PARAMS, OPTCL_ALL, y, NUMEL), "p");
                    assert_rounded(x, y, NUMEL, low[d], what);
                    for (size_t s = 0; s < optcl_optimizer_state_count(ol); s++) {
                        const char *name = optcl_optimizer_state_name(ol, s);
                        TU_OK(optcl_optimizer_read_state(ol, name, OPTCL_ALL, x, NUMEL), name);
                        TU_OK(optcl_optimizer_read_state(ow, name, OPTCL_ALL, y, NUMEL), name);
                        snprintf(what, sizeof what, "%s %s %s step %d %s",
                                 backends[b] ? "opencl" : "reference", optcl_dtype_name(low[d]),
                                 cs[k].name, t + 1, name);
                        bool slow = strcmp(name, "lookahead_slow") == 0; /* float32 always */
                        if (slow || kept == OPTCL_DTYPE_F32)
                            assert_memory_equal(x, y, NUMEL * sizeof *x);
                        else
                            assert_rounded(x, y, NUMEL, kept, what);
                    }
                }
                assert_int_equal(optcl_optimizer_step_count(ol), optcl_optimizer_step_count(ow));
                optcl_optimizer_destroy(ol);
                optcl_optimizer_destroy(ow);
                optcl_params_destroy(pl);
                optcl_params_destroy(pw);
            }
        }
        optcl_context_destroy(ctx);
    }
    free(x);
    free(y);
}

/* configs() and master weights with both roundings (stochastic: bfloat16 sets only). */
static size_t configs_and_master(named_config *out)
{
    size_t n = configs(out);
#define ADD(label, algo, ...)                                                                      \
    do {                                                                                           \
        optcl_optimizer_config c = optcl_optimizer_config_default(algo);                           \
        c.master_weights = 1;                                                                      \
        __VA_ARGS__;                                                                               \
        out[n].name = label;                                                                       \
        out[n++].c = c;                                                                            \
    } while (0)
    ADD("adamw master", OPTCL_ADAMW, c.lr = 0.01);
    ADD("sgd momentum master clip", OPTCL_SGD, c.lr = 0.05, c.sgd.momentum = 0.9,
        c.max_norm = 1.0);
    ADD("adamw master stochastic", OPTCL_ADAMW, c.lr = 0.01, c.rounding = OPTCL_ROUND_STOCHASTIC,
        c.seed = 99);
    ADD("rmsprop master stochastic skip", OPTCL_RMSPROP, c.rounding = OPTCL_ROUND_STOCHASTIC,
        c.nonfinite = OPTCL_NONFINITE_SKIP);
    ADD("lion stochastic", OPTCL_LION, c.lr = 0.01, c.master_weights = 0,
        c.rounding = OPTCL_ROUND_STOCHASTIC);
    ADD("nadam master", OPTCL_NADAM, c.lr = 0.01);
    ADD("asgd master stochastic", OPTCL_ASGD, c.lr = 0.05, c.asgd.t0 = 1.0,
        c.rounding = OPTCL_ROUND_STOCHASTIC);
#undef ADD
    return n;
}

/* 12 steps of every configuration on both backends: the same bits in the parameters (raw) and
 * every state. */
static void backends_agree_bit_for_bit(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    named_config cs[48];
    size_t nc = configs_and_master(cs);
    float *g = malloc(NUMEL * sizeof *g), *s[2];
    uint16_t *raw[2];
    for (int i = 0; i < 2; i++) {
        s[i] = malloc(NUMEL * sizeof(float));
        raw[i] = malloc(NUMEL * sizeof(uint16_t));
        assert_true(s[i] && raw[i]);
    }
    assert_non_null(g);
    optcl_context *ctx[2] = {tu_context(OPTCL_BACKEND_REFERENCE), tu_context(OPTCL_BACKEND_OPENCL)};
    for (size_t d = 0; d < LOW; d++) {
        for (size_t k = 0; k < nc; k++) {
            if (cs[k].c.rounding == OPTCL_ROUND_STOCHASTIC && low[d] != OPTCL_DTYPE_BF16)
                continue;
            optcl_params *p[2];
            optcl_optimizer *o[2];
            for (int b = 0; b < 2; b++) {
                TU_OK(optcl_params_create_typed(ctx[b], specs, NSPECS, low[d], &p[b]),
                      optcl_context_message(ctx[b]));
                TU_OK(optcl_optimizer_create(p[b], &cs[k].c, &o[b]), optcl_context_message(ctx[b]));
                uint64_t seed = 7;
                tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
                TU_OK(optcl_params_write(p[b], OPTCL_ROLE_PARAMS, OPTCL_ALL, g, NUMEL), "p0");
                for (int t = 0; t < 12; t++) {
                    gradient(g, t);
                    if (t == 4)
                        g[17] = NAN; /* the skip configuration skips it; others propagate */
                    TU_OK(optcl_params_write(p[b], OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
                    TU_OK(optcl_optimizer_step(o[b], 0, NULL, NULL), optcl_optimizer_message(o[b]));
                }
                TU_OK(optcl_params_read_raw(p[b], OPTCL_ROLE_PARAMS, OPTCL_ALL, raw[b], NUMEL),
                      "raw");
            }
            char what[1200]; /* with why this device may not give the reference's bits */
            const char *note = tu_exactness_note(ctx[1]);
            snprintf(what, sizeof what, "%s %s%s%s%s", optcl_dtype_name(low[d]), cs[k].name,
                     *note ? " (" : "", note, *note ? ")" : "");
            for (size_t i = 0; i < NUMEL; i++)
                if (raw[0][i] != raw[1][i])
                    fail_msg("%s: parameter %zu is 0x%04x on the reference, 0x%04x on OpenCL",
                             what, i, raw[0][i], raw[1][i]);
            assert_int_equal(optcl_optimizer_step_count(o[0]), optcl_optimizer_step_count(o[1]));
            for (size_t j = 0; j < optcl_optimizer_state_count(o[0]); j++) {
                const char *name = optcl_optimizer_state_name(o[0], j);
                for (int b = 0; b < 2; b++)
                    TU_OK(optcl_optimizer_read_state(o[b], name, OPTCL_ALL, s[b], NUMEL), name);
                for (size_t i = 0; i < NUMEL; i++)
                    if (tu_bits(s[0][i]) != tu_bits(s[1][i]))
                        fail_msg("%s: %s[%zu] is %.9g on the reference, %.9g on OpenCL", what,
                                 name, i, (double)s[0][i], (double)s[1][i]);
            }
            for (int b = 0; b < 2; b++) {
                optcl_optimizer_destroy(o[b]);
                optcl_params_destroy(p[b]);
            }
        }
    }
    for (int b = 0; b < 2; b++) {
        optcl_context_destroy(ctx[b]);
        free(s[b]);
        free(raw[b]);
    }
    free(g);
}

/* ---- master weights and stochastic rounding ---------------------------------------------- */

/* Bits of the bfloat16 values just below and above x (equal when x is one). */
static void bf16_neighbours(float x, float *down, float *up)
{
    uint32_t u = tu_bits(x);
    *down = tu_float(u & 0xFFFF0000u);
    *up = (u & 0xFFFFu) ? tu_float((u & 0xFFFF0000u) + 0x10000u) : *down;
}

/* With master weights the master follows the float32 optimizer bit for bit on the same
 * (widened) gradients — no resynchronisation — with every state the same; the parameters are
 * the master rounded to nearest even, or for bfloat16 with stochastic rounding one of its two
 * neighbours. */
static void master_is_the_f32_trajectory(void **state)
{
    (void)state;
    named_config cs[32];
    size_t nc = configs(cs);
    float *x = malloc(NUMEL * sizeof *x), *y = malloc(NUMEL * sizeof *y);
    assert_true(x && y);
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        optcl_context *ctx = tu_context(backends[b]);
        for (size_t d = 0; d < LOW + 1; d++) {
            optcl_dtype dtype = low[d < LOW ? d : 0];
            bool stochastic = d == LOW; /* the last pass: bfloat16, stochastic rounding */
            for (size_t k = 0; k < nc; k++) {
                if (cs[k].c.lookahead.k > 0 || cs[k].c.state_dtype == OPTCL_STATE_BF16)
                    continue; /* refused with master weights; a state type of its own */
                optcl_optimizer_config mc = cs[k].c, wide = cs[k].c;
                mc.master_weights = 1;
                mc.state_dtype = OPTCL_STATE_SAME; /* float32, the master's type */
                mc.rounding = stochastic ? OPTCL_ROUND_STOCHASTIC : OPTCL_ROUND_NEAREST;
                mc.seed = 1234567;
                wide.state_dtype = OPTCL_STATE_F32;
                optcl_params *pl = NULL, *pw = NULL;
                optcl_optimizer *ol = NULL, *ow = NULL;
                TU_OK(optcl_params_create_typed(ctx, specs, NSPECS, dtype, &pl), "create");
                TU_OK(optcl_params_create(ctx, specs, NSPECS, &pw), "create");
                TU_OK(optcl_optimizer_create(pl, &mc, &ol), optcl_context_message(ctx));
                TU_OK(optcl_optimizer_create(pw, &wide, &ow), optcl_context_message(ctx));
                assert_string_equal(optcl_optimizer_state_name(ol, optcl_optimizer_state_count(ol) - 1),
                                    "master");
                uint64_t seed = 21;
                tu_fill_random(x, NUMEL, &seed, -1.0f, 1.0f);
                TU_OK(optcl_params_write(pl, OPTCL_ROLE_PARAMS, OPTCL_ALL, x, NUMEL), "p0");
                TU_OK(optcl_params_read(pl, OPTCL_ROLE_PARAMS, OPTCL_ALL, x, NUMEL), "p0");
                TU_OK(optcl_params_write(pw, OPTCL_ROLE_PARAMS, OPTCL_ALL, x, NUMEL), "p0");
                char what[160];
                for (int t = 0; t < 8; t++) {
                    gradient(x, t);
                    TU_OK(optcl_params_write(pl, OPTCL_ROLE_GRADS, OPTCL_ALL, x, NUMEL), "g");
                    TU_OK(optcl_params_read(pl, OPTCL_ROLE_GRADS, OPTCL_ALL, x, NUMEL), "g");
                    TU_OK(optcl_params_write(pw, OPTCL_ROLE_GRADS, OPTCL_ALL, x, NUMEL), "g");
                    TU_OK(optcl_optimizer_step(ol, 0, NULL, NULL), optcl_optimizer_message(ol));
                    TU_OK(optcl_optimizer_step(ow, 0, NULL, NULL), optcl_optimizer_message(ow));
                    snprintf(what, sizeof what, "%s %s%s %s step %d",
                             backends[b] ? "opencl" : "reference", optcl_dtype_name(dtype),
                             stochastic ? " stochastic" : "", cs[k].name, t + 1);
                    TU_OK(optcl_optimizer_read_state(ol, "master", OPTCL_ALL, x, NUMEL), what);
                    TU_OK(optcl_params_read(pw, OPTCL_ROLE_PARAMS, OPTCL_ALL, y, NUMEL), what);
                    for (size_t i = 0; i < NUMEL; i++)
                        if (tu_bits(x[i]) != tu_bits(y[i]) && !(isnan(x[i]) && isnan(y[i])))
                            fail_msg("%s: master[%zu] is %.9g, the float32 optimizer's %.9g",
                                     what, i, (double)x[i], (double)y[i]);
                    TU_OK(optcl_params_read(pl, OPTCL_ROLE_PARAMS, OPTCL_ALL, y, NUMEL), what);
                    if (!stochastic) {
                        assert_rounded(y, x, NUMEL, dtype, what);
                    } else {
                        for (size_t i = 0; i < NUMEL; i++) {
                            float down, up;
                            bf16_neighbours(x[i], &down, &up);
                            if (y[i] != down && y[i] != up && !(isnan(x[i]) && isnan(y[i])))
                                fail_msg("%s: parameter %zu is %.9g, not a neighbour of the "
                                         "master's %.9g",
                                         what, i, (double)y[i], (double)x[i]);
                        }
                    }
                    for (size_t j = 0; j + 1 < optcl_optimizer_state_count(ol); j++) {
                        const char *name = optcl_optimizer_state_name(ol, j);
                        TU_OK(optcl_optimizer_read_state(ol, name, OPTCL_ALL, x, NUMEL), name);
                        TU_OK(optcl_optimizer_read_state(ow, name, OPTCL_ALL, y, NUMEL), name);
                        for (size_t i = 0; i < NUMEL; i++)
                            if (tu_bits(x[i]) != tu_bits(y[i]) && !(isnan(x[i]) && isnan(y[i])))
                                fail_msg("%s: %s[%zu] differs", what, name, i);
                    }
                }
                optcl_optimizer_destroy(ol);
                optcl_optimizer_destroy(ow);
                optcl_params_destroy(pl);
                optcl_params_destroy(pw);
            }
        }
        optcl_context_destroy(ctx);
    }
    free(x);
    free(y);
}

/* 10^5 stochastic roundings of one float32 value average to it within 3e-5, taking only its
 * two bfloat16 neighbours; the bits are the same on both backends (and, since the
 * reference's do not depend on it, at every vector width), and another seed draws others. */
static void stochastic_rounding_is_unbiased(void **state)
{
    (void)state;
    enum { N = 100003 };
    const float value = 0.6789f; /* between two bfloat16 values 2^-8 apart */
    float down, up;
    bf16_neighbours(value, &down, &up);
    assert_true(down < value && value < up);
    optcl_tensor_spec one = {.name = "x", .ndim = 1, .shape = {N}};
    float *x = malloc(N * sizeof *x);
    uint16_t *raw[3] = {malloc(N * 2), malloc(N * 2), malloc(N * 2)};
    assert_true(x && raw[0] && raw[1] && raw[2]);
    for (size_t run = 0; run < 3; run++) { /* reference, OpenCL, reference with another seed */
        optcl_backend backend = run == 1 ? OPTCL_BACKEND_OPENCL : OPTCL_BACKEND_REFERENCE;
        if (skip_backend(backend)) {
            memcpy(raw[1], raw[0], N * 2);
            continue;
        }
        optcl_context *ctx = tu_context(backend);
        optcl_params *p = NULL;
        optcl_optimizer *o = NULL;
        optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
        c.lr = 0.0; /* the master is stored unchanged: only the rounding acts */
        c.master_weights = 1;
        c.rounding = OPTCL_ROUND_STOCHASTIC;
        c.seed = run == 2 ? 43 : 42;
        TU_OK(optcl_params_create_typed(ctx, &one, 1, OPTCL_DTYPE_BF16, &p), "create");
        TU_OK(optcl_optimizer_create(p, &c, &o), optcl_context_message(ctx));
        TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
        for (size_t i = 0; i < N; i++)
            x[i] = value;
        TU_OK(optcl_optimizer_write_state(o, "master", 0, x, N), optcl_optimizer_message(o));
        TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
        TU_OK(optcl_params_read(p, OPTCL_ROLE_PARAMS, 0, x, N), "read");
        TU_OK(optcl_params_read_raw(p, OPTCL_ROLE_PARAMS, 0, raw[run], N), "read");
        double sum = 0.0;
        size_t ups = 0;
        for (size_t i = 0; i < N; i++) {
            if (x[i] != down && x[i] != up)
                fail_msg("element %zu is %.9g, not %.9g or %.9g", i, (double)x[i], (double)down,
                         (double)up);
            sum += x[i];
            ups += x[i] == up;
        }
        double mean = sum / N;
        print_message("%s seed %llu: mean %.9g (value %.9g), %zu of %d rounded up\n",
                      run == 1 ? "opencl" : "reference", (unsigned long long)c.seed, mean,
                      (double)value, ups, N);
        if (fabs(mean - value) > 3e-5)
            fail_msg("the mean of %d stochastic roundings is %.9g, %.3g from %.9g", N, mean,
                     fabs(mean - value), (double)value);
        optcl_optimizer_destroy(o);
        optcl_params_destroy(p);
        optcl_context_destroy(ctx);
    }
    assert_memory_equal(raw[0], raw[1], N * 2);
    assert_memory_not_equal(raw[0], raw[2], N * 2);
    free(x);
    for (int i = 0; i < 3; i++)
        free(raw[i]);
}

/* Combinations that make no sense are refused when the optimizer is made, by name. */
static void bad_combinations_are_refused(void **state)
{
    (void)state;
    struct {
        optcl_dtype dtype;
        int master;
        optcl_rounding rounding;
        int64_t lookahead;
        optcl_status status;
        const char *text;
    } cases[] = {
        {OPTCL_DTYPE_F32, 1, OPTCL_ROUND_NEAREST, 0, OPTCL_ERROR_INVALID_ARGUMENT,
         "master weights need a bf16 or f16 parameter set, this one is f32"},
        {OPTCL_DTYPE_F32, 0, OPTCL_ROUND_STOCHASTIC, 0, OPTCL_ERROR_INVALID_ARGUMENT,
         "invalid rounding: STOCHASTIC (for bf16 parameter sets; this one is f32)"},
        {OPTCL_DTYPE_F16, 1, OPTCL_ROUND_STOCHASTIC, 0, OPTCL_ERROR_INVALID_ARGUMENT,
         "this one is f16"},
        {OPTCL_DTYPE_BF16, 2, OPTCL_ROUND_NEAREST, 0, OPTCL_ERROR_INVALID_ARGUMENT,
         "master_weights"},
        {OPTCL_DTYPE_BF16, 0, (optcl_rounding)5, 0, OPTCL_ERROR_INVALID_ARGUMENT, "rounding"},
        {OPTCL_DTYPE_BF16, 1, OPTCL_ROUND_NEAREST, 3, OPTCL_ERROR_UNSUPPORTED,
         "Lookahead (lookahead.k = 3) with master_weights is not supported"},
    };
    optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        optcl_params *p = NULL;
        optcl_optimizer *o = (optcl_optimizer *)&o;
        TU_OK(optcl_params_create_typed(ctx, specs, NSPECS, cases[k].dtype, &p), "create");
        optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
        c.master_weights = cases[k].master;
        c.rounding = cases[k].rounding;
        c.lookahead.k = cases[k].lookahead;
        assert_int_equal(optcl_optimizer_create(p, &c, &o), cases[k].status);
        assert_null(o);
        if (!strstr(optcl_context_message(ctx), cases[k].text))
            fail_msg("case %zu: '%s' lacks '%s'", k, optcl_context_message(ctx), cases[k].text);
        optcl_params_destroy(p);
    }
    optcl_context_destroy(ctx);
}

/* ---- wrapped buffers, checkpoints, errors ----------------------------------------------- */

/* The caller's buffers of 2-byte elements, sized from optcl_params_layout, step exactly
 * as a created set: 8 Adam steps, compared raw. */
static void wrapped_buffers_step_as_created(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    if (optcl_context_backend(ctx) != OPTCL_BACKEND_OPENCL) { /* OPTCL_DEVICE=reference */
        optcl_context_destroy(ctx);
        skip();
    }
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.lr = 0.01;
    float *g = malloc(NUMEL * sizeof *g);
    uint16_t *raw[2] = {malloc(NUMEL * 2), malloc(NUMEL * 2)};
    assert_true(g && raw[0] && raw[1]);
    for (size_t d = 0; d < LOW; d++) {
        size_t total = 0;
        TU_OK(optcl_params_layout(ctx, specs, NSPECS, NULL, &total), optcl_context_message(ctx));
        cl_int err = CL_SUCCESS;
        cl_context cl = optcl_context_cl_context(ctx);
        /* one byte short of the layout: refused, naming the sizes */
        cl_mem shortp = clCreateBuffer(cl, CL_MEM_READ_WRITE, total * 2 - 1, NULL, &err);
        cl_mem mem[2];
        for (int r = 0; r < 2; r++) {
            mem[r] = clCreateBuffer(cl, CL_MEM_READ_WRITE, total * 2, NULL, &err);
            assert_int_equal(err, CL_SUCCESS);
        }
        optcl_params *p[2] = {NULL, NULL};
        assert_int_equal(optcl_params_wrap_typed(ctx, specs, NSPECS, low[d], shortp, mem[1], &p[0]),
                         OPTCL_ERROR_SIZE_MISMATCH);
        assert_non_null(strstr(optcl_context_message(ctx), "the layout needs"));
        clReleaseMemObject(shortp);
        TU_OK(optcl_params_wrap_typed(ctx, specs, NSPECS, low[d], mem[0], mem[1], &p[0]),
              optcl_context_message(ctx));
        TU_OK(optcl_params_create_typed(ctx, specs, NSPECS, low[d], &p[1]),
              optcl_context_message(ctx));
        for (int b = 0; b < 2; b++) {
            optcl_optimizer *o = NULL;
            TU_OK(optcl_optimizer_create(p[b], &c, &o), optcl_context_message(ctx));
            uint64_t seed = 3;
            tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
            TU_OK(optcl_params_write(p[b], OPTCL_ROLE_PARAMS, OPTCL_ALL, g, NUMEL), "p0");
            for (int t = 0; t < 8; t++) {
                gradient(g, t);
                TU_OK(optcl_params_write(p[b], OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
                TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
            }
            TU_OK(optcl_params_read_raw(p[b], OPTCL_ROLE_PARAMS, OPTCL_ALL, raw[b], NUMEL), "r");
            optcl_optimizer_destroy(o);
        }
        assert_memory_equal(raw[0], raw[1], NUMEL * 2);
        for (int b = 0; b < 2; b++) {
            optcl_params_destroy(p[b]);
            clReleaseMemObject(mem[b]);
        }
    }
    free(g);
    free(raw[0]);
    free(raw[1]);
    optcl_context_destroy(ctx);
}

/* A run on a set of dtype for steps [from, to): from p0 (seed 11) when from is 0, else from the
 * checkpoint at path; saves the checkpoint at path before step save_at (-1: never). The
 * parameters' raw bits at the end go to out. */
static void checkpoint_run(optcl_backend backend, optcl_dtype dtype,
                           const optcl_optimizer_config *c, const char *path, int from, int to,
                           int save_at, uint16_t *out)
{
    float *g = malloc(NUMEL * sizeof *g);
    assert_non_null(g);
    optcl_context *ctx = tu_context(backend);
    optcl_params *p = NULL;
    optcl_optimizer *o = NULL;
    TU_OK(optcl_params_create_typed(ctx, specs, NSPECS, dtype, &p), "create");
    TU_OK(optcl_optimizer_create(p, c, &o), optcl_context_message(ctx));
    if (from == 0) {
        uint64_t seed = 11;
        tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
        TU_OK(optcl_params_write(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, g, NUMEL), "p0");
    } else {
        TU_OK(optcl_checkpoint_load(o, path), optcl_optimizer_message(o));
    }
    for (int t = from; t < to; t++) {
        if (t == save_at)
            TU_OK(optcl_checkpoint_save(o, path), optcl_optimizer_message(o));
        gradient(g, t);
        TU_OK(optcl_params_write(p, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
        TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
    }
    TU_OK(optcl_params_read_raw(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, out, NUMEL), "raw");
    optcl_optimizer_destroy(o);
    optcl_params_destroy(p);
    optcl_context_destroy(ctx);
    free(g);
}

/* The checkpoint's header must hold the tensor name with dtype (the start of its entry). */
static void assert_saved_as(const char *path, const char *name, const char *dtype)
{
    size_t len = 0;
    unsigned char *bytes = tu_read_file(path, &len);
    char *header = strndup((const char *)bytes + 8, len > 8 ? len - 8 : 0);
    char entry[160];
    snprintf(entry, sizeof entry, "\"%s\":{\"dtype\":\"%s\"", name, dtype);
    if (!strstr(header, entry))
        fail_msg("%s: no %s in the header", path, entry);
    free(header);
    free(bytes);
}

/* A bfloat16 (float16) set's checkpoint holds its parameters as BF16 (F16), its state in the
 * same type and a master as F32; it resumes bit for bit on both backends (with master weights
 * and stochastic rounding too, the seed saved with the configuration); a set of another type
 * refuses it, naming both, and keeps its values. */
static void checkpoints_keep_the_type(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir(), path[1024];
    float *g = malloc(NUMEL * sizeof *g);
    uint16_t *want = malloc(NUMEL * 2), *got = malloc(NUMEL * 2);
    assert_true(dir && g && want && got);
    optcl_optimizer_config plain = optcl_optimizer_config_default(OPTCL_ADAMW);
    plain.lr = 0.01;
    optcl_optimizer_config master = plain;
    master.master_weights = 1;
    master.rounding = OPTCL_ROUND_STOCHASTIC;
    master.seed = 77;
    for (size_t d = 0; d <= LOW; d++) {
        /* the last pass: bfloat16 with master weights and stochastic rounding */
        optcl_dtype dtype = low[d < LOW ? d : 0];
        const optcl_optimizer_config *c = d < LOW ? &plain : &master;
        const char *type = optcl_dtype_name(dtype), *st = dtype == OPTCL_DTYPE_BF16 ? "BF16" : "F16";
        snprintf(path, sizeof path, "%s/%s%s.safetensors", dir, type, d < LOW ? "" : "_master");
        checkpoint_run(OPTCL_BACKEND_REFERENCE, dtype, c, path, 0, 9, 4, want);
        assert_saved_as(path, "w", st);
        assert_saved_as(path, "optim.exp_avg_sq.b", d < LOW ? st : "F32");
        if (d == LOW)
            assert_saved_as(path, "optim.master.w", "F32");
        /* the header gives the set's type back, so a program can recreate the set */
        char message[512] = "";
        optcl_dtype kept = OPTCL_DTYPE_F32;
        TU_OK(optcl_checkpoint_param_dtype(path, &kept, message, sizeof message), message);
        assert_int_equal(kept, dtype);
        for (size_t b = 0; b < BACKENDS; b++) {
            if (skip_backend(backends[b]))
                continue;
            optcl_optimizer_config other = *c;
            other.seed = 1; /* the checkpoint's seed wins, as every saved hyperparameter does */
            checkpoint_run(backends[b], dtype, &other, path, 4, 9, -1, got);
            assert_memory_equal(got, want, NUMEL * 2);
        }
        if (d == LOW)
            continue;
        /* a float32 set, and a set of the other low type, refuse it and keep their values */
        optcl_dtype others[] = {OPTCL_DTYPE_F32, low[1 - d]};
        for (size_t k = 0; k < 2; k++) {
            optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
            optcl_params *p = NULL;
            optcl_optimizer *o = NULL;
            TU_OK(optcl_params_create_typed(ctx, specs, NSPECS, others[k], &p), "create");
            TU_OK(optcl_optimizer_create(p, c, &o), optcl_context_message(ctx));
            for (size_t i = 0; i < NUMEL; i++)
                g[i] = 0.5f;
            TU_OK(optcl_params_write(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, g, NUMEL), "p");
            assert_int_not_equal(optcl_checkpoint_load(o, path), OPTCL_SUCCESS);
            const char *msg = optcl_optimizer_message(o);
            if (!strstr(msg, type) || !strstr(msg, optcl_dtype_name(others[k])))
                fail_msg("loading a %s checkpoint into a %s set: %s", type,
                         optcl_dtype_name(others[k]), msg);
            TU_OK(optcl_params_read(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, g, NUMEL), "p");
            for (size_t i = 0; i < NUMEL; i++)
                assert_true(g[i] == 0.5f);
            assert_int_equal(optcl_optimizer_step_count(o), 0);
            optcl_optimizer_destroy(o);
            optcl_params_destroy(p);
            optcl_context_destroy(ctx);
        }
    }
    /* a file that is no checkpoint, and NULLs: a message naming it, the type unchanged */
    char missing[1024], message[512] = "";
    snprintf(missing, sizeof missing, "%s/missing.safetensors", dir);
    optcl_dtype kept = OPTCL_DTYPE_F16;
    assert_int_not_equal(optcl_checkpoint_param_dtype(missing, &kept, message, sizeof message),
                         OPTCL_SUCCESS);
    assert_non_null(strstr(message, "missing.safetensors"));
    assert_int_equal(kept, OPTCL_DTYPE_F16);
    assert_int_equal(optcl_checkpoint_param_dtype(NULL, &kept, message, sizeof message),
                     OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_checkpoint_param_dtype(path, NULL, message, sizeof message),
                     OPTCL_ERROR_NULL_POINTER);
    assert_non_null(strstr(message, "dtype is NULL"));
    free(g);
    free(want);
    free(got);
    tu_remove_tree(dir);
    free(dir);
}

static void bad_input_is_refused(void **state)
{
    (void)state;
    assert_string_equal(optcl_dtype_name(OPTCL_DTYPE_F16), "f16");
    assert_null(optcl_dtype_name((optcl_dtype)7));
    assert_int_equal(optcl_dtype_size(OPTCL_DTYPE_BF16), 2);
    assert_int_equal(optcl_dtype_size((optcl_dtype)-1), 0);
    optcl_dtype d;
    TU_OK(optcl_dtype_from_name("bf16", &d), "bf16");
    assert_int_equal(d, OPTCL_DTYPE_BF16);
    assert_int_equal(optcl_dtype_from_name("fp16", &d), OPTCL_ERROR_INVALID_ARGUMENT);
    optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
    optcl_params *p = NULL;
    assert_int_equal(optcl_params_create_typed(ctx, specs, NSPECS, (optcl_dtype)3, &p),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_null(p);
    assert_non_null(strstr(optcl_context_message(ctx), "invalid dtype: 3"));
    TU_OK(optcl_params_create_typed(ctx, specs, NSPECS, OPTCL_DTYPE_F16, &p), "create");
    uint16_t raw[4] = {0};
    assert_int_equal(optcl_params_read_raw(p, OPTCL_ROLE_PARAMS, 1, raw, 4),
                     OPTCL_ERROR_SIZE_MISMATCH);
    assert_non_null(strstr(optcl_params_message(p), "count is 4 but b holds 517"));
    assert_int_equal(optcl_params_write_raw(p, OPTCL_ROLE_COUNT, 2, raw, 1),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(optcl_params_write_raw(p, OPTCL_ROLE_GRADS, 2, NULL, 1),
                     OPTCL_ERROR_NULL_POINTER);
    TU_OK(optcl_params_write_raw(p, OPTCL_ROLE_GRADS, 2, &(uint16_t){0x3C00}, 1), "one");
    float one = 0.0f;
    TU_OK(optcl_params_read(p, OPTCL_ROLE_GRADS, 2, &one, 1), "one");
    assert_true(one == 1.0f);
    optcl_params_destroy(p);
    optcl_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_round_as_c10),
        cmocka_unit_test(a_step_is_the_f32_step_rounded),
        cmocka_unit_test(backends_agree_bit_for_bit),
        cmocka_unit_test(wrapped_buffers_step_as_created),
        cmocka_unit_test(checkpoints_keep_the_type),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(master_is_the_f32_trajectory),
        cmocka_unit_test(stochastic_rounding_is_unbiased),
        cmocka_unit_test(bad_combinations_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
