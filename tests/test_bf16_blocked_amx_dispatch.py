"""Which nchw16c_bf16 kernel runs a BF16 channel-blocked region, and where
that is said (issue 13 §2 / §5; benchmarks/RESULTS.md section 162).

The family's walk puts nchw16c_bf16_amx (the 1x1 and dense convs on
TDPBF16PS tiles, kernels/x86/amx/conv_nchw16c_bf16_32x32.cc) first.
INT8RT_LOG=dispatch prints the walk with every declined candidate's reason,
and each blocked layer's detail (what ``int8rt inspect`` prints) names the
kernel it got. Where the CPU lacks AMX the AMX candidate is passed over as
"CPU lacks amx"; where it has AMX-BF16 it is chosen, and capped at
avx512bf16 it is passed over as above the cap. Its arithmetic is tested
under the emulation header in tests/cpp/test_nchw16c_bf16_amx.cc."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")

import int8rt  # noqa: E402

from test_bf16_blocked import _block_model, _blocked_ops, _build  # noqa: E402

AMX = "nchw16c_bf16_amx"
DISPATCH = re.compile(r"^int8rt dispatch: nchw16c_bf16 -> (?P<kernel>\w+) \((?P<isa>\w+)\)"
                      r"(?:; passed over: (?P<passed>.*))?$")


def build_logged(tmp_path, monkeypatch, capfd, max_isa: str | None) -> tuple[list[re.Match], int8rt.Engine]:
    """Builds and runs a blocked engine with the dispatch log on; returns the
    nchw16c_bf16 lines of the log and the engine."""
    monkeypatch.setenv("INT8RT_LOG", "dispatch")
    if max_isa:
        monkeypatch.setenv("INT8RT_MAX_ISA", max_isa)
    path = tmp_path / "block.onnx"
    path.write_bytes(_block_model(16, 48, 32, pool=False))
    engine = _build(path, True)
    engine.run({"x": np.random.default_rng(5).standard_normal((1, 16, 11, 9)).astype(np.float32)})
    lines = [m for m in map(DISPATCH.match, capfd.readouterr().err.splitlines()) if m]
    return lines, engine


def amx_state() -> tuple[bool, bool, bool]:
    """(AMX kernels compiled, the CPU runs AMX, the CPU has AMX-BF16 and AVX512-BF16)."""
    info = int8rt.kernels.isa_info()["amx"]
    features = int8rt.kernels.cpu_features()
    return bool(info["compiled"]), bool(info["cpu"]), bool(features.get("amx_bf16") and features.get("avx512_bf16"))


def test_blocked_layers_walk_amx_first_and_name_their_kernel(tmp_path, monkeypatch, capfd) -> None:
    compiled, cpu, bf16 = amx_state()
    lines, engine = build_logged(tmp_path, monkeypatch, capfd, None)
    if not _blocked_ops(engine):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    assert lines, "no nchw16c_bf16 dispatch line"
    for m in lines:
        passed = m.group("passed") or ""
        if compiled and cpu and bf16:
            assert m.group("kernel") == AMX and m.group("isa") == "amx", m.group(0)
        elif compiled and not cpu:
            assert f"{AMX}: CPU lacks amx" in passed, m.group(0)
            assert m.group("kernel") != AMX
    chosen = {m.group("kernel") for m in lines}
    convs = [la for la in engine.layers() if la["op"] == "int8rt.ConvBf16x16c"]
    assert convs and all(any(k in la["detail"] for k in chosen) for la in convs), [la["detail"] for la in convs]


def test_amx_capped_below_is_passed_over_with_the_cap(tmp_path, monkeypatch, capfd) -> None:
    compiled, cpu, _ = amx_state()
    if not compiled:
        pytest.skip("library built without the AMX kernels")
    # avx512bf16: the tier just below amx (a cap at avx512vnni holds back every BF16 vector kernel)
    lines, engine = build_logged(tmp_path, monkeypatch, capfd, "avx512bf16")
    if not _blocked_ops(engine):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    reason = "ISA amx above cap avx512bf16" if cpu else "CPU lacks amx"
    assert lines
    for m in lines:
        assert f"{AMX}: {reason}" in (m.group("passed") or ""), m.group(0)
        assert m.group("isa") != "amx"
    assert all(AMX not in la["detail"] for la in engine.layers())


def _stem20_case(path: Path, seed: int) -> tuple[Path, np.ndarray, np.ndarray]:
    """The 3 -> 20 stem ResNet-like model written to `path`, an input and its
    FP32 engine's output; skips where the AMX-BF16 kernel does not run."""
    from test_bf16_blocked_dense import _resnet_model

    compiled, cpu, bf16 = amx_state()
    if not (compiled and cpu and bf16):
        pytest.skip("the AMX-BF16 kernel does not run here")
    path.write_bytes(_resnet_model(stem=20))
    x = np.random.default_rng(seed).standard_normal((2, 3, 40, 46)).astype(np.float32)
    fp32 = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32")).run({"x": x})["y"]
    return path, x, fp32


def test_a_narrow_stem_joins_the_region_on_amx(tmp_path, monkeypatch) -> None:
    """Where the AMX kernel runs the region, a 3 -> 20 stem (which stays
    NCHW on the VDPBF16PS kernels, test_bf16_blocked_dense.py) joins it:
    one region of all 12 convs, within BF16's error of the FP32 engine, as
    the NCHW stem's engine is; capped at avx512bf16 it stays NCHW (11)."""
    path, x, fp32 = _stem20_case(tmp_path / "narrow.onnx", seed=62)
    engine = _build(path, True)
    assert "bf16 channel-blocked: 1 region(s), 12 BF16 convs on NCHW16c bfloat16 tensors, 2 layout conversions" \
        in engine.report(), engine.report()
    got = engine.run({"x": x})["y"].astype(np.float64)
    assert np.linalg.norm(got - fp32) <= 2e-2 * np.linalg.norm(fp32)
    monkeypatch.setenv("INT8RT_MAX_ISA", "avx512bf16")
    capped = _build(path, True)
    assert any("1 region(s), 11 BF16 convs" in line for line in capped.report()), capped.report()


def test_the_stem_reads_the_float_image_on_amx(tmp_path) -> None:
    """On AMX the region's entry conversion of the 3-channel image is dropped
    and the 7x7 / 2 stem reads the float32 image (engine/bf16_blocked.h; the
    kernel's bits == the conversion's, tests/cpp/test_nchw16c_bf16_amx.cc):
    within BF16's error of the FP32 engine. Its engine file loaded capped at
    avx512bf16 (whose kernel reads the float image too, RESULTS.md section
    268) keeps the stem and runs within the same error."""
    path, x, fp32 = _stem20_case(tmp_path / "stem.onnx", seed=208)
    engine = _build(path, True)
    assert "bf16 channel-blocked: 1 entry conversion(s) dropped, the stems read the float32 image" \
        in engine.report(), engine.report()
    ops = [la["op"] for la in engine.layers()]
    assert "int8rt.ToBf16x16c" not in ops, ops
    assert sum("from float32" in la["detail"] for la in engine.layers()) == 1, [la["detail"] for la in engine.layers()]
    got = engine.run({"x": x})["y"].astype(np.float64)
    assert np.linalg.norm(got - fp32) <= 2e-2 * np.linalg.norm(fp32)
    engine.save(tmp_path / "e.i8rt")
    np.save(tmp_path / "x.npy", x)
    code = ("import sys, numpy as np, int8rt\n"
            "e = int8rt.Engine.load(sys.argv[1])\n"
            "assert any('from float32' in la['detail'] and 'amx' not in la['detail'] for la in e.layers())\n"
            "np.save(sys.argv[3], e.run({'x': np.load(sys.argv[2])})['y'])\n")
    env = {**os.environ, "INT8RT_MAX_ISA": "avx512bf16",
           "PYTHONPATH": os.pathsep.join([str(Path(int8rt.__file__).resolve().parent.parent),
                                          os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run([sys.executable, "-c", code, str(tmp_path / "e.i8rt"), str(tmp_path / "x.npy"),
                            str(tmp_path / "y.npy")], env=env, capture_output=True, text=True, timeout=600)
    assert child.returncode == 0, child.stderr
    capped = np.load(tmp_path / "y.npy").astype(np.float64)
    assert np.linalg.norm(capped - fp32) <= 2e-2 * np.linalg.norm(fp32)
