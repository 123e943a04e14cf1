/* test_q8.c — block-wise 8-bit state (state_dtype INT8):
 *   - the quantizer code for code against the NumPy rendering of bitsandbytes' dynamic maps and
 *     nearest-code rule (tests/golden/make_q8.py: every midpoint, its neighbours, every code),
 *     three ways: the host's (state writes), the kernel source's (a small program around
 *     kernels/q8.cl) and a real step's (SGD's first momentum is the gradient itself);
 *   - trajectories within bitsandbytes' own tolerances of the float32 optimizer, resynchronised
 *     after every step; tensors under 4096 elements keep float32 state, bit for bit;
 *   - both backends bit for bit on a mixed layout; checkpoints round-trip bitwise;
 *   - the state's bytes, and refusals. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 256

typedef struct golden {
    optcl_array x, expected[2], maps; /* expected[0] signed, [1] unsigned */
} golden;

static golden load_golden(void)
{
    golden g;
    const char *names[] = {"x", "signed", "unsigned", "maps"};
    optcl_array *arrays[] = {&g.x, &g.expected[0], &g.expected[1], &g.maps};
    char path[4096], message[512];
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/q8/%s.npy", tu_golden_dir(), names[k]);
        TU_OK(optcl_npy_read(path, arrays[k], message, sizeof message), message);
    }
    assert_int_equal(g.expected[0].count, g.x.count);
    assert_int_equal(g.expected[1].count, g.x.count);
    assert_int_equal(g.maps.count, 1024);
    return g;
}

static void free_golden(golden *g)
{
    optcl_array_free(&g->x);
    optcl_array_free(&g->expected[0]);
    optcl_array_free(&g->expected[1]);
    optcl_array_free(&g->maps);
}

/* The test inputs in blocks whose first element is 1.0: every block's absmax is then 1, and
 * each input x is quantized as x itself. Returns the element count (whole blocks). */
static size_t blocks_of_inputs(const golden *g, float **out)
{
    size_t per = BLOCK - 1, blocks = (g->x.count + per - 1) / per, n = blocks * BLOCK;
    float *v = calloc(n, sizeof *v);
    assert_non_null(v);
    for (size_t k = 0; k < g->x.count; k++)
        v[k / per * BLOCK + 1 + k % per] = g->x.data[k];
    for (size_t b = 0; b < blocks; b++)
        v[b * BLOCK] = 1.0f;
    *out = v;
    return n;
}

/* codes (laid out as blocks_of_inputs) against the expected codes of map m. */
static void check_codes(const golden *g, const uint8_t *codes, int m, const char *where)
{
    size_t per = BLOCK - 1;
    for (size_t k = 0; k < g->x.count; k++) {
        int got = codes[k / per * BLOCK + 1 + k % per], want = (int)g->expected[m].data[k];
        if (got != want)
            fail_msg("%s, %s map: x = %.9g (0x%08X) gets code %d, the NumPy rendering %d", where,
                     m ? "unsigned" : "signed", (double)g->x.data[k], tu_bits(g->x.data[k]), got,
                     want);
    }
}

/* The host's quantizer, through a state write (each block's absmax from the values written). */
static void quantizer_host(void **state)
{
    (void)state;
    golden g = load_golden();
    float *v = NULL;
    size_t n = blocks_of_inputs(&g, &v);
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {(int64_t)n}};
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.state_dtype = OPTCL_STATE_INT8;
    tu_rig r = tu_rig_open(OPTCL_BACKEND_REFERENCE, &spec, 1, NULL, &c);
    uint8_t *codes = malloc(n);
    float *absmax = malloc(n / BLOCK * sizeof *absmax);
    assert_true(codes && absmax);
    const char *states[2] = {"exp_avg", "exp_avg_sq"}; /* signed, unsigned */
    for (int m = 0; m < 2; m++) {
        TU_OK(optcl_optimizer_write_state(r.opt, states[m], 0, v, n),
              optcl_optimizer_message(r.opt));
        TU_OK(optcl_optimizer_read_state_codes(r.opt, states[m], 0, codes, n, absmax, n / BLOCK),
              optcl_optimizer_message(r.opt));
        for (size_t b = 0; b < n / BLOCK; b++)
            assert_true(absmax[b] == 1.0f);
        check_codes(&g, codes, m, "host");
    }
    free(codes);
    free(absmax);
    free(v);
    tu_rig_close(&r);
    free_golden(&g);
}

static char *read_text(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len = 0;
    unsigned char *bytes = tu_read_file(path, &len);
    char *text = realloc(bytes, len + 1);
    assert_non_null(text);
    text[len] = '\0';
    return text;
}

/* The rule as tests/golden/make_q8.py states it, on the generator's maps: the number of
 * midpoints below x, a tie to the even code, a negative x on the signed map never the zero
 * code, NaN code 0. */
static int rule_code(const float *maps, float x, int m)
{
    const float *code = maps + 512 * m, *mid = code + 256;
    if (isnan(x))
        return 0;
    int c = 0;
    while (c < 255 && mid[c] < x)
        c++;
    if (c < 255 && x == mid[c] && (c & 1))
        c++;
    if (m == 0 && x < 0.0f && code[c] >= 0.0f)
        c--;
    return c;
}

/* host/q8.h's table as the test builds it from the generator's maps: header, maps, and per
 * map the lookup row over buckets of |x|'s bits (2^-24 … 1, 2^15 bits each): the midpoints of
 * the positive half below the bucket, shifted left by 16, plus the one inside it as an offset
 * from the bucket's first bits (2^15 when none). */
#define LUT_LO 0x33800000u
#define LUT_KEYS (((0x3F800000u - LUT_LO) >> 15) + 1)
#define TABLE_INTS (4 + 1024 + 2 * LUT_KEYS)
static int32_t *table_of(const float *maps)
{
    int32_t *t = calloc(TABLE_INTS, sizeof *t);
    assert_non_null(t);
    memcpy(t + 4, maps, 1024 * sizeof(float));
    for (int m = 0; m < 2; m++) {
        const float *mid = maps + 512 * m + 256;
        int32_t *row = t + 4 + 1024 + m * LUT_KEYS;
        int first = m ? 0 : 127;
        assert_true(mid[first] > tu_float(LUT_LO));
        for (uint32_t key = 0; key < LUT_KEYS; key++) {
            float lo = tu_float(LUT_LO + (key << 15)), hi = tu_float(LUT_LO + ((key + 1) << 15));
            int k = first, in = 0;
            while (k < 255 && mid[k] < lo)
                k++;
            uint32_t inside = 1u << 15;
            for (int q = k; q < 255 && mid[q] < hi; q++, in++)
                inside = tu_bits(mid[q]) - tu_bits(lo);
            assert_true(in <= 1);
            row[key] = (int32_t)((uint32_t)(k - first) << 16 | inside);
        }
    }
    return t;
}

/* x values the kernel quantizes, and the codes it gives with each map. */
static void run_encoder(cl_context cl, cl_command_queue queue, cl_kernel k, const float *maps,
                        const float *x, size_t n, uint8_t *out[2])
{
    int32_t *table = table_of(maps);
    cl_int err = CL_SUCCESS;
    cl_mem xb = clCreateBuffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, n * sizeof(float),
                               (void *)x, &err);
    cl_mem codes = clCreateBuffer(cl, CL_MEM_WRITE_ONLY, n, NULL, &err);
    cl_mem q = clCreateBuffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                              TABLE_INTS * sizeof(int32_t), table, &err);
    assert_true(xb && codes && q);
    for (int m = 0; m < 2; m++) {
        clSetKernelArg(k, 0, sizeof xb, &xb);
        clSetKernelArg(k, 1, sizeof codes, &codes);
        clSetKernelArg(k, 2, sizeof q, &q);
        clSetKernelArg(k, 3, sizeof m, &m);
        assert_int_equal(clEnqueueNDRangeKernel(queue, k, 1, NULL, &n, NULL, 0, NULL, NULL),
                         CL_SUCCESS);
        assert_int_equal(clEnqueueReadBuffer(queue, codes, CL_TRUE, 0, n, out[m], 0, NULL, NULL),
                         CL_SUCCESS);
    }
    clReleaseMemObject(xb);
    clReleaseMemObject(codes);
    clReleaseMemObject(q);
    free(table);
}

/* kernels/q8.cl's quantizer itself, in a program of its source and one small kernel: the
 * golden inputs code for code, and a million random ones (uniform and log-uniform, both signs,
 * and every float just around each decade's edge) against the rule. */
static void quantizer_kernel_source(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        return;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    if (optcl_context_backend(ctx) != OPTCL_BACKEND_OPENCL) { /* OPTCL_DEVICE=reference */
        print_message("[  SKIP    ] kernels/q8.cl needs an OpenCL device\n");
        optcl_context_destroy(ctx);
        return;
    }
    golden g = load_golden();
    char dir[4096];
    const char *env = getenv("OPTCL_KERNEL_DIR");
    snprintf(dir, sizeof dir, "%s", env && *env ? env : tu_golden_dir());
    if (!(env && *env))
        strncat(dir, "/../../kernels", sizeof dir - strlen(dir) - 1);
    char *common = read_text(dir, "common.cl"), *q8 = read_text(dir, "q8.cl");
    const char *kernel =
        "__kernel void encode(__global const float *x, __global uchar *codes,\n"
        "                     __global const int *q8, int is_unsigned)\n"
        "{\n"
        "    size_t k = get_global_id(0);\n"
        "    codes[k] = optcl_q8_encode(q8, x[k], !is_unsigned);\n"
        "}\n";
    cl_context cl = optcl_context_cl_context(ctx);
    cl_device_id device = optcl_context_cl_device(ctx);
    cl_command_queue queue = optcl_context_cl_queue(ctx);
    const char *sources[3] = {common, q8, kernel};
    cl_int err = CL_SUCCESS;
    cl_program program = clCreateProgramWithSource(cl, 3, sources, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    err = clBuildProgram(program, 1, &device,
                         "-cl-std=CL1.2 -cl-fp32-correctly-rounded-divide-sqrt -DVEC=1 "
                         "-DSTATE_DTYPE=3",
                         NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[8192] = "";
        clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        fail_msg("building q8.cl's quantizer failed (%d): %s", err, log);
    }
    cl_kernel k = clCreateKernel(program, "encode", &err);
    assert_int_equal(err, CL_SUCCESS);

    size_t n = g.x.count, per = BLOCK - 1;
    uint8_t *got[2] = {malloc(n), malloc(n)}, *laid = calloc((n / per + 1) * BLOCK, 1);
    assert_true(got[0] && got[1] && laid);
    run_encoder(cl, queue, k, g.maps.data, g.x.data, n, got);
    for (int m = 0; m < 2; m++) {
        for (size_t e = 0; e < n; e++) { /* as check_codes lays the inputs out */
            laid[e / per * BLOCK + 1 + e % per] = got[m][e];
            assert_int_equal(rule_code(g.maps.data, g.x.data[e], m), (int)g.expected[m].data[e]);
        }
        check_codes(&g, laid, m, "kernels/q8.cl");
    }
    free(got[0]);
    free(got[1]);

    const size_t r = 1u << 20;
    float *x = malloc(r * sizeof *x);
    uint8_t *codes[2] = {malloc(r), malloc(r)};
    assert_true(x && codes[0] && codes[1]);
    uint64_t seed = 99;
    for (size_t e = 0; e < r; e++) {
        uint64_t bits = tu_next_random(&seed);
        float u = (float)(bits >> 40) * 0x1p-24f, sign = (bits & 1) ? -1.0f : 1.0f;
        if (e % 4 == 0) /* uniform in [-1, 1] */
            x[e] = sign * u;
        else if (e % 4 == 1) /* log-uniform in [1e-9, 1] */
            x[e] = sign * powf(10.0f, -9.0f * u);
        else /* a few ulps from a power of ten between the decades */
            x[e] = sign * tu_float(tu_bits(powf(10.0f, -(float)(bits >> 8 & 7))) +
                                   (uint32_t)(bits >> 16 & 15) - 8u);
        if (fabsf(x[e]) > 1.0f)
            x[e] = sign;
    }
    run_encoder(cl, queue, k, g.maps.data, x, r, codes);
    for (int m = 0; m < 2; m++)
        for (size_t e = 0; e < r; e++)
            if (codes[m][e] != rule_code(g.maps.data, x[e], m))
                fail_msg("%s map: x = %.9g (0x%08X) gets code %d from kernels/q8.cl, %d by the "
                         "rule",
                         m ? "unsigned" : "signed", (double)x[e], tu_bits(x[e]), codes[m][e],
                         rule_code(g.maps.data, x[e], m));
    free(x);
    free(codes[0]);
    free(codes[1]);
    free(laid);
    clReleaseKernel(k);
    clReleaseProgram(program);
    free(common);
    free(q8);
    optcl_context_destroy(ctx);
    free_golden(&g);
}

/* A real step quantizes on the device: SGD's first momentum buffer is the gradient itself. */
static void quantizer_step(void **state)
{
    (void)state;
    golden g = load_golden();
    float *v = NULL;
    size_t n = blocks_of_inputs(&g, &v);
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {(int64_t)n}};
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    c.sgd.momentum = 0.9;
    c.state_dtype = OPTCL_STATE_INT8;
    uint8_t *codes = malloc(n);
    float *absmax = malloc(n / BLOCK * sizeof *absmax);
    assert_true(codes && absmax);
    for (int b = 0; b < 2; b++) {
        optcl_backend backend = b ? OPTCL_BACKEND_OPENCL : OPTCL_BACKEND_REFERENCE;
        if (backend == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            break;
        tu_rig r = tu_rig_open(backend, &spec, 1, NULL, &c);
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, 0, v, n), "gradient");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        TU_OK(optcl_optimizer_read_state_codes(r.opt, "momentum_buffer", 0, codes, n, absmax,
                                               n / BLOCK),
              optcl_optimizer_message(r.opt));
        check_codes(&g, codes, 0, b ? "an OpenCL step" : "a reference step");
        tu_rig_close(&r);
    }
    free(codes);
    free(absmax);
    free(v);
    free_golden(&g);
}

/* ---- trajectories ------------------------------------------------------------------------ */

#define TENSORS 9 /* eight of 4097 elements (8-bit state), and one of 100 (float32 state) */

static const optcl_tensor_spec layout[TENSORS] = {
    {.name = "t0", .ndim = 1, .shape = {4097}}, {.name = "t1", .ndim = 1, .shape = {4097}},
    {.name = "t2", .ndim = 1, .shape = {4097}}, {.name = "t3", .ndim = 1, .shape = {4097}},
    {.name = "bias", .ndim = 1, .shape = {100}}, {.name = "t4", .ndim = 1, .shape = {4097}},
    {.name = "t5", .ndim = 1, .shape = {4097}}, {.name = "t6", .ndim = 1, .shape = {4097}},
    {.name = "t7", .ndim = 1, .shape = {4097}},
};

static void fill_normal(float *x, size_t n, uint64_t *seed, float scale)
{
    for (size_t i = 0; i < n; i += 2) {
        float u[2];
        tu_fill_random(u, 2, seed, 0.0f, 1.0f);
        double r = sqrt(-2.0 * log(1.0 - (double)u[0])), t = 6.283185307179586 * (double)u[1];
        x[i] = (float)(r * cos(t)) * scale;
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(t)) * scale;
    }
}

static size_t tensor_start(size_t t)
{
    size_t start = 0;
    for (size_t k = 0; k < t; k++)
        start += (size_t)layout[k].shape[0];
    return start;
}

/* 50 steps of bitsandbytes' test_optimizer8bit, with its configurations (p ~ N(0, 0.1²),
 * g ~ N(0, 0.01²); bitsandbytes has no centered RMSprop and no RMSprop momentum, whose buffer
 * holds d / avg, values of order 10, where an absolute 3e-3 cannot apply): after every
 * step each 8-bit state agrees with the float32 optimizer's to isclose(atol 3e-3, rtol 1e-3)
 * with fewer than 20 misses per 4097-element tensor, the parameters to a mean |Δp| < 6e-5;
 * the 100-element tensor's state and parameters are the float32 optimizer's bit for bit. Then
 * the float32 optimizer takes the 8-bit one's parameters and dequantized state. */
static void trajectory(const char *label, const optcl_optimizer_config *c32)
{
    optcl_optimizer_config c8 = *c32;
    c8.state_dtype = OPTCL_STATE_INT8;
    size_t n = tensor_start(TENSORS);
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_true(p && g && a && b);
    uint64_t seed = 0x51ED5EEDull;
    fill_normal(p, n, &seed, 0.1f);
    optcl_backend backend = tu_opencl_missing() ? OPTCL_BACKEND_REFERENCE : OPTCL_BACKEND_OPENCL;
    tu_rig q8 = tu_rig_open(backend, layout, TENSORS, p, &c8);
    tu_rig f32 = tu_rig_open(OPTCL_BACKEND_REFERENCE, layout, TENSORS, p, c32);
    size_t states = optcl_optimizer_state_count(q8.opt);
    assert_true(states > 0);
    for (int step = 0; step < 50; step++) {
        fill_normal(g, n, &seed, 0.01f);
        TU_OK(optcl_params_write(q8.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n), label);
        TU_OK(optcl_params_write(f32.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n), label);
        TU_OK(optcl_optimizer_step(q8.opt, 0, NULL, NULL), optcl_optimizer_message(q8.opt));
        TU_OK(optcl_optimizer_step(f32.opt, 0, NULL, NULL), optcl_optimizer_message(f32.opt));
        for (size_t s = 0; s < states; s++) {
            const char *name = optcl_optimizer_state_name(q8.opt, s);
            TU_OK(optcl_optimizer_read_state(q8.opt, name, OPTCL_ALL, a, n), name);
            TU_OK(optcl_optimizer_read_state(f32.opt, name, OPTCL_ALL, b, n), name);
            for (size_t t = 0; t < TENSORS; t++) {
                size_t start = tensor_start(t), count = (size_t)layout[t].shape[0], misses = 0;
                bool small = count < 4096;
                for (size_t i = start; i < start + count; i++)
                    misses += small ? tu_bits(a[i]) != tu_bits(b[i])
                                    : !(fabsf(a[i] - b[i]) <= 3e-3f + 1e-3f * fabsf(b[i]));
                if (small ? misses != 0 : misses >= 20)
                    fail_msg("%s, step %d, %s of %s: %zu elements differ from float32's%s",
                             label, step + 1, name, layout[t].name, misses,
                             small ? " (float32 state: none may)" : " (fewer than 20 may)");
            }
            TU_OK(optcl_optimizer_write_state(f32.opt, name, OPTCL_ALL, a, n), "resync");
        }
        TU_OK(optcl_params_read(q8.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, a, n), label);
        TU_OK(optcl_params_read(f32.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, b, n), label);
        double err = 0.0;
        for (size_t i = 0; i < n; i++)
            err += fabs((double)a[i] - (double)b[i]);
        if (err / (double)n >= 6e-5)
            fail_msg("%s, step %d: mean |Δp| %.3g (bitsandbytes allows < 6e-5)", label, step + 1,
                     err / (double)n);
        size_t bias = tensor_start(4);
        assert_memory_equal(a + bias, b + bias, 100 * sizeof(float));
        TU_OK(optcl_params_write(f32.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, a, n), "resync");
    }
    tu_rig_close(&q8);
    tu_rig_close(&f32);
    free(p);
    free(g);
    free(a);
    free(b);
}

static void trajectories(void **state)
{
    (void)state;
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    trajectory("adam", &c);
    c.adam.amsgrad = 1;
    trajectory("adam amsgrad", &c);
    c = optcl_optimizer_config_default(OPTCL_ADAMW);
    trajectory("adamw", &c);
    c = optcl_optimizer_config_default(OPTCL_SGD);
    c.lr = 0.01;
    c.sgd.momentum = 0.9;
    trajectory("sgd momentum", &c);
    c = optcl_optimizer_config_default(OPTCL_RMSPROP);
    c.lr = 0.01;
    c.rmsprop.alpha = 0.9;
    trajectory("rmsprop", &c);
    c = optcl_optimizer_config_default(OPTCL_LION);
    trajectory("lion", &c);
}

/* ---- backends, checkpoints, bytes, refusals ---------------------------------------------- */

/* Steps an 8-bit AdamW (AMSGrad, clipping, a skipped step, and Lookahead — or, with master
 * weights, which Lookahead refuses, the master) on backend over two groups of mixed sizes in a
 * set of dtype; returns params then each state's values, and every 8-bit tensor's codes and
 * absmaxes, in one buffer of bytes. */
static uint8_t *mixed_run(optcl_backend backend, optcl_dtype dtype, int master, size_t *bytes)
{
    const optcl_tensor_spec specs[] = {
        {.name = "a", .ndim = 2, .shape = {33, 129}, .group = 0},
        {.name = "b", .ndim = 1, .shape = {300}, .group = 1},
        {.name = "c", .ndim = 1, .shape = {10000}, .group = 0},
        {.name = "d", .ndim = 0, .group = 1},
    };
    const optcl_group_config groups[2] = {{-1.0, -1.0, 0}, {3e-3, 0.1, 0}};
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAMW);
    c.adam.amsgrad = 1;
    c.max_norm = 1.0;
    c.nonfinite = OPTCL_NONFINITE_SKIP;
    c.lookahead.k = master ? 0 : 4;
    c.master_weights = master;
    c.state_dtype = OPTCL_STATE_INT8;
    c.groups = groups;
    c.group_count = 2;
    size_t n = 33 * 129 + 300 + 10000 + 1;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    assert_true(p && g);
    uint64_t seed = 77;
    fill_normal(p, n, &seed, 0.1f);
    tu_rig r = {tu_context(backend), NULL, NULL};
    TU_OK(optcl_params_create_typed(r.ctx, specs, 4, dtype, &r.params),
          optcl_context_message(r.ctx));
    TU_OK(optcl_params_write(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p, n), "p0");
    TU_OK(optcl_optimizer_create(r.params, &c, &r.opt), optcl_context_message(r.ctx));
    for (int step = 0; step < 6; step++) {
        fill_normal(g, n, &seed, 0.01f * (float)(step + 1));
        if (step == 3)
            g[17] = NAN; /* a skipped step */
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
    }
    /* the rule's three 8-bit states, then the master or Lookahead's slow weights (float32) */
    size_t states = optcl_optimizer_state_count(r.opt), blocks[2] = {17, 40}, at = 0;
    assert_int_equal(states, 4);
    *bytes = (1 + states) * n * sizeof(float) + (states - 1) * (33 * 129 + 10000 + 57 * 4);
    uint8_t *out = malloc(*bytes);
    assert_non_null(out);
    TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, (float *)out, n), "p");
    at += n * sizeof(float);
    for (size_t s = 0; s < states; s++) { /* floats staged: out + at need not be aligned */
        const char *name = optcl_optimizer_state_name(r.opt, s);
        TU_OK(optcl_optimizer_read_state(r.opt, name, OPTCL_ALL, p, n), name);
        memcpy(out + at, p, n * sizeof(float));
        at += n * sizeof(float);
        for (int t = 0; t < 2 && s + 1 < states; t++) {
            size_t index = t ? 2 : 0, count = t ? 10000 : 33 * 129;
            float absmax[40];
            TU_OK(optcl_optimizer_read_state_codes(r.opt, name, index, out + at, count, absmax,
                                                   blocks[t]),
                  optcl_optimizer_message(r.opt));
            at += count;
            memcpy(out + at, absmax, blocks[t] * sizeof(float));
            at += blocks[t] * sizeof(float);
        }
    }
    assert_int_equal(at, *bytes);
    tu_rig_close(&r);
    free(p);
    free(g);
    return out;
}

static void backends_bitwise(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        return;
    const struct {
        optcl_dtype dtype;
        int master;
    } runs[] = {{OPTCL_DTYPE_F32, 0}, {OPTCL_DTYPE_BF16, 1}, {OPTCL_DTYPE_F16, 0}};
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        size_t n_ref = 0, n_dev = 0;
        uint8_t *ref = mixed_run(OPTCL_BACKEND_REFERENCE, runs[k].dtype, runs[k].master, &n_ref);
        uint8_t *dev = mixed_run(OPTCL_BACKEND_OPENCL, runs[k].dtype, runs[k].master, &n_dev);
        assert_int_equal(n_ref, n_dev);
        for (size_t i = 0; i < n_ref; i++)
            if (ref[i] != dev[i])
                fail_msg("%s%s: byte %zu of %zu differs: %d on the reference, %d on OpenCL",
                         optcl_dtype_name(runs[k].dtype), runs[k].master ? " master" : "", i,
                         n_ref, ref[i], dev[i]);
        free(ref);
        free(dev);
    }
}

static void step_both(tu_rig *r, const float *g, size_t n)
{
    TU_OK(optcl_params_write(r->params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n), "g");
    TU_OK(optcl_optimizer_step(r->opt, 0, NULL, NULL), optcl_optimizer_message(r->opt));
}

/* Saved after three steps, loaded into a new optimizer: the same codes, absmaxes and float32
 * state, and the next step gives the same bits. The file holds U8 codes with F32 absmaxes. */
static void checkpoint_roundtrip(void **state)
{
    (void)state;
    const optcl_tensor_spec specs[] = {{.name = "w", .ndim = 2, .shape = {50, 100}},
                                       {.name = "b", .ndim = 1, .shape = {50}}};
    size_t n = 5050;
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.state_dtype = OPTCL_STATE_INT8;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_true(p && g && a && b);
    uint64_t seed = 5;
    fill_normal(p, n, &seed, 0.1f);
    optcl_backend backend = tu_opencl_missing() ? OPTCL_BACKEND_REFERENCE : OPTCL_BACKEND_OPENCL;
    tu_rig first = tu_rig_open(backend, specs, 2, p, &c);
    for (int step = 0; step < 3; step++) {
        fill_normal(g, n, &seed, 0.01f);
        step_both(&first, g, n);
    }
    char path[4096];
    char *dir = tu_make_tempdir();
    snprintf(path, sizeof path, "%s/q8.safetensors", dir);
    TU_OK(optcl_checkpoint_save(first.opt, path), optcl_optimizer_message(first.opt));
    size_t len = 0;
    char *file = (char *)tu_read_file(path, &len), *header = file + 8; /* after its length */
    assert_non_null(strstr(header, "\"optim.exp_avg.w\":{\"dtype\":\"U8\",\"shape\":[50,100]"));
    assert_non_null(
        strstr(header, "\"optim.exp_avg_sq.w.absmax\":{\"dtype\":\"F32\",\"shape\":[20]"));
    assert_non_null(strstr(header, "\"optim.exp_avg.b\":{\"dtype\":\"F32\",\"shape\":[50]"));
    assert_non_null(strstr(header, "\"optcl.q8.block_size\":\"256\""));
    free(file);

    tu_rig second = tu_rig_open(backend, specs, 2, NULL, &c);
    TU_OK(optcl_checkpoint_load(second.opt, path), optcl_optimizer_message(second.opt));
    const char *names[] = {"exp_avg", "exp_avg_sq"};
    uint8_t codes[2][5000];
    float absmax[2][20];
    for (int s = 0; s < 2; s++) {
        tu_rig *rigs[2] = {&first, &second};
        for (int k = 0; k < 2; k++)
            TU_OK(optcl_optimizer_read_state_codes(rigs[k]->opt, names[s], 0, codes[k], 5000,
                                                   absmax[k], 20),
                  optcl_optimizer_message(rigs[k]->opt));
        assert_memory_equal(codes[0], codes[1], 5000);
        assert_memory_equal(absmax[0], absmax[1], sizeof absmax[0]);
        TU_OK(optcl_optimizer_read_state(first.opt, names[s], 1, a, 50), "b");
        TU_OK(optcl_optimizer_read_state(second.opt, names[s], 1, b, 50), "b");
        assert_memory_equal(a, b, 50 * sizeof(float));
    }
    fill_normal(g, n, &seed, 0.01f);
    step_both(&first, g, n);
    step_both(&second, g, n);
    TU_OK(optcl_params_read(first.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, a, n), "p");
    TU_OK(optcl_params_read(second.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, b, n), "p");
    assert_memory_equal(a, b, n * sizeof(float));

    /* another state type is refused by name, and changes nothing */
    optcl_optimizer_config other = c;
    other.state_dtype = OPTCL_STATE_BF16;
    tu_rig bf16 = tu_rig_open(backend, specs, 2, NULL, &other);
    assert_int_equal(optcl_checkpoint_load(bf16.opt, path), OPTCL_ERROR_INVALID_ARGUMENT);
    const char *why = optcl_optimizer_message(bf16.opt);
    assert_non_null(strstr(why, "int8"));
    assert_non_null(strstr(why, "bf16"));
    tu_rig_close(&bf16);
    tu_rig_close(&first);
    tu_rig_close(&second);
    tu_remove_tree(dir);
    free(dir);
    free(p);
    free(g);
    free(a);
    free(b);
}

static void bytes_and_refusals(void **state)
{
    (void)state;
    const size_t n = 1u << 20;
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {(int64_t)n}};
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.state_dtype = OPTCL_STATE_INT8;
    tu_rig r = tu_rig_open(OPTCL_BACKEND_REFERENCE, &spec, 1, NULL, &c);
    double per = (double)optcl_optimizer_state_bytes(r.opt) / (double)n;
    print_message("adam int8: %.4f bytes of state per parameter\n", per);
    assert_true(per >= 2.0 && per <= 2.05);
    uint8_t codes[16];
    float absmax[1];
    assert_int_equal(optcl_optimizer_read_state_codes(r.opt, "exp_avg", 0, codes, 16, absmax, 1),
                     OPTCL_ERROR_SIZE_MISMATCH);
    assert_int_equal(optcl_optimizer_read_state_codes(r.opt, "nope", 0, codes, 16, absmax, 1),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    tu_rig_close(&r);

    optcl_tensor_spec small = {.name = "bias", .ndim = 1, .shape = {16}};
    r = tu_rig_open(OPTCL_BACKEND_REFERENCE, &small, 1, NULL, &c);
    assert_int_equal(optcl_optimizer_read_state_codes(r.opt, "exp_avg", 0, codes, 16, absmax, 1),
                     OPTCL_ERROR_UNSUPPORTED);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "float32"));
    tu_rig_close(&r);

    c.state_dtype = OPTCL_STATE_BF16;
    r = tu_rig_open(OPTCL_BACKEND_REFERENCE, &small, 1, NULL, &c);
    assert_int_equal(optcl_optimizer_read_state_codes(r.opt, "exp_avg", 0, codes, 16, absmax, 1),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    tu_rig_close(&r);

    /* Rprop keeps its step sizes at bf16 or wider */
    optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    TU_OK(optcl_params_create(ctx, &small, 1, &params), optcl_context_message(ctx));
    c = optcl_optimizer_config_default(OPTCL_RPROP);
    c.state_dtype = OPTCL_STATE_INT8;
    assert_int_equal(optcl_optimizer_create(params, &c, &opt), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_context_message(ctx), "rprop"));
    assert_null(opt);
    c.state_dtype = (optcl_state_dtype)4;
    assert_int_equal(optcl_optimizer_create(params, &c, &opt), OPTCL_ERROR_INVALID_ARGUMENT);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
}

/* state_bits overrides the size rule per tensor (8: 8-bit however small; 32: float32 however
 * large); checkpoints record it and optcl_checkpoint_inspect gives it back. */
static void state_bits_override(void **state)
{
    (void)state;
    const optcl_tensor_spec specs[] = {
        {.name = "small", .ndim = 1, .shape = {100}, .state_bits = 8},
        {.name = "large", .ndim = 1, .shape = {5000}, .state_bits = 32},
        {.name = "plain", .ndim = 1, .shape = {5000}},
    };
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.state_dtype = OPTCL_STATE_INT8;
    tu_rig r = tu_rig_open(OPTCL_BACKEND_REFERENCE, specs, 3, NULL, &c);
    uint8_t codes[5000];
    float absmax[20];
    TU_OK(optcl_optimizer_read_state_codes(r.opt, "exp_avg", 0, codes, 100, absmax, 1),
          optcl_optimizer_message(r.opt));
    assert_int_equal(optcl_optimizer_read_state_codes(r.opt, "exp_avg", 1, codes, 5000, absmax, 20),
                     OPTCL_ERROR_UNSUPPORTED);
    TU_OK(optcl_optimizer_read_state_codes(r.opt, "exp_avg", 2, codes, 5000, absmax, 20),
          optcl_optimizer_message(r.opt));
    char *dir = tu_make_tempdir(), path[4096], message[512];
    snprintf(path, sizeof path, "%s/bits.safetensors", dir);
    TU_OK(optcl_checkpoint_save(r.opt, path), optcl_optimizer_message(r.opt));
    optcl_tensor_spec *saved = NULL;
    size_t count = 0;
    TU_OK(optcl_checkpoint_inspect(path, &saved, &count, NULL, message, sizeof message), message);
    assert_int_equal(count, 3);
    assert_int_equal(saved[0].state_bits, 8);
    assert_int_equal(saved[1].state_bits, 32);
    assert_int_equal(saved[2].state_bits, 0);
    free(saved);
    tu_rig_close(&r);
    tu_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quantizer_host),   cmocka_unit_test(quantizer_kernel_source),
        cmocka_unit_test(quantizer_step),   cmocka_unit_test(trajectories),
        cmocka_unit_test(backends_bitwise), cmocka_unit_test(checkpoint_roundtrip),
        cmocka_unit_test(bytes_and_refusals), cmocka_unit_test(state_bits_override),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
