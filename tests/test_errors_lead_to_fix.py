"""Errors that lead to the fix: unknown layer names name the closest match,
every BuilderConfig option has a CLI flag, messages carry no Python quoting,
a shape mismatch names the option that fixes it, and every FP32 layer in
`int8rt inspect` says why it is FP32."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt.cli import _parser, main
from int8rt.data_calibrator import make_calibrator
from int8rt.quickstart import DATA_PATH, MODEL_PATH


@pytest.fixture(scope="module")
def calib_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "calib.npz"
    np.savez(path, input=np.load(DATA_PATH)["calib"][:64])
    return path


def _calib(n: int = 32, batch_size: int = 16) -> object:
    return make_calibrator({"input": np.load(DATA_PATH)["calib"][:n]}, batch_size=batch_size)


def test_unknown_layer_names_the_closest_match(tmp_path: Path, calib_npz: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = int8rt.BuilderConfig(calibrator=_calib(), layer_precisions={"/res2/res2.0/Conv2": "fp32"})
    with pytest.raises(int8rt.InvalidArgumentError, match=r"names no layer '/res2/res2.0/Conv2' of the model "
                                                          r"\(did you mean '/res2/res2.0/Conv'\?\)"):
        int8rt.build_engine(MODEL_PATH, config)
    out = tmp_path / "m.i8rt"
    assert main(["build", str(MODEL_PATH), "--calib-data", str(calib_npz), "--fp32-layers", "/no/such/Conv",
                 "-q", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "--fp32-layers" in err and "names no layer '/no/such/Conv'" in err
    assert not out.exists()
    with pytest.raises(int8rt.InvalidArgumentError, match=r"did you mean '/fc/Gemm'"):
        int8rt.export_qdq(MODEL_PATH, {"input": 0.01}, tmp_path / "q.onnx", fp32_layers=["/fc/gemm"])


# BuilderConfig field -> the `int8rt build` flag that sets it. A new field
# without a flag fails this test.
CLI_FLAGS = {
    "precision": "--precision", "calibrator": "--calib-data", "layer_precisions": "--fp32-layers",
    "device": "--device", "max_isa": "--max-isa", "num_threads": "--threads", "optimize": "--no-optimize",
    "pointwise_tables": "--no-pointwise-tables", "int8_gates": "--no-int8-gates", "progress": "--quiet",
    "int8_matmul_pairs": "--no-int8-matmul-pairs",
    "batch_size": "--static-batch", "input_shapes": "--shapes", "distributed": "--ray",
    "accuracy_check": "--no-accuracy-check",
    "holdout_every": "--holdout-every", "bias_correction": "--bias-correction",
    "accuracy_target": "--accuracy-target", "accuracy_bf16": "--accuracy-fp32", "bf16": "--bf16",
    "equalize": "--equalize",
    "smoothquant": "--smoothquant", "smoothquant_alpha": "--smoothquant-alpha",
    "unsigned_activations": "--unsigned-activations", "asymmetric_activations": "--asymmetric-activations",
    "channel_activations": "--channel-activations", "channels_last": "--channels-last",
    "channel_blocked": "--channel-blocked", "calibration_groups": "--calibration-groups",
    "auto_parts": "--auto-parts",
    # a Python callable: the CLI's --accuracy-target always uses the centred cosine
    "accuracy_metric": "--accuracy-target",
}


def test_every_builder_option_has_a_flag() -> None:
    fields = {f.name for f in dataclasses.fields(int8rt.BuilderConfig)}
    assert fields == set(CLI_FLAGS), f"BuilderConfig fields without a CLI flag here: {fields - set(CLI_FLAGS)}"
    build = next(a for a in _parser()._subparsers._group_actions[0].choices.items() if a[0] == "build")[1]
    flags = {s for action in build._actions for s in action.option_strings}
    missing = [flag for flag in [*CLI_FLAGS.values(), "--nonfinite", "--policy", "--num-bins", "--calibrator"]
               if flag not in flags]
    assert not missing, f"int8rt build lacks {missing}"


def test_nonfinite_skip_and_gate_flags_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.load(DATA_PATH)["calib"][:32].copy()
    x[3, 0, 2, 2] = np.nan
    npz = tmp_path / "nan.npz"
    np.savez(npz, input=x)
    out = tmp_path / "m.i8rt"
    assert main(["build", str(MODEL_PATH), "--calib-data", str(npz), "-q", "-o", str(out)]) == 1
    assert "int8rt build --nonfinite skip" in capsys.readouterr().err  # the error names the flag...
    assert main(["build", str(MODEL_PATH), "--calib-data", str(npz), "--nonfinite", "skip", "--no-int8-gates",
                 "--no-pointwise-tables", "--policy", "power_of_two", "--num-bins", "1024", "-q",
                 "-o", str(out)]) == 0  # ...and the flag exists
    assert int8rt.Engine.load(out).precision == "int8"


def test_messages_carry_no_python_quoting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    npz = tmp_path / "bad_key.npz"
    np.savez(npz, images=np.zeros((4, 1, 8, 8), np.float32))
    assert main(["build", str(MODEL_PATH), "--calib-data", str(npz), "-q", "-o", str(tmp_path / "m.i8rt")]) == 1
    err = capsys.readouterr().err
    assert err == "int8rt build: error: bad_key.npz has no array named 'input' (it has: images)\n"


def test_static_batch_mismatch_names_the_fix(tmp_path: Path, calib_npz: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = int8rt.BuilderConfig(calibrator=_calib(32, 16), batch_size=1)  # the batch axis fixed at 1
    with pytest.raises(int8rt.InvalidArgumentError, match=re.escape(
            "shape [16, 1, 8, 8], but the model's batch axis is fixed at 1 (shape [1, 1, 8, 8]): calibrate in "
            "batches of 1 (int8rt build --batch-size 1; make_calibrator(..., batch_size=1))")):
        int8rt.build_engine(MODEL_PATH, config)
    assert main(["build", str(MODEL_PATH), "--calib-data", str(calib_npz), "--static-batch", "1", "-q",
                 "-o", str(tmp_path / "m.i8rt")]) == 1
    assert "int8rt build --batch-size 1" in capsys.readouterr().err
    assert main(["build", str(MODEL_PATH), "--calib-data", str(calib_npz), "--static-batch", "1", "--batch-size",
                 "1", "-q", "-o", str(tmp_path / "m.i8rt")]) == 0
    wrong = make_calibrator({"input": np.zeros((16, 1, 9, 9), np.float32)}, batch_size=16)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"shape \[16, 1, 9, 9\], but the model takes "
                                                          r"\[-1, 1, 8, 8\] \(-1: any size\).*--size H W"):
        int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=wrong))


def _model_with_float_tail(path: Path) -> None:
    """Conv -> Relu -> Resize (linear) -> Conv -> Softmax: a Softmax over the
    channel axis of a rank-4 tensor has no int8 form (int8rt.QSoftmaxFloat takes
    rows along the last axis, lower_int8_softmax.cc); with conv1 kept in float32 the Resize's input is float32, so it stays
    float too; the second Conv then reads a float32 tensor it could quantize."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((3, 4, 3, 3)).astype(np.float32), "w2")
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Resize", ["r1", "", "scales"], ["up"], name="resize", mode="linear"),
        helper.make_node("Conv", ["up", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Softmax", ["c2"], ["probs"], name="softmax", axis=1),
    ]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])]
    outputs = [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3, 16, 16])]
    graph = helper.make_graph(nodes, "float_tail", inputs, outputs, [w1, w2, scales])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def test_inspect_gives_every_fp32_layer_its_reason(tmp_path: Path, calib_npz: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "tail.onnx"
    _model_with_float_tail(model)
    engine = tmp_path / "tail.i8rt"
    assert main(["build", str(model), "--calib-data", str(calib_npz), "--fp32-layers", "conv1", "-q",
                 "-o", str(engine)]) == 0
    capsys.readouterr()
    assert main(["inspect", str(engine)]) == 0
    lines = capsys.readouterr().out.splitlines()
    fp32 = [i for i, line in enumerate(lines) if re.match(r"^  \S+\s+\S+\s+fp32\s", line)]
    assert fp32, "\n".join(lines)
    for i in fp32:
        assert "why fp32: " in lines[i + 1], f"no reason under {lines[i]!r}"
    text = "\n".join(lines)
    assert "why fp32: kept in FP32 as asked" in text                          # conv1, by --fp32-layers
    assert "why fp32: its input 'r1' is float32 here" in text                 # the resize, behind conv1
    assert "why fp32: this form of Softmax (its shape, axis or attributes) has no int8 kernel" in text
    layers = {layer["name"]: layer["precision"] for layer in int8rt.Engine.load(engine).layers()}
    assert layers.get("conv2") == "int8"  # the float32 input is quantized in front of it
