#!/usr/bin/env python3
"""Golden trajectories for the optimizers added after the first five: torch.optim's Adagrad,
Adadelta, Adamax, NAdam, RAdam and ASGD, and Adam/AdamW with optax's `eps_root` (which torch
does not have: a re-implementation in torch float32 ops, see AdamEpsRoot below). CI only reads
what this writes.

    ../shared/tools/torch2_env.sh        # PyTorch 2.x from PyPI into a venv ($PY2)
    $PY2 tests/golden/make_golden_optim.py

Written with torch 2.15.0 (CPU), numpy 2.4.6. Reads p0.npy (N,) and grads.npy (T, N) next to
this script (make_golden.py's inputs, not rewritten here) and writes
    expected_optim/<case>.npy     float32 (T, N)  row t = the parameters after step t
    expected_optim/<case>_ax.npy  float32 (T, N)  ASGD cases only: torch's averaged iterate
                                  state["ax"] after step t (not listed in cases_optim.txt: the
                                  replay rows are the parameters, which ax does not feed back into)
    cases_optim.txt               one line per case: <case> <optimizer> KEY=VALUE ... (the
                                  arguments of `optcl replay`, as in cases.txt; no --ulps, so
                                  tests/test_golden.c's float32 tolerance applies:
                                  |a − e| <= 1e-5 + 1e-4·|e| per element)

Every torch optimizer runs its single-tensor path (foreach=False, not fused, not capturable) on
float32 CPU tensors, one parameter tensor of N elements, p.grad = grads[t] before step t.
Keys are torch's constructor arguments (betas as beta1/beta2, flags 0/1); keys left out take
torch's defaults. Schedules are the real torch.optim.lr_scheduler objects make_golden.py builds
(imported from it: same keys, same semantics), stepped once after every optimizer step.

Tolerance calibration: every case also runs in float64 (p0 and grads widened, the optimizer's
python-float coefficients and its 0-dim scalar state -- ASGD's eta/mu, NAdam's mu_product --
double too, via torch.set_default_dtype(float64)), and the script prints, per case,
    max over the run |f32 − f64| / (1e-5 + 1e-4·|f64|)
i.e. the share of the test's tolerance that float32 rounding alone uses. It refuses to write
anything if a case exceeds MAX_CALIBRATION; the worst case per optimizer goes into
cases_optim.txt's header. It also refuses cases in which an option does not show: leaving any
one key out (a schedule as a whole) must change the rows by more than MIN_KEY_EFFECT times the
tolerance (ASGD's t0 only changes ax, so it is checked on ax).

AdamEpsRoot (optimizers adam/adamw with eps_root=...): torch.optim.Adam's single-tensor path
(torch/optim/adam.py, _single_tensor_adam, not capturable, not differentiable) with one change,
the denominator. Per element, step t (from 1), all tensors float32, python floats double:
    g = maximize ? −grad : grad
    adam:  g = g + weight_decay·p                        (grad.add(param, alpha=wd))
    adamw: p = p·(1 − lr·weight_decay)                   (param.mul_(1 − lr·wd))
    m = lerp(m, g, 1 − β1)                               (exp_avg.lerp_)
    v = v·β2 + (1 − β2)·g·g                              (exp_avg_sq.mul_(β2).addcmul_)
    amsgrad: vmax = max(vmax, v) and vmax replaces v below
    bc1 = 1 − β1^t, bc2 = 1 − β2^t, step_size = lr / bc1 (doubles)
    denom = sqrt(v / bc2 + eps_root) + eps     (v.div(bc2).add_(eps_root).sqrt_().add_(eps))
    p = p − step_size · m / denom              (param.addcdiv_(m, denom, value=−step_size))
torch's own denominator is sqrt(v)/sqrt(bc2) + eps; eps_root=0 here equals it up to float32
rounding (checked below against torch.optim.Adam/AdamW). optax.scale_by_adam computes
m_hat / (sqrt(v_hat + eps_root) + eps) with m_hat = m/bc1: the same up to rounding.
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # importing make_golden, golden_files leaves no __pycache__
sys.path.insert(0, HERE)
# One scheduler builder for all golden sets; make_golden.py only defines things on import.
from make_golden import SCHEDULE_DEFAULTS, make_scheduler, set_schedule_key  # noqa: E402
# The plumbing the golden generators share (numpy only): ATOL, RTOL, MAX_CALIBRATION,
# MIN_KEY_EFFECT, the checks and the writing of expected_optim/ and cases_optim.txt.
from golden_files import (calibration, check_case_names, leave_one_out,  # noqa: E402
                          load_inputs, note_worst, require_calibration, require_effect,
                          require_finite, worst_lines, write_golden)


class AdamEpsRoot(torch.optim.Optimizer):
    """torch.optim.Adam(W)'s single-tensor step with optax's eps_root inside the square root of
    the bias-corrected second moment (see the module docstring for the exact update)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, eps_root=0.0,
                 weight_decay=0.0, amsgrad=False, maximize=False, decoupled=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, eps_root=eps_root,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, decoupled=decoupled))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2) = group["lr"], group["betas"]
            eps, eps_root, wd = group["eps"], group["eps_root"], group["weight_decay"]
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                step = state["step"]
                grad = -p.grad if group["maximize"] else p.grad
                if wd != 0:
                    if group["decoupled"]:
                        p.mul_(1 - lr * wd)
                    else:
                        grad = grad.add(p, alpha=wd)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                step_size = lr / bias_correction1
                v = exp_avg_sq
                if group["amsgrad"]:
                    torch.maximum(state["max_exp_avg_sq"], exp_avg_sq,
                                  out=state["max_exp_avg_sq"])
                    v = state["max_exp_avg_sq"]
                denom = v.div(bias_correction2).add_(eps_root).sqrt_().add_(eps)
                p.addcdiv_(exp_avg, denom, value=-step_size)


# Replay keys with torch's defaults; BOOL keys are written 0/1.
DEFAULTS = {
    "adagrad": dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                    eps=1e-10, maximize=0),
    "adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=0),
    "adamax": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, maximize=0),
    "nadam": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                  momentum_decay=4e-3, decoupled_weight_decay=0, maximize=0),
    "radam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                  decoupled_weight_decay=0, maximize=0),
    "asgd": dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=0),
    "adam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, eps_root=0.0, weight_decay=0.0,
                 amsgrad=0, maximize=0),
    "adamw": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, eps_root=0.0, weight_decay=1e-2,
                  amsgrad=0, maximize=0),
}
BOOL_KEYS = {"maximize", "amsgrad", "decoupled_weight_decay"}

# (case, optimizer, replay KEY=VALUE arguments)
CASES = [
    # Adagrad: clr = lr / (1 + (step − 1)·lr_decay) with the lr of the current step.
    ("adagrad_default", "adagrad", []),
    ("adagrad_lr", "adagrad", ["lr=0.1"]),
    ("adagrad_lr_decay", "adagrad", ["lr=0.1", "lr_decay=0.05"]),
    ("adagrad_initial_acc_wd", "adagrad",
     ["lr=0.1", "initial_accumulator_value=0.5", "weight_decay=0.1"]),
    ("adagrad_maximize_eps", "adagrad", ["lr=0.05", "maximize=1", "eps=1e-3"]),
    ("adagrad_lr_decay_exponential", "adagrad",
     ["lr=0.1", "lr_decay=0.02", "schedule=exponential", "gamma=0.95"]),
    # Adadelta: lr only scales the applied delta (default lr 1.0).
    ("adadelta_default", "adadelta", []),
    ("adadelta_rho_eps", "adadelta", ["rho=0.5", "eps=1e-4"]),
    ("adadelta_wd_maximize", "adadelta", ["lr=0.5", "weight_decay=0.1", "maximize=1", "eps=1e-5"]),
    ("adadelta_step", "adadelta", ["eps=1e-4", "schedule=step", "step_size=10", "gamma=0.5"]),
    # Adamax
    ("adamax_default", "adamax", []),
    ("adamax_lr_betas", "adamax", ["lr=0.02", "beta1=0.8", "beta2=0.95"]),
    ("adamax_wd_maximize_eps", "adamax",
     ["lr=0.01", "weight_decay=0.1", "maximize=1", "eps=1e-3", "beta1=0.4"]),
    ("adamax_multistep", "adamax",
     ["lr=0.02", "schedule=multistep", "milestones=10,30", "gamma=0.3"]),
    # NAdam
    ("nadam_default", "nadam", []),
    ("nadam_lr_betas_eps", "nadam", ["lr=0.01", "beta1=0.8", "beta2=0.99", "eps=1e-3"]),
    ("nadam_wd", "nadam", ["lr=0.01", "weight_decay=0.1"]),
    ("nadam_decoupled_wd_maximize", "nadam",
     ["lr=0.01", "weight_decay=0.1", "decoupled_weight_decay=1", "maximize=1"]),
    ("nadam_momentum_decay", "nadam", ["lr=0.01", "momentum_decay=0.05", "beta1=0.95"]),
    ("nadam_cosine", "nadam", ["lr=0.01", "schedule=cosine", "t_max=30"]),
    ("nadam_decoupled_warmup_exponential", "nadam",
     ["lr=0.01", "weight_decay=0.05", "decoupled_weight_decay=1", "warmup_steps=5",
      "warmup_start_factor=0.2", "schedule=exponential", "gamma=0.95"]),
    # RAdam: with β2 = 0.999, ρ_t ≤ 5 (unrectified) for steps 1–5 (ρ_5 = 4.996), > 5 from
    # step 6; β2 = 0.6 gives ρ_inf = 4: never rectified.
    ("radam_default", "radam", []),
    ("radam_lr_betas", "radam", ["lr=0.01", "beta1=0.8", "beta2=0.99"]),
    ("radam_beta2_09_eps", "radam", ["lr=0.01", "beta2=0.9", "eps=1e-3"]),
    ("radam_never_rectified", "radam", ["lr=0.01", "beta2=0.6"]),
    ("radam_wd", "radam", ["lr=0.01", "weight_decay=0.1"]),
    ("radam_decoupled_wd_maximize", "radam",
     ["lr=0.01", "weight_decay=0.1", "decoupled_weight_decay=1", "maximize=1"]),
    ("radam_exponential", "radam", ["lr=0.02", "schedule=exponential", "gamma=0.95"]),
    # ASGD: the rows are p; averaging (t0) changes only ax (expected_optim/<case>_ax.npy).
    # Step k uses the eta computed at the end of step k − 1 from that step's lr (step 1: the
    # group's lr when the state is created), so a schedule acts one step late.
    ("asgd_default", "asgd", []),
    ("asgd_lr_lambd_alpha", "asgd", ["lr=0.05", "lambd=0.1", "alpha=0.5"]),
    ("asgd_t0_10", "asgd", ["lr=0.05", "lambd=0.01", "alpha=1", "t0=10"]),
    ("asgd_t0_0_wd_maximize", "asgd",
     ["lr=0.03", "lambd=0.5", "t0=0", "weight_decay=0.1", "maximize=1"]),
    ("asgd_step", "asgd",
     ["lr=0.05", "lambd=0.2", "t0=5", "schedule=step", "step_size=10", "gamma=0.5"]),
    ("asgd_warmup_cosine", "asgd",
     ["lr=0.05", "lambd=1", "alpha=0.6", "t0=20", "warmup_steps=4",
      "warmup_start_factor=0.25", "schedule=cosine", "t_max=30", "eta_min=0.005"]),
    # Adam/AdamW with optax's eps_root (AdamEpsRoot).
    ("adam_eps_root", "adam", ["lr=0.01", "eps_root=1e-3"]),
    ("adam_eps_root_no_eps", "adam", ["lr=0.01", "eps=0", "eps_root=1e-8"]),
    ("adam_eps_root_amsgrad_wd_maximize", "adam",
     ["lr=0.01", "beta1=0.8", "beta2=0.99", "eps_root=1e-2", "amsgrad=1", "weight_decay=0.1",
      "maximize=1"]),
    ("adamw_eps_root", "adamw", ["lr=0.01", "eps_root=1e-3"]),
    ("adamw_eps_root_amsgrad", "adamw",
     ["lr=0.01", "beta2=0.95", "eps=1e-3", "eps_root=1e-2", "amsgrad=1", "weight_decay=0.1"]),
    ("adamw_eps_root_warmup_cosine", "adamw",
     ["lr=0.01", "eps_root=1e-3", "weight_decay=0.05", "warmup_steps=5",
      "warmup_start_factor=0.2", "schedule=cosine", "t_max=30", "eta_min=0.001"]),
]


def parse_args(optimizer, args):
    """(optimizer keys over torch's defaults, schedule keys over make_golden.py's defaults)."""
    cfg = dict(DEFAULTS[optimizer])
    sched = dict(SCHEDULE_DEFAULTS)
    for a in args:
        key, value = a.split("=", 1)
        if set_schedule_key(sched, key, value):
            continue
        if key in cfg:
            if key in BOOL_KEYS and value not in ("0", "1"):
                raise SystemExit(f"{key}={value}: flags are 0 or 1")
            cfg[key] = int(value) if key in BOOL_KEYS else float(value)
        else:
            raise SystemExit(f"case key {key!r} is not an option of {optimizer}")
    if sched["schedule"] == "plateau" or sched["lookahead_k"] or sched["clip_norm"] or \
            sched["nonfinite"] != "propagate":
        raise SystemExit("only lr schedules are written here")
    return cfg, sched


def make_optimizer(optimizer, c, params):
    o = torch.optim
    maximize = bool(c["maximize"])
    if optimizer == "adagrad":
        return o.Adagrad(params, lr=c["lr"], lr_decay=c["lr_decay"],
                         weight_decay=c["weight_decay"],
                         initial_accumulator_value=c["initial_accumulator_value"], eps=c["eps"],
                         foreach=False, maximize=maximize)
    if optimizer == "adadelta":
        return o.Adadelta(params, lr=c["lr"], rho=c["rho"], eps=c["eps"],
                          weight_decay=c["weight_decay"], foreach=False, maximize=maximize)
    if optimizer == "adamax":
        return o.Adamax(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"],
                        weight_decay=c["weight_decay"], foreach=False, maximize=maximize)
    if optimizer == "nadam":
        return o.NAdam(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"],
                       weight_decay=c["weight_decay"], momentum_decay=c["momentum_decay"],
                       decoupled_weight_decay=bool(c["decoupled_weight_decay"]), foreach=False,
                       maximize=maximize)
    if optimizer == "radam":
        return o.RAdam(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"],
                       weight_decay=c["weight_decay"],
                       decoupled_weight_decay=bool(c["decoupled_weight_decay"]), foreach=False,
                       maximize=maximize)
    if optimizer == "asgd":
        return o.ASGD(params, lr=c["lr"], lambd=c["lambd"], alpha=c["alpha"], t0=c["t0"],
                      weight_decay=c["weight_decay"], foreach=False, maximize=maximize)
    if optimizer in ("adam", "adamw"):
        return AdamEpsRoot(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"],
                           eps_root=c["eps_root"], weight_decay=c["weight_decay"],
                           amsgrad=bool(c["amsgrad"]), maximize=maximize,
                           decoupled=optimizer == "adamw")
    raise SystemExit(f"unknown optimizer {optimizer}")


def run(optimizer, cfg, sc, p0, grads, dtype, make=None):
    """Rows (T, N) of the parameters after each step (and of ASGD's ax), in dtype. The float64
    run makes the optimizer's 0-dim scalar state double as well (default dtype)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        p = torch.nn.Parameter(torch.from_numpy(p0.astype(np.float64)).to(dtype))
        opt = (make or make_optimizer)(optimizer, cfg, [p])
        sched = make_scheduler(opt, sc)
        rows, ax = [], []
        for g in grads:
            p.grad = torch.from_numpy(g.astype(np.float64)).to(dtype)
            opt.step()
            if sched is not None:
                sched.step()
            rows.append(p.detach().numpy().copy())
            if optimizer == "asgd":
                ax.append(opt.state[p]["ax"].numpy().copy())
        if optimizer == "asgd":
            assert opt.state[p]["eta"].dtype == dtype and opt.state[p]["mu"].dtype == dtype
        if optimizer == "nadam":
            assert opt.state[p]["mu_product"].dtype == dtype
    finally:
        torch.set_default_dtype(old)
    return np.stack(rows), (np.stack(ax) if ax else None)


def check_eps_root_zero(p0, grads):
    """AdamEpsRoot with eps_root=0 against torch.optim.Adam/AdamW (foreach=False): the same
    rule but for sqrt(v/bc2) in place of sqrt(v)/sqrt(bc2); returns the worst share."""
    worst = 0.0
    for optimizer, cls, kw in [("adam", torch.optim.Adam, dict(amsgrad=True, weight_decay=0.1)),
                               ("adamw", torch.optim.AdamW, dict(weight_decay=0.1)),
                               ("adam", torch.optim.Adam, dict(maximize=True))]:
        cfg = dict(DEFAULTS[optimizer], lr=0.01)
        cfg.update(amsgrad=int(kw.get("amsgrad", 0)), maximize=int(kw.get("maximize", 0)),
                   weight_decay=kw.get("weight_decay", cfg["weight_decay"]))
        sc = dict(SCHEDULE_DEFAULTS)
        mine, _ = run(optimizer, cfg, sc, p0, grads, torch.float32)

        def make_torch(_o, c, params):
            return cls(params, lr=c["lr"], foreach=False, **kw)
        theirs, _ = run(optimizer, cfg, sc, p0, grads, torch.float32, make_torch)
        worst = max(worst, calibration(mine, theirs.astype(np.float64)))
    return worst


# Keys whose effect the rows cannot show: ASGD's t0 only moves ax (checked on ax instead), and
# eps=0 next to eps_root is there to run the eps-free path, not to differ from eps=1e-8.
KEYS_ONLY_IN_AX = {("asgd", "t0")}
KEYS_NOT_VISIBLE = {("adam_eps_root_no_eps", "eps")}


def check_keys_matter(p0, grads):
    """Every key of every case (a schedule as a whole) changes the trajectory by more than
    MIN_KEY_EFFECT times the tolerance when it is left out: a rule that ignores an option fails."""
    schedule_keys = set(SCHEDULE_DEFAULTS)
    for name, optimizer, args in CASES:
        cfg, sc = parse_args(optimizer, args)
        base, base_ax = run(optimizer, cfg, sc, p0, grads, torch.float32)
        hidden = {k for n, k in KEYS_NOT_VISIBLE if n == name}
        for key, rest in leave_one_out(args, skip=hidden, schedule_keys=schedule_keys):
            c2, s2 = parse_args(optimizer, rest)
            rows, ax = run(optimizer, c2, s2, p0, grads, torch.float32)
            if (optimizer, key) in KEYS_ONLY_IN_AX:
                require_effect(name, key, ax, base_ax)
            else:
                require_effect(name, key, rows, base)


def main():
    torch.set_num_threads(1)
    p0, grads = load_inputs()
    check_case_names([c[0] for c in CASES], ("cases.txt", "cases_dtype.txt"))

    check_keys_matter(p0, grads)
    eps_root_zero = check_eps_root_zero(p0, grads)
    print(f"AdamEpsRoot(eps_root=0) vs torch.optim.Adam/AdamW: {eps_root_zero:.4f} of the "
          "tolerance", file=sys.stderr)

    files, worst = {}, {}
    for name, optimizer, args in CASES:
        cfg, sc = parse_args(optimizer, args)
        r32, ax32 = run(optimizer, cfg, sc, p0, grads, torch.float32)
        r64, ax64 = run(optimizer, cfg, sc, p0, grads, torch.float64)
        require_finite(name, r32, r64)
        cal = calibration(r32, r64)
        moved = float(np.max(np.abs(r32[-1] - p0)))
        line = f"{name:40s} f32-vs-f64 {cal:.4f}  max|p_T − p0| {moved:.3g}"
        if ax32 is not None:
            line += f"  (ax: {calibration(ax32, ax64):.4f})"
        print(line, file=sys.stderr)
        require_calibration(name, cal)
        files[name + ".npy"] = r32
        if ax32 is not None:
            files[name + "_ax.npy"] = ax32
        note_worst(worst, optimizer, name, cal)

    header = [
        "# optcl golden cases for adagrad, adadelta, adamax, nadam, radam, asgd and adam/adamw",
        "# eps_root — generated by tests/golden/make_golden_optim.py; do not edit.",
        f"# torch {torch.__version__} (single-tensor path: foreach=False, CPU, float32), numpy "
        f"{np.__version__}; inputs p0.npy {p0.shape}, grads.npy {grads.shape}",
        "# expected_optim/<case>.npy (T, N): row t = the parameters after step t (ASGD: p, not",
        "# ax; ax is in expected_optim/<case>_ax.npy). adam/adamw eps_root: torch.optim.Adam's",
        "# rule with denom = sqrt(v/bc2 + eps_root) + eps, written in torch ops in the script.",
        "# Schedules: torch.optim.lr_scheduler as in make_golden.py, stepped once per step.",
        "# Tolerance share used by float32 rounding alone, max |f32 − f64|/(1e-5 + 1e-4·|f64|),",
        "# worst case per optimizer:",
    ]
    write_golden("optim", files, header + worst_lines(worst, DEFAULTS, 9), CASES)


if __name__ == "__main__":
    main()
