"""pytest plugin: each test's wall seconds, its own CPU seconds (all threads) and its waited-for
children's CPU seconds, one tab-separated line per test as it ends, to $DURLOG (default
pytest_cpu_log.tsv). CPU seconds, unlike pytest's --durations, hold up on a loaded machine
(RESULTS.md 231). Use: PYTHONPATH=python:tools python -m pytest -p pytest_cpu_log ..."""
from __future__ import annotations

import os
import resource
import time
from typing import Dict, Tuple

_log = open(os.environ.get("DURLOG", "pytest_cpu_log.tsv"), "a", buffering=1)
_start: Dict[str, Tuple[float, float, float]] = {}


def _cpu() -> Tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    _start[nodeid] = (time.perf_counter(), *_cpu())


def pytest_runtest_logfinish(nodeid: str, location: object) -> None:
    wall0, own0, children0 = _start.pop(nodeid)
    own1, children1 = _cpu()
    _log.write(f"{nodeid}\t{time.perf_counter() - wall0:.3f}\t{own1 - own0:.3f}\t{children1 - children0:.3f}\n")
