/* inspect.c — `optcl inspect PATH`: what a checkpoint holds, without a device or MPI — an
 * ordinary one (optcl_checkpoint_inspect) or a sharded one's manifest (inspect_mpi.c) — the
 * optimizer as `optcl replay` keys and the model's tensors. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG 4096

static void usage(FILE *f)
{
    fprintf(f, "usage: optcl inspect PATH\n"
               "\n"
               "Prints what the checkpoint at PATH holds: the optimizer and its hyperparameters\n"
               "as `optcl replay` KEY=VALUE options, and the model's tensors (name, shape,\n"
               "group). PATH is an ordinary checkpoint (optcl_checkpoint_save, --save-state) or\n"
               "a sharded one's manifest (optcl_mpi_checkpoint_save, --distributed\n"
               "--save-state). Reads headers only: no device, no MPI.\n");
}

void optcl_cli_print_config(const optcl_optimizer_config *c, optcl_dtype param_dtype,
                            int trust_ratio_mask)
{
    char lr[32], weight_decay[32];
    printf("optimizer: %s lr=%s weight_decay=%s", optcl_algorithm_name(c->algorithm),
           optcl_cli_real(lr, sizeof lr, c->lr),
           optcl_cli_real(weight_decay, sizeof weight_decay, c->weight_decay));
    if (c->maximize)
        printf(" maximize=1");
    for (size_t i = 0; i < optcl_algorithm_option_count(c->algorithm); i++) {
        const optcl_option_info *o = optcl_algorithm_option(c->algorithm, i);
        double v = 0.0;
        char text[32];
        optcl_optimizer_config_get_option(c, o->key, &v);
        if (o->type == OPTCL_OPTION_CHOICE)
            printf(" %s=%s", o->key, o->choices[(int)v]);
        else if (o->type == OPTCL_OPTION_FLAG)
            printf(" %s=%.0f", o->key, v);
        else
            printf(" %s=%s", o->key, optcl_cli_real(text, sizeof text, v));
    }
    printf("\n");
    /* the procedure around the rule, where it is not the default, and the parameters' type
     * (OPTCL_DTYPE_COUNT: not known here) */
    printf("training:");
    int any = param_dtype != OPTCL_DTYPE_F32 && param_dtype != OPTCL_DTYPE_COUNT
                  ? printf(" param_dtype=%s", optcl_dtype_name(param_dtype))
                  : 0;
    any += optcl_cli_print_training(c);
    if (!trust_ratio_mask) /* the group's, not in c: replay's key for it */
        any += printf(" trust_ratio_mask=0") > 0;
    printf(any ? "\n" : " the defaults (constant lr, no Lookahead, no guard)\n");
}

void optcl_cli_print_tensors(const optcl_tensor_spec *specs, size_t count)
{
    size_t numel = 0, width = 4;
    for (size_t i = 0; i < count; i++) {
        size_t n = 1, len = strlen(specs[i].name);
        for (int d = 0; d < specs[i].ndim; d++)
            n *= (size_t)specs[i].shape[d];
        numel += n;
        width = len > width && len < 60 ? len : width;
    }
    printf("%zu tensor(s), %zu elements:\n", count, numel);
    for (size_t i = 0; i < count; i++) {
        char shape[200] = "()";
        int used = 0;
        for (int d = 0; d < specs[i].ndim && used >= 0 && (size_t)used < sizeof shape; d++)
            used += snprintf(shape + used, sizeof shape - (size_t)used, d ? "x%lld" : "%lld",
                             (long long)specs[i].shape[d]);
        printf("  %-*s  %-14s  group %d\n", (int)width, specs[i].name, shape, specs[i].group);
    }
}

void optcl_cli_print_progress(const optcl_checkpoint_progress *p, const optcl_tensor_spec *specs,
                              size_t count, int loss_scaling)
{
    printf("progress: %llu step(s), %llu skipped; next lr", (unsigned long long)p->steps,
           (unsigned long long)p->skipped);
    /* one value when every group in use has it, else each group's */
    int used[OPTCL_MAX_GROUPS] = {0}, same = 1, first = -1;
    for (size_t i = 0; i < count; i++)
        if (specs[i].group >= 0 && specs[i].group < OPTCL_MAX_GROUPS)
            used[specs[i].group] = 1;
    used[0] |= count == 0; /* no tensors known: group 0's */
    for (int g = 0; g < OPTCL_MAX_GROUPS; g++)
        if (used[g]) {
            first = first < 0 ? g : first;
            same = same && p->lr[g] == p->lr[first];
        }
    for (int g = 0; g < OPTCL_MAX_GROUPS && first >= 0; g++)
        if (used[g] && (!same || g == first))
            printf(same ? " %.9g" : " %.9g (group %d)", p->lr[g], g);
    if (loss_scaling)
        printf("; loss scale %.9g", p->loss_scale);
    printf("\n");
}

static int inspect_ordinary(const char *path, char *msg, size_t size)
{
    optcl_tensor_spec *specs = NULL;
    size_t count = 0;
    optcl_optimizer_config config;
    optcl_checkpoint_progress progress;
    if (optcl_checkpoint_inspect(path, &specs, &count, &config, msg, size) != OPTCL_SUCCESS)
        return 1;
    optcl_dtype dtype = OPTCL_DTYPE_F32;
    int mask = 1;
    if (optcl_checkpoint_inspect_progress(path, &progress, msg, size) != OPTCL_SUCCESS ||
        optcl_checkpoint_param_dtype(path, &dtype, msg, size) != OPTCL_SUCCESS ||
        optcl_cli_saved_trust_ratio_mask(path, &mask, msg, size)) {
        free(specs);
        return 1;
    }
    printf("%s: an optcl checkpoint\n", path);
    optcl_cli_print_config(&config, dtype, mask);
    optcl_cli_print_progress(&progress, specs, count,
                             config.loss_scale.mode != OPTCL_LOSS_SCALE_OFF);
    optcl_cli_print_tensors(specs, count);
    free(specs);
    return 0;
}

int optcl_cli_inspect(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[1];
    char msg[MSG] = "";
    int failed = optcl_cli_is_manifest(path) ? optcl_cli_inspect_sharded(path, msg, sizeof msg)
                                             : inspect_ordinary(path, msg, sizeof msg);
    if (failed)
        fprintf(stderr, "optcl inspect: %s\n", msg);
    return failed;
}
