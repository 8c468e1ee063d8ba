"""Runs a benchmark script with auto's tensors-held-at-their-range rule
(int8rt.accuracy.input_range.input_image, read by accuracy/run.py) replaced
for the run; the library is not changed. acc68 (issue 12): nets20 / acc66
found auto's seed-2 misses on CNNs carried by the network input, which mse
clips on a calibration draw with few bright pixels; acc19's rule (the
input's whole linear image at its calibration range) cost PP-OCRv4 rec and
det and was narrowed to images a LayerNorm reads. Rules:

- ``library``: input_range.input_image as it is (the base).
- ``input``: the library's set plus every float32 network input itself
  (not the tensors computed from it): held at its calibration range
  (auto_choice.RANGE_METHOD, minmax) in every set, so no set clips it.
- ``none``: no tensor held at its range (acc19's rule off as well).

The rule is printed first; then the script runs as ``python SCRIPT ARGS``.
``--log`` (before SCRIPT): int8rt's INFO log (auto's judgement, its
decisions) to stderr, for scripts that do not show it.

Usage (from the worktree):
    PYTHONPATH=python:benchmarks python benchmarks/acc22_input_rule.py input \
        benchmarks/newnets_methods.py botnet26t --families realnets.new_families2 --methods auto \
        --dir /tmp/acc22/models --calib-seed 2 --eval-seeds 1
    PYTHONPATH=python:benchmarks python benchmarks/acc22_input_rule.py input \
        benchmarks/issue11_gap_probe.py ppocr_det auto --dir /tmp/acc22/m11
"""
from __future__ import annotations

import logging
import sys
from typing import Any, Callable

from bench_util import run_script_with


def float_inputs(network: Any) -> set[str]:
    """The names of ``network``'s float32 inputs (a ``_core`` network)."""
    tensors = network.tensors()
    return {tensors[i]["name"] for i in network.inputs() if tensors[i]["dtype"] == "float32"}


def rule(name: str, library: Callable[[Any], set[str]]) -> Callable[[Any], set[str]]:
    """The at-range rule ``name`` (module docstring) over the library's ``library``."""
    if name == "library":
        return library
    if name == "input":
        return lambda network: library(network) | float_inputs(network)
    if name == "none":
        return lambda network: set()
    raise SystemExit(f"acc22_input_rule: unknown rule {name!r} (library, input, none)")


def main() -> int:
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if sys.argv[1:2] in (["-h"], ["--help"]) else 2
    name, args = sys.argv[1], sys.argv[2:]
    if args[:1] == ["--log"]:
        args = args[1:]
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("  log: %(message)s"))
        logging.getLogger("int8rt").addHandler(handler)
        logging.getLogger("int8rt").setLevel(logging.INFO)
    script, rest = args[0], args[1:]
    from int8rt.accuracy import run

    print(f"acc22_input_rule: auto's at-range rule = {name}", flush=True)
    return run_script_with(run, "input_image", rule(name, run.input_image), script, rest)


if __name__ == "__main__":
    sys.exit(main())
