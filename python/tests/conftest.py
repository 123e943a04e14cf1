"""pytest setup: the backends the suites run on (the reference backend always; OpenCL when a
device is there), and the tolerances the issue asks for."""
import pytest

import optcl


def _has_opencl():
    try:
        optcl.Context().close()
        return True
    except optcl.OptclError:
        return False


HAS_OPENCL = _has_opencl()
BACKENDS = ["reference"] + (["opencl"] if HAS_OPENCL else [])
RTOL = {"reference": 1e-6, "opencl": 1e-5}


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def device_of(backend):
    """What optcl.torch's device= and optcl.Context take for a backend."""
    return "reference" if backend == "reference" else None
