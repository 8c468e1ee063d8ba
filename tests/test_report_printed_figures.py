"""Every figure the build report and ``int8rt compare`` print, recomputed
independently to the printed digit (issue 12 §1, §4, §5).

Two networks: the entropy-collapse CNN of accuracy_models.py (per-tensor
grids, class scores) and test_channel_grids.py's chain, whose activations
are held on per-channel grids (``channel_activations``, on by default):
those tensors had no row in the report or compare until 2026-12-05 (ux13).

The oracle: the float32 values of the tensors (int8rt's FP32 engine with
the tensors marked as outputs, or the chain's NumPy convolution) on the
held-out samples (every 4th calibration sample, index 3, 7, ...), quantized
in float64 NumPy on the grids the engine's int8 plan gives
(``engine.int8_plan()``: a scale, or one per channel), and the outputs of
the two engines; each printed line (text report, the page's table rows,
``compare``'s table, the mixed-precision scores) is rebuilt with the
report's format and compared as text."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

import int8rt
from int8rt.accuracy.compare import compare, format_comparison
from int8rt.accuracy.html import write_html

import test_channel_grids as chain
from accuracy_models import entropy_collapse_case
from test_accuracy_check import calibrator, split


def _grid_figures(x: np.ndarray, scales: np.ndarray) -> tuple[float, float]:
    """(clipped share, SQNR dB) of float32 values ``x`` [N, C, ...] on a
    symmetric int8 grid, ``scales`` one float32 scale or one per channel
    (axis 1), from the definitions in float64."""
    x = x.astype(np.float64)
    s = np.asarray(scales, np.float32).astype(np.float64)
    if s.ndim:
        s = s.reshape((1, -1) + (1,) * (x.ndim - 2))
    q = np.clip(np.rint(x / s), -128, 127)
    clipped = np.mean((x / s > 127.5) | (x / s < -128.5))
    return float(clipped), float(10 * np.log10(np.sum(x * x) / np.sum((x - q * s) ** 2)))


def _with_outputs(model: bytes, names: list[str]) -> bytes:
    m = onnx.load_from_string(model)
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(m).graph.value_info}
    m.graph.output.extend(inferred[n] for n in names)
    return m.SerializeToString()


def _tensor_line(name: str, width: int, clipped: float, sqnr: float, held: str, seen: str, method: str) -> str:
    return f"    {name:<{width}}  {sqnr:6.1f}  {100 * clipped:7.3f}%  {held} / {seen}  {method}"


@pytest.fixture(scope="module")
def chain_engine() -> int8rt.Engine:
    return int8rt.build_engine(chain.chain_model(chain.SPREAD), int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator({"x": chain.X_CAL}, algorithm="minmax", batch_size=8)))


def test_per_channel_tensors_have_rows_measured_per_channel(chain_engine, tmp_path) -> None:
    report = chain_engine.build_report()
    plan = {t.tensor: (t.scale, np.asarray(t.channel_scales, np.float32)) for t in chain_engine.int8_plan().tensors}
    per_channel = [n for n, (_, cs) in plan.items() if cs.size]
    assert per_channel == ["c1", "h1", "d1", "h2"]  # the premise: the chain's four activations
    # network order; y, the pointwise conv's output and the network's, is written in float32 by
    # the conv (lower_int8_conv_head.cc): no int8 grid, no row
    assert [t.name for t in report.tensors] == ["x", "c1", "h1", "d1", "h2"]

    held = chain.X_CAL[3::4]
    assert report.check_samples == len(held)
    fp32 = int8rt.build_engine(_with_outputs(chain.chain_model(chain.SPREAD), per_channel),
                               int8rt.BuilderConfig(precision="fp32")).run({"x": held})
    values = {"x": held, **{n: fp32[n] for n in per_channel}}
    lines = report.format(all_tensors=True).splitlines()
    page = write_html(report, tmp_path / "page").read_text()
    width = max(len(t.name) for t in report.tensors)
    for t in report.tensors:
        scale, channels = plan[t.name]
        v = values[t.name]
        clipped, sqnr = _grid_figures(v, channels if channels.size else np.float32(scale))
        seen = f"{np.abs(v).max():.4g}"
        if channels.size:
            tops = [float(np.float32(s) * np.float32(127)) for s in channels]
            held_text = f"{min(tops):.4g} to {max(tops):.4g} per channel ({len(tops)})"
            assert t.channel_thresholds == pytest.approx(tops, rel=1e-6)
        else:
            held_text = f"{float(np.float32(scale) * np.float32(127)):.4g}"
        assert _tensor_line(t.name, width, clipped, sqnr, held_text, seen, "minmax") in lines, t.name
        assert f"<td>{held_text}</td><td>{seen}</td><td>{100 * clipped:.3f}</td><td>{sqnr:.1f}</td>" in page, t.name
        assert t.clipped == pytest.approx(clipped, abs=1e-12)
        assert t.sqnr_db == pytest.approx(sqnr, abs=1e-4)
    # the check tells the grids apart: c1 on the widest channel's one scale measures 2 dB lower
    one_grid = _grid_figures(values["c1"], np.float32(max(plan["c1"][1])))[1]
    assert report.tensor("c1").sqnr_db > one_grid + 1


def test_per_channel_rows_in_compare_and_on_the_page(chain_engine, tmp_path) -> None:
    """compare's rows for the per-channel tensors (their int8 copy read back
    at each channel's scale), every printed figure recomputed from the two
    engines' values; the page has their rows and, with matplotlib, plots."""
    import importlib.util

    from int8rt.accuracy.taps import int8_channel_scales, int8_tap_engine

    model = chain.chain_model(chain.SPREAD)
    x = chain.X_EVAL
    rows = compare(model, chain_engine, {"x": x})
    by_name = {r.name: r for r in rows}
    assert {"c1", "h1", "d1", "h2"} <= {r.name for r in rows if r.precision == "int8"}
    names = ["c1", "h1", "d1", "h2"]
    fp32 = int8rt.build_engine(_with_outputs(model, names), int8rt.BuilderConfig(precision="fp32")).run({"x": x})
    lowered = chain_engine.network()
    shapes = {n: [len(x), chain.C, chain.H, chain.W] for n in names}
    tap, where = int8_tap_engine(lowered, shapes, names)
    got = tap.create_execution_context().run({"x": x})
    channel_scales = int8_channel_scales(lowered)
    text = format_comparison(rows).splitlines()
    width = max([len(r.name) for r in rows] + [len("tensor")])
    for n in names:
        s = np.asarray(channel_scales[n], np.float32).reshape(1, -1, 1, 1)
        codes = np.rint(got[where[n]].astype(np.float64) / s)
        # each channel's int8 codes times its own scale (float32), as the Dequantize computes them
        assert np.array_equal(got[where[n]], codes.astype(np.float32) * s), n
        assert codes.min() >= -128 and codes.max() <= 127, n
        q = got[where[n]].astype(np.float64)
        assert len(np.unique(np.abs(codes))) > 20  # spans its grid, not a constant
        r = fp32[n].astype(np.float64)
        cos = float((r * q).sum() / np.sqrt((r * r).sum() * (q * q).sum()))
        sqnr = float(10 * np.log10((r * r).sum() / ((r - q) ** 2).sum()))
        err = float(np.abs(r - q).max())
        row = by_name[n]
        line = (f"{n:<{width}}  {'int8':<9} {cos:9.5f} {sqnr:8.2f} {err:10.4g}  {row.layer} ({row.op})")
        assert line in text, (n, line)
    page = write_html(chain_engine.build_report(), tmp_path / "r").read_text()
    assert "per channel (8)" in page and ">c1<" in page
    if importlib.util.find_spec("matplotlib") is not None:
        assert "channels' tops" in _histogram_labels(chain_engine.build_report())


def _histogram_labels(report) -> str:
    """The legend texts of the report's first histogram plot (drawn into a figure kept open)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from int8rt.accuracy import html

    shown = []
    original = plt.close

    def keep(fig=None):
        if fig is not None:
            shown.extend(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
        original(fig)

    plt.close = keep
    try:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as d:
            html._histogram_plots(report, Path(d), plt)
    finally:
        plt.close = original
    return "\n".join(shown)


def test_every_printed_output_figure_of_the_collapse_report() -> None:
    """The collapse model (entropy): the output line's six figures and the
    five tensor rows, recomputed from the FP32 engine's values of the
    held-out samples."""
    case = entropy_collapse_case()
    engine = int8rt.build_engine(case.model, int8rt.BuilderConfig(
        calibrator=calibrator(int8rt.IInt8EntropyCalibrator2, split(case.calib))))
    report = engine.build_report()
    held = case.calib[3::4]
    names = [t.name for t in report.tensors if t.name != "x"]
    fp32 = int8rt.build_engine(_with_outputs(case.model, [n for n in names if n != "logits"]),
                               int8rt.BuilderConfig(precision="fp32")).run({"x": held})
    r, g = fp32["logits"].astype(np.float64), engine.run({"x": held})["logits"].astype(np.float64)
    rc, gc = r - r.mean(0), g - g.mean(0)
    centred = (rc * gc).sum() / np.sqrt((rc * rc).sum() * (gc * gc).sum())
    cosine = (r * g).sum() / np.sqrt((r * r).sum() * (g * g).sum())
    rel = np.sqrt(((r - g) ** 2).sum() / (r * r).sum())
    agree = np.mean(r.argmax(1) == g.argmax(1))
    base = np.bincount(r.argmax(1)).max() / len(r)
    line = (f"  output logits: centred cosine {centred:.4f}, cosine {cosine:.4f}, relative L2 {rel:.4f}, "
            f"max |err| {np.abs(r - g).max():.4g}, top-1 agreement {agree:.4f} (a constant output: {base:.4f})")
    text = report.format(all_tensors=True)
    assert line in text.splitlines(), (line, text)
    assert agree > base  # the figures are of a classifier that still works on some inputs
    plan = {t.tensor: t.scale for t in engine.int8_plan().tensors}
    width = max(len(t.name) for t in report.tensors)
    values = {"x": held, **{n: fp32[n] for n in names}}
    for t in report.tensors:
        v = values[t.name]
        clipped, sqnr = _grid_figures(v, np.float32(plan[t.name]))
        held_text = f"{float(np.float32(plan[t.name]) * np.float32(127)):.4g}"
        assert _tensor_line(t.name, width, clipped, sqnr, held_text, f"{np.abs(v).max():.4g}", t.method) \
            in text.splitlines(), t.name


def _centred(r: np.ndarray, g: np.ndarray) -> float:
    r, g = r.astype(np.float64), g.astype(np.float64)
    rc, gc = r - r.mean(0), g - g.mean(0)
    return float((rc * gc).sum() / np.sqrt((rc * rc).sum() * (gc * gc).sum()))


def test_the_mixed_precision_line_scores() -> None:
    """``mixed precision: target 0.9, met: score S (all int8 A)``: S is the
    shipped engine's centred cosine with FP32 on the held-out samples, A the
    same of the engine built alike without a target (the same calibrator on
    the same data); both recomputed to the printed digit. The latencies are
    timings, not recomputable."""
    case = entropy_collapse_case()

    def build(**kw) -> int8rt.Engine:
        return int8rt.build_engine(case.model, int8rt.BuilderConfig(
            calibrator=calibrator(int8rt.IInt8EntropyCalibrator2, split(case.calib)), **kw))

    chosen, all_int8 = build(accuracy_target=0.9), build()
    held = case.calib[3::4]
    ref = int8rt.build_engine(case.model, int8rt.BuilderConfig(precision="fp32")).run({"x": held})["logits"]
    score = _centred(ref, chosen.run({"x": held})["logits"])
    score0 = _centred(ref, all_int8.run({"x": held})["logits"])
    mp = chosen.build_report().mixed_precision
    line = next(t for t in chosen.build_report().format().splitlines() if "mixed precision" in t)
    assert f"target 0.9, met: score {score:.4f} (all int8 {score0:.4f}) with {len(mp['float_layers'])} layer(s)" \
        in line, line
    assert score0 < 0.5 <= 0.9 <= score  # a real collapse and a real repair


def test_a_clipping_per_channel_tensor_names_its_worst_channel() -> None:
    """The chain's held-out samples (every 4th) three times the calibrating
    ones: each channel's grid (min(channel max, threshold) / 127) clips them.
    The warning names the channel that clips the largest share of its values,
    recomputed from the float32 values on the plan's channel scales."""
    x = chain.X_CAL.copy()
    x[3::4] *= 3
    model = chain.chain_model(chain.SPREAD)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator({"x": x}, algorithm="minmax", batch_size=8)))
    plan = {t.tensor: np.asarray(t.channel_scales, np.float32) for t in engine.int8_plan().tensors}
    held = x[3::4]
    c1 = int8rt.build_engine(_with_outputs(model, ["c1"]), int8rt.BuilderConfig(precision="fp32")).run(
        {"x": held})["c1"].astype(np.float64)
    codes = c1 / plan["c1"].astype(np.float64).reshape(1, -1, 1, 1)
    share = ((codes > 127.5) | (codes < -128.5)).mean(axis=(0, 2, 3))
    k = int(np.argmax(share))
    top = float(np.float32(plan["c1"][k]) * np.float32(127))
    (warning,) = [w for w in engine.build_report().warnings if w.startswith("tensor 'c1'")]
    assert f"; most in channel {k} ({100 * share[k]:.2f}% of its values, top {top:.4g})" in warning, warning
    assert f"clips {100 * share.mean():.2f}% of its values" in warning


def test_per_channel_tops_beside_held_out_maxima(tmp_path) -> None:
    """Calibration keeps channel maxima, not per-channel histograms, so the
    page shows each channel's top beside its largest held-out |x| (no made-up
    histogram): the figures recomputed from the float32 values on the
    held-out samples and the plan's channel scales; the caption's count of
    channels past their top, here where the held-out samples are half the
    calibrating ones but one, 1.3 times (some channels clip, some do not)."""
    x = chain.X_CAL.copy()
    x[3::4] *= 0.5
    x[3] *= 2.6
    model = chain.chain_model(chain.SPREAD)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator({"x": x}, algorithm="minmax", batch_size=8)))
    report = engine.build_report()
    plan = {t.tensor: np.asarray(t.channel_scales, np.float32) for t in engine.int8_plan().tensors}
    names = ["c1", "h1", "d1", "h2"]
    fp32 = int8rt.build_engine(_with_outputs(model, names), int8rt.BuilderConfig(precision="fp32")).run(
        {"x": x[3::4]})
    from int8rt.accuracy.html import channel_caption

    counts = []
    for n in names:
        t = report.tensor(n)
        seen = np.abs(fp32[n]).max(axis=(0, 2, 3))  # each channel's largest held-out |x| (symmetric grids)
        tops = [float(np.float32(s) * np.float32(127)) for s in plan[n]]
        assert t.low is None and t.channel_observed == tuple(float(v) for v in seen), n
        over = int(sum(v > top for v, top in zip(seen, tops)))
        counts.append(over)
        assert channel_caption(t).startswith(f"{n}: {over} of {len(tops)} channels have a held-out value past "
                                             "their top"), n
    assert 0 < sum(counts) < len(names) * len(plan["c1"]), counts  # the premise: some clip, not all
    page = write_html(report, tmp_path / "p").read_text()
    import importlib.util

    if importlib.util.find_spec("matplotlib") is not None:  # drawn tensors carry their caption
        assert any(channel_caption(report.tensor(n)) in page for n in names)
    again = int8rt.accuracy.report.BuildReport.from_json(report.to_json())  # kept in the engine file
    assert again.tensor("c1").channel_observed == report.tensor("c1").channel_observed
