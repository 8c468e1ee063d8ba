#!/usr/bin/env bash
# Where the AMX int8 microkernel's time goes (RESULTS.md section 198): builds
# benchmarks/amx1x1_ukernel.cc against a copy of this tree's
# csrc/kernels/x86/amx/igemm_32x32c4.cc with three switches read from the
# environment, and runs it with each:
#   NODOT    the dot products not issued (the epilogue reads stale sums),
#   NOSTORE  the C tiles not stored to the accumulator buffers,
#   NOEPI    the epilogue not run (tile products and stores only),
# the base (BASE, a commit; default HEAD) alternating in the same process, so
# each line's "tree" time is one part alone and "base" the whole kernel.
# Timing only: the switched copy computes wrong outputs on purpose.
# Usage (repository root): benchmarks/r50x1_ukernel_parts.sh [M N K ...]
# (environment: CODES, RES, LO, ROWS as amx1x1_ukernel.cc; PEAK in GOPS).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${TMPDIR:-/tmp}/r50x1_parts
mkdir -p "$out"
git show "${BASE:-HEAD}:csrc/kernels/x86/amx/igemm_32x32c4.cc" |
  sed -e 's|^namespace INT8RT_AMX_NS {|& namespace base {|' -e 's|}  // namespace INT8RT_AMX_NS|}}|' > "$out/base.cc"
python3 - "$out/parts.cc" <<'EOF'
import sys
s = open("csrc/kernels/x86/amx/igemm_32x32c4.cc").read()
def swap(old, new):
    global s
    assert old in s, old
    s = s.replace(old, new, 1)
swap("#include <cstdint>\n", "#include <cstdint>\n#include <cstdlib>\n")
swap("namespace {\n\nconstexpr int kTileBytes",
     "namespace {\nstatic const bool kNoDot = std::getenv(\"NODOT\"), kNoStore = std::getenv(\"NOSTORE\"),"
     " kNoEpi = std::getenv(\"NOEPI\");\n\nconstexpr int kTileBytes")
swap("  void issue(int n) {\n", "  void issue(int n) {\n    if (kNoDot) return;\n")
swap("    store_step(st, acc[s & 1]);", "    if (!kNoStore) store_step(st, acc[s & 1]);")
swap("  const int c0 = 32 * st.p;\n", "  if (kNoEpi) return;\n  const int c0 = 32 * st.p;\n")
open(sys.argv[1], "w").write(s)
EOF
sed -e "s|#include \"../csrc/kernels/x86/amx/igemm_32x32c4.cc\"|#include \"$out/parts.cc\"|" \
  benchmarks/amx1x1_ukernel.cc > "$out/uk.cc"
g++ -O3 -DNDEBUG -ffp-contract=off -std=c++17 -Icsrc -mamx-tile -mamx-int8 -mavx512f -mavx512bw -mavx512vl \
  -mavx512dq -mavx512vnni -DAMX1X1_BASE="\"$out/base.cc\"" "$out/uk.cc" -o "$out/uk"
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(25088 256 64 25088 64 256 6272 512 128 6272 256 512)
for parts in "" "NOEPI=1" "NODOT=1" "NODOT=1 NOSTORE=1"; do
  echo "== ${parts:-whole kernel}"
  env $parts "$out/uk" "${PEAK:-6335}" "${shapes[@]}"
done
