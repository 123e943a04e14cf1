/* safetensors_write.c — writing safetensors files of F32 tensors and string metadata, crash-
 * safely: header with "__metadata__" first, contiguous data, through atomic_file.h. */
#include "safetensors.h"
#include "atomic_file.h"
#include "file_format.h"
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* A growing text buffer; a failed allocation sets oom and later appends do nothing. */
typedef struct text_buf {
    char *p;
    size_t len, cap;
    int oom;
} text_buf;

static char *reserve(text_buf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (n > SIZE_MAX / 2 - b->len) {
        b->oom = 1;
        return NULL;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->oom = 1;
            return NULL;
        }
        b->p = grown;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void append(text_buf *b, const char *s)
{
    size_t n = strlen(s);
    char *at = reserve(b, n);
    if (at) {
        memcpy(at, s, n + 1);
        b->len += n;
    }
}

static void append_string(text_buf *b, const char *s)
{
    size_t n = optcl__json_escape(NULL, 0, s);
    char *at = reserve(b, n);
    if (at) {
        optcl__json_escape(at, n + 1, s);
        b->len += n;
    }
}

static void append_u64(text_buf *b, uint64_t v)
{
    char digits[24];
    optcl__format(digits, sizeof digits, "%" PRIu64, v);
    append(b, digits);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first name that appears twice among n (sorted on a copy), or NULL; *oom on failure. */
static const char *find_duplicate(const char **names, size_t n, int *oom)
{
    *oom = 0;
    if (n < 2)
        return NULL;
    const char **sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        *oom = 1;
        return NULL;
    }
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_names);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(sorted[i], sorted[i - 1]) == 0)
            dup = sorted[i];
    free(sorted);
    return dup;
}

/* Checks the tensors and metadata and collects the names to check for duplicates. */
static optcl_status check_write_args(const char *path, const optcl__st_tensor *tensors,
                                     size_t count, const optcl__st_meta *meta, size_t meta_count,
                                     const char **names, const char **keys, char *message,
                                     size_t message_size)
{
    const optcl_status INVALID = OPTCL_ERROR_INVALID_ARGUMENT, NUL = OPTCL_ERROR_NULL_POINTER;
    for (size_t i = 0; i < count; i++) {
        const optcl__st_tensor *t = &tensors[i];
        if (!t->name)
            return optcl__fail_path(message, message_size, NUL, path, "tensor %zu has no name", i);
        char name[OPTCL__JSON_QUOTE_SIZE];
        optcl__json_quote(name, sizeof name, t->name, strlen(t->name));
        if (!t->name[0])
            return optcl__fail_path(message, message_size, INVALID, path,
                                    "tensor %zu has an empty name", i);
        if (!optcl__json_valid_utf8(t->name, strlen(t->name)))
            return optcl__fail_path(message, message_size, INVALID, path,
                                    "tensor name '%s' is not valid UTF-8", name);
        if (strcmp(t->name, "__metadata__") == 0)
            return optcl__fail_path(message, message_size, INVALID, path,
                                    "tensor name '__metadata__' is reserved for the metadata");
        if (t->ndim < 0 || t->ndim > OPTCL_MAX_DIMS)
            return optcl__fail_path(message, message_size, INVALID, path,
                                    "tensor '%s': ndim %d is outside 0 ... %d", name, t->ndim,
                                    OPTCL_MAX_DIMS);
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0)
                return optcl__fail_path(message, message_size, INVALID, path,
                                        "tensor '%s': dimension %d is negative (%" PRId64 ")", name,
                                        d, t->shape[d]);
        int overflow;
        size_t n = optcl__st_shape_count(t->ndim, t->shape, &overflow);
        char text[OPTCL__ST_SHAPE_TEXT];
        optcl__st_shape_text(text, sizeof text, t->ndim, t->shape);
        if (overflow)
            return optcl__fail_path(message, message_size, INVALID, path,
                                    "tensor '%s': shape %s is too large to address", name, text);
        if (n != t->count)
            return optcl__fail_path(message, message_size, OPTCL_ERROR_SIZE_MISMATCH, path,
                                    "tensor '%s': count %zu does not match shape %s (%zu elements)",
                                    name, t->count, text, n);
        if (n > 0 && !t->data)
            return optcl__fail_path(message, message_size, NUL, path, "tensor '%s': data is NULL",
                                    name);
        names[i] = t->name;
    }
    for (size_t i = 0; i < meta_count; i++) {
        if (!meta[i].key || !meta[i].value)
            return optcl__fail_path(message, message_size, NUL, path,
                                    "metadata entry %zu has a NULL %s", i,
                                    meta[i].key ? "value" : "key");
        char key[OPTCL__JSON_QUOTE_SIZE];
        optcl__json_quote(key, sizeof key, meta[i].key, strlen(meta[i].key));
        if (!optcl__json_valid_utf8(meta[i].key, strlen(meta[i].key)) ||
            !optcl__json_valid_utf8(meta[i].value, strlen(meta[i].value)))
            return optcl__fail_path(message, message_size, INVALID, path,
                                    "metadata entry '%s' is not valid UTF-8", key);
        keys[i] = meta[i].key;
    }
    return OPTCL_SUCCESS;
}

/* The header: "__metadata__" first (as the reference writer does), then the tensors in the
 * caller's order with contiguous offsets, padded with spaces so the data starts 8-aligned. */
static void build_header(text_buf *b, const optcl__st_tensor *tensors, size_t count,
                         const optcl__st_meta *meta, size_t meta_count)
{
    append(b, "{");
    if (meta_count > 0) {
        append(b, "\"__metadata__\":{");
        for (size_t i = 0; i < meta_count; i++) {
            append(b, i ? "," : "");
            append_string(b, meta[i].key);
            append(b, ":");
            append_string(b, meta[i].value);
        }
        append(b, "}");
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        const optcl__st_tensor *t = &tensors[i];
        append(b, i || meta_count ? "," : "");
        append_string(b, t->name);
        append(b, t->dtype == OPTCL_DTYPE_BF16  ? ":{\"dtype\":\"BF16\",\"shape\":["
                  : t->dtype == OPTCL_DTYPE_F16 ? ":{\"dtype\":\"F16\",\"shape\":["
                  : t->dtype == OPTCL__DTYPE_Q8 ? ":{\"dtype\":\"U8\",\"shape\":["
                                                : ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            append(b, d ? "," : "");
            append_u64(b, (uint64_t)t->shape[d]);
        }
        append(b, "],\"data_offsets\":[");
        append_u64(b, offset);
        append(b, ",");
        offset += (uint64_t)t->count * optcl__type_size(t->dtype);
        append_u64(b, offset);
        append(b, "]}");
    }
    append(b, "}");
    while (b->len % 8 != 0)
        append(b, " ");
}

/* count floats 0 … 255 as U8 bytes; 0 when all were written. */
static int write_bytes(FILE *fp, const float *data, size_t count)
{
    uint8_t chunk[4096];
    for (size_t done = 0; done < count;) {
        size_t n = count - done < sizeof chunk ? count - done : sizeof chunk;
        optcl__narrow(data + done, chunk, n, OPTCL__DTYPE_Q8);
        if (fwrite(chunk, 1, n, fp) != n)
            return 1;
        done += n;
    }
    return 0;
}

/* count floats as little-endian BF16 or F16, each rounded to nearest even; 0 when all were
 * written. */
static int write_half_le(FILE *fp, const float *data, size_t count, optcl_dtype dtype)
{
    unsigned char chunk[4096];
    uint16_t bits[sizeof chunk / 2];
    for (size_t done = 0; done < count;) {
        size_t n = count - done < sizeof chunk / 2 ? count - done : sizeof chunk / 2;
        optcl__narrow(data + done, bits, n, dtype);
        for (size_t k = 0; k < n; k++) {
            uint16_t b = bits[k];
            chunk[2 * k] = (unsigned char)(b & 0xFF);
            chunk[2 * k + 1] = (unsigned char)(b >> 8);
        }
        if (fwrite(chunk, 1, 2 * n, fp) != 2 * n)
            return 1;
        done += n;
    }
    return 0;
}

optcl_status optcl__st_write(const char *path, const optcl__st_tensor *tensors, size_t count,
                             const optcl__st_meta *meta, size_t meta_count, char *message,
                             size_t message_size)
{
    if (!path) {
        optcl__format(message, message_size, "optcl__st_write: path is NULL");
        return OPTCL_ERROR_NULL_POINTER;
    }
    if ((count > 0 && !tensors) || (meta_count > 0 && !meta))
        return optcl__fail_path(message, message_size, OPTCL_ERROR_NULL_POINTER, path, "%s is NULL",
                                count > 0 && !tensors ? "tensors" : "metadata");
    const char **names = malloc((count + meta_count + 1) * sizeof *names);
    if (!names)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_OUT_OF_HOST_MEMORY, path,
                                "out of host memory");
    const char **keys = names + count;
    optcl_status st = check_write_args(path, tensors, count, meta, meta_count, names, keys, message,
                                       message_size);
    int oom_names = 0, oom_keys = 0;
    const char *dup_name = st == OPTCL_SUCCESS ? find_duplicate(names, count, &oom_names) : NULL;
    const char *dup_key = st == OPTCL_SUCCESS ? find_duplicate(keys, meta_count, &oom_keys) : NULL;
    free(names);
    if (st != OPTCL_SUCCESS)
        return st;
    char quoted[OPTCL__JSON_QUOTE_SIZE];
    if (oom_names || oom_keys)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_OUT_OF_HOST_MEMORY, path,
                                "out of host memory");
    if (dup_name || dup_key) {
        optcl__json_quote(quoted, sizeof quoted, dup_name ? dup_name : dup_key,
                          strlen(dup_name ? dup_name : dup_key));
        return optcl__fail_path(message, message_size, OPTCL_ERROR_INVALID_ARGUMENT, path,
                                "%s '%s' appears twice", dup_name ? "tensor name" : "metadata key",
                                quoted);
    }

    text_buf header = {0};
    build_header(&header, tensors, count, meta, meta_count);
    if (header.oom) {
        free(header.p);
        return optcl__fail_path(message, message_size, OPTCL_ERROR_OUT_OF_HOST_MEMORY, path,
                                "out of host memory for the header");
    }
    if (header.len > OPTCL__ST_MAX_HEADER) {
        free(header.p);
        return optcl__fail_path(message, message_size, OPTCL_ERROR_INVALID_ARGUMENT, path,
                                "the header would be %zu bytes, more than the limit of %u",
                                header.len, OPTCL__ST_MAX_HEADER);
    }
    unsigned char pre[8];
    for (int i = 0; i < 8; i++)
        pre[i] = (unsigned char)((uint64_t)header.len >> (8 * i));

    optcl__atomic_file f;
    st = optcl__atomic_open(&f, path, message, message_size);
    if (st != OPTCL_SUCCESS) {
        free(header.p);
        return st;
    }
    errno = 0;
    int failed =
        fwrite(pre, 1, 8, f.fp) != 8 || fwrite(header.p, 1, header.len, f.fp) != header.len;
    for (size_t i = 0; i < count && !failed; i++)
        failed = tensors[i].dtype == OPTCL__DTYPE_Q8
                     ? write_bytes(f.fp, tensors[i].data, tensors[i].count)
                 : tensors[i].dtype != OPTCL_DTYPE_F32
                     ? write_half_le(f.fp, tensors[i].data, tensors[i].count, tensors[i].dtype)
                     : optcl__write_floats_le(f.fp, tensors[i].data, tensors[i].count);
    free(header.p);
    if (failed) {
        int err = errno ? errno : EIO;
        optcl__atomic_abort(&f);
        return optcl__fail_path(message, message_size, OPTCL_ERROR_IO, path, "cannot write: %s",
                                strerror(err));
    }
    return optcl__atomic_commit(&f, message, message_size);
}
