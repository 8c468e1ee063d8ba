"""acc31: engines against the float32 model (ONNX Runtime) on evaluation data the builds
never saw: centred cosine, relative L2, per-position argmax agreement for a CTC output, and
what automatic mixed precision chose. Usage: python benchmarks/acc31_heldout.py MODEL.onnx EVAL.npz ENGINE...
"""
import sys, numpy as np, onnxruntime as ort, int8rt
from int8rt.accuracy import metrics
model, data = sys.argv[1], sys.argv[2]
z = np.load(data); feed = {k: z[k] for k in z.files}
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
ref = sess.run(None, feed)[0]
for path in sys.argv[3:]:
    e = int8rt.Engine.load(path)
    got = e.create_execution_context().run(feed)[e.output_names[0]]
    line = (f"{path}: centred cosine {metrics.centred_cosine(ref, got):.4f} "
            f"relative L2 {metrics.relative_l2(ref, got):.4f}")
    if ref.ndim == 3:  # CTC: per-position argmax agreement
        line += f" argmax agreement {np.mean(ref.argmax(-1) == got.argmax(-1)):.4f}"
    mp = e.build_report().mixed_precision
    if mp:
        line += (f" (target {mp['target']}, held-out score in build {mp['score']:.4f}, "
                 f"{len(mp['float_layers'])} float layers)")
    print(line)
