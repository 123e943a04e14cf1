#!/usr/bin/env bash
# bench/ratio_runs.sh BUILD_DIR [RUNS] — issue 5's ratio target on a noisy machine: RUNS rounds
# (default 9) of the five targeted optimizers at n = 16M, interleaved so that a disturbance hits
# all of them alike; prints each run's ratio_to_traffic and the median per optimizer. The raw
# JSON lines go to stderr.
set -euo pipefail
bin=${1:-build}/optcl
runs=${2:-9}
whats=("adam" "adamw" "sgd momentum=0.9" "rmsprop" "rprop")
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for ((r = 0; r < runs; r++)); do
    for what in "${whats[@]}"; do
        # shellcheck disable=SC2086 # the KEY=VALUE options are separate words
        $bin bench $what --n 16777216 --steps 15 --json | tee -a "$tmp" >&2
    done
done
python3 - "$tmp" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for what in dict.fromkeys(r["what"] for r in rows):
    ratios = [r["ratio_to_traffic"] for r in rows if r["what"] == what]
    print(f"{what:18s} median {statistics.median(ratios):.3f}  runs " +
          " ".join(f"{x:.2f}" for x in ratios))
PY
