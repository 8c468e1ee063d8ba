"""The heads' moves folded into int8rt.Bf16Attention (graph/passes/
fuse_bf16_attention.cc, engine/ops/bf16_attention.cc, RESULTS.md section
220): q = Transpose(x, [0, 2, 1, 3]) [* s], kt = Transpose(keys, [0, 2, 3, 1])
[* s], v = Transpose(w, [0, 2, 1, 3]) [* s] are read in place by the fused
layer, which applies the scalars itself. The Transposes only move values and
the Mul is one float multiply per value either way, so the output is the
unfused BF16 chain's bit for bit (== against the same network built with
optimize=False), with and without each scale, a mask and its NaN guard,
sequences across the AMX tile's 32 columns, under the ref cap and the best
tier; a Shape -> Gather reader of the moved q (BERT's export has one) reads
the unmoved tensor with the index permuted (same values); chains it must not
take (a moved tensor with another reader, another perm) stay as they were;
steady-state runs of the folded layer make no C++ heap allocation."""
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

B, H, D = 2, 3, 8
TIERS = ["ref"] + (["best"] if int8rt.kernels.isa_info()["avx512"]["cpu"] else [])


def moved_heads(scales: tuple, v_perm: tuple = (0, 2, 1, 3)) -> tuple[list, list, list]:
    """The heads' moves the Bf16Attention fold reads: x, keys, w [B, s, H, .] transposed to q [B, H, s, .],
    kt [B, H, ., s] and v (v_perm), each times its scale (None: no Mul). Returns the nodes, the scales'
    initializers and the three moved names."""
    nodes = [helper.make_node("Transpose", ["x"], ["qt"], perm=[0, 2, 1, 3]),
             helper.make_node("Transpose", ["keys"], ["ktt"], perm=[0, 2, 3, 1]),
             helper.make_node("Transpose", ["w"], ["vt"], perm=list(v_perm))]
    inits, names = [], []
    for i, (src, scale) in enumerate(zip(("qt", "ktt", "vt"), scales)):
        if scale is None:
            names.append(src)
            continue
        inits.append(numpy_helper.from_array(np.array(scale, np.float32), f"s{i}"))
        nodes.append(helper.make_node("Mul", [src, f"s{i}"], [src + "_s"]))
        names.append(src + "_s")
    return nodes, inits, names


def guarded_attention(names: list) -> list:
    """softmax(q kt + mask) with the NaN guard (Where(IsNaN(p), zero, p)) times v: y. names: q, kt, v."""
    return [helper.make_node("MatMul", [names[0], names[1]], ["scores"]),
            helper.make_node("Add", ["scores", "mask"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
            helper.make_node("IsNaN", ["probs"], ["nan"]),
            helper.make_node("Where", ["nan", "zero", "probs"], ["guarded"]),
            helper.make_node("MatMul", ["guarded", names[2]], ["y"])]


def heads_model(s: int, scales: tuple, shape_reader: bool = False, extra_reader: bool = False,
                v_perm: tuple = (0, 2, 1, 3), w_shape: list | None = None) -> onnx.ModelProto:
    """x, keys, w [B, s, H, D] -> the moves (scales: q / k / v factor or None) -> Add(mask) -> Softmax
    -> Where(IsNaN) -> MatMul(p, v) -> y [B, H, s, D]; shape_reader: Gather(Shape(q moved), 2) an output;
    extra_reader: the moved q also an output."""
    nodes, inits, names = moved_heads(scales, v_perm)
    inits.insert(0, numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
    nodes += guarded_attention(names)
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [B, H, s, D] if not shape_reader else ["batch", H, "seq", D])]
    if shape_reader:
        inits.append(numpy_helper.from_array(np.array(2, np.int64), "two"))
        nodes += [helper.make_node("Shape", ["qt"], ["qshape"]), helper.make_node("Gather", ["qshape", "two"], ["d"])]
        outputs.append(helper.make_tensor_value_info("d", TensorProto.INT64, []))
    if extra_reader:
        outputs.append(helper.make_tensor_value_info("qt", TensorProto.FLOAT, [B, H, s, D]))
    # symbolic batch and sequence: the Shape stays a layer (a static dim's Gather folds at build time)
    b, n = ("batch", "seq") if shape_reader else (B, s)
    inputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, [b, n, H, D]) for x in ("x", "keys")]
    inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, w_shape or [b, n, H, D]))
    inputs.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, [b, 1, 1, n]))
    graph = helper.make_graph(nodes, "heads", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def feed(s: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(s)
    f = {n: (rng.standard_normal((B, s, H, D)) * 2).astype(np.float32) for n in ("x", "keys", "w")}
    mask = np.where(rng.random((B, 1, 1, s)) < 0.3, -np.inf, 0.0).astype(np.float32)
    mask[0, 0, 0, :] = -np.inf  # a batch masked out entirely: NaN probabilities, 0 after the guard
    f["mask"] = mask
    return f


def run(model: onnx.ModelProto, inputs: dict, optimize: bool, reload_dir=None) -> tuple[dict, list[str]]:
    engine = int8rt.build_engine(model.SerializeToString(),
                                 int8rt.BuilderConfig(precision="fp32", optimize=optimize, bf16=True))
    if reload_dir is not None:
        engine.save(str(reload_dir / "heads.i8rt"))
        engine = int8rt.Engine.load(str(reload_dir / "heads.i8rt"))
    out = engine.create_execution_context().run(inputs)
    return out, [f"{la['op']}: {la['detail'].split(' kernel=')[0]}" for la in engine.layers()
                 if la["op"] not in ("Shape", "Gather")]


FOLDED = "int8rt.Bf16Attention: bf16 attention (heads in place, q kt, softmax + mask + nan guard, p v)"
SCALES = [(0.353553, 0.353553, None), (None, None, None), (None, 0.125, 2.5), (0.5, None, None)]


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("s", [1, 17, 40, 130])
@pytest.mark.parametrize("scales", SCALES, ids=["bert", "none", "k_v", "q"])
def test_folded_heads_same_bits_as_unfused(tier: str, s: int, scales: tuple) -> None:
    model, inputs = heads_model(s, scales), feed(s)
    int8rt.set_max_isa("ref" if tier == "ref" else None)
    try:
        fused, details = run(model, inputs, optimize=True)
        plain, plain_details = run(model, inputs, optimize=False)
    finally:
        int8rt.set_max_isa(None)
    assert details == [FOLDED], details  # no Transpose or Mul left
    assert "Transpose: transpose" in plain_details
    assert fused["y"].tobytes() == plain["y"].tobytes(), (tier, s, scales)
    # BF16 bound against FP64 (as test_attention_softmax_fusion's): operands rounded to 8 significant bits
    f = {k: v.astype(np.float64) for k, v in inputs.items()}
    sc = [1.0 if x is None else np.float64(np.float32(x)) for x in scales]
    q, kt, v = (f["x"].transpose(0, 2, 1, 3) * sc[0], f["keys"].transpose(0, 2, 3, 1) * sc[1],
                f["w"].transpose(0, 2, 1, 3) * sc[2])
    ref = q @ kt + f["mask"]
    with np.errstate(invalid="ignore"):
        ref = np.exp(ref - ref.max(-1, keepdims=True))
        ref = np.nan_to_num(ref / ref.sum(-1, keepdims=True), nan=0.0) @ v
    err = np.abs(fused["y"] - ref).max() / max(np.abs(ref).max(), 1e-30)
    assert err < 0.05, err
    assert np.all(fused["y"][0] == 0)  # the masked-out batch


def test_shape_reader_of_moved_q_reads_the_unmoved_tensor(tmp_path) -> None:
    """BERT's export reads Shape(q moved) through a Gather: the fold keeps
    the value by gathering index perm[i] of the unmoved tensor's shape (i = 2:
    the sequence, where the unmoved shape holds H); the
    engine saved and loaded again (the attributes and the new index kept)."""
    s = 24
    model, inputs = heads_model(s, SCALES[0], shape_reader=True), feed(s)
    fused, details = run(model, inputs, optimize=True, reload_dir=tmp_path)
    plain, _ = run(model, inputs, optimize=False)
    assert details == [FOLDED], details
    assert any(la["op"] == "Shape" for la in int8rt.build_engine(
        model.SerializeToString(), int8rt.BuilderConfig(precision="fp32", bf16=True)).layers())
    assert int(fused["d"]) == int(plain["d"]) == s
    assert fused["y"].tobytes() == plain["y"].tobytes()


@pytest.mark.parametrize("case", ["moved_q_read_elsewhere", "other_perm"])
def test_chains_left_as_they_were(case: str) -> None:
    """A moved q that is also a network output, and v moved by another perm
    (its rows no longer [B, S, H, D] heads), keep their Transposes."""
    s = 9
    inputs = feed(s)
    if case == "moved_q_read_elsewhere":
        model = heads_model(s, SCALES[1], extra_reader=True)
    else:  # v = Transpose(w, [1, 2, 0, 3]) of w [s, B, H, D]: the same v, moved by another perm
        model = heads_model(s, SCALES[1], v_perm=(1, 2, 0, 3), w_shape=[s, B, H, D])
        inputs["w"] = np.ascontiguousarray(inputs["w"].transpose(1, 0, 2, 3))
    fused, details = run(model, inputs, optimize=True)
    plain, _ = run(model, inputs, optimize=False)
    assert FOLDED not in details and any("Transpose" in d for d in details), details
    for k in plain:
        assert fused[k].tobytes() == plain[k].tobytes(), k


ALLOC_CHILD = textwrap.dedent("""
    import ctypes, json, sys
    import numpy as np
    import int8rt
    from test_bf16_attention_heads import heads_model, feed, SCALES
    from alloc_runs import steady_state_counts
    counter = ctypes.CDLL(sys.argv[1])
    counter.alloc_counter_stop.restype = ctypes.c_long
    out = {}
    engine = int8rt.build_engine(heads_model(130, SCALES[0]).SerializeToString(),
                                 int8rt.BuilderConfig(precision="fp32", bf16=True))
    for threads in (1, 2):
        int8rt.set_num_threads(threads)
        counts = steady_state_counts(counter, engine.create_execution_context(), feed(130))
        out[f"{[la['detail'][:40] for la in engine.layers()]} {threads} thread(s)"] = counts
    print(json.dumps(out))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD allocation counter (glibc)")
def test_folded_layer_steady_state_runs_make_no_cpp_heap_allocation(tmp_path) -> None:
    """The scaled q / v and the kt blocks are per-thread buffers grown once:
    nothing allocated per run once warm (test_run_allocations.py's counter)."""
    from test_run_allocations import _alloc_counter, _child_env

    lib = _alloc_counter(tmp_path)
    done = subprocess.run([sys.executable, "-c", ALLOC_CHILD, lib], env=_child_env(lib, None), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert all("heads in place" in k for k in counts), counts
    for run, c in counts.items():
        assert min(c) == 0, f"{run}: C++ heap allocations per steady-state run: {c}"
