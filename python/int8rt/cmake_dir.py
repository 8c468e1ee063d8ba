"""Where the C++ SDK shipped inside the wheel lives.

``python -m int8rt.cmake_dir`` prints the folder to pass to CMake as
``-Dint8rt_DIR=...`` (or append to ``CMAKE_PREFIX_PATH``), like ``pybind11 --cmakedir``.
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def cmake_dir() -> str:
    """Folder holding ``int8rtConfig.cmake`` for ``find_package(int8rt)``."""
    return str(_PACKAGE / "lib" / "cmake" / "int8rt")


def include_dir() -> str:
    """Folder holding the public headers (``#include <int8rt/int8rt.h>``)."""
    return str(_PACKAGE / "include")


if __name__ == "__main__":
    print(cmake_dir())
