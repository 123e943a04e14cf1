"""The OpenCL devices optcl can run on, listed through the ICD loader (libOpenCL) as
`optcl devices` lists them, plus the reference backend."""
import ctypes as C
import ctypes.util

_CL_DEVICE_TYPE_ALL = 0xFFFFFFFF
_CL_PLATFORM_NAME = 0x0902
_CL_DEVICE_NAME = 0x102B
_CL_DEVICE_TYPE = 0x1000
_CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F
_CL_DEVICE_HOST_UNIFIED_MEMORY = 0x1035
_TYPES = {1 << 1: "cpu", 1 << 2: "gpu", 1 << 3: "accelerator"}


def _opencl():
    path = C.util.find_library("OpenCL") or "libOpenCL.so.1"
    try:
        return C.CDLL(path)
    except OSError:
        return None


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


def devices():
    """[{"device": "P:D", "platform": …, "name": …, "type": "gpu"|"cpu"|…,
    "global_memory": bytes, "host_unified_memory": bool}, …, {"device": "reference", …}]:
    "device" is what optcl.Context(device=…) takes."""
    out = []
    cl = _opencl()
    if cl is not None:
        n = C.c_uint()
        if cl.clGetPlatformIDs(0, None, C.byref(n)) == 0 and n.value:
            platforms = (C.c_void_p * n.value)()
            cl.clGetPlatformIDs(n.value, platforms, None)
            for p, platform in enumerate(platforms):
                pname = _info(cl.clGetPlatformInfo, C.c_void_p(platform), _CL_PLATFORM_NAME)
                nd = C.c_uint()
                if cl.clGetDeviceIDs(C.c_void_p(platform), C.c_uint64(_CL_DEVICE_TYPE_ALL), 0,
                                     None, C.byref(nd)) != 0:
                    continue
                ids = (C.c_void_p * nd.value)()
                cl.clGetDeviceIDs(C.c_void_p(platform), C.c_uint64(_CL_DEVICE_TYPE_ALL),
                                  nd.value, ids, None)
                for d, dev in enumerate(ids):
                    dev = C.c_void_p(dev)
                    kind = _info(cl.clGetDeviceInfo, dev, _CL_DEVICE_TYPE, C.c_uint64) or 0
                    out.append({
                        "device": f"{p}:{d}", "platform": pname,
                        "name": _info(cl.clGetDeviceInfo, dev, _CL_DEVICE_NAME),
                        "type": next((v for k, v in _TYPES.items() if kind & k), "other"),
                        "global_memory": _info(cl.clGetDeviceInfo, dev,
                                               _CL_DEVICE_GLOBAL_MEM_SIZE, C.c_uint64),
                        "host_unified_memory": bool(_info(cl.clGetDeviceInfo, dev,
                                                          _CL_DEVICE_HOST_UNIFIED_MEMORY,
                                                          C.c_uint)),
                    })
    out.append({"device": "reference", "platform": "optcl", "name": "reference (host)",
                "type": "host", "global_memory": None, "host_unified_memory": True})
    return out
