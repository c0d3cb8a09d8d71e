#!/usr/bin/env bash
# deploy/compose/compose.yaml brought up for real with podman-compose, unchanged: certgate in
# front of the Django example on the project's network, published to 127.0.0.1 only.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
: "${IMAGE:?IMAGE is the certgate image to test}" "${APP_IMAGE:?APP_IMAGE is the Django example image}"
project=certgate-e2e-compose-$$
file=$E2E_ROOT/deploy/compose/compose.yaml
pki=$E2E_WORK/pki
dev_pki "$pki"
chown 65532 "$pki/server.key"   # the image's user reads its key; it stays 0600
export CERTGATE_IMAGE=$IMAGE APP_IMAGE CERTGATE_TLS_DIR=$pki
CERTGATE_PORT=$(free_port) CERTGATE_ADMIN_PORT=$(free_port)
export CERTGATE_PORT CERTGATE_ADMIN_PORT
base=https://localhost:$CERTGATE_PORT
compose() { podman-compose -p "$project" -f "$file" "$@"; }

on_exit "podman-compose -p '$project' -f '$file' down -t 5; podman network rm '${project}_default'"
if ! compose up -d >"$E2E_WORK/up.log" 2>&1; then
    not_ok "compose: podman-compose up starts both services" "$(tail -n 5 "$E2E_WORK/up.log")"
    exit 1
fi
ok "compose: podman-compose up starts both services"
certgate=$(podman ps --filter "label=io.podman.compose.project=$project" --filter "label=com.docker.compose.service=certgate" --format '{{.Names}}')
app=$(podman ps --filter "label=io.podman.compose.project=$project" --filter "label=com.docker.compose.service=app" --format '{{.Names}}')
if ! containers_ready "$CERTGATE_ADMIN_PORT" "$certgate" "$app"; then
    not_ok "compose: certgate ready (reaches app:8000 by service name) within 60 s"
    exit 1
fi
ok "compose: certgate ready (reaches app:8000 by its service name)"

check_front_door compose "$base" "$pki"

expect_eq "compose: the app publishes no port" "" "$(podman port "$app" 2>/dev/null)"
expect_match "compose: certgate is published on 127.0.0.1 only" "^8443/tcp -> 127.0.0.1:$CERTGATE_PORT\$" "$(podman port "$certgate")"
expect_eq "compose: certgate's root filesystem is read-only" true "$(podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$certgate")"
expect_eq "compose: certgate runs as UID 65532" 65532 "$(podman top "$certgate" huser | tail -n 1 | tr -d ' ')"
