#!/usr/bin/env python3
"""Golden trajectories for Muon: torch.optim.Muon (torch/optim/_muon.py, _single_tensor_muon and
_zeropower_via_newtonschulz), with its Newton–Schulz iteration in float32 instead of bfloat16
(below). CI only reads what this writes.

    ../shared/tools/torch2_env.sh        # PyTorch 2.x from PyPI into a venv ($PY2)
    $PY2 tests/golden/make_golden_muon.py

Written with torch 2.15.0 (CPU), numpy 2.4.6. Reads p0.npy (N,) and grads.npy (T, N) next to
this script (make_golden.py's inputs, not rewritten here) and writes
    expected_muon/<case>.npy  float32 (T, N)  row t = the parameters after step t (the tensors
                              flattened and concatenated in order)
    cases_muon.txt            one line per case: <case> muon KEY=VALUE ... (the arguments of
                              `optcl replay`, as in cases.txt; no --ulps, so
                              tests/test_golden.c's float32 tolerance applies:
                              |a − e| <= 1e-5 + 1e-4·|e| per element)

Tensors: the N parameters are split by the replay key tensors= (comma-separated shapes m×k,
written MxK; e.g. tensors=4x5,3x4,1x5 is elements 0..19 as a 4×5 matrix in row-major order,
20..31 a 3×4 and 32..36 a 1×5), every case gives one. torch.optim.Muon takes 2-D parameters
only, so every shape is a matrix (1×k and m×1 included). Each tensor is its own torch parameter
(one param group, in that order), p.grad = the matching slice of grads[t], reshaped, before
step t. torch.optim.Muon has no foreach path: it always runs _single_tensor_muon, here on
float32 CPU tensors.

Keys (DEFAULTS below: optcl's defaults = torch's; keys left out take them). Muon has no
maximize.
    lr            1e-3
    weight_decay  0.1      decoupled, scaled by lr (not by the adjusted lr)
    momentum      0.95
    nesterov      1        0/1
    ns_a, ns_b, ns_c       torch's ns_coefficients (a, b, c), default
                  (3.4445, −4.7750, 2.0315)
    eps           1e-7
    ns_steps      5        an integer; torch refuses ns_steps >= 100
    adjust_lr_fn  original | match_rms_adamw | spectral_unclamped; left out = torch's None,
                  which is "original" (checked below: the same rows bit for bit); a case never
                  writes adjust_lr_fn=original, since leaving it out must change the rows
    tensors=      the layout (above)
    schedule=exponential gamma=G   torch.optim.lr_scheduler.ExponentialLR (make_golden.py's
                  make_scheduler, imported), stepped once after every optimizer step: the lr of
                  step t (t = 0 first) is lr·G^t; it enters the adjusted lr and the weight decay
                  factor alike.

The update rule, _single_tensor_muon (torch 2.15) in source order. For each tensor p (in order;
shape (m, k), float32), its gradient g and its momentum buffer buf (zeros at the start), one
call of step(), with lr the group's lr at that call. "double" is python float arithmetic; a
python float handed to a tensor op (lerp weight, mul/add scalar, addmm beta/alpha, clamp bound)
is rounded once to float32 inside the float32 kernel:

    buf = lerp(buf, g, 1 − momentum)    (buf.lerp_(grad, 1 − momentum), the weight double)
    u   = nesterov ? lerp(g, buf, momentum) : buf       (grad.lerp(buf, momentum))
    X   = NS(u)                         (_zeropower_via_newtonschulz, below)
    adjusted_lr = lr·ratio(m, k)        (double; A, B = param.shape, A/B true division)
        original (and None)   ratio = sqrt(max(1, m/k))
        match_rms_adamw       ratio = 0.2·sqrt(max(m, k))
        spectral_unclamped    ratio = sqrt(m/k)
    p   = p·(1 − lr·weight_decay)       (param.mul_(double); also when weight_decay = 0: ×1)
    p   = p + (−adjusted_lr)·X          (param.add_(X, alpha=−adjusted_lr))

NS(u), the Newton–Schulz iteration (ns_coefficients (a, b, c) = (ns_a, ns_b, ns_c)):

    X = a copy of u                     torch: u.to(dtype=torch.bfloat16, copy=True); here
                                        (patched, below) a copy in u's own dtype, float32
    if m > k:  X = Xᵀ                   (now X is r×s with r = min(m, k) <= s)
    X = X / max(‖X‖_F, eps)             (X.div_(X.norm().clamp(min=eps)): the Frobenius norm
                                        of the whole matrix, a 0-d tensor of X's dtype)
    ns_steps times:
        A = X·Xᵀ                        (r×r)
        B = b·A + c·(A·A)               (torch.addmm(A, A, A, beta=b, alpha=c))
        X = a·X + B·X                   (torch.addmm(X, B, X, beta=a))
    if m > k:  X = Xᵀ

lerp(a, b, w) is torch's: |w| < 0.5 ? a + w·(b − a) : b − (b − a)·(1 − w). Consequences:
without nesterov u is buf itself (NS copies it first); momentum 0 gives buf = u = g. The
transposition changes rounding only: (XXᵀ)ʲX = X(XᵀX)ʲ, so NS is the same polynomial in X
either way (the rule below without it agrees with torch float64 to rounding, printed); it keeps
the Gram matrix at min(m, k)². A 1×k matrix (and a k×1, transposed to 1×k) has the 1×1 Gram
matrix s = ‖X‖², so every NS step scales X by a + b·s + c·s²: its update is u/max(‖u‖, eps)
times a number (a 1×1 matrix: ±1 times that number while |u| >= eps). With eps larger than
‖u‖, X starts with a Frobenius norm below 1 (eps=10 in muon_eps: u/10). A zero u gives X = 0.
Everything (buf, NS, ratio) is per tensor; lr, weight decay and the coefficients are shared.

The patch. torch converts u to bfloat16 before Newton–Schulz and returns a bfloat16 X (added to
the float32 p). bfloat16 keeps 8 significant bits, and the iteration amplifies rounding (slope
a = 3.4445 at 0 per step): on the 4×5 gradients here the normalized u is up to 4e-3 off in
bfloat16 and X after 5 steps up to 0.06 (float32: 6e-8 and 1.2e-6, against float64). With lr
1e-3 that is already a few tolerances after 50 steps, with lr 0.02–0.05 hundreds (measured per
case below and in cases_muon.txt's header): no float32 implementation could pass against
torch's own rows. So this script runs
torch's own _zeropower_via_newtonschulz with one change: its source (inspect.getsource) with
the text "grad.to(dtype=torch.bfloat16, copy=True)" replaced by
"grad.to(dtype=grad.dtype, copy=True)" (refused unless the text occurs exactly once), compiled
in a copy of torch.optim._muon's globals, is assigned to the module attribute
torch.optim._muon._zeropower_via_newtonschulz for the duration of a run (the step function
_single_tensor_muon looks that global up at every call) and restored afterwards. Every call
during a run is recorded: a patched run refuses to go on unless each X came back in the dtype
of its u (float32, or float64 in the calibration run), an unpatched one unless in bfloat16.

Tolerance calibration, as in make_golden_optim.py: every case also runs in float64 (p0 and
grads widened, the patched NS in float64), and the script prints, per case,
    max over the run |f32 − f64| / (1e-5 + 1e-4·|f64|)
i.e. the share of the test's tolerance that float32 rounding alone uses. It refuses to write
anything if a case exceeds MAX_CALIBRATION; the worst case goes into cases_muon.txt's header.
It also refuses cases in which an option does not show: leaving any one key out (a schedule as
a whole; not lr, not tensors) must change the rows by more than MIN_KEY_EFFECT times the
tolerance; and so must the layout: the shapes read the other way round (m×k as k×m), runs of
consecutive same-shape tensors stacked into one matrix (the per-shape batching), every matrix
cut into its rows (1×k each) and all of it one 1×N row. The rule above is also written in
numpy float64 (rule_rows) and compared with torch's float64 rows in every case, so that the
docstring is checked against torch, not only copied from it. And the unpatched torch (bfloat16
Newton–Schulz) runs every case in float32: its distance to the written rows is printed, in
units of the tolerance and as the largest relative error max |bf16 − f32|/|f32|, and goes into
the header.
"""
import contextlib
import inspect
import os
import sys

import numpy as np
import torch
import torch.optim._muon as muon_module

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # importing make_golden, golden_files leaves no __pycache__
sys.path.insert(0, HERE)
# One scheduler builder for all golden sets; make_golden.py only defines things on import.
from make_golden import SCHEDULE_DEFAULTS, make_scheduler, set_schedule_key  # noqa: E402
# The plumbing the golden generators share (numpy only): ATOL, RTOL, MAX_CALIBRATION,
# MIN_KEY_EFFECT, the checks, tensors= and the writing of the files.
from golden_files import (calibration, check_case_names, effect, leave_one_out,  # noqa: E402
                          load_inputs, note_worst, parse_tensors, require_calibration,
                          require_effect, require_finite, split, warn_versions, worst_lines,
                          write_golden)

MAX_RULE_SHARE = 1e-3  # numpy float64 rule vs torch float64: rounding of float64 only
EXPECTED_VERSIONS = {"torch": "2.15.0", "numpy": "2.4.6"}

# Replay keys with optcl's defaults (= torch's; adjust_lr_fn original = torch's None).
DEFAULTS = dict(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=1, ns_a=3.4445,
                ns_b=-4.7750, ns_c=2.0315, eps=1e-7, ns_steps=5, adjust_lr_fn="original")
BOOL_KEYS = {"nesterov"}
INT_KEYS = {"ns_steps"}
ADJUST_LR_FNS = ("original", "match_rms_adamw", "spectral_unclamped")

T3 = "tensors=4x5,3x4,1x5"
# Tall (6×2: transposed inside NS), wide (2×4), square (4×4) and a 1×1: the three adjust_lr_fn.
TALL_WIDE = "tensors=6x2,2x4,4x4,1x1"
# (case, replay KEY=VALUE arguments). lr 0.02–0.05: the default 1e-3 moves the parameters too
# little for the other keys to show by MIN_KEY_EFFECT tolerances.
CASES = [
    ("muon_default", [T3]),
    ("muon_lr", ["lr=0.05", T3]),
    ("muon_momentum", ["lr=0.02", "momentum=0.8", T3]),
    ("muon_nesterov0", ["lr=0.02", "nesterov=0", T3]),
    # (2, −1.5, 0.5): p(x) = 2x − 1.5x³ + 0.5x⁵ has p(1) = 1, p'(1) = 0 (converges to 1).
    # Leaving one of the three out (torch's default among these two) diverges to inf/NaN,
    # which require_effect counts as a change.
    ("muon_ns_coefficients", ["lr=0.02", "ns_a=2", "ns_b=-1.5", "ns_c=0.5", T3]),
    ("muon_ns_steps1", ["lr=0.02", "ns_steps=1", T3]),
    ("muon_ns_steps3", ["lr=0.02", "ns_steps=3", T3]),
    # ‖u‖ stays within 0.06–1.7 here: eps 10 takes over the normalization at every step (and
    # eps 1 in muon_all at some).
    ("muon_eps", ["lr=0.02", "eps=10", T3]),
    ("muon_wd0", ["lr=0.02", "weight_decay=0", T3]),
    ("muon_wd", ["lr=0.02", "weight_decay=0.2", T3]),
    ("muon_tall_wide", ["lr=0.02", TALL_WIDE]),
    ("muon_match_rms_adamw", ["lr=0.02", "adjust_lr_fn=match_rms_adamw", TALL_WIDE]),
    ("muon_spectral_unclamped", ["lr=0.02", "adjust_lr_fn=spectral_unclamped", TALL_WIDE]),
    # Four 2×3 matrices (not all consecutive) among others: optcl batches tensors per shape.
    ("muon_same_shapes", ["lr=0.02", "tensors=2x3,2x3,3x3,2x3,1x4,2x3"]),
    ("muon_row_col", ["lr=0.02", "tensors=1x5,5x1,1x1,7x1,1x7,3x4"]),
    ("muon_exponential", ["lr=0.05", "schedule=exponential", "gamma=0.95", T3]),
    ("muon_all", ["lr=0.03", "weight_decay=0.05", "momentum=0.9", "nesterov=0", "ns_a=2",
                  "ns_b=-1.5", "ns_c=0.5", "eps=1", "ns_steps=3",
                  "adjust_lr_fn=spectral_unclamped", "tensors=3x2,2x5,3x3,1x6,2x3"]),
]

# torch's Newton–Schulz with the bfloat16 cast replaced by a copy in the input's dtype (see the
# module docstring): torch's own code otherwise, refused if torch's source no longer has the cast.
BF16_CAST = "grad.to(dtype=torch.bfloat16, copy=True)"
KEEP_DTYPE = "grad.to(dtype=grad.dtype, copy=True)"


def ns_keeping_dtype():
    src = inspect.getsource(muon_module._zeropower_via_newtonschulz)
    if src.count(BF16_CAST) != 1:
        raise SystemExit(f"torch's _zeropower_via_newtonschulz has not exactly one {BF16_CAST}")
    scope = dict(vars(muon_module))  # torch, Tensor, ... as torch's function sees them
    exec(compile(src.replace(BF16_CAST, KEEP_DTYPE), muon_module.__file__, "exec"), scope)
    return scope["_zeropower_via_newtonschulz"]


NS_TORCH = muon_module._zeropower_via_newtonschulz
NS_SAME_DTYPE = ns_keeping_dtype()


@contextlib.contextmanager
def newton_schulz(patched):
    """torch.optim._muon._zeropower_via_newtonschulz for the duration: the dtype-keeping copy
    (patched) or torch's own, wrapped to record (dtype of u, dtype of X) per call."""
    calls = []
    ns = NS_SAME_DTYPE if patched else NS_TORCH

    def recording(grad, *args, **kwargs):
        out = ns(grad, *args, **kwargs)
        calls.append((grad.dtype, out.dtype))
        return out

    muon_module._zeropower_via_newtonschulz = recording
    try:
        yield calls
    finally:
        muon_module._zeropower_via_newtonschulz = NS_TORCH


def shapes_spec(shapes):
    return "tensors=" + ",".join(f"{m}x{k}" for m, k in shapes)


def parse_args(args, n):
    """(Muon keys over optcl's defaults, schedule keys, tensor shapes, keys the case set)."""
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
            raise SystemExit(f"case key {key!r} is not an option of muon")
        if key in BOOL_KEYS and value not in ("0", "1"):
            raise SystemExit(f"{key}={value}: flags are 0 or 1")
        if key == "adjust_lr_fn":
            if value not in ADJUST_LR_FNS:
                raise SystemExit(f"adjust_lr_fn={value}: one of {ADJUST_LR_FNS}")
            cfg[key] = value
        else:
            cfg[key] = int(value) if key in BOOL_KEYS | INT_KEYS else float(value)
        given.add(key)
    if shapes is None:
        raise SystemExit(f"muon {args}: every case gives tensors=")
    if any(len(s) != 2 for s in shapes):
        raise SystemExit(f"muon {args}: torch.optim.Muon takes matrices only")
    if sched["schedule"] == "plateau" or sched["lookahead_k"] or sched["clip_norm"] or \
            sched["nonfinite"] != "propagate":
        raise SystemExit("only lr schedules are written here")
    return cfg, sched, shapes, given


def run(args, p0, grads, dtype, shapes=None, lrs=None, patched=True):
    """Rows (T, N) of the parameters after each step, torch in dtype (shapes: a layout in place
    of the case's tensors=; lrs: a list that receives the lr of every step; patched=False:
    torch's own bfloat16 Newton–Schulz)."""
    cfg, sc, case_shapes, given = parse_args(args, p0.size)
    shapes = shapes or case_shapes
    params = [torch.nn.Parameter(torch.from_numpy(x.copy()).to(dtype))
              for x in split(p0.astype(np.float64), shapes)]
    opt = torch.optim.Muon(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"],
                           momentum=cfg["momentum"], nesterov=bool(cfg["nesterov"]),
                           ns_coefficients=(cfg["ns_a"], cfg["ns_b"], cfg["ns_c"]),
                           eps=cfg["eps"], ns_steps=cfg["ns_steps"],
                           # left out: torch's own default None
                           adjust_lr_fn=cfg["adjust_lr_fn"] if "adjust_lr_fn" in given else None)
    sched = make_scheduler(opt, sc)
    rows = []
    with newton_schulz(patched) as calls:
        for g in grads:
            if lrs is not None:
                lrs.append(opt.param_groups[0]["lr"])
            for p, gp in zip(params, split(g.astype(np.float64), shapes)):
                p.grad = torch.from_numpy(gp.copy()).to(dtype)
            opt.step()
            if sched is not None:
                sched.step()
            rows.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
    x_dtype = dtype if patched else torch.bfloat16
    if len(calls) != len(grads) * len(shapes) or any(c != (dtype, x_dtype) for c in calls):
        raise SystemExit(f"muon {args}: Newton–Schulz ran as {sorted(set(calls))}, "
                         f"{len(calls)} calls: the patch did not take")
    assert all(p.dtype == dtype for p in params)
    return np.stack(rows)


def rule_rows(args, p0, grads, lrs, transpose=True):
    """The module docstring's rule in numpy float64 (lrs: the lr of every step; transpose=False:
    NS without the transposition of tall matrices, to see that it is rounding only)."""
    cfg, _, shapes, _ = parse_args(args, p0.size)
    ps = [x.copy() for x in split(p0.astype(np.float64), shapes)]
    bufs = [np.zeros(s) for s in shapes]
    a, b, c = cfg["ns_a"], cfg["ns_b"], cfg["ns_c"]
    mom, wd = cfg["momentum"], cfg["weight_decay"]

    def lerp(x, y, w):
        return x + w * (y - x) if abs(w) < 0.5 else y - (y - x) * (1 - w)

    def ns(u):
        tall = transpose and u.shape[0] > u.shape[1]
        X = u.T.copy() if tall else u.copy()
        X /= max(np.sqrt(np.sum(X * X)), cfg["eps"])
        for _ in range(cfg["ns_steps"]):
            A = X @ X.T
            B = b * A + c * (A @ A)
            X = a * X + B @ X
        return X.T if tall else X

    def ratio(m, k):
        return {"original": np.sqrt(max(1, m / k)), "match_rms_adamw": 0.2 * np.sqrt(max(m, k)),
                "spectral_unclamped": np.sqrt(m / k)}[cfg["adjust_lr_fn"]]

    rows = []
    for t, grad in enumerate(grads):
        lr = lrs[t]
        for i, (p, g) in enumerate(zip(ps, split(grad.astype(np.float64), shapes))):
            bufs[i] = lerp(bufs[i], g, 1 - mom)
            u = lerp(g, bufs[i], mom) if cfg["nesterov"] else bufs[i]
            X = ns(u)
            p *= 1 - lr * wd
            p += -lr * ratio(*p.shape) * X
        rows.append(np.concatenate([p.ravel() for p in ps]))
    return np.stack(rows)


def layout_variants(shapes, n):
    """(name, shapes) of the layouts a case must differ from (those that differ from the case's
    own): every m×k read as k×m, runs of consecutive same-shape tensors stacked into one matrix
    (the per-shape batching), every matrix cut into its rows, and one 1×N row."""
    stacked = []
    for s in shapes:
        if stacked and stacked[-1][1] == s[1] and stacked[-1][2] == s:
            m, k, _ = stacked[-1]
            stacked[-1] = (m + s[0], k, s)
        else:
            stacked.append((s[0], s[1], s))
    out = [("read the other way round", [(k, m) for m, k in shapes]),
           ("same-shape runs stacked", [(m, k) for m, k, _ in stacked]),
           ("cut into rows", [(1, k) for m, k in shapes for _ in range(m)]),
           ("one 1xN row", [(1, n)])]
    return [(what, alt) for what, alt in out if alt != list(shapes)]


def check_keys_matter(p0, grads):
    """Every key of every case (a schedule as a whole; not lr, not tensors) and the layout
    change the trajectory by more than MIN_KEY_EFFECT times the tolerance: a rule that ignores
    an option, or reads a matrix, a batch of matrices or the rows wrong, fails."""
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


def check_original_is_none(p0, grads):
    """adjust_lr_fn=original and torch's default None: the same rows bit for bit."""
    for name, args in CASES:
        if not any(a.startswith("adjust_lr_fn=") for a in args):
            explicit = run(args + ["adjust_lr_fn=original"], p0, grads, torch.float32)
            if not np.array_equal(explicit, run(args, p0, grads, torch.float32)):
                raise SystemExit(f"case {name}: adjust_lr_fn=original differs from None")


def main():
    torch.set_num_threads(1)
    ver = {"torch": torch.__version__.split("+")[0], "numpy": np.__version__}
    warn_versions(ver, EXPECTED_VERSIONS)
    p0, grads = load_inputs()
    check_case_names([c[0] for c in CASES], ("cases.txt", "cases_dtype.txt", "cases_optim.txt",
                                             "cases_schedulefree.txt", "cases_tensorwise.txt",
                                             "cases_adafactor.txt"), missing_ok=True)

    check_keys_matter(p0, grads)
    check_original_is_none(p0, grads)

    files, worst, rule_worst, no_t_worst, bf16 = {}, {}, 0.0, 0.0, []
    for name, args in CASES:
        r32 = run(args, p0, grads, torch.float32)
        lrs = []
        r64 = run(args, p0, grads, torch.float64, lrs=lrs)
        if r32.dtype != np.float32 or r64.dtype != np.float64:
            raise SystemExit(f"case {name}: dtypes {r32.dtype}/{r64.dtype}")
        require_finite(name, r32, r64)
        cal = calibration(r32, r64)
        rule = calibration(rule_rows(args, p0, grads, lrs), r64)
        no_t = calibration(rule_rows(args, p0, grads, lrs, transpose=False), r64)
        rule_worst, no_t_worst = max(rule_worst, rule), max(no_t_worst, no_t)
        # torch as shipped (bfloat16 Newton–Schulz) against the rows written
        rb = run(args, p0, grads, torch.float32, patched=False)
        e32 = r32.astype(np.float64)
        bf16_tol = effect(rb, r32)
        bf16_abs = float(np.max(np.abs(rb - e32)))
        bf16_rel = float(np.max(np.abs(rb - e32) / np.abs(e32)))
        bf16.append((name, bf16_tol, bf16_abs, bf16_rel))
        moved = float(np.max(np.abs(r32[-1] - p0)))
        print(f"{name:24s} f32-vs-f64 {cal:.4f}  rule-vs-torch(f64) {rule:.2e}  "
              f"bf16-vs-golden {bf16_tol:6.1f} tol, abs {bf16_abs:.1e}, rel {bf16_rel:.1e}  "
              f"max|p_T − p0| {moved:.3g}", file=sys.stderr)
        require_calibration(name, cal)
        if rule >= MAX_RULE_SHARE:
            raise SystemExit(f"case {name}: the docstring's rule is {rule:.3g} of the tolerance "
                             "away from torch (float64)")
        files[name + ".npy"] = r32
        note_worst(worst, "muon", name, cal)
    print(f"numpy float64 rule vs torch float64: worst {rule_worst:.2e} of the tolerance "
          f"(without the transposition of tall matrices: {no_t_worst:.2e})", file=sys.stderr)
    if no_t_worst >= MAX_RULE_SHARE:
        raise SystemExit("NS without the transposition is not the same up to rounding")

    header = [
        "# optcl golden cases for muon — generated by tests/golden/make_golden_muon.py;",
        "# do not edit.",
        f"# torch {torch.__version__} (torch.optim.Muon, _single_tensor_muon, CPU, float32),",
        f"# numpy {np.__version__}; inputs p0.npy {p0.shape}, grads.npy {grads.shape}",
        "# expected_muon/<case>.npy (T, N): row t = the parameters after step t, the matrices",
        "# of tensors= (one torch parameter each, one param group) flattened and concatenated.",
        "# PATCHED: torch's Newton–Schulz casts u to bfloat16; these rows come from torch's own",
        "# _zeropower_via_newtonschulz with that cast replaced by a copy in u's dtype (float32),",
        "# assigned to torch.optim._muon._zeropower_via_newtonschulz during each run.",
        "# adjust_lr_fn left out = torch's None = original. schedule=exponential:",
        "# torch.optim.lr_scheduler.ExponentialLR, stepped once per step (lr_t = lr·gamma^t,",
        "# t = 0 first; enters the adjusted lr and the weight decay). The exact rule is in the",
        "# generator's docstring.",
        "# Tolerance share used by float32 rounding alone, max |f32 − f64|/(1e-5 + 1e-4·|f64|)",
        "# (f64: torch in float64, the same patch), worst case:",
    ] + worst_lines(worst, ["muon"], 4) + [
        "# Unpatched torch (bfloat16 Newton–Schulz, float32 otherwise) against these rows, per",
        "# case: max |bf16 − f32|/(1e-5 + 1e-4·|f32|) (tolerances), max |bf16 − f32|,",
        "# max |bf16 − f32|/|f32|:",
    ] + [f"#   {n:24s} {tol:6.1f}  {ab:.1e}  {rel:.1e}" for n, tol, ab, rel in bf16]
    write_golden("muon", files, header, [(n, "muon", a) for n, a in CASES])


if __name__ == "__main__":
    main()
