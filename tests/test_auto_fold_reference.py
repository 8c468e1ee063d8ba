"""auto's folds read their float32 reference from their own calibration runs
(crossval.Folds' ``last_outputs``: the builder's ``copy_last`` of each
output after each chunk), not from a float32 engine run over the folds
again: the same reference bit for bit, so the same errors and the same
choice; where an output cannot be read, the engine runs as before."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt.accuracy import crossval
from int8rt.calib import Collector
from int8rt.calibrator import AUTO_NUM_BINS, AUTO_POLICY

METHODS = ("minmax", "percentile 99.99")


def _block_model(d: int = 16) -> bytes:
    """Gemm -> LayerNormalization -> Softmax, two outputs (a transformer's
    kinds of layers, whose float32 kernels a batch could change)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((d, d)) / 4).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(d).astype(np.float32), "b"),
             numpy_helper.from_array((1 + rng.random(d)).astype(np.float32), "g"),
             numpy_helper.from_array(rng.standard_normal(d).astype(np.float32), "beta")]
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
             helper.make_node("LayerNormalization", ["h", "g", "beta"], ["y"], axis=-1),
             helper.make_node("Softmax", ["y"], ["p"], axis=-1)]
    graph = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", d])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", d]),
                               helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", d])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _folds(core, kept, held, last_outputs):
    network = core.optimized_network()
    return crossval.Folds(core.build, lambda chunk, col: core.calibrate_batch(chunk, col._native),
                          lambda: Collector("minmax", num_bins=AUTO_NUM_BINS, policy=AUTO_POLICY),
                          network, kept, held, 4, {"x", "h", "y"}, {m: {"x": 1.0} for m in METHODS},
                          last_outputs=last_outputs)


def _copy_outputs(core):
    network = core.optimized_network()
    names = [network.tensor(i)["name"] for i in network.outputs()]
    return lambda: {n: core.copy_last(n) for n in names}


def test_fold_reference_from_the_calibration_runs_equals_a_float32_engine(monkeypatch) -> None:
    from test_auto_folds import _builder

    rng = np.random.default_rng(3)
    kept = {"x": (3 * rng.standard_normal((11, 16))).astype(np.float32)}
    held = {"x": (3 * rng.standard_normal((4, 16))).astype(np.float32)}
    core = _builder(_block_model())
    engine_runs = _folds(core, kept, held, None)
    expected = {m: engine_runs.errors(m) for m in METHODS}
    references = [judge.ref for _, judge in engine_runs._folds]

    def no_engine(*args, **kwargs):
        raise AssertionError("a float32 engine ran for the folds' reference")

    monkeypatch.setattr(crossval, "fp32_tap_engine", no_engine)
    read = _folds(core, kept, held, _copy_outputs(core))
    for m in METHODS:
        for want, got in zip(expected[m], read.errors(m)):
            assert np.array_equal(want.err, got.err) and np.array_equal(want.ref, got.ref), m
    for want, (_, judge) in zip(references, read._folds):
        assert len(want) == len(judge.ref)
        for a, b in zip(want, judge.ref):
            assert a.keys() == b.keys() == {"y", "p"}
            assert all(np.array_equal(a[k], b[k]) for k in a)


def test_fold_reference_falls_back_to_an_engine_where_an_output_cannot_be_read(monkeypatch) -> None:
    from test_auto_folds import _builder

    rng = np.random.default_rng(4)
    kept = {"x": rng.standard_normal((6, 16)).astype(np.float32)}
    held = {"x": rng.standard_normal((2, 16)).astype(np.float32)}
    core = _builder(_block_model())
    expected = _folds(core, kept, held, None).errors("minmax")
    created = []
    engine = crossval.fp32_tap_engine
    monkeypatch.setattr(crossval, "fp32_tap_engine", lambda *a: created.append(1) or engine(*a))
    got = _folds(core, kept, held, lambda: None).errors("minmax")
    assert created == [1]
    assert all(np.array_equal(a.err, b.err) for a, b in zip(expected, got))


def test_auto_build_reads_every_choice_reference_from_calibration_runs(monkeypatch) -> None:
    """A whole auto build (accuracy check on): the held-out slice's and the
    folds' float32 references come from calibration runs, no float32
    engine is made for them, and the engine and its report (every error
    auto measured, the check's figures) equal those of a build whose
    references came from float32 engines."""
    import dataclasses
    import json

    from int8rt.accuracy import auto_choice
    from int8rt.accuracy.run import CalibrationRun

    rng = np.random.default_rng(5)
    calib = [{"x": (2 * rng.standard_normal((4, 16))).astype(np.float32)} for _ in range(8)]

    def build():
        engine = int8rt.build_engine(_block_model(), int8rt.BuilderConfig(calibrator=list(calib)))
        report = dataclasses.asdict(engine.build_report())
        report.pop("seconds")
        return bytes(engine._native.with_metadata({}).serialize()), json.dumps(report, sort_keys=True, default=str)

    made = []
    for module in (auto_choice, crossval):
        real = module.fp32_tap_engine
        monkeypatch.setattr(module, "fp32_tap_engine", lambda *a, real=real: made.append(1) or real(*a))
    read = build()
    assert made == []
    monkeypatch.setattr(CalibrationRun, "_last_outputs", lambda self: None)
    engines = build()
    assert len(made) == 2  # the held-out slice's reference, the folds'
    assert read == engines
    assert "worst_fold_errors" in json.loads(read[1])["auto_choice"]
