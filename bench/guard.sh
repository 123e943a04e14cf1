#!/usr/bin/env bash
# bench/guard.sh [BUILD_DIR] [ROUNDS] — what the gradient guard costs (issue 14's targets: at
# most 1.16× the unguarded Adam step at n = 16M, at most 6 µs per step at n = 1024): per n,
# ROUNDS rounds (default 7) of `optcl bench adam --n N --json` unguarded (A) and with
# `clip_norm=1 nonfinite=skip` (B) in the order A B B A, which cancels the drift of a noisy
# machine within a round. Prints per n the medians over the rounds of both times and of the
# rounds' (B1 + B2) / (A1 + A2). Raw lines go to bench/results/guard_<host>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-7}
cli=$build/optcl
raw=bench/results/guard_${OPTCL_BENCH_TAG:-$(hostname -s)}.jsonl
mkdir -p bench/results
: >"$raw"
for _ in $(seq "$rounds"); do
    for n in 16777216 1024; do
        for guarded in 0 1 1 0; do
            if [ "$guarded" = 1 ]; then
                "$cli" bench adam clip_norm=1 nonfinite=skip --n "$n" --json >>"$raw"
            else
                "$cli" bench adam --n "$n" --json >>"$raw"
            fi
        done
    done
done
python3 - "$raw" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("%-10s %14s %14s %8s  (medians of %d rounds)" % (
    "n", "plain", "guarded", "ratio", len(rows) // 8))
for n in sorted({r["n"] for r in rows}, reverse=True):
    runs = [r["seconds_per_step"] for r in rows if r["n"] == n]
    rounds = [runs[k:k + 4] for k in range(0, len(runs), 4)]
    unit, scale = ("ms", 1e3) if n > 65536 else ("us", 1e6)
    plain = statistics.median((a1 + a2) / 2 for a1, _, _, a2 in rounds) * scale
    guarded = statistics.median((b1 + b2) / 2 for _, b1, b2, _ in rounds) * scale
    ratio = statistics.median((b1 + b2) / (a1 + a2) for a1, b1, b2, a2 in rounds)
    print("%-10d %11.2f %s %11.2f %s %8.3f" % (n, plain, unit, guarded, unit, ratio))
PY
