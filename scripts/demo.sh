#!/usr/bin/env bash
# Runs certgate for real: builds it, makes dev certificates, starts a demo app that echoes
# the headers it receives, and puts certgate in front of it on https://localhost:8443.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTGATE_BUILD_TESTS=OFF >/dev/null
cmake --build build -j2 --target certgate
run=demo-run
# A fresh development CA, server and client certificate for each run (certgate dev-pki).
build/certgate dev-pki --out "$run" --force >/dev/null
cat > "$run/certgate.yaml" <<YAML
listen: "127.0.0.1:8443"
tls:
  certificate: $PWD/$run/server.crt
  private_key: $PWD/$run/server.key
  client_ca: $PWD/$run/ca.crt
upstream:
  url: "http://127.0.0.1:8000"
policies:
  - name: health
    paths: ["/healthz"]
    client_certificate: none
  - name: app
    paths: ["/"]
    client_certificate: required
    frame_ancestors: ["'self'"]
YAML
python3 scripts/demo_upstream.py 8000 &
app=$!
trap 'kill $app 2>/dev/null' EXIT
cat <<TXT

certgate is starting on https://localhost:8443 in front of a demo app on 127.0.0.1:8000.
Try, from another terminal in $(pwd):

  curl --cacert $run/ca.crt --cert $run/client.crt --key $run/client.key https://localhost:8443/ -H 'X-SSL-Client-DN: forged'
  curl --cacert $run/ca.crt https://localhost:8443/healthz -i      # no certificate needed here
  curl --cacert $run/ca.crt https://localhost:8443/                # refused: 403, no certificate

The app's JSON answer shows the identity headers certgate wrote (the forged one is gone).
Ctrl-C stops both.

TXT
build/certgate serve --config "$run/certgate.yaml"
