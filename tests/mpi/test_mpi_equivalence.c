/* test_mpi_equivalence.c — under mpirun -np K: the sharded optimizer equals the unsharded one
 * for every update rule and option (groups, a schedule, ReduceLROnPlateau, Lookahead), on the
 * reference backend bit for bit and on OpenCL within the conformance tolerance; with every rank
 * feeding the same gradient (the replay contract) and with a gradient of its own per rank (the
 * average is what the unsharded optimizer gets); with shards too small to hold anything, MPI
 * calls split into many chunks, the float reduction, the ring collectives; the tensor-wise
 * rules, each tensor whole in one shard; and state memory per rank ≈ 1/K. */
#include "mpitest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 10
#define ATOL 1e-5 /* the conformance tolerance of tests/test_backends.c */
#define RTOL 1e-4

typedef struct run_opts {
    bool per_rank;     /* each rank its own dyadic gradient (else the same one everywhere) */
    optcl_dtype dtype; /* the parameter set's type (F32 by default) */
    int inf_step;      /* > 0: at this step (1-based) rank 0's gradient holds an Inf */
    int steps;         /* 0: STEPS */
    double atol, rtol;
    optcl_mpi_config mpi;
} run_opts;

static int exact_runs, runs; /* OpenCL runs that came out bitwise equal anyway */

/* Rank r's gradient of step t, and the mean over ranks the unsharded optimizer sees: the sum
 * in double divided by K, rounded once (exact for dyadic values, and g itself when all
 * ranks feed the same g). */
static void gradients(float *mine, float *mean, size_t n, int t, bool per_rank, bool coarse,
                      bool inf)
{
    if (!per_rank) {
        mt_fill(mine, n, 100 + (uint64_t)t, -1.0f, 1.0f);
        if (t % 4 == 3)
            for (size_t i = 0; i < n; i += 5)
                mine[i] = 0.0f; /* Rprop's sign 0 */
        if (inf)
            mine[n / 2] = INFINITY;
        memcpy(mean, mine, n * sizeof *mean);
        return;
    }
    float *g = malloc(n * sizeof *g);
    double *sum = calloc(n, sizeof *sum);
    MT_CHECK(g && sum, "out of memory");
    for (int r = 0; r < mt_size; r++) {
        mt_fill_dyadic(g, n, 1000 * (uint64_t)t + (uint64_t)r);
        for (size_t i = 0; i < n; i++) {
            if (coarse) /* multiples of 1/64 up to 4: exact in bfloat16 and float16 */
                g[i] = roundf(g[i] * 64.0f) / 64.0f;
            if (inf && r == 0 && i == n / 2)
                g[i] = INFINITY;
            sum[i] += g[i];
        }
        if (r == mt_rank)
            memcpy(mine, g, n * sizeof *g);
    }
    for (size_t i = 0; i < n; i++)
        mean[i] = (float)(sum[i] / mt_size);
    free(g);
    free(sum);
}

/* The metric rank r reports after step t, and the value every rank agrees on (the value itself
 * when all report the same, else the mean in rank order). */
static double metric(int t, int r, bool per_rank)
{
    double base = t < 3 ? 1.0 - 0.1 * t : 1.0; /* improves, then stalls: reductions follow */
    return per_rank ? base + 0.25 * r : base;
}

static double agreed_metric(int t, bool per_rank)
{
    if (!per_rank || mt_size == 1)
        return metric(t, 0, per_rank);
    double sum = 0.0;
    for (int r = 0; r < mt_size; r++)
        sum += metric(t, r, per_rank);
    return sum / mt_size;
}

static void compare_run(optcl_context *ctx, const optcl_tensor_spec *specs, size_t count,
                        const char *label, const optcl_optimizer_config *c, const run_opts *o)
{
    optcl_params *ref = NULL, *mod = NULL;
    MT_OK(optcl_params_create_typed(ctx, specs, count, o->dtype, &ref), label);
    MT_OK(optcl_params_create_typed(ctx, specs, count, o->dtype, &mod), label);
    size_t n = optcl_params_numel(ref);
    float *p0 = malloc(n * sizeof *p0), *g = malloc(n * sizeof *g), *mean = malloc(n * sizeof *g);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    MT_CHECK(p0 && g && mean && a && b, "out of memory");
    mt_fill(p0, n, 11, -1.0f, 1.0f);
    MT_OK(optcl_params_write(ref, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, n), label);
    MT_OK(optcl_params_write(mod, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, n), label);
    optcl_optimizer *u = NULL;
    optcl_mpi_optimizer *s = NULL;
    char msg[2048] = "";
    MT_OK(optcl_optimizer_create(ref, c, &u), optcl_context_message(ctx));
    MT_OK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, mod, c, &o->mpi, &s, msg, sizeof msg), msg);
    bool exact = true;
    for (int t = 0; t < (o->steps ? o->steps : STEPS); t++) {
        gradients(g, mean, n, t, o->per_rank, o->dtype != OPTCL_DTYPE_F32, o->inf_step == t + 1);
        MT_OK(optcl_params_write(ref, OPTCL_ROLE_GRADS, OPTCL_ALL, mean, n), label);
        MT_OK(optcl_optimizer_step(u, 0, NULL, NULL), optcl_optimizer_message(u));
        MT_OK(optcl_params_write(mod, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n), label);
        MT_OK(optcl_mpi_optimizer_step(s), optcl_mpi_optimizer_message(s));
        if (c->plateau.enabled) {
            MT_OK(optcl_optimizer_report_metric(u, agreed_metric(t, o->per_rank)), label);
            MT_OK(optcl_mpi_optimizer_report_metric(s, metric(t, mt_rank, o->per_rank)),
                  optcl_mpi_optimizer_message(s));
        }
        MT_OK(optcl_params_read(ref, OPTCL_ROLE_PARAMS, OPTCL_ALL, a, n), label);
        MT_OK(optcl_params_read(mod, OPTCL_ROLE_PARAMS, OPTCL_ALL, b, n), label);
        size_t bad = tu_first_mismatch(b, a, n, o->atol, o->rtol, NULL);
        MT_CHECK(bad == (size_t)-1,
                 "%s (%s gradients): step %d, element %zu: sharded %.9g, "
                 "unsharded %.9g",
                 label, o->per_rank ? "per-rank" : "equal", t + 1, bad, (double)b[bad],
                 (double)a[bad]);
        exact = exact && tu_first_mismatch(b, a, n, 0.0, 0.0, NULL) == (size_t)-1;
        MT_CHECK(optcl_mpi_optimizer_step_count(s) == optcl_optimizer_step_count(u), "%s", label);
        if (c->loss_scale.mode != OPTCL_LOSS_SCALE_OFF) {
            optcl_guard_stats a_, b_;
            MT_OK(optcl_optimizer_guard_stats(u, &a_), label);
            MT_OK(optcl_mpi_optimizer_guard_stats(s, &b_), optcl_mpi_optimizer_message(s));
            MT_CHECK(a_.loss_scale == b_.loss_scale && a_.growth_tracker == b_.growth_tracker &&
                         a_.skipped == b_.skipped,
                     "%s: step %d: scale %g tracker %u skipped %llu, unsharded %g %u %llu", label,
                     t + 1, b_.loss_scale, (unsigned)b_.growth_tracker,
                     (unsigned long long)b_.skipped, a_.loss_scale, (unsigned)a_.growth_tracker,
                     (unsigned long long)a_.skipped);
        }
        for (int grp = 0; grp < 3; grp++) {
            double lu = 0, ls = 0;
            MT_OK(optcl_optimizer_get_lr(u, grp, &lu), label);
            MT_OK(optcl_mpi_optimizer_get_lr(s, grp, &ls), label);
            MT_CHECK(lu == ls, "%s: step %d, group %d lr %.17g vs %.17g", label, t + 1, grp, ls,
                     lu);
        }
    }
    if (optcl_optimizer_set_mode(u, OPTCL_MODE_EVAL) == OPTCL_SUCCESS) {
        /* Schedule-Free: the switch to eval mode, shard by shard, gives the same x */
        MT_OK(optcl_mpi_optimizer_set_mode(s, OPTCL_MODE_EVAL), optcl_mpi_optimizer_message(s));
        MT_OK(optcl_params_read(ref, OPTCL_ROLE_PARAMS, OPTCL_ALL, a, n), label);
        MT_OK(optcl_params_read(mod, OPTCL_ROLE_PARAMS, OPTCL_ALL, b, n), label);
        size_t bad = tu_first_mismatch(b, a, n, o->atol, o->rtol, NULL);
        MT_CHECK(bad == (size_t)-1, "%s: eval mode, element %zu: sharded %.9g, unsharded %.9g",
                 label, bad, (double)b[bad], (double)a[bad]);
        exact = exact && tu_first_mismatch(b, a, n, 0.0, 0.0, NULL) == (size_t)-1;
    } else { /* no eval mode: the sharded optimizer refuses it too */
        MT_CHECK(optcl_mpi_optimizer_set_mode(s, OPTCL_MODE_EVAL) == OPTCL_ERROR_UNSUPPORTED,
                 "%s: eval mode", label);
    }
    runs++;
    exact_runs += exact;
    MT_OK(optcl_mpi_optimizer_destroy(s), label);
    MT_OK(optcl_optimizer_destroy(u), label);
    MT_OK(optcl_params_destroy(ref), label);
    MT_OK(optcl_params_destroy(mod), label);
    free(p0);
    free(g);
    free(mean);
    free(a);
    free(b);
}

typedef struct named {
    const char *label;
    optcl_optimizer_config c;
} named;

static const optcl_group_config groups[3] = {{.lr = 0.02, .weight_decay = -1},
                                             {.lr = -1, .weight_decay = 0.1},
                                             {.lr = 0.001, .weight_decay = 0.0}};

static size_t configs(named *out)
{
    size_t n = 0;
#define ADD(text, algo, ...)                                                                       \
    do {                                                                                           \
        optcl_optimizer_config c_ = optcl_optimizer_config_default(algo);                          \
        __VA_ARGS__;                                                                               \
        out[n++] = (named){text, c_};                                                              \
    } while (0)
    ADD("sgd", OPTCL_SGD, c_.lr = 0.05);
    ADD("sgd momentum dampening weight_decay", OPTCL_SGD, c_.lr = 0.05, c_.sgd.momentum = 0.9,
        c_.sgd.dampening = 0.1, c_.weight_decay = 0.01);
    ADD("sgd nesterov", OPTCL_SGD, c_.lr = 0.05, c_.sgd.momentum = 0.9, c_.sgd.nesterov = 1);
    ADD("sgd ema", OPTCL_SGD, c_.lr = 0.05, c_.sgd.momentum = 0.8, c_.sgd.ema = 1);
    ADD("adam", OPTCL_ADAM, c_.lr = 0.01);
    ADD("adam amsgrad weight_decay maximize", OPTCL_ADAM, c_.lr = 0.01, c_.adam.amsgrad = 1,
        c_.weight_decay = 0.01, c_.maximize = 1);
    ADD("adamw", OPTCL_ADAMW, c_.lr = 0.01);
    ADD("rmsprop", OPTCL_RMSPROP, c_.lr = 0.01);
    ADD("rmsprop centered momentum", OPTCL_RMSPROP, c_.lr = 0.01, c_.rmsprop.centered = 1,
        c_.rmsprop.momentum = 0.5);
    ADD("rprop", OPTCL_RPROP, (void)0);
    ADD("rprop classic", OPTCL_RPROP, c_.rprop.variant = OPTCL_RPROP_CLASSIC);
    ADD("adamw groups cosine warmup", OPTCL_ADAMW, c_.lr = 0.01, c_.groups = groups,
        c_.group_count = 3, c_.schedule = optcl_schedule_default(OPTCL_SCHEDULE_COSINE),
        c_.schedule.t_max = STEPS, c_.schedule.warmup_steps = 2);
    ADD("sgd momentum plateau", OPTCL_SGD, c_.lr = 0.05, c_.sgd.momentum = 0.9,
        c_.plateau.enabled = 1, c_.plateau.patience = 1, c_.plateau.factor = 0.5);
    ADD("rmsprop lookahead", OPTCL_RMSPROP, c_.lr = 0.01, c_.lookahead.k = 3,
        c_.lookahead.alpha = 0.5);
    ADD("adam amsgrad bf16 state", OPTCL_ADAM, c_.lr = 0.01, c_.adam.amsgrad = 1,
        c_.state_dtype = OPTCL_STATE_BF16);
    ADD("sgd momentum bf16 state", OPTCL_SGD, c_.lr = 0.05, c_.sgd.momentum = 0.9,
        c_.state_dtype = OPTCL_STATE_BF16);
    ADD("lion weight_decay", OPTCL_LION, c_.lr = 0.01, c_.weight_decay = 0.1);
    ADD("adagrad lr_decay initial", OPTCL_ADAGRAD, c_.lr = 0.05, c_.adagrad.lr_decay = 0.1,
        c_.adagrad.initial_accumulator_value = 0.1);
    ADD("adadelta weight_decay", OPTCL_ADADELTA, c_.weight_decay = 0.01);
    ADD("adamax maximize", OPTCL_ADAMAX, c_.lr = 0.01, c_.maximize = 1);
    ADD("nadam decoupled", OPTCL_NADAM, c_.lr = 0.01, c_.nadam.decoupled_weight_decay = 1,
        c_.weight_decay = 0.1);
    ADD("radam", OPTCL_RADAM, c_.lr = 0.01);
    ADD("asgd averaging cosine", OPTCL_ASGD, c_.lr = 0.05, c_.asgd.t0 = 1.0, c_.asgd.lambd = 0.1,
        c_.schedule = optcl_schedule_default(OPTCL_SCHEDULE_COSINE), c_.schedule.t_max = STEPS);
    ADD("adam eps_root", OPTCL_ADAM, c_.lr = 0.01, c_.adam.eps_root = 1e-3);
    ADD("adamw_schedulefree warmup weight_decay", OPTCL_ADAMW_SCHEDULEFREE, c_.lr = 0.01,
        c_.adamw_schedulefree.warmup_steps = 3, c_.weight_decay = 0.1);
    ADD("sgd_schedulefree", OPTCL_SGD_SCHEDULEFREE, c_.lr = 0.05);
#undef ADD
    return n;
}

static void every_rule(optcl_backend backend)
{
    optcl_context *ctx = mt_context(backend);
    if (!ctx)
        return;
    bool reference = backend == OPTCL_BACKEND_REFERENCE;
    named list[32];
    size_t count = configs(list);
    for (size_t i = 0; i < count; i++) {
        for (int per_rank = 0; per_rank < 2; per_rank++) {
            run_opts o = {.per_rank = per_rank,
                          .atol = reference ? 0.0 : ATOL,
                          .rtol = reference ? 0.0 : RTOL,
                          .mpi = optcl_mpi_config_default()};
            compare_run(ctx, mt_model, MT_MODEL_COUNT, list[i].label, &list[i].c, &o);
        }
        /* Five elements: with K > 1 all but rank 0 hold an empty shard. */
        run_opts o = {.atol = reference ? 0.0 : ATOL,
                      .rtol = reference ? 0.0 : RTOL,
                      .mpi = optcl_mpi_config_default()};
        compare_run(ctx, mt_tiny, 1, list[i].label, &list[i].c, &o);
    }
    mt_note("every rule on %s: %zu configurations equal the unsharded optimizer%s",
            reference ? "reference" : "OpenCL", count,
            reference ? " bit for bit" : " within 1e-5 + 1e-4·|x|");
    optcl_context_destroy(ctx);
}

/* compare_run with equal gradients, then with a gradient of its own per rank; exact on the
 * reference backend, within the conformance tolerance on OpenCL. */
static void compare_both(optcl_context *ctx, const optcl_tensor_spec *specs, size_t count,
                         const char *label, const optcl_optimizer_config *c, optcl_dtype dtype,
                         int inf_step)
{
    bool reference = optcl_context_backend(ctx) == OPTCL_BACKEND_REFERENCE;
    for (int per_rank = 0; per_rank < 2; per_rank++) {
        run_opts o = {.per_rank = per_rank,
                      .dtype = dtype,
                      .inf_step = inf_step,
                      .atol = reference ? 0.0 : ATOL,
                      .rtol = reference ? 0.0 : RTOL,
                      .mpi = optcl_mpi_config_default()};
        compare_run(ctx, specs, count, label, c, &o);
    }
}

/* bfloat16 and float16 parameter sets: the shards are sets of the same type, so a shard's step
 * is the unsharded step of its elements; each rank's gradient is rounded to the type when it is
 * written, and the average of those is rounded again, as the unsharded optimizer's gradient.
 * (Not with the guard: the sharded optimizer clips the float32 average before rounding it, the
 * unsharded one the rounded gradient in registers.) */
static void low_precision(optcl_backend backend)
{
    optcl_context *ctx = mt_context(backend);
    if (!ctx)
        return;
    bool reference = backend == OPTCL_BACKEND_REFERENCE;
    named list[8];
    size_t count = 0;
    list[count] = (named){"adam", optcl_optimizer_config_default(OPTCL_ADAM)};
    list[count++].c.lr = 0.01;
    list[count] = (named){"adamw master weights", optcl_optimizer_config_default(OPTCL_ADAMW)};
    list[count].c.lr = 0.01;
    list[count++].c.master_weights = 1;
    list[count] = (named){"sgd momentum f32 state", optcl_optimizer_config_default(OPTCL_SGD)};
    list[count].c.lr = 0.05;
    list[count].c.sgd.momentum = 0.9;
    list[count++].c.state_dtype = OPTCL_STATE_F32;
    list[count] = (named){"rmsprop centered", optcl_optimizer_config_default(OPTCL_RMSPROP)};
    list[count].c.lr = 0.01;
    list[count++].c.rmsprop.centered = 1;
    const optcl_dtype types[2] = {OPTCL_DTYPE_BF16, OPTCL_DTYPE_F16};
    for (int d = 0; d < 2; d++)
        for (size_t i = 0; i < count; i++)
            compare_both(ctx, mt_model, MT_MODEL_COUNT, list[i].label, &list[i].c, types[d], 0);
    mt_note("bf16 and f16 sets on %s: %zu configurations equal the unsharded optimizer%s",
            reference ? "reference" : "OpenCL", count, reference ? " bit for bit" : "");
    optcl_context_destroy(ctx);
}

/* 8-bit state: shards start and end on the tensors' blocks of 256, and each piece keeps the
 * state type of its whole tensor (8-bit from 4096 elements, even when the piece is smaller), so
 * every block is the unsharded optimizer's. */
static void int8_state(optcl_backend backend)
{
    optcl_context *ctx = mt_context(backend);
    if (!ctx)
        return;
    bool reference = backend == OPTCL_BACKEND_REFERENCE;
    const optcl_tensor_spec model[] = {
        {.name = "fc1.weight", .ndim = 2, .shape = {70, 90}, .group = 0},
        {.name = "fc1.bias", .ndim = 1, .shape = {90}, .group = 1},
        {.name = "fc2.weight", .ndim = 1, .shape = {4100}, .group = 0},
        {.name = "fc2.bias", .ndim = 1, .shape = {10}, .group = 1},
        {.name = "emb", .ndim = 1, .shape = {3000}, .group = 0, .state_bits = 8},
    };
    named list[3];
    list[0] = (named){"adam int8", optcl_optimizer_config_default(OPTCL_ADAM)};
    list[0].c.lr = 0.01;
    list[1] = (named){"sgd momentum int8", optcl_optimizer_config_default(OPTCL_SGD)};
    list[1].c.lr = 0.05;
    list[1].c.sgd.momentum = 0.9;
    list[2] = (named){"rmsprop centered int8 bf16", optcl_optimizer_config_default(OPTCL_RMSPROP)};
    list[2].c.lr = 0.01;
    list[2].c.rmsprop.centered = 1;
    for (size_t i = 0; i < 3; i++) {
        list[i].c.state_dtype = OPTCL_STATE_INT8;
        compare_both(ctx, model, 5, list[i].label, &list[i].c,
                     i == 2 ? OPTCL_DTYPE_BF16 : OPTCL_DTYPE_F32, 0);
    }
    /* The memory account counts the shard's codes, absmaxes and float32 area as allocated. */
    optcl_params *p = mt_params(ctx, model, 5);
    optcl_mpi_optimizer *s = NULL;
    char msg[2048] = "";
    MT_OK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, p, &list[0].c, NULL, &s, msg, sizeof msg),
          msg);
    optcl_mpi_memory m;
    MT_OK(optcl_mpi_optimizer_memory(s, &m), "memory");
    size_t shard = optcl_optimizer_state_bytes(optcl_mpi_optimizer_shard(s));
    MT_CHECK(m.state_bytes == shard && shard > 0, "state bytes %zu, the shard's optimizer %zu",
             m.state_bytes, shard);
    MT_OK(optcl_mpi_optimizer_destroy(s), "destroy");
    MT_OK(optcl_params_destroy(p), "destroy");
    mt_note("8-bit state on %s: 3 configurations equal the unsharded optimizer%s",
            reference ? "reference" : "OpenCL", reference ? " bit for bit" : "");
    optcl_context_destroy(ctx);
}

/* Loss scaling (GradScaler's dynamic scaler, a power-of-two scale): the shard's optimizer
 * unscales its part of the mean; an Inf in one rank's gradient makes every shard skip and back
 * off together, and the scale grows after growth_interval good steps, as the unsharded
 * optimizer's. */
static void loss_scaling(optcl_backend backend)
{
    optcl_context *ctx = mt_context(backend);
    if (!ctx)
        return;
    bool reference = backend == OPTCL_BACKEND_REFERENCE;
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAMW);
    c.lr = 0.01;
    c.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
    c.loss_scale.init_scale = 1024.0;
    c.loss_scale.growth_interval = 3;
    const optcl_dtype types[2] = {OPTCL_DTYPE_F32, OPTCL_DTYPE_F16};
    for (int d = 0; d < 2; d++)
        compare_both(ctx, mt_model, MT_MODEL_COUNT, "adamw dynamic loss scale", &c, types[d], 4);
    mt_note("loss scaling on %s: the sharded scaler equals the unsharded one%s",
            reference ? "reference" : "OpenCL", reference ? " bit for bit" : "");
    optcl_context_destroy(ctx);
}

/* A model for the rules that look at whole tensors: matrices, vectors, a 4-D convolution
 * weight (Adafactor factors its 3×3 matrices) and a scalar in three groups; 337 elements, the
 * largest tensor 117. */
#define TW_COUNT 6
static const optcl_tensor_spec tw_model[TW_COUNT] = {
    {.name = "fc1.weight", .ndim = 2, .shape = {9, 13}, .group = 0},
    {.name = "fc1.bias", .ndim = 1, .shape = {13}, .group = 1},
    {.name = "conv.weight", .ndim = 4, .shape = {4, 3, 3, 3}, .group = 2},
    {.name = "fc2.weight", .ndim = 2, .shape = {13, 7}, .group = 0},
    {.name = "fc2.bias", .ndim = 1, .shape = {7}, .group = 1},
    {.name = "scale", .ndim = 0, .group = 2},
};

/* Shards of uneven lengths through every collective: MPI's (uneven counts) and the ring's,
 * whole or in chunks of 7 per rank, double and float (dyadic gradients: exact sums). */
static void uneven_collectives(optcl_context *ctx, const optcl_optimizer_config *c)
{
    static const char *labels[2][2][2] = {
        {{"lamb double", "lamb double, chunks of 7"}, {"lamb float", "lamb float, chunks of 7"}},
        {{"lamb ring double", "lamb ring double, chunks of 7"},
         {"lamb ring float", "lamb ring float, chunks of 7"}}};
    for (int ring = 0; ring < 2; ring++)
        for (int reduce = 0; reduce < 2; reduce++)
            for (int chunked = 0; chunked < 2; chunked++) {
                run_opts o = {.per_rank = true, .mpi = optcl_mpi_config_default()};
                o.mpi.collectives = ring ? OPTCL_MPI_COLLECTIVES_RING : OPTCL_MPI_COLLECTIVES_MPI;
                o.mpi.reduce = (optcl_mpi_reduce)reduce;
                o.mpi.max_count = chunked ? 7 : 0;
                compare_run(ctx, tw_model, TW_COUNT, labels[ring][reduce][chunked], c, &o);
                compare_run(ctx, mt_tiny, 1, labels[ring][reduce][chunked], c, &o);
            }
}

/* Every piece is a whole tensor in its shape; the shards cover the model once, without
 * padding, none longer than S, and S is at least the largest tensor. */
static void whole_pieces(optcl_context *ctx, const optcl_optimizer_config *c)
{
    optcl_params *p = mt_params(ctx, tw_model, TW_COUNT);
    optcl_mpi_optimizer *s = NULL;
    char msg[2048] = "";
    MT_OK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, p, c, NULL, &s, msg, sizeof msg), msg);
    optcl_params *shard = optcl_mpi_optimizer_shard_params(s);
    size_t whole = 0;
    for (size_t i = 0; i < optcl_params_count(shard); i++) {
        optcl_tensor_info info, outer;
        MT_OK(optcl_params_info(shard, i, &info), "info");
        for (size_t j = 0; j < TW_COUNT; j++) {
            MT_OK(optcl_params_info(p, j, &outer), "info");
            char name[300];
            snprintf(name, sizeof name, "%s[0:%zu]", outer.name, outer.count);
            if (strcmp(name, info.name) != 0)
                continue;
            MT_CHECK(info.ndim == outer.ndim && info.count == outer.count &&
                         !memcmp(info.shape, outer.shape, sizeof info.shape),
                     "piece %s is not its tensor's shape", info.name);
            whole++;
        }
    }
    unsigned long long mine = whole, total = 0;
    MPI_Allreduce(&mine, &total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    MT_CHECK(total == TW_COUNT, "%llu of %d tensors whole in the shards", total, TW_COUNT);
    optcl_mpi_memory m;
    MT_OK(optcl_mpi_optimizer_memory(s, &m), "memory");
    unsigned long long covered = m.shard_end - m.shard_begin, all = 0;
    MPI_Allreduce(&covered, &all, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    MT_CHECK(all == 337 && covered <= m.shard_size && m.shard_size >= 117 &&
                 m.shard_size % OPTCL_MPI_SHARD_ALIGN == 0,
             "the shards cover %llu of 337 elements; S %zu, this rank %llu", all, m.shard_size,
             covered);
    MT_OK(optcl_mpi_optimizer_destroy(s), "destroy");
    MT_OK(optcl_params_destroy(p), "destroy");
}

/* Rules that look at whole tensors (LAMB, LARS, Adafactor, Muon): the layout keeps every
 * tensor whole in one shard, in its shape, so each tensor's norms, row and column means and
 * matrix products are the unsharded optimizer's, and so are its steps. */
static void tensor_wise(optcl_backend backend)
{
    optcl_context *ctx = mt_context(backend);
    if (!ctx)
        return;
    bool reference = backend == OPTCL_BACKEND_REFERENCE;
    static const optcl_tensor_spec matrices[] = {
        {.name = "a", .ndim = 2, .shape = {9, 13}, .group = 0},
        {.name = "b", .ndim = 2, .shape = {13, 7}, .group = 1},
        {.name = "c", .ndim = 2, .shape = {7, 5}, .group = 0},
        {.name = "d", .ndim = 2, .shape = {20, 3}, .group = 2},
        {.name = "e", .ndim = 2, .shape = {1, 17}, .group = 0},
    };
    /* biases and norms out of the trust ratio and the weight decay, as users do */
    static const optcl_group_config tw_groups[3] = {
        {.lr = -1, .weight_decay = -1},
        {.lr = -1, .weight_decay = 0.0, .exclude_from_trust_ratio = 1},
        {.lr = 0.002, .weight_decay = -1}};
    named list[5];
    list[0] = (named){"lamb groups", optcl_optimizer_config_default(OPTCL_LAMB)};
    list[0].c.weight_decay = 0.01;
    list[0].c.groups = tw_groups;
    list[0].c.group_count = 3;
    list[1] = (named){"lars nesterov", optcl_optimizer_config_default(OPTCL_LARS)};
    list[1].c.lars.nesterov = 1;
    list[1].c.weight_decay = 1e-4;
    list[2] = (named){"adafactor weight_decay", optcl_optimizer_config_default(OPTCL_ADAFACTOR)};
    list[2].c.weight_decay = 0.01;
    list[3] = (named){"lamb cosine lookahead", optcl_optimizer_config_default(OPTCL_LAMB)};
    list[3].c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_COSINE);
    list[3].c.schedule.t_max = STEPS;
    list[3].c.lookahead.k = 3;
    list[4] = (named){"muon", optcl_optimizer_config_default(OPTCL_MUON)};
    size_t count = tu_muon_refused(backend, OPTCL_MUON) ? 4 : 5;
    for (size_t i = 0; i < count; i++) {
        bool muon = list[i].c.algorithm == OPTCL_MUON;
        compare_both(ctx, muon ? matrices : tw_model, muon ? 5 : TW_COUNT, list[i].label,
                     &list[i].c, OPTCL_DTYPE_F32, 0);
        if (muon)
            continue;
        /* One tensor: with K > 1 all but rank 0 hold an empty shard. */
        run_opts o = {.atol = reference ? 0.0 : ATOL,
                      .rtol = reference ? 0.0 : RTOL,
                      .mpi = optcl_mpi_config_default()};
        compare_run(ctx, mt_tiny, 1, list[i].label, &list[i].c, &o);
    }
    /* bfloat16 sets: shards of the set's type, each tensor whole */
    compare_both(ctx, tw_model, TW_COUNT, "lamb groups bf16", &list[0].c, OPTCL_DTYPE_BF16, 0);
    compare_both(ctx, tw_model, TW_COUNT, "adafactor bf16", &list[2].c, OPTCL_DTYPE_BF16, 0);
    if (reference)
        uneven_collectives(ctx, &list[0].c);
    whole_pieces(ctx, &list[2].c);
    mt_note("tensor-wise rules on %s: %zu configurations equal the unsharded optimizer%s, every "
            "tensor whole in one shard",
            reference ? "reference" : "OpenCL", count, reference ? " bit for bit" : "");
    optcl_context_destroy(ctx);
}

/* MPI calls of at most 7 elements per rank (the splitting of counts above 2^31, small), in both
 * reductions; and the float reduction itself. */
static void chunks_and_float(void)
{
    optcl_context *ctx = mt_context(OPTCL_BACKEND_REFERENCE);
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.lr = 0.01;
    c.adam.amsgrad = 1;
    static const char *labels[2][2][2] = {
        {{"double", "double, chunks of 7"}, {"float", "float, chunks of 7"}},
        {{"ring double", "ring double, chunks of 7"}, {"ring float", "ring float, chunks of 7"}}};
    for (int ring = 0; ring < 2; ring++) {
        for (int reduce = 0; reduce < 2; reduce++) {
            for (int chunked = 0; chunked < 2; chunked++) {
                run_opts o = {.per_rank = true, .mpi = optcl_mpi_config_default()};
                o.mpi.collectives = ring ? OPTCL_MPI_COLLECTIVES_RING : OPTCL_MPI_COLLECTIVES_MPI;
                o.mpi.reduce = (optcl_mpi_reduce)reduce;
                o.mpi.max_count = chunked ? 7 : 0;
                /* Dyadic gradients: float sums are exact too, so every variant is exact. */
                compare_run(ctx, mt_model, MT_MODEL_COUNT, labels[ring][reduce][chunked], &c, &o);
                compare_run(ctx, mt_tiny, 1, labels[ring][reduce][chunked], &c, &o);
            }
        }
    }
    /* Shards of more than a ring piece (2^20 elements with 2 ranks): blocks travel in pieces. */
    optcl_tensor_spec big = {.name = "big", .ndim = 1, .shape = {2200001}};
    run_opts large = {.per_rank = true, .steps = 2, .mpi = optcl_mpi_config_default()};
    large.mpi.collectives = OPTCL_MPI_COLLECTIVES_RING;
    compare_run(ctx, &big, 1, "ring, shards larger than a piece", &c, &large);
    /* Equal random gradients in float: fl(fl(K·g)/K) is g when K is a power of two; for K = 3
     * it may be off by an ulp, so the trajectory is close, not equal. */
    bool power_of_two = (mt_size & (mt_size - 1)) == 0;
    run_opts o = {.per_rank = false,
                  .atol = power_of_two ? 0.0 : ATOL,
                  .rtol = power_of_two ? 0.0 : RTOL,
                  .mpi = optcl_mpi_config_default()};
    o.mpi.reduce = OPTCL_MPI_REDUCE_FLOAT;
    compare_run(ctx, mt_model, MT_MODEL_COUNT, "float reduction", &c, &o);
    mt_note("MPI's and the ring's collectives, whole or in chunks of 7, double and float: "
            "equal");
    optcl_context_destroy(ctx);
}

/* The parameter groups the shard's pieces belong to. */
static size_t shard_groups(optcl_mpi_optimizer *s)
{
    optcl_params *shard = optcl_mpi_optimizer_shard_params(s);
    bool seen[OPTCL_MAX_GROUPS] = {false};
    size_t count = 0;
    for (size_t i = 0; i < optcl_params_count(shard); i++) {
        optcl_tensor_info info;
        MT_OK(optcl_params_info(shard, i, &info), "info");
        count += !seen[info.group];
        seen[info.group] = true;
    }
    return count;
}

/* State memory per rank: about 1/K of the unsharded optimizer's, never more than the shard's
 * size plus padding; the shards cover the model exactly once. */
static void memory(optcl_backend backend, size_t numel)
{
    optcl_context *ctx = mt_context(backend);
    if (!ctx)
        return;
    optcl_tensor_spec specs[3] = {
        {.name = "a", .ndim = 1, .shape = {(int64_t)(numel / 2)}, .group = 0},
        {.name = "b", .ndim = 2, .shape = {3, (int64_t)(numel / 6)}, .group = 1},
        {.name = "c", .ndim = 1, .shape = {(int64_t)(numel - numel / 2 - 3 * (numel / 6))}},
    };
    optcl_params *p = mt_params(ctx, specs, 3);
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.adam.amsgrad = 1;
    c.lookahead.k = 5; /* four state buffers */
    optcl_mpi_optimizer *s = NULL;
    char msg[2048] = "";
    MT_OK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, p, &c, NULL, &s, msg, sizeof msg), msg);
    optcl_mpi_memory m;
    MT_OK(optcl_mpi_optimizer_memory(s, &m), "memory");
    size_t align = optcl_context_alignment(ctx);
    size_t pieces = optcl_params_count(optcl_mpi_optimizer_shard_params(s));
    MT_CHECK(m.rank == mt_rank && m.world_size == mt_size && m.numel == numel, "identity");
    MT_CHECK(m.shard_size % OPTCL_MPI_SHARD_ALIGN == 0 && m.shard_size * (size_t)mt_size >= numel &&
                 m.shard_size < numel / (size_t)mt_size + 1 + OPTCL_MPI_SHARD_ALIGN,
             "shard size %zu", m.shard_size);
    unsigned long long covered = m.shard_end - m.shard_begin, total = 0;
    MPI_Allreduce(&covered, &total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    MT_CHECK(total == numel, "the shards cover %llu of %zu elements", total, numel);
    size_t flat = optcl_params_flat_size(optcl_mpi_optimizer_shard_params(s));
    MT_CHECK(m.state_bytes == 4 * 4 * flat, "state bytes %zu for a flat size %zu", m.state_bytes,
             flat);
    /* padding: each piece's end to the alignment, each group's end to the granule */
    size_t padding = pieces * (align - 1) + shard_groups(s) * (OPTCL_GROUP_GRANULE - 1);
    MT_CHECK(flat <= m.shard_size + padding, "flat %zu > S %zu + %zu padding", flat, m.shard_size,
             padding);
    size_t bound =
        m.unsharded_state_bytes / (size_t)mt_size + 4 * 4 * (OPTCL_MPI_SHARD_ALIGN + padding);
    MT_CHECK(m.state_bytes <= bound, "state %zu > unsharded/K + padding %zu", m.state_bytes, bound);
    mt_note("memory on %s, %zu elements, adam+amsgrad+lookahead on %d rank(s): rank 0 holds %zu "
            "of %zu state bytes (1/K = %zu), host staging %zu bytes",
            backend == OPTCL_BACKEND_REFERENCE ? "reference" : "OpenCL", numel, mt_size,
            m.state_bytes, m.unsharded_state_bytes, m.unsharded_state_bytes / (size_t)mt_size,
            m.host_bytes);
    optcl_mpi_timings tm;
    MT_OK(optcl_mpi_optimizer_timings(s, &tm), "timings");
    MT_CHECK(tm.steps == 0 && tm.read_grads == 0.0, "no step timed yet");
    MT_OK(optcl_mpi_optimizer_step(s), optcl_mpi_optimizer_message(s));
    MT_OK(optcl_mpi_optimizer_timings(s, &tm), "timings");
    MT_CHECK(tm.steps == 1 && tm.read_grads >= 0.0 && tm.allgather > 0.0, "one step timed");
    MT_OK(optcl_mpi_optimizer_destroy(s), "destroy");
    MT_OK(optcl_params_destroy(p), "destroy");
    optcl_context_destroy(ctx);
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv, "test_mpi_equivalence");
    every_rule(OPTCL_BACKEND_REFERENCE);
    every_rule(OPTCL_BACKEND_OPENCL);
    low_precision(OPTCL_BACKEND_REFERENCE);
    low_precision(OPTCL_BACKEND_OPENCL);
    loss_scaling(OPTCL_BACKEND_REFERENCE);
    loss_scaling(OPTCL_BACKEND_OPENCL);
    int8_state(OPTCL_BACKEND_REFERENCE);
    int8_state(OPTCL_BACKEND_OPENCL);
    tensor_wise(OPTCL_BACKEND_REFERENCE);
    tensor_wise(OPTCL_BACKEND_OPENCL);
    if (runs > 0)
        mt_note("bitwise equal runs (OpenCL included): %d of %d", exact_runs, runs);
    chunks_and_float();
    memory(OPTCL_BACKEND_REFERENCE, 100003);
    memory(OPTCL_BACKEND_OPENCL, 100003);
    return mt_finish();
}
