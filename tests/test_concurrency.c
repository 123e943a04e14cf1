/* test_concurrency.c — the threading rule of optcl.h, held: contexts are independent. Six
 * threads, each with its own context — two on the reference backend, two OpenCL contexts
 * created in the thread, two wrapping one shared cl_context with a queue each — and its own
 * optimizer (every algorithm, with schedules, plateau and Lookahead), step 200 times with
 * deterministic gradients, save checkpoints into their own files, reload them into the same
 * optimizer and into a recreated one, all at once. Parameters, every state, the step count
 * and the final checkpoint's bytes must equal those of the same runs done one after another on
 * the main thread, bit for bit. */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const optcl_tensor_spec specs[] = {
    {.name = "enc.weight", .ndim = 2, .shape = {33, 17}, .group = 0},
    {.name = "enc.bias", .ndim = 1, .shape = {17}, .group = 1},
    {.name = "dec.weight", .ndim = 3, .shape = {17, 5, 3}, .group = 0},
    {.name = "temperature", .ndim = 0, .group = 1},
};
#define NTENSORS 4
#define NUMEL (33 * 17 + 17 + 17 * 5 * 3 + 1)
#define MAX_STATES 4
#define STEPS 200
#define SAVE_EVERY 25   /* a checkpoint after steps 25, 50, … */
#define RELOAD_EVERY 50 /* … loaded back into the same optimizer after 50, 100, 150, 200 */
#define RECREATE_AT 100 /* after step 100 the optimizer and parameter set are made anew */
#define JOBS 6
#define ROUNDS 5 /* the threaded runs, each compared with the sequential one */

typedef enum kind { REFERENCE, OPENCL_OWN, OPENCL_WRAPPED } kind;

typedef struct job {
    /* in */
    int id;
    kind kind;
    optcl_optimizer_config config;
    cl_context shared_ctx; /* OPENCL_WRAPPED */
    cl_device_id shared_device;
    char path[512];       /* this job's checkpoint */
    char final_path[512]; /* the state after the last step */
    pthread_barrier_t *start;
    /* out */
    float result[(1 + MAX_STATES) * NUMEL];
    size_t states;
    uint64_t steps;
    char device[256];
    char error[1024]; /* empty: the run succeeded */
} job;

static const optcl_group_config groups[2] = {{-1.0, -1.0, 0}, {-1.0, 0.0, 0}};

static optcl_optimizer_config job_config(int id)
{
    optcl_optimizer_config c;
    switch (id) {
    case 0: /* SGD, Nesterov momentum, Lookahead, step schedule */
        c = optcl_optimizer_config_default(OPTCL_SGD);
        c.lr = 0.05;
        c.sgd.momentum = 0.9;
        c.sgd.nesterov = 1;
        c.weight_decay = 1e-3;
        c.lookahead.k = 5;
        c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_STEP);
        c.schedule.step_size = 30;
        c.schedule.gamma = 0.5;
        break;
    case 1: /* RMSprop, centered with momentum, ReduceLROnPlateau */
        c = optcl_optimizer_config_default(OPTCL_RMSPROP);
        c.rmsprop.centered = 1;
        c.rmsprop.momentum = 0.5;
        c.plateau.enabled = 1;
        c.plateau.patience = 2;
        c.plateau.factor = 0.5;
        break;
    case 2: /* Adam, AMSGrad, cosine */
        c = optcl_optimizer_config_default(OPTCL_ADAM);
        c.adam.amsgrad = 1;
        c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_COSINE);
        c.schedule.t_max = STEPS;
        break;
    case 3: /* Rprop */
        c = optcl_optimizer_config_default(OPTCL_RPROP);
        break;
    case 4: /* AdamW with Lookahead and warmup */
        c = optcl_optimizer_config_default(OPTCL_ADAMW);
        c.lookahead.k = 3;
        c.lookahead.alpha = 0.6;
        c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL);
        c.schedule.gamma = 0.99;
        c.schedule.warmup_steps = 10;
        break;
    default: /* SGD with EMA momentum (the lecture's), maximize */
        c = optcl_optimizer_config_default(OPTCL_SGD);
        c.lr = 0.02;
        c.sgd.momentum = 0.8;
        c.sgd.ema = 1;
        c.maximize = 1;
        break;
    }
    c.groups = groups;
    c.group_count = 2;
    return c;
}

/* The job's objects. */
typedef struct run {
    optcl_context *ctx;
    optcl_params *params;
    optcl_optimizer *opt;
} run;

#define CHECK(j, st, what)                                                                         \
    do {                                                                                           \
        optcl_status check_st_ = (st);                                                             \
        if (check_st_ != OPTCL_SUCCESS) {                                                          \
            snprintf((j)->error, sizeof(j)->error, "job %d: %s: %s", (j)->id, (what),              \
                     optcl_status_name(check_st_));                                                \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static int open_context(job *j, run *r)
{
    char message[512] = "";
    optcl_status st;
    if (j->kind == OPENCL_WRAPPED) {
        cl_int err = CL_SUCCESS;
        cl_command_queue q = clCreateCommandQueue(j->shared_ctx, j->shared_device, 0, &err);
        if (err != CL_SUCCESS) {
            snprintf(j->error, sizeof j->error, "job %d: clCreateCommandQueue: %d", j->id,
                     (int)err);
            return 1;
        }
        st = optcl_context_wrap(j->shared_ctx, j->shared_device, q, &r->ctx, message,
                                sizeof message);
        clReleaseCommandQueue(q); /* the context holds its own reference */
    } else {
        optcl_context_config cc = optcl_context_config_default();
        cc.backend = j->kind == REFERENCE ? OPTCL_BACKEND_REFERENCE : OPTCL_BACKEND_OPENCL;
        st = optcl_context_create(&cc, &r->ctx, message, sizeof message);
    }
    if (st != OPTCL_SUCCESS) {
        snprintf(j->error, sizeof j->error, "job %d: context: %s (%s)", j->id,
                 optcl_status_name(st), message);
        return 1;
    }
    snprintf(j->device, sizeof j->device, "%s", optcl_context_device_name(r->ctx));
    return 0;
}

static optcl_status open_optimizer(job *j, run *r)
{
    optcl_status st = optcl_params_create(r->ctx, specs, NTENSORS, &r->params);
    if (st == OPTCL_SUCCESS)
        st = optcl_optimizer_create(r->params, &j->config, &r->opt);
    return st;
}

static void close_optimizer(run *r)
{
    optcl_optimizer_destroy(r->opt);
    optcl_params_destroy(r->params);
    r->opt = NULL;
    r->params = NULL;
}

/* One whole run; plain calls only (cmocka's assertions belong to the main thread). */
static void run_job(job *j)
{
    run r = {0};
    float *g = malloc(NUMEL * sizeof *g);
    j->error[0] = '\0';
    if (!g) {
        snprintf(j->error, sizeof j->error, "job %d: out of memory", j->id);
        return;
    }
    if (j->start)
        pthread_barrier_wait(j->start); /* every thread creates its context at once */
    if (open_context(j, &r))
        goto out;
    CHECK(j, open_optimizer(j, &r), "create");
    uint64_t seed = 7 + (uint64_t)j->id;
    tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
    CHECK(j, optcl_params_write(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, g, NUMEL), "p0");
    for (int t = 1; t <= STEPS; t++) {
        seed = (uint64_t)j->id * 1000003u + (uint64_t)t;
        tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
        CHECK(j, optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "grads");
        CHECK(j, optcl_optimizer_step(r.opt, 0, NULL, NULL), "step");
        if (j->config.plateau.enabled)
            CHECK(j, optcl_optimizer_report_metric(r.opt, 1.0 + 1.0 / (1.0 + t % 4)), "metric");
        if (t % SAVE_EVERY == 0)
            CHECK(j, optcl_checkpoint_save(r.opt, j->path), "save");
        if (t % RELOAD_EVERY == 0)
            CHECK(j, optcl_checkpoint_load(r.opt, j->path), "reload");
        if (t == RECREATE_AT) {
            close_optimizer(&r);
            CHECK(j, open_optimizer(j, &r), "recreate");
            CHECK(j, optcl_checkpoint_load(r.opt, j->path), "load into the new optimizer");
        }
    }
    CHECK(j, optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, j->result, NUMEL), "read");
    j->states = optcl_optimizer_state_count(r.opt);
    for (size_t k = 0; k < j->states && k < MAX_STATES; k++)
        CHECK(j,
              optcl_optimizer_read_state(r.opt, optcl_optimizer_state_name(r.opt, k), OPTCL_ALL,
                                         j->result + (k + 1) * NUMEL, NUMEL),
              "read state");
    j->steps = optcl_optimizer_step_count(r.opt);
    CHECK(j, optcl_checkpoint_save(r.opt, j->final_path), "final save");
out:
    if (j->error[0] && r.opt && *optcl_optimizer_message(r.opt)) {
        size_t used = strlen(j->error);
        snprintf(j->error + used, sizeof j->error - used, " (%s)", optcl_optimizer_message(r.opt));
    }
    close_optimizer(&r);
    optcl_context_destroy(r.ctx);
    free(g);
}

static void *thread_main(void *arg)
{
    run_job(arg);
    return NULL;
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*size ? *size : 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *size, f), *size);
    fclose(f);
    return b;
}

static void threads_equal_sequential(void **state)
{
    (void)state;
    /* One OpenCL context lends its cl_context and device to the wrapping jobs. Where the
     * environment makes every context a reference one (OPTCL_DEVICE=reference, as under
     * valgrind) or there is no device and that is allowed, those jobs run on the host. */
    optcl_context *lender = NULL;
    optcl_context_config cc = optcl_context_config_default();
    char message[512] = "";
    optcl_status st = optcl_context_create(&cc, &lender, message, sizeof message);
    if (st != OPTCL_SUCCESS && !tu_allow_no_device())
        fail_msg("no OpenCL context: %s (%s)", optcl_status_name(st), message);
    int opencl = st == OPTCL_SUCCESS && optcl_context_backend(lender) == OPTCL_BACKEND_OPENCL;

    char *dir = tu_make_tempdir();
    assert_non_null(dir);
    static job seq[JOBS], par[JOBS];
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, JOBS), 0);
    for (int i = 0; i < JOBS; i++) {
        job *pair[2] = {&seq[i], &par[i]};
        for (int p = 0; p < 2; p++) {
            job *j = pair[p];
            memset(j, 0, sizeof *j);
            j->id = i;
            j->kind = i < 2 ? REFERENCE : i < 4 ? OPENCL_OWN : OPENCL_WRAPPED;
            if (!opencl && (j->kind == OPENCL_WRAPPED || !lender))
                j->kind = REFERENCE;
            j->config = job_config(i);
            if (j->kind == OPENCL_WRAPPED) {
                j->shared_ctx = optcl_context_cl_context(lender);
                j->shared_device = optcl_context_cl_device(lender);
            }
            const char *mode = p ? "threads" : "sequential";
            snprintf(j->path, sizeof j->path, "%s/%s-%d.safetensors", dir, mode, i);
            snprintf(j->final_path, sizeof j->final_path, "%s/%s-%d-final.safetensors", dir, mode,
                     i);
            j->start = p ? &start : NULL;
        }
    }

    for (int i = 0; i < JOBS; i++) {
        run_job(&seq[i]);
        if (seq[i].error[0])
            fail_msg("sequential %s", seq[i].error);
    }
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t threads[JOBS];
        for (int i = 0; i < JOBS; i++)
            assert_int_equal(pthread_create(&threads[i], NULL, thread_main, &par[i]), 0);
        for (int i = 0; i < JOBS; i++)
            assert_int_equal(pthread_join(threads[i], NULL), 0);

        for (int i = 0; i < JOBS; i++) {
            if (par[i].error[0])
                fail_msg("threaded %s", par[i].error);
            const job *a = &seq[i], *b = &par[i];
            if (round == 0)
                printf("job %d: %s on %s, %zu state(s), %" PRIu64 " steps\n", i,
                       optcl_algorithm_name(a->config.algorithm), b->device, b->states, b->steps);
            assert_int_equal(a->steps, STEPS);
            assert_int_equal(b->steps, STEPS);
            assert_int_equal(a->states, b->states);
            if (memcmp(a->result, b->result, (1 + a->states) * NUMEL * sizeof(float)) != 0)
                fail_msg("job %d (%s on %s): the threaded run differs from the sequential one", i,
                         optcl_algorithm_name(a->config.algorithm), b->device);
            size_t na = 0, nb = 0;
            unsigned char *fa = slurp(a->final_path, &na), *fb = slurp(b->final_path, &nb);
            if (na != nb || memcmp(fa, fb, na) != 0)
                fail_msg("job %d: the final checkpoints differ", i);
            free(fa);
            free(fb);
        }
    }
    pthread_barrier_destroy(&start);
    tu_remove_tree(dir);
    free(dir);
    assert_int_equal(optcl_context_destroy(lender), OPTCL_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_equal_sequential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
