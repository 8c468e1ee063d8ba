"""acc48's "before": runs another benchmark script with auto's sets on the
calibrators' own histograms switched off (own_histograms.same_settings
patched to say the session's collector already bins as the calibrators do,
so no second collector and no own set is made: auto as it was before
acc48), in this tree and process, so before / after come from one build.

    PYTHONPATH=python:tests:benchmarks python benchmarks/calib14_off.py benchmarks/SCRIPT.py [its arguments]
"""
from __future__ import annotations

import os
import runpy
import sys


def main() -> None:
    from int8rt.accuracy import own_histograms

    own_histograms.same_settings = lambda collector: True
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
