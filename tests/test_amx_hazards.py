"""AMX-specific hazards of running INT8 engines (RESULTS.md section 172, the
first AMX machine). AMX adds per-thread state (the tile configuration and
tile registers, XSAVE component 18) and a per-process permission that Linux
grants on request (arch_prctl(ARCH_REQ_XCOMP_PERM), core/cpu_features.cc);
a kernel that ran only where both were set up on one thread could pass the
kernel tests and still fault or give other bits in an engine. Each test here
holds the AMX tier to the contract every INT8 tier meets (the reference's
bytes, ``==``) where the hazard is:

- the thread pool's workers (a split batch at 2 threads) and user threads
  that never ran a kernel before;
- a child process: forked after the parent ran AMX layers (the pool's and
  tiles' state copied), spawned (a fresh permission request), and a Ray
  worker (calibration and run shards run there);
- an engine file built under the AMX tier, loaded under every lower cap the
  CPU runs (DESIGN: a file tuned for AMX loads anywhere) and the reverse;
- set_max_isa switched between runs of one engine and context, with a new
  input shape (a new plan) after each switch;
- two engines (convs and attention: other tile shapes) running at once in
  two threads, and alternating on one thread;
- batches around the 16-row tiles (M tails) up to 1000 rows.

On a CPU without AMX the same tests run on its best tier (nothing is
skipped: the hazards are the pool's and processes' too); the AMX-only
assertion is that AMX kernels are chosen where the tier is amx.
"""
from __future__ import annotations

import multiprocessing as mp
import threading
from typing import Dict

import numpy as np
import pytest

import int8rt
from onnx_models import fvi, init, model, resnet_block
from test_f32_layout import restore  # noqa: F401  (autouse: threads, ISA cap and batch split put back)
from test_run_allocations import _bert_like_encoder

F32 = np.float32
LOWER = [isa for isa in ("avx512vnni", "avxvnni", "avx2", "ref") if int8rt.kernels.isa_info()[isa]["cpu"]]


def onnx_node(op: str, inputs, outputs, **attrs):
    from onnx import helper

    return helper.make_node(op, inputs, outputs, **attrs)


def _mlp(rng: np.random.Generator, k: int = 64, h: int = 96, o: int = 40):
    """x [N, k] -> Gemm -> Relu -> Gemm -> y [N, o]: the QGemm rows are the batch."""
    nodes = [onnx_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1), onnx_node("Relu", ["h"], ["r"]),
             onnx_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1)]
    inits = [init("w1", rng.standard_normal((h, k)).astype(F32) * 0.2), init("b1", rng.standard_normal(h).astype(F32)),
             init("w2", rng.standard_normal((o, h)).astype(F32) * 0.2), init("b2", rng.standard_normal(o).astype(F32))]
    return model(nodes, [fvi("x", ["N", k])], [fvi("y", ["N", o])], inits)


def conv_feed(n: int, seed: int = 0) -> Dict[str, np.ndarray]:
    return {"x": np.random.default_rng(seed).standard_normal((n, 3, 12, 12), dtype=F32)}


def bert_feed(n: int, s: int, seed: int = 0) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = np.zeros((n, 1, 1, s), F32)
    mask[..., s - 3:] = -10000.0
    return {"x": rng.standard_normal((n, s, 32), dtype=F32), "types": rng.integers(0, 2, (n, s)).astype(np.int64),
            "mask": mask}


def mlp_feed(n: int, seed: int = 0) -> Dict[str, np.ndarray]:
    return {"x": np.random.default_rng(seed).standard_normal((n, 64), dtype=F32)}


FEEDS = {"conv": lambda n, seed=0: conv_feed(n, seed), "bert": lambda n, seed=0: bert_feed(n, 16, seed),
         "mlp": lambda n, seed=0: mlp_feed(n, seed)}


@pytest.fixture(scope="module")
def engines() -> Dict[str, bytes]:
    """The three INT8 engines, built uncapped (the AMX tier here), serialized."""
    int8rt.set_max_isa(None)
    models = {"conv": resnet_block(np.random.default_rng(1), True), "bert": _bert_like_encoder(),
              "mlp": _mlp(np.random.default_rng(2))}
    calib = {"conv": [conv_feed(2, 9), conv_feed(3, 8)], "bert": [bert_feed(2, 16, 9), bert_feed(1, 24, 8)],
             "mlp": [mlp_feed(64, 9)]}
    out = {}
    for name, m in models.items():
        engine = int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=calib[name], accuracy_check=False))
        details = [la["detail"] for la in engine.layers()]
        assert any("_amx" in d for d in details) == (int8rt.get_max_isa() == "amx"), (name, details)
        out[name] = engine.serialize()
    return out


def run_bytes(blob: bytes, feed: Dict[str, np.ndarray]) -> Dict[str, bytes]:
    """The engine in blob, loaded under the current cap and run once: its outputs' bytes."""
    out = int8rt.Engine.deserialize(blob).run(feed)
    return {k: np.ascontiguousarray(v).tobytes() for k, v in out.items()}


def reference_bytes(blob: bytes, feed: Dict[str, np.ndarray]) -> Dict[str, bytes]:
    int8rt.set_max_isa("ref")
    try:
        return run_bytes(blob, feed)
    finally:
        int8rt.set_max_isa(None)


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_pool_workers_and_fresh_user_threads_give_the_reference_bytes(engines, name: str) -> None:
    feed = FEEDS[name](8)
    want = reference_bytes(engines[name], feed)
    engine = int8rt.Engine.deserialize(engines[name])
    for threads in (1, 2):
        int8rt.set_num_threads(threads)
        assert run_bytes(engines[name], feed) == want, f"{name} at {threads} thread(s)"
    got = {}

    def user_thread(i: int) -> None:  # a thread that never ran a kernel: its first tile load is here
        got[i] = {k: np.ascontiguousarray(v).tobytes() for k, v in engine.run(feed).items()}

    workers = [threading.Thread(target=user_thread, args=(i,)) for i in range(3)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=300)
    assert [got.get(i) == want for i in range(3)] == [True] * 3, name


def _child_run(blob: bytes, name: str, n: int) -> tuple:
    """In a child process: the engine loaded and run at 2 threads; its
    outputs' bytes and whether AMX kernels ran."""
    int8rt.set_num_threads(2)
    engine = int8rt.Engine.deserialize(blob)
    out = {k: np.ascontiguousarray(v).tobytes() for k, v in engine.run(FEEDS[name](n)).items()}
    return out, any("_amx" in la["detail"] for la in engine.layers())


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_child_processes_give_the_reference_bytes(engines, method: str) -> None:
    if method not in mp.get_all_start_methods():
        pytest.skip(f"no {method} start method on this platform")
    want = {name: reference_bytes(blob, FEEDS[name](5)) for name, blob in engines.items()}
    int8rt.set_num_threads(2)
    for name, blob in engines.items():  # the parent's pool workers started and its tiles used before a fork
        assert run_bytes(blob, FEEDS[name](5)) == want[name], name
    with mp.get_context(method).Pool(2) as pool:
        jobs = {name: pool.apply_async(_child_run, (blob, name, 5)) for name, blob in engines.items()}
        for name, job in jobs.items():
            assert job.get(timeout=300) == (want[name], int8rt.get_max_isa() == "amx"), f"{name} in a {method} child"


def test_ray_workers_give_the_reference_bytes(engines, ray_cluster) -> None:
    ray = ray_cluster
    want = {name: reference_bytes(blob, FEEDS[name](3)) for name, blob in engines.items()}
    def shard(blob: bytes, feed: Dict[str, np.ndarray]) -> Dict[str, bytes]:  # self-contained: pickled by value
        import numpy
        import int8rt as i8

        i8.set_num_threads(2)
        engine = i8.Engine.deserialize(blob)
        out = {k: numpy.ascontiguousarray(v).tobytes() for k, v in engine.run(feed).items()}
        return out, any("_amx" in la["detail"] for la in engine.layers())

    task = ray.remote(shard)
    got = ray.get([task.remote(blob, FEEDS[name](3)) for name, blob in engines.items()], timeout=600)
    assert got == [(want[name], int8rt.get_max_isa() == "amx") for name in engines]


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_a_file_built_on_amx_loads_under_every_lower_cap_with_the_same_bytes(engines, name: str) -> None:
    feed = FEEDS[name](3)
    want = run_bytes(engines[name], feed)
    for cap in LOWER:
        int8rt.set_max_isa(cap)
        try:
            engine = int8rt.Engine.deserialize(engines[name])
            details = [la["detail"] for la in engine.layers()]
            got = {k: np.ascontiguousarray(v).tobytes() for k, v in engine.run(feed).items()}
            capped_file = engine.serialize()  # and the reverse: written under the cap, loaded uncapped
        finally:
            int8rt.set_max_isa(None)
        assert not any("_amx" in d for d in details), f"{name} under {cap}: {details}"
        assert got == want, f"{name} loaded under {cap}"
        assert run_bytes(capped_file, feed) == want, f"{name} saved under {cap}, loaded uncapped"


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_set_max_isa_switched_between_runs_of_one_engine(engines, name: str) -> None:
    feeds = [FEEDS[name](n, seed=n) for n in (2, 5, 7, 9, 11)]
    want = [run_bytes(engines[name], f) for f in feeds]
    engine = int8rt.Engine.deserialize(engines[name])
    ctx = engine.create_execution_context()
    for i, cap in enumerate([None, *LOWER, None]):
        int8rt.set_max_isa(cap)
        try:
            seen = [0, min(i, len(feeds) - 1)]  # a shape run before, and one new after the switch
            for j in seen:
                got = {k: np.ascontiguousarray(v).tobytes() for k, v in ctx.run(feeds[j]).items()}
                assert got == want[j], f"{name}: feed {j} after set_max_isa({cap!r})"
            fresh = engine.create_execution_context().run(feeds[-1])
            assert {k: np.ascontiguousarray(v).tobytes() for k, v in fresh.items()} == want[-1], (name, cap)
        finally:
            int8rt.set_max_isa(None)


@pytest.mark.parametrize("threads", [1, 2])
def test_two_engines_at_once_in_two_threads_and_alternating_on_one(engines, threads: int) -> None:
    int8rt.set_num_threads(threads)
    runs = {name: (int8rt.Engine.deserialize(engines[name]), FEEDS[name](4)) for name in ("conv", "bert", "mlp")}
    want = {name: reference_bytes(engines[name], feed) for name, (_, feed) in runs.items()}
    bad = []

    def loop(names, rounds: int) -> None:
        ctxs = {n: runs[n][0].create_execution_context() for n in names}
        for r in range(rounds):
            for n in names:
                got = {k: np.ascontiguousarray(v).tobytes() for k, v in ctxs[n].run(runs[n][1]).items()}
                if got != want[n]:
                    bad.append((n, r, threading.current_thread().name))

    workers = [threading.Thread(target=loop, args=(names, 12), name=f"t{i}")
               for i, names in enumerate((["conv"], ["bert"], ["mlp", "conv", "bert"]))]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in workers), "a thread did not finish"
    assert bad == [], bad[:5]


@pytest.mark.parametrize("name,batches", [("mlp", [1, 15, 16, 17, 31, 32, 33, 47, 100, 257, 1000]),
                                          ("conv", [1, 3, 17]), ("bert", [1, 3, 17])])
def test_batches_around_the_tile_rows_give_the_reference_bytes(engines, name: str, batches) -> None:
    for n in batches:
        feed = FEEDS[name](n, seed=n)
        assert run_bytes(engines[name], feed) == reference_bytes(engines[name], feed), f"{name} batch {n}"
