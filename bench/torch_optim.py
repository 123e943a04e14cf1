#!/usr/bin/python3
"""bench/torch_optim.py — the same optimizer steps as `optcl bench`, in PyTorch on the CPU.

usage: /usr/bin/python3 bench/torch_optim.py [--n N ...] [--tensors K ...] [--steps S]
Prints one JSON object per measurement (fields as optcl bench: what, backend, n, tensors,
steps, seconds_per_step (median), params_per_s). Needs Debian's python3-torch; not part of CI.
"""
import argparse
import json
import time

import torch

OPTIMIZERS = {
    "sgd": lambda p, fe: torch.optim.SGD(p, lr=1e-3, foreach=fe),
    "sgd momentum=0.9": lambda p, fe: torch.optim.SGD(p, lr=1e-3, momentum=0.9, foreach=fe),
    "adam": lambda p, fe: torch.optim.Adam(p, foreach=fe),
    "adamw": lambda p, fe: torch.optim.AdamW(p, foreach=fe),
    "rmsprop": lambda p, fe: torch.optim.RMSprop(p, foreach=fe),
    "rprop": lambda p, fe: torch.optim.Rprop(p, foreach=fe),
}


def split(n, k):
    """k tensor sizes of varied size adding up to n (the same weights as optcl bench)."""
    weights = [1 + (i * 7919) % 97 for i in range(k)]
    total = sum(weights)
    sizes, used = [], 0
    for i, w in enumerate(weights):
        left = k - i - 1
        size = max(1, int(n * w / total))
        if i + 1 == k or used + size + left > n:
            size = n - used - left
        sizes.append(size)
        used += size
    return sizes


def measure(name, n, k, foreach, steps):
    params = [torch.zeros(s, requires_grad=True) for s in split(n, k)]
    for p in params:
        p.grad = torch.randn(p.shape)
    opt = OPTIMIZERS[name](params, foreach)
    for _ in range(3):
        opt.step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
    sec = sorted(times)[len(times) // 2]
    return {"what": name, "backend": "torch-%s foreach=%d" % (torch.__version__, foreach),
            "n": n, "tensors": k, "steps": steps, "seconds_per_step": sec,
            "params_per_s": n / sec, "threads": torch.get_num_threads()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[1 << 20, 1 << 24, 1 << 26])
    ap.add_argument("--tensors", type=int, nargs="+", default=[1, 1000])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--what", nargs="+", default=list(OPTIMIZERS))
    args = ap.parse_args()
    for name in args.what:
        for n in args.n:
            for k in args.tensors:
                for foreach in (False, True):
                    print(json.dumps(measure(name, n, k, foreach, args.steps)), flush=True)


if __name__ == "__main__":
    main()
