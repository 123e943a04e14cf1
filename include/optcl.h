/* optcl.h — the one public header of optcl: optimizer steps as OpenCL kernels, with a CPU
 * reference backend. Semantics and defaults follow PyTorch's torch.optim.
 *
 * Reading guide
 * -------------
 * Objects: optcl_context (a device, or the host reference backend) → optcl_params (named tensors
 * laid out in one flat parameter buffer and one flat gradient buffer) → optcl_optimizer (the
 * update rule and its state buffers). Every handle is opaque; every create has a destroy that
 * accepts NULL.
 *
 * Status: every call that can fail returns optcl_status. OPTCL_SUCCESS is 0; OpenCL's own error
 * codes (negative, -1 … -72) pass through unchanged; optcl's own codes live in -2000 … -2099 (clear of the
 * extensions' -1000 … -1999).
 * optcl_status_name()/optcl_status_string() describe any of them. The object a call was made on
 * keeps a message saying exactly what was wrong (optcl_context_message, optcl_params_message,
 * optcl_optimizer_message); a failed create leaves its message on the parent object; context
 * creation and file helpers, which have no parent, write it into an optional caller buffer.
 * Library code never aborts and never prints.
 *
 * Blocking: calls that enqueue (optcl_optimizer_step, optcl_params_zero_grad) never wait for the
 * device. Calls that copy to or from host memory, create or destroy objects, or read state back
 * block until done. On the reference backend everything runs synchronously on the calling thread.
 *
 * Threading: objects created from one context — the context included — must be used by one
 * thread at a time. Different contexts are independent and may be used from different threads
 * at once, also when they wrap the same cl_context. Read-only queries (names, layouts, messages)
 * follow the same rule.
 */
#ifndef OPTCL_H
#define OPTCL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#ifdef __APPLE__
#include <OpenCL/opencl.h>
#else
#include <CL/cl.h>
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(OPTCL_BUILD_SHARED)
#define OPTCL_API __declspec(dllexport)
#elif defined(__GNUC__)
#define OPTCL_API __attribute__((visibility("default")))
#else
#define OPTCL_API
#endif

/* ------------------------------------------------------------------------------------------ */
/* Version                                                                                     */
/* ------------------------------------------------------------------------------------------ */

#define OPTCL_VERSION_MAJOR 0
#define OPTCL_VERSION_MINOR 1
#define OPTCL_VERSION_PATCH 0
/* One comparable number: 0xMMmmpp (major, minor, patch one byte each). */
#define OPTCL_VERSION_HEX                                                                      \
    ((OPTCL_VERSION_MAJOR << 16) | (OPTCL_VERSION_MINOR << 8) | OPTCL_VERSION_PATCH)
#define OPTCL_VERSION_STRING "0.1.0"

/* The library's OPTCL_VERSION_HEX, to compare with the header a program was built against. */
OPTCL_API unsigned optcl_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Status                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* OpenCL's codes (CL_OUT_OF_RESOURCES, CL_BUILD_PROGRAM_FAILURE, …) are returned as they are. */
typedef enum optcl_status {
    OPTCL_SUCCESS = 0,
    OPTCL_ERROR_INVALID_ARGUMENT = -2000, /* a value out of range, a bad option, a bad name */
    OPTCL_ERROR_NULL_POINTER = -2001,     /* a required handle or pointer was NULL */
    OPTCL_ERROR_OUT_OF_HOST_MEMORY = -2002,
    OPTCL_ERROR_SIZE_MISMATCH = -2003,  /* counts, shapes or buffer sizes disagree */
    OPTCL_ERROR_IN_USE = -2004,         /* an object still has dependants (destroy refused) */
    OPTCL_ERROR_NO_DEVICE = -2005,      /* no OpenCL platform/device matched the request */
    OPTCL_ERROR_BUILD_FAILED = -2006,   /* a kernel program did not build; see the build log */
    OPTCL_ERROR_IO = -2007,             /* a file could not be opened, read, written or renamed */
    OPTCL_ERROR_FORMAT = -2008,         /* a file's content is not what it must be */
    OPTCL_ERROR_UNSUPPORTED = -2009,    /* valid request this backend/device cannot do */
    OPTCL_ERROR_WRONG_BACKEND = -2010,  /* an OpenCL-only call on the reference backend */
    OPTCL_ERROR_NOT_FOUND = -2011,      /* no tensor/state of that name or index */
    OPTCL_ERROR_DEVICE_MEMORY = -2012   /* the device cannot hold a buffer that large */
} optcl_status;

/* The enum's identifier ("OPTCL_ERROR_IO", "CL_INVALID_VALUE"); never NULL. */
OPTCL_API const char *optcl_status_name(optcl_status status);
/* A short English description; never NULL ("unknown status" for codes nobody defines). */
OPTCL_API const char *optcl_status_string(optcl_status status);

/* ------------------------------------------------------------------------------------------ */
/* Contexts                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct optcl_context optcl_context;

typedef enum optcl_backend {
    OPTCL_BACKEND_OPENCL = 0,
    OPTCL_BACKEND_REFERENCE = 1, /* plain C on the host; no OpenCL call is ever made */
    OPTCL_BACKEND_COUNT
} optcl_backend;

/* How optcl_context_create picks a device. With every field at its default the environment
 * variable OPTCL_DEVICE decides when set, else the first GPU of any platform, else the first
 * device of any type. OPTCL_DEVICE holds "P:D" (platform and device index), "reference" (the
 * host backend) or a case-insensitive substring of "<platform name> <device name>". */
typedef struct optcl_context_config {
    optcl_backend backend; /* default OPENCL */
    int platform_index;    /* -1: any (default) */
    int device_index;      /* -1: any (default); with platform_index -1 counts across platforms */
    const char *device_name; /* substring of "<platform> <device>", NULL: any (default) */
    int ignore_environment;  /* 1: do not read OPTCL_DEVICE (default 0) */
} optcl_context_config;

OPTCL_API optcl_context_config optcl_context_config_default(void);

/* Creates a context, its in-order command queue, and nothing else (kernels are built by the
 * optimizers that need them). config may be NULL (defaults). On failure *out is NULL and, when
 * message is not NULL, a NUL-terminated explanation of at most message_size bytes is written.
 * Blocks. */
OPTCL_API optcl_status optcl_context_create(const optcl_context_config *config,
                                            optcl_context **out, char *message,
                                            size_t message_size);

/* Wraps a caller's OpenCL objects: all three are retained and released again by
 * optcl_context_destroy, never more. The queue must belong to the context and device and must
 * be in-order (OPTCL_ERROR_UNSUPPORTED otherwise). Blocks. */
OPTCL_API optcl_status optcl_context_wrap(cl_context cl_ctx, cl_device_id device,
                                          cl_command_queue queue, optcl_context **out,
                                          char *message, size_t message_size);

/* Destroys a context. Refused with OPTCL_ERROR_IN_USE (nothing freed) while parameter sets made
 * from it still exist. NULL is accepted and returns OPTCL_SUCCESS. Blocks until the queue is
 * finished. */
OPTCL_API optcl_status optcl_context_destroy(optcl_context *ctx);

OPTCL_API optcl_backend optcl_context_backend(const optcl_context *ctx);
/* "<platform> / <device>" or "reference (host)"; owned by the context. */
OPTCL_API const char *optcl_context_device_name(const optcl_context *ctx);
/* The context's OpenCL objects (not retained for the caller); NULL on the reference backend. */
OPTCL_API cl_context optcl_context_cl_context(const optcl_context *ctx);
OPTCL_API cl_device_id optcl_context_cl_device(const optcl_context *ctx);
OPTCL_API cl_command_queue optcl_context_cl_queue(const optcl_context *ctx);
/* Alignment of tensor offsets in flat buffers, in float elements (device base-address
 * alignment; 16 on the reference backend). */
OPTCL_API size_t optcl_context_alignment(const optcl_context *ctx);
/* Blocks until everything enqueued by optcl on this context has finished. */
OPTCL_API optcl_status optcl_context_finish(optcl_context *ctx);
/* The last failure's message on this context, or on a create made from it; "" when none.
 * Owned by the context, valid until its next failing call. */
OPTCL_API const char *optcl_context_message(const optcl_context *ctx);

/* ------------------------------------------------------------------------------------------ */
/* Parameter sets                                                                              */
/* ------------------------------------------------------------------------------------------ */

#define OPTCL_MAX_DIMS 8
#define OPTCL_MAX_GROUPS 64
#define OPTCL_ALL ((size_t)-1) /* "every tensor" where a tensor index is asked for */

/* One named tensor. Names are unique, non-empty and at most 255 bytes; every dimension is ≥ 1.
 * group (0 … OPTCL_MAX_GROUPS-1) chooses its parameter group; tensors of one group are laid out
 * next to each other, so one group is one contiguous range and one kernel launch. */
typedef struct optcl_tensor_spec {
    const char *name;
    int ndim; /* 0 … OPTCL_MAX_DIMS; 0 is a scalar of one element */
    int64_t shape[OPTCL_MAX_DIMS];
    int group;
} optcl_tensor_spec;

/* What a parameter set knows about one tensor; name is owned by the set. */
typedef struct optcl_tensor_info {
    const char *name;
    int ndim;
    int64_t shape[OPTCL_MAX_DIMS];
    int group;
    size_t offset; /* in elements from the start of the flat buffer; a multiple of alignment */
    size_t count;  /* elements */
} optcl_tensor_info;

typedef enum optcl_role {
    OPTCL_ROLE_PARAMS = 0,
    OPTCL_ROLE_GRADS = 1,
    OPTCL_ROLE_COUNT
} optcl_role;

typedef struct optcl_params optcl_params;

/* Computes the flat layout optcl uses for these tensors on this context without allocating
 * anything: offsets[i] (may be NULL) receives tensor i's offset in elements, *total the flat
 * length in elements (padding included). Use it to allocate buffers for optcl_params_wrap. */
OPTCL_API optcl_status optcl_params_layout(optcl_context *ctx, const optcl_tensor_spec *specs,
                                           size_t count, size_t *offsets, size_t *total);

/* Allocates the flat parameter and gradient buffers (zeroed) and one sub-buffer view per tensor
 * and role. The set keeps a reference on ctx. Blocks. */
OPTCL_API optcl_status optcl_params_create(optcl_context *ctx, const optcl_tensor_spec *specs,
                                           size_t count, optcl_params **out);

/* Like optcl_params_create, but uses the caller's flat buffers without copying (retained, and
 * released by optcl_params_destroy). Each buffer must hold at least optcl_params_layout's total
 * floats with the tensors at its offsets; padding elements are never read by anyone but the
 * update kernels, so their content does not matter. OpenCL backend only. Blocks. */
OPTCL_API optcl_status optcl_params_wrap(optcl_context *ctx, const optcl_tensor_spec *specs,
                                         size_t count, cl_mem params, cl_mem grads,
                                         optcl_params **out);

/* Refused with OPTCL_ERROR_IN_USE while optimizers made from the set exist. NULL is accepted.
 * Blocks until the queue is finished. */
OPTCL_API optcl_status optcl_params_destroy(optcl_params *params);

OPTCL_API size_t optcl_params_count(const optcl_params *params);
/* Sum of the tensors' element counts (no padding). */
OPTCL_API size_t optcl_params_numel(const optcl_params *params);
/* Length of the flat buffers in elements (padding included). */
OPTCL_API size_t optcl_params_flat_size(const optcl_params *params);
OPTCL_API optcl_status optcl_params_info(const optcl_params *params, size_t index,
                                         optcl_tensor_info *info);
OPTCL_API optcl_status optcl_params_find(const optcl_params *params, const char *name,
                                         size_t *index);

/* The flat buffer of a role, or tensor index's sub-buffer view of it (index OPTCL_ALL: the flat
 * buffer). Owned by the set: valid until it is destroyed; retain it to keep it longer. The
 * caller's kernels write gradients through these. OpenCL backend only. */
OPTCL_API optcl_status optcl_params_buffer(const optcl_params *params, optcl_role role,
                                           size_t index, cl_mem *out);
/* Host memory of a role on the reference backend (index OPTCL_ALL: the flat array); owned by
 * the set. Reference backend only. */
OPTCL_API optcl_status optcl_params_host(optcl_params *params, optcl_role role, size_t index,
                                         float **out);

/* Copies host data into tensor index (count = its element count) or, with OPTCL_ALL, into all
 * tensors from one packed array (count = optcl_params_numel, tensors in creation order, no
 * padding). Blocks until the copy is done; the copy is ordered after everything enqueued before. */
OPTCL_API optcl_status optcl_params_write(optcl_params *params, optcl_role role, size_t index,
                                          const float *data, size_t count);
/* The reverse of optcl_params_write. Blocks. */
OPTCL_API optcl_status optcl_params_read(optcl_params *params, optcl_role role, size_t index,
                                         float *data, size_t count);

/* Enqueues zeroing the whole gradient buffer. Does not block; wait list and event as for
 * clEnqueueFillBuffer (event may be NULL; a returned event is the caller's to release). On the
 * reference backend it runs at once, the wait list must be empty and *event is set to NULL. */
OPTCL_API optcl_status optcl_params_zero_grad(optcl_params *params, cl_uint num_events,
                                              const cl_event *wait_list, cl_event *event);

OPTCL_API const char *optcl_params_message(const optcl_params *params);

/* ------------------------------------------------------------------------------------------ */
/* Optimizers                                                                                  */
/* ------------------------------------------------------------------------------------------ */

typedef enum optcl_algorithm {
    OPTCL_SGD = 0,
    OPTCL_ADAM = 1,
    OPTCL_ADAMW = 2,
    OPTCL_RMSPROP = 3,
    OPTCL_RPROP = 4,
    OPTCL_ALGORITHM_COUNT
} optcl_algorithm;

/* torch.optim.SGD. With ema = 1 (the lecture's EMA momentum) the buffer is
 * v = momentum·v + (1−momentum)·g starting at zero, and w −= lr·v; dampening and nesterov must
 * then be 0. */
typedef struct optcl_sgd_config {
    double momentum;  /* 0 */
    double dampening; /* 0 */
    int nesterov;     /* 0; needs momentum > 0 and dampening = 0 */
    int ema;          /* 0 */
} optcl_sgd_config;

/* torch.optim.Adam and AdamW (AdamW decays decoupled: w *= 1 − lr·weight_decay). */
typedef struct optcl_adam_config {
    double beta1;  /* 0.9 */
    double beta2;  /* 0.999 */
    double eps;    /* 1e-8 */
    int amsgrad;   /* 0 */
} optcl_adam_config;

/* torch.optim.RMSprop. */
typedef struct optcl_rmsprop_config {
    double alpha;    /* 0.99 */
    double eps;      /* 1e-8 */
    double momentum; /* 0 */
    int centered;    /* 0 */
} optcl_rmsprop_config;

typedef enum optcl_rprop_variant {
    OPTCL_RPROP_PYTORCH = 0, /* torch.optim.Rprop: after a sign change the element rests */
    OPTCL_RPROP_CLASSIC = 1  /* the lecture's: g·g_prev ≤ 0 shrinks, the element always moves */
} optcl_rprop_variant;

/* torch.optim.Rprop; lr is the initial step size. */
typedef struct optcl_rprop_config {
    double etaminus; /* 0.5, in (0, 1) */
    double etaplus;  /* 1.2, > 1 */
    double step_min; /* 1e-6 */
    double step_max; /* 50 */
    optcl_rprop_variant variant;
} optcl_rprop_config;

/* A parameter group's own hyperparameters; negative fields mean "the optimizer's". */
typedef struct optcl_group_config {
    double lr;
    double weight_decay;
} optcl_group_config;

typedef struct optcl_optimizer_config {
    optcl_algorithm algorithm;
    double lr;           /* SGD 1e-3, Adam 1e-3, AdamW 1e-3, RMSprop 1e-2, Rprop 1e-2 */
    double weight_decay; /* 0; AdamW 1e-2; Rprop has none (must stay 0) */
    int maximize;        /* 0 */
    optcl_sgd_config sgd;
    optcl_adam_config adam; /* Adam and AdamW */
    optcl_rmsprop_config rmsprop;
    optcl_rprop_config rprop;
    const optcl_group_config *groups; /* groups[g] for group g < group_count; may be NULL */
    size_t group_count;
} optcl_optimizer_config;

/* PyTorch's defaults for that algorithm (every nested struct filled in). */
OPTCL_API optcl_optimizer_config optcl_optimizer_config_default(optcl_algorithm algorithm);
/* "sgd", "adam", "adamw", "rmsprop", "rprop"; NULL for an unknown value. */
OPTCL_API const char *optcl_algorithm_name(optcl_algorithm algorithm);
/* The reverse; OPTCL_ERROR_INVALID_ARGUMENT for an unknown name. */
OPTCL_API optcl_status optcl_algorithm_from_name(const char *name, optcl_algorithm *out);

typedef struct optcl_optimizer optcl_optimizer;

/* Validates the configuration (a bad value: OPTCL_ERROR_INVALID_ARGUMENT, the message on the
 * params' context names field and value), allocates zeroed state buffers of the flat size and
 * builds (or takes from the context's cache) the update kernel. Keeps a reference on params.
 * Blocks. */
OPTCL_API optcl_status optcl_optimizer_create(optcl_params *params,
                                              const optcl_optimizer_config *config,
                                              optcl_optimizer **out);
/* NULL is accepted. Blocks until the queue is finished. */
OPTCL_API optcl_status optcl_optimizer_destroy(optcl_optimizer *opt);

/* One optimizer step over every tensor: the step count goes up by one, the per-step scalars
 * (lr, bias corrections) are computed on the host in double precision, and one kernel per
 * parameter group is enqueued on the context's queue after wait_list. Never blocks and does no
 * allocation. *event (if event is not NULL) receives the last launch's event, which the caller
 * releases. On the reference backend the step runs at once, wait_list must be empty and *event
 * is set to NULL. */
OPTCL_API optcl_status optcl_optimizer_step(optcl_optimizer *opt, cl_uint num_events,
                                            const cl_event *wait_list, cl_event *event);

/* Steps taken so far. */
OPTCL_API uint64_t optcl_optimizer_step_count(const optcl_optimizer *opt);
/* The learning rate the next step uses for a group (its own lr, or the optimizer's). */
OPTCL_API optcl_status optcl_optimizer_get_lr(const optcl_optimizer *opt, int group, double *lr);
/* Changes a group's lr from the next step on (group -1: every group). A negative or non-finite
 * lr is refused. */
OPTCL_API optcl_status optcl_optimizer_set_lr(optcl_optimizer *opt, int group, double lr);
OPTCL_API const optcl_optimizer_config *optcl_optimizer_config_get(const optcl_optimizer *opt);

/* Optimizer state buffers, named as in PyTorch's state dict: "momentum_buffer", "exp_avg",
 * "exp_avg_sq", "max_exp_avg_sq", "square_avg", "grad_avg", "prev", "step_size". */
OPTCL_API size_t optcl_optimizer_state_count(const optcl_optimizer *opt);
OPTCL_API const char *optcl_optimizer_state_name(const optcl_optimizer *opt, size_t index);
/* Copies a state buffer's values for tensor index (or, with OPTCL_ALL, all tensors packed as in
 * optcl_params_read) to host memory. Blocks. */
OPTCL_API optcl_status optcl_optimizer_read_state(optcl_optimizer *opt, const char *state,
                                                  size_t index, float *data, size_t count);
/* The reverse of optcl_optimizer_read_state. Blocks. */
OPTCL_API optcl_status optcl_optimizer_write_state(optcl_optimizer *opt, const char *state,
                                                   size_t index, const float *data,
                                                   size_t count);
/* The OpenCL build log of the update kernel, "" when none (owned by the optimizer). A failed
 * build's log is in the context's message. */
OPTCL_API const char *optcl_optimizer_build_log(const optcl_optimizer *opt);
OPTCL_API const char *optcl_optimizer_message(const optcl_optimizer *opt);

/* ------------------------------------------------------------------------------------------ */
/* NumPy .npy files (versions 1.0–3.0, dtype '<f4', C order)                                   */
/* ------------------------------------------------------------------------------------------ */

#define OPTCL_NPY_MAX_DIMS 8

typedef struct optcl_array {
    float *data; /* malloc'd; freed by optcl_array_free */
    int ndim;
    size_t shape[OPTCL_NPY_MAX_DIMS];
    size_t count; /* product of shape (1 for ndim 0) */
} optcl_array;

/* Reads a whole .npy file. On failure *out is left empty ({0}) and message names the path and
 * the problem (missing file, wrong magic, version, dtype, fortran order, malformed or truncated
 * header, short data). Blocks. */
OPTCL_API optcl_status optcl_npy_read(const char *path, optcl_array *out, char *message,
                                      size_t message_size);
/* Writes a version 1.0 .npy file ('<f4', C order) crash-safely: to a temporary file in the same
 * folder, flushed and synced, then renamed over path. On failure path is untouched and no
 * temporary file remains. Blocks. */
OPTCL_API optcl_status optcl_npy_write(const char *path, const float *data, const size_t *shape,
                                       int ndim, char *message, size_t message_size);
/* Frees data and empties the array; NULL is accepted. */
OPTCL_API void optcl_array_free(optcl_array *array);

#ifdef __cplusplus
}
#endif
#endif /* OPTCL_H */
