#!/usr/bin/env bash
# deploy/kubernetes played for real with `podman kube play`: the Django example as the app
# container and certgate as its sidecar in one pod, the manifests' securityContext, probes and
# ConfigMap as written (the Secret volume swapped for a hostPath: see kube_for_podman.py).
# Then real mTLS requests, and `certgate check` of the ConfigMap's own configuration.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
: "${IMAGE:?IMAGE is the certgate image to test}" "${APP_IMAGE:?APP_IMAGE is the Django example image}"
name=certgate-e2e-kube-$$
pki=$E2E_WORK/pki tls=$E2E_WORK/tls
tls_port=$(free_port) admin_port=$(free_port)
base=https://localhost:$tls_port

# The Secret's layout (tls.crt, tls.key, ca.crt), readable by fsGroup 65532 as defaultMode 0440 makes it.
dev_pki "$pki"
mkdir -p "$tls"
cp "$pki/server.crt" "$tls/tls.crt" && cp "$pki/server.key" "$tls/tls.key" && cp "$pki/ca.crt" "$tls/ca.crt"
chown -R 0:65532 "$tls" && chmod 0440 "$tls"/* && chmod 0755 "$tls"

echo "kube: certgate check of the ConfigMap's configuration, in the image"
"$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["certgate.yaml"], end="")' \
    "$E2E_ROOT/deploy/kubernetes/configmap.yaml" >"$E2E_WORK/embedded.yaml"
chmod 644 "$E2E_WORK/embedded.yaml"
if out=$(podman run --rm --read-only -v "$tls:/etc/certgate/tls:ro" -v "$E2E_WORK/embedded.yaml:/etc/certgate/certgate.yaml:ro" \
    "$IMAGE" check --config /etc/certgate/certgate.yaml 2>&1); then
    ok "kube: certgate check accepts the ConfigMap's certgate.yaml"
else
    not_ok "kube: certgate check accepts the ConfigMap's certgate.yaml" "$out"
fi

"$PY" "$(dirname "$0")/kube_for_podman.py" "$E2E_ROOT/deploy/kubernetes" "$E2E_WORK/play.yaml" \
    "$name" "$tls" "$tls_port" "$admin_port" "$IMAGE" "$APP_IMAGE"
# kube down leaves the volume podman made for the ConfigMap: remove it by its name.
on_exit "podman kube down '$E2E_WORK/play.yaml'; podman volume rm '$name-config'"
if ! podman kube play "$E2E_WORK/play.yaml" >"$E2E_WORK/play.log" 2>&1; then
    not_ok "kube: podman kube play starts the pod" "$(tail -n 5 "$E2E_WORK/play.log")"
    exit 1
fi
ok "kube: podman kube play starts the Deployment's pod"
pod=$(podman pod ps --filter "name=^$name" --format '{{.Name}}' | head -n 1)
certgate=$(podman ps --filter "pod=$pod" --format '{{.Names}}' | grep -- '-certgate$' || true)
app=$(podman ps --filter "pod=$pod" --format '{{.Names}}' | grep -- '-app$' || true)
expect_ne "kube: the pod has the certgate sidecar" "" "$certgate"
expect_ne "kube: the pod has the app container" "" "$app"
if ! containers_ready "$admin_port" "$certgate" "$app"; then
    not_ok "kube: certgate's readiness probe path answers 200 within 60 s"
    exit 1
fi
ok "kube: /readyz (the readinessProbe) answers 200 once the app is up"
expect_eq "kube: /healthz (the livenessProbe) answers" ok "$(curl -s "http://127.0.0.1:$admin_port/healthz" | tr -d '\n')"

check_front_door kube "$base" "$pki"

expect_eq "kube: the sidecar's root filesystem is read-only" true "$(podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$certgate")"
expect_eq "kube: the app's root filesystem is read-only" true "$(podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$app")"
expect_eq "kube: certgate runs as UID 65532" 65532 "$(podman top "$certgate" huser | tail -n 1 | tr -d ' ')"
expect_eq "kube: the app runs as UID 65533" 65533 "$(podman top "$app" huser | tail -n 1 | tr -d ' ')"
expect_eq "kube: certgate has no capabilities" none "$(podman top "$certgate" capeff | tail -n 1 | tr -d ' ')"
# The app listens on the pod's loopback only: nothing but the sidecar can reach it.
expect_match "kube: gunicorn bound to 127.0.0.1:8000" 'Listening at: http://127.0.0.1:8000' "$(podman logs "$app" 2>&1)"
expect_match "kube: certgate's port published on 127.0.0.1 only" "^8443/tcp -> 127.0.0.1:$tls_port\$" "$(podman port "$certgate")"
