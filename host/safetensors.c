/* safetensors.c — reading safetensors files of F32, BF16, F16 and U8 tensors and string metadata
 * (optcl's checkpoints): the whole file is validated before anything is returned. The writer
 * is in safetensors_write.c. */
#include "safetensors.h"
#include "atomic_file.h"
#include "file_format.h"
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ST_ALIGN 64 /* the data area's alignment in memory: a cache line */

/* "[2, 3]", "[]": a shape as the header spells it, for messages. */
void optcl__st_shape_text(char *buf, size_t size, int ndim, const int64_t *shape)
{
    optcl__format(buf, size, "[");
    for (int i = 0; i < ndim; i++) {
        size_t used = strlen(buf);
        optcl__format(buf + used, size - used, "%s%" PRId64, i ? ", " : "", shape[i]);
    }
    size_t used = strlen(buf);
    optcl__format(buf + used, size - used, "]");
}

/* The element count of a non-negative shape (1 for a scalar); 0 with *overflow set when the
 * byte size does not fit in size_t. A zero dimension empties the tensor whatever the others. */
size_t optcl__st_shape_count(int ndim, const int64_t *shape, int *overflow)
{
    *overflow = 0;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0)
            return 0;
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if ((uint64_t)shape[i] > SIZE_MAX / sizeof(float) / count) {
            *overflow = 1;
            return 0;
        }
        count *= (size_t)shape[i];
    }
    return count;
}

/* "is %s, not an object": what a header value is, for messages. */
static const char *type_name(optcl__json_type type)
{
    static const char *const names[] = {
        "null",     "a boolean", "a boolean", "an integer", "a non-integer number",
        "a string", "an array",  "an object"};
    return names[type];
}

/* ------------------------------------------------------------------------------------------ */
/* Reading                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* What the header says about one tensor, checked, before anything is copied. */
typedef struct tensor_info {
    const optcl__json_value *member; /* its key is the name */
    int ndim;
    int64_t shape[OPTCL_MAX_DIMS];
    size_t count;
    optcl_dtype dtype;
    uint64_t begin, end;
} tensor_info;

static size_t elem_size(const tensor_info *t)
{
    return optcl__type_size(t->dtype);
}

/* A tensor the reader gives a float copy of its own: BF16, F16 or U8 widened, or F32 whose offset
 * is not a multiple of 4 (possible once 2-byte tensors come before it). */
static bool needs_copy(const tensor_info *t)
{
    return t->dtype != OPTCL_DTYPE_F32 || t->begin % sizeof(float) != 0;
}

/* The names the format gives the types. */
static const char *const st_dtype_names[OPTCL_DTYPE_COUNT + 1] = {"F32", "BF16", "F16", "U8"};

typedef struct reader {
    const char *path;
    char *message;
    size_t message_size;
    const optcl__json_doc *doc;
    bool header_only; /* optcl__st_read_header: the tensors' data is not read */
} reader;

#define BAD(rd, ...)                                                                               \
    optcl__fail_path((rd)->message, (rd)->message_size, OPTCL_ERROR_FORMAT, (rd)->path, __VA_ARGS__)

/* The tensor's name, quoted for a message, in buf (OPTCL__JSON_QUOTE_SIZE bytes). Made only
 * when needed: a header may name millions of tensors. */
static const char *quote_name(char *buf, const tensor_info *t)
{
    optcl__json_quote(buf, OPTCL__JSON_QUOTE_SIZE, t->member->key, t->member->key_length);
    return buf;
}

static optcl_status check_shape(reader *rd, tensor_info *t, const optcl__json_value *v,
                                const char *name)
{
    if (v->type != OPTCL__JSON_ARRAY)
        return BAD(rd, "tensor '%s': 'shape' is %s, not an array", name, type_name(v->type));
    if (v->length > OPTCL_MAX_DIMS)
        return BAD(rd, "tensor '%s': shape has %zu dimensions, more than %d", name, v->length,
                   OPTCL_MAX_DIMS);
    t->ndim = 0;
    for (const optcl__json_value *d = optcl__json_first(rd->doc, v); d;
         d = optcl__json_next(rd->doc, d)) {
        if (d->type != OPTCL__JSON_INTEGER)
            return BAD(rd, "tensor '%s': shape has %s, not an integer", name, type_name(d->type));
        if (d->integer < 0)
            return BAD(rd, "tensor '%s': shape has a negative dimension %" PRId64, name,
                       d->integer);
        t->shape[t->ndim++] = d->integer;
    }
    int overflow;
    t->count = optcl__st_shape_count(t->ndim, t->shape, &overflow);
    if (overflow) {
        char text[OPTCL__ST_SHAPE_TEXT];
        optcl__st_shape_text(text, sizeof text, t->ndim, t->shape);
        return BAD(rd, "tensor '%s': shape %s is too large to address", name, text);
    }
    return OPTCL_SUCCESS;
}

static optcl_status check_offsets(reader *rd, tensor_info *t, const optcl__json_value *v,
                                  const char *name)
{
    const optcl__json_value *b = optcl__json_first(rd->doc, v);
    const optcl__json_value *e = optcl__json_next(rd->doc, b);
    if (v->type != OPTCL__JSON_ARRAY || v->length != 2 || b->type != OPTCL__JSON_INTEGER ||
        e->type != OPTCL__JSON_INTEGER)
        return BAD(rd, "tensor '%s': 'data_offsets' is not an array of two integers", name);
    if (b->integer < 0 || e->integer < 0)
        return BAD(rd,
                   "tensor '%s': data_offsets [%" PRId64 ", %" PRId64 "] contain a "
                   "negative offset",
                   name, b->integer, e->integer);
    if (b->integer > e->integer)
        return BAD(rd,
                   "tensor '%s': data_offsets [%" PRId64 ", %" PRId64 "] end before they "
                   "begin",
                   name, b->integer, e->integer);
    t->begin = (uint64_t)b->integer;
    t->end = (uint64_t)e->integer;
    if (t->end - t->begin != (uint64_t)t->count * elem_size(t)) {
        char text[OPTCL__ST_SHAPE_TEXT];
        optcl__st_shape_text(text, sizeof text, t->ndim, t->shape);
        return BAD(rd,
                   "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] do not match "
                   "shape %s %s (%zu bytes)",
                   name, t->begin, t->end, text, st_dtype_names[t->dtype],
                   t->count * elem_size(t));
    }
    return OPTCL_SUCCESS;
}

/* One tensor: an object of exactly dtype "F32", "BF16" or "F16", shape and data_offsets that
 * agree. */
static optcl_status check_tensor(reader *rd, tensor_info *t, const optcl__json_value *m)
{
    *t = (tensor_info){.member = m};
    char name[OPTCL__JSON_QUOTE_SIZE];
    quote_name(name, t);
    if (strlen(m->key) != m->key_length)
        return BAD(rd, "tensor '%s': the name contains a NUL character", name);
    if (m->type != OPTCL__JSON_OBJECT)
        return BAD(rd, "tensor '%s' is %s, not an object", name, type_name(m->type));
    static const char *const fields[] = {"dtype", "shape", "data_offsets"};
    for (const optcl__json_value *f = optcl__json_first(rd->doc, m); f;
         f = optcl__json_next(rd->doc, f)) {
        int known = 0;
        for (size_t i = 0; i < 3; i++)
            known |= f->key_length == strlen(fields[i]) && strcmp(f->key, fields[i]) == 0;
        if (!known) {
            char field[OPTCL__JSON_QUOTE_SIZE];
            optcl__json_quote(field, sizeof field, f->key, f->key_length);
            return BAD(rd, "tensor '%s' has an unknown field '%s'", name, field);
        }
    }
    const optcl__json_value *v[3];
    for (size_t i = 0; i < 3; i++)
        if (!(v[i] = optcl__json_get(rd->doc, m, fields[i])))
            return BAD(rd, "tensor '%s' has no '%s'", name, fields[i]);
    if (v[0]->type != OPTCL__JSON_STRING)
        return BAD(rd, "tensor '%s': 'dtype' is %s, not a string", name, type_name(v[0]->type));
    int known = -1;
    for (int d = 0; d <= OPTCL_DTYPE_COUNT; d++) /* U8: OPTCL__DTYPE_Q8 */
        if (strcmp(v[0]->string, st_dtype_names[d]) == 0 &&
            v[0]->length == strlen(st_dtype_names[d]))
            known = d;
    if (known < 0) {
        char dtype[OPTCL__JSON_QUOTE_SIZE];
        optcl__json_quote(dtype, sizeof dtype, v[0]->string, v[0]->length);
        return BAD(rd, "tensor '%s': dtype '%s' is not supported (only F32, BF16, F16 and U8)",
                   name, dtype);
    }
    t->dtype = (optcl_dtype)known;
    optcl_status st = check_shape(rd, t, v[1], name);
    return st != OPTCL_SUCCESS ? st : check_offsets(rd, t, v[2], name);
}

static optcl_status check_metadata(reader *rd, const optcl__json_value *m, size_t *strings)
{
    if (m->type != OPTCL__JSON_OBJECT)
        return BAD(rd, "'__metadata__' is %s, not an object", type_name(m->type));
    for (const optcl__json_value *e = optcl__json_first(rd->doc, m); e;
         e = optcl__json_next(rd->doc, e)) {
        char key[OPTCL__JSON_QUOTE_SIZE];
        optcl__json_quote(key, sizeof key, e->key, e->key_length);
        if (e->type != OPTCL__JSON_STRING)
            return BAD(rd, "'__metadata__' value of '%s' is %s, not a string", key,
                       type_name(e->type));
        if (strlen(e->key) != e->key_length || strlen(e->string) != e->length)
            return BAD(rd, "'__metadata__' entry '%s' contains a NUL character", key);
        *strings += e->key_length + e->length + 2;
    }
    return OPTCL_SUCCESS;
}

static int compare_offsets(const void *a, const void *b)
{
    const tensor_info *x = *(tensor_info *const *)a, *y = *(tensor_info *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x < y ? -1 : x > y; /* header order: a stable, deterministic result */
}

/* The tensors' bytes, sorted by offset, must tile [0, *data_size) without gaps or overlaps, as
 * the reference implementation requires. */
static optcl_status check_tiling(reader *rd, tensor_info *infos, size_t count, uint64_t *data_size)
{
    *data_size = 0;
    tensor_info **sorted = malloc((count ? count : 1) * sizeof *sorted);
    if (!sorted)
        return optcl__fail_path(rd->message, rd->message_size, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                rd->path, "out of host memory for %zu tensors", count);
    for (size_t i = 0; i < count; i++)
        sorted[i] = &infos[i];
    qsort(sorted, count, sizeof *sorted, compare_offsets);
    optcl_status st = OPTCL_SUCCESS;
    uint64_t pos = 0;
    char name[OPTCL__JSON_QUOTE_SIZE], other[OPTCL__JSON_QUOTE_SIZE];
    for (size_t i = 0; i < count && st == OPTCL_SUCCESS; i++) {
        const tensor_info *t = sorted[i], *prev = i ? sorted[i - 1] : NULL;
        if (t->begin == pos) {
            pos = t->end;
            continue;
        }
        quote_name(name, t);
        if (!prev)
            st = BAD(rd,
                     "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] leave a gap of "
                     "%" PRIu64 " bytes at the start of the data",
                     name, t->begin, t->end, t->begin);
        else if (t->begin < pos)
            st = BAD(rd,
                     "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] overlap tensor "
                     "'%s' [%" PRIu64 ", %" PRIu64 "]",
                     name, t->begin, t->end, quote_name(other, prev), prev->begin, prev->end);
        else
            st = BAD(rd,
                     "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] leave a gap of "
                     "%" PRIu64 " bytes after tensor '%s' [%" PRIu64 ", %" PRIu64 "]",
                     name, t->begin, t->end, t->begin - pos, quote_name(other, prev), prev->begin,
                     prev->end);
    }
    free(sorted);
    *data_size = pos;
    return st;
}

/* Reads n bytes: 0 when all came, 1 at an early end of file (*got says how many), -1 on a read
 * error (errno says why). */
static int read_exact(FILE *fp, void *buf, size_t n, size_t *got)
{
    errno = 0;
    *got = fread(buf, 1, n, fp);
    if (*got == n)
        return 0;
    return ferror(fp) ? -1 : 1;
}

static optcl_status read_error(reader *rd)
{
    int err = errno ? errno : EIO;
    return optcl__fail_path(rd->message, rd->message_size, OPTCL_ERROR_IO, rd->path,
                            "cannot read: %s", strerror(err));
}

/* Copies the checked header and the data into one aligned block: the data area first (so
 * every F32 tensor at an offset of 4's floats are aligned), the float copies of the others,
 * then the entries, the metadata and their strings. Without the data (rd->header_only) the
 * block holds the rest, and the entries' data is NULL. */
static optcl_status build(reader *rd, FILE *fp, const tensor_info *infos, size_t count,
                          const optcl__json_value *meta, size_t strings, uint64_t data_size,
                          optcl__st_file *out)
{
    if (rd->header_only)
        data_size = 0;
    size_t meta_count = meta ? meta->length : 0;
    size_t fixed = count * sizeof *out->tensors + meta_count * sizeof *out->meta;
    /* The float copies take at most twice the data (2-byte types widened), and tensors tile the data
     * area, so no sum overflows here once the data fits in a quarter of the address space. */
    if (data_size > SIZE_MAX / 4)
        return optcl__fail_path(rd->message, rd->message_size, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                rd->path, "%" PRIu64 " bytes of tensor data do not fit in memory",
                                data_size);
    size_t copy_bytes = 0;
    for (size_t i = 0; i < count && !rd->header_only; i++)
        if (needs_copy(&infos[i]))
            copy_bytes += infos[i].count * sizeof(float);
    copy_bytes = optcl__round_up(copy_bytes, ST_ALIGN);
    fixed += copy_bytes;
    /* Only a pipe can get here with more data than memory: a regular file's size bounds it. */
    if (data_size > SIZE_MAX - 2 * ST_ALIGN - fixed - strings)
        return optcl__fail_path(rd->message, rd->message_size, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                rd->path, "%" PRIu64 " bytes of tensor data do not fit in memory",
                                data_size);
    size_t data_bytes = optcl__round_up((size_t)data_size, ST_ALIGN);
    size_t total = optcl__round_up(data_bytes + fixed + strings, ST_ALIGN);
    unsigned char *block = aligned_alloc(ST_ALIGN, total ? total : ST_ALIGN);
    if (!block)
        return optcl__fail_path(rd->message, rd->message_size, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                rd->path, "out of host memory for %zu bytes", total);

    size_t got = 0;
    int rc = rd->header_only ? 0 : read_exact(fp, block, (size_t)data_size, &got);
    if (rc == 0 && !rd->header_only && fgetc(fp) != EOF)
        rc = 2;
    else if (rc == 0 && ferror(fp))
        rc = -1;
    if (rc != 0) {
        free(block);
        if (rc < 0)
            return read_error(rd);
        if (rc == 2)
            return BAD(rd, "unexpected bytes after the %" PRIu64 " bytes of tensor data",
                       data_size);
        return BAD(rd,
                   "data is truncated: the tensors need %" PRIu64 " bytes, %zu follow the "
                   "header",
                   data_size, got);
    }

    float *copies = (float *)(block + data_bytes);
    struct optcl__st_entry *entries =
        (struct optcl__st_entry *)(block + data_bytes + copy_bytes);
    optcl__st_meta *pairs = (optcl__st_meta *)(entries + count);
    char *text = (char *)(pairs + meta_count);
    for (size_t i = 0; i < count; i++) {
        const tensor_info *t = &infos[i];
        struct optcl__st_entry *e = &entries[i];
        e->name = memcpy(text, t->member->key, t->member->key_length + 1);
        text += t->member->key_length + 1;
        e->ndim = t->ndim;
        memcpy(e->shape, t->shape, sizeof e->shape);
        e->count = t->count;
        e->dtype = t->dtype;
        e->data = NULL;
        if (rd->header_only)
            continue;
        const unsigned char *raw = block + t->begin;
        if (!needs_copy(t)) {
            e->data = (float *)(block + t->begin);
            if (optcl__host_is_big_endian())
                optcl__swap_floats(e->data, e->count);
            continue;
        }
        e->data = copies;
        copies += t->count;
        for (size_t k = 0; k < t->count; k++) {
            if (t->dtype == OPTCL__DTYPE_Q8) {
                e->data[k] = raw[k];
            } else if (t->dtype != OPTCL_DTYPE_F32) { /* little-endian 16 bits */
                uint16_t bits = (uint16_t)(raw[2 * k] | raw[2 * k + 1] << 8);
                optcl__widen(&bits, &e->data[k], 1, t->dtype);
            } else {
                memcpy(&e->data[k], raw + 4 * k, sizeof(float));
                if (optcl__host_is_big_endian())
                    optcl__swap_floats(&e->data[k], 1);
            }
        }
    }
    size_t k = 0;
    for (const optcl__json_value *m = optcl__json_first(rd->doc, meta); m;
         m = optcl__json_next(rd->doc, m), k++) {
        pairs[k].key = memcpy(text, m->key, m->key_length + 1);
        text += m->key_length + 1;
        pairs[k].value = memcpy(text, m->string, m->length + 1);
        text += m->length + 1;
    }
    *out = (optcl__st_file){count, count ? entries : NULL, meta_count, meta_count ? pairs : NULL,
                            block};
    return OPTCL_SUCCESS;
}

/* Everything after the header text was read: parse, check, then copy. */
static optcl_status read_body(reader *rd, FILE *fp, const char *header, size_t header_len,
                              int sized, uint64_t data_area, optcl__st_file *out)
{
    if (header_len == 0 || header[0] != '{')
        return BAD(rd, "header does not start with '{'");
    char why[OPTCL__MESSAGE_MAX];
    optcl__json_doc doc;
    optcl_status st = optcl__json_parse(header, header_len, &doc, why, sizeof why);
    if (st != OPTCL_SUCCESS)
        return optcl__fail_path(rd->message, rd->message_size, st, rd->path,
                                "header is not valid JSON: %s", why);
    rd->doc = &doc;
    const optcl__json_value *root = &doc.values[0], *meta = NULL;
    size_t count = root->length, strings = 0;
    tensor_info *infos = NULL;
    if (root->type != OPTCL__JSON_OBJECT) {
        st = BAD(rd, "header is %s, not a JSON object", type_name(root->type));
        goto done;
    }
    meta = optcl__json_get(&doc, root, "__metadata__");
    if (meta) {
        count--;
        st = check_metadata(rd, meta, &strings);
        if (st != OPTCL_SUCCESS)
            goto done;
    }
    infos = malloc((count ? count : 1) * sizeof *infos);
    if (!infos) {
        st = optcl__fail_path(rd->message, rd->message_size, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                              rd->path, "out of host memory for %zu tensors", count);
        goto done;
    }
    size_t i = 0;
    for (const optcl__json_value *m = optcl__json_first(&doc, root); m;
         m = optcl__json_next(&doc, m)) {
        if (m == meta)
            continue;
        tensor_info *t = &infos[i++];
        st = check_tensor(rd, t, m);
        char name[OPTCL__JSON_QUOTE_SIZE];
        if (st == OPTCL_SUCCESS && sized && t->end > data_area)
            st = BAD(rd,
                     "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] run past the "
                     "end of the data (%" PRIu64 " bytes follow the header)",
                     quote_name(name, t), t->begin, t->end, data_area);
        if (st != OPTCL_SUCCESS)
            goto done;
        strings += m->key_length + 1;
    }
    uint64_t data_size = 0;
    st = check_tiling(rd, infos, count, &data_size);
    if (st == OPTCL_SUCCESS && sized && data_size < data_area)
        st = BAD(rd,
                 "%" PRIu64 " unexpected bytes after the tensor data (the tensors cover "
                 "%" PRIu64 " of %" PRIu64 " bytes)",
                 data_area - data_size, data_size, data_area);
    if (st == OPTCL_SUCCESS)
        st = build(rd, fp, infos, count, meta, strings, data_size, out);
done:
    free(infos);
    optcl__json_free(&doc);
    return st;
}

static optcl_status read_file(const char *path, bool header_only, optcl__st_file *out,
                              char *message, size_t message_size)
{
    if (out)
        *out = (optcl__st_file){0};
    if (!path) {
        optcl__format(message, message_size, "reading a safetensors file: path is NULL");
        return OPTCL_ERROR_NULL_POINTER;
    }
    if (!out)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_NULL_POINTER, path,
                                "output is NULL");
    reader rd = {path, message, message_size, NULL, header_only};
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_IO, path, "cannot open: %s",
                                strerror(errno));

    /* A regular file's size bounds every length before anything is allocated; other files
     * (pipes) rely on the checks at each read. */
    struct stat sb;
    int sized = fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode);
    uint64_t file_size = sized ? (uint64_t)sb.st_size : 0;
    unsigned char pre[8] = {0};
    size_t got;
    char *header = NULL;
    optcl_status st = OPTCL_SUCCESS;
    int rc = read_exact(fp, pre, 8, &got);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | pre[i];
    if (rc < 0)
        st = read_error(&rd);
    else if (rc > 0)
        st = BAD(&rd, "file is %zu bytes, too short for the 8-byte header length", got);
    else if (n > OPTCL__ST_MAX_HEADER) /* most often another kind of file */
        st = BAD(&rd,
                 "not a safetensors file: its first 8 bytes give a header length of %" PRIu64
                 ", which exceeds the limit of %u bytes",
                 n, OPTCL__ST_MAX_HEADER);
    else if (sized && n > file_size - 8)
        st = BAD(&rd, "header length %" PRIu64 " runs past the end of the file (%" PRIu64 " bytes)",
                 n, file_size);
    else if (!(header = malloc((size_t)n + 1)))
        st = optcl__fail_path(message, message_size, OPTCL_ERROR_OUT_OF_HOST_MEMORY, path,
                              "out of host memory for a %" PRIu64 "-byte header", n);
    else if ((rc = read_exact(fp, header, (size_t)n, &got)) != 0)
        st = rc < 0 ? read_error(&rd)
                    : BAD(&rd, "header is truncated (%" PRIu64 " bytes declared, %zu present)", n,
                          got);
    else
        st = read_body(&rd, fp, header, (size_t)n, sized, sized ? file_size - 8 - n : 0, out);
    free(header);
    fclose(fp); /* read-only: a failing close loses nothing */
    return st;
}

optcl_status optcl__st_read(const char *path, optcl__st_file *out, char *message,
                            size_t message_size)
{
    return read_file(path, false, out, message, message_size);
}

optcl_status optcl__st_read_header(const char *path, optcl__st_file *out, char *message,
                                   size_t message_size)
{
    return read_file(path, true, out, message, message_size);
}

void optcl__st_free(optcl__st_file *file)
{
    if (!file)
        return;
    free(file->storage);
    *file = (optcl__st_file){0};
}

const struct optcl__st_entry *optcl__st_find(const optcl__st_file *file, const char *name)
{
    if (!file || !name)
        return NULL;
    for (size_t i = 0; i < file->tensor_count; i++)
        if (strcmp(file->tensors[i].name, name) == 0)
            return &file->tensors[i];
    return NULL;
}

const char *optcl__st_meta_get(const optcl__st_file *file, const char *key)
{
    if (!file || !key)
        return NULL;
    for (size_t i = 0; i < file->meta_count; i++)
        if (strcmp(file->meta[i].key, key) == 0)
            return file->meta[i].value;
    return NULL;
}

