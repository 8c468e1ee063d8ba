"""Shared pytest fixtures and the test files' order on pytest-xdist's workers.

auto's choice of unsigned activations is skipped on CPUs where that form
costs speed (int8rt.accuracy.unsigned_form.speed_cost: x86 without VNNI).
The tests of auto's decisions are about accuracy and must decide alike on
every CPU, so every test sees a CPU where the form costs nothing;
tests/test_auto_unsigned_speed.py checks the rule itself with the CPU's
features given.

threads: a test that takes it runs at 1 and at 2 int8rt threads.

ray_cluster: the local 2-CPU Ray cluster of the tests that shard calibration
(tests/file_schedule.py's RAY_FILES), started by the first test that needs it
and stopped when the run leaves those files (an idle cluster costs ~5 % of a
core; a start 27-43 s of wall at load 15-17, RESULTS.md 238). Under xdist
tests/file_schedule.py runs the files as one unit on one worker: one start
per run; in one process (`-n 0`, files in name order) one per run of
adjacent Ray files.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from int8rt.accuracy import unsigned_form

from file_schedule import RAY_FILES  # tests/, on the path as this file's folder


@pytest.fixture(autouse=True, scope="session")
def _unsigned_form_costs_nothing() -> Iterator[None]:
    # session scope: set up before any module- or session-scoped fixture that
    # builds an engine (tests/test_qdq_export_engine.py's digits_auto)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(unsigned_form, "speed_cost", lambda device: "")
        yield


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request: pytest.FixtureRequest) -> Iterator[int]:
    """The test at 1 and at 2 int8rt threads (the count restored after)."""
    import int8rt

    before = int8rt.get_num_threads()
    int8rt.set_num_threads(request.param)
    yield request.param
    int8rt.set_num_threads(before)


@pytest.fixture
def ray_cluster() -> Any:
    """A local Ray instance (2 CPUs, no dashboard, int8rt on the workers' path), started if none runs;
    returns the ray module. Only tests in RAY_FILES may take it (tests/test_file_schedule.py)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        from int8rt.calib.distributed import init_ray

        init_ray(num_cpus=2, include_dashboard=False, log_to_driver=False)
    return ray


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: Optional[pytest.Item]) -> None:
    """Stops the Ray cluster when the next test is not in RAY_FILES (after the fixtures' teardown)."""
    ray = sys.modules.get("ray")
    if ray is None or not getattr(ray, "is_initialized", lambda: False)():
        return
    if nextitem is None or Path(str(nextitem.fspath)).name not in RAY_FILES:
        ray.shutdown()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Optional[Any]:
    """`--dist loadfile` (pyproject.toml's addopts): tests/file_schedule.py's order."""
    if config.getvalue("dist") != "loadfile":
        return None
    from file_schedule import LongFilesFirst

    return LongFilesFirst(config, log)
