"""Repeated runs of one shape allocate no fresh memory (issue 14 §4: no
per-run allocation on the hot path); steady-state runs make no C++ heap
allocation at all (counted with tests/native/alloc_counter.c, below).

Counted as the minor page faults (``getrusage``) of a child process whose
glibc serves every allocation of 64 KiB or more with a fresh ``mmap``
(``mallopt(M_MMAP_THRESHOLD)``, which also stops glibc from keeping freed
blocks for reuse): there, a buffer allocated per run faults in all its pages
on every run, which is what the kernel's page clearing costs a batch-8 run.
The network's activations are 0.3-1 MiB each, so one such buffer per run
would add hundreds of faults per run.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import int8rt
from onnx_models import fvi, model

TESTS = os.path.dirname(os.path.abspath(__file__))

def wide_conv() -> onnx.ModelProto:
    """Conv 1 -> 4 channels, 3x3, input [N, 1, 64, 64]: an output of 61 KiB a sample."""
    w = np.random.default_rng(1).standard_normal((4, 1, 3, 3)).astype(np.float32)
    return model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3])], [fvi("x", ["N", 1, 64, 64])],
                 [fvi("y", ["N", 4, 62, 62])], [numpy_helper.from_array(w, "w")])


CHILD = textwrap.dedent("""
    import ctypes, json, resource, sys
    libc = ctypes.CDLL(None)
    M_MMAP_THRESHOLD = -3
    assert libc.mallopt(M_MMAP_THRESHOLD, 64 * 1024) == 1
    import numpy as np
    import int8rt
    from onnx_models import conv_net
    from test_run_allocations import wide_conv
    int8rt.set_num_threads(1)
    engine = int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="fp32"))
    x = {"input": np.random.default_rng(0).standard_normal((256, 3, 8, 8), dtype=np.float32)}
    ctx = engine.create_execution_context()
    wide = int8rt.build_engine(wide_conv(), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    wx = {"x": np.ones((8, 1, 64, 64), np.float32)}
    wy = {"y": np.empty((8, 4, 62, 62), np.float32)}  # 0.5 MiB: a new array per run would fault 120 pages
    calls = {"context": lambda: ctx.run(x), "engine": lambda: engine.run(x),
             "context into outputs": lambda: wide.run(wx, wy)}
    out = {}
    for name, call in calls.items():
        for _ in range(3):
            call()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(10):
            call()
        out[name] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(json.dumps(out))
""")


def _under_asan() -> bool:
    """Whether this process runs under tools/sanitize_tests.sh's preloaded ASan runtime."""
    return "libasan" in os.environ.get("LD_PRELOAD", "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt and minor-fault counts are glibc / Linux")
def test_repeated_runs_fault_in_no_fresh_pages() -> None:
    if _under_asan():
        pytest.skip("glibc's mallopt and page reuse are not ASan's allocator (tools/sanitize_tests.sh preloads it)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    faults = json.loads(done.stdout.strip().splitlines()[-1])
    # One fresh 1 MiB activation per run would be 256 faults a run, 2560 in
    # all; what is left (Python's own objects) is a few pages.
    for call, n in faults.items():
        assert n < 64, f"{call} runs: {n} minor page faults in 10 runs of one shape (fresh memory per run)"


@pytest.mark.parametrize("threads", [1, 2])
def test_run_into_outputs_writes_what_run_returns(threads: int) -> None:
    engine = int8rt.build_engine(wide_conv(), int8rt.BuilderConfig(precision="fp32"))
    ctx = engine.create_execution_context()
    x = {"x": np.random.default_rng(2).standard_normal((8, 1, 64, 64), dtype=np.float32)}
    old = int8rt.get_num_threads()
    int8rt.set_num_threads(threads)  # 2: a batch split in parts, joined into the caller's array
    try:
        want = ctx.run(x)["y"]
        y = np.full((8, 4, 62, 62), np.nan, np.float32)
        got = ctx.run(x, {"y": y})
    finally:
        int8rt.set_num_threads(old)
    assert got["y"] is y
    np.testing.assert_array_equal(y, want)


def test_run_into_refuses_outputs_it_cannot_write_in_place() -> None:
    ctx = int8rt.build_engine(wide_conv(), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    x = {"x": np.ones((2, 1, 64, 64), np.float32)}
    with pytest.raises(int8rt.InvalidArgumentError, match="'y' is float32 \\[2, 4, 62, 62\\], given float32 \\[3"):
        ctx.run(x, {"y": np.empty((3, 4, 62, 62), np.float32)})
    with pytest.raises(int8rt.InvalidArgumentError, match="C-contiguous and writeable"):
        ctx.run(x, {"y": np.empty((2, 4, 62, 124), np.float32)[..., ::2]})
    with pytest.raises(int8rt.InvalidArgumentError, match="'y' not given"):
        ctx.run(x, {})
    with pytest.raises(int8rt.InvalidArgumentError, match="'z' is not an output"):
        ctx.run(x, {"y": np.empty((2, 4, 62, 62), np.float32), "z": np.empty(1, np.float32)})


# --- C++ heap allocations per steady-state run (issue 14 §4) -------------------------------------------------------
#
# tests/native/alloc_counter.c, compiled here and preloaded into a child
# process, counts every malloc / calloc / realloc / aligned allocation made
# by a thread that does not hold the GIL: the engine's run inside
# ctx.run(x, outputs) (the binding converts its arguments under the GIL,
# then releases it around the C++ run) and the thread pool's workers. Each
# engine runs a few input shapes in turn (a detector's image sizes, a batch
# that changes), twice round as warm-up; then every further run must make
# no allocation at all: buffers, shape plans (one per signature), kernel
# scratch and the run path's own vectors are all kept from earlier runs.

def _mobile_detector(mode: str = "nearest") -> onnx.ModelProto:
    """A PP-OCR-det-like net on [N, 3, H, W] (every dim dynamic): a stride-2
    3x3 conv, an inverted residual (1x1 expand, 3x3 depthwise, 1x1 project,
    residual add), a 3x3 conv, 2x upsampling (Resize, `mode` nearest or
    linear, scales given), a 1x1 head."""
    rng = np.random.default_rng(5)

    def w(*shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5)
                                       .astype(np.float32), f"w{len(shape)}_{shape[0]}_{shape[1]}")
    ws = [w(16, 3, 3, 3), w(64, 16, 1, 1), w(64, 1, 3, 3), w(16, 64, 1, 1), w(32, 16, 3, 3), w(4, 32, 1, 1)]
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    n = [x.name for x in ws]
    nodes = [
        helper.make_node("Conv", ["x", n[0]], ["c0"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c0"], ["r0"]),
        helper.make_node("Conv", ["r0", n[1]], ["e"]), helper.make_node("Relu", ["e"], ["re"]),
        helper.make_node("Conv", ["re", n[2]], ["d"], pads=[1, 1, 1, 1], group=64),
        helper.make_node("Relu", ["d"], ["rd"]),
        helper.make_node("Conv", ["rd", n[3]], ["p"]), helper.make_node("Add", ["p", "r0"], ["a"]),
        helper.make_node("Conv", ["a", n[4]], ["c4"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c4"], ["r4"]),
        helper.make_node("Resize", ["r4", "", "scales"], ["up"], mode=mode),
        helper.make_node("Conv", ["up", n[5]], ["y"]),
    ]
    return model(nodes, [fvi("x", ["N", 3, "H", "W"])], [fvi("y", ["N", 4, "OH", "OW"])], ws + [scales])


def _separable_resizes() -> onnx.ModelProto:
    """x [N, 3, H, W] (every dim dynamic) through the Resize modes the FP32
    layer runs one axis at a time in float64 (resize_separable.h): linear and
    cubic antialiased downsampling, then a linear tf_crop_and_resize (its roi
    an input to the node) upsampling."""
    roi = numpy_helper.from_array(np.array([0, 0, 0.1, 0.2, 1, 1, 0.9, 0.7], np.float32), "roi")
    down = numpy_helper.from_array(np.array([1, 1, 0.6, 0.45], np.float32), "down")
    up = numpy_helper.from_array(np.array([1, 1, 2, 3], np.float32), "up")
    nodes = [helper.make_node("Resize", ["x", "", "down"], ["a"], mode="linear", antialias=1),
             helper.make_node("Resize", ["a", "", "down"], ["b"], mode="cubic", antialias=1),
             helper.make_node("Resize", ["b", "roi", "up"], ["y"], mode="linear",
                              coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-1.0)]
    return model(nodes, [fvi("x", ["N", 3, "H", "W"])], [fvi("y", ["N", 3, "OH", "OW"])], [roi, down, up], opset=18)


def _norm_and_reductions() -> onnx.ModelProto:
    """x [N, 8, L] (N and L dynamic) through a BatchNormalization no conv
    absorbs (LeViT's, on tokens), a reflect Pad of the tokens (pads an input,
    as Swin's window padding) and reductions on each of the Reduce layer's
    paths: ReduceSum over the last axis (rows), ReduceL2 over the channels
    (a collapsed sum with an inner block), ReduceSumSquare over axes 0 and 2
    (not adjacent: the strided walk) and ReduceMax over the channels."""
    rng = np.random.default_rng(11)
    params = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in
              (("bn_s", rng.uniform(0.5, 1.5, 8)), ("bn_b", rng.standard_normal(8)),
               ("bn_m", rng.standard_normal(8) * 0.1), ("bn_v", rng.uniform(0.5, 2.0, 8)))]
    params.append(numpy_helper.from_array(np.array([-1], np.int64), "last"))
    params.append(numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 2], np.int64), "pads"))
    nodes = [helper.make_node("BatchNormalization", ["x", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"]),
             helper.make_node("Pad", ["bn", "pads"], ["padded"], mode="reflect"),
             helper.make_node("ReduceSum", ["padded", "last"], ["sum"]),
             helper.make_node("ReduceL2", ["bn"], ["l2"], axes=[1]),
             helper.make_node("ReduceSumSquare", ["bn"], ["ss"], axes=[0, 2], keepdims=0),
             helper.make_node("ReduceMax", ["bn"], ["max"], axes=[1])]
    return model(nodes, [fvi("x", ["N", 8, "L"])], [fvi("sum", ["N", 8, 1]), fvi("l2", ["N", 1, "L"]),
                                                    fvi("ss", [8]), fvi("max", ["N", 1, "L"])], params, opset=13)


def _bert_like_encoder(layers: int = 2, hidden: int = 32, heads: int = 4, max_len: int = 64) -> onnx.ModelProto:
    """A BERT-like encoder on x [N, S, hidden], token types [N, S] (int64) and an
    additive mask [N, 1, 1, S] (N and S dynamic), with the layers a BERT export
    runs on every call. Embeddings: a position table [max_len, hidden] sliced to
    the S of Shape(x) (Slice with run-time ends), added to x and normalised
    (Add -> LayerNormalization, the position rows broadcast over the batch), plus
    the positions expanded to x's shape (Expand) and a uint8 token-type table
    gathered and dequantized (Gather -> DequantizeLinear, as dynamic quantization
    leaves an embedding), normalised again. Per layer: Q K V projections, heads
    split (Reshape, Transpose), scores Q K^T / sqrt(d) + mask, Softmax, probs x V,
    heads joined, the output projection, residual Add -> LayerNormalization, an
    Erf-GELU feed-forward block, residual Add -> LayerNormalization. Then the
    Gram matrix h h^T of the last layer's output, a MatMul of two activations
    outside attention (int8rt.QMatMul in an INT8 build)."""
    rng = np.random.default_rng(7)
    d = hidden // heads
    inits, nodes = [], []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(array, name))
        return name

    def weight(name: str, *shape: int) -> str:
        return const(name, (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32))

    def layernorm(src: str, out: str) -> str:
        g = const(f"{out}_g", rng.uniform(0.5, 1.5, hidden).astype(np.float32))
        b = const(f"{out}_b", (rng.standard_normal(hidden) * 0.1).astype(np.float32))
        nodes.append(helper.make_node("LayerNormalization", [src, g, b], [out], axis=-1, epsilon=1e-12))
        return out
    split = const("split_shape", np.array([0, 0, heads, d], np.int64))
    join = const("join_shape", np.array([0, 0, hidden], np.int64))
    scale = const("scale", np.array(np.sqrt(d), np.float32))
    nodes += [helper.make_node("Shape", ["x"], ["x_shape"]),
              helper.make_node("Gather", ["x_shape", const("one", np.array(1, np.int64))], ["s_len"]),
              helper.make_node("Unsqueeze", ["s_len", const("axis0", np.array([0], np.int64))], ["s_end"]),
              helper.make_node("Slice", [weight("positions", max_len, hidden), const("zero", np.array([0], np.int64)),
                                         "s_end", "axis0"], ["pos"]),
              helper.make_node("Add", ["x", "pos"], ["x_pos"]),
              helper.make_node("Expand", ["pos", "x_shape"], ["pos_n"]),
              helper.make_node("Gather", [const("types_q", rng.integers(0, 256, (2, hidden)).astype(np.uint8)),
                                          "types"], ["types_g"]),
              helper.make_node("DequantizeLinear", ["types_g", const("types_s", np.array(0.01, np.float32)),
                                                    const("types_z", np.array(128, np.uint8))], ["types_e"]),
              helper.make_node("Add", ["pos_n", "types_e"], ["emb_rest"])]
    nodes.append(helper.make_node("Add", [layernorm("x_pos", "emb0"), "emb_rest"], ["emb_sum"]))
    h = layernorm("emb_sum", "emb")
    for i in range(layers):
        def proj(what: str, src: str, n_in: int = hidden, n_out: int = hidden) -> str:
            nodes.append(helper.make_node("MatMul", [src, weight(f"w{what}{i}", n_in, n_out)], [f"{what}{i}"]))
            return f"{what}{i}"
        for what, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            nodes.append(helper.make_node("Reshape", [proj(what, h), split], [f"{what}s{i}"]))
            nodes.append(helper.make_node("Transpose", [f"{what}s{i}"], [f"{what}h{i}"], perm=perm))
        nodes += [helper.make_node("MatMul", [f"qh{i}", f"kh{i}"], [f"qk{i}"]),
                  helper.make_node("Div", [f"qk{i}", scale], [f"sc{i}"]),
                  helper.make_node("Add", [f"sc{i}", "mask"], [f"sm{i}"]),
                  helper.make_node("Softmax", [f"sm{i}"], [f"p{i}"], axis=-1),
                  helper.make_node("MatMul", [f"p{i}", f"vh{i}"], [f"c{i}"]),
                  helper.make_node("Transpose", [f"c{i}"], [f"ct{i}"], perm=[0, 2, 1, 3]),
                  helper.make_node("Reshape", [f"ct{i}", join], [f"cj{i}"])]
        nodes.append(helper.make_node("Add", [proj("o", f"cj{i}"), h], [f"r{i}"]))
        h = layernorm(f"r{i}", f"a{i}")
        # Feed-forward: f = Erf-GELU(h W1 + b1) W2 + b2, then the residual and LayerNormalization.
        nodes += [helper.make_node("Add", [proj("f", h, hidden, 4 * hidden),
                                           const(f"b1_{i}", (rng.standard_normal(4 * hidden) * 0.1).astype(np.float32))],
                                   [f"fb{i}"]),
                  helper.make_node("Div", [f"fb{i}", const(f"sqrt2_{i}", np.array(np.sqrt(2.0), np.float32))],
                                   [f"fd{i}"]),
                  helper.make_node("Erf", [f"fd{i}"], [f"fe{i}"]),
                  helper.make_node("Add", [f"fe{i}", const(f"one_{i}", np.array(1.0, np.float32))], [f"fa{i}"]),
                  helper.make_node("Mul", [f"fb{i}", f"fa{i}"], [f"fm{i}"]),
                  helper.make_node("Mul", [f"fm{i}", const(f"half_{i}", np.array(0.5, np.float32))], [f"g{i}"])]
        nodes.append(helper.make_node("Add", [proj("d", f"g{i}", 4 * hidden, hidden), h], [f"fr{i}"]))
        h = layernorm(f"fr{i}", f"h{i}")
    nodes += [helper.make_node("Transpose", [h], ["ht"], perm=[0, 2, 1]),
              helper.make_node("MatMul", [h, "ht"], ["gram"])]
    return model(nodes, [fvi("x", ["N", "S", hidden]), helper.make_tensor_value_info("types", onnx.TensorProto.INT64,
                                                                                      ["N", "S"]),
                         fvi("mask", ["N", 1, 1, "S"])],
                 [fvi(h, ["N", "S", hidden]), fvi("gram", ["N", "S", "S"])], inits)


ALLOC_CHILD = textwrap.dedent("""
    import ctypes, json, mmap, sys
    import numpy as np
    import onnx
    import int8rt
    from onnx_models import resnet_block
    from test_run_allocations import _mobile_detector, _norm_and_reductions, _separable_resizes
    from test_f32_layout import resnet_like
    from test_bf16_blocked import _block_model
    from test_int8_image_chain import chain_model
    counter = ctypes.CDLL(sys.argv[1])
    pages = []  # keeps the unborrowable arrays' pages alive

    def unborrowable(a):
        page = mmap.mmap(-1, 2 * mmap.PAGESIZE + a.nbytes)
        pages.append(page)
        end = (len(page) // mmap.PAGESIZE) * mmap.PAGESIZE - 16  # 16 bytes before a page end
        out = np.frombuffer(page, np.float32, a.size, end - a.nbytes).reshape(a.shape)
        out[...] = a
        return out
    counter.alloc_counter_stop.restype = ctypes.c_long
    capacity = int(sys.argv[2])
    rng = np.random.default_rng(0)
    det_shapes = [(1, 3, 32, 32), (1, 3, 24, 40), (2, 3, 32, 32)]
    # The Resize layers keep their plans and index / tap tables per thread
    # (RESULTS.md section 105): nearest and bilinear, float and int8, and the
    # float64 one-axis-at-a-time modes.
    nets = {"detector": (_mobile_detector(), "x", det_shapes, ["fp32", "bf16", "int8"]),
            "bilinear detector": (_mobile_detector("linear"), "x", det_shapes, ["fp32", "int8"]),
            "separable resizes": (_separable_resizes(), "x", [(1, 3, 40, 40), (2, 3, 24, 36)], ["fp32"]),
            "norm and reductions": (_norm_and_reductions(), "x", [(2, 8, 10), (1, 8, 17)], ["fp32"]),
            "resnet block": (resnet_block(np.random.default_rng(1), True), "x", [(1, 3, 12, 12), (3, 3, 12, 12)],
                             ["fp32", "bf16", "int8"]),
            # FP32 channels-last regions (engine/f32_layout.h): ToNHWC / ToNCHW and the convs on NHWC tensors
            "resnet-like": (resnet_like(), "x", [(1, 16, 14, 14), (3, 16, 14, 14)], ["fp32 channels-last"]),
            # Where AMX-BF16 runs the channel-blocked region, its first five
            # convs on 30 x 30 planes become one int8rt.Bf16ImageChain run
            # image by image (RESULTS.md section 215): batch 1 and 3.
            "bf16 image chain": (onnx.load_from_string(_block_model(16, 48, 32, pool=False, hw=(30, 30))), "x",
                                 [(1, 16, 30, 30), (3, 16, 30, 30)], ["bf16"]),
            # Where AMX-INT8 runs them, its entry quantize and first six convs
            # on 64 x 64 / 32 x 32 planes become one int8rt.Int8ImageChain
            # (RESULTS.md section 219; below AMX the same layers unchained).
            "int8 image chain": (chain_model(), "x", [(1, 8, 64, 64), (3, 8, 64, 64)], ["int8"])}
    out = {}
    for net, (onnx_model, name, shapes, precisions) in nets.items():
        calib = [{name: rng.standard_normal(s, dtype=np.float32)} for s in shapes]
        configs = {"fp32": int8rt.BuilderConfig(precision="fp32"),
                   "bf16": int8rt.BuilderConfig(precision="fp32", bf16=True),
                   "fp32 channels-last": int8rt.BuilderConfig(precision="fp32", channels_last=True),
                   "int8": int8rt.BuilderConfig(calibrator=calib, accuracy_check=False)}
        for label in precisions:
            config = configs[label]
            engine = int8rt.build_engine(onnx_model, config)
            for threads in (1, 2):
                int8rt.set_num_threads(threads)
                ctx = engine.create_execution_context()
                ctx.shape_plan_capacity = capacity
                feeds = [{name: rng.standard_normal(s, dtype=np.float32)} for s in shapes]
                # The first shape again, in an array the run cannot borrow
                # (it ends within 64 bytes of a page end: Value::can_borrow),
                # so its input is copied: a run switching between a borrowed
                # and a copied input allocates nothing either.
                feeds.append({name: unborrowable(feeds[0][name])})
                outs = [{k: np.empty_like(v) for k, v in ctx.run(f).items()} for f in feeds]
                for _ in range(2):
                    for f, o in zip(feeds, outs):
                        ctx.run(f, o)
                counts = [[] for _ in feeds]  # per feed, one count per round
                for _ in range(3):
                    for f, o, c in zip(feeds, outs, counts):
                        counter.alloc_counter_start()
                        ctx.run(f, o)
                        c.append(counter.alloc_counter_stop())
                out[f"{net} {label} {threads} thread(s)"] = counts
    print(json.dumps(out))
""")


def _alloc_counter(tmp_path) -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build tests/native/alloc_counter.c")
    if _under_asan():
        # tools/sanitize_tests.sh: ASan must come first in the child too, and
        # then its malloc, not the counter's, is the one every call reaches.
        pytest.skip("the LD_PRELOAD allocation counter cannot interpose malloc under a preloaded ASan runtime")
    lib = str(tmp_path / "liballoc_counter.so")
    done = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", lib, os.path.join(TESTS, "native", "alloc_counter.c"),
                           "-ldl"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return lib


def _child_env(lib: str, max_isa: str | None) -> dict[str, str]:
    """The counting child's environment: the counter preloaded, the kernels
    capped at ``max_isa`` where given."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]), LD_PRELOAD=lib)
    if max_isa:
        env["INT8RT_MAX_ISA"] = max_isa
    return env


def _count_allocations(tmp_path, capacity: int, max_isa: str | None = None) -> dict:
    lib = _alloc_counter(tmp_path)
    done = subprocess.run([sys.executable, "-c", ALLOC_CHILD, lib, str(capacity)], env=_child_env(lib, max_isa),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _amx_kernels_chosen() -> list[str]:
    """The AMX kernels the native tier chooses for the counted resnet block
    (INT8 and BF16), so the native count is known to cover them on a CPU that
    grants AMX (RESULTS.md section 172: the first such machine; the native run
    is no longer capped below AMX); empty elsewhere."""
    from onnx_models import resnet_block

    x = {"x": np.random.default_rng(0).standard_normal((1, 3, 12, 12), dtype=np.float32)}
    model = resnet_block(np.random.default_rng(1), True)
    details = []
    for config in (int8rt.BuilderConfig(calibrator=[x], accuracy_check=False),
                   int8rt.BuilderConfig(precision="fp32", bf16=True)):
        details += [la["detail"] for la in int8rt.build_engine(model, config).layers()]
    return [d for d in details if "amx" in d]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD allocation counter (glibc)")
@pytest.mark.parametrize("tier", ["native", "avx2", "ref"])
def test_steady_state_runs_make_no_cpp_heap_allocation(tmp_path, tier: str) -> None:
    if tier == "native":
        amx = _amx_kernels_chosen()
        assert bool(amx) == (int8rt.get_max_isa() == "amx"), amx
    counts = _count_allocations(tmp_path, capacity=8, max_isa=None if tier == "native" else tier)
    # At 1 and 2 threads (a split batch, the thread pool's jobs), on the
    # CPU's own kernels, on the portable AVX2 tier and on the reference tier
    # (its conv turned u8-coded inputs to codes in fresh vectors per run:
    # RESULTS.md section 188): nothing. Each input
    # shape's fewest over 3 rounds: an allocation on the run path happens in
    # every round. (Runs that counted 1-2 in some processes only, section
    # 97, were inputs copied where the caller's array ends near a page end:
    # the copy's buffer was dropped at the next borrow; the fourth feed
    # above now covers that on every run.)
    for run, per_feed in counts.items():
        assert [min(c) for c in per_feed] == [0] * len(per_feed), \
            f"{run}: C++ heap allocations per steady-state run, per input shape and round: {per_feed}"
    assert len(counts) == 26  # 13 (net, precision) pairs at 1 and 2 threads


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD allocation counter (glibc)")
def test_without_shape_plans_alternating_shapes_allocate(tmp_path) -> None:
    # The counter and the plans both matter: with no plan kept, each run
    # infers its layers' shapes again (their vectors), so the zero above is
    # the plan cache's and the counter sees C++ allocations.
    counts = _count_allocations(tmp_path, capacity=0)
    for run, per_feed in counts.items():
        assert min(min(c) for c in per_feed) > 0, f"{run}: {per_feed}"


ENCODER_CHILD = textwrap.dedent("""
    import ctypes, json, sys
    import numpy as np
    import int8rt
    from test_run_allocations import _bert_like_encoder
    counter = ctypes.CDLL(sys.argv[1])
    counter.alloc_counter_stop.restype = ctypes.c_long
    precision = sys.argv[2]
    rng = np.random.default_rng(3)

    def feed(n, s):
        mask = np.zeros((n, 1, 1, s), np.float32)
        mask[..., s - 3:] = -10000.0  # the last keys masked out
        return {"x": rng.standard_normal((n, s, 32), dtype=np.float32),
                "types": rng.integers(0, 2, (n, s)).astype(np.int64), "mask": mask}
    shapes = [(2, 16), (1, 24), (3, 8)]  # batches and sequence lengths in turn
    config = {"fp32": lambda: int8rt.BuilderConfig(precision="fp32"),
              "bf16": lambda: int8rt.BuilderConfig(precision="fp32", bf16=True),
              "int8": lambda: int8rt.BuilderConfig(calibrator=[feed(n, s) for n, s in shapes * 2],
                                                   accuracy_check=False)}[precision]()
    engine = int8rt.build_engine(_bert_like_encoder(), config)
    ops = [layer["op"] for layer in engine.layers()]
    out = {"ops": ops}
    for threads in (1, 2):
        int8rt.set_num_threads(threads)
        ctx = engine.create_execution_context()
        feeds = [feed(n, s) for n, s in shapes]
        first = [ctx.run(f) for f in feeds]  # each shape's outputs from its first run
        outs = [{k: np.empty_like(v) for k, v in r.items()} for r in first]
        for _ in range(2):
            for f, o in zip(feeds, outs):
                ctx.run(f, o)
        counts = [[] for _ in feeds]
        same = True
        for _ in range(3):
            for f, o, c, r in zip(feeds, outs, counts, first):
                counter.alloc_counter_start()
                ctx.run(f, o)
                c.append(counter.alloc_counter_stop())
                same = same and all(np.array_equal(o[k], r[k]) for k in r)
        out[f"{threads} thread(s)"] = {"counts": counts, "same": same}
    print(json.dumps(out))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD allocation counter (glibc)")
@pytest.mark.parametrize("precision, tier", [("int8", None), ("fp32", None), ("bf16", None), ("int8", "avx2"),
                                             ("int8", "ref")])
def test_bert_like_encoder_runs_make_no_cpp_heap_allocation(tmp_path, precision: str, tier: str | None) -> None:
    # INT8: int8rt.QAttention (its products' B packed per run: keys, values)
    # and int8rt.QMatMul (B an activation) pack their B into this thread's
    # slot (GemmKernel::pack_per_run_into), and the layers' batch and mask
    # plans are held in place. Both precisions: the embeddings' Slice (run-time
    # ends), Expand, Gather -> DequantizeLinear and the LayerNormalizations
    # (a broadcast residual among them) keep their geometry in per-thread
    # state, as the FP32 (and BF16) MatMuls keep their plans (RESULTS.md section 105). So
    # a steady-state run allocates nothing at three input shapes in turn; its
    # outputs equal each shape's first run, bit for bit, whatever the kept
    # state held before. Capped at AVX2 the keys go through the pair tile's
    # slot (x86/gemm_s8_pairs.cc: keys and values of one (N, K) share it, at
    # S = d here), at ref through the reference GEMM's (RESULTS.md section
    # 188: 96-459 and 42-126 allocations per run before).
    lib = _alloc_counter(tmp_path)
    done = subprocess.run([sys.executable, "-c", ENCODER_CHILD, lib, precision],
                          env=_child_env(lib, tier), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for op in ("LayerNormalization", "Slice", "Expand", "DequantizeLinear"):
        assert op in out["ops"], out["ops"]
    if precision == "int8":
        assert out["ops"].count("int8rt.QAttention") == 2 and "int8rt.QMatMul" in out["ops"], out["ops"]
    else:
        assert out["ops"].count("MatMul") >= 13, out["ops"]  # projections, feed-forward, attention's, the Gram
    for threads in ("1 thread(s)", "2 thread(s)"):
        counts = out[threads]["counts"]
        assert out[threads]["same"], f"{threads}: a steady-state run's outputs differ from the first run's"
        assert [min(c) for c in counts] == [0, 0, 0], \
            f"BERT-like {precision} encoder ({tier or 'native'}), {threads}: C++ heap allocations per run, per input shape and round: " \
            f"{counts}\n(ALLOC_COUNTER_TRACE=n prints the first n sites:)\n{done.stderr[-6000:]}"
