/* safetensors.h — reading and writing safetensors files (F32, BF16, F16 and U8 tensors plus a
 * string-to-string __metadata__ map), the format of optcl's checkpoints. Writing is crash-safe
 * (atomic_file.h); reading validates the whole file before returning anything. */
#ifndef OPTCL_SAFETENSORS_H
#define OPTCL_SAFETENSORS_H

#include "internal.h"

#define OPTCL__ST_MAX_HEADER 100000000u /* as Python's safetensors: never write what it refuses */

/* One tensor to write: data holds count floats, count = product of shape (1 for ndim 0);
 * dtype: written as F32, BF16 or F16, each float rounded to nearest even (exact for values of
 * that type), or as U8 (OPTCL__DTYPE_Q8: floats 0 … 255, 8-bit state's codes). */
typedef struct optcl__st_tensor {
    const char *name;
    int ndim;
    int64_t shape[OPTCL_MAX_DIMS];
    const float *data;
    size_t count;
    optcl_dtype dtype;
} optcl__st_tensor;

typedef struct optcl__st_meta {
    const char *key;
    const char *value;
} optcl__st_meta;

/* Writes tensors (in the given order, data contiguous and 8-byte aligned header) and the
 * metadata to path through a temporary file, fsync and rename. Names must be unique. */
optcl_status optcl__st_write(const char *path, const optcl__st_tensor *tensors, size_t count,
                             const optcl__st_meta *meta, size_t meta_count, char *message,
                             size_t message_size);

/* A whole file in memory, validated: every tensor is F32, BF16, F16 or U8 with a shape whose
 * byte size equals its data_offsets span, offsets are in bounds, non-overlapping and together
 * cover the data area exactly, names are unique, the header is valid JSON (an object of
 * objects, and an optional "__metadata__" object of strings), at most OPTCL__ST_MAX_HEADER
 * bytes. */
typedef struct optcl__st_file {
    size_t tensor_count;
    struct optcl__st_entry {
        char *name;
        int ndim;
        int64_t shape[OPTCL_MAX_DIMS];
        size_t count;
        optcl_dtype dtype; /* as stored (data holds it widened to float32, exactly) */
        float *data; /* the data area's floats (aligned copy), or their widened copy */
    } * tensors;
    size_t meta_count;
    optcl__st_meta *meta; /* key/value strings owned by the file */
    void *storage;        /* everything above is allocated here or freed by optcl__st_free */
} optcl__st_file;

/* Reads and validates path. On failure *out is empty and message names the path and the
 * problem ("x.safetensors: tensor 'w': data_offsets [0, 12] do not match shape [2, 2] F32"). */
optcl_status optcl__st_read(const char *path, optcl__st_file *out, char *message,
                            size_t message_size);
/* The same checks of the header without reading the tensors' data (every entry's data is NULL):
 * for what a checkpoint holds besides its tensors. A regular file's size still has to match
 * the header's offsets; a pipe's data is not checked at all. */
optcl_status optcl__st_read_header(const char *path, optcl__st_file *out, char *message,
                                   size_t message_size);
void optcl__st_free(optcl__st_file *file);

/* Shared by reader and writer: a shape as the header spells it ("[2, 3]") for messages, in
 * OPTCL__ST_SHAPE_TEXT bytes at most, and its element count (*overflow set when it does not
 * fit). */
#define OPTCL__ST_SHAPE_TEXT 200 /* "[d, d, …]" for OPTCL_MAX_DIMS dims of up to 20 digits */
void optcl__st_shape_text(char *buf, size_t size, int ndim, const int64_t *shape);
size_t optcl__st_shape_count(int ndim, const int64_t *shape, int *overflow);

/* checkpoint.c: optcl_checkpoint_save with extra metadata after optcl's own (the tracker's
 * record); keys must not be optcl_checkpoint_save's. */
optcl_status optcl__checkpoint_save_with(optcl_optimizer *opt, const char *path,
                                         const optcl__st_meta *record, size_t record_count);

/* Lookups on a read file; NULL when absent. */
const struct optcl__st_entry *optcl__st_find(const optcl__st_file *file, const char *name);
const char *optcl__st_meta_get(const optcl__st_file *file, const char *key);

#endif
