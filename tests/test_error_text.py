"""Error messages that quote bytes which are not UTF-8 stay errors of the
promised kind (issue 9): the C++ messages reach Python decoded with
replacement characters (csrc/python/bind_errors.cc), and so do onnx's
checker messages (python/int8rt/onnx/_load.py)."""
from __future__ import annotations

import pytest

import int8rt
from int8rt.calib import read_cache
from onnx_models import fvi, model

from onnx import helper


def test_onnx_checker_message_with_non_utf8_op_type() -> None:
    m = model([helper.make_node("Relu", ["x"], ["y"], name="node")], [fvi("x", [1, 2])], [fvi("y", [1, 2])])
    data = m.SerializeToString().replace(b"Relu", b"R\xffl\xfe")
    with pytest.raises(int8rt.FormatError) as info:
        int8rt.build_engine(data, int8rt.BuilderConfig(precision="fp32"))
    text = str(info.value)
    assert text.startswith("<bytes>: not a valid ONNX model: No Op registered for R\ufffdl\ufffd"), text


def test_cache_name_with_non_utf8_bytes_in_message() -> None:
    data = b"TRT-8601-EntropyCalibration2\nname\xe9: 1\nname\xe9: 2\n"
    with pytest.raises(int8rt.FormatError, match="line 3: tensor 'name\ufffd' already appeared on line 2"):
        read_cache(data)

