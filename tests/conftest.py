"""Shared pytest fixtures and the test files' order on pytest-xdist's workers.

auto's choice of unsigned activations is skipped on CPUs where that form
costs speed (int8rt.accuracy.unsigned_form.speed_cost: x86 without VNNI).
The tests of auto's decisions are about accuracy and must decide alike on
every CPU, so every test sees a CPU where the form costs nothing;
tests/test_auto_unsigned_speed.py checks the rule itself with the CPU's
features given.

ray_cluster: the local 2-CPU Ray cluster of the tests that shard calibration,
started once per pytest process (a start took 15-40 s of wall, RESULTS.md
238), stopped when the session ends. tests/file_schedule.py keeps those files
on one worker and hands the longest files out first.
"""
from __future__ import annotations

from typing import Any, Iterator, Optional

import pytest

from int8rt.accuracy import unsigned_form


@pytest.fixture(autouse=True, scope="session")
def _unsigned_form_costs_nothing() -> Iterator[None]:
    # session scope: set up before any module- or session-scoped fixture that
    # builds an engine (tests/test_qdq_export_engine.py's digits_auto)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(unsigned_form, "speed_cost", lambda device: "")
        yield


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A local Ray instance (2 CPUs, no dashboard, int8rt on the workers' path); yields the ray module."""
    ray = pytest.importorskip("ray")
    from int8rt.calib.distributed import init_ray

    init_ray(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Optional[Any]:
    """`--dist loadfile` (pyproject.toml's addopts): tests/file_schedule.py's order."""
    if config.getvalue("dist") != "loadfile":
        return None
    from file_schedule import LongFilesFirst

    return LongFilesFirst(config, log)
