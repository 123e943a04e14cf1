#!/usr/bin/env python3
"""Golden trajectories for Schedule-Free AdamW and SGD (Defazio et al. 2024, "The Road Less
Scheduled") as the PyPI package `schedulefree` implements them in AdamWScheduleFree and
SGDScheduleFree (schedulefree/adamw_schedulefree.py, schedulefree/sgd_schedulefree.py; not the
*Closure, *Reference or *Paper classes). CI only reads what this writes.

    ../shared/tools/torch2_env.sh        # PyTorch 2.x from PyPI into a venv ($PY2)
    $PY2 -m pip install schedulefree==1.4.1
    $PY2 tests/golden/make_golden_schedulefree.py

Written with schedulefree 1.4.1, torch 2.15.0 (CPU), numpy 2.4.6. Reads p0.npy (N,) and
grads.npy (T, N) next to this script (make_golden.py's inputs, not rewritten here) and writes
    expected_schedulefree/<case>.npy       float32 (T, N)  row t = the parameters after step t
                                           in train mode: the package's y (what p holds while
                                           training, where the gradients are taken)
    expected_schedulefree/<case>_eval.npy  float32 (T, N)  row t = the parameters eval() would
                                           give after step t: x = lerp(y, z, 1 − 1/β1) (AdamW;
                                           SGD: 1 − 1/momentum), read from a deep copy of the
                                           parameter and the optimizer on which .eval() is called,
                                           so the training run itself is never disturbed (not
                                           listed in cases_schedulefree.txt: the replay rows are y)
    cases_schedulefree.txt                 one line per case: <case> <optimizer> KEY=VALUE ...
                                           (the arguments of `optcl replay`, as in cases.txt; no
                                           --ulps, so tests/test_golden.c's float32 tolerance
                                           applies: |a − e| <= 1e-5 + 1e-4·|e| per element)

Each optimizer runs its per-parameter path (foreach=False; foreach=True is checked below to give
the same rows) on float32 CPU tensors, one parameter tensor of N elements. The optimizer is
created in eval mode (group train_mode=False) and step() raises in eval mode, so .train() is
called once before the first step (no z exists yet: it only sets the flag). Before step t,
p.grad = a fresh float32 copy of grads[t]: both step() rules overwrite p.grad in place (AdamW
divides it by the denominator, SGD adds weight_decay·y to it). Keys are the constructor's
arguments (betas as beta1/beta2); keys left out take the package's defaults. There is no lr
schedule (warmup_steps is the package's own linear warmup) and no maximize: the package has no
such option.

Tolerance calibration, as in make_golden_optim.py: every case also runs in float64 (p0 and
grads widened; the package's per-step scalars are python floats, i.e. double, in both runs),
and the script prints, per case, max over the run |f32 − f64| / (1e-5 + 1e-4·|f64|) for the
y rows and the x rows; it refuses to write anything if either exceeds MAX_CALIBRATION, and the
worst case per optimizer goes into the header of cases_schedulefree.txt. It also refuses cases
in which an option does not show: leaving any one key out must change the y rows by more than
MIN_KEY_EFFECT times the tolerance. Further checks (stderr): the update rule written out in
float64 numpy (RULES below, the per-element update of the notes) against the package's float64
run; the eval copy against lerp(y, z, 1 − 1/β1) computed directly; foreach=True against
foreach=False; the *Reference classes (which keep x and y explicitly) against the main ones.
"""
import contextlib
import copy
import io
import os
import sys

import numpy as np
import torch
import schedulefree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # importing golden_files leaves no __pycache__ in the tree
sys.path.insert(0, HERE)
# The plumbing the golden generators share (numpy only): ATOL, RTOL, MAX_CALIBRATION,
# MIN_KEY_EFFECT, the checks and the writing of expected_schedulefree/ and its cases file.
from golden_files import (calibration, check_case_names, load_inputs,  # noqa: E402
                          note_worst, require_calibration, require_effect, require_finite,
                          warn_versions, write_golden)

EXPECTED_VERSIONS = {"schedulefree": "1.4.1"}

# Replay keys with the package's defaults (AdamWScheduleFree.__init__, SGDScheduleFree.__init__).
DEFAULTS = {
    "adamw_schedulefree": dict(lr=0.0025, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                               warmup_steps=0, r=0.0, weight_lr_power=2.0),
    "sgd_schedulefree": dict(lr=1.0, momentum=0.9, weight_decay=0.0, warmup_steps=0, r=0.0,
                             weight_lr_power=2.0),
}
INT_KEYS = {"warmup_steps"}

# (case, optimizer, replay KEY=VALUE arguments). weight_lr_power only shows with a warmup: with a
# constant lr, lr_max is constant and the weights (k+1)^r·lr_max^power are proportional to
# (k+1)^r whatever the power.
CASES = [
    # AdamW: default lr 0.0025 moves z by about lr per step (normalised gradients).
    ("adamw_sf_default", "adamw_schedulefree", []),
    ("adamw_sf_lr_betas", "adamw_schedulefree", ["lr=0.01", "beta1=0.8", "beta2=0.99"]),
    ("adamw_sf_warmup", "adamw_schedulefree", ["lr=0.01", "warmup_steps=10"]),
    ("adamw_sf_warmup_power0", "adamw_schedulefree",
     ["lr=0.01", "warmup_steps=10", "weight_lr_power=0"]),
    ("adamw_sf_warmup_r_power1", "adamw_schedulefree",
     ["lr=0.01", "warmup_steps=10", "r=0.5", "weight_lr_power=1"]),
    ("adamw_sf_r", "adamw_schedulefree", ["lr=0.01", "r=1"]),
    ("adamw_sf_wd_eps", "adamw_schedulefree", ["lr=0.02", "weight_decay=0.1", "eps=1e-3"]),
    ("adamw_sf_all", "adamw_schedulefree",
     ["lr=0.02", "beta1=0.95", "beta2=0.9", "eps=1e-3", "weight_decay=0.05", "warmup_steps=5",
      "r=0.25", "weight_lr_power=1"]),
    # SGD: the default lr 1.0 stays finite (the gradients are data, not functions of p).
    ("sgd_sf_default", "sgd_schedulefree", []),
    ("sgd_sf_lr_momentum", "sgd_schedulefree", ["lr=0.05", "momentum=0.5"]),
    ("sgd_sf_warmup", "sgd_schedulefree", ["lr=0.05", "warmup_steps=10"]),
    ("sgd_sf_warmup_power0", "sgd_schedulefree",
     ["lr=0.05", "warmup_steps=10", "weight_lr_power=0"]),
    ("sgd_sf_warmup_r_power1", "sgd_schedulefree",
     ["lr=0.05", "warmup_steps=10", "r=0.5", "weight_lr_power=1"]),
    ("sgd_sf_r", "sgd_schedulefree", ["lr=0.05", "r=1"]),
    ("sgd_sf_wd", "sgd_schedulefree", ["lr=0.05", "weight_decay=0.1"]),
    ("sgd_sf_all", "sgd_schedulefree",
     ["lr=0.1", "momentum=0.95", "weight_decay=0.05", "warmup_steps=5", "r=0.25",
      "weight_lr_power=1"]),
]


def parse_args(optimizer, args):
    cfg = dict(DEFAULTS[optimizer])
    for a in args:
        key, value = a.split("=", 1)
        if key not in cfg:
            raise SystemExit(f"case key {key!r} is not an option of {optimizer}")
        cfg[key] = int(value) if key in INT_KEYS else float(value)
    return cfg


def make_optimizer(optimizer, c, params, foreach=False, reference=False):
    if optimizer == "adamw_schedulefree":
        cls = schedulefree.AdamWScheduleFreeReference if reference else \
            schedulefree.AdamWScheduleFree
        return cls(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"],
                   weight_decay=c["weight_decay"], warmup_steps=c["warmup_steps"], r=c["r"],
                   weight_lr_power=c["weight_lr_power"], foreach=foreach)
    if optimizer == "sgd_schedulefree":
        cls = schedulefree.SGDScheduleFreeReference if reference else \
            schedulefree.SGDScheduleFree
        return cls(params, lr=c["lr"], momentum=c["momentum"], weight_decay=c["weight_decay"],
                   warmup_steps=c["warmup_steps"], r=c["r"],
                   weight_lr_power=c["weight_lr_power"], foreach=foreach)
    raise SystemExit(f"unknown optimizer {optimizer}")


def eval_weight(optimizer, c):
    """eval()'s lerp weight: p.lerp_(z, 1 − 1/β1) (AdamW), 1 − 1/momentum (SGD)."""
    b = c["beta1"] if optimizer == "adamw_schedulefree" else c["momentum"]
    return 1 - 1 / b


def run(optimizer, cfg, p0, grads, dtype, foreach=False, reference=False, direct_x=None):
    """(y rows, x rows), each (T, N) in dtype. x is read from a deep copy of (p, optimizer) put
    in eval mode after every step; direct_x (a list) also receives lerp(y, z, 1 − 1/β1) computed
    straight from the state, to be compared with the copy's."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    quiet = contextlib.redirect_stdout(io.StringIO())  # the Reference classes print on modes
    try:
        with quiet:
            p = torch.nn.Parameter(torch.from_numpy(p0.astype(np.float64)).to(dtype))
            opt = make_optimizer(optimizer, cfg, [p], foreach=foreach, reference=reference)
            opt.train()
            ys, xs = [], []
            for g in grads:
                p.grad = torch.from_numpy(g.astype(np.float64)).to(dtype).clone()
                opt.step()
                ys.append(p.detach().numpy().copy())
                p2, opt2 = copy.deepcopy((p, opt))
                opt2.eval()
                xs.append(p2.detach().numpy().copy())
                if direct_x is not None:
                    z = opt.state[p]["z"]
                    direct_x.append(p.detach().clone().lerp_(
                        z, eval_weight(optimizer, cfg)).numpy())
            assert opt.param_groups[0]["train_mode"]
            assert opt.state[p]["z"].dtype == dtype
    finally:
        torch.set_default_dtype(old)
    return np.stack(ys), np.stack(xs)


# The update rule written out per element (the notes' formulas), float64 numpy: checks that the
# rule the replay implements is the package's, up to double rounding.
def rule_f64(optimizer, c, p0, grads):
    y = p0.astype(np.float64)
    z = y.copy()
    v = np.zeros_like(y)
    k, weight_sum, lr_max = 0, 0.0, -1.0
    ys, xs = [], []
    adam = optimizer == "adamw_schedulefree"
    b1 = c["beta1"] if adam else c["momentum"]
    for g in grads.astype(np.float64):
        sched = (k + 1) / c["warmup_steps"] if k < c["warmup_steps"] else 1.0
        lr = c["lr"] * sched
        lr_max = max(lr, lr_max)
        weight = (k + 1) ** c["r"] * lr_max ** c["weight_lr_power"]
        weight_sum += weight
        ckp1 = weight / weight_sum if weight_sum != 0 else 0.0
        if adam:
            bc2 = 1 - c["beta2"] ** (k + 1)
            v = v * c["beta2"] + (1 - c["beta2"]) * g * g
            g = g / (np.sqrt(v / bc2) + c["eps"])
        g = g + c["weight_decay"] * y
        y = y + ckp1 * (z - y)
        y = y + lr * (b1 * (1 - ckp1) - 1) * g
        z = z - lr * g
        k += 1
        ys.append(y)
        xs.append(y + (1 - 1 / b1) * (z - y))
    return np.stack(ys), np.stack(xs)


def check_keys_matter():
    p0, grads = load_inputs()
    for name, optimizer, args in CASES:
        base, _ = run(optimizer, parse_args(optimizer, args), p0, grads, torch.float32)
        for a in args:
            rows, _ = run(optimizer, parse_args(optimizer, [x for x in args if x != a]), p0,
                          grads, torch.float32)
            require_effect(name, a, rows, base)


def main():
    torch.set_num_threads(1)
    version = getattr(schedulefree, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version
        version = dist_version("schedulefree")
    warn_versions({"schedulefree": version}, EXPECTED_VERSIONS)
    p0, grads = load_inputs()
    check_case_names([c[0] for c in CASES], ("cases.txt", "cases_dtype.txt", "cases_optim.txt"))

    check_keys_matter()

    files, worst = {}, {}
    side = dict(rule=0.0, foreach=0.0, reference=0.0)
    for name, optimizer, args in CASES:
        cfg = parse_args(optimizer, args)
        direct = []
        y32, x32 = run(optimizer, cfg, p0, grads, torch.float32, direct_x=direct)
        y64, x64 = run(optimizer, cfg, p0, grads, torch.float64)
        require_finite(name, y32, x32, y64, x64)
        if not np.array_equal(np.stack(direct), x32):
            raise SystemExit(f"case {name}: eval() on the copy is not lerp(y, z, 1 − 1/β1)")
        yf, xf = run(optimizer, cfg, p0, grads, torch.float32, foreach=True)
        side["foreach"] = max(side["foreach"], calibration(yf, y32.astype(np.float64)),
                              calibration(xf, x32.astype(np.float64)))
        yr, xr = run(optimizer, cfg, p0, grads, torch.float32, reference=True)
        side["reference"] = max(side["reference"], calibration(yr, y64), calibration(xr, x64))
        yn, xn = rule_f64(optimizer, cfg, p0, grads)
        rel = max(float(np.max(np.abs(yn - y64) / (1 + np.abs(y64)))),
                  float(np.max(np.abs(xn - x64) / (1 + np.abs(x64)))))
        side["rule"] = max(side["rule"], rel)
        if rel > 1e-10:
            raise SystemExit(f"case {name}: the written-out rule differs from the package's "
                             f"float64 run by {rel:.3g}")
        cy, cx = calibration(y32, y64), calibration(x32, x64)
        moved = float(np.max(np.abs(y32[-1] - p0)))
        print(f"{name:28s} f32-vs-f64 y {cy:.4f} x {cx:.4f}  max|y_T − p0| {moved:.3g}  "
              f"max|x_T − y_T| {float(np.max(np.abs(x32[-1] - y32[-1]))):.3g}", file=sys.stderr)
        require_calibration(name, max(cy, cx))
        files[name + ".npy"], files[name + "_eval.npy"] = y32, x32
        note_worst(worst, (optimizer, "y"), name, cy)
        note_worst(worst, (optimizer, "x"), name, cx)
    print(f"written-out float64 rule vs package float64: max |diff|/(1+|e|) {side['rule']:.3g}",
          file=sys.stderr)
    print(f"foreach=True vs foreach=False (float32): {side['foreach']:.4f} of the tolerance",
          file=sys.stderr)
    print(f"*Reference classes (float32) vs main classes (float64): {side['reference']:.4f} of "
          "the tolerance", file=sys.stderr)

    header = [
        "# optcl golden cases for Schedule-Free AdamW and SGD — generated by",
        "# tests/golden/make_golden_schedulefree.py; do not edit.",
        f"# schedulefree {version} (AdamWScheduleFree, SGDScheduleFree; foreach=False, CPU,",
        f"# float32), torch {torch.__version__}, numpy {np.__version__}; inputs p0.npy {p0.shape}, "
        f"grads.npy {grads.shape}",
        "# optimizer.train() before the first step; no lr schedule (warmup_steps is the",
        "# package's own). expected_schedulefree/<case>.npy (T, N): row t = the train-mode",
        "# parameters y after step t; <case>_eval.npy: the eval-mode parameters x = lerp(y, z,",
        "# 1 − 1/β1) (SGD: 1 − 1/momentum) after step t, from .eval() on a copy (not replayed).",
        "# Tolerance share used by float32 rounding alone, max |f32 − f64|/(1e-5 + 1e-4·|f64|),",
        "# worst case per optimizer (y rows; x rows):",
    ]
    for optimizer in DEFAULTS:
        ny, cy = worst[(optimizer, "y")]
        nx, cx = worst[(optimizer, "x")]
        header.append(f"#   {optimizer:18s} y {cy:.4f} ({ny}); x {cx:.4f} ({nx})")
    write_golden("schedulefree", files, header, CASES)


if __name__ == "__main__":
    main()
