"""The build report as a web page: ``int8rt build ... --report DIR`` and
``int8rt report ENGINE DIR`` write ``DIR/index.html``.

One row per int8 tensor in network order (method, the range it is held in
and the one observed: threshold / largest |x|, or [low, top] / [min, max]
for a tensor held with a zero point; clipped %, SQNR, the warning), the
outputs, the mixed-precision choice with each layer's sensitivity, and, when matplotlib is installed (``pip install
int8rt[report]``), PNG plots beside the page: SQNR and clipped share along
the network, the sensitivity ranking, and the calibration histograms (|x|, 64
bins kept in the report) of the warned and lowest-SQNR tensors with their
thresholds. Without matplotlib the page is the tables alone.

Nothing half-written: the page and its plots are made in a temporary folder
beside ``DIR`` and moved in (each file renamed into place) only once all of
them exist, so a failure leaves ``DIR`` as it was.
"""
from __future__ import annotations

import html
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Collection, Optional

from .report import (RESCALED_MARK, RESCALED_NOTE, BuildReport, float_layer_lines, float_set_text, latency_text,
                     mixed_warning)

__all__ = ["write_html"]


def _plots(report: BuildReport, folder: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    files = []
    if report.tensors:
        fig, ax = plt.subplots(figsize=(max(6, len(report.tensors) * 0.12), 3.5))
        sqnr = [t.sqnr_db if math.isfinite(t.sqnr_db) else float("nan") for t in report.tensors]
        ax.plot(range(len(sqnr)), sqnr, marker=".", label="SQNR (dB)")
        ax.set_xlabel("int8 tensor, network order")
        ax.set_ylabel("SQNR dB")
        ax2 = ax.twinx()
        ax2.bar(range(len(sqnr)), [100 * t.clipped for t in report.tensors], color="tab:red", alpha=0.4)
        ax2.set_ylabel("clipped %", color="tab:red")
        fig.tight_layout()
        fig.savefig(folder / "sqnr.png", dpi=100)
        plt.close(fig)
        files.append("sqnr.png")
    mp = report.mixed_precision
    if mp and mp.get("sensitivity"):
        ranked = sorted(mp["sensitivity"].items(), key=lambda kv: -kv[1])[:40]
        labels = [_short(k) for k, _ in ranked]
        # room for the labels: a table region's layer is its nodes joined with '+' (ViT's GELU: matplotlib
        # warned "Tight layout not applied" into int8rt build's output at 7 inches)
        fig, ax = plt.subplots(figsize=(3.5 + 0.075 * max(map(len, labels)), max(2.5, 0.25 * len(ranked))))
        ax.barh(labels[::-1], [v for _, v in ranked][::-1])
        ax.set_xlabel("sensitivity (1 - score with only this layer int8)")
        fig.tight_layout()
        fig.savefig(folder / "sensitivity.png", dpi=100)
        plt.close(fig)
        files.append("sensitivity.png")
    files += _histogram_plots(report, folder, plt)
    return files


def _short(layer: str, most: int = 48) -> str:
    """A layer's name for a plot label: a long table region's first and last
    node and how many it joins (``a+...+z (7 ops)``)."""
    if len(layer) <= most:
        return layer
    parts = layer.split("+")
    if len(parts) > 2:
        return f"{parts[0]}+...+{parts[-1]} ({len(parts)} ops)"
    return layer[: most - 3] + "..."


HISTOGRAMS = 12  # drawn: every warned tensor first, then the lowest SQNR ones


def _histogram_files(report: BuildReport) -> dict[str, str]:
    """Tensor name -> the PNG its histogram is drawn in, for the tensors
    drawn: every warned one first, then the lowest SQNR, ``HISTOGRAMS`` in all."""
    kept = [t for t in report.tensors if t.histogram is not None]
    drawn = sorted(kept, key=lambda t: (t.warning is None, t.sqnr_db))[:HISTOGRAMS]
    return {t.name: f"hist_{i:02d}.png" for i, t in enumerate(drawn)}


def _histogram_plots(report: BuildReport, folder: Path, plt: Any) -> list[str]:
    """One PNG per drawn tensor: its calibration histogram of |x| (log
    counts) with the top of the range it is held in (and |bottom| for one
    held with a zero point) and the largest held-out |x|."""
    files = []
    for name, file in _histogram_files(report).items():
        t = report.tensor(name)
        width, counts = t.histogram
        bars = t.channels_over() is not None  # a per-channel grid: its channels' tops beside their held-out maxima
        fig, axes = plt.subplots(2 if bars else 1, 1, figsize=(5, 5.2 if bars else 2.6), squeeze=False)
        ax = axes[0][0]
        ax.bar([width * k for k in range(len(counts))], counts, width=width, align="edge", color="tab:blue")
        ax.set_yscale("log")
        if t.channel_thresholds:  # a per-channel grid: the span of its channels' tops
            lo, hi = min(t.channel_thresholds), max(t.channel_thresholds)
            ax.axvspan(lo, hi, color="tab:red", alpha=0.15,
                       label=f"{len(t.channel_thresholds)} channels' tops {lo:.4g} to {hi:.4g}")
        ax.axvline(t.threshold, color="tab:red",
                   label=f"{'widest channel: ' if t.channel_thresholds else ''}top of range {t.threshold:.4g}")
        if t.low is not None and t.low < 0:
            ax.axvline(-t.low, color="tab:red", linestyle="--", label=f"|bottom| {-t.low:.4g}")
        ax.axvline(t.observed_max, color="black", linestyle=":", label=f"held-out max |x| {t.observed_max:.4g}")
        ax.set_title(f"{t.name} ({t.method}): clipped {100 * t.clipped:.3g}%, SQNR {t.sqnr_db:.1f} dB", fontsize=8)
        ax.set_xlabel("|x| (calibration histogram)")
        ax.legend(fontsize=7)
        if bars:
            _channel_bars(axes[1][0], t)
        fig.tight_layout()
        fig.savefig(folder / file, dpi=90)
        plt.close(fig)
        files.append(file)
    return files


def _no_histogram_note(report: BuildReport) -> str:
    """What the page says where int8 tensors have no calibration histogram
    to draw (a report written before histograms were kept, or thresholds
    that came from no histogram of this build), instead of leaving the
    plots out without a word; "" where every tensor has one."""
    without = [t.name for t in report.tensors if t.histogram is None]
    if not without:
        return ""
    listed = ", ".join(without[:5]) + (", ..." if len(without) > 5 else "")
    if report.thresholds_from_cache:  # cached_check.py: measured, but no histogram was computed
        return (f"No calibration histogram for the {len(without)} int8 tensors: the scales came from the "
                "calibration cache, so this build computed none and there are no histogram plots (a build "
                "without the cache has them).")
    return (f"No calibration histogram for {len(without)} of the {len(report.tensors)} int8 tensors ({listed}): "
            "the report holds none for them (written before int8rt kept histograms, or their thresholds came "
            "from no histogram of this build, such as a calibration cache's), so they have no histogram plot.")


def _channel_bars(ax: Any, t: Any) -> None:
    """A per-channel grid's channels: each one's top (code 127) as a bar and
    its largest held-out value as a dot, red where the value passes the top."""
    tops, seen = t.channel_thresholds, t.channel_observed
    ax.bar(range(len(tops)), tops, color="tab:blue", alpha=0.5, label="channel's top (code 127)")
    ax.scatter(range(len(seen)), seen, s=8, zorder=3, label="held-out max" + (" x" if t.low is not None else " |x|"),
               c=["tab:red" if v > top else "black" for top, v in zip(tops, seen)])
    ax.set_xlabel("channel")
    ax.set_title(channel_caption(t), fontsize=8)
    ax.legend(fontsize=7)


def channel_caption(t: Any) -> str:
    """``"3 of 32 channels have a held-out value past their top"``: what the
    per-channel bars show, also under the plot on the page."""
    return (f"{t.name}: {t.channels_over()} of {len(t.channel_thresholds)} channels have a held-out value past their "
            "top (per-channel thresholds come from channel maxima; no per-channel histogram is kept)")


def _row(cells: list[str], tag: str = "td", cls: Optional[str] = None) -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<tr{attr}>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>"


def write_html(report: BuildReport, folder: "str | os.PathLike[str]", title: str = "int8rt build report",
               rescaled: Collection[str] = ()) -> Path:
    """Writes ``folder/index.html`` (and PNG plots with matplotlib); returns
    the page's path. ``rescaled``: as in :meth:`BuildReport.format`.

    Raises NotADirectoryError when ``folder`` exists and is not a folder;
    on any failure ``folder`` is left as it was."""
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"report folder '{out}' exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp.", dir=out.parent))
    try:
        _write_page(report, staging, title, frozenset(rescaled))
        out.mkdir(exist_ok=True)
        names = sorted(p.name for p in staging.iterdir())
        for name in [n for n in names if n != "index.html"] + ["index.html"]:  # the page last: it links the rest
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / "index.html"


def _write_page(report: BuildReport, out: Path, title: str, rescaled: frozenset[str] = frozenset()) -> None:
    e = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}tr.warn{background:#fdd}"
             "pre{white-space:pre-wrap}</style>", f"<h1>{e(title)}</h1>"]
    if not report.measured:
        parts.append(f"<p>Not measured: {e(report.reason)}.</p><p>So this page has no per-tensor rows, "
                     "histograms or plots: they are measured on calibration data during the build. Build with "
                     "calibration data (beside a cache too: <code>int8rt build --cache C --calib-data D</code> "
                     "measures on D's held-out slice) and <code>accuracy_check</code> on to get them.</p>")
        auto = report.format().splitlines()[1:]  # auto's decisions, kept even when nothing is measured
        parts += [f"<pre>{e(line)}</pre>" for line in auto]
    else:
        parts.append(f"<pre>{e(report.format().splitlines()[0])}</pre>")
        for w in report.warnings + ((mixed_warning(report.mixed_precision),)
                                    if mixed_warning(report.mixed_precision) else ()):
            parts.append(f"<p><b>warning</b>: {e(w)}</p>")
        parts.append("<h2>Outputs (INT8 vs FP32)</h2><table>")
        parts.append(_row(["output", "centred cosine", "cosine", "relative L2", "max |err|", "top-1 agreement",
                           "constant output"], "th"))
        for o in report.outputs:
            parts.append(_row([e(o.name)] + [f"{v:.4f}" if isinstance(v, float) else "-" for v in
                              (o.centred_cosine, o.cosine, o.relative_l2, o.max_abs_error, o.top1_agreement,
                               o.top1_constant_baseline)]))
        parts.append("</table>")
        plots = _plots(report, out)
        captions = {f: channel_caption(report.tensor(n)) for n, f in _histogram_files(report).items()
                    if report.tensor(n).channels_over() is not None}
        for f in plots:
            parts.append(f"<p><img id='{f}' src='{f}' alt='{f}'>" +
                         (f"<br>{e(captions[f])}" if f in captions else "") + "</p>")
        missing = _no_histogram_note(report)
        if missing:
            parts.append(f"<p>{e(missing)}</p>")
        drawn = {name: f for name, f in _histogram_files(report).items() if f in plots}
        mp = report.mixed_precision
        if mp:
            parts.append(f"<h2>Mixed precision</h2><p>target {mp['target']:.4g}: {'met' if mp['met'] else 'not met'}, "
                         f"score {mp['score']:.4f} (all int8 {mp['score_all_int8']:.4f}); "
                         + (f"float32 layers: {e(', '.join(mp['float_layers']) or 'none')}" if not mp.get("bf16_layers")
                            else e(float_set_text(mp)))
                         + f"; {e(latency_text(mp))}</p>")
            parts += [f"<p>{e(line)}</p>" for line in float_layer_lines(mp)]
        parts.append("<h2>Int8 tensors</h2><table>")
        parts.append(_row(["tensor", "method", "range held", "range observed", "clipped %", "SQNR dB", "warning"],
                          "th"))
        for t in report.tensors:
            held, seen = t.range_text().split(" / ", 1)
            name = f"<a href='#{drawn[t.name]}'>{e(t.name)}</a>" if t.name in drawn else e(t.name)
            method = t.method + (f" {RESCALED_MARK}" if t.name in rescaled else "")
            parts.append(_row([name, e(method), e(held), e(seen),
                               f"{100 * t.clipped:.3f}", f"{t.sqnr_db:.1f}", e(t.warning or "")],
                              cls="warn" if t.warning else None))
        parts.append("</table>")
        if rescaled & {t.name for t in report.tensors}:
            parts.append(f"<p>{RESCALED_MARK}: {e(RESCALED_NOTE)}</p>")
    (out / "index.html").write_text("\n".join(parts), encoding="utf-8")
