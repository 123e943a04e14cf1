/* replay.c — `optcl replay`: runs an optimizer over the gradients of a .npy file, the same way
 * PyTorch would step, and writes the parameters after every step; optionally with a schedule,
 * ReduceLROnPlateau fed from a metrics file, Lookahead, and checkpoints to stop and resume.
 * Any bad input: one line on stderr, a non-zero exit, and every output file as it was. */
#include "cli.h"
#include "replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG OPTCL_REPLAY_MSG
#define MAX_OPTIONS OPTCL_REPLAY_MAX_OPTIONS

static void usage(FILE *f)
{
    fprintf(f,
            "usage: optcl replay OPTIMIZER --params P0.npy --grads G.npy --out OUT.npy\n"
            "                    [--backend opencl|reference] [--metrics M.npy]\n"
            "                    [--save-state FILE] [--load-state FILE] [--distributed]\n"
            "                    [--scale-out FILE] [--out-eval FILE]\n"
            "                    [KEY=VALUE ...]\n"
            "\n"
            "OPTIMIZER   one of:");
    optcl_cli_print_names(f);
    fprintf(f,
            "P0.npy      float32, shape (N,): the initial parameters (may be omitted with\n"
            "            --load-state)\n"
            "G.npy       float32, shape (T, N): row t is the gradient of step t\n"
            "OUT.npy     float32, shape (T, N): row t is the parameters after step t (after the\n"
            "            Lookahead sync on sync steps); written only when everything succeeded\n"
            "            (a failure leaves every output file as it was, but for a failed\n"
            "            rename, after which those renamed before it stay; outputs must differ)\n"
            "--backend   opencl (default; the default device, honouring OPTCL_DEVICE) or "
            "reference\n"
            "--metrics   float32, shape (T,): M[t] is reported to ReduceLROnPlateau after step t\n"
            "            (needed with schedule=plateau, refused otherwise)\n"
            "--save-state  write a checkpoint (safetensors) after the last step; it replaces\n"
            "            FILE after OUT (and the other outputs) do: never without them\n"
            "--load-state  start from a checkpoint; KEY=VALUE given too must agree with it\n"
            "--distributed under mpirun -np K: the optimizer state is sharded across the K\n"
            "            ranks, every rank feeds G[t] as its gradient, rank 0 writes OUT; the\n"
            "            checkpoint files are sharded ones (optcl_mpi_checkpoint_save); lamb,\n"
            "            lars, adafactor and muon keep each tensor whole on one rank\n"
            "--out-eval    float32, shape (T, N): row t is the parameters after step t as eval\n"
            "            mode has them (Schedule-Free's x; OUT holds y), read without switching\n"
            "--scale-out   float32, shape (T, 3): after step t, the loss scale the next step\n"
            "            uses, the growth tracker and the steps skipped so far\n"
            "KEY=VALUE   PyTorch's constructor names and defaults:\n"
            "  all       lr maximize (0/1), weight_decay (not rprop)\n");
    optcl_cli_print_keys(f);
    fprintf(
        f, "  schedule  schedule=constant|inverse_time|exponential|step|multistep|cosine with\n"
           "            power gamma step_size milestones=a,b,.. t_max eta_min, and\n"
           "            warmup_steps warmup_start_factor in front of any of them; the lr of\n"
           "            step t = 0, 1, .. is lr/(1+t)^power, lr*gamma^t,\n"
           "            lr*gamma^floor(t/step_size), eta_min+(lr-eta_min)(1+cos(pi t/t_max))/2\n"
           "  plateau   schedule=plateau mode=min|max factor patience threshold\n"
           "            threshold_mode=rel|abs cooldown min_lr\n"
           "  layout    tensors=4x5,12,5 (the N parameters as several tensors, dims joined by\n"
           "            x; LAMB, LARS, Adafactor and Muon take norms per tensor,\n"
           "            Adafactor factors tensors of 2+ dims, Muon takes 2-D ones only)\n"
           "            or shape=R,C (one tensor);\n"
           "            --load-state takes the checkpoint's unless given;\n"
           "            trust_ratio_mask=0 leaves the group out of LAMB's/LARS's trust ratio\n"
           "            (--load-state: the checkpoint's; given, it must agree)\n"
           "  lookahead lookahead_k lookahead_alpha\n"
           "  guard     clip_norm (torch.nn.utils.clip_grad_norm_ before each step)\n"
           "            nonfinite=propagate|skip (skip: a NaN/Inf gradient skips the step)\n"
           "  precision param_dtype=f32|bf16|f16 (the parameters' and gradients' type: P0 and\n"
           "            G are rounded to it when loaded, OUT holds the parameters widened)\n"
           "            state_dtype=same|f32|bf16|int8 (the state buffers' type; same: the\n"
           "            parameters'; bf16: half the state memory and traffic; int8:\n"
           "            bitsandbytes' block-wise 8-bit state, for sgd, adam, adamw, rmsprop,\n"
           "            lion, adagrad, adadelta, adamax, nadam and radam); every step\n"
           "            computes in float32 and rounds what it stores to nearest even;\n"
           "            --load-state takes the checkpoint's param_dtype unless given\n"
           "            master_weights=0|1 (bf16/f16 parameters: a float32 master copy is\n"
           "            stepped, the parameters get it rounded) rounding=nearest|stochastic\n"
           "            (stochastic: bf16 parameters, draws from seed=S)\n"
           "  scaling   grad_scale=S or loss_scale=static init_scale=S (G holds gradients\n"
           "            times S; each step divides by S) or\n"
           "            loss_scale=dynamic (G holds unscaled gradients, multiplied by the current\n"
           "            scale in the gradients' type before each step; GradScaler's init_scale\n"
           "            65536 growth_factor 2 backoff_factor 0.5 growth_interval 2000);\n"
           "            write_unscaled=1 stores the unscaled gradient back; a step whose\n"
           "            gradient holds NaN/Inf is skipped\n");
}

/* Prints "optcl replay: <text>" as one line (newlines in library messages are folded). */
static int fail(const char *text)
{
    fputs("optcl replay: ", stderr);
    for (const char *c = text; *c; c++)
        fputc(*c == '\n' || *c == '\r' ? ' ' : *c, stderr);
    fputc('\n', stderr);
    return 1;
}

static int parse_args(int argc, char **argv, replay_args *a, char *msg)
{
    memset(a, 0, sizeof *a);
    a->backend = OPTCL_BACKEND_OPENCL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = !strcmp(arg, "--params")       ? &a->params
                            : !strcmp(arg, "--grads")      ? &a->grads
                            : !strcmp(arg, "--out")        ? &a->out
                            : !strcmp(arg, "--metrics")    ? &a->metrics
                            : !strcmp(arg, "--save-state") ? &a->save_state
                            : !strcmp(arg, "--load-state") ? &a->load_state
                            : !strcmp(arg, "--scale-out")  ? &a->scale_out
                            : !strcmp(arg, "--out-eval")   ? &a->out_eval
                                                           : NULL;
        if (slot || !strcmp(arg, "--backend")) {
            if (i + 1 >= argc)
                return snprintf(msg, MSG, "%s needs a value", arg), 1;
            const char *v = argv[++i];
            if (slot)
                *slot = v;
            else if (!strcmp(v, "opencl"))
                a->backend = OPTCL_BACKEND_OPENCL;
            else if (!strcmp(v, "reference"))
                a->backend = OPTCL_BACKEND_REFERENCE;
            else
                return snprintf(msg, MSG, "unknown backend '%s' (opencl or reference)", v), 1;
        } else if (!strcmp(arg, "--distributed")) {
            a->distributed = 1;
        } else if (arg[0] == '-' && arg[1] == '-') {
            return snprintf(msg, MSG, "unknown option '%s'", arg), 1;
        } else if (!a->optimizer && !strchr(arg, '=')) {
            a->optimizer = arg;
        } else if (a->option_count < MAX_OPTIONS) {
            a->options[a->option_count++] = argv[i];
        } else {
            return snprintf(msg, MSG, "too many KEY=VALUE options"), 1;
        }
    }
    if (!a->optimizer)
        return snprintf(msg, MSG, "missing OPTIMIZER (optcl replay --help lists them)"), 1;
    if ((!a->params && !a->load_state) || !a->grads || !a->out)
        return snprintf(msg, MSG, "missing %s",
                        !a->grads ? "--grads"
                        : !a->out ? "--out"
                                  : "--params"),
               1;
    return 0;
}

/* The configuration: PyTorch's defaults and the keys, or — resuming — the checkpoint's, which
 * the keys given must agree with. */
static int make_config(const replay_args *a, const optcl_optimizer_config *saved,
                       optcl_optimizer_config *config, char *msg)
{
    optcl_algorithm algo;
    char names[512];
    if (optcl_algorithm_from_name(a->optimizer, &algo) != OPTCL_SUCCESS)
        return snprintf(msg, MSG, "unknown optimizer '%s' (%s)", a->optimizer,
                        optcl_cli_names(names, sizeof names)),
               1;
    if (saved && saved->algorithm != algo)
        return snprintf(msg, MSG, "%s holds the state of %s, not of %s", a->load_state,
                        optcl_algorithm_name(saved->algorithm), a->optimizer),
               1;
    *config = saved ? *saved : optcl_optimizer_config_default(algo);
    for (int i = 0; i < a->option_count; i++) {
        optcl_optimizer_config before;
        memcpy(&before, config, sizeof before); /* padding too: compared bytewise below */
        if (optcl_cli_apply_option(config, a->options[i], msg, MSG))
            return 1;
        if (saved && memcmp(&before, config, sizeof before) != 0)
            return snprintf(msg, MSG, "%s differs from the configuration saved in %s",
                            a->options[i], a->load_state),
                   1;
    }
    return optcl_cli_check_options(config, a->options, a->option_count, msg, MSG);
}

/* Resuming, trust_ratio_mask given must agree with the checkpoint's group (which the library
 * would restore silently): saved_mask is its value there. */
static int check_group(const replay_args *a, int saved_mask, char *msg)
{
    for (int i = 0; i < a->option_count; i++) {
        const char *key = "trust_ratio_mask=", *option = a->options[i];
        if (strncmp(option, key, strlen(key)) == 0 && atoi(option + strlen(key)) != saved_mask)
            return snprintf(msg, MSG,
                            "%s differs from the configuration saved in %s "
                            "(trust_ratio_mask=%d)",
                            option, a->load_state, saved_mask) > 0;
    }
    return 0;
}

static int check_inputs(const replay_args *a, const optcl_optimizer_config *config, size_t n,
                        const optcl_array *p0, const optcl_array *g, const optcl_array *m,
                        char *msg)
{
    if (p0->data && (p0->ndim != 1 || p0->shape[0] == 0))
        return snprintf(msg, MSG, "%s: expected shape (N,) with N >= 1, got %d dimension(s)%s",
                        a->params, p0->ndim, p0->ndim == 1 ? " with N = 0" : ""),
               1;
    if (p0->data && p0->shape[0] != n)
        return snprintf(msg, MSG, "%s has N = %zu but %s has N = %zu", a->params, p0->shape[0],
                        a->load_state, n),
               1;
    if (g->ndim != 2)
        return snprintf(msg, MSG, "%s: expected shape (T, N), got %d dimension(s)", a->grads,
                        g->ndim),
               1;
    if (g->shape[1] != n)
        return snprintf(msg, MSG, "%s has N = %zu per row but %s has N = %zu", a->grads,
                        g->shape[1], a->params ? a->params : a->load_state, n),
               1;
    if (config->plateau.enabled && !a->metrics)
        return snprintf(msg, MSG, "schedule=plateau needs --metrics M.npy"), 1;
    if (!config->plateau.enabled && a->metrics)
        return snprintf(msg, MSG, "--metrics is only used with schedule=plateau"), 1;
    if (m->data && (m->ndim != 1 || m->shape[0] != g->shape[0]))
        return snprintf(msg, MSG,
                        "%s: expected shape (%zu,) to match the %zu steps of %s, got "
                        "%d dimension(s) of %zu values",
                        a->metrics, g->shape[0], g->shape[0], a->grads, m->ndim, m->count),
               1;
    return 0;
}

optcl_status optcl_cli_write_gradient(optcl_params *params, const optcl_optimizer_config *config,
                                      double scale, const float *row, float *scratch, size_t n)
{
    optcl_status st = optcl_params_write(params, OPTCL_ROLE_GRADS, OPTCL_ALL, row, n);
    if (config->loss_scale.mode != OPTCL_LOSS_SCALE_DYNAMIC)
        return st;
    if (st == OPTCL_SUCCESS) /* rounded to the gradients' type, multiplied, rounded again */
        st = optcl_params_read(params, OPTCL_ROLE_GRADS, OPTCL_ALL, scratch, n);
    for (size_t i = 0; st == OPTCL_SUCCESS && i < n; i++)
        scratch[i] = scratch[i] * (float)scale;
    if (st == OPTCL_SUCCESS)
        st = optcl_params_write(params, OPTCL_ROLE_GRADS, OPTCL_ALL, scratch, n);
    return st;
}

/* G row t into the gradients, with dynamic loss scaling times the scale this step uses. */
static optcl_status write_gradient(optcl_params *params, optcl_optimizer *opt,
                                   const optcl_optimizer_config *config, const float *row,
                                   float *scratch, size_t n)
{
    double scale = 1.0;
    optcl_status st = OPTCL_SUCCESS;
    if (config->loss_scale.mode == OPTCL_LOSS_SCALE_DYNAMIC)
        st = optcl_optimizer_loss_scale(opt, &scale);
    return st == OPTCL_SUCCESS ? optcl_cli_write_gradient(params, config, scale, row, scratch, n)
                               : st;
}

/* The row of --scale-out after a step: the scale the next step uses, the tracker, skipped. */
static optcl_status scale_row(optcl_optimizer *opt, float *row)
{
    optcl_guard_stats gs;
    optcl_status st = optcl_optimizer_guard_stats(opt, &gs);
    row[0] = (float)gs.loss_scale;
    row[1] = (float)gs.growth_tracker;
    row[2] = (float)gs.skipped;
    return st;
}

/* What a replay writes: the parameters after each step (T×N), and with --scale-out the
 * scaler's trace (T×3), with --out-eval the eval-mode parameters (T×N); with --save-state the
 * checkpoint, to a temporary file (state, NULL without) that becomes it once all are written. */
typedef struct replay_rows {
    float *out, *trace, *eval;
    const char *state;
} replay_rows;

/* Runs the replay into rows, from p0 or from the checkpoint (saved_specs: its tensors, which
 * are the layout unless tensors= or shape= is given). */
static int run(const replay_args *a, const optcl_optimizer_config *config, const optcl_array *p0,
               const optcl_array *g, const optcl_array *m, const optcl_tensor_spec *saved_specs,
               size_t saved_count, const replay_rows *rows, char *msg)
{
    float *out = rows->out, *trace = rows->trace;
    size_t n = g->shape[1], steps = g->shape[0];
    float *scratch = malloc((n ? n : 1) * sizeof *scratch); /* write_gradient's */
    if (!scratch)
        return snprintf(msg, MSG, "out of memory for %zu gradient values", n) > 0;
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = a->backend;
    optcl_context *ctx = NULL;
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    if (optcl_context_create(&cc, &ctx, msg, MSG) != OPTCL_SUCCESS) {
        free(scratch);
        return 1;
    }
    optcl_tensor_spec *made = NULL; /* the layout of tensors=, shape= or N */
    const optcl_tensor_spec *specs = saved_specs;
    size_t spec_count = saved_count;
    if (!a->load_state || optcl_cli_layout_given(a->options, a->option_count)) {
        if (optcl_cli_tensor_specs(a->options, a->option_count, n, &made, &spec_count, msg, MSG)) {
            free(scratch);
            optcl_context_destroy(ctx);
            return 1;
        }
        specs = made;
    }
    optcl_group_config group;
    optcl_optimizer_config grouped = optcl_cli_grouped(a->options, a->option_count, config, &group);
    /* the parameters' type: param_dtype=, or resuming, the checkpoint's */
    optcl_dtype dtype = optcl_cli_param_dtype(a->options, a->option_count);
    optcl_status st = OPTCL_SUCCESS;
    if (a->load_state && !optcl_cli_option_value(a->options, a->option_count, "param_dtype"))
        st = optcl_checkpoint_param_dtype(a->load_state, &dtype, msg, MSG);
    if (st != OPTCL_SUCCESS) {
        free(made);
        free(scratch);
        optcl_context_destroy(ctx);
        return 1;
    }
    st = optcl_params_create_typed(ctx, specs, spec_count, dtype, &params);
    free(made);
    if (st == OPTCL_SUCCESS && p0->data)
        st = optcl_params_write(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0->data, n);
    if (st == OPTCL_SUCCESS)
        st = optcl_optimizer_create(params, &grouped, &opt);
    if (st == OPTCL_SUCCESS && a->load_state)
        st = optcl_checkpoint_load(opt, a->load_state);
    if (st == OPTCL_SUCCESS && rows->eval) /* no eval mode: refused before the steps (T may be 0) */
        st = optcl_optimizer_read_params_in_mode(opt, OPTCL_MODE_EVAL, OPTCL_ALL, scratch, n);
    for (size_t t = 0; t < steps && st == OPTCL_SUCCESS; t++) {
        st = write_gradient(params, opt, config, g->data + t * n, scratch, n);
        if (st == OPTCL_SUCCESS)
            st = optcl_optimizer_step(opt, 0, NULL, NULL);
        if (st == OPTCL_SUCCESS && trace)
            st = scale_row(opt, trace + 3 * t);
        if (st == OPTCL_SUCCESS)
            st = optcl_params_read(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, out + t * n, n);
        if (st == OPTCL_SUCCESS && rows->eval)
            st = optcl_optimizer_read_params_in_mode(opt, OPTCL_MODE_EVAL, OPTCL_ALL,
                                                     rows->eval + t * n, n);
        if (st == OPTCL_SUCCESS && m->data)
            st = optcl_optimizer_report_metric(opt, m->data[t]);
    }
    if (st == OPTCL_SUCCESS && rows->state)
        st = optcl_checkpoint_save(opt, rows->state);
    if (st != OPTCL_SUCCESS) {
        const char *detail = opt && *optcl_optimizer_message(opt) ? optcl_optimizer_message(opt)
                             : params && *optcl_params_message(params)
                                 ? optcl_params_message(params)
                                 : optcl_context_message(ctx);
        snprintf(msg, MSG, "%s: %s", optcl_status_name(st), detail);
    }
    free(scratch);
    optcl_optimizer_destroy(opt);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
    return st != OPTCL_SUCCESS;
}

/* With --load-state, N, the configuration and the tensors (*specs, *count: the caller frees
 * them) come from the checkpoint. */
static int inspect_state(const replay_args *a, size_t *n, optcl_optimizer_config *saved,
                         optcl_tensor_spec **specs, size_t *count, char *msg)
{
    if (optcl_cli_is_manifest(a->load_state)) /* not "not a safetensors file" */
        return snprintf(msg, MSG,
                        "%s is a sharded checkpoint (the manifest --distributed --save-state "
                        "writes): resume it with --distributed under mpirun",
                        a->load_state) > 0;
    if (optcl_checkpoint_inspect(a->load_state, specs, count, saved, msg, MSG) != OPTCL_SUCCESS)
        return 1;
    /* replay's tensors: "param", or "param.0", "param.1", … (tensors=) */
    int bad = *count == 0;
    *n = 0;
    for (size_t i = 0; i < *count && !bad; i++) {
        size_t numel = 1;
        for (int d = 0; d < (*specs)[i].ndim; d++)
            numel *= (size_t)(*specs)[i].shape[d];
        *n += numel;
        bad = strncmp((*specs)[i].name, "param", 5) != 0;
    }
    if (bad)
        snprintf(msg, MSG,
                 "%s was not written by optcl replay (expected tensors named 'param', or "
                 "'param.0', 'param.1', ...)",
                 a->load_state);
    return bad;
}

/* The files a replay writes, in the order they replace the old ones: the checkpoint last. */
enum { OUTPUT_ROWS, OUTPUT_TRACE, OUTPUT_EVAL, OUTPUT_STATE, OUTPUT_COUNT };

static void outputs_of(const replay_args *a, replay_output *outs)
{
    outs[OUTPUT_ROWS] = (replay_output){"--out", a->out, {0}};
    outs[OUTPUT_TRACE] = (replay_output){"--scale-out", a->scale_out, {0}};
    outs[OUTPUT_EVAL] = (replay_output){"--out-eval", a->out_eval, {0}};
    outs[OUTPUT_STATE] = (replay_output){"--save-state", a->save_state, {0}};
}

/* The temporary files of the first count outputs asked for: made before the steps, so that a
 * folder that is missing or not writable fails the run before it starts. */
static int make_temps(replay_output *outs, size_t count, char *msg)
{
    for (size_t i = 0; i < count; i++)
        if (outs[i].path && optcl_cli_output_temp(&outs[i], msg))
            return 1;
    return 0;
}

/* rows (rows × columns of shape) into the output's temporary file, when it is asked for. */
static int write_rows(replay_output *o, const float *rows, const size_t *shape, char *msg)
{
    return o->tmp.tmp_path &&
           (optcl_npy_write(o->tmp.tmp_path, rows, shape, 2, msg, MSG) != OPTCL_SUCCESS ||
            optcl_cli_output_written(o, msg));
}

int optcl_cli_replay(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    }
    char msg[MSG] = "";
    int distributed = 0, rank = 0;
    for (int i = 1; i < argc; i++)
        distributed |= !strcmp(argv[i], "--distributed");
    if (distributed && optcl_cli_mpi_start(&argc, &argv, &rank, msg))
        return fail(msg);
    replay_args a;
    optcl_optimizer_config config, saved;
    optcl_array p0 = {0}, g = {0}, m = {0};
    size_t n = 0, saved_count = 0;
    optcl_tensor_spec *saved_specs = NULL; /* the checkpoint's tensors (not --distributed) */
    replay_output outs[OUTPUT_COUNT];
    int rc = parse_args(argc, argv, &a, msg);
    outputs_of(&a, outs);
    if (!rc)
        rc = optcl_cli_outputs_check(outs, OUTPUT_COUNT, msg);
    if (!rc && a.load_state)
        rc = distributed ? optcl_cli_replay_inspect_sharded(&a, &n, &saved, msg)
                         : inspect_state(&a, &n, &saved, &saved_specs, &saved_count, msg);
    if (!rc)
        rc = make_config(&a, a.load_state ? &saved : NULL, &config, msg);
    int saved_mask = 1;
    if (!rc && a.load_state)
        rc = optcl_cli_saved_trust_ratio_mask(a.load_state, &saved_mask, msg, MSG) ||
             check_group(&a, saved_mask, msg);
    if (!rc && a.params)
        rc = optcl_npy_read(a.params, &p0, msg, MSG) != OPTCL_SUCCESS;
    if (!rc && a.params && !a.load_state)
        n = p0.ndim == 1 ? p0.shape[0] : 0;
    if (!rc)
        rc = optcl_npy_read(a.grads, &g, msg, MSG) != OPTCL_SUCCESS;
    if (!rc && a.metrics)
        rc = optcl_npy_read(a.metrics, &m, msg, MSG) != OPTCL_SUCCESS;
    if (!rc)
        rc = check_inputs(&a, &config, n, &p0, &g, &m, msg);
    if (!rc && (a.scale_out || a.out_eval) && distributed)
        rc = snprintf(msg, MSG, "%s is not available with --distributed",
                      a.scale_out ? "--scale-out" : "--out-eval") > 0;
    float *out = NULL, *trace = NULL, *eval = NULL;
    if (!rc) {
        size_t count = g.shape[0] * n;
        out = malloc((count ? count : 1) * sizeof *out);
        trace = a.scale_out ? malloc((g.shape[0] ? g.shape[0] : 1) * 3 * sizeof *trace) : NULL;
        eval = a.out_eval ? malloc((count ? count : 1) * sizeof *eval) : NULL;
        if (!out || (a.scale_out && !trace) || (a.out_eval && !eval))
            rc = snprintf(msg, MSG, "out of memory for %zu output values", count) > 0;
    }
    if (!rc && rank == 0) /* the sharded checkpoint is its own files: no temporary one */
        rc = make_temps(outs, distributed ? OUTPUT_STATE : OUTPUT_COUNT, msg);
    int speak = 1;
    if (distributed) /* nobody starts the collective run unless every rank got this far */
        rc = optcl_cli_mpi_agree(rc, &speak);
    if (!rc && distributed) {
        /* A failure there fails every rank: only the lowest one prints. */
        rc = optcl_cli_replay_sharded(&a, &config, &p0, &g, &m, out,
                                      rank == 0 ? &outs[OUTPUT_ROWS] : NULL, msg);
        rc = optcl_cli_mpi_agree(rc, &speak);
    } else if (!rc) {
        replay_rows rows = {out, trace, eval, outs[OUTPUT_STATE].tmp.tmp_path};
        size_t shape[2] = {g.shape[0], n}, trace_shape[2] = {g.shape[0], 3};
        rc = run(&a, &config, &p0, &g, &m, saved_specs, saved_count, &rows, msg) ||
             (rows.state && optcl_cli_output_written(&outs[OUTPUT_STATE], msg)) ||
             write_rows(&outs[OUTPUT_ROWS], out, shape, msg) ||
             write_rows(&outs[OUTPUT_TRACE], trace, trace_shape, msg) ||
             write_rows(&outs[OUTPUT_EVAL], eval, shape, msg);
    }
    int committing = !rc;
    if (committing && rank == 0) /* every file is written: now they replace the old ones */
        rc = optcl_cli_outputs_commit(outs, OUTPUT_COUNT, msg);
    if (committing && distributed) /* rank 0's renames decide every rank's exit; it says why */
        rc = optcl_cli_mpi_agree(rc, &speak);
    optcl_cli_outputs_discard(outs, OUTPUT_COUNT);
    free(out);
    free(trace);
    free(eval);
    free(saved_specs);
    optcl_array_free(&p0);
    optcl_array_free(&g);
    optcl_array_free(&m);
    if (rc && speak)
        fail(msg);
    if (distributed) /* after the message: mpirun stops every rank once one exits with 1 */
        optcl_cli_mpi_finish();
    return rc ? 1 : 0;
}
