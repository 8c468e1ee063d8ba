"""Independent NumPy implementations of int8rt's kernel formulas, written from
the formulas in csrc/kernels/ref/*.h|cc comments (not from the C++ code), for
tests/test_ref_kernels.py. Float arithmetic is float32, one IEEE rounding per
operation in the stated order (NumPy float32 ufuncs do not fuse), and np.rint
rounds half to even, so int8 results must equal the kernels' exactly.
first_mismatch is the comparison the kernel tests share."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

F32 = np.float32


def clamp(t: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.where(t >= F32(lo), t, F32(lo)).astype(F32)
    return np.where(t <= F32(hi), t, F32(hi)).astype(F32)


def epilogue(acc: np.ndarray, scale: np.ndarray, bias: Optional[np.ndarray], lo: float,
             hi: float, residual: Optional[np.ndarray] = None, residual_scale: float = 0.0,
             out_dtype: str = "int8") -> np.ndarray:
    """acc [..., K] int64 -> t = acc*scale + bias (+ r*rs), clamped; int8: rint."""
    t = acc.astype(F32) * scale.astype(F32)
    t = t + (bias.astype(F32) if bias is not None else F32(0))
    if residual is not None:
        t = t + residual.astype(F32) * F32(residual_scale)
    t = clamp(t.astype(F32), lo, hi)
    return np.rint(t).astype(np.int8) if out_dtype == "int8" else t


def conv_out(size: int, pad_a: int, pad_b: int, k: int, dil: int, stride: int) -> int:
    return (size + pad_a + pad_b - dil * (k - 1) - 1) // stride + 1


def conv2d_acc(x: np.ndarray, w: np.ndarray, stride: Tuple[int, int], pads: Sequence[int],
               dilation: Tuple[int, int], groups: int) -> np.ndarray:
    """x [N,H,W,C] (NHWC), w [K,C/g,R,S] -> int64 acc [N,OH,OW,K]."""
    n, h, wd, c = x.shape
    k, cg, r_, s_ = w.shape
    pt, pl, pb, pr = pads
    sh, sw = stride
    dh, dw = dilation
    oh, ow = conv_out(h, pt, pb, r_, dh, sh), conv_out(wd, pl, pr, s_, dw, sw)
    xp = np.pad(x.astype(np.int64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    kg = k // groups
    acc = np.zeros((n, oh, ow, k), np.int64)
    for g in range(groups):
        xg = xp[..., g * cg:(g + 1) * cg]
        wg = w[g * kg:(g + 1) * kg].astype(np.int64)
        for r in range(r_):
            for s in range(s_):
                patch = xg[:, r * dh:r * dh + sh * (oh - 1) + 1:sh,
                           s * dw:s * dw + sw * (ow - 1) + 1:sw, :]
                acc[..., g * kg:(g + 1) * kg] += patch @ wg[:, :, r, s].T
    return acc


def quantize(x: np.ndarray, scale: float, zero_point: int = 0) -> np.ndarray:
    inv = F32(1) / F32(scale)
    v = clamp(x.astype(F32) * inv + F32(zero_point), -128, 127)
    return np.rint(v).astype(np.int8)


def pool_windows(h: int, w: int, kernel, stride, pads):
    """Yields (oh, ow, r0, r1, s0, s1): each window clipped to the input."""
    r_, s_ = kernel
    pt, pl, pb, pr = pads
    oh_n, ow_n = conv_out(h, pt, pb, r_, 1, stride[0]), conv_out(w, pl, pr, s_, 1, stride[1])
    for oh in range(oh_n):
        h0 = oh * stride[0] - pt
        for ow in range(ow_n):
            w0 = ow * stride[1] - pl
            yield oh, ow, max(h0, 0), min(h0 + r_, h), max(w0, 0), min(w0 + s_, w)


def pool_out_shape(h: int, w: int, kernel, stride, pads) -> Tuple[int, int]:
    return (conv_out(h, pads[0], pads[2], kernel[0], 1, stride[0]),
            conv_out(w, pads[1], pads[3], kernel[1], 1, stride[1]))


def maxpool_nhwc(x: np.ndarray, kernel, stride, pads) -> np.ndarray:
    n, h, w, c = x.shape
    y = np.empty((n, *pool_out_shape(h, w, kernel, stride, pads), c), x.dtype)
    for oh, ow, r0, r1, s0, s1 in pool_windows(h, w, kernel, stride, pads):
        y[:, oh, ow, :] = x[:, r0:r1, s0:s1, :].max(axis=(1, 2))
    return y


def avg_requant(total: np.ndarray, count: int, s_in: float, s_out: float, z_out: int = 0) -> np.ndarray:
    m = F32(s_in) / (F32(s_out) * F32(count))
    return np.rint(clamp(total.astype(F32) * m + F32(z_out), -128, 127)).astype(np.int8)


def avgpool_s8(x: np.ndarray, kernel, stride, pads, count_include_pad: bool, s_in: float,
               s_out: float, z_in: int = 0, z_out: int = 0) -> np.ndarray:
    """Each window's sum of (x - z_in) over the positions inside the input
    (padding stands for the value 0), averaged over count, requantized to
    s_out and shifted by z_out."""
    n, h, w, c = x.shape
    y = np.empty((n, *pool_out_shape(h, w, kernel, stride, pads), c), np.int8)
    for oh, ow, r0, r1, s0, s1 in pool_windows(h, w, kernel, stride, pads):
        total = (x[:, r0:r1, s0:s1, :].astype(np.int64) - z_in).sum(axis=(1, 2))
        count = kernel[0] * kernel[1] if count_include_pad else (r1 - r0) * (s1 - s0)
        y[:, oh, ow, :] = avg_requant(total, count, s_in, s_out, z_out)
    return y


def add_s8(a: np.ndarray, b: np.ndarray, s_a: float, s_b: float, s_y: float,
           relu: bool) -> np.ndarray:
    am, bm = F32(s_a) / F32(s_y), F32(s_b) / F32(s_y)
    t = a.astype(F32) * am + b.astype(F32) * bm
    return np.rint(clamp(t, 0 if relu else -128, 127)).astype(np.int8)


def concat_s8(xs, scales, s_out: float) -> np.ndarray:
    parts = []
    for x, s in zip(xs, scales):
        m = F32(s) / F32(s_out)
        parts.append(np.rint(clamp(x.astype(F32) * m, -128, 127)).astype(np.int8))
    return np.concatenate(parts, axis=-1)


def conv2d_f64_nchw(x: np.ndarray, w: np.ndarray, bias, stride, pads, dilation, groups):
    """Float64 NCHW conv and the sum of |terms| per output (for error bounds)."""
    xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).astype(np.float64)
    n, h, wd, c = xn.shape
    k, cg, r_, s_ = w.shape
    pt, pl, pb, pr = pads
    oh, ow = (conv_out(h, pt, pb, r_, dilation[0], stride[0]),
              conv_out(wd, pl, pr, s_, dilation[1], stride[1]))
    xp = np.pad(xn, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    y = np.zeros((n, oh, ow, k))
    mag = np.zeros((n, oh, ow, k))
    kg = k // groups
    for g in range(groups):
        xg = xp[..., g * cg:(g + 1) * cg]
        wg = w[g * kg:(g + 1) * kg].astype(np.float64)
        for r in range(r_):
            for s in range(s_):
                patch = xg[:, r * dilation[0]:r * dilation[0] + stride[0] * (oh - 1) + 1:stride[0],
                           s * dilation[1]:s * dilation[1] + stride[1] * (ow - 1) + 1:stride[1]]
                y[..., g * kg:(g + 1) * kg] += patch @ wg[:, :, r, s].T
                mag[..., g * kg:(g + 1) * kg] += np.abs(patch) @ np.abs(wg[:, :, r, s]).T
    if bias is not None:
        y += bias
        mag += np.abs(bias)
    return y.transpose(0, 3, 1, 2), mag.transpose(0, 3, 1, 2)


def first_mismatch(got: np.ndarray, want: np.ndarray) -> Optional[str]:
    """None if equal (float32: bit for bit), else where and what differs."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"shape/dtype {got.shape} {got.dtype} != {want.shape} {want.dtype}"
    a, b = (got.view(np.uint32), want.view(np.uint32)) if got.dtype == F32 else (got, want)
    bad = np.argwhere(a != b)
    if bad.size == 0:
        return None
    idx = tuple(int(i) for i in bad[0])
    return f"{len(bad)} mismatches; first at {idx}: got {got[idx]!r}, want {want[idx]!r}"
