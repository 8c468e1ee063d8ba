"""Ray-sharded calibration (int8rt.calib.distributed) on a local 2-CPU Ray
cluster (tests/conftest.py's ray_cluster, shared with the other Ray files): the same scales and engine outputs as
the single-process build, bit for bit, with the power_of_two range policy;
MinMax exact with the default policy; the per-channel grids and their ranges
sidecar as the single-process build's; what the workers' calibration left
out reaches the engine's report; worker errors surface as int8rt errors;
``int8rt build --ray`` works."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import int8rt
from int8rt.calib.distributed import RayCalibration
from int8rt.cli import main
from int8rt.data_calibrator import make_calibrator
from int8rt.quickstart import DATA_PATH, MODEL_PATH

ray = pytest.importorskip("ray")


@pytest.fixture(autouse=True)
def cluster(ray_cluster: object) -> object:
    """tests/conftest.py's cluster, shared with the other files that shard calibration."""
    return ray_cluster


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    z = np.load(DATA_PATH)
    return {"calib": z["calib"], "test": z["test_x"][:64]}


def _build(data: dict, algorithm: str, policy: str, distributed: object = None,
           cache: Path | None = None) -> int8rt.Engine:
    calibrator = make_calibrator({"input": data["calib"]}, algorithm=algorithm, batch_size=16, policy=policy,
                                 cache_file=str(cache) if cache else None)
    return int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=calibrator, distributed=distributed))


def test_power_of_two_sharded_equals_single_process(tmp_path: Path, data: dict) -> None:
    single = _build(data, "entropy", "power_of_two", cache=tmp_path / "one.cache")
    # 16 batches, 3 per task: 6 shards of unequal size over 2 workers
    sharded = _build(data, "entropy", "power_of_two", RayCalibration(num_workers=2, batches_per_task=3),
                     cache=tmp_path / "two.cache")
    assert sharded.scales() == single.scales()
    assert (tmp_path / "two.cache").read_bytes() == (tmp_path / "one.cache").read_bytes()
    a = single.run({"input": data["test"]})["logits"]
    b = sharded.run({"input": data["test"]})["logits"]
    assert np.array_equal(a, b)


def test_minmax_is_exact_with_the_default_policy(data: dict) -> None:
    single = _build(data, "minmax", "extend")
    sharded = _build(data, "minmax", "extend", RayCalibration(num_workers=2))
    assert sharded.scales() == single.scales()


def test_worker_errors_surface_as_int8rt_errors(data: dict) -> None:
    bad = data["calib"][:48].copy()
    bad[40, 0, 3, 3] = np.nan  # batch 3, on worker 0
    config = int8rt.BuilderConfig(calibrator=make_calibrator({"input": bad}, batch_size=16),
                                  distributed=RayCalibration(num_workers=2))
    with pytest.raises(int8rt.InvalidArgumentError, match="NaN"):
        int8rt.build_engine(MODEL_PATH, config)


def test_a_network_cannot_be_shipped(data: dict) -> None:
    network = int8rt.onnx.import_model(MODEL_PATH)
    config = int8rt.BuilderConfig(calibrator=make_calibrator({"input": data["calib"][:16]}, batch_size=16),
                                  distributed=RayCalibration(num_workers=1))
    with pytest.raises(int8rt.NotSupportedError, match="needs an ONNX model"):
        int8rt.build_engine(network, config)


def test_cli_ray_flag(tmp_path: Path, data: dict) -> None:
    npz = tmp_path / "calib.npz"
    np.savez(npz, input=data["calib"])
    # 2048 bins: auto's equalization trial reads its rescaled tensors from the pass in one
    # process only (with Ray from the kept samples), so its decision may differ between the
    # two; on this model at 2048 bins it does not, at auto's default 4096 it does
    for name, extra in (("one", []), ("two", ["--ray", "--ray-workers", "2"])):
        assert main(["build", str(MODEL_PATH), "--calib-data", str(npz), "--batch-size", "16", "--policy",
                     "power_of_two", "--num-bins", "2048", "--cache", str(tmp_path / f"{name}.cache"), "-o", str(tmp_path / f"{name}.i8rt"),
                     "-q", *extra]) == 0
    assert (tmp_path / "two.cache").read_bytes() == (tmp_path / "one.cache").read_bytes()
    # `--ray` right before the model: the optional ADDRESS must not swallow it
    assert main(["build", "--ray", str(MODEL_PATH), "--ray-workers", "2", "--calib-data", str(npz), "--batch-size",
                 "16", "--num-bins", "2048", "--cache", str(tmp_path / "three.cache"), "-o", str(tmp_path / "three.i8rt"), "-q"]) == 0
    assert (tmp_path / "three.cache").read_bytes() == (tmp_path / "one.cache").read_bytes()


def test_docs_page_runs_on_this_cluster(tmp_path: Path, data: dict) -> None:
    """docs/sharded-calibration.md's Python, in a folder holding what
    `int8rt quickstart --out-dir .` writes there (its bash block, which
    starts a Ray instance of its own, runs in tests/test_docs.py under -m slow)."""
    from docs_runner import run_page

    shutil.copyfile(MODEL_PATH, tmp_path / "digits_cnn.onnx")
    np.savez(tmp_path / "digits_calib.npz", input=data["calib"])
    run_page("sharded-calibration.md", tmp_path, languages=("python",))


def test_sharded_calibration_keeps_the_per_channel_grids(tmp_path: Path) -> None:
    """The workers' per-channel maxima (channel_activations) come back with
    their histograms and are merged (max per channel): the sharded build
    has the single-process build's per-channel grids, its channel-ranges
    sidecar beside the cache, and its outputs, bit for bit
    (test_channel_grids' chain, whose four tensors get per-channel grids)."""
    from test_channel_grids import SPREAD, X_CAL, X_EVAL, chain_model, plan_of

    m = chain_model(SPREAD)

    def build(name: str, distributed: object = None) -> int8rt.Engine:
        cal = make_calibrator({"x": X_CAL}, algorithm="minmax", batch_size=4, policy="power_of_two",
                              cache_file=str(tmp_path / name))
        return int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=cal, distributed=distributed,
                                                           accuracy_check=False))

    single = build("one.cache")
    sharded = build("two.cache", RayCalibration(num_workers=2, batches_per_task=1))
    want, got = plan_of(single), plan_of(sharded)
    assert sorted(n for n, (_, channels) in want.items() if channels.size) == ["c1", "d1", "h1", "h2"]
    assert set(got) == set(want)
    for name in want:
        assert got[name][0] == want[name][0], name
        np.testing.assert_array_equal(got[name][1], want[name][1], err_msg=name)
    assert (tmp_path / "two.cache.channels.json").read_bytes() == (tmp_path / "one.cache.channels.json").read_bytes()
    np.testing.assert_array_equal(sharded.run({"x": X_EVAL})["y"], single.run({"x": X_EVAL})["y"])


@pytest.mark.parametrize("algorithm", ("minmax", "entropy"))
def test_sharded_calibration_of_an_if_on_an_int64_input(tmp_path: Path, algorithm: str) -> None:
    """Silero VAD unbound in small (tests/test_if_branch_int8.py's model):
    x float32 [N, 4, T] beside a 0-d int64 `sr` choosing the If branch.
    The workers take the int64 scalar as the driver's builder would, and
    send back the branch tensors' histograms and per-channel maxima (named
    `pick/then_branch/...`, `pick/else_branch/...`: batches of both rates
    over shards of one batch): the cache, its channel-ranges sidecar and the
    engine's outputs at both rates are the single-process build's, bit for bit."""
    from test_if_branch_int8 import ELSE, THEN, _batches, _feeds, rate_branches_model

    m, batches = rate_branches_model(), _batches((16000, 8000, 8000))

    def build(name: str, distributed: object = None) -> int8rt.Engine:
        cal = make_calibrator(batches, algorithm=algorithm, policy="power_of_two", cache_file=str(tmp_path / name))
        return int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=cal, distributed=distributed,
                                                           accuracy_check=False))

    single = build("one.cache")
    sharded = build("two.cache", RayCalibration(num_workers=2, batches_per_task=1))
    cache = (tmp_path / "one.cache").read_text()
    assert any(line.startswith(THEN) for line in cache.splitlines()), cache
    assert any(line.startswith(ELSE) for line in cache.splitlines()), cache
    assert (tmp_path / "two.cache").read_bytes() == (tmp_path / "one.cache").read_bytes()
    sidecar = (tmp_path / "one.cache.channels.json").read_text()
    assert THEN in sidecar and ELSE in sidecar, sidecar
    assert (tmp_path / "two.cache.channels.json").read_bytes() == (tmp_path / "one.cache.channels.json").read_bytes()
    assert {layer.scope for layer in sharded.int8_plan().layers} == {THEN, ELSE}
    for rate in (16000, 8000):
        for feed in _feeds(rate):
            np.testing.assert_array_equal(sharded.run(feed)["y"], single.run(feed)["y"], err_msg=f"{rate}")


def _masked_model() -> bytes:
    """y = softmax(x @ w + mask), mask = -inf where the product is negative
    (columns 1-3; column 0 never, so no row is all -inf): ``mask`` and the
    sum hold +-inf on the first batch, which calibration leaves out (float32)
    and the builder's report says (builder.cc ``infinite_report``)."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["s"]),
             helper.make_node("Less", ["s", "zero"], ["neg"]),
             helper.make_node("And", ["neg", "cols"], ["masked"]),
             helper.make_node("Where", ["masked", "ninf", "zero"], ["mask"]),
             helper.make_node("Add", ["s", "mask"], ["z"]),
             helper.make_node("Softmax", ["z"], ["y"], axis=-1)]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array(0, np.float32), "zero"),
             numpy_helper.from_array(np.array(-np.inf, np.float32), "ninf"),
             numpy_helper.from_array(np.array([False, True, True, True]), "cols")]
    graph = helper.make_graph(nodes, "masked", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("algorithm", ["minmax", "auto"])
def test_what_the_workers_left_out_reaches_the_report(algorithm: str) -> None:
    """The tensors the workers' builders leave out of calibration (here two
    holding -inf) are in the sharded engine's report, once each although
    every worker ran several shards (and auto's folds ran batches through the
    driver's builder too), as in one process's: the report (which
    ``int8rt build`` prints) and the scales are the single-process build's."""
    m, x = _masked_model(), np.random.default_rng(1).standard_normal((64, 8)).astype(np.float32)

    def build(distributed: object = None) -> int8rt.Engine:
        cal = make_calibrator({"x": x}, algorithm=algorithm, batch_size=8, policy="power_of_two")
        return int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=cal, distributed=distributed))

    single = build()
    sharded = build(RayCalibration(num_workers=2, batches_per_task=1))
    left_out = [line for line in single.report() if "holds +-inf" in line]
    assert [line.split("'")[1] for line in left_out] == ["mask", "z"], single.report()
    assert sharded.report() == single.report()
    assert sharded.scales() == single.scales()


def test_sharded_calibration_keeps_the_key_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The workers' fewest last-axis elements per tensor come back with their
    histograms and are merged (the fewest over every shard): attention
    probabilities on a dynamic key axis get the single-process build's grid
    that follows the key count, and its sidecar (RESULTS_accuracy.md acc32;
    before, the driver had no count and warned). The shortest rows (32
    tokens) are in the last shard only."""
    from test_attention_short_rows import LONG, batches, build, dynamic_attention, short_ccos

    m = dynamic_attention()
    data = batches(LONG, 6, 1) + batches(32, 2, 3)

    def engine(name: str, distributed: object = None) -> tuple[int8rt.Engine, list[str]]:
        cal = make_calibrator(data, algorithm="minmax", cache_file=str(tmp_path / name))
        return build(m, cal, caplog, distributed=distributed, accuracy_check=False)

    single, _ = engine("one.cache")
    sharded, warned = engine("two.cache", RayCalibration(num_workers=2, batches_per_task=2))
    assert warned == []
    keys = int8rt.calib.decode_sidecar((tmp_path / "two.cache.channels.json").read_bytes()).keys
    assert keys["probs"] == 32
    assert (tmp_path / "two.cache.channels.json").read_bytes() == (tmp_path / "one.cache.channels.json").read_bytes()
    fp32 = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    x = np.concatenate([b["x"] for b in batches(8, 4, 99)])
    np.testing.assert_array_equal(sharded.run({"x": x})["y"], single.run({"x": x})["y"])
    assert short_ccos(sharded, fp32) > 0.995
