/* manifest_tensors.c — the model's tensors in a sharded checkpoint's manifest, one line each
 * ("tensor GROUP STATE_BITS SHAPE NAME"), so that a load can check the whole model (the rank
 * files hold element-wise pieces flattened, which cannot tell a 64×32 tensor from a 32×64 one)
 * and a program can recreate the model from the checkpoint alone. */
#include "sharded.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_ 255                        /* optcl_tensor_spec: names are 1 to 255 bytes */
#define SHAPE_TEXT (20 * OPTCL_MAX_DIMS + 2) /* 8 dimensions of up to 19 digits and an 'x' */

/* A name is any C string: bytes up to ' ', DEL and '%' are written as %XX, so a name is one
 * word and a line is one tensor. */
static bool escaped(unsigned char c)
{
    return c <= ' ' || c == 0x7F || c == '%';
}

/* "64x32", "-" for a scalar. */
static void shape_text(const int64_t *shape, int ndim, char *out, size_t size)
{
    int used = snprintf(out, size, ndim ? "" : "-");
    for (int d = 0; d < ndim && used >= 0 && (size_t)used < size; d++)
        used += snprintf(out + used, size - (size_t)used, d ? "x%" PRId64 : "%" PRId64, shape[d]);
}

static int write_line(FILE *f, const optcl_tensor_info *t)
{
    char shape[SHAPE_TEXT];
    shape_text(t->shape, t->ndim, shape, sizeof shape);
    if (fprintf(f, "tensor %d %d %s ", t->group, t->state_bits, shape) < 0)
        return 0;
    for (const unsigned char *c = (const unsigned char *)t->name; *c; c++)
        if ((escaped(*c) ? fprintf(f, "%%%02X", *c) : fputc(*c, f)) < 0)
            return 0;
    return fputc('\n', f) != EOF;
}

int optcl_mpi__tensors_write(FILE *f, const optcl_params *params)
{
    size_t count = optcl_params_count(params);
    int ok = fprintf(f, "tensors %zu\n", count) > 0;
    for (size_t i = 0; ok && i < count; i++) {
        optcl_tensor_info t;
        ok = optcl_params_info(params, i, &t) == OPTCL_SUCCESS && write_line(f, &t);
    }
    return ok;
}

/* Whether name is one optcl_params_create takes: UTF-8 (RFC 3629, as host/json.c checks it;
 * this library sees only the public API) and not "__metadata__", so that the list a manifest
 * gives back (optcl_mpi_checkpoint_tensors) always makes a model. */
static bool model_name(const char *name)
{
    const unsigned char *u = (const unsigned char *)name;
    while (*u) {
        size_t n = *u < 0x80                  ? 1
                   : *u >= 0xC2 && *u <= 0xDF ? 2
                   : *u >= 0xE0 && *u <= 0xEF ? 3
                   : *u >= 0xF0 && *u <= 0xF4 ? 4
                                              : 0;
        /* the second byte's range excludes overlong forms, surrogates and > U+10FFFF */
        unsigned lo = *u == 0xE0 ? 0xA0 : *u == 0xF0 ? 0x90 : 0x80;
        unsigned hi = *u == 0xED ? 0x9F : *u == 0xF4 ? 0x8F : 0xBF;
        if (n == 0 || (n > 1 && (u[1] < lo || u[1] > hi)))
            return false;
        for (size_t i = 2; i < n; i++)
            if (u[i] < 0x80 || u[i] > 0xBF)
                return false;
        u += n;
    }
    return strcmp(name, "__metadata__") != 0;
}

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The name's bytes from its word into out (room for strlen(word) + 1); 0 when malformed. */
static int read_name(const char *word, char *out)
{
    for (; *word; word++) {
        unsigned char c = (unsigned char)*word;
        if (c == '%') {
            int hi = hex(word[1]), lo = hi < 0 ? -1 : hex(word[2]);
            if (lo < 0 || !escaped((unsigned char)(hi * 16 + lo)) || hi * 16 + lo == 0)
                return 0;
            c = (unsigned char)(hi * 16 + lo);
            word += 2;
        } else if (escaped(c)) {
            return 0;
        }
        *out++ = (char)c;
    }
    *out = '\0';
    return 1;
}

/* SHAPE: "-" (a scalar) or dimensions ≥ 1 joined by 'x'; 0 when malformed. */
static int read_shape(const char *text, optcl_tensor_spec *s)
{
    if (strcmp(text, "-") == 0)
        return 1;
    for (;;) {
        char *end = NULL;
        errno = 0;
        if (s->ndim == OPTCL_MAX_DIMS || *text < '1' || *text > '9')
            return 0;
        long long dim = strtoll(text, &end, 10);
        if (errno == ERANGE)
            return 0;
        s->shape[s->ndim++] = dim;
        if (*end == '\0')
            return 1;
        if (*end != 'x')
            return 0;
        text = end + 1;
    }
}

/* Room for one more spec: the list grows as lines come (a declared count is not trusted). */
static int grow(optcl_mpi__tensor_list *list)
{
    if (list->count < list->capacity)
        return 1;
    size_t capacity = list->capacity ? 2 * list->capacity : 64;
    optcl_tensor_spec *specs = realloc(list->specs, capacity * sizeof *specs);
    if (!specs)
        return 0;
    list->specs = specs;
    list->capacity = capacity;
    return 1;
}

/* A whole number in [lo, hi] followed by one space: the text after it, or NULL. */
static const char *read_int(const char *text, long lo, long hi, int *out)
{
    if (*text < '0' || *text > '9')
        return NULL;
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno == ERANGE || v < lo || v > hi || *end != ' ')
        return NULL;
    *out = (int)v;
    return end + 1;
}

int optcl_mpi__tensor_line(const char *line, optcl_mpi__tensor_list *list)
{
    optcl_tensor_spec s = {0};
    const char *at = strncmp(line, "tensor ", 7) == 0 ? line + 7 : NULL;
    if (at)
        at = read_int(at, 0, OPTCL_MAX_GROUPS - 1, &s.group);
    if (at)
        at = read_int(at, 0, 32, &s.state_bits);
    const char *space = at ? strchr(at, ' ') : NULL;
    char shape[SHAPE_TEXT];
    if (!space || (size_t)(space - at) >= sizeof shape ||
        (s.state_bits != 0 && s.state_bits != 8 && s.state_bits != 32))
        return 0;
    memcpy(shape, at, (size_t)(space - at));
    shape[space - at] = '\0';
    /* the name: the rest of the line, one word after exactly one space */
    const char *word = space + 1;
    size_t len = strcspn(word, "\n");
    if (!read_shape(shape, &s) || len == 0 || (word[len] && word[len + 1]) ||
        memchr(word, ' ', len))
        return 0;
    char *name = malloc(len + 1);
    if (!name)
        return 0;
    memcpy(name, word, len);
    name[len] = '\0';
    if (read_name(name, name) && *name && strlen(name) <= NAME_MAX_ && model_name(name) &&
        grow(list)) {
        s.name = name; /* decoded in place: each byte written was read from further on */
        list->specs[list->count++] = s;
        return 1;
    }
    free(name);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int optcl_mpi__tensor_list_valid(const optcl_mpi__tensor_list *list, uint64_t numel)
{
    if (numel > SIZE_MAX / 16) /* 2^60 elements: no model comes near, a layout's sums fit */
        return 0;
    uint64_t total = 0;
    for (size_t i = 0; i < list->count; i++) {
        uint64_t n = 1;
        for (int d = 0; d < list->specs[i].ndim; d++) {
            if ((uint64_t)list->specs[i].shape[d] > UINT64_MAX / n)
                return 0;
            n *= (uint64_t)list->specs[i].shape[d];
        }
        if (n > numel - total) /* more elements than the manifest's numel */
            return 0;
        total += n;
    }
    const char **names = malloc((list->count ? list->count : 1) * sizeof *names);
    if (!names)
        return 0;
    for (size_t i = 0; i < list->count; i++)
        names[i] = list->specs[i].name;
    qsort(names, list->count, sizeof *names, by_name);
    int unique = 1;
    for (size_t i = 1; i < list->count && unique; i++)
        unique = strcmp(names[i - 1], names[i]) != 0;
    free(names);
    return unique && total == numel;
}

void optcl_mpi__tensor_list_free(optcl_mpi__tensor_list *list)
{
    for (size_t i = 0; list->specs && i < list->count; i++)
        free((char *)list->specs[i].name);
    free(list->specs);
    memset(list, 0, sizeof *list);
}

optcl_status optcl_mpi__tensor_list_pack(optcl_mpi__tensor_list *list, optcl_tensor_spec **out,
                                         char *message)
{
    size_t names = 0;
    for (size_t i = 0; i < list->count; i++)
        names += strlen(list->specs[i].name) + 1;
    optcl_tensor_spec *specs = malloc(list->count * sizeof *specs + names + 1);
    if (!specs)
        return optcl_mpi__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    char *at = (char *)(specs + list->count);
    for (size_t i = 0; i < list->count; i++) {
        specs[i] = list->specs[i];
        size_t n = strlen(list->specs[i].name) + 1;
        memcpy(at, list->specs[i].name, n);
        specs[i].name = at;
        at += n;
    }
    *out = specs;
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi__tensors_compare(const optcl_mpi__tensor_list *saved,
                                        const optcl_params *params, const char *path, char *message)
{
    size_t count = optcl_params_count(params);
    if (saved->count != count)
        return optcl_mpi__fail(message, OPTCL_ERROR_SIZE_MISMATCH,
                               "%s holds a model of %zu tensors; this one has %zu", path,
                               saved->count, count);
    for (size_t i = 0; i < count; i++) {
        const optcl_tensor_spec *s = &saved->specs[i];
        optcl_tensor_info t;
        optcl_params_info(params, i, &t);
        if (strcmp(s->name, t.name) == 0 && s->group == t.group && s->ndim == t.ndim &&
            memcmp(s->shape, t.shape, (size_t)t.ndim * sizeof *t.shape) == 0)
            continue;
        char was[SHAPE_TEXT], is[SHAPE_TEXT];
        shape_text(s->shape, s->ndim, was, sizeof was);
        shape_text(t.shape, t.ndim, is, sizeof is);
        return optcl_mpi__fail(message, OPTCL_ERROR_SIZE_MISMATCH,
                               "%s: tensor %zu is '%.200s' of shape %s in group %d in the "
                               "checkpoint but '%.200s' of shape %s in group %d in this model",
                               path, i, s->name, was, s->group, t.name, is, t.group);
    }
    return OPTCL_SUCCESS;
}
