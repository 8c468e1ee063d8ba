"""Which of Silero VAD's tensors make percentile (amfm_down) or the
calibrators' own settings (synth2) stream better than auto's choice on the
two left-out clips where auto is below the best single method (issue 12,
gap (b); benchmarks/RESULTS_accuracy.md, acc43).

silero_tensor_swap.py (acc29) generalised: auto with every decision held
(no set replaces the default, no correction) and every tensor given the
thresholds of ``--base`` (a CANDIDATES label of auto.py, exact search), the
tensors whose names hold ``part`` (``stft``, ``encoder``, ``decoder``; all)
those of ``--swap`` instead; evaluated streamed on the left-out clip as
silero_clips_loco.py does (calibration on the other clips one after the
other, the state carried across; evaluation from a zero state).

    PYTHONPATH=python:tests python benchmarks/acc43_silero_swap.py --left-out amfm_down --base entropy \
        --swap "percentile 99.99"

``--sweep T1,T2,...`` instead: every tensor at ``--base``'s threshold but
``--sweep-tensor`` (and its ``_2d`` copy, the Conv1d's 2-D form the importer
makes), which is set to each value in turn: how far the left-out clip's
figure moves with one threshold.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from silero_clips_loco import CLIPS, calibration, metrics, streams  # noqa: E402
from silero_fixed import build, network, streamed  # noqa: E402

PARTS = ("stft", "encoder", "decoder", "all")


def _hold(base: str, swap: str, part: str) -> None:
    """auto's decisions held; ``base``'s thresholds everywhere, ``swap``'s on the tensors whose names hold ``part``."""
    from int8rt.accuracy import auto_choice

    auto_choice._Errors.clearly_below = lambda self, other: False
    plain = getattr(auto_choice, "_plain_apply", auto_choice.apply_methods)
    auto_choice._plain_apply = plain

    def apply_methods(collector, methods, names, amaxes):
        methods = {t: swap if part and (part == "all" or part in t) else base for t in methods}
        return plain(collector, methods, names, amaxes)

    auto_choice.apply_methods = apply_methods


SWEPT = "If_0_then_branch__Inline_0__/encoder/0/reparam_conv/Conv_output_0"


def _set(name: str, value: float) -> None:
    """After _hold: tensor ``name`` and its ``_2d`` copy at threshold ``value``."""
    from int8rt.accuracy import auto_choice

    inner = auto_choice.apply_methods

    def apply_methods(collector, methods, names, amaxes):
        out = inner(collector, methods, names, amaxes)
        for n in (name, name + "_2d"):
            if n in out:
                out[n] = value
        return out

    auto_choice.apply_methods = apply_methods


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--left-out", default="amfm_down")
    ap.add_argument("--base", default="entropy")
    ap.add_argument("--swap", default="percentile 99.99")
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--tensors", default="", help="a part: each int8 tensor whose name holds it swapped alone "
                                                  "(thresholds and the held-out maximum from the build report)")
    ap.add_argument("--sweep", default="", help="thresholds for --sweep-tensor, comma-separated")
    ap.add_argument("--sweep-tensor", default=SWEPT)
    args = ap.parse_args()
    import int8rt
    from test_audio_models import silero_file

    print(machine_line(), flush=True)
    path = silero_file("silero_vad.onnx")
    fp32 = int8rt.build_engine(network(path), int8rt.BuilderConfig(precision="fp32"))
    for held in args.left_out.split(","):
        feeds, _ = calibration(fp32, [c for c in CLIPS if c != held], "none")
        ev = streams([held], 2, 10.0)[0]
        want, _ = streamed(fp32, ev)
        for value in [float(v) for v in args.sweep.split(",")] if args.sweep else ():
            _hold(args.base, args.swap, "")
            _set(args.sweep_tensor, value)
            engine, _ = build(path, feeds, "auto", True, bias_correction=False, unsigned_activations=False)
            m = metrics(streamed(engine, ev)[0], want)
            print(f"| {held} | {value:g} | {m['ccos']:.5f} | {m['rel_l2']:.4f} | {m['agree']:.4f} |", flush=True)
        if args.sweep:
            continue
        reports = {}
        for part in ["", *args.parts.split(",")] if not args.tensors else ["", "all"]:
            _hold(args.base, args.swap, part)
            engine, _ = build(path, feeds, "auto", True, bias_correction=False, unsigned_activations=False)
            reports[part] = {t.name: t for t in engine.build_report().tensors}
            m = metrics(streamed(engine, ev)[0], want)
            print(f"left out {held}, {args.base} with {args.swap} on {part or 'nothing'}: ccos {m['ccos']:.5f}, "
                  f"rel. L2 {m['rel_l2']:.4f}, agree {m['agree']:.4f}", flush=True)
        for name, t in reports[""].items() if args.tensors else ():
            if args.tensors not in name:
                continue
            _hold(args.base, args.swap, name)
            engine, _ = build(path, feeds, "auto", True, bias_correction=False, unsigned_activations=False)
            m = metrics(streamed(engine, ev)[0], want)
            print(f"| {name.split('/', 1)[-1]} | {t.threshold:.4g} / {reports['all'][name].threshold:.4g} | "
                  f"{t.observed_max:.4g} | {m['ccos']:.5f} | {m['rel_l2']:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
