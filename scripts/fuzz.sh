#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each from its seed corpus
# for a bounded time. Fails on any crash, sanitizer report, timeout or broken invariant; the
# input that did it is left in build-fuzz/findings/ to become a regression test.
#   scripts/fuzz.sh [seconds per target, default 60] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
scripts/install-deps.sh
scripts/install-packages.sh clang libclang-rt-14-dev
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCERTGATE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCERTGATE_WERROR=ON >/dev/null
cmake --build build-fuzz -j2
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(request_sanitizer path csp cookies config http_request tls_records)
fi
mkdir -p build-fuzz/findings
status=0
for t in "${targets[@]}"; do
  # The fuzzer grows its working corpus in build-fuzz; the repo's seeds stay as they are.
  work="build-fuzz/corpus/$t"
  mkdir -p "$work"
  echo "== fuzz_$t for ${seconds}s"
  if ! build-fuzz/tests/fuzz/fuzz_"$t" "$work" "tests/fuzz/corpus/$t" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -artifact_prefix="build-fuzz/findings/$t-" -print_final_stats=1 \
      >"build-fuzz/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t FAILED:" >&2
    grep -E "invariant broken|ERROR|SUMMARY" -A3 "build-fuzz/fuzz_$t.log" | head -20 >&2
    ls build-fuzz/findings/ >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "build-fuzz/fuzz_$t.log" | tr '\n' ' '
    echo
  fi
done
exit $status
