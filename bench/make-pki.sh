#!/usr/bin/env bash
# make-pki.sh DIR: a throwaway ECDSA P-256 PKI for the benchmark, valid 40 days (over certgate's 30-day expiry warning).
#   ca.crt ca.key          the CA that signs both leaves and that the proxies trust for clients
#   server.crt server.key  SAN IP:127.0.0.1 and DNS:localhost, EKU serverAuth
#   server.pem             server certificate + key in one file (HAProxy's crt)
#   client.crt client.key  CN=bench-client, EKU clientAuth
set -euo pipefail
dir=${1:?usage: make-pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)

openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 40 -sha256 \
  -subj "/O=certgate bench/CN=certgate bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

leaf() {  # name subject extensions...
  local name=$1 subject=$2; shift 2
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$@" >"$name.ext"
  openssl req -new "${ec[@]}" -keyout "$name.key" -out "$name.csr" -subj "$subject" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 40 -sha256 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
leaf server "/O=certgate bench/CN=localhost" "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost"
leaf client "/O=certgate bench/CN=bench-client" "extendedKeyUsage=clientAuth"
cat server.crt server.key >server.pem
chmod 600 ./*.key server.pem
openssl verify -CAfile ca.crt server.crt client.crt >/dev/null
