"""A fully connected layer whose int8 output only an element-wise table
reads (BERT's FC1 -> GELU) runs as one int8rt.QGemm with the table in its
epilogue (engine/lower_int8_gemm_table.cc; the AMX GEMM applies it to each
step's output, other kernels after the GEMM): no int8rt.QLut layer, and the
result == the engine where the two stay separate layers, on every tier."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from onnx import helper  # noqa: E402

from np_kernels import first_mismatch  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

F32 = np.float32
node = helper.make_node
ROWS, D, H = 70, 64, 280  # H: 256 or more (the fusion's least), four 64-channel pairs and a partial block of 24


def ffn(side_reader: bool, hidden: int = H) -> onnx.ModelProto:
    """z = Gelu(x W1 + b1) W2 + b2, BERT's feed-forward block (the bias Adds
    as torch exports them, Add(b, MatMul)). side_reader: another MatMul reads
    x W1 + b1 too, so the table cannot take the GEMM's output alone and the
    two stay separate layers (the reference)."""
    rng, H = np.random.default_rng(5), hidden
    nodes = [node("MatMul", ["x", "w1"], ["m1"], name="fc1"), node("Add", ["b1", "m1"], ["h"], name="fc1_bias"),
             node("Gelu", ["h"], ["g"], name="gelu"),
             node("MatMul", ["g", "w2"], ["m2"], name="fc2"), node("Add", ["b2", "m2"], ["z"], name="fc2_bias")]
    inits = [init("w1", (rng.standard_normal((D, H)) / 6).astype(F32)), init("b1", rng.standard_normal(H).astype(F32)),
             init("w2", (rng.standard_normal((H, 24)) / 8).astype(F32)), init("b2", rng.standard_normal(24).astype(F32))]
    outs = [fvi("z", [2, ROWS, 24])]
    if side_reader:
        nodes.append(node("MatMul", ["h", "w3"], ["s"], name="side"))
        inits.append(init("w3", (rng.standard_normal((H, 3)) / 8).astype(F32)))
        outs.append(fvi("s", [2, ROWS, 3]))
    return model(nodes, [fvi("x", [2, ROWS, D])], outs, inits, opset=20)


DATA = {"x": np.random.default_rng(6).standard_normal((8, ROWS, D)).astype(F32)}


def build(side_reader: bool) -> int8rt.Engine:
    return int8rt.build_engine(ffn(side_reader).SerializeToString(), int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(DATA, algorithm="minmax", batch_size=2)))


def ops(engine: int8rt.Engine) -> list[str]:
    return [n["op"] for n in engine.network().nodes()]


def test_gemm_and_gelu_table_are_one_layer_with_the_chains_bytes() -> None:
    fused, chain = build(False), build(True)
    assert "int8rt.QLut" not in ops(fused) and ops(fused).count("int8rt.QGemm") == 2, ops(fused)
    assert "int8rt.QLut" in ops(chain), ops(chain)
    assert any("through the table of its element-wise Gelu" in line for line in fused.report()), fused.report()
    narrow = int8rt.build_engine(ffn(False, hidden=255).SerializeToString(), int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(DATA, algorithm="minmax", batch_size=2)))
    assert "int8rt.QLut" in ops(narrow), ops(narrow)  # under 256 features: two layers (lower_int8_gemm_table.cc)
    # The GEMM's output before the table is still held in int8 (inside the layer), at the chain's scale.
    held = {t.tensor: t for t in fused.int8_plan().tensors}
    want = {t.tensor: t for t in chain.int8_plan().tensors}
    assert held["h"].int8_tensor == "" and held["h"].produced_in_int8 and held["h"].scale == want["h"].scale
    assert held["g"].scale == want["g"].scale
    tiers = [isa for isa in ("amx", "avx512vnni", "avxvnni", "avx2", "ref") if int8rt.kernels.isa_info()[isa]["cpu"]]
    rng = np.random.default_rng(9)
    feeds = [{"x": (rng.standard_normal((2, ROWS, D)) * s).astype(F32)} for s in (1.0, 3.0)]  # 3.0: past the range
    wants = [chain.run(f)["z"] for f in feeds]
    data = fused.serialize()
    described = set()
    for isa in tiers:
        int8rt.set_max_isa(isa)  # kernels are chosen when the engine's layers are made
        try:
            engine = int8rt.Engine.deserialize(data)
            described |= {row["detail"] for row in engine.create_execution_context().profile(feeds[0], 1)
                          if "table" in row["detail"]}
            for f, w in zip(feeds, wants):
                got = engine.run(f)["z"]
                assert got.tobytes() == w.tobytes(), (isa, first_mismatch(got, w))
        finally:
            int8rt.set_max_isa(None)
    if "amx" in tiers and int8rt.kernels.cpu_features()["avx512vbmi"]:
        assert any("in the epilogue" in d for d in described), described
    assert any("after the GEMM" in d for d in described) == (tiers != ["amx"]), described
