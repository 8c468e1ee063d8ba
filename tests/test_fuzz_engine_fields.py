"""The engine-file fields of the BF16 paths under mutation (tools/engine_field_campaign.py, RESULTS.md 216):
bfloat16 tensors between Linear MatMuls, int8rt.ToBf16, int8rt.Bf16Attention's bfloat16 context, the
channel-blocked stem's int8rt_f32_input flag on NCHW16c bfloat16 tensors, and INT8 layers packed for AMX
at load. Every mutated payload loads and runs, or is refused with int8rt.FormatError naming the bytes
(load) / an int8rt.Error with a message (run); no crash, hang or other exception, in a worker process.

Default run: 300 of the ~16,000 field mutations (seed 1), each under one of the CPU's BF16 tiers.
Slow (``-m slow``): all of them, then random mutations for INT8RT_FUZZ_LONG_SECONDS (default 300).
Under tools/sanitize_tests.sh the worker inherits the preloaded sanitizers: a sanitized campaign.
"""
from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from engine_field_layout import Layout, field_mutations  # noqa: E402


def _campaign(out: Path, *args: str, timeout: float) -> str:
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "engine_field_campaign.py"), "--out", str(out), *args],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"kept in {out}:\n{r.stdout[-6000:]}\n{r.stderr[-4000:]}"
    return r.stdout


def test_layout_parses_every_field() -> None:
    """The parser walks a seed to its end (it asserts so) and finds its nodes' ops, the bfloat16 tensor
    of int8rt.ToBf16 and every kind of mutation, none of which leaves the payload as it was."""
    import int8rt
    from engine_bytes import payload
    from test_bf16_gemm_tensors import qkv_model

    engine = int8rt.build_engine(qkv_model((2, 3), 32, 16, shared=True),
                                 int8rt.BuilderConfig(precision="fp32", bf16=True))
    data = payload(engine.serialize())
    lay = Layout(data)
    ops = [data[s + 8:e].decode() for s, e in lay.ops]
    assert ops == [la["op"] for la in engine.layers()], ops
    assert "int8rt.ToBf16" in ops and 12 in [data[at] for at in lay.dtypes]  # DataType::kBFloat16
    muts = field_mutations(lay)
    labels = {label.split("=")[0] for label, _ in muts}
    assert labels == {"truncate", "count", "id", "dtype", "tflags", "dim", "kind", "flag", "op"}, labels
    assert all(m != data for _, m in muts), "a mutation left the payload as it was"


def test_field_mutations_are_refused_or_run(tmp_path) -> None:
    out = _campaign(tmp_path / "c", "--cases", "300", "--seed", "1", timeout=1800)
    m = re.search(r"^(\d+) cases .*kept: \[\]$", out, re.M)
    assert m and int(m.group(1)) == 300, out


@pytest.mark.slow
def test_every_field_mutation_then_random(tmp_path) -> None:
    seconds = os.environ.get("INT8RT_FUZZ_LONG_SECONDS", "300")
    out = _campaign(tmp_path / "c", "--cases", "-1", "--random-seconds", seconds, "--seed", "2",
                    timeout=7200 + float(seconds))
    assert re.search(r"kept: \[\]$", out, re.M), out


def test_blocked_channels_at_int64_max_refused_with_the_true_block_count() -> None:
    """Finding of RESULTS.md 216 (UBSan, signed overflow in blocked_tensor.h's channel_blocks, reached by
    the attribute sweep of the bf16_blocked seed): a blocked layer's 'channels' of INT64_MAX formed C + 15.
    Natively the count wrapped (the refusal said CB = -576460752303423488); now it is ceil(C / 16)."""
    import int8rt
    from engine_mutation_campaign import frame

    data = (ROOT / "tests" / "fuzz" / "corpus" / "engine_file" / "bf16_blocked.payload").read_bytes()
    key = struct.pack("<Q", 8) + b"channels" + b"\x00"  # the int attribute 'channels' (kind 0)
    at = data.index(key) + len(key)
    data = data[:at] + struct.pack("<q", 2**63 - 1) + data[at + 8:]
    with pytest.raises(int8rt.FormatError, match=r"GlobalAveragePoolBf16x16c.*with CB = 576460752303423488,"):
        int8rt.Engine.deserialize(frame(data))


def test_scan_captures_at_int64_max_refused_naming_them() -> None:
    """Finding of RESULTS.md 216 (UBSan, signed overflow in scan_layer.cc, reached by the sanitized attribute
    sweep of the scan_fp32 seed): num_scan_inputs + int8rt_captures of INT64_MAX wrapped past the check, the
    state count wrapped too, and the refusal blamed the body ('takes 3 inputs ... the node has 3 inputs')."""
    import int8rt
    from engine_mutation_campaign import frame

    data = (ROOT / "tests" / "fuzz" / "corpus" / "engine_file" / "scan_fp32.payload").read_bytes()
    key = struct.pack("<Q", 15) + b"int8rt_captures" + b"\x00"
    at = data.index(key) + len(key)
    data = data[:at] + struct.pack("<q", 2**63 - 1) + data[at + 8:]
    with pytest.raises(int8rt.FormatError, match=r"num_scan_inputs 1 and 9223372036854775807 captured values do not"):
        int8rt.Engine.deserialize(frame(data))


def test_gemm_with_one_input_refused_naming_the_missing_one() -> None:
    """Finding of RESULTS.md 216 (ASan heap-buffer-overflow, gemm_f32.cc, reached by a random mutation of the
    block_int8 seed in the sanitized campaign): a Gemm node with one input had its B read from past the end
    of its inputs (natively a garbage tensor id, refused as 'tensor id 32527 does not exist' or worse)."""
    import int8rt
    from engine_bytes import payload
    from engine_mutation_campaign import frame
    from onnx import TensorProto, helper, numpy_helper

    import numpy as np

    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [w])
    data = payload(int8rt.build_engine(helper.make_model(graph).SerializeToString(),
                                       int8rt.BuilderConfig(precision="fp32")).serialize())
    lay = Layout(data)
    (start, end), = [(s, e) for s, e in lay.ops if data[s + 8:e] == b"Gemm"]
    assert struct.unpack_from("<Q", data, end)[0] == 2  # the input count, then two i32 ids
    data = data[:end] + struct.pack("<Q", 1) + data[end + 8:end + 12] + data[end + 16:]
    with pytest.raises(int8rt.FormatError, match=r"\(Gemm\): input 1 is missing \(the op needs 2\)"):
        int8rt.Engine.deserialize(frame(data))
