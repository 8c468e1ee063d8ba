"""What the library's AMX and AVX-VNNI kernels compiled to, read from the
disassembly of the installed libint8rt.so (objdump): a check that runs on
every x86-64 machine, including those whose CPU cannot run these kernels.

- AMX (namespace x86::amx): the native tile instructions (ldtilecfg,
  tileloadd, tdpbssd, tilestored, tilerelease), not the emulation, and no
  other function of the library uses a tile instruction.
- AVX-VNNI (namespace x86::avxvnni): vpdpbusd and vpdpwssd in their VEX
  encodings (`{vex} vpdpbusd`, `{vex} vpdpwssd`) and no EVEX-only register (zmm, ymm16-31, k masks), so
  the kernels run on CPUs with AVX-VNNI but no AVX-512.
- AVX-512 (namespace x86::avx512): no VNNI instruction, so the tier runs on
  AVX-512 CPUs without VNNI.
"""
from __future__ import annotations

import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

import int8rt

pytestmark = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or shutil.which("objdump") is None,
    reason="needs x86-64 and objdump")

LIB = Path(int8rt.__file__).resolve().parent / "lib" / "libint8rt.so"
TILE_INSNS = ("ldtilecfg", "tileloadd", "tilestored", "tilezero", "tilerelease", "tdpb")
EVEX_ONLY = re.compile(r"%zmm\d|%ymm(1[6-9]|2\d|3[01])\b|%xmm(1[6-9]|2\d|3[01])\b|%k[0-7]\b")


@pytest.fixture(scope="module")
def functions() -> Dict[str, List[str]]:
    """Demangled function name -> its instruction lines."""
    if not LIB.exists():
        pytest.skip(f"{LIB} not found")
    out = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", str(LIB)],
                         capture_output=True, text=True, check=True).stdout
    funcs: Dict[str, List[str]] = {}
    current: List[str] = []
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            current = funcs.setdefault(m.group(1), [])
        elif line.startswith(" "):
            current.append(line)
    return funcs


def in_namespace(funcs: Dict[str, List[str]], ns: str) -> Dict[str, List[str]]:
    return {name: body for name, body in funcs.items() if f"kernels::x86::{ns}::" in name}


def test_amx_kernels_use_native_tile_instructions(functions) -> None:
    if not int8rt.kernels.isa_info()["amx"]["compiled"]:
        pytest.skip("library built without AMX kernels")
    amx = in_namespace(functions, "amx")
    assert amx, "no function in int8rt::kernels::x86::amx"
    text = "\n".join(line for body in amx.values() for line in body)
    for insn in ("ldtilecfg", "tileloadd", "tdpbssd", "tdpbf16ps", "tilestored", "tilerelease"):
        assert insn in text, f"no {insn} in the AMX kernels"
    assert "amx_emulation" not in " ".join(amx), "the emulation reached the library"
    outside = [name for name, body in functions.items()
               if "kernels::x86::amx::" not in name
               and any(insn in line for line in body for insn in TILE_INSNS)]
    assert not outside, f"tile instructions outside the AMX kernels: {outside[:5]}"


def test_avxvnni_kernels_are_vex_only(functions) -> None:
    if not int8rt.kernels.isa_info()["avxvnni"]["compiled"]:
        pytest.skip("library built without AVX-VNNI kernels")
    vnni = in_namespace(functions, "avxvnni")
    assert vnni, "no function in int8rt::kernels::x86::avxvnni"
    for insn in ("vpdpbusd", "vpdpwssd"):  # igemm; depthwise
        dots = [line for body in vnni.values() for line in body if insn in line]
        assert dots, f"no {insn} in the AVX-VNNI kernels"
        evex_dots = [line for line in dots if "{vex}" not in line]
        assert not evex_dots, f"EVEX {insn} in the AVX-VNNI kernels: {evex_dots[:3]}"
    evex = [(name, line) for name, body in vnni.items() for line in body if EVEX_ONLY.search(line)]
    assert not evex, f"EVEX-only registers in the AVX-VNNI kernels: {evex[:3]}"


def test_avx512_tier_uses_no_vnni(functions) -> None:
    """The avx512 tier (namespace x86::avx512, built with -mavx512f/bw/vl/dq
    only) holds no VNNI instruction, so its kernels run on AVX-512 CPUs
    without VNNI, as its CPU check (F/BW/VL/DQ) promises."""
    if not int8rt.kernels.isa_info()["avx512"]["compiled"]:
        pytest.skip("library built without avx512 kernels")
    funcs = in_namespace(functions, "avx512")
    assert funcs, "no function in int8rt::kernels::x86::avx512"
    assert any("zmm" in line for body in funcs.values() for line in body), "no AVX-512 code"
    vnni = [(name, line) for name, body in funcs.items() for line in body
            if "vpdpbusd" in line or "vpdpwssd" in line]
    assert not vnni, f"VNNI instructions in the avx512 tier: {vnni[:3]}"
