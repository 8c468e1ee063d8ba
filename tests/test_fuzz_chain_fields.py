"""The int8rt.Bf16ImageChain node and the pooled subgraph runs under mutation (tools/engine_field_chain.py,
tools/engine_field_campaign.py, RESULTS.md 222): every structured mutation of a chain node (its "body" cut
short, its inputs / outputs none, doubled or swapped, a second input of another batch, a body that is itself
a chain, its batch dims) and a sample of the field mutations of the chain, growing-Loop, If-in-Loop and Scan
seeds, each run twice in one context at changing dynamic dims, loads and runs or is refused with a clear
int8rt error; no crash, hang or other exception, in a worker process. Under tools/sanitize_tests.sh the
worker inherits the preloaded sanitizers.

The chain is built only where the AMX-BF16 kernels run the channel-blocked region (a hardware reason): there
the chain cases skip.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")

import int8rt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from engine_field_chain import CHAIN, chain_mutations, parse  # noqa: E402

FLOW = "loop_grow,nested_if_in_loop_fp32,scan_fp32"


def _chain_payload() -> bytes:
    from engine_bytes import payload
    from test_bf16_blocked import _block_model

    int8rt.set_max_isa(None)
    engine = int8rt.build_engine(_block_model(16, 48, 32, pool=False, hw=(30, 30)),
                                 int8rt.BuilderConfig(precision="fp32", bf16=True, channel_blocked=True))
    data = payload(engine.serialize())
    if not any(n.op == CHAIN for n in parse(data)[1].nodes):
        pytest.skip("no image chain: built only where the AMX-BF16 kernels run the channel-blocked region")
    return data


def _campaign(out: Path, *args: str) -> str:
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "engine_field_campaign.py"), "--out", str(out), *args],
                       capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, f"kept in {out}:\n{r.stdout[-6000:]}\n{r.stderr[-4000:]}"
    return r.stdout


def test_the_chain_mutations_reencode_and_cover_the_contract() -> None:
    data = _chain_payload()
    head, net = parse(data)
    assert head + net.encode() == data
    labels = {label.split(":", 1)[1] for label, _ in chain_mutations(data)}
    for want in ("drop-nodes-from=0", "outputs-none", "inputs-doubled", "output-is-input", "second-input",
                 "second-input=const-other-batch:body-too", "nested-chain", "nested-chain-twice",
                 "nested-chain-two-images", "input-batch=2", "no-body"):
        assert want in labels, (want, sorted(labels))


def test_every_chain_mutation_is_refused_or_runs(tmp_path) -> None:
    _chain_payload()
    out = _campaign(tmp_path / "c", "--cases", "-1", "--seeds", "bf16_image_chain", "--labels", "^chain")
    m = re.search(r"^(\d+) cases .*kept: \[\]$", out, re.M)
    assert m and int(m.group(1)) >= 30, out


def test_field_mutations_of_the_chain_and_control_flow_seeds(tmp_path) -> None:
    out = _campaign(tmp_path / "c", "--cases", "300", "--seed", "7", "--seeds", "bf16_image_chain," + FLOW)
    m = re.search(r"^(\d+) cases .*kept: \[\]$", out, re.M)
    assert m and int(m.group(1)) == 300, out


def test_a_chain_splitting_images_inside_a_chain_gives_the_repeated_batch_bits() -> None:
    """Finding of RESULTS.md 222: a chain in a chain's body whose input holds two images per outer image (a
    Concat along the batch) ran its image loop inside the outer one's with the same thread-local views: it
    shrank them to its one input and released them, and the outer chain's next image read a destroyed view
    and handed its body one input of two ('body: takes 2 inputs, given 1'; under ASan a use after free).
    Each nesting depth has its own views now: the output is the unnested engine's on each image twice."""
    from engine_mutation_campaign import frame

    data = _chain_payload()
    (label, nested), = [(la, d) for la, d in chain_mutations(data) if la.endswith(":nested-chain-two-images")]
    plain, twice = int8rt.Engine.deserialize(frame(data)), int8rt.Engine.deserialize(frame(nested))
    x = np.random.default_rng(222).standard_normal((3, 16, 30, 30)).astype(np.float32)
    want = plain.run({"x": np.repeat(x, 2, axis=0)})["y"]
    context = twice.create_execution_context()
    for _ in range(2):  # the views kept from the first run serve the second
        got = context.run({"x": x})["y"]
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def _nested_if_in_loop(edit) -> bytes:
    """The corpus' If-in-Loop engine with `edit(loop_node)` applied, framed."""
    from engine_mutation_campaign import frame

    data = (ROOT / "tests" / "fuzz" / "corpus" / "engine_file" / "nested_if_in_loop_fp32.payload").read_bytes()
    head, net = parse(data)
    (loop,) = [n for n in net.nodes if n.op == b"Loop"]
    edit(loop)
    return frame(head + net.encode())


def test_a_loop_whose_captured_input_is_missing_is_refused_naming_it() -> None:
    """Finding of RESULTS.md 222 (UBSan, member call on a null Value in Subgraph::Run::bound, from
    loop_layer.cc; the campaign's id mutations of the growing-Loop and If-in-Loop seeds): a Loop's captured
    value forged to -1 (an optional input left out) loaded, and each iteration handed the body a null value
    (natively a segmentation fault). M and cond may be left out; carried and captured values may not."""
    def drop_capture(loop):
        loop.inputs[-1] = -1  # the last of int8rt_captures' values: x

    with pytest.raises(int8rt.FormatError, match=r"\(Loop\): captured input 4 is missing"):
        int8rt.Engine.deserialize(_nested_if_in_loop(drop_capture))


def test_an_if_whose_captured_input_is_missing_is_refused_naming_it() -> None:
    """The same finding in if_layer.cc: an If (here inside the Loop's body) whose captured value is -1 handed
    its branch a null value; now every input of an If is required."""
    def drop_if_capture(loop):
        body = next(v for n, k, v in loop.attrs if n == b"body")
        (branch,) = [n for n in body.nodes if n.op == b"If"]
        branch.inputs[1] = -1

    with pytest.raises(int8rt.FormatError, match=r"\(If\): input 1 is missing \(the op needs 4\)"):
        int8rt.Engine.deserialize(_nested_if_in_loop(drop_if_capture))
