/* mlp.c — the MLP's device side: builds the kernels of mlp_kernels.cl, owns the activation,
 * data, index and output buffers, and enqueues the forward and backward passes. */
#include "mlp.h"

#include "rng.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char fm_kernel_source[]; /* mlp_kernels.cl, embedded by embed_kernel.cmake */

/* Work per work-item of the products; the kernels' defaults (see mlp_kernels.cl). */
#define RM 4
#define RN 4
#define BM 8
#define BW 32

struct fm_model {
    optcl_context *ctx;
    cl_context cl;
    cl_command_queue queue; /* optcl's in-order queue: our kernels and its steps in order */
    size_t layers;
    unsigned sizes[FM_MAX_LAYERS + 1];
    size_t max_rows;
    optcl_dtype dtype; /* of the weights, biases, activations and their gradients */
    cl_program program;
    cl_kernel gather, forward, backward_input, backward_weight, bias_grad, softmax, widen;
    char names[2 * FM_MAX_LAYERS][32];
    optcl_params *params;
    cl_mem w[FM_MAX_LAYERS], b[FM_MAX_LAYERS];   /* parameter sub-buffers (the set owns them) */
    cl_mem gw[FM_MAX_LAYERS], gb[FM_MAX_LAYERS]; /* gradient sub-buffers (the set owns them) */
    cl_mem act[FM_MAX_LAYERS + 1];               /* [0] the gathered input, [l] layer l's output */
    cl_mem delta[FM_MAX_LAYERS + 1]; /* [l] the loss gradient at layer l's output (pre-ReLU) */
    cl_mem logits;                   /* the logits widened to float32, for reading them back */
    cl_mem images, labels;
    cl_mem loss_scale; /* the optimizer's (not ours), or NULL */
    size_t image_count;
    float mean, inv_std;
    cl_mem index[FM_SET_COUNT];
    size_t index_count[FM_SET_COUNT], index_capacity[FM_SET_COUNT];
    cl_mem loss, correct; /* per-sample outputs of a pass */
    size_t output_capacity;
    char message[2048];
};

static int fail(fm_model *m, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsnprintf(m->message, sizeof m->message, format, ap);
    va_end(ap);
    return 1;
}

/* OpenCL's codes pass through optcl unchanged, so optcl_status_name names them too. */
static int cl_check(fm_model *m, cl_int err, const char *what)
{
    if (err == CL_SUCCESS)
        return 0;
    return fail(m, "%s: %s", what, optcl_status_name((optcl_status)err));
}

static int buffer(fm_model *m, cl_mem *out, size_t bytes, const char *what)
{
    cl_int err = CL_SUCCESS;
    if (*out)
        clReleaseMemObject(*out);
    *out = clCreateBuffer(m->cl, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &err);
    if (err != CL_SUCCESS)
        *out = NULL;
    if (err == CL_SUCCESS)
        return 0;
    return fail(m, "clCreateBuffer (%s, %zu bytes): %s", what, bytes,
                optcl_status_name((optcl_status)err));
}

static int build(fm_model *m, cl_device_id device)
{
    cl_int err = CL_SUCCESS;
    const char *source = fm_kernel_source;
    m->program = clCreateProgramWithSource(m->cl, 1, &source, NULL, &err);
    if (cl_check(m, err, "clCreateProgramWithSource (mlp_kernels.cl)"))
        return 1;
    char options[32];
    snprintf(options, sizeof options, "-DPARAM_DTYPE=%d", (int)m->dtype);
    err = clBuildProgram(m->program, 1, &device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[1536] = "";
        clGetProgramBuildInfo(m->program, device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        return fail(m, "clBuildProgram (mlp_kernels.cl): %s\n%s",
                    optcl_status_name((optcl_status)err), log);
    }
    struct {
        cl_kernel *kernel;
        const char *name;
    } kernels[] = {{&m->gather, "fm_gather"},
                   {&m->forward, "fm_linear_forward"},
                   {&m->backward_input, "fm_linear_backward_input"},
                   {&m->backward_weight, "fm_linear_backward_weight"},
                   {&m->bias_grad, "fm_bias_grad"},
                   {&m->softmax, "fm_softmax_xent"},
                   {&m->widen, "fm_widen"}};
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
        *kernels[i].kernel = clCreateKernel(m->program, kernels[i].name, &err);
        if (err != CL_SUCCESS) {
            *kernels[i].kernel = NULL;
            return fail(m, "clCreateKernel (%s): %s", kernels[i].name,
                        optcl_status_name((optcl_status)err));
        }
    }
    return 0;
}

static int check_config(fm_model *m, const fm_model_config *c)
{
    if (c->layers < 1 || c->layers > FM_MAX_LAYERS)
        return fail(m, "layers = %zu: expected 1 … %d", c->layers, FM_MAX_LAYERS);
    for (size_t l = 0; l <= c->layers; l++)
        if (c->sizes[l] < 1 || c->sizes[l] > (1u << 20))
            return fail(m, "sizes[%zu] = %u: expected 1 … 2^20", l, c->sizes[l]);
    if (c->sizes[c->layers] > 256)
        return fail(m, "%u classes: labels are bytes, so at most 256", c->sizes[c->layers]);
    if (c->max_rows < 1 || c->max_rows > (1u << 24))
        return fail(m, "max_rows = %zu: expected 1 … 2^24", c->max_rows);
    if (!optcl_dtype_name(c->dtype))
        return fail(m, "dtype = %d: expected f32, bf16 or f16", (int)c->dtype);
    return 0;
}

static int create_params(fm_model *m)
{
    optcl_tensor_spec specs[2 * FM_MAX_LAYERS];
    for (size_t l = 0; l < m->layers; l++) {
        /* Group 1 holds the biases, which get no weight decay. */
        snprintf(m->names[2 * l], sizeof m->names[0], "fc%zu.weight", l + 1);
        snprintf(m->names[2 * l + 1], sizeof m->names[0], "fc%zu.bias", l + 1);
        specs[2 * l] = (optcl_tensor_spec){.name = m->names[2 * l],
                                           .ndim = 2,
                                           .shape = {m->sizes[l + 1], m->sizes[l]},
                                           .group = 0};
        specs[2 * l + 1] = (optcl_tensor_spec){
            .name = m->names[2 * l + 1], .ndim = 1, .shape = {m->sizes[l + 1]}, .group = 1};
    }
    optcl_status st =
        optcl_params_create_typed(m->ctx, specs, 2 * m->layers, m->dtype, &m->params);
    if (st != OPTCL_SUCCESS)
        return fail(m, "optcl_params_create_typed: %s: %s", optcl_status_name(st),
                    optcl_context_message(m->ctx));
    /* Our kernels read the weights and write the gradients through per-tensor sub-buffers. */
    for (size_t l = 0; l < m->layers; l++) {
        cl_mem *slots[4] = {&m->w[l], &m->b[l], &m->gw[l], &m->gb[l]};
        for (int s = 0; s < 4; s++) {
            st = optcl_params_buffer(m->params, s < 2 ? OPTCL_ROLE_PARAMS : OPTCL_ROLE_GRADS,
                                     2 * l + (size_t)(s % 2), slots[s]);
            if (st != OPTCL_SUCCESS)
                return fail(m, "optcl_params_buffer (%s): %s: %s", m->names[2 * l + s % 2],
                            optcl_status_name(st), optcl_params_message(m->params));
        }
    }
    return 0;
}

int fm_model_create(optcl_context *ctx, const fm_model_config *config, fm_model **out,
                    char *message, size_t message_size)
{
    *out = NULL;
    fm_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(message, message_size, "out of host memory");
        return 1;
    }
    m->ctx = ctx;
    int rc = check_config(m, config);
    if (!rc && optcl_context_backend(ctx) != OPTCL_BACKEND_OPENCL)
        rc = fail(m,
                  "the model's kernels need an OpenCL device, but the context is %s "
                  "(OPTCL_DEVICE=reference?)",
                  optcl_context_device_name(ctx));
    if (!rc) {
        m->layers = config->layers;
        memcpy(m->sizes, config->sizes, sizeof m->sizes);
        m->max_rows = config->max_rows;
        m->dtype = config->dtype;
        m->cl = optcl_context_cl_context(ctx);
        m->queue = optcl_context_cl_queue(ctx);
        m->mean = 0.0f;
        m->inv_std = 1.0f;
        rc = build(m, optcl_context_cl_device(ctx));
    }
    if (!rc)
        rc = create_params(m);
    for (size_t l = 0; !rc && l <= m->layers; l++) { /* in the parameters' type */
        size_t bytes = m->max_rows * m->sizes[l] * optcl_dtype_size(m->dtype);
        rc = buffer(m, &m->act[l], bytes, "activations");
        if (!rc && l > 0)
            rc = buffer(m, &m->delta[l], bytes, "activation gradients");
    }
    if (!rc)
        rc = buffer(m, &m->logits, m->max_rows * m->sizes[m->layers] * sizeof(float),
                    "logits");
    if (rc) {
        snprintf(message, message_size, "%s", m->message);
        fm_model_destroy(m);
        return 1;
    }
    *out = m;
    return 0;
}

optcl_status fm_model_destroy(fm_model *m)
{
    if (!m)
        return OPTCL_SUCCESS;
    /* First, so that a refusal (an optimizer still uses the set) leaves the model whole. */
    optcl_status st = optcl_params_destroy(m->params);
    if (st != OPTCL_SUCCESS)
        return st;
    cl_mem mems[] = {m->images,   m->labels,   m->loss,     m->correct,
                     m->index[0], m->index[1], m->index[2], m->logits};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
    for (size_t l = 0; l <= FM_MAX_LAYERS; l++) {
        if (m->act[l])
            clReleaseMemObject(m->act[l]);
        if (m->delta[l])
            clReleaseMemObject(m->delta[l]);
    }
    cl_kernel kernels[] = {m->gather,    m->forward, m->backward_input, m->backward_weight,
                           m->bias_grad, m->softmax, m->widen};
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        if (kernels[i])
            clReleaseKernel(kernels[i]);
    if (m->program)
        clReleaseProgram(m->program);
    free(m);
    return OPTCL_SUCCESS;
}

optcl_params *fm_model_params(fm_model *m)
{
    return m->params;
}

size_t fm_model_parameter_count(const fm_model *m)
{
    return optcl_params_numel(m->params);
}

const char *fm_model_message(const fm_model *m)
{
    return m->message;
}

int fm_model_init_params(fm_model *m, uint64_t seed)
{
    fm_rng rng = fm_rng_seed(seed, 3);
    for (size_t l = 0; l < m->layers; l++) {
        size_t fan_in = m->sizes[l], out = m->sizes[l + 1];
        /* kaiming_uniform_(a=√5) and the bias rule of nn.Linear both give ±1/√fan_in. */
        double bound = 1.0 / sqrt((double)fan_in);
        float *w = malloc(out * fan_in * sizeof *w), *b = malloc(out * sizeof *b);
        if (!w || !b) {
            free(w);
            free(b);
            return fail(m, "out of host memory");
        }
        for (size_t i = 0; i < out * fan_in; i++)
            w[i] = (float)((2.0 * fm_rng_uniform(&rng) - 1.0) * bound);
        for (size_t i = 0; i < out; i++)
            b[i] = (float)((2.0 * fm_rng_uniform(&rng) - 1.0) * bound);
        optcl_status st = optcl_params_write(m->params, OPTCL_ROLE_PARAMS, 2 * l, w, out * fan_in);
        if (st == OPTCL_SUCCESS)
            st = optcl_params_write(m->params, OPTCL_ROLE_PARAMS, 2 * l + 1, b, out);
        free(w);
        free(b);
        if (st != OPTCL_SUCCESS)
            return fail(m, "optcl_params_write: %s: %s", optcl_status_name(st),
                        optcl_params_message(m->params));
    }
    return 0;
}

int fm_model_alloc_data(fm_model *m, size_t count, float mean, float std)
{
    if (!(std > 0.0f) || !isfinite(mean))
        return fail(m, "normalisation mean %g, std %g: std must be positive", mean, std);
    m->mean = mean;
    m->inv_std = 1.0f / std;
    m->image_count = count;
    if (buffer(m, &m->images, count * m->sizes[0], "images"))
        return 1;
    return buffer(m, &m->labels, count, "labels");
}

int fm_model_write_data(fm_model *m, size_t first, const uint8_t *pixels, const uint8_t *labels,
                        size_t n)
{
    if (first + n > m->image_count)
        return fail(m, "images %zu … %zu: only %zu allocated", first, first + n, m->image_count);
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= m->sizes[m->layers])
            return fail(m, "image %zu has label %u, but the model has %u classes", first + i,
                        labels[i], m->sizes[m->layers]);
    size_t f = m->sizes[0];
    cl_int err =
        clEnqueueWriteBuffer(m->queue, m->images, CL_TRUE, first * f, n * f, pixels, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueWriteBuffer(m->queue, m->labels, CL_TRUE, first, n, labels, 0, NULL, NULL);
    return cl_check(m, err, "uploading the data set");
}

int fm_model_set_index(fm_model *m, fm_set set, const uint32_t *index, size_t n)
{
    if ((unsigned)set >= FM_SET_COUNT)
        return fail(m, "index set %d does not exist", (int)set);
    for (size_t i = 0; i < n; i++)
        if (index[i] >= m->image_count)
            return fail(m, "index[%zu] = %u, but only %zu images are uploaded", i, index[i],
                        m->image_count);
    if (n > m->index_capacity[set]) {
        if (buffer(m, &m->index[set], n * sizeof(cl_uint), "index set"))
            return 1;
        m->index_capacity[set] = n;
    }
    if (n > m->output_capacity) {
        if (buffer(m, &m->loss, n * sizeof(cl_float), "per-sample losses") ||
            buffer(m, &m->correct, n * sizeof(cl_uint), "per-sample hits"))
            return 1;
        m->output_capacity = n;
    }
    m->index_count[set] = n;
    cl_int err = n ? clEnqueueWriteBuffer(m->queue, m->index[set], CL_TRUE, 0, n * sizeof(cl_uint),
                                          index, 0, NULL, NULL)
                   : CL_SUCCESS;
    return cl_check(m, err, "uploading an index set");
}

#define SET_ARG(kernel, i, value)                                                                  \
    if (err == CL_SUCCESS)                                                                         \
    err = clSetKernelArg(kernel, i, sizeof(value), &(value))

/* One launch; the queue is in order, so every launch sees the previous ones' results. */
static int launch(fm_model *m, cl_int err, cl_kernel kernel, const char *name, size_t gx, size_t gy)
{
    size_t global[2] = {gx, gy};
    if (err == CL_SUCCESS)
        err =
            clEnqueueNDRangeKernel(m->queue, kernel, gy ? 2 : 1, NULL, global, NULL, 0, NULL, NULL);
    return cl_check(m, err, name);
}

static size_t blocks(size_t n, size_t per)
{
    return (n + per - 1) / per;
}

/* Gather, forward through every layer, softmax cross-entropy. */
static int forward(fm_model *m, fm_set set, size_t first, size_t rows, int write_grad)
{
    if ((unsigned)set >= FM_SET_COUNT || !m->index[set] || !m->images)
        return fail(m, "index set %d or the data set is not uploaded", (int)set);
    if (rows < 1 || rows > m->max_rows || first + rows > m->index_count[set])
        return fail(m, "rows %zu … %zu of an index set of %zu (at most %zu per pass)", first,
                    first + rows, m->index_count[set], m->max_rows);
    cl_int err = CL_SUCCESS;
    cl_uint f = (cl_uint)first, r = (cl_uint)rows, features = m->sizes[0];
    SET_ARG(m->gather, 0, m->images);
    SET_ARG(m->gather, 1, m->index[set]);
    SET_ARG(m->gather, 2, f);
    SET_ARG(m->gather, 3, r);
    SET_ARG(m->gather, 4, features);
    SET_ARG(m->gather, 5, m->mean);
    SET_ARG(m->gather, 6, m->inv_std);
    SET_ARG(m->gather, 7, m->act[0]);
    if (launch(m, err, m->gather, "fm_gather", features, rows))
        return 1;
    for (size_t l = 0; l < m->layers; l++) {
        cl_uint n = m->sizes[l + 1], k = m->sizes[l];
        cl_int relu = l + 1 < m->layers; /* no ReLU on the logits */
        SET_ARG(m->forward, 0, m->act[l]);
        SET_ARG(m->forward, 1, m->w[l]);
        SET_ARG(m->forward, 2, m->b[l]);
        SET_ARG(m->forward, 3, m->act[l + 1]);
        SET_ARG(m->forward, 4, r);
        SET_ARG(m->forward, 5, n);
        SET_ARG(m->forward, 6, k);
        SET_ARG(m->forward, 7, relu);
        if (launch(m, err, m->forward, "fm_linear_forward", blocks(n, RN), blocks(rows, RM)))
            return 1;
    }
    cl_uint classes = m->sizes[m->layers];
    cl_float scale = 1.0f / (cl_float)rows;
    cl_int grad = write_grad;
    SET_ARG(m->softmax, 0, m->act[m->layers]);
    SET_ARG(m->softmax, 1, m->labels);
    SET_ARG(m->softmax, 2, m->index[set]);
    SET_ARG(m->softmax, 3, f);
    SET_ARG(m->softmax, 4, r);
    SET_ARG(m->softmax, 5, classes);
    SET_ARG(m->softmax, 6, scale);
    SET_ARG(m->softmax, 7, grad);
    SET_ARG(m->softmax, 8, m->delta[m->layers]);
    SET_ARG(m->softmax, 9, m->loss);
    SET_ARG(m->softmax, 10, m->correct);
    SET_ARG(m->softmax, 11, m->loss_scale);
    return launch(m, err, m->softmax, "fm_softmax_xent", rows, 0);
}

void fm_model_set_loss_scale(fm_model *m, cl_mem scale)
{
    m->loss_scale = scale;
}

int fm_model_forward(fm_model *m, fm_set set, size_t first, size_t rows)
{
    return forward(m, set, first, rows, 0);
}

int fm_model_train_batch(fm_model *m, fm_set set, size_t first, size_t rows)
{
    if (forward(m, set, first, rows, 1))
        return 1;
    cl_int err = CL_SUCCESS;
    cl_uint r = (cl_uint)rows;
    for (size_t l = m->layers; l-- > 0;) {
        cl_uint out = m->sizes[l + 1], in = m->sizes[l];
        /* dW = δᵀ·x and db = Σ δ, straight into optcl's gradient sub-buffers. */
        SET_ARG(m->backward_weight, 0, m->delta[l + 1]);
        SET_ARG(m->backward_weight, 1, m->act[l]);
        SET_ARG(m->backward_weight, 2, m->gw[l]);
        SET_ARG(m->backward_weight, 3, out);
        SET_ARG(m->backward_weight, 4, in);
        SET_ARG(m->backward_weight, 5, r);
        if (launch(m, err, m->backward_weight, "fm_linear_backward_weight", blocks(in, BW),
                   blocks(out, BM)))
            return 1;
        SET_ARG(m->bias_grad, 0, m->delta[l + 1]);
        SET_ARG(m->bias_grad, 1, m->gb[l]);
        SET_ARG(m->bias_grad, 2, r);
        SET_ARG(m->bias_grad, 3, out);
        if (launch(m, err, m->bias_grad, "fm_bias_grad", out, 0))
            return 1;
        if (l == 0)
            break; /* nobody needs the gradient of the input images */
        SET_ARG(m->backward_input, 0, m->delta[l + 1]);
        SET_ARG(m->backward_input, 1, m->w[l]);
        SET_ARG(m->backward_input, 2, m->act[l]);
        SET_ARG(m->backward_input, 3, m->delta[l]);
        SET_ARG(m->backward_input, 4, r);
        SET_ARG(m->backward_input, 5, in);
        SET_ARG(m->backward_input, 6, out);
        if (launch(m, err, m->backward_input, "fm_linear_backward_input", blocks(in, BW),
                   blocks(rows, BM)))
            return 1;
    }
    return 0;
}

int fm_model_read_outputs(fm_model *m, size_t first, size_t n, double *loss_sum, size_t *correct)
{
    if (first + n > m->output_capacity)
        return fail(m, "outputs %zu … %zu: only %zu exist", first, first + n, m->output_capacity);
    float *loss = malloc((n ? n : 1) * sizeof *loss);
    cl_uint *hit = malloc((n ? n : 1) * sizeof *hit);
    cl_int err = loss && hit ? CL_SUCCESS : CL_OUT_OF_HOST_MEMORY;
    if (err == CL_SUCCESS && n)
        err = clEnqueueReadBuffer(m->queue, m->loss, CL_TRUE, first * sizeof *loss,
                                  n * sizeof *loss, loss, 0, NULL, NULL);
    if (err == CL_SUCCESS && n)
        err = clEnqueueReadBuffer(m->queue, m->correct, CL_TRUE, first * sizeof *hit,
                                  n * sizeof *hit, hit, 0, NULL, NULL);
    double sum = 0.0;
    size_t hits = 0;
    for (size_t i = 0; err == CL_SUCCESS && i < n; i++) {
        sum += loss[i];
        hits += hit[i];
    }
    free(loss);
    free(hit);
    *loss_sum = sum;
    *correct = hits;
    return cl_check(m, err, "reading the per-sample losses");
}

int fm_model_read_logits(fm_model *m, size_t rows, float *out)
{
    if (rows > m->max_rows)
        return fail(m, "%zu rows of logits: at most %zu exist", rows, m->max_rows);
    cl_uint n = (cl_uint)(rows * m->sizes[m->layers]);
    size_t global = n ? n : 1;
    cl_int err = clSetKernelArg(m->widen, 0, sizeof(cl_mem), &m->act[m->layers]);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(m->widen, 1, sizeof(cl_mem), &m->logits);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(m->widen, 2, sizeof n, &n);
    if (err == CL_SUCCESS)
        err = clEnqueueNDRangeKernel(m->queue, m->widen, 1, NULL, &global, NULL, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueReadBuffer(m->queue, m->logits, CL_TRUE, 0, n * sizeof(float), out, 0,
                                  NULL, NULL);
    return cl_check(m, err, "reading the logits");
}

int fm_model_evaluate(fm_model *m, fm_set set, size_t n, double *loss, double *accuracy)
{
    for (size_t first = 0; first < n; first += m->max_rows) {
        size_t rows = n - first < m->max_rows ? n - first : m->max_rows;
        if (fm_model_forward(m, set, first, rows))
            return 1;
    }
    double sum = 0.0;
    size_t hits = 0;
    if (fm_model_read_outputs(m, 0, n, &sum, &hits))
        return 1;
    *loss = n ? sum / (double)n : 0.0;
    *accuracy = n ? (double)hits / (double)n : 0.0;
    return 0;
}
