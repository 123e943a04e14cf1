/* test_context.c — contexts: the default OpenCL device and the reference backend, device choice
 * through OPTCL_DEVICE and the config and the default choice's rule, message buffers, refused
 * destroys, and wrapping a caller's cl_context/queue (retained and released exactly once, bad
 * queues refused). */
#include "testutil.h"

/* The default choice's rule is internal (device lists are the ICD's); the test reaches it through
 * its header, found relative to this file, so the suite needs no extra include path. */
#include "../host/device_select.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *g_saved_env; /* OPTCL_DEVICE as the suite found it */

static int save_env(void **state)
{
    (void)state;
    const char *e = getenv("OPTCL_DEVICE");
    g_saved_env = e ? strdup(e) : NULL;
    unsetenv("OPTCL_DEVICE");
    return 0;
}

static int restore_env(void **state)
{
    (void)state;
    if (g_saved_env)
        setenv("OPTCL_DEVICE", g_saved_env, 1);
    else
        unsetenv("OPTCL_DEVICE");
    free(g_saved_env);
    g_saved_env = NULL;
    return 0;
}

/* Every test starts without OPTCL_DEVICE. */
static int clear_env(void **state)
{
    (void)state;
    unsetenv("OPTCL_DEVICE");
    return 0;
}

/* The first device of the first platform, found with plain OpenCL calls. */
static cl_device_id first_device(void)
{
    cl_platform_id platform = NULL;
    cl_device_id device = NULL;
    cl_uint n = 0;
    assert_int_equal(clGetPlatformIDs(1, &platform, &n), CL_SUCCESS);
    assert_true(n >= 1);
    assert_int_equal(clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, &n), CL_SUCCESS);
    assert_true(n >= 1);
    return device;
}

static cl_uint context_refs(cl_context c)
{
    cl_uint refs = 0;
    assert_int_equal(clGetContextInfo(c, CL_CONTEXT_REFERENCE_COUNT, sizeof refs, &refs, NULL),
                     CL_SUCCESS);
    return refs;
}

static cl_uint queue_refs(cl_command_queue q)
{
    cl_uint refs = 0;
    assert_int_equal(clGetCommandQueueInfo(q, CL_QUEUE_REFERENCE_COUNT, sizeof refs, &refs, NULL),
                     CL_SUCCESS);
    return refs;
}

/* Creates a context from cfg, failing the test with its message otherwise. */
static optcl_context *create_ok(const optcl_context_config *cfg)
{
    char msg[512] = "";
    optcl_context *ctx = NULL;
    optcl_status st = optcl_context_create(cfg, &ctx, msg, sizeof msg);
    if (st != OPTCL_SUCCESS)
        fail_msg("optcl_context_create: %s (%s)", optcl_status_name(st), msg);
    assert_non_null(ctx);
    return ctx;
}

static optcl_backend backend_with_env(const char *env, const optcl_context_config *cfg)
{
    setenv("OPTCL_DEVICE", env, 1);
    optcl_context *ctx = create_ok(cfg);
    optcl_backend b = optcl_context_backend(ctx);
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
    unsetenv("OPTCL_DEVICE");
    return b;
}

static void test_default_opencl(void **state)
{
    (void)state;
    optcl_context *ctx = create_ok(NULL);
    assert_int_equal(optcl_context_backend(ctx), OPTCL_BACKEND_OPENCL);
    assert_string_equal(optcl_context_message(ctx), "");
    cl_context c = optcl_context_cl_context(ctx);
    cl_device_id d = optcl_context_cl_device(ctx);
    cl_command_queue q = optcl_context_cl_queue(ctx);
    assert_non_null(c);
    assert_non_null(d);
    assert_non_null(q);
    /* The queue is the context's, on its device, and in-order. */
    cl_context qc = NULL;
    cl_device_id qd = NULL;
    cl_command_queue_properties props = 0;
    assert_int_equal(clGetCommandQueueInfo(q, CL_QUEUE_CONTEXT, sizeof qc, &qc, NULL), 0);
    assert_int_equal(clGetCommandQueueInfo(q, CL_QUEUE_DEVICE, sizeof qd, &qd, NULL), 0);
    assert_int_equal(clGetCommandQueueInfo(q, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL), 0);
    assert_ptr_equal(qc, c);
    assert_ptr_equal(qd, d);
    assert_false(props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE);
    /* The device name names the OpenCL device. */
    char dname[256] = "";
    assert_int_equal(clGetDeviceInfo(d, CL_DEVICE_NAME, sizeof dname - 1, dname, NULL), 0);
    const char *name = optcl_context_device_name(ctx);
    assert_non_null(name);
    assert_true(name[0] != '\0');
    if (!strstr(name, dname))
        fail_msg("device name '%s' does not contain '%s'", name, dname);
    size_t align = optcl_context_alignment(ctx);
    assert_true(align >= 256); /* the reference backend's layout at least */
    assert_int_equal(align & (align - 1), 0);
    TU_OK(optcl_context_finish(ctx), optcl_context_message(ctx));
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
}

static void test_reference(void **state)
{
    (void)state;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
    assert_int_equal(optcl_context_backend(ctx), OPTCL_BACKEND_REFERENCE);
    assert_null(optcl_context_cl_context(ctx));
    assert_null(optcl_context_cl_device(ctx));
    assert_null(optcl_context_cl_queue(ctx));
    assert_int_equal(optcl_context_alignment(ctx), 256); /* as on every device */
    assert_int_equal(optcl_context_vector_width(ctx), 1);
    assert_int_equal(optcl_context_int8_block_items(ctx), 0);
    assert_string_equal(optcl_context_device_name(ctx), "reference (host)");
    TU_OK(optcl_context_finish(ctx), optcl_context_message(ctx));
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
    assert_int_equal(optcl_context_finish(NULL), OPTCL_ERROR_NULL_POINTER);
}

/* The vector width a context on d gets for want elements, as documented: a power of two, at
 * most 16 and within the device's base-address alignment. */
static unsigned capped_width(cl_device_id d, unsigned want)
{
    cl_uint align_bits = 0;
    assert_int_equal(
        clGetDeviceInfo(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL), 0);
    unsigned w = 1;
    while (w * 2 <= want && w * 2 <= 16 && w * 2 * 32 <= align_bits)
        w *= 2;
    return w;
}

/* The vector width follows the device (4 on GPUs, the preferred float width elsewhere), and
 * OPTCL_VECTOR_WIDTH overrides it with 1, 2, 4, 8 or 16 only. */
static void test_vector_width(void **state)
{
    (void)state;
    unsetenv("OPTCL_VECTOR_WIDTH");
    optcl_context *ctx = create_ok(NULL);
    cl_device_id d = optcl_context_cl_device(ctx);
    cl_device_type type = 0;
    cl_uint preferred = 0;
    assert_int_equal(clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL), 0);
    assert_int_equal(clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof preferred,
                                     &preferred, NULL),
                     0);
    unsigned device_choice = capped_width(d, (type & CL_DEVICE_TYPE_GPU) ? 4 : preferred);
    assert_int_equal(optcl_context_vector_width(ctx), device_choice);
    const char *values[] = {"1", "2", "4", "8", "16", "3", "32", "0", "4x", ""};
    const unsigned wants[] = {1, 2, 4, 8, 16, 0, 0, 0, 0, 0}; /* 0: the device's choice */
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        setenv("OPTCL_VECTOR_WIDTH", values[i], 1);
        optcl_context *forced = create_ok(NULL);
        unsigned expected = wants[i] ? capped_width(d, wants[i]) : device_choice;
        if (optcl_context_vector_width(forced) != expected)
            fail_msg("OPTCL_VECTOR_WIDTH='%s': width %u, expected %u", values[i],
                     optcl_context_vector_width(forced), expected);
        assert_int_equal(optcl_context_destroy(forced), OPTCL_SUCCESS);
    }
    unsetenv("OPTCL_VECTOR_WIDTH");
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
    assert_int_equal(optcl_context_vector_width(NULL), 0);
}

/* 8-bit state's blocks are stepped by a work-group each (256 / VEC items) on GPUs and by one
 * work-item elsewhere, and OPTCL_Q8_LAYOUT = group or item overrides that, nothing else. */
static void test_int8_layout(void **state)
{
    (void)state;
    unsetenv("OPTCL_Q8_LAYOUT");
    optcl_context *ctx = create_ok(NULL);
    cl_device_type type = 0;
    assert_int_equal(
        clGetDeviceInfo(optcl_context_cl_device(ctx), CL_DEVICE_TYPE, sizeof type, &type, NULL), 0);
    size_t group = 256 / optcl_context_vector_width(ctx);
    size_t device_choice = (type & CL_DEVICE_TYPE_GPU) ? group : 1;
    assert_int_equal(optcl_context_int8_block_items(ctx), device_choice);
    const char *values[] = {"group", "item", "groups", ""};
    const size_t wants[] = {group, 1, device_choice, device_choice};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        setenv("OPTCL_Q8_LAYOUT", values[i], 1);
        optcl_context *forced = create_ok(NULL);
        if (optcl_context_int8_block_items(forced) != wants[i])
            fail_msg("OPTCL_Q8_LAYOUT='%s': %zu items per block, expected %zu", values[i],
                     optcl_context_int8_block_items(forced), wants[i]);
        assert_int_equal(optcl_context_destroy(forced), OPTCL_SUCCESS);
    }
    unsetenv("OPTCL_Q8_LAYOUT");
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
    assert_int_equal(optcl_context_int8_block_items(NULL), 0);
}

/* Up to 7 letters of the first device's name (e.g. "pthread" on PoCL), as a name filter. */
static void device_token(char *out, size_t size)
{
    char dname[256] = "";
    assert_int_equal(clGetDeviceInfo(first_device(), CL_DEVICE_NAME, sizeof dname - 1, dname, NULL),
                     0);
    size_t n = 0;
    while (dname[n] && isalpha((unsigned char)dname[n]) && n < 7 && n + 1 < size)
        n++;
    if (n < 3)
        skip(); /* no usable alphabetic token */
    memcpy(out, dname, n);
    out[n] = '\0';
}

static void test_env_selection(void **state)
{
    (void)state;
    assert_int_equal(backend_with_env("reference", NULL), OPTCL_BACKEND_REFERENCE);

    setenv("OPTCL_DEVICE", "0:0", 1);
    optcl_context *ctx = create_ok(NULL);
    assert_int_equal(optcl_context_backend(ctx), OPTCL_BACKEND_OPENCL);
    assert_ptr_equal(optcl_context_cl_device(ctx), first_device());
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);

    char token[16], upper[16], lower[16];
    device_token(token, sizeof token);
    for (size_t i = 0; i <= strlen(token); i++) {
        upper[i] = (char)toupper((unsigned char)token[i]);
        lower[i] = (char)tolower((unsigned char)token[i]);
    }
    assert_int_equal(backend_with_env(token, NULL), OPTCL_BACKEND_OPENCL);
    assert_int_equal(backend_with_env(upper, NULL), OPTCL_BACKEND_OPENCL);
    assert_int_equal(backend_with_env(lower, NULL), OPTCL_BACKEND_OPENCL);
}

static void test_env_no_match(void **state)
{
    (void)state;
    const char *bad[] = {"no-such-device", "9:9"};
    for (size_t i = 0; i < 2; i++) {
        setenv("OPTCL_DEVICE", bad[i], 1);
        char msg[1024] = "";
        optcl_context *ctx = (optcl_context *)&msg; /* must be reset to NULL */
        optcl_status st = optcl_context_create(NULL, &ctx, msg, sizeof msg);
        assert_int_equal(st, OPTCL_ERROR_NO_DEVICE);
        assert_null(ctx);
        assert_true(msg[0] != '\0');
        if (i == 0 && !strstr(msg, "no-such-device"))
            fail_msg("message does not name the request: %s", msg);
        if (i == 1 && !strstr(msg, "9"))
            fail_msg("message does not name the indices: %s", msg);
    }
}

/* The default device (optcl__default_device): of the devices available with a compiler, a
 * discrete GPU before an integrated one (memory unified with the host's), then the GPU with the
 * most global memory × compute units, the first of equals; else the first usable device of
 * another type; none when none is usable. */
static void test_default_choice_rule(void **state)
{
    (void)state;
    enum { GIB = 1 << 30 };
    const cl_device_type cpu = CL_DEVICE_TYPE_CPU, gpu = CL_DEVICE_TYPE_GPU;
    const optcl__device_facts list[] = {
        {cpu, true, true, 64ull * GIB, 64, false},   /* 0: a CPU, larger than every GPU */
        {gpu, true, true, 16ull * GIB, 24, true},    /* 1: an integrated GPU, 384 */
        {gpu, false, true, 80ull * GIB, 132, false}, /* 2: the largest GPU, not available */
        {gpu, true, false, 80ull * GIB, 132, false}, /* 3: the same, without a compiler */
        {gpu, true, true, 40ull * GIB, 108, false},  /* 4: 4320 */
        {gpu, true, true, 80ull * GIB, 54, false},   /* 5: 4320 again: 4 comes first */
        {gpu, true, true, 24ull * GIB, 180, false},  /* 6: 4320 too */
    };
    assert_int_equal(optcl__default_device(list, 7), 4);
    assert_int_equal(optcl__default_device(list, 4), 1);     /* the integrated GPU before the CPU */
    assert_int_equal(optcl__default_device(list, 1), 0);     /* no GPU: the first usable device */
    assert_int_equal(optcl__default_device(list + 2, 2), 2); /* none usable: n */
    const optcl__device_facts later[] = {list[2], list[3], list[0]};
    assert_int_equal(optcl__default_device(later, 3), 2); /* the first usable, not the first */
    /* an integrated GPU's global memory is the host's RAM and Intel's count execution units:
     * larger by the measure than a discrete GPU, it still comes after every one */
    const optcl__device_facts shared[] = {
        {gpu, true, true, 64ull * GIB, 512, true}, /* 0: integrated, 32768 */
        {gpu, true, true, 8ull * GIB, 20, false},  /* 1: a small discrete GPU, 160 */
        {gpu, true, true, 32ull * GIB, 96, true},  /* 2: integrated, 3072 */
        {gpu, true, true, 12ull * GIB, 20, false}, /* 3: a larger discrete GPU, 240 */
    };
    assert_int_equal(optcl__default_device(shared, 3), 1);
    assert_int_equal(optcl__default_device(shared, 4), 3); /* discrete ones by size */
    const optcl__device_facts integrated[] = {list[0], shared[2], shared[0]};
    assert_int_equal(optcl__default_device(integrated, 3), 2); /* integrated ones by size too */
    assert_true(optcl__device_usable(&list[0]));
    assert_false(optcl__device_usable(&list[2]) || optcl__device_usable(&list[3]));
}

/* A context of n kernels with made-up handles (never given to OpenCL), each with the limit
 * 1 + its index; some forgotten and remembered again, out of order. */
static void fill_kernels(optcl_context *ctx, size_t n)
{
    memset(ctx, 0, sizeof *ctx);
    for (size_t i = n; i-- > 0;) /* handles 16, 32, …: remembered from the last */
        assert_int_equal(optcl__kernel_remember(ctx, (cl_kernel)(uintptr_t)(16 * (i + 1)), 1 + i),
                         CL_SUCCESS);
    for (size_t i = 0; i < n; i += 3) {
        optcl__kernel_forget(ctx, (cl_kernel)(uintptr_t)(16 * (i + 1)));
        assert_int_equal(optcl__kernel_most(ctx, (cl_kernel)(uintptr_t)(16 * (i + 1))), SIZE_MAX);
        assert_int_equal(optcl__kernel_remember(ctx, (cl_kernel)(uintptr_t)(16 * (i + 1)), 1 + i),
                         CL_SUCCESS);
    }
    assert_int_equal(ctx->kernel_count, n);
}

/* Every launch looks its kernel's work-group limit up among the context's kernels, and one
 * context may hold thousands (an optimizer per layer, or per tensor): the look-up finds each
 * limit among many, and forgets what is released. (Its cost, a binary search, is a benchmark's
 * business, not a test's.) */
static void test_kernel_lookup(void **state)
{
    (void)state;
    enum { SMALL = 16, LARGE = 16384 };
    optcl_context *small = calloc(1, sizeof *small), *large = calloc(1, sizeof *large);
    assert_non_null(small);
    assert_non_null(large);
    fill_kernels(small, SMALL);
    fill_kernels(large, LARGE);
    for (size_t i = 0; i < LARGE; i++)
        assert_int_equal(optcl__kernel_most(large, (cl_kernel)(uintptr_t)(16 * (i + 1))), 1 + i);
    assert_int_equal(optcl__kernel_most(large, (cl_kernel)(uintptr_t)8), SIZE_MAX);
    assert_int_equal(optcl__kernel_most(large, (cl_kernel)(uintptr_t)(16 * LARGE + 16)), SIZE_MAX);
    for (size_t i = 0; i < SMALL; i++)
        assert_int_equal(optcl__kernel_most(small, (cl_kernel)(uintptr_t)(16 * (i + 1))), 1 + i);
    free(small->kernels);
    free(large->kernels);
    free(small);
    free(large);
}

static void test_config_beats_env(void **state)
{
    (void)state;
    optcl_context_config cfg = optcl_context_config_default();
    cfg.ignore_environment = 1;
    assert_int_equal(backend_with_env("no-such-device", &cfg), OPTCL_BACKEND_OPENCL);
    assert_int_equal(backend_with_env("reference", &cfg), OPTCL_BACKEND_OPENCL);

    char token[16];
    device_token(token, sizeof token);
    cfg = optcl_context_config_default();
    cfg.device_name = token;
    assert_int_equal(backend_with_env("no-such-device", &cfg), OPTCL_BACKEND_OPENCL);
    assert_int_equal(backend_with_env("reference", &cfg), OPTCL_BACKEND_OPENCL);

    /* An explicit name that matches nothing fails even when OPTCL_DEVICE would match. */
    setenv("OPTCL_DEVICE", "0:0", 1);
    cfg.device_name = "no-such-device";
    char msg[1024] = "";
    optcl_context *ctx = NULL;
    assert_int_equal(optcl_context_create(&cfg, &ctx, msg, sizeof msg), OPTCL_ERROR_NO_DEVICE);
    assert_null(ctx);
    assert_non_null(strstr(msg, "no-such-device"));
    unsetenv("OPTCL_DEVICE");

    /* The reference backend asked for explicitly needs no device at all. */
    cfg = optcl_context_config_default();
    cfg.backend = OPTCL_BACKEND_REFERENCE;
    assert_int_equal(backend_with_env("9:9", &cfg), OPTCL_BACKEND_REFERENCE);
}

static void test_message_buffer(void **state)
{
    (void)state;
    setenv("OPTCL_DEVICE", "no-such-device", 1);
    optcl_context *ctx = NULL;
    assert_int_equal(optcl_context_create(NULL, &ctx, NULL, 0), OPTCL_ERROR_NO_DEVICE);
    assert_int_equal(optcl_context_create(NULL, &ctx, NULL, 100), OPTCL_ERROR_NO_DEVICE);
    assert_null(ctx);

    char buf[32];
    memset(buf, 'X', sizeof buf);
    assert_int_equal(optcl_context_create(NULL, &ctx, buf, 8), OPTCL_ERROR_NO_DEVICE);
    assert_non_null(memchr(buf, '\0', 8));
    assert_true(strlen(buf) > 0);
    for (size_t i = 8; i < sizeof buf; i++)
        if (buf[i] != 'X')
            fail_msg("byte %zu written beyond the 8-byte buffer", i);

    memset(buf, 'X', sizeof buf);
    assert_int_equal(optcl_context_create(NULL, &ctx, buf, 0), OPTCL_ERROR_NO_DEVICE);
    assert_int_equal(buf[0], 'X');
    unsetenv("OPTCL_DEVICE");

    assert_int_equal(optcl_context_create(NULL, NULL, buf, sizeof buf), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_context_destroy(NULL), OPTCL_SUCCESS);
}

static const optcl_tensor_spec one_tensor = {"w", 1, {37}, 0, 0};

static void check_destroy_in_use(optcl_backend backend)
{
    optcl_context *ctx = tu_context(backend);
    optcl_params *p = NULL;
    TU_OK(optcl_params_create(ctx, &one_tensor, 1, &p), optcl_context_message(ctx));
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_ERROR_IN_USE);
    assert_true(optcl_context_message(ctx)[0] != '\0');
    /* Still usable: nothing was freed. */
    optcl_optimizer_config cfg = optcl_optimizer_config_default(OPTCL_SGD);
    optcl_optimizer *opt = NULL;
    TU_OK(optcl_optimizer_create(p, &cfg, &opt), optcl_context_message(ctx));
    float ones[37], out[37];
    for (int i = 0; i < 37; i++)
        ones[i] = 1.0f;
    TU_OK(optcl_params_write(p, OPTCL_ROLE_GRADS, 0, ones, 37), optcl_params_message(p));
    TU_OK(optcl_optimizer_step(opt, 0, NULL, NULL), optcl_optimizer_message(opt));
    TU_OK(optcl_params_read(p, OPTCL_ROLE_PARAMS, 0, out, 37), optcl_params_message(p));
    for (int i = 0; i < 37; i++)
        assert_float_equal(out[i], -1e-3f, 0.0f);
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_ERROR_IN_USE);
    assert_int_equal(optcl_optimizer_destroy(opt), OPTCL_SUCCESS);
    assert_int_equal(optcl_params_destroy(p), OPTCL_SUCCESS);
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
}

static void test_destroy_in_use(void **state)
{
    (void)state;
    check_destroy_in_use(OPTCL_BACKEND_REFERENCE);
    check_destroy_in_use(OPTCL_BACKEND_OPENCL);
}

static void test_wrap(void **state)
{
    (void)state;
    cl_device_id dev = first_device();
    cl_int err = CL_SUCCESS;
    cl_context c = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_command_queue q = clCreateCommandQueue(c, dev, 0, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_uint c_before = context_refs(c), q_before = queue_refs(q);

    char msg[512] = "";
    optcl_context *ctx = NULL;
    optcl_status st = optcl_context_wrap(c, dev, q, &ctx, msg, sizeof msg);
    if (st != OPTCL_SUCCESS)
        fail_msg("optcl_context_wrap: %s (%s)", optcl_status_name(st), msg);
    assert_int_equal(optcl_context_backend(ctx), OPTCL_BACKEND_OPENCL);
    assert_ptr_equal(optcl_context_cl_context(ctx), c);
    assert_ptr_equal(optcl_context_cl_device(ctx), dev);
    assert_ptr_equal(optcl_context_cl_queue(ctx), q);
    assert_true(context_refs(c) > c_before);
    assert_true(queue_refs(q) > q_before);

    optcl_params *p = NULL;
    TU_OK(optcl_params_create(ctx, &one_tensor, 1, &p), optcl_context_message(ctx));
    optcl_optimizer_config cfg = optcl_optimizer_config_default(OPTCL_SGD);
    cfg.lr = 0.5; /* a power of two: w − lr·g is exact in float */
    optcl_optimizer *opt = NULL;
    TU_OK(optcl_optimizer_create(p, &cfg, &opt), optcl_context_message(ctx));
    float w[37], g[37], out[37];
    uint64_t seed = 7;
    tu_fill_random(w, 37, &seed, -1.0f, 1.0f);
    tu_fill_random(g, 37, &seed, -1.0f, 1.0f);
    TU_OK(optcl_params_write(p, OPTCL_ROLE_PARAMS, 0, w, 37), optcl_params_message(p));
    TU_OK(optcl_params_write(p, OPTCL_ROLE_GRADS, 0, g, 37), optcl_params_message(p));
    TU_OK(optcl_optimizer_step(opt, 0, NULL, NULL), optcl_optimizer_message(opt));
    TU_OK(optcl_context_finish(ctx), optcl_context_message(ctx));
    TU_OK(optcl_params_read(p, OPTCL_ROLE_PARAMS, 0, out, 37), optcl_params_message(p));
    for (int i = 0; i < 37; i++)
        if (out[i] != w[i] - 0.5f * g[i])
            fail_msg("element %d: %.9g, expected %.9g", i, out[i], w[i] - 0.5f * g[i]);
    assert_int_equal(optcl_optimizer_destroy(opt), OPTCL_SUCCESS);
    assert_int_equal(optcl_params_destroy(p), OPTCL_SUCCESS);
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);

    /* The caller's objects are as they were: still valid, with their own references only. */
    TU_AWAIT_EQUAL(context_refs(c), c_before);
    TU_AWAIT_EQUAL(queue_refs(q), q_before);
    assert_int_equal(clFinish(q), CL_SUCCESS);
    assert_int_equal(clReleaseCommandQueue(q), CL_SUCCESS);
    assert_int_equal(clReleaseContext(c), CL_SUCCESS);
}

static void test_wrap_refused(void **state)
{
    (void)state;
    cl_device_id dev = first_device();
    cl_int err = CL_SUCCESS;
    cl_context a = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_context b = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_command_queue qa = clCreateCommandQueue(a, dev, 0, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_command_queue qb = clCreateCommandQueue(b, dev, 0, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_uint a_refs = context_refs(a), qb_refs = queue_refs(qb);

    char msg[512] = "";
    optcl_context *ctx = (optcl_context *)&msg;
    assert_int_equal(optcl_context_wrap(a, dev, qb, &ctx, msg, sizeof msg),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_null(ctx);
    assert_true(msg[0] != '\0');

    cl_context cs[] = {NULL, a, a, a};
    cl_device_id ds[] = {dev, NULL, dev, dev};
    cl_command_queue qs[] = {qa, qa, NULL, qa};
    for (int i = 0; i < 4; i++) {
        optcl_context **out = i == 3 ? NULL : &ctx;
        msg[0] = '\0';
        assert_int_equal(optcl_context_wrap(cs[i], ds[i], qs[i], out, msg, sizeof msg),
                         OPTCL_ERROR_NULL_POINTER);
        assert_true(msg[0] != '\0');
    }
    assert_null(ctx);

    /* Refusals retain nothing. */
    assert_int_equal(context_refs(a), a_refs);
    assert_int_equal(queue_refs(qb), qb_refs);
    clReleaseCommandQueue(qa);
    clReleaseCommandQueue(qb);
    clReleaseContext(a);
    clReleaseContext(b);
}

static void test_wrap_out_of_order(void **state)
{
    (void)state;
    cl_device_id dev = first_device();
    cl_command_queue_properties supported = 0;
    assert_int_equal(
        clGetDeviceInfo(dev, CL_DEVICE_QUEUE_PROPERTIES, sizeof supported, &supported, NULL),
        CL_SUCCESS);
    if (!(supported & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE))
        skip(); /* the device has no out-of-order queues to refuse */
    cl_int err = CL_SUCCESS;
    cl_context a = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_command_queue qo =
        clCreateCommandQueue(a, dev, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_uint a_refs = context_refs(a), qo_refs = queue_refs(qo);
    char msg[512] = "";
    optcl_context *ctx = (optcl_context *)&msg;
    assert_int_equal(optcl_context_wrap(a, dev, qo, &ctx, msg, sizeof msg),
                     OPTCL_ERROR_UNSUPPORTED);
    assert_null(ctx);
    assert_true(msg[0] != '\0');
    assert_int_equal(context_refs(a), a_refs);
    assert_int_equal(queue_refs(qo), qo_refs);
    clReleaseCommandQueue(qo);
    clReleaseContext(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_default_opencl, clear_env),
        cmocka_unit_test_setup(test_reference, clear_env),
        cmocka_unit_test_setup(test_vector_width, clear_env),
        cmocka_unit_test_setup(test_int8_layout, clear_env),
        cmocka_unit_test_setup(test_env_selection, clear_env),
        cmocka_unit_test_setup(test_env_no_match, clear_env),
        cmocka_unit_test_setup(test_default_choice_rule, clear_env),
        cmocka_unit_test_setup(test_config_beats_env, clear_env),
        cmocka_unit_test_setup(test_message_buffer, clear_env),
        cmocka_unit_test(test_kernel_lookup),
        cmocka_unit_test_setup(test_destroy_in_use, clear_env),
        cmocka_unit_test_setup(test_wrap, clear_env),
        cmocka_unit_test_setup(test_wrap_refused, clear_env),
        cmocka_unit_test_setup(test_wrap_out_of_order, clear_env),
    };
    return cmocka_run_group_tests(tests, save_env, restore_env);
}
