#!/usr/bin/env bash
# A compiler launcher that logs each compile's CPU seconds (RESULTS.md 231):
# appends "user sys wall maxrss_kb object" to $CCTIMES (default build_times.txt
# in the build folder). Use: -DCMAKE_CXX_COMPILER_LAUNCHER=$PWD/tools/time_compile.sh
# (the name has no "ccache", so the tests/cpp precompiled header stays on, as in CI).
out=?
prev=
for a in "$@"; do [ "$prev" = "-o" ] && out=$a; prev=$a; done
exec /usr/bin/time -f "%U %S %e %M $out" -a -o "${CCTIMES:-build_times.txt}" "$@"
