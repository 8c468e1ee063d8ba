"""Attention's Add(mask) -> Softmax -> Where(IsNaN(p), 0, p) as one Softmax
in FP32 engines, their BF16 layers included (graph/passes/
fuse_attention_softmax.cc, engine/ops/softmax_f32.cc): the fused layer runs
int8rt.QAttention's float rows (the Add's addition, the softmax rule, the
select) and gives the unfused graph's bits (== against the same network
built with optimize=False), on every softmax tier, for masks of every
broadcast form (a key row per batch, a full [B, H, S, S] one, a 1-D one, the
mask as the Add's first input), rows masked out entirely (NaN before the
guard, 0 after), without a mask, without a guard, sequence lengths off the
16-lane vector width, and a saved and reloaded engine; steady-state runs of
both fused layers make no C++ heap allocation; chains it must not
take (a mask widening the scores, a guard with another constant, a Softmax
over another axis) stay unfused."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt

TIERS = ["ref"] + [isa for isa in ("avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
B, H, D = 2, 3, 8


def attention_model(s: int, mask_shape: tuple | None, guard: bool, mask_first: bool = False,
                    zero: float = 0.0, axis: int = -1, late_mask: bool = False) -> onnx.ModelProto:
    """q [B, H, s, D] x kt [B, H, D, s] -> (+ mask) -> Softmax -> (guard) -> x v [B, H, s, D];
    late_mask: the mask added is Neg(Neg(mask)), computed after the first product (MiniLM's first layer)."""
    nodes = [helper.make_node("MatMul", ["q", "kt"], ["scores"])]
    if late_mask:
        nodes += [helper.make_node("Neg", ["mask"], ["neg_mask"]), helper.make_node("Neg", ["neg_mask"], ["late"])]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shp)
              for n, shp in (("q", [B, H, s, D]), ("kt", [B, H, D, s]), ("v", [B, H, s, D]))]
    last = "scores"
    if mask_shape is not None:
        inputs.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, list(mask_shape)))
        m = "late" if late_mask else "mask"
        nodes.append(helper.make_node("Add", [m, last] if mask_first else [last, m], ["logits"]))
        last = "logits"
    nodes.append(helper.make_node("Softmax", [last], ["probs"], axis=axis))
    last = "probs"
    inits = []
    if guard:
        inits.append(numpy_helper.from_array(np.array(zero, dtype=np.float32), "zero"))
        nodes.append(helper.make_node("IsNaN", ["probs"], ["nan"]))
        nodes.append(helper.make_node("Where", ["nan", "zero", "probs"], ["guarded"]))
        last = "guarded"
    nodes.append(helper.make_node("MatMul", [last, "v"], ["y"]))
    graph = helper.make_graph(nodes, "attention", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [B, H, s, D])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def feed(s: int, mask_shape: tuple | None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(s)
    f = {n: (rng.standard_normal(shp) * 2).astype(np.float32)
         for n, shp in (("q", (B, H, s, D)), ("kt", (B, H, D, s)), ("v", (B, H, s, D)))}
    if mask_shape is not None:
        mask = np.where(rng.random(mask_shape) < 0.3, -np.inf, 0.0).astype(np.float32)
        mask.reshape(-1, mask_shape[-1])[0] = -np.inf  # a row masked out entirely: NaN probabilities
        f["mask"] = mask
    return f


def run(model: onnx.ModelProto, inputs: dict, optimize: bool, bf16: bool = False,
        reload: bool = False, tmp_path=None) -> tuple[np.ndarray, list[str]]:
    engine = int8rt.build_engine(model.SerializeToString(),
                                 int8rt.BuilderConfig(precision="fp32", optimize=optimize, bf16=bf16))
    if reload:
        path = str(tmp_path / "attention.i8rt")
        engine.save(path)
        engine = int8rt.Engine.load(path)
    y = engine.create_execution_context().run(inputs)["y"]
    return y, [layer["detail"].split(" kernel=")[0] for layer in engine.layers()
               if layer["op"] in ("Softmax", "int8rt.Bf16Attention")]


# (mask shape, guard); no mask and no guard is a bare Softmax, nothing to fuse
CHAINS = [((B, 1, 1, "s"), True), ((B, 1, 1, "s"), False), ((B, H, "s", "s"), True), ((B, H, "s", "s"), False),
          (("s",), True), (None, True)]


@pytest.mark.parametrize("isa", TIERS)
@pytest.mark.parametrize("s", [1, 17, 40])
@pytest.mark.parametrize("mask,guard", CHAINS, ids=["key_row", "key_row_noguard", "full", "full_noguard", "1d",
                                                    "guard_only"])
def test_fused_softmax_same_bits_as_unfused(isa: str, s: int, mask: tuple | None, guard: bool) -> None:
    shape = None if mask is None else tuple(s if d == "s" else d for d in mask)
    model, inputs = attention_model(s, shape, guard), feed(s, shape)
    int8rt.set_max_isa(isa)  # layers choose their kernels when they are created
    try:
        fused, details = run(model, inputs, optimize=True)
        plain, plain_details = run(model, inputs, optimize=False)
    finally:
        int8rt.set_max_isa(None)
    want = "fp32 softmax" + (" + mask" if shape is not None else "") + (" + nan guard" if guard else "")
    assert details == [want] and plain_details == ["fp32 softmax"], (details, plain_details)
    assert fused.tobytes() == plain.tobytes(), (isa, s, mask, guard)
    if guard and shape is not None:
        assert np.isfinite(fused).all()  # the masked-out row's NaN probabilities became 0


@pytest.mark.parametrize("bf16", [False, True])
def test_fused_softmax_mask_first_reloaded_and_bf16(bf16: bool, tmp_path) -> None:
    """The mask as the Add's first input; a saved and reloaded engine; in the
    BF16 engine the whole chain is one int8rt.Bf16Attention (products in
    BF16, the fused rows in FP32, one product of the batch at a time)."""
    s, shape = 33, (B, 1, 1, 33)
    model, inputs = attention_model(s, shape, True, mask_first=True), feed(s, shape)
    fused, details = run(model, inputs, optimize=True, bf16=bf16, reload=True, tmp_path=tmp_path)
    plain, _ = run(model, inputs, optimize=False, bf16=bf16)
    want = "bf16 attention (q kt, softmax + mask + nan guard, p v)" if bf16 else "fp32 softmax + mask + nan guard"
    assert details == [want], details
    assert fused.tobytes() == plain.tobytes()


@pytest.mark.parametrize("case", ["widening_mask", "negative_zero", "other_axis"])
def test_chains_left_unfused(case: str) -> None:
    """An Add whose sum is wider than either operand (scores [B, H, s, s] plus a
    [4, 1, 1, 1, s] "mask": neither is the sum's shape), a guard
    writing -0.0 (the fused guard writes +0), a Softmax over another axis."""
    s = 9
    if case == "widening_mask":
        model = attention_model(s, (4, 1, 1, 1, s), True)
        inputs = feed(s, (4, 1, 1, 1, s))
        model.graph.output[0].type.tensor_type.shape.ClearField("dim")
    elif case == "negative_zero":
        model, inputs = attention_model(s, None, True, zero=-0.0), feed(s, None)
    else:
        model, inputs = attention_model(s, None, True, axis=2), feed(s, None)
    fused, details = run(model, inputs, optimize=True)
    plain, _ = run(model, inputs, optimize=False)
    want = "fp32 softmax + nan guard" if case == "widening_mask" else "fp32 softmax"  # (the guard alone still fuses)
    assert details == [want], details
    assert fused.tobytes() == plain.tobytes()


BF16_TIERS = ["ref"] + (["avx512"] if int8rt.kernels.isa_info()["avx512"]["cpu"] else [])


@pytest.mark.parametrize("isa", BF16_TIERS)
@pytest.mark.parametrize("s", [1, 17, 40, 130])
@pytest.mark.parametrize("mask,guard", CHAINS, ids=["key_row", "key_row_noguard", "full", "full_noguard", "1d",
                                                    "guard_only"])
def test_bf16_attention_same_bits_as_unfused(isa: str, s: int, mask: tuple | None, guard: bool) -> None:
    """int8rt.Bf16Attention (engine/ops/bf16_attention.cc) == the unfused BF16
    MatMul, Add, Softmax, IsNaN / Where and MatMul layers, bit for bit, under
    each cap (ref: the scalar BF16 kernel; avx512: the best this CPU has, AMX
    here when it has it); 130 keys cross the AMX tile's 32 columns and 16-pair
    k block, and 40 x 40 x 8 products run across threads."""
    shape = None if mask is None else tuple(s if d == "s" else d for d in mask)
    model, inputs = attention_model(s, shape, guard), feed(s, shape)
    int8rt.set_max_isa(isa if isa == "ref" else None)
    try:
        fused, details = run(model, inputs, optimize=True, bf16=True)
        plain, plain_details = run(model, inputs, optimize=False, bf16=True)
    finally:
        int8rt.set_max_isa(None)
    want = ("bf16 attention (q kt, softmax" + (" + mask" if shape is not None else "") +
            (" + nan guard" if guard else "") + ", p v)")
    assert details == [want] and plain_details == ["fp32 softmax"], (details, plain_details)
    assert fused.tobytes() == plain.tobytes(), (isa, s, mask, guard)
    ref = np.einsum("bhmk,bhkn->bhmn", inputs["q"].astype(np.float64), inputs["kt"])
    if shape is not None:
        ref = ref + inputs["mask"]
    with np.errstate(invalid="ignore"):
        ref = np.exp(ref - ref.max(-1, keepdims=True))
        ref = ref / ref.sum(-1, keepdims=True)
    ref = (np.nan_to_num(ref, nan=0.0) if guard else ref) @ inputs["v"]
    # BF16 bound against FP64: operands rounded to 8 bits of mantissa (2^-8 relative each) through two products
    assert np.array_equal(np.isnan(fused), np.isnan(ref))  # unguarded rows masked out entirely stay NaN
    ok = ~np.isnan(ref)
    err = np.abs(fused[ok] - ref[ok]).max(initial=0.0) / max(np.abs(ref[ok]).max(initial=0.0), 1e-30)
    assert err < 0.05, err


def test_bf16_attention_mask_computed_after_the_first_product() -> None:
    """The mask produced between the two products (the node order MiniLM's
    first layer has): the fused layer takes the second product's place."""
    s, shape = 24, (B, 1, 1, 24)
    model, inputs = attention_model(s, shape, True, late_mask=True), feed(s, shape)
    fused, details = run(model, inputs, optimize=True, bf16=True)
    plain, _ = run(model, inputs, optimize=False, bf16=True)
    assert details == ["bf16 attention (q kt, softmax + mask + nan guard, p v)"], details
    assert fused.tobytes() == plain.tobytes()


ALLOC_CHILD = textwrap.dedent("""
    import ctypes, json, sys
    import numpy as np
    import int8rt
    from test_attention_softmax_fusion import attention_model, feed
    from alloc_runs import steady_state_counts
    counter = ctypes.CDLL(sys.argv[1])
    counter.alloc_counter_stop.restype = ctypes.c_long
    out = {}
    for bf16 in (False, True):
        engine = int8rt.build_engine(attention_model(40, (2, 1, 1, 40), True).SerializeToString(),
                                     int8rt.BuilderConfig(precision="fp32", bf16=bf16))
        for threads in (1, 2):
            int8rt.set_num_threads(threads)
            counts = steady_state_counts(counter, engine.create_execution_context(), feed(40, (2, 1, 1, 40)))
            out[f"{[la['op'] for la in engine.layers()]} {threads} thread(s)"] = counts
    print(json.dumps(out))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD allocation counter (glibc)")
def test_fused_layers_steady_state_runs_make_no_cpp_heap_allocation(tmp_path) -> None:
    """The fused Softmax (FP32 engine) and int8rt.Bf16Attention (BF16 engine)
    keep their plans in place and their scores per thread: nothing allocated
    per run once warm (test_run_allocations.py's counter)."""
    from test_run_allocations import _alloc_counter, _child_env

    lib = _alloc_counter(tmp_path)
    done = subprocess.run([sys.executable, "-c", ALLOC_CHILD, lib], env=_child_env(lib, None), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert any("int8rt.Bf16Attention" in k for k in counts) and any("Softmax" in k for k in counts), counts
    for run, c in counts.items():
        assert min(c) == 0, f"{run}: C++ heap allocations per steady-state run: {c}"
