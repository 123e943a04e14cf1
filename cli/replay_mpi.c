/* replay_mpi.c — `optcl replay --distributed`: the replay on the sharded optimizer under
 * mpirun. Every rank reads the same inputs and feeds G[t] as its local gradient, so the
 * average over ranks is G[t] and the trajectory is the single-process one. */
#include "cli.h"
#include "replay.h"

#include "optcl_mpi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int optcl_cli_mpi_start(int *argc, char ***argv, int *rank, char *msg)
{
    int ready = 0;
    MPI_Initialized(&ready);
    if (!ready && MPI_Init(argc, argv) != MPI_SUCCESS) {
        snprintf(msg, OPTCL_REPLAY_MSG, "--distributed: MPI_Init failed");
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    return 0;
}

int optcl_cli_mpi_agree(int rc, int *speak)
{
    int me = 0, first = INT_MAX, mine = INT_MAX;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    if (rc)
        mine = me;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    *speak = first == me;
    return first != INT_MAX;
}

void optcl_cli_mpi_finish(void)
{
    int done = 0;
    MPI_Finalized(&done);
    if (done)
        return;
    /* Nobody exits (and has mpirun stop the others) before every rank has printed. */
    fflush(stderr);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
}

int optcl_cli_replay_inspect_sharded(const replay_args *a, size_t *n, optcl_optimizer_config *saved,
                                     char *msg)
{
    return optcl_mpi_checkpoint_inspect(a->load_state, NULL, n, saved, msg, OPTCL_REPLAY_MSG) !=
           OPTCL_SUCCESS;
}

/* G row t as every rank's gradient: with dynamic loss scaling times the scale the step uses,
 * as the single-process replay feeds it (the mean over ranks is then the scaled G[t]). */
static optcl_status write_gradient(optcl_mpi_optimizer *opt, optcl_params *params,
                                   const optcl_optimizer_config *config, const float *row,
                                   float *scratch, size_t n)
{
    optcl_guard_stats gs = {0};
    gs.loss_scale = 1.0;
    optcl_status st = OPTCL_SUCCESS;
    if (config->loss_scale.mode == OPTCL_LOSS_SCALE_DYNAMIC)
        st = optcl_mpi_optimizer_guard_stats(opt, &gs);
    return st == OPTCL_SUCCESS
               ? optcl_cli_write_gradient(params, config, gs.loss_scale, row, scratch, n)
               : st;
}

int optcl_cli_replay_sharded(const replay_args *a, const optcl_optimizer_config *config,
                             const optcl_array *p0, const optcl_array *g, const optcl_array *m,
                             float *out, replay_output *out_file, char *msg)
{
    size_t n = g->shape[1], steps = g->shape[0];
    /* The N parameters as replay lays them out alone (tensors=, shape=), in its one group; a
     * resumed run without them takes the saved model's tensors from the checkpoint's manifest
     * (one that does not list them: the saved run's tensors= must be given again). */
    optcl_tensor_spec *specs = NULL;
    size_t spec_count = 0;
    char unlisted[OPTCL_REPLAY_MSG];
    int listed = a->load_state && !optcl_cli_layout_given(a->options, a->option_count) &&
                 optcl_mpi_checkpoint_tensors(a->load_state, &specs, &spec_count, unlisted,
                                              sizeof unlisted) == OPTCL_SUCCESS;
    if (!listed && optcl_cli_tensor_specs(a->options, a->option_count, n, &specs, &spec_count, msg,
                                          OPTCL_REPLAY_MSG))
        return 1;
    optcl_group_config group;
    optcl_optimizer_config grouped = optcl_cli_grouped(a->options, a->option_count, config, &group);
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = a->backend;
    optcl_context *ctx = NULL;
    optcl_params *params = NULL;
    optcl_mpi_optimizer *opt = NULL;
    optcl_status st = optcl_context_create(&cc, &ctx, msg, OPTCL_REPLAY_MSG);
    const char *detail = msg;
    if (st == OPTCL_SUCCESS) {
        detail = optcl_context_message(ctx);
        st = optcl_params_create_typed(ctx, specs, spec_count,
                                       optcl_cli_param_dtype(a->options, a->option_count), &params);
    }
    free(specs);
    if (st == OPTCL_SUCCESS && p0->data) {
        detail = optcl_params_message(params);
        st = optcl_params_write(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0->data, n);
    }
    /* Every rank takes part in the creation, also one whose context failed (params NULL):
     * the creation then fails everywhere together. */
    char create_msg[OPTCL_REPLAY_MSG] = "";
    optcl_status created = optcl_mpi_optimizer_create(MPI_COMM_WORLD, st ? NULL : params, &grouped,
                                                      NULL, &opt, create_msg, sizeof create_msg);
    if (st == OPTCL_SUCCESS && created != OPTCL_SUCCESS) {
        st = created;
        detail = create_msg;
    }
    if (st == OPTCL_SUCCESS)
        detail = optcl_mpi_optimizer_message(opt);
    const char *hint = "";
    if (st == OPTCL_SUCCESS && a->load_state &&
        (st = optcl_mpi_checkpoint_load(opt, a->load_state)) != OPTCL_SUCCESS && !listed &&
        !optcl_cli_layout_given(a->options, a->option_count))
        hint = " (a checkpoint whose manifest does not list its tensors resumes with the saved "
               "run's tensors= or shape=)";
    /* Host copies of the parameter set fail only with the device; the optimizer's collective
     * calls fail on every rank together. */
    float *scratch = malloc((n ? n : 1) * sizeof *scratch); /* optcl_cli_write_gradient's */
    if (st == OPTCL_SUCCESS && !scratch) {
        st = OPTCL_ERROR_OUT_OF_HOST_MEMORY;
        detail = "out of host memory";
    }
    for (size_t t = 0; t < steps && st == OPTCL_SUCCESS; t++) {
        st = write_gradient(opt, params, config, g->data + t * n, scratch, n);
        if (st == OPTCL_SUCCESS)
            st = optcl_mpi_optimizer_step(opt);
        if (st == OPTCL_SUCCESS)
            st = optcl_params_read(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, out + t * n, n);
        if (st == OPTCL_SUCCESS && m->data)
            st = optcl_mpi_optimizer_report_metric(opt, m->data[t]);
        if (st != OPTCL_SUCCESS && *optcl_params_message(params))
            detail = optcl_params_message(params);
    }
    /* OUT's bytes on disk first (rank 0); the checkpoint moves on only when every rank got
     * here (one that failed says why itself: the others just skip the save) */
    char written[OPTCL_REPLAY_MSG] = "";
    size_t shape[2] = {steps, n};
    if (st == OPTCL_SUCCESS && out_file) {
        st = optcl_npy_write(out_file->tmp.tmp_path, out, shape, 2, written, sizeof written);
        if (st == OPTCL_SUCCESS && optcl_cli_output_written(out_file, written))
            st = OPTCL_ERROR_IO;
        if (st != OPTCL_SUCCESS)
            detail = written;
    }
    int ok = st == OPTCL_SUCCESS, all = ok;
    if (a->save_state)
        MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (st == OPTCL_SUCCESS && a->save_state && all)
        st = optcl_mpi_checkpoint_save(opt, a->save_state);
    if (st != OPTCL_SUCCESS) {
        char text[OPTCL_REPLAY_MSG - 128];
        snprintf(text, sizeof text, "%.*s", (int)sizeof text - 1, detail); /* may be msg */
        snprintf(msg, OPTCL_REPLAY_MSG, "%s: %s%s", optcl_status_name(st), text, hint);
    }
    free(scratch);
    optcl_mpi_optimizer_destroy(opt);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
    return st != OPTCL_SUCCESS;
}
