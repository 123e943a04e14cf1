/* replay_layout.c — how `optcl replay` lays its N parameters out (tensors=, shape=) and its one
 * group's trust-ratio switch (trust_ratio_mask=). One tensor "param" of shape (N,) by default;
 * the rules that look at whole tensors (LAMB, LARS) see each tensor's norms. */
#include "cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One shape, dims separated by sep ("4x5" or "4,5"), into spec; non-zero on a malformed one:
 * every dimension is digits alone (no sign, no space, no empty item, nothing after the last). */
static int parse_shape(const char *text, size_t len, char sep, optcl_tensor_spec *spec)
{
    spec->ndim = 0;
    const char *c = text, *stop = text + len;
    for (;;) {
        if (c >= stop || spec->ndim == OPTCL_MAX_DIMS)
            return 1;
        char *end = NULL;
        unsigned long long v = 0;
        if (optcl_cli_scan_whole(c, &end, INT64_MAX, &v) || v < 1 || end > stop)
            return 1;
        spec->shape[spec->ndim++] = (int64_t)v;
        if (end == stop)
            return 0;
        if (*end != sep)
            return 1;
        c = end + 1;
    }
}

int optcl_cli_check_layout(const char *key, const char *value, char *message, size_t size)
{
    optcl_tensor_spec spec;
    bool tensors = !strcmp(key, "tensors");
    if (!tensors && parse_shape(value, strlen(value), ',', &spec) == 0)
        return 0;
    for (const char *c = value; tensors;) {
        size_t len = strcspn(c, ",");
        if (parse_shape(c, len, 'x', &spec))
            break;
        if (!c[len])
            return 0;
        c += len + 1; /* a shape must follow every comma */
    }
    snprintf(message, size, "%s=%s: expected %s", key, value,
             tensors ? "comma-separated shapes with dimensions joined by x (tensors=4x5,12,5)"
                     : "dimensions >= 1 joined by commas (shape=R,C)");
    return 1;
}

int optcl_cli_tensor_specs(char *const *options, int count, size_t n, optcl_tensor_spec **specs,
                     size_t *spec_count, char *message, size_t size)
{
    const char *tensors = optcl_cli_option_value(options, count, "tensors");
    const char *shape = optcl_cli_option_value(options, count, "shape");
    size_t k = 1;
    for (const char *c = tensors; c && *c; c++)
        k += *c == ',';
    /* the specs, then their names ("param", or "param.0", "param.1", …): one block to free */
    *specs = calloc(1, k * (sizeof **specs + 24));
    *spec_count = k;
    if (!*specs)
        return snprintf(message, size, "out of memory for %zu tensors", k) > 0;
    if (tensors && shape) {
        snprintf(message, size, "tensors= and shape= do not combine");
        goto fail;
    }
    size_t total = 0;
    const char *c = tensors;
    for (size_t i = 0; i < k; i++) {
        optcl_tensor_spec *s = &(*specs)[i];
        char *name = (char *)(*specs + k) + 24 * i;
        snprintf(name, 24, k == 1 ? "param" : "param.%zu", i);
        s->name = name;
        if (tensors) {
            size_t len = strcspn(c, ",");
            parse_shape(c, len, 'x', s); /* checked by optcl_cli_check_layout */
            c += len + (c[len] == ',');
        } else if (shape) {
            parse_shape(shape, strlen(shape), ',', s);
        } else {
            s->ndim = 1;
            s->shape[0] = (int64_t)n;
        }
        size_t numel = 1;
        for (int d = 0; d < s->ndim; d++)
            numel *= (size_t)s->shape[d];
        total += numel;
    }
    if (total != n) {
        snprintf(message, size, "%s=%s holds %zu elements but the parameters are %zu",
                 tensors ? "tensors" : "shape", tensors ? tensors : shape, total, n);
        goto fail;
    }
    return 0;
fail:
    free(*specs);
    *specs = NULL;
    return 1;
}

int optcl_cli_layout_given(char *const *options, int count)
{
    return optcl_cli_option_value(options, count, "tensors") ||
           optcl_cli_option_value(options, count, "shape");
}

optcl_optimizer_config optcl_cli_grouped(char *const *options, int count,
                                         const optcl_optimizer_config *config,
                                         optcl_group_config *group)
{
    const char *value = optcl_cli_option_value(options, count, "trust_ratio_mask");
    *group = (optcl_group_config){-1.0, -1.0, value && value[0] == '0'}; /* 0 or 1: checked */
    optcl_optimizer_config grouped = *config;
    if (group->exclude_from_trust_ratio) {
        grouped.groups = group;
        grouped.group_count = 1;
    }
    return grouped;
}
