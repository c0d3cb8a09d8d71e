#!/usr/bin/env bash
# Every deployment test, as CI runs them (.ci/run): real apps behind certgate and the browser
# clickjacking test (scripts/test-e2e-apps.sh), then the container image, the Kubernetes pod
# and the compose file (scripts/test-containers.sh, as root). Prints the time each took and
# one total line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
start=$(date +%s)
E2E_RESULTS=$(mktemp)
export E2E_RESULTS
status=0
scripts/test-e2e-apps.sh || status=1
if [ "$(id -u)" = 0 ]; then
    scripts/test-containers.sh || status=1
else
    echo "== container tests skipped: podman runs as root here (run this script as root)"
fi
echo "== deployment tests: $(($(date +%s) - start))s in all"
awk '{printf "   %-14s %3d passed, %d failed\n", $1, $2, $3; p += $2; f += $3}
     END {printf "%d passed, %d failed\n", p, f}' "$E2E_RESULTS"
grep -q . "$E2E_RESULTS" || status=1
rm -f "$E2E_RESULTS"
exit "$status"
