"""The order in which pytest-xdist hands test files to its workers (`-n 2
--dist loadfile`, pyproject.toml; wired in by tests/conftest.py).

xdist hands out whole files, those with the most tests first
(--loadscope-reorder). The files that compile before they test hold few
tests, so they came last, and one worker ran them alone while the other
idled: test_cpp_unit.py (the GoogleTest suite's build and run, ~170 s) was
the last file of the run (RESULTS.md 234, 238). Here the files of LONG_FIRST
go out first, in that order; the rest keep xdist's order.

The files that start a local Ray cluster (RAY_FILES) form one unit, so one
worker runs them all on the one cluster of tests/conftest.py's ray_cluster
fixture: one cluster start per run instead of four.
"""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from xdist.scheduler import LoadFileScheduling

RAY_FILES = ("test_amx_hazards.py", "test_calib_distributed.py", "test_calib_input_shapes.py",
             "test_smoothquant_in_pass.py")
RAY_UNIT = "<ray cluster>"
# Longest wall first (RESULTS.md 238): the C++ suite, the Ray unit, nvcc's
# PTX builds, the fuzz targets' clang build.
LONG_FIRST = ("test_cpp_unit.py", RAY_UNIT, "test_cuda_build.py", "test_fuzz.py")


class LongFilesFirst(LoadFileScheduling):
    """xdist's loadfile scheduling with RAY_FILES as one unit and LONG_FIRST handed out first."""

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return RAY_UNIT if PurePosixPath(path).name in RAY_FILES else path

    def _assign_work_unit(self, node: Any) -> None:
        pending = {PurePosixPath(unit).name: unit for unit in self.workqueue}
        first = next((pending[name] for name in LONG_FIRST if name in pending), None)
        if first is not None:
            self.workqueue.move_to_end(first, last=False)
        super()._assign_work_unit(node)
