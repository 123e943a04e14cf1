/* optimizer_args.h — an optimizer as the command takes it: a name and PyTorch's KEY=VALUE
 * hyperparameters, parsed by `optcl replay`'s parser (cli/replay_options.c). main.c builds the
 * one of a single run (--optimizer NAME KEY=VALUE ...), compare.c each entry of --compare. */
#ifndef FM_OPTIMIZER_ARGS_H
#define FM_OPTIMIZER_ARGS_H

#include "optcl.h"

#include <stddef.h>

#define FM_MAX_OPTIONS 64 /* KEY=VALUE options of one optimizer */

typedef struct fm_optimizer_args {
    /* torch's defaults with the keys applied; a cosine schedule without t_max has t_max 0,
     * which fm_train replaces with the run's number of steps */
    optcl_optimizer_config config;
    optcl_dtype param_dtype; /* param_dtype=, else f32 */
    /* "sgd lr=0.05 momentum=0.9": the name, the keys as given, and the lr even when defaulted
     * (curves.svg's title) */
    char text[1024];
    /* "lr=0.05 momentum=0.9" for --compare's legend: the lr, the optimizer's own options that
     * differ from torch's defaults (from its descriptors), then the other keys as given */
    char legend[512];
} fm_optimizer_args;

/* Builds args from an optimizer's name and count KEY=VALUE options (the last of a repeated key
 * wins). Returns 0, or 1 with a one-line reason in message (an unknown name lists the known
 * ones; a bad key or value, or a key the configuration would ignore, is named). */
int fm_optimizer_args_parse(const char *name, char *const *options, int count,
                            fm_optimizer_args *args, char *message, size_t message_size);

/* The library checks values' ranges when it creates an optimizer; this creates args' optimizer
 * on the host reference backend over two small tensors grouped as fm_train groups the model's,
 * so that --compare refuses a bad value before any run trains. Returns 0, or 1 with the
 * library's message (naming field and value). */
int fm_optimizer_args_check(const fm_optimizer_args *args, char *message, size_t message_size);

#endif
