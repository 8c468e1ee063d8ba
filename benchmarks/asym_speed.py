"""What asymmetric activations (BuilderConfig(asymmetric_activations=True),
docs/numerics.md) cost in speed: unsigned_speed.py's comparison with the
asymmetric grid (the same calibration and symmetric scales, built with and
without, timed alternately in one process on 1 thread by the process's CPU
time). Counts the tensors held over [lo, T] with lo < 0 (zero point neither
0 nor -128) and the layers of each engine.

Networks: e2e_bench.py's (random-weight architectures, BatchNorm statistics
from data), 224x224, calibrated with minmax on its 4 batches of 8 Gaussian
images; by default those with SiLU / HardSwish tables: mobilenet_v3, efficientnet_b0.

    cd /tmp && PYTHONPATH=$REPO/python python $REPO/benchmarks/asym_speed.py \\
        [--models mobilenet_v3,efficientnet_b0] [--batches 1 8] [--rounds 11]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from unsigned_speed import main  # noqa: E402

if __name__ == "__main__":
    main("asymmetric")
