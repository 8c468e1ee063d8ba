"""Whole INT8 networks give the same bits on every kernel tier this CPU runs.

The int8 layers accumulate in int32 and requantize as the reference kernel
defines, so an engine built once must give identical outputs whichever tier
(``INT8RT_MAX_ISA``: ref, avx2, avxvnni, avx512vnni, amx) its kernels come
from. ResNet-18 and MobileNetV2 (benchmarks/e2e_models.py, torchvision's
architectures written out in PyTorch, seeded random weights) are exported with
``torch.onnx``, built to INT8 once at 48x48 (small enough for the scalar
reference kernels), and the serialized engine is loaded and run under each
cap in a fresh process (the cap applies to kernels chosen at load). Outputs
are compared as raw bytes (``==`` on the bit patterns, so -0.0 against 0.0
fails too). The per-layer kernel names each run used are checked to differ
between tiers, so a cap that silently changed nothing would fail.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

import int8rt

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
SIZE = 48

# Runs a serialized engine under the cap in INT8RT_MAX_ISA; prints the
# kernel of every layer as JSON and writes the output next to the engine.
RUNNER = """
import json, sys
import numpy as np
import int8rt
engine = int8rt.Engine.deserialize(open(sys.argv[1], "rb").read())
x = np.load(sys.argv[2])
ctx = engine.create_execution_context()
name, out = engine.input_names[0], engine.output_names[0]
y = np.ascontiguousarray(ctx.run({name: x})[out])
np.save(sys.argv[3], y)
print(json.dumps({"isa": int8rt.get_max_isa(),
                  "kernels": [r["detail"] for r in ctx.profile({name: x}, runs=1)]}))
"""


def tiers() -> List[str]:
    """Every cap this CPU runs, lowest first."""
    info = int8rt.kernels.isa_info()
    return [isa for isa in ("ref", "avx2", "avxvnni", "avx512vnni", "amx") if info[isa]["cpu"]]


def int8_engine(name: str, tmp: Path) -> bytes:
    """The network exported to ONNX and built to INT8 (MinMax, 2 batches)."""
    from int8rt.data_calibrator import make_calibrator

    sys.path.insert(0, str(BENCH))  # make_model imports its sibling modules lazily
    try:
        from e2e_models import make_model
        model = make_model(name)
    finally:
        sys.path.remove(str(BENCH))
    path = tmp / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), str(path), dynamo=False,
                          input_names=["input"], output_names=["logits"], opset_version=17,
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    calib = np.random.default_rng(0).standard_normal((8, 3, SIZE, SIZE), dtype=np.float32)
    config = int8rt.BuilderConfig(precision="int8")
    config.calibrator = make_calibrator({"input": calib}, algorithm="minmax", batch_size=4)
    return int8rt.build_engine(path.read_bytes(), config).serialize()


def run_under(cap: str, engine: Path, x: Path, out: Path) -> Dict:
    env = dict(os.environ, INT8RT_MAX_ISA=cap)
    r = subprocess.run([sys.executable, "-c", RUNNER, str(engine), str(x), str(out)], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, f"{cap}: {r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_int8_network_bit_identical_across_tiers(name: str, tmp_path: Path) -> None:
    caps = tiers()
    if len(caps) < 2:
        pytest.skip("this CPU runs only the reference tier")
    engine = tmp_path / "engine.i8rt"
    engine.write_bytes(int8_engine(name, tmp_path))
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(1).standard_normal((2, 3, SIZE, SIZE), dtype=np.float32))
    outputs, kernels = {}, {}
    for cap in caps:
        info = run_under(cap, engine, x, tmp_path / f"{cap}.npy")
        assert info["isa"] == cap
        outputs[cap] = np.load(tmp_path / f"{cap}.npy")
        kernels[cap] = info["kernels"]
    want = outputs["ref"]
    assert np.isfinite(want).all() and np.ptp(want) > 0, "degenerate reference output"
    for cap in caps[1:]:
        got = outputs[cap]
        assert got.shape == want.shape and got.dtype == want.dtype, cap
        diff = np.flatnonzero(got.view(np.uint8) != want.view(np.uint8))
        assert diff.size == 0, (f"{name} under {cap}: {diff.size} bytes differ from ref; first output "
                                f"{np.flatnonzero(got.ravel() != want.ravel())[:5]}")
        assert kernels[cap] != kernels["ref"], f"{cap} ran the reference kernels only"
    # The tier's own conv kernels ran (a native AVX-VNNI run where the CPU has it).
    for cap in caps[1:]:
        if cap in ("avx2", "avxvnni", "avx512vnni"):
            assert any(k.endswith("_" + cap) for k in kernels[cap]), (cap, sorted(set(kernels[cap])))
        elif cap == "amx":  # natively on AMX CPUs (RESULTS.md section 172); the AMX details carry suffixes
            assert any("_amx" in k for k in kernels[cap]), (cap, sorted(set(kernels[cap])))
