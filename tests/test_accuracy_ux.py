"""The accuracy tools as a new user meets them (issue 12 §1, §3-§5): clear
errors for bad inputs to ``int8rt compare`` / ``int8rt report``, progress on
the long steps (sensitivity ranking, compare), a report folder written whole
or not at all, the range of a tensor held with a zero point shown as it is
held, and the report's figures against an independent NumPy computation."""
from __future__ import annotations

import io

import numpy as np
import pytest

import int8rt
from int8rt.accuracy import metrics
from int8rt.accuracy.html import write_html
from int8rt.accuracy.report import BuildReport, TensorCheck
from int8rt.cli import main

from accuracy_models import entropy_collapse_case
from test_accuracy_check import calibrator, split


@pytest.fixture(scope="module")
def case():
    return entropy_collapse_case()


@pytest.fixture(scope="module")
def files(case, tmp_path_factory):
    d = tmp_path_factory.mktemp("ux")
    (d / "m.onnx").write_bytes(case.model)
    np.savez(d / "eval.npz", x=case.eval_x)
    cal = calibrator(int8rt.IInt8EntropyCalibrator2, split(case.calib))
    engine = int8rt.build_engine(case.model, int8rt.BuilderConfig(calibrator=cal))
    engine.save(d / "e.i8rt")
    return d, engine


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    rc = main(argv)
    captured = capsys.readouterr()
    return rc, captured.err


def test_compare_refuses_bad_data_with_a_message(files, capsys) -> None:
    d, _ = files
    np.savez(d / "empty.npz", x=np.zeros((0, 1, 8, 8), np.float32))
    (d / "text.npz").write_text("not numpy")
    base = ["compare", str(d / "m.onnx"), "--engine", str(d / "e.i8rt"), "-q", "--data"]
    for data, message in (("empty.npz", "no samples to compare on"),
                          ("text.npz", "is not an .npz file"),
                          ("missing.npz", "does not exist")):
        rc, err = _cli(base + [str(d / data)], capsys)
        assert rc == 1 and message in err, (data, err)


def test_compare_reads_data_as_build_does(files, capsys, tmp_path) -> None:
    """``--data`` takes what ``build --calib-data`` takes: a single-input
    model's .npy and a folder of arrays (a folder used to be "does not
    exist"); the rows are those of the same samples as an .npz."""
    d, _ = files
    x = np.load(d / "eval.npz")["x"][:40]
    np.save(tmp_path / "one.npy", x)
    (tmp_path / "parts").mkdir()
    np.savez(tmp_path / "parts" / "a.npz", x=x[:25])
    np.save(tmp_path / "parts" / "b.npy", x[25:])
    np.savez(tmp_path / "all.npz", x=x)
    base = ["compare", str(d / "m.onnx"), "--engine", str(d / "e.i8rt"), "-q", "--data"]
    tables = []
    for data in ("all.npz", "one.npy", "parts"):
        assert main(base + [str(tmp_path / data)]) == 0
        out = capsys.readouterr().out.splitlines()
        assert "on 40 samples of" in out[0], out[0]
        tables.append(out[1:])
    assert tables[0] == tables[1] == tables[2] and len(tables[0]) > 3
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    for i, img in enumerate(x[:5, 0]):  # the raw digits (0..16) as 8-bit gray pixels
        Image.fromarray((img * 15).astype(np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    assert main(base + [str(tmp_path / "imgs"), "--std", str(15 / 255)]) == 0  # (pixel / 255) / std = img
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("input images: 5 files from") and "on 5 samples of" in out[1]


def test_compare_refuses_a_model_the_engine_was_not_built_from(files, capsys, case) -> None:
    import onnx

    d, _ = files
    other = onnx.load_from_string(case.model)
    other.graph.input[0].name = "image"
    for node in other.graph.node:
        node.input[:] = ["image" if i == "x" else i for i in node.input]
    (d / "other.onnx").write_bytes(other.SerializeToString())
    rc, err = _cli(["compare", str(d / "other.onnx"), "--engine", str(d / "e.i8rt"), "--data",
                    str(d / "eval.npz"), "-q"], capsys)
    assert rc == 1 and "the model's inputs (image) are not the engine's (x)" in err


def test_compare_shows_progress_inside_one_batch(files, case) -> None:
    """A step per engine run of each slice of a batch and per tensor: 24
    PP-OCR crops in one batch showed "0/1 batches" for the whole run, then
    (ux13) nothing during the two engines' runs of the whole batch; now a
    batch runs in up to SLICES slices of samples, and the rows are those of
    one run per batch (the float64 sums in another order: equal to 1e-12)."""
    from int8rt.accuracy import compare as compare_module
    from int8rt.accuracy.compare import SLICE_SAMPLES, SLICES, compare

    _, engine = files
    n = len(case.eval_x)
    one_run = compare_module.SLICES
    try:
        compare_module.SLICES = 1
        whole = compare(case.model, engine, {"x": case.eval_x}, batch_size=1024)
    finally:
        compare_module.SLICES = one_run
    for batch_size in (1024, 64):
        chunks = [min(batch_size, n - start) for start in range(0, n, batch_size)]
        runs = sum(len(range(0, c, max(SLICE_SAMPLES, -(-c // SLICES)))) for c in chunks)
        stream = io.StringIO()
        seen = []
        progress = int8rt.Progress(stream, bars=False)
        original = int8rt.progress.Phase.update

        def update(self, n=1):
            original(self, n)
            seen.append(self.count)

        try:
            int8rt.progress.Phase.update = update
            rows = compare(case.model, engine, {"x": case.eval_x}, batch_size=batch_size, progress=progress)
        finally:
            int8rt.progress.Phase.update = original
        assert runs > len(chunks)  # the premise: a batch runs in several slices
        steps = runs * (len(rows) + 2)
        assert seen == list(range(1, steps + 1))  # one step at a time, within the one batch too
        assert f"int8rt compare: started, {steps} steps" in stream.getvalue()
        assert "int8rt compare: done in" in stream.getvalue() and f"{steps} steps" in stream.getvalue()
        assert [(r.name, r.layer, r.precision) for r in rows] == [(r.name, r.layer, r.precision) for r in whole]
        for r, w in zip(rows, whole):
            assert r.max_abs_error == w.max_abs_error, r.name  # a max: exact, whatever the slices
            assert r.cosine == pytest.approx(w.cosine, rel=1e-12) and r.sqnr_db == pytest.approx(w.sqnr_db, rel=1e-12)


def test_sensitivity_ranking_shows_progress(case) -> None:
    stream = io.StringIO()
    engine = int8rt.build_engine(case.model, int8rt.BuilderConfig(
        calibrator=calibrator(int8rt.IInt8EntropyCalibrator2, split(case.calib)), accuracy_target=0.9,
        progress=int8rt.Progress(stream, bars=False)))
    mp = engine.build_report().mixed_precision
    text = stream.getvalue()
    assert f"int8rt sensitivity: started, {len(mp['sensitivity'])} layers" in text
    assert "int8rt sensitivity: done in" in text
    assert "int8rt mixed precision: started" in text and "int8rt mixed precision: done in" in text
    # what the float layers cost, beside the float32 engine itself (timed, so only its presence is asserted)
    assert mp["ms_fp32"] > 0 and "(FP32 engine: " in engine.build_report().format()


def test_latency_text_says_when_mixed_precision_saves_little_over_fp32() -> None:
    from int8rt.accuracy.report import latency_text

    mp = {"ms_all_int8": 57.0, "ms_chosen": 239.0, "ms_fp32": 240.0}  # PP-OCR rec, process CPU
    assert latency_text(mp) == ("latency 57.000 -> 239.000 ms (FP32 engine: 240.000 ms, saves less than 10% over "
                                "float32)")
    assert latency_text({**mp, "ms_chosen": 150.0}) == "latency 57.000 -> 150.000 ms (FP32 engine: 240.000 ms)"
    assert latency_text({"ms_all_int8": 1.0, "ms_chosen": 2.0}) == "latency 1.000 -> 2.000 ms"  # an older report


def test_a_mixed_engine_slower_than_float32_says_so_and_warns(tmp_path) -> None:
    """PP-OCRv4 rec (auto, --accuracy-target 0.99): 24 convs in float32, the
    engine 596.5 ms against float32's 532.7 ms, read "saves less than 10%
    over float32" and no WARNING line in ``int8rt build``'s text (the log
    record is one the CLI drops as the report's). Now the line says slower,
    and the text and the page carry the warning."""
    from int8rt.accuracy.report import latency_text

    mp = {"target": 0.99, "met": True, "score": 0.9951, "score_all_int8": 0.9538, "sensitivity": {},
          "float_layers": [f"p2o.Conv.{i}" for i in range(24)], "ms_all_int8": 127.512, "ms_chosen": 596.506,
          "ms_fp32": 532.722}
    assert latency_text(mp) == "latency 127.512 -> 596.506 ms (FP32 engine: 532.722 ms, slower than float32)"
    warning = ("mixed precision: with 24 layer(s) in float32 the engine (596.506 ms) is slower than float32 (the "
               "float32 engine: 532.722 ms): the float32 engine serves this target better (int8rt build "
               "--precision fp32); a lower "
               "accuracy_target, or another calibrator, keeps more in int8")
    report = BuildReport(measured=True, mixed_precision=mp)
    assert f"  WARNING: {warning}" in report.format().splitlines()
    assert "<b>warning</b>: " + warning.replace("_", "_") in write_html(report, tmp_path / "p").read_text()
    saving = BuildReport(measured=True, mixed_precision={**mp, "ms_chosen": 500.0})
    assert "  WARNING: mixed precision: with 24 layer(s) in float32 the engine (500.000 ms) is saving less than " \
        "10% over float32 (the float32 engine: 532.722 ms): a lower accuracy_target" in saving.format()
    assert "WARNING" not in BuildReport(measured=True, mixed_precision={**mp, "ms_chosen": 400.0}).format()


def test_report_into_a_file_is_a_clear_error_and_writes_nothing(files, capsys) -> None:
    d, _ = files
    (d / "taken").write_text("mine")
    rc, err = _cli(["report", str(d / "e.i8rt"), str(d / "taken")], capsys)
    assert rc == 1 and "exists and is not a folder" in err
    assert (d / "taken").read_text() == "mine"
    assert not [p for p in d.iterdir() if p.name.startswith(".taken")]


def test_report_folder_is_untouched_when_writing_fails(files, monkeypatch) -> None:
    from int8rt.accuracy import html

    d, engine = files
    folder = d / "report"
    folder.mkdir()
    (folder / "index.html").write_text("old page")

    def broken(report, out, *args):
        (out / "sqnr.png").write_bytes(b"half")
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(html, "_write_page", broken)
    with pytest.raises(RuntimeError, match="plotting failed"):
        write_html(engine.build_report(), folder)
    assert sorted(p.name for p in folder.iterdir()) == ["index.html"]
    assert (folder / "index.html").read_text() == "old page"
    assert not [p for p in d.iterdir() if p.name.startswith(".report")]


def test_zero_point_tensor_shows_the_range_it_is_held_in() -> None:
    sym = TensorCheck(name="a", threshold=4.453, method="mse", clipped=0.02, sqnr_db=20.0, observed_max=4.493)
    assert sym.range_text() == "4.453 / 4.493"
    asym = TensorCheck(name="b", threshold=3.304, method="mse", clipped=0.016, sqnr_db=29.7, observed_max=3.08,
                       low=-2.507, observed_min=-3.08, observed_top=2.208)
    assert asym.range_text() == "[-2.507, 3.304] / [-3.08, 2.208]"
    report = BuildReport(measured=True, tensors=(asym,))
    assert "[-2.507, 3.304] / [-3.08, 2.208]" in report.format()
    again = BuildReport.from_json(report.to_json())
    assert again.tensors[0] == asym


def test_sum_squares_keeps_both_ends() -> None:
    acc = metrics.SumSquares()
    acc.add(np.array([-3.0, 1.0], np.float32), 0.05, -18)
    acc.add(np.array([0.5, 2.0], np.float32), 0.05, -18)
    assert (acc.min, acc.max, acc.max_abs) == (-3.0, 2.0, 3.0)
    # held on [(-128 + 18) * 0.05, (127 + 18) * 0.05] = [-5.5, 7.25]: nothing clips
    assert acc.clipped == 0


def _independent(x: np.ndarray, scale: float, zero_point: int) -> tuple[float, float]:
    """Clipped share and SQNR of ``x`` on the grid, in float64 NumPy, from the definitions."""
    x = x.astype(np.float64).ravel()
    s = float(np.float32(scale))
    q = np.clip(np.rint(x / s) + zero_point, -128, 127)
    xq = (q - zero_point) * s
    clipped = np.mean((x / s + zero_point > 127.5) | (x / s + zero_point < -128.5))
    return float(clipped), float(10 * np.log10(np.sum(x * x) / np.sum((x - xq) ** 2)))


def test_report_figures_agree_with_an_independent_computation(files, case) -> None:
    """r1 (the collapsed ReLU) and the output, recomputed from the float32
    network's values on the held-out samples (every 4th, index 3, 7, ...)."""
    from int8rt.accuracy.taps import int8_scales, int8_zero_points

    _, engine = files
    report = engine.build_report()
    held = case.calib[3::4]
    assert report.check_samples == len(held)
    fp32 = int8rt.build_engine(case.model, int8rt.BuilderConfig(precision="fp32"))
    lowered = engine.network()
    scales, zps = int8_scales(lowered), int8_zero_points(lowered)
    r1 = _relu_conv(case, held)
    clipped, sqnr = _independent(r1, scales["r1"], zps.get("r1", 0))
    t = report.tensor("r1")
    assert t.clipped == pytest.approx(clipped, abs=1e-9) and clipped > 0.3
    assert t.sqnr_db == pytest.approx(sqnr, abs=0.01)
    ref, got = fp32.run({"x": held})["logits"], engine.run({"x": held})["logits"]
    r, g = ref.astype(np.float64), got.astype(np.float64)
    rc, gc = r - r.mean(0), g - g.mean(0)
    centred = float((rc * gc).sum() / np.sqrt((rc * rc).sum() * (gc * gc).sum()))
    assert report.outputs[0].centred_cosine == pytest.approx(centred, abs=1e-6)


def _relu_conv(case, x: np.ndarray) -> np.ndarray:
    """r1 = ReLU(Conv3x3(x, w1, b1), pad 1), in NumPy from the model's weights."""
    import onnx
    from onnx import numpy_helper

    w = {i.name: numpy_helper.to_array(i) for i in onnx.load_from_string(case.model).graph.initializer}
    w1, b1 = w["w1"].astype(np.float64), w["b1"].astype(np.float64)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((len(x), w1.shape[0], x.shape[2], x.shape[3]))
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + x.shape[2], j:j + x.shape[3]], w1[:, :, i, j])
    return np.maximum(out + b1.reshape(1, -1, 1, 1), 0).astype(np.float32)


def test_coarse_histogram_sums_bins_exactly() -> None:
    from int8rt.accuracy.report import HISTOGRAM_BINS, coarse_histogram

    counts = np.arange(2048)
    width, coarse = coarse_histogram(counts, 0.01, 1.30)  # 130 bins used: merged 3 at a time, 44 bins
    assert width == pytest.approx(0.03) and len(coarse) == 44 <= HISTOGRAM_BINS
    assert coarse[0] == 0 + 1 + 2 and coarse[-1] == 129 and sum(coarse) == sum(range(130))


def test_report_keeps_each_tensors_histogram_and_draws_the_warned_one(files, case, tmp_path) -> None:
    import importlib.util

    _, engine = files
    report = engine.build_report()
    r1 = report.tensor("r1")
    width, counts = r1.histogram
    kept = len(case.calib) - len(case.calib[3::4])  # the thresholds' samples
    assert sum(counts) == kept * 16 * 8 * 8
    # the spike the collapse comes from: every channel's 0.8 over the background
    spike = int(0.8 // width)
    assert counts[spike] > 2 * max(counts[spike - 1], counts[spike + 1])
    assert BuildReport.from_json(report.to_json()) == report
    page = write_html(report, tmp_path / "r").read_text()
    if importlib.util.find_spec("matplotlib") is not None:
        assert "hist_00.png" in page and (tmp_path / "r" / "hist_00.png").stat().st_size > 0
        assert "<a href='#hist_00.png'>r1</a>" in page  # the warned tensor's row links to its plot


class _Lowered:
    """A lowered network as taps reads it (tensors, nodes, outputs): conv c
    (int8, scale 0.05, zero point -78: held on [-2.5, 10.25]) ->
    Dequantize -> ``reader`` in float32."""

    def __init__(self, reader: str, attrs: dict) -> None:
        self._tensors = [{"name": n, "dtype": d, "is_constant": False}
                         for n, d in (("x", "float32"), ("c::int8", "int8"), ("c", "float32"), ("y", "float32"))]
        self._nodes = [
            {"name": "conv", "op": "int8rt.QConv", "inputs": [0], "outputs": [1],
             "attrs": {"out_scale": 0.05, "out_zero_point": -78}},
            {"name": "c::dequantize", "op": "int8rt.Dequantize", "inputs": [1], "outputs": [2],
             "attrs": {"scale": 0.05, "zero_point": -78}},
            {"name": "gate", "op": reader, "inputs": [2], "outputs": [3], "attrs": attrs}]

    def tensors(self):
        return self._tensors

    def nodes(self):
        return self._nodes

    def outputs(self):
        return [3]


def test_a_gate_input_read_in_float_is_measured_as_its_reader_sees_it() -> None:
    """PP-OCR's SE gates: the lowering holds a HardSigmoid's input on [-2.5, T]
    for a table, the region then runs in float behind a Dequantize; the
    check and compare measured the raw tensor (det: '100% clipped')."""
    from int8rt.accuracy.taps import as_read, flat_ceilings, flat_floors

    gate = _Lowered("HardSigmoid", {"alpha": 0.2, "beta": 0.5})  # flat below -2.5 and above 2.5
    assert flat_floors(gate) == {"c": pytest.approx(-2.5)} and flat_ceilings(gate) == {"c": pytest.approx(10.25)}
    x = np.array([-60.0, -2.6, 0.3, 11.0, 52.0], np.float32)
    assert as_read(x, -2.5, 10.25).tolist() == pytest.approx([-2.5, -2.5, 0.3, 10.25, 10.25])
    assert flat_floors(_Lowered("Relu", {})) == {"c": pytest.approx(-2.5)} and flat_ceilings(_Lowered("Relu", {})) == {}
    # a reader that is not flat there (Sigmoid): the clipping counts; a HardSigmoid flat below -5
    # and above 5: what the grid clips above 10.25 does not count, below -2.5 it does
    assert flat_floors(_Lowered("Sigmoid", {})) == {} and flat_ceilings(_Lowered("Sigmoid", {})) == {}
    wide = _Lowered("HardSigmoid", {"alpha": 0.1, "beta": 0.5})
    assert flat_floors(wide) == {} and flat_ceilings(wide) == {"c": pytest.approx(10.25)}


def test_an_int8_gate_input_is_measured_as_its_table_reads_it() -> None:
    """The same SE gate after the int8-gate lowering (lower_int8_gates.cc): no
    float layer runs, QChannelMul reads the excitation conv's codes through
    the gate's 256 float values. The input is held on [-3, T] (HardSigmoid
    with alpha 1/6 is flat below -3) and the table saturates inside the grid
    (T > 3), so neither end's clipping counts; before, the table reader hid
    both bounds and PP-OCR cls warned of 2.8-14% clipped SE inputs again."""
    from onnx import numpy_helper

    from int8rt.accuracy.taps import flat_ceilings, flat_floors, int8_scales, int8_zero_points
    from test_pointwise_tables import build
    from test_se_gates import se_block

    m = se_block("HardSigmoid")
    for i, t in enumerate(m.graph.initializer):
        if t.name in ("we", "be"):  # excitations past +-3: the gate saturates inside the grid
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) * 8, t.name))
    lowered = build(m, asymmetric_activations=True).network()
    assert any(n["op"] == "int8rt.QChannelMul" and len(n["inputs"]) == 4 for n in lowered.nodes())
    scale, zero_point = int8_scales(lowered)["e"], int8_zero_points(lowered)["e"]
    assert flat_floors(lowered) == {"e": pytest.approx((-128 - zero_point) * scale, rel=1e-6)}
    assert flat_floors(lowered)["e"] == pytest.approx(-3.0, abs=scale)
    ceiling = (127 - zero_point) * scale
    assert ceiling > 3 and flat_ceilings(lowered) == {"e": pytest.approx(ceiling, rel=1e-6)}


def test_page_says_why_it_has_no_rows_or_histograms(tmp_path) -> None:
    """An engine built from a calibration cache reads no data: the page says
    it has no rows, histograms or plots and why, and a measured report whose
    tensors have no histogram names them instead of drawing nothing."""
    cached = BuildReport(measured=False, reason="the scales came from the calibration cache, so no data was read")
    page = write_html(cached, tmp_path / "cache").read_text()
    assert "Not measured: the scales came from the calibration cache" in page
    assert "no per-tensor rows, histograms or plots" in page and "<img" not in page
    with_hist = TensorCheck(name="a", threshold=4.0, method="mse", clipped=0.0, sqnr_db=30.0, observed_max=3.9,
                            histogram=(0.1, (5, 3, 1)))
    without = TensorCheck(name="b", threshold=2.0, method="mse", clipped=0.0, sqnr_db=31.0, observed_max=1.9)
    page = write_html(BuildReport(measured=True, tensors=(with_hist, without)), tmp_path / "old").read_text()
    assert "No calibration histogram for 1 of the 2 int8 tensors (b)" in page
    page = write_html(BuildReport(measured=True, tensors=(with_hist,)), tmp_path / "all").read_text()
    assert "No calibration histogram" not in page


def _state_model() -> bytes:
    """y = Relu(x W) + sum over axis 0 of state: x [N, 4] beside a state
    [2, N, 4] whose samples are on axis 1, as Silero VAD's LSTM state."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(1).standard_normal((4, 4)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("ReduceSum", ["state", "axes"], ["s"], keepdims=0),
             helper.make_node("Add", ["r", "s"], ["y"])]
    graph = helper.make_graph(nodes, "state", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4]),
                                               helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, "N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([0], np.int64), "axes")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_compare_keeps_a_state_on_axis_1_whole(tmp_path, capsys) -> None:
    """Cut along axis 0 in chunks of --batch-size, a state [2, N, H] stayed
    whole beside a chunk of x: Silero VAD failed with "initial_h is [1, 16,
    128], expected [1, 4, 128]". Such data runs as one batch; --limit, which
    cuts axis 0, says why it cannot."""
    from int8rt.accuracy.compare import compare

    model = _state_model()
    rng = np.random.default_rng(2)
    x, state = rng.standard_normal((40, 4)).astype(np.float32), rng.standard_normal((2, 40, 4)).astype(np.float32)
    batches = [{"x": x[i:i + 8], "state": state[:, i:i + 8]} for i in range(0, 40, 8)]
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=int8rt.make_calibrator(batches,
                                                                                               algorithm="minmax")))
    whole = compare(model, engine, {"x": x, "state": state}, batch_size=1000)
    cut = compare(model, engine, {"x": x, "state": state}, batch_size=4)
    assert whole == cut and {r.name for r in whole} >= {"y"}
    (tmp_path / "m.onnx").write_bytes(model)
    engine.save(tmp_path / "e.i8rt")
    np.savez(tmp_path / "d.npz", x=x, state=state)
    base = ["compare", str(tmp_path / "m.onnx"), "--engine", str(tmp_path / "e.i8rt"), "--data",
            str(tmp_path / "d.npz"), "-q", "--batch-size", "4"]
    assert main(base) == 0 and "on 40 samples of" in capsys.readouterr().out
    rc, err = _cli(base + ["--limit", "8"], capsys)
    assert rc == 1 and "--limit cuts axis 0, which is not every input's sample axis" in err


def test_a_clip_no_method_avoids_says_calibration_never_saw_such_values(caplog) -> None:
    """Held-out samples three times larger than every calibrating one: every
    method's threshold clips them. The warning used to name the "best" method
    anyway (EfficientNet-B0's squeeze conv: "entropy would set 7.533, clipping
    1.25%", as much as its own); it now says the calibration data never
    reached those values, and how many values the share is of."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.eye(4, dtype=np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    x = np.random.default_rng(3).uniform(-1, 1, (64, 4)).astype(np.float32)
    x[3::4] *= 3  # the held-out samples (every 4th, index 3, 7, ...)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=int8rt.make_calibrator(
        {"x": x}, algorithm="minmax", batch_size=64)))
    report = engine.build_report()
    t = report.tensor("x")
    kept = np.abs(np.delete(x, np.s_[3::4], axis=0)).max()
    assert t.threshold == pytest.approx(kept, rel=1e-6)
    from int8rt.accuracy.taps import int8_scales

    scale = float(np.float32(int8_scales(engine.network())["x"]))  # the float32 scale the engine holds
    codes = x[3::4].astype(np.float64) / scale
    clipped = int(np.sum((codes > 127.5) | (codes < -128.5)))  # past the rounding range of codes 127 / -128
    (warning,) = [w for w in report.warnings if w.startswith("tensor 'x'")]
    assert f"clips {100 * clipped / 64:.2f}% of its values ({clipped} of 64 values, threshold" in warning
    assert "no calibration method's threshold clips 1% or less" in warning
    assert f"the held-out values reach {np.abs(x[3::4]).max():.4g}, the calibration data's largest |x| was" in warning


def test_rows_of_tensors_equalization_rescaled_say_so(tmp_path) -> None:
    """GoogLeNet (auto kept cross-layer equalization, 19 tensors): relu_46's
    row read `observed max 11.83` where the model's relu_46 reaches 10.83 in
    ONNX Runtime: the engine holds the model's values divided per channel.
    The text and the page now mark such rows and say what the figures are of."""
    import json

    from int8rt.accuracy.equalize import RESCALED_KEY
    from int8rt.accuracy.report import RESCALED_NOTE, rescaled_tensors

    rescaled = rescaled_tensors({RESCALED_KEY: json.dumps({"a": [1.0, 0.5]})})
    assert rescaled == {"a"} and rescaled_tensors({}) == frozenset()
    a = TensorCheck(name="a", threshold=9.451, method="auto:all mse", clipped=0.0, sqnr_db=40.5, observed_max=11.83)
    b = TensorCheck(name="b", threshold=2.0, method="auto:all mse", clipped=0.0, sqnr_db=41.0, observed_max=1.9)
    report = BuildReport(measured=True, tensors=(a, b))
    lines = report.format(all_tensors=True, rescaled=rescaled).splitlines()
    assert [line.endswith("auto:all mse (rescaled)") for line in lines[2:4]] == [True, False]
    assert lines[-1] == f"    (rescaled): {RESCALED_NOTE}"
    assert "(rescaled)" not in report.format(all_tensors=True)
    page = write_html(report, tmp_path / "r", rescaled=rescaled).read_text()
    assert "<td>auto:all mse (rescaled)</td>" in page and "int8rt compare undoes them" in page


def test_a_build_from_a_cache_with_data_is_measured_on_its_held_out_slice(case, tmp_path, capsys) -> None:
    """``int8rt build --cache C --calib-data D`` (C present): the scales are
    the cache's, and the check measures D's held-out slice (every 4th
    sample), as a build calibrating on D holds it out; the report said "not
    measured" until 2026-12-05 (ux14). The figures equal those of the build
    that wrote the cache (same scales, same samples); without data, and for
    a calibrator of the user's own class, the report says why not."""
    np.savez(tmp_path / "cal.npz", x=case.calib)
    model, cache = tmp_path / "m.onnx", tmp_path / "c.cache"
    model.write_bytes(case.model)
    base = ["build", str(model), "--calibrator", "entropy", "--cache", str(cache)]
    assert main(base + ["--calib-data", str(tmp_path / "cal.npz"), "-o", str(tmp_path / "a.i8rt"), "-q"]) == 0
    first = capsys.readouterr().out
    assert cache.exists()
    assert main(base + ["--calib-data", str(tmp_path / "cal.npz"), "-o", str(tmp_path / "b.i8rt"), "-q"]) == 0
    second = capsys.readouterr().out
    held = len(case.calib[3::4])
    assert f"accuracy check on {held} samples (the slice a build calibrating on this data holds out;" in second
    assert "thresholds from the calibration cache (EntropyCalibration2), none from these samples" in second
    a = int8rt.Engine.load(tmp_path / "a.i8rt").build_report()
    b = int8rt.Engine.load(tmp_path / "b.i8rt").build_report()
    assert b.measured and b.thresholds_from_cache and b.threshold_samples == 0 and b.check_samples == held
    assert [(t.name, t.clipped, t.sqnr_db, t.threshold) for t in b.tensors] == \
        [(t.name, t.clipped, t.sqnr_db, t.threshold) for t in a.tensors]
    assert [(o.centred_cosine, o.relative_l2) for o in b.outputs] == [(o.centred_cosine, o.relative_l2) for o in a.outputs]
    assert all(t.method == "cache (EntropyCalibration2)" and t.histogram is None for t in b.tensors)
    page = write_html(b, tmp_path / "page").read_text()
    assert (f"No calibration histogram for the {len(b.tensors)} int8 tensors: the scales came from the calibration "
            "cache") in page and "<td>cache (EntropyCalibration2)</td>" in page
    assert [w for w in a.warnings if w.startswith("output")] == [w for w in b.warnings if w.startswith("output")]
    assert "tensor 'r1' (entropy) clips 50.09%" in first  # the collapse is warned of from the cache too,
    assert "tensor 'r1' (cache (EntropyCalibration2)) clips 50.09%" in second  # saying why no other method is named
    assert "no calibration histogram to recompute another method's threshold from" in second
    # --accuracy-target from the cache with data: met on the same slice (it was skipped without a word before)
    assert main(base + ["--calib-data", str(tmp_path / "cal.npz"), "-o", str(tmp_path / "t.i8rt"), "-q",
                        "--accuracy-target", "0.9"]) == 0
    mp = int8rt.Engine.load(tmp_path / "t.i8rt").build_report().mixed_precision
    assert mp["met"] and mp["float_layers"] and "mixed precision: target 0.9, met" in capsys.readouterr().out
    # the cache alone: nothing to measure on, and the report says how to get it, and that the target was not applied
    assert main(base + ["-o", str(tmp_path / "c.i8rt"), "-q", "--accuracy-target", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "not measured (the scales came from the calibration cache and no calibration data was given" in out
    assert "accuracy_target 0.9 not applied (it is met on measured samples)" in out
    # a calibrator of the user's own class is not asked for batches after a cache hit (TensorRT's contract)
    asked = []

    class Own(int8rt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__()

        def get_batch_size(self) -> int:
            return 8

        def get_batch(self, names):
            asked.append(names)
            return None

        def read_calibration_cache(self):
            return cache.read_bytes()

        def write_calibration_cache(self, data) -> None:
            pass

    report = int8rt.build_engine(case.model, int8rt.BuilderConfig(calibrator=Own())).build_report()
    assert not asked and not report.measured and "was not asked for data (as TensorRT)" in report.reason


def test_a_target_all_int8_meets_ranks_no_layer(case) -> None:
    """An all-int8 engine that meets the target ships as it is, without the
    sensitivity ranking (HF ConvNeXt, auto, target 0.99: 0.9984 all int8,
    then 95 engines built and run, 111 s, to keep none in float32); the
    line says so and gives one latency, timed once."""
    stream = io.StringIO()
    cal = calibrator(int8rt.IInt8MinMaxCalibrator, split(case.calib))
    engine = int8rt.build_engine(case.model, int8rt.BuilderConfig(
        calibrator=cal, accuracy_target=0.5, progress=int8rt.Progress(stream, bars=False)))
    mp = engine.build_report().mixed_precision
    assert mp["score_all_int8"] >= 0.5 and mp["float_layers"] == [] and mp["sensitivity"] == {}
    assert mp["ms_all_int8"] == mp["ms_chosen"]
    assert "sensitivity" not in stream.getvalue()
    held = case.calib[3::4]  # the check's samples; the score recomputed: centred cosine with FP32 there
    ref = int8rt.build_engine(case.model, int8rt.BuilderConfig(precision="fp32")).run({"x": held})["logits"]
    got = engine.run({"x": held})["logits"]
    r, g = ref.astype(np.float64) - ref.mean(0), got.astype(np.float64) - got.mean(0)
    score = float((r * g).sum() / np.sqrt((r * r).sum() * (g * g).sum()))
    line = next(t for t in engine.build_report().format().splitlines() if "mixed precision" in t)
    assert (f"target 0.5, met: score {score:.4f} (all int8 {score:.4f}) with every layer "
            f"int8 (it meets the target: no layer ranked); latency {mp['ms_chosen']:.3f} ms (FP32 engine: ") in line


def test_sensitivity_plot_of_long_region_names_warns_nothing(tmp_path) -> None:
    """HF ViT's attention region is one layer named by its six nodes joined
    with '+': at a fixed 7-inch width matplotlib printed "Tight layout not
    applied" into ``int8rt build``'s output. The labels are shortened and the
    plot sized to them; no warning."""
    import warnings

    pytest.importorskip("matplotlib")
    from int8rt.accuracy.html import _short

    region = "+".join(["node_MatMul_733", "node_Add_734", "node_Softmax_735", "node_IsNaN_736", "node_Where_737",
                       "node_scaled_dot_product_attention_10"])
    assert _short(region) == "node_MatMul_733+...+node_scaled_dot_product_attention_10 (6 ops)"
    assert _short("node_MatMul_94") == "node_MatMul_94"
    sensitivity = {region: 0.01, **{f"node_MatMul_{i}": 0.001 * i for i in range(45)}}
    mp = {"target": 0.998, "met": True, "score": 0.9982, "score_all_int8": 0.9945, "float_layers": ["node_MatMul_44"],
          "sensitivity": sensitivity, "ms_all_int8": 51.7, "ms_chosen": 65.5, "ms_fp32": 157.5}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        page = write_html(BuildReport(measured=True, mixed_precision=mp), tmp_path / "p").read_text()
    assert "sensitivity.png" in page and (tmp_path / "p" / "sensitivity.png").exists()
