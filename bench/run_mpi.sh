#!/usr/bin/env bash
# bench/run_mpi.sh BUILD_DIR [REPEATS] [adam|tensorwise] — the sharded step (optcl_mpi_bench)
# with 1 and 2 ranks on the default OpenCL device, REPEATS rounds (default 3); one JSON line per
# run on stdout (docs/SCALING.md). adam (the default): Adam, 1M/4M/16M parameters in one tensor,
# both collectives, double and float reductions. tensorwise: Adam, LAMB, LARS and Adafactor,
# 4M parameters as 100 tensors (each whole on one rank), MPI's collectives, rounds interleaved.
# PoCL gets one thread per rank, every rank one core.
set -euo pipefail
build=$1
repeats=${2:-3}
what=${3:-adam}
export OMPI_MCA_btl_vader_single_copy_mechanism=none POCL_MAX_PTHREAD_COUNT=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bench() {
    mpirun --bind-to core -np "$1" "$build/optcl_mpi_bench" --steps 10 "${@:2}"
}
for ((rep = 0; rep < repeats; rep++)); do
    if [ "$what" = tensorwise ]; then
        for np in 1 2; do
            for opt in adam lamb lars adafactor; do
                bench "$np" --n 4194304 --tensors 100 --optimizer "$opt"
            done
        done
        continue
    fi
    for n in 1048576 4194304 16777216; do
        for np in 1 2; do
            for coll in mpi ring; do
                for reduce in double float; do
                    bench "$np" --n "$n" --collectives "$coll" --reduce "$reduce"
                done
            done
        done
    done
done
