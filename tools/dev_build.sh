#!/usr/bin/env bash
# Developer build: configures (once) and builds the C++ core, the _core
# extension and the test-hook extension _testing in build/dev, then installs
# them into the source package python/int8rt/ (git-ignored), so
# `PYTHONPATH=python pytest` uses this tree
# without a pip install. Usage: tools/dev_build.sh [build-dir] [extra cmake args]
# PREFIX=dir installs into dir/int8rt instead (e.g. a CUDA-emulated build,
# -DINT8RT_WITH_CUDA=emulated, next to a copy of python/int8rt).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/dev}
shift || true
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DINT8RT_BUILD_PYTHON=ON \
    -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v python3)" "$@"
fi
cmake --build "$build_dir" -j "${JOBS:-2}"
cmake --install "$build_dir" --prefix "${PREFIX:-python}" >/dev/null
