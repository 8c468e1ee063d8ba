"""ResNet-50's BF16 convs past the image chain (the 14 x 14 / 7 x 7 stages
and the strided transitions into them) under loop / partition knobs,
alternated round by round in one process (RESULTS.md section 221): per
shape the conv alone in bf16conv_layers.py's 4-conv BF16 region, batch 8,
1 thread; per knob set the minimum over a round's ExecutionContext.profile
calls (thread CPU of the conv under test), then the median over rounds and
the ratio to the first set.

The knobs exist only in the experiments' builds (`git apply
benchmarks/results/bf16r50c_knobs_experiment.patch` on the base tree,
e98a2ef2): R50C_ORDER = n runs n pixel-group pairs outer and the block pairs
inner in the AMX kernel; R50C_SKIP = 1 no epilogue, 2 no tile products, 3
neither (wrong results, timing only); R50C_WIDE = bytes the packed-weight
size from which a 1x1 runs as one GEMM over the batch's pixels; R50C_DCHUNK
= k the output blocks per call of a strided dense conv run image by image;
R50C_INNER = k a strided dense window's chunk of k blocks run over every
image; R50C_STRIDED = 1 with R50C_CHUNKB = bytes the rule this branch kept,
at that chunk size. `bf16r50c_knobs_experiment2.patch` (on 00f583e4's
tree): R50C_WIDE and R50C_RB = a batched 1x1 run's input bytes. Without a
patch every set is the same code.

Usage: PYTHONPATH=<patched tree>/python python benchmarks/bf16r50c_knobs.py \
         "256->1024 @14|3x3/2 256" ";R50C_ORDER=2" [rounds]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bf16cnn_knobs import knob_table  # noqa: E402
from bf16conv_layers import SHAPES  # noqa: E402

# ResNet-50's transitions into the 14 x 14 / 7 x 7 stages (label, C, M, H = W of the input, k, stride, residual)
EXTRA = [("1x1 512->256 @28", 512, 256, 28, 1, 1, False), ("3x3/2 256->256 @28", 256, 256, 28, 3, 2, False),
         ("1x1/2 512->1024 @28 down", 512, 1024, 28, 1, 2, False), ("1x1 1024->512 @14", 1024, 512, 14, 1, 1, False),
         ("3x3/2 512->512 @14", 512, 512, 14, 3, 2, False), ("1x1/2 1024->2048 @14 down", 1024, 2048, 14, 1, 2, False),
         ("3x3 512->512 @7", 512, 512, 7, 3, 1, False)]


def main() -> None:
    knob_table(SHAPES["r50"] + EXTRA, "R50C_", compare=True)


if __name__ == "__main__":
    main()
