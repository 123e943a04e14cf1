/* stepper.c — the stepper: an optcl optimizer and the best/last tracker in one process, or
 * (built with MPI) the data-parallel one of stepper_mpi.c behind the same calls. */
#include "stepper.h"
#include "stepper_mpi.h"

#include <stdio.h>
#include <stdlib.h>

struct fm_stepper {
    optcl_optimizer *opt;
    optcl_tracker *tracker;
    fm_dist *dist; /* distributed: everything goes there */
    char message[2048];
};

#ifdef FM_HAVE_MPI
#define DISTRIBUTED(call)                                                                          \
    if (s->dist)                                                                                   \
    return call
#else
#define DISTRIBUTED(call) (void)0
#endif

int fm_stepper_create(optcl_params *params, const optcl_optimizer_config *config,
                      const fm_stepper_config *sc, fm_stepper **out, char *message,
                      size_t message_size)
{
    fm_stepper *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(message, message_size, "out of host memory");
        return 1;
    }
    optcl_status st = optcl_optimizer_create(params, config, &s->opt);
    if (st != OPTCL_SUCCESS) {
        snprintf(message, message_size, "optcl_optimizer_create: %s: %s", optcl_status_name(st),
                 optcl_context_message(optcl_params_context(params)));
        free(s);
        return 1;
    }
    optcl_tracker_config tc = optcl_tracker_config_default();
    tc.dir = sc->dir;
    tc.patience = sc->patience;
    st = optcl_tracker_create(s->opt, &tc, &s->tracker);
    if (st != OPTCL_SUCCESS) {
        snprintf(message, message_size, "optcl_tracker_create: %s: %s", optcl_status_name(st),
                 optcl_optimizer_message(s->opt));
        fm_stepper_destroy(s);
        return 1;
    }
    *out = s;
    return 0;
}

int fm_stepper_create_distributed(optcl_params *params, const optcl_optimizer_config *config,
                                  const fm_stepper_config *sc, fm_stepper **out, char *message,
                                  size_t message_size)
{
#ifdef FM_HAVE_MPI
    fm_stepper *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(message, message_size, "out of host memory");
        return 1;
    }
    if (fm_dist_create(params, config, sc, &s->dist, message, message_size)) {
        free(s);
        return 1;
    }
    *out = s;
    return 0;
#else
    (void)params;
    (void)config;
    (void)sc;
    (void)out;
    snprintf(message, message_size, "--distributed needs optcl built with MPI");
    return 1;
#endif
}

void fm_stepper_destroy(fm_stepper *s)
{
    if (!s)
        return;
#ifdef FM_HAVE_MPI
    fm_dist_destroy(s->dist);
#endif
    optcl_tracker_destroy(s->tracker); /* it holds the optimizer */
    optcl_optimizer_destroy(s->opt);
    free(s);
}

/* A failed call's message, with the status and the call's name. */
static optcl_status note(fm_stepper *s, optcl_status st, const char *call, const char *detail)
{
    if (st != OPTCL_SUCCESS)
        snprintf(s->message, sizeof s->message, "%s: %s: %s", call, optcl_status_name(st), detail);
    return st;
}

optcl_status fm_stepper_step(fm_stepper *s, size_t rows)
{
    DISTRIBUTED(fm_dist_step(s->dist, rows));
    (void)rows; /* one process computed the whole batch's mean */
    return note(s, optcl_optimizer_step(s->opt, 0, NULL, NULL), "optcl_optimizer_step",
                optcl_optimizer_message(s->opt));
}

optcl_status fm_stepper_get_lr(fm_stepper *s, double *lr)
{
    DISTRIBUTED(fm_dist_get_lr(s->dist, lr));
    return note(s, optcl_optimizer_get_lr(s->opt, 0, lr), "optcl_optimizer_get_lr",
                optcl_optimizer_message(s->opt));
}

optcl_status fm_stepper_set_mode(fm_stepper *s, optcl_mode mode)
{
    DISTRIBUTED(fm_dist_set_mode(s->dist, mode));
    optcl_status st = optcl_optimizer_set_mode(s->opt, mode);
    if (st == OPTCL_ERROR_UNSUPPORTED)
        return st; /* no modes: nothing to note */
    return note(s, st, "optcl_optimizer_set_mode", optcl_optimizer_message(s->opt));
}

optcl_status fm_stepper_report_metric(fm_stepper *s, double metric)
{
    DISTRIBUTED(fm_dist_report_metric(s->dist, metric));
    return note(s, optcl_optimizer_report_metric(s->opt, metric), "optcl_optimizer_report_metric",
                optcl_optimizer_message(s->opt));
}

optcl_status fm_stepper_epoch(fm_stepper *s, double train_loss, double valid_loss,
                              optcl_epoch_record *record)
{
    DISTRIBUTED(fm_dist_epoch(s->dist, train_loss, valid_loss, record));
    return note(s, optcl_tracker_epoch(s->tracker, train_loss, valid_loss, record),
                "optcl_tracker_epoch", optcl_tracker_message(s->tracker));
}

optcl_status fm_stepper_load(fm_stepper *s, int best)
{
    DISTRIBUTED(fm_dist_load(s->dist, best));
    return note(s, optcl_checkpoint_load(s->opt, fm_stepper_path(s, best)), "optcl_checkpoint_load",
                optcl_optimizer_message(s->opt));
}

const char *fm_stepper_path(const fm_stepper *s, int best)
{
    DISTRIBUTED(fm_dist_path(s->dist, best));
    return best ? optcl_tracker_best_path(s->tracker) : optcl_tracker_last_path(s->tracker);
}

cl_mem fm_stepper_loss_scale(const fm_stepper *s)
{
    DISTRIBUTED(fm_dist_loss_scale(s->dist));
    cl_mem scale = NULL;
    if (optcl_optimizer_loss_scale_buffer(s->opt, &scale) != OPTCL_SUCCESS)
        return NULL; /* no loss scaling */
    return scale;
}

const char *fm_stepper_message(const fm_stepper *s)
{
    DISTRIBUTED(fm_dist_message(s->dist));
    return s->message;
}

int fm_stepper_rank(const fm_stepper *s)
{
    DISTRIBUTED(fm_dist_rank(s->dist));
    (void)s;
    return 0;
}

int fm_stepper_size(const fm_stepper *s)
{
    DISTRIBUTED(fm_dist_size(s->dist));
    (void)s;
    return 1;
}

int fm_stepper_sum(fm_stepper *s, double *values, int n)
{
    DISTRIBUTED(fm_dist_sum(s->dist, values, n));
    (void)s;
    (void)values;
    (void)n;
    return 0;
}

#ifndef FM_HAVE_MPI
int fm_distributed_start(int *argc, char ***argv, int *rank, char *message, size_t size)
{
    (void)argc;
    (void)argv;
    *rank = 0;
    snprintf(message, size,
             "--distributed needs optcl built with MPI (install libopenmpi-dev and configure "
             "with -DOPTCL_MPI=ON)");
    return 1;
}

void fm_distributed_finish(void)
{
}
#endif
