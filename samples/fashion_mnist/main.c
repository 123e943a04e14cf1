/* main.c — the `fashion_mnist` command: parses the flags and the optimizer's KEY=VALUE
 * hyperparameters (through the `optcl replay` parser, cli/replay_options.c), then trains once,
 * or once per optimizer of --compare (compare.c). */
#include "compare.h"
#include "idx.h"
#include "optimizer_args.h"
#include "stepper.h"
#include "train.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* /dev/null on the ranks other than 0 of a distributed run, NULL otherwise: those ranks print
 * neither the usage, nor argument errors (every rank parses the same arguments, so rank 0 says
 * it once), nor the training's table. */
static FILE *quiet;

/* Where argument errors go. */
static FILE *errors(void)
{
    return quiet ? quiet : stderr;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: fashion_mnist [FLAGS] [--optimizer NAME [KEY=VALUE ...]]\n"
        "       fashion_mnist [FLAGS] --compare NAME[:KEY=VALUE...],NAME...\n"
        "Trains an MLP on Fashion-MNIST; forward, backward and optimizer steps run on the\n"
        "OpenCL device (OPTCL_DEVICE chooses it, see `optcl devices`).\n"
        "  --data DIR        the IDX .gz files (default $OPTCL_FASHION_MNIST_DIR, else\n"
        "                    " FM_DEFAULT_DATA_DIR ")\n"
        "  --out DIR         best/last checkpoints and curves.svg (default "
        "./fashion_mnist_out)\n"
        "  --mode MODE       minibatch (default), gd (full batch), sgd (one image per step)\n"
        "  --batch B         minibatch size (default 128)\n"
        "  --epochs N        (default 10)\n"
        "  --hidden H[,H..]  hidden layer sizes (default 256: 784-256-10)\n"
        "  --seed S          train/valid split, shuffles and initialisation (default 1)\n"
        "  --train-subset N  train on the first N images of the 55 000 only\n"
        "  --patience N      stop after N epochs without a better valid loss (default 0: "
        "never)\n"
        "  --progress on|off the live indicator inside an epoch (default: on a terminal)\n"
        "  --distributed     under mpirun -np K: every rank trains on 1/K of each batch and\n"
        "                    the optimizer state is sharded across the ranks (optcl_mpi);\n"
        "                    rank 0 prints; checkpoints are sharded (OUT/best, OUT/last)\n"
        "  --param-dtype T   the weights', biases', activations' and gradients' type: f32\n"
        "                    (default), bf16 or f16 (products accumulate in float32; see\n"
        "                    docs/PRECISION.md)\n"
        "  --master-weights  with bf16/f16: the optimizer steps a float32 master copy\n"
        "  --loss-scale dynamic  scale the loss by GradScaler's dynamic scale, which the\n"
        "                    loss kernel reads from the optimizer's device buffer\n"
        "  --state-dtype T   the optimizer state's type: same (default: the parameters'; f32\n"
        "                    with master weights), f32, bf16 or int8 (bitsandbytes'\n"
        "                    block-wise 8-bit state; tensors under 4096 elements keep f32)\n"
        "  --optimizer NAME  adam (default) or another of optcl replay's optimizers, then\n"
        "                    PyTorch's hyperparameters as KEY=VALUE: lr=1e-3\n"
        "                    weight_decay=1e-4 ...;\n"
        "                    schedule=cosine|step|multistep|exponential|inverse_time (t counts\n"
        "                    steps; cosine without t_max spans the run) or schedule=plateau\n"
        "                    (ReduceLROnPlateau on the valid loss, patience=… in epochs);\n"
        "                    lookahead_k=5 lookahead_alpha=0.5; clip_norm=1 nonfinite=skip\n"
        "                    (the gradient guard); state_dtype=bf16|int8 (bfloat16 or 8-bit\n"
        "                    optimizer state). All keys: optcl replay --help.\n"
        "  --compare LIST    train once per optimizer of LIST, e.g.\n"
        "                    adam,sgd:lr=0.05:momentum=0.9,lion:lr=1e-4 (each from torch's\n"
        "                    defaults), with the same data, split, initial weights and\n"
        "                    batches; the other flags apply to every run. Draws OUT/compare.svg\n"
        "                    (validation loss and accuracy per epoch), prints a summary; each\n"
        "                    run's checkpoints and curves go to OUT/NAME. Not with --optimizer,\n"
        "                    KEY=VALUE arguments or --distributed\n"
        "Biases are a parameter group without weight decay.\n");
}

/* A whole number in [lo, hi], or a message naming the flag. */
static int parse_count(const char *flag, const char *text, unsigned long long lo,
                       unsigned long long hi, unsigned long long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = text && *text != '-' ? strtoull(text, &end, 10) : 0;
    if (!text || !*text || *text == '-' || *end || errno || v < lo || v > hi) {
        fprintf(errors(), "fashion_mnist: %s %s: expected a whole number in %llu … %llu\n", flag,
                text ? text : "(missing)", lo, hi);
        return 1;
    }
    *out = v;
    return 0;
}

static int parse_hidden(const char *text, fm_train_config *c)
{
    c->hidden_count = 0;
    const char *p = text ? text : "";
    while (*p) {
        char *end = NULL;
        errno = 0;
        unsigned long v = *p >= '0' && *p <= '9' ? strtoul(p, &end, 10) : 0;
        if (!end || v < 1 || v > 65536 || errno || (*end != ',' && *end) ||
            c->hidden_count == FM_MAX_LAYERS - 1) {
            fprintf(errors(),
                    "fashion_mnist: --hidden %s: expected up to %d sizes in 1 … 65536, "
                    "separated by commas\n",
                    text ? text : "(missing)", FM_MAX_LAYERS - 1);
            return 1;
        }
        c->hidden[c->hidden_count++] = (unsigned)v;
        p = *end ? end + 1 : end;
    }
    if (!c->hidden_count) {
        fprintf(errors(), "fashion_mnist: --hidden needs at least one size\n");
        return 1;
    }
    return 0;
}

/* The --state-dtype, --param-dtype, --master-weights and --loss-scale flags as their keys, into
 * kv (static: they outlive main's parsing); returns how many. */
static int flag_options(const char *state_dtype, const char *param_dtype, int master_weights,
                        const char *loss_scale, char **kv)
{
    static char text[4][64];
    int n = 0;
    if (state_dtype)
        snprintf(text[n++], sizeof text[0], "state_dtype=%.40s", state_dtype);
    if (param_dtype)
        snprintf(text[n++], sizeof text[0], "param_dtype=%.40s", param_dtype);
    if (master_weights)
        snprintf(text[n++], sizeof text[0], "master_weights=1");
    if (loss_scale)
        snprintf(text[n++], sizeof text[0], "loss_scale=%.40s", loss_scale);
    for (int i = 0; i < n; i++)
        kv[i] = text[i];
    return n;
}

/* --compare's refusals, then the runs. */
static int compare(const char *list, const fm_train_config *c, int single_run_args, char **kv,
                   int n_kv)
{
    if (single_run_args) {
        fprintf(errors(),
                "fashion_mnist: --compare takes each optimizer's keys in its list "
                "(NAME:KEY=VALUE); --optimizer and KEY=VALUE arguments are for one run\n");
        return 2;
    }
    if (c->distributed) {
        fprintf(errors(), "fashion_mnist: --compare runs in one process; --distributed is for "
                          "one run\n");
        return 2;
    }
    return fm_compare(list, c, kv, n_kv);
}

static int train(fm_train_config *c, int rank)
{
    fm_train_result result;
    char error[4096];
    if (fm_train(c, &result, error, sizeof error)) {
        if (c->distributed)
            fprintf(stderr, "fashion_mnist: rank %d: %s\n", rank, error);
        else
            fprintf(stderr, "fashion_mnist: %s\n", error);
        return 1;
    }
    return 0;
}

/* Everything after MPI's start: parses the arguments, then trains once or compares; returns
 * the exit status (0, 1 for a failed run, 2 for bad arguments) without finishing MPI, which
 * main does for every one of them. */
static int run(int argc, char **argv, const fm_train_config *cp, int rank)
{
    fm_train_config c = *cp;
    const char *algo = NULL, *state_dtype = NULL, *param_dtype = NULL, *loss_scale = NULL;
    const char *compare_list = NULL;
    int master_weights = 0;
    char *options[FM_MAX_OPTIONS];
    int n_options = 0;
    unsigned long long v = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1, bad = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (rank == 0)
                usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data")) {
            c.data_dir = next;
        } else if (!strcmp(a, "--out")) {
            c.out_dir = next;
        } else if (!strcmp(a, "--optimizer")) {
            algo = next;
        } else if (!strcmp(a, "--compare")) {
            compare_list = next;
        } else if (!strcmp(a, "--state-dtype")) {
            state_dtype = next;
        } else if (!strcmp(a, "--param-dtype")) {
            param_dtype = next;
        } else if (!strcmp(a, "--loss-scale")) {
            loss_scale = next;
        } else if (!strcmp(a, "--master-weights")) {
            master_weights = 1;
            takes = 0;
        } else if (!strcmp(a, "--mode")) {
            if (next && !strcmp(next, "gd"))
                c.mode = FM_MODE_GD;
            else if (next && !strcmp(next, "sgd"))
                c.mode = FM_MODE_SGD;
            else if (next && !strcmp(next, "minibatch"))
                c.mode = FM_MODE_MINIBATCH;
            else {
                fprintf(errors(), "fashion_mnist: --mode %s: expected gd, sgd or minibatch\n",
                        next ? next : "(missing)");
                bad = 1;
            }
        } else if (!strcmp(a, "--batch")) {
            bad = parse_count(a, next, 1, 1u << 24, &v);
            c.batch = (size_t)v;
        } else if (!strcmp(a, "--epochs")) {
            bad = parse_count(a, next, 1, 100000, &v);
            c.epochs = (int)v;
        } else if (!strcmp(a, "--seed")) {
            bad = parse_count(a, next, 0, UINT64_MAX, &v);
            c.seed = v;
        } else if (!strcmp(a, "--train-subset")) {
            bad = parse_count(a, next, 1, 1u << 30, &v);
            c.train_subset = (size_t)v;
        } else if (!strcmp(a, "--patience")) {
            bad = parse_count(a, next, 0, 100000, &v);
            c.patience = (int64_t)v;
        } else if (!strcmp(a, "--hidden")) {
            bad = parse_hidden(next, &c);
        } else if (!strcmp(a, "--distributed")) {
            takes = 0;
        } else if (!strcmp(a, "--progress")) {
            c.progress = next && !strcmp(next, "on") ? 1 : next && !strcmp(next, "off") ? 0 : 2;
            if (c.progress == 2) {
                fprintf(errors(), "fashion_mnist: --progress: expected on or off\n");
                bad = 1;
            }
        } else if (a[0] != '-' && strchr(a, '=')) {
            takes = 0;
            if (n_options == FM_MAX_OPTIONS) {
                fprintf(errors(), "fashion_mnist: more than %d KEY=VALUE options\n",
                        FM_MAX_OPTIONS);
                return 2;
            }
            options[n_options++] = argv[i];
        } else {
            fprintf(errors(), "fashion_mnist: unknown argument '%s' (see --help)\n", a);
            return 2;
        }
        if (takes && !next && !bad) {
            fprintf(errors(), "fashion_mnist: %s needs a value\n", a);
            return 2;
        }
        if (bad)
            return 2;
        i += takes;
    }

    char *kv[4];
    int n_kv = flag_options(state_dtype, param_dtype, master_weights, loss_scale, kv);
    if (compare_list)
        return compare(compare_list, &c, algo || n_options, kv, n_kv);
    for (int i = 0; i < n_kv; i++) {
        if (n_options == FM_MAX_OPTIONS) {
            fprintf(errors(), "fashion_mnist: more than %d KEY=VALUE options\n", FM_MAX_OPTIONS);
            return 2;
        }
        options[n_options++] = kv[i];
    }
    fm_optimizer_args args;
    char msg[2048];
    if (fm_optimizer_args_parse(algo ? algo : "adam", options, n_options, &args, msg, sizeof msg)) {
        fprintf(errors(), "fashion_mnist: %s\n", msg);
        return 2;
    }
    c.optimizer = args.config;
    c.param_dtype = args.param_dtype;
    c.optimizer_text = args.text;

    /* Distributed: rank 0 speaks for all (every rank computes the same figures). */
    if (c.distributed && c.progress < 0)
        c.progress = 0; /* mpirun forwards output through a pseudo-terminal */
    if (quiet) {
        c.out = quiet;
        c.progress = 0;
    }
    return train(&c, rank);
}

int main(int argc, char **argv)
{
    fm_train_config c = fm_train_config_default();
    int rank = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--distributed")) {
            char why[512];
            if (fm_distributed_start(&argc, &argv, &rank, why, sizeof why)) {
                fprintf(stderr, "fashion_mnist: %s\n", why);
                return 2;
            }
            c.distributed = 1;
            break;
        }
    }
    /* From here on every exit goes through MPI_Finalize (fm_distributed_finish): without it
     * mpirun reports the ranks as terminated abnormally, whatever their exit status. */
    if (rank != 0)
        quiet = fopen("/dev/null", "w");
    int rc = run(argc, argv, &c, rank);
    if (quiet)
        fclose(quiet);
    if (c.distributed)
        fm_distributed_finish();
    return rc;
}
