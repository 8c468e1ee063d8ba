"""A seeded mutation campaign over the engine-file fields added in December 2026 (RESULTS.md 216).

    PYTHONPATH=python python tools/engine_field_campaign.py --cases 300 --seed 1 --out /tmp/fields
    PYTHONPATH=python python tools/engine_field_campaign.py --cases 0 --random-seconds 600 --out /tmp/fields
    # tools/path_seeds.py's engines (the paths of 6-7 December 2026) beside the seeds built here:
    PYTHONPATH=python python tools/engine_field_campaign.py --extra-seeds /tmp/path-seeds --seeds longconv_path ...

Seeds (built here, small): bfloat16 tensors between BF16 Linear MatMuls (FC1 + bias + Gelu -> FC2),
one int8rt.ToBf16 for Q / K / V, an int8rt.Bf16Attention whose bfloat16 context reaches a Linear, a
channel-blocked BF16 ResNet-like net whose 3-channel stem reads the float32 image (the
int8rt_f32_input flag, set by the builder on AMX) on NCHW16c bfloat16 tensors, and two INT8 engines
whose Conv / Gemm weights are packed at load for the AMX int8 kernels (u8 codes, tests/fuzz corpus).

Each payload is parsed (engine_file.cc / network_codec.cc's layout) and mutated field by field:
truncated at every record boundary, every count (tensors, rank, constant bytes, nodes, ids, attributes,
list lengths) and tensor id set past the end, every tensor's dtype and flags byte changed, every dim at
its edges, every attribute's kind byte changed, the new flags added to every node where no kernel can
honour them (int8rt_f32_input, int8rt_precision, int8rt_residual, dtype, channels), every node's op
swapped for the new ops; then the moves of tools/engine_mutation_campaign.py at random (bit flips,
edge integers and floats, erased / repeated chunks, truncation). A case is loaded (Engine.deserialize)
under one of the CPU's BF16 tiers (amx / avx512bf16 / ref, cycling) and what loads runs once on
float32 inputs of its declared shapes.

Allowed: a load refused with int8rt.FormatError naming the bytes ("engine bytes: ..."), a run refused
with an int8rt.Error whose message is not empty, MemoryError, or a load and run that succeed. Anything
else is kept in OUT: a worker that dies (signal, sanitizer report) or stops for --hang seconds
(crash-* / hang-*, with the worker's stderr), another exception or an unclear message (exception-*).
The cases are a fixed list for a given seed and CPU; the worker process runs them in order, the parent
restarts it after the case that killed it. Counts are printed; exit status 1 when anything was kept.
Run under tools/sanitize_tests.sh's build (its site on PYTHONPATH, libasan / libubsan preloaded) it is
a sanitized campaign.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "tests")]

from engine_field_chain import FEEDS, chain_mutations, loop_grow_model  # noqa: E402
from engine_field_layout import Layout, field_mutations  # noqa: E402
from engine_mutation_campaign import frame, mutate  # noqa: E402

CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "engine_file"
AMX_SEEDS = ["u8codes_int8.payload", "block_int8.payload"]  # INT8 Conv / Gemm packed for AMX at load
FLOW_SEEDS = ["nested_if_in_loop_fp32.payload", "scan_fp32.payload"]  # If / Loop / Scan bodies (format 3)
MAX_INPUT_ELEMENTS = 1 << 16


def build_seeds() -> dict[str, bytes]:
    """Payloads of the seed engines (deterministic for a CPU: the builder sets the stem's flag on AMX)."""
    import int8rt
    from engine_bytes import payload
    from test_bf16_blocked import _block_model
    from test_bf16_blocked_dense import _resnet_model
    from test_bf16_gemm_tensors import context_model, ffn_model, qkv_model

    bf16 = int8rt.BuilderConfig(precision="fp32", bf16=True)
    blocked = int8rt.BuilderConfig(precision="fp32", bf16=True, channel_blocked=True)
    models = {"bf16_ffn": (ffn_model((2, 5), 32, 48, 16, keep_h=False), bf16),
              "bf16_qkv": (qkv_model((2, 3), 32, 16, shared=True), bf16),
              "bf16_context": (context_model(1, 2, 6, 8, 16, keep_ctx=False), bf16),
              "bf16_stem_nchw16c": (_resnet_model(stem=20, hw=(16, 18)), blocked),
              # 5 layers chained where AMX runs the region (tests/test_bf16_blocked_chain.py's network)
              "bf16_image_chain": (_block_model(16, 48, 32, pool=False, hw=(30, 30)), blocked),
              "loop_grow": (loop_grow_model(), int8rt.BuilderConfig(precision="fp32", channel_blocked=False))}
    seeds = {name: payload(int8rt.Engine.deserialize(
        int8rt.build_engine(data, config).serialize()).serialize()) for name, (data, config) in models.items()}
    for name in AMX_SEEDS + FLOW_SEEDS:
        seeds[name.split(".")[0]] = (CORPUS / name).read_bytes()
    return seeds


def cases(seeds: dict[str, bytes], n: int, seed: int, labels: str = "") -> list[tuple[str, str, bytes]]:
    """(seed name, label, payload): n of the field and chain mutations of every seed whose label `labels`
    matches (a regular expression, searched), drawn with `seed` (all for n < 0)."""
    every = [(name, label, data) for name, p in seeds.items()
             for label, data in field_mutations(Layout(p)) + chain_mutations(p) if re.search(labels, label)]
    if 0 <= n < len(every):
        every = random.Random(seed).sample(every, n)
    return every


def random_case(seeds: dict[str, bytes], rng: random.Random) -> tuple[str, str, bytes]:
    from make_fuzz_corpus import DICT_ATTRS, DICT_I32, DICT_I64, DICT_OPS

    names = [struct.pack("<Q", len(s)) + s.encode() for s in DICT_OPS + DICT_ATTRS]
    name = rng.choice(sorted(seeds))
    return name, "random", mutate(seeds[name], rng, names, DICT_I64, DICT_I32)


def feeds_for(engine, rng, dynamic: int = 1):
    """Inputs of the engine's declared shapes, dynamic dims `dynamic`: float32, or FEEDS' dtype and values for
    the control-flow seeds' counts and flags (an input whose dtype a mutation changed is refused at run);
    None when too large."""
    import numpy as np

    feeds = {}
    for name in engine.input_names:
        shape = [dynamic if d == -1 else d for d in engine.tensor_shape(name)]
        if any(d < 0 for d in shape) or float(np.prod(shape, dtype=np.float64)) > MAX_INPUT_ELEMENTS:
            return None
        if name in FEEDS:
            dtype, values = FEEDS[name]
            feeds[name] = np.full(shape, rng.choice(values), dtype)
        else:
            feeds[name] = (rng.standard_normal(shape) * 3).astype(np.float32)
    return feeds


# Dynamic dims of a case's two runs in one context (batch 1 .. 3, then another): the chain splits images from
# batch 2 on, and the second run reuses the pooled subgraph slots of the first at a new shape.
DYNAMIC = [(2, 1), (1, 3), (3, 2)]


def run_case(data: bytes, cap: str | None, rng, i: int = 0) -> str:
    """One case's outcome: 'ran', 'load:<Error>', 'run:<Error>', 'memory'; raises Unclear or what escaped."""
    import int8rt

    int8rt.set_max_isa(cap)
    try:
        try:
            engine = int8rt.Engine.deserialize(frame(data))
        except int8rt.Error as e:
            if not isinstance(e, int8rt.FormatError) or not str(e).startswith("engine bytes: "):
                raise Unclear(f"load refused with {type(e).__name__}: {e}") from e
            return f"load:{type(e).__name__}"
        engine.serialize()
        context = engine.create_execution_context()
        for dynamic in DYNAMIC[i % len(DYNAMIC)]:
            feeds = feeds_for(engine, rng, dynamic)
            if feeds is None:
                return "loaded"
            try:
                context.run(feeds)
            except int8rt.Error as e:
                if not str(e).strip():
                    raise Unclear(f"run refused with an empty {type(e).__name__}") from e
                return f"run:{type(e).__name__}"
        return "ran"
    except MemoryError:
        return "memory"
    finally:
        int8rt.set_max_isa(None)


class Unclear(Exception):
    """An int8rt refusal of the wrong kind or without a message."""


def caps() -> list[str | None]:
    import int8rt

    info = int8rt.kernels.isa_info()
    return [None] + [c for c in ("avx512bf16", "ref") if info[c]["cpu"]]


def worker(out: Path, start: int, n_cases: int, seed: int, random_seconds: float, labels: str) -> None:
    """Runs the cases from `start`, then random ones for random_seconds; OUT/current* say which runs."""
    import numpy as np

    seeds = {p.stem: p.read_bytes() for p in sorted((out / "seeds").glob("*.payload"))}
    fixed, tiers = cases(seeds, n_cases, seed, labels), caps()
    rng, nprng = random.Random(seed * 1000003 + start), np.random.default_rng(seed + start)
    end = time.monotonic() + random_seconds
    log = open(out / "outcomes.jsonl", "a")
    i = start
    while i < len(fixed) or (random_seconds > 0 and time.monotonic() < end):
        name, label, data = fixed[i] if i < len(fixed) else random_case(seeds, rng)
        cap = tiers[i % len(tiers)]
        (out / "current").write_bytes(data)
        (out / "current.txt").write_text(json.dumps({"i": i, "seed": name, "label": label, "cap": cap}))
        try:
            outcome = run_case(data, cap, nprng, i)
        except Exception as e:  # noqa: BLE001  (anything but int8rt's refusals is a finding)
            outcome = "exception"
            key = f"exception-{i}"
            (out / key).write_bytes(data)
            (out / f"{key}.txt").write_text(f"{name} {label} cap={cap}\n{type(e).__name__}: {e}"[:4000])
        log.write(json.dumps({"i": i, "seed": name, "label": label.split("=")[0], "outcome": outcome}) + "\n")
        log.flush()
        i += 1
    (out / "worker-done").write_text(str(i))


def campaign(out: Path, n_cases: int, seed: int, random_seconds: float, hang: float, seed_names: str = "",
             labels: str = "", extra: Path | None = None) -> int:
    """Runs the cases of the seeds named (all: ""), build_seeds' and folder `extra`'s NAME.payload files."""
    out.mkdir(parents=True, exist_ok=True)
    for p in out.iterdir():
        if p.is_file():
            p.unlink()
    (out / "seeds").mkdir(exist_ok=True)
    for p in (out / "seeds").iterdir():
        p.unlink()
    given = {p.stem: p.read_bytes() for p in sorted(extra.glob("*.payload"))} if extra else {}
    wanted = set(seed_names.split(",")) if seed_names else set()
    built = build_seeds() if not wanted or wanted - set(given) else {}  # none when `extra` holds every one named
    for name, data in {**built, **given}.items():
        if not seed_names or name in seed_names.split(","):
            (out / "seeds" / f"{name}.payload").write_bytes(data)
    start, kept, t0 = 0, [], time.monotonic()
    while True:
        (out / "current").unlink(missing_ok=True)
        err = out / f"worker-{start}.err"
        budget = max(0.0, random_seconds - (time.monotonic() - t0))
        with open(err, "wb") as f:
            proc = subprocess.Popen([sys.executable, __file__, "--worker", "--out", str(out), "--seed", str(seed),
                                     "--cases", str(n_cases), "--start", str(start),
                                     "--random-seconds", str(budget), "--labels", labels], stderr=f)
        why = None
        while proc.poll() is None:
            time.sleep(0.2)
            cur = out / "current"
            if cur.exists() and time.time() - cur.stat().st_mtime > hang:
                proc.kill()
                why = f"hang (no new case for {hang:.0f} s)"
        proc.wait()
        if why is None and (proc.returncode != 0 or not (out / "worker-done").exists()):
            why = f"crash (exit {proc.returncode})"
        if why is None:
            break
        if not (out / "current").exists():
            sys.exit(f"the worker stopped before its first case ({why}):\n" + err.read_text(errors="replace")[-4000:])
        where = json.loads((out / "current.txt").read_text())
        name = f"{why.split()[0]}-{where['i']}"
        (out / name).write_bytes((out / "current").read_bytes())
        (out / f"{name}.txt").write_text(f"{why}: {json.dumps(where)}\n" + err.read_text(errors="replace")[-8000:])
        kept.append(name)
        print(f"kept {name}: {why} {where}", flush=True)
        start = where["i"] + 1
    rows = [json.loads(line) for line in (out / "outcomes.jsonl").read_text().splitlines()]
    kept += sorted(p.name for p in out.glob("exception-*") if p.suffix != ".txt")
    summary: dict[str, int] = {}
    for r in rows:
        summary[r["outcome"]] = summary.get(r["outcome"], 0) + 1
    per_seed = {s: sum(r["seed"] == s for r in rows) for s in sorted({r["seed"] for r in rows})}
    print(f"{len(rows)} cases ({sum(r['label'] != 'random' for r in rows)} field mutations, "
          f"{sum(r['label'] == 'random' for r in rows)} random) in {time.monotonic() - t0:.0f} s; "
          f"outcomes {json.dumps(dict(sorted(summary.items())))}; per seed {json.dumps(per_seed)}; kept: {kept}")
    return 1 if kept else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=300, help="field mutations drawn from all of them (-1: all)")
    ap.add_argument("--random-seconds", type=float, default=0, help="random mutations after the field ones")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hang", type=float, default=60)
    ap.add_argument("--seeds", default="", help="comma-separated seed names (default: all)")
    ap.add_argument("--labels", default="", help="only the field / chain mutations whose label this searches")
    ap.add_argument("--extra-seeds", type=Path, help="also the NAME.payload seeds in this folder (tools/path_seeds.py)")
    ap.add_argument("--out", type=Path, default=Path("build/engine-field-campaign"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.out, a.start, a.cases, a.seed, a.random_seconds, a.labels)
        return
    sys.exit(campaign(a.out, a.cases, a.seed, a.random_seconds, a.hang, a.seeds, a.labels, a.extra_seeds))


if __name__ == "__main__":
    main()
