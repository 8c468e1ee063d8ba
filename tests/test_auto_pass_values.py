"""The auto calibrator's values kept from the calibration pass
(python/int8rt/accuracy/pass_values.py, Builder.copy_last_rows) and its
engines lowered once: the same engine, byte for byte, and the same
decisions as with the float32 passes of their own that they replace; and
the MSE search's eight candidates per pass (csrc/calib/mse.cc) against the
golden reference where the candidates do not fill the lanes."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt import _core
from int8rt.accuracy import auto_choice, bias_correction, pass_values
from int8rt.calib import Collector

from accuracy_models import entropy_collapse_case
from golden_methods import amax_mse
from test_equalize import separable_cnn


def _auto(model: bytes, calib: dict[str, np.ndarray], batch: int, unsigned: bool | None = False) -> int8rt.Engine:
    # unsigned activations pinned off where a case is about one decision (they change the engine it measures);
    # per-channel grids off: with them these models need neither bias correction nor equalization, whose
    # kept values are under test
    return int8rt.build_engine(model, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(calib, algorithm="auto", batch_size=batch), accuracy_check=False,
        unsigned_activations=unsigned, channel_activations=False))


def _float_passes(monkeypatch: pytest.MonkeyPatch, module) -> list[int]:
    """Counts the float32 engines ``module`` makes for a pass of its own."""
    calls = [0]
    make = module.fp32_tap_engine

    def counted(*args, **kwargs):
        calls[0] += 1
        return make(*args, **kwargs)
    monkeypatch.setattr(module, "fp32_tap_engine", counted)
    return calls


@pytest.mark.parametrize("case", ["bias kept", "bias left off", "equalized"])
def test_kept_values_give_the_same_engine_and_choice(monkeypatch, case):
    """The collapse model (class scores), where auto keeps bias correction
    (seed 0: the engine measured is the build's) and where it leaves it off
    (seed 41: the chosen set's engine is the build's; the one seed of 0-45
    where auto leaves both bias correction and equalization off since it
    reads the uncentred error too: seed 8 was until then, seed 2 until
    auto's folds chose minmax there); the separable CNN,
    where it keeps cross-layer equalization after calibration, so the layer
    inputs kept before it are dropped and bias correction measures the
    equalized network with a pass of its own."""
    if case != "equalized":
        c = entropy_collapse_case(seed=0 if case == "bias kept" else 41)
        model, calib, batch = c.model, {"x": c.calib[:96]}, 16
    else:
        model, batch = separable_cnn(), 16
        calib = {"x": np.random.default_rng(5).normal(0, 1, (64, 3, 12, 12)).astype(np.float32)}
    scorer, shifts = _float_passes(monkeypatch, auto_choice), _float_passes(monkeypatch, bias_correction)
    shared = _auto(model, calib, batch)
    choice = shared.build_report().auto_choice
    assert scorer[0] == 0  # the held-out reference came from the calibration pass
    if case != "equalized":
        assert choice["bias_correction"] == ("on (auto)" if case == "bias kept" else "off (auto)"), choice
        # so did bias correction's layer inputs; kept, its shifts are measured again with the
        # held-out samples too (run.py, _refit_shifts), whose layer inputs take a pass of their own
        assert shifts[0] == (1 if case == "bias kept" else 0)
    else:
        assert choice["equalization"].startswith("on (auto"), choice
        assert shifts[0] == 1  # measured on the equalized network
    monkeypatch.setattr(pass_values.PassValues, "after_batch", lambda *args: None)  # nothing kept
    separate = _auto(model, calib, batch)
    assert scorer[0] == 1 and shifts[0] >= 1
    assert separate.build_report().auto_choice == choice
    assert separate.serialize() == shared.serialize()


def test_kept_values_with_unsigned_activations_decided_by_auto(monkeypatch):
    """auto deciding unsigned activations too: bias correction then measures
    on the unsigned grid (its layer inputs still from the calibration
    pass); the engine and every decision are those of separate passes."""
    c = entropy_collapse_case(seed=2)
    calib = {"x": c.calib[:96]}
    shared = _auto(c.model, calib, 16, unsigned=None)
    choice = shared.build_report().auto_choice
    assert "unsigned_activations" in choice, choice
    monkeypatch.setattr(pass_values.PassValues, "after_batch", lambda *args: None)  # nothing kept
    separate = _auto(c.model, calib, 16, unsigned=None)
    assert separate.build_report().auto_choice == choice
    assert separate.serialize() == shared.serialize()


def test_a_budget_that_keeps_part_of_the_layer_inputs(monkeypatch):
    """Past the budget the remaining chunks run a float32 pass of their
    own: the shifts, and so the engine, are the same. (Seed 41: auto leaves
    bias correction off, so no held-out pass of _refit_shifts is counted;
    seed 2 did until auto's folds chose minmax there, seed 8 until auto
    read the uncentred error too.)"""
    c = entropy_collapse_case(seed=41)
    calib = {"x": c.calib[:96]}
    full = _auto(c.model, calib, 16)
    monkeypatch.setattr(pass_values, "BUDGET_BYTES", 12 * 2 * 16 * 8 * 8 * 4 + 1)  # the first batch's 12 kept rows
    shifts = _float_passes(monkeypatch, bias_correction)
    part = _auto(c.model, calib, 16)
    assert shifts[0] == 1
    assert part.serialize() == full.serialize()


def test_copy_last_rows_is_the_rows_alone():
    """Rows of an intermediate tensor and of the output after a batch equal
    a float32 engine's run on those rows alone (batch-invariant kernels);
    None for what is not kept; rows out of order are refused."""
    c = entropy_collapse_case()
    network = int8rt.onnx.import_model(c.model)
    builder = _core.Builder(network)
    x = np.ascontiguousarray(c.calib[:8])
    collector = Collector("entropy")
    builder.calibrate_batch({"x": x}, collector._native)
    opt = builder.optimized_network()
    rows = [1, 4, 6]
    relu = "r1"  # the first conv's fused ReLU output
    assert opt.find_tensor(relu) >= 0
    alone = int8rt.build_engine(c.model, int8rt.BuilderConfig(precision="fp32")).run({"x": x[rows]})
    assert np.array_equal(builder.copy_last_rows("logits", rows), alone["logits"])
    from int8rt.accuracy.taps import fp32_tap_engine
    tapped = fp32_tap_engine(opt, [relu]).create_execution_context().run({"x": x[rows]})
    assert np.array_equal(builder.copy_last_rows(relu, rows), tapped[relu])
    assert builder.copy_last_rows("no such tensor", rows) is None
    with pytest.raises(int8rt.InvalidArgumentError):
        builder.copy_last_rows("logits", [4, 1])


@pytest.mark.parametrize("bins,stride", [(5, 1), (9, 1), (23, 1), (130, 3), (300, 7)])
def test_mse_candidates_not_filling_the_lanes(bins, stride):
    """3..43 candidates (groups of eight, the last padded): the golden
    reference's threshold, bit for bit."""
    rng = np.random.default_rng(bins)
    for trial in range(5):
        counts = rng.integers(0, 50, bins).astype(np.int64)
        counts[rng.random(bins) < 0.3] = 0
        counts[0] += 1
        got = _core._amax_from_counts(counts, 0.25, bins * 0.25, "mse", stride=stride, start_bin=2)
        assert np.float32(got) == amax_mse(counts, 0.25, stride=stride, start_bin=2), (bins, stride, trial)


def _fixed_batch(model: bytes, batch: int) -> bytes:
    """``model`` with its inputs' and outputs' batch dimension fixed at ``batch``."""
    import onnx

    m = onnx.load_from_string(model)
    for v in [*m.graph.input, *m.graph.output]:
        v.type.tensor_type.shape.dim[0].dim_value = batch
    del m.graph.value_info[:]
    return m.SerializeToString()


def test_whole_batches_keep_the_same_engine_and_choice(monkeypatch):
    """A fixed batch (taps.WholeBatch: every batch held out or kept whole):
    auto's own histograms, the held-out reference and bias correction's
    layer inputs come from the calibration pass (Builder.observe_last,
    copy_last); the engine and every decision are those of running each
    kept batch again and of separate float32 passes."""
    c = entropy_collapse_case(seed=2)
    model = _fixed_batch(c.model, 4)
    calib = {"x": c.calib[:96]}
    scorer, shifts = _float_passes(monkeypatch, auto_choice), _float_passes(monkeypatch, bias_correction)
    shared = _auto(model, calib, 4)
    choice = shared.build_report().auto_choice
    # a kept bias correction is refitted on the kept and held-out samples together
    # (run.py's _refit_shifts): the held-out ones need the one float32 pass of their own
    refit = "bias_correction_samples" in choice
    assert scorer[0] == 0 and shifts[0] == int(refit), choice

    native, reruns = _core.Builder, []

    class Rerun(native):  # observe_last declines: the kept batch runs through the network again
        def calibrate_batch(self, inputs, collector):
            self.last = inputs
            return super().calibrate_batch(inputs, collector)

        def observe_last(self, collector):
            reruns.append(1)
            return super().calibrate_batch(self.last, collector)

    monkeypatch.setattr(_core, "Builder", Rerun)
    monkeypatch.setattr(pass_values.PassValues, "after_batch", lambda *args: None)  # nothing kept
    separate = _auto(model, calib, 4)
    assert len(reruns) == 18 and scorer[0] == 1 and shifts[0] >= 1  # 24 batches, every 4th held out
    assert separate.build_report().auto_choice == choice
    assert separate.serialize() == shared.serialize()


def test_observe_last_and_copy_last_are_the_whole_batch():
    """observe_last streams what calibrate_batch streamed; copy_last copies
    a whole tensor (any layout), None for what is not kept."""
    c = entropy_collapse_case()
    builder = _core.Builder(int8rt.onnx.import_model(c.model))
    with pytest.raises(int8rt.InvalidArgumentError, match="no calibration batch"):
        builder.observe_last(Collector("entropy")._native)
    x = np.ascontiguousarray(c.calib[:8])
    first, again = Collector("entropy"), Collector("entropy")
    builder.calibrate_batch({"x": x}, first._native)
    builder.observe_last(again._native)
    assert {n: first.histogram(n).counts.tobytes() for n in first.names} == \
        {n: again.histogram(n).counts.tobytes() for n in again.names}
    alone = int8rt.build_engine(c.model, int8rt.BuilderConfig(precision="fp32")).run({"x": x})
    assert np.array_equal(builder.copy_last("logits"), alone["logits"])
    assert builder.copy_last("no such tensor") is None


def _dynamic_image_cnn(mix_batch: bool) -> bytes:
    """Conv -> Relu -> Conv over [N, 3, H, W] (H, W dynamic); with
    ``mix_batch`` a Reshape to [1, -1] after it, which puts the batch inside
    axis 1."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.3, (2, 4, 1, 1)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["y" if not mix_batch else "c2"])]
    if mix_batch:
        inits.append(numpy_helper.from_array(np.array([1, -1], np.int64), "flat"))
        nodes.append(helper.make_node("Reshape", ["c2", "flat"], ["y"]))
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "M"] if mix_batch else ["N", 2, "H", "W"])
    graph = helper.make_graph(nodes, "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                              [out], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("mix_batch", [False, True])
def test_observe_rows_with_a_dynamic_image_size(mix_batch):
    """Dimensions beyond the batch dynamic (a detector's image size), fixed
    by the batch: the rows are cut where every tensor's axis 0 follows the
    batch (the same histograms as running the rows alone), and declined
    where a Reshape puts the batch inside another axis."""
    builder = _core.Builder(int8rt.onnx.import_model(_dynamic_image_cnn(mix_batch)))
    x = np.random.default_rng(4).normal(0, 1, (6, 3, 10, 12)).astype(np.float32)
    session, by_rows, rerun = Collector("minmax"), Collector("minmax"), Collector("minmax")
    keep = [0, 1, 2, 4, 5]
    builder.calibrate_batch({"x": x}, session._native)
    assert builder.observe_rows(keep, by_rows._native) is (not mix_batch)
    assert builder.copy_last_rows("r1", keep) is not None  # a tensor whose axis 0 follows the batch
    assert (builder.copy_last_rows("y", keep) is None) is mix_batch
    if not mix_batch:
        builder.calibrate_batch({"x": np.ascontiguousarray(x[keep])}, rerun._native)
        assert {n: by_rows.histogram(n).counts.tobytes() for n in by_rows.names} == \
            {n: rerun.histogram(n).counts.tobytes() for n in rerun.names}
        assert len(by_rows) >= 3


def test_no_engine_is_lowered_twice_when_equalization_is_kept(monkeypatch):
    """Where auto keeps cross-layer equalization (the separable CNN), the
    equalized engine it lowered and judged is the build's engine from then
    on: no (builder, scales) pair is lowered a second time."""
    lowered: list[tuple[object, tuple]] = []
    native = _core.Builder.build

    def build(self, scales, *args, **kwargs):
        lowered.append((self, tuple(sorted(scales.items()))))  # the builder kept alive: identities stay unique
        return native(self, scales, *args, **kwargs)
    monkeypatch.setattr(_core.Builder, "build", build)
    calib = {"x": np.random.default_rng(5).normal(0, 1, (64, 3, 12, 12)).astype(np.float32)}
    engine = _auto(separable_cnn(), calib, 16)
    assert engine.build_report().auto_choice["equalization"].startswith("on (auto"), engine.build_report().auto_choice
    keys = [(id(builder), scales) for builder, scales in lowered]
    assert len(keys) == len(set(keys)), f"{len(keys) - len(set(keys))} engine(s) lowered again"
