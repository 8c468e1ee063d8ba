"""auto's thresholds on tensors held on per-channel grids (issue 12).

A tensor that the lowering holds with one scale per channel
(``channel_activations``, csrc/engine/lower_int8_channel_grids.cc) has no one
scale in the lowered layers, yet its per-tensor threshold T caps every
channel's (r_k = min(channel max, T)). auto (auto_choice.py) sets the final
thresholds of "the tensors the engine holds in int8" with the chosen
method's exact search over every calibration sample; it found those tensors
from the layers' one-grid scales, so a per-channel tensor kept the strided
search's threshold on the kept samples' histograms. On PP-OCRv4 rec (31 such
tensors) bias correction measured on that engine gave 0.9595 centred cosine
where on the MSE calibrator's it gives 0.98 (benchmarks/RESULTS_accuracy.md,
2026-12-04 night, acc14).

Here auto (no correction, symmetric activations) chooses mse on
test_channel_grids' PP-LCNet-style chain, whose four tensors get per-channel
grids; its engine must then be the MSE calibrator's on the same histograms
(auto's range policy and bins): the same grids, tensor by tensor and channel
by channel, and the same outputs."""
from __future__ import annotations

import numpy as np

import int8rt
from int8rt.calibrator import AUTO_NUM_BINS, AUTO_POLICY
from test_channel_grids import SPREAD, chain_model, H, W, plan_of

X_CAL = np.random.default_rng(11).uniform(-1, 1, (32, 3, H, W)).astype(np.float32)
X_EVAL = np.random.default_rng(12).uniform(-1, 1, (8, 3, H, W)).astype(np.float32)
FIXED = dict(bias_correction=False, unsigned_activations=False, equalize=False, accuracy_check=False)


def _build(m: bytes, algorithm: str, **options: object) -> int8rt.Engine:
    cal = int8rt.make_calibrator({"x": X_CAL}, algorithm=algorithm, batch_size=8, **options)
    return int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=cal, **FIXED))


def test_auto_choosing_mse_is_the_mse_calibrators_engine_on_per_channel_tensors() -> None:
    m = chain_model(SPREAD)
    auto = _build(m, "auto")
    assert auto.build_report().auto_choice["thresholds"] == "mse"
    mse = _build(m, "mse", policy=AUTO_POLICY, num_bins=AUTO_NUM_BINS)
    got, want = plan_of(auto), plan_of(mse)
    per_channel = sorted(n for n, (scale, channels) in want.items() if channels.size)
    assert per_channel == ["c1", "d1", "h1", "h2"], want
    assert set(got) == set(want)
    for name in sorted(want):
        assert got[name][0] == want[name][0], (name, got[name], want[name])
        np.testing.assert_array_equal(got[name][1], want[name][1], err_msg=name)
    np.testing.assert_array_equal(auto.run({"x": X_EVAL})["y"], mse.run({"x": X_EVAL})["y"])
