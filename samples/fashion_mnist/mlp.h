/* mlp.h — the Fashion-MNIST sample's model: an MLP whose forward and backward passes are OpenCL
 * kernels on optcl's context and queue, with its weights in an optcl parameter set. */
#ifndef FM_MLP_H
#define FM_MLP_H

#include "optcl.h"

#include <stddef.h>
#include <stdint.h>

#define FM_MAX_LAYERS 8 /* linear layers */

/* The index sets a pass can gather its rows from. */
typedef enum fm_set { FM_SET_TRAIN, FM_SET_VALID, FM_SET_TEST, FM_SET_COUNT } fm_set;

typedef struct fm_model_config {
    size_t layers;                     /* linear layers, 1 … FM_MAX_LAYERS */
    unsigned sizes[FM_MAX_LAYERS + 1]; /* sizes[0] inputs, sizes[layers] classes (≤ 256) */
    size_t max_rows;                   /* the most rows one pass (batch or chunk) handles */
    optcl_dtype dtype; /* the weights', biases', activations' and gradients' type; 0: f32 */
} fm_model_config;

typedef struct fm_model fm_model;

/* Builds the kernels on ctx's device (OpenCL backend only), creates the parameter set (of
 * config->dtype) —
 * "fcL.weight" [out][in] in group 0 and "fcL.bias" [out] in group 1 for L = 1 … layers — and
 * the activation buffers for max_rows rows. On failure message says why. Blocks. */
int fm_model_create(optcl_context *ctx, const fm_model_config *config, fm_model **out,
                    char *message, size_t message_size);
/* Frees everything. Refused with OPTCL_ERROR_IN_USE, nothing freed, while an optimizer still
 * uses the parameter set: destroy that first. NULL is accepted. Blocks. */
optcl_status fm_model_destroy(fm_model *model);

optcl_params *fm_model_params(fm_model *model);
size_t fm_model_parameter_count(const fm_model *model);
/* The last failure's message ("" when none). */
const char *fm_model_message(const fm_model *model);
/* Loss scaling (mixed precision): training passes multiply the loss's gradient by the float at
 * scale[0] (the optimizer's optcl_optimizer_loss_scale_buffer), so every gradient they write is
 * scaled and the optimizer unscales it. NULL (default): no scaling. */
void fm_model_set_loss_scale(fm_model *model, cl_mem scale);

/* nn.Linear's initialisation: weights and biases uniform in ±1/√fan_in, from seed. Blocks. */
int fm_model_init_params(fm_model *model, uint64_t seed);

/* Allocates device memory for count images (sizes[0] bytes each) and their labels, then
 * fm_model_write_data copies images [first, first + n) in. Normalisation: x = (p/255 − mean)/std.
 * Blocks. */
int fm_model_alloc_data(fm_model *model, size_t count, float mean, float std);
int fm_model_write_data(fm_model *model, size_t first, const uint8_t *pixels, const uint8_t *labels,
                        size_t n);

/* Uploads an index set (image numbers in the uploaded data, checked against it) and makes the
 * per-sample outputs at least n long. Blocks; once per epoch for the shuffled training set. */
int fm_model_set_index(fm_model *model, fm_set set, const uint32_t *index, size_t n);

/* Enqueues one training pass over rows images index[set][first …]: gather, forward, softmax
 * cross-entropy (batch mean), backward, writing every gradient into optcl's gradient
 * sub-buffers. The per-sample loss and hit go to output slots first …. Does not block; the
 * caller's optcl_optimizer_step follows on the same in-order queue. */
int fm_model_train_batch(fm_model *model, fm_set set, size_t first, size_t rows);
/* Enqueues the forward pass and the per-sample outputs only (evaluation). Does not block. */
int fm_model_forward(fm_model *model, fm_set set, size_t first, size_t rows);
/* Reads output slots [first, first + n) back: the sum of the losses and the number of hits.
 * Blocks (waits for the queue). */
int fm_model_read_outputs(fm_model *model, size_t first, size_t n, double *loss_sum,
                          size_t *correct);
/* Reads the logits of the last pass (rows × classes floats). Blocks. For the tests. */
int fm_model_read_logits(fm_model *model, size_t rows, float *out);

/* A pass over a whole index set in chunks of max_rows: mean loss and accuracy. Blocks. */
int fm_model_evaluate(fm_model *model, fm_set set, size_t n, double *loss, double *accuracy);

#endif
