#!/usr/bin/env bash
# bench/run_mpi.sh BUILD_DIR [REPEATS] — the sharded step (optcl_mpi_bench) with 1 and 2 ranks
# on the default OpenCL device, Adam, 1M/4M/16M parameters, both collectives, double and float
# reductions, REPEATS times (default 3); one JSON line per run on stdout (docs/SCALING.md).
# PoCL gets one thread per rank, every rank one core.
set -euo pipefail
build=$1
repeats=${2:-3}
export OMPI_MCA_btl_vader_single_copy_mechanism=none POCL_MAX_PTHREAD_COUNT=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for ((rep = 0; rep < repeats; rep++)); do
    for n in 1048576 4194304 16777216; do
        for np in 1 2; do
            for coll in mpi ring; do
                for reduce in double float; do
                    mpirun --bind-to core -np "$np" "$build/optcl_mpi_bench" --n "$n" --steps 10 \
                        --collectives "$coll" --reduce "$reduce"
                done
            done
        done
    done
done
