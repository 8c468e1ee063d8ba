"""Progress output: tqdm bars per phase on a terminal (driven through a
pseudo-terminal), plain periodic lines when piped, nothing with -q, and
nothing from the Python API unless asked."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import int8rt
from int8rt.quickstart import DATA_PATH, MODEL_PATH
from int8rt.progress import Progress

PYTHON_DIR = Path(int8rt.__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ, COLUMNS="120", PYTHONPATH=os.pathsep.join(
        [str(PYTHON_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]))
    env.pop("INT8RT_LOG", None)
    return env


@pytest.fixture(scope="module")
def calib_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "calib.npz"
    np.savez(path, input=np.load(DATA_PATH)["calib"][:128])
    return path


def _run_in_pty(args: list[str], cwd: Path) -> tuple[int, str]:
    pty = pytest.importorskip("pty")  # POSIX only
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 40 rows, 120 columns
    proc = subprocess.Popen([sys.executable, "-m", "int8rt.cli", *args], stdin=slave, stdout=slave,
                            stderr=slave, cwd=cwd, env=_env(), close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_terminal_shows_a_bar_per_phase(tmp_path: Path, calib_npz: Path) -> None:
    rc, out = _run_in_pty(["build", str(MODEL_PATH), "--calib-data", str(calib_npz), "--batch-size", "16",
                           "-o", str(tmp_path / "m.i8rt")], tmp_path)
    assert rc == 0, out
    assert "\r" in out, f"no carriage-return bar redraws in:\n{out}"
    # tqdm's bar for the batches: a total, a percentage, a rate and an ETA.
    assert re.search(r"calibrate: 100%\|.*\| 8/8 \[\d\d:\d\d<00:00, +[\d.]+ ?(batch/s|s/batch)\]", out), out
    for name, unit in (("import", "step"), ("thresholds", "tensor"), ("build", "step")):
        assert re.search(rf"{name}: ", out), f"no {name} bar in:\n{out}"
    assert "built " in out


class _SlowCalibrator:
    source = textwrap.dedent("""
        import time
        import numpy as np
        import int8rt

        class Slow(int8rt.IInt8MinMaxCalibrator):
            # 8 batches of 8 digits, 0.15 s each; no __len__: the bar is a counter.
            def __init__(self):
                super().__init__()
                self.x = np.load({data!r})["calib"][:64]
                self.i = 0

            def get_batch_size(self):
                return 8

            def get_batch(self, names):
                if self.i == len(self.x):
                    return None
                time.sleep(0.15)
                self.i += 8
                return [self.x[self.i - 8:self.i]]
        """)


def test_pipe_gets_periodic_plain_lines(tmp_path: Path) -> None:
    (tmp_path / "slowcalib.py").write_text(_SlowCalibrator.source.format(data=str(DATA_PATH)))
    proc = subprocess.run([sys.executable, "-m", "int8rt.cli", "build", str(MODEL_PATH), "--calibrator-class",
                           "slowcalib:Slow", "--progress-interval", "0.3", "-o", str(tmp_path / "m.i8rt")],
                          capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "\r" not in err, f"carriage returns in piped output:\n{err!r}"
    status = re.findall(r"^int8rt calibrate: (\d+) batch(?:es)?, [\d.]+ batch/s, elapsed \d+s$", err, re.M)
    assert len(status) >= 2, f"expected periodic calibrate lines every 0.3 s over ~1.2 s, got:\n{err}"
    assert [int(n) for n in status] == sorted(int(n) for n in status)
    assert re.search(r"^int8rt calibrate: done in [\d.]+ s, 8 batches$", err, re.M), err
    for name in ("import", "thresholds", "build"):
        assert re.search(rf"^int8rt {name}: started", err, re.M), err
        assert re.search(rf"^int8rt {name}: done in ", err, re.M), err


def test_quiet_flag_silences(tmp_path: Path, calib_npz: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from int8rt.cli import main

    assert main(["build", str(MODEL_PATH), "--calib-data", str(calib_npz), "-q", "-o", str(tmp_path / "m.i8rt")]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith("built ")
    assert main(["build", str(MODEL_PATH), "--calib-data", str(calib_npz), "-o", str(tmp_path / "m.i8rt")]) == 0
    assert "int8rt calibrate: done in" in capsys.readouterr().err  # without -q: plain lines (not a terminal)


def test_python_api_is_quiet_unless_asked(capfd: pytest.CaptureFixture[str]) -> None:
    x = np.load(DATA_PATH)["calib"][:32]
    from int8rt.data_calibrator import make_calibrator

    int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=make_calibrator({"input": x}, batch_size=8)))
    assert capfd.readouterr().err == ""
    stream = io.StringIO()
    config = int8rt.BuilderConfig(calibrator=make_calibrator({"input": x}, batch_size=8),
                                  progress=Progress(stream, bars=False))
    int8rt.build_engine(MODEL_PATH, config)
    text = stream.getvalue()
    assert "int8rt calibrate: started, 4 batches" in text
    assert re.search(r"int8rt calibrate: done in [\d.]+ s, 4 batches", text), text
    assert re.search(r"int8rt thresholds: done in [\d.]+ s, \d+ tensors", text), text
    assert capfd.readouterr().err == ""


def test_progress_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="interval"):
        Progress(interval=0)
    with pytest.raises(TypeError, match="progress must be"):
        int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32", progress="yes"))


def test_plain_lines_give_total_rate_and_eta() -> None:
    import time

    stream = io.StringIO()
    with Progress(stream, bars=False, interval=0.05).phase("calibrate", total=4, unit="batch") as bar:
        for _ in range(4):
            time.sleep(0.06)
            bar.update()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "int8rt calibrate: started, 4 batches"
    status = [line for line in lines[1:-1] if re.fullmatch(
        r"int8rt calibrate: \d/4 batches \(\d+%\), [\d.]+ batch/s, ETA \d+s, elapsed \d+s", line)]
    assert len(status) >= 2, lines
    assert re.fullmatch(r"int8rt calibrate: done in [\d.]+ s, 4 batches", lines[-1]), lines
