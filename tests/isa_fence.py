"""The ISA fence of a linked x86-64 library, read from its disassembly.

int8rt compiles each ISA's kernels with that ISA's flags, in the namespace
``int8rt::kernels::x86::<tier>`` (csrc/kernels/x86/CMakeLists.txt). An inline
function or template that both baseline code and an ISA file instantiate
(``std::vector<float>::assign``, a ``kernels::ref`` helper) is emitted in
both objects and the linker keeps one copy for every caller: if it keeps the
ISA file's copy, baseline code runs AVX-512 instructions on a CPU without
them (SIGILL). :func:`violations` finds every such function:

- what a function *needs*: the extensions its instructions use (AVX2/FMA for
  any VEX instruction, AVX-512 for zmm, ymm16-31, k masks and EVEX-only
  mnemonics, VNNI, AVX512-BF16, AMX tiles);
- what a function *may use*: for a function in a tier's namespace, that
  tier's extensions; for any other function, what every direct caller may use
  (calls and tail jumps, through the PLT too, to a fixed point), and nothing
  for one no code calls directly (entry points, virtual and callback targets);
- a violation: a function that needs more than it may use.

Used by tests/test_isa_fence.py on the installed libint8rt.so and on a small
library built wrong on purpose (so the check is seen to fail).
"""
from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from typing import Dict, FrozenSet, List, Set

AVX2, AVX512, VNNI, BF16, AMX = "avx2", "avx512", "vnni", "bf16", "amx"
# What each tier's files are compiled for (csrc/kernels/x86/CMakeLists.txt).
TIER_EXTENSIONS: Dict[str, FrozenSet[str]] = {
    "avx2": frozenset({AVX2}),
    "avxvnni": frozenset({AVX2, VNNI}),
    "avx512": frozenset({AVX2, AVX512}),
    "avx512bf16": frozenset({AVX2, AVX512, BF16}),
    "avx512vnni": frozenset({AVX2, AVX512, VNNI}),
    # AMX and AVX512-BF16 (amx/conv_nchw16c_bf16_32x32.cc alone, for its VCVTNEPS2BF16 epilogue).
    "amx": frozenset({AVX2, AVX512, VNNI, BF16, AMX}),
}
EVERYTHING = frozenset({AVX2, AVX512, VNNI, BF16, AMX})
TIER_NS = re.compile(r"int8rt::kernels::x86::(amx|avx512vnni|avx512bf16|avx512|avxvnni|avx2)::")
EVEX_REGS = re.compile(r"%zmm\d|%[xy]mm(1[6-9]|2\d|3[01])\b|%k[0-7]\b")
EVEX_ONLY_MNEMONICS = (
    "vpternlog", "vpermt2", "vpermi2", "vpermw", "vpcompress", "vpexpand", "vcompress", "vexpand",
    "vrndscale", "vscalef", "vfixupimm", "vgetexp", "vgetmant", "vrange", "vreduce", "vprol", "vpror",
    "vpconflict", "vplzcnt", "vcvtusi2", "vcvttps2udq", "vcvtps2udq", "vcvtudq2ps", "vpmovdb", "vpmovdw",
    "vpmovqb", "vpmovqw", "vpmovqd", "vpmovsdb", "vpmovsdw", "vpmovusdb", "vpmovusdw", "vpmovswb",
    "vpmovuswb", "vpmovwb", "vpabsq", "vpmaxsq", "vpminsq", "vpmaxuq", "vpminuq", "vpmullq", "vpsraq",
    "vextracti32x", "vextractf32x", "vextracti64x", "vextractf64x", "vinserti32x", "vinsertf32x",
    "vinserti64x", "vinsertf64x", "vshuff32x4", "vshufi32x4", "vshuff64x2", "vshufi64x2", "valign",
    "vblendm", "vpblendm", "vptestm", "vptestnm", "vpbroadcastm", "vdbpsadbw")
FUNCTION_HEAD = re.compile(r"^([0-9a-f]+) <(.*)>:$")
DIRECT_BRANCH = re.compile(r"^(?:call|jmp)\w*\s+([0-9a-f]+) <")


def extensions_of(instruction: str) -> Set[str]:
    """The ISA extensions one AT&T instruction line (mnemonic and operands) needs."""
    mnemonic = instruction.split(" ", 1)[0]
    if mnemonic.startswith(("tile", "tdp", "ldtilecfg", "sttilecfg")):
        return {AMX}
    need: Set[str] = set()
    if mnemonic.startswith("v") or "%ymm" in instruction:
        need.add(AVX2)
    if EVEX_REGS.search(instruction) or mnemonic.startswith(EVEX_ONLY_MNEMONICS):
        need.add(AVX512)
    if mnemonic.startswith(("vpdpbusd", "vpdpwssd")):
        need.add(VNNI)
    if mnemonic.startswith(("vcvtne2ps2bf16", "vcvtneps2bf16", "vdpbf16ps")):
        need.add(BF16)
    return need


def violations(library: str) -> List[str]:
    """One line per function of ``library`` that needs an extension that some
    tier reaching it lacks (module docstring), sorted; [] if the fence holds."""
    text = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", library],
                          capture_output=True, text=True, check=True).stdout
    name: Dict[int, str] = {}
    need: Dict[int, Set[str]] = defaultdict(set)
    callees: Dict[int, Set[int]] = defaultdict(set)
    here = None
    for line in text.splitlines():
        head = FUNCTION_HEAD.match(line)
        if head:
            here = int(head.group(1), 16)
            name[here] = head.group(2)
            continue
        fields = line.split("\t")
        if here is None or len(fields) < 2:
            continue
        instruction = fields[1].strip()
        need[here] |= extensions_of(instruction)
        branch = DIRECT_BRANCH.match(instruction)
        if branch:
            callees[here].add(int(branch.group(1), 16))
    # A call through the PLT reaches the library's own exported definition.
    exported: Dict[str, int] = {}
    symbols = subprocess.run(["nm", "-DC", "--defined-only", library],
                             capture_output=True, text=True, check=True).stdout
    for line in symbols.splitlines():
        fields = line.split(" ", 2)
        if len(fields) == 3:
            exported[fields[2]] = int(fields[0], 16)
    callers: Dict[int, Set[int]] = defaultdict(set)
    for caller, targets in callees.items():
        for target in targets:
            target_name = name.get(target)
            if target_name is None:
                continue  # a jump inside the function
            if target_name.endswith("@plt"):
                target = exported.get(target_name[:-4], target)
            if target != caller:
                callers[target].add(caller)

    def tier_of(address: int):
        found = TIER_NS.search(name[address])
        return TIER_EXTENSIONS[found.group(1)] if found else None

    may_use = {a: tier_of(a) or (EVERYTHING if callers[a] else frozenset()) for a in name}
    changed = True
    while changed:  # narrow what untiered functions may use to what all their callers may
        changed = False
        for address in name:
            if tier_of(address) is None and callers[address]:
                narrowed = frozenset.intersection(*(may_use[c] for c in callers[address]))
                if narrowed != may_use[address]:
                    may_use[address] = narrowed
                    changed = True
    return sorted(
        f"{name[a]}: needs {sorted(need[a] - may_use[a])} beyond what its callers may use "
        f"({sorted(may_use[a]) or 'baseline only'})"
        for a in name if need[a] - may_use[a])
