#!/usr/bin/env bash
# The container tests: sets up podman and a local Debian base image when missing (shared
# CONTAINERS.md), builds the certgate image from the unchanged Dockerfile and the Django
# example image ONCE, then runs them three ways against real mTLS clients:
#   tests/e2e/container_run.sh  podman run --read-only, non-root, certificates mounted read-only
#   tests/e2e/kube.sh           podman kube play of deploy/kubernetes (app + certgate sidecar)
#   tests/e2e/compose.sh        podman-compose up of deploy/compose/compose.yaml
# Prints the image size. Cleans up only the containers, pods and networks its tests started.
# Usage: scripts/test-containers.sh [run|kube|compose]...   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test-containers.sh: podman runs as root here; run as root" >&2; exit 1; }
tests=("$@")
((${#tests[@]})) || tests=(run kube compose)
export IMAGE=${IMAGE:-localhost/certgate:ci} APP_IMAGE=${APP_IMAGE:-localhost/certgate-django-example:ci}
timing() { printf '== %-34s %4ds\n' "$1" "$(($(date +%s) - $2))"; }

t=$(date +%s)
scripts/install-packages.sh podman runc podman-compose debootstrap python3-yaml curl openssl
# crun fails on this machine's hybrid cgroups; podman's default rlimits are refused here.
conf=/etc/containers/containers.conf.d/50-certgate-ci.conf
if [ ! -f "$conf" ]; then
    mkdir -p "$(dirname "$conf")"
    cat >"$conf" <<'CONF'
# Written by certgate's scripts/test-containers.sh (see CONTAINERS.md).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi
# No registry is reachable: the Dockerfile's debian:bookworm-slim is made from Debian's packages.
base=docker.io/library/debian:bookworm-slim
if ! podman image exists "$base"; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
    root=$(mktemp -d /var/tmp/certgate-debian-base.XXXXXX)
    debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
    tar -C "$root" -c . | podman import -q - "$base" >/dev/null
    rm -rf "$root"
fi
timing "podman and base image ready" "$t"

t=$(date +%s)
old=$(podman image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman build -q --format docker -t "$IMAGE" . >/dev/null
# The build stage's image (~1 GB) is left untagged: drop it, and the image this one replaced.
podman image prune -f --filter label=io.certgate.stage=build >/dev/null
new=$(podman image inspect -f '{{.Id}}' "$IMAGE")
if [ -n "$old" ] && [ "$old" != "$new" ]; then podman rmi "$old" >/dev/null 2>&1 || true; fi
timing "certgate image built" "$t"
t=$(date +%s)
podman build -q -t "$APP_IMAGE" deploy/examples/django >/dev/null
timing "Django example image built" "$t"
size=$(podman image inspect -f '{{.Size}}' "$IMAGE")
echo "== certgate image $IMAGE: $((size / 1000000)) MB ($size bytes)"

status=0
for name in "${tests[@]}"; do
    t=$(date +%s)
    script=tests/e2e/$name.sh
    [ "$name" = run ] && script=tests/e2e/container_run.sh
    bash "$script" || status=1
    timing "container test: $name" "$t"
done
exit "$status"
