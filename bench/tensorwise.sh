#!/usr/bin/env bash
# bench/tensorwise.sh [BUILD_DIR] [ROUNDS] — the rules that look at whole tensors (LAMB, LARS,
# Adafactor) against Adam on the same layouts: n = 2^24 in one tensor and over 1000 tensors
# (1-D: Adafactor factors nothing there), and the gpt2 and resnet50 layouts. Each round runs
# `optcl bench OPT --json` for adam, lamb, lars and adafactor back to back per layout; a rule's time is divided by Adam's of the same round and layout,
# and the medians over ROUNDS (default 5) are printed. Raw lines go to
# bench/results/tensorwise_<host>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-5}
cli=$build/optcl
raw=bench/results/tensorwise_${OPTCL_BENCH_TAG:-$(hostname -s)}.jsonl
mkdir -p bench/results
: >"$raw"
layouts=("--n 16777216 --tensors 1" "--n 16777216 --tensors 1000" "--model gpt2"
         "--model resnet50")
for r in $(seq "$rounds"); do
    for layout in "${layouts[@]}"; do
        for o in adam lamb lars adafactor; do
            # shellcheck disable=SC2086 # the layout's options are separate words
            "$cli" bench "$o" $layout --steps 10 --json |
                sed "s/^{/{\"round\": $r, \"layout\": \"$layout\", /" >>"$raw"
        done
    done
done
python3 - "$raw" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
adam = {(d["round"], d["layout"]): d["seconds_per_step"] for d in rows if d["what"] == "adam"}
print("%-28s %-6s %8s %8s %9s %7s" % ("layout", "rule", "B/param", "ms/step", "vs Adam", "ratio"))
for layout in dict.fromkeys(d["layout"] for d in rows):
    for what in ("adam", "lamb", "lars", "adafactor"):
        ds = [d for d in rows if d["layout"] == layout and d["what"] == what]
        rel = [d["seconds_per_step"] / adam[(d["round"], layout)] for d in ds]
        print("%-28s %-6s %8.1f %8.2f %9.3f %7.3f" % (
            layout, what, ds[0]["bytes_per_step"] / ds[0]["n"],
            statistics.median(d["seconds_per_step"] for d in ds) * 1e3,
            statistics.median(rel), statistics.median(d["ratio_to_traffic"] for d in ds)))
PY
