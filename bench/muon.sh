#!/usr/bin/env bash
# bench/muon.sh [BUILD_DIR] [ROUNDS] — Muon's Newton–Schulz products against CLBlast's own
# SGEMM rate for the same products (build/clblast_sgemm), and its element-wise part against
# the traffic yardstick (ns_steps=0: no products). Each round runs, per shape, `optcl bench
# muon --shape R,C --json` (or --shapes for COUNT matrices), then `clblast_sgemm R C COUNT 5`,
# then the ns_steps=0 run, back to back; the medians over ROUNDS (default 5) of Muon's
# GFLOP/s over CLBlast's (same round) and of ns_steps=0's ratio_to_traffic are printed. Raw
# lines go to bench/results/muon_<host>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-5}
raw=bench/results/muon_${OPTCL_BENCH_TAG:-$(hostname -s)}.jsonl
mkdir -p bench/results
: >"$raw"
shapes=$(mktemp)
trap 'rm -f "$shapes"' EXIT
for i in $(seq 12); do echo "layer$i: 256x256"; done >"$shapes"
cases=("256 256 1" "256 1024 1" "1024 256 1" "512 512 1" "256 256 12")
for r in $(seq "$rounds"); do
    for c in "${cases[@]}"; do
        read -r rows cols count <<<"$c"
        layout=(--shape "$rows,$cols")
        [ "$count" = 1 ] || layout=(--shapes "$shapes")
        tag="\"round\": $r, \"case\": \"${rows}x${cols}x${count}\""
        "$build/optcl" bench muon "${layout[@]}" --steps 3 --json | sed "s/^{/{$tag, /" >>"$raw"
        "$build/clblast_sgemm" "$rows" "$cols" "$count" 5 | sed "s/^{/{$tag, /" >>"$raw"
        "$build/optcl" bench muon "${layout[@]}" --steps 5 --json ns_steps=0 |
            sed "s/^{/{$tag, \"elementwise\": 1, /" >>"$raw"
    done
done
python3 - "$raw" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("%-14s %10s %12s %14s %9s %14s" % ("RxCxcount", "muon ms", "muon GFLOP/s", "CLBlast GFLOP/s",
                                          "ratio", "elementwise"))
for case in dict.fromkeys(d["case"] for d in rows):
    muon = {d["round"]: d for d in rows if d["case"] == case and d.get("what") == "muon"
            and "elementwise" not in d}
    blas = {d["round"]: d for d in rows if d["case"] == case and d["what"] == "clblast_sgemm"}
    elem = [d["ratio_to_traffic"] for d in rows if d["case"] == case and "elementwise" in d]
    ratio = [muon[k]["gflops_per_s"] / blas[k]["gflops_per_s"] for k in muon]
    print("%-14s %10.2f %12.2f %14.2f %9.3f %14.3f" % (
        case, statistics.median(m["seconds_per_step"] for m in muon.values()) * 1e3,
        statistics.median(m["gflops_per_s"] for m in muon.values()),
        statistics.median(b["gflops_per_s"] for b in blas.values()),
        statistics.median(ratio), statistics.median(elem)))
PY
