"""Whose are the leaks in a LeakSanitizer report? (docs/reliability.md; RESULTS.md 240, 260)

Python under the checking build (tools/sanitize_tests.sh's runtimes preloaded,
PYTHONMALLOC=malloc so every object is a heap block LeakSanitizer scans,
ASAN_OPTIONS=detect_leaks=1) ends with a report of objects nothing points to:
mostly references that extension modules keep on purpose at import. This
counts each report's allocations by the first frame outside CPython and the
sanitizer runtime (the extension module that asked for the memory) and counts
those with any int8rt frame. The stacks need a full unwind to get past
CPython, which keeps no frame pointers (ASAN_OPTIONS=fast_unwind_on_malloc=0;
an import or one engine build takes a minute or two, a whole test file far
longer).

    python tools/leak_origins.py LSAN_LOG...
"""
from __future__ import annotations

import re
import sys
from collections import Counter

_BLOCK = re.compile(r"\n(?=(?:Direct|Indirect) leak)")
_HEAD = re.compile(r"(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object")
_MODULE = re.compile(r"\((/\S+?)\+0x[0-9a-f]+\)")
_RUNTIME = ("libpython", "libasan", "libubsan")
_INT8RT = re.compile(r"/int8rt/|libint8rt|int8rt::|csrc/")


def _first_module(frames: list[str]) -> str:
    """The first frame's module outside CPython and the sanitizer runtime: an
    unsymbolized frame names its shared object; int8rt's own frames are
    symbolized (debug info), so they are known by their source paths."""
    for frame in frames:
        if _INT8RT.search(frame):
            return "int8rt"
        module = _MODULE.search(frame)
        if module and not module.group(1).rsplit("/", 1)[-1].startswith(_RUNTIME):
            return module.group(1).rsplit("/", 1)[-1]
    return "CPython only"


def origins(text: str) -> tuple[Counter[tuple[str, str]], int]:
    """(allocations per (Direct|Indirect, first module outside CPython), allocations with an int8rt frame)."""
    counts: Counter[tuple[str, str]] = Counter()
    ours = 0
    for block in _BLOCK.split(text):
        head = _HEAD.match(block)
        if head is None:
            continue
        n = int(head.group(3))
        counts[(head.group(1), _first_module(block.splitlines()[1:]))] += n
        if _INT8RT.search(block):
            ours += n
    return counts, ours


def main(paths: list[str]) -> int:
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            counts, ours = origins(f.read())
        print(f"== {path}")
        for (kind, module), n in sorted(counts.items(), key=lambda item: -item[1]):
            print(f"{n:6d} {kind:8s} {module}")
        print(f"allocations with an int8rt frame: {ours}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
