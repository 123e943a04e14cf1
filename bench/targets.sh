#!/usr/bin/env bash
# bench/targets.sh BUILD_DIR TAG [ROUNDS] — every speed target of issues 13-16 on this machine
# in one run (about 15 minutes on a 2-core VM with ROUNDS = 5): bench/optimizers.sh,
# layouts.sh, guard.sh, precision.sh and tensorwise.sh, their raw lines kept in
# bench/results/*_TAG.jsonl and their own tables in bench/results/targets_TAG.log, then
# bench/targets.py's verdicts. With $PY2 set (PyTorch 2.x, ../shared/tools/torch2_env.sh) the
# PyTorch comparisons run too. Release build; nothing else should run meanwhile.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: bench/targets.sh BUILD_DIR TAG [ROUNDS]" >&2
    exit 2
fi
build=$1 tag=$2 rounds=${3:-5}
cd "$(dirname "$0")/.."
results=bench/results
log=$results/targets_$tag.log
export OPTCL_BENCH_TAG=$tag
{
    bench/optimizers.sh "$build" "$rounds"
    bench/layouts.sh "$build" "$rounds" 2>"$results/layouts_$tag.jsonl"
    bench/guard.sh "$build" "$rounds"
    bench/precision.sh "$build" "$rounds" 2>"$results/precision_$tag.jsonl"
    bench/tensorwise.sh "$build" "$rounds"
} >"$log"
python3 bench/targets.py "$tag"
