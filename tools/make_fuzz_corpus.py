"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/, committed).

    PYTHONPATH=python python tools/make_fuzz_corpus.py

engine_file/: the payloads (the file after its 32-byte header) of small
engines built from tests/onnx_models.py, FP32 and INT8 (fuzz_engine_file
frames a payload with a valid header and checksum), plus one whole file to
seed the header checks. network_codec/: the network part of those payloads
(after target, tuned ISA and metadata). cache/: the calibration caches of
tests/data and of the INT8 builds. Files named regress-* (inputs of crashes
found and fixed, replayed by every fuzz run) are kept. engine.dict: a libFuzzer dictionary for
fuzz_engine_file and fuzz_network_codec (-dict=): op and attribute names as
the codec writes strings, and 64- and 32-bit values at the edges of what
sizes, pads and dilations hold. The files are regenerated, not edited; a
change of the engine format means running this again.
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import int8rt  # noqa: E402
import onnx_models  # noqa: E402  (tests/onnx_models.py)
from int8rt.data_calibrator import make_calibrator  # noqa: E402

CORPUS = ROOT / "tests" / "fuzz" / "corpus"
HEADER = 32


def network_part(payload: bytes) -> bytes:
    """The payload without target, tuned ISA and metadata (engine_file.h's layout)."""
    pos = 0

    def skip_str() -> None:
        nonlocal pos
        (n,) = struct.unpack_from("<Q", payload, pos)
        pos += 8 + n

    skip_str()
    skip_str()
    (n_meta,) = struct.unpack_from("<Q", payload, pos)
    pos += 8
    for _ in range(2 * n_meta):
        skip_str()
    return payload[pos:]


def residual_net() -> onnx.ModelProto:
    """Conv -> Relu, two Conv branches added and concatenated, HardSwish, pools, Gemm: int8 Conv, Add,
    Concat, table (QLut), AveragePool, GlobalAveragePool and Gemm layers once lowered."""
    rng = np.random.default_rng(11)
    h, init, fvi = onnx.helper, onnx_models.init, onnx_models.fvi

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.3).astype(np.float32)

    inits = [init("w0", w(4, 2, 3, 3)), init("w1", w(4, 4, 1, 1)), init("w2", w(4, 4, 3, 3)),
             init("fc", w(8, 3)), init("fcb", w(3))]
    nodes = [
        h.make_node("Conv", ["x", "w0"], ["c0"], name="conv0", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c0"], ["r0"], name="relu0"),
        h.make_node("Conv", ["r0", "w1"], ["c1"], name="conv1", kernel_shape=[1, 1]),
        h.make_node("Conv", ["r0", "w2"], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        h.make_node("Add", ["c1", "c2"], ["sum"], name="add"),
        h.make_node("HardSwish", ["sum"], ["hs"], name="hswish"),
        h.make_node("Concat", ["hs", "r0"], ["cat"], name="concat", axis=1),
        h.make_node("AveragePool", ["cat"], ["avg"], name="avgpool", kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("GlobalAveragePool", ["avg"], ["gap"], name="gap"),
        h.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        h.make_node("Gemm", ["flat", "fc", "fcb"], ["y"], name="fc"),
    ]
    return onnx_models.model(nodes, [fvi("x", ["N", 2, 6, 6])], [fvi("y", ["N", 3])], inits)


def engines() -> dict[str, tuple[int8rt.Engine, bytes]]:
    """name -> (engine, calibration cache or b"")."""
    rng = np.random.default_rng(7)
    models = {"conv": onnx_models.conv_net(), "unary": onnx_models.unary_chain(), "block": onnx_models.block_net(),
              "residual": residual_net()}
    shapes = {"conv": (3, 8, 8), "unary": (4, 5, 3), "block": (4, 9, 9), "residual": (2, 6, 6)}
    out = {}
    for name, model in models.items():
        out[f"{name}_fp32"] = (int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")), b"")
        shape = shapes[name]
        if shape is None:
            continue
        caches: list[bytes] = []
        calib = make_calibrator({model.graph.input[0].name: rng.standard_normal((16, *shape)).astype(np.float32)},
                                batch_size=8)
        calib.write_calibration_cache = caches.append  # keep the cache in memory
        engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8", calibrator=calib))
        out[f"{name}_int8"] = (engine, caches[0] if caches else b"")
    return out


# Ops and attributes a mutation may swap in (the lowered ops of lower_int8.h and common float ones).
DICT_OPS = ["Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "Concat", "Reshape", "Slice", "Resize", "Pad",
            "Transpose", "Split", "Softmax", "ConvTranspose", "int8rt.Quantize", "int8rt.Dequantize", "int8rt.QConv",
            "int8rt.QGemm", "int8rt.QMaxPool", "int8rt.QAveragePool", "int8rt.QGlobalAveragePool", "int8rt.QAdd",
            "int8rt.QConcat", "int8rt.QLut", "int8rt.QChannelMul", "int8rt.QFlatten"]
DICT_ATTRS = ["pads", "strides", "dilations", "kernel_shape", "group", "axis", "axes", "perm", "split", "starts",
              "ends", "in_scale", "out_scale", "w_scales", "act", "output_padding", "output_shape"]
DICT_I64 = [0, 1, -1, 2, 255, 256, 65536, 2**24 + 1, 2**31 - 1, 2**31, 2**32, 2**58 + 1, 2**62 + 1, 2**63 - 1,
            -(2**63)]
DICT_I32 = [-1, 2**31 - 1, -(2**31)]


def write_dict(path: Path) -> None:
    def esc(b: bytes) -> str:
        return "".join(f"\\x{c:02x}" for c in b)

    lines = ["# libFuzzer dictionary for fuzz_engine_file / fuzz_network_codec (tools/make_fuzz_corpus.py)"]
    for name in DICT_OPS + DICT_ATTRS:
        lines.append(f'str_{name.replace(".", "_")}="{esc(struct.pack("<Q", len(name)) + name.encode())}"')
    for v in DICT_I64:
        lines.append(f'i64_{v & 0xFFFFFFFFFFFFFFFF:x}="{esc(struct.pack("<q", v))}"')
    for v in DICT_I32:
        lines.append(f'i32_{v & 0xFFFFFFFF:x}="{esc(struct.pack("<i", v))}"')
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    dirs = {k: CORPUS / k for k in ("engine_file", "network_codec", "cache")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
        for f in d.iterdir():
            if not f.name.startswith("regress-"):  # inputs of fixed crashes stay
                f.unlink()
    built = engines()
    for name, (engine, cache) in built.items():
        data = engine.serialize()
        (dirs["engine_file"] / f"{name}.payload").write_bytes(data[HEADER:])
        (dirs["network_codec"] / f"{name}.net").write_bytes(network_part(data[HEADER:]))
        if cache:
            (dirs["cache"] / f"{name}.cache").write_bytes(cache)
    (dirs["engine_file"] / "conv_fp32.engine").write_bytes(built["conv_fp32"][0].serialize())
    for f in sorted((ROOT / "tests" / "data").glob("cache_*.txt")):
        (dirs["cache"] / f.name).write_bytes(f.read_bytes())
    write_dict(CORPUS.parent / "engine.dict")
    total = sum(f.stat().st_size for d in dirs.values() for f in d.iterdir())
    print(f"wrote {sum(1 for d in dirs.values() for _ in d.iterdir())} files, {total} bytes, under {CORPUS}")


if __name__ == "__main__":
    main()
