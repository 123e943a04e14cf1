#!/usr/bin/env bash
# bench/abba.sh CLI_A CLI_B ROUNDS WHAT [ARGS ...] — A/B of two optcl builds (or wrappers that
# set an environment) on one `optcl bench WHAT ARGS --json`, in ABBA rounds: each round runs
# A, B, B, A and reports (B1 + B2) / (A1 + A2). On this project's 2-core VM the second run of a
# back-to-back pair came out about 8 % slower than the first, and its memory speed flips within
# seconds; plain A-then-B pairs gave 1.14 one way round and 0.98 the other for the same two
# builds. ABBA cancels the order; the spread of the rounds shows the noise. Prints the sorted
# per-round ratios and their median.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: bench/abba.sh CLI_A CLI_B ROUNDS WHAT [ARGS ...]" >&2
    exit 2
fi
a=$1 b=$2 rounds=$3
shift 3
seconds() {
    local cli=$1
    shift
    "$cli" bench "$@" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["seconds_per_step"])'
}
ratios=()
for _ in $(seq "$rounds"); do
    a1=$(seconds "$a" "$@")
    b1=$(seconds "$b" "$@")
    b2=$(seconds "$b" "$@")
    a2=$(seconds "$a" "$@")
    ratios+=("$(python3 -c "print('%.3f' % (($b1 + $b2) / ($a1 + $a2)))")")
done
printf '%s\n' "${ratios[@]}" | sort -n | python3 -c '
import statistics, sys
r = [float(x) for x in sys.stdin]
print("B/A per round:", " ".join("%.3f" % x for x in r), " median %.3f" % statistics.median(r))'
