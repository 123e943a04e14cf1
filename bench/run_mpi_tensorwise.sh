#!/usr/bin/env bash
# bench/run_mpi_tensorwise.sh BUILD_DIR [REPEATS] — the sharded step (optcl_mpi_bench) of the
# rules that look at whole tensors against Adam's, with 1 and 2 ranks, 4M parameters as 100
# tensors (each whole on one rank), on the default OpenCL device, REPEATS rounds (default 3)
# interleaved; one JSON line per run on stdout (docs/SCALING.md). PoCL gets one thread per
# rank, every rank one core.
set -euo pipefail
build=$1
repeats=${2:-3}
export OMPI_MCA_btl_vader_single_copy_mechanism=none POCL_MAX_PTHREAD_COUNT=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for ((rep = 0; rep < repeats; rep++)); do
    for np in 1 2; do
        for opt in adam lamb lars adafactor; do
            mpirun --bind-to core -np "$np" "$build/optcl_mpi_bench" --n 4194304 --tensors 100 \
                --steps 10 --optimizer "$opt"
        done
    done
done
