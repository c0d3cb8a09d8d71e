#!/usr/bin/env bash
# The certgate image run for real (IMAGE, built by scripts/test-containers.sh from the
# unchanged Dockerfile): read-only root, its own non-root user, dev certificates made by the
# image's own `certgate dev-pki` and mounted read-only, in front of the Django example image
# (APP_IMAGE) in one pod, published to 127.0.0.1 only. Checked over real TLS with curl.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
: "${IMAGE:?IMAGE is the certgate image to test}" "${APP_IMAGE:?APP_IMAGE is the Django example image}"
pod=certgate-e2e-run-$$
pki=$E2E_WORK/pki
tls_port=$(free_port) admin_port=$(free_port)
base=https://localhost:$tls_port

echo "run: image contents"
expect_eq "run: the image runs as 65532:65532" 65532:65532 "$(podman image inspect -f '{{.Config.User}}' "$IMAGE")"
expect_match "run: HEALTHCHECK kept in the image (built --format docker)" 'certgate-healthcheck' \
    "$(podman image inspect -f '{{json .Config.Healthcheck}}' "$IMAGE" 2>&1)"
expect_match "run: ENTRYPOINT certgate, CMD serve --config /etc/certgate/certgate.yaml" \
    '\["certgate"\] \[serve --config /etc/certgate/certgate.yaml\]' \
    "$(podman image inspect -f '{{json .Config.Entrypoint}} {{.Config.Cmd}}' "$IMAGE")"
root=$(podman image mount "$IMAGE")
on_exit "podman image unmount '$IMAGE'"
executables=$(cd "$root" && find . -type f -perm -u+x ! -name '*.so*' | sort | tr '\n' ' ')
expect_eq "run: the only executables are certgate and its health probe" \
    "./usr/local/bin/certgate ./usr/local/bin/certgate-healthcheck " "$executables"
expect_no_match "run: no shell, compiler or package manager in the image" \
    '/(sh|bash|dash|gcc|g\+\+|cc|ld|apt|apt-get|dpkg|perl|python3?)$' "$(cd "$root" && find . | sort)"
podman image unmount "$IMAGE" >/dev/null
expect_match "run: certgate version runs in the image" '^certgate [0-9]' "$(podman run --rm --read-only "$IMAGE" version 2>&1)"

# dev-pki from the image itself, as the image's user, into a folder that user owns.
mkdir -p "$pki" && chown 65532:65532 "$pki"
expect_cmd "run: the image's certgate dev-pki writes a PKI" \
    podman run --rm --read-only -v "$pki:/out" "$IMAGE" dev-pki --out /out
cat >"$E2E_WORK/certgate.yaml" <<YAML
listen: "0.0.0.0:8443"
admin: "0.0.0.0:9901"
workers: 2
tls:
  certificate: /etc/certgate/tls/server.crt
  private_key: /etc/certgate/tls/server.key
  client_ca: /etc/certgate/tls/ca.crt
upstream:
  url: "http://127.0.0.1:8000"
YAML
chmod 644 "$E2E_WORK/certgate.yaml"

on_exit "podman pod rm -f -t 5 $pod"
podman pod create --name "$pod" -p "127.0.0.1:$tls_port:8443" -p "127.0.0.1:$admin_port:9901" >/dev/null
podman run -d --pod "$pod" --name "$pod-app" --read-only --tmpfs /tmp --cap-drop ALL \
    --security-opt no-new-privileges "$APP_IMAGE" >/dev/null 2>>"$E2E_WORK/podman.log"
podman run -d --pod "$pod" --name "$pod-certgate" --read-only --cap-drop ALL \
    --security-opt no-new-privileges -v "$pki:/etc/certgate/tls:ro" \
    -v "$E2E_WORK/certgate.yaml:/etc/certgate/certgate.yaml:ro" "$IMAGE" >/dev/null 2>>"$E2E_WORK/podman.log"
if ! containers_ready "$admin_port" "$pod-certgate" "$pod-app"; then
    not_ok "run: certgate ready (app reachable) within 60 s"
    exit 1
fi
ok "run: certgate ready (app reachable)"

check_front_door run "$base" "$pki"

expect_match "run: published on 127.0.0.1 only" "^8443/tcp -> 127.0.0.1:$tls_port\$" "$(podman port "$pod-certgate")"
expect_eq "run: the container's root filesystem is read-only" true "$(podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$pod-certgate")"
expect_eq "run: certgate's process runs as UID 65532" 65532 "$(podman top "$pod-certgate" huser | tail -n 1 | tr -d ' ')"
expect_eq "run: no capabilities left" "" "$(podman top "$pod-certgate" capeff | tail -n 1 | tr -d ' ' | sed 's/^none$//')"
expect_cmd "run: the HEALTHCHECK passes (podman healthcheck run)" podman healthcheck run "$pod-certgate"
expect_match "run: JSON access log on stdout" '"status":200.*"subject":"CN=demo-client' "$(podman logs "$pod-certgate" 2>&1)"
# As PID 1, certgate still drains and exits 0 on the SIGTERM that `podman stop` sends.
podman stop -t 20 "$pod-certgate" >/dev/null 2>&1
expect_eq "run: podman stop (SIGTERM to PID 1) ends certgate with exit code 0" 0 "$(podman inspect -f '{{.State.ExitCode}}' "$pod-certgate")"
expect_match "run: the shutdown was a drain, not a kill" '"event":"shutdown","phase":"done"' "$(podman logs "$pod-certgate" 2>&1)"
