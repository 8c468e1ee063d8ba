"""Data movement between int8 layers runs in int8 (issue 14, "int8 all the way
through"): Transpose, Slice, Split, Pad, Reshape, Flatten, Squeeze, Unsqueeze,
DepthToSpace, SpaceToDepth become int8rt.Q<Op> layers at their input's scale,
and Concat along any axis becomes int8rt.QConcat, with no Quantize /
Dequantize around them (the int8 plan lists only the network's own
boundaries). Rank-4 int8 tensors are NHWC inside the engine, so the cases use
N, C, H, W all different and axes of every kind (channels, spatial, negative).

The oracle: x -> Conv (int8) -> c -> [ops] -> y; the engine's y equals the
FP32 engine's [ops] run on the engine's own c (the int8 conv output,
dequantized), quantized at c's scale; for pure data movement the floats are
equal outright. A conv whose values only leave the network (c an output, its
other readers moves to outputs) writes float32 (lower_int8_conv_head.cc), so
where the chain alone would leave it so, c is also read by an int8 MaxPool
1 x 1 (output c_pool, `anchor`): the conv keeps its int8 output and the moves
move int8 bytes. A concat of inputs at different scales requantizes once (at
most one step from Dequantize, float Concat, Quantize)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from int8rt import _core  # noqa: E402
from int8rt.onnx import import_model  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from onnx_models import fvi, init, model  # noqa: E402

F32 = np.float32
SHAPE = [2, 4, 5, 6]  # N, C, H, W: all different, so a wrongly mapped axis shows
S_X, S_C, S_C2 = 0.02, 0.03, 0.045
node = helper.make_node


def i64(name: str, values) -> onnx.TensorProto:
    return init(name, np.array(values, np.int64))


def with_output_shapes(m: onnx.ModelProto) -> onnx.ModelProto:
    """`m` with its outputs' shapes filled in by ONNX shape inference."""
    g = onnx.shape_inference.infer_shapes(m).graph
    inferred = {v.name: v for v in list(g.value_info) + list(g.output) if v.type.tensor_type.HasField("shape")}
    for out in m.graph.output:
        if out.name in inferred:
            out.CopyFrom(inferred[out.name])
    return m


def conv_model(chain: list, inits: list, outputs: list[str], opset: int = 17, second_conv: bool = False,
               extra_inputs: list = (), anchor: bool = True) -> onnx.ModelProto:
    """x -> Conv 1x1 -> c (and -> c2), then `chain`; outputs c and `outputs`
    (and, with `anchor`, c -> MaxPool 1 x 1 -> c_pool, an int8 reader that
    keeps the conv's output int8: the module docstring)."""
    rng = np.random.default_rng(5)
    weights = [init("w", rng.standard_normal((4, 4, 1, 1)).astype(F32) * 0.5)]
    nodes = [node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1])]
    if second_conv:
        weights.append(init("w2", rng.standard_normal((4, 4, 1, 1)).astype(F32) * 0.9))
        nodes.append(node("Conv", ["x", "w2"], ["c2"], name="conv2", kernel_shape=[1, 1]))
    if anchor:
        chain = chain + [node("MaxPool", ["c"], ["c_pool"], name="anchor", kernel_shape=[1, 1])]
        outputs = outputs + ["c_pool"]
    outs = [fvi("c", SHAPE)] + [fvi(o, None) for o in outputs if o != "c"]
    return with_output_shapes(model(nodes + chain, [fvi("x", SHAPE), *extra_inputs], outs, weights + inits,
                                    opset=opset))


def scales_for(m: onnx.ModelProto, **extra: float) -> dict[str, float]:
    """c's scale for every tensor the chain makes (data movement keeps it anyway)."""
    s = {"x": S_X, "c": S_C, "c2": S_C2}
    for n in m.graph.node:
        for o in n.output:
            s.setdefault(o, S_C)
    s.update(extra)
    return s


def build_int8(m: onnx.ModelProto, scales: dict[str, float], fp32_layers=()) -> int8rt.Engine:
    fp32 = {name: "fp32" for name in fp32_layers}
    return int8rt.Engine(_core.Builder(import_model(m), "int8", fp32, True).build(scales))


def run_fp32_chain(m: onnx.ModelProto, feeds: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
    """The FP32 engine of `m`'s nodes after the convs, fed the int8 engine's c (and c2)."""
    chain = [n for n in m.graph.node if n.name not in ("conv", "conv2", "anchor")]
    inits = [i for i in m.graph.initializer if i.name not in ("w", "w2")]
    ins = [fvi(k, list(v.shape)) if v.dtype == F32 else helper.make_tensor_value_info(k, TensorProto.INT64, v.shape)
           for k, v in feeds.items()]
    sub = with_output_shapes(model(chain, ins, [fvi(o, None) for o in outputs], inits,
                                   opset=m.opset_import[0].version))
    engine = int8rt.build_engine(sub.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    return engine.run(feeds)


def quantized(v: np.ndarray, scale: float) -> np.ndarray:
    """int8rt's quantize: rne(clamp(v * (1 / scale))) in float32."""
    return np.rint(np.clip(v.astype(F32) * (F32(1) / F32(scale)), -128, 127)).astype(np.int8)


def converts(engine: int8rt.Engine) -> set[tuple[str, str]]:
    return {(c.op, c.tensor) for c in engine.int8_plan().converts}


X = np.random.default_rng(11).uniform(-3, 3, SHAPE).astype(F32)


def check_exact(m: onnx.ModelProto, outputs: list[str], lowered_ops: list[str], scales=None, extra=None) -> None:
    engine = build_int8(m, scales or scales_for(m))
    ops = [layer["op"] for layer in engine.layers()]
    for op in lowered_ops:
        assert op in ops, (op, ops)
    shape_ops = ("Shape", "Gather", "Slice", "Concat")  # int64 shape arithmetic (no tensor data) stays as it is
    assert not any(layer["precision"] == "fp32" and layer["op"] not in shape_ops for layer in engine.layers()), \
        engine.layers()
    want_converts = {("int8rt.Quantize", "x"), ("int8rt.Dequantize", "c")}
    want_converts |= {("int8rt.Dequantize", o) for o in outputs}
    if any(n.name == "anchor" for n in m.graph.node):
        want_converts.add(("int8rt.Dequantize", "c_pool"))
    assert converts(engine) == want_converts, [(c.op, c.tensor, c.reason) for c in engine.int8_plan().converts]
    feeds = {"x": X, **(extra or {})}
    got = engine.run(feeds)
    want = run_fp32_chain(m, {"c": got["c"], **(extra or {})}, outputs)
    for o in outputs:
        assert got[o].shape == want[o].shape, (o, got[o].shape, want[o].shape)
        np.testing.assert_array_equal(quantized(got[o], S_C), quantized(want[o], S_C), err_msg=o)
        plan_scale = {t.tensor: t.scale for t in engine.int8_plan().tensors}[o]
        assert plan_scale == np.float32(S_C), (o, plan_scale)


CASES = {
    "transpose_nhwc": ([node("Transpose", ["c"], ["y"], name="t", perm=[0, 2, 3, 1])], [], ["y"]),
    "transpose_mixed": ([node("Transpose", ["c"], ["y"], name="t", perm=[3, 1, 0, 2])], [], ["y"]),
    "transpose_default": ([node("Transpose", ["c"], ["y"], name="t")], [], ["y"]),
    "slice_channels": ([node("Slice", ["c", "s", "e", "a"], ["y"], name="s")],
                       [i64("s", [1]), i64("e", [3]), i64("a", [1])], ["y"]),
    "slice_negative_axes_and_steps": ([node("Slice", ["c", "s", "e", "a", "st"], ["y"], name="s")],
                                      [i64("s", [0, 4]), i64("e", [6, 0]), i64("a", [-1, 2]), i64("st", [2, -1])],
                                      ["y"]),
    "slice_no_axes": ([node("Slice", ["c", "s", "e"], ["y"], name="s")],
                      [i64("s", [0, 1, 1]), i64("e", [2, 3, -1])], ["y"]),
    "split_channels": ([node("Split", ["c", "sp"], ["y", "z"], name="sp", axis=1)], [i64("sp", [1, 3])], ["y", "z"]),
    "split_negative_axis": ([node("Split", ["c", "sp"], ["y", "z"], name="sp", axis=-1)], [i64("sp", [2, 4])],
                            ["y", "z"]),
    "split_concat_width": ([node("Split", ["c", "sp"], ["a", "b"], name="sp", axis=3),
                            node("Concat", ["b", "a"], ["y"], name="cat", axis=-1)], [i64("sp", [2, 4])], ["y"]),
    "concat_height_one_scale": ([node("Concat", ["c", "c"], ["y"], name="cat", axis=2)], [], ["y"]),
    "pad_spatial": ([node("Pad", ["c", "p"], ["y"], name="pad")], [i64("p", [0, 0, 1, 2, 0, 0, 2, 1])], ["y"]),
    "pad_channels_value": ([node("Pad", ["c", "p", "v"], ["y"], name="pad")],
                           [i64("p", [0, 1, 0, 0, 0, 2, 0, 0]), init("v", np.array(0.7, F32))], ["y"]),
    "pad_reflect_crop": ([node("Pad", ["c", "p"], ["y"], name="pad", mode="reflect")],
                         [i64("p", [0, 0, 2, -1, 0, 0, 1, 3])], ["y"]),
    "reshape_rank3": ([node("Reshape", ["c", "sh"], ["y"], name="r")], [i64("sh", [0, 4, -1])], ["y"]),
    "reshape_rank4": ([node("Reshape", ["c", "sh"], ["y"], name="r")], [i64("sh", [2, 2, 10, 6])], ["y"]),
    "flatten_axis2": ([node("Flatten", ["c"], ["y"], name="f", axis=2)], [], ["y"]),
    "flatten_axis0": ([node("Flatten", ["c"], ["y"], name="f", axis=0)], [], ["y"]),
    "squeeze_unsqueeze": ([node("Slice", ["c", "s", "e", "a"], ["s1"], name="s"),
                           node("Squeeze", ["s1", "a"], ["q"], name="sq"),
                           node("Unsqueeze", ["q", "u"], ["y"], name="unsq")],
                          [i64("s", [2]), i64("e", [3]), i64("a", [1]), i64("u", [-1])], ["y"]),
    "unsqueeze_rank5": ([node("Unsqueeze", ["c", "u"], ["y"], name="unsq")], [i64("u", [2])], ["y"]),
    "depth_space_dcr": ([node("DepthToSpace", ["c"], ["d"], name="d2s", blocksize=2),
                         node("SpaceToDepth", ["d"], ["y"], name="s2d", blocksize=2)], [], ["d", "y"]),
    "depth_space_crd": ([node("DepthToSpace", ["c"], ["y"], name="d2s", blocksize=2, mode="CRD")], [], ["y"]),
    "shape_of_int8": ([node("Shape", ["c"], ["sh"], name="shape"),
                       node("Transpose", ["c"], ["t"], name="t", perm=[0, 1, 3, 2]),
                       node("Reshape", ["t", "sh"], ["y"], name="r")], [], ["y"]),
    "shape_start_end": ([node("Shape", ["c"], ["hw"], name="shape", start=-2),
                         node("Concat", ["minus1", "hw"], ["sh"], name="cat_shape", axis=0),
                         node("Reshape", ["c", "sh"], ["y"], name="r")], [i64("minus1", [-1])], ["y"]),
    "channel_shuffle": ([node("Reshape", ["c", "s5"], ["g5"], name="r1"),
                         node("Transpose", ["g5"], ["t5"], name="t", perm=[0, 2, 1, 3, 4]),
                         node("Reshape", ["t5", "s4"], ["y"], name="r2")],
                        [i64("s5", [-1, 2, 2, 5, 6]), i64("s4", [-1, 4, 5, 6])], ["y"]),
    "channel_shuffle_intermediate_output": ([node("Reshape", ["c", "s5"], ["g5"], name="r1"),
                                             node("Transpose", ["g5"], ["t5"], name="t", perm=[0, 2, 1, 3, 4]),
                                             node("Reshape", ["t5", "s4"], ["y"], name="r2")],
                                            [i64("s5", [-1, 2, 2, 5, 6]), i64("s4", [-1, 4, 5, 6])], ["t5", "y"]),
    "patch_tokens": ([node("Reshape", ["c", "sh"], ["r"], name="flat"),
                      node("Transpose", ["r"], ["y"], name="tokens", perm=[0, 2, 1])], [i64("sh", [0, 4, -1])], ["y"]),
    "patch_tokens_intermediate_output": ([node("Reshape", ["c", "sh"], ["r"], name="flat"),
                                          node("Transpose", ["r"], ["y"], name="tokens", perm=[0, 2, 1])],
                                         [i64("sh", [0, 4, -1])], ["r", "y"]),
    "rank3_chain": ([node("Reshape", ["c", "sh"], ["r"], name="r"),
                     node("Transpose", ["r"], ["t"], name="t", perm=[0, 2, 1]),
                     node("Slice", ["t", "s", "e", "a"], ["y"], name="s")],
                    [i64("sh", [2, 4, 30]), i64("s", [-20]), i64("e", [100]), i64("a", [-2])], ["y"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_data_movement_runs_in_int8_and_equals_the_fp32_op(case: str) -> None:
    chain, inits, outputs = CASES[case]
    ops = sorted({"int8rt.Q" + n.op_type for n in chain if n.op_type not in ("Concat", "Flatten", "Shape")})
    if case == "transpose_nhwc":  # NHWC bytes are the [N, H, W, C] result's: renamed, copied, not moved
        ops = ["int8rt.QReshape"]
    if case in ("patch_tokens", "rank3_chain"):  # flatten(2).transpose(1, 2) of NHWC bytes: a reshape
        ops.remove("int8rt.QTranspose")
    check_exact(conv_model(chain, inits, outputs), outputs, ops)


def test_pad_with_axes_input_maps_them() -> None:
    chain = [node("Pad", ["c", "p", "", "a"], ["y"], name="pad", mode="edge")]
    m = conv_model(chain, [i64("p", [1, 2, 2, 0]), i64("a", [-1, 1])], ["y"], opset=18)
    check_exact(m, ["y"], ["int8rt.QPad"])


def test_concat_at_different_scales_requantizes_once() -> None:
    # y is read by a pool too: a Concat making only a network output stays float
    # (test_concat_making_only_a_network_output_stays_float)
    chain = [node("Concat", ["c", "c2"], ["y"], name="cat", axis=-2),
             node("MaxPool", ["y"], ["yp"], name="pool", kernel_shape=[1, 1])]
    m = conv_model(chain, [], ["y", "c2", "yp"], second_conv=True, anchor=False)  # the pool keeps c int8
    s_y = 0.05
    engine = build_int8(m, scales_for(m, y=s_y, yp=s_y))
    assert "int8rt.QConcat" in [layer["op"] for layer in engine.layers()]
    assert ("int8rt.Dequantize", "y") in converts(engine) and len(converts(engine)) == 5, converts(engine)
    got = engine.run({"x": X})
    want = quantized(np.concatenate([got["c"], got["c2"]], axis=-2), s_y).astype(np.int32)
    diff = np.abs(quantized(got["y"], s_y).astype(np.int32) - want)
    assert diff.max() <= 1, f"QConcat differs from Dequantize/Concat/Quantize by {diff.max()} steps"


def test_chain_into_conv_matches_the_float_data_movement_bit_for_bit() -> None:
    """Conv -> Transpose -> Pad -> Slice -> Transpose back -> Conv: in int8 end to end (the last
    Conv, the network output, writes float32 from its accumulators: lower_int8_conv_head.cc), and
    the same bytes as with the data movement forced to float32 (Dequantize, float ops, Quantize
    at the same scale)."""
    w3 = np.random.default_rng(8).standard_normal((3, 4, 3, 3)).astype(F32) * 0.4
    chain = [node("Transpose", ["c"], ["t"], name="t", perm=[0, 1, 3, 2]),
             node("Pad", ["t", "p", "v"], ["p1"], name="pad"),
             node("Slice", ["p1", "s", "e", "a"], ["s1"], name="s"),
             node("Transpose", ["s1"], ["t2"], name="t2", perm=[0, 1, 3, 2]),
             node("MaxPool", ["t2"], ["mp"], name="mp", kernel_shape=[2, 2], pads=[1, 1, 1, 1]),
             node("Conv", ["mp", "w3"], ["y"], name="conv3", kernel_shape=[3, 3])]
    inits = [i64("p", [0, 0, 1, 1, 0, 0, 1, 1]), init("v", np.array(-0.5, F32)), i64("s", [1]), i64("e", [7]),
             i64("a", [-2]), init("w3", w3)]
    m = conv_model(chain, inits, ["y"], anchor=False)  # conv3 reads c through the moves: int8
    scales = scales_for(m, y=0.07)
    engine = build_int8(m, scales)
    assert converts(engine) == {("int8rt.Quantize", "x"), ("int8rt.Dequantize", "c")}
    float_moves = build_int8(m, scales, fp32_layers=["t", "pad", "s", "t2"])
    assert len(float_moves.int8_plan().converts) > len(engine.int8_plan().converts)
    np.testing.assert_array_equal(engine.run({"x": X})["y"], float_moves.run({"x": X})["y"])


def test_a_table_in_front_of_data_movement_into_a_conv_forms() -> None:
    """Sigmoid -> Transpose -> Conv: the Transpose reads int8 because its reader does, so the
    sigmoid becomes a table and nothing leaves int8 before the Conv (the network output: it
    writes float32, lower_int8_conv_head.cc)."""
    w3 = np.random.default_rng(2).standard_normal((2, 5, 1, 1)).astype(F32)
    chain = [node("Sigmoid", ["c"], ["g"], name="sig"),
             node("Transpose", ["g"], ["t"], name="t", perm=[0, 2, 1, 3]),
             node("Conv", ["t", "w3"], ["y"], name="conv3", kernel_shape=[1, 1])]
    m = conv_model(chain, [init("w3", w3)], ["y"], anchor=False)
    engine = build_int8(m, scales_for(m, g=1 / 127, y=0.05))
    ops = [layer["op"] for layer in engine.layers()]
    assert "int8rt.QLut" in ops and "int8rt.QTranspose" in ops, ops
    assert converts(engine) == {("int8rt.Quantize", "x"), ("int8rt.Dequantize", "c")}


def test_pad_with_a_run_time_value_stays_float_and_says_why() -> None:
    value = helper.make_tensor_value_info("v", TensorProto.FLOAT, [])
    chain = [node("Pad", ["c", "p", "v"], ["y"], name="pad")]
    m = conv_model(chain, [i64("p", [0, 0, 1, 0, 0, 0, 0, 1])], ["y"], extra_inputs=[value])
    engine = build_int8(m, scales_for(m))
    assert any("'pad' (Pad) stays float32: its constant value is not a float32 scalar constant" in line
               for line in engine.report()), engine.report()
    got = engine.run({"x": X, "v": np.array(9.0, F32)})
    want = np.pad(got["c"], [(0, 0), (0, 0), (1, 0), (0, 1)], constant_values=9.0)
    np.testing.assert_array_equal(got["y"], want)


def test_bad_perm_is_refused_naming_the_layer() -> None:
    m = conv_model([node("Transpose", ["c"], ["y"], name="bad_t", perm=[0, 1, 1, 2])], [], ["y"])
    m.graph.output[1].CopyFrom(fvi("y", SHAPE))
    with pytest.raises(int8rt.Error, match="bad_t"):
        build_int8(m, scales_for(m)).run({"x": X})


def test_int8_move_layer_refuses_a_float_input() -> None:
    net = int8rt.create_network()
    x = net.add_input("x", [1, 2, 3, 4])
    y = net.add_node("int8rt.QTranspose", "forged", [x], {"perm": [0, 1, 3, 2]}, ["y"])[0]
    net.mark_output(y)
    with pytest.raises(int8rt.InvalidArgumentError, match="forged.*int8 data input"):
        int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32")).run({"x": np.zeros((1, 2, 3, 4), F32)})


def test_accuracy_taps_see_moved_tensors_at_their_input_scale() -> None:
    from int8rt.accuracy.taps import int8_scales
    chain, inits, outputs = CASES["reshape_rank4"]
    engine = build_int8(conv_model(chain, inits, outputs), scales_for(conv_model(chain, inits, outputs), y=0.5))
    scales = int8_scales(engine._native.network())
    plan = {t.tensor: t.scale for t in engine.int8_plan().tensors}
    assert scales["y"] == scales["c"] == plan["y"] == plan["c"] == np.float32(S_C)


def test_engine_file_keeps_the_int8_data_movement() -> None:
    chain = CASES["squeeze_unsqueeze"][0] + [node("Pad", ["y", "p2"], ["z"], name="pad2"),
                                             node("Concat", ["z", "z"], ["out"], name="cat", axis=2)]
    m = conv_model(chain, CASES["squeeze_unsqueeze"][1] + [i64("p2", [0, 1, 0, 0, 0, 0, 1, 0])], ["out"])
    engine = build_int8(m, scales_for(m))
    loaded = int8rt.Engine.deserialize(engine.serialize())
    assert [layer["op"] for layer in loaded.layers()] == [layer["op"] for layer in engine.layers()]
    np.testing.assert_array_equal(loaded.run({"x": X})["out"], engine.run({"x": X})["out"])


def test_channel_shuffle_runs_as_one_transpose_of_the_pixels_channels() -> None:
    chain, inits, outputs = CASES["channel_shuffle"]
    m = conv_model(chain, inits, outputs)
    engine = build_int8(m, scales_for(m))
    assert any("channel shuffle 'r1' -> 'r2' runs as one int8 transpose" in line for line in engine.report())
    ops = [layer["op"] for layer in engine.layers()]
    assert ops.count("int8rt.QTranspose") == 1, ops  # no NCHW round trip
    intermediate = build_int8(conv_model(*CASES["channel_shuffle_intermediate_output"]), scales_for(m))
    assert not any("channel shuffle" in line for line in intermediate.report())  # t5 is needed as it is



def test_patch_tokens_are_the_nhwc_bytes_as_they_lie() -> None:
    """A vision transformer's x.flatten(2).transpose(1, 2) of an NHWC int8 conv
    output is one QReshape to [N, H*W, C]: no transpose to NCHW and back
    (the values are those of the FP32 chain: the parametrized case above).
    With the flattened tensor read elsewhere too, the chain runs as it is."""
    m = conv_model(*CASES["patch_tokens"])
    engine = build_int8(m, scales_for(m))
    assert any("patch tokens 'flat' -> 'tokens'" in line for line in engine.report()), engine.report()
    ops = [layer["op"] for layer in engine.layers()]
    assert "int8rt.QTranspose" not in ops, ops
    kept = build_int8(conv_model(*CASES["patch_tokens_intermediate_output"]), scales_for(m))
    assert "int8rt.QTranspose" in [layer["op"] for layer in kept.layers()]
    assert np.array_equal(engine.run({"x": X})["y"], kept.run({"x": X})["y"])


def test_shape_of_an_int8_tensor_says_why_it_shows_as_float32() -> None:
    """A Shape reading an int8 tensor's dims (and, for an NHWC one, the Gather
    back to NCHW order) is listed as a float32
    layer; the builder's report says why, so `int8rt inspect` names it."""
    from int8rt.cli import _float_reasons
    chain = [node("Shape", ["c"], ["sh"], name="shape"),  # ViT's class token, expanded to the batch
             node("Gather", ["sh", "zero"], ["n"], name="batch", axis=0),
             node("Concat", ["n", "rest"], ["target"], name="target", axis=0),
             node("Expand", ["cls", "target"], ["y"], name="expand")]
    inits = [i64("zero", [0]), i64("rest", [1, 4]), init("cls", np.ones((1, 1, 4), F32))]
    w = init("w", np.random.default_rng(5).standard_normal((4, 4, 1, 1)).astype(F32))
    m = model([node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1])] + chain,
              [fvi("x", ["N"] + SHAPE[1:])], [fvi("y", ["N", 1, 4])], [w] + inits)  # a dynamic batch keeps the Shape
    engine = build_int8(m, scales_for(m))
    reasons = _float_reasons(engine.report(), "int8")
    fp32 = [layer["name"] for layer in engine.layers() if layer["precision"] == "fp32" and layer["name"].startswith("shape")]
    assert sorted(fp32) == ["shape", "shape::to_nchw"], fp32
    for name in fp32:
        assert reasons[name].startswith("it reads only the dims of int8 'c'"), (name, reasons.get(name))


@pytest.mark.slow
def test_shufflenet_runs_its_data_movement_and_shapes_in_int8_and_exports(tmp_path) -> None:
    """The ShuffleNetV2-like net of benchmarks/e2e_models.py (split, concat and channel
    shuffle per block; torch's run-time Shape chains): one Quantize, no Dequantize, the
    plan's readers are int8 layers (a Shape reading int8 dims, if one is left, is none), Q/DQ export works."""
    import sys
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "benchmarks"))
    from e2e_models import make_model
    path = tmp_path / "shufflenet.onnx"
    torch.onnx.export(make_model("shufflenet_v2"), torch.zeros(1, 3, 224, 224), str(path), dynamo=False,
                      input_names=["input"], output_names=["logits"], opset_version=17,
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    x = np.random.default_rng(0).standard_normal((8, 3, 224, 224), dtype=np.float32)
    engine = int8rt.build_engine(path, int8rt.BuilderConfig(calibrator=int8rt.make_calibrator(
        {"input": x}, algorithm="minmax", batch_size=8)))
    plan = engine.int8_plan()
    assert [c.op for c in plan.converts] == ["int8rt.Quantize"], [(c.op, c.tensor) for c in plan.converts]
    # (torch's Shape chains may fold away at import; a Shape left in the engine
    # reads int8 dims and is no reader of the plan: the line below.)
    assert {r for t in plan.tensors for r in t.readers} <= {layer.name for layer in plan.layers}
    int8rt.export_qdq(path, {t.tensor: t.scale for t in plan.tensors}, tmp_path / "qdq.onnx")
    assert onnx.load(str(tmp_path / "qdq.onnx")).graph.node


def test_float_input_quantized_before_a_move_to_int8_readers() -> None:
    """A LayerNorm's float output transposed for a MatMul (nn.MultiheadAttention's
    [B, S, D] -> [S, B, D]) is quantized before the Transpose, at the scale of
    the Transpose's output, so the Transpose moves int8 bytes. The result is
    == the engine that keeps the Transpose in float32 and quantizes after it
    (a move only places values)."""
    rng = np.random.default_rng(21)
    d = 8
    nodes = [node("LayerNormalization", ["x", "g", "b"], ["n"], name="ln", axis=-1),
             node("Transpose", ["n"], ["t"], name="tr", perm=[1, 0, 2]),
             node("MatMul", ["t", "w"], ["y"], name="mm")]
    inits = [init("g", rng.standard_normal(d).astype(F32)), init("b", rng.standard_normal(d).astype(F32)),
             init("w", rng.standard_normal((d, 5)).astype(F32))]
    m = with_output_shapes(model(nodes, [fvi("x", [3, 4, d])], [fvi("y", None)], inits))
    scales = {"x": 0.05, "n": 0.03, "t": 0.021, "y": 0.04}
    fused = build_int8(m, scales)
    kept = build_int8(m, scales, fp32_layers=["tr"])
    ops = [layer["op"] for layer in fused.layers()]
    assert "int8rt.QTranspose" in ops and "Transpose" not in ops, ops
    assert "Transpose" in [layer["op"] for layer in kept.layers()]
    feeds = {"x": rng.standard_normal((3, 4, d)).astype(F32)}
    assert np.array_equal(fused.run(feeds)["y"], kept.run(feeds)["y"])


def test_float_input_read_by_two_selecting_moves_keeps_its_own_range() -> None:
    """An LSTM state [h; c] read by two Gathers (Silero VAD's decoder): h is
    bounded by tanh, c is not. Quantized before the first Gather at that
    Gather's (h's) scale, the one int8 state would clip c for the second;
    with two readers it is quantized at its own scale, so c's int8 values are
    those of c quantized at its scale (== the engine keeping both Gathers
    float) and h stays within one of the state's steps."""
    rng = np.random.default_rng(3)
    d = 8
    nodes = [node("Gather", ["s", "i0"], ["h"], name="g0", axis=0),
             node("Gather", ["s", "i1"], ["c"], name="g1", axis=0),
             node("MatMul", ["h", "wh"], ["yh"], name="mh"),
             node("MatMul", ["c", "wc"], ["yc"], name="mc")]
    inits = [i64("i0", 0), i64("i1", 1), init("wh", rng.standard_normal((d, 5)).astype(F32)),
             init("wc", rng.standard_normal((d, 5)).astype(F32))]
    m = with_output_shapes(model(nodes, [fvi("s", [2, 3, d])], [fvi("yh", None), fvi("yc", None)], inits))
    s = np.concatenate([np.tanh(rng.standard_normal((1, 3, d))), 4 * rng.standard_normal((1, 3, d))]).astype(F32)
    s_state, s_h = float(np.abs(s).max()) / 127, float(np.abs(s[0]).max()) / 127
    scales = {"s": s_state, "h": s_h, "c": s_state, "yh": 0.05, "yc": 0.2}
    moved = build_int8(m, scales)
    kept = build_int8(m, scales, fp32_layers=["g0", "g1"])
    assert [layer["op"] for layer in moved.layers()].count("int8rt.QGather") == 2
    got, want = moved.run({"s": s}), kept.run({"s": s})
    assert np.array_equal(got["yc"], want["yc"])
    ref = s[0].astype(np.float64) @ np.asarray(onnx.numpy_helper.to_array(inits[2]), np.float64)
    # h at the state's step: each of its d terms is off by at most half a step
    bound = 0.5 * s_state * np.abs(onnx.numpy_helper.to_array(inits[2])).sum(axis=0) + 0.05
    assert np.all(np.abs(got["yh"] - ref) <= bound), np.abs(got["yh"] - ref).max()


def test_concat_making_only_a_network_output_stays_float() -> None:
    """An LSTM's float h and c unsqueezed and concatenated into the state the
    network returns (Silero VAD's stateN, fed back at the next step): the
    values leave as float32, so quantizing them to int8 moves and a Concat
    that requantizes h onto c's scale would only add error, step after step.
    The int8 engine returns the float concatenation exactly; a Concat read by
    another layer still runs in int8."""
    rng = np.random.default_rng(4)
    d = 8
    nodes = [node("Unsqueeze", ["h", "ax"], ["hu"], name="uh"),
             node("Unsqueeze", ["c", "ax"], ["cu"], name="uc"),
             node("Concat", ["hu", "cu"], ["state"], name="cat", axis=0)]
    m = with_output_shapes(model(nodes, [fvi("h", [3, d]), fvi("c", [3, d])], [fvi("state", None)], [i64("ax", [0])]))
    feeds = {"h": np.tanh(rng.standard_normal((3, d))).astype(F32), "c": (4 * rng.standard_normal((3, d))).astype(F32)}
    scales = {"h": 1 / 127, "c": 12 / 127, "hu": 1 / 127, "cu": 12 / 127, "state": 12 / 127}
    engine = build_int8(m, scales)
    assert not [layer["op"] for layer in engine.layers() if layer["op"].startswith("int8rt.")], engine.layers()
    assert np.array_equal(engine.run(feeds)["state"], np.stack([feeds["h"], feeds["c"]]))
