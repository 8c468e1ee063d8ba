"""acc31: the build report's figures against an independent computation: ONNX Runtime's
float32 values of the named tensors on the held-out samples (index 3, 7, ...), quantized in
float64 NumPy on the grid the engine holds (scale, zero point from its int8 plan; a gate input
whose float reader is flat beyond the grid, clipped to it first, as the reader sees it), and the
output's centred cosine / relative L2 from ONNX Runtime and the engine.
Usage: python benchmarks/acc31_independent.py MODEL.onnx ENGINE.i8rt CALIB.npz TENSOR...
"""
import sys, numpy as np, onnx, onnxruntime as ort
import int8rt
from int8rt.accuracy.taps import flat_ceilings, flat_floors, int8_scales, int8_zero_points
model, engine_path, data_path = sys.argv[1:4]
names = sys.argv[4:]
eng = int8rt.Engine.load(engine_path)
rep = eng.build_report()
z = np.load(data_path)
held = {k: z[k][3::4] for k in z.files}
m = onnx.load(model)
have = {o.name for o in m.graph.output}
for n in names:
    if n not in have:
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(n))
sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
outs = sess.run(None, held)
vals = dict(zip([o.name for o in sess.get_outputs()], outs))
scales = int8_scales(eng.network()); zps = int8_zero_points(eng.network())
floors, ceilings = flat_floors(eng.network()), flat_ceilings(eng.network())
for n in names:
    x = vals[n].astype(np.float64).ravel(); s = np.float32(scales[n]); zp = zps.get(n, 0)
    if n in floors or n in ceilings:  # a gate input whose float reader is flat beyond the grid: as it reads it
        x = np.clip(x, (-128 - zp) * s if n in floors else -np.inf, (127 - zp) * s if n in ceilings else np.inf)
    q = np.clip(np.rint(x / s) + zp, -128, 127); xq = (q - zp) * s
    clipped = np.mean((x / s + zp > 127.5) | (x / s + zp < -128.5))
    sqnr = 10 * np.log10((x**2).sum() / ((x - xq)**2).sum())
    t = rep.tensor(n)
    print(f"{n}: independent clipped {100 * clipped:.3f}% SQNR {sqnr:.2f} dB min {x.min():.4g} max {x.max():.4g} "
          f"zp {zp} | report clipped {100 * t.clipped:.3f}% SQNR {t.sqnr_db:.2f} observed max {t.observed_max:.4g}")
out = eng.output_names[0]
ref = vals[out]
got = eng.create_execution_context().run({k: v for k, v in held.items()})[out]
r = ref.reshape(len(ref), -1).astype(np.float64); t = got.reshape(len(got), -1).astype(np.float64)
rc, tc = r - r.mean(0), t - t.mean(0)
cc = (rc * tc).sum() / np.sqrt((rc**2).sum() * (tc**2).sum())
o = rep.outputs[0]
print(f"output {out}: independent centred cosine {cc:.5f} relative L2 {np.linalg.norm(r - t) / np.linalg.norm(r):.5f}"
      f" | report {o.centred_cosine:.5f} {o.relative_l2:.5f}")
