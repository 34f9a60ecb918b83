#!/usr/bin/env bash
# The whole ironbox test suite, from a fresh Debian 12 machine:
#   1. installs what is missing (apt packages, a Rust toolchain, a Python venv with the
#      real baremetal CLI and openstacksdk from PyPI),
#   2. runs the Rust unit and integration tests (the real binary on ephemeral ports; the
#      netboot tests create network namespaces and QEMU machines, so this needs root),
#   3. runs clippy (Cargo.toml denies unwrap, expect, panic and indexing outside tests),
#   4. starts ironbox and drives it with the client-compatibility suite (tests/compat),
#   5. drives the operator console (/ui/) in Debian's headless chromium (tests/ui; each
#      module starts its own ironbox), beside step 4,
#   6. checks the release artifacts (packaging/build-release.sh, started at nice 19 once the
#      debug build is done): static binaries, embedded iPXE, ARM64 under qemu-user, the .deb
#      in a debootstrap root (tests/packaging/run.sh).
# Usage: bash tests/run.sh        (as root, or with sudo available for apt-get)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${IRONBOX_TEST_VENV:-$ROOT/.venv-test}

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

step "system packages"
need=()
for pkg in build-essential curl ca-certificates openssl python3-venv chromium file dpkg-dev xorriso mtools postgresql; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "ok"

step "netboot lab: QEMU, iPXE, busybox, a test kernel (tests/lab/setup.sh)"
bash tests/lab/setup.sh

step "Rust toolchain"
if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] || curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
fi
cargo --version

step "Python venv with the real clients ($VENV)"
if [ ! -x "$VENV/bin/pytest" ] || ! cmp -s tests/compat/requirements.txt "$VENV/.requirements"; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r tests/compat/requirements.txt
    cp tests/compat/requirements.txt "$VENV/.requirements"
fi
"$VENV/bin/baremetal" --version 2>/dev/null || "$VENV/bin/pip" show python-ironicclient | head -2

UI_VENV=${IRONBOX_UI_VENV:-$ROOT/.venv-ui}
step "Python venv for the browser tests ($UI_VENV)"
if [ ! -x "$UI_VENV/bin/pytest" ] || ! cmp -s tests/ui/requirements.txt "$UI_VENV/.requirements"; then
    rm -rf "$UI_VENV"
    python3 -m venv "$UI_VENV"
    "$UI_VENV/bin/pip" install -q --upgrade pip
    "$UI_VENV/bin/pip" install -q -r tests/ui/requirements.txt
    cp tests/ui/requirements.txt "$UI_VENV/.requirements"
fi
"$UI_VENV/bin/python" -c 'import playwright; print("playwright ok")'

step "Rust unit and integration tests"
cargo build --quiet --bins --tests

# The two musl release builds (~25 min of CPU on 2 cores) run now, at nice 19, in the idle
# time of the tests below (QEMU boots, client start-up); step 5 then finds them built.
export IRONBOX_BUILD_CACHE=${IRONBOX_BUILD_CACHE:-${IRONBOX_LAB_DIR:-/tmp/ironbox-lab}/build-cache}
RELEASE_LOG=$(mktemp)
setsid nice -n 19 bash packaging/build-release.sh > "$RELEASE_LOG" 2>&1 &
RELEASE_PID=$!
UI_PID=
stop_background() {
    kill -- -"$RELEASE_PID" 2>/dev/null || true
    [ -z "$UI_PID" ] || kill -- -"$UI_PID" 2>/dev/null || true
}
trap stop_background EXIT
cargo test --quiet --no-fail-fast 2>&1

step "the store on PostgreSQL (tests/lab/pg.sh): db:: unit tests and the cheap API integration tests"
PG_DIR=$(mktemp -d)
PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PG_URL=$(bash tests/lab/pg.sh start "$PG_DIR" "$PG_PORT")
pg_status=0
IRONBOX_TEST_PG_URL="$PG_URL" cargo test --quiet --lib db:: 2>&1 || pg_status=1
IRONBOX_TEST_DATABASE="$PG_URL" cargo test --quiet --test integration -- \
    nodes:: api_details:: bad_input:: volume:: runbooks:: inventory:: inspection_rules:: list_paging:: 2>    nodes:: api_details:: bad_input:: volume:: runbooks:: inventory:: inspection_rules:: 2>&1 || pg_status=11 || pg_status=1
bash tests/lab/pg.sh stop "$PG_DIR"
rm -rf "$PG_DIR"
[ "$pg_status" = 0 ]

step "USB appliance image end to end (tests/lab/appliance-e2e.sh)"
IRONBOX_TEST_VENV="$VENV" IRONBOX="$ROOT/target/debug/ironbox" bash tests/lab/appliance-e2e.sh

step "clippy: no unwrap, expect, panic or unchecked indexing outside tests (Cargo.toml [lints])"
if cargo clippy --version >/dev/null 2>&1 || rustup component add clippy >/dev/null 2>&1; then
    cargo clippy --quiet --all-targets -- -D warnings
    echo "ok"
else
    echo "clippy is not installable here: lint step skipped"
fi

# The browser tests start their own ironbox; they run beside the client suite, which mostly
# waits on Python start-up.
UI_LOG=$(mktemp)
setsid bash -c 'IRONBOX_BIN="$1/target/debug/ironbox" "$2/bin/pytest" -q -p no:cacheprovider tests/ui' \
    ui-tests "$ROOT" "$UI_VENV" > "$UI_LOG" 2>&1 &
UI_PID=$!

step "client compatibility (baremetal CLI + openstacksdk) against ironbox"
WORK=$(mktemp -d)
cleanup() {
    [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait "${PID:-}" 2>/dev/null || true; rm -rf "$WORK"
    stop_background
}
trap cleanup EXIT
printf '[DEFAULT]\nstate_path = "%s/data"\nhost = "ironbox-compat"\n[api]\nport = 0\n# test_bmo_sequence: poll the emulated firmware update every second\n[redfish]\nfirmware_update_status_interval = 1\n' "$WORK" > "$WORK/ironic.toml"
"$ROOT/target/debug/ironbox" serve --config "$WORK/ironic.toml" 2> "$WORK/ironbox.log" &
PID=$!
for _ in $(seq 100); do [ -s "$WORK/data/endpoints.json" ] && break; sleep 0.1; done
URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api"])' "$WORK/data/endpoints.json")
echo "ironbox at $URL"
(cd tests/compat && IRONIC_URL="$URL" "$VENV/bin/pytest" -q -p no:cacheprovider) || {
    echo "--- ironbox log"; tail -50 "$WORK/ironbox.log"; exit 1; }

step "operator console in headless chromium (tests/ui, run beside the client suite)"
ui_rc=0
wait "$UI_PID" || ui_rc=$?
UI_PID=
cat "$UI_LOG"
[ "$ui_rc" = 0 ] || exit "$ui_rc"

step "release artifacts: static binaries, iPXE inside, the .deb in a clean Debian 12 (tests/packaging)"
release_rc=0
wait "$RELEASE_PID" || release_rc=$?
cat "$RELEASE_LOG"
[ "$release_rc" = 0 ] || { echo "packaging/build-release.sh failed (exit $release_rc)"; exit 1; }
bash tests/packaging/run.sh

echo
echo "all test suites passed"
