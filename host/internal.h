/* internal.h — the structures behind optcl's opaque handles and the helpers shared across
 * host/ files. Nothing here is public. */
#ifndef OPTCL_INTERNAL_H
#define OPTCL_INTERNAL_H

#include "optcl.h"

#include <stdarg.h>
#include <stdbool.h>

#define OPTCL__MESSAGE_MAX 2048
#define OPTCL__NAME_MAX 255
#define OPTCL__MAX_STATES 5 /* three of the rule, the master, Lookahead's slow weights */
/* Tensor offsets are multiples of 256 elements on every backend and for every element type:
 * 512 bytes of a 2-byte type, NVIDIA's base-address alignment (AMD's is 256, Intel's and
 * PoCL's 128), or a device's larger alignment. So a set is laid out alike everywhere and in
 * every type, and what follows the layout — the gradient guard's order of addition,
 * stochastic rounding's draws — gives the same bits everywhere. */
#define OPTCL__LAYOUT_ALIGNMENT_BYTES 512 /* of the smallest type, 2 bytes */

#if defined(__GNUC__)
#define OPTCL__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define OPTCL__PRINTF(f, a)
#endif

/* Sets argument i of kernel k to the value v (an lvalue) unless an earlier call failed: a run of
 * these leaves the first failure in the cl_int err in scope. */
#define OPTCL__ARG(k, i, v)                                                                        \
    (err = err == CL_SUCCESS ? clSetKernelArg((k), (i), sizeof(v), &(v)) : err)

/* Formats into a message buffer (always NUL-terminated, silently truncated). */
void optcl__format(char *buf, size_t size, const char *fmt, ...) OPTCL__PRINTF(3, 4);
void optcl__vformat(char *buf, size_t size, const char *fmt, va_list ap);
/* Formats the message and returns status: `return optcl__fail(ctx->message, st, "...")`. */
optcl_status optcl__fail(char *message, optcl_status status, const char *fmt, ...)
    OPTCL__PRINTF(3, 4);

/* A kernel optcl made on a context and the most work-items a work-group of it may hold
 * (CL_KERNEL_WORK_GROUP_SIZE), read once when it is made (launch.c). */
typedef struct optcl__kernel_limit {
    cl_kernel kernel;
    size_t most;
} optcl__kernel_limit;

/* One built program, cached per context and configuration. */
typedef struct optcl__program {
    char *key; /* "<family>|<options>" */
    cl_program program;
    char *build_log;
    struct optcl__program *next;
} optcl__program;

struct optcl_context {
    optcl_backend backend;
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl_ctx;
    cl_command_queue queue;
    size_t alignment;       /* elements, of every type (OPTCL__LAYOUT_ALIGNMENT_BYTES) */
    size_t local_size;      /* preferred work-group size, a power of two */
    unsigned vector_width;  /* elements per work-item, 1 to 16 (context.c); the kernels' VEC */
    unsigned totals_items;  /* work-items per tensor in the per-tensor totals: 1 or 64 */
    size_t q8_block_items;  /* work-items per 8-bit block: 1, or OPTCL_INT8_BLOCK / VEC (GPUs) */
    bool clblast_used;      /* CLBlast built programs for this context (orthogonal.h) */
    cl_ulong max_alloc;     /* bytes */
    /* float32 as the reference backend computes it, which bit-for-bit agreement needs
     * (docs/PRECISION.md): the device supports -cl-fp32-correctly-rounded-divide-sqrt
     * (CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT; without it the build leaves the option out), and it
     * keeps denormals rather than flushing them to zero (CL_FP_DENORM); `optcl devices` says
     * both */
    bool correctly_rounded, denormals;
    char device_name[512];
    size_t live_params;       /* parameter sets made from this context */
    optcl__program *programs; /* build cache */
    optcl__kernel_limit *kernels; /* the live kernels made through optcl__kernel_create */
    size_t kernel_count, kernel_capacity;
    char message[OPTCL__MESSAGE_MAX];
};

typedef struct optcl__tensor {
    char *name;
    int ndim;
    int64_t shape[OPTCL_MAX_DIMS];
    int group;
    int state_bits; /* 8-bit state: 0 by size, 8 or 32 (optcl_tensor_spec) */
    size_t offset, count;
    cl_mem view[OPTCL_ROLE_COUNT]; /* sub-buffers; NULL on the reference backend */
} optcl__tensor;

/* A parameter group's contiguous range [begin, end) of the flat buffers. */
typedef struct optcl__group_range {
    int group;
    size_t begin, end;
} optcl__group_range;

struct optcl_params {
    optcl_context *ctx;
    optcl_dtype dtype; /* of the parameters and gradients */
    size_t count;
    optcl__tensor *tensors;
    size_t numel, flat;
    size_t range_count;
    optcl__group_range ranges[OPTCL_MAX_GROUPS];
    cl_mem buffer[OPTCL_ROLE_COUNT]; /* OpenCL backend */
    float *host[OPTCL_ROLE_COUNT];   /* reference backend: values of dtype, in float32 */
    size_t live_optimizers;
    size_t live_dependants; /* optcl_params_add_dependant's: a sharded optimizer, … */
    char message[OPTCL__MESSAGE_MAX];
};

/* Per-step scalars: computed once per step and group on the host in double precision, rounded
 * to float once, and handed unchanged to the OpenCL kernel (as one by-value argument, or as a
 * row of the guard's table) or to the reference rule. kernels/common.cl's optcl_scalars is
 * the same struct, field for field. */
#define OPTCL_RULE_SCALARS 8 /* per-step scalars a rule may name for itself */
typedef struct optcl__step_scalars {
    float lr, neg_lr, weight_decay;
    float momentum, one_minus_dampening; /* SGD, RMSprop momentum */
    int first_step;
    float one_minus_beta1, beta2, one_minus_beta2; /* Adam */
    float neg_step_size, bias_correction2_sqrt, eps, decay_factor;
    float alpha, one_minus_alpha;                /* RMSprop */
    float etaminus, etaplus, step_min, step_max; /* Rprop */
    float lookahead_alpha;                       /* the α of a Lookahead sync ending this step */
    float rule[OPTCL_RULE_SCALARS]; /* a rule's own, named in its descriptor and its kernel */
    uint32_t round_key;                          /* stochastic rounding: the step's key */
} optcl__step_scalars;
_Static_assert(sizeof(optcl__step_scalars) == (21 + OPTCL_RULE_SCALARS) * 4,
               "optcl_scalars in common.cl has no padding");

/* A rule's cache of running products or sums of per-step values (NAdam's μ product,
 * Schedule-Free's weight sum, ASGD's η for the next step) as of step `step`, per group: a
 * function of the step and the lrs of the steps so far, cached so that each step costs one more
 * term; torch keeps them as state (the descriptor's `running` names them). */
typedef struct optcl__rule_memo {
    uint64_t step; /* 0: empty */
    double value[2];
} optcl__rule_memo;

/* What a rule's per-step scalars are computed from. */
typedef struct optcl__step_inputs {
    double lr, weight_decay; /* the group's, for this step (schedule and plateau applied) */
    double prev_lr;          /* the previous step's lr (the first step: lr) */
    uint64_t step;           /* 1-based */
    optcl__rule_memo *memo;  /* the optimizer's, for this group */
    const optcl_group_config *group; /* the group's, resolved (exclude_from_trust_ratio) */
} optcl__step_inputs;

/* The gradient guard's record on the device; kernels/common.cl's optcl_guard, field for field. */
typedef struct optcl__guard {
    uint64_t steps, skipped;
    float norm, coef;
    int32_t skip;
    uint32_t slot;
    float inv_scale;
    uint32_t growth_tracker;
    float prev_scale;
    uint32_t prev_tracker;
} optcl__guard;
_Static_assert(sizeof(optcl__guard) == 48, "optcl_guard in common.cl has no padding");

/* What the update kernel decides with when it reduces the gradient itself (a set that one
 * work-group steps); kernels/guard_decide.cl's optcl_guard_params, field for field. */
typedef struct optcl__guard_params {
    float max_norm, growth_factor, backoff_factor;
    uint32_t growth_interval, capacity;
} optcl__guard_params;
_Static_assert(sizeof(optcl__guard_params) == 20, "optcl_guard_params has no padding");

#define OPTCL__GUARD_FINAL 256    /* guard_decide.cl's tree: the workers' sums it adds */
#define OPTCL__GUARD_CAPACITY 256 /* scalar table rows: steps enqueued between record reads */

/* Rows of an lr change staged for a write that may be in flight (guard_rows.c): freed once
 * written. */
typedef struct optcl__guard_staged {
    cl_event written;
    optcl__step_scalars *rows;
} optcl__guard_staged;

struct optcl_optimizer {
    optcl_params *params;
    optcl_optimizer_config config; /* groups resolved into groups[]; its pointer is NULL */
    optcl_group_config groups[OPTCL_MAX_GROUPS]; /* base lr and weight decay, never negative */
    uint64_t steps;
    const struct optcl__rule *rule; /* its descriptor (host/rules/) */
    optcl__rule_memo memo[OPTCL_MAX_GROUPS]; /* each group's running products, if the rule keeps
                                                any */
    optcl_dtype state_type;         /* the update rule's states' (config.state_dtype resolved) */
    size_t master;                  /* the index of state "master" (config.master_weights) */
    size_t rule_states; /* the update rule's states come first … */
    unsigned state_slot[OPTCL__MAX_STATES]; /* … each at this kernel state slot */
    size_t state_count; /* … then "lookahead_slow" when Lookahead is on */
    const char *state_names[OPTCL__MAX_STATES];
    cl_mem state[OPTCL__MAX_STATES];      /* OpenCL backend */
    float *host_state[OPTCL__MAX_STATES]; /* reference backend */
    /* 8-bit state (state_type OPTCL__DTYPE_Q8, q8.h): the layout, its table on the device, the
     * map of each rule state, and on the reference backend each state's buffer as the device
     * holds it (host_state holding its values, dequantized) */
    struct optcl__q8 *q8;
    cl_mem q8_table;
    bool q8_unsigned[OPTCL__MAX_STATES];
    uint8_t *host_q8[OPTCL__MAX_STATES];
    cl_kernel kernel;                     /* the update rule */
    struct optcl__segments *segments;     /* rules that look at whole tensors (segments.h) */
    cl_kernel mode_kernel;                /* Schedule-Free's train/eval switch (mode.c) */
    optcl_mode mode;
    cl_kernel lookahead_kernel;
    cl_kernel lookahead_start; /* low-precision parameters: widens them into slow */
    const char *build_log;
    optcl_plateau_state plateau;
    double lookahead_alpha;  /* α of the last sync */
    uint64_t counted_from;   /* the count the last new count set (0 at create): syncs after */
    /* Lookahead's slow weights (lookahead.c): unset (at create, after a new count) until a
     * step taken starts them from the parameters; set by that step, by the caller or by a
     * checkpoint. slow_at: unset, the count then (the step past it starts them); written or
     * loaded, the count then (no step taken since while the count is still it). */
    bool slow_set;
    uint64_t slow_at;
    optcl_loss_fn search_fn; /* Lookahead α line search, when set */
    void *search_user;
    int search_points;
    cl_mem search_fast; /* the fast weights saved while the search blends */
    float *host_search_fast;
    size_t live_trackers;     /* trackers that save this optimizer */
    uint64_t launches;        /* kernels enqueued (optcl_optimizer_launch_count) */
    cl_kernel traffic_kernel; /* the benchmark's yardstick, built on first use */
    /* Gradient guard (guard.c), when max_norm > 0 or nonfinite = SKIP. On the OpenCL backend
     * the device owns the step count: steps above is the count the record last showed, and
     * guard_pending the steps enqueued since, each of which may have been skipped. */
    bool guarded;
    uint64_t guard_pending;
    uint64_t guard_rows_to;     /* the scalar table holds the rows of counts up to this one */
    uint64_t guard_changed_at;  /* the count at the last change of the rows' values (guard_rows.c) */
    uint64_t skipped;           /* as of the last record read (exact on the reference backend) */
    float last_norm, last_coef; /* likewise */
    float loss_scale;           /* likewise: the scale the next backward pass uses */
    uint32_t growth_tracker;    /* likewise */
    size_t guard_workers;       /* the stats launch's size (optcl__guard_workers) */
    cl_mem guard_record, guard_table, guard_partials;
    cl_mem guard_loss_scale; /* one float: the loss scale (1 without loss scaling) */
    cl_kernel guard_stats, guard_finalize, guard_undo; /* stats NULL: fused into finalize */
    /* the update kernel reduces and decides itself (guard_decide.cl's GUARD_FUSED): a set of
     * one group range that one work-group steps, without Lookahead or per-tensor launches;
     * then stats and finalize are not made and a step is one launch */
    bool guard_in_step;
    optcl__step_scalars *guard_rows; /* the table's host copy: capacity × range_count */
    /* each row's group memo as it was after that row: a change of the lr resumes the running
     * products and sums from the count the device holds, with the lrs its rows had */
    optcl__rule_memo *guard_memos;
    /* set_lr with a guard does not wait for the queue: its rows go from staged copies, and a
     * read of the record behind them tells the count they found (guard_seen), after the
     * guard_seen_pending steps then in flight */
    optcl__guard_staged *guard_staged;
    size_t guard_staged_count, guard_staged_cap;
    optcl__step_scalars *guard_spare; /* a staged copy's room (capacity rows) kept for the next */
    cl_event guard_seen_event; /* NULL: no read in flight */
    optcl__guard guard_seen;
    uint64_t guard_seen_pending;
    float *guard_host_partials;      /* reference backend: 2 × guard_workers */
    float *guard_clipped;            /* reference backend: the clipped gradient */
    char message[OPTCL__MESSAGE_MAX];
};

/* checkpoint.c: that the names a checkpoint of opt would hold its tensors under — each
 * parameter's, "optim.<state>.<name>", 8-bit states' ".absmax", factored states' — are all
 * different (a parameter named "optim.exp_avg.w" beside "w" would make every save fail);
 * else INVALID_ARGUMENT naming both tensors. For optimizer create, once the states are known. */
optcl_status optcl__checkpoint_names_unique(optcl_optimizer *opt, char *message);

/* guard.c, guard_rows.c (the ring of scalar rows: prepare, rows, lr changes, memos) */
/* Whether a configuration asks for the gradient guard (clipping or non-finite skip). */
bool optcl__guard_wanted(const optcl_optimizer_config *c);
optcl_status optcl__guard_create(optcl_optimizer *opt);
void optcl__guard_free(optcl_optimizer *opt);
/* After the update kernel is made (OpenCL): when it was built to reduce the set itself
 * (guard_in_step) in one work-group, yet allows fewer items per work-group than the set has
 * (its CL_KERNEL_WORK_GROUP_SIZE below the device's), releases it and makes the guard's own
 * launches; *rebuild: build the update kernel again, now without GUARD_FUSED. The same sums in
 * the same order either way (kernels/guard_decide.cl), so the same bits. Message on the
 * context. */
optcl_status optcl__guard_fit_update(optcl_optimizer *opt, bool *rebuild);
/* Bind an update kernel's guard arguments from index first (OpenCL); their count. */
cl_int optcl__guard_bind(optcl_optimizer *opt, cl_kernel kernel, cl_uint first);
cl_uint optcl__guard_arg_count(const optcl_optimizer *opt);
/* The guarded step's parts on the OpenCL backend (step.c runs them in order): prepare makes
 * sure the scalar table holds the row of every count this step may reach (a blocking read and
 * a write once per OPTCL__GUARD_CAPACITY steps); reduce enqueues the norm and the verdict,
 * which counts the step on the device, the first command carrying the wait list (not called
 * when guard_in_step: the update kernel does that); take_back
 * undoes that count when nothing of the step could be enqueued after it, and returns st with
 * the message "gradient guard: <what> failed". */
optcl_status optcl__guard_prepare(optcl_optimizer *opt);
optcl_status optcl__guard_reduce(optcl_optimizer *opt, cl_uint num_events,
                                 const cl_event *wait_list);
optcl_status optcl__guard_take_back(optcl_optimizer *opt, optcl_status st, const char *what);
/* Reference backend: decides the step at once. True: skip it; else *grads is the gradient to
 * use (clipped when max_norm is set). */
bool optcl__guard_decide(optcl_optimizer *opt, const float **grads);
/* Writes the scalar rows of the next few counts (non-blocking; the ring fills again as they are
 * used up); after a blocking call that made the count exact, and again whenever what the rows
 * hold changes (the lr, a plateau reduction). */
optcl_status optcl__guard_rows(optcl_optimizer *opt);
/* Empties the running products and sums (memo) and what the guard kept of them: they start
 * over from the first step with the values now set (an option changed, a count or a checkpoint
 * loaded). */
void optcl__forget_memos(optcl_optimizer *opt);
/* A copy of the memos and the guard's, to put back where a change fails after forgetting them
 * (guard_memos malloc'd, NULL without a guard; the caller frees it). */
typedef struct optcl__saved_memos {
    optcl__rule_memo memo[OPTCL_MAX_GROUPS];
    optcl__rule_memo *guard_memos;
} optcl__saved_memos;
optcl_status optcl__save_memos(optcl_optimizer *opt, optcl__saved_memos *saved);
void optcl__restore_memos(optcl_optimizer *opt, const optcl__saved_memos *saved);
/* The group's running products and sums as of the count `steps` (after a sync, exact): the
 * guard's row of that count, else the memo itself; false when neither is at that count. */
bool optcl__memo_now(const optcl_optimizer *opt, int group, optcl__rule_memo *out);
/* Makes *memo (at the count `steps`, after a sync) the group's, in the guard's row of that
 * count too; the rows ahead still carry the old one until optcl__guard_rows. */
void optcl__memo_set(optcl_optimizer *opt, int group, const optcl__rule_memo *memo);
/* An lr change with a guard on the OpenCL backend, without waiting for the queue (except for a
 * rule with lr_history, which reads the count back as set_option does, or more steps in flight
 * than the ring can cover): begin brings the count up to what the last change's read showed,
 * if it is back; end writes the rows from a staged copy for every count the device may hold
 * (steps … steps + pending) and the window after, and reads the record behind them. */
optcl_status optcl__guard_lr_begin(optcl_optimizer *opt);
optcl_status optcl__guard_lr_end(optcl_optimizer *opt);
/* Reads the device's record (blocking) and brings steps, skipped and the norm up to date. */
optcl_status optcl__guard_sync(optcl_optimizer *opt);
/* Writes steps/skipped/norm into the device's record (after a checkpoint load). Blocks. */
optcl_status optcl__guard_store(optcl_optimizer *opt);
/* The step count now: the record's when steps may be pending (blocking read), else steps. */
uint64_t optcl__steps_now(const optcl_optimizer *opt);
/* The same, without changing anything, or the failure of the read (message set). */
optcl_status optcl__steps_read(optcl_optimizer *opt, uint64_t *steps);
/* Index of the update kernel's first scalar argument (after its buffers). */
cl_uint optcl__scalar_arg(const optcl_optimizer *opt);
/* Sets an update kernel's (the step's, or a rule's sums or totals kernel's) per-launch argument:
 * the step's scalars, or — scalars NULL, when the device counts — the index of group range r,
 * from which the kernel finds its row of the guard's table. */
cl_int optcl__set_step_scalars(const optcl_optimizer *opt, cl_kernel kernel, size_t r,
                               const optcl__step_scalars *scalars);
/* optimizer.c: binds the arguments an update kernel (the step's, or a rule's sums kernel) shares
 * with the others — buffers, the guard's, the master — and sets *next to the index after them. */
cl_int optcl__bind_step_arguments(optcl_optimizer *opt, cl_kernel kernel, cl_uint *next);
/* The scalars of a 1-based step for a group: its lr through schedule and plateau, the rule's
 * scalars, and Lookahead's α when the step ends a cycle. */
void optcl__scalars_for_step(optcl_optimizer *opt, int group, uint64_t step,
                             optcl__step_scalars *s);

/* schedule.c: optcl_schedule_validate for the schedule called name in messages ("schedule",
 * "lookahead.alpha_schedule"). */
optcl_status optcl__schedule_validate(const optcl_schedule *s, const char *name, char *message,
                                      size_t message_size);
/* optimizer_lr.c: the lr group g uses at 0-based step t (schedule, then plateau), of an
 * optimizer, or of a configuration, plateau state and the group's base lr (a checkpoint's). */
double optcl__group_lr(const optcl_optimizer *opt, int group, uint64_t t);
double optcl__lr_at(const optcl_optimizer_config *config, const optcl_plateau_state *plateau,
                    int group, double base_lr, uint64_t t);

/* mode.c: the train/eval switch's kernel from the update rule's program (OpenCL, rules with
 * modes; nothing otherwise). */
cl_int optcl__mode_kernel_create(optcl_optimizer *opt, cl_program program);

/* lookahead.c: the sync after a step that ends a k-step cycle (steps already counted). */
/* With a guard on OpenCL, where the device counts: the kernel that starts (sync 0, before the
 * update) or syncs (sync 1, after it) when the device's count says so. */
optcl_status optcl__lookahead_counted(optcl_optimizer *opt, int sync, cl_event *event);
optcl_status optcl__lookahead_sync(optcl_optimizer *opt, cl_event *event);
/* Copies the parameters into the slow weights (the first step taken while they are unset),
 * after wait_list. */
optcl_status optcl__lookahead_init(optcl_optimizer *opt, cl_uint num_events,
                                   const cl_event *wait_list);
/* The slow weights' state as the calls change it: whether the next step taken starts them;
 * settle: the count known on the host went past the start (after a step on the host, after a
 * read of the device's count); the count changed from before by set_step_count or
 * load_progress (before: the count then, the device's read back); the caller wrote them at
 * the count (the device's read back); a checkpoint loaded them. */
bool optcl__lookahead_unset(const optcl_optimizer *opt);
void optcl__lookahead_settle(optcl_optimizer *opt);
void optcl__lookahead_recounted(optcl_optimizer *opt, uint64_t before);
void optcl__lookahead_written(optcl_optimizer *opt);
/* Before the caller writes slow weights: the count read back where the device owns it, and
 * unset ones started from the parameters. */
optcl_status optcl__lookahead_write_begin(optcl_optimizer *opt);
void optcl__lookahead_loaded(optcl_optimizer *opt, bool unset);
/* Whether state i is Lookahead's slow weights. */
bool optcl__is_slow_state(const optcl_optimizer *opt, size_t i);

/* optimizer.c: optcl__transfer for state i. */
optcl_status optcl__state_transfer(optcl_optimizer *opt, size_t i, size_t index, float *data,
                                   size_t count, bool to_device, char *message, const char *what);
/* The element type of state i (the rule's states: state_type; Lookahead's: float32). */
optcl_dtype optcl__state_dtype(const optcl_optimizer *opt, size_t i);

/* params.c: copies between float32 host memory (packed, creation order) and one flat buffer of
 * element type dtype — a cl_mem, or host_base on the reference backend (values of dtype in
 * float32) — for tensor index or OPTCL_ALL: rounded to nearest even on the way in, widened on
 * the way out. Blocks. */
optcl_status optcl__transfer(optcl_params *p, cl_mem buffer, float *host_base, optcl_dtype dtype,
                             size_t index, float *data, size_t count, bool to_device,
                             char *message, const char *what);
/* Its parts: the checks of data and count, and the device copies of elements of elem_size
 * bytes (each tensor at its offset × elem_size). */
optcl_status optcl__transfer_check(const optcl_params *p, size_t index, const void *data,
                                   size_t count, char *message, const char *what);
optcl_status optcl__transfer_device(optcl_params *p, cl_mem buffer, size_t index, void *data,
                                    size_t elem_size, bool to_device, char *message,
                                    const char *what);

/* config.c */
/* The element type of the update rule's state for parameters of type params (SAME: params). */
optcl_dtype optcl__state_type(const optcl_optimizer_config *c, optcl_dtype params);
/* What a configuration asks of the parameter set's type (master weights, stochastic rounding). */
optcl_status optcl__validate_for_params(const optcl_optimizer_config *c, optcl_dtype params,
                                        char *message);
optcl_status optcl__validate_config(const optcl_optimizer_config *c, char *message);

/* scalars.c: the per-step scalars of a group's step, from what the step's rule needs to know. */
void optcl__compute_scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                            optcl__step_scalars *s);

/* program.c: the kernel family's program for these build options, from the cache or built. */
optcl_status optcl__get_program(optcl_context *ctx, const char *family, const char *options,
                                cl_program *program, const char **build_log);
void optcl__release_programs(optcl_context *ctx);

/* launch.c */
/* OPTCL_GROUP_GRANULE (optcl.h) is 256 work-items × 16 floats, the largest work-group size ×
 * VEC optcl uses, so every launch over a group range or the whole set runs whole work-groups
 * on every device; the one group of a smaller set is a power of two of work-items, one
 * work-group of at least 64 items on GPUs (VEC 4). Layouts agree across backends and vector
 * widths. */
_Static_assert(OPTCL_GROUP_GRANULE % (256 * 16) == 0, "every work-group size × VEC divides it");
_Static_assert(OPTCL_GROUP_MIN >= 64 * 4, "GPUs get work-groups of at least 64 items");
/* The padded length of a group range of length elements (a multiple of alignment);
 * only_group: the set has no other group, and may stay below the granule. */
size_t optcl__group_length(size_t length, size_t alignment, bool only_group);
/* Kernels and their work-group limits. A kernel may allow fewer items per work-group than the
 * device (CL_KERNEL_WORK_GROUP_SIZE: one that uses many registers, on Intel GPUs for one), and a
 * launch above its limit fails (CL_INVALID_WORK_GROUP_SIZE). optcl__kernel_create makes the
 * kernel and reads its limit (a failure releases it: NULL and *err); optcl__kernel_release
 * (NULL: nothing) forgets it, so that a later kernel with the same handle is not mistaken for
 * it. The launches below look the limit up. */
cl_kernel optcl__kernel_create(optcl_context *ctx, cl_program program, const char *name,
                               cl_int *err);
void optcl__kernel_release(optcl_context *ctx, cl_kernel kernel);
/* The context's list of kernels and limits itself, which those two keep: add (CL_OUT_OF_HOST_MEMORY
 * when it cannot grow) and remove. */
cl_int optcl__kernel_remember(optcl_context *ctx, cl_kernel kernel, size_t most);
void optcl__kernel_forget(optcl_context *ctx, cl_kernel kernel);
/* The kernel's CL_KERNEL_WORK_GROUP_SIZE (SIZE_MAX for a kernel made otherwise). */
size_t optcl__kernel_most(const optcl_context *ctx, cl_kernel kernel);
/* Its full work-group: ctx->local_size, halved until within its limit — a power of two, so
 * it still divides every padded range. (NULL: ctx->local_size.) */
size_t optcl__kernel_local(const optcl_context *ctx, cl_kernel kernel);
/* The work-group size for a launch of items work-items of kernel: its full work-group, or, for
 * the one group of a set smaller than that (a power of two of items), the whole launch. */
size_t optcl__local_size(const optcl_context *ctx, cl_kernel kernel, size_t items);
/* One 1-D launch of items work-items from work-item offset, in work-groups of
 * optcl__local_size. */
cl_int optcl__enqueue_items(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t items,
                            cl_uint num_events, const cl_event *wait_list, cl_event *event);
/* The same in work-groups of local items (a divisor of items). */
cl_int optcl__enqueue_groups(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t items,
                             size_t local, cl_uint num_events, const cl_event *wait_list,
                             cl_event *event);
/* A launch of items work-items from offset whose kernel returns past its end (an argument of its
 * own): padded to whole work-groups of the kernel's full size, or of 64 below that. */
cl_int optcl__enqueue_padded(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t items,
                             cl_uint num_events, const cl_event *wait_list, cl_event *event);
/* One launch over the elements [offset, offset + size) of a group range or the whole flat
 * buffer — VEC = ctx->vector_width elements per work-item. */
cl_int optcl__enqueue(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t size,
                      cl_uint num_events, const cl_event *wait_list, cl_event *event);

/* kernel_sources.c (generated at build time from the kernels folder) */
typedef struct optcl__kernel_source {
    const char *name; /* "common", "sgd", … */
    const char *text;
} optcl__kernel_source;
extern const optcl__kernel_source optcl__kernel_sources[];
extern const size_t optcl__kernel_source_count;

/* reference/guard.c: guard.cl's two reductions in the same order. */
/* partial: the workers' sums of squares of grad·inv (inv: the loss scale's reciprocal, else 1),
 * then their non-finite sums of grad (2 × workers floats). n is a multiple of 16 (every
 * alignment is). */
void optcl__reference_guard_stats(const float *grad, size_t n, float inv, float *partial);
void optcl__reference_guard_finalize(const float *partial, size_t workers, float *norm, bool *bad);
/* The stats launch for n elements: chunk 16-float vectors per worker (16, or more once there
 * would be over 65536 workers), and the worker count, rounded up to a multiple of
 * OPTCL__GUARD_FINAL so that the launch runs whole work-groups (the extra workers add zeros,
 * which changes no sum). 256 workers: stats and finalize run as one launch. */
size_t optcl__guard_chunk(size_t n);
size_t optcl__guard_workers(size_t n);

/* rounding.c: kernels/common.cl's stochastic rounding — the key of a step from the seed, and n
 * float32 values (elements first … first + n − 1 of the flat buffer) rounded to bfloat16
 * values in place. */
uint32_t optcl__round_key(uint64_t seed, uint64_t step);
void optcl__round_stochastic(float *x, size_t first, size_t n, uint32_t key);

/* dtype.c: float32 → bfloat16 / float16 to nearest even (NaN → 0x7FC0 / 0x7E00),
 * back (exact); n floats narrowed to (widened from) elements of dtype; float32 values rounded
 * to values of dtype in place (nothing for float32). */
/* A float's bits and back (memcpy, no aliasing). */
uint32_t optcl__float_bits(float f);
float optcl__bits_float(uint32_t u);
uint16_t optcl__bf16_round(float f);
float optcl__bf16_widen(uint16_t b);
uint16_t optcl__f16_round(float f);
float optcl__f16_widen(uint16_t h);
/* Beside optcl_dtype's types, optcl's own: 8-bit codes, the element type of block-wise 8-bit
 * state (q8.h; the kernels' STATE_DTYPE 3) and safetensors' U8 (narrowed from and widened to
 * the floats 0 … 255). Its name is "int8", its size 1. */
#define OPTCL__DTYPE_Q8 ((optcl_dtype)OPTCL_DTYPE_COUNT)
const char *optcl__type_name(optcl_dtype dtype);
size_t optcl__type_size(optcl_dtype dtype);
void optcl__narrow(const float *src, void *dst, size_t n, optcl_dtype dtype);
void optcl__widen(const void *src, float *dst, size_t n, optcl_dtype dtype);
void optcl__round_floats(float *x, size_t n, optcl_dtype dtype);

/* aligned host buffers for the reference backend (zeroed) */
float *optcl__host_alloc(size_t count);
void optcl__host_free(float *p);

size_t optcl__round_up(size_t value, size_t multiple);

#endif /* OPTCL_INTERNAL_H */
