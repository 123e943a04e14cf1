/* optimizer_args.c — an optimizer from its name and KEY=VALUE options, its title and legend
 * texts, and the range check on the reference backend. */
#include "optimizer_args.h"

#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Appends to out[size] at *at, never past the end. */
static void append(char *out, size_t size, size_t *at, const char *format, ...)
{
    if (*at >= size)
        return;
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(out + *at, size - *at, format, ap);
    va_end(ap);
    *at = n < 0 ? size : *at + (size_t)n;
}

static void unknown_name(const char *name, char *message, size_t message_size)
{
    size_t at = 0;
    append(message, message_size, &at, "unknown optimizer '%s'; expected one of", name);
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++)
        append(message, message_size, &at, "%s %s", a ? "," : "",
               optcl_algorithm_name((optcl_algorithm)a));
}

static size_t key_length(const char *option)
{
    return strcspn(option, "=");
}

/* Whether options[i]'s key comes again later (then that later one counts). */
static int repeated_later(char *const *options, int count, int i)
{
    size_t len = key_length(options[i]);
    for (int j = i + 1; j < count; j++)
        if (key_length(options[j]) == len && !strncmp(options[i], options[j], len))
            return 1;
    return 0;
}

static int own_key(optcl_algorithm a, const char *option)
{
    size_t len = key_length(option);
    for (size_t k = 0; k < optcl_algorithm_option_count(a); k++) {
        const char *key = optcl_algorithm_option(a, k)->key;
        if (strlen(key) == len && !strncmp(key, option, len))
            return 1;
    }
    return 0;
}

static void make_text(fm_optimizer_args *args, const char *name, char *const *options, int count)
{
    size_t at = 0;
    int lr_given = 0;
    append(args->text, sizeof args->text, &at, "%s", name);
    for (int i = 0; i < count; i++) {
        append(args->text, sizeof args->text, &at, " %s", options[i]);
        lr_given |= !strncmp(options[i], "lr=", 3);
    }
    if (!lr_given)
        append(args->text, sizeof args->text, &at, " lr=%g", args->config.lr);
}

static void make_legend(fm_optimizer_args *args, char *const *options, int count)
{
    const optcl_optimizer_config *c = &args->config;
    size_t at = 0, size = sizeof args->legend;
    append(args->legend, size, &at, "lr=%g", c->lr);
    for (size_t k = 0; k < optcl_algorithm_option_count(c->algorithm); k++) {
        const optcl_option_info *o = optcl_algorithm_option(c->algorithm, k);
        double v = o->default_value;
        optcl_optimizer_config_get_option(c, o->key, &v);
        if (v == o->default_value)
            continue;
        if (o->type == OPTCL_OPTION_CHOICE)
            append(args->legend, size, &at, " %s=%s", o->key, o->choices[(int)v]);
        else
            append(args->legend, size, &at, " %s=%g", o->key, v);
    }
    for (int i = 0; i < count; i++)
        if (strncmp(options[i], "lr=", 3) && !own_key(c->algorithm, options[i]) &&
            !repeated_later(options, count, i))
            append(args->legend, size, &at, " %s", options[i]);
}

int fm_optimizer_args_parse(const char *name, char *const *options, int count,
                            fm_optimizer_args *args, char *message, size_t message_size)
{
    optcl_algorithm algorithm;
    if (optcl_algorithm_from_name(name, &algorithm) != OPTCL_SUCCESS) {
        unknown_name(name, message, message_size);
        return 1;
    }
    memset(args, 0, sizeof *args);
    args->config = optcl_optimizer_config_default(algorithm);
    int t_max_given = 0;
    for (int i = 0; i < count; i++) {
        if (optcl_cli_apply_option(&args->config, options[i], message, message_size))
            return 1;
        t_max_given |= !strncmp(options[i], "t_max=", 6);
    }
    if (optcl_cli_check_options(&args->config, options, count, message, message_size))
        return 1;
    args->param_dtype = optcl_cli_param_dtype(options, count);
    if (args->config.schedule.kind == OPTCL_SCHEDULE_COSINE && !t_max_given)
        args->config.schedule.t_max = 0; /* fm_train: the run's number of steps */
    make_text(args, name, options, count);
    make_legend(args, options, count);
    return 0;
}

int fm_optimizer_args_check(const fm_optimizer_args *args, char *message, size_t message_size)
{
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = OPTCL_BACKEND_REFERENCE;
    cc.ignore_environment = 1;
    optcl_context *ctx = NULL;
    if (optcl_context_create(&cc, &ctx, message, message_size) != OPTCL_SUCCESS)
        return 1;
    /* fm_train's layout in small: weights in group 0, biases in group 1 without decay */
    const optcl_tensor_spec specs[2] = {{.name = "w", .ndim = 2, .shape = {8, 8}, .group = 0},
                                        {.name = "b", .ndim = 1, .shape = {8}, .group = 1}};
    optcl_group_config groups[2] = {{.lr = -1, .weight_decay = -1},
                                    {.lr = -1, .weight_decay = 0.0}};
    optcl_optimizer_config oc = args->config;
    oc.groups = groups;
    oc.group_count = 2;
    if (oc.schedule.kind == OPTCL_SCHEDULE_COSINE && oc.schedule.t_max == 0)
        oc.schedule.t_max = 1; /* fm_train sets the run's steps */
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    optcl_status st = optcl_params_create_typed(ctx, specs, 2, args->param_dtype, &params);
    if (st == OPTCL_SUCCESS)
        st = optcl_optimizer_create(params, &oc, &opt);
    if (st != OPTCL_SUCCESS)
        snprintf(message, message_size, "%s", optcl_context_message(ctx));
    optcl_optimizer_destroy(opt);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
    return st != OPTCL_SUCCESS;
}
