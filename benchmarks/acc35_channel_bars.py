"""Independent check of the report's per-channel bars (RESULTS_accuracy.md, acc35):
ONNX Runtime's float32 values of the per-channel tensors on the build check's
held-out samples (every 4th: index 3, 7, ...), each channel's largest |x|
against its top (127 * the channel's float32 scale the engine holds),
beside the report's ``channel_observed`` and caption count.

    python benchmarks/acc35_channel_bars.py MODEL.onnx ENGINE.i8rt CALIB.npz [TENSOR...]

For engines without cross-layer equalization on those tensors (the engine
holds the model's values) and symmetric per-channel grids."""
from __future__ import annotations

import sys

import numpy as np
import onnx
import onnxruntime as ort

import int8rt
from int8rt.accuracy.html import channel_caption
from int8rt.accuracy.taps import int8_channel_scales


def main(model_path: str, engine_path: str, calib: str, names: list[str]) -> None:
    engine = int8rt.Engine.load(engine_path)
    report = engine.build_report()
    # the channel scales the engine holds (a loaded engine has no int8_plan(); its lowered network has them)
    plan = {n: np.asarray(s, np.float32) for n, s in int8_channel_scales(engine._native.network()).items()}
    names = names or [t.name for t in report.tensors if t.channel_thresholds][:4]
    model = onnx.load(model_path)
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    data = dict(np.load(calib))
    held = {k: v[3::4] for k, v in data.items()}
    values = dict(zip(names, session.run(names, held)))
    for n in names:
        t = report.tensor(n)
        seen = np.abs(values[n]).max(axis=tuple(i for i in range(values[n].ndim) if i != 1))
        tops = plan[n].astype(np.float32) * np.float32(127)
        over = int((seen > tops).sum())
        agree = np.allclose(seen, t.channel_observed, rtol=1e-4, atol=0)  # two float32 engines: sums in another order
        print(f"{n}: independent {over} of {len(tops)} channels past their top; report: "
              f"'{channel_caption(t).split(' (')[0]}'; channel maxima agree to 1e-4: {agree} "
              f"(largest relative difference {np.max(np.abs(seen - t.channel_observed) / seen):.2g})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
