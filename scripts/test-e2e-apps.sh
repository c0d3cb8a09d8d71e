#!/usr/bin/env bash
# End-to-end tests with real apps behind a real certgate binary (build/certgate), loopback only:
#   tests/e2e/django.sh   the Django example under gunicorn (Debian's python3-django)
#   tests/e2e/nestjs.sh   the NestJS example (npm ci, tsc)
#   tests/e2e/hyper.sh    the hyper twin of the Axum example, built offline from Debian's crates
#   tests/e2e/browser.sh  clickjacking in headless Chromium (Debian's chromium)
# Installs what is missing from Debian's packages (and npm for the NestJS example).
# Usage: scripts/test-e2e-apps.sh [django|nestjs|hyper|browser]...   (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
tests=("$@")
((${#tests[@]})) || tests=(django nestjs hyper browser)
timing() { printf '== %-34s %4ds\n' "$1" "$(($(date +%s) - $2))"; }

t=$(date +%s)
packages=(curl openssl python3 python3-django gunicorn chromium cargo librust-hyper-dev librust-tokio-dev)
command -v npm >/dev/null || packages+=(nodejs npm)
scripts/install-packages.sh "${packages[@]}"
if [ ! -x build/certgate ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j2 --target certgate
fi
timing "e2e prerequisites ready" "$t"

status=0
for name in "${tests[@]}"; do
    t=$(date +%s)
    bash "tests/e2e/$name.sh" || status=1
    timing "e2e test: $name" "$t"
done
exit "$status"
