#!/usr/bin/env bash
# bench/optimizers.sh [BUILD_DIR] [ROUNDS] — ratio_to_traffic of every optimizer at n = 2^24 on
# the default device: ROUNDS rounds (default 7), each running `optcl bench OPT --json` once per
# optimizer in turn (the rule and its traffic yardstick alternate within each run), then the
# median over the rounds per optimizer. Raw lines go to bench/results/optimizers_<host>.jsonl.
# The rules that look at whole tensors have scripts of their own (tensorwise.sh: LAMB, LARS and
# Adafactor against Adam on the same layouts; muon.sh: Muon, which steps 2-D matrices only).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-7}
cli=$build/optcl
names=$("$cli" replay --help | sed -n '/^OPTIMIZER/,/^P0/p' | sed '$d' |
    sed 's/^OPTIMIZER *one of://' | tr -d ',' | tr -s ' \n' '\n' |
    grep -v -x -E 'lamb|lars|adafactor|muon|' | tr '\n' ' ')
mkdir -p bench/results
raw=bench/results/optimizers_${OPTCL_BENCH_TAG:-$(hostname -s)}.jsonl
: >"$raw"
for r in $(seq "$rounds"); do
    for o in $names; do
        "$cli" bench "$o" --n 16777216 --json >>"$raw"
    done
done
python3 - "$raw" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    runs.setdefault(d["what"], []).append(d)
print("%-20s %8s %8s %6s  (median of %d runs; min-max ratio)" % (
    "optimizer", "B/param", "ms/step", "ratio", len(next(iter(runs.values())))))
for name, ds in runs.items():
    ratios = [d["ratio_to_traffic"] for d in ds]
    ms = statistics.median(d["seconds_per_step"] for d in ds) * 1e3
    print("%-20s %8.1f %8.2f %6.3f  (%.3f-%.3f)" % (
        name, ds[0]["bytes_per_step"] / ds[0]["n"], ms, statistics.median(ratios),
        min(ratios), max(ratios)))
PY
