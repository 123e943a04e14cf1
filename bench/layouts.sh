#!/usr/bin/env bash
# bench/layouts.sh BUILD_DIR [ROUNDS] [WHAT] — issue 14's targets on a noisy machine: ROUNDS
# rounds (default 7) in which every layout runs back to back: n = 2^24 in one tensor (the
# well-shaped case), 2^24 + 16 in one tensor, 2^24 over 1000 tensors, and each --model layout
# (llama-1b only when MODELS names it: its Adam buffers need 20 GB) beside one tensor of the
# same n; with $PY2 set (PyTorch 2.x, ../shared/tools/torch2_env.sh) PyTorch's fused=True step
# on the same layout right after. Prints, per layout, the medians over the rounds of: the time
# against 2^24 in one tensor of the same round, ratio_to_traffic, params/s against one tensor of
# the same n, and PyTorch's time over optcl's. The raw JSON lines go to stderr.
set -euo pipefail
build=${1:-build}
rounds=${2:-7}
what=${3:-adam}
bin=$build/optcl
models=${MODELS:-resnet50 bert-base gpt2}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# $1: the layout's label; the rest: optcl bench's layout options.
run() {
    local label=$1
    shift
    # shellcheck disable=SC2086 # WHAT may carry KEY=VALUE options
    $bin bench $what "$@" --steps 11 --json | sed "s/^{/{\"layout\": \"$label\", /" |
        tee -a "$tmp" >&2
}

torch() {
    [ -n "${PY2:-}" ] || return 0
    OMP_NUM_THREADS=$(nproc) "$PY2" "$here/torch_optim.py" --what "$what" --impl fused \
        --steps 11 --optcl "$bin" "$@" | sed "s/^{/{\"layout\": \"$label\", /" |
        tee -a "$tmp" >&2
}

n_of() { $bin bench --model "$1" --print-layout | tail -1 | awk '{print $4}'; }

for ((r = 0; r < rounds; r++)); do
    run one16M --n 16777216
    label=one16M torch --n 16777216 --tensors 1
    run odd16M --n 16777232
    label=odd16M torch --n 16777232 --tensors 1
    run t1000 --n 16777216 --tensors 1000
    label=t1000 torch --n 16777216 --tensors 1000
    for m in $models; do
        run "$m" --model "$m"
        run "$m-one" --n "$(n_of "$m")"
        label=$m torch --model "$m"
    done
done

python3 - "$tmp" <<'PY'
import collections, json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rounds = collections.defaultdict(dict)  # round -> (layout, kind) -> row
seen = collections.Counter()
for r in rows:
    kind = "torch" if r["backend"].startswith("torch") else "optcl"
    key = (r["layout"], kind)
    rounds[seen[key]][key] = r
    seen[key] += 1
layouts = list(dict.fromkeys(r["layout"] for r in rows if not r["layout"].endswith("-one")))
print(f"{'layout':10s} {'n':>11s} {'tensors':>7s} {'ms/step':>9s} {'vs 2^24':>8s} "
      f"{'ratio':>6s} {'vs one':>7s} {'torch ms':>9s} {'torch/optcl':>11s}")
for layout in layouts:
    def med(f):
        xs = [f(rd) for rd in rounds.values() if f(rd) is not None]
        return statistics.median(xs) if xs else float("nan")
    def get(rd, l, k="optcl"):
        return rd.get((l, k))
    o = lambda rd: get(rd, layout)
    t = lambda rd, l=layout: (get(rd, l)["seconds_per_step"] if get(rd, l) else None)
    ms = med(lambda rd: t(rd) * 1e3 if t(rd) else None)
    vs16 = med(lambda rd: t(rd) / t(rd, "one16M") if t(rd) and t(rd, "one16M") else None)
    ratio = med(lambda rd: o(rd)["ratio_to_traffic"] if o(rd) else None)
    vs_one = med(lambda rd: o(rd)["params_per_s"] / get(rd, layout + "-one")["params_per_s"]
                 if o(rd) and get(rd, layout + "-one") else None)
    torch_ms = med(lambda rd: get(rd, layout, "torch")["seconds_per_step"] * 1e3
                   if get(rd, layout, "torch") else None)
    torch_x = med(lambda rd: get(rd, layout, "torch")["seconds_per_step"] / t(rd)
                  if get(rd, layout, "torch") and t(rd) else None)
    any_row = next(rd for rd in rounds.values() if o(rd))[(layout, "optcl")]
    print(f"{layout:10s} {any_row['n']:11d} {any_row['tensors']:7d} {ms:9.2f} {vs16:8.3f} "
          f"{ratio:6.3f} {vs_one:7.3f} {torch_ms:9.2f} {torch_x:11.2f}")
PY
