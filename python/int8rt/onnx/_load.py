"""Loading an ONNX model for import: from a path, bytes or a ModelProto, checked.

Malformed input (garbage, a truncated file, a model the ONNX checker
rejects) raises ``int8rt.FormatError`` naming the source; a model of an
opset below 11 is converted to opset 11 with ONNX's version converter (as
ONNX Runtime runs such models: And/Or/Not of opset 7, Upsample of opset 9);
one the converter refuses, an opset newer than the installed onnx knows, or
a node outside the default domain (but the com.microsoft ops of _contrib.py)
raises ``int8rt.NotSupportedError``.
"""
from __future__ import annotations

import os
from typing import Tuple, Union

import onnx
from google.protobuf.message import DecodeError

from .._errors import FormatError, NotSupportedError

MIN_OPSET = 11

ModelSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, onnx.ModelProto]


def load(model: ModelSource) -> Tuple[onnx.ModelProto, str]:
    """The parsed, checked model and a label for messages (its path, or "<bytes>" / "<ModelProto>")."""
    if isinstance(model, onnx.ModelProto):
        proto, source = model, "<ModelProto>"
    elif isinstance(model, (bytes, bytearray, memoryview)):
        source = "<bytes>"
        proto = _parse(lambda: onnx.load_model_from_string(bytes(model)), source)
    elif isinstance(model, (str, os.PathLike)):
        source = os.fspath(model)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"ONNX model '{source}' does not exist")
        proto = _parse(lambda: onnx.load(source), source)
    else:
        raise TypeError(f"expected a path, bytes or onnx.ModelProto, got {type(model).__name__}")
    try:
        onnx.checker.check_model(proto)
    except (onnx.checker.ValidationError, UnicodeDecodeError) as e:
        raise FormatError(f"{source}: not a valid ONNX model: {first_line(e)}") from e
    if len(proto.graph.output) == 0:
        raise FormatError(f"{source}: the ONNX graph has no outputs")
    _check_utf8_names(proto.graph, source)
    return proto, source


def _check_utf8_names(graph: onnx.GraphProto, source: str) -> None:
    """Every name the import hands to C++ is UTF-8 (nested graphs too). protobuf gives a string field that
    is not UTF-8 as bytes, which the checker accepts; the engine's names must read back as str."""
    def check(value, what: str) -> None:
        if isinstance(value, bytes):
            raise FormatError(f"{source}: {what} {value[:80]!r} is not UTF-8")

    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        check(vi.name, "the tensor name")
    for t in graph.initializer:
        check(t.name, "the initializer name")
    for node in graph.node:
        for value in [node.name, node.op_type, node.domain] + list(node.input) + list(node.output):
            check(value, "a name in a node")
        for a in node.attribute:
            check(a.name, "an attribute name")
            for g in [a.g] if a.HasField("g") else list(a.graphs):
                _check_utf8_names(g, source)


def _parse(read, source: str) -> onnx.ModelProto:
    try:
        return read()
    except (DecodeError, RuntimeError, ValueError) as e:
        raise FormatError(f"{source}: not an ONNX model (protobuf parsing failed: {first_line(e)})") from e


MAX_MESSAGE_CHARS = 1000


def first_line(e: Exception) -> str:
    """The first line of an onnx error's message, at most MAX_MESSAGE_CHARS long.

    onnx's C++ checker raises UnicodeDecodeError instead of its own error when
    its message quotes bytes that are not UTF-8 (a node name or op type from
    the file): the message is then recovered from the bytes, with U+FFFD for
    the bad ones."""
    if isinstance(e, UnicodeDecodeError) and isinstance(e.object, (bytes, bytearray)):
        text = bytes(e.object).decode("utf-8", "replace").strip()
    else:
        text = str(e).strip()
    line = text.splitlines()[0] if text else type(e).__name__
    return line if len(line) <= MAX_MESSAGE_CHARS else line[:MAX_MESSAGE_CHARS] + f"... ({len(line)} characters)"


def default_opset(proto: onnx.ModelProto, source: str) -> int:
    """The model's ai.onnx opset, checked against what int8rt imports."""
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise FormatError(f"{source}: the model imports no version of the default ONNX domain")
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= versions[0] <= newest:
        raise NotSupportedError(
            f"{source}: opset {versions[0]} is not supported; int8rt imports opsets {MIN_OPSET} to {newest} "
            "(convert with onnx.version_converter.convert_version(model, 17))")
    return versions[0]


def with_supported_opset(proto: onnx.ModelProto, source: str) -> Tuple[onnx.ModelProto, int]:
    """The model and its ai.onnx opset; a model below MIN_OPSET converted to
    MIN_OPSET by ONNX's version converter (NotSupportedError, with the
    converter's reason, when it cannot)."""
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if versions and 1 <= versions[0] < MIN_OPSET:
        from onnx import version_converter
        try:
            converted = version_converter.convert_version(proto, MIN_OPSET)
            onnx.checker.check_model(converted)
        except Exception as e:  # noqa: BLE001 - the converter raises RuntimeError, ValidationError, ...
            raise NotSupportedError(
                f"{source}: opset {versions[0]} is not supported and ONNX's version converter could not convert it "
                f"to opset {MIN_OPSET}: {first_line(e)}; int8rt imports opsets {MIN_OPSET} to "
                f"{onnx.defs.onnx_opset_version()}") from e
        return converted, default_opset(converted, source)
    return proto, default_opset(proto, source)
