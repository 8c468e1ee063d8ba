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

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))

CHILD = textwrap.dedent("""
    import ctypes, json, resource, sys
    libc = ctypes.CDLL(None)
    M_MMAP_THRESHOLD = -3
    assert libc.mallopt(M_MMAP_THRESHOLD, 64 * 1024) == 1
    import numpy as np
    import int8rt
    from onnx_models import conv_net
    int8rt.set_num_threads(1)
    engine = int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="fp32"))
    x = {"input": np.random.default_rng(0).standard_normal((256, 3, 8, 8), dtype=np.float32)}
    ctx = engine.create_execution_context()
    calls = {"context": lambda: ctx.run(x), "engine": lambda: engine.run(x)}
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
