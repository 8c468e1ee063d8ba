"""The accuracy commands of the CLI: ``int8rt compare MODEL.onnx --engine
E.i8rt --data IN.npz`` (the float32 model and the INT8 engine side by side,
per tensor: int8rt/accuracy/compare.py; the data read as ``build
--calib-data`` reads it) and ``int8rt report ENGINE DIR``
(the build report as a web page: int8rt/accuracy/html.py)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from int8rt.cli import add_image_options

__all__ = ["add_accuracy_parsers"]


def _cmd_compare(args: argparse.Namespace) -> int:
    import int8rt
    from int8rt.accuracy.compare import compare, format_comparison
    from int8rt.accuracy.taps import batch_samples

    engine = int8rt.Engine.load(args.engine)
    data = _load_data(args, engine.input_names)
    firsts = {n: a.shape for n, a in data.items() if a.ndim}
    if args.limit:
        if len({s[0] for s in firsts.values()}) > 1:  # a state [2, N, H] beside x [N, D]: axis 0 is not the samples'
            raise ValueError(f"--limit cuts axis 0, which is not every input's sample axis here "
                             f"({', '.join(f'{n} {list(s)}' for n, s in firsts.items())}): give fewer samples in "
                             f"{args.data} instead")
        data = {n: a[: args.limit] if a.ndim else a for n, a in data.items()}
    progress = False if args.quiet else int8rt.Progress(sys.stderr)
    rows = compare(args.model, engine, data, batch_size=args.batch_size, progress=progress)
    samples = batch_samples(data, {n: engine.tensor_shape(n) for n in engine.input_names})  # a state [2, N, H] too
    print(f"{args.model} (FP32) vs {args.engine} ({engine.precision}) on {samples} samples of {args.data}")
    print(format_comparison(rows))
    return 0


def _load_data(args: argparse.Namespace, names: list[str]) -> dict[str, np.ndarray]:
    """``--data`` as ``build --calib-data`` reads it: an .npz (:func:`_load_npz`),
    or, for a folder (of .npz / .npy files or of images, preprocessed as the
    image flags say) or a single-input model's .npy, data_calibrator's reader."""
    from int8rt.cli import image_options
    from int8rt.data_calibrator import load_calibration_data

    path = Path(args.data)
    if not (path.is_dir() or (path.suffix == ".npy" and path.is_file() and len(names) == 1)):
        return _load_npz(args.data, names)
    import int8rt

    network = int8rt.onnx.import_model(args.model)
    shapes = {network.tensor(i)["name"]: network.tensor(i)["shape"] for i in network.inputs()}
    def said(line: str) -> None:  # the reader's line, for inputs that are not calibration data here
        print(line.replace("calibration images", "input images", 1))

    return dict(load_calibration_data(path, names, shapes, images=image_options(args), report=said))


def _load_npz(path: str, names: list[str]) -> dict[str, np.ndarray]:
    """The arrays of ``names`` from the .npz at ``path``: float data runs as
    float32 (taps.batches), integer and bool data as it is (an int64 sample
    rate, a mask); a 0-d array goes with every batch. Errors name the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"input data '{path}' does not exist")
    try:
        z = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise ValueError(f"input data '{path}' is not an .npz file of arrays ({e})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"input data '{path}' is a single .npy array: give an .npz with one array per input "
                         f"({', '.join(names)}), e.g. np.savez('{Path(path).stem}.npz', {names[0]}=array)")
    with z:
        missing = [n for n in names if n not in z.files]
        if missing:
            raise KeyError(f"{path} has no array named {missing[0]!r} (it has: {', '.join(z.files)})")
        return {n: np.asarray(z[n]) for n in names}


def _cmd_report(args: argparse.Namespace) -> int:
    import int8rt
    from int8rt.accuracy.html import write_html
    from int8rt.accuracy.report import rescaled_tensors

    engine = int8rt.Engine.load(args.engine)
    page = write_html(engine.build_report(), args.dir, title=f"int8rt: {args.engine}",
                      rescaled=rescaled_tensors(engine.metadata))
    print(f"wrote {page}")
    return 0


def add_accuracy_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    c = sub.add_parser("compare", help="FP32 model vs INT8 engine, per layer: cosine, SQNR, max error")
    c.add_argument("model", help="the ONNX model the engine was built from")
    c.add_argument("--engine", required=True, help="the INT8 engine file")
    c.add_argument("--data", required=True,
                   help=".npz with one array per input name, axis 0 = samples; as build's --calib-data, also a "
                   "single-input model's .npy, or a folder of them or of images (the image flags below)")
    c.add_argument("--batch-size", type=int, default=32)
    c.add_argument("--limit", type=int, help="use only the first N samples")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_image_options(c, "input images (--data is a folder of images): preprocess them as the build's were")
    c.set_defaults(fn=_cmd_compare)

    r = sub.add_parser("report", help="write an engine's build report as a web page (plots with matplotlib)")
    r.add_argument("engine")
    r.add_argument("dir", help="folder for index.html and the plots")
    r.set_defaults(fn=_cmd_report)
