#!/usr/bin/python3
"""bench/table.py OPTCL.jsonl TORCH.jsonl — the Markdown tables of docs/PERFORMANCE.md from the
JSON lines of bench/run_all.sh (optcl bench) and bench/torch_optim.py."""
import json
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def main():
    optcl, torch = load(sys.argv[1]), load(sys.argv[2])
    whats = ["adam", "adamw", "sgd", "sgd momentum=0.9", "rmsprop", "rprop"]
    sizes = [1 << 20, 1 << 24, 1 << 26]
    for what in whats:
        print("\n### %s\n" % what)
        print("| n | optcl PoCL ms/step | GB/s | Gparam/s | ratio_to_traffic | optcl reference "
              "ms/step | Gparam/s | torch 1 tensor ms (foreach off / on) | torch 1000 tensors "
              "ms (off / on) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for n in sizes:
            cl = [r for r in optcl if r["what"] == what and r["n"] == n and r["tensors"] == 1
                  and r["backend"] == "opencl"]
            ref = [r for r in optcl if r["what"] == what and r["n"] == n and r["tensors"] == 1
                   and r["backend"] == "reference"]
            t = {(r["tensors"], r["backend"].endswith("=1")): r["seconds_per_step"] * 1e3
                 for r in torch if r["what"] == what and r["n"] == n}
            if not cl or not ref:
                continue
            c, f = cl[0], ref[0]
            print("| %dM | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f | %s / %s | %s / %s |" % (
                n >> 20, c["seconds_per_step"] * 1e3, c["gbytes_per_s"],
                c["params_per_s"] / 1e9, c["ratio_to_traffic"], f["seconds_per_step"] * 1e3,
                f["params_per_s"] / 1e9,
                *["%.2f" % t[k] if k in t else "–"
                  for k in [(1, False), (1, True), (1000, False), (1000, True)]]))


if __name__ == "__main__":
    main()
