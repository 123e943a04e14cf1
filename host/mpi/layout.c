/* layout.c — where shard boundaries fall in the packed model, the pieces of model tensors that
 * fall into this rank's shard, and the shard's own parameter set made of those pieces. */
#include "sharded.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLACEHOLDER_NAME "(empty shard)"

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

static size_t width_of(optcl_params *params, size_t i, size_t block)
{
    optcl_tensor_info info;
    optcl_params_info(params, i, &info);
    return round_up(info.count, block);
}

/* Whole tensors, shards of at most S: each shard takes the next tensors in order while they
 * fit, so shard j starts at the first tensor that did not fit in shard j − 1. The start of
 * shard j (N when the tensors end before it), or with j = SIZE_MAX the number of shards used. */
static size_t whole_start(optcl_params *params, const optcl_mpi__layout *l, size_t j)
{
    size_t p = 0, start = 0, shards = 1;
    for (size_t i = 0; i < optcl_params_count(params); i++) {
        size_t width = width_of(params, i, l->block);
        if (p - start + width > l->shard) {
            if (shards == j)
                return p;
            start = p;
            shards++;
        }
        p += width;
    }
    return j == SIZE_MAX ? shards : j == 0 ? 0 : p;
}

/* Whole tensors: the least S, a multiple of align, with which the tensors taken in order fill
 * at most K shards. Every S above the least one fits too, so it is bisected between the bounds
 * (the mean and the largest tensor below, the whole model above). */
static size_t whole_shard(optcl_params *params, optcl_mpi__layout *l, size_t k, size_t align)
{
    size_t largest = 0, total = 0;
    for (size_t i = 0; i < optcl_params_count(params); i++) {
        size_t width = width_of(params, i, l->block);
        largest = width > largest ? width : largest;
        total += width;
    }
    size_t mean = (total + k - 1) / k;
    size_t lo = round_up(mean > largest ? mean : largest, align) / align;
    size_t hi = round_up(total, align) / align;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        l->shard = mid * align;
        if (whole_start(params, l, SIZE_MAX) <= k)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo * align;
}

void optcl_mpi__layout_compute(optcl_mpi__layout *l, int rank, int size, optcl_params *params,
                               size_t max_count, size_t block, bool whole)
{
    size_t k = (size_t)size, align = block > OPTCL_MPI_SHARD_ALIGN ? block : OPTCL_MPI_SHARD_ALIGN;
    l->size = size;
    l->block = block;
    l->whole = whole;
    l->numel = optcl_mpi__slots(params, block);
    l->shard = whole ? whole_shard(params, l, k, align) : round_up((l->numel + k - 1) / k, align);
    if (l->shard == 0)
        l->shard = align;
    optcl_mpi__layout_at(l, params, rank);
    /* Every call moves K·C elements of at most 8 bytes: keeping K·C·8 below 2^31 keeps the
     * counts and the byte offsets that MPI implementations compute in int out of overflow. */
    size_t bound = (size_t)INT_MAX / (k * 8);
    size_t c = max_count ? max_count : (bound ? bound : 1);
    l->chunk = c < l->shard ? c : l->shard;
}

void optcl_mpi__layout_at(optcl_mpi__layout *l, optcl_params *params, int rank)
{
    l->rank = rank;
    if (l->whole) {
        l->begin = whole_start(params, l, (size_t)rank);
        l->real = whole_start(params, l, (size_t)rank + 1) - l->begin;
        return;
    }
    l->begin = (size_t)rank * l->shard;
    l->real = l->numel > l->begin ? l->numel - l->begin : 0;
    if (l->real > l->shard)
        l->real = l->shard;
}

void optcl_mpi__layout_starts(optcl_params *params, const optcl_mpi__layout *l, size_t *starts)
{
    for (size_t j = 0; j <= (size_t)l->size; j++)
        starts[j] = l->whole ? whole_start(params, l, j) : j * l->shard;
}

size_t optcl_mpi__slots(optcl_params *params, size_t block)
{
    size_t n = 0;
    for (size_t i = 0; i < optcl_params_count(params); i++)
        n += width_of(params, i, block);
    return n;
}

void optcl_mpi__spread(optcl_params *params, size_t block, float *x)
{
    if (block <= 1)
        return;
    size_t count = optcl_params_count(params), packed = optcl_params_numel(params);
    size_t slots = optcl_mpi__slots(params, block);
    for (size_t i = count; i-- > 0;) { /* backwards: a tensor only moves right */
        optcl_tensor_info info;
        optcl_params_info(params, i, &info);
        size_t width = round_up(info.count, block);
        packed -= info.count;
        slots -= width;
        memmove(x + slots, x + packed, info.count * sizeof *x);
        memset(x + slots + info.count, 0, (width - info.count) * sizeof *x);
    }
}

void optcl_mpi__pack(optcl_params *params, size_t block, float *x)
{
    if (block <= 1)
        return;
    size_t packed = 0, slots = 0;
    for (size_t i = 0; i < optcl_params_count(params); i++) { /* forwards: only moves left */
        optcl_tensor_info info;
        optcl_params_info(params, i, &info);
        memmove(x + packed, x + slots, info.count * sizeof *x);
        packed += info.count;
        slots += round_up(info.count, block);
    }
}

optcl_status optcl_mpi__pieces(optcl_params *params, const optcl_mpi__layout *l,
                               optcl_mpi__piece **out, size_t *count, char *message)
{
    *out = NULL;
    *count = 0;
    size_t n = optcl_params_count(params), lo = l->begin, hi = l->begin + l->real;
    optcl_mpi__piece *pieces = calloc(n ? n : 1, sizeof *pieces);
    if (!pieces)
        return optcl_mpi__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    size_t packed = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        optcl_tensor_info info;
        optcl_params_info(params, i, &info);
        size_t a = packed > lo ? packed : lo;
        size_t b = packed + info.count < hi ? packed + info.count : hi;
        if (a < b) {
            pieces[k].tensor = i;
            pieces[k].first = a - packed;
            pieces[k].count = b - a;
            pieces[k].packed = a;
            pieces[k].outer_offset = info.offset + (a - packed);
            k++;
        }
        packed += round_up(info.count, l->block);
    }
    if (k == 0) {
        free(pieces);
        return OPTCL_SUCCESS;
    }
    *out = pieces;
    *count = k;
    return OPTCL_SUCCESS;
}

void optcl_mpi__piece_name(const char *tensor, size_t tensor_index, const optcl_mpi__piece *p,
                           char *out, size_t size)
{
    char range[64];
    int rl = snprintf(range, sizeof range, "[%zu:%zu]", p->first, p->first + p->count);
    size_t tl = strlen(tensor);
    /* Names are at most 255 bytes: a long tensor name is cut, and its index keeps it unique. */
    if (rl > 0 && tl + (size_t)rl <= 255 && tl + (size_t)rl < size) {
        memcpy(out, tensor, tl);
        memcpy(out + tl, range, (size_t)rl + 1);
    } else { /* cut where a character starts: names are UTF-8 in the files (safetensors) */
        int cut = 180;
        while (cut > 0 && ((unsigned char)tensor[cut] & 0xC0) == 0x80)
            cut--;
        snprintf(out, size, "%.*s~%zu%.50s", cut, tensor, tensor_index, range);
    }
}

optcl_status optcl_mpi__shard_specs(optcl_params *params, const optcl_mpi__piece *pieces,
                                    size_t piece_count, bool whole, optcl_tensor_spec **out,
                                    size_t *count, char *message)
{
    size_t n = piece_count ? piece_count : 1;
    optcl_tensor_spec *specs = calloc(1, n * (sizeof *specs + 256));
    if (!specs)
        return optcl_mpi__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    char *names = (char *)(specs + n);
    for (size_t i = 0; i < n; i++) {
        char *name = names + i * 256;
        specs[i].name = name;
        specs[i].ndim = 1;
        if (piece_count == 0) { /* stays zero: every update rule maps (0, 0, 0) to itself */
            snprintf(name, 256, "%s", PLACEHOLDER_NAME);
            specs[i].ndim = whole ? 2 : 1; /* Muon takes matrices only */
            specs[i].shape[0] = specs[i].shape[1] = 1;
            specs[i].group = 0;
            continue;
        }
        optcl_tensor_info info;
        optcl_params_info(params, pieces[i].tensor, &info);
        optcl_mpi__piece_name(info.name, pieces[i].tensor, &pieces[i], name, 256);
        specs[i].shape[0] = (int64_t)pieces[i].count;
        if (whole) { /* Adafactor's factors and Muon's matrices need the tensor's shape */
            specs[i].ndim = info.ndim;
            memcpy(specs[i].shape, info.shape, sizeof info.shape);
        }
        specs[i].group = info.group;
        /* 8-bit state follows the model's tensor, not the piece (pieces of a large tensor can
         * be small) */
        specs[i].state_bits = info.state_bits               ? info.state_bits
                              : info.count < OPTCL_INT8_MIN_SIZE ? 32
                                                                 : 8;
    }
    *out = specs;
    *count = n;
    return OPTCL_SUCCESS;
}
