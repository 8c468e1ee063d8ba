"""auto's set "mse unsigned" (python/int8rt/accuracy/auto.py, UNSIGNED_MSE;
RESULTS_accuracy.md acc44): where auto holds tensors unsigned (a grid of 255
steps over [0, threshold]), one more set searches those tensors' MSE on that
grid (pytorch-quantization's unsigned quantizer) and every other tensor's as
the mse set does; steps 3 / 4 judge it as the other sets.

Checked: each tensor's threshold in the set against the histogram's own
searches; that the unsigned search is the better one for the grid the engine
holds (the quantization error of the tensor's values on that grid, computed
here in NumPy, lower at its threshold); the per-tensor method strings carry
the grid, so the final exact search and the folds reproduce the set."""
from __future__ import annotations

import numpy as np

from int8rt.accuracy import auto, auto_choice
from int8rt.calib.collector import Collector


def _collector(seed: int = 0) -> Collector:
    """A ReLU-like tensor (non-negative, a long right tail) and a signed one."""
    rng = np.random.default_rng(seed)
    c = Collector("mse", num_bins=2048, policy="extend")
    for _ in range(4):
        c.observe({"relu": np.maximum(rng.standard_normal((64, 256)) * rng.gamma(2.0, 1.0, (64, 1)), 0)
                   .astype(np.float32),
                   "signed": (rng.standard_normal((64, 256)) * 2).astype(np.float32)})
    return c


def _fake_quant_unsigned(x: np.ndarray, amax: float) -> np.ndarray:
    """x on the unsigned grid over [0, amax], 255 steps, round half to even, clipped."""
    scale = 255.0 / amax
    return np.clip(np.rint(x * scale), 0, 255) / scale


def test_the_set_searches_unsigned_tensors_on_their_grid_and_the_others_as_mse() -> None:
    c = _collector()
    sets = auto_choice.single_method_sets(c, ["relu", "signed"], methods=("mse", auto.UNSIGNED_MSE),
                                          unsigned={"relu"})
    mse, grid = sets["mse"][0], sets[auto.UNSIGNED_MSE][0]
    h = c.histogram("relu")
    assert grid["relu"] == float(np.float32(h.compute_amax("mse", is_unsigned=True)))
    assert mse["relu"] == float(np.float32(h.compute_amax("mse")))
    # the finer grid pays for a wider range: the threshold moves up, not past the maximum
    assert mse["relu"] < grid["relu"] <= h.max_abs
    assert grid["signed"] == mse["signed"] == float(np.float32(c.histogram("signed").compute_amax("mse")))
    assert sets[auto.UNSIGNED_MSE][1] == {"relu": "auto:all mse unsigned", "signed": "auto:all mse"}
    # the final exact search reads each tensor's method and gives the set's thresholds back
    again = auto_choice.apply_methods(c, sets[auto.UNSIGNED_MSE][1], {"relu", "signed"}, {})
    assert again == grid


def test_the_unsigned_search_has_the_lower_error_on_the_unsigned_grid() -> None:
    """The premise, measured on the values themselves: held on [0, T] with 255
    steps, a ReLU output's squared error (clipping and rounding) is lower at
    the unsigned search's threshold than at the symmetric search's, on the
    values it was calibrated on and on new ones drawn alike; relative L2
    against the values, which an all-zero (constant) output scores 1 on."""
    c = _collector(1)
    sets = auto_choice.single_method_sets(c, ["relu"], methods=("mse", auto.UNSIGNED_MSE), unsigned={"relu"})
    rng = np.random.default_rng(7)
    new = np.maximum(rng.standard_normal((256, 256)) * rng.gamma(2.0, 1.0, (256, 1)), 0)

    def rel(amax: float) -> float:
        return float(np.linalg.norm(_fake_quant_unsigned(new, amax) - new) / np.linalg.norm(new))

    at_mse, at_grid = rel(sets["mse"][0]["relu"]), rel(sets[auto.UNSIGNED_MSE][0]["relu"])
    assert at_grid < 0.95 * at_mse, (at_grid, at_mse)  # 0.0228 against 0.0248
    assert at_grid < 0.03 and rel(1e-30) > 0.99


def test_tensor_labels() -> None:
    assert auto.tensor_label(auto.UNSIGNED_MSE, True) == auto.UNSIGNED_MSE
    assert auto.tensor_label(auto.UNSIGNED_MSE, False) == "mse"
    assert auto.tensor_label("minmax", True) == "minmax"
    assert auto.options(auto.UNSIGNED_MSE) == {"is_unsigned": True}
    assert auto.UNSIGNED_MSE not in auto_choice.GLOBAL_METHODS  # only where auto holds tensors unsigned
