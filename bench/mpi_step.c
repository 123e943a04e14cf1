/* mpi_step.c — `optcl_mpi_bench`: times the sharded optimizer's step under mpirun, phase by
 * phase (docs/SCALING.md). Every rank times S steps on a model of N parameters; rank 0 prints
 * one JSON line per run with the slowest rank's mean per phase, and, on one rank, the plain
 * unsharded step for comparison.
 *
 *   mpirun -np K optcl_mpi_bench [--n N] [--tensors T] [--steps S]
 *                                [--backend opencl|reference] [--reduce double|float]
 *                                [--collectives mpi|ring] [--optimizer adam|sgd|...]
 *
 * --tensors T: the N parameters as T vectors of N/T (the first N mod T one longer); the rules
 * that look at whole tensors (lamb, lars, adafactor) keep each whole on one rank. */
#include "optcl_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: mpirun -np K optcl_mpi_bench [--n N] [--tensors T] [--steps S] "
                    "[--backend opencl|reference] [--reduce double|float] "
                    "[--collectives mpi|ring] [--optimizer NAME]\n");
    return 2;
}

static void check(optcl_status st, const char *what, const char *msg)
{
    if (st != OPTCL_SUCCESS) {
        fprintf(stderr, "optcl_mpi_bench: %s: %s: %s\n", what, optcl_status_name(st), msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

/* Seconds per plain step on one process: the update alone (no host traffic). */
static double plain_step(optcl_params *p, const optcl_optimizer_config *c, int steps)
{
    optcl_optimizer *opt = NULL;
    check(optcl_optimizer_create(p, c, &opt), "optcl_optimizer_create",
          optcl_context_message(optcl_params_context(p)));
    check(optcl_optimizer_step(opt, 0, NULL, NULL), "step", optcl_optimizer_message(opt));
    check(optcl_context_finish(optcl_params_context(p)), "finish", "");
    double t0 = MPI_Wtime();
    for (int i = 0; i < steps; i++)
        check(optcl_optimizer_step(opt, 0, NULL, NULL), "step", optcl_optimizer_message(opt));
    check(optcl_context_finish(optcl_params_context(p)), "finish", "");
    double t = (MPI_Wtime() - t0) / steps;
    optcl_optimizer_destroy(opt);
    return t;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    size_t n = 16u << 20, tensors = 1;
    int steps = 10;
    const char *backend = "opencl", *algo = "adam";
    optcl_mpi_config mc = optcl_mpi_config_default();
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (!strcmp(argv[i], "--n"))
            n = strtoull(v, NULL, 10);
        else if (!strcmp(argv[i], "--tensors"))
            tensors = strtoull(v, NULL, 10);
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(v);
        else if (!strcmp(argv[i], "--backend"))
            backend = v;
        else if (!strcmp(argv[i], "--optimizer"))
            algo = v;
        else if (!strcmp(argv[i], "--collectives"))
            mc.collectives =
                !strcmp(v, "ring") ? OPTCL_MPI_COLLECTIVES_RING : OPTCL_MPI_COLLECTIVES_MPI;
        else if (!strcmp(argv[i], "--reduce"))
            mc.reduce = !strcmp(v, "float") ? OPTCL_MPI_REDUCE_FLOAT : OPTCL_MPI_REDUCE_DOUBLE;
        else
            return usage();
    }
    optcl_algorithm a;
    if (optcl_algorithm_from_name(algo, &a) != OPTCL_SUCCESS) {
        fprintf(stderr, "optcl_mpi_bench: unknown optimizer '%s'\n", algo);
        return usage();
    }
    if (n == 0 || tensors == 0 || tensors > n || steps < 1) {
        fprintf(stderr, "optcl_mpi_bench: --n, --tensors and --steps need 1 <= tensors <= n and "
                        "steps >= 1\n");
        return usage();
    }
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = !strcmp(backend, "reference") ? OPTCL_BACKEND_REFERENCE : OPTCL_BACKEND_OPENCL;
    char msg[2048] = "";
    optcl_context *ctx = NULL;
    check(optcl_context_create(&cc, &ctx, msg, sizeof msg), "context", msg);
    optcl_tensor_spec *specs = calloc(tensors, sizeof *specs);
    char(*names)[32] = calloc(tensors, sizeof *names);
    if (!specs || !names)
        check(OPTCL_ERROR_OUT_OF_HOST_MEMORY, "specs", "");
    for (size_t t = 0; t < tensors; t++) {
        snprintf(names[t], sizeof names[t], "w%zu", t);
        specs[t] = (optcl_tensor_spec){.name = names[t], .ndim = 1};
        specs[t].shape[0] = (int64_t)(n / tensors + (t < n % tensors));
    }
    optcl_params *p = NULL;
    check(optcl_params_create(ctx, specs, tensors, &p), "params", optcl_context_message(ctx));
    free(specs);
    free(names);
    optcl_optimizer_config c = optcl_optimizer_config_default(a);
    optcl_mpi_optimizer *opt = NULL;
    check(optcl_mpi_optimizer_create(MPI_COMM_WORLD, p, &c, &mc, &opt, msg, sizeof msg), "create",
          msg);
    check(optcl_mpi_optimizer_step(opt), "warm-up step", optcl_mpi_optimizer_message(opt));
    optcl_mpi_timings before, after;
    optcl_mpi_optimizer_timings(opt, &before);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < steps; i++)
        check(optcl_mpi_optimizer_step(opt), "step", optcl_mpi_optimizer_message(opt));
    double total = (MPI_Wtime() - t0) / steps;
    optcl_mpi_optimizer_timings(opt, &after);
    double phase[7] = {total,
                       (after.read_grads - before.read_grads) / steps,
                       (after.reduce_scatter - before.reduce_scatter) / steps,
                       (after.guard - before.guard) / steps,
                       (after.update - before.update) / steps,
                       (after.allgather - before.allgather) / steps,
                       (after.write_params - before.write_params) / steps};
    double slowest[7];
    MPI_Reduce(phase, slowest, 7, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    optcl_mpi_memory m;
    optcl_mpi_optimizer_memory(opt, &m);
    optcl_mpi_optimizer_destroy(opt);
    double plain = rank == 0 ? plain_step(p, &c, steps) : 0.0;
    if (rank == 0)
        printf("{\"np\": %d, \"n\": %zu, \"tensors\": %zu, \"optimizer\": \"%s\", "
               "\"backend\": \"%s\", \"reduce\": \"%s\", \"collectives\": \"%s\", "
               "\"device\": \"%s\", \"seconds_per_step\": %.6f, \"read_grads\": %.6f, "
               "\"reduce_scatter\": %.6f, \"guard\": %.6f, \"update\": %.6f, \"allgather\": "
               "%.6f, \"write_params\": %.6f, \"unsharded_update\": %.6f, \"state_bytes\": %zu, "
               "\"unsharded_state_bytes\": %zu, \"host_bytes\": %zu}\n",
               size, n, tensors, algo, backend,
               mc.reduce == OPTCL_MPI_REDUCE_FLOAT ? "float" : "double",
               mc.collectives == OPTCL_MPI_COLLECTIVES_RING ? "ring" : "mpi",
               optcl_context_device_name(ctx), slowest[0], slowest[1], slowest[2], slowest[3],
               slowest[4], slowest[5], slowest[6], plain, m.state_bytes, m.unsharded_state_bytes,
               m.host_bytes);
    optcl_params_destroy(p);
    optcl_context_destroy(ctx);
    MPI_Finalize();
    return 0;
}
