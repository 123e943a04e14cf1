/* optcl_mpi.h — optimizer state sharded across MPI ranks (ZeRO stage 1) for data-parallel
 * training, on top of optcl.h. Built and installed only when optcl is configured with MPI
 * (CMake option OPTCL_MPI); link optcl::optcl_mpi (CMake) or optcl_mpi (pkg-config).
 *
 * Reading guide
 * -------------
 * Every rank holds the whole model in an ordinary optcl_params set (the same tensors in the
 * same order on every rank) and writes its local gradients into it. An optcl_mpi_optimizer made
 * from it owns one slice of the model — its shard — and keeps optimizer state for that slice
 * only. One step, on every rank at once:
 *
 *   1. the gradient buffer is read to host memory and reduce-scattered (MPI_Reduce_scatter_block):
 *      each rank receives the mean over all ranks of its shard's gradients;
 *   2. the gradient guard (max_norm, nonfinite of the configuration) works on that mean: the
 *      global norm comes from the shards' sums of squares (in double, so it may differ from
 *      the single-process guard's float sum in the last bit), clipping uses the
 *      single-process guard's formula, and a NaN/Inf anywhere makes every rank skip the step
 *      together;
 *   3. an ordinary optcl optimizer — the update kernel of the configuration, on the shard's own
 *      parameter set — updates the shard;
 *   4. the updated shards are gathered (MPI_Allgather) and written into every rank's parameters.
 *
 * Because an element-wise update rule's per-step scalars depend only on the step count and the
 * configuration, each element is updated exactly as one unsharded optimizer would update it;
 * the rules that look at whole tensors (LAMB, LARS, Adafactor, Muon:
 * optcl_algorithm_is_tensor_wise) get whole tensors (Layout, below), so each tensor is. With the
 * default reduction in double precision, K ranks that feed the same gradient reproduce the
 * single-process run bit for bit (see docs/SCALING.md).
 *
 * Element types: a bfloat16 or float16 model gets shards of its type, with the configuration's
 * state type and master weights (sharded with the state); each rank's gradient is read widened,
 * the mean is rounded to the type when the shard's set receives it, and the updated shards come
 * back exactly. With a guard the float32 mean is clipped before that rounding (the single-
 * process guard clips the rounded gradient), so the two agree within rounding there.
 *
 * 8-bit state (state_dtype INT8): the layout rounds each tensor up to 256 elements (the gaps are
 * zeros, never sent as gradients nor written back), and S to a multiple of 256, so shards start
 * and end on the tensors' 8-bit blocks; each piece keeps its whole tensor's state type
 * (optcl_tensor_spec.state_bits: a piece of a large tensor stays 8-bit however small), so every
 * block, absmax and code is the unsharded optimizer's. optcl_mpi_memory's shard_begin and
 * shard_end then count in that layout.
 *
 * Loss scaling (config.loss_scale): every rank's gradient carries the scale; the shard's own
 * optimizer (optcl_mpi_optimizer_shard) unscales its part of the mean and keeps the scaler, so
 * its optcl_optimizer_loss_scale_buffer is the device buffer a rank's loss kernel reads, and
 * optcl_mpi_optimizer_guard_stats reports the scale. A non-finite value in any rank's part makes
 * every shard skip and back off together; the scale is the unsharded optimizer's at every step
 * (bit for bit on the reference backend). Clipping uses the unscaled norm, as torch's unscale_ +
 * clip_grad_norm_. loss_scale.write_unscaled is refused (the gradient it would unscale is the
 * shard's mean, not the caller's buffer). optcl_mpi_checkpoint_load replaces the shard's
 * optimizer, and with it that buffer: fetch it again after a load.
 *
 * Layout: the model's elements, tensors in creation order without padding ("packed", as
 * optcl_params_read with OPTCL_ALL returns them), are padded with zeros to K·S elements, S a
 * multiple of OPTCL_MPI_SHARD_ALIGN; rank r owns [r·S, (r+1)·S). A shard's parameter set holds
 * one 1-D tensor per piece of a model tensor that falls into the shard, named "<tensor>[a:b]"
 * (elements a … b−1 of the flattened tensor) and in the tensor's parameter group, so group
 * learning rates and weight decay carry over. With a tensor-wise rule no tensor is cut: each
 * shard takes the next tensors in order while they fit in S, S the least multiple of
 * OPTCL_MPI_SHARD_ALIGN with which K shards take them all (at least the largest tensor), so
 * shards have uneven lengths and no padding (the collectives move each rank's own count), and
 * each piece is a whole tensor "<tensor>[0:n]" in its own shape. A rank whose shard
 * holds no element (more ranks than S-sized slices, or than tensors) keeps a one-element
 * placeholder "(empty shard)" (1×1 with a tensor-wise rule) that stays zero.
 *
 * Collective calls: create, destroy, step, step_weighted, set_mode, report_metric, checkpoint
 * save and load must be called by every rank of the communicator, in the same order, with the
 * same arguments where the documentation says so. They block. MPI must be initialised; the
 * optimizer works on its own duplicate of the communicator, so its messages never mix with the
 * caller's.
 *
 * Errors: every call returns optcl_status. A collective call fails on every rank together: a
 * rank that failed itself returns its own status, and its message (optcl_mpi_optimizer_message)
 * says what failed there; every other rank returns the status of the lowest rank that failed,
 * with the message "rank r: <that rank's message>". A failing MPI call (only possible with an
 * error handler other than the default MPI_ERRORS_ARE_FATAL) is OPTCL_ERROR_IO with MPI's error
 * string.
 *
 * Threading: as for optcl objects — one thread at a time, and MPI_THREAD_SINGLE is enough.
 *
 * C++: Open MPI's mpi.h pulls in its C++ bindings (libmpi_cxx) unless OMPI_SKIP_MPICXX is
 * defined before including this header.
 */
#ifndef OPTCL_MPI_H
#define OPTCL_MPI_H

#include <mpi.h>

#include "optcl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Shard sizes are multiples of this many elements (64 bytes of floats). */
#define OPTCL_MPI_SHARD_ALIGN 16

/* How gradients are summed across ranks. */
typedef enum optcl_mpi_reduce {
    /* In double precision: K equal float gradients average back to exactly that gradient, so a
     * run is independent of K. Moves 8 bytes per element. */
    OPTCL_MPI_REDUCE_DOUBLE = 0,
    /* In float: half the bytes; the mean is rounded twice (sum, then division), so results
     * depend on K in the last bits (exact when K is a power of two and gradients are equal). */
    OPTCL_MPI_REDUCE_FLOAT = 1
} optcl_mpi_reduce;

/* Who moves the data. The ring sends (K−1)/K of the buffer per rank each way, the least any
 * algorithm can; MPI libraries' algorithms for large messages do the same. */
typedef enum optcl_mpi_collectives {
    /* MPI_Reduce_scatter_block and MPI_Allgather: the MPI library picks the algorithm for the
     * message size and the network (and may use hardware offload). */
    OPTCL_MPI_COLLECTIVES_MPI = 0,
    /* optcl's own ring of K−1 MPI_Sendrecv steps each way, summing as the blocks pass: no
     * temporary buffers inside MPI, the same order of addition whatever the MPI library;
     * latency grows with K (2·(K−1) messages per step). Measured 3× faster than Open MPI
     * 4.1's MPI_Reduce_scatter_block over shared memory (docs/SCALING.md). */
    OPTCL_MPI_COLLECTIVES_RING = 1
} optcl_mpi_collectives;

typedef struct optcl_mpi_config {
    optcl_mpi_reduce reduce;           /* OPTCL_MPI_REDUCE_DOUBLE */
    optcl_mpi_collectives collectives; /* OPTCL_MPI_COLLECTIVES_MPI */
    /* The most elements per rank in one MPI collective call; larger shards are moved in several
     * calls. 0 (default): as many as keep every call's counts and byte offsets below 2^31. */
    size_t max_count;
} optcl_mpi_config;

/* The defaults noted at each field. */
OPTCL_API optcl_mpi_config optcl_mpi_config_default(void);

typedef struct optcl_mpi_optimizer optcl_mpi_optimizer;

/* Creates the sharded optimizer over params (the whole model, created on every rank with the
 * same tensors) with the usual optimizer configuration — every field means what it means for
 * optcl_optimizer_create, including groups, schedule, plateau, Lookahead, max_norm and
 * nonfinite — and the MPI settings mpi_config (NULL: defaults). The shard's parameter set and
 * its optimizer are created on params' context. Collective; blocks. On failure *out is NULL
 * and, when message is not NULL, a NUL-terminated explanation of at most message_size bytes is
 * written (on every rank; a rank that failed says what failed there, the others name the
 * lowest rank that failed, as for every collective call: Errors, above). Refused:
 * MPI not initialised, MPI_COMM_NULL, parameter sets that differ between ranks, an invalid
 * configuration or one that differs between ranks in any field (optcl_optimizer_config_field;
 * the message names the first), groups or mpi_config. params is not owned: the optimizer
 * counts itself as its dependant (optcl_params_add_dependant), so optcl_params_destroy(params)
 * is refused with OPTCL_ERROR_IN_USE until the optimizer is destroyed; a failed create leaves
 * no dependant. */
OPTCL_API optcl_status optcl_mpi_optimizer_create(MPI_Comm comm, optcl_params *params,
                                                  const optcl_optimizer_config *config,
                                                  const optcl_mpi_config *mpi_config,
                                                  optcl_mpi_optimizer **out, char *message,
                                                  size_t message_size);
/* Frees the optimizer and its communicator, and releases its hold on params (which may be
 * destroyed from then on). Collective (MPI_Comm_free); NULL is accepted on every rank or on
 * none. */
OPTCL_API optcl_status optcl_mpi_optimizer_destroy(optcl_mpi_optimizer *opt);

/* One data-parallel step: the gradients every rank wrote into params are averaged, and every
 * rank's params receive the updated model. Collective; blocks until params hold the result.
 * Host memory carries the data (MPI does not take OpenCL buffers): the whole gradient buffer is
 * read once and the whole parameter buffer written once per step. With nonfinite = SKIP and a
 * NaN/Inf in the averaged gradient, nothing changes on any rank (not even the step count) and
 * the skipped counter goes up by one. */
OPTCL_API optcl_status optcl_mpi_optimizer_step(optcl_mpi_optimizer *opt);
/* The same with a weighted mean: sum over ranks of weight·gradient, divided by the sum of the
 * weights — e.g. weight = the rows of the batch this rank computed its mean gradient over, so
 * that unequal splits still give the whole batch's mean. weight must be finite and ≥ 0 and the
 * sum over ranks > 0; a rank of weight 0 still sends its gradient times 0, so a NaN or Inf
 * there still counts (zero its gradient buffer). One small extra collective (the weights). */
OPTCL_API optcl_status optcl_mpi_optimizer_step_weighted(optcl_mpi_optimizer *opt, double weight);

/* Steps taken (skipped steps do not count). */
OPTCL_API uint64_t optcl_mpi_optimizer_step_count(const optcl_mpi_optimizer *opt);
/* The gradient guard's account, as optcl_optimizer_guard_stats: steps, steps skipped for a
 * NaN/±Inf averaged gradient, the last step's global 2-norm of the averaged gradient before
 * clipping (a float value; +inf or NaN when an element was; computed at every step, guard or
 * not, 0 before the first) and the factor it was scaled by (1 without clipping); with loss
 * scaling the scale and the growth tracker (the shard optimizer's, which this reads: it may
 * block on OpenCL), else 1 and 0. The same bits on every rank. */
OPTCL_API optcl_status optcl_mpi_optimizer_guard_stats(const optcl_mpi_optimizer *opt,
                                                       optcl_guard_stats *stats);

/* The lr the next step uses for a group, and a change of it from the next step on (group −1:
 * every group) — as optcl_optimizer_get_lr / set_lr. set_lr is local: call it on every rank
 * with the same value. */
OPTCL_API optcl_status optcl_mpi_optimizer_get_lr(const optcl_mpi_optimizer *opt, int group,
                                                  double *lr);
OPTCL_API optcl_status optcl_mpi_optimizer_set_lr(optcl_mpi_optimizer *opt, int group, double lr);
/* Schedule-Free's train/eval switch (optcl_optimizer_set_mode) on every rank's shard, then
 * every rank's params receive the whole model in that mode. Collective; blocks. */
OPTCL_API optcl_status optcl_mpi_optimizer_set_mode(optcl_mpi_optimizer *opt, optcl_mode mode);
/* Reports a metric to ReduceLROnPlateau (config.plateau.enabled must be 1). Collective: every
 * rank reports its own value (e.g. the loss on its part of the validation set) and all of them
 * use the mean over ranks — exactly the value itself when every rank reports the same one — so
 * every rank reduces its lr at the same report. */
OPTCL_API optcl_status optcl_mpi_optimizer_report_metric(optcl_mpi_optimizer *opt, double metric);

/* The configuration in use, as given (max_norm and nonfinite included; groups NULL); after a
 * checkpoint load, the file's. Owned by the optimizer. */
OPTCL_API const optcl_optimizer_config *
optcl_mpi_optimizer_config_get(const optcl_mpi_optimizer *opt);

/* Where this rank's memory goes. Every size is in bytes unless it says elements. */
typedef struct optcl_mpi_memory {
    int rank, world_size;
    size_t numel;       /* elements of the whole model (no padding) */
    size_t shard_size;  /* S: elements per shard, padding included; equal on every rank */
    size_t shard_begin; /* this rank's elements [shard_begin, shard_end) of the packed model */
    size_t shard_end;   /* (shard_end − shard_begin < S only on the last ranks, or with whole
                           tensors on any rank) */
    size_t state_bytes; /* optimizer state this rank allocated (device, or host on the
                           reference backend): the shard set's flat size × the bytes per element
                           of the rule's states, Lookahead's slow weights and master weights */
    size_t unsharded_state_bytes; /* what one unsharded optimizer over params would allocate
                                     (8-bit state, and Adafactor's factors: scaled from the
                                     shard's bytes per element) */
    size_t shard_params_bytes;    /* the shard's own parameter and gradient buffers */
    size_t host_bytes;            /* host staging buffers of the step (all ranks alike) */
} optcl_mpi_memory;

/* Fills *memory; never fails for valid pointers. The shard set's flat size is at most S +
 * pieces × (alignment − 1), so with element-wise rules state_bytes ≤ unsharded_state_bytes / K
 * plus padding; with whole tensors S is at least the largest tensor, and may exceed N/K. */
OPTCL_API optcl_status optcl_mpi_optimizer_memory(const optcl_mpi_optimizer *opt,
                                                  optcl_mpi_memory *memory);

/* Seconds this rank spent in each phase of its steps so far (MPI_Wtime), for finding where the
 * time goes; take two snapshots and subtract. Only calls of optcl_mpi_optimizer_step[_weighted]
 * that succeed count: a refused or failed one adds neither a step nor time. */
typedef struct optcl_mpi_timings {
    uint64_t steps;        /* steps timed: successful calls, skipped steps included */
    double read_grads;     /* the whole gradient buffer to host memory */
    double reduce_scatter; /* conversion and MPI_Reduce_scatter_block */
    double guard;          /* averaging, sum of squares, their exchange (and the weights') */
    double update;         /* shard gradients in, the shard's parameters in, its step (run) */
    double allgather;      /* the shard's parameters out, MPI_Allgather, the agreement */
    double write_params;   /* the whole model into params */
} optcl_mpi_timings;

OPTCL_API optcl_status optcl_mpi_optimizer_timings(const optcl_mpi_optimizer *opt,
                                                   optcl_mpi_timings *timings);

/* The optimizer that updates this rank's shard, and its parameter set (owned by the sharded
 * optimizer; valid until it is destroyed): for reading the shard's state
 * (optcl_optimizer_read_state), build logs and messages. Stepping it or loading into it
 * directly breaks the sharded optimizer's bookkeeping. */
OPTCL_API optcl_optimizer *optcl_mpi_optimizer_shard(const optcl_mpi_optimizer *opt);
OPTCL_API optcl_params *optcl_mpi_optimizer_shard_params(const optcl_mpi_optimizer *opt);

/* The last failure's message of a call on this optimizer; "" when none. Owned by the optimizer,
 * valid until its next failing call. */
OPTCL_API const char *optcl_mpi_optimizer_message(const optcl_mpi_optimizer *opt);

/* Saves the whole training state: every rank writes its shard as an ordinary optcl checkpoint
 * (safetensors: the shard's pieces, their optimizer state, step count, configuration, group
 * lrs, plateau and Lookahead state) to "<path>.<generation>.rank<r>-of-<K>.safetensors", then
 * rank 0 writes path itself, a small text manifest naming the generation, the world size, the
 * model's size and tensors (name, shape, group, state_bits), the step and skipped counts and
 * the gradient guard. Every file is written
 * crash-safely, the manifest last, and the previous generation's files are removed only after
 * it: a crash at any moment leaves a complete checkpoint (the old or the new one). Collective;
 * blocks. path must be the same string on every rank: a NULL, empty or too long path, or one
 * that differs from rank 0's, is refused on every rank before anything is written
 * (OPTCL_ERROR_INVALID_ARGUMENT naming the rank that differs; NULL: OPTCL_ERROR_NULL_POINTER).
 * On a file system that ranks do not share, each rank's file lies on its own machine and the
 * manifest on rank 0's. */
OPTCL_API optcl_status optcl_mpi_checkpoint_save(optcl_mpi_optimizer *opt, const char *path);

/* Restores a checkpoint written by optcl_mpi_checkpoint_save into the optimizer and every
 * rank's params. The model and the optimizer's structure must be the saved ones: the
 * manifest lists the model's tensors, and a model that differs in a tensor's name, shape or
 * group, or in the tensor count, is refused (OPTCL_ERROR_SIZE_MISMATCH) naming the first
 * difference (a manifest written before the list: the element count and the pieces' names
 * are checked). The world
 * size may differ: each rank then cuts its shard anew from the files of the ranks whose shards
 * held its pieces (on a file system every rank reads; 8-bit state moves as its codes), and the
 * run continues bit for bit, as ZeRO-1's steps do not depend on the number of ranks.
 * Everything is checked on every rank before anything changes; then all ranks load or none
 * does. path as for optcl_mpi_checkpoint_save: the same on every rank. Collective; blocks. */
OPTCL_API optcl_status optcl_mpi_checkpoint_load(optcl_mpi_optimizer *opt, const char *path);

/* Reads a sharded checkpoint's manifest and rank 0's file, without MPI or a context, so that a
 * program can recreate what it was saved from: the world size, the model's element count and
 * the optimizer configuration (max_norm and nonfinite included; groups NULL). Any of the
 * outputs may be NULL. Not collective; on failure message names the path and the problem. */
OPTCL_API optcl_status optcl_mpi_checkpoint_inspect(const char *path, int *world_size,
                                                    size_t *numel, optcl_optimizer_config *config,
                                                    char *message, size_t message_size);

/* A sharded checkpoint's progress (optcl_checkpoint_progress: steps, skipped steps, loss scale,
 * each group's next lr), from its manifest and rank 0's file, without MPI or a context. Not
 * collective; on failure *progress is unchanged and message names the path and the problem. */
OPTCL_API optcl_status optcl_mpi_checkpoint_inspect_progress(const char *path,
                                                             optcl_checkpoint_progress *progress,
                                                             char *message, size_t message_size);

/* The model's tensors a sharded checkpoint was saved from — name, shape, group and state_bits
 * of each, in the order they were created — from its manifest, without MPI or a context, so
 * that a program can create the same parameter set to resume into (as optcl_checkpoint_inspect
 * does for an ordinary checkpoint). *specs is one allocation (names included) freed with
 * free(); on failure *specs and *count are untouched. A checkpoint whose manifest does not list
 * them (written by an optcl before 0.2.0's tensor list): OPTCL_ERROR_NOT_FOUND. Not collective;
 * on failure message names the path and the problem. */
OPTCL_API optcl_status optcl_mpi_checkpoint_tensors(const char *path, optcl_tensor_spec **specs,
                                                    size_t *count, char *message,
                                                    size_t message_size);

#ifdef __cplusplus
}
#endif
#endif /* OPTCL_MPI_H */
