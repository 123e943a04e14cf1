#!/usr/bin/env python3
"""Golden trajectories for the two tensor-wise (layer-wise) optimizers, LAMB and LARS, from optax
itself: optax.lamb and optax.lars (optax/_src/alias.py), run by jax on the CPU. CI only reads
what this writes.

    python3 -m venv /tmp/optaxvenv
    /tmp/optaxvenv/bin/pip install numpy jax optax     # written with the versions below
    /tmp/optaxvenv/bin/python tests/golden/make_golden_tensorwise.py

Written with jax 0.10.2 (jaxlib 0.10.2, CPU), optax 0.2.8, numpy 2.4.6. Reads p0.npy (N,) and
grads.npy (T, N) next to this script (make_golden.py's inputs, not rewritten here) and writes
    expected_tensorwise/<case>.npy  float32 (T, N)  row t = the parameters after step t (the
                                    tensors flattened and concatenated in order)
    cases_tensorwise.txt            one line per case: <case> <optimizer> KEY=VALUE ... (the
                                    arguments of `optcl replay`, as in cases.txt; no --ulps, so
                                    tests/test_golden.c's float32 tolerance applies:
                                    |a − e| <= 1e-5 + 1e-4·|e| per element)

Tensors: the N parameters are split by the replay key tensors= (comma-separated shapes, each
shape's dims joined by x; e.g. tensors=4x5,12,5 is elements 0..19 as a 4×5 tensor, 20..31 and
32..36), every case gives one. In optax each tensor is one leaf of the params pytree (a list of
jnp float32 arrays, p0 sliced and reshaped); the trust ratio is per leaf. Only the norms are per
tensor, so a shape matters only through its size. Step t (from 0) feeds grads[t] (negated when
maximize=1: optax has no maximize), jit-compiled update then optax.apply_updates.

Keys (DEFAULTS below: optcl's defaults; keys left out take them):
    lamb  lr beta1 beta2 eps eps_root weight_decay maximize trust_ratio_mask
          = optax.lamb(lr, b1=beta1, b2=beta2, eps, eps_root, weight_decay) (mask=None).
          trust_ratio_mask=0 (optax.lamb has no such option) is lamb's own chain less its
          scale_by_trust_ratio(): chain(scale_by_adam(b1, b2, eps, eps_root),
          add_decayed_weights(weight_decay), scale_by_learning_rate(lr)); that chain with
          scale_by_trust_ratio() put back is checked below to give optax.lamb's rows bit for bit.
    lars  lr weight_decay trust_coefficient eps momentum nesterov maximize trust_ratio_mask
          = optax.lars(lr, weight_decay, trust_coefficient=, eps=, trust_ratio_mask=True/False,
          momentum=, nesterov=) (weight_decay_mask=True).
    schedule=exponential gamma=G         lr_t = optax.exponential_decay(lr, transition_steps=1,
                                         decay_rate=G)(t)       = lr·G^t
    schedule=step step_size=S gamma=G    lr_t = optax.exponential_decay(lr, transition_steps=S,
                                         decay_rate=G, staircase=True)(t) = lr·G^floor(t/S)
    given to optax as learning_rate: scale_by_learning_rate → scale_by_schedule, whose count is 0
    at the first update (checked below: a scheduled case's first row equals the unscheduled one's
    bit for bit, its second does not).

The update rules as optax 0.2.8 computes them in float32 (x64 off; python-float coefficients are
weak-typed, i.e. rounded once to float32: f(x) below; "1 − b1" is formed in double by python,
then rounded). Per element, step t = 1, 2, ... (optax's int32 count after increment), tensor k:

  LAMB  (scale_by_adam, add_decayed_weights, scale_by_trust_ratio, scale_by_learning_rate)
    g   = maximize ? −grad : grad
    m   = f(1−b1)·g + f(b1)·m                  (tree_update_moment, order 1; m0 = 0)
    v   = f(1−b2)·(g·g) + f(b2)·v              (tree_update_moment_per_elem_norm, order 2)
    bc1 = 1 − powf(f(b1), (float)t)            float32: XLA pow(f32, f32) on CPU, the count
    bc2 = 1 − powf(f(b2), (float)t)            converted to float32 (tree_bias_correction);
                                               equal to float32(double(f(b))^t) for every b, t
                                               used here (checked below)
    u   = (m / bc1) / (sqrt(v / bc2 + f(eps_root)) + f(eps))
    u   = u + f(wd)·p                          (add_decayed_weights; skipped when wd == 0)
    ‖p‖_k = sqrt(Σ_k p·p), ‖u‖_k = sqrt(Σ_k u·u)
                                               float32 sums over tensor k (safe_norm,
                                               min_norm 0 = jnp.linalg.norm)
    r_k = (‖p‖_k == 0 or ‖u‖_k == 0) ? 1 : (1·‖p‖_k) / (‖u‖_k + 0)
                                               (trust_coefficient 1, eps 0: lamb does not
                                               pass its own eps here)
          trust_ratio_mask=0: r_k = 1 (the transformation is absent)
    u   = u·r_k
    u   = (−lr_t)·u                            lr_t a float32 scalar (constant: f(−lr))
    p   = p + u                                (apply_updates)

  LARS  (add_decayed_weights, masked(scale_by_trust_ratio), scale_by_learning_rate, trace)
    g   = maximize ? −grad : grad
    u   = g + f(wd)·p                          (skipped when wd == 0)
    r_k = (‖p‖_k == 0 or ‖u‖_k == 0) ? 1 : (f(tc)·‖p‖_k) / (‖u‖_k + f(eps))
          trust_ratio_mask=0: r_k = 1
    u   = u·r_k
    u   = (−lr_t)·u
    m   = u + f(μ)·m                           (trace; m0 = 0)
    u   = nesterov ? u + f(μ)·m : m            (the new m)
    p   = p + u
  The momentum buffer holds lr-scaled steps: a schedule changes only the new contributions.
  Weight decay, trust ratio and the norms use p before the step.

  Schedules: lr_t = (t == 0) ? f(lr) : f(lr)·powf(f(G), e) in float32, e = (float)t / 1 for
  exponential, floorf((float)t / (float)S) for step (optax.exponential_decay; t from 0 here).

What XLA:CPU makes of them (jax 0.10.2; the step is one jit, as optax is meant to run): it
rewrites a division of an array by a scalar as a multiplication by the float32 reciprocal, so
m/bc1 is m·(1/bc1) and v/bc2 is v·(1/bc2), and it fuses multiply-adds into fma. For one tensor
(tensors=N) without the trust ratio its rows are, bit for bit (checked below),
    LAMB  m = fma(f(1−b1), g, f(b1)·m)    v = fma(f(1−b2), g·g, f(b2)·v)
          u = fma(f(wd), p, u)            p = fma(−lr_t, u, p)
    LARS  u = fma(f(wd), p, g)            m = fma(f(μ), m, (−lr_t)·u)
          nesterov: p = p + fma(f(μ), m, (−lr_t)·u)
          (with a schedule, lr_t a runtime scalar: m = fma(−lr_t, u, f(μ)·m))
With several leaves its fusions differ from leaf to leaf, and its norm reductions sum in a
vectorized order of its own. rules() below writes both forms in numpy float32 (contract=False:
the source order above; True: the fused form, numpy's float32 sums for the norms) and prints how
far each is from optax's rows in every case: both stay within about 0.01 of the tolerance, so
optcl may follow either; the difference is float32 rounding.

Tolerance calibration, as in make_golden_optim.py: every case also runs in float64 (optax with
jax_enable_x64, in a subprocess of this script since the flag is global: p0 and grads widened,
python coefficients double, count still int32), and the script prints, per case,
    max over the run |f32 − f64| / (1e-5 + 1e-4·|f64|)
i.e. the share of the test's tolerance that float32 rounding alone uses. It refuses to write
anything if a case exceeds MAX_CALIBRATION; the worst case per optimizer goes into
cases_tensorwise.txt's header. It also refuses cases in which an option does not show: leaving
any one key out (a schedule as a whole; not lr, not tensors) must change the rows by more than
MIN_KEY_EFFECT times the tolerance; and in every case with a trust ratio whose tensors= is not a
single tensor, tensors=N (one global norm) must change the rows by as much.
"""
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
import jax  # noqa: E402

if "--float64" in sys.argv:  # the calibration pass, before any array exists
    jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # importing golden_files leaves no __pycache__ in the tree
sys.path.insert(0, HERE)
# The plumbing the golden generators share (numpy only, no torch here): ATOL, RTOL,
# MAX_CALIBRATION, MIN_KEY_EFFECT, the checks, tensors= and the writing of the files.
from golden_files import (calibration, check_case_names, leave_one_out,  # noqa: E402
                          load_inputs, note_worst, parse_tensors, require_calibration,
                          require_effect, require_finite, split, warn_versions, worst_lines,
                          write_golden)

EXPECTED_VERSIONS = {"jax": "0.10.2", "optax": "0.2.8", "numpy": "2.4.6"}

# Replay keys with optcl's defaults; BOOL keys are written 0/1.
DEFAULTS = {
    "lamb": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-6, eps_root=0.0, weight_decay=0.0,
                 maximize=0, trust_ratio_mask=1),
    "lars": dict(lr=0.1, weight_decay=0.0, trust_coefficient=1e-3, eps=0.0, momentum=0.9,
                 nesterov=0, maximize=0, trust_ratio_mask=1),
}
BOOL_KEYS = {"maximize", "trust_ratio_mask", "nesterov"}
SCHEDULE_DEFAULTS = dict(schedule="constant", gamma=0.1, step_size=1)

T3 = "tensors=4x5,12,5"
CASES = [
    # LAMB: the trust ratio makes every step lr·‖p‖_k long per tensor (lr ~1e-2: visible).
    ("lamb_lr", "lamb", ["lr=0.01", T3]),
    ("lamb_betas_eps", "lamb", ["lr=0.01", "beta1=0.8", "beta2=0.99", "eps=1e-3", T3]),
    ("lamb_eps_root", "lamb", ["lr=0.01", "eps_root=1e-2", "tensors=3x3,2x7,14"]),
    ("lamb_wd", "lamb", ["lr=0.01", "weight_decay=0.1", T3]),
    ("lamb_wd_maximize", "lamb",
     ["lr=0.01", "weight_decay=0.1", "maximize=1", "beta1=0.95", "tensors=37"]),
    ("lamb_no_trust_ratio", "lamb", ["lr=0.01", "trust_ratio_mask=0", "weight_decay=0.05", T3]),
    ("lamb_beta2_tensors3", "lamb", ["lr=0.02", "beta2=0.9", "tensors=3x3,2x7,14"]),
    ("lamb_exponential", "lamb", ["lr=0.02", "schedule=exponential", "gamma=0.95", T3]),
    # LARS: trust_coefficient 1e-3 makes a step lr·1e-3·‖p‖_k before momentum (lr ~1).
    ("lars_lr", "lars", ["lr=1", T3]),
    ("lars_wd", "lars", ["lr=1", "weight_decay=0.1", T3]),
    ("lars_wd_maximize", "lars", ["lr=1", "weight_decay=0.1", "maximize=1", "tensors=37"]),
    ("lars_no_trust_ratio", "lars", ["lr=0.002", "trust_ratio_mask=0", "weight_decay=0.1", T3]),
    ("lars_nesterov", "lars", ["lr=1", "nesterov=1", "momentum=0.8", "tensors=3x3,2x7,14"]),
    ("lars_momentum0", "lars", ["lr=5", "momentum=0", T3]),
    ("lars_tc1_eps", "lars", ["lr=0.01", "trust_coefficient=1", "eps=1e-3", T3]),
    ("lars_exponential", "lars", ["lr=1", "schedule=exponential", "gamma=0.95", T3]),
    ("lars_step", "lars", ["lr=1", "schedule=step", "step_size=10", "gamma=0.5", T3]),
]


def parse_args(optimizer, args, n):
    """(optimizer keys over optcl's defaults, schedule keys, tensor shapes)."""
    cfg = dict(DEFAULTS[optimizer])
    sched = dict(SCHEDULE_DEFAULTS)
    shapes = None
    for a in args:
        key, value = a.split("=", 1)
        if key == "tensors":
            shapes = parse_tensors(value, n)
        elif key == "schedule":
            if value not in ("constant", "exponential", "step"):
                raise SystemExit(f"schedule={value}: only exponential and step here")
            sched[key] = value
        elif key == "step_size":
            sched[key] = int(value)
        elif key == "gamma":
            sched[key] = float(value)
        elif key in cfg:
            if key in BOOL_KEYS and value not in ("0", "1"):
                raise SystemExit(f"{key}={value}: flags are 0 or 1")
            cfg[key] = int(value) if key in BOOL_KEYS else float(value)
        else:
            raise SystemExit(f"case key {key!r} is not an option of {optimizer}")
    if shapes is None:
        raise SystemExit(f"{optimizer} {args}: every case gives tensors=")
    if optimizer == "lamb" and cfg["eps"] <= 0:
        raise SystemExit("lamb needs eps > 0 in optcl (zero padding gradients: 0/0)")
    return cfg, sched, shapes


def learning_rate(cfg, sc):
    """A python float or an optax schedule (count 0 at the first update)."""
    lr = cfg["lr"]
    if sc["schedule"] == "exponential":
        return optax.exponential_decay(init_value=lr, transition_steps=1, decay_rate=sc["gamma"])
    if sc["schedule"] == "step":
        return optax.exponential_decay(init_value=lr, transition_steps=sc["step_size"],
                                       decay_rate=sc["gamma"], staircase=True)
    return lr


def lamb_chain(cfg, lr, trust_ratio):
    """optax.lamb's chain (alias.py), with or without its scale_by_trust_ratio()."""
    parts = [optax.scale_by_adam(b1=cfg["beta1"], b2=cfg["beta2"], eps=cfg["eps"],
                                 eps_root=cfg["eps_root"]),
             optax.add_decayed_weights(weight_decay=cfg["weight_decay"], mask=None)]
    if trust_ratio:
        parts.append(optax.scale_by_trust_ratio())
    parts.append(optax.scale_by_learning_rate(lr))
    return optax.chain(*parts)


def make_optimizer(optimizer, cfg, sc):
    lr = learning_rate(cfg, sc)
    if optimizer == "lamb":
        if cfg["trust_ratio_mask"]:
            return optax.lamb(lr, b1=cfg["beta1"], b2=cfg["beta2"], eps=cfg["eps"],
                              eps_root=cfg["eps_root"], weight_decay=cfg["weight_decay"])
        return lamb_chain(cfg, lr, trust_ratio=False)
    if optimizer == "lars":
        return optax.lars(lr, weight_decay=cfg["weight_decay"],
                          trust_coefficient=cfg["trust_coefficient"], eps=cfg["eps"],
                          trust_ratio_mask=bool(cfg["trust_ratio_mask"]),
                          momentum=cfg["momentum"], nesterov=bool(cfg["nesterov"]))
    raise SystemExit(f"unknown optimizer {optimizer}")


def run_tx(tx, shapes, maximize, p0, grads, dtype):
    """Rows (T, N): the parameters after each step, optax in dtype (float64 needs x64 on)."""
    params = [jnp.asarray(x, dtype=dtype) for x in split(p0.astype(np.float64), shapes)]
    state = tx.init(params)

    @jax.jit
    def step(params, state, g):
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    rows = []
    for g in grads:
        g = -g.astype(np.float64) if maximize else g.astype(np.float64)
        gl = [jnp.asarray(x, dtype=dtype) for x in split(g, shapes)]
        params, state = step(params, state, gl)
        assert all(p.dtype == dtype for p in params)
        rows.append(np.concatenate([np.asarray(p).ravel() for p in params]))
    return np.stack(rows)


def run_case(optimizer, args, p0, grads, dtype):
    cfg, sc, shapes = parse_args(optimizer, args, p0.size)
    return run_tx(make_optimizer(optimizer, cfg, sc), shapes, cfg["maximize"], p0, grads, dtype)


# The update rules of the module docstring in numpy float32 (what optcl follows).
F = np.float32


def rule_lr(cfg, sc, t):
    lr = F(cfg["lr"])
    if sc["schedule"] == "constant" or t == 0:
        return lr
    e = F(t) if sc["schedule"] == "exponential" else np.floor(F(t) / F(sc["step_size"]))
    return F(lr * F(F(sc["gamma"]) ** e))


def rule_pow(b, t):
    return F(np.float64(F(b)) ** t)  # correctly rounded float32 b^t (= powf), see pow_check


def fma(a, b, c):
    """float32 fused multiply-add (the float64 product of two float32 values is exact)."""
    return F(np.float64(a) * np.float64(b) + np.float64(c))


def rules(optimizer, args, p0, grads, contract=False):  # noqa: C901
    """contract=False: the rules as optax's source writes them; True: as XLA:CPU compiles them
    (a / bc as a·(1/bc), the multiply-adds fused; see the module docstring)."""
    cfg, sc, shapes = parse_args(optimizer, args, p0.size)
    bounds = np.cumsum([0] + [int(np.prod(s)) for s in shapes])
    madd = fma if contract else (lambda a, b, c: a * b + c)
    p = p0.astype(F).copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    rows = []
    for t, grad in enumerate(grads):
        g = -grad if cfg["maximize"] else grad.copy()
        if optimizer == "lamb":
            b1, b2 = cfg["beta1"], cfg["beta2"]
            m = madd(F(1 - b1), g, F(b1) * m)
            v = madd(F(1 - b2), g * g, F(b2) * v)
            bc1, bc2 = F(1) - rule_pow(b1, t + 1), F(1) - rule_pow(b2, t + 1)
            mh, vh = (m * (F(1) / bc1), v * (F(1) / bc2)) if contract else (m / bc1, v / bc2)
            u = mh / (np.sqrt(vh + F(cfg["eps_root"])) + F(cfg["eps"]))
            tc, teps = F(1), F(0)
        else:
            u = g
            tc, teps = F(cfg["trust_coefficient"]), F(cfg["eps"])
        if cfg["weight_decay"] != 0:
            u = madd(F(cfg["weight_decay"]), p, u)
        if cfg["trust_ratio_mask"]:
            u = u.copy()
            for a, b in zip(bounds[:-1], bounds[1:]):
                pn = np.sqrt(np.sum(p[a:b] * p[a:b], dtype=F))
                un = np.sqrt(np.sum(u[a:b] * u[a:b], dtype=F))
                r = F(1) if (pn == 0 or un == 0) else (tc * pn) / (un + teps)
                u[a:b] = u[a:b] * r
        neg_lr = -rule_lr(cfg, sc, t)
        if optimizer == "lamb":
            p = madd(neg_lr, u, p)
        else:
            if contract and sc["schedule"] != "constant":  # lr_t a runtime scalar
                u_lr = u
                u = neg_lr * u
                m = fma(neg_lr, u_lr, F(cfg["momentum"]) * m)
            else:
                u = neg_lr * u
                m = madd(F(cfg["momentum"]), m, u)
            p = p + (madd(F(cfg["momentum"]), m, u) if cfg["nesterov"] else m)
        assert p.dtype == F
        rows.append(p.copy())
    return np.stack(rows)


def pow_check():
    """Mismatches of jax's float32 b**count (tree_bias_correction's) against float32(b^t)."""
    bias_pow = jax.jit(lambda c, b: b ** c, static_argnums=1)
    bad = 0
    for b in sorted({c[k] for _, o, a in CASES if o == "lamb"
                     for c in [parse_args(o, a, 37)[0]] for k in ("beta1", "beta2")}):
        for t in range(1, 51):
            bad += int(np.float32(bias_pow(jnp.int32(t), b)) != rule_pow(b, t))
    return bad


def check_keys_matter(p0, grads):
    """Every key of every case (a schedule as a whole; not lr, not tensors) changes the trajectory
    by more than MIN_KEY_EFFECT times the tolerance when it is left out; per-tensor norms must
    differ from one global norm wherever a trust ratio is applied to several tensors."""
    for name, optimizer, args in CASES:
        base = run_case(optimizer, args, p0, grads, jnp.float32)
        cfg, _, shapes = parse_args(optimizer, args, p0.size)
        variants = leave_one_out(args, skip=("lr", "tensors"),
                                 schedule_keys=("schedule", "gamma", "step_size"))
        if cfg["trust_ratio_mask"] and len(shapes) > 1:
            variants.append(("tensors (one global norm)",
                             [x for x in args if not x.startswith("tensors=")]
                             + [f"tensors={p0.size}"]))
        for key, rest in variants:
            require_effect(name, key, run_case(optimizer, rest, p0, grads, jnp.float32), base)


def check_chain_and_schedule(p0, grads):
    """lamb_chain with the trust ratio == optax.lamb bit for bit; a schedule's first step uses
    lr itself (count 0) and its second does not."""
    for name, optimizer, args in CASES:
        cfg, sc, shapes = parse_args(optimizer, args, p0.size)
        if optimizer == "lamb" and cfg["trust_ratio_mask"]:
            mine = run_tx(lamb_chain(cfg, learning_rate(cfg, sc), True), shapes,
                          cfg["maximize"], p0, grads, jnp.float32)
            theirs = run_case(optimizer, args, p0, grads, jnp.float32)
            if not np.array_equal(mine, theirs):
                raise SystemExit(f"case {name}: lamb's chain differs from optax.lamb")
        if sc["schedule"] != "constant":
            rows = run_case(optimizer, args, p0, grads, jnp.float32)
            flat = run_case(optimizer, [x for x in args if x.split("=", 1)[0] not in
                                        ("schedule", "gamma", "step_size")],
                            p0, grads, jnp.float32)
            if not np.array_equal(rows[0], flat[0]) or np.array_equal(rows[1], flat[1]) == \
                    (sc["schedule"] == "exponential"):
                raise SystemExit(f"case {name}: the schedule does not start at count 0")


def float64_pass(out):
    """Child process (x64 on): every case in float64, saved to out (npz)."""
    p0, grads = load_inputs()
    res = {name: run_case(o, a, p0, grads, jnp.float64) for name, o, a in CASES}
    assert all(r.dtype == np.float64 for r in res.values())
    np.savez(out, **res)


def versions():
    import jaxlib
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "optax": optax.__version__,
            "numpy": np.__version__}


def main():
    if "--float64" in sys.argv:
        float64_pass(sys.argv[sys.argv.index("--float64") + 1])
        return
    if jax.config.jax_enable_x64:
        raise SystemExit("run with x64 off: the golden rows are optax in float32")
    ver = versions()
    warn_versions(ver, EXPECTED_VERSIONS)
    p0, grads = load_inputs()
    check_case_names([c[0] for c in CASES], ("cases.txt", "cases_dtype.txt", "cases_optim.txt",
                                             "cases_schedulefree.txt"), missing_ok=True)

    check_keys_matter(p0, grads)
    check_chain_and_schedule(p0, grads)
    bad = pow_check()
    print(f"jax float32 b**count vs float32(b^t), t = 1..50, the betas used: {bad} mismatches",
          file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "f64.npz")
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        subprocess.run([sys.executable, os.path.abspath(__file__), "--float64", out],
                       check=True, env=env)
        with np.load(out) as z:
            f64 = {k: z[k] for k in z.files}

    files, worst, rule_worst = {}, {}, 0.0
    for name, optimizer, args in CASES:
        r32 = run_case(optimizer, args, p0, grads, jnp.float32)
        r64 = f64[name]
        if r32.dtype != np.float32 or r64.dtype != np.float64:
            raise SystemExit(f"case {name}: dtypes {r32.dtype}/{r64.dtype}")
        require_finite(name, r32, r64)
        cal = calibration(r32, r64)
        rule = calibration(rules(optimizer, args, p0, grads), r32.astype(np.float64))
        rule_worst = max(rule_worst, rule)
        xla = calibration(rules(optimizer, args, p0, grads, contract=True),
                          r32.astype(np.float64))
        rule_worst = max(rule_worst, xla)
        moved = float(np.max(np.abs(r32[-1] - p0)))
        print(f"{name:22s} f32-vs-f64 {cal:.4f}  rules-vs-optax {rule:.4f} (fused form "
              f"{xla:.4f})  max|p_T − p0| {moved:.3g}", file=sys.stderr)
        require_calibration(name, cal)
        files[name + ".npy"] = r32
        note_worst(worst, optimizer, name, cal)
    print(f"numpy float32 rules vs optax float32: worst {rule_worst:.4f} of the tolerance",
          file=sys.stderr)
    for optimizer, args in [("lamb", ["lr=0.01", "trust_ratio_mask=0", "weight_decay=0.05",
                                      "maximize=1", f"tensors={p0.size}"]),
                            ("lars", ["lr=0.002", "trust_ratio_mask=0", "weight_decay=0.1",
                                      "nesterov=1", f"tensors={p0.size}"]),
                            ("lars", ["lr=0.002", "trust_ratio_mask=0", "weight_decay=0.1",
                                      f"tensors={p0.size}", "schedule=exponential",
                                      "gamma=0.95"])]:
        diff = int(np.sum(rules(optimizer, args, p0, grads, contract=True) !=
                          run_case(optimizer, args, p0, grads, jnp.float32)))
        print(f"fused form vs optax, {optimizer} {' '.join(args)}: {diff} elements differ",
              file=sys.stderr)

    header = [
        "# optcl golden cases for lamb and lars (tensor-wise trust ratio) — generated by",
        "# tests/golden/make_golden_tensorwise.py; do not edit.",
        f"# optax {ver['optax']} (optax.lamb, optax.lars), jax {ver['jax']} (jaxlib "
        f"{ver['jaxlib']}, CPU,",
        f"# float32, x64 off, one jit per step), numpy {ver['numpy']};",
        f"# inputs p0.npy {p0.shape}, grads.npy {grads.shape}",
        "# expected_tensorwise/<case>.npy (T, N): row t = the parameters after step t, the",
        "# tensors of tensors= (one optax pytree leaf each, trust ratio per leaf) flattened and",
        "# concatenated. maximize=1: optax gets −grads. lamb trust_ratio_mask=0: lamb's chain",
        "# without scale_by_trust_ratio; lars trust_ratio_mask=0:",
        "# optax.lars(trust_ratio_mask=False).",
        "# schedule=exponential: optax.exponential_decay(lr, 1, gamma); schedule=step:",
        "# exponential_decay(lr, step_size, gamma, staircase=True); count 0 at the first step.",
        "# Tolerance share used by float32 rounding alone, max |f32 − f64|/(1e-5 + 1e-4·|f64|)",
        "# (f64: optax with jax_enable_x64), worst case per optimizer:",
    ]
    write_golden("tensorwise", files, header + worst_lines(worst, DEFAULTS, 5), CASES)


if __name__ == "__main__":
    main()
