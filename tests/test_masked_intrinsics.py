"""The masked AVX-512 intrinsics check (tests/cpp/test_masked_intrinsics.cc, docs/reliability.md,
RESULTS.md 259) kept complete and its flag sets true, and the static KMOV-width check
(tools/mask_moves_check.py) run on the installed library.

- Every masked intrinsic the C++ sources use (`_mm*_mask_*`, `_mm*_maskz_*`, `_mm*_mask3_*`, those
  returning a mask, `_mm*_..._mask`, and the k-mask operations / loads / stores / conversions such as
  `_kand_mask16`, `_load_mask32`, `_cvtu32_mask16`) has a probe in tests/cpp/masked/masked_probes.cc, so a kernel that
  starts using a new one fails here until it is checked as compiled.
- `_mm512_mask_dpbf16_ps` (GCC 12 moves its __mmask16 with KMOVB when AVX512DQ is on) is used nowhere.
- The flag sets masked_probes.cmake compiles the probes with are the kernels' (csrc/kernels/x86/CMakeLists.txt).
- The static check reports nothing in libint8rt.so, and does report the known-bad use built by GCC.
"""
from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import int8rt

ROOT = Path(__file__).resolve().parent.parent
PROBES = ROOT / "tests" / "cpp" / "masked" / "masked_probes.cc"
PROBES_CMAKE = ROOT / "tests" / "cpp" / "masked" / "masked_probes.cmake"
X86_CMAKE = ROOT / "csrc" / "kernels" / "x86" / "CMakeLists.txt"
CHECK = ROOT / "tools" / "mask_moves_check.py"
LIB = Path(int8rt.__file__).resolve().parent / "lib" / "libint8rt.so"
BANNED = "_mm512_mask_dpbf16_ps"
MASKED = re.compile(r"\b_mm(?:512|256)?_(?:mask[z3]?_[a-z0-9_]+|[a-z0-9_]+_mask)\b"
                    # the k-mask operations, loads, stores and conversions (none used yet: a first use needs a probe)
                    r"|\b_(?:k[a-z]+_mask(?:8|16|32|64)[a-z0-9_]*|cvtu(?:32|64)_mask(?:8|16|32|64)"
                    r"|cvtmask(?:8|16|32|64)_u(?:32|64)|(?:load|store)_mask(?:8|16|32|64))\b"
                    r"|\b_mm512_(?:k[a-z]+|int2mask|mask2int)\b")


def _code(text: str) -> str:
    """C++ text without its comments."""
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)


def used_masked_intrinsics() -> dict[str, set[str]]:
    """Masked intrinsic -> the files under csrc/ that call it (the emulation headers, which define
    stand-ins for them, excluded)."""
    used: dict[str, set[str]] = {}
    for path in sorted((ROOT / "csrc").rglob("*")):
        if path.suffix not in (".cc", ".h", ".cu") or "emulation" in path.parts:
            continue
        for name in MASKED.findall(_code(path.read_text(errors="replace"))):
            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return used


def probed_intrinsics() -> set[str]:
    names = re.findall(r'P\(\w+, "([^"]+)"\)', PROBES.read_text())
    return {part.split("/")[0] for n in names for part in n.split("+")}


def test_every_masked_intrinsic_in_the_kernels_has_a_probe() -> None:
    used = used_masked_intrinsics()
    assert len(used) >= 30, sorted(used)  # the inventory of RESULTS.md 259 (36 when written)
    missing = {n: sorted(f) for n, f in used.items() if n not in probed_intrinsics()}
    assert not missing, f"masked intrinsics without a probe in {PROBES.name}: {missing}"


def test_the_miscompiled_intrinsic_is_used_nowhere() -> None:
    assert BANNED not in used_masked_intrinsics()
    assert BANNED in probed_intrinsics()  # the canary stays (OldDpbf16MaskUseIsCaught)


def _mflags(text: str) -> list[str]:
    return re.findall(r"(?<![\w-])-m[a-z0-9-]+", text)


def kernel_flag_sets() -> set[frozenset[str]]:
    """The -m flag sets the x86 kernels compile with: each AVX-512 tier's, and each per-file addition."""
    text = _code(X86_CMAKE.read_text().replace("#", "//"))
    tiers = {m.group(1): frozenset(_mflags(m.group(2)))
             for m in re.finditer(r"int8rt_add_x86_isa\((\w+)\s+\w+(.*?)\)", text, flags=re.S)}
    sets = {f for isa, f in tiers.items() if any(x.startswith("-mavx512") for x in f)}
    for m in re.finditer(r"set_source_files_properties\((.*?)PROPERTIES\s+COMPILE_OPTIONS\s+([^)]*)\)", text,
                         flags=re.S):
        extra = frozenset(_mflags(m.group(2)))
        for isa in set(re.findall(r"CMAKE_CURRENT_SOURCE_DIR\}/(\w+)/", m.group(1))):
            if extra and any(x.startswith("-mavx512") for x in tiers[isa]):
                sets.add(tiers[isa] | extra)
    return sets


def probe_flag_sets() -> set[frozenset[str]]:
    text = _code(PROBES_CMAKE.read_text().replace("#", "//"))
    var = {m.group(1): m.group(2) for m in re.finditer(r'set\((_avx512|_amx)\s+"([^"]*)"\)', text)}
    sets = set()
    for entry in re.findall(r'"\w+\|[01]\|[01]\|[01]\|([^"]*)"', text):
        for _ in range(2):
            entry = re.sub(r"\$\{(\w+)\}", lambda m: var[m.group(1)], entry)
        sets.add(frozenset(_mflags(entry)))
    return sets


def test_probe_flag_sets_are_the_kernels() -> None:
    kernels = kernel_flag_sets()
    assert len(kernels) >= 5, kernels
    assert probe_flag_sets() == kernels


needs_binutils = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64") or shutil.which("objdump") is None,
                                    reason="needs x86-64 and objdump")


@needs_binutils
def test_static_check_finds_nothing_in_the_library() -> None:
    if not LIB.exists():
        pytest.skip(f"{LIB} not found")
    r = subprocess.run([sys.executable, str(CHECK), str(LIB)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " 0 not classified" in r.stdout, r.stdout[-2000:]  # every masked use understood


@needs_binutils
def test_static_check_finds_the_known_bad_use(tmp_path: Path) -> None:
    """masked_probes.cc built by GCC with the AVX512-BF16 kernels' flags: the KMOVB before the masked
    VDPBF16PS is reported, and nothing else."""
    gxx = shutil.which("g++")
    if gxx is None or "clang" in subprocess.run([gxx, "--version"], capture_output=True, text=True).stdout.lower():
        pytest.skip("needs GCC (the compiler with the bug)")
    obj = tmp_path / "probes.o"
    subprocess.run([gxx, "-std=c++17", "-O2", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512bf16",
                    "-DINT8RT_MASKED_TABLE=probes", "-c", str(PROBES), "-o", str(obj)], check=True)
    r = subprocess.run([sys.executable, str(CHECK), str(obj)], capture_output=True, text=True)
    assert r.returncode == 1, r.stdout
    reports = [line for line in r.stdout.splitlines() if "may come" in line]
    assert len(reports) == 1 and "mask_dpbf16_ps" in reports[0] and "kmovb" in reports[0], r.stdout
