"""A bounded mutation campaign over the engine-file seeds (tests/fuzz/corpus/engine_file), in Python.

    PYTHONPATH=python python tools/engine_mutation_campaign.py --seconds 300 --seed 1 --out /tmp/campaign

fuzz_engine_file (tests/fuzz/, libFuzzer) is the project's engine-file fuzzer; it needs clang and compiles the
whole library under the sanitizers (minutes of CPU). This campaign needs neither: it mutates the same seeds
with the moves libFuzzer's dictionary run makes (bit flips, bytes, the dictionary's 64- and 32-bit edge values
written over integers, float edge values, truncation, erased and repeated chunks, op names swapped), frames each
input as the fuzz target does, loads it with Engine.deserialize and runs what loads once, as the target does
(inputs of the declared shapes, dynamic dimensions 1, at most 65536 elements). Run under
tools/sanitize_tests.sh's build (its site directory on PYTHONPATH, libasan and libubsan preloaded) it is a
sanitized campaign.

Allowed outcomes are those of fuzz_engine_file: a loaded engine or int8rt.Error at load and at run, and
MemoryError for a legal size too large to allocate. A worker process runs the inputs; the parent keeps the
input of any worker that dies (signal, sanitizer report) or stops for --hang seconds as OUT/crash-* or
OUT/hang-*, any other exception as OUT/exception-*, and restarts it. Exit status 1 when anything was kept.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "engine_file"
sys.path.insert(0, str(ROOT / "tools"))

MAX_INPUT_ELEMENTS = 1 << 16  # fuzz_engine_file.cc's kMaxInputElements
FLOATS = [float("nan"), float("inf"), -float("inf"), -1.0, 0.0, -0.0, 1e-45, 3.4e38, 1e-30]


def frame(payload: bytes) -> bytes:
    """engine_file.cc's frame_engine_payload: magic, version 3, flags, size, FNV-1a 64 of the payload."""
    if payload[:8] == b"INT8RTEN":
        return payload
    h = 1469598103934665603
    for b in payload:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return b"INT8RTEN" + struct.pack("<IIQQ", 3, 0, len(payload), h) + payload


def mutate(data: bytes, rng: random.Random, names: list[bytes], i64: list[int], i32: list[int]) -> bytes:
    """One to four of the moves above, applied to data."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not b:
            break
        pos, move = rng.randrange(len(b)), rng.randrange(9)
        if move == 0:
            b[pos] ^= 1 << rng.randrange(8)
        elif move == 1:
            b[pos] = rng.randrange(256)
        elif move == 2:  # a small integer of the format (a dim, an attribute, a count) set to an edge value
            small = [p for p in range(0, len(b) - 7, 8) if 0 < struct.unpack_from("<q", b, p)[0] < 4096]
            at = rng.choice(small) if small and rng.random() < 0.7 else min(pos, len(b) - 8)
            if at >= 0:
                v = rng.choice(i64) if rng.random() < 0.7 else struct.unpack_from("<q", b, at)[0] + rng.choice((-1, 1))
                b[at:at + 8] = struct.pack("<q", max(-(2**63), min(2**63 - 1, v)))
        elif move == 3 and pos + 4 <= len(b):
            b[pos:pos + 4] = struct.pack("<i", rng.choice(i32))
        elif move == 4 and pos + 4 <= len(b):
            b[pos:pos + 4] = struct.pack("<f", rng.choice(FLOATS))
        elif move == 5:
            del b[pos:]
        elif move == 6:
            del b[pos:pos + rng.randint(1, 64)]
        elif move == 7:
            chunk = b[pos:pos + rng.randint(1, 64)]
            at = rng.randrange(len(b))
            b[at:at] = chunk
        else:  # an op or attribute name (length-prefixed, as the codec writes strings) swapped for another
            present = [n for n in names if n in b]
            if present:
                old = rng.choice(present)
                b = bytearray(bytes(b).replace(old, rng.choice(names), 1))
    return bytes(b)


def run_once(engine, rng) -> None:
    import numpy as np

    feeds = {}
    for name in engine.input_names():
        shape = [1 if d == -1 else d for d in engine.tensor_shape(name)]
        if any(d < 0 for d in shape) or int(np.prod(shape, dtype=np.float64)) > MAX_INPUT_ELEMENTS:
            return
        feeds[name] = (rng.standard_normal(shape) if rng.random() < 0.5 else np.zeros(shape)).astype(np.float32)
    engine.create_execution_context().run(feeds)


def worker(out: Path, seed: int) -> None:
    """Runs inputs until killed; OUT/current holds the one being run (its mtime is the heartbeat)."""
    import numpy as np

    import int8rt
    from make_fuzz_corpus import DICT_ATTRS, DICT_I32, DICT_I64, DICT_OPS

    seeds = [p.read_bytes() for p in sorted(CORPUS.iterdir()) if p.is_file()]
    names = [struct.pack("<Q", len(n)) + n.encode() for n in DICT_OPS + DICT_ATTRS]
    rng, nprng = random.Random(seed), np.random.default_rng(seed)
    current = out / "current"
    count = 0
    while True:
        data = mutate(rng.choice(seeds), rng, names, DICT_I64, DICT_I32)
        current.write_bytes(data)
        try:
            engine = int8rt.Engine.deserialize(frame(data))
            engine.serialize()
            run_once(engine, nprng)
        except (int8rt.Error, MemoryError):
            pass
        except Exception as e:  # noqa: BLE001  (anything else is a finding)
            digest = hashlib.sha1(data).hexdigest()[:8]
            (out / f"exception-{digest}").write_bytes(data)
            (out / f"exception-{digest}.txt").write_text(f"{type(e).__name__}: {e}"[:4000])
        count += 1
        if count % 200 == 0:
            (out / f"count-{seed}").write_text(str(count))


def campaign(seconds: float, seed: int, out: Path, hang: float) -> int:
    out.mkdir(parents=True, exist_ok=True)
    end, kept, restarts = time.monotonic() + seconds, [], 0
    while time.monotonic() < end:
        s = seed + restarts
        proc = subprocess.Popen([sys.executable, __file__, "--worker", "--seed", str(s), "--out", str(out)],
                                stderr=subprocess.PIPE)
        why = None
        while time.monotonic() < end:
            time.sleep(0.5)
            if proc.poll() is not None:
                why = f"crash (exit {proc.returncode})"
                break
            current = out / "current"
            if current.exists() and time.time() - current.stat().st_mtime > hang:
                proc.kill()
                why = f"hang (no new input for {hang:.0f} s)"
                break
        if why is None:
            proc.kill()
        proc.wait()
        err = proc.stderr.read().decode(errors="replace")
        if why is not None:
            data = (out / "current").read_bytes()
            name = f"{why.split()[0]}-{hashlib.sha1(data).hexdigest()[:8]}"
            (out / name).write_bytes(data)
            (out / f"{name}.txt").write_text(f"{why}, worker seed {s}\n{err[-8000:]}")
            kept.append(name)
            print(f"kept {name}: {why}", flush=True)
        restarts += 1
    runs = sum(int(p.read_text()) for p in out.glob("count-*"))
    exceptions = sorted(p.name for p in out.glob("exception-*") if p.suffix != ".txt")
    print(f"{runs} inputs (counted per 200) in {seconds:.0f} s, {restarts} worker(s); kept: {kept + exceptions}")
    return 1 if kept or exceptions else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hang", type=float, default=30)
    ap.add_argument("--out", type=Path, default=Path("build/engine-campaign"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.out, a.seed)
    sys.exit(campaign(a.seconds, a.seed, a.out, a.hang))


if __name__ == "__main__":
    main()
