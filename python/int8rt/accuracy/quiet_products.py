"""The ``auto`` calibrator's float products: activation x activation
MatMuls kept in float32 where most rows of the product's output lie below
one int8 step of its tensor's grid and the judging samples' output error
says so.

Why. A product of two activations (attention's Q K^T and P V, a linear
attention's K^T V and Q (K^T V)) is held in int8 with one scale per
tensor for each operand and for its output (lower_int8_linear.cc,
``int8_matmul_pairs``). EfficientViT's ReLU linear attention (timm's
LiteMLA) computes ``kv = relu(K)^T [V, 1]`` and ``out = relu(Q) kv`` and
divides each row of ``out`` by its own last column (the normaliser
``relu(Q) sum(relu(K))``): a ratio, so each row needs its own relative
precision. But these products' magnitudes span the heads and the inputs
far beyond the grid's 127 levels (non-negative ReLU'd operands summed
over 49-196 positions; a product of two gains): on random-weight
efficientvit_b0, 71-95 % of the rows of the eight products' outputs have
an RMS below one step of their tensor's grid (ONNX Runtime FP32 over 32
calibration images, minmax thresholds). Such a row rounds to nothing or
to a level or two, and the division scales that rounding up to the size
of a loud row. Quantizing the products' outputs alone (float32
elsewhere, fake-quantized in ONNX Runtime) takes the centred cosine to
0.15-0.17; quantizing the first products' operands, or relu(Q), alone
keeps 0.993-0.995, though 15-57 % of their rows are below a step too: a
product sums over many of them, and nothing divides an operand's row by
itself (benchmarks/RESULTS_accuracy.md, acc42). Softmax attention's
products are not like that: probabilities sum to one per row, so P V's
rows are alike, and a score row that is quiet is a near-uniform softmax
that its rounding hardly moves.

The rule, as the float stem's (quiet_positions.py), whose measure it
reuses with rows for positions: the products the build runs in int8
(int8rt.QMatMul layers) whose output tensor holds a threshold, does not
reach a Softmax through element-wise and data-moving ops (attention
scores: attention_mask.VALUE_OPS) and has at least ``QUIET_SHARE`` of its
rows (every axis but the last) below one step of that threshold's grid
on the judging samples (float32 values), and the products that read such
a product's output (they would quantize it as their operand), are tried
in float32 against the build's engine as it stands, and kept there where
the output error on the judging samples is lower by
``auto_choice.MIN_GAIN`` (decision_rule.py, ``"margin"``: float products
cost time). The products not flagged stay int8 whatever the trial says.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional


from . import decision_rule
from .attention_mask import VALUE_OPS
from .forward_walk import Readers, reaches
from .quiet_positions import Rows, StemTrial, Trial, quiet_share

__all__ = ["INT8_PRODUCT_OP", "QUIET_SHARE", "ProductTrial", "int8_products", "products", "quiet_products",
           "try_products"]

# The share of a product's output rows below one int8 step from which the
# product is tried in float32: efficientvit_b0's linear attention
# 0.71-0.95, against 0 on the context products (P V) of LeViT-128, DeiT-tiny,
# DistilBERT and paraphrase-MiniLM-L3 (benchmarks/RESULTS_accuracy.md,
# acc42). Their score products (Q K^T) are left out by structure instead:
# LeViT-128's have 27-72 % of their rows below a step, harmlessly.
QUIET_SHARE = 0.25


# The lowered layer that runs an activation x activation product in int8
# (lower_int8_linear.cc; attention's fused layers hold scores, left out).
INT8_PRODUCT_OP = "int8rt.QMatMul"


def int8_products(engine: Any) -> set[str]:
    """The names of the products ``engine`` (``_core.Engine``) runs in int8."""
    return {n["name"] for n in engine.network().nodes() if n["op"] == INT8_PRODUCT_OP}


def products(network: Any, fp32_layers: Iterable[str] = (), int8: Optional[set[str]] = None) -> dict[str, int]:
    """Layer name -> output tensor index of each MatMul of two float32
    activations (neither a constant) of ``network`` (a builder's
    optimized network) that is not in ``fp32_layers``, is in ``int8``
    where given (:func:`int8_products`), and whose output is
    not attention scores (it reaches no Softmax through
    attention_mask.VALUE_OPS: a quiet score row is a near-uniform softmax,
    whose rounding the Softmax does not scale up)."""
    tensors, skip, readers = network.tensors(), set(fp32_layers), Readers(network)

    def softmax(node: dict[str, Any], position: int, t: int) -> bool:
        return node["op"] == "Softmax"

    def passes(node: dict[str, Any], position: int, t: int) -> bool:
        return node["op"] in VALUE_OPS

    out: dict[str, int] = {}
    for node in network.nodes():
        if (node["op"] != "MatMul" or len(node["inputs"]) != 2 or node["name"] in skip
                or (int8 is not None and node["name"] not in int8)):
            continue
        if all(i >= 0 and tensors[i]["dtype"] == "float32" and not tensors[i]["is_constant"]
               for i in node["inputs"]) and not reaches(readers, node["outputs"][0], softmax, passes):
            out[node["name"]] = node["outputs"][0]
    return out


def quiet_products(network: Any, thresholds: Mapping[str, float],
                   values: Callable[[list[str]], Mapping[str, Rows]],
                   fp32_layers: Iterable[str] = (),
                   int8: Optional[set[str]] = None) -> tuple[list[str], dict[str, float]]:
    """The products to try in float32 (module docstring), and the quiet
    share of each product's output tensor that holds a threshold in
    ``thresholds``, by tensor name, on ``values(names) -> {name: float32
    values as rows}`` (quiet_positions.float_rows); ``int8``: as
    :func:`products`."""
    tensors = network.tensors()
    found = {layer: tensors[t]["name"] for layer, t in products(network, fp32_layers, int8).items()}
    found = {layer: name for layer, name in found.items() if thresholds.get(name, 0.0) > 0}
    if not found:
        return [], {}
    got = values(sorted(set(found.values())))
    shares = {name: round(quiet_share(got[name], thresholds[name]), 4) for name in found.values() if name in got}
    quiet = {name for name, share in shares.items() if share >= QUIET_SHARE}
    readers = {node["name"] for node in network.nodes() if node["name"] in found
               and any(i >= 0 and tensors[i]["name"] in quiet for i in node["inputs"])}
    return [layer for layer, name in found.items() if name in quiet or layer in readers], shares


@dataclass(frozen=True)
class ProductTrial(StemTrial):
    """The float products tried at one set of thresholds: StemTrial's
    fields, ``layers`` the products tried (each ``"fp32"``), ``shares`` the
    quiet share of every product output measured."""

    def report(self) -> str:
        """The build report's ``float_products`` entry."""
        worst = max(self.shares.values(), default=0.0)
        if self.tried is None:
            return (f"off ({len(self.shares)} products measured, at most {worst:.0%} of an output's rows below one "
                    f"int8 step; under {QUIET_SHARE:.0%})")
        return (f"{'on' if self.keep else 'off'} (auto: {len(self.layers)} of {len(self.shares)} products, "
                f"up to {worst:.0%} of an output's rows below one int8 step)")


def try_products(network: Any, trial: Trial, scales: Mapping[str, float], current_errors: Callable[[], Any],
                 judge: Callable[[Any], Any], values: Callable[[list[str]], Mapping[str, Rows]], *,
                 fp32_layers: Iterable[str] = (), bias_correction: Optional[bool] = None,
                 int8: Optional[set[str]] = None) -> ProductTrial:
    """The float products (:func:`quiet_products` at the thresholds of
    ``scales``, int8 scales; of ``int8`` where given) tried against the
    build's engine at ``scales``, whose errors on the judging samples
    ``current_errors()`` gives; ``judge`` scores the engine tried."""
    thresholds = {k: v * 127.0 for k, v in scales.items()}
    names, shares = quiet_products(network, thresholds, values, fp32_layers, int8)
    if not names:
        return ProductTrial({}, shares)
    layers = {n: "fp32" for n in names}
    builder, adopt = trial(layers)
    engine = builder.build(dict(scales))
    return ProductTrial(layers, shares, current_errors(), judge(engine), engine, builder, adopt,
                        decision_rule.reads_uncentred("float products", bias_correction))
