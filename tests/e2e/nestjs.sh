#!/usr/bin/env bash
# The NestJS example (npm packages, built with tsc) behind a real certgate with the example's
# certgate.yaml: the guard sees the verified identity and never a forged one.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
src=$E2E_ROOT/deploy/examples/nestjs
app=$E2E_WORK/app
mkdir -p "$app" && cp -r "$src/package.json" "$src/package-lock.json" "$src/tsconfig.json" "$src/src" "$app/"
(cd "$app" && npm ci --no-audit --no-fund --loglevel=error && npx tsc -p tsconfig.json) >"$E2E_WORK/npm.log" 2>&1 \
    || { not_ok "nestjs: npm ci and tsc build the example" "$(tail -n 5 "$E2E_WORK/npm.log")"; exit 1; }
ok "nestjs: npm ci and tsc build the example"

pki=$E2E_WORK/pki
dev_pki "$pki"
app_port=$(free_port) tls_port=$(free_port)
base=https://localhost:$tls_port
render_config "$src/certgate.yaml" "$E2E_WORK/certgate.yaml" "$pki" "$tls_port" "$app_port"
expect_cmd "nestjs: certgate check accepts the example config" "$CERTGATE" check --config "$E2E_WORK/certgate.yaml"

start nestjs env -C "$app" PORT="$app_port" node dist/main.js
start certgate "$CERTGATE" serve --config "$E2E_WORK/certgate.yaml"
wait_for 30 curl -s -o /dev/null "http://127.0.0.1:$app_port/" || not_ok "nestjs: app listening within 30 s"
wait_for 30 with_cert "$pki" -o /dev/null "$base/" || not_ok "nestjs: certgate answering within 30 s"

check_front_door nestjs "$base" "$pki"

# The guard itself: straight to the app, forged headers are all it takes; that is why the
# app binds loopback only and certgate strips them.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$app_port/whoami")
expect_eq "nestjs: the guard refuses a request without certgate's headers" 403 "$code"
code=$(with_cert "$pki" -o /dev/null -w '%{http_code}' "$base/ADMIN/x" || true)
expect_eq "nestjs: /ADMIN is judged by the /admin allow-list (Express is case-insensitive)" 403 "$code"
code=$(with_cert "$pki" -o /dev/null -w '%{http_code}' -X POST -H 'Origin: https://evil.example' "$base/whoami" || true)
expect_eq "nestjs: cross-site POST refused by certgate" 403 "$code"
