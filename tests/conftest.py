"""Shared pytest fixtures.

auto's choice of unsigned activations is skipped on CPUs where that form
costs speed (int8rt.accuracy.unsigned_form.speed_cost: x86 without VNNI).
The tests of auto's decisions are about accuracy and must decide alike on
every CPU, so every test sees a CPU where the form costs nothing;
tests/test_auto_unsigned_speed.py checks the rule itself with the CPU's
features given."""
from __future__ import annotations

from typing import Iterator

import pytest

from int8rt.accuracy import unsigned_form


@pytest.fixture(autouse=True, scope="session")
def _unsigned_form_costs_nothing() -> Iterator[None]:
    # session scope: set up before any module- or session-scoped fixture that
    # builds an engine (tests/test_qdq_export_engine.py's digits_auto)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(unsigned_form, "speed_cost", lambda device: "")
        yield
