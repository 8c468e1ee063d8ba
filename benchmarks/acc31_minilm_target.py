"""acc31: MiniLM (all-MiniLM-L6-v2 export) built from Python as docs/accuracy.md says, with
make_calibrator and BuilderConfig(accuracy_target=...), checked on fresh token batches.
Usage: python benchmarks/acc31_minilm_target.py DIR (acc31_data.py's) [MODEL.onnx]
"""
import sys, numpy as np, time, int8rt, onnxruntime as ort
from int8rt.accuracy import metrics
z = np.load(sys.argv[1] + "/minilm.npz"); data = {k: z[k] for k in z.files}
rng = np.random.default_rng(5); ids = rng.integers(1000, 20000, (32, 32)); ids[:, 0] = 101; ids[:, -1] = 102
ev = {"input_ids": ids.astype(np.int64), "attention_mask": np.ones_like(ids, dtype=np.int64)}
model = sys.argv[2] if len(sys.argv) > 2 else "/tmp/e2eall/models/minilm.onnx"
ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, ev)[0]
for target in (None, 0.98):
    t0 = time.perf_counter()
    cfg = int8rt.BuilderConfig(calibrator=int8rt.make_calibrator(data), accuracy_target=target, progress=True)
    e = int8rt.build_engine(model, cfg)
    got = e.create_execution_context().run(ev)["last_hidden_state"]
    mp = e.build_report().mixed_precision
    print(f"target {target}: build {time.perf_counter() - t0:.0f} s; held-out eval centred cosine "
          f"{metrics.centred_cosine(ref, got):.4f}, rel L2 {metrics.relative_l2(ref, got):.4f}", flush=True)
    if mp:
        keys = ("score_all_int8", "score", "met", "float_layers", "ms_all_int8", "ms_chosen", "ms_fp32")
        print("   ", {k: mp[k] for k in keys}, flush=True)
