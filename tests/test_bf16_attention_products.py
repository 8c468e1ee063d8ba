"""int8rt.Bf16Attention's products on the attention_bf16 family
(kernels/attention_bf16.h, RESULTS.md section 257): the operands converted
straight into the gemm_bf16 pair tile's layouts (the keys' pairs transposed,
q / kt / v scaled and rounded once, blocks of 32 rows of q, the output rounded
in the tile's store) give the unfused BF16 chain's bits (Transpose, Mul,
MatMul, Add, Softmax, IsNaN / Where, MatMul built with optimize=False), ==,
over the shapes the converters and the driver split on: odd K, N and Dv (a
pair's zero half), K past 32 (the keys' 16-pair blocks), N and Dv past 32
(several panels, a partial 16-lane half), M past 32 (several row blocks, a
partial one), one product (its blocks across threads) and many (products
across threads), 1 and 2 threads, the reference tier and the best this CPU
has, scaled operands (an infinite scale included: the panels' padding must
stay zero), the keys given as kt [K][N] (no heads fold) too. The layer names
the family's candidate it runs (``products=``)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from test_bf16_attention_heads import guarded_attention, moved_heads

TIERS = ["ref"] + (["best"] if int8rt.kernels.isa_info()["avx512"]["cpu"] else [])
# (B, H, M, N, K, Dv)
SHAPES = [(2, 3, 33, 70, 9, 5), (1, 2, 65, 33, 40, 48), (1, 1, 70, 17, 3, 40), (3, 2, 1, 1, 2, 1),
          (1, 2, 128, 128, 64, 64)]
SCALES = [(0.125, 0.5, None), (None, None, None), (None, 0.25, float("inf"))]


def model(b: int, h: int, m: int, n: int, k: int, dv: int, scales: tuple, heads: bool) -> onnx.ModelProto:
    """heads: x [B, M, H, K], keys [B, N, H, K], w [B, N, H, Dv] moved to [B, H, ., .] (the fold's chain), each
    times its scale; else q [B, H, M, K], kt [B, H, K, N], v [B, H, N, Dv] as they are. Then softmax(q kt + mask)
    with the NaN guard, times v: y [B, H, M, Dv]."""
    nodes, inits, names = moved_heads(scales) if heads else ([], [], ["q", "kt", "v"])
    inits.insert(0, numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
    inputs = ([("x", [b, m, h, k]), ("keys", [b, n, h, k]), ("w", [b, n, h, dv])] if heads
              else [("q", [b, h, m, k]), ("kt", [b, h, k, n]), ("v", [b, h, n, dv])])
    nodes += guarded_attention(names)
    vi = [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs]
    vi.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, [b, 1, 1, n] if heads else [b, h, m, n]))
    graph = helper.make_graph(nodes, "products", vi, [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                                                     [b, h, m, dv])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def feed(b: int, h: int, m: int, n: int, k: int, dv: int, heads: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    if heads:
        shapes = {"x": (b, m, h, k), "keys": (b, n, h, k), "w": (b, n, h, dv)}
        mask_shape = (b, 1, 1, n)
    else:
        shapes = {"q": (b, h, m, k), "kt": (b, h, k, n), "v": (b, h, n, dv)}
        mask_shape = (b, h, m, n)
    f = {name: (rng.standard_normal(s) * 2).astype(np.float32) for name, s in shapes.items()}
    f["mask"] = np.where(rng.random(mask_shape) < 0.3, -np.inf, 0.0).astype(np.float32)
    return f


def run(data: bytes, inputs: dict, optimize: bool) -> tuple[np.ndarray, list[str]]:
    engine = int8rt.build_engine(data, int8rt.BuilderConfig(precision="fp32", optimize=optimize, bf16=True))
    y = engine.create_execution_context().run(inputs)["y"]
    return y, [la["detail"] for la in engine.layers() if la["op"] == "int8rt.Bf16Attention"]


def fused_and_plain(data: bytes, inputs: dict, tier: str, threads: int) -> tuple:
    """run() with the graph optimised (the fold) and without, under the tier's cap and the thread count."""
    int8rt.set_max_isa("ref" if tier == "ref" else None)
    int8rt.set_num_threads(threads)
    try:
        return run(data, inputs, optimize=True), run(data, inputs, optimize=False)
    finally:
        int8rt.set_max_isa(None)
        int8rt.set_num_threads(0)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("scales", SCALES, ids=["q_k", "none", "k_inf_v"])
def test_products_same_bits_as_unfused(tier: str, threads: int, shape: tuple, scales: tuple) -> None:
    data, inputs = model(*shape, scales, heads=True).SerializeToString(), feed(*shape, heads=True)
    (fused, details), (plain, plain_details) = fused_and_plain(data, inputs, tier, threads)
    want = "products=attention_bf16_ref" if tier == "ref" else "products=attention_bf16_8x32_avx512bf16"
    assert len(details) == 1 and details[0].endswith(want) and "heads in place" in details[0], details
    assert plain_details == []
    assert fused.tobytes() == plain.tobytes(), (tier, threads, shape, scales)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", SHAPES[:3], ids=lambda s: "x".join(map(str, s)))
def test_products_of_kt_same_bits_as_unfused(tier: str, threads: int, shape: tuple) -> None:
    """kt given as [K][N] (its panel from k-major rows, as v's) and a full [B, H, M, N] mask."""
    data, inputs = model(*shape, (None, None, None), heads=False).SerializeToString(), feed(*shape, heads=False)
    (fused, details), (plain, _) = fused_and_plain(data, inputs, tier, threads)
    assert len(details) == 1 and "products=attention_bf16_" in details[0] and "heads" not in details[0], details
    assert fused.tobytes() == plain.tobytes(), (tier, threads, shape)
