"""The accuracy commands of the CLI: ``int8rt compare MODEL.onnx --engine
E.i8rt --data IN.npz`` (the float32 model and the INT8 engine side by side,
per tensor: int8rt/accuracy/compare.py) and ``int8rt report ENGINE DIR``
(the build report as a web page: int8rt/accuracy/html.py)."""
from __future__ import annotations

import argparse

import numpy as np

__all__ = ["add_accuracy_parsers"]


def _cmd_compare(args: argparse.Namespace) -> int:
    import int8rt
    from int8rt.accuracy.compare import compare, format_comparison
    from int8rt.accuracy.taps import count

    engine = int8rt.Engine.load(args.engine)
    with np.load(args.data) as z:
        missing = [n for n in engine.input_names if n not in z.files]
        if missing:
            raise KeyError(f"{args.data} has no array named {missing[0]!r} (it has: {', '.join(z.files)})")
        # float data runs as float32 (taps.batches), integer and bool data
        # as it is (an int64 sample rate, a mask); a 0-d array goes with
        # every batch
        data = {n: np.asarray(z[n]) for n in engine.input_names}
    if args.limit:
        data = {n: a[: args.limit] if a.ndim else a for n, a in data.items()}
    rows = compare(args.model, engine, data, batch_size=args.batch_size)
    print(f"{args.model} (FP32) vs {args.engine} ({engine.precision}) on {count(data)} samples of {args.data}")
    print(format_comparison(rows))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import int8rt
    from int8rt.accuracy.html import write_html

    page = write_html(int8rt.Engine.load(args.engine).build_report(), args.dir, title=f"int8rt: {args.engine}")
    print(f"wrote {page}")
    return 0


def add_accuracy_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    c = sub.add_parser("compare", help="FP32 model vs INT8 engine, per layer: cosine, SQNR, max error")
    c.add_argument("model", help="the ONNX model the engine was built from")
    c.add_argument("--engine", required=True, help="the INT8 engine file")
    c.add_argument("--data", required=True, help=".npz with one array per input name, axis 0 = samples")
    c.add_argument("--batch-size", type=int, default=32)
    c.add_argument("--limit", type=int, help="use only the first N samples")
    c.set_defaults(fn=_cmd_compare)

    r = sub.add_parser("report", help="write an engine's build report as a web page (plots with matplotlib)")
    r.add_argument("engine")
    r.add_argument("dir", help="folder for index.html and the plots")
    r.set_defaults(fn=_cmd_report)
