#!/usr/bin/env bash
# tests/lab/ipa-ramdisk.sh — build a stock ironic-python-agent (IPA) deploy ramdisk, the way
# diskimage-builder's ironic-python-agent-ramdisk element lays one out, from registries only:
#
#   * a Debian 12 minbase root by debootstrap, with the tools IPA calls (util-linux, parted,
#     gdisk, mdadm, hdparm, efibootmgr, dmidecode, lshw, qemu-utils, ...) and systemd;
#   * IPA itself from PyPI, unchanged, in a venv at /opt/ironic-python-agent, pinned by
#     tests/lab/ipa-constraints.txt; started by systemd once networkd has DHCP'd every NIC,
#     exactly as DIB's unit does (it reads ipa-api-url etc. from /proc/cmdline itself);
#   * the lab's Debian cloud kernel (tests/lab/setup.sh fetched it) and its modules.
#
# Output: $IRONBOX_LAB_DIR/ipa/ipa.kernel and ipa.initramfs (zstd cpio). Cached: rebuilt
# only when this script, the constraints or the kernel change (~3 min cold, mostly apt and
# pip downloads). Needs root (debootstrap, chroot). Prints the two paths on stdout.
# Usage: tests/lab/ipa-ramdisk.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB=${IRONBOX_LAB_DIR:-/tmp/ironbox-lab}
OUT="$LAB/ipa"
say() { echo "ipa-ramdisk: $*" >&2; }
mkdir -p "$LAB"
# Tests run in parallel: one builds, the others wait and then find it cached.
exec 9>"$LAB/ipa.lock"
flock 9
t0=$(date +%s)

debs=("$LAB"/debs/linux-image-*-cloud-amd64_*.deb)
[ -s "${debs[0]}" ] || { echo "ipa-ramdisk: no kernel .deb in $LAB/debs; run tests/lab/setup.sh" >&2; exit 1; }
deb=${debs[0]}
KVER=$(cat "$LAB/kernel/version")
key=$(cat "$0" "$HERE/ipa-constraints.txt" <(basename "$deb") | sha256sum | cut -c1-16)
if [ -s "$OUT/ipa.initramfs" ] && [ "$(cat "$OUT/key" 2>/dev/null)" = "$key" ]; then
  say "present ($OUT, key $key)"
  echo "$OUT/ipa.kernel"; echo "$OUT/ipa.initramfs"; exit 0
fi

if ! command -v debootstrap >/dev/null || ! command -v cpio >/dev/null || ! command -v zstd >/dev/null; then
  say "installing debootstrap, cpio, zstd"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap cpio zstd >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap cpio zstd >/dev/null; }
fi

B="$LAB/ipa-build"; R="$B/root"
rm -rf "$B"; mkdir -p "$B"
# What IPA's hardware manager and image code run, and what boots and networks the ramdisk.
INCLUDE=systemd,systemd-sysv,udev,kmod,dbus,iproute2,util-linux,fdisk,gdisk,parted,mdadm,
INCLUDE+=hdparm,efibootmgr,dmidecode,lshw,pciutils,file,psmisc,qemu-utils,e2fsprogs,bsdextrautils,
INCLUDE+=dosfstools,xfsprogs,lvm2,smartmontools,nvme-cli,ca-certificates,python3,python3-venv
say "debootstrap bookworm (minbase) into $R"
debootstrap --variant=minbase --include="$INCLUDE" bookworm "$R" http://deb.debian.org/debian \
  > "$B/debootstrap.log" 2>&1 || { tail -30 "$B/debootstrap.log" >&2; exit 1; }
say "debootstrap done ($(( $(date +%s) - t0 )) s)"

# IPA from PyPI into its own venv, as DIB's element does. The wheels are fetched by the
# host's pip (its proxy and CA settings apply); the chroot installs them offline.
W="$LAB/ipa-wheels"; mkdir -p "$W"
python3 -m pip download -q -d "$W" -c "$HERE/ipa-constraints.txt" ironic-python-agent \
  > "$B/pip-download.log" 2>&1 || { tail -30 "$B/pip-download.log" >&2; exit 1; }
mkdir -p "$R/tmp/wheels"; cp "$W"/* "$R/tmp/wheels/"
cp "$HERE/ipa-constraints.txt" "$R/tmp/constraints.txt"
chroot "$R" /usr/bin/python3 -m venv /opt/ironic-python-agent
chroot "$R" /opt/ironic-python-agent/bin/pip install -q --no-index --find-links /tmp/wheels \
  -c /tmp/constraints.txt ironic-python-agent > "$B/pip.log" 2>&1 || { tail -30 "$B/pip.log" >&2; exit 1; }
rm -rf "$R/tmp/wheels"
ln -sf /opt/ironic-python-agent/bin/ironic-python-agent "$R/usr/local/bin/ironic-python-agent"
say "IPA $(chroot "$R" /opt/ironic-python-agent/bin/pip show ironic-python-agent | sed -n 's/^Version: //p') installed ($(( $(date +%s) - t0 )) s)"

# The kernel's modules (without subsystems no test machine has), indexed for udev.
x="$B/kernel"; mkdir -p "$x"; dpkg-deb -x "$deb" "$x"
mkdir -p "$R/lib/modules"
cp -a "$x/lib/modules/$KVER" "$R/lib/modules/"
for d in drivers/infiniband drivers/media drivers/comedi drivers/soundwire drivers/target \
         drivers/gpu sound net/wireless net/mac80211; do
  rm -rf "$R/lib/modules/$KVER/kernel/$d"
done
chroot "$R" depmod "$KVER"

# systemd: DHCP on every wired NIC, then the agent (DIB's unit: restart until it works).
mkdir -p "$R/etc/systemd/network" "$R/etc/systemd/system/multi-user.target.wants" \
         "$R/etc/systemd/system/network-online.target.wants"
cat > "$R/etc/systemd/network/80-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF
cat > "$R/etc/systemd/system/ironic-python-agent.service" <<'EOF'
[Unit]
Description=Ironic Python Agent
Wants=network-online.target
After=network-online.target

[Service]
ExecStartPre=-/sbin/modprobe vfat
ExecStart=/usr/local/bin/ironic-python-agent
Restart=always
RestartSec=5s
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/ironic-python-agent.service \
  "$R/etc/systemd/system/multi-user.target.wants/ironic-python-agent.service"
ln -sf /lib/systemd/system/systemd-networkd.service \
  "$R/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
ln -sf /lib/systemd/system/systemd-networkd-wait-online.service \
  "$R/etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service"
echo ipa-ramdisk > "$R/etc/hostname"
: > "$R/etc/machine-id"
rm -f "$R/etc/resolv.conf" "$R/tmp/constraints.txt"   # the host's; IPA needs no DNS here
# Not needed at run time; keeps the initramfs smaller.
rm -rf "$R"/usr/share/{doc,man,info,locale} "$R"/var/cache/apt/* "$R"/var/lib/apt/lists/*
ln -sf /lib/systemd/systemd "$R/init"

mkdir -p "$OUT.tmp"
cp "$x/boot/vmlinuz-$KVER" "$OUT.tmp/ipa.kernel"
(cd "$R" && find . -xdev | LC_ALL=C sort | cpio -o -H newc --quiet | zstd -q -T0 -9) > "$OUT.tmp/ipa.initramfs"
echo "$key" > "$OUT.tmp/key"
rm -rf "$OUT" "$B"; mv "$OUT.tmp" "$OUT"
say "built in $(( $(date +%s) - t0 )) s: initramfs $(( $(stat -c %s "$OUT/ipa.initramfs") / 1048576 )) MiB"
echo "$OUT/ipa.kernel"; echo "$OUT/ipa.initramfs"
