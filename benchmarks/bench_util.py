"""Shared helpers of the benchmark scripts: alternating timing with medians,
the machine line (CPU model, load average), memory readings, the ISA cap
shared with the peers (isa_cap), a second build of int8rt loaded beside
this one (import_before_build) and the allocation counter (alloc_counter).

Not part of the int8rt package; the scripts in this folder import it by
sitting beside it.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from typing import Any, Callable, Dict, List, Optional


def machine_line() -> str:
    """CPU model, logical CPUs, date and the 1/5/15-minute load average now."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"{now}  {model}, {os.cpu_count()} logical CPUs, load average {load}"


def load_line() -> str:
    """The 1/5/15-minute load average now (other jobs share the machine)."""
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def time_once(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds of one call of fn() by `clock`: wall time by default;
    time.process_time gives the process's CPU time, which on a loaded machine
    is a 1-thread run's own cost (the wall time also counts the time other
    processes held the core; RESULTS.md section 21)."""
    t0 = clock()
    fn()
    return clock() - t0


def alternating_samples(impls: Dict[str, Callable[[], object]], rounds: int,
                        min_time: float = 0.0, warmup: int = 1,
                        repeats: Optional[Dict[str, int]] = None,
                        clock: Callable[[], float] = time.perf_counter) -> Dict[str, List[float]]:
    """Seconds of every call of each implementation, calling them in turn
    (a, b, c, a, b, c, ...) for at least `rounds` rounds and until each has
    run about `min_time` seconds in total, so that load from other jobs
    falls on all of them alike. `repeats[name]` calls (default 1) of an
    implementation per round, each timed on its own, let a fast one gather
    more samples beside a slow one. `clock` as in time_once."""
    for f in impls.values():
        for _ in range(warmup):
            f()
    repeats = repeats or {}
    samples: Dict[str, List[float]] = {name: [] for name in impls}
    done = 0
    while done < rounds or min(sum(v) for v in samples.values()) < min_time:
        for name, f in impls.items():
            for _ in range(repeats.get(name, 1)):
                samples[name].append(time_once(f, clock))
        done += 1
        if done >= 5000:
            break
    return samples


def time_alternating(impls: Dict[str, Callable[[], object]], rounds: int,
                     min_time: float = 0.0, warmup: int = 1,
                     repeats: Optional[Dict[str, int]] = None,
                     clock: Callable[[], float] = time.perf_counter) -> Dict[str, float]:
    """Median seconds per call of each implementation (see alternating_samples)."""
    samples = alternating_samples(impls, rounds, min_time, warmup, repeats, clock)
    return {name: statistics.median(v) for name, v in samples.items()}


#: oneDNN's ONEDNN_MAX_CPU_ISA value for each int8rt tier that has one.
ONEDNN_MAX_CPU_ISA = {"avx2": "AVX2", "avxvnni": "AVX2_VNNI", "avx512": "AVX512_CORE",
                      "avx512vnni": "AVX512_CORE_VNNI", "amx": "AVX512_CORE_AMX"}


def add_isa_cap_and_cpu_time_args(ap: "argparse.ArgumentParser") -> None:
    """The --isa-cap and --cpu-time options of the peer benchmarks
    (e2e_bench.py, transformer_bench.py): one definition for both."""
    ap.add_argument("--isa-cap", choices=sorted(ONEDNN_MAX_CPU_ISA),
                    help="cap int8rt and OpenVINO's oneDNN at this tier for the whole run (isa_cap; OV INT8 then "
                         "compiles with precision hint f32); ONNX Runtime is not capped")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time each run by the process's CPU time (time.process_time), not the wall clock: "
                         "a 1-thread run's own cost on a loaded machine (RESULTS.md section 21)")


def engine_files_parser(doc: str) -> "argparse.ArgumentParser":
    """The options of the benchmarks over saved engine files
    (threads_batch_bench.py, run_alloc_bench.py): the files, --batch, --rounds."""
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("engines", nargs="+")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=7)
    return ap



def run_script_with(module: Any, attr: str, value: Any, script: str, args: List[str]) -> int:
    """Runs a benchmark script as ``__main__`` with ``module.attr`` set to ``value`` (restored after), so a
    library rule is measured swapped without editing it; returns the script's exit code."""
    import runpy
    import sys

    before = getattr(module, attr)
    setattr(module, attr, value)
    sys.argv = [script, *args]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        return int(e.code or 0)
    finally:
        setattr(module, attr, before)
    return 0

def run_result_child(name: str, cmd: List[str], timeout: float, json_path: Optional[str]) -> Dict[str, Any]:
    """Runs one network's child process (its own, so a crash or a leak ends with it) and returns the JSON of
    its last ``RESULT {...}`` line, or ``{"name", "error", "stderr"}`` when it printed none or timed out;
    adds the wall seconds and the load average, prints the row and appends it to ``json_path`` (JSON lines)."""
    import json
    import subprocess

    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
        r = json.loads(lines[-1][7:]) if lines else {
            "name": name, "error": f"exit {p.returncode}", "stderr": p.stderr[-800:]}
    except subprocess.TimeoutExpired:
        r = {"name": name, "error": f"timeout {timeout}s"}
    r["wall_s"] = round(time.perf_counter() - t0, 1)
    r["load"] = os.getloadavg()[0]
    print(json.dumps(r, default=float), flush=True)
    if json_path:
        with open(json_path, "a") as f:
            f.write(json.dumps(r, default=float) + "\n")
    return r


def alternate_trees(cmd: List[str], trees: Dict[str, str], pairs: int) -> None:
    """Runs ``cmd`` once per tree (``PYTHONPATH`` = the tree's python/ folder), the trees alternated ``pairs``
    times (base, new, base, new, ...), printing each run's output under a line naming the pair, the tree and
    the load: two builds timed by one script under the same load."""
    import subprocess

    for p in range(pairs):
        for label, tree in trees.items():
            env = dict(os.environ, PYTHONPATH=tree)
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            print(f"=== pair {p + 1} {label} (PYTHONPATH={tree}) load {os.getloadavg()}")
            print(out, flush=True)


def isa_cap(tier: str) -> str:
    """Cap int8rt (INT8RT_MAX_ISA, every kernel family) and OpenVINO's oneDNN
    (ONEDNN_MAX_CPU_ISA) at `tier` for the rest of the process; returns the
    line saying so. Call before openvino is first imported: oneDNN reads the
    variable once. What the cap does not reach: OpenVINO's own JIT nodes
    (Reduce, Eltwise, FakeQuantize, ... keep its CPUID choice, e.g.
    `jit_avx512_i8`) and ONNX Runtime (MLAS dispatches on CPUID, no cap
    exists). Below AVX512-BF16 OpenVINO's default precision hint (bf16 on this
    CPU) fails to compile, so capped OpenVINO rows use hint f32, the default
    of a CPU without BF16."""
    if tier not in ONEDNN_MAX_CPU_ISA:
        raise ValueError(f"no ONEDNN_MAX_CPU_ISA for tier {tier!r}; one of {sorted(ONEDNN_MAX_CPU_ISA)}")
    os.environ["INT8RT_MAX_ISA"] = tier
    os.environ["ONEDNN_MAX_CPU_ISA"] = ONEDNN_MAX_CPU_ISA[tier]
    return (f"ISA cap {tier}: INT8RT_MAX_ISA={tier}, ONEDNN_MAX_CPU_ISA={ONEDNN_MAX_CPU_ISA[tier]} "
            "(OpenVINO's own JIT nodes and ONNX Runtime's MLAS are not capped)")


def rss_mib() -> float:
    """Resident set size now, MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """Peak resident set size of this process image so far, MiB: VmHWM, which
    execve resets (getrusage's ru_maxrss does not: a child started by
    subprocess would report at least its parent's RSS at fork time)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmHWM in /proc/self/status")


def alloc_counter(path: Optional[str]) -> Any:
    """tests/native/alloc_counter.c's library at `path` (preloaded with
    LD_PRELOAD, so that it sees the process's allocations), or None."""
    if not path:
        return None
    import ctypes
    counter = ctypes.CDLL(path)
    counter.alloc_counter_stop.restype = ctypes.c_long
    return counter


def allocations_per_run(counter: Any, run: Callable[[], object], rounds: int = 3) -> int:
    """The fewest C++ heap allocations (made outside the GIL) of `rounds` calls of run()."""
    counts = []
    for _ in range(rounds):
        counter.alloc_counter_start()
        run()
        counts.append(counter.alloc_counter_stop())
    return min(counts)

