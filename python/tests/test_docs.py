"""docs/PYTHON.md's examples run as they are written (their printed output in the docs is a
real run's; device names and timings vary by machine)."""
import os
import re

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "PYTHON.md")
BLOCKS = re.findall(r"```python\n(.*?)```", open(DOC).read(), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index, capsys):
    code = BLOCKS[index]
    for module in ("pyopencl", "torch", "safetensors"):
        if re.search(rf"^(import|from) {module}\b", code, re.M):
            pytest.importorskip(module)
    if "pyopencl" in code:
        from conftest import HAS_OPENCL
        if not HAS_OPENCL:
            pytest.skip("no OpenCL device")
    exec(compile(code, f"docs/PYTHON.md block {index}", "exec"), {"__name__": "__doc__"})
    assert capsys.readouterr().out  # every example prints what the docs show
