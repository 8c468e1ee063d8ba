#!/usr/bin/env bash
# A compiler launcher for a partly sanitized build (docs/reliability.md, the
# campaign of 7 December 2026): compiles the sources whose path matches the
# extended regular expression SANITIZE_SOURCES with tools/sanitize_tests.sh's
# flags (ASan + UBSan, every finding fatal, -O1 -g, appended so they win) and
# every other source as configured, then runs the command through ccache where
# it is installed (so the untouched objects are the cache's). For when the whole
# checking build (about 330 objects at -O1 under the sanitizers) does not fit
# the time: the chosen sources' code is checked, code outside them is not
# (an inline function of a shared header may keep an uninstrumented copy).
#
#   cmake -B build/dev -DCMAKE_CXX_COMPILER_LAUNCHER=$PWD/tools/sanitize_launcher.sh \
#     -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined -DCMAKE_MODULE_LINKER_FLAGS=-fsanitize=address,undefined
#   SANITIZE_SOURCES='avx2/dwconv_f32_phases8\.cc|lower_int8_conv_head\.cc' cmake --build build/dev
#
# The linker flags put libasan / libubsan in the library's needs (the build
# links with --no-undefined); run Python with both preloaded, as
# tools/sanitize_tests.sh does. Configure the launcher back to ccache afterwards.
set -euo pipefail
args=("$@")
src=""
for ((i = 0; i < ${#args[@]}; ++i)); do
  if [ "${args[i]}" = "-c" ] && [ $((i + 1)) -lt ${#args[@]} ]; then src=${args[i + 1]}; fi
done
if [ -n "${SANITIZE_SOURCES:-}" ] && [ -n "$src" ] && [[ "$src" =~ $SANITIZE_SOURCES ]]; then
  args+=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1)
fi
if command -v ccache >/dev/null; then exec ccache "${args[@]}"; fi
exec "${args[@]}"
