/* npy.c — NumPy .npy files of float32 arrays: reads versions 1.0–3.0 ('<f4', C order) and
 * writes version 1.0 crash-safely through atomic_file.c. */
#include "atomic_file.h"
#include "file_format.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

#define NPY_ALIGN 64 /* numpy pads the header so the data starts on a 64-byte boundary */
/* Real headers are a few hundred bytes; the cap keeps a corrupt length field of a file that
 * cannot be measured (a pipe) from allocating gigabytes before anything is checked. */
#define NPY_HEADER_MAX (1u << 20)
#define NPY_QUOTE_MAX 40   /* at most this much of a file's text is quoted in a message */
#define NPY_SHAPE_TEXT 256 /* "(d, d, …)" for OPTCL_NPY_MAX_DIMS dims of up to 20 digits */

/* "(2, 3)", "(5,)" or "()": Python's repr of a shape tuple, which is what numpy writes. */
static void shape_text(char *buf, size_t size, int ndim, const size_t *shape)
{
    size_t used = 0;
    optcl__format(buf, size, "(");
    for (int i = 0; i < ndim; i++) {
        used = strlen(buf);
        optcl__format(buf + used, size - used, "%s%zu", i ? ", " : "", shape[i]);
    }
    used = strlen(buf);
    optcl__format(buf + used, size - used, "%s", ndim == 1 ? ",)" : ")");
}

/* The element count of a shape (1 for a scalar), or 0 with *overflow set when
 * count * sizeof(float) does not fit in size_t. A zero dimension makes the array empty however
 * large the others are. */
static size_t shape_count(int ndim, const size_t *shape, int *overflow)
{
    *overflow = 0;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0)
            return 0;
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (count > SIZE_MAX / shape[i]) {
            *overflow = 1;
            return 0;
        }
        count *= shape[i];
    }
    if (count > SIZE_MAX / sizeof(float)) {
        *overflow = 1;
        return 0;
    }
    return count;
}

/* ------------------------------------------------------------------------------------------ */
/* Header dict                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* The header is a Python dict literal. Only the subset numpy itself writes is understood:
 * quoted strings without escapes, True/False, and a tuple of non-negative integers. */
typedef struct parser {
    const char *begin, *p, *end;
    const char *path;
    char *message;
    size_t message_size;
} parser;

typedef struct header {
    const char *descr; /* points into the header text; NULL when missing */
    size_t descr_len;
    int fortran_order; /* -1: missing */
    int has_shape;
    int ndim;
    size_t shape[OPTCL_NPY_MAX_DIMS];
} header;

static optcl_status malformed(parser *ps, const char *what)
{
    return optcl__fail_path(ps->message, ps->message_size, OPTCL_ERROR_FORMAT, ps->path,
                            "malformed header: %s at byte %zu of the header", what,
                            (size_t)(ps->p - ps->begin));
}

static void skip_space(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Skips white space and says whether c comes next. */
static int peek(parser *ps, char c)
{
    skip_space(ps);
    return ps->p < ps->end && *ps->p == c;
}

/* Skips white space, then consumes c if it comes next. */
static int accept(parser *ps, char c)
{
    if (!peek(ps, c))
        return 0;
    ps->p++;
    return 1;
}

static optcl_status parse_string(parser *ps, const char **text, size_t *len)
{
    skip_space(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
        return malformed(ps, "expected a quoted string");
    char quote = *ps->p++;
    const char *start = ps->p;
    /* Printable ASCII only: numpy never escapes anything in these strings, and it keeps
     * whatever gets quoted in a message on one readable line. */
    while (ps->p < ps->end && *ps->p != quote) {
        if (*ps->p < 0x20 || *ps->p > 0x7e || *ps->p == '\\')
            return malformed(ps, "unexpected character in a string");
        ps->p++;
    }
    if (ps->p >= ps->end)
        return malformed(ps, "unterminated string");
    *text = start;
    *len = (size_t)(ps->p - start);
    ps->p++;
    return OPTCL_SUCCESS;
}

static int is_word(const char *text, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(text, word, len) == 0;
}

static optcl_status parse_bool(parser *ps, int *value)
{
    skip_space(ps);
    const char *start = ps->p;
    while (ps->p < ps->end && (isalnum((unsigned char)*ps->p) || *ps->p == '_'))
        ps->p++;
    size_t len = (size_t)(ps->p - start);
    if (is_word(start, len, "True"))
        *value = 1;
    else if (is_word(start, len, "False"))
        *value = 0;
    else {
        ps->p = start;
        return malformed(ps, "'fortran_order' is not True or False");
    }
    return OPTCL_SUCCESS;
}

static optcl_status parse_dim(parser *ps, size_t *value)
{
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == '-')
        return optcl__fail_path(ps->message, ps->message_size, OPTCL_ERROR_FORMAT, ps->path,
                                "'shape' has a negative dimension");
    if (ps->p >= ps->end || !isdigit((unsigned char)*ps->p))
        return malformed(ps, "expected a dimension in 'shape'");
    size_t v = 0;
    while (ps->p < ps->end && isdigit((unsigned char)*ps->p)) {
        size_t d = (size_t)(*ps->p - '0');
        if (v > (SIZE_MAX - d) / 10)
            return optcl__fail_path(ps->message, ps->message_size, OPTCL_ERROR_FORMAT, ps->path,
                                    "a dimension in 'shape' does not fit in size_t");
        v = v * 10 + d;
        ps->p++;
    }
    /* Files written by numpy under Python 2 spell long integers "3L". */
    if (ps->p < ps->end && (*ps->p == 'L' || *ps->p == 'l'))
        ps->p++;
    *value = v;
    return OPTCL_SUCCESS;
}

static optcl_status parse_shape(parser *ps, header *h)
{
    if (!accept(ps, '('))
        return malformed(ps, "'shape' is not a tuple");
    h->ndim = 0;
    if (accept(ps, ')'))
        return OPTCL_SUCCESS;
    for (;;) {
        if (h->ndim == OPTCL_NPY_MAX_DIMS)
            return optcl__fail_path(ps->message, ps->message_size, OPTCL_ERROR_FORMAT, ps->path,
                                    "'shape' has more than %d dimensions", OPTCL_NPY_MAX_DIMS);
        optcl_status st = parse_dim(ps, &h->shape[h->ndim]);
        if (st != OPTCL_SUCCESS)
            return st;
        h->ndim++;
        if (accept(ps, ',')) {
            if (accept(ps, ')'))
                return OPTCL_SUCCESS;
            if (ps->p == ps->end || *ps->p == '}')
                return malformed(ps, "'shape' tuple is not closed");
        } else if (accept(ps, ')')) {
            /* In Python "(5)" is the integer 5, not a tuple: a 1-D shape needs its comma. */
            if (h->ndim == 1)
                return malformed(ps, "'shape' (n) is not a tuple (write (n,))");
            return OPTCL_SUCCESS;
        } else {
            return malformed(ps, "expected ',' or ')' in 'shape'");
        }
    }
}

static optcl_status parse_entry(parser *ps, header *h)
{
    const char *key;
    size_t key_len;
    optcl_status st = parse_string(ps, &key, &key_len);
    if (st != OPTCL_SUCCESS)
        return st;
    if (!accept(ps, ':'))
        return malformed(ps, "expected ':' after a key");

    int duplicate = 0;
    if (is_word(key, key_len, "descr")) {
        duplicate = h->descr != NULL;
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == '[')
            return optcl__fail_path(ps->message, ps->message_size, OPTCL_ERROR_FORMAT, ps->path,
                                    "dtype is a structured type, not float32 ('<f4')");
        st = parse_string(ps, &h->descr, &h->descr_len);
    } else if (is_word(key, key_len, "fortran_order")) {
        duplicate = h->fortran_order >= 0;
        st = parse_bool(ps, &h->fortran_order);
    } else if (is_word(key, key_len, "shape")) {
        duplicate = h->has_shape;
        h->has_shape = 1;
        st = parse_shape(ps, h);
    } else {
        int shown = key_len > NPY_QUOTE_MAX ? NPY_QUOTE_MAX : (int)key_len;
        return optcl__fail_path(ps->message, ps->message_size, OPTCL_ERROR_FORMAT, ps->path,
                                "header has an unknown key '%.*s'", shown, key);
    }
    if (st == OPTCL_SUCCESS && duplicate)
        return optcl__fail_path(ps->message, ps->message_size, OPTCL_ERROR_FORMAT, ps->path,
                                "header repeats the key '%.*s'", (int)key_len, key);
    return st;
}

/* Parses the whole header text (the dict, then only white space) and checks that it describes
 * a C-ordered float32 array. */
static optcl_status parse_header(const char *text, size_t len, const char *path, header *h,
                                 char *message, size_t message_size)
{
    parser ps = {text, text, text + len, path, message, message_size};
    *h = (header){0};
    h->fortran_order = -1;

    if (!accept(&ps, '{'))
        return malformed(&ps, "expected '{'");
    while (!accept(&ps, '}')) {
        optcl_status st = parse_entry(&ps, h);
        if (st != OPTCL_SUCCESS)
            return st;
        if (!accept(&ps, ',') && !peek(&ps, '}'))
            return malformed(&ps, "expected ',' or '}'");
    }
    skip_space(&ps);
    if (ps.p != ps.end)
        return malformed(&ps, "unexpected text after the dict");

    const char *missing = !h->descr              ? "descr"
                          : h->fortran_order < 0 ? "fortran_order"
                          : !h->has_shape        ? "shape"
                                                 : NULL;
    if (missing)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                "header has no '%s' key", missing);
    if (!is_word(h->descr, h->descr_len, "<f4")) {
        int shown = h->descr_len > NPY_QUOTE_MAX ? NPY_QUOTE_MAX : (int)h->descr_len;
        return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                "dtype '%.*s' is not float32 ('<f4')", shown, h->descr);
    }
    if (h->fortran_order)
        return optcl__fail_path(
            message, message_size, OPTCL_ERROR_FORMAT, path,
            "Fortran order (fortran_order: True) is not supported; save a C-ordered "
            "array");
    return OPTCL_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Reads n bytes: 0 when all came, 1 at an early end of file (*got says how many), -1 on a read
 * error (errno says why). */
static int read_exact(FILE *fp, void *buf, size_t n, size_t *got)
{
    errno = 0;
    size_t m = fread(buf, 1, n, fp);
    if (got)
        *got = m;
    if (m == n)
        return 0;
    return ferror(fp) ? -1 : 1;
}

static optcl_status read_error(const char *path, char *message, size_t message_size)
{
    int err = errno ? errno : EIO;
    return optcl__fail_path(message, message_size, OPTCL_ERROR_IO, path, "cannot read: %s",
                            strerror(err));
}

/* Everything after fopen: on failure *out is untouched and nothing stays allocated. */
static optcl_status read_stream(FILE *fp, const char *path, optcl_array *out, char *message,
                                size_t message_size)
{
    /* A regular file's size lets every length be checked before anything is allocated; other
     * files (pipes) fall back to the checks on each read. */
    struct stat st;
    int sized = fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode);
    unsigned long long file_size = sized ? (unsigned long long)st.st_size : 0;

    unsigned char pre[12];
    size_t got;
    int rc = read_exact(fp, pre, 8, &got);
    if (rc < 0)
        return read_error(path, message, message_size);
    if (memcmp(pre, npy_magic, got < 6 ? got : 6) != 0)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                "not a .npy file (bad magic; expected \\x93NUMPY)");
    if (rc > 0)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                "header is truncated (the file is %zu bytes)", got);

    unsigned major = pre[6], minor = pre[7];
    size_t len_bytes = major == 1 ? 2 : 4;
    if ((major < 1 || major > 3) || minor != 0)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                "unsupported .npy version %u.%u (1.0, 2.0 and 3.0 are read)", major,
                                minor);
    rc = read_exact(fp, pre + 8, len_bytes, &got);
    if (rc < 0)
        return read_error(path, message, message_size);
    if (rc > 0)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                "header is truncated (the file is %zu bytes)", 8 + got);
    unsigned long header_len = (unsigned long)pre[8] | (unsigned long)pre[9] << 8;
    if (len_bytes == 4)
        header_len |= (unsigned long)pre[10] << 16 | (unsigned long)pre[11] << 24;
    size_t data_offset = 8 + len_bytes + header_len;

    if (sized && data_offset > file_size)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                "header length %lu runs past the end of the file (%llu bytes)",
                                header_len, file_size);
    if (header_len > NPY_HEADER_MAX)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                "header length %lu exceeds the limit of %u bytes", header_len,
                                NPY_HEADER_MAX);

    char *text = malloc(header_len + 1);
    if (!text)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_OUT_OF_HOST_MEMORY, path,
                                "out of host memory for a %lu-byte header", header_len);
    rc = read_exact(fp, text, header_len, &got);
    if (rc != 0) {
        free(text);
        if (rc < 0)
            return read_error(path, message, message_size);
        return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                "header is truncated (%lu bytes declared, %zu present)", header_len,
                                got);
    }
    text[header_len] = '\0';
    header h;
    optcl_status status = parse_header(text, header_len, path, &h, message, message_size);
    free(text); /* h.descr pointed into text; only the shape is used from here on */
    if (status != OPTCL_SUCCESS)
        return status;

    int overflow;
    size_t count = shape_count(h.ndim, h.shape, &overflow);
    char shape_buf[NPY_SHAPE_TEXT];
    shape_text(shape_buf, sizeof shape_buf, h.ndim, h.shape);
    if (overflow)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                "shape %s is too large to address", shape_buf);
    size_t bytes = count * sizeof(float);
    if (sized) {
        unsigned long long present = file_size - data_offset;
        if (present < bytes)
            return optcl__fail_path(
                message, message_size, OPTCL_ERROR_FORMAT, path,
                "data is truncated: shape %s needs %zu bytes, %llu follow the header", shape_buf,
                bytes, present);
        if (present > bytes)
            return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                    "%llu unexpected bytes after the data of shape %s",
                                    present - bytes, shape_buf);
    }

    /* Never malloc(0): an empty array still gets a valid pointer, so data is NULL only for an
     * empty optcl_array. */
    float *data = malloc(bytes ? bytes : sizeof(float));
    if (!data)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_OUT_OF_HOST_MEMORY, path,
                                "out of host memory for %zu bytes of data", bytes);
    rc = read_exact(fp, data, bytes, &got);
    if (rc == 0 && fgetc(fp) != EOF)
        rc = 2;
    else if (rc == 0 && ferror(fp))
        rc = -1;
    if (rc != 0) {
        free(data);
        if (rc < 0)
            return read_error(path, message, message_size);
        if (rc == 2)
            return optcl__fail_path(message, message_size, OPTCL_ERROR_FORMAT, path,
                                    "unexpected bytes after the data of shape %s", shape_buf);
        return optcl__fail_path(
            message, message_size, OPTCL_ERROR_FORMAT, path,
            "data is truncated: shape %s needs %zu bytes, %zu follow the header", shape_buf, bytes,
            got);
    }
    if (optcl__host_is_big_endian())
        optcl__swap_floats(data, count);

    out->data = data;
    out->ndim = h.ndim;
    for (int i = 0; i < h.ndim; i++)
        out->shape[i] = h.shape[i];
    out->count = count;
    return OPTCL_SUCCESS;
}

optcl_status optcl_npy_read(const char *path, optcl_array *out, char *message, size_t message_size)
{
    if (out)
        *out = (optcl_array){0};
    if (!path) {
        optcl__format(message, message_size, "optcl_npy_read: path is NULL");
        return OPTCL_ERROR_NULL_POINTER;
    }
    if (!out)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_NULL_POINTER, path,
                                "output array is NULL");

    FILE *fp = fopen(path, "rb");
    if (!fp)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_IO, path, "cannot open: %s",
                                strerror(errno));
    optcl_status status = read_stream(fp, path, out, message, message_size);
    fclose(fp); /* read-only: a failing close loses nothing */
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                     */
/* ------------------------------------------------------------------------------------------ */

optcl_status optcl_npy_write(const char *path, const float *data, const size_t *shape, int ndim,
                             char *message, size_t message_size)
{
    if (!path) {
        optcl__format(message, message_size, "optcl_npy_write: path is NULL");
        return OPTCL_ERROR_NULL_POINTER;
    }
    if (ndim < 0 || ndim > OPTCL_NPY_MAX_DIMS)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_INVALID_ARGUMENT, path,
                                "ndim %d is outside 0 ... %d", ndim, OPTCL_NPY_MAX_DIMS);
    if (ndim > 0 && !shape)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_NULL_POINTER, path,
                                "shape is NULL");
    int overflow;
    size_t count = shape_count(ndim, shape, &overflow);
    if (overflow)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_INVALID_ARGUMENT, path,
                                "shape is too large to address");
    if (count > 0 && !data)
        return optcl__fail_path(message, message_size, OPTCL_ERROR_NULL_POINTER, path,
                                "data is NULL");

    /* Byte for byte what numpy's np.save writes for version 1.0, so files diff cleanly against
     * ones numpy made. */
    char shape_buf[NPY_SHAPE_TEXT];
    shape_text(shape_buf, sizeof shape_buf, ndim, shape);
    char head[10 + NPY_SHAPE_TEXT + 128];
    memcpy(head, npy_magic, sizeof npy_magic);
    head[6] = 1;
    head[7] = 0;
    optcl__format(head + 10, sizeof head - 10,
                  "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape_buf);
    size_t dict_len = strlen(head + 10);
    if (ndim > 0) {
        /* Recent numpy leaves room for the first dimension to grow to 21 digits, so the
         * header can be rewritten in place when appending. */
        char first[24];
        optcl__format(first, sizeof first, "%zu", shape[0]);
        size_t spare = 21 - strlen(first);
        memset(head + 10 + dict_len, ' ', spare);
        dict_len += spare;
    }
    /* numpy adds 1 … NPY_ALIGN spaces (a full NPY_ALIGN when already aligned), then '\n'. */
    size_t pad = NPY_ALIGN - (10 + dict_len + 1) % NPY_ALIGN;
    memset(head + 10 + dict_len, ' ', pad);
    head[10 + dict_len + pad] = '\n';
    size_t header_len = dict_len + pad + 1;
    head[8] = (char)(header_len & 0xff);
    head[9] = (char)(header_len >> 8);

    optcl__atomic_file f;
    optcl_status status = optcl__atomic_open(&f, path, message, message_size);
    if (status != OPTCL_SUCCESS)
        return status;
    errno = 0;
    if (fwrite(head, 1, 10 + header_len, f.fp) != 10 + header_len ||
        optcl__write_floats_le(f.fp, data, count) != 0) {
        int err = errno ? errno : EIO;
        optcl__atomic_abort(&f);
        return optcl__fail_path(message, message_size, OPTCL_ERROR_IO, path, "cannot write: %s",
                                strerror(err));
    }
    return optcl__atomic_commit(&f, message, message_size);
}

void optcl_array_free(optcl_array *array)
{
    if (!array)
        return;
    free(array->data);
    *array = (optcl_array){0};
}
