"""Bias correction of a conv that reads a table layer's output
(python/int8rt/accuracy/lut_inputs.py; bias_correction.measure_shifts ``luts``).

The engine computes a table output (here a SiLU, ``c1 * Sigmoid(c1)``,
lowered to one ``int8rt.QLut``) from the table *input*'s int8 code: the
value the next conv reads is the function of c1 rounded to c1's grid, then
rounded to the output's. Bias correction used to model it as the float SiLU
output rounded to the output's grid, which misses the first rounding and
c1's clipping (PP-OCRv4 det: mse + bias correction 0.9496 against 0.9501
without; RESULTS_accuracy.md, 2026-12-04 morning (defaults)).

Checked here: the table and grids read back from the lowered network give
the engine's own table output bit for bit; and the shifts bias correction
measures for the conv reading the table output are those of an independent
NumPy convolution of the table output computed from the float c1, and not
those of the float output rounded on its own grid (the old model)."""
from __future__ import annotations

import numpy as np
import pytest

from int8rt.accuracy import bias_correction as biascorr
from int8rt.accuracy import run as run_mod
from int8rt.accuracy import taps
from int8rt.accuracy.lut_inputs import lut_inputs, table_output
from int8rt.accuracy.metrics import fake_quantize

from test_affine_grids_bias_correction import WEIGHTS, X, _build, _model


def _conv3x3_sums(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per output channel, the sum over samples and positions of the padded
    3x3 convolution of ``x`` [N, C, H, W] with ``w`` (no bias), float64."""
    x = x.astype(np.float64)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    h, wd = x.shape[2], x.shape[3]
    out = np.zeros(w.shape[0])
    for kh in range(3):
        for kw in range(3):
            out += np.einsum("oi,ni->o", w[:, :, kh, kw].astype(np.float64),
                             xp[:, :, kh:kh + h, kw:kw + wd].sum(axis=(2, 3)))
    return out


@pytest.mark.parametrize("unsigned", [False, True])
def test_table_output_is_the_engines(unsigned: bool) -> None:
    """table_output(lut, c1 as the engine holds it) == the SiLU output as
    the engine holds it, exactly: the table bytes and both grids are read
    back right."""
    engine = _build(_model(relu_branch=False), "minmax", unsigned_activations=unsigned)
    lowered = engine._native.network()
    luts = lut_inputs(lowered)
    assert set(luts) == {"s"} and luts["s"].source == "c1", luts
    assert luts["s"].grid[1] not in (0, -128)  # the asymmetric SiLU grid
    shapes = {"c1": [len(X), 8, 8, 8], "s": [len(X), 8, 8, 8]}
    tap, where = taps.int8_tap_engine(lowered, shapes, ["c1", "s"])
    got = tap.create_execution_context().run({"x": X})
    c1, s = got[where["c1"]], got[where["s"]]
    np.testing.assert_array_equal(table_output(luts["s"], c1), s)


def test_shift_of_a_conv_reading_a_table_output_is_through_the_table(monkeypatch) -> None:
    """The correction of the conv reading s (bias correction forced, minmax)
    is minus the mean output change an independent NumPy convolution gives
    for q(s) = table(c1 on c1's grid) against the float s (float64 sums:
    1e-5 absolute), and differs from the old model's, q(s) = s rounded on
    its own grid, by more than 10% of its largest value."""
    seen: list[tuple] = []
    measure = biascorr.measure_shifts

    def spy(*args, **kwargs):
        out = measure(*args, **kwargs)
        seen.append((args, kwargs, out))
        return out

    monkeypatch.setattr(run_mod.biascorr, "measure_shifts", spy)
    _build(_model(relu_branch=False), "minmax", bias_correction=True, unsigned_activations=False)
    assert seen, "bias correction did not measure"
    (network, scales, data, *_), kwargs, deltas = seen[0]
    luts = kwargs.get("luts") or {}
    assert "s" in luts, "bias correction was not told how the engine computes s"
    (conv,) = [n for n in network.nodes() if n["op"] == "Conv" and network.tensor(n["inputs"][0])["name"] == "s"]
    x = np.concatenate([g["x"] for g in taps.groups(data)])
    fp32 = taps.fp32_tap_engine(network, ["c1", "s"]).create_execution_context().run({"x": x})
    w2 = WEIGHTS["w2"]
    qw2 = biascorr.quantize_weights(w2)
    positions = x.shape[0] * 8 * 8
    want = -(_conv3x3_sums(table_output(luts["s"], fp32["c1"]), qw2) - _conv3x3_sums(fp32["s"], w2)) / positions
    got = np.asarray(deltas[conv["name"]], np.float64)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    old = -(_conv3x3_sums(fake_quantize(fp32["s"], *kwargs["affine"]["s"]), qw2)
            - _conv3x3_sums(fp32["s"], w2)) / positions
    assert np.abs(old - want).max() > 0.1 * np.abs(want).max(), (old, want)
