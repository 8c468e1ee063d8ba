"""A bounded mutation campaign over the engine-file seeds (tests/fuzz/corpus/engine_file), in Python.

    PYTHONPATH=python python tools/engine_mutation_campaign.py --seconds 300 --seed 1 --out /tmp/campaign
    # also tools/path_seeds.py's payloads (the globs match in both folders):
    PYTHONPATH=python python tools/engine_mutation_campaign.py --extra-seeds /tmp/path-seeds --seeds '*_path*' ...

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
import random
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "engine_file"
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "tests")]

import engine_bytes  # noqa: E402  (tests/engine_bytes.py)

MAX_INPUT_ELEMENTS = 1 << 16  # fuzz_engine_file.cc's kMaxInputElements
FLOATS = [float("nan"), float("inf"), -float("inf"), -1.0, 0.0, -0.0, 1e-45, 3.4e38, 1e-30]


def frame(data: bytes) -> bytes:
    """fuzz_engine_file.cc's framing: a whole file as it is, a payload behind a valid header (format 3)."""
    return data if data[:8] == b"INT8RTEN" else engine_bytes.frame(data, version=3)


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


def attribute_edits(data: bytes, attrs: list[str], i64: list[int]) -> list[tuple[str, bytes]]:
    """Every attribute (a name of `attrs` followed by network_codec.cc's kind byte) of a payload given edge
    values of its kind: ints and floats at the edges, lists emptied, lengthened and with one element at an
    edge, strings emptied and replaced. (label, payload) pairs, in a fixed order."""
    out = []
    for name in attrs:
        key = struct.pack("<Q", len(name)) + name.encode()
        at = data.find(key)
        while at >= 0:
            v = at + len(key)
            kind = data[v] if v < len(data) else 255
            if kind in (0, 1):
                end, values = v + 9, ([struct.pack("<q", x) for x in i64] if kind == 0 else
                                      [struct.pack("<d", x) for x in FLOATS])
                news = [bytes([kind]) + x for x in values]
            elif kind in (2, 3, 4) and v + 9 <= len(data):
                (n,) = struct.unpack_from("<Q", data, v + 1)
                size = 1 if kind == 2 else 8
                if n > len(data):
                    at = data.find(key, at + 1)
                    continue
                end, body = v + 9 + n * size, data[v + 9:v + 9 + n * size]
                if kind == 2:
                    news = [b"\x02" + struct.pack("<Q", len(t)) + t for t in (b"", b"x", body[::-1], b"a" * 300)]
                else:
                    edge = [struct.pack("<q", x) for x in i64] if kind == 3 else [struct.pack("<d", x) for x in FLOATS]
                    news = [bytes([kind]) + struct.pack("<Q", 0),
                            bytes([kind]) + struct.pack("<Q", n + 1) + body + body[-8:] if n else b"",
                            bytes([kind]) + struct.pack("<Q", max(n - 1, 0)) + body[8:]]
                    news += [bytes([kind]) + struct.pack("<Q", n) + x + body[8:] for x in edge if n]
                    news += [bytes([kind]) + struct.pack("<Q", n) + body[:-8] + x for x in edge if n > 1]
            else:
                at = data.find(key, at + 1)
                continue
            out += [(f"{name}@{at}#{k}", data[:v] + new + data[end:]) for k, new in enumerate(news) if new]
            at = data.find(key, at + 1)
    return out


def run_once(engine, rng) -> None:
    import numpy as np

    feeds = {}
    for name in engine.input_names:
        shape = [1 if d == -1 else d for d in engine.tensor_shape(name)]
        if any(d < 0 for d in shape) or int(np.prod(shape, dtype=np.float64)) > MAX_INPUT_ELEMENTS:
            return
        feeds[name] = (rng.standard_normal(shape) if rng.random() < 0.5 else np.zeros(shape)).astype(np.float32)
    engine.create_execution_context().run(feeds)


def seed_files(glob: str, extra: Path | None = None) -> list[Path]:
    """The corpus' payloads matching the comma-separated globs, then those of folder `extra`
    (tools/path_seeds.py's NAME.payload files)."""
    folders = [CORPUS] + ([extra] if extra else [])
    return [p for d in folders for g in glob.split(",") for p in sorted(d.glob(g))
            if p.is_file() and (d == CORPUS or p.suffix == ".payload")]


def worker(out: Path, seed: int, sweep_glob: str, sweep_from: int, seeds_glob: str, extra: Path | None = None) -> None:
    """Runs inputs until killed; OUT/current holds the one being run (its mtime is the heartbeat)."""
    import numpy as np

    import int8rt
    from make_fuzz_corpus import DICT_ATTRS, DICT_I32, DICT_I64, DICT_OPS

    seeds = [p.read_bytes() for p in seed_files(seeds_glob, extra)]
    names = [struct.pack("<Q", len(n)) + n.encode() for n in DICT_OPS + DICT_ATTRS]
    rng, nprng = random.Random(seed), np.random.default_rng(seed)
    current = out / "current"
    count = loaded = 0
    sweep = [e for p in seed_files(sweep_glob, extra) for e in attribute_edits(p.read_bytes(), DICT_ATTRS, DICT_I64)
             ] if sweep_glob else []
    while True:
        if sweep_from + count < len(sweep):
            (out / "current.txt").write_text(f"sweep {sweep_from + count} {sweep[sweep_from + count][0]}")
            data = sweep[sweep_from + count][1]
        else:
            if sweep and sweep_from + count == len(sweep):
                (out / "sweep-done").write_text(str(len(sweep)))
                (out / "current.txt").write_text("random")  # a crash from here on is no sweep edit's
            data = mutate(rng.choice(seeds), rng, names, DICT_I64, DICT_I32)
        current.write_bytes(data)
        try:
            engine = int8rt.Engine.deserialize(frame(data))
            engine.serialize()
            loaded += 1
            run_once(engine, nprng)
        except (int8rt.Error, MemoryError):
            pass
        except Exception as e:  # noqa: BLE001  (anything else is a finding)
            digest = hashlib.sha1(data).hexdigest()[:8]
            (out / f"exception-{digest}").write_bytes(data)
            (out / f"exception-{digest}.txt").write_text(f"{type(e).__name__}: {e}"[:4000])
        count += 1
        if count % 100 == 0:
            (out / f"count-{seed}").write_text(f"{count} {loaded}")


def campaign(seconds: float, seed: int, out: Path, hang: float, sweep_glob: str, seeds_glob: str,
             worker_cmd=None, extra: Path | None = None) -> int:
    """Runs workers for `seconds`, keeping what crashes or hangs them. worker_cmd(seed, sweep_from) gives a
    worker's command line (default: this file's --worker); tools/onnx_mutation_campaign.py passes its own."""
    if worker_cmd is None:
        def worker_cmd(s: int, sweep_from: int) -> list[str]:
            return [sys.executable, __file__, "--worker", "--seed", str(s), "--out", str(out),
                    "--sweep", sweep_glob, "--sweep-from", str(sweep_from), "--seeds", seeds_glob,
                    *(["--extra-seeds", str(extra.resolve())] if extra else [])]
    out.mkdir(parents=True, exist_ok=True)
    end, kept, restarts, sweep_from = time.monotonic() + seconds, [], 0, 0
    while time.monotonic() < end:
        s, err_path = seed + restarts, out / f"worker-{seed + restarts}.err"
        (out / "current.txt").write_text("")
        (out / "current").unlink(missing_ok=True)  # the hang clock starts at the new worker's first input
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(worker_cmd(s, sweep_from), stderr=err)
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
        if why is not None and not (out / "current").exists():  # died before its first input: a setup failure
            sys.exit(f"worker seed {s} stopped before its first input ({why}):\n"
                     + err_path.read_text(errors="replace")[-4000:])
        if why is not None:
            data, where = (out / "current").read_bytes(), (out / "current.txt").read_text()
            if where.startswith("sweep "):
                sweep_from = int(where.split()[1]) + 1
            name = f"{why.split()[0]}-{hashlib.sha1(data).hexdigest()[:8]}"
            (out / name).write_bytes(data)
            log = err_path.read_text(errors="replace")[-8000:]
            (out / f"{name}.txt").write_text(f"{why}, worker seed {s}, {where}\n{log}")
            kept.append(name)
            print(f"kept {name}: {why} {where}", flush=True)
        restarts += 1
    counts = [p.read_text().split() for p in out.glob("count-*")]
    runs, loaded = sum(int(c[0]) for c in counts), sum(int(c[1]) for c in counts)
    swept = (f"{(out / 'sweep-done').read_text()} edits" if (out / "sweep-done").exists() else
             "not finished" if sweep_glob else "none")
    exceptions = sorted(p.name for p in out.glob("exception-*") if p.suffix != ".txt")
    print(f"{runs} inputs (counted per 100), {loaded} of them loaded, in {seconds:.0f} s; attribute sweep: {swept}; "
          f"{restarts} worker(s); kept: {kept + exceptions}")
    return 1 if kept or exceptions else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hang", type=float, default=30)
    ap.add_argument("--out", type=Path, default=Path("build/engine-campaign"))
    ap.add_argument("--sweep", default="", help="first edit every attribute of the seeds matching this glob "
                    "(attribute_edits), then mutate at random")
    ap.add_argument("--seeds", default="*", help="mutate the seeds matching these globs (comma-separated)")
    ap.add_argument("--extra-seeds", type=Path, help="also the NAME.payload seeds in this folder, matched by the "
                    "same globs (tools/path_seeds.py)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sweep-from", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.out, a.seed, a.sweep, a.sweep_from, a.seeds, a.extra_seeds)
    sys.exit(campaign(a.seconds, a.seed, a.out, a.hang, a.sweep, a.seeds, extra=a.extra_seeds))


if __name__ == "__main__":
    main()
