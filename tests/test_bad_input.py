"""Bad input from Python never crashes the process (issue 9): each case here
crashed, hung or passed silently before, and must now raise a clear error
(or, where the input is legal, work). Engine files forged with a valid
checksum are covered in C++ (tests/cpp/test_engine_validation.cc)."""
from __future__ import annotations

import threading
from typing import Any

import numpy as np
import onnx
import pytest
from numpy.lib.stride_tricks import as_strided
from onnx import helper, numpy_helper

import int8rt
from int8rt.data_calibrator import make_calibrator
from onnx_models import conv_net, fvi, init, model


def _conv_with_pads(pads: list[int]) -> onnx.ModelProto:
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=pads)], "g",
        [fvi("x", ["N", 1, 4, 4])], [fvi("y", None)], [numpy_helper.from_array(np.ones((4, 1, 3, 3), np.float32), "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return onnx.shape_inference.infer_shapes(m)


def test_conv_pads_whose_output_size_overflows_are_refused() -> None:
    # Was: a wrapped element count allocated a tiny buffer, then SIGSEGV in conv_f32.
    with pytest.raises(int8rt.InvalidArgumentError, match="exceeds"):
        engine = int8rt.build_engine(_conv_with_pads([1, 1, 2**62 + 1, 1]), int8rt.BuilderConfig(precision="fp32"))
        engine.create_execution_context().run({"x": np.ones((2, 1, 4, 4), np.float32)})


def test_large_but_legal_pads_still_work() -> None:
    engine = int8rt.build_engine(_conv_with_pads([1, 1, 3, 1]), int8rt.BuilderConfig(precision="fp32"))
    y = engine.run({"x": np.ones((2, 1, 4, 4), np.float32)})["y"]
    assert y.shape == (2, 4, 6, 4)


def test_maxpool_with_empty_kernel_is_refused() -> None:
    # Was: accepted, and a 4x4 input gave a 5x5 output of -inf (ONNX Runtime refuses the model).
    m = model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[0, 0])], [fvi("x", [1, 1, 4, 4])],
              [fvi("y", [1, 1, "H", "W"])])
    with pytest.raises(int8rt.InvalidArgumentError, match="kernel_shape must be >= 1"):
        int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run({"x": np.ones((1, 1, 4, 4), np.float32)})


@pytest.fixture(scope="module")
def fp32_engine() -> int8rt.Engine:
    return int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="fp32"))


def test_strided_input_too_large_to_copy_is_memory_error(fp32_engine: int8rt.Engine) -> None:
    # A zero-stride view of 2**31 x 3 x 8 x 8 float32 needs a 1.5 TiB contiguous
    # copy: numpy's MemoryError, where a null array used to be dereferenced.
    x = as_strided(np.zeros(1, np.float32), (2**31, 3, 8, 8), (0, 0, 0, 0))
    with pytest.raises(MemoryError):
        fp32_engine.create_execution_context().run({"input": x})


def test_collector_with_array_too_large_to_convert_is_memory_error() -> None:
    x = as_strided(np.zeros(1), (2**31, 64), (0, 0))  # float64: a float32 copy is needed
    with pytest.raises(MemoryError):
        int8rt.calib.Collector("entropy").observe({"t": x})


def test_non_array_input_is_a_clear_error(fp32_engine: int8rt.Engine) -> None:
    with pytest.raises((int8rt.InvalidArgumentError, ValueError, TypeError)):
        fp32_engine.create_execution_context().run({"input": "not an array"})


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_calibration_batches_of_integer_dtype_are_refused(dtype: Any) -> None:
    # Was: built without error, calibrating on unconverted integer data.
    data = (np.random.default_rng(0).uniform(0, 3, (4, 3, 8, 8))).astype(dtype)

    class RawBatches(int8rt.IInt8MinMaxCalibrator):
        def __init__(self) -> None:
            super().__init__()
            self.batches = iter([data])

        def get_batch_size(self) -> int:
            return 4

        def get_batch(self, names: list[str]) -> Any:
            b = next(self.batches, None)
            return None if b is None else [b]

        def read_calibration_cache(self) -> None:
            return None

        def write_calibration_cache(self, cache: bytes) -> None:
            pass

    cal = RawBatches()
    with pytest.raises(int8rt.InvalidArgumentError, match=f"dtype {np.dtype(dtype).name}.*float32"):
        int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="int8", calibrator=cal))


def test_float16_and_float64_calibration_batches_still_work() -> None:
    data = np.random.default_rng(0).standard_normal((8, 3, 8, 8))
    for dtype in (np.float16, np.float64):
        cal = make_calibrator({"input": data.astype(dtype)}, algorithm="minmax", batch_size=4)
        int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="int8", calibrator=cal))


def test_context_shared_between_threads_never_gives_wrong_results(fp32_engine: int8rt.Engine) -> None:
    # Was: 3 of 8 runs crashed and the others returned wrong results for a
    # quarter of the calls. Now a call that finds the context busy raises, and
    # every call that returns has the right answer.
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((16, 3, 8, 8)).astype(np.float32) for _ in range(2)]
    want = [fp32_engine.create_execution_context().run({"input": x})["logits"] for x in xs]
    ctx = fp32_engine.create_execution_context()
    refused, wrong, errors = [0], [0], []
    start = threading.Barrier(2)

    def worker(i: int) -> None:
        start.wait()
        for _ in range(200):
            try:
                y = ctx.run({"input": xs[i]})["logits"]
            except int8rt.InvalidArgumentError as e:
                if "already running on another thread" not in str(e):
                    errors.append(e)
                refused[0] += 1
                continue
            if not np.array_equal(y, want[i]):
                wrong[0] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and wrong[0] == 0, (errors, wrong[0])
    # One context per thread: never refused.
    assert np.array_equal(fp32_engine.create_execution_context().run({"input": xs[0]})["logits"], want[0])


def test_long_elementwise_chain_lowers_in_linear_time() -> None:
    # Was: 500 chained Relus took 27 s to lower with pointwise tables (each
    # node regrew the region behind it; every growth step rescanned it), and
    # 5,000 did not finish in 120 s. 2,000 now lower like any small network.
    n = 2000
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["input", "w"], ["r0"], kernel_shape=[1, 1])]
    nodes += [helper.make_node("Relu", [f"r{i}"], [f"r{i + 1}"]) for i in range(n)]
    nodes.append(helper.make_node("Conv", [f"r{n}", "w2"], ["y"], kernel_shape=[1, 1]))
    m = model(nodes, [fvi("input", ["N", 3, 4, 4])], [fvi("y", ["N", 2, 4, 4])],
              [init("w", rng.standard_normal((4, 3, 1, 1)).astype(np.float32)),
               init("w2", rng.standard_normal((2, 4, 1, 1)).astype(np.float32))])
    data = rng.standard_normal((4, 3, 4, 4)).astype(np.float32)
    cal = make_calibrator({"input": data}, algorithm="minmax", batch_size=4)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="int8", calibrator=cal))
    assert [layer["op"] for layer in engine.layers()].count("int8rt.QLut") == 1
    fp32 = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run({"input": data})["y"]
    y = engine.run({"input": data})["y"]
    assert np.corrcoef(y.ravel(), fp32.ravel())[0, 1] > 0.99


def test_fuzz_regression_engine_files_are_refused_at_load() -> None:
    # Inputs on which fuzz_engine_file crashed, hung or ran out of memory in
    # layer code (kept as regress-* in the corpus): each is now a FormatError
    # at load, before any run.
    from pathlib import Path
    from engine_bytes import frame
    corpus = Path(__file__).parent / "fuzz" / "corpus" / "engine_file"
    found = sorted(p for p in corpus.glob("regress-*")
                   if p.name.startswith(("regress-conv-f32", "regress-qconv", "regress-softmax")))
    assert len(found) >= 11
    for path in found:
        with pytest.raises(int8rt.FormatError, match="^engine bytes: "):
            int8rt.Engine.deserialize(frame(path.read_bytes()))


# Engines with the layers added since issue 9 (the fuzz corpus's seeds, tests/test_engine_corpus_replay.py's
# NEW_LAYER_SEEDS): FP32 and BF16 channel-blocked regions, u8 codes, QSoftmaxFloat, SE tables, QLutFloat, the
# key-count grid. Input arrays of the wrong dtype, rank or size are refused before any layer runs, naming the input.
def _seed_engine(name: str) -> int8rt.Engine:
    from pathlib import Path
    from engine_bytes import frame
    data = (Path(__file__).parent / "fuzz" / "corpus" / "engine_file" / f"{name}.payload").read_bytes()
    return int8rt.Engine.deserialize(frame(data, version=3))


NEW_LAYER_ENGINES = ["blocked_fp32", "bf16_blocked", "u8codes_int8", "qsoftmax_int8", "se_gate_int8",
                     "out_table_int8", "probs_keys_int8"]
BAD_ARRAYS = {  # name: (make the bad array from a good float32 one, what the message says)
    "int32": (lambda x: x.astype(np.int32), "expected float32, got int32"),
    "uint8": (lambda x: x.astype(np.uint8), "expected float32, got uint8"),
    "float64": (lambda x: x.astype(np.float64), "expected float32, got float64"),
    "bool": (lambda x: x > 0, "expected float32, got bool"),
    "object": (lambda x: x.astype(object), "expected float32"),
    "bytes": (lambda x: x.tobytes(), "expected float32"),
    "flat": (lambda x: x.reshape(-1), "expected shape"),
    "rank+1": (lambda x: x[None], "expected shape"),
    "last dim short": (lambda x: x[..., :-1], "expected shape"),
    "scalar": (lambda x: np.float32(1), "expected shape"),
}


@pytest.mark.parametrize("bad", sorted(BAD_ARRAYS))
@pytest.mark.parametrize("name", NEW_LAYER_ENGINES)
def test_bad_arrays_into_engines_with_new_layers_are_refused(name: str, bad: str) -> None:
    engine = _seed_engine(name)
    (x,) = engine.input_names
    good = np.random.default_rng(0).standard_normal([2 if d == -1 else d for d in engine.tensor_shape(x)])
    make, message = BAD_ARRAYS[bad]
    context = engine.create_execution_context()
    with pytest.raises(int8rt.InvalidArgumentError, match=f"^input '{x}': {message}"):
        context.run({x: make(good.astype(np.float32))})
    with pytest.raises(int8rt.InvalidArgumentError, match=f"missing input '{x}'"):
        context.run({})
    y = context.run({x: good.astype(np.float32)})  # the context is still good after the refusals
    assert all(np.isfinite(v).all() for v in y.values())


@pytest.mark.parametrize("name", NEW_LAYER_ENGINES)
def test_non_finite_and_empty_inputs_into_engines_with_new_layers(name: str) -> None:
    # Legal input: NaN and inf run (no crash, the output has the declared shape); an empty batch gives empty
    # outputs, or, where a Reshape's -1 cannot be resolved from zero elements (the attention), a clear error.
    engine = _seed_engine(name)
    (x,) = engine.input_names
    shape = [2 if d == -1 else d for d in engine.tensor_shape(x)]
    for value in (np.nan, np.inf, -np.inf):
        y = engine.run({x: np.full(shape, value, np.float32)})
        assert all(v.shape[0] == 2 for v in y.values())
    empty = np.zeros([0] + shape[1:], np.float32)
    if name == "probs_keys_int8":
        with pytest.raises(int8rt.InvalidArgumentError, match="node 'q_split' \\(Reshape\\): cannot reshape"):
            engine.run({x: empty})
    else:
        assert all(v.shape[0] == 0 for v in engine.run({x: empty}).values())
