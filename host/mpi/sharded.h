/* sharded.h — the structure behind optcl_mpi_optimizer and the helpers shared by host/mpi/
 * files. Built on optcl's public API only; nothing here is public. */
#ifndef OPTCL_MPI_SHARDED_H
#define OPTCL_MPI_SHARDED_H

#include "optcl_mpi.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#define OPTCL_MPI__MESSAGE_MAX 2048

#if defined(__GNUC__)
#define OPTCL_MPI__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define OPTCL_MPI__PRINTF(f, a)
#endif

/* Where the shard boundaries fall over the model's tensors laid out in order, and the chunks of
 * at most C elements per rank that one MPI call moves. Element-wise rules: K shards of S
 * elements, rank r's [r·S, (r+1)·S), the last ones padded with zeros. Tensor-wise rules
 * (whole): shards of at most S that start and end on tensor boundaries, of uneven lengths and
 * without padding (optcl_mpi__layout_starts), so every piece is a whole tensor. */
typedef struct optcl_mpi__layout {
    int rank, size;
    size_t block;       /* 1, or with 8-bit state 256: each tensor takes a multiple of it */
    bool whole;         /* shards of whole tensors */
    size_t numel;       /* N: the model's elements, each tensor rounded up to the block */
    size_t shard;       /* S, a multiple of OPTCL_MPI_SHARD_ALIGN: the longest shard */
    size_t begin, real; /* this rank's first element and its real (non-padding) count */
    size_t chunk;       /* C ≤ S: elements per rank per MPI call */
} optcl_mpi__layout;

/* One piece: elements [first, first + count) of model tensor `tensor` (flattened), which are
 * tensor `index` of the shard's parameter set and start at position `packed` of the layout
 * (the packed model, or with 8-bit state its tensors each rounded up to 256). */
typedef struct optcl_mpi__piece {
    size_t tensor, first, count, packed;
    size_t outer_offset; /* in the model's flat buffers: the tensor's offset + first */
    size_t inner_offset; /* in the shard set's flat buffers */
} optcl_mpi__piece;

struct optcl_mpi_optimizer {
    MPI_Comm comm;        /* our duplicate */
    optcl_params *params; /* the whole model (the caller's) */
    optcl_context *ctx;
    optcl_optimizer_config config; /* as given; groups NULL */
    optcl_mpi_config mpi;
    optcl_mpi__layout layout;
    optcl_mpi__piece *pieces;
    size_t piece_count;
    size_t *starts;         /* K + 1: where each rank's region of full starts, and full's length */
    int *counts;            /* K: the elements each rank has in the MPI call at hand, */
    int *displs;            /* and where they are in its buffer */
    bool placeholder;       /* the shard is empty: one zero element stands in */
    optcl_params *inner;    /* the shard's parameter set */
    optcl_optimizer *shard; /* the ordinary optimizer over it */
    uint64_t skipped;
    double last_norm, last_coef;
    optcl_mpi_timings timings;
    /* host staging (see optcl_mpi_optimizer_memory) */
    float *full;       /* starts[K] floats: the gradients in the layout, later the
                          gathered parameters */
    void *send;        /* K·C elements of the reduction type, reduced in place */
    void *recv;        /* S elements of the reduction type, only when chunked */
    const void *sums;  /* where the last reduce-scatter left this rank's S sums */
    float *shard_host; /* S floats: the shard's mean gradient */
    float *gather;     /* K·C floats, only when chunked (MPI's collectives) */
    void *incoming;    /* a ring piece of the reduction type (ring collectives, K > 1) */
    double *scratch;   /* K·(OPTCL_MPI__EXCHANGE_MAX + 1) doubles for optcl_mpi__exchange */
    size_t host_bytes;
    char message[OPTCL_MPI__MESSAGE_MAX];
};

/* message.c */
void optcl_mpi__vformat(char *buf, size_t size, const char *fmt, va_list ap);
optcl_status optcl_mpi__fail(char *message, optcl_status status, const char *fmt, ...)
    OPTCL_MPI__PRINTF(3, 4);
/* An MPI return code as a status: OPTCL_ERROR_IO with MPI's own error string. */
optcl_status optcl_mpi__check(char *message, int mpi_err, const char *call);

/* layout.c: S, C and this rank's range for the model's tensors in a world of `size` ranks, each
 * tensor's count rounded up to block (8-bit state: 256, so shards start and end on the tensors'
 * 8-bit blocks), with whole tensors or not. max_count 0: the default bound (counts and byte
 * offsets of every call below 2^31). */
void optcl_mpi__layout_compute(optcl_mpi__layout *l, int rank, int size, optcl_params *params,
                               size_t max_count, size_t block, bool whole);
/* The same layout seen from another rank: only rank, begin and real change. */
void optcl_mpi__layout_at(optcl_mpi__layout *l, optcl_params *params, int rank);
/* Where each rank's region of the host buffers starts, K + 1 of them (the last: their total):
 * r·S, or with whole tensors the shards' starts (N from the last used shard on). */
void optcl_mpi__layout_starts(optcl_params *params, const optcl_mpi__layout *l, size_t *starts);
/* The model's elements with each tensor's count rounded up to block. */
size_t optcl_mpi__slots(optcl_params *params, size_t block);
/* With block > 1: packed elements (numel of them, as optcl_params_read gives them) moved in
 * place to their slots, the gaps zeroed; and back. */
void optcl_mpi__spread(optcl_params *params, size_t block, float *x);
void optcl_mpi__pack(optcl_params *params, size_t block, float *x);
/* The pieces of this rank's shard (malloc'd, *count of them; NULL and 0 for an empty shard),
 * with outer offsets filled in and inner offsets left for later. */
optcl_status optcl_mpi__pieces(optcl_params *params, const optcl_mpi__layout *l,
                               optcl_mpi__piece **out, size_t *count, char *message);
/* The piece's name in the shard set: "<tensor>[a:b]" (shortened for very long names). */
void optcl_mpi__piece_name(const char *tensor, size_t tensor_index, const optcl_mpi__piece *p,
                           char *out, size_t size);

/* collectives.c: every call below is collective over comm. */
/* Agreement on a local status: OPTCL_SUCCESS on every rank when every rank passed
 * OPTCL_SUCCESS; otherwise a failure on every rank: a rank that failed keeps its own status
 * and message, the others get the lowest failing rank's status and "rank r: <its message>".
 * Allocates nothing, so a rank out of memory still takes part. */
optcl_status optcl_mpi__agree(MPI_Comm comm, optcl_status local, char *message);
/* The same agreement with n ≤ OPTCL_MPI__EXCHANGE_MAX values per rank exchanged on the way, in
 * one MPI_Allgather: scratch holds K·(n + 1) doubles; on success all[r·n + i] is rank r's
 * mine[i] (all may alias scratch). */
#define OPTCL_MPI__EXCHANGE_MAX 1
optcl_status optcl_mpi__exchange(MPI_Comm comm, optcl_status local, const double *mine, int n,
                                 double *scratch, double *all, char *message);
/* The most elements one chunk of every rank's region holds together: K·C, or with uneven
 * whole-tensor shards at most the model (the room send and gather need). */
size_t optcl_mpi__chunk_room(const optcl_mpi_optimizer *opt);
/* Reduce-scatters opt->full (the gradients in the layout, starts[K] floats), scaled by weight
 * first when weight != 1, in chunks of at most C per rank per call and in place; opt->sums then
 * points at this rank's sums of its region (in send, in full itself for unweighted floats in
 * one chunk, or in recv). */
optcl_status optcl_mpi__reduce_scatter(optcl_mpi_optimizer *opt, double weight);
/* Gathers every rank's region full[starts[r], starts[r + 1]) into every rank's full, in
 * place. */
optcl_status optcl_mpi__allgather(optcl_mpi_optimizer *opt);

/* ring.c: the same two collectives as rings of MPI_Sendrecv (OPTCL_MPI_COLLECTIVES_RING). */
#define OPTCL_MPI__RING_PIECE ((size_t)1 << 20) /* elements per message: 8 MiB of doubles */
/* Sums K blocks in buf across ranks, block j of opt->counts[j] elements at opt->displs[j];
 * this rank's block r ends up holding the sum over ranks, added in ring order. */
optcl_status optcl_mpi__ring_reduce_scatter(optcl_mpi_optimizer *opt, void *buf);
/* Every rank's opt->counts[j] elements at starts[j] + c0 of full, to every rank. */
optcl_status optcl_mpi__ring_allgather(optcl_mpi_optimizer *opt, size_t c0);

/* shard_io.c: moving the shard between the model's params and the shard set. */
/* Copies the shard's parameters from the model's set into the shard set (device to device on
 * OpenCL, memcpy on the reference backend). */
optcl_status optcl_mpi__params_to_shard(optcl_mpi_optimizer *opt);
/* Reads this rank's shard parameters (unless local already failed), gathers every rank's and,
 * when every rank succeeded, writes the whole model into params. Collective. */
optcl_status optcl_mpi__shard_to_params(optcl_mpi_optimizer *opt, optcl_status local);
/* The shard's l->real layout elements at x: its pieces moved to the front, in order, as the
 * shard's set packs them (8-bit state's layout has gaps between them); and back, the gaps
 * zeroed. Nothing to do without gaps. */
void optcl_mpi__shard_compact(const optcl_mpi_optimizer *opt, float *x);
void optcl_mpi__shard_expand(const optcl_mpi_optimizer *opt, float *x);
/* The shard set's specs for these pieces ("(empty shard)" when there are none): an array
 * of *count specs, with names in the same allocation; free() it. Pieces are 1-D, or with
 * whole tensors in their tensors' shapes (the placeholder then 1×1). */
optcl_status optcl_mpi__shard_specs(optcl_params *params, const optcl_mpi__piece *pieces,
                                    size_t piece_count, bool whole, optcl_tensor_spec **out,
                                    size_t *count, char *message);

/* step.c: clip_grad_norm_'s coefficient in float, as the single-process guard computes it. */
float optcl_mpi__clip_coef(double max_norm, float total_norm);

/* manifest.c: the text file naming a sharded checkpoint's generation of rank files. */
typedef struct optcl_mpi__manifest {
    uint64_t generation, world_size, numel, shard_size, step, skipped;
    double last_norm, last_clip_coef, max_norm;
    int nonfinite;
    uint64_t tensors; /* the model's tensor count; 0 in a manifest without the tensor list */
} optcl_mpi__manifest;
/* The model's tensors as a manifest lists them (each name its own allocation). */
typedef struct optcl_mpi__tensor_list {
    optcl_tensor_spec *specs;
    size_t count, capacity;
} optcl_mpi__tensor_list;
/* Written with the tensors of params to a temporary file in the same folder, flushed, synced,
 * renamed over path, and the folder synced. */
optcl_status optcl_mpi__manifest_write(const char *path, const optcl_mpi__manifest *m,
                                       const optcl_params *params, char *message);
/* OPTCL_ERROR_IO when it cannot be read, OPTCL_ERROR_FORMAT when it is not a manifest. tensors
 * (may be NULL) receives the tensor list, empty for a manifest written before it had one;
 * release it with optcl_mpi__tensor_list_free, also after a failure. */
optcl_status optcl_mpi__manifest_read(const char *path, optcl_mpi__manifest *m,
                                      optcl_mpi__tensor_list *tensors, char *message);
/* manifest_tensors.c: the tensor lines. write: 1 when written; line: 1 when the line is one
 * (appended to list), 0 when malformed or out of memory. */
int optcl_mpi__tensors_write(FILE *f, const optcl_params *params);
int optcl_mpi__tensor_line(const char *line, optcl_mpi__tensor_list *list);
/* 1 when the names are unique and the tensors hold numel elements in all, as a model's do. */
int optcl_mpi__tensor_list_valid(const optcl_mpi__tensor_list *list, uint64_t numel);
void optcl_mpi__tensor_list_free(optcl_mpi__tensor_list *list);
/* The list as one allocation (names inside) that free() releases, as optcl_checkpoint_inspect
 * hands its specs out. */
optcl_status optcl_mpi__tensor_list_pack(optcl_mpi__tensor_list *list, optcl_tensor_spec **out,
                                         char *message);
/* OPTCL_ERROR_SIZE_MISMATCH naming the first tensor whose name, shape or group differs from
 * the model's (or the counts). */
optcl_status optcl_mpi__tensors_compare(const optcl_mpi__tensor_list *saved,
                                        const optcl_params *params, const char *path,
                                        char *message);
/* checkpoint.c: OPTCL_ERROR_FORMAT, naming the file, when the optimizer loaded from it is not
 * at the manifest's step. */
optcl_status optcl_mpi__same_step(optcl_mpi_optimizer *opt, optcl_optimizer *loaded,
                                  const char *name, const optcl_mpi__manifest *m);
/* checkpoint.c: a new shard set over these pieces and an optimizer over it, configured as the
 * live shard's. */
optcl_status optcl_mpi__fresh_shard(optcl_mpi_optimizer *opt, const optcl_mpi__piece *pieces,
                                    size_t piece_count, optcl_params **inner,
                                    optcl_optimizer **shard);
/* reshard.c: a fresh shard set and optimizer for this rank, loaded from a checkpoint saved by
 * a different number of ranks (m->world_size): the pieces from the files of the old ranks
 * whose pieces share elements with this one's, everything else from the first of them. */
optcl_status optcl_mpi__reshard(optcl_mpi_optimizer *opt, const char *path,
                                const optcl_mpi__manifest *m, optcl_params **inner,
                                optcl_optimizer **shard);
/* "<path>.<generation>.rank<r>-of-<K>.safetensors" */
void optcl_mpi__rank_file(char *out, size_t size, const char *path, uint64_t generation, int rank,
                          uint64_t world_size);

#endif /* OPTCL_MPI_SHARDED_H */
