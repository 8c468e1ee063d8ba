"""ExecutionContext.profile inside If branches (csrc/engine/profile_rows.h,
BranchClock in csrc/engine/ops/subgraph.h; benchmarks/RESULTS.md §106):
before each If, the layers of the branch the runs took, under their scoped
names with their op, precision and kernel, in run order; the If's own row
then holds only what the If adds. Before this change the If was one row
holding its whole branch (Silero VAD unbound: 2 rows of 2 top-level layers).

On test_if_branch_int8's models. The oracle for names, order and precision
is ``Engine.layers(branches=True)`` (the lowered branches as `inspect`
lists them) restricted to the branch taken; times are only checked to be
non-negative (timings are not asserted in tests)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from test_if_branch_int8 import RNG, _batches, _build, _feeds, nested_model, rate_branches_model  # noqa: E402

THEN, ELSE = "pick/then_branch/", "pick/else_branch/"


def _expected(engine: int8rt.Engine, skipped: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(name, op, precision) of every layer, branches included, except those under the `skipped` scopes."""
    return [(layer["name"], layer["op"], layer["precision"]) for layer in engine.layers(branches=True)
            if not layer["name"].startswith(skipped)]


def _rows(engine: int8rt.Engine, feed: dict, clock: str = "wall") -> list[dict]:
    rows = engine.create_execution_context().profile(feed, runs=3, clock=clock)
    assert all(row["ms"] >= 0 for row in rows), rows
    return rows


@pytest.mark.parametrize("precision", ("int8", "fp32"))
def test_the_taken_branch_layers_are_rows_before_the_if(precision: str) -> None:
    net = rate_branches_model()
    engine = (_build(net, _batches((16000,)), "minmax") if precision == "int8" else
              int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32")))
    for rate, skipped in ((16000, ELSE), (8000, THEN)):
        rows = _rows(engine, _feeds(rate)[0], "thread_cpu")
        assert [(r["name"], r["op"], r["precision"]) for r in rows] == _expected(engine, (skipped,)), rate
        taken = THEN if rate == 16000 else ELSE
        inside = [r for r in rows if r["name"].startswith(taken)]
        assert len(inside) == len(rows) - 2 and rows[-1]["name"] == "pick"
        assert all(r["detail"] for r in inside if r["op"] in ("int8rt.QConv", "Conv")), inside  # the kernel
    if precision == "int8":
        convs = [r for r in _rows(engine, _feeds(16000)[0]) if r["op"] == "int8rt.QConv"]
        assert [r["name"] for r in convs] == [THEN + "t_conv1", THEN + "t_conv2", THEN + "t_conv3"]
        assert all(r["precision"] == "int8" for r in convs)


def test_a_nested_if_lists_its_branch_under_the_joined_scope() -> None:
    net = nested_model()
    engine = _build(net, [{**b, "loud": np.array(True)} for b in _batches((16000,))], "minmax")
    feed = {**_feeds(16000)[0], "loud": np.array(False)}
    rows = _rows(engine, feed)
    inner = THEN + "inner/"
    assert [(r["name"], r["op"], r["precision"]) for r in rows] == _expected(
        engine, (ELSE, inner + "then_branch/"))
    names = [r["name"] for r in rows]
    assert names.index(inner + "else_branch/b_conv1") < names.index(THEN + "inner") < names.index("pick")


def test_an_if_inside_a_loop_body_is_timed_with_its_loop() -> None:
    """A Loop runs its body once per iteration: its body, Ifs included, is
    not broken down (the Loop's row holds it), as calibration does not tap it."""
    from test_onnx_control_flow import nested_model as loop_with_if_model

    m = loop_with_if_model()
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    feed = {k: RNG.standard_normal((3, 2)).astype(np.float32) for k in ("x", "y", "acc0")}
    rows = _rows(engine, {**feed, "n": np.array(3, np.int64)})
    assert [r["name"] for r in rows] == [layer["name"] for layer in engine.layers()]
    assert not any("_branch/" in r["name"] for r in rows)


def test_the_cli_runs_and_profiles_an_engine_with_an_integer_input(tmp_path, capsys) -> None:
    """`int8rt bench --input data.npz --profile` (new) and `int8rt run`, whose
    .npz loader now keeps an int64 0-d rate as it is (before: cast to float32,
    and bench made up random float32 inputs only): the profile names the
    taken branch's layers."""
    from int8rt.cli import main

    net = rate_branches_model()
    path = str(tmp_path / "m.i8rt")
    engine = _build(net, _batches((16000,)), "minmax")
    engine.save(path)
    feed = _feeds(16000)[0]
    np.savez(tmp_path / "in.npz", **feed)
    assert main(["bench", path, "--input", str(tmp_path / "in.npz"), "--iterations", "3", "--duration", "0",
                 "--warmup", "1", "--profile", "40"]) == 0
    out = capsys.readouterr().out
    assert "batch 8," in out and f"{THEN}t_conv2 " in out and "int8rt.QConv" in out and ELSE not in out
    assert main(["run", path, "--input", str(tmp_path / "in.npz"), "--output", str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as z:
        assert np.array_equal(z["y"], engine.run(feed)["y"])
