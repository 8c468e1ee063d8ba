"""Issue 12: INT8 accuracy never collapses silently.

The build holds every 4th calibration sample out of the thresholds and
measures the engine on them (int8rt/accuracy/); the auto calibrator picks
per tensor the threshold that least disturbs the consuming layers. Checked
on a model where TensorRT's entropy calibration collapses
(accuracy_models.py) and on the bundled digits model, with real labels and
metrics a constant output cannot pass (centred cosine; top-1 against labels).
"""
from __future__ import annotations

import logging
from typing import Optional

import numpy as np
import pytest

import int8rt
from int8rt.accuracy import metrics
from int8rt.accuracy.holdout import SampleRouter, batch_samples
from int8rt.calib import Collector
from int8rt.quickstart import DATA_PATH, MODEL_PATH

from accuracy_models import entropy_collapse_case

DIGITS = np.load(DATA_PATH)


def calibrator(base: type, batches: list[np.ndarray], cache: Optional[bytes] = None, **options):
    """A TensorRT-style calibrator (README's pattern) of class ``base``."""

    class Calibrator(base):
        def __init__(self) -> None:
            super().__init__(**options)
            self.batches, self.cache, self.calls = list(batches), cache, 0

        def get_batch_size(self) -> int:
            return len(batches[0])

        def get_batch(self, names):
            self.calls += 1
            return [self.batches.pop(0)] if self.batches else None

        def read_calibration_cache(self):
            return self.cache

        def write_calibration_cache(self, cache: bytes) -> None:
            self.cache = cache

    return Calibrator()


def split(x: np.ndarray, size: int = 32) -> list[np.ndarray]:
    return [x[i:i + size] for i in range(0, len(x), size)]


def top1(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(logits.argmax(1) == labels))


@pytest.fixture(scope="module")
def collapse():
    case = entropy_collapse_case()
    fp32 = int8rt.build_engine(case.model, int8rt.BuilderConfig(precision="fp32")).run({"x": case.eval_x})["logits"]
    return case, fp32


def build(model, base, batches, **config):
    cal = calibrator(base, batches)
    return int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=cal, **config)), cal


def test_entropy_collapse_is_reproduced_and_warned(collapse, caplog) -> None:
    case, fp32 = collapse
    assert top1(fp32, case.eval_y) > 0.9
    with caplog.at_level(logging.WARNING, logger="int8rt"):
        engine, _ = build(case.model, int8rt.IInt8EntropyCalibrator2, split(case.calib))
    out = engine.run({"x": case.eval_x})["logits"]
    # The collapse: near chance against the labels, nothing left of the input dependence.
    assert top1(out, case.eval_y) < 0.4, top1(out, case.eval_y)
    assert metrics.centred_cosine(fp32, out) < 0.5
    report = engine.build_report()
    assert report.measured and report.held_out and report.check_samples == 64 and report.threshold_samples == 192
    r1 = report.tensor("r1")
    assert r1.method == "entropy" and r1.clipped > 0.2 and r1.threshold < 0.15 * r1.observed_max, r1
    assert r1.warning is not None and "'r1'" in r1.warning and "would set" in r1.warning
    assert any("'r1'" in w for w in report.warnings)
    assert any("output 'logits'" in w for w in report.warnings)
    logged = [r.getMessage() for r in caplog.records if r.name == "int8rt" and r.levelno == logging.WARNING]
    assert any("'r1'" in m for m in logged), logged
    # Only the collapsed tensor is blamed.
    assert [t.name for t in report.tensors if t.warning] == ["r1"]


def test_auto_keeps_the_collapse_model_within_a_point(collapse) -> None:
    case, fp32 = collapse
    engine, cal = build(case.model, int8rt.IInt8AutoCalibrator, split(case.calib))
    out = engine.run({"x": case.eval_x})["logits"]
    # Stated bounds: auto changes FP32's top-1 only where FP32 itself is a near-tie (every
    # changed image's top-1 / top-2 margin below the 10th percentile of the 270 margins;
    # measured: 7 images, margins <= 0.075 against a 10th percentile of 0.17 and a median of
    # 0.63), so label top-1 moves by near-ties alone, and by at most 2 points (5.4 images;
    # measured 1.5 below FP32 with auto's "mse unsigned" set, RESULTS_accuracy.md acc44, and
    # 0.7 before it: the same 7 changed images' count, other near-ties; acc18).
    ordered = np.sort(fp32, axis=1)
    margin = ordered[:, -1] - ordered[:, -2]
    changed = out.argmax(1) != fp32.argmax(1)
    assert margin[changed].max(initial=0.0) < np.percentile(margin, 10), (margin[changed], np.percentile(margin, 10))
    assert top1(out, case.eval_y) >= top1(fp32, case.eval_y) - 0.02, (top1(out, case.eval_y), top1(fp32, case.eval_y))
    # Closer to FP32 than MinMax on what does not depend on near-ties.
    minmax, _ = build(case.model, int8rt.IInt8MinMaxCalibrator, split(case.calib))
    mm = minmax.run({"x": case.eval_x})["logits"]
    agree = lambda y: float(np.mean(y.argmax(1) == fp32.argmax(1)))  # noqa: E731
    assert agree(out) >= agree(mm), (agree(out), agree(mm))
    assert metrics.centred_cosine(fp32, out) > max(0.97, metrics.centred_cosine(fp32, mm))
    report = engine.build_report()
    assert report.warnings == () and report.tensor("r1").method.startswith("auto:")
    assert report.tensor("r1").method != "auto:entropy"
    algorithm, _, _ = int8rt.calib.read_cache(cal.cache)
    assert algorithm == "AutoCalibration"  # honest: none of TensorRT's algorithms


def digits_engine(base, **config):
    return build(str(MODEL_PATH), base, split(DIGITS["calib"]), **config)


@pytest.fixture(scope="module")
def digits_fp32():
    return int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32")).run({"input": DIGITS["test_x"]})["logits"]


def test_no_warning_on_the_bundled_digits_model(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="int8rt"):
        engine, _ = digits_engine(int8rt.IInt8EntropyCalibrator2)  # the README's calibrator
    report = engine.build_report()
    assert report.measured and report.held_out and len(report.tensors) >= 9
    assert report.warnings == () and all(t.warning is None for t in report.tensors), report.format()
    assert not [r for r in caplog.records if r.name == "int8rt" and r.levelno >= logging.WARNING]
    (out,) = report.outputs
    assert out.name == "logits" and out.centred_cosine > 0.99 and out.top1_agreement > 0.95
    assert out.top1_constant_baseline < 0.3


def test_auto_is_never_worse_than_minmax_on_digits(digits_fp32) -> None:
    x, y = DIGITS["test_x"], DIGITS["test_y"]
    auto, _ = digits_engine(int8rt.IInt8AutoCalibrator)
    minmax, _ = digits_engine(int8rt.IInt8MinMaxCalibrator)
    a, m = auto.run({"input": x})["logits"], minmax.run({"input": x})["logits"]
    # Stated margin: one image of 540 in top-1, 0.001 in centred cosine.
    assert top1(a, y) >= top1(m, y) - 1 / 540, (top1(a, y), top1(m, y))
    assert metrics.centred_cosine(digits_fp32, a) >= metrics.centred_cosine(digits_fp32, m) - 1e-3
    assert auto.build_report().warnings == ()


def test_thresholds_see_only_the_calibrating_samples() -> None:
    """With the check on, the scales are exactly those of a TensorRT-style
    calibration over the same batches minus every 4th sample."""
    batches = split(DIGITS["calib"])
    checked, _ = build(str(MODEL_PATH), int8rt.IInt8EntropyCalibrator2, batches)
    kept = [b[np.arange(len(b)) % 4 != 3] for b in batches]  # 32 is a multiple of 4: global index = local
    plain, _ = build(str(MODEL_PATH), int8rt.IInt8EntropyCalibrator2, kept, accuracy_check=False)
    assert checked.scales() == plain.scales()
    assert plain.build_report().measured is False


def test_report_travels_with_the_engine(tmp_path, collapse) -> None:
    case, _ = collapse
    engine, cal = build(case.model, int8rt.IInt8EntropyCalibrator2, split(case.calib))
    path = tmp_path / "collapse.i8rt"
    engine.save(path)
    loaded = int8rt.Engine.load(path)
    assert loaded.build_report() == engine.build_report()
    # From a cache nothing is read (as TensorRT), so nothing is measured, and the report says so.
    again = calibrator(int8rt.IInt8EntropyCalibrator2, split(case.calib), cache=cal.cache)
    cached = int8rt.build_engine(case.model, int8rt.BuilderConfig(calibrator=again))
    assert again.calls == 0 and not cached.build_report().measured and "cache" in cached.build_report().reason
    fp32 = int8rt.build_engine(case.model, int8rt.BuilderConfig(precision="fp32"))
    assert not fp32.build_report().measured


def test_single_batch_is_split_and_one_sample_is_measured_in_place() -> None:
    one = [DIGITS["calib"][:8]]
    engine, _ = build(str(MODEL_PATH), int8rt.IInt8EntropyCalibrator2, one)
    r = engine.build_report()
    assert r.held_out and r.check_samples == 2 and r.threshold_samples == 6  # samples 3 and 7
    engine, _ = build(str(MODEL_PATH), int8rt.IInt8EntropyCalibrator2, [DIGITS["calib"][:1]])
    r = engine.build_report()
    assert r.measured and not r.held_out and r.check_samples == 1 and r.threshold_samples == 1


def test_search_data_keeps_every_input_size() -> None:
    # A recogniser calibrated on lines of their own widths: the auto search
    # and bias correction see every width, one group per shape, not only the
    # batches shaped like the first (which left 4 of 32 lines before).
    router = SampleRouter(every=0, max_search=64)
    route = router.wrap(lambda b: None, lambda: None)
    widths = [40, 56, 40, 72]
    for i, w in enumerate(widths):
        route({"x": np.full((2, 3, w), i, np.float32)})
    groups = router.search_data()
    assert sorted(g["x"].shape for g in groups) == [(2, 3, 56), (2, 3, 72), (4, 3, 40)]
    assert sorted(np.unique(g["x"]).tolist() for g in groups) == [[0.0, 2.0], [1.0], [3.0]]


def test_sample_router_rules() -> None:
    fed, skipped = [], []
    router = SampleRouter(every=4, max_check=3, max_search=5, max_fold=10)
    route = router.wrap(lambda b: fed.append(b["x"].copy()), lambda: skipped.append(1))
    for start in range(0, 20, 5):  # batches of 5 samples 0..19
        route({"x": np.arange(start, start + 5, dtype=np.float32)})
    # held out: samples 3, 7, 11, 15, 19, kept at a stride that doubles past 3 (strided.py):
    # 3, 11, 19 spread over the stream (until acc23 the first three, 3, 7, 11); 7 and 15,
    # kept until the stride doubled, are lost to both; none calibrates here
    assert router.check_data()["x"].tolist() == [3, 11, 19]
    assert np.concatenate(fed).tolist() == [i for i in range(20) if i % 4 != 3]
    assert (router.check_count, router.threshold_count) == (3, 15)
    # the second pass's: of the 15 calibrating samples, over the whole stream, every 4th
    # (strided.py: the least power-of-two stride that leaves at most 5)
    assert router.search_data()[0]["x"].tolist() == [0, 5, 10, 16]
    assert len(router.search_data()) == 1
    # the folds': of the 15 calibrating samples, over the whole stream, every 2nd
    # (strided.py: the least power-of-two stride that leaves at most 10)
    assert router.fold_data()[0]["x"].tolist() == [0, 2, 5, 8, 10, 13, 16, 18]
    # the same samples in batches of 1, 3 and 20: the same held-out, lost and kept samples
    for size in (1, 3, 20):
        seen: list[np.ndarray] = []
        other = SampleRouter(every=4, max_check=3, max_search=5, max_fold=10)
        route_other = other.wrap(lambda b: seen.append(b["x"].copy()), lambda: None)
        for start in range(0, 20, size):
            route_other({"x": np.arange(start, min(start + size, 20), dtype=np.float32)})
        assert other.check_data()["x"].tolist() == [3, 11, 19], size
        assert np.concatenate(seen).tolist() == np.concatenate(fed).tolist(), size
        assert other.search_data()[0]["x"].tolist() == [0, 5, 10, 16], size
        assert other.fold_data()[0]["x"].tolist() == [0, 2, 5, 8, 10, 13, 16, 18], size
    # a slot the stride passes over calibrates: 40 samples, room for 3 (slots 3, 7, ..., 39)
    fed.clear()
    router = SampleRouter(every=4, max_check=3)
    route = router.wrap(lambda b: fed.append(b["x"].copy()), lambda: None)
    route({"x": np.arange(40, dtype=np.float32)})
    assert router.check_data()["x"].tolist() == [3, 19, 35]  # held-out ordinals 0, 4, 8 (stride 4)
    lost = {7, 11, 15, 27}  # ordinals 1, 2, 3, 6: kept, then thinned
    assert np.concatenate(fed).tolist() == [i for i in range(40) if i not in {3, 19, 35} | lost]
    fed.clear()
    router = SampleRouter(every=4, max_check=10)
    route = router.wrap(lambda b: fed.append(b["x"].copy()), lambda: skipped.append(1))
    for i in range(8):  # batches of one sample: every 4th batch is held out whole
        route({"x": np.array([i], np.float32)})
    assert router.check_data()["x"].tolist() == [3, 7] and len(skipped) == 2 and len(fed) == 6
    router = SampleRouter(every=4, splittable=False)
    route = router.wrap(lambda b: None, lambda: None)
    for i in range(8):
        route({"x": np.full((2,), i, np.float32)})
    # whole batches, each as it came (taps.WholeBatch: never joined or cut along axis 0)
    assert [b["x"].tolist() for b in router.check_data()] == [[3, 3], [7, 7]]
    # the second pass's and the folds' share one buffer where their caps agree
    shared = SampleRouter(every=4, max_check=3, max_search=10, max_fold=10)
    route_shared = shared.wrap(lambda b: None, lambda: None)
    for start in range(0, 20, 5):
        route_shared({"x": np.arange(start, start + 5, dtype=np.float32)})
    assert shared.fold_buffer is None
    assert shared.fold_data()[0]["x"].tolist() == shared.search_data()[0]["x"].tolist() == [0, 2, 5, 8, 10, 13, 16,
                                                                                           18]
    # whole batches for the second pass: strided over the batches, as many as make max_search
    # samples by the first batch's count (3 batches of 2 for 5): of the 6 calibrating batches
    # (0, 1, 2, 4, 5, 6), every 2nd
    whole = SampleRouter(every=4, splittable=False, max_search=5)
    route_whole = whole.wrap(lambda b: None, lambda: None)
    for i in range(8):
        route_whole({"x": np.full((2,), i, np.float32)})
    assert [b["x"].tolist() for b in whole.search_data()] == [[0, 0], [2, 2], [5, 5]]
    with pytest.raises(ValueError):
        SampleRouter(every=1)


def test_auto_needs_the_network() -> None:
    cal = calibrator(int8rt.IInt8AutoCalibrator, split(DIGITS["calib"]))
    with pytest.raises(int8rt.NotSupportedError, match="build_engine"):
        int8rt.calib.calibrate(cal, lambda inputs: {}, input_names=["input"])


def test_metrics_are_not_fooled_by_a_constant_output() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((64, 10)) + 5.0
    constant = np.tile(ref.mean(axis=0), (64, 1))
    assert metrics.cosine(ref, constant) > 0.95  # the plain cosine is fooled
    assert abs(metrics.centred_cosine(ref, constant)) < 1e-9
    assert metrics.top1_agreement(ref, constant) == pytest.approx(metrics.constant_baseline(ref))
    assert metrics.centred_cosine(ref, ref) == pytest.approx(1.0)
    assert metrics.relative_l2(ref, ref) == 0.0
    x = np.array([0.0, 1.0, 127.4, 127.6, -128.4, -128.6], np.float32)
    assert metrics.clipped_fraction(x, 1.0) == pytest.approx(2 / 6)
    assert metrics.sqnr_db(x, x) == float("inf")


def test_collector_sees_the_same_histograms_for_auto() -> None:
    """auto's histograms are any method's (the session collects with entropy's settings)."""
    assert Collector("entropy").algorithm == "entropy"


def test_cli_build_defaults_to_auto_and_prints_the_report(tmp_path, collapse, capsys, caplog) -> None:
    from int8rt.cli import main

    case, _ = collapse
    model, calib, data = tmp_path / "collapse.onnx", tmp_path / "calib.npz", tmp_path / "eval.npz"
    model.write_bytes(case.model)
    np.savez(calib, x=case.calib)
    np.savez(data, x=case.eval_x)
    cache = tmp_path / "c.cache"
    assert main(["build", str(model), "--calib-data", str(calib), "--cache", str(cache), "-o", str(tmp_path / "a.i8rt")]) == 0
    out = capsys.readouterr().out
    assert "accuracy check on 64 samples (held out" in out and "WARNING" not in out
    assert int8rt.calib.read_cache(cache)[0] == "AutoCalibration"
    with caplog.at_level(logging.WARNING, logger="int8rt"):
        assert main(["build", str(model), "--calib-data", str(calib), "--calibrator", "entropy",
                     "-o", str(tmp_path / "e.i8rt")]) == 0
    out = capsys.readouterr().out
    assert out.count("tensor 'r1' (entropy) clips") == 1, out
    # printed in the report, so not logged a second time
    assert not [r for r in caplog.records if "clips" in r.getMessage()], caplog.text
    assert main(["build", str(model), "--calib-data", str(calib), "--calibrator", "entropy", "--accuracy-target",
                 "0.9", "--bias-correction", "-o", str(tmp_path / "m.i8rt")]) == 0
    out = capsys.readouterr().out
    assert "mixed precision: target 0.9, met" in out and "'Conv_0'" in out
    assert int8rt.Engine.load(tmp_path / "m.i8rt").build_report().bias_corrected_layers > 0


def test_cli_compare_finds_where_the_error_starts(tmp_path, collapse, capsys) -> None:
    from int8rt.accuracy.compare import compare, first_jump
    from int8rt.cli import main

    case, _ = collapse
    model, data = tmp_path / "collapse.onnx", tmp_path / "eval.npz"
    model.write_bytes(case.model)
    np.savez(data, x=case.eval_x)
    entropy, _ = build(case.model, int8rt.IInt8EntropyCalibrator2, split(case.calib))
    entropy.save(tmp_path / "e.i8rt")
    assert main(["compare", str(model), "--engine", str(tmp_path / "e.i8rt"), "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "first jump: 'r1' (layer Conv_0, int8rt.QConv)" in out
    rows = {r.name: r for r in compare(case.model, entropy, {"x": case.eval_x})}
    assert set(rows) == {"x", "r1", "r2", "p", "f", "logits"}
    assert rows["x"].sqnr_db > 40 and rows["r1"].sqnr_db < 10 and rows["r1"].precision == "int8"
    auto, _ = build(case.model, int8rt.IInt8AutoCalibrator, split(case.calib))
    rows = compare(case.model, auto, {"x": case.eval_x})
    assert all(r.sqnr_db > 30 for r in rows if r.name != "logits")
    # The head amplifies the error of the int8 features, but by far less than the collapse:
    assert first_jump(rows) is None or first_jump(rows).name == "logits"


def test_bias_correction_removes_the_mean_shift_on_digits(digits_fp32) -> None:
    x = DIGITS["test_x"]
    plain, _ = digits_engine(int8rt.IInt8MinMaxCalibrator, accuracy_check=False)
    corrected, _ = digits_engine(int8rt.IInt8MinMaxCalibrator, accuracy_check=False, bias_correction=True)
    assert corrected.build_report().bias_corrected_layers == 7  # every conv; the Gemm reads int8 too
    a, b = plain.run({"input": x})["logits"], corrected.run({"input": x})["logits"]
    # A mean shift does not move the centred cosine; the error norm is what it removes.
    assert metrics.relative_l2(digits_fp32, b) < 0.95 * metrics.relative_l2(digits_fp32, a)
    assert metrics.centred_cosine(digits_fp32, b) >= metrics.centred_cosine(digits_fp32, a) - 1e-4
    assert top1(b, DIGITS["test_y"]) >= top1(a, DIGITS["test_y"]) - 1 / 540


def test_add_to_bias_checks_its_arguments() -> None:
    from int8rt import _core
    from int8rt.onnx import import_model

    builder = _core.Builder(import_model(str(MODEL_PATH)), "int8")
    convs = [n["name"] for n in builder.optimized_network().nodes() if n["op"] == "Conv"]
    with pytest.raises(int8rt.InvalidArgumentError, match="not in the optimized network"):
        builder.add_to_bias("no such layer", [0.0])
    with pytest.raises(int8rt.InvalidArgumentError, match="output channels"):
        builder.add_to_bias(convs[0], [0.0])


def test_mixed_precision_keeps_the_fewest_sensitive_layers_in_float(collapse) -> None:
    case, fp32 = collapse
    engine, _ = build(case.model, int8rt.IInt8EntropyCalibrator2, split(case.calib), accuracy_target=0.9)
    mp = engine.build_report().mixed_precision
    assert mp["met"] and mp["score_all_int8"] < 0.5 and mp["score"] >= 0.9
    # The collapsed tensor r1 is Conv_0's output: Conv_0 is the most sensitive layer and goes float.
    assert max(mp["sensitivity"], key=mp["sensitivity"].get) == "Conv_0"
    assert "Conv_0" in mp["float_layers"] and len(mp["float_layers"]) < len(mp["sensitivity"])
    precisions = {layer["name"]: layer["precision"] for layer in engine.layers()}
    # BF16 where the CPU runs it natively and the target is still met so (test_mixed_bf16.py), else FP32
    assert all(precisions[name] == ("bf16" if name in mp["bf16_layers"] else "fp32") for name in mp["float_layers"])
    assert any(p == "int8" for p in precisions.values())
    out = engine.run({"x": case.eval_x})["logits"]
    assert metrics.centred_cosine(fp32, out) > 0.9  # also on inputs the target was not met on
    with pytest.raises(ValueError, match="accuracy_check"):
        build(case.model, int8rt.IInt8EntropyCalibrator2, split(case.calib), accuracy_target=0.9, accuracy_check=False)


def test_html_report_from_the_build_and_from_an_engine_file(tmp_path, collapse, capsys) -> None:
    import importlib.util

    from int8rt.cli import main

    case, _ = collapse
    model, calib = tmp_path / "collapse.onnx", tmp_path / "calib.npz"
    model.write_bytes(case.model)
    np.savez(calib, x=case.calib)
    engine = tmp_path / "e.i8rt"
    assert main(["build", str(model), "--calib-data", str(calib), "--calibrator", "entropy", "-o", str(engine),
                 "--report", str(tmp_path / "built")]) == 0
    assert main(["report", str(engine), str(tmp_path / "again")]) == 0
    capsys.readouterr()
    for folder in ("built", "again"):
        page = (tmp_path / folder / "index.html").read_text()
        linked = importlib.util.find_spec("matplotlib") is not None  # the row links to r1's histogram
        r1 = "<a href='#hist_00.png'>r1</a>" if linked else "r1"
        assert f"<tr class=\"warn\"><td>{r1}</td><td>entropy</td>" in page and "centred cosine" in page
        assert (tmp_path / folder / "sqnr.png").exists() == (importlib.util.find_spec("matplotlib") is not None)


def test_samples_are_counted_along_the_batch_dimension() -> None:
    """holdout.batch_samples: the batch dimension of the ranked inputs, not
    one sample per batch where an input is 0-d or not batch-first."""
    x, state, sr = np.zeros((5, 16), np.float32), np.zeros((2, 5, 128), np.float32), np.array(16000)
    assert batch_samples({"x": x}, {}) == 5
    assert batch_samples({"sr": sr, "x": x}, {}) == 5  # a 0-d input first
    assert batch_samples({"sr": sr}, {}) == 1  # nothing ranked: one sample
    # Silero VAD's inputs as declared: the state's batch is its free axis 1
    silero = {"input": [-1, -1], "state": [2, -1, 128], "sr": []}
    assert batch_samples({"state": state, "input": x, "sr": sr}, silero) == 5
    # every shape fixed at import ([2, 3, 4] beside [3, 8]): the one size both have
    assert batch_samples({"state": np.zeros((2, 3, 4)), "x": np.zeros((3, 8))}, {"state": [2, 3, 4], "x": [3, 8]}) == 3
    # no rule gives one size: one sample
    assert batch_samples({"a": np.zeros((2, 3)), "b": np.zeros((3, 2))}, {"a": [2, 3], "b": [3, 2]}) == 1


def _gain_model() -> bytes:
    """y = relu(x @ w) * g with ``g`` a 0-d input (a scalar per batch): its
    batches cannot be split, and are held out whole."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Relu", ["xw"], ["r"]),
             helper.make_node("Mul", ["r", "g"], ["y"])]
    graph = helper.make_graph(nodes, "gain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8]),
                                              helper.make_tensor_value_info("g", TensorProto.FLOAT, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
                              [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("case", ["scalar input", "state not batch-first"])
def test_report_counts_the_samples_of_whole_batches(case: str) -> None:
    """Batches that are held out whole (a 0-d input beside x [N, 8]; a state
    [2, N, 4] beside x [N, 8], shapes fixed at import) count their N samples
    in the report: 12 batches of 3, every 4th held out, so 9 measured and 27
    setting thresholds (before: 3 and 9, one per batch)."""
    from test_auto_edges import _state_model

    rng = np.random.default_rng(2)
    x = [rng.standard_normal((3, 8)).astype(np.float32) for _ in range(12)]
    if case == "scalar input":
        model, batches = _gain_model(), [{"x": b, "g": np.array(1.5 + i / 8, np.float32)} for i, b in enumerate(x)]
    else:
        model = _state_model(3)
        batches = [{"x": b, "state": rng.standard_normal((2, 3, 4)).astype(np.float32)} for b in x]
    cal = int8rt.make_calibrator(batches, algorithm="minmax")
    report = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=cal)).build_report()
    assert report.measured and report.held_out
    assert (report.check_samples, report.threshold_samples) == (9, 27), report.format()
    assert report.format().startswith("accuracy check on 9 samples"), report.format()
