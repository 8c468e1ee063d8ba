"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/, committed).

    PYTHONPATH=python python tools/make_fuzz_corpus.py                # everything
    PYTHONPATH=python python tools/make_fuzz_corpus.py --only scan_fp32 nested_if_in_loop_fp32

engine_file/: the payloads (the file after its 32-byte header) of small
engines built from tests/onnx_models.py, FP32 and INT8, and of engines that
hold the newer layers (new_layer_engines, from the tests' own networks:
channel-blocked FP32 and BF16 regions, u8 codes, QSoftmaxFloat, SE tables,
QLutFloat, the key-count grid; bf16_region_engines: the BF16 FPN moves, the
SE residual scale, the one-pixel batch GEMM, the float-image stem, the float
chain as one call), and of FP32 engines with subgraphs
(control_flow_engines: an If inside a Loop, a Scan; format 3);
fuzz_engine_file frames a payload with a valid header and checksum. Plus one whole file to seed the header checks. network_codec/: the network part of those payloads
(after target, tuned ISA and metadata). cache/: the calibration caches of
tests/data and of the INT8 builds. Files named regress-* (inputs of crashes
found and fixed, replayed by every fuzz run) are kept. engine.dict: a libFuzzer dictionary for
fuzz_engine_file and fuzz_network_codec (-dict=): op and attribute names as
the codec writes strings, and 64- and 32-bit values at the edges of what
sizes, pads and dilations hold. The files are regenerated, not edited; a
change of the engine format means running this again. --only NAME ...
rewrites those seeds (and the dictionary) and leaves every other file as it
is. The builds are deterministic: the same int8rt writes the same bytes
(tests/test_engine_corpus_replay.py checks the control-flow seeds against
the committed ones).
"""
from __future__ import annotations

import argparse
import struct
import tempfile
import sys
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import int8rt  # noqa: E402
import onnx_models  # noqa: E402  (tests/onnx_models.py)
from test_f32_blocked_dense import conv_node  # noqa: E402
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
    out.update(new_layer_engines())
    out.update(bf16_region_engines())
    out.update(session27_engines())
    out.update(control_flow_engines())
    return out


def control_flow_engines() -> dict[str, tuple[int8rt.Engine, bytes]]:
    """FP32 engines whose layers hold subgraphs (engine format 3): the If inside a Loop that reads values two
    scopes out, and the backwards Scan with a captured input, of tests/test_onnx_control_flow.py."""
    import test_onnx_control_flow as flow  # noqa: PLC0415  (tests/: needs onnxruntime, as the tests do)

    # No convs to block: channel_blocked off keeps the report (and so the bytes) the same under every ISA cap (on,
    # a cap below avx512 adds "channel-blocked: not applied ..." to the engine's report).
    fp32 = int8rt.BuilderConfig(precision="fp32", channel_blocked=False)
    return {"nested_if_in_loop_fp32": (int8rt.build_engine(flow.nested_model(), fp32), b""),
            "scan_fp32": (int8rt.build_engine(flow.scan_model(), fp32), b"")}


def blocked_net() -> onnx.ModelProto:
    """A GoogLeNet-shaped FP32 body small enough for a seed: 1x1 and 3x3 convs, a MaxPool, a Concat of two
    16-channel branches and a ceil-mode AveragePool, then a 1x1 conv and the global pool; built with
    channel_blocked=True it holds int8rt.Concat16c, int8rt.AveragePool16c and the blocked convs and MaxPool."""
    rng, inits = np.random.default_rng(13), []
    node = onnx.helper.make_node
    nodes = [conv_node(rng, inits, "a", "x", 4, 16, (1, 1), bias=True), node("Relu", ["a"], ["ar"]),
             conv_node(rng, inits, "b", "ar", 16, 16, (3, 3), pads=[1, 1, 1, 1]), node("Relu", ["b"], ["br"]),
             node("MaxPool", ["ar"], ["p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], ceil_mode=1),
             node("Concat", ["br", "p"], ["cat"], axis=1),
             node("AveragePool", ["cat"], ["avg"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                  ceil_mode=1, count_include_pad=0),
             conv_node(rng, inits, "c", "avg", 32, 16, (1, 1)), node("Relu", ["c"], ["cr"]),
             node("GlobalAveragePool", ["cr"], ["y"])]
    return onnx_models.model(nodes, [onnx_models.fvi("x", ["N", 4, 7, 7])], [onnx_models.fvi("y", ["N", 16, 1, 1])],
                             inits, opset=13)


def new_layer_engines() -> dict[str, tuple[int8rt.Engine, bytes]]:
    """Engines holding the layers and records of RESULTS.md sections 137-140 and 148: FP32 channel-blocked
    regions (Concat16c, AveragePool16c), u8 codes between int8 convs, int8rt.QSoftmaxFloat, per-channel
    squeeze-and-excitation tables (QChannelMul) and an output table (QLutFloat), a BF16 channel-blocked region,
    and an attention whose probabilities carry the key-count grid (probs_keys.h). Built from the tests' own
    small networks."""
    import test_attention_probs_keys as keys  # noqa: PLC0415  (tests/: each imports its peers)
    import test_float_chain as chain  # noqa: PLC0415
    import test_int8_softmax_output as softmax  # noqa: PLC0415
    import test_pointwise_tables as tables  # noqa: PLC0415
    import test_se_gates as gates  # noqa: PLC0415
    import test_u8_codes as u8  # noqa: PLC0415
    from test_bf16_blocked import _block_model  # noqa: PLC0415

    fp32 = int8rt.BuilderConfig(precision="fp32", channel_blocked=True)
    tmp = tempfile.mkdtemp()
    rng = np.random.default_rng(17)
    u8_calib = int8rt.make_calibrator({"x": rng.standard_normal((8, 3, 18, 18)).astype(np.float32)},
                                      algorithm="auto", batch_size=8)
    builder, scales = keys.calibrated(keys.dynamic_attention())
    out = {
        "blocked_fp32": int8rt.build_engine(blocked_net(), fp32),
        "bf16_blocked": int8rt.build_engine(_block_model(5, 12, 7, pool=True, hw=(5, 5)),
                                            int8rt.BuilderConfig(precision="fp32", bf16=True, channel_blocked=True)),
        "u8codes_int8": int8rt.build_engine(u8.resnet_like(), int8rt.BuilderConfig(
            calibrator=u8_calib, accuracy_check=False, progress=False)),
        "qsoftmax_int8": softmax.build(softmax.head(10)),
        "se_gate_int8": tables.build(gates.se_block()),
        "out_table_int8": tables.build(gates.sigmoid_head(2)),
        "probs_keys_int8": int8rt.Engine(builder.build(scales)),
        # a float conv's fused element-wise chain (RESULTS.md section 147), in an FP32 and a mixed engine
        "float_chain_fp32": chain._build(chain._model(Path(tmp) / "chain.onnx"), precision="fp32"),
        "float_chain_mixed": chain._build(chain._model(Path(tmp) / "chain.onnx"), layer_precisions={"conv1": "fp32"}),
    }
    return {name: (engine, b"") for name, engine in out.items()}



def bf16_region_engines() -> dict[str, tuple[int8rt.Engine, bytes]]:
    """Engines holding the layers of RESULTS.md sections 265, 267 and 268, from their tests' own networks at
    small sizes: PP-OCR det's FPN in the BF16 channel-blocked region (int8rt.AddBf16x16c,
    ResizeNearestBf16x16c, ConcatBf16x16c with lanes moved across blocks), the SE residual fused into
    int8rt.ChannelScaleBf16x16c (its third input), the BF16 1x1 convs over one-pixel images as one GEMM over
    the batch (conv_f32_pixels_bf16.cc), the stem reading the float image (conv_stem_f32_bf16.cc), and
    PP-OCR rec's float chain as one binary_f32 chain call (float_chain.cc)."""
    import test_ocrdet23_bf16_fpn as fpn  # noqa: PLC0415  (tests/: each imports its peers)
    import test_ocrrec23_float_chain_tiers as tiers  # noqa: PLC0415
    import test_se23_pixels_bf16 as pixels  # noqa: PLC0415
    import test_se23_stem_f32 as stem  # noqa: PLC0415

    tmp = Path(tempfile.mkdtemp())
    bf16 = int8rt.BuilderConfig(precision="fp32", bf16=True, channel_blocked=True)

    def build(name: str, onnx_bytes: bytes, config: int8rt.BuilderConfig = bf16) -> int8rt.Engine:
        (tmp / f"{name}.onnx").write_bytes(onnx_bytes)
        return int8rt.build_engine(str(tmp / f"{name}.onnx"), config)

    out = {
        "bf16_fpn_moves": build("fpn", fpn._fpn_model(hw=(4, 6), cat=(19, 24, 16, 7), add=True)),
        "bf16_se_residual": build("rse", fpn._se_residual_model((3, 5), swap=False, m_out=False)),
        "bf16_se_pixels": build("se", pixels._fc_model(40, 10, "Relu", False, [1, 1], seed=3),
                                int8rt.BuilderConfig(precision="fp32", bf16=True)),
        "bf16_stem_f32": build("stem", stem._stem_model(3, 16, (9, 7))),
        "float_chain_ppocr_fp32": int8rt.build_engine(
            str(tiers._model(tmp / "chain.onnx", tiers.CHAINS["ppocr"], (1, 3, 5, 3, 5), z_out=False)),
            int8rt.BuilderConfig(precision="fp32")),
    }
    return {name: (engine, b"") for name, engine in out.items()}


def session27_engines() -> dict[str, tuple[int8rt.Engine, bytes]]:
    """Engines holding the layers of RESULTS.md sections 277-279 and 281, from their tests' own networks at small
    sizes: CaiT's talking-heads attention in INT8 (int8rt.QAttention with scores_head_mix / probs_head_mix,
    head_mix.h), the BF16 LSTM (an LSTM node with int8rt_precision "bf16", rnn_bf16_gemms.h), int8rt.QLSTM with
    an initial_h calibrated to 0 (its recurrent GEMM in int8, lower_int8_rnn.cc) and grouped BF16 blocked convs
    (int8rt.ConvBf16x16c) of whole 16-channel blocks and of 8 / 4 / 2 channels."""
    import test_cait27_talking_heads as cait  # noqa: PLC0415  (tests/: each imports its peers)
    import test_gconv27_grouped_blocked as gconv  # noqa: PLC0415
    import test_lstmb27_bf16_lstm as lstmb  # noqa: PLC0415
    import test_lstmq27_cell as lstmq  # noqa: PLC0415
    from test_int8_rnn import _Cache, make_inputs  # noqa: PLC0415

    rng = np.random.default_rng(27)
    tmp = Path(tempfile.mkdtemp())
    batches = [{"x": rng.standard_normal((1, 5, 32)).astype(np.float32)} for _ in range(2)]
    ins = lstmb.lstm_inputs(np.random.default_rng(5), T=3, B=1, I=6, H=4, dirs=2, initial=True)
    q_ins = make_inputs(np.random.default_rng(9), "LSTM", T=3, B=2, I=5, H=3, dirs=1, layout=0, initial=False,
                        lens=False)
    bf16 = int8rt.BuilderConfig(precision="fp32", bf16=True, channel_blocked=True)

    def grouped(name: str, groups: tuple) -> int8rt.Engine:
        (tmp / f"{name}.onnx").write_bytes(gconv._model(groups, 1, 1, 1, True, False, c_in=5, c_out=6, hw=(4, 3),
                                                        mid=32))
        return int8rt.build_engine(str(tmp / f"{name}.onnx"), bf16)

    out = {
        "cait27_heads_int8": int8rt.build_engine(cait.cait_attention_model(1, 5).SerializeToString(),
                                                 int8rt.BuilderConfig(calibrator=batches, accuracy_check=False)),
        "lstmb27_bf16": int8rt.build_engine(lstmb.lstm_model(ins, {"hidden_size": 4, "direction": "bidirectional"}),
                                            int8rt.BuilderConfig(precision="fp32", bf16=True)),
        "lstmq27_h0_zero_int8": int8rt.build_engine(lstmq._model_with_h0_input(q_ins, 3), int8rt.BuilderConfig(
            calibrator=_Cache({"x": 0.02, "y": 0.006, "h0": 0.0}), accuracy_check=False)),
        "gconv27_blocks_bf16": grouped("blocks", (2, 2)),  # 2 groups of 16 channels: whole blocks
        "gconv27_narrow_bf16": grouped("narrow", (4, 16)),  # groups of 8, then of 2 channels
    }
    return {name: (engine, b"") for name, engine in out.items()}


# Ops and attributes a mutation may swap in (the lowered ops of lower_int8.h and common float ones).
DICT_OPS = ["Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "Concat", "Reshape", "Slice", "Resize", "Pad",
            "Transpose", "Split", "Softmax", "ConvTranspose", "int8rt.Quantize", "int8rt.Dequantize", "int8rt.QConv",
            "int8rt.QGemm", "int8rt.QMaxPool", "int8rt.QAveragePool", "int8rt.QGlobalAveragePool", "int8rt.QAdd",
            "int8rt.QConcat", "int8rt.QLut", "int8rt.QChannelMul", "int8rt.QFlatten", "int8rt.QLutFloat",
            "int8rt.QSoftmaxFloat", "int8rt.QAttention", "int8rt.ToNCHW16c", "int8rt.Concat16c",
            "int8rt.AveragePool16c", "int8rt.MaxPool16c", "int8rt.GlobalAveragePool16c", "int8rt.ToBf16x16c",
            "int8rt.ConvBf16x16c", "int8rt.GlobalAveragePoolBf16x16c", "int8rt.FromBf16x16c",
            "int8rt.AddBf16x16c", "int8rt.ResizeNearestBf16x16c", "int8rt.ConcatBf16x16c",
            "int8rt.ChannelScaleBf16x16c", "If", "Loop", "Scan", "LSTM", "int8rt.QLSTM"]
DICT_ATTRS = ["pads", "strides", "dilations", "kernel_shape", "group", "axis", "axes", "perm", "split", "starts",
              "ends", "in_scale", "out_scale", "w_scales", "act", "output_padding", "output_shape", "ceil_mode",
              "count_include_pad", "channels", "int8rt_layout", "int8rt_activation", "int8rt_clip_min",
              "int8rt_clip_max", "int8rt_residual", "int8rt_precision", "in_zero_point", "out_zero_point",
              "residual_scale", "residual_zero_point", "probs_calibrated_keys", "probs_scale", "k_transposed",
              "int8rt_chain", "int8rt_chain_values", "then_branch", "else_branch", "body", "num_scan_inputs",
              "scan_input_axes", "scan_input_directions", "scan_output_axes", "scan_output_directions", "src_y", "src_x",
              # session 27's layers: talking heads (head_mix.h), the BF16 LSTM and int8rt.QLSTM
              "scores_head_mix", "probs_head_mix", "q_scale", "k_scale", "v_scale", "hidden_size", "direction",
              "x_scale", "h_scale", "r_scales"]
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


def seed_files(name: str, engine: int8rt.Engine) -> dict[str, bytes]:
    """The corpus files of one engine seed, by path under CORPUS: its payload and its network section."""
    payload = engine.serialize()[HEADER:]
    return {f"engine_file/{name}.payload": payload, f"network_codec/{name}.net": network_part(payload)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="rewrite only these seeds (control-flow seeds: built alone, in seconds)")
    args = parser.parse_args()
    dirs = {k: CORPUS / k for k in ("engine_file", "network_codec", "cache")}
    if args.only:
        flow = control_flow_engines()
        built = flow if set(args.only) <= set(flow) else None
        if built is None:  # the session-27 seeds alone take seconds too
            built = session27_engines()
            built = built if set(args.only) <= set(built) else engines()
        unknown = sorted(set(args.only) - set(built))
        if unknown:
            parser.error(f"no seed named {', '.join(unknown)} (seeds: {', '.join(sorted(built))})")
        for name in args.only:
            for rel, data in seed_files(name, built[name][0]).items():
                (CORPUS / rel).write_bytes(data)
        write_dict(CORPUS.parent / "engine.dict")
        print(f"wrote the seeds {', '.join(args.only)} and the dictionary under {CORPUS}")
        return
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
        for f in d.iterdir():
            if not f.name.startswith("regress-"):  # inputs of fixed crashes stay
                f.unlink()
    built = engines()
    for name, (engine, cache) in built.items():
        for rel, data in seed_files(name, engine).items():
            (CORPUS / rel).write_bytes(data)
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
