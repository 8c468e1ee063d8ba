"""Engine builds (graph passes + INT8 lowering, RESULTS.md 241): process CPU-s of FP32 builds and of INT8 builds
with a calibration cache present (written on the first run, /tmp/ci17/<model>.cache), for the saved e2e models in
/tmp/lead/e2emodels; one int8rt build per process (PYTHONPATH picks it), alternate two builds."""
import json, os, time
import numpy as np
import int8rt

int8rt.set_num_threads(1)
cpu = time.process_time
res = {}
M = "/tmp/lead/e2emodels"
for name in ("resnet50", "mobilenet_v2"):
    path = f"{M}/{name}.onnx"
    t = cpu()
    for _ in range(2):
        int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", batch_size=1))
    res[f"fp32_{name}_x2"] = round(cpu() - t, 3)
    cache = f"/tmp/ci17/{name}.cache"
    shape = (4, 3, 224, 224)
    import onnx
    iname = onnx.load(path, load_external_data=False).graph.input[0].name
    data = {iname: np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}
    if not os.path.exists(cache):
        cal = int8rt.make_calibrator(data, algorithm="entropy", batch_size=1, cache_file=cache)
        int8rt.build_engine(path, int8rt.BuilderConfig(precision="int8", calibrator=cal, batch_size=1))
    t = cpu()
    for _ in range(2):
        cal = int8rt.make_calibrator(data, algorithm="entropy", batch_size=1, cache_file=cache)
        int8rt.build_engine(path, int8rt.BuilderConfig(precision="int8", calibrator=cal, batch_size=1))
    res[f"int8_{name}_cached_x2"] = round(cpu() - t, 3)
print(json.dumps(res))
