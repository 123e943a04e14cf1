/* train.h — the Fashion-MNIST training procedure: data, split, epochs with progress lines,
 * best/last checkpoints through optcl's tracker, the learning-curve SVG and the final test of
 * both checkpoints. The command (main.c, compare.c) and the smoke test call it. */
#ifndef FM_TRAIN_H
#define FM_TRAIN_H

#include "mlp.h"
#include "plot.h"

#include <stdio.h>

#define FM_VALID_COUNT 5000 /* held out of the 60 000 training images: 55 000 / 5 000 */
#define FM_EVAL_ROWS 1000   /* rows per evaluation pass */

typedef enum fm_mode {
    FM_MODE_MINIBATCH, /* shuffled batches of `batch` images */
    FM_MODE_GD,        /* full batch: one step per epoch */
    FM_MODE_SGD        /* one image per step */
} fm_mode;

typedef struct fm_train_config {
    const char *data_dir; /* NULL: $OPTCL_FASHION_MNIST_DIR, else the Debian package's */
    const char *out_dir;  /* checkpoints and curves.svg; created when missing */
    fm_mode mode;
    size_t batch; /* FM_MODE_MINIBATCH: 128 */
    int epochs;   /* 10 */
    unsigned hidden[FM_MAX_LAYERS - 1];
    size_t hidden_count; /* {256}, 1 */
    uint64_t seed;       /* split, shuffles and initialisation: 1 */
    size_t train_subset; /* 0: all 55 000 training images, else the first n of the split */
    int64_t patience;    /* tracker: stop after this many epochs without improvement; 0 off */
    optcl_optimizer_config optimizer; /* Adam, PyTorch's defaults; groups are set by fm_train
                                         (biases without weight decay). A cosine schedule with
                                         t_max 0 gets the run's total number of steps. */
    const char *optimizer_text;       /* how the optimizer was given, for the title ("adam") */
    optcl_dtype param_dtype; /* the weights, biases and gradients: float32 (0), bf16 or f16 */
    int distributed; /* 1: data-parallel over MPI_COMM_WORLD (the caller started MPI): every
                        rank trains on its part of each batch, optimizer state sharded */
    int progress; /* live indicator inside an epoch: -1 when stdout is a terminal, 0, 1 */
    FILE *out;    /* where the lines go; NULL: stdout */
    /* Called after every epoch with its figures (NULL: not called); --compare prints and
     * draws each run's epochs through it. */
    void (*on_epoch)(void *user, size_t epoch, const fm_epoch_point *point);
    void *on_epoch_user;
} fm_train_config;

fm_train_config fm_train_config_default(void);

typedef struct fm_train_result {
    size_t epochs;       /* epochs run (patience may stop early) */
    size_t train_images; /* in the training split (train_subset, else 55 000) */
    int64_t best_epoch;
    double best_valid_loss;
    double test_accuracy_best, test_loss_best; /* the best checkpoint on the test set */
    double test_accuracy_last, test_loss_last; /* the last checkpoint */
    double seconds_per_epoch;       /* mean wall time of an epoch: training, validation, saves */
    double train_seconds_per_epoch; /* mean of the training passes alone */
    double total_seconds;           /* everything, data loading and kernel builds included */
    char best_path[4096], last_path[4096], svg_path[4096];
    char device[256]; /* optcl_context_device_name */
} fm_train_result;

/* Runs the whole procedure. Returns 0, or 1 with a one-line reason in message. */
int fm_train(const fm_train_config *config, fm_train_result *result, char *message,
             size_t message_size);

const char *fm_mode_name(fm_mode mode);

#endif
