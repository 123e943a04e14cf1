/* test_faults.c — fault injection (issue 6, item 3), OpenCL objects and steps: every OpenCL
 * call made while creating contexts, parameter sets and optimizers (also around the caller's
 * own cl_context and buffers) and while stepping (Lookahead's first step, its sync, its α
 * search) fails in turn, the n-th for n = 1 … N (fault_walk.h). Each time the status is the
 * failed call's, no OpenCL object leaks (host memory: LeakSanitizer in the ASan build), a
 * failed create can simply be tried again, and a failed step leaves the optimizer as it was or
 * as documented at optcl_optimizer_step. test_faults_files.c walks checkpoints and files. */
#include "fault_walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- creating (or wrapping) a context, a parameter set and an optimizer ---------------------- */

typedef enum create_kind {
    CREATE_ALL,       /* a new context each run: device choice, queue, program builds */
    CREATE_ON_SHARED, /* on one context whose program cache already holds the kernels */
    CREATE_WRAPPED    /* optcl_context_wrap and optcl_params_wrap of the caller's objects */
} create_kind;

typedef struct create_fx {
    create_kind kind;
    optcl_optimizer_config config;
    optcl_context *shared; /* CREATE_ON_SHARED, CREATE_WRAPPED */
    cl_mem user[2];        /* CREATE_WRAPPED: the caller's parameter and gradient buffers */
    fw_fixture f;
    char message[512];
} create_fx;

static optcl_status create_context(create_fx *fx)
{
    const optcl_context *s = fx->shared;
    switch (fx->kind) {
    case CREATE_ALL:
        return optcl_context_create(NULL, &fx->f.ctx, fx->message, sizeof fx->message);
    case CREATE_WRAPPED:
        return optcl_context_wrap(optcl_context_cl_context(s), optcl_context_cl_device(s),
                                  optcl_context_cl_queue(s), &fx->f.ctx, fx->message,
                                  sizeof fx->message);
    default:
        fx->f.ctx = fx->shared;
        return OPTCL_SUCCESS;
    }
}

static optcl_status create_params(create_fx *fx)
{
    if (fx->kind == CREATE_WRAPPED)
        return optcl_params_wrap(fx->f.ctx, fw_specs, FW_NTENSORS, fx->user[0], fx->user[1],
                                 &fx->f.params);
    return optcl_params_create(fx->f.ctx, fw_specs, FW_NTENSORS, &fx->f.params);
}

static void create_setup(void *p)
{
    create_fx *fx = p;
    fx->f = (fw_fixture){0};
    fx->message[0] = '\0';
}

/* Each handle holds rubbish until its create runs: a failed create must set it to NULL. */
static char rubbish;
#define RUBBISH(type) ((type *)(void *)&rubbish)

static optcl_status create_run(void *p)
{
    create_fx *fx = p;
    fx->f = (fw_fixture){.ctx = RUBBISH(optcl_context),
                         .params = RUBBISH(optcl_params),
                         .opt = RUBBISH(optcl_optimizer)};
    optcl_status st = create_context(fx);
    if (st == OPTCL_SUCCESS)
        st = create_params(fx);
    else
        fx->f.params = NULL; /* not reached */
    if (st == OPTCL_SUCCESS)
        st = optcl_optimizer_create(fx->f.params, &fx->config, &fx->f.opt);
    else
        fx->f.opt = NULL;
    return st;
}

/* A failed create leaves no handle and a message, and the next try succeeds: nothing cached or
 * counted on the way is left half-made. The result steps. */
static void create_check(void *p, optcl_status st, const fault_shot *shot)
{
    create_fx *fx = p;
    (void)shot;
    if (st != OPTCL_SUCCESS) {
        assert_true(fx->f.ctx != RUBBISH(optcl_context));
        assert_true(fx->f.params != RUBBISH(optcl_params));
        assert_null(fx->f.opt);
        const char *message = fx->f.ctx ? optcl_context_message(fx->f.ctx) : fx->message;
        assert_true(message[0] != '\0');
    }
    if (!fx->f.ctx)
        TU_OK(create_context(fx), fx->message);
    if (!fx->f.params)
        TU_OK(create_params(fx), optcl_context_message(fx->f.ctx));
    if (!fx->f.opt)
        TU_OK(optcl_optimizer_create(fx->f.params, &fx->config, &fx->f.opt),
              optcl_context_message(fx->f.ctx));
    TU_OK(optcl_optimizer_step(fx->f.opt, 0, NULL, NULL), optcl_optimizer_message(fx->f.opt));
    TU_OK(optcl_context_finish(fx->f.ctx), "finish");
}

static void create_teardown(void *p)
{
    create_fx *fx = p;
    fw_fixture_close(&fx->f, fx->kind != CREATE_ON_SHARED);
}

static void create_walk(create_fx *fx, const char *name)
{
    fw_walk w = {
        name, fx, create_setup, create_run, create_check, create_teardown, FW_ABSORB_CREATE};
    fw_walk_all(&w);
}

/* Every algorithm with the options that change its buffers and kernel arguments. */
static optcl_optimizer_config algorithm_config(optcl_algorithm a)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(a);
    c.sgd.momentum = 0.9;
    c.sgd.nesterov = 1;
    c.adam.amsgrad = a == OPTCL_ADAM;
    c.rmsprop.centered = 1;
    c.rmsprop.momentum = 0.5; /* nesterov, amsgrad, centered: each rule's most buffers */
    return c;
}

static void create_opencl(void **state)
{
    (void)state;
    if (fw_opencl_skipped())
        return;
    /* The whole path once, with Lookahead's second program and kernel. */
    create_fx fx = {.kind = CREATE_ALL, .config = algorithm_config(OPTCL_SGD)};
    fx.config.lookahead.k = 2;
    create_walk(&fx, "create sgd+lookahead");

    /* Each algorithm's buffers and kernel on a context that has built its program. */
    fx = (create_fx){.kind = CREATE_ON_SHARED, .shared = tu_context(OPTCL_BACKEND_OPENCL)};
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
        if (a == OPTCL_MUON)
            continue; /* 2-D tensors only, which fw_specs are not */
        char name[64];
        snprintf(name, sizeof name, "create %s", optcl_algorithm_name((optcl_algorithm)a));
        fx.config = algorithm_config((optcl_algorithm)a);
        create_setup(&fx);
        assert_int_equal(create_run(&fx), OPTCL_SUCCESS); /* builds and caches the program */
        create_teardown(&fx);
        create_walk(&fx, name);
    }
    /* 8-bit state: its table on the device, its buffers' own size */
    fx.config = algorithm_config(OPTCL_ADAM);
    fx.config.state_dtype = OPTCL_STATE_INT8;
    create_setup(&fx);
    assert_int_equal(create_run(&fx), OPTCL_SUCCESS);
    create_teardown(&fx);
    create_walk(&fx, "create adam int8");

    /* The caller's cl_context, queue and buffers. */
    size_t total = 0;
    TU_OK(optcl_params_layout(fx.shared, fw_specs, FW_NTENSORS, NULL, &total), "layout");
    for (int r = 0; r < 2; r++) {
        cl_int err = CL_SUCCESS;
        fx.user[r] = clCreateBuffer(optcl_context_cl_context(fx.shared), CL_MEM_READ_WRITE,
                                    total * sizeof(float), NULL, &err);
        assert_int_equal(err, CL_SUCCESS);
    }
    fx.kind = CREATE_WRAPPED;
    fx.config = algorithm_config(OPTCL_ADAM); /* each wrapped context builds its program */
    create_walk(&fx, "wrap context+params");
    for (int r = 0; r < 2; r++)
        assert_int_equal(clReleaseMemObject(fx.user[r]), CL_SUCCESS);
    assert_int_equal(optcl_context_destroy(fx.shared), OPTCL_SUCCESS);
}

/* ---- a step ---------------------------------------------------------------------------------- */

typedef struct step_fx {
    fw_fixture a;
    char path[512];               /* the state to start from, reloaded before each run */
    fw_snap before, inner, after; /* inner: the update without Lookahead's sync */
    cl_event event;
    long unchanged, partial;
    bool one_group; /* no group can be updated while another is not: no partial step */
    /* a group mixes tensors stepped whole by the per-tensor launch and others: a partial step
     * may leave each of its tensors updated or untouched (split: failed steps that did) */
    bool per_tensor;
    long split;
} step_fx;

static void step_setup(void *p)
{
    step_fx *fx = p;
    TU_OK(optcl_checkpoint_load(fx->a.opt, fx->path), optcl_optimizer_message(fx->a.opt));
    fw_snap now;
    fw_take(&fx->a, &now);
    assert_true(fw_same_snap(&now, &fx->before));
    fx->event = NULL;
}

static optcl_status step_run(void *p)
{
    step_fx *fx = p;
    return optcl_optimizer_step(fx->a.opt, 0, NULL, &fx->event);
}

/* Lookahead's slow weights (if any) are unchanged, or — when the failed step was the first —
 * may hold the parameters: the first step copies them there before its launches, and a first
 * step always does so again. */
static bool slow_kept(const fw_snap *now, const fw_snap *before)
{
    if (!now->slow)
        return true;
    size_t slow = now->roles - 1;
    return fw_same_values(now, before, slow, slow + 1, 0, FW_NUMEL) ||
           (before->steps == 0 && memcmp(now->v[slow], before->v[0], sizeof now->v[0]) == 0);
}

/* Whether the device owns the step count: a guard on OpenCL. */
static bool device_counts(const step_fx *fx)
{
    const optcl_optimizer_config *c = optcl_optimizer_config_get(fx->a.opt);
    bool guarded = c->max_norm > 0.0 || c->nonfinite == OPTCL_NONFINITE_SKIP ||
                   c->loss_scale.mode != OPTCL_LOSS_SCALE_OFF;
    return guarded && optcl_context_backend(fx->a.ctx) == OPTCL_BACKEND_OPENCL;
}

/* A failed step changed nothing, or (a later launch failed after earlier ones were enqueued,
 * see optcl_optimizer_step in host/step.c) counted the step, with each group either updated or
 * untouched — each tensor, with fx->per_tensor — group 0 updated, and no Lookahead sync. A step
 * that succeeded did exactly what it does without faults. */
static void step_check(void *p, optcl_status st, const fault_shot *shot)
{
    step_fx *fx = p;
    fw_snap now;
    fw_take(&fx->a, &now);
    if (!shot)
        fx->after = now;
    if (st == OPTCL_SUCCESS) {
        bool opencl = optcl_context_backend(fx->a.ctx) == OPTCL_BACKEND_OPENCL;
        assert_true((fx->event != NULL) == opencl); /* the reference backend has no events */
        if (fx->event)
            assert_int_equal(clReleaseEvent(fx->event), CL_SUCCESS);
        assert_true(fw_same_snap(&now, &fx->after));
        return;
    }
    assert_null(fx->event);
    assert_true(now.message[0] != '\0');
    assert_memory_equal(now.lr, fx->before.lr, sizeof now.lr);
    assert_memory_equal(&now.plateau, &fx->before.plateau, sizeof now.plateau);
    size_t rule_roles = now.slow ? now.roles - 1 : now.roles;
    assert_true(slow_kept(&now, &fx->before));
    /* Lookahead's α stays that of the last sync; where the device owns the count, it is read
     * from the count, so a partial step (counted, its sync not enqueued) gives its count's */
    bool same_alpha = memcmp(&now.alpha, &fx->before.alpha, sizeof now.alpha) == 0;
    bool count_alpha = device_counts(fx) && now.steps == fx->before.steps + 1 &&
                       memcmp(&now.alpha, &fx->after.alpha, sizeof now.alpha) == 0;
    assert_true(same_alpha || count_alpha);
    if (now.steps == fx->before.steps) {
        assert_true(same_alpha);
        assert_true(fw_same_values(&now, &fx->before, 0, rule_roles, 0, FW_NUMEL));
        /* the loss scale's update was taken back with the count (guard.cl's undo) */
        assert_true(now.scale == fx->before.scale && now.tracker == fx->before.tracker);
        fx->unchanged++;
        return;
    }
    assert_int_equal(now.steps, fx->before.steps + 1);
    assert_true(now.scale == fx->after.scale && now.tracker == fx->after.tracker);
    static const size_t groups[] = {0, FW_GROUP0_END, FW_NUMEL};
    static const size_t tensors[] = {0, FW_GROUP0_END, FW_B_END, FW_NUMEL};
    const size_t *edge = fx->per_tensor ? tensors : groups;
    size_t parts = fx->per_tensor ? 3 : 2, updated_parts = 0;
    for (size_t k = 0; k < parts; k++) {
        size_t begin = edge[k], end = edge[k + 1];
        bool updated = fw_same_values(&now, &fx->inner, 0, rule_roles, begin, end);
        bool untouched = fw_same_values(&now, &fx->before, 0, rule_roles, begin, end);
        if (!(updated || (untouched && begin >= FW_GROUP0_END)))
            fail_msg("step failing at %s: %s %zu is neither updated nor untouched", shot->name,
                     fx->per_tensor ? "tensor" : "group", k);
        updated_parts += updated;
    }
    fx->split += updated_parts > 1 && updated_parts < parts; /* group 1 half updated */
    fx->partial++;
}

/* The update without the sync, from the twin optimizer (no Lookahead, same rule and scalars,
 * same cached program on the same context: the same bits). */
static void inner_update(step_fx *fx, optcl_optimizer_config c)
{
    c.lookahead.k = 0;
    fw_fixture twin;
    fw_fixture_open_on(&twin, fx->a.ctx, &c, fx->a.specs, fx->a.tensors);
    for (uint64_t t = 0; t < fx->before.steps; t++)
        TU_OK(optcl_optimizer_step(twin.opt, 0, NULL, NULL), "twin");
    TU_OK(optcl_params_write(twin.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, fx->before.v[0], FW_NUMEL),
          "twin");
    fw_write_states(&twin, fx->before.v + 1);
    float g[FW_NUMEL];
    TU_OK(optcl_params_read(fx->a.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, FW_NUMEL), "grads");
    TU_OK(optcl_params_write(twin.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, FW_NUMEL), "twin");
    TU_OK(optcl_optimizer_step(twin.opt, 0, NULL, NULL), "twin");
    fw_take(&twin, &fx->inner);
    fw_fixture_close(&twin, false);
}

/* Lookahead's α search evaluates this loss; it fails in turn too, and so do its reads. */
static optcl_status sum_of_squares(void *user, optcl_params *params, double *loss)
{
    (void)user;
    if (fault_user("loss", OPTCL_ERROR_NOT_FOUND))
        return OPTCL_ERROR_NOT_FOUND;
    float x[FW_NUMEL];
    optcl_status st = optcl_params_read(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, x, FW_NUMEL);
    *loss = 0.0;
    for (size_t i = 0; i < FW_NUMEL; i++)
        *loss += (double)x[i] * x[i];
    return st;
}

static void step_walk(step_fx *fx, const optcl_optimizer_config *c, const char *file,
                      const char *name)
{
    tu_path_in(fx->path, sizeof fx->path, file);
    TU_OK(optcl_checkpoint_save(fx->a.opt, fx->path), optcl_optimizer_message(fx->a.opt));
    fw_take(&fx->a, &fx->before);
    inner_update(fx, *c);
    fx->unchanged = fx->partial = fx->split = 0;
    fw_walk w = {name, fx, step_setup, step_run, step_check, fw_no_teardown, ""};
    fw_walk_all(&w);
    print_message("[ FAULTS   ] %-28s %ld failed steps changed nothing, %ld counted a partial "
                  "step\n",
                  "", fx->unchanged, fx->partial);
    /* On OpenCL some failures come before the first launch; the loss only after them. With one
     * group there is no partial step. */
    bool opencl = optcl_context_backend(fx->a.ctx) == OPTCL_BACKEND_OPENCL;
    assert_true((fx->partial > 0) != fx->one_group && (fx->unchanged > 0 || !opencl));
    TU_OK(optcl_checkpoint_load(fx->a.opt, fx->path), "reload");
}

/* The first step copies the slow weights; the second syncs, then with the α search. The
 * reference backend makes no OpenCL call: there only the search's loss can fail. */
static void step_walks(optcl_backend backend)
{
    optcl_optimizer_config c = fw_rich_config();
    step_fx fx = {0};
    fw_fixture_open(&fx.a, tu_context(backend), &c);
    bool opencl = backend == OPTCL_BACKEND_OPENCL;
    if (opencl)
        step_walk(&fx, &c, "step0.safetensors", "step 1 (lookahead init)");
    TU_OK(optcl_optimizer_step(fx.a.opt, 0, NULL, NULL), "step");
    if (opencl)
        step_walk(&fx, &c, "step1.safetensors", "step 2 (lookahead sync)");
    /* A large lr, so that the search's last blend (α = 1) does not give the fast weights back
     * bit for bit: a failed sync must restore them. */
    static const optcl_group_config large[2] = {{0.3, -1.0, 0}, {0.3, 0.0, 0}};
    c.groups = large;
    TU_OK(optcl_optimizer_set_lr(fx.a.opt, -1, 0.3), "lr");
    TU_OK(optcl_optimizer_set_lookahead_search(fx.a.opt, sum_of_squares, NULL, 3), "search");
    step_walk(&fx, &c, "step1.safetensors",
              opencl ? "step 2 (alpha search)" : "step 2 (alpha search, ref.)");
    fw_fixture_close(&fx.a, true);
}

/* With the gradient guard the device counts the step in its reduction; a failure before the
 * first group's launch must take that back (nothing changed), a later one is a partial step. */
static void guarded_step_walks(void)
{
    optcl_optimizer_config c = fw_rich_config();
    c.max_norm = 0.5;
    c.nonfinite = OPTCL_NONFINITE_SKIP;
    step_fx fx = {0};
    fw_fixture_open(&fx.a, tu_context(OPTCL_BACKEND_OPENCL), &c);
    step_walk(&fx, &c, "guard0.safetensors", "guarded step 1 (lookahead init)");
    TU_OK(optcl_optimizer_step(fx.a.opt, 0, NULL, NULL), "step");
    step_walk(&fx, &c, "guard1.safetensors", "guarded step 2 (lookahead sync)");
    fw_fixture_close(&fx.a, true);

    /* One group, no Lookahead: where the update is one work-group (VEC 4 or 16) the update
     * kernel reduces and decides itself, so a failure to enqueue it must leave the count as it
     * was with nothing to take back; elsewhere (VEC 1) the guard launches first, as above. */
    static const optcl_tensor_spec one_group[] = {
        {.name = "w", .ndim = 2, .shape = {5, 7}},
        {.name = "b", .ndim = 1, .shape = {300}},
        {.name = "s", .ndim = 0},
    };
    c.groups = NULL;
    c.group_count = 0;
    c.lookahead.k = 0;
    c.plateau.enabled = 0;
    fw_fixture_open_on(&fx.a, tu_context(OPTCL_BACKEND_OPENCL), &c, one_group, FW_NTENSORS);
    TU_OK(optcl_optimizer_step(fx.a.opt, 0, NULL, NULL), "step");
    bool one_launch = optcl_optimizer_launch_count(fx.a.opt) == 1;
    assert_true(one_launch == (optcl_context_vector_width(fx.a.ctx) > 1));
    fx.one_group = true;
    step_walk(&fx, &c, "guard2.safetensors",
              one_launch ? "guarded step 2 (one launch)" : "guarded step 2 (one group)");
    fw_fixture_close(&fx.a, true);
}

/* The calls that change what the next steps do, with the guard on OpenCL (the device owns the
 * count and holds the steps' scalars; two steps are in flight here): a failure leaves
 * everything as it was, and the steps after it are those of the run without the call; a
 * success, those of the run with it. set_lr writes its rows without waiting for the queue: a
 * failed enqueue of the read that tells the count, or of the flush, is absorbed (the count is
 * read at once; the flush only hurries the read). The others wait for the queue, then write
 * the rows (set_step_count: the device's record, then the rows, whose failure after the record
 * is left to the next step, which rewrites them first). */
typedef struct lr_fx {
    fw_fixture a;
    fw_snap with_call, without_call;
    double lr_before;
    optcl_status (*change)(optcl_optimizer *opt);
    optcl_status (*before)(optcl_optimizer *opt); /* in the setup, unarmed; may be NULL */
    const optcl_optimizer_config *config;         /* NULL: lr_config() */
} lr_fx;

static optcl_status change_lr(optcl_optimizer *opt)
{
    return optcl_optimizer_set_lr(opt, -1, 0.05);
}

static optcl_status change_weight_decay(optcl_optimizer *opt)
{
    return optcl_optimizer_set_option(opt, "weight_decay", 0.3);
}

static optcl_status first_metric(optcl_optimizer *opt)
{
    return optcl_optimizer_report_metric(opt, 1.0);
}

static optcl_status change_plateau(optcl_optimizer *opt) /* patience 0: the lr drops at once */
{
    return optcl_optimizer_report_metric(opt, 2.0);
}

static optcl_status change_step_count(optcl_optimizer *opt) /* the bias corrections change */
{
    return optcl_optimizer_set_step_count(opt, 40);
}

static optcl_status change_mu_product(optcl_optimizer *opt) /* NAdam's */
{
    return optcl_optimizer_set_running_value(opt, 0, "mu_product", 0.5);
}

static const optcl_optimizer_config *lr_config(void)
{
    static optcl_optimizer_config c;
    c = fw_rich_config();
    c.max_norm = 0.5;
    c.nonfinite = OPTCL_NONFINITE_SKIP;
    return &c;
}

static void lr_steps(fw_fixture *f, int n)
{
    for (int t = 0; t < n; t++)
        TU_OK(optcl_optimizer_step(f->opt, 0, NULL, NULL), optcl_optimizer_message(f->opt));
}

static void lr_setup(void *p)
{
    lr_fx *fx = p;
    fw_fixture_open(&fx->a, tu_context(OPTCL_BACKEND_OPENCL),
                    fx->config ? fx->config : lr_config());
    if (fx->before)
        TU_OK(fx->before(fx->a.opt), optcl_optimizer_message(fx->a.opt));
    lr_steps(&fx->a, 2); /* enqueued, not waited for */
}

static optcl_status lr_run(void *p)
{
    lr_fx *fx = p;
    return fx->change(fx->a.opt);
}

static void lr_check(void *p, optcl_status st, const fault_shot *shot)
{
    (void)shot;
    lr_fx *fx = p;
    double lr = 0.0;
    TU_OK(optcl_optimizer_get_lr(fx->a.opt, 0, &lr), "get_lr");
    if (st != OPTCL_SUCCESS) {
        assert_true(optcl_optimizer_message(fx->a.opt)[0] != '\0');
        assert_true(lr == fx->lr_before);
    } else if (fx->change == change_lr) {
        assert_true(lr == 0.05);
    }
    lr_steps(&fx->a, 3);
    fw_snap now;
    fw_take(&fx->a, &now);
    assert_true(fw_same_values(&now, st == OPTCL_SUCCESS ? &fx->with_call : &fx->without_call, 0,
                               now.roles, 0, FW_NUMEL));
}

static void lr_teardown(void *p)
{
    fw_fixture_close(&((lr_fx *)p)->a, true);
}

static void change_walk(const char *name, const optcl_optimizer_config *config,
                        optcl_status (*before)(optcl_optimizer *),
                        optcl_status (*change)(optcl_optimizer *), const char *absorbed)
{
    lr_fx fx = {.change = change, .before = before, .config = config};
    for (int call = 0; call < 2; call++) { /* the runs to compare with, unarmed */
        lr_setup(&fx);
        TU_OK(optcl_optimizer_get_lr(fx.a.opt, 0, &fx.lr_before), "get_lr");
        if (call)
            TU_OK(change(fx.a.opt), optcl_optimizer_message(fx.a.opt));
        lr_steps(&fx.a, 3);
        fw_take(&fx.a, call ? &fx.with_call : &fx.without_call);
        lr_teardown(&fx);
    }
    assert_false(fw_same_values(&fx.with_call, &fx.without_call, 0, 1, 0, FW_NUMEL));
    fw_walk w = {name, &fx, lr_setup, lr_run, lr_check, lr_teardown, absorbed};
    fw_walk_all(&w);
}

static void lr_change_walks(void)
{
    change_walk("guarded set_lr (in flight)", NULL, NULL, change_lr, "clEnqueueReadBuffer clFlush");
    change_walk("guarded set_option (in flight)", NULL, NULL, change_weight_decay, "");
    change_walk("guarded report_metric (in flight)", NULL, first_metric, change_plateau, "");
    change_walk("guarded set_step_count (in flight)", NULL, NULL, change_step_count,
                "clEnqueueWriteBuffer");
    optcl_optimizer_config nadam = optcl_optimizer_config_default(OPTCL_NADAM);
    nadam.max_norm = 0.5;
    nadam.nonfinite = OPTCL_NONFINITE_SKIP;
    change_walk("guarded set_running_value (in flight)", &nadam, NULL, change_mu_product, "");
}

/* With dynamic loss scaling the guard also updates the scale on the device (here every step:
 * growth_interval 1); a failure before the first group's launch must restore scale and
 * tracker with the count. */
static void loss_scaled_step_walks(void)
{
    optcl_optimizer_config c = fw_rich_config();
    c.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
    c.loss_scale.init_scale = 1024.0;
    c.loss_scale.growth_interval = 1;
    step_fx fx = {0};
    fw_fixture_open(&fx.a, tu_context(OPTCL_BACKEND_OPENCL), &c);
    step_walk(&fx, &c, "scaled0.safetensors", "loss-scaled step 1 (lookahead init)");
    TU_OK(optcl_optimizer_step(fx.a.opt, 0, NULL, NULL), "step");
    step_walk(&fx, &c, "scaled1.safetensors", "loss-scaled step 2 (lookahead sync)");
    fw_fixture_close(&fx.a, true);
}

/* Rules that look at whole tensors enqueue several launches per group before the one that
 * steps: Adafactor (factors, means, sums, totals; a matrix's row and column means and the
 * vectors' variance) and Muon (sums, totals, pack, CLBlast's products and copies; the
 * momentum). A failure among them must leave the state as it was — only the group's last
 * launch stores any — plain, and with the guard, whose device-owned count is taken back.
 * whole: OPTCL_WHOLE_TENSORS for the optimizer (NULL: unset, and these small tensors are
 * stepped whole by the per-tensor launch, one launch per group; "never"; or a number of blocks,
 * for a group that mixes both kinds, where each tensor is updated or untouched). */
static void tensorwise_step_walks(optcl_algorithm a, const char *whole)
{
    if (tu_muon_refused(OPTCL_BACKEND_OPENCL, a))
        return; /* a build without CLBlast: test_tensorwise checks the refusal */
    size_t tensors = 0;
    const optcl_tensor_spec *specs = fw_specs_for(a, &tensors);
    for (int guarded = 0; guarded < 2; guarded++) {
        optcl_optimizer_config c = fw_tensorwise_config(a, guarded);
        char name[64];
        snprintf(name, sizeof name, "%s%s step 2%s", guarded ? "guarded " : "",
                 optcl_algorithm_name(a),
                 !whole                   ? ""
                 : strcmp(whole, "never") ? " (mixed)"
                                          : " (none whole)");
        step_fx fx = {.per_tensor = whole && strcmp(whole, "never") != 0};
        if (whole)
            setenv("OPTCL_WHOLE_TENSORS", whole, 1);
        fw_fixture_open_on(&fx.a, tu_context(OPTCL_BACKEND_OPENCL), &c, specs, tensors);
        unsetenv("OPTCL_WHOLE_TENSORS");
        TU_OK(optcl_optimizer_step(fx.a.opt, 0, NULL, NULL), "step");
        /* another gradient: with the same one, step 2's row and column means would equal step
         * 1's (lerp(m, m, w) = m), and a factors launch's stores would go unseen */
        float g[FW_NUMEL];
        fw_fill(g, 21, -1.0f);
        TU_OK(optcl_params_write(fx.a.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, FW_NUMEL), "grads");
        step_walk(&fx, &c, "tensorwise1.safetensors", name);
        if (fx.per_tensor) /* the last launch of group 1 failed after its per-tensor launch */
            assert_true(fx.split > 0);
        fw_fixture_close(&fx.a, true);
    }
}

static void step_opencl(void **state)
{
    (void)state;
    if (fw_opencl_skipped())
        return;
    step_walks(OPTCL_BACKEND_OPENCL);
    guarded_step_walks();
    loss_scaled_step_walks();
    lr_change_walks();
    tensorwise_step_walks(OPTCL_ADAFACTOR, "never"); /* five launches per group */
    tensorwise_step_walks(OPTCL_ADAFACTOR, NULL);    /* every tensor whole: one per group */
    tensorwise_step_walks(OPTCL_MUON, NULL);
    tensorwise_step_walks(OPTCL_LAMB, NULL); /* every tensor stepped whole: one launch per group */
    /* tensors of one block stepped whole (w, s), b's two blocks not: group 1 mixes them */
    tensorwise_step_walks(OPTCL_LAMB, "1");
}

static void step_reference(void **state)
{
    (void)state;
    step_walks(OPTCL_BACKEND_REFERENCE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_opencl),
        cmocka_unit_test(step_opencl),
        cmocka_unit_test(step_reference),
    };
    int failed = cmocka_run_group_tests(tests, tu_group_dir_setup, tu_group_dir_teardown);
    fw_summary();
    return failed;
}
