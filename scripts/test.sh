#!/usr/bin/env bash
# Installs dependencies, builds certgate with warnings as errors, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Tests on explicitly: scripts/demo.sh configures the same build directory without them.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTGATE_WERROR=ON -DCERTGATE_BUILD_TESTS=ON >/dev/null
cmake --build build -j2
# Policies must not depend on the network layer (STYLE.md): no Asio, no proxy/ includes.
if grep -nE '#include <boost/(asio|beast/core|beast/ssl)|#include "proxy/' policies/*.hpp policies/*.cpp; then
  echo "policies/ includes the network layer" >&2
  exit 1
fi
cd build && ctest --output-on-failure -j2 --timeout 600
