/* bench.c — `optcl bench`: times optimizer steps against the same-bytes traffic kernel, in one
 * run and alternately, so the ratio says how close a step is to the memory's limit. */
#include "cli.h"
#include "models.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSG 4096
#define MAX_OPTIONS 64
#define MAX_SAMPLES 1000

typedef struct bench_args {
    const char *what, *like, *model, *shapes, *shape;
    size_t n, tensors;
    bool n_given, tensors_given;
    int steps, json, print_layout;
    optcl_backend backend;
    char *options[MAX_OPTIONS];
    int option_count;
} bench_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: optcl bench WHAT [--n N] [--tensors K | --model NAME | --shapes FILE |\n"
            "                  --shape D1,D2,..]\n"
            "                  [--steps S] [--backend opencl|reference] [--json] [--like OPT]\n"
            "                  [KEY=VALUE ...]\n"
            "\n"
            "WHAT        an optimizer with replay's KEY=VALUE options (optcl replay --help):");
    optcl_cli_print_names(f);
    fprintf(f, "            (not replay's tensors=, shape= and trust_ratio_mask=: refused)\n"
               "            'traffic': the same-bytes kernel of --like OPT\n"
               "            (default adam);\n"
               "            'copy': the device's clEnqueueCopyBuffer of n floats (8n bytes moved)\n"
               "--n         parameters in all (default 16777216)\n"
               "--tensors   split them over K named tensors of varied sizes (default 1)\n"
               "--model     a known model's parameter shapes (no weights), tensors of 2 or more\n"
               "            dimensions in group 0 and the rest (biases, norms) in group 1:\n");
    for (size_t i = 0; optcl_cli_model_name(i); i++)
        fprintf(f, "              %-10s %s\n", optcl_cli_model_name(i), optcl_cli_model_source(i));
    fprintf(f,
            "--shapes    one tensor per line, \"[NAME:] D1 [D2 ...]\" (dimensions separated by\n"
            "            spaces, x or commas; () for a scalar; # starts a comment), grouped\n"
            "            like --model\n"
            "--shape     one tensor \"w\" of that shape, e.g. 1024,768 (Muon: a matrix)\n"
            "--steps     timed samples (default 20) after a warm-up; each sample runs enough\n"
            "            steps back to back to move 64 MiB (Muon: to multiply a GFLOP), then\n"
            "            waits for the device\n"
            "--backend   opencl (default; the default device, honouring OPTCL_DEVICE) or\n"
            "            reference (the traffic yardstick is then a host loop)\n"
            "--like      with 'traffic': whose byte pattern to move\n"
            "--json      one JSON object per line\n"
            "--print-layout  print the tensors (\"NAME: D1xD2 # group G\", a --shapes file) and\n"
            "            their count, then exit without measuring (checked as a run is)\n"
            "\n"
            "Prints seconds_per_step (median), bytes_per_step (the rule's minimal traffic),\n"
            "gbytes_per_s, params_per_s and ratio_to_traffic: the traffic kernel's time over the\n"
            "step's, both measured alternately in this run (1.0 = at the memory's limit).\n");
}

/* The value of --n, --tensors or --steps: digits alone (no sign, no space), 1 … the most the
 * option takes (--steps 1000; an element count of 8 bytes must fit in memory's size_t). */
static int parse_count(const char *option, const char *value, unsigned long long *out, char *msg)
{
    unsigned long long most = !strcmp(option, "--steps") ? MAX_SAMPLES : SIZE_MAX / 8;
    char *end = NULL;
    if (optcl_cli_scan_whole(value, &end, most, out) || *end != '\0' || *out == 0)
        return snprintf(msg, MSG, "%s %s: expected a whole number 1 … %llu", option, value, most) >
               0;
    return 0;
}

static int parse(int argc, char **argv, bench_args *a, char *msg)
{
    memset(a, 0, sizeof *a);
    a->n = 16777216;
    a->tensors = 1;
    a->steps = 20;
    a->backend = OPTCL_BACKEND_OPENCL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool takes = !strcmp(arg, "--n") || !strcmp(arg, "--tensors") || !strcmp(arg, "--steps") ||
                     !strcmp(arg, "--backend") || !strcmp(arg, "--like") ||
                     !strcmp(arg, "--model") || !strcmp(arg, "--shapes") ||
                     !strcmp(arg, "--shape");
        if (takes && i + 1 >= argc)
            return snprintf(msg, MSG, "%s needs a value", arg), 1;
        if (!strcmp(arg, "--json")) {
            a->json = 1;
        } else if (!strcmp(arg, "--print-layout")) {
            a->print_layout = 1;
        } else if (takes && !strcmp(arg, "--backend")) {
            const char *v = argv[++i];
            if (strcmp(v, "opencl") && strcmp(v, "reference"))
                return snprintf(msg, MSG, "unknown backend '%s'", v), 1;
            a->backend = strcmp(v, "opencl") ? OPTCL_BACKEND_REFERENCE : OPTCL_BACKEND_OPENCL;
        } else if (takes && !strcmp(arg, "--like")) {
            a->like = argv[++i];
        } else if (takes && !strcmp(arg, "--model")) {
            a->model = argv[++i];
        } else if (takes && !strcmp(arg, "--shapes")) {
            a->shapes = argv[++i];
        } else if (takes && !strcmp(arg, "--shape")) {
            a->shape = argv[++i];
        } else if (takes) {
            unsigned long long x = 0;
            if (parse_count(arg, argv[++i], &x, msg))
                return 1;
            if (!strcmp(arg, "--n"))
                a->n = (size_t)x, a->n_given = true;
            else if (!strcmp(arg, "--tensors"))
                a->tensors = (size_t)x, a->tensors_given = true;
            else
                a->steps = (int)x;
        } else if (arg[0] == '-' && arg[1] == '-') {
            return snprintf(msg, MSG, "unknown option '%s'", arg), 1;
        } else if (!a->what) {
            a->what = arg;
        } else if (a->option_count < MAX_OPTIONS) {
            a->options[a->option_count++] = argv[i];
        } else {
            return snprintf(msg, MSG, "too many KEY=VALUE options"), 1;
        }
    }
    if (!a->what && !a->print_layout)
        return snprintf(msg, MSG, "missing WHAT (an optimizer or 'traffic')"), 1;
    if (!!a->model + !!a->shapes + !!a->shape > 1)
        return snprintf(msg, MSG, "--model, --shapes and --shape each give the layout: pick one"),
               1;
    if ((a->model || a->shapes || a->shape) && (a->n_given || a->tensors_given))
        return snprintf(msg, MSG, "%s with %s: the layout sets the parameter count",
                        a->model ? "--model" : a->shapes ? "--shapes" : "--shape",
                        a->n_given ? "--n" : "--tensors"),
               1;
    if (a->tensors > a->n)
        return snprintf(msg, MSG, "--tensors %zu exceeds --n %zu", a->tensors, a->n), 1;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* What one timed call does: an optimizer step, the traffic kernel, or a buffer copy. */
typedef optcl_status (*step_fn)(void *arg);

static optcl_status do_step(void *opt)
{
    return optcl_optimizer_step(opt, 0, NULL, NULL);
}

static optcl_status do_traffic(void *opt)
{
    return optcl_optimizer_traffic_step(opt);
}

/* `optcl bench copy`: the device's own clEnqueueCopyBuffer from the parameter to the gradient
 * buffer (n floats read and written), the bandwidth vendors quote. */
typedef struct copy_job {
    cl_command_queue queue;
    cl_mem src, dst;
    size_t bytes;
} copy_job;

static optcl_status do_copy(void *arg)
{
    copy_job *c = arg;
    return (optcl_status)clEnqueueCopyBuffer(c->queue, c->src, c->dst, 0, 0, c->bytes, 0, NULL,
                                             NULL);
}

/* One sample: `batch` calls back to back, then wait for the device. */
static double sample(optcl_context *ctx, void *arg, step_fn fn, int batch, optcl_status *st)
{
    double t0 = now();
    for (int b = 0; b < batch && *st == OPTCL_SUCCESS; b++)
        *st = fn(arg);
    if (*st == OPTCL_SUCCESS)
        *st = optcl_context_finish(ctx);
    return (now() - t0) / batch;
}

/* The length of the UTF-8 character at s (1 to 4 bytes), or 0 when none starts there, with
 * *skip the bytes of its longest invalid start (Unicode's "maximal subpart", which takes one
 * U+FFFD): no overlong forms, surrogates or code points past U+10FFFF. s is NUL-terminated, and
 * NUL is never a continuation byte. */
static size_t utf8_length(const unsigned char *s, size_t *skip)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t more;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        more = 2;
        lo = c == 0xE0 ? 0xA0 : lo; /* E0 80–9F: overlong */
        hi = c == 0xED ? 0x9F : hi; /* ED A0–BF: surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        more = 3;
        lo = c == 0xF0 ? 0x90 : lo; /* F0 80–8F: overlong */
        hi = c == 0xF4 ? 0x8F : hi; /* F4 90–BF: past U+10FFFF */
    } else {
        *skip = 1;
        return 0;
    }
    for (size_t i = 1; i <= more; i++, lo = 0x80, hi = 0xBF)
        if (s[i] < lo || s[i] > hi) {
            *skip = i;
            return 0;
        }
    return more + 1;
}

/* text as the inside of a JSON string: quotes and backslashes escaped, control characters (a
 * newline from a file name or a key's value) as \u00XX, and bytes that are not UTF-8 (a file
 * name may hold any) as U+FFFD, so that the line stays valid JSON. */
static void print_json_text(const char *text)
{
    const unsigned char *c = (const unsigned char *)text;
    while (*c) {
        size_t skip = 0, len = utf8_length(c, &skip);
        if (!len)
            printf("\\ufffd");
        else if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20)
            printf("\\u%04x", *c);
        else
            fwrite(c, 1, len, stdout);
        c += len ? len : skip;
    }
}

static void report(const bench_args *a, const char *what, optcl_context *ctx,
                   const optcl_params *params, const optcl_optimizer *opt, const char *layout,
                   double sec, double bytes, double ratio)
{
    size_t n = optcl_params_numel(params), tensors = optcl_params_count(params);
    double gbs = bytes / sec / 1e9, pps = (double)n / sec;
    const char *backend = a->backend == OPTCL_BACKEND_OPENCL ? "opencl" : "reference";
    if (a->json) {
        printf("{\"what\": \"");
        print_json_text(what);
        printf("\", \"backend\": \"%s\", \"device\": \"", backend);
        print_json_text(optcl_context_device_name(ctx));
        printf("\", \"model\": \"");
        print_json_text(layout);
        printf("\", \"n\": %zu, \"tensors\": %zu, \"flat\": %zu, \"steps\": %d, "
               "\"seconds_per_step\": %.9g, \"bytes_per_step\": %.0f, \"gbytes_per_s\": %.4g, "
               "\"params_per_s\": %.4g, \"ratio_to_traffic\": %.4f, \"vector_width\": %u, "
               "\"work_group_size\": %zu, \"param_dtype\": \"%s\", \"state_bytes\": %zu, "
               "\"gflops_per_s\": %.4g}\n",
               n, tensors, optcl_params_flat_size(params), a->steps, sec, bytes, gbs, pps, ratio,
               optcl_context_vector_width(ctx), optcl_context_work_group_size(ctx),
               optcl_dtype_name(optcl_params_dtype(params)), optcl_optimizer_state_bytes(opt),
               optcl_optimizer_flops_per_step(opt) / sec / 1e9);
    } else {
        printf("%-28s %-9s %-12s n=%-10zu tensors=%-5zu %10.3f us/step %8.2f GB/s %8.3f "
               "Gparam/s  ratio_to_traffic %.3f  [%s]\n",
               what, backend, layout, n, tensors, sec * 1e6, gbs, pps / 1e9, ratio,
               optcl_context_device_name(ctx));
    }
}

/* Refuses replay's layout and group keys, which bench would ignore: its layout comes from its
 * own options and its groups from the layout. */
static int refuse_replay_keys(char *const *options, int count, char *msg)
{
    static const char *const replay_only[] = {"tensors", "shape", "trust_ratio_mask"};
    for (size_t k = 0; k < sizeof replay_only / sizeof replay_only[0]; k++)
        if (optcl_cli_option_value(options, count, replay_only[k]))
            return snprintf(msg, MSG,
                            "key '%s' is replay's, not bench's (the layout comes from --n, "
                            "--tensors, --shape, --shapes or --model)",
                            replay_only[k]) > 0;
    return 0;
}

/* The tensors the arguments ask for: a model's, a file's, or n split over K tensors; checked
 * as the parameter set would, so that --print-layout refuses what a run refuses. */
static int make_layout(const bench_args *a, optcl_cli_layout *layout, char *msg)
{
    int rc = a->model    ? optcl_cli_model_layout(a->model, layout, msg, MSG)
             : a->shapes ? optcl_cli_shapes_layout(a->shapes, layout, msg, MSG)
             : a->shape  ? optcl_cli_shape_layout(a->shape, layout, msg, MSG)
                         : optcl_cli_split_layout(a->n, a->tensors, layout, msg, MSG);
    if (!rc && optcl_cli_layout_check(layout, msg, MSG)) {
        optcl_cli_layout_free(layout);
        rc = 1;
    }
    return rc;
}

/* The layout's tensors as a --shapes file would give them, then their count. */
static int print_layout(const bench_args *a)
{
    char msg[MSG] = "";
    optcl_cli_layout layout;
    if (make_layout(a, &layout, msg))
        return fprintf(stderr, "optcl bench: %s\n", msg), 2;
    printf("# %s\n", layout.label);
    for (size_t i = 0; i < layout.count; i++) {
        const optcl_tensor_spec *s = &layout.specs[i];
        printf("%s: ", s->name);
        if (s->ndim == 0)
            printf("()");
        for (int d = 0; d < s->ndim; d++)
            printf("%s%lld", d ? "x" : "", (long long)s->shape[d]);
        printf(" # group %d\n", s->group);
    }
    printf("# %zu tensors, %zu parameters\n", layout.count, layout.numel);
    optcl_cli_layout_free(&layout);
    return 0;
}

int optcl_cli_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    }
    char msg[MSG] = "", label[256];
    bench_args a;
    if (parse(argc, argv, &a, msg))
        return fprintf(stderr, "optcl bench: %s\n", msg), 2;
    if (a.print_layout)
        return print_layout(&a);
    bool traffic_only = !strcmp(a.what, "traffic"), copy_only = !strcmp(a.what, "copy");
    if (copy_only && a.backend != OPTCL_BACKEND_OPENCL)
        return fprintf(stderr, "optcl bench: copy measures an OpenCL device\n"), 2;
    const char *algo_name = traffic_only ? (a.like ? a.like : "adam") : copy_only ? "sgd" : a.what;
    optcl_algorithm algo;
    if (optcl_algorithm_from_name(algo_name, &algo) != OPTCL_SUCCESS)
        return fprintf(stderr, "optcl bench: unknown optimizer '%s' (%s)\n", algo_name,
                       optcl_cli_names(msg, sizeof msg)),
               2;
    optcl_optimizer_config config = optcl_optimizer_config_default(algo);
    if (a.like && !traffic_only)
        return fprintf(stderr, "optcl bench: --like goes with 'traffic'\n"), 2;
    for (int i = 0; i < a.option_count; i++)
        if (optcl_cli_apply_option(&config, a.options[i], msg, MSG))
            return fprintf(stderr, "optcl bench: %s\n", msg), 2;
    if (optcl_cli_check_options(&config, a.options, a.option_count, msg, MSG) ||
        refuse_replay_keys(a.options, a.option_count, msg))
        return fprintf(stderr, "optcl bench: %s\n", msg), 2;
    snprintf(label, sizeof label, "%s%s", traffic_only ? "traffic:" : "",
             copy_only ? "copy" : algo_name);
    for (int i = 0; i < a.option_count; i++)
        snprintf(label + strlen(label), sizeof label - strlen(label), " %s", a.options[i]);

    optcl_cli_layout layout;
    if (make_layout(&a, &layout, msg))
        return fprintf(stderr, "optcl bench: %s\n", msg), 2;
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = a.backend;
    optcl_context *ctx = NULL;
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    optcl_status st = optcl_context_create(&cc, &ctx, msg, MSG);
    optcl_dtype dtype = optcl_cli_param_dtype(a.options, a.option_count);
    if (st == OPTCL_SUCCESS &&
        (st = optcl_params_create_typed(ctx, layout.specs, layout.count, dtype, &params)))
        snprintf(msg, MSG, "%s", optcl_context_message(ctx));
    if (st == OPTCL_SUCCESS && (st = optcl_optimizer_create(params, &config, &opt)))
        snprintf(msg, MSG, "%s", optcl_context_message(ctx));
    bool bad_config = st == OPTCL_ERROR_INVALID_ARGUMENT; /* an option's value the rule refuses */
    double bytes = opt ? optcl_optimizer_bytes_per_step(opt) : 0.0;
    copy_job copy = {NULL, NULL, NULL, 0};
    if (st == OPTCL_SUCCESS && copy_only) {
        copy.queue = optcl_context_cl_queue(ctx);
        optcl_params_buffer(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, &copy.src);
        optcl_params_buffer(params, OPTCL_ROLE_GRADS, OPTCL_ALL, &copy.dst);
        copy.bytes = optcl_params_flat_size(params) * optcl_dtype_size(dtype);
        bytes = 2.0 * (double)copy.bytes;
    }
    void *arg = copy_only ? (void *)&copy : (void *)opt;
    step_fn measured = copy_only ? do_copy : do_traffic;
    int batch = bytes > 0.0 ? (int)(64.0 * 1048576.0 / bytes) : 1;
    double flops = opt ? optcl_optimizer_flops_per_step(opt) : 0.0;
    if (flops > 0.0 && batch > 1e9 / flops) /* Muon: about a GFLOP per sample, not 64 MiB */
        batch = (int)(1e9 / flops);
    batch = batch < 1 ? 1 : batch > 1000 ? 1000 : batch;
    double step_t[MAX_SAMPLES], traffic_t[MAX_SAMPLES];
    /* Warm-up: builds, first touches, clock ramps. Then alternate step and traffic. */
    bool yardstick_only = traffic_only || copy_only;
    for (int w = 0; w < 3 && st == OPTCL_SUCCESS; w++) {
        if (!yardstick_only)
            sample(ctx, opt, do_step, 1, &st);
        if (st == OPTCL_SUCCESS)
            sample(ctx, arg, measured, 1, &st);
    }
    for (int s = 0; s < a.steps && st == OPTCL_SUCCESS; s++) {
        step_t[s] = yardstick_only ? 0.0 : sample(ctx, opt, do_step, batch, &st);
        if (st == OPTCL_SUCCESS)
            traffic_t[s] = sample(ctx, arg, measured, batch, &st);
    }
    if (st != OPTCL_SUCCESS && opt && !*msg)
        snprintf(msg, MSG, "%s", optcl_optimizer_message(opt));
    if (st == OPTCL_SUCCESS) {
        qsort(step_t, (size_t)a.steps, sizeof(double), cmp_double);
        qsort(traffic_t, (size_t)a.steps, sizeof(double), cmp_double);
        double step_med = step_t[a.steps / 2], traffic_med = traffic_t[a.steps / 2];
        if (yardstick_only)
            report(&a, label, ctx, params, opt, layout.label, traffic_med, bytes, 1.0);
        else
            report(&a, label, ctx, params, opt, layout.label, step_med, bytes,
                   traffic_med / step_med);
    }
    optcl_optimizer_destroy(opt);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
    optcl_cli_layout_free(&layout);
    if (bad_config)
        return fprintf(stderr, "optcl bench: %s\n", msg), 2;
    if (st != OPTCL_SUCCESS)
        return fprintf(stderr, "optcl bench: %s: %s\n", optcl_status_name(st), msg), 1;
    return 0;
}
