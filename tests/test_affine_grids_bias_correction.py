"""Bias correction and auto's unsigned trial with asymmetric activations
(``BuilderConfig(asymmetric_activations=True)``, the default) and unsigned
activations off (python/int8rt/accuracy/run.py, ``_affine_grids`` and
``_decide_unsigned``).

A SiLU output is held on an asymmetric grid (a zero point) whatever
``unsigned_activations`` says. Bias correction must measure the shift of a
conv reading it on that grid, the engine's (its int8 plan's scale and zero
point), not on the symmetric one; and auto's unsigned trial must count only
the tensors unsigned activations change, so a network whose only tensors
with a zero point are asymmetric has nothing for the trial to try."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt.accuracy import bias_correction as biascorr
from int8rt.accuracy import run as run_mod
from int8rt.accuracy.unsigned_form import unsigned_tensors

RNG = np.random.default_rng(5)
F32 = np.float32
N = 32
X = RNG.standard_normal((N, 3, 8, 8)).astype(F32)


def _w(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)


WEIGHTS = {"w1": _w(8, 3, 3, 3), "b1": (RNG.standard_normal(8) * 0.3).astype(F32),
           "w2": _w(8, 8, 3, 3), "b2": (RNG.standard_normal(8) * 0.1).astype(F32),
           "w3": _w(8, 8, 1, 1), "b3": (RNG.standard_normal(8) * 0.1).astype(F32)}


def _model(relu_branch: bool) -> bytes:
    """c1 = Conv(x); s = SiLU(c1) (c1 * Sigmoid(c1)), read by a padded 3x3
    Conv (y). With ``relu_branch``: also r = Relu(Conv1x1(c1)) read by a
    1x1 Conv (z), r being non-negative and its reader taking a zero point."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c1"], ["sg"]),
             helper.make_node("Mul", ["c1", "sg"], ["s"]),
             helper.make_node("Conv", ["s", "w2", "b2"], ["y"], pads=[1, 1, 1, 1])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 8, 8, 8])]
    if relu_branch:
        nodes += [helper.make_node("Conv", ["c1", "w3", "b3"], ["c3"]),
                  helper.make_node("Relu", ["c3"], ["r"]),
                  helper.make_node("Conv", ["r", "w3", "b3"], ["z"])]
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, 8, 8, 8]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 8, 8])],
                              outputs, [numpy_helper.from_array(a, n) for n, a in WEIGHTS.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _build(model: bytes, algorithm: str, **config) -> int8rt.Engine:
    calibrator = int8rt.make_calibrator({"x": X}, algorithm=algorithm, batch_size=8)
    return int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False, **config))


def _grids(engine: int8rt.Engine) -> dict[str, tuple[float, int]]:
    return {t.tensor: (t.scale, t.zero_point) for t in engine._native.int8_plan().tensors if t.zero_point != 0}


@pytest.mark.parametrize("algorithm", ["minmax", "auto"])
def test_bias_correction_measures_asymmetric_tensors_on_their_grid(monkeypatch, algorithm: str) -> None:
    """With unsigned activations off, the grids bias correction quantizes
    its layer inputs on are the engine's: the SiLU output's (scale, zero
    point) from the int8 plan (before the fix: none, i.e. the symmetric
    grid)."""
    seen: list[dict[str, tuple[float, int]]] = []
    measure = biascorr.measure_shifts

    def spy(*args, **kwargs):
        seen.append(dict(kwargs.get("affine") or {}))
        return measure(*args, **kwargs)

    monkeypatch.setattr(run_mod.biascorr, "measure_shifts", spy)
    engine = _build(_model(relu_branch=False), algorithm, bias_correction=True, unsigned_activations=False)
    grids = _grids(engine)
    assert "s" in grids and grids["s"][1] not in (0, -128), grids  # asymmetric: lo maps to -128, 0 to > -128
    assert seen, "bias correction did not measure"
    for affine in seen:
        assert affine == grids
    assert engine.build_report().bias_corrected_layers >= 1


def test_asymmetric_only_network_has_nothing_for_the_unsigned_trial() -> None:
    """No non-negative tensor: auto reports that unsigned activations have
    no tensor to change (before the fix the SiLU output, held with a zero
    point by the asymmetric rule, counted as one and the trial ran)."""
    engine = _build(_model(relu_branch=False), "auto")
    assert engine.build_report().auto_choice["unsigned_activations"] == (
        "off (no non-negative int8 tensor whose readers all take a zero point)")


def test_unsigned_trial_counts_only_the_tensors_it_changes() -> None:
    """With a ReLU branch, the tensors the trial holds unsigned are the
    ones the unsigned engine holds on [0, T] (zero point -128) and the
    symmetric one holds without a zero point: r, not the asymmetric s."""
    model = _model(relu_branch=True)
    on, off = _build(model, "minmax", unsigned_activations=True), _build(model, "minmax", unsigned_activations=False)
    assert "s" in _grids(off) and "s" in _grids(on)
    changed = unsigned_tensors(on._native, off._native)
    assert changed == [t for t, (_, z) in _grids(on).items() if z == -128 and t not in _grids(off)]
    assert "r" in changed and "s" not in changed
    report = _build(model, "auto").build_report().auto_choice["unsigned_activations"]
    assert report == "off (auto)" or report == f"on (auto, {len(changed)} int8 tensors)", report
