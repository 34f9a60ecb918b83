#!/usr/bin/env bash
# Build and run the ironbox appliance on a fresh Debian 12 machine.
# Installs a C toolchain and Rust if missing, builds the release binary, then runs
# `ironbox serve` with any arguments given (e.g. --config ironic.toml).
# With no config: API on http://127.0.0.1:6385, noauth, data in ./ironbox-data.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
for pkg in build-essential curl ca-certificates; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] || curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
fi
cargo build --release --quiet
exec ./target/release/ironbox serve "$@"
