"""Plumbing shared by the golden-data generators make_golden_optim.py, make_golden_schedulefree.py,
make_golden_tensorwise.py and make_golden_adafactor.py: the inputs, the tolerance share, the
checks every case must pass, the tensors= layout and the writing of expected_<set>/ and
cases_<set>.txt. numpy and the standard library only (make_golden_tensorwise.py runs where there
is no torch; make_golden.py imports torch). A generator imports it with
sys.dont_write_bytecode = True first, so that no __pycache__ is left in the tree.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ATOL, RTOL = 1e-5, 1e-4  # tests/test_golden.c's GOLDEN_ATOL, GOLDEN_RTOL
MAX_CALIBRATION = 0.3  # the most of the tolerance float32 rounding alone may use in a case
MIN_KEY_EFFECT = 5.0  # the least (in tolerances) leaving out a case's key must change its rows


def load_inputs():
    """p0.npy (N,) and grads.npy (T, N), float32, next to this file (make_golden.py's)."""
    p0 = np.load(os.path.join(HERE, "p0.npy"))
    grads = np.load(os.path.join(HERE, "grads.npy"))
    if p0.dtype != np.float32 or grads.dtype != np.float32 or grads.shape[1:] != p0.shape:
        raise SystemExit("p0.npy/grads.npy are not float32 (N,) and (T, N)")
    return p0, grads


def check_case_names(names, others, missing_ok=False):
    """Case names are unique and in none of the other cases files (test names are
    backend/<case>); missing_ok: an other file that does not exist yet is passed over."""
    if len(set(names)) != len(names):
        raise SystemExit("two cases share a name")
    for other in others:
        path = os.path.join(HERE, other)
        if missing_ok and not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as fh:
            taken = {ln.split()[0] for ln in fh if ln.strip() and not ln.startswith("#")}
        if taken & set(names):
            raise SystemExit(f"case names also in {other}: {sorted(taken & set(names))}")


def warn_versions(found, expected):
    """A warning on stderr for every package whose version is not the one the rows came from."""
    for k, want in expected.items():
        if found[k] != want:
            print(f"warning: {k} {found[k]}, the rows were made with {want}", file=sys.stderr)


def calibration(a, ref):
    """max |a − ref| / (ATOL + RTOL·|ref|): the share of the test tolerance the difference uses
    (a float32 run against its float64 twin: the share rounding alone uses)."""
    return float(np.max(np.abs(a.astype(np.float64) - ref) / (ATOL + RTOL * np.abs(ref))))


def effect(rows, base):
    """The change rows − base in units of the tolerance (NaN/inf count as a change)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return float(np.nan_to_num(calibration(rows, base.astype(np.float64)), nan=np.inf))


def require_effect(name, what, rows, base):
    """Refuse case `name` if leaving out `what` changes its rows by less than MIN_KEY_EFFECT."""
    e = effect(rows, base)
    if e < MIN_KEY_EFFECT:
        raise SystemExit(f"case {name}: leaving out {what} changes the rows by only "
                         f"{e:.3g} of the tolerance")


def leave_one_out(args, skip=(), schedule_keys=()):
    """(key, the case's args without it) for every KEY=VALUE in args whose key is not in skip;
    schedule=... goes with all of schedule_keys (a schedule as a whole), whose other keys are
    not left out on their own."""
    out = []
    for a in args:
        key = a.split("=", 1)[0]
        if key in skip or (key in schedule_keys and key != "schedule"):
            continue
        rest = ([x for x in args if x.split("=", 1)[0] not in schedule_keys]
                if key == "schedule" else [x for x in args if x != a])
        out.append((key, rest))
    return out


def require_finite(name, *arrays):
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise SystemExit(f"case {name}: non-finite result")


def require_calibration(name, cal):
    if cal >= MAX_CALIBRATION:
        raise SystemExit(f"case {name}: float32 rounding uses {cal:.3f} of the tolerance")


def note_worst(worst, key, name, cal):
    """worst[key] = (case, share) of the largest share so far (the later case on a tie)."""
    if cal >= worst.get(key, ("", -1.0))[1]:
        worst[key] = (name, cal)


def worst_lines(worst, keys, width):
    """The header's "#   <optimizer> <share>  (<case>)" lines, in the order of keys."""
    return [f"#   {k:{width}s} {worst[k][1]:.4f}  ({worst[k][0]})" for k in keys]


def parse_tensors(spec, n):
    """tensors=4x5,12,5 → [(4, 5), (12,), (5,)], sizes summing to n."""
    shapes = [tuple(int(d) for d in s.split("x")) for s in spec.split(",")]
    if any(d <= 0 for s in shapes for d in s) or sum(int(np.prod(s)) for s in shapes) != n:
        raise SystemExit(f"tensors={spec}: sizes do not sum to {n}")
    return shapes


def split(flat, shapes):
    """flat (N,) cut into consecutive pieces of the given shapes."""
    out, i = [], 0
    for s in shapes:
        k = int(np.prod(s))
        out.append(flat[i:i + k].reshape(s))
        i += k
    return out


def write_golden(set_name, files, header, cases):
    """expected_<set_name>/: the .npy files of cases that no longer exist dropped, then every
    files[<file name>] saved as float32; cases_<set_name>.txt: the header lines, then one line
    "<case> <optimizer> KEY=VALUE ..." per (case, optimizer, args) of cases."""
    out_dir = os.path.join(HERE, "expected_" + set_name)
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):  # drop cases that no longer exist
        if f.endswith(".npy") and f not in files:
            os.remove(os.path.join(out_dir, f))
    for f, rows in files.items():
        np.save(os.path.join(out_dir, f), np.asarray(rows, dtype=np.float32))
    lines = list(header) + [" ".join([name, optimizer] + list(args))
                            for name, optimizer, args in cases]
    with open(os.path.join(HERE, f"cases_{set_name}.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {len(cases)} cases to {HERE}/cases_{set_name}.txt and {out_dir}",
          file=sys.stderr)
