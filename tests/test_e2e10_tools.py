"""The helpers of benchmarks/e2e10_layers.py (RESULTS.md §158) on synthetic
data: the rows layers are summed into, and OpenVINO's per-run times
recovered from its running means (realnets/openvino_engines.run_times) for a
one-input array and for an encoder's feed dict. No OpenVINO and no timing:
a fake infer request reports the means."""
from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))

pytest.importorskip("openvino")  # e2e10_layers imports r50i8_layers, which imports the OpenVINO helpers
import e2e10_layers as L  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


@pytest.mark.parametrize("name, depth, fold, row", [
    ("/features/features.10/body/body.1/body.1.0/Conv", 2, False, "/features/features.10"),
    ("/features/features.10/body/body.1/body.1.0/Conv", 3, False, "/features/features.10/body"),
    ("/bert/encoder/layer.11/output/LayerNorm/LayerNormalization", 5, True, "/bert/encoder/layer.*/output/LayerNorm"),
    ("/bert/encoder/layer.11/output/LayerNorm/LayerNormalization", 5, False, "/bert/encoder/layer.11/output/LayerNorm"),
    ("input::quantize", 2, False, "input::quantize"),
    ("Convert_21237", 2, True, "Convert_21237"),
])
def test_group_keeps_the_first_depth_components(name: str, depth: int, fold: bool, row: str) -> None:
    assert L.group(name, depth, fold) == row


class FakeRequest:
    """An infer request whose profiling info reports, per node, the running
    mean of the per-run times it is given (as OpenVINO's CPU plugin does)."""

    def __init__(self, per_run: dict) -> None:
        self.per_run, self.n, self.feeds = per_run, 0, []

    def infer(self, feed, share_inputs: bool = False) -> None:
        self.feeds.append(feed)
        self.n += 1

    def get_profiling_info(self) -> list:
        status = SimpleNamespace(EXECUTED="run", NOT_RUN="skip")
        out = []
        for name, times in self.per_run.items():
            mean_ms = float(np.mean(times[: self.n]))
            out.append(SimpleNamespace(node_name=name, node_type="Convolution", exec_type="brgconv", Status=status,
                                       status="run", real_time=SimpleNamespace(total_seconds=lambda m=mean_ms: m / 1e3)))
        return out


@pytest.mark.parametrize("feed", [np.zeros((1, 3), np.float32), {"input_ids": np.zeros((1, 4), np.int64),
                                                                  "attention_mask": np.ones((1, 4), np.int64)}])
def test_run_times_recovers_each_runs_own_time(feed) -> None:
    per_run = {"conv": [9.0, 2.0, 3.0, 2.5], "pool": [1.0, 0.5, 0.25, 0.75]}
    req = FakeRequest(per_run)
    times, info = O.run_times(req, feed, 3)
    assert req.n == 4  # the first run (compilation's lazy work) is dropped
    for name, t in per_run.items():
        assert times[name] == pytest.approx(t[1:], abs=1e-9)
        assert info[name] == ("Convolution", "brgconv")
    if isinstance(feed, dict):
        assert all(f is feed for f in req.feeds)  # a feed dict is handed over as it is
    else:
        assert all(set(f) == {0} and f[0] is feed for f in req.feeds)  # an array as input 0
