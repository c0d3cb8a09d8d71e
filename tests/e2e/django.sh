#!/usr/bin/env bash
# The Django example (Debian's python3-django under gunicorn) behind a real certgate, with
# the example's own certgate.yaml: identity, forgeries, frame headers, Django's CSRF checks.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
app=$E2E_ROOT/deploy/examples/django
pki=$E2E_WORK/pki
dev_pki "$pki"
app_port=$(free_port) tls_port=$(free_port) admin_port=$(free_port)
base=https://localhost:$tls_port
render_config "$app/certgate.yaml" "$E2E_WORK/certgate.yaml" "$pki" "$tls_port" "$app_port" "$admin_port"

echo "django: the middleware's own tests (Django's test runner)"
expect_cmd "django: manage.py test passes" env -C "$app" PYTHONDONTWRITEBYTECODE=1 "$PY" manage.py test mtlsdemo

expect_cmd "django: certgate check accepts the example config" "$CERTGATE" check --config "$E2E_WORK/certgate.yaml"
start gunicorn env -C "$app" PYTHONDONTWRITEBYTECODE=1 CSRF_TRUSTED_ORIGINS="$base" \
    /usr/bin/gunicorn --bind "127.0.0.1:$app_port" --workers 2 mtlsdemo.wsgi
start certgate "$CERTGATE" serve --config "$E2E_WORK/certgate.yaml"
wait_for 30 curl -sf "http://127.0.0.1:$admin_port/readyz" || not_ok "django: certgate ready (upstream reachable) within 30 s"

check_front_door django "$base" "$pki"
body=$(with_cert "$pki" "$base/whoami" 2>&1 || true)
expect_match "django: request.is_secure() through certgate (SECURE_PROXY_SSL_HEADER)" '"secure": true' "$body"

echo "django: CSRF, certgate's origin check and Django's own middleware"
jar=$E2E_WORK/cookies
form=$(with_cert "$pki" -c "$jar" -D "$E2E_WORK/form-head" "$base/form" || true)
token=$(sed -n 's/.*name="csrfmiddlewaretoken" value="\([^"]*\)".*/\1/p' <<<"$form")
expect_ne "django: the form carries a CSRF token" "" "$token"
expect_match "django: CSRF cookie hardened (Secure; SameSite=Strict)" '^set-cookie: csrftoken=.*; secure.*samesite=strict|^set-cookie: csrftoken=.*samesite=strict.*secure' "$(cat "$E2E_WORK/form-head")"

post() {  # curl args...: POST /transfer with the cookie jar; prints "status body"
    with_cert "$pki" -b "$jar" -o "$E2E_WORK/post-body" -w '%{http_code}' "$@" "$base/transfer" 2>/dev/null || echo "curl failed"
}
code=$(post -H "Origin: $base" -H "Referer: $base/form" --data-urlencode "csrfmiddlewaretoken=$token" -d amount=25)
expect_eq "django: same-origin POST with token passes both checks" 200 "$code"
expect_match "django: the view ran as the certificate's subject" '"by": "CN=demo-client' "$(cat "$E2E_WORK/post-body")"

code=$(post -H "Origin: https://evil.example" -H "Referer: https://evil.example/" --data-urlencode "csrfmiddlewaretoken=$token" -d amount=25)
expect_eq "django: cross-site Origin refused by certgate" 403 "$code"
expect_match "django: certgate's refusal, not Django's" '^origin not allowed' "$(cat "$E2E_WORK/post-body")"

code=$(post -H "Referer: https://evil.example/page" --data-urlencode "csrfmiddlewaretoken=$token" -d amount=25)
expect_eq "django: cross-site Referer (no Origin) refused by certgate" 403 "$code"

code=$(post -H "Origin: $base" -H "Referer: $base/form" -d amount=25)
expect_eq "django: same-origin POST without a token refused by Django's CsrfViewMiddleware" 403 "$code"
expect_match "django: Django's own CSRF failure page" 'CSRF' "$(cat "$E2E_WORK/post-body")"

code=$(post -H "Origin: $base" -H "Referer: $base/form" --data-urlencode "csrfmiddlewaretoken=${token}x" -d amount=25)
expect_eq "django: a wrong token is refused by Django" 403 "$code"

log=$(cat "$E2E_WORK/certgate.log")
expect_match "django: certgate logged the CSRF refusal with its rule" '"rule":"csrf\.origin_mismatch"' "$log"
expect_match "django: certgate logged the verified subject" '"subject":"CN=demo-client' "$log"
