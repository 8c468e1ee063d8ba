"""tests/file_schedule.py: the Ray files are one work unit, the long files go
out first (in LONG_FIRST's order), the rest in xdist's order; every test file
that uses the shared Ray cluster is in the unit; conftest stops the cluster
when the run leaves the unit."""
from __future__ import annotations

import re
import sys
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace
from typing import List

import pytest

from file_schedule import LONG_FIRST, RAY_FILES, RAY_UNIT, LongFilesFirst

HERE = Path(__file__).resolve().parent


class _Node:
    """A worker as the scheduler sees it: it records the tests sent to it."""

    shutting_down = False

    def __init__(self) -> None:
        self.sent: List[int] = []

    def send_runtest_some(self, indexes: List[int]) -> None:
        self.sent.extend(indexes)


def _scheduler(collection: List[str], node: _Node) -> LongFilesFirst:
    """A LongFilesFirst holding `collection` as xdist's schedule() leaves it (units with the most tests first)."""
    sched = LongFilesFirst.__new__(LongFilesFirst)  # no pytest config: only the queue is exercised
    units: "OrderedDict[str, dict]" = OrderedDict()
    for nodeid in collection:
        units.setdefault(sched._split_scope(nodeid), {})[nodeid] = False
    sched.workqueue = OrderedDict(sorted(units.items(), key=lambda item: -len(item[1])))
    sched.assigned_work = {}
    sched.registered_collections = {node: collection}
    return sched


def test_the_ray_files_are_one_unit() -> None:
    sched = LongFilesFirst.__new__(LongFilesFirst)
    for name in RAY_FILES:
        assert sched._split_scope(f"tests/{name}::test_x[a]") == RAY_UNIT
    assert sched._split_scope("tests/test_cli.py::test_x") == "tests/test_cli.py"
    assert sched._split_scope("tests/test_cli.py::Test::test_x") == "tests/test_cli.py"


def test_long_files_first_then_xdist_order() -> None:
    collection = [f"tests/test_many.py::t{i}" for i in range(9)] + [
        "tests/test_fuzz.py::a", "tests/test_fuzz.py::b",
        "tests/test_calib_distributed.py::a", "tests/test_smoothquant_in_pass.py::b",
        "tests/test_some.py::a", "tests/test_some.py::b", "tests/test_some.py::c",
        "tests/test_cpp_unit.py::a", "tests/test_cpp_unit.py::b"]
    node = _Node()
    sched = _scheduler(collection, node)
    order = []
    while sched.workqueue:
        sched._assign_work_unit(node)
        order.append(list(sched.assigned_work[node])[-1])
    assert order == ["tests/test_cpp_unit.py", RAY_UNIT, "tests/test_fuzz.py", "tests/test_many.py",
                     "tests/test_some.py"]
    assert sorted(node.sent) == list(range(len(collection)))  # every test sent once


def test_files_using_ray_are_the_ray_unit() -> None:
    """Every test file that needs Ray takes conftest's ray_cluster and none starts a cluster of its own
    (init_ray): one start per run. A file taking ray_cluster outside RAY_FILES would start a second
    cluster on the other worker; a name in RAY_FILES or LONG_FIRST that matches no file orders nothing."""
    sources = {p.name: p.read_text() for p in HERE.glob("test_*.py") if p.name != Path(__file__).name}
    assert {name for name, text in sources.items() if re.search(r"\binit_ray\(", text)} == set()
    assert {name for name, text in sources.items() if re.search(r"\bray_cluster\b", text)} == set(RAY_FILES)
    for name in LONG_FIRST:
        assert name == RAY_UNIT or (HERE / name).is_file(), name


class _FakeRay:
    """What conftest's teardown hook reads of the ray module."""

    def __init__(self) -> None:
        self.running = True

    def is_initialized(self) -> bool:
        return self.running

    def shutdown(self) -> None:
        self.running = False


def test_the_cluster_stops_when_the_run_leaves_the_ray_files(monkeypatch: pytest.MonkeyPatch) -> None:
    import conftest

    ray = _FakeRay()
    monkeypatch.setitem(sys.modules, "ray", ray)
    item = lambda name: SimpleNamespace(fspath=HERE / name)  # noqa: E731
    conftest.pytest_runtest_teardown(item(RAY_FILES[0]), item(RAY_FILES[1]))
    assert ray.running  # within the unit: kept for the next file's tests
    conftest.pytest_runtest_teardown(item(RAY_FILES[1]), item("test_cli.py"))
    assert not ray.running
    ray.running = True
    conftest.pytest_runtest_teardown(item(RAY_FILES[-1]), None)  # the worker's last test
    assert not ray.running
