"""The timing and summary helpers of benchmarks/e2e_bench.py's thread sweep
and accuracy columns (benchmarks/e2e_threads.py, e2e_summary.py), on fake
clocks and synthetic records: what each call is charged, the order of the
untimed calls, and the ratios and spans the summary prints. No timing here:
the clocks are counters the fake implementations advance."""
from __future__ import annotations

import math
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))

import e2e_summary as S  # noqa: E402
import e2e_threads as T  # noqa: E402


class FakeMachine:
    """Clocks that only the fake implementations advance: impl `name` costs
    walls[name] wall seconds and cpus[name] CPU seconds per call."""

    def __init__(self, walls: dict, cpus: dict) -> None:
        self.walls, self.cpus = walls, cpus
        self.wall_now = self.cpu_now = 0.0
        self.log: list = []

    def impl(self, name: str):
        def f() -> None:
            self.log.append(name)
            self.wall_now += self.walls[name]
            self.cpu_now += self.cpus[name]
        return f


def test_two_clocks_charge_each_call_its_own_wall_and_cpu_time() -> None:
    m = FakeMachine({"a": 0.004, "b": 0.010}, {"a": 0.004, "b": 0.018})
    med = T.time_two_clocks({"a": m.impl("a"), "b": m.impl("b")}, rounds=3, settle=1,
                            wall=lambda: m.wall_now, cpu=lambda: m.cpu_now)
    assert med["a"] == pytest.approx((0.004, 0.004))
    assert med["b"] == pytest.approx((0.010, 0.018))


def test_two_clocks_order_before_settle_timed() -> None:
    m = FakeMachine({"a": 1.0, "b": 1.0}, {"a": 1.0, "b": 1.0})
    before = {"b": lambda: m.log.append("set b")}
    T.time_two_clocks({"a": m.impl("a"), "b": m.impl("b")}, rounds=2, before=before, settle=2,
                      wall=lambda: m.wall_now, cpu=lambda: m.cpu_now)
    one_round = ["a", "a", "a", "set b", "b", "b", "b"]
    assert m.log == one_round * 2


def test_two_clocks_run_until_min_time() -> None:
    m = FakeMachine({"fast": 0.001, "slow": 0.1}, {"fast": 0.001, "slow": 0.1})
    T.time_two_clocks({"fast": m.impl("fast"), "slow": m.impl("slow")}, rounds=1, min_time=0.0105, settle=0,
                      wall=lambda: m.wall_now, cpu=lambda: m.cpu_now)
    # 'fast' needs 11 timed calls of 1 ms to pass 10.5 ms; both run every round
    assert m.log.count("fast") == 11 and m.log.count("slow") == 11


def test_sweep_table_ratios() -> None:
    med = {("x", 1): (0.100, 0.100), ("x", 2): (0.060, 0.120), ("y", 1): (0.050, 0.050)}
    lines = T.sweep_table(med, [1, 2])
    x2 = next(line for line in lines if line.split()[:2] == ["x", "2"])
    assert x2.split()[-2:] == ["1.67", "1.20"]  # 0.100 / 0.060 wall speed-up, 0.120 / 0.100 CPU cost
    assert len(lines) == 4  # header, x @1, x @2, y @1 (y has no 2-thread entry)


def sweep_record(wall1: float, wall2: float, cpu1: float, cpu2: float, load: str) -> dict:
    return {"network": "net", "batch": 8, "load_before": f"load average {load}, 1.00, 1.00",
            "load_after": "load average 9.50, 1.00, 1.00",
            "medians": {"int8rt int8": {"1": {"wall_s": wall1, "cpu_s": cpu1}, "2": {"wall_s": wall2, "cpu_s": cpu2}}}}


def test_sweep_summary_spans_over_passes() -> None:
    lines = S.sweep_summary([sweep_record(0.010, 0.006, 0.010, 0.011, "3.00"),
                             sweep_record(0.012, 0.010, 0.011, 0.0121, "8.00")])
    assert len(lines) == 3
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    # network, batch, impl, wall 1, wall 2, wall 1/2, CPU 1, CPU 2, CPU 2/1, loads
    assert cells[:3] == ["net", "8", "int8rt int8"]
    assert cells[3] == "10-12" and cells[4] == "6-10"
    assert cells[5] == "1.20-1.67"  # pass 2: 12 / 10; pass 1: 10 / 6
    assert cells[6] == "10-11" and cells[8] == "1.10"
    assert cells[9] == "3.00 -> 9.50; 8.00 -> 9.50"


def test_accuracy_cell() -> None:
    runs = [{"accuracy": {"net": {"int8rt int8": {"rel_l2": 0.1714, "centred_cos": 0.98512},
                                  "ORT int8": {"rel_l2": 0.2, "centred_cos": 0.97}}}},
            {"accuracy": {"net": {"int8rt int8": {"rel_l2": 0.1714, "centred_cos": 0.98512}}}}]
    cells = S.accuracy_cell(runs, "net").split(" ; ")
    assert cells == ["0.171 / 0.9851", "-", "0.200 / 0.9700"]  # ACCURACY order: int8rt, OV, ORT


def test_accuracy_cell_keeps_nan() -> None:
    runs = [{"accuracy": {"net": {"int8rt int8": {"rel_l2": 0.5, "centred_cos": math.nan}}}}]
    assert S.accuracy_cell(runs, "net").split(" ; ")[0] == "0.500 / nan"
