"""The OpenCL devices optcl can run on, listed through the ICD loader (libOpenCL) as
`optcl devices` lists them, plus the reference backend."""
import ctypes as C

from ._cl import cl

_CL_DEVICE_TYPE_ALL = 0xFFFFFFFF
_CL_PLATFORM_NAME = 0x0902
_CL_DEVICE_NAME = 0x102B
_CL_DEVICE_TYPE = 0x1000
_CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F
_CL_DEVICE_HOST_UNIFIED_MEMORY = 0x1035
_TYPES = {1 << 1: "cpu", 1 << 2: "gpu", 1 << 3: "accelerator"}


def _info(f, obj, param, kind=None):
    size = C.c_size_t()
    if f(obj, param, 0, None, C.byref(size)) != 0:
        return None
    if kind is None:
        buf = C.create_string_buffer(size.value)
        f(obj, param, size, buf, None)
        return buf.value.decode(errors="replace").strip()
    out = kind()
    f(obj, param, C.sizeof(out), C.byref(out), None)
    return out.value


def _ids(get, *args):
    """The handles an OpenCL list call gives (clGetPlatformIDs, clGetDeviceIDs); [] on error."""
    n = C.c_uint32()
    if get(*args, 0, None, C.byref(n)) != 0 or not n.value:
        return []
    ids = (C.c_void_p * n.value)()
    get(*args, n.value, ids, None)
    return [C.c_void_p(h) for h in ids]


def _device(p, d, platform, dev):
    kind = _info(cl.clGetDeviceInfo, dev, _CL_DEVICE_TYPE, C.c_uint64) or 0
    return {"device": f"{p}:{d}", "platform": platform,
            "name": _info(cl.clGetDeviceInfo, dev, _CL_DEVICE_NAME),
            "type": next((v for k, v in _TYPES.items() if kind & k), "other"),
            "global_memory": _info(cl.clGetDeviceInfo, dev, _CL_DEVICE_GLOBAL_MEM_SIZE,
                                   C.c_uint64),
            "host_unified_memory": bool(_info(cl.clGetDeviceInfo, dev,
                                              _CL_DEVICE_HOST_UNIFIED_MEMORY, C.c_uint32))}


def devices():
    """[{"device": "P:D", "platform": …, "name": …, "type": "gpu"|"cpu"|…,
    "global_memory": bytes, "host_unified_memory": bool}, …, {"device": "reference", …}]:
    "device" is what optcl.Context(device=…) takes."""
    out = []
    for p, platform in enumerate(_ids(cl.clGetPlatformIDs) if cl is not None else []):
        name = _info(cl.clGetPlatformInfo, platform, _CL_PLATFORM_NAME)
        devs = _ids(cl.clGetDeviceIDs, platform, C.c_uint64(_CL_DEVICE_TYPE_ALL))
        out += [_device(p, d, name, dev) for d, dev in enumerate(devs)]
    out.append({"device": "reference", "platform": "optcl", "name": "reference (host)",
                "type": "host", "global_memory": None, "host_unified_memory": True})
    return out
