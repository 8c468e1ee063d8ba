"""acc34: the build report's tensor rows against an independent computation, per-channel
grids included: ONNX Runtime's float32 values of the named tensors on the held-out samples
(every 4th calibration sample, index 3, 7, ...; the first 256), quantized in float64 NumPy on
the grid the engine holds (its lowered network's scale or one per channel of axis 1, and zero
point: taps.int8_grid_scales; a loaded engine has no int8_plan()); a tensor whose float readers are flat beyond its grid (taps'
flat_floors / flat_ceilings) is clipped to the grid first, and one cross-layer equalization
rescaled divided by its channel factors (the engine's metadata), as the report measures them. Prints
each tensor's figures as the report prints them, beside the report's own.
Usage: python benchmarks/acc34_independent.py MODEL.onnx ENGINE.i8rt CALIB.npz [TENSOR...]
(no TENSOR: every per-channel tensor and the five lowest-SQNR ones)."""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

import int8rt
from int8rt.accuracy.equalize import RESCALED_KEY
from int8rt.accuracy.taps import flat_ceilings, flat_floors, int8_grid_scales, int8_zero_points

model_path, engine_path, data_path = sys.argv[1:4]
engine = int8rt.Engine.load(engine_path)
report = engine.build_report()
lowered = engine.network()
grids, zero_points = int8_grid_scales(lowered), int8_zero_points(lowered)
names = sys.argv[4:] or ([n for n, g in grids.items() if isinstance(g, tuple)] +
                         [t.name for t in sorted(report.tensors, key=lambda t: t.sqnr_db)[:5]])
z = np.load(data_path)
held = {k: z[k][3::4][:256] for k in z.files}
m = onnx.load(model_path)
have = {o.name for o in m.graph.output}
m.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names if n not in have)
sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
values = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, held)))
values.update(held)
floors, ceilings = flat_floors(lowered), flat_ceilings(lowered)
# tensors cross-layer equalization rescaled: the engine holds the model's values divided per channel
rescaled = {n: np.asarray(f, np.float64) for n, f in json.loads(engine.metadata.get(RESCALED_KEY, "{}")).items()}
for n in dict.fromkeys(names):
    row = report.tensor(n)
    x = values[n].astype(np.float64)
    if n in rescaled:
        x = x / rescaled[n].reshape((1, -1) + (1,) * (x.ndim - 2))
    zp = zero_points.get(n, 0)
    s = np.asarray(grids[n], np.float32).astype(np.float64).reshape(-1)
    s = s.reshape((1, -1) + (1,) * (x.ndim - 2)) if s.size > 1 else s[0]
    if n in floors or n in ceilings:  # as the flat float readers read it
        x = np.clip(x, np.max((-128 - zp) * s) if n in floors else -np.inf,
                    np.min((127 - zp) * s) if n in ceilings else np.inf)
    q = np.clip(np.rint(x / s) + zp, -128, 127)
    clipped = np.mean((x / s + zp > 127.5) | (x / s + zp < -128.5))
    sqnr = 10 * np.log10((x ** 2).sum() / ((x - (q - zp) * s) ** 2).sum())
    grid = f"{np.size(s)} channel scales" if np.size(s) > 1 else f"scale {float(s):.6g}"
    print(f"{n} ({grid}, zero point {zp}): independent {100 * clipped:.3f}% / {sqnr:.1f} dB, max |x| "
          f"{np.abs(x).max():.4g} | report {100 * row.clipped:.3f}% / {row.sqnr_db:.1f} dB, {row.range_text()}")
