#!/usr/bin/env bash
# tests/lab/initramfs.sh — build the lab's busybox initramfs (a stand-in "ramdisk").
#
# Its /init: mounts proc, sys and devtmpfs; loads the virtio modules extracted by
# setup.sh in dependency order; picks the NIC whose MAC is in BOOTIF=01-aa-bb-.. on the
# kernel command line (fallback, with a LAB-WARN line: the first non-lo interface); runs
# udhcpc on it; fetches the URL given as lab.url=http://... with `wget -O -` and prints
#     LAB-MARKER: <content>
#     LAB-DONE
# on the console, then powers off (poweroff -f). Any failure prints `LAB-FAIL: <reason>`
# and powers off. Progress lines start with `LAB-INIT:`.
#
# Usage: tests/lab/initramfs.sh OUT.cpio.gz        (run setup.sh first)
set -euo pipefail
LAB=${IRONBOX_LAB_DIR:-/tmp/ironbox-lab}
out=${1:?usage: initramfs.sh OUT.cpio.gz}
K="$LAB/kernel"
[ -s "$K/modules.order" ] && [ -x /bin/busybox ] \
  || { echo "initramfs: run tests/lab/setup.sh first (no $K/modules.order or /bin/busybox)" >&2; exit 1; }

rd=$(mktemp -d "$LAB/initramfs.XXXXXX")
trap 'rm -rf "$rd"' EXIT
mkdir -p "$rd"/{bin,dev,proc,sys,tmp,etc,lib/modules}
cp /bin/busybox "$rd/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$rd/bin/$a"; done
while read -r m; do cp "$K/modules/$m.ko" "$rd/lib/modules/"; done < "$K/modules.order"
cp "$K/modules.order" "$rd/etc/modules"

cat > "$rd/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc hook: configure the address only (no routes, no resolv.conf needed)
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "${router:-}" ] && ip route replace default via "${router%% *}" dev "$interface"
    echo "$ip" > /tmp/ip ;;
esac
exit 0
EOF
chmod +x "$rd/etc/udhcpc.script"

cat > "$rd/init" <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
dmesg -n 1            # keep kernel messages from interleaving with ours
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "LAB-INIT[$(up)]: $*"; }
fail() { echo "LAB-FAIL: $*"; sync; poweroff -f; sleep 30; exit 1; }
say "started"
for m in $(cat /etc/modules); do
  # efivarfs refuses to load (ENODEV) on a BIOS machine: nothing to fail for.
  insmod "/lib/modules/$m.ko" || [ "$m" = efivarfs ] || fail "insmod $m"
done
MAC= URL=
for p in $(cat /proc/cmdline); do
  case "$p" in
    BOOTIF=*) MAC=$(echo "${p#BOOTIF=}" | sed 's/^01-//' | tr 'A-F-' 'a-f:') ;;
    lab.url=*) URL=${p#lab.url=} ;;
  esac
done
IF= FIRST=
i=0
while [ $i -lt 50 ]; do          # up to 5 s for the NIC to appear
  for n in /sys/class/net/*; do
    n=${n##*/}
    [ "$n" = lo ] || [ ! -e "/sys/class/net/$n/address" ] && continue
    [ -z "$FIRST" ] && FIRST=$n
    if [ -z "$MAC" ] || [ "$(cat "/sys/class/net/$n/address")" = "$MAC" ]; then IF=$n; break; fi
  done
  [ -n "$IF" ] && break
  i=$((i+1)); sleep 0.1
done
if [ -z "$IF" ] && [ -n "$FIRST" ]; then
  echo "LAB-WARN: no interface has the BOOTIF mac $MAC, using $FIRST"
  IF=$FIRST
fi
[ -n "$IF" ] || fail "no network interface (BOOTIF mac '${MAC}')"
ip link set lo up
ip link set "$IF" up
say "nic $IF mac $(cat /sys/class/net/$IF/address), dhcp"
udhcpc -i "$IF" -f -q -n -t 10 -T 1 -s /etc/udhcpc.script || fail "no DHCP lease on $IF"
say "ip $(cat /tmp/ip)"
[ -n "$URL" ] || fail "no lab.url= on the kernel command line"
i=0
while :; do
  # busybox-static 1.35 (bookworm) wget segfaults with -T; bound it with timeout instead
  if C=$(timeout 10 wget -q -O - "$URL"); then break; fi
  i=$((i+1)); [ $i -lt 3 ] || fail "wget $URL"
  sleep 1
done
echo "LAB-MARKER: $C"
echo "LAB-DONE"
sync
poweroff -f
sleep 30
EOF
chmod +x "$rd/init"

mkdir -p "$(dirname "$out")"
(cd "$rd" && find . | sort | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -6) > "$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs: $out ($(( $(stat -c %s "$out") / 1024 )) KiB, modules: $(tr '\n' ' ' < "$K/modules.order"))"
