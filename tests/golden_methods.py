"""Independent NumPy implementations of int8rt's threshold (amax) methods.

Written from the published descriptions, mirroring the structure of the code
each method follows, and deliberately NOT importing int8rt:

- ``entropy``: NVIDIA pytorch-quantization / ModelOpt ``_compute_amax_entropy``
  (TensorRT EntropyCalibration2), with ``scipy.stats.entropy``;
- ``entropy_legacy``: TensorRT's legacy EntropyCalibration (GTC 2017 talk) with
  MXNet's ``_get_optimal_threshold`` merge rule and ``_smooth_distribution``;
- ``percentile`` / ``mse``: pytorch-quantization ``_compute_amax_percentile`` /
  ``_compute_amax_mse`` (its fake quantizer re-written in NumPy float32);
- ``minmax``: the exact max |x|.

Cases the references leave undefined (they raise or produce NaN) follow the
definitions written in int8rt's csrc/calib/*.cc headers: empty histogram -> 0,
no candidate -> last edge, entropy with all mass in bin 0 -> max_abs.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import entropy as scipy_entropy


def edges_of(num_bins: int, bin_width: float) -> np.ndarray:
    """Bin edges as int8rt's Histogram defines them: float32 ``i * bin_width``."""
    return np.arange(num_bins + 1, dtype=np.float32) * np.float32(bin_width)


def entropy_divergences(counts: np.ndarray, num_bits: int = 8, unsigned: bool = False,
                        stride: int = 1, start_bin: int = 128) -> np.ndarray:
    """KL of every candidate, the loop body of ``_compute_amax_entropy``.

    The reference's ``_normalize_distr`` is a no-op; scipy normalises both
    arguments, so it is not reproduced. A candidate whose Q has no mass at all
    gets +inf (P has mass there), where scipy would give NaN.
    """
    bins = np.array(counts, dtype=np.int64)
    if len(bins) > 1:
        bins[0] = bins[1]
    nbins = 1 << (num_bits - 1 + int(unsigned))
    divergences = []
    for i in range(start_bin, len(bins) + 1, stride):
        space = np.linspace(0, i, num=nbins + 1)
        digitized_space = np.digitize(np.arange(i), space) - 1  # np.digitize(range(i), ...)
        digitized_space[bins[:i] == 0] = -1
        kept = digitized_space != -1
        # The reference's two enumerate loops and its Counter, as bincounts
        # (bincount adds in index order, as the loop does).
        new_density_counts = np.bincount(digitized_space[kept], weights=bins[:i][kept],
                                         minlength=nbins).astype(np.float64)
        counter = np.bincount(digitized_space[kept], minlength=nbins)
        nonempty = counter > 0
        new_density_counts[nonempty] = new_density_counts[nonempty] / counter[nonempty]
        new_density = np.zeros(i, dtype=np.float64)
        new_density[kept] = new_density_counts[digitized_space[kept]]
        reference_density = np.array(bins[:len(digitized_space)], dtype=np.float64)
        reference_density[-1] += np.sum(bins[i:])
        if new_density.sum() == 0:
            divergences.append(np.inf)
        else:
            divergences.append(scipy_entropy(reference_density, new_density))
    return np.array(divergences, dtype=np.float64)


def amax_entropy(counts: np.ndarray, bin_width: float, max_abs: float, num_bits: int = 8,
                 unsigned: bool = False, stride: int = 1, start_bin: int = 128) -> np.float32:
    """``_compute_amax_entropy``: the LAST argmin of the divergences."""
    counts = np.asarray(counts)
    edges = edges_of(len(counts), bin_width)
    if counts.sum() == 0:
        return np.float32(0)
    if len(counts) < start_bin:
        return edges[len(counts)]
    if len(counts) > 1 and counts[1:].sum() == 0:
        return np.float32(max_abs)  # all mass in bin 0, zero after bins[0] = bins[1]
    divergences = entropy_divergences(counts, num_bits, unsigned, stride, start_bin)
    last_argmin = len(divergences) - 1 - np.argmin(divergences[::-1])
    return edges[last_argmin * stride + start_bin]


def _smooth_distribution(p: np.ndarray, eps: float = 0.0001) -> np.ndarray | None:
    """MXNet's smoothing in float64; None where MXNet raises or asserts."""
    is_zeros = (p == 0).astype(np.float64)
    is_nonzeros = (p != 0).astype(np.float64)
    n_zeros = is_zeros.sum()
    n_nonzeros = p.size - n_zeros
    if not n_nonzeros:
        return None
    eps1 = eps * float(n_zeros) / float(n_nonzeros)
    if not eps1 < 1.0:
        return None
    hist = p.astype(np.float64)
    hist += eps * is_zeros + (-eps1) * is_nonzeros
    if (hist <= 0).sum() != 0:
        return None
    return hist


def legacy_divergences(counts: np.ndarray, num_bits: int = 8, unsigned: bool = False,
                       stride: int = 1, start_bin: int = 128) -> np.ndarray:
    """MXNet's ``_get_optimal_threshold`` loop on the |x| histogram."""
    hist = np.asarray(counts, dtype=np.int64)
    num_quantized_bins = 1 << (num_bits - 1 + int(unsigned))
    divergence = []
    for i in range(start_bin, len(hist) + 1, stride):
        sliced_nd_hist = hist[:i]
        p = sliced_nd_hist.astype(np.float64)
        p[-1] += np.sum(hist[i:])
        is_nonzeros = (p != 0).astype(np.int64)
        num_merged_bins = sliced_nd_hist.size // num_quantized_bins
        # MXNet's merge: group j is [j*m, (j+1)*m), the last group also takes
        # the remainder [num_quantized_bins*m, i); its two loops as bincounts.
        if num_merged_bins == 0:
            group = np.full(i, num_quantized_bins - 1)
        else:
            group = np.minimum(np.arange(i) // num_merged_bins, num_quantized_bins - 1)
        quantized_bins = np.bincount(group, weights=sliced_nd_hist, minlength=num_quantized_bins)
        norm = np.bincount(group, weights=is_nonzeros, minlength=num_quantized_bins)
        expanded = np.zeros(num_quantized_bins, dtype=np.float64)
        nonzero_norm = norm != 0
        expanded[nonzero_norm] = quantized_bins[nonzero_norm] / norm[nonzero_norm]
        q = expanded[group]
        q[p == 0] = 0
        p_s = _smooth_distribution(p)
        q_s = _smooth_distribution(q)
        if p_s is None or q_s is None:
            divergence.append(np.inf)
        else:
            divergence.append(scipy_entropy(p_s, q_s))
    return np.array(divergence, dtype=np.float64)


def amax_entropy_legacy(counts: np.ndarray, bin_width: float, num_bits: int = 8,
                        unsigned: bool = False, stride: int = 1,
                        start_bin: int = 128) -> np.float32:
    """First argmin m of the legacy divergences; threshold (m + 0.5) * bin width."""
    counts = np.asarray(counts)
    if counts.sum() == 0:
        return np.float32(0)
    if len(counts) < start_bin:
        return edges_of(len(counts), bin_width)[len(counts)]
    divergence = legacy_divergences(counts, num_bits, unsigned, stride, start_bin)
    m = start_bin + int(np.argmin(divergence)) * stride
    return np.float32(m + 0.5) * np.float32(bin_width)


def amax_percentile(counts: np.ndarray, bin_width: float, percentile: float) -> np.float32:
    """``_compute_amax_percentile``."""
    if percentile <= 0 or percentile > 100:
        raise ValueError("percentile must be in (0, 100]")
    calib_hist = np.asarray(counts, dtype=np.uint64)
    total = calib_hist.sum()
    if total == 0:
        return np.float32(0)
    cdf = np.cumsum(calib_hist / total)
    idx = np.searchsorted(cdf, percentile / 100)
    return edges_of(len(calib_hist), bin_width)[idx]


def fake_tensor_quant(inputs: np.ndarray, amax: np.float32, num_bits: int,
                      unsigned: bool) -> np.ndarray:
    """pytorch-quantization's ``_tensor_quant`` (narrow range) then ``/ scale``, float32."""
    max_bound = np.float32(2.0 ** (num_bits - 1 + int(unsigned)) - 1.0)
    min_bound = np.float32(0) if unsigned else -max_bound
    if amax <= np.float32(1.0 / (1 << 24)):
        return np.zeros_like(inputs)  # the reference's zero-amax rule: everything quantizes to 0
    scale = np.float32(max_bound / amax)
    outputs = np.clip(np.round(inputs * scale), min_bound, max_bound)  # np.round: half to even
    return (outputs / scale).astype(np.float32)


def mse_values(counts: np.ndarray, bin_width: float, num_bits: int = 8, unsigned: bool = False,
               stride: int = 1, start_bin: int = 128) -> np.ndarray:
    """Per-candidate MSE: float32 terms, summed left to right in float64 (np.cumsum)."""
    counts_f = np.asarray(counts).astype(np.float32)
    edges = edges_of(len(counts_f), bin_width)
    centers = (edges[1:] + edges[:-1]) / np.float32(2)
    mses = []
    for i in range(start_bin, len(centers), stride):
        quant_centers = fake_tensor_quant(centers, centers[i], num_bits, unsigned)
        terms = ((quant_centers - centers) ** 2 * counts_f).astype(np.float32)
        mses.append(np.cumsum(terms.astype(np.float64))[-1] / len(centers))
    return np.array(mses, dtype=np.float64)


def amax_mse(counts: np.ndarray, bin_width: float, num_bits: int = 8, unsigned: bool = False,
             stride: int = 1, start_bin: int = 128) -> np.float32:
    """``_compute_amax_mse``: centre of the first argmin."""
    counts = np.asarray(counts)
    edges = edges_of(len(counts), bin_width)
    if counts.sum() == 0:
        return np.float32(0)
    if len(counts) <= start_bin:
        return edges[len(counts)]
    centers = (edges[1:] + edges[:-1]) / np.float32(2)
    mses = mse_values(counts, bin_width, num_bits, unsigned, stride, start_bin)
    return centers[start_bin + int(np.argmin(mses)) * stride]


def amax_minmax(max_abs: float) -> np.float32:
    """The exact maximum |x| seen."""
    return np.float32(max_abs)
