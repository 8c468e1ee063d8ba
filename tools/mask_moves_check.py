#!/usr/bin/env python3
"""Static check for the masked-intrinsic wrong-code class of docs/reliability.md:
a k register written at a NARROWER width than the lanes of a masked AVX-512
instruction that then reads it as its write mask (GCC 12's KMOVB before a
16-lane VDPBF16PS {k}, RESULTS.md 250 and 259).

Reads `objdump -d` of an object or shared library; over its basic blocks
(direct jumps, also into another symbol's code as GCC's shared tails do, and
fall-through; a call, or a jump onto a function's start, forgets every k register),
the widths each k register may have been written with at each instruction
(kmovb 8, kmovw 16, kmovd 32, kmovq 64, a k-to-k move no wider than its source;
a k instruction by its suffix; compares, vpmov*2m and the like every lane),
and at each `{%kN}` write-mask use the lanes of that instruction (vector width
/ element size from the mnemonic). A use with more lanes than some width its
mask may have is reported. Heuristic: a narrow move is right where the
compiler knows the upper bits are zero (an 8-bit constant), an indirect jump
is taken to reach every block of its function nothing else reaches, and in an
object file (not a linked library) jumps between sections are not followed, so
a report is a lead to read, not a verdict; tests/cpp/test_masked_intrinsics.cc is the check that
decides. The known-bad probe (masked_probes.cc's _mm512_mask_dpbf16_ps built
by GCC with AVX512DQ) is reported; tests/test_masked_intrinsics.py runs this.

Usage: tools/mask_moves_check.py FILE [FILE...]   (exit 1 when something is reported)
"""
from __future__ import annotations

import bisect
import re
import subprocess
import sys

REG_BITS = {"x": 128, "y": 256, "z": 512}
FUNC = re.compile(r"^[0-9a-f]+ <(.+)>:$")
INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
KMOV = re.compile(r"^kmov([bwdq])$")
K_OP = re.compile(r"^k(?:and|andn|or|xor|xnor|not|shiftl|shiftr|add|unpck..)([bwdq])$")
WIDTH = {"b": 8, "w": 16, "d": 32, "q": 64}


def element_bytes(mnemonic: str) -> int | None:
    """Element size of a masked vector instruction, from its AT&T mnemonic."""
    m = mnemonic.rstrip("xyz")  # vcvt..2bf16x etc.
    if re.match(r"^vpmov(?:s|us)?([qdw])[bwd]$", m):  # down-converts: lanes are the source's
        return {"q": 8, "d": 4, "w": 2}[m[-2]]
    if re.match(r"^vcvtt?ps2u?dq$|^vcvtu?dq2ps$", m):
        return 4
    if "bf16" in m or m.endswith(("ps", "ss")) or re.search(r"32x[48]$", m):
        return 4
    if m.endswith(("pd", "sd")) or re.search(r"64x[24]$", m):
        return 8
    if re.search(r"dq[au](?:8|16|32|64)$", m):
        return int(re.search(r"(\d+)$", m).group(1)) // 8
    if m.startswith("vp") or m.startswith("valign") or m.startswith("vmovdqa"):
        last = m[-1]
        return {"b": 1, "w": 2, "d": 4, "q": 8}.get(last)
    return None


def lanes(mnemonic: str, operands: str) -> int | None:
    regs = re.findall(r"%([xyz])mm\d+", operands)
    if not regs:
        return None
    eb = element_bytes(mnemonic)
    if eb is None:
        return None
    if mnemonic.startswith(("vextract", "vinsert")):
        bits = REG_BITS[regs[-1]] if not operands.rstrip().endswith(")") else REG_BITS[regs[0]]
        if mnemonic.startswith("vextract"):
            bits = min(REG_BITS[r] for r in regs)
    else:
        bits = max(REG_BITS[r] for r in regs)
    return bits // (8 * eb)


def functions(path: str):
    """(name, section, [(addr, mnemonic, operands)]) per function of objdump's listing (in an object file each
    section's addresses start at 0, so an address means something only with its section)."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], capture_output=True, text=True,
                         check=True).stdout
    name, section, fsec, body = None, "", "", []
    for line in out.splitlines():
        if line.startswith("Disassembly of section "):
            section = line[len("Disassembly of section "):].rstrip(":")
            continue
        f = FUNC.match(line)
        if f:
            if name is not None:
                yield name, fsec, body
            name, fsec, body = f.group(1), section, []
            continue
        i = INSN.match(line)
        if i and name is not None:
            addr, mnem, ops = i.groups()
            body.append((int(addr, 16), mnem, ops.split("#")[0].strip()))
    if name is not None:
        yield name, fsec, body


JUMP = re.compile(r"^j[a-z]+$")
TARGET = re.compile(r"^([0-9a-f]+)\s+<")


def blocks(body, secs, starts_of_functions):
    """Basic blocks (ranges of instruction indices) of the whole listing, their successors' block numbers, and
    the blocks that begin a function. Direct jumps are followed wherever they land, so code GCC shares between
    functions (a jump into another symbol's tail) is reached; a jump or fall-through onto a function's first
    instruction is a (tail) call, not an edge: k registers do not survive calls. An indirect jump leads to every
    block of its function that nothing else reaches (its table is not read)."""
    at = {(secs[n], a): n for n, (a, _, _) in enumerate(body)}

    def target(n: int) -> int | None:
        t = TARGET.match(body[n][2])
        return at.get((secs[n], int(t.group(1), 16))) if t and JUMP.match(body[n][1]) else None

    leaders = {0} | set(starts_of_functions)
    for n, (_, mnem, ops) in enumerate(body):
        if JUMP.match(mnem) or mnem.startswith("ret"):
            leaders.add(n + 1)
            if target(n) is not None:
                leaders.add(target(n))
    starts = sorted(x for x in leaders if x < len(body))
    block_of = {s0: b for b, s0 in enumerate(starts)}
    spans = [range(s0, starts[b + 1] if b + 1 < len(starts) else len(body)) for b, s0 in enumerate(starts)]
    entries = {block_of[f] for f in starts_of_functions if f in block_of}
    succ = []
    for b, span in enumerate(spans):
        _, mnem, ops = body[span[-1]]
        nxt = []
        if target(span[-1]) is not None:
            nxt.append(block_of[target(span[-1])])
        if not (mnem == "jmp" or mnem.startswith("ret")) and b + 1 < len(spans):
            nxt.append(b + 1)
        succ.append([x for x in nxt if x not in entries])
    # An indirect jump (a switch's table) may go to any block of its function that no direct edge reaches.
    func_of = [bisect.bisect_right(starts_of_functions, span[0]) - 1 for span in spans]
    reached = {x for nxt in succ for x in nxt} | entries
    orphans: dict[int, list[int]] = {}
    for b in range(len(spans)):
        if b not in reached:
            orphans.setdefault(func_of[b], []).append(b)
    for b, span in enumerate(spans):
        mnem, ops = body[span[-1]][1], body[span[-1]][2]
        if mnem == "notrack" or (mnem == "jmp" and ops.startswith("*")):
            succ[b] = succ[b] + orphans.get(func_of[b], [])
    return spans, succ, entries


def transfer(state, insn, where):
    """The k registers' possible (width, where written) after one instruction."""
    _, mnem, ops = insn
    if mnem.startswith("call"):
        return {}
    if not ops.endswith(("%k0", "%k1", "%k2", "%k3", "%k4", "%k5", "%k6", "%k7")):
        return state
    dest = ops.rsplit(",", 1)[-1]
    kdest = re.fullmatch(r"%(k[0-7])", dest)
    if not kdest:
        return state
    state = dict(state)
    km = KMOV.match(mnem)
    src = re.match(r"%(k[0-7]),", ops)
    if km and src:  # k to k: the copy is no wider than its source
        w = WIDTH[km.group(1)]
        state[kdest.group(1)] = frozenset((min(w, sw), sw_where if sw <= w else where)
                                          for sw, sw_where in state.get(src.group(1), {(w, where)}))
    elif km or K_OP.match(mnem):
        state[kdest.group(1)] = frozenset({(WIDTH[(km or K_OP.match(mnem)).group(1)], where)})
    else:
        state[kdest.group(1)] = frozenset({(64, where)})
    return state


def scan(path: str, stats: dict[str, int]) -> list[str]:
    body, names, secs, starts = [], [], [], []
    for func, section, insns in functions(path):
        starts.append(len(body))
        body.extend(insns)
        names.extend([func] * len(insns))
        secs.extend([section] * len(insns))
    if not any("{%k" in ops for _, _, ops in body):
        return []
    spans, succ, entries = blocks(body, secs, starts)
    entry = [None] * len(spans)
    for b in entries:
        entry[b] = {}
    work = sorted(entries)
    while work:  # reaching definitions of each k register (may: the union over paths)
        b = work.pop()
        st = entry[b]
        for n in spans[b]:
            st = transfer(st, body[n], f"{body[n][0]:x}: {body[n][1]} {body[n][2]}")
        for s in succ[b]:
            if entry[s] is None:
                merged = dict(st)
            else:
                merged = dict(entry[s])
                for k, v in st.items():
                    merged[k] = merged.get(k, frozenset()) | v
            if merged != entry[s]:
                entry[s] = merged
                work.append(s)
    reports: list[str] = []
    for b, span in enumerate(spans):
        st = entry[b] if entry[b] is not None else {}
        for n in span:
            addr, mnem, ops = body[n]
            use = re.search(r"\{%(k[1-7])\}", ops) if "{%k" in ops else None
            if use and not re.fullmatch(r"%k[0-7]", ops.rsplit(",", 1)[-1]):
                lanes_n = lanes(mnem, ops)
                stats["checked" if lanes_n is not None else "unclassified"] += 1
                if lanes_n is None:
                    stats["unclassified: " + mnem] = stats.get("unclassified: " + mnem, 0) + 1
                if use.group(1) not in st:
                    stats["unresolved"] += 1  # no definition the walk sees
                for w, where in sorted(st.get(use.group(1), ())):
                    if lanes_n is not None and lanes_n > w:
                        reports.append(f"{path}: {names[n]}: {addr:x}: {mnem} {ops} has {lanes_n} lanes, its "
                                       f"mask {use.group(1)} may come {w} bits wide from {where}")
                        break
            st = transfer(st, body[n], f"{addr:x}: {mnem} {ops}")
    return reports


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    stats = {"checked": 0, "unclassified": 0, "unresolved": 0}
    found = [r for p in argv for r in scan(p, stats)]
    for r in found:
        print(r)
    odd = sorted(k for k in stats if k.startswith("unclassified: "))
    print(f"mask_moves_check: {len(found)} narrow mask move(s) feeding wider masked instructions in {len(argv)} "
          f"file(s); {stats['checked']} masked uses checked, {stats['unclassified']} not classified, "
          f"{stats['unresolved']} with no mask definition found"
          + (f" ({', '.join(k[14:] for k in odd)})" if odd else ""))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
