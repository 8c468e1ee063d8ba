"""Views into If branches: ``int8rt compare`` (accuracy/compare.py) and the
build's accuracy check (accuracy/check.py) show the tensors of the branch a
run takes under their scoped names (``pick/then_branch/t_r1``), read from
tapped runs (``ExecutionContext.run_tapped``), where they saw the If's
output alone; ``Engine.layers(branches=True)`` and ``int8rt inspect`` list
the branch layers, scoped, with their precision.

The oracle: a branch is an ordinary network. Its conv chain taken out of the
If (the same nodes and weights, at the top level) and calibrated on the same
batches gets the same scales and the same int8 layers, so its per-tensor rows
(cosine, SQNR, max error; clipped share, SQNR, observed max) are the branch
rows' numbers exactly, under the unscoped names. On the models of
tests/test_if_branch_int8.py: an If on a 0-d int64 sample rate, and one with
an If nested in its then-branch."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from int8rt.accuracy.check import measure  # noqa: E402
from int8rt.accuracy.compare import compare, format_comparison  # noqa: E402
from onnx_models import fvi, model  # noqa: E402
from test_if_branch_int8 import ELSE, THEN, _batches, nested_model, rate_branches_model  # noqa: E402

RNG = np.random.default_rng(59)


def _branch_alone(m: onnx.ModelProto, path: tuple[str, ...]) -> onnx.ModelProto:
    """The branch at ``path`` (branch attribute names, outer first, each of
    the only If of its graph) as a model of its own: its nodes over input x,
    with m's initializers."""
    graph = m.graph
    for branch in path:
        node = next(n for n in graph.node if n.op_type == "If")
        graph = next(a.g for a in node.attribute if a.name == branch)
    inits = [i for i in m.graph.initializer if i.name != "rate"]
    return model(list(graph.node), [fvi("x", ["N", 4, "T"])], [fvi(graph.output[0].name, ["N", 6, "T"])], inits)


def _int8(m: onnx.ModelProto, batches: list[dict[str, np.ndarray]]) -> int8rt.Engine:
    return int8rt.build_engine(m, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(batches, algorithm="minmax"), accuracy_check=False))


def _x(n: int = 12, t: int = 32, gain: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal((n, 4, t)) * gain).astype(np.float32)


def _rows(rows: list, scope: str) -> dict[str, tuple]:
    """name (scope taken off) -> (precision, cosine, SQNR, max error) of the rows under ``scope``."""
    return {r.name[len(scope):]: (r.precision, r.cosine, r.sqnr_db, r.max_abs_error)
            for r in rows if r.name.startswith(scope)}


@pytest.fixture(scope="module")
def net() -> onnx.ModelProto:
    return rate_branches_model()


@pytest.fixture(scope="module")
def both(net: onnx.ModelProto) -> tuple[int8rt.Engine, dict[str, int8rt.Engine], dict[str, list]]:
    """The If model calibrated on batches of both rates, and each branch
    alone calibrated on the x of the batches that took it."""
    batches = _batches((16000, 8000), count=8)
    alone = {branch: [{"x": b["x"]} for b in batches if (int(b["sr"]) == 16000) == (branch == "then_branch")]
             for branch in ("then_branch", "else_branch")}
    return (_int8(net, batches), {b: _int8(_branch_alone(net, (b,)), alone[b]) for b in alone}, alone)


def test_compare_shows_the_taken_branch_tensors_as_the_branch_alone_does(net, both) -> None:
    engine, alone, _ = both
    x = _x()
    rows = compare(net, engine, {"x": x, "sr": np.array(16000, np.int64)}, batch_size=4)
    names = [r.name for r in rows]
    assert names[-1] == "y" and not any(n.startswith(ELSE) for n in names), names  # else: never taken here
    branch = _rows(rows, THEN)
    want = _rows(compare(_branch_alone(net, ("then_branch",)), alone["then_branch"], {"x": x}, batch_size=4), "")
    assert branch == want  # the same tensors, precisions and numbers, in the same run order
    assert list(branch) == list(want)
    assert {"t_c1", "t_r1", "t_c2", "t_r2", "t_y"} <= set(branch)
    # every branch tensor int8 but t_y: the last conv writes float32 (its output leaves through the 1-D
    # Squeeze: lower_int8_conv_head.cc)
    assert {n: p for n, (p, *_rest) in branch.items() if n.startswith("t_") and p != "int8"} == {
        "t_y_2d": "fp32", "t_y": "fp32"}
    by_name = {r.name: r for r in rows}
    assert by_name[THEN + "t_c1_2d"].layer == THEN + "t_conv1"  # layers named under the scope
    assert "pick/then_branch/t_r2" in format_comparison(rows)


def test_compare_over_samples_of_both_rates_shows_both_branches(net, both) -> None:
    engine, alone, _ = both
    x16, x8 = _x(8), _x(8, 40)
    rows = compare(net, engine, [{"x": x16, "sr": np.array(16000, np.int64)},
                                 {"x": x8, "sr": np.array(8000, np.int64)}], batch_size=4)
    for scope, branch, x in ((THEN, "then_branch", x16), (ELSE, "else_branch", x8)):
        want = _rows(compare(_branch_alone(net, (branch,)), alone[branch], {"x": x}, batch_size=4), "")
        assert _rows(rows, scope) == want, branch


def test_an_if_nested_in_a_branch_is_compared_under_both_scopes() -> None:
    net = nested_model()
    batches = [{**b, "loud": np.array(True)} for b in _batches((16000,))]
    engine = _int8(net, batches)
    x = _x()
    rows = compare(net, engine, {"x": x, "sr": np.array(16000, np.int64), "loud": np.array(True)}, batch_size=4)
    inner = THEN + "inner/then_branch/"
    alone = _int8(_branch_alone(net, ("then_branch", "then_branch")), [{"x": b["x"]} for b in batches])
    assert _rows(rows, inner) == _rows(compare(_branch_alone(net, ("then_branch", "then_branch")), alone, {"x": x},
                                               batch_size=4), "")
    assert {r.name for r in rows} >= {inner + "a_r1", inner + "a_y", THEN + "t_y", "y"}
    assert not any("else_branch" in r.name for r in rows)


def _measure(m: onnx.ModelProto, engine: int8rt.Engine, data: Any) -> Any:
    network = int8rt._core.Builder(int8rt.onnx.import_model(m), "fp32").optimized_network()
    return measure(network=network, engine=engine._native, data=data, batch_size=4, collector=None,
                   methods={}, header={})


def _checks(report: Any, scope: str) -> dict[str, tuple]:
    return {t.name[len(scope):]: (t.threshold, t.clipped, t.sqnr_db, t.observed_max)
            for t in report.tensors if t.name.startswith(scope)}


def test_the_accuracy_check_measures_the_taken_branch_tensors(net, both) -> None:
    engine, alone, _ = both
    x = _x()
    report = _measure(net, engine, {"x": x, "sr": np.array(16000, np.int64)})
    assert not any(t.name.startswith(ELSE) for t in report.tensors)  # not taken: not measured
    want = _checks(_measure(_branch_alone(net, ("then_branch",)), alone["then_branch"], {"x": x}), "")
    got = _checks(report, THEN)
    assert got == want and {"t_c1", "t_r1", "t_r2"} <= set(got) and "t_y" not in got  # t_y: float32 head
    assert [o.name for o in report.outputs] == ["y"]


def test_a_branch_tensor_that_clips_is_a_warning_naming_it(net, both, caplog) -> None:
    """Samples 4x louder than calibration's: the branch's int8 tensors clip,
    and the warnings name them under their scope."""
    engine, alone, _ = both
    report = _measure(net, engine, {"x": _x(gain=4.0), "sr": np.array(8000, np.int64)})
    clipped = [t.name for t in report.tensors if t.clipped > 0.01]
    assert clipped and all(n.startswith(ELSE) for n in clipped), clipped
    assert all(any(f"tensor '{n}'" in w for w in report.warnings) for n in clipped), report.warnings


def test_a_network_without_an_if_reads_no_branch_values(net) -> None:
    """run_tapped on a network with no If is run(), with nothing beside it."""
    m = _branch_alone(net, ("then_branch",))
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    ctx = engine._native.create_execution_context()
    x = _x(3)
    outputs, inside = ctx.run_tapped({"x": x})
    assert inside == {}
    np.testing.assert_array_equal(outputs["t_y"], engine.run({"x": x})["t_y"])


def test_run_tapped_hands_back_the_taken_branch_tensors_of_the_float_engine(net) -> None:
    """The FP32 engine's tapped run: the then-branch's tensors by scoped name,
    each the value the branch alone computes, bit for bit."""
    fp32 = int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32"))
    alone = int8rt.build_engine(_branch_alone(net, ("then_branch",)), int8rt.BuilderConfig(precision="fp32"))
    x = _x(3, 20)
    outputs, inside = fp32._native.create_execution_context().run_tapped({"x": x, "sr": np.array(16000, np.int64)})
    assert set(inside) >= {THEN + n for n in ("t_c1", "t_r1", "t_c2", "t_r2", "t_y")}
    assert all(n.startswith(THEN) for n in inside), sorted(inside)
    want = _tensors_of(alone, x, [n[len(THEN):] for n in inside])
    for name, value in inside.items():
        np.testing.assert_array_equal(value, want[name[len(THEN):]], err_msg=name)
    np.testing.assert_array_equal(outputs["y"], inside[THEN + "t_y"])


def _tensors_of(engine: int8rt.Engine, x: np.ndarray, names: list[str]) -> Mapping[str, np.ndarray]:
    """``names`` of the float32 engine's network, as extra outputs."""
    from int8rt.accuracy.taps import fp32_tap_engine

    tap = fp32_tap_engine(engine._native.network(), [n for n in names if n != "x"])
    return {**tap.create_execution_context().run({"x": x}), "x": x}


def test_int8rt_compare_takes_a_0d_int64_input_and_prints_branch_rows(net, both, tmp_path, capsys) -> None:
    """``int8rt compare`` with the rate a 0-d int64 array of the .npz beside
    the samples (before: every array cast to float32, and the 0-d one cut
    by --limit and counted with len())."""
    from int8rt.cli import main

    engine, _, _ = both
    onnx.save(net, str(tmp_path / "m.onnx"))
    engine.save(str(tmp_path / "m.i8rt"))
    x = _x()
    np.savez(tmp_path / "data.npz", x=x, sr=np.array(16000, np.int64))
    assert main(["compare", str(tmp_path / "m.onnx"), "--engine", str(tmp_path / "m.i8rt"), "--data",
                 str(tmp_path / "data.npz"), "--limit", "8", "--batch-size", "4"]) == 0
    printed = capsys.readouterr().out
    assert "on 8 samples of" in printed
    want = format_comparison(compare(net, engine, {"x": x[:8], "sr": np.array(16000, np.int64)}, batch_size=4))
    assert want in printed and THEN + "t_r1" in want


def test_layers_with_branches_list_the_branch_layers_scoped_before_the_if(net, both) -> None:
    engine, _, _ = both
    top = engine.layers()
    layers = engine.layers(branches=True)
    assert [layer for layer in layers if "_branch/" not in layer["name"]] == top  # the top level as before
    names = [layer["name"] for layer in layers]
    assert names.index("pick") == len(names) - 1 and names.index(THEN + "t_conv1") < names.index(ELSE + "e_conv1")
    lowered = next(n for n in engine.network().nodes() if n["op"] == "If")["attrs"]
    for scope, branch, tag in ((THEN, "then_branch", "t_"), (ELSE, "else_branch", "e_")):
        mine = [layer for layer in layers if layer["name"].startswith(scope)]
        assert [(layer["name"], layer["op"]) for layer in mine] == [
            (scope + n["name"], n["op"]) for n in lowered[branch].nodes()]
        precision = {layer["name"]: layer["precision"] for layer in mine}
        assert [precision[f"{scope}{tag}conv{i}"] for i in (1, 2, 3)] == ["int8"] * 3
        assert {precision[scope + n["name"]] for n in lowered[branch].nodes()
                if n["op"] in ("int8rt.Quantize", "int8rt.Dequantize")} == {"convert"}
    int8_then = sum(layer["precision"] == "int8" for layer in layers if layer["name"].startswith(THEN))
    assert f"then 17 layers ({int8_then} int8)" in top[-1]["detail"]  # the If's count, layer by layer


def test_inspect_lists_the_branch_layers(net, tmp_path, capsys) -> None:
    """Calibrated at 16 kHz only: the then-branch's convs in int8, the
    else-branch float32 as a whole."""
    from int8rt.cli import main

    engine = _int8(net, _batches((16000,)))
    engine.save(str(tmp_path / "m.i8rt"))
    assert main(["inspect", str(tmp_path / "m.i8rt")]) == 0
    printed = capsys.readouterr().out
    convs = [THEN + f"t_conv{i}" for i in (1, 2, 3)]
    lines = [line.split() for line in printed.splitlines() if line.split()[:1] and line.split()[0] in convs]
    assert [tuple(w[:3]) for w in lines] == [(name, "int8rt.QConv", "int8") for name in convs]
    # a float32 branch layer says why: its own line of the branch's lowering, or its branch's
    after = printed.split(ELSE + "e_conv1 ", 1)[1].splitlines()[1]
    assert "why fp32: no calibration batch took it (no scales under 'pick/else_branch/')" in after, after
    after = printed.split(THEN + "t_conv1_to_2d ", 1)[1].splitlines()[1]
    assert "why fp32: its input 'x' is float32 here" in after, after
