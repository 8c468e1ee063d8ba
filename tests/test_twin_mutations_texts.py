"""The mutation check's texts still name the kernels' code (tools/twin_mutations.py).

tools/twin_mutations.py breaks one kernel line at a time and expects a twin
test to fail; a mutation whose text no longer occurs exactly once in its file
cannot be applied, so a rewrite of a kernel silently retires its mutation
(RESULTS.md 202 rewrote the AMX-BF16 tap walk and left M25-M27 matching
nothing). This keeps every text applicable, without building anything.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _mutations() -> list:
    spec = importlib.util.spec_from_file_location("twin_mutations", ROOT / "tools" / "twin_mutations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MUTATIONS


@pytest.mark.parametrize("mutation", _mutations(), ids=lambda m: m[0].split()[0])
def test_mutation_text_occurs_once_in_its_file(mutation: tuple) -> None:
    name, path, text, mutated = mutation
    source = (ROOT / path).read_text()
    assert source.count(text) == 1, f"{name}: its text occurs {source.count(text)} times in {path}"
    assert mutated != text, f"{name}: the mutated text equals the original"
