"""auto does not try unsigned activations where they cost speed
(int8rt.accuracy.unsigned_form.speed_cost): on an x86 CPU without VNNI the
AVX2 int8 convs read unsigned inputs (bytes 0..255) on their slower sign
tile (RESULTS.md §224: ResNet-50 INT8 1.5x the time). The rule reads the
CPU's features, given here, so every machine runs both branches (the
autouse fixture in conftest.py stands it down for the other tests; these
restore it)."""
from __future__ import annotations

import pytest

import int8rt
from accuracy_models import entropy_collapse_case
from int8rt import kernels
from int8rt.accuracy import unsigned_form

_SPEED_COST = unsigned_form.speed_cost  # the library's rule, before conftest.py's fixture replaces it
_AVX2_ONLY = {"avx2": True, "avx512_vnni": False, "avx_vnni": False, "amx_int8": False}


def _cpu(monkeypatch: pytest.MonkeyPatch, **features: bool) -> None:
    monkeypatch.setattr(unsigned_form, "speed_cost", _SPEED_COST)
    monkeypatch.setattr(kernels, "cpu_features", lambda: {**_AVX2_ONLY, **features})


def _auto_choice(**config) -> dict:
    c = entropy_collapse_case(seed=1)
    engine = int8rt.build_engine(c.model, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator({"x": c.calib[:96]}, algorithm="auto", batch_size=16),
        accuracy_check=False, **config))
    return engine.build_report().auto_choice


@pytest.mark.parametrize("features, costs", [
    ({}, True),
    ({"avx512_vnni": True}, False),
    ({"avx_vnni": True}, False),
    ({"amx_int8": True}, False),
    ({"avx2": False}, False),  # no AVX2 tier: the reference kernels read either form alike
])
def test_the_rule_reads_the_cpu(monkeypatch: pytest.MonkeyPatch, features: dict, costs: bool) -> None:
    _cpu(monkeypatch, **features)
    assert bool(unsigned_form.speed_cost("cpu")) is costs
    assert unsigned_form.speed_cost("cuda") == ""


def test_auto_leaves_unsigned_off_on_an_avx2_only_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model on which auto keeps unsigned (test_auto_unsigned_first):
    on an AVX2-only CPU no trial runs and the report says why."""
    _cpu(monkeypatch)
    choice = _auto_choice()
    assert choice["unsigned_activations"] == f"off ({_SPEED_COST('cpu')})", choice
    assert "unsigned on" not in choice["errors"], choice


def test_auto_still_tries_unsigned_on_a_vnni_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _cpu(monkeypatch, avx512_vnni=True)
    choice = _auto_choice()
    assert choice["unsigned_activations"].startswith("on (auto"), choice


def test_a_forced_form_is_kept_on_an_avx2_only_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """unsigned_activations=True is the user's: held unsigned whatever the CPU."""
    _cpu(monkeypatch)
    engine = int8rt.build_engine(entropy_collapse_case(seed=1).model, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator({"x": entropy_collapse_case(seed=1).calib[:96]}, algorithm="auto",
                                          batch_size=16), accuracy_check=False, unsigned_activations=True))
    assert engine.build_report().auto_choice["unsigned_activations"] == "on (BuilderConfig)"
    assert any(t.zero_point != 0 for t in engine.int8_plan().tensors)
