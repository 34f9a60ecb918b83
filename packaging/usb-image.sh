#!/bin/bash
# Writes the ironbox USB appliance image: a GPT disk that boots on BIOS (syslinux, from the
# protective MBR's gptmbr.bin into the FAT partition) and UEFI x86-64 (a standalone GRUB as
# \EFI\BOOT\BOOTX64.EFI). Partition 1: FAT32 "IRONBOX" (kernel, initramfs, boot loaders,
# ironic.toml, README.txt). Partition 2: ext4 "IRONBOX-DATA", grown to fill the stick at
# first boot. No root needed: mtools, mkfs.vfat, mkfs.ext4 -d and sfdisk work on files.
# The initramfs is `ironbox ramdisk build`'s (busybox, ironbox, kernel modules) with the
# appliance's init, the deploy ramdisk, the iPXE programs and a few tools appended.
#
# Debian packages: syslinux syslinux-common grub-efi-amd64-bin dosfstools mtools
# e2fsprogs fdisk cpio busybox-static ipxe binutils.
#
#   packaging/usb-image.sh --kernel /boot/vmlinuz-X (--modules-dir /lib/modules/X | --modules DIR)
#                          [--ironbox BIN] [--busybox BIN] [--data-mib 64] OUT.img
set -euo pipefail

die() { echo "usb-image: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
kernel= modules=() ironbox=$(command -v ironbox || true) busybox=/bin/busybox data_mib=64 out=
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) kernel=$2; shift 2 ;;
    --modules) modules=(--modules "$2"); shift 2 ;;
    --modules-dir) modules=(--modules-dir "$2"); shift 2 ;;
    --ironbox) ironbox=$2; shift 2 ;;
    --busybox) busybox=$2; shift 2 ;;
    --data-mib) data_mib=$2; shift 2 ;;
    -*) die "unknown option $1" ;;
    *) [ -z "$out" ] || die "one output file only"; out=$1; shift ;;
  esac
done
[ -n "$out" ] || die "usage: $0 --kernel VMLINUZ (--modules-dir DIR | --modules DIR) [--ironbox BIN] [--data-mib N] OUT.img"
[ -f "$kernel" ] || die "--kernel: no such file: $kernel"
[ -x "$ironbox" ] || die "--ironbox: not an executable: ${ironbox:-<none found on PATH>}"
case "$data_mib" in ''|*[!0-9]*) die "--data-mib: not a number: $data_mib" ;; esac
[ "$data_mib" -ge 16 ] || die "--data-mib: at least 16"
for t in mkfs.vfat mkfs.ext4 mcopy mmd syslinux sfdisk grub-mkstandalone cpio gzip strip; do
  command -v "$t" >/dev/null || die "$t is missing (see the package list at the top of this script)"
done
gptmbr=/usr/lib/syslinux/mbr/gptmbr.bin
[ -f "$gptmbr" ] || die "$gptmbr is missing (Debian package syslinux-common)"
ipxe=(/usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi /usr/lib/ipxe/ipxe.efi)
for f in "${ipxe[@]}"; do [ -e "$f" ] || die "$f is missing (Debian package ipxe)"; done

w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
t0=$(date +%s)

# The binary, stripped (a debug build is five times bigger with its symbols).
strip -o "$w/ironbox" "$ironbox"

# The deploy ramdisk: also the base of the appliance's own initramfs.
"$w/ironbox" ramdisk build --kernel "$kernel" "${modules[@]}" --busybox "$busybox" \
  --agent "$w/ironbox" --out "$w/deploy" >/dev/null

# What the appliance adds.
o=$w/overlay
mkdir -p "$o/etc/appliance" "$o/srv/httpboot" "$o/usr/lib/ipxe" "$o/usr/sbin" "$o/data"
install -m 755 "$here/appliance/init" "$o/init"
install -m 755 "$here/appliance/status.sh" "$here/appliance/udhcpc.script" "$o/etc/appliance/"
install -m 644 "$here/appliance/lib.sh" "$o/etc/appliance/"
cp "$w/deploy/ironbox-agent.kernel" "$w/deploy/ironbox-agent.initramfs" "$o/srv/httpboot/"
for f in "${ipxe[@]}"; do cp -L "$f" "$o/usr/lib/ipxe/"; done
# Partition growing and FAT access: dynamically linked, so with their libraries.
for t in sfdisk resize2fs mtools; do
  p=$(command -v "$t"); cp -L "$p" "$o/usr/sbin/"
  ldd "$p" | grep -o '/[^ ]*' | while read -r lib; do
    mkdir -p "$o$(dirname "$lib")"; cp -L "$lib" "$o$lib"
  done
done
for m in mcopy mtype mdir; do ln -s mtools "$o/usr/sbin/$m"; done
# mtools converts FAT names through glibc's iconv: its code page modules, or no FAT access.
# (its real path: glibc looks there, and the initramfs has no /lib -> /usr/lib link).
gconv=$(readlink -f "$(dirname "$(ldd "$(command -v mtools)" | grep -o '/[^ ]*/libc\.so\.6')")/gconv")
mkdir -p "$o$gconv"
cp -r "$gconv/gconv-modules" "$gconv/gconv-modules.d" "$gconv/IBM850.so" "$gconv/IBM437.so" "$o$gconv/"
[ -f "$gconv/gconv-modules.cache" ] && cp "$gconv/gconv-modules.cache" "$o$gconv/"
# The stick itself: USB storage and host controllers, which the deploy ramdisk's module
# list lacks (a kernel tree only; `--modules` gives exactly what is listed). Loaded after
# the deploy list by the appended /etc/modules.
if [ "${modules[0]:-}" = --modules-dir ]; then
  mdir=${modules[1]%/}; ver=${mdir##*/}; root=${mdir%/lib/modules/*}
  cp "$w/deploy/ironbox-agent.initramfs" "$w/base.cpio.gz"
  (cd "$w" && gzip -dc base.cpio.gz | cpio -i --quiet etc/modules 2>/dev/null) || true
  cp "$w/etc/modules" "$o/etc/modules" 2>/dev/null || : > "$o/etc/modules"
  for m in xhci_pci xhci_hcd ehci_pci ohci_pci uhci_hcd usb_storage uas sd_mod; do
    modprobe -S "$ver" -d "${root:-/}" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++' | while read -r ko; do
    name=$(basename "$ko"); name=${name%%.ko*}
    grep -qx "$name" "$o/etc/modules" && continue
    mkdir -p "$o/lib/modules"
    case "$ko" in
      *.ko.xz) xz -dc "$ko" > "$o/lib/modules/$name.ko" ;;
      *.ko.zst) zstd -qdc "$ko" > "$o/lib/modules/$name.ko" ;;
      *) cp "$ko" "$o/lib/modules/$name.ko" ;;
    esac
    echo "$name" >> "$o/etc/modules"
  done
fi
cp "$w/deploy/ironbox-agent.initramfs" "$w/initrd.img"
(cd "$o" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >> "$w/initrd.img"

# Boot loaders and the FAT partition.
append="console=tty0 console=ttyS0,115200n8 quiet panic=30"
cat > "$w/syslinux.cfg" <<CFG
DEFAULT ironbox
TIMEOUT 0
PROMPT 0
LABEL ironbox
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND $append
CFG
cat > "$w/grub.cfg" <<CFG
set timeout=0
search --no-floppy --label IRONBOX --set=root
linux /vmlinuz $append
initrd /initrd.img
boot
CFG
grub-mkstandalone -O x86_64-efi -o "$w/BOOTX64.EFI" \
  --modules="part_gpt fat search search_label linux normal configfile echo" \
  --locales= --themes= --fonts= "boot/grub/grub.cfg=$w/grub.cfg"

mib() { echo $(( ($(stat -c %s "$1") + 1048575) / 1048576 )); }
fat_mib=$(( $(mib "$kernel") + $(mib "$w/initrd.img") + $(mib "$w/BOOTX64.EFI") + 8 ))
[ "$fat_mib" -ge 40 ] || fat_mib=40    # FAT32's smallest sensible size
mkfs.vfat -F 32 -n IRONBOX -C "$w/fat.img" $((fat_mib * 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$w/fat.img" ::/syslinux ::/EFI ::/EFI/BOOT
mcopy -i "$w/fat.img" "$kernel" ::/vmlinuz
mcopy -i "$w/fat.img" "$w/initrd.img" ::/initrd.img
mcopy -i "$w/fat.img" "$w/syslinux.cfg" ::/syslinux/syslinux.cfg
mcopy -i "$w/fat.img" "$w/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$w/fat.img" "$here/appliance/ironic.toml" ::/ironic.toml
mcopy -i "$w/fat.img" "$here/appliance/README.txt" ::/README.txt

# The data partition.
mkdir -p "$w/data/ironbox" "$w/data/logs"
mkfs.ext4 -q -L IRONBOX-DATA -d "$w/data" "$w/data.img" "${data_mib}M" >/dev/null

# The disk: 1 MiB for the GPT, the two partitions, 1 MiB for the backup GPT.
fat_s=$((fat_mib * 2048)) data_s=$((data_mib * 2048))
# Written under a temporary name: a failed build leaves no half image behind.
img=$w/disk.img
truncate -s $(( (1 + fat_mib + data_mib + 1) * 1048576 )) "$img"
sfdisk -q "$img" <<PT
label: gpt
start=2048, size=$fat_s, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="IRONBOX", attrs="LegacyBIOSBootable"
start=$((2048 + fat_s)), size=$data_s, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="IRONBOX-DATA"
PT
dd if="$w/fat.img" of="$img" bs=1M seek=1 conv=notrunc status=none
dd if="$w/data.img" of="$img" bs=1M seek=$((1 + fat_mib)) conv=notrunc status=none
dd if="$gptmbr" of="$img" bs=440 count=1 conv=notrunc status=none
syslinux --install --offset $((2048 * 512)) --directory /syslinux "$img"
mv "$img" "$out"
echo "$out: $(( $(stat -c %s "$out") / 1048576 )) MiB (FAT $fat_mib MiB, data $data_mib MiB), initramfs $(mib "$w/initrd.img") MiB, $(( $(date +%s) - t0 )) s"
