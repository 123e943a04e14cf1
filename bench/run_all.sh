#!/usr/bin/env bash
# bench/run_all.sh BUILD_DIR — the optcl bench runs behind docs/PERFORMANCE.md: every optimizer
# at n = 1M, 16M, 64M on the OpenCL device and the reference backend, the many-tensor and the
# small-n enqueue cases. One JSON object per line on stdout.
set -euo pipefail
bin=${1:-build}/optcl
for backend in opencl reference; do
    for what in "adam" "adamw" "sgd" "sgd momentum=0.9" "rmsprop" "rprop"; do
        for n in 1048576 16777216 67108864; do
            $bin bench $what --n $n --steps 15 --backend $backend --json
        done
    done
done
for k in 1 1000; do
    $bin bench adam --n 16777216 --tensors $k --steps 15 --json
done
$bin bench adam --n 1024 --steps 15 --json
$bin bench copy --n 16777216 --steps 15 --json
