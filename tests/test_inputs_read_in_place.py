"""A run reads the caller's input arrays in place (engine.cc ExecutionContext::run,
Value::borrow) instead of copying them into the engine: the results are
those of a copy, the arrays are never written, nothing of them is read after
the call returns, and an array whose end lies within 64 bytes of a page end
(where a kernel's vector tail could read into the next page) is copied."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
from onnx import TensorProto, helper

import int8rt


def _engine(nodes: list, out: str, shape: list, out_shape: list | None = None, constants: list = (),
            config: int8rt.BuilderConfig | None = None) -> int8rt.Engine:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape or shape)],
                              list(constants))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return int8rt.build_engine(model.SerializeToString(), config or int8rt.BuilderConfig(precision="fp32"))


def test_results_follow_the_array_and_leave_it_unwritten() -> None:
    ctx = _engine([helper.make_node("Neg", ["x"], ["y"])], "y", ["N", 37]).create_execution_context()
    x = np.arange(5 * 37, dtype=np.float32).reshape(5, 37)
    before = x.copy()
    np.testing.assert_array_equal(ctx.run({"x": x})["y"], -before)
    np.testing.assert_array_equal(x, before)
    x += 1  # the next run reads the array's new contents, not a stale copy
    np.testing.assert_array_equal(ctx.run({"x": x})["y"], -before - 1)
    for rows in (2, 9, 1):  # other shapes, fresh arrays (the last one dropped before the next run)
        y = np.full((rows, 37), float(rows), np.float32)
        np.testing.assert_array_equal(ctx.run({"x": y})["y"], -y)
        del y
    sliced = np.arange(4 * 74, dtype=np.float32).reshape(4, 74)[:, ::2]  # not contiguous: a contiguous copy
    np.testing.assert_array_equal(ctx.run({"x": sliced})["y"], -sliced)


def test_an_input_that_is_also_the_output() -> None:
    ctx = _engine([], "x", ["N", 3]).create_execution_context()
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    out = ctx.run({"x": x})["x"]
    x[:] = 0  # the output was copied out before the call returned
    assert out.any()


def test_arrays_next_to_a_guarded_page() -> None:
    """Arrays whose end lies 0 or 64 bytes before a PROT_NONE page, as the
    first layer of several kinds reads them (FP32 element-wise, Softmax,
    LayerNorm, Transpose, MatMul, Conv; INT8's quantizing convert): at 0
    bytes the array is copied (a vector tail read past it could fault), at
    64 it is read in place, so a kernel reading more than reset()'s 64 bytes
    of slack past an input would fault. A crash of the child fails the test."""
    code = textwrap.dedent(f"""
        import ctypes, mmap, sys
        import numpy as np
        from onnx import helper, numpy_helper
        sys.path[:0] = {sys.path!r}
        import int8rt
        from test_inputs_read_in_place import _engine
        libc = ctypes.CDLL(None)
        page = mmap.PAGESIZE
        buf = mmap.mmap(-1, 2 * page)
        base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        assert libc.mprotect(ctypes.c_void_p(base + page), ctypes.c_size_t(page), 0) == 0  # PROT_NONE
        rng = np.random.default_rng(0)
        const = lambda name, *shape: numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
        cases = [  # nodes, constants, input shape, output
            ([helper.make_node("Tanh", ["x"], ["y"])], [], (5, 13), None),
            ([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], [], (5, 13), None),
            ([helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"], axis=-1)],
             [const("s", 13), const("b", 13)], (5, 13), None),
            ([helper.make_node("Transpose", ["x"], ["y"], perm=[1, 0])], [], (5, 13), (13, 5)),
            ([helper.make_node("MatMul", ["x", "w"], ["y"])], [const("w", 13, 7)], (5, 13), (5, 7)),
            ([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], [const("w", 8, 3, 3, 3)],
             (1, 3, 5, 5), (1, 8, 5, 5)),
        ]
        for nodes, consts, shape, out in cases:
            for precision in ("fp32", "int8") if nodes[0].op_type == "Conv" else ("fp32",):
                calib = {{"x": rng.standard_normal((4,) + shape[1:]).astype(np.float32)}}
                config = int8rt.BuilderConfig(precision=precision, calibrator=int8rt.make_calibrator(
                    calib, algorithm="minmax", batch_size=1) if precision == "int8" else None)
                engine = _engine(nodes, "y", list(shape), list(out or shape), consts, config)
                ctx = engine.create_execution_context()
                n = int(np.prod(shape))
                want = None
                for gap in (64, 0):
                    x = np.frombuffer(buf, np.float32, count=n, offset=page - gap - 4 * n).reshape(shape)
                    x[:] = np.linspace(-2, 2, n, dtype=np.float32).reshape(shape)
                    got = ctx.run({{"x": x}})["y"]
                    want = got if want is None else want
                    np.testing.assert_array_equal(got, want)
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=__import__("os").path.dirname(__file__))
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
