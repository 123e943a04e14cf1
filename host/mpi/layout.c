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

/* Where a tensor of `width` layout elements goes when the one before it ended at p: right
 * there, or with whole tensors at the next shard's start when it would cross into it. */
static size_t place(const optcl_mpi__layout *l, size_t p, size_t width)
{
    if (l->whole && p % l->shard + width > l->shard)
        return round_up(p, l->shard);
    return p;
}

static size_t width_of(optcl_params *params, size_t i, size_t block)
{
    optcl_tensor_info info;
    optcl_params_info(params, i, &info);
    return round_up(info.count, block);
}

/* Where the last tensor ends in the layout. */
static size_t layout_end(optcl_params *params, const optcl_mpi__layout *l)
{
    size_t p = 0;
    for (size_t i = 0; i < optcl_params_count(params); i++) {
        size_t width = width_of(params, i, l->block);
        p = place(l, p, width) + width;
    }
    return p;
}

/* Whole tensors: the least S, a multiple of align, for which the tensors placed in order fit
 * in K shards. Placing in order fits for every S above the least one, so it is bisected between
 * the bounds (the mean and the largest tensor below, all of it in one shard above). */
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
        if (layout_end(params, l) <= k * l->shard)
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
    l->rank = rank;
    l->size = size;
    l->block = block;
    l->whole = whole;
    l->numel = optcl_mpi__slots(params, block);
    l->shard = whole ? whole_shard(params, l, k, align) : round_up((l->numel + k - 1) / k, align);
    if (l->shard == 0)
        l->shard = align;
    if (whole)
        l->numel = layout_end(params, l);
    l->begin = (size_t)rank * l->shard;
    /* the shard's real elements end where its last tensor (or piece of one) ends */
    size_t p = 0, end = l->begin;
    for (size_t i = 0; i < optcl_params_count(params); i++) {
        size_t width = width_of(params, i, block);
        p = place(l, p, width);
        if (p < l->begin + l->shard && p + width > l->begin)
            end = p + width < l->begin + l->shard ? p + width : l->begin + l->shard;
        p += width;
    }
    l->real = end - l->begin;
    /* Every call moves K·C elements of at most 8 bytes: keeping K·C·8 below 2^31 keeps the
     * counts and the byte offsets that MPI implementations compute in int out of overflow. */
    size_t bound = (size_t)INT_MAX / (k * 8);
    size_t c = max_count ? max_count : (bound ? bound : 1);
    l->chunk = c < l->shard ? c : l->shard;
}

bool optcl_mpi__has_gaps(const optcl_mpi__layout *l)
{
    return l->block > 1 || l->whole;
}

size_t optcl_mpi__slots(optcl_params *params, size_t block)
{
    size_t n = 0;
    for (size_t i = 0; i < optcl_params_count(params); i++)
        n += width_of(params, i, block);
    return n;
}

void optcl_mpi__place_all(optcl_params *params, const optcl_mpi__layout *l, size_t *at)
{
    size_t p = 0;
    for (size_t i = 0; i < optcl_params_count(params); i++) {
        size_t width = width_of(params, i, l->block);
        at[i] = place(l, p, width);
        p = at[i] + width;
    }
}

void optcl_mpi__spread(optcl_params *params, const optcl_mpi__layout *l, const size_t *at, float *x)
{
    if (!optcl_mpi__has_gaps(l))
        return;
    size_t count = optcl_params_count(params), packed = optcl_params_numel(params);
    size_t next = l->numel; /* where the tensor after this one starts */
    for (size_t i = count; i-- > 0;) { /* backwards: a tensor only moves right */
        optcl_tensor_info info;
        optcl_params_info(params, i, &info);
        packed -= info.count;
        memmove(x + at[i], x + packed, info.count * sizeof *x);
        memset(x + at[i] + info.count, 0, (next - at[i] - info.count) * sizeof *x);
        next = at[i];
    }
}

void optcl_mpi__pack(optcl_params *params, const optcl_mpi__layout *l, const size_t *at, float *x)
{
    if (!optcl_mpi__has_gaps(l))
        return;
    size_t packed = 0;
    for (size_t i = 0; i < optcl_params_count(params); i++) { /* forwards: only moves left */
        optcl_tensor_info info;
        optcl_params_info(params, i, &info);
        memmove(x + packed, x + at[i], info.count * sizeof *x);
        packed += info.count;
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
        packed = place(l, packed, round_up(info.count, l->block));
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
    } else {
        snprintf(out, size, "%.180s~%zu%.50s", tensor, tensor_index, range);
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
