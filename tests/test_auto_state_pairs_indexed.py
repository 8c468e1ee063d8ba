"""Which outputs feed which state inputs (python/int8rt/accuracy/state_loop.py,
``pairs``) where a state input's name ends in an index: FlashVAD (the flashvad
wheel's streaming VAD, RESULTS_accuracy.md acc46) returns ``next_cache_0`` ..
``next_cache_3`` and ``next_recurrent`` for its inputs ``cache_0`` .. ``cache_3``
and ``recurrent``. The input-suffix rule (``h0`` <- ``hn``) read ``cache_0``'s
index as a suffix, so ``cache_0`` paired with nothing (the auto report's
recordings line listed four pairs of five, and the closed-loop judge ran
``cache_0`` on float32's values). Silero's and the RNNs' names pair as before,
and an input two outputs could feed pairs with none."""
from __future__ import annotations

import os

import numpy as np
import pytest

from int8rt.accuracy.state_loop import pairs
from int8rt.accuracy.taps import WholeBatch

B = 8
STATES = {"recurrent": (1, B, 64), **{f"cache_{i}": (B, 64, 2 << i) for i in range(4)}}


def _zeros(shapes: dict) -> dict:
    return {k: np.zeros(v, np.float32) for k, v in shapes.items()}


def test_indexed_state_inputs_pair_with_their_next_outputs() -> None:
    held = WholeBatch({"feature": np.zeros((B, 1, 43), np.float32), **_zeros(STATES)})
    outputs = {"speech_logits": np.zeros((B, 1), np.float32), **{f"next_{k}": v for k, v in _zeros(STATES).items()}}
    assert pairs(held, outputs) == {k: f"next_{k}" for k in STATES}
    # two outputs that could feed one input (cache_0 whole, and cache's stem): none
    both = WholeBatch({"cache_0": np.zeros((B, 4), np.float32)})
    assert pairs(both, {"next_cache_0": np.zeros((B, 4), np.float32), "cache_out": np.zeros((B, 4), np.float32)}) == {}


def test_the_suffix_rules_pair_as_before() -> None:
    silero = WholeBatch({"input": np.zeros((B, 576), np.float32), "state": np.zeros((2, B, 128), np.float32)})
    assert pairs(silero, {"output": np.zeros((B, 1), np.float32), "stateN": np.zeros((2, B, 128), np.float32)}) \
        == {"state": "stateN"}
    rnn = WholeBatch({"x": np.zeros((5, B, 16), np.float32), "h0": np.zeros((1, B, 32), np.float32),
                      "c0": np.zeros((1, B, 32), np.float32)})
    out = {"y": np.zeros((5, B, 32), np.float32), "hn": np.zeros((1, B, 32), np.float32),
           "cn": np.zeros((1, B, 32), np.float32)}
    assert pairs(rnn, out) == {"h0": "hn", "c0": "cn"}


def test_flashvad_from_its_wheel_pairs_every_state() -> None:
    """The wheel's own graph, its float32 outputs of one step (no download:
    the model ships in the flashvad wheel)."""
    flashvad = pytest.importorskip("flashvad", reason="flashvad is not installed (pip install --no-deps flashvad)")
    import int8rt

    path = os.path.join(os.path.dirname(flashvad.__file__), "_models", "flashvad-stream.onnx")
    net = int8rt.onnx.import_model(path, input_shapes={"feature": [B, 1, 43], **{k: list(v) for k, v in STATES.items()}})
    fp32 = int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32"))
    feed = {"feature": np.random.default_rng(0).standard_normal((B, 1, 43)).astype(np.float32), **_zeros(STATES)}
    assert pairs(WholeBatch(feed), fp32.create_execution_context().run(feed)) == {k: f"next_{k}" for k in STATES}
