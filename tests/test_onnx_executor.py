"""Imported ONNX models run by the float32 executor agree with ONNX Runtime."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import int8rt  # noqa: E402
import int8rt.onnx  # noqa: E402
from int8rt._testing import Executor  # noqa: E402
from onnx_models import block_net, conv_net, torch_view_chain, unary_chain  # noqa: E402

# Tolerances. Element-wise ops: libm (tanh, erf, exp) against ONNX Runtime's own
# vectorised approximations differ by a few float32 ulps, so 1e-5 absolute and
# relative covers them (values are O(1)). Networks with reductions (conv, gemm)
# sum in a different order; over <= 128 products of O(1) terms the float32
# rounding is below 1e-4 absolute.
MODELS = {
    "unary_chain": (unary_chain, 1e-5),
    "conv_net": (conv_net, 1e-4),
    "torch_view_chain": (torch_view_chain, 1e-6),
    "block_net_opset11": (lambda: block_net(11), 1e-5),
    "block_net_opset13": (lambda: block_net(13), 1e-5),
    "block_net_opset18": (lambda: block_net(18), 1e-5),
}


def _input_shape(proto, batch):
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return [batch] + [d.dim_value for d in dims[1:]]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("batch", [1, 3])
def test_executor_matches_onnxruntime(name, batch):
    build, tol = MODELS[name]
    proto = build()
    net = int8rt.onnx.import_model(proto)
    ex = Executor(net)
    rng = np.random.default_rng(batch)
    feed = {proto.graph.input[0].name: (rng.standard_normal(_input_shape(proto, batch)) * 2).astype(np.float32)}
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in proto.graph.output]
    expected = dict(zip(names, sess.run(names, feed)))
    got = ex.run(feed)
    assert set(got) == set(names)
    for n in names:
        assert got[n].shape == expected[n].shape, n
        np.testing.assert_allclose(got[n], expected[n], rtol=tol, atol=tol, err_msg=f"{name}: output {n}")


def test_shipped_digits_cnn_matches_onnxruntime():
    """The real network shipped with the package (PyTorch export, BN kept), on its held-out data."""
    from pathlib import Path

    data_dir = Path(int8rt.__file__).resolve().parent / "data"
    model_path = data_dir / "digits_cnn.onnx"
    x = np.load(data_dir / "digits.npz")["test_x"][:64].astype(np.float32)
    ex = Executor(int8rt.onnx.import_model(model_path))
    got = ex.run({"input": x})["logits"]
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    expected = sess.run(["logits"], {"input": x})[0]
    # logits reach ~12; float32 dot products of <= 432 terms summed in another order
    # differ by a few 1e-6 (measured 3.8e-6), so 1e-4 absolute is a safe bound.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    assert np.array_equal(got.argmax(1), expected.argmax(1))
