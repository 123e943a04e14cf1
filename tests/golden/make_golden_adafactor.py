#!/usr/bin/env python3
"""Golden trajectories for Adafactor: torch.optim.Adafactor (torch/optim/_adafactor.py,
_single_tensor_adafactor). CI only reads what this writes.

    ../shared/tools/torch2_env.sh        # PyTorch 2.x from PyPI into a venv ($PY2)
    $PY2 tests/golden/make_golden_adafactor.py

Written with torch 2.15.0 (CPU), numpy 2.4.6. Reads p0.npy (N,) and grads.npy (T, N) next to
this script (make_golden.py's inputs, not rewritten here) and writes
    expected_adafactor/<case>.npy  float32 (T, N)  row t = the parameters after step t (the
                                   tensors flattened and concatenated in order)
    cases_adafactor.txt            one line per case: <case> adafactor KEY=VALUE ... (the
                                   arguments of `optcl replay`, as in cases.txt; no --ulps, so
                                   tests/test_golden.c's float32 tolerance applies:
                                   |a − e| <= 1e-5 + 1e-4·|e| per element)

Tensors: the N parameters are split by the replay key tensors= (comma-separated shapes, each
shape's dims joined by x; e.g. tensors=4x5,12,5 is elements 0..19 as a 4×5 matrix in row-major
order, 20..31 a 12-vector and 32..36 a 5-vector), every case gives one. Each tensor is its own
torch parameter (one param group, in that order), p.grad = the matching slice of grads[t],
reshaped, before step t. torch.optim.Adafactor(foreach=False) runs its single-tensor path on
float32 CPU tensors. Unlike LAMB/LARS the shape matters, not only the size: tensors of two or
more dims get the factored second moment.

Keys (DEFAULTS below: optcl's defaults = torch's; keys left out take them):
    lr            1e-2   torch's lr (caps the relative step ρ_t and scales weight decay)
    beta2_decay   -0.8   τ: the second-moment weight of step t is t^τ
    eps1          2^-23  torch's eps[0]; torch's default None means torch.finfo(p.dtype).eps,
                         i.e. float32's 1.1920928955078125e-07 here (written out as a number in
                         a case that sets it)
    eps2          1e-3   torch's eps[1]
    d             1.0    the clipping threshold; torch refuses d < 1 ("Clipping threshold d
                         should be >= 1"), so d=0.5 cannot be a case: clipping engages at d = 1
                         whenever RMS(U) > 1 (below), and d > 1 is what the d case tests
    weight_decay  0.0
    maximize      0/1
    tensors=      the layout (above)
    schedule=exponential gamma=G   torch.optim.lr_scheduler.ExponentialLR (make_golden.py's
                         make_scheduler, imported), stepped once after every optimizer step:
                         the lr of step t (t = 0 first) is lr·G^t; it enters ρ_t and the weight
                         decay factor alike.

The update rule, _single_tensor_adafactor (torch 2.15) in source order. For each tensor p (in
order; numel n, float32), its gradient grad and its state, one call of step(), with lr the
group's lr at that call. "double" is python float arithmetic; a python float handed to a tensor
op (lerp weight, mul/add scalar) is rounded once to float32 inside the float32 kernel:

    g    = maximize ? −grad : grad
    t    = state.step + 1               (state.step starts at 0: t = 1, 2, ...; exact)
    w_t  = t^beta2_decay                (double; torch's one_minus_beta2_t, i.e. 1 − β̂2_t;
                                         w_1 = 1)
    ρ_t  = min(lr, 1/sqrt(t))           (double; 1 / t**0.5)
    α_t  = max(eps2, ‖p‖₂ / sqrt(n))·ρ_t
                                        ‖p‖₂ = p.norm(2) over the whole tensor (float32, then
                                        .item() to double), sqrt(n) = n**0.5 in double; p is
                                        the parameter BEFORE weight decay and before the step
    if weight_decay != 0:  p = p·(1 − lr·weight_decay)          (param.mul_(double))
    if p.dim() >= 2, shape (B..., m, k) (leading dims B... are batch dims, any number):
        r  = ‖g‖₂ over the last dim (keepdim), squared, / k      shape (B..., m, 1)
             (torch.linalg.vector_norm(g, dim=-1, keepdim=True).square_().div_(k): the mean
             of g² along each row, computed as norm², not as a sum of squares)
        R  = lerp(R, r, w_t)            row_var, shape (B..., m, 1), zeros at the start
        c  = ‖g‖₂ over dim −2 (keepdim), squared, / m             shape (B..., 1, k)
             (the mean of g² down each column)
        C  = lerp(C, c, w_t)            col_var, shape (B..., 1, k), zeros at the start
        V  = R @ C                      (B..., m, k): V[b, i, j] = R[b, i]·C[b, j] (a batched
                                        outer product: one per index b of the leading dims;
                                        nothing is shared across b)
        V  = V / max(mean_i R[b, i], eps1)
                                        row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1),
                                        shape (B..., 1, 1): the mean over the m rows of R,
                                        per batch index b
        (a 3-D 2×3×4 tensor is two 3×4 matrices factored separately: not a 6×4 matrix)
    else (p.dim() <= 1):
        v  = lerp(v, g·g, w_t)          variance, the shape of p, zeros at the start
        V  = v                          (a copy: v itself is not clamped)
    U    = rsqrt(max(V, eps1·eps1))·g   (var_estimate.clamp_(min=eps1*eps1).rsqrt_().mul_(g);
                                         eps1*eps1 in double, i.e. U = g / max(sqrt(V), eps1))
    den  = max(1, ‖U‖₂ / (sqrt(n)·d))   ‖U‖₂ float32 norm of the whole tensor, .item(); the
                                        rest double: RMS(U)/d clipped below at 1
    p    = p + (−α_t/den)·U             (param.add_(U, alpha=−α_t/den), the scalar double)
    state.step = t

lerp(a, b, w) is torch's: |w| < 0.5 ? a + w·(b − a) : b − (b − a)·(1 − w); at t = 1 (w = 1)
the state becomes r, c, g² exactly. Consequences: R_i is the EMA of the row means of g², C_j
of the column means, mean_i R_i of the mean of all g² (the paper's R·C/(1ᵀR) with sums is the
same up to the 1/(mk) scale, which cancels). A zero gradient gives U = 0 (also where V = 0: the
clamp to eps1² keeps the rsqrt finite; eps1 = 0 with an all-zero matrix gradient would be 0/0).
The step count is per parameter (torch keeps state.step per tensor), all tensors step together
here. Norms, RMS and clipping are per tensor: ‖p‖₂, ‖U‖₂, n, α_t and den differ between
tensors; ρ_t, w_t and lr do not.

0-d (scalar) tensors: torch accepts them; p.dim() = 0 takes the unfactored branch (variance
is a 0-d tensor), n = 1, so a scalar steps exactly as a 1-element vector (checked below: bit for
bit the same rows): α_t = max(eps2, |p|)·ρ_t, U = g / max(sqrt(v), eps1), den = max(1, |U|/d).
The tensors= syntax cannot write a 0-d tensor (a shape with no dims); tensors=...,1,... is the
same thing. A 1×1 matrix (tensors=1x1) is not: it takes the factored branch, R = C = EMA of g²,
V = R·C / max(R, eps1) (= R up to rounding while R >= eps1). The same holds for a 1×k or m×1
matrix: V is then the unfactored EMA of g² up to rounding.

Tolerance calibration, as in make_golden_optim.py: every case also runs in float64 (p0 and
grads widened, torch.set_default_dtype(float64) so the step counter is double too), and the
script prints, per case,
    max over the run |f32 − f64| / (1e-5 + 1e-4·|f64|)
i.e. the share of the test's tolerance that float32 rounding alone uses. Torch's eps1 default
depends on the dtype (finfo(float64).eps = 2.2e-16 in a float64 run), so the float64 run gets
eps1 = float32's eps explicitly where a case leaves eps1 out: the two runs then differ by
rounding only. It refuses to write anything if a case exceeds MAX_CALIBRATION; the worst case
goes into cases_adafactor.txt's header. It also refuses cases in which an option does not show:
leaving any one key out (a schedule as a whole; not lr, not tensors) must change the rows by
more than MIN_KEY_EFFECT times the tolerance; and so must the layout: every tensor with m, k > 1
in its last two dims flattened to a vector (the factoring; 1×k and m×1 matrices are left: they
equal vectors up to rounding), every >2-D tensor merged into one matrix (prod(leading dims)·m)×k
(the batching), and all tensors one vector of N (per-tensor RMS). A case whose lr exceeds
1/sqrt(t) at some step must also differ from the rule with ρ_t = lr (the cap shows).

The rule above is also written in numpy float64 (rule_rows) and compared with torch's float64
rows in every case, so that the docstring is checked against torch, not only copied from it.
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
# MIN_KEY_EFFECT, the checks, tensors= and the writing of the files.
from golden_files import (MIN_KEY_EFFECT, calibration, check_case_names,  # noqa: E402
                          effect, leave_one_out, load_inputs, note_worst, parse_tensors,
                          require_calibration, require_effect, require_finite, split,
                          warn_versions, worst_lines, write_golden)

MAX_RULE_SHARE = 1e-3  # numpy float64 rule vs torch float64: rounding of float64 only
EXPECTED_VERSIONS = {"torch": "2.15.0", "numpy": "2.4.6"}
EPS_F32 = float(np.finfo(np.float32).eps)  # 2^-23: torch's eps1=None on float32 tensors

# Replay keys with optcl's defaults (= torch's; eps1 = torch's None on float32); BOOL keys 0/1.
DEFAULTS = dict(lr=1e-2, beta2_decay=-0.8, eps1=EPS_F32, eps2=1e-3, d=1.0, weight_decay=0.0,
                maximize=0)
BOOL_KEYS = {"maximize"}

T3 = "tensors=4x5,12,5"
# (case, replay KEY=VALUE arguments)
CASES = [
    ("adafactor_default", [T3]),
    # 3-D and 4-D tensors: factored per index of the leading dims.
    ("adafactor_3d", ["lr=0.02", "tensors=2x3x4,13"]),
    ("adafactor_4d", ["lr=0.02", "tensors=3x4,2x2x2x3,1"]),
    ("adafactor_tall_wide", ["lr=0.02", "tensors=6x2,2x6,13"]),
    # Degenerate matrices: element 0's gradient is always 0 (the 1×1 there: R = C = V = 0,
    # U = 0, it only decays), element 1 a live 1×1; a 1×6 row and a 6×1 column; then a 3×5.
    ("adafactor_1x1_row_col", ["lr=0.02", "weight_decay=0.1",
                               "tensors=1x1,1x1,1x6,6x1,3x5,8"]),
    # lr 0.05 < 1/sqrt(50): ρ_t = lr throughout; lr 0.2: ρ_t = 1/sqrt(t) from t = 26 (the
    # parameters grow: steps of 0.2·RMS(p)).
    ("adafactor_lr", ["lr=0.05", T3]),
    ("adafactor_lr_rho", ["lr=0.2", "tensors=4x5,17"]),
    ("adafactor_beta2_decay", ["lr=0.02", "beta2_decay=-0.5", T3]),
    ("adafactor_eps1", ["lr=0.02", "eps1=0.3", T3]),
    ("adafactor_eps2", ["lr=0.02", "eps2=1", T3]),
    ("adafactor_d", ["lr=0.02", "d=1.2", T3]),
    ("adafactor_wd", ["lr=0.02", "weight_decay=0.1", T3]),
    ("adafactor_maximize", ["lr=0.02", "maximize=1", "tensors=3x3,2x7,14"]),
    ("adafactor_all", ["lr=0.03", "beta2_decay=-0.6", "eps1=0.2", "eps2=1", "d=1.2",
                       "weight_decay=0.05", "maximize=1", "tensors=2x3x4,3x3,4"]),
    ("adafactor_exponential", ["lr=0.2", "weight_decay=0.1", "schedule=exponential",
                               "gamma=0.95", T3]),
]


def shapes_spec(shapes):
    return "tensors=" + ",".join("x".join(str(d) for d in s) for s in shapes)


def parse_args(args, n):
    """(Adafactor keys over optcl's defaults, schedule keys, tensor shapes, keys the case set)."""
    cfg = dict(DEFAULTS)
    sched = dict(SCHEDULE_DEFAULTS)
    shapes, given = None, set()
    for a in args:
        key, value = a.split("=", 1)
        if key == "tensors":
            shapes = parse_tensors(value, n)
            continue
        if set_schedule_key(sched, key, value):
            continue
        if key not in cfg:
            raise SystemExit(f"case key {key!r} is not an option of adafactor")
        if key in BOOL_KEYS and value not in ("0", "1"):
            raise SystemExit(f"{key}={value}: flags are 0 or 1")
        cfg[key] = int(value) if key in BOOL_KEYS else float(value)
        given.add(key)
    if shapes is None:
        raise SystemExit(f"adafactor {args}: every case gives tensors=")
    if sched["schedule"] == "plateau" or sched["lookahead_k"] or sched["clip_norm"] or \
            sched["nonfinite"] != "propagate":
        raise SystemExit("only lr schedules are written here")
    if cfg["d"] < 1:
        raise SystemExit("torch.optim.Adafactor refuses d < 1")
    return cfg, sched, shapes, given


def run(args, p0, grads, dtype, shapes=None, lrs=None):
    """Rows (T, N) of the parameters after each step, torch in dtype (shapes: a layout in place
    of the case's tensors=; lrs: a list that receives the lr of every step)."""
    cfg, sc, case_shapes, given = parse_args(args, p0.size)
    shapes = shapes or case_shapes
    # float32 without eps1: torch's own default (None → finfo(float32).eps); float64: float32's
    # eps written out, so that the two runs differ by rounding only.
    eps1 = None if (dtype == torch.float32 and "eps1" not in given) else cfg["eps1"]
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        params = [torch.nn.Parameter(torch.from_numpy(x.copy()).to(dtype))
                  for x in split(p0.astype(np.float64), shapes)]
        opt = torch.optim.Adafactor(params, lr=cfg["lr"], beta2_decay=cfg["beta2_decay"],
                                    eps=(eps1, cfg["eps2"]), d=cfg["d"],
                                    weight_decay=cfg["weight_decay"], foreach=False,
                                    maximize=bool(cfg["maximize"]))
        sched = make_scheduler(opt, sc)
        rows = []
        for g in grads:
            if lrs is not None:
                lrs.append(opt.param_groups[0]["lr"])
            for p, gp in zip(params, split(g.astype(np.float64), shapes)):
                p.grad = torch.from_numpy(gp.copy()).to(dtype)
            opt.step()
            if sched is not None:
                sched.step()
            rows.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
        assert all(p.dtype == dtype for p in params)
        assert all(opt.state[p]["step"].dtype == dtype for p in params)
    finally:
        torch.set_default_dtype(old)
    return np.stack(rows)


def rule_rows(args, p0, grads, lrs, rho_cap=True):
    """The module docstring's rule in numpy float64 (lrs: the lr of every step; rho_cap=False:
    ρ_t = lr, to see that min(lr, 1/sqrt(t)) shows). Returns the rows and, per tensor, the
    number of steps at which the RMS clipping engaged (den > 1)."""
    cfg, _, shapes, _ = parse_args(args, p0.size)
    ps = [x.copy() for x in split(p0.astype(np.float64), shapes)]
    state = [dict(R=np.zeros(s[:-1] + (1,)), C=np.zeros(s[:-2] + (1, s[-1])))
             if len(s) >= 2 else dict(v=np.zeros(s)) for s in shapes]
    clipped = [0] * len(shapes)
    eps1, eps2, d, wd = cfg["eps1"], cfg["eps2"], cfg["d"], cfg["weight_decay"]

    def lerp(a, b, w):
        return a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1 - w)

    rows = []
    for t0, grad in enumerate(grads):
        t, lr = t0 + 1, lrs[t0]
        w = float(t) ** cfg["beta2_decay"]
        rho = min(lr, 1 / t ** 0.5) if rho_cap else lr
        for k, (p, st, g) in enumerate(zip(ps, state, split(grad.astype(np.float64), shapes))):
            g = -g if cfg["maximize"] else g
            n = p.size
            alpha = max(eps2, np.sqrt(np.sum(p * p)) / n ** 0.5) * rho
            if wd != 0:
                p *= 1 - lr * wd
            if p.ndim >= 2:
                m, kk = p.shape[-2], p.shape[-1]
                st["R"] = lerp(st["R"], np.sum(g * g, axis=-1, keepdims=True) / kk, w)
                st["C"] = lerp(st["C"], np.sum(g * g, axis=-2, keepdims=True) / m, w)
                V = st["R"] * st["C"]  # (..., m, 1)·(..., 1, k): the batched outer product
                V = V / np.maximum(np.mean(st["R"], axis=-2, keepdims=True), eps1)
            else:
                st["v"] = lerp(st["v"], g * g, w)
                V = st["v"]
            U = g / np.sqrt(np.maximum(V, eps1 * eps1))
            den = max(1.0, np.sqrt(np.sum(U * U)) / (n ** 0.5 * d))
            clipped[k] += int(den > 1)
            p += (-alpha / den) * U
        rows.append(np.concatenate([p.ravel() for p in ps]))
    return np.stack(rows), clipped


def layout_variants(shapes, n):
    """(name, shapes) of the layouts a case must differ from: the factoring (every tensor with
    m, k > 1 in its last two dims a vector; a 1×k or m×1 matrix is exactly its EMA of g² up to
    rounding, so it is left as it is), the batching (every >2-D tensor one matrix) and
    per-tensor RMS (one vector)."""
    def factored(s):
        return len(s) >= 2 and s[-1] > 1 and s[-2] > 1

    out = []
    if any(factored(s) for s in shapes):
        out.append(("matrices flattened", [(int(np.prod(s)),) if factored(s) else s
                                           for s in shapes]))
    if any(len(s) > 2 for s in shapes):
        out.append((">2-D tensors as one matrix", [(int(np.prod(s[:-1])), s[-1])
                                                    if len(s) > 2 else s for s in shapes]))
    if len(shapes) > 1 or len(shapes[0]) > 1:
        out.append(("one vector of N", [(n,)]))
    return out


def check_keys_matter(p0, grads):
    """Every key of every case (a schedule as a whole; not lr, not tensors) and the layout
    change the trajectory by more than MIN_KEY_EFFECT times the tolerance: a rule that ignores
    an option, the factoring or the batching fails."""
    schedule_keys = set(SCHEDULE_DEFAULTS)
    for name, args in CASES:
        base = run(args, p0, grads, torch.float32)
        _, _, shapes, _ = parse_args(args, p0.size)
        variants = [(key, run(rest, p0, grads, torch.float32)) for key, rest in
                    leave_one_out(args, skip=("lr", "tensors"), schedule_keys=schedule_keys)]
        for what, alt in layout_variants(shapes, p0.size):
            variants.append((f"layout ({what}: {shapes_spec(alt)})",
                             run(args, p0, grads, torch.float32, shapes=alt)))
        for key, rows in variants:
            require_effect(name, key, rows, base)


def check_scalar(p0, grads):
    """A 0-d parameter and a 1-element vector fed the same numbers: identical rows (torch's
    unfactored branch for dim <= 1). Returns the number of differing steps, over a few
    settings."""
    bad = 0
    for kw in [dict(), dict(lr=0.3, weight_decay=0.1, d=1.2), dict(maximize=True, eps=(0.3, 1.0))]:
        out = []
        for shape in [(), (1,)]:
            p = torch.nn.Parameter(torch.tensor(p0[36:37]).reshape(shape))
            opt = torch.optim.Adafactor([p], foreach=False, **kw)
            rows = []
            for g in grads:
                p.grad = torch.tensor(g[36:37]).reshape(shape)
                opt.step()
                rows.append(p.detach().reshape(1).numpy().copy())
            out.append(np.stack(rows))
        bad += int(np.sum(out[0] != out[1]))
    return bad


def main():
    torch.set_num_threads(1)
    ver = {"torch": torch.__version__.split("+")[0], "numpy": np.__version__}
    warn_versions(ver, EXPECTED_VERSIONS)
    p0, grads = load_inputs()
    check_case_names([c[0] for c in CASES], ("cases.txt", "cases_dtype.txt", "cases_optim.txt",
                                             "cases_schedulefree.txt", "cases_tensorwise.txt"),
                     missing_ok=True)

    check_keys_matter(p0, grads)
    bad = check_scalar(p0, grads)
    print(f"0-d parameter vs 1-element vector: {bad} differing elements", file=sys.stderr)
    if bad:
        raise SystemExit("a 0-d parameter does not step as a 1-element vector")

    files, worst, rule_worst = {}, {}, 0.0
    for name, args in CASES:
        r32 = run(args, p0, grads, torch.float32)
        lrs = []
        r64 = run(args, p0, grads, torch.float64, lrs=lrs)
        if r32.dtype != np.float32 or r64.dtype != np.float64:
            raise SystemExit(f"case {name}: dtypes {r32.dtype}/{r64.dtype}")
        require_finite(name, r32, r64)
        cal = calibration(r32, r64)
        mine, clipped = rule_rows(args, p0, grads, lrs)
        rule = calibration(mine, r64)
        rule_worst = max(rule_worst, rule)
        moved = float(np.max(np.abs(r32[-1] - p0)))
        print(f"{name:24s} f32-vs-f64 {cal:.4f}  rule-vs-torch(f64) {rule:.2e}  "
              f"max|p_T − p0| {moved:.3g}  clipped steps per tensor {clipped}", file=sys.stderr)
        require_calibration(name, cal)
        if rule >= MAX_RULE_SHARE:
            raise SystemExit(f"case {name}: the docstring's rule is {rule:.3g} of the tolerance "
                             "away from torch (float64)")
        if any(lr > 1 / (t + 1) ** 0.5 for t, lr in enumerate(lrs)):  # ρ_t = 1/sqrt(t) once
            e = effect(rule_rows(args, p0, grads, lrs, rho_cap=False)[0], r64)
            print(f"{'':24s} rho_t = lr instead of min(lr, 1/sqrt(t)): {e:.3g} of the tolerance",
                  file=sys.stderr)
            if e < MIN_KEY_EFFECT:
                raise SystemExit(f"case {name}: the cap 1/sqrt(t) on rho_t does not show")
        files[name + ".npy"] = r32
        note_worst(worst, "adafactor", name, cal)
    print(f"numpy float64 rule vs torch float64: worst {rule_worst:.2e} of the tolerance",
          file=sys.stderr)

    header = [
        "# optcl golden cases for adafactor — generated by tests/golden/make_golden_adafactor.py;",
        "# do not edit.",
        f"# torch {torch.__version__} (torch.optim.Adafactor, single-tensor path: foreach=False,",
        f"# CPU, float32), numpy {np.__version__}; inputs p0.npy {p0.shape}, grads.npy "
        f"{grads.shape}",
        "# expected_adafactor/<case>.npy (T, N): row t = the parameters after step t, the tensors",
        "# of tensors= (one torch parameter each, one param group) flattened and concatenated.",
        "# ≥2-D tensors: factored second moment over the last two dims, batched over the leading",
        "# dims; 1-D: unfactored. eps1 left out = torch's None = finfo(float32).eps = 2^-23.",
        "# schedule=exponential: torch.optim.lr_scheduler.ExponentialLR, stepped once per step",
        "# (lr_t = lr·gamma^t, t = 0 first; enters rho_t = min(lr_t, 1/sqrt(t+1)) and weight",
        "# decay). The exact rule is in the generator's docstring.",
        "# Tolerance share used by float32 rounding alone, max |f32 − f64|/(1e-5 + 1e-4·|f64|)",
        "# (f64: torch in float64, eps1 = float32's eps), worst case:",
    ] + worst_lines(worst, ["adafactor"], 9)
    write_golden("adafactor", files, header, [(n, "adafactor", a) for n, a in CASES])


if __name__ == "__main__":
    main()
