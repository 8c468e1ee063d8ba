"""Every refusal of an engine file is an int8rt.FormatError naming the file,
with a message of bounded length that Python can always decode (issue 9):
forged files whose checksum is valid, so that they reach the decoder and the
layers (tests/engine_bytes.py re-frames an edited payload)."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import int8rt
from engine_bytes import frame, payload, prefix_checksums, replace_once, string
from onnx_models import conv_net


@pytest.fixture(scope="module")
def conv_payload() -> bytes:
    engine = int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="fp32"))
    return payload(engine.serialize())


def load_forged(tmp_path: Path, data: bytes, name: str = "forged.i8rt") -> str:
    """Loads `data` from a file and returns the FormatError's message (which must name the file)."""
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(int8rt.FormatError) as info:
        int8rt.Engine.load(path)
    text = str(info.value)
    assert str(path) in text, text
    return text


def test_intact_payload_loads(tmp_path: Path, conv_payload: bytes) -> None:
    path = tmp_path / "ok.i8rt"
    path.write_bytes(frame(conv_payload))
    out = int8rt.Engine.load(path).run({"input": np.ones((1, 3, 8, 8), np.float32)})["logits"]
    assert out.shape == (1, 5)


def test_duplicate_tensor_name(tmp_path: Path, conv_payload: bytes) -> None:
    forged = replace_once(conv_payload, string(b"flat"), string(b"pool_out"))
    assert "duplicate tensor name 'pool_out'" in load_forged(tmp_path, frame(forged))


def test_constant_count_that_wraps(tmp_path: Path, conv_payload: bytes) -> None:
    # conv.weight [8, 3, 3, 3] (216 floats, 864 bytes) declared as [1, 1, 1, 2**62 + 216]: the
    # element count times 4 wraps to 864 in 64 bits, which once reached vector::resize.
    old = struct.pack("<Q4q", 4, 8, 3, 3, 3)
    new = struct.pack("<Q4q", 4, 1, 1, 1, 2**62 + 216)
    text = load_forged(tmp_path, frame(replace_once(conv_payload, old, new)))
    assert "constant 'conv.weight' has 864 bytes, which is not what its shape" in text, text


def test_non_utf8_name_in_message(tmp_path: Path, conv_payload: bytes) -> None:
    forged = replace_once(conv_payload, string(b"flat"), string(b"\xffl\xfet"))
    forged = replace_once(forged, string(b"pool_out"), string(b"\xffl\xfet"))
    text = load_forged(tmp_path, frame(forged))
    # Refused as it is read (names reach Python as str), its bytes shown as U+FFFD.
    assert "tensor name '\ufffdl\ufffdt' is not UTF-8" in text, text


def test_huge_name_gives_a_short_message(tmp_path: Path, conv_payload: bytes) -> None:
    huge = b"x" * 1_000_000
    forged = replace_once(conv_payload, string(b"flat"), string(huge))
    forged = replace_once(forged, string(b"pool_out"), string(huge))
    text = load_forged(tmp_path, frame(forged))
    assert "duplicate tensor name 'xxxx" in text and "...' (1000000 bytes)" in text, text[:300]
    assert len(text) < 1000


def test_deserialize_names_engine_bytes(conv_payload: bytes) -> None:
    forged = replace_once(conv_payload, string(b"flat"), string(b"pool_out"))
    with pytest.raises(int8rt.FormatError, match="^engine bytes: .*duplicate tensor name"):
        int8rt.Engine.deserialize(frame(forged))


def test_truncated_payload_every_length(conv_payload: bytes) -> None:
    # Every 7th prefix of the payload, re-framed: always a FormatError, never another type.
    for n, checksum in prefix_checksums(conv_payload, 7):
        with pytest.raises(int8rt.FormatError):
            int8rt.Engine.deserialize(frame(conv_payload[:n], checksum))


def edit_attribute(data: bytes, key: bytes, value: bytes) -> bytes:
    """Replaces the encoded value (kind byte onwards) of the first attribute named `key`."""
    at = data.index(string(key)) + len(string(key))
    kind = data[at]
    if kind in (0, 1):  # int, float
        end = at + 1 + 8
    else:  # string (n bytes), ints / floats (n * 8 bytes)
        (n,) = struct.unpack_from("<Q", data, at + 1)
        end = at + 1 + 8 + (n if kind == 2 else 8 * n)
    return data[:at] + value + data[end:]


@pytest.mark.parametrize("key,value,message", [
    (b"w_scales", b"\x04" + struct.pack("<Q", 0), "node 'conv0' (int8rt.QConv): needs one weight scale per output"),
    (b"pads", b"\x03" + struct.pack("<Qq", 1, 0), "node 'conv0' (int8rt.QConv): "),
    (b"strides", b"\x02" + string(b"xx"), "attribute 'strides' is not of kind ints"),
    (b"in_scales", b"\x04" + struct.pack("<Q", 0), "node 'concat' (int8rt.QConcat): needs one input scale per input"),
])
def test_layer_refusals_are_format_errors(key: bytes, value: bytes, message: str) -> None:
    # An int8 engine of the fuzz corpus (tools/make_fuzz_corpus.py): what a layer's checks refuse
    # while a file loads is the file's fault.
    data = (Path(__file__).parent / "fuzz" / "corpus" / "engine_file" / "residual_int8.payload").read_bytes()
    with pytest.raises(int8rt.FormatError, match="^engine bytes: ") as info:
        int8rt.Engine.deserialize(frame(edit_attribute(data, key, value)))
    assert message in str(info.value)


def bool_payload() -> bytes:
    net = int8rt.Network()
    x = net.add_input("x", [-1, 7], "bool")
    keep = net.add_constant("keep_mask", np.array([1, 0, 1, 1, 0, 1, 1], np.bool_))
    (y,) = net.add_node("And", "and", [x, keep], {}, ["y"])
    net.mark_output(y)
    return payload(int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32")).serialize())


def test_bool_constant_round_trips_and_a_forged_value_is_refused(tmp_path: Path) -> None:
    data = bool_payload()
    path = tmp_path / "bool.i8rt"
    path.write_bytes(frame(data))
    x = np.ones((2, 7), np.bool_)
    np.testing.assert_array_equal(int8rt.Engine.load(path).run({"x": x})["y"],
                                  np.broadcast_to(np.array([1, 0, 1, 1, 0, 1, 1], np.bool_), (2, 7)))
    values = struct.pack("<Q", 7) + bytes([1, 0, 1, 1, 0, 1, 1])
    forged = replace_once(data, values, struct.pack("<Q", 7) + bytes([1, 0, 2, 1, 0, 1, 1]))
    assert "constant 'keep_mask': a bool value must be 0 or 1, got 2" in load_forged(tmp_path, frame(forged))


def test_unknown_dtype_is_refused(tmp_path: Path) -> None:
    # dtype 22 (float8 e8m0) is the last this reader knows; 23 comes from no writer.
    forged = replace_once(bool_payload(), string(b"keep_mask") + bytes([4]), string(b"keep_mask") + bytes([23]))
    assert "tensor 'keep_mask' has an unknown dtype 23" in load_forged(tmp_path, frame(forged))


def test_a_constant_of_a_run_time_only_dtype_is_refused(tmp_path: Path) -> None:
    # dtype 7 (uint8) is a run-time tensor type; no writer makes such a constant.
    forged = replace_once(bool_payload(), string(b"keep_mask") + bytes([4]), string(b"keep_mask") + bytes([7]))
    assert "constant 'keep_mask' has dtype uint8, which constants cannot have" in load_forged(tmp_path, frame(forged))
