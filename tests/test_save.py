"""Engine.save(): atomic, with a temporary name of its own per call, and the
temporary files of killed saves removed by the next save to the same path
(csrc/engine/atomic_file.h)."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import int8rt
from onnx_models import conv_net, fvi, init, model

from onnx import helper

HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())


@pytest.fixture(scope="module")
def small_engine() -> int8rt.Engine:
    return int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="fp32"))


def big_model(rows: int = 1024, cols: int = 2048) -> "onnx.ModelProto":  # noqa: F821
    """One Gemm with a rows x cols float weight (8 MiB by default): a save takes a while."""
    w = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)
    return model([node], [fvi("x", ["N", cols])], [fvi("y", ["N", rows])], [init("w", w)])


def temporaries(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".tmp.*"))


def test_threads_saving_to_one_path(tmp_path: Path, small_engine: int8rt.Engine) -> None:
    path = tmp_path / "shared.i8rt"
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(25):
                small_engine.save(path)
        except BaseException as e:  # noqa: BLE001 - collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert path.read_bytes() == small_engine.serialize()
    assert temporaries(path) == []


def test_temporary_names_are_unique_and_described(tmp_path: Path, small_engine: int8rt.Engine) -> None:
    # A file in the way of a fixed temporary name (the old "<path>.tmp.<pid>") changes nothing.
    path = tmp_path / "e.i8rt"
    blocker = tmp_path / f"e.i8rt.tmp.{os.getpid()}"
    blocker.mkdir()
    small_engine.save(path)
    assert int8rt.Engine.load(path).input_names == ["input"]
    assert blocker.is_dir()


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path: Path, small_engine: int8rt.Engine) -> None:
    path = tmp_path / "e.i8rt"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"e.i8rt.tmp.{HOST}.{dead.pid}.0123456789abcdef"
    alive = tmp_path / f"e.i8rt.tmp.{HOST}.{os.getppid()}.0123456789abcdef"  # a live process: maybe saving
    other_host = tmp_path / f"e.i8rt.tmp.{HOST}x.{dead.pid}.0123456789abcdef"  # another machine's
    other_file = tmp_path / f"other.i8rt.tmp.{HOST}.{dead.pid}.0123456789abcdef"  # another target's
    odd = tmp_path / f"e.i8rt.tmp.{HOST}.{dead.pid}.not-hex"  # not a name save() makes
    for p in (stale, alive, other_host, other_file, odd):
        p.write_bytes(b"partial")
    small_engine.save(path)
    assert not stale.exists()
    assert alive.exists() and other_host.exists() and other_file.exists() and odd.exists()


SAVER = textwrap.dedent("""
    import sys
    import int8rt
    engine = int8rt.Engine.deserialize(open(sys.argv[1], "rb").read())
    print("ready", flush=True)
    while True:
        engine.save(sys.argv[2])
""")


def test_killed_save_leaves_no_partial_target_and_is_cleaned(tmp_path: Path) -> None:
    engine = int8rt.build_engine(big_model(), int8rt.BuilderConfig(precision="fp32"))
    src = tmp_path / "src.i8rt"
    engine.save(src)
    expected = src.read_bytes()
    path = tmp_path / "target.i8rt"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    left: list[Path] = []
    for attempt in range(5):  # the kill can land just after a save completed; then again
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(src), str(path)], stdout=subprocess.PIPE,
                                env=env)
        assert proc.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 20
        while not temporaries(path) and time.monotonic() < deadline:
            time.sleep(0.0005)
        proc.send_signal(signal.SIGKILL)  # while a save is writing its temporary file
        proc.wait()
        left = temporaries(path)
        if left:
            break
    assert left, "no kill landed inside a save in 5 tries"
    assert all(f".tmp.{HOST}." in p.name for p in left)
    if path.exists():  # an earlier save completed: the target is whole, never a part
        assert path.read_bytes() == expected
    engine.save(path)
    assert temporaries(path) == []
    assert path.read_bytes() == expected
