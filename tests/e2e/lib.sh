# shellcheck shell=bash
# Helpers for the end-to-end tests (sourced, never run): counted checks, bounded waits, free
# loopback ports, background processes stopped by PID, and the checks every deployment of
# certgate must pass (identity through, forgeries and certificate-less clients refused,
# frame headers on responses). Every wait polls with a deadline; nothing sleeps to synchronise.
set -euo pipefail

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_NAME=${E2E_NAME:-$(basename "$0" .sh)}
E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/certgate-e2e-$E2E_NAME.XXXXXX")
CERTGATE=${CERTGATE:-$E2E_ROOT/build/certgate}
PY=/usr/bin/python3  # Debian's, the one that sees python3-django (not a pyenv shim)
DEMO_DN="CN=demo-client,O=certgate demo"
passed=0
failed=0
pids=()
cleanups=()

ok() { passed=$((passed + 1)); echo "  ok    $1"; }
not_ok() { failed=$((failed + 1)); echo "  FAIL  $1${2:+ ($2)}"; }
expect_eq() {  # description expected actual
    if [[ "$2" == "$3" ]]; then ok "$1"; else not_ok "$1" "expected '$2', got '$3'"; fi
}
expect_ne() {  # description unexpected actual
    if [[ "$2" != "$3" ]]; then ok "$1"; else not_ok "$1" "got '$3'"; fi
}
expect_match() {  # description extended-regex text
    if grep -Eiq -- "$2" <<<"$3"; then ok "$1"; else not_ok "$1" "no /$2/ in: $(head -c 400 <<<"$3")"; fi
}
expect_no_match() {  # description extended-regex text
    if grep -Eiq -- "$2" <<<"$3"; then not_ok "$1" "/$2/ found in: $(head -c 400 <<<"$3")"; else ok "$1"; fi
}
expect_cmd() {  # description command...  (passes when the command exits 0)
    local d=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$d"; else not_ok "$d" "$(tail -n 5 <<<"$out")"; fi
}

# wait_for SECONDS COMMAND...: polls the command every 0.1 s until it succeeds or time is up.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# ADMIN_PORT CERTGATE_CONTAINER APP_CONTAINER: /readyz answers 200 within 60 s (certgate is
# up and reaches the app); otherwise both containers' logs go to $E2E_WORK and it fails.
containers_ready() {
    wait_for 60 curl -sf "http://127.0.0.1:$1/readyz" && return 0
    podman logs "$2" >"$E2E_WORK/certgate.log" 2>&1 || true
    podman logs "$3" >"$E2E_WORK/app.log" 2>&1 || true
    return 1
}

# free_port: a port free on 127.0.0.1, below the ephemeral range (as free_port() in
# tests/support/harness.cpp: one from that range may turn into some connection's source port).
free_port() {
    "$PY" - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
picks = [random.randrange(10000, low) for _ in range(200)] if low > 12000 else []
for port in picks + [0]:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(s.getsockname()[1])
        break
    except OSError:
        pass
    finally:
        s.close()
PY
}

# start NAME COMMAND...: runs it in the background, output to $E2E_WORK/NAME.log.
start() {
    local name=$1; shift
    "$@" >"$E2E_WORK/$name.log" 2>&1 &
    pids+=($!)
    echo "  (started $name, pid $!)"
}

stop_pid() {
    local pid=$1 deadline=$((SECONDS + 10))
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# on_exit COMMAND: run at exit, before the processes are stopped (e.g. podman rm of a name).
on_exit() { cleanups+=("$1"); }

finish() {
    local rc=$? c p
    for c in "${cleanups[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
    for p in "${pids[@]}"; do stop_pid "$p"; done
    if ((failed > 0 || rc != 0)); then
        echo "  logs kept in $E2E_WORK"
        for f in "$E2E_WORK"/*.log; do [ -f "$f" ] && { echo "  --- $f"; tail -n 20 "$f"; }; done
    else
        rm -rf "$E2E_WORK"
    fi
    ((rc == 0 && failed == 0 && passed > 0)) && rc=0 || rc=1
    echo "$E2E_NAME: $passed passed, $failed failed"
    [ -n "${E2E_RESULTS:-}" ] && echo "$E2E_NAME $passed $failed" >>"$E2E_RESULTS"
    exit "$rc"
}
trap finish EXIT

dev_pki() {  # DIR: a fresh development PKI made by certgate itself
    "$CERTGATE" dev-pki --out "$1" >/dev/null
}

# render_config SRC DEST PKI_DIR TLS_PORT UPSTREAM_PORT [ADMIN_PORT]: an example's
# certgate.yaml with this run's ports and certificates, the file itself otherwise unchanged.
render_config() {
    local src=$1 dest=$2 pki=$3 tls=$4 up=$5 admin=${6:-0}
    sed -e "s|dev-pki/|$pki/|g" -e "s|127.0.0.1:8443|127.0.0.1:$tls|" \
        -e "s|https://localhost:8443|https://localhost:$tls|g" \
        -e "s|127.0.0.1:8000|127.0.0.1:$up|" -e "s|127.0.0.1:3000|127.0.0.1:$up|" \
        -e "s|127.0.0.1:9901|127.0.0.1:$admin|" "$src" >"$dest"
}

# tls_curl PKI_DIR [curl args...]: curl over real TLS that verifies the server with ca.crt.
tls_curl() {
    local pki=$1; shift
    curl -sS --max-time 10 --cacert "$pki/ca.crt" "$@"
}
with_cert() {  # PKI_DIR [curl args...]
    local pki=$1; shift
    tls_curl "$pki" --cert "$pki/client.crt" --key "$pki/client.key" "$@"
}

json_field() {  # FILE KEY: a top-level JSON field, or "<no json>"
    "$PY" -c 'import json, sys
try: print(json.load(open(sys.argv[1]))[sys.argv[2]])
except Exception: print("<no json>")' "$1" "$2"
}

# check_front_door LABEL BASE_URL PKI_DIR: certgate in front of an app whose /whoami answers
# {"verify", "dn", "identity_headers"} from the headers it received.
check_front_door() {
    local label=$1 base=$2 pki=$3 out code
    out=$(mktemp -d "$E2E_WORK/$label.XXXX")
    code=$(with_cert "$pki" -H 'X-SSL-Client-DN: CN=forged-dash' -H 'X_SSL_CLIENT_DN: CN=forged-underscore' \
        -H 'x-ssl-client-verify: FORGED' -H 'X-SSL-Client-Fingerprint: forged' \
        -D "$out/head" -o "$out/body" -w '%{http_code}' "$base/whoami") || code="curl failed"
    expect_eq "$label: a client certificate gets through" 200 "$code"
    expect_eq "$label: the app receives the verified DN" "$DEMO_DN" "$(json_field "$out/body" dn)"
    expect_eq "$label: the app receives Verify SUCCESS" SUCCESS "$(json_field "$out/body" verify)"
    expect_no_match "$label: no forged identity header reaches the app" 'forged' "$(cat "$out/body")"
    expect_match "$label: the app received certgate's fingerprint" '"[0-9a-f]{64}"' "$(cat "$out/body")"
    expect_match "$label: response carries CSP frame-ancestors" "^content-security-policy:.*frame-ancestors 'none'" "$(cat "$out/head")"
    expect_match "$label: response carries X-Frame-Options DENY" '^x-frame-options: DENY' "$(cat "$out/head")"
    expect_match "$label: response carries HSTS" '^strict-transport-security: max-age=' "$(cat "$out/head")"

    # Without a certificate (and with a forged DN instead): a TLS alert, or certgate's 403.
    local variant
    for variant in none forged; do
        local args=()
        [ "$variant" = forged ] && args=(-H 'X-SSL-Client-DN: CN=admin' -H 'X-SSL-Client-Verify: SUCCESS')
        code=$(tls_curl "$pki" "${args[@]}" -o "$out/body-$variant" -w '%{http_code}' "$base/whoami" 2>/dev/null) || code="refused"
        if [ "$code" = refused ] || { [ "$code" = 403 ] && grep -q '^client certificate required' "$out/body-$variant"; }; then
            ok "$label: no certificate ($variant headers) gets nothing from the app (${code})"
        else
            not_ok "$label: no certificate ($variant headers) gets nothing from the app" "$code: $(head -c 200 "$out/body-$variant")"
        fi
    done
}
