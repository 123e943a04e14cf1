/* q8_state.c — an optimizer's block-wise 8-bit states (q8.h): the layout and table, reads and
 * writes of their values and of their stored codes, and the reference backend's requantization
 * after each update. */
#include "q8.h"
#include "rules/rule.h"

#include <stdlib.h>
#include <string.h>

static bool is_unsigned(const optcl__rule *rule, const char *state)
{
    for (const char *const *s = rule->unsigned_states; s && *s; s++)
        if (strcmp(*s, state) == 0)
            return true;
    return false;
}

optcl_status optcl__q8_state_create(optcl_optimizer *opt)
{
    optcl_params *p = opt->params;
    optcl_context *ctx = p->ctx;
    for (size_t i = 0; i < opt->rule_states; i++)
        opt->q8_unsigned[i] = is_unsigned(opt->rule, opt->state_names[i]);
    opt->q8 = calloc(1, sizeof *opt->q8);
    if (!opt->q8)
        return optcl__fail(ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    optcl_status st = optcl__q8_create(p, opt->q8, ctx->message);
    if (st != OPTCL_SUCCESS)
        return st;
    if (ctx->backend == OPTCL_BACKEND_REFERENCE) {
        for (size_t i = 0; i < opt->rule_states; i++)
            if (!(opt->host_q8[i] = calloc(optcl__q8_bytes(opt->q8), 1)))
                return optcl__fail(ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                   "cannot allocate the %s state (%zu bytes)", opt->state_names[i],
                                   optcl__q8_bytes(opt->q8));
        return OPTCL_SUCCESS;
    }
    cl_int err = CL_SUCCESS;
    opt->q8_table = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                   opt->q8->table_ints * sizeof(int32_t), opt->q8->table, &err);
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err,
                           "allocating 8-bit state's table on %s failed: %s", ctx->device_name,
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

void optcl__q8_state_free(optcl_optimizer *opt)
{
    if (opt->q8_table)
        clReleaseMemObject(opt->q8_table);
    for (size_t i = 0; i < OPTCL__MAX_STATES; i++)
        free(opt->host_q8[i]);
    if (opt->q8)
        optcl__q8_free(opt->q8);
    free(opt->q8);
}

/* ---- one state buffer's bytes ----------------------------------------------------------- */

static size_t absmax_byte(const optcl__q8 *q, size_t block)
{
    return q->flat + block * sizeof(float);
}

static size_t float_byte(const optcl__q8 *q, size_t at)
{
    return q->flat + (q->absmax_floats + at) * sizeof(float);
}

/* Bytes [offset, offset + size) of state i's buffer: the device's, or the reference's image. */
static optcl_status access_bytes(optcl_optimizer *opt, size_t i, size_t offset, size_t size,
                                 void *data, bool to_device, char *message, const char *what)
{
    if (size == 0)
        return OPTCL_SUCCESS;
    if (opt->host_q8[i]) {
        uint8_t *at = opt->host_q8[i] + offset;
        memcpy(to_device ? (void *)at : data, to_device ? data : (void *)at, size);
        return OPTCL_SUCCESS;
    }
    cl_command_queue queue = opt->params->ctx->queue;
    cl_int err =
        to_device
            ? clEnqueueWriteBuffer(queue, opt->state[i], CL_TRUE, offset, size, data, 0, NULL, NULL)
            : clEnqueueReadBuffer(queue, opt->state[i], CL_TRUE, offset, size, data, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return optcl__fail(message, (optcl_status)err, "%s: OpenCL transfer failed: %s", what,
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

optcl_status optcl__q8_snapshot(optcl_optimizer *opt, size_t i, void *bytes, bool restore,
                                char *message, const char *what)
{
    return access_bytes(opt, i, 0, optcl__q8_bytes(opt->q8), bytes, restore, message, what);
}

size_t optcl__q8_group_items(const optcl_optimizer *opt)
{
    size_t items = opt->params->ctx->q8_block_items;
    return opt->state_type == OPTCL__DTYPE_Q8 && items > 1 ? items : 0;
}

size_t optcl__q8_elements_per_item(const optcl_optimizer *opt)
{
    bool block_per_item = opt->state_type == OPTCL__DTYPE_Q8 && optcl__q8_group_items(opt) == 0;
    return block_per_item ? OPTCL__Q8_BLOCK : opt->params->ctx->vector_width;
}

size_t optcl__q8_tensor_blocks(const optcl_params *p, size_t t)
{
    return (p->tensors[t].count + OPTCL__Q8_BLOCK - 1) / OPTCL__Q8_BLOCK;
}

/* Tensor t's codes (its whole blocks) and absmaxes, read or written. */
static optcl_status access_blocks(optcl_optimizer *opt, size_t i, size_t t, uint8_t *codes,
                                  float *absmax, bool to_device, char *message, const char *what)
{
    const optcl__tensor *tensor = &opt->params->tensors[t];
    size_t blocks = optcl__q8_tensor_blocks(opt->params, t);
    optcl_status st = access_bytes(opt, i, tensor->offset, blocks * OPTCL__Q8_BLOCK, codes,
                                   to_device, message, what);
    if (st == OPTCL_SUCCESS)
        st = access_bytes(opt, i, absmax_byte(opt->q8, tensor->offset / OPTCL__Q8_BLOCK),
                          blocks * sizeof(float), absmax, to_device, message, what);
    return st;
}

/* The reference's values of tensor t's blocks follow its codes, as a device load sees them. */
static void dequantize_blocks(optcl_optimizer *opt, size_t i, size_t t, const uint8_t *codes,
                              const float *absmax)
{
    if (!opt->host_q8[i])
        return;
    const optcl__tensor *tensor = &opt->params->tensors[t];
    for (size_t b = 0; b < optcl__q8_tensor_blocks(opt->params, t); b++)
        optcl__q8_dequantize(codes + b * OPTCL__Q8_BLOCK, OPTCL__Q8_BLOCK, absmax[b],
                             !opt->q8_unsigned[i],
                             opt->host_state[i] + tensor->offset + b * OPTCL__Q8_BLOCK);
}

/* Scratch for tensor t's blocks: codes and absmaxes (and, when values, their floats). */
typedef struct scratch {
    uint8_t *codes;
    float *absmax, *values;
} scratch;

static void scratch_free(scratch *s)
{
    free(s->codes);
    free(s->absmax);
    free(s->values);
    memset(s, 0, sizeof *s);
}

static optcl_status scratch_alloc(const optcl_params *p, size_t t, bool values, scratch *s,
                                  char *message)
{
    size_t blocks = optcl__q8_tensor_blocks(p, t) + 1; /* + 1: never 0 bytes */
    s->codes = malloc(blocks * OPTCL__Q8_BLOCK);
    s->absmax = malloc(blocks * sizeof(float));
    s->values = values ? calloc(blocks * OPTCL__Q8_BLOCK, sizeof(float)) : NULL;
    if (s->codes && s->absmax && (s->values || !values))
        return OPTCL_SUCCESS;
    scratch_free(s);
    return optcl__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
}

/* ---- values ----------------------------------------------------------------------------- */

static optcl_status tensor_transfer(optcl_optimizer *opt, size_t i, size_t t, float *data,
                                    bool to_device, char *message, const char *what)
{
    const optcl__q8 *q = opt->q8;
    const optcl__tensor *tensor = &opt->params->tensors[t];
    bool is_signed = !opt->q8_unsigned[i];
    if (!optcl__q8_tensor_is_8bit(q, t)) { /* a small tensor's float32 state */
        optcl_status st =
            access_bytes(opt, i, float_byte(q, q->float_at[t]), tensor->count * sizeof(float), data,
                         to_device, message, what);
        if (st == OPTCL_SUCCESS && to_device && opt->host_q8[i])
            memcpy(opt->host_state[i] + tensor->offset, data, tensor->count * sizeof(float));
        return st;
    }
    scratch s;
    optcl_status st = scratch_alloc(opt->params, t, to_device, &s, message);
    if (st != OPTCL_SUCCESS)
        return st;
    size_t blocks = optcl__q8_tensor_blocks(opt->params, t);
    if (to_device) { /* padding stays zero, and out of the absmax */
        memcpy(s.values, data, tensor->count * sizeof(float));
        for (size_t b = 0; b < blocks; b++) {
            size_t valid = tensor->count - b * OPTCL__Q8_BLOCK;
            s.absmax[b] = optcl__q8_quantize(s.values + b * OPTCL__Q8_BLOCK, OPTCL__Q8_BLOCK,
                                             valid < OPTCL__Q8_BLOCK ? valid : OPTCL__Q8_BLOCK,
                                             is_signed, s.codes + b * OPTCL__Q8_BLOCK);
        }
    }
    st = access_blocks(opt, i, t, s.codes, s.absmax, to_device, message, what);
    if (st == OPTCL_SUCCESS && to_device)
        dequantize_blocks(opt, i, t, s.codes, s.absmax);
    for (size_t b = 0; b < blocks && st == OPTCL_SUCCESS && !to_device; b++) {
        size_t n = tensor->count - b * OPTCL__Q8_BLOCK;
        optcl__q8_dequantize(s.codes + b * OPTCL__Q8_BLOCK,
                             n < OPTCL__Q8_BLOCK ? n : OPTCL__Q8_BLOCK, s.absmax[b], is_signed,
                             data + b * OPTCL__Q8_BLOCK);
    }
    scratch_free(&s);
    return st;
}

optcl_status optcl__q8_state_transfer(optcl_optimizer *opt, size_t i, size_t index, float *data,
                                      size_t count, bool to_device, char *message, const char *what)
{
    optcl_params *p = opt->params;
    optcl_status st = optcl__transfer_check(p, index, data, count, message, what);
    size_t first = index == OPTCL_ALL ? 0 : index;
    size_t last = index == OPTCL_ALL ? p->count : index + 1;
    for (size_t t = first, packed = 0; t < last && st == OPTCL_SUCCESS; t++) {
        st = tensor_transfer(opt, i, t, data + packed, to_device, message, what);
        packed += p->tensors[t].count;
    }
    return st;
}

/* ---- stored codes, for checkpoints ------------------------------------------------------- */

optcl_status optcl__q8_read_stored(optcl_optimizer *opt, size_t i, size_t t, uint8_t *codes,
                                   float *absmax, char *message, const char *what)
{
    scratch s;
    optcl_status st = scratch_alloc(opt->params, t, false, &s, message);
    if (st == OPTCL_SUCCESS)
        st = access_blocks(opt, i, t, s.codes, absmax, false, message, what);
    if (st == OPTCL_SUCCESS)
        memcpy(codes, s.codes, opt->params->tensors[t].count);
    scratch_free(&s);
    return st;
}

optcl_status optcl__q8_write_stored(optcl_optimizer *opt, size_t i, size_t t, const uint8_t *codes,
                                    const float *absmax, char *message, const char *what)
{
    scratch s;
    optcl_status st = scratch_alloc(opt->params, t, false, &s, message);
    if (st != OPTCL_SUCCESS)
        return st;
    size_t count = opt->params->tensors[t].count;
    size_t blocks = optcl__q8_tensor_blocks(opt->params, t);
    uint8_t zero = optcl__q8_encode(0.0f, !opt->q8_unsigned[i]); /* the padding's code */
    memset(s.codes, zero, blocks * OPTCL__Q8_BLOCK);
    memcpy(s.codes, codes, count);
    memcpy(s.absmax, absmax, blocks * sizeof(float));
    st = access_blocks(opt, i, t, s.codes, s.absmax, true, message, what);
    if (st == OPTCL_SUCCESS)
        dequantize_blocks(opt, i, t, s.codes, s.absmax);
    scratch_free(&s);
    return st;
}

/* ---- the reference backend's step ------------------------------------------------------- */

void optcl__q8_requantize(optcl_optimizer *opt, size_t begin, size_t end)
{
    const optcl__q8 *q = opt->q8;
    for (size_t i = 0; i < opt->rule_states; i++) {
        float *values = opt->host_state[i];
        uint8_t *image = opt->host_q8[i];
        float *absmax = (float *)(image + q->flat), *floats = absmax + q->absmax_floats;
        for (size_t b = begin / OPTCL__Q8_BLOCK; b < end / OPTCL__Q8_BLOCK; b++) {
            int32_t entry = q->table[OPTCL__Q8_BLOCKS_AT + b];
            float *block = values + b * OPTCL__Q8_BLOCK;
            uint8_t *codes = image + b * OPTCL__Q8_BLOCK;
            if (entry >= 0) {
                memcpy(floats + entry, block, OPTCL__Q8_BLOCK * sizeof(float));
                continue;
            }
            bool is_signed = !opt->q8_unsigned[i];
            absmax[b] =
                optcl__q8_quantize(block, OPTCL__Q8_BLOCK, (size_t)(-entry - 1), is_signed, codes);
            optcl__q8_dequantize(codes, OPTCL__Q8_BLOCK, absmax[b], is_signed, block);
        }
    }
}
