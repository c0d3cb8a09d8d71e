#!/usr/bin/env bash
# Runs the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer, and under
# ThreadSanitizer, each in its own build tree (build-asan, build-tsan). The stress tests
# (label "stress") run in the normal build only: thousands of connections under a sanitizer
# measure the sanitizer.
#   scripts/test-sanitizers.sh [asan|tsan ...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
kinds=("$@")
if ((${#kinds[@]} == 0)); then kinds=(asan tsan); fi
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
for kind in "${kinds[@]}"; do
  echo "== $kind"
  cmake --preset "$kind" -DCERTGATE_WERROR=ON >/dev/null
  cmake --build --preset "$kind"
  (cd "build-$kind" && ctest --output-on-failure -j2 --timeout 900 -LE stress)
done
