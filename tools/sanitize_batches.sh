#!/usr/bin/env bash
# Python test files under the checking build in batches (docs/reliability.md):
# tools/sanitize_tests.sh's Python step (its preloaded runtimes and options,
# one pytest-xdist worker so a fatal report ends only its file's worker),
# without rebuilding (SANITIZE_BUILD=0), one pytest per batch of FILES_PER
# files, and one summary line per batch: its files, counts, wall, the load at
# its start and how many sanitizer reports its log holds. For a run that a
# deadline may stop: every finished batch is on record (RESULTS.md 240, 260).
#
#   tools/sanitize_batches.sh OUT_DIR FILE...         # after one build run of tools/sanitize_tests.sh
#   FILES_PER=8 BATCH_TIMEOUT=900 tools/sanitize_batches.sh /tmp/x/batches $(cat files.txt)
#
# OUT_DIR/batch_N.log holds each batch's whole output (the reports are printed
# beside their tests), OUT_DIR/batch_N.xml its junit record, OUT_DIR/summary.txt
# the lines. A batch over BATCH_TIMEOUT seconds (default 1200) is stopped
# (SIGINT, so pytest prints what ran) and marked "timeout".
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: tools/sanitize_batches.sh OUT_DIR FILE...}
shift
[ $# -gt 0 ] || { echo "no test files given" >&2; exit 2; }
mkdir -p "$out"
per=${FILES_PER:-10}
files=("$@")
summary=$out/summary.txt
for ((start = 0, n = 0; start < ${#files[@]}; start += per, ++n)); do
  batch=("${files[@]:start:per}")
  log=$out/batch_$n.log
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s.%N)
  rc=0
  SANITIZE_BUILD=0 CPP_TESTS=0 FUZZ_REPLAY=0 CUDA_EMULATED=0 PY_JOBS=1 \
    timeout -s INT "${BATCH_TIMEOUT:-1200}" tools/sanitize_tests.sh "${batch[@]}" -rfEs \
    --junitxml="$out/batch_$n.xml" >"$log" 2>&1 || rc=$?
  wall=$(echo "$(date +%s.%N) - $t0" | bc)
  # The last line of pytest's -q summary, e.g. "12 passed, 3 skipped in 80.1s".
  counts=$(grep -E '(passed|failed|error|skipped|no tests ran)' "$log" | tail -1 | sed 's/^=* *//; s/ *=*$//')
  reports=$(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" || true)
  status=ok
  [ "$rc" = 0 ] || status="rc $rc"
  [ "$rc" = 124 ] && status=timeout
  printf 'batch_%-3s start %s load %-5s wall %7.1f s %-10s reports %s | %s | %s\n' "$n" "$(date -u -d "@${t0%.*}" +%H:%M:%S)" \
    "$load" "$wall" "$status" "$reports" "$counts" "$(printf '%s ' "${batch[@]##*/}")" | tee -a "$summary"
done
