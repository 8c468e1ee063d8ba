"""Another build of int8rt loaded beside this tree's, in one process, for
same-run A/B benchmarks (packed_b_reuse_bench.py, bert_ov_ab.py).

make_before copies a built package (a checkout's python/int8rt after
tools/dev_build.sh) to <dest>/int8rt_before with its libint8rt.so renamed
libint8rB.so: the soname and the extensions' DT_NEEDED entries patched (same
length), so the two libraries load side by side. import_before imports it
with a pybind11 type registry of its own.

    python benchmarks/before_build.py <checkout>/python/int8rt /tmp/before
"""
from __future__ import annotations

import ctypes
import glob
import importlib
import os
import shutil
import sys
from types import ModuleType


def make_before(package: str, dest: str) -> str:
    """<dest>/int8rt_before made from the built package folder ``package``; returns dest."""
    out = os.path.join(dest, "int8rt_before")
    if os.path.exists(out):
        shutil.rmtree(out)
    shutil.copytree(package, out)
    os.rename(os.path.join(out, "lib", "libint8rt.so"), os.path.join(out, "lib", "libint8rB.so"))
    for f in [os.path.join(out, "lib", "libint8rB.so")] + glob.glob(os.path.join(out, "_*.so")):
        with open(f, "rb") as fh:
            data = fh.read()
        with open(f, "wb") as fh:
            fh.write(data.replace(b"libint8rt.so", b"libint8rB.so"))
    return dest


def import_before(folder: str) -> ModuleType:
    """int8rt_before from ``folder`` (make_before's dest), imported beside int8rt."""
    sys.path.insert(0, folder)
    # pybind11 keeps its type registry in the interpreter state's dict: the second build, given
    # none while it imports, makes its own (each extension keeps the registry it found), so the
    # two builds' identically named classes do not collide.
    api = ctypes.pythonapi
    api.PyInterpreterState_Get.restype = ctypes.c_void_p
    api.PyInterpreterState_GetDict.restype = ctypes.py_object
    api.PyInterpreterState_GetDict.argtypes = [ctypes.c_void_p]
    state = api.PyInterpreterState_GetDict(api.PyInterpreterState_Get())
    # A borrowed reference that ctypes' py_object will release when `state` goes: hold one
    # for it, or the interpreter's dict is freed on return (and its memory reused by the
    # caller's next dict, which then shows the pybind11 keys).
    api.Py_IncRef(ctypes.py_object(state))
    saved = {k: state.pop(k) for k in list(state) if k.startswith("__pybind11")}
    try:
        return importlib.import_module("int8rt_before")
    finally:
        state.update(saved)


if __name__ == "__main__":
    print(make_before(sys.argv[1], sys.argv[2]))
