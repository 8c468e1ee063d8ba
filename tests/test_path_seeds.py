"""The campaign seeds of the paths added on 6-7 December 2026 (tools/path_seeds.py, docs/reliability.md):
each seed takes its path, and the attribute sweep of tools/engine_mutation_campaign.py (in this process) and a sample of
tools/engine_field_campaign.py's field mutations (in its worker) end in a run or an int8rt error: no crash,
hang or other exception. Under tools/sanitize_tests.sh the campaign's worker inherits the preloaded
sanitizers.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx")

import int8rt  # noqa: E402
from engine_bytes import frame  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import path_seeds  # noqa: E402


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    int8rt.set_max_isa(None)
    out = tmp_path_factory.mktemp("path_seeds")
    path_seeds.write_seeds(out)
    return out


def _layers(seeds: Path, name: str) -> list[dict]:
    return int8rt.Engine.deserialize(frame((seeds / f"{name}.payload").read_bytes(), version=3)).layers()


def test_each_seed_takes_its_path(seeds: Path) -> None:
    ops = {p.stem: [(layer["op"], layer["precision"], layer["detail"]) for layer in _layers(seeds, p.stem)]
           for p in seeds.glob("*.payload")}
    assert sorted(ops) == sorted(path_seeds.models())
    assert ("Conv", "fp32", "fp32 conv2d group=1") in ops["longconv_path"]
    assert ops["logfirst_path"][0][:2] == ("Log", "fp32") and "int8rt.QConv" in [o for o, _, _ in ops["logfirst_path"]]
    stem = [o for o, p, _ in ops["logstem_path"] if p == "fp32"]
    assert stem.count("Conv") == 2 and "Log" in stem and "int8rt.QConv" in [o for o, _, _ in ops["logstem_path"]]
    assert any(o == "int8rt.QConv" and d.endswith("(float32 output)") for o, _, d in ops["convhead_path"])
    assert [o for o, _, _ in ops["gemmhead_path"]][-2:] == ["int8rt.QGemm", "Flatten"]  # no Dequantize between
    assert [o for o, _, _ in ops["hswish_path"]][2:4] == ["int8rt.QLut", "int8rt.QConv"]
    assert [(o, p) for o, p, _ in ops["lstmfloat_path"] if o == "LSTM"] == [("LSTM", "fp32")] * 2
    assert all((seeds / f"seed-{n}.cache").is_file() for n in ops if n != "longconv_path")


def _tool(name: str, *args: str) -> str:
    site = str(Path(int8rt.__file__).parents[1])  # the package under test (python/, or a sanitized site)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([site] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    r = subprocess.run([sys.executable, str(ROOT / "tools" / name), *args], capture_output=True, text=True,
                       timeout=1800, env=env)
    assert r.returncode == 0, f"{name} {args}:\n{r.stdout[-6000:]}\n{r.stderr[-4000:]}"
    return r.stdout


@pytest.mark.parametrize("name", ["longconv_path", "gemmhead_path"])
def test_every_attribute_of_a_path_seed_at_its_edges(seeds: Path, name: str) -> None:
    """tools/engine_mutation_campaign.py's attribute sweep of the long conv's and the Gemm head's engines
    (about 100 edits each), in this process as test_engine_corpus_replay's sweep runs the corpus': each
    edit loads and runs once or is refused with an int8rt error (the campaign of 7 December ran the sweep
    of all seven and 840 s of random moves in worker processes)."""
    import numpy as np
    from engine_mutation_campaign import attribute_edits, run_once
    from make_fuzz_corpus import DICT_ATTRS, DICT_I64

    edits = attribute_edits((seeds / f"{name}.payload").read_bytes(), DICT_ATTRS, DICT_I64)
    assert len(edits) >= 90, len(edits)
    rng, outcomes = np.random.default_rng(7), {"ran": 0, "refused": 0}
    for label, data in edits:
        try:
            engine = int8rt.Engine.deserialize(frame(data, version=3))
            engine.serialize()
            run_once(engine, rng)
            outcomes["ran"] += 1
        except (int8rt.Error, MemoryError):
            outcomes["refused"] += 1
    assert outcomes["ran"] > 0 and outcomes["refused"] > 0, outcomes


def test_field_mutations_of_the_path_seeds(seeds: Path, tmp_path: Path) -> None:
    names = ",".join(sorted(p.stem for p in seeds.glob("*.payload")))
    """80 of the seven payloads' 15,079 field mutations (all of them: the campaign of 7 December)."""
    out = _tool("engine_field_campaign.py", "--cases", "80", "--seed", "3", "--extra-seeds", str(seeds),
                "--seeds", names, "--out", str(tmp_path / "f"))
    assert "kept: []" in out and "80 cases" in out, out
