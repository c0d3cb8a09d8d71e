#!/usr/bin/env bash
# Clickjacking in a real browser: Debian's headless Chromium opens an attacker page on another
# origin (https://127.0.0.1:A) that frames /framed of the Django example served through
# certgate (https://localhost:T). The framed page posts a message to its parent when it runs,
# so "rendered" and "blocked" are read from what the browser did, not from the headers:
# blocked = the browser fetched the page through certgate but never ran it in the frame.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
app=$E2E_ROOT/deploy/examples/django
pki=$E2E_WORK/pki
dev_pki "$pki"
app_port=$(free_port) atk_port=$(free_port)
attacker=https://127.0.0.1:$atk_port

# The attacker's site: a page that frames the victim and writes what it saw into the DOM.
mkdir -p "$E2E_WORK/attacker"
write_attack_page() {  # victim origin
    cat >"$E2E_WORK/attacker/attack.html" <<HTML
<!doctype html><title>attacker</title><p id="result">WAITING</p>
<iframe id="victim" src="$1/framed"></iframe>
<script>
  let rendered = false;
  const result = document.getElementById('result');
  addEventListener('message', (e) => {
    if (e.origin === '$1' && e.data === 'framed-page-rendered') { rendered = true; result.textContent = 'FRAME-RENDERED'; }
  });
  document.getElementById('victim').addEventListener('load', () => {
    setTimeout(() => { if (!rendered) result.textContent = 'FRAME-BLOCKED'; }, 2000);
  });
</script>
HTML
}
cat >"$E2E_WORK/attacker.py" <<'PY'
import http.server, ssl, sys
port, directory, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=directory)
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
PY
start attacker "$PY" "$E2E_WORK/attacker.py" "$atk_port" "$E2E_WORK/attacker" "$pki/server.crt" "$pki/server.key"
start gunicorn env -C "$app" PYTHONDONTWRITEBYTECODE=1 /usr/bin/gunicorn --bind "127.0.0.1:$app_port" mtlsdemo.wsgi
wait_for 30 curl -s -o /dev/null "http://127.0.0.1:$app_port/framed" || not_ok "browser: app listening within 30 s"
wait_for 30 tls_curl "$pki" -o /dev/null "$attacker/attack.html" || not_ok "browser: attacker site up within 30 s"

# Chromium trusts exactly the dev server key (both sites use it), nothing else.
spki=$(openssl x509 -in "$pki/server.crt" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)

# browse CASE FRAME_ANCESTORS: certgate with the example config, the /framed policy's
# frame_ancestors replaced; sets $seen to what the attacker page saw.
browse() {
    local case=$1 ancestors=$2 tls_port
    tls_port=$(free_port)
    render_config "$app/certgate.yaml" "$E2E_WORK/$case.yaml" "$pki" "$tls_port" "$app_port" "$(free_port)"
    sed -i "0,/frame_ancestors:.*/s||frame_ancestors: $ancestors|" "$E2E_WORK/$case.yaml"
    write_attack_page "https://localhost:$tls_port"
    "$CERTGATE" serve --config "$E2E_WORK/$case.yaml" >"$E2E_WORK/certgate-$case.log" 2>&1 &
    local cg=$!
    wait_for 30 tls_curl "$pki" -o /dev/null "https://localhost:$tls_port/framed" || not_ok "browser: certgate ($case) answering"
    local profile
    profile=$(mktemp -d "$E2E_WORK/chromium-profile.XXXX")
    timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
        --ignore-certificate-errors-spki-list="$spki" --virtual-time-budget=15000 \
        --dump-dom "$attacker/attack.html" >"$E2E_WORK/dom-$case.html" 2>"$E2E_WORK/chromium-$case.log" || true
    stop_pid "$cg"
    # Proof that the browser fetched the framed page through certgate in this case.
    if grep -q '"path":"/framed".*"status":200' "$E2E_WORK/certgate-$case.log"; then
        ok "browser ($case): Chromium fetched /framed through certgate"
    else
        not_ok "browser ($case): Chromium fetched /framed through certgate" "$(tail -n 3 "$E2E_WORK/certgate-$case.log")"
    fi
    seen=$(sed -n 's/.*<p id="result">\([A-Z-]*\)<\/p>.*/\1/p' "$E2E_WORK/dom-$case.html" | head -n 1)
}

browse none "[\"'none'\"]"
expect_eq "browser: frame_ancestors 'none' blocks the frame" FRAME-BLOCKED "$seen"
browse listed "[\"$attacker\"]"
expect_eq "browser: the attacker origin listed in frame_ancestors renders the frame" FRAME-RENDERED "$seen"
browse self "[\"'self'\"]"
expect_eq "browser: frame_ancestors 'self' blocks another origin" FRAME-BLOCKED "$seen"
