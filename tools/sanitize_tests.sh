#!/usr/bin/env bash
# The checking build (docs/reliability.md): int8rt and its extension compiled
# with AddressSanitizer + UndefinedBehaviorSanitizer (GCC, -O1, every finding
# fatal), installed into a copy of the package, then the C++ unit tests and
# Python tests run under it.
#
#   tools/sanitize_tests.sh                 # C++ tests + the default Python suite
#   tools/sanitize_tests.sh tests/test_engine.py -k save   # C++ tests + these pytest args
#   CPP_TESTS=0 tools/sanitize_tests.sh tests/test_u8_codes.py   # only the library and these
#
# BUILD (default build/asan) holds the build and the package (BUILD/site);
# later runs are incremental. CUDA is off (host code is what is checked).
# CPP_TESTS=0 neither builds nor runs the C++ unit tests (75 more sanitized
# objects, about 10 CPU-minutes at -O1), for a run of chosen Python tests; PY_TESTS=0 runs the C++ unit
# tests only (CPP_TEST_FILES='test_amx_*.cc;...': only those files built,
# tests/cpp/CMakeLists.txt's INT8RT_TEST_FILES; GTEST_FILTER=pattern: only
# those tests run). The C++ tests run one
# suite per process, their logs in BUILD/cpptests/suite_logs. Where ccache is installed it
# compiles (unless CMAKE_CXX_COMPILER_LAUNCHER says otherwise), so a later
# run or session with the same CCACHE_DIR reuses the objects (the sanitized
# build at -O1 -g is the slow part: about 330 objects).
# Python itself is not instrumented, so libasan is preloaded; leak checking
# is off (the interpreter keeps memory until exit on purpose).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/asan}
mkdir -p "$build"
build=$(cd "$build" && pwd)
if command -v ccache >/dev/null; then export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-ccache}; fi
# -g makes ccache hash the build directory's absolute path (hash_dir), so a
# checkout elsewhere (another worktree, a later session's) missed every
# sanitized object of the last one: three sessions recompiled all of them
# (RESULTS.md 182, 188, 190). Without it, CCACHE_BASEDIR above the checkouts
# makes the commands equal where BUILD lies at the same place in each checkout
# (the default build/asan: a BUILD outside the checkout puts the checkout's
# name into every relative path and misses, RESULTS.md 210); the cost is debug
# info naming the first checkout's directory (line numbers and relative file
# names stay right).
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
site=$build/site
# -Og, not -O1 (RESULTS.md 237): a quarter to a third less compile time, and
# tests/sanitizers/planted_bugs.cc's bugs of every class are reported alike at
# both (tests/test_sanitizers.py); -O0 compiles a little faster still but runs
# the kernels many times slower. The two FMA-contracted unary_f32 files keep
# -O1 (csrc/kernels/x86/CMakeLists.txt).
opt=${SANITIZE_OPT:--Og}
# The x86 tiers this CPU cannot run compile unsanitized, as in the release
# build (their code never executes here; tests/cpp's emulated twins run it
# sanitized): ccache hits of the development build where it was built.
# SANITIZE_ALL_ISAS=1 instruments them too.
skip=()
if [ "${SANITIZE_ALL_ISAS:-0}" != 1 ]; then
  cpu=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  has() { for f in "$@"; do [[ "$cpu" == *" $f "* ]] || return 1; done; }
  has avx_vnni || skip+=(avxvnni)
  has avx512f avx512bw avx512vl avx512dq || skip+=(avx512)
  has avx512f avx512bw avx512vl avx512dq avx512_bf16 || skip+=(avx512bf16)
  has avx512f avx512bw avx512vl avx512dq avx512_vnni || skip+=(avx512vnni)
  has avx512f avx512bw avx512vl avx512dq avx512_vnni amx_tile amx_int8 amx_bf16 || skip+=(amx)
fi
skip_list=$(IFS=';'; echo "${skip[*]}")
echo "== sanitized at $opt; x86 tiers left unsanitized (this CPU lacks them): ${skip_list:-none}"
# The Python sources, without what tools/dev_build.sh installed beside them.
rm -rf "$site/int8rt" && mkdir -p "$site" && cp -r python/int8rt "$site/int8rt"
rm -rf "$site/int8rt/lib" "$site/int8rt/include" "$site"/int8rt/_core*.so "$site"/int8rt/_testing*.so
# The library builds in BUILD itself, two levels below the checkout like
# build/dev, so its unsanitized objects have the development build's relative
# paths (ccache hits). No LTO for the extensions (their sanitized LTO links
# took minutes and check nothing more).
PREFIX=$site tools/dev_build.sh "$build" -DINT8RT_SANITIZE="address;undefined" -DINT8RT_SANITIZE_OPT="$opt" \
  -DINT8RT_SANITIZE_SKIP_ISAS="$skip_list" -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF -DINT8RT_WITH_CUDA=off

# allocator_may_return_null: a test that asks numpy for terabytes expects its MemoryError,
# which ASan would otherwise turn into a fatal allocation-size-too-big report.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:print_summary=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g $opt"

if [ "${CPP_TESTS:-1}" != 0 ]; then
  echo "== C++ unit tests (ASan + UBSan)"
  gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
  # CMAKE_CXX_FLAGS_RELEASE without its -O3: CMake puts it after CMAKE_CXX_FLAGS, so the
  # tests and their x86 twins compiled at -O3 under the sanitizers (the last -O wins), and
  # the emulated AVX-512 / AMX twins took tens of minutes each (RESULTS.md 225; 13 s at -O1).
  # -DNDEBUG stays, as in the library's build.
  cmake -S tests/cpp -B "$build/cpptests" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_CXX_FLAGS_RELEASE=-DNDEBUG -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -Dint8rt_DIR="$site/int8rt/lib/cmake/int8rt" -DINT8RT_TEST_FILES="${CPP_TEST_FILES:-test_*.cc}" >/dev/null
  cmake --build "$build/cpptests" -j "${JOBS:-2}"
  # One suite per process (tools/gtest_by_suite.py): every finding is fatal, so
  # a finding ends its own suite only and one run names them all.
  python3 tools/gtest_by_suite.py "$build/cpptests/int8rt_cpp_tests" --log-dir "$build/cpptests/suite_logs" \
    ${GTEST_FILTER:+--filter "$GTEST_FILTER"}
fi

preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
# Python is not instrumented: every pytest below runs with both runtimes preloaded.
# --capture=sys: a sanitizer report is written to file descriptor 2, which
# pytest's default capture would swallow when the process exits.
sanitized_pytest() {
  LD_PRELOAD="$preload" python3 -m pytest -q -p no:cacheprovider --capture=sys "$@"
}

# test_cuda_emulated_package against an emulated CUDA package built with the
# same flags beside BUILD (BUILD-emu, at the same depth, so its objects whose
# preprocessed text the CUDA defines leave alone are ccache hits of BUILD's).
# On by default for the whole suite (no pytest arguments); CUDA_EMULATED=1 / 0
# forces it.
if [ "${CUDA_EMULATED:-$([ $# = 0 ] && echo 1 || echo 0)}" != 0 ]; then
  echo "== the emulated CUDA package (ASan + UBSan)"
  emu="$build-emu"
  mkdir -p "$emu/site"
  rm -rf "$emu/site/int8rt" && cp -r "$site/int8rt" "$emu/site/int8rt"
  rm -rf "$emu/site/int8rt/lib" "$emu/site/int8rt/include" "$emu"/site/int8rt/_core*.so "$emu"/site/int8rt/_testing*.so
  PREFIX=$emu/site tools/dev_build.sh "$emu" -DINT8RT_SANITIZE="address;undefined" -DINT8RT_SANITIZE_OPT="$opt" \
    -DINT8RT_SANITIZE_SKIP_ISAS="$skip_list" -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF -DINT8RT_WITH_CUDA=emulated
  INT8RT_EMULATED_SITE="$emu/site" PYTHONPATH="$emu/site" sanitized_pytest -n 0 -m slow \
    tests/test_cuda_emulated_package.py
fi

[ "${PY_TESTS:-1}" != 0 ] || exit 0
echo "== Python tests (ASan + UBSan)"
# Left out: test_cpp_unit (the C++ tests ran above, instrumented, one suite
# per process), test_fuzz (clang libFuzzer targets, sanitized by their own
# build; GCC's preloaded runtime breaks them: run that file without it),
# test_cuda_emulated_package (above, against its own package). test_cuda_build runs:
# it calls nvcc without LD_PRELOAD (nvcc segfaults under the preloaded
# runtime) and its driver against this sanitized libint8rt with it.
# PY_JOBS (default 0: one process, a report printed whole beside its test):
# pytest-xdist workers, --dist loadfile; a worker that a report ends is
# replaced and the report is still printed (the workers inherit fd 2).
PYTHONPATH="$site" sanitized_pytest -n "${PY_JOBS:-0}" --dist loadfile \
  --ignore=tests/test_cpp_unit.py --ignore=tests/test_fuzz.py --ignore=tests/test_cuda_emulated_package.py \
  "${@:-tests}"
