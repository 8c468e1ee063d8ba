"""Seeds for the mutation campaigns that take the engine paths added on 6-7 December 2026.

    PYTHONPATH=python python tools/path_seeds.py --out /tmp/path-seeds
    PYTHONPATH=python python tools/onnx_mutation_campaign.py --extra-seeds /tmp/path-seeds --seeds '*_path' ...
    PYTHONPATH=python python tools/engine_mutation_campaign.py --extra-seeds /tmp/path-seeds --seeds '*_path*' ...
    PYTHONPATH=python python tools/engine_field_campaign.py --extra-seeds /tmp/path-seeds ...

The corpus' seeds (tests/fuzz/corpus, the real networks of tools/onnx_mutation_campaign.py) predate these
paths; each model here is small and takes one of them (docs/reliability.md, the campaign of 7 December):

- longconv_path: a single-channel 256-tap stride-2 Conv1d (C == M == group == 1: Basic Pitch's CQT filters),
  FP32: the float depthwise family's AVX2 phase walk (x86/avx2/dwconv_f32_phases8.cc);
- logfirst_path: x -> Log -> Conv1d -> Relu -> Conv1d, INT8 with the Log and the first Conv kept float32
  (layer_precisions, as auto's float stem keeps them: accuracy/log_stems.py);
- logstem_path: tests/test_auto_log_stem.py's CQT-like front end -> Log -> CNN, INT8 with the stem that
  log_stems finds kept float32;
- convhead_path: tests/test_int8_conv_head.py's PNet head (Conv -> PRelu -> 1x1 Conv -> Transpose -> Reshape),
  INT8: the head writes float32 from its accumulators (engine/lower_int8_conv_head.cc);
- gemmhead_path: tests/test_int8_gemm_head.py's Gemm -> PRelu -> Gemm -> Flatten head, INT8;
- hswish_path: Conv -> HardSwish -> 3x3 Conv -> Relu, INT8: the second conv's input is a few codes below zero,
  the AVX2 shifted u8 tile's case (x86/avx2/igemm_6x16c4a.cc);
- lstmfloat_path: tests/test_auto_recurrent_float.py's two LSTMs, INT8 with both LSTMs kept float32
  (accuracy/recurrent_float.py's candidate).

For each NAME the tool writes NAME.onnx (static input shapes), NAME.payload (the engine's payload, as the
corpus' seeds are) and seed-NAME.cache (the TensorRT cache the INT8 build wrote, which
tools/onnx_mutation_campaign.py reads instead of calibrating on random inputs: a Log of those is NaN).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "tests")]

F32 = np.float32


def _model(nodes: list, inputs: dict[str, list[int]], outputs: dict[str, list[int]],
           arrays: dict[str, np.ndarray]) -> bytes:
    graph = helper.make_graph(nodes, "path_seed",
                              [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in inputs.items()],
                              [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in outputs.items()],
                              [numpy_helper.from_array(v, k) for k, v in arrays.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _static(model: bytes, shapes: dict[str, list[int]]) -> bytes:
    """model with its inputs' symbolic dims replaced by shapes (the campaigns feed declared shapes)."""
    import onnx

    m = onnx.load_from_string(model)
    for i in m.graph.input:
        if i.name in shapes:
            for d, v in zip(i.type.tensor_type.shape.dim, shapes[i.name]):
                d.Clear()
                d.dim_value = v
    return m.SerializeToString()


def _named_lstms(model: bytes) -> tuple[bytes, list[str]]:
    """model with its LSTM nodes named lstm1, lstm2, ... (layer_precisions names layers), and those names."""
    import onnx

    m = onnx.load_from_string(model)
    lstms = [n for n in m.graph.node if n.op_type == "LSTM"]
    for i, n in enumerate(lstms):
        n.name = f"lstm{i + 1}"
    return m.SerializeToString(), [n.name for n in lstms]


def longconv(rng: np.random.Generator) -> bytes:
    w = (np.hanning(256) * np.cos(0.3 * np.arange(256)) / 16).astype(F32).reshape(1, 1, 256)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[256], strides=[2], pads=[127, 128],
                              name="cqt"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return _model(nodes, {"x": [1, 1, 600]}, {"y": [1, 1, 300]}, {"w": w, "b": np.array([0.01], F32)})


def logfirst(rng: np.random.Generator) -> bytes:
    arrays = {"w1": (rng.standard_normal((16, 8, 3)) / 5).astype(F32), "b1": (rng.standard_normal(16) / 10).astype(F32),
              "w2": (rng.standard_normal((4, 16, 3)) / 7).astype(F32)}
    nodes = [helper.make_node("Log", ["x"], ["l"], name="log"),
             helper.make_node("Conv", ["l", "w1", "b1"], ["h"], kernel_shape=[3], pads=[1, 1], name="conv1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w2"], ["y"], kernel_shape=[3], pads=[1, 1], name="conv2")]
    return _model(nodes, {"x": [1, 8, 32]}, {"y": [1, 4, 32]}, arrays)


def hswish(rng: np.random.Generator) -> bytes:
    arrays = {"w1": (rng.standard_normal((16, 3, 3, 3)) / 3).astype(F32), "b1": (rng.standard_normal(16) / 4).astype(F32),
              "w2": (rng.standard_normal((24, 16, 3, 3)) / 12).astype(F32)}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("HardSwish", ["h"], ["s"], name="hswish"),
             helper.make_node("Conv", ["s", "w2"], ["c"], pads=[1, 1, 1, 1], name="conv2"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return _model(nodes, {"x": [1, 3, 10, 11]}, {"y": [1, 24, 10, 11]}, arrays)


def models() -> dict[str, tuple[bytes, dict[str, np.ndarray] | None, dict[str, str]]]:
    """NAME -> (ONNX bytes, calibration data (None: an FP32 engine), layer_precisions)."""
    import test_auto_log_stem as log_stem
    import test_auto_recurrent_float as recurrent
    import test_int8_conv_head as conv_head
    import test_int8_gemm_head as gemm_head
    from int8rt import _core
    from int8rt.accuracy import log_stems
    from int8rt.builder import _to_network

    rng = np.random.default_rng(7)
    spectro = _static(log_stem._spectro_model(), {"x": [1, log_stem.L]})
    stem = [n for chain in log_stems.log_stems(_core.Builder(_to_network(spectro, None), "int8")
                                               .optimized_network()).values() for n in chain]
    lstm, lstm_names = _named_lstms(_static(recurrent._two_lstm_model(1.0, 1.0), {"x": [1, recurrent.T, recurrent.F]}))
    return {
        "longconv_path": (longconv(rng), None, {}),
        "logfirst_path": (logfirst(rng), {"x": rng.uniform(0.01, 4.0, (16, 8, 32)).astype(F32)},
                          {"log": "fp32", "conv1": "fp32"}),
        "logstem_path": (spectro, {"x": log_stem._audio(16, rng)}, {n: "fp32" for n in stem}),
        "convhead_path": (_static(conv_head._model("moves"), {"x": [1, 3, 12, 12]}), conv_head.CALIB, {}),
        "gemmhead_path": (_static(gemm_head._model("flatten"), {"x": [1, 16]}), gemm_head.CALIB, {}),
        "hswish_path": (hswish(rng), {"x": rng.standard_normal((16, 3, 10, 11)).astype(F32)}, {}),
        "lstmfloat_path": (lstm, {"x": rng.standard_normal((16, recurrent.T, recurrent.F)).astype(F32)},
                           {n: "fp32" for n in lstm_names}),
    }


def build(model: bytes, calib: dict[str, np.ndarray] | None, precisions: dict[str, str], cache: Path) -> Any:
    """The engine: FP32 without calibration data, else INT8 from MinMax over it, its cache written to
    `cache` (replaced: an existing cache would be read instead of calibrating)."""
    import int8rt

    if calib is None:
        return int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    cache.unlink(missing_ok=True)
    calibrator = int8rt.make_calibrator(calib, algorithm="minmax", batch_size=1, cache_file=str(cache))
    return int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8", calibrator=calibrator,
                                                           accuracy_check=False, layer_precisions=precisions))


def write_seeds(out: Path) -> list[str]:
    """Writes every seed's files into out; returns a line per seed (its name and layers' ops)."""
    from engine_bytes import payload

    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, (model, calib, precisions) in models().items():
        engine = build(model, calib, precisions, out / f"seed-{name}.cache")
        (out / f"{name}.onnx").write_bytes(model)
        (out / f"{name}.payload").write_bytes(payload(engine.serialize()))
        lines.append(f"{name}: " + " ".join(layer["op"] for layer in engine.layers()))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    for line in write_seeds(ap.parse_args().out):
        print(line)


if __name__ == "__main__":
    main()
