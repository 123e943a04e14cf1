/* test_params.c — parameter sets on both backends: flat layout, transfers, zero_grad, sub-buffer
 * views and host pointers, wrapped caller buffers, spec validation, refused destroys, parameter
 * groups with their own lr/weight_decay, set_lr, and events and wait lists of a step. */
#include "testutil.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* test_x_ref and test_x_cl run test_x(backend). */
#define BOTH_BACKENDS(f)                                                                       \
    static void f##_ref(void **s) { (void)s; f(OPTCL_BACKEND_REFERENCE); }                     \
    static void f##_cl(void **s) { (void)s; f(OPTCL_BACKEND_OPENCL); }
#define BOTH_TESTS(f) cmocka_unit_test(f##_ref), cmocka_unit_test(f##_cl)

static const cl_event fake_event = (cl_event)(uintptr_t)0x1234; /* never to be dereferenced */

/* Interleaved groups, odd sizes, a matrix, a 3-D tensor and a 0-dim scalar. */
static const optcl_tensor_spec specs[] = {
    {"one", 1, {1}, 1, 0},           {"bias_7", 1, {7}, 0, 0},
    {"weight_1031", 1, {1031}, 1, 0}, {"matrix_3x5", 2, {3, 5}, 0, 0},
    {"scalar", 0, {0}, 1, 0},        {"cube_2x3x4", 3, {2, 3, 4}, 0, 0},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

static size_t spec_count(const optcl_tensor_spec *s)
{
    size_t n = 1;
    for (int d = 0; d < s->ndim; d++)
        n *= (size_t)s->shape[d];
    return n;
}

/* Where tensor i of specs starts in a packed array; packed_at(N_SPECS) is their numel. */
static size_t packed_at(size_t i)
{
    size_t at = 0;
    for (size_t k = 0; k < i; k++)
        at += spec_count(&specs[k]);
    return at;
}

/* A context of that backend; skips OpenCL tests when OPTCL_DEVICE sends them to the host. */
static optcl_context *open_ctx(optcl_backend backend)
{
    optcl_context *ctx = tu_context(backend);
    if (optcl_context_backend(ctx) != backend) {
        optcl_context_destroy(ctx);
        skip();
    }
    return ctx;
}

static optcl_params *make_params(optcl_context *ctx, const optcl_tensor_spec *s, size_t n)
{
    optcl_params *p = NULL;
    TU_OK(optcl_params_create(ctx, s, n, &p), optcl_context_message(ctx));
    assert_non_null(p);
    return p;
}

/* Destroys what is not NULL, in order, each of which must succeed. */
static void destroy_all(optcl_optimizer *opt, optcl_params *p, optcl_context *ctx)
{
    assert_int_equal(optcl_optimizer_destroy(opt), OPTCL_SUCCESS);
    assert_int_equal(optcl_params_destroy(p), OPTCL_SUCCESS);
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
}

static float *random_floats(size_t n, uint64_t seed)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    assert_non_null(x);
    tu_fill_random(x, n, &seed, -1.0f, 1.0f);
    return x;
}

static void assert_same(const float *a, const float *e, size_t n, const char *what)
{
    double worst = 0.0;
    size_t i = tu_first_mismatch(a, e, n, 0.0, 0.0, &worst);
    if (i != (size_t)-1)
        fail_msg("%s: element %zu is %.9g, expected %.9g", what, i, a[i], e[i]);
}

/* optcl_params_write / _read of tensor i (or OPTCL_ALL) with its count; must succeed. */
static size_t count_of(const optcl_params *p, size_t i)
{
    optcl_tensor_info info;
    if (i == OPTCL_ALL)
        return optcl_params_numel(p);
    TU_OK(optcl_params_info(p, i, &info), "optcl_params_info");
    return info.count;
}

static void put(optcl_params *p, optcl_role r, size_t i, const float *x)
{
    TU_OK(optcl_params_write(p, r, i, x, count_of(p, i)), optcl_params_message(p));
}

static void get(optcl_params *p, optcl_role r, size_t i, float *x)
{
    TU_OK(optcl_params_read(p, r, i, x, count_of(p, i)), optcl_params_message(p));
}

static void test_layout(optcl_backend backend)
{
    optcl_context *ctx = open_ctx(backend);
    size_t offsets[N_SPECS], total = 0;
    TU_OK(optcl_params_layout(ctx, specs, N_SPECS, offsets, &total), optcl_context_message(ctx));
    optcl_params *p = make_params(ctx, specs, N_SPECS);
    size_t align = optcl_context_alignment(ctx);
    assert_ptr_equal(optcl_params_context(p), ctx);
    assert_null(optcl_params_context(NULL));
    assert_int_equal(optcl_params_count(p), N_SPECS);
    assert_int_equal(optcl_params_numel(p), packed_at(N_SPECS));
    assert_int_equal(optcl_params_flat_size(p), total);
    size_t g0_end = 0, g1_begin = (size_t)-1;
    optcl_tensor_info info[N_SPECS];
    for (size_t i = 0; i < N_SPECS; i++) {
        TU_OK(optcl_params_info(p, i, &info[i]), specs[i].name);
        assert_string_equal(info[i].name, specs[i].name);
        assert_int_equal(info[i].ndim, specs[i].ndim);
        for (int d = 0; d < specs[i].ndim; d++)
            assert_int_equal(info[i].shape[d], specs[i].shape[d]);
        assert_int_equal(info[i].group, specs[i].group);
        assert_int_equal(info[i].count, spec_count(&specs[i]));
        assert_int_equal(info[i].offset, offsets[i]);
        assert_int_equal(info[i].offset % align, 0);
        assert_true(info[i].offset + info[i].count <= total);
        if (info[i].group == 0 && info[i].offset + info[i].count > g0_end)
            g0_end = info[i].offset + info[i].count;
        if (info[i].group == 1 && info[i].offset < g1_begin)
            g1_begin = info[i].offset;
        for (size_t j = 0; j < i; j++) {
            bool apart = info[i].offset >= info[j].offset + info[j].count ||
                         info[j].offset >= info[i].offset + info[i].count;
            if (!apart)
                fail_msg("'%s' and '%s' overlap", specs[i].name, specs[j].name);
        }
        size_t found = (size_t)-1;
        TU_OK(optcl_params_find(p, specs[i].name, &found), specs[i].name);
        assert_int_equal(found, i);
    }
    assert_true(g0_end <= g1_begin); /* group 0 entirely before group 1 */
    size_t found = 42;
    assert_int_equal(optcl_params_find(p, "weight", &found), OPTCL_ERROR_NOT_FOUND);
    assert_int_equal(optcl_params_find(p, "nope", &found), OPTCL_ERROR_NOT_FOUND);
    assert_non_null(strstr(optcl_params_message(p), "no tensor 'nope'"));
    assert_int_equal(optcl_params_info(p, N_SPECS, &info[0]), OPTCL_ERROR_NOT_FOUND);
    assert_non_null(strstr(optcl_params_message(p), "no tensor"));
    destroy_all(NULL, p, ctx);
}
BOTH_BACKENDS(test_layout)

static void test_write_read(optcl_backend backend)
{
    optcl_context *ctx = open_ctx(backend);
    optcl_params *p = make_params(ctx, specs, N_SPECS);
    size_t numel = packed_at(N_SPECS);
    float *all = random_floats(numel, 10), *zeros = calloc(numel, sizeof *zeros);
    float *packed[OPTCL_ROLE_COUNT] = {random_floats(numel, 11), random_floats(numel, 12)};
    float *fresh = random_floats(numel, 13);
    assert_non_null(zeros);
    for (int r = 0; r < OPTCL_ROLE_COUNT; r++) { /* new buffers read as zeros */
        get(p, (optcl_role)r, OPTCL_ALL, all);
        assert_same(all, zeros, numel, "fresh buffer");
    }
    /* Per tensor, each role its own data; OPTCL_ALL reads them packed in creation order. */
    for (int r = 0; r < OPTCL_ROLE_COUNT; r++)
        for (size_t i = 0; i < N_SPECS; i++)
            put(p, (optcl_role)r, i, packed[r] + packed_at(i));
    for (int r = 0; r < OPTCL_ROLE_COUNT; r++) {
        for (size_t i = 0; i < N_SPECS; i++) {
            get(p, (optcl_role)r, i, all);
            assert_same(all, packed[r] + packed_at(i), spec_count(&specs[i]), specs[i].name);
        }
        get(p, (optcl_role)r, OPTCL_ALL, all);
        assert_same(all, packed[r], numel, "packed read");
    }
    /* An OPTCL_ALL write lands tensor by tensor; the other role is untouched. */
    put(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, fresh);
    for (size_t i = 0; i < N_SPECS; i++) {
        get(p, OPTCL_ROLE_PARAMS, i, all);
        assert_same(all, fresh + packed_at(i), spec_count(&specs[i]), specs[i].name);
    }
    get(p, OPTCL_ROLE_GRADS, OPTCL_ALL, all);
    assert_same(all, packed[OPTCL_ROLE_GRADS], numel, "grads after a params write");
    /* Wrong counts and indices are refused and write nothing. */
    assert_int_equal(optcl_params_write(p, OPTCL_ROLE_PARAMS, 2, zeros, 1030),
                     OPTCL_ERROR_SIZE_MISMATCH);
    assert_non_null(strstr(optcl_params_message(p), "weight_1031"));
    assert_int_equal(optcl_params_write(p, OPTCL_ROLE_PARAMS, 2, zeros, 1032),
                     OPTCL_ERROR_SIZE_MISMATCH);
    assert_int_equal(optcl_params_write(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, zeros, numel - 1),
                     OPTCL_ERROR_SIZE_MISMATCH);
    assert_int_equal(optcl_params_write(p, OPTCL_ROLE_PARAMS, N_SPECS, zeros, 1),
                     OPTCL_ERROR_NOT_FOUND);
    assert_int_equal(optcl_params_read(p, OPTCL_ROLE_PARAMS, 0, all, 2),
                     OPTCL_ERROR_SIZE_MISMATCH);
    assert_int_equal(optcl_params_read(p, OPTCL_ROLE_PARAMS, N_SPECS, all, 1),
                     OPTCL_ERROR_NOT_FOUND);
    assert_int_not_equal(optcl_params_write(p, OPTCL_ROLE_COUNT, 0, zeros, 1), OPTCL_SUCCESS);
    get(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, all);
    assert_same(all, fresh, numel, "params after refused writes");
    free(fresh); free(packed[0]); free(packed[1]); free(all); free(zeros);
    destroy_all(NULL, p, ctx);
}
BOTH_BACKENDS(test_write_read)

static void test_zero_grad(optcl_backend backend)
{
    optcl_context *ctx = open_ctx(backend);
    optcl_params *p = make_params(ctx, specs, N_SPECS);
    size_t numel = packed_at(N_SPECS);
    float *w = random_floats(numel, 21), *g = random_floats(numel, 22);
    float *out = random_floats(numel, 23), *zeros = calloc(numel, sizeof *zeros);
    assert_non_null(zeros);
    put(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, w);
    put(p, OPTCL_ROLE_GRADS, OPTCL_ALL, g);
    if (backend == OPTCL_BACKEND_REFERENCE) { /* a wait list is refused, nothing zeroed */
        cl_event refused = fake_event;
        assert_int_equal(optcl_params_zero_grad(p, 1, &fake_event, &refused),
                         OPTCL_ERROR_WRONG_BACKEND);
        if (refused != NULL) /* optcl.h: on the reference backend "*event is set to NULL" */
            fail_msg("a refused reference zero_grad left *event = %p", (void *)refused);
        get(p, OPTCL_ROLE_GRADS, OPTCL_ALL, out);
        assert_same(out, g, numel, "grads after a refused zero_grad");
    }
    cl_event ev = fake_event;
    TU_OK(optcl_params_zero_grad(p, 0, NULL, &ev), optcl_params_message(p));
    if (backend == OPTCL_BACKEND_REFERENCE) {
        assert_null(ev);
    } else {
        assert_non_null(ev);
        assert_int_equal(clWaitForEvents(1, &ev), CL_SUCCESS);
        clReleaseEvent(ev);
    }
    get(p, OPTCL_ROLE_GRADS, OPTCL_ALL, out);
    assert_same(out, zeros, numel, "grads after zero_grad");
    get(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, out);
    assert_same(out, w, numel, "params after zero_grad");
    free(w); free(g); free(out); free(zeros);
    destroy_all(NULL, p, ctx);
}
BOTH_BACKENDS(test_zero_grad)

/* Gradients written through the backend's own memory — a tensor's sub-buffer view with
 * clEnqueueWriteBuffer, or its host pointer — are what optcl_params_read sees. */
static void test_native_memory(optcl_backend backend)
{
    optcl_context *ctx = open_ctx(backend);
    optcl_params *p = make_params(ctx, specs, N_SPECS);
    bool cl = backend == OPTCL_BACKEND_OPENCL;
    size_t numel = packed_at(N_SPECS), size = 0;
    float *g = random_floats(numel, 31), *out = random_floats(numel, 32), *base = NULL, *h = NULL;
    cl_mem whole = NULL, other = NULL, view = NULL;
    if (cl) {
        TU_OK(optcl_params_buffer(p, OPTCL_ROLE_GRADS, OPTCL_ALL, &whole), "");
        TU_OK(optcl_params_buffer(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, &other), "");
        assert_ptr_not_equal(whole, other);
        assert_int_equal(clGetMemObjectInfo(whole, CL_MEM_SIZE, sizeof size, &size, NULL), 0);
        assert_true(size >= optcl_params_flat_size(p) * sizeof(float));
        assert_int_equal(optcl_params_host(p, OPTCL_ROLE_GRADS, 0, &h), OPTCL_ERROR_WRONG_BACKEND);
    } else {
        TU_OK(optcl_params_host(p, OPTCL_ROLE_GRADS, OPTCL_ALL, &base), optcl_params_message(p));
        TU_OK(optcl_params_host(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, &h), optcl_params_message(p));
        assert_ptr_not_equal(base, h);
        assert_int_equal(optcl_params_buffer(p, OPTCL_ROLE_GRADS, 0, &view),
                         OPTCL_ERROR_WRONG_BACKEND);
    }
    for (size_t i = 0; i < N_SPECS; i++) {
        size_t n = spec_count(&specs[i]), offset = 0;
        optcl_tensor_info info;
        TU_OK(optcl_params_info(p, i, &info), "");
        if (cl) {
            cl_mem parent = NULL;
            TU_OK(optcl_params_buffer(p, OPTCL_ROLE_GRADS, i, &view), optcl_params_message(p));
            assert_int_equal(clGetMemObjectInfo(view, CL_MEM_SIZE, sizeof size, &size, NULL), 0);
            assert_int_equal(size, n * sizeof(float));
            assert_int_equal(clGetMemObjectInfo(view, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent,
                                                &parent, NULL), 0);
            assert_ptr_equal(parent, whole);
            assert_int_equal(
                clGetMemObjectInfo(view, CL_MEM_OFFSET, sizeof offset, &offset, NULL), 0);
            assert_int_equal(offset, info.offset * sizeof(float));
            assert_int_equal(clEnqueueWriteBuffer(optcl_context_cl_queue(ctx), view, CL_TRUE, 0,
                                                  n * sizeof(float), g + packed_at(i), 0, NULL,
                                                  NULL), CL_SUCCESS);
        } else {
            TU_OK(optcl_params_host(p, OPTCL_ROLE_GRADS, i, &h), optcl_params_message(p));
            assert_ptr_equal(h, base + info.offset);
            memcpy(h, g + packed_at(i), n * sizeof(float)); /* writable */
        }
        get(p, OPTCL_ROLE_GRADS, i, out);
        assert_same(out, g + packed_at(i), n, specs[i].name);
    }
    get(p, OPTCL_ROLE_GRADS, OPTCL_ALL, out);
    assert_same(out, g, numel, "grads written through the backend's memory");
    if (!cl) { /* and a write shows in the host pointer */
        put(p, OPTCL_ROLE_PARAMS, 3, g);
        TU_OK(optcl_params_host(p, OPTCL_ROLE_PARAMS, 3, &h), optcl_params_message(p));
        assert_same(h, g, 15, "host view of a write");
    }
    assert_int_equal(cl ? optcl_params_buffer(p, OPTCL_ROLE_GRADS, N_SPECS, &view)
                        : optcl_params_host(p, OPTCL_ROLE_GRADS, N_SPECS, &h),
                     OPTCL_ERROR_NOT_FOUND);
    free(g); free(out);
    destroy_all(NULL, p, ctx);
}
BOTH_BACKENDS(test_native_memory)

static cl_uint mem_refs(cl_mem m)
{
    cl_uint refs = 0;
    assert_int_equal(clGetMemObjectInfo(m, CL_MEM_REFERENCE_COUNT, sizeof refs, &refs, NULL), 0);
    return refs;
}

/* Copies packed data to (write) or from a caller's flat buffer, tensor i at offsets[i]. */
static void cl_copy(cl_command_queue q, cl_mem m, const size_t *offsets, float *data, bool write)
{
    for (size_t i = 0; i < N_SPECS; i++) {
        size_t at = offsets[i] * sizeof(float), n = spec_count(&specs[i]) * sizeof(float);
        float *x = data + packed_at(i);
        cl_int err = write ? clEnqueueWriteBuffer(q, m, CL_TRUE, at, n, x, 0, NULL, NULL)
                           : clEnqueueReadBuffer(q, m, CL_TRUE, at, n, x, 0, NULL, NULL);
        assert_int_equal(err, CL_SUCCESS);
    }
}

static optcl_optimizer *make_sgd(optcl_params *p, double lr, double momentum)
{
    optcl_optimizer_config cfg = optcl_optimizer_config_default(OPTCL_SGD);
    cfg.lr = lr;
    cfg.sgd.momentum = momentum;
    optcl_optimizer *opt = NULL;
    TU_OK(optcl_optimizer_create(p, &cfg, &opt), "optcl_optimizer_create");
    return opt;
}

/* The caller's own flat buffers for the specs: optcl_params_layout's offsets and total, and
 * two buffers of that many floats. */
static void caller_buffers(optcl_context *ctx, size_t *offsets, size_t *total, cl_mem *pm,
                           cl_mem *gm)
{
    TU_OK(optcl_params_layout(ctx, specs, N_SPECS, offsets, total), optcl_context_message(ctx));
    cl_context c = optcl_context_cl_context(ctx);
    cl_int err = CL_SUCCESS, err2 = CL_SUCCESS;
    *pm = clCreateBuffer(c, CL_MEM_READ_WRITE, *total * sizeof(float), NULL, &err);
    *gm = clCreateBuffer(c, CL_MEM_READ_WRITE, *total * sizeof(float), NULL, &err2);
    assert_int_equal(err, CL_SUCCESS);
    assert_int_equal(err2, CL_SUCCESS);
}

/* Whatever the caller's allocation held in the padding (NaN here) is zeroed by the wrap: a
 * guarded step on finite gradients is taken, and its norm is the tensors' alone. */
static void test_wrap_zeroes_the_padding(void **state)
{
    (void)state;
    optcl_context *ctx = open_ctx(OPTCL_BACKEND_OPENCL);
    cl_command_queue q = optcl_context_cl_queue(ctx);
    size_t offsets[N_SPECS], total = 0, numel = packed_at(N_SPECS);
    cl_mem pm = NULL, gm = NULL;
    caller_buffers(ctx, offsets, &total, &pm, &gm);
    const float nan = NAN;
    assert_int_equal(clEnqueueFillBuffer(q, pm, &nan, sizeof nan, 0, total * sizeof(float), 0,
                                         NULL, NULL),
                     CL_SUCCESS);
    assert_int_equal(clEnqueueFillBuffer(q, gm, &nan, sizeof nan, 0, total * sizeof(float), 0,
                                         NULL, NULL),
                     CL_SUCCESS);
    assert_int_equal(clFinish(q), CL_SUCCESS);
    optcl_params *wrapped = NULL;
    TU_OK(optcl_params_wrap(ctx, specs, N_SPECS, pm, gm, &wrapped), optcl_context_message(ctx));
    float *w = random_floats(numel, 61), *g = random_floats(numel, 62);
    put(wrapped, OPTCL_ROLE_PARAMS, OPTCL_ALL, w);
    put(wrapped, OPTCL_ROLE_GRADS, OPTCL_ALL, g);
    optcl_optimizer_config cfg = optcl_optimizer_config_default(OPTCL_ADAM);
    cfg.nonfinite = OPTCL_NONFINITE_SKIP;
    cfg.max_norm = 1e6;
    optcl_optimizer *opt = NULL;
    TU_OK(optcl_optimizer_create(wrapped, &cfg, &opt), optcl_context_message(ctx));
    TU_OK(optcl_optimizer_step(opt, 0, NULL, NULL), optcl_optimizer_message(opt));
    optcl_guard_stats gs;
    TU_OK(optcl_optimizer_guard_stats(opt, &gs), optcl_optimizer_message(opt));
    assert_int_equal(gs.skipped, 0);
    assert_int_equal(gs.steps, 1);
    double sum = 0.0;
    for (size_t i = 0; i < numel; i++)
        sum += (double)g[i] * g[i];
    assert_true(fabs(gs.last_norm - sqrt(sum)) <= 1e-5 * sqrt(sum));
    float *flat = malloc(total * sizeof *flat);
    assert_non_null(flat);
    assert_int_equal(clEnqueueReadBuffer(q, pm, CL_TRUE, 0, total * sizeof(float), flat, 0, NULL,
                                         NULL),
                     CL_SUCCESS);
    for (size_t i = 0; i < total; i++)
        assert_false(isnan(flat[i])); /* padding stayed zero through the step */
    free(flat);
    free(w);
    free(g);
    destroy_all(opt, wrapped, NULL);
    clReleaseMemObject(pm);
    clReleaseMemObject(gm);
    TU_OK(optcl_context_destroy(ctx), "destroy");
}

static void test_wrap_buffers(void **state)
{
    (void)state;
    optcl_context *ctx = open_ctx(OPTCL_BACKEND_OPENCL);
    cl_command_queue q = optcl_context_cl_queue(ctx);
    size_t offsets[N_SPECS], total = 0, numel = packed_at(N_SPECS);
    cl_mem pm = NULL, gm = NULL;
    caller_buffers(ctx, offsets, &total, &pm, &gm);
    optcl_params *wrapped = NULL, *normal = make_params(ctx, specs, N_SPECS);
    TU_OK(optcl_params_wrap(ctx, specs, N_SPECS, pm, gm, &wrapped), optcl_context_message(ctx));
    cl_mem got = NULL;
    TU_OK(optcl_params_buffer(wrapped, OPTCL_ROLE_GRADS, OPTCL_ALL, &got), "");
    assert_ptr_equal(got, gm);
    assert_int_equal(optcl_params_flat_size(wrapped), total);
    float *w = random_floats(numel, 51), *g = random_floats(numel, 52);
    float *a = random_floats(numel, 53), *b = random_floats(numel, 54);
    put(wrapped, OPTCL_ROLE_PARAMS, OPTCL_ALL, w);
    put(normal, OPTCL_ROLE_PARAMS, OPTCL_ALL, w);
    optcl_optimizer *ow = make_sgd(wrapped, 0.1, 0.9), *on = make_sgd(normal, 0.1, 0.9);
    uint64_t seed = 52;
    for (int s = 0; s < 5; s++) {
        tu_fill_random(g, numel, &seed, -1.0f, 1.0f);
        cl_copy(q, gm, offsets, g, true);
        put(normal, OPTCL_ROLE_GRADS, OPTCL_ALL, g);
        TU_OK(optcl_optimizer_step(ow, 0, NULL, NULL), optcl_optimizer_message(ow));
        TU_OK(optcl_optimizer_step(on, 0, NULL, NULL), optcl_optimizer_message(on));
    }
    get(wrapped, OPTCL_ROLE_PARAMS, OPTCL_ALL, a);
    get(normal, OPTCL_ROLE_PARAMS, OPTCL_ALL, b);
    assert_same(a, b, numel, "wrapped vs created after 5 SGD steps");
    double worst = 0.0; /* the steps did move the parameters */
    assert_int_not_equal(tu_first_mismatch(a, w, numel, 0.0, 0.0, &worst), (size_t)-1);
    cl_copy(q, pm, offsets, a, false); /* the caller's buffer holds them at the offsets */
    assert_same(a, b, numel, "caller's buffer");
    destroy_all(ow, wrapped, NULL);
    destroy_all(on, normal, NULL);
    TU_AWAIT_EQUAL(mem_refs(pm), 1); /* retained once, released once */
    TU_AWAIT_EQUAL(mem_refs(gm), 1);

    /* Refusals: too small, the same buffer twice, a reference context, a sub-buffer, a
     * read-only buffer, one the host may only read. */
    cl_int err = CL_SUCCESS;
    cl_context cc = optcl_context_cl_context(ctx);
    cl_mem small = clCreateBuffer(cc, CL_MEM_READ_WRITE, (total - 1) * sizeof(float), NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_mem big = clCreateBuffer(cc, CL_MEM_READ_WRITE, 2 * total * sizeof(float), NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_buffer_region whole = {0, total * sizeof(float)};
    cl_mem part =
        clCreateSubBuffer(big, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &whole, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_mem read_only = clCreateBuffer(cc, CL_MEM_READ_ONLY, total * sizeof(float), NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_mem host_reads = clCreateBuffer(cc, CL_MEM_READ_WRITE | CL_MEM_HOST_READ_ONLY,
                                       total * sizeof(float), NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    optcl_context *ref = open_ctx(OPTCL_BACKEND_REFERENCE);
    optcl_context *on_ctx[] = {ctx, ctx, ctx, ref, ctx, ctx, ctx};
    cl_mem ps[] = {small, pm, pm, pm, part, pm, host_reads};
    cl_mem gs[] = {gm, small, pm, gm, gm, read_only, gm};
    optcl_status want[] = {OPTCL_ERROR_SIZE_MISMATCH,    OPTCL_ERROR_SIZE_MISMATCH,
                           OPTCL_ERROR_INVALID_ARGUMENT, OPTCL_ERROR_WRONG_BACKEND,
                           OPTCL_ERROR_INVALID_ARGUMENT, OPTCL_ERROR_INVALID_ARGUMENT,
                           OPTCL_ERROR_INVALID_ARGUMENT};
    const char *said[] = {
        "holds", "holds", "same buffer", "", "sub-buffer", "CL_MEM_READ_ONLY", "CL_MEM_HOST_"};
    for (int k = 0; k < 7; k++) {
        optcl_params *x = (optcl_params *)&err;
        assert_int_equal(optcl_params_wrap(on_ctx[k], specs, N_SPECS, ps[k], gs[k], &x), want[k]);
        assert_null(x);
        assert_true(optcl_context_message(on_ctx[k])[0] != '\0');
        assert_non_null(strstr(optcl_context_message(on_ctx[k]), said[k]));
    }
    clReleaseMemObject(part);
    clReleaseMemObject(big);
    clReleaseMemObject(read_only);
    clReleaseMemObject(host_reads);
    assert_int_equal(optcl_context_destroy(ref), OPTCL_SUCCESS);
    assert_int_equal(mem_refs(pm), 1);
    assert_int_equal(mem_refs(gm), 1);
    assert_int_equal(mem_refs(small), 1);
    free(w); free(g); free(a); free(b);
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS); /* no set was left behind */
    clReleaseMemObject(pm);
    clReleaseMemObject(gm);
    clReleaseMemObject(small);
}

static void test_bad_specs(optcl_backend backend)
{
    optcl_context *ctx = open_ctx(backend);
    char long_name[257];
    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    struct {
        optcl_tensor_spec bad;
        const char *needle; /* the message names the tensor; NULL: it has no usable name */
    } cases[] = {
        {{"first_ok", 1, {2}, 0, 0}, "first_ok"}, /* duplicate */
        {{"", 1, {2}, 0, 0}, NULL},
        {{NULL, 1, {2}, 0, 0}, NULL},
        {{long_name, 1, {2}, 0, 0}, NULL},
        {{"dim_zero", 2, {3, 0}, 0, 0}, "dim_zero"},
        {{"dim_negative", 1, {-4}, 0, 0}, "dim_negative"},
        {{"ndim_nine", 9, {1, 1, 1, 1, 1, 1, 1, 1}, 0, 0}, "ndim_nine"},
        {{"ndim_negative", -1, {1}, 0, 0}, "ndim_negative"},
        {{"group_negative", 1, {2}, -1, 0}, "group_negative"},
        {{"group_64", 1, {2}, OPTCL_MAX_GROUPS, 0}, "group_64"},
        {{"state_bits_16", 1, {2}, 0, 16}, "state_bits_16"},
        {{"bad_\xff\xfe", 1, {2}, 0, 0}, "not valid UTF-8"}, /* no checkpoint could hold it */
        {{"__metadata__", 1, {2}, 0, 0}, "__metadata__"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        optcl_tensor_spec two[2] = {{"first_ok", 1, {5}, 0, 0}, cases[k].bad};
        optcl_params *p = (optcl_params *)&two;
        optcl_status st = optcl_params_create(ctx, two, 2, &p);
        const char *msg = optcl_context_message(ctx);
        if (st != OPTCL_ERROR_INVALID_ARGUMENT)
            fail_msg("case %zu: %s (%s)", k, optcl_status_name(st), msg);
        assert_null(p);
        if (msg[0] == '\0' || (cases[k].needle && !strstr(msg, cases[k].needle)))
            fail_msg("case %zu: message '%s' does not name the tensor", k, msg);
        size_t total = 0;
        assert_int_equal(optcl_params_layout(ctx, two, 2, NULL, &total),
                         OPTCL_ERROR_INVALID_ARGUMENT);
    }
    long_name[255] = '\0'; /* 255 bytes is the longest name allowed */
    optcl_tensor_spec ok = {long_name, 0, {0}, OPTCL_MAX_GROUPS - 1, 0};
    optcl_params *p = make_params(ctx, &ok, 1);
    assert_int_equal(optcl_params_destroy(p), OPTCL_SUCCESS);
    p = (optcl_params *)&ok;
    assert_int_equal(optcl_params_create(ctx, specs, 0, &p), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_null(p);
    assert_int_equal(optcl_params_create(ctx, NULL, 1, &p), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_params_create(ctx, specs, N_SPECS, NULL), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_params_create(NULL, specs, N_SPECS, &p), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS); /* nothing left alive */
}
BOTH_BACKENDS(test_bad_specs)

/* Names that a checkpoint would hold twice — a parameter named as another's state, an 8-bit
 * state's block maxima as another's state, a factored state likewise — are refused when the
 * optimizer is made, naming both tensors; an optimizer without that state takes them. */
static void test_saved_names_collide(optcl_backend backend)
{
    optcl_context *ctx = open_ctx(backend);
    optcl_optimizer_config adam = optcl_optimizer_config_default(OPTCL_ADAM);
    optcl_optimizer_config int8 = adam;
    int8.state_dtype = OPTCL_STATE_INT8;
    optcl_optimizer_config adafactor = optcl_optimizer_config_default(OPTCL_ADAFACTOR);
    optcl_optimizer_config sgd = optcl_optimizer_config_default(OPTCL_SGD); /* no state */
    const struct {
        optcl_tensor_spec set[2];
        const optcl_optimizer_config *config;
        const char *first, *second; /* both named in the message; NULL: accepted */
    } cases[] = {
        {{{"w", 1, {4}, 0, 0}, {"optim.exp_avg.w", 1, {4}, 0, 0}},
         &adam,
         "parameter 'optim.exp_avg.w'",
         "state exp_avg of 'w'"},
        {{{"w", 1, {4}, 0, 0}, {"optim.exp_avg.w", 1, {4}, 0, 0}}, &sgd, NULL, NULL},
        {{{"w", 1, {4096}, 0, 0}, {"w.absmax", 1, {4}, 0, 0}},
         &int8,
         "the block maxima of state exp_avg of 'w'",
         "state exp_avg of 'w.absmax'"},
        {{{"w", 2, {4, 5}, 0, 0}, {"optim.row_var.w", 1, {4}, 0, 0}},
         &adafactor,
         "parameter 'optim.row_var.w'",
         "state row_var of 'w'"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        optcl_params *p = make_params(ctx, cases[k].set, 2);
        optcl_optimizer *opt = NULL;
        optcl_status st = optcl_optimizer_create(p, cases[k].config, &opt);
        const char *msg = optcl_context_message(ctx);
        if (!cases[k].first) {
            TU_OK(st, msg);
            assert_int_equal(optcl_optimizer_destroy(opt), OPTCL_SUCCESS);
        } else if (st != OPTCL_ERROR_INVALID_ARGUMENT || !strstr(msg, cases[k].first) ||
                   !strstr(msg, cases[k].second)) {
            fail_msg("case %zu: %s (%s)", k, optcl_status_name(st), msg);
        }
        assert_int_equal(optcl_params_destroy(p), OPTCL_SUCCESS);
    }
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
}
BOTH_BACKENDS(test_saved_names_collide)

static void test_destroy_in_use(optcl_backend backend)
{
    optcl_context *ctx = open_ctx(backend);
    optcl_params *p = make_params(ctx, specs, 2);
    optcl_optimizer *opt = make_sgd(p, 0.5, 0.0);
    assert_int_equal(optcl_params_destroy(p), OPTCL_ERROR_IN_USE);
    assert_true(optcl_params_message(p)[0] != '\0');
    float g[7] = {1, 2, 3, 4, 5, 6, 7}, out[7];
    put(p, OPTCL_ROLE_GRADS, 1, g);
    TU_OK(optcl_optimizer_step(opt, 0, NULL, NULL), optcl_optimizer_message(opt));
    get(p, OPTCL_ROLE_PARAMS, 1, out);
    for (int i = 0; i < 7; i++)
        assert_float_equal(out[i], -0.5f * g[i], 0.0f);
    assert_int_equal(optcl_params_destroy(NULL), OPTCL_SUCCESS);
    destroy_all(opt, p, ctx);
}
BOTH_BACKENDS(test_destroy_in_use)

/* A dependant that is not an optimizer (the sharded optimizer's hold) keeps the set alive as
 * an optimizer does, until it is removed; removing one that was never added is refused. */
static void test_dependants(optcl_backend backend)
{
    optcl_context *ctx = open_ctx(backend);
    optcl_params *p = make_params(ctx, specs, 2);
    assert_int_equal(optcl_params_add_dependant(NULL), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_params_remove_dependant(NULL), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_params_remove_dependant(p), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_params_message(p), "no dependant"));
    TU_OK(optcl_params_add_dependant(p), "add");
    TU_OK(optcl_params_add_dependant(p), "add again");
    optcl_optimizer *opt = make_sgd(p, 0.5, 0.0);
    assert_int_equal(optcl_params_destroy(p), OPTCL_ERROR_IN_USE);
    assert_non_null(strstr(optcl_params_message(p), "1 optimizer(s) and 2 other dependant(s)"));
    TU_OK(optcl_optimizer_destroy(opt), "optimizer");
    TU_OK(optcl_params_remove_dependant(p), "remove");
    assert_int_equal(optcl_params_destroy(p), OPTCL_ERROR_IN_USE);
    assert_non_null(strstr(optcl_params_message(p), "0 optimizer(s) and 1 other dependant(s)"));
    TU_OK(optcl_params_remove_dependant(p), "remove the last");
    assert_int_equal(optcl_params_remove_dependant(p), OPTCL_ERROR_INVALID_ARGUMENT);
    TU_OK(optcl_params_destroy(p), "destroy");
    TU_OK(optcl_context_destroy(ctx), "context");
}
BOTH_BACKENDS(test_dependants)

/* ---- parameter groups ---------------------------------------------------------------------- */

static const optcl_tensor_spec gspecs[] = {
    {"g0_a", 1, {13}, 0, 0},
    {"g1_a", 1, {29}, 1, 0},
    {"g0_b", 2, {3, 4}, 0, 0},
    {"g1_b", 0, {0}, 1, 0}};
#define N_G 4
#define G_STEPS 10
static const optcl_group_config two_groups[2] = {{0.1, 0.0, 0}, {0.01, 0.5, 0}};

/* SGD (momentum 0.9) over gspecs[ids[0..n)] — each as group 0 when n is 1 — for G_STEPS steps;
 * before step change_at, set_lr(set_group, new_lr). Tensor t's start and step s's gradient
 * depend on t and s only. out: the parameters packed. */
static void run_sgd(optcl_context *ctx, const size_t *ids, size_t n, const optcl_group_config *gs,
                    size_t group_count, double lr, double wd, int change_at, int set_group,
                    double new_lr, float *out)
{
    optcl_tensor_spec s[N_G];
    for (size_t k = 0; k < n; k++) {
        s[k] = gspecs[ids[k]];
        if (n == 1)
            s[k].group = 0;
    }
    optcl_params *p = make_params(ctx, s, n);
    optcl_optimizer_config cfg = optcl_optimizer_config_default(OPTCL_SGD);
    cfg.lr = lr;
    cfg.weight_decay = wd;
    cfg.sgd.momentum = 0.9;
    cfg.groups = gs;
    cfg.group_count = group_count;
    optcl_optimizer *opt = NULL;
    TU_OK(optcl_optimizer_create(p, &cfg, &opt), optcl_context_message(ctx));
    float buf[64];
    for (size_t k = 0; k < n; k++) {
        uint64_t seed = 1000 + ids[k];
        tu_fill_random(buf, spec_count(&s[k]), &seed, -1.0f, 1.0f);
        put(p, OPTCL_ROLE_PARAMS, k, buf);
    }
    for (int step = 0; step < G_STEPS; step++) {
        if (step == change_at) {
            TU_OK(optcl_optimizer_set_lr(opt, set_group, new_lr), optcl_optimizer_message(opt));
            double got = -1.0;
            TU_OK(optcl_optimizer_get_lr(opt, set_group < 0 ? 0 : set_group, &got), "");
            assert_true(got == new_lr);
        }
        for (size_t k = 0; k < n; k++) {
            uint64_t seed = (uint64_t)(step + 1) * 7919u + ids[k] + 1;
            tu_fill_random(buf, spec_count(&s[k]), &seed, -1.0f, 1.0f);
            put(p, OPTCL_ROLE_GRADS, k, buf);
        }
        TU_OK(optcl_optimizer_step(opt, 0, NULL, NULL), optcl_optimizer_message(opt));
    }
    get(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, out);
    destroy_all(opt, p, NULL);
}

/* Runs all four tensors together (change at change_at for group 1) and each alone, and checks
 * each tensor's values agree exactly. */
static void check_groups(optcl_backend backend, int change_at, double new_lr)
{
    optcl_context *ctx = open_ctx(backend);
    const size_t all_ids[N_G] = {0, 1, 2, 3};
    float together[64], alone[64], unchanged[64];
    run_sgd(ctx, all_ids, N_G, two_groups, 2, 0.5, 0.25, change_at, 1, new_lr, together);
    size_t at = 0;
    for (size_t t = 0; t < N_G; t++) {
        const optcl_group_config *g = &two_groups[gspecs[t].group];
        size_t n = spec_count(&gspecs[t]);
        bool changed = gspecs[t].group == 1;
        run_sgd(ctx, &t, 1, NULL, 0, g->lr, g->weight_decay, changed ? change_at : -1, -1,
                new_lr, alone);
        assert_same(together + at, alone, n, gspecs[t].name);
        if (changed && change_at >= 0) { /* set_lr did change group 1: the check has teeth */
            run_sgd(ctx, &t, 1, NULL, 0, g->lr, g->weight_decay, -1, -1, 0.0, unchanged);
            assert_int_not_equal(tu_first_mismatch(together + at, unchanged, n, 0, 0, NULL),
                                 (size_t)-1);
        }
        at += n;
    }
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
}

/* Groups alone, then set_lr(1, 0.05) before step 6, then get_lr/set_lr on their own. */
static void test_groups_set_lr(optcl_backend backend)
{
    check_groups(backend, -1, 0.0);
    check_groups(backend, 5, 0.05);
    optcl_context *ctx = open_ctx(backend);
    optcl_params *p = make_params(ctx, gspecs, N_G);
    optcl_group_config gs[2] = {{0.1, 0.0, 0}, {-1.0, -1.0, 0}}; /* group 1: the optimizer's */
    optcl_optimizer_config cfg = optcl_optimizer_config_default(OPTCL_SGD);
    cfg.lr = 0.25;
    cfg.groups = gs;
    cfg.group_count = 2;
    optcl_optimizer *opt = NULL;
    TU_OK(optcl_optimizer_create(p, &cfg, &opt), optcl_context_message(ctx));
    double lr0 = 0, lr1 = 0;
    TU_OK(optcl_optimizer_get_lr(opt, 1, &lr1), "");
    assert_true(lr1 == 0.25);
    TU_OK(optcl_optimizer_set_lr(opt, 1, 0.05), optcl_optimizer_message(opt));
    TU_OK(optcl_optimizer_get_lr(opt, 0, &lr0), "");
    TU_OK(optcl_optimizer_get_lr(opt, 1, &lr1), "");
    assert_true(lr0 == 0.1 && lr1 == 0.05);
    assert_int_equal(optcl_optimizer_set_lr(opt, 1, -0.1), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(optcl_optimizer_set_lr(opt, 1, NAN), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(optcl_optimizer_set_lr(opt, -1, -1.0), OPTCL_ERROR_INVALID_ARGUMENT);
    TU_OK(optcl_optimizer_get_lr(opt, 0, &lr0), "");
    TU_OK(optcl_optimizer_get_lr(opt, 1, &lr1), "");
    assert_true(lr0 == 0.1 && lr1 == 0.05);
    destroy_all(opt, p, ctx);
}
BOTH_BACKENDS(test_groups_set_lr)

static cl_int event_status(cl_event ev)
{
    cl_int status = -1;
    assert_int_equal(clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status,
                                    &status, NULL), CL_SUCCESS);
    return status;
}

/* ---- events --------------------------------------------------------------------------------- */

static void test_step_events(optcl_backend backend)
{
    optcl_context *ctx = open_ctx(backend);
    optcl_params *p = make_params(ctx, gspecs, N_G); /* two groups: two launches */
    size_t numel = optcl_params_numel(p);
    float *w = random_floats(numel, 61), *g = random_floats(numel, 62);
    float *expect = random_floats(numel, 63), *out = random_floats(numel, 64);
    put(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, w);
    put(p, OPTCL_ROLE_GRADS, OPTCL_ALL, g);
    optcl_optimizer *opt = make_sgd(p, 0.5, 0.0); /* w − 0.5·g is exact in float */
    cl_event ev = fake_event;
    TU_OK(optcl_optimizer_step(opt, 0, NULL, &ev), optcl_optimizer_message(opt));
    if (backend == OPTCL_BACKEND_REFERENCE) {
        assert_null(ev);
        ev = fake_event;
        assert_int_equal(optcl_optimizer_step(opt, 1, &fake_event, &ev),
                         OPTCL_ERROR_WRONG_BACKEND);
        if (ev != NULL) /* optcl.h: on the reference backend "*event is set to NULL" */
            fail_msg("a refused reference step left *event = %p", (void *)ev);
        assert_int_equal(optcl_optimizer_step_count(opt), 1);
    } else {
        assert_non_null(ev);
        assert_int_equal(clWaitForEvents(1, &ev), CL_SUCCESS);
        assert_int_equal(event_status(ev), CL_COMPLETE);
        clReleaseEvent(ev);
        /* A second step held back by a user event until after it is enqueued. */
        cl_int err = CL_SUCCESS;
        cl_event user = clCreateUserEvent(optcl_context_cl_context(ctx), &err);
        assert_int_equal(err, CL_SUCCESS);
        ev = NULL;
        TU_OK(optcl_optimizer_step(opt, 1, &user, &ev), optcl_optimizer_message(opt));
        assert_non_null(ev);
        assert_true(event_status(ev) > CL_COMPLETE); /* cannot have run yet */
        assert_int_equal(clSetUserEventStatus(user, CL_COMPLETE), CL_SUCCESS);
        TU_OK(optcl_context_finish(ctx), optcl_context_message(ctx));
        assert_int_equal(event_status(ev), CL_COMPLETE);
        clReleaseEvent(ev);
        clReleaseEvent(user);
        assert_int_equal(optcl_optimizer_step_count(opt), 2);
    }
    uint64_t steps = optcl_optimizer_step_count(opt);
    for (size_t i = 0; i < numel; i++) {
        expect[i] = w[i];
        for (uint64_t s = 0; s < steps; s++)
            expect[i] = expect[i] - 0.5f * g[i];
    }
    get(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, out);
    assert_same(out, expect, numel, "params after the steps");
    free(w); free(g); free(expect); free(out);
    destroy_all(opt, p, ctx);
}
BOTH_BACKENDS(test_step_events)

/* A parameter set larger than the device's largest allocation: a clear status and message
 * before anything is allocated, and the context still works. */
static void test_too_large_for_device(void **state)
{
    (void)state;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    cl_ulong max_alloc = 0;
    assert_int_equal(clGetDeviceInfo(optcl_context_cl_device(ctx), CL_DEVICE_MAX_MEM_ALLOC_SIZE,
                                      sizeof max_alloc, &max_alloc, NULL),
                     CL_SUCCESS);
    optcl_tensor_spec big = {.name = "huge", .ndim = 2,
                             .shape = {2, (int64_t)(max_alloc / sizeof(float) / 2 + 64)}};
    optcl_params *p = NULL;
    assert_int_equal(optcl_params_create(ctx, &big, 1, &p), OPTCL_ERROR_DEVICE_MEMORY);
    assert_null(p);
    assert_non_null(strstr(optcl_context_message(ctx), "allows at most"));
    optcl_tensor_spec small = {.name = "w", .ndim = 1, .shape = {3}};
    TU_OK(optcl_params_create(ctx, &small, 1, &p), optcl_context_message(ctx));
    optcl_params_destroy(p);
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH_TESTS(test_layout),
        BOTH_TESTS(test_write_read),
        BOTH_TESTS(test_zero_grad),
        BOTH_TESTS(test_native_memory),
        cmocka_unit_test(test_wrap_buffers),
        cmocka_unit_test(test_wrap_zeroes_the_padding),
        cmocka_unit_test(test_too_large_for_device),
        BOTH_TESTS(test_bad_specs),
        BOTH_TESTS(test_saved_names_collide),
        BOTH_TESTS(test_destroy_in_use),
        BOTH_TESTS(test_dependants),
        BOTH_TESTS(test_groups_set_lr),
        BOTH_TESTS(test_step_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
