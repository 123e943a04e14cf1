/* test_distributed.c — ctest sample_fashion_mnist_distributed_npK, under mpirun: data-parallel
 * training (--distributed) on K ranks reaches the single-process run's test accuracy. Every
 * rank first trains alone (the reference), then all train together: 2 epochs on 2 000 images,
 * batch 128 (with 3 ranks the parts are 42, 43 and 43 rows: the weighted mean matters). The
 * two runs differ only in how the batch's gradient is summed (per rank, then across ranks), so
 * they agree to float rounding; 0.01 of accuracy (100 of the 10 000 test images) is far above
 * that and far below what a wrong average costs. Then the same with float16 weights, float32
 * master weights and dynamic loss scaling (the loss kernel reads the shard optimizer's scale),
 * and with LAMB (each tensor whole on one rank). */
#include "mpi.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOLERANCE 0.01

static int rank;

static void require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "rank %d: %s\n", rank, what);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

enum { PLAIN, LOW_PRECISION, LAMB, MODES };
static const char *const mode_names[MODES] = {"", "float16, master weights, loss scaling: ",
                                              "lamb: "};

static fm_train_result train(const char *out, int distributed, FILE *quiet, int mode)
{
    fm_train_config c = fm_train_config_default();
    if (mode == LAMB) {
        c.optimizer = optcl_optimizer_config_default(OPTCL_LAMB);
        c.optimizer.lr = 0.01;
    }
    if (mode == LOW_PRECISION) {
        c.param_dtype = OPTCL_DTYPE_F16;
        c.optimizer.master_weights = 1;
        c.optimizer.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
    }
    c.out_dir = out;
    c.epochs = 2;
    c.train_subset = 2000;
    c.progress = 0;
    c.distributed = distributed;
    c.out = quiet;
    fm_train_result res;
    char msg[4096] = "";
    if (fm_train(&c, &res, msg, sizeof msg)) {
        fprintf(stderr, "rank %d: %s training failed: %s\n", rank,
                distributed ? "distributed" : "single-process", msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return res;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char dir[256] = "/tmp/optcl-fm-dist-XXXXXX", alone[300], together[300], path[400];
    if (rank == 0)
        require(mkdtemp(dir) != NULL, "mkdtemp");
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(alone, sizeof alone, "%s/alone%d", dir, rank);
    snprintf(together, sizeof together, "%s/together", dir);
    FILE *quiet = fopen("/dev/null", "w");
    require(quiet != NULL, "/dev/null");

    fm_train_result dist = {0};
    for (int mode = PLAIN; mode < MODES; mode++) {
        if (mode != PLAIN) { /* fresh folders for the other runs */
            snprintf(alone, sizeof alone, "%s/alone_%d_%d", dir, mode, rank);
            snprintf(together, sizeof together, "%s/together_%d", dir, mode);
        }
        fm_train_result single = train(alone, 0, quiet, mode);
        dist = train(together, 1, rank == 0 ? stdout : quiet, mode);
        if (rank == 0)
            printf("%stest accuracy: single process %.4f (best) %.4f (last); %d ranks %.4f "
                   "(best) %.4f (last)\n",
                   mode_names[mode], single.test_accuracy_best, single.test_accuracy_last, size,
                   dist.test_accuracy_best, dist.test_accuracy_last);
        require(fabs(dist.test_accuracy_best - single.test_accuracy_best) <= TOLERANCE,
                "the best checkpoint's accuracy differs from the single-process run's");
        require(fabs(dist.test_accuracy_last - single.test_accuracy_last) <= TOLERANCE,
                "the last checkpoint's accuracy differs from the single-process run's");
        require(dist.epochs == 2, "two epochs");
    }
    snprintf(together, sizeof together, "%s/together", dir);
    /* Every rank saw the same figures. */
    double mine = dist.test_accuracy_last, lo = mine, hi = mine;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    require(lo == hi, "the ranks disagree on the test accuracy");
    /* The sharded checkpoints: a manifest each, and this rank's file of the last save. */
    for (int best = 0; best < 2; best++) {
        snprintf(path, sizeof path, "%s/%s", together, best ? "best" : "last");
        require(access(path, R_OK) == 0, "a checkpoint manifest is missing");
    }
    snprintf(path, sizeof path, "%s/last.2.rank%d-of-%d.safetensors", together, rank, size);
    require(access(path, R_OK) == 0, "this rank's file of the last checkpoint is missing");
    fclose(quiet);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        require(system(cmd) == 0, "cleaning up");
    }
    MPI_Finalize();
    return 0;
}
