/* test_model.c — ctest sample_fashion_mnist_model: the sample's kernels against a plain C
 * computation in double (logits, loss, hits, every gradient) on small and odd sizes and on the
 * real 784-256-10 shape, the reference's gradients against central finite differences, and
 * the model's error paths. */
#include "testutil.h"

#include "mlp.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Device against the double reference: |d − e| ≤ TOL·(max|e| over the tensor + |e|). Float32
 * sums of K ≤ 784 products carry a relative error of at most K·2⁻²⁴ ≈ 5e-5 of the sum of the
 * magnitudes (typically √K·2⁻²⁴ ≈ 2e-6), and the gradients pass through two or three such
 * sums; 2e-4 of the tensor's scale covers that worst case. */
#define TOL 2e-4
/* The double reference against central differences (h = 1e-6): the truncation error is
 * O(h²·curvature) and the cancellation error O(1e-16/h) ≈ 1e-10; both are far below 1e-6. */
#define FD_H 1e-6
#define FD_TOL 1e-6

typedef struct shape {
    size_t layers;
    unsigned sizes[FM_MAX_LAYERS + 1];
    size_t rows, first, images, fd_per_tensor;
    optcl_dtype dtype; /* the weights, biases and gradients; 0: float32 */
} shape;

typedef struct host_model {
    const shape *s;
    double *w[FM_MAX_LAYERS], *b[FM_MAX_LAYERS];
    double *x;        /* rows × inputs, normalised as the kernel does */
    const uint8_t *y; /* rows labels */
} host_model;

static const float MEAN = 0.3f, STD = 0.35f;

/* v as the device stores an activation or its gradient: in double for float32 sets (the
 * reference stays exact there), else rounded to float32 and then to the set's type. */
static double stored(double v, optcl_dtype dtype)
{
    float f = (float)v;
    if (dtype == OPTCL_DTYPE_BF16)
        return tu_float((uint32_t)tu_bf16_bits(f) << 16);
    if (dtype == OPTCL_DTYPE_F16)
        return (double)(_Float16)f;
    return v;
}

/* Forward in double: returns the mean loss; logits (rows × classes) and the activations of
 * every layer (act[l], rows × sizes[l]) are kept when the arrays are given. */
static double host_forward(const host_model *h, double **act, double *logits, size_t *hits)
{
    const shape *s = h->s;
    double *cur = malloc(s->rows * s->sizes[0] * sizeof *cur);
    memcpy(cur, h->x, s->rows * s->sizes[0] * sizeof *cur);
    if (act)
        memcpy(act[0], cur, s->rows * s->sizes[0] * sizeof *cur);
    for (size_t l = 0; l < s->layers; l++) {
        size_t in = s->sizes[l], out = s->sizes[l + 1];
        double *next = malloc(s->rows * out * sizeof *next);
        for (size_t r = 0; r < s->rows; r++)
            for (size_t o = 0; o < out; o++) {
                double z = h->b[l][o];
                for (size_t k = 0; k < in; k++)
                    z += cur[r * in + k] * h->w[l][o * in + k];
                next[r * out + o] = stored(l + 1 < s->layers && z < 0.0 ? 0.0 : z, s->dtype);
            }
        free(cur);
        cur = next;
        if (act)
            memcpy(act[l + 1], cur, s->rows * out * sizeof *cur);
    }
    size_t classes = s->sizes[s->layers];
    double loss = 0.0;
    size_t right = 0;
    for (size_t r = 0; r < s->rows; r++) {
        const double *z = cur + r * classes;
        size_t arg = 0;
        for (size_t c = 1; c < classes; c++)
            if (z[c] > z[arg])
                arg = c;
        double sum = 0.0;
        for (size_t c = 0; c < classes; c++)
            sum += exp(z[c] - z[arg]);
        loss += z[arg] + log(sum) - z[h->y[r]];
        right += arg == h->y[r];
    }
    if (logits)
        memcpy(logits, cur, s->rows * classes * sizeof *cur);
    if (hits)
        *hits = right;
    free(cur);
    return loss / (double)s->rows;
}

/* Backward in double: gw[l], gb[l] of the mean loss. */
static void host_backward(const host_model *h, double **gw, double **gb)
{
    const shape *s = h->s;
    double *act[FM_MAX_LAYERS + 1];
    for (size_t l = 0; l <= s->layers; l++)
        act[l] = malloc(s->rows * s->sizes[l] * sizeof(double));
    host_forward(h, act, NULL, NULL);
    size_t classes = s->sizes[s->layers];
    double *delta = malloc(s->rows * classes * sizeof *delta);
    for (size_t r = 0; r < s->rows; r++) {
        const double *z = act[s->layers] + r * classes;
        double top = z[0], sum = 0.0;
        for (size_t c = 1; c < classes; c++)
            top = fmax(top, z[c]);
        for (size_t c = 0; c < classes; c++)
            sum += exp(z[c] - top);
        for (size_t c = 0; c < classes; c++)
            delta[r * classes + c] = stored(
                (exp(z[c] - top) / sum - (c == h->y[r] ? 1.0 : 0.0)) / (double)s->rows, s->dtype);
    }
    for (size_t l = s->layers; l-- > 0;) {
        size_t in = s->sizes[l], out = s->sizes[l + 1];
        for (size_t o = 0; o < out; o++) {
            gb[l][o] = 0.0;
            for (size_t k = 0; k < in; k++)
                gw[l][o * in + k] = 0.0;
            for (size_t r = 0; r < s->rows; r++) {
                gb[l][o] += delta[r * out + o];
                for (size_t k = 0; k < in; k++)
                    gw[l][o * in + k] += delta[r * out + o] * act[l][r * in + k];
            }
        }
        if (l == 0)
            break;
        double *prev = calloc(s->rows * in, sizeof *prev);
        for (size_t r = 0; r < s->rows; r++)
            for (size_t k = 0; k < in; k++) {
                double v = 0.0;
                for (size_t o = 0; o < out; o++)
                    v += delta[r * out + o] * h->w[l][o * in + k];
                prev[r * in + k] = stored(act[l][r * in + k] > 0.0 ? v : 0.0, s->dtype);
            }
        free(delta);
        delta = prev;
    }
    free(delta);
    for (size_t l = 0; l <= s->layers; l++)
        free(act[l]);
}

/* |d − e| ≤ TOL·(scale + |e|) + rounded everywhere, scale being the largest |e| and rounded
 * what storing e in the gradients' type may add: half a unit in its last place, 2^-8·|e| for
 * bfloat16 (8 significant bits) and 2^-11·|e| + 2^-25 for float16 (11 bits, subnormals). */
static void expect_close_as(const char *what, const float *d, const double *e, size_t n,
                            optcl_dtype dtype)
{
    double rel = dtype == OPTCL_DTYPE_BF16 ? 0x1p-8 : dtype == OPTCL_DTYPE_F16 ? 0x1p-11 : 0.0;
    double abs = dtype == OPTCL_DTYPE_F16 ? 0x1p-25 : 0.0;
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(e[i]));
    for (size_t i = 0; i < n; i++)
        if (!(fabs(d[i] - e[i]) <= TOL * (scale + fabs(e[i])) + rel * fabs(e[i]) + abs))
            fail_msg("%s[%zu]: device %.9g, reference %.9g (scale %.3g, tolerance %.3g)", what, i,
                     d[i], e[i], scale, TOL * (scale + fabs(e[i])));
}

static void check_shape(const shape *s)
{
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    fm_model_config mc = {.layers = s->layers, .max_rows = s->rows + 5, .dtype = s->dtype};
    memcpy(mc.sizes, s->sizes, sizeof mc.sizes);
    fm_model *m = NULL;
    char msg[2048];
    if (fm_model_create(ctx, &mc, &m, msg, sizeof msg))
        fail_msg("fm_model_create: %s", msg);

    /* Random images and labels; the batch is rows [first, first + rows) of a shuffled index,
     * so the gather through the index and the offset are part of what is checked. */
    size_t in = s->sizes[0], classes = s->sizes[s->layers];
    fm_rng rng = fm_rng_seed(42, s->rows);
    uint8_t *pixels = malloc(s->images * in), *labels = malloc(s->images);
    for (size_t i = 0; i < s->images * in; i++)
        pixels[i] = (uint8_t)fm_rng_below(&rng, 256);
    for (size_t i = 0; i < s->images; i++)
        labels[i] = (uint8_t)fm_rng_below(&rng, classes);
    uint32_t *index = malloc(s->images * sizeof *index);
    for (size_t i = 0; i < s->images; i++)
        index[i] = (uint32_t)i;
    fm_shuffle(&rng, index, s->images);
    if (fm_model_alloc_data(m, s->images, MEAN, STD) ||
        fm_model_write_data(m, 0, pixels, labels, s->images) ||
        fm_model_set_index(m, FM_SET_TRAIN, index, s->images) || fm_model_init_params(m, 7) ||
        fm_model_train_batch(m, FM_SET_TRAIN, s->first, s->rows))
        fail_msg("%s", fm_model_message(m));

    host_model h = {.s = s};
    h.x = malloc(s->rows * in * sizeof *h.x);
    uint8_t *y = malloc(s->rows);
    for (size_t r = 0; r < s->rows; r++) {
        uint32_t img = index[s->first + r];
        y[r] = labels[img];
        for (size_t k = 0; k < in; k++) /* the kernel's float arithmetic, exactly */
            h.x[r * in + k] = stored(
                ((float)pixels[(size_t)img * in + k] * (1.0f / 255.0f) - MEAN) * (1.0f / STD),
                s->dtype);
    }
    h.y = y;
    optcl_params *params = fm_model_params(m);
    double *gw[FM_MAX_LAYERS], *gb[FM_MAX_LAYERS];
    float *dev_gw[FM_MAX_LAYERS], *dev_gb[FM_MAX_LAYERS];
    for (size_t l = 0; l < s->layers; l++) {
        size_t nw = (size_t)s->sizes[l + 1] * s->sizes[l], nb = s->sizes[l + 1];
        float *fw = malloc(nw * sizeof *fw), *fb = malloc(nb * sizeof *fb);
        dev_gw[l] = malloc(nw * sizeof(float));
        dev_gb[l] = malloc(nb * sizeof(float));
        TU_OK(optcl_params_read(params, OPTCL_ROLE_PARAMS, 2 * l, fw, nw), "");
        TU_OK(optcl_params_read(params, OPTCL_ROLE_PARAMS, 2 * l + 1, fb, nb), "");
        TU_OK(optcl_params_read(params, OPTCL_ROLE_GRADS, 2 * l, dev_gw[l], nw), "");
        TU_OK(optcl_params_read(params, OPTCL_ROLE_GRADS, 2 * l + 1, dev_gb[l], nb), "");
        h.w[l] = malloc(nw * sizeof(double));
        h.b[l] = malloc(nb * sizeof(double));
        gw[l] = malloc(nw * sizeof(double));
        gb[l] = malloc(nb * sizeof(double));
        /* nn.Linear's initialisation, stored in the set's type (rounding may add half an ulp) */
        double bound = 1.0 / sqrt((double)s->sizes[l]) *
                       (1.0 + (s->dtype == OPTCL_DTYPE_BF16  ? 0x1p-8
                               : s->dtype == OPTCL_DTYPE_F16 ? 0x1p-11
                                                             : 0.0));
        for (size_t i = 0; i < nw; i++) {
            h.w[l][i] = fw[i];
            assert_true(fabs(fw[i]) <= bound);
        }
        for (size_t i = 0; i < nb; i++) {
            h.b[l][i] = fb[i];
            assert_true(fabs(fb[i]) <= bound);
        }
        free(fw);
        free(fb);
    }

    /* Logits, loss and hits. */
    double *logits = malloc(s->rows * classes * sizeof *logits);
    float *dev_logits = malloc(s->rows * classes * sizeof *dev_logits);
    size_t hits = 0, dev_hits = 0;
    double loss = host_forward(&h, NULL, logits, &hits), dev_sum = 0.0;
    if (fm_model_read_logits(m, s->rows, dev_logits) ||
        fm_model_read_outputs(m, s->first, s->rows, &dev_sum, &dev_hits))
        fail_msg("%s", fm_model_message(m));
    expect_close_as("logits", dev_logits, logits, s->rows * classes, s->dtype);
    double dev_loss = dev_sum / (double)s->rows;
    if (!(fabs(dev_loss - loss) <= TOL * (1.0 + loss)))
        fail_msg("mean loss: device %.9g, reference %.9g", dev_loss, loss);
    assert_int_equal(dev_hits, hits);

    /* Every gradient, and the evaluation pass gives the same outputs as the training pass. */
    host_backward(&h, gw, gb);
    char what[64];
    for (size_t l = 0; l < s->layers; l++) {
        snprintf(what, sizeof what, "fc%zu.weight grad", l + 1);
        expect_close_as(what, dev_gw[l], gw[l], (size_t)s->sizes[l + 1] * s->sizes[l], s->dtype);
        snprintf(what, sizeof what, "fc%zu.bias grad", l + 1);
        expect_close_as(what, dev_gb[l], gb[l], s->sizes[l + 1], s->dtype);
    }
    double eval_sum = 0.0;
    size_t eval_hits = 0;
    if (fm_model_forward(m, FM_SET_TRAIN, s->first, s->rows) ||
        fm_model_read_outputs(m, s->first, s->rows, &eval_sum, &eval_hits))
        fail_msg("%s", fm_model_message(m));
    assert_true(eval_sum == dev_sum);
    assert_int_equal(eval_hits, dev_hits);

    /* The reference's gradient against central differences of its own loss, at a few entries
     * of every tensor (first, last and random ones), so the chain device = reference = the
     * derivative holds. */
    for (size_t l = 0; l < s->layers; l++)
        for (int bias = 0; bias < 2; bias++) {
            double *p = bias ? h.b[l] : h.w[l], *g = bias ? gb[l] : gw[l];
            size_t n = bias ? s->sizes[l + 1] : (size_t)s->sizes[l + 1] * s->sizes[l];
            double scale = 0.0;
            for (size_t i = 0; i < n; i++)
                scale = fmax(scale, fabs(g[i]));
            for (size_t j = 0; j < s->fd_per_tensor; j++) {
                size_t i = j == 0 ? 0 : j == 1 ? n - 1 : fm_rng_below(&rng, n);
                double keep = p[i];
                p[i] = keep + FD_H;
                double up = host_forward(&h, NULL, NULL, NULL);
                p[i] = keep - FD_H;
                double down = host_forward(&h, NULL, NULL, NULL);
                p[i] = keep;
                double fd = (up - down) / (2.0 * FD_H);
                if (!(fabs(fd - g[i]) <= FD_TOL * (scale + fabs(fd))))
                    fail_msg("fc%zu.%s[%zu]: analytic %.12g, finite difference %.12g", l + 1,
                             bias ? "bias" : "weight", i, g[i], fd);
            }
        }

    for (size_t l = 0; l < s->layers; l++) {
        free(h.w[l]);
        free(h.b[l]);
        free(gw[l]);
        free(gb[l]);
        free(dev_gw[l]);
        free(dev_gb[l]);
    }
    free(logits);
    free(dev_logits);
    free(h.x);
    free(y);
    free(pixels);
    free(labels);
    free(index);
    TU_OK(fm_model_destroy(m), "");
    TU_OK(optcl_context_destroy(ctx), "");
}

/* Odd sizes: every product has a tail in M, N and K (K < 16 too), one hidden layer. */
static void test_small_one_hidden(void **state)
{
    (void)state;
    shape s = {.layers = 2,
               .sizes = {37, 19, 5},
               .rows = 13,
               .first = 3,
               .images = 50,
               .fd_per_tensor = 6};
    check_shape(&s);
}

/* Two hidden layers: the backward pass to a hidden input (ReLU mask) runs, on partial blocks
 * (45 rows, 33 columns) and a K tail (70 = 4·16 + 6). */
static void test_two_hidden(void **state)
{
    (void)state;
    shape s = {.layers = 3,
               .sizes = {70, 45, 33, 10},
               .rows = 45,
               .first = 11,
               .images = 80,
               .fd_per_tensor = 5};
    check_shape(&s);
}

/* One row, as --mode sgd runs it. */
static void test_single_row(void **state)
{
    (void)state;
    shape s = {.layers = 2,
               .sizes = {37, 19, 5},
               .rows = 1,
               .first = 20,
               .images = 30,
               .fd_per_tensor = 4};
    check_shape(&s);
}

/* The real shape and batch: 784-256-10, 128 rows, whole register blocks throughout. */
static void test_fashion_mnist_shape(void **state)
{
    (void)state;
    shape s = {.layers = 2,
               .sizes = {784, 256, 10},
               .rows = 128,
               .first = 64,
               .images = 300,
               .fd_per_tensor = 2};
    check_shape(&s);
}

/* bfloat16 and float16 weights, activations and gradients (--param-dtype): the products read
 * the stored weights (which the reference reads back, exactly), and the reference rounds each
 * activation and activation gradient to the type where the kernels store them, on the odd shape
 * with two hidden layers. (No finite differences: the rounding makes the loss a step function
 * of the weights; the float32 shapes check the reference's gradients.) */
static void test_low_precision_params(void **state)
{
    (void)state;
    const optcl_dtype dtypes[] = {OPTCL_DTYPE_BF16, OPTCL_DTYPE_F16};
    for (size_t d = 0; d < 2; d++) {
        shape s = {.layers = 3,
                   .sizes = {70, 45, 33, 10},
                   .rows = 45,
                   .first = 11,
                   .images = 80,
                   .fd_per_tensor = 0,
                   .dtype = dtypes[d]};
        check_shape(&s);
    }
}

static void test_errors(void **state)
{
    (void)state;
    char msg[2048] = "";
    fm_model *m = NULL;
    fm_model_config mc = {.layers = 1, .sizes = {4, 3}, .max_rows = 8};
    optcl_context *ref = tu_context(OPTCL_BACKEND_REFERENCE);
    assert_int_equal(fm_model_create(ref, &mc, &m, msg, sizeof msg), 1);
    assert_null(m);
    assert_non_null(strstr(msg, "need an OpenCL device"));
    TU_OK(optcl_context_destroy(ref), "");

    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    fm_model_config bad = mc;
    bad.sizes[1] = 300; /* labels are bytes */
    assert_int_equal(fm_model_create(ctx, &bad, &m, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "300 classes"));
    if (fm_model_create(ctx, &mc, &m, msg, sizeof msg))
        fail_msg("fm_model_create: %s", msg);
    uint8_t pixels[4 * 4] = {0}, labels[4] = {0, 1, 2, 3};
    assert_int_equal(fm_model_alloc_data(m, 4, 0.5f, 0.0f), 1);
    assert_non_null(strstr(fm_model_message(m), "std must be positive"));
    assert_int_equal(fm_model_alloc_data(m, 4, 0.5f, 0.25f), 0);
    assert_int_equal(fm_model_write_data(m, 0, pixels, labels, 4), 1); /* label 3 ≥ 3 classes */
    assert_non_null(strstr(fm_model_message(m), "label 3"));
    labels[3] = 2;
    assert_int_equal(fm_model_write_data(m, 0, pixels, labels, 4), 0);
    uint32_t index[3] = {0, 4, 1};
    assert_int_equal(fm_model_set_index(m, FM_SET_TRAIN, index, 3), 1);
    assert_non_null(strstr(fm_model_message(m), "index[1] = 4"));
    index[1] = 3;
    assert_int_equal(fm_model_set_index(m, FM_SET_TRAIN, index, 3), 0);
    assert_int_equal(fm_model_train_batch(m, FM_SET_TRAIN, 2, 2), 1); /* past the index set */
    assert_int_equal(fm_model_forward(m, FM_SET_VALID, 0, 1), 1);     /* never uploaded */
    assert_int_equal(fm_model_train_batch(m, FM_SET_TRAIN, 0, 3), 0);
    TU_OK(optcl_context_finish(ctx), "");
    TU_OK(fm_model_destroy(m), "");
    TU_OK(optcl_context_destroy(ctx), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_one_hidden), cmocka_unit_test(test_two_hidden),
        cmocka_unit_test(test_single_row),       cmocka_unit_test(test_fashion_mnist_shape),
        cmocka_unit_test(test_low_precision_params), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
