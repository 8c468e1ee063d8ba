"""A small BERT-style encoder written directly in torch (no `transformers`):
token / position / type embeddings (nn.Embedding), LayerNorm, multi-head
attention with an additive attention mask, GELU, softmax. The mask is built
as HuggingFace builds it, ``(1.0 - mask[:, None, None, :].to(float)) *
finfo.min``, and also through the comparisons, logic ops and ``where`` that
other exports (``masked_fill``, newer mask helpers) emit, so the graph holds
int64 and bool tensors at run time: Equal, GreaterOrEqual, LessOrEqual, And,
Or, Not, IsNaN, Where, Cast.

Exported with torch.onnx (dynamic batch, static sequence length), int64
``input_ids`` and ``attention_mask``: it must import unchanged, and the FP32
engine must match ONNX Runtime within 1e-4 relative, before and after an
engine-file round trip."""
from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")  # torch.onnx.export's default (dynamo) exporter needs it
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402

VOCAB, HIDDEN, HEADS, FFN, LAYERS, MAX_POS, SEQ = 50, 32, 4, 64, 2, 16, 12


class _Layer(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.d = HIDDEN // HEADS
        self.q, self.k, self.v, self.o = (torch.nn.Linear(HIDDEN, HIDDEN) for _ in range(4))
        self.ln1, self.ln2 = torch.nn.LayerNorm(HIDDEN, eps=1e-12), torch.nn.LayerNorm(HIDDEN, eps=1e-12)
        self.up, self.down, self.act = torch.nn.Linear(HIDDEN, FFN), torch.nn.Linear(FFN, HIDDEN), torch.nn.GELU()

    def heads(self, x: "torch.Tensor") -> "torch.Tensor":
        return x.view(x.size()[:-1] + (HEADS, self.d)).permute(0, 2, 1, 3)

    def forward(self, x: "torch.Tensor", ext: "torch.Tensor") -> "torch.Tensor":
        q, k, v = self.heads(self.q(x)), self.heads(self.k(x)), self.heads(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d) + ext
        ctx = (torch.softmax(scores, dim=-1) @ v).permute(0, 2, 1, 3).contiguous()
        ctx = ctx.view(ctx.size()[:-2] + (HIDDEN,))
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.down(self.act(self.up(x))))


class _Encoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.word = torch.nn.Embedding(VOCAB, HIDDEN)
        self.position = torch.nn.Embedding(MAX_POS, HIDDEN)
        self.token_type = torch.nn.Embedding(2, HIDDEN)
        self.ln = torch.nn.LayerNorm(HIDDEN, eps=1e-12)
        self.layers = torch.nn.ModuleList(_Layer() for _ in range(LAYERS))
        self.register_buffer("position_ids", torch.arange(MAX_POS).expand((1, -1)), persistent=False)

    def forward(self, input_ids: "torch.Tensor", attention_mask: "torch.Tensor") -> "torch.Tensor":
        positions = self.position_ids[:, :input_ids.size(1)]
        x = self.word(input_ids) + self.position(positions) + self.token_type(torch.zeros_like(input_ids))
        x = self.ln(x)
        m = attention_mask[:, None, None, :]
        fmin = torch.finfo(torch.float32).min
        hf = (1.0 - m.to(torch.float32)) * fmin  # HuggingFace's get_extended_attention_mask
        keep = (((m >= 1) & (m <= 1)) | (m == 2)) & ~torch.isnan(m.to(torch.float32))
        ext = torch.where(keep, hf, torch.tensor(fmin))  # the same mask, through comparisons and logic
        for layer in self.layers:
            x = layer(x, ext)
        return x


@pytest.fixture(scope="module")
def exported() -> bytes:
    torch.manual_seed(0)
    model = _Encoder().eval()
    ids = torch.randint(0, VOCAB, (2, SEQ))
    mask = torch.ones(2, SEQ, dtype=torch.int64)
    buf = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask), buf, input_names=["input_ids", "attention_mask"],
                          output_names=["hidden"],
                          dynamic_axes={"input_ids": {0: "N"}, "attention_mask": {0: "N"}, "hidden": {0: "N"}})
    return buf.getvalue()


def _inputs(batch: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, VOCAB, (batch, SEQ)).astype(np.int64)
    mask = np.ones((batch, SEQ), np.int64)
    for b in range(batch):
        mask[b, SEQ - 1 - 3 * b:] = 0  # padding of a different length per sequence (none for the first)
    return {"input_ids": ids, "attention_mask": mask}


def test_bert_encoder_imports_unchanged_and_matches_onnx_runtime(exported: bytes, tmp_path) -> None:
    proto = onnx.load_from_string(exported)
    graph_ops = {n.op_type for n in proto.graph.node}
    assert {"Gather", "Equal", "GreaterOrEqual", "And", "Not", "IsNaN", "Where"} <= graph_ops, graph_ops
    assert [i.type.tensor_type.elem_type for i in proto.graph.input] == [onnx.TensorProto.INT64] * 2

    net = int8rt.onnx.import_model(exported)
    run_time_ops = {n["op"] for n in net.nodes()}
    # The mask arithmetic reads the run-time mask: it runs in the engine, not folded away.
    assert {"Equal", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Not", "IsNaN", "Where"} <= run_time_ops

    engine = int8rt.build_engine(exported, int8rt.BuilderConfig(precision="fp32"))
    path = tmp_path / "bert.i8rt"
    engine.save(path)
    reloaded = int8rt.Engine.load(path)
    session = ort.InferenceSession(exported, providers=["CPUExecutionProvider"])
    for batch, seed in ((1, 1), (3, 2)):
        feeds = _inputs(batch, seed)
        want = session.run(None, feeds)[0]
        for which, e in (("built", engine), ("reloaded", reloaded)):
            got = e.run(feeds)["hidden"]
            assert got.shape == want.shape == (batch, SEQ, HIDDEN)
            err = float(np.abs(got - want).max())
            assert err <= 1e-4 * float(np.abs(want).max()), f"{which} engine, batch {batch}: max |diff| {err}"

    # The mask matters (so the comparison above checks the mask arithmetic):
    # unmasking the padding changes the first real tokens' outputs alike in both.
    feeds = _inputs(3, 2)
    unmasked = dict(feeds, attention_mask=np.ones_like(feeds["attention_mask"]))
    ours = engine.run(unmasked)["hidden"]
    assert np.abs(ours[2] - engine.run(feeds)["hidden"][2]).max() > 1e-3
    np.testing.assert_allclose(ours, session.run(None, unmasked)[0], rtol=0, atol=1e-4 * float(np.abs(ours).max()))


def test_bert_encoder_attention_runs_as_one_int8_layer(exported: bytes) -> None:
    """INT8: each layer's Q K^T / sqrt(d) + mask -> softmax -> x V becomes one
    int8rt.QAttention (the scale, mask Add and softmax inside it); centred
    cosine >= 0.99 against FP32 on held-out, partly masked inputs."""
    calib = [_inputs(4, seed) for seed in range(10, 16)]
    fp32 = int8rt.build_engine(exported, int8rt.BuilderConfig(precision="fp32"))
    q = int8rt.build_engine(exported, int8rt.BuilderConfig(calibrator=calib))
    ops = [layer["op"] for layer in q.layers()]
    assert ops.count("int8rt.QAttention") == LAYERS, ops
    assert "Softmax" not in ops
    held = [_inputs(3, seed) for seed in range(20, 24)]
    ref = np.stack([fp32.run(f)["hidden"] for f in held])
    got = np.stack([q.run(f)["hidden"] for f in held])
    g, r = (got - got.mean(axis=0)).ravel(), (ref - ref.mean(axis=0)).ravel()
    assert float(g @ r / (np.linalg.norm(g) * np.linalg.norm(r))) >= 0.99
