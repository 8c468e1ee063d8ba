"""Repeated runs of one shape allocate no fresh memory (issue 14 §4: no
per-run allocation on the hot path).

Counted as the minor page faults (``getrusage``) of a child process whose
glibc serves every allocation of 64 KiB or more with a fresh ``mmap``
(``mallopt(M_MMAP_THRESHOLD)``, which also stops glibc from keeping freed
blocks for reuse): there, a buffer allocated per run faults in all its pages
on every run, which is what the kernel's page clearing costs a batch-8 run.
The network's activations are 0.3-1 MiB each, so one such buffer per run
would add hundreds of faults per run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import int8rt
from onnx_models import fvi, model

TESTS = os.path.dirname(os.path.abspath(__file__))

def wide_conv() -> onnx.ModelProto:
    """Conv 1 -> 4 channels, 3x3, input [N, 1, 64, 64]: an output of 61 KiB a sample."""
    w = np.random.default_rng(1).standard_normal((4, 1, 3, 3)).astype(np.float32)
    return model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3])], [fvi("x", ["N", 1, 64, 64])],
                 [fvi("y", ["N", 4, 62, 62])], [numpy_helper.from_array(w, "w")])


CHILD = textwrap.dedent("""
    import ctypes, json, resource, sys
    libc = ctypes.CDLL(None)
    M_MMAP_THRESHOLD = -3
    assert libc.mallopt(M_MMAP_THRESHOLD, 64 * 1024) == 1
    import numpy as np
    import int8rt
    from onnx_models import conv_net
    from test_run_allocations import wide_conv
    int8rt.set_num_threads(1)
    engine = int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="fp32"))
    x = {"input": np.random.default_rng(0).standard_normal((256, 3, 8, 8), dtype=np.float32)}
    ctx = engine.create_execution_context()
    wide = int8rt.build_engine(wide_conv(), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    wx = {"x": np.ones((8, 1, 64, 64), np.float32)}
    wy = {"y": np.empty((8, 4, 62, 62), np.float32)}  # 0.5 MiB: a new array per run would fault 120 pages
    calls = {"context": lambda: ctx.run(x), "engine": lambda: engine.run(x),
             "context into outputs": lambda: wide.run(wx, wy)}
    out = {}
    for name, call in calls.items():
        for _ in range(3):
            call()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(10):
            call()
        out[name] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(json.dumps(out))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt and minor-fault counts are glibc / Linux")
def test_repeated_runs_fault_in_no_fresh_pages() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    faults = json.loads(done.stdout.strip().splitlines()[-1])
    # One fresh 1 MiB activation per run would be 256 faults a run, 2560 in
    # all; what is left (Python's own objects) is a few pages.
    for call, n in faults.items():
        assert n < 64, f"{call} runs: {n} minor page faults in 10 runs of one shape (fresh memory per run)"


@pytest.mark.parametrize("threads", [1, 2])
def test_run_into_outputs_writes_what_run_returns(threads: int) -> None:
    engine = int8rt.build_engine(wide_conv(), int8rt.BuilderConfig(precision="fp32"))
    ctx = engine.create_execution_context()
    x = {"x": np.random.default_rng(2).standard_normal((8, 1, 64, 64), dtype=np.float32)}
    old = int8rt.get_num_threads()
    int8rt.set_num_threads(threads)  # 2: a batch split in parts, joined into the caller's array
    try:
        want = ctx.run(x)["y"]
        y = np.full((8, 4, 62, 62), np.nan, np.float32)
        got = ctx.run(x, {"y": y})
    finally:
        int8rt.set_num_threads(old)
    assert got["y"] is y
    np.testing.assert_array_equal(y, want)


def test_run_into_refuses_outputs_it_cannot_write_in_place() -> None:
    ctx = int8rt.build_engine(wide_conv(), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    x = {"x": np.ones((2, 1, 64, 64), np.float32)}
    with pytest.raises(int8rt.InvalidArgumentError, match="'y' is float32 \\[2, 4, 62, 62\\], given float32 \\[3"):
        ctx.run(x, {"y": np.empty((3, 4, 62, 62), np.float32)})
    with pytest.raises(int8rt.InvalidArgumentError, match="C-contiguous and writeable"):
        ctx.run(x, {"y": np.empty((2, 4, 62, 124), np.float32)[..., ::2]})
    with pytest.raises(int8rt.InvalidArgumentError, match="'y' not given"):
        ctx.run(x, {})
    with pytest.raises(int8rt.InvalidArgumentError, match="'z' is not an output"):
        ctx.run(x, {"y": np.empty((2, 4, 62, 62), np.float32), "z": np.empty(1, np.float32)})
