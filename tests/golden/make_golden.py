#!/usr/bin/python3
"""Regenerates optcl's golden replay data from PyTorch (torch.optim) and, for the two rules
PyTorch does not have (EMA-momentum SGD and the classic Rprop), from plain float32 numpy code.

    /usr/bin/python3 tests/golden/make_golden.py

Writes, next to this script (deterministically: fixed seed, single-threaded torch):
    p0.npy               float32 (N,)    initial parameters, shared by every case
    grads.npy            float32 (T, N)  gradient handed to step t, shared by every case
    expected/<case>.npy  float32 (T, N)  row t = parameters after step t
    cases.txt            one line per case: <case> <optimizer> KEY=VALUE ...
                         (the arguments of `optcl replay`, as tests/test_golden.c passes them)
"""
import math
import os
import sys

import numpy as np
import torch

N = 37
T = 50
SEED = 20240611

HERE = os.path.dirname(os.path.abspath(__file__))

# (case name, optimizer, replay KEY=VALUE arguments). Every key of `optcl replay` appears at
# least once; keys left out take PyTorch's defaults (SGD's lr: 1e-3).
CASES = [
    ("sgd_default", "sgd", []),
    ("sgd_plain", "sgd", ["lr=0.1"]),
    ("sgd_momentum", "sgd", ["lr=0.05", "momentum=0.9"]),
    ("sgd_dampening", "sgd", ["lr=0.05", "momentum=0.9", "dampening=0.5"]),
    ("sgd_nesterov", "sgd", ["lr=0.05", "nesterov=1", "momentum=0.9"]),
    ("sgd_weight_decay", "sgd", ["lr=0.1", "weight_decay=0.1"]),
    ("sgd_maximize", "sgd", ["lr=0.05", "maximize=1", "momentum=0.9"]),
    ("sgd_ema", "sgd", ["lr=0.1", "ema=1", "momentum=0.9"]),
    ("sgd_ema_maximize_wd", "sgd",
     ["lr=0.05", "ema=1", "momentum=0.5", "weight_decay=0.1", "maximize=1"]),
    ("adam_default", "adam", []),
    ("adam_amsgrad", "adam", ["amsgrad=1"]),
    ("adam_weight_decay", "adam", ["weight_decay=0.1"]),
    ("adam_maximize", "adam", ["maximize=1"]),
    ("adam_betas_eps", "adam", ["beta1=0.5", "beta2=0.9", "eps=1e-6", "lr=0.01"]),
    ("adamw_default", "adamw", []),
    ("adamw_amsgrad", "adamw", ["amsgrad=1", "weight_decay=0.05"]),
    ("adamw_maximize_betas", "adamw",
     ["maximize=1", "beta1=0.8", "beta2=0.95", "lr=0.01", "weight_decay=0.1"]),
    ("rmsprop_default", "rmsprop", []),
    ("rmsprop_centered", "rmsprop", ["centered=1"]),
    ("rmsprop_momentum", "rmsprop", ["momentum=0.9"]),
    ("rmsprop_centered_momentum_wd", "rmsprop",
     ["centered=1", "momentum=0.5", "weight_decay=0.1"]),
    ("rmsprop_maximize_alpha", "rmsprop", ["maximize=1", "alpha=0.9", "eps=1e-6"]),
    ("rprop_default", "rprop", []),
    ("rprop_etas_steps", "rprop",
     ["etaminus=0.3", "etaplus=1.5", "step_min=1e-3", "step_max=0.05", "lr=0.02"]),
    ("rprop_maximize", "rprop", ["maximize=1"]),
    ("rprop_classic", "rprop", ["variant=classic"]),
    ("rprop_classic_etas", "rprop",
     ["variant=classic", "etaminus=0.3", "etaplus=1.5", "step_min=1e-3", "step_max=0.05",
      "lr=0.02"]),
]

BOOL_KEYS = {"nesterov", "maximize", "amsgrad", "centered", "ema"}
STRING_KEYS = {"variant"}

DEFAULTS = {
    "sgd": dict(lr=1e-3, momentum=0.0, dampening=0.0, nesterov=0, weight_decay=0.0,
                maximize=0, ema=0),
    "adam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=0,
                 maximize=0),
    "adamw": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=0,
                  maximize=0),
    "rmsprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                    centered=0, maximize=0),
    "rprop": dict(lr=1e-2, etaminus=0.5, etaplus=1.2, step_min=1e-6, step_max=50.0,
                  maximize=0, variant="pytorch"),
}


def parse_args(optimizer, args):
    """The replay arguments on top of the optimizer's defaults."""
    cfg = dict(DEFAULTS[optimizer])
    for a in args:
        key, value = a.split("=", 1)
        if key not in cfg:
            raise SystemExit(f"case key {key!r} is not an option of {optimizer}")
        if key in STRING_KEYS:
            cfg[key] = value
        elif key in BOOL_KEYS:
            cfg[key] = int(value)
        else:
            cfg[key] = float(value)
    return cfg


def make_data():
    rng = np.random.default_rng(SEED)
    p0 = rng.standard_normal(N).astype(np.float32)
    t = np.arange(T, dtype=np.float64)[:, None]
    scale = rng.uniform(0.2, 1.5, size=N)
    phase = rng.uniform(0.0, 2.0 * math.pi, size=N)
    g = rng.standard_normal((T, N)) * scale + 0.3 * np.sin(0.7 * t + phase)
    # A few elements keep one sign for the whole run (Rprop's step grows to its upper bound)…
    g[:, 1:4] = np.abs(g[:, 1:4]) + 0.1
    g[:, 4] = -np.abs(g[:, 4]) - 0.1
    # …a few flip sign every step (Rprop's step shrinks to its lower bound)…
    alt = np.where(np.arange(T) % 2 == 0, 1.0, -1.0)[:, None]
    g[:, 5:8] = alt * (np.abs(g[:, 5:8]) + 0.1)
    # …one is zero throughout, and about one gradient value in eight is exactly zero.
    g[:, 0] = 0.0
    g[rng.uniform(size=(T, N)) < 0.125] = 0.0
    # Keep the nonzero values clear of zero so that no product of two underflows.
    small = (g != 0.0) & (np.abs(g) < 1e-3)
    g[small] = np.copysign(1e-3, g[small])
    return p0, g.astype(np.float32)


def run_torch(optimizer, cfg, p0, grads):
    p = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    maximize = bool(cfg["maximize"])
    if optimizer == "sgd":
        opt = torch.optim.SGD([p], lr=cfg["lr"], momentum=cfg["momentum"],
                              dampening=cfg["dampening"], weight_decay=cfg["weight_decay"],
                              nesterov=bool(cfg["nesterov"]), maximize=maximize)
    elif optimizer in ("adam", "adamw"):
        cls = torch.optim.Adam if optimizer == "adam" else torch.optim.AdamW
        opt = cls([p], lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"],
                  weight_decay=cfg["weight_decay"], amsgrad=bool(cfg["amsgrad"]),
                  maximize=maximize)
    elif optimizer == "rmsprop":
        opt = torch.optim.RMSprop([p], lr=cfg["lr"], alpha=cfg["alpha"], eps=cfg["eps"],
                                  weight_decay=cfg["weight_decay"], momentum=cfg["momentum"],
                                  centered=bool(cfg["centered"]), maximize=maximize)
    elif optimizer == "rprop":
        opt = torch.optim.Rprop([p], lr=cfg["lr"], etas=(cfg["etaminus"], cfg["etaplus"]),
                                step_sizes=(cfg["step_min"], cfg["step_max"]),
                                maximize=maximize)
    else:
        raise SystemExit(f"unknown optimizer {optimizer}")
    out = np.empty((T, N), dtype=np.float32)
    for t in range(T):
        p.grad = torch.from_numpy(grads[t].copy())
        opt.step()
        out[t] = p.detach().numpy()
    return out


def run_sgd_ema(cfg, p0, grads):
    """v = β·v + (1−β)·g (v starts at 0), w −= lr·v; maximize and weight decay as in SGD."""
    f = np.float32
    beta, lr, wd = cfg["momentum"], cfg["lr"], cfg["weight_decay"]
    p = p0.copy()
    v = np.zeros(N, dtype=np.float32)
    out = np.empty((T, N), dtype=np.float32)
    for t in range(T):
        d = -grads[t] if cfg["maximize"] else grads[t].copy()
        if wd != 0:
            d = d + f(wd) * p
        v = v * f(beta) + d * f(1.0 - beta)
        p = p - f(lr) * v
        out[t] = p
    return out


def run_rprop_classic(cfg, p0, grads):
    """g·g_prev > 0: step·etaplus; ≤ 0: step·etaminus; clamp; w −= step·sign(g); prev = g."""
    f = np.float32
    p = p0.copy()
    prev = np.zeros(N, dtype=np.float32)
    step = np.full(N, cfg["lr"], dtype=np.float32)
    out = np.empty((T, N), dtype=np.float32)
    for t in range(T):
        g = -grads[t] if cfg["maximize"] else grads[t].copy()
        prod = g * prev
        step = step * np.where(prod > 0, f(cfg["etaplus"]), f(cfg["etaminus"])).astype(np.float32)
        step = np.clip(step, f(cfg["step_min"]), f(cfg["step_max"])).astype(np.float32)
        p = p - np.sign(g).astype(np.float32) * step
        prev = g
        out[t] = p
    return out


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    p0, grads = make_data()
    np.save(os.path.join(HERE, "p0.npy"), p0)
    np.save(os.path.join(HERE, "grads.npy"), grads)
    exp_dir = os.path.join(HERE, "expected")
    os.makedirs(exp_dir, exist_ok=True)
    for name in os.listdir(exp_dir):  # drop cases that no longer exist
        if name.endswith(".npy") and name[:-4] not in {c[0] for c in CASES}:
            os.remove(os.path.join(exp_dir, name))
    lines = [
        "# optcl golden replay cases — generated by tests/golden/make_golden.py; do not edit.",
        f"# torch {torch.__version__}, numpy {np.__version__}, seed {SEED}, N={N}, T={T}",
        "# Inputs: p0.npy (N,), grads.npy (T, N); expected/<case>.npy (T, N): row t = params after step t.",
        "# sgd ema=1 and rprop variant=classic are not in PyTorch: numpy float32 code in the script.",
        "# Format: <case> <optimizer> KEY=VALUE ...   (the arguments of `optcl replay`)",
    ]
    for name, optimizer, args in CASES:
        cfg = parse_args(optimizer, args)
        if optimizer == "sgd" and cfg["ema"]:
            out = run_sgd_ema(cfg, p0, grads)
        elif optimizer == "rprop" and cfg["variant"] == "classic":
            out = run_rprop_classic(cfg, p0, grads)
        elif optimizer == "rprop" and cfg["variant"] != "pytorch":
            raise SystemExit(f"unknown rprop variant {cfg['variant']}")
        else:
            out = run_torch(optimizer, cfg, p0, grads)
        if not np.all(np.isfinite(out)):
            raise SystemExit(f"case {name}: non-finite result")
        np.save(os.path.join(exp_dir, name + ".npy"), out)
        lines.append(" ".join([name, optimizer] + args))
    with open(os.path.join(HERE, "cases.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {len(CASES)} cases to {HERE}", file=sys.stderr)


if __name__ == "__main__":
    main()
