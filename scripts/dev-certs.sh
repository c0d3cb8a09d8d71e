#!/usr/bin/env bash
# Makes throwaway development certificates: a CA, a server certificate for localhost and
# 127.0.0.1, and a client certificate (CN=demo-client) with clientAuth. Never use in production.
set -euo pipefail
dir=${1:-dev-certs}
mkdir -p "$dir" && cd "$dir"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 30 -subj "/CN=certgate dev CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
issue() {  # name subject extensions
  openssl req "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -out "$1.crt" -extfile <(printf '%s\n' "$3") 2>/dev/null
  rm -f "$1.csr"
}
issue server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
issue client "/O=certgate demo/CN=demo-client" "subjectAltName=URI:spiffe://demo.local/sa/client
extendedKeyUsage=clientAuth"
chmod 600 ./*.key
echo "dev certificates in $(pwd)"
