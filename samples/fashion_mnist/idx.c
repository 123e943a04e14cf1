/* idx.c — IDX files (magic 0x0000080N: unsigned bytes, N big-endian dimensions, then the data)
 * read through zlib, which also reads uncompressed files unchanged. */
#include "idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_COUNT 10000000u /* a corrupt header must not make us allocate terabytes */
#define MAX_SIDE 4096u
#define HINT                                                                                       \
    "(scripts/deps installs the Debian package dataset-fashion-mnist; --data DIR or "              \
    "OPTCL_FASHION_MNIST_DIR point elsewhere)"

const char *fm_data_dir(const char *dir)
{
    if (dir && *dir)
        return dir;
    const char *env = getenv("OPTCL_FASHION_MNIST_DIR");
    return env && *env ? env : FM_DEFAULT_DATA_DIR;
}

/* zlib's message without the "path: " it puts in front (our message names the path). */
static const char *zlib_reason(gzFile f, const char *path, int *code)
{
    const char *reason = gzerror(f, code);
    size_t len = strlen(path);
    if (!strncmp(reason, path, len) && !strncmp(reason + len, ": ", 2))
        reason += len + 2;
    return reason;
}

/* Reads exactly n bytes; on a short read says whether it was the end or a gzip error. */
static int read_exact(gzFile f, void *data, size_t n, const char *path, const char *what,
                      char *message, size_t message_size)
{
    size_t done = 0;
    while (done < n) {
        unsigned chunk = n - done > (1u << 30) ? 1u << 30 : (unsigned)(n - done);
        int got = gzread(f, (char *)data + done, chunk);
        if (got <= 0) {
            int code = Z_OK;
            const char *reason = zlib_reason(f, path, &code);
            if (got < 0 || (code != Z_OK && code != Z_BUF_ERROR))
                snprintf(message, message_size, "%s: corrupt: %s (while reading %s)", path, reason,
                         what);
            else
                snprintf(message, message_size,
                         "%s: truncated: %s should be %zu bytes, the file ends after %zu", path,
                         what, n, done);
            return 1;
        }
        done += (size_t)got;
    }
    return 0;
}

/* Opens <dir>/<name>.gz (or <dir>/<name>), reads the header and checks magic and rank. */
static gzFile open_idx(const char *dir, const char *name, int ndim, uint32_t *dims, char *path,
                       size_t path_size, char *message, size_t message_size)
{
    snprintf(path, path_size, "%s/%s.gz", dir, name);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        char plain[4096];
        snprintf(plain, sizeof plain, "%s/%s", dir, name);
        probe = fopen(plain, "rb");
        if (probe)
            snprintf(path, path_size, "%s", plain);
    }
    if (!probe) {
        snprintf(message, message_size, "%s: cannot open: %s %s", path, strerror(errno), HINT);
        return NULL;
    }
    fclose(probe);
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(message, message_size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char head[4 + 4 * 3];
    if (read_exact(f, head, 4 + 4 * (size_t)ndim, path, "the header", message, message_size)) {
        gzclose(f);
        return NULL;
    }
    if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] != ndim) {
        snprintf(message, message_size,
                 "%s: not an IDX file of unsigned bytes with %d dimensions (magic %02x %02x "
                 "%02x %02x, expected 00 00 08 %02x)",
                 path, ndim, head[0], head[1], head[2], head[3], ndim);
        gzclose(f);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        const unsigned char *d = head + 4 + 4 * i;
        dims[i] = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    }
    return f;
}

/* After the data the stream must end: trailing bytes mean the header lied. */
static int expect_end(gzFile f, const char *path, char *message, size_t message_size)
{
    char extra;
    int got = gzread(f, &extra, 1);
    if (got == 0)
        return 0;
    int code = Z_OK;
    const char *reason = zlib_reason(f, path, &code);
    if (got < 0)
        snprintf(message, message_size, "%s: corrupt: %s (after the data)", path, reason);
    else
        snprintf(message, message_size, "%s: corrupt: bytes after the data the header declares",
                 path);
    return 1;
}

int fm_images_load(const char *dir, const char *prefix, fm_images *out, char *message,
                   size_t message_size)
{
    memset(out, 0, sizeof *out);
    char name[256], path[4096], label_path[4096];
    uint32_t dims[3], label_dims[1];

    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    gzFile f = open_idx(dir, name, 3, dims, path, sizeof path, message, message_size);
    if (!f)
        return 1;
    if (dims[0] < 1 || dims[0] > MAX_COUNT || dims[1] < 1 || dims[1] > MAX_SIDE || dims[2] < 1 ||
        dims[2] > MAX_SIDE) {
        snprintf(message, message_size, "%s: implausible shape %u × %u × %u", path, dims[0],
                 dims[1], dims[2]);
        gzclose(f);
        return 1;
    }
    size_t bytes = (size_t)dims[0] * dims[1] * dims[2];
    out->pixels = malloc(bytes);
    if (!out->pixels) {
        snprintf(message, message_size, "%s: no host memory for %zu bytes", path, bytes);
        gzclose(f);
        return 1;
    }
    int rc = read_exact(f, out->pixels, bytes, path, "the pixels", message, message_size) ||
             expect_end(f, path, message, message_size);
    gzclose(f);
    if (rc) {
        fm_images_free(out);
        return 1;
    }
    out->count = dims[0];
    out->rows = dims[1];
    out->cols = dims[2];

    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    f = open_idx(dir, name, 1, label_dims, label_path, sizeof label_path, message, message_size);
    if (!f) {
        fm_images_free(out);
        return 1;
    }
    rc = 0;
    if (label_dims[0] != out->count) {
        snprintf(message, message_size, "%s: %u labels, but %s has %zu images", label_path,
                 label_dims[0], path, out->count);
        rc = 1;
    }
    if (!rc && !(out->labels = malloc(out->count))) {
        snprintf(message, message_size, "%s: no host memory", label_path);
        rc = 1;
    }
    if (!rc)
        rc = read_exact(f, out->labels, out->count, label_path, "the labels", message,
                        message_size) ||
             expect_end(f, label_path, message, message_size);
    gzclose(f);
    for (size_t i = 0; !rc && i < out->count; i++)
        if (out->labels[i] >= FM_CLASSES) {
            snprintf(message, message_size, "%s: label %zu is %u, expected 0 … %d", label_path, i,
                     out->labels[i], FM_CLASSES - 1);
            rc = 1;
        }
    if (rc)
        fm_images_free(out);
    return rc;
}

void fm_images_free(fm_images *images)
{
    if (!images)
        return;
    free(images->pixels);
    free(images->labels);
    memset(images, 0, sizeof *images);
}
