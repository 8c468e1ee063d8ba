"""AVX2 convs whose input's minimum is a few codes below zero (a hard-swish's
or SiLU's output) run the shifted u8 tile (x86/avx2/igemm_6x16c4a.cc): each
byte plus m read as u8, the sums started at -m * sum(w), m the largest
shift the conv's weights allow: (127 + m) * P <= 32767, P the largest
one-signed sum of a weight pair (two consecutive inputs of a group of
four, x86/conv_igemm_weights.cc, pack_shifted). The rule is recomputed
here from the weights alone; INT8RT_LOG=dispatch must name the same m, and
the results must equal the reference (==) at the rule's edges: inputs of
-m (the shifted tile) and -m - 1 (the sign tile), against weights whose
pairs reach P = 254 (m = 2, the largest pair sums) and bell-shaped ones.
test_x86_kernels.py's sweep runs the tile over every shape with inputs
in [-2, 127].
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from np_kernels import first_mismatch

KERNEL = "conv_s8_igemm_6x16c2_avx2"

pytestmark = pytest.mark.skipif(
    not int8rt.kernels.isa_info()["avx2"]["enabled"], reason="AVX2 not enabled on this CPU / under this cap")


def allowed_shift(w: np.ndarray) -> int:
    """The largest m in [1, 128] with (127 + m) * P <= 32767, P the largest
    sum of the positive (or minus the sum of the negative) weights of a
    pair: inputs 2j, 2j + 1 of each output channel's reduction rows, a
    row being one tap's input channels, or for fewer than 16 channels
    (x86/conv_igemm_weights.cc: merged rows / taps) one filter row's S*C
    values or, where R*S*C <= 32, the whole window's, each row padded with
    zeros to a multiple of four."""
    k, c, r, s = w.shape
    t = w.transpose(0, 2, 3, 1).astype(np.int64)  # [k][r][s][c]
    if c < 16 and s > 1:
        t = t.reshape(k, 1, r * s * c) if r * s * c <= 32 else t.reshape(k, r, s * c)
    else:
        t = t.reshape(k, r * s, c)
    n = t.shape[-1]
    t = np.concatenate([t, np.zeros(t.shape[:-1] + (-(-n // 4) * 4 - n,), np.int64)], axis=-1)
    pairs = t.reshape(k, t.shape[1], -1, 2)
    pos = np.clip(pairs, 0, None).sum(-1).max()
    neg = -np.clip(pairs, None, 0).sum(-1).min()
    p = int(max(pos, neg))
    return 128 if p == 0 else min(128, 32767 // p - 127)


CASES = [  # (C, H, W, K, R, pad)
    (16, 6, 7, 24, 1, 0),
    (20, 5, 9, 33, 3, 1),
    (96, 4, 5, 24, 3, 1),
    (3, 9, 8, 32, 3, 1),    # merged taps (the C = 3 stem's path)
]


def weights(kind: str, rng: np.random.Generator, shape) -> np.ndarray:
    if kind == "127":
        return np.full(shape, 127, np.int8)
    if kind == "-127":
        return np.full(shape, -127, np.int8)
    w = rng.standard_normal(shape)  # bell: each channel's largest |w| 127
    return np.rint(w / np.abs(w.reshape(shape[0], -1)).max(1)[:, None, None, None] * 127).astype(np.int8)


@pytest.mark.parametrize("kind", ["127", "-127", "bell"])
def test_shifted_tile_at_its_edges(kind: str) -> None:
    code = (
        "import sys, numpy as np; from int8rt._testing import kernels as K\n"
        f"sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
        "import test_avx2_shifted_conv as T\n"
        "rng = np.random.default_rng(7)\n"
        "for c, h, w, k, r, p in T.CASES:\n"
        f"    wt = T.weights({kind!r}, rng, (k, c, r, r))\n"
        "    m = T.allowed_shift(wt)\n"
        "    print('m', m, flush=True)\n"
        "    s = np.full(k, 127.0 / (128.0 * 255 * c * r * r), np.float32)\n"
        "    for low in (-m, -m - 1):\n"
        "        # the pairs' largest sums: 127 on one side of each pair, the rest at the edge\n"
        "        for x in (np.full((2, h, w, c), 127, np.int8), np.where(rng.random((2, h, w, c)) < 0.5, 127, low)):\n"
        "            x = x.astype(np.int8); x.reshape(-1)[1] = low\n"
        "            if low < -128: continue\n"
        f"            got = K.conv2d_s8(x, wt, s, pads=(p,) * 4, kernel={KERNEL!r}, out_dtype='float32')\n"
        "            want = K.conv2d_s8(x, wt, s, pads=(p,) * 4, kernel='conv_s8_ref', out_dtype='float32')\n"
        "            assert (got == want).all(), (c, k, r, m, low, int(np.argmax(got != want)))\n"
    )
    env = dict(os.environ, INT8RT_LOG="dispatch", PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    want = [int(l.split()[1]) for l in out.stdout.splitlines() if l.startswith("m ")]
    got = [int(l.split("runs inputs >= ")[1].split()[0]) for l in out.stderr.splitlines() if "runs inputs >=" in l]
    # One pack per conv2d_s8 call: four per case (two inputs at each of -m and -m - 1).
    assert got == [-m for m in want for _ in range(4)], (got, want)
    if kind != "bell":
        assert want == [2] * len(CASES)  # P = 254: 32767 // 254 - 127


def test_shifted_tile_takes_only_inputs_down_to_minus_m() -> None:
    """A run whose input reaches -m - 1 must not take the shifted tile: with
    the dispatch's threshold one code too low the result changes, which the
    reference comparison above catches; here the scan's verdict on a large
    input (several 256 KiB chunks, threads) is checked against the
    reference too, the offending byte last."""
    wt = np.full((24, 64, 1, 1), 127, np.int8)  # m = 2
    s = np.full(24, 1.0 / (255 * 127 * 64), np.float32)
    saved = int8rt.get_num_threads()
    for low in (-2, -3):
        x = np.full((8, 64, 96, 64), 127, np.int8)
        x.reshape(-1)[-1] = low
        for threads in (1, 2):
            int8rt.set_num_threads(threads)
            try:
                got = K.conv2d_s8(x, wt, s, kernel=KERNEL, out_dtype="float32")
            finally:
                int8rt.set_num_threads(saved)
            want = K.conv2d_s8(x, wt, s, kernel="conv_s8_ref", out_dtype="float32")
            msg = first_mismatch(got, want)
            assert msg is None, f"low={low} threads={threads}: {msg}"
