"""samples/python/fashion_mnist.py trains and prints the C sample's epoch table (two short
epochs on 2000 images; skipped without Debian's dataset-fashion-mnist)."""
import os
import re
import subprocess
import sys

import pytest

from conftest import BACKENDS

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "samples", "python",
                      "fashion_mnist.py")
DATA = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not os.path.isdir(DATA), reason=f"no {DATA}")
def test_fashion_mnist_sample():
    device = "reference" if BACKENDS == ["reference"] else None
    args = [sys.executable, SAMPLE, "--epochs", "2", "--limit", "2000"]
    out = subprocess.run(args + (["--device", device] if device else []), capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    header = lines.index("epoch  train loss  valid loss  valid acc      gap         lr       s")
    rows = [re.split(r"\s+", line.strip()) for line in lines[header + 1:header + 3]]
    assert [r[0] for r in rows] == ["1", "2"]
    losses = [float(r[1]) for r in rows]
    assert losses[1] < losses[0] < 2.4  # below log(10): it learns
    assert float(rows[1][3]) > 0.5  # valid accuracy
    assert lines[-1].startswith("test accuracy")
