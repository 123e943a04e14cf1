#!/usr/bin/env python3
"""Golden trajectories, bit for bit, for float32, bfloat16 and float16 parameter sets (`optcl
replay param_dtype=…`), from PyTorch 2.x's fused CPU optimizers (fused=True: state in the
parameters' type, arithmetic in float32, each stored value rounded to nearest even), which
PyPI's torch has and Debian's 1.13 does not; float32 SGD from torch.optim's default path (see
F32_DEFAULT_PATH). CI only reads what this writes.

    ../shared/tools/torch2_env.sh        # PyTorch 2.x from PyPI into a venv ($PY2)
    $PY2 tests/golden/make_golden_dtype.py

Reads p0.npy (N,) and grads.npy (T, N) next to this script (make_golden.py's inputs) and writes
    expected_dtype/<case>.npy  float32 (T, N)  row t = the parameters after step t, widened
    cases_dtype.txt            one line per case: <case> <optimizer> KEY=VALUE ... --ulps=U

Loss scaling, two ways, with a NaN, an Inf and (float16) an overflowing step among the
gradients (expected_dtype/<case>_grads.npy, passed as --grads=FILE):
  - torch's fused contract (`grad_scale=S`): the file holds the gradients times S; torch's
    fused step gets `grad_scale` and a `found_inf` computed from the gradients, as GradScaler
    hands them to a fused optimizer;
  - GradScaler (`loss_scale=dynamic`): the file holds unscaled gradients; before each step the
    gradient is multiplied by the scaler's scale in the parameters' type, then scaler.step and
    scaler.update. expected_dtype/<case>_scale.npy (T, 3) is the trace after each step: the
    scale, the growth tracker and the steps skipped so far (--scale-out=FILE).
P0 and each G[t] are rounded to the parameter type with torch's .to(dtype) (nearest even), as
`optcl replay` rounds them when it loads them. --ulps=U is the tolerance tests/test_golden.c
applies: U units in the last place of the parameter type at the expected value. It is 0: every
case (the 8 loss-scaled ones included) agrees bit for bit on both backends with torch 2.15.0,
since optcl fuses a multiply and an add exactly where torch's CPU kernels do (lerp, addcmul,
add with alpha). Before that, SGD with Nesterov in float16 differed by up to 2 ulps.
"""
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ULPS = 0

# (case, optimizer, replay keys, torch constructor, its keyword arguments)
CASES = [
    ("adam", "adam", ["lr=0.01"], torch.optim.Adam, dict(lr=0.01)),
    ("adam_amsgrad_wd", "adam", ["lr=0.01", "amsgrad=1", "weight_decay=0.1"], torch.optim.Adam,
     dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("adam_maximize_betas", "adam", ["lr=0.005", "maximize=1", "beta1=0.5", "beta2=0.9"],
     torch.optim.Adam, dict(lr=0.005, maximize=True, betas=(0.5, 0.9))),
    ("adamw", "adamw", ["lr=0.01"], torch.optim.AdamW, dict(lr=0.01)),
    ("adamw_amsgrad", "adamw", ["lr=0.01", "amsgrad=1", "weight_decay=0.05"], torch.optim.AdamW,
     dict(lr=0.01, amsgrad=True, weight_decay=0.05)),
    ("sgd", "sgd", ["lr=0.1"], torch.optim.SGD, dict(lr=0.1)),
    ("sgd_momentum_wd", "sgd", ["lr=0.05", "momentum=0.9", "weight_decay=0.1"], torch.optim.SGD,
     dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    ("sgd_nesterov_dampening", "sgd", ["lr=0.05", "momentum=0.9", "nesterov=1"],
     torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd_momentum_dampening_maximize", "sgd",
     ["lr=0.05", "momentum=0.9", "dampening=0.3", "maximize=1"], torch.optim.SGD,
     dict(lr=0.05, momentum=0.9, dampening=0.3, maximize=True)),
    ("adagrad", "adagrad", ["lr=0.05", "lr_decay=0.01", "weight_decay=0.1",
                            "initial_accumulator_value=0.1"], torch.optim.Adagrad,
     dict(lr=0.05, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
]
DTYPES = [("f32", torch.float32), ("bf16", torch.bfloat16), ("f16", torch.float16)]
# float32, where torch's own paths disagree in the last bit: optcl follows torch.optim's
# default (single-tensor) path for SGD — fused SGD adds momentum·buf and (1 − dampening)·g in
# another order — and the cases below are left out (with β1 = 0.5 neither of torch's Adam paths
# is optcl's to the bit; fused SGD's order again). Adagrad's fused kernel keeps its sum in
# the parameters' type, which optcl does not: float32 only.
F32_DEFAULT_PATH = {"sgd"}
F32_LEFT_OUT = {"adam_maximize_betas", "sgd_momentum_grad_scale"}
LOW_LEFT_OUT = {"adagrad"}


def dtypes_of(name):
    return [(d, t) for d, t in DTYPES
            if not (d == "f32" and name in F32_LEFT_OUT) and not (d != "f32" and name in LOW_LEFT_OUT)]

# (case, optimizer, replay keys, torch constructor, its keyword arguments)
SCALED = [
    ("adam_grad_scale", "adam", ["lr=0.01"], torch.optim.Adam, dict(lr=0.01)),
    ("sgd_momentum_grad_scale", "sgd", ["lr=0.05", "momentum=0.9"], torch.optim.SGD,
     dict(lr=0.05, momentum=0.9)),
]
GRADSCALER = [
    ("adamw_gradscaler", "adamw", ["lr=0.01"], torch.optim.AdamW, dict(lr=0.01)),
    ("sgd_gradscaler", "sgd", ["lr=0.05", "momentum=0.9", "nesterov=1"], torch.optim.SGD,
     dict(lr=0.05, momentum=0.9, nesterov=True)),
]
STATIC_SCALE = 1024.0
SCALER = dict(init_scale=1024.0, growth_factor=2.0, backoff_factor=0.5, growth_interval=4)


def awkward(grads):
    """Small gradients with a NaN (step 6), an Inf (step 15) and, at steps 25 and 40, a value of
    100, which times a scale of 1024 or more overflows float16 (not bfloat16)."""
    g = (grads * 0.05).astype(np.float32)
    g[5, 3] = np.nan
    g[14, 10] = np.inf
    g[24, 0] = 100.0
    g[39, 20] = -100.0
    return g


def fused_contract(make, kwargs, p0, scaled_grads, dtype):
    p = torch.nn.Parameter(torch.from_numpy(p0.copy()).to(dtype))
    opt = make([p], fused=True, **kwargs)
    rows = []
    for g in scaled_grads:
        p.grad = torch.from_numpy(g.copy()).to(dtype)
        opt.grad_scale = torch.tensor(STATIC_SCALE)
        opt.found_inf = torch.tensor(0.0 if torch.isfinite(p.grad).all() else 1.0)
        opt.step()
        rows.append(p.detach().float().numpy().copy())
    return np.stack(rows).astype(np.float32)


def gradscaler(make, kwargs, p0, grads, dtype):
    p = torch.nn.Parameter(torch.from_numpy(p0.copy()).to(dtype))
    opt = make([p], fused=True, **kwargs)
    scaler = torch.amp.GradScaler("cpu", **SCALER)
    rows, trace, skipped = [], [], 0
    for g in grads:
        scale = scaler.scale(torch.ones(())).item()  # as scaling a loss of 1 would
        p.grad = torch.from_numpy(g.copy()).to(dtype) * scale
        found = not bool(torch.isfinite(p.grad).all())
        scaler.step(opt)
        scaler.update()
        skipped += found
        rows.append(p.detach().float().numpy().copy())
        trace.append([scaler.get_scale(), scaler._growth_tracker.item(), skipped])
    return np.stack(rows).astype(np.float32), np.array(trace, dtype=np.float32)


def trajectory(make, kwargs, p0, grads, dtype, fused=True):
    p = torch.nn.Parameter(torch.from_numpy(p0.copy()).to(dtype))
    opt = make([p], fused=True, **kwargs) if fused else make([p], foreach=False, **kwargs)
    rows = []
    for g in grads:
        p.grad = torch.from_numpy(g.copy()).to(dtype)
        opt.step()
        rows.append(p.detach().float().numpy().copy())
    return np.stack(rows).astype(np.float32)


def main():
    torch.set_num_threads(1)
    p0 = np.load(os.path.join(HERE, "p0.npy"))
    grads = np.load(os.path.join(HERE, "grads.npy"))
    lines = [
        "# optcl golden cases for float32/bfloat16/float16 parameter sets — generated by",
        "# tests/golden/make_golden_dtype.py; do not edit.",
        f"# torch {torch.__version__} (fused=True, CPU), numpy {np.__version__};"
        f" inputs p0.npy {p0.shape}, grads.npy {grads.shape}; float32 SGD: foreach=False",
        "# expected_dtype/<case>.npy (T, N): row t = the parameters after step t, widened.",
        f"# --ulps={ULPS}: bit for bit (optcl fuses a multiply and an add where torch's CPU",
        "# kernels do: lerp, addcmul, add with alpha).",
    ]
    os.makedirs(os.path.join(HERE, "expected_dtype"), exist_ok=True)
    for name, optimizer, keys, make, kwargs in CASES:
        for dname, dtype in dtypes_of(name):
            case = f"{name}_{dname}"
            fused = not (dname == "f32" and optimizer in F32_DEFAULT_PATH)
            out = trajectory(make, kwargs, p0, grads, dtype, fused)
            np.save(os.path.join(HERE, "expected_dtype", case + ".npy"), out)
            lines.append(" ".join([case, optimizer] + keys + [f"param_dtype={dname}",
                                                              f"--ulps={ULPS}"]))
    awk = awkward(grads)
    for name, optimizer, keys, make, kwargs in SCALED:
        for dname, dtype in dtypes_of(name):
            case = f"{name}_{dname}"
            scaled = (awk * np.float32(STATIC_SCALE)).astype(np.float32)
            gfile = os.path.join("expected_dtype", case + "_grads.npy")
            np.save(os.path.join(HERE, gfile), scaled)
            np.save(os.path.join(HERE, "expected_dtype", case + ".npy"),
                    fused_contract(make, kwargs, p0, scaled, dtype))
            lines.append(" ".join([case, optimizer] + keys + [
                f"param_dtype={dname}", f"grad_scale={STATIC_SCALE:g}", f"--grads={gfile}",
                f"--ulps={ULPS}"]))
    for name, optimizer, keys, make, kwargs in GRADSCALER:
        for dname, dtype in dtypes_of(name):
            case = f"{name}_{dname}"
            gfile = os.path.join("expected_dtype", case + "_grads.npy")
            tfile = os.path.join("expected_dtype", case + "_scale.npy")
            np.save(os.path.join(HERE, gfile), awk)
            rows, trace = gradscaler(make, kwargs, p0, awk, dtype)
            np.save(os.path.join(HERE, "expected_dtype", case + ".npy"), rows)
            np.save(os.path.join(HERE, tfile), trace)
            lines.append(" ".join([case, optimizer] + keys + [
                f"param_dtype={dname}", "loss_scale=dynamic",
                f"init_scale={SCALER['init_scale']:g}",
                f"growth_interval={SCALER['growth_interval']}", f"--grads={gfile}",
                f"--scale-out={tfile}", f"--ulps={ULPS}"]))
    with open(os.path.join(HERE, "cases_dtype.txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
