"""The engine file's version rule (csrc/engine/format_features.h): a writer
stamps the least format version that reads the file right, 3 for a file
without a listed attribute (it loads in every int8rt since format 3) and 4
for one carrying an attribute an older reader would ignore; a reader refuses
a newer stamp, a stamp below what a (non-legacy) listed attribute needs, and
an op it has no layer for, each naming what it refused."""
from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

import int8rt
from int8rt import _core
from engine_bytes import frame, payload, replace_once, string
from onnx_models import conv_net

ROOT = Path(__file__).resolve().parents[1]
H = 4
ATTENTION = {"q_scale": 0.02, "k_scale": 0.03, "v_scale": 0.05, "k_transposed": 1, "probs_scale": 1 / 127}


def stamp(data: bytes) -> int:
    return struct.unpack("<I", data[8:12])[0]


def restamp(data: bytes, version: int) -> bytes:
    """The same file with its version field edited (the checksum covers the payload only)."""
    return data[:8] + struct.pack("<I", version) + data[12:]


def attention_engine(attrs: dict) -> int8rt.Engine:
    """q, k, v int8 [1, H, 5, 8] -> int8rt.QAttention(attrs) -> Dequantize -> y float32."""
    net = _core.Network()
    ins = [net.add_input(c, [1, H, 5, 8], "int8") for c in "qkv"]
    q_y = net.add_node("int8rt.QAttention", "attention", ins, dict(ATTENTION, out_scale=0.01, **attrs), ["q_y"])[0]
    y = net.add_node("int8rt.Dequantize", "as_float", [q_y], {"scale": 0.01, "logical": 1}, ["y"])[0]
    for t in (q_y, y):  # the shapes a file declares (a loader checks its layers infer them)
        net.set_shape(t, [1, H, 5, 8])
    net.mark_output(y)
    return int8rt.Engine(_core.Engine.create(net, {"precision": "int8"}))


def feeds(seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    return {c: rng.integers(-128, 128, (1, H, 5, 8), dtype=np.int8) for c in "qkv"}


def head_mix(seed: int = 7) -> list[float]:
    """A random [H, H] mix and its bias, as the attribute lists them (w then b)."""
    rng = np.random.default_rng(seed)
    w = (np.eye(H) + 0.3 * rng.standard_normal((H, H))).astype(np.float32)
    b = (0.1 * rng.standard_normal(H)).astype(np.float32)
    return [float(x) for x in w.ravel()] + [float(x) for x in b]


def run(engine: int8rt.Engine, inputs: dict) -> np.ndarray:
    return engine.create_execution_context().run(inputs)["y"]


def digits_engines() -> dict:
    """The bundled model (int8rt/data/digits_cnn.onnx), FP32 and INT8 (MinMax over its calibration images)."""
    from int8rt.quickstart import DATA_PATH, MODEL_PATH
    calib = np.load(DATA_PATH)["calib"][:64]

    class Calibrator(int8rt.MinMaxCalibrator):
        def __init__(self) -> None:
            super().__init__()
            self.done = 0

        def get_batch_size(self) -> int:
            return 32

        def get_batch(self, names: list[str]):
            if self.done >= len(calib):
                return None
            self.done += 32
            return [np.ascontiguousarray(calib[self.done - 32:self.done])]

        def read_calibration_cache(self):
            return None

        def write_calibration_cache(self, cache: bytes) -> None:
            pass

    model = MODEL_PATH.read_bytes()
    return {"fp32": int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")),
            "int8": int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=Calibrator(), accuracy_check=False))}


def test_bundled_models_stay_version_3_and_round_trip(tmp_path: Path) -> None:
    from int8rt.quickstart import DATA_PATH
    x = np.ascontiguousarray(np.load(DATA_PATH)["test_x"][:8])
    for kind, engine in digits_engines().items():
        data = engine.serialize()
        assert stamp(data) == 3, kind
        path = tmp_path / f"digits_{kind}.i8rt"
        engine.save(path)
        loaded = int8rt.Engine.load(path)
        assert loaded.serialize() == data, kind  # save / load / save: the same bytes
        want = engine.create_execution_context().run({"input": x})
        got = loaded.create_execution_context().run({"input": x})
        for name in want:
            assert got[name].tobytes() == want[name].tobytes(), (kind, name)


def test_files_written_before_the_rule_still_load_and_resave_as_3() -> None:
    """tests/data/engine_before_bool: format 1 files (test_engine_dtypes.py); saved again, format 3."""
    data = ROOT / "tests" / "data" / "engine_before_bool"
    want = np.load(data / "engine_v1_outputs.npz")
    for kind in ("fp32", "int8"):
        engine = int8rt.Engine.load(data / f"engine_v1_{kind}.i8rt")
        again = int8rt.Engine.deserialize(engine.serialize())
        assert stamp(engine.serialize()) == 3, kind
        got = again.run({"ids": want["ids"]})
        np.testing.assert_array_equal(got["y"], engine.run({"ids": want["ids"]})["y"], err_msg=kind)
        np.testing.assert_array_equal(got["s"], want[f"{kind}_s"], err_msg=kind)


def test_plain_attention_is_3_and_a_head_mix_is_4() -> None:
    plain = attention_engine({})
    assert stamp(plain.serialize()) == 3
    for key in ("scores_head_mix", "probs_head_mix"):
        mixed = attention_engine({key: head_mix()})
        data = mixed.serialize()
        assert stamp(data) == 4, key
        loaded = int8rt.Engine.deserialize(data)
        assert loaded.serialize() == data, key
        assert run(loaded, feeds()).tobytes() == run(mixed, feeds()).tobytes(), key
        # The mix changes what the layer computes: a reader that dropped it would give plain's output.
        assert run(loaded, feeds()).tobytes() != run(plain, feeds()).tobytes(), key


def test_legacy_attribute_is_4_and_its_format_3_files_still_load() -> None:
    """probs_zero_point (2026-12-04) was written under format 3 before the table existed: a file with
    it is now stamped 4, and the same file stamped 3 (as that writer wrote it) still loads, same output."""
    engine = attention_engine({"probs_zero_point": -128, "probs_scale": 1 / 255})
    data = engine.serialize()
    assert stamp(data) == 4
    old = int8rt.Engine.deserialize(restamp(data, 3))
    assert run(old, feeds()).tobytes() == run(engine, feeds()).tobytes()


@pytest.mark.parametrize("version", [3, 2])  # (format 1's layout differs: its payload does not decode)
def test_head_mix_stamped_below_4_is_refused_naming_the_attribute(version: int) -> None:
    data = attention_engine({"probs_head_mix": head_mix()}).serialize()
    with pytest.raises(int8rt.FormatError) as info:
        int8rt.Engine.deserialize(restamp(data, version))
    text = str(info.value)
    assert text.startswith("engine bytes: node 'attention' (int8rt.QAttention) carries attribute 'probs_head_mix'"), text
    assert f"needs engine format 4, but the file is stamped format {version}" in text, text


@pytest.mark.parametrize("version", [5, 0xFFFFFFFF])
def test_newer_format_is_refused(tmp_path: Path, version: int) -> None:
    path = tmp_path / "newer.i8rt"
    path.write_bytes(restamp(attention_engine({}).serialize(), version))
    with pytest.raises(int8rt.FormatError) as info:
        int8rt.Engine.load(path)
    assert str(info.value) == (f"engine file '{path}': engine format version {version} is not supported by this int8rt "
                               "(it reads versions 1 to 4): rebuild the engine with this int8rt, or upgrade int8rt")


def test_unknown_op_is_refused_naming_it(tmp_path: Path) -> None:
    engine = int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="fp32"))
    body = payload(engine.serialize())
    assert "Flatten" in [n["op"] for n in engine._native.network().nodes()]
    forged = replace_once(body, string(b"Flatten"), string(b"int8rt.FromTheFuture"))
    path = tmp_path / "future.i8rt"
    path.write_bytes(frame(forged, version=3))
    with pytest.raises(int8rt.FormatError) as info:
        int8rt.Engine.load(path)
    text = str(info.value)
    assert text.startswith(f"engine file '{path}': op 'int8rt.FromTheFuture' (node '"), text
    assert "is unknown to this int8rt: the engine was written by a newer int8rt (upgrade int8rt" in text, text


def table_entries() -> list[tuple[str, str, int, bool]]:
    source = (ROOT / "csrc" / "engine" / "format_features.cc").read_text()
    rows = re.findall(r'\{"([^"]+)", "([^"]+)", (\d+), (true|false)\}', source)
    return [(op, attr, int(since), legacy == "true") for op, attr, since, legacy in rows]


def test_table_lists_attributes_the_code_spells() -> None:
    """Every entry is unique, needs format 4 (the newest), and its attribute key is spelled in csrc
    outside the table (a layer or the lowering reads it), so a typo cannot hide an entry."""
    rows = table_entries()
    assert len(rows) >= 30
    assert len({(op, attr) for op, attr, _, _ in rows}) == len(rows)
    assert {since for _, _, since, _ in rows} == {4}
    assert [(op, attr) for op, attr, _, legacy in rows if not legacy] == [
        ("int8rt.QAttention", "scores_head_mix"), ("int8rt.QAttention", "probs_head_mix")]
    spelled = "\n".join(p.read_text(errors="replace") for p in (ROOT / "csrc").rglob("*.[ch]*")
                        if p.name not in ("format_features.cc", "format_features.h"))
    for op, attr, _, _ in rows:
        assert f'"{attr}"' in spelled, (op, attr)
