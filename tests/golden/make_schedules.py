#!/usr/bin/python3
# make_schedules.py — writes tests/golden/schedules.txt: learning-rate traces of real PyTorch
# schedulers (and ReduceLROnPlateau) that tests/test_schedule.c compares optcl's closed forms with.
#
# Usage: /usr/bin/python3 tests/golden/make_schedules.py   (needs torch and numpy)
#
# Every trace steps the scheduler once per optimizer step, exactly as a training loop does:
# read param_groups[g]['lr'] (the lr that step uses), optimizer.step(), scheduler.step().
# Values are printed with repr, which round-trips a double exactly (17 significant digits at most).
import math
import os
import sys
import warnings

import numpy as np
import torch
from torch.optim import lr_scheduler as S

STEPS = 60
LR = 0.1

# SequentialLR and the recursive get_lr forms warn about step order/epochs; the traces are
# what a user running these classes gets, warnings or not.
warnings.filterwarnings("ignore")


def make_optimizer(lrs):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0])


def fmt(x):
    return repr(float(x))


def schedule_trace(build):
    opt = make_optimizer([LR])
    sched = build(opt)
    lrs = []
    for _ in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def with_warmup(opt, steps, factor, build):
    # optcl's warmup: LinearLR from `factor` to 1 over `steps`, then the schedule on t − steps.
    warm = S.LinearLR(opt, start_factor=factor, end_factor=1.0, total_iters=steps)
    return S.SequentialLR(opt, schedulers=[warm, build(opt)], milestones=[steps])


# (case, optcl kind, optcl fields, builder). The fields name optcl_schedule's members.
SCHEDULES = [
    ("constant", "constant", {}, lambda o: S.LambdaLR(o, lambda t: 1.0)),
    ("inverse_time_p1", "inverse_time", {"power": 1.0},
     lambda o: S.LambdaLR(o, lambda t: 1.0 / (1 + t) ** 1.0)),
    ("inverse_time_p2", "inverse_time", {"power": 2.0},
     lambda o: S.LambdaLR(o, lambda t: 1.0 / (1 + t) ** 2.0)),
    ("inverse_time_p05", "inverse_time", {"power": 0.5},
     lambda o: S.LambdaLR(o, lambda t: 1.0 / (1 + t) ** 0.5)),
    ("exponential_half", "exponential", {"gamma": 0.5}, lambda o: S.ExponentialLR(o, gamma=0.5)),
    ("exponential_09", "exponential", {"gamma": 0.9}, lambda o: S.ExponentialLR(o, gamma=0.9)),
    ("step_7_half", "step", {"step_size": 7, "gamma": 0.5},
     lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
    ("multistep_5_20_33", "multistep", {"milestones": [5, 20, 33], "gamma": 0.3},
     lambda o: S.MultiStepLR(o, milestones=[5, 20, 33], gamma=0.3)),
    # 60 steps with T_max 25 run past T_max into the rising half of the next period: PyTorch's
    # recursive form (with its special case at T_cur = (2k+1)·T_max) follows the periodic closed
    # form there too, to ~1e-15, so the whole trace is compared.
    ("cosine_25", "cosine", {"t_max": 25, "eta_min": 0.001},
     lambda o: S.CosineAnnealingLR(o, T_max=25, eta_min=0.001)),
    ("cosine_60_eta0", "cosine", {"t_max": 60, "eta_min": 0.0},
     lambda o: S.CosineAnnealingLR(o, T_max=60, eta_min=0.0)),
    ("warmup_exponential", "exponential",
     {"gamma": 0.95, "warmup_steps": 10, "warmup_start_factor": 0.25},
     lambda o: with_warmup(o, 10, 0.25, lambda o2: S.ExponentialLR(o2, gamma=0.95))),
    ("warmup_step", "step",
     {"step_size": 6, "gamma": 0.5, "warmup_steps": 5, "warmup_start_factor": 0.1},
     lambda o: with_warmup(o, 5, 0.1, lambda o2: S.StepLR(o2, step_size=6, gamma=0.5))),
    ("warmup_cosine", "cosine",
     {"t_max": 40, "eta_min": 0.002, "warmup_steps": 8, "warmup_start_factor": 1.0 / 3.0},
     lambda o: with_warmup(o, 8, 1.0 / 3.0,
                           lambda o2: S.CosineAnnealingLR(o2, T_max=40, eta_min=0.002))),
    ("warmup_constant", "constant", {"warmup_steps": 4, "warmup_start_factor": 0.5},
     lambda o: with_warmup(o, 4, 0.5, lambda o2: S.LambdaLR(o2, lambda t: 1.0))),
]


def field(key, value):
    if isinstance(value, list):
        return "%s=%s" % (key, ",".join(str(v) for v in value))
    if isinstance(value, int):
        return "%s=%d" % (key, value)
    return "%s=%s" % (key, fmt(value))


def plateau_trace(lrs, metrics, options, schedule_gamma=None):
    """lr of every group before each step; metric i is reported after step i."""
    opt = make_optimizer(lrs)
    under = S.ExponentialLR(opt, gamma=schedule_gamma) if schedule_gamma else None
    plateau = S.ReduceLROnPlateau(opt, **options)
    traces = [[] for _ in lrs]
    for m in metrics:
        for g, group in enumerate(opt.param_groups):
            traces[g].append(group["lr"])
        opt.step()
        # The schedule moves to the next step's lr first; the plateau then reduces that lr, as
        # optcl's report sees "the lr group g would use for the next step".
        if under:
            under.step()
        plateau.step(m)
    return traces


def plateau_line(case, lrs, metrics, options, schedule_gamma=None):
    o = dict(mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
             cooldown=0, min_lr=0.0, eps=1e-8)
    o.update(options)
    traces = plateau_trace(lrs, metrics, o, schedule_gamma)
    keys = ["lr=" + ",".join(fmt(x) for x in lrs)]
    if schedule_gamma:
        keys += ["schedule=exponential", "gamma=" + fmt(schedule_gamma)]
    keys += ["mode=" + o["mode"], "factor=" + fmt(o["factor"]), "patience=%d" % o["patience"],
             "threshold=" + fmt(o["threshold"]), "threshold_mode=" + o["threshold_mode"],
             "cooldown=%d" % o["cooldown"], "min_lr=" + fmt(o["min_lr"]), "eps=" + fmt(o["eps"])]
    parts = ["%s plateau %s" % (case, " ".join(keys)),
             "metrics " + " ".join(fmt(m) for m in metrics)]
    parts += [" ".join(fmt(x) for x in t) for t in traces]
    return " : ".join(parts)


def plateau_cases():
    rng = np.random.default_rng(20240611)
    falling_then_flat = [1.0, 0.9, 0.8, 0.7] + [0.7] * 8 + [0.65] + [0.65] * 10 + [0.5] + [0.5] * 8
    slow = [0.95 ** k for k in range(30)]  # 5 % per step: improves by 10 % every third step
    noisy = list(1.0 / (1.0 + 0.1 * np.arange(40)) + 0.05 * rng.standard_normal(40))
    accuracy = [0.5, 0.6, 0.7, 0.72, 0.721, 0.722, 0.8] + [0.8] * 20
    negative = [-1.0, -1.05, -1.06, -1.2, -1.2001, -1.2, -1.3] + [-1.3] * 12
    with_nan = [1.0, 0.9, float("nan"), 0.8, float("nan"), float("nan"), float("nan"), 0.8, 0.7,
                0.7, 0.7, float("nan"), 0.6] + [0.6] * 6
    flat = [1.0] * 25
    return [
        plateau_line("patience2", [LR], falling_then_flat, dict(patience=2, factor=0.5)),
        plateau_line("cooldown3", [LR], falling_then_flat, dict(patience=1, factor=0.5,
                                                                cooldown=3)),
        plateau_line("threshold_rel", [LR], slow, dict(patience=1, factor=0.5, threshold=0.1)),
        plateau_line("threshold_abs", [LR], slow, dict(patience=1, factor=0.5, threshold=0.1,
                                                       threshold_mode="abs")),
        plateau_line("mode_max_rel", [LR], accuracy, dict(mode="max", patience=2, factor=0.5,
                                                          threshold=0.01)),
        plateau_line("mode_max_abs", [LR], accuracy, dict(mode="max", patience=2, factor=0.5,
                                                          threshold=0.01,
                                                          threshold_mode="abs")),
        plateau_line("min_lr_clamp", [LR], flat, dict(patience=0, factor=0.5, min_lr=0.01)),
        plateau_line("eps_min_lr_close", [LR], flat, dict(patience=1, min_lr=LR - 5e-9)),
        plateau_line("eps_factor_close", [LR], flat, dict(patience=1, factor=1.0 - 5e-8)),
        plateau_line("factor0", [LR], flat, dict(patience=3, factor=0.0)),
        plateau_line("default_noisy", [LR], noisy, dict()),
        plateau_line("negative_rel", [LR], negative, dict(patience=1, factor=0.5,
                                                          threshold=0.05)),
        plateau_line("nan_metric", [LR], with_nan, dict(patience=2, factor=0.5)),
        # Two groups: the small one reaches min_lr, then eps stops its reductions while the
        # large one goes on.
        plateau_line("groups_min_lr", [LR, 0.004], flat, dict(patience=1, factor=0.5,
                                                              min_lr=0.001)),
        # A schedule underneath (no min_lr: PyTorch's chained ExponentialLR would decay below
        # a clamped lr, optcl keeps max(schedule·scale, min_lr) — they agree without a clamp).
        plateau_line("over_exponential", [LR, 0.03], falling_then_flat,
                     dict(patience=2, factor=0.5), schedule_gamma=0.97),
    ]


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schedules.txt")
    lines = ["# torch %s, numpy %s; written by make_schedules.py — do not edit" %
             (torch.__version__, np.__version__),
             "# <case> <kind> lr=<base> key=value ... : lr(0) ... lr(%d)" % (STEPS - 1),
             "# <case> plateau key=value ... : metrics m(0) ... : lr(0) ... [: group 1 ...]"]
    for case, kind, fields, build in SCHEDULES:
        keys = ["lr=" + fmt(LR)] + [field(k, v) for k, v in fields.items()]
        lrs = schedule_trace(build)
        lines.append("%s %s %s : %s" % (case, kind, " ".join(keys),
                                        " ".join(fmt(x) for x in lrs)))
    lines += plateau_cases()
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d traces)" % (out, len(lines) - 3), file=sys.stderr)


if __name__ == "__main__":
    main()
