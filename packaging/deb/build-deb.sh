#!/usr/bin/env bash
# Build the Debian package of one ironbox binary with dpkg-deb (no debhelper: the binary is
# cross-built and static, so there is nothing for dh to compute).
# Usage: bash packaging/deb/build-deb.sh BINARY DEB_ARCH VERSION OUTDIR
#   writes OUTDIR/ironbox_<VERSION>-1_<DEB_ARCH>.deb
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 BINARY DEB_ARCH VERSION OUTDIR" >&2; exit 2; }
BIN=$1 ARCH=$2 VERSION=$3 OUT=$4
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
[ -x "$BIN" ] || { echo "build-deb: $BIN is not an executable" >&2; exit 2; }
case "$ARCH" in amd64 | arm64) ;; *) echo "build-deb: unknown arch $ARCH" >&2; exit 2 ;; esac

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
P="$STAGE/pkg"
# Reproducible: every timestamp is the last commit's (or now outside git).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}

install -d -m 755 "$P/DEBIAN" "$P/usr/bin" "$P/etc/ironbox" "$P/lib/systemd/system" \
    "$P/usr/share/doc/ironbox"
install -m 755 "$BIN" "$P/usr/bin/ironbox"
# A safe default: the example with every option at its default (API on loopback, noauth, no
# boot servers) and the state where the unit's StateDirectory puts it.
sed 's|^state_path = .*|state_path = "/var/lib/ironbox"|' "$ROOT/ironic.toml.example" \
    > "$P/etc/ironbox/ironic.toml"
grep -q '^state_path = "/var/lib/ironbox"$' "$P/etc/ironbox/ironic.toml" \
    || { echo "build-deb: ironic.toml.example has no state_path line to set" >&2; exit 1; }
chmod 644 "$P/etc/ironbox/ironic.toml"
install -m 644 "$ROOT/packaging/ironbox.service" "$P/lib/systemd/system/ironbox.service"
for s in postinst prerm postrm; do install -m 755 "$HERE/$s" "$P/DEBIAN/$s"; done
echo /etc/ironbox/ironic.toml > "$P/DEBIAN/conffiles"

date_r=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
cat > "$STAGE/changelog" <<EOF
ironbox ($VERSION-1) unstable; urgency=medium

  * Release $VERSION: static binary, iPXE for BIOS, UEFI x86-64 and ARM64 inside.

 -- ironbox developers <ironbox@packages.invalid>  $date_r
EOF
gzip -9n -c "$STAGE/changelog" > "$P/usr/share/doc/ironbox/changelog.Debian.gz"
cat > "$P/usr/share/doc/ironbox/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ironbox

Files: *
Copyright: 2026 ironbox developers
License: Apache-2.0

Files: usr/bin/ironbox (embedded iPXE programs)
Copyright: 2006-2025 Michael Brown and the iPXE contributors
License: GPL-2+ with UBDL exception
Comment: The iPXE boot programs embedded in the binary are those of Debian's `ipxe`
 package (listed with their checksums by `ironbox --version`); their source is Debian's
 `ipxe` source package of the same version.

License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.

License: GPL-2+ with UBDL exception
 On Debian systems, the full text of the GNU General Public License version 2 can be
 found in /usr/share/common-licenses/GPL-2.
EOF
chmod 644 "$P/usr/share/doc/ironbox/"*

size_kib=$(du -sk --exclude=DEBIAN "$P" | cut -f1)
cat > "$P/DEBIAN/control" <<EOF
Package: ironbox
Version: $VERSION-1
Architecture: $ARCH
Maintainer: ironbox developers <ironbox@packages.invalid>
Installed-Size: $size_kib
Depends: adduser
Section: admin
Priority: optional
Description: bare-metal provisioning appliance with Ironic's API
 ironbox is one static binary that enrolls, inspects, cleans and deploys
 physical machines through their BMCs (IPMI, Redfish), with built-in DHCP,
 TFTP and HTTP boot servers, a deploy agent, a SQLite database and a web
 console. It speaks OpenStack Ironic's Bare Metal API, so the baremetal CLI
 and openstacksdk work against it unchanged.
 .
 The service runs as the system user ironbox with its state in
 /var/lib/ironbox. It is not started on install: edit
 /etc/ironbox/ironic.toml, then run systemctl enable --now ironbox.
EOF

find "$P" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$OUT"
deb="$OUT/ironbox_${VERSION}-1_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$P" "$deb" >/dev/null
echo "[build-deb] $deb: $(stat -c %s "$deb") bytes"
