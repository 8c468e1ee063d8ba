"""Automatic mixed precision keeps its float layers in BF16 where the CPU runs
BF16 natively and the target is still met so, else FP32 (mixed.py, acc39).

The toy is issue 12's collapse model (accuracy_models.py): TensorRT's
entropy calibration clips its first ReLU, so the all-int8 engine scores
below 0.5 centred cosine and ``accuracy_target`` must take layers out of
int8. The score with the chosen layers in BF16 differs from FP32 by BF16's
rounding of weights and activations (8 bits of mantissa, a relative error of
at most 2^-9 per value): far below a 0.9 target, far above a 1 - 1e-9 one.
"""
from __future__ import annotations

import numpy as np
import pytest
from accuracy_models import entropy_collapse_case

import int8rt
from int8rt.accuracy import metrics
from int8rt.accuracy.html import write_html
from int8rt.accuracy.quiet_positions import native_bf16

needs_bf16 = pytest.mark.skipif(not native_bf16(), reason="this CPU runs no BF16 kernel natively (AVX512-BF16)")


@pytest.fixture(scope="module")
def collapse():
    case = entropy_collapse_case()
    fp32 = int8rt.build_engine(case.model, int8rt.BuilderConfig(precision="fp32")).run({"x": case.eval_x})["logits"]
    return case, fp32


def _build(case, target: float, **config) -> int8rt.Engine:
    calibrator = int8rt.make_calibrator({"x": case.calib}, algorithm="entropy")
    return int8rt.build_engine(case.model, int8rt.BuilderConfig(calibrator=calibrator, accuracy_target=target,
                                                                **config))


def _precisions(engine: int8rt.Engine) -> dict[str, str]:
    return {layer["name"]: layer["precision"] for layer in engine.layers()}


@needs_bf16
def test_float_layers_run_bf16_where_the_target_is_met_with_them(collapse, tmp_path) -> None:
    case, fp32 = collapse
    engine = _build(case, 0.9)
    mp = engine.build_report().mixed_precision
    assert mp["met"] and mp["score_all_int8"] < 0.5 and "Conv_0" in mp["float_layers"]
    precisions = _precisions(engine)
    # every chosen Conv / Gemm (constant weights) runs BF16, the rest of the network int8
    assert set(mp["bf16_layers"]) == {n for n in mp["float_layers"] if n.startswith(("Conv", "Gemm"))} != set()
    assert all(precisions[name] == "bf16" for name in mp["bf16_layers"])
    assert any(p == "int8" for p in precisions.values())
    assert mp["bf16_note"] == "" and mp["score"] == mp["bf16_score"] >= 0.9
    out = engine.run({"x": case.eval_x})["logits"]
    assert metrics.centred_cosine(fp32, out) > 0.9  # also on the evaluation images the choice never saw
    # the cost of each BF16 layer, measured in both mixed engines, and the FP32-kept engine's latency
    assert set(mp["bf16_ms"]) == set(mp["fp32_kept_ms"]) == set(mp["bf16_layers"])
    assert mp["ms_fp32_kept"] > 0
    text = engine.build_report().format()
    assert f"layer(s) in float ({len(mp['bf16_layers'])} BF16, " in text
    assert (f"    BF16 for {len(mp['bf16_layers'])} of {len(mp['float_layers'])} float layer(s): score "
            f"{mp['bf16_score']:.5f} (FP32: {mp['fp32_score']:.5f}; target 0.9)") in text
    assert f"    Conv_0: sensitivity {mp['sensitivity']['Conv_0']:.4g}, BF16, float cost +" in text
    page = write_html(engine.build_report(), tmp_path / "page").read_text()
    assert f"layer(s) in float ({len(mp['bf16_layers'])} BF16, " in page and "<p>BF16 for " in page


@needs_bf16
def test_fp32_is_kept_where_bf16_misses_the_target(collapse) -> None:
    case, fp32 = collapse
    target = 1 - 1e-9   # met only by FP32's own arithmetic: every layer goes float, and BF16 rounds more than that
    engine = _build(case, target)
    mp = engine.build_report().mixed_precision
    assert mp["met"] and mp["score"] >= target and mp["bf16_layers"] == []
    assert mp["bf16_score"] is not None and mp["bf16_score"] < target
    assert mp["bf16_note"].startswith("with ") and f"below the target {target:.4g}" in mp["bf16_note"]
    precisions = _precisions(engine)
    assert mp["float_layers"] and all(precisions[name] == "fp32" for name in mp["float_layers"])
    assert "bf16" not in precisions.values()
    assert "    float layers FP32: with " in engine.build_report().format()


@pytest.mark.parametrize("without", ["cpu", "isa cap", "asked"])
def test_fp32_is_kept_without_native_bf16_or_when_asked(collapse, monkeypatch, without) -> None:
    case, fp32 = collapse
    config = {}
    if without == "cpu":   # the facade's capability check (int8rt.cpu_features) says no AVX512-BF16
        from int8rt import kernels

        features = kernels.cpu_features()
        monkeypatch.setattr(kernels, "cpu_features", lambda: {**features, "avx512_bf16": False})
    elif without == "isa cap":
        config = {"max_isa": "avxvnni"}   # BF16 kernels are registered under the AVX-512 tier
    else:
        config = {"accuracy_bf16": False}  # int8rt build --accuracy-fp32
    engine = _build(case, 0.9, **config)
    mp = engine.build_report().mixed_precision
    assert mp["met"] and mp["float_layers"] and mp["bf16_layers"] == [] and mp["bf16_score"] is None
    assert mp["bf16_note"] == ("FP32 forced (BuilderConfig.accuracy_bf16=False, --accuracy-fp32)" if without == "asked"
                               else "no native BF16 here (the CPU lacks AVX512-BF16, or the ISA cap is below avx512bf16)")
    precisions = _precisions(engine)
    assert all(precisions[name] == "fp32" for name in mp["float_layers"]) and "bf16" not in precisions.values()
    assert metrics.centred_cosine(fp32, engine.run({"x": case.eval_x})["logits"]) > 0.9
    assert f"    float layers FP32: {mp['bf16_note']}" in engine.build_report().format()


def test_the_cli_flag_keeps_them_fp32(tmp_path, collapse) -> None:
    from int8rt.cli import main

    case, _ = collapse
    model, calib, out = tmp_path / "collapse.onnx", tmp_path / "calib.npz", tmp_path / "e.i8rt"
    model.write_bytes(case.model)
    np.savez(calib, x=case.calib)
    assert main(["build", str(model), "--calib-data", str(calib), "--calibrator", "entropy", "-o", str(out),
                 "--accuracy-target", "0.9", "--accuracy-fp32", "--quiet"]) == 0
    engine = int8rt.Engine.load(out)
    mp = engine.build_report().mixed_precision
    assert mp["bf16_note"].startswith("FP32 forced") and "bf16" not in _precisions(engine).values()


@needs_bf16
def test_depthwise_and_grouped_convs_stay_fp32_beside_bf16_ones() -> None:
    """PP-OCRv4 rec's depthwise convs took longer in BF16 than in FP32 (acc39): only convs of one group go BF16."""
    from onnx import TensorProto, helper, numpy_helper

    from int8rt.accuracy import mixed_bf16
    from int8rt.builder import _to_network

    rng = np.random.default_rng(0)
    w = {"w_dense": rng.standard_normal((8, 4, 1, 1)), "w_dw": rng.standard_normal((8, 1, 3, 3)),
         "w_grouped": rng.standard_normal((8, 4, 3, 3))}
    nodes = [helper.make_node("Conv", ["x", "w_dense"], ["a"], name="dense"),
             helper.make_node("Conv", ["a", "w_dw"], ["b"], name="dw", group=8, pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["b", "w_grouped"], ["c"], name="grouped", group=2, pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 6, 6])],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in w.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    network = _to_network(model, None, None)
    assert mixed_bf16.bf16_precisions(network, ["dense", "dw", "grouped", "relu"]) == {
        "dense": "bf16", "dw": "fp32", "grouped": "fp32", "relu": "fp32"}


class _StandIn:
    """An engine with the ``_core.Engine`` surface mixed.py uses, whose int8 layers add INT8_ERROR and whose BF16
    layers add BF16_ERROR, each along its own direction, orthogonal to the centred output and to the others
    (test_mixed_cost's construction): the centred cosine is ``1 / sqrt(1 + sum of e^2)`` exactly."""

    INT8_ERROR = {"A": 0.3, "B": 0.2, "C": 0.2}
    BF16_ERROR = {"A": 0.1, "B": 0.01, "C": 0.01}

    def __init__(self, int8=(), bf16=()) -> None:
        self.int8, self.bf16 = set(int8), set(bf16)

    def precision(self, n: str) -> str:
        return "int8" if n in self.int8 else "bf16" if n in self.bf16 else "fp32"

    def layers(self):
        return [{"name": n, "op": "Conv", "precision": self.precision(n)} for n in sorted(self.INT8_ERROR)]

    def create_execution_context(self):
        return self

    def run(self, chunk):
        from test_mixed_cost import _noise

        x = np.asarray(chunk["x"], np.float64)
        names = sorted(self.INT8_ERROR)
        noise = _noise(x, names + [n + "16" for n in names])
        y = x + sum((self.INT8_ERROR[n] * noise[n] for n in self.int8), np.zeros_like(x))
        return {"y": y + sum((self.BF16_ERROR[n] * noise[n + "16"] for n in self.bf16), np.zeros_like(x))}

    def profile(self, chunk, runs, thread_cpu):
        return [{"name": n, "precision": self.precision(n), "ms": {"int8": 1.0, "bf16": 2.0, "fp32": 3.0}[
            self.precision(n)]} for n in sorted(self.INT8_ERROR)]


def test_the_most_sensitive_float_layers_stay_fp32_where_every_one_in_bf16_misses() -> None:
    """Target 1/sqrt(1.005): every layer must leave int8 (each adds at least 0.04); all three in BF16 add 0.0102,
    too much; A, the most sensitive, kept FP32 and B, C in BF16 add 0.0002: found by bisection, shipped."""
    from int8rt.accuracy import mixed

    names = set(_StandIn.INT8_ERROR)
    x = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)
    built = []

    def build(fp32_nodes, bf16_nodes=()):
        built.append((frozenset(fp32_nodes), frozenset(bf16_nodes)))
        return _StandIn(names - set(fp32_nodes), set(bf16_nodes))

    engine, mp = mixed.choose_float_layers(build=build, engine=_StandIn(names), node_names=names,
                                           reference=_StandIn().run({"x": x}), data={"x": x}, batch_size=8,
                                           target=1 / np.sqrt(1.005), bf16_off="")
    assert set(mp.float_layers) == names and mp.fp32_score == pytest.approx(1.0, abs=1e-12)
    assert engine.bf16 == {"B", "C"} and engine.int8 == set() and set(mp.bf16_layers) == {"B", "C"}
    assert mp.score == mp.bf16_score == pytest.approx(1 / np.sqrt(1.0002), abs=1e-12)
    assert mp.bf16_note == ("with 3 of them in BF16 the score is 0.99494, below the target 0.99751: "
                            "the 1 most sensitive stay FP32")
    assert mp.bf16_ms == {"B": 1.0, "C": 1.0} and mp.fp32_kept_ms == {"B": 2.0, "C": 2.0}  # less int8's 1 ms each
    # every BF16 set built once: all three, then the bisection's (1 most sensitive FP32); k = 3 is the FP32 set
    assert [b for _, b in built if b] == [frozenset(names), frozenset({"B", "C"})]
    text = "\n".join(mixed_lines(mp))
    assert "BF16 for 2 of 3 float layer(s) (with 3 of them in BF16 the score is 0.99494" in text
    assert "    A: sensitivity" in text and ", FP32, float cost +" in text


def mixed_lines(mp) -> list[str]:
    from int8rt.accuracy.report import BuildReport

    return BuildReport(measured=True, mixed_precision={**mp.__dict__}).format().splitlines()


def test_why_bf16_is_not_tried() -> None:
    from int8rt.accuracy.mixed_bf16 import bf16_unavailable

    assert bf16_unavailable(False).startswith("FP32 forced")  # before any other reason: the user asked
    assert bf16_unavailable(True, False, "cuda") == "the BF16 kernels are CPU kernels (device cuda)"
    assert bf16_unavailable(True, True).startswith("BuilderConfig.bf16 (--bf16) runs every float layer")
    assert bf16_unavailable() == ("" if native_bf16() else
                                  "no native BF16 here (the CPU lacks AVX512-BF16, or the ISA cap is below avx512bf16)")


def test_int8rt_max_isa_below_avx512bf16_keeps_fp32_and_avx512bf16_does_not() -> None:
    """The environment's ISA cap, in a fresh process (read at start): BF16 kernels are the avx512bf16 tier, so
    INT8RT_MAX_ISA=avxvnni and avx512vnni keep the float layers FP32 and avx512bf16 does not."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import int8rt; from accuracy_models import entropy_collapse_case as c; case = c(); "
            "cal = int8rt.make_calibrator({'x': case.calib}, algorithm='entropy'); "
            "e = int8rt.build_engine(case.model, int8rt.BuilderConfig(calibrator=cal, accuracy_target=0.9)); "
            "print(sorted(e.build_report().mixed_precision['bf16_layers']))")
    here = Path(__file__).resolve().parent
    # the int8rt this process imported (the installed wheel in CI, python/ in a dev tree), then the tests' helpers
    package_dir = Path(int8rt.__file__).resolve().parent.parent
    path = os.pathsep.join([str(package_dir), str(here), os.environ.get("PYTHONPATH", "")])
    cpu_bf16 = int8rt.kernels.isa_info()["avx512bf16"]["cpu"]  # the child's own cap, not this process's, applies
    for isa, bf16 in (("avxvnni", False), ("avx512vnni", False), ("avx512bf16", cpu_bf16)):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "INT8RT_MAX_ISA": isa, "PYTHONPATH": path}).stdout
        layers = out.strip().splitlines()[-1]
        assert (layers != "[]" and "'Conv_0'" in layers) if bf16 else layers == "[]", (isa, out)
