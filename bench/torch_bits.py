#!/usr/bin/env python3
"""How many of optcl's float32 results equal PyTorch's to the bit, per optimizer and option set,
against each of torch's CPU paths (single-tensor: torch.optim's default on the CPU; foreach;
fused where torch has it). Not part of CI (it needs PyPI's torch: ../shared/tools/torch2_env.sh).

    OPTCL=build/optcl BACKEND=reference $PY2 bench/torch_bits.py [OPTIMIZER ...]

N = 1003 parameters, T = 20 steps of random gradients; per path: the share of the T·N values
equal to torch's ("eq"), the same for step 1 alone, and the largest relative difference.
docs/PRECISION.md ("Against torch.optim in float32, to the bit") has the figures."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

OPTCL = os.environ.get("OPTCL", "build/optcl")
BACKEND = os.environ.get("BACKEND", "reference")
os.chdir(tempfile.mkdtemp(prefix="torch_bits."))
rng = np.random.default_rng(1)
N, T = 1003, 20
p0 = rng.standard_normal(N).astype(np.float32)
G = (rng.standard_normal((T, N)) * 0.1).astype(np.float32)
np.save("p0.npy", p0); np.save("G.npy", G)
CONFIGS = [
 ("sgd","SGD","lr=0.01"), ("sgd","SGD","lr=0.01 momentum=0.9"), ("sgd","SGD","lr=0.01 momentum=0.9 dampening=0.1 weight_decay=0.01"),
 ("sgd","SGD","lr=0.01 momentum=0.9 nesterov=1 weight_decay=0.01"),
 ("adam","Adam","lr=0.01"), ("adam","Adam","lr=0.01 weight_decay=0.1"), ("adam","Adam","lr=0.01 amsgrad=1"),
 ("adamw","AdamW","lr=0.01"), ("adamw","AdamW","lr=0.01 amsgrad=1 weight_decay=0.1"),
 ("rmsprop","RMSprop","lr=0.01"), ("rmsprop","RMSprop","lr=0.01 centered=1 momentum=0.9 weight_decay=0.1"),
 ("rprop","Rprop","lr=0.01"),
 ("adagrad","Adagrad","lr=0.01"), ("adagrad","Adagrad","lr=0.01 lr_decay=0.01 weight_decay=0.1 initial_accumulator_value=0.1"),
 ("adadelta","Adadelta","lr=1"), ("adadelta","Adadelta","lr=1 weight_decay=0.1"),
 ("adamax","Adamax","lr=0.01"), ("adamax","Adamax","lr=0.01 weight_decay=0.1"),
 ("nadam","NAdam","lr=0.01"), ("nadam","NAdam","lr=0.01 weight_decay=0.1"), ("nadam","NAdam","lr=0.01 weight_decay=0.1 decoupled_weight_decay=1"),
 ("radam","RAdam","lr=0.01"), ("radam","RAdam","lr=0.01 weight_decay=0.1"), ("radam","RAdam","lr=0.01 weight_decay=0.1 decoupled_weight_decay=1"),
 ("asgd","ASGD","lr=0.01"), ("asgd","ASGD","lr=0.01 weight_decay=0.1 t0=5"),
]
def torch_kw(keys):
    kw = {}
    b = [0.9, 0.999]
    for kv in keys.split():
        k, v = kv.split("="); v = float(v)
        if k == "beta1": b[0] = v; kw["betas"] = tuple(b)
        elif k == "beta2": b[1] = v; kw["betas"] = tuple(b)
        elif k in ("amsgrad", "nesterov", "centered", "maximize", "decoupled_weight_decay"): kw[k] = bool(v)
        elif k in ("etaminus", "etaplus"): pass
        else: kw[k] = v
    return kw
only = sys.argv[1:]
for name, tname, keys in CONFIGS:
    if only and name not in only: continue
    r = subprocess.run([OPTCL, "replay", name, "--params", "p0.npy", "--grads", "G.npy", "--out", "o.npy", "--backend", BACKEND] + keys.split(), capture_output=True, text=True)
    if r.returncode: print(name, keys, "FAILED", r.stderr.strip()); continue
    o = np.load("o.npy")
    line = f"{name:8s} {keys:60s}"
    for path in ("single", "foreach", "fused"):
        kw = torch_kw(keys)
        if path == "single": kw["foreach"] = False
        elif path == "foreach": kw["foreach"] = True
        else:
            if tname not in ("Adam", "AdamW", "SGD", "Adagrad"): continue
            kw["fused"] = True
        p = torch.nn.Parameter(torch.from_numpy(p0.copy())); opt = getattr(torch.optim, tname)([p], **kw); rows = []
        for t in range(T):
            p.grad = torch.from_numpy(G[t].copy()); opt.step(); rows.append(p.detach().numpy().copy())
        tt = np.array(rows)
        eq = np.mean(o == tt); first = np.mean(o[0] == tt[0])
        rel = np.max(np.abs(o.astype(np.float64) - tt) / np.maximum(np.abs(tt), 1e-30))
        line += f" | {path} eq {eq:.3f} (step1 {first:.3f}) rel {rel:.1e}"
    print(line, flush=True)
