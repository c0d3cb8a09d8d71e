#!/usr/bin/env bash
# Makes throwaway development certificates with `certgate dev-pki` (built first if needed):
# a CA, a server certificate for localhost, 127.0.0.1 and ::1, and a client certificate
# (CN=demo-client) with clientAuth, in DIR (default dev-certs). Never use in production.
# Usage: scripts/dev-certs.sh [DIR] [dev-pki options, e.g. --force --host NAME]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-dev-certs}
shift || true
if [ ! -x "$root/build/certgate" ]; then
    cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTGATE_BUILD_TESTS=OFF >/dev/null
    cmake --build "$root/build" -j2 --target certgate >/dev/null
fi
"$root/build/certgate" dev-pki --out "$dir" "$@"
