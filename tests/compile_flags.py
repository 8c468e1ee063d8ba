"""Reading compiler command lines of the test builds (CMake's compile_commands.json):
which optimization level takes effect. Used by test_sanitizers.py (the sanitized
build is all -O1) and test_cpp_unit.py (the C++ test build is all -O1)."""
from __future__ import annotations

import json
import shlex
from pathlib import Path


def last_optimization_level(command: str) -> str:
    """The -O option that takes effect in one compiler command line (GCC and clang: the last one)."""
    levels = [arg for arg in shlex.split(command) if arg.startswith("-O")]
    return levels[-1] if levels else "-O0"


def compile_entries(compile_commands: Path) -> list[dict[str, str]]:
    """The entries of a compile_commands.json, each with its "command" line (arguments joined where
    the generator wrote them as a list)."""
    entries = json.loads(compile_commands.read_text())
    for entry in entries:
        if "command" not in entry:
            entry["command"] = shlex.join(entry["arguments"])
    return entries
