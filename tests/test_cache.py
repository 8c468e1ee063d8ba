"""TensorRT calibration cache: bit-exact round trips, files in the form TensorRT
7, 8 and 10 wrote them (tests/data/cache_trt*.txt), the lenient reader, and the
error (message and line number) for every malformed input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import int8rt
from int8rt.calib import cache_algorithm_name, read_cache, write_cache

DATA = Path(__file__).resolve().parent / "data"


def bits_to_float(hex_text: str) -> float:
    """Independent decoder: the hex is the float32's bit pattern."""
    return float(np.array([int(hex_text, 16)], dtype=np.uint32).view(np.float32)[0])


def float_bits(x: float) -> int:
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


# (file, header algorithm, version, [(name, hex as written)]): the fixtures' content.
FIXTURES = [
    ("cache_trt7.txt", "EntropyCalibration2", 7000, [
        ("data", "3caa4a58"), ("conv1", "3db78bc4"), ("pool1", "3db78bc4"),
        ("(Unnamed Layer* 3) [Convolution]_output", "3d7fc213"),
        ("(Unnamed Layer* 4) [Activation]_output", "3d7fc213"),
        ("res2a_branch1", "0"), ("prob", "3c010204")]),
    ("cache_trt8.txt", "EntropyCalibration2", 8601, [
        ("input.1", "3caa4a58"), ("onnx::Conv_193", "3d250888"),
        ("/conv1/Conv_output_0", "3de5cb97"), ("/relu/Relu_output_0", "3de5cb97"),
        ("/layer1/layer1.0/Add_output_0", "3e2d5ab5"),
        ("(Unnamed Layer* 12) [Shuffle]_output", "3cc18306"), ("output", "7f800000")]),
    ("cache_trt10.txt", "EntropyCalibration2", 100300, [
        ("images", "3c010204"), ("/model/conv1/Conv_output_0", "3d5aab19"),
        ("/model/model.0/act/Mul_output_0", "3d112245"),
        ("/model/model.22/Concat_3_output_0", "40a14285"),
        ("/model/model.22/dfl/Softmax_output_0", "3c010204"),
        ("onnx::Sigmoid_512", "7c010204")]),
]


@pytest.mark.parametrize("fname,algorithm,version,entries", FIXTURES, ids=[f[0] for f in FIXTURES])
def test_reads_tensorrt_files(fname: str, algorithm: str, version: int, entries: list) -> None:
    raw = (DATA / fname).read_bytes()
    got_algo, got_version, scales = read_cache(raw)
    assert (got_algo, got_version) == (algorithm, version)
    assert list(scales) == [name for name, _ in entries]  # file order kept
    for name, hex_text in entries:
        assert float_bits(scales[name]) == int(hex_text, 16), name
    # Rewriting what was read gives the file back byte for byte.
    assert write_cache(scales, algorithm, version) == raw
    # A path works too, and so does text.
    assert read_cache(DATA / fname) == (algorithm, version, scales)
    assert read_cache(raw.decode()) == (algorithm, version, scales)


def test_known_scale_values() -> None:
    _, _, scales = read_cache(DATA / "cache_trt10.txt")
    assert scales["images"] == bits_to_float("3c010204") == np.float32(1.0) / np.float32(127)
    assert scales["onnx::Sigmoid_512"] == np.float32(np.finfo(np.float32).max) / np.float32(127)
    _, _, scales8 = read_cache(DATA / "cache_trt8.txt")
    assert scales8["output"] == float("inf")
    _, _, scales7 = read_cache(DATA / "cache_trt7.txt")
    assert scales7["res2a_branch1"] == 0.0


def test_round_trip_bit_exact() -> None:
    rng = np.random.default_rng(7)
    specials = np.array([0.0, np.inf, 1e-45, 1.17549421e-38, 1.1754944e-38, 1.0, 3.4028235e38,
                         1.0 / 127, 2.5e-6], dtype=np.float32)
    random_bits = rng.integers(0, 0x7F800000, size=500, dtype=np.uint32)  # every finite >= 0 float
    values = np.concatenate([specials, random_bits.view(np.float32)])
    scales = {f"t{i}/out put:{i}": float(v) for i, v in enumerate(values)}
    data = write_cache(scales, "minmax", 101303)
    algo, version, back = read_cache(data)
    assert (algo, version) == ("MinMaxCalibration", 101303)
    assert list(back) == list(scales)
    got = np.array(list(back.values()), dtype=np.float32).view(np.uint32)
    np.testing.assert_array_equal(got, values.view(np.uint32))


def test_writer_exact_text() -> None:
    data = write_cache({"a": 0.0, "b c: d": 1.0, "den": float(np.float32(1e-45))}, "percentile", 8601)
    assert data == b"TRT-8601-LegacyCalibration\na: 0\nb c: d: 3f800000\nden: 1\n"
    assert write_cache({}, "entropy") == b"TRT-8601-EntropyCalibration2\n"


def test_algorithm_names() -> None:
    pairs = {"entropy": "EntropyCalibration2", "entropy_legacy": "EntropyCalibration",
             "minmax": "MinMaxCalibration", "percentile": "LegacyCalibration",
             "mse": "MSECalibration"}
    for method, header in pairs.items():
        assert cache_algorithm_name(method) == header
        assert cache_algorithm_name(header) == header
        assert write_cache({"x": 1.0}, method).startswith(f"TRT-8601-{header}\n".encode())
    with pytest.raises(int8rt.InvalidArgumentError, match="unknown calibration algorithm 'kl'"):
        write_cache({"x": 1.0}, "kl")


def test_lenient_reader() -> None:
    canonical = (DATA / "cache_trt8.txt").read_bytes()
    expected = read_cache(canonical)
    variants = {
        "crlf": canonical.replace(b"\n", b"\r\n"),
        "no final newline": canonical.rstrip(b"\n"),
        "blank lines": canonical.replace(b"\n", b"\n\n").replace(b"input.1", b"\n  \ninput.1"),
        "upper-case hex, spaces": canonical.replace(b"3caa4a58", b"3CAA4A58 ").replace(b": 3d25", b":  3d25"),
    }
    for what, data in variants.items():
        assert read_cache(data) == expected, what
    # Any order: the reader keeps the file's order.
    lines = canonical.decode().splitlines()
    shuffled = "\n".join([lines[0]] + lines[:0:-1])
    _, _, scales = read_cache(shuffled)
    assert list(scales) == list(expected[2])[::-1]
    assert scales == expected[2]
    # Unpadded hex, names with ': ' inside (split at the last one).
    _, _, s = read_cache("TRT-8601-EntropyCalibration2\nweird: name [x]*: 1\nz: 0\n")
    assert s == {"weird: name [x]*": bits_to_float("1"), "z": 0.0}


@pytest.mark.parametrize("data,line,message", [
    (b"", None, "calibration cache is empty"),
    (b"\n\n", None, "calibration cache is empty"),
    (b"input.1: 3c010204\n", 1, "expected a header 'TRT-<version>-<algorithm>'"),
    (b"TRT-8601\n", 1, "expected a header"),
    (b"TRT--EntropyCalibration2\n", 1, "expected a header"),
    (b"TRT-86a1-EntropyCalibration2\n", 1, "version '86a1' is not a decimal integer"),
    (b"TRT-8601-Entropy Calibration\n", 1, "algorithm 'Entropy Calibration' is not a name"),
    (b"TRT-8601-\n", 1, "algorithm '' is not a name"),
    (b"TRT-8601-EntropyCalibration2\ninput.1 3c010204\n", 2, "expected '<tensor name>: <hex scale>', got 'input.1 3c010204'"),
    (b"TRT-8601-EntropyCalibration2\na: 1\n\nb:3c010204\n", 4, "expected '<tensor name>: <hex scale>'"),
    (b"TRT-8601-EntropyCalibration2\na: 3c01020g\n", 2, "hex scale '3c01020g' is not hexadecimal"),
    (b"TRT-8601-EntropyCalibration2\na: 0x3c01\n", 2, "hex scale '0x3c01' is not hexadecimal"),
    (b"TRT-8601-EntropyCalibration2\na: -1\n", 2, "hex scale '-1' is not hexadecimal"),
    (b"TRT-8601-EntropyCalibration2\na: 13c010204\n", 2, "has 9 digits, at most 8"),
    (b"TRT-8601-EntropyCalibration2\na: \n", 2, "missing hex scale"),
    (b"TRT-8601-EntropyCalibration2\n: 3c010204\n", 2, "empty tensor name"),
    (b"TRT-8601-EntropyCalibration2\r\nx: 1\r\ny: 2\r\nx: 3\r\n", 4, "tensor 'x' already appeared on line 2"),
])
def test_malformed(data: bytes, line: int | None, message: str) -> None:
    with pytest.raises(int8rt.FormatError) as info:
        read_cache(data)
    text = str(info.value)
    assert message in text
    if line is not None:
        assert text.startswith(f"calibration cache, line {line}: "), text
    assert isinstance(info.value, ValueError)  # FormatError is also a ValueError


def test_malformed_file_names_the_path(tmp_path: Path) -> None:
    p = tmp_path / "bad.cache"
    p.write_bytes(b"TRT-8601-EntropyCalibration2\nok: 1\nbroken\n")
    with pytest.raises(int8rt.FormatError, match=r"bad\.cache: calibration cache, line 3: "):
        read_cache(p)


@pytest.mark.parametrize("scales,version,message", [
    ({"": 1.0}, 8601, "empty tensor name"),
    ({"a\nb": 1.0}, 8601, "tensor name 'a\nb' contains a line break"),
    ({"a\rb": 1.0}, 8601, "contains a line break"),
    ({"neg": -1.0}, 8601, "tensor 'neg' has scale -1"),
    ({"negzero": -0.0}, 8601, "tensor 'negzero' has scale"),
    ({"nan": float("nan")}, 8601, "tensor 'nan' has scale"),
    ({"a": 1.0}, -1, "version -1 is negative"),
])
def test_write_errors(scales: dict, version: int, message: str) -> None:
    with pytest.raises(int8rt.InvalidArgumentError) as info:
        write_cache(scales, "entropy", version)
    assert message in str(info.value)


def test_non_utf8_name_survives_round_trip() -> None:
    data = b"TRT-8601-EntropyCalibration2\nlayer\xff\xfe_out: 3c010204\n"
    algo, version, scales = read_cache(data)
    assert write_cache(scales, algo, version) == data


@pytest.mark.parametrize("hexbits,what", [
    ("7fc00000", "NaN"), ("7f800001", "NaN"), ("ffffffff", "NaN"),
    ("bf800000", "negative"), ("80000000", "negative"), ("ff800000", "negative"),
])
def test_nan_and_negative_scales_are_refused(hexbits: str, what: str) -> None:
    # As write_cache refuses them: no calibrator produces them, and a layer cannot use them.
    data = f"TRT-8601-EntropyCalibration2\nok: 3c010204\nbad: {hexbits}\n".encode()
    with pytest.raises(int8rt.FormatError) as info:
        read_cache(data)
    assert str(info.value).startswith("calibration cache, line 3: tensor 'bad' has ")
    assert what in str(info.value) and hexbits in str(info.value)


@pytest.mark.parametrize("hexbits", ["0", "7f800000", "7effffff", "1"])
def test_zero_inf_and_huge_scales_are_read(hexbits: str) -> None:
    # TensorRT writes 0 (a tensor it saw as all zeros), +inf and FLT_MAX-scale values (overflow).
    _, _, scales = read_cache(f"TRT-8601-EntropyCalibration2\nt: {hexbits}\n")
    assert scales["t"] == bits_to_float(hexbits)


def test_non_utf8_line_keeps_the_line_number(tmp_path: Path) -> None:
    # The message quotes the line's bytes; they reach Python decoded with replacement characters.
    with pytest.raises(int8rt.FormatError) as info:
        read_cache(b"TRT-8601-EntropyCalibration2\n\xff no separator\n")
    assert str(info.value) == "calibration cache, line 2: expected '<tensor name>: <hex scale>', got '\ufffd no separator'"
    p = tmp_path / "bad\u00e9.cache"
    p.write_bytes(b"TRT-8601-EntropyCalibration2\n\xff no separator\n")
    with pytest.raises(int8rt.FormatError, match=r"bad\u00e9\.cache: calibration cache, line 2: "):
        read_cache(p)


def test_huge_value_gives_a_short_message() -> None:
    hexbits = "3" * 10_000_000
    with pytest.raises(int8rt.FormatError) as info:
        read_cache(f"TRT-8601-EntropyCalibration2\nt: {hexbits}\n")
    text = str(info.value)
    assert text.startswith("calibration cache, line 2: hex scale '3333") and "(10000000 bytes)" in text, text[:200]
    assert len(text) < 300


def test_build_from_a_cache_with_a_non_utf8_name() -> None:
    """Found by tools/onnx_mutation_campaign.py (rel12): a cache line whose name is not UTF-8 reads (the
    name round-trips, above), but an INT8 build from that cache raised pybind11's TypeError; such a
    name names no tensor of a network (their names are UTF-8) and is left out, as any unknown name is."""
    from onnx_models import conv_net

    m = conv_net()
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((2, 3, 8, 8)).astype(np.float32) for _ in range(2)]
    written: list[bytes] = []

    class Cal(int8rt.IInt8MinMaxCalibrator):
        def __init__(self, cache: bytes | None) -> None:
            super().__init__()
            self.cache = cache

        def get_batch_size(self) -> int:
            return 2

        def get_batch(self, names):
            if self.cache is not None:
                raise AssertionError("calibration ran although the cache matches")
            return [batches.pop()] if batches else None

        def read_calibration_cache(self):
            return self.cache

        def write_calibration_cache(self, cache: bytes) -> None:
            written.append(bytes(cache))

    want = int8rt.build_engine(m, int8rt.BuilderConfig(precision="int8", calibrator=Cal(None)))
    bad = written[0] + b"layer\xff\xfe_out: 3c010204\n"
    got = int8rt.build_engine(m, int8rt.BuilderConfig(precision="int8", calibrator=Cal(bad)))
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    name = want.input_names[0]
    for a, b in zip(want.run({name: x}).values(), got.run({name: x}).values()):
        np.testing.assert_array_equal(a, b)
