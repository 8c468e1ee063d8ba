"""Automatic mixed precision weighs each layer's float cost (mixed.py, acc37).

PP-OCRv4 rec at --accuracy-target 0.99 kept its 24 first, largest convs in
float32 by sensitivity alone and ran slower than float32 (RESULTS_accuracy.md
acc35). Here a toy whose layers' errors and times are set exactly: A, the
most sensitive layer, is also the most expensive to keep in float32; B and C
together cost an eighth of it and, kept in float32 instead, meet the same
target. Engines are stand-ins with the ``_core.Engine`` surface mixed.py uses
(layers, run, profile), so every score and cost is exact arithmetic: each
int8 layer adds noise orthogonal to the centred output and to the other
layers' noise, so the centred cosine is ``1 / sqrt(1 + sum of e^2)``."""
from __future__ import annotations

import math

import numpy as np
import pytest

from int8rt.accuracy import mixed
from int8rt.accuracy.html import write_html
from int8rt.accuracy.report import BuildReport

ERROR = {"A": 0.3, "B": 0.2, "C": 0.2}          # each int8 layer's relative error
FP32_MS = {"A": 10.0, "B": 1.0, "C": 1.0}       # profiled times, float32 (A with its activation after it)
INT8_MS = {"A": 2.0, "B": 0.5, "C": 0.5}        # and int8
TARGET = 1 / math.sqrt(1.1)                     # errors whose squares sum to at most 0.1 meet it


def _noise(x: np.ndarray, layers: list[str]) -> dict[str, np.ndarray]:
    """Per layer a direction of x's shape, centred over the samples,
    orthogonal to x's centred values and to the other layers', of the norm
    of x's centred values."""
    xc = (x - x.mean(axis=0)).ravel()
    basis, out = [xc / np.linalg.norm(xc)], {}
    rng = np.random.default_rng(7)
    for name in layers:
        r = rng.standard_normal(x.shape)
        v = (r - r.mean(axis=0)).ravel()
        for b in basis:
            v = v - (v @ b) * b
        v /= np.linalg.norm(v)
        basis.append(v)
        out[name] = (v * np.linalg.norm(xc)).reshape(x.shape)
    return out


class _Context:
    def __init__(self, int8: set[str]) -> None:
        self.int8 = int8

    def run(self, chunk):
        x = np.asarray(chunk["x"], np.float64)
        noise = _noise(x, sorted(ERROR))
        return {"y": x + sum((ERROR[n] * noise[n] for n in self.int8), np.zeros_like(x))}

    def profile(self, chunk, runs, thread_cpu):
        assert thread_cpu  # CPU time: the machine is shared
        rows = []
        for n in sorted(ERROR):
            if n in self.int8:
                rows.append({"name": n, "precision": "int8", "ms": INT8_MS[n]})
            elif n == "A":  # A's activation, fused into its int8 kernel, runs as its own float layer after it
                rows += [{"name": "A", "precision": "fp32", "ms": FP32_MS["A"] - 4.0},
                         {"name": "A_act", "precision": "fp32", "ms": 4.0}]
            else:
                rows.append({"name": n, "precision": "fp32", "ms": FP32_MS[n]})
        return rows


class _Engine:
    def __init__(self, int8: set[str]) -> None:
        self.int8 = set(int8)

    def layers(self):
        return [{"name": n, "op": "int8rt.QConv" if n in self.int8 else "Conv",
                 "precision": "int8" if n in self.int8 else "fp32"} for n in sorted(ERROR)]

    def create_execution_context(self):
        return _Context(self.int8)


def _score(engine: _Engine, x: np.ndarray) -> float:
    ref = _Context(set()).run({"x": x})
    return mixed.default_metric(ref, engine.create_execution_context().run({"x": x}))


def _choose(x: np.ndarray, fp32: bool = True):
    built = []

    def build(fp32_nodes: set[str]) -> _Engine:
        built.append(frozenset(fp32_nodes))
        return _Engine(set(ERROR) - fp32_nodes)

    engine, mp = mixed.choose_float_layers(
        build=build, engine=_Engine(set(ERROR)), node_names=set(ERROR), reference=_Context(set()).run({"x": x}),
        data={"x": x}, batch_size=len(x), target=TARGET, fp32_engine=_Engine(set()) if fp32 else None)
    return engine, mp, built


def test_the_cheaper_set_meeting_the_target_is_chosen_and_met_on_held_out_data(tmp_path) -> None:
    x = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)  # as taps.batches gives it
    engine, mp, built = _choose(x)
    assert mp.float_ms == {"A": 8.0, "B": 0.5, "C": 0.5}          # float32 ms less int8 ms, each
    assert mp.sensitivity["A"] == pytest.approx(1 - 1 / math.sqrt(1.09), abs=1e-12)
    assert mp.by_sensitivity == ("A",)                               # the old ranking: the expensive layer
    assert set(mp.float_layers) == {"B", "C"} and mp.ranking == "sensitivity per float ms"
    assert mp.met and mp.score == pytest.approx(1 / math.sqrt(1.09), abs=1e-12)
    assert engine.int8 == {"A"}
    # scores are reused across the sensitivity phase and both bisections: a set is built once, except the
    # shipped one, scored as a sensitivity engine (only scores are kept) and built again to ship
    assert {s: built.count(s) for s in built if built.count(s) > 1} == {frozenset({"B", "C"}): 2}
    # held-out samples the choice never saw: the target is met there too, and A alone in int8 scores as stated
    held_out = np.random.default_rng(2).standard_normal((6, 64)).astype(np.float32) * 3 + 1
    assert _score(engine, held_out) >= TARGET
    assert _score(engine, held_out) == pytest.approx(1 / math.sqrt(1.09), abs=1e-12)
    # what the report prints: each kept layer's cost, and what the other ranking would have cost
    text = BuildReport(measured=True, mixed_precision={**mp.__dict__}).format()
    assert "    B: sensitivity 0.01942, float cost +0.500 ms" in text.splitlines()
    assert ("    chosen by sensitivity per float ms: float cost +1.000 ms (CPU ms added over int8, the layers' own "
            "time; most sensitive first would keep 1 layer(s), +8.000 ms)") in text.splitlines()
    same = {**mp.__dict__, "ranking": "sensitivity", "float_layers": ("A",), "by_cost": ("A",)}
    assert ("    chosen by sensitivity: float cost +8.000 ms (CPU ms added over int8, the layers' own time; sensitivity "
            "per float ms keeps the same set)") in BuildReport(measured=True, mixed_precision=same).format().splitlines()
    page = write_html(BuildReport(measured=True, mixed_precision={**mp.__dict__}), tmp_path / "p").read_text()
    assert "<p>B: sensitivity 0.01942, float cost +0.500 ms</p>" in page


def test_costs_come_from_the_engine_with_every_candidate_float_not_the_float32_engine() -> None:
    """The float layers are profiled as a mixed engine runs them (the engine
    built with every candidate in float32), so no float32 engine is needed."""
    x = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)  # as taps.batches gives it
    engine, mp, _ = _choose(x, fp32=False)
    assert mp.float_ms == {"A": 8.0, "B": 0.5, "C": 0.5} and mp.ms_fp32 is None
    assert set(mp.float_layers) == {"B", "C"} and engine.int8 == {"A"} and mp.met


def test_rankings_order_by_sensitivity_per_float_ms() -> None:
    orders = mixed.rankings({"A": 0.09, "B": 0.04, "C": 0.03, "D": 0.0}, {"A": 8.0, "B": 0.5, "C": 0.0, "D": 0.0})
    assert orders["sensitivity"] == ["A", "B", "C", "D"]
    # C's zero cost counts as 1% of the largest (0.08 ms): 0.03 / 0.08 > 0.04 / 0.5 > 0.09 / 8; D gains nothing
    assert orders["sensitivity per float ms"] == ["C", "B", "A", "D"]


class _Profiled:
    """An engine that only lists its layers and profiles as given."""

    def __init__(self, layers, rows) -> None:
        self._layers, self._rows = layers, rows

    def layers(self):
        return self._layers

    def create_execution_context(self):
        return self

    def profile(self, chunk, runs, thread_cpu):
        return self._rows


def test_a_pointwise_region_after_a_float_layer_is_booked_to_it() -> None:
    """PP-OCRv4 rec: a float conv's hardswish (an int8 table region of its own, QLut) ran as five float ops;
    its float time counts for the conv run before it as well as for the region."""
    groups = {"X": ["X"], "l1+l2": ["l1", "l2"], "Y": ["Y"]}
    engine = _Profiled([{"name": "X", "op": "int8rt.QConv"}, {"name": "l1+l2", "op": "int8rt.QLut"},
                        {"name": "Y", "op": "int8rt.QGemm"}],
                       [{"name": "X", "precision": "int8", "ms": 1.0}, {"name": "l1+l2", "precision": "int8", "ms": 0.5},
                        {"name": "Y", "precision": "int8", "ms": 1.0}])
    all_float = _Profiled([], [{"name": "X", "precision": "fp32", "ms": 3.0}, {"name": "l1", "precision": "fp32", "ms": 1.0},
                               {"name": "l2", "precision": "fp32", "ms": 1.0},
                               {"name": "Y::quantize", "precision": "convert", "ms": 0.25},
                               {"name": "Y", "precision": "fp32", "ms": 2.0}])
    data = {"x": np.zeros((2, 3), np.float32)}
    # X: 3 + the region's 2 - 1; the region: 2 + the conversion after it (no candidate's nodes) - 0.5; Y: 2 - 1
    assert mixed.float_costs(engine, all_float, groups, data, 2) == {"X": 4.0, "l1+l2": 1.75, "Y": 1.0}
