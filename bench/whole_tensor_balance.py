#!/usr/bin/python3
"""bench/whole_tensor_balance.py [OPTCL] — how even the sharded optimizer's shards are for the
rules that look at whole tensors (docs/SCALING.md): each shard takes the next tensors in order
while they fit in S, S the least multiple of 16 with which K shards take them all (as
host/mpi/layout.c). Prints S / (N/K), the largest rank's state against an even share, for
`optcl bench --model` layouts, all tensors and (Muon's case) the matrices without embeddings.
OPTCL: the optcl binary (default build/optcl)."""
import subprocess
import sys

OPTCL = sys.argv[1] if len(sys.argv) > 1 else "build/optcl"
MODELS = ["resnet50", "bert-base", "gpt2", "llama-1b"]


def tensors(model):
    """(name, shape) per tensor of `optcl bench --model MODEL --print-layout`."""
    out = subprocess.run([OPTCL, "bench", "--model", model, "--print-layout"], check=True,
                         capture_output=True, text=True).stdout
    result = []
    for line in out.splitlines():
        if line.startswith("#") or ":" not in line:
            continue
        name, rest = line.split(":", 1)
        result.append((name.strip(), [int(d) for d in rest.split("#")[0].strip().split("x")]))
    return result


def shards_used(widths, s):
    used, load = 1, 0
    for w in widths:
        if load + w > s:
            used, load = used + 1, 0
        load += w
    return used


def least_shard(widths, k, align=16):
    up = lambda v: (v + align - 1) // align
    lo, hi = up(max(-(-sum(widths) // k), max(widths))), up(sum(widths))
    while lo < hi:
        mid = (lo + hi) // 2
        if shards_used(widths, mid * align) <= k:
            hi = mid
        else:
            lo = mid + 1
    return lo * align


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


print("| model | tensors | N | largest | K = 2 | K = 4 | K = 8 | K = 16 |")
print("|---|---|---|---|---|---|---|---|")
for model in MODELS:
    layout = tensors(model)
    for label, chosen in (("all", layout),
                          ("matrices, no embeddings",
                           [t for t in layout if len(t[1]) == 2 and "emb" not in t[0]
                            and not t[0].startswith(("wte", "wpe"))])):
        widths = [numel(shape) for _, shape in chosen]
        if len(widths) < 2:  # resnet50's convolutions are 4-D: Muon is not for them
            continue
        n = sum(widths)
        ratios = " | ".join(f"{least_shard(widths, k) / (n / k):.2f}" for k in (2, 4, 8, 16))
        print(f"| {model} ({label}) | {len(widths)} | {n / 1e6:.1f} M | "
              f"{max(widths) / 1e6:.1f} M ({max(widths) / n:.1%}) | {ratios} |")
