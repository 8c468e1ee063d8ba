"""The include rules of csrc/ (each folder's README.md, "May include"): a
folder includes only the folders below it, so kernels know no graph, the
graph knows no kernel, and the public headers include nothing internal. The
sources are scanned as text; a violation names the file, line and header."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parent.parent / "csrc"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

# folder under csrc/ -> the top-level folders its quoted includes may name.
ALLOWED = {
    "core": {"core", "int8rt"},
    "kernels": {"kernels", "core", "int8rt"},
    "calib": {"calib", "core", "int8rt"},
    "graph": {"graph", "core", "int8rt"},
    "engine": {"engine", "kernels", "graph", "calib", "core", "int8rt"},
    "include": {"int8rt"},
}
SOURCES = ("*.h", "*.cc", "*.cu", "*.cuh")


def quoted_includes(path: Path) -> list[tuple[int, str]]:
    text = path.read_text()
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in INCLUDE.finditer(text)]


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_folder_includes_only_what_its_readme_allows(folder: str) -> None:
    files = [p for pattern in SOURCES for p in (CSRC / folder).rglob(pattern)]
    assert files, f"csrc/{folder} has no sources"
    bad = []
    for path in files:
        for line, header in quoted_includes(path):
            top = header.split("/", 1)[0]
            # A header next to the file ("dpbusd.h") is the folder's own.
            if "/" in header and top not in ALLOWED[folder]:
                bad.append(f"{path.relative_to(CSRC)}:{line}: {header}")
    assert not bad, f"csrc/{folder} may include only {sorted(ALLOWED[folder])}:\n" + "\n".join(bad)


def test_every_folder_has_a_rule_and_a_readme() -> None:
    folders = {p.name for p in CSRC.iterdir() if p.is_dir()} - {"python"}
    assert folders == set(ALLOWED), "a csrc/ folder without an include rule here"
    for folder in folders:
        assert (CSRC / folder / "README.md").is_file(), f"csrc/{folder}/README.md is missing"
