#!/usr/bin/python3
"""Regenerates optcl's golden replay data from PyTorch (torch.optim) and, for the two rules
PyTorch does not have (EMA-momentum SGD and the classic Rprop), from plain float32 numpy code.

    /usr/bin/python3 tests/golden/make_golden.py

Writes, next to this script (deterministically: fixed seed, single-threaded torch):
    p0.npy               float32 (N,)    initial parameters, shared by every case
    grads.npy            float32 (T, N)  gradient handed to step t, shared by every case
    expected/<case>.npy  float32 (T, N)  row t = parameters after step t
    metrics/<case>.npy   float32 (T,)    ReduceLROnPlateau cases only: M[t] reported after step t
    cases.txt            one line per case: <case> <optimizer> KEY=VALUE ... [--metrics=FILE]
                         (the arguments of `optcl replay`, as tests/test_golden.c passes them;
                         --metrics=metrics/<case>.npy becomes `--metrics <golden dir>/metrics/…`)

Schedules and ReduceLROnPlateau are real torch.optim.lr_scheduler objects stepped once per
optimizer step (read the lr, optimizer.step(), scheduler.step()), as a training loop does.
Lookahead (Zhang et al. 2019) is written out here around the torch optimizer: slow weights
start at p0; after every k-th step slow += alpha·(fast − slow) and fast = slow; the rows are
the fast weights after each step (after the sync on sync steps).
"""
import math
import os
import sys
import warnings

import numpy as np
import torch
from torch.optim import lr_scheduler as S

# SequentialLR warns about the epoch argument it passes itself; the trajectories are what a
# user of these classes gets, warnings or not.
warnings.filterwarnings("ignore")

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

# Learning-rate schedules (real torch.optim.lr_scheduler objects, stepped once per step) around
# several optimizers. Rprop reads the lr once: its step sizes start at the lr of the first step
# (warmup's start factor included) and later lr changes do not touch them, in PyTorch and optcl.
CASES += [
    ("sgd_momentum_inverse_time_p1", "sgd",
     ["lr=0.1", "momentum=0.9", "schedule=inverse_time", "power=1"]),
    ("adam_inverse_time_p2", "adam", ["lr=0.05", "schedule=inverse_time", "power=2"]),
    ("rmsprop_inverse_time_p05", "rmsprop", ["schedule=inverse_time", "power=0.5"]),
    ("sgd_momentum_exponential_half", "sgd",
     ["lr=0.1", "momentum=0.9", "schedule=exponential", "gamma=0.5"]),
    ("sgd_exponential_half", "sgd", ["lr=0.5", "schedule=exponential", "gamma=0.5"]),
    ("adam_exponential_095", "adam", ["lr=0.01", "schedule=exponential", "gamma=0.95"]),
    ("rmsprop_momentum_exponential_095", "rmsprop",
     ["momentum=0.9", "schedule=exponential", "gamma=0.95"]),
    ("rprop_exponential_09", "rprop", ["lr=0.02", "schedule=exponential", "gamma=0.9"]),
    ("sgd_nesterov_step", "sgd",
     ["lr=0.05", "momentum=0.9", "nesterov=1", "schedule=step", "step_size=7", "gamma=0.5"]),
    ("adam_amsgrad_step", "adam",
     ["lr=0.02", "amsgrad=1", "schedule=step", "step_size=10", "gamma=0.3"]),
    ("rmsprop_centered_step", "rmsprop",
     ["centered=1", "schedule=step", "step_size=4", "gamma=0.8"]),
    ("rprop_step", "rprop", ["schedule=step", "step_size=5", "gamma=0.5"]),
    ("sgd_momentum_multistep", "sgd",
     ["lr=0.1", "momentum=0.9", "schedule=multistep", "milestones=10,25,40", "gamma=0.3"]),
    ("adamw_multistep", "adamw",
     ["lr=0.01", "weight_decay=0.1", "schedule=multistep", "milestones=5,30", "gamma=0.1"]),
    ("adam_cosine", "adam", ["lr=0.02", "schedule=cosine", "t_max=50"]),
    ("adam_amsgrad_cosine_7", "adam",
     ["lr=0.02", "amsgrad=1", "schedule=cosine", "t_max=7"]),
    ("sgd_momentum_cosine_eta_min", "sgd",
     ["lr=0.1", "momentum=0.9", "schedule=cosine", "t_max=20", "eta_min=0.01"]),
    ("rmsprop_cosine_eta_min", "rmsprop",
     ["lr=0.01", "momentum=0.5", "schedule=cosine", "t_max=15", "eta_min=0.001"]),
    ("rprop_cosine", "rprop", ["schedule=cosine", "t_max=30", "eta_min=0.001"]),
    ("adamw_warmup_exponential", "adamw",
     ["lr=0.01", "weight_decay=0.1", "warmup_steps=10", "warmup_start_factor=0.25",
      "schedule=exponential", "gamma=0.95"]),
    ("sgd_momentum_warmup_step", "sgd",
     ["lr=0.1", "momentum=0.9", "warmup_steps=5", "warmup_start_factor=0.1", "schedule=step",
      "step_size=6", "gamma=0.5"]),
    ("adam_warmup_cosine", "adam",
     ["lr=0.02", "warmup_steps=8", "warmup_start_factor=0.2", "schedule=cosine", "t_max=30",
      "eta_min=0.002"]),
    ("rmsprop_warmup_multistep", "rmsprop",
     ["warmup_steps=6", "warmup_start_factor=0.5", "schedule=multistep",
      "milestones=10,20", "gamma=0.5"]),
    ("sgd_warmup_default_factor", "sgd", ["lr=0.1", "momentum=0.9", "warmup_steps=8"]),
    ("adam_warmup_inverse_time", "adam",
     ["lr=0.01", "warmup_steps=4", "warmup_start_factor=0.5", "schedule=inverse_time",
      "power=1"]),
    ("rprop_warmup_cosine", "rprop",
     ["lr=0.02", "warmup_steps=5", "warmup_start_factor=0.25", "schedule=cosine", "t_max=20"]),
    # The two rules PyTorch does not have, with the lr trace of a real scheduler.
    ("sgd_ema_cosine", "sgd",
     ["lr=0.1", "ema=1", "momentum=0.9", "schedule=cosine", "t_max=25", "eta_min=0.01"]),
    ("rprop_classic_warmup_exponential", "rprop",
     ["variant=classic", "lr=0.02", "warmup_steps=3", "warmup_start_factor=0.5",
      "schedule=exponential", "gamma=0.9"]),
]

# ReduceLROnPlateau: M[t] (METRICS[case], float32) is reported after step t; every case's metrics
# are chosen so that reductions happen.
CASES += [
    ("sgd_momentum_plateau", "sgd",
     ["lr=0.05", "momentum=0.9", "schedule=plateau", "factor=0.5", "patience=2"]),
    ("adam_plateau_cooldown", "adam",
     ["lr=0.01", "schedule=plateau", "factor=0.5", "patience=1", "cooldown=3"]),
    ("rmsprop_plateau_threshold_rel", "rmsprop",
     ["schedule=plateau", "factor=0.8", "patience=1", "threshold=0.1", "threshold_mode=rel"]),
    ("sgd_plateau_threshold_abs", "sgd",
     ["lr=0.1", "schedule=plateau", "factor=0.8", "patience=1", "threshold=0.05",
      "threshold_mode=abs"]),
    ("adamw_plateau_mode_max", "adamw",
     ["lr=0.01", "schedule=plateau", "mode=max", "factor=0.5", "patience=2",
      "threshold=0.01"]),
    ("rmsprop_plateau_max_abs_cooldown", "rmsprop",
     ["momentum=0.9", "schedule=plateau", "mode=max", "factor=0.3", "patience=1",
      "threshold=0.05", "threshold_mode=abs", "cooldown=2"]),
    ("adam_plateau_min_lr", "adam",
     ["lr=0.01", "schedule=plateau", "factor=0.5", "patience=0", "min_lr=0.002"]),
    ("sgd_plateau_default_noisy", "sgd", ["lr=0.1", "momentum=0.5", "schedule=plateau"]),
    ("rprop_plateau", "rprop", ["schedule=plateau", "factor=0.5", "patience=1"]),
]

# Lookahead around sgd momentum and adam (and with a schedule or plateau underneath).
CASES += [
    ("sgd_momentum_lookahead_k5", "sgd",
     ["lr=0.05", "momentum=0.9", "lookahead_k=5", "lookahead_alpha=0.5"]),
    ("sgd_momentum_lookahead_k3", "sgd",
     ["lr=0.05", "momentum=0.9", "lookahead_k=3", "lookahead_alpha=0.8"]),
    ("adam_lookahead_k5", "adam", ["lr=0.01", "lookahead_k=5", "lookahead_alpha=0.5"]),
    ("adam_lookahead_k3", "adam", ["lr=0.01", "lookahead_k=3", "lookahead_alpha=0.8"]),
    ("sgd_lookahead_k1", "sgd", ["lr=0.1", "lookahead_k=1", "lookahead_alpha=0.3"]),
    ("adam_lookahead_default_alpha", "adam", ["lr=0.01", "lookahead_k=4"]),
    ("rmsprop_lookahead_k7_alpha1", "rmsprop",
     ["momentum=0.5", "lookahead_k=7", "lookahead_alpha=1"]),
    ("adam_cosine_lookahead_k5", "adam",
     ["lr=0.02", "schedule=cosine", "t_max=20", "lookahead_k=5", "lookahead_alpha=0.5"]),
    ("sgd_momentum_plateau_lookahead_k4", "sgd",
     ["lr=0.05", "momentum=0.9", "schedule=plateau", "factor=0.5", "patience=2",
      "lookahead_k=4", "lookahead_alpha=0.6"]),
]

# The gradient guard: torch.nn.utils.clip_grad_norm_ before each step (clip_norm), and steps
# skipped when a gradient holds NaN/Inf (nonfinite=skip: as if the step were never called — no
# update, no schedule step, no Lookahead count). The skip cases read grads_nonfinite.npy, the
# shared gradients with NaN/±Inf planted in a few rows (the first among them).
CASES += [
    ("sgd_momentum_clip", "sgd", ["lr=0.05", "momentum=0.9", "clip_norm=1"]),
    ("sgd_clip_not_reached", "sgd", ["lr=0.1", "clip_norm=100"]),
    ("adam_clip", "adam", ["lr=0.01", "clip_norm=2"]),
    ("adamw_amsgrad_clip_maximize", "adamw",
     ["lr=0.01", "amsgrad=1", "maximize=1", "clip_norm=3"]),
    ("rmsprop_centered_clip", "rmsprop", ["centered=1", "clip_norm=0.5"]),
    ("rprop_clip", "rprop", ["clip_norm=1"]),
    ("sgd_momentum_skip", "sgd",
     ["lr=0.05", "momentum=0.9", "nonfinite=skip", "--grads=grads_nonfinite.npy"]),
    ("adam_skip", "adam", ["lr=0.01", "nonfinite=skip", "--grads=grads_nonfinite.npy"]),
    ("rmsprop_momentum_skip_warmup", "rmsprop",
     ["momentum=0.5", "warmup_steps=5", "nonfinite=skip", "--grads=grads_nonfinite.npy"]),
    ("rprop_skip", "rprop", ["nonfinite=skip", "--grads=grads_nonfinite.npy"]),
    ("adam_clip_skip_cosine_lookahead_k3", "adam",
     ["lr=0.02", "clip_norm=1", "nonfinite=skip", "schedule=cosine", "t_max=20",
      "lookahead_k=3", "lookahead_alpha=0.5", "--grads=grads_nonfinite.npy"]),
    ("sgd_momentum_clip_skip_plateau", "sgd",
     ["lr=0.05", "momentum=0.9", "clip_norm=2", "nonfinite=skip", "schedule=plateau",
      "factor=0.5", "patience=2", "--grads=grads_nonfinite.npy"]),
]

# (row, element, value) planted into grads_nonfinite.npy: row 0 makes the first step a skip.
NONFINITE = [(0, 7, math.nan), (3, 10, math.nan), (10, 20, math.inf), (11, 0, -math.inf),
             (25, 5, math.nan), (25, 6, math.inf)]


def _levels(*pairs):
    """A piecewise-constant metric: (value, how many steps) ..., T values in all."""
    m = [v for v, n in pairs for _ in range(n)]
    if len(m) != T:
        raise SystemExit(f"metrics have {len(m)} values, not {T}")
    return m


def make_metrics():
    """The metrics of the ReduceLROnPlateau cases, float32 (T,), by case."""
    rng = np.random.default_rng(SEED + 1)
    k = np.arange(T, dtype=np.float64)
    falling_then_flat = _levels((1.0, 1), (0.9, 1), (0.8, 1), (0.7, 9), (0.65, 11), (0.5, 9),
                                (0.45, 4), (0.44999, 14))
    slow = 0.95 ** k  # 5 % per step: a 10 % improvement every third step
    linear = 1.0 - 0.02 * k  # 0.02 per step: an improvement by more than 0.05 every third step
    accuracy = _levels((0.5, 1), (0.6, 1), (0.7, 1), (0.72, 1), (0.721, 1), (0.722, 1),
                       (0.8, 8), (0.805, 6), (0.9, 5), (0.91, 25))
    flat = np.ones(T)
    # Falls, then hovers around a level: the default patience (10) runs out now and then.
    noisy = np.maximum(1.0 / (1.0 + 0.2 * k), 0.4) + 0.05 * rng.standard_normal(T)
    m = {
        "sgd_momentum_plateau": falling_then_flat,
        "adam_plateau_cooldown": falling_then_flat,
        "rmsprop_plateau_threshold_rel": slow,
        "sgd_plateau_threshold_abs": linear,
        "adamw_plateau_mode_max": accuracy,
        "rmsprop_plateau_max_abs_cooldown": accuracy,
        "adam_plateau_min_lr": flat,
        "sgd_plateau_default_noisy": noisy,
        "rprop_plateau": falling_then_flat,
        "sgd_momentum_plateau_lookahead_k4": falling_then_flat,
        "sgd_momentum_clip_skip_plateau": falling_then_flat,
    }
    return {case: np.asarray(v, dtype=np.float32) for case, v in m.items()}

BOOL_KEYS = {"nesterov", "maximize", "amsgrad", "centered", "ema"}
STRING_KEYS = {"variant"}

# Schedule, ReduceLROnPlateau and Lookahead keys of `optcl replay`, with optcl's defaults
# (optcl_schedule_default, optcl_plateau_config_default = PyTorch's, Lookahead's alpha 0.5).
SCHEDULE_DEFAULTS = dict(schedule="constant", power=1.0, gamma=0.1, step_size=1, milestones=[],
                         t_max=1, eta_min=0.0, warmup_steps=0, warmup_start_factor=1.0 / 3.0,
                         mode="min", factor=0.1, patience=10, threshold=1e-4,
                         threshold_mode="rel", cooldown=0, min_lr=0.0, lookahead_k=0,
                         lookahead_alpha=0.5, clip_norm=0.0, nonfinite="propagate")
SCHEDULE_STRING_KEYS = {"schedule", "mode", "threshold_mode", "nonfinite"}
SCHEDULE_INT_KEYS = {"step_size", "t_max", "warmup_steps", "patience", "cooldown",
                     "lookahead_k"}

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


def set_schedule_key(sched, key, value):
    """Sets a schedule, plateau or Lookahead key in sched; False when key is none of them."""
    if key not in sched:
        return False
    if key in SCHEDULE_STRING_KEYS:
        sched[key] = value
    elif key == "milestones":
        sched[key] = [int(v) for v in value.split(",")]
    elif key in SCHEDULE_INT_KEYS:
        sched[key] = int(value)
    else:
        sched[key] = float(value)
    return True


def parse_args(optimizer, args):
    """The replay arguments on top of the optimizer's defaults: (optimizer keys, schedule,
    plateau and Lookahead keys)."""
    cfg = dict(DEFAULTS[optimizer])
    sched = dict(SCHEDULE_DEFAULTS)
    for a in args:
        if a.startswith("--"):
            continue  # --grads=FILE: which gradients, not an option
        key, value = a.split("=", 1)
        if set_schedule_key(sched, key, value):
            continue
        if key not in cfg:
            raise SystemExit(f"case key {key!r} is not an option of {optimizer}")
        if key in STRING_KEYS:
            cfg[key] = value
        elif key in BOOL_KEYS:
            cfg[key] = int(value)
        else:
            cfg[key] = float(value)
    return cfg, sched


def make_scheduler(opt, sc):
    """The torch scheduler for these keys (None: a constant lr)."""
    kind = sc["schedule"]
    if kind == "plateau":
        if sc["warmup_steps"]:
            raise SystemExit("warmup in front of plateau is not a replay configuration")
        return S.ReduceLROnPlateau(opt, mode=sc["mode"], factor=sc["factor"],
                                   patience=sc["patience"], threshold=sc["threshold"],
                                   threshold_mode=sc["threshold_mode"], cooldown=sc["cooldown"],
                                   min_lr=sc["min_lr"], eps=1e-8)

    def build(o):
        if kind == "constant":
            return S.LambdaLR(o, lambda t: 1.0)
        if kind == "inverse_time":
            power = sc["power"]
            return S.LambdaLR(o, lambda t: 1.0 / (1.0 + t) ** power)
        if kind == "exponential":
            return S.ExponentialLR(o, gamma=sc["gamma"])
        if kind == "step":
            return S.StepLR(o, step_size=sc["step_size"], gamma=sc["gamma"])
        if kind == "multistep":
            return S.MultiStepLR(o, milestones=sc["milestones"], gamma=sc["gamma"])
        if kind == "cosine":
            return S.CosineAnnealingLR(o, T_max=sc["t_max"], eta_min=sc["eta_min"])
        raise SystemExit(f"unknown schedule {kind}")

    w = sc["warmup_steps"]
    if w:
        # LinearLR from warmup_start_factor to 1 over w steps, then the schedule on t − w.
        warm = S.LinearLR(opt, start_factor=sc["warmup_start_factor"], end_factor=1.0,
                          total_iters=w)
        return S.SequentialLR(opt, schedulers=[warm, build(opt)], milestones=[w])
    if kind == "constant":
        return None
    return build(opt)


def step_scheduler(sched, metrics, t):
    """After step t: the schedule moves on, or the plateau hears M[t]."""
    if sched is None:
        return
    if isinstance(sched, S.ReduceLROnPlateau):
        sched.step(float(metrics[t]))
    else:
        sched.step()


def lr_trace(sc, lr, metrics):
    """The lr of every step under these keys, from the real scheduler around a dummy SGD (for
    the rules written out in numpy)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = make_scheduler(opt, sc)
    lrs = []
    for t in range(T):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        step_scheduler(sched, metrics, t)
    return lrs


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


def run_torch(optimizer, cfg, p0, grads, sc=None, metrics=None):
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
    sched = make_scheduler(opt, sc) if sc else None
    k = sc["lookahead_k"] if sc else 0
    alpha = sc["lookahead_alpha"] if sc else 0.0
    slow = torch.from_numpy(p0.copy()) if k else None  # Lookahead's slow weights
    clip = sc["clip_norm"] if sc else 0.0
    skip = bool(sc) and sc["nonfinite"] == "skip"
    taken = 0  # steps not skipped: Lookahead counts these
    out = np.empty((T, N), dtype=np.float32)
    for t in range(T):
        p.grad = torch.from_numpy(grads[t].copy())
        if skip and not bool(torch.isfinite(p.grad).all()):
            out[t] = p.detach().numpy()
            if isinstance(sched, S.ReduceLROnPlateau):
                step_scheduler(sched, metrics, t)  # metrics are reported whatever the step did
            continue
        if clip > 0:
            torch.nn.utils.clip_grad_norm_([p], clip)
        opt.step()
        taken += 1
        if k and taken % k == 0:
            with torch.no_grad():
                slow += alpha * (p.detach() - slow)
                p.copy_(slow)
        out[t] = p.detach().numpy()
        step_scheduler(sched, metrics, t)
    return out


def run_sgd_ema(cfg, p0, grads, lrs):
    """v = β·v + (1−β)·g (v starts at 0), w −= lr·v; maximize and weight decay as in SGD; lrs[t]
    is the lr of step t."""
    f = np.float32
    beta, wd = cfg["momentum"], cfg["weight_decay"]
    p = p0.copy()
    v = np.zeros(N, dtype=np.float32)
    out = np.empty((T, N), dtype=np.float32)
    for t in range(T):
        d = -grads[t] if cfg["maximize"] else grads[t].copy()
        if wd != 0:
            d = d + f(wd) * p
        v = v * f(beta) + d * f(1.0 - beta)
        p = p - f(lrs[t]) * v
        out[t] = p
    return out


def run_rprop_classic(cfg, p0, grads, lrs):
    """g·g_prev > 0: step·etaplus; ≤ 0: step·etaminus; clamp; w −= step·sign(g); prev = g. The
    step sizes start at the lr of the first step, lrs[0]."""
    f = np.float32
    p = p0.copy()
    prev = np.zeros(N, dtype=np.float32)
    step = np.full(N, lrs[0], dtype=np.float32)
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
    grads_nonfinite = grads.copy()
    for row, element, value in NONFINITE:
        grads_nonfinite[row, element] = value
    metrics = make_metrics()
    np.save(os.path.join(HERE, "p0.npy"), p0)
    np.save(os.path.join(HERE, "grads.npy"), grads)
    np.save(os.path.join(HERE, "grads_nonfinite.npy"), grads_nonfinite)
    exp_dir = os.path.join(HERE, "expected")
    met_dir = os.path.join(HERE, "metrics")
    os.makedirs(exp_dir, exist_ok=True)
    os.makedirs(met_dir, exist_ok=True)
    names = {c[0] for c in CASES}
    if len(names) != len(CASES):
        raise SystemExit("two cases share a name")
    for name in os.listdir(exp_dir):  # drop cases that no longer exist
        if name.endswith(".npy") and name[:-4] not in names:
            os.remove(os.path.join(exp_dir, name))
    for name in os.listdir(met_dir):
        if name.endswith(".npy") and name[:-4] not in metrics:
            os.remove(os.path.join(met_dir, name))
    lines = [
        "# optcl golden replay cases — generated by tests/golden/make_golden.py; do not edit.",
        f"# torch {torch.__version__}, numpy {np.__version__}, seed {SEED}, N={N}, T={T}",
        "# Inputs: p0.npy (N,), grads.npy (T, N); expected/<case>.npy (T, N): row t = params after step t.",
        "# sgd ema=1 and rprop variant=classic are not in PyTorch: numpy float32 code in the script.",
        "# Format: <case> <optimizer> KEY=VALUE ...   (the arguments of `optcl replay`)",
        "# Schedules/plateau: torch.optim.lr_scheduler stepped once per step; Lookahead: written out in the script.",
        "# --metrics=metrics/<case>.npy (plateau cases): passed as `--metrics <golden dir>/metrics/<case>.npy`.",
        "# --grads=FILE (nonfinite=skip cases): these gradients instead of grads.npy.",
        "# clip_norm: torch.nn.utils.clip_grad_norm_ before the step; nonfinite=skip: the step is not taken.",
    ]
    for name, optimizer, args in CASES:
        cfg, sc = parse_args(optimizer, args)
        plateau = sc["schedule"] == "plateau"
        if plateau != (name in metrics):
            raise SystemExit(f"case {name}: metrics {'missing' if plateau else 'not used'}")
        m = metrics.get(name)
        g = grads_nonfinite if "--grads=grads_nonfinite.npy" in args else grads
        numpy_rule = (optimizer == "sgd" and cfg["ema"]) or (
            optimizer == "rprop" and cfg["variant"] == "classic")
        if numpy_rule and (sc["clip_norm"] or sc["nonfinite"] == "skip"):
            raise SystemExit(f"case {name}: the guard around a numpy rule is not written")
        if numpy_rule and sc["lookahead_k"]:
            raise SystemExit(f"case {name}: Lookahead around a numpy rule is not written")
        if optimizer == "sgd" and cfg["ema"]:
            out = run_sgd_ema(cfg, p0, grads, lr_trace(sc, cfg["lr"], m))
        elif optimizer == "rprop" and cfg["variant"] == "classic":
            out = run_rprop_classic(cfg, p0, grads, lr_trace(sc, cfg["lr"], m))
        elif optimizer == "rprop" and cfg["variant"] != "pytorch":
            raise SystemExit(f"unknown rprop variant {cfg['variant']}")
        else:
            out = run_torch(optimizer, cfg, p0, g, sc, m)
        if not np.all(np.isfinite(out)):
            raise SystemExit(f"case {name}: non-finite result")
        np.save(os.path.join(exp_dir, name + ".npy"), out)
        extra = []
        if m is not None:
            np.save(os.path.join(met_dir, name + ".npy"), m)
            extra = [f"--metrics=metrics/{name}.npy"]
        lines.append(" ".join([name, optimizer] + args + extra))
    with open(os.path.join(HERE, "cases.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {len(CASES)} cases ({len(metrics)} with metrics) to {HERE}", file=sys.stderr)

if __name__ == "__main__":
    main()
