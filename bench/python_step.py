"""Python's cost per step, and optcl.torch.Adam against torch.optim.Adam(fused=True) on the same
CPU at real models' layouts (shapes only, from `optcl bench --model NAME --print-layout`).

    python bench/python_step.py overhead            # n = 1024: C step vs Python steps
    python bench/python_step.py models [resnet50 gpt2]
    python bench/python_step.py groups [1 2 4]      # a small model split into param groups
    python bench/python_step.py split [resnet50 gpt2]  # AdamW, decayed and not decayed groups

Not CI: needs a PyTorch 2.x with fused CPU Adam (../shared/tools/torch2_env.sh) and the package
(pip install . or OPTCL_LIBRARY + PYTHONPATH=python). Interleaved back-to-back pairs, medians:
this VM's memory speed flips between two levels within seconds (docs/PERFORMANCE.md)."""
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

import optcl
import optcl.torch as ot

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.environ.get("OPTCL_CLI", os.path.join(HERE, "..", "build", "optcl"))


def layout(model):
    text = subprocess.run([CLI, "bench", "--model", model, "--print-layout"], check=True,
                          capture_output=True, text=True).stdout
    shapes = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        dims = line.split(":")[1].split("#")[0].strip()
        shapes.append(tuple(int(d) for d in dims.split("x")) if dims != "()" else ())
    return shapes


def timed(f, repeat):
    f()
    t = time.perf_counter()
    for _ in range(repeat):
        f()
    return (time.perf_counter() - t) / repeat


def pairs(a, b, rounds, repeat):
    """Medians of interleaved rounds of a and b (seconds per call) and of their ratios."""
    ta, tb, ratio = [], [], []
    for _ in range(rounds):
        x, y = timed(a, repeat), timed(b, repeat)
        ta.append(x)
        tb.append(y)
        ratio.append(x / y)
    return statistics.median(ta), statistics.median(tb), statistics.median(ratio)


def overhead(device=None):
    n = 1024
    ctx = optcl.Context(device)
    params = ctx.params([("w", (n,))])
    opt = params.optimizer("adam")
    params.write(np.ones(n, np.float32), "w", role="grads")
    c_step = optcl.lib.optcl_optimizer_step
    h = opt._h

    def c_call():  # ctypes straight to the C step: the C step's own cost plus one call
        c_step(h, 0, None, None)
        ctx.finish()

    def py_call():
        opt.step()
        ctx.finish()

    w = torch.zeros(n, requires_grad=True)
    w.grad = torch.ones(n)
    t_opt = ot.Adam([w], device=device)

    def torch_call():
        t_opt.step()
        ctx.finish()

    c, py, r1 = pairs(c_call, py_call, 7, 2000)
    _, tt, r2 = pairs(c_call, torch_call, 7, 2000)
    print(f"n=1024 on {ctx.device_name}: C step {c * 1e6:.1f} us, optcl.Optimizer.step "
          f"{py * 1e6:.1f} us (+{(py - c) * 1e6:.1f}), optcl.torch.Adam.step "
          f"{tt * 1e6:.1f} us (+{(tt - c) * 1e6:.1f})")


def models(names, device=None, split=False):
    """Adam (split: AdamW with ≥ 2-D tensors decayed and the rest not, in two param groups, as
    training code builds them) over each model's layout, optcl.torch against torch fused."""
    for name in names:
        shapes = layout(name)
        g = torch.Generator().manual_seed(0)
        ref = [torch.randn(s, generator=g) for s in shapes]
        theirs = [t.clone().requires_grad_() for t in ref]
        ours = [t.clone().requires_grad_() for t in ref]
        for a, b in zip(theirs, ours):
            a.grad = torch.randn(a.shape, generator=g) * 1e-3
            b.grad = a.grad.clone()
        if split:
            def groups(ts):
                return [{"params": [t for t in ts if t.dim() >= 2], "weight_decay": 0.01},
                        {"params": [t for t in ts if t.dim() < 2], "weight_decay": 0.0}]
            t_opt = torch.optim.AdamW(groups(theirs), lr=1e-3, fused=True)
            o_opt = ot.AdamW(groups(ours), lr=1e-3, device=device)
        else:
            t_opt = torch.optim.Adam(theirs, lr=1e-3, fused=True)
            o_opt = ot.Adam(ours, lr=1e-3, device=device)
        n = sum(t.numel() for t in ref)
        ctx = o_opt.context

        def o_step():
            o_opt.step()
            ctx.finish()

        tt, to, ratio = pairs(t_opt.step, o_step, 5, 3)
        rule = "AdamW, 2 groups" if split else "Adam"
        print(f"{name} ({len(shapes)} tensors, {n} params, {rule}) on {ctx.device_name}: torch "
              f"fused {tt * 1e3:.1f} ms, optcl.torch {to * 1e3:.1f} ms; torch/optcl "
              f"{ratio:.2f} (median of interleaved pairs)")


def groups(counts, device=None):
    """A small model (48 tensors, 0.26 M parameters) in 1, 2, … param groups, as training code
    splits decayed weights from biases and norms: optcl.torch.AdamW against torch's fused
    AdamW, per step with the parameters back in host memory (optcl waits for its device)."""
    g = torch.Generator().manual_seed(0)
    shapes = [(256, 256) if i % 2 == 0 else (256,) for i in range(8)] + [(64,)] * 40
    for k in counts:
        ours, theirs = [], []
        for s in shapes:
            t = torch.randn(s, generator=g)
            for side in (ours, theirs):
                side.append(t.clone().requires_grad_())
                side[-1].grad = torch.full(s, 1e-3)

        def split(ts):
            return [{"params": ts[i::k], "weight_decay": 0.01 * (i == 0)} for i in range(k)]

        o_opt = ot.AdamW(split(ours), lr=1e-3, device=device)
        t_opt = torch.optim.AdamW(split(theirs), lr=1e-3, fused=True)
        tt, to, ratio = pairs(t_opt.step, o_opt.step, 7, 300)
        print(f"{k} group(s) on {o_opt.context.device_name}: torch fused AdamW "
              f"{tt * 1e6:.0f} us, optcl.torch.AdamW {to * 1e6:.0f} us; torch/optcl "
              f"{ratio:.2f} (median of interleaved pairs)")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "overhead"
    if what == "overhead":
        overhead()
    elif what == "groups":
        groups([int(k) for k in sys.argv[2:]] or [1, 2, 4])
    else:  # models, or split: the decayed / not decayed param groups
        models(sys.argv[2:] or ["resnet50", "gpt2"], split=what == "split")
