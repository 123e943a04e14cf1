/* reshard.c — loading a sharded checkpoint into a different number of ranks. The shards of K
 * ranks and of K' ranks cut the same layout at different places, so this rank's pieces come
 * from the files of the old ranks whose shards overlap its own: each such file loads, with all
 * of an ordinary load's checks, into a temporary optimizer over that old shard's pieces, and the
 * overlapping elements are copied out: the parameters and float states as float32 (exact for
 * every type), 8-bit states as their codes and blocks' absmaxes (shards start and end on its
 * blocks, so each block comes whole from one file; a piece keeps its tensor's state type in
 * every layout). With whole tensors (tensor-wise rules) each piece comes whole from one file,
 * and a state with values of its own shape (Adafactor's row_var and col_var) is copied whole.
 * The step count, learning rates, plateau, running values and loss scale come from the first
 * of those files (optcl_checkpoint_load_progress): every rank's holds the same. Built on the
 * public API. */
#include "sharded.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_ 4096
#define BLOCK 256 /* optcl's 8-bit blocks */

/* This rank's pieces in host memory, role by role (the parameters, then each state in the
 * shard optimizer's order), each role's pieces one after another. */
typedef struct staged {
    size_t roles, total, blocks;
    size_t *at, *block_at; /* piece i's first element and first block within a role */
    float *data;           /* roles × total values */
    uint8_t *codes;        /* with 8-bit state (else NULL): roles × total codes, */
    float *absmax;         /* roles × blocks absmaxes, */
    uint8_t *exact;        /* and whether each block's codes came from a file */
    float *old;            /* one old piece of one role: its values, then its absmaxes */
    uint8_t *old_codes;
    size_t old_count; /* the room in old and old_codes */
} staged;

static size_t blocks_of(size_t count)
{
    return (count + BLOCK - 1) / BLOCK;
}

static float *role_of(const staged *s, size_t r)
{
    return s->data + r * s->total;
}

/* Room for an old piece of count elements: values, absmaxes, codes. */
static bool room(staged *s, size_t count)
{
    if (count <= s->old_count)
        return true;
    float *values = realloc(s->old, (count + blocks_of(count)) * sizeof(float));
    if (values)
        s->old = values;
    uint8_t *codes = values ? realloc(s->old_codes, count) : NULL;
    if (codes)
        s->old_codes = codes;
    if (!codes)
        return false;
    s->old_count = count;
    return true;
}

/* The number of values role r (0: the parameters) keeps for tensor j of an optimizer: the
 * piece's count, a factored state's own size, or 0 where the tensor keeps none of it. */
static size_t role_size(optcl_optimizer *opt, size_t r, size_t j, size_t count)
{
    int ndim = 0;
    int64_t shape[OPTCL_MAX_DIMS];
    if (r == 0 || optcl_optimizer_state_shape(opt, optcl_optimizer_state_name(opt, r - 1), j, &ndim,
                                              shape) != OPTCL_SUCCESS)
        return r == 0 ? count : 0;
    size_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= (size_t)shape[d];
    return n;
}

/* Role r of old piece j (tensor j of the temporary optimizer `from`, count values) into
 * s->old; *coded: an 8-bit state, whose codes and absmaxes are in s->old_codes and after the
 * values. */
static optcl_status read_old(optcl_optimizer *from, optcl_params *set, size_t r, size_t j,
                             size_t count, staged *s, bool *coded, char *message)
{
    const char *name = r == 0 ? NULL : optcl_optimizer_state_name(from, r - 1);
    *coded = r > 0 && s->codes &&
             optcl_optimizer_read_state_codes(from, name, j, s->old_codes, count, s->old + count,
                                              blocks_of(count)) == OPTCL_SUCCESS;
    optcl_status st = r == 0 ? optcl_params_read(set, OPTCL_ROLE_PARAMS, j, s->old, count)
                             : optcl_optimizer_read_state(from, name, j, s->old, count);
    if (st != OPTCL_SUCCESS)
        optcl_mpi__fail(message, st, "%s",
                        r == 0 ? optcl_params_message(set) : optcl_optimizer_message(from));
    return st;
}

/* Copies what old piece q (role r, size values in s->old) shares with this rank's pieces: the
 * elements both hold, or a factored state (size ≠ q's count) whole, its tensor being whole in
 * both. */
static void copy_overlaps(const optcl_mpi_optimizer *opt, const optcl_mpi__piece *q, staged *s,
                          size_t r, size_t size, bool coded)
{
    const float *old_absmax = s->old + q->count;
    for (size_t i = 0; i < opt->piece_count; i++) {
        const optcl_mpi__piece *p = &opt->pieces[i];
        if (size != q->count) {
            if (p->tensor == q->tensor)
                memcpy(role_of(s, r) + s->at[i], s->old, size * sizeof(float));
            continue;
        }
        size_t lo = p->first > q->first ? p->first : q->first;
        size_t p_end = p->first + p->count, q_end = q->first + q->count;
        size_t hi = p_end < q_end ? p_end : q_end;
        if (p->tensor != q->tensor || lo >= hi)
            continue;
        memcpy(role_of(s, r) + s->at[i] + (lo - p->first), s->old + (lo - q->first),
               (hi - lo) * sizeof(float));
        if (!coded)
            continue;
        memcpy(s->codes + r * s->total + s->at[i] + (lo - p->first), s->old_codes + (lo - q->first),
               hi - lo);
        for (size_t b = lo / BLOCK; b < blocks_of(hi); b++) { /* whole blocks: lo is aligned */
            size_t to = r * s->blocks + s->block_at[i] + (b - p->first / BLOCK);
            s->absmax[to] = old_absmax[b - q->first / BLOCK];
            s->exact[to] = 1;
        }
    }
}

/* Old rank `rank`'s pieces in the old world's layout; *shared: whether any of them shares
 * elements with this rank's. */
static optcl_status old_pieces(optcl_mpi_optimizer *opt, optcl_mpi__layout *old, int rank,
                               optcl_mpi__piece **pieces, size_t *count, bool *shared)
{
    optcl_mpi__layout_at(old, opt->params, rank);
    optcl_status st = optcl_mpi__pieces(opt->params, old, pieces, count, opt->message);
    *shared = false;
    for (size_t j = 0; j < *count && !*shared; j++)
        for (size_t i = 0; i < opt->piece_count && !*shared; i++) {
            const optcl_mpi__piece *p = &opt->pieces[i], *q = &(*pieces)[j];
            *shared = p->tensor == q->tensor && p->first < q->first + q->count &&
                      q->first < p->first + p->count;
        }
    return st;
}

/* The first old rank whose shard shares elements with this rank's (0 for an empty shard). */
static optcl_status first_sharing(optcl_mpi_optimizer *opt, optcl_mpi__layout *old, int *rank)
{
    *rank = 0;
    bool shared = false;
    optcl_status st = OPTCL_SUCCESS;
    for (int r = 0; r < old->size && !shared && st == OPTCL_SUCCESS; r++) {
        optcl_mpi__piece *pieces = NULL;
        size_t count = 0;
        st = old_pieces(opt, old, r, &pieces, &count, &shared);
        free(pieces);
        if (shared)
            *rank = r;
    }
    return st;
}

/* Loads old rank `rank`'s file into a temporary optimizer over its pieces and copies what it
 * shares with this rank's shard (nothing to do where it shares nothing). */
static optcl_status fill_from(optcl_mpi_optimizer *opt, const char *path,
                              const optcl_mpi__manifest *m, optcl_mpi__layout *old, int rank,
                              staged *s)
{
    optcl_mpi__piece *pieces = NULL;
    size_t count = 0;
    bool shared = false;
    optcl_status st = old_pieces(opt, old, rank, &pieces, &count, &shared);
    if (st != OPTCL_SUCCESS || !shared) {
        free(pieces);
        return st;
    }
    optcl_params *set = NULL;
    optcl_optimizer *from = NULL;
    char name[PATH_MAX_];
    optcl_mpi__rank_file(name, sizeof name, path, m->generation, rank, m->world_size);
    st = optcl_mpi__fresh_shard(opt, pieces, count, &set, &from);
    if (st == OPTCL_SUCCESS && (st = optcl_checkpoint_load(from, name)) != OPTCL_SUCCESS)
        optcl_mpi__fail(opt->message, st, "%s", optcl_optimizer_message(from));
    if (st == OPTCL_SUCCESS)
        st = optcl_mpi__same_step(opt, from, name, m);
    for (size_t j = 0; j < count && st == OPTCL_SUCCESS; j++) {
        if (!room(s, pieces[j].count)) {
            st =
                optcl_mpi__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
            break;
        }
        for (size_t r = 0; r < s->roles && st == OPTCL_SUCCESS; r++) {
            bool coded = false;
            size_t size = role_size(from, r, j, pieces[j].count);
            if (size == 0)
                continue;
            st = read_old(from, set, r, j, size, s, &coded, opt->message);
            if (st == OPTCL_SUCCESS)
                copy_overlaps(opt, &pieces[j], s, r, size, coded);
        }
    }
    optcl_optimizer_destroy(from);
    optcl_params_destroy(set);
    free(pieces);
    return st;
}

/* State role r of piece i into the new shard: as codes where it is 8-bit state (every block of
 * it came from a file as codes), else as values (n of them; none where the tensor keeps none
 * of this state). */
static optcl_status write_state(optcl_optimizer *shard, size_t r, size_t i, size_t n,
                                const staged *s)
{
    n = role_size(shard, r, i, n);
    if (n == 0)
        return OPTCL_SUCCESS;
    const char *name = optcl_optimizer_state_name(shard, r - 1);
    size_t blocks = blocks_of(n), first = r * s->blocks + s->block_at[i];
    bool exact = s->exact != NULL; /* staged codes, each block's from a file */
    for (size_t b = 0; exact && b < blocks; b++)
        exact = s->exact[first + b];
    if (exact &&
        optcl_optimizer_write_state_codes(shard, name, i, s->codes + r * s->total + s->at[i], n,
                                          s->absmax + first, blocks) == OPTCL_SUCCESS)
        return OPTCL_SUCCESS;
    return optcl_optimizer_write_state(shard, name, i, role_of(s, r) + s->at[i], n);
}

/* Writes the staged pieces into the new shard's set and optimizer. */
static optcl_status write_pieces(optcl_mpi_optimizer *opt, optcl_params *inner,
                                 optcl_optimizer *shard, const staged *s)
{
    optcl_status st = OPTCL_SUCCESS;
    for (size_t i = 0; i < opt->piece_count && st == OPTCL_SUCCESS; i++) {
        size_t n = opt->pieces[i].count;
        st = optcl_params_write(inner, OPTCL_ROLE_PARAMS, i, role_of(s, 0) + s->at[i], n);
        if (st != OPTCL_SUCCESS)
            return optcl_mpi__fail(opt->message, st, "%s", optcl_params_message(inner));
        for (size_t r = 1; r < s->roles && st == OPTCL_SUCCESS; r++)
            if ((st = write_state(shard, r, i, n, s)) != OPTCL_SUCCESS)
                optcl_mpi__fail(opt->message, st, "%s", optcl_optimizer_message(shard));
    }
    return st;
}

static void free_staged(staged *s)
{
    free(s->at);
    free(s->block_at);
    free(s->data);
    free(s->codes);
    free(s->absmax);
    free(s->exact);
    free(s->old);
    free(s->old_codes);
}

optcl_status optcl_mpi__reshard(optcl_mpi_optimizer *opt, const char *path,
                                const optcl_mpi__manifest *m, optcl_params **inner,
                                optcl_optimizer **shard)
{
    /* the old world's layout (its S once; each old rank's range in turn) */
    const optcl_mpi__layout *l = &opt->layout;
    optcl_mpi__layout old;
    optcl_mpi__layout_compute(&old, 0, (int)m->world_size, opt->params, 0, l->block, l->whole);
    /* the progress (every file holds the same) from the first file this rank reads anyway */
    int from = 0;
    optcl_status st = first_sharing(opt, &old, &from);
    char first[PATH_MAX_];
    optcl_mpi__rank_file(first, sizeof first, path, m->generation, from, m->world_size);
    if (st == OPTCL_SUCCESS)
        st = optcl_mpi__fresh_shard(opt, opt->pieces, opt->piece_count, inner, shard);
    if (st == OPTCL_SUCCESS &&
        (st = optcl_checkpoint_load_progress(*shard, first)) != OPTCL_SUCCESS)
        optcl_mpi__fail(opt->message, st, "%s", optcl_optimizer_message(*shard));
    if (st == OPTCL_SUCCESS)
        st = optcl_mpi__same_step(opt, *shard, first, m);
    if (st != OPTCL_SUCCESS || opt->piece_count == 0)
        return st; /* an empty shard takes only the progress */
    staged s = {.roles = 1 + optcl_optimizer_state_count(*shard)};
    s.at = malloc(opt->piece_count * sizeof *s.at);
    s.block_at = malloc(opt->piece_count * sizeof *s.block_at);
    for (size_t i = 0; s.at && s.block_at && i < opt->piece_count; i++) {
        s.at[i] = s.total;
        s.block_at[i] = s.blocks;
        s.total += opt->pieces[i].count;
        s.blocks += blocks_of(opt->pieces[i].count);
    }
    /* codes only where some state may be 8-bit */
    bool q8 = optcl_optimizer_config_get(*shard)->state_dtype == OPTCL_STATE_INT8;
    if (s.at && s.block_at) {
        s.data = calloc(s.roles * s.total, sizeof(float));
        s.codes = q8 ? calloc(s.roles * s.total, 1) : NULL;
        s.absmax = q8 ? calloc(s.roles * s.blocks, sizeof(float)) : NULL;
        s.exact = q8 ? calloc(s.roles * s.blocks, 1) : NULL;
    }
    if (!s.data || (q8 && (!s.codes || !s.absmax || !s.exact)))
        st = optcl_mpi__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    /* the old ranks whose shards share elements with this one's, from the first */
    for (int rank = from; rank < old.size && st == OPTCL_SUCCESS; rank++)
        st = fill_from(opt, path, m, &old, rank, &s);
    if (st == OPTCL_SUCCESS)
        st = write_pieces(opt, *inner, *shard, &s);
    free_staged(&s);
    return st;
}
