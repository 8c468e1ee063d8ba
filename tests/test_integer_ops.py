"""ONNX's integer ops (DynamicQuantizeLinear, MatMulInteger, ConvInteger, QLinearMatMul)
and ONNX Runtime's quantize_dynamic contrib ops (MatMulIntegerToFloat,
DynamicQuantizeMatMul, DynamicQuantizeLSTM) through the engine.

The integer results are compared with ``==`` against numpy's int64 formulas of
the spec, on every ISA tier the CPU has (the gemm_u8s8 kernels) and the
reference; float results of the contrib ops and of whole networks against
ONNX Runtime on the same file, with the bound stated at each check.
"""
from __future__ import annotations

import os
import sysconfig

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import int8rt  # noqa: E402
from int8rt.onnx.backend import Int8rtBackend  # noqa: E402
from _ort_oracle import skip_unless_integer_gemm_is_exact  # noqa: E402

_NP = {TensorProto.UINT8: np.uint8, TensorProto.INT8: np.int8}


@pytest.fixture(params=["ref", "avxvnni", "best"])
def tier(request):
    """Runs a test with the ISA capped at the reference, at AVX-VNNI (the 6 x 16 gemm_u8s8 tile, B packed by
    the driver's scalar loop; skipped on a CPU without it), then with the best tier."""
    old = int8rt.get_max_isa()
    if request.param == "avxvnni" and not int8rt.kernels.isa_info()["avxvnni"]["cpu"]:
        pytest.skip("the CPU has no AVX-VNNI")
    if request.param != "best":
        int8rt.set_max_isa(request.param)
    yield request.param
    int8rt.set_max_isa(None)
    assert int8rt.get_max_isa() == old


def _model(node: onnx.NodeProto, inputs, outputs, opset: int = 13, ms: bool = False) -> onnx.ModelProto:
    graph = helper.make_graph([node], "g", inputs, outputs)
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("com.microsoft", 1)] if ms else [])
    return helper.make_model(graph, opset_imports=imports)


def _vi(name: str, elem: int, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, list(shape))


def _ints(rng, elem: int, shape) -> np.ndarray:
    lo, hi = (0, 256) if elem == TensorProto.UINT8 else (-128, 128)
    return rng.integers(lo, hi, shape).astype(_NP[elem])


@pytest.mark.parametrize("ta,tb", [(TensorProto.UINT8, TensorProto.INT8), (TensorProto.UINT8, TensorProto.UINT8),
                                   (TensorProto.INT8, TensorProto.UINT8), (TensorProto.INT8, TensorProto.INT8)])
def test_matmul_integer_equals_the_spec(tier, ta, tb) -> None:
    """MatMulInteger == (A - za) @ (B - zb) in int64, per-tensor, per-row and per-column zero
    points, B a run-time input and a constant (packed once), shapes around the 6 x 64 tile and
    K not a multiple of 4; batched A against 2-D and batched B."""
    rng = np.random.default_rng(1)
    for M, K, N, batch in [(1, 1, 1, ()), (7, 5, 17, ()), (13, 67, 65, ()), (6, 64, 64, (2,)), (3, 9, 130, (2, 3))]:
        a = _ints(rng, ta, batch + (M, K))
        b = _ints(rng, tb, (K, N) if len(batch) != 1 else batch + (K, N))
        for za_shape, zb_shape in [((), ()), ((M,), (N,)), ((), (N,))]:
            za, zb = _ints(rng, ta, za_shape), _ints(rng, tb, zb_shape)
            want = (a.astype(np.int64) - (za[:, None] if za.ndim else za)) @ (b.astype(np.int64) - zb)
            for constant_b in (False, True):
                inits = [onnx.numpy_helper.from_array(b, "B")] if constant_b else []
                node = helper.make_node("MatMulInteger", ["A", "B", "za", "zb"], ["Y"])
                ins = [_vi("A", ta, a.shape), _vi("za", ta, za.shape), _vi("zb", tb, zb.shape)]
                if not constant_b:
                    ins.insert(1, _vi("B", tb, b.shape))
                model = _model(node, ins, [_vi("Y", TensorProto.INT32, want.shape)])
                model.graph.initializer.extend(inits)
                rep = Int8rtBackend.prepare(model)
                feeds = [a, za, zb] if constant_b else [a, b, za, zb]
                got = rep.run(feeds)[0]
                assert got.dtype == np.int32
                np.testing.assert_array_equal(got, want.astype(np.int32),
                                              err_msg=f"M={M} K={K} N={N} batch={batch} za{za_shape} zb{zb_shape}")


def _conv_ref(x, w, zx, zw, stride, pads, dil, group) -> np.ndarray:
    """ConvInteger's spec in int64: conv(X - zx, W - zw), zero padding."""
    X = x.astype(np.int64) - zx
    W = w.astype(np.int64) - (zw.reshape(-1, 1, 1, 1) if zw.ndim else zw)
    N, C, H, Wd = X.shape
    M, Cg, kh, kw = W.shape
    X = np.pad(X, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    OH = (H + pads[0] + pads[2] - (kh - 1) * dil[0] - 1) // stride[0] + 1
    OW = (Wd + pads[1] + pads[3] - (kw - 1) * dil[1] - 1) // stride[1] + 1
    Y = np.zeros((N, M, OH, OW), np.int64)
    Mg = M // group
    for g in range(group):
        for r in range(kh):
            for s in range(kw):
                patch = X[:, g * Cg:(g + 1) * Cg, r * dil[0]:r * dil[0] + stride[0] * (OH - 1) + 1:stride[0],
                          s * dil[1]:s * dil[1] + stride[1] * (OW - 1) + 1:stride[1]]
                Y[:, g * Mg:(g + 1) * Mg] += np.einsum("nchw,mc->nmhw", patch, W[g * Mg:(g + 1) * Mg, :, r, s])
    return Y


@pytest.mark.parametrize("tx,tw", [(TensorProto.UINT8, TensorProto.UINT8), (TensorProto.UINT8, TensorProto.INT8),
                                   (TensorProto.INT8, TensorProto.INT8)])
def test_conv_integer_equals_the_spec(tier, tx, tw) -> None:
    """ConvInteger == conv(X - zx, W - zw) in int64: groups, strides, pads, dilations, per-tensor and
    per-output-channel W zero points (the padding contributes 0, as the spec's zero padding of X - zx)."""
    rng = np.random.default_rng(2)
    cases = [  # N, C, H, W, M, k, stride, pads, dilation, group
        (1, 3, 7, 9, 5, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
        (2, 4, 8, 8, 6, (3, 2), (2, 1), (0, 1, 2, 0), (1, 2), 2),
        (1, 17, 5, 6, 20, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),
        (1, 8, 6, 6, 8, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 8),
        (1, 5, 11, 13, 7, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),  # 143 pixels: strips of 64, 64, 15 columns
    ]
    for N, C, H, W, M, k, stride, pads, dil, group in cases:
        x = _ints(rng, tx, (N, C, H, W))
        w = _ints(rng, tw, (M, C // group) + k)
        zx = _ints(rng, tx, ())
        for zw in (_ints(rng, tw, ()), _ints(rng, tw, (M,))):
            want = _conv_ref(x, w, zx, zw, stride, pads, dil, group)
            node = helper.make_node("ConvInteger", ["x", "w", "zx", "zw"], ["y"], strides=list(stride),
                                    pads=list(pads), dilations=list(dil), group=group, kernel_shape=list(k))
            model = _model(node, [_vi("x", tx, x.shape), _vi("zx", tx, ()), _vi("zw", tw, zw.shape)],
                           [_vi("y", TensorProto.INT32, want.shape)])
            model.graph.initializer.append(onnx.numpy_helper.from_array(w, "w"))
            got = Int8rtBackend.prepare(model).run([x, zx, zw])[0]
            np.testing.assert_array_equal(got, want.astype(np.int32), err_msg=f"case {(N, C, H, W, M, k, group)}")


def test_conv_integer_1d_equals_the_spec(tier) -> None:
    """A 1-D ConvInteger (NCL) runs as 2-D with H = 1: == the spec's int64 formula, strides, pads,
    dilations, groups; W constant (packed once) and W a run-time input (packed per run)."""
    rng = np.random.default_rng(9)
    for N, C, L, M, k, stride, pads, dil, group in [(2, 6, 70, 4, 3, 1, (1, 2), 1, 2), (1, 3, 29, 8, 5, 2, (0, 3), 2, 1)]:
        x = _ints(rng, TensorProto.UINT8, (N, C, L))
        w = _ints(rng, TensorProto.INT8, (M, C // group, k))
        zx, zw = _ints(rng, TensorProto.UINT8, ()), _ints(rng, TensorProto.INT8, (M,))
        want = _conv_ref(x[:, :, None], w[:, :, None], zx, zw, (1, stride), (0, pads[0], 0, pads[1]), (1, dil),
                         group)[:, :, 0]
        for w_input in (False, True):
            node = helper.make_node("ConvInteger", ["x", "w", "zx", "zw"], ["y"], strides=[stride], pads=list(pads),
                                    dilations=[dil], group=group)
            inputs = [_vi("x", TensorProto.UINT8, x.shape), _vi("zx", TensorProto.UINT8, ()),
                      _vi("zw", TensorProto.INT8, zw.shape)]
            if w_input:
                inputs.insert(1, _vi("w", TensorProto.INT8, w.shape))
            model = _model(node, inputs, [_vi("y", TensorProto.INT32, want.shape)])
            if not w_input:
                model.graph.initializer.append(onnx.numpy_helper.from_array(w, "w"))
            feeds = [x, w, zx, zw] if w_input else [x, zx, zw]
            got = Int8rtBackend.prepare(model).run(feeds)[0]
            np.testing.assert_array_equal(got, want.astype(np.int32), err_msg=f"case {(N, C, L, M, k, w_input)}")


def test_dynamic_quantize_linear_equals_the_spec(tier) -> None:
    """The three outputs == ONNX's formula in float32 (onnx/reference's numpy), on data that is
    all positive, all negative, mixed, constant and holds exact halves of a step, 148 elements (a
    16-lane and an 8-lane tail), on the reference and the best dynamic_quantize_u8 kernel."""
    rng = np.random.default_rng(3)
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])
    model = _model(node, [_vi("x", TensorProto.FLOAT, (4, 37))],
                   [_vi("y", TensorProto.UINT8, (4, 37)), _vi("s", TensorProto.FLOAT, ()),
                    _vi("z", TensorProto.UINT8, ())])
    rep = Int8rtBackend.prepare(model)
    halves = (np.arange(4 * 37, dtype=np.float32).reshape(4, 37) - 70) * np.float32(0.5)
    for x in [rng.normal(size=(4, 37)), rng.uniform(1, 3, (4, 37)), -rng.uniform(1, 3, (4, 37)),
              np.full((4, 37), 2.5), halves]:
        x = x.astype(np.float32)
        hi, lo = np.float32(max(0, x.max())), np.float32(min(0, x.min()))
        scale = np.float32(1.0 if hi == lo else hi - lo) / np.float32(255)
        zp = np.rint(np.clip(np.float32(0) - lo / scale, 0, 255))
        want = np.clip(np.rint(x / scale) + zp, 0, 255).astype(np.uint8)
        y, s, z = rep.run([x])
        assert s == scale and z == zp
        np.testing.assert_array_equal(y, want)


def _ort_session(model: onnx.ModelProto):
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def test_matmul_integer_to_float_and_dynamic_quantize_matmul_match_onnx_runtime() -> None:
    """The com.microsoft ops, rewritten at import into DynamicQuantizeLinear + MatMulInteger + Cast +
    Mul + Add: equal to ONNX Runtime's kernels within 1e-6 of the output's range (ONNX Runtime's
    MLAS may fuse float(acc) * scale + bias into one FMA; the integer products are exact)."""
    skip_unless_integer_gemm_is_exact()
    rng = np.random.default_rng(4)
    K, N = 70, 33
    b = rng.integers(-128, 128, (K, N)).astype(np.int8)
    b_scale = rng.uniform(0.01, 0.02, (N,)).astype(np.float32)
    bias = rng.normal(size=(N,)).astype(np.float32)
    inits = [onnx.numpy_helper.from_array(v, n) for v, n in [(b, "B"), (b_scale, "b_scale"), (bias, "bias")]]
    a = rng.normal(size=(2, 5, K)).astype(np.float32)
    dqm = helper.make_node("DynamicQuantizeMatMul", ["A", "B", "b_scale", "", "bias"], ["Y"], domain="com.microsoft")
    m1 = _model(dqm, [_vi("A", TensorProto.FLOAT, a.shape)], [_vi("Y", TensorProto.FLOAT, (2, 5, N))], ms=True)
    m1.graph.initializer.extend(inits)
    aq = rng.integers(0, 256, (2, 5, K)).astype(np.uint8)
    a_scale, a_zp = np.array(0.03, np.float32), np.array(131, np.uint8)
    mitf = helper.make_node("MatMulIntegerToFloat", ["A", "B", "a_scale", "b_scale", "a_zp", "", "bias"], ["Y"],
                            domain="com.microsoft")
    m2 = _model(mitf, [_vi("A", TensorProto.UINT8, aq.shape), _vi("a_scale", TensorProto.FLOAT, ()),
                       _vi("a_zp", TensorProto.UINT8, ())], [_vi("Y", TensorProto.FLOAT, (2, 5, N))], ms=True)
    m2.graph.initializer.extend(inits)
    for model, feeds in [(m1, {"A": a}), (m2, {"A": aq, "a_scale": a_scale, "a_zp": a_zp})]:
        want = _ort_session(model).run(None, feeds)[0]
        got = Int8rtBackend.prepare(model).run(list(feeds.values()))[0]
        assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max()


def test_dynamic_quantize_lstm_matches_onnx_runtime() -> None:
    """DynamicQuantizeLSTM (bidirectional, uint8 and int8 weights, per-tensor and per-row scales, initial
    states) against ONNX Runtime's kernel: the same dynamic uint8 quantization of X and each step's h
    and exact integer products, so only the float cell (sigmoid / tanh implementations, the order of
    the bias and product additions) differs: within 1e-4 absolute on outputs in (-1, 1)."""
    skip_unless_integer_gemm_is_exact()
    rng = np.random.default_rng(5)
    T, B, I, H = 6, 3, 10, 8
    x = rng.normal(size=(T, B, I)).astype(np.float32)
    h0 = rng.normal(size=(2, B, H)).astype(np.float32) * 0.5
    c0 = rng.normal(size=(2, B, H)).astype(np.float32) * 0.5
    for wtype, per_row in [(np.int8, False), (np.uint8, True)]:
        lo, hi = (-128, 128) if wtype == np.int8 else (0, 256)
        w = rng.integers(lo, hi, (2, I, 4 * H)).astype(wtype)
        r = rng.integers(lo, hi, (2, H, 4 * H)).astype(wtype)
        sshape = (2, 4 * H) if per_row else (2,)
        ws, rs = (rng.uniform(0.002, 0.004, sshape).astype(np.float32) for _ in range(2))
        wz = (np.zeros(sshape) + (0 if wtype == np.int8 else 128)).astype(wtype)
        bias = rng.normal(size=(2, 8 * H)).astype(np.float32) * 0.1
        inits = [onnx.numpy_helper.from_array(v, n) for v, n in
                 [(w, "W"), (r, "R"), (bias, "Bias"), (ws, "ws"), (wz, "wz"), (rs, "rs"), (wz.copy(), "rz")]]
        node = helper.make_node("DynamicQuantizeLSTM", ["X", "W", "R", "Bias", "", "h0", "c0", "", "ws", "wz", "rs", "rz"],
                                ["Y", "Yh", "Yc"], domain="com.microsoft", hidden_size=H, direction="bidirectional")
        model = _model(node, [_vi("X", TensorProto.FLOAT, x.shape), _vi("h0", TensorProto.FLOAT, h0.shape),
                              _vi("c0", TensorProto.FLOAT, c0.shape)],
                       [_vi("Y", TensorProto.FLOAT, (T, 2, B, H)), _vi("Yh", TensorProto.FLOAT, (2, B, H)),
                        _vi("Yc", TensorProto.FLOAT, (2, B, H))], ms=True)
        model.graph.initializer.extend(inits)
        want = _ort_session(model).run(None, {"X": x, "h0": h0, "c0": c0})
        got = Int8rtBackend.prepare(model).run([x, h0, c0])
        for g, e in zip(got, want):
            assert g.shape == e.shape
            assert np.abs(g - e).max() <= 1e-4, (wtype, np.abs(g - e).max())


def _ddddocr_old() -> str:
    path = os.path.join(sysconfig.get_paths()["purelib"], "ddddocr", "common_old.onnx")
    if not os.path.exists(path):
        pytest.skip("ddddocr is not installed (pip install --no-deps ddddocr)")
    return path


def _ddddocr_sample(path: str) -> np.ndarray:
    """The wheel's own image (logo.png) prepared as ddddocr prepares an image for this model:
    height 64 (LANCZOS, width in proportion), grey, / 255, [1, 1, 64, W]."""
    Image = pytest.importorskip("PIL.Image")
    img = Image.open(os.path.join(os.path.dirname(path), "logo.png"))
    img = img.resize((int(img.size[0] * 64 / img.size[1]), 64), Image.LANCZOS).convert("L")
    return (np.asarray(img, np.float32) / 255.0)[None, None]


def test_ddddocr_old_model_integer_layers_equal_onnx_runtime() -> None:
    """ddddocr's common_old.onnx (ConvInteger + DynamicQuantizeLinear + DynamicQuantizeLSTM + MatMulInteger,
    quantized by the old onnx.quantize): imports unchanged. Each ConvInteger block (DynamicQuantizeLinear ->
    ConvInteger -> int32 bias -> Cast -> Mul) fed ONNX Runtime's own input for it gives ONNX Runtime's
    output exactly (==); the whole network on the wheel's sample image within 2e-3 of the logits' range
    (float ops between the blocks differ in the last bits, and a value at a rounding boundary then
    quantizes one step apart), with the same greedy CTC path."""
    path = _ddddocr_old()
    x = _ddddocr_sample(path)
    model = onnx.load(path)
    sess = _ort_session(model)
    want = sess.run(None, {"input1": x})[0]
    got = Int8rtBackend.prepare(model).run([x])[0]
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 2e-3 * np.abs(want).max()
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
    # The first three ConvInteger blocks, from each block's float input to its float output.
    cons = {}
    for n in model.graph.node:
        for i in n.input:
            cons.setdefault(i, []).append(n)
    dql = {n.output[0]: n for n in model.graph.node if n.op_type == "DynamicQuantizeLinear"}
    blocks = []
    for conv in [n for n in model.graph.node if n.op_type == "ConvInteger"][:3]:
        add = cons[conv.output[0]][0]
        cast = cons[add.output[0]][0]
        mul = [k for k in cons[cast.output[0]] if k.op_type == "Mul"][0]
        blocks.append((dql[conv.input[0]].input[0], mul.output[0]))
    probe = onnx.load(path)
    for name in {t for b in blocks for t in b} - {"input1"}:
        probe.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    values = dict(zip([o.name for o in probe.graph.output], _ort_session(probe).run(None, {"input1": x})))
    values["input1"] = x
    extractor = onnx.utils.Extractor(model)
    for src, dst in blocks:
        sub = extractor.extract_model([src], [dst])
        got = Int8rtBackend.prepare(sub).run([values[src]])[0]
        np.testing.assert_array_equal(got, values[dst], err_msg=f"block {src} -> {dst}")


def _export_tiny_bert(path: str, vocab: int) -> None:
    """transformers' BertModel, 2 layers of width 64, random weights, exported by torch.onnx
    (dynamic batch and sequence), as benchmarks/transformer_bench.py exports its BERTs."""
    import contextlib
    import io
    import sys
    import warnings
    torch = pytest.importorskip("torch")
    if "torchvision" not in sys.modules:
        try:  # a torchvision wheel built for another torch breaks transformers' import; BERT needs none of it
            import torchvision  # noqa: F401
        except Exception:  # noqa: BLE001
            for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
                del sys.modules[name]
            sys.modules["torchvision"] = None  # type: ignore[assignment]
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=vocab, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=128, max_position_embeddings=64)
    bert = transformers.BertModel(cfg).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.randint(0, vocab, (2, 12))
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder(), (ids, torch.ones_like(ids)), path, input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})


def test_quantize_dynamic_bert_matches_onnx_runtime(tmp_path) -> None:
    """A HuggingFace BERT (random small config) exported by torch.onnx and quantized by ONNX Runtime's
    quantize_dynamic (DynamicQuantizeLinear + MatMulInteger, int8 weights): imports unchanged; the last
    hidden state within 1e-2 of its range of ONNX Runtime's on the same file (activations are quantized
    at run time, so a float difference in LayerNorm or GELU at a rounding boundary moves a value one
    step; ONNX Runtime's own optimized and unoptimized runs differ by as much)."""
    quantization = pytest.importorskip("onnxruntime.quantization")
    _export_tiny_bert(str(tmp_path / "bert.onnx"), vocab=300)
    fp32, q = str(tmp_path / "bert.onnx"), str(tmp_path / "bert_q.onnx")
    quantization.quantize_dynamic(fp32, q, weight_type=quantization.QuantType.QInt8)
    rng = np.random.default_rng(6)
    ids = rng.integers(0, 300, (2, 12)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 9:] = 0
    model = onnx.load(q)
    assert any(n.op_type == "MatMulInteger" for n in model.graph.node)
    want = _ort_session(model).run(None, {"input_ids": ids, "attention_mask": mask})[0]
    got = Int8rtBackend.prepare(model).run([ids, mask])[0]
    assert np.abs(got - want).max() <= 1e-2 * np.abs(want).max()


def test_quantize_dynamic_matmul_chain_is_fused_and_equals_the_literal_ops() -> None:
    """DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(a_scale * b_scale) -> Add(bias), as
    quantize_dynamic writes a Linear, imports as DynamicQuantizeLinear + one MatMulIntegerToFloat
    and gives exactly (==) what ONNX Runtime gives running the ops literally (optimizations off)."""
    skip_unless_integer_gemm_is_exact()
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(7)
    K, N = 45, 70
    inits = [onnx.numpy_helper.from_array(v, n) for v, n in [
        (rng.integers(-127, 128, (K, N)).astype(np.int8), "W"), (np.array(0.0123, np.float32), "w_scale"),
        (np.array(0, np.int8), "w_zp"), (rng.normal(size=(N,)).astype(np.float32), "bias")]]
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             helper.make_node("MatMulInteger", ["xq", "W", "xz", "w_zp"], ["acc"]),
             helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["xs", "w_scale"], ["s"]),
             helper.make_node("Mul", ["accf", "s"], ["prod"]),
             helper.make_node("Add", ["bias", "prod"], ["y"])]
    graph = helper.make_graph(nodes, "g", [_vi("x", TensorProto.FLOAT, (3, 4, K))], [_vi("y", TensorProto.FLOAT, (3, 4, N))],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    ops = [n["op"] for n in int8rt.onnx.import_model(model).nodes()]
    assert "MatMulIntegerToFloat" in ops and "Cast" not in ops and "MatMulInteger" not in ops
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    literal = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    rep = Int8rtBackend.prepare(model)
    for _ in range(3):
        x = rng.normal(size=(3, 4, K)).astype(np.float32)
        np.testing.assert_array_equal(rep.run([x])[0], literal.run(None, {"x": x})[0])


def test_gathered_uint8_constant_is_cast_back_once_and_exactly() -> None:
    """quantize_dynamic's embeddings: Gather of a uint8 constant, then DequantizeLinear. The IR holds the
    uint8 weight widened to int64 and a Cast brings it back; gather_before_cast moves that Cast after the
    Gather, so only the gathered rows are cast per run. The output == numpy's, on two runs."""
    rng = np.random.default_rng(3)
    w = rng.integers(0, 256, (9, 5)).astype(np.uint8)
    nodes = [helper.make_node("Gather", ["w", "i"], ["q"]), helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
    graph = helper.make_graph(nodes, "g", [_vi("i", TensorProto.INT64, [3])], [_vi("y", TensorProto.FLOAT, [3, 5])],
                              [onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(np.float32(0.5), "s"),
                               onnx.numpy_helper.from_array(np.uint8(100), "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    ctx = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    assert [p["op"] for p in ctx.profile({"i": np.array([0, 1, 2], np.int64)}, 1)][:2] == ["Gather", "Cast"]
    for i in (np.array([8, 0, 3], np.int64), np.array([1, 1, 7], np.int64)):
        want = (w[i].astype(np.float32) - 100) * np.float32(0.5)
        assert np.array_equal(ctx.run({"i": i})["y"], want)
