#!/usr/bin/env python3
"""bench/targets.py TAG — every speed target of issues 13-16, judged from the raw lines that
bench/targets.sh (or the five scripts it runs) left in bench/results/*_TAG.jsonl: a markdown
table of target, measured figure and verdict, one row per target, for the host the lines came
from. Medians over rounds, ratios taken within a round (this project's machines change speed
within seconds). A target whose lines are missing is listed as not measured.

    python3 bench/targets.py pocl_zen5
"""
import collections
import json
import os
import statistics
import sys

med = statistics.median
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
NEW_OPTIMIZERS = ["adagrad", "adadelta", "adamax", "nadam", "radam", "asgd", "lion",
                  "adamw_schedulefree", "sgd_schedulefree"]


def load(name, tag):
    path = os.path.join(RESULTS, "%s_%s.jsonl" % (name, tag))
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def verdict(ok):
    return "met" if ok else "**not met**"


def optimizers(rows):
    """Issue 15: ratio_to_traffic >= 0.95 at 16M for each new optimizer (bench/optimizers.sh)."""
    ratios = collections.defaultdict(list)
    for r in rows:
        ratios[r["what"]].append(r["ratio_to_traffic"])
    got = {o: med(ratios[o]) for o in NEW_OPTIMIZERS if o in ratios}
    worst = min(got, key=got.get)
    return [(15, "each new optimizer: ratio_to_traffic >= 0.95 at 16M",
             "medians of %d runs: lowest %s %.3f, highest %.3f" % (
                 len(ratios[worst]), worst, got[worst], max(got.values())),
             verdict(len(got) == len(NEW_OPTIMIZERS) and got[worst] >= 0.95))]


def guard(rows):
    """Issue 14: the guard <= 1.16x at 16M and <= 6 us at n = 1024 (bench/guard.sh, ABBA)."""
    out = []
    for n, what, limit in ((16777216, "<= 1.16x the unguarded Adam step at 16M", 1.16),
                           (1024, "<= 6 us per guarded step at n = 1024", 6e-6)):
        runs = [r["seconds_per_step"] for r in rows if r["n"] == n]
        rounds = [runs[k:k + 4] for k in range(0, len(runs) - 3, 4)]
        ratio = med((b1 + b2) / (a1 + a2) for a1, b1, b2, a2 in rounds)
        guarded = med((b1 + b2) / 2 for _, b1, b2, _ in rounds)
        if n == 1024:
            out.append((14, "guard " + what, "%.2f us (%.2fx unguarded)" % (guarded * 1e6, ratio),
                        verdict(guarded <= limit)))
        else:
            out.append((14, "guard " + what, "%.3fx" % ratio, verdict(ratio <= limit)))
    return out


def layouts(rows):
    """Issue 14: odd sizes and 1000 tensors within 1.03x of one tensor; model layouts at
    ratio_to_traffic >= 0.95 and params/s within 5 % of one tensor of the same n; faster than
    PyTorch's fused Adam on every layout (bench/layouts.sh)."""
    rounds = collections.defaultdict(dict)
    seen = collections.Counter()
    for r in rows:
        key = (r["layout"], "torch" if r["backend"].startswith("torch") else "optcl")
        rounds[seen[key]][key] = r
        seen[key] += 1
    rounds = list(rounds.values())

    def per_round(f):
        values = []
        for rd in rounds:
            try:
                values.append(f(rd))
            except KeyError:
                pass
        return med(values) if values else None

    t = lambda rd, lay, kind="optcl": rd[(lay, kind)]["seconds_per_step"]
    out = []
    shapes = [per_round(lambda rd, lay=lay: t(rd, lay) / t(rd, "one16M"))
              for lay in ("odd16M", "t1000")]
    out.append((14, "Adam at 2^24 + 16 and over 1000 tensors <= 1.03x 2^24 in one tensor",
                "%.3f and %.3f" % tuple(shapes), verdict(max(shapes) <= 1.03)))
    models = sorted({lay for rd in rounds for lay, _ in rd if lay.endswith("-one")})
    models = [m[:-len("-one")] for m in models]
    ratio = {m: per_round(lambda rd, m=m: rd[(m, "optcl")]["ratio_to_traffic"]) for m in models}
    speed = {m: per_round(lambda rd, m=m: rd[(m, "optcl")]["params_per_s"] /
                          rd[(m + "-one", "optcl")]["params_per_s"]) for m in models}
    out.append((14, "every --model layout: ratio_to_traffic >= 0.95",
                ", ".join("%s %.3f" % (m, ratio[m]) for m in models),
                verdict(min(ratio.values()) >= 0.95)))
    out.append((14, "every --model layout: params/s within 5 % of one tensor of the same n",
                ", ".join("%s %.3f" % (m, speed[m]) for m in models),
                verdict(all(abs(v - 1) <= 0.05 for v in speed.values()))))
    labels = ["one16M", "odd16M", "t1000"] + models
    vs = {lay: per_round(lambda rd, lay=lay: t(rd, lay, "torch") / t(rd, lay)) for lay in labels}
    if any(v is None for v in vs.values()):
        out.append((14, "faster than PyTorch fused=True Adam on every layout",
                    "no PyTorch lines ($PY2 unset)", "not measured"))
    else:
        out.append((14, "faster than PyTorch fused=True Adam on every layout",
                    "torch / optcl: " + ", ".join("%s %.2f" % (k, v) for k, v in vs.items()),
                    verdict(min(vs.values()) > 1.0)))
    return out


PRECISION = [  # issue 13: (mode, speed-up over float32 Adam asked)
    ("adam state_dtype=bf16", 1.3), ("adam param_dtype=bf16", 1.8),
    ("adam state_dtype=int8", 1.4), ("adam param_dtype=bf16 state_dtype=int8", 2.0)]


def precision(rows):
    """Issue 13: speed-ups over the float32 partner in the same round, ratio_to_traffic in every
    mode (8-bit: >= 0.85), and PyTorch's fused bfloat16 Adam (bench/precision.sh)."""
    runs = collections.defaultdict(list)
    for r in rows:
        runs[r["mode"]].append(r)
    out = []
    for mode, asked in PRECISION:
        rs, base = runs.get(mode), runs.get("f32 partner of " + mode)
        if not rs or not base:
            out.append((13, "%s >= %.1fx float32 Adam" % (mode, asked), "no lines",
                        "not measured"))
            continue
        up = med(b["seconds_per_step"] / r["seconds_per_step"] for b, r in zip(base, rs))
        out.append((13, "%s >= %.1fx float32 Adam" % (mode, asked), "%.2fx" % up,
                    verdict(up >= asked)))
    modes = [m for m in runs if not m.startswith(("f32 partner", "torch"))]
    low = {m: med(r["ratio_to_traffic"] for r in runs[m]) for m in modes}
    short = [m for m in modes if low[m] < (0.85 if "int8" in m else 0.95)]
    out.append((13, "ratio_to_traffic >= 0.95 in every mode (8-bit >= 0.85)",
                "below: " + ", ".join("%s %.2f" % (m, low[m]) for m in short) if short
                else "lowest %.2f" % min(low.values()), verdict(not short)))
    torch = runs.get("torch partner of adam param_dtype=bf16")
    if torch:
        vs = med(t["seconds_per_step"] / r["seconds_per_step"]
                 for t, r in zip(torch, runs["adam param_dtype=bf16"]))
        out.append((13, ">= 1.0x PyTorch's fused bfloat16 Adam", "%.2fx" % vs,
                    verdict(vs >= 1.0)))
    return out


def tensorwise(rows):
    """Issue 16: LAMB, LARS and Adafactor <= 1.35x Adam at 16M over 1000 tensors, and 1000
    tensors within 1.05x of one (bench/tensorwise.sh)."""
    time = {(r["round"], r["layout"], r["what"]): r["seconds_per_step"] for r in rows}
    rounds = sorted({k[0] for k in time})
    one, many = "--n 16777216 --tensors 1", "--n 16777216 --tensors 1000"
    out = []
    for rule in ("lamb", "lars", "adafactor"):
        vs_adam = med(time[(r, many, rule)] / time[(r, many, "adam")] for r in rounds)
        spread = med(time[(r, many, rule)] / time[(r, one, rule)] for r in rounds)
        out.append((16, "%s <= 1.35x Adam over 1000 tensors; 1000 tensors <= 1.05x one" % rule,
                    "%.2fx Adam; %.2fx one tensor" % (vs_adam, spread),
                    verdict(vs_adam <= 1.35 and spread <= 1.05)))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench/targets.py TAG   (reads bench/results/*_TAG.jsonl)")
    tag = sys.argv[1]
    print("| issue | target | measured | |")
    print("|---|---|---|---|")
    for name, judge in (("optimizers", optimizers), ("layouts", layouts), ("guard", guard),
                        ("precision", precision), ("tensorwise", tensorwise)):
        rows = load(name, tag)
        if rows is None:
            print("| | %s | no bench/results/%s_%s.jsonl | not measured |" % (
                judge.__doc__.split(":")[0], name, tag))
            continue
        for issue, target, measured, ok in judge(rows):
            print("| %d | %s | %s | %s |" % (issue, target, measured, ok))


if __name__ == "__main__":
    main()
