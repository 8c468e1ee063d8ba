"""Writes tests/data/engine_before_bool/: engine files from int8rt as of commit 25e5fe4 (before the bool
dtype), and the outputs that build gave. Run with that build on PYTHONPATH: python make.py OUTDIR."""
import sys, numpy as np
import int8rt
from onnx import TensorProto, helper, numpy_helper
out = sys.argv[1]
rng = np.random.default_rng(7)
table = rng.standard_normal((10, 4)).astype(np.float32)
w = rng.standard_normal((4, 3)).astype(np.float32)
nodes = [helper.make_node("Gather", ["table", "ids"], ["emb"], name="embed"),
         helper.make_node("MatMul", ["emb", "w"], ["mm"], name="proj"),
         helper.make_node("Relu", ["mm"], ["y"], name="relu"),
         helper.make_node("Shape", ["y"], ["s"], name="shape")]
g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", 5])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, 3]),
                       helper.make_tensor_value_info("s", TensorProto.INT64, [3])],
                      [numpy_helper.from_array(table, "table"), numpy_helper.from_array(w, "w")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
fp32 = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
fp32.save(f"{out}/engine_v1_fp32.i8rt")
ids = np.array([[0, 3, 9, -1, 7], [1, 1, 2, -10, 0]], np.int64)
r = fp32.run({"ids": ids})

class Cal(int8rt.IInt8MinMaxCalibrator):
    def __init__(self):
        super().__init__(); self.left = 3
    def get_batch_size(self): return 4
    def get_batch(self, names):
        self.left -= 1
        return None if self.left < 0 else [rng.integers(0, 10, (4, 5)).astype(np.int64)]
q = int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=Cal()))
q.save(f"{out}/engine_v1_int8.i8rt")
rq = q.run({"ids": ids})
print([l["op"] for l in q.layers()])
np.savez(f"{out}/engine_v1_outputs.npz", ids=ids, fp32_y=r["y"], fp32_s=r["s"], int8_y=rq["y"], int8_s=rq["s"])
