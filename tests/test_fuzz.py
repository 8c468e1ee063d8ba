"""The libFuzzer targets of tests/fuzz (docs/reliability.md).

Default run: fuzz_cache and fuzz_network_codec, built from the few sources
they read with clang under ASan + UBSan (about 15 CPU-seconds), each run for
INT8RT_FUZZ_SECONDS (default 10) from the committed corpus, which holds the
inputs of every crash found and fixed (``regress-*``): those are replayed
first. Slow (``-m slow``): fuzz_engine_file, which loads and runs whole
engines and so builds the whole library under the sanitizers (about 180
CPU-seconds), and longer runs of all three (INT8RT_FUZZ_LONG_SECONDS,
default 300 each).

clang with libFuzzer (Debian: clang libclang-rt-dev) is needed; without it
the tests skip on a developer machine and fail under CI (``CI`` set), where
.ci/run installs it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FUZZ = ROOT / "tests" / "fuzz"
CORPUS = FUZZ / "corpus"
# Inputs of crashes found by the fuzzers in code outside the parsers (layer
# semantics: shapes, pads, dilations, absent inputs), kept until fixed; each
# file's name says what it hits (tests/data/fuzz_crashes/README.md).
OPEN_CRASHES = ROOT / "tests" / "data" / "fuzz_crashes"
TARGETS = {"fuzz_cache": "cache", "fuzz_network_codec": "network_codec", "fuzz_engine_file": "engine_file"}


def _clang() -> str:
    clang = shutil.which("clang++")
    probe = None
    if clang:
        probe = subprocess.run([clang, "-fsanitize=fuzzer", "-x", "c++", "-", "-o", os.devnull],
                               input='extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) '
                                     "{ return 0; }", capture_output=True, text=True)
    if clang and probe.returncode == 0:
        return clang
    why = "clang++ not found" if not clang else "clang++ cannot link libFuzzer: " + probe.stderr[-300:]
    if os.environ.get("CI"):
        pytest.fail(f"{why} (under CI: apt-get install clang libclang-rt-dev, as .ci/run does)")
    pytest.skip(f"{why} (apt-get install clang libclang-rt-dev)")


def _build(build: Path, targets: list[str], engine: bool) -> Path:
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    r = subprocess.run(["cmake", "-S", str(FUZZ), "-B", str(build), *gen, f"-DCMAKE_CXX_COMPILER={_clang()}",
                        f"-DINT8RT_FUZZ_ENGINE={'ON' if engine else 'OFF'}"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail("fuzz targets failed to configure:\n" + r.stdout[-3000:] + r.stderr[-3000:])
    r = subprocess.run(["cmake", "--build", str(build), "-j", "2", "--target", *targets],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail("fuzz targets failed to build:\n" + r.stdout[-5000:] + r.stderr[-5000:])
    return build


@pytest.fixture(scope="session")
def parser_fuzzers() -> Path:
    # In the source tree's build/ (git-ignored) so that a second run is incremental.
    return _build(ROOT / "build" / "fuzz-tests", ["fuzz_cache", "fuzz_network_codec"], engine=False)


@pytest.fixture(scope="session")
def all_fuzzers() -> Path:
    return _build(ROOT / "build" / "fuzz-tests-all", list(TARGETS), engine=True)


def run_fuzzer(binary: Path, corpus: str, seconds: int, work: Path) -> int:
    """Runs `binary` for `seconds` from the committed corpus; fails naming the crashing input.
    Returns the number of inputs executed."""
    new_inputs = work / "new"
    new_inputs.mkdir(parents=True, exist_ok=True)
    dictionary = ["-dict=" + str(FUZZ / "engine.dict")] if corpus != "cache" else []
    cmd = [str(binary), *dictionary, "-seed=1", f"-max_total_time={seconds}", "-rss_limit_mb=2048", "-timeout=20",
           "-print_final_stats=1", f"-artifact_prefix={work}/", str(new_inputs), str(CORPUS / corpus)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 300)
    artifacts = sorted(p.name for p in work.iterdir() if p.name.startswith(("crash-", "leak-", "timeout-", "oom-")))
    assert r.returncode == 0 and not artifacts, (
        f"{binary.name} found a failure (exit {r.returncode}); inputs kept in {work}: {artifacts}\n"
        f"reproduce: {binary} {work}/<input>\n" + r.stderr[-6000:])
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", r.stderr)
    executed = int(m.group(1)) if m else 0
    print(f"{binary.name}: {executed} inputs in {seconds} s")
    return executed


@pytest.mark.parametrize("target", ["fuzz_cache", "fuzz_network_codec"])
def test_parser_fuzzers(parser_fuzzers: Path, target: str, tmp_path: Path) -> None:
    seconds = int(os.environ.get("INT8RT_FUZZ_SECONDS", "10"))
    assert run_fuzzer(parser_fuzzers / target, TARGETS[target], seconds, tmp_path) > 0


@pytest.mark.slow
@pytest.mark.parametrize("target", list(TARGETS))
def test_fuzzers_long(all_fuzzers: Path, target: str, tmp_path: Path) -> None:
    seconds = int(os.environ.get("INT8RT_FUZZ_LONG_SECONDS", "300"))
    assert run_fuzzer(all_fuzzers / target, TARGETS[target], seconds, tmp_path) > 0


def _open_crashes() -> list[Path]:
    return sorted(p for p in OPEN_CRASHES.glob("*/*") if p.is_file())


@pytest.mark.slow
@pytest.mark.parametrize("crash", _open_crashes(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_open_crash_inputs(all_fuzzers: Path, crash: Path) -> None:
    """Replays one saved crash input through its (sanitized) target: passes once the bug is fixed,
    after which the input moves to tests/fuzz/corpus/<target>/regress-<name>."""
    r = subprocess.run([str(all_fuzzers / f"fuzz_{crash.parent.name}"), "-timeout=60", str(crash)],
                       capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
