"""Progress of long work: one bar (or line) per phase of a build.

The phases are ``import`` (ONNX import and graph passes), ``calibrate`` (one
step per calibration batch: a total and an ETA when the calibrator knows its
length, ``__len__`` or ``num_batches``, else a counter with its rate),
``thresholds`` (the threshold search over every tensor's histogram) and
``build`` (INT8 lowering and kernel packing).

Library code is quiet unless asked (STYLE.md): ``BuilderConfig(progress=True)``
or a :class:`Progress` object turns this on; the CLI turns it on by default.
On a terminal the bars are tqdm's (a small pure-Python dependency, see
pyproject.toml); anywhere else (a pipe, a CI log) a bar's carriage returns
would pile up into one unreadable line, so a plain line is written when a
phase starts, every ``interval`` seconds while it runs, and when it ends.
A ticker thread keeps the elapsed time moving while one long call into C++
(which releases the GIL) runs.
"""
from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import Any, Optional, TextIO, Union

__all__ = ["Progress", "resolve_progress"]


def _seconds(t: float) -> str:
    t = int(round(t))
    return f"{t // 60}m{t % 60:02d}s" if t >= 60 else f"{t}s"


def _plural(unit: str) -> str:
    return unit + ("es" if unit.endswith(("ch", "s", "sh", "x")) else "s")


class Progress:
    """Where and how progress is shown.

    Args:
        stream: where to write (default: ``sys.stderr`` at the time of use).
        bars: True for tqdm bars, False for plain lines, None (default) for
            bars exactly when ``stream`` is a terminal and tqdm is installed.
        interval: seconds between plain lines while a phase runs (default 5).
    """

    def __init__(self, stream: Optional[TextIO] = None, *, bars: Optional[bool] = None,
                 interval: float = 5.0) -> None:
        if interval <= 0:
            raise ValueError(f"Progress interval must be > 0 seconds, got {interval}")
        self._stream = stream
        self._bars = bars
        self.interval = float(interval)

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def uses_bars(self) -> bool:
        """Whether phases are drawn as tqdm bars (else as plain lines)."""
        if self._bars is not None:
            return bool(self._bars) and _tqdm_class() is not None
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty()) and _tqdm_class() is not None

    def phase(self, name: str, total: Optional[int] = None, unit: str = "step") -> "Phase":
        """A context manager for one phase; call ``update(n)`` as work is done."""
        return Phase(self, name, total, unit)


class Phase:
    """One phase in progress; use as a context manager (see :meth:`Progress.phase`)."""

    def __init__(self, owner: Optional[Progress], name: str, total: Optional[int], unit: str) -> None:
        self._owner, self.name, self.total, self.unit = owner, name, total, unit
        self.count = 0
        self._bar: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: Optional[threading.Thread] = None
        self._start = self._last_line = 0.0

    def __enter__(self) -> "Phase":
        if self._owner is None:
            return self
        self._start = self._last_line = time.monotonic()
        if self._owner.uses_bars():
            tqdm = _tqdm_class()
            # A terminal that reports no size (0x0, e.g. under `script`) would get
            # no bars from tqdm, which hides bars below the last row.
            size = shutil.get_terminal_size((80, 24))
            self._bar = tqdm(total=self.total, desc=self.name, unit=self.unit, file=self._owner.stream,
                             leave=True, ncols=size.columns or 80, nrows=size.lines or 24, mininterval=0.1)
            tick = 1.0
        else:
            self._line("started" + (f", {self.total} {_plural(self.unit)}" if (self.total or 0) > 1 else ""))
            tick = self._owner.interval
        self._ticker = threading.Thread(target=self._tick, args=(tick,), name="int8rt-progress", daemon=True)
        self._ticker.start()
        return self

    def update(self, n: int = 1) -> None:
        """Marks ``n`` more steps done."""
        self.count += n
        if self._owner is None:
            return
        if self._bar is not None:
            with self._lock:
                self._bar.update(n)
        elif time.monotonic() - self._last_line >= self._owner.interval:
            self._status()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._owner is None:
            return
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        elapsed = time.monotonic() - self._start
        if self._bar is not None:
            with self._lock:
                self._bar.close()
        elif exc_type is None:
            done = f", {self.count} {_plural(self.unit)}" if max(self.count, self.total or 0) > 1 else ""
            self._line(f"done in {elapsed:.2f} s{done}")
        else:
            self._line(f"failed after {elapsed:.2f} s")

    def _tick(self, every: float) -> None:
        while not self._stop.wait(every):
            if self._bar is not None:
                with self._lock:
                    self._bar.refresh()
            elif time.monotonic() - self._last_line >= self._owner.interval * 0.999:
                self._status()

    def _status(self) -> None:
        elapsed = time.monotonic() - self._start
        parts = []
        if self.total:
            parts.append(f"{self.count}/{self.total} {_plural(self.unit)} ({100 * self.count // self.total}%)")
        elif self.count:
            parts.append(f"{self.count} {_plural(self.unit)}")
        if self.count and elapsed > 0:
            rate = self.count / elapsed
            parts.append(f"{rate:.2f} {self.unit}/s")
            if self.total and rate > 0:
                parts.append(f"ETA {_seconds((self.total - self.count) / rate)}")
        parts.append(f"elapsed {_seconds(elapsed)}")
        self._line(", ".join(parts))

    def _line(self, text: str) -> None:
        assert self._owner is not None
        with self._lock:
            self._last_line = time.monotonic()
            stream = self._owner.stream
            stream.write(f"int8rt {self.name}: {text}\n")
            stream.flush()


def resolve_progress(progress: Union[bool, None, Progress]) -> Optional[Progress]:
    """``True`` -> a default :class:`Progress`; ``False``/``None`` -> None (quiet);
    a :class:`Progress` -> itself."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return Progress()
    if isinstance(progress, Progress):
        return progress
    raise TypeError(f"progress must be a bool or an int8rt.Progress, got {type(progress).__name__}")


def phase(progress: Union[bool, None, Progress], name: str, total: Optional[int] = None,
          unit: str = "step") -> Phase:
    """A phase of ``progress`` (resolved as :func:`resolve_progress`); a no-op when quiet."""
    return Phase(resolve_progress(progress), name, total, unit)


def _tqdm_class() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # a core dependency, but a stripped environment still gets plain lines
        return None
    return tqdm
