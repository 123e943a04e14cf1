#!/usr/bin/python3
"""bench/torch_optim.py — the same optimizer steps as `optcl bench`, in PyTorch on the CPU.

usage: python3 bench/torch_optim.py [--n N ...] [--tensors K ...] [--steps S] [--what OPT ...]
                                    [--impl single|foreach|fused ...] [--dtype f32|bf16|f16]
       python3 bench/torch_optim.py --model NAME [--optcl PATH] | --shapes FILE  [...]
Prints one JSON object per measurement (fields as optcl bench: what, backend, model, n,
tensors, steps, seconds_per_step (median), params_per_s). --model takes the layout from
`optcl bench --model NAME --print-layout` (the optcl command at --optcl, default build/optcl),
--shapes reads the same file format; tensors of 2 or more dimensions form one parameter group
and the rest another, as in optcl bench. fused=True needs PyTorch 2.x (Debian's 1.13 has
single and foreach only). Not part of CI.
"""
import argparse
import json
import os
import re
import subprocess
import time

import torch

OPTIMIZERS = {  # (constructor, keyword arguments); torch's defaults otherwise, as optcl bench
    "sgd": (torch.optim.SGD, {"lr": 1e-3}),
    "sgd momentum=0.9": (torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9}),
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "rprop": (torch.optim.Rprop, {}),
}
if hasattr(torch.optim, "Adafactor"):  # PyTorch 2.5 and later; no fused=True
    OPTIMIZERS["adafactor"] = (torch.optim.Adafactor, {})
IMPLS = {"single": {"foreach": False}, "foreach": {"foreach": True},
         "fused": {"fused": True}}


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


def read_shapes(lines):
    """Shapes in optcl bench's --shapes format: "[NAME:] D1 [D2 ...]" (spaces, x or commas),
    "()" for a scalar, '#' comments."""
    shapes = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        text = text.split(":", 1)[1] if ":" in text else text
        text = text.strip()
        if text in ("()", "scalar"):
            shapes.append(())
            continue
        shapes.append(tuple(int(d) for d in re.split(r"[\sx,]+", text) if d))
    return shapes


def model_shapes(optcl, name):
    out = subprocess.run([optcl, "bench", "--model", name, "--print-layout"], check=True,
                         capture_output=True, text=True).stdout
    return shapes_of(out)


def shapes_of(text):
    return read_shapes(text.splitlines())


DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


def measure(name, shapes, impl, steps, label, dtype="f32"):
    params = [torch.zeros(s, dtype=DTYPES[dtype], requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape).to(DTYPES[dtype])
    groups = [{"params": [p for p in params if p.dim() >= 2]},
              {"params": [p for p in params if p.dim() < 2]}]
    groups = [g for g in groups if g["params"]]
    ctor, kwargs = OPTIMIZERS[name]
    opt = ctor(groups, **kwargs, **IMPLS[impl])
    for _ in range(3):
        opt.step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
    sec = sorted(times)[len(times) // 2]
    n = sum(p.numel() for p in params)
    return {"what": name, "backend": "torch-%s %s" % (torch.__version__, impl), "model": label,
            "n": n, "tensors": len(params), "steps": steps, "seconds_per_step": sec,
            "params_per_s": n / sec, "threads": torch.get_num_threads(), "param_dtype": dtype}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[1 << 20, 1 << 24, 1 << 26])
    ap.add_argument("--tensors", type=int, nargs="+", default=[1, 1000])
    ap.add_argument("--model", nargs="+", default=[])
    ap.add_argument("--shapes", nargs="+", default=[])
    ap.add_argument("--optcl", default="build/optcl")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--what", nargs="+", default=list(OPTIMIZERS))
    ap.add_argument("--impl", nargs="+", default=["single", "foreach"], choices=list(IMPLS))
    ap.add_argument("--dtype", default="f32", choices=list(DTYPES),
                    help="parameters and gradients (and fused=True's state) in this type")
    args = ap.parse_args()
    layouts = []
    for m in args.model:
        layouts.append((m, model_shapes(args.optcl, m)))
    for path in args.shapes:
        with open(path) as f:
            layouts.append(("shapes:" + os.path.basename(path), read_shapes(f)))
    if not layouts:
        for n in args.n:
            for k in args.tensors:
                label = "one tensor" if k == 1 else "%d tensors" % k
                layouts.append((label, [(s,) for s in split(n, k)]))
    for name in args.what:
        for label, shapes in layouts:
            for impl in args.impl:
                print(json.dumps(measure(name, shapes, impl, args.steps, label, args.dtype)),
                      flush=True)


if __name__ == "__main__":
    main()
