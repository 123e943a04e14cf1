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
 * codes (negative, -1 … -72) pass through unchanged; optcl's own codes live in -2000 … -2099 (clear
 * of the extensions' -1000 … -1999). optcl_status_name()/optcl_status_string() describe any of
 * them. The object a call was made on keeps a message saying exactly what was wrong
 * (optcl_context_message, optcl_params_message, optcl_optimizer_message); a failed create leaves
 * its message on the context; context creation and file helpers, which have no parent, write it
 * into an optional caller buffer. Library code never aborts and never prints.
 *
 * Blocking: calls that enqueue (optcl_optimizer_step, optcl_params_zero_grad) do not wait for
 * the device, but for two cases of the step: with a gradient guard on OpenCL it reads the
 * device's step count back once per 256 steps (sooner after an lr change; optcl_optimizer_step),
 * and a step that runs Lookahead's α search waits while it evaluates the loss
 * (optcl_optimizer_set_lookahead_search). Calls that copy to or from host memory, create or
 * destroy objects, or read state back block until done — with clFinish on the context's queue,
 * so on a wrapped queue they also wait for the caller's own commands enqueued before. On the
 * reference backend everything runs synchronously on the calling thread.
 *
 * Threading: objects created from one context — the context included — must be used by one
 * thread at a time. Different contexts are independent and may be used from different threads
 * at once, also when they wrap the same cl_context. Read-only queries (names, layouts, messages)
 * follow the same rule. Calls that take no handle may be called from any thread, also at once
 * (on arguments of their own): optcl_npy_read and _write, optcl_checkpoint_inspect,
 * _inspect_progress and _param_dtype, optcl_schedule_*, optcl_algorithm_*, the *_config_default
 * calls, the enums' *_name and *_from_name calls, optcl_optimizer_config_set_option,
 * _get_option and _field, optcl_struct_size, optcl_version. The library keeps no mutable global
 * state (its statics are constant tables) and starts no threads: the optcl_loss_fn of
 * Lookahead's α search runs on the thread that called optcl_optimizer_step, inside that call.
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
#define OPTCL_VERSION_MINOR 2
#define OPTCL_VERSION_PATCH 0
/* One comparable number: 0xMMmmpp (major, minor, patch one byte each). */
#define OPTCL_VERSION_HEX                                                                          \
    ((OPTCL_VERSION_MAJOR << 16) | (OPTCL_VERSION_MINOR << 8) | OPTCL_VERSION_PATCH)
#define OPTCL_VERSION_STRING "0.2.0"

/* The library's OPTCL_VERSION_HEX, to compare with the header a program was built against. */
OPTCL_API unsigned optcl_version(void);

/* sizeof the public struct called name ("optcl_optimizer_config") as this library was compiled,
 * 0 for a name it does not know: a binding that mirrors the structs (Python's ctypes) checks
 * its view against these before it calls in. Never fails or blocks. */
OPTCL_API size_t optcl_struct_size(const char *name);

/* ------------------------------------------------------------------------------------------ */
/* Status                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* OpenCL's codes (CL_OUT_OF_RESOURCES, CL_BUILD_PROGRAM_FAILURE, …) are returned as they are. */
typedef enum optcl_status {
    OPTCL_SUCCESS = 0,
    OPTCL_ERROR_INVALID_ARGUMENT = -2000, /* a value out of range, a bad option, a bad name */
    OPTCL_ERROR_NULL_POINTER = -2001,     /* a required handle or pointer was NULL */
    OPTCL_ERROR_OUT_OF_HOST_MEMORY = -2002,
    OPTCL_ERROR_SIZE_MISMATCH = -2003, /* counts, shapes or buffer sizes disagree */
    OPTCL_ERROR_IN_USE = -2004,        /* an object still has dependants (destroy refused) */
    OPTCL_ERROR_NO_DEVICE = -2005,     /* no OpenCL platform/device matched the request */
    OPTCL_ERROR_BUILD_FAILED = -2006,  /* a kernel program did not build; see the build log */
    OPTCL_ERROR_IO = -2007,            /* a file could not be opened, read, written or renamed */
    OPTCL_ERROR_FORMAT = -2008,        /* a file's content is not what it must be */
    OPTCL_ERROR_UNSUPPORTED = -2009,   /* valid request this backend/device cannot do */
    OPTCL_ERROR_WRONG_BACKEND = -2010, /* an OpenCL-only call on the reference backend */
    OPTCL_ERROR_NOT_FOUND = -2011,     /* no tensor/state of that name or index */
    OPTCL_ERROR_DEVICE_MEMORY = -2012  /* the device cannot hold a buffer that large */
} optcl_status;

/* The enum's identifier ("OPTCL_ERROR_IO", "CL_INVALID_VALUE"); a static string, never NULL. */
OPTCL_API const char *optcl_status_name(optcl_status status);
/* A short English description; a static string, never NULL ("unknown status" for codes nobody
 * defines). */
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
 * variable OPTCL_DEVICE decides when set, else a GPU of any platform — a discrete one before
 * one whose memory is the host's (CL_DEVICE_HOST_UNIFIED_MEMORY: an integrated GPU), then the
 * one with the most global memory × compute units, the first of equals in platform order —
 * else the first device of any type. OPTCL_DEVICE holds "P:D" (platform and device index),
 * "reference" (the host backend) or a case-insensitive substring of "<platform name> <device
 * name>" (the first match optcl can run on). A device that is not available
 * (CL_DEVICE_AVAILABLE) or has no OpenCL C compiler (CL_DEVICE_COMPILER_AVAILABLE; optcl
 * builds its kernels from source) is never chosen: chosen explicitly it is
 * OPTCL_ERROR_NO_DEVICE, with a message saying why. */
typedef struct optcl_context_config {
    optcl_backend backend;   /* default OPENCL */
    int platform_index;      /* -1: any (default) */
    int device_index;        /* -1: any (default); with platform_index -1 counts across platforms */
    const char *device_name; /* substring of "<platform> <device>", NULL: any (default) */
    int ignore_environment;  /* 1: do not read OPTCL_DEVICE (default 0) */
} optcl_context_config;

/* Every field at its default: OpenCL backend, any platform and device, environment read. */
OPTCL_API optcl_context_config optcl_context_config_default(void);

/* Creates a context, its in-order command queue, and nothing else (kernels are built by the
 * optimizers that need them). config may be NULL (defaults). On failure *out is NULL and, when
 * message is not NULL, a NUL-terminated explanation of at most message_size bytes is written.
 * Blocks. */
OPTCL_API optcl_status optcl_context_create(const optcl_context_config *config, optcl_context **out,
                                            char *message, size_t message_size);

/* Wraps a caller's OpenCL objects: all three are retained and released again by
 * optcl_context_destroy, never more. The queue must belong to the context and device
 * (OPTCL_ERROR_INVALID_ARGUMENT otherwise) and must be in-order (OPTCL_ERROR_UNSUPPORTED for an
 * out-of-order queue); an invalid queue returns the OpenCL status of the query. On failure
 * message is written as by optcl_context_create. Blocks. */
OPTCL_API optcl_status optcl_context_wrap(cl_context cl_ctx, cl_device_id device,
                                          cl_command_queue queue, optcl_context **out,
                                          char *message, size_t message_size);

/* Destroys a context. Refused with OPTCL_ERROR_IN_USE (nothing freed) while parameter sets made
 * from it still exist. NULL is accepted and returns OPTCL_SUCCESS. Blocks until the queue is
 * finished. When a Muon optimizer ran on it, CLBlast's program cache is cleared
 * (CLBlastClearCache, the whole process's: CLBlast offers no narrower call), so that no
 * program outlives its context; other CLBlast users then rebuild their kernels once. */
OPTCL_API optcl_status optcl_context_destroy(optcl_context *ctx);

/* Which backend the context runs (with OPTCL_DEVICE=reference a default create gives
 * REFERENCE). The queries below never fail, block or change anything. */
OPTCL_API optcl_backend optcl_context_backend(const optcl_context *ctx);
/* "<platform> / <device>" or "reference (host)"; owned by the context. */
OPTCL_API const char *optcl_context_device_name(const optcl_context *ctx);
/* The context's OpenCL objects (not retained for the caller); NULL on the reference backend. */
OPTCL_API cl_context optcl_context_cl_context(const optcl_context *ctx);
OPTCL_API cl_device_id optcl_context_cl_device(const optcl_context *ctx);
OPTCL_API cl_command_queue optcl_context_cl_queue(const optcl_context *ctx);
/* Alignment of tensor offsets in flat buffers, in elements of any dtype: 512 bytes of the
 * smallest (2-byte) type, or the device's base-address alignment where that is larger — 256
 * on the reference backend, PoCL and the GPUs measured (docs/INTEGRATION.md). */
OPTCL_API size_t optcl_context_alignment(const optcl_context *ctx);
/* Elements each work-item of optcl's kernels handles: 4 on GPUs, elsewhere the device's
 * preferred float vector width (16 on PoCL with AVX-512), at most 16 and within the device's
 * base-address alignment; OPTCL_VECTOR_WIDTH = 1, 2, 4, 8 or 16 overrides the choice. 1 on the
 * reference backend. Results are the same at every width. */
OPTCL_API unsigned optcl_context_vector_width(const optcl_context *ctx);
/* Work-items per work-group of optcl's element-wise launches: 256, or the device's maximum
 * when that is smaller (a set smaller than OPTCL_GROUP_GRANULE runs as one smaller group). A
 * kernel that allows fewer (CL_KERNEL_WORK_GROUP_SIZE) runs the largest power of two within
 * its limit, with the same results. 0 on the reference backend. */
OPTCL_API size_t optcl_context_work_group_size(const optcl_context *ctx);
/* Work-items that step one block of 256 elements of 8-bit state (OPTCL_STATE_INT8): 256 / the
 * vector width on GPUs, a work-group per block, so that neighbouring work-items read
 * neighbouring memory; 1 elsewhere (a work-item per block: a CPU runs it without barriers).
 * OPTCL_Q8_LAYOUT = group or item overrides the choice. The same codes either way. 0 on the
 * reference backend. */
OPTCL_API size_t optcl_context_int8_block_items(const optcl_context *ctx);
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
    const char *name; /* 1 … 255 bytes of UTF-8, unique, not "__metadata__" (checkpoints) */
    int ndim; /* 0 … OPTCL_MAX_DIMS; 0 is a scalar of one element */
    int64_t shape[OPTCL_MAX_DIMS];
    int group;
    /* With 8-bit state (state_dtype INT8): 0 (default) keeps float32 state for a tensor under
     * OPTCL_INT8_MIN_SIZE elements and 8-bit state otherwise; 8 always 8-bit, 32 always float32
     * (bitsandbytes' per-parameter optim_bits override). */
    int state_bits;
} optcl_tensor_spec;

/* 8-bit state (OPTCL_STATE_INT8): elements per block (one float32 absmax each), and the size
 * under which a tensor keeps float32 state by default (bitsandbytes' min_8bit_size). */
#define OPTCL_INT8_BLOCK 256
#define OPTCL_INT8_MIN_SIZE 4096

/* The element type of a parameter set's parameters and gradients. Training pipelines keep
 * them in bfloat16 or float16; the update still computes in float32 in registers (each element
 * loaded and widened, the result rounded to nearest even when stored), as PyTorch's fused
 * optimizers do. float32 → bfloat16 follows torch's c10::BFloat16, float32 → float16 the
 * device's vstore_half_rte (c10::Half); every NaN becomes the positive quiet NaN of its type
 * (bfloat16 0x7FC0 as c10; float16 0x7E00, where c10 would keep the sign: the sign an
 * operation gives a NaN varies between compilers, and the backends agree bit for bit). */
typedef enum optcl_dtype {
    OPTCL_DTYPE_F32 = 0,
    OPTCL_DTYPE_BF16 = 1,
    OPTCL_DTYPE_F16 = 2,
    OPTCL_DTYPE_COUNT
} optcl_dtype;

/* "f32", "bf16", "f16" (static strings); NULL for an unknown value. */
OPTCL_API const char *optcl_dtype_name(optcl_dtype dtype);
/* The reverse; OPTCL_ERROR_INVALID_ARGUMENT for an unknown name. */
OPTCL_API optcl_status optcl_dtype_from_name(const char *name, optcl_dtype *out);
/* Bytes per element: 4, 2, 2; 0 for an unknown value. */
OPTCL_API size_t optcl_dtype_size(optcl_dtype dtype);

/* What a parameter set knows about one tensor; name is owned by the set. */
typedef struct optcl_tensor_info {
    const char *name;
    int ndim;
    int64_t shape[OPTCL_MAX_DIMS];
    int group;
    size_t offset; /* in elements from the start of the flat buffer; a multiple of alignment */
    size_t count;  /* elements */
    int state_bits; /* as in its spec */
} optcl_tensor_info;

typedef enum optcl_role {
    OPTCL_ROLE_PARAMS = 0,
    OPTCL_ROLE_GRADS = 1,
    OPTCL_ROLE_COUNT
} optcl_role;

typedef struct optcl_params optcl_params;

/* Each group's range of the flat buffers is padded to a multiple of OPTCL_GROUP_GRANULE
 * elements; the one group of a set smaller than that, to a power of two of at least
 * OPTCL_GROUP_MIN (both also to a multiple of the alignment). So every kernel launch runs
 * whole work-groups of a good size whatever the tensors' sizes. The padding (zeros, updated to
 * zeros) costs less than 16 KiB per group and buffer, and every backend lays a set out alike. */
#define OPTCL_GROUP_MIN 1024
#define OPTCL_GROUP_GRANULE 4096

/* Computes the flat layout optcl uses for these tensors on this context without allocating
 * anything: offsets[i] (may be NULL) receives tensor i's offset in elements, *total the flat
 * length in elements (padding included). Use it to allocate buffers for optcl_params_wrap. The
 * layout in elements is the same for every element type and on every backend. */
OPTCL_API optcl_status optcl_params_layout(optcl_context *ctx, const optcl_tensor_spec *specs,
                                           size_t count, size_t *offsets, size_t *total);

/* Allocates the flat parameter and gradient buffers (zeroed) and one sub-buffer view per tensor
 * and role. The set keeps a reference on ctx. Blocks. */
OPTCL_API optcl_status optcl_params_create(optcl_context *ctx, const optcl_tensor_spec *specs,
                                           size_t count, optcl_params **out);
/* Like optcl_params_create, with parameters and gradients of element type dtype
 * (optcl_params_create: OPTCL_DTYPE_F32). */
OPTCL_API optcl_status optcl_params_create_typed(optcl_context *ctx,
                                                 const optcl_tensor_spec *specs, size_t count,
                                                 optcl_dtype dtype, optcl_params **out);

/* Like optcl_params_create, but uses the caller's flat buffers without copying (retained, and
 * released by optcl_params_destroy). Each buffer must hold at least optcl_params_layout's total
 * floats with the tensors at its offsets. The elements between and after the tensors (padding)
 * are set to zero here, since optcl's kernels sweep them (a NaN left there by the allocation
 * would reach the gradient guard's norm); the caller's kernels must leave them alone. The
 * buffers must be CL_MEM_READ_WRITE with full host access (no CL_MEM_HOST_* flag) and not
 * sub-buffers themselves (OpenCL cannot make sub-buffers of those); otherwise, or when one
 * belongs to another cl_context, OPTCL_ERROR_INVALID_ARGUMENT names the problem. OpenCL backend
 * only. Blocks. */
OPTCL_API optcl_status optcl_params_wrap(optcl_context *ctx, const optcl_tensor_spec *specs,
                                         size_t count, cl_mem params, cl_mem grads,
                                         optcl_params **out);
/* Like optcl_params_wrap, for buffers of element type dtype (optcl_params_layout's total ×
 * optcl_dtype_size bytes: the layout in elements is the same for every type). */
OPTCL_API optcl_status optcl_params_wrap_typed(optcl_context *ctx, const optcl_tensor_spec *specs,
                                               size_t count, optcl_dtype dtype, cl_mem params,
                                               cl_mem grads, optcl_params **out);

/* Refused with OPTCL_ERROR_IN_USE while optimizers made from the set, or dependants added with
 * optcl_params_add_dependant, exist. NULL is accepted. Blocks until the queue is finished. */
OPTCL_API optcl_status optcl_params_destroy(optcl_params *params);
/* For an object built on the set that is not an optcl_optimizer (the sharded optimizer of
 * optcl_mpi.h, a binding's own): counts it as a dependant, so that optcl_params_destroy is
 * refused with OPTCL_ERROR_IN_USE until optcl_params_remove_dependant takes it back, as for an
 * optimizer. They neither own nor free the set. remove: OPTCL_ERROR_INVALID_ARGUMENT when no
 * dependant was added. NULL: OPTCL_ERROR_NULL_POINTER. Never block; one thread at a time, as
 * every call on the set. */
OPTCL_API optcl_status optcl_params_add_dependant(optcl_params *params);
OPTCL_API optcl_status optcl_params_remove_dependant(optcl_params *params);

/* The context the set was made from (not a new reference). */
OPTCL_API optcl_context *optcl_params_context(const optcl_params *params);
/* Number of tensors. */
OPTCL_API size_t optcl_params_count(const optcl_params *params);
/* Sum of the tensors' element counts (no padding). */
OPTCL_API size_t optcl_params_numel(const optcl_params *params);
/* Length of the flat buffers in elements (padding included). */
OPTCL_API size_t optcl_params_flat_size(const optcl_params *params);
/* The element type of the parameters and gradients (OPTCL_DTYPE_F32 for NULL). */
OPTCL_API optcl_dtype optcl_params_dtype(const optcl_params *params);
/* Name, shape, group, offset and count of tensor index (OPTCL_ERROR_NOT_FOUND beyond the
 * set); the name stays owned by the set. */
OPTCL_API optcl_status optcl_params_info(const optcl_params *params, size_t index,
                                         optcl_tensor_info *info);
/* The index of the tensor called name, or OPTCL_ERROR_NOT_FOUND. */
OPTCL_API optcl_status optcl_params_find(const optcl_params *params, const char *name,
                                         size_t *index);

/* The flat buffer of a role, or tensor index's sub-buffer view of it (index OPTCL_ALL: the flat
 * buffer). Owned by the set: valid until it is destroyed; retain it to keep it longer. The
 * caller's kernels write gradients through these. OpenCL backend only. */
OPTCL_API optcl_status optcl_params_buffer(const optcl_params *params, optcl_role role,
                                           size_t index, cl_mem *out);
/* Host memory of a role on the reference backend (index OPTCL_ALL: the flat array); owned by
 * the set. Reference backend only. It is float32 whatever the set's element type: a bfloat16
 * or float16 set keeps values of its type there, and each step first rounds what the caller
 * wrote to that type (to nearest even), as storing it on a device would have. */
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
/* optcl_params_write and optcl_params_read take and give float32 whatever the set's element
 * type: a write rounds to nearest even, a read widens (exactly). These two move the elements
 * as stored instead — data holds count elements of optcl_params_dtype's size (uint16_t bits
 * for bfloat16 and float16). Blocks. */
OPTCL_API optcl_status optcl_params_write_raw(optcl_params *params, optcl_role role, size_t index,
                                              const void *data, size_t count);
OPTCL_API optcl_status optcl_params_read_raw(optcl_params *params, optcl_role role, size_t index,
                                             void *data, size_t count);

/* Enqueues zeroing the whole gradient buffer. Does not block; wait list and event as for
 * clEnqueueFillBuffer (event may be NULL; a returned event is the caller's to release). On the
 * reference backend it runs at once, the wait list must be empty (else
 * OPTCL_ERROR_WRONG_BACKEND) and *event is set to NULL. */
OPTCL_API optcl_status optcl_params_zero_grad(optcl_params *params, cl_uint num_events,
                                              const cl_event *wait_list, cl_event *event);

/* The last failure's message of a call on this set; "" when none. Owned by the set. */
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
    OPTCL_LION = 5,
    OPTCL_ADAGRAD = 6,
    OPTCL_ADADELTA = 7,
    OPTCL_ADAMAX = 8,
    OPTCL_NADAM = 9,
    OPTCL_RADAM = 10,
    OPTCL_ASGD = 11,
    OPTCL_ADAMW_SCHEDULEFREE = 12,
    OPTCL_SGD_SCHEDULEFREE = 13,
    OPTCL_LAMB = 14,
    OPTCL_LARS = 15,
    OPTCL_ADAFACTOR = 16,
    OPTCL_MUON = 17,
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

/* torch.optim.Adam and AdamW (AdamW decays decoupled: w *= 1 − lr·weight_decay). eps_root (optax's
 * name; not in torch) is added inside the square root: the denominator is √(v̂ + eps_root) + eps,
 * the lecture's Adam √(EMA(∇L²) + ε) with eps = 0. */
typedef struct optcl_adam_config {
    double beta1;    /* 0.9 */
    double beta2;    /* 0.999 */
    double eps;      /* 1e-8 */
    int amsgrad;     /* 0 */
    double eps_root; /* 0 */
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

/* Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"; the google/automl
 * rule as lion-pytorch writes it): p *= 1 − lr·weight_decay; p −= lr·sign(lerp(m, g, 1 − β1));
 * m = lerp(m, g, 1 − β2), with sign(0) = 0 and one state, exp_avg. lr 1e-4, weight_decay 0. */
typedef struct optcl_lion_config {
    double beta1; /* 0.9, in [0, 1] */
    double beta2; /* 0.99, in [0, 1] */
} optcl_lion_config;

/* torch.optim.Adagrad: sum += g²; p −= clr·g / (√sum + eps) with clr = lr / (1 + (t − 1)·lr_decay);
 * sum starts at initial_accumulator_value. lr 1e-2. */
typedef struct optcl_adagrad_config {
    double lr_decay;                  /* 0 */
    double initial_accumulator_value; /* 0 */
    double eps;                       /* 1e-10 */
} optcl_adagrad_config;

/* torch.optim.Adadelta (square_avg, acc_delta); lr scales only the applied step. lr 1. */
typedef struct optcl_adadelta_config {
    double rho; /* 0.9, in [0, 1] */
    double eps; /* 1e-6 */
} optcl_adadelta_config;

/* torch.optim.Adamax (exp_avg, exp_inf = max(β2·exp_inf, |g| + eps)). lr 2e-3. */
typedef struct optcl_adamax_config {
    double beta1; /* 0.9 */
    double beta2; /* 0.999 */
    double eps;   /* 1e-8 */
} optcl_adamax_config;

/* torch.optim.NAdam: Adam with Nesterov momentum whose μ_t = β1·(1 − ½·0.96^(t·momentum_decay));
 * the running product of μ is a per-step scalar (torch's state mu_product). lr 2e-3. */
typedef struct optcl_nadam_config {
    double beta1;               /* 0.9 */
    double beta2;               /* 0.999 */
    double eps;                 /* 1e-8 */
    double momentum_decay;      /* 4e-3 */
    int decoupled_weight_decay; /* 0; 1: p *= 1 − lr·weight_decay (NAdamW) */
} optcl_nadam_config;

/* torch.optim.RAdam: the rectified step where ρ_t > 5, momentum SGD (p −= lr·m̂) before. lr 1e-3. */
typedef struct optcl_radam_config {
    double beta1;               /* 0.9 */
    double beta2;               /* 0.999 */
    double eps;                 /* 1e-8 */
    int decoupled_weight_decay; /* 0; 1: p *= 1 − lr·weight_decay (RAdamW) */
} optcl_radam_config;

/* torch.optim.ASGD: p *= 1 − λ·η; p −= η·g; ax averages p from step t0 on (the state "ax"). η
 * and μ are per-step scalars; as in torch, a step's η comes from the previous step's lr. lr 1e-2. */
typedef struct optcl_asgd_config {
    double lambd; /* 1e-4 */
    double alpha; /* 0.75 */
    double t0;    /* 1e6 */
} optcl_asgd_config;

/* Schedule-Free AdamW and SGD (Defazio et al. 2024, "The Road Less Scheduled"), as the
 * schedulefree package's AdamWScheduleFree and SGDScheduleFree: no schedule (the lr is constant
 * after an optional linear warmup over warmup_steps), the parameters hold y, the state z, and x
 * — the average to evaluate — is where optcl_optimizer_set_mode(opt, OPTCL_MODE_EVAL) moves the
 * parameters. Step t's average weight is c_t = t^r·lr_max^weight_lr_power / Σ_j≤t (the same).
 * weight_decay applies at y, after AdamW's normalisation. Not with a schedule, ReduceLROnPlateau,
 * Lookahead or 8-bit state. lr: AdamW 0.0025, SGD 1. */
typedef struct optcl_adamw_schedulefree_config {
    double beta1;           /* 0.9, in (0, 1): the interpolation of y between z and x */
    double beta2;           /* 0.999 */
    double eps;             /* 1e-8 */
    double warmup_steps;    /* 0: the lr of step t is lr·min(1, t / warmup_steps) */
    double r;               /* 0: the average's weights grow as t^r */
    double weight_lr_power; /* 2: and as lr_max^weight_lr_power */
} optcl_adamw_schedulefree_config;

typedef struct optcl_sgd_schedulefree_config {
    double momentum;        /* 0.9, in (0, 1) */
    double warmup_steps;    /* 0 */
    double r;               /* 0 */
    double weight_lr_power; /* 2 */
} optcl_sgd_schedulefree_config;

/* Optimizers that look at whole tensors. LAMB and LARS scale each tensor's update by a trust
 * ratio of norms over that tensor, ‖p‖ / ‖u‖ (set to 1 where either norm is 0); Adafactor
 * takes row and column means and RMS values per tensor. The sums behind them take a fixed
 * number of launches per group whatever the tensor count, in a fixed order of addition (the
 * same bits on every run and backend). A group's exclude_from_trust_ratio leaves its tensors
 * out of LAMB's and LARS's trust ratio (biases and norms, as users do), and its weight_decay 0
 * out of the weight decay. optax has no default lr; optcl's is noted at each. Not with 8-bit
 * state; the sharded optimizer (optcl_mpi.h) keeps each tensor whole on one rank for them. */

/* LAMB (You et al. 2020) as optax.lamb: Adam's bias-corrected moments, u = m̂ / (√(v̂ + eps_root)
 * + eps) + weight_decay·p, then p −= lr · ‖p‖/‖u‖ · u. lr 1e-3, weight_decay 0. */
typedef struct optcl_lamb_config {
    double beta1;    /* 0.9 */
    double beta2;    /* 0.999 */
    double eps;      /* 1e-6, > 0 */
    double eps_root; /* 0 */
} optcl_lamb_config;

/* LARS (You et al. 2017) as optax.lars: u = g + weight_decay·p, scaled by
 * trust_coefficient·‖p‖ / (‖u‖ + eps) and by −lr, then momentum on the scaled update,
 * m = u + momentum·m, and p += m (nesterov: p += u + momentum·m). lr 0.1, weight_decay 0. */
typedef struct optcl_lars_config {
    double trust_coefficient; /* 0.001 */
    double eps;               /* 0 */
    double momentum;          /* 0.9 */
    int nesterov;             /* 0 */
} optcl_lars_config;

/* Adafactor (Shazeer & Stern 2018) as torch.optim.Adafactor. The second moment of a tensor of
 * two or more dims, shape (B…, R, C), is factored per matrix b of its leading dims: row means
 * of g² (the state "row_var", shape (B…, R, 1)) and column means ("col_var", (B…, 1, C)),
 * each an EMA of weight t^beta2_decay at step t, and V = row_var·col_var / max(mean(row_var),
 * eps1). A tensor of at most one dim keeps the full EMA of g² ("variance", its own shape). The
 * update U = g / max(√V, eps1) is clipped to RMS(U) ≤ d, and p −= α·U with
 * α = max(eps2, RMS(p))·min(lr, 1/√t), RMS(p) taken before the weight decay p·(1 − lr·wd).
 * Its state is float32 (R + C floats per matrix: state_dtype SAME or F32). lr 1e-2. */
typedef struct optcl_adafactor_config {
    double beta2_decay; /* -0.8; ≤ 0 */
    double eps1;        /* 2^-23, float32's eps: torch's None with float32 params (with bfloat16
                           or float16 params torch takes theirs, 2^-7 or 2^-10: set it); ≥ 0 */
    double eps2;        /* 1e-3; ≥ 0 */
    double d;           /* 1; ≥ 1: the clipping threshold of RMS(U) */
} optcl_adafactor_config;

/* How Muon scales lr by a matrix's shape (A, B) = (rows, cols), torch's adjust_lr_fn. */
typedef enum optcl_muon_adjust_lr {
    OPTCL_MUON_ORIGINAL = 0,          /* √max(1, A/B) (torch's None: Keller Jordan's) */
    OPTCL_MUON_MATCH_RMS_ADAMW = 1,   /* 0.2·√max(A, B) (Moonshot's: AdamW's lr and wd) */
    OPTCL_MUON_SPECTRAL_UNCLAMPED = 2 /* √(A/B) (Bernstein's) */
} optcl_muon_adjust_lr;

/* Muon as torch.optim.Muon: m = lerp(m, g, 1 − momentum) (the state "momentum_buffer"),
 * u = lerp(g, m, momentum) with nesterov (else m), then per matrix the Newton–Schulz iteration
 * X = u / max(‖u‖_F, eps), ns_steps times A = X·Xᵀ, X = ns_a·X + (ns_b·A + ns_c·A·A)·X (on
 * Xᵀ for a matrix with more rows than columns); then p = p·(1 − lr·wd) − lr·ratio·X. Every
 * tensor must be 2-D (users give the others to AdamW in another parameter set). On OpenCL the
 * matrix products go through CLBlast, batched over tensors of one shape; a build without
 * CLBlast refuses Muon there (OPTCL_ERROR_UNSUPPORTED), the reference backend multiplies in
 * plain C. Unlike torch (bfloat16) the iteration runs in float32. lr 1e-3, weight_decay 0.1. */
typedef struct optcl_muon_config {
    double momentum;                  /* 0.95; ≥ 0 */
    int nesterov;                     /* 1 */
    double ns_a, ns_b, ns_c;          /* 3.4445, −4.7750, 2.0315: torch's ns_coefficients */
    double eps;                       /* 1e-7; ≥ 0 */
    double ns_steps;                  /* 5; a whole number, 0 … 99 */
    optcl_muon_adjust_lr adjust_lr_fn; /* OPTCL_MUON_ORIGINAL */
} optcl_muon_config;

/* ------------------------------------------------------------------------------------------ */
/* Learning-rate schedules and ReduceLROnPlateau (plain data, evaluated on the host)           */
/* ------------------------------------------------------------------------------------------ */

#define OPTCL_MAX_MILESTONES 16

typedef enum optcl_schedule_kind {
    OPTCL_SCHEDULE_CONSTANT = 0,     /* lr                                   (LambdaLR: 1)     */
    OPTCL_SCHEDULE_INVERSE_TIME = 1, /* lr / (1 + t)^power: a0/t, a0/t²      (LambdaLR)        */
    OPTCL_SCHEDULE_EXPONENTIAL = 2,  /* lr · gamma^t; a0/2^t is gamma 0.5    (ExponentialLR)   */
    OPTCL_SCHEDULE_STEP = 3,         /* lr · gamma^floor(t / step_size)      (StepLR)          */
    OPTCL_SCHEDULE_MULTISTEP = 4,    /* lr · gamma^(milestones ≤ t)          (MultiStepLR)     */
    OPTCL_SCHEDULE_COSINE = 5,       /* eta_min + (lr − eta_min)(1 + cos(π t / t_max)) / 2
                                                                             (CosineAnnealingLR) */
    OPTCL_SCHEDULE_COUNT
} optcl_schedule_kind;

/* A schedule: the lr of step t (t = 0 for the first step) as a closed form of the base lr and
 * t, equal to the PyTorch scheduler named above stepped once per optimizer step. A linear
 * warmup (LinearLR from warmup_start_factor to 1) can stand in front of any of them: for
 * t < warmup_steps the lr is base · (f + (1 − f) · t / warmup_steps), and from then on the
 * schedule runs on t − warmup_steps (SequentialLR). */
typedef struct optcl_schedule {
    optcl_schedule_kind kind;                 /* CONSTANT */
    double power;                             /* INVERSE_TIME: 1 */
    double gamma;                             /* EXPONENTIAL, STEP, MULTISTEP: 0.1 */
    int64_t step_size;                        /* STEP: 1 */
    int64_t milestones[OPTCL_MAX_MILESTONES]; /* MULTISTEP: increasing, ≥ 1 */
    size_t milestone_count;                   /* 0 */
    int64_t t_max;                            /* COSINE: 1 */
    double eta_min;                           /* COSINE: 0 */
    int64_t warmup_steps;                     /* 0: no warmup */
    double warmup_start_factor;               /* 1/3, PyTorch LinearLR's default; in (0, 1] */
} optcl_schedule;

/* A schedule of that kind with the defaults noted at each field (PyTorch's where it has one). */
OPTCL_API optcl_schedule optcl_schedule_default(optcl_schedule_kind kind);
/* OPTCL_ERROR_INVALID_ARGUMENT with a message naming the field for out-of-range values. */
OPTCL_API optcl_status optcl_schedule_validate(const optcl_schedule *schedule, char *message,
                                               size_t message_size);
/* The lr of step t for base lr base_lr. Pure; the schedule must be valid. */
OPTCL_API double optcl_schedule_lr(const optcl_schedule *schedule, double base_lr, uint64_t t);
/* "constant", "inverse_time", "exponential", "step", "multistep", "cosine" (static strings);
 * NULL if unknown. */
OPTCL_API const char *optcl_schedule_name(optcl_schedule_kind kind);

/* torch.optim.lr_scheduler.ReduceLROnPlateau. After each reported metric: an improvement is
 * metric < best·(1 − threshold) (mode min, rel), metric < best − threshold (min, abs),
 * metric > best·(1 + threshold) (max, rel), metric > best + threshold (max, abs); otherwise
 * the step is bad. During cooldown bad steps are not counted. When bad steps exceed
 * patience, every group's lr becomes max(lr·factor, min_lr) — unless that changes it by
 * eps or less — and cooldown starts. With a schedule underneath, a group's reductions are a
 * factor on the schedule's lr: lr(t) = max(schedule(t) · scale, min_lr) once it has been
 * reduced (scale < 1), schedule(t) before. */
typedef struct optcl_plateau_config {
    int enabled;       /* 0 */
    int mode_max;      /* 0: "min" (a loss), 1: "max" (an accuracy) */
    double factor;     /* 0.1, in [0, 1) */
    int64_t patience;  /* 10 */
    double threshold;  /* 1e-4 */
    int threshold_abs; /* 0: "rel", 1: "abs" */
    int64_t cooldown;  /* 0 */
    double min_lr;     /* 0 (all groups) */
    double eps;        /* 1e-8 */
} optcl_plateau_config;

/* PyTorch's ReduceLROnPlateau defaults, with enabled = 0. */
OPTCL_API optcl_plateau_config optcl_plateau_config_default(void);

/* The plateau's running state (saved in checkpoints). */
typedef struct optcl_plateau_state {
    double best; /* +inf (min) or −inf (max) before the first report */
    int64_t num_bad_epochs;
    int64_t cooldown_counter;
    int64_t reports;                /* metrics reported so far */
    double scale[OPTCL_MAX_GROUPS]; /* per-group factor on the schedule's lr; starts at 1 */
} optcl_plateau_state;

/* Lookahead (Zhang et al. 2019) around any optimizer: slow weights start at the parameters of
 * the first step; after every k-th inner step, slow += α·(fast − slow) and fast = slow, in one
 * kernel launch. The inner optimizer's state is kept. α of the s-th sync (s = 0, 1, …) is
 * optcl_schedule_lr(&alpha_schedule, alpha, s): constant by default. It must stay in [0, 1]:
 * create refuses a schedule that would take it above 1 (EXPONENTIAL or STEP with gamma > 1,
 * MULTISTEP with alpha · gamma^milestone_count > 1, COSINE with eta_min > 1). It may reach 0
 * (a sync at α = 0 puts the parameters back to the slow weights, which stay). After a new step
 * count (optcl_optimizer_set_step_count, optcl_checkpoint_load_progress) the next step taken
 * starts the slow weights from the parameters again, unless "lookahead_slow" was written
 * (optcl_optimizer_write_state, before or after the count) since the last step taken — a step
 * a gradient guard skips is none, on either backend; until a step starts them, reading
 * "lookahead_slow" gives the parameters, and so does a checkpoint. Writing "lookahead_slow"
 * while they are unset first starts every tensor's from the parameters, as the next step
 * would, so a write of some tensors (an index, not OPTCL_ALL) leaves the others at the
 * parameters of the write. With a gradient guard on the OpenCL backend, writing
 * "lookahead_slow" waits for the queue (the device's count). */
typedef struct optcl_lookahead_config {
    int64_t k;                     /* 0: no Lookahead (default); the paper uses 5 */
    double alpha;                  /* 0.5, in (0, 1] */
    optcl_schedule alpha_schedule; /* CONSTANT */
} optcl_lookahead_config;

/* Loss scaling (mixed-precision training, torch.amp): the caller multiplies the loss by the
 * scale, so the gradients it writes are scaled; each step divides them by the scale — a
 * multiplication by its float32 reciprocal, as GradScaler.unscale_ does; for the power-of-two
 * scales GradScaler keeps, the same bits as the fused kernels' division — and a step whose
 * gradient holds a NaN or ±Inf writes nothing and does not count (whatever config.nonfinite
 * says). Clipping (max_norm) clips the unscaled gradient, as unscale_ + clip_grad_norm_ do.
 * DYNAMIC is GradScaler: after a skipped step the scale is multiplied by backoff_factor and the
 * growth tracker reset; after growth_interval steps in a row without one, multiplied by
 * growth_factor (when the result is finite) — torch._amp_update_scale_, with the factors as
 * float32 values. The scale lives on the device (optcl_optimizer_loss_scale_buffer), so a
 * training loop never waits for the host; checkpoints keep it and the tracker. */
typedef enum optcl_loss_scaling {
    OPTCL_LOSS_SCALE_OFF = 0,     /* default */
    OPTCL_LOSS_SCALE_STATIC = 1,  /* the scale stays init_scale (torch's grad_scale argument) */
    OPTCL_LOSS_SCALE_DYNAMIC = 2  /* GradScaler */
} optcl_loss_scaling;

typedef struct optcl_loss_scale_config {
    optcl_loss_scaling mode; /* OFF */
    double init_scale;       /* 65536 (2^16); > 0 and finite in float32 (not 0 there) */
    double growth_factor;    /* 2; > 1 */
    double backoff_factor;   /* 0.5; in (0, 1) */
    int64_t growth_interval; /* 2000; ≥ 1 */
    int write_unscaled;      /* 1: a step also stores the unscaled gradient back into the
                                gradient buffer (torch's fused CPU kernels do); 0 (default): the
                                gradient is left as the caller wrote it */
} optcl_loss_scale_config;

/* A parameter group's own hyperparameters; negative lr and weight_decay mean "the optimizer's". */
typedef struct optcl_group_config {
    double lr;
    double weight_decay;
    /* LAMB and LARS: 1 leaves the group's tensors out of the trust ratio (their update is scaled
     * by 1, as optax's trust_ratio_mask False); 0 (default) keeps them in. Other algorithms:
     * must be 0. */
    int exclude_from_trust_ratio;
} optcl_group_config;

/* What a step does when a gradient element is NaN or ±Inf. */
typedef enum optcl_nonfinite {
    OPTCL_NONFINITE_PROPAGATE = 0, /* PyTorch's behaviour: the update uses it */
    OPTCL_NONFINITE_SKIP = 1       /* the whole step is skipped: nothing changes, not even t */
} optcl_nonfinite;

/* The element type of an optimizer's state buffers (momentum buffers, moments, Rprop's step
 * sizes and previous gradients; Lookahead's slow weights stay float32). The update always
 * computes in float32: each state element is loaded and widened, the new state is used as
 * computed (unrounded) for the parameter's step, and is rounded to nearest even when stored,
 * as PyTorch's fused kernels do with reduced-precision state. bfloat16 halves the state's
 * memory and its traffic (Adam: 20 B per parameter and step instead of 28, 4 B of state per
 * parameter instead of 8) at bfloat16's 8-bit significand. The state read and write calls and
 * checkpoints give and take float32 values (bfloat16 values are exact in float32). */
typedef enum optcl_state_dtype {
    OPTCL_STATE_SAME = 0, /* the parameters' element type (default), as torch's fused kernels */
    OPTCL_STATE_F32 = 1,
    OPTCL_STATE_BF16 = 2, /* bfloat16, rounded as torch's c10::BFloat16 (NaN → 0x7FC0) */
    /* Block-wise 8-bit state, as bitsandbytes' 8-bit optimizers: per block of 256 elements one
     * byte per element, the nearest code of bitsandbytes' dynamic map (signed for first
     * moments, unsigned for second moments; a tie to the even code) of value / absmax, and
     * the block's float32 absmax. A step dequantizes, updates in float32, steps the parameter
     * with the unquantised new state and requantizes. Tensors under 4096 elements keep float32
     * state. SGD, Adam/AdamW, RMSprop, Lion, Adagrad, Adadelta, Adamax, NAdam and RAdam;
     * refused (OPTCL_ERROR_INVALID_ARGUMENT, the message names the reason) by Rprop, ASGD,
     * Schedule-Free AdamW and SGD, LAMB, LARS, Adafactor and Muon. About 1.02 B per element and
     * state (optcl_optimizer_state_bytes). docs/PRECISION.md. */
    OPTCL_STATE_INT8 = 3
} optcl_state_dtype;

/* How float32 results are stored into bfloat16 parameters. */
typedef enum optcl_rounding {
    OPTCL_ROUND_NEAREST = 0,   /* to nearest even (default) */
    OPTCL_ROUND_STOCHASTIC = 1 /* up or down with probability by distance (torchao's
                                  _fp32_to_bf16_sr), so the expected value is the float32 result;
                                  the draws hash each element's index with a key made from seed
                                  and step: the same bits on every device and backend.
                                  bfloat16 parameter sets only */
} optcl_rounding;

typedef struct optcl_optimizer_config {
    optcl_algorithm algorithm;
    double lr;           /* torch's: SGD 1e-3, Adam(W) 1e-3, RMSprop 1e-2, Rprop 1e-2, Lion 1e-4,
                            Adagrad 1e-2, Adadelta 1, Adamax 2e-3, NAdam 2e-3, RAdam 1e-3,
                            ASGD 1e-2, Schedule-Free AdamW 2.5e-3, Schedule-Free SGD 1,
                            Adafactor 1e-2, Muon 1e-3; optax has none for LAMB (1e-3 here)
                            and LARS (0.1) */
    double weight_decay; /* 0; AdamW 1e-2, Muon 0.1; Rprop has none (must stay 0) */
    int maximize;        /* 0 */
    optcl_sgd_config sgd;
    optcl_adam_config adam; /* Adam and AdamW */
    optcl_rmsprop_config rmsprop;
    optcl_rprop_config rprop;
    optcl_lion_config lion;
    optcl_adagrad_config adagrad;
    optcl_adadelta_config adadelta;
    optcl_adamax_config adamax;
    optcl_nadam_config nadam;
    optcl_radam_config radam;
    optcl_asgd_config asgd;
    optcl_adamw_schedulefree_config adamw_schedulefree;
    optcl_sgd_schedulefree_config sgd_schedulefree;
    optcl_lamb_config lamb;
    optcl_lars_config lars;
    optcl_adafactor_config adafactor;
    optcl_muon_config muon;
    const optcl_group_config *groups; /* groups[g] for group g < group_count; may be NULL */
    size_t group_count;
    optcl_schedule schedule;          /* the lr of step t is schedule(group lr, t); CONSTANT */
    optcl_plateau_config plateau;     /* ReduceLROnPlateau on reported metrics; disabled */
    optcl_lookahead_config lookahead; /* disabled (k = 0) */
    /* Gradient guard (see optcl_optimizer_guard_stats): both off by default, as in PyTorch. */
    double max_norm;           /* > 0: clip_grad_norm_(max_norm) before each step; 0: off */
    optcl_nonfinite nonfinite; /* what a NaN/Inf gradient does; OPTCL_NONFINITE_PROPAGATE */
    optcl_state_dtype state_dtype; /* the state buffers' element type; OPTCL_STATE_SAME */
    /* bfloat16/float16 parameter sets only: keep a float32 copy of the parameters, the state
     * "master", which the update steps exactly as the float32 optimizer would (its state SAME
     * then means float32); the parameters receive it rounded after each step. The first step
     * takes the master from the parameters. Not with Lookahead. 0. */
    int master_weights;
    optcl_rounding rounding;            /* OPTCL_ROUND_NEAREST */
    uint64_t seed;                      /* stochastic rounding's generator key; 0 */
    optcl_loss_scale_config loss_scale; /* off */
} optcl_optimizer_config;

/* PyTorch's defaults for that algorithm (every nested struct filled in). */
OPTCL_API optcl_optimizer_config optcl_optimizer_config_default(optcl_algorithm algorithm);
/* "sgd", "adam", "adamw", "rmsprop", "rprop", "lion", "adagrad", "adadelta", "adamax", "nadam",
 * "radam", "asgd", "adamw_schedulefree", "sgd_schedulefree", "lamb", "lars",
 * "adafactor", "muon" (static strings); NULL for an unknown value. */
OPTCL_API const char *optcl_algorithm_name(optcl_algorithm algorithm);
/* The reverse; OPTCL_ERROR_INVALID_ARGUMENT for an unknown name. */
OPTCL_API optcl_status optcl_algorithm_from_name(const char *name, optcl_algorithm *out);
/* The config's other enums by the names optcl replay's keys and the Python binding use; static
 * strings, NULL for an unknown value. state_dtype: "same", "f32", "bf16", "int8". */
OPTCL_API const char *optcl_state_dtype_name(optcl_state_dtype dtype);
/* loss_scale.mode: "off", "static", "dynamic". */
OPTCL_API const char *optcl_loss_scaling_name(optcl_loss_scaling mode);
/* rounding: "nearest", "stochastic". */
OPTCL_API const char *optcl_rounding_name(optcl_rounding rounding);
/* nonfinite: "propagate", "skip". */
OPTCL_API const char *optcl_nonfinite_name(optcl_nonfinite nonfinite);
/* 1 when the algorithm's update of an element depends on its whole tensor (LAMB's and LARS's
 * norms, Adafactor's norms and row and column means, Muon's matrix products), so a tensor's
 * elements must all be in one optimizer's hands (the sharded optimizer keeps each tensor whole
 * on one rank for them); 0 for element-wise rules and unknown values. */
OPTCL_API int optcl_algorithm_is_tensor_wise(optcl_algorithm algorithm);
/* The names of the running values the algorithm keeps (optcl_optimizer_running_value), a
 * static NULL-terminated list: {"mu_product", NULL} for NADAM; an empty list for the
 * algorithms that keep none, NULL for an unknown value. */
OPTCL_API const char *const *optcl_algorithm_running(optcl_algorithm algorithm);

/* An algorithm's own hyperparameters — the fields of its nested struct — described by name, as
 * PyTorch's constructor arguments ("beta1", "momentum_decay"; betas are beta1 and beta2). They
 * are what `optcl replay` takes as KEY=VALUE, what checkpoints record, and what a binding can
 * set by name. lr, weight_decay and maximize are every algorithm's and not listed. */
typedef enum optcl_option_type {
    OPTCL_OPTION_REAL = 0,  /* a double, finite, in [min, max] (or open at a bound) */
    OPTCL_OPTION_FLAG = 1,  /* an int, 0 or 1 */
    OPTCL_OPTION_CHOICE = 2 /* an int enum, named by choices[value] */
} optcl_option_type;

typedef struct optcl_option_info {
    const char *key;            /* "beta1" */
    const char *field;          /* the struct member, "adam.beta1" (checkpoint metadata) */
    optcl_option_type type;
    double default_value;       /* PyTorch's */
    double min, max;            /* the valid values; ±HUGE_VAL: unbounded (yet finite) */
    int min_open, max_open;     /* 1: the bound itself is not valid */
    const char *const *choices; /* CHOICE: the names by value, NULL-terminated; else NULL */
    const char *help;           /* one line */
} optcl_option_info;

/* The number of options of an algorithm (0 for an unknown value), and the index-th (NULL past
 * the end). The descriptions are static: never freed, valid for the process's lifetime. */
OPTCL_API size_t optcl_algorithm_option_count(optcl_algorithm algorithm);
OPTCL_API const optcl_option_info *optcl_algorithm_option(optcl_algorithm algorithm,
                                                          size_t index);
/* Sets or reads an option of config's algorithm by key. OPTCL_ERROR_NULL_POINTER;
 * OPTCL_ERROR_INVALID_ARGUMENT for a key the algorithm does not have, or a FLAG or CHOICE value
 * that is not one of its whole values. Ranges are checked when the optimizer is created. */
OPTCL_API optcl_status optcl_optimizer_config_set_option(optcl_optimizer_config *config,
                                                         const char *key, double value);
OPTCL_API optcl_status optcl_optimizer_config_get_option(const optcl_optimizer_config *config,
                                                         const char *key, double *value);

/* Every scalar field of a configuration that decides its updates, by name, as a checkpoint
 * records them: the fields every algorithm shares ("lr", "schedule.t_max", "plateau.factor",
 * "lookahead.alpha", "max_norm", "loss_scale.mode", …), then config's algorithm's own
 * ("adam.beta1", as optcl_option_info.field names them). groups and group_count are not fields
 * (the array is the caller's). For comparing configurations field by field — the sharded
 * optimizer checks that every rank's is the same this way — or printing them.
 * optcl_optimizer_config_field_count: their number for config's algorithm; 0 for NULL or an
 * unknown algorithm. optcl_optimizer_config_field: the index-th's name (static, into *name when
 * name is not NULL) and its value as exact text into value (NUL-terminated): a double with 17
 * significant digits, an int or enum as a decimal integer (the seed unsigned, as a checkpoint
 * keeps it), milestones as "5,20,33" — equal texts, equal values. OPTCL_CONFIG_VALUE_MAX bytes
 * always suffice. OPTCL_ERROR_NULL_POINTER for
 * config or value; OPTCL_ERROR_INVALID_ARGUMENT for an unknown algorithm or an index past the
 * end; OPTCL_ERROR_SIZE_MISMATCH when the text and its NUL do not fit in size bytes. A failed
 * call writes nothing. Reads config only: any thread. */
#define OPTCL_CONFIG_VALUE_MAX 512
OPTCL_API size_t optcl_optimizer_config_field_count(const optcl_optimizer_config *config);
OPTCL_API optcl_status optcl_optimizer_config_field(const optcl_optimizer_config *config,
                                                    size_t index, const char **name, char *value,
                                                    size_t size);

typedef struct optcl_optimizer optcl_optimizer;

/* Schedule-Free's train and eval modes (schedulefree's optimizer.train() / .eval()): in train
 * mode the parameters hold y, where gradients are taken; in eval mode x, the average to
 * evaluate and deploy. Optimizers without modes are always in train mode. */
typedef enum optcl_mode {
    OPTCL_MODE_TRAIN = 0, /* a new optimizer's */
    OPTCL_MODE_EVAL = 1
} optcl_mode;

/* Validates the configuration (a bad value: OPTCL_ERROR_INVALID_ARGUMENT, the message on the
 * params' context names field and value), allocates zeroed state buffers of the flat size and
 * builds (or takes from the context's cache) the update kernel. Keeps a reference on params.
 * A tensor whose name is another's saved state ("optim.exp_avg.w" beside "w" for Adam), which
 * no checkpoint could hold, is OPTCL_ERROR_INVALID_ARGUMENT naming both. Blocks. */
OPTCL_API optcl_status optcl_optimizer_create(optcl_params *params,
                                              const optcl_optimizer_config *config,
                                              optcl_optimizer **out);
/* Refused with OPTCL_ERROR_IN_USE while a tracker uses it. NULL is accepted. Blocks until the
 * queue is finished. */
OPTCL_API optcl_status optcl_optimizer_destroy(optcl_optimizer *opt);

/* One optimizer step over every tensor: the step count goes up by one, the per-step scalars (lr,
 * bias corrections) are computed on the host in double precision, and one kernel per parameter
 * group is enqueued on the context's queue after wait_list. Does no allocation and, without a
 * gradient guard, never blocks. With a gradient guard (config.max_norm, config.nonfinite) a
 * reduction (one or two kernels) comes first and decides on the device whether and how the step
 * happens — for a set of one group that one work-group steps (up to 4096 elements), the update
 * kernel reduces and decides itself, one launch in all; the device then owns the step count, and
 * the step blocks once per 256 steps to read it back (sooner after an lr change: see
 * docs/RELIABILITY.md). A launch that fails to enqueue after an earlier group's launch leaves a
 * partial step: it is counted, the earlier groups are updated, the later ones and Lookahead's sync
 * are not; a failure before any group's launch changes nothing. (A rule that looks at whole tensors
 * enqueues several launches per group — Adafactor's factors, Muon's products — and only the group's
 * last one writes parameters or state; LAMB's, LARS's and Adafactor's per-tensor launch also steps
 * the tensors small enough to step whole, so a failure of the group's last launch after it leaves
 * those stepped and the others not.) *event (if event is not NULL) receives the last launch's
 * event, which the caller releases. On the reference backend the step runs at once, wait_list must
 * be empty (else OPTCL_ERROR_WRONG_BACKEND) and *event is set to NULL. */
OPTCL_API optcl_status optcl_optimizer_step(optcl_optimizer *opt, cl_uint num_events,
                                            const cl_event *wait_list, cl_event *event);

/* Switches a Schedule-Free optimizer (adamw_schedulefree, sgd_schedulefree) between its modes
 * as schedulefree's optimizer.train() and .eval() do: the parameters become x (EVAL) or y
 * (TRAIN) again by one blend with the state z, enqueued like a step (with master weights the
 * master is blended; a bfloat16/float16 set stores the result rounded to nearest); before the
 * first step there is no z and only the mode changes.
 * Setting the mode it is in, or TRAIN on an optimizer without modes, does nothing; EVAL on one
 * without modes is OPTCL_ERROR_UNSUPPORTED. A step in EVAL mode is refused
 * (OPTCL_ERROR_INVALID_ARGUMENT), as schedulefree raises. Checkpoints record the mode. With a
 * gradient guard on OpenCL the device owns the step count, which this reads back (it blocks). */
OPTCL_API optcl_status optcl_optimizer_set_mode(optcl_optimizer *opt, optcl_mode mode);
/* The mode (OPTCL_MODE_TRAIN for NULL). */
OPTCL_API optcl_mode optcl_optimizer_mode(const optcl_optimizer *opt);
/* Reads tensor index (or OPTCL_ALL) of the parameters as they would be in mode, without
 * switching: what set_mode(mode) then optcl_params_read would give, bit for bit, while the
 * parameters stay as they are (an eval()/train() round trip is not exact in float32).
 * OPTCL_ERROR_UNSUPPORTED for EVAL on an optimizer without modes. Blocks. */
OPTCL_API optcl_status optcl_optimizer_read_params_in_mode(optcl_optimizer *opt, optcl_mode mode,
                                                           size_t index, float *data,
                                                           size_t count);

/* Steps taken so far (skipped steps do not count). With a gradient guard on the OpenCL backend
 * the device owns the count: this reads it back, so it blocks until the queue reaches it; if
 * that read fails it returns the last count known on the host (optcl_optimizer_get_lr and
 * optcl_optimizer_guard_stats return the failure). */
OPTCL_API uint64_t optcl_optimizer_step_count(const optcl_optimizer *opt);

/* The gradient guard's account (config.max_norm > 0 or config.nonfinite = SKIP). */
typedef struct optcl_guard_stats {
    uint64_t steps;        /* steps taken, as optcl_optimizer_step_count */
    uint64_t skipped;      /* steps skipped for a NaN/±Inf gradient */
    double last_norm;      /* the global L2 norm of the last step's (unscaled) gradient (even if
                              skipped) */
    double last_clip_coef; /* the factor it was scaled by: min(1, max_norm/(norm+1e-6)); 1 off */
    double loss_scale;     /* the scale the next backward pass should use; 1 without scaling */
    uint64_t growth_tracker; /* dynamic scaling: steps in a row without a skip, since the last
                                change of the scale */
} optcl_guard_stats;
/* Fills *stats; without a guard, skipped is 0 and the norm 0. On the OpenCL backend it reads
 * the device's record, so it blocks until the queue has finished every enqueued step. */
OPTCL_API optcl_status optcl_optimizer_guard_stats(optcl_optimizer *opt, optcl_guard_stats *stats);
/* The loss scale the next backward pass should multiply the loss by (config.loss_scale on; 1
 * without it). On the OpenCL backend it reads the device's value: blocks until the queue has
 * finished. */
OPTCL_API optcl_status optcl_optimizer_loss_scale(optcl_optimizer *opt, double *scale);
/* Sets the scale the next steps divide the gradients by (config.loss_scale on): torch's
 * fused contract, whose grad_scale argument comes from a GradScaler the caller keeps (STATIC),
 * or a scale of the caller's choosing for DYNAMIC scaling to go on from (its growth tracker is
 * kept). Rounded to float32; must be > 0 and finite there (OPTCL_ERROR_INVALID_ARGUMENT).
 * Does not wait for the queue: the steps already enqueued keep their scale (the write is
 * enqueued behind them), and the growth tracker stays as it is (GradScaler.update(new_scale)). */
OPTCL_API optcl_status optcl_optimizer_set_loss_scale(optcl_optimizer *opt, double scale);
/* The device buffer holding that scale as one float32 (OpenCL backend, config.loss_scale on):
 * the caller's loss and backward kernels read it, so a training loop needs no host round trip.
 * Owned by the optimizer: valid until it is destroyed; read it, never write it.
 * OPTCL_ERROR_WRONG_BACKEND on the reference backend, OPTCL_ERROR_INVALID_ARGUMENT without
 * loss scaling. */
OPTCL_API optcl_status optcl_optimizer_loss_scale_buffer(const optcl_optimizer *opt,
                                                         cl_mem *out);
/* The learning rate the next step uses for a group (0 … OPTCL_MAX_GROUPS − 1: its own lr, or
 * the optimizer's). With a gradient guard on the OpenCL backend it reads the step count back
 * (blocks), and a failed read returns its status. */
OPTCL_API optcl_status optcl_optimizer_get_lr(const optcl_optimizer *opt, int group, double *lr);
/* Changes a group's lr from the next step on (group -1: every group). A negative or non-finite
 * lr is refused. Does not wait for the queue, also with a gradient guard on the OpenCL
 * backend (where the device owns the step count: the call writes the lr's scalar rows for
 * every count the device may hold, non-blocking) — except for ASGD and Schedule-Free, whose
 * next steps depend on the count the lr changed at, and when more than about 240 steps are in
 * flight: then it waits for the queue. */
OPTCL_API optcl_status optcl_optimizer_set_lr(optcl_optimizer *opt, int group, double lr);
/* Changes a hyperparameter from the next step on, as torch's optimizers re-read their
 * param_groups: "weight_decay" (every group's) or one of the algorithm's option keys
 * (optcl_algorithm_option; lr: optcl_optimizer_set_lr). Validated as at create
 * (OPTCL_ERROR_INVALID_ARGUMENT, nothing changed). A value that would change the state buffers
 * or the kernel (amsgrad, nesterov, momentum from or to 0, …) is refused with
 * OPTCL_ERROR_UNSUPPORTED: that needs a new optimizer. With a gradient guard on the OpenCL
 * backend it waits for the queue. */
OPTCL_API optcl_status optcl_optimizer_set_option(optcl_optimizer *opt, const char *key,
                                                  double value);
/* Sets the step count, so that state taken over from another optimizer (torch's state dict,
 * whose "step" the bias corrections read) continues where it was: the next step is steps + 1.
 * Blocks (the device's count with a gradient guard). With Lookahead the next step taken starts
 * the slow weights from the parameters, unless "lookahead_slow" was written since the last
 * step taken (see optcl_lookahead_config). */
OPTCL_API optcl_status optcl_optimizer_set_step_count(optcl_optimizer *opt, uint64_t steps);
/* The running values a rule keeps per group over the steps taken, which torch (or
 * schedulefree) keeps as scalar state: NAdam's "mu_product" (the product of the μ of every
 * step taken, float32), ASGD's "eta" (the η the next step takes, float32), Schedule-Free's
 * "weight_sum" and "lr_max". Each step multiplies or adds its own term, with the lr and
 * options that step had; after optcl_optimizer_set_step_count, or a checkpoint without them,
 * they are recomputed from the first step with the current values. optcl_algorithm_running
 * lists a rule's names. Reading needs a step taken (OPTCL_ERROR_INVALID_ARGUMENT at count 0,
 * where torch's initial values are 1, the lr, 0 and -1); so does setting, which
 * load_state_dict-like code uses after optcl_optimizer_set_step_count: the steps to come
 * continue from the value given. A name the rule does not keep, a group outside
 * [0, OPTCL_MAX_GROUPS) or a value that is not finite: OPTCL_ERROR_INVALID_ARGUMENT, nothing
 * changed. Both block with a gradient guard on the OpenCL backend (they read the device's
 * count). */
OPTCL_API optcl_status optcl_optimizer_running_value(optcl_optimizer *opt, int group,
                                                     const char *name, double *value);
OPTCL_API optcl_status optcl_optimizer_set_running_value(optcl_optimizer *opt, int group,
                                                         const char *name, double value);
/* The configuration in use (owned by the optimizer; after a checkpoint load, the file's). Its
 * groups pointer is NULL: group settings live in the optimizer (optcl_optimizer_get_lr). */
OPTCL_API const optcl_optimizer_config *optcl_optimizer_config_get(const optcl_optimizer *opt);

/* Reports a metric to the optimizer's ReduceLROnPlateau (config.plateau.enabled must be 1);
 * the lr of the following steps follows. Host only, does not block — except with a gradient
 * guard on the OpenCL backend, where it waits for the queue to learn the step count. */
OPTCL_API optcl_status optcl_optimizer_report_metric(optcl_optimizer *opt, double metric);
/* A copy of the plateau's running state (best metric, counters, per-group scales). */
OPTCL_API optcl_status optcl_optimizer_plateau_state(const optcl_optimizer *opt,
                                                     optcl_plateau_state *state);

/* Evaluates the training loss at the parameters currently in params (blocking is expected).
 * It may read params and run the caller's kernels on them, but must not change their values or
 * call the optimizer being stepped. Returns OPTCL_SUCCESS or any status, which aborts the search
 * and is passed on. */
typedef optcl_status (*optcl_loss_fn)(void *user, optcl_params *params, double *loss);

/* Lookahead's α "on the fly": at each sync optcl evaluates loss at slow + α·(fast − slow) for
 * α = 1/points, 2/points, …, 1 and syncs with the α of the lowest loss (the earliest on
 * ties). Cost per sync: one copy of the flat buffer, points blend launches and points loss
 * evaluations; the step that syncs blocks while it searches. A failed evaluation returns its
 * status from that step, which stays done and counted (the fast weights as the update left
 * them) but without its sync: the slow weights wait for the next one. Needs
 * config.lookahead.k > 0; fn NULL switches the search off (α from the configuration), with or
 * without Lookahead. points in 2 … 64.
 * OPTCL_ERROR_UNSUPPORTED with a gradient guard, which keeps the step count on the device.
 * A NaN or +inf loss (a diverged evaluation) never wins; when every loss is one, the sync uses
 * the configured α (config.lookahead's, through its schedule). */
OPTCL_API optcl_status optcl_optimizer_set_lookahead_search(optcl_optimizer *opt, optcl_loss_fn fn,
                                                            void *user, int points);
/* The α used by the last Lookahead sync (0 before the first). A new step count
 * (optcl_optimizer_set_step_count, optcl_checkpoint_load_progress) keeps it — a checkpoint
 * load takes the file's — until a step ends a cycle after it. With a gradient guard on the
 * OpenCL backend the device owns the step count and syncs by it: this reads the count back (as
 * optcl_optimizer_step_count, blocking until the queue reaches it) and gives the α of the last
 * sync that count passed since the last new count (after a partial step, counted without its
 * sync, the α of that count's cycle). */
OPTCL_API double optcl_optimizer_lookahead_alpha(const optcl_optimizer *opt);

/* Optimizer state buffers, named as in PyTorch's state dict: "momentum_buffer", "exp_avg",
 * "exp_avg_sq", "max_exp_avg_sq", "square_avg", "grad_avg", "prev", "step_size", and
 * "lookahead_slow" with Lookahead. Most hold one value per parameter element, in the tensor's
 * shape. Adafactor's do not: "row_var" and "col_var" of a tensor of two or more dims, shape
 * (…, R, C), have shapes (…, R, 1) and (…, 1, C), and only a tensor of at most one dim keeps
 * "variance" (optcl_optimizer_state_shape); with OPTCL_ALL they are packed in tensor order, each tensor
 * that keeps them in turn. */
OPTCL_API size_t optcl_optimizer_state_count(const optcl_optimizer *opt);
/* The name of state buffer index (< optcl_optimizer_state_count), NULL beyond; static. */
OPTCL_API const char *optcl_optimizer_state_name(const optcl_optimizer *opt, size_t index);
/* The shape of a state's values for tensor index: the tensor's, or for Adafactor's row_var and
 * col_var their own. OPTCL_ERROR_NOT_FOUND for an unknown state, a tensor index out of range,
 * or a tensor that does not keep that state (Adafactor: row_var of a vector, variance of a
 * matrix). */
OPTCL_API optcl_status optcl_optimizer_state_shape(const optcl_optimizer *opt, const char *state,
                                                   size_t index, int *ndim,
                                                   int64_t shape[OPTCL_MAX_DIMS]);
/* Copies a state buffer's values for tensor index (or, with OPTCL_ALL, all tensors packed as in
 * optcl_params_read) to host memory; count is the number of values (the product of
 * optcl_optimizer_state_shape's, or their sum over the tensors). Blocks. */
OPTCL_API optcl_status optcl_optimizer_read_state(optcl_optimizer *opt, const char *state,
                                                  size_t index, float *data, size_t count);
/* The reverse of optcl_optimizer_read_state. Blocks. With 8-bit state (state_dtype INT8) the
 * values are read dequantized, and written quantized: each block's absmax is the largest
 * |value| written into it. */
OPTCL_API optcl_status optcl_optimizer_write_state(optcl_optimizer *opt, const char *state,
                                                   size_t index, const float *data, size_t count);
/* 8-bit state as stored, for one tensor (not OPTCL_ALL): its codes (count: the tensor's
 * elements; code k of bitsandbytes' dynamic map, signed for first moments, unsigned for
 * second moments) and its blocks' absmaxes (blocks: count / 256 rounded up), the value of an
 * element being map[code] · absmax of its block. OPTCL_ERROR_INVALID_ARGUMENT when the state is
 * not 8-bit, OPTCL_ERROR_UNSUPPORTED for a tensor under 4096 elements (its state is float32:
 * optcl_optimizer_read_state). A write takes codes and absmaxes as they are. Blocks. */
OPTCL_API optcl_status optcl_optimizer_read_state_codes(optcl_optimizer *opt, const char *state,
                                                        size_t index, uint8_t *codes,
                                                        size_t count, float *absmax,
                                                        size_t blocks);
OPTCL_API optcl_status optcl_optimizer_write_state_codes(optcl_optimizer *opt, const char *state,
                                                         size_t index, const uint8_t *codes,
                                                         size_t count, const float *absmax,
                                                         size_t blocks);
/* The OpenCL build log of the update kernel, "" when none (owned by the optimizer). A failed
 * build's log is in the context's message. */
OPTCL_API const char *optcl_optimizer_build_log(const optcl_optimizer *opt);
/* The last failure's message of a call on this optimizer; "" when none. Owned by it. */
OPTCL_API const char *optcl_optimizer_message(const optcl_optimizer *opt);

/* Kernel launches (update rule, gradient guard, Lookahead sync, train/eval switch) this
 * optimizer has enqueued so far: per step, one per parameter group (three for LAMB and LARS:
 * the per-tensor sums, their totals, the step; five for Adafactor: its row and column means and
 * their means first; one for these three when every tensor of the group is small enough to be
 * stepped whole by the per-tensor launch; four for Muon — sums, totals, pack, step — plus three
 * GEMMs per Newton–Schulz iteration for each shape in the group, the copies between them not
 * counted) and the gradient guard's reduction (one or two; none when the update kernel reduces
 * itself: optcl_optimizer_step); plus one per Lookahead sync and one per train/eval switch after
 * the first step; whatever the tensor count. 0 on the reference backend. */
OPTCL_API uint64_t optcl_optimizer_launch_count(const optcl_optimizer *opt);

/* The bytes one step must move at least: every buffer the rule reads and writes, each element
 * once (flat size × element size × (reads + writes)). SGD 12 B per parameter, +8 with momentum;
 * Adam and AdamW 28, +8 with AMSGrad; RMSprop 20, +8 centered, +8 with momentum; Rprop 28. A
 * bfloat16 state moves 4 B per parameter where a float32 one moves 8 (Adam 20). Lookahead's
 * sync adds 16 every k steps (counted as 16/k per step); a gradient guard adds 4 (it reads the
 * gradient once more). LAMB and LARS read the data twice: LAMB 44 (its first pass reads the
 * parameters, the gradient and both moments), LARS 28 (the parameters and the gradient).
 * Adafactor 20, plus 8 per element of a tensor of two or more dims (its rows and its columns
 * read the gradient) and 12 per element of one of at most one dim (its variance, read twice
 * and written once). On OpenCL a tensor stepped whole is read from memory once: LAMB 28, LARS
 * 20, Adafactor 12 for a matrix and 20 for a vector (docs/COMMANDS.md's OPTCL_WHOLE_TENSORS).
 * Muon 44 (SGD with momentum's 20, plus the gradient and the momentum read by its sums pass and
 * again by its pack pass, and the matrices X written once and read once; the products' traffic
 * is left out). */
OPTCL_API double optcl_optimizer_bytes_per_step(const optcl_optimizer *opt);
/* The floating-point operations of a step's matrix products (Muon's Newton–Schulz iteration:
 * per matrix X of m×n, m ≤ n, and iteration 4m²n + 2m³); 0 for the other optimizers. */
OPTCL_API double optcl_optimizer_flops_per_step(const optcl_optimizer *opt);
/* Bytes the update rule's state buffers occupy (Lookahead's slow weights not included): flat
 * size × element size × states; 8-bit state: per state one byte per element, a float32 absmax
 * per 256 elements and the small tensors' float32 state. Adam: 8 B per parameter in float32,
 * 4 in bfloat16, about 2.03 in int8. Adafactor: 4 B per row and column of each matrix, 4 per
 * element of each tensor of at most one dim (padded to 256 elements). */
OPTCL_API size_t optcl_optimizer_state_bytes(const optcl_optimizer *opt);

/* The benchmark's yardstick: a kernel that moves exactly the bytes of the optimizer's step
 * (it reads the parameter, gradient and state buffers and writes all but the gradient, one
 * add per element, no other math), over the same buffers and group ranges — so it also
 * overwrites them. Enqueues like optcl_optimizer_step (reference backend: a host loop). For
 * measurements only. Does not block. */
OPTCL_API optcl_status optcl_optimizer_traffic_step(optcl_optimizer *opt);

/* ------------------------------------------------------------------------------------------ */
/* Checkpoints (safetensors) and the best/last tracker                                         */
/* ------------------------------------------------------------------------------------------ */

/* Saves the whole training state to a safetensors file: parameters under their tensor names,
 * each optimizer state buffer as "optim.<state>.<tensor>", and in __metadata__ ("format":
 * "pt", so Python's safetensors and PyTorch open it) the step count, the configuration,
 * group learning rates, schedule, plateau and Lookahead state as "optcl.*" strings. Written to
 * a temporary file in the same folder, flushed, fsynced and renamed, then the folder fsynced:
 * a crash leaves the previous file or the new one. A new file gets fopen's permissions (0666
 * less the umask), a replaced one keeps its own. Gradients are not saved. Blocks (reads the
 * device buffers once). */
OPTCL_API optcl_status optcl_checkpoint_save(optcl_optimizer *opt, const char *path);

/* Restores a checkpoint into an optimizer and its parameter set. Validates everything first —
 * the file's structure (header length and JSON, dtypes, offsets contiguous and in bounds),
 * every tensor name and size against the parameter set, the optimizer kind and the options
 * that decide its state buffers (algorithm, momentum ≠ 0, nesterov, ema, amsgrad, centered,
 * maximize, variant, Lookahead k) — and on any error returns a status whose message (on the
 * optimizer) names the problem, leaving parameters and state untouched. Scalar
 * hyperparameters (lr, betas, …), group learning rates, schedule, plateau and Lookahead state
 * and the step count are taken from the file, as torch's load_state_dict does. A resumed run
 * continues bit for bit like the uninterrupted one on the same backend. Blocks. */
OPTCL_API optcl_status optcl_checkpoint_load(optcl_optimizer *opt, const char *path);
/* Takes everything of a checkpoint but its tensors: the configuration, group learning rates
 * and weight decays, step count, plateau and Lookahead state, mode, running values and loss
 * scale — what optcl_checkpoint_load takes besides the parameters and states. For an
 * optimizer whose tensors come from elsewhere (the sharded optimizer loading into a different
 * number of ranks fills its pieces from several files). The file must be an optcl checkpoint
 * of this optimizer's kind (as optcl_checkpoint_load checks; its tensors are not compared with
 * the parameter set, nor read: only the file's header is, its size checked against it); on an
 * error nothing changes (with a gradient guard on OpenCL, a failed write of the device's
 * record puts the previous one back). Blocks. */
OPTCL_API optcl_status optcl_checkpoint_load_progress(optcl_optimizer *opt, const char *path);

/* Reads a checkpoint's parameter tensors (names, shapes, groups) and optimizer configuration
 * without a context, so a program can recreate the parameter set and optimizer it was saved
 * from. Reads the file's header only (the tensors' data stays on disk; the file's size must
 * still match the header), and refuses a listing of the tensors that optcl_checkpoint_load
 * refuses (none, one twice, a state tensor as a parameter). *specs is one allocation (names
 * included) freed with free(); config may be NULL. On failure message names the path and the
 * problem. Blocks. */
OPTCL_API optcl_status optcl_checkpoint_inspect(const char *path, optcl_tensor_spec **specs,
                                                size_t *count, optcl_optimizer_config *config,
                                                char *message, size_t message_size);

/* The type a checkpoint keeps its parameters in (its parameter set's: optcl_params_create_typed),
 * from the file's header, checked as optcl_checkpoint_inspect does; with it and inspect's specs
 * and configuration a program recreates the set and optimizer the file was saved from. On
 * failure *dtype is unchanged and message names the path and the problem. Blocks. */
OPTCL_API optcl_status optcl_checkpoint_param_dtype(const char *path, optcl_dtype *dtype,
                                                    char *message, size_t message_size);

/* How far the training a checkpoint holds had gone when it was saved. */
typedef struct optcl_checkpoint_progress {
    uint64_t steps;    /* optimizer steps taken (steps the gradient guard skipped not counted) */
    uint64_t skipped;  /* steps the gradient guard skipped */
    double loss_scale; /* the scale of the next backward pass; 1 without loss scaling */
    /* Each group's lr for the next step — its schedule at `steps`, then ReduceLROnPlateau's
     * factor — as optcl_optimizer_get_lr gives it after optcl_checkpoint_load. */
    double lr[OPTCL_MAX_GROUPS];
} optcl_checkpoint_progress;

/* Reads a checkpoint's progress from its header, without a context, checking the header as
 * optcl_checkpoint_inspect does. On failure *progress is unchanged and message names the path
 * and the problem. Blocks. */
OPTCL_API optcl_status optcl_checkpoint_inspect_progress(const char *path,
                                                         optcl_checkpoint_progress *progress,
                                                         char *message, size_t message_size);

typedef struct optcl_tracker optcl_tracker;

typedef struct optcl_tracker_config {
    const char *dir;       /* folder for the files (must exist); required */
    const char *best_name; /* "best.safetensors" */
    const char *last_name; /* "last.safetensors" */
    int mode_max;          /* 0: a lower validation metric is better (a loss); 1: higher */
    double min_delta;      /* 0: an improvement must beat the best by more than this */
    int64_t patience;      /* 0: never stop early; else stop after this many epochs without
                              improvement */
} optcl_tracker_config;

/* The defaults noted at each field; dir must still be set. */
OPTCL_API optcl_tracker_config optcl_tracker_config_default(void);

/* One epoch as the tracker saw it. */
typedef struct optcl_epoch_record {
    int64_t epoch; /* 1, 2, … */
    double train_loss;
    double valid_metric;
    double gap;         /* valid_metric − train_loss: the generalisation gap when the metric
                           is the validation loss */
    int improved;       /* this epoch wrote "best" */
    int64_t best_epoch; /* the best epoch so far; 0 while no epoch's metric was finite */
    double best_metric; /* its metric; NaN while best_epoch is 0 */
    int should_stop;    /* patience ran out */
} optcl_epoch_record;

/* The tracker keeps a reference on opt (destroy it first). Copies the strings. best_name and
 * last_name must be two different plain file names (no '/', not "." or "..", not a folder in
 * dir): else OPTCL_ERROR_INVALID_ARGUMENT. A failed create leaves its message on opt
 * (optcl_optimizer_message). */
OPTCL_API optcl_status optcl_tracker_create(optcl_optimizer *opt,
                                            const optcl_tracker_config *config,
                                            optcl_tracker **out);
/* Frees the tracker (the files stay) and releases its hold on the optimizer. NULL is
 * accepted. */
OPTCL_API optcl_status optcl_tracker_destroy(optcl_tracker *tracker);
/* Takes up the run that a tracker on the same folder recorded, for a resumed run (load the
 * optimizer from "last" first: optcl_checkpoint_load(opt, optcl_tracker_last_path(tracker))).
 * From the record optcl_tracker_epoch keeps in the files' metadata it takes the epoch count,
 * which the next epochs number on from, and the best epoch and metric as "best" holds them —
 * so that only an epoch that beats it overwrites "best", and patience counts on. Call it once,
 * before the first optcl_tracker_epoch; the history then holds the epochs recorded from here
 * on. Reads the two files' headers; blocks. Refused, changing nothing, with the message on
 * the tracker (optcl_tracker_message) naming the file: "last" missing or unreadable
 * (OPTCL_ERROR_IO, OPTCL_ERROR_FORMAT), without a tracker record or with a malformed one
 * (OPTCL_ERROR_FORMAT); recorded in the other mode (mode_max), a "best" from another run, or
 * epochs already recorded by this tracker (OPTCL_ERROR_INVALID_ARGUMENT). */
OPTCL_API optcl_status optcl_tracker_resume(optcl_tracker *tracker);

/* Records an epoch: always saves "last", then "best" when the validation metric improved
 * (both crash-safe: neither file is ever missing or half-written once it has been written
 * once). record (may be NULL) receives the epoch's row. A failed save returns its status and
 * records nothing, so the next call retries the same epoch; each file is then its previous
 * version or this epoch's whole one ("last" already this epoch's when "best" failed). Blocks.
 * A NaN or infinite metric (a diverged evaluation) never improves and never becomes the best
 * that later metrics are compared with; the first finite one improves. Patience counts the
 * epochs since the best, or since the start while there is none. Both files carry the
 * tracker's record in their metadata (optcl.tracker.*), for optcl_tracker_resume. */
OPTCL_API optcl_status optcl_tracker_epoch(optcl_tracker *tracker, double train_loss,
                                           double valid_metric, optcl_epoch_record *record);
/* The history so far (owned by the tracker, valid until the next epoch call); after
 * optcl_tracker_resume, the epochs recorded since. */
OPTCL_API const optcl_epoch_record *optcl_tracker_history(const optcl_tracker *tracker,
                                                          size_t *count);
/* The full paths of the two files (owned by the tracker). */
OPTCL_API const char *optcl_tracker_best_path(const optcl_tracker *tracker);
OPTCL_API const char *optcl_tracker_last_path(const optcl_tracker *tracker);
/* The last failure's message of a call on this tracker; "" when none. Owned by the tracker,
 * valid until its next failing call. */
OPTCL_API const char *optcl_tracker_message(const optcl_tracker *tracker);

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
