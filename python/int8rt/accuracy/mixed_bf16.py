"""Automatic mixed precision's float layers in BF16 (acc39): which layers
may run BF16, whether BF16 is tried at all, and the trial of the chosen set.

Where BF16 kernels run natively (AVX512-BF16 under the ISA cap) and the
build did not force FP32 (``BuilderConfig.accuracy_bf16=False``,
``int8rt build --accuracy-fp32``), mixed.py builds the set its FP32
search chose again with its layers that have a BF16 kernel that pays in
BF16 and scores it as it scored the set: shipped where it still meets the
target; else the fewest most sensitive of them stay FP32, found by
bisection; else the FP32 set ships. BF16 is chosen for accuracy, not for a
timing (a timing on a loaded machine would make the build's result vary);
the kernels it may use are those measured to pay (:func:`bf16_precisions`).
Follows quiet_positions.py (auto's float stem, acc33), whose
``stem_precisions`` says which layers have a BF16 kernel.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional

__all__ = ["Bf16Trial", "bf16_precisions", "bf16_trial", "bf16_unavailable"]


def bf16_precisions(network: Any, nodes: Iterable[str]) -> dict[str, str]:
    """``layer_precisions`` for float layers kept out of int8 with BF16 on:
    ``"bf16"`` for those with a BF16 kernel (quiet_positions.stem_precisions:
    Conv / Gemm with constant weights, MatMul) but grouped and depthwise
    Convs, ``"fp32"`` for the others. A depthwise conv has a handful of
    products per output and is bound by memory: on PP-OCRv4 rec every one
    of its 12 depthwise float convs took longer in BF16 than FP32 (1.1-4.1x,
    thread CPU, same mixed engine), its 1x1 convs 0.64-1.05x (acc39)."""
    from .quiet_positions import stem_precisions

    out = stem_precisions(network, nodes)
    grouped = {n["name"] for n in network.nodes() if n["name"] in out and int(n["attrs"].get("group", 1)) > 1}
    return {n: "fp32" if n in grouped else p for n, p in out.items()}


def bf16_unavailable(allowed: bool = True, every_float_bf16: bool = False, device: str = "cpu") -> str:
    """Why automatic mixed precision keeps its float layers FP32 without
    trying BF16, "" where it tries BF16: ``allowed`` is
    ``BuilderConfig.accuracy_bf16`` (``int8rt build --accuracy-fp32``
    clears it), ``every_float_bf16`` is ``BuilderConfig.bf16`` (every float
    layer with a BF16 kernel runs BF16 already); BF16 kernels must run
    natively (AVX512-BF16 under the ISA cap: the scalar reference elsewhere
    is slower than FP32) and are CPU kernels (``device``: BuilderConfig's)."""
    from .quiet_positions import native_bf16

    if not allowed:
        return "FP32 forced (BuilderConfig.accuracy_bf16=False, --accuracy-fp32)"
    if device != "cpu":
        return f"the BF16 kernels are CPU kernels (device {device})"
    if every_float_bf16:
        return "BuilderConfig.bf16 (--bf16) runs every float layer with a BF16 kernel in BF16 already"
    if not native_bf16():
        return "no native BF16 here (the CPU lacks AVX512-BF16, or the ISA cap is below avx512bf16)"
    return ""


@dataclass(frozen=True)
class Bf16Trial:
    """What :func:`bf16_trial` found (mixed.MixedPrecision's bf16_* fields)."""

    engine: Any = None          # the chosen set with some layers in BF16, meeting the target (None: none does)
    layers: tuple[str, ...] = ()  # the chosen layers it runs in BF16; () where the FP32 set ships
    score: Optional[float] = None  # its score; where none meets, the score with every layer that can in BF16
    note: str = ""              # why float layers (all or the most sensitive) stay FP32


class _NoSteps:
    """The progress step the bisection counts (the BF16 builds are not shown)."""

    def update(self) -> None:
        pass


def bf16_trial(build: Callable[..., Any], nodes: set[str], chosen: tuple[str, ...], groups: Mapping[str, list[str]],
               sensitivity: Mapping[str, float], fp32_score: float, off: str, score: Callable[[Any], float],
               target: float) -> Bf16Trial:
    """The chosen set built and scored with its layers that have a BF16
    kernel that pays in BF16 (``build(nodes, bf16_nodes)``): shipped where
    it still meets the target (measured as the set was); else the fewest
    most sensitive of them are kept FP32, found by bisection as the set
    was (``log2`` more builds), and where even one in BF16 misses, the
    FP32 set ships. The note says why layers stay FP32."""
    if off:
        return Bf16Trial(note=off)
    if fp32_score < target:
        return Bf16Trial(note="the target is not met with them FP32")

    def attempt(names: Iterable[str]) -> tuple[Any, tuple[str, ...]]:
        e = build(nodes, {n for name in names for n in groups[name]})
        in_bf16 = {n for layer in e.layers() if layer["precision"] == "bf16" for n in layer["name"].split("+")}
        return e, tuple(name for name in chosen if in_bf16 & set(groups[name]))
    e, layers = attempt(chosen)
    if not layers:
        return Bf16Trial(note="none of them has a BF16 kernel that pays (Conv of one group / Gemm with constant "
                              "weights, MatMul)")
    s = score(e)
    if s >= target:
        return Bf16Trial(engine=e, layers=layers, score=s)
    order = sorted(layers, key=lambda name: -sensitivity.get(name, 0.0))  # the first ones stay FP32 first
    shipped: dict[int, tuple[str, ...]] = {}

    def with_fp32(k: int) -> tuple[float, Any]:  # the k most sensitive FP32, the rest in BF16
        if k == len(order):
            return fp32_score, None
        e_k, shipped[k] = attempt(order[k:])
        return score(e_k), e_k
    from .mixed import _bisect  # mixed.py imports this module

    k, (s_k, e_k) = _bisect(with_fp32, len(order), target, _NoSteps())
    every = f"with {len(layers)} of them in BF16 the score is {s:.5f}, below the target {target:.5g}"
    if e_k is None:
        return Bf16Trial(score=s, note=every + "; with only the least sensitive in BF16 too")
    return Bf16Trial(engine=e_k, layers=shipped[k], score=s_k, note=f"{every}: the {k} most sensitive stay FP32")
