#!/usr/bin/env bash
# The Rust path: the hyper twin of the Axum example, built offline by Debian's cargo from
# Debian's crate sources (Debian's rustc too, whatever else is on PATH), behind a real
# certgate with the example's certgate.yaml.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
src=$E2E_ROOT/deploy/examples/hyper
app=$E2E_WORK/app
mkdir -p "$app" && cp -r "$src/Cargo.toml" "$src/.cargo" "$src/src" "$app/"
target=${CARGO_TARGET_DIR:-$E2E_ROOT/build/e2e-hyper-target}  # kept between runs: rebuilds are quick
(cd "$app" && CARGO_TARGET_DIR=$target RUSTC=/usr/bin/rustc /usr/bin/cargo build --release --offline) >"$E2E_WORK/cargo.log" 2>&1 \
    || { not_ok "hyper: cargo builds the example offline" "$(tail -n 8 "$E2E_WORK/cargo.log")"; exit 1; }
ok "hyper: cargo builds the example offline from /usr/share/cargo/registry"

pki=$E2E_WORK/pki
dev_pki "$pki"
app_port=$(free_port) tls_port=$(free_port)
base=https://localhost:$tls_port
render_config "$src/certgate.yaml" "$E2E_WORK/certgate.yaml" "$pki" "$tls_port" "$app_port"
expect_cmd "hyper: certgate check accepts the example config" "$CERTGATE" check --config "$E2E_WORK/certgate.yaml"
start hyper env BIND="127.0.0.1:$app_port" "$target/release/certgate-hyper-example"
start certgate "$CERTGATE" serve --config "$E2E_WORK/certgate.yaml"
wait_for 30 curl -s -o /dev/null "http://127.0.0.1:$app_port/" || not_ok "hyper: app listening within 30 s"
wait_for 30 with_cert "$pki" -o /dev/null "$base/" || not_ok "hyper: certgate answering within 30 s"
check_front_door hyper "$base" "$pki"
