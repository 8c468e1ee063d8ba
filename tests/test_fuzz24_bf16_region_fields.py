"""The engine-file fields of this session's BF16 / float layers under mutation (RESULTS.md 271): the corpus
seeds of tools/make_fuzz_corpus.py's bf16_region_engines (int8rt.AddBf16x16c, ResizeNearestBf16x16c,
ConcatBf16x16c, ChannelScaleBf16x16c's residual input, the BF16 1x1 conv over one-pixel images as one GEMM
over the batch, the stem reading the float image, the float chain as one call) through
tools/engine_field_campaign.py, which loads each mutated payload under one of the CPU's BF16 tiers and runs
what loads: it must load and run, or be refused with int8rt.FormatError naming the bytes (load) / an
int8rt.Error with a message (run); no crash, hang or other exception (in a worker process).

Default run: 300 of the seeds' ~11,200 field mutations (seed 1). Slow (``-m slow``): all of them, then random
mutations for INT8RT_FUZZ_LONG_SECONDS (default 300). Under tools/sanitize_tests.sh the worker inherits the
preloaded sanitizers. Also: a forged Resize pick table or Concat channel list of these seeds is refused at
load, the message naming the layer.
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
CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "engine_file"
SEEDS = ["bf16_fpn_moves", "bf16_se_residual", "bf16_se_pixels", "bf16_stem_f32", "float_chain_ppocr_fp32"]
sys.path.insert(0, str(ROOT / "tools"))


def _campaign(out: Path, *args: str, timeout: float) -> str:
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "engine_field_campaign.py"), "--out", str(out),
                        "--extra-seeds", str(CORPUS), "--seeds", ",".join(SEEDS), *args],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"kept in {out}:\n{r.stdout[-6000:]}\n{r.stderr[-4000:]}"
    return r.stdout


def test_field_mutations_of_the_new_layers_are_refused_or_run(tmp_path) -> None:
    out = _campaign(tmp_path / "c", "--cases", "300", "--seed", "1", timeout=1800)
    m = re.search(r"^(\d+) cases .*per seed (\{.*\}); kept: \[\]$", out, re.M)
    assert m and int(m.group(1)) == 300, out
    assert len(eval(m.group(2))) == len(SEEDS), out  # every seed drawn  # noqa: S307  (the campaign's own dict)


@pytest.mark.slow
def test_every_field_mutation_of_the_new_layers_then_random(tmp_path) -> None:
    seconds = os.environ.get("INT8RT_FUZZ_LONG_SECONDS", "300")
    out = _campaign(tmp_path / "c", "--cases", "-1", "--random-seconds", seconds, "--seed", "2",
                    timeout=7200 + float(seconds))
    assert re.search(r"kept: \[\]$", out, re.M), out


def _set_ints(data: bytes, name: str, values: list, nth: int = 0) -> bytes:
    """The payload with the nth int-list attribute `name` (network_codec.cc: the name, kind 3, a count, the
    values) replaced by `values`."""
    key = struct.pack("<Q", len(name)) + name.encode() + b"\x03"
    at = -1
    for _ in range(nth + 1):
        at = data.index(key, at + 1)
    v = at + len(key)
    (n,) = struct.unpack_from("<Q", data, v)
    return data[:v] + struct.pack("<Q", len(values)) + struct.pack(f"<{len(values)}q", *values) + data[v + 8 + 8 * n:]


@pytest.mark.parametrize("name,values,message", [
    ("src_y", [0, 0, 1, 2], r"\(int8rt\.ResizeNearestBf16x16c\): picks rows / columns outside its input"),
    ("src_y", [0, -1, 1, 1], r"\(int8rt\.ResizeNearestBf16x16c\): needs non-empty 'src_y' and 'src_x'"),
    ("src_x", [], r"\(int8rt\.ResizeNearestBf16x16c\): needs non-empty 'src_y' and 'src_x'"),
    ("channels", [19, 24, 16], r"\(int8rt\.ConcatBf16x16c\): needs one entry of 'channels' per input"),
    ("channels", [19, 24, 0, 7], r"\(int8rt\.ConcatBf16x16c\): needs positive 'channels', got 0"),
    ("channels", [19, 40, 16, 7], r"\(int8rt\.ConcatBf16x16c\): needs a channel-blocked bfloat16 input .* CB = 3"),
    ("channels", [19, 24, 16, 2**24], r"\(int8rt\.ConcatBf16x16c\): needs at most 2\^24 channels in all"),
])
def test_a_forged_move_is_refused_naming_its_layer(name: str, values: list, message: str) -> None:
    """The FPN seed's first ResizeNearestBf16x16c (4 rows from 2: picks 0, 0, 1, 1) and its Concat (19, 24, 16,
    7 channels) with forged tables: refused at load with FormatError, the node and op named."""
    import int8rt
    from engine_mutation_campaign import frame

    data = _set_ints((CORPUS / "bf16_fpn_moves.payload").read_bytes(), name, values)
    with pytest.raises(int8rt.FormatError, match=r"engine bytes: node '[^']+' " + message):
        int8rt.Engine.deserialize(frame(data))
