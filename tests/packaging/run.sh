#!/usr/bin/env bash
# tests/packaging/run.sh — the release artifacts, checked as a user would meet them:
#   1. packaging/build-release.sh builds dist/ (one release build per target; tools, iPXE
#      and the target dir are reused, so a re-run only relinks what changed);
#   2. build.rs refuses a release build without iPXE for BIOS, UEFI x86-64 and UEFI ARM64
#      (its compiled build script run against an empty, a partial and a mislabelled dir);
#   3. the x86-64 binary: `ldd` and `file` say static, `--version` lists the three
#      platforms, size <= 25 MiB;
#   4. the ARM64 binary under qemu-aarch64-static: `--version`, and a zero-config `serve`
#      answering GET /v1 on loopback inside a private network namespace;
#   5. the amd64 .deb in a clean Debian 12 root (debootstrap minbase + adduser + systemd,
#      cached as a tarball in $IRONBOX_LAB_DIR): layout, conffile, user, permissions,
#      `systemd-analyze verify` on the unit, the packaged config served as user ironbox,
#      remove keeps data, purge removes it; install + purge twice; lintian's tags against
#      an allow-list of explained ones.
# Needs root (debootstrap, chroot, unshare). Usage: bash tests/packaging/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
LAB=${IRONBOX_LAB_DIR:-/tmp/ironbox-lab}
export IRONBOX_BUILD_CACHE=${IRONBOX_BUILD_CACHE:-$LAB/build-cache}
DIST=$ROOT/dist
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
X86="$DIST/ironbox-$VERSION-x86_64-linux-musl"
ARM="$DIST/ironbox-$VERSION-aarch64-linux-musl"
DEB="$DIST/ironbox_${VERSION}-1_amd64.deb"
WORK=$(mktemp -d)
CHROOT="$WORK/root"
PASS=0
FAIL=0
t0=$(date +%s)

say() { printf '[packaging] %s\n' "$*"; }
ok() { PASS=$((PASS + 1)); say "ok: $*"; }
bad() { FAIL=$((FAIL + 1)); say "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
step_time() { say "($1: $(($(date +%s) - $2)) s)"; }
cleanup() {
    for m in proc dev/pts dev sys; do umount -l "$CHROOT/$m" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

need=()
for pkg in debootstrap qemu-user-static lintian file dpkg-dev util-linux iproute2 curl; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Lists the platforms `ironbox --version` says are embedded, one a line.
platforms() { { "$@" --version || true; } | awk '/^  [^ ]+ +(bios|uefi-)/ {print $2}' | sort -u | tr '\n' ' '; }
want_platforms="bios uefi-arm64 uefi-x86_64 "

# ---- 1. the release build ---------------------------------------------------------------
ts=$(date +%s)
bash packaging/build-release.sh
step_time "packaging/build-release.sh" "$ts"
check "SHA256SUMS matches every artifact" bash -c "cd '$DIST' && sha256sum --quiet -c SHA256SUMS"

# ---- 2. build.rs refuses a release build without every platform ----------------------
ts=$(date +%s)
# The compiled build script of the current build.rs (tests/run.sh's build made it).
script=$(ls -t target/debug/build/ironbox-*/build-script-build 2>/dev/null | head -1 || true)
if [ -z "$script" ] || [ build.rs -nt "$script" ]; then
    cargo build --quiet --bin ironbox
    script=$(ls -t target/debug/build/ironbox-*/build-script-build | head -1)
fi
run_build_script() { # DIR REQUIRE -> exit code, stderr in $WORK/bs.err
    mkdir -p "$WORK/bs-out"
    OUT_DIR="$WORK/bs-out" IRONBOX_IPXE_DIR=$1 IRONBOX_REQUIRE_IPXE=$2 "$script" \
        > "$WORK/bs.out" 2> "$WORK/bs.err"
}
# Fails (as a release build must) and says PATTERN in FILE (bs.err: the panic, bs.out: warnings).
bs_refuses() { ! run_build_script "$1" 1 && grep -q "$2" "$WORK/$3"; }
mkdir -p "$WORK/ipxe-none" "$WORK/ipxe-x86" "$WORK/ipxe-mislabelled"
# The programs build-release.sh fetched (Debian's ipxe package, unpacked).
IPXE_FULL=$(ls -d "$IRONBOX_BUILD_CACHE"/ipxe-*/usr/lib/ipxe | head -1)
check "build script: no iPXE + IRONBOX_REQUIRE_IPXE=1 fails, naming all three platforms" \
    bs_refuses "$WORK/ipxe-none" 'no iPXE program for bios, uefi-x86_64, uefi-arm64' bs.err
check "build script: no iPXE without IRONBOX_REQUIRE_IPXE still builds (a dev build)" \
    run_build_script "$WORK/ipxe-none" 0
check "build script: the dev build says so in its version text" \
    grep -q 'embedded iPXE programs: none' "$WORK/bs-out/ipxe_embedded.rs"
cp "$IPXE_FULL/undionly.kpxe" "$IPXE_FULL/snponly.efi" "$WORK/ipxe-x86/"
check "build script: BIOS + UEFI x86-64 only fails, naming uefi-arm64" \
    bs_refuses "$WORK/ipxe-x86" 'no iPXE program for uefi-arm64 ' bs.err
cp "$IPXE_FULL/undionly.kpxe" "$IPXE_FULL/snponly.efi" "$WORK/ipxe-mislabelled/"
cp "$IPXE_FULL/ipxe-amd64.efi" "$WORK/ipxe-mislabelled/ipxe-arm64.efi"
check "build script: an x86-64 program named ipxe-arm64.efi is refused, not embedded" \
    bs_refuses "$WORK/ipxe-mislabelled" 'ipxe-arm64.efi is built for uefi-x86_64, not uefi-arm64' bs.out
step_time "build script checks" "$ts"

# ---- 3. the static x86-64 binary -----------------------------------------------------------
check "x86-64: ldd says not dynamic" bash -c "ldd '$X86' 2>&1 | grep -Eq 'not a dynamic executable|statically linked'"
check "x86-64: file says static" bash -c "file -b '$X86' | grep -Eq 'statically linked|static-pie linked'"
check "x86-64: file says x86-64" bash -c "file -b '$X86' | grep -q 'x86-64'"
check "x86-64: size <= 25 MiB ($(stat -c %s "$X86") bytes)" test "$(stat -c %s "$X86")" -le $((25 * 1024 * 1024))
got=$(platforms "$X86")
check "x86-64: --version lists BIOS, UEFI x86-64, UEFI ARM64 (got: $got)" test "$got" = "$want_platforms"
check "x86-64: embedded programs are Debian's (checksums match $IPXE_FULL)" bash -c "
    '$X86' --version | awk '/sha256:/ {print \$1, \$5}' | while read -r name sum; do
        [ \"sha256:\$(sha256sum < '$IPXE_FULL'/\$name | cut -d' ' -f1)\" = \"\$sum\" ] || exit 1
    done"

# ---- 4. the ARM64 binary under qemu-user ---------------------------------------------------
ts=$(date +%s)
check "arm64: file says static aarch64" bash -c "file -b '$ARM' | grep -q 'ARM aarch64' && file -b '$ARM' | grep -Eq 'statically linked|static-pie linked'"
check "arm64: size <= 25 MiB ($(stat -c %s "$ARM") bytes)" test "$(stat -c %s "$ARM")" -le $((25 * 1024 * 1024))
got=$(platforms qemu-aarch64-static "$ARM")
check "arm64: --version under qemu-aarch64-static lists the three platforms (got: $got)" test "$got" = "$want_platforms"
mkdir -p "$WORK/arm"
# A private network namespace: the zero-config API port (6385) cannot clash with anything.
arm_serves() {
    unshare --net bash -c "
        ip link set lo up
        cd '$WORK/arm'
        qemu-aarch64-static '$ARM' serve 2> serve.log &
        pid=\$!
        for _ in \$(seq 300); do
            curl -sf http://127.0.0.1:6385/v1 > v1.json 2>/dev/null && break
            sleep 0.2
        done
        kill \$pid; wait \$pid 2>/dev/null
        grep -q '\"id\": *\"v1\"' v1.json || { cat serve.log; exit 1; }"
}
check "arm64: zero-config serve answers GET /v1 under qemu-aarch64-static" arm_serves
step_time "arm64 under qemu-user" "$ts"

# ---- 5. the .deb in a clean Debian 12 root -----------------------------------------------
ts=$(date +%s)
MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
ROOTFS="$LAB/debootstrap-bookworm-minbase-adduser-systemd.tar"
if [ ! -s "$ROOTFS" ]; then
    say "debootstrap bookworm (once; cached in $ROOTFS)"
    debootstrap --variant=minbase --include=adduser,systemd bookworm "$WORK/bootstrap" "$MIRROR" \
        > "$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; exit 1; }
    tar -C "$WORK/bootstrap" -cf "$ROOTFS.tmp" . && mv "$ROOTFS.tmp" "$ROOTFS"
    rm -rf "$WORK/bootstrap"
fi
mkdir -p "$CHROOT"
tar -C "$CHROOT" -xf "$ROOTFS"
mount -t proc proc "$CHROOT/proc"
cp "$DEB" "$CHROOT/tmp/"
deb_in_root="/tmp/$(basename "$DEB")"
step_time "clean Debian 12 root" "$ts"

ts=$(date +%s)
in_root() { chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
logged() { local log=$1; shift; "$@" > "$WORK/$log" 2>&1 || { cat "$WORK/$log"; return 1; }; }
# Names from the root's own passwd and group files, not the host's.
owner_mode() { in_root stat -c '%U:%G %a' "$1"; }
is_conffile() { in_root dpkg-query -W -f='${Conffiles}' ironbox | grep -q '^ /etc/ironbox/ironic.toml '; }
system_user() {
    local uid home shell
    IFS=: read -r _ _ uid _ _ home shell < <(in_root getent passwd ironbox) || return 1
    [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/ironbox ] && [ "$shell" = /usr/sbin/nologin ]
}
verify_unit() {
    logged verify.log in_root systemd-analyze verify /lib/systemd/system/ironbox.service \
        && ! grep . "$WORK/verify.log"
}
unit_says() { grep -qx "$1" "$CHROOT/lib/systemd/system/ironbox.service"; }
unit_confined() {
    unit_says 'User=ironbox' && unit_says 'StateDirectory=ironbox' \
        && unit_says 'ExecStart=/usr/bin/ironbox serve --config /etc/ironbox/ironic.toml' \
        && unit_says 'AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW' \
        && unit_says 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_RAW'
}
# What systemd would run, as it would run it (user, working directory, config), in a
# private network namespace.
serves_as_ironbox() {
    rm -f "$WORK/v1.json"
    unshare --net bash -c "
        ip link set lo up
        chroot --userspec=ironbox:ironbox '$CHROOT' /bin/sh -c \
            'cd /var/lib/ironbox && exec /usr/bin/ironbox serve --config /etc/ironbox/ironic.toml' \
            2> '$WORK/serve.log' &
        pid=\$!
        for _ in \$(seq 100); do
            curl -sf http://127.0.0.1:6385/v1 > '$WORK/v1.json' 2>/dev/null && break
            sleep 0.1
        done
        kill \$pid 2>/dev/null; wait \$pid 2>/dev/null; true"
    grep -q '"id": *"v1"' "$WORK/v1.json" 2>/dev/null \
        && [ "$(in_root stat -c %U /var/lib/ironbox/ironbox.sqlite)" = ironbox ] \
        || { cat "$WORK/serve.log"; return 1; }
}
removed_kept() {
    logged remove.log in_root dpkg --remove ironbox && [ ! -e "$CHROOT/usr/bin/ironbox" ] \
        && grep -q 'edited by the test' "$CHROOT/etc/ironbox/ironic.toml" \
        && [ -s "$CHROOT/var/lib/ironbox/ironbox.sqlite" ] && in_root getent passwd ironbox >/dev/null
}
reinstalled_kept() {
    logged reinstall.log in_root dpkg -i "$deb_in_root" \
        && grep -q 'edited by the test' "$CHROOT/etc/ironbox/ironic.toml"
}
purged() {
    logged purge.log in_root dpkg --purge ironbox && ! grep -Ei 'warning|error' "$WORK/purge.log" \
        && [ ! -e "$CHROOT/etc/ironbox/ironic.toml" ] && [ ! -e "$CHROOT/var/lib/ironbox" ] \
        && ! in_root getent passwd ironbox >/dev/null && ! in_root getent group ironbox >/dev/null
}
for round in 1 2; do
    check "round $round: apt install ./$(basename "$DEB")" \
        logged install.log in_root apt-get install -y -q "$deb_in_root"
    got=$(platforms in_root /usr/bin/ironbox)
    check "round $round: /usr/bin/ironbox runs and lists the iPXE programs ($got)" test "$got" = "$want_platforms"
    check "round $round: ironic.toml is a conffile" is_conffile
    check "round $round: ironic.toml is root:ironbox 0640" test "$(owner_mode /etc/ironbox/ironic.toml)" = "root:ironbox 640"
    check "round $round: the packaged ironic.toml passes 'ironbox config check'" \
        logged check.log in_root /usr/bin/ironbox config check /etc/ironbox/ironic.toml
    check "round $round: system user ironbox (uid < 1000, nologin, home /var/lib/ironbox)" system_user
    check "round $round: /var/lib/ironbox is ironbox:ironbox 0750" test "$(owner_mode /var/lib/ironbox)" = "ironbox:ironbox 750"
    check "round $round: systemd-analyze verify on the unit is clean" verify_unit
    check "round $round: unit runs as ironbox, only CAP_NET_BIND_SERVICE + CAP_NET_RAW" unit_confined
    check "round $round: the packaged config serves GET /v1 as ironbox, database in /var/lib/ironbox" serves_as_ironbox
    echo "# edited by the test" >> "$CHROOT/etc/ironbox/ironic.toml"
    check "round $round: remove keeps the edited config, the data and the user" removed_kept
    check "round $round: reinstall over kept data keeps the edited config" reinstalled_kept
    check "round $round: purge removes config, /var/lib/ironbox, user and group, no warning" purged
done
step_time "install / remove / purge twice" "$ts"

# ---- lintian ----------------------------------------------------------------------------
ts=$(date +%s)
# Tags we keep, and why (README's packaging section repeats them):
#   statically-linked-binary: the point of the release binary (no libc to match).
#   no-manual-page: `ironbox --help` is the reference; no man page yet.
#   maintainer-script-calls-systemctl: the unit is neither enabled nor started on install
#     (debhelper's deb-systemd-* helpers assume a started service); plain systemctl
#     daemon-reload / try-restart / stop guarded by /run/systemd/system instead.
#   initial-upload-closes-no-bugs: the changelog is not an upload to Debian's archive.
#   embedded-library (libyaml only): the inspection-rules YAML parser (serde_yaml_ng) is
#     unsafe-libyaml, libyaml translated to Rust and compiled in; a static binary cannot
#     use Debian's libyaml.so.
ALLOWED='statically-linked-binary|no-manual-page|maintainer-script-calls-systemctl|initial-upload-closes-no-bugs|embedded-library libyaml'
lintian --tag-display-limit 0 "$DEB" > "$WORK/lintian.log" 2>&1 || true
cat "$WORK/lintian.log"
check "lintian: no tag outside the explained allow-list" \
    bash -c "! grep -E '^[EW]: ' '$WORK/lintian.log' | grep -Ev ': ($ALLOWED)( |$)'"
step_time "lintian" "$ts"

say "total $(($(date +%s) - t0)) s"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
