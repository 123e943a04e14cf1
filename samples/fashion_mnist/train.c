/* train.c — the training procedure: load and split the data, upload it once, then epochs of
 * device-side batches and optimizer steps, validation, checkpoints, curves and the final test. */
#include "train.h"

#include "idx.h"
#include "plot.h"
#include "rng.h"
#include "stepper.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SYNC_ROWS 4096 /* rows between progress points: bounds how far the host runs ahead */

fm_train_config fm_train_config_default(void)
{
    fm_train_config c = {0};
    c.out_dir = "fashion_mnist_out";
    c.mode = FM_MODE_MINIBATCH;
    c.batch = 128;
    c.epochs = 10;
    c.hidden[0] = 256;
    c.hidden_count = 1;
    c.seed = 1;
    c.optimizer = optcl_optimizer_config_default(OPTCL_ADAM);
    c.optimizer_text = "adam";
    c.progress = -1;
    return c;
}

const char *fm_mode_name(fm_mode mode)
{
    return mode == FM_MODE_GD ? "gd" : mode == FM_MODE_SGD ? "sgd" : "minibatch";
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Everything one run owns, so that one cleanup frees it whatever failed. */
typedef struct run {
    const fm_train_config *cfg;
    FILE *out;
    char *message;
    size_t message_size;
    fm_images train, test;
    uint32_t *split; /* the 60 000 training images: [0, n_train) train, then valid */
    uint32_t *order; /* this epoch's shuffled training indices */
    size_t n_train, n_valid, n_test;
    double mean, std; /* of the training pixels, scaled to [0, 1] */
    optcl_context *ctx;
    fm_model *model;
    fm_stepper *stepper; /* the optimizer, its checkpoints, and the ranks when distributed */
    int rank, size;
    fm_epoch_point *points;
} run;

static int failf(run *r, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsnprintf(r->message, r->message_size, format, ap);
    va_end(ap);
    return 1;
}

static int model_failed(run *r, int rc)
{
    return rc ? failf(r, "%s", fm_model_message(r->model)) : 0;
}

static int optcl_failed(run *r, optcl_status st, const char *call, const char *detail)
{
    if (st == OPTCL_SUCCESS)
        return 0;
    return failf(r, "%s: %s: %s", call, optcl_status_name(st), detail);
}

/* mkdir -p */
static int make_dirs(run *r, const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        char c = *p;
        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return failf(r, "%s: cannot create the folder: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return failf(r, "%s: not a folder", path);
    return 0;
}

/* The images per step: the whole training split (gd), one (sgd) or the minibatch. */
static size_t batch_size(const fm_train_config *c, size_t n_train)
{
    size_t b = c->mode == FM_MODE_GD ? n_train : c->mode == FM_MODE_SGD ? 1 : c->batch;
    return b < n_train ? b : n_train;
}

/* Loads both files, splits 55 000 / 5 000 (seeded) and measures the training images' mean
 * and spread for the normalisation. Before any device work, so bad data fails fast. */
static int load_files(run *r, fm_model_config *mc)
{
    const char *dir = fm_data_dir(r->cfg->data_dir);
    if (fm_images_load(dir, "train", &r->train, r->message, r->message_size) ||
        fm_images_load(dir, "t10k", &r->test, r->message, r->message_size))
        return 1;
    if (r->test.rows != r->train.rows || r->test.cols != r->train.cols)
        return failf(r, "%s: test images are %zu × %zu, training images %zu × %zu", dir,
                     r->test.rows, r->test.cols, r->train.rows, r->train.cols);
    if (r->train.count <= FM_VALID_COUNT)
        return failf(r, "%s: %zu training images; the split needs more than %d", dir,
                     r->train.count, FM_VALID_COUNT);
    size_t all = r->train.count;
    r->n_valid = FM_VALID_COUNT;
    r->n_train = all - FM_VALID_COUNT;
    if (r->cfg->train_subset && r->cfg->train_subset < r->n_train)
        r->n_train = r->cfg->train_subset;
    r->n_test = r->test.count;
    r->split = malloc(all * sizeof *r->split);
    r->order = malloc(all * sizeof *r->order);
    if (!r->split || !r->order)
        return failf(r, "out of host memory");
    for (size_t i = 0; i < all; i++)
        r->split[i] = (uint32_t)i;
    fm_rng rng = fm_rng_seed(r->cfg->seed, 1);
    fm_shuffle(&rng, r->split, all);

    size_t features = r->train.rows * r->train.cols;
    uint64_t sum = 0, sum_sq = 0; /* exact: at most 55 000 · 784 · 255² */
    for (size_t i = 0; i < r->n_train; i++) {
        const uint8_t *p = r->train.pixels + (size_t)r->split[i] * features;
        for (size_t k = 0; k < features; k++) {
            sum += p[k];
            sum_sq += (uint64_t)p[k] * p[k];
        }
    }
    double n = (double)r->n_train * (double)features;
    double mean = (double)sum / n / 255.0;
    double std = sqrt(fmax((double)sum_sq / n / (255.0 * 255.0) - mean * mean, 1e-12));
    mc->sizes[0] = (unsigned)features;
    size_t batch = batch_size(r->cfg, r->n_train);
    mc->max_rows = batch > FM_EVAL_ROWS ? batch : FM_EVAL_ROWS;
    r->mean = mean;
    r->std = std;
    fprintf(r->out,
            "data: %s: %zu train, %zu valid (split seed %llu), %zu test; pixels "
            "normalised with mean %.4f, std %.4f\n",
            dir, r->n_train, r->n_valid, (unsigned long long)r->cfg->seed, r->n_test, mean, std);
    return 0;
}

/* Creates the model and uploads all images once, with the fixed valid and test index sets. */
static int upload(run *r, const fm_model_config *mc)
{
    size_t all = r->train.count;
    char msg[2048] = "";
    if (fm_model_create(r->ctx, mc, &r->model, msg, sizeof msg))
        return failf(r, "creating the model: %s", msg);
    int rc = fm_model_alloc_data(r->model, all + r->n_test, (float)r->mean, (float)r->std) ||
             fm_model_write_data(r->model, 0, r->train.pixels, r->train.labels, all) ||
             fm_model_write_data(r->model, all, r->test.pixels, r->test.labels, r->n_test);
    if (model_failed(r, rc))
        return 1;
    /* The valid and test index sets never change: uploaded once. */
    uint32_t *test_index = malloc(r->n_test * sizeof *test_index);
    if (!test_index)
        return failf(r, "out of host memory");
    for (size_t i = 0; i < r->n_test; i++)
        test_index[i] = (uint32_t)(all + i);
    rc = fm_model_set_index(r->model, FM_SET_VALID, r->split + (all - r->n_valid), r->n_valid) ||
         fm_model_set_index(r->model, FM_SET_TEST, test_index, r->n_test);
    free(test_index);
    fm_images_free(&r->train); /* the device has them now */
    fm_images_free(&r->test);
    return model_failed(r, rc);
}

static int create_optimizer(run *r, size_t steps_per_epoch)
{
    optcl_optimizer_config oc = r->cfg->optimizer;
    /* Group 0 the weights, group 1 the biases: no weight decay on biases. */
    optcl_group_config groups[2] = {{.lr = -1, .weight_decay = -1},
                                    {.lr = -1, .weight_decay = 0.0}};
    oc.groups = groups;
    oc.group_count = 2;
    if (oc.schedule.kind == OPTCL_SCHEDULE_COSINE && oc.schedule.t_max == 0)
        oc.schedule.t_max = (int64_t)(steps_per_epoch * (size_t)r->cfg->epochs);
    if (make_dirs(r, r->cfg->out_dir))
        return 1;
    fm_stepper_config sc = {.dir = r->cfg->out_dir, .patience = r->cfg->patience};
    char msg[2048] = "";
    int rc = r->cfg->distributed
                 ? fm_stepper_create_distributed(fm_model_params(r->model), &oc, &sc, &r->stepper,
                                                 msg, sizeof msg)
                 : fm_stepper_create(fm_model_params(r->model), &oc, &sc, &r->stepper, msg,
                                     sizeof msg);
    if (rc)
        return failf(r, "%s", msg);
    r->rank = fm_stepper_rank(r->stepper);
    r->size = fm_stepper_size(r->stepper);
    fm_model_set_loss_scale(r->model, fm_stepper_loss_scale(r->stepper));
    return 0;
}

/* This rank's part [*first, *first + return) of a batch of rows (all of it in one process). */
static size_t my_part(const run *r, size_t rows, size_t *first)
{
    size_t lo = rows * (size_t)r->rank / (size_t)r->size;
    *first = lo;
    return rows * (size_t)(r->rank + 1) / (size_t)r->size - lo;
}

static int stepper_failed(run *r, optcl_status st)
{
    return st == OPTCL_SUCCESS ? 0 : failf(r, "%s", fm_stepper_message(r->stepper));
}

static void show_progress(run *r, int epoch, size_t done, double started)
{
    char bar[31];
    size_t fill = done * 30 / r->n_train;
    for (size_t i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(r->out, "\r  epoch %d [%s] %3zu%%  %zu/%zu images  %.1f s", epoch, bar,
            done * 100 / r->n_train, done, r->n_train, now() - started);
    fflush(r->out);
}

/* One epoch of training: the shuffled order goes up once, then every batch is gathered,
 * run forward and backward and stepped on the device. Nothing comes back per batch: the
 * host only waits, every SYNC_ROWS rows, for a marker enqueued one period earlier, so the
 * device never idles and the queue stays short. Distributed, every rank computes its part of
 * each batch and the sharded step (which blocks) averages the parts. */
static int train_epoch(run *r, int epoch, size_t batch, int progress, double *train_loss)
{
    memcpy(r->order, r->split, r->n_train * sizeof *r->order);
    fm_rng rng = fm_rng_seed(r->cfg->seed, 100 + (uint64_t)epoch);
    fm_shuffle(&rng, r->order, r->n_train);
    if (model_failed(r, fm_model_set_index(r->model, FM_SET_TRAIN, r->order, r->n_train)))
        return 1;
    cl_command_queue queue = optcl_context_cl_queue(r->ctx);
    size_t sync_every = batch >= SYNC_ROWS ? 1 : SYNC_ROWS / batch, batches = 0;
    cl_event pending = NULL;
    size_t pending_rows = 0;
    double started = now();
    int rc = 0;
    double totals[2] = {0.0, 0.0}; /* distributed: this rank's loss sum and hits */
    for (size_t first = 0; first < r->n_train && !rc; first += batch) {
        size_t rows = r->n_train - first < batch ? r->n_train - first : batch, at = 0;
        size_t mine = my_part(r, rows, &at);
        /* Our kernels and optcl's step share optcl's in-order queue: the step runs after the
         * backward pass has written the gradients and the next forward pass after the step,
         * without events. A rank without rows contributes zero gradients of weight 0. */
        rc = model_failed(r, mine ? fm_model_train_batch(r->model, FM_SET_TRAIN, first + at, mine)
                                  : 0);
        if (!rc && !mine)
            rc = optcl_failed(r, optcl_params_zero_grad(fm_model_params(r->model), 0, NULL, NULL),
                              "optcl_params_zero_grad", "");
        if (!rc)
            rc = stepper_failed(r, fm_stepper_step(r->stepper, mine));
        if (!rc && r->size > 1 && mine) {
            double sum = 0.0;
            size_t hits = 0;
            rc = model_failed(r, fm_model_read_outputs(r->model, first + at, mine, &sum, &hits));
            totals[0] += sum;
            totals[1] += (double)hits;
        }
        if (rc || ++batches % sync_every != 0)
            continue;
        cl_event marker = NULL;
        cl_int err = clEnqueueMarkerWithWaitList(queue, 0, NULL, &marker);
        if (err == CL_SUCCESS && pending)
            err = clWaitForEvents(1, &pending);
        if (pending)
            clReleaseEvent(pending);
        if (err != CL_SUCCESS) {
            if (marker)
                clReleaseEvent(marker);
            return failf(r, "waiting for the device: %s", optcl_status_name((optcl_status)err));
        }
        if (progress && pending_rows)
            show_progress(r, epoch, pending_rows, started);
        pending = marker;
        pending_rows = first + rows;
    }
    if (pending)
        clReleaseEvent(pending);
    if (progress)
        fprintf(r->out, "\r\033[K");
    if (rc)
        return 1;
    if (r->size > 1) {
        if (fm_stepper_sum(r->stepper, totals, 2))
            return failf(r, "summing the training loss over the ranks failed");
        *train_loss = totals[0] / (double)r->n_train;
        return 0;
    }
    double sum = 0.0;
    size_t hits = 0;
    if (model_failed(r, fm_model_read_outputs(r->model, 0, r->n_train, &sum, &hits)))
        return 1;
    *train_loss = sum / (double)r->n_train;
    return 0;
}

/* PoCL compiles a kernel for its work-group size at the first launch (seconds, without a
 * warm kernel cache). Training passes and an evaluation chunk on validation images before
 * the first epoch take that out of the epoch times; the gradients they leave are overwritten
 * by the first batch (the kernels write, never accumulate) and no step is taken. */
static int warm_up(run *r, size_t batch, double *seconds)
{
    double t0 = now();
    /* The full batches and the epoch's last, shorter one: other global sizes, other builds
     * (distributed: this rank's parts of them). */
    size_t at = 0, chunk = FM_EVAL_ROWS;
    size_t rows[2] = {my_part(r, batch, &at), my_part(r, r->n_train % batch, &at)};
    for (int i = 0; i < 2; i++)
        if (rows[i] && rows[i] <= r->n_valid &&
            model_failed(r, fm_model_train_batch(r->model, FM_SET_VALID, 0, rows[i])))
            return 1;
    if (model_failed(r, fm_model_forward(r->model, FM_SET_VALID, 0,
                                         chunk < r->n_valid ? chunk : r->n_valid)))
        return 1;
    optcl_status st = optcl_context_finish(r->ctx);
    *seconds = now() - t0;
    return optcl_failed(r, st, "optcl_context_finish", optcl_context_message(r->ctx));
}

static int test_checkpoint(run *r, int best, double *loss, double *accuracy)
{
    if (stepper_failed(r, fm_stepper_load(r->stepper, best)))
        return 1;
    /* a sharded load makes a new shard optimizer, and so a new loss-scale buffer */
    fm_model_set_loss_scale(r->model, fm_stepper_loss_scale(r->stepper));
    return model_failed(r, fm_model_evaluate(r->model, FM_SET_TEST, r->n_test, loss, accuracy));
}

/* The picture after every epoch, and once more at the end with the test accuracies. */
static int write_curves(run *r, const char *path, size_t n, const fm_train_result *final)
{
    if (r->rank != 0) /* distributed: one picture, from rank 0 */
        return 0;
    const fm_train_config *c = r->cfg;
    char title[512], subtitle[512], sizes[128] = "";
    size_t at = 0;
    for (size_t i = 0; i < c->hidden_count; i++)
        at += (size_t)snprintf(sizes + at, sizeof sizes - at, "-%u", c->hidden[i]);
    snprintf(title, sizeof title, "Fashion-MNIST: MLP 784%s-10, %s", sizes,
             c->optimizer_text ? c->optimizer_text : "");
    char mode[64] = "";
    if (c->mode == FM_MODE_MINIBATCH)
        snprintf(mode, sizeof mode, "minibatch %zu", c->batch);
    else
        snprintf(mode, sizeof mode, "%s", c->mode == FM_MODE_GD ? "full batch (gd)" : "sgd");
    at = (size_t)snprintf(subtitle, sizeof subtitle, "%s, %zu training images, seed %llu", mode,
                          r->n_train, (unsigned long long)c->seed);
    if (r->size > 1)
        at += (size_t)snprintf(subtitle + at, sizeof subtitle - at, ", data-parallel on %d ranks",
                               r->size);
    if (final)
        snprintf(subtitle + at, sizeof subtitle - at,
                 "; test accuracy %.4f (best, epoch %lld), %.4f (last)", final->test_accuracy_best,
                 (long long) final->best_epoch, final->test_accuracy_last);
    return fm_plot_write(path, title, subtitle, r->points, n, r->message, r->message_size);
}

static int train_all(run *r, fm_train_result *res)
{
    const fm_train_config *c = r->cfg;
    double t_start = now();
    if (c->epochs < 1 || c->hidden_count + 1 > FM_MAX_LAYERS ||
        (c->mode == FM_MODE_MINIBATCH && c->batch < 1))
        return failf(r, "epochs %d, %zu hidden layers (at most %d), batch %zu: out of range",
                     c->epochs, c->hidden_count, FM_MAX_LAYERS - 1, c->batch);
    fm_model_config mc = {.layers = c->hidden_count + 1, .dtype = c->param_dtype};
    for (size_t i = 0; i < c->hidden_count; i++)
        mc.sizes[i + 1] = c->hidden[i];
    mc.sizes[mc.layers] = FM_CLASSES;
    if (load_files(r, &mc))
        return 1;
    res->train_images = r->n_train;
    char msg[2048] = "";
    optcl_status st = optcl_context_create(NULL, &r->ctx, msg, sizeof msg);
    if (optcl_failed(r, st, "optcl_context_create", msg))
        return 1;
    snprintf(res->device, sizeof res->device, "%s", optcl_context_device_name(r->ctx));
    fprintf(r->out, "device: %s\n", res->device);
    if (optcl_context_backend(r->ctx) != OPTCL_BACKEND_OPENCL)
        return failf(r, "the model's kernels need an OpenCL device, but OPTCL_DEVICE chose "
                        "the reference backend");
    if (upload(r, &mc))
        return 1;
    size_t batch = batch_size(c, r->n_train);
    size_t steps = (r->n_train + batch - 1) / batch;
    if (model_failed(r, fm_model_init_params(r->model, c->seed)) || create_optimizer(r, steps))
        return 1;
    r->points = calloc((size_t)c->epochs, sizeof *r->points);
    if (!r->points)
        return failf(r, "out of host memory");
    double warm = 0.0;
    if (warm_up(r, batch, &warm))
        return 1;
    fprintf(r->out, "model: MLP %u", mc.sizes[0]);
    for (size_t l = 1; l <= mc.layers; l++)
        fprintf(r->out, "-%u", mc.sizes[l]);
    fprintf(r->out,
            " (%zu parameters), %s, %s, batch %zu (%zu steps per epoch); kernels "
            "ready in %.1f s\n",
            fm_model_parameter_count(r->model), c->optimizer_text ? c->optimizer_text : "",
            fm_mode_name(c->mode), batch, steps, warm);
    fprintf(r->out, "epoch  train loss  valid loss  valid acc      gap         lr       s\n");
    fflush(r->out);
    snprintf(res->svg_path, sizeof res->svg_path, "%s/curves.svg", c->out_dir);
    snprintf(res->best_path, sizeof res->best_path, "%s", fm_stepper_path(r->stepper, 1));
    snprintf(res->last_path, sizeof res->last_path, "%s", fm_stepper_path(r->stepper, 0));

    int progress = c->progress < 0 ? isatty(fileno(r->out)) : c->progress;
    double train_time = 0.0, epoch_time = 0.0;
    for (int e = 1; e <= c->epochs; e++) {
        double t0 = now(), train_loss = 0.0, valid_loss = 0.0, valid_acc = 0.0, lr = 0.0;
        if (train_epoch(r, e, batch, progress, &train_loss))
            return 1;
        double t1 = now();
        /* Schedule-Free: validate and keep checkpoints at x, then train on at y */
        optcl_status modes = fm_stepper_set_mode(r->stepper, OPTCL_MODE_EVAL);
        if (modes != OPTCL_SUCCESS && modes != OPTCL_ERROR_UNSUPPORTED &&
            stepper_failed(r, modes))
            return 1;
        if (model_failed(
                r, fm_model_evaluate(r->model, FM_SET_VALID, r->n_valid, &valid_loss, &valid_acc)))
            return 1;
        /* The lr the epoch ended with, before the plateau hears about this epoch. */
        if (stepper_failed(r, fm_stepper_get_lr(r->stepper, &lr)))
            return 1;
        if (c->optimizer.plateau.enabled &&
            stepper_failed(r, fm_stepper_report_metric(r->stepper, valid_loss)))
            return 1;
        optcl_epoch_record rec;
        if (stepper_failed(r, fm_stepper_epoch(r->stepper, train_loss, valid_loss, &rec)))
            return 1;
        if (modes == OPTCL_SUCCESS &&
            stepper_failed(r, fm_stepper_set_mode(r->stepper, OPTCL_MODE_TRAIN)))
            return 1;
        double t2 = now();
        train_time += t1 - t0;
        epoch_time += t2 - t0;
        r->points[e - 1] =
            (fm_epoch_point){train_loss, valid_loss, valid_acc, lr, t2 - t0, rec.improved};
        if (rec.improved) /* only the last best counts in the picture */
            for (int i = 0; i < e - 1; i++)
                r->points[i].best = 0;
        fprintf(r->out, "%5d  %10.4f  %10.4f  %9.4f  %+9.4f  %9.3e  %6.2f%s\n", e, train_loss,
                valid_loss, valid_acc, rec.gap, lr, t2 - t0, rec.improved ? "  best" : "");
        fflush(r->out);
        if (c->on_epoch)
            c->on_epoch(c->on_epoch_user, (size_t)e, &r->points[e - 1]);
        res->epochs = (size_t)e;
        res->best_epoch = rec.best_epoch;
        res->best_valid_loss = rec.best_metric;
        if (write_curves(r, res->svg_path, (size_t)e, NULL))
            return 1;
        if (rec.should_stop) {
            fprintf(r->out, "no improvement for %lld epochs: stopping early\n",
                    (long long)c->patience);
            break;
        }
    }
    res->seconds_per_epoch = epoch_time / (double)res->epochs;
    res->train_seconds_per_epoch = train_time / (double)res->epochs;

    /* Both checkpoints on the test set, loaded back through optcl. */
    if (test_checkpoint(r, 1, &res->test_loss_best, &res->test_accuracy_best) ||
        test_checkpoint(r, 0, &res->test_loss_last, &res->test_accuracy_last))
        return 1;
    if (write_curves(r, res->svg_path, res->epochs, res))
        return 1;
    res->total_seconds = now() - t_start;
    fprintf(r->out,
            "test accuracy: best checkpoint (epoch %lld) %.4f (loss %.4f), last "
            "(epoch %zu) %.4f (loss %.4f)\n",
            (long long)res->best_epoch, res->test_accuracy_best, res->test_loss_best, res->epochs,
            res->test_accuracy_last, res->test_loss_last);
    fprintf(r->out, "time: %.2f s per epoch (training %.2f s), %.1f s in all\n",
            res->seconds_per_epoch, res->train_seconds_per_epoch, res->total_seconds);
    fprintf(r->out, "curves: %s\ncheckpoints: %s, %s\n", res->svg_path, res->best_path,
            res->last_path);
    return 0;
}

int fm_train(const fm_train_config *config, fm_train_result *result, char *message,
             size_t message_size)
{
    run r = {.cfg = config,
             .size = 1,
             .out = config->out ? config->out : stdout,
             .message = message,
             .message_size = message_size};
    memset(result, 0, sizeof *result);
    if (message_size)
        message[0] = '\0';
    int rc = train_all(&r, result);
    /* Reverse order of creation: the stepper holds the optimizer, the optimizer the
     * parameter set (inside the model), the set the context. */
    fm_stepper_destroy(r.stepper);
    optcl_status st = fm_model_destroy(r.model);
    if (st == OPTCL_SUCCESS)
        st = optcl_context_destroy(r.ctx);
    if (!rc && st != OPTCL_SUCCESS)
        rc = failf(&r, "cleaning up: %s", optcl_status_name(st));
    fm_images_free(&r.train);
    fm_images_free(&r.test);
    free(r.split);
    free(r.order);
    free(r.points);
    return rc;
}
