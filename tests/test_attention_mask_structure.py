"""The token mask found by graph structure (accuracy/attention_mask.py,
acc30): the input whose values reach the attention scores' Softmax, not the
one whose name says ``mask``; the name rule only where structure finds none
or several.

- HF transformers encoders (BERT, DistilBERT, T5; random weights, one layer)
  exported by ``torch.onnx.export`` with the inputs renamed (``tokens``,
  ``keep``): the mask is found (the name rule finds nothing), through both
  exporters (TorchScript: Unsqueeze / Cast / Sub / Mul / Add, or the newer
  helpers' Flatten / Gather / And / Where; dynamo: GatherND / And / Where).
- A model whose token-type ids are named ``segment_mask`` (an embedding's
  indices) and whose mask is named ``valid``: structure picks ``valid``,
  where the name rule took the token-type ids.
- The measurement it serves: on an attention model with a renamed mask,
  the MatMul's shift is the real tokens' rounding shift (the name rule
  alone finds no mask and gives the padding's: more than 0.3 off)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import int8rt  # noqa: E402
from int8rt.accuracy import attention_mask as am  # noqa: E402
from int8rt.accuracy import bias_correction as bc  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402
from test_matmul_lstm_bias_correction import BIAS, K, N, S, W, _calibrated  # noqa: E402
from test_row_shifts_bias_correction import _masked_batch  # noqa: E402


def _bench():
    """benchmarks/transformer_bench.py (its exporter and torchvision guard)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import transformer_bench

    return transformer_bench


def _export(kind: str, dynamo: bool, path: str) -> None:
    """``kind``'s encoder (random weights, one layer) exported as users do
    (dynamic batch and sequence, default opset), its inputs named
    ``tokens`` and ``keep``."""
    torch = pytest.importorskip("torch")
    bench = _bench()
    bench.hide_broken_torchvision()
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    if kind == "bert":
        encoder = transformers.BertModel(transformers.BertConfig(
            vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=16))
    elif kind == "distilbert":
        encoder = transformers.DistilBertModel(transformers.DistilBertConfig(
            vocab_size=50, dim=32, n_layers=1, n_heads=2, hidden_dim=64, max_position_embeddings=16))
    else:
        encoder = transformers.T5EncoderModel(transformers.T5Config(
            vocab_size=50, d_model=32, d_kv=16, d_ff=64, num_layers=1, num_heads=2))
    bench.export_encoder(encoder.eval(), path, 50, names=("tokens", "keep"), dynamo=dynamo)


@pytest.mark.parametrize("kind,dynamo", [("bert", False), ("distilbert", False), ("t5", False), ("bert", True)])
def test_a_renamed_mask_of_an_hf_export_is_found(kind: str, dynamo: bool, tmp_path) -> None:
    if dynamo:
        pytest.importorskip("onnxscript")
    path = str(tmp_path / f"{kind}.onnx")
    _export(kind, dynamo, path)
    network = int8rt.onnx.import_model(path)
    assert am.named_mask_inputs(network) == []  # acc28's rule finds nothing
    assert am.structural_mask_inputs(network) == ["keep"]
    builder = int8rt._core.Builder(network, "int8")  # what bias correction reads: the optimized network
    assert am.mask_input(builder.optimized_network()) == "keep"


def _masked_softmax(mask: str) -> list[onnx.NodeProto]:
    """p = Softmax(scores + (1 - mask[:, None, :]) * big), as HF's BERT adds
    its mask (constants ``one``, ``onef``, ``big``)."""
    return [helper.make_node("Unsqueeze", [mask, "one"], ["m3"]),
            helper.make_node("Cast", ["m3"], ["mf"], to=TensorProto.FLOAT),
            helper.make_node("Sub", ["onef", "mf"], ["inv"]),
            helper.make_node("Mul", ["inv", "big"], ["ext"]),
            helper.make_node("Add", ["scores", "ext"], ["masked"]),
            helper.make_node("Softmax", ["masked"], ["p"], axis=-1)]


def _embedding_model() -> onnx.ModelProto:
    """ids, segment_mask (token-type ids: an embedding's indices) and valid
    (the padding mask, added to the scores) -> a one-head attention."""
    rng = np.random.default_rng(3001)
    d = 8
    nodes = [helper.make_node("Gather", ["words", "ids"], ["e0"]),
             helper.make_node("Gather", ["types", "segment_mask"], ["e1"]),
             helper.make_node("Add", ["e0", "e1"], ["e"]),
             helper.make_node("Transpose", ["e"], ["et"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["e", "et"], ["scores"]),
             *_masked_softmax("valid"),
             helper.make_node("MatMul", ["p", "e"], ["y"])]
    ints = [helper.make_tensor_value_info(n, TensorProto.INT64, ["B", 6]) for n in ("ids", "segment_mask", "valid")]
    return model(nodes, ints, [fvi("y", ["B", 6, d])],
                 [init("words", rng.standard_normal((20, d)).astype(np.float32)),
                  init("types", rng.standard_normal((2, d)).astype(np.float32)),
                  init("one", np.array([1], np.int64)), init("onef", np.array(1.0, np.float32)),
                  init("big", np.array(-1e4, np.float32))])


def test_structure_takes_the_mask_over_a_misleading_name() -> None:
    network = int8rt.onnx.import_model(_embedding_model().SerializeToString())
    assert am.named_mask_inputs(network) == ["segment_mask"]  # the name rule's pick: token-type ids
    assert am.structural_mask_inputs(network) == ["valid"]
    assert am.mask_input(network) == "valid"


def _attention_model() -> onnx.ModelProto:
    """x [B, S, K], keep [B, S] -> h = MatMul(x, W) + BIAS; a one-head
    self-attention over h whose scores get ``(1 - keep) * -1e4``."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"], name="linear"),
             helper.make_node("Add", ["b", "mm"], ["h"], name="linear_bias"),
             helper.make_node("Transpose", ["h"], ["ht"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["h", "ht"], ["scores"]),
             *_masked_softmax("keep"),
             helper.make_node("MatMul", ["p", "h"], ["y"])]
    keep = helper.make_tensor_value_info("keep", TensorProto.INT64, ["B", S])
    return model(nodes, [fvi("x", ["B", S, K]), keep], [fvi("y", ["B", S, N])],
                 [init("w", W), init("b", BIAS), init("one", np.array([1], np.int64)),
                  init("onef", np.array(1.0, np.float32)), init("big", np.array(-1e4, np.float32))])


def test_the_renamed_mask_keeps_the_matmul_shift_to_real_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """About 62% of the rows are padding of mean -2 (the real tokens' mean
    is 1): with the mask found by structure the shift is the real tokens'
    rounding shift W[1:]' mean(x_real[1:]); by the name rule alone (no
    input named ``mask``) every row counts and the shift is the padding's."""
    data = [{"x": b["x"], "keep": b["attention_mask"]} for b in (_masked_batch(8) for _ in range(4))]
    builder, scales = _calibrated(_attention_model(), data)
    network = builder.optimized_network()
    assert am.mask_input(network) == "keep"
    got = np.asarray(bc.measure_shifts(network, scales, data, 8, set())["linear"])
    real = np.concatenate([d["x"][d["keep"] == 1] for d in data]).astype(np.float64)
    want = W[1:].astype(np.float64).T @ real.mean(axis=0)[1:]
    np.testing.assert_allclose(got, want, atol=0.01)
    assert np.abs(want).min() > 0.15
    monkeypatch.setattr(am, "structural_mask_inputs", lambda network: [])  # acc28's rule: by name only
    named_only = np.asarray(bc.measure_shifts(network, scales, data, 8, set())["linear"])
    assert np.abs(named_only - got).min() > 0.3, (named_only, got)


def test_inputs_of_unknown_rank_are_no_mask() -> None:
    """An If branch's inputs can have no known shape (branch_bias.py
    measures each branch as a network of its own): no mask, and no error.
    The branch is stood in for by the three calls attention_mask.py makes."""

    class Branch:
        def inputs(self) -> list[int]:
            return [0, 1]

        def tensors(self) -> list[dict]:
            return [{"name": "attention_mask", "shape": None, "dtype": "int64"},
                    {"name": "scores", "shape": None, "dtype": "float32"}, {"name": "p", "shape": None}]

        def nodes(self) -> list[dict]:
            return [{"op": "Softmax", "name": "softmax", "inputs": [1], "outputs": [2], "attrs": {}}]

    assert am.structural_mask_inputs(Branch()) == [] and am.mask_input(Branch()) is None
