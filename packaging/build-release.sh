#!/usr/bin/env bash
# Build every release artifact into dist/ on a Debian 12 machine:
#   dist/ironbox-<ver>-x86_64-linux-musl, dist/ironbox-<ver>-aarch64-linux-musl
#       fully static, stripped, each embedding iPXE for BIOS, UEFI x86-64 and UEFI ARM64
#       (the build fails instead when one is missing: IRONBOX_REQUIRE_IPXE=1, see build.rs);
#   dist/ironbox_<ver>-1_amd64.deb, dist/ironbox_<ver>-1_arm64.deb (packaging/deb/build-deb.sh);
#   dist/SHA256SUMS.
# Where the parts come from:
#   - iPXE: Debian 13's `ipxe` package (arch all), the only Debian package that ships an ARM64
#     iPXE (ipxe-arm64.efi); all programs are taken from it so they are one iPXE version.
#     Fetched with `apt-get download` through a source list kept in the cache dir (nothing
#     written to /etc/apt) and unpacked with dpkg-deb.
#   - linker and C compiler for musl (ring, the bundled SQLite): zig from PyPI's `ziglang`
#     wheel, driven by cargo-zigbuild from crates.io (both pinned below).
# Everything fetched is cached in $IRONBOX_BUILD_CACHE (default ~/.cache/ironbox-build), so
# a second run only rebuilds what changed. Release builds are CPU-heavy: run with `nice`.
# Usage: bash packaging/build-release.sh [x86_64|aarch64 ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE=${IRONBOX_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ironbox-build}
DIST=${IRONBOX_DIST_DIR:-$ROOT/dist}
ZIGLANG_VERSION=0.15.2
ZIGBUILD_VERSION=0.24.0
IPXE_DEB_VERSION=${IPXE_DEB_VERSION:-1.21.1+git20250501.dad20602+dfsg-1}
MAX_BYTES=$((25 * 1024 * 1024))
ARCHES=("$@")
[ ${#ARCHES[@]} -gt 0 ] || ARCHES=(x86_64 aarch64)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

say() { printf '[build-release] %s\n' "$*"; }
die() { printf '[build-release] error: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
mkdir -p "$CACHE" "$DIST"

need=()
for pkg in dpkg-dev python3-venv file curl ca-certificates; do
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

# --- iPXE programs --------------------------------------------------------------------
IPXE_DIR="$CACHE/ipxe-$IPXE_DEB_VERSION/usr/lib/ipxe"
if [ ! -f "$IPXE_DIR/ipxe-arm64.efi" ]; then
    apt_dir="$CACHE/apt-trixie"
    mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$CACHE/debs"
    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: trixie' \
        'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
        > "$apt_dir/parts/trixie.sources"
    APTO=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt_dir/parts"
          -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
    apt-get "${APTO[@]}" update -qq
    chown _apt "$CACHE/debs" 2>/dev/null || true # lets apt download without its sandbox warning
    (cd "$CACHE/debs" && apt-get "${APTO[@]}" download -q "ipxe=$IPXE_DEB_VERSION" >/dev/null) \
        || die "cannot download Debian's ipxe $IPXE_DEB_VERSION (set IPXE_DEB_VERSION to one apt offers)"
    rm -rf "$CACHE/ipxe-$IPXE_DEB_VERSION"
    dpkg-deb -x "$CACHE/debs/ipxe_${IPXE_DEB_VERSION#*:}_all.deb" "$CACHE/ipxe-$IPXE_DEB_VERSION"
fi
say "iPXE programs from Debian ipxe $IPXE_DEB_VERSION ($IPXE_DIR)"

# --- toolchain: Rust musl targets, zig, cargo-zigbuild ----------------------------------
for a in "${ARCHES[@]}"; do
    case "$a" in x86_64 | aarch64) ;; *) die "unknown architecture '$a' (x86_64 or aarch64)" ;; esac
    rustup target list --installed | grep -qx "$a-unknown-linux-musl" \
        || rustup target add "$a-unknown-linux-musl"
done
ZIG=$(ls "$CACHE"/zig-venv/lib/python3*/site-packages/ziglang/zig 2>/dev/null | head -1 || true)
if [ -z "$ZIG" ] || [ "$("$ZIG" version)" != "$ZIGLANG_VERSION" ]; then
    rm -rf "$CACHE/zig-venv"
    python3 -m venv "$CACHE/zig-venv"
    "$CACHE/zig-venv/bin/pip" install -q "ziglang==$ZIGLANG_VERSION"
    ZIG=$(ls "$CACHE"/zig-venv/lib/python3*/site-packages/ziglang/zig | head -1)
fi
# The wheel's zig binary itself: cargo-zigbuild otherwise tries `python3 -m ziglang` with
# whatever python3 is first on PATH.
export CARGO_ZIGBUILD_ZIG_PATH="$ZIG"
if [ "$("$CACHE/tools/bin/cargo-zigbuild" --version 2>/dev/null)" != "cargo-zigbuild $ZIGBUILD_VERSION" ]; then
    say "installing cargo-zigbuild $ZIGBUILD_VERSION (a few minutes, once)"
    nice -n 10 cargo install -q --locked cargo-zigbuild --version "$ZIGBUILD_VERSION" --root "$CACHE/tools"
fi
export PATH="$CACHE/tools/bin:$PATH"

# --- binaries ---------------------------------------------------------------------------
rm -f "$DIST/SHA256SUMS"
for a in "${ARCHES[@]}"; do
    t="$a-unknown-linux-musl"
    out="$DIST/ironbox-$VERSION-$a-linux-musl"
    say "building $t (release; this is the slow part)"
    start=$(date +%s)
    # aarch64 gets its own target dir: cargo locks a target dir's host artifacts (build
    # scripts, proc macros) for a whole build, so the two targets could not build at once.
    tdir=target
    [ "$a" = x86_64 ] || tdir=target/cross
    IRONBOX_IPXE_DIR="$IPXE_DIR" IRONBOX_REQUIRE_IPXE=1 CARGO_PROFILE_RELEASE_STRIP=symbols \
        nice -n 10 cargo zigbuild --quiet --release --locked --target "$t" --target-dir "$tdir" \
        --bin ironbox
    install -m 755 "$tdir/$t/release/ironbox" "$out"
    size=$(stat -c %s "$out")
    say "$(basename "$out"): $size bytes, built in $(($(date +%s) - start)) s"
    [ "$size" -le "$MAX_BYTES" ] || die "$out is $size bytes, over the 25 MiB limit"
    file -b "$out" | grep -q 'statically linked\|static-pie linked' || die "$out is not static: $(file -b "$out")"
    deb_arch=$([ "$a" = x86_64 ] && echo amd64 || echo arm64)
    bash packaging/deb/build-deb.sh "$out" "$deb_arch" "$VERSION" "$DIST"
done

(cd "$DIST" && sha256sum ironbox-"$VERSION"-*-linux-musl ironbox_"$VERSION"-*.deb > SHA256SUMS)
say "artifacts in $DIST:"
(cd "$DIST" && ls -l ironbox-"$VERSION"-*-linux-musl ironbox_"$VERSION"-*.deb SHA256SUMS)
