"""One calibrator vocabulary (issue 12 follow-up, RESULTS_accuracy.md "acc42").

make_calibrator, ``int8rt build --calibrator``, the build report's per-tensor
method, int8rt.calib's method names (the C++ method table) and the cache
header's mapping name each calibrator alike: ``entropy`` is TensorRT's
EntropyCalibration2, ``entropy_legacy`` its EntropyCalibration, then
``minmax``, ``percentile``, ``mse`` and ``auto``. ``entropy2``, the name
make_calibrator and the CLI took for EntropyCalibration2 until 2026-12-05,
is accepted with a FutureWarning naming the new name.
"""
from __future__ import annotations

import argparse
import warnings

import numpy as np
import pytest

import int8rt
from int8rt import _core, cli
from int8rt.calibrator import CalibrationAlgoType
from int8rt.data_calibrator import CALIBRATOR_CLASSES, RENAMED_CALIBRATORS, calibrator_name, make_calibrator

from onnx_models import conv_net

DATA = {"input": np.random.default_rng(0).standard_normal((16, 3, 8, 8)).astype(np.float32)}


def test_calibrator_names_are_the_method_names() -> None:
    assert sorted(CALIBRATOR_CLASSES) == sorted([m.name for m in _core.calibration_methods()] + ["auto"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in CALIBRATOR_CLASSES:
            assert make_calibrator(DATA, algorithm=name).get_algorithm().method == name
    assert CALIBRATOR_CLASSES["entropy"] is int8rt.IInt8EntropyCalibrator2
    assert CALIBRATOR_CLASSES["entropy_legacy"] is int8rt.IInt8EntropyCalibrator


def test_entropy2_is_accepted_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match="'entropy2' is now called 'entropy'.*'entropy_legacy'"):
        calibrator = make_calibrator(DATA, algorithm="entropy2")
    assert calibrator.get_algorithm() is CalibrationAlgoType.ENTROPY_CALIBRATION_2
    assert set(RENAMED_CALIBRATORS.values()) <= set(CALIBRATOR_CLASSES)
    with pytest.raises(ValueError, match="unknown calibrator 'kl'; choose from auto, entropy, entropy_legacy"):
        calibrator_name("kl")


@pytest.mark.parametrize("name", ["entropy", "entropy_legacy", "minmax", "percentile", "mse"])
def test_report_and_cache_use_the_name_given(name: str, tmp_path) -> None:
    cache = tmp_path / "net.cache"
    engine = int8rt.build_engine(conv_net().SerializeToString(), int8rt.BuilderConfig(
        calibrator=make_calibrator(DATA, algorithm=name, batch_size=4, cache_file=str(cache))))
    report = engine.build_report()
    assert report.tensors and {t.method for t in report.tensors} == {name}
    assert report.algorithm == int8rt.calib.cache_algorithm_name(name)
    # the CLI with this cache and no --calibrator: the cache's algorithm, by the same name
    args = argparse.Namespace(calibrator=None, cache=str(cache))
    assert cli._calibrator_name(args) == name


def test_cli_takes_the_names_and_the_old_one() -> None:
    build = next(a for a in cli._parser()._subparsers._group_actions[0].choices["build"]._actions
                 if a.dest == "calibrator")
    assert list(build.choices) == [*CALIBRATOR_CLASSES, "entropy2"]
    assert "{auto,entropy,entropy_legacy,minmax,percentile,mse}" in build.metavar
