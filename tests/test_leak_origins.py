"""tools/leak_origins.py (a LeakSanitizer report's allocations counted by the
extension module that made them) over a report in the form LeakSanitizer
prints under a full unwind: an ONNX Runtime import's 24-byte objects (the
RESULTS.md 240 / 260 case), a numpy block, a CPython-only block and one
allocation made in int8rt's bindings."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import leak_origins  # noqa: E402

ORT = "/site-packages/onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so"
NUMPY = "/site-packages/numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"
REPORT = f"""
=================================================================
==1==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 72 byte(s) in 3 object(s) allocated from:
    #0 0x7f00 in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x7f01 in _PyObject_New Objects/object.c:176
    #2 0x7f02  ({ORT}+0x46f82f)
    #3 0x7f03  ({NUMPY}+0x2ec283)
    #4 0x7f04 in PyModule_ExecDef Objects/moduleobject.c:419

Direct leak of 56 byte(s) in 1 object(s) allocated from:
    #0 0x7f00 in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x7f05 in PyTuple_Pack Objects/tupleobject.c:166
    #2 0x7f06 in init_promoter(_object*, char const*) ({NUMPY}+0x2ec283)

Indirect leak of 48 byte(s) in 2 object(s) allocated from:
    #0 0x7f00 in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x7f07 in PyFloat_FromDouble Objects/floatobject.c:149

Direct leak of 40 byte(s) in 1 object(s) allocated from:
    #0 0x7f00 in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x7f08 in _PyObject_New Objects/object.c:176
    #2 0x7f09 in pybind11::cpp_function::initialize_generic ../../csrc/python/bind_engine.cc:88

SUMMARY: AddressSanitizer: 216 byte(s) leaked in 7 allocation(s).
"""


def test_allocations_counted_by_the_first_module_outside_cpython() -> None:
    counts, ours = leak_origins.origins(REPORT)
    assert counts == {
        ("Direct", "onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so"): 3,  # not numpy's, below it
        ("Direct", "_multiarray_umath.cpython-311-x86_64-linux-gnu.so"): 1,
        ("Indirect", "CPython only"): 2,
        ("Direct", "int8rt"): 1,  # symbolized: known by its source path
    }
    assert ours == 1


def test_no_int8rt_frame_is_zero_and_the_command_prints_the_counts(tmp_path: Path) -> None:
    log = tmp_path / "lsan.log"
    log.write_text(REPORT.split("Direct leak of 40")[0])
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "leak_origins.py"), str(log)],
                       capture_output=True, text=True, check=True)
    assert "     3 Direct   onnxruntime_pybind11_state" in r.stdout
    assert r.stdout.rstrip().endswith("allocations with an int8rt frame: 0")
