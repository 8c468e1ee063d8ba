"""The BF16 GEMM with right-hand weights on a small k and many rows
(csrc/kernels/gemm_bf16.cc, pair_rows: gap-free FP32 rows converted as one
run per block; RESULTS.md section 273): CaiT's talking-heads mix
[B * 196 * 196, 4] x [4, 4] and its neighbours. Every eligible kernel equals
the contract bit for bit (``==``): test_bf16_kernels.py's NumPy
transcription spec_gemm, not gemm_bf16_ref, which runs the same driver (a
conversion bug there would be in both), over k 1..8 (odd k keeps the per-row path), rows
around the 8-row block and tile edges (1..17, 197, 1003), columns 1..33, 1
and 2 threads, batch 1 and > 1 through the engine (a MatMul + bias layer
against the FP32 engine within the BF16 bound), and the extremes of the data
(every input at +-3e38, near the largest float, whose sums overflow to inf, at +- 2^-8,
the smallest magnitude that keeps every product normal, mixed signs).
"""
from __future__ import annotations

import contextlib
import io
import itertools

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from test_bf16_kernels import ELIGIBLE, data, same_bits, spec_gemm

# the reference kernel too: it runs the same driver (pair_rows); the AMX kernel sums in another order
KERNELS = [name for name in ELIGIBLE if name != "gemm_bf16_32x32_amx"]
ROWS = list(range(1, 18)) + [197, 1003]


@pytest.mark.parametrize("kernel", KERNELS)
def test_small_k_many_rows_equal_the_reference(kernel: str, threads: int) -> None:
    rng = np.random.default_rng(24)
    for M, k, N in itertools.product(ROWS, range(1, 9), (1, 4, 15, 16, 17, 32, 33)):
        if M > 17 and N not in (4, 33):
            continue
        x, w = data(rng, (M, k)), data(rng, (k, N))
        want = spec_gemm(x, w)
        for parallel in (False, True):
            same_bits(K.gemm_bf16(x, w, kernel=kernel, parallel=parallel), want,
                      f"{kernel} M={M} K={k} N={N} parallel={parallel} threads={threads}")


@pytest.mark.parametrize("kernel", KERNELS)
def test_small_k_extremes_equal_the_reference(kernel: str, threads: int) -> None:
    big, tiny = np.float32(3.0e38), np.float32(2.0 ** -8)
    rng = np.random.default_rng(7)
    for M, k in ((38416 // 16, 4), (203, 2), (64, 6)):
        w = data(rng, (k, 4))
        for fill in (big, -big, tiny, -tiny):
            x = np.full((M, k), fill, np.float32)
            with np.errstate(over="ignore"):  # the sums of +-3e38 overflow to +-inf, as the kernels' do
                want = spec_gemm(x, w)
            same_bits(K.gemm_bf16(x, w, kernel=kernel), want, f"{kernel} M={M} K={k} all {fill} threads={threads}")
        x = np.where(rng.random((M, k)) < 0.5, big, -big).astype(np.float32)
        with np.errstate(over="ignore"):
            want = spec_gemm(x, w)
        same_bits(K.gemm_bf16(x, w, kernel=kernel), want, f"{kernel} M={M} K={k} mixed +-{big} threads={threads}")


def talking_heads_model(k: int, n: int):
    """x[B, 19, 23, k] @ W[k, n] + b (a talking-heads mix), ONNX bytes."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(k + 10 * n)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y0"]), helper.make_node("Add", ["y0", "b"], ["y"])],
        "mix", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 19, 23, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 19, 23, n])],
        [numpy_helper.from_array(data(rng, (k, n)), "w"), numpy_helper.from_array(data(rng, (n,)), "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("k,n", [(4, 4), (2, 5), (6, 33)])
def test_engine_matmul_bias_small_k_batches(k: int, n: int, threads: int, tmp_path) -> None:
    path = tmp_path / "mix.onnx"
    path.write_bytes(talking_heads_model(k, n))
    with contextlib.redirect_stdout(io.StringIO()):
        bf = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True))
        fp = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32"))
    rng = np.random.default_rng(5)
    for batch in (1, 3):
        x = data(rng, (batch, 19, 23, k))
        got = next(iter(bf.create_execution_context().run({"x": x}).values()))
        ref = next(iter(fp.create_execution_context().run({"x": x}).values()))
        # BF16 inputs and weights (relative error 2^-8 each), FP32 sums: |err| <= (2^-7 + 2^-16) sum|x w| + 2^-20
        w_mag = np.abs(x).reshape(-1, k) @ np.ones((k, n), np.float32)  # |w| <= 1 (data())
        bound = (2.0 ** -7 + 2.0 ** -16) * w_mag.reshape(got.shape) + 2.0 ** -20
        assert np.all(np.abs(got - ref) <= bound), f"k={k} n={n} batch={batch}: {np.max(np.abs(got - ref))}"
