"""The AVX-512 dense conv from channel-blocked inputs (kernels/x86/avx512/
conv_nchw16c_f32.cc) takes its register tiles of up to 6 pixels along a
task's run of output pixels on planes narrower than 14 (kWideRow), so a
tile spans rows, and a tap may fall in the padding for some of a tile's
pixels (masked fmas) or for all of them (skipped); wider planes (tiles
within a row) are test_f32_blocked_dense's. Planes 1 to 9
pixels wide, 3x3 convs at strides 1 and 2 and a 5x5 whose padding covers
whole tiles, at batch 1 and 2: the AVX-512 tier gives the reference tier's
bytes and is within 2e-6 of the NCHW engine (test_f32_blocked_dense's
check_tiers_and_nchw)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from test_f32_blocked import NEEDS_REGIONS, F32
from test_f32_blocked_dense import check_tiers_and_nchw, conv_node
from test_f32_layout import restore  # noqa: F401  (autouse: threads, ISA cap and batch split put back)


pytestmark = NEEDS_REGIONS


@pytest.mark.parametrize("hw", [(1, 7), (3, 1), (2, 3), (5, 2), (4, 5), (7, 7), (6, 9), (9, 3)])
@pytest.mark.parametrize("batch", [1, 2])
def test_tiles_across_rows(tmp_path: Path, hw: tuple, batch: int) -> None:
    rng, inits = np.random.default_rng(20 + hw[0] * 10 + hw[1]), []
    nodes = [conv_node(rng, inits, "a", "x", 18, 37, (1, 1)),
             conv_node(rng, inits, "b", "a", 37, 37, (3, 3), bias=True, pads=[1, 1, 1, 1]),
             conv_node(rng, inits, "c", "b", 37, 21, (5, 5), pads=[2, 2, 2, 2]),
             conv_node(rng, inits, "d", "c", 21, 21, (3, 3), bias=True, strides=[2, 2], pads=[1, 1, 1, 1]),
             conv_node(rng, inits, "e", "d", 21, 17, (1, 1))]
    x = np.random.default_rng(hw[0] + hw[1]).standard_normal((batch, 18, *hw)).astype(F32)
    out = [17, (hw[0] + 1) // 2, (hw[1] + 1) // 2]
    check_tiers_and_nchw(tmp_path / "tiles.onnx", nodes, inits, x, ("e", out), 3)
