#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz): builds them with clang into build/fuzz,
# replays every committed seed (crash reproducers included), then fuzzes each
# target for SECONDS from its seeds. Exits non-zero on the first crash, leak
# or sanitizer report; the input that caused it is in build/fuzz/crashes/.
#   tools/fuzz.sh [SECONDS] [TARGET...]     default: 30 s each, every target
# The test command runs the short version; a long run is e.g. tools/fuzz.sh 900.
# A crash found becomes a regression seed: copy the input into
# tests/fuzz/corpus/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(fuzz_request fuzz_reply fuzz_peer_message fuzz_config fuzz_snapshot fuzz_audit_log)
fi

CXX=clang++ cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCASTELLAN_FUZZ=ON \
  -DCASTELLAN_BUILD_TESTS=OFF -DCASTELLAN_BUILD_BENCHMARKS=OFF > /dev/null
cmake --build build/fuzz -j2 --target "${targets[@]}"

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for t in "${targets[@]}"; do
  seeds="tests/fuzz/corpus/$t"
  work="build/fuzz/corpus/$t"
  crashes="build/fuzz/crashes/$t"
  mkdir -p "$work" "$crashes"
  # New inputs go to the first directory, so the committed seeds stay as they are.
  "build/fuzz/tests/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
    -timeout=10 -artifact_prefix="$crashes/" "$work" "$seeds" > "build/fuzz/$t.log" 2>&1 || {
    echo "$t: FAILED (input in $crashes/); the end of build/fuzz/$t.log:" >&2
    tail -40 "build/fuzz/$t.log" >&2
    exit 1
  }
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "build/fuzz/$t.log")
  echo "$t: clean, $runs executions in $seconds s, corpus $(ls "$work" | wc -l) inputs"
done
