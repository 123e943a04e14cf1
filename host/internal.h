/* internal.h — the structures behind optcl's opaque handles and the helpers shared across
 * host/ files. Nothing here is public. */
#ifndef OPTCL_INTERNAL_H
#define OPTCL_INTERNAL_H

#include "optcl.h"

#include <stdarg.h>
#include <stdbool.h>

#define OPTCL__MESSAGE_MAX 2048
#define OPTCL__NAME_MAX 255
#define OPTCL__MAX_STATES 4           /* three of the rule, Lookahead's slow weights */
#define OPTCL__REFERENCE_ALIGNMENT 16 /* floats: 64 bytes, one cache line */

#if defined(__GNUC__)
#define OPTCL__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define OPTCL__PRINTF(f, a)
#endif

/* Formats into a message buffer (always NUL-terminated, silently truncated). */
void optcl__format(char *buf, size_t size, const char *fmt, ...) OPTCL__PRINTF(3, 4);
void optcl__vformat(char *buf, size_t size, const char *fmt, va_list ap);
/* Formats the message and returns status: `return optcl__fail(ctx->message, st, "...")`. */
optcl_status optcl__fail(char *message, optcl_status status, const char *fmt, ...)
    OPTCL__PRINTF(3, 4);

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
    size_t alignment;       /* floats */
    size_t local_size;      /* preferred work-group size, a power of two */
    unsigned vector_width;  /* elements per work-item: 1 (CPUs) or 4 (GPUs); kernels' VEC */
    cl_ulong max_alloc;     /* bytes */
    bool correctly_rounded; /* device supports -cl-fp32-correctly-rounded-divide-sqrt */
    char device_name[512];
    size_t live_params;       /* parameter sets made from this context */
    optcl__program *programs; /* build cache */
    char message[OPTCL__MESSAGE_MAX];
};

typedef struct optcl__tensor {
    char *name;
    int ndim;
    int64_t shape[OPTCL_MAX_DIMS];
    int group;
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
    size_t count;
    optcl__tensor *tensors;
    size_t numel, flat;
    size_t range_count;
    optcl__group_range ranges[OPTCL_MAX_GROUPS];
    cl_mem buffer[OPTCL_ROLE_COUNT]; /* OpenCL backend */
    float *host[OPTCL_ROLE_COUNT];   /* reference backend */
    size_t live_optimizers;
    char message[OPTCL__MESSAGE_MAX];
};

/* Per-step scalars: computed once per step and group on the host in double precision, rounded
 * to float once, and handed unchanged to the OpenCL kernel or to the reference rule. */
typedef struct optcl__step_scalars {
    float lr, neg_lr;
    float weight_decay;
    float momentum, one_minus_dampening; /* SGD, RMSprop momentum */
    int first_step;
    float one_minus_beta1, beta2, one_minus_beta2; /* Adam */
    float neg_step_size, bias_correction2_sqrt, eps, decay_factor;
    float alpha, one_minus_alpha;                /* RMSprop */
    float etaminus, etaplus, step_min, step_max; /* Rprop */
} optcl__step_scalars;

struct optcl_optimizer {
    optcl_params *params;
    optcl_optimizer_config config; /* groups resolved into groups[]; its pointer is NULL */
    optcl_group_config groups[OPTCL_MAX_GROUPS]; /* base lr and weight decay, never negative */
    uint64_t steps;
    size_t rule_states; /* the update rule's states come first … */
    size_t state_count; /* … then "lookahead_slow" when Lookahead is on */
    const char *state_names[OPTCL__MAX_STATES];
    cl_mem state[OPTCL__MAX_STATES];      /* OpenCL backend */
    float *host_state[OPTCL__MAX_STATES]; /* reference backend */
    cl_kernel kernel;                     /* the update rule */
    cl_kernel lookahead_kernel;
    const char *build_log;
    optcl_plateau_state plateau;
    double lookahead_alpha;  /* α of the last sync */
    optcl_loss_fn search_fn; /* Lookahead α line search, when set */
    void *search_user;
    int search_points;
    cl_mem search_fast; /* the fast weights saved while the search blends */
    float *host_search_fast;
    size_t live_trackers;     /* trackers that save this optimizer */
    uint64_t launches;        /* kernels enqueued (optcl_optimizer_launch_count) */
    cl_kernel traffic_kernel; /* the benchmark's yardstick, built on first use */
    char message[OPTCL__MESSAGE_MAX];
};

/* optimizer_lr.c: the lr group g uses at 0-based step t (schedule, then plateau). */
double optcl__group_lr(const optcl_optimizer *opt, int group, uint64_t t);

/* lookahead.c: the sync after a step that ends a k-step cycle (steps already counted). */
optcl_status optcl__lookahead_sync(optcl_optimizer *opt, cl_event *event);
/* Copies the parameters into the slow weights (first step), after wait_list. */
optcl_status optcl__lookahead_init(optcl_optimizer *opt, cl_uint num_events,
                                   const cl_event *wait_list);

/* params.c: copies between host memory (packed, creation order) and one flat buffer — a
 * cl_mem, or host_base on the reference backend — for tensor index or OPTCL_ALL. Blocks. */
optcl_status optcl__transfer(optcl_params *p, cl_mem buffer, float *host_base, size_t index,
                             float *data, size_t count, bool to_device, char *message,
                             const char *what);

/* config.c */
optcl_status optcl__validate_config(const optcl_optimizer_config *c, char *message);
/* The state buffers an algorithm keeps, in kernel argument order. */
size_t optcl__state_names(const optcl_optimizer_config *c, const char **names);

/* scalars.c */
void optcl__compute_scalars(const optcl_optimizer_config *c, const optcl_group_config *group,
                            uint64_t step, optcl__step_scalars *s);

/* program.c: the kernel family's program for these build options, from the cache or built. */
optcl_status optcl__get_program(optcl_context *ctx, const char *family, const char *options,
                                cl_program *program, const char **build_log);
void optcl__release_programs(optcl_context *ctx);

/* launch.c: one 1-D launch over the elements [offset, offset + size) — VEC =
 * ctx->vector_width elements per work-item — with a work-group size chosen from the device's
 * properties (the largest power of two up to ctx->local_size dividing the work-item count). */
cl_int optcl__enqueue(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t size,
                      cl_uint num_events, const cl_event *wait_list, cl_event *event);

/* kernel_sources.c (generated at build time from the kernels folder) */
typedef struct optcl__kernel_source {
    const char *name; /* "common", "sgd", … */
    const char *text;
} optcl__kernel_source;
extern const optcl__kernel_source optcl__kernel_sources[];
extern const size_t optcl__kernel_source_count;

/* reference/: one rule per family, applied to [begin, end). */
void optcl__reference_step(const optcl_optimizer_config *c, float *p, const float *g, float **state,
                           size_t begin, size_t end, const optcl__step_scalars *s);

/* aligned host buffers for the reference backend (zeroed) */
float *optcl__host_alloc(size_t count);
void optcl__host_free(float *p);

size_t optcl__round_up(size_t value, size_t multiple);

#endif /* OPTCL_INTERNAL_H */
