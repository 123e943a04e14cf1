#!/usr/bin/env bash
# bench/precision.sh BUILD_DIR [ROUNDS] [N] — issue 13's speed targets on a noisy machine: ROUNDS
# rounds (default 7) in which every precision mode of Adam (and of SGD with momentum) runs back
# to back at n = N (default 2^24) in one tensor; with $PY2 set (PyTorch 2.x,
# ../shared/tools/torch2_env.sh) PyTorch's fused=True Adam with float32 and with bfloat16
# parameters right after. Prints per mode the medians over the rounds of: ms per step, the
# speed-up over float32 of the same rule in the same round, ratio_to_traffic, bytes per
# parameter, and PyTorch's time over optcl's. The raw JSON lines go to stderr.
set -euo pipefail
build=${1:-build}
rounds=${2:-7}
n=${3:-16777216}
bin=$build/optcl
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

modes=("adam" "adam state_dtype=bf16" "adam param_dtype=bf16" "adam param_dtype=f16"
       "adam param_dtype=bf16 master_weights=1" "adam param_dtype=bf16 rounding=stochastic"
       "sgd momentum=0.9" "sgd momentum=0.9 param_dtype=bf16" "sgd momentum=0.9 param_dtype=f16")
for ((r = 0; r < rounds; r++)); do
    for m in "${modes[@]}"; do
        # shellcheck disable=SC2086 # the mode's KEY=VALUE options are separate words
        $bin bench $m --n "$n" --steps 11 --json | sed "s/^{/{\"mode\": \"$m\", /" |
            tee -a "$tmp" >&2
    done
    if [ -n "${PY2:-}" ]; then
        for d in f32 bf16; do
            OMP_NUM_THREADS=$(nproc) "$PY2" "$here/torch_optim.py" --what adam --impl fused \
                --dtype $d --steps 11 --n "$n" --tensors 1 |
                sed "s/^{/{\"mode\": \"torch adam $d\", /" | tee -a "$tmp" >&2
        done
    fi
done

python3 - "$tmp" <<'PY'
import collections, json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by_round = collections.defaultdict(dict)
seen = collections.Counter()
for r in rows:
    by_round[seen[r["mode"]]][r["mode"]] = r
    seen[r["mode"]] += 1
med = lambda xs: statistics.median(xs) if xs else float("nan")
modes = list(dict.fromkeys(r["mode"] for r in rows))
print("| mode | ms | speed-up over f32 | ratio_to_traffic | B/param | torch fused bf16 / optcl |")
print("|---|---|---|---|---|---|")
for m in modes:
    if m.startswith("torch"):
        ms = med([rd[m]["seconds_per_step"] * 1e3 for rd in by_round.values() if m in rd])
        print("| %s | %.2f | | | | |" % (m, ms))
        continue
    base = m.split(" param_dtype")[0].split(" state_dtype")[0]
    rs = [rd for rd in by_round.values() if m in rd]
    ms = med([rd[m]["seconds_per_step"] * 1e3 for rd in rs])
    up = med([rd[base]["seconds_per_step"] / rd[m]["seconds_per_step"] for rd in rs if base in rd])
    ratio = med([rd[m]["ratio_to_traffic"] for rd in rs])
    bpp = rs[0][m]["bytes_per_step"] / rs[0][m]["n"]
    vs = med([rd["torch adam bf16"]["seconds_per_step"] / rd[m]["seconds_per_step"]
              for rd in rs if "torch adam bf16" in rd]) if m.startswith("adam") else float("nan")
    print("| %s | %.2f | %.2f | %.2f | %.1f | %s |" % (m, ms, up, ratio, bpp,
          "" if vs != vs else "%.2f" % vs))
PY
