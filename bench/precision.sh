#!/usr/bin/env bash
# bench/precision.sh BUILD_DIR [ROUNDS] [N] — issue 13's speed targets on a noisy machine: ROUNDS
# rounds (default 5) in which every precision mode of Adam (and of SGD with momentum) runs right
# after the float32 step of the same rule, as a back-to-back pair, at n = N (default 2^24) in
# one tensor; with $PY2 set (PyTorch 2.x, ../shared/tools/torch2_env.sh) PyTorch's fused=True
# Adam with bfloat16 parameters runs right after optcl's. Prints per mode the medians over the
# rounds of: ms per step, the speed-up over its float32 partner, ratio_to_traffic, bytes per
# parameter, and PyTorch's time over optcl's. The raw JSON lines go to stderr.
set -euo pipefail
build=${1:-build}
rounds=${2:-7}
n=${3:-16777216}
bin=$build/optcl
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

modes=("adam state_dtype=bf16" "adam param_dtype=bf16" "adam param_dtype=f16"
       "adam param_dtype=bf16 master_weights=1" "adam param_dtype=bf16 rounding=stochastic"
       "sgd momentum=0.9 param_dtype=bf16" "sgd momentum=0.9 param_dtype=f16"
       "adam state_dtype=int8" "adam param_dtype=bf16 state_dtype=int8"
       "sgd momentum=0.9 state_dtype=int8")
bench() { # $1: the label; the rest: optcl bench's arguments
    local label=$1
    shift
    $bin bench "$@" --n "$n" --steps 11 --json | sed "s/^{/{\"mode\": \"$label\", /" |
        tee -a "$tmp" >&2
}
for ((r = 0; r < rounds; r++)); do
    for m in "${modes[@]}"; do
        base=${m%% param_dtype*}
        base=${base%% state_dtype*}
        # shellcheck disable=SC2086 # the modes' KEY=VALUE options are separate words
        bench "f32 partner of $m" $base
        # shellcheck disable=SC2086
        bench "$m" $m
        if [ -n "${PY2:-}" ] && [ "$m" = "adam param_dtype=bf16" ]; then
            OMP_NUM_THREADS=$(nproc) "$PY2" "$here/torch_optim.py" --what adam --impl fused \
                --dtype bf16 --steps 11 --n "$n" --tensors 1 |
                sed "s/^{/{\"mode\": \"torch partner of $m\", /" | tee -a "$tmp" >&2
        fi
    done
done

python3 - "$tmp" <<'PY'
import collections, json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
runs = collections.defaultdict(list)  # label -> rows in order, one per round
for r in rows:
    runs[r["mode"]].append(r)
med = statistics.median
print("| mode | ms | float32 partner ms | speed-up | ratio_to_traffic | B/param | "
      "torch fused bf16 / optcl |")
print("|---|---|---|---|---|---|---|")
for m, rs in runs.items():
    if m.startswith("f32 partner") or m.startswith("torch"):
        continue
    base = runs["f32 partner of " + m]
    torch = runs.get("torch partner of " + m, [])
    print("| %s | %.2f | %.2f | %.2f | %.2f | %.1f | %s |" % (
        m, med(r["seconds_per_step"] for r in rs) * 1e3,
        med(r["seconds_per_step"] for r in base) * 1e3,
        med(b["seconds_per_step"] / r["seconds_per_step"] for b, r in zip(base, rs)),
        med(r["ratio_to_traffic"] for r in rs), rs[0]["bytes_per_step"] / rs[0]["n"],
        "%.2f" % med(t["seconds_per_step"] / r["seconds_per_step"] for t, r in zip(torch, rs))
        if torch else ""))
PY
